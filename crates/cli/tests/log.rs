//! `doorman serve` and `doorman log verify` end to end: a data dir pre-populated through
//! doorman_store, the server as a child process, the verifier against it (consistent growth,
//! a fork, a rollback, a wrong key), then a clean SIGTERM shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, UNIX_EPOCH};

use doorman_store::{LogStore, SqliteLogStore, StoredCheckpoint};
use doorman_tlog::NoteSigner;

const ORIGIN: &str = "log.example.test/public";
const SEED: [u8; 32] = [42; 32];

fn entry(log: &str, i: u64) -> Vec<u8> {
    format!("{{\"type\":\"test\",\"log\":\"{log}\",\"n\":{i}}}").into_bytes()
}

/// A data dir with `log.key` (the test's key) and `count` entries of `log`, integrated.
fn populate(dir: &Path, log: &str, count: u64) -> StoredCheckpoint {
    let signer = NoteSigner::from_seed(ORIGIN, &SEED).unwrap();
    let key = dir.join("log.key");
    if !key.exists() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .unwrap();
        std::io::Write::write_all(
            &mut f,
            format!("{}\n", signer.private_key_string().as_str()).as_bytes(),
        )
        .unwrap();
    }
    let store = SqliteLogStore::open(dir).unwrap();
    let have = store.sequenced_size().unwrap();
    let entries: Vec<Vec<u8>> = (have..count).map(|i| entry(log, i)).collect();
    store.append(&entries).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    store.integrate(&signer, ORIGIN, now).unwrap().unwrap()
}

/// The server child; SIGKILLed when dropped (a failing test leaves nothing behind).
struct Server {
    child: Child,
    url: String,
    lines: mpsc::Receiver<String>,
    seen: std::cell::RefCell<Vec<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_doorman"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            url: String::new(),
            lines,
            seen: std::cell::RefCell::default(),
        };
        let line = server.wait_for("listening on http://");
        server.url = line
            .split_once("listening on ")
            .unwrap()
            .1
            .trim()
            .to_string();
        server
    }

    /// The first stderr line containing `text`, waiting up to 30 s for it.
    fn wait_for(&self, text: &str) -> String {
        if let Some(line) = self.seen.borrow().iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    self.seen.borrow_mut().push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no stderr line with {text:?} ({e}); got: {:?}",
                    self.seen.borrow()
                ),
            }
        }
    }

    /// SIGTERM, then the exit status within 10 s.
    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("doorman serve did not stop within 10 s of SIGTERM");
    }
}

fn doorman(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(args)
        .output()
        .unwrap()
}

fn verify(url: &str, key: &str, state: &Path) -> Output {
    doorman(&[
        "log",
        "verify",
        "--url",
        url,
        "--key",
        key,
        "--state",
        state.to_str().unwrap(),
    ])
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn verified(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in: {}",
        text(out)
    );
}

#[test]
fn serve_and_verify_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let first = populate(&data, "main", 300);
    let key = NoteSigner::from_seed(ORIGIN, &SEED)
        .unwrap()
        .verifier()
        .to_string();

    // Forked and longer copies of the same log, signed by the same key.
    let forked_dir = tmp.path().join("forked");
    std::fs::create_dir(&forked_dir).unwrap();
    let forked = populate(&forked_dir, "forked", 300);
    assert_ne!(forked.root, first.root);
    let longer_dir = tmp.path().join("longer");
    std::fs::create_dir(&longer_dir).unwrap();
    let longer = populate(&longer_dir, "main", 1000);

    let server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--checkpoint-interval",
        "200ms",
    ]);
    assert!(server.url.starts_with("http://127.0.0.1:") && server.url.ends_with("/log"));

    // First run: no state yet; second run: the same checkpoint.
    let state = tmp.path().join("state");
    let out = verified(&verify(&server.url, &key, &state));
    assert!(out.contains("tree size 300"), "{out}");
    assert_eq!(std::fs::read(&state).unwrap(), first.note);
    let out = verified(&verify(&server.url, &key, &state));
    assert!(
        out.contains("consistent with the remembered checkpoint of size 300"),
        "{out}"
    );

    // The log grows (another process appends; the server's integrator signs it).
    {
        let store = SqliteLogStore::open(&data).unwrap();
        let entries: Vec<Vec<u8>> = (300..700).map(|i| entry("main", i)).collect();
        store.append(&entries).unwrap();
    }
    server.wait_for("checkpoint size 700");
    let out = verified(&verify(&server.url, &key, &state));
    assert!(out.contains("tree size 700"), "{out}");
    assert!(
        out.contains("consistent with the remembered checkpoint of size 300"),
        "{out}"
    );
    assert!(out.contains("3 entry bundles"), "{out}");

    // A fork: a checkpoint of the same size with another root, signed by the same key.
    let fork_state = tmp.path().join("fork-state");
    std::fs::write(&fork_state, &forked.note).unwrap();
    failed(&verify(&server.url, &key, &fork_state), 1, "fork");
    assert_eq!(
        std::fs::read(&fork_state).unwrap(),
        forked.note,
        "state kept"
    );

    // A rollback: the key signed a larger tree before.
    let rollback_state = tmp.path().join("rollback-state");
    std::fs::write(&rollback_state, &longer.note).unwrap();
    failed(&verify(&server.url, &key, &rollback_state), 1, "rollback");

    // Another key: the checkpoint's signature does not verify.
    let other = NoteSigner::from_seed(ORIGIN, &[1; 32])
        .unwrap()
        .verifier()
        .to_string();
    failed(
        &doorman(&["log", "verify", "--url", &server.url, "--key", &other]),
        1,
        "bad signature",
    );
    // Not a log / not http.
    failed(
        &doorman(&[
            "log",
            "verify",
            "--url",
            &format!("{}/nope", server.url),
            "--key",
            &key,
        ]),
        2,
        "not_found",
    );
    failed(
        &doorman(&[
            "log",
            "verify",
            "--url",
            "https://example.test/log",
            "--key",
            &key,
        ]),
        2,
        "only http://",
    );

    let status = server.terminate();
    assert!(status.success(), "doorman serve exited with {status}");
}

#[test]
fn serve_creates_the_log_key_on_first_start_and_keeps_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        "first.example.test/log",
    ]);
    let line = server.wait_for("verifier key");
    let key = line.rsplit(' ').next().unwrap().to_string();
    assert!(key.starts_with("first.example.test/log+"), "{line}");
    let log_key = data.join("log.key");
    let mode = std::fs::metadata(&log_key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let private = std::fs::read_to_string(&log_key).unwrap();
    let signer = NoteSigner::parse(private.trim_end()).unwrap();
    assert_eq!(signer.verifier().to_string(), key);
    // Nothing appended: no checkpoint yet, which the verifier reports (it cannot check).
    failed(
        &doorman(&["log", "verify", "--url", &server.url, "--key", &key]),
        2,
        "no_checkpoint",
    );
    assert!(server.terminate().success());

    // Second start: the same key, no new one printed; another origin is refused.
    let server = Server::start(&["--data-dir", data.to_str().unwrap()]);
    assert!(server.wait_for("doorman serve: log ").contains(&key));
    let created = server.seen.borrow().iter().any(|l| l.contains("created"));
    assert!(!created, "{:?}", server.seen.borrow());
    assert!(server.terminate().success());
    assert_eq!(std::fs::read_to_string(&log_key).unwrap(), private);
    let out = doorman(&[
        "serve",
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        "other.example.test/log",
        "--listen",
        "127.0.0.1:0",
    ]);
    failed(&out, 2, "origin never changes");
}

//! What the CLI's process tests share: `doorman` runs, `doorman serve` and other long-running
//! children with their output read line by line, log data dirs with a known key, and a tiny
//! HTTP server for logs that misbehave.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use doorman_tlog::NoteSigner;

/// How long any wait in these tests lasts before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `doorman` with `args`.
pub fn doorman(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `doorman` with `args` and `input` on stdin.
pub fn doorman_with_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// Status, stdout and stderr, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts success; returns stdout.
pub fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{}", text(out));
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Asserts exit status `code` and `needle` in stderr.
pub fn failed(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in: {}",
        text(out)
    );
}

/// Writes `dir/log.key` for `origin` from `seed` (mode 0600), as `doorman serve` would have
/// created it, unless it exists; returns the signer.
pub fn write_log_key(dir: &Path, origin: &str, seed: &[u8; 32]) -> NoteSigner {
    std::fs::create_dir_all(dir).unwrap();
    let signer = NoteSigner::from_seed(origin, seed).unwrap();
    let key = dir.join("log.key");
    if !key.exists() {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key)
            .unwrap();
        f.write_all(format!("{}\n", signer.private_key_string().as_str()).as_bytes())
            .unwrap();
    }
    signer
}

/// A long-running `doorman` child whose stdout and stderr are read line by line; SIGKILLed
/// when dropped (a failing test leaves nothing behind).
pub struct Proc {
    pub child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// Every line read so far.
    pub out_seen: Vec<String>,
    pub err_seen: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Proc {
    pub fn spawn(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_doorman"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = lines_of(child.stdout.take().unwrap());
        let stderr = lines_of(child.stderr.take().unwrap());
        Proc {
            child,
            stdout,
            stderr,
            out_seen: Vec::new(),
            err_seen: Vec::new(),
        }
    }

    /// The first stderr line containing `text` (seen before or arriving within
    /// [`DEADLINE`]).
    pub fn wait_stderr(&mut self, text: &str) -> String {
        if let Some(line) = self.err_seen.iter().find(|l| l.contains(text)) {
            return line.clone();
        }
        loop {
            match self.stderr.recv_timeout(DEADLINE) {
                Ok(line) => {
                    self.err_seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no stderr line with {text:?} ({e}); got: {:?}",
                    self.err_seen
                ),
            }
        }
    }

    /// The first stdout line satisfying `pred` (seen before or arriving within [`DEADLINE`]).
    pub fn wait_stdout(&mut self, pred: impl Fn(&str) -> bool) -> String {
        if let Some(line) = self.out_seen.iter().find(|l| pred(l)) {
            return line.clone();
        }
        loop {
            match self.stdout.recv_timeout(DEADLINE) {
                Ok(line) => {
                    self.out_seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no matching stdout line ({e}); got: {:?}; stderr: {:?}",
                    self.out_seen, self.err_seen
                ),
            }
        }
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then the exit status within [`DEADLINE`].
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the process did not stop within 30 s of SIGTERM");
    }
}

/// `doorman serve` on 127.0.0.1:0; `url` is the log prefix it announced.
pub struct Server {
    pub proc: Proc,
    pub url: String,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut proc = Proc::spawn(&all);
        let line = proc.wait_stderr("listening on http://");
        let url = line
            .split_once("listening on ")
            .unwrap()
            .1
            .trim()
            .to_string();
        Server { proc, url }
    }

    /// The first stderr line containing `text`, waiting up to [`DEADLINE`] for it.
    pub fn wait_for(&mut self, text: &str) -> String {
        self.proc.wait_stderr(text)
    }

    /// Whether an earlier stderr line contains `text`.
    pub fn saw(&self, text: &str) -> bool {
        self.proc.err_seen.iter().any(|l| l.contains(text))
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.proc.terminate()
    }
}

/// Answers `GET <path>` with `Some(body)` (200) or `None` (404).
pub type Handler = Arc<dyn Fn(&str) -> Option<Vec<u8>> + Send + Sync>;

/// A minimal HTTP/1.1 server on 127.0.0.1:0 for logs that misbehave (one request per
/// connection). Runs until the test process ends.
pub struct FakeLog {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Paths requested, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl FakeLog {
    pub fn start(handler: Handler) -> FakeLog {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // Skip the headers.
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("/")
                    .to_string();
                seen.lock().unwrap().push(path.clone());
                let (status, body) = match handler(&path) {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                // One write: a separate small write for the body would wait for the client's
                // delayed ACK (Nagle).
                let mut response = format!(
                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                response.extend_from_slice(&body);
                let _ = stream.set_nodelay(true);
                let _ = stream.write_all(&response);
            }
        });
        FakeLog { base, requests }
    }
}

/// Serves a log's checkpoint, tiles and bundles from a store, as `doorman serve` does.
pub fn serve_from_store(store: &dyn doorman_store::LogStore, path: &str) -> Option<Vec<u8>> {
    let rel = path.strip_prefix("/log/")?;
    if rel == "checkpoint" {
        return store.latest_checkpoint().ok()?.map(|cp| cp.note);
    }
    let tile = doorman_tlog::TileCoord::parse(rel).ok()?;
    match tile.kind() {
        doorman_tlog::TileKind::Entries => store.entry_bundle(&tile).ok(),
        doorman_tlog::TileKind::Hashes { .. } => store.hash_tile(&tile).ok(),
    }
}

/// The counts in `log verify`'s report: (hash tiles, entry bundles).
pub fn fetched(report: &str) -> (u64, u64) {
    let number_before = |what: &str| -> u64 {
        let at = report
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in {report}"));
        report[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    (
        number_before(" hash tiles"),
        number_before(" entry bundles"),
    )
}

/// Entries keyed by index from `monitor --json` output.
pub fn json_reports(stdout: &str) -> HashMap<u64, serde_json::Value> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {l}");
            });
            (v["index"].as_u64().unwrap(), v)
        })
        .collect()
}

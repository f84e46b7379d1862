//! `doorman serve` and `doorman log verify` end to end: a data dir pre-populated through
//! doorman_store, the server as a child process, the verifier against it (consistent growth,
//! incremental and full, a fork, a rollback, a wrong key), then a clean SIGTERM shutdown; and
//! incremental verification against a log that serves bad tiles or bundles.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::{FakeLog, Server, doorman, failed, fetched, serve_from_store, write_log_key};
use doorman_store::{LogStore, SqliteLogStore, StoredCheckpoint};
use doorman_tlog::NoteSigner;

const ORIGIN: &str = "log.example.test/public";
const SEED: [u8; 32] = [42; 32];

fn entry(log: &str, i: u64) -> Vec<u8> {
    format!("{{\"type\":\"test\",\"log\":\"{log}\",\"n\":{i}}}").into_bytes()
}

/// A data dir with `log.key` (the test's key) and `count` entries of `log`, integrated.
fn populate(dir: &Path, log: &str, count: u64) -> StoredCheckpoint {
    let signer = write_log_key(dir, ORIGIN, &SEED);
    let store = SqliteLogStore::open(dir).unwrap();
    let have = store.sequenced_size().unwrap();
    let entries: Vec<Vec<u8>> = (have..count).map(|i| entry(log, i)).collect();
    store.append(&entries).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    store.integrate(&signer, ORIGIN, now).unwrap().unwrap()
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

fn verified(out: &Output) -> String {
    common::succeeded(out)
}

fn log_key() -> String {
    NoteSigner::from_seed(ORIGIN, &SEED)
        .unwrap()
        .verifier()
        .to_string()
}

#[test]
fn serve_and_verify_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let first = populate(&data, "main", 300);
    let key = log_key();

    // Forked and longer copies of the same log, signed by the same key.
    let forked_dir = tmp.path().join("forked");
    std::fs::create_dir(&forked_dir).unwrap();
    let forked = populate(&forked_dir, "forked", 300);
    assert_ne!(forked.root, first.root);
    let longer_dir = tmp.path().join("longer");
    std::fs::create_dir(&longer_dir).unwrap();
    let longer = populate(&longer_dir, "main", 1000);

    let mut server = Server::start(&[
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
    // Incremental: the bundles of entries 300..700 (1 and 2) and the tiles they change.
    assert!(out.contains("incremental: entries 300..700"), "{out}");
    assert_eq!(fetched(&out), (3, 2), "{out}");
    // --full: every tile and bundle of the tree again.
    let out = verified(&doorman(&[
        "log",
        "verify",
        "--full",
        "--url",
        &server.url,
        "--key",
        &key,
        "--state",
        state.to_str().unwrap(),
    ]));
    assert!(out.contains("(full)"), "{out}");
    assert_eq!(fetched(&out), (4, 3), "{out}");
    assert!(
        out.contains("consistent with the remembered checkpoint of size 700"),
        "{out}"
    );

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
    let mut server = Server::start(&[
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
    let mut server = Server::start(&["--data-dir", data.to_str().unwrap()]);
    assert!(server.wait_for("doorman serve: log ").contains(&key));
    assert!(!server.saw("created"), "{:?}", server.proc.err_seen);
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

#[test]
fn incremental_verify_fetches_only_what_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    populate(&data, "main", 1000);
    let key = log_key();
    let mut server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--checkpoint-interval",
        "100ms",
    ]);
    let state = tmp.path().join("state");
    let out = verified(&verify(&server.url, &key, &state));
    // Nothing remembered: the whole tree (level 0: 4 tiles and bundles; level 1: 1 tile).
    assert!(out.contains("(full)"), "{out}");
    assert_eq!(fetched(&out), (5, 4), "{out}");
    let at_1000 = tmp.path().join("state-1000");
    std::fs::copy(&state, &at_1000).unwrap();

    // Unchanged: nothing but the checkpoint.
    let out = verified(&verify(&server.url, &key, &state));
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(fetched(&out), (0, 0), "{out}");

    {
        let store = SqliteLogStore::open(&data).unwrap();
        let entries: Vec<Vec<u8>> = (1000..1010).map(|i| entry("main", i)).collect();
        store.append(&entries).unwrap();
    }
    server.wait_for("checkpoint size 1010");
    let out = verified(&verify(&server.url, &key, &state));
    // Entries 1000..1010 are in bundle 3; the edge at 1000 needs level-0 tile 3 and level-1
    // tile 0, which also give the new root.
    assert!(out.contains("incremental: entries 1000..1010"), "{out}");
    assert_eq!(fetched(&out), (2, 1), "{out}");
    assert!(
        out.contains("consistent with the remembered checkpoint of size 1000"),
        "{out}"
    );
    // The same step with --full reads everything.
    let out = verified(&doorman(&[
        "log",
        "verify",
        "--full",
        "--url",
        &server.url,
        "--key",
        &key,
        "--state",
        at_1000.to_str().unwrap(),
    ]));
    assert_eq!(fetched(&out), (5, 4), "{out}");
    assert!(
        out.contains("consistent with the remembered checkpoint of size 1000"),
        "{out}"
    );
    assert!(server.terminate().success());
}

/// A log of 600 entries with checkpoints at 300 and 600, served by a fake server that can
/// tamper with any response; the verifier remembers the checkpoint at 300.
#[test]
fn incremental_verify_catches_bad_tiles_and_bundles() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let at_300 = populate(&data, "main", 300);
    populate(&data, "main", 600);
    let state = tmp.path().join("state");
    let key = log_key();
    let store: Arc<dyn LogStore> = Arc::new(SqliteLogStore::open(&data).unwrap());

    let run = |tamper: &'static str| {
        std::fs::write(&state, &at_300.note).unwrap();
        let store = Arc::clone(&store);
        let log = FakeLog::start(Arc::new(move |path: &str| {
            let mut body = serve_from_store(store.as_ref(), path)?;
            if path == tamper {
                let last = body.len() - 1;
                body[last] ^= 1;
            }
            Some(body)
        }));
        let out = verify(&format!("{}/log", log.base), &key, &state);
        (out, log.requests.lock().unwrap().clone())
    };

    // Honest: only the bundles past entry 300 are read.
    let (out, requests) = run("");
    let report = verified(&out);
    assert_eq!(fetched(&report), (3, 2), "{report}");
    assert!(
        !requests
            .iter()
            .any(|p| p.starts_with("/log/tile/entries/000")),
        "{requests:?}"
    );

    for (tamper, why) in [
        // A new entry: its bundle no longer matches its level-0 tile.
        ("/log/tile/entries/002.p/88", "bad tile"),
        // The new right-edge tile: the root from tiles is not the signed one.
        ("/log/tile/0/002.p/88", "bad tile"),
        // The tile that holds the old entries 256..300 (the remembered tree's edge) and new
        // ones: its bundle disagrees.
        ("/log/tile/0/001", "bad tile"),
        ("/log/tile/1/000.p/2", "bad tile"),
        // A new bundle that became full.
        ("/log/tile/entries/001", "bad tile"),
        // The checkpoint itself.
        ("/log/checkpoint", "bad signature"),
    ] {
        let (out, _) = run(tamper);
        failed(&out, 1, why);
        assert_eq!(
            std::fs::read(&state).unwrap(),
            at_300.note,
            "{tamper}: state kept"
        );
    }
}

//! `doorman log append` and `doorman monitor` end to end, as real processes on loopback:
//! appending beside a running `doorman serve`, a monitor reporting exactly one building's
//! entries (whatever the address's spelling) and resuming from its state, following the log,
//! and the loud exit on a fork, a rollback, a tampered state or a bad signature.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::{
    FakeLog, Proc, Server, doorman, doorman_with_stdin, failed, json_reports, serve_from_store,
    succeeded, text, write_log_key,
};
use doorman_entries::{
    Custody, PublicEntry, carrier_authorized_entry, consent_granted_entry, normalize_address,
};
use doorman_store::{LogStore, SqliteLogStore};
use doorman_tlog::{Checkpoint, Hash, NoteSigner};
use doorman_trust::fixture::Fixture;
use doorman_trust::{PublicKey, SecretKey};

/// The watched building, as registered for the fixture's property and its annex.
const HOME: &str = "12, Rue de l'Église, 75001 Paris";
const ANNEX: &str = "12 rue de l'Eglise - 75001 PARIS";
/// How the building's people type it.
const HOME_TYPED: &str = "12 RUE DE L EGLISE 75001 paris";
/// Another building.
const NEIGHBOUR: &str = "14 Rue de Rivoli, 75004 Paris";

const AT: &str = "2026-11-02T10:00:00Z";
const ORIGIN: &str = "monitor.example.test/log";

fn key_of(seed: u8) -> PublicKey {
    SecretKey::from_seed(&[seed; 32]).public()
}

fn registered(property: &str, key: &PublicKey, address: &str) -> PublicEntry {
    PublicEntry::PropertyRegistered {
        at: AT.into(),
        property: property.into(),
        address: address.into(),
        address_key: normalize_address(address).unwrap(),
        time_zone: "Europe/Paris".into(),
        property_key: key.to_string(),
        custody: Custody::Custodial,
        verified_by: "operator".into(),
    }
}

fn activated(property: &str, door: &str, device: &str) -> PublicEntry {
    PublicEntry::DeviceActivated {
        at: AT.into(),
        property: property.into(),
        door: door.into(),
        device: device.into(),
        device_key: key_of(77).to_string(),
    }
}

fn requested(property: &str, device: &str) -> PublicEntry {
    PublicEntry::InstallationRequested {
        at: AT.into(),
        property: property.into(),
        request: "req-1".into(),
        door: "street".into(),
        device: device.into(),
        device_key: key_of(4).to_string(),
        installer: "acme-install".into(),
    }
}

/// The entry as one JSON line in a non-canonical spelling: members in reverse order, spaces
/// around every separator.
fn spelled(entry: &PublicEntry) -> String {
    let value: serde_json::Value = serde_json::from_slice(&entry.to_bytes().unwrap()).unwrap();
    let members: Vec<String> = value
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(k, v)| format!("{} : {v}", serde_json::to_string(k).unwrap()))
        .collect();
    format!("{{ {} }}", members.join(" , "))
}

fn lines(entries: &[PublicEntry]) -> String {
    entries.iter().map(|e| spelled(e) + "\n").collect()
}

fn append_file(data: &Path, file: &Path) -> Output {
    doorman(&[
        "log",
        "append",
        "--data-dir",
        data.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
}

fn indexes(out: &Output) -> Vec<u64> {
    succeeded(out)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn monitor(url: &str, key: &str, watch: &str, state: Option<&Path>, extra: &[&str]) -> Output {
    let mut args = vec![
        "monitor", "--url", url, "--key", key, "--watch", watch, "--once",
    ];
    if let Some(state) = state {
        args.extend(["--state", state.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    doorman(&args)
}

fn reported(out: &Output) -> Vec<u64> {
    let mut found: Vec<u64> = json_reports(&succeeded(out)).into_keys().collect();
    found.sort_unstable();
    found
}

/// A fresh `doorman serve` with a data dir of its own; returns it and its verifier key.
fn serve(data: &Path) -> (Server, String) {
    let mut server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
        "--checkpoint-interval",
        "100ms",
    ]);
    let line = server.wait_for("verifier key");
    let key = line.rsplit(' ').next().unwrap().to_string();
    (server, key)
}

#[test]
fn append_while_serving_then_monitor_reports_the_watched_building() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, key) = serve(&data);
    let f = Fixture::new().unwrap();
    let home_key = f.property_key.public();
    let at: jiff::Timestamp = AT.parse().unwrap();
    let p = f.property.as_str();

    let batch = [
        registered(p, &home_key, HOME),                      // 0
        registered("prop-neighbour", &key_of(9), NEIGHBOUR), // 1
        requested(p, "dev-1"),                               // 2
        consent_granted_entry(at, "req-1", "dev-1", &f.consent, &home_key).unwrap(), // 3
        activated("prop-neighbour", "lobby", "dev-b"),       // 4
        registered("prop-annex", &key_of(10), ANNEX),        // 5
        carrier_authorized_entry(at, &f.authorization, &home_key).unwrap(), // 6
        activated("prop-annex", "back", "dev-c"),            // 7
    ];
    let file = tmp.path().join("batch.jsonl");
    std::fs::write(&file, lines(&batch)).unwrap();
    let out = append_file(&data, &file);
    assert_eq!(indexes(&out), (0..8).collect::<Vec<_>>(), "{}", text(&out));
    // The running server's integrator picks up another process's appends.
    server.wait_for("checkpoint size 8");

    // The canonical bytes were stored, whatever the input's spelling.
    let state = tmp.path().join("state");
    let out = monitor(&server.url, &key, HOME_TYPED, Some(&state), &["--json"]);
    assert_eq!(reported(&out), [0, 2, 3, 5, 6, 7], "{}", text(&out));
    let reports = json_reports(&succeeded(&out));
    for (index, r) in &reports {
        let entry = &batch[usize::try_from(*index).unwrap()];
        assert_eq!(
            serde_json::to_vec(&r["entry"]).unwrap(),
            entry.to_bytes().unwrap(),
            "entry {index} as logged"
        );
        let want = if entry.property() == "prop-annex" {
            ANNEX
        } else {
            HOME
        };
        assert_eq!(r["address"], want, "entry {index}");
        assert_eq!(r["warnings"], serde_json::json!([]), "entry {index}");
    }
    assert_eq!(reports[&3]["entry"]["type"], "consent_granted");
    assert!(state.join("monitor.json").is_file());

    // Another building: only its entries; in text, one line per entry.
    let out = monitor(&server.url, &key, NEIGHBOUR, None, &["--json"]);
    assert_eq!(reported(&out), [1, 4], "{}", text(&out));
    let out = monitor(&server.url, &key, "14 rue de rivoli 75004 PARIS", None, &[]);
    let stdout = succeeded(&out);
    let text_lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(text_lines.len(), 2, "{stdout}");
    assert!(
        text_lines[1]
            .starts_with("4 2026-11-02T10:00:00Z device_activated property=prop-neighbour")
            && text_lines[1].contains("door=lobby device=dev-b")
            && text_lines[1].ends_with(&format!("address={NEIGHBOUR:?}")),
        "{stdout}"
    );

    // A carrier authorization for the home signed by another key: `log append` checks it
    // against the registration already in the log and refuses it.
    let other = SecretKey::from_seed(&[13; 32]);
    let forged_token =
        doorman_trust::sign_authorization(&other, &f.authorization_spec(), &mut rand::rngs::OsRng)
            .unwrap();
    let forged = carrier_authorized_entry(at, &forged_token, &other.public()).unwrap();
    let out = doorman_with_stdin(
        &["log", "append", "--data-dir", data.to_str().unwrap()],
        lines(std::slice::from_ref(&forged)).as_bytes(),
    );
    failed(&out, 2, "line 1: token_mismatch");
    failed(&out, 2, "index 0 in the log");

    // More entries (on stdin), and the forged one written behind the tool's back.
    let more = [
        activated(p, "street", "dev-1"),                 // 8
        activated("prop-neighbour", "garage", "dev-b2"), // 9
        PublicEntry::ConsentRevoked {
            at: AT.into(),
            property: p.into(),
            door: "street".into(),
            device: "dev-1".into(),
            revocation_id: "abcd".into(),
            reason: "owner_request".into(),
        }, // 10
    ];
    let out = doorman_with_stdin(
        &["log", "append", "--data-dir", data.to_str().unwrap(), "-"],
        lines(&more).as_bytes(),
    );
    assert_eq!(indexes(&out), [8, 9, 10], "{}", text(&out));
    let store = SqliteLogStore::open(&data).unwrap();
    assert_eq!(store.append(&[forged.to_bytes().unwrap()]).unwrap(), [11]);
    server.wait_for("checkpoint size 12");

    // The same state: only the newer entries, with the directory's warning for the forgery.
    let out = monitor(&server.url, &key, HOME_TYPED, Some(&state), &["--json"]);
    assert_eq!(reported(&out), [8, 10, 11], "{}", text(&out));
    let reports = json_reports(&succeeded(&out));
    assert_eq!(reports[&8]["warnings"], serde_json::json!([]));
    let warning = reports[&11]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("does not verify"), "{warning}");
    // The text form shows it too.
    let text_state = tmp.path().join("text-state");
    let out = monitor(&server.url, &key, HOME, Some(&text_state), &[]);
    let stdout = succeeded(&out);
    assert!(
        stdout.contains("11 2026-11-02T10:00:00Z carrier_authorized property=prop-7f3a9c")
            && stdout.contains("\n  warning: carrier_authorized: the embedded token"),
        "{stdout}"
    );

    // Nothing new: nothing reported.
    let out = monitor(&server.url, &key, HOME_TYPED, Some(&state), &["--json"]);
    assert_eq!(succeeded(&out), "", "{}", text(&out));
    assert!(server.terminate().success());
}

#[test]
fn appenders_in_several_processes_beside_serve_get_distinct_indexes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, key) = serve(&data);
    let file = tmp.path().join("register.jsonl");
    std::fs::write(&file, lines(&[registered("prop-1", &key_of(9), HOME)])).unwrap();
    assert_eq!(indexes(&append_file(&data, &file)), [0]);

    // Four appenders at once, 25 entries each, while the server integrates every 100 ms.
    let children: Vec<_> = (0..4)
        .map(|n| {
            let batch: Vec<PublicEntry> = (0..25)
                .map(|i| activated("prop-1", "street", &format!("dev-{n}-{i}")))
                .collect();
            let file = tmp.path().join(format!("batch-{n}.jsonl"));
            std::fs::write(&file, lines(&batch)).unwrap();
            std::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
                .args(["log", "append", "--data-dir", data.to_str().unwrap()])
                .arg(&file)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut all: Vec<u64> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let got = indexes(&out);
        assert_eq!(got.len(), 25);
        // One batch, one transaction: contiguous.
        assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (1..101).collect::<Vec<_>>());
    server.wait_for("checkpoint size 101");
    let out = monitor(&server.url, &key, HOME, None, &["--json"]);
    assert_eq!(reported(&out), (0..101).collect::<Vec<_>>());
    assert!(server.terminate().success());
}

/// A data dir holding `entries`, integrated and signed with the test's key (seed `seed`).
fn log_with(dir: &Path, seed: u8, entries: &[PublicEntry]) -> (NoteSigner, Vec<u8>) {
    let signer = write_log_key(dir, ORIGIN, &[seed; 32]);
    let store = SqliteLogStore::open(dir).unwrap();
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    store.append(&bytes).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let cp = store.integrate(&signer, ORIGIN, now).unwrap().unwrap();
    (signer, cp.note)
}

fn alert(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(3), "{}", text(out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("ALERT: "), "{}", text(out));
    assert!(
        stderr.contains(needle),
        "expected {needle:?} in {}",
        text(out)
    );
}

#[test]
fn a_split_view_rollback_tampered_state_or_bad_signature_is_an_alert() {
    let tmp = tempfile::tempdir().unwrap();
    let home = registered("prop-home", &key_of(9), HOME);
    // What the building is shown, and what the rest of the world is shown: the same key
    // signs both (a split view).
    let honest = tmp.path().join("honest");
    let (signer, _) = log_with(
        &honest,
        42,
        &[home.clone(), requested("prop-home", "dev-1")],
    );
    let split = tmp.path().join("split");
    log_with(
        &split,
        42,
        &[
            home.clone(),
            requested("prop-home", "dev-evil"),
            activated("prop-home", "street", "dev-evil"),
        ],
    );
    let key = signer.verifier().to_string();
    let honest_server = Server::start(&["--data-dir", honest.to_str().unwrap()]);
    let split_server = Server::start(&["--data-dir", split.to_str().unwrap()]);

    let state = tmp.path().join("state");
    let out = monitor(&honest_server.url, &key, HOME, Some(&state), &["--json"]);
    assert_eq!(reported(&out), [0, 1]);
    let saved = std::fs::read(state.join("monitor.json")).unwrap();

    // The other view does not extend the checkpoint the building verified: a fork.
    let out = monitor(&split_server.url, &key, HOME, Some(&state), &["--json"]);
    alert(&out, "fork");
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert_eq!(
        std::fs::read(state.join("monitor.json")).unwrap(),
        saved,
        "state kept as evidence"
    );

    // Seen from the larger view, the honest one is a rollback.
    let split_state = tmp.path().join("split-state");
    assert_eq!(
        reported(&monitor(
            &split_server.url,
            &key,
            HOME,
            Some(&split_state),
            &["--json"]
        )),
        [0, 1, 2]
    );
    alert(
        &monitor(
            &honest_server.url,
            &key,
            HOME,
            Some(&split_state),
            &["--json"],
        ),
        "rollback",
    );

    // A state whose checkpoint was replaced by another of the same size (signed by the same
    // key): a fork too.
    let tampered = tmp.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    let mut file: serde_json::Value = serde_json::from_slice(&saved).unwrap();
    let other_root = Hash::from_slice(&[7; 32]).unwrap();
    let note = Checkpoint::new(ORIGIN, 2, other_root)
        .unwrap()
        .sign(&[&signer])
        .unwrap();
    file["checkpoint"] = String::from_utf8(note).unwrap().into();
    std::fs::write(
        tampered.join("monitor.json"),
        serde_json::to_vec(&file).unwrap(),
    )
    .unwrap();
    alert(
        &monitor(&honest_server.url, &key, HOME, Some(&tampered), &[]),
        "fork",
    );

    // A key that did not sign the checkpoint: a bad signature.
    let stranger = NoteSigner::from_seed(ORIGIN, &[1; 32])
        .unwrap()
        .verifier()
        .to_string();
    alert(
        &monitor(&honest_server.url, &stranger, HOME, None, &[]),
        "bad signature",
    );

    // Tiles that contradict the signed checkpoint.
    let store: Arc<dyn LogStore> = Arc::new(SqliteLogStore::open(&honest).unwrap());
    let fake = FakeLog::start(Arc::new(move |path: &str| {
        let mut body = serve_from_store(store.as_ref(), path)?;
        if path.starts_with("/log/tile/entries/") {
            let last = body.len() - 1;
            body[last] ^= 1;
        }
        Some(body)
    }));
    alert(
        &monitor(&format!("{}/log", fake.base), &key, HOME, None, &[]),
        "bad tile",
    );

    // The honest log is still fine for the building's state.
    let out = monitor(&honest_server.url, &key, HOME, Some(&state), &["--json"]);
    assert_eq!(succeeded(&out), "");
}

#[test]
fn bad_input_gets_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    SqliteLogStore::open(&data).unwrap();
    let f = Fixture::new().unwrap();
    let at: jiff::Timestamp = AT.parse().unwrap();

    // Every refused line is listed with its code; nothing is appended.
    let good = spelled(&registered("prop-1", &key_of(9), HOME));
    let consent =
        consent_granted_entry(at, "req-1", "dev-1", &f.consent, &f.property_key.public()).unwrap();
    let input = format!(
        "{good}\n\
         {{\"type\":\"teleporter_installed\",\"v\":1}}\n\
         not json\n\
         \n\
         {}\n\
         {}\n\
         {{\"type\":\"device_activated\",\"v\":2}}\n",
        spelled(&registered(f.property.as_str(), &key_of(9), NEIGHBOUR)),
        spelled(&consent),
    );
    let file = tmp.path().join("bad.jsonl");
    std::fs::write(&file, &input).unwrap();
    let out = append_file(&data, &file);
    failed(&out, 2, "nothing appended: 3 lines");
    for needle in [
        "line 2: unknown_type",
        "line 3: bad_json",
        "line 7: unsupported_version",
    ] {
        failed(&out, 2, needle);
    }
    assert_eq!(
        SqliteLogStore::open(&data)
            .unwrap()
            .sequenced_size()
            .unwrap(),
        0
    );
    // With the parse errors gone, the consent's token is checked against its property's
    // registration in the same input (another key): refused.
    let input = format!(
        "{}\n{}\n",
        spelled(&registered(f.property.as_str(), &key_of(9), NEIGHBOUR)),
        spelled(&consent)
    );
    let out = doorman_with_stdin(
        &["log", "append", "--data-dir", data.to_str().unwrap()],
        input.as_bytes(),
    );
    failed(
        &out,
        2,
        "line 2: token_mismatch: the embedded token does not match: the consent does not verify",
    );
    failed(&out, 2, "its property_registered entry on line 1");
    assert_eq!(
        SqliteLogStore::open(&data)
            .unwrap()
            .sequenced_size()
            .unwrap(),
        0
    );
    // No entries, no log.
    failed(
        &doorman_with_stdin(
            &["log", "append", "--data-dir", data.to_str().unwrap()],
            b"\n\n",
        ),
        2,
        "holds no entries",
    );
    failed(
        &append_file(&tmp.path().join("nowhere"), &file),
        2,
        "there is no log in",
    );

    // monitor: a bad key or address is a usage error (2); an unreachable log fails (1).
    let key = NoteSigner::from_seed(ORIGIN, &[42; 32])
        .unwrap()
        .verifier()
        .to_string();
    let url = "http://127.0.0.1:9/log";
    failed(&monitor(url, "not-a-key", HOME, None, &[]), 2, "--key");
    failed(&monitor(url, &key, " ,.- ", None, &[]), 2, "--watch");
    failed(
        &monitor("https://example.test/log", &key, HOME, None, &[]),
        2,
        "only http://",
    );
    failed(
        &doorman(&["monitor", "--url", url, "--key", &key]),
        2,
        "--watch",
    );
    failed(
        &monitor(url, &key, HOME, None, &["--interval", "0"]),
        2,
        "positive",
    );
    failed(&monitor(url, &key, HOME, None, &[]), 1, "127.0.0.1:9");
    // A state dir of something else.
    let state = tmp.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("monitor.json"), b"{\"nope\":1}").unwrap();
    failed(
        &monitor(url, &key, HOME, Some(&state), &[]),
        2,
        "is not a monitor state file",
    );
}

#[test]
fn monitor_follows_the_log_and_rides_out_network_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (mut server, key) = serve(&data);
    let file = tmp.path().join("first.jsonl");
    std::fs::write(&file, lines(&[registered("prop-1", &key_of(9), HOME)])).unwrap();
    assert_eq!(indexes(&append_file(&data, &file)), [0]);
    server.wait_for("checkpoint size 1");

    let state = tmp.path().join("state");
    let mut follower = Proc::spawn(&[
        "monitor",
        "--url",
        &server.url,
        "--key",
        &key,
        "--watch",
        HOME_TYPED,
        "--state",
        state.to_str().unwrap(),
        "--json",
        "--interval",
        "100ms",
    ]);
    let has_index = |n: u64| move |l: &str| l.starts_with(&format!("{{\"index\":{n},"));
    follower.wait_stdout(has_index(0));

    // New entries, one of a type this monitor does not know (a newer Doorman's): warned
    // about, skipped, and the next one is still reported.
    let store = SqliteLogStore::open(&data).unwrap();
    store
        .append(&[
            br#"{"type":"teleporter_installed","v":1}"#.to_vec(),
            activated("prop-1", "street", "dev-1").to_bytes().unwrap(),
        ])
        .unwrap();
    follower.wait_stdout(has_index(2));
    let warning = follower.wait_stderr("entry 1 is not a public entry");
    assert!(warning.contains("unknown_type"), "{warning}");
    assert_eq!(follower.out_seen.len(), 2, "{:?}", follower.out_seen);

    // The log goes away: the monitor says so and keeps polling.
    assert!(server.terminate().success());
    follower.wait_stderr("retrying in");
    assert!(follower.running());
    follower.terminate();
    // Its state holds the last verified checkpoint.
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(state.join("monitor.json")).unwrap()).unwrap();
    assert_eq!(saved["format"], "doorman-monitor-state/1");
    assert!(
        saved["checkpoint"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{ORIGIN}\n3\n")),
        "{saved}"
    );
}

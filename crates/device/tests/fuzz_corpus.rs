//! Replays the committed fuzz corpus `fuzz/corpus/activation_bundle/` through the body the
//! cargo-fuzz target runs (`doorman_device::fuzzing::activation_bundle`), on the stable
//! toolchain, so every input the fuzzer kept stays a regression test. Fuzzing itself:
//! `cd fuzz && cargo +nightly fuzz run activation_bundle`. The seeds are written by
//! `cargo test -p doorman-device --test fuzz_corpus -- --ignored write_seed_corpus`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/activation_bundle")
}

#[test]
fn activation_bundle_corpus_replays_without_panics() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz corpus {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "the fuzz corpus {} is nearly empty",
        dir.display()
    );
    let mut accepted = 0;
    let (w, _) = doorman_device::fixture::good();
    for f in &files {
        let data = std::fs::read(f).unwrap();
        doorman_device::fuzzing::activation_bundle(&data);
        if doorman_device::verify_activation(
            &data,
            &w.device_key,
            &w.log_key(),
            doorman_device::fixture::now(),
        )
        .is_ok()
        {
            accepted += 1;
        }
    }
    // The good bundle is a seed: the corpus exercises the accepting path, not only refusals.
    assert!(accepted >= 1, "no input in the corpus activates");
}

#[test]
#[ignore = "writes the seed corpus"]
fn write_seed_corpus() {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (_, good) = doorman_device::fixture::good();
    std::fs::write(dir.join("seed-good-bundle"), good.to_bytes()).unwrap();
    std::fs::write(dir.join("seed-empty"), b"").unwrap();
    // Mutation scripts for the second half of the body: flip a byte early, mid, late.
    std::fs::write(dir.join("seed-flips"), [0, 10, 1, 4, 0, 2, 16, 0, 0x20]).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&good.to_bytes()).unwrap();
    v["consent"] = v["registration"].clone();
    std::fs::write(dir.join("seed-swapped"), serde_json::to_vec(&v).unwrap()).unwrap();
}

fn message_corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/device_message")
}

#[test]
fn device_message_corpus_replays_without_panics() {
    let dir = message_corpus_dir();
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz corpus {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(
        files.len() >= 8,
        "the fuzz corpus {} is nearly empty",
        dir.display()
    );
    let device = doorman_core::DeviceId::new("dev_1").unwrap();
    let mut read = 0;
    for f in &files {
        let data = std::fs::read(f).unwrap();
        doorman_device::fuzzing::device_message(&data);
        let up = doorman_device::messages::Message::<doorman_device::messages::Up>::from_payload(
            &data, &device,
        );
        let down =
            doorman_device::messages::Message::<doorman_device::messages::Down>::from_payload(
                &data, &device,
            );
        if up.is_ok() || down.is_ok() {
            read += 1;
        }
    }
    // The seeds are valid payloads of every kind: the accepting paths are exercised too.
    assert!(read >= 8, "only {read} corpus inputs are messages");
}

#[test]
#[ignore = "writes the seed corpus"]
fn write_message_seed_corpus() {
    let dir = message_corpus_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let at = r#""at":"2026-12-01T10:00:00Z""#;
    let head = |t: &str| format!(r#"{{"type":"{t}","v":1,"device":"dev_1",{at}"#);
    let seeds = [
        (
            "events",
            format!(
                r#"{},"events":["{{\"payload\":\"e30\",\"signature\":\"AA\"}}"]}}"#,
                head("events")
            ),
        ),
        (
            "status",
            format!(
                r#"{},"version":"0.1.0","active":true,"hello":true,"pending":3,"revocations_issued_at":"2026-12-01T09:00:00Z","revocations_seq":4,"service_seq":2,"config_seq":1,"fault":null}}"#,
                head("status")
            ),
        ),
        (
            "challenge",
            format!(
                r#"{},"request":"r1","challenge":{{"nonce":"{}","issued_at":"2026-12-01T10:00:00Z","property":"prop_1","door":"street","device_key":"ed25519/{}"}}}}"#,
                head("challenge"),
                "05".repeat(32),
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
            ),
        ),
        (
            "decision",
            format!(
                r#"{},"request":"r1","opened":true,"event":"e"}}"#,
                head("decision")
            ),
        ),
        (
            "refused",
            format!(
                r#"{},"request":"r1","code":"not_active","message":"m"}}"#,
                head("refused")
            ),
        ),
        ("ack", format!(r#"{},"upto":17}}"#, head("ack"))),
        (
            "challenge_request",
            format!(r#"{},"request":"r-2"}}"#, head("challenge_request")),
        ),
        (
            "unlock",
            format!(
                r#"{},"request":"r_3","pass":"abc","nonce":"{}","presented_at":"2026-12-01T10:00:00Z","signature":"{}"}}"#,
                head("unlock"),
                "01".repeat(32),
                "02".repeat(64)
            ),
        ),
        (
            "state",
            format!(
                r#"{},"revocations":"r","service":null,"config":"c"}}"#,
                head("state")
            ),
        ),
        (
            "decommissioned",
            format!(r#"{},"reason":"moved"}}"#, head("decommissioned")),
        ),
        (
            "topic",
            "/tenants/6465765f31/doorman/v1/devices/dev_1/up".to_string(),
        ),
    ];
    for (name, text) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), text).unwrap();
    }
    let signed = doorman_device::messages::Message {
        device: doorman_core::DeviceId::new("dev_1").unwrap(),
        at: "2026-12-01T10:00:00Z".parse().unwrap(),
        body: doorman_device::messages::Down::Ack { upto: 3 },
    }
    .sign(&doorman_trust::SecretKey::from_seed(&[9; 32]))
    .unwrap();
    std::fs::write(dir.join("seed-signed-ack"), signed).unwrap();
}

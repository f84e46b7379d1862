//! Replays the committed fuzz corpora (`fuzz/corpus/token_parse/`, `door_decision/`,
//! `state_document/`, `sealed_key/`) through the same target bodies the cargo-fuzz targets run
//! (`doorman_trust::fuzzing`), on the stable toolchain, so every input the fuzzer kept stays a
//! regression test. Fuzzing itself: `cd fuzz && cargo +nightly fuzz run <target>` (see the
//! fuzz targets). The seed corpora of `state_document` and `sealed_key` are written by
//! `cargo test -p doorman-trust --test fuzz_corpus -- --ignored write_seed_corpora`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use doorman_trust::door::Decision;
use doorman_trust::fixture::Fixture;
use doorman_trust::fuzzing::{self, PROOF_DRIVER, door_input, flags};
use doorman_trust::{Kek, PublicKey, RevocationList, SecretKey, ServiceState};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz corpus {} is missing: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "the fuzz corpus {} is empty",
        dir.display()
    );
    files
}

/// Writes to stderr directly, past the test harness's capture, so the counts show in a plain
/// `cargo test` run.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs `body` on every corpus file of `target`; fails naming every input that panicked.
fn replay(target: &str, mut body: impl FnMut(&[u8])) -> usize {
    let files = corpus(target);
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    report(&format!("{target}: replayed {} inputs", files.len()));
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs panicked:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
    files.len()
}

#[test]
fn token_parse_corpus_replays_without_panics() {
    let n = replay("token_parse", fuzzing::token_parse);
    assert!(n > 0);
}

#[test]
fn door_decision_corpus_replays_without_panics() {
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    let n = replay("door_decision", |data| {
        let code = match fuzzing::door_decision_outcome(data) {
            Decision::Allow(_) => "allow",
            Decision::Deny(d) => d.reason.code(),
        };
        *outcomes.entry(code).or_default() += 1;
    });
    report(&format!(
        "door_decision outcomes over {n} inputs: {outcomes:?}"
    ));
}

/// The harness is not vacuous: the fixture's own pass, presented as the target builds it,
/// opens the door (and the target's second presentation is refused).
#[test]
fn door_decision_harness_reaches_allow() {
    let f = Fixture::new().unwrap();
    let drv = PROOF_DRIVER << flags::PROOF_SHIFT;
    let sig = [0; 64];
    let pass = f.pass.as_bytes();
    for (name, input) in [
        ("plain", door_input(drv, 0, 0, 0, &sig, &[], pass)),
        (
            "mutate, no mutations",
            door_input(drv | flags::MUTATE, 0, 0, 0, &sig, &[], pass),
        ),
        (
            "skewed in tolerance",
            door_input(drv, 100, -20, 30, &sig, &[], pass),
        ),
    ] {
        let d = fuzzing::door_decision_outcome(&input);
        assert!(d.is_allow(), "{name}: {d:?}");
    }
    for (name, flag) in [
        ("revoked", flags::REVOKE_PASS),
        ("foreign challenge", flags::FOREIGN_CHALLENGE),
        ("stale list", flags::STALE_REVOCATIONS),
        ("carrier off", flags::CARRIER_OFF),
    ] {
        let d = fuzzing::door_decision_outcome(&door_input(drv | flag, 0, 0, 0, &sig, &[], pass));
        assert!(!d.is_allow(), "{name}: {d:?}");
    }
}

#[test]
fn state_document_corpus_replays_without_panics() {
    let key = SecretKey::from_seed(&fuzzing::STATE_KEY_SEED).public();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let n = replay("state_document", |data| {
        fuzzing::state_document(data);
        let code = |r: Result<(), doorman_trust::StateError>| match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        };
        for (how, outcome) in [
            (
                "list verify",
                code(RevocationList::verify(data, &key).map(drop)),
            ),
            (
                "service verify",
                code(ServiceState::verify(data, &key).map(drop)),
            ),
            (
                "list payload",
                code(RevocationList::from_payload(data).map(drop)),
            ),
            (
                "service payload",
                code(ServiceState::from_payload(data).map(drop)),
            ),
        ] {
            *outcomes.entry(format!("{how}: {outcome}")).or_default() += 1;
        }
    });
    report(&format!(
        "state_document outcomes over {n} inputs: {outcomes:?}"
    ));
    // The corpus keeps real signed documents of both types (the seeds).
    for how in ["list verify: ok", "service verify: ok"] {
        assert!(outcomes.contains_key(how), "no input gives {how}");
    }
}

#[test]
fn sealed_key_corpus_replays_without_panics() {
    let n = replay("sealed_key", fuzzing::sealed_key);
    assert!(n > 0);
}

/// The harnesses are not vacuous: the seeds are real documents and seals that the targets
/// accept and open (and the targets hold on them).
#[test]
fn state_and_seal_seeds_reach_acceptance() {
    let key: PublicKey = SecretKey::from_seed(&fuzzing::STATE_KEY_SEED).public();
    let seeds = fuzzing::state_document_seeds().unwrap();
    let verified = seeds
        .iter()
        .filter(|s| {
            RevocationList::verify(s, &key).is_ok() || ServiceState::verify(s, &key).is_ok()
        })
        .count();
    let read = seeds
        .iter()
        .filter(|s| {
            RevocationList::from_payload(s).is_ok() || ServiceState::from_payload(s).is_ok()
        })
        .count();
    assert_eq!((verified, read), (4, 4), "{} seeds", seeds.len());
    for seed in &seeds {
        fuzzing::state_document(seed);
    }

    let kek = Kek::from_bytes(fuzzing::SEALED_KEK);
    let seals = fuzzing::sealed_key_seeds().unwrap();
    let opened = seals
        .iter()
        .filter(|s| {
            kek.open(s, fuzzing::SEALED_PURPOSE, fuzzing::SEALED_ID)
                .is_ok()
        })
        .count();
    assert_eq!(opened, 1);
    for seed in &seals {
        fuzzing::sealed_key(seed);
    }
}

/// Writes the seed corpora of `state_document` and `sealed_key` (run explicitly, then let the
/// fuzzer grow them and `cargo fuzz cmin` them).
#[test]
#[ignore = "writes into fuzz/corpus; run with --ignored to (re)seed"]
fn write_seed_corpora() {
    for (target, seeds) in [
        ("state_document", fuzzing::state_document_seeds().unwrap()),
        ("sealed_key", fuzzing::sealed_key_seeds().unwrap()),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
        }
        report(&format!("{target}: wrote {} seeds", seeds.len()));
    }
}

//! Replays `fuzz/corpus/agent_input/` through `doorman_agent::fuzzing::agent_input` (the body
//! the cargo-fuzz target runs), on stable. Fuzzing: `cd fuzz && cargo +nightly fuzz run
//! agent_input`. Also writes a real two-record journal seed if it is missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/agent_input")
}

#[test]
fn agent_input_corpus_replays_without_panics() {
    let dir = corpus_dir();
    let journal_seed = dir.join("seed-journal");
    let mut seed = vec![0u8];
    seed.extend(doorman_agent::journal::encode_record(1, b"first").unwrap());
    seed.extend(doorman_agent::journal::encode_record(2, b"second").unwrap());
    assert!(
        journal_seed.exists() && std::fs::read(&journal_seed).unwrap() == seed,
        "{} is missing or stale; write it with: cargo test -p doorman-agent --test fuzz_corpus -- --ignored write_seed",
        journal_seed.display()
    );
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the fuzz corpus {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for f in files {
        doorman_agent::fuzzing::agent_input(&std::fs::read(&f).unwrap());
    }
}

#[test]
#[ignore = "writes the journal seed"]
fn write_seed() {
    let mut seed = vec![0u8];
    seed.extend(doorman_agent::journal::encode_record(1, b"first").unwrap());
    seed.extend(doorman_agent::journal::encode_record(2, b"second").unwrap());
    std::fs::write(corpus_dir().join("seed-journal"), seed).unwrap();
}

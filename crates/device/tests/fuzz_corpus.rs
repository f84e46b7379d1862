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

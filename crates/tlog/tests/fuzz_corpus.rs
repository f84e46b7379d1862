//! Replays the log fuzz targets' corpora (`fuzz/corpus/log_*`) through the same bodies the
//! fuzzer runs (`doorman_tlog::fuzzing`), so every input the fuzzer kept stays covered on
//! stable Rust and in CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

fn replay(target: &str, body: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {} is missing: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    let failed: Vec<String> = files
        .iter()
        .filter(|p| {
            let data = std::fs::read(p).unwrap();
            catch_unwind(AssertUnwindSafe(|| body(&data))).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    let _ = writeln!(
        std::io::stderr(),
        "{target}: replayed {} inputs",
        files.len()
    );
    assert!(
        failed.is_empty(),
        "inputs that fail:\n{}",
        failed.join("\n")
    );
}

#[test]
fn log_text_corpus_replays() {
    replay("log_text", doorman_tlog::fuzzing::log_text);
}

#[test]
fn log_tiles_corpus_replays() {
    replay("log_tiles", doorman_tlog::fuzzing::log_tiles);
}

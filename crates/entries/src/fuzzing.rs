//! Body of the `public_entry` fuzz target (`fuzz/fuzz_targets/public_entry.rs`), here so the
//! stable test `tests/fuzz_corpus.rs` replays exactly what the fuzzer runs.
//!
//! Beyond "never panics": what `parse` accepts re-encodes to the same bytes, what `from_json`
//! accepts encodes to bytes `parse` accepts as the same entry, the address key is idempotent,
//! and a directory reading the entry never panics.
// The invariant checks are assertions by design: a failure is a finding the fuzzer must report.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use crate::{Directory, PublicEntry, normalize_address};

/// Parses `data` as a logged entry, as any-spelling JSON and as an address.
pub fn public_entry(data: &[u8]) {
    if let Ok(entry) = PublicEntry::parse(data) {
        assert_eq!(
            entry.to_bytes().unwrap(),
            data,
            "parse accepted a non-canonical entry"
        );
        let mut dir = Directory::default();
        let _ = dir.observe(0, &entry);
    }
    if let Ok(entry) = PublicEntry::from_json(data) {
        let bytes = entry.to_bytes().expect("a validated entry encodes");
        assert_eq!(PublicEntry::parse(&bytes).unwrap(), entry);
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(key) = normalize_address(text)
    {
        assert_eq!(
            normalize_address(&key).unwrap(),
            key,
            "normalisation is not idempotent"
        );
    }
}

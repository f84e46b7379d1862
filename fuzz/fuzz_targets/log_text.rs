//! Log text parsers (keys, hashes, checkpoints, notes, proof bundles); see `doorman_tlog::fuzzing::log_text`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_tlog::fuzzing::log_text(data);
});

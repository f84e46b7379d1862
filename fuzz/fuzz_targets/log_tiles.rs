//! Tile paths, hash tiles, entry bundles and proof verification; see `doorman_tlog::fuzzing::log_tiles`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_tlog::fuzzing::log_tiles(data);
});

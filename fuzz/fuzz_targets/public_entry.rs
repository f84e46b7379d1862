//! Public log entries and addresses; see `doorman_entries::fuzzing::public_entry`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_entries::fuzzing::public_entry(data);
});

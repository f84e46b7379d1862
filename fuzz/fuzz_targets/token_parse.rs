//! Token readers on arbitrary bytes and text; see `doorman_trust::fuzzing::token_parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_trust::fuzzing::token_parse(data);
});

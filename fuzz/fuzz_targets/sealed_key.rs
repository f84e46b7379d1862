//! Sealed custodial keys opened under a fixed KEK, and seal → open round trips for purposes and
//! ids from the input; see `doorman_trust::fuzzing::sealed_key`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_trust::fuzzing::sealed_key(data);
});

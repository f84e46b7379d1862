//! The door decision on presentations built from arbitrary bytes around the fixture building;
//! see `doorman_trust::fuzzing::door_decision` for the input layout and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_trust::fuzzing::door_decision(data);
});

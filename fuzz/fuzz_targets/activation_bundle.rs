//! The door agent's activation bundle decoder and verifier, on raw input and on the fixture's
//! good bundle changed where the input says; see `doorman_device::fuzzing::activation_bundle`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_device::fuzzing::activation_bundle(data);
});

//! Signed device state (revocation lists, service state) as documents and payloads, with the
//! payload → sign → verify round trip; see `doorman_trust::fuzzing::state_document`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_trust::fuzzing::state_document(data);
});

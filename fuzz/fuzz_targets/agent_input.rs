//! The door agent's readers of outside bytes: its journal decoder and the local presentation
//! protocol; see `doorman_agent::fuzzing::agent_input`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_agent::fuzzing::agent_input(data);
});

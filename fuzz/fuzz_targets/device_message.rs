//! The MQTT message decoders of devices and the server; see
//! `doorman_device::fuzzing::device_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    doorman_device::fuzzing::device_message(data);
});

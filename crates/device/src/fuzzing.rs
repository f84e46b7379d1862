//! Fuzzing bodies (the `fuzz/` targets call these; `tests/fuzz_corpus.rs` replays the corpus
//! through them in every test run).

use std::sync::OnceLock;

use doorman_trust::PublicKey;

use crate::activation::verify_activation;
use crate::fixture::{World, good, now};

struct Env {
    good: Vec<u8>,
    device: PublicKey,
    log: doorman_tlog::NoteVerifier,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let (w, bundle): (World, _) = good();
        Env {
            good: bundle.to_bytes(),
            device: w.device_key,
            log: w.log_key(),
        }
    })
}

/// `verify_activation` on the input as a bundle, and on the fixture's good bundle with bytes
/// changed where the input says (pairs of a 2-byte big-endian position and a byte to XOR in):
/// never a panic, whatever the bytes. A changed bundle that still verifies must be for the same
/// device, property and door (a change can only be one JSON spelling for another).
pub fn activation_bundle(data: &[u8]) {
    let e = env();
    let _ = verify_activation(data, &e.device, &e.log, now());
    let mut bytes = e.good.clone();
    for pair in data.chunks_exact(3) {
        if let [hi, lo, x] = pair {
            let at = usize::from(u16::from_be_bytes([*hi, *lo])) % bytes.len().max(1);
            if let Some(b) = bytes.get_mut(at) {
                *b ^= *x;
            }
        }
    }
    if let Ok(a) = verify_activation(&bytes, &e.device, &e.log, now()) {
        assert_eq!(
            (a.property.as_str(), a.door.as_str()),
            ("prop_1", "street"),
            "a changed bundle activated for something else"
        );
    }
}

/// The MQTT message decoders on raw input: as signed messages both ways (never a panic), and
/// as payloads (what is read must sign and open again to the same message), and the topic
/// parser. A payload the decoder accepts is one the server or a device may act on, so it must
/// be exactly what its fields say.
pub fn device_message(data: &[u8]) {
    use crate::messages::{Down, Message, Up, device_of_up_topic};
    use doorman_core::DeviceId;
    static KEYS: OnceLock<Option<(doorman_trust::SecretKey, DeviceId)>> = OnceLock::new();
    let Some((key, device)) = KEYS
        .get_or_init(|| {
            DeviceId::new("dev_1")
                .ok()
                .map(|d| (doorman_trust::SecretKey::from_seed(&[9; 32]), d))
        })
        .as_ref()
    else {
        return;
    };
    let _ = Message::<Up>::open(data, device, &key.public());
    let _ = Message::<Down>::open(data, device, &key.public());
    if let Ok(m) = Message::<Up>::from_payload(data, device)
        && let Ok(signed) = m.sign(key)
    {
        assert_eq!(
            Message::<Up>::open(&signed, device, &key.public()).ok(),
            Some(m),
            "an up message did not survive signing"
        );
    }
    if let Ok(m) = Message::<Down>::from_payload(data, device)
        && let Ok(signed) = m.sign(key)
    {
        assert_eq!(
            Message::<Down>::open(&signed, device, &key.public()).ok(),
            Some(m),
            "a down message did not survive signing"
        );
    }
    if let Ok(topic) = std::str::from_utf8(data)
        && let Some(d) = device_of_up_topic(topic)
    {
        assert_eq!(crate::messages::up_topic(&d).ok().as_deref(), Some(topic));
    }
}

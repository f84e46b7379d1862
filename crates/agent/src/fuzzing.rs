//! Fuzzing bodies for the agent's readers of outside bytes (the `fuzz/` target
//! `agent_input` calls [`agent_input`]; `tests/fuzz_corpus.rs` replays its corpus).

use crate::journal::{decode_records, encode_record};
use crate::local::{Request, nonce, proof};

/// The first byte picks the reader: even → the journal decoder (whatever it accepts must
/// re-encode to exactly the bytes it consumed), odd → a line of the local presentation
/// protocol. Never a panic.
pub fn agent_input(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    if pick % 2 == 0 {
        if let Ok(d) = decode_records(rest) {
            let mut again = Vec::new();
            for (seq, payload) in &d.records {
                if let Ok(bytes) = encode_record(*seq, payload) {
                    again.extend_from_slice(&bytes);
                }
            }
            assert_eq!(
                Some(again.as_slice()),
                rest.get(..d.valid_len),
                "decoded records re-encode to other bytes"
            );
        }
    } else if let Ok(Request::Present {
        nonce: n,
        presented_at,
        signature,
        ..
    }) = serde_json::from_slice::<Request>(rest)
    {
        let _ = nonce(&n);
        let _ = proof(&presented_at, &signature);
    }
}

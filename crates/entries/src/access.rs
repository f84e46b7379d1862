//! The leaf format of a property's private access log (issue 3, item 4), and the anchor entry
//! that puts an access log's checkpoint into the public log.
//!
//! An access event's payload (the device-signed event, defined in a later issue; opaque bytes
//! here, at most [`MAX_ACCESS_PAYLOAD`]) is never logged. The log holds a **commitment** to it:
//!
//! ```text
//! leaf       = {"commitment":"<base64>","type":"access_event","v":1}      canonical JSON
//! commitment = SHA-256( "doorman/access_event/commitment/v1" 0x00       35-byte domain tag
//!                       || salt                                         32 random bytes
//!                       || u64 big-endian byte length of the payload    8 bytes
//!                       || payload )
//! ```
//!
//! `<base64>` is standard padded base64 of the 32-byte digest (as checkpoints write roots).
//! The salt and the payload together are the event's **opening**; they are kept beside the log,
//! not in it, so they can be deleted after the retention period while the leaf, and with it
//! every tile, checkpoint and proof, stays as it was.
//!
//! # Why a salt
//!
//! Payloads have little entropy: a door, a time to the second, a pass id that the property's
//! people (or the carrier) know. Without a salt, anyone holding a leaf could hash every
//! candidate payload until one matched, so "redacting" would delete nothing. The salt is 32
//! bytes from a cryptographically secure RNG, drawn afresh for every event (by the caller:
//! this crate is pure and takes the bytes), and deleted together with the payload. Once it is
//! gone, finding the payload from the commitment means guessing 256 random bits as well. A
//! fresh salt also makes two equal payloads commit to unrelated values, so leaves cannot be
//! linked to each other. Binding: opening one commitment to two payloads takes a SHA-256
//! collision.
//!
//! # Why a domain tag and a length
//!
//! The tag names the purpose and the version; a SHA-256 commitment computed for any other
//! Doorman purpose (with another tag) can never equal one of these, so a value committed for
//! one use cannot be replayed as an access event, and the first byte (`d`) differs from the
//! RFC 6962 leaf (0x00) and node (0x01) prefixes, so no tree hash is one either. The tag ends
//! in the only zero byte it holds and the salt has a fixed length; with the payload's length
//! in front of it, the encoding is unambiguous (and stays so if a later version adds fields).
//!
//! # No metadata in the leaf
//!
//! The leaf carries nothing but the commitment: no time, no door. Leaves stay forever, and the
//! times at which one door of a small building opens are personal data (who is at home, who
//! receives parcels when); after the retention period nothing of the event may remain but the
//! fact that one happened. (The log's checkpoints, and its anchors in the public log, still
//! show roughly when and how many events were logged; see docs/access-log.md.)

use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_core::PropertyId;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::EntryError;
use crate::canonical::{parse_no_duplicates, to_canonical};
use crate::entry::PublicEntry;

/// The `type` member of an access-log leaf.
pub const ACCESS_EVENT_TYPE: &str = "access_event";

/// The leaf format version this code writes and reads.
pub const ACCESS_LEAF_VERSION: u64 = 1;

/// The largest access-event payload, in bytes (16 KiB).
pub const MAX_ACCESS_PAYLOAD: usize = 16 * 1024;

/// The salt's length, in bytes.
pub const SALT_LEN: usize = 32;

/// The domain tag hashed in front of every commitment (ends in its only zero byte).
pub const COMMITMENT_DOMAIN: &[u8] = b"doorman/access_event/commitment/v1\0";

/// The largest leaf accepted by [`AccessLeaf::parse`] (a canonical leaf is 89 bytes).
const MAX_LEAF_LEN: usize = 256;

/// Why an access-log leaf or opening is refused. The `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessLeafError {
    #[error("the payload is {0} bytes; access-event payloads are at most {MAX_ACCESS_PAYLOAD}")]
    PayloadTooLarge(usize),
    #[error("the salt is {0} bytes; it must be exactly {SALT_LEN}")]
    BadSalt(usize),
    #[error("the leaf is {0} bytes; an access-log leaf is at most {MAX_LEAF_LEN}")]
    LeafTooLarge(usize),
    #[error("the leaf is not JSON: {0}")]
    BadJson(String),
    #[error("the leaf is not a JSON object")]
    NotAnObject,
    #[error("the leaf's type is {0:?}, not \"access_event\"")]
    WrongType(String),
    #[error("access_event version {0} is not supported (this reader knows version 1)")]
    UnsupportedVersion(String),
    #[error("member {0:?} {1}")]
    BadMember(String, String),
    #[error("the leaf is valid but not in canonical form (sorted members, no whitespace)")]
    NotCanonical,
    #[error("the salt and payload do not open the leaf's commitment")]
    OpeningMismatch,
}

impl AccessLeafError {
    /// A stable code for programs (and the HTTP API).
    pub fn code(&self) -> &'static str {
        match self {
            AccessLeafError::PayloadTooLarge(_) => "payload_too_large",
            AccessLeafError::BadSalt(_) => "bad_salt",
            AccessLeafError::LeafTooLarge(_)
            | AccessLeafError::BadJson(_)
            | AccessLeafError::NotAnObject => "bad_leaf",
            AccessLeafError::WrongType(_) => "wrong_type",
            AccessLeafError::UnsupportedVersion(_) => "unsupported_version",
            AccessLeafError::BadMember(..) => "bad_member",
            AccessLeafError::NotCanonical => "not_canonical",
            AccessLeafError::OpeningMismatch => "opening_mismatch",
        }
    }
}

/// An event's salt: 32 bytes the caller draws from a cryptographically secure RNG, once per
/// event, never reused. Secret until redaction (with the payload, it opens the commitment);
/// `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt([u8; SALT_LEN]);

impl Salt {
    /// The salt of these bytes.
    pub fn from_bytes(bytes: [u8; SALT_LEN]) -> Salt {
        Salt(bytes)
    }

    /// From exactly [`SALT_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Salt, AccessLeafError> {
        let arr: [u8; SALT_LEN] = bytes
            .try_into()
            .map_err(|_| AccessLeafError::BadSalt(bytes.len()))?;
        Ok(Salt(arr))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8; SALT_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Salt(..)")
    }
}

/// The commitment to one access event: SHA-256 over the domain tag, salt, length and payload.
pub fn commitment(salt: &Salt, payload: &[u8]) -> Result<[u8; 32], AccessLeafError> {
    if payload.len() > MAX_ACCESS_PAYLOAD {
        return Err(AccessLeafError::PayloadTooLarge(payload.len()));
    }
    let len = u64::try_from(payload.len())
        .map_err(|_| AccessLeafError::PayloadTooLarge(payload.len()))?;
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update(salt.as_bytes());
    h.update(len.to_be_bytes());
    h.update(payload);
    Ok(h.finalize().into())
}

/// The leaf that commits to `payload` under `salt`: the canonical JSON bytes to log.
pub fn commit(salt: &Salt, payload: &[u8]) -> Result<Vec<u8>, AccessLeafError> {
    Ok(AccessLeaf {
        commitment: commitment(salt, payload)?,
    }
    .to_bytes())
}

/// Checks that `salt` and `payload` open the commitment of the logged `leaf`.
pub fn verify_opening(leaf: &[u8], salt: &Salt, payload: &[u8]) -> Result<(), AccessLeafError> {
    AccessLeaf::parse(leaf)?.verify_opening(salt, payload)
}

/// A parsed access-log leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccessLeaf {
    /// The commitment to the event's salt and payload.
    pub commitment: [u8; 32],
}

impl AccessLeaf {
    /// Parses a logged leaf: exactly the canonical bytes [`AccessLeaf::to_bytes`] writes, type
    /// `access_event`, version 1, a 32-byte commitment and no other member.
    pub fn parse(bytes: &[u8]) -> Result<AccessLeaf, AccessLeafError> {
        if bytes.len() > MAX_LEAF_LEN {
            return Err(AccessLeafError::LeafTooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| AccessLeafError::BadJson("not UTF-8".to_string()))?;
        let value =
            parse_no_duplicates(text).map_err(|e| AccessLeafError::BadJson(e.to_string()))?;
        let object = value.as_object().ok_or(AccessLeafError::NotAnObject)?;
        match object.get("type") {
            Some(Value::String(t)) if t == ACCESS_EVENT_TYPE => {}
            Some(Value::String(t)) => return Err(AccessLeafError::WrongType(t.clone())),
            Some(_) => return Err(bad("type", "is not a string")),
            None => return Err(bad("type", "is missing")),
        }
        match object.get("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(ACCESS_LEAF_VERSION) => {}
            Some(Value::Number(n)) => {
                return Err(AccessLeafError::UnsupportedVersion(n.to_string()));
            }
            Some(_) => return Err(bad("v", "is not a number")),
            None => return Err(bad("v", "is missing")),
        }
        if let Some(extra) = object
            .keys()
            .find(|k| !matches!(k.as_str(), "commitment" | "type" | "v"))
        {
            return Err(bad(extra, "is not a member of an access_event leaf"));
        }
        let text = match object.get("commitment") {
            Some(Value::String(c)) => c,
            Some(_) => return Err(bad("commitment", "is not a string")),
            None => return Err(bad("commitment", "is missing")),
        };
        let raw = STANDARD
            .decode(text)
            .map_err(|_| bad("commitment", "is not standard padded base64"))?;
        let commitment: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| bad("commitment", "is not 32 bytes"))?;
        let leaf = AccessLeaf { commitment };
        if leaf.to_bytes() != bytes {
            return Err(AccessLeafError::NotCanonical);
        }
        Ok(leaf)
    }

    /// The canonical bytes: `{"commitment":"<base64>","type":"access_event","v":1}`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut object = Map::new();
        object.insert(
            "commitment".to_string(),
            Value::String(STANDARD.encode(self.commitment)),
        );
        object.insert(
            "type".to_string(),
            Value::String(ACCESS_EVENT_TYPE.to_string()),
        );
        object.insert("v".to_string(), Value::from(ACCESS_LEAF_VERSION));
        to_canonical(&Value::Object(object)).into_bytes()
    }

    /// Checks that `salt` and `payload` open this leaf's commitment.
    pub fn verify_opening(&self, salt: &Salt, payload: &[u8]) -> Result<(), AccessLeafError> {
        // The commitment is not secret (it is in the leaf), so a plain comparison leaks nothing.
        if commitment(salt, payload)? == self.commitment {
            Ok(())
        } else {
            Err(AccessLeafError::OpeningMismatch)
        }
    }
}

fn bad(member: &str, why: &str) -> AccessLeafError {
    AccessLeafError::BadMember(member.to_string(), why.to_string())
}

/// The `access_log_anchored` public entry for an access log's checkpoint: `at` is `now` to
/// the second (rounded down), `root` the checkpoint's root hash. Validated like every public
/// entry (an origin of at most 256 bytes without spaces or `+`, a size of at least 1).
pub fn access_log_anchored_entry(
    now: SystemTime,
    property: &PropertyId,
    origin: &str,
    size: u64,
    root: &[u8; 32],
) -> Result<PublicEntry, EntryError> {
    let ts = jiff::Timestamp::try_from(now)
        .and_then(|t| jiff::Timestamp::from_second(t.as_second()))
        .map_err(|e| EntryError::BadMember("at".to_string(), e.to_string()))?;
    let entry = PublicEntry::AccessLogAnchored {
        at: ts.to_string(),
        property: property.to_string(),
        origin: origin.to_string(),
        size,
        root: STANDARD.encode(root),
    };
    entry.validate()?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leaf_is_canonical_json_with_the_commitment_only() {
        let leaf = commit(&Salt::from_bytes([7; 32]), b"door=street").unwrap();
        let text = String::from_utf8(leaf.clone()).unwrap();
        assert!(text.starts_with(r#"{"commitment":""#), "{text}");
        assert!(
            text.ends_with(r#"","type":"access_event","v":1}"#),
            "{text}"
        );
        assert_eq!(leaf.len(), 89);
        verify_opening(&leaf, &Salt::from_bytes([7; 32]), b"door=street").unwrap();
    }
}

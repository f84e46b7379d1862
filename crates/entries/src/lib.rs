//! Doorman's public log entries (issue 3, item 3): what the transparency log holds, as typed,
//! versioned, canonically encoded JSON. The format is documented for third parties in
//! `docs/log-format.md`; this crate is its reference implementation.
//!
//! - [`PublicEntry`]: the nine entry types, [`PublicEntry::parse`] (strict: exactly the
//!   canonical bytes) and [`PublicEntry::from_json`] (any JSON spelling, validated), and
//!   [`PublicEntry::to_bytes`] (the canonical bytes, see `canonical`).
//! - [`normalize_address`]: the address lookup key.
//! - [`check_tokens`]: a `consent_granted` or `carrier_authorized` entry's token verifies under
//!   the property key and says what the entry says.
//! - The private access logs' leaf format (`access.rs`): [`commit`], [`verify_opening`],
//!   [`AccessLeaf`], and [`access_log_anchored_entry`] for their anchors in the public log.
//! - [`Directory`]: what a reader learns reading the log in order (property → address and
//!   key) and what looks wrong.
//!
//! No personal data can be written: every member is an identifier, a key, a time, a code, a
//! token (which hold the same kinds of members) or the building's address.
//!
//! Pure: no I/O, no clock.

mod access;
mod address;
mod canonical;
mod directory;
mod entry;
mod verify;

pub mod fuzzing;

pub use access::{
    ACCESS_EVENT_TYPE, ACCESS_LEAF_VERSION, AccessLeaf, AccessLeafError, COMMITMENT_DOMAIN,
    MAX_ACCESS_PAYLOAD, SALT_LEN, Salt, access_log_anchored_entry, commit, commitment,
    verify_opening,
};
pub use address::{MAX_ADDRESS_LEN, normalize_address};
pub use canonical::{parse_no_duplicates, to_canonical};
pub use directory::{Directory, Observation, PropertyRecord};
/// The key type of `property_key`, `device_key` and `carrier_key` members (`ed25519/<hex>`).
pub use doorman_trust::PublicKey;
pub use entry::{Custody, EntryType, MAX_ENTRY_LEN, PublicEntry, VERSION};
pub use verify::{carrier_authorized_entry, check_tokens, consent_granted_entry};

/// Why bytes are not a valid public entry. The `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("the entry is {0} bytes; the limit is {MAX_ENTRY_LEN}")]
    TooLarge(usize),
    #[error("the entry is not UTF-8")]
    NotUtf8,
    #[error("the entry is not JSON: {0}")]
    BadJson(String),
    #[error("the entry is not a JSON object")]
    NotAnObject,
    #[error("the entry has no \"type\" member")]
    MissingType,
    #[error("unknown entry type {0:?} (written by a newer Doorman?)")]
    UnknownType(String),
    #[error("the {0} entry has no \"v\" (version) member")]
    MissingVersion(String),
    #[error("{kind} version {version} is not supported (this reader knows version {VERSION})")]
    UnsupportedVersion { kind: String, version: String },
    #[error("member {0:?} {1}")]
    BadMember(String, String),
    #[error("the address {0}")]
    BadAddress(String),
    #[error("the entry is valid but not in canonical form (sorted members, no whitespace)")]
    NotCanonical,
    #[error("the embedded token does not match: {0}")]
    TokenMismatch(String),
}

impl EntryError {
    /// A stable code for programs (and the HTTP API).
    pub fn code(&self) -> &'static str {
        match self {
            EntryError::TooLarge(_) => "entry_too_large",
            EntryError::NotUtf8 | EntryError::BadJson(_) | EntryError::NotAnObject => "bad_json",
            EntryError::MissingType | EntryError::UnknownType(_) => "unknown_type",
            EntryError::MissingVersion(_) | EntryError::UnsupportedVersion { .. } => {
                "unsupported_version"
            }
            EntryError::BadMember(..) => "bad_member",
            EntryError::BadAddress(_) => "bad_address",
            EntryError::NotCanonical => "not_canonical",
            EntryError::TokenMismatch(_) => "token_mismatch",
        }
    }
}

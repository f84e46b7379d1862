//! SHA-256 hashes: leaf hashes, node hashes, tree roots.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, snippet};

/// A SHA-256 hash of the log's Merkle tree: a leaf hash, an interior node or a root.
///
/// Always exactly 32 bytes. Parsers refuse every other length **before** any comparison: a
/// root or proof hash that is not 32 bytes cannot come from an RFC 6962 SHA-256 tree, so
/// Doorman treats it as malformed input, never as something to compare byte-for-byte. (One
/// upstream test vector, `consistency/additional/sizes-are-equal-one-and-proof-is-empty.json`,
/// holds 12-byte roots and expects success because Go's verifier returns early on equal sizes
/// and compares the roots as byte strings; Doorman refuses it.)
///
/// Displays as standard padded base64, the form checkpoints and proofs use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The length in bytes.
    pub const SIZE: usize = 32;

    /// From exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Hash, Error> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::HashLength(bytes.len()))?;
        Ok(Hash(arr))
    }

    /// From standard padded base64 of exactly 32 bytes (44 characters).
    pub fn from_base64(text: &str) -> Result<Hash, Error> {
        if text.len() > 64 {
            return Err(Error::Base64(snippet(text)));
        }
        let bytes = STANDARD
            .decode(text)
            .map_err(|e| Error::Base64(format!("{e} in {:?}", snippet(text))))?;
        Hash::from_slice(&bytes)
    }

    /// Standard padded base64.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn to_tlog(self) -> tlog_tiles::Hash {
        tlog_tiles::Hash(self.0)
    }

    pub(crate) fn from_tlog(h: tlog_tiles::Hash) -> Hash {
        Hash(h.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

//! The crate's one error type.

/// Why a log operation or a parser refused its input.
///
/// Messages quote at most a short prefix of the offending input and never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("hash must be 32 bytes (SHA-256); got {0} bytes")]
    HashLength(usize),
    #[error("not standard padded base64 (RFC 4648 section 4): {0}")]
    Base64(String),
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {0} is above the largest tree Doorman handles (2^48 entries)")]
    TreeTooLarge(u64),
    #[error("proof has {0} hashes; a proof in a tree of at most 2^64-1 entries has at most 64")]
    ProofTooLong(usize),
    #[error("inclusion proof does not verify: the leaf is not at that index under that root")]
    InvalidInclusionProof,
    #[error("consistency proof does not verify: the two trees are not one append-only log")]
    InvalidConsistencyProof,
    #[error("consistency from size {old} to smaller size {new}: a log never shrinks")]
    ShrinkingTree { old: u64, new: u64 },
    #[error(
        "consistency from the empty tree (size 0) proves nothing; start from a checkpoint of size at least 1"
    )]
    ConsistencyFromEmpty,
    #[error("hash store: {0}")]
    Store(String),
    #[error(
        "entry is {0} bytes; entries are at most 65,535 bytes (the tlog-tiles uint16 length prefix)"
    )]
    EntryTooLarge(usize),
    #[error("entry bundle: {0}")]
    BadEntryBundle(String),
    #[error("tile: {0}")]
    BadTile(String),
    #[error("tile path {path:?}: {why}")]
    BadTilePath { path: String, why: String },
    #[error("missing tile {0}")]
    MissingTile(String),
    #[error("checkpoint: {0}")]
    BadCheckpoint(String),
    #[error("checkpoint origin is {got:?}, expected {want:?}")]
    WrongOrigin { got: String, want: String },
    #[error(
        "verifier key: {0}; write it as <name>+<8 hex digits>+<base64 of 0x01 and 32 key bytes>"
    )]
    BadVerifierKey(String),
    #[error(
        "private key: {0}; write it as PRIVATE+KEY+<name>+<8 hex digits>+<base64 of 0x01 and 32 seed bytes>"
    )]
    BadPrivateKey(String),
    #[error("signed note: {0}")]
    BadNote(String),
    #[error("the signature by {name}+{id:08x} does not verify (strict Ed25519)")]
    BadSignature { name: String, id: u32 },
    #[error("the note carries no signature by {name}+{id:08x}")]
    NotSigned { name: String, id: u32 },
    #[error("tlog-proof: {0}")]
    BadProofBundle(String),
}

/// A short, printable prefix of untrusted text for error messages.
pub(crate) fn snippet(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s.chars().take(MAX).collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

//! The c2sp.org/tlog-proof@v1 text bundle: an offline-verifiable proof that an entry is in
//! the log.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! [extra <base64 of opaque extra data>]      optional, unauthenticated
//! index <decimal, no leading zeros>
//! <base64 proof hash>                        zero or more, leaf's sibling first
//! <blank line>
//! <the signed checkpoint note, verbatim>
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::checkpoint::Checkpoint;
use crate::error::{Error, snippet};
use crate::hash::Hash;
use crate::merkle::{MAX_PROOF_HASHES, leaf_hash, verify_inclusion};
use crate::note::NoteVerifier;

/// The first line of a proof bundle.
pub const PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// The largest proof bundle read: 64 KiB (a checkpoint with a hundred cosignatures is about
/// 10 KiB).
pub const MAX_PROOF_BUNDLE_SIZE: usize = 65_536;

/// A parsed tlog-proof bundle. Nothing in it is trusted until [`TlogProof::verify`] succeeds,
/// and the extra data never is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    extra: Option<Vec<u8>>,
    index: u64,
    proof: Vec<Hash>,
    checkpoint: Vec<u8>,
}

fn bad(why: impl Into<String>) -> Error {
    Error::BadProofBundle(why.into())
}

/// Splits off the next line (without its newline); `None` if there is no newline.
fn next_line(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = rest.iter().position(|&b| b == b'\n')?;
    let (line, after) = rest.split_at(at);
    Some((line, after.get(1..).unwrap_or_default()))
}

fn line_str(line: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(line).map_err(|_| bad("a header line is not UTF-8"))
}

impl TlogProof {
    /// A bundle for entry `index` with its inclusion proof and the signed checkpoint note the
    /// proof is for. `extra` must be non-empty if present.
    pub fn new(
        index: u64,
        proof: Vec<Hash>,
        checkpoint_note: Vec<u8>,
        extra: Option<Vec<u8>>,
    ) -> Result<TlogProof, Error> {
        if proof.len() > MAX_PROOF_HASHES {
            return Err(Error::ProofTooLong(proof.len()));
        }
        if extra.as_ref().is_some_and(Vec::is_empty) {
            return Err(bad("extra data, when present, must not be empty"));
        }
        if checkpoint_note.is_empty() {
            return Err(bad("the checkpoint is missing"));
        }
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint_note,
        })
    }

    /// Parses a bundle in exactly the form [`TlogProof::to_bytes`] writes.
    pub fn parse(bytes: &[u8]) -> Result<TlogProof, Error> {
        if bytes.len() > MAX_PROOF_BUNDLE_SIZE {
            return Err(bad(format!(
                "{} bytes; a proof bundle is at most {MAX_PROOF_BUNDLE_SIZE}",
                bytes.len()
            )));
        }
        let truncated = || bad("truncated: a header line does not end in a newline");
        let (header, mut rest) = next_line(bytes).ok_or_else(truncated)?;
        if header != PROOF_HEADER.as_bytes() {
            return Err(bad(format!("the first line must be {PROOF_HEADER}")));
        }
        let (mut line, after) = next_line(rest).ok_or_else(truncated)?;
        rest = after;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix(b"extra ") {
            let data = STANDARD
                .decode(b64)
                .map_err(|e| bad(format!("extra data is not standard padded base64 ({e})")))?;
            if data.is_empty() {
                return Err(bad(
                    "the extra line is empty; omit it when there is no extra data",
                ));
            }
            extra = Some(data);
            (line, rest) = next_line(rest).ok_or_else(truncated)?;
        }
        let index_text = line_str(line)?
            .strip_prefix("index ")
            .ok_or_else(|| bad("expected the line \"index <decimal>\""))?;
        let index = parse_index(index_text).ok_or_else(|| {
            bad(format!(
                "index {:?} is not a decimal 0 to 2^64-1 without sign or leading zeros",
                snippet(index_text)
            ))
        })?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = next_line(rest)
                .ok_or_else(|| bad("truncated: no blank line before the checkpoint"))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() >= MAX_PROOF_HASHES {
                return Err(Error::ProofTooLong(proof.len().saturating_add(1)));
            }
            let hash = Hash::from_base64(line_str(line)?)
                .map_err(|e| bad(format!("proof hash {}: {e}", proof.len())))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(bad("the checkpoint is missing"));
        }
        TlogProof::new(index, proof, rest.to_vec(), extra)
    }

    /// The bundle's text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str(&format!("extra {}\n", STANDARD.encode(extra)));
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            out.push_str(&format!("{hash}\n"));
        }
        out.push('\n');
        let mut out = out.into_bytes();
        out.extend_from_slice(&self.checkpoint);
        out
    }

    /// The entry's index in the log.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The inclusion proof hashes.
    pub fn proof(&self) -> &[Hash] {
        &self.proof
    }

    /// The signed checkpoint note, verbatim (not yet verified).
    pub fn checkpoint_note(&self) -> &[u8] {
        &self.checkpoint
    }

    /// The opaque extra data. Not authenticated: never trust it.
    pub fn extra(&self) -> Option<&[u8]> {
        self.extra.as_deref()
    }

    /// Verifies the bundle for the leaf hash `leaf`: the checkpoint is signed by `key` and has
    /// origin `origin`, and the proof puts `leaf` at the bundle's index under its root.
    /// Returns the verified checkpoint.
    pub fn verify(
        &self,
        leaf: &Hash,
        origin: &str,
        key: &NoteVerifier,
    ) -> Result<Checkpoint, Error> {
        let cp = Checkpoint::open(&self.checkpoint, origin, key)?;
        verify_inclusion(self.index, cp.size(), leaf, &self.proof, cp.root())?;
        Ok(cp)
    }

    /// [`TlogProof::verify`] for the entry's bytes.
    pub fn verify_entry(
        &self,
        entry: &[u8],
        origin: &str,
        key: &NoteVerifier,
    ) -> Result<Checkpoint, Error> {
        self.verify(&leaf_hash(entry), origin, key)
    }
}

fn parse_index(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

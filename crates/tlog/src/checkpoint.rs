//! C2SP tlog-checkpoint: the log's signed tree head.
//!
//! ```text
//! example.com/log/testdata                         origin
//! 15                                               tree size, decimal, no leading zeros
//! rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=     root hash, standard padded base64
//! [extension lines]                                optional, non-empty
//! ```
//!
//! Each line ends in a newline. The checkpoint is the text of a signed note
//! ([`Checkpoint::sign`], [`Checkpoint::open`]).

use crate::error::{Error, snippet};
use crate::hash::Hash;
use crate::note::{NoteSigner, NoteVerifier, open_note, sign_note};

/// A checkpoint: origin, tree size, root hash, extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn check_line(what: &str, line: &str) -> Result<(), Error> {
    if line.is_empty() {
        return Err(Error::BadCheckpoint(format!("the {what} line is empty")));
    }
    if line.chars().any(char::is_control) {
        return Err(Error::BadCheckpoint(format!(
            "the {what} line {:?} holds a control character",
            snippet(line)
        )));
    }
    Ok(())
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Checkpoint, Error> {
        Checkpoint::with_extensions(origin, size, root, Vec::new())
    }

    /// A checkpoint with extension lines (each non-empty, no control characters).
    pub fn with_extensions(
        origin: &str,
        size: u64,
        root: Hash,
        extensions: Vec<String>,
    ) -> Result<Checkpoint, Error> {
        check_line("origin", origin)?;
        for line in &extensions {
            check_line("extension", line)?;
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }

    /// Parses checkpoint text (a note's text, without signatures).
    pub fn parse(text: &[u8]) -> Result<Checkpoint, Error> {
        let cp = tlog_tiles::Checkpoint::from_bytes(text).map_err(|_| {
            Error::BadCheckpoint(
                "expected UTF-8 lines \"<origin>\", \"<decimal size>\", \"<base64 root hash>\", \
                 then optional non-empty extension lines, each ending in a newline"
                    .to_string(),
            )
        })?;
        let extensions = cp
            .extension()
            .split_terminator('\n')
            .map(str::to_string)
            .collect();
        Checkpoint::with_extensions(
            cp.origin(),
            cp.size(),
            Hash::from_tlog(*cp.hash()),
            extensions,
        )
    }

    /// The checkpoint text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{}\n{}\n{}\n", self.origin, self.size, self.root);
        for line in &self.extensions {
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// The origin line: the log's identity.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The checkpoint as a signed note, signed by each signer in order.
    pub fn sign(&self, signers: &[&NoteSigner]) -> Result<Vec<u8>, Error> {
        sign_note(self.to_text().as_bytes(), signers)
    }

    /// Opens a signed checkpoint: it must carry a valid signature by `key` (signatures by
    /// other keys are ignored) and its origin must be `origin`.
    pub fn open(note: &[u8], origin: &str, key: &NoteVerifier) -> Result<Checkpoint, Error> {
        let text = open_note(note, key)?;
        let cp = Checkpoint::parse(&text)?;
        if cp.origin != origin {
            return Err(Error::WrongOrigin {
                got: snippet(&cp.origin),
                want: snippet(origin),
            });
        }
        Ok(cp)
    }
}

//! C2SP signed-note keys and notes, Ed25519 only, under Doorman's strict rule.
//!
//! A verifier key string is `<name>+<key id>+<key>`: the key name (non-empty, no spaces, no
//! `+`), the key id as 8 lower-case hex digits, and standard padded base64 of the algorithm byte
//! 0x01 (Ed25519) followed by the 32-byte public key. The key id is the first four bytes of
//! SHA-256(name || 0x0A || 0x01 || key), big-endian. Standard base64 can itself contain `+`, so
//! the string is split only at its first two `+` from the left.
//!
//! A private key string (a Go `sumdb/note` convention, not part of the C2SP spec) is
//! `PRIVATE+KEY+<name>+<key id>+<base64 of 0x01 and the 32-byte seed>`.
//!
//! **Strict verification**: [`NoteVerifier`] checks signatures with ed25519-dalek's
//! `verify_strict` and refuses weak (small-order) public keys, like every Ed25519 check in
//! Doorman (see `doorman_trust::keys`). `signed_note::StandardVerifier`, which uses the lenient
//! `verify`, is not used.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, NoteError, VerifierList};
use zeroize::Zeroizing;

use crate::error::{Error, snippet};

/// Signature algorithm byte of Ed25519 in signed-note keys.
const ALG_ED25519: u8 = 0x01;

/// Longest key string we read; real ones are a name plus 54 characters.
const MAX_KEY_STRING: usize = 1024;

/// signed-note's key name rule (non-empty, no Unicode spaces, no `+`), plus no control
/// characters, which a note's signature line could not carry anyway.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// Splits `<name>+<key id>+<base64 of 0x01 and 32 bytes>` (the shape of signed-note verifier
/// keys and, after `PRIVATE+KEY+`, of private keys): checks the name, the id's form, the base64
/// and the Ed25519 algorithm byte, and returns the name, the id and the decoded key (algorithm
/// byte first). Splits on the first two `+` only: standard base64 may contain `+`.
/// `shape` is the message for a string without three parts (`{:?}` is the input).
fn split_key_string<'a>(
    text: &'a str,
    shape: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<(&'a str, u32, Zeroizing<Vec<u8>>), Error> {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad(shape.replace("{:?}", &format!("{:?}", snippet(text)))));
    };
    if !valid_name(name) {
        return Err(bad(format!(
            "name {:?} must be non-empty, without spaces, '+' or control characters",
            snippet(name)
        )));
    }
    let id = parse_key_id(id).ok_or_else(|| {
        bad(format!(
            "key id {:?} is not 8 lower-case hex digits",
            snippet(id)
        ))
    })?;
    let key = Zeroizing::new(
        STANDARD
            .decode(key64)
            .map_err(|e| bad(format!("the key is not standard padded base64 ({e})")))?,
    );
    match key.first() {
        None => return Err(bad("the key is empty".to_string())),
        Some(&alg) if alg != ALG_ED25519 => {
            return Err(bad(format!(
                "algorithm byte 0x{alg:02x} is not Ed25519 (0x01), the only one supported"
            )));
        }
        Some(_) => {}
    }
    Ok((name, id, key))
}

/// The key id of 8 lower-case hex digits.
fn parse_key_id(id: &str) -> Option<u32> {
    if id.len() != 8
        || !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    u32::from_str_radix(id, 16).ok()
}

fn encoded_public(key: &VerifyingKey) -> [u8; 33] {
    let mut out = [0u8; 33];
    let (alg, rest) = out.split_at_mut(1);
    alg.copy_from_slice(&[ALG_ED25519]);
    rest.copy_from_slice(key.as_bytes());
    out
}

/// A signed-note verifier for one Ed25519 key (strict verification; see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// The verifier for `name` and a raw 32-byte Ed25519 public key.
    pub fn new(name: &str, public_key: &[u8; 32]) -> Result<NoteVerifier, Error> {
        if !valid_name(name) {
            return Err(Error::BadVerifierKey(
                "the name must be non-empty, without spaces, '+' or control characters".to_string(),
            ));
        }
        let key = VerifyingKey::from_bytes(public_key).map_err(|_| {
            Error::BadVerifierKey("the key is not an Ed25519 curve point".to_string())
        })?;
        if key.is_weak() {
            return Err(Error::BadVerifierKey(
                "the key is a weak (small-order) Ed25519 point".to_string(),
            ));
        }
        let id = signed_note::key_id(name, &encoded_public(&key));
        Ok(NoteVerifier {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parses a verifier key string `<name>+<key id>+<base64>`.
    pub fn parse(text: &str) -> Result<NoteVerifier, Error> {
        let bad = |why: String| Error::BadVerifierKey(why);
        if text.len() > MAX_KEY_STRING {
            return Err(bad(format!("longer than {MAX_KEY_STRING} bytes")));
        }
        let (name, id, key) = split_key_string(
            text,
            "{:?} does not have three parts separated by '+'",
            &bad,
        )?;
        let Some((_, raw)) = key.split_first() else {
            return Err(bad("the key is empty".to_string()));
        };
        let raw: &[u8; 32] = raw.try_into().map_err(|_| {
            bad(format!(
                "an Ed25519 key is 0x01 and 32 bytes; got {} bytes",
                key.len()
            ))
        })?;
        let want = signed_note::key_id(name, &key);
        if id != want {
            return Err(bad(format!(
                "key id {id:08x} does not match the name and key (they give {want:08x})"
            )));
        }
        NoteVerifier::new(name, raw)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl signed_note::Verifier for NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = Signature::from_slice(sig) else {
            return false;
        };
        self.key.verify_strict(msg, &sig).is_ok()
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            STANDARD.encode(encoded_public(&self.key))
        )
    }
}

impl fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifier({self})")
    }
}

impl FromStr for NoteVerifier {
    type Err = Error;
    fn from_str(s: &str) -> Result<NoteVerifier, Error> {
        NoteVerifier::parse(s)
    }
}

/// A signed-note signer: an Ed25519 private key and its name. Debug output shows the name and
/// key id only.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// The signer for `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<NoteSigner, Error> {
        if !valid_name(name) {
            return Err(Error::BadPrivateKey(
                "the name must be non-empty, without spaces, '+' or control characters".to_string(),
            ));
        }
        let key = SigningKey::from_bytes(seed);
        let id = signed_note::key_id(name, &encoded_public(&key.verifying_key()));
        Ok(NoteSigner {
            name: name.to_string(),
            id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<key id>+<base64 of 0x01 and the seed>`.
    pub fn parse(text: &str) -> Result<NoteSigner, Error> {
        let bad = |why: String| Error::BadPrivateKey(why);
        if text.len() > MAX_KEY_STRING {
            return Err(bad(format!("longer than {MAX_KEY_STRING} bytes")));
        }
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or_else(|| bad("does not start with PRIVATE+KEY+".to_string()))?;
        let (name, id, key) = split_key_string(
            rest,
            "does not have a name, a key id and a key separated by '+'",
            &bad,
        )?;
        let Some((_, seed)) = key.split_first() else {
            return Err(bad("the key is empty".to_string()));
        };
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().map_err(|_| {
            bad(format!(
                "an Ed25519 private key is 0x01 and a 32-byte seed; got {} bytes",
                key.len()
            ))
        })?);
        let signer = NoteSigner::from_seed(name, &seed)?;
        if signer.id != id {
            return Err(bad(format!(
                "key id {id:08x} does not match the name and the key's public half (they give {:08x})",
                signer.id
            )));
        }
        Ok(signer)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The private key string `PRIVATE+KEY+<name>+<key id>+<base64>`. Secret.
    pub fn private_key_string(&self) -> Zeroizing<String> {
        let mut raw = Zeroizing::new([0u8; 33]);
        let (alg, seed) = raw.split_at_mut(1);
        alg.copy_from_slice(&[ALG_ED25519]);
        seed.copy_from_slice(self.key.as_bytes());
        let b64 = Zeroizing::new(STANDARD.encode(raw.as_slice()));
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.id,
            b64.as_str()
        ))
    }
}

impl signed_note::Signer for NoteSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSigner({}+{:08x})", self.name, self.id)
    }
}

impl FromStr for NoteSigner {
    type Err = Error;
    fn from_str(s: &str) -> Result<NoteSigner, Error> {
        NoteSigner::parse(s)
    }
}

/// Signs `text` (UTF-8, ending in a newline, no control characters but newlines) with each
/// signer, in order, and returns the signed note.
pub fn sign_note(text: &[u8], signers: &[&NoteSigner]) -> Result<Vec<u8>, Error> {
    if signers.is_empty() {
        return Err(Error::BadNote(
            "a note needs at least one signer".to_string(),
        ));
    }
    let mut note = Note::new(text, &[]).map_err(|_| {
        Error::BadNote(
            "the text must be UTF-8, end in a newline and hold no control characters but newlines"
                .to_string(),
        )
    })?;
    let signers: Vec<&dyn signed_note::Signer> = signers
        .iter()
        .map(|s| *s as &dyn signed_note::Signer)
        .collect();
    note.add_sigs(&signers).map_err(note_error)?;
    Ok(note.to_bytes())
}

/// Opens a signed note: checks that it carries a valid signature by `key` and returns its text.
///
/// Signatures by other keys (witness cosignatures, other logs) are ignored. A signature that
/// claims `key`'s name and id but does not verify is an error, not ignored.
pub fn open_note(note: &[u8], key: &NoteVerifier) -> Result<Vec<u8>, Error> {
    let note = Note::from_bytes(note).map_err(note_error)?;
    let known = VerifierList::new(vec![Box::new(key.clone())]);
    match note.verify(&known) {
        Ok(_) => Ok(note.text().to_vec()),
        Err(NoteError::UnverifiedNote) => Err(Error::NotSigned {
            name: key.name.clone(),
            id: key.id,
        }),
        Err(e) => Err(note_error(e)),
    }
}

fn note_error(e: NoteError) -> Error {
    match e {
        NoteError::MalformedNote => Error::BadNote(
            "malformed: expected UTF-8 text ending in a newline, a blank line, then lines \
             \"— <name> <base64 of key id and signature>\" (at most 100), no control characters \
             but newlines, at most 1,000,000 bytes"
                .to_string(),
        ),
        NoteError::InvalidSignature { name, id } => Error::BadSignature { name, id },
        other => Error::BadNote(other.to_string()),
    }
}

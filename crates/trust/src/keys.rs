//! Ed25519 keys and the one verification rule.
//!
//! **Rule: strict verification everywhere** (`ed25519_dalek::VerifyingKey::verify_strict`).
//! It rejects non-canonical encodings of `S` and `R` and small-order public keys and `R`
//! points, so a signature has one valid encoding and every Doorman part (device, server,
//! monitor, a third-party verifier using biscuit-auth, which also calls `verify_strict`) agrees
//! on which signatures are valid. Lenient (cofactored or batch) rules accept some signatures
//! strict verifiers refuse; a door must never open on a signature another verifier would call
//! invalid. See docs/trust.md for the Wycheproof results under this rule.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// Public-key text prefix, as Biscuit prints Ed25519 keys.
pub const PUBLIC_PREFIX: &str = "ed25519/";

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "public key {0:?} does not start with \"ed25519/\"; write it as ed25519/<64 hex digits>"
    )]
    MissingPrefix(String),
    #[error("public key must be 64 hex digits after \"ed25519/\" (32 bytes); got {0}")]
    BadHex(String),
    #[error("not a valid Ed25519 public key (not a point on the curve, or a weak key)")]
    InvalidPoint,
    #[error(
        "private key file is not a PKCS#8 Ed25519 PEM key (\"-----BEGIN PRIVATE KEY-----\"): {0}"
    )]
    BadPrivateKey(String),
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify under the strict Ed25519 rule")]
pub struct BadSignature;

/// An Ed25519 public key, written `ed25519/<hex>`.
///
/// It keeps the decompressed point in two forms: ed25519-dalek's, to verify signatures, and
/// biscuit-auth's, to verify tokens. Decompressing a point costs about as much as a quarter of
/// a signature verification, and the door decision's budget is counted in verifications, so a
/// key pinned once (the property key) or taken from a parsed token (the carrier key) is never
/// decompressed again.
#[derive(Clone, Copy)]
pub struct PublicKey {
    vk: VerifyingKey,
    biscuit: Option<biscuit_auth::PublicKey>,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.vk == other.vk
    }
}

impl Eq for PublicKey {}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.vk.as_bytes().hash(state);
    }
}

impl PublicKey {
    /// From the 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let mut key = PublicKey::verifying_only(bytes)?;
        key.biscuit = biscuit_auth::PublicKey::from_bytes(
            key.vk.as_bytes(),
            biscuit_auth::Algorithm::Ed25519,
        )
        .ok();
        Ok(key)
    }

    /// From the 32 raw bytes, for a key that only ever verifies plain signatures (the
    /// driver's): skips the Biscuit form.
    pub(crate) fn verifying_only(bytes: &[u8]) -> Result<PublicKey, KeyError> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::BadHex(format!("{} bytes", bytes.len())))?;
        let vk = VerifyingKey::from_bytes(&arr).map_err(|_| KeyError::InvalidPoint)?;
        // A small-order key would let anyone forge "valid" signatures under lenient rules;
        // strict verification refuses them anyway, but refusing the key up front gives a
        // clearer error.
        if vk.is_weak() {
            return Err(KeyError::InvalidPoint);
        }
        Ok(PublicKey { vk, biscuit: None })
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.vk.to_bytes()
    }

    /// Lower-case hex of the raw bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.vk.as_bytes())
    }

    /// Verifies `sig` over `msg` with the strict rule (see the module docs).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        let sig = Signature::from_slice(sig).map_err(|_| BadSignature)?;
        self.vk.verify_strict(msg, &sig).map_err(|_| BadSignature)
    }

    /// The Biscuit form of this key.
    pub fn to_biscuit(&self) -> biscuit_auth::PublicKey {
        if let Some(k) = self.biscuit {
            return k;
        }
        // Infallible in practice: 32 bytes of a valid point (they came from a VerifyingKey).
        match biscuit_auth::PublicKey::from_bytes(
            self.vk.as_bytes(),
            biscuit_auth::Algorithm::Ed25519,
        ) {
            Ok(k) => k,
            Err(_) => unreachable_key(),
        }
    }

    /// From a Biscuit key, refusing other algorithms.
    pub fn from_biscuit(key: &biscuit_auth::PublicKey) -> Result<PublicKey, KeyError> {
        if key.algorithm() != biscuit_auth::format::schema::public_key::Algorithm::Ed25519 {
            return Err(KeyError::MissingPrefix(key.to_string()));
        }
        let mut ours = PublicKey::verifying_only(&key.to_bytes())?;
        ours.biscuit = Some(*key);
        Ok(ours)
    }

    /// The Biscuit `root_key_id` Doorman stamps on tokens signed by this key: the first four
    /// bytes of SHA-256("doorman root key id v1" || key). It lets a device tell "signed by
    /// another property's key" (`wrong_root`) from "tampered" (`bad_signature`); it is a hint,
    /// never trusted for anything else.
    pub fn root_key_id(&self) -> u32 {
        let mut h = Sha256::new();
        h.update(b"doorman root key id v1");
        h.update(self.vk.as_bytes());
        let d = h.finalize();
        let mut first = [0u8; 4];
        first.copy_from_slice(d.get(..4).unwrap_or(&[0; 4]));
        u32::from_be_bytes(first)
    }
}

// A VerifyingKey always converts; this only exists to keep the conversion total without a
// panic path in library code.
#[cold]
fn unreachable_key() -> biscuit_auth::PublicKey {
    biscuit_auth::KeyPair::new().public()
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<PublicKey, KeyError> {
        let s = s.trim();
        let hex_part = s
            .strip_prefix(PUBLIC_PREFIX)
            .ok_or_else(|| KeyError::MissingPrefix(s.chars().take(80).collect()))?;
        if hex_part.len() != 64 {
            return Err(KeyError::BadHex(format!("{} characters", hex_part.len())));
        }
        let bytes = hex::decode(hex_part).map_err(|e| KeyError::BadHex(e.to_string()))?;
        PublicKey::from_bytes(&bytes)
    }
}

impl PublicKey {
    fn from_signing(key: &SigningKey) -> PublicKey {
        let vk = key.verifying_key();
        PublicKey {
            vk,
            biscuit: biscuit_auth::PublicKey::from_bytes(
                vk.as_bytes(),
                biscuit_auth::Algorithm::Ed25519,
            )
            .ok(),
        }
    }
}

/// An Ed25519 private key. Its bytes are wiped on drop and never printed.
#[derive(Clone)]
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// A fresh key from a cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> SecretKey {
        SecretKey(SigningKey::generate(rng))
    }

    /// From a 32-byte seed (tests and fuzzing use fixed seeds).
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey::from_signing(&self.0)
    }

    /// The 32-byte seed (to seal a custodial key; wiped when dropped).
    pub fn to_seed(&self) -> zeroize::Zeroizing<[u8; 32]> {
        zeroize::Zeroizing::new(self.0.to_bytes())
    }

    /// Signs `msg` (Ed25519, deterministic).
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    /// PKCS#8 PEM, the format `openssl pkey` reads.
    pub fn to_pem(&self) -> Result<zeroize::Zeroizing<String>, KeyError> {
        self.0
            .to_pkcs8_pem(Default::default())
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))
    }

    /// From PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<SecretKey, KeyError> {
        SigningKey::from_pkcs8_pem(pem.trim())
            .map(SecretKey)
            .map_err(|e| KeyError::BadPrivateKey(e.to_string()))
    }

    /// The Biscuit key pair for signing tokens.
    pub(crate) fn to_biscuit(&self) -> Result<biscuit_auth::KeyPair, KeyError> {
        let private = biscuit_auth::PrivateKey::from_bytes(
            self.0.as_bytes(),
            biscuit_auth::Algorithm::Ed25519,
        )
        .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        Ok(biscuit_auth::KeyPair::from(&private))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(public: {})", self.public())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_key_text_round_trips() {
        let k = SecretKey::from_seed(&[7; 32]).public();
        let text = k.to_string();
        assert!(text.starts_with("ed25519/"));
        assert_eq!(text.parse::<PublicKey>().unwrap(), k);
        assert_eq!(k.to_biscuit().to_string(), text);
        assert_eq!(PublicKey::from_biscuit(&k.to_biscuit()).unwrap(), k);
    }

    #[test]
    fn bad_public_keys_say_why() {
        assert!(matches!(
            "abc".parse::<PublicKey>(),
            Err(KeyError::MissingPrefix(_))
        ));
        assert!(matches!(
            "ed25519/abc".parse::<PublicKey>(),
            Err(KeyError::BadHex(_))
        ));
        assert!(matches!(
            format!("ed25519/{}", "zz".repeat(32)).parse::<PublicKey>(),
            Err(KeyError::BadHex(_))
        ));
        // The identity point is a small-order (weak) key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            format!("ed25519/{}", hex::encode(identity)).parse::<PublicKey>(),
            Err(KeyError::InvalidPoint)
        );
    }

    #[test]
    fn pem_round_trips_and_sign_verify() {
        let k = SecretKey::from_seed(&[9; 32]);
        let pem = k.to_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SecretKey::from_pem(&pem).unwrap();
        assert_eq!(back.public(), k.public());
        let sig = back.sign(b"hello");
        assert!(k.public().verify(b"hello", &sig).is_ok());
        assert!(k.public().verify(b"hellp", &sig).is_err());
        assert!(k.public().verify(b"hello", &sig[..63]).is_err());
        assert!(SecretKey::from_pem("nope").is_err());
        assert!(!format!("{k:?}").contains(&hex::encode([9u8; 32])));
    }
}

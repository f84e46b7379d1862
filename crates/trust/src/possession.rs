//! Proof of possession: the driver signs a fresh device challenge with the key the pass names.
//!
//! Protocol (documented in docs/trust.md):
//!
//! 1. The device makes a [`Challenge`]: 32 random bytes, the instant it was issued, and its
//!    own identity (property, door, device key).
//! 2. The driver's handset signs [`Challenge::message`]: a domain-separated encoding of the
//!    whole challenge, the pass id (revocation id of the carrier block) and the handset's clock.
//! 3. The device accepts only a signature over *its current* challenge (the nonce), within
//!    the challenge's lifetime, by the driver key the pass names.
//!
//! So a signature can't be replayed later (fresh nonce, short lifetime), at another door or
//! device (both are in the message), or with another pass (the pass id is in the message).

use doorman_core::{DoorId, PropertyId};
use jiff::Timestamp;

use crate::keys::{PublicKey, SecretKey};
use crate::pass::pass_id_unverified;
use crate::token::TokenError;

const DOMAIN: &[u8] = b"doorman proof-of-possession v1\0";

/// A device's challenge to a presenter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Fresh random bytes from the device.
    pub nonce: [u8; 32],
    /// When the device issued it.
    pub issued_at: Timestamp,
    pub property: PropertyId,
    pub door: DoorId,
    pub device_key: PublicKey,
}

/// The driver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PossessionProof {
    /// The handset's clock when it signed.
    pub presented_at: Timestamp,
    /// Ed25519 signature over [`Challenge::message`].
    pub signature: [u8; 64],
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    // Length-prefixed, so no two field lists encode the same. Fields are at most a few
    // hundred bytes; the cast saturates rather than wraps for safety.
    let len = u16::try_from(field.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

impl Challenge {
    /// The exact bytes the driver signs.
    pub fn message(&self, pass_id: &[u8], presented_at: Timestamp) -> Vec<u8> {
        let mut m = Vec::with_capacity(256);
        m.extend_from_slice(DOMAIN);
        put(&mut m, self.property.as_str().as_bytes());
        put(&mut m, self.door.as_str().as_bytes());
        put(&mut m, &self.device_key.to_bytes());
        put(&mut m, &self.nonce);
        put(&mut m, &self.issued_at.as_second().to_be_bytes());
        put(&mut m, pass_id);
        put(&mut m, &presented_at.as_second().to_be_bytes());
        m
    }

    /// The handset's side: sign this challenge for a pass (token bytes) with the driver key.
    pub fn prove(
        &self,
        driver: &SecretKey,
        pass: &[u8],
        presented_at: Timestamp,
    ) -> Result<PossessionProof, TokenError> {
        let pass_id = pass_id_unverified(pass)?;
        Ok(PossessionProof {
            presented_at,
            signature: driver.sign(&self.message(&pass_id, presented_at)),
        })
    }
}

//! Installation consent: the property owner's signed "this device may serve this door".
//!
//! Authority block (signed by the property key; no other block is accepted):
//!
//! ```text
//! consent("P", "D", hex:<device public key>, "I", <not_before date>, <not_after date>);
//! check if time($t), $t >= <not_before>, $t < <not_after>;
//! ```

use std::collections::HashMap;
use std::time::SystemTime;

use biscuit_auth::builder::{Term, fact};
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::{AuthorizerBuilder, Biscuit};
use doorman_core::{DoorId, InstallerId, PropertyId};
use jiff::Timestamp;
use rand::{CryptoRng, RngCore};

use crate::keys::{PublicKey, SecretKey};
use crate::token::{self, TokenError, check_window, date, query_one, rule};

/// What a consent says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentSpec {
    pub property: PropertyId,
    pub door: DoorId,
    /// The device's own key, as it printed at first start.
    pub device: PublicKey,
    pub installer: InstallerId,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// Why a consent can't serve this device now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the consent names device {named}, not this device ({this})")]
    WrongDevice { named: String, this: String },
    #[error("the consent is for door {named:?}, not {this:?}")]
    WrongDoor { named: String, this: String },
    #[error("the consent is for property {named:?}, not {this:?}")]
    WrongProperty { named: String, this: String },
    #[error("the consent is valid from {0}")]
    NotYetValid(Timestamp),
    #[error("the consent expired at {0}")]
    Expired(Timestamp),
    #[error("the consent was revoked")]
    Revoked,
}

/// Signs a consent with the property key. Returns the token bytes. `rng` draws the token's
/// next-block key (the only randomness in a token).
pub fn sign_consent<R: RngCore + CryptoRng>(
    property_key: &SecretKey,
    spec: &ConsentSpec,
    rng: &mut R,
) -> Result<Vec<u8>, TokenError> {
    check_window(spec.not_before, spec.not_after)?;
    let mut params = HashMap::new();
    params.insert("nb".to_owned(), date(spec.not_before));
    params.insert("na".to_owned(), date(spec.not_after));
    let builder = Biscuit::builder()
        .fact(fact(
            "consent",
            &[
                Term::Str(spec.property.to_string()),
                Term::Str(spec.door.to_string()),
                Term::Bytes(spec.device.to_bytes().to_vec()),
                Term::Str(spec.installer.to_string()),
                date(spec.not_before),
                date(spec.not_after),
            ],
        ))
        .and_then(|b| {
            b.code_with_params(
                "check if time($t), $t >= {nb}, $t < {na};",
                params,
                HashMap::new(),
            )
        })
        .map_err(TokenError::build)?
        .root_key_id(property_key.public().root_key_id());
    let keypair = property_key.to_biscuit().map_err(TokenError::build)?;
    builder
        .build_with_rng(&keypair, SymbolTable::default(), rng)
        .and_then(|t| t.to_vec())
        .map_err(TokenError::build)
}

/// A consent whose signature verified under a property key. Only [`read_consent`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedConsent {
    spec: ConsentSpec,
    property_key: PublicKey,
    revocation_id: Vec<u8>,
}

impl VerifiedConsent {
    /// What the consent says.
    pub fn spec(&self) -> &ConsentSpec {
        &self.spec
    }

    /// The property key it verified under.
    pub fn property_key(&self) -> &PublicKey {
        &self.property_key
    }

    /// Its revocation id (revoking it switches the device off).
    pub fn revocation_id(&self) -> &[u8] {
        &self.revocation_id
    }

    /// Whether it lets `device` serve `door` of `property` at `now`, not counting revocation.
    pub fn check_for(
        &self,
        property: &PropertyId,
        door: &DoorId,
        device: &PublicKey,
        now: Timestamp,
    ) -> Result<(), ConsentError> {
        if &self.spec.device != device {
            return Err(ConsentError::WrongDevice {
                named: self.spec.device.to_string(),
                this: device.to_string(),
            });
        }
        if &self.spec.property != property {
            return Err(ConsentError::WrongProperty {
                named: self.spec.property.to_string(),
                this: property.to_string(),
            });
        }
        if &self.spec.door != door {
            return Err(ConsentError::WrongDoor {
                named: self.spec.door.to_string(),
                this: door.to_string(),
            });
        }
        if now < self.spec.not_before {
            return Err(ConsentError::NotYetValid(self.spec.not_before));
        }
        if now >= self.spec.not_after {
            return Err(ConsentError::Expired(self.spec.not_after));
        }
        Ok(())
    }
}

/// Verifies a consent's signature under the property key and reads it. Says nothing yet about
/// which device, door or time it serves: see [`VerifiedConsent::check_for`].
pub fn read_consent(bytes: &[u8], property_key: &PublicKey) -> Result<VerifiedConsent, TokenError> {
    let biscuit = token::parse(bytes, property_key)?;
    if biscuit.block_count() != 1 {
        return Err(TokenError::WrongKind {
            expected: "consent",
            detail: format!(
                "a consent has exactly one block, this token has {}",
                biscuit.block_count()
            ),
        });
    }
    let mut a = AuthorizerBuilder::new()
        .set_limits(token::run_limits())
        .build(&biscuit)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    let bad = |what: &str, e: &dyn std::fmt::Display| TokenError::WrongKind {
        expected: "consent",
        detail: format!("bad {what}: {e}"),
    };
    type Row = (String, String, Vec<u8>, String, SystemTime, SystemTime);
    let (property, door, device, installer, nb, na): Row = query_one(
        &mut a,
        rule!("data($p, $d, $k, $i, $b, $a) <- consent($p, $d, $k, $i, $b, $a)"),
        "consent",
        "consent",
    )?;
    let spec = ConsentSpec {
        property: PropertyId::new(property).map_err(|e| bad("property", &e))?,
        door: DoorId::new(door).map_err(|e| bad("door", &e))?,
        device: PublicKey::from_bytes(&device).map_err(|e| bad("device key", &e))?,
        installer: InstallerId::new(installer).map_err(|e| bad("installer", &e))?,
        not_before: token::from_system_time(nb)?,
        not_after: token::from_system_time(na)?,
    };
    let revocation_id = biscuit
        .revocation_identifiers()
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(VerifiedConsent {
        spec,
        property_key: *property_key,
        revocation_id,
    })
}

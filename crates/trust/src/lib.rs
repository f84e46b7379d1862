//! Doorman's trust core.
//!
//! The property's Ed25519 key is the root of trust. It signs installation **consents**
//! (this device may serve this door) and carrier **authorizations** (this carrier may deliver
//! to these doors on this schedule); a carrier adds a third-party block with its own key to
//! an authorization to make a **pass** for one delivery, one door, one driver and a short
//! window. A door device decides with [`door::decide`] from these signed tokens alone.
//!
//! Pure: no I/O, no clock, no global randomness (key generation takes an RNG). Token formats
//! are documented in docs/trust.md and in each module.

pub mod authorization;
pub mod consent;
pub mod custody;
pub mod door;
pub mod fixture;
pub mod fuzzing;
pub mod inspect;
pub mod keys;
pub mod pass;
pub mod possession;
pub mod state;
pub mod token;

pub use authorization::{
    AuthorizationSpec, VerifiedAuthorization, read_authorization, sign_authorization,
};
pub use consent::{ConsentError, ConsentSpec, VerifiedConsent, read_consent, sign_consent};
pub use custody::{KEK_LEN, Kek, SealError};
pub use door::{
    Decision, Denial, DoorDevice, DoorPolicy, DoorState, Entry, Presentation, Revocations, decide,
};
pub use keys::{BadSignature, KeyError, PublicKey, SecretKey};
pub use pass::{AuthorizationCache, PassSpec, VerifiedPass, mint_pass, verify_pass};
pub use possession::{Challenge, PossessionProof};
pub use state::{DeviceConfig, RevocationList, ServiceState, StateError};
pub use token::TokenError;

//! The activation bundle and its verification.
//!
//! # Why a device needs the log
//!
//! A consent signed by the property key is not enough: the key could have been registered by
//! someone who does not own the building. A device activates only if it can prove, with the
//! log key it was provisioned with, that
//!
//! 1. the property's key was registered in the public log (`property_registered`, after the
//!    operator checked the claimant's evidence), and
//! 2. its own consent is in the public log (`consent_granted`), after that registration,
//!    naming this device's key,
//!
//! so every building can find every device that can open its doors (`doorman monitor`). It
//! trusts neither the server nor the broker that delivered the bundle.
//!
//! # Wire form
//!
//! JSON, at most [`MAX_BUNDLE_BYTES`], unknown members refused:
//!
//! ```json
//! {"type": "doorman_activation", "v": 1,
//!  "registration": {"entry": "<the property_registered entry: its canonical JSON, as a string>",
//!                   "proof": "<c2sp.org/tlog-proof@v1 text for it>"},
//!  "consent":      {"entry": "<the consent_granted entry>", "proof": "<its tlog-proof>"},
//!  "config":      "<signed device_config document (doorman_trust::state), as a string>",
//!  "revocations": "<signed revocation_list document>",
//!  "service":     "<signed service_state document>",
//!  "link":        {"broker": "host:port", "username": "<device id>", "password": "…"}}
//! ```
//!
//! `link` (optional) says how to reach the server over MQTT (docs/mqtt.md). It is not signed:
//! it is a broker credential, not a trust statement. What the device accepts over the link is
//! decided by the server key in the signed `config`.
//!
//! # What is not proven
//!
//! A device can prove that an entry is in the log, not that no later entry contradicts it (a
//! re-registration under another key, a `consent_revoked`): that is absence, which only a
//! monitor reading the whole log can prove. Revocation reaches the device through the signed
//! revocation list (checked here and at every decision), which is refused once older than the
//! configured offline bound.

use doorman_core::{DoorId, PropertyId};
use doorman_entries::PublicEntry;
use doorman_tlog::{NoteVerifier, TlogProof};
use doorman_trust::consent::ConsentError;
use doorman_trust::{
    DeviceConfig, PublicKey, RevocationList, ServiceState, VerifiedConsent, read_consent,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The `type` member of a bundle.
pub const ACTIVATION_TYPE: &str = "doorman_activation";

/// The bundle format version this code reads and writes.
pub const ACTIVATION_VERSION: u64 = 1;

/// The largest bundle accepted: the signed documents' limit (a revocation list may be
/// 4 MiB) plus room for the rest.
pub const MAX_BUNDLE_BYTES: usize = 5 * 1024 * 1024;

/// A log entry and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggedEntry {
    /// The entry's canonical bytes (JSON text).
    pub entry: String,
    /// A `c2sp.org/tlog-proof@v1` bundle for it.
    pub proof: String,
}

/// The bundle, as carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationBundle {
    #[serde(rename = "type")]
    pub kind: String,
    pub v: u64,
    pub registration: LoggedEntry,
    pub consent: LoggedEntry,
    pub config: String,
    pub revocations: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<BrokerLink>,
}

/// How a device reaches the server's MQTT broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerLink {
    /// `host:port` of the broker's listener for devices.
    pub broker: String,
    /// The broker account: the device id.
    pub username: String,
    /// The device's broker password (per device; see docs/mqtt.md).
    pub password: String,
    /// The device's TLS client certificate (PEM), issued for the device's own key by the
    /// embedded broker's CA; it names the device's tenant (docs/mqtt.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The CA certificate (PEM) the embedded broker's own certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// The broker wants a fresh client id on every connection (the embedded broker:
    /// [`crate::broker::session_client_id`]); otherwise the client id is the device id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_id_per_connection: bool,
}

impl ActivationBundle {
    /// A bundle of this version from its parts.
    pub fn new(
        registration: LoggedEntry,
        consent: LoggedEntry,
        config: String,
        revocations: String,
        service: String,
    ) -> ActivationBundle {
        ActivationBundle {
            kind: ACTIVATION_TYPE.to_string(),
            v: ACTIVATION_VERSION,
            registration,
            consent,
            config,
            revocations,
            service,
            link: None,
        }
    }

    /// The JSON bytes to send.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and a number always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why a device refuses to activate. Each has a stable [`code`](ActivationError::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivationError {
    #[error("the bundle is {0} bytes; the limit is {MAX_BUNDLE_BYTES}")]
    TooLarge(usize),
    #[error("the bundle is not an activation bundle: {0}")]
    Malformed(String),
    #[error("the bundle is version {0}; this agent reads version {ACTIVATION_VERSION}")]
    UnknownVersion(u64),
    #[error("the {what} entry is not proven to be in the public log: {why}")]
    NotInLog { what: &'static str, why: String },
    #[error("the {what} entry is not a valid {expected} entry: {why}")]
    WrongEntry {
        what: &'static str,
        expected: &'static str,
        why: String,
    },
    #[error("the consent does not belong to the registration: {0}")]
    NotRegistered(String),
    #[error("the consent does not verify under the registered property key: {0}")]
    BadConsent(String),
    #[error("the consent is not for this device: {0}")]
    NotThisDevice(String),
    #[error("the consent is not valid now: {0}")]
    ConsentNotValidNow(String),
    #[error("the consent was revoked (its id is in the property's revocation list)")]
    ConsentRevoked,
    #[error("the {what} document is refused: {why}")]
    BadState { what: &'static str, why: String },
    #[error("the {what} document is for another {field}")]
    StateMismatch {
        what: &'static str,
        field: &'static str,
    },
}

impl ActivationError {
    /// A stable code, for the agent's output and its report to the server.
    pub fn code(&self) -> &'static str {
        match self {
            ActivationError::TooLarge(_) => "bundle_too_large",
            ActivationError::Malformed(_) => "malformed_bundle",
            ActivationError::UnknownVersion(_) => "unknown_version",
            ActivationError::NotInLog { .. } => "not_in_log",
            ActivationError::WrongEntry { .. } => "wrong_entry",
            ActivationError::NotRegistered(_) => "not_registered",
            ActivationError::BadConsent(_) => "bad_consent",
            ActivationError::NotThisDevice(_) => "not_this_device",
            ActivationError::ConsentNotValidNow(_) => "consent_not_valid_now",
            ActivationError::ConsentRevoked => "consent_revoked",
            ActivationError::BadState { .. } => "bad_state",
            ActivationError::StateMismatch { .. } => "state_mismatch",
        }
    }
}

/// What a verified bundle establishes: the device may serve `door` of `property`, rooted in
/// `property_key`, with this configuration and state.
#[derive(Debug, Clone)]
pub struct Activation {
    pub property: PropertyId,
    pub door: DoorId,
    pub property_key: PublicKey,
    pub consent: VerifiedConsent,
    /// The consent's token bytes.
    pub consent_token: Vec<u8>,
    /// Index of the `consent_granted` entry in the public log.
    pub consent_index: u64,
    /// Index of the `property_registered` entry.
    pub registration_index: u64,
    pub config: DeviceConfig,
    pub revocations: RevocationList,
    pub service: ServiceState,
    /// How to reach the server, if the bundle said.
    pub link: Option<BrokerLink>,
}

/// What [`Activation::apply_state`] did with pushed documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateUpdate {
    /// Which documents replaced older ones.
    pub revocations: bool,
    pub service: bool,
    pub config: bool,
    /// The new revocation list revokes this device's consent: stop serving.
    pub consent_revoked: bool,
}

impl Activation {
    /// Applies signed state documents pushed by the server: each must verify under the
    /// property key, be for this property (the config also for this door and device) and be
    /// newer than what the device holds; an older or equal one is ignored (a replay), a bad one
    /// refuses the whole push.
    pub fn apply_state(
        &mut self,
        revocations: Option<&str>,
        service: Option<&str>,
        config: Option<&str>,
    ) -> Result<StateUpdate, ActivationError> {
        let bad = |what: &'static str| {
            move |e: doorman_trust::StateError| ActivationError::BadState {
                what,
                why: format!("{} ({})", e, e.code()),
            }
        };
        let mismatch = |what, field| ActivationError::StateMismatch { what, field };
        let mut update = StateUpdate::default();
        let revocations = revocations
            .map(|d| RevocationList::verify(d.as_bytes(), &self.property_key))
            .transpose()
            .map_err(bad("revocations"))?;
        let service = service
            .map(|d| ServiceState::verify(d.as_bytes(), &self.property_key))
            .transpose()
            .map_err(bad("service"))?;
        let config = config
            .map(|d| DeviceConfig::verify(d.as_bytes(), &self.property_key))
            .transpose()
            .map_err(bad("config"))?;
        if let Some(r) = &revocations
            && r.property != self.property
        {
            return Err(mismatch("revocations", "property"));
        }
        if let Some(s) = &service
            && s.property != self.property
        {
            return Err(mismatch("service", "property"));
        }
        if let Some(c) = &config {
            if c.property != self.property {
                return Err(mismatch("config", "property"));
            }
            if c.door != self.door {
                return Err(mismatch("config", "door"));
            }
            if c.device_key != self.config.device_key {
                return Err(mismatch("config", "device"));
            }
        }
        if let Some(r) = revocations
            && r.seq > self.revocations.seq
        {
            update.consent_revoked = r.revoked.contains(self.consent.revocation_id());
            self.revocations = r;
            update.revocations = true;
        }
        if let Some(s) = service
            && s.seq > self.service.seq
        {
            self.service = s;
            update.service = true;
        }
        if let Some(c) = config
            && c.seq > self.config.seq
        {
            self.config = c;
            update.config = true;
        }
        Ok(update)
    }
}

/// Verifies the entry's inclusion under the log key; returns the parsed entry and its index.
fn logged(
    what: &'static str,
    item: &LoggedEntry,
    log: &NoteVerifier,
) -> Result<(PublicEntry, u64), ActivationError> {
    let not_in_log = |why: String| ActivationError::NotInLog { what, why };
    let proof = TlogProof::parse(item.proof.as_bytes()).map_err(|e| not_in_log(e.to_string()))?;
    proof
        .verify_entry(item.entry.as_bytes(), log.name(), log)
        .map_err(|e| not_in_log(e.to_string()))?;
    let entry =
        PublicEntry::parse(item.entry.as_bytes()).map_err(|e| ActivationError::WrongEntry {
            what,
            expected: what,
            why: e.to_string(),
        })?;
    Ok((entry, proof.index()))
}

/// Verifies an activation bundle for the device with key `device_key`, against the public
/// log's verifier key `log` (provisioned with the agent, never taken from the bundle), at
/// `now`. See the [module docs](self) for what it proves.
pub fn verify_activation(
    bundle: &[u8],
    device_key: &PublicKey,
    log: &NoteVerifier,
    now: Timestamp,
) -> Result<Activation, ActivationError> {
    if bundle.len() > MAX_BUNDLE_BYTES {
        return Err(ActivationError::TooLarge(bundle.len()));
    }
    let b: ActivationBundle =
        serde_json::from_slice(bundle).map_err(|e| ActivationError::Malformed(e.to_string()))?;
    if b.kind != ACTIVATION_TYPE {
        return Err(ActivationError::Malformed(format!(
            "type is {:?}, not {ACTIVATION_TYPE:?}",
            b.kind
        )));
    }
    if b.v != ACTIVATION_VERSION {
        return Err(ActivationError::UnknownVersion(b.v));
    }

    // 1. The property's key, as registered in the log.
    let (registration, registration_index) = logged("registration", &b.registration, log)?;
    let PublicEntry::PropertyRegistered {
        property,
        property_key,
        ..
    } = &registration
    else {
        return Err(ActivationError::WrongEntry {
            what: "registration",
            expected: "property_registered",
            why: format!("it is a {} entry", registration.entry_type().as_str()),
        });
    };
    let property = PropertyId::new(property.as_str())
        .map_err(|e| ActivationError::NotRegistered(e.to_string()))?;
    let property_key: PublicKey = property_key
        .parse()
        .map_err(|e| ActivationError::NotRegistered(format!("property_key: {e}")))?;

    // 2. The consent, logged after the registration, for this property and this device.
    let (consent, consent_index) = logged("consent", &b.consent, log)?;
    let PublicEntry::ConsentGranted {
        property: consent_property,
        device_key: named_key,
        consent: token_text,
        ..
    } = &consent
    else {
        return Err(ActivationError::WrongEntry {
            what: "consent",
            expected: "consent_granted",
            why: format!("it is a {} entry", consent.entry_type().as_str()),
        });
    };
    if consent_property.as_str() != property.as_str() {
        return Err(ActivationError::NotRegistered(format!(
            "the consent is for property {consent_property}, the registration for {property}"
        )));
    }
    if consent_index <= registration_index {
        return Err(ActivationError::NotRegistered(format!(
            "the consent (entry {consent_index}) was logged before the registration (entry {registration_index})"
        )));
    }
    doorman_entries::check_tokens(&consent, &property_key)
        .map_err(|e| ActivationError::BadConsent(e.to_string()))?;
    if named_key.as_str() != device_key.to_string() {
        return Err(ActivationError::NotThisDevice(format!(
            "it names {named_key}; this device is {device_key}"
        )));
    }
    let token = doorman_trust::token::decode(token_text)
        .map_err(|e| ActivationError::BadConsent(e.to_string()))?;
    let verified = read_consent(&token, &property_key)
        .map_err(|e| ActivationError::BadConsent(e.to_string()))?;
    let door = verified.spec().door.clone();
    verified
        .check_for(&property, &door, device_key, now)
        .map_err(|e| match e {
            ConsentError::NotYetValid(_) | ConsentError::Expired(_) => {
                ActivationError::ConsentNotValidNow(e.to_string())
            }
            other => ActivationError::NotThisDevice(other.to_string()),
        })?;

    // 3. The signed configuration and state, under the same key, for this device and property.
    let bad = |what: &'static str| {
        move |e: doorman_trust::StateError| ActivationError::BadState {
            what,
            why: format!("{} ({})", e, e.code()),
        }
    };
    let mismatch = |what, field| ActivationError::StateMismatch { what, field };
    let config = DeviceConfig::verify(b.config.as_bytes(), &property_key).map_err(bad("config"))?;
    if config.property != property {
        return Err(mismatch("config", "property"));
    }
    if config.door != door {
        return Err(mismatch("config", "door"));
    }
    if &config.device_key != device_key {
        return Err(mismatch("config", "device"));
    }
    let revocations = RevocationList::verify(b.revocations.as_bytes(), &property_key)
        .map_err(bad("revocations"))?;
    if revocations.property != property {
        return Err(mismatch("revocations", "property"));
    }
    if revocations.revoked.contains(verified.revocation_id()) {
        return Err(ActivationError::ConsentRevoked);
    }
    let service =
        ServiceState::verify(b.service.as_bytes(), &property_key).map_err(bad("service"))?;
    if service.property != property {
        return Err(mismatch("service", "property"));
    }
    Ok(Activation {
        property,
        door,
        property_key,
        consent: verified,
        consent_token: token,
        consent_index,
        registration_index,
        config,
        revocations,
        service,
        link: b.link,
    })
}

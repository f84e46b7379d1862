//! Access events: what a door device reports about every decision, signed with its own key.
//!
//! # Wire form
//!
//! The signed-document envelope of `doorman_trust::state` (`{"payload": …, "signature": …}`,
//! base64url), domain `doorman/access-event/v1\n`, signed by the **device** key. Payload
//! (members in this order, unknown members refused):
//!
//! ```json
//! {"type":"access_event","v":1,"property":"prop_1","door":"street",
//!  "device_key":"ed25519/…","seq":17,"at":"2026-12-01T10:00:00Z","result":"allow",
//!  "reason":null,"pass":"<hex pass id>","authorization":"<hex>","carrier":"org_…",
//!  "unit":"4B","delivery":"D-1","driver_key":"ed25519/…","pulse_ms":3000}
//! ```
//!
//! - `seq` is the device's journal sequence number: unique per device and increasing, so the
//!   server deduplicates on (`device_key`, `seq`) and sees gaps.
//! - `result` is `allow` or `deny`; a denial carries its stable `reason` code
//!   (`doorman_core::DenyReason`) and whatever is known of the pass (often nothing).
//! - `at` is the device's clock, whole seconds, UTC.
//!
//! The server checks the signature under the key of the device it activated for that door and
//! property; an event is evidence only together with that binding.

use doorman_core::{DenyReason, DoorId, PropertyId};
use doorman_trust::state::{open_document, sign_document};
use doorman_trust::{Decision, PublicKey, SecretKey, StateError};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

const DOMAIN: &[u8] = b"doorman/access-event/v1\n";
const TYPE: &str = "access_event";
/// The payload version.
pub const EVENT_VERSION: u64 = 1;

/// One decision at a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    pub property: PropertyId,
    pub door: DoorId,
    pub device_key: PublicKey,
    pub seq: u64,
    pub at: Timestamp,
    /// `None` on allow.
    pub reason: Option<DenyReason>,
    pub pass: Option<Vec<u8>>,
    pub authorization: Option<Vec<u8>>,
    pub carrier: Option<String>,
    pub unit: Option<String>,
    pub delivery: Option<String>,
    pub driver_key: Option<PublicKey>,
    /// The relay pulse, on allow.
    pub pulse_ms: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    #[serde(rename = "type")]
    kind: String,
    v: u64,
    property: String,
    door: String,
    device_key: String,
    seq: u64,
    at: String,
    result: String,
    reason: Option<String>,
    pass: Option<String>,
    authorization: Option<String>,
    carrier: Option<String>,
    unit: Option<String>,
    delivery: Option<String>,
    driver_key: Option<String>,
    pulse_ms: Option<u32>,
}

fn invalid(why: impl Into<String>) -> StateError {
    StateError::Invalid(why.into())
}

fn hex_id(text: &Option<String>, what: &str) -> Result<Option<Vec<u8>>, StateError> {
    text.as_ref()
        .map(|t| {
            hex::decode(t)
                .ok()
                .filter(|b| !b.is_empty() && b.len() <= 64 && hex::encode(b) == *t)
                .ok_or_else(|| invalid(format!("{what} is not lowercase hex of 1 to 64 bytes")))
        })
        .transpose()
}

fn key(text: &str, what: &str) -> Result<PublicKey, StateError> {
    let k: PublicKey = text
        .parse()
        .map_err(|e: doorman_trust::KeyError| invalid(format!("{what}: {e}")))?;
    if k.to_string() != text {
        return Err(invalid(format!("{what} is not in canonical form")));
    }
    Ok(k)
}

impl AccessEvent {
    /// The event of a decision the device made.
    pub fn of_decision(
        property: &PropertyId,
        door: &DoorId,
        device_key: PublicKey,
        seq: u64,
        at: Timestamp,
        decision: &Decision,
    ) -> AccessEvent {
        let base = AccessEvent {
            property: property.clone(),
            door: door.clone(),
            device_key,
            seq,
            // Whole seconds: the wire form has no fraction.
            at: Timestamp::from_second(at.as_second()).unwrap_or(at),
            reason: None,
            pass: None,
            authorization: None,
            carrier: None,
            unit: None,
            delivery: None,
            driver_key: None,
            pulse_ms: None,
        };
        match decision {
            Decision::Allow(e) => AccessEvent {
                pass: Some(e.pass_id.clone()),
                authorization: Some(e.authorization_id.clone()),
                carrier: Some(e.carrier.to_string()),
                unit: Some(e.unit.to_string()),
                delivery: Some(e.delivery.to_string()),
                driver_key: Some(e.driver),
                pulse_ms: Some(e.pulse_ms),
                ..base
            },
            Decision::Deny(d) => AccessEvent {
                reason: Some(d.reason),
                pass: d.pass_id.clone(),
                carrier: d.carrier.as_ref().map(ToString::to_string),
                ..base
            },
        }
    }

    /// Whether the door opened.
    pub fn is_allow(&self) -> bool {
        self.reason.is_none()
    }

    /// The payload bytes.
    pub fn payload(&self) -> Result<Vec<u8>, StateError> {
        if self.at.subsec_nanosecond() != 0 {
            return Err(invalid("at must be a whole second"));
        }
        if self.is_allow() != self.pulse_ms.is_some() {
            return Err(invalid("an allow has a pulse, a deny none"));
        }
        let wire = Wire {
            kind: TYPE.to_string(),
            v: EVENT_VERSION,
            property: self.property.to_string(),
            door: self.door.to_string(),
            device_key: self.device_key.to_string(),
            seq: self.seq,
            at: self.at.to_string(),
            result: if self.is_allow() { "allow" } else { "deny" }.to_string(),
            reason: self.reason.map(|r| r.code().to_string()),
            pass: self.pass.as_ref().map(hex::encode),
            authorization: self.authorization.as_ref().map(hex::encode),
            carrier: self.carrier.clone(),
            unit: self.unit.clone(),
            delivery: self.delivery.clone(),
            driver_key: self.driver_key.map(|k| k.to_string()),
            pulse_ms: self.pulse_ms,
        };
        serde_json::to_vec(&wire).map_err(|e| invalid(e.to_string()))
    }

    /// Signs the event with the device key (which must be the event's `device_key`).
    pub fn sign(&self, device: &SecretKey) -> Result<Vec<u8>, StateError> {
        if device.public() != self.device_key {
            return Err(invalid("signed by a key other than the event's device_key"));
        }
        sign_document(device, DOMAIN, &self.payload()?)
    }

    /// Verifies a signed event under `device_key` and reads it; the event must name that key.
    pub fn verify(document: &[u8], device_key: &PublicKey) -> Result<AccessEvent, StateError> {
        let payload = open_document(document, device_key, DOMAIN)?;
        let event = AccessEvent::read(&payload, Some(device_key))?;
        if &event.device_key != device_key {
            return Err(invalid("the event names another device"));
        }
        Ok(event)
    }

    /// Reads an event the server verified when it stored it (its signature is not checked
    /// again: the store holds only verified events).
    pub fn from_stored(document: &[u8]) -> Result<AccessEvent, StateError> {
        AccessEvent::read(
            &doorman_trust::state::stored_document_payload(document)?,
            None,
        )
    }

    /// Reads payload bytes (for a verified document).
    pub fn from_payload(payload: &[u8]) -> Result<AccessEvent, StateError> {
        AccessEvent::read(payload, None)
    }

    /// Reads payload bytes; `known` is the key the document was verified under: when the
    /// event names it in its canonical text, it is taken as is instead of parsed again (a
    /// key parse decompresses the point twice, for dalek and for biscuit: a quarter of the
    /// cost of verifying an upload).
    fn read(payload: &[u8], known: Option<&PublicKey>) -> Result<AccessEvent, StateError> {
        let w: Wire = serde_json::from_slice(payload).map_err(|e| invalid(e.to_string()))?;
        if w.kind != TYPE {
            return Err(StateError::WrongType {
                expected: TYPE,
                found: w.kind,
            });
        }
        if w.v != EVENT_VERSION {
            return Err(StateError::UnknownVersion(w.v));
        }
        let at: Timestamp =
            w.at.parse()
                .map_err(|e| invalid(format!("at {:?}: {e}", w.at)))?;
        if at.to_string() != w.at || at.subsec_nanosecond() != 0 {
            return Err(invalid(
                "at is not in canonical form (UTC, whole seconds, Z)",
            ));
        }
        let reason = match (w.result.as_str(), &w.reason) {
            ("allow", None) => None,
            ("deny", Some(code)) => Some(
                code.parse::<DenyReason>()
                    .map_err(|_| invalid(format!("unknown reason {code:?}")))?,
            ),
            _ => return Err(invalid("result is allow without a reason or deny with one")),
        };
        let event = AccessEvent {
            property: PropertyId::new(w.property).map_err(|e| invalid(e.to_string()))?,
            door: DoorId::new(w.door).map_err(|e| invalid(e.to_string()))?,
            device_key: match known {
                Some(k) if k.to_string() == w.device_key => *k,
                _ => key(&w.device_key, "device_key")?,
            },
            seq: w.seq,
            at,
            reason,
            pass: hex_id(&w.pass, "pass")?,
            authorization: hex_id(&w.authorization, "authorization")?,
            carrier: w.carrier,
            unit: w.unit,
            delivery: w.delivery,
            driver_key: w
                .driver_key
                .as_deref()
                .map(|k| key(k, "driver_key"))
                .transpose()?,
            pulse_ms: w.pulse_ms,
        };
        if event.is_allow() != event.pulse_ms.is_some() {
            return Err(invalid("an allow has a pulse, a deny none"));
        }
        Ok(event)
    }
}

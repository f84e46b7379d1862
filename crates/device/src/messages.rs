//! The messages between the server and door devices over MQTT (docs/mqtt.md).
//!
//! # Topics
//!
//! Each device has two topics, named by its device id and its tenant (the device id in hex):
//!
//! ```text
//! /tenants/<tenant>/doorman/v1/devices/<device>/up     device → server (events, status, replies)
//! /tenants/<tenant>/doorman/v1/devices/<device>/down   server → device (acknowledgements, requests, state)
//! ```
//!
//! A device may publish only to its `up` topic and subscribe only to its `down` topic. Both
//! brokers enforce it: the embedded one (rumqttd) keeps a client to the `/tenants/<tenant>/`
//! of its TLS client certificate, which names that device's tenant only; Mosquitto by the
//! ACLs the server keeps. And the server checks it again: every `up` message is signed by the
//! device key of the device its topic names.
//!
//! # Signed, end to end
//!
//! Every message is a signed document (the envelope of `doorman_trust::state`):
//!
//! - `up`: signed by the **device** key, domain `doorman/device-up/v1\n`;
//! - `down`: signed by the **server** key that the property named in the device's signed
//!   configuration (`DeviceConfig::server_key`), domain `doorman/device-down/v1\n`.
//!
//! The payload names the device and the sender's clock, so a message can't be moved to another
//! device's topic, and a broker (or anyone on it) can delay, drop or replay a message but not
//! forge one. Replays are harmless by construction: a pass is used once, a challenge answered
//! once, an acknowledgement only ever moves forward, state documents only ever newer.
//!
//! The payload is JSON, members in the order below, unknown members refused:
//!
//! ```json
//! {"type":"events","v":1,"device":"dev_1","at":"2026-12-01T10:00:00Z","events":["<signed event>", …]}
//! {"type":"status","v":1,"device":"dev_1","at":…,"version":"0.1.0","active":true,"hello":false,
//!  "pending":3,"revocations_issued_at":"…","revocations_seq":4,"service_seq":2,"config_seq":1,"fault":null}
//! {"type":"challenge","v":1,"device":"dev_1","at":…,"request":"r1","challenge":{…ChallengeView…}}
//! {"type":"decision","v":1,"device":"dev_1","at":…,"request":"r1","opened":true,"event":"<signed event>"}
//! {"type":"refused","v":1,"device":"dev_1","at":…,"request":"r1","code":"not_active","message":"…"}
//!
//! {"type":"ack","v":1,"device":"dev_1","at":…,"upto":17}
//! {"type":"challenge_request","v":1,"device":"dev_1","at":…,"request":"r1"}
//! {"type":"unlock","v":1,"device":"dev_1","at":…,"request":"r1","pass":"<base64url>",
//!  "nonce":"<64 hex>","presented_at":"…","signature":"<128 hex>"}
//! {"type":"state","v":1,"device":"dev_1","at":…,"revocations":"<signed doc>"|null,"service":…,"config":…}
//! {"type":"decommissioned","v":1,"device":"dev_1","at":…,"reason":"…"}
//! ```

use doorman_core::{DeviceId, DoorId, PropertyId};
use doorman_trust::state::{open_document, sign_document};
use doorman_trust::{Challenge, PossessionProof, PublicKey, SecretKey, StateError};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The topic prefix, with the protocol version (after the tenant's `/tenants/<tenant>/`).
pub const TOPIC_PREFIX: &str = "doorman/v1/devices";

/// Where every tenant's topics begin: rumqttd's `validate-tenant-prefix` keeps a client whose
/// certificate names tenant `t` to topics beginning with `/tenants/t/`.
pub const TENANTS: &str = "/tenants/";

/// The largest message either side sends or accepts (a batch of events is the largest).
pub const MAX_MESSAGE_BYTES: usize = 512 * 1024;

/// The most events in one `events` message.
pub const MAX_EVENTS_PER_MESSAGE: usize = 100;

/// The longest request id.
pub const MAX_REQUEST_ID: usize = 64;

/// The payload version.
pub const MESSAGE_VERSION: u64 = 1;

/// Whether a message is sent at most once (MQTT QoS 0) rather than at least once (QoS 1):
/// the requests of an unlock and their answers. They are waited for by someone with a
/// timeout, so a lost one is a retry, and sending them without broker acknowledgements keeps
/// them from queueing behind one (an acknowledgement still in flight holds the next small
/// packet back under Nagle's algorithm, about 40 ms on Linux). Events, acknowledgements,
/// status and state go at least once.
pub fn at_most_once_up(body: &Up) -> bool {
    matches!(
        body,
        Up::Challenge { .. } | Up::Decision { .. } | Up::Refused { .. }
    )
}

/// See [`at_most_once_up`].
pub fn at_most_once_down(body: &Down) -> bool {
    matches!(body, Down::ChallengeRequest { .. } | Down::Unlock { .. })
}

const UP_DOMAIN: &[u8] = b"doorman/device-up/v1\n";
const DOWN_DOMAIN: &[u8] = b"doorman/device-down/v1\n";

/// Whether a device id can name MQTT topics and broker accounts: a device id may hold `/`,
/// `#` and spaces, which are topic syntax (or awkward in ACL patterns); a device that talks
/// over MQTT must have an id of ASCII letters, digits and `.` `_` `:` `@` `-` only.
pub fn topic_safe(device: &DeviceId) -> bool {
    device
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
}

/// A device's tenant: its id in lowercase hex. The embedded broker takes a tenant from the
/// Organization of the client's certificate and allows only ASCII letters and digits there, so
/// the id is encoded; hex keeps one tenant per device id (no two ids share one) and reads back.
pub fn tenant(device: &DeviceId) -> Result<String, MessageError> {
    if !topic_safe(device) {
        return Err(MessageError::BadDeviceId(device.to_string()));
    }
    Ok(hex::encode(device.as_str()))
}

fn topic(device: &DeviceId, leg: &str) -> Result<String, MessageError> {
    let tenant = tenant(device)?;
    Ok(format!("{TENANTS}{tenant}/{TOPIC_PREFIX}/{device}/{leg}"))
}

/// A device's `up` topic.
pub fn up_topic(device: &DeviceId) -> Result<String, MessageError> {
    topic(device, "up")
}

/// A device's `down` topic.
pub fn down_topic(device: &DeviceId) -> Result<String, MessageError> {
    topic(device, "down")
}

/// The filter the server subscribes to: every device's `up` topic.
pub fn all_up_topics() -> String {
    format!("{TENANTS}+/{TOPIC_PREFIX}/+/up")
}

/// A filter matching `leg` (`up` or `down`) of every device, for broker ACLs.
pub fn every_device(leg: &str) -> String {
    format!("{TENANTS}+/{TOPIC_PREFIX}/+/{leg}")
}

/// The device an `up` topic names, if it is one: the tenant must be that device's.
pub fn device_of_up_topic(topic: &str) -> Option<DeviceId> {
    let rest = topic.strip_prefix(TENANTS)?;
    let (tenant_hex, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix(TOPIC_PREFIX)?.strip_prefix('/')?;
    let id = rest.strip_suffix("/up")?;
    DeviceId::new(id)
        .ok()
        .filter(|d| d.as_str() == id && tenant(d).is_ok_and(|t| t == tenant_hex))
}

/// Why a message was refused. The `code()` is stable (logs and metrics count by it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is {0} bytes; the limit is {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    #[error("the signature does not verify under the sender's key")]
    BadSignature,
    #[error("the message is malformed: {0}")]
    Malformed(String),
    #[error("the message is for device {found}, not {expected}")]
    WrongDevice { expected: String, found: String },
    #[error(
        "device id {0:?} cannot name MQTT topics: use ASCII letters, digits and . _ : @ - only"
    )]
    BadDeviceId(String),
}

impl MessageError {
    pub fn code(&self) -> &'static str {
        match self {
            MessageError::TooLarge(_) => "message_too_large",
            MessageError::BadSignature => "bad_signature",
            MessageError::Malformed(_) => "malformed_message",
            MessageError::WrongDevice { .. } => "wrong_device",
            MessageError::BadDeviceId(_) => "bad_device_id",
        }
    }
}

fn malformed(why: impl Into<String>) -> MessageError {
    MessageError::Malformed(why.into())
}

impl From<StateError> for MessageError {
    fn from(e: StateError) -> MessageError {
        match e {
            StateError::TooLarge(n) => MessageError::TooLarge(n),
            StateError::BadSignature => MessageError::BadSignature,
            other => MessageError::Malformed(other.to_string()),
        }
    }
}

/// A device's challenge, as sent to a presenter (over the local socket or through the server).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeView {
    pub nonce: String,
    /// RFC 3339.
    pub issued_at: String,
    pub property: String,
    pub door: String,
    pub device_key: String,
}

impl ChallengeView {
    pub fn of(c: &Challenge) -> ChallengeView {
        ChallengeView {
            nonce: hex::encode(c.nonce),
            issued_at: c.issued_at.to_string(),
            property: c.property.to_string(),
            door: c.door.to_string(),
            device_key: c.device_key.to_string(),
        }
    }

    /// The challenge it describes (for the presenter to sign).
    pub fn to_challenge(&self) -> Result<Challenge, String> {
        Ok(Challenge {
            nonce: nonce(&self.nonce)?,
            issued_at: time(&self.issued_at)?,
            property: PropertyId::new(self.property.as_str()).map_err(|e| e.to_string())?,
            door: DoorId::new(self.door.as_str()).map_err(|e| e.to_string())?,
            device_key: self.device_key.parse().map_err(|e| format!("{e}"))?,
        })
    }
}

/// A 32-byte nonce from its hex.
pub fn nonce(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text).map_err(|_| "nonce: not hex".to_string())?;
    bytes
        .try_into()
        .map_err(|_| "nonce: not 32 bytes".to_string())
}

/// An RFC 3339 time.
pub fn time(text: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))
}

/// A driver's answer from its wire members.
pub fn proof(presented_at: &str, signature: &str) -> Result<PossessionProof, String> {
    let presented_at = time(presented_at)?;
    let bytes = hex::decode(signature).map_err(|_| "signature: not hex".to_string())?;
    let signature: [u8; 64] = bytes
        .try_into()
        .map_err(|_| "signature: not 64 bytes".to_string())?;
    Ok(PossessionProof {
        presented_at,
        signature,
    })
}

/// What a device reports about itself: on connecting (`hello`) and as its heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    /// The agent's version.
    pub version: String,
    /// Whether it holds a verified activation and serves its door.
    pub active: bool,
    /// Sent on (re)connecting: the server answers with the current state.
    pub hello: bool,
    /// Decisions journaled but not yet acknowledged.
    pub pending: u64,
    /// RFC 3339: when the revocation list it holds was issued.
    pub revocations_issued_at: Option<String>,
    pub revocations_seq: Option<u64>,
    pub service_seq: Option<u64>,
    pub config_seq: Option<u64>,
    /// A fault the operator should see (a relay or journal failure), if any.
    pub fault: Option<String>,
}

/// A device-to-server message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Up {
    /// Journaled decisions, oldest first, each a signed access event.
    Events(Vec<Vec<u8>>),
    Status(Status),
    /// The answer to a `challenge_request`.
    Challenge {
        request: String,
        challenge: ChallengeView,
    },
    /// The answer to an `unlock`: the signed, journaled event of the decision.
    Decision {
        request: String,
        opened: bool,
        event: Vec<u8>,
    },
    /// A request the device could not take (not active, unreadable).
    Refused {
        request: String,
        code: String,
        message: String,
    },
}

/// A server-to-device message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Down {
    /// Every event of this device up to this sequence number is stored: trim them.
    Ack {
        upto: u64,
    },
    ChallengeRequest {
        request: String,
    },
    /// A pass forwarded from the API with the driver's answer to the device's challenge
    /// (read once, where the message is decoded).
    Unlock {
        request: String,
        pass: String,
        nonce: [u8; 32],
        proof: PossessionProof,
    },
    /// The property's signed state documents (each as issued, signed by the property key).
    State {
        revocations: Option<String>,
        service: Option<String>,
        config: Option<String>,
    },
    /// The device was taken off its door: forget the activation and stop.
    Decommissioned {
        reason: String,
    },
}

/// A message with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<B> {
    pub device: DeviceId,
    /// The sender's clock.
    pub at: Timestamp,
    pub body: B,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum UpWire {
    Events {
        v: u64,
        device: String,
        at: String,
        events: Vec<String>,
    },
    Status {
        v: u64,
        device: String,
        at: String,
        version: String,
        active: bool,
        hello: bool,
        pending: u64,
        revocations_issued_at: Option<String>,
        revocations_seq: Option<u64>,
        service_seq: Option<u64>,
        config_seq: Option<u64>,
        fault: Option<String>,
    },
    Challenge {
        v: u64,
        device: String,
        at: String,
        request: String,
        challenge: ChallengeView,
    },
    Decision {
        v: u64,
        device: String,
        at: String,
        request: String,
        opened: bool,
        event: String,
    },
    Refused {
        v: u64,
        device: String,
        at: String,
        request: String,
        code: String,
        message: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum DownWire {
    Ack {
        v: u64,
        device: String,
        at: String,
        upto: u64,
    },
    ChallengeRequest {
        v: u64,
        device: String,
        at: String,
        request: String,
    },
    Unlock {
        v: u64,
        device: String,
        at: String,
        request: String,
        pass: String,
        nonce: String,
        presented_at: String,
        signature: String,
    },
    State {
        v: u64,
        device: String,
        at: String,
        revocations: Option<String>,
        service: Option<String>,
        config: Option<String>,
    },
    Decommissioned {
        v: u64,
        device: String,
        at: String,
        reason: String,
    },
}

fn whole(at: Timestamp) -> Result<String, MessageError> {
    Timestamp::from_second(at.as_second())
        .map(|t| t.to_string())
        .map_err(|e| malformed(e.to_string()))
}

fn header(v: u64, device: &str, at: &str) -> Result<(DeviceId, Timestamp), MessageError> {
    if v != MESSAGE_VERSION {
        return Err(malformed(format!(
            "version {v}; this code reads version {MESSAGE_VERSION}"
        )));
    }
    let id = DeviceId::new(device).map_err(|e| malformed(format!("device: {e}")))?;
    if id.as_str() != device || !topic_safe(&id) {
        return Err(malformed("device is not a topic-safe device id"));
    }
    let at = time(at).map_err(malformed)?;
    Ok((id, at))
}

fn request_id(r: &str) -> Result<(), MessageError> {
    if r.is_empty()
        || r.len() > MAX_REQUEST_ID
        || !r
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(malformed(format!(
            "request ids are 1 to {MAX_REQUEST_ID} characters of [A-Za-z0-9_-]"
        )));
    }
    Ok(())
}

fn text(bytes: &[u8], what: &str) -> Result<String, MessageError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

fn check_size(bytes: &[u8]) -> Result<(), MessageError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(MessageError::TooLarge(bytes.len()));
    }
    Ok(())
}

fn expect_device(found: DeviceId, expected: &DeviceId) -> Result<DeviceId, MessageError> {
    if &found != expected {
        return Err(MessageError::WrongDevice {
            expected: expected.to_string(),
            found: found.to_string(),
        });
    }
    Ok(found)
}

impl Message<Up> {
    /// Signs the message with the device key.
    pub fn sign(&self, key: &SecretKey) -> Result<Vec<u8>, MessageError> {
        let device = self.device.to_string();
        let at = whole(self.at)?;
        let v = MESSAGE_VERSION;
        let wire = match &self.body {
            Up::Events(events) => {
                if events.len() > MAX_EVENTS_PER_MESSAGE {
                    return Err(malformed(format!(
                        "at most {MAX_EVENTS_PER_MESSAGE} events per message"
                    )));
                }
                UpWire::Events {
                    v,
                    device,
                    at,
                    events: events
                        .iter()
                        .map(|e| text(e, "an event"))
                        .collect::<Result<_, _>>()?,
                }
            }
            Up::Status(s) => UpWire::Status {
                v,
                device,
                at,
                version: s.version.clone(),
                active: s.active,
                hello: s.hello,
                pending: s.pending,
                revocations_issued_at: s.revocations_issued_at.clone(),
                revocations_seq: s.revocations_seq,
                service_seq: s.service_seq,
                config_seq: s.config_seq,
                fault: s.fault.clone(),
            },
            Up::Challenge { request, challenge } => UpWire::Challenge {
                v,
                device,
                at,
                request: request.clone(),
                challenge: challenge.clone(),
            },
            Up::Decision {
                request,
                opened,
                event,
            } => UpWire::Decision {
                v,
                device,
                at,
                request: request.clone(),
                opened: *opened,
                event: text(event, "the event")?,
            },
            Up::Refused {
                request,
                code,
                message,
            } => UpWire::Refused {
                v,
                device,
                at,
                request: request.clone(),
                code: code.clone(),
                message: message.clone(),
            },
        };
        let payload = serde_json::to_vec(&wire).map_err(|e| malformed(e.to_string()))?;
        let signed = sign_document(key, UP_DOMAIN, &payload)?;
        check_size(&signed)?;
        Ok(signed)
    }

    /// Verifies a message from `device` (the device its topic names) under that device's key
    /// and reads it.
    pub fn open(
        bytes: &[u8],
        device: &DeviceId,
        key: &PublicKey,
    ) -> Result<Message<Up>, MessageError> {
        check_size(bytes)?;
        let payload = open_document(bytes, key, UP_DOMAIN)?;
        Message::<Up>::from_payload(&payload, device)
    }

    /// Reads a payload (after its signature was checked).
    pub fn from_payload(payload: &[u8], device: &DeviceId) -> Result<Message<Up>, MessageError> {
        let wire: UpWire = serde_json::from_slice(payload).map_err(|e| malformed(e.to_string()))?;
        let (v, d, a, body) = match wire {
            UpWire::Events {
                v,
                device,
                at,
                events,
            } => {
                if events.len() > MAX_EVENTS_PER_MESSAGE {
                    return Err(malformed(format!(
                        "{} events; at most {MAX_EVENTS_PER_MESSAGE} per message",
                        events.len()
                    )));
                }
                let events = events.into_iter().map(String::into_bytes).collect();
                (v, device, at, Up::Events(events))
            }
            UpWire::Status {
                v,
                device,
                at,
                version,
                active,
                hello,
                pending,
                revocations_issued_at,
                revocations_seq,
                service_seq,
                config_seq,
                fault,
            } => {
                if let Some(t) = &revocations_issued_at {
                    time(t).map_err(malformed)?;
                }
                (
                    v,
                    device,
                    at,
                    Up::Status(Status {
                        version,
                        active,
                        hello,
                        pending,
                        revocations_issued_at,
                        revocations_seq,
                        service_seq,
                        config_seq,
                        fault,
                    }),
                )
            }
            UpWire::Challenge {
                v,
                device,
                at,
                request,
                challenge,
            } => {
                request_id(&request)?;
                challenge.to_challenge().map_err(malformed)?;
                (v, device, at, Up::Challenge { request, challenge })
            }
            UpWire::Decision {
                v,
                device,
                at,
                request,
                opened,
                event,
            } => {
                request_id(&request)?;
                (
                    v,
                    device,
                    at,
                    Up::Decision {
                        request,
                        opened,
                        event: event.into_bytes(),
                    },
                )
            }
            UpWire::Refused {
                v,
                device,
                at,
                request,
                code,
                message,
            } => {
                request_id(&request)?;
                (
                    v,
                    device,
                    at,
                    Up::Refused {
                        request,
                        code,
                        message,
                    },
                )
            }
        };
        let (found, at) = header(v, &d, &a)?;
        Ok(Message {
            device: expect_device(found, device)?,
            at,
            body,
        })
    }
}

impl Message<Down> {
    /// Signs the message with the server key.
    pub fn sign(&self, key: &SecretKey) -> Result<Vec<u8>, MessageError> {
        let device = self.device.to_string();
        let at = whole(self.at)?;
        let v = MESSAGE_VERSION;
        let wire = match &self.body {
            Down::Ack { upto } => DownWire::Ack {
                v,
                device,
                at,
                upto: *upto,
            },
            Down::ChallengeRequest { request } => {
                request_id(request)?;
                DownWire::ChallengeRequest {
                    v,
                    device,
                    at,
                    request: request.clone(),
                }
            }
            Down::Unlock {
                request,
                pass,
                nonce,
                proof,
            } => {
                request_id(request)?;
                DownWire::Unlock {
                    v,
                    device,
                    at,
                    request: request.clone(),
                    pass: pass.clone(),
                    nonce: hex::encode(nonce),
                    presented_at: proof.presented_at.to_string(),
                    signature: hex::encode(proof.signature),
                }
            }
            Down::State {
                revocations,
                service,
                config,
            } => DownWire::State {
                v,
                device,
                at,
                revocations: revocations.clone(),
                service: service.clone(),
                config: config.clone(),
            },
            Down::Decommissioned { reason } => DownWire::Decommissioned {
                v,
                device,
                at,
                reason: reason.clone(),
            },
        };
        let payload = serde_json::to_vec(&wire).map_err(|e| malformed(e.to_string()))?;
        let signed = sign_document(key, DOWN_DOMAIN, &payload)?;
        check_size(&signed)?;
        Ok(signed)
    }

    /// Verifies a message on `device`'s down topic under the server key its configuration
    /// names, and reads it; a message for another device is refused.
    pub fn open(
        bytes: &[u8],
        device: &DeviceId,
        server_key: &PublicKey,
    ) -> Result<Message<Down>, MessageError> {
        check_size(bytes)?;
        let payload = open_document(bytes, server_key, DOWN_DOMAIN)?;
        Message::<Down>::from_payload(&payload, device)
    }

    /// Reads a payload (after its signature was checked).
    pub fn from_payload(payload: &[u8], device: &DeviceId) -> Result<Message<Down>, MessageError> {
        let wire: DownWire =
            serde_json::from_slice(payload).map_err(|e| malformed(e.to_string()))?;
        let (v, d, a, body) = match wire {
            DownWire::Ack {
                v,
                device,
                at,
                upto,
            } => (v, device, at, Down::Ack { upto }),
            DownWire::ChallengeRequest {
                v,
                device,
                at,
                request,
            } => {
                request_id(&request)?;
                (v, device, at, Down::ChallengeRequest { request })
            }
            DownWire::Unlock {
                v,
                device,
                at,
                request,
                pass,
                nonce: n,
                presented_at,
                signature,
            } => {
                request_id(&request)?;
                (
                    v,
                    device,
                    at,
                    Down::Unlock {
                        request,
                        pass,
                        nonce: nonce(&n).map_err(malformed)?,
                        proof: proof(&presented_at, &signature).map_err(malformed)?,
                    },
                )
            }
            DownWire::State {
                v,
                device,
                at,
                revocations,
                service,
                config,
            } => (
                v,
                device,
                at,
                Down::State {
                    revocations,
                    service,
                    config,
                },
            ),
            DownWire::Decommissioned {
                v,
                device,
                at,
                reason,
            } => (v, device, at, Down::Decommissioned { reason }),
        };
        let (found, at) = header(v, &d, &a)?;
        Ok(Message {
            device: expect_device(found, device)?,
            at,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> DeviceId {
        DeviceId::new("dev_1").unwrap()
    }

    fn at() -> Timestamp {
        "2026-12-01T10:00:00Z".parse().unwrap()
    }

    fn ups() -> Vec<Up> {
        vec![
            Up::Events(vec![b"{\"payload\":\"x\",\"signature\":\"y\"}".to_vec()]),
            Up::Status(Status {
                version: "0.1.0".into(),
                active: true,
                hello: true,
                pending: 3,
                revocations_issued_at: Some("2026-12-01T09:00:00Z".into()),
                revocations_seq: Some(4),
                service_seq: Some(2),
                config_seq: Some(1),
                fault: None,
            }),
            Up::Challenge {
                request: "r1".into(),
                challenge: ChallengeView::of(&Challenge {
                    nonce: [5; 32],
                    issued_at: at(),
                    property: PropertyId::new("prop_1").unwrap(),
                    door: DoorId::new("street").unwrap(),
                    device_key: SecretKey::from_seed(&[3; 32]).public(),
                }),
            },
            Up::Decision {
                request: "r1".into(),
                opened: false,
                event: b"e".to_vec(),
            },
            Up::Refused {
                request: "r1".into(),
                code: "not_active".into(),
                message: "m".into(),
            },
        ]
    }

    fn downs() -> Vec<Down> {
        vec![
            Down::Ack { upto: 17 },
            Down::ChallengeRequest {
                request: "r-2".into(),
            },
            Down::Unlock {
                request: "r_3".into(),
                pass: "abc".into(),
                nonce: [1u8; 32],
                proof: PossessionProof {
                    presented_at: at(),
                    signature: [2u8; 64],
                },
            },
            Down::State {
                revocations: Some("r".into()),
                service: None,
                config: Some("c".into()),
            },
            Down::Decommissioned {
                reason: "moved".into(),
            },
        ]
    }

    #[test]
    fn every_message_round_trips_and_is_bound_to_key_device_and_direction() {
        let device = SecretKey::from_seed(&[3; 32]);
        let server = SecretKey::from_seed(&[4; 32]);
        let other = DeviceId::new("dev_2").unwrap();
        for body in ups() {
            let m = Message {
                device: dev(),
                at: at(),
                body,
            };
            let bytes = m.sign(&device).unwrap();
            assert_eq!(
                Message::<Up>::open(&bytes, &dev(), &device.public()).unwrap(),
                m
            );
            assert_eq!(
                Message::<Up>::open(&bytes, &dev(), &server.public())
                    .unwrap_err()
                    .code(),
                "bad_signature"
            );
            assert_eq!(
                Message::<Up>::open(&bytes, &other, &device.public())
                    .unwrap_err()
                    .code(),
                "wrong_device"
            );
            // An up message is never a down message, even under the same key.
            assert!(Message::<Down>::open(&bytes, &dev(), &device.public()).is_err());
        }
        for body in downs() {
            let m = Message {
                device: dev(),
                at: at(),
                body,
            };
            let bytes = m.sign(&server).unwrap();
            assert_eq!(
                Message::<Down>::open(&bytes, &dev(), &server.public()).unwrap(),
                m
            );
            assert_eq!(
                Message::<Down>::open(&bytes, &other, &server.public())
                    .unwrap_err()
                    .code(),
                "wrong_device"
            );
            assert!(Message::<Up>::open(&bytes, &dev(), &server.public()).is_err());
        }
    }

    #[test]
    fn no_single_byte_change_to_a_message_opens() {
        let server = SecretKey::from_seed(&[4; 32]);
        let bytes = Message {
            device: dev(),
            at: at(),
            body: Down::Ack { upto: 9 },
        }
        .sign(&server)
        .unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert!(
                Message::<Down>::open(&b, &dev(), &server.public()).is_err(),
                "byte {i}"
            );
        }
    }

    #[test]
    fn oversized_and_unknown_messages_are_refused_with_their_codes() {
        let key = SecretKey::from_seed(&[4; 32]);
        let big = vec![b'x'; MAX_MESSAGE_BYTES + 1];
        assert_eq!(
            Message::<Down>::open(&big, &dev(), &key.public())
                .unwrap_err()
                .code(),
            "message_too_large"
        );
        for payload in [
            r#"{"type":"ack","v":1,"device":"dev_1","at":"2026-12-01T10:00:00Z","upto":1,"extra":1}"#,
            r#"{"type":"open_sesame","v":1,"device":"dev_1","at":"2026-12-01T10:00:00Z"}"#,
            r#"{"type":"ack","v":2,"device":"dev_1","at":"2026-12-01T10:00:00Z","upto":1}"#,
            r#"{"type":"ack","v":1,"device":"dev 1","at":"2026-12-01T10:00:00Z","upto":1}"#,
            r#"{"type":"challenge_request","v":1,"device":"dev_1","at":"2026-12-01T10:00:00Z","request":""}"#,
            r#"{"type":"unlock","v":1,"device":"dev_1","at":"2026-12-01T10:00:00Z","request":"r","pass":"p","nonce":"00","presented_at":"2026-12-01T10:00:00Z","signature":"00"}"#,
        ] {
            let e = Message::<Down>::from_payload(payload.as_bytes(), &dev()).unwrap_err();
            assert_eq!(e.code(), "malformed_message", "{payload}: {e}");
        }
        let too_many = Message {
            device: dev(),
            at: at(),
            body: Up::Events(vec![b"e".to_vec(); MAX_EVENTS_PER_MESSAGE + 1]),
        };
        assert_eq!(too_many.sign(&key).unwrap_err().code(), "malformed_message");
    }

    #[test]
    fn up_topics_name_their_device_and_nothing_else_parses() {
        assert_eq!(device_of_up_topic(&up_topic(&dev()).unwrap()), Some(dev()));
        let spaced = DeviceId::new("dev 1").unwrap();
        assert_eq!(up_topic(&spaced).unwrap_err().code(), "bad_device_id");
        assert_eq!(
            down_topic(&DeviceId::new("a/b").unwrap())
                .unwrap_err()
                .code(),
            "bad_device_id"
        );
        for t in [
            "doorman/v1/devices/dev_1/down",
            "doorman/v1/devices//up",
            "doorman/v1/devices/a/b/up",
            "doorman/v2/devices/dev_1/up",
            "doorman/v1/devices/+/up",
        ] {
            assert_eq!(device_of_up_topic(t), None, "{t}");
        }
    }
}

//! The public entry types, their validation and their one byte form.

use std::collections::BTreeSet;
use std::fmt;

use doorman_core::{
    CarrierId, DeviceId, DoorId, InstallerId, OrgId, PropertyId, RequestId, WeeklySchedule,
};
use doorman_trust::PublicKey;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EntryError;
use crate::address::normalize_address;
use crate::canonical::{parse_no_duplicates, to_canonical};

/// The format version this code writes and reads.
pub const VERSION: u64 = 1;

/// The largest entry, in bytes: the tlog-tiles entry bundle limit.
pub const MAX_ENTRY_LEN: usize = 65_535;

/// Longest reason code.
const MAX_REASON_LEN: usize = 64;

/// Longest embedded token (base64url text).
const MAX_TOKEN_TEXT: usize = 16_384;

/// Every entry type, as its `type` member spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryType {
    PropertyRegistered,
    InstallationRequested,
    ConsentGranted,
    ConsentRevoked,
    DeviceActivated,
    DeviceDecommissioned,
    CarrierAuthorized,
    AuthorizationRevoked,
    AccessLogAnchored,
}

impl EntryType {
    /// All types, in documentation order.
    pub const ALL: [EntryType; 9] = [
        EntryType::PropertyRegistered,
        EntryType::InstallationRequested,
        EntryType::ConsentGranted,
        EntryType::ConsentRevoked,
        EntryType::DeviceActivated,
        EntryType::DeviceDecommissioned,
        EntryType::CarrierAuthorized,
        EntryType::AuthorizationRevoked,
        EntryType::AccessLogAnchored,
    ];

    /// The `type` member's value.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::PropertyRegistered => "property_registered",
            EntryType::InstallationRequested => "installation_requested",
            EntryType::ConsentGranted => "consent_granted",
            EntryType::ConsentRevoked => "consent_revoked",
            EntryType::DeviceActivated => "device_activated",
            EntryType::DeviceDecommissioned => "device_decommissioned",
            EntryType::CarrierAuthorized => "carrier_authorized",
            EntryType::AuthorizationRevoked => "authorization_revoked",
            EntryType::AccessLogAnchored => "access_log_anchored",
        }
    }

    /// The type a `type` member names, if it is one of ours.
    pub fn from_name(name: &str) -> Option<EntryType> {
        EntryType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl fmt::Display for EntryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who holds a property's private key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Custody {
    /// The Doorman server keeps it, encrypted at rest.
    Custodial,
    /// The owner keeps it and signs offline; the server never holds it.
    #[serde(rename = "self")]
    SelfCustody,
}

/// A public log entry. Text members hold validated values (identifiers per
/// `doorman_core::ids`, keys as `ed25519/<hex>`, times as RFC 3339 UTC whole seconds,
/// tokens as unpadded base64url, revocation ids as lowercase hex, reasons as `[a-z0-9_]` codes).
/// Build one with the struct literal and check it with [`PublicEntry::validate`] (which
/// [`PublicEntry::to_bytes`] runs), or parse one with [`PublicEntry::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum PublicEntry {
    /// The operator verified that a claimant owns or manages the property: from now on the
    /// property key is the root of every consent and authorization at this address.
    PropertyRegistered {
        at: String,
        property: String,
        /// The address as registered, for people.
        address: String,
        /// `normalize_address(address)`, for lookups.
        address_key: String,
        /// IANA time zone of the property.
        time_zone: String,
        property_key: String,
        custody: Custody,
        /// The operator organisation that verified the claim.
        verified_by: String,
    },
    /// An installer asked to put a device on a door.
    InstallationRequested {
        at: String,
        property: String,
        request: String,
        door: String,
        device: String,
        device_key: String,
        installer: String,
    },
    /// The property signed the device's installation consent (the token is included).
    ConsentGranted {
        at: String,
        property: String,
        request: String,
        door: String,
        device: String,
        device_key: String,
        installer: String,
        not_before: String,
        not_after: String,
        /// The consent token, base64url: anyone can check it against `property_key`.
        consent: String,
        revocation_id: String,
    },
    /// The property withdrew a consent: the device must stop.
    ConsentRevoked {
        at: String,
        property: String,
        door: String,
        device: String,
        revocation_id: String,
        reason: String,
    },
    /// A device verified its consent and started serving its door.
    DeviceActivated {
        at: String,
        property: String,
        door: String,
        device: String,
        device_key: String,
    },
    /// A device was taken off its door for good.
    DeviceDecommissioned {
        at: String,
        property: String,
        door: String,
        device: String,
        reason: String,
    },
    /// The property authorized a carrier (the token is included).
    CarrierAuthorized {
        at: String,
        property: String,
        carrier: String,
        carrier_key: String,
        /// Sorted, no duplicates.
        doors: Vec<String>,
        /// The weekly schedule in canonical text, on the property's wall clock.
        schedule: String,
        time_zone: String,
        daily_cap: Option<u32>,
        not_before: String,
        not_after: String,
        /// The authorization token, base64url.
        authorization: String,
        revocation_id: String,
    },
    /// The property revoked a carrier authorization, and with it every pass minted on it.
    AuthorizationRevoked {
        at: String,
        property: String,
        carrier: String,
        revocation_id: String,
        reason: String,
    },
    /// A checkpoint of the property's private access log, so its history cannot be rewritten
    /// unnoticed.
    AccessLogAnchored {
        at: String,
        property: String,
        /// The access log's origin line.
        origin: String,
        size: u64,
        /// Its root hash, standard padded base64 (as in the checkpoint).
        root: String,
    },
}

impl PublicEntry {
    /// The entry's type.
    pub fn entry_type(&self) -> EntryType {
        match self {
            PublicEntry::PropertyRegistered { .. } => EntryType::PropertyRegistered,
            PublicEntry::InstallationRequested { .. } => EntryType::InstallationRequested,
            PublicEntry::ConsentGranted { .. } => EntryType::ConsentGranted,
            PublicEntry::ConsentRevoked { .. } => EntryType::ConsentRevoked,
            PublicEntry::DeviceActivated { .. } => EntryType::DeviceActivated,
            PublicEntry::DeviceDecommissioned { .. } => EntryType::DeviceDecommissioned,
            PublicEntry::CarrierAuthorized { .. } => EntryType::CarrierAuthorized,
            PublicEntry::AuthorizationRevoked { .. } => EntryType::AuthorizationRevoked,
            PublicEntry::AccessLogAnchored { .. } => EntryType::AccessLogAnchored,
        }
    }

    /// The property every entry is about.
    pub fn property(&self) -> &str {
        match self {
            PublicEntry::PropertyRegistered { property, .. }
            | PublicEntry::InstallationRequested { property, .. }
            | PublicEntry::ConsentGranted { property, .. }
            | PublicEntry::ConsentRevoked { property, .. }
            | PublicEntry::DeviceActivated { property, .. }
            | PublicEntry::DeviceDecommissioned { property, .. }
            | PublicEntry::CarrierAuthorized { property, .. }
            | PublicEntry::AuthorizationRevoked { property, .. }
            | PublicEntry::AccessLogAnchored { property, .. } => property,
        }
    }

    /// When it happened (RFC 3339 UTC).
    pub fn at(&self) -> &str {
        match self {
            PublicEntry::PropertyRegistered { at, .. }
            | PublicEntry::InstallationRequested { at, .. }
            | PublicEntry::ConsentGranted { at, .. }
            | PublicEntry::ConsentRevoked { at, .. }
            | PublicEntry::DeviceActivated { at, .. }
            | PublicEntry::DeviceDecommissioned { at, .. }
            | PublicEntry::CarrierAuthorized { at, .. }
            | PublicEntry::AuthorizationRevoked { at, .. }
            | PublicEntry::AccessLogAnchored { at, .. } => at,
        }
    }

    /// Parses a logged entry: exactly its canonical bytes (see [`PublicEntry::to_bytes`]),
    /// a known type, version [`VERSION`], every member valid.
    pub fn parse(bytes: &[u8]) -> Result<PublicEntry, EntryError> {
        let entry = PublicEntry::from_json(bytes)?;
        // `from_json` validated it; encoding alone is left.
        if entry.encode()? != bytes {
            return Err(EntryError::NotCanonical);
        }
        Ok(entry)
    }

    /// Parses an entry from any JSON spelling (member order, whitespace) and validates it:
    /// what an operator's tool accepts before writing the canonical bytes.
    pub fn from_json(bytes: &[u8]) -> Result<PublicEntry, EntryError> {
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| EntryError::NotUtf8)?;
        let mut value =
            parse_no_duplicates(text).map_err(|e| EntryError::BadJson(e.to_string()))?;
        let object = value.as_object_mut().ok_or(EntryError::NotAnObject)?;
        let name = match object.get("type") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(EntryError::BadMember("type".into(), "not a string".into())),
            None => return Err(EntryError::MissingType),
        };
        let kind = EntryType::from_name(&name).ok_or(EntryError::UnknownType(name.clone()))?;
        match object.remove("v") {
            Some(Value::Number(n)) if n.as_u64() == Some(VERSION) => {}
            Some(Value::Number(n)) => {
                return Err(EntryError::UnsupportedVersion {
                    kind: name,
                    version: n.to_string(),
                });
            }
            Some(_) => return Err(EntryError::BadMember("v".into(), "not a number".into())),
            None => return Err(EntryError::MissingVersion(name)),
        }
        let entry: PublicEntry = serde_json::from_value(value)
            .map_err(|e| EntryError::BadMember(kind.as_str().into(), e.to_string()))?;
        entry.validate()?;
        Ok(entry)
    }

    /// The canonical bytes (see `canonical`), after [`PublicEntry::validate`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        self.validate()?;
        self.encode()
    }

    /// The canonical bytes of an entry already validated.
    fn encode(&self) -> Result<Vec<u8>, EntryError> {
        let mut value =
            serde_json::to_value(self).map_err(|e| EntryError::BadJson(e.to_string()))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("v".to_string(), Value::from(VERSION));
            // An absent cap is written as an absent member, not `null`.
            object.retain(|_, member| !member.is_null());
        }
        let bytes = to_canonical(&value).into_bytes();
        if bytes.len() > MAX_ENTRY_LEN {
            return Err(EntryError::TooLarge(bytes.len()));
        }
        Ok(bytes)
    }

    /// Checks every member. No personal data can pass: members are identifiers, keys, times,
    /// codes and tokens, and the only free text is the building's address.
    pub fn validate(&self) -> Result<(), EntryError> {
        time("at", self.at())?;
        id::<PropertyId>("property", self.property())?;
        match self {
            PublicEntry::PropertyRegistered {
                address,
                address_key,
                time_zone,
                property_key,
                verified_by,
                ..
            } => {
                if address.chars().any(char::is_control) || address.trim() != address {
                    return Err(bad("address", "has control characters or outer spaces"));
                }
                let key = normalize_address(address)?;
                if &key != address_key {
                    return Err(bad(
                        "address_key",
                        &format!("is not the normalised address ({key:?})"),
                    ));
                }
                zone(time_zone)?;
                public_key("property_key", property_key)?;
                id::<OrgId>("verified_by", verified_by)?;
            }
            PublicEntry::InstallationRequested {
                request,
                door,
                device,
                device_key,
                installer,
                ..
            } => {
                id::<RequestId>("request", request)?;
                device_members(door, device, device_key)?;
                id::<InstallerId>("installer", installer)?;
            }
            PublicEntry::ConsentGranted {
                request,
                door,
                device,
                device_key,
                installer,
                not_before,
                not_after,
                consent,
                revocation_id,
                ..
            } => {
                id::<RequestId>("request", request)?;
                device_members(door, device, device_key)?;
                id::<InstallerId>("installer", installer)?;
                window(not_before, not_after)?;
                token("consent", consent)?;
                hex_id("revocation_id", revocation_id)?;
            }
            PublicEntry::ConsentRevoked {
                door,
                device,
                revocation_id,
                reason,
                ..
            } => {
                id::<DoorId>("door", door)?;
                id::<DeviceId>("device", device)?;
                hex_id("revocation_id", revocation_id)?;
                reason_code(reason)?;
            }
            PublicEntry::DeviceActivated {
                door,
                device,
                device_key,
                ..
            } => device_members(door, device, device_key)?,
            PublicEntry::DeviceDecommissioned {
                door,
                device,
                reason,
                ..
            } => {
                id::<DoorId>("door", door)?;
                id::<DeviceId>("device", device)?;
                reason_code(reason)?;
            }
            PublicEntry::CarrierAuthorized {
                carrier,
                carrier_key,
                doors,
                schedule,
                time_zone,
                daily_cap: _,
                not_before,
                not_after,
                authorization,
                revocation_id,
                ..
            } => {
                id::<CarrierId>("carrier", carrier)?;
                public_key("carrier_key", carrier_key)?;
                if doors.is_empty() {
                    return Err(bad("doors", "is empty"));
                }
                for door in doors {
                    id::<DoorId>("doors", door)?;
                }
                if !doors.windows(2).all(|w| w.first() < w.last()) {
                    return Err(bad("doors", "is not sorted without duplicates"));
                }
                let parsed: WeeklySchedule = schedule
                    .parse()
                    .map_err(|e| bad("schedule", &format!("{e}")))?;
                if parsed.to_string() != *schedule {
                    return Err(bad(
                        "schedule",
                        &format!("is not in canonical form ({parsed})"),
                    ));
                }
                zone(time_zone)?;
                window(not_before, not_after)?;
                token("authorization", authorization)?;
                hex_id("revocation_id", revocation_id)?;
            }
            PublicEntry::AuthorizationRevoked {
                carrier,
                revocation_id,
                reason,
                ..
            } => {
                id::<CarrierId>("carrier", carrier)?;
                hex_id("revocation_id", revocation_id)?;
                reason_code(reason)?;
            }
            PublicEntry::AccessLogAnchored {
                origin, size, root, ..
            } => {
                if origin.is_empty()
                    || origin.len() > 256
                    || origin
                        .chars()
                        .any(|c| c.is_whitespace() || c.is_control() || c == '+')
                {
                    return Err(bad(
                        "origin",
                        "is not a log origin (1-256 bytes, no spaces, '+' or control characters)",
                    ));
                }
                if *size == 0 {
                    return Err(bad("size", "is 0; an empty log has nothing to anchor"));
                }
                use base64::Engine as _;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(root)
                    .map_err(|_| bad("root", "is not standard padded base64"))?;
                if bytes.len() != 32 {
                    return Err(bad("root", "is not a 32-byte hash"));
                }
            }
        }
        Ok(())
    }

    /// The doors named, for entries about doors.
    pub fn doors(&self) -> BTreeSet<&str> {
        match self {
            PublicEntry::InstallationRequested { door, .. }
            | PublicEntry::ConsentGranted { door, .. }
            | PublicEntry::ConsentRevoked { door, .. }
            | PublicEntry::DeviceActivated { door, .. }
            | PublicEntry::DeviceDecommissioned { door, .. } => BTreeSet::from([door.as_str()]),
            PublicEntry::CarrierAuthorized { doors, .. } => {
                doors.iter().map(String::as_str).collect()
            }
            _ => BTreeSet::new(),
        }
    }
}

fn bad(member: &str, why: &str) -> EntryError {
    EntryError::BadMember(member.to_string(), why.to_string())
}

fn id<T: std::str::FromStr<Err = doorman_core::IdError>>(
    member: &str,
    value: &str,
) -> Result<(), EntryError> {
    T::from_str(value)
        .map(|_| ())
        .map_err(|e| bad(member, &e.to_string()))
}

fn device_members(door: &str, device: &str, device_key: &str) -> Result<(), EntryError> {
    id::<DoorId>("door", door)?;
    id::<DeviceId>("device", device)?;
    public_key("device_key", device_key).map(|_| ())
}

/// Parses a time member: RFC 3339 in UTC, whole seconds, as `jiff` prints it
/// (`2026-11-25T10:00:00Z`).
pub(crate) fn time(member: &str, value: &str) -> Result<Timestamp, EntryError> {
    let ts: Timestamp = value
        .parse()
        .map_err(|_| bad(member, "is not an RFC 3339 time"))?;
    if ts.subsec_nanosecond() != 0 || ts.to_string() != value {
        return Err(bad(
            member,
            "is not in UTC whole seconds as YYYY-MM-DDTHH:MM:SSZ",
        ));
    }
    Ok(ts)
}

fn window(not_before: &str, not_after: &str) -> Result<(), EntryError> {
    if time("not_before", not_before)? >= time("not_after", not_after)? {
        return Err(bad("not_after", "is not after not_before"));
    }
    Ok(())
}

pub(crate) fn public_key(member: &str, value: &str) -> Result<PublicKey, EntryError> {
    let key: PublicKey = value.parse().map_err(|e| bad(member, &format!("{e}")))?;
    if key.to_string() != value {
        return Err(bad(
            member,
            "is not in canonical form (ed25519/<64 lowercase hex>)",
        ));
    }
    Ok(key)
}

fn zone(value: &str) -> Result<(), EntryError> {
    doorman_trust::authorization::time_zone(value)
        .map(|_| ())
        .map_err(|e| bad("time_zone", &e.to_string()))
}

fn token(member: &str, value: &str) -> Result<(), EntryError> {
    if value.len() > MAX_TOKEN_TEXT {
        return Err(bad(member, "is too long"));
    }
    let bytes = doorman_trust::token::decode(value).map_err(|e| bad(member, &e.to_string()))?;
    if doorman_trust::token::encode(&bytes) != value {
        return Err(bad(member, "is not unpadded base64url"));
    }
    Ok(())
}

fn hex_id(member: &str, value: &str) -> Result<(), EntryError> {
    if value.is_empty()
        || value.len() > 256
        || !value.len().is_multiple_of(2)
        || !value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad(member, "is not lowercase hex (1-128 bytes)"));
    }
    Ok(())
}

fn reason_code(value: &str) -> Result<(), EntryError> {
    if value.is_empty()
        || value.len() > MAX_REASON_LEN
        || !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(bad(
            "reason",
            "is not a reason code ([a-z0-9_], 1-64 bytes); free text stays out of the public log",
        ));
    }
    Ok(())
}

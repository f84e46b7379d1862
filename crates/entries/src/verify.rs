//! Checking an entry's embedded token against the property key of its `property_registered`
//! entry: the log operator cannot log a consent or an authorization the property never signed,
//! nor describe a signed one wrongly, without every monitor noticing.

use std::collections::BTreeSet;

use doorman_trust::{PublicKey, read_authorization, read_consent};

use crate::EntryError;
use crate::entry::{PublicEntry, public_key};

/// For `consent_granted` and `carrier_authorized`: the token verifies under `property_key`
/// and says exactly what the entry's members say (property, door or doors, device or carrier
/// key, installer, window, schedule, time zone, cap, revocation id). Other types: `Ok`.
pub fn check_tokens(entry: &PublicEntry, property_key: &PublicKey) -> Result<(), EntryError> {
    let mismatch = |member: &str, token: String| {
        Err(EntryError::TokenMismatch(format!(
            "{member} in the entry differs from the token ({token})"
        )))
    };
    match entry {
        PublicEntry::ConsentGranted {
            property,
            door,
            device_key,
            installer,
            not_before,
            not_after,
            consent,
            revocation_id,
            ..
        } => {
            let bytes = doorman_trust::token::decode(consent)
                .map_err(|e| EntryError::TokenMismatch(e.to_string()))?;
            let verified = read_consent(&bytes, property_key).map_err(|e| {
                EntryError::TokenMismatch(format!("the consent does not verify: {e}"))
            })?;
            let spec = verified.spec();
            if spec.property.as_str() != property {
                return mismatch("property", spec.property.to_string());
            }
            if spec.door.as_str() != door {
                return mismatch("door", spec.door.to_string());
            }
            if spec.device != public_key("device_key", device_key)? {
                return mismatch("device_key", spec.device.to_string());
            }
            if spec.installer.as_str() != installer {
                return mismatch("installer", spec.installer.to_string());
            }
            if spec.not_before.to_string() != *not_before {
                return mismatch("not_before", spec.not_before.to_string());
            }
            if spec.not_after.to_string() != *not_after {
                return mismatch("not_after", spec.not_after.to_string());
            }
            let rid = doorman_trust::token::revocation_hex(verified.revocation_id());
            if rid != *revocation_id {
                return mismatch("revocation_id", rid);
            }
        }
        PublicEntry::CarrierAuthorized {
            property,
            carrier,
            carrier_key,
            doors,
            schedule,
            time_zone,
            daily_cap,
            not_before,
            not_after,
            authorization,
            revocation_id,
            ..
        } => {
            let bytes = doorman_trust::token::decode(authorization)
                .map_err(|e| EntryError::TokenMismatch(e.to_string()))?;
            let verified = read_authorization(&bytes, property_key).map_err(|e| {
                EntryError::TokenMismatch(format!("the authorization does not verify: {e}"))
            })?;
            let spec = &verified.spec;
            if spec.property.as_str() != property {
                return mismatch("property", spec.property.to_string());
            }
            if spec.carrier.as_str() != carrier {
                return mismatch("carrier", spec.carrier.to_string());
            }
            if spec.carrier_key != public_key("carrier_key", carrier_key)? {
                return mismatch("carrier_key", spec.carrier_key.to_string());
            }
            let token_doors: BTreeSet<&str> = spec.doors.iter().map(|d| d.as_str()).collect();
            let entry_doors: BTreeSet<&str> = doors.iter().map(String::as_str).collect();
            if token_doors != entry_doors {
                return mismatch("doors", format!("{token_doors:?}"));
            }
            if spec.schedule.to_string() != *schedule {
                return mismatch("schedule", spec.schedule.to_string());
            }
            if spec.time_zone != *time_zone {
                return mismatch("time_zone", spec.time_zone.clone());
            }
            if spec.daily_cap != *daily_cap {
                return mismatch("daily_cap", format!("{:?}", spec.daily_cap));
            }
            if spec.not_before.to_string() != *not_before {
                return mismatch("not_before", spec.not_before.to_string());
            }
            if spec.not_after.to_string() != *not_after {
                return mismatch("not_after", spec.not_after.to_string());
            }
            let rid = doorman_trust::token::revocation_hex(&verified.revocation_id);
            if rid != *revocation_id {
                return mismatch("revocation_id", rid);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A `consent_granted` entry for a consent token, its members read from the token (which must
/// verify under `property_key`).
pub fn consent_granted_entry(
    at: jiff::Timestamp,
    request: &str,
    device: &str,
    token: &[u8],
    property_key: &PublicKey,
) -> Result<PublicEntry, EntryError> {
    let verified = read_consent(token, property_key)
        .map_err(|e| EntryError::TokenMismatch(format!("the consent does not verify: {e}")))?;
    let spec = verified.spec();
    let entry = PublicEntry::ConsentGranted {
        at: at.to_string(),
        property: spec.property.to_string(),
        request: request.to_string(),
        door: spec.door.to_string(),
        device: device.to_string(),
        device_key: spec.device.to_string(),
        installer: spec.installer.to_string(),
        not_before: spec.not_before.to_string(),
        not_after: spec.not_after.to_string(),
        consent: doorman_trust::token::encode(token),
        revocation_id: doorman_trust::token::revocation_hex(verified.revocation_id()),
    };
    entry.validate()?;
    Ok(entry)
}

/// A `carrier_authorized` entry for an authorization token, its members read from the token
/// (which must verify under `property_key`).
pub fn carrier_authorized_entry(
    at: jiff::Timestamp,
    token: &[u8],
    property_key: &PublicKey,
) -> Result<PublicEntry, EntryError> {
    let verified = read_authorization(token, property_key).map_err(|e| {
        EntryError::TokenMismatch(format!("the authorization does not verify: {e}"))
    })?;
    let spec = &verified.spec;
    let entry = PublicEntry::CarrierAuthorized {
        at: at.to_string(),
        property: spec.property.to_string(),
        carrier: spec.carrier.to_string(),
        carrier_key: spec.carrier_key.to_string(),
        doors: spec.doors.iter().map(|d| d.to_string()).collect(),
        schedule: spec.schedule.to_string(),
        time_zone: spec.time_zone.clone(),
        daily_cap: spec.daily_cap,
        not_before: spec.not_before.to_string(),
        not_after: spec.not_after.to_string(),
        authorization: doorman_trust::token::encode(token),
        revocation_id: doorman_trust::token::revocation_hex(&verified.revocation_id),
    };
    entry.validate()?;
    Ok(entry)
}

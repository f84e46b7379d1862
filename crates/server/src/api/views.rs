//! Input checks (each answering a stable code naming the member) and the record → wire view
//! conversions.

use doorman_core::IdError;
use doorman_proto::codes::Code;
use doorman_proto::{
    AuthorizationView, ConsentView, DecisionView, DoorView, DriverView, EvidenceView,
    InstallationView, InvitationView, OrgView, PassView, PropertyView, RevocationView, TokenView,
};
use doorman_store::control::{
    ApiToken, Authorization, Decision, Door, Driver, Evidence, Installation, Invitation, Org, Pass,
    Property, Revocation,
};
use doorman_trust::PublicKey;
use jiff::Timestamp;

use super::{Api, ApiError};

/// Longest name (of a person, organisation, property, door), in characters.
const MAX_NAME: usize = 200;
/// Longest wiring notes, in bytes.
pub(crate) const MAX_NOTES: usize = 8 * 1024;
/// Longest note of a decision (the operator's evidence note), in bytes.
pub(crate) const MAX_NOTE: usize = 2 * 1024;
/// Password length in bytes.
const MIN_PASSWORD: usize = 12;
const MAX_PASSWORD: usize = 1024;

pub(crate) fn check_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    let bad = || {
        ApiError::new(
            Code::BadEmail,
            format!("email: {email:?} is not an email address"),
        )
    };
    let (local, domain) = email.split_once('@').ok_or_else(bad)?;
    if email.len() > 254
        || local.is_empty()
        || domain.len() < 3
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains('@')
        || email.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';')
        })
    {
        return Err(bad());
    }
    Ok(email)
}

pub(crate) fn check_name(name: &str, member: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("{member}: give 1 to {MAX_NAME} characters without control characters"),
        ));
    }
    Ok(name.to_string())
}

pub(crate) fn check_password(password: &str) -> Result<(), ApiError> {
    if password.len() < MIN_PASSWORD || password.len() > MAX_PASSWORD {
        return Err(ApiError::new(
            Code::WeakPassword,
            format!(
                "password: use {MIN_PASSWORD} to {MAX_PASSWORD} bytes (a passphrase of a few words is good)"
            ),
        ));
    }
    Ok(())
}

/// A free-text note (decisions, wiring notes): bounded, no control characters but newlines
/// and tabs. Notes stay in the control plane; the public log only ever carries reason codes.
pub(crate) fn check_note(note: &str, member: &str, max: usize) -> Result<String, ApiError> {
    if note.len() > max
        || note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("{member}: at most {max} bytes, no control characters"),
        ));
    }
    Ok(note.trim().to_string())
}

/// A reason code: what the public log may carry instead of free text.
pub(crate) fn check_reason(reason: &str) -> Result<String, ApiError> {
    if reason.is_empty()
        || reason.len() > 64
        || !reason
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(ApiError::new(
            Code::BadReason,
            "reason: a code of 1 to 64 of a-z, 0-9 and _ (such as contract_ended or wrong_door); the public log carries codes, never free text",
        ));
    }
    Ok(reason.to_string())
}

/// A validated identifier.
pub(crate) fn id<T>(
    s: &str,
    member: &str,
    make: impl FnOnce(String) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    make(s.to_string()).map_err(|e| ApiError::new(Code::BadId, format!("{member}: {e}")))
}

/// An identifier from the path: anything invalid cannot name a thing, so it is not found.
pub(crate) fn path_id<T>(
    s: &str,
    what: &str,
    make: impl FnOnce(String) -> Result<T, IdError>,
) -> Result<T, ApiError> {
    make(s.to_string()).map_err(|_| ApiError::not_found(what))
}

pub(crate) fn key(s: &str, member: &str) -> Result<PublicKey, ApiError> {
    s.trim()
        .parse::<PublicKey>()
        .map_err(|e| ApiError::new(Code::BadKey, format!("{member}: {e}")))
}

pub(crate) fn time_zone(s: &str) -> Result<String, ApiError> {
    doorman_trust::authorization::time_zone(s)
        .map(|_| s.to_string())
        .map_err(|_| ApiError::new(Code::BadTimeZone, format!("time_zone: {s:?} is not an IANA time zone (such as Europe/Paris or America/New_York)")))
}

/// A timestamp truncated to whole seconds (tokens and public entries carry seconds).
pub(crate) fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

impl Api {
    /// The log index of an outbox entry, once published.
    pub(crate) fn log_index(&self, outbox: Option<i64>) -> Option<u64> {
        outbox
            .and_then(|o| self.store.outbox(o).ok().flatten())
            .and_then(|r| r.log_index)
    }

    /// Waits (at most the configured time) for an outbox entry to be published.
    pub(crate) fn published(&self, outbox: i64) -> Option<u64> {
        self.publisher.wait_for(outbox, self.config.publish_wait);
        self.log_index(Some(outbox))
    }
}

pub(crate) fn decision_view(d: &Decision) -> DecisionView {
    DecisionView {
        by: d.by.clone(),
        org: d.org.to_string(),
        note: d.note.clone(),
        at: d.at,
    }
}

pub(crate) fn org_view(o: &Org) -> OrgView {
    OrgView {
        id: o.id.to_string(),
        kind: o.kind.to_string(),
        name: o.name.clone(),
        created_at: o.created_at,
        carrier_key: o.carrier_key.as_ref().map(|k| k.public_key.clone()),
        carrier_key_custodial: o.carrier_key.as_ref().map(|k| k.sealed_secret.is_some()),
    }
}

pub(crate) fn invitation_view(i: &Invitation, code: Option<String>) -> InvitationView {
    InvitationView {
        id: i.id.clone(),
        org: i.org.to_string(),
        role: i.role.to_string(),
        email: i.email.clone(),
        property: i.property.as_ref().map(ToString::to_string),
        unit: i.unit.as_ref().map(ToString::to_string),
        expires_at: i.expires_at,
        accepted_at: i.accepted_at,
        code,
    }
}

pub(crate) fn token_view(t: &ApiToken, secret: Option<String>) -> TokenView {
    TokenView {
        id: t.id.clone(),
        org: t.org.to_string(),
        name: t.name.clone(),
        role: t.role.to_string(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
        last_used_at: t.last_used_at,
        token: secret,
    }
}

pub(crate) fn driver_view(d: &Driver) -> DriverView {
    DriverView {
        id: d.id.clone(),
        name: d.name.clone(),
        public_key: d.public_key.clone(),
        created_at: d.created_at,
        removed_at: d.removed_at,
    }
}

pub(crate) fn door_view(d: &Door) -> DoorView {
    DoorView {
        id: d.door.to_string(),
        name: d.name.clone(),
        created_at: d.created_at,
    }
}

pub(crate) fn property_view(api: &Api, p: &Property) -> PropertyView {
    PropertyView {
        id: p.id.to_string(),
        org: p.org.to_string(),
        name: p.name.clone(),
        address: p.address.clone(),
        address_key: p.address_key.clone(),
        time_zone: p.time_zone.clone(),
        custody: match p.custody {
            doorman_entries::Custody::Custodial => "custodial",
            doorman_entries::Custody::SelfCustody => "self",
        }
        .to_string(),
        public_key: p.public_key.clone(),
        status: p.status.as_str().to_string(),
        created_at: p.created_at,
        decision: p.decision.as_ref().map(decision_view),
        log_index: api.log_index(p.registered_outbox),
    }
}

pub(crate) fn evidence_view(e: &Evidence) -> EvidenceView {
    EvidenceView {
        number: e.number,
        content_type: e.content_type.clone(),
        size: e.size,
        sha256: hex::encode(&e.sha256),
        created_at: e.created_at,
    }
}

pub(crate) fn installation_view(
    api: &Api,
    i: &Installation,
    evidence: &[Evidence],
) -> InstallationView {
    let consent = i.consent.as_ref().map(|c| c.outbox);
    installation_view_with(
        i,
        evidence,
        api.log_index(Some(i.requested_outbox)),
        api.log_index(consent),
    )
}

/// [`installation_view`] with the log indexes (request, consent) already looked up.
pub(crate) fn installation_view_with(
    i: &Installation,
    evidence: &[Evidence],
    request_index: Option<u64>,
    consent_index: Option<u64>,
) -> InstallationView {
    InstallationView {
        id: i.id.to_string(),
        property: i.property.to_string(),
        door: i.door.to_string(),
        installer: i.installer_org.to_string(),
        filed_by: i.filed_by.clone(),
        device_id: i.device.to_string(),
        device_key: i.device_key.clone(),
        notes: i.notes.clone(),
        status: i.status.as_str().to_string(),
        created_at: i.created_at,
        log_index: request_index,
        decision: i.decision.as_ref().map(decision_view),
        consent: i.consent.as_ref().map(|c| ConsentView {
            token: c.token.clone(),
            revocation_id: hex::encode(&c.revocation_id),
            not_before: c.not_before,
            not_after: c.not_after,
            log_index: consent_index,
        }),
        revocation: i.revocation.as_ref().map(decision_view),
        evidence: evidence.iter().map(evidence_view).collect(),
    }
}

pub(crate) fn authorization_view(
    api: &Api,
    a: &Authorization,
    now: Timestamp,
) -> AuthorizationView {
    authorization_view_with(a, now, api.log_index(Some(a.outbox)))
}

/// `revoked`, `expired` or `active`.
pub(crate) fn authorization_status(a: &Authorization, now: Timestamp) -> &'static str {
    if a.revocation.is_some() {
        "revoked"
    } else if a.not_after <= now {
        "expired"
    } else {
        "active"
    }
}

/// [`authorization_view`] with the log index already looked up (lists batch it).
pub(crate) fn authorization_view_with(
    a: &Authorization,
    now: Timestamp,
    log_index: Option<u64>,
) -> AuthorizationView {
    let status = authorization_status(a, now);
    AuthorizationView {
        id: a.id.clone(),
        property: a.property.to_string(),
        carrier: a.carrier.to_string(),
        carrier_key: a.carrier_key.clone(),
        doors: a.doors.iter().map(ToString::to_string).collect(),
        schedule: a.schedule.clone(),
        time_zone: a.time_zone.clone(),
        daily_cap: a.daily_cap,
        max_pass_seconds: a.max_pass_seconds,
        not_before: a.not_before,
        not_after: a.not_after,
        status: status.to_string(),
        token: a.token.clone(),
        revocation_id: hex::encode(&a.revocation_id),
        created_at: a.created_at,
        log_index,
        revocation: a.revocation.as_ref().map(decision_view),
    }
}

pub(crate) fn pass_view(p: &Pass) -> PassView {
    PassView {
        id: p.id.clone(),
        authorization: p.authorization.clone(),
        door: p.door.to_string(),
        unit: p.unit.to_string(),
        delivery: p.delivery.to_string(),
        driver: p.driver.clone(),
        driver_key: p.driver_key.clone(),
        not_before: p.not_before,
        not_after: p.not_after,
        token: p.token.clone(),
        minted_at: p.minted_at,
    }
}

pub(crate) fn revocation_view(r: &Revocation) -> RevocationView {
    RevocationView {
        revocation_id: hex::encode(&r.revocation_id),
        kind: r.kind.as_str().to_string(),
        reference: r.reference.clone(),
        reason: r.reason.clone(),
        revoked_at: r.revoked_at,
        expires_at: r.expires_at,
    }
}

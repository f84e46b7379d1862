//! The signed device state of each property (`doorman_trust::state`): its revocation list
//! and its service state, signed with the property key.
//!
//! For a custodial property the server signs a new document whenever the revocations or the
//! switch change, and re-issues it (same content, new `seq` and `issued_at`) before it gets
//! older than the refresh interval, so an online device never sees its list go stale. A
//! self-custody owner signs offline and uploads; the server only checks and serves what they
//! upload (and says, in `GET .../revocations`, what is pending).

use doorman_core::PropertyId;
use doorman_entries::Custody;
use doorman_proto::SignedDocumentView;
use doorman_proto::codes::Code;
use doorman_store::control::{DocumentKind, Property, PropertyStatus, SignedDocument};
use doorman_trust::{RevocationList, ServiceState};
use jiff::{SignedDuration, Timestamp};

use crate::api::{Api, ApiError};

/// How old a custodial document may get before it is re-issued. Devices refuse passes once
/// their revocation list is older than their offline bound (24 h by default): re-issuing
/// hourly keeps a connected device far inside it.
pub const REFRESH_INTERVAL: SignedDuration = SignedDuration::from_hours(1);

fn whole(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}

fn log_failure(property: &PropertyId, what: &str, e: impl std::fmt::Display) {
    eprintln!(
        "doorman serve: signing the {what} of {property} failed (retried at the next change or refresh): {e}"
    );
}

/// The revocation list a new document would carry now.
fn revocation_list(
    api: &Api,
    p: &Property,
    previous: Option<&SignedDocument>,
    now: Timestamp,
) -> Result<RevocationList, ApiError> {
    let active = api
        .store
        .revocations(&p.id, Some(now))
        .map_err(|e| ApiError::store(e, "revocations", Code::Internal))?;
    Ok(RevocationList {
        property: p.id.clone(),
        seq: previous.map_or(1, |d| d.seq.saturating_add(1)),
        issued_at: whole(now),
        revoked: active.into_iter().map(|r| r.revocation_id).collect(),
    })
}

fn service_state(
    api: &Api,
    p: &Property,
    previous: Option<&SignedDocument>,
    now: Timestamp,
) -> Result<(ServiceState, u64), ApiError> {
    let s = api
        .store
        .service(&p.id)
        .map_err(|e| ApiError::store(e, "service", Code::Internal))?;
    Ok((
        ServiceState {
            property: p.id.clone(),
            seq: previous.map_or(1, |d| d.seq.saturating_add(1)),
            issued_at: whole(now),
            switch: s.switch,
        },
        s.seq,
    ))
}

/// For a custodial, verified property: signs whatever document is behind the records (or,
/// with `refresh`, older than [`REFRESH_INTERVAL`]). Failures are logged, never returned: the
/// change that called this is already committed, and the next call catches up.
pub fn issue(api: &Api, property: &PropertyId, refresh: bool) {
    let p = match api.store.property(property) {
        Ok(Some(p)) => p,
        Ok(None) => return,
        Err(e) => return log_failure(property, "state", e),
    };
    if p.custody != Custody::Custodial || p.status != PropertyStatus::Verified {
        return;
    }
    let secret = match crate::api::property_secret(api, &p) {
        Ok(k) => k,
        Err(e) => return log_failure(property, "state", e.detail),
    };
    let now = api.now();
    let stale = |d: &SignedDocument| {
        refresh
            && d.issued_at
                .checked_add(REFRESH_INTERVAL)
                .is_ok_and(|due| due <= now)
    };
    for kind in [DocumentKind::RevocationList, DocumentKind::ServiceState] {
        let previous = match api.store.document(&p.id, kind) {
            Ok(d) => d,
            Err(e) => {
                log_failure(property, kind.as_str(), e);
                continue;
            }
        };
        let covers_now = match kind {
            DocumentKind::RevocationList => p.revocation_seq,
            DocumentKind::ServiceState => p.service_seq,
        };
        if previous
            .as_ref()
            .is_some_and(|d| d.covers >= covers_now && !stale(d))
        {
            continue;
        }
        let signed = match kind {
            DocumentKind::RevocationList => {
                revocation_list(api, &p, previous.as_ref(), now).map(|l| {
                    let seq = l.seq;
                    (l.sign(&secret), seq, covers_now)
                })
            }
            DocumentKind::ServiceState => {
                service_state(api, &p, previous.as_ref(), now).map(|(s, covers)| {
                    let seq = s.seq;
                    (s.sign(&secret), seq, covers)
                })
            }
        };
        match signed {
            Ok((Ok(document), seq, covers)) => {
                let doc = SignedDocument {
                    property: p.id.clone(),
                    kind,
                    seq,
                    covers,
                    issued_at: whole(now),
                    document,
                };
                match api.store.put_document(&doc) {
                    Ok(()) => api.devices.state_changed(&p.id),
                    // Another change issued a newer one meanwhile: it covers this one.
                    Err(doorman_store::ControlError::Conflict(_)) => {}
                    Err(e) => log_failure(property, kind.as_str(), e),
                }
            }
            Ok((Err(e), _, _)) => log_failure(property, kind.as_str(), e),
            Err(e) => log_failure(property, kind.as_str(), e.detail),
        }
    }
}

/// Re-issues every custodial property's documents that are due (the keeper's round).
pub fn refresh_all(api: &Api) {
    match api.store.properties(None) {
        Ok(all) => {
            for p in all
                .iter()
                .filter(|p| p.status == PropertyStatus::Verified && p.custody == Custody::Custodial)
            {
                issue(api, &p.id, true);
            }
        }
        Err(e) => {
            eprintln!("doorman serve: listing properties to refresh their signed state failed: {e}")
        }
    }
}

/// The payload a self-custody owner should sign next (`None` if nothing is pending).
pub fn pending_revocation_payload(
    api: &Api,
    p: &Property,
    previous: Option<&SignedDocument>,
) -> Result<Option<Vec<u8>>, ApiError> {
    let list = revocation_list(api, p, previous, api.now())?;
    list.payload()
        .map(Some)
        .map_err(|e| ApiError::new(Code::LimitReached, e.to_string()))
}

/// The service state a self-custody owner should sign next.
pub fn pending_service_payload(
    api: &Api,
    p: &Property,
    previous: Option<&SignedDocument>,
) -> Result<Vec<u8>, ApiError> {
    let (state, _) = service_state(api, p, previous, api.now())?;
    state
        .payload()
        .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))
}

/// Stores a document a self-custody owner uploaded (already verified against the records).
pub fn store_uploaded(
    api: &Api,
    p: &Property,
    kind: DocumentKind,
    seq: u64,
    covers: u64,
    issued_at: Timestamp,
    document: Vec<u8>,
) -> Result<SignedDocumentView, ApiError> {
    let doc = SignedDocument {
        property: p.id.clone(),
        kind,
        seq,
        covers,
        issued_at,
        document,
    };
    api.store
        .put_document(&doc)
        .map_err(|e| ApiError::store(e, "document", Code::StaleState))?;
    api.devices.state_changed(&p.id);
    Ok(SignedDocumentView {
        property: p.id.to_string(),
        kind: kind.as_str().to_string(),
        seq,
        issued_at,
        document: String::from_utf8_lossy(&doc.document).into_owned(),
    })
}

//! Installation requests: an installer files one for a door with the device's enrolment data
//! and evidence; the property's owner or manager approves it (the consent is signed and
//! logged) or rejects it; a consent can be revoked at any time.

use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use doorman_core::{
    Action, DeviceId, DoorId, InstallerId, OrgId, OrgKind, PropertyId, RequestId, Role, Scope,
    authorize,
};
use doorman_entries::{Custody, PublicEntry, consent_granted_entry};
use doorman_proto::codes::Code;
use doorman_proto::{
    ActivationBundleView, ApproveRequest, CreateInstallationRequest, DeviceConfigView,
    EvidenceView, InstallationView, List, LoggedEntryView, ReasonRequest, SignedDocumentRequest,
};
use doorman_store::control::{
    Consent, Decision, Evidence, Installation, InstallationFilter, InstallationStatus, LogTarget,
    OutboxEntry, Property, PropertyStatus, Revocation, RevokedKind,
};
use doorman_trust::{ConsentSpec, read_consent, sign_consent, token};
use jiff::SignedDuration;
use sha2::{Digest, Sha256};

use super::auth::{Authed, new_id};
use super::properties::{property_secret, verified};
use super::views::{
    MAX_NOTE, MAX_NOTES, check_note, check_reason, evidence_view, id, installation_view,
    installation_view_with, key, path_id, whole_seconds,
};
use super::{Api, ApiError, Body, Created, Credentials, Json, Params, Shared, run};
use crate::state_docs;

/// The largest photo, in bytes (10 MiB).
pub const MAX_PHOTO_BYTES: usize = 10 * 1024 * 1024;

/// A consent's default validity when the approver gives no end.
const DEFAULT_CONSENT: SignedDuration = SignedDuration::from_hours(365 * 24);

/// A photo's type from its first bytes (whatever name or type it came with), if it is one
/// of the formats taken.
pub(crate) fn sniff_photo(bytes: &[u8]) -> Option<&'static str> {
    ["image/jpeg", "image/png", "image/webp", "image/heic"]
        .into_iter()
        .find(|t| photo_matches(t, bytes))
}

/// The photo formats taken, with the bytes each file starts with.
fn photo_matches(content_type: &str, bytes: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/webp" => {
            bytes.len() >= 12 && bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP")
        }
        "image/heic" | "image/heif" => bytes.get(4..8) == Some(b"ftyp"),
        _ => false,
    }
}

/// The scope of an installation request.
pub(crate) fn scope<'a>(i: &'a Installation, p: &'a Property) -> Scope<'a> {
    Scope {
        property_org: Some(&p.org),
        property: Some(&p.id),
        installer_org: Some(&i.installer_org),
        filed_by: Some(&i.filed_by),
        ..Scope::default()
    }
}

/// Loads a request (and its property) the caller may act on with `action`.
pub(crate) fn installation_for(
    api: &Api,
    who: &Authed,
    param: &str,
    action: Action,
) -> Result<(Installation, Property), ApiError> {
    let rid = path_id(param, "installation request", RequestId::new)?;
    let i = api
        .store
        .installation(&rid)
        .map_err(|e| ApiError::store(e, "installation request", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("installation request"))?;
    let p = api
        .store
        .property(&i.property)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("installation request"))?;
    authorize(&who.actor, action, &scope(&i, &p))
        .map_err(|r| ApiError::refused(r, "installation request"))?;
    Ok((i, p))
}

fn view(api: &Api, i: &Installation) -> Result<InstallationView, ApiError> {
    let evidence = api
        .store
        .evidence(&i.id)
        .map_err(|e| ApiError::store(e, "evidence", Code::Internal))?;
    Ok(installation_view(api, i, &evidence))
}

/// Installation requests the caller can see, newest last; `?property=` and `?status=` filter.
#[utoipa::path(get, path = "/api/v1/installations", tag = "installations", params(("property" = Option<String>, Query), ("status" = Option<String>, Query)),
    responses((status = 200, body = List<InstallationView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Shared>,
    creds: Credentials,
    RawQuery(q): RawQuery,
) -> Result<Json<List<InstallationView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let q = super::extract::query(q.as_deref(), &["property", "status"])?;
        let status = match q.get("status") {
            None => None,
            Some(s) => Some(InstallationStatus::parse(s).ok_or_else(|| {
                ApiError::new(
                    Code::BadQuery,
                    "status: requested, approved, rejected or revoked",
                )
            })?),
        };
        let property = q
            .get("property")
            .map(|p| PropertyId::new(p.as_str()))
            .transpose()
            .map_err(|e| ApiError::new(Code::BadQuery, format!("property: {e}")))?;
        let mut found: Vec<Installation> = Vec::new();
        for m in &who.actor.memberships {
            let filter = match (m.kind, m.role) {
                (OrgKind::Property, Role::Owner | Role::Manager) => InstallationFilter {
                    properties_of_org: Some(m.org.clone()),
                    ..Default::default()
                },
                (OrgKind::Installer, _) => InstallationFilter {
                    installer_org: Some(m.org.clone()),
                    ..Default::default()
                },
                _ => continue,
            };
            let filter = InstallationFilter {
                property: property.clone(),
                status,
                ..filter
            };
            for i in api
                .store
                .installations(&filter)
                .map_err(|e| ApiError::store(e, "installation requests", Code::Internal))?
            {
                if !found.iter().any(|f| f.id == i.id) {
                    found.push(i);
                }
            }
        }
        found.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        // One read per property and one for every log index, not one of each per item.
        let mut properties: std::collections::HashMap<PropertyId, Option<Property>> =
            std::collections::HashMap::new();
        let mut shown: Vec<&Installation> = Vec::new();
        for i in &found {
            if !properties.contains_key(&i.property) {
                let p = api
                    .store
                    .property(&i.property)
                    .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
                properties.insert(i.property.clone(), p);
            }
            if let Some(Some(p)) = properties.get(&i.property)
                && authorize(&who.actor, Action::ReadInstallation, &scope(i, p)).is_ok()
            {
                shown.push(i);
            }
        }
        let ids: Vec<i64> = shown
            .iter()
            .flat_map(|i| {
                [
                    i.requested_outbox,
                    i.consent.as_ref().map_or(-1, |c| c.outbox),
                ]
            })
            .collect();
        let indexes = api
            .store
            .log_indexes(&ids)
            .map_err(|e| ApiError::store(e, "log indexes", Code::Internal))?;
        let mut items = Vec::with_capacity(shown.len());
        for (i, pair) in shown.iter().zip(indexes.chunks(2)) {
            let evidence = api
                .store
                .evidence(&i.id)
                .map_err(|e| ApiError::store(e, "evidence", Code::Internal))?;
            let (request, consent) = match pair {
                [r, c] => (*r, *c),
                _ => (None, None),
            };
            items.push(installation_view_with(i, &evidence, request, consent));
        }
        Ok(Json(List::new(items)))
    })
    .await
}

/// File an installation request (installers): the device's id and key as it printed them at
/// first start, the door, wiring notes. `installation_requested` goes to the public log.
#[utoipa::path(post, path = "/api/v1/installations", tag = "installations", request_body = CreateInstallationRequest,
    responses((status = 201, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn file(
    State(api): State<Shared>,
    creds: Credentials,
    Body(req): Body<CreateInstallationRequest>,
) -> Result<Created<InstallationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let stored = file_as(api, &who, &req)?;
        Ok(Created(view(api, &stored)?))
    })
    .await
}

/// Files an installation request as `who` (the API's `POST /installations` and the
/// installers' form).
pub(crate) fn file_as(
    api: &Api,
    who: &Authed,
    req: &CreateInstallationRequest,
) -> Result<Installation, ApiError> {
    let installer_orgs: Vec<&OrgId> = who
        .actor
        .memberships
        .iter()
        .filter(|m| m.kind == OrgKind::Installer)
        .map(|m| &m.org)
        .collect();
    let installer = match (&req.installer, installer_orgs.as_slice()) {
        (Some(o), _) => id(o, "installer", OrgId::new)?,
        (None, [one]) => (*one).clone(),
        (None, []) => {
            return Err(ApiError::new(
                Code::Forbidden,
                "only installers file installation requests",
            ));
        }
        (None, _) => {
            return Err(ApiError::new(
                Code::InvalidField,
                "installer: you belong to several installer organisations; say which one files this",
            ));
        }
    };
    authorize(
        &who.actor,
        Action::FileInstallation,
        &Scope {
            installer_org: Some(&installer),
            ..Scope::default()
        },
    )
    .map_err(|r| ApiError::refused(r, "installer organisation"))?;
    // A property not (yet) verified is not one an installer can know of.
    let pid = id(&req.property, "property", PropertyId::new)?;
    let p = api
        .store
        .property(&pid)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        .filter(|p| p.status == PropertyStatus::Verified)
        .ok_or_else(|| ApiError::not_found("property"))?;
    let door = id(&req.door, "door", DoorId::new)?;
    let doors = api
        .store
        .doors(&p.id)
        .map_err(|e| ApiError::store(e, "doors", Code::Internal))?;
    if !doors.iter().any(|d| d.door == door) {
        return Err(ApiError::new(
            Code::UnknownReference,
            format!("door: the property has no door {door:?}; ask its manager for the door's id"),
        ));
    }
    let device = id(&req.device_id, "device_id", DeviceId::new)?;
    let device_key = key(&req.device_key, "device_key")?;
    let notes = check_note(&req.notes, "notes", MAX_NOTES)?;
    let now = whole_seconds(api.now());
    let rid = RequestId::new(new_id("req_")).map_err(|_| ApiError::internal())?;
    let entry = PublicEntry::InstallationRequested {
        at: now.to_string(),
        property: p.id.to_string(),
        request: rid.to_string(),
        door: door.to_string(),
        device: device.to_string(),
        device_key: device_key.to_string(),
        installer: installer.to_string(),
    };
    let entry = OutboxEntry {
        target: LogTarget::Public,
        entry: entry
            .to_bytes()
            .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))?,
    };
    let i = Installation {
        id: rid,
        property: p.id.clone(),
        door,
        installer_org: installer,
        filed_by: who.person().to_string(),
        device,
        device_key: device_key.to_string(),
        notes,
        status: InstallationStatus::Requested,
        created_at: now,
        requested_outbox: 0,
        decision: None,
        consent: None,
        revocation: None,
        revoked_outbox: None,
    };
    let stored = api
        .store
        .create_installation(&i, &entry)
        .map_err(|e| ApiError::store(e, "installation request", Code::Duplicate))?;
    api.published(stored.requested_outbox);
    Ok(stored)
}

/// One installation request, with its evidence and consent.
#[utoipa::path(get, path = "/api/v1/installations/{installation}", tag = "installations", params(("installation" = String, Path)),
    responses((status = 200, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<InstallationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, _) = installation_for(api, &who, p.get(0), Action::ReadInstallation)?;
        view(api, &i).map(Json)
    })
    .await
}

/// Attach a photo (the raw bytes, `Content-Type` image/jpeg, png, webp or heic; at most
/// 10 MiB; at most 20 per request) while the request is open.
#[utoipa::path(post, path = "/api/v1/installations/{installation}/evidence", tag = "installations", params(("installation" = String, Path)),
    request_body(content = Vec<u8>, content_type = "image/jpeg"),
    responses((status = 201, body = EvidenceView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn upload_evidence(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    req: Request,
) -> Result<Created<EvidenceView>, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if ![
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
    ]
    .contains(&content_type.as_str())
    {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "send the photo's bytes with Content-Type image/jpeg, image/png, image/webp or image/heic",
        ));
    }
    let bytes = super::extract::read_limited(req, MAX_PHOTO_BYTES).await?;
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let stored = add_photo_as(api, &who, p.get(0), content_type, &bytes)?;
        Ok(Created(evidence_view(&stored)))
    })
    .await
}

/// Checks a photo's bytes are of its type (the API's upload and the installers' form).
pub(crate) fn check_photo(content_type: &str, bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.is_empty() || !photo_matches(content_type, bytes) {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("the bytes are not a {content_type} file"),
        ));
    }
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::new(
            Code::BodyTooLarge,
            format!("a photo is at most {} MiB", MAX_PHOTO_BYTES / (1024 * 1024)),
        ));
    }
    Ok(())
}

/// Adds a photo to a request as `who` (the API's upload and the installers' form).
pub(crate) fn add_photo_as(
    api: &Api,
    who: &Authed,
    param: &str,
    content_type: String,
    bytes: &[u8],
) -> Result<Evidence, ApiError> {
    let (i, _) = installation_for(api, who, param, Action::UploadEvidence)?;
    check_photo(&content_type, bytes)?;
    let e = Evidence {
        installation: i.id.clone(),
        number: 0,
        content_type,
        size: bytes.len() as u64,
        sha256: Sha256::digest(bytes).to_vec(),
        uploaded_by: who.person().to_string(),
        created_at: api.now(),
    };
    api.store
        .add_evidence(&e, bytes)
        .map_err(|e| ApiError::store(e, "installation request", Code::AlreadyDecided))
}

/// A photo's bytes.
#[utoipa::path(get, path = "/api/v1/installations/{installation}/evidence/{number}", tag = "installations", params(("installation" = String, Path), ("number" = u32, Path)),
    responses((status = 200, content_type = "image/jpeg"), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn evidence(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Response, ApiError> {
    let (meta, data) = run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, _) = installation_for(api, &who, p.get(0), Action::ReadInstallation)?;
        let n: u32 = p.get(1).parse().map_err(|_| ApiError::not_found("photo"))?;
        api.store
            .evidence_data(&i.id, n)
            .map_err(|e| ApiError::store(e, "photo", Code::Internal))?
            .ok_or_else(|| ApiError::not_found("photo"))
    })
    .await?;
    let mut r = data.into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&meta.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(r)
}

/// Approve a request (the property's owner or manager; never its installer): the consent is
/// signed (custodial) or checked (self-custody, `consent` signed offline) and
/// `consent_granted` goes to the public log.
#[utoipa::path(post, path = "/api/v1/installations/{installation}/approve", tag = "installations", params(("installation" = String, Path)), request_body = ApproveRequest,
    responses((status = 200, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn approve(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ApproveRequest>,
) -> Result<Json<InstallationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let done = approve_as(api, &who, p.get(0), &req)?;
        view(api, &done).map(Json)
    })
    .await
}

/// Approves a request as `who` (the API's `approve` and the request page's form).
pub(crate) fn approve_as(
    api: &Api,
    who: &Authed,
    param: &str,
    req: &ApproveRequest,
) -> Result<Installation, ApiError> {
    let (i, prop) = installation_for(api, who, param, Action::DecideInstallation)?;
    if i.status != InstallationStatus::Requested {
        return Err(ApiError::new(
            Code::AlreadyDecided,
            format!("the request is {} already", i.status.as_str()),
        ));
    }
    verified(&prop)?;
    let property_key = key(&prop.public_key, "property key")?;
    let device_key = key(&i.device_key, "device key")?;
    let installer = InstallerId::new(i.installer_org.as_str()).map_err(|_| ApiError::internal())?;
    let now = whole_seconds(api.now());
    let token_bytes = match (prop.custody, req.consent.as_deref()) {
        (Custody::Custodial, None) => {
            let not_before = whole_seconds(req.not_before.unwrap_or(now));
            let not_after = whole_seconds(req.not_after.unwrap_or_else(|| {
                not_before
                    .checked_add(DEFAULT_CONSENT)
                    .unwrap_or(not_before)
            }));
            let spec = ConsentSpec {
                property: prop.id.clone(),
                door: i.door.clone(),
                device: device_key,
                installer,
                not_before,
                not_after,
            };
            let secret = property_secret(api, &prop)?;
            sign_consent(&secret, &spec, &mut rand::rngs::OsRng)
                .map_err(|e| ApiError::new(Code::BadWindow, e.to_string()))?
        }
        (Custody::SelfCustody, Some(text)) => {
            let bytes = token::decode(text.trim())
                .map_err(|e| ApiError::new(Code::BadToken, format!("consent: {e}")))?;
            let verified = read_consent(&bytes, &property_key)
                .map_err(|e| ApiError::new(Code::BadToken, format!("consent: {e}")))?;
            let s = verified.spec();
            if s.property != prop.id
                || s.door != i.door
                || s.device != device_key
                || s.installer != installer
            {
                return Err(ApiError::new(
                    Code::TokenMismatch,
                    format!(
                        "consent: it is for property {}, door {}, device {}, installer {}; this request is for {}, {}, {}, {}",
                        s.property,
                        s.door,
                        s.device,
                        s.installer,
                        prop.id,
                        i.door,
                        i.device_key,
                        i.installer_org
                    ),
                ));
            }
            bytes
        }
        (Custody::Custodial, Some(_)) => {
            return Err(ApiError::new(
                Code::InvalidField,
                "consent: the server signs a custodial property's consents; leave it out",
            ));
        }
        (Custody::SelfCustody, None) => {
            return Err(ApiError::new(
                Code::SignatureRequired,
                "this property is self-custody: sign the consent with `doorman consent sign` and send it as `consent`",
            ));
        }
    };
    let entry = consent_granted_entry(
        now,
        i.id.as_str(),
        i.device.as_str(),
        &token_bytes,
        &property_key,
    )
    .map_err(|e| ApiError::new(Code::TokenMismatch, e.to_string()))?;
    let verified = read_consent(&token_bytes, &property_key)
        .map_err(|e| ApiError::new(Code::BadToken, e.to_string()))?;
    let consent = Consent {
        token: token::encode(&token_bytes),
        revocation_id: verified.revocation_id().to_vec(),
        not_before: verified.spec().not_before,
        not_after: verified.spec().not_after,
        outbox: 0,
    };
    let note = check_note(req.note.as_deref().unwrap_or_default(), "note", MAX_NOTE)?;
    let decision = Decision {
        by: who.person().to_string(),
        org: prop.org.clone(),
        note,
        at: now,
    };
    let out = OutboxEntry {
        target: LogTarget::Public,
        entry: entry
            .to_bytes()
            .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))?,
    };
    let done = api
        .store
        .approve_installation(&i.id, &decision, &consent, &out)
        .map_err(|e| ApiError::store(e, "installation request", Code::AlreadyDecided))?;
    if let Some(c) = &done.consent {
        api.published(c.outbox);
    }
    // The device may log in to the broker now.
    api.devices.directory.invalidate();
    Ok(done)
}

/// Reject a request with a reason code.
#[utoipa::path(post, path = "/api/v1/installations/{installation}/reject", tag = "installations", params(("installation" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn reject(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<InstallationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let done = reject_as(api, &who, p.get(0), &req.reason)?;
        view(api, &done).map(Json)
    })
    .await
}

/// Rejects a request as `who` with a reason code (the API's `reject` and the request page's form).
pub(crate) fn reject_as(
    api: &Api,
    who: &Authed,
    param: &str,
    reason: &str,
) -> Result<Installation, ApiError> {
    let (i, prop) = installation_for(api, who, param, Action::DecideInstallation)?;
    let reason = check_reason(reason)?;
    let decision = Decision {
        by: who.person().to_string(),
        org: prop.org.clone(),
        note: reason,
        at: whole_seconds(api.now()),
    };
    api.store
        .reject_installation(&i.id, &decision)
        .map_err(|e| ApiError::store(e, "installation request", Code::AlreadyDecided))
}

/// Revoke an approved request's consent: `consent_revoked` goes to the public log and the
/// consent's id to the property's revocation list; the device must stop.
#[utoipa::path(post, path = "/api/v1/installations/{installation}/revoke", tag = "installations", params(("installation" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<InstallationView>, ApiError> {
    end_consent(api, creds, p, req, false).await
}

/// Take the device off its door for good: its consent is revoked (the revocation list pushed
/// to it names it), `device_decommissioned` goes to the public log, and the device is told to
/// stop and forget its activation (docs/mqtt.md).
#[utoipa::path(post, path = "/api/v1/installations/{installation}/decommission", tag = "installations", params(("installation" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = InstallationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn decommission(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<InstallationView>, ApiError> {
    end_consent(api, creds, p, req, true).await
}

async fn end_consent(
    api: Shared,
    creds: Credentials,
    p: Params,
    req: ReasonRequest,
    decommission: bool,
) -> Result<Json<InstallationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, prop) = installation_for(api, &who, p.get(0), Action::RevokeConsent)?;
        let reason = check_reason(&req.reason)?;
        let Some(consent) = &i.consent else {
            return Err(match i.status {
                InstallationStatus::Revoked => {
                    ApiError::new(Code::AlreadyRevoked, "the consent is revoked already")
                }
                s => ApiError::new(
                    Code::AlreadyDecided,
                    format!(
                        "the request is {}; only an approved request has a consent to revoke",
                        s.as_str()
                    ),
                ),
            });
        };
        if i.status == InstallationStatus::Revoked {
            return Err(ApiError::new(
                Code::AlreadyRevoked,
                "the consent is revoked already",
            ));
        }
        let now = whole_seconds(api.now());
        let entry = if decommission {
            PublicEntry::DeviceDecommissioned {
                at: now.to_string(),
                property: prop.id.to_string(),
                door: i.door.to_string(),
                device: i.device.to_string(),
                reason: reason.clone(),
            }
        } else {
            PublicEntry::ConsentRevoked {
                at: now.to_string(),
                property: prop.id.to_string(),
                door: i.door.to_string(),
                device: i.device.to_string(),
                revocation_id: hex::encode(&consent.revocation_id),
                reason: reason.clone(),
            }
        };
        let out = OutboxEntry {
            target: LogTarget::Public,
            entry: entry
                .to_bytes()
                .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))?,
        };
        let revocation = Revocation {
            property: prop.id.clone(),
            revocation_id: consent.revocation_id.clone(),
            kind: RevokedKind::Consent,
            reference: i.id.to_string(),
            reason: reason.clone(),
            revoked_by: who.person().to_string(),
            revoked_at: now,
            expires_at: Some(consent.not_after),
        };
        let decision = Decision {
            by: who.person().to_string(),
            org: prop.org.clone(),
            note: reason,
            at: now,
        };
        let done = api
            .store
            .revoke_consent(&i.id, &decision, &revocation, &out)
            .map_err(|e| match e {
                doorman_store::ControlError::Duplicate(_) => {
                    ApiError::new(Code::AlreadyRevoked, "this consent's id is revoked already")
                }
                other => ApiError::store(other, "installation request", Code::AlreadyRevoked),
            })?;
        if let Some(o) = done.revoked_outbox {
            api.published(o);
        }
        api.devices.directory.invalidate();
        state_docs::issue(api, &prop.id, false);
        if decommission {
            api.devices
                .decommission(i.device.clone(), reason_text(&done));
        }
        view(api, &done).map(Json)
    })
    .await
}

fn reason_text(i: &Installation) -> String {
    i.revocation
        .as_ref()
        .map_or_else(|| "decommissioned".to_string(), |d| d.note.clone())
}

/// The public log entry at `index` with its proof under checkpoint `cp`.
fn logged_entry(
    api: &Api,
    index: u64,
    cp: &doorman_store::StoredCheckpoint,
) -> Result<LoggedEntryView, ApiError> {
    let entry = api
        .log
        .entries(index, index.saturating_add(1))
        .map_err(|e| ApiError::log(e, "public log entry"))?
        .into_iter()
        .next()
        .ok_or_else(ApiError::internal)?;
    // The same bundle `/log/v1/proof/<index>` serves (a store failure is logged there).
    let proof =
        crate::proof_bundle(api.log.as_ref(), index, cp).map_err(|_| ApiError::internal())?;
    Ok(LoggedEntryView {
        entry: String::from_utf8(entry).map_err(|_| ApiError::internal())?,
        proof: String::from_utf8(proof).map_err(|_| ApiError::internal())?,
    })
}

/// The device's activation bundle: the property's registration and the device's consent, each
/// with its inclusion proof in the public log, and the device configuration, revocation list
/// and service state signed with the property key. The agent verifies all of it itself
/// (docs/agent.md), so whoever carries the bundle to the box needs no trust. For the installer
/// who filed the request and the property's owners and managers, once the request is approved
/// and its `consent_granted` entry is in a checkpoint (`not_yet_logged` until then: retry).
/// Self-custody properties: once the owner has signed the device configuration
/// (`PUT …/activation/config`), which the server can't sign for them.
#[utoipa::path(get, path = "/api/v1/installations/{installation}/activation", tag = "installations", params(("installation" = String, Path)),
    responses((status = 200, body = ActivationBundleView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn activation(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<ActivationBundleView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, prop) = installation_for(api, &who, p.get(0), Action::ReadInstallation)?;
        let consent = match (&i.status, &i.consent) {
            (InstallationStatus::Approved, Some(c)) => c,
            _ => {
                return Err(ApiError::new(
                    Code::NotApproved,
                    format!("the request is {}: only an approved request's device can be activated", i.status.as_str()),
                ));
            }
        };
        let registered = prop.registered_outbox.ok_or_else(|| {
            ApiError::new(Code::PropertyNotVerified, "the property is not verified")
        })?;
        let indexes = api
            .store
            .log_indexes(&[registered, consent.outbox])
            .map_err(|e| ApiError::store(e, "log indexes", Code::Internal))?;
        let (Some(Some(reg_index)), Some(Some(consent_index))) =
            (indexes.first().copied(), indexes.get(1).copied())
        else {
            return Err(ApiError::new(Code::NotYetLogged, "the consent is not in the public log yet: retry in a second"));
        };
        let cp = api
            .log
            .latest_checkpoint()
            .map_err(|e| ApiError::log(e, "checkpoint"))?
            .filter(|cp| cp.size > consent_index.max(reg_index))
            .ok_or_else(|| {
                ApiError::new(Code::NotYetLogged, "the consent is not in a checkpoint of the public log yet: retry in a second")
            })?;
        // Make sure the signed state exists (it is issued on change; a property that never
        // changed may have none yet).
        state_docs::issue(api, &prop.id, false);
        let doc = |kind| -> Result<String, ApiError> {
            let d = api
                .store
                .document(&prop.id, kind)
                .map_err(|e| ApiError::store(e, "document", Code::Internal))?
                .ok_or_else(|| match prop.custody {
                    Custody::Custodial => ApiError::new(Code::NotYetLogged, "the property's signed state is not issued yet: retry in a second"),
                    Custody::SelfCustody => ApiError::new(Code::SignatureRequired, "this property is self-custody: its owner signs the revocation list and service state first (`doorman state push --property P --property-key KEY`)"),
                })?;
            String::from_utf8(d.document).map_err(|_| ApiError::internal())
        };
        let config = match prop.custody {
            Custody::Custodial => config_for(api, &i, &prop)?
                .sign(&property_secret(api, &prop)?)
                .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?,
            Custody::SelfCustody => signed_config(api, &i, &prop)?.ok_or_else(|| {
                ApiError::new(
                    Code::SignatureRequired,
                    format!(
                        "this property is self-custody: its owner signs the device configuration first (`doorman installation sign-config {} --property-key KEY`)",
                        i.id
                    ),
                )
            })?,
        };
        Ok(Json(ActivationBundleView {
            kind: "doorman_activation".to_string(),
            v: 1,
            registration: logged_entry(api, reg_index, &cp)?,
            consent: logged_entry(api, consent_index, &cp)?,
            config: String::from_utf8(config).map_err(|_| ApiError::internal())?,
            revocations: doc(doorman_store::control::DocumentKind::RevocationList)?,
            service: doc(doorman_store::control::DocumentKind::ServiceState)?,
            link: broker_link(api, &i)?,
        }))
    })
    .await
}

/// How the device reaches the broker: the address, its account, and on the embedded broker
/// its client certificate and the broker's CA. None for a device whose id can't name topics.
fn broker_link(
    api: &Api,
    i: &Installation,
) -> Result<Option<doorman_proto::BrokerLinkView>, ApiError> {
    let Some(broker) = api.devices.broker_for(&i.device) else {
        return Ok(None);
    };
    if !doorman_device::messages::topic_safe(&i.device) {
        return Ok(None);
    }
    let (certificate, ca) = match api.devices.ca() {
        Some(ca) => {
            let certificate = ca
                .device_certificate(&i.device, &key(&i.device_key, "device key")?)
                .map_err(|e| {
                    eprintln!(
                        "doorman serve: issuing a broker certificate for {}: {e}",
                        i.device
                    );
                    ApiError::internal()
                })?;
            (Some(certificate), Some(ca.ca_pem()))
        }
        None => (None, None),
    };
    Ok(Some(doorman_proto::BrokerLinkView {
        broker,
        username: i.device.to_string(),
        password: api.devices.keys.password(i.device.as_str()),
        certificate,
        ca,
        client_id_per_connection: api.devices.client_id_per_connection(),
    }))
}

/// The device configuration the property would sign for this installation now: its door and
/// device key, the policy's defaults, and the key this server signs device messages with.
fn config_for(
    api: &Api,
    i: &Installation,
    prop: &Property,
) -> Result<doorman_trust::DeviceConfig, ApiError> {
    let now = whole_seconds(api.now());
    let policy = doorman_trust::DoorPolicy::default();
    let secs = |d: SignedDuration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    Ok(doorman_trust::DeviceConfig {
        property: prop.id.clone(),
        // Grows with the issue time: a device keeps the highest it has seen.
        seq: u64::try_from(now.as_second()).unwrap_or(1).max(1),
        issued_at: now,
        door: i.door.clone(),
        device_key: key(&i.device_key, "device key")?,
        pulse_ms: policy.pulse_ms,
        revocation_max_age_s: secs(policy.revocation_max_age),
        clock_skew_tolerance_s: secs(policy.clock_skew_tolerance),
        challenge_ttl_s: secs(policy.challenge_ttl),
        server_key: api.devices.keys.signer().public(),
    })
}

/// Where a self-custody owner's signed device configuration of an installation is kept.
fn config_meta_key(i: &Installation) -> String {
    format!("device_config/{}", i.id)
}

/// Checks a signed device configuration for this installation: signed by the property key,
/// naming this property, door and device key, and this server's key (so the device will
/// take this server's messages).
fn check_config(
    api: &Api,
    i: &Installation,
    prop: &Property,
    document: &[u8],
) -> Result<doorman_trust::DeviceConfig, ApiError> {
    let property_key = key(&prop.public_key, "property key")?;
    let config = doorman_trust::DeviceConfig::verify(document, &property_key)
        .map_err(|e| ApiError::new(Code::BadToken, format!("document: {e}")))?;
    let mismatch = if config.property != prop.id {
        Some("property")
    } else if config.door != i.door {
        Some("door")
    } else if config.device_key.to_string() != i.device_key {
        Some("device_key")
    } else if config.server_key != api.devices.keys.signer().public() {
        Some("server_key")
    } else {
        None
    };
    match mismatch {
        Some(field) => Err(ApiError::new(
            Code::TokenMismatch,
            format!(
                "document: its {field} is not this installation's; sign the pending configuration again"
            ),
        )),
        None => Ok(config),
    }
}

/// The signed configuration a self-custody owner uploaded, checked again.
fn signed_config(
    api: &Api,
    i: &Installation,
    prop: &Property,
) -> Result<Option<Vec<u8>>, ApiError> {
    let stored = api
        .store
        .meta(&config_meta_key(i))
        .map_err(|e| ApiError::store(e, "device configuration", Code::Internal))?;
    match stored {
        Some(doc) => check_config(api, i, prop, &doc).map(|_| Some(doc)),
        None => Ok(None),
    }
}

fn config_view(api: &Api, i: &Installation, prop: &Property) -> Result<DeviceConfigView, ApiError> {
    let self_custody = prop.custody == Custody::SelfCustody;
    let pending = if self_custody {
        let payload = config_for(api, i, prop)?
            .payload()
            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
        Some(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            payload,
        ))
    } else {
        None
    };
    let document = if self_custody {
        signed_config(api, i, prop)?
            .map(|d| String::from_utf8(d).map_err(|_| ApiError::internal()))
            .transpose()?
    } else {
        None
    };
    Ok(DeviceConfigView {
        installation: i.id.to_string(),
        custody: if self_custody { "self" } else { "custodial" }.to_string(),
        pending_payload: pending,
        document,
    })
}

/// An approved installation's device configuration: for a self-custody property, the payload
/// its owner signs offline (`pending_payload`, base64url, fresh each time) and what was
/// uploaded; a custodial property's is signed by the server in each activation bundle.
#[utoipa::path(get, path = "/api/v1/installations/{installation}/activation/config", tag = "installations", params(("installation" = String, Path)),
    responses((status = 200, body = DeviceConfigView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn activation_config(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<DeviceConfigView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, prop) = installation_for(api, &who, p.get(0), Action::DecideInstallation)?;
        approved(&i)?;
        config_view(api, &i, &prop).map(Json)
    })
    .await
}

/// A self-custody owner uploads the device configuration signed offline
/// (`doorman installation sign-config`); activation bundles carry it from then on.
#[utoipa::path(put, path = "/api/v1/installations/{installation}/activation/config", tag = "installations", params(("installation" = String, Path)), request_body = SignedDocumentRequest,
    responses((status = 200, body = DeviceConfigView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn upload_activation_config(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<SignedDocumentRequest>,
) -> Result<Json<DeviceConfigView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (i, prop) = installation_for(api, &who, p.get(0), Action::DecideInstallation)?;
        approved(&i)?;
        if prop.custody != Custody::SelfCustody {
            return Err(ApiError::new(
                Code::InvalidField,
                "document: the server signs a custodial property's device configurations; nothing to upload",
            ));
        }
        let config = check_config(api, &i, &prop, req.document.as_bytes())?;
        if let Some(old) = signed_config(api, &i, &prop)? {
            let old = check_config(api, &i, &prop, &old)?;
            if old.seq >= config.seq {
                return Err(ApiError::new(
                    Code::StaleState,
                    format!("document: a configuration with seq {} or newer is stored already; sign the pending one again", old.seq),
                ));
            }
        }
        api.store
            .put_meta(&config_meta_key(&i), req.document.as_bytes())
            .map_err(|e| ApiError::store(e, "device configuration", Code::Internal))?;
        config_view(api, &i, &prop).map(Json)
    })
    .await
}

fn approved(i: &Installation) -> Result<(), ApiError> {
    match (&i.status, &i.consent) {
        (InstallationStatus::Approved, Some(_)) => Ok(()),
        _ => Err(ApiError::new(
            Code::NotApproved,
            format!(
                "the request is {}: only an approved request's device has a configuration",
                i.status.as_str()
            ),
        )),
    }
}

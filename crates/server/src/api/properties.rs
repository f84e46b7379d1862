//! Properties: claims and their verification, doors, units, residents, the owner's switch,
//! revocations and the signed state devices get, and the property's private access log.

use axum::extract::{RawQuery, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_core::{
    Action, CarrierId, DoorId, OrgId, OrgKind, PropertyId, Role, Scope, ServiceSwitch, UnitId,
    authorize,
};
use doorman_entries::{Custody, PublicEntry, normalize_address};
use doorman_proto::codes::Code;
use doorman_proto::{
    AccessEventView, AccessLogView, ClaimPropertyRequest, CreateDoorRequest, CreateUnitRequest,
    DoorView, InvitationView, InviteResidentRequest, List, NoteRequest, PropertyView, ResidentView,
    RevocationsView, RevokeIdRequest, ServiceChangeRequest, ServiceView, SignedDocumentRequest,
    SignedDocumentView, UnitView,
};
use doorman_store::control::{
    Decision, DocumentKind, Door, LogTarget, OutboxEntry, Property, PropertyStatus, Revocation,
    RevokedKind, Unit,
};
use doorman_trust::{RevocationList, SecretKey, ServiceState};

use super::auth::{Authed, new_id, user_view};
use super::orgs::{create_invitation, new_invitation, org_for};
use super::views::{
    MAX_NOTE, check_email, check_name, check_note, check_reason, door_view, id, key, path_id,
    property_view, revocation_view, time_zone, whole_seconds,
};
use super::{Api, ApiError, Body, Created, Credentials, Json, NoContent, Params, Shared, run};
use crate::state_docs;

/// The scope of everything at a property.
pub(crate) fn scope(p: &Property) -> Scope<'_> {
    Scope {
        property_org: Some(&p.org),
        property: Some(&p.id),
        ..Scope::default()
    }
}

/// Loads a property the caller may act on with `action` (404 if it may not know it).
pub(crate) fn property_for(
    api: &Api,
    who: &Authed,
    param: &str,
    action: Action,
) -> Result<Property, ApiError> {
    let id = path_id(param, "property", PropertyId::new)?;
    let p = api
        .store
        .property(&id)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("property"))?;
    authorize(&who.actor, action, &scope(&p)).map_err(|r| ApiError::refused(r, "property"))?;
    Ok(p)
}

/// The property must be verified before anything can be done at it.
pub(crate) fn verified(p: &Property) -> Result<(), ApiError> {
    match p.status {
        PropertyStatus::Verified => Ok(()),
        PropertyStatus::Claimed => Err(ApiError::new(
            Code::PropertyNotVerified,
            "the operator has not verified this property's claim yet",
        )),
        PropertyStatus::Rejected => Err(ApiError::new(
            Code::PropertyNotVerified,
            "the operator rejected this property's claim",
        )),
    }
}

/// The property's private key (custodial only).
pub(crate) fn property_secret(api: &Api, p: &Property) -> Result<SecretKey, ApiError> {
    let sealed = p.sealed_key.as_deref().ok_or_else(|| {
        ApiError::new(Code::SignatureRequired, "this property is self-custody: the server cannot sign for it; sign offline with the doorman CLI and upload the token")
    })?;
    api.kek
        .open(sealed, "property-key", p.id.as_str())
        .map_err(|e| {
            super::error::tracing_error(&format!("opening the key of {}: {e}", p.id));
            ApiError::internal()
        })
}

/// An access-log entry (the property's private log) in canonical JSON.
pub(crate) fn access_entry(p: &PropertyId, value: serde_json::Value) -> OutboxEntry {
    OutboxEntry {
        target: LogTarget::Access(p.clone()),
        entry: doorman_entries::to_canonical(&value).into_bytes(),
    }
}

fn public_entry(entry: &PublicEntry) -> Result<OutboxEntry, ApiError> {
    let bytes = entry.to_bytes().map_err(|e| {
        super::error::tracing_error(&format!("a public entry did not validate: {e}"));
        ApiError::new(
            Code::InvalidField,
            format!("the public entry would be invalid: {e}"),
        )
    })?;
    Ok(OutboxEntry {
        target: LogTarget::Public,
        entry: bytes,
    })
}

/// Properties the caller can see (the operator: all; `?status=claimed` for its queue).
#[utoipa::path(get, path = "/api/v1/properties", tag = "properties", params(("status" = Option<String>, Query)),
    responses((status = 200, body = List<PropertyView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Shared>,
    creds: Credentials,
    RawQuery(q): RawQuery,
) -> Result<Json<List<PropertyView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let q = super::extract::query(q.as_deref(), &["status"])?;
        let status = q.get("status").map(String::as_str);
        if let Some(s) = status
            && !["claimed", "verified", "rejected"].contains(&s)
        {
            return Err(ApiError::new(
                Code::BadQuery,
                "status: claimed, verified or rejected",
            ));
        }
        let all = api
            .store
            .properties(None)
            .map_err(|e| ApiError::store(e, "properties", Code::Internal))?;
        let items = all
            .iter()
            .filter(|p| status.is_none_or(|s| p.status.as_str() == s))
            .filter(|p| authorize(&who.actor, Action::ReadProperty, &scope(p)).is_ok())
            .map(|p| property_view(api, p))
            .collect();
        Ok(Json(List::new(items)))
    })
    .await
}

/// Claim a property for a property organisation. It is usable once the operator verifies
/// the claim; that publishes `property_registered` with its key.
#[utoipa::path(post, path = "/api/v1/properties", tag = "properties", request_body = ClaimPropertyRequest,
    responses((status = 201, body = PropertyView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn claim(
    State(api): State<Shared>,
    creds: Credentials,
    Body(req): Body<ClaimPropertyRequest>,
) -> Result<Created<PropertyView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, &req.org, Action::ClaimProperty)?;
        if org.kind != OrgKind::Property {
            return Err(ApiError::new(Code::InvalidField, "org: properties belong to property organisations"));
        }
        let address = req.address.trim().to_string();
        let address_key = normalize_address(&address).map_err(|e| ApiError::new(Code::BadAddress, format!("address: {e}")))?;
        let time_zone = time_zone(&req.time_zone)?;
        let id = PropertyId::new(new_id("prop_")).map_err(|_| ApiError::internal())?;
        let (custody, public_key, sealed_key) = match (req.custody.as_str(), req.public_key.as_deref()) {
            ("custodial", None) => {
                let secret = SecretKey::generate(&mut rand::rngs::OsRng);
                let sealed = api
                    .kek
                    .seal(&secret, "property-key", id.as_str(), &mut rand::rngs::OsRng)
                    .map_err(|_| ApiError::internal())?;
                (Custody::Custodial, secret.public().to_string(), Some(sealed))
            }
            ("self", Some(k)) => (Custody::SelfCustody, key(k, "public_key")?.to_string(), None),
            ("custodial", Some(_)) => return Err(ApiError::new(Code::InvalidField, "public_key: a custodial property's key is generated by the server; use custody \"self\" to bring your own")),
            ("self", None) => return Err(ApiError::new(Code::InvalidField, "public_key: a self-custody property needs the owner's public key (doorman key generate)")),
            _ => return Err(ApiError::new(Code::InvalidField, "custody: \"custodial\" (the server holds the key) or \"self\" (you do)")),
        };
        let p = Property {
            id,
            org: org.id.clone(),
            name: check_name(&req.name, "name")?,
            address,
            address_key,
            time_zone,
            custody,
            public_key,
            sealed_key,
            status: PropertyStatus::Claimed,
            claimed_by: who.person().to_string(),
            created_at: api.now(),
            decision: None,
            registered_outbox: None,
            revocation_seq: 0,
            service_seq: 0,
        };
        api.store.create_property(&p).map_err(|e| ApiError::store(e, "property", Code::Duplicate))?;
        Ok(Created(property_view(api, &p)))
    })
    .await
}

/// One property.
#[utoipa::path(get, path = "/api/v1/properties/{property}", tag = "properties", params(("property" = String, Path)),
    responses((status = 200, body = PropertyView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<PropertyView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadProperty)?;
        Ok(Json(property_view(api, &prop)))
    })
    .await
}

fn operator_org(who: &Authed) -> Result<OrgId, ApiError> {
    who.actor
        .memberships
        .iter()
        .find(|m| m.kind == OrgKind::Operator)
        .map(|m| m.org.clone())
        .ok_or_else(|| ApiError::new(Code::Forbidden, "only the operator decides claims"))
}

/// The operator verifies a claim (with a note of the evidence checked): the property is
/// registered in the public log with its key.
#[utoipa::path(post, path = "/api/v1/properties/{property}/verify", tag = "properties", params(("property" = String, Path)), request_body = NoteRequest,
    responses((status = 200, body = PropertyView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn verify(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<NoteRequest>,
) -> Result<Json<PropertyView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::VerifyProperty)?;
        let note = check_note(&req.note, "note", MAX_NOTE)?;
        if note.is_empty() {
            return Err(ApiError::new(
                Code::InvalidField,
                "note: say what evidence of ownership or management was checked",
            ));
        }
        let operator = operator_org(&who)?;
        let now = whole_seconds(api.now());
        let entry = public_entry(&PublicEntry::PropertyRegistered {
            at: now.to_string(),
            property: prop.id.to_string(),
            address: prop.address.clone(),
            address_key: prop.address_key.clone(),
            time_zone: prop.time_zone.clone(),
            property_key: prop.public_key.clone(),
            custody: prop.custody,
            verified_by: operator.to_string(),
        })?;
        let decision = Decision {
            by: who.person().to_string(),
            org: operator,
            note,
            at: now,
        };
        let done = api
            .store
            .decide_property(&prop.id, true, &decision, Some(&entry))
            .map_err(|e| ApiError::store(e, "property", Code::AlreadyDecided))?;
        if let Some(o) = done.registered_outbox {
            api.published(o);
        }
        state_docs::issue(api, &done.id, false);
        Ok(Json(property_view(api, &done)))
    })
    .await
}

/// The operator rejects a claim, saying why.
#[utoipa::path(post, path = "/api/v1/properties/{property}/reject", tag = "properties", params(("property" = String, Path)), request_body = NoteRequest,
    responses((status = 200, body = PropertyView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn reject(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<NoteRequest>,
) -> Result<Json<PropertyView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::VerifyProperty)?;
        let note = check_note(&req.note, "note", MAX_NOTE)?;
        let decision = Decision {
            by: who.person().to_string(),
            org: operator_org(&who)?,
            note,
            at: api.now(),
        };
        let done = api
            .store
            .decide_property(&prop.id, false, &decision, None)
            .map_err(|e| ApiError::store(e, "property", Code::AlreadyDecided))?;
        Ok(Json(property_view(api, &done)))
    })
    .await
}

/// The property's doors.
#[utoipa::path(get, path = "/api/v1/properties/{property}/doors", tag = "properties", params(("property" = String, Path)),
    responses((status = 200, body = List<DoorView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn doors(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<DoorView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadDoors)?;
        let list = api
            .store
            .doors(&prop.id)
            .map_err(|e| ApiError::store(e, "doors", Code::Internal))?;
        Ok(Json(List::new(list.iter().map(door_view).collect())))
    })
    .await
}

/// Add a door.
#[utoipa::path(post, path = "/api/v1/properties/{property}/doors", tag = "properties", params(("property" = String, Path)), request_body = CreateDoorRequest,
    responses((status = 201, body = DoorView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_door(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<CreateDoorRequest>,
) -> Result<Created<DoorView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageDoors)?;
        let door = Door {
            property: prop.id.clone(),
            door: id(&req.id, "id", DoorId::new)?,
            name: check_name(&req.name, "name")?,
            created_at: api.now(),
        };
        api.store
            .add_door(&door)
            .map_err(|e| ApiError::store(e, "door", Code::Duplicate))?;
        Ok(Created(door_view(&door)))
    })
    .await
}

/// Remove a door (refused while a request is open or a consent or authorization uses it).
#[utoipa::path(delete, path = "/api/v1/properties/{property}/doors/{door}", tag = "properties", params(("property" = String, Path), ("door" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_door(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageDoors)?;
        let door = path_id(p.get(1), "door", DoorId::new)?;
        api.store
            .remove_door(&prop.id, &door)
            .map_err(|e| ApiError::store(e, "door", Code::InUse))?;
        Ok(NoContent)
    })
    .await
}

/// The property's units.
#[utoipa::path(get, path = "/api/v1/properties/{property}/units", tag = "properties", params(("property" = String, Path)),
    responses((status = 200, body = List<UnitView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn units(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<UnitView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadUnits)?;
        let list = api
            .store
            .units(&prop.id)
            .map_err(|e| ApiError::store(e, "units", Code::Internal))?;
        Ok(Json(List::new(
            list.iter()
                .map(|u| UnitView {
                    id: u.unit.to_string(),
                    created_at: u.created_at,
                })
                .collect(),
        )))
    })
    .await
}

/// Add a unit.
#[utoipa::path(post, path = "/api/v1/properties/{property}/units", tag = "properties", params(("property" = String, Path)), request_body = CreateUnitRequest,
    responses((status = 201, body = UnitView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_unit(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<CreateUnitRequest>,
) -> Result<Created<UnitView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageUnits)?;
        let unit = Unit {
            property: prop.id.clone(),
            unit: id(&req.id, "id", UnitId::new)?,
            created_at: api.now(),
        };
        api.store
            .add_unit(&unit)
            .map_err(|e| ApiError::store(e, "unit", Code::Duplicate))?;
        Ok(Created(UnitView {
            id: unit.unit.to_string(),
            created_at: unit.created_at,
        }))
    })
    .await
}

/// Remove a unit (refused while residents live there).
#[utoipa::path(delete, path = "/api/v1/properties/{property}/units/{unit}", tag = "properties", params(("property" = String, Path), ("unit" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_unit(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageUnits)?;
        let unit = path_id(p.get(1), "unit", UnitId::new)?;
        api.store
            .remove_unit(&prop.id, &unit)
            .map_err(|e| ApiError::store(e, "unit", Code::InUse))?;
        Ok(NoContent)
    })
    .await
}

/// The property's residents.
#[utoipa::path(get, path = "/api/v1/properties/{property}/residents", tag = "properties", params(("property" = String, Path)),
    responses((status = 200, body = List<ResidentView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn residents(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<ResidentView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadResidents)?;
        let list = api
            .store
            .residents(&prop.id)
            .map_err(|e| ApiError::store(e, "residents", Code::Internal))?;
        Ok(Json(List::new(
            list.iter()
                .map(|(m, u)| ResidentView {
                    user: user_view(u),
                    unit: m.unit.as_ref().map(ToString::to_string).unwrap_or_default(),
                    since: m.created_at,
                })
                .collect(),
        )))
    })
    .await
}

/// Invite a resident of a unit. The response carries the invitation code, once.
#[utoipa::path(post, path = "/api/v1/properties/{property}/residents", tag = "properties", params(("property" = String, Path)), request_body = InviteResidentRequest,
    responses((status = 201, body = InvitationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn invite_resident(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<InviteResidentRequest>,
) -> Result<Created<InvitationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        invite_resident_as(api, &who, p.get(0), &req).map(Created)
    })
    .await
}

/// Invites a resident of a unit as `who` (the API and the residents page); the view carries
/// the invitation code, once.
pub(crate) fn invite_resident_as(
    api: &Api,
    who: &Authed,
    param: &str,
    req: &InviteResidentRequest,
) -> Result<InvitationView, ApiError> {
    let prop = property_for(api, who, param, Action::Invite(Role::Resident))?;
    let unit = id(&req.unit, "unit", UnitId::new)?;
    let units = api
        .store
        .units(&prop.id)
        .map_err(|e| ApiError::store(e, "units", Code::Internal))?;
    if !units.iter().any(|u| u.unit == unit) {
        return Err(ApiError::new(
            Code::UnknownReference,
            format!("unit: {unit} is not a unit of this property; add it first"),
        ));
    }
    let mut invitation = new_invitation(
        &prop.org,
        Role::Resident,
        check_email(&req.email)?,
        api.now(),
    );
    invitation.property = Some(prop.id.clone());
    invitation.unit = Some(unit);
    create_invitation(api, who, invitation)
}

/// Remove a resident.
#[utoipa::path(delete, path = "/api/v1/properties/{property}/residents/{user}", tag = "properties", params(("property" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_resident(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        remove_resident_as(api, &who, p.get(0), p.get(1))?;
        Ok(NoContent)
    })
    .await
}

/// Removes a resident as `who` (the API and the residents page).
pub(crate) fn remove_resident_as(
    api: &Api,
    who: &Authed,
    param: &str,
    user: &str,
) -> Result<(), ApiError> {
    let prop = property_for(api, who, param, Action::Invite(Role::Resident))?;
    api.store
        .remove_resident(&prop.id, user)
        .map_err(|e| ApiError::store(e, "resident", Code::Internal))
}

fn service_view(api: &Api, prop: &Property) -> Result<ServiceView, ApiError> {
    let s = api
        .store
        .service(&prop.id)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
    let doc = api
        .store
        .document(&prop.id, DocumentKind::ServiceState)
        .map_err(|e| ApiError::store(e, "service state", Code::Internal))?;
    Ok(ServiceView {
        property: prop.id.to_string(),
        property_disabled: s.switch.property_disabled,
        disabled_doors: s
            .switch
            .disabled_doors
            .iter()
            .map(ToString::to_string)
            .collect(),
        disabled_carriers: s
            .switch
            .disabled_carriers
            .iter()
            .map(ToString::to_string)
            .collect(),
        seq: s.seq,
        changed_at: s.changed_at,
        changed_by: s.changed_by,
        pending_payload: if prop.custody == Custody::SelfCustody {
            Some(URL_SAFE_NO_PAD.encode(state_docs::pending_service_payload(
                api,
                prop,
                doc.as_ref(),
            )?))
        } else {
            None
        },
        signed_seq: doc.map(|d| d.covers),
    })
}

/// The owner's switch as it stands.
#[utoipa::path(get, path = "/api/v1/properties/{property}/service", tag = "service", params(("property" = String, Path)),
    responses((status = 200, body = ServiceView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn service(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<ServiceView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadService)?;
        service_view(api, &prop).map(Json)
    })
    .await
}

/// Switch service off (or on) for the property, a door or a carrier. Effective at once in
/// the API (no pass is minted against it); recorded in the property's access log; signed
/// for devices (custodial at once, self-custody when the owner uploads the signature).
#[utoipa::path(post, path = "/api/v1/properties/{property}/service", tag = "service", params(("property" = String, Path)), request_body = ServiceChangeRequest,
    responses((status = 200, body = ServiceView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn change_service(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ServiceChangeRequest>,
) -> Result<Json<ServiceView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = change_service_as(api, &who, p.get(0), &req)?;
        service_view(api, &prop).map(Json)
    })
    .await
}

/// Flips the owner's switch as `who` (the API's `POST …/service` and the property page's form).
pub(crate) fn change_service_as(
    api: &Api,
    who: &Authed,
    param: &str,
    req: &ServiceChangeRequest,
) -> Result<Property, ApiError> {
    let prop = property_for(api, who, param, Action::ManageService)?;
    let current = api
        .store
        .service(&prop.id)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
    let mut switch: ServiceSwitch = current.switch.clone();
    let target = req.target.as_deref();
    match (req.scope.as_str(), target) {
        ("property", None) => switch.property_disabled = !req.enabled,
        ("door", Some(t)) => {
            let door = id(t, "target", DoorId::new)?;
            let doors = api
                .store
                .doors(&prop.id)
                .map_err(|e| ApiError::store(e, "doors", Code::Internal))?;
            if !req.enabled && !doors.iter().any(|d| d.door == door) {
                return Err(ApiError::new(
                    Code::UnknownReference,
                    format!("target: {door} is not a door of this property"),
                ));
            }
            if req.enabled {
                switch.disabled_doors.remove(&door);
            } else {
                switch.disabled_doors.insert(door);
            }
        }
        ("carrier", Some(t)) => {
            let carrier = id(t, "target", CarrierId::new)?;
            if !req.enabled {
                let org = OrgId::new(carrier.as_str())
                    .ok()
                    .and_then(|o| api.store.org(&o).ok().flatten());
                if org.is_none_or(|o| o.kind != OrgKind::Carrier) {
                    return Err(ApiError::new(
                        Code::UnknownReference,
                        format!("target: {carrier} is not a carrier"),
                    ));
                }
            }
            if req.enabled {
                switch.disabled_carriers.remove(&carrier);
            } else {
                switch.disabled_carriers.insert(carrier);
            }
        }
        ("property", Some(_)) => {
            return Err(ApiError::new(
                Code::InvalidField,
                "target: the property scope takes no target",
            ));
        }
        ("door" | "carrier", None) => {
            return Err(ApiError::new(
                Code::InvalidField,
                "target: name the door or carrier",
            ));
        }
        _ => {
            return Err(ApiError::new(
                Code::InvalidField,
                "scope: property, door or carrier",
            ));
        }
    }
    let expected = req.expected_seq.unwrap_or(current.seq);
    let now = api.now();
    let entry = access_entry(
        &prop.id,
        serde_json::json!({
            "type": "service_changed",
            "v": 1,
            "at": whole_seconds(now).to_string(),
            "by": who.person(),
            "scope": req.scope,
            "target": target,
            "enabled": req.enabled,
            "seq": expected + 1,
        }),
    );
    api.store
        .set_service(&prop.id, expected, &switch, who.person(), now, &entry)
        .map_err(|e| ApiError::store(e, "property", Code::StaleState))?;
    api.publisher.flush(api.config.publish_wait);
    state_docs::issue(api, &prop.id, false);
    Ok(prop)
}

fn document_view(d: &doorman_store::control::SignedDocument) -> SignedDocumentView {
    SignedDocumentView {
        property: d.property.to_string(),
        kind: d.kind.as_str().to_string(),
        seq: d.seq,
        issued_at: d.issued_at,
        document: String::from_utf8_lossy(&d.document).into_owned(),
    }
}

fn signed(
    api: &Api,
    who: &Authed,
    param: &str,
    kind: DocumentKind,
) -> Result<SignedDocumentView, ApiError> {
    let prop = property_for(api, who, param, Action::ReadRevocations)?;
    let doc = api
        .store
        .document(&prop.id, kind)
        .map_err(|e| ApiError::store(e, "document", Code::Internal))?
        .ok_or_else(|| {
            ApiError::not_found(match kind {
                DocumentKind::RevocationList => {
                    "signed revocation list (none yet: a self-custody owner uploads it)"
                }
                DocumentKind::ServiceState => {
                    "signed service state (none yet: a self-custody owner uploads it)"
                }
            })
        })?;
    Ok(document_view(&doc))
}

/// The latest service state signed with the property key (what devices get).
#[utoipa::path(get, path = "/api/v1/properties/{property}/service/signed", tag = "service", params(("property" = String, Path)),
    responses((status = 200, body = SignedDocumentView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn signed_service(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<SignedDocumentView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        signed(api, &who, p.get(0), DocumentKind::ServiceState).map(Json)
    })
    .await
}

/// The latest revocation list signed with the property key (what devices get).
#[utoipa::path(get, path = "/api/v1/properties/{property}/revocations/signed", tag = "service", params(("property" = String, Path)),
    responses((status = 200, body = SignedDocumentView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn signed_revocations(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<SignedDocumentView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        signed(api, &who, p.get(0), DocumentKind::RevocationList).map(Json)
    })
    .await
}

/// A self-custody owner uploads the service state signed offline (`doorman state sign`).
#[utoipa::path(put, path = "/api/v1/properties/{property}/service/signed", tag = "service", params(("property" = String, Path)), request_body = SignedDocumentRequest,
    responses((status = 200, body = SignedDocumentView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn upload_service(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<SignedDocumentRequest>,
) -> Result<Json<SignedDocumentView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageService)?;
        let key = key(&prop.public_key, "property key")?;
        let state = ServiceState::verify(req.document.as_bytes(), &key)
            .map_err(|e| ApiError::new(Code::BadToken, format!("document: {e}")))?;
        let current = api
            .store
            .service(&prop.id)
            .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
        if state.property != prop.id || state.switch != current.switch {
            return Err(ApiError::new(
                Code::TokenMismatch,
                "document: it does not say what the switch says now; sign the pending state again",
            ));
        }
        state_docs::store_uploaded(
            api,
            &prop,
            DocumentKind::ServiceState,
            state.seq,
            current.seq,
            state.issued_at,
            req.document.into_bytes(),
        )
        .map(Json)
    })
    .await
}

/// A self-custody owner uploads the revocation list signed offline (`doorman state sign`).
#[utoipa::path(put, path = "/api/v1/properties/{property}/revocations/signed", tag = "service", params(("property" = String, Path)), request_body = SignedDocumentRequest,
    responses((status = 200, body = SignedDocumentView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn upload_revocations(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<SignedDocumentRequest>,
) -> Result<Json<SignedDocumentView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::Revoke)?;
        let key = key(&prop.public_key, "property key")?;
        let list = RevocationList::verify(req.document.as_bytes(), &key)
            .map_err(|e| ApiError::new(Code::BadToken, format!("document: {e}")))?;
        let now = api.now();
        let active = api
            .store
            .revocations(&prop.id, Some(now))
            .map_err(|e| ApiError::store(e, "revocations", Code::Internal))?;
        if list.property != prop.id
            || active
                .iter()
                .any(|r| !list.revoked.contains(&r.revocation_id))
        {
            return Err(ApiError::new(
                Code::TokenMismatch,
                "document: it leaves out revocations in force; sign the pending list again",
            ));
        }
        let seq = api
            .store
            .property(&prop.id)
            .map_err(|e| ApiError::store(e, "property", Code::Internal))?
            .map_or(0, |p| p.revocation_seq);
        state_docs::store_uploaded(
            api,
            &prop,
            DocumentKind::RevocationList,
            list.seq,
            seq,
            list.issued_at,
            req.document.into_bytes(),
        )
        .map(Json)
    })
    .await
}

/// The property's revocations and the signed list devices get.
#[utoipa::path(get, path = "/api/v1/properties/{property}/revocations", tag = "service", params(("property" = String, Path)),
    responses((status = 200, body = RevocationsView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn revocations(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<RevocationsView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadRevocations)?;
        let all = api
            .store
            .revocations(&prop.id, None)
            .map_err(|e| ApiError::store(e, "revocations", Code::Internal))?;
        let doc = api
            .store
            .document(&prop.id, DocumentKind::RevocationList)
            .map_err(|e| ApiError::store(e, "document", Code::Internal))?;
        let pending_payload = if prop.custody == Custody::SelfCustody {
            state_docs::pending_revocation_payload(api, &prop, doc.as_ref())?
                .map(|b| URL_SAFE_NO_PAD.encode(b))
        } else {
            None
        };
        Ok(Json(RevocationsView {
            property: prop.id.to_string(),
            seq: prop.revocation_seq,
            revoked: all.iter().map(revocation_view).collect(),
            document: doc
                .as_ref()
                .map(|d| String::from_utf8_lossy(&d.document).into_owned()),
            document_seq: doc.as_ref().map(|d| d.seq),
            pending_payload,
        }))
    })
    .await
}

/// Revoke one token id at the property (a pass minted offline and reported lost, say).
#[utoipa::path(post, path = "/api/v1/properties/{property}/revocations", tag = "service", params(("property" = String, Path)), request_body = RevokeIdRequest,
    responses((status = 201, body = RevocationsView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn revoke_id(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<RevokeIdRequest>,
) -> Result<Created<doorman_proto::RevocationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::Revoke)?;
        let revocation_id = hex::decode(req.revocation_id.trim())
            .ok()
            .filter(|b| !b.is_empty() && b.len() <= doorman_trust::state::MAX_REVOCATION_ID)
            .ok_or_else(|| ApiError::new(Code::InvalidField, "revocation_id: hex of 1 to 64 bytes, as `doorman token inspect` prints it"))?;
        let reason = check_reason(&req.reason)?;
        let now = api.now();
        let r = Revocation {
            property: prop.id.clone(),
            revocation_id,
            kind: RevokedKind::Other,
            reference: String::new(),
            reason: reason.clone(),
            revoked_by: who.person().to_string(),
            revoked_at: now,
            expires_at: req.expires_at,
        };
        let entry = access_entry(&prop.id, serde_json::json!({
            "type": "token_revoked", "v": 1, "at": whole_seconds(now).to_string(), "by": who.person(),
            "revocation_id": hex::encode(&r.revocation_id), "reason": reason,
        }));
        api.store.add_revocation(&r, Some(&entry)).map_err(|e| match e {
            doorman_store::ControlError::Duplicate(_) => ApiError::new(Code::AlreadyRevoked, "this id is revoked already"),
            other => ApiError::store(other, "property", Code::Internal),
        })?;
        api.publisher.flush(api.config.publish_wait);
        state_docs::issue(api, &prop.id, false);
        Ok(Created(revocation_view(&r)))
    })
    .await
}

/// The property's private access log: events with their openings (or that they were
/// redacted) under the latest checkpoint; `from` and `limit` (at most 1024) page through it.
#[utoipa::path(get, path = "/api/v1/properties/{property}/access-log", tag = "access log", params(("property" = String, Path), ("from" = Option<u64>, Query), ("limit" = Option<u64>, Query)),
    responses((status = 200, body = AccessLogView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn access_log(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Result<Json<AccessLogView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadAccessLog)?;
        let q = super::extract::query(q.as_deref(), &["from", "limit"])?;
        let num = |name: &str, default: u64| -> Result<u64, ApiError> {
            q.get(name).map_or(Ok(default), |v| {
                crate::parse_u64(v)
                    .ok_or_else(|| ApiError::new(Code::BadQuery, format!("{name}: a decimal")))
            })
        };
        let from = num("from", 0)?;
        let limit = num("limit", 100)?;
        if limit == 0 || limit > doorman_store::MAX_ACCESS_READ {
            return Err(ApiError::new(
                Code::BadQuery,
                format!("limit: 1 to {}", doorman_store::MAX_ACCESS_READ),
            ));
        }
        let access_err = |e: doorman_store::AccessLogError| {
            super::error::tracing_error(&format!("reading the access log of {}: {e}", prop.id));
            ApiError::internal()
        };
        let origin = api.access.origin(&prop.id);
        let verifier_key = api
            .access
            .verifier(&prop.id)
            .map_err(access_err)?
            .to_string();
        let Some(log) = api.access.existing(&prop.id).map_err(access_err)? else {
            return Ok(Json(AccessLogView {
                property: prop.id.to_string(),
                origin,
                verifier_key,
                size: 0,
                checkpoint: None,
                events: Vec::new(),
                next_from: None,
            }));
        };
        let cp = log.latest_checkpoint().map_err(access_err)?;
        let size = cp.as_ref().map_or(0, |c| c.size);
        let end = from.saturating_add(limit).min(size);
        let events = if from < end {
            log.read(from, end).map_err(access_err)?
        } else {
            Vec::new()
        };
        let views = events
            .into_iter()
            .map(|e| {
                let leaf = String::from_utf8_lossy(&e.leaf).into_owned();
                match e.opening {
                    doorman_store::Opening::Open {
                        salt,
                        payload,
                        appended_at,
                    } => AccessEventView {
                        index: e.index,
                        leaf,
                        payload: serde_json::from_slice(&payload).ok(),
                        salt: Some(hex::encode(salt.as_bytes())),
                        appended_at: jiff::Timestamp::try_from(appended_at).ok(),
                        redacted_at: None,
                    },
                    doorman_store::Opening::Redacted {
                        appended_at,
                        redacted_at,
                    } => AccessEventView {
                        index: e.index,
                        leaf,
                        payload: None,
                        salt: None,
                        appended_at: jiff::Timestamp::try_from(appended_at).ok(),
                        redacted_at: jiff::Timestamp::try_from(redacted_at).ok(),
                    },
                    doorman_store::Opening::Missing => AccessEventView {
                        index: e.index,
                        leaf,
                        payload: None,
                        salt: None,
                        appended_at: None,
                        redacted_at: None,
                    },
                }
            })
            .collect();
        Ok(Json(AccessLogView {
            property: prop.id.to_string(),
            origin,
            verifier_key,
            size,
            checkpoint: cp.map(|c| String::from_utf8_lossy(&c.note).into_owned()),
            events: views,
            next_from: (end < size).then_some(end),
        }))
    })
    .await
}

/// The proofs of one access-log event: under the latest checkpoint, and under the first
/// anchored checkpoint covering it (with the anchor's public log index).
#[utoipa::path(get, path = "/api/v1/properties/{property}/access-log/{index}/proof", tag = "access log", params(("property" = String, Path), ("index" = u64, Path)),
    responses((status = 200, body = doorman_proto::AccessProofView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn access_proof(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<doorman_proto::AccessProofView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadAccessLog)?;
        let index =
            crate::parse_u64(p.get(1)).ok_or_else(|| ApiError::not_found("access event"))?;
        let log = api
            .access
            .existing(&prop.id)
            .map_err(|_| ApiError::internal())?
            .ok_or_else(|| ApiError::not_found("access event"))?;
        let covered = log
            .latest_checkpoint()
            .map_err(|_| ApiError::internal())?
            .map_or(0, |c| c.size);
        if index >= covered {
            return Err(ApiError::not_found(
                "access event (not covered by a checkpoint yet)",
            ));
        }
        let fail = |e: doorman_store::AccessLogError| {
            super::error::tracing_error(&format!(
                "proving access event {index} of {}: {e}",
                prop.id
            ));
            ApiError::internal()
        };
        let proof = log.prove(index, None).map_err(fail)?;
        let anchored = log
            .anchored_proof(index)
            .map_err(fail)?
            .map(|(proof, anchor)| doorman_proto::AnchoredProofView {
                proof: String::from_utf8_lossy(&proof.to_bytes()).into_owned(),
                size: anchor.size,
                root: anchor.root.to_base64(),
                public_index: anchor.public_index,
            });
        Ok(Json(doorman_proto::AccessProofView {
            index,
            proof: String::from_utf8_lossy(&proof.to_bytes()).into_owned(),
            anchored,
        }))
    })
    .await
}

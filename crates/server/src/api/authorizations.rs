//! Carrier authorizations (a property's owner or manager authorizes a carrier for doors on a
//! weekly schedule, with an expiry and a daily cap) and the passes the server mints for a
//! carrier that lets it hold its key.

use std::collections::BTreeSet;

use axum::extract::{RawQuery, State};
use doorman_core::{
    Action, CarrierId, DeliveryRef, DoorId, OrgId, OrgKind, PropertyId, Role, Scope, UnitId,
    WeeklySchedule, authorize,
};
use doorman_entries::{Custody, PublicEntry, carrier_authorized_entry};
use doorman_proto::codes::Code;
use doorman_proto::{
    AuthorizationView, AuthorizeRequest, DEFAULT_PAGE_LIMIT, List, MAX_PAGE_LIMIT, MintPassRequest,
    PassView, ReasonRequest,
};
use doorman_store::control::{
    Authorization, AuthorizationFilter, Decision, LogTarget, OutboxEntry, Pass, Property,
    Revocation, RevokedKind,
};
use doorman_trust::authorization::{DEFAULT_MAX_PASS_DURATION, read_authorization};
use doorman_trust::{AuthorizationSpec, PassSpec, mint_pass, sign_authorization, token};
use jiff::SignedDuration;

use super::auth::{Authed, new_id};
use super::properties::{property_for, property_secret, verified};
use super::views::{
    authorization_view, authorization_view_with, check_reason, id, key, pass_view, whole_seconds,
};
use super::{Api, ApiError, Body, Created, Credentials, Json, Params, Shared, run};
use crate::state_docs;

/// The scope of an authorization.
fn scope<'a>(p: &'a Property, carrier: &'a OrgId) -> Scope<'a> {
    Scope {
        property_org: Some(&p.org),
        property: Some(&p.id),
        carrier_org: Some(carrier),
        ..Scope::default()
    }
}

fn carrier_org(a: &Authorization) -> Result<OrgId, ApiError> {
    OrgId::new(a.carrier.as_str()).map_err(|_| ApiError::internal())
}

/// Loads an authorization (and its property) the caller may act on with `action`.
pub(crate) fn authorization_for(
    api: &Api,
    who: &Authed,
    param: &str,
    action: Action,
) -> Result<(Authorization, Property), ApiError> {
    let a = api
        .store
        .authorization(param)
        .map_err(|e| ApiError::store(e, "authorization", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("authorization"))?;
    let p = api
        .store
        .property(&a.property)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("authorization"))?;
    let carrier = carrier_org(&a)?;
    authorize(&who.actor, action, &scope(&p, &carrier))
        .map_err(|r| ApiError::refused(r, "authorization"))?;
    Ok((a, p))
}

fn parse_duration(s: &str) -> Result<SignedDuration, ApiError> {
    s.trim().parse::<SignedDuration>().map_err(|e| {
        ApiError::new(
            Code::InvalidField,
            format!("max_pass_duration: {e}; write it like 2h or 45m"),
        )
    })
}

/// Authorize a carrier at the property: custodial, the server signs; self-custody, the
/// `authorization` token signed offline must say exactly what the request says.
/// `carrier_authorized` goes to the public log.
#[utoipa::path(post, path = "/api/v1/properties/{property}/authorizations", tag = "authorizations", params(("property" = String, Path)), request_body = AuthorizeRequest,
    responses((status = 201, body = AuthorizationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn authorize_carrier(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<AuthorizeRequest>,
) -> Result<Created<AuthorizationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageCarriers)?;
        verified(&prop)?;
        let carrier = id(&req.carrier, "carrier", CarrierId::new)?;
        let carrier_org = OrgId::new(carrier.as_str()).ok().and_then(|o| api.store.org(&o).ok().flatten()).filter(|o| o.kind == OrgKind::Carrier);
        let carrier_org = carrier_org.ok_or_else(|| ApiError::new(Code::UnknownReference, format!("carrier: {carrier} is not a carrier (GET /api/v1/carriers lists them)")))?;
        let carrier_key = carrier_org
            .carrier_key
            .as_ref()
            .ok_or_else(|| ApiError::new(Code::NoCarrierKey, "the carrier has not registered a pass-signing key yet"))?;
        let carrier_key = key(&carrier_key.public_key, "carrier key")?;
        let known: Vec<DoorId> = api.store.doors(&prop.id).map_err(|e| ApiError::store(e, "doors", Code::Internal))?.into_iter().map(|d| d.door).collect();
        let mut doors = BTreeSet::new();
        for d in &req.doors {
            let door = id(d, "doors", DoorId::new)?;
            if !known.contains(&door) {
                return Err(ApiError::new(Code::UnknownReference, format!("doors: the property has no door {door:?}")));
            }
            doors.insert(door);
        }
        if doors.is_empty() {
            return Err(ApiError::new(Code::InvalidField, "doors: authorize at least one door"));
        }
        let schedule: WeeklySchedule = req.schedule.parse().map_err(|e| ApiError::new(Code::BadSchedule, format!("schedule: {e}")))?;
        if req.daily_cap == Some(0) {
            return Err(ApiError::new(Code::InvalidField, "daily_cap: 0 would allow nothing; leave it out for no cap"));
        }
        let max_pass_duration = req.max_pass_duration.as_deref().map(parse_duration).transpose()?.unwrap_or(DEFAULT_MAX_PASS_DURATION);
        let now = whole_seconds(api.now());
        let spec = AuthorizationSpec {
            property: prop.id.clone(),
            carrier: carrier.clone(),
            carrier_key,
            doors: doors.clone(),
            schedule,
            time_zone: prop.time_zone.clone(),
            daily_cap: req.daily_cap,
            max_pass_duration,
            not_before: whole_seconds(req.not_before.unwrap_or(now)),
            not_after: whole_seconds(req.not_after),
        };
        let property_key = key(&prop.public_key, "property key")?;
        let token_bytes = match (prop.custody, req.authorization.as_deref()) {
            (Custody::Custodial, None) => {
                let secret = property_secret(api, &prop)?;
                sign_authorization(&secret, &spec, &mut rand::rngs::OsRng).map_err(|e| ApiError::new(Code::BadWindow, e.to_string()))?
            }
            (Custody::SelfCustody, Some(text)) => {
                let bytes = token::decode(text.trim()).map_err(|e| ApiError::new(Code::BadToken, format!("authorization: {e}")))?;
                let verified = read_authorization(&bytes, &property_key).map_err(|e| ApiError::new(Code::BadToken, format!("authorization: {e}")))?;
                if verified.spec != spec {
                    return Err(ApiError::new(Code::TokenMismatch, "authorization: the token does not say what this request says (carrier, key, doors, schedule, time zone, cap, pass length, window)"));
                }
                bytes
            }
            (Custody::Custodial, Some(_)) => return Err(ApiError::new(Code::InvalidField, "authorization: the server signs a custodial property's authorizations; leave it out")),
            (Custody::SelfCustody, None) => return Err(ApiError::new(Code::SignatureRequired, "this property is self-custody: sign with `doorman authorization sign` and send it as `authorization`")),
        };
        let verified = read_authorization(&token_bytes, &property_key).map_err(|e| ApiError::new(Code::BadToken, e.to_string()))?;
        let entry = carrier_authorized_entry(now, &token_bytes, &property_key).map_err(|e| ApiError::new(Code::TokenMismatch, e.to_string()))?;
        let out = OutboxEntry { target: LogTarget::Public, entry: entry.to_bytes().map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))? };
        let a = Authorization {
            id: new_id("auth_"),
            property: prop.id.clone(),
            carrier,
            carrier_key: spec.carrier_key.to_string(),
            doors: doors.into_iter().collect(),
            schedule: spec.schedule.to_string(),
            time_zone: spec.time_zone.clone(),
            daily_cap: spec.daily_cap,
            max_pass_seconds: spec.max_pass_duration.as_secs(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            token: token::encode(&token_bytes),
            revocation_id: verified.revocation_id.clone(),
            created_by: who.person().to_string(),
            created_at: now,
            outbox: 0,
            revocation: None,
            revoked_outbox: None,
        };
        let stored = api.store.create_authorization(&a, &out).map_err(|e| ApiError::store(e, "authorization", Code::Duplicate))?;
        api.published(stored.outbox);
        Ok(Created(authorization_view(api, &stored, api.now())))
    })
    .await
}

/// A page of a list: `?after=` (the previous page's `next_after`) and `?limit=`.
pub(crate) struct Page {
    after: Option<(jiff::Timestamp, String)>,
    limit: usize,
}

impl Page {
    /// Reads `after` and `limit` from a parsed query.
    pub(crate) fn from_query(
        q: &std::collections::BTreeMap<String, String>,
    ) -> Result<Page, ApiError> {
        let limit = match q.get("limit") {
            None => DEFAULT_PAGE_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_LIMIT).contains(n) && !v.starts_with('+'))
                .ok_or_else(|| {
                    ApiError::new(
                        Code::BadQuery,
                        format!("limit: a whole number from 1 to {MAX_PAGE_LIMIT}"),
                    )
                })?,
        };
        let after = q
            .get("after")
            .map(|cursor| {
                let bad = || {
                    ApiError::new(
                        Code::BadQuery,
                        "after: not a cursor (pass the previous page's next_after as it is)",
                    )
                };
                let (ms, id) = cursor.split_once('.').ok_or_else(bad)?;
                if ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit()) || id.is_empty() {
                    return Err(bad());
                }
                let ms = ms.parse::<i64>().map_err(|_| bad())?;
                let at = jiff::Timestamp::from_millisecond(ms).map_err(|_| bad())?;
                Ok((at, id.to_string()))
            })
            .transpose()?;
        Ok(Page { after, limit })
    }

    fn cursor(a: &Authorization) -> String {
        format!("{}.{}", a.created_at.as_millisecond(), a.id)
    }
}

fn visible(
    api: &Api,
    who: &Authed,
    filter: AuthorizationFilter,
    page: &Page,
) -> Result<List<AuthorizationView>, ApiError> {
    // Each membership's query reads one more than a page, so the merge knows whether more
    // follow without reading them all.
    let filter = AuthorizationFilter {
        after: page.after.clone(),
        limit: Some(page.limit.saturating_add(1)),
        ..filter
    };
    let mut found: Vec<Authorization> = Vec::new();
    for m in &who.actor.memberships {
        let f = match (m.kind, m.role) {
            (OrgKind::Property, Role::Owner | Role::Manager) => AuthorizationFilter {
                properties_of_org: Some(m.org.clone()),
                ..filter.clone()
            },
            (OrgKind::Carrier, Role::Admin | Role::Dispatcher) => match &filter.carrier {
                Some(c) if c.as_str() != m.org.as_str() => continue,
                _ => AuthorizationFilter {
                    carrier: CarrierId::new(m.org.as_str()).ok(),
                    ..filter.clone()
                },
            },
            _ => continue,
        };
        for a in api
            .store
            .authorizations(&f)
            .map_err(|e| ApiError::store(e, "authorizations", Code::Internal))?
        {
            if !found.iter().any(|x| x.id == a.id) {
                found.push(a);
            }
        }
    }
    found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let next_after = if found.len() > page.limit {
        found.truncate(page.limit);
        found.last().map(Page::cursor)
    } else {
        None
    };
    let now = api.now();
    // One read per property and one for every log index, not one of each per item.
    let mut properties: std::collections::HashMap<PropertyId, Option<Property>> =
        std::collections::HashMap::new();
    let mut shown: Vec<&Authorization> = Vec::new();
    for a in &found {
        if !properties.contains_key(&a.property) {
            let p = api
                .store
                .property(&a.property)
                .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
            properties.insert(a.property.clone(), p);
        }
        let Some(Some(p)) = properties.get(&a.property) else {
            continue;
        };
        let carrier = carrier_org(a)?;
        if authorize(&who.actor, Action::ReadAuthorization, &scope(p, &carrier)).is_ok() {
            shown.push(a);
        }
    }
    let ids: Vec<i64> = shown.iter().map(|a| a.outbox).collect();
    let indexes = api
        .store
        .log_indexes(&ids)
        .map_err(|e| ApiError::store(e, "log indexes", Code::Internal))?;
    let out = shown
        .iter()
        .zip(indexes)
        .map(|(a, index)| authorization_view_with(a, now, index))
        .collect();
    Ok(List::page(out, next_after))
}

/// Authorizations the caller can see (a property's, or a carrier's own), oldest first, a page
/// at a time; `?property=`, `?carrier=` and `?active=true` filter; `?limit=` (1-1000, default
/// 100) and `?after=` (the previous page's `next_after`) page.
#[utoipa::path(get, path = "/api/v1/authorizations", tag = "authorizations", params(("property" = Option<String>, Query), ("carrier" = Option<String>, Query), ("active" = Option<bool>, Query), ("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = List<AuthorizationView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Shared>,
    creds: Credentials,
    RawQuery(q): RawQuery,
) -> Result<Json<List<AuthorizationView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let q = super::extract::query(
            q.as_deref(),
            &["property", "carrier", "active", "limit", "after"],
        )?;
        let page = Page::from_query(&q)?;
        let filter = AuthorizationFilter {
            property: q
                .get("property")
                .map(|p| PropertyId::new(p.as_str()))
                .transpose()
                .map_err(|e| ApiError::new(Code::BadQuery, format!("property: {e}")))?,
            properties_of_org: None,
            carrier: q
                .get("carrier")
                .map(|c| CarrierId::new(c.as_str()))
                .transpose()
                .map_err(|e| ApiError::new(Code::BadQuery, format!("carrier: {e}")))?,
            active_only: match q.get("active").map(String::as_str) {
                None | Some("false") => false,
                Some("true") => true,
                Some(_) => return Err(ApiError::new(Code::BadQuery, "active: true or false")),
            },
            ..Default::default()
        };
        visible(api, &who, filter, &page).map(Json)
    })
    .await
}

/// A property's authorizations, oldest first, a page at a time (`?limit=`, `?after=`).
#[utoipa::path(get, path = "/api/v1/properties/{property}/authorizations", tag = "authorizations", params(("property" = String, Path), ("limit" = Option<u32>, Query), ("after" = Option<String>, Query)),
    responses((status = 200, body = List<AuthorizationView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn list_for_property(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Result<Json<List<AuthorizationView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let page = Page::from_query(&super::extract::query(q.as_deref(), &["limit", "after"])?)?;
        let prop = property_for(api, &who, p.get(0), Action::ManageCarriers)?;
        visible(
            api,
            &who,
            AuthorizationFilter {
                property: Some(prop.id),
                ..Default::default()
            },
            &page,
        )
        .map(Json)
    })
    .await
}

/// One authorization, with its token (the carrier mints passes on it).
#[utoipa::path(get, path = "/api/v1/authorizations/{authorization}", tag = "authorizations", params(("authorization" = String, Path)),
    responses((status = 200, body = AuthorizationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<AuthorizationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (a, _) = authorization_for(api, &who, p.get(0), Action::ReadAuthorization)?;
        Ok(Json(authorization_view(api, &a, api.now())))
    })
    .await
}

/// Revoke an authorization, and with it every pass minted on it: `authorization_revoked`
/// goes to the public log and its id to the property's revocation list.
#[utoipa::path(post, path = "/api/v1/authorizations/{authorization}/revoke", tag = "authorizations", params(("authorization" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = AuthorizationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn revoke(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<ReasonRequest>,
) -> Result<Json<AuthorizationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (a, prop) = authorization_for(api, &who, p.get(0), Action::ManageAuthorizations)?;
        let reason = check_reason(&req.reason)?;
        if a.revocation.is_some() {
            return Err(ApiError::new(
                Code::AlreadyRevoked,
                "the authorization is revoked already",
            ));
        }
        let now = whole_seconds(api.now());
        let entry = PublicEntry::AuthorizationRevoked {
            at: now.to_string(),
            property: prop.id.to_string(),
            carrier: a.carrier.to_string(),
            revocation_id: hex::encode(&a.revocation_id),
            reason: reason.clone(),
        };
        let out = OutboxEntry {
            target: LogTarget::Public,
            entry: entry
                .to_bytes()
                .map_err(|e| ApiError::new(Code::InvalidField, e.to_string()))?,
        };
        let revocation = Revocation {
            property: prop.id.clone(),
            revocation_id: a.revocation_id.clone(),
            kind: RevokedKind::Authorization,
            reference: a.id.clone(),
            reason: reason.clone(),
            revoked_by: who.person().to_string(),
            revoked_at: now,
            expires_at: Some(a.not_after),
        };
        let decision = Decision {
            by: who.person().to_string(),
            org: prop.org.clone(),
            note: reason,
            at: now,
        };
        let done = api
            .store
            .revoke_authorization(&a.id, &decision, &revocation, &out)
            .map_err(|e| match e {
                doorman_store::ControlError::Duplicate(_) => ApiError::new(
                    Code::AlreadyRevoked,
                    "this authorization's id is revoked already",
                ),
                other => ApiError::store(other, "authorization", Code::AlreadyRevoked),
            })?;
        if let Some(o) = done.revoked_outbox {
            api.published(o);
        }
        state_docs::issue(api, &prop.id, false);
        Ok(Json(authorization_view(api, &done, api.now())))
    })
    .await
}

/// Passes the server minted on an authorization, newest first (at most 100).
#[utoipa::path(get, path = "/api/v1/authorizations/{authorization}/passes", tag = "authorizations", params(("authorization" = String, Path)),
    responses((status = 200, body = List<PassView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn passes(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<PassView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (a, _) = authorization_for(api, &who, p.get(0), Action::ReadPasses)?;
        let list = api
            .store
            .passes(&a.id, 100)
            .map_err(|e| ApiError::store(e, "passes", Code::Internal))?;
        Ok(Json(List::new(list.iter().map(pass_view).collect())))
    })
    .await
}

/// Mint a pass with the carrier's custodial key: one delivery, one unit, one door, one
/// driver, a short window. Refused while the owner's switch is off for the property, the door
/// or the carrier, and on a revoked or expired authorization.
#[utoipa::path(post, path = "/api/v1/authorizations/{authorization}/passes", tag = "authorizations", params(("authorization" = String, Path)), request_body = MintPassRequest,
    responses((status = 201, body = PassView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn mint(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<MintPassRequest>,
) -> Result<Created<PassView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let (a, prop) = authorization_for(api, &who, p.get(0), Action::MintPass)?;
        let now = api.now();
        if a.revocation.is_some() {
            return Err(ApiError::new(Code::AuthorizationInactive, "the authorization is revoked"));
        }
        if a.not_after <= now {
            return Err(ApiError::new(Code::AuthorizationInactive, format!("the authorization expired at {}", a.not_after)));
        }
        let door = id(&req.door, "door", DoorId::new)?;
        if !a.doors.contains(&door) {
            return Err(ApiError::new(Code::UnknownReference, format!("door: the authorization does not cover door {door:?}")));
        }
        let service = api.store.service(&prop.id).map_err(|e| ApiError::store(e, "property", Code::Internal))?;
        if !service.switch.door_enabled(&door) || !service.switch.carrier_enabled(&a.carrier) {
            return Err(ApiError::new(Code::ServiceDisabled, "the property's owner has switched delivery access off (for the building, this door or this carrier)"));
        }
        let unit = id(&req.unit, "unit", UnitId::new)?;
        let units = api.store.units(&prop.id).map_err(|e| ApiError::store(e, "units", Code::Internal))?;
        if !units.iter().any(|u| u.unit == unit) {
            return Err(ApiError::new(Code::UnknownReference, format!("unit: the property has no unit {unit:?}")));
        }
        let carrier = carrier_org(&a)?;
        let (driver, driver_key) = match (req.driver.as_deref(), req.driver_key.as_deref()) {
            (Some(d), None) => {
                let rec = api
                    .store
                    .driver(&carrier, d)
                    .map_err(|e| ApiError::store(e, "driver", Code::Internal))?
                    .filter(|d| d.removed_at.is_none())
                    .ok_or_else(|| ApiError::new(Code::UnknownReference, format!("driver: {d} is not one of the carrier's drivers")))?;
                (Some(rec.id), key(&rec.public_key, "driver key")?)
            }
            (None, Some(k)) => (None, key(k, "driver_key")?),
            _ => return Err(ApiError::new(Code::InvalidField, "name the driver by `driver` (id) or by `driver_key`, one of them")),
        };
        let org = api.store.org(&carrier).map_err(|e| ApiError::store(e, "carrier", Code::Internal))?.ok_or_else(ApiError::internal)?;
        let sealed = org
            .carrier_key
            .as_ref()
            .filter(|k| k.public_key == a.carrier_key)
            .and_then(|k| k.sealed_secret.as_deref())
            .ok_or_else(|| ApiError::new(Code::NoCarrierKey, "the server does not hold the key this authorization names for the carrier; mint passes offline with `doorman pass mint`, or register a custodial key and get a new authorization"))?;
        let carrier_secret = api.kek.open(sealed, "carrier-key", carrier.as_str()).map_err(|e| {
            super::error::tracing_error(&format!("opening the key of carrier {carrier}: {e}"));
            ApiError::internal()
        })?;
        let spec = PassSpec {
            door: door.clone(),
            unit: unit.clone(),
            delivery: id(&req.delivery, "delivery", DeliveryRef::new)?,
            driver_key,
            not_before: whole_seconds(req.not_before),
            not_after: whole_seconds(req.not_after),
        };
        let auth_bytes = token::decode(&a.token).map_err(|_| ApiError::internal())?;
        let pass = mint_pass(&auth_bytes, &carrier_secret, &spec, &mut rand::rngs::OsRng).map_err(|e| ApiError::new(Code::BadWindow, e.to_string()))?;
        let pass_id = doorman_trust::pass::pass_id_unverified(&pass).map_err(|_| ApiError::internal())?;
        let record = Pass {
            id: hex::encode(pass_id),
            authorization: a.id.clone(),
            door,
            unit,
            delivery: spec.delivery.clone(),
            driver,
            driver_key: spec.driver_key.to_string(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            token: token::encode(&pass),
            minted_by: who.person().to_string(),
            minted_at: now,
        };
        api.store.record_pass(&record).map_err(|e| ApiError::store(e, "pass", Code::Duplicate))?;
        Ok(Created(pass_view(&record)))
    })
    .await
}

//! The signed-in pages (issue 6): sign-in, sign-out and the managers' overview of their
//! buildings. They live beside the API's handlers because they are the same requests
//! through another door: the same session (the `doorman_session` cookie the API sets), the
//! same authentication, the same `authorize` calls — one authorization layer, not two.
//!
//! Forms are protected against cross-site requests twice over: the session cookie is
//! `SameSite=Lax` (a cross-site POST does not carry it), and every form carries a CSRF token
//! the server checks — for a signed-in form, a hash of the session secret the attacker can't
//! read; for the sign-in form (no session yet), a random value also set as a cookie scoped to
//! `/signin` (double submit), so nobody can sign a visitor in to the attacker's account.

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_core::{Action, authorize};
use doorman_proto::codes::Code;
use doorman_store::control::{InstallationFilter, InstallationStatus};
use sha2::{Digest as _, Sha256};

use super::auth::new_secret;
use super::properties::scope;
use super::{ApiError, Credentials, Shared, run};
use crate::web::{error_page, page, render};

mod carrier;
mod deliveries;
mod filing;
mod installation;
mod log;
mod reports;
mod residents;
mod switch;

/// The sign-in form's double-submit cookie.
const CSRF_COOKIE: &str = "doorman_csrf";
/// The largest form body read (a sign-in is a few hundred bytes).
const MAX_FORM: usize = 8 * 1024;

pub(crate) fn pages_router(api: Shared) -> Router {
    Router::new()
        .route("/signin", get(signin_form).post(signin))
        .route("/signout", axum::routing::post(signout))
        .route("/app", get(overview))
        .route("/app/properties/{property}", get(property_page))
        .route("/app/properties/{property}/log", get(log::page))
        .route("/app/properties/{property}/log/export", get(log::export))
        .route("/app/properties/{property}/feed", get(log::feed))
        .route("/app/properties/{property}/reports", get(reports::page))
        .route(
            "/app/properties/{property}/residents",
            get(residents::page).post(residents::invite),
        )
        .route(
            "/app/properties/{property}/residents/{user}/remove",
            axum::routing::post(residents::remove),
        )
        .route(
            "/invitation",
            get(residents::invitation_form).post(residents::accept),
        )
        .route(
            "/app/properties/{property}/deliveries",
            get(deliveries::page),
        )
        .route(
            "/app/properties/{property}/switch",
            get(switch::confirm).post(switch::change),
        )
        .route("/app/installations/new", get(filing::form))
        .route(
            "/app/installations",
            axum::routing::post(filing::file)
                .layer(axum::extract::DefaultBodyLimit::max(filing::MAX_UPLOAD)),
        )
        .route(
            "/app/installations/{installation}/photos",
            axum::routing::post(filing::photos)
                .layer(axum::extract::DefaultBodyLimit::max(filing::MAX_UPLOAD)),
        )
        .route("/app/installations/{installation}", get(installation::show))
        .route("/app/authorizations/{authorization}", get(carrier::page))
        .route(
            "/app/installations/{installation}/approve",
            axum::routing::post(installation::approve),
        )
        .route(
            "/app/installations/{installation}/reject",
            axum::routing::post(installation::reject),
        )
        .with_state(api)
}

/// The CSRF token of a signed-in form: bound to the session, unreadable from another site.
fn session_csrf(session_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"doorman csrf v1\0");
    h.update(session_secret.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

/// Compares two secrets without an early exit on the first differing byte.
fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|t| t.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_string())
}

/// The fields of a form body (the first of each name); `None` if it is too large or not a form.
fn form(headers: &HeaderMap, body: &Bytes) -> Option<HashMap<String, String>> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !form_type || body.len() > MAX_FORM {
        return None;
    }
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    Some(out)
}

fn see_other(to: &str, cookies: &[HeaderValue]) -> Response {
    let mut r = page(StatusCode::SEE_OTHER, String::new());
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    r
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignIn {
    csrf: String,
    email: String,
    problem: Option<String>,
    expired: bool,
}

/// A form for someone without a session yet (sign-in, accepting an invitation), rendered by
/// `draw` with a fresh double-submit token that is also set as a cookie scoped to `path`.
fn no_session_form(api: &Shared, path: &str, draw: impl FnOnce(String) -> Response) -> Response {
    let (csrf, _) = new_secret("dmc_");
    let secure = if api.secure_cookies() { "; Secure" } else { "" };
    let mut r = draw(csrf.clone());
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={csrf}; Path={path}; HttpOnly; SameSite=Strict; Max-Age=3600{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// Ends the double-submit cookie of [`no_session_form`] at `path` (the form did its work).
fn end_form_cookie(path: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0"
    ))
    .ok()
}

/// A sign-in form with a fresh double-submit token.
fn signin_page(
    api: &Shared,
    status: StatusCode,
    email: String,
    problem: Option<String>,
    expired: bool,
) -> Response {
    no_session_form(api, "/signin", |csrf| {
        render(
            status,
            &SignIn {
                csrf,
                email,
                problem,
                expired,
            },
        )
    })
}

async fn signin_form(State(api): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let expired = q.is_some_and(|q| q.split('&').any(|p| p == "expired=1"));
    signin_page(&api, StatusCode::OK, String::new(), None, expired)
}

async fn signin(State(api): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(fields) = form(&headers, &body) else {
        return signin_page(
            &api,
            StatusCode::BAD_REQUEST,
            String::new(),
            Some("That was not the sign-in form: sign in with the form below.".into()),
            false,
        );
    };
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let (email, password, csrf) = (field("email"), field("password"), field("csrf"));
    let expected = cookie(&headers, CSRF_COOKIE);
    if csrf.is_empty() || !expected.is_some_and(|c| same_secret(&c, &csrf)) {
        return signin_page(
            &api,
            StatusCode::FORBIDDEN,
            email,
            Some("The form had expired or came from another site: sign in again below.".into()),
            false,
        );
    }
    if email.trim().is_empty() || password.is_empty() {
        return signin_page(
            &api,
            StatusCode::BAD_REQUEST,
            email,
            Some("Give your email and your password.".into()),
            false,
        );
    }
    let shown = email.clone();
    match run(api.clone(), move |api| {
        api.password_session(&email, &password)
    })
    .await
    {
        Ok(session) => {
            let mut cookies: Vec<HeaderValue> = api
                .session_set_cookie(Some(&session.token))
                .into_iter()
                .collect();
            cookies.extend(end_form_cookie("/signin"));
            see_other("/app", &cookies)
        }
        Err(e) => {
            let (status, problem) = match e.code {
                Code::TooManyAttempts | Code::LockedOut => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed sign-ins for this address: wait {} s and try again.",
                        e.retry_after.unwrap_or(1)
                    ),
                ),
                Code::Unauthenticated => (
                    StatusCode::UNAUTHORIZED,
                    "Wrong email or password.".to_string(),
                ),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Signing in failed: try again in a minute.".to_string(),
                ),
            };
            signin_page(&api, status, shown, Some(problem), false)
        }
    }
}

async fn signout(
    State(api): State<Shared>,
    headers: HeaderMap,
    creds: Credentials,
    body: Bytes,
) -> Response {
    let csrf = form(&headers, &body)
        .and_then(|f| f.get("csrf").cloned())
        .unwrap_or_default();
    let Some(secret) = creds.bearer.clone().filter(|_| creds.from_cookie) else {
        return see_other("/signin", &[]);
    };
    if !same_secret(&session_csrf(&secret), &csrf) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Not signed out",
            "The sign-out form had expired or came from another site. Go back, reload the page and sign out again.",
        );
    }
    let _ = run(api.clone(), move |api| api.end_session(&creds)).await;
    let cookies: Vec<HeaderValue> = api.session_set_cookie(None).into_iter().collect();
    see_other("/", &cookies)
}

struct AuthorizationRow {
    id: String,
    building: String,
    doors: String,
    schedule: String,
    until: String,
    status: &'static str,
}

struct FiledRow {
    id: String,
    building: String,
    door: String,
    device: String,
    status: &'static str,
    at: String,
}

struct HomeRow {
    id: String,
    name: String,
    address: String,
}

struct PropertyRow {
    id: String,
    name: String,
    address: String,
    status: &'static str,
    doors: usize,
    devices: usize,
    online: usize,
    waiting: usize,
    /// Doors opened for deliveries today (the building's day), and refusals.
    entries_today: u64,
    denied_today: u64,
    /// A device reports a fault.
    faults: usize,
}

#[derive(Template)]
#[template(path = "app.html")]
struct Overview {
    name: String,
    email: String,
    csrf: String,
    memberships: Vec<String>,
    properties: Vec<PropertyRow>,
    /// Buildings this person lives in (residents): their deliveries page.
    homes: Vec<HomeRow>,
    /// Installers: whether they may file requests, and those their organisations filed.
    installer: bool,
    filed: Vec<FiledRow>,
    /// Carriers: their authorizations at buildings.
    carrier: bool,
    authorizations: Vec<AuthorizationRow>,
}

/// The signed-in person, or the response that sends them to sign in.
async fn signed_in<T: Send + 'static>(
    api: &Shared,
    creds: Credentials,
    f: impl FnOnce(&super::Api, &super::auth::Authed) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, Response> {
    signed_in_as(api, creds, true, f).await
}

async fn signed_in_as<T: Send + 'static>(
    api: &Shared,
    creds: Credentials,
    hide_forbidden: bool,
    f: impl FnOnce(&super::Api, &super::auth::Authed) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, Response> {
    let from_cookie = creds.from_cookie && creds.bearer.is_some();
    if !from_cookie {
        return Err(see_other("/signin", &[]));
    }
    match run(api.clone(), move |api| {
        let who = api.authenticate(&creds)?;
        f(api, &who)
    })
    .await
    {
        Ok(v) => Ok(v),
        Err(e) if e.code == Code::Unauthenticated => {
            // Expired or ended: clear it, and say so on the sign-in page.
            let cookies: Vec<HeaderValue> = api.session_set_cookie(None).into_iter().collect();
            Err(see_other("/signin?expired=1", &cookies))
        }
        Err(e) if !hide_forbidden && matches!(e.code, Code::Forbidden | Code::OwnRequest) => {
            Err(error_page(
                StatusCode::FORBIDDEN,
                "Nothing was done",
                &format!("You may not do this: {}.", e.detail),
            ))
        }
        Err(e) if matches!(e.code, Code::NotFound | Code::Forbidden) => Err(error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page, or it is not one you may see.",
        )),
        Err(e) if e.is_fixable() => Err(error_page(
            e.status(),
            "This page can't be shown",
            &format!("{}.", e.detail),
        )),
        Err(_) => Err(error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "This page can't be shown right now",
            "Try again in a minute.",
        )),
    }
}

/// The session's form token (empty without a session: every form post is then refused).
fn form_token(creds: &Credentials) -> String {
    creds
        .bearer
        .as_deref()
        .map(session_csrf)
        .unwrap_or_default()
}

/// A signed-in page: built by `f` (given the session's form token) and rendered, or the page
/// that says why not (sign in, not found, try again).
async fn signed_in_page<T: Template + Send + 'static>(
    api: &Shared,
    creds: Credentials,
    f: impl FnOnce(&super::Api, &super::auth::Authed, String) -> Result<T, ApiError> + Send + 'static,
) -> Response {
    let csrf = form_token(&creds);
    match signed_in(api, creds, move |api, who| f(api, who, csrf)).await {
        Ok(view) => render(StatusCode::OK, &view),
        Err(r) => r,
    }
}

/// The fields of a signed-in person's form, once its CSRF token matched their session; or the
/// page that says why the form was refused (nothing was done).
#[allow(clippy::result_large_err)] // the error is the page answered, made once per request
fn checked_form(
    creds: &Credentials,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<HashMap<String, String>, Response> {
    let Some(secret) = creds.bearer.as_deref().filter(|_| creds.from_cookie) else {
        return Err(see_other("/signin", &[]));
    };
    let Some(fields) = form(headers, body) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            "Nothing was done",
            "That was not one of this site's forms, or it was too large. Go back, reload the page and try again.",
        ));
    };
    let csrf = fields.get("csrf").map_or("", String::as_str);
    if !same_secret(&session_csrf(secret), csrf) {
        return Err(error_page(
            StatusCode::FORBIDDEN,
            "Nothing was done",
            "The form had expired or came from another site. Go back, reload the page and try again.",
        ));
    }
    Ok(fields)
}

/// Runs a signed-in person's form action: as [`signed_in`], except that a refusal of their
/// role is said as such (403, as the API answers) rather than hidden, since they saw the form.
async fn signed_in_form<T: Send + 'static>(
    api: &Shared,
    creds: Credentials,
    f: impl FnOnce(&super::Api, &super::auth::Authed) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, Response> {
    signed_in_as(api, creds, false, f).await
}

/// The note a page shows after a form succeeded (`?done=…` on the page it sent you back to).
fn done_note(query: Option<&str>) -> Option<&'static str> {
    let done = query?.split('&').find_map(|p| p.strip_prefix("done="))?;
    Some(match done {
        "approved" => {
            "Approved: the consent is signed and in the public log. The device activates when it next connects."
        }
        "rejected" => "Rejected: the device stays shut, and the installer sees your reason.",
        "switched" => {
            "Done: the switch is changed. Online devices hear of it at once (within a second)."
        }
        "filed" => {
            "Filed: the building's owner and managers see it now, and the request is in the public log."
        }
        "photos" => "The photos are added.",
        "removed" => "Removed: they no longer see the building's deliveries.",
        _ => return None,
    })
}

/// The organisations of `kind` this person belongs to where `allowed` says yes.
fn orgs_where(
    who: &super::auth::Authed,
    kind: doorman_core::OrgKind,
    allowed: impl Fn(&doorman_core::OrgId) -> Result<(), doorman_core::Refusal>,
) -> Vec<doorman_core::OrgId> {
    let mut orgs: Vec<doorman_core::OrgId> = who
        .memberships
        .iter()
        .filter(|m| m.kind == kind && allowed(&m.org).is_ok())
        .map(|m| m.org.clone())
        .collect();
    orgs.dedup();
    orgs
}

/// A building's name (its id if it is gone).
fn building_name(api: &super::Api, id: &doorman_core::PropertyId) -> Result<String, ApiError> {
    Ok(api
        .store
        .property(id)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        .map_or_else(|| id.to_string(), |p| p.name))
}

/// Doors as a list for people.
fn door_list(doors: &[doorman_core::DoorId]) -> String {
    doors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time on a building's clock, to the minute, for people.
fn local_time(tz: &jiff::tz::TimeZone, at: jiff::Timestamp) -> String {
    tz.to_datetime(at).strftime("%Y-%m-%d %H:%M").to_string()
}

/// A building's time zone (UTC if its name is not known here).
fn zone(p: &doorman_store::control::Property) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(&p.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// A person's name, or their user id when they are gone.
fn person_name(api: &super::Api, id: &str) -> String {
    api.store
        .user(id)
        .ok()
        .flatten()
        .map_or_else(|| id.to_string(), |u| u.name)
}

/// An organisation's name, or its id when it has none on record.
fn org_name(api: &super::Api, id: &str) -> String {
    doorman_core::OrgId::new(id)
        .ok()
        .and_then(|o| api.store.org(&o).ok().flatten())
        .map_or_else(|| id.to_string(), |o| o.name)
}

async fn overview(State(api): State<Shared>, creds: Credentials) -> Response {
    signed_in_page(&api, creds, |api, who, csrf| {
        let store = |e| ApiError::store(e, "properties", Code::Internal);
        let mut properties = Vec::new();
        let mut homes = Vec::new();
        for p in api.store.properties(None).map_err(store)? {
            // The buildings this person runs (owners and managers), as the API decides.
            if authorize(&who.actor, Action::DecideInstallation, &scope(&p)).is_err() {
                // Or lives in (residents see its deliveries).
                if authorize(&who.actor, Action::ReadDeliveries, &scope(&p)).is_ok() {
                    homes.push(HomeRow {
                        id: p.id.to_string(),
                        name: p.name,
                        address: p.address,
                    });
                }
                continue;
            }
            let devices = api.devices.directory.for_property(&p.id);
            let waiting = api
                .store
                .installations(&InstallationFilter {
                    property: Some(p.id.clone()),
                    status: Some(InstallationStatus::Requested),
                    ..InstallationFilter::default()
                })
                .map_err(store)?
                .len();
            let (_, from, to) = reports::days_back(&zone(&p), api.now(), 1)?;
            let today = api
                .devices
                .store
                .event_counts(&p.id, from, to)
                .map_err(|e| ApiError::log(e, "event counts"))?;
            let count = |allowed: bool| {
                today
                    .iter()
                    .filter(|c| c.allowed == allowed)
                    .map(|c| c.count)
                    .sum()
            };
            let faults = api
                .devices
                .store
                .statuses(&p.id)
                .map_err(|e| ApiError::log(e, "device status"))?
                .iter()
                .filter(|s| s.fault.is_some())
                .count();
            properties.push(PropertyRow {
                entries_today: count(true),
                denied_today: count(false),
                faults,
                doors: api.store.doors(&p.id).map_err(store)?.len(),
                online: devices
                    .iter()
                    .filter(|d| api.devices.online(&d.device))
                    .count(),
                devices: devices.len(),
                waiting,
                status: p.status.as_str(),
                id: p.id.to_string(),
                name: p.name,
                address: p.address,
            });
        }
        let memberships = who
            .memberships
            .iter()
            .map(|m| format!("{} ({})", m.org, m.role.as_str()))
            .collect();
        // Installers: the requests their organisations filed, newest first.
        let installer_orgs = orgs_where(who, doorman_core::OrgKind::Installer, |org| {
            authorize(
                &who.actor,
                Action::FileInstallation,
                &doorman_core::Scope {
                    installer_org: Some(org),
                    ..doorman_core::Scope::default()
                },
            )
        });
        let mut filed = Vec::new();
        for org in &installer_orgs {
            for i in api
                .store
                .installations(&InstallationFilter {
                    installer_org: Some(org.clone()),
                    ..InstallationFilter::default()
                })
                .map_err(store)?
            {
                filed.push(FiledRow {
                    id: i.id.to_string(),
                    building: building_name(api, &i.property)?,
                    door: i.door.to_string(),
                    device: i.device.to_string(),
                    status: i.status.as_str(),
                    at: i.created_at.to_string(),
                });
            }
        }
        filed.reverse();
        // Carriers: their authorizations, as the API lists them for the carrier.
        let carrier_orgs = orgs_where(who, doorman_core::OrgKind::Carrier, |org| {
            authorize(
                &who.actor,
                Action::ReadAuthorization,
                &doorman_core::Scope {
                    carrier_org: Some(org),
                    ..doorman_core::Scope::default()
                },
            )
        });
        let mut authorizations = Vec::new();
        for c in &carrier_orgs {
            let Ok(carrier) = doorman_core::CarrierId::new(c.as_str()) else {
                continue;
            };
            for a in api
                .store
                .authorizations(&doorman_store::control::AuthorizationFilter {
                    carrier: Some(carrier),
                    ..Default::default()
                })
                .map_err(store)?
            {
                authorizations.push(AuthorizationRow {
                    status: super::views::authorization_status(&a, api.now()),
                    building: building_name(api, &a.property)?,
                    doors: door_list(&a.doors),
                    id: a.id,
                    schedule: a.schedule,
                    until: a.not_after.to_string(),
                });
            }
        }
        Ok(Overview {
            name: who.user.name.clone(),
            email: who.user.email.clone(),
            csrf,
            memberships,
            properties,
            homes,
            installer: !installer_orgs.is_empty(),
            filed,
            carrier: !carrier_orgs.is_empty(),
            authorizations,
        })
    })
    .await
}

struct RevocationRow {
    kind: &'static str,
    reference: String,
    reason: String,
    by: String,
    at: String,
}

struct DoorRow {
    id: String,
    name: String,
    /// Open to passes: neither this door nor the building is switched off.
    on: bool,
    /// This door itself is switched off.
    off_here: bool,
}

struct DeviceRow {
    device: String,
    door: String,
    online: bool,
    last_seen: String,
    version: String,
    queue: String,
    clock: String,
    fault: Option<String>,
    consent_index: Option<u64>,
}

struct RequestRow {
    id: String,
    device: String,
    door: String,
    installer: String,
    at: String,
    notes: String,
}

/// One allowed span of a week grid, in the SVG's units.
struct Span {
    x: u32,
    y: u32,
    w: u32,
}

struct CarrierRow {
    id: String,
    /// The authorization's page.
    authorization: String,
    name: String,
    on: bool,
    doors: String,
    until: String,
    daily_cap: Option<u32>,
    schedule: String,
    spans: Vec<Span>,
}

struct Mark {
    x: u32,
    label: String,
}

struct DayRow {
    y: u32,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "property.html")]
struct PropertyPage {
    id: String,
    done: Option<&'static str>,
    /// The viewer may flip the switch (the API's `ManageService`).
    may_switch: bool,
    name: String,
    address: String,
    status: &'static str,
    time_zone: String,
    custody: &'static str,
    property_off: bool,
    /// Who last changed the switch, and when.
    switch_changed: Option<String>,
    /// Revoked consents, authorizations and passes, newest first (the latest 20).
    revocations: Vec<RevocationRow>,
    doors: Vec<DoorRow>,
    devices: Vec<DeviceRow>,
    requests: Vec<RequestRow>,
    carriers: Vec<CarrierRow>,
    grid: WeekGrid,
}

/// The frame every weekly schedule is drawn in (`week.html`).
struct WeekGrid {
    width: u32,
    height: u32,
    hours: Vec<Mark>,
    days: Vec<DayRow>,
}

impl WeekGrid {
    fn new() -> WeekGrid {
        WeekGrid {
            width: LABEL + 24 * HOUR,
            height: 7 * ROW + 12,
            hours: (0..24u32)
                .step_by(3)
                .map(|h| Mark {
                    x: LABEL + h * HOUR,
                    label: format!("{h:02}"),
                })
                .collect(),
            days: ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
                .into_iter()
                .zip(0u32..)
                .map(|(label, i)| DayRow {
                    y: i * ROW + 2,
                    label,
                })
                .collect(),
        }
    }
}

/// The week grid: a label column, then 24 hours of `HOUR` units; a row of `ROW` per day.
const LABEL: u32 = 34;
const HOUR: u32 = 24;
const ROW: u32 = 20;

/// The spans of a canonical schedule text, drawn on the grid (nothing if it doesn't parse).
fn week_spans(schedule: &str) -> Vec<Span> {
    let Ok(s) = schedule.parse::<doorman_core::schedule::WeeklySchedule>() else {
        return Vec::new();
    };
    s.intervals()
        .iter()
        .map(|iv| Span {
            x: LABEL + u32::from(iv.start) * HOUR / 60,
            y: u32::from(iv.weekday.saturating_sub(1)) * ROW + 2,
            w: (u32::from(iv.end.saturating_sub(iv.start)) * HOUR / 60).max(1),
        })
        .collect()
}

async fn property_page(
    State(api): State<Shared>,
    creds: Credentials,
    p: super::Params,
    RawQuery(q): RawQuery,
) -> Response {
    let param = p.get(0).to_string();
    let done = done_note(q.as_deref());
    signed_in_page(&api, creds, move |api, who, _| {
        // The API's own check: 404 for a building this person may not see or run.
        let prop = super::properties::property_for(api, who, &param, Action::DecideInstallation)?;
        let store = |e| ApiError::store(e, "property", Code::Internal);
        let service = api.store.service(&prop.id).map_err(store)?;
        let tz = zone(&prop);
        let doors = api
            .store
            .doors(&prop.id)
            .map_err(store)?
            .into_iter()
            .map(|d| DoorRow {
                on: !service.switch.property_disabled
                    && !service.switch.disabled_doors.contains(&d.door),
                off_here: service.switch.disabled_doors.contains(&d.door),
                id: d.door.to_string(),
                name: d.name,
            })
            .collect();
        let installations = api
            .store
            .installations(&InstallationFilter {
                property: Some(prop.id.clone()),
                ..InstallationFilter::default()
            })
            .map_err(store)?;
        let outboxes: Vec<i64> = installations
            .iter()
            .filter_map(|i| i.consent.as_ref().map(|c| c.outbox))
            .collect();
        let indexes: std::collections::HashMap<i64, Option<u64>> = outboxes
            .iter()
            .copied()
            .zip(api.store.log_indexes(&outboxes).map_err(store)?)
            .collect();
        let devices = super::doors::device_views(api, &prop.id)?
            .into_iter()
            .map(|d| {
                let consent_index = installations
                    .iter()
                    .find(|i| i.id.as_str() == d.installation)
                    .and_then(|i| i.consent.as_ref())
                    .and_then(|c| indexes.get(&c.outbox).copied().flatten());
                DeviceRow {
                    online: d.online,
                    last_seen: d
                        .last_seen
                        .map_or_else(|| "never".to_string(), |t| local_time(&tz, t)),
                    version: d.version.unwrap_or_default(),
                    queue: d.queue.map(|q| q.to_string()).unwrap_or_default(),
                    clock: d
                        .clock_offset_ms
                        .map(|c| format!("{c} ms"))
                        .unwrap_or_default(),
                    fault: d.fault,
                    consent_index,
                    device: d.device,
                    door: d.door,
                }
            })
            .collect();
        let requests = installations
            .iter()
            .filter(|i| i.status == InstallationStatus::Requested)
            .map(|i| RequestRow {
                id: i.id.to_string(),
                device: i.device.to_string(),
                door: i.door.to_string(),
                installer: org_name(api, i.installer_org.as_str()),
                at: local_time(&tz, i.created_at),
                notes: i.notes.clone(),
            })
            .collect();
        let carriers = api
            .store
            .authorizations(&doorman_store::control::AuthorizationFilter {
                property: Some(prop.id.clone()),
                active_only: true,
                ..Default::default()
            })
            .map_err(store)?
            .into_iter()
            .map(|a| CarrierRow {
                id: a.carrier.to_string(),
                authorization: a.id.clone(),
                name: org_name(api, a.carrier.as_str()),
                on: !service.switch.disabled_carriers.contains(&a.carrier),
                doors: door_list(&a.doors),
                until: local_time(&tz, a.not_after),
                daily_cap: a.daily_cap,
                spans: week_spans(&a.schedule),
                schedule: a.schedule,
            })
            .collect();
        Ok(PropertyPage {
            id: prop.id.to_string(),
            done,
            may_switch: authorize(&who.actor, Action::ManageService, &scope(&prop)).is_ok(),
            name: prop.name.clone(),
            address: prop.address.clone(),
            status: prop.status.as_str(),
            time_zone: prop.time_zone.clone(),
            custody: match prop.custody {
                doorman_entries::Custody::Custodial => "key kept sealed by the server",
                doorman_entries::Custody::SelfCustody => "key kept by the owner",
            },
            property_off: service.switch.property_disabled,
            revocations: {
                let mut all = api.store.revocations(&prop.id, None).map_err(store)?;
                all.sort_by_key(|r| std::cmp::Reverse(r.revoked_at));
                all.into_iter()
                    .take(20)
                    .map(|r| RevocationRow {
                        kind: r.kind.as_str(),
                        reference: r.reference,
                        reason: r.reason,
                        by: person_name(api, &r.revoked_by),
                        at: local_time(&tz, r.revoked_at),
                    })
                    .collect()
            },
            switch_changed: match (&service.changed_by, service.changed_at) {
                (Some(by), Some(at)) => Some(format!(
                    "{} on {}",
                    person_name(api, by),
                    local_time(&tz, at)
                )),
                _ => None,
            },
            doors,
            devices,
            requests,
            carriers,
            grid: WeekGrid::new(),
        })
    })
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_is_drawn_as_spans_on_the_week_grid() {
        let spans = week_spans("Mon 08:00-20:00; Sun 00:00-24:00");
        let at: Vec<(u32, u32, u32)> = spans.iter().map(|s| (s.x, s.y, s.w)).collect();
        assert_eq!(
            at,
            [
                (LABEL + 8 * HOUR, 2, 12 * HOUR),
                (LABEL, 6 * ROW + 2, 24 * HOUR)
            ]
        );
        assert!(week_spans("not a schedule").is_empty());
    }

    #[test]
    fn a_session_csrf_token_is_bound_to_its_session() {
        let a = session_csrf("dms_a");
        assert_eq!(a, session_csrf("dms_a"));
        assert_ne!(a, session_csrf("dms_b"));
        assert!(same_secret(&a, &session_csrf("dms_a")));
        assert!(!same_secret(&a, ""));
    }

    #[test]
    fn only_form_bodies_of_bounded_size_are_read() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let f = form(
            &h,
            &Bytes::from_static(b"email=a%40b.c&email=second&csrf=x"),
        )
        .unwrap();
        assert_eq!(f.get("email").map(String::as_str), Some("a@b.c"));
        assert!(form(&h, &Bytes::from(vec![b'a'; MAX_FORM + 1])).is_none());
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(form(&h, &Bytes::from_static(b"email=a")).is_none());
    }
}

//! The public pages `doorman serve` renders for people (issue 6), which need
//! no sign-in — the home page, the address lookup ("which delivery-access devices are
//! registered at this building, who installed them, who consented, since when") and the log
//! page (the current checkpoint and how to verify it independently).
//!
//! Templates are in `crates/server/templates/` and compiled with the server (askama: checked
//! at build time, HTML-escaped by default); the stylesheet, the icon and the one script (the
//! access log's live feed, `assets/feed.js`) are embedded in the binary. Public pages use no
//! script at all. Every page goes out with [`page`]'s headers: a strict
//! Content-Security-Policy (this origin's files only, no inline script or style), no framing,
//! no sniffing.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use doorman_entries::PublicEntry;
use doorman_store::{LogStore, PublicIndex};

use crate::public::{DEFAULT_LIMIT, InstallationsResponse, lookup};
use crate::{Problem, blocking};

/// The stylesheet, embedded.
const CSS: &str = include_str!("../../assets/doorman.css");
/// The access log's live feed (the only script: text into a table, no HTML).
const FEED_JS: &str = include_str!("../../assets/feed.js");
/// The site's icon (browsers ask for one on every first visit).
const ICON: &str = include_str!("../../assets/icon.svg");

/// What every page allows itself: this origin's stylesheet, images, scripts (files only: no
/// inline script or style can run), its own forms and event streams; nothing else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

#[derive(Clone)]
struct PagesState {
    store: Arc<dyn LogStore>,
    index: Arc<PublicIndex>,
    key: Arc<str>,
    /// The organisations' names (the log names them by id).
    control: Arc<dyn doorman_store::control::Store>,
}

/// The public pages and the assets they use.
pub fn pages_router(
    control: Arc<dyn doorman_store::control::Store>,
    store: Arc<dyn LogStore>,
    index: Arc<PublicIndex>,
    key: String,
) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/lookup", get(lookup_page))
        .route("/log", get(log_page))
        .route("/assets/doorman.css", get(css))
        .route("/assets/icon.svg", get(icon))
        .route("/assets/feed.js", get(feed_js))
        .route("/favicon.ico", get(icon))
        .with_state(PagesState {
            store,
            index,
            key: Arc::from(key.trim()),
            control,
        })
}

/// A rendered page with the headers every page carries.
pub fn page(status: StatusCode, html: String) -> Response {
    let mut r = (status, html).into_response();
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    r
}

pub(crate) fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => page(status, html),
        Err(e) => {
            eprintln!("doorman-server: rendering a page: {e}");
            error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be drawn. Try again; if it persists, tell the operator.",
            )
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: &'a str,
}

pub(crate) fn error_page(status: StatusCode, title: &str, detail: &str) -> Response {
    match (ErrorPage { title, detail }).render() {
        Ok(html) => page(status, html),
        // The error page has no data that could fail; this is a last resort.
        Err(_) => page(status, format!("<!doctype html><title>{status}</title>")),
    }
}

/// An embedded asset, cacheable for an hour.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn feed_js() -> Response {
    asset("text/javascript; charset=utf-8", FEED_JS)
}

async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    address: String,
    tree_size: Option<u64>,
}

async fn home(State(s): State<PagesState>) -> Response {
    let store = Arc::clone(&s.store);
    let size = blocking(move || {
        store
            .latest_checkpoint()
            .map(|c| c.map(|c| c.size))
            .map_err(Problem::from_store)
    })
    .await;
    match size {
        Ok(tree_size) => render(
            StatusCode::OK,
            &Home {
                address: String::new(),
                tree_size,
            },
        ),
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "The log can't be read right now",
        "Try again in a minute.",
    )
}

/// One line of a device's or carrier's history.
struct Event {
    index: u64,
    what: String,
    at: String,
    warnings: Vec<String>,
}

/// A device, or a carrier, and its history in the log.
struct Row {
    door: String,
    device: String,
    installer: String,
    carrier: String,
    doors: String,
    schedule: String,
    /// A CSS class and the words for it.
    status: &'static str,
    status_text: String,
    events: Vec<Event>,
}

impl Row {
    fn new() -> Row {
        Row {
            door: String::new(),
            device: String::new(),
            installer: String::new(),
            carrier: String::new(),
            doors: String::new(),
            schedule: String::new(),
            status: "requested",
            status_text: String::new(),
            events: Vec::new(),
        }
    }
}

struct PropertyCard {
    property: String,
    address: String,
    registered_index: u64,
    registered_at: Option<String>,
    verified_by: Option<String>,
    property_key: Option<String>,
    custody: Option<&'static str>,
    devices: Vec<Row>,
    carriers: Vec<Row>,
}

#[derive(Template)]
#[template(path = "lookup.html")]
struct Lookup {
    address: String,
    address_key: String,
    searched: bool,
    problem: Option<String>,
    properties: Vec<PropertyCard>,
    next_after: Option<u64>,
    tree_size: Option<u64>,
}

impl Lookup {
    fn empty(address: String) -> Lookup {
        Lookup {
            address,
            address_key: String::new(),
            searched: false,
            problem: None,
            properties: Vec::new(),
            next_after: None,
            tree_size: None,
        }
    }
}

/// The longest address the form takes (the lookup's own limit).
const MAX_ADDRESS: usize = 256;

async fn lookup_page(State(s): State<PagesState>, RawQuery(raw): RawQuery) -> Response {
    let (mut address, mut after) = (None::<String>, None::<u64>);
    let mut problem = None;
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match name.as_ref() {
            "address" => address = Some(value.into_owned()),
            "after" => match crate::parse_u64(&value) {
                Some(n) => after = Some(n),
                None => problem = Some("The page number in the link is not valid.".to_string()),
            },
            // Unknown parameters are ignored on a page (the JSON endpoint refuses them).
            _ => {}
        }
    }
    let Some(address) = address else {
        return render(StatusCode::OK, &Lookup::empty(String::new()));
    };
    let trimmed = address.trim().to_string();
    if problem.is_none() && trimmed.is_empty() {
        problem = Some("Type the building's address, then press Look up.".to_string());
    }
    if problem.is_none() && trimmed.len() > MAX_ADDRESS {
        problem = Some(format!(
            "That address is longer than {MAX_ADDRESS} characters: type just the street, number and city."
        ));
    }
    if let Some(problem) = problem {
        let mut page = Lookup::empty(trimmed.chars().take(MAX_ADDRESS).collect());
        page.problem = Some(problem);
        return render(StatusCode::BAD_REQUEST, &page);
    }
    match lookup(s.store, s.index, trimmed.clone(), after, DEFAULT_LIMIT).await {
        Ok(found) => {
            let mut view = lookup_view(found);
            name_orgs(&s.control, &mut view).await;
            render(StatusCode::OK, &view)
        }
        Err(p) if p.code() == "bad_address" => {
            let mut page = Lookup::empty(trimmed);
            page.problem = Some(format!(
                "That is not an address we can look up ({}).",
                p.detail()
            ));
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(p) if p.code() == "no_checkpoint" => {
            let mut page = Lookup::empty(trimmed);
            page.searched = true;
            page.address_key = String::new();
            page.problem = Some("The log is empty: nothing is registered anywhere yet.".into());
            render(StatusCode::OK, &page)
        }
        Err(_) => unavailable(),
    }
}

/// Groups a lookup's entries by property, then by device and carrier, oldest first.
fn lookup_view(found: InstallationsResponse) -> Lookup {
    let mut cards: BTreeMap<String, PropertyCard> = BTreeMap::new();
    for p in &found.properties {
        cards.insert(
            p.property.clone(),
            PropertyCard {
                property: p.property.clone(),
                address: p.address.clone(),
                registered_index: p.registered_at,
                registered_at: None,
                verified_by: None,
                property_key: None,
                custody: None,
                devices: Vec::new(),
                carriers: Vec::new(),
            },
        );
    }
    // Rows by (property, device) and (property, carrier revocation id or carrier).
    let mut devices: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut carriers: BTreeMap<(String, String), Row> = BTreeMap::new();
    let mut carrier_of_revocation: BTreeMap<String, (String, String)> = BTreeMap::new();
    for e in found.entries {
        let event = |what: String, at: &str| Event {
            index: e.index,
            what,
            at: at.to_string(),
            warnings: e.warnings.clone(),
        };
        let Ok(entry) = PublicEntry::parse(&e.bytes) else {
            continue;
        };
        match entry {
            PublicEntry::PropertyRegistered {
                at,
                property,
                property_key,
                custody,
                verified_by,
                ..
            } => {
                if let Some(c) = cards.get_mut(&property) {
                    c.registered_at = Some(at);
                    c.verified_by = Some(verified_by);
                    c.property_key = Some(property_key);
                    c.custody = Some(match custody {
                        doorman_entries::Custody::Custodial => "the operator keeps it sealed",
                        doorman_entries::Custody::SelfCustody => "the owner keeps it",
                    });
                }
            }
            PublicEntry::InstallationRequested {
                at,
                property,
                door,
                device,
                installer,
                ..
            } => {
                let row = devices
                    .entry((property, device.clone()))
                    .or_insert_with(Row::new);
                row.door = door;
                row.device = device;
                row.installer = installer.clone();
                row.status = "requested";
                row.status_text = "requested, not consented".into();
                row.events
                    .push(event(format!("installation requested by {installer}"), &at));
            }
            PublicEntry::ConsentGranted {
                at,
                property,
                door,
                device,
                installer,
                not_before,
                not_after,
                ..
            } => {
                let row = devices
                    .entry((property, device.clone()))
                    .or_insert_with(Row::new);
                row.door = door;
                row.device = device;
                row.installer = installer;
                row.status = "consented";
                row.status_text = format!("consented until {not_after}");
                row.events.push(event(
                    format!("consent signed by the owner, valid {not_before} to {not_after}"),
                    &at,
                ));
            }
            PublicEntry::DeviceActivated {
                at,
                property,
                device,
                ..
            } => {
                let row = devices.entry((property, device)).or_insert_with(Row::new);
                if row.status == "consented" {
                    row.status = "active";
                    row.status_text = format!("active; {}", row.status_text);
                }
                row.events.push(event("device activated".into(), &at));
            }
            PublicEntry::ConsentRevoked {
                at,
                property,
                device,
                reason,
                ..
            } => {
                let row = devices.entry((property, device)).or_insert_with(Row::new);
                if row.status != "decommissioned" {
                    row.status = "revoked";
                    row.status_text = format!("consent revoked ({reason})");
                }
                row.events
                    .push(event(format!("consent revoked: {reason}"), &at));
            }
            PublicEntry::DeviceDecommissioned {
                at,
                property,
                device,
                reason,
                ..
            } => {
                let row = devices.entry((property, device)).or_insert_with(Row::new);
                row.status = "decommissioned";
                row.status_text = format!("decommissioned ({reason})");
                row.events
                    .push(event(format!("decommissioned: {reason}"), &at));
            }
            PublicEntry::CarrierAuthorized {
                at,
                property,
                carrier,
                doors,
                schedule,
                time_zone,
                daily_cap,
                not_before,
                not_after,
                revocation_id,
                ..
            } => {
                let key = (property.clone(), revocation_id.clone());
                carrier_of_revocation.insert(revocation_id, key.clone());
                let row = carriers.entry(key).or_insert_with(Row::new);
                row.carrier = carrier;
                row.doors = doors.join(", ");
                row.schedule = match daily_cap {
                    Some(cap) => format!("{schedule} ({time_zone}), at most {cap} entries a day"),
                    None => format!("{schedule} ({time_zone})"),
                };
                row.status = "active";
                row.status_text = format!("authorized until {not_after}");
                row.events.push(event(
                    format!("authorized by the owner, valid {not_before} to {not_after}"),
                    &at,
                ));
            }
            PublicEntry::AuthorizationRevoked {
                at,
                property,
                carrier,
                revocation_id,
                reason,
            } => {
                let key = carrier_of_revocation
                    .get(&revocation_id)
                    .cloned()
                    .unwrap_or((property, revocation_id));
                let row = carriers.entry(key).or_insert_with(Row::new);
                if row.carrier.is_empty() {
                    row.carrier = carrier;
                }
                row.status = "revoked";
                row.status_text = format!("revoked ({reason})");
                row.events
                    .push(event(format!("authorization revoked: {reason}"), &at));
            }
            PublicEntry::AccessLogAnchored { .. } => {}
        }
    }
    for ((property, _), row) in devices {
        if let Some(c) = cards.get_mut(&property) {
            c.devices.push(row);
        }
    }
    for ((property, _), row) in carriers {
        if let Some(c) = cards.get_mut(&property) {
            c.carriers.push(row);
        }
    }
    Lookup {
        address: found.address,
        address_key: found.address_key,
        searched: true,
        problem: None,
        properties: cards.into_values().collect(),
        next_after: found.next_after,
        tree_size: Some(found.tree_size),
    }
}

/// Shows organisations by name beside their id. The names are this server's directory, not
/// the log's (the log names organisations by id only); a name that can't be read leaves the id.
async fn name_orgs(control: &Arc<dyn doorman_store::control::Store>, view: &mut Lookup) {
    let mut ids: Vec<String> = Vec::new();
    for p in &view.properties {
        ids.extend(p.verified_by.iter().cloned());
        ids.extend(p.devices.iter().map(|d| d.installer.clone()));
        ids.extend(p.carriers.iter().map(|c| c.carrier.clone()));
    }
    ids.sort();
    ids.dedup();
    let control = Arc::clone(control);
    let names = blocking(move || {
        Ok(ids
            .into_iter()
            .filter_map(|id| {
                let org = doorman_core::OrgId::new(&id).ok()?;
                let name = control.org(&org).ok()??.name;
                Some((id, name))
            })
            .collect::<BTreeMap<String, String>>())
    })
    .await
    .unwrap_or_default();
    let named = |id: &mut String| {
        if let Some(name) = names.get(id.as_str()) {
            *id = format!("{name} ({id})");
        }
    };
    for p in &mut view.properties {
        if let Some(v) = p.verified_by.as_mut() {
            named(v);
        }
        for d in &mut p.devices {
            named(&mut d.installer);
        }
        for c in &mut p.carriers {
            named(&mut c.carrier);
        }
    }
}

struct CheckpointView {
    origin: String,
    size: u64,
    root: String,
    note: String,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    checkpoint: Option<CheckpointView>,
    key: String,
    base: String,
}

async fn log_page(State(s): State<PagesState>, headers: HeaderMap) -> Response {
    let store = Arc::clone(&s.store);
    let cp = blocking(move || store.latest_checkpoint().map_err(Problem::from_store)).await;
    let Ok(cp) = cp else {
        return unavailable();
    };
    let checkpoint = cp.map(|cp| {
        let note = String::from_utf8_lossy(&cp.note).into_owned();
        let mut lines = note.lines();
        CheckpointView {
            origin: lines.next().unwrap_or_default().to_string(),
            size: cp.size,
            root: lines.nth(1).unwrap_or_default().to_string(),
            note,
        }
    });
    render(
        StatusCode::OK,
        &LogPage {
            checkpoint,
            key: s.key.to_string(),
            base: base_url(&headers),
        },
    )
}

/// This server's URL as the browser reached it (only shown back to the same browser, escaped).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("this-server");
    let local = host.starts_with("127.") || host.starts_with("localhost") || host.starts_with('[');
    let forwarded_tls = headers
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes() == b"https");
    if local && !forwarded_tls {
        format!("http://{host}")
    } else {
        format!("https://{host}")
    }
}

//! What a carrier sees: its authorizations at buildings (doors, the weekly schedule drawn as a
//! week grid, the daily cap, until when), the passes minted on each, and the decisions its
//! passes met — entries and denials by reason over the last 30 days and the latest decisions —
//! so its engineers can fix their own mistakes (a schedule missed, passes expiring too soon).
//! Guarded by the API's `ReadPasses` on the authorization: the carrier's admins and
//! dispatchers, and the building's owners and managers.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use doorman_core::Action;
use doorman_proto::codes::Code;
use doorman_store::EventFilter;

use super::{Span, WeekGrid, signed_in_page, week_spans};
use crate::api::authorizations::authorization_for;
use crate::api::views::authorization_status;
use crate::api::{Api, ApiError, Credentials, Params, Shared};

/// Passes and decisions listed.
const LATEST: usize = 50;

struct PassRow {
    delivery: String,
    unit: String,
    door: String,
    driver: String,
    window: String,
    minted: String,
}

struct DecisionRow {
    time: String,
    door: String,
    allowed: bool,
    reason: String,
    unit: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "authorization.html")]
struct AuthorizationPage {
    id: String,
    building: String,
    address: String,
    time_zone: String,
    status: &'static str,
    doors: String,
    schedule: String,
    spans: Vec<Span>,
    grid: WeekGrid,
    daily_cap: Option<u32>,
    max_pass: String,
    not_before: String,
    not_after: String,
    revoked: Option<String>,
    passes: Vec<PassRow>,
    entries: u64,
    denials: Vec<(String, u64)>,
    decisions: Vec<DecisionRow>,
}

fn build(
    api: &Api,
    who: &crate::api::auth::Authed,
    param: &str,
) -> Result<AuthorizationPage, ApiError> {
    let (a, prop) = authorization_for(api, who, param, Action::ReadPasses)?;
    let tz = super::zone(&prop);
    let local = |t: jiff::Timestamp| super::local_time(&tz, t);
    let now = api.now();
    let passes = api
        .store
        .passes(&a.id, LATEST)
        .map_err(|e| ApiError::store(e, "passes", Code::Internal))?
        .into_iter()
        .map(|p| PassRow {
            delivery: p.delivery.to_string(),
            unit: p.unit.to_string(),
            door: p.door.to_string(),
            driver: p.driver.unwrap_or(p.driver_key),
            window: format!("{} to {}", local(p.not_before), local(p.not_after)),
            minted: local(p.minted_at),
        })
        .collect();
    // This carrier's decisions at the building over the reports' 30 days.
    let (_, from, to) = super::reports::window(&tz, now)?;
    let counts = api
        .devices
        .store
        .event_counts(&prop.id, from, to)
        .map_err(|e| ApiError::log(e, "event counts"))?;
    let carrier = a.carrier.to_string();
    let mine = counts
        .iter()
        .filter(|c| c.carrier.as_deref() == Some(carrier.as_str()));
    let mut entries = 0;
    let mut by_reason: BTreeMap<String, u64> = BTreeMap::new();
    for c in mine {
        if c.allowed {
            entries += c.count;
        } else {
            *by_reason
                .entry(c.reason.clone().unwrap_or_else(|| "unknown".into()))
                .or_default() += c.count;
        }
    }
    let mut denials: Vec<(String, u64)> = by_reason.into_iter().collect();
    denials.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let decisions = api
        .devices
        .store
        .events(&EventFilter {
            property: Some(prop.id.clone()),
            carrier: Some(carrier),
            limit: LATEST,
            newest_first: true,
            ..EventFilter::default()
        })
        .map_err(|e| ApiError::log(e, "device events"))?
        .into_iter()
        .map(|e| DecisionRow {
            time: local(e.at),
            door: e.door,
            allowed: e.allowed,
            reason: e.reason.unwrap_or_default(),
            unit: e.unit.unwrap_or_default(),
            delivery: e.delivery.unwrap_or_default(),
        })
        .collect();
    Ok(AuthorizationPage {
        id: a.id.clone(),
        building: prop.name.clone(),
        address: prop.address.clone(),
        time_zone: prop.time_zone.clone(),
        status: authorization_status(&a, now),
        doors: super::door_list(&a.doors),
        spans: week_spans(&a.schedule),
        schedule: a.schedule.clone(),
        grid: WeekGrid::new(),
        daily_cap: a.daily_cap,
        max_pass: format!("{:#}", jiff::SignedDuration::from_secs(a.max_pass_seconds)),
        not_before: local(a.not_before),
        not_after: local(a.not_after),
        revoked: a
            .revocation
            .as_ref()
            .map(|d| format!("{} ({})", d.at, d.note)),
        passes,
        entries,
        denials,
        decisions,
    })
}

pub(super) async fn page(State(api): State<Shared>, creds: Credentials, p: Params) -> Response {
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, _| build(api, who, &param)).await
}

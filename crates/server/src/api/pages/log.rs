//! A building's access log for its owners and managers: every door decision its devices
//! reported, newest first, with filters (door, carrier, unit, result, dates in the building's
//! time zone) and paging; its export as CSV or JSON Lines (everything the filters match,
//! streamed); and the live feed (Server-Sent Events) that shows each new decision within a
//! second of the server storing it. One query reader ([`event_query`]) serves the API's
//! `GET …/events` and these pages, and the same `ReadAccessLog` check guards all of them.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use doorman_core::Action;
use doorman_proto::codes::Code;
use doorman_store::DeviceEvent;
use doorman_store::control::Property;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{org_name, signed_in, signed_in_page};
use crate::api::doors::{CSV_HEADER, EventQuery, csv_line, cursor, event_query, jsonl_line};
use crate::api::properties::property_for;
use crate::api::{Api, ApiError, Credentials, Params, Shared, run};

/// Entries on one page of the log.
const PAGE: usize = 50;
/// Rows read per store call while streaming an export.
const EXPORT_CHUNK: usize = 2_000;
/// How often an open feed checks that its session is still good.
const FEED_RECHECK: Duration = Duration::from_secs(30);

/// The page's filters as typed (kept in the form and in its links).
#[derive(Default, Clone)]
struct Filters {
    door: String,
    carrier: String,
    unit: String,
    result: String,
    from: String,
    to: String,
}

impl Filters {
    fn read(q: Option<&str>) -> (Filters, Option<String>) {
        let mut f = Filters::default();
        let mut before = None;
        for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
            let v = v.trim().to_string();
            match &*k {
                "door" => f.door = v,
                "carrier" => f.carrier = v,
                "unit" => f.unit = v,
                "result" => f.result = v,
                "from" => f.from = v,
                "to" => f.to = v,
                "before" => before = Some(v).filter(|v| !v.is_empty()),
                _ => {}
            }
        }
        (f, before)
    }

    /// The query string of these filters (for paging and export links).
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("door", &self.door),
            ("carrier", &self.carrier),
            ("unit", &self.unit),
            ("result", &self.result),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }

    /// As the API's query: dates become the building's local midnights, `to` inclusive.
    fn api_query(&self, tz: &TimeZone) -> Result<BTreeMap<String, String>, ApiError> {
        let mut q = BTreeMap::new();
        for (k, v) in [
            ("door", &self.door),
            ("carrier", &self.carrier),
            ("unit", &self.unit),
            ("result", &self.result),
        ] {
            if !v.is_empty() {
                q.insert(k.to_string(), v.clone());
            }
        }
        for (k, v, next_day) in [("from", &self.from, false), ("to", &self.to, true)] {
            if v.is_empty() {
                continue;
            }
            let day = v.parse::<jiff::civil::Date>().map_err(|_| {
                ApiError::new(
                    Code::BadQuery,
                    format!("{k}: a date as YYYY-MM-DD, not {v:?}"),
                )
            })?;
            let day = if next_day {
                day.tomorrow().map_err(|_| {
                    ApiError::new(Code::BadQuery, format!("{k}: a date before 9999"))
                })?
            } else {
                day
            };
            let at = tz
                .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
                .map_err(|_| ApiError::new(Code::BadQuery, format!("{k}: not a usable date")))?;
            q.insert(k.to_string(), at.to_string());
        }
        Ok(q)
    }
}

/// One decision as the page and the feed show it.
#[derive(serde::Serialize)]
pub(super) struct Row {
    time: String,
    door: String,
    allowed: bool,
    reason: String,
    carrier: String,
    unit: String,
    delivery: String,
    device: String,
    #[serde(skip)]
    log_index: Option<u64>,
}

/// Carrier names by id, looked up once per page.
struct Names<'a> {
    api: &'a Api,
    known: HashMap<String, String>,
}

impl Names<'_> {
    fn of(&mut self, id: &str) -> String {
        if let Some(n) = self.known.get(id) {
            return n.clone();
        }
        let n = org_name(self.api, id);
        self.known.insert(id.to_string(), n.clone());
        n
    }
}

fn local(at: Timestamp, tz: &TimeZone) -> String {
    tz.to_datetime(at).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

fn row(e: &DeviceEvent, tz: &TimeZone, names: &mut Names<'_>) -> Row {
    Row {
        time: local(e.at, tz),
        door: e.door.clone(),
        allowed: e.allowed,
        reason: e.reason.clone().unwrap_or_default(),
        carrier: e
            .carrier
            .as_deref()
            .map(|c| names.of(c))
            .unwrap_or_default(),
        unit: e.unit.clone().unwrap_or_default(),
        delivery: e.delivery.clone().unwrap_or_default(),
        device: e.device.to_string(),
        log_index: e.log_index,
    }
}

fn time_zone(p: &Property) -> TimeZone {
    super::zone(p)
}

struct Choice {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "access_log.html")]
struct LogPage {
    id: String,
    name: String,
    time_zone: String,
    filters: Filters,
    doors: Vec<Choice>,
    carriers: Vec<Choice>,
    rows: Vec<Row>,
    /// The link to the next (older) page, if there is one.
    older: Option<String>,
    /// Not the newest page: a link back to it.
    paged: bool,
    query: String,
    problem: Option<String>,
}

fn build(
    api: &Api,
    who: &crate::api::auth::Authed,
    param: &str,
    filters: Filters,
    before: Option<String>,
) -> Result<LogPage, ApiError> {
    let prop = property_for(api, who, param, Action::ReadAccessLog)?;
    let tz = time_zone(&prop);
    let store = |e| ApiError::store(e, "property", Code::Internal);
    let mut names = Names {
        api,
        known: HashMap::new(),
    };
    let doors = api
        .store
        .doors(&prop.id)
        .map_err(store)?
        .into_iter()
        .map(|d| Choice {
            id: d.door.to_string(),
            name: d.name,
        })
        .collect();
    let mut carriers: Vec<Choice> = api
        .store
        .authorizations(&doorman_store::control::AuthorizationFilter {
            property: Some(prop.id.clone()),
            ..Default::default()
        })
        .map_err(store)?
        .into_iter()
        .map(|a| Choice {
            name: names.of(a.carrier.as_str()),
            id: a.carrier.to_string(),
        })
        .collect();
    carriers.sort_by(|a, b| a.id.cmp(&b.id));
    carriers.dedup_by(|a, b| a.id == b.id);
    // A filter that doesn't read is said on the page, which still shows the form.
    let (rows, older, problem) = match filters.api_query(&tz).and_then(|mut q| {
        if let Some(b) = &before {
            q.insert("after".into(), b.clone());
        }
        event_query(&prop.id, &q, PAGE)
    }) {
        Ok(EventQuery { mut filter, .. }) => {
            filter.newest_first = true;
            let mut events = api
                .devices
                .store
                .events(&filter)
                .map_err(|e| ApiError::log(e, "device events"))?;
            let more = events.len() > PAGE;
            events.truncate(PAGE);
            let older = if more {
                events.last().map(|e| {
                    let mut q = form_urlencoded::Serializer::new(filters.query());
                    q.append_pair("before", &cursor(e));
                    format!("/app/properties/{}/log?{}", prop.id, q.finish())
                })
            } else {
                None
            };
            let rows = events.iter().map(|e| row(e, &tz, &mut names)).collect();
            (rows, older, None)
        }
        Err(e) if e.code == Code::BadQuery => (Vec::new(), None, Some(e.detail)),
        Err(e) => return Err(e),
    };
    Ok(LogPage {
        id: prop.id.to_string(),
        name: prop.name.clone(),
        time_zone: prop.time_zone.clone(),
        query: filters.query(),
        filters,
        doors,
        carriers,
        rows,
        older,
        paged: before.is_some(),
        problem,
    })
}

pub(super) async fn page(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Response {
    let (filters, before) = Filters::read(q.as_deref());
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, _| {
        build(api, who, &param, filters, before)
    })
    .await
}

/// `…/log/export?format=csv|jsonl&<filters>`: everything the filters match, oldest first,
/// streamed in chunks (a year of a busy building is millions of rows).
pub(super) async fn export(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Response {
    let (filters, _) = Filters::read(q.as_deref());
    let format = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let param = p.get(0).to_string();
    let checked = signed_in(&api, creds, move |api, who| {
        let prop = property_for(api, who, &param, Action::ReadAccessLog)?;
        if format != "csv" && format != "jsonl" {
            return Err(ApiError::new(
                Code::BadQuery,
                format!("format: csv or jsonl, not {format:?}"),
            ));
        }
        let q = filters.api_query(&time_zone(&prop))?;
        let EventQuery { filter, .. } = event_query(&prop.id, &q, EXPORT_CHUNK)?;
        Ok((prop, filter, format))
    })
    .await;
    let (prop, mut filter, format) = match checked {
        Ok(v) => v,
        Err(r) => return r,
    };
    filter.limit = EXPORT_CHUNK;
    // Chunks come from the blocking pool through a small channel: the store is read only as
    // fast as the client takes the download.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let devices = Arc::clone(&api.devices);
    let csv = format == "csv";
    tokio::task::spawn_blocking(move || {
        if csv
            && tx
                .blocking_send(Ok(Bytes::from_static(CSV_HEADER.as_bytes())))
                .is_err()
        {
            return;
        }
        loop {
            let rows = match devices.store.events(&filter) {
                Ok(r) => r,
                Err(e) => {
                    crate::api::error::tracing_error(&format!("exporting the access log: {e}"));
                    let _ = tx.blocking_send(Err(std::io::Error::other("the export failed")));
                    return;
                }
            };
            let last = rows.last().map(|e| (e.at, e.device.to_string(), e.seq));
            let full = rows.len() == EXPORT_CHUNK;
            let mut out = String::new();
            for e in rows {
                if csv {
                    out.push_str(&csv_line(&e));
                } else if let Ok(line) = jsonl_line(e) {
                    out.push_str(&line);
                }
            }
            if tx.blocking_send(Ok(Bytes::from(out))).is_err() || !full {
                return;
            }
            filter.after = last;
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    let (content_type, ext) = if csv {
        ("text/csv; charset=utf-8", "csv")
    } else {
        ("application/jsonl", "jsonl")
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"access-log-{}.{ext}\"",
        prop.id
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// What an open feed carries from one event to the next.
struct Feed {
    api: Shared,
    creds: Credentials,
    property: String,
    tz: TimeZone,
    names: HashMap<String, String>,
    rx: tokio::sync::broadcast::Receiver<Arc<DeviceEvent>>,
    closing: tokio::sync::watch::Receiver<bool>,
    recheck: tokio::time::Interval,
    ended: bool,
}

impl Feed {
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        if self.ended {
            return None;
        }
        loop {
            /// What woke the feed.
            enum Woke {
                Got(Result<Arc<DeviceEvent>, tokio::sync::broadcast::error::RecvError>),
                Recheck,
                Closing,
            }
            let woke = tokio::select! {
                got = self.rx.recv() => Woke::Got(got),
                _ = self.recheck.tick() => Woke::Recheck,
                _ = self.closing.wait_for(|c| *c) => Woke::Closing,
            };
            match woke {
                Woke::Got(Ok(e)) if e.property.as_str() == self.property => {
                    let data = self.entry(&e);
                    return Some((Ok(Event::default().event("entry").data(data)), self));
                }
                Woke::Got(Ok(_)) => {}
                Woke::Got(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    let e = Event::default().event("missed").data(n.to_string());
                    return Some((Ok(e), self));
                }
                Woke::Got(Err(tokio::sync::broadcast::error::RecvError::Closed))
                | Woke::Closing => return None,
                Woke::Recheck => {
                    // A session that ended or expired (or lost its role) ends the feed.
                    let (creds, property) = (self.creds.clone(), self.property.clone());
                    let ok = run(Arc::clone(&self.api), move |api| {
                        let who = api.authenticate(&creds)?;
                        property_for(api, &who, &property, Action::ReadAccessLog)
                    })
                    .await
                    .is_ok();
                    if !ok {
                        self.ended = true;
                        return Some((Ok(Event::default().event("signed-out").data("")), self));
                    }
                }
            }
        }
    }

    fn entry(&mut self, e: &DeviceEvent) -> String {
        let carrier = e
            .carrier
            .as_deref()
            .map(|c| self.names.get(c).cloned().unwrap_or_else(|| c.to_string()));
        let r = Row {
            time: local(e.at, &self.tz),
            door: e.door.clone(),
            allowed: e.allowed,
            reason: e.reason.clone().unwrap_or_default(),
            carrier: carrier.unwrap_or_default(),
            unit: e.unit.clone().unwrap_or_default(),
            delivery: e.delivery.clone().unwrap_or_default(),
            device: e.device.to_string(),
            log_index: None,
        };
        serde_json::to_string(&r).unwrap_or_default()
    }
}

/// `…/feed`: the live feed, one `entry` event per new decision at the building.
pub(super) async fn feed(State(api): State<Shared>, creds: Credentials, p: Params) -> Response {
    let param = p.get(0).to_string();
    let c = creds.clone();
    let opened = signed_in(&api, c, move |api, who| {
        let prop = property_for(api, who, &param, Action::ReadAccessLog)?;
        let mut names = Names {
            api,
            known: HashMap::new(),
        };
        for a in api
            .store
            .authorizations(&doorman_store::control::AuthorizationFilter {
                property: Some(prop.id.clone()),
                ..Default::default()
            })
            .map_err(|e| ApiError::store(e, "property", Code::Internal))?
        {
            names.of(a.carrier.as_str());
        }
        // Subscribed before answering: nothing stored after the page asked is missed.
        Ok((prop, names.known, api.devices.subscribe()))
    })
    .await;
    let (prop, names, rx) = match opened {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut recheck = tokio::time::interval(FEED_RECHECK);
    recheck.reset();
    let feed = Feed {
        closing: api.devices.feed_closing(),
        api,
        creds,
        property: prop.id.to_string(),
        tz: time_zone(&prop),
        names,
        rx,
        recheck,
        ended: false,
    };
    let mut r = Sse::new(futures_util::stream::unfold(feed, Feed::next))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

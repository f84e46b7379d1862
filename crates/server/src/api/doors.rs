//! Doors online (issue 5): a device's challenge and a pass forwarded to it over MQTT, the
//! events devices reported, and the devices' status.
//!
//! The two unlock steps need no account: the pass and the driver's signature over the
//! device's fresh challenge are the credential, exactly as at the door itself, and the device
//! decides. The driver learns allow or deny; the exact reason is in the property's log. At
//! most [`MAX_WAITING_PER_DOOR`] requests wait for one door at a time (a flood of challenge
//! requests would otherwise push a real driver's challenge out of the device's open set).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use doorman_core::policy::Action;
use doorman_core::{DeviceId, DoorId, PropertyId};
use doorman_device::AccessEvent;
use doorman_device::messages::{Down, Up};
use doorman_proto::codes::Code;
use doorman_proto::{
    DeviceEventView, DeviceEventsView, DeviceView, DevicesView, DoorChallengeView, UnlockRequest,
    UnlockResponse,
};
use doorman_store::{DeviceEvent, EventFilter};
use jiff::Timestamp;

use super::properties::property_for;
use super::views::path_id;
use super::{ApiError, Body, Credentials, Json, Params, Shared, run};
use crate::devices::DeviceInfo;

/// Requests waiting for one door's device at once, at most.
pub const MAX_WAITING_PER_DOOR: usize = 8;

static WAITING: Mutex<Option<HashMap<(PropertyId, DoorId), usize>>> = Mutex::new(None);

/// A slot among a door's waiting requests, released on drop.
struct Slot((PropertyId, DoorId));

impl Slot {
    fn take(property: &PropertyId, door: &DoorId) -> Result<Slot, ApiError> {
        let mut w = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        let map = w.get_or_insert_with(HashMap::new);
        let key = (property.clone(), door.clone());
        let n = map.entry(key.clone()).or_insert(0);
        if *n >= MAX_WAITING_PER_DOOR {
            return Err(ApiError::new(
                Code::TooManyAttempts,
                format!(
                    "{MAX_WAITING_PER_DOOR} requests already wait for this door: retry in a second"
                ),
            ));
        }
        *n += 1;
        Ok(Slot(key))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut w = WAITING.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(map) = w.as_mut()
            && let Some(n) = map.get_mut(&self.0)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.0);
            }
        }
    }
}

/// The door's devices that are connected, and whether it has any at all.
async fn door_devices(
    api: &Shared,
    p: &Params,
) -> Result<(PropertyId, DoorId, Vec<DeviceInfo>), ApiError> {
    let property = path_id(p.get(0), "property", PropertyId::new)?;
    let door = path_id(p.get(1), "door", DoorId::new)?;
    let (pr, dr) = (property.clone(), door.clone());
    let all = run(api.clone(), move |api| {
        Ok(api.devices.directory.for_door(&pr, &dr))
    })
    .await?;
    if all.is_empty() {
        return Err(ApiError::new(
            Code::NoDevice,
            format!("no activated device serves door {door} of {property}"),
        ));
    }
    Ok((property, door, all))
}

/// Ask the door's device for a challenge (the first unlock step).
#[utoipa::path(post, path = "/api/v1/properties/{property}/doors/{door}/challenge", tag = "doors", params(("property" = String, Path), ("door" = String, Path)),
    responses((status = 200, body = DoorChallengeView), (status = "4XX", body = doorman_proto::Problem), (status = "5XX", body = doorman_proto::Problem)))]
pub(crate) async fn challenge(
    State(api): State<Shared>,
    p: Params,
) -> Result<Json<DoorChallengeView>, ApiError> {
    let (property, door, devices) = door_devices(&api, &p).await?;
    let _slot = Slot::take(&property, &door)?;
    let Some(device) = devices.into_iter().find(|d| api.devices.online(&d.device)) else {
        return Err(ApiError::new(
            Code::DeviceOffline,
            "the door's device is not connected: present the pass at the door itself",
        ));
    };
    let reply = api
        .devices
        .request(&device.device, |request| Down::ChallengeRequest { request })
        .await
        .map_err(|e| ApiError::new(Code::Unavailable, format!("device messaging: {e}")))?;
    match reply {
        Some(Up::Challenge { challenge, .. }) => Ok(Json(DoorChallengeView {
            device: device.device.to_string(),
            nonce: challenge.nonce,
            issued_at: challenge.issued_at,
            property: challenge.property,
            door: challenge.door,
            device_key: challenge.device_key,
        })),
        other => Err(unexpected(other)),
    }
}

/// A reply that is not the one asked for: a refusal, the wrong kind, or none in time.
fn unexpected(reply: Option<Up>) -> ApiError {
    match reply {
        Some(Up::Refused { code, message, .. }) => ApiError::new(
            Code::NoDevice,
            format!("the device refused: {message} ({code})"),
        ),
        Some(_) => ApiError::internal(),
        None => ApiError::new(
            Code::DeviceTimeout,
            "the door's device did not answer in time; it may still decide (the access log will show it)",
        ),
    }
}

/// Forward a pass and the driver's answer to the device that issued the challenge, and
/// return its decision (the second unlock step).
#[utoipa::path(post, path = "/api/v1/properties/{property}/doors/{door}/unlock", tag = "doors", params(("property" = String, Path), ("door" = String, Path)), request_body = UnlockRequest,
    responses((status = 200, body = UnlockResponse), (status = "4XX", body = doorman_proto::Problem), (status = "5XX", body = doorman_proto::Problem)))]
pub(crate) async fn unlock(
    State(api): State<Shared>,
    p: Params,
    Body(req): Body<UnlockRequest>,
) -> Result<Json<UnlockResponse>, ApiError> {
    let (property, door, devices) = door_devices(&api, &p).await?;
    let wanted = DeviceId::new(req.device.as_str())
        .map_err(|e| ApiError::new(Code::BadId, format!("device: {e}")))?;
    let Some(device) = devices.into_iter().find(|d| d.device == wanted) else {
        return Err(ApiError::new(
            Code::UnknownReference,
            format!("device {wanted} does not serve door {door} of {property}"),
        ));
    };
    // Read once here: what can't be read never reaches the device.
    let nonce = doorman_device::messages::nonce(&req.nonce)
        .map_err(|e| ApiError::new(Code::InvalidField, e))?;
    let proof = doorman_device::messages::proof(&req.presented_at, &req.signature)
        .map_err(|e| ApiError::new(Code::InvalidField, e))?;
    if req.pass.len() > 16 * 1024 {
        return Err(ApiError::new(Code::InvalidField, "pass: at most 16 KiB"));
    }
    let _slot = Slot::take(&property, &door)?;
    if !api.devices.online(&device.device) {
        return Err(ApiError::new(
            Code::DeviceOffline,
            "the door's device is not connected: present the pass at the door itself",
        ));
    }
    let reply = api
        .devices
        .request(&device.device, |request| Down::Unlock {
            request,
            pass: req.pass,
            nonce,
            proof,
        })
        .await
        .map_err(|e| ApiError::new(Code::Unavailable, format!("device messaging: {e}")))?;
    match reply {
        Some(Up::Decision { opened, event, .. }) => {
            let seq = AccessEvent::verify(&event, &device.key)
                .map(|e| e.seq)
                .map_err(|_| ApiError::internal())?;
            Ok(Json(UnlockResponse {
                result: if opened { "allow" } else { "deny" }.to_string(),
                device: device.device.to_string(),
                seq,
            }))
        }
        other => Err(unexpected(other)),
    }
}

fn event_view(e: DeviceEvent) -> DeviceEventView {
    DeviceEventView {
        device: e.device.to_string(),
        seq: e.seq,
        door: e.door,
        at: e.at,
        result: if e.allowed { "allow" } else { "deny" }.to_string(),
        reason: e.reason,
        carrier: e.carrier,
        unit: e.unit,
        delivery: e.delivery,
        pass: e.pass,
        received_at: e.received_at,
        log_index: e.log_index,
        event: String::from_utf8_lossy(&e.signed).into_owned(),
    }
}

pub(crate) fn cursor(e: &DeviceEvent) -> String {
    format!("{}:{}:{}", e.at.as_millisecond(), e.seq, e.device)
}

fn parse_cursor(s: &str) -> Option<(Timestamp, String, u64)> {
    let mut parts = s.splitn(3, ':');
    let at = Timestamp::from_millisecond(parts.next()?.parse().ok()?).ok()?;
    let seq = parts.next()?.parse().ok()?;
    let device = parts.next()?.to_string();
    Some((at, device, seq))
}

/// The largest page of events.
pub const MAX_EVENTS_PAGE: usize = 10_000;

fn csv_field(s: &str) -> String {
    // RFC 4180, and no leading = + - @ (a spreadsheet would run it as a formula).
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The header line of a CSV export.
pub(crate) const CSV_HEADER: &str =
    "device,seq,door,at,result,reason,carrier,unit,delivery,pass,received_at,log_index\n";

/// One event as a CSV export's line.
pub(crate) fn csv_line(e: &DeviceEvent) -> String {
    let mut line = [
        e.device.to_string(),
        e.seq.to_string(),
        e.door.clone(),
        e.at.to_string(),
        if e.allowed { "allow" } else { "deny" }.to_string(),
        e.reason.clone().unwrap_or_default(),
        e.carrier.clone().unwrap_or_default(),
        e.unit.clone().unwrap_or_default(),
        e.delivery.clone().unwrap_or_default(),
        e.pass.clone().unwrap_or_default(),
        e.received_at.to_string(),
        e.log_index.map(|i| i.to_string()).unwrap_or_default(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",");
    line.push('\n');
    line
}

/// One event as a JSON Lines export's line (the API's event view, with the signed event).
pub(crate) fn jsonl_line(e: DeviceEvent) -> Result<String, ApiError> {
    let mut line = serde_json::to_string(&event_view(e)).map_err(|_| ApiError::internal())?;
    line.push('\n');
    Ok(line)
}

/// What an events query asks for: the filter (its limit one more than the page, to tell
/// whether there is a next), the page size, the format.
pub(crate) struct EventQuery {
    pub filter: EventFilter,
    pub limit: usize,
    pub format: String,
}

/// Reads an events query's parameters (the API's `GET …/events`, the access-log page and its
/// exports): `door`, `carrier`, `unit`, `result`, `from`, `to`, `after`, `limit`, `format`.
pub(crate) fn event_query(
    property: &PropertyId,
    q: &BTreeMap<String, String>,
    default_limit: usize,
) -> Result<EventQuery, ApiError> {
    let bad = |m: String| ApiError::new(Code::BadQuery, m);
    let time = |name: &str| -> Result<Option<Timestamp>, ApiError> {
        q.get(name)
            .map(|v| {
                v.parse::<Timestamp>()
                    .map_err(|e| bad(format!("{name}: {e}")))
            })
            .transpose()
    };
    let limit = match q.get("limit") {
        None => default_limit,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_EVENTS_PAGE).contains(n))
            .ok_or_else(|| bad(format!("limit: 1 to {MAX_EVENTS_PAGE}")))?,
    };
    let allowed = match q.get("result").map(String::as_str) {
        None => None,
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        Some(other) => return Err(bad(format!("result: allow or deny, not {other:?}"))),
    };
    let after = q
        .get("after")
        .map(|a| parse_cursor(a).ok_or_else(|| bad("after: not a cursor from next_after".into())))
        .transpose()?;
    let format = q.get("format").map_or("json", String::as_str);
    if !["json", "csv", "jsonl"].contains(&format) {
        return Err(bad(format!("format: json, csv or jsonl, not {format:?}")));
    }
    Ok(EventQuery {
        filter: EventFilter {
            property: Some(property.clone()),
            door: q.get("door").cloned(),
            carrier: q.get("carrier").cloned(),
            unit: q.get("unit").cloned(),
            allowed,
            from: time("from")?,
            to: time("to")?,
            after,
            limit: limit.saturating_add(1),
            newest_first: false,
        },
        limit,
        format: format.to_string(),
    })
}

/// The events the property's devices reported, newest last: filter by `door`, `carrier`,
/// `unit`, `result` (`allow`/`deny`), `from`/`to` (RFC 3339, `to` exclusive); page with
/// `limit` (1 to 10,000, default 100) and `after` (the previous page's `next_after`);
/// `format` `json` (default), `csv` or `jsonl` (an export: one event per line).
#[utoipa::path(get, path = "/api/v1/properties/{property}/events", tag = "access log", params(("property" = String, Path), ("door" = Option<String>, Query), ("carrier" = Option<String>, Query), ("unit" = Option<String>, Query), ("result" = Option<String>, Query), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("after" = Option<String>, Query), ("limit" = Option<u64>, Query), ("format" = Option<String>, Query)),
    responses((status = 200, body = DeviceEventsView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn events(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadAccessLog)?;
        let q = super::extract::query(
            q.as_deref(),
            &[
                "door", "carrier", "unit", "result", "from", "to", "after", "limit", "format",
            ],
        )?;
        let EventQuery {
            filter,
            limit,
            format,
        } = event_query(&prop.id, &q, 100)?;
        let format = format.as_str();
        let mut rows = api
            .devices
            .store
            .events(&filter)
            .map_err(|e| ApiError::log(e, "device events"))?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_after = if more { rows.last().map(cursor) } else { None };
        let with_cursor = |mut r: Response| {
            if let Some(n) = &next_after
                && let Ok(v) = HeaderValue::from_str(n)
            {
                r.headers_mut().insert("x-next-after", v);
            }
            r
        };
        match format {
            "csv" => {
                let mut out = String::from(CSV_HEADER);
                for e in &rows {
                    out.push_str(&csv_line(e));
                }
                Ok(with_cursor(
                    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response(),
                ))
            }
            "jsonl" => {
                let mut out = String::new();
                for e in rows {
                    out.push_str(&jsonl_line(e)?);
                }
                Ok(with_cursor(
                    ([(header::CONTENT_TYPE, "application/jsonl")], out).into_response(),
                ))
            }
            _ => Ok(Json(DeviceEventsView {
                events: rows.into_iter().map(event_view).collect(),
                next_after,
            })
            .into_response()),
        }
    })
    .await
}

/// The property's devices: every approved installation's device with its last report.
#[utoipa::path(get, path = "/api/v1/properties/{property}/devices", tag = "doors", params(("property" = String, Path)),
    responses((status = 200, body = DevicesView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn devices(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<DevicesView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let prop = property_for(api, &who, p.get(0), Action::ReadAccessLog)?;
        let devices = device_views(api, &prop.id)?;
        Ok(Json(DevicesView { devices }))
    })
    .await
}

/// The devices of a property with their last reports (the API's `GET …/devices` and the
/// property page show the same).
pub(crate) fn device_views(
    api: &super::Api,
    property: &doorman_core::PropertyId,
) -> Result<Vec<DeviceView>, ApiError> {
    let statuses: HashMap<DeviceId, doorman_store::DeviceStatus> = api
        .devices
        .store
        .statuses(property)
        .map_err(|e| ApiError::log(e, "device status"))?
        .into_iter()
        .map(|s| (s.device.clone(), s))
        .collect();
    let devices: Vec<DeviceView> = api
        .devices
        .directory
        .for_property(property)
        .into_iter()
        .map(|d| {
            let s = statuses.get(&d.device);
            DeviceView {
                online: api.devices.online(&d.device),
                device: d.device.to_string(),
                door: d.door.to_string(),
                installation: d.installation.to_string(),
                last_seen: s.map(|s| s.last_seen),
                version: s.map(|s| s.version.clone()),
                active: s.map(|s| s.active),
                clock_offset_ms: s.map(|s| s.clock_offset_ms),
                queue: s.map(|s| s.pending),
                revocations_issued_at: s.and_then(|s| s.revocations_issued_at),
                fault: s.and_then(|s| s.fault.clone()),
            }
        })
        .collect();
    Ok(devices)
}

//! What a resident sees of their building: the deliveries to their own unit, and the
//! building's delivery entries (so a resident can tell who comes into the building), with
//! each driver as a pseudonym — stable within the building, so "the same driver came three
//! times" shows, but not a name, a key or anything that links them across buildings. Other
//! units' numbers and delivery references are not shown. Guarded by `ReadDeliveries`
//! (residents of this property, its owners and managers); the access log itself stays theirs.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use doorman_core::Action;
use doorman_device::AccessEvent;
use doorman_proto::codes::Code;
use doorman_store::{DeviceEvent, EventFilter};
use jiff::tz::TimeZone;
use sha2::{Digest as _, Sha256};

use super::{org_name, signed_in_page};
use crate::api::properties::property_for;
use crate::api::{Api, ApiError, Credentials, Params, Shared};

/// Entries shown in each list.
const LATEST: usize = 50;

/// A driver's pseudonym at a building: a hash of the building and the driver's key, so the
/// same driver reads the same here and differently at every other building.
pub(super) fn pseudonym(property: &str, driver_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"doorman driver pseudonym v1\0");
    h.update(property.as_bytes());
    h.update(b"\0");
    h.update(driver_key.as_bytes());
    let d = h.finalize();
    format!(
        "Driver {}",
        hex::encode(d.get(..3).unwrap_or_default()).to_uppercase()
    )
}

struct Entry {
    time: String,
    door: String,
    carrier: String,
    driver: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "deliveries.html")]
struct Deliveries {
    name: String,
    address: String,
    time_zone: String,
    unit: Option<String>,
    mine: Vec<Entry>,
    building: Vec<Entry>,
}

fn entries(
    api: &Api,
    filter: &EventFilter,
    tz: &TimeZone,
    with_delivery: bool,
) -> Result<Vec<Entry>, ApiError> {
    let events: Vec<DeviceEvent> = api
        .devices
        .store
        .events(filter)
        .map_err(|e| ApiError::log(e, "device events"))?;
    let mut names = std::collections::HashMap::new();
    Ok(events
        .iter()
        .map(|e| {
            let driver = AccessEvent::from_stored(&e.signed)
                .ok()
                .and_then(|a| a.driver_key)
                .map_or_else(
                    || "unknown driver".to_string(),
                    |k| pseudonym(e.property.as_str(), &k.to_string()),
                );
            let carrier = e.carrier.as_deref().map_or_else(String::new, |c| {
                names
                    .entry(c.to_string())
                    .or_insert_with(|| org_name(api, c))
                    .clone()
            });
            Entry {
                time: super::local_time(tz, e.at),
                door: e.door.clone(),
                carrier,
                driver,
                delivery: if with_delivery {
                    e.delivery.clone().unwrap_or_default()
                } else {
                    String::new()
                },
            }
        })
        .collect())
}

fn build(api: &Api, who: &crate::api::auth::Authed, param: &str) -> Result<Deliveries, ApiError> {
    let prop = property_for(api, who, param, Action::ReadDeliveries)?;
    let tz = super::zone(&prop);
    // The viewer's own unit, if they live here.
    let unit = api
        .store
        .residents(&prop.id)
        .map_err(|e| ApiError::store(e, "residents", Code::Internal))?
        .into_iter()
        .find(|(m, _)| m.user == who.user.id)
        .and_then(|(m, _)| m.unit)
        .map(|u| u.to_string());
    let entered = EventFilter {
        property: Some(prop.id.clone()),
        allowed: Some(true),
        limit: LATEST,
        newest_first: true,
        ..EventFilter::default()
    };
    let mine = match &unit {
        Some(u) => entries(
            api,
            &EventFilter {
                unit: Some(u.clone()),
                ..entered.clone()
            },
            &tz,
            true,
        )?,
        None => Vec::new(),
    };
    Ok(Deliveries {
        name: prop.name.clone(),
        address: prop.address.clone(),
        time_zone: prop.time_zone.clone(),
        unit,
        mine,
        building: entries(api, &entered, &tz, false)?,
    })
}

pub(super) async fn page(State(api): State<Shared>, creds: Credentials, p: Params) -> Response {
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, _| build(api, who, &param)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::pseudonym;

    #[test]
    fn a_driver_has_one_pseudonym_per_building() {
        let a = pseudonym("prop_1", "ed25519/aa");
        assert_eq!(a, pseudonym("prop_1", "ed25519/aa"));
        assert_ne!(a, pseudonym("prop_2", "ed25519/aa"));
        assert_ne!(a, pseudonym("prop_1", "ed25519/ab"));
        assert!(a.starts_with("Driver ") && a.len() == "Driver ".len() + 6);
        assert!(!a.contains("aa"));
    }
}

//! The owner's switch from the property page: a link to a confirmation page (what will stop,
//! for whom, how fast devices hear of it), whose form posts the change through the function
//! the API's `POST …/service` uses. No script is needed: the confirmation is a page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use doorman_core::Action;
use doorman_proto::ServiceChangeRequest;
use doorman_proto::codes::Code;

use super::{checked_form, form_token, org_name, see_other, signed_in_form, signed_in_page};
use crate::api::properties::{change_service_as, property_for};
use crate::api::{Api, ApiError, Credentials, Params, Shared};
use crate::web::render;

#[derive(Template)]
#[template(path = "switch.html")]
struct Confirm {
    csrf: String,
    property_id: String,
    property: String,
    scope: String,
    target: String,
    /// What is switched, in words: "door front", "DHL at this building", "the whole building".
    what: String,
    enabled: bool,
    seq: u64,
    offline_bound: String,
    problem: Option<String>,
}

/// A change of the switch as a link or form names it.
#[derive(Clone, Default)]
struct Change {
    scope: String,
    target: String,
    enabled: bool,
}

/// The confirmation of a change, checked against the building as it stands.
fn confirmation(
    api: &Api,
    who: &crate::api::auth::Authed,
    param: &str,
    change: &Change,
    csrf: String,
    problem: Option<String>,
) -> Result<Confirm, ApiError> {
    let Change {
        scope,
        target,
        enabled,
    } = change;
    let (scope, target, enabled) = (scope.as_str(), target.as_str(), *enabled);
    let prop = property_for(api, who, param, Action::ManageService)?;
    let what = match scope {
        "property" => "delivery access for the whole building".to_string(),
        "door" => {
            let name = api
                .store
                .doors(&prop.id)
                .map_err(|e| ApiError::store(e, "doors", Code::Internal))?
                .into_iter()
                .find(|d| d.door.as_str() == target)
                .map_or_else(|| target.to_string(), |d| d.name);
            format!("delivery access at the {name} ({target})")
        }
        "carrier" => format!("{} at this building", org_name(api, target)),
        _ => {
            return Err(ApiError::new(
                Code::BadQuery,
                "scope: property, door or carrier",
            ));
        }
    };
    let service = api
        .store
        .service(&prop.id)
        .map_err(|e| ApiError::store(e, "property", Code::Internal))?;
    Ok(Confirm {
        csrf,
        property_id: prop.id.to_string(),
        property: prop.name.clone(),
        scope: scope.to_string(),
        target: target.to_string(),
        what,
        enabled,
        seq: service.seq,
        offline_bound: offline_bound(),
        problem,
    })
}

/// The offline bound devices are configured with, in words: a device that hears nothing
/// refuses every pass once its revocation list is this old.
fn offline_bound() -> String {
    let secs = doorman_trust::DoorPolicy::default()
        .revocation_max_age
        .as_secs();
    if secs % 3600 == 0 {
        format!("{} hours", secs / 3600)
    } else {
        format!("{} minutes", secs / 60)
    }
}

fn query_fields(q: Option<&str>) -> Change {
    let mut change = Change::default();
    for (k, v) in form_urlencoded::parse(q.unwrap_or_default().as_bytes()) {
        match &*k {
            "scope" => change.scope = v.into_owned(),
            "target" => change.target = v.into_owned(),
            "enabled" => change.enabled = v == "true",
            _ => {}
        }
    }
    change
}

pub(super) async fn confirm(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Response {
    let change = query_fields(q.as_deref());
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, csrf| {
        confirmation(api, who, &param, &change, csrf, None)
    })
    .await
}

pub(super) async fn change(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = match checked_form(&creds, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let change = Change {
        scope: field("scope"),
        target: field("target"),
        enabled: field("enabled") == "true",
    };
    let seq = field("seq").parse::<u64>().ok();
    let csrf = form_token(&creds);
    let param = p.get(0).to_string();
    let back = format!("/app/properties/{param}?done=switched");
    let outcome = signed_in_form(&api, creds, move |api, who| {
        let req = ServiceChangeRequest {
            scope: change.scope.clone(),
            target: Some(change.target.clone()).filter(|t| !t.is_empty()),
            enabled: change.enabled,
            // Without the seq the page was drawn on, a change made meanwhile would be overruled.
            expected_seq: Some(seq.ok_or_else(|| {
                ApiError::new(Code::InvalidField, "seq: reload the page and confirm again")
            })?),
        };
        match change_service_as(api, who, &param, &req) {
            Ok(_) => Ok(None),
            Err(e) if e.is_fixable() && e.code != Code::NotFound => {
                let status =
                    e.status();
                let problem = if e.code == Code::StaleState {
                    "someone changed the switch meanwhile; here it is as it stands now: confirm again".to_string()
                } else {
                    e.detail
                };
                Ok(Some((
                    status,
                    confirmation(api, who, &param, &change, csrf, Some(problem))?,
                )))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    match outcome {
        Ok(None) => see_other(&back, &[]),
        Ok(Some((status, view))) => render(status, &view),
        Err(r) => r,
    }
}

//! An installation request's page: what the installer filed (device, door, notes, evidence
//! photos), where it stands, and — for the property's owners and managers — the approve and
//! reject forms. Installers follow their own requests here too. The forms call the very
//! functions the API's `…/approve` and `…/reject` call, so the checks are the API's.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use doorman_core::{Action, authorize};
use doorman_entries::Custody;
use doorman_proto::ApproveRequest;
use doorman_store::control::InstallationStatus;

use super::{
    checked_form, done_note, form_token, local_time, org_name, person_name, see_other,
    signed_in_form, signed_in_page, zone,
};
use crate::api::installations::{approve_as, reject_as};
use crate::api::{Credentials, Params, Shared};
use crate::web::render;

/// The reason codes offered when rejecting (any `[a-z0-9_]` code may be typed instead).
const REJECT_REASONS: &[(&str, &str)] = &[
    (
        "not_requested",
        "Nobody at the building asked for this device",
    ),
    ("wrong_door", "Wrong door"),
    (
        "wiring_unsafe",
        "The wiring is unsafe or breaks the intercom",
    ),
    ("evidence_missing", "Photos or notes are missing"),
    (
        "carrier_not_wanted",
        "The building does not want this carrier's device",
    ),
];

struct Photo {
    url: String,
    number: u32,
    content_type: String,
    size: u64,
    by: String,
    at: String,
}

#[derive(Template)]
#[template(path = "installation.html")]
struct InstallationPage {
    csrf: String,
    id: String,
    property_id: String,
    property: String,
    address: String,
    door: String,
    device: String,
    device_key: String,
    installer: String,
    filed_by: String,
    filed_at: String,
    notes: String,
    status: &'static str,
    decision: Option<String>,
    photos: Vec<Photo>,
    /// The viewer runs the building and the request waits: the forms are shown.
    may_decide: bool,
    /// The viewer is its installer and the request waits: more photos may be added.
    may_add_photos: bool,
    self_custody: bool,
    reasons: &'static [(&'static str, &'static str)],
    done: Option<&'static str>,
    problem: Option<String>,
    /// What the viewer typed, kept when a form comes back with a problem.
    note: String,
    consent: String,
    reason: String,
}

/// What a failed form leaves to show again.
#[derive(Default)]
struct Typed {
    problem: Option<String>,
    note: String,
    consent: String,
    reason: String,
}

fn build(
    api: &crate::api::Api,
    who: &crate::api::auth::Authed,
    param: &str,
    csrf: String,
    done: Option<&'static str>,
    typed: Typed,
) -> Result<InstallationPage, crate::api::ApiError> {
    use crate::api::ApiError;
    use doorman_proto::codes::Code;
    let (i, prop) =
        crate::api::installations::installation_for(api, who, param, Action::ReadInstallation)?;
    let store = |e| ApiError::store(e, "installation request", Code::Internal);
    let tz = zone(&prop);
    let photos = api
        .store
        .evidence(&i.id)
        .map_err(store)?
        .into_iter()
        .map(|e| Photo {
            url: format!("/api/v1/installations/{}/evidence/{}", i.id, e.number),
            number: e.number,
            content_type: e.content_type,
            size: e.size,
            by: person_name(api, &e.uploaded_by),
            at: local_time(&tz, e.created_at),
        })
        .collect();
    let scope = crate::api::installations::scope(&i, &prop);
    let may_decide = i.status == InstallationStatus::Requested
        && authorize(&who.actor, Action::DecideInstallation, &scope).is_ok();
    let may_add_photos = i.status == InstallationStatus::Requested
        && authorize(&who.actor, Action::UploadEvidence, &scope).is_ok();
    let decision = i.decision.as_ref().map(|d| {
        let what = match i.status {
            InstallationStatus::Rejected => "Rejected",
            _ => "Approved",
        };
        if d.note.is_empty() {
            format!(
                "{what} by {} on {}",
                person_name(api, &d.by),
                local_time(&tz, d.at)
            )
        } else {
            format!(
                "{what} by {} on {}: {}",
                person_name(api, &d.by),
                local_time(&tz, d.at),
                d.note
            )
        }
    });
    Ok(InstallationPage {
        csrf,
        id: i.id.to_string(),
        property_id: prop.id.to_string(),
        property: prop.name.clone(),
        address: prop.address.clone(),
        door: i.door.to_string(),
        device: i.device.to_string(),
        device_key: i.device_key.clone(),
        installer: org_name(api, i.installer_org.as_str()),
        filed_by: person_name(api, &i.filed_by),
        filed_at: local_time(&tz, i.created_at),
        notes: i.notes.clone(),
        status: i.status.as_str(),
        decision,
        photos,
        may_decide,
        may_add_photos,
        self_custody: prop.custody == Custody::SelfCustody,
        reasons: REJECT_REASONS,
        done,
        problem: typed.problem,
        note: typed.note,
        consent: typed.consent,
        reason: typed.reason,
    })
}

pub(super) async fn show(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Response {
    let done = done_note(q.as_deref());
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, csrf| {
        build(api, who, &param, csrf, done, Typed::default())
    })
    .await
}

/// Which decision a form posts.
#[derive(Clone, Copy)]
enum Decide {
    Approve,
    Reject,
}

async fn decide(
    api: Shared,
    creds: Credentials,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
    how: Decide,
) -> Response {
    let fields = match checked_form(&creds, &headers, &body) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let param = p.get(0).to_string();
    let csrf = form_token(&creds);
    let (note, consent) = (field("note"), field("consent"));
    // A typed code wins over the list's choice, so any code the API accepts can be given.
    let reason = Some(field("reason_other"))
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| field("reason"))
        .trim()
        .to_string();
    let id = param.clone();
    let outcome = signed_in_form(&api, creds, move |api, who| {
        let result = match how {
            Decide::Approve => approve_as(
                api,
                who,
                &param,
                &ApproveRequest {
                    not_before: None,
                    not_after: None,
                    consent: Some(consent.clone()).filter(|c| !c.trim().is_empty()),
                    note: Some(note.clone()),
                },
            ),
            Decide::Reject => reject_as(api, who, &param, &reason),
        };
        match result {
            Ok(_) => Ok(None),
            // The request's page again, with what to fix and what was typed.
            Err(e) if e.is_fixable() && e.code != doorman_proto::codes::Code::NotFound => {
                let status = e.status();
                let typed = Typed {
                    problem: Some(e.detail),
                    note,
                    consent,
                    reason,
                };
                Ok(Some((status, build(api, who, &param, csrf, None, typed)?)))
            }
            Err(e) => Err(e),
        }
    })
    .await;
    match outcome {
        Ok(None) => {
            let done = match how {
                Decide::Approve => "approved",
                Decide::Reject => "rejected",
            };
            see_other(&format!("/app/installations/{id}?done={done}"), &[])
        }
        Ok(Some((status, view))) => render(status, &view),
        Err(r) => r,
    }
}

pub(super) async fn approve(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(api, creds, p, headers, body, Decide::Approve).await
}

pub(super) async fn reject(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    decide(api, creds, p, headers, body, Decide::Reject).await
}

//! A building's residents for its owners and managers: who lives in which unit, an invitation
//! form (the code is shown once, to hand to the resident), removal; and the page where an
//! invited person accepts: the same functions as the API's `…/residents` and
//! `/invitations/accept`.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use doorman_core::{Action, authorize};
use doorman_proto::codes::Code;
use doorman_proto::{AcceptInvitationRequest, InviteResidentRequest};

use super::{
    CSRF_COOKIE, checked_form, cookie, done_note, end_form_cookie, form, local_time,
    no_session_form, same_secret, see_other, signed_in_form, signed_in_page, zone,
};
use crate::api::auth::{Authed, accept_invitation_as};
use crate::api::properties::{invite_resident_as, property_for, remove_resident_as, scope};
use crate::api::{Api, ApiError, Credentials, Params, Shared, run};
use crate::web::render;

struct ResidentRow {
    user: String,
    name: String,
    email: String,
    unit: String,
    since: String,
}

#[derive(Template)]
#[template(path = "residents.html")]
struct Residents {
    csrf: String,
    id: String,
    name: String,
    residents: Vec<ResidentRow>,
    units: Vec<String>,
    done: Option<&'static str>,
    problem: Option<String>,
    /// An invitation just made: its email, unit and code (shown this once).
    invited: Option<(String, String, String)>,
    email: String,
    unit: String,
}

fn build(
    api: &Api,
    who: &Authed,
    param: &str,
    csrf: String,
    done: Option<&'static str>,
) -> Result<Residents, ApiError> {
    let prop = property_for(api, who, param, Action::ReadResidents)?;
    let tz = zone(&prop);
    let store = |e| ApiError::store(e, "residents", Code::Internal);
    let residents = api
        .store
        .residents(&prop.id)
        .map_err(store)?
        .into_iter()
        .map(|(m, u)| ResidentRow {
            user: u.id.clone(),
            name: u.name,
            email: u.email,
            unit: m.unit.map(|u| u.to_string()).unwrap_or_default(),
            since: local_time(&tz, m.created_at),
        })
        .collect();
    let units = api
        .store
        .units(&prop.id)
        .map_err(store)?
        .into_iter()
        .map(|u| u.unit.to_string())
        .collect();
    // Only those who may invite see the forms' effect; the check is the API's.
    authorize(
        &who.actor,
        Action::Invite(doorman_core::Role::Resident),
        &scope(&prop),
    )
    .map_err(|r| ApiError::refused(r, "property"))?;
    Ok(Residents {
        csrf,
        id: prop.id.to_string(),
        name: prop.name.clone(),
        residents,
        units,
        done,
        problem: None,
        invited: None,
        email: String::new(),
        unit: String::new(),
    })
}

pub(super) async fn page(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    RawQuery(q): RawQuery,
) -> Response {
    let param = p.get(0).to_string();
    let done = done_note(q.as_deref());
    signed_in_page(&api, creds, move |api, who, csrf| {
        build(api, who, &param, csrf, done)
    })
    .await
}

pub(super) async fn invite(
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
    let (email, unit) = (field("email").trim().to_string(), field("unit"));
    let csrf = super::form_token(&creds);
    let param = p.get(0).to_string();
    let outcome = signed_in_form(&api, creds, move |api, who| {
        let req = InviteResidentRequest {
            email: email.clone(),
            unit: unit.clone(),
        };
        let made = invite_resident_as(api, who, &param, &req);
        let mut page = build(api, who, &param, csrf, None)?;
        let status = match made {
            Ok(inv) => {
                page.invited = Some((
                    inv.email,
                    inv.unit.unwrap_or_default(),
                    inv.code.unwrap_or_default(),
                ));
                StatusCode::OK
            }
            Err(e) if e.is_fixable() => {
                let status = e.status();
                page.problem = Some(e.detail);
                page.email = email;
                page.unit = unit;
                status
            }
            Err(e) => return Err(e),
        };
        Ok((status, page))
    })
    .await;
    match outcome {
        Ok((status, page)) => render(status, &page),
        Err(r) => r,
    }
}

pub(super) async fn remove(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = checked_form(&creds, &headers, &body) {
        return r;
    }
    let (param, user) = (p.get(0).to_string(), p.get(1).to_string());
    let back = format!("/app/properties/{param}/residents?done=removed");
    match signed_in_form(&api, creds, move |api, who| {
        remove_resident_as(api, who, &param, &user)
    })
    .await
    {
        Ok(()) => see_other(&back, &[]),
        Err(r) => r,
    }
}

#[derive(Template)]
#[template(path = "invitation.html")]
struct Invitation {
    csrf: String,
    code: String,
    name: String,
    problem: Option<String>,
}

/// The form to accept an invitation, with a fresh double-submit token (no session yet).
fn invitation_page(
    api: &Shared,
    status: StatusCode,
    code: String,
    name: String,
    problem: Option<String>,
) -> Response {
    no_session_form(api, "/invitation", |csrf| {
        render(
            status,
            &Invitation {
                csrf,
                code,
                name,
                problem,
            },
        )
    })
}

pub(super) async fn invitation_form(State(api): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let code = form_urlencoded::parse(q.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    invitation_page(&api, StatusCode::OK, code, String::new(), None)
}

pub(super) async fn accept(State(api): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(fields) = form(&headers, &body) else {
        return invitation_page(
            &api,
            StatusCode::BAD_REQUEST,
            String::new(),
            String::new(),
            Some("That was not the invitation form: fill it in below.".into()),
        );
    };
    let field = |n: &str| fields.get(n).cloned().unwrap_or_default();
    let (code, name, password) = (
        field("code").trim().to_string(),
        field("name"),
        field("password"),
    );
    let expected = cookie(&headers, CSRF_COOKIE);
    if !expected.is_some_and(|c| same_secret(&c, &field("csrf"))) {
        return invitation_page(
            &api,
            StatusCode::FORBIDDEN,
            code,
            name,
            Some("The form had expired or came from another site: fill it in again below.".into()),
        );
    }
    if code.is_empty() || password.is_empty() {
        return invitation_page(
            &api,
            StatusCode::BAD_REQUEST,
            code,
            name,
            Some("Give the invitation code and a password.".into()),
        );
    }
    let req = AcceptInvitationRequest {
        code: code.clone(),
        name: Some(name.trim().to_string()).filter(|n| !n.is_empty()),
        password,
    };
    match run(api.clone(), move |api| accept_invitation_as(api, &req)).await {
        Ok(session) => {
            let mut cookies: Vec<HeaderValue> = api
                .session_set_cookie(Some(&session.token))
                .into_iter()
                .collect();
            cookies.extend(end_form_cookie("/invitation"));
            see_other("/app", &cookies)
        }
        Err(e) if e.is_fixable() => {
            let status = e.status();
            invitation_page(&api, status, code, name, Some(format!("{}.", e.detail)))
        }
        Err(_) => invitation_page(
            &api,
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            name,
            Some("Accepting failed: try again in a minute.".into()),
        ),
    }
}

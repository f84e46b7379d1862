//! Organisations: members, invitations, API tokens, a carrier's key and drivers, and the
//! carrier directory managers authorize from.

use axum::extract::State;
use doorman_core::{Action, OrgId, OrgKind, Scope, authorize};
use doorman_proto::codes::Code;
use doorman_proto::{
    CarrierKeyRequest, CarrierView, CreateDriverRequest, CreateOrgRequest, CreateTokenRequest,
    DriverView, InvitationView, InviteRequest, List, MemberView, OrgView, TokenView,
};
use doorman_store::control::{ApiToken, CarrierKey, Driver, Invitation, Org};
use doorman_trust::SecretKey;
use jiff::{SignedDuration, Timestamp};

use super::auth::{Authed, check_role_in, new_id, new_secret, user_view};
use super::views::{
    check_email, check_name, driver_view, invitation_view, key, org_view, path_id, token_view,
};
use super::{Api, ApiError, Body, Created, Credentials, Json, NoContent, Params, Shared, run};

/// How long an invitation stays open.
pub(crate) const INVITATION_TTL: SignedDuration = SignedDuration::from_hours(7 * 24);

/// Loads an organisation the caller may act on with `action` (404 if it may not know it).
pub(crate) fn org_for(
    api: &Api,
    who: &Authed,
    param: &str,
    action: Action,
) -> Result<Org, ApiError> {
    let id = path_id(param, "organisation", OrgId::new)?;
    let org = api
        .store
        .org(&id)
        .map_err(|e| ApiError::store(e, "organisation", Code::Internal))?
        .ok_or_else(|| ApiError::not_found("organisation"))?;
    authorize(
        &who.actor,
        action,
        &Scope {
            org: Some(&org.id),
            ..Scope::default()
        },
    )
    .map_err(|r| ApiError::refused(r, "organisation"))?;
    Ok(org)
}

/// Creates an invitation and returns it with its code (shown once).
pub(crate) fn create_invitation(
    api: &Api,
    who: &Authed,
    mut invitation: Invitation,
) -> Result<InvitationView, ApiError> {
    let (code, code_hash) = new_secret("dmi_");
    invitation.code_hash = code_hash;
    invitation.created_by = who.person().to_string();
    api.store
        .create_invitation(&invitation)
        .map_err(|e| ApiError::store(e, "invitation", Code::Duplicate))?;
    Ok(invitation_view(&invitation, Some(code)))
}

pub(crate) fn new_invitation(
    org: &OrgId,
    role: doorman_core::Role,
    email: String,
    now: Timestamp,
) -> Invitation {
    Invitation {
        id: new_id("inv_"),
        org: org.clone(),
        role,
        email,
        property: None,
        unit: None,
        code_hash: Vec::new(),
        created_by: String::new(),
        created_at: now,
        expires_at: now.checked_add(INVITATION_TTL).unwrap_or(Timestamp::MAX),
        accepted_at: None,
    }
}

/// The organisations the caller belongs to (the operator: all of them).
#[utoipa::path(get, path = "/api/v1/orgs", tag = "organisations",
    responses((status = 200, body = List<OrgView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn list(
    State(api): State<Shared>,
    creds: Credentials,
) -> Result<Json<List<OrgView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let all = api
            .store
            .orgs(None)
            .map_err(|e| ApiError::store(e, "organisations", Code::Internal))?;
        let everything = authorize(&who.actor, Action::ListAllOrgs, &Scope::default()).is_ok();
        let mine: Vec<OrgView> = all
            .iter()
            .filter(|o| everything || who.actor.memberships.iter().any(|m| m.org == o.id))
            .map(org_view)
            .collect();
        Ok(Json(List::new(mine)))
    })
    .await
}

/// Found another organisation (the caller becomes its owner or admin).
#[utoipa::path(post, path = "/api/v1/orgs", tag = "organisations", request_body = CreateOrgRequest,
    responses((status = 201, body = OrgView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn create(
    State(api): State<Shared>,
    creds: Credentials,
    Body(req): Body<CreateOrgRequest>,
) -> Result<Created<OrgView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        if who.token.is_some() {
            return Err(ApiError::new(
                Code::Forbidden,
                "an API token acts for its organisation only; sign in as a person to found another",
            ));
        }
        let kind: OrgKind = req.kind.parse().map_err(|e: doorman_core::UnknownName| {
            ApiError::new(Code::InvalidField, format!("kind: {e}"))
        })?;
        if kind == OrgKind::Operator {
            return Err(ApiError::new(
                Code::InvalidField,
                "kind: there is one operator organisation",
            ));
        }
        let now = api.now();
        let org = Org {
            id: OrgId::new(new_id("org_")).map_err(|_| ApiError::internal())?,
            kind,
            name: check_name(&req.name, "name")?,
            created_at: now,
            carrier_key: None,
        };
        api.store
            .create_org(&org, who.person(), kind.founder_role(), now)
            .map_err(|e| ApiError::store(e, "organisation", Code::Duplicate))?;
        Ok(Created(org_view(&org)))
    })
    .await
}

/// One organisation.
#[utoipa::path(get, path = "/api/v1/orgs/{org}", tag = "organisations", params(("org" = String, Path)),
    responses((status = 200, body = OrgView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn show(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<OrgView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ReadOrg)?;
        Ok(Json(org_view(&org)))
    })
    .await
}

/// Members and their roles.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/members", tag = "organisations", params(("org" = String, Path)),
    responses((status = 200, body = List<MemberView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn members(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<MemberView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ListMembers)?;
        let members = api
            .store
            .members(&org.id)
            .map_err(|e| ApiError::store(e, "members", Code::Internal))?;
        Ok(Json(List::new(
            members
                .iter()
                .map(|(m, u)| MemberView {
                    user: user_view(u),
                    role: m.role.to_string(),
                    property: m.property.as_ref().map(ToString::to_string),
                    unit: m.unit.as_ref().map(ToString::to_string),
                    since: m.created_at,
                })
                .collect(),
        )))
    })
    .await
}

/// Remove a person from the organisation (all their roles in it).
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/members/{user}", tag = "organisations", params(("org" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_member(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageMembers)?;
        let user = p.get(1).to_string();
        let members = api
            .store
            .members(&org.id)
            .map_err(|e| ApiError::store(e, "members", Code::Internal))?;
        let founders = members
            .iter()
            .filter(|(m, _)| m.role == org.kind.founder_role())
            .count();
        let removing_founder = members
            .iter()
            .any(|(m, _)| m.user == user && m.role == org.kind.founder_role());
        if removing_founder && founders == 1 {
            return Err(ApiError::new(
                Code::InUse,
                format!(
                    "this is the organisation's last {}; make someone else one first",
                    org.kind.founder_role()
                ),
            ));
        }
        api.store
            .remove_member(&org.id, &user)
            .map_err(|e| ApiError::store(e, "member", Code::Internal))?;
        Ok(NoContent)
    })
    .await
}

/// Invitations made and not yet used.
#[utoipa::path(get, path = "/api/v1/orgs/{org}/invitations", tag = "organisations", params(("org" = String, Path)),
    responses((status = 200, body = List<InvitationView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn invitations(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<InvitationView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ListMembers)?;
        let list = api
            .store
            .invitations(&org.id)
            .map_err(|e| ApiError::store(e, "invitations", Code::Internal))?;
        // Open ones only: an accepted invitation is a membership now (see members).
        Ok(Json(List::new(
            list.iter()
                .filter(|i| i.accepted_at.is_none())
                .map(|i| invitation_view(i, None))
                .collect(),
        )))
    })
    .await
}

/// Invite a person in a role. The response carries the invitation code, once: pass it on.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/invitations", tag = "organisations", params(("org" = String, Path)), request_body = InviteRequest,
    responses((status = 201, body = InvitationView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn invite(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<InviteRequest>,
) -> Result<Created<InvitationView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ReadOrg)?;
        let role = check_role_in(org.kind, &req.role)?;
        if role == doorman_core::Role::Resident {
            return Err(ApiError::new(Code::InvalidField, "role: residents are invited to a unit, with POST /api/v1/properties/{property}/residents"));
        }
        authorize(&who.actor, Action::Invite(role), &Scope { org: Some(&org.id), ..Scope::default() })
            .map_err(|r| ApiError::refused(r, "organisation"))?;
        let email = check_email(&req.email)?;
        let invitation = new_invitation(&org.id, role, email, api.now());
        create_invitation(api, &who, invitation).map(Created)
    })
    .await
}

/// Cancel an open invitation.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/invitations/{invitation}", tag = "organisations", params(("org" = String, Path), ("invitation" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn cancel_invitation(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageMembers)?;
        api.store
            .delete_invitation(&org.id, p.get(1))
            .map_err(|e| ApiError::store(e, "invitation", Code::InvitationClosed))?;
        Ok(NoContent)
    })
    .await
}

/// The organisation's API tokens (never the secrets).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/tokens", tag = "organisations", params(("org" = String, Path)),
    responses((status = 200, body = List<TokenView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn tokens(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<TokenView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageTokens)?;
        let list = api
            .store
            .api_tokens(&org.id)
            .map_err(|e| ApiError::store(e, "API tokens", Code::Internal))?;
        Ok(Json(List::new(
            list.iter().map(|t| token_view(t, None)).collect(),
        )))
    })
    .await
}

/// Issue an API token for a machine (a dispatch system, an installer's app, the CLI): one
/// organisation, one role. The secret is in the response, once.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/tokens", tag = "organisations", params(("org" = String, Path)), request_body = CreateTokenRequest,
    responses((status = 201, body = TokenView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn create_token(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<CreateTokenRequest>,
) -> Result<Created<TokenView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ReadOrg)?;
        let role = check_role_in(org.kind, &req.role)?;
        if role.is_personal() {
            return Err(ApiError::new(
                Code::InvalidField,
                format!("role: {role}s sign in themselves; no API token acts for them"),
            ));
        }
        if who.token.is_some() {
            return Err(ApiError::new(
                Code::Forbidden,
                "an API token cannot issue API tokens; sign in as a person",
            ));
        }
        authorize(
            &who.actor,
            Action::CreateToken(role),
            &Scope {
                org: Some(&org.id),
                ..Scope::default()
            },
        )
        .map_err(|r| ApiError::refused(r, "organisation"))?;
        let now = api.now();
        let expires_at = match req.expires_in_days {
            None => None,
            Some(d @ 1..=3650) => now
                .checked_add(SignedDuration::from_hours(24 * i64::from(d)))
                .ok(),
            Some(_) => {
                return Err(ApiError::new(
                    Code::InvalidField,
                    "expires_in_days: 1 to 3650, or leave it out",
                ));
            }
        };
        let (secret, token_hash) = new_secret("dmt_");
        let token = ApiToken {
            id: new_id("tok_"),
            token_hash,
            org: org.id.clone(),
            role,
            name: check_name(&req.name, "name")?,
            created_by: who.person().to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
        };
        api.store
            .create_api_token(&token)
            .map_err(|e| ApiError::store(e, "API token", Code::Duplicate))?;
        Ok(Created(token_view(&token, Some(secret))))
    })
    .await
}

/// Revoke an API token: it stops working at once.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/tokens/{token}", tag = "organisations", params(("org" = String, Path), ("token" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn revoke_token(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageTokens)?;
        api.store
            .revoke_api_token(&org.id, p.get(1), api.now())
            .map_err(|e| ApiError::store(e, "API token", Code::AlreadyRevoked))?;
        Ok(NoContent)
    })
    .await
}

/// Set a carrier's pass-signing key: its own public key, or one the server generates and
/// holds (`custodial: true`) so it can mint passes by API.
#[utoipa::path(put, path = "/api/v1/orgs/{org}/carrier-key", tag = "organisations", params(("org" = String, Path)), request_body = CarrierKeyRequest,
    responses((status = 200, body = OrgView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn set_carrier_key(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<CarrierKeyRequest>,
) -> Result<Json<OrgView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageCarrierKey)?;
        if org.kind != OrgKind::Carrier {
            return Err(ApiError::new(Code::InvalidField, "only a carrier organisation has a pass-signing key"));
        }
        let now = api.now();
        let key = match (req.public_key.as_deref(), req.custodial) {
            (Some(k), false) => CarrierKey { public_key: key(k, "public_key")?.to_string(), sealed_secret: None, set_at: now },
            (None, true) => {
                let secret = SecretKey::generate(&mut rand::rngs::OsRng);
                let sealed = api
                    .kek
                    .seal(&secret, "carrier-key", org.id.as_str(), &mut rand::rngs::OsRng)
                    .map_err(|_| ApiError::internal())?;
                CarrierKey { public_key: secret.public().to_string(), sealed_secret: Some(sealed), set_at: now }
            }
            _ => return Err(ApiError::new(Code::InvalidField, "give either public_key (you hold the key) or custodial: true (the server holds it)")),
        };
        api.store.set_carrier_key(&org.id, &key).map_err(|e| ApiError::store(e, "carrier organisation", Code::Internal))?;
        let org = api.store.org(&org.id).map_err(|e| ApiError::store(e, "organisation", Code::Internal))?.ok_or_else(ApiError::internal)?;
        Ok(Json(org_view(&org)))
    })
    .await
}

/// A carrier's drivers (pseudonymous ids and handset keys).
#[utoipa::path(get, path = "/api/v1/orgs/{org}/drivers", tag = "organisations", params(("org" = String, Path)),
    responses((status = 200, body = List<DriverView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn drivers(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<Json<List<DriverView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ReadDrivers)?;
        let list = api
            .store
            .drivers(&org.id)
            .map_err(|e| ApiError::store(e, "drivers", Code::Internal))?;
        Ok(Json(List::new(list.iter().map(driver_view).collect())))
    })
    .await
}

/// Register a driver's handset key.
#[utoipa::path(post, path = "/api/v1/orgs/{org}/drivers", tag = "organisations", params(("org" = String, Path)), request_body = CreateDriverRequest,
    responses((status = 201, body = DriverView), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn add_driver(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
    Body(req): Body<CreateDriverRequest>,
) -> Result<Created<DriverView>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageDrivers)?;
        if org.kind != OrgKind::Carrier {
            return Err(ApiError::new(
                Code::InvalidField,
                "only a carrier organisation has drivers",
            ));
        }
        let driver = Driver {
            id: new_id("drv_"),
            org: org.id.clone(),
            name: check_name(&req.name, "name")?,
            public_key: key(&req.public_key, "public_key")?.to_string(),
            created_at: api.now(),
            removed_at: None,
        };
        // A key another driver of this carrier holds is a conflict naming that driver,
        // answered as `duplicate`.
        api.store
            .add_driver(&driver)
            .map_err(|e| ApiError::store(e, "driver", Code::Duplicate))?;
        Ok(Created(driver_view(&driver)))
    })
    .await
}

/// Remove a driver: no new passes name them.
#[utoipa::path(delete, path = "/api/v1/orgs/{org}/drivers/{driver}", tag = "organisations", params(("org" = String, Path), ("driver" = String, Path)),
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn remove_driver(
    State(api): State<Shared>,
    creds: Credentials,
    p: Params,
) -> Result<NoContent, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        let org = org_for(api, &who, p.get(0), Action::ManageDrivers)?;
        api.store
            .remove_driver(&org.id, p.get(1), api.now())
            .map_err(|e| ApiError::store(e, "driver", Code::Internal))?;
        Ok(NoContent)
    })
    .await
}

/// The carriers a property's managers can authorize.
#[utoipa::path(get, path = "/api/v1/carriers", tag = "organisations",
    responses((status = 200, body = List<CarrierView>), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn carriers(
    State(api): State<Shared>,
    creds: Credentials,
) -> Result<Json<List<CarrierView>>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        authorize(&who.actor, Action::ListCarriers, &Scope::default())
            .map_err(|r| ApiError::refused(r, "carrier directory"))?;
        let list = api
            .store
            .orgs(Some(OrgKind::Carrier))
            .map_err(|e| ApiError::store(e, "carriers", Code::Internal))?;
        Ok(Json(List::new(
            list.iter()
                .map(|o| CarrierView {
                    id: o.id.to_string(),
                    name: o.name.clone(),
                    carrier_key: o.carrier_key.as_ref().map(|k| k.public_key.clone()),
                })
                .collect(),
        )))
    })
    .await
}

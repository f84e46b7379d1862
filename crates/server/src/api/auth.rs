//! Who is calling: the one-time setup, sign-up, sign-in (argon2id, throttled), sessions, API
//! tokens and invitations.
//!
//! Secrets are 256-bit random values with a readable prefix (`dms_` session, `dmt_` API
//! token, `dmi_` invitation code, `dmsetup_` setup code) and are stored as SHA-256 hashes:
//! a database leak gives no usable credential, and being random they need no slow hash.
//! Passwords are argon2id (PHC strings, the `argon2` crate's defaults: 19 MiB, 2 passes).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_core::throttle::{self, Attempts, Wait};
use doorman_core::{Actor, Membership, OrgId, OrgKind, Role};
use doorman_proto::codes::Code;
use doorman_proto::{
    AcceptInvitationRequest, Me, MembershipView, SessionResponse, SetupRequest, SignInRequest,
    SignupRequest, UserView,
};
use doorman_store::control::{LoginThrottle, Org, Session, User};
use jiff::{SignedDuration, Timestamp};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::views::{check_email, check_name, check_password};
use super::{Api, ApiError, Body, Credentials, Json, NoContent, SESSION_COOKIE, Shared, run};

/// A random secret with its prefix, and its hash as stored.
pub(crate) fn new_secret(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = secret_hash(&secret);
    (secret, hash)
}

/// The stored form of a secret.
pub(crate) fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A new random id with a prefix (`org_`, `usr_`, ...): 80 bits, lowercase hex.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// Hashes a password with argon2id.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            super::error::tracing_error(&format!("hashing a password: {e}"));
            ApiError::internal()
        })
}

/// Whether `password` matches a stored argon2 PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash of a random password, verified against when an email has no account, so a
/// sign-in takes as long whether or not the account exists.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let (random, _) = new_secret("");
        hash_password(&random).unwrap_or_default()
    })
}

/// The right to check one password for an address; released when dropped.
struct AttemptTurn<'a> {
    set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
    email: String,
}

impl<'a> AttemptTurn<'a> {
    fn take(
        set: &'a std::sync::Mutex<std::collections::HashSet<String>>,
        email: &str,
    ) -> Option<AttemptTurn<'a>> {
        let mut s = set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.insert(email.to_string()).then(|| AttemptTurn {
            set,
            email: email.to_string(),
        })
    }
}

impl Drop for AttemptTurn<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.email);
    }
}

/// The caller, authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Authed {
    pub user: User,
    pub actor: Actor,
    /// The API token's id, when the caller is one.
    pub token: Option<String>,
    /// The memberships with organisation names, for `/me`.
    pub memberships: Vec<doorman_store::control::Member>,
}

impl Authed {
    /// The person acting (the token's creator for an API token).
    pub fn person(&self) -> &str {
        &self.user.id
    }
}

impl Api {
    /// Checks the credentials against the store.
    pub(crate) fn authenticate(&self, creds: &Credentials) -> Result<Authed, ApiError> {
        let Some(secret) = creds.bearer.as_deref() else {
            return Err(ApiError::unauthenticated(
                "sign in first: send `Authorization: Bearer <token>` (from POST /api/v1/sessions, or an API token)",
            ));
        };
        let now = self.now();
        let hash = secret_hash(secret);
        let internal = |e| ApiError::store(e, "credentials", Code::Unauthenticated);
        if secret.starts_with("dmt_") && !creds.from_cookie {
            let token = self
                .store
                .api_token_by_hash(&hash)
                .map_err(internal)?
                .filter(|t| t.revoked_at.is_none() && t.expires_at.is_none_or(|e| e > now))
                .ok_or_else(|| {
                    ApiError::unauthenticated("this API token is unknown, revoked or expired")
                })?;
            let org = self
                .store
                .org(&token.org)
                .map_err(internal)?
                .ok_or_else(|| {
                    ApiError::unauthenticated("this API token's organisation is gone")
                })?;
            let user = self
                .store
                .user(&token.created_by)
                .map_err(internal)?
                .ok_or_else(|| ApiError::unauthenticated("this API token's creator is gone"))?;
            // The token acts only while its creator still holds a role that could create it.
            let creator = self.memberships_actor(&user.id)?;
            if doorman_core::authorize(
                &creator.0,
                doorman_core::Action::CreateToken(token.role),
                &doorman_core::Scope {
                    org: Some(&token.org),
                    ..Default::default()
                },
            )
            .is_err()
            {
                return Err(ApiError::unauthenticated(
                    "this API token's creator no longer holds a role that may issue it; issue a new one",
                ));
            }
            // "Last used" to the minute: no write at all for most requests of a busy client.
            let stale = token.last_used_at.is_none_or(|t| {
                t.checked_add(SignedDuration::from_secs(60))
                    .is_ok_and(|due| due <= now)
            });
            if stale {
                let _ = self.store.touch_api_token(&token.id, now);
            }
            let member = doorman_store::control::Member {
                user: user.id.clone(),
                org: token.org.clone(),
                kind: org.kind,
                role: token.role,
                property: None,
                unit: None,
                created_at: token.created_at,
            };
            return Ok(Authed {
                actor: Actor {
                    person: Some(user.id.clone()),
                    memberships: vec![Membership {
                        org: token.org,
                        kind: org.kind,
                        role: token.role,
                        property: None,
                    }],
                },
                user,
                token: Some(token.id),
                memberships: vec![member],
            });
        }
        let session = self
            .store
            .session(&hash)
            .map_err(internal)?
            .filter(|s| s.expires_at > now)
            .ok_or_else(|| {
                ApiError::unauthenticated("this session is unknown or expired; sign in again")
            })?;
        let user = self
            .store
            .user(&session.user)
            .map_err(internal)?
            .ok_or_else(|| ApiError::unauthenticated("this session's account is gone"))?;
        let (actor, memberships) = self.memberships_actor(&user.id)?;
        Ok(Authed {
            user,
            actor,
            token: None,
            memberships,
        })
    }

    fn memberships_actor(
        &self,
        user: &str,
    ) -> Result<(Actor, Vec<doorman_store::control::Member>), ApiError> {
        let members = self
            .store
            .memberships(user)
            .map_err(|e| ApiError::store(e, "memberships", Code::Internal))?;
        let actor = Actor {
            person: Some(user.to_string()),
            memberships: members
                .iter()
                .map(|m| Membership {
                    org: m.org.clone(),
                    kind: m.kind,
                    role: m.role,
                    property: m.property.clone(),
                })
                .collect(),
        };
        Ok((actor, members))
    }

    /// `/me` for an authenticated caller.
    pub(crate) fn me(&self, who: &Authed) -> Result<Me, ApiError> {
        let mut memberships = Vec::new();
        for m in &who.memberships {
            let org_name = self
                .store
                .org(&m.org)
                .map_err(|e| ApiError::store(e, "organisation", Code::Internal))?
                .map(|o| o.name)
                .unwrap_or_default();
            memberships.push(MembershipView {
                org: m.org.to_string(),
                org_name,
                kind: m.kind.to_string(),
                role: m.role.to_string(),
                property: m.property.as_ref().map(ToString::to_string),
                unit: m.unit.as_ref().map(ToString::to_string),
            });
        }
        Ok(Me {
            user: user_view(&who.user),
            memberships,
            via: if who.token.is_some() {
                "api_token"
            } else {
                "session"
            }
            .to_string(),
        })
    }

    /// Checks a password for `email` under the sign-in throttle (see `doorman_core::throttle`):
    /// refused without checking while the address backs off or is locked; a failure counts,
    /// a success clears the count. One attempt per address runs at a time (another one at
    /// the same moment is refused), so parallel guesses cannot slip past the count. `user` is
    /// the address's account, if any: without one the check fails after the same work.
    pub(crate) fn check_password(
        &self,
        email: &str,
        user: Option<&User>,
        password: &str,
    ) -> Result<(), ApiError> {
        let Some(_turn) = AttemptTurn::take(&self.password_checks, email) else {
            return Err(ApiError {
                retry_after: Some(1),
                ..ApiError::new(
                    Code::TooManyAttempts,
                    "another sign-in for this address is under way; try again in a second",
                )
            });
        };
        let now = self.now();
        let stored = self
            .store
            .login_throttle(email)
            .map_err(|e| ApiError::store(e, "sign-in", Code::Internal))?;
        let attempts = Attempts {
            failures: stored.failures,
            last_failure: stored.last_failure_at,
            locked_until: stored.locked_until,
        };
        if let Err(wait) = throttle::check(&attempts, now) {
            let secs = wait.retry_after_secs(now);
            let e = match wait {
                Wait::Locked { until } => ApiError::new(
                    Code::LockedOut,
                    format!("too many failed sign-ins for this address: locked until {until}"),
                ),
                Wait::Backoff { .. } => ApiError::new(
                    Code::TooManyAttempts,
                    format!("too many failed sign-ins for this address; wait {secs} s"),
                ),
            };
            return Err(ApiError {
                retry_after: Some(secs),
                ..e
            });
        }
        let ok = match user {
            Some(u) => verify_password(password, &u.password_hash),
            None => {
                verify_password(password, dummy_hash());
                false
            }
        };
        if ok {
            if stored != LoginThrottle::default() {
                self.store
                    .put_login_throttle(email, &LoginThrottle::default())
                    .map_err(|e| ApiError::store(e, "sign-in", Code::Internal))?;
            }
            return Ok(());
        }
        let after = throttle::after_failure(&attempts, now);
        self.store
            .put_login_throttle(
                email,
                &LoginThrottle {
                    failures: after.failures,
                    last_failure_at: after.last_failure,
                    locked_until: after.locked_until,
                },
            )
            .map_err(|e| ApiError::store(e, "sign-in", Code::Internal))?;
        Err(ApiError::unauthenticated("wrong email or password"))
    }

    /// Opens a session for `user`.
    fn open_session(&self, user: &User) -> Result<SessionResponse, ApiError> {
        let now = self.now();
        let ttl = SignedDuration::try_from(self.config.session_ttl)
            .unwrap_or(SignedDuration::from_hours(12));
        let expires_at = now.checked_add(ttl).unwrap_or(Timestamp::MAX);
        let (token, token_hash) = new_secret("dms_");
        self.store
            .create_session(&Session {
                token_hash,
                user: user.id.clone(),
                created_at: now,
                expires_at,
            })
            .map_err(|e| ApiError::store(e, "session", Code::Internal))?;
        let who = self.authenticate(&Credentials {
            bearer: Some(token.clone()),
            from_cookie: false,
        })?;
        Ok(SessionResponse {
            token,
            expires_at,
            me: self.me(&who)?,
        })
    }

    fn session_cookie(&self, token: &str, max_age: i64) -> Option<HeaderValue> {
        let secure = if self.config.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
        ))
        .ok()
    }

    /// Signs in with a password: the throttled check, then a new session (the API's sign-in
    /// and the sign-in page share it).
    pub(crate) fn password_session(
        &self,
        email: &str,
        password: &str,
    ) -> Result<SessionResponse, ApiError> {
        let email = email.trim().to_lowercase();
        let user = self
            .store
            .user_by_email(&email)
            .map_err(|e| ApiError::store(e, "account", Code::Internal))?;
        self.check_password(&email, user.as_ref(), password)?;
        match user {
            Some(user) => self.open_session(&user),
            None => Err(ApiError::unauthenticated("wrong email or password")),
        }
    }

    /// Ends the session `creds` carry (nothing for an API token: see the caller).
    pub(crate) fn end_session(&self, creds: &Credentials) -> Result<(), ApiError> {
        if let Some(secret) = &creds.bearer {
            self.store
                .delete_session(&secret_hash(secret))
                .map_err(|e| ApiError::store(e, "session", Code::Internal))?;
        }
        Ok(())
    }

    /// The `Set-Cookie` value for a new session (`None` clears it).
    pub(crate) fn session_set_cookie(&self, token: Option<&str>) -> Option<HeaderValue> {
        match token {
            Some(t) => {
                let max_age = i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
                self.session_cookie(t, max_age)
            }
            None => self.session_cookie("", 0),
        }
    }

    /// Whether cookies are sent with `Secure` (the server is reached over https).
    pub(crate) fn secure_cookies(&self) -> bool {
        self.config.secure_cookies
    }

    fn with_cookie(&self, session: SessionResponse) -> Response {
        let max_age = i64::try_from(self.config.session_ttl.as_secs()).unwrap_or(i64::MAX);
        let cookie = self.session_cookie(&session.token, max_age);
        let mut r = Json(session).into_response();
        if let Some(c) = cookie {
            r.headers_mut().insert(header::SET_COOKIE, c);
        }
        r
    }
}

pub(crate) fn user_view(u: &User) -> UserView {
    UserView {
        id: u.id.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
    }
}

fn new_user(email: &str, name: &str, password: &str, now: Timestamp) -> Result<User, ApiError> {
    Ok(User {
        id: new_id("usr_"),
        email: check_email(email)?,
        name: check_name(name, "name")?,
        password_hash: {
            check_password(password)?;
            hash_password(password)?
        },
        created_at: now,
    })
}

/// Create the operator with the one-time setup code.
#[utoipa::path(post, path = "/api/v1/setup", tag = "accounts", request_body = SetupRequest,
    responses((status = 200, body = SessionResponse), (status = "4XX", body = doorman_proto::Problem)))]
pub(crate) async fn setup(
    State(api): State<Shared>,
    Body(req): Body<SetupRequest>,
) -> Result<Response, ApiError> {
    let api2 = api.clone();
    let session = run(api, move |api| {
        if api.store.is_set_up().map_err(|e| ApiError::store(e, "setup", Code::SetupDone))? {
            return Err(ApiError::new(Code::SetupDone, "the operator exists already; sign in instead"));
        }
        let now = api.now();
        let user = new_user(&req.email, &req.name, &req.password, now)?;
        let org = Org {
            id: OrgId::new(new_id("org_")).map_err(|_| ApiError::internal())?,
            kind: OrgKind::Operator,
            name: check_name(&req.org_name, "org_name")?,
            created_at: now,
            carrier_key: None,
        };
        api.store.claim_setup(&secret_hash(req.code.trim()), &user, &org).map_err(|e| match e {
            doorman_store::ControlError::NotFound(_) => ApiError::new(
                Code::NotFound,
                "that is not the current setup code (each start of `doorman serve` prints a new one until the operator exists)",
            ),
            other => ApiError::store(other, "setup", Code::SetupDone),
        })?;
        api.open_session(&user)
    })
    .await?;
    Ok(api2.with_cookie(session))
}

/// Create an organisation (property, installer or carrier) and its founder's account.
#[utoipa::path(post, path = "/api/v1/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 200, body = SessionResponse), (status = "4XX", body = doorman_proto::Problem)))]
pub(crate) async fn signup(
    State(api): State<Shared>,
    Body(req): Body<SignupRequest>,
) -> Result<Response, ApiError> {
    let api2 = api.clone();
    let session = run(api, move |api| {
        if !api.config.open_signup {
            return Err(ApiError::new(
                Code::SignupClosed,
                "sign-up is closed on this deployment; ask its operator for an invitation",
            ));
        }
        let kind: OrgKind = req
            .org_kind
            .parse()
            .map_err(|e: doorman_core::UnknownName| {
                ApiError::new(Code::InvalidField, format!("org_kind: {e}"))
            })?;
        if kind == OrgKind::Operator {
            return Err(ApiError::new(
                Code::InvalidField,
                "org_kind: the operator is created once, with the setup code",
            ));
        }
        let now = api.now();
        let user = new_user(&req.email, &req.name, &req.password, now)?;
        let org = Org {
            id: OrgId::new(new_id("org_")).map_err(|_| ApiError::internal())?,
            kind,
            name: check_name(&req.org_name, "org_name")?,
            created_at: now,
            carrier_key: None,
        };
        api.store
            .sign_up(&user, &org, kind.founder_role())
            .map_err(|e| ApiError::store(e, "account", Code::Duplicate))?;
        api.open_session(&user)
    })
    .await?;
    Ok(api2.with_cookie(session))
}

/// Sign in with email and password. Repeated failures for one address are slowed, then
/// locked out for 15 minutes (`429`, with `Retry-After`).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "accounts", request_body = SignInRequest,
    responses((status = 200, body = SessionResponse), (status = "4XX", body = doorman_proto::Problem)))]
pub(crate) async fn sign_in(
    State(api): State<Shared>,
    Body(req): Body<SignInRequest>,
) -> Result<Response, ApiError> {
    let api2 = api.clone();
    let session = run(api, move |api| {
        api.password_session(&req.email, &req.password)
    })
    .await?;
    Ok(api2.with_cookie(session))
}

/// Sign out: end the current session.
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "accounts",
    responses((status = 204), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn sign_out(
    State(api): State<Shared>,
    creds: Credentials,
) -> Result<Response, ApiError> {
    let api2 = api.clone();
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        if who.token.is_some() {
            return Err(ApiError::new(Code::InvalidField, "this is an API token, not a session; revoke it with DELETE /api/v1/orgs/{org}/tokens/{id}"));
        }
        api.end_session(&creds)
    })
    .await?;
    let mut r = NoContent.into_response();
    if let Some(c) = api2.session_cookie("", 0) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// Who am I: the account and every membership (organisation, kind, role).
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = Me), (status = "4XX", body = doorman_proto::Problem)), security(("bearer" = [])))]
pub(crate) async fn me(
    State(api): State<Shared>,
    creds: Credentials,
) -> Result<Json<Me>, ApiError> {
    run(api, move |api| {
        let who = api.authenticate(&creds)?;
        api.me(&who).map(Json)
    })
    .await
}

/// Accept an invitation with its code: creates the account if the invited email has none
/// (give `name` and a `password`), or adds the membership to it (give its `password`).
#[utoipa::path(post, path = "/api/v1/invitations/accept", tag = "accounts", request_body = AcceptInvitationRequest,
    responses((status = 200, body = SessionResponse), (status = "4XX", body = doorman_proto::Problem)))]
pub(crate) async fn accept_invitation(
    State(api): State<Shared>,
    Body(req): Body<AcceptInvitationRequest>,
) -> Result<Response, ApiError> {
    let api2 = api.clone();
    let session = run(api, move |api| accept_invitation_as(api, &req)).await?;
    Ok(api2.with_cookie(session))
}

/// Accepts an invitation (creating the account if the email has none, else checking its
/// password) and opens a session: the API's `POST /invitations/accept` and the page's form.
pub(crate) fn accept_invitation_as(
    api: &Api,
    req: &AcceptInvitationRequest,
) -> Result<SessionResponse, ApiError> {
    let now = api.now();
    let hash = secret_hash(req.code.trim());
    // Find the invitation's email without using it up: the account check comes first.
    let code_err = || ApiError::new(Code::NotFound, "no invitation has this code");
    let invited = api
        .store
        .invitation_by_code(&hash)
        .map_err(|e| ApiError::store(e, "invitation", Code::Internal))?
        .ok_or_else(code_err)?;
    let existing = api
        .store
        .user_by_email(&invited.email)
        .map_err(|e| ApiError::store(e, "account", Code::Internal))?;
    let user = match existing {
        Some(u) => {
            // The account's password, under the same throttle as sign-in.
            api.check_password(&invited.email, Some(&u), &req.password)?;
            api.store
                .accept_invitation(&hash, None, now)
                .map_err(|e| ApiError::store(e, "invitation", Code::InvitationClosed))?;
            u
        }
        None => {
            let name = req.name.as_deref().ok_or_else(|| {
                ApiError::new(
                    Code::InvalidField,
                    "name: give your name to create the account",
                )
            })?;
            let u = new_user(&invited.email, name, &req.password, now)?;
            api.store
                .accept_invitation(&hash, Some(&u), now)
                .map_err(|e| ApiError::store(e, "invitation", Code::InvitationClosed))?;
            u
        }
    };
    api.open_session(&user)
}

/// The role given must exist in the organisation's kind.
pub(crate) fn check_role_in(kind: OrgKind, role: &str) -> Result<Role, ApiError> {
    let role: Role = role.parse().map_err(|e: doorman_core::UnknownName| {
        ApiError::new(Code::InvalidField, format!("role: {e}"))
    })?;
    if !role.exists_in(kind) {
        let roles: Vec<&str> = kind.roles().iter().map(|r| r.as_str()).collect();
        return Err(ApiError::new(
            Code::InvalidField,
            format!(
                "role: a {kind} organisation has no {role}s; its roles are {}",
                roles.join(", ")
            ),
        ));
    }
    Ok(role)
}

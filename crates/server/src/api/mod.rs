//! The control plane's JSON API under `/api/v1` (issue 4): accounts and sessions, API
//! tokens, organisations, properties with their keys, doors and units, installation requests
//! with owner consent, carrier authorizations and passes, the owner's switch, revocation
//! lists and the property's private access log. The endpoint reference is the OpenAPI 3.1
//! document at `/api/v1/openapi.json` (generated from this code) and docs/api.md.
//!
//! # How a request is handled
//!
//! 1. The request-id middleware names the request (`x-request-id`, echoed in errors).
//! 2. Extractors read only what needs no store: the bearer token or session cookie
//!    ([`Credentials`]), path parameters, and the JSON body ([`Body`]: `application/json`,
//!    at most 1 MiB, unknown members refused).
//! 3. The handler's body runs on the blocking pool ([`run`]): it authenticates the caller
//!    (`Api::authenticate`), asks the one policy (`doorman_core::authorize`) with the
//!    thing's scope, validates the input, and calls the store, whose methods are each one
//!    transaction.
//! 4. Changes that publish log entries wait (briefly) for the outbox publisher, so the
//!    response can carry the entry's index in the public log.
//!
//! Someone who may not know a thing exists gets exactly the `404 not_found` a missing thing
//! gets; a 403 only ever goes to someone who can see the thing.

mod auth;
pub(crate) mod authorizations;
pub(crate) mod doors;
pub(crate) mod error;
mod extract;
mod installations;
pub mod openapi;
mod orgs;
mod pages;
mod properties;
pub(crate) mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use doorman_store::{AccessLogs, Clock, LogStore, Store};
use doorman_trust::Kek;
use jiff::Timestamp;
use serde::Serialize;

pub(crate) use auth::new_secret;
pub use auth::{hash_password, verify_password};
pub use error::ApiError;
pub(crate) use error::REQUEST_ID;
pub(crate) use pages::pages_router;
pub(crate) use properties::property_secret;

/// The id of the request being served, on the async side or on the blocking pool.
pub(crate) fn request_id_now() -> Option<String> {
    error::request_id().or_else(blocking_request_id)
}
pub use extract::{Body, Credentials, Params, SESSION_COOKIE};

use crate::publisher::Publisher;

/// What the API needs, shared by every handler.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub log: Arc<dyn LogStore>,
    pub access: Arc<AccessLogs>,
    pub kek: Arc<Kek>,
    pub clock: Clock,
    pub publisher: Arc<Publisher>,
    /// Door devices: their events, status and messaging.
    pub devices: Arc<crate::devices::Devices>,
    pub config: ApiConfig,
    /// The addresses with a password check under way (one at a time per address; one
    /// server per data dir, so this process sees every attempt).
    pub password_checks: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The API's settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Anyone may create a property, installer or carrier organisation (`POST /signup`).
    pub open_signup: bool,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// Mark the session cookie `Secure` (the server is reached over HTTPS).
    pub secure_cookies: bool,
    /// How long a change waits for its log entry to be published before answering without
    /// its index.
    pub publish_wait: Duration,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            open_signup: true,
            session_ttl: Duration::from_secs(12 * 3600),
            secure_cookies: false,
            publish_wait: Duration::from_secs(5),
        }
    }
}

impl Api {
    /// The time now, from the server's one clock.
    /// Milliseconds: what the store keeps, so a record reads back as it was answered.
    pub fn now(&self) -> Timestamp {
        let t = Timestamp::try_from((self.clock)()).unwrap_or(Timestamp::UNIX_EPOCH);
        Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
    }
}

pub(crate) type Shared = Arc<Api>;

/// Store calls and password hashing running at once on the blocking pool, at most. More
/// would only queue inside SQLite; waiting here costs a task, not a thread.
const MAX_API_CALLS: usize = 16;

static API_CALLS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_API_CALLS);

thread_local! {
    /// The request id, for log lines written from the blocking pool.
    static BLOCKING_REQUEST_ID: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

pub(crate) fn blocking_request_id() -> Option<String> {
    BLOCKING_REQUEST_ID.with(|r| r.borrow().clone())
}

/// Runs a handler's body on the blocking pool.
pub(crate) async fn run<T, F>(api: Shared, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Api) -> Result<T, ApiError> + Send + 'static,
{
    let Ok(_permit) = API_CALLS.acquire().await else {
        return Err(ApiError::internal());
    };
    let rid = error::request_id();
    match tokio::task::spawn_blocking(move || {
        BLOCKING_REQUEST_ID.with(|r| *r.borrow_mut() = rid);
        let out = f(&api);
        BLOCKING_REQUEST_ID.with(|r| *r.borrow_mut() = None);
        out
    })
    .await
    {
        Ok(result) => result,
        Err(e) => {
            error::tracing_error(&format!("a handler did not finish: {e}"));
            Err(ApiError::internal())
        }
    }
}

/// A JSON response (`200` unless wrapped in [`Created`]).
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static(crate::NO_STORE),
                    ),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => {
                error::tracing_error(&format!("encoding a response: {e}"));
                ApiError::internal().into_response()
            }
        }
    }
}

/// A `201 Created` JSON response.
#[derive(Debug)]
pub struct Created<T>(pub T);

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut r = Json(self.0).into_response();
        if r.status().is_success() {
            *r.status_mut() = axum::http::StatusCode::CREATED;
        }
        r
    }
}

/// `204 No Content`.
#[derive(Debug)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        axum::http::StatusCode::NO_CONTENT.into_response()
    }
}

/// The API router, `/api/v1/...`. Mount it at the root.
pub fn api_router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve))
        // Accounts and sessions.
        .route("/api/v1/setup", post(auth::setup))
        .route("/api/v1/signup", post(auth::signup))
        .route("/api/v1/sessions", post(auth::sign_in))
        .route("/api/v1/sessions/current", delete(auth::sign_out))
        .route("/api/v1/me", get(auth::me))
        .route("/api/v1/invitations/accept", post(auth::accept_invitation))
        // Organisations.
        .route("/api/v1/orgs", get(orgs::list).post(orgs::create))
        .route("/api/v1/orgs/{org}", get(orgs::show))
        .route("/api/v1/orgs/{org}/members", get(orgs::members))
        .route(
            "/api/v1/orgs/{org}/members/{user}",
            delete(orgs::remove_member),
        )
        .route(
            "/api/v1/orgs/{org}/invitations",
            get(orgs::invitations).post(orgs::invite),
        )
        .route(
            "/api/v1/orgs/{org}/invitations/{invitation}",
            delete(orgs::cancel_invitation),
        )
        .route(
            "/api/v1/orgs/{org}/tokens",
            get(orgs::tokens).post(orgs::create_token),
        )
        .route(
            "/api/v1/orgs/{org}/tokens/{token}",
            delete(orgs::revoke_token),
        )
        .route("/api/v1/orgs/{org}/carrier-key", put(orgs::set_carrier_key))
        .route(
            "/api/v1/orgs/{org}/drivers",
            get(orgs::drivers).post(orgs::add_driver),
        )
        .route(
            "/api/v1/orgs/{org}/drivers/{driver}",
            delete(orgs::remove_driver),
        )
        .route("/api/v1/carriers", get(orgs::carriers))
        // Properties.
        .route(
            "/api/v1/properties",
            get(properties::list).post(properties::claim),
        )
        .route("/api/v1/properties/{property}", get(properties::show))
        .route(
            "/api/v1/properties/{property}/verify",
            post(properties::verify),
        )
        .route(
            "/api/v1/properties/{property}/reject",
            post(properties::reject),
        )
        .route(
            "/api/v1/properties/{property}/doors",
            get(properties::doors).post(properties::add_door),
        )
        .route(
            "/api/v1/properties/{property}/doors/{door}",
            delete(properties::remove_door),
        )
        .route(
            "/api/v1/properties/{property}/units",
            get(properties::units).post(properties::add_unit),
        )
        .route(
            "/api/v1/properties/{property}/units/{unit}",
            delete(properties::remove_unit),
        )
        .route(
            "/api/v1/properties/{property}/residents",
            get(properties::residents).post(properties::invite_resident),
        )
        .route(
            "/api/v1/properties/{property}/residents/{user}",
            delete(properties::remove_resident),
        )
        .route(
            "/api/v1/properties/{property}/service",
            get(properties::service).post(properties::change_service),
        )
        .route(
            "/api/v1/properties/{property}/service/signed",
            get(properties::signed_service).put(properties::upload_service),
        )
        .route(
            "/api/v1/properties/{property}/revocations",
            get(properties::revocations).post(properties::revoke_id),
        )
        .route(
            "/api/v1/properties/{property}/revocations/signed",
            get(properties::signed_revocations).put(properties::upload_revocations),
        )
        .route(
            "/api/v1/properties/{property}/access-log",
            get(properties::access_log),
        )
        .route("/api/v1/properties/{property}/events", get(doors::events))
        .route("/api/v1/properties/{property}/devices", get(doors::devices))
        .route(
            "/api/v1/properties/{property}/doors/{door}/challenge",
            post(doors::challenge),
        )
        .route(
            "/api/v1/properties/{property}/doors/{door}/unlock",
            post(doors::unlock),
        )
        .route(
            "/api/v1/properties/{property}/access-log/{index}/proof",
            get(properties::access_proof),
        )
        .route(
            "/api/v1/properties/{property}/authorizations",
            get(authorizations::list_for_property).post(authorizations::authorize_carrier),
        )
        // Installations.
        .route(
            "/api/v1/installations",
            get(installations::list).post(installations::file),
        )
        .route(
            "/api/v1/installations/{installation}",
            get(installations::show),
        )
        .route(
            "/api/v1/installations/{installation}/evidence",
            post(installations::upload_evidence),
        )
        .route(
            "/api/v1/installations/{installation}/evidence/{number}",
            get(installations::evidence),
        )
        .route(
            "/api/v1/installations/{installation}/approve",
            post(installations::approve),
        )
        .route(
            "/api/v1/installations/{installation}/reject",
            post(installations::reject),
        )
        .route(
            "/api/v1/installations/{installation}/revoke",
            post(installations::revoke),
        )
        .route(
            "/api/v1/installations/{installation}/decommission",
            post(installations::decommission),
        )
        .route(
            "/api/v1/installations/{installation}/activation",
            get(installations::activation),
        )
        .route(
            "/api/v1/installations/{installation}/activation/config",
            get(installations::activation_config).put(installations::upload_activation_config),
        )
        // Authorizations and passes.
        .route("/api/v1/authorizations", get(authorizations::list))
        .route(
            "/api/v1/authorizations/{authorization}",
            get(authorizations::show),
        )
        .route(
            "/api/v1/authorizations/{authorization}/revoke",
            post(authorizations::revoke),
        )
        .route(
            "/api/v1/authorizations/{authorization}/passes",
            get(authorizations::passes).post(authorizations::mint),
        )
        .with_state(api)
}

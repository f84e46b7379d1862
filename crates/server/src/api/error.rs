//! API errors: a stable [`Code`] and a detail, answered as RFC 9457 problem details with the
//! request's id. Store and policy errors map here in one place each.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use doorman_core::Refusal;
use doorman_proto::Problem;
use doorman_proto::codes::Code;
use doorman_store::ControlError;

use crate::{NO_STORE, PROBLEM};

tokio::task_local! {
    /// The id of the request being served (set by the request-id middleware).
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, if a request is being served.
pub(crate) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// An error the API answers with.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: String,
    /// `Retry-After` seconds, for 429s.
    pub retry_after: Option<i64>,
}

impl ApiError {
    pub fn new(code: Code, detail: impl Into<String>) -> ApiError {
        ApiError {
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// The HTTP status its code answers with.
    pub fn status(&self) -> StatusCode {
        http_status(self.code)
    }

    /// Whether the caller can fix it (a 4xx): a form comes back with it to correct.
    pub fn is_fixable(&self) -> bool {
        self.status().is_client_error()
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            Code::Internal,
            "the server failed; try again later (the server's log has the details under this request id)",
        )
    }

    pub fn unauthenticated(detail: impl Into<String>) -> ApiError {
        ApiError::new(Code::Unauthenticated, detail)
    }

    /// A refusal of the policy: 404 for what the caller may not know exists, 403 otherwise.
    pub fn refused(refusal: Refusal, what: &str) -> ApiError {
        match refusal {
            Refusal::Hidden => ApiError::not_found(what),
            Refusal::Forbidden => ApiError::new(
                Code::Forbidden,
                format!("your role does not allow this on the {what}"),
            ),
            Refusal::OwnRequest => ApiError::new(
                Code::OwnRequest,
                "an installation request cannot be decided by its installer or by whoever filed it",
            ),
        }
    }

    /// A store error: `NotFound` names `what`, a conflict (the thing is not in the state the
    /// change starts from) answers `conflict` with the store's reason; anything unexpected is
    /// logged and answered without internals.
    pub fn store(e: ControlError, what: &str, conflict: Code) -> ApiError {
        match e {
            ControlError::NotFound(_) => ApiError::not_found(what),
            ControlError::Duplicate(thing) => {
                ApiError::new(Code::Duplicate, format!("{thing} already exists"))
            }
            ControlError::Conflict(why) => ApiError::new(conflict, why),
            ControlError::Limit(why) => ApiError::new(Code::LimitReached, why),
            other => {
                tracing_error(&other.to_string());
                ApiError::internal()
            }
        }
    }
}

impl ApiError {
    /// A failure of the public log's store: logged, answered as `internal`.
    pub fn log(e: doorman_store::StoreError, what: &str) -> ApiError {
        tracing_error(&format!("{what}: {e}"));
        ApiError::internal()
    }
}

/// Logs a server-side failure with the request id.
pub(crate) fn tracing_error(what: &str) {
    eprintln!(
        "doorman serve: request {}: error: {what}",
        super::request_id_now().unwrap_or_else(|| "-".to_string())
    );
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem_response(self.code, self.detail, self.retry_after)
    }
}

/// The HTTP status of a code.
fn http_status(code: Code) -> StatusCode {
    StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The problem-details response for a code.
pub(crate) fn problem_response(code: Code, detail: String, retry_after: Option<i64>) -> Response {
    let status = http_status(code);
    let body = Problem {
        kind: "about:blank".to_string(),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail,
        code: code.as_str().to_string(),
        request_id: super::request_id_now(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, PROBLEM),
            (header::CACHE_CONTROL, NO_STORE),
        ],
        json,
    )
        .into_response();
    if let Some(secs) = retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

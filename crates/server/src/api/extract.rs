//! Extractors that never answer outside problem details: credentials, path parameters, the
//! JSON body, query strings.

use std::collections::BTreeMap;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use doorman_proto::codes::Code;
use serde::de::DeserializeOwned;

use super::ApiError;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "doorman_session";

/// The largest JSON body, in bytes.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// The caller's credentials as sent: `Authorization: Bearer <token>` (a session token or an
/// API token) or the session cookie. Checked against the store in the handler.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub bearer: Option<String>,
    /// From the cookie rather than the header.
    pub from_cookie: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Credentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let text = value
                .to_str()
                .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
            let token = text
                .strip_prefix("Bearer ")
                .or_else(|| text.strip_prefix("bearer "))
                .ok_or_else(|| {
                    ApiError::unauthenticated(
                        "use `Authorization: Bearer <token>` with a session or API token",
                    )
                })?;
            return Ok(Credentials {
                bearer: Some(token.trim().to_string()),
                from_cookie: false,
            });
        }
        for value in parts.headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((name, v)) = pair.trim().split_once('=')
                    && name == SESSION_COOKIE
                {
                    return Ok(Credentials {
                        bearer: Some(v.trim().to_string()),
                        from_cookie: true,
                    });
                }
            }
        }
        Ok(Credentials::default())
    }
}

/// Path parameters, in order.
#[derive(Debug, Clone)]
pub struct Params(pub Vec<String>);

impl Params {
    /// The `i`-th parameter (the router guarantees the count; empty if not).
    pub fn get(&self, i: usize) -> &str {
        self.0.get(i).map_or("", String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| {
                ApiError::new(
                    Code::NotFound,
                    "nothing is at this path (it is not valid UTF-8 once decoded)",
                )
            })?;
        Ok(Params(
            raw.iter().map(|(_, value)| value.to_string()).collect(),
        ))
    }
}

/// A JSON body: `Content-Type: application/json`, at most [`MAX_JSON_BYTES`], decoded into
/// `T` (whose unknown members are refused).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let mime = v.split(';').next().unwrap_or_default().trim();
                mime.eq_ignore_ascii_case("application/json")
            });
        if !is_json {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let bytes = read_limited(req, MAX_JSON_BYTES).await?;
        decode(&bytes).map(Body)
    }
}

/// Reads a body of at most `limit` bytes.
pub(crate) async fn read_limited(req: Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.to_string().contains("length limit"))
                || e.to_string().contains("length limit");
            if too_large {
                Err(ApiError::new(
                    Code::BodyTooLarge,
                    format!("the body is over this endpoint's limit of {limit} bytes"),
                ))
            } else {
                Err(ApiError::new(
                    Code::InvalidJson,
                    format!("the body could not be read: {e}"),
                ))
            }
        }
    }
}

/// Decodes JSON with errors that say which member is wrong.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every body is a JSON object (serde would also take an array for a struct).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            Code::InvalidJson,
            "the body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let text = e.to_string();
        if text.starts_with("unknown field") {
            ApiError::new(Code::UnknownField, text)
        } else {
            ApiError::new(
                Code::InvalidJson,
                format!("the body is not what this endpoint takes: {text}"),
            )
        }
    })
}

/// A query string as `name -> value`, refusing unknown and repeated names.
pub(crate) fn query(
    raw: Option<&str>,
    known: &[&str],
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !known.contains(&name.as_ref()) {
            return Err(ApiError::new(
                Code::BadQuery,
                format!(
                    "unknown query parameter {name:?}; this endpoint takes: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        if out.insert(name.to_string(), value.to_string()).is_some() {
            return Err(ApiError::new(
                Code::BadQuery,
                format!("{name} is given twice"),
            ));
        }
    }
    Ok(out)
}

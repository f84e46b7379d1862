//! Doorman's HTTP server (issue 3, item 5): the public log's read endpoints as an axum
//! router, [`log_router`], which `doorman serve` mounts.
//!
//! # Endpoints
//!
//! The log's URL prefix (as C2SP tlog-tiles calls it) is `/log`:
//!
//! | Path | Body | `Content-Type` | `Cache-Control` |
//! | --- | --- | --- | --- |
//! | `GET /log/checkpoint` | the latest signed checkpoint note, byte for byte | `text/plain; charset=utf-8` | `no-store` |
//! | `GET /log/tile/<L>/<N>[.p/<W>]` | a hash tile (C2SP tlog-tiles) | `application/octet-stream` | full: `public, max-age=31536000, immutable`; partial: `public, max-age=60` |
//! | `GET /log/tile/entries/<N>[.p/<W>]` | an entry bundle | `application/octet-stream` | as hash tiles |
//! | `GET /log/key` | the signed-note verifier key string and a newline | `text/plain; charset=utf-8` | `public, max-age=86400` |
//! | `GET /log/v1/proof/<index>` | a `c2sp.org/tlog-proof@v1` bundle for entry `<index>` under the latest checkpoint | `text/plain; charset=utf-8` | `no-store` |
//! | `GET /log/v1/consistency?from=<size>&to=<size>` | JSON, below | `application/json` | `public, max-age=86400` |
//! | `GET /healthz` | `ok` | `text/plain; charset=utf-8` | `no-store` |
//!
//! Tile paths are parsed with [`TileCoord::parse`]: only the canonical form is served (no
//! leading zeros, no percent-encoding, `x`-prefixed 3-digit groups). Only what the latest
//! checkpoint covers is served; a tile, bundle, entry or tree size beyond it is `404
//! not_covered` (a client asks again after the next checkpoint). A partial tile of any width
//! up to the covered one is served, as tlog-tiles allows.
//!
//! The consistency proof between the trees of `from` and `to` entries (`1 <= from <= to <=`
//! the latest checkpoint's size; RFC 6962 section 2.1.2, verified with
//! `doorman_tlog::verify_consistency`):
//!
//! ```json
//! {"from": 10, "to": 20, "proof": ["<standard padded base64 of a 32-byte hash>", "..."]}
//! ```
//!
//! `from == to` gives an empty proof. A proof for two fixed sizes never changes, hence the
//! day-long cache.
//!
//! # Errors
//!
//! Every error is an RFC 9457 problem details object, `application/problem+json`,
//! `Cache-Control: no-store`:
//!
//! ```json
//! {"type": "about:blank", "title": "Not Found", "status": 404,
//!  "detail": "tile/0/001 (entries up to 512) is not covered ...", "code": "not_covered"}
//! ```
//!
//! `code` is stable (clients branch on it); `detail` is for people and may change. Codes:
//!
//! | `code` | status | when |
//! | --- | --- | --- |
//! | `not_found` | 404 | no such endpoint |
//! | `method_not_allowed` | 405 | not a `GET` (or `HEAD`) |
//! | `no_checkpoint` | 404 | the log has no checkpoint yet (nothing integrated) |
//! | `bad_tile_path` | 400 | not a canonical tlog-tiles path, or a tile no tree has |
//! | `not_covered` | 404 | beyond the latest checkpoint |
//! | `bad_index` | 400 | the proof index is not a decimal without sign or leading zeros |
//! | `bad_range` | 400 | `from`/`to` missing, not decimal, `from` 0, or `from > to` |
//! | `internal` | 500 | the store failed; the detail says nothing more (the server logs it) |
//!
//! Store calls are synchronous and run on tokio's blocking pool (`spawn_blocking`), at most
//! eight at once (more would only wait inside the store, each holding a thread); a handler
//! never panics. Full hash tiles and full entry bundles never change once covered, so the
//! router keeps the ones it served in memory (64 MiB at most, in two generations: a tile not
//! asked for again while about 32 MiB of others came in is dropped) and serves them again
//! without the store.

pub mod api;
mod app;
pub mod devices;
mod observe;
mod public;
mod publisher;
mod state_docs;

pub use app::{
    LOG_KEY_FILE, MASTER_KEY_FILE, Running, ServerConfig, StartError, StartInfo,
    load_or_create_log_key, load_or_create_master_key, start,
};
pub use observe::Metrics;
pub use publisher::Publisher;

pub use public::{
    DEFAULT_LIMIT, EntryView, InstallationsResponse, MAX_LIMIT, PropertyView, public_router,
};

mod tile_cache;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use doorman_store::{LogStore, StoreError, StoredCheckpoint};
use doorman_tlog::{TileCoord, TileKind, TlogProof};
use serde::{Deserialize, Serialize};
use tile_cache::{DEFAULT_TILE_CACHE_BYTES, TileCache};

/// `Content-Type` of text bodies.
pub const TEXT: &str = "text/plain; charset=utf-8";
/// `Content-Type` of tiles and bundles.
pub const OCTETS: &str = "application/octet-stream";
/// `Content-Type` of errors.
pub const PROBLEM: &str = "application/problem+json";
/// `Cache-Control` of full tiles and bundles: they never change.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of partial tiles and bundles: they never change either, but a log may stop
/// serving them once the full tile exists, so caches keep them briefly.
pub const CACHE_PARTIAL: &str = "public, max-age=60";
/// `Cache-Control` of what changes with every checkpoint.
pub const NO_STORE: &str = "no-store";

/// The body of `GET /log/v1/consistency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyResponse {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size.
    pub to: u64,
    /// The proof hashes, standard padded base64.
    pub proof: Vec<String>,
}

/// An RFC 9457 problem details body, as served (the log's endpoints and the API share it).
pub use doorman_proto::Problem as ProblemDetails;

/// An error response: status, stable code, detail.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl Problem {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// The stable code.
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// What was wrong, for people.
    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }

    pub(crate) fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server could not read the log; try again later",
        )
    }

    /// A store error as a problem: `not_covered` is the client's; anything else is logged here
    /// and reported without internals.
    pub(crate) fn from_store(e: StoreError) -> Problem {
        match e {
            StoreError::NotCovered { .. } => {
                Problem::new(StatusCode::NOT_FOUND, "not_covered", e.to_string())
            }
            other => {
                eprintln!("doorman-server: store error: {other}");
                Problem::internal()
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemDetails {
            kind: "about:blank".to_string(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_string(),
            request_id: api::request_id_now(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        (
            self.status,
            [
                (header::CONTENT_TYPE, PROBLEM),
                (header::CACHE_CONTROL, NO_STORE),
            ],
            json,
        )
            .into_response()
    }
}

#[derive(Debug, Clone)]
struct AppState {
    store: Arc<dyn LogStore>,
    key: Arc<str>,
    /// Full tiles and bundles already served (see `tile_cache`).
    tiles: Arc<TileCache>,
}

/// The public log's router: the endpoints in the [crate docs](crate), with `/log` as the log's
/// prefix, plus `/healthz`. Mount it at the root. `verifier_key` is the signed-note verifier
/// key string of the log's key (`<name>+<key id>+<base64>`), served at `/log/key`.
pub fn log_router(store: Arc<dyn LogStore>, verifier_key: String) -> Router {
    let state = AppState {
        store,
        key: Arc::from(verifier_key.trim()),
        tiles: Arc::new(TileCache::new(DEFAULT_TILE_CACHE_BYTES)),
    };
    Router::new()
        .route("/healthz", get(healthz))
        .route("/log/checkpoint", get(checkpoint))
        .route("/log/key", get(key))
        .route("/log/tile/{*path}", get(tile))
        .route("/log/v1/proof/{index}", get(proof))
        .route("/log/v1/consistency", get(consistency))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Everything `doorman serve` answers on one listener: the control-plane API, the public
/// log, the address lookup, `/metrics` and `/readyz` (and `/healthz`), behind the request-id
/// and metrics middleware.
pub fn app_router(
    api: Arc<api::Api>,
    log: Arc<dyn LogStore>,
    index: Arc<doorman_store::PublicIndex>,
    verifier_key: String,
    metrics: Arc<Metrics>,
) -> Router {
    let ops = Router::new()
        .route("/metrics", get(observe::metrics))
        .route("/readyz", get(observe::readyz))
        .with_state((Arc::clone(&metrics), Arc::clone(&api)));
    log_router(Arc::clone(&log), verifier_key.clone())
        .merge(web::pages_router(
            Arc::clone(&api.store),
            Arc::clone(&log),
            Arc::clone(&index),
            verifier_key,
        ))
        .merge(public_router(log, index))
        .merge(api::pages_router(Arc::clone(&api)))
        .merge(api::api_router(api))
        .merge(ops)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            observe::middleware,
        ))
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests under
/// way and returns.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "the log is read with GET",
    )
}

/// Store calls running at once, at most: more would only queue inside the store (its reader
/// pool) while each holds a blocking-pool thread; waiting here costs a task, not a thread.
const MAX_STORE_CALLS: usize = 8;

static STORE_CALLS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_STORE_CALLS);

/// Runs a store call on the blocking pool, at most [`MAX_STORE_CALLS`] at once.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Problem>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, Problem> + Send + 'static,
{
    let Ok(_permit) = STORE_CALLS.acquire().await else {
        // Only a closed semaphore refuses, and this one is never closed.
        return Err(Problem::internal());
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => {
            eprintln!("doorman-server: a store call did not finish: {e}");
            Err(Problem::internal())
        }
    }
}

pub(crate) fn body(content_type: &'static str, cache: &'static str, data: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        data,
    )
        .into_response()
}

pub(crate) fn latest(store: &dyn LogStore) -> Result<StoredCheckpoint, Problem> {
    store
        .latest_checkpoint()
        .map_err(Problem::from_store)?
        .ok_or_else(|| {
            Problem::new(
                StatusCode::NOT_FOUND,
                "no_checkpoint",
                "the log has no checkpoint yet: nothing has been integrated",
            )
        })
}

async fn healthz() -> Response {
    body(TEXT, NO_STORE, b"ok\n".to_vec())
}

async fn key(State(state): State<AppState>) -> Response {
    body(
        TEXT,
        "public, max-age=86400",
        format!("{}\n", state.key).into_bytes(),
    )
}

async fn checkpoint(State(state): State<AppState>) -> Result<Response, Problem> {
    let cp = blocking(move || latest(state.store.as_ref())).await?;
    Ok(body(TEXT, NO_STORE, cp.note))
}

async fn tile(State(state): State<AppState>, uri: Uri) -> Result<Response, Problem> {
    // The raw path, not a decoded parameter: only the canonical form is a tile path.
    let path = uri.path().strip_prefix("/log/").unwrap_or_default();
    let coord = TileCoord::parse(path)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad_tile_path", e.to_string()))?;
    if !coord.is_full() {
        let data = blocking(move || read_tile(state.store.as_ref(), &coord)).await?;
        return Ok(body(OCTETS, CACHE_PARTIAL, data));
    }
    // A full tile never changes once covered: serve it from memory when it was read before.
    let data = match state.tiles.get(&coord) {
        Some(data) => data,
        None => {
            let store = Arc::clone(&state.store);
            let data = Bytes::from(blocking(move || read_tile(store.as_ref(), &coord)).await?);
            state.tiles.insert(coord, data.clone());
            data
        }
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(OCTETS)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static(CACHE_IMMUTABLE),
            ),
        ],
        data,
    )
        .into_response())
}

/// A hash tile or an entry bundle from the store (only what the latest checkpoint covers).
fn read_tile(store: &dyn LogStore, coord: &TileCoord) -> Result<Vec<u8>, Problem> {
    match coord.kind() {
        TileKind::Entries => store.entry_bundle(coord),
        TileKind::Hashes { .. } => store.hash_tile(coord),
    }
    .map_err(Problem::from_store)
}

/// A decimal of ASCII digits without sign or leading zeros.
pub(crate) fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty()
        || s.len() > 20
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

async fn proof(
    State(state): State<AppState>,
    axum::extract::Path(index): axum::extract::Path<String>,
) -> Result<Response, Problem> {
    let index = parse_u64(&index).ok_or_else(|| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_index",
            "the entry index must be a decimal 0 to 2^64-1 without sign or leading zeros",
        )
    })?;
    let bundle = blocking(move || {
        let store = state.store.as_ref();
        let cp = latest(store)?;
        if index >= cp.size {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "not_covered",
                format!(
                    "entry {index} is not covered by the latest checkpoint (tree size {})",
                    cp.size
                ),
            ));
        }
        proof_bundle(store, index, &cp)
    })
    .await?;
    Ok(body(TEXT, NO_STORE, bundle))
}

/// The `c2sp.org/tlog-proof@v1` bundle of entry `index` (below `cp.size`) under `cp`.
pub(crate) fn proof_bundle(
    store: &dyn LogStore,
    index: u64,
    cp: &StoredCheckpoint,
) -> Result<Vec<u8>, Problem> {
    let hashes = store
        .inclusion_proof(index, cp.size)
        .map_err(Problem::from_store)?;
    TlogProof::new(index, hashes, cp.note.clone(), None)
        .map(|p| p.to_bytes())
        .map_err(|e| Problem::from_store(e.into()))
}

fn bad_range(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad_range", detail)
}

/// `from=<size>&to=<size>`, each exactly once, nothing else.
fn parse_range(query: Option<&str>) -> Result<(u64, u64), Problem> {
    let mut from = None;
    let mut to = None;
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "from" => &mut from,
            "to" => &mut to,
            _ => {
                return Err(bad_range(
                    "unknown query parameter; the only ones are from and to",
                ));
            }
        };
        if slot.is_some() {
            return Err(bad_range(format!("{name} is given twice")));
        }
        *slot = Some(parse_u64(value).ok_or_else(|| {
            bad_range(format!(
                "{name} must be a tree size: a decimal without sign or leading zeros"
            ))
        })?);
    }
    let (Some(from), Some(to)) = (from, to) else {
        return Err(bad_range("give both tree sizes: ?from=<size>&to=<size>"));
    };
    if from == 0 {
        return Err(bad_range(
            "from is 0: consistency from the empty tree proves nothing; start from size 1 or more",
        ));
    }
    if from > to {
        return Err(bad_range(format!(
            "from {from} is after to {to}: a log never shrinks"
        )));
    }
    Ok((from, to))
}

async fn consistency(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let (from, to) = parse_range(query.as_deref())?;
    let hashes = blocking(move || {
        state
            .store
            .consistency_proof(from, to)
            .map_err(Problem::from_store)
    })
    .await?;
    let response = ConsistencyResponse {
        from,
        to,
        proof: hashes.iter().map(|h| h.to_base64()).collect(),
    };
    let json = serde_json::to_vec(&response).map_err(|e| {
        eprintln!("doorman-server: encoding a consistency proof: {e}");
        Problem::internal()
    })?;
    Ok(body("application/json", "public, max-age=86400", json))
}

//! `GET /public/v1/installations?address=<text>`: everything the public log says about one
//! building, each entry with its inclusion proof, for residents, journalists and auditors.
//!
//! Query parameters (`application/x-www-form-urlencoded`, so `+` or `%20` for spaces):
//!
//! | name | | |
//! | --- | --- | --- |
//! | `address` | required | the building's address in any spelling; normalised with `doorman_entries::normalize_address` |
//! | `after` | optional | a cursor: only entries with a larger index (the previous page's `next_after`) |
//! | `limit` | optional | 1 to 1000 entries per page, default 100 |
//!
//! Response (`application/json`, `Cache-Control: no-store`):
//!
//! ```json
//! {"address": "12 rue de l'eglise, paris", "address_key": "12 rue de l eglise paris",
//!  "tree_size": 120, "checkpoint": "<the signed checkpoint note all proofs are under>",
//!  "properties": [{"property": "p1", "address": "12, Rue de l'Église, Paris", "registered_at": 3}],
//!  "entries": [{"index": 3, "entry": {"type": "property_registered", "v": 1, "...": "..."},
//!               "proof": "c2sp.org/tlog-proof@v1\n...", "warnings": []}],
//!  "next_after": null}
//! ```
//!
//! - `entry` is the logged entry (its canonical bytes, as JSON); `proof` is a complete
//!   `c2sp.org/tlog-proof@v1` bundle for it (index, inclusion proof, checkpoint), verifiable
//!   alone with the log's key: nothing in the response has to be trusted.
//! - `warnings` is what a monitor reading the log in order flags (`doorman_entries::Directory`,
//!   computed once when the entry is indexed): a consent or authorization whose token does not
//!   verify under the property key registered before it, or says something other than the
//!   entry; an entry before its property's registration; a re-registration under another key.
//! - An address with no registered property gives `200` with empty `properties` and
//!   `entries`; that is the server's word, not a proof of absence (a monitor that reads the
//!   whole log can prove absence).
//! - Errors are problem details: `bad_query` (unknown or repeated parameter, bad `after` or
//!   `limit`), `bad_address` (missing, empty or over 256 bytes), `no_checkpoint`, `internal`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use doorman_entries::normalize_address;
use doorman_store::{LogStore, PublicIndex};
use serde::{Deserialize, Serialize};

use crate::{NO_STORE, Problem, blocking, body, latest, parse_u64, proof_bundle};

/// Most entries per page.
pub const MAX_LIMIT: usize = 1000;
/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;

/// The body of `GET /public/v1/installations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallationsResponse {
    /// The address as asked.
    pub address: String,
    /// Its normalised form, what was looked up.
    pub address_key: String,
    /// The tree size of the checkpoint every proof is under.
    pub tree_size: u64,
    /// That checkpoint, the signed note.
    pub checkpoint: String,
    /// Properties registered at the address.
    pub properties: Vec<PropertyView>,
    /// Entries about them, ascending by index.
    pub entries: Vec<EntryView>,
    /// The `after` cursor of the next page, if there is one.
    pub next_after: Option<u64>,
}

/// A property registered at the address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyView {
    pub property: String,
    /// The address as registered.
    pub address: String,
    /// Index of its latest `property_registered` entry.
    pub registered_at: u64,
}

/// One entry with its proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryView {
    pub index: u64,
    /// The entry, as logged.
    pub entry: serde_json::Value,
    /// A `c2sp.org/tlog-proof@v1` bundle for it.
    pub proof: String,
    /// What a monitor would flag about it.
    pub warnings: Vec<String>,
    /// The entry's bytes as logged (for the pages; not in the JSON).
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
struct PublicState {
    store: Arc<dyn LogStore>,
    index: Arc<PublicIndex>,
}

/// The router of the public, read-only directory endpoints (mount it beside
/// [`log_router`](crate::log_router)). It only reads `index`: whoever integrates the log
/// catches the index up after each checkpoint (`doorman serve` does it on its own thread), so
/// an answer may trail the newest checkpoint by one catch-up; every proof in it is under the
/// latest checkpoint, which covers everything indexed.
pub fn public_router(store: Arc<dyn LogStore>, index: Arc<PublicIndex>) -> Router {
    Router::new()
        .route("/public/v1/installations", get(installations))
        .with_state(PublicState { store, index })
}

struct Query {
    address: String,
    after: Option<u64>,
    limit: usize,
}

fn bad_query(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "bad_query", detail)
}

fn parse_query(raw: Option<&str>) -> Result<Query, Problem> {
    let (mut address, mut after, mut limit) = (None, None, None);
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let repeated = match name.as_ref() {
            "address" => address.replace(value.into_owned()).is_some(),
            "after" => after
                .replace(parse_u64(&value).ok_or_else(|| {
                    bad_query("after must be an entry index (a decimal without sign)")
                })?)
                .is_some(),
            "limit" => limit
                .replace(
                    parse_u64(&value)
                        .and_then(|n| usize::try_from(n).ok())
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| bad_query(format!("limit must be 1 to {MAX_LIMIT}")))?,
                )
                .is_some(),
            other => {
                return Err(bad_query(format!(
                    "unknown parameter {other:?}; the parameters are address, after and limit"
                )));
            }
        };
        if repeated {
            return Err(bad_query(format!("{name} is given twice")));
        }
    }
    let address = address.ok_or_else(|| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_address",
            "give the building's address: ?address=<text>",
        )
    })?;
    Ok(Query {
        address,
        after,
        limit: limit.unwrap_or(DEFAULT_LIMIT),
    })
}

/// Everything the public log says about the building at `address`, each entry with its
/// proof under the latest checkpoint (the JSON endpoint and the public page both show it).
pub(crate) async fn lookup(
    store: Arc<dyn LogStore>,
    index: Arc<PublicIndex>,
    address: String,
    after: Option<u64>,
    limit: usize,
) -> Result<InstallationsResponse, Problem> {
    let address_key = normalize_address(&address)
        .map_err(|e| Problem::new(StatusCode::BAD_REQUEST, "bad_address", e.to_string()))?;
    blocking(move || {
        let store = store.as_ref();
        let cp = latest(store)?;
        let found = index
            .lookup(&address_key, after, limit)
            .map_err(Problem::from_store)?;
        let mut entries = Vec::with_capacity(found.entries.len());
        for found in &found.entries {
            let bytes = store
                .entries(found.index, found.index + 1)
                .map_err(Problem::from_store)?
                .into_iter()
                .next()
                .unwrap_or_default();
            entries.push(EntryView {
                index: found.index,
                // Indexed entries parsed as canonical JSON when they were indexed.
                entry: serde_json::from_slice(&bytes).unwrap_or_default(),
                proof: String::from_utf8_lossy(&proof_bundle(store, found.index, &cp)?)
                    .into_owned(),
                warnings: found.warnings.clone(),
                bytes,
            });
        }
        Ok(InstallationsResponse {
            address,
            address_key: found.address_key,
            tree_size: cp.size,
            checkpoint: String::from_utf8_lossy(&cp.note).into_owned(),
            properties: found
                .properties
                .into_iter()
                .map(|p| PropertyView {
                    property: p.property,
                    address: p.address,
                    registered_at: p.registered_at,
                })
                .collect(),
            next_after: if found.more {
                found.entries.last().map(|e| e.index)
            } else {
                None
            },
            entries,
        })
    })
    .await
}

async fn installations(
    State(state): State<PublicState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, Problem> {
    let query = parse_query(raw.as_deref())?;
    let response = lookup(
        state.store,
        state.index,
        query.address,
        query.after,
        query.limit,
    )
    .await?;
    let json = serde_json::to_vec(&response).map_err(|e| {
        eprintln!("doorman-server: encoding an installations response: {e}");
        Problem::internal()
    })?;
    Ok(body("application/json", NO_STORE, json))
}

//! The log router over real HTTP on loopback, on a SQLite store in a temp dir: everything it
//! serves verifies with doorman_tlog, and bad requests get problem details with stable codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use doorman_server::{ConsistencyResponse, ProblemDetails, log_router};
use doorman_store::{LogStore, SqliteLogStore, StoredCheckpoint};
use doorman_tlog::{
    Checkpoint, Hash, NoteSigner, NoteVerifier, TileCoord, TlogProof, entries_match_tile,
    parse_entry_bundle, parse_hash_tile, root_from_tiles, verify_consistency,
};

const ORIGIN: &str = "example.test/log";

/// A server on 127.0.0.1:0 in a background runtime; dropped with the process.
fn start(store: Arc<dyn LogStore>, key: String) -> SocketAddr {
    common::serve_on_loopback(log_router(store, key))
}

struct Got {
    status: u16,
    content_type: String,
    cache: String,
    body: Vec<u8>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn get(addr: SocketAddr, path: &str) -> Got {
    let mut resp = agent().get(format!("http://{addr}{path}")).call().unwrap();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let content_type = header("content-type");
    let cache = header("cache-control");
    Got {
        status: resp.status().as_u16(),
        content_type,
        cache,
        body: resp.body_mut().read_to_vec().unwrap(),
    }
}

fn ok(addr: SocketAddr, path: &str) -> Got {
    let got = get(addr, path);
    assert_eq!(
        got.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&got.body)
    );
    got
}

fn problem(addr: SocketAddr, path: &str, status: u16, code: &str) -> ProblemDetails {
    let got = get(addr, path);
    assert_eq!(got.status, status, "{path}");
    assert_eq!(got.content_type, "application/problem+json", "{path}");
    assert_eq!(got.cache, "no-store", "{path}");
    let p: ProblemDetails = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(p.code, code, "{path}: {p:?}");
    assert_eq!(p.status, status);
    assert_eq!(p.kind, "about:blank");
    assert!(!p.title.is_empty() && !p.detail.is_empty());
    p
}

fn entry(i: u64) -> Vec<u8> {
    format!("{{\"type\":\"test\",\"n\":{i}}}").into_bytes()
}

struct Log {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    verifier: NoteVerifier,
    first: StoredCheckpoint,
    latest: StoredCheckpoint,
}

/// 300 entries in a first checkpoint, 300 more in a second: two full tiles and a partial one
/// at level 0, a partial one at level 1.
fn log() -> Log {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLogStore::open(dir.path()).unwrap());
    let signer = NoteSigner::from_seed(ORIGIN, &[7; 32]).unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let batch = |range: std::ops::Range<u64>| range.map(entry).collect::<Vec<_>>();
    store.append(&batch(0..300)).unwrap();
    let first = store.integrate(&signer, ORIGIN, now).unwrap().unwrap();
    store.append(&batch(300..600)).unwrap();
    let latest = store.integrate(&signer, ORIGIN, now).unwrap().unwrap();
    assert_eq!((first.size, latest.size), (300, 600));
    let verifier = signer.verifier();
    let addr = start(store, verifier.to_string());
    Log {
        _dir: dir,
        addr,
        verifier,
        first,
        latest,
    }
}

#[test]
fn checkpoint_key_and_health() {
    let log = log();
    let got = ok(log.addr, "/log/checkpoint");
    assert_eq!(got.content_type, "text/plain; charset=utf-8");
    assert_eq!(got.cache, "no-store");
    assert_eq!(got.body, log.latest.note);
    let cp = Checkpoint::open(&got.body, ORIGIN, &log.verifier).unwrap();
    assert_eq!((cp.size(), *cp.root()), (600, log.latest.root));

    let got = ok(log.addr, "/log/key");
    assert_eq!(got.content_type, "text/plain; charset=utf-8");
    let text = String::from_utf8(got.body).unwrap();
    assert_eq!(text, format!("{}\n", log.verifier));
    assert_eq!(NoteVerifier::parse(text.trim_end()).unwrap(), log.verifier);

    let got = ok(log.addr, "/healthz");
    assert_eq!(got.body, b"ok\n");
}

#[test]
fn tiles_recompute_the_checkpoint_root_and_bundles_match_them() {
    let log = log();
    let mut paths = Vec::new();
    let root = root_from_tiles(600, |tile| {
        paths.push(tile.path());
        let got = ok(log.addr, &format!("/log/{}", tile.path()));
        assert_eq!(got.content_type, "application/octet-stream");
        let want = if tile.is_full() {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=60"
        };
        assert_eq!(got.cache, want, "{tile}");
        Some(got.body)
    })
    .unwrap();
    assert_eq!(root, log.latest.root);
    assert!(paths.contains(&"tile/0/002.p/88".to_string()), "{paths:?}");
    assert!(paths.contains(&"tile/1/000.p/2".to_string()), "{paths:?}");

    // The old tree's tiles are served too (partial widths below the covered one).
    let old =
        root_from_tiles(300, |tile| Some(ok(log.addr, &format!("/log/{tile}")).body)).unwrap();
    assert_eq!(old, log.first.root);

    // Every entry bundle holds the entries appended, hashing to its level-0 tile.
    let mut next = 0;
    for (n, width) in [(0, 256), (1, 256), (2, 88)] {
        let bundle = TileCoord::entries(n, width).unwrap();
        let tile = TileCoord::hashes(0, n, width).unwrap();
        let got = ok(log.addr, &format!("/log/{bundle}"));
        assert_eq!(got.content_type, "application/octet-stream");
        let entries = parse_entry_bundle(&bundle, &got.body).unwrap();
        let hashes = parse_hash_tile(&tile, &ok(log.addr, &format!("/log/{tile}")).body).unwrap();
        entries_match_tile(&entries, &hashes).unwrap();
        for e in entries {
            assert_eq!(e, entry(next).as_slice());
            next += 1;
        }
    }
    assert_eq!(next, 600);
    assert_eq!(
        ok(log.addr, "/log/tile/entries/000").cache,
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        ok(log.addr, "/log/tile/entries/002.p/88").cache,
        "public, max-age=60"
    );
}

#[test]
fn proof_bundles_verify() {
    let log = log();
    for index in [0u64, 1, 255, 256, 299, 300, 511, 599] {
        let got = ok(log.addr, &format!("/log/v1/proof/{index}"));
        assert_eq!(got.content_type, "text/plain; charset=utf-8");
        assert_eq!(got.cache, "no-store");
        let bundle = TlogProof::parse(&got.body).unwrap();
        assert_eq!(bundle.index(), index);
        let cp = bundle
            .verify_entry(&entry(index), ORIGIN, &log.verifier)
            .unwrap();
        assert_eq!(cp.size(), 600);
        assert!(
            bundle
                .verify_entry(&entry(index + 1), ORIGIN, &log.verifier)
                .is_err()
        );
    }
}

fn consistency(addr: SocketAddr, from: u64, to: u64) -> Vec<Hash> {
    let got = ok(addr, &format!("/log/v1/consistency?from={from}&to={to}"));
    assert_eq!(got.content_type, "application/json");
    let body: ConsistencyResponse = serde_json::from_slice(&got.body).unwrap();
    assert_eq!((body.from, body.to), (from, to));
    body.proof
        .iter()
        .map(|h| Hash::from_base64(h).unwrap())
        .collect()
}

#[test]
fn consistency_proofs_verify() {
    let log = log();
    let proof = consistency(log.addr, 300, 600);
    assert!(!proof.is_empty());
    verify_consistency(300, 600, &proof, &log.first.root, &log.latest.root).unwrap();
    assert!(verify_consistency(300, 600, &proof, &log.latest.root, &log.latest.root).is_err());
    let same = consistency(log.addr, 600, 600);
    assert!(same.is_empty());
    verify_consistency(600, 600, &same, &log.latest.root, &log.latest.root).unwrap();
    // Order of parameters does not matter.
    let got = ok(log.addr, "/log/v1/consistency?to=600&from=300");
    let body: ConsistencyResponse = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body.proof.len(), proof.len());
}

#[test]
fn bad_requests_get_problem_details_with_stable_codes() {
    let log = log();
    let a = log.addr;
    // Tiles beyond the checkpoint, and paths that are not canonical tile paths.
    problem(a, "/log/tile/0/003", 404, "not_covered");
    problem(a, "/log/tile/0/002.p/89", 404, "not_covered");
    problem(a, "/log/tile/0/002", 404, "not_covered");
    problem(a, "/log/tile/entries/003", 404, "not_covered");
    problem(a, "/log/tile/1/000", 404, "not_covered");
    problem(a, "/log/tile/0/3", 400, "bad_tile_path");
    problem(a, "/log/tile/00/000", 400, "bad_tile_path");
    problem(a, "/log/tile/0/x000/001", 400, "bad_tile_path");
    problem(a, "/log/tile/0/000.p/0", 400, "bad_tile_path");
    problem(a, "/log/tile/0/000.p/256", 400, "bad_tile_path");
    problem(a, "/log/tile/64/000", 400, "bad_tile_path");
    problem(a, "/log/tile/7/x999/999", 400, "bad_tile_path");
    problem(a, "/log/tile/0/%30%30%30", 400, "bad_tile_path");
    problem(a, "/log/tile/", 404, "not_found");
    problem(
        a,
        "/log/tile/0/x018/446/744/073/709/551/615",
        400,
        "bad_tile_path",
    );
    // Proofs.
    problem(a, "/log/v1/proof/600", 404, "not_covered");
    problem(a, "/log/v1/proof/18446744073709551615", 404, "not_covered");
    problem(a, "/log/v1/proof/18446744073709551616", 400, "bad_index");
    problem(a, "/log/v1/proof/01", 400, "bad_index");
    problem(a, "/log/v1/proof/-1", 400, "bad_index");
    problem(a, "/log/v1/proof/1e3", 400, "bad_index");
    // Consistency.
    problem(a, "/log/v1/consistency", 400, "bad_range");
    problem(a, "/log/v1/consistency?from=1", 400, "bad_range");
    problem(a, "/log/v1/consistency?from=0&to=5", 400, "bad_range");
    problem(a, "/log/v1/consistency?from=5&to=3", 400, "bad_range");
    problem(a, "/log/v1/consistency?from=-1&to=3", 400, "bad_range");
    problem(
        a,
        "/log/v1/consistency?from=1&to=3&from=2",
        400,
        "bad_range",
    );
    problem(a, "/log/v1/consistency?from=1&to=3&x=1", 400, "bad_range");
    problem(a, "/log/v1/consistency?from=1&to=601", 404, "not_covered");
    problem(
        a,
        "/log/v1/consistency?from=1&to=18446744073709551615",
        404,
        "not_covered",
    );
    // Everything else.
    problem(a, "/", 404, "not_found");
    problem(a, "/log", 404, "not_found");
    problem(a, "/log/checkpoint/", 404, "not_found");
    problem(a, "/log/v1/proof/", 404, "not_found");
    let resp = agent()
        .post(format!("http://{a}/log/checkpoint"))
        .send_empty()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
}

#[test]
fn an_empty_log_has_no_checkpoint_yet() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLogStore::open(dir.path()).unwrap());
    store.append(&[entry(0)]).unwrap();
    let signer = NoteSigner::from_seed(ORIGIN, &[7; 32]).unwrap();
    let a = start(store, signer.verifier().to_string());
    problem(a, "/log/checkpoint", 404, "no_checkpoint");
    problem(a, "/log/v1/proof/0", 404, "no_checkpoint");
    problem(a, "/log/tile/0/000.p/1", 404, "not_covered");
    problem(a, "/log/tile/entries/000.p/1", 404, "not_covered");
    problem(a, "/log/v1/consistency?from=1&to=1", 404, "not_covered");
    ok(a, "/log/key");
}

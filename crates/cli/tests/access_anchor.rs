//! `doorman serve` keeps the access logs: every anchor interval it checkpoints each property's
//! access log that grew, anchors it in the public log (`access_log_anchored`), and redacts
//! payloads older than `--access-retention`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::{Duration, UNIX_EPOCH};

use common::Server;
use doorman_core::PropertyId;
use doorman_entries::PublicEntry;
use doorman_store::{AccessKey, AccessLogs, LogStore, Opening, SqliteLogStore};

const ORIGIN: &str = "anchor.test/log";

#[test]
fn serve_anchors_grown_access_logs_and_redacts_old_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let property = PropertyId::new("prop-1").unwrap();
    // Three events appended long ago (2023), as a device would have (issue 5).
    {
        let (key, _) = AccessKey::load_or_create(data, ORIGIN, &mut rand::rngs::OsRng).unwrap();
        let logs = AccessLogs::open(data, ORIGIN, key).unwrap();
        let long_ago = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..3 {
            logs.append(
                &property,
                format!("door street opened, event {i}").as_bytes(),
                long_ago,
                &mut rand::rngs::OsRng,
            )
            .unwrap();
        }
    }

    let mut server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        ORIGIN,
        "--checkpoint-interval",
        "200ms",
        "--anchor-interval",
        "200ms",
        "--access-retention",
        "24h",
    ]);
    server.wait_for("anchored the access log of prop-1 at size 3 (public entry 0)");
    server.wait_for("redacted 3 access events past their retention");
    server.wait_for("checkpoint size 1 ");
    assert!(server.terminate().success());
    // Nothing grew, so a later round anchored nothing more.
    let store = SqliteLogStore::open(data).unwrap();
    assert_eq!(store.sequenced_size().unwrap(), 1);

    let (key, created) = AccessKey::load_or_create(data, ORIGIN, &mut rand::rngs::OsRng).unwrap();
    assert!(!created);
    let logs = AccessLogs::open(data, ORIGIN, key).unwrap();
    let log = logs.existing(&property).unwrap().unwrap();
    let access_cp = log.latest_checkpoint().unwrap().unwrap();

    let entry = PublicEntry::parse(&store.entries(0, 1).unwrap()[0]).unwrap();
    match entry {
        PublicEntry::AccessLogAnchored {
            property: p,
            origin,
            size,
            root,
            ..
        } => {
            assert_eq!(p, "prop-1");
            assert_eq!(origin, access_cp.origin);
            assert_eq!(size, 3);
            assert_eq!(root, access_cp.root.to_base64());
        }
        other => panic!("{other:?}"),
    }
    // Redacted: the openings are gone, the leaves and their proofs stay.
    let events = log.read(0, 3).unwrap();
    assert_eq!(events.len(), 3);
    for event in &events {
        assert!(
            matches!(event.opening, Opening::Redacted { .. }),
            "{:?}",
            event.opening
        );
        let proof = log.prove(event.index, None).unwrap();
        proof
            .verify_entry(&event.leaf, &access_cp.origin, &log.verifier())
            .unwrap();
    }
}

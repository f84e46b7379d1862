//! `GET /public/v1/installations` over real HTTP on a SQLite log: every entry about a building,
//! found by any spelling of its address, each with a proof that verifies with the log key, and
//! tokens checked against the property key logged at registration.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use doorman_entries::{
    Custody, PublicEntry, carrier_authorized_entry, consent_granted_entry, normalize_address,
};
use doorman_server::{InstallationsResponse, ProblemDetails, log_router, public_router};
use doorman_store::{LogStore, PublicIndex, SqliteLogStore};
use doorman_tlog::{NoteSigner, TlogProof};
use doorman_trust::fixture::Fixture;

const ORIGIN: &str = "example.test/log";

fn start(store: Arc<dyn LogStore>, index: Arc<PublicIndex>, key: String) -> SocketAddr {
    common::serve_on_loopback(
        log_router(Arc::clone(&store), key).merge(public_router(store, index)),
    )
}

fn get(addr: SocketAddr, path_and_query: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut resp = agent
        .get(format!("http://{addr}{path_and_query}"))
        .call()
        .unwrap();
    (
        resp.status().as_u16(),
        resp.body_mut().read_to_vec().unwrap(),
    )
}

fn lookup(addr: SocketAddr, query: &str) -> InstallationsResponse {
    let (status, body) = get(addr, &format!("/public/v1/installations?{query}"));
    assert_eq!(status, 200, "{query}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

fn problem(addr: SocketAddr, query: &str, code: &str) {
    let (status, body) = get(addr, &format!("/public/v1/installations{query}"));
    assert_eq!(status, 400, "{query}");
    let p: ProblemDetails = serde_json::from_slice(&body).unwrap();
    assert_eq!(p.code, code, "{query}: {p:?}");
}

fn registered(property: &str, address: &str, key: String) -> PublicEntry {
    PublicEntry::PropertyRegistered {
        at: "2026-11-01T09:00:00Z".into(),
        property: property.into(),
        address: address.into(),
        address_key: normalize_address(address).unwrap(),
        time_zone: "Europe/Paris".into(),
        property_key: key,
        custody: Custody::SelfCustody,
        verified_by: "operator".into(),
    }
}

fn decommissioned(property: &str, device: &str) -> PublicEntry {
    PublicEntry::DeviceDecommissioned {
        at: "2026-11-03T09:00:00Z".into(),
        property: property.into(),
        door: "street".into(),
        device: device.into(),
        reason: "removed".into(),
    }
}

#[test]
fn a_building_sees_every_entry_about_it_with_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLogStore::open(dir.path()).unwrap());
    let signer = NoteSigner::from_seed(ORIGIN, &[5; 32]).unwrap();
    let f = Fixture::new().unwrap();
    let key = f.property_key.public();
    let at: jiff::Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let other_key = doorman_trust::SecretKey::from_seed(&[8; 32]).public();

    // A consent signed by some other key, logged as if the property had signed it: the
    // entry is well-formed, so the log takes it, and the lookup must flag it.
    let forged_fixture = {
        let mut g = Fixture::new().unwrap();
        g.property_key = doorman_trust::SecretKey::from_seed(&[8; 32]);
        g
    };
    let forged_consent = doorman_trust::sign_consent(
        &forged_fixture.property_key,
        &f.consent_spec(),
        &mut rand::rngs::OsRng,
    )
    .unwrap();

    let ours = f.property.to_string();
    let entries = [
        registered(&ours, "12, Rue de l'Église, 75001 Paris", key.to_string()), // 0
        registered("other", "1 Main Street, Springfield", other_key.to_string()), // 1
        consent_granted_entry(at, "req-1", "dev-1", &f.consent, &key).unwrap(), // 2
        decommissioned("other", "dev-9"),                                       // 3
        carrier_authorized_entry(at, &f.authorization, &key).unwrap(),          // 4
        consent_granted_entry(at, "req-2", "dev-2", &forged_consent, &other_key).unwrap(), // 5: forged
        decommissioned(&ours, "dev-1"),                                                    // 6
    ];
    let mut forged = entries[5].clone();
    if let PublicEntry::ConsentGranted { property, .. } = &mut forged {
        assert_eq!(*property, ours);
    }
    let bytes: Vec<Vec<u8>> = entries.iter().map(|e| e.to_bytes().unwrap()).collect();
    store.append(&bytes).unwrap();
    store
        .integrate(
            &signer,
            ORIGIN,
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        )
        .unwrap()
        .unwrap();

    // The integrating side catches the index up after each checkpoint (`doorman serve` does
    // it on a thread); the router only reads it.
    let index = Arc::new(PublicIndex::open(dir.path()).unwrap());
    index.catch_up(store.as_ref()).unwrap();
    let verifier = signer.verifier();
    let addr = start(store.clone(), Arc::clone(&index), verifier.to_string());

    // Another spelling of the same building.
    let got = lookup(addr, "address=12+rue+de+l%27eglise+75001+PARIS");
    assert_eq!(got.address_key, "12 rue de l eglise 75001 paris");
    assert_eq!(got.tree_size, 7);
    assert_eq!(got.properties.len(), 1);
    assert_eq!(got.properties[0].property, ours);
    assert_eq!(got.properties[0].registered_at, 0);
    let indexes: Vec<u64> = got.entries.iter().map(|e| e.index).collect();
    assert_eq!(indexes, [0, 2, 4, 5, 6]);
    assert_eq!(got.next_after, None);
    for view in &got.entries {
        let logged = &bytes[view.index as usize];
        // The JSON shown is the logged entry, and its proof verifies with the log key alone.
        assert_eq!(
            doorman_entries::to_canonical(&view.entry).as_bytes(),
            logged.as_slice()
        );
        let proof = TlogProof::parse(view.proof.as_bytes()).unwrap();
        assert_eq!(proof.index(), view.index);
        proof.verify_entry(logged, ORIGIN, &verifier).unwrap();
        let mut flipped = logged.clone();
        flipped[10] ^= 1;
        assert!(proof.verify_entry(&flipped, ORIGIN, &verifier).is_err());
        if view.index == 5 {
            assert_eq!(view.warnings.len(), 1, "{:?}", view.warnings);
            assert!(
                view.warnings[0].contains("does not verify"),
                "{:?}",
                view.warnings
            );
        } else {
            assert!(
                view.warnings.is_empty(),
                "{}: {:?}",
                view.index,
                view.warnings
            );
        }
    }

    // The other building sees only its own; an unknown address gets nothing.
    let other = lookup(addr, "address=1%20Main%20St.,%20Springfield");
    assert_eq!(
        other.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        [1, 3]
    );
    let none = lookup(addr, "address=99+Nowhere+Road");
    assert!(none.properties.is_empty() && none.entries.is_empty());

    // Paging.
    let page1 = lookup(addr, "address=12+rue+de+l+eglise+75001+paris&limit=2");
    assert_eq!(
        page1.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        [0, 2]
    );
    assert_eq!(page1.next_after, Some(2));
    let page2 = lookup(
        addr,
        "address=12+rue+de+l+eglise+75001+paris&limit=2&after=2",
    );
    assert_eq!(
        page2.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        [4, 5]
    );
    let page3 = lookup(
        addr,
        "address=12+rue+de+l+eglise+75001+paris&limit=2&after=5",
    );
    assert_eq!(
        page3.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        [6]
    );
    assert_eq!(page3.next_after, None);

    // New entries are found after the next checkpoint and catch-up, without a restart.
    store
        .append(&[decommissioned(&ours, "dev-2").to_bytes().unwrap()])
        .unwrap();
    store
        .integrate(
            &signer,
            ORIGIN,
            UNIX_EPOCH + Duration::from_secs(1_800_000_001),
        )
        .unwrap()
        .unwrap();
    index.catch_up(store.as_ref()).unwrap();
    let later = lookup(addr, "address=12+rue+de+l+eglise+75001+paris&after=6");
    assert_eq!(later.tree_size, 8);
    assert_eq!(
        later.entries.iter().map(|e| e.index).collect::<Vec<_>>(),
        [7]
    );

    // Bad queries.
    problem(addr, "", "bad_address");
    problem(addr, "?address=", "bad_address");
    problem(addr, "?address=%2C%2C", "bad_address");
    problem(
        addr,
        &format!("?address={}", "a".repeat(300)),
        "bad_address",
    );
    problem(addr, "?address=x&limit=0", "bad_query");
    problem(addr, "?address=x&limit=1001", "bad_query");
    problem(addr, "?address=x&after=-1", "bad_query");
    problem(addr, "?address=x&after=01", "bad_query");
    problem(addr, "?address=x&address=y", "bad_query");
    problem(addr, "?address=x&who=me", "bad_query");
}

#[test]
fn an_empty_log_has_no_checkpoint_to_prove_against() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteLogStore::open(dir.path()).unwrap());
    let index = Arc::new(PublicIndex::open(dir.path()).unwrap());
    let signer = NoteSigner::from_seed(ORIGIN, &[5; 32]).unwrap();
    let addr = start(store, index, signer.verifier().to_string());
    let (status, body) = get(addr, "/public/v1/installations?address=1+Main+St");
    assert_eq!(status, 404);
    let p: ProblemDetails = serde_json::from_slice(&body).unwrap();
    assert_eq!(p.code, "no_checkpoint");
}

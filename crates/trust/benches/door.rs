//! Door-decision and minting benchmarks (divan). Run: `cargo bench -p doorman-trust --bench door`.
//! Figures and how to read them: docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use doorman_trust::fixture::Fixture;
use doorman_trust::{DoorState, PossessionProof, Presentation, Revocations, decide, token};
use jiff::SignedDuration;

fn main() {
    divan::main();
}

struct Setup {
    fixture: Fixture,
    state: DoorState,
    challenge: doorman_trust::Challenge,
    proof: PossessionProof,
}

/// The fixture's device with 10,000 revoked ids and 10,000 used passes in its ledger.
fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        let f = Fixture::new().unwrap();
        let mut state = f.state().unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next_id = || {
            (0..8)
                .flat_map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    seed.to_le_bytes()
                })
                .collect::<Vec<u8>>()
        };
        let revoked: Vec<Vec<u8>> = (0..10_000).map(|_| next_id()).collect();
        state.revocations = Revocations::new(revoked, f.now);
        let expires = f.now + SignedDuration::from_hours(1);
        let auth_id = next_id();
        let day = f.now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        for _ in 0..10_000 {
            state.usage.record(&next_id(), expires, &auth_id, day);
        }
        assert_eq!(state.usage.used_passes(), 10_000);
        let device = f.device();
        let challenge = device.challenge([5; 32], f.now);
        let proof = challenge
            .prove(&f.driver_key, &token::decode(&f.pass).unwrap(), f.now)
            .unwrap();
        Setup {
            fixture: f,
            state,
            challenge,
            proof,
        }
    })
}

/// One full decision on a valid pass: decode, 3 Biscuit signatures, proof of possession,
/// revocation and ledger lookups, every rule, the token's own Datalog checks, and recording.
#[divan::bench(sample_count = 2000)]
fn door_decision_full_pass(bencher: divan::Bencher) {
    let s = setup();
    let device = s.fixture.device();
    bencher
        .with_inputs(|| s.state.clone())
        .bench_local_refs(|state| {
            let d = decide(
                &device,
                state,
                &Presentation {
                    pass: &s.fixture.pass,
                    challenge: &s.challenge,
                    proof: Some(&s.proof),
                },
                s.fixture.now,
            );
            assert!(d.is_allow());
            d
        });
}

/// The same decision on a device with nothing revoked and nothing used: isolates the cost of
/// the 10,000-entry lookups (and of the cache misses a freshly cloned state brings).
#[divan::bench(sample_count = 2000)]
fn door_decision_empty_state(bencher: divan::Bencher) {
    let s = setup();
    let device = s.fixture.device();
    let empty = s.fixture.state().unwrap();
    bencher
        .with_inputs(|| empty.clone())
        .bench_local_refs(|state| {
            let d = decide(
                &device,
                state,
                &Presentation {
                    pass: &s.fixture.pass,
                    challenge: &s.challenge,
                    proof: Some(&s.proof),
                },
                s.fixture.now,
            );
            assert!(d.is_allow());
            d
        });
}

/// The floor: one strict Ed25519 verification. A decision does four (authority block,
/// carrier block, carrier's external signature, driver's proof of possession).
#[divan::bench(sample_count = 2000)]
fn ed25519_verify_strict(bencher: divan::Bencher) {
    let s = setup();
    let msg = b"doorman benchmark message of a realistic length, about one hundred bytes long....";
    let sig = s.fixture.driver_key.sign(msg);
    let key = s.fixture.driver_key.public();
    bencher.bench(|| {
        key.verify(divan::black_box(msg), divan::black_box(&sig))
            .is_ok()
    });
}

/// The floor, as the decision pays it: four strict verifications in a row.
#[divan::bench(sample_count = 2000)]
fn ed25519_verify_strict_x4(bencher: divan::Bencher) {
    let s = setup();
    let msg = b"doorman benchmark message of a realistic length, about one hundred bytes long....";
    let sig = s.fixture.driver_key.sign(msg);
    let key = s.fixture.driver_key.public();
    bencher.bench(|| {
        (0..4).all(|_| {
            key.verify(divan::black_box(msg), divan::black_box(&sig))
                .is_ok()
        })
    });
}

/// Minting one pass on an authorization (the carrier's side).
#[divan::bench(sample_count = 1000)]
fn mint_pass(bencher: divan::Bencher) {
    let s = setup();
    let spec = s.fixture.pass_spec();
    bencher.bench(|| {
        doorman_trust::mint_pass(
            &s.fixture.authorization,
            &s.fixture.carrier_key,
            &spec,
            &mut rand::rngs::OsRng,
        )
        .unwrap()
    });
}

/// Breakdown: decoding the text and verifying every Biscuit signature (three Ed25519
/// verifications and the proof key check).
#[divan::bench(sample_count = 1000)]
fn breakdown_parse_and_signatures(bencher: divan::Bencher) {
    let s = setup();
    let key = s.fixture.property_key.public();
    bencher.bench(|| {
        let bytes = token::decode(&s.fixture.pass).unwrap();
        token::parse(&bytes, &key).unwrap()
    });
}

/// Breakdown: the above plus reading the owner's and the carrier's facts.
#[divan::bench(sample_count = 1000)]
fn breakdown_verify_pass(bencher: divan::Bencher) {
    let s = setup();
    let key = s.fixture.property_key.public();
    bencher.bench(|| {
        let bytes = token::decode(&s.fixture.pass).unwrap();
        doorman_trust::verify_pass(&bytes, &key).unwrap()
    });
}

/// Breakdown: looking up the property's time zone in the bundled database.
#[divan::bench(sample_count = 1000)]
fn breakdown_time_zone_lookup() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(divan::black_box("Europe/Paris")).unwrap()
}

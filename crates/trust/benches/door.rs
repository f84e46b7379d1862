//! Door-decision and minting benchmarks (divan). Run: `cargo bench -p doorman-trust --bench door`.
//! Figures and how to read them: docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use doorman_trust::fixture::Fixture;
use doorman_trust::{
    Decision, DoorState, PossessionProof, Presentation, Revocations, decide, token,
};
use jiff::SignedDuration;

fn main() {
    divan::main();
}

/// Passes minted for the decision benches: each sample presents a fresh one, so every sample
/// is a full allow, on one long-lived device state (as on a real device).
const PASSES: usize = 2_600;

struct Setup {
    fixture: Fixture,
    state: DoorState,
    challenge: doorman_trust::Challenge,
    /// Distinct passes on the fixture's authorization, each with its driver's answer.
    passes: Vec<(String, PossessionProof)>,
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
        // The fixture's authorization caps a day at 50 entries; the benches need thousands.
        let mut spec = f.authorization_spec();
        spec.daily_cap = None;
        let authorization =
            doorman_trust::sign_authorization(&f.property_key, &spec, &mut rand::rngs::OsRng)
                .unwrap();
        let f = Fixture { authorization, ..f };
        let device = f.device();
        let challenge = device.challenge([5; 32], f.now);
        let passes = (0..PASSES)
            .map(|n| {
                let mut p = f.pass_spec();
                p.delivery = format!("BENCH-{n}").parse().unwrap();
                let text = f.mint(&p).unwrap();
                let proof = challenge
                    .prove(&f.driver_key, &token::decode(&text).unwrap(), f.now)
                    .unwrap();
                (text, proof)
            })
            .collect();
        Setup {
            fixture: f,
            state,
            challenge,
            passes,
        }
    })
}

/// Decides the next unused pass on `state`; every call must be an allow.
fn decide_next(s: &Setup, state: &RefCell<DoorState>, next: &Cell<usize>) -> Decision {
    let i = next.get();
    next.set(i + 1);
    let (pass, proof) = s.passes.get(i).expect("more samples than minted passes");
    let d = decide(
        &s.fixture.device(),
        &mut state.borrow_mut(),
        &Presentation {
            pass,
            challenge: &s.challenge,
            proof: Some(proof),
        },
        s.fixture.now,
    );
    assert!(d.is_allow(), "{d:?}");
    d
}

/// One full decision on a valid pass: decode, 3 Biscuit signatures, proof of possession,
/// revocation and ledger lookups, every rule, the token's own Datalog checks, and recording.
/// The device holds 10,000 revoked ids and 10,000 (growing to 12,500) used passes.
#[divan::bench(sample_count = 2000, sample_size = 1)]
fn door_decision_full_pass(bencher: divan::Bencher) {
    let s = setup();
    let state = RefCell::new(s.state.clone());
    let next = Cell::new(0);
    bencher.bench_local(|| decide_next(s, &state, &next));
}

/// The same decision on a device with nothing revoked and nothing used: isolates the cost of
/// the 10,000-entry lookups.
#[divan::bench(sample_count = 2000, sample_size = 1)]
fn door_decision_empty_state(bencher: divan::Bencher) {
    let s = setup();
    let mut empty = s.state.clone();
    empty.revocations = Revocations::new([], s.fixture.now);
    empty.usage = doorman_core::UsageLedger::new(doorman_core::UsageLimits::default());
    let state = RefCell::new(empty);
    let next = Cell::new(0);
    bencher.bench_local(|| decide_next(s, &state, &next));
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
    let mut spec = s.fixture.pass_spec();
    spec.delivery = "BENCH-MINT".parse().unwrap();
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

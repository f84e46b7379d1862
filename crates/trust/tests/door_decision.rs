//! Scenario tests of the door decision: one per denial reason, attenuation, DST and leap
//! days, bad input. Each reads like the product: "a pass opens its door once, inside its
//! window and schedule".
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use rand::rngs::OsRng;
use std::collections::BTreeSet;

use biscuit_auth::builder::BlockBuilder;
use biscuit_auth::{Algorithm, PrivateKey, UnverifiedBiscuit};
use doorman_core::{DenyReason, UsageLedger, UsageLimits};
use doorman_trust::fixture::Fixture;
use doorman_trust::{
    AuthorizationSpec, Decision, DoorState, PassSpec, Presentation, Revocations, SecretKey, decide,
    mint_pass, sign_authorization, sign_consent, token,
};
use jiff::{SignedDuration, Timestamp};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn mins(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

fn hours(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

/// Presents `pass` once on a fresh device state, with a revocation list just received, at
/// `now`.
fn once(f: &Fixture, pass: &str, now: Timestamp) -> Decision {
    let mut state = f.state().unwrap();
    state.revocations = Revocations::new([], now);
    f.present(&f.device(), &mut state, pass, now)
}

fn assert_denied(d: &Decision, want: DenyReason) {
    assert_eq!(d.reason(), Some(want), "{d:#?}");
}

/// A pass whose carrier block holds exactly the given Datalog, signed by `carrier` on the
/// fixture's authorization: for cases the minting API rightly refuses to build.
fn raw_pass(f: &Fixture, carrier_seed: [u8; 32], code: &str) -> String {
    let u = UnverifiedBiscuit::from(&f.authorization).unwrap();
    let req = u.third_party_request().unwrap();
    let carrier = PrivateKey::from_bytes(&carrier_seed, Algorithm::Ed25519).unwrap();
    let block = req
        .create_block(&carrier, BlockBuilder::new().code(code).unwrap())
        .unwrap();
    let t = u.append_third_party(&block.serialize().unwrap()).unwrap();
    token::encode(&t.to_vec().unwrap())
}

/// The fixture's pass fact as Datalog, with a chosen window and door.
fn pass_fact(f: &Fixture, door: &str, nb: Timestamp, na: Timestamp) -> String {
    format!(
        "pass(\"ACME-1\", \"4B\", \"{door}\", hex:{}, {}, {});",
        f.driver_key.public().to_hex(),
        nb.as_second(),
        na.as_second()
    )
}

/// Appends a first-party block (what any holder of a pass can do) with the given Datalog.
fn attenuate(pass: &str, code: &str) -> String {
    let bytes = token::decode(pass).unwrap();
    let u = UnverifiedBiscuit::from(&bytes).unwrap();
    let t = u.append(BlockBuilder::new().code(code).unwrap()).unwrap();
    token::encode(&t.to_vec().unwrap())
}

#[test]
fn a_pass_opens_its_door_inside_its_window_and_then_never_again() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let mut state = f.state().unwrap();
    match f.present(&device, &mut state, &f.pass, f.now) {
        Decision::Allow(e) => {
            assert_eq!(e.unit.as_str(), "4B");
            assert_eq!(e.carrier.as_str(), "acme-parcel");
            assert_eq!(e.driver, f.driver_key.public());
            assert_eq!(e.pulse_ms, 3000);
        }
        d => panic!("{d:?}"),
    }
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now + mins(1)),
        DenyReason::Replayed,
    );
}

#[test]
fn a_realistic_pass_stays_under_one_kibibyte() {
    let f = Fixture::new().unwrap();
    let bytes = token::decode(&f.pass).unwrap();
    println!(
        "pass: {} bytes, {} base64url characters",
        bytes.len(),
        f.pass.len()
    );
    assert!(bytes.len() < 1024, "{} bytes", bytes.len());
}

#[test]
fn malformed_inputs() {
    let f = Fixture::new().unwrap();
    let consent_text = token::encode(&f.consent);
    let authorization_text = token::encode(&f.authorization);
    let truncated = &f.pass[..f.pass.len() / 2];
    let oversized = "A".repeat(20_000);
    let standard_b64 = f.pass.replace('-', "+");
    for bad in [
        "",
        "   ",
        "!!!",
        "é",
        truncated,
        &oversized,
        &standard_b64,
        &consent_text,
        &authorization_text,
    ] {
        assert_denied(&once(&f, bad, f.now), DenyReason::Malformed);
    }
}

#[test]
fn bad_signature_when_a_signature_is_altered() {
    use prost::Message;
    let f = Fixture::new().unwrap();
    let bytes = token::decode(&f.pass).unwrap();
    let mut raw = biscuit_auth::format::schema::Biscuit::decode(&bytes[..]).unwrap();
    raw.authority.signature[5] ^= 0x40;
    let altered = token::encode(&raw.encode_to_vec());
    let d = once(&f, &altered, f.now);
    assert_denied(&d, DenyReason::BadSignature);
}

#[test]
fn wrong_root_for_a_pass_under_another_property_key() {
    let f = Fixture::new().unwrap();
    let other = SecretKey::from_seed(&[99; 32]);
    let auth = sign_authorization(&other, &f.authorization_spec(), &mut OsRng).unwrap();
    let pass =
        token::encode(&mint_pass(&auth, &f.carrier_key, &f.pass_spec(), &mut OsRng).unwrap());
    let d = once(&f, &pass, f.now);
    assert_denied(&d, DenyReason::WrongRoot);
    let Decision::Deny(denial) = d else { panic!() };
    assert!(
        denial.detail.contains("another root key"),
        "{}",
        denial.detail
    );
}

#[test]
fn not_consented_without_a_valid_consent() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    // No consent at all.
    let mut state = f.state().unwrap();
    state.consent = None;
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::NotConsented,
    );
    // A consent for another device.
    let mut spec = f.consent_spec();
    spec.device = SecretKey::from_seed(&[42; 32]).public();
    let other = sign_consent(&f.property_key, &spec, &mut OsRng).unwrap();
    let mut state = f.state().unwrap();
    state.consent = Some(doorman_trust::read_consent(&other, &f.property_key.public()).unwrap());
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::NotConsented,
    );
    // An expired consent.
    let mut spec = f.consent_spec();
    spec.not_after = f.now - mins(1);
    spec.not_before = f.now - hours(100);
    let old = sign_consent(&f.property_key, &spec, &mut OsRng).unwrap();
    let mut state = f.state().unwrap();
    state.consent = Some(doorman_trust::read_consent(&old, &f.property_key.public()).unwrap());
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::NotConsented,
    );
    // A revoked consent.
    let mut state = f.state().unwrap();
    let id = state.consent.as_ref().unwrap().revocation_id().to_vec();
    state.revocations = Revocations::new([id], f.now);
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::NotConsented,
    );
}

#[test]
fn wrong_property_for_an_authorization_naming_another_property() {
    let f = Fixture::new().unwrap();
    let mut spec = f.authorization_spec();
    spec.property = "prop-other".parse().unwrap();
    let auth = sign_authorization(&f.property_key, &spec, &mut OsRng).unwrap();
    let pass =
        token::encode(&mint_pass(&auth, &f.carrier_key, &f.pass_spec(), &mut OsRng).unwrap());
    assert_denied(&once(&f, &pass, f.now), DenyReason::WrongProperty);
}

#[test]
fn wrong_door_for_a_pass_to_another_door_or_an_unauthorized_door() {
    let f = Fixture::new().unwrap();
    let mut spec = f.pass_spec();
    spec.door = f.other_door.clone();
    let garage_pass = f.mint(&spec).unwrap();
    assert_denied(&once(&f, &garage_pass, f.now), DenyReason::WrongDoor);
    // An authorization for the garage only; the carrier's block names the street anyway.
    let mut a = f.authorization_spec();
    a.doors = BTreeSet::from([f.other_door.clone()]);
    let auth = sign_authorization(&f.property_key, &a, &mut OsRng).unwrap();
    let f2 = Fixture {
        authorization: auth,
        ..f.clone()
    };
    let nb = f.now - mins(10);
    let pass = raw_pass(&f2, [2; 32], &pass_fact(&f2, "street", nb, nb + hours(1)));
    assert_denied(&once(&f2, &pass, f.now), DenyReason::WrongDoor);
}

#[test]
fn not_yet_valid_and_expired_windows() {
    let f = Fixture::new().unwrap();
    let spec = f.pass_spec();
    assert_denied(
        &once(&f, &f.pass, spec.not_before - SignedDuration::from_secs(1)),
        DenyReason::NotYetValid,
    );
    assert!(once(&f, &f.pass, spec.not_before).is_allow());
    assert!(once(&f, &f.pass, spec.not_after - SignedDuration::from_secs(1)).is_allow());
    assert_denied(&once(&f, &f.pass, spec.not_after), DenyReason::Expired);
    // An expired authorization expires every pass on it.
    let mut a = f.authorization_spec();
    a.not_after = f.now + mins(30);
    let auth = sign_authorization(&f.property_key, &a, &mut OsRng).unwrap();
    let mut p = f.pass_spec();
    p.not_after = f.now + mins(30);
    let pass = token::encode(&mint_pass(&auth, &f.carrier_key, &p, &mut OsRng).unwrap());
    let f2 = Fixture {
        authorization: auth,
        ..f.clone()
    };
    assert_denied(&once(&f2, &pass, f.now + mins(30)), DenyReason::Expired);
}

#[test]
fn outside_schedule_on_a_sunday() {
    let f = Fixture::new().unwrap();
    // Sunday 2026-11-29 11:00 in Paris.
    let sunday = ts("2026-11-29T10:00:00Z");
    let mut p = f.pass_spec();
    p.not_before = sunday - mins(30);
    p.not_after = sunday + mins(30);
    let pass = f.mint(&p).unwrap();
    assert_denied(&once(&f, &pass, sunday), DenyReason::OutsideSchedule);
    // Saturday 12:59 is in, 13:00 is out.
    let sat = ts("2026-11-28T11:59:00Z");
    p.not_before = sat - mins(30);
    p.not_after = sat + mins(30);
    let pass = f.mint(&p).unwrap();
    assert!(once(&f, &pass, sat).is_allow());
    assert_denied(&once(&f, &pass, sat + mins(1)), DenyReason::OutsideSchedule);
}

#[test]
fn revoked_authorization_or_pass() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let auth_id = doorman_trust::read_authorization(&f.authorization, &f.property_key.public())
        .unwrap()
        .revocation_id;
    let mut state = f.state().unwrap();
    state.revocations = Revocations::new([auth_id], f.now);
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::Revoked,
    );
    // Another pass on the same authorization dies too.
    let mut p = f.pass_spec();
    p.delivery = "ACME-2".parse().unwrap();
    let other = f.mint(&p).unwrap();
    assert_denied(
        &f.present(&device, &mut state, &other, f.now),
        DenyReason::Revoked,
    );
    // Revoking one pass leaves the others working.
    let pass_id =
        doorman_trust::pass::pass_id_unverified(&token::decode(&f.pass).unwrap()).unwrap();
    let mut state = f.state().unwrap();
    state.revocations = Revocations::new([pass_id], f.now);
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::Revoked,
    );
    assert!(f.present(&device, &mut state, &other, f.now).is_allow());
}

#[test]
fn revocations_stale_past_the_offline_bound() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let mut state = f.state().unwrap();
    state.revocations = Revocations::new([], f.now - hours(24) - SignedDuration::from_secs(1));
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::RevocationsStale,
    );
    state.revocations = Revocations::new([], f.now - hours(24));
    assert!(f.present(&device, &mut state, &f.pass, f.now).is_allow());
}

#[test]
fn no_proof_of_possession_in_every_form() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let bytes = token::decode(&f.pass).unwrap();
    let challenge = device.challenge([1; 32], f.now);
    let run = |proof: Option<&doorman_trust::PossessionProof>, ch: &doorman_trust::Challenge| {
        let mut state = f.state().unwrap();
        decide(
            &device,
            &mut state,
            &Presentation {
                pass: &f.pass,
                challenge: ch,
                proof,
            },
            f.now,
        )
    };
    // No answer.
    assert_denied(&run(None, &challenge), DenyReason::NoProofOfPossession);
    // Signed by someone else.
    let thief = SecretKey::from_seed(&[66; 32]);
    let p = challenge.prove(&thief, &bytes, f.now).unwrap();
    assert_denied(&run(Some(&p), &challenge), DenyReason::NoProofOfPossession);
    // A genuine answer to an earlier challenge (another nonce) is no answer to this one.
    let earlier = device.challenge([2; 32], f.now - SignedDuration::from_secs(10));
    let p = earlier.prove(&f.driver_key, &bytes, f.now).unwrap();
    assert_denied(&run(Some(&p), &challenge), DenyReason::NoProofOfPossession);
    // A challenge answered too late.
    let old = device.challenge([3; 32], f.now - mins(5));
    let p = old.prove(&f.driver_key, &bytes, f.now).unwrap();
    assert_denied(&run(Some(&p), &old), DenyReason::NoProofOfPossession);
    // An answer made for another door's device.
    let mut elsewhere = f.device();
    elsewhere.door = f.other_door.clone();
    let foreign = elsewhere.challenge([1; 32], f.now);
    let p = foreign.prove(&f.driver_key, &bytes, f.now).unwrap();
    assert_denied(&run(Some(&p), &foreign), DenyReason::NoProofOfPossession);
    assert_denied(&run(Some(&p), &challenge), DenyReason::NoProofOfPossession);
    // A signature over another pass.
    let mut other_spec = f.pass_spec();
    other_spec.delivery = "ACME-2".parse().unwrap();
    let other = token::decode(&f.mint(&other_spec).unwrap()).unwrap();
    let p = challenge.prove(&f.driver_key, &other, f.now).unwrap();
    assert_denied(&run(Some(&p), &challenge), DenyReason::NoProofOfPossession);
    // And the real thing works.
    let p = challenge.prove(&f.driver_key, &bytes, f.now).unwrap();
    assert!(run(Some(&p), &challenge).is_allow());
}

#[test]
fn service_disabled_by_the_owners_switches() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let carrier = f.authorization_spec().carrier;
    for switch in 0..3 {
        let mut state = f.state().unwrap();
        match switch {
            0 => state.service.property_disabled = true,
            1 => {
                state.service.disabled_doors.insert(f.door.clone());
            }
            _ => {
                state.service.disabled_carriers.insert(carrier.clone());
            }
        }
        let d = f.present(&device, &mut state, &f.pass, f.now);
        assert_denied(&d, DenyReason::ServiceDisabled);
        // Whichever switch refused it, the access event says whose pass it was.
        let Decision::Deny(denial) = d else {
            unreachable!()
        };
        assert_eq!(denial.carrier.as_ref(), Some(&carrier), "switch {switch}");
        assert!(denial.pass_id.is_some(), "switch {switch}");
    }
    // A pass that does not verify is not attributed, even while the switch is off.
    let mut state = f.state().unwrap();
    state.service.property_disabled = true;
    let mut forged = token::decode(&f.pass).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let d = f.present(&device, &mut state, &token::encode(&forged), f.now);
    assert_denied(&d, DenyReason::ServiceDisabled);
    let Decision::Deny(denial) = d else {
        unreachable!()
    };
    assert_eq!((denial.carrier, denial.pass_id), (None, None));
    // Switching another door off changes nothing here.
    let mut state = f.state().unwrap();
    state.service.disabled_doors.insert(f.other_door.clone());
    assert!(f.present(&device, &mut state, &f.pass, f.now).is_allow());
}

#[test]
fn daily_cap_counts_per_local_day() {
    let f = Fixture::new().unwrap();
    let mut a = f.authorization_spec();
    a.daily_cap = Some(2);
    let auth = sign_authorization(&f.property_key, &a, &mut OsRng).unwrap();
    let f = Fixture {
        authorization: auth,
        ..f
    };
    let device = f.device();
    let mut state = f.state().unwrap();
    let mint_at = |n: u32, at: Timestamp| {
        let mut p = f.pass_spec();
        p.delivery = format!("ACME-{n}").parse().unwrap();
        p.not_before = at - mins(10);
        p.not_after = at + mins(10);
        f.mint(&p).unwrap()
    };
    // Wednesday 2026-11-25, Paris: 10:00, 11:00 allowed, 12:00 capped.
    for (n, hour) in [(1, 9), (2, 10)] {
        let at = f.now + hours(hour - 9);
        assert!(
            f.present(&device, &mut state, &mint_at(n, at), at)
                .is_allow()
        );
    }
    let noon = f.now + hours(3);
    state.revocations = Revocations::new([], noon);
    assert_denied(
        &f.present(&device, &mut state, &mint_at(3, noon), noon),
        DenyReason::DailyCapReached,
    );
    // The next local morning (Thursday 08:00 Paris = 07:00Z) the count starts again.
    let thursday = ts("2026-11-26T07:00:00Z");
    state.revocations = Revocations::new([], thursday);
    assert!(
        f.present(&device, &mut state, &mint_at(4, thursday), thursday)
            .is_allow()
    );
}

#[test]
fn clock_skew_between_device_and_presenter_or_list() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let bytes = token::decode(&f.pass).unwrap();
    let challenge = device.challenge([1; 32], f.now);
    // The handset's clock is 10 minutes ahead.
    let p = challenge
        .prove(&f.driver_key, &bytes, f.now + mins(10))
        .unwrap();
    let mut state = f.state().unwrap();
    let d = decide(
        &device,
        &mut state,
        &Presentation {
            pass: &f.pass,
            challenge: &challenge,
            proof: Some(&p),
        },
        f.now,
    );
    assert_denied(&d, DenyReason::ClockSkew);
    // The revocation list claims to come from the device's future: its clock is behind.
    let mut state = f.state().unwrap();
    state.revocations = Revocations::new([], f.now + hours(1));
    assert_denied(
        &f.present(&device, &mut state, &f.pass, f.now),
        DenyReason::ClockSkew,
    );
    // Within the tolerance is fine.
    let p = challenge
        .prove(&f.driver_key, &bytes, f.now + mins(1))
        .unwrap();
    let mut state = f.state().unwrap();
    let d = decide(
        &device,
        &mut state,
        &Presentation {
            pass: &f.pass,
            challenge: &challenge,
            proof: Some(&p),
        },
        f.now,
    );
    assert!(d.is_allow(), "{d:?}");
}

#[test]
fn far_past_and_far_future_device_clocks_are_refused_clearly() {
    let f = Fixture::new().unwrap();
    for now in [
        Timestamp::UNIX_EPOCH,
        ts("1900-01-01T00:00:00Z"),
        ts("9999-12-30T00:00:00Z"),
        Timestamp::MIN,
        Timestamp::MAX,
    ] {
        let d = once(&f, &f.pass, now);
        assert!(!d.is_allow(), "{now}: {d:?}");
    }
}

#[test]
fn restricted_when_a_holders_own_restriction_fails() {
    let f = Fixture::new().unwrap();
    // The holder narrowed the pass to end 10 minutes ago.
    let narrowed = attenuate(
        &f.pass,
        &format!("check if time($t), $t < {};", (f.now - mins(10))),
    );
    assert_denied(&once(&f, &narrowed, f.now), DenyReason::Restricted);
    // A narrowing that still holds keeps the pass working.
    let narrowed = attenuate(
        &f.pass,
        &format!("check if time($t), $t < {};", (f.now + mins(10))),
    );
    assert!(once(&f, &narrowed, f.now).is_allow());
}

#[test]
fn pass_window_too_long_even_if_a_carrier_signs_it() {
    let f = Fixture::new().unwrap();
    let nb = f.now - hours(1);
    let pass = raw_pass(&f, [2; 32], &pass_fact(&f, "street", nb, nb + hours(3)));
    assert_denied(&once(&f, &pass, f.now), DenyReason::PassWindowTooLong);
    // The minting API refuses to make one in the first place.
    let mut p = f.pass_spec();
    p.not_after = p.not_before + hours(3);
    let e = f.mint(&p).unwrap_err();
    assert!(e.to_string().contains("at most"), "{e}");
}

#[test]
fn replay_cache_full_refuses_rather_than_forgets() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let mut state = DoorState {
        usage: UsageLedger::new(UsageLimits {
            max_used_passes: 1,
            grace: SignedDuration::ZERO,
        }),
        ..f.state().unwrap()
    };
    assert!(f.present(&device, &mut state, &f.pass, f.now).is_allow());
    let mut p = f.pass_spec();
    p.delivery = "ACME-2".parse().unwrap();
    let second = f.mint(&p).unwrap();
    assert_denied(
        &f.present(&device, &mut state, &second, f.now),
        DenyReason::ReplayCacheFull,
    );
    // Once the first pass has expired it is forgotten and there is room again.
    let later = f.pass_spec().not_after;
    let mut p = f.pass_spec();
    p.delivery = "ACME-3".parse().unwrap();
    p.not_before = later - mins(5);
    p.not_after = later + mins(60);
    let third = f.mint(&p).unwrap();
    state.revocations = Revocations::new([], later);
    assert!(f.present(&device, &mut state, &third, later).is_allow());
}

#[test]
fn a_leaked_authorization_alone_opens_nothing() {
    let f = Fixture::new().unwrap();
    // Without the carrier block.
    assert_denied(
        &once(&f, &token::encode(&f.authorization), f.now),
        DenyReason::Malformed,
    );
    // With a block signed by someone else's key.
    let nb = f.now - mins(10);
    let forged = raw_pass(&f, [77; 32], &pass_fact(&f, "street", nb, nb + hours(1)));
    assert_denied(&once(&f, &forged, f.now), DenyReason::Malformed);
    // With a plain (first-party) block claiming the pass facts.
    let forged = attenuate(
        &token::encode(&f.authorization),
        &pass_fact(&f, "street", nb, nb + hours(1)),
    );
    assert_denied(&once(&f, &forged, f.now), DenyReason::Malformed);
}

#[test]
fn attenuation_never_widens_doors_times_or_units() {
    let f = Fixture::new().unwrap();
    let device_garage = {
        let mut d = f.device();
        d.door = f.other_door.clone();
        d
    };
    let mut garage_state = f.state().unwrap();
    let mut c = f.consent_spec();
    c.door = f.other_door.clone();
    garage_state.consent = Some(
        doorman_trust::read_consent(
            &sign_consent(&f.property_key, &c, &mut OsRng).unwrap(),
            &f.property_key.public(),
        )
        .unwrap(),
    );
    let sunday = ts("2026-11-29T10:00:00Z");
    let widen = format!(
        "{} door(\"garage\"); schedule({{1,2,3,4,5,6,7}}, 0, 1440); authorization(\"prop-7f3a9c\", \"acme-parcel\", \"Europe/Paris\", 999999, 0, 2000-01-01T00:00:00Z, 2100-01-01T00:00:00Z);",
        pass_fact(&f, "garage", f.now - hours(48), f.now + hours(48)),
    );
    // A holder appends facts naming another door, a longer window, every day and another unit.
    let widened = attenuate(&f.pass, &widen);
    let d = f.present(&device_garage, &mut garage_state.clone(), &widened, f.now);
    assert_denied(&d, DenyReason::WrongDoor);
    assert_denied(
        &once(&f, &widened, f.pass_spec().not_after + mins(1)),
        DenyReason::Expired,
    );
    assert_denied(&once(&f, &widened, sunday), DenyReason::Expired);
    assert_denied(
        &once(&f, &widened, f.now - hours(1)),
        DenyReason::NotYetValid,
    );
    // ...and where it is allowed, the entry is the carrier's, not the holder's.
    match once(&f, &widened, f.now) {
        Decision::Allow(e) => {
            assert_eq!(e.unit.as_str(), "4B");
            assert_eq!(e.delivery.as_str(), "ACME-20261125-000123");
        }
        d => panic!("{d:?}"),
    }
    // A carrier's own block can't widen the owner's authorization either.
    let carrier_widened = raw_pass(
        &f,
        [2; 32],
        &format!(
            "{} door(\"boiler-room\"); schedule({{7}}, 0, 1440);",
            pass_fact(&f, "boiler-room", sunday - mins(30), sunday + mins(30))
        ),
    );
    let mut boiler = f.device();
    boiler.door = "boiler-room".parse().unwrap();
    let mut c = f.consent_spec();
    c.door = boiler.door.clone();
    let mut st = f.state().unwrap();
    st.consent = Some(
        doorman_trust::read_consent(
            &sign_consent(&f.property_key, &c, &mut OsRng).unwrap(),
            &f.property_key.public(),
        )
        .unwrap(),
    );
    st.revocations = Revocations::new([], sunday);
    assert_denied(
        &f.present(&boiler, &mut st, &carrier_widened, sunday),
        DenyReason::WrongDoor,
    );
    let carrier_sunday = raw_pass(
        &f,
        [2; 32],
        &format!(
            "{} schedule({{7}}, 0, 1440);",
            pass_fact(&f, "street", sunday - mins(30), sunday + mins(30))
        ),
    );
    assert_denied(
        &once(&f, &carrier_sunday, sunday),
        DenyReason::OutsideSchedule,
    );
    // Two carrier pass facts in one block (one for another door) are refused outright.
    let double = raw_pass(
        &f,
        [2; 32],
        &format!(
            "{} {}",
            pass_fact(&f, "street", f.now - mins(10), f.now + mins(10)),
            pass_fact(&f, "garage", f.now - mins(10), f.now + mins(10))
        ),
    );
    assert_denied(&once(&f, &double, f.now), DenyReason::Malformed);
}

#[test]
fn schedules_follow_the_wall_clock_across_dst() {
    let f = Fixture::new().unwrap();
    // Paris springs forward on Sunday 2026-03-29; use an authorization for every day
    // 08:00-20:00 valid then.
    let mut a: AuthorizationSpec = f.authorization_spec();
    a.schedule = "Daily 08:00-20:00".parse().unwrap();
    a.not_before = ts("2026-03-01T00:00:00Z");
    a.not_after = ts("2026-04-30T00:00:00Z");
    a.daily_cap = None;
    let auth = sign_authorization(&f.property_key, &a, &mut OsRng).unwrap();
    let f = Fixture {
        authorization: auth,
        ..f
    };
    let at = |t: &str| {
        let t = ts(t);
        let p = PassSpec {
            not_before: t - mins(5),
            not_after: t + mins(5),
            ..f.pass_spec()
        };
        let pass = f.mint(&p).unwrap();
        let mut state = f.state().unwrap();
        state.consent = Some(
            doorman_trust::read_consent(
                &sign_consent(
                    &f.property_key,
                    &doorman_trust::ConsentSpec {
                        not_before: ts("2026-01-01T00:00:00Z"),
                        ..f.consent_spec()
                    },
                    &mut OsRng,
                )
                .unwrap(),
                &f.property_key.public(),
            )
            .unwrap(),
        );
        state.revocations = Revocations::new([], t);
        f.present(&f.device(), &mut state, &pass, t)
    };
    // 06:30Z: 07:30 CET the day before (out), 08:30 CEST on the day (in).
    assert_denied(&at("2026-03-28T06:30:00Z"), DenyReason::OutsideSchedule);
    assert!(at("2026-03-29T06:30:00Z").is_allow());
    // 18:30Z: 19:30 CET (in) the day before, 20:30 CEST (out) on the day.
    assert!(at("2026-03-28T18:30:00Z").is_allow());
    assert_denied(&at("2026-03-29T18:30:00Z"), DenyReason::OutsideSchedule);
}

#[test]
fn leap_day_is_an_ordinary_tuesday() {
    let f = Fixture::new().unwrap();
    let mut a = f.authorization_spec();
    a.schedule = "Tue 09:00-13:00".parse().unwrap();
    a.time_zone = "UTC".into();
    a.not_before = ts("2028-02-01T00:00:00Z");
    a.not_after = ts("2028-03-31T00:00:00Z");
    a.daily_cap = Some(1);
    let auth = sign_authorization(&f.property_key, &a, &mut OsRng).unwrap();
    let mut c = f.consent_spec();
    c.not_before = ts("2028-01-01T00:00:00Z");
    c.not_after = ts("2029-01-01T00:00:00Z");
    let consent = sign_consent(&f.property_key, &c, &mut OsRng).unwrap();
    let f = Fixture {
        authorization: auth,
        consent,
        ..f
    };
    let device = f.device();
    let mut state = f.state().unwrap();
    let try_at = |state: &mut DoorState, t: &str, n: u32| {
        let t = ts(t);
        let p = PassSpec {
            delivery: format!("LEAP-{n}").parse().unwrap(),
            not_before: t - mins(5),
            not_after: t + mins(5),
            ..f.pass_spec()
        };
        state.revocations = Revocations::new([], t);
        f.present(&device, state, &f.mint(&p).unwrap(), t)
    };
    assert!(try_at(&mut state, "2028-02-29T10:00:00Z", 1).is_allow());
    assert_denied(
        &try_at(&mut state, "2028-02-29T11:00:00Z", 2),
        DenyReason::DailyCapReached,
    );
    // Wednesday 1 March is outside a Tuesday-only schedule.
    assert_denied(
        &try_at(&mut state, "2028-03-01T10:00:00Z", 3),
        DenyReason::OutsideSchedule,
    );
    // The next Tuesday the cap has reset.
    assert!(try_at(&mut state, "2028-03-07T10:00:00Z", 4).is_allow());
}

#[test]
fn every_reason_code_has_a_scenario() {
    // Keeps this file honest: adding a reason without a scenario above fails here.
    let source = include_str!("door_decision.rs");
    for r in DenyReason::ALL {
        let variant = format!("{r:?}");
        assert!(
            source.contains(&format!("DenyReason::{variant})"))
                || source.contains(&format!("DenyReason::{variant},")),
            "no scenario for {}",
            r.code()
        );
    }
}

#[test]
fn the_fixture_is_byte_for_byte_reproducible() {
    // Fuzz reproducers and benchmark inputs depend on it.
    let (a, b) = (Fixture::new().unwrap(), Fixture::new().unwrap());
    assert_eq!(a.pass, b.pass);
    assert_eq!(a.consent, b.consent);
    assert_eq!(a.authorization, b.authorization);
}

#[test]
fn unknown_and_foreign_algorithms_are_refused_by_name() {
    use prost::Message;
    let f = Fixture::new().unwrap();
    let bytes = token::decode(&f.pass).unwrap();
    for (alg, want) in [(1, "secp256r1"), (7, "unknown algorithm 7")] {
        let mut raw = biscuit_auth::format::schema::Biscuit::decode(&bytes[..]).unwrap();
        raw.authority.next_key.algorithm = alg;
        let e =
            doorman_trust::verify_pass(&raw.encode_to_vec(), &f.property_key.public()).unwrap_err();
        assert!(
            matches!(&e, doorman_trust::TokenError::UnsupportedAlgorithm(n) if n == want),
            "{e:?}"
        );
        let d = once(&f, &token::encode(&raw.encode_to_vec()), f.now);
        assert_denied(&d, DenyReason::Malformed);
    }
}

#[test]
fn the_authorization_cache_never_changes_a_decision() {
    let f = Fixture::new().unwrap();
    let device = f.device();
    let nb = f.now - mins(10);
    let mut other_door = f.pass_spec();
    other_door.door = f.other_door.clone();
    let mut second = f.pass_spec();
    second.delivery = "ACME-2".parse().unwrap();
    let other_root = sign_authorization(
        &SecretKey::from_seed(&[99; 32]),
        &f.authorization_spec(),
        &mut OsRng,
    )
    .unwrap();
    let presentations = [
        f.pass.clone(),
        // The same owner's block with a third-party block signed by another key.
        raw_pass(&f, [77; 32], &pass_fact(&f, "street", nb, nb + hours(1))),
        f.mint(&other_door).unwrap(),
        f.mint(&second).unwrap(),
        token::encode(&mint_pass(&other_root, &f.carrier_key, &f.pass_spec(), &mut OsRng).unwrap()),
        f.pass.clone(),
    ];
    let run = |capacity: usize| {
        let mut state = f.state().unwrap();
        state.authorizations = doorman_trust::AuthorizationCache::new(capacity);
        state.revocations = Revocations::new([], f.now);
        let decisions: Vec<Option<DenyReason>> = presentations
            .iter()
            .map(|p| f.present(&device, &mut state, p, f.now).reason())
            .collect();
        (decisions, state.authorizations.len())
    };
    let (cached, held) = run(16);
    let (uncached, none) = run(0);
    assert_eq!(cached, uncached);
    assert_eq!((held, none), (1, 0));
    assert_eq!(
        cached,
        vec![
            None,
            Some(DenyReason::Malformed),
            Some(DenyReason::WrongDoor),
            None,
            Some(DenyReason::WrongRoot),
            Some(DenyReason::Replayed)
        ]
    );
}

//! The door end to end, offline: an activation from a (fixture) log, a real pass and driver's
//! answer, the decision recorded as a signed event in the journal before the relay pulses;
//! a replay, a forged answer and an unknown challenge are refused and recorded too; a journal
//! that can't take the record keeps the door shut.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_agent::door::{Door, SimulatedRelay};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_core::{DenyReason, PropertyId};
use doorman_device::fixture::{World, good_in};
use doorman_device::{AccessEvent, verify_activation};
use doorman_trust::fixture::Fixture;
use doorman_trust::{PossessionProof, SecretKey, token};
use jiff::{SignedDuration, Timestamp};

/// The trust fixture's building (its property key, property and device), activated.
fn door() -> (Fixture, Door, SecretKey) {
    let f = Fixture::new().unwrap();
    let mut w = World::new();
    w.property_key = f.property_key.clone();
    w.property = PropertyId::new(f.property.as_str()).unwrap();
    w.device_key = f.device_key.public();
    w.issued_at = f.now - SignedDuration::from_hours(1);
    let (w, bundle) = good_in(w);
    let a = verify_activation(
        &bundle.to_bytes(),
        &f.device_key.public(),
        &w.log_key(),
        f.now,
    )
    .unwrap();
    let key = f.device_key.clone();
    (f, Door::new(&a, key.clone()), key)
}

fn answer(f: &Fixture, c: &doorman_trust::Challenge, pass: &str, at: Timestamp) -> PossessionProof {
    c.prove(&f.driver_key, &token::decode(pass).unwrap(), at)
        .unwrap()
}

#[test]
fn an_allowed_entry_is_journaled_and_signed_before_the_relay_pulses() {
    let (f, mut door, key) = door();
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path(), JournalLimits::default()).unwrap();
    let mut relay = SimulatedRelay::default();

    let c = door.challenge([1; 32], f.now);
    let proof = answer(&f, &c, &f.pass, f.now);
    let out = door
        .present(
            &f.pass,
            &c.nonce,
            Some(&proof),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert!(out.decision.is_allow(), "{:?}", out.decision);
    assert!(out.opened && out.fault.is_none());
    assert_eq!(relay.pulses, [2500], "the configured pulse");
    // The record on disk is the signed event, verifiable with the device key alone.
    let records = journal.pending(10);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1, out.signed);
    let ev = AccessEvent::verify(&records[0].1, &key.public()).unwrap();
    assert_eq!(
        (ev.seq, ev.is_allow(), ev.unit.as_deref()),
        (1, true, Some("4B"))
    );

    // The same pass again (a new challenge, a valid answer): replayed, recorded, shut.
    let c2 = door.challenge([2; 32], f.now);
    let proof2 = answer(&f, &c2, &f.pass, f.now);
    let again = door
        .present(
            &f.pass,
            &c2.nonce,
            Some(&proof2),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert_eq!(again.decision.reason(), Some(DenyReason::Replayed));
    assert!(!again.opened);
    // An answer to a challenge that was already used, or never issued: no proof.
    let reused = door
        .present(
            &f.pass,
            &c.nonce,
            Some(&proof),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert_eq!(
        reused.decision.reason(),
        Some(DenyReason::NoProofOfPossession)
    );
    let never = door
        .present(
            &f.pass,
            &[9; 32],
            Some(&proof),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert_eq!(
        never.decision.reason(),
        Some(DenyReason::NoProofOfPossession)
    );
    assert_eq!(relay.pulses.len(), 1, "only the first opened");
    let seqs: Vec<u64> = journal.pending(10).iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [1, 2, 3, 4], "every decision recorded");
}

#[test]
fn a_copied_pass_without_the_driver_key_stays_shut() {
    let (f, mut door, _) = door();
    let dir = tempfile::tempdir().unwrap();
    let mut journal = Journal::open(dir.path(), JournalLimits::default()).unwrap();
    let mut relay = SimulatedRelay::default();
    let c = door.challenge([1; 32], f.now);
    let thief = SecretKey::from_seed(&[66; 32]);
    let forged = c
        .prove(&thief, &token::decode(&f.pass).unwrap(), f.now)
        .unwrap();
    let out = door
        .present(
            &f.pass,
            &c.nonce,
            Some(&forged),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert_eq!(out.decision.reason(), Some(DenyReason::NoProofOfPossession));
    assert!(relay.pulses.is_empty());
    assert_eq!(journal.pending_len(), 1);
}

#[test]
fn a_journal_that_cannot_record_keeps_the_door_shut() {
    let (f, mut door, _) = door();
    let dir = tempfile::tempdir().unwrap();
    let full = JournalLimits {
        max_pending: 0,
        trim_bytes: 1 << 20,
    };
    let mut journal = Journal::open(dir.path(), full).unwrap();
    let mut relay = SimulatedRelay::default();
    let c = door.challenge([1; 32], f.now);
    let proof = answer(&f, &c, &f.pass, f.now);
    let out = door
        .present(
            &f.pass,
            &c.nonce,
            Some(&proof),
            f.now,
            &mut journal,
            &mut relay,
        )
        .unwrap();
    assert!(out.decision.is_allow(), "the decision itself was allow");
    assert!(!out.opened, "but the door stayed shut");
    assert!(
        out.fault.as_deref().unwrap().contains("journal_full"),
        "{:?}",
        out.fault
    );
    assert!(relay.pulses.is_empty());
}

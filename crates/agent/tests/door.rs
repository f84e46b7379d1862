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

use doorman_agent::door::{Door, Outcome, SimulatedRelay};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_core::{DenyReason, PropertyId};
use doorman_device::fixture::{World, good_in};
use doorman_device::{AccessEvent, verify_activation};
use doorman_trust::fixture::Fixture;
use doorman_trust::{SecretKey, token};
use jiff::SignedDuration;

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

/// A door with its journal (in a temporary dir) and a simulated relay.
struct Rig {
    f: Fixture,
    door: Door,
    key: SecretKey,
    journal: Journal,
    relay: SimulatedRelay,
    _dir: tempfile::TempDir,
}

fn rig(limits: JournalLimits) -> Rig {
    let (f, door, key) = door();
    let dir = tempfile::tempdir().unwrap();
    Rig {
        f,
        door,
        key,
        journal: Journal::open(dir.path(), limits).unwrap(),
        relay: SimulatedRelay::default(),
        _dir: dir,
    }
}

impl Rig {
    /// The fixture's pass, answering a fresh challenge `seed` with `driver`'s key (or
    /// answering `reuse`, a challenge already issued, if given).
    fn present(&mut self, seed: u8, driver: &SecretKey, reuse: Option<[u8; 32]>) -> Outcome {
        let now = self.f.now;
        let c = self.door.challenge([seed; 32], now);
        let proof = c
            .prove(driver, &token::decode(&self.f.pass).unwrap(), now)
            .unwrap();
        let nonce = reuse.unwrap_or(c.nonce);
        self.door
            .present(
                &self.f.pass,
                &nonce,
                Some(&proof),
                now,
                &mut self.journal,
                &mut self.relay,
            )
            .unwrap()
    }
}

#[test]
fn an_allowed_entry_is_journaled_and_signed_before_the_relay_pulses() {
    let mut r = rig(JournalLimits::default());
    let driver = r.f.driver_key.clone();
    let out = r.present(1, &driver, None);
    assert!(out.decision.is_allow(), "{:?}", out.decision);
    assert!(out.opened && out.fault.is_none());
    assert_eq!(r.relay.pulses, [2500], "the configured pulse");
    // The record on disk is the signed event, verifiable with the device key alone.
    let records = r.journal.pending(10).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].1, out.signed);
    let ev = AccessEvent::verify(&records[0].1, &r.key.public()).unwrap();
    assert_eq!(
        (ev.seq, ev.is_allow(), ev.unit.as_deref()),
        (1, true, Some("4B"))
    );

    // The same pass again (a new challenge, a valid answer): replayed, recorded, shut.
    let again = r.present(2, &driver, None);
    assert_eq!(again.decision.reason(), Some(DenyReason::Replayed));
    assert!(!again.opened);
    // An answer to a challenge already answered, or never issued: no proof.
    let reused = r.present(3, &driver, Some([1; 32]));
    assert_eq!(
        reused.decision.reason(),
        Some(DenyReason::NoProofOfPossession)
    );
    let never = r.present(4, &driver, Some([9; 32]));
    assert_eq!(
        never.decision.reason(),
        Some(DenyReason::NoProofOfPossession)
    );
    assert_eq!(r.relay.pulses.len(), 1, "only the first opened");
    let seqs: Vec<u64> = r
        .journal
        .pending(10)
        .unwrap()
        .iter()
        .map(|(s, _)| *s)
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "every decision recorded");
}

#[test]
fn a_copied_pass_without_the_driver_key_stays_shut() {
    let mut r = rig(JournalLimits::default());
    let thief = SecretKey::from_seed(&[66; 32]);
    let out = r.present(1, &thief, None);
    assert_eq!(out.decision.reason(), Some(DenyReason::NoProofOfPossession));
    assert!(r.relay.pulses.is_empty());
    assert_eq!(r.journal.pending_len(), 1);
}

#[test]
fn a_journal_that_cannot_record_keeps_the_door_shut() {
    let mut r = rig(JournalLimits {
        max_pending: 0,
        trim_bytes: 1 << 20,
    });
    let driver = r.f.driver_key.clone();
    let out = r.present(1, &driver, None);
    assert!(out.decision.is_allow(), "the decision itself was allow");
    assert!(!out.opened, "but the door stayed shut");
    assert!(
        out.fault.as_deref().unwrap().contains("journal_full"),
        "{:?}",
        out.fault
    );
    assert!(r.relay.pulses.is_empty());
}

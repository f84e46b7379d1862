//! The door: the one place the agent turns a presentation into a decision, a journal record
//! and — only after the record is on disk — a relay pulse.
//!
//! Order, and why:
//!
//! 1. The challenge must be one this door issued, unanswered and within its lifetime (each is
//!    answered at most once), else `no_proof_of_possession`.
//! 2. [`doorman_trust::decide`] decides from signed material only (it also records the pass as
//!    used, so a second presentation is `replayed` whatever happens next).
//! 3. The decision becomes an [`AccessEvent`] signed with the device key and is appended to the
//!    journal, synced. If that fails the door stays shut and the fault is reported: an opening
//!    without a record can't happen.
//! 4. Only then, on allow, the relay pulses.

use std::collections::VecDeque;

use doorman_core::{DenyReason, UsageLedger, UsageLimits};
use doorman_device::{AccessEvent, Activation};
use doorman_trust::{
    AuthorizationCache, Challenge, Decision, Denial, DoorDevice, DoorState, PossessionProof,
    Presentation, Revocations, SecretKey, decide,
};
use jiff::Timestamp;

use crate::journal::{Journal, JournalError};

/// What pulses the door release.
pub trait Relay {
    /// Energises the relay for `ms` milliseconds.
    fn pulse(&mut self, ms: u32) -> Result<(), String>;
}

/// A relay that only remembers its pulses (tests, demos, a bench without hardware).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SimulatedRelay {
    pub pulses: Vec<u32>,
}

impl Relay for SimulatedRelay {
    fn pulse(&mut self, ms: u32) -> Result<(), String> {
        self.pulses.push(ms);
        Ok(())
    }
}

/// The simulated relay of `doorman-agent run`: each pulse is a line `pulse <ms>` appended to
/// a file (`relay-sim.log` in the state dir).
#[derive(Debug, Clone)]
pub struct FileRelay(pub std::path::PathBuf);

impl Relay for FileRelay {
    fn pulse(&mut self, ms: u32) -> Result<(), String> {
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.0)
            .and_then(|mut f| writeln!(f, "pulse {ms}"))
            .map_err(|e| format!("{}: {e}", self.0.display()))
    }
}

/// The most challenges outstanding at once; the oldest is dropped beyond it.
pub const MAX_OPEN_CHALLENGES: usize = 64;

/// What one presentation came to.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The decision, as the trust core made it.
    pub decision: Decision,
    /// The event recorded for it, and its signed form (what is uploaded).
    pub event: AccessEvent,
    pub signed: Vec<u8>,
    /// Whether the relay was pulsed.
    pub opened: bool,
    /// A fault that kept an allowed door shut, or a relay failure.
    pub fault: Option<String>,
}

/// Why a presentation could not even be recorded.
#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error("cannot sign the access event: {0}")]
    Sign(String),
}

/// An activated door.
#[derive(Debug)]
pub struct Door {
    device: DoorDevice,
    state: DoorState,
    key: SecretKey,
    challenges: VecDeque<Challenge>,
}

impl Door {
    /// The door an activation establishes, deciding with the device's own key.
    pub fn new(activation: &Activation, key: SecretKey) -> Door {
        let device = DoorDevice {
            property_key: activation.property_key,
            property: activation.property.clone(),
            door: activation.door.clone(),
            device_key: key.public(),
            policy: activation.config.policy(),
        };
        let state = DoorState {
            consent: Some(activation.consent.clone()),
            service: activation.service.switch.clone(),
            revocations: Revocations::new(
                activation.revocations.revoked.iter().cloned(),
                activation.revocations.issued_at,
            ),
            usage: UsageLedger::new(UsageLimits::default()),
            authorizations: AuthorizationCache::default(),
        };
        Door {
            device,
            state,
            key,
            challenges: VecDeque::new(),
        }
    }

    /// Takes the state of an activation that changed (pushed revocations, service switch or
    /// configuration); the used-pass cache and the daily counts stay.
    pub fn update(&mut self, activation: &Activation) {
        self.device.policy = activation.config.policy();
        self.state.service = activation.service.switch.clone();
        self.state.revocations = Revocations::new(
            activation.revocations.revoked.iter().cloned(),
            activation.revocations.issued_at,
        );
    }

    /// A challenge for the next presenter, from 32 fresh random bytes.
    pub fn challenge(&mut self, nonce: [u8; 32], now: Timestamp) -> Challenge {
        let c = self.device.challenge(nonce, now);
        if self.challenges.len() >= MAX_OPEN_CHALLENGES {
            self.challenges.pop_front();
        }
        self.challenges.push_back(c.clone());
        c
    }

    /// Decides a presentation answering the challenge `nonce`, records it, and pulses the relay
    /// on allow once the record is synced.
    pub fn present(
        &mut self,
        pass: &str,
        nonce: &[u8; 32],
        proof: Option<&PossessionProof>,
        now: Timestamp,
        journal: &mut Journal,
        relay: &mut dyn Relay,
    ) -> Result<Outcome, DoorError> {
        // Each challenge is answered once; an unknown one is no proof at all.
        let issued = self
            .challenges
            .iter()
            .position(|c| &c.nonce == nonce)
            .and_then(|i| self.challenges.remove(i));
        let decision = match &issued {
            Some(challenge) => decide(
                &self.device,
                &mut self.state,
                &Presentation {
                    pass,
                    challenge,
                    proof,
                },
                now,
            ),
            None => Decision::Deny(Denial {
                reason: DenyReason::NoProofOfPossession,
                detail: "the answer is to no challenge this door has open".to_string(),
                pass_id: None,
                carrier: None,
            }),
        };
        let event = AccessEvent::of_decision(
            &self.device.property,
            &self.device.door,
            self.key.public(),
            journal.next_seq(),
            now,
            &decision,
        );
        let signed = event
            .sign(&self.key)
            .map_err(|e| DoorError::Sign(e.to_string()))?;
        let recorded: Result<u64, JournalError> = journal.append(&signed);
        let (opened, fault) = match (&decision, recorded) {
            (_, Err(e)) => (
                false,
                Some(format!("not recorded, door kept shut: {e} [{}]", e.code())),
            ),
            (Decision::Allow(entry), Ok(_)) => match relay.pulse(entry.pulse_ms) {
                Ok(()) => (true, None),
                Err(e) => (false, Some(format!("relay: {e}"))),
            },
            (Decision::Deny(_), Ok(_)) => (false, None),
        };
        Ok(Outcome {
            decision,
            event,
            signed,
            opened,
            fault,
        })
    }
}

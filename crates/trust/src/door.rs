//! The door decision: the one function that says whether a door opens.
//!
//! [`decide`] is used by the device agent and by the tests; nothing else opens a door. It is
//! pure: the clock, the challenge nonce and all device state are passed in. It checks, in this
//! order, and denies with the first reason that applies (docs/trust.md has the table):
//!
//! 1. service switch for the property and this door → `service_disabled`
//! 2. the device's own consent (signed by the pinned key, this device, this door, in its
//!    window, not revoked) → `not_consented`
//! 3. the pass text and signatures under the pinned property key → `malformed`,
//!    `wrong_root`, `bad_signature`
//! 4. revocation of any block of the pass → `revoked`; a revocation list issued in the
//!    device's future → `clock_skew`; older than the offline bound → `revocations_stale`
//! 5. proof of possession over the current challenge → `no_proof_of_possession`; the
//!    handset's clock too far from the device's → `clock_skew`
//! 6. the carrier's switch → `service_disabled`
//! 7. property, door, windows, window length, schedule → `wrong_property`, `wrong_door`,
//!    `not_yet_valid`, `expired`, `pass_window_too_long`, `outside_schedule`
//! 8. every check carried by the token itself (the owner's, the carrier's, and any
//!    attenuation), evaluated by Biscuit → `restricted` (or the owner check's own reason)
//! 9. single use → `replayed` (`replay_cache_full` if the ledger can't remember one more)
//! 10. daily cap → `daily_cap_reached`
//!
//! On allow, the pass is recorded as used and counted against the daily cap before the
//! function returns, so a caller can't open twice on one decision.

use std::collections::HashSet;

use biscuit_auth::error::{FailedCheck, Logic, Token as BiscuitError};
use doorman_core::{
    CarrierId, DeliveryRef, DenyReason, DoorId, LocalSlot, PropertyId, ServiceSwitch, UnitId,
    UsageLedger,
};
use jiff::{SignedDuration, Timestamp};

use crate::consent::VerifiedConsent;
use crate::keys::PublicKey;
use crate::pass::{Ambient, AuthorizationCache, TokenChecks, VerifiedPass, verify_pass_at};
use crate::possession::{Challenge, PossessionProof};
use crate::token;

/// Tunables of a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorPolicy {
    /// How long the relay is pulsed on allow, in milliseconds.
    pub pulse_ms: u32,
    /// Offline bound: passes are refused once the revocation list is older than this.
    pub revocation_max_age: SignedDuration,
    /// Largest disagreement tolerated between the device clock and the presenter's clock
    /// (or the revocation list's issue time).
    pub clock_skew_tolerance: SignedDuration,
    /// How long a challenge may be answered after the device issued it.
    pub challenge_ttl: SignedDuration,
}

impl Default for DoorPolicy {
    fn default() -> Self {
        DoorPolicy {
            pulse_ms: 3000,
            revocation_max_age: SignedDuration::from_hours(24),
            clock_skew_tolerance: SignedDuration::from_mins(2),
            challenge_ttl: SignedDuration::from_secs(60),
        }
    }
}

/// What a device is: the key it pins, where it is, who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorDevice {
    /// The property's key, pinned at activation. Every token must chain to it.
    pub property_key: PublicKey,
    pub property: PropertyId,
    pub door: DoorId,
    /// The device's own key.
    pub device_key: PublicKey,
    pub policy: DoorPolicy,
}

impl DoorDevice {
    /// A challenge for the next presenter.
    pub fn challenge(&self, nonce: [u8; 32], issued_at: Timestamp) -> Challenge {
        Challenge {
            nonce,
            issued_at,
            property: self.property.clone(),
            door: self.door.clone(),
            device_key: self.device_key,
        }
    }
}

/// The revocation list the device holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocations {
    ids: HashSet<Vec<u8>>,
    /// When the list was issued (its signed issue time); freshness is judged from it.
    pub as_of: Timestamp,
}

impl Revocations {
    /// A list of revoked ids issued at `as_of`.
    pub fn new(ids: impl IntoIterator<Item = Vec<u8>>, as_of: Timestamp) -> Revocations {
        Revocations {
            ids: ids.into_iter().collect(),
            as_of,
        }
    }

    /// Whether `id` is revoked.
    pub fn contains(&self, id: &[u8]) -> bool {
        self.ids.contains(id)
    }

    /// Number of revoked ids.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is revoked.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// Everything the device holds that a decision reads or updates.
#[derive(Debug, Clone)]
pub struct DoorState {
    pub consent: Option<VerifiedConsent>,
    pub service: ServiceSwitch,
    pub revocations: Revocations,
    pub usage: UsageLedger,
    /// Authorizations already read (a speed-up only; see [`AuthorizationCache`]).
    pub authorizations: AuthorizationCache,
}

/// One presentation at the door.
#[derive(Debug, Clone, Copy)]
pub struct Presentation<'a> {
    /// The pass as presented (base64url text).
    pub pass: &'a str,
    /// The challenge the device issued for this presentation.
    pub challenge: &'a Challenge,
    /// The driver's answer, if any.
    pub proof: Option<&'a PossessionProof>,
}

/// An allowed entry: what the access event records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub pulse_ms: u32,
    pub pass_id: Vec<u8>,
    pub authorization_id: Vec<u8>,
    pub carrier: CarrierId,
    pub unit: UnitId,
    pub delivery: DeliveryRef,
    pub driver: PublicKey,
    pub pass_not_after: Timestamp,
}

/// A refusal: the stable reason, a precise detail for the audit log (never shown to the
/// presenter), and what is known of the pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub detail: String,
    pub pass_id: Option<Vec<u8>>,
    pub carrier: Option<CarrierId>,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    // Boxed: an entry is several times the size of a denial.
    Allow(Box<Entry>),
    Deny(Denial),
}

impl Decision {
    /// The deny reason, or `None` on allow.
    pub fn reason(&self) -> Option<DenyReason> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(d) => Some(d.reason),
        }
    }

    /// Whether the door opens.
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }
}

struct Deny {
    reason: DenyReason,
    detail: String,
}

fn deny(reason: DenyReason, detail: impl Into<String>) -> Deny {
    Deny {
        reason,
        detail: detail.into(),
    }
}

/// Decides one presentation. See the module docs for the order of checks.
pub fn decide(
    device: &DoorDevice,
    state: &mut DoorState,
    presentation: &Presentation<'_>,
    now: Timestamp,
) -> Decision {
    let mut pass: Option<VerifiedPass> = None;
    match decide_inner(device, state, presentation, now, &mut pass) {
        Ok(entry) => Decision::Allow(Box::new(entry)),
        Err(d) => {
            let pass = pass.or_else(|| attribute_early(d.reason, device, presentation));
            Decision::Deny(Denial {
                reason: d.reason,
                detail: d.detail,
                pass_id: pass.as_ref().map(|p| p.pass_id().to_vec()),
                carrier: pass.as_ref().map(|p| p.carrier().clone()),
            })
        }
    }
}

/// A presentation refused before its pass was read (steps 1 and 2: the owner's switch is
/// off, or the device holds no valid consent) still names its pass and carrier in the access
/// event, so a manager sees who tried while the door was off. Read only from a pass whose
/// signatures verify under the pinned property key, never from unverified text; otherwise
/// nothing is attributed. This runs on those denials only and opens nothing.
fn attribute_early(
    reason: DenyReason,
    device: &DoorDevice,
    presentation: &Presentation<'_>,
) -> Option<VerifiedPass> {
    if !matches!(
        reason,
        DenyReason::ServiceDisabled | DenyReason::NotConsented
    ) {
        return None;
    }
    let bytes = token::decode(presentation.pass).ok()?;
    crate::pass::verify_pass(&bytes, &device.property_key).ok()
}

fn decide_inner(
    device: &DoorDevice,
    state: &mut DoorState,
    presentation: &Presentation<'_>,
    now: Timestamp,
    out_pass: &mut Option<VerifiedPass>,
) -> Result<Entry, Deny> {
    let policy = &device.policy;

    // 1. The owner's switch for the building and this door.
    if state.service.property_disabled {
        return Err(deny(
            DenyReason::ServiceDisabled,
            "service is off for the property",
        ));
    }
    if !state.service.door_enabled(&device.door) {
        return Err(deny(
            DenyReason::ServiceDisabled,
            "service is off for this door",
        ));
    }

    // 2. No consent, no door.
    let consent = state
        .consent
        .as_ref()
        .ok_or_else(|| deny(DenyReason::NotConsented, "the device holds no consent"))?;
    if consent.property_key() != &device.property_key {
        return Err(deny(
            DenyReason::NotConsented,
            "the consent was verified under another property key",
        ));
    }
    consent
        .check_for(&device.property, &device.door, &device.device_key, now)
        .map_err(|e| deny(DenyReason::NotConsented, e.to_string()))?;
    if state.revocations.contains(consent.revocation_id()) {
        return Err(deny(DenyReason::NotConsented, "the consent was revoked"));
    }

    // 3. The pass's text and signatures.
    let bytes = token::decode(presentation.pass).map_err(|e| deny(e.reason(), e.to_string()))?;
    let ambient = Ambient {
        now,
        door: &device.door,
        property: &device.property,
    };
    let (pass, token_checks) = verify_pass_at(
        &bytes,
        &device.property_key,
        Some(ambient),
        Some(&mut state.authorizations),
    )
    .map_err(|e| deny(e.reason(), e.to_string()))?;
    let pass = &*out_pass.insert(pass);

    // 4. Revocation, and whether the list can be trusted to be current.
    if let Some(id) = pass
        .revocation_ids()
        .iter()
        .position(|id| state.revocations.contains(id))
    {
        let what = if id == 0 {
            "the authorization".to_owned()
        } else {
            format!("block {id} of the pass")
        };
        return Err(deny(DenyReason::Revoked, format!("{what} is revoked")));
    }
    let list_age = state.revocations.as_of.duration_until(now);
    if list_age < -policy.clock_skew_tolerance {
        return Err(deny(
            DenyReason::ClockSkew,
            format!(
                "the revocation list was issued at {}, {:#} after the device's clock ({now})",
                state.revocations.as_of, -list_age
            ),
        ));
    }
    if list_age > policy.revocation_max_age {
        return Err(deny(
            DenyReason::RevocationsStale,
            format!(
                "the revocation list is {:#} old; the bound is {:#}",
                list_age.round(jiff::Unit::Second).unwrap_or(list_age),
                policy.revocation_max_age
            ),
        ));
    }

    // 5. The presenter holds the driver key: a signature over this device's fresh challenge.
    let challenge = presentation.challenge;
    let proof = presentation.proof.ok_or_else(|| {
        deny(
            DenyReason::NoProofOfPossession,
            "no answer to the device's challenge",
        )
    })?;
    if challenge.property != device.property
        || challenge.door != device.door
        || challenge.device_key != device.device_key
    {
        return Err(deny(
            DenyReason::NoProofOfPossession,
            "the challenge was not issued by this device",
        ));
    }
    let challenge_age = challenge.issued_at.duration_until(now);
    if challenge_age < -policy.clock_skew_tolerance || challenge_age > policy.challenge_ttl {
        return Err(deny(
            DenyReason::NoProofOfPossession,
            format!(
                "the challenge is {challenge_age:#} old; answers are accepted for {:#}",
                policy.challenge_ttl
            ),
        ));
    }
    let message = challenge.message(pass.pass_id(), proof.presented_at);
    pass.spec()
        .driver_key
        .verify(&message, &proof.signature)
        .map_err(|_| {
            deny(
                DenyReason::NoProofOfPossession,
                "the answer is not signed by the driver key the pass names",
            )
        })?;
    let skew = proof.presented_at.duration_until(now).abs();
    if skew > policy.clock_skew_tolerance {
        return Err(deny(
            DenyReason::ClockSkew,
            format!(
                "the presenter's clock ({}) and the device's ({now}) differ by {skew:#}",
                proof.presented_at
            ),
        ));
    }

    // 6. The owner's switch for this carrier.
    let auth = pass.authorization();
    if !state.service.carrier_enabled(&auth.carrier) {
        return Err(deny(
            DenyReason::ServiceDisabled,
            format!("service is off for carrier {}", auth.carrier),
        ));
    }

    // 7. What the owner and the carrier signed, judged here.
    let spec = pass.spec();
    if auth.property != device.property {
        return Err(deny(
            DenyReason::WrongProperty,
            format!("the pass is for property {:?}", auth.property.as_str()),
        ));
    }
    if !auth.doors.contains(&device.door) {
        return Err(deny(
            DenyReason::WrongDoor,
            "the authorization does not cover this door",
        ));
    }
    if spec.door != device.door {
        return Err(deny(
            DenyReason::WrongDoor,
            format!("the pass is for door {:?}", spec.door.as_str()),
        ));
    }
    if now < auth.not_before {
        return Err(deny(
            DenyReason::NotYetValid,
            format!("the authorization is valid from {}", auth.not_before),
        ));
    }
    if now >= auth.not_after {
        return Err(deny(
            DenyReason::Expired,
            format!("the authorization expired at {}", auth.not_after),
        ));
    }
    if now < spec.not_before {
        return Err(deny(
            DenyReason::NotYetValid,
            format!("the pass is valid from {}", spec.not_before),
        ));
    }
    if now >= spec.not_after {
        return Err(deny(
            DenyReason::Expired,
            format!("the pass expired at {}", spec.not_after),
        ));
    }
    if pass.window() > auth.max_pass_duration {
        return Err(deny(
            DenyReason::PassWindowTooLong,
            format!(
                "the pass window is {:#}; the authorization allows {:#}",
                pass.window(),
                auth.max_pass_duration
            ),
        ));
    }
    let tz = auth
        .tz()
        .map_err(|e| deny(DenyReason::Malformed, e.to_string()))?;
    let slot = LocalSlot::of(now, &tz);
    if !auth.schedule.contains(slot.weekday, slot.minute) {
        return Err(deny(
            DenyReason::OutsideSchedule,
            format!(
                "{} in {} is outside the schedule ({})",
                tz.to_datetime(now),
                auth.time_zone,
                auth.schedule
            ),
        ));
    }

    // 8. Every check the token carries, evaluated by Biscuit with the facts of this moment.
    match token_checks {
        Some(outcome) => token_check_outcome(outcome)?,
        None => {
            return Err(deny(
                DenyReason::Malformed,
                "the token's checks were not run",
            ));
        }
    }

    // 9. Single use.
    state.usage.prune(now, slot.date);
    if state.usage.is_used(pass.pass_id()) {
        return Err(deny(
            DenyReason::Replayed,
            "this pass has already been used",
        ));
    }
    if !state.usage.has_room() {
        return Err(deny(
            DenyReason::ReplayCacheFull,
            format!(
                "the used-pass ledger holds {} unexpired passes, its limit",
                state.usage.used_passes()
            ),
        ));
    }

    // 10. Daily cap, counted per property-local day.
    if let Some(cap) = auth.daily_cap {
        let used = state.usage.entries_on(pass.authorization_id(), slot.date);
        if used >= cap {
            return Err(deny(
                DenyReason::DailyCapReached,
                format!("{used} of {cap} entries used on {}", slot.date),
            ));
        }
    }

    state.usage.record(
        pass.pass_id(),
        spec.not_after,
        pass.authorization_id(),
        slot.date,
    );
    Ok(Entry {
        pulse_ms: policy.pulse_ms,
        pass_id: pass.pass_id().to_vec(),
        authorization_id: pass.authorization_id().to_vec(),
        carrier: auth.carrier.clone(),
        unit: spec.unit.clone(),
        delivery: spec.delivery.clone(),
        driver: spec.driver_key,
        pass_not_after: spec.not_after,
    })
}

/// Reason for each check of the owner's authority block, by position (see
/// `authorization.rs`): the Datalog encodes the same rules as step 7, so this only fires if
/// the two ever disagree, and then the door stays shut.
const AUTHORITY_CHECK_REASONS: [DenyReason; 3] = [
    DenyReason::Malformed,
    DenyReason::Expired,
    DenyReason::WrongDoor,
];

fn token_check_outcome(outcome: TokenChecks) -> Result<(), Deny> {
    let internal =
        |e: BiscuitError| deny(DenyReason::Malformed, format!("evaluating the token: {e}"));
    match outcome {
        Ok(_) => Ok(()),
        Err(BiscuitError::FailedLogic(
            Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks },
        )) => {
            let mut reasons: Vec<(DenyReason, String)> = checks
                .iter()
                .map(|c| match c {
                    FailedCheck::Block(b) if b.block_id == 0 => (
                        usize::try_from(b.check_id)
                            .ok()
                            .and_then(|i| AUTHORITY_CHECK_REASONS.get(i).copied())
                            .unwrap_or(DenyReason::Restricted),
                        format!("the owner's check failed: {}", b.rule),
                    ),
                    FailedCheck::Block(b) => (
                        DenyReason::Restricted,
                        format!("a check in block {} failed: {}", b.block_id, b.rule),
                    ),
                    FailedCheck::Authorizer(a) => (
                        DenyReason::Restricted,
                        format!("authorizer check failed: {}", a.rule),
                    ),
                })
                .collect();
            reasons.sort_by_key(|(r, _)| *r == DenyReason::Restricted);
            let (reason, detail) = reasons
                .into_iter()
                .next()
                .unwrap_or((DenyReason::Restricted, "the token's checks failed".into()));
            Err(deny(reason, detail))
        }
        Err(e) => Err(internal(e)),
    }
}

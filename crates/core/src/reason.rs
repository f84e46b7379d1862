//! Stable reason codes for a denied door.
//!
//! These strings are an interface: they go into signed access events, the audit log, metrics
//! labels and scripts. Never rename one; add new ones at the end.

use std::fmt;
use std::str::FromStr;

/// Why a door stayed shut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DenyReason {
    /// Not a well-formed Doorman token: empty, oversized, bad base64, bad protobuf, an unknown
    /// algorithm, or not the kind of token expected (e.g. a consent presented as a pass).
    Malformed,
    /// Signed under the expected root key id, but a signature does not verify (tampering).
    BadSignature,
    /// Issued under another root key than the property key this device pins.
    WrongRoot,
    /// The device has no valid consent of the owner (missing, expired, revoked, or for another
    /// device or door).
    NotConsented,
    /// The pass is for another property than the one this device serves.
    WrongProperty,
    /// The pass (or its authorization) does not cover this door.
    WrongDoor,
    /// The pass's window has not started yet.
    NotYetValid,
    /// The pass's window, or its authorization, has ended.
    Expired,
    /// The carrier's weekly schedule does not include this local time.
    OutsideSchedule,
    /// The pass, its authorization or the device's consent has been revoked.
    Revoked,
    /// The device's revocation list is older than the configured offline bound.
    RevocationsStale,
    /// This pass has already opened a door.
    Replayed,
    /// The driver did not prove possession of the pass's key over a fresh challenge.
    NoProofOfPossession,
    /// The owner switched service off for the property, this door, or this carrier.
    ServiceDisabled,
    /// The authorization's daily entry cap is used up for today (property-local day).
    DailyCapReached,
    /// The device clock and the presenter's clock (or the revocation list's issue time)
    /// disagree beyond the tolerance; the device can't judge time windows.
    ClockSkew,
    /// A restriction added by the carrier or a later holder (an attenuation check) failed.
    Restricted,
    /// The pass's window is longer than its authorization allows.
    PassWindowTooLong,
    /// The used-pass cache is full of unexpired passes; refusing is the safe side.
    ReplayCacheFull,
}

impl DenyReason {
    /// Every reason, in declaration order.
    pub const ALL: [DenyReason; 19] = [
        DenyReason::Malformed,
        DenyReason::BadSignature,
        DenyReason::WrongRoot,
        DenyReason::NotConsented,
        DenyReason::WrongProperty,
        DenyReason::WrongDoor,
        DenyReason::NotYetValid,
        DenyReason::Expired,
        DenyReason::OutsideSchedule,
        DenyReason::Revoked,
        DenyReason::RevocationsStale,
        DenyReason::Replayed,
        DenyReason::NoProofOfPossession,
        DenyReason::ServiceDisabled,
        DenyReason::DailyCapReached,
        DenyReason::ClockSkew,
        DenyReason::Restricted,
        DenyReason::PassWindowTooLong,
        DenyReason::ReplayCacheFull,
    ];

    /// The stable code, snake_case.
    pub const fn code(self) -> &'static str {
        match self {
            DenyReason::Malformed => "malformed",
            DenyReason::BadSignature => "bad_signature",
            DenyReason::WrongRoot => "wrong_root",
            DenyReason::NotConsented => "not_consented",
            DenyReason::WrongProperty => "wrong_property",
            DenyReason::WrongDoor => "wrong_door",
            DenyReason::NotYetValid => "not_yet_valid",
            DenyReason::Expired => "expired",
            DenyReason::OutsideSchedule => "outside_schedule",
            DenyReason::Revoked => "revoked",
            DenyReason::RevocationsStale => "revocations_stale",
            DenyReason::Replayed => "replayed",
            DenyReason::NoProofOfPossession => "no_proof_of_possession",
            DenyReason::ServiceDisabled => "service_disabled",
            DenyReason::DailyCapReached => "daily_cap_reached",
            DenyReason::ClockSkew => "clock_skew",
            DenyReason::Restricted => "restricted",
            DenyReason::PassWindowTooLong => "pass_window_too_long",
            DenyReason::ReplayCacheFull => "replay_cache_full",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The text is not one of the stable codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown deny reason {0:?}")]
pub struct UnknownReason(pub String);

impl FromStr for DenyReason {
    type Err = UnknownReason;
    fn from_str(s: &str) -> Result<Self, UnknownReason> {
        DenyReason::ALL
            .into_iter()
            .find(|r| r.code() == s)
            .ok_or_else(|| UnknownReason(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for r in DenyReason::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert_eq!(r.code().parse::<DenyReason>(), Ok(r));
        }
        assert!("nope".parse::<DenyReason>().is_err());
    }
}

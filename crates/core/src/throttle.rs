//! Sign-in throttling: repeated failed sign-ins for one address are slowed, then locked out
//! for a while. Pure: the caller stores the [`Attempts`] and passes the time in.
//!
//! The rule, per email address (whether or not an account has it, so the answers say
//! nothing about which addresses exist):
//!
//! - the first [`FREE_FAILURES`] failures cost nothing;
//! - after that, each attempt must wait `2^(failures - FREE_FAILURES)` seconds after the
//!   last failure (1 s, 2 s, 4 s, ...); an attempt sooner is refused without checking the
//!   password;
//! - at [`LOCKOUT_FAILURES`] failures the address is locked for [`LOCKOUT`]: every attempt is
//!   refused, right password or not; then the count starts again;
//! - a success clears everything.
//!
//! At most `LOCKOUT_FAILURES` password guesses per `LOCKOUT` (plus the backoff) per address.

use jiff::{SignedDuration, Timestamp};

/// Failures before the backoff starts.
pub const FREE_FAILURES: u32 = 3;
/// Failures that lock the address.
pub const LOCKOUT_FAILURES: u32 = 10;
/// How long a lockout lasts.
pub const LOCKOUT: SignedDuration = SignedDuration::from_mins(15);

/// What is remembered of an address's failed sign-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Attempts {
    pub failures: u32,
    pub last_failure: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Backing off: try again after `retry_after`.
    Backoff { retry_after: SignedDuration },
    /// Locked out until `until`.
    Locked { until: Timestamp },
}

impl Wait {
    /// Seconds to tell the client (`Retry-After`), at least 1.
    pub fn retry_after_secs(&self, now: Timestamp) -> i64 {
        let d = match self {
            Wait::Backoff { retry_after } => *retry_after,
            Wait::Locked { until } => until.duration_since(now),
        };
        // Round up: a client that waits this long is never refused for being early.
        let secs = d.as_secs() + i64::from(d.subsec_nanos() > 0);
        secs.max(1)
    }
}

fn backoff(failures: u32) -> SignedDuration {
    let exp = failures.saturating_sub(FREE_FAILURES).min(20);
    SignedDuration::from_secs(1i64 << exp)
}

/// May an attempt be made at `now`? (A lockout that has ended no longer counts.)
pub fn check(a: &Attempts, now: Timestamp) -> Result<(), Wait> {
    if let Some(until) = a.locked_until
        && now < until
    {
        return Err(Wait::Locked { until });
    }
    if a.locked_until.is_some() {
        // The lockout is over: the count started again.
        return Ok(());
    }
    if a.failures > FREE_FAILURES
        && let Some(last) = a.last_failure
    {
        let wait = backoff(a.failures - 1);
        let ready = last.checked_add(wait).unwrap_or(Timestamp::MAX);
        if now < ready {
            return Err(Wait::Backoff {
                retry_after: ready.duration_since(now),
            });
        }
    }
    Ok(())
}

/// The record after a failed attempt at `now` (call only for an attempt [`check`] allowed).
pub fn after_failure(a: &Attempts, now: Timestamp) -> Attempts {
    let failures = if a.locked_until.is_some_and(|until| now >= until) {
        1
    } else {
        a.failures.saturating_add(1)
    };
    Attempts {
        failures,
        last_failure: Some(now),
        locked_until: (failures >= LOCKOUT_FAILURES)
            .then(|| now.checked_add(LOCKOUT).unwrap_or(Timestamp::MAX)),
    }
    .reset_if_locked()
}

impl Attempts {
    /// A new lockout starts the count again (it is over when the lockout ends).
    fn reset_if_locked(self) -> Attempts {
        match self.locked_until {
            Some(_) => Attempts {
                failures: LOCKOUT_FAILURES,
                ..self
            },
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn slows_then_locks_then_forgives() {
        let mut a = Attempts::default();
        let mut now = at(0);
        for _ in 0..FREE_FAILURES {
            assert_eq!(check(&a, now), Ok(()));
            a = after_failure(&a, now);
        }
        // The next attempt right away is fine (the 4th); then the backoff starts.
        assert_eq!(check(&a, now), Ok(()));
        a = after_failure(&a, now);
        assert!(matches!(check(&a, now), Err(Wait::Backoff { .. })));
        while a.locked_until.is_none() {
            match check(&a, now) {
                Ok(()) => a = after_failure(&a, now),
                Err(Wait::Backoff { retry_after }) => now = now.checked_add(retry_after).unwrap(),
                Err(Wait::Locked { .. }) => unreachable!(),
            }
        }
        assert_eq!(a.failures, LOCKOUT_FAILURES);
        let until = a.locked_until.unwrap();
        assert_eq!(check(&a, now), Err(Wait::Locked { until }));
        assert_eq!(
            Wait::Locked { until }.retry_after_secs(now),
            LOCKOUT.as_secs()
        );
        // After the lockout the count starts again.
        assert_eq!(check(&a, until), Ok(()));
        let a = after_failure(&a, until);
        assert_eq!((a.failures, a.locked_until), (1, None));
    }
}

//! Property test of sign-in throttling: however an attacker spaces their guesses, few get
//! through per lockout period.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use doorman_core::throttle::{Attempts, LOCKOUT, LOCKOUT_FAILURES, after_failure, check};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn at_most_twice_the_lockout_count_of_guesses_in_any_lockout_window(
        gaps in proptest::collection::vec(0i64..120_000, 1..400),
    ) {
        let mut now = Timestamp::from_second(1_800_000_000).unwrap();
        let mut a = Attempts::default();
        let mut checked = Vec::new();
        for gap_ms in gaps {
            now = now.checked_add(SignedDuration::from_millis(gap_ms)).unwrap();
            if check(&a, now).is_ok() {
                checked.push(now);
                a = after_failure(&a, now);
            }
        }
        for (i, start) in checked.iter().enumerate() {
            let end = start.checked_add(LOCKOUT).unwrap();
            let inside = checked[i..].iter().take_while(|t| **t < end).count();
            prop_assert!(inside <= 2 * LOCKOUT_FAILURES as usize, "{inside} guesses in one lockout window");
        }
    }

    #[test]
    fn a_refused_attempt_changes_nothing_and_waiting_the_retry_after_is_enough(
        failures in 0u32..30, since_ms in 0i64..2_000_000,
    ) {
        let base = Timestamp::from_second(1_800_000_000).unwrap();
        let mut a = Attempts::default();
        for _ in 0..failures {
            if check(&a, base).is_ok() {
                a = after_failure(&a, base);
            }
        }
        let now = base.checked_add(SignedDuration::from_millis(since_ms)).unwrap();
        if let Err(wait) = check(&a, now) {
            let later = now.checked_add(SignedDuration::from_secs(wait.retry_after_secs(now))).unwrap();
            prop_assert!(check(&a, later).is_ok());
        }
    }
}

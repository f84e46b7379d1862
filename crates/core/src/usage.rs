//! The device's memory of what passes have done: single use and daily caps.
//!
//! A pass works once. The ledger remembers each used pass until it has expired (plus a grace
//! equal to the clock-skew tolerance, so a device clock stepping back a little can't revive
//! it), then forgets it: an expired pass is refused for being expired, so remembering it
//! longer buys nothing. The ledger is bounded; when it is full of unexpired passes the door
//! decision refuses new passes rather than forget a live one (fail-secure).
//!
//! Daily caps count allowed entries per authorization per property-local calendar day.

use std::collections::{BTreeSet, HashMap};

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

/// Bounds of the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageLimits {
    /// Most used passes remembered at once.
    pub max_used_passes: usize,
    /// How long past its expiry a used pass is still remembered.
    pub grace: SignedDuration,
}

impl Default for UsageLimits {
    fn default() -> Self {
        UsageLimits {
            max_used_passes: 100_000,
            grace: SignedDuration::from_mins(5),
        }
    }
}

/// Used passes and today's entry counts.
#[derive(Debug, Clone)]
pub struct UsageLedger {
    limits: UsageLimits,
    used: HashMap<Vec<u8>, Timestamp>,
    by_forget_time: BTreeSet<(Timestamp, Vec<u8>)>,
    daily: HashMap<(Vec<u8>, Date), u32>,
}

impl UsageLedger {
    /// An empty ledger.
    pub fn new(limits: UsageLimits) -> UsageLedger {
        UsageLedger {
            limits,
            used: HashMap::new(),
            by_forget_time: BTreeSet::new(),
            daily: HashMap::new(),
        }
    }

    /// The ledger's bounds.
    pub fn limits(&self) -> UsageLimits {
        self.limits
    }

    /// Forgets passes whose forget time has passed and day counts older than yesterday.
    pub fn prune(&mut self, now: Timestamp, today: Date) {
        while let Some((forget_at, _)) = self.by_forget_time.first() {
            if *forget_at > now {
                break;
            }
            if let Some((_, id)) = self.by_forget_time.pop_first() {
                self.used.remove(&id);
            }
        }
        // Keep yesterday too: local dates of different passes are computed in one zone per
        // property, but a device may hold several authorizations whose days overlap.
        let keep_from = today.yesterday().unwrap_or(today);
        self.daily.retain(|(_, d), _| *d >= keep_from);
    }

    /// Whether this pass has already been used (and is still remembered).
    pub fn is_used(&self, pass_id: &[u8]) -> bool {
        self.used.contains_key(pass_id)
    }

    /// Whether one more pass can be remembered.
    pub fn has_room(&self) -> bool {
        self.used.len() < self.limits.max_used_passes
    }

    /// Entries already allowed today under an authorization.
    pub fn entries_on(&self, authorization_id: &[u8], day: Date) -> u32 {
        self.daily
            .get(&(authorization_id.to_vec(), day))
            .copied()
            .unwrap_or(0)
    }

    /// Records an allowed entry: the pass is used until `expires_at` (+ grace), and the
    /// authorization's count for `day` goes up by one.
    pub fn record(
        &mut self,
        pass_id: &[u8],
        expires_at: Timestamp,
        authorization_id: &[u8],
        day: Date,
    ) {
        let forget_at = expires_at
            .checked_add(self.limits.grace)
            .unwrap_or(Timestamp::MAX);
        if let Some(old) = self.used.insert(pass_id.to_vec(), forget_at) {
            self.by_forget_time.remove(&(old, pass_id.to_vec()));
        }
        self.by_forget_time.insert((forget_at, pass_id.to_vec()));
        let n = self
            .daily
            .entry((authorization_id.to_vec(), day))
            .or_insert(0);
        *n = n.saturating_add(1);
    }

    /// Number of used passes remembered.
    pub fn used_passes(&self) -> usize {
        self.used.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn remembers_until_expiry_plus_grace_then_forgets() {
        let mut l = UsageLedger::new(UsageLimits {
            max_used_passes: 10,
            grace: SignedDuration::from_mins(5),
        });
        l.record(b"p1", ts("2026-01-01T10:00:00Z"), b"a", day("2026-01-01"));
        assert!(l.is_used(b"p1"));
        l.prune(ts("2026-01-01T10:04:59Z"), day("2026-01-01"));
        assert!(l.is_used(b"p1"));
        l.prune(ts("2026-01-01T10:05:00Z"), day("2026-01-01"));
        assert!(!l.is_used(b"p1"));
        assert_eq!(l.used_passes(), 0);
    }

    #[test]
    fn bounded() {
        let mut l = UsageLedger::new(UsageLimits {
            max_used_passes: 2,
            grace: SignedDuration::ZERO,
        });
        l.record(b"p1", ts("2026-01-01T10:00:00Z"), b"a", day("2026-01-01"));
        l.record(b"p2", ts("2026-01-01T11:00:00Z"), b"a", day("2026-01-01"));
        assert!(!l.has_room());
        l.prune(ts("2026-01-01T10:30:00Z"), day("2026-01-01"));
        assert!(l.has_room());
        assert!(l.is_used(b"p2"));
    }

    #[test]
    fn daily_counts_reset_by_date_and_are_pruned() {
        let mut l = UsageLedger::new(UsageLimits::default());
        let exp = ts("2026-01-03T00:00:00Z");
        l.record(b"p1", exp, b"a", day("2026-01-01"));
        l.record(b"p2", exp, b"a", day("2026-01-01"));
        l.record(b"p3", exp, b"b", day("2026-01-01"));
        assert_eq!(l.entries_on(b"a", day("2026-01-01")), 2);
        assert_eq!(l.entries_on(b"a", day("2026-01-02")), 0);
        l.prune(ts("2026-01-03T00:00:00Z"), day("2026-01-03"));
        assert_eq!(l.entries_on(b"a", day("2026-01-01")), 0);
    }

    #[test]
    fn re_recording_does_not_leak_index_entries() {
        let mut l = UsageLedger::new(UsageLimits::default());
        l.record(b"p1", ts("2026-01-01T10:00:00Z"), b"a", day("2026-01-01"));
        l.record(b"p1", ts("2026-01-01T12:00:00Z"), b"a", day("2026-01-01"));
        assert_eq!(l.by_forget_time.len(), 1);
    }
}

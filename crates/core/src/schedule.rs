//! Weekly schedules in a property's wall-clock time.
//!
//! A carrier is authorized for, say, `Mon-Fri 08:00-20:00; Sat 09:00-13:00` in the property's
//! time zone. Schedules are judged on the *local* wall clock, so they stay right across DST:
//! 08:00 means 08:00 on the building's clocks in winter and summer alike. On the day clocks go
//! back, a repeated local hour is inside the schedule both times it occurs; on the day they go
//! forward, the skipped hour simply never happens.
//!
//! Text form (what `--schedule` takes and what the CLI prints):
//! clauses separated by `;`, each `DAYS RANGE[, RANGE...]` where DAYS is `Mon`, `Mon-Fri`,
//! `Fri-Mon` (wraps), `Mon,Wed,Fri` or `Daily`, and RANGE is `HH:MM-HH:MM` with `24:00` allowed
//! as an end. A range whose end is not after its start runs past midnight into the next day
//! (`Fri 22:00-02:00` is Friday 22:00 to Saturday 02:00).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Minutes in a day; the exclusive upper bound of a minute of day.
pub const MINUTES_PER_DAY: u16 = 24 * 60;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One allowed span on one weekday: `[start, end)` in minutes after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    /// ISO weekday, 1 = Monday .. 7 = Sunday.
    pub weekday: u8,
    /// First allowed minute of the day.
    pub start: u16,
    /// First minute no longer allowed (at most 1440).
    pub end: u16,
}

/// A normalised weekly schedule: per weekday, sorted, non-overlapping intervals.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WeeklySchedule {
    intervals: Vec<Interval>,
}

/// Why a schedule text or interval list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the schedule is empty; give at least one clause like \"Mon-Fri 08:00-20:00\"")]
    Empty,
    #[error("schedule clause {clause:?} has no time range; write e.g. \"Sat 09:00-13:00\"")]
    MissingRange { clause: String },
    #[error("unknown day {day:?}; use Mon Tue Wed Thu Fri Sat Sun, a range like Mon-Fri, or Daily")]
    BadDay { day: String },
    #[error("bad time range {range:?}; write HH:MM-HH:MM with 00:00 <= HH:MM <= 24:00")]
    BadRange { range: String },
    #[error("time range {range:?} is empty (start equals end)")]
    EmptyRange { range: String },
    #[error("interval on weekday {weekday} from minute {start} to {end} is invalid")]
    BadInterval { weekday: i64, start: i64, end: i64 },
    #[error("the schedule text is {len} bytes long; the limit is 1024")]
    TooLong { len: usize },
}

/// Where an instant falls on a property's wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalSlot {
    /// ISO weekday, 1 = Monday .. 7 = Sunday.
    pub weekday: u8,
    /// Minutes after local midnight, 0..1440.
    pub minute: u16,
    /// The local calendar date (daily caps reset at local midnight).
    pub date: Date,
}

impl LocalSlot {
    /// The wall-clock position of `at` in `tz`.
    pub fn of(at: Timestamp, tz: &TimeZone) -> LocalSlot {
        let zoned = tz.to_datetime(at);
        let weekday = zoned.weekday().to_monday_one_offset();
        // Both are small and non-negative by jiff's contract; the conversions can't fail, but we
        // stay total anyway.
        let weekday = u8::try_from(weekday).unwrap_or(1);
        let minute =
            u16::try_from(i32::from(zoned.hour()) * 60 + i32::from(zoned.minute())).unwrap_or(0);
        LocalSlot {
            weekday,
            minute,
            date: zoned.date(),
        }
    }
}

impl WeeklySchedule {
    /// Every minute of every day.
    pub fn always() -> WeeklySchedule {
        WeeklySchedule {
            intervals: (1..=7)
                .map(|weekday| Interval {
                    weekday,
                    start: 0,
                    end: MINUTES_PER_DAY,
                })
                .collect(),
        }
    }

    /// Builds a schedule from raw intervals (as read back from a token), validating each.
    pub fn from_intervals(
        raw: impl IntoIterator<Item = (i64, i64, i64)>,
    ) -> Result<WeeklySchedule, ScheduleError> {
        let mut intervals = Vec::new();
        for (weekday, start, end) in raw {
            let bad = ScheduleError::BadInterval {
                weekday,
                start,
                end,
            };
            let (Ok(w), Ok(s), Ok(e)) = (
                u8::try_from(weekday),
                u16::try_from(start),
                u16::try_from(end),
            ) else {
                return Err(bad);
            };
            if !(1..=7).contains(&w) || s >= e || e > MINUTES_PER_DAY {
                return Err(bad);
            }
            intervals.push(Interval {
                weekday: w,
                start: s,
                end: e,
            });
        }
        if intervals.is_empty() {
            return Err(ScheduleError::Empty);
        }
        Ok(Self::normalised(intervals))
    }

    fn normalised(mut intervals: Vec<Interval>) -> WeeklySchedule {
        intervals.sort();
        let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
        for iv in intervals {
            match merged.last_mut() {
                Some(last) if last.weekday == iv.weekday && iv.start <= last.end => {
                    last.end = last.end.max(iv.end);
                }
                _ => merged.push(iv),
            }
        }
        WeeklySchedule { intervals: merged }
    }

    /// The normalised intervals.
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Whether the local weekday and minute fall inside the schedule.
    pub fn contains(&self, weekday: u8, minute: u16) -> bool {
        self.intervals
            .iter()
            .any(|iv| iv.weekday == weekday && iv.start <= minute && minute < iv.end)
    }

    /// Whether the instant `at`, seen on the wall clock of `tz`, is inside the schedule.
    pub fn allows(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let slot = LocalSlot::of(at, tz);
        self.contains(slot.weekday, slot.minute)
    }

    /// Whether every allowed minute of `self` is also allowed by `wider`.
    pub fn is_within(&self, wider: &WeeklySchedule) -> bool {
        self.intervals.iter().all(|iv| {
            wider
                .intervals
                .iter()
                .any(|w| w.weekday == iv.weekday && w.start <= iv.start && iv.end <= w.end)
        })
    }
}

fn parse_day(s: &str) -> Option<u8> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s))
        .and_then(|i| u8::try_from(i + 1).ok())
}

fn parse_days(spec: &str) -> Result<Vec<u8>, ScheduleError> {
    let bad = || ScheduleError::BadDay {
        day: spec.to_owned(),
    };
    if spec.eq_ignore_ascii_case("daily") {
        return Ok((1..=7).collect());
    }
    let mut days = Vec::new();
    for part in spec.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (
                parse_day(a.trim()).ok_or_else(bad)?,
                parse_day(b.trim()).ok_or_else(bad)?,
            );
            let mut d = a;
            loop {
                days.push(d);
                if d == b {
                    break;
                }
                d = d % 7 + 1;
            }
        } else {
            days.push(parse_day(part).ok_or_else(bad)?);
        }
    }
    Ok(days)
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

impl FromStr for WeeklySchedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<WeeklySchedule, ScheduleError> {
        if text.len() > 1024 {
            return Err(ScheduleError::TooLong { len: text.len() });
        }
        let mut intervals = Vec::new();
        for clause in text.split(';').map(str::trim).filter(|c| !c.is_empty()) {
            let (days, ranges) = clause.split_once(char::is_whitespace).ok_or_else(|| {
                ScheduleError::MissingRange {
                    clause: clause.to_owned(),
                }
            })?;
            let days = parse_days(days)?;
            for range in ranges.split(',').map(str::trim) {
                let bad = || ScheduleError::BadRange {
                    range: range.to_owned(),
                };
                let (a, b) = range.split_once('-').ok_or_else(bad)?;
                let start = parse_hhmm(a.trim()).ok_or_else(bad)?;
                let end = parse_hhmm(b.trim()).ok_or_else(bad)?;
                if start == end {
                    return Err(ScheduleError::EmptyRange {
                        range: range.to_owned(),
                    });
                }
                if start == MINUTES_PER_DAY {
                    return Err(bad());
                }
                for &weekday in &days {
                    if start < end {
                        intervals.push(Interval {
                            weekday,
                            start,
                            end,
                        });
                    } else {
                        // Runs past midnight: the tail belongs to the next day.
                        intervals.push(Interval {
                            weekday,
                            start,
                            end: MINUTES_PER_DAY,
                        });
                        if end > 0 {
                            intervals.push(Interval {
                                weekday: weekday % 7 + 1,
                                start: 0,
                                end,
                            });
                        }
                    }
                }
            }
        }
        if intervals.is_empty() {
            return Err(ScheduleError::Empty);
        }
        Ok(Self::normalised(intervals))
    }
}

impl fmt::Display for WeeklySchedule {
    /// Canonical text: one clause per weekday, e.g. `Mon 08:00-20:00; Tue 08:00-20:00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for weekday in 1..=7u8 {
            let day: Vec<&Interval> = self
                .intervals
                .iter()
                .filter(|iv| iv.weekday == weekday)
                .collect();
            if day.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            let name = DAY_NAMES
                .get(usize::from(weekday) - 1)
                .copied()
                .unwrap_or("?");
            write!(f, "{name} ")?;
            for (i, iv) in day.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(
                    f,
                    "{:02}:{:02}-{:02}:{:02}",
                    iv.start / 60,
                    iv.start % 60,
                    iv.end / 60,
                    iv.end % 60
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn parses_the_usual_form() {
        let s: WeeklySchedule = "Mon-Fri 08:00-20:00; Sat 09:00-13:00".parse().unwrap();
        assert_eq!(s.intervals().len(), 6);
        assert!(s.contains(1, 8 * 60));
        assert!(!s.contains(1, 20 * 60));
        assert!(s.contains(6, 12 * 60 + 59));
        assert!(!s.contains(7, 12 * 60));
        assert_eq!(
            s.to_string(),
            "Mon 08:00-20:00; Tue 08:00-20:00; Wed 08:00-20:00; Thu 08:00-20:00; \
             Fri 08:00-20:00; Sat 09:00-13:00"
        );
    }

    #[test]
    fn overnight_and_wrapping_day_ranges() {
        let s: WeeklySchedule = "Sun 22:00-02:00".parse().unwrap();
        assert!(s.contains(7, 23 * 60));
        assert!(s.contains(1, 60)); // Monday 01:00
        assert!(!s.contains(1, 120));
        let s: WeeklySchedule = "Fri-Mon 10:00-11:00".parse().unwrap();
        assert_eq!(s.intervals().len(), 4);
        let s: WeeklySchedule = "daily 00:00-24:00".parse().unwrap();
        assert_eq!(s, WeeklySchedule::always());
        let s: WeeklySchedule = "Mon,Wed 08:00-09:00, 17:00-18:00".parse().unwrap();
        assert_eq!(s.intervals().len(), 4);
    }

    #[test]
    fn refuses_bad_text_with_reasons() {
        for (text, want) in [
            ("", ScheduleError::Empty),
            (" ; ", ScheduleError::Empty),
            (
                "Mon",
                ScheduleError::MissingRange {
                    clause: "Mon".into(),
                },
            ),
            (
                "Mun 08:00-09:00",
                ScheduleError::BadDay { day: "Mun".into() },
            ),
            (
                "Mon 8:00-09:00",
                ScheduleError::BadRange {
                    range: "8:00-09:00".into(),
                },
            ),
            (
                "Mon 08:00-24:01",
                ScheduleError::BadRange {
                    range: "08:00-24:01".into(),
                },
            ),
            (
                "Mon 08:60-09:00",
                ScheduleError::BadRange {
                    range: "08:60-09:00".into(),
                },
            ),
            (
                "Mon 08:00-08:00",
                ScheduleError::EmptyRange {
                    range: "08:00-08:00".into(),
                },
            ),
            (
                "Mon 24:00-02:00",
                ScheduleError::BadRange {
                    range: "24:00-02:00".into(),
                },
            ),
        ] {
            assert_eq!(text.parse::<WeeklySchedule>(), Err(want), "{text:?}");
        }
        assert!(matches!(
            "Mon 08:00-09:00;".repeat(100).parse::<WeeklySchedule>(),
            Err(ScheduleError::TooLong { .. })
        ));
    }

    #[test]
    fn from_intervals_validates() {
        assert!(WeeklySchedule::from_intervals([(0, 0, 10)]).is_err());
        assert!(WeeklySchedule::from_intervals([(1, 10, 10)]).is_err());
        assert!(WeeklySchedule::from_intervals([(1, 0, 1441)]).is_err());
        assert!(WeeklySchedule::from_intervals([(1, -1, 10)]).is_err());
        assert!(WeeklySchedule::from_intervals([]).is_err());
        assert!(WeeklySchedule::from_intervals([(7, 0, 1440)]).is_ok());
    }

    #[test]
    fn dst_spring_forward_uses_the_wall_clock() {
        // Paris springs forward on 2026-03-29 at 02:00 local (01:00 UTC).
        let paris = TimeZone::get("Europe/Paris").unwrap();
        let s: WeeklySchedule = "Daily 08:00-20:00".parse().unwrap();
        // 06:30 UTC is 07:30 CET the day before, but 08:30 CEST on the day itself.
        assert!(!s.allows(ts("2026-03-28T06:30:00Z"), &paris));
        assert!(s.allows(ts("2026-03-29T06:30:00Z"), &paris));
        // 18:30 UTC is 19:30 CET (inside) before, 20:30 CEST (outside) after.
        assert!(s.allows(ts("2026-03-28T18:30:00Z"), &paris));
        assert!(!s.allows(ts("2026-03-29T18:30:00Z"), &paris));
        // The skipped hour: 01:30 UTC is 03:30 local.
        assert_eq!(
            LocalSlot::of(ts("2026-03-29T01:30:00Z"), &paris).minute,
            3 * 60 + 30
        );
    }

    #[test]
    fn dst_fall_back_allows_the_repeated_hour_twice() {
        // New York falls back on 2026-11-01 at 02:00 EDT -> 01:00 EST.
        let ny = TimeZone::get("America/New_York").unwrap();
        let s: WeeklySchedule = "Sun 01:00-02:00".parse().unwrap();
        assert!(s.allows(ts("2026-11-01T05:30:00Z"), &ny)); // 01:30 EDT
        assert!(s.allows(ts("2026-11-01T06:30:00Z"), &ny)); // 01:30 EST
        assert!(!s.allows(ts("2026-11-01T07:30:00Z"), &ny)); // 02:30 EST
    }

    #[test]
    fn leap_days() {
        let utc = TimeZone::UTC;
        // 2028-02-29 is a Tuesday.
        let slot = LocalSlot::of(ts("2028-02-29T12:00:00Z"), &utc);
        assert_eq!(slot.weekday, 2);
        assert_eq!(slot.date.to_string(), "2028-02-29");
        let s: WeeklySchedule = "Tue 09:00-13:00".parse().unwrap();
        assert!(s.allows(ts("2028-02-29T12:00:00Z"), &utc));
        // The next day is Wednesday 1 March.
        let next = LocalSlot::of(ts("2028-03-01T00:00:00Z"), &utc);
        assert_eq!(
            (next.weekday, next.date.to_string().as_str()),
            (3, "2028-03-01")
        );
        // Auckland is already on the leap day when UTC is on the 28th.
        let akl = TimeZone::get("Pacific/Auckland").unwrap();
        let s = LocalSlot::of(ts("2028-02-28T12:00:00Z"), &akl);
        assert_eq!(s.date.to_string(), "2028-02-29");
    }

    proptest! {
        #[test]
        fn display_round_trips(raw in proptest::collection::vec((1i64..=7, 0i64..1440, 1i64..=1440), 1..12)) {
            let raw: Vec<_> = raw.into_iter().filter(|(_, s, e)| s < e).collect();
            prop_assume!(!raw.is_empty());
            let s = WeeklySchedule::from_intervals(raw).unwrap();
            let back: WeeklySchedule = s.to_string().parse().unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn parser_never_panics(text in ".{0,80}") {
            let _ = text.parse::<WeeklySchedule>();
        }
    }
}

//! A building's reports: the last 30 days of its door decisions as charts drawn on the server
//! (SVG, no script): entries per day by carrier, entries by hour of day, denials by reason.
//! Days and hours are the building's own (its time zone, DST included). Each chart has its
//! numbers as a table beside it, for screen readers and for copying.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use doorman_core::Action;
use doorman_proto::codes::Code;
use doorman_store::EventCount;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::{org_name, signed_in_page};
use crate::api::properties::property_for;
use crate::api::{Api, ApiError, Credentials, Params, Shared};

/// Days the reports cover, today included.
pub(super) const DAYS: i32 = 30;
/// Carriers drawn in their own colour; the rest are summed as "others".
const COLOURS: [&str; 6] = [
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
];
const OTHERS: &str = "#6b7280";

/// The drawing area of every chart, in SVG units.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 200;
/// Room for the axis labels.
const LEFT: u32 = 36;
const BOTTOM: u32 = 20;

pub(super) struct Bar {
    x: u32,
    y: u32,
    w: u32,
    h: u32,
    fill: &'static str,
    title: String,
}

pub(super) struct Label {
    x: u32,
    y: u32,
    text: String,
    anchor: &'static str,
}

pub(super) struct Key {
    fill: &'static str,
    name: String,
}

/// One chart, ready to draw, with its numbers as table rows.
pub(super) struct Chart {
    id: &'static str,
    title: &'static str,
    summary: String,
    width: u32,
    height: u32,
    bars: Vec<Bar>,
    labels: Vec<Label>,
    /// Horizontal grid lines' y.
    grid: Vec<u32>,
    legend: Vec<Key>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// A round top for an axis: 1, 2 or 5 times a power of ten, at least `max` (at least 1).
fn nice_top(max: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let top = step.saturating_mul(m);
            if top >= max {
                return top;
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The y axis: grid lines and labels at 0, half and the top.
fn y_axis(top: u64, plot: u32, labels: &mut Vec<Label>, grid: &mut Vec<u32>) {
    for (value, y) in [(0, plot), (top / 2, plot / 2), (top, 0)] {
        grid.push(y);
        labels.push(Label {
            x: LEFT - 4,
            // The top label sits below the drawing's edge, not across it.
            y: (y + 4).max(10),
            text: value.to_string(),
            anchor: "end",
        });
    }
}

/// Bar height for `value` on an axis topped at `top`.
fn scaled(value: u64, top: u64, plot: u32) -> u32 {
    let h = value.saturating_mul(u64::from(plot)) / top.max(1);
    u32::try_from(h).unwrap_or(plot)
}

/// Entries (allowed decisions) per local day, stacked by carrier.
pub(super) fn per_day(
    counts: &[EventCount],
    tz: &TimeZone,
    first: Date,
    carrier_name: &dyn Fn(&str) -> String,
) -> Chart {
    let days: Vec<Date> = (0..DAYS)
        .filter_map(|i| first.checked_add(jiff::Span::new().days(i)).ok())
        .collect();
    let index: HashMap<Date, usize> = days.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    // Carriers by entries, most first: the first ones get their own colour.
    let mut by_carrier: BTreeMap<String, u64> = BTreeMap::new();
    let mut grid_counts: HashMap<(usize, String), u64> = HashMap::new();
    for c in counts.iter().filter(|c| c.allowed) {
        let Some(&day) = index.get(&tz.to_datetime(c.quarter).date()) else {
            continue;
        };
        let carrier = c.carrier.clone().unwrap_or_default();
        *by_carrier.entry(carrier.clone()).or_default() += c.count;
        *grid_counts.entry((day, carrier)).or_default() += c.count;
    }
    let mut ranked: Vec<(String, u64)> = by_carrier.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let own: Vec<String> = ranked
        .iter()
        .take(COLOURS.len())
        .map(|(c, _)| c.clone())
        .collect();
    let series: Vec<(String, &'static str)> = own
        .iter()
        .cloned()
        .zip(COLOURS)
        .chain((ranked.len() > COLOURS.len()).then(|| (String::new(), OTHERS)))
        .collect();
    let name = |c: &str| {
        if c.is_empty() {
            "no carrier".to_string()
        } else {
            carrier_name(c)
        }
    };
    // Per day, per series (the last "others" sums the rest).
    let mut table = vec![vec![0u64; series.len()]; days.len()];
    for ((day, carrier), n) in &grid_counts {
        let s = own
            .iter()
            .position(|c| c == carrier)
            .unwrap_or(series.len().saturating_sub(1));
        if let Some(cell) = table.get_mut(*day).and_then(|r| r.get_mut(s)) {
            *cell += n;
        }
    }
    let plot = HEIGHT - BOTTOM;
    let top = nice_top(table.iter().map(|r| r.iter().sum()).max().unwrap_or(0));
    let slot = (WIDTH - LEFT) / u32::try_from(days.len().max(1)).unwrap_or(1);
    let (mut bars, mut labels, mut grid) = (Vec::new(), Vec::new(), Vec::new());
    y_axis(top, plot, &mut labels, &mut grid);
    for (i, (day, row)) in days.iter().zip(&table).enumerate() {
        let x = LEFT + u32::try_from(i).unwrap_or(0) * slot + 1;
        let mut y = plot;
        for ((carrier, fill), n) in series.iter().zip(row) {
            if *n == 0 {
                continue;
            }
            let h = scaled(*n, top, plot).max(1);
            y = y.saturating_sub(h);
            bars.push(Bar {
                x,
                y,
                w: slot.saturating_sub(2).max(1),
                h,
                fill,
                title: format!(
                    "{day}: {n} by {}",
                    if fill == &OTHERS {
                        "other carriers".to_string()
                    } else {
                        name(carrier)
                    }
                ),
            });
        }
        if i % 5 == 0 || i + 1 == days.len() {
            labels.push(Label {
                x: x + slot / 2,
                y: HEIGHT - 6,
                text: day.strftime("%m-%d").to_string(),
                anchor: "middle",
            });
        }
    }
    let total: u64 = table.iter().flatten().sum();
    let legend = series
        .iter()
        .map(|(c, fill)| Key {
            fill,
            name: if *fill == OTHERS {
                "other carriers".to_string()
            } else {
                name(c)
            },
        })
        .collect::<Vec<_>>();
    let mut headers = vec!["Day".to_string()];
    headers.extend(legend.iter().map(|k| k.name.clone()));
    let rows = days
        .iter()
        .zip(&table)
        .filter(|(_, r)| r.iter().any(|n| *n > 0))
        .map(|(d, r)| {
            let mut row = vec![d.to_string()];
            row.extend(r.iter().map(ToString::to_string));
            row
        })
        .collect();
    Chart {
        id: "per-day",
        title: "Entries per day, by carrier",
        summary: format!("{total} entries in the last {DAYS} days"),
        width: WIDTH,
        height: HEIGHT,
        bars,
        labels,
        grid,
        legend,
        headers,
        rows,
    }
}

/// Entries (allowed decisions) by the building's hour of day.
pub(super) fn per_hour(counts: &[EventCount], tz: &TimeZone) -> Chart {
    let mut hours = [0u64; 24];
    for c in counts.iter().filter(|c| c.allowed) {
        let h = usize::try_from(tz.to_datetime(c.quarter).hour()).unwrap_or(0);
        if let Some(cell) = hours.get_mut(h) {
            *cell += c.count;
        }
    }
    let plot = HEIGHT - BOTTOM;
    let top = nice_top(hours.iter().copied().max().unwrap_or(0));
    let slot = (WIDTH - LEFT) / 24;
    let (mut bars, mut labels, mut grid) = (Vec::new(), Vec::new(), Vec::new());
    y_axis(top, plot, &mut labels, &mut grid);
    for (h, n) in (0u32..).zip(hours) {
        let x = LEFT + h * slot + 2;
        if n > 0 {
            let bar = scaled(n, top, plot).max(1);
            bars.push(Bar {
                x,
                y: plot - bar,
                w: slot - 4,
                h: bar,
                fill: COLOURS[0],
                title: format!("{h:02}:00-{h:02}:59: {n}"),
            });
        }
        if h % 3 == 0 {
            labels.push(Label {
                x: x + slot / 2,
                y: HEIGHT - 6,
                text: format!("{h:02}"),
                anchor: "middle",
            });
        }
    }
    let busiest = (0u32..)
        .zip(hours)
        .max_by_key(|(h, n)| (*n, std::cmp::Reverse(*h)))
        .filter(|(_, n)| *n > 0);
    Chart {
        id: "per-hour",
        title: "Entries by hour of day",
        summary: match busiest {
            Some((h, n)) => format!("busiest hour {h:02}:00 ({n} entries)"),
            None => "no entries".to_string(),
        },
        width: WIDTH,
        height: HEIGHT,
        bars,
        labels,
        grid,
        legend: Vec::new(),
        headers: vec!["Hour".into(), "Entries".into()],
        rows: (0u32..)
            .zip(hours)
            .filter(|(_, n)| *n > 0)
            .map(|(h, n)| vec![format!("{h:02}:00"), n.to_string()])
            .collect(),
    }
}

/// Denials by reason code, most first (horizontal bars).
pub(super) fn denials(counts: &[EventCount]) -> Chart {
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for c in counts.iter().filter(|c| !c.allowed) {
        *by.entry(c.reason.clone().unwrap_or_else(|| "unknown".into()))
            .or_default() += c.count;
    }
    let mut ranked: Vec<(String, u64)> = by.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    const ROW: u32 = 22;
    const NAMES: u32 = 170;
    let top = nice_top(ranked.first().map_or(0, |r| r.1));
    let span = WIDTH - NAMES - 50;
    let (mut bars, mut labels) = (Vec::new(), Vec::new());
    for (i, (reason, n)) in (0u32..).zip(&ranked) {
        let y = i * ROW + 4;
        let w = scaled(*n, top, span).max(1);
        bars.push(Bar {
            x: NAMES,
            y,
            w,
            h: ROW - 6,
            fill: "#a11d2a",
            title: format!("{reason}: {n}"),
        });
        labels.push(Label {
            x: NAMES - 6,
            y: y + 12,
            text: reason.clone(),
            anchor: "end",
        });
        labels.push(Label {
            x: NAMES + w + 4,
            y: y + 12,
            text: n.to_string(),
            anchor: "start",
        });
    }
    let total: u64 = ranked.iter().map(|r| r.1).sum();
    Chart {
        id: "denials",
        title: "Denials by reason",
        summary: format!("{total} denials in the last {DAYS} days"),
        width: WIDTH,
        height: (u32::try_from(ranked.len()).unwrap_or(0) * ROW + 8).max(30),
        bars,
        labels,
        grid: Vec::new(),
        legend: Vec::new(),
        headers: vec!["Reason".into(), "Denials".into()],
        rows: ranked
            .iter()
            .map(|(r, n)| vec![r.clone(), n.to_string()])
            .collect(),
    }
}

/// The reports' window on the building's calendar: its first day, and the instants the
/// window starts and ends (midnight tomorrow, so today counts whole).
pub(super) fn window(
    tz: &TimeZone,
    now: jiff::Timestamp,
) -> Result<(Date, jiff::Timestamp, jiff::Timestamp), ApiError> {
    days_back(tz, now, DAYS)
}

/// The last `days` days on the building's calendar, today included: the first day, and the
/// instants from its midnight to tomorrow's.
pub(super) fn days_back(
    tz: &TimeZone,
    now: jiff::Timestamp,
    days: i32,
) -> Result<(Date, jiff::Timestamp, jiff::Timestamp), ApiError> {
    let bad = |_| ApiError::new(Code::Internal, "the reports' dates");
    let midnight = |d: Date| {
        tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .map_err(bad)
    };
    let today = tz.to_datetime(now).date();
    let first = today
        .checked_sub(jiff::Span::new().days(days - 1))
        .map_err(bad)?;
    Ok((
        first,
        midnight(first)?,
        midnight(today.tomorrow().map_err(bad)?)?,
    ))
}

#[derive(Template)]
#[template(path = "reports.html")]
struct Reports {
    id: String,
    name: String,
    time_zone: String,
    first: String,
    last: String,
    charts: Vec<Chart>,
}

fn build(api: &Api, who: &crate::api::auth::Authed, param: &str) -> Result<Reports, ApiError> {
    let prop = property_for(api, who, param, Action::ReadAccessLog)?;
    let tz = super::zone(&prop);
    let (first, from, to) = window(&tz, api.now())?;
    let today = tz.to_datetime(api.now()).date();
    let counts = api
        .devices
        .store
        .event_counts(&prop.id, from, to)
        .map_err(|e| ApiError::log(e, "event counts"))?;
    let names = std::cell::RefCell::new(HashMap::<String, String>::new());
    let carrier_name = |c: &str| {
        names
            .borrow_mut()
            .entry(c.to_string())
            .or_insert_with(|| org_name(api, c))
            .clone()
    };
    Ok(Reports {
        id: prop.id.to_string(),
        name: prop.name.clone(),
        time_zone: prop.time_zone.clone(),
        first: first.to_string(),
        last: today.to_string(),
        charts: vec![
            per_day(&counts, &tz, first, &carrier_name),
            per_hour(&counts, &tz),
            denials(&counts),
        ],
    })
}

pub(super) async fn page(State(api): State<Shared>, creds: Credentials, p: Params) -> Response {
    let param = p.get(0).to_string();
    signed_in_page(&api, creds, move |api, who, _| build(api, who, &param)).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn count(at: &str, allowed: bool, carrier: &str, reason: Option<&str>, n: u64) -> EventCount {
        EventCount {
            quarter: at.parse::<Timestamp>().unwrap(),
            allowed,
            carrier: Some(carrier.to_string()),
            reason: reason.map(str::to_string),
            count: n,
        }
    }

    #[test]
    fn axes_top_at_round_numbers() {
        assert_eq!(
            [0, 1, 2, 3, 7, 10, 11, 45, 101, 999].map(nice_top),
            [1, 1, 2, 5, 10, 10, 20, 50, 200, 1000]
        );
    }

    #[test]
    fn days_and_hours_are_the_buildings_own() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        // 23:30 UTC on 30 November is 00:30 on 1 December in Paris.
        let counts = [
            count("2026-11-30T23:30:00Z", true, "org_acme", None, 3),
            count("2026-12-01T09:00:00Z", true, "org_bolt", None, 2),
            count(
                "2026-12-01T09:15:00Z",
                false,
                "org_bolt",
                Some("expired"),
                4,
            ),
            count(
                "2026-12-01T10:00:00Z",
                false,
                "org_acme",
                Some("outside_schedule"),
                1,
            ),
        ];
        let first = "2026-11-02".parse::<Date>().unwrap();
        let day = per_day(&counts, &paris, first, &|c| format!("name of {c}"));
        // Denials are not entries; both entries fall on 1 December, the last day.
        assert_eq!(day.rows, [vec!["2026-12-01", "3", "2"]]);
        assert_eq!(day.headers, ["Day", "name of org_acme", "name of org_bolt"]);
        assert_eq!(day.bars.len(), 2);
        assert!(day.summary.starts_with("5 entries"));
        let hour = per_hour(&counts, &paris);
        assert_eq!(
            hour.rows,
            [vec!["00:00", "3"], vec!["10:00", "2"]],
            "Paris hours"
        );
        let denied = denials(&counts);
        assert_eq!(
            denied.rows,
            [vec!["expired", "4"], vec!["outside_schedule", "1"]]
        );
        // Bars never leave the drawing.
        for c in [&day, &hour, &denied] {
            for b in &c.bars {
                assert!(b.x + b.w <= c.width && b.y + b.h <= c.height, "{}", c.id);
            }
        }
    }

    #[test]
    fn many_carriers_share_an_others_colour() {
        let tz = TimeZone::UTC;
        let counts: Vec<EventCount> = (0..9)
            .map(|i| {
                count(
                    "2026-12-01T12:00:00Z",
                    true,
                    &format!("org_{i}"),
                    None,
                    10 - i,
                )
            })
            .collect();
        let first = "2026-11-02".parse::<Date>().unwrap();
        let c = per_day(&counts, &tz, first, &|c| c.to_string());
        assert_eq!(c.legend.len(), COLOURS.len() + 1);
        assert_eq!(c.legend.last().unwrap().name, "other carriers");
        // The three smallest (4 + 3 + 2) are summed.
        assert_eq!(c.rows[0].last().unwrap(), "9");
    }
}

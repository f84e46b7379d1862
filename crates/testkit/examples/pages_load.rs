//! Server time of the dashboard's heaviest pages with a year of events in the building: the
//! property page, the access log (newest, filtered, 20 pages back), the reports, and the API's
//! event list for comparison; the property page's weight with its assets; and the query plan
//! of each access-log query.
//!
//! `cargo run --release -p doorman-testkit --example pages_load -- [EVENTS] [REQUESTS] [close]`
//! (default 1,000,000 events and 300 timed requests per page, after 20 warm-up requests).
//!
//! 1. A whole server (`TestServer`, SQLite in a temporary data dir): the usual `Building`, its
//!    carrier "Acme Parcel" and a second one, "Swift Couriers", both authorized; two approved
//!    devices, `dev_street` and `dev_garage`; a manager signed in through the `/signin` form.
//! 2. EVENTS device-signed events stored straight into the device store (10,000 per
//!    `DeviceStore::record` call), over the 365 days before the server's clock, in opening
//!    hours: 65 % street door, 60 % Acme, 5 % denials (six reason codes), units 4B and 5A
//!    (8 % each), a hundred others, and one rare unit (`PH-1`, one event in 50,000); each
//!    delivery `D-<n>`. The server's own ingester appends them to the property's access log;
//!    nothing is timed until the store has no unlogged event left and the log's checkpoint
//!    covers them all.
//! 3. Each page: 20 warm-up GETs, then REQUESTS sequential GETs with the session cookie over
//!    loopback, one keep-alive connection (`close`: a new connection per request), each timed
//!    from the request's first byte written to the response's last byte read.
//! 4. The query plans (`EXPLAIN QUERY PLAN`, on `devices.sqlite` opened read-only) of the SQL
//!    `DeviceStore::events` and `DeviceStore::event_counts` run for these pages, and each
//!    query's own time there.
//!
//! With `PAGES_LOAD_KEEP_DB=<file>`, a copy of the seeded `devices.sqlite` is left in `<file>`
//! at the end (`VACUUM INTO`), to try other indexes on with `sqlite3`.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::error::Error;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use doorman_core::{DenyReason, DeviceId, DoorId, PropertyId};
use doorman_device::AccessEvent;
use doorman_proto::{
    ApproveRequest, AuthorizeRequest, CarrierKeyRequest, CreateInstallationRequest,
};
use doorman_store::{DEVICES_FILE, DeviceEvent};
use doorman_testkit::{Building, PASSWORD, TestServer};
use doorman_trust::{PublicKey, SecretKey};
use jiff::{SignedDuration, Timestamp};

type Result<T, E = Box<dyn Error>> = std::result::Result<T, E>;
/// Request headers: (name, value).
type Headers<'a> = [(&'a str, String)];

/// Events per `DeviceStore::record` call.
const BATCH: usize = 10_000;
/// Untimed requests before each page's timed ones.
const WARM_UP: usize = 20;
/// One event in this many is at the rare unit.
const RARE_EVERY: usize = 50_000;
const RARE_UNIT: &str = "PH-1";
/// Opening hours, 06:00-20:00 UTC (07:00-21:00 in Paris in winter).
const OPENS_S: i64 = 6 * 3600;
const OPEN_S: i64 = 14 * 3600;
/// Denial reasons and their weights (out of 100).
const REASONS: [(DenyReason, u64); 6] = [
    (DenyReason::Expired, 35),
    (DenyReason::OutsideSchedule, 25),
    (DenyReason::DailyCapReached, 15),
    (DenyReason::Revoked, 10),
    (DenyReason::Replayed, 10),
    (DenyReason::WrongDoor, 5),
];

#[allow(clippy::disallowed_methods)]
fn timer() -> Instant {
    // Durations of the measurement only; the server runs on the test clock.
    Instant::now()
}

fn err(e: impl std::fmt::Display) -> Box<dyn Error> {
    e.to_string().into()
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(Ok(1_000_000), |a| a.parse())?;
    let requests: usize = args.next().map_or(Ok(300), |a| a.parse())?;
    let keep_alive = args.next().is_none_or(|a| a != "close");
    if requests == 0 {
        return Err("REQUESTS must be at least 1".into());
    }

    println!("# pages_load: {events} events, {requests} timed requests per page");
    println!("load average at start: {}", load_average());
    let setup = timer();
    let server = TestServer::start();
    let b = Building::new(&server);
    let _acme = b.authorize(&server);
    let (swift, swift_org) = server.sign_up("carrier", "Swift Couriers", "admin@swift.example");
    swift
        .set_carrier_key(
            &swift_org,
            &CarrierKeyRequest {
                public_key: None,
                custodial: true,
            },
        )
        .map_err(err)?;
    b.manager
        .authorize(
            &b.property.id,
            &AuthorizeRequest {
                carrier: swift_org.clone(),
                ..b.authorize_request(&server)
            },
        )
        .map_err(err)?;
    // The two devices, approved: the property page lists them with their consents.
    let (street_req, street_key) = b.file_request("dev_street");
    let garage_key = SecretKey::generate(&mut rand::rngs::OsRng);
    let garage_req = b
        .installer
        .file_installation(&CreateInstallationRequest {
            property: b.property.id.clone(),
            door: "garage".to_string(),
            device_id: "dev_garage".to_string(),
            device_key: garage_key.public().to_string(),
            notes: "Relay on the garage door's opener".to_string(),
            installer: None,
        })
        .map_err(err)?;
    for req in [&street_req, &garage_req] {
        b.manager
            .approve(&req.id, &ApproveRequest::default())
            .map_err(err)?;
    }
    let host = server.url.trim_start_matches("http://").to_string();
    let session = sign_in(&host, "manager@coop.example")?;
    let token = b
        .manager
        .token()
        .ok_or("the manager's client has no token")?
        .to_string();
    println!(
        "set up (server, building, 2 carriers, 2 devices, signed in): {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // A year of events.
    let property = PropertyId::new(b.property.id.as_str()).map_err(err)?;
    let devices = [
        Device {
            id: DeviceId::new("dev_street").map_err(err)?,
            door: DoorId::new("street").map_err(err)?,
            key: street_key,
        },
        Device {
            id: DeviceId::new("dev_garage").map_err(err)?,
            door: DoorId::new("garage").map_err(err)?,
            key: garage_key,
        },
    ];
    let carriers = [Carrier::new(&b.carrier_org, 1), Carrier::new(&swift_org, 2)];
    let now = server.clock.now();
    let mut seeder = Seeder::new(&property, &devices, &carriers, now, events)?;
    let store = &server.api().devices.store;
    let seeding = timer();
    let mut stored = 0;
    while stored < events {
        let n = BATCH.min(events - stored);
        let rows = seeder.batch(n)?;
        let fresh = store.record(rows).map_err(err)?;
        if fresh.iter().any(|f| !f) {
            return Err("an event was stored twice".into());
        }
        stored += n;
        if stored % 100_000 == 0 || stored == events {
            println!(
                "  stored {stored} events ({:.1} s)",
                seeding.elapsed().as_secs_f64()
            );
        }
    }
    let seeded = seeding.elapsed().as_secs_f64();
    println!(
        "seeded: {events} events in {seeded:.1} s ({:.0} events/s, signed by the devices' keys, {} record calls)",
        events as f64 / seeded.max(1e-9),
        events.div_ceil(BATCH)
    );
    let log = server.api().access.log(&property).map_err(err)?;
    loop {
        let unlogged = store.unlogged(1).map_err(err)?.is_empty();
        let size = log.latest_checkpoint().map_err(err)?.map_or(0, |c| c.size);
        if unlogged && size >= events as u64 {
            break;
        }
        if seeding.elapsed() > Duration::from_secs(4 * 3600) {
            return Err(format!("the access log reached only {size} of {events} events").into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let logged = seeding.elapsed().as_secs_f64();
    println!(
        "logged: all {events} events in the property's access log (checkpointed) {logged:.1} s after seeding began, {:.1} s after it ended",
        logged - seeded
    );
    let db = server.data_dir().join(DEVICES_FILE);
    println!(
        "devices.sqlite: {:.0} MB (+ WAL {:.0} MB); data dir: {:.0} MB",
        file_mb(&db),
        file_mb(&db.with_extension("sqlite-wal")),
        dir_bytes(server.data_dir()) as f64 / 1e6
    );
    seeder.print_mix();

    // The pages.
    let id = &b.property.id;
    let cookie = vec![("Cookie", session.clone())];
    let bearer = vec![("Authorization", format!("Bearer {token}"))];
    let mut http = Http::new(&host, keep_alive);
    let log_path = format!("/app/properties/{id}/log");
    let today = jiff::tz::TimeZone::UTC.to_datetime(now).date();
    let week_from = today.checked_sub(jiff::Span::new().days(61)).map_err(err)?;
    let week_to = week_from
        .checked_add(jiff::Span::new().days(6))
        .map_err(err)?;
    let rare = seeder.rarest_unit();
    let page20 = page_back(&mut http, &cookie, &log_path, 19)?;
    let targets: Vec<(&str, String, &Headers<'_>)> = vec![
        ("property page", format!("/app/properties/{id}"), &cookie),
        ("access log, newest", log_path.clone(), &cookie),
        (
            "log, carrier Acme",
            format!("{log_path}?carrier={}", b.carrier_org),
            &cookie,
        ),
        (
            "log, rare unit",
            format!("{log_path}?unit={}", url_encode(&rare)),
            &cookie,
        ),
        (
            "log, result=deny",
            format!("{log_path}?result=deny"),
            &cookie,
        ),
        (
            "log, a week 2 months ago",
            format!("{log_path}?from={week_from}&to={week_to}"),
            &cookie,
        ),
        ("log, 20th page back", page20.clone(), &cookie),
        (
            "reports (30 days)",
            format!("/app/properties/{id}/reports"),
            &cookie,
        ),
        (
            "API events?limit=100",
            format!("/api/v1/properties/{id}/events?limit=100"),
            &bearer,
        ),
    ];
    println!();
    println!(
        "## server time, {} ({WARM_UP} warm-up + {requests} timed sequential requests each)",
        if keep_alive {
            "one keep-alive connection"
        } else {
            "a new connection per request"
        }
    );
    println!("load average before: {}", load_average());
    println!(
        "| page | p50 ms | p90 ms | p99 ms | max ms | mean ms | bytes | rows |\n|---|---:|---:|---:|---:|---:|---:|---:|"
    );
    let started = timer();
    for (name, path, headers) in &targets {
        let s = measure(&mut http, path, headers, requests)?;
        println!(
            "| {name} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} |",
            s.p50, s.p90, s.p99, s.max, s.mean, s.bytes, s.rows
        );
    }
    println!(
        "(the pages took {:.0} s; load average after: {})",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    for (name, path, _) in &targets {
        println!("  {name}: GET {}", path.replace(id.as_str(), "{id}"));
    }

    // The weight.
    println!();
    println!("## weight (bytes, uncompressed: the server sends no Content-Encoding)");
    let property_html = get_ok(&mut http, &format!("/app/properties/{id}"), &cookie)?;
    let log_html = get_ok(&mut http, &log_path, &cookie)?;
    let mut assets = BTreeMap::new();
    for a in ["/assets/doorman.css", "/assets/icon.svg", "/assets/feed.js"] {
        let r = get_ok(&mut http, a, &[])?;
        assets.insert(a, r.body.len());
    }
    let asset = |a: &str| assets.get(a).copied().unwrap_or(0);
    let css_icon = asset("/assets/doorman.css") + asset("/assets/icon.svg");
    println!(
        "property page: HTML {} + doorman.css {} + icon.svg {} = {} bytes ({:.1} KB; target 200 KB)",
        property_html.body.len(),
        asset("/assets/doorman.css"),
        asset("/assets/icon.svg"),
        property_html.body.len() + css_icon,
        (property_html.body.len() + css_icon) as f64 / 1024.0
    );
    println!(
        "access log page: HTML {} + doorman.css + icon.svg {} + feed.js {} = {} bytes ({:.1} KB)",
        log_html.body.len(),
        css_icon,
        asset("/assets/feed.js"),
        log_html.body.len() + css_icon + asset("/assets/feed.js"),
        (log_html.body.len() + css_icon + asset("/assets/feed.js")) as f64 / 1024.0
    );
    println!(
        "content-encoding of the property page: {}",
        property_html.header("content-encoding").unwrap_or("none")
    );

    // The query plans.
    println!();
    println!(
        "## query plans (devices.sqlite opened read-only, the SQL of DeviceStore::events / event_counts)"
    );
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let analyzed: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'sqlite_stat1'",
            [],
            |r| r.get(0),
        )
        .unwrap_or(false);
    println!(
        "SQLite {}; ANALYZE statistics: {}",
        rusqlite::version(),
        if analyzed { "present" } else { "none" }
    );
    let tz = jiff::tz::TimeZone::get("Europe/Paris").unwrap_or(jiff::tz::TimeZone::UTC);
    let midnight = |d: jiff::civil::Date| -> Result<i64> {
        Ok(tz
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .map_err(err)?
            .as_millisecond())
    };
    let cursor = page20
        .split("before=")
        .nth(1)
        .map(|c| url_decode(c.split('&').next().unwrap_or_default()))
        .and_then(|c| parse_cursor(&c))
        .ok_or("no cursor in the 20th page's link")?;
    let newest = Query {
        property: id.clone(),
        limit: 51,
        newest_first: true,
        ..Query::default()
    };
    let queries = [
        ("access log, newest", newest.clone()),
        (
            "log, carrier Acme",
            Query {
                carrier: Some(b.carrier_org.clone()),
                ..newest.clone()
            },
        ),
        (
            "log, rare unit",
            Query {
                unit: Some(rare.clone()),
                ..newest.clone()
            },
        ),
        (
            "log, result=deny",
            Query {
                allowed: Some(false),
                ..newest.clone()
            },
        ),
        (
            "log, a week 2 months ago",
            Query {
                from: Some(midnight(week_from)?),
                to: Some(midnight(week_to.tomorrow().map_err(err)?)?),
                ..newest.clone()
            },
        ),
        (
            "log, 20th page back",
            Query {
                after: Some(cursor),
                ..newest.clone()
            },
        ),
        (
            "API events?limit=100",
            Query {
                limit: 101,
                newest_first: false,
                ..newest.clone()
            },
        ),
    ];
    for (name, q) in &queries {
        let (sql, args) = q.sql();
        print_plan(&conn, name, &sql, &args)?;
    }
    let first_day = tz
        .to_datetime(now)
        .date()
        .checked_sub(jiff::Span::new().days(29))
        .map_err(err)?;
    let counts_sql = "SELECT at_ms / ?4, allowed, carrier, reason, COUNT(*) FROM events \
         WHERE property = ?1 AND at_ms >= ?2 AND at_ms < ?3 GROUP BY 1, 2, 3, 4";
    let counts_args = vec![
        rusqlite::types::Value::Text(id.clone()),
        rusqlite::types::Value::Integer(midnight(first_day)?),
        rusqlite::types::Value::Integer(midnight(
            tz.to_datetime(now).date().tomorrow().map_err(err)?,
        )?),
        rusqlite::types::Value::Integer(15 * 60 * 1000),
    ];
    print_plan(&conn, "reports (30 days)", counts_sql, &counts_args)?;
    println!("load average at the end: {}", load_average());
    // A copy of the seeded device store, to try other indexes on without seeding again.
    if let Some(keep) = std::env::var_os("PAGES_LOAD_KEEP_DB") {
        let t = timer();
        conn.execute("VACUUM INTO ?1", [keep.to_string_lossy()])?;
        println!(
            "kept a copy of devices.sqlite in {} ({:.0} s)",
            keep.to_string_lossy(),
            t.elapsed().as_secs_f64()
        );
    }
    drop(conn);
    server.stop();
    Ok(())
}

fn file_mb(p: &std::path::Path) -> f64 {
    std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6)
}

fn dir_bytes(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |entries| {
        entries
            .filter_map(std::result::Result::ok)
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => dir_bytes(&e.path()),
                _ => e.metadata().map_or(0, |m| m.len()),
            })
            .sum()
    })
}

/// `/proc/loadavg`'s first three fields ("?" elsewhere).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "?".to_string(),
        |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
    )
}

// ---------------------------------------------------------------------------------------
// The events.

struct Device {
    id: DeviceId,
    door: DoorId,
    key: SecretKey,
}

/// A carrier as its devices' events name it: its org id, its authorization and its drivers.
struct Carrier {
    org: String,
    authorization: Vec<u8>,
    drivers: Vec<PublicKey>,
}

impl Carrier {
    fn new(org: &str, n: u8) -> Carrier {
        Carrier {
            org: org.to_string(),
            authorization: vec![n; 32],
            drivers: (0..8u8)
                .map(|d| {
                    SecretKey::from_seed(&[n.wrapping_mul(16).wrapping_add(d + 1); 32]).public()
                })
                .collect(),
        }
    }
}

/// SplitMix64: the same events on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True `percent` times in a hundred.
    fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn bytes32(&mut self) -> Vec<u8> {
        (0..4).flat_map(|_| self.next().to_le_bytes()).collect()
    }
}

/// Makes the year's events in time order, a batch at a time.
struct Seeder<'a> {
    property: &'a PropertyId,
    devices: &'a [Device; 2],
    carriers: &'a [Carrier; 2],
    /// Midnight UTC 365 days before the server's day: the first day of opening hours.
    origin_s: i64,
    total: usize,
    next: usize,
    seqs: [u64; 2],
    rng: Rng,
    units: Vec<String>,
    per_unit: BTreeMap<String, u64>,
    denials: u64,
    per_device: [u64; 2],
    per_carrier: [u64; 2],
}

impl<'a> Seeder<'a> {
    fn new(
        property: &'a PropertyId,
        devices: &'a [Device; 2],
        carriers: &'a [Carrier; 2],
        now: Timestamp,
        total: usize,
    ) -> Result<Seeder<'a>> {
        let day = now.as_second().div_euclid(86_400) * 86_400;
        let origin_s = day - 365 * 86_400;
        // Floors 1-20, flats C-G: a hundred more units (4B and 5A are not among them).
        let units = (1..=20)
            .flat_map(|f| ["C", "D", "E", "F", "G"].map(|l| format!("{f}{l}")))
            .collect();
        if origin_s + 364 * 86_400 + OPENS_S + OPEN_S > now.as_second() {
            return Err("the opening hours of the last day are after the server's now".into());
        }
        Ok(Seeder {
            property,
            devices,
            carriers,
            origin_s,
            total,
            next: 0,
            seqs: [0; 2],
            rng: Rng(0x5eed_d00a),
            units,
            per_unit: BTreeMap::new(),
            denials: 0,
            per_device: [0; 2],
            per_carrier: [0; 2],
        })
    }

    /// The next `n` events, signed by their devices (on every core), as stored.
    fn batch(&mut self, n: usize) -> Result<Vec<DeviceEvent>> {
        let specs: Vec<(usize, AccessEvent, Timestamp)> =
            (0..n).map(|_| self.event()).collect::<Result<_>>()?;
        let threads = std::thread::available_parallelism().map_or(2, |t| t.get());
        let per = specs.len().div_ceil(threads).max(1);
        let devices = self.devices;
        std::thread::scope(|scope| {
            let parts: Vec<_> = specs
                .chunks(per)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(d, e, received)| {
                                let device = devices.get(*d).ok_or("no such device")?;
                                let signed = e.sign(&device.key).map_err(|e| e.to_string())?;
                                Ok(doorman_server::devices::stored_event(
                                    &device.id, e, &signed, *received,
                                ))
                            })
                            .collect::<Result<Vec<DeviceEvent>, String>>()
                    })
                })
                .collect();
            let mut rows = Vec::with_capacity(n);
            for p in parts {
                rows.extend(p.join().map_err(|_| "a signing thread panicked")??);
            }
            Ok(rows)
        })
    }

    /// The next event (device index, event, when the server received it).
    fn event(&mut self) -> Result<(usize, AccessEvent, Timestamp)> {
        let i = self.next;
        self.next += 1;
        // Spread evenly over 365 days of opening hours, with jitter below the spacing.
        let total_s = 365 * OPEN_S;
        let total = i64::try_from(self.total)?;
        let step = (total_s / total.max(1)).max(1);
        let open_s = (i64::try_from(i)? * total_s / total.max(1)
            + i64::try_from(self.rng.below(u64::try_from(step)?))?)
        .min(total_s - 1);
        let at_s = self.origin_s + open_s / OPEN_S * 86_400 + OPENS_S + open_s % OPEN_S;
        let at = Timestamp::from_second(at_s)?;
        let received = at
            .checked_add(SignedDuration::from_secs(i64::try_from(
                2 + self.rng.below(28),
            )?))
            .map_err(err)?;
        let d = usize::from(!self.rng.percent(65));
        let device = self.devices.get(d).ok_or("no such device")?;
        let seq = self.seqs.get_mut(d).ok_or("no such device")?;
        *seq += 1;
        let c = usize::from(!self.rng.percent(60));
        let carrier = self.carriers.get(c).ok_or("no such carrier")?;
        if let Some(n) = self.per_device.get_mut(d) {
            *n += 1;
        }
        if let Some(n) = self.per_carrier.get_mut(c) {
            *n += 1;
        }
        let base = AccessEvent {
            property: self.property.clone(),
            door: device.door.clone(),
            device_key: device.key.public(),
            seq: *seq,
            at,
            reason: None,
            pass: Some(self.rng.bytes32()),
            authorization: None,
            carrier: Some(carrier.org.clone()),
            unit: None,
            delivery: None,
            driver_key: None,
            pulse_ms: None,
        };
        // As `AccessEvent::of_decision` makes them: a denial names its pass and carrier only.
        if self.rng.percent(5) {
            self.denials += 1;
            let mut pick = self.rng.below(100);
            let mut reason = DenyReason::Expired;
            for (r, w) in REASONS {
                if pick < w {
                    reason = r;
                    break;
                }
                pick -= w;
            }
            return Ok((
                d,
                AccessEvent {
                    reason: Some(reason),
                    ..base
                },
                received,
            ));
        }
        let unit = if i % RARE_EVERY == RARE_EVERY / 2 {
            RARE_UNIT.to_string()
        } else {
            match self.rng.below(100) {
                0..8 => "4B".to_string(),
                8..16 => "5A".to_string(),
                _ => {
                    let k = usize::try_from(self.rng.below(self.units.len() as u64))?;
                    self.units.get(k).cloned().ok_or("no such unit")?
                }
            }
        };
        *self.per_unit.entry(unit.clone()).or_default() += 1;
        let driver = usize::try_from(self.rng.below(carrier.drivers.len() as u64))?;
        Ok((
            d,
            AccessEvent {
                authorization: Some(carrier.authorization.clone()),
                unit: Some(unit),
                delivery: Some(format!("D-{}", i + 1)),
                driver_key: carrier.drivers.get(driver).copied(),
                pulse_ms: Some(3000),
                ..base
            },
            received,
        ))
    }

    /// The unit with the fewest events.
    fn rarest_unit(&self) -> String {
        self.per_unit
            .iter()
            .min_by_key(|(_, n)| **n)
            .map_or_else(|| RARE_UNIT.to_string(), |(u, _)| u.clone())
    }

    fn print_mix(&self) {
        let count = |u: &str| self.per_unit.get(u).copied().unwrap_or(0);
        let others: Vec<u64> = self.units.iter().map(|u| count(u)).collect();
        let [street, garage] = self.per_device;
        let [acme, swift] = self.per_carrier;
        println!(
            "mix: street {} / garage {}; Acme {} / Swift {}; denials {}; 4B {}, 5A {}, the other 100 units {}-{} each, rare unit {} {}",
            street,
            garage,
            acme,
            swift,
            self.denials,
            count("4B"),
            count("5A"),
            others.iter().min().copied().unwrap_or(0),
            others.iter().max().copied().unwrap_or(0),
            self.rarest_unit(),
            count(&self.rarest_unit()),
        );
    }
}

// ---------------------------------------------------------------------------------------
// HTTP/1.1 over loopback, as a browser sends it (the session cookie), timed.

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "set-cookie")
            .map(|(_, v)| v.split(';').next().unwrap_or_default().to_string())
            .find(|v| v.starts_with(&format!("{name}=")))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

struct Http {
    host: String,
    keep_alive: bool,
    conn: Option<BufReader<TcpStream>>,
}

impl Http {
    fn new(host: &str, keep_alive: bool) -> Http {
        Http {
            host: host.to_string(),
            keep_alive,
            conn: None,
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &Headers<'_>,
        body: &str,
    ) -> Result<Response> {
        let reused = self.conn.is_some();
        match self.once(method, path, headers, body) {
            // The server closed an idle connection: once more on a new one.
            Err(_) if reused => {
                self.conn = None;
                self.once(method, path, headers, body)
            }
            r => r,
        }
    }

    fn once(
        &mut self,
        method: &str,
        path: &str,
        headers: &Headers<'_>,
        body: &str,
    ) -> Result<Response> {
        let mut conn = match self.conn.take() {
            Some(c) => c,
            None => {
                let s = TcpStream::connect(&self.host)?;
                s.set_nodelay(true)?;
                s.set_read_timeout(Some(Duration::from_secs(120)))?;
                BufReader::with_capacity(64 * 1024, s)
            }
        };
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if !self.keep_alive {
            req.push_str("Connection: close\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        req.push_str(body);
        conn.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
        let mut hs = Vec::new();
        loop {
            line.clear();
            if conn.read_line(&mut line)? == 0 {
                return Err("the connection closed in the headers".into());
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                hs.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
            }
        }
        let mut r = Response {
            status,
            headers: hs,
            body: Vec::new(),
        };
        let mut reusable = self.keep_alive && r.header("connection") != Some("close");
        if r.header("transfer-encoding")
            .is_some_and(|t| t.contains("chunked"))
        {
            loop {
                line.clear();
                conn.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)?;
                let mut chunk = vec![0; size + 2];
                conn.read_exact(&mut chunk)?;
                chunk.truncate(size);
                r.body.extend(chunk);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = r.header("content-length") {
            let mut b = vec![0; n.parse()?];
            conn.read_exact(&mut b)?;
            r.body = b;
        } else {
            conn.read_to_end(&mut r.body)?;
            reusable = false;
        }
        if reusable {
            self.conn = Some(conn);
        }
        Ok(r)
    }
}

fn get_ok(http: &mut Http, path: &str, headers: &[(&str, String)]) -> Result<Response> {
    let r = http.request("GET", path, headers, "")?;
    if r.status != 200 {
        return Err(format!("GET {path}: {} {}", r.status, r.text()).into());
    }
    Ok(r)
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.split(&marker)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .map(str::to_string)
}

/// Signs in through the form like a browser; the session cookie pair.
fn sign_in(host: &str, email: &str) -> Result<String> {
    let mut http = Http::new(host, false);
    let form = http.request("GET", "/signin", &[], "")?;
    let csrf_cookie = form
        .set_cookie("doorman_csrf")
        .ok_or("no CSRF cookie on the sign-in form")?;
    let csrf = hidden(&form.text(), "csrf").ok_or("no CSRF field on the sign-in form")?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("email", email), ("password", PASSWORD), ("csrf", &csrf)])
        .finish();
    let r = http.request(
        "POST",
        "/signin",
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Cookie", csrf_cookie),
        ],
        &body,
    )?;
    if r.status != 303 {
        return Err(format!("sign-in refused: {} {}", r.status, r.text()).into());
    }
    r.set_cookie("doorman_session")
        .ok_or_else(|| "no session cookie".into())
}

/// The access log `pages` pages back from the newest, following each page's `before=` link.
fn page_back(http: &mut Http, cookie: &Headers<'_>, newest: &str, pages: usize) -> Result<String> {
    let mut path = newest.to_string();
    for _ in 0..pages {
        let html = get_ok(http, &path, cookie)?.text();
        path = html
            .split("<a href=\"")
            .filter_map(|s| s.split('"').next())
            .find(|h| h.contains("before="))
            .ok_or("no older page")?
            .replace("&amp;", "&")
            .replace("&#38;", "&");
    }
    Ok(path)
}

struct Stats {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    mean: f64,
    bytes: String,
    rows: usize,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n.max(1));
    sorted.get(rank - 1).copied().unwrap_or(0.0)
}

fn measure(http: &mut Http, path: &str, headers: &Headers<'_>, requests: usize) -> Result<Stats> {
    for _ in 0..WARM_UP {
        get_ok(http, path, headers)?;
    }
    let mut times = Vec::with_capacity(requests);
    let (mut least, mut most, mut rows) = (usize::MAX, 0, 0);
    for _ in 0..requests {
        let t = timer();
        let r = get_ok(http, path, headers)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        least = least.min(r.body.len());
        most = most.max(r.body.len());
        let html = r.text();
        // Entries shown: table rows, less the header rows.
        rows = html
            .matches("</tr>")
            .count()
            .saturating_sub(html.matches("</tr></thead>").count());
    }
    times.sort_by(f64::total_cmp);
    Ok(Stats {
        p50: percentile(&times, 0.50),
        p90: percentile(&times, 0.90),
        p99: percentile(&times, 0.99),
        max: times.last().copied().unwrap_or(0.0),
        mean: times.iter().sum::<f64>() / times.len().max(1) as f64,
        bytes: if least == most {
            most.to_string()
        } else {
            format!("{least}-{most}")
        },
        rows,
    })
}

fn url_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn url_decode(s: &str) -> String {
    form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// A page link's cursor, `ms:seq:device` (as the server's `cursor` writes it).
fn parse_cursor(s: &str) -> Option<(i64, String, i64)> {
    let mut parts = s.splitn(3, ':');
    let at = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    Some((at, parts.next()?.to_string(), seq))
}

// ---------------------------------------------------------------------------------------
// The access-log queries, as `DeviceStore::events` writes them.

#[derive(Clone, Default)]
struct Query {
    property: String,
    door: Option<String>,
    carrier: Option<String>,
    unit: Option<String>,
    allowed: Option<bool>,
    from: Option<i64>,
    to: Option<i64>,
    after: Option<(i64, String, i64)>,
    limit: i64,
    newest_first: bool,
}

impl Query {
    /// The SQL and arguments, built as `DeviceStore::events` builds them.
    fn sql(&self) -> (String, Vec<rusqlite::types::Value>) {
        use rusqlite::types::Value;
        let mut sql = String::from(
            "SELECT device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, d.signed, log_index FROM events JOIN event_docs d USING (id) WHERE 1 = 1",
        );
        let mut args: Vec<Value> = Vec::new();
        let mut add = |clause: &str, v: Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        add(" AND property = ?", Value::Text(self.property.clone()));
        if let Some(d) = &self.door {
            add(" AND door = ?", Value::Text(d.clone()));
        }
        if let Some(c) = &self.carrier {
            add(" AND carrier = ?", Value::Text(c.clone()));
        }
        if let Some(u) = &self.unit {
            add(" AND unit = ?", Value::Text(u.clone()));
        }
        if let Some(a) = self.allowed {
            add(" AND allowed = ?", Value::Integer(i64::from(a)));
        }
        if let Some(f) = self.from {
            add(" AND at_ms >= ?", Value::Integer(f));
        }
        if let Some(t) = self.to {
            add(" AND at_ms < ?", Value::Integer(t));
        }
        let (past, order) = if self.newest_first {
            ("<", " ORDER BY at_ms DESC, device DESC, seq DESC LIMIT ?")
        } else {
            (">", " ORDER BY at_ms, device, seq LIMIT ?")
        };
        if let Some((at, device, seq)) = &self.after {
            add(
                &format!(" AND (at_ms, device, seq) {past} (?"),
                Value::Integer(*at),
            );
            add(", ?", Value::Text(device.clone()));
            add(", ?)", Value::Integer(*seq));
        }
        add(order, Value::Integer(self.limit));
        (sql, args)
    }
}

/// Prints the plan of `sql` and its own time on this connection (p50 and max of 20 runs).
fn print_plan(
    conn: &rusqlite::Connection,
    name: &str,
    sql: &str,
    args: &[rusqlite::types::Value],
) -> Result<()> {
    let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let lines: Vec<String> = plan
        .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))?
        .collect::<rusqlite::Result<_>>()?;
    let mut q = conn.prepare(sql)?;
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..20 {
        let t = timer();
        let mut r = q.query(rusqlite::params_from_iter(args))?;
        rows = 0;
        while let Some(row) = r.next()? {
            // Read every column, as the server does (the signed event included).
            for c in 0..row.as_ref().column_count() {
                let _: rusqlite::types::Value = row.get(c)?;
            }
            rows += 1;
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "- {name}: {rows} rows, SQL alone p50 {:.1} ms, max {:.1} ms\n    {}",
        percentile(&times, 0.5),
        times.last().copied().unwrap_or(0.0),
        lines.join("\n    ")
    );
    Ok(())
}

//! Load and start-up figures of the control plane (issue 4) against a real `doorman serve`
//! process on loopback; docs/benchmarks.md ("Control plane (issue 4)") has the results and
//! scripts/bench-control.sh runs everything end to end. Subcommands:
//!
//! ```text
//! control_load mixed     --url U --setup-code C --server-pid P [--rate 500] [--duration 30] [--warmup 5] [--workers 64] [--mix name=weight,...] [--timeline 1]
//! control_load mint      --url U --setup-code C --server-pid P [--concurrency 4,8,16,32] [--duration 20]
//! control_load signin    --url U --setup-code C [--count 20]
//! control_load coldstart --bin target/release/doorman --dir DIR [--runs 10]
//! control_load memory    --pid P
//! ```
//!
//! `mixed`, `mint` and `signin` first set up a building through the API (the operator with
//! the setup code `doorman serve` printed, a property organisation with its owner and a
//! manager, a verified custodial property with doors and units, an installer with filed and
//! approved requests, a carrier with a custodial key and drivers) and then load the server
//! with two API tokens: the carrier's dispatcher's and the manager's.
//!
//! `mixed` is open loop: request `i` is due at `start + i / rate` whatever happened before,
//! and its latency is measured from that due time, not from when a worker got round to
//! sending it (so a stall that delays later requests shows in their latencies instead of
//! being hidden: no coordinated omission). `mint` is closed loop: N clients mint passes
//! back to back.

// A benchmark driver: a failed setup aborts the run loudly, and its own timer reads the
// monotonic clock (the workspace bans that everywhere else).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use doorman_client::{Client, ClientError};
use doorman_proto::*;
use jiff::{SignedDuration, Timestamp};

const PASSWORD: &str = "correct horse battery staple";
const MANAGER_EMAIL: &str = "manager@coop.example";

#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    // The benchmark's own timer.
    Instant::now()
}

#[allow(clippy::disallowed_methods)]
fn wall() -> Timestamp {
    // Pass windows start now, on the same wall clock the server reads.
    Timestamp::try_from(SystemTime::now()).expect("a representable time")
}

// ---- Arguments -----------------------------------------------------------------------------

struct Args(BTreeMap<String, String>);

impl Args {
    fn parse(rest: &[String]) -> Args {
        let mut map = BTreeMap::new();
        let mut it = rest.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .unwrap_or_else(|| panic!("expected --flag, got {k}"));
            let v = it.next().unwrap_or_else(|| panic!("--{key} needs a value"));
            map.insert(key.to_string(), v.clone());
        }
        Args(map)
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn req(&self, k: &str) -> &str {
        self.get(k).unwrap_or_else(|| panic!("--{k} is required"))
    }
    fn num<T: std::str::FromStr>(&self, k: &str, default: T) -> T {
        self.get(k).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("--{k}: not a number: {v}"))
        })
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        panic!(
            "usage: control_load mixed|mint|signin|coldstart|memory --flags (see the file's docs)"
        );
    };
    let args = Args::parse(rest);
    match cmd.as_str() {
        "mixed" => mixed(&args),
        "mint" => mint(&args),
        "signin" => signin(&args),
        "coldstart" => coldstart(&args),
        "memory" => {
            let pid: u32 = args.num("pid", 0);
            println!("{}", memory_line(pid));
        }
        other => panic!("unknown subcommand {other}"),
    }
}

// ---- /proc ---------------------------------------------------------------------------------

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, a)| a);
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name: field 3 (state) is f[0], so utime (14) is f[11], stime (15) f[12].
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn memory_line(pid: u32) -> String {
    format!(
        "pid {pid}: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
        status_kb(pid, "VmRSS") as f64 / 1024.0,
        status_kb(pid, "VmHWM") as f64 / 1024.0
    )
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bytes a process caused to be written to storage (`write_bytes` of /proc/<pid>/io).
fn written_bytes(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes written to every whole disk of the machine (/proc/diskstats, 512-byte sectors),
/// and its syncs (flush requests).
fn disk_written() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    let mut bytes = 0;
    let mut flushes = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // Whole disks only (vda, not its partition vda1), so nothing is counted twice.
        let Some(name) = f.get(2) else { continue };
        let whole = if let Some(rest) = name.strip_prefix("nvme") {
            !rest.contains('p')
        } else {
            (name.starts_with("vd") || name.starts_with("sd"))
                && !name.ends_with(|c: char| c.is_ascii_digit())
        };
        if !whole {
            continue;
        }
        bytes += f.get(9).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 512;
        flushes += f.get(18).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    (bytes, flushes)
}

/// The machine's CPUs.
fn cpu_count() -> f64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count()
        .max(1) as f64
}

/// The machine's CPU time so far: (busy, steal, total) in ticks, from /proc/stat's `cpu` line.
fn machine_cpu() -> (u64, u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let get = |i: usize| f.get(i).copied().unwrap_or(0);
    let total: u64 = (0..8).map(get).sum();
    let idle = get(3) + get(4);
    (total.saturating_sub(idle), get(7), total)
}

/// CPU use of the server and of this process over a timed section, and the disk's writes.
struct CpuMeter {
    server: Option<String>,
    tck: f64,
    server0: u64,
    self0: u64,
    written0: u64,
    disk0: (u64, u64),
    machine0: (u64, u64, u64),
    t0: Instant,
}

impl CpuMeter {
    fn start(server_pid: Option<&str>) -> CpuMeter {
        CpuMeter {
            server: server_pid.map(str::to_string),
            tck: clk_tck(),
            server0: server_pid.map_or(0, cpu_ticks),
            self0: cpu_ticks("self"),
            written0: server_pid.map_or(0, written_bytes),
            disk0: disk_written(),
            machine0: machine_cpu(),
            t0: now(),
        }
    }
    /// What the server wrote to storage and what the whole disk took meanwhile (MiB, and
    /// the disk's flush requests), as a sentence.
    fn disk(&self, server_cpu: Option<f64>, self_cpu: f64) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let server = self
            .server
            .as_deref()
            .map_or(0, |p| written_bytes(p).saturating_sub(self.written0));
        let (bytes, flushes) = disk_written();
        let (busy, steal, total) = machine_cpu();
        let dt = total.saturating_sub(self.machine0.2).max(1) as f64;
        let busy_pct = busy.saturating_sub(self.machine0.0) as f64 / dt * 100.0;
        // The machine's busy time in "% of one core", less the server's and ours.
        let others = busy_pct * cpu_count() - server_cpu.unwrap_or(0.0) - self_cpu;
        format!(
            "the server wrote {:.1} MiB; the disk took {:.1} MiB and {} flushes from everyone; the machine's CPUs were {busy_pct:.0} % busy ({:.0} % stolen by the host): other processes took about {:.0} % of one core",
            mib(server),
            mib(bytes.saturating_sub(self.disk0.0)),
            flushes.saturating_sub(self.disk0.1),
            steal.saturating_sub(self.machine0.1) as f64 / dt * 100.0,
            others.max(0.0)
        )
    }
    /// (server %, this process %) of one CPU.
    fn stop(&self) -> (Option<f64>, f64) {
        let secs = self.t0.elapsed().as_secs_f64();
        let pct = |ticks: u64| ticks as f64 / self.tck / secs * 100.0;
        let server = self
            .server
            .as_deref()
            .map(|p| pct(cpu_ticks(p).saturating_sub(self.server0)));
        (server, pct(cpu_ticks("self").saturating_sub(self.self0)))
    }
}

// ---- The building, set up through the API ----------------------------------------------------

#[derive(Clone)]
struct Cast {
    url: String,
    property: String,
    carrier_org: String,
    /// The authorization passes are minted on.
    authorization: String,
    /// Authorizations the load may revoke (spares made at setup, then those it makes).
    revocable: Arc<Mutex<Vec<String>>>,
    drivers: Vec<String>,
    units: Vec<String>,
    dispatcher_token: String,
    manager_token: String,
}

fn authorize_request(carrier: &str) -> AuthorizeRequest {
    AuthorizeRequest {
        carrier: carrier.to_string(),
        doors: vec!["street".to_string(), "garage".to_string()],
        schedule: "Mon-Fri 08:00-20:00; Sat 09:00-13:00".to_string(),
        daily_cap: Some(20),
        not_before: None,
        not_after: wall()
            .checked_add(SignedDuration::from_hours(24 * 365))
            .expect("in range"),
        max_pass_duration: None,
        authorization: None,
    }
}

fn setup(url: &str, code: &str) -> Cast {
    let t0 = now();
    let anon = Client::new(url);
    let op = anon
        .setup(&SetupRequest {
            code: code.to_string(),
            org_name: "Doorman Operations".to_string(),
            email: "operator@doorman.example".to_string(),
            name: "Olga Operator".to_string(),
            password: PASSWORD.to_string(),
        })
        .expect("setup");
    let operator = anon.with_token(op.token);
    let sign_up = |kind: &str, org: &str, email: &str| {
        let s = anon
            .signup(&SignupRequest {
                org_kind: kind.to_string(),
                org_name: org.to_string(),
                email: email.to_string(),
                name: format!("Founder of {org}"),
                password: PASSWORD.to_string(),
            })
            .unwrap_or_else(|e| panic!("signup {email}: {e}"));
        let org = s.me.memberships[0].org.clone();
        (anon.with_token(s.token), org)
    };
    let (owner, owner_org) = sign_up("property", "Westchester Co-op", "owner@coop.example");
    let inv = owner
        .invite(
            &owner_org,
            &InviteRequest {
                email: MANAGER_EMAIL.to_string(),
                role: "manager".to_string(),
            },
        )
        .expect("invite");
    let manager = anon.with_token(
        anon.accept_invitation(&AcceptInvitationRequest {
            code: inv.code.expect("a code"),
            name: Some("Mia Manager".to_string()),
            password: PASSWORD.to_string(),
        })
        .expect("accept")
        .token,
    );
    let claimed = owner
        .claim_property(&ClaimPropertyRequest {
            org: owner_org.clone(),
            name: "The Main Street building".to_string(),
            address: "12 Main Street, Springfield".to_string(),
            time_zone: "Europe/Paris".to_string(),
            custody: "custodial".to_string(),
            public_key: None,
        })
        .expect("claim");
    let property = operator
        .verify_property(&claimed.id, "deed and management contract checked")
        .expect("verify")
        .id;
    for (id, name) in [("street", "Street door"), ("garage", "Garage door")] {
        owner.add_door(&property, id, name).expect("door");
    }
    let units: Vec<String> = (1..=6)
        .flat_map(|floor| ["A", "B", "C", "D"].map(|l| format!("{floor}{l}")))
        .collect();
    for u in &units {
        owner.add_unit(&property, u).expect("unit");
    }
    let (installer, _) = sign_up("installer", "Fixit Installers", "admin@fixit.example");
    for i in 0..3 {
        let key = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
        let req = installer
            .file_installation(&CreateInstallationRequest {
                property: property.clone(),
                door: if i == 0 { "garage" } else { "street" }.to_string(),
                device_id: format!("dev-{i}"),
                device_key: key.public().to_string(),
                notes: "Relay wired to the panel's door-release terminals".to_string(),
                installer: None,
            })
            .expect("file");
        if i < 2 {
            manager
                .approve(&req.id, &ApproveRequest::default())
                .expect("approve");
        }
    }
    let (carrier, carrier_org) = sign_up("carrier", "Acme Parcel", "admin@acme.example");
    carrier
        .set_carrier_key(
            &carrier_org,
            &CarrierKeyRequest {
                public_key: None,
                custodial: true,
            },
        )
        .expect("carrier key");
    let drivers: Vec<String> = (0..5)
        .map(|i| {
            let key = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
            carrier
                .add_driver(
                    &carrier_org,
                    &CreateDriverRequest {
                        name: format!("Driver {i}"),
                        public_key: key.public().to_string(),
                    },
                )
                .expect("driver")
                .id
        })
        .collect();
    let authorization = manager
        .authorize(&property, &authorize_request(&carrier_org))
        .expect("authorize")
        .id;
    let spares: Vec<String> = (0..20)
        .map(|_| {
            manager
                .authorize(&property, &authorize_request(&carrier_org))
                .expect("authorize")
                .id
        })
        .collect();
    let token = |who: &Client, org: &str, role: &str| {
        who.create_token(
            org,
            &CreateTokenRequest {
                name: format!("{role} load"),
                role: role.to_string(),
                expires_in_days: None,
            },
        )
        .expect("token")
        .token
        .expect("the secret, once")
    };
    let dispatcher_token = token(&carrier, &carrier_org, "dispatcher");
    let manager_token = token(&manager, &owner_org, "manager");
    println!(
        "setup through the API: {:.1} s (property {property}, carrier {carrier_org}, {} units, {} drivers, 1 + {} authorizations)",
        t0.elapsed().as_secs_f64(),
        units.len(),
        drivers.len(),
        spares.len()
    );
    Cast {
        url: url.to_string(),
        property,
        carrier_org,
        authorization,
        revocable: Arc::new(Mutex::new(spares)),
        drivers,
        units,
        dispatcher_token,
        manager_token,
    }
}

/// The clients one worker thread uses: its own connection, two API tokens.
struct Clients {
    dispatcher: Client,
    manager: Client,
}

impl Clients {
    fn new(c: &Cast) -> Clients {
        let base = Client::new(&c.url);
        Clients {
            dispatcher: base.with_token(&c.dispatcher_token),
            manager: base.with_token(&c.manager_token),
        }
    }
}

// ---- Operations ------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    GetProperty,
    ListAuthorizationsCarrier,
    ListAuthorizationsProperty,
    ListInstallations,
    Me,
    GetService,
    Authorize,
    RevokeAuthorization,
    SwitchService,
    AddUnit,
    MintPass,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::GetProperty => "GET property",
            Op::ListAuthorizationsCarrier => "GET authorizations?active (dispatcher)",
            Op::ListAuthorizationsProperty => "GET property authorizations (manager)",
            Op::ListInstallations => "GET installations?property",
            Op::Me => "GET me",
            Op::GetService => "GET service",
            Op::Authorize => "POST authorize carrier",
            Op::RevokeAuthorization => "POST revoke authorization",
            Op::SwitchService => "POST service (garage off/on)",
            Op::AddUnit => "POST unit",
            Op::MintPass => "POST pass (mint)",
        }
    }
    /// The name `--mix` takes.
    fn key(self) -> &'static str {
        match self {
            Op::GetProperty => "property",
            Op::ListAuthorizationsCarrier => "carrier-authorizations",
            Op::ListAuthorizationsProperty => "property-authorizations",
            Op::ListInstallations => "installations",
            Op::Me => "me",
            Op::GetService => "service",
            Op::Authorize => "authorize",
            Op::RevokeAuthorization => "revoke",
            Op::SwitchService => "switch",
            Op::AddUnit => "unit",
            Op::MintPass => "mint",
        }
    }
    fn group(self) -> &'static str {
        match self {
            Op::Authorize | Op::RevokeAuthorization | Op::SwitchService | Op::AddUnit => "writes",
            Op::MintPass => "mint",
            _ => "reads",
        }
    }
}

/// The mix, in per mille: 70 % reads, 10 % writes, 20 % pass minting.
const MIX: &[(Op, u32)] = &[
    (Op::GetProperty, 140),
    (Op::ListAuthorizationsCarrier, 70),
    (Op::ListAuthorizationsProperty, 70),
    (Op::ListInstallations, 140),
    (Op::Me, 140),
    (Op::GetService, 140),
    (Op::Authorize, 30),
    (Op::RevokeAuthorization, 20),
    (Op::SwitchService, 30),
    (Op::AddUnit, 20),
    (Op::MintPass, 200),
];

/// The mix with `--mix name=weight,...` applied (weights per mille; names from [`Op::key`]).
fn mix_from(arg: Option<&str>) -> Vec<(Op, u32)> {
    let mut mix = MIX.to_vec();
    for item in arg.unwrap_or("").split(',').filter(|s| !s.is_empty()) {
        let (name, w) = item
            .split_once('=')
            .unwrap_or_else(|| panic!("--mix: write name=weight, not {item}"));
        let w: u32 = w
            .parse()
            .unwrap_or_else(|_| panic!("--mix: {w} is not a weight"));
        let slot = mix
            .iter_mut()
            .find(|(op, _)| op.key() == name)
            .unwrap_or_else(|| panic!("--mix: no operation {name}"));
        slot.1 = w;
    }
    mix
}

/// SplitMix64: a fixed op sequence per seed, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn pick(&mut self, mix: &[(Op, u32)]) -> Op {
        let total: u32 = mix.iter().map(|(_, w)| w).sum();
        let mut r = (self.next() % u64::from(total.max(1))) as u32;
        for (op, w) in mix {
            if r < *w {
                return *op;
            }
            r -= w;
        }
        Op::Me
    }
}

/// What one request ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Ok,
    /// `409 stale_state`: two switch changes raced (a correct answer of the server).
    Conflict,
    Error,
}

fn outcome<T>(
    r: Result<T, ClientError>,
    what: &str,
    errors: &Mutex<BTreeMap<String, u64>>,
) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(e) if e.code() == Some("stale_state") => Outcome::Conflict,
        Err(e) => {
            let why = match &e {
                ClientError::Api { problem } => {
                    format!("{} (HTTP {})", problem.code, problem.status)
                }
                ClientError::Http { status, .. } => format!("HTTP {status}"),
                ClientError::Transport { message, .. } => format!("transport: {message}"),
                ClientError::Decode { message, .. } => format!("decode: {message}"),
                ClientError::Challenge(message) => format!("challenge: {message}"),
            };
            let key = format!("{what}: {why}");
            *errors.lock().unwrap().entry(key).or_default() += 1;
            Outcome::Error
        }
    }
}

struct Shared {
    cast: Cast,
    seq: AtomicU64,
    garage_off: AtomicBool,
    errors: Mutex<BTreeMap<String, u64>>,
    run: String,
}

fn mint_request(s: &Shared, n: u64) -> MintPassRequest {
    let start = wall();
    let units = &s.cast.units;
    let drivers = &s.cast.drivers;
    MintPassRequest {
        door: "street".to_string(),
        unit: units[(n as usize) % units.len()].clone(),
        delivery: format!("parcel-{}-{n}", s.run),
        driver: Some(drivers[(n as usize) % drivers.len()].clone()),
        driver_key: None,
        not_before: start,
        not_after: start
            .checked_add(SignedDuration::from_hours(1))
            .expect("in range"),
    }
}

fn perform(op: Op, c: &Clients, s: &Shared) -> Outcome {
    let cast = &s.cast;
    let e = &s.errors;
    let n = s.seq.fetch_add(1, Ordering::Relaxed);
    let name = op.name();
    match op {
        Op::GetProperty => outcome(c.manager.property(&cast.property), name, e),
        Op::ListAuthorizationsCarrier => outcome(
            c.dispatcher
                .authorizations_page(None, Some(&cast.carrier_org), true, None, None),
            name,
            e,
        ),
        Op::ListAuthorizationsProperty => outcome(
            c.manager
                .property_authorizations_page(&cast.property, None, None),
            name,
            e,
        ),
        Op::ListInstallations => {
            outcome(c.manager.installations(Some(&cast.property), None), name, e)
        }
        Op::Me => {
            if n.is_multiple_of(2) {
                outcome(c.manager.me(), name, e)
            } else {
                outcome(c.dispatcher.me(), name, e)
            }
        }
        Op::GetService => outcome(c.manager.service(&cast.property), name, e),
        Op::Authorize => {
            let r = c
                .manager
                .authorize(&cast.property, &authorize_request(&cast.carrier_org));
            if let Ok(a) = &r {
                cast.revocable.lock().unwrap().push(a.id.clone());
            }
            outcome(r, name, e)
        }
        Op::RevokeAuthorization => {
            let id = cast.revocable.lock().unwrap().pop();
            match id {
                Some(id) => outcome(
                    c.manager.revoke_authorization(&id, "contract_ended"),
                    name,
                    e,
                ),
                None => {
                    *e.lock()
                        .unwrap()
                        .entry("revoke: none left to revoke".to_string())
                        .or_default() += 1;
                    Outcome::Error
                }
            }
        }
        Op::SwitchService => {
            // Alternately switch the garage door off and on (passes are for the street door).
            let enable = s.garage_off.fetch_xor(true, Ordering::Relaxed);
            outcome(
                c.manager.change_service(
                    &cast.property,
                    &ServiceChangeRequest {
                        scope: "door".to_string(),
                        target: Some("garage".to_string()),
                        enabled: enable,
                        expected_seq: None,
                    },
                ),
                name,
                e,
            )
        }
        Op::AddUnit => outcome(
            c.manager
                .add_unit(&cast.property, &format!("L{}-{n}", s.run)),
            name,
            e,
        ),
        Op::MintPass => outcome(
            c.dispatcher
                .mint_pass(&cast.authorization, &mint_request(s, n)),
            name,
            e,
        ),
    }
}

// ---- Statistics ------------------------------------------------------------------------------

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn summary(us: &mut [u64]) -> String {
    us.sort_unstable();
    format!(
        "n {:>6}  p50 {:>7.2}  p90 {:>7.2}  p99 {:>7.2}  max {:>8.2} ms",
        us.len(),
        pct(us, 50.0),
        pct(us, 90.0),
        pct(us, 99.0),
        us.last().map_or(f64::NAN, |m| *m as f64 / 1000.0)
    )
}

// ---- mixed: open loop ------------------------------------------------------------------------

struct Sample {
    op: Op,
    /// Due time, µs after the start.
    due: u64,
    /// From the due time to the response, µs.
    latency: u64,
    /// From the send to the response, µs.
    service: u64,
    /// How late the worker sent it, µs.
    lag: u64,
    outcome: Outcome,
}

fn open_loop(
    s: &Arc<Shared>,
    mix: &[(Op, u32)],
    rate: f64,
    secs: f64,
    workers: usize,
    seed: u64,
) -> (Vec<Sample>, f64) {
    let total = (rate * secs).round() as u64;
    let mut rng = Rng(seed);
    let ops: Arc<Vec<Op>> = Arc::new((0..total).map(|_| rng.pick(mix)).collect());
    let next = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(1.0 / rate);
    let clients: Vec<Clients> = (0..workers).map(|_| Clients::new(&s.cast)).collect();
    let start = now() + Duration::from_millis(20);
    let handles: Vec<_> = clients
        .into_iter()
        .map(|c| {
            let (s, ops, next) = (Arc::clone(s), Arc::clone(&ops), Arc::clone(&next));
            std::thread::spawn(move || {
                let mut out = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(op) = ops.get(i as usize).copied() else {
                        break;
                    };
                    let due = start + period * u32::try_from(i).unwrap();
                    let t = now();
                    if due > t {
                        std::thread::sleep(due - t);
                    }
                    let sent = now();
                    let outcome = perform(op, &c, &s);
                    let done = now();
                    out.push(Sample {
                        op,
                        due: due.saturating_duration_since(start).as_micros() as u64,
                        latency: done.saturating_duration_since(due).as_micros() as u64,
                        service: done.saturating_duration_since(sent).as_micros() as u64,
                        lag: sent.saturating_duration_since(due).as_micros() as u64,
                        outcome,
                    });
                }
                (out, now())
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut last = start;
    for h in handles {
        let (mut v, end) = h.join().unwrap();
        samples.append(&mut v);
        last = last.max(end);
    }
    let elapsed = last.saturating_duration_since(start).as_secs_f64();
    (samples, elapsed)
}

fn mixed(a: &Args) {
    let url = a.req("url");
    let cast = setup(url, a.req("setup-code"));
    let rate: f64 = a.num("rate", 500.0);
    let secs: f64 = a.num("duration", 30.0);
    let warmup: f64 = a.num("warmup", 5.0);
    let workers: usize = a.num("workers", 64);
    let seed: u64 = a.num("seed", 4);
    let pid = a.get("server-pid");
    let mix = mix_from(a.get("mix"));
    let s = Arc::new(Shared {
        cast,
        seq: AtomicU64::new(0),
        garage_off: AtomicBool::new(false),
        errors: Mutex::new(BTreeMap::new()),
        run: a.get("run").unwrap_or("r").to_string(),
    });
    if warmup > 0.0 {
        let (w, _) = open_loop(&s, &mix, rate, warmup, workers, seed ^ 0xFFFF);
        println!("warm-up: {} requests in {warmup} s (not counted)", w.len());
        s.errors.lock().unwrap().clear();
    }
    let load0 = loadavg();
    let metrics0 = server_histograms(url);
    let cpu = CpuMeter::start(pid);
    let (samples, elapsed) = open_loop(&s, &mix, rate, secs, workers, seed);
    let (server_cpu, self_cpu) = cpu.stop();
    let disk = cpu.disk(server_cpu, self_cpu);
    let load1 = loadavg();
    let metrics1 = server_histograms(url);

    let ok = samples.iter().filter(|x| x.outcome == Outcome::Ok).count();
    let conflicts = samples
        .iter()
        .filter(|x| x.outcome == Outcome::Conflict)
        .count();
    let errors = samples
        .iter()
        .filter(|x| x.outcome == Outcome::Error)
        .count();
    let mut all: Vec<u64> = samples.iter().map(|x| x.latency).collect();
    let mut service: Vec<u64> = samples.iter().map(|x| x.service).collect();
    let mut lag: Vec<u64> = samples.iter().map(|x| x.lag).collect();
    println!(
        "mixed open loop: target {rate}/s for {secs} s, {workers} workers; {} requests in {elapsed:.2} s = achieved {:.1}/s; ok {ok}, conflicts {conflicts}, errors {errors}",
        samples.len(),
        samples.len() as f64 / elapsed
    );
    println!("  all (from due time): {}", summary(&mut all));
    println!("  all (from send):     {}", summary(&mut service));
    println!("  send lag:            {}", summary(&mut lag));
    for g in ["reads", "writes", "mint"] {
        let mut v: Vec<u64> = samples
            .iter()
            .filter(|x| x.op.group() == g)
            .map(|x| x.latency)
            .collect();
        println!("  {g:<6}: {}", summary(&mut v));
    }
    let mut by_op: BTreeMap<Op, Vec<u64>> = BTreeMap::new();
    for x in &samples {
        by_op.entry(x.op).or_default().push(x.latency);
    }
    for (op, mut v) in by_op {
        println!("    {:<40} {}", op.name(), summary(&mut v));
    }
    if a.get("timeline").is_some() {
        // Per second of due time: requests, p50, p99 and max latency, errors.
        let mut by_sec: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for x in &samples {
            by_sec.entry(x.due / 1_000_000).or_default().push(x.latency);
        }
        for (sec, mut v) in by_sec {
            println!("    t={sec:>3} s {}", summary(&mut v));
        }
    }
    println!("  inside the server (its /metrics histograms over the run; bucket bounds, ms):");
    for (route, buckets) in &metrics1 {
        let before = metrics0.get(route);
        let counts: Vec<(f64, u64)> = buckets
            .iter()
            .map(|(le, n)| {
                let b = before
                    .and_then(|v| v.iter().find(|(l, _)| l == le))
                    .map_or(0, |(_, n)| *n);
                (*le, n.saturating_sub(b))
            })
            .collect();
        let total = counts.last().map_or(0, |(_, n)| *n);
        if total < 100 {
            continue;
        }
        let bound = |q: f64| {
            counts
                .iter()
                .find(|(_, n)| *n as f64 >= q * total as f64)
                .map_or(f64::INFINITY, |(le, _)| le * 1000.0)
        };
        println!(
            "    {:<58} n {total:>6}  p50 <= {:>5}  p99 <= {:>5}",
            format!("{} {}", route.1, route.0),
            bound(0.5),
            bound(0.99)
        );
    }
    match server_cpu {
        Some(c) => println!("  server CPU {c:.0} % of one core, load generator {self_cpu:.0} %"),
        None => println!("  load generator CPU {self_cpu:.0} %"),
    }
    println!("  load average before {load0}, after {load1}; during the run {disk}");
    for (k, v) in s.errors.lock().unwrap().iter() {
        println!("  error {k}: {v}");
    }
    let manager = Clients::new(&s.cast).manager;
    let listed = manager
        .raw(
            "GET",
            &format!(
                "/api/v1/properties/{}/authorizations",
                doorman_client::segment(&s.cast.property)
            ),
            None,
            None,
        )
        .map(|r| {
            (
                r.body.len(),
                serde_json::from_slice::<List<AuthorizationView>>(&r.body),
            )
        });
    let (bytes, items) = match listed {
        Ok((bytes, Ok(list))) => (bytes, list.items.len()),
        _ => (0, 0),
    };
    println!(
        "  data after the run: the property has {items} authorizations (its list is {:.0} KiB of JSON), {} not yet revoked by the load",
        bytes as f64 / 1024.0,
        s.cast.revocable.lock().unwrap().len(),
    );
    if let Some(p) = pid {
        println!(
            "  memory at the end of the load: {}",
            memory_line(p.parse().unwrap_or(0))
        );
    }
}

/// The server's request-duration histograms: (route, method) -> cumulative (le seconds, count).
fn server_histograms(url: &str) -> BTreeMap<(String, String), Vec<(f64, u64)>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let text = agent
        .get(&format!("{url}/metrics"))
        .call()
        .ok()
        .and_then(|mut r| r.body_mut().read_to_string().ok())
        .unwrap_or_default();
    let mut out: BTreeMap<(String, String), Vec<(f64, u64)>> = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("doorman_http_request_duration_seconds_bucket{") else {
            continue;
        };
        let Some((labels, count)) = rest.split_once("} ") else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix("=\""))
                .map(|v| v.trim_end_matches('"').to_string())
        };
        let (Some(route), Some(method), Some(le)) = (label("route"), label("method"), label("le"))
        else {
            continue;
        };
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap_or(f64::NAN)
        };
        out.entry((route, method))
            .or_default()
            .push((le, count.trim().parse().unwrap_or(0)));
    }
    out
}

// ---- mint: closed loop -----------------------------------------------------------------------

fn mint(a: &Args) {
    let cast = setup(a.req("url"), a.req("setup-code"));
    let secs: f64 = a.num("duration", 20.0);
    let pid = a.get("server-pid");
    let levels: Vec<usize> = a
        .get("concurrency")
        .unwrap_or("4,8,16,32")
        .split(',')
        .map(|v| v.parse().expect("a number"))
        .collect();
    let s = Arc::new(Shared {
        cast,
        seq: AtomicU64::new(0),
        garage_off: AtomicBool::new(false),
        errors: Mutex::new(BTreeMap::new()),
        run: a.get("run").unwrap_or("m").to_string(),
    });
    // Warm-up: a few seconds at the first level.
    closed_loop(&s, levels.first().copied().unwrap_or(4), 3.0);
    s.errors.lock().unwrap().clear();
    for n in levels {
        let load0 = loadavg();
        let cpu = CpuMeter::start(pid);
        let (mut lat, elapsed, failed) = closed_loop(&s, n, secs);
        let (server_cpu, self_cpu) = cpu.stop();
        println!(
            "mint closed loop, {n:>2} clients, {secs} s: {:.0} passes/s ({} minted, {failed} failed) {}; server CPU {:.0} %, generator {self_cpu:.0} %; load {load0} -> {}; {}",
            lat.len() as f64 / elapsed,
            lat.len(),
            summary(&mut lat),
            server_cpu.unwrap_or(f64::NAN),
            loadavg(),
            cpu.disk(server_cpu, self_cpu)
        );
        for (k, v) in s.errors.lock().unwrap().iter() {
            println!("  error {k}: {v}");
        }
        s.errors.lock().unwrap().clear();
    }
}

/// N clients minting back to back for `secs`; successful latencies (µs), elapsed, failures.
fn closed_loop(s: &Arc<Shared>, n: usize, secs: f64) -> (Vec<u64>, f64, u64) {
    let start = now();
    let end = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let s = Arc::clone(s);
            let c = Clients::new(&s.cast);
            std::thread::spawn(move || {
                let mut ok = Vec::new();
                let mut failed = 0;
                while now() < end {
                    let t = now();
                    let r = perform(Op::MintPass, &c, &s);
                    if r == Outcome::Ok {
                        ok.push(t.elapsed().as_micros() as u64);
                    } else {
                        failed += 1;
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failed = 0;
    for h in handles {
        let (mut v, f) = h.join().unwrap();
        all.append(&mut v);
        failed += f;
    }
    (all, start.elapsed().as_secs_f64(), failed)
}

// ---- signin ----------------------------------------------------------------------------------

fn signin(a: &Args) {
    let cast = setup(a.req("url"), a.req("setup-code"));
    let count: usize = a.num("count", 20);
    let client = Client::new(&cast.url);
    let _ = client.sign_in(MANAGER_EMAIL, PASSWORD).expect("sign in");
    let mut v: Vec<u64> = (0..count)
        .map(|_| {
            let t = now();
            client.sign_in(MANAGER_EMAIL, PASSWORD).expect("sign in");
            t.elapsed().as_micros() as u64
        })
        .collect();
    println!(
        "sign-in POST /api/v1/sessions, sequential, {}",
        summary(&mut v)
    );
}

// ---- coldstart -------------------------------------------------------------------------------

fn coldstart(a: &Args) {
    let bin = a.req("bin");
    let dir = std::path::PathBuf::from(a.req("dir"));
    let runs: usize = a.num("runs", 10);
    let mut listening = Vec::new();
    let mut healthy = Vec::new();
    let mut rss = Vec::new();
    for i in 0..runs {
        let data = dir.join(format!("cold-{i}"));
        let _ = std::fs::remove_dir_all(&data);
        let load = loadavg();
        let t0 = now();
        let mut child = Command::new(bin)
            .args(["serve", "--data-dir"])
            .arg(&data)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("exec doorman serve");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, String)>();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send((now(), line)).is_err() {
                    // Keep draining so the server never blocks on a full pipe.
                    continue;
                }
            }
        });
        let (t_listen, addr) = loop {
            let (t, line) = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("doorman serve said nothing for 30 s");
            if let Some(rest) = line.strip_prefix("doorman serve: listening on http://") {
                break (t, rest.trim_end_matches("/log").to_string());
            }
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let health = format!("http://{addr}/healthz");
        let t_health = loop {
            if agent
                .get(&health)
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
            {
                break now();
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        let l = t_listen.duration_since(t0).as_secs_f64() * 1000.0;
        let h = t_health.duration_since(t0).as_secs_f64() * 1000.0;
        let pid = child.id();
        let (r, hwm) = (status_kb(pid, "VmRSS"), status_kb(pid, "VmHWM"));
        println!(
            "cold start {i}: listening line {l:.1} ms, first healthz 200 {h:.1} ms, VmRSS {:.1} MiB, VmHWM {:.1} MiB (load {load})",
            r as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
        listening.push(l);
        healthy.push(h);
        rss.push(r as f64 / 1024.0);
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let _ = child.wait();
        let _ = std::fs::remove_dir_all(&data);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    println!(
        "cold start, {runs} runs: median listening line {:.1} ms (min {:.1}, max {:.1}), first healthz 200 {:.1} ms (min {:.1}, max {:.1}), VmRSS {:.1} MiB",
        med(&mut listening),
        listening.first().copied().unwrap_or(f64::NAN),
        listening.last().copied().unwrap_or(f64::NAN),
        med(&mut healthy),
        healthy.first().copied().unwrap_or(f64::NAN),
        healthy.last().copied().unwrap_or(f64::NAN),
        med(&mut rss),
    );
}

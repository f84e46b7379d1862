//! `doorman`: the offline tools for owners, carriers' engineers and auditors, the public log's
//! server and the tools that check it from outside.
//!
//! - `key`, `consent`, `authorization`, `pass`, `token`, `door`: the trust chain, offline.
//! - `serve` (`serve.rs`): the public log over HTTP from a data dir.
//! - `log append` (`append.rs`): the operator's way to put public entries into that log,
//!   until the control plane (issue 4) appends them from its API.
//! - `log verify` (`verify.rs`): check a C2SP tlog-tiles log, incrementally from a state file.
//! - `monitor` (`monitor.rs`): follow the log and report the entries about a building.
//! - `setup`, `signup`, `login`, `org`, `property`, `installation`, `carrier`, `service`, …
//!   and `door add|list|remove`, `token create|list|revoke` (`remote/`): the control-plane
//!   API of a running `doorman serve`, through `doorman-client`.
//!
//! Exit codes: 0 success (and "allow" for `door check`), 1 "deny" from `door check` and a
//! log that fails `log verify`, 2 any error in what was asked (bad flag, unreadable file,
//! invalid key, token or log entry, a log that cannot be reached). `monitor` has its own: 0
//! verified, 1 a pass could not complete, 2 a usage error, 3 ALERT (the log misbehaves).

// Printing is this binary's job.
#![allow(clippy::print_stdout)]

/// jemalloc rather than glibc's malloc. The server holds one connection per device on the
/// embedded broker, each with buffers rumqttd reserves generously and mostly leaves
/// untouched: with glibc's per-thread arenas 10,000 connected devices took 1.1-1.2 GiB, with
/// jemalloc 0.9 GiB (docs/benchmarks.md, issue 5; mimalloc took 5.6 GiB).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use doorman_core::{
    CarrierId, DeliveryRef, DoorId, InstallerId, PropertyId, ServiceSwitch, UnitId, UsageLedger,
    UsageLimits, WeeklySchedule,
};
use doorman_entries::{
    Custody, PublicEntry, carrier_authorized_entry, consent_granted_entry, normalize_address,
};
use doorman_trust::authorization::DEFAULT_MAX_PASS_DURATION;
use doorman_trust::{
    AuthorizationSpec, ConsentSpec, Decision, DoorDevice, DoorPolicy, DoorState, PassSpec,
    Presentation, PublicKey, Revocations, SecretKey, token,
};
use jiff::{SignedDuration, Timestamp};

mod append;
mod clock;
mod demo;
mod files;
mod monitor;
mod remote;
mod serve;
mod verify;

use files::{read_secret_key, read_token, write_new_private_file, write_output};

#[derive(Debug, Parser)]
#[command(
    name = "doorman",
    version,
    about = "Doorman: delivery access the building controls"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Ed25519 keys for properties, carriers, drivers and devices.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Installation consents (signed by the property key).
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Carrier authorizations (signed by the property key).
    #[command(subcommand)]
    Authorization(AuthorizationCmd),
    /// Passes (an authorization plus the carrier's block).
    #[command(subcommand)]
    Pass(PassCmd),
    /// Read any Doorman token (offline); a server's API tokens (create, list, revoke).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Play the door device: decide a pass offline (check); a property's doors on a server
    /// (add, list, remove).
    #[command(subcommand)]
    Door(DoorCmd),
    /// Run the server: the control-plane API, the public log (C2SP tlog-tiles, proofs), the
    /// address lookup and the access logs, from a data dir (SQLite, no other service).
    Serve(serve::ServeArgs),
    /// The whole system on the embedded default, playing a building's day: a server with its
    /// MQTT broker, real door agents, the people, entries and refusals; then it keeps serving.
    Demo(demo::DemoArgs),
    /// Check a public log from the outside, or append to one's own.
    #[command(subcommand)]
    Log(LogCmd),
    /// Follow a public log and report every new entry about a watched building.
    ///
    /// Each pass verifies the log like `log verify` (signature, consistency with the
    /// remembered checkpoint, the new tiles and bundles), reads the new entries and reports
    /// those whose property's normalised address is a watched one: one line each (index, time,
    /// type, property, doors/devices/carriers, address; warnings indented below), or with
    /// --json one JSON object per line: {"index":..,"entry":{..},"address":..,"warnings":[..]}.
    /// Entries that do not parse are warned about on stderr and skipped.
    ///
    /// Exit codes: 0 verified (after --once); 1 a pass could not complete (network, HTTP,
    /// state not writable; with --once); 2 a usage error (bad flag, key or address, a state
    /// dir of another log); 3 ALERT, printed loudly on stderr: the log misbehaves (fork or
    /// split view, rollback, bad signature, tiles or entries that contradict the signed
    /// checkpoint). Following, network errors are retried at the next poll.
    Monitor(MonitorArgs),
    /// The control-plane API of a running `doorman serve` (remote/).
    #[command(flatten)]
    Remote(remote::Command),
}

#[derive(Debug, Args)]
struct MonitorArgs {
    /// The log's URL prefix, e.g. http://127.0.0.1:8470/log. Only http:// for now.
    #[arg(long, value_name = "URL")]
    url: String,
    /// The log's signed-note verifier key, <name>+<key id>+<base64>.
    #[arg(long, value_name = "KEY")]
    key: doorman_tlog::NoteVerifier,
    /// The checkpoint's origin; defaults to the key's name.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// A building's address, in any spelling (it is normalised); repeat for several.
    #[arg(long = "watch", value_name = "ADDRESS", required = true)]
    watch: Vec<String>,
    /// Where to keep the verified checkpoint and what was learnt (DIR/monitor.json), so a
    /// restart reports only newer entries. Without it, every run starts from entry 0.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// One pass, then exit.
    #[arg(long)]
    once: bool,
    /// JSON Lines output.
    #[arg(long)]
    json: bool,
    /// Time between polls of the checkpoint: seconds, or a duration like 500ms or 5m.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_poll_interval)]
    interval: std::time::Duration,
}

// Parsed once per process, like `Command`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum LogCmd {
    /// Verify a tlog-tiles log: the checkpoint's signature, every tile and entry bundle
    /// against its root, and consistency with the checkpoint remembered in --state (fork or
    /// rollback). With a state file, only what is new since is fetched (the entries and the
    /// tiles they change, plus a few tiles to rebuild the remembered tree's edge).
    /// Exit 0 verified, 1 the log is wrong, 2 the check could not run.
    Verify(LogVerify),
    /// Append public entries (JSON Lines: one entry per line, any JSON spelling) to the log in
    /// a data dir, beside a running `doorman serve`, which publishes them at its next
    /// checkpoint.
    ///
    /// The operator's tool until the control plane (issue 4) appends from its API. Every line
    /// is validated and written canonically; consent and authorization tokens are checked
    /// against the property's registered key (in the input or in the log). All or nothing:
    /// if any line is refused, nothing is appended and each refused line is listed with its
    /// stable code. Prints the assigned indexes, one per line. Exit 0 appended, 2 nothing
    /// appended.
    Append(LogAppend),
    /// Print one public entry (canonical JSON, one line) for `log append`, with the members a
    /// person should not type by hand: the address key, token contents, revocation ids.
    #[command(subcommand)]
    Entry(EntryCmd),
}

#[derive(Debug, Subcommand)]
enum EntryCmd {
    /// `property_registered`: the operator verified the claimant of a property.
    Property(EntryProperty),
    /// `consent_granted`, from a signed consent token.
    Consent(EntryConsent),
    /// `carrier_authorized`, from a signed authorization token.
    Authorization(EntryAuthorization),
}

#[derive(Debug, Args)]
struct EntryProperty {
    #[arg(long, value_name = "ID")]
    property: PropertyId,
    /// The building's address as registered (normalised into address_key).
    #[arg(long, value_name = "TEXT")]
    address: String,
    /// IANA time zone, e.g. Europe/Paris.
    #[arg(long, value_name = "ZONE")]
    tz: String,
    #[arg(long, value_name = "PUB")]
    property_pub: PublicKey,
    /// `self` if only the owner holds the private key, `custodial` if the server does.
    #[arg(long, value_name = "MODE", default_value = "self", value_parser = ["self", "custodial"])]
    custody: String,
    /// The operator organisation that verified the claim.
    #[arg(long, value_name = "ORG")]
    verified_by: String,
    /// RFC 3339, whole seconds; defaults to now.
    #[arg(long, value_name = "T")]
    at: Option<Timestamp>,
}

#[derive(Debug, Args)]
struct EntryConsent {
    /// The consent token: a file, or - for stdin.
    #[arg(value_name = "TOKEN")]
    consent: String,
    /// The property key it must verify under.
    #[arg(long, value_name = "PUB")]
    property_pub: PublicKey,
    /// The installation request it answers.
    #[arg(long, value_name = "ID")]
    request: String,
    /// The device's id (its key is in the token).
    #[arg(long, value_name = "ID")]
    device: String,
    /// RFC 3339, whole seconds; defaults to now.
    #[arg(long, value_name = "T")]
    at: Option<Timestamp>,
}

#[derive(Debug, Args)]
struct EntryAuthorization {
    /// The authorization token: a file, or - for stdin.
    #[arg(value_name = "TOKEN")]
    authorization: String,
    /// The property key it must verify under.
    #[arg(long, value_name = "PUB")]
    property_pub: PublicKey,
    /// RFC 3339, whole seconds; defaults to now.
    #[arg(long, value_name = "T")]
    at: Option<Timestamp>,
}

#[derive(Debug, Args)]
struct LogAppend {
    /// The data dir of `doorman serve` (it holds log.sqlite).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The entries, JSON Lines; stdin if absent or -.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LogVerify {
    /// The log's URL prefix, e.g. http://127.0.0.1:8470/log (URL/checkpoint, URL/tile/...).
    /// Only http:// is supported for now.
    #[arg(long, value_name = "URL")]
    url: String,
    /// The log's signed-note verifier key, <name>+<key id>+<base64> (`doorman serve` prints it).
    #[arg(long, value_name = "KEY")]
    key: doorman_tlog::NoteVerifier,
    /// The checkpoint's origin; defaults to the key's name.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,
    /// The last verified checkpoint: read (the log must be consistent with it), then replaced
    /// with the new one. The file holds exactly the signed checkpoint note as served by
    /// URL/checkpoint; a missing file is created.
    #[arg(long, value_name = "FILE")]
    state: Option<PathBuf>,
    /// Fetch and check every tile and bundle, even when --state allows an incremental check.
    #[arg(long)]
    full: bool,
}

#[derive(Debug, Subcommand)]
enum KeyCmd {
    /// Create a private key file (mode 0600, never overwritten) and print its public key.
    Generate {
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public key of a private key file.
    Show { path: PathBuf },
}

#[derive(Debug, Subcommand)]
enum ConsentCmd {
    /// Sign an installation consent for one device at one door.
    Sign(ConsentSign),
}

#[derive(Debug, Args)]
struct ConsentSign {
    #[arg(long, value_name = "PATH")]
    property_key: PathBuf,
    #[arg(long, value_name = "ID")]
    property: PropertyId,
    #[arg(long, value_name = "ID")]
    door: DoorId,
    /// The device's public key, `ed25519/<hex>`, as the agent printed it.
    #[arg(long, value_name = "PUB")]
    device_pub: PublicKey,
    #[arg(long, value_name = "ID")]
    installer: InstallerId,
    /// RFC 3339; defaults to now.
    #[arg(long, value_name = "T")]
    not_before: Option<Timestamp>,
    /// RFC 3339.
    #[arg(long, value_name = "T")]
    not_after: Timestamp,
    /// Where to write the token; stdout if absent.
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum AuthorizationCmd {
    /// Sign a carrier authorization.
    Sign(AuthorizationSign),
}

#[derive(Debug, Args)]
struct AuthorizationSign {
    #[arg(long, value_name = "PATH")]
    property_key: PathBuf,
    #[arg(long, value_name = "ID")]
    property: PropertyId,
    #[arg(long, value_name = "ID")]
    carrier: CarrierId,
    /// The carrier's public key, `ed25519/<hex>`.
    #[arg(long, value_name = "PUB")]
    carrier_pub: PublicKey,
    /// A door the carrier may use; repeat for several.
    #[arg(long = "door", value_name = "ID", required = true)]
    doors: Vec<DoorId>,
    /// Weekly schedule on the property's wall clock, e.g. "Mon-Fri 08:00-20:00; Sat 09:00-13:00".
    #[arg(long)]
    schedule: WeeklySchedule,
    /// IANA time zone of the property, e.g. Europe/Paris.
    #[arg(long, value_name = "ZONE")]
    tz: String,
    /// Most entries per local day (no cap if absent).
    #[arg(long, value_name = "N")]
    daily_cap: Option<u32>,
    /// Longest pass window, e.g. 2h or 90m (at most 24h).
    #[arg(long, value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    max_pass_duration: SignedDuration,
    /// RFC 3339; defaults to now.
    #[arg(long, value_name = "T")]
    not_before: Option<Timestamp>,
    /// RFC 3339.
    #[arg(long, value_name = "T")]
    not_after: Timestamp,
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum PassCmd {
    /// Mint a pass for one delivery with the carrier's key.
    Mint(PassMint),
}

#[derive(Debug, Args)]
struct PassMint {
    /// The authorization token: a file, or - for stdin.
    #[arg(long, value_name = "TOKEN")]
    authorization: String,
    #[arg(long, value_name = "PATH")]
    carrier_key: PathBuf,
    #[arg(long, value_name = "ID")]
    door: DoorId,
    #[arg(long, value_name = "U")]
    unit: UnitId,
    #[arg(long, value_name = "REF")]
    delivery: DeliveryRef,
    /// The driver's public key, `ed25519/<hex>`.
    #[arg(long, value_name = "PUB")]
    driver_pub: PublicKey,
    #[arg(long, value_name = "T")]
    not_before: Timestamp,
    #[arg(long, value_name = "T")]
    not_after: Timestamp,
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,
}

// Parsed once per process, like `Command`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Show a token's blocks, facts, checks, signers and revocation ids.
    Inspect {
        /// A file, or - for stdin.
        token: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also verify every signature under this property key.
        #[arg(long, value_name = "PUB")]
        property_pub: Option<PublicKey>,
    },
    /// API tokens, on a server (remote/).
    #[command(flatten)]
    Api(remote::TokenCmd),
}

// Parsed once per process, like `Command`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum DoorCmd {
    /// Decide a pass as the device at a door would; exit 0 on allow, 1 on deny.
    Check(DoorCheck),
    /// A property's doors, on a server (remote/).
    #[command(flatten)]
    Api(remote::DoorCmd),
}

#[derive(Debug, Args)]
struct DoorCheck {
    /// The property key the device pins.
    #[arg(long, value_name = "PUB")]
    property_pub: PublicKey,
    /// The device's own public key.
    #[arg(long, value_name = "PUB")]
    device_pub: PublicKey,
    /// The device's consent token (file or -).
    #[arg(long, value_name = "TOKEN")]
    consent: String,
    /// The presented pass (file or -).
    #[arg(long, value_name = "TOKEN")]
    pass: String,
    /// The door the device serves.
    #[arg(long, value_name = "ID")]
    door: DoorId,
    /// The device's clock (RFC 3339).
    #[arg(long, value_name = "T")]
    at: Timestamp,
    /// The driver's private key: if given, it answers the device's challenge.
    #[arg(long, value_name = "PATH")]
    driver_key: Option<PathBuf>,
    /// Revoked ids, hex, one per line (# comments allowed).
    #[arg(long, value_name = "PATH")]
    revoked: Option<PathBuf>,
    /// When the revocation list was issued; defaults to --at (a fresh list).
    #[arg(long, value_name = "T")]
    revocations_as_of: Option<Timestamp>,
    /// Offline bound on the revocation list's age.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    max_revocation_age: SignedDuration,
    /// Tolerated clock disagreement.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    clock_skew: SignedDuration,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    s.parse::<SignedDuration>()
        .map_err(|e| format!("{e}; write durations like 2h, 90m or 1h30m"))
}

pub(crate) fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    std::time::Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{s}: the interval must be positive, e.g. 1s or 500ms"))
}

/// `--interval`: whole seconds (`30`), or a duration (`500ms`, `5m`).
fn parse_poll_interval(s: &str) -> Result<std::time::Duration, String> {
    match s.parse::<u64>() {
        Ok(0) => Err(format!("{s}: the interval must be positive")),
        Ok(secs) => Ok(std::time::Duration::from_secs(secs)),
        Err(_) => parse_interval(s),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Key(KeyCmd::Generate { out }) => {
            let key = SecretKey::generate(&mut rand::rngs::OsRng);
            let pem = key.to_pem().map_err(|e| anyhow!(e))?;
            write_new_private_file(&out, pem.as_bytes())?;
            println!("{}", key.public());
            Ok(ExitCode::SUCCESS)
        }
        Command::Key(KeyCmd::Show { path }) => {
            println!("{}", read_secret_key(&path)?.public());
            Ok(ExitCode::SUCCESS)
        }
        Command::Consent(ConsentCmd::Sign(a)) => consent_sign(a),
        Command::Authorization(AuthorizationCmd::Sign(a)) => authorization_sign(a),
        Command::Pass(PassCmd::Mint(a)) => pass_mint(a),
        Command::Token(TokenCmd::Inspect {
            token,
            json,
            property_pub,
        }) => token_inspect(&token, json, property_pub),
        Command::Token(TokenCmd::Api(c)) => remote::token(c),
        Command::Door(DoorCmd::Check(a)) => door_check(a),
        Command::Door(DoorCmd::Api(c)) => remote::door(c),
        Command::Remote(c) => remote::run(c),
        Command::Serve(a) => serve::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Log(LogCmd::Verify(a)) => verify::run(verify::VerifyOptions {
            url: a.url,
            key: a.key,
            origin: a.origin,
            state: a.state,
            full: a.full,
        }),
        Command::Log(LogCmd::Append(a)) => append::run(append::AppendOptions {
            data_dir: a.data_dir,
            input: a.file,
        }),
        Command::Log(LogCmd::Entry(cmd)) => log_entry(cmd),
        Command::Monitor(a) => monitor::run(monitor::MonitorOptions {
            url: a.url,
            key: a.key,
            origin: a.origin,
            watch: a.watch,
            state: a.state,
            once: a.once,
            json: a.json,
            interval: a.interval,
        }),
    }
}

fn log_entry(cmd: EntryCmd) -> Result<ExitCode> {
    // Whole seconds: the log's time members have no fraction.
    let at = |at: Option<Timestamp>| -> Result<Timestamp> {
        let t = at.unwrap_or_else(clock::now);
        Timestamp::from_second(t.as_second()).map_err(|e| anyhow!("bad time: {e}"))
    };
    let entry = match cmd {
        EntryCmd::Property(a) => PublicEntry::PropertyRegistered {
            at: at(a.at)?.to_string(),
            property: a.property.to_string(),
            address_key: normalize_address(&a.address).map_err(|e| anyhow!(e))?,
            address: a.address,
            time_zone: a.tz,
            property_key: a.property_pub.to_string(),
            custody: if a.custody == "custodial" {
                Custody::Custodial
            } else {
                Custody::SelfCustody
            },
            verified_by: a.verified_by,
        },
        EntryCmd::Consent(a) => consent_granted_entry(
            at(a.at)?,
            &a.request,
            &a.device,
            &read_token(&a.consent)?,
            &a.property_pub,
        )
        .map_err(|e| anyhow!(e))?,
        EntryCmd::Authorization(a) => {
            carrier_authorized_entry(at(a.at)?, &read_token(&a.authorization)?, &a.property_pub)
                .map_err(|e| anyhow!(e))?
        }
    };
    let bytes = entry.to_bytes().map_err(|e| anyhow!(e))?;
    println!("{}", String::from_utf8_lossy(&bytes));
    Ok(ExitCode::SUCCESS)
}

fn consent_sign(a: ConsentSign) -> Result<ExitCode> {
    let key = read_secret_key(&a.property_key)?;
    let spec = ConsentSpec {
        property: a.property,
        door: a.door,
        device: a.device_pub,
        installer: a.installer,
        not_before: a.not_before.unwrap_or_else(clock::now),
        not_after: a.not_after,
    };
    let bytes = doorman_trust::sign_consent(&key, &spec, &mut rand::rngs::OsRng)
        .context("signing the consent")?;
    write_output(a.out.as_deref(), &token::encode(&bytes))?;
    eprintln!(
        "consent: device {} at {}/{}, {} .. {}, {} bytes",
        spec.device,
        spec.property,
        spec.door,
        spec.not_before,
        spec.not_after,
        bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn authorization_sign(a: AuthorizationSign) -> Result<ExitCode> {
    let key = read_secret_key(&a.property_key)?;
    let spec = AuthorizationSpec {
        property: a.property,
        carrier: a.carrier,
        carrier_key: a.carrier_pub,
        doors: a.doors.into_iter().collect(),
        schedule: a.schedule,
        time_zone: a.tz,
        daily_cap: a.daily_cap,
        max_pass_duration: a.max_pass_duration,
        not_before: a.not_before.unwrap_or_else(clock::now),
        not_after: a.not_after,
    };
    let bytes = doorman_trust::sign_authorization(&key, &spec, &mut rand::rngs::OsRng)
        .context("signing the authorization")?;
    write_output(a.out.as_deref(), &token::encode(&bytes))?;
    eprintln!(
        "authorization: carrier {} at {} for {} door(s), {} ({}), {} bytes",
        spec.carrier,
        spec.property,
        spec.doors.len(),
        spec.schedule,
        spec.time_zone,
        bytes.len()
    );
    if spec.max_pass_duration != DEFAULT_MAX_PASS_DURATION {
        eprintln!("  passes may last up to {:#}", spec.max_pass_duration);
    }
    Ok(ExitCode::SUCCESS)
}

fn pass_mint(a: PassMint) -> Result<ExitCode> {
    let authorization = read_token(&a.authorization).context("reading --authorization")?;
    let key = read_secret_key(&a.carrier_key)?;
    let spec = PassSpec {
        door: a.door,
        unit: a.unit,
        delivery: a.delivery,
        driver_key: a.driver_pub,
        not_before: a.not_before,
        not_after: a.not_after,
    };
    let bytes = doorman_trust::mint_pass(&authorization, &key, &spec, &mut rand::rngs::OsRng)
        .context("minting the pass")?;
    let text = token::encode(&bytes);
    write_output(a.out.as_deref(), &text)?;
    eprintln!(
        "pass: delivery {} for unit {} at door {}, {} .. {}, {} bytes ({} characters)",
        spec.delivery,
        spec.unit,
        spec.door,
        spec.not_before,
        spec.not_after,
        bytes.len(),
        text.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn token_inspect(arg: &str, json: bool, property_pub: Option<PublicKey>) -> Result<ExitCode> {
    let bytes = read_token(arg)?;
    let mut view = doorman_trust::inspect::inspect(&bytes).context("reading the token")?;
    if let Some(root) = property_pub {
        token::parse(&bytes, &root).context("verifying the token's signatures")?;
        view.signatures_verified = true;
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("kind: {} ({})", view.kind, view.role);
    println!("size: {} bytes", view.size_bytes);
    if let Some(id) = &view.root_key_id {
        println!("root key id: {id}");
    }
    println!(
        "signatures: {}",
        if view.signatures_verified {
            "verified under the given property key"
        } else {
            "NOT verified (give --property-pub to verify)"
        }
    );
    for b in &view.blocks {
        println!();
        match &b.signer {
            Some(s) => println!("block {} ({}, signed by {s})", b.index, b.kind),
            None => println!("block {} ({})", b.index, b.kind),
        }
        println!("revocation id: {}", b.revocation_id);
        for line in b.source.lines().filter(|l| !l.trim().is_empty()) {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_revoked(path: &Path) -> Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the revocation file {}", path.display()))?;
    let mut ids = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let id = hex::decode(line).map_err(|e| {
            anyhow!(
                "{}:{}: not a hex revocation id ({e}); `doorman token inspect` prints them",
                path.display(),
                n + 1
            )
        })?;
        ids.push(id);
    }
    Ok(ids)
}

fn door_check(a: DoorCheck) -> Result<ExitCode> {
    let consent_bytes = read_token(&a.consent).context("reading --consent")?;
    let pass = read_token(&a.pass).context("reading --pass")?;
    let pass_text = token::encode(&pass);
    let driver = a.driver_key.as_deref().map(read_secret_key).transpose()?;
    let revoked = a.revoked.as_deref().map(read_revoked).transpose()?;
    // The device's consent: a bad one leaves the device unconsented, which the decision
    // reports as `not_consented`.
    let (consent, consent_problem) =
        match doorman_trust::read_consent(&consent_bytes, &a.property_pub) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let property = match &consent {
        Some(c) => c.spec().property.clone(),
        None => PropertyId::new("unknown").map_err(|e| anyhow!(e))?,
    };
    let device = DoorDevice {
        property_key: a.property_pub,
        property,
        door: a.door,
        device_key: a.device_pub,
        policy: DoorPolicy {
            revocation_max_age: a.max_revocation_age,
            clock_skew_tolerance: a.clock_skew,
            ..DoorPolicy::default()
        },
    };
    let mut state = DoorState {
        consent,
        service: ServiceSwitch::all_on(),
        revocations: Revocations::new(
            revoked.unwrap_or_default(),
            a.revocations_as_of.unwrap_or(a.at),
        ),
        usage: UsageLedger::new(UsageLimits::default()),
        authorizations: doorman_trust::AuthorizationCache::default(),
    };
    let mut nonce = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let challenge = device.challenge(nonce, a.at);
    let proof = match &driver {
        Some(k) => Some(
            challenge
                .prove(k, &pass, a.at)
                .context("signing the challenge with --driver-key")?,
        ),
        None => None,
    };
    let decision = doorman_trust::decide(
        &device,
        &mut state,
        &Presentation {
            pass: &pass_text,
            challenge: &challenge,
            proof: proof.as_ref(),
        },
        a.at,
    );
    print_decision(&decision, consent_problem.as_deref(), a.json)?;
    Ok(if decision.is_allow() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_decision(decision: &Decision, consent_problem: Option<&str>, json: bool) -> Result<()> {
    let value = match decision {
        Decision::Allow(e) => serde_json::json!({
            "decision": "allow",
            "pulse_ms": e.pulse_ms,
            "carrier": e.carrier.as_str(),
            "unit": e.unit.as_str(),
            "delivery": e.delivery.as_str(),
            "driver": e.driver.to_string(),
            "pass_id": hex::encode(&e.pass_id),
            "authorization_id": hex::encode(&e.authorization_id),
        }),
        Decision::Deny(d) => {
            let detail = match (d.reason, consent_problem) {
                (doorman_core::DenyReason::NotConsented, Some(p)) => format!("{}: {p}", d.detail),
                _ => d.detail.clone(),
            };
            serde_json::json!({
                "decision": "deny",
                "reason": d.reason.code(),
                "detail": detail,
                "carrier": d.carrier.as_ref().map(|c| c.as_str()),
                "pass_id": d.pass_id.as_ref().map(hex::encode),
            })
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match decision {
        Decision::Allow(e) => println!(
            "allow: pulse {} ms; carrier {}, unit {}, delivery {}",
            e.pulse_ms, e.carrier, e.unit, e.delivery
        ),
        Decision::Deny(d) => println!(
            "deny: {} ({})",
            d.reason.code(),
            value
                .get("detail")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        ),
    }
    Ok(())
}

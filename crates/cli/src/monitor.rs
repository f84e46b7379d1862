//! `doorman monitor`: follow a public log and report every new entry about a watched building.
//!
//! Each pass verifies the log exactly as `doorman log verify` does ([`verify::check`]:
//! signature, consistency with the remembered checkpoint, the new tiles and bundles), reads
//! the new entries from the entry bundles it verified, parses each with
//! [`PublicEntry::parse`], feeds it to a [`Directory`] (property → address and key, warnings)
//! and reports those whose property's `address_key` is `normalize_address(--watch)` — or was,
//! before a re-registration moved it away. Reports are printed only once the whole pass has
//! verified, then the state is saved; so every report comes from a verified checkpoint, and a
//! crash between the two may repeat reports (at least once, never lost).
//!
//! # State dir
//!
//! `--state DIR` holds one file, `monitor.json`, replaced atomically after each pass that saw
//! a new checkpoint:
//!
//! ```json
//! {"format":"doorman-monitor-state/1","checkpoint":"<signed note>","directory":{"properties":{...}}}
//! ```
//!
//! `checkpoint` is the last verified checkpoint note (the same bytes `log verify --state`
//! keeps), `directory` the [`Directory`] of every entry up to its size. A restart resumes from
//! there. Without `--state` the monitor starts from entry 0 and keeps its state in memory.
//!
//! # Exit codes
//!
//! 0 done (`--once`: the log verified); 1 the pass could not complete (network, HTTP, the
//! state could not be written); 2 a usage error (bad flag, key or address, a state dir of
//! another log); 3 **ALERT**: the log misbehaved — a fork or split view (a checkpoint that does
//! not extend the remembered one), a rollback, a bad signature, or tiles and entries that do
//! not match the signed checkpoint. Following (no `--once`), network errors are retried at
//! the next poll; an alert always stops it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use doorman_entries::{Directory, PublicEntry, normalize_address};
use doorman_tlog::{Checkpoint, NoteVerifier};
use serde::{Deserialize, Serialize};

use crate::verify::{self, Client};

/// The state file in the state dir.
pub const STATE_FILE: &str = "monitor.json";

/// The state file's `format` member.
const STATE_FORMAT: &str = "doorman-monitor-state/1";

/// What `doorman monitor` was asked.
#[derive(Debug)]
pub struct MonitorOptions {
    pub url: String,
    pub key: NoteVerifier,
    pub origin: Option<String>,
    pub watch: Vec<String>,
    pub state: Option<PathBuf>,
    pub once: bool,
    pub json: bool,
    pub interval: Duration,
}

/// The state file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    checkpoint: String,
    directory: Directory,
}

/// What the monitor remembers between passes.
#[derive(Debug, Default)]
struct State {
    checkpoint: Option<(Checkpoint, Vec<u8>)>,
    directory: Directory,
}

/// One watched address.
#[derive(Debug)]
struct Watch {
    key: String,
}

/// A new entry about a watched address.
#[derive(Debug)]
struct Report {
    index: u64,
    entry: PublicEntry,
    /// The entry's bytes as JSON.
    json: serde_json::Value,
    address: String,
    warnings: Vec<String>,
}

/// A report as a JSON line, members in this order.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    index: u64,
    entry: &'a serde_json::Value,
    address: &'a str,
    warnings: &'a [String],
}

/// An entry that does not parse.
#[derive(Debug)]
struct Unparsed {
    index: u64,
    code: &'static str,
    error: String,
}

/// Runs the monitor (see the module docs for the exit codes).
pub fn run(opts: MonitorOptions) -> Result<ExitCode> {
    let watches = opts
        .watch
        .iter()
        .map(|w| {
            normalize_address(w)
                .map(|key| Watch { key })
                .map_err(|e| anyhow!("--watch {w:?}: {e}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let client = Client::new(&opts.url)?;
    let origin = opts
        .origin
        .as_deref()
        .unwrap_or(opts.key.name())
        .to_string();
    let state_file = opts.state.as_ref().map(|dir| dir.join(STATE_FILE));
    let mut state = match &state_file {
        Some(path) => load_state(path, &origin, &opts.key)?,
        None => State::default(),
    };
    if let Some(dir) = &opts.state {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the state dir {}", dir.display()))?;
    }
    loop {
        match pass(&client, &opts, &origin, &watches, &state) {
            Ok(Some((checkpoint, note, directory, reports, unparsed))) => {
                for u in &unparsed {
                    eprintln!(
                        "doorman monitor: warning: entry {} is not a public entry this monitor \
                         reads ({}: {}); skipped",
                        u.index, u.code, u.error
                    );
                }
                for r in &reports {
                    print_report(r, opts.json)?;
                }
                let size = checkpoint.size();
                state = State {
                    checkpoint: Some((checkpoint, note)),
                    directory,
                };
                if let Some(path) = &state_file
                    && let Err(e) = save_state(path, &state)
                {
                    eprintln!("error: {e:#}");
                    return Ok(ExitCode::from(1));
                }
                if !opts.once {
                    eprintln!(
                        "doorman monitor: verified tree size {size}; {} new entr{} for the \
                         watched address{}",
                        reports.len(),
                        if reports.len() == 1 { "y" } else { "ies" },
                        if watches.len() == 1 { "" } else { "es" }
                    );
                }
            }
            Ok(None) => {}
            Err(e) if verify::is_mismatch(&e) => {
                eprintln!("ALERT: the log at {} misbehaves: {e:#}", client.base());
                eprintln!(
                    "ALERT: do not trust what it says about the watched building; keep the state \
                     {}as evidence",
                    state_file
                        .as_ref()
                        .map(|p| format!("{} ", p.display()))
                        .unwrap_or_default()
                );
                return Ok(ExitCode::from(3));
            }
            Err(e) if opts.once => {
                eprintln!("error: {e:#}");
                return Ok(ExitCode::from(1));
            }
            Err(e) => {
                eprintln!(
                    "doorman monitor: {e:#}; retrying in {}",
                    jiff::SignedDuration::try_from(opts.interval)
                        .map(|d| format!("{d:#}"))
                        .unwrap_or_else(|_| format!("{:?}", opts.interval))
                );
            }
        }
        if opts.once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(opts.interval);
    }
}

/// A pass's result: the new checkpoint, its note, the directory after it, the reports and
/// the entries that did not parse; `None` when the checkpoint is the remembered one.
type PassResult = Option<(Checkpoint, Vec<u8>, Directory, Vec<Report>, Vec<Unparsed>)>;

/// One verification pass over what is new since `state`.
fn pass(
    client: &Client,
    opts: &MonitorOptions,
    origin: &str,
    watches: &[Watch],
    state: &State,
) -> Result<PassResult> {
    let old = state.checkpoint.as_ref().map(|(cp, _)| cp);
    let mut directory = state.directory.clone();
    let mut reports = Vec::new();
    let mut unparsed = Vec::new();
    let watched = |key: &str| watches.iter().any(|w| w.key == key);
    let verified = verify::check(
        client,
        &opts.key,
        origin,
        old,
        false,
        &mut |index, bytes| match PublicEntry::parse(bytes) {
            Ok(entry) => {
                let before = directory.properties.get(entry.property()).cloned();
                let seen = directory.observe(index, &entry);
                let address = match (&seen.address_key, &seen.address) {
                    (Some(key), Some(address)) if watched(key) => Some(address.clone()),
                    _ => before
                        .filter(|r| watched(&r.address_key))
                        .map(|r| r.address),
                };
                if let Some(address) = address {
                    reports.push(Report {
                        index,
                        json: serde_json::from_slice(bytes).unwrap_or(serde_json::Value::Null),
                        entry,
                        address,
                        warnings: seen.warnings,
                    });
                }
            }
            Err(e) => unparsed.push(Unparsed {
                index,
                code: e.code(),
                error: e.to_string(),
            }),
        },
    )?;
    if verified.mode == verify::Mode::Unchanged {
        return Ok(None);
    }
    Ok(Some((
        verified.checkpoint,
        verified.note,
        directory,
        reports,
        unparsed,
    )))
}

#[allow(clippy::print_stdout)]
fn print_report(r: &Report, json: bool) -> Result<()> {
    if json {
        let line = JsonReport {
            index: r.index,
            entry: &r.json,
            address: &r.address,
            warnings: &r.warnings,
        };
        println!("{}", serde_json::to_string(&line)?);
        return Ok(());
    }
    let e = &r.entry;
    println!(
        "{} {} {} property={}{} address={:?}",
        r.index,
        e.at(),
        e.entry_type(),
        e.property(),
        details(e),
        r.address
    );
    for w in &r.warnings {
        println!("  warning: {w}");
    }
    Ok(())
}

/// The members that say what an entry is about: doors, devices, carriers.
fn details(e: &PublicEntry) -> String {
    match e {
        PublicEntry::PropertyRegistered {
            property_key,
            custody,
            verified_by,
            ..
        } => format!(
            " key={property_key} custody={} verified_by={verified_by}",
            match custody {
                doorman_entries::Custody::Custodial => "custodial",
                doorman_entries::Custody::SelfCustody => "self",
            }
        ),
        PublicEntry::InstallationRequested {
            door,
            device,
            installer,
            ..
        } => format!(" door={door} device={device} installer={installer}"),
        PublicEntry::ConsentGranted {
            door,
            device,
            installer,
            not_after,
            ..
        } => format!(" door={door} device={device} installer={installer} until={not_after}"),
        PublicEntry::ConsentRevoked {
            door,
            device,
            reason,
            ..
        }
        | PublicEntry::DeviceDecommissioned {
            door,
            device,
            reason,
            ..
        } => format!(" door={door} device={device} reason={reason}"),
        PublicEntry::DeviceActivated { door, device, .. } => {
            format!(" door={door} device={device}")
        }
        PublicEntry::CarrierAuthorized {
            carrier,
            doors,
            not_after,
            ..
        } => format!(
            " carrier={carrier} doors={} until={not_after}",
            doors.join(",")
        ),
        PublicEntry::AuthorizationRevoked {
            carrier, reason, ..
        } => format!(" carrier={carrier} reason={reason}"),
        PublicEntry::AccessLogAnchored { origin, size, .. } => {
            format!(" access_log={origin} size={size}")
        }
    }
}

fn load_state(path: &Path, origin: &str, key: &NoteVerifier) -> Result<State> {
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => bail!("reading the monitor state {}: {e}", path.display()),
    };
    let file: StateFile = serde_json::from_slice(&data).with_context(|| {
        format!(
            "{} is not a monitor state file (remove it to start afresh)",
            path.display()
        )
    })?;
    if file.format != STATE_FORMAT {
        bail!(
            "{} has format {:?}; this monitor reads {STATE_FORMAT:?}",
            path.display(),
            file.format
        );
    }
    let note = file.checkpoint.into_bytes();
    let checkpoint = Checkpoint::open(&note, origin, key).with_context(|| {
        format!(
            "the monitor state {} does not hold a checkpoint of {origin} signed by {key} \
             (another log's? use another --state dir)",
            path.display()
        )
    })?;
    Ok(State {
        checkpoint: Some((checkpoint, note)),
        directory: file.directory,
    })
}

fn save_state(path: &Path, state: &State) -> Result<()> {
    let Some((_, note)) = &state.checkpoint else {
        return Ok(());
    };
    let file = StateFile {
        format: STATE_FORMAT.to_string(),
        checkpoint: String::from_utf8(note.clone())
            .map_err(|_| anyhow!("the checkpoint note is not UTF-8"))?,
        directory: state.directory.clone(),
    };
    let mut data = serde_json::to_vec(&file)?;
    data.push(b'\n');
    verify::write_atomically(path, &data)
        .with_context(|| format!("saving the monitor state {}", path.display()))
}

//! `doorman log append`: the operator's tool to put public entries into the log, until the
//! control plane (issue 4) appends them from its API.
//!
//! Input is JSON Lines: one public entry per line, in any JSON spelling (member order,
//! whitespace); blank lines are skipped. Every line is validated with
//! [`PublicEntry::from_json`] and written in its canonical form ([`PublicEntry::to_bytes`]).
//! For `consent_granted` and `carrier_authorized` entries the embedded token is checked with
//! [`check_tokens`] against the key of the property's registration: the latest
//! `property_registered` line before it in the input, else the latest one in the log, else
//! the first one after it in the input; with none anywhere, the token is not checked (a note
//! says so).
//!
//! All or nothing: if any line is refused, nothing is appended and every refused line is
//! listed as `line N: <code>: <why>`, with the stable codes of `EntryError::code`. Otherwise
//! the whole input is appended in one SQLite transaction (at most `MAX_BATCH_ENTRIES` lines)
//! and the assigned indexes are printed, one per line.
//!
//! It writes `DIR/log.sqlite` directly, beside a running `doorman serve`: SQLite's WAL mode
//! and busy timeout let the two processes take turns, and the server's integrator reads the
//! store at every interval, so it signs a checkpoint covering the new entries at its next
//! round. The token check reads the log's registrations from the same store; an entry
//! appended by someone else in between is not seen (monitors check every token again).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use doorman_entries::{PublicEntry, PublicKey, check_tokens};
use doorman_store::{DB_FILE, LogStore, MAX_BATCH_ENTRIES, SqliteLogStore};

/// Refused lines listed in one error, at most.
const MAX_LISTED: usize = 20;

/// Entries read from the store per query when looking for registrations.
const READ_CHUNK: u64 = 4096;

/// What `doorman log append` was asked.
#[derive(Debug)]
pub struct AppendOptions {
    pub data_dir: PathBuf,
    /// The input file; stdin if `None` or `-`.
    pub input: Option<PathBuf>,
}

/// One accepted input line.
#[derive(Debug)]
struct Line {
    number: usize,
    entry: PublicEntry,
    bytes: Vec<u8>,
}

/// Validates the input and appends it.
#[allow(clippy::print_stdout)]
pub fn run(opts: AppendOptions) -> Result<ExitCode> {
    if !opts.data_dir.join(DB_FILE).is_file() {
        bail!(
            "there is no log in {} (no {DB_FILE}); start `doorman serve --data-dir {}` once \
             first, or check the path",
            opts.data_dir.display(),
            opts.data_dir.display()
        );
    }
    let (name, input) = read_input(opts.input.as_deref())?;
    let lines = parse_lines(&input).map_err(|problems| refused(&name, &problems))?;
    if lines.is_empty() {
        bail!("{name} holds no entries (one JSON object per line)");
    }
    if lines.len() > MAX_BATCH_ENTRIES {
        bail!(
            "{name} holds {} entries; one append takes at most {MAX_BATCH_ENTRIES} (split it)",
            lines.len()
        );
    }
    let store = SqliteLogStore::open(&opts.data_dir)
        .with_context(|| format!("opening the log store in {}", opts.data_dir.display()))?;
    let notes = check_batch_tokens(&lines, || log_registrations(&store))
        .map_err(|problems| refused(&name, &problems))?;
    for note in notes {
        eprintln!("doorman log append: note: {note}");
    }
    let bytes: Vec<Vec<u8>> = lines.into_iter().map(|l| l.bytes).collect();
    let indexes = store
        .append(&bytes)
        .with_context(|| format!("appending to {}", store.path().display()))?;
    for index in &indexes {
        println!("{index}");
    }
    if let (Some(first), Some(last)) = (indexes.first(), indexes.last()) {
        eprintln!(
            "doorman log append: appended {} entr{} (indexes {first}..={last}) to {}; a running \
             `doorman serve` signs a checkpoint covering them at its next interval",
            indexes.len(),
            if indexes.len() == 1 { "y" } else { "ies" },
            store.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The input's name for messages, and its bytes.
fn read_input(path: Option<&Path>) -> Result<(String, Vec<u8>)> {
    let mut data = Vec::new();
    match path {
        Some(p) if p != Path::new("-") => {
            data = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Ok((p.display().to_string(), data))
        }
        _ => {
            std::io::stdin()
                .read_to_end(&mut data)
                .context("reading stdin")?;
            Ok(("stdin".to_string(), data))
        }
    }
}

fn refused(name: &str, problems: &[String]) -> anyhow::Error {
    let mut text = format!(
        "nothing appended: {} line{} of {name} refused:",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems.iter().take(MAX_LISTED) {
        text.push_str("\n  ");
        text.push_str(p);
    }
    if problems.len() > MAX_LISTED {
        text.push_str(&format!("\n  ... and {} more", problems.len() - MAX_LISTED));
    }
    anyhow!(text)
}

/// Parses every non-blank line; on any failure, every failure as `line N: code: why`.
fn parse_lines(input: &[u8]) -> Result<Vec<Line>, Vec<String>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (number, raw) in (1..).zip(input.split(|&b| b == b'\n')) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match PublicEntry::from_json(raw).and_then(|entry| {
            let bytes = entry.to_bytes()?;
            Ok((entry, bytes))
        }) {
            Ok((entry, bytes)) => lines.push(Line {
                number,
                entry,
                bytes,
            }),
            Err(e) => problems.push(format!("line {number}: {}: {e}", e.code())),
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

/// A property's key as registered, and where.
type Registration = (String, String);

/// For each `consent_granted` / `carrier_authorized` line, checks its token against the key
/// of the property's registration (see the module docs). `log` reads the log's registrations
/// (property → (key, where)); it is called only if some property is not registered earlier in
/// the input. Returns notes about unchecked tokens, or every refusal.
fn check_batch_tokens(
    lines: &[Line],
    log: impl FnOnce() -> Result<HashMap<String, Registration>>,
) -> Result<Vec<String>, Vec<String>> {
    let registration = |line: &Line| match &line.entry {
        PublicEntry::PropertyRegistered {
            property,
            property_key,
            ..
        } => Some((
            property.clone(),
            (
                property_key.clone(),
                format!("its property_registered entry on line {}", line.number),
            ),
        )),
        _ => None,
    };
    let mut later: HashMap<String, Registration> = HashMap::new();
    for (property, found) in lines.iter().rev().filter_map(registration) {
        later.insert(property, found);
    }
    let mut earlier: HashMap<String, Registration> = HashMap::new();
    let mut log = Some(log);
    let mut in_log: HashMap<String, Registration> = HashMap::new();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    for line in lines {
        if let Some((property, found)) = registration(line) {
            earlier.insert(property, found);
            continue;
        }
        if !matches!(
            line.entry,
            PublicEntry::ConsentGranted { .. } | PublicEntry::CarrierAuthorized { .. }
        ) {
            continue;
        }
        let property = line.entry.property();
        if !earlier.contains_key(property)
            && let Some(read) = log.take()
        {
            in_log = read().map_err(|e| vec![format!("reading the log's registrations: {e:#}")])?;
        }
        let Some((key, source)) = earlier
            .get(property)
            .or_else(|| in_log.get(property))
            .or_else(|| later.get(property))
        else {
            notes.push(format!(
                "line {}: property {property} is registered neither in this input nor in the \
                 log; the {} token was not checked",
                line.number,
                line.entry.entry_type()
            ));
            continue;
        };
        let result = key
            .parse::<PublicKey>()
            .map_err(|e| format!("the registered property key {key:?} is unusable: {e}"))
            .and_then(|key| {
                check_tokens(&line.entry, &key)
                    .map_err(|e| format!("{}: {e} (checked against {source})", e.code()))
            });
        if let Err(why) = result {
            problems.push(format!("line {}: {why}", line.number));
        }
    }
    if problems.is_empty() {
        Ok(notes)
    } else {
        Err(problems)
    }
}

/// The latest registration of every property in the log (appended entries, integrated or
/// not).
fn log_registrations(store: &SqliteLogStore) -> Result<HashMap<String, Registration>> {
    // Canonical entries have sorted members and no whitespace, so every registration holds
    // this text; the rest need not be parsed.
    const MARK: &[u8] = br#""type":"property_registered""#;
    let size = store.sequenced_size()?;
    let mut found = HashMap::new();
    let mut start = 0;
    while start < size {
        let end = size.min(start + READ_CHUNK);
        for (index, bytes) in (start..).zip(store.sequenced_entries(start, end)?) {
            if !bytes.windows(MARK.len()).any(|w| w == MARK) {
                continue;
            }
            if let Ok(PublicEntry::PropertyRegistered {
                property,
                property_key,
                ..
            }) = PublicEntry::parse(&bytes)
            {
                found.insert(
                    property,
                    (
                        property_key,
                        format!("its property_registered entry at index {index} in the log"),
                    ),
                );
            }
        }
        start = end;
    }
    Ok(found)
}

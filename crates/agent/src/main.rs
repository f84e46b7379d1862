//! `doorman-agent`: see the library docs (`doorman_agent`) and docs/agent.md.

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use doorman_agent::{AgentError, StateDir};
use doorman_device::{Activation, MAX_BUNDLE_BYTES};
use jiff::Timestamp;

#[derive(Parser)]
#[command(name = "doorman-agent", version, about = "The Doorman door agent")]
struct Cli {
    /// The agent's state dir (its key, identity and activation).
    #[arg(
        long,
        env = "DOORMAN_AGENT_STATE_DIR",
        default_value = "/var/lib/doorman-agent",
        global = true
    )]
    state_dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// First start: generate the device key and print the enrolment data for the installer.
    Init {
        /// The public log's verifier key (origin+keyhash+base64, from `GET /log/key`), which
        /// every activation must be proven against.
        #[arg(long)]
        log_key: String,
        /// The device id to enrol under (default: derived from the key).
        #[arg(long)]
        device_id: Option<String>,
    },
    /// Print the enrolment data again.
    Show,
    /// Verify an activation bundle (file path, or - for stdin) and keep it if it verifies.
    Activate {
        bundle: PathBuf,
        /// Verify as of this time (RFC 3339) instead of now: for tests and dry runs.
        #[arg(long)]
        at: Option<Timestamp>,
    },
    /// Whether the agent is active, verifying its kept activation again.
    Status {
        #[arg(long)]
        at: Option<Timestamp>,
    },
}

/// The one place this binary reads the clock.
#[allow(clippy::disallowed_methods)]
fn now() -> Timestamp {
    Timestamp::now()
}

fn read_bundle(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let limit = u64::try_from(MAX_BUNDLE_BYTES).unwrap_or(u64::MAX) + 1;
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)?;
    } else {
        std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            .take(limit)
            .read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

fn summary(a: &Activation) -> serde_json::Value {
    serde_json::json!({
        "active": true,
        "property": a.property.as_str(),
        "door": a.door.as_str(),
        "property_key": a.property_key.to_string(),
        "consent_index": a.consent_index,
        "registration_index": a.registration_index,
        "consent_not_after": a.consent.spec().not_after.to_string(),
        "pulse_ms": a.config.pulse_ms,
        "revocation_max_age_s": a.config.revocation_max_age_s,
        "revocations": a.revocations.revoked.len(),
        "revocations_issued_at": a.revocations.issued_at.to_string(),
    })
}

fn print_activation(json: bool, verb: &str, a: &Activation) {
    if json {
        println!("{}", summary(a));
    } else {
        println!(
            "{verb}: door {} of property {} (consent at public log entry {}, valid until {}; property key {})",
            a.door,
            a.property,
            a.consent_index,
            a.consent.spec().not_after,
            a.property_key
        );
    }
}

fn run(cli: &Cli) -> Result<(), AgentError> {
    let dir = StateDir::new(&cli.state_dir);
    match &cli.command {
        Command::Init { log_key, device_id } => {
            let e = dir.init(log_key, device_id.as_deref())?;
            if cli.json {
                println!("{}", serde_json::json!(e));
            } else {
                println!("{e}");
                eprintln!(
                    "doorman-agent: give the installer these (doorman installation request --device-id {} --device-pub {})",
                    e.device_id, e.device_key
                );
            }
        }
        Command::Show => {
            let e = dir.enrolment()?;
            if cli.json {
                println!("{}", serde_json::json!(e));
            } else {
                println!("{e}");
            }
        }
        Command::Activate { bundle, at } => {
            let bytes = read_bundle(bundle).map_err(|e| AgentError::Io {
                what: "cannot read the bundle",
                path: bundle.display().to_string(),
                source: std::io::Error::other(e.to_string()),
            })?;
            let a = dir.activate(&bytes, at.unwrap_or_else(now))?;
            print_activation(cli.json, "active", &a);
        }
        Command::Status { at } => match dir.activation(at.unwrap_or_else(now))? {
            Some(a) => print_activation(cli.json, "active", &a),
            None if cli.json => println!(
                "{}",
                serde_json::json!({"active": false, "reason": "not_activated"})
            ),
            None => println!("inactive: not activated yet"),
        },
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({"error": e.code(), "message": e.to_string()})
                );
            }
            eprintln!("doorman-agent: {e} [{}]", e.code());
            ExitCode::FAILURE
        }
    }
}

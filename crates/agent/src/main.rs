//! `doorman-agent`: see the library docs (`doorman_agent`) and docs/agent.md.

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use std::os::unix::net::{UnixListener, UnixStream};

use doorman_agent::door::{FileRelay, Relay};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_agent::link::{Core, LinkConfig, LinkEnd};
use doorman_agent::relay::{ActiveLevel, CommandRelay, GpioRelay, GpioSpec};
use doorman_agent::{AgentError, StateDir};
use doorman_device::{AccessEvent, Activation, MAX_BUNDLE_BYTES};
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
    /// Serve the door: decide presentations on the local socket, journal each decision, pulse
    /// the relay on allow.
    Run {
        /// The presentation socket (default: door.sock in the state dir).
        #[arg(long)]
        socket: Option<PathBuf>,
        #[command(flatten)]
        relay: RelayArgs,
        /// Decide as if the clock always read this time (tests and demos only).
        #[arg(long, hide = true)]
        fixed_time: Option<Timestamp>,
        /// Do not connect to the server, even if the activation says how (decisions wait in
        /// the journal).
        #[arg(long)]
        offline: bool,
        /// Connect to this broker instead of the one the activation names: `host:port` (plain
        /// MQTT, for a broker on this host) or `mqtts://host:port` (TLS).
        #[arg(long)]
        broker: Option<String>,
        /// The CA certificates (PEM file) a `mqtts://` broker's certificate must chain to
        /// (default: the system's roots).
        #[arg(long)]
        broker_ca: Option<PathBuf>,
        /// Seconds between status reports to the server.
        #[arg(long, default_value_t = 30)]
        heartbeat_secs: u64,
    },
    /// Present a pass at the door over its local socket, answering its challenge with the
    /// driver's key (what a driver's handset does over BLE or NFC). Exit 0 if the door opened.
    Present {
        /// The pass (a file with its base64url text, or - for stdin).
        #[arg(long)]
        pass: PathBuf,
        /// The driver's private key file.
        #[arg(long)]
        driver_key: PathBuf,
        #[arg(long)]
        socket: Option<PathBuf>,
        /// Sign as if the handset's clock read this time (tests only).
        #[arg(long, hide = true)]
        fixed_time: Option<Timestamp>,
    },
    /// The decisions in the journal not yet acknowledged by the server, oldest first.
    Log,
}

/// How `run` drives the door release.
#[derive(clap::Args, Debug)]
struct RelayArgs {
    /// `simulated` (pulses are written to relay-sim.log in the state dir), `gpio` (a line of
    /// a GPIO character device: --gpio-chip, --gpio-line, --gpio-active) or `command`.
    #[arg(long = "relay", default_value = "simulated")]
    kind: String,
    /// With `--relay command`: the program to run as `PROGRAM <pulse ms>`; a non-zero exit is
    /// a relay fault.
    #[arg(long)]
    relay_command: Option<PathBuf>,
    /// With `--relay gpio`: the chip's character device.
    #[arg(long, default_value = "/dev/gpiochip0")]
    gpio_chip: PathBuf,
    /// With `--relay gpio`: the line's offset on the chip (see `gpioinfo`).
    #[arg(long)]
    gpio_line: Option<u32>,
    /// With `--relay gpio`: the level that energises the relay, `high` or `low`.
    #[arg(long, default_value = "high")]
    gpio_active: String,
}

impl RelayArgs {
    /// Sets up the back end; one that can't be set up stops the agent before it serves.
    fn open(&self, dir: &StateDir) -> Result<Box<dyn Relay + Send>, AgentError> {
        let usage = |why: String| io_error("the relay", dir.path(), why);
        match (self.kind.as_str(), &self.relay_command, self.gpio_line) {
            ("simulated", None, None) => Ok(Box::new(FileRelay(dir.path().join("relay-sim.log")))),
            ("command", Some(p), None) => Ok(Box::new(CommandRelay(p.clone()))),
            ("gpio", None, Some(line)) => {
                let active = self.gpio_active.parse::<ActiveLevel>().map_err(usage)?;
                let relay = GpioRelay::open(GpioSpec {
                    chip: self.gpio_chip.clone(),
                    line,
                    active,
                })
                .map_err(|e| usage(e.to_string()))?;
                Ok(Box::new(relay))
            }
            _ => Err(usage(format!(
                "--relay {:?} is not one of: simulated; command with --relay-command PROGRAM; \
                 gpio with --gpio-line N (and --gpio-chip, --gpio-active)",
                self.kind
            ))),
        }
    }
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

fn io_error(what: &'static str, path: &std::path::Path, e: impl std::fmt::Display) -> AgentError {
    AgentError::Io {
        what,
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn serve(
    dir: &StateDir,
    socket: Option<&PathBuf>,
    relay: &RelayArgs,
    fixed_time: Option<Timestamp>,
    link: Option<Option<&str>>,
    broker_ca: Option<&PathBuf>,
    heartbeat: std::time::Duration,
) -> Result<(), AgentError> {
    let clock = move || fixed_time.unwrap_or_else(now);
    let activation = dir.activation(clock())?.ok_or_else(|| {
        AgentError::NotInitialised(format!(
            "{} (not activated: run `doorman-agent activate` first)",
            dir.path().display()
        ))
    })?;
    let relay = relay.open(dir)?;
    let broker_ca = broker_ca
        .map(|p| std::fs::read(p).map_err(|e| io_error("cannot read the broker CA file", p, e)))
        .transpose()?;
    let journal = Journal::open(dir.path(), JournalLimits::default())
        .map_err(|e| io_error("the journal", dir.path(), format!("{e} [{}]", e.code())))?;
    let (device_id, key) = dir.identity_keys()?;
    let broker_link = match link {
        None => None,
        Some(over) => activation.link.clone().map(|mut l| {
            if let Some(b) = over {
                l.broker = b.to_string();
            }
            l
        }),
    };
    let socket = socket
        .cloned()
        .unwrap_or_else(|| dir.path().join("door.sock"));
    // A socket file left by a stopped agent: nobody listens on it.
    if UnixStream::connect(&socket).is_err() {
        let _ = std::fs::remove_file(&socket);
    }
    let listener =
        UnixListener::bind(&socket).map_err(|e| io_error("cannot listen on", &socket, e))?;
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660));
    }
    eprintln!(
        "doorman-agent: serving door {} of property {} on {} ({} decisions waiting for the server; {})",
        activation.door,
        activation.property,
        socket.display(),
        journal.pending_len(),
        broker_link.as_ref().map_or_else(
            || "offline".to_string(),
            |l| format!("server via {}", l.broker)
        )
    );
    let core = std::sync::Arc::new(std::sync::Mutex::new(Core::new(
        activation,
        key.clone(),
        journal,
        relay,
    )));
    let fresh = || {
        use rand::RngCore as _;
        let mut n = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut n);
        n
    };
    let local_core = std::sync::Arc::clone(&core);
    let local = std::thread::Builder::new()
        .name("door-socket".to_string())
        .spawn(move || {
            let mut fresh = fresh;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Err(e) = doorman_agent::local::serve_connection(
                    stream,
                    &local_core,
                    &clock,
                    &mut fresh,
                    &mut |line| eprintln!("doorman-agent: {line}"),
                ) {
                    eprintln!("doorman-agent: a presenter's connection failed: {e}");
                }
            }
        })
        .map_err(|e| io_error("cannot start the socket thread", dir.path(), e))?;
    match broker_link {
        None => {
            let _ = local.join();
        }
        Some(l) => {
            let device = doorman_core::DeviceId::new(device_id.as_str())
                .map_err(|e| AgentError::BadDeviceId(e.to_string()))?;
            let config = LinkConfig {
                link: l,
                device,
                key: key.clone(),
                heartbeat,
                broker_ca,
            };
            let stop = std::sync::atomic::AtomicBool::new(false);
            let mut fresh = fresh;
            let end = doorman_agent::link::run_link(
                &config,
                &core,
                dir,
                &clock,
                &mut fresh,
                &stop,
                &|line| eprintln!("doorman-agent: {line}"),
            );
            if let LinkEnd::Retired(why) = end {
                let _ = std::fs::remove_file(&socket);
                eprintln!("doorman-agent: stopped and forgot the activation ({why})");
                return Err(AgentError::Retired(why));
            }
        }
    }
    Ok(())
}

fn present(
    pass: &PathBuf,
    driver_key: &std::path::Path,
    socket: &std::path::Path,
    fixed_time: Option<Timestamp>,
) -> anyhow::Result<String> {
    let text = String::from_utf8(read_bundle(pass)?)?.trim().to_string();
    let pem = doorman_files::read_private_file(driver_key, "the driver key")?;
    let driver = doorman_trust::SecretKey::from_pem(&pem)?;
    let bytes = doorman_trust::token::decode(&text)?;
    let answer = doorman_agent::local::present_over(socket, &text, |c| {
        c.prove(&driver, &bytes, fixed_time.unwrap_or_else(now))
            .map_err(|e| e.to_string())
    })
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(answer
        .get("result")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("deny")
        .to_string())
}

/// A string member of a JSON object, or "".
fn text<'a>(v: &'a serde_json::Value, member: &str) -> &'a str {
    v.get(member)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
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
                if let Some(qr) = e.qr() {
                    println!("\n{qr}");
                }
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
                if let Some(qr) = e.qr() {
                    println!("\n{qr}");
                }
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
        Command::Run {
            socket,
            relay,
            fixed_time,
            offline,
            broker,
            broker_ca,
            heartbeat_secs,
        } => serve(
            &dir,
            socket.as_ref(),
            relay,
            *fixed_time,
            (!*offline).then_some(broker.as_deref()),
            broker_ca.as_ref(),
            std::time::Duration::from_secs((*heartbeat_secs).max(1)),
        )?,
        Command::Present {
            pass,
            driver_key,
            socket,
            fixed_time,
        } => {
            let socket = socket
                .clone()
                .unwrap_or_else(|| dir.path().join("door.sock"));
            let result = present(pass, driver_key, &socket, *fixed_time)
                .map_err(|e| io_error("cannot present at", &socket, e))?;
            if cli.json {
                println!("{}", serde_json::json!({ "result": result }));
            } else {
                println!("{result}");
            }
            if result != "allow" {
                return Err(AgentError::Refused);
            }
        }
        Command::Log => {
            let (_, key) = dir.keys()?;
            let records = doorman_agent::journal::read_pending(dir.path())
                .map_err(|e| io_error("the journal", dir.path(), format!("{e} [{}]", e.code())))?;
            for (seq, signed) in records {
                let line = match AccessEvent::verify(&signed, &key) {
                    Ok(e) => serde_json::json!({
                        "seq": seq,
                        "at": e.at.to_string(),
                        "result": if e.is_allow() { "allow" } else { "deny" },
                        "reason": e.reason.map(|r| r.code()),
                        "carrier": e.carrier,
                        "unit": e.unit,
                        "delivery": e.delivery,
                    }),
                    Err(err) => serde_json::json!({"seq": seq, "error": err.code()}),
                };
                if cli.json {
                    println!("{line}");
                } else {
                    println!(
                        "{seq:>6}  {}  {:<5}  {}",
                        text(&line, "at"),
                        text(&line, "result"),
                        text(&line, "reason")
                    );
                }
            }
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

//! `doorman serve`: the whole server (`doorman_server::start`) from one configuration,
//! layered: built-in defaults, then the TOML file (`--config` / `DOORMAN_CONFIG`), then
//! `DOORMAN_*` environment variables, then flags. Unknown keys in the file and unknown
//! `DOORMAN_*` variables are errors, so a typo never silently falls back to a default.
//! The commented example is `doorman.example.toml` at the repository's root.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use doorman_server::{ServerConfig, start};
use serde::Deserialize;

use crate::clock;

/// Every `DOORMAN_*` variable the binary reads (the server's and the API client's).
pub const KNOWN_ENV: &[&str] = &[
    "DOORMAN_CONFIG",
    "DOORMAN_DATA_DIR",
    "DOORMAN_LISTEN",
    "DOORMAN_ORIGIN",
    "DOORMAN_PUBLIC_URL",
    "DOORMAN_CHECKPOINT_INTERVAL",
    "DOORMAN_ANCHOR_INTERVAL",
    "DOORMAN_ACCESS_RETENTION",
    "DOORMAN_MASTER_KEY_FILE",
    "DOORMAN_OPEN_SIGNUP",
    "DOORMAN_SESSION_TTL",
    "DOORMAN_DEVICE_BROKER",
    "DOORMAN_EMBEDDED_BROKER",
    "DOORMAN_BROKER_USER",
    "DOORMAN_BROKER_PASSWORD",
    "DOORMAN_BROKER_DYNSEC",
    "DOORMAN_PUBLIC_BROKER",
    "DOORMAN_URL",
    "DOORMAN_TOKEN",
    "DOORMAN_CREDENTIALS",
];

/// `doorman serve`'s flags. Each can also be set by its `DOORMAN_*` variable or in the file.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A TOML configuration file (see doorman.example.toml).
    #[arg(long, value_name = "FILE", env = "DOORMAN_CONFIG")]
    config: Option<PathBuf>,
    /// Holds the databases and keys (created on first start). Default ./doorman-data.
    #[arg(long, value_name = "DIR", env = "DOORMAN_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Where to listen (plain HTTP; put a TLS proxy in front). Default 127.0.0.1:8470.
    #[arg(long, value_name = "ADDR", env = "DOORMAN_LISTEN")]
    listen: Option<String>,
    /// The public log's origin (checkpoint origin line and key name), fixed at first start
    /// when log.key is created; default "<listen address>/log".
    #[arg(long, value_name = "NAME", env = "DOORMAN_ORIGIN")]
    origin: Option<String>,
    /// The URL people and machines reach the server at (an https:// URL marks the session
    /// cookie Secure).
    #[arg(long, value_name = "URL", env = "DOORMAN_PUBLIC_URL")]
    public_url: Option<String>,
    /// How often to integrate new log entries and sign a checkpoint. Default 1s.
    #[arg(long, value_name = "DURATION", env = "DOORMAN_CHECKPOINT_INTERVAL", value_parser = crate::parse_interval)]
    checkpoint_interval: Option<Duration>,
    /// How often every property's access log is checkpointed and anchored in the public log.
    /// Default 1h.
    #[arg(long, value_name = "DURATION", env = "DOORMAN_ANCHOR_INTERVAL", value_parser = crate::parse_interval)]
    anchor_interval: Option<Duration>,
    /// How long access-event payloads are kept before they are redacted (kept forever if
    /// absent), e.g. 2160h for 90 days.
    #[arg(long, value_name = "DURATION", env = "DOORMAN_ACCESS_RETENTION", value_parser = crate::parse_interval)]
    access_retention: Option<Duration>,
    /// The key-encryption key of custodial keys (64 hex digits, mode 0600). Default
    /// <data dir>/master.key, generated at first start with a warning.
    #[arg(long, value_name = "FILE", env = "DOORMAN_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Whether anyone may sign up a property, installer or carrier organisation. Default true.
    #[arg(long, value_name = "BOOL", env = "DOORMAN_OPEN_SIGNUP")]
    open_signup: Option<bool>,
    /// How long a signed-in session lasts. Default 12h.
    #[arg(long, value_name = "DURATION", env = "DOORMAN_SESSION_TTL", value_parser = crate::parse_interval)]
    session_ttl: Option<Duration>,
    /// Door devices' MQTT: `embedded` (rumqttd in this process, the default), `off`, or the
    /// `host:port` of an external broker (Mosquitto with deploy/mosquitto/doorman.conf).
    #[arg(long, value_name = "BROKER", env = "DOORMAN_DEVICE_BROKER")]
    device_broker: Option<String>,
    /// Where the embedded broker listens for devices (TLS with their client certificates).
    /// Default 127.0.0.1:18830.
    #[arg(long, value_name = "ADDR", env = "DOORMAN_EMBEDDED_BROKER")]
    embedded_broker: Option<String>,
    /// The server's account on an external broker. Default doorman-server.
    #[arg(long, value_name = "NAME", env = "DOORMAN_BROKER_USER")]
    broker_user: Option<String>,
    /// Its password (prefer the environment variable or the file to the flag).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "DOORMAN_BROKER_PASSWORD",
        hide_env_values = true
    )]
    broker_password: Option<String>,
    /// The external broker is Mosquitto with the dynamic-security plugin, whose admin the
    /// server's account is: the server keeps one account per approved device there.
    #[arg(long, value_name = "BOOL", env = "DOORMAN_BROKER_DYNSEC")]
    broker_dynsec: Option<bool>,
    /// The address devices are told to connect to (activation bundles), when it is not the
    /// broker's own (a NAT, a proxy): `mqtts://host:port` for the embedded broker.
    #[arg(long, value_name = "HOST:PORT", env = "DOORMAN_PUBLIC_BROKER")]
    public_broker: Option<String>,
}

/// The configuration file. Every key is optional; unknown keys are refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    origin: Option<String>,
    public_url: Option<String>,
    checkpoint_interval: Option<String>,
    anchor_interval: Option<String>,
    access_retention: Option<String>,
    master_key_file: Option<PathBuf>,
    open_signup: Option<bool>,
    session_ttl: Option<String>,
    device_broker: Option<String>,
    embedded_broker: Option<String>,
    broker_user: Option<String>,
    broker_password: Option<String>,
    broker_dynsec: Option<bool>,
    public_broker: Option<String>,
}

fn file_duration(v: Option<&str>, key: &str, file: &Path) -> Result<Option<Duration>> {
    v.map(|s| {
        crate::parse_interval(s).map_err(|e| anyhow::anyhow!("{}: {key}: {e}", file.display()))
    })
    .transpose()
}

/// Refuses `DOORMAN_*` variables no part of the binary reads (a typo would silently do
/// nothing).
pub fn check_env() -> Result<()> {
    let unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("DOORMAN_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "unknown environment variable{} {}; doorman reads {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            KNOWN_ENV.join(", ")
        );
    }
    Ok(())
}

/// The server's configuration: flags and environment over the file over defaults.
pub fn resolve(args: ServeArgs) -> Result<ServerConfig> {
    check_env()?;
    let (file, path) = match &args.config {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("reading the configuration {}", p.display()))?;
            let parsed: FileConfig =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
            (parsed, p.clone())
        }
        None => (FileConfig::default(), PathBuf::new()),
    };
    let data_dir = args
        .data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from("doorman-data"));
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| "127.0.0.1:8470".to_string());
    let mut config = ServerConfig::new(data_dir, listen);
    config.origin = args.origin.or(file.origin);
    if let Some(d) = args.checkpoint_interval.or(file_duration(
        file.checkpoint_interval.as_deref(),
        "checkpoint_interval",
        &path,
    )?) {
        config.checkpoint_interval = d;
    }
    if let Some(d) = args.anchor_interval.or(file_duration(
        file.anchor_interval.as_deref(),
        "anchor_interval",
        &path,
    )?) {
        config.anchor_interval = d;
    }
    config.access_retention = args.access_retention.or(file_duration(
        file.access_retention.as_deref(),
        "access_retention",
        &path,
    )?);
    config.master_key_file = args.master_key_file.or(file.master_key_file);
    if let Some(b) = args.open_signup.or(file.open_signup) {
        config.api.open_signup = b;
    }
    if let Some(d) = args.session_ttl.or(file_duration(
        file.session_ttl.as_deref(),
        "session_ttl",
        &path,
    )?) {
        config.api.session_ttl = d;
    }
    if let Some(url) = args.public_url.or(file.public_url) {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("public_url {url:?} must start with http:// or https://");
        }
        config.api.secure_cookies = url.starts_with("https://");
    }
    use doorman_server::devices::BrokerConfig;
    // A server asked to pick its HTTP port picks the broker's too (tests run many at once).
    let picks_port = config.listen.ends_with(":0");
    let embedded = args
        .embedded_broker
        .or(file.embedded_broker)
        .unwrap_or_else(|| {
            if picks_port {
                "127.0.0.1:0"
            } else {
                DEFAULT_EMBEDDED_BROKER
            }
            .to_string()
        });
    config.devices.broker = match args.device_broker.or(file.device_broker).as_deref() {
        None | Some("embedded") => BrokerConfig::Embedded { listen: embedded },
        Some("off") => BrokerConfig::Off,
        Some(addr) => {
            if addr
                .rsplit_once(':')
                .is_none_or(|(_, p)| p.parse::<u16>().is_err())
            {
                bail!("device_broker {addr:?} is not embedded, off, or host:port");
            }
            BrokerConfig::External {
                addr: addr.to_string(),
                username: args
                    .broker_user
                    .or(file.broker_user)
                    .unwrap_or_else(|| doorman_server::devices::SERVER_USER.to_string()),
                password: args.broker_password.or(file.broker_password).context(
                    "an external device broker needs broker_password (DOORMAN_BROKER_PASSWORD)",
                )?,
                dynsec: args.broker_dynsec.or(file.broker_dynsec).unwrap_or(false),
            }
        }
    };
    config.devices.public_broker = args.public_broker.or(file.public_broker);
    Ok(config)
}

/// Where the embedded broker listens by default (not MQTT's 1883: a host may run Mosquitto).
pub const DEFAULT_EMBEDDED_BROKER: &str = "127.0.0.1:18830";

/// glibc gives threads that allocate their own malloc arenas (up to eight per core) and
/// rarely hands their free memory back, so after a burst of requests — each store call runs
/// on a blocking-pool thread — the server's resident memory stays two to three times what it
/// uses (measured: 105-125 MiB idle after the mixed load, 46-72 MiB with two arenas; see
/// docs/benchmarks.md). glibc reads `MALLOC_ARENA_MAX` at process start only, so `serve`
/// re-executes itself once with it set to 2, unless the environment already sets it.
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt as _;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2")
        .exec();
    // `exec` returns only when it failed: carry on with glibc's default.
    eprintln!("doorman serve: could not re-execute with MALLOC_ARENA_MAX=2 ({err}); continuing");
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(args: ServeArgs) -> Result<ExitCode> {
    limit_malloc_arenas();
    let config = resolve(args)?;
    let data_dir = config.data_dir.clone();
    // Watch the signals before saying we are up: a SIGTERM sent right after "listening" must
    // stop the server cleanly, not kill it with the default action.
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal watcher")?;
    let mut shutdown = {
        let _in_runtime = signals.enter();
        shutdown_signal()?
    };
    let running = start(
        config,
        std::sync::Arc::new(clock::system_now),
        clock::monotonic,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let info = running.info.clone();
    if info.log_key_created {
        eprintln!(
            "doorman serve: created the log key {} for origin {}",
            data_dir.join(doorman_server::LOG_KEY_FILE).display(),
            info.origin
        );
        eprintln!(
            "doorman serve: the log's verifier key (give it to verifiers): {}",
            info.verifier_key
        );
    }
    if let Some(path) = &info.master_key_created {
        eprintln!(
            "doorman serve: WARNING: no master key file was configured; generated {} (mode 0600). \
             It encrypts every custodial property and carrier key: back it up apart from the \
             data dir, or set DOORMAN_MASTER_KEY_FILE to a key kept elsewhere.",
            path.display()
        );
    }
    eprintln!(
        "doorman serve: log {}, key {}",
        info.origin, info.verifier_key
    );
    eprintln!(
        "doorman serve: API at http://{}/api/v1 (OpenAPI: /api/v1/openapi.json)",
        info.addr
    );
    if let Some(code) = &info.setup_code {
        eprintln!(
            "doorman serve: no operator account yet. Create it once, with this one-time code \
             (a new one is printed at every start until then):\n  \
             doorman setup --url http://{} --code {code} --email you@example.org --name 'Your Name' --org 'Operator'",
            info.addr
        );
    }
    match &info.broker {
        Some(b) => eprintln!(
            "doorman serve: door devices connect to the MQTT broker at {b} (server key {})",
            info.server_key
        ),
        None => eprintln!("doorman serve: device messaging is off (devices work offline)"),
    }
    eprintln!("doorman serve: listening on http://{}/log", info.addr);

    let result = signals.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = tick.tick() => {
                    if let Some(e) = running.integration_error() {
                        eprintln!("doorman serve: integration failed (retrying): {e}");
                    }
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    });
    result?;
    running.stop().context("serving HTTP")?;
    eprintln!("doorman serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Installs the SIGINT (Ctrl-C) and SIGTERM handlers now and returns a future that completes
/// on either. Must run inside the runtime.
fn shutdown_signal() -> Result<std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(Box::pin(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("doorman serve: shutting down");
    }))
}

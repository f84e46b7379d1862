//! A whole `doorman serve`, assembled once for the binary and for the in-process testkit:
//! the stores under the data dir, the keys, the public log's integrator and address
//! indexer, the outbox publisher, the keeper (access-log anchoring and redaction, signed
//! state refresh, session purging), and the HTTP routers on one listener.
//!
//! The data dir holds:
//!
//! | file | what |
//! | --- | --- |
//! | `doorman.sqlite` | the control plane (accounts, properties, requests, ...) |
//! | `log.sqlite` | the public log |
//! | `log.key` | the public log's signed-note key (0600, created at first start) |
//! | `public-index.sqlite` | the address index (derived; delete to rebuild) |
//! | `access/` | the per-property access logs and their key |
//! | `master.key` | the key-encryption key of custodial keys, unless `master_key_file` points elsewhere (0600) |

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use doorman_store::control::Store;
use doorman_store::{
    AccessKey, AccessLogs, Clock, Integrator, IntegratorConfig, LogStore, PublicIndex,
    SqliteLogStore, SqliteStore, StoreError, StoredCheckpoint,
};
use doorman_tlog::NoteSigner;
use doorman_trust::{KEK_LEN, Kek};
use zeroize::Zeroizing;

use crate::api::{Api, ApiConfig};
use crate::observe::Metrics;
use crate::publisher::Publisher;

/// The log's private key file in the data dir.
pub const LOG_KEY_FILE: &str = "log.key";
/// The default key-encryption key file in the data dir.
pub const MASTER_KEY_FILE: &str = "master.key";

/// How `doorman serve` runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `host:port`; port 0 picks a free one.
    pub listen: String,
    /// The public log's origin, fixed at first start (default `<listen>/log`).
    pub origin: Option<String>,
    pub checkpoint_interval: Duration,
    /// How often every access log is checkpointed and anchored in the public log.
    pub anchor_interval: Duration,
    /// How long access-event payloads are kept before redaction (`None`: forever).
    pub access_retention: Option<Duration>,
    /// The key-encryption key file (default `<data dir>/master.key`, generated if absent).
    pub master_key_file: Option<PathBuf>,
    pub api: ApiConfig,
    /// Door devices: the broker and request timeouts.
    pub devices: crate::devices::DevicesConfig,
}

impl ServerConfig {
    /// Defaults for a data dir and listen address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: impl Into<String>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: listen.into(),
            origin: None,
            checkpoint_interval: Duration::from_secs(1),
            anchor_interval: Duration::from_secs(3600),
            access_retention: None,
            master_key_file: None,
            api: ApiConfig::default(),
            devices: crate::devices::DevicesConfig::default(),
        }
    }
}

/// Why the server could not start. The message says what to fix.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

fn fail(what: &str) -> impl FnOnce(StoreError) -> StartError + '_ {
    move |e| StartError(format!("{what}: {e}"))
}

/// What the server prints at start, and what tests need.
#[derive(Debug, Clone)]
pub struct StartInfo {
    pub addr: SocketAddr,
    pub origin: String,
    /// The public log's signed-note verifier key.
    pub verifier_key: String,
    pub log_key_created: bool,
    /// Set when the master key file was generated now (warn: back it up).
    pub master_key_created: Option<PathBuf>,
    /// The one-time setup code, while no operator exists.
    pub setup_code: Option<String>,
    /// The MQTT broker devices connect to (`host:port`), unless device messaging is off.
    pub broker: Option<String>,
    /// The key that signs the server's messages to devices.
    pub server_key: String,
}

/// A running server.
pub struct Running {
    pub info: StartInfo,
    pub api: Arc<Api>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    http: Option<JoinHandle<std::io::Result<()>>>,
    integrator: Option<Integrator>,
    indexer: Option<JoinHandle<()>>,
    keeper: Option<Keeper>,
    publisher: Arc<Publisher>,
    link: Option<JoinHandle<()>>,
    link_stop: Option<tokio::sync::watch::Sender<bool>>,
    ingester: Option<crate::devices::ingest::Ingester>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

fn read_private(path: &Path, what: &str) -> Result<Zeroizing<String>, StartError> {
    doorman_store::read_private_file(path, what).map_err(|e| StartError(e.to_string()))
}

/// Reads `DIR/log.key`, or creates it for `origin`. Returns the signer and whether it was
/// created now.
pub fn load_or_create_log_key(
    data_dir: &Path,
    origin: &str,
    explicit: bool,
) -> Result<(NoteSigner, bool), StartError> {
    let path = data_dir.join(LOG_KEY_FILE);
    match std::fs::metadata(&path) {
        Ok(_) => {
            let text = read_private(&path, "the log key")?;
            let signer = NoteSigner::parse(text.trim_end())
                .map_err(|e| StartError(format!("in {}: {e}", path.display())))?;
            if explicit && signer.name() != origin {
                return Err(StartError(format!(
                    "--origin is {origin:?} but the log in {} has origin {:?} (the name of its key {}); a log's origin never changes: drop --origin or use another --data-dir",
                    data_dir.display(),
                    signer.name(),
                    path.display()
                )));
            }
            Ok((signer, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = Zeroizing::new([0u8; 32]);
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, seed.as_mut_slice());
            let signer = NoteSigner::from_seed(origin, &seed).map_err(|_| {
                StartError(format!(
                    "{origin:?} cannot be a log origin (no spaces, '+' or control characters)"
                ))
            })?;
            let mut text = Zeroizing::new(signer.private_key_string().to_string());
            text.push('\n');
            doorman_store::write_new_private_file(&path, text.as_bytes())
                .map_err(|e| StartError(format!("writing {}: {e}", path.display())))?;
            Ok((signer, true))
        }
        Err(e) => Err(StartError(format!(
            "reading the log key {}: {e}",
            path.display()
        ))),
    }
}

/// Reads the key-encryption key (64 hex digits), or generates it when the default file in
/// the data dir is absent. A file named explicitly must exist: silently generating a new key
/// there would make every sealed key unreadable.
pub fn load_or_create_master_key(
    data_dir: &Path,
    file: Option<&Path>,
) -> Result<(Kek, Option<PathBuf>), StartError> {
    let (path, explicit) = match file {
        Some(p) => (p.to_path_buf(), true),
        None => (data_dir.join(MASTER_KEY_FILE), false),
    };
    match std::fs::metadata(&path) {
        Ok(_) => {
            let text = read_private(&path, "the master key")?;
            let bytes = hex::decode(text.trim())
                .ok()
                .and_then(|b| <[u8; KEK_LEN]>::try_from(b.as_slice()).ok())
                .ok_or_else(|| {
                    StartError(format!(
                        "{}: the master key must be {} hex digits",
                        path.display(),
                        KEK_LEN * 2
                    ))
                })?;
            Ok((Kek::from_bytes(bytes), None))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
            let kek = Kek::generate(&mut rand::rngs::OsRng);
            let mut text = Zeroizing::new(hex::encode(kek.as_bytes()));
            text.push('\n');
            doorman_store::write_new_private_file(&path, text.as_bytes())
                .map_err(|e| StartError(format!("writing {}: {e}", path.display())))?;
            Ok((kek, Some(path)))
        }
        Err(e) => Err(StartError(format!(
            "reading the master key {}: {e} (DOORMAN_MASTER_KEY_FILE names it; it must exist — generate one with `doorman key master --out FILE`)",
            path.display()
        ))),
    }
}

/// Starts the whole server; it runs until [`Running::stop`]. `clock` is the one wall clock,
/// `timer` the one monotonic timer (for request durations in the metrics).
pub fn start(
    config: ServerConfig,
    clock: Clock,
    timer: fn() -> Instant,
) -> Result<Running, StartError> {
    let data_dir = &config.data_dir;
    // A new data dir is the owner's only (it holds hashed secrets and sealed keys).
    if !data_dir.exists() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|e| {
                StartError(format!("creating the data dir {}: {e}", data_dir.display()))
            })?;
    }
    let explicit = config.origin.is_some();
    let listener = std::net::TcpListener::bind(&config.listen)
        .map_err(|e| StartError(format!("listening on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError(format!("listening on {}: {e}", config.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| StartError(format!("listening on {}: {e}", config.listen)))?;
    // The default origin names the address actually bound (not port 0).
    let origin = config
        .origin
        .clone()
        .unwrap_or_else(|| format!("{addr}/log"));

    let log = Arc::new(SqliteLogStore::open(data_dir).map_err(fail("opening the log store"))?);
    let index = Arc::new(PublicIndex::open(data_dir).map_err(fail("opening the address index"))?);
    let (signer, log_key_created) = load_or_create_log_key(data_dir, &origin, explicit)?;
    let origin = signer.name().to_string();
    let verifier_key = signer.verifier().to_string();
    if let Some(cp) = log
        .latest_checkpoint()
        .map_err(fail("reading the latest checkpoint"))?
        && cp.origin != origin
    {
        return Err(StartError(format!(
            "the store in {} holds checkpoints of origin {:?}, but {LOG_KEY_FILE} is for {origin:?}",
            data_dir.display(),
            cp.origin
        )));
    }
    let (access_key, access_key_created) =
        AccessKey::load_or_create(data_dir, &origin, &mut rand::rngs::OsRng)
            .map_err(|e| StartError(format!("loading the access-log key: {e}")))?;
    if access_key_created {
        eprintln!(
            "doorman serve: created the access-log key {} (back it up with {LOG_KEY_FILE})",
            data_dir
                .join(doorman_store::ACCESS_DIR)
                .join(doorman_store::ACCESS_KEY_FILE)
                .display()
        );
    }
    let access = Arc::new(
        AccessLogs::open(data_dir, &origin, access_key)
            .map_err(|e| StartError(format!("opening the access logs: {e}")))?,
    );
    let (kek, master_key_created) =
        load_or_create_master_key(data_dir, config.master_key_file.as_deref())?;
    let control: Arc<dyn Store> = Arc::new(
        SqliteStore::open(data_dir)
            .map_err(|e| StartError(format!("opening the control store: {e}")))?,
    );

    let setup_code = if control
        .is_set_up()
        .map_err(|e| StartError(format!("reading the control store: {e}")))?
    {
        None
    } else {
        let (code, hash) = crate::api::new_secret("dmsetup_");
        let now = jiff::Timestamp::try_from(clock()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        control
            .put_setup_code(&hash, now)
            .map_err(|e| StartError(format!("writing the setup code: {e}")))?;
        Some(code)
    };

    let log_dyn: Arc<dyn LogStore> = log;
    let (index_tx, indexer) = spawn_indexer(Arc::clone(&index), Arc::clone(&log_dyn))?;
    let on_checkpoint: doorman_store::OnCheckpoint = Box::new(move |cp: &StoredCheckpoint| {
        eprintln!(
            "doorman serve: checkpoint size {} root {}",
            cp.size, cp.root
        );
        let _ = index_tx.send(());
    });
    let integrator = Integrator::spawn(
        Arc::clone(&log_dyn),
        signer,
        origin.clone(),
        IntegratorConfig {
            interval: config.checkpoint_interval,
        },
        Arc::clone(&clock),
        Some(on_checkpoint),
    )
    .map_err(fail("starting the integrator"))?;

    let publisher = Publisher::start(
        Arc::clone(&control),
        Arc::clone(&log_dyn),
        Arc::clone(&access),
        Arc::clone(&clock),
    )
    .map_err(|e| StartError(format!("starting the outbox publisher: {e}")))?;
    let device_store = Arc::new(
        doorman_store::DeviceStore::open(data_dir)
            .map_err(|e| StartError(format!("opening the device store: {e}")))?,
    );
    let (device_keys, device_keys_created) = crate::devices::DeviceKeys::load_or_create(data_dir)?;
    if device_keys_created {
        eprintln!(
            "doorman serve: created the device-messaging key {} (back it up: devices trust its public half)",
            data_dir.join(crate::devices::DEVICES_KEY_FILE).display()
        );
    }
    let server_key = device_keys.signer().public().to_string();
    let kick = crate::devices::ingest::Kick::default();
    let ingester = crate::devices::ingest::Ingester::spawn(
        Arc::clone(&device_store),
        Arc::clone(&access),
        Arc::clone(&clock),
        kick.clone(),
    )
    .map_err(|e| StartError(format!("starting the device-event ingester: {e}")))?;
    let devices = Arc::new(crate::devices::Devices::new(
        device_store,
        device_keys,
        Arc::clone(&control),
        Arc::clone(&clock),
        config.devices.clone(),
        kick,
        timer,
    ));
    let (link_stop, link_stopped) = tokio::sync::watch::channel(false);
    let (broker, link) =
        start_device_link(&devices, &config.devices.broker, data_dir, link_stopped)?;
    let api = Arc::new(Api {
        devices,
        store: control,
        log: Arc::clone(&log_dyn),
        access: Arc::clone(&access),
        kek: Arc::new(kek),
        clock: Arc::clone(&clock),
        publisher: Arc::clone(&publisher),
        config: config.api.clone(),
        password_checks: std::sync::Mutex::default(),
    });
    let keeper = Keeper::spawn(
        Arc::clone(&api),
        config.anchor_interval,
        config.access_retention,
    )?;

    let metrics = Arc::new(Metrics::new(timer));
    let app = crate::app_router(
        Arc::clone(&api),
        Arc::clone(&log_dyn),
        index,
        verifier_key.clone(),
        metrics,
    );
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let http = std::thread::Builder::new()
        .name("doorman-http".to_string())
        .spawn(move || -> std::io::Result<()> {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                crate::serve(listener, app, async move {
                    let _ = shutdown_rx.await;
                })
                .await
            })?;
            runtime.shutdown_timeout(Duration::from_secs(5));
            Ok(())
        })
        .map_err(|e| StartError(format!("starting the HTTP thread: {e}")))?;

    Ok(Running {
        info: StartInfo {
            addr,
            origin,
            verifier_key,
            log_key_created,
            master_key_created,
            setup_code,
            broker,
            server_key,
        },
        api,
        shutdown: Some(shutdown_tx),
        http: Some(http),
        integrator: Some(integrator),
        indexer: Some(indexer),
        keeper: Some(keeper),
        publisher,
        link,
        link_stop: Some(link_stop),
        ingester: Some(ingester),
    })
}

/// Starts the embedded broker (if configured) and the server's MQTT session. Returns the
/// broker address devices are told, and the session's thread.
fn start_device_link(
    devices: &Arc<crate::devices::Devices>,
    broker: &crate::devices::BrokerConfig,
    data_dir: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(Option<String>, Option<JoinHandle<()>>), StartError> {
    use crate::devices::{BrokerConfig, SERVER_USER};
    let split = |addr: &str| -> Result<(String, u16), StartError> {
        let a = doorman_device::broker::BrokerAddr::parse(addr)
            .map_err(|e| StartError(e.to_string()))?;
        Ok((a.host, a.port))
    };
    let dynsec = matches!(broker, BrokerConfig::External { dynsec: true, .. });
    let (connect, user, password, public) = match broker {
        BrokerConfig::Off => return Ok((None, None)),
        BrokerConfig::Embedded { listen } => {
            let addrs = start_embedded_broker(devices, listen, data_dir)?;
            devices.spread_over_listeners();
            eprintln!(
                "doorman serve: embedded MQTT broker for devices on {} and the next {} ports (TLS, client certificates); the server's own listener on {}",
                addrs.devices,
                crate::devices::DEVICE_LISTENERS - 1,
                addrs.server
            );
            (
                (addrs.server.ip().to_string(), addrs.server.port()),
                SERVER_USER.to_string(),
                devices.keys.password(SERVER_USER),
                format!("{}{}", crate::devices::TLS_SCHEME, addrs.devices),
            )
        }
        BrokerConfig::External {
            addr,
            username,
            password,
            ..
        } => (
            split(addr)?,
            username.clone(),
            password.clone(),
            addr.clone(),
        ),
    };
    let public = devices.public_broker().unwrap_or(public);
    devices.set_public_broker(public.clone());
    let thread =
        crate::devices::spawn_link(Arc::clone(devices), connect, user, password, dynsec, stop)
            .map_err(|e| StartError(format!("starting the device link: {e}")))?;
    Ok((Some(public), Some(thread)))
}

/// The embedded broker with its certificates: the devices' CA and the broker's certificate
/// for the names devices reach it by (the public broker address's host, the listen address).
fn start_embedded_broker(
    devices: &Arc<crate::devices::Devices>,
    listen: &str,
    data_dir: &Path,
) -> Result<crate::devices::EmbeddedAddrs, StartError> {
    use crate::devices::{DevicesCa, TLS_SCHEME};
    use doorman_device::broker::BrokerAddr;
    let public = devices.public_broker();
    if let Some(p) = &public
        && !p.starts_with(TLS_SCHEME)
    {
        return Err(StartError(format!(
            "the embedded broker speaks TLS to devices: the public broker address must be {TLS_SCHEME}host:port, not {p:?}"
        )));
    }
    let wanted: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| StartError(format!("the embedded broker's address {listen:?}: {e}")))?;
    if public.is_none() && wanted.ip().is_unspecified() {
        return Err(StartError(format!(
            "the embedded broker listens on {listen}: say which address devices reach it by, with --public-broker {TLS_SCHEME}host:port"
        )));
    }
    let mut hosts: Vec<String> = public
        .as_deref()
        .and_then(|p| BrokerAddr::parse(p).ok())
        .map(|a| a.host)
        .into_iter()
        .collect();
    if !wanted.ip().is_unspecified() {
        hosts.push(wanted.ip().to_string());
    }
    let ca = DevicesCa::new(&devices.keys, &hosts)
        .map_err(|e| StartError(format!("the embedded broker's certificates: {e}")))?;
    let files = ca
        .write_broker_files(data_dir)
        .map_err(|e| StartError(format!("the embedded broker's certificates: {e}")))?;
    devices.set_ca(ca);
    crate::devices::start_embedded(devices, wanted, &files)
}

impl Running {
    /// The integrator's last error, if its last round failed.
    pub fn integration_error(&self) -> Option<StoreError> {
        self.integrator.as_ref().and_then(Integrator::last_error)
    }

    /// Stops serving (requests under way finish), then the background work, in an order
    /// that loses nothing: HTTP first (no new changes), the publisher's last round, the
    /// keeper, then the integrator's last checkpoint.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> std::io::Result<()> {
        self.api.devices.close_feeds();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let result = match self.http.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the HTTP thread panicked")),
            None => Ok(()),
        };
        // No new device messages, then the events stored so far into the access logs.
        if let Some(tx) = self.link_stop.take() {
            let _ = tx.send(true);
        }
        if let Some(l) = self.link.take() {
            let _ = l.join();
        }
        if let Some(i) = self.ingester.take() {
            i.stop();
        }
        self.publisher.stop();
        if let Some(k) = self.keeper.take() {
            k.stop();
        }
        if let Some(i) = self.integrator.take() {
            i.stop();
        }
        // The integrator held the indexer's only sender: the indexer ends after its round.
        if let Some(i) = self.indexer.take() {
            let _ = i.join();
        }
        result
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// The thread that, every anchor interval, checkpoints every property's access log and
/// anchors each one that grew in the public log, redacts payloads past their retention,
/// re-issues custodial signed state that is due, and purges expired sessions.
struct Keeper {
    stop: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// How often the keeper runs its state refresh even when the anchor interval is longer.
const KEEPER_TICK: Duration = Duration::from_secs(60);

impl Keeper {
    fn spawn(
        api: Arc<Api>,
        anchor_interval: Duration,
        retention: Option<Duration>,
    ) -> Result<Keeper, StartError> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("doorman-keeper".to_string())
            .spawn(move || {
                let mut since_anchor = Duration::ZERO;
                let tick = anchor_interval.min(KEEPER_TICK);
                loop {
                    if since_anchor.is_zero() || since_anchor >= anchor_interval {
                        access_round(&api, retention);
                        since_anchor = Duration::ZERO;
                    }
                    crate::state_docs::refresh_all(&api);
                    if let Err(e) = api.store.purge_sessions(api.now()) {
                        eprintln!("doorman serve: purging expired sessions failed: {e}");
                    }
                    match stopped.recv_timeout(tick) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => since_anchor += tick,
                        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|e| StartError(format!("starting the keeper thread: {e}")))?;
        Ok(Keeper { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn access_round(api: &Api, retention: Option<Duration>) {
    let now = (api.clock)();
    let public = api.log.as_ref();
    let report = api.access.anchor_all(now, |bytes| {
        public
            .append(&[bytes.to_vec()])?
            .first()
            .copied()
            .ok_or_else(|| StoreError::Corrupt("an append returned no index".to_string()))
    });
    for anchored in &report.anchored {
        if let doorman_entries::PublicEntry::AccessLogAnchored { property, size, .. } =
            &anchored.entry
        {
            eprintln!(
                "doorman serve: anchored the access log of {property} at size {size} (public entry {})",
                anchored.public_index
            );
        }
    }
    for (property, e) in &report.failed {
        let which = property.as_ref().map_or_else(
            || "the access logs".to_string(),
            |p| format!("the access log of {p}"),
        );
        eprintln!("doorman serve: anchoring {which} failed (retrying next round): {e}");
    }
    if let Some(retention) = retention
        && let Some(older_than) = now.checked_sub(retention)
    {
        match api.access.redact_all(older_than, now) {
            Ok(0) => {}
            Ok(n) => eprintln!("doorman serve: redacted {n} access events past their retention"),
            Err(e) => eprintln!("doorman serve: redaction failed (retrying next round): {e}"),
        }
        // The devices' copies of the same events (what the events API lists) go too.
        let cutoff = jiff::Timestamp::try_from(older_than).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        match api.devices.store.redact(cutoff) {
            Ok(0) => {}
            Ok(n) => eprintln!("doorman serve: deleted {n} device events past their retention"),
            Err(e) => eprintln!(
                "doorman serve: deleting old device events failed (retrying next round): {e}"
            ),
        }
    }
}

/// The address indexer: catches the index up at start and at every message on the returned
/// sender; ends when every sender is dropped.
fn spawn_indexer(
    index: Arc<PublicIndex>,
    store: Arc<dyn LogStore>,
) -> Result<(std::sync::mpsc::Sender<()>, JoinHandle<()>), StartError> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tx.send(())
        .map_err(|e| StartError(format!("starting the address indexer: {e}")))?;
    let thread = std::thread::Builder::new()
        .name("doorman-indexer".to_string())
        .spawn(move || {
            while rx.recv().is_ok() {
                // Checkpoints that came in meanwhile are covered by this round.
                while rx.try_recv().is_ok() {}
                match index.catch_up(store.as_ref()) {
                    Ok(unparsed) => {
                        if let Some(first) = unparsed.first {
                            eprintln!(
                                "doorman serve: {} log entries are not valid public entries (the first: {first})",
                                unparsed.count
                            );
                        }
                    }
                    Err(e) => eprintln!("doorman serve: the address index could not catch up: {e}"),
                }
            }
        })
        .map_err(|e| StartError(format!("starting the address indexer: {e}")))?;
    Ok((tx, thread))
}

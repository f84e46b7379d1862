//! `doorman serve`: the public log over HTTP (doorman_server's routers: the tlog-tiles log and
//! the public address lookup) on the SQLite store under the data dir, with the integrator
//! signing checkpoints.
//!
//! The data dir holds `log.sqlite` (doorman_store), `public-index.sqlite` (the address index,
//! derived from the log: delete it to rebuild) and `log.key`, the log's signed-note
//! private key (`PRIVATE+KEY+<origin>+<key id>+<base64>` and a newline, mode 0600). The key is
//! generated on first start and never overwritten; its name is the log's origin, so the origin
//! is fixed at first start: `--origin`, or `<listen address>/log` by default.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use doorman_store::{
    AccessKey, AccessLogs, Integrator, IntegratorConfig, LogStore, PublicIndex, SqliteLogStore,
    StoreError, StoredCheckpoint,
};
use doorman_tlog::NoteSigner;
use zeroize::Zeroizing;

use crate::clock;
use crate::files::{read_private_file, write_new_private_file};

/// The log's private key file in the data dir.
pub const KEY_FILE: &str = "log.key";

/// What `doorman serve` was asked.
#[derive(Debug)]
pub struct ServeOptions {
    pub data_dir: PathBuf,
    pub listen: String,
    pub origin: Option<String>,
    pub checkpoint_interval: Duration,
    /// How often every property's access log is checkpointed and anchored in the public log.
    pub anchor_interval: Duration,
    /// How long access-event payloads are kept before redaction (`None`: forever).
    pub access_retention: Option<Duration>,
}

/// Reads `DIR/log.key`, or creates it for `origin` if there is none. Returns the signer and
/// whether it was created now.
pub fn load_or_create_key(
    data_dir: &Path,
    origin: &str,
    explicit: bool,
) -> Result<(NoteSigner, bool)> {
    let path = data_dir.join(KEY_FILE);
    match std::fs::metadata(&path) {
        Ok(_) => {
            let text = read_private_file(&path, "the log key")?;
            let signer = NoteSigner::parse(text.trim_end())
                .with_context(|| format!("in {}", path.display()))?;
            if explicit && signer.name() != origin {
                bail!(
                    "--origin is {origin:?} but the log in {} has origin {:?} (the name of its key \
                     {}); a log's origin never changes: drop --origin or use another --data-dir",
                    data_dir.display(),
                    signer.name(),
                    path.display()
                );
            }
            Ok((signer, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = Zeroizing::new([0u8; 32]);
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, seed.as_mut_slice());
            let signer = NoteSigner::from_seed(origin, &seed).with_context(|| {
                format!("{origin:?} cannot be a log origin (no spaces, '+' or control characters)")
            })?;
            let mut text = Zeroizing::new(signer.private_key_string().to_string());
            text.push('\n');
            write_new_private_file(&path, text.as_bytes())?;
            Ok((signer, true))
        }
        Err(e) => Err(anyhow!("reading the log key {}: {e}", path.display())),
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub fn run(opts: ServeOptions) -> Result<ExitCode> {
    let explicit = opts.origin.is_some();
    let origin = opts
        .origin
        .clone()
        .unwrap_or_else(|| format!("{}/log", opts.listen));
    let store = Arc::new(
        SqliteLogStore::open(&opts.data_dir)
            .with_context(|| format!("opening the log store in {}", opts.data_dir.display()))?,
    );
    let index =
        Arc::new(PublicIndex::open(&opts.data_dir).with_context(|| {
            format!("opening the address index in {}", opts.data_dir.display())
        })?);
    let (signer, created) = load_or_create_key(&opts.data_dir, &origin, explicit)?;
    let origin = signer.name().to_string();
    let verifier = signer.verifier().to_string();
    if let Some(cp) = store
        .latest_checkpoint()
        .context("reading the latest checkpoint")?
        && cp.origin != origin
    {
        bail!(
            "the store in {} holds checkpoints of origin {:?}, but {KEY_FILE} is for {origin:?}",
            opts.data_dir.display(),
            cp.origin
        );
    }
    let (access_key, access_key_created) =
        AccessKey::load_or_create(&opts.data_dir, &origin, &mut rand::rngs::OsRng)
            .context("loading the access-log key")?;
    if access_key_created {
        eprintln!(
            "doorman serve: created the access-log key {} (back it up with {KEY_FILE})",
            opts.data_dir
                .join(doorman_store::ACCESS_DIR)
                .join(doorman_store::ACCESS_KEY_FILE)
                .display()
        );
    }
    let access = Arc::new(
        AccessLogs::open(&opts.data_dir, &origin, access_key).context("opening the access logs")?,
    );
    if created {
        eprintln!(
            "doorman serve: created the log key {} for origin {origin}",
            opts.data_dir.join(KEY_FILE).display()
        );
        eprintln!("doorman serve: the log's verifier key (give it to verifiers): {verifier}");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&opts.listen))
        .with_context(|| format!("listening on {}", opts.listen))?;
    let local = listener
        .local_addr()
        .with_context(|| format!("listening on {}", opts.listen))?;

    let store_dyn: Arc<dyn LogStore> = store;
    // The address index follows the log on its own thread: once now (the log may have grown
    // while the server was down, or the index been deleted) and after every checkpoint, so a
    // lookup only reads it and never waits for indexing.
    let (index_tx, indexer) = spawn_indexer(Arc::clone(&index), Arc::clone(&store_dyn))?;
    let on_checkpoint: doorman_store::OnCheckpoint = Box::new(move |cp: &StoredCheckpoint| {
        eprintln!(
            "doorman serve: checkpoint size {} root {}",
            cp.size, cp.root
        );
        let _ = index_tx.send(());
    });
    let integrator = Arc::new(
        Integrator::spawn(
            Arc::clone(&store_dyn),
            signer,
            origin.clone(),
            IntegratorConfig {
                interval: opts.checkpoint_interval,
            },
            Arc::new(clock::system_now),
            Some(on_checkpoint),
        )
        .context("starting the integrator")?,
    );
    // Watch the signals before saying we are up: a SIGTERM sent right after "listening" must
    // stop the server cleanly, not kill it with the default action.
    let shutdown = {
        let _in_runtime = runtime.enter();
        shutdown_signal()?
    };
    eprintln!("doorman serve: log {origin}, key {verifier}");
    eprintln!("doorman serve: listening on http://{local}/log");

    let keeper = AccessKeeper::spawn(
        Arc::clone(&access),
        Arc::clone(&store_dyn),
        opts.anchor_interval,
        opts.access_retention,
    )?;
    let watched = Arc::clone(&integrator);
    let interval = opts.checkpoint_interval;
    let result = runtime.block_on(async move {
        // The integrator keeps its last error; report it (it retries every interval).
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval.max(Duration::from_millis(100)));
            loop {
                tick.tick().await;
                if let Some(e) = watched.last_error() {
                    eprintln!("doorman serve: integration failed (retrying): {e}");
                }
            }
        });
        let app = doorman_server::log_router(Arc::clone(&store_dyn), verifier)
            .merge(doorman_server::public_router(store_dyn, index));
        doorman_server::serve(listener, app, shutdown).await
    });
    // Stop the error watcher, then the integrator (an integration under way finishes first).
    runtime.shutdown_timeout(Duration::from_secs(5));
    keeper.stop();
    match Arc::try_unwrap(integrator) {
        Ok(integrator) => integrator.stop(),
        Err(shared) => drop(shared),
    }
    // The integrator held the indexer's only sender: the indexer ends after its round.
    let _ = indexer.join();
    result.context("serving HTTP")?;
    eprintln!("doorman serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Installs the SIGINT (Ctrl-C) and SIGTERM handlers now and returns a future that completes
/// on either. Must run inside the runtime.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("watching SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("watching SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        eprintln!("doorman serve: shutting down");
    })
}

/// The thread that, every anchor interval, checkpoints every property's access log, anchors
/// each one that grew in the public log (`access_log_anchored`, appended durably to the public
/// store; the integrator publishes it with the next checkpoint), and redacts access-event
/// payloads older than the retention period.
struct AccessKeeper {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl AccessKeeper {
    fn spawn(
        access: Arc<AccessLogs>,
        public: Arc<dyn LogStore>,
        interval: Duration,
        retention: Option<Duration>,
    ) -> Result<AccessKeeper> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("doorman-access".to_string())
            .spawn(move || {
                loop {
                    access_round(&access, public.as_ref(), retention);
                    match stopped.recv_timeout(interval) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .context("starting the access-log thread")?;
        Ok(AccessKeeper { stop, thread })
    }

    /// Stops after the round under way.
    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

fn access_round(access: &AccessLogs, public: &dyn LogStore, retention: Option<Duration>) {
    let now = clock::system_now();
    let report = access.anchor_all(now, |bytes| {
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
        match access.redact_all(older_than, now) {
            Ok(0) => {}
            Ok(n) => eprintln!("doorman serve: redacted {n} access events past their retention"),
            Err(e) => eprintln!("doorman serve: redaction failed (retrying next round): {e}"),
        }
    }
}

/// The address indexer: catches the index up at start and at every message on the returned
/// sender; ends when every sender is dropped.
fn spawn_indexer(
    index: Arc<PublicIndex>,
    store: Arc<dyn LogStore>,
) -> Result<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tx.send(()).context("starting the address indexer")?;
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
                    Err(e) => {
                        eprintln!("doorman serve: the address index could not catch up: {e}");
                    }
                }
            }
        })
        .context("starting the address indexer")?;
    Ok((tx, thread))
}

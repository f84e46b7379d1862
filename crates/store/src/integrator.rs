//! The driver loop: integrate and publish a checkpoint at most every interval.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use doorman_tlog::NoteSigner;

use crate::error::StoreError;
use crate::store::{KEEP_TILES_BATCH, LogStore, MAX_INTEGRATE_BATCH, StoredCheckpoint};

/// The clock the integrator stamps checkpoints with (time is passed in; a binary reads the
/// clock in one place and hands it over).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// Called with each checkpoint once it is committed (to publish it, wake waiters, log it).
pub type OnCheckpoint = Box<dyn FnMut(&StoredCheckpoint) + Send>;

/// How often to integrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegratorConfig {
    /// The pause between integrations. Default 1 s.
    pub interval: Duration,
}

impl Default for IntegratorConfig {
    fn default() -> IntegratorConfig {
        IntegratorConfig {
            interval: Duration::from_secs(1),
        }
    }
}

/// A background thread that calls [`LogStore::integrate`] once at start and then every
/// `interval` (start to start; never more often), publishing a checkpoint only when something new was appended. A backlog of
/// [`MAX_INTEGRATE_BATCH`] entries or more is integrated in back-to-back checkpoints. Errors
/// are kept ([`Integrator::last_error`]) and the next round tries again.
pub struct Integrator {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    last_error: Arc<Mutex<Option<StoreError>>>,
}

impl std::fmt::Debug for Integrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integrator")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl Integrator {
    /// Starts the loop. `origin` is the log's origin line; `clock` stamps checkpoints.
    pub fn spawn(
        store: Arc<dyn LogStore>,
        signer: NoteSigner,
        origin: String,
        config: IntegratorConfig,
        clock: Clock,
        mut on_checkpoint: Option<OnCheckpoint>,
    ) -> Result<Integrator, StoreError> {
        let (stop, stopped) = mpsc::channel::<()>();
        let last_error = Arc::new(Mutex::new(None));
        let errors = Arc::clone(&last_error);
        let thread = std::thread::Builder::new()
            .name("doorman-integrator".to_string())
            .spawn(move || {
                loop {
                    let began = clock();
                    let result = catch_up(store.as_ref(), &signer, &origin, &clock, |cp| {
                        if let Some(f) = on_checkpoint.as_mut() {
                            f(cp);
                        }
                    });
                    if let Err(e) = result {
                        *errors.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    }
                    // Then keep newly filled tiles whole (and catch up an older log's), for at
                    // most half the interval, so checkpoints keep their pace.
                    if let Err(e) = keep_tiles(store.as_ref(), &clock, began, config.interval / 2) {
                        *errors.lock().unwrap_or_else(PoisonError::into_inner) = Some(e);
                    }
                    // Integrations start `interval` apart (not `interval` after the end of the
                    // previous one), so an entry waits at most about one interval plus one
                    // integration. The clock is the one passed in; if it steps back, wait the
                    // whole interval.
                    let spent = clock().duration_since(began).unwrap_or(Duration::ZERO);
                    match stopped.recv_timeout(config.interval.saturating_sub(spent)) {
                        Err(RecvTimeoutError::Timeout) => {}
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
            })
            .map_err(|e| StoreError::Stopped(format!("cannot start the integrator thread: {e}")))?;
        Ok(Integrator {
            stop: Some(stop),
            thread: Some(thread),
            last_error,
        })
    }

    /// The last integration error, if any (cleared by reading it).
    pub fn last_error(&self) -> Option<StoreError> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Stops the loop (an integration under way finishes first) and joins the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Integrator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Keeps full tiles whole ([`LogStore::keep_full_tiles`]) a batch at a time until caught up
/// or `budget` after `began` has passed.
fn keep_tiles(
    store: &dyn LogStore,
    clock: &Clock,
    began: SystemTime,
    budget: Duration,
) -> Result<(), StoreError> {
    while store.keep_full_tiles(KEEP_TILES_BATCH)? == KEEP_TILES_BATCH {
        if clock().duration_since(began).unwrap_or(Duration::ZERO) >= budget {
            break;
        }
    }
    Ok(())
}

/// Integrates until fewer than [`MAX_INTEGRATE_BATCH`] entries wait.
fn catch_up(
    store: &dyn LogStore,
    signer: &NoteSigner,
    origin: &str,
    clock: &Clock,
    mut published: impl FnMut(&StoredCheckpoint),
) -> Result<(), StoreError> {
    while let Some(cp) = store.integrate(signer, origin, clock())? {
        published(&cp);
        if store.sequenced_size()?.saturating_sub(cp.size) < MAX_INTEGRATE_BATCH {
            break;
        }
    }
    Ok(())
}

//! The ingester: moves stored device events into their property's access log, exactly once
//! (see `doorman_store::DeviceStore`), and integrates the log so they can be read and proven.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use doorman_core::PropertyId;
use doorman_entries::Salt;
use doorman_store::{AccessLog, AccessLogs, Clock, DeviceStore, Unlogged};

/// Events taken per round, at most.
const BATCH: usize = 5_000;

/// How often the ingester looks even when nobody kicked it.
const POLL: Duration = Duration::from_millis(500);

/// Wakes the ingester (cheap; many kicks make one round).
#[derive(Debug, Default, Clone)]
pub struct Kick(Arc<Mutex<Option<mpsc::SyncSender<()>>>>);

impl Kick {
    pub fn kick(&self) {
        if let Some(tx) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            let _ = tx.try_send(());
        }
    }
}

/// The running ingester.
pub struct Ingester {
    kick: Kick,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ingester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingester").finish_non_exhaustive()
    }
}

fn fresh_salt() -> Salt {
    let mut b = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    Salt::from_bytes(b)
}

/// One property's events into its log. Returns how many were logged.
fn ingest_property(
    store: &DeviceStore,
    log: &AccessLog,
    property: &PropertyId,
    events: Vec<Unlogged>,
    now: std::time::SystemTime,
) -> Result<usize, String> {
    let err = |e: &dyn std::fmt::Display| format!("{property}: {e}");
    // Recovery: events salted by an earlier round that may have been appended before a crash.
    let (salted, mut todo): (Vec<Unlogged>, Vec<Unlogged>) =
        events.into_iter().partition(|e| e.salt.is_some());
    let mut marks = Vec::new();
    if !salted.is_empty() {
        let floor = store.floor(property).map_err(|e| err(&e))?.unwrap_or(0);
        let leaves = salted
            .iter()
            .map(|e| match &e.salt {
                Some(s) => AccessLog::leaf_of(&e.signed, s).map_err(|e| err(&e)),
                None => Err(err(&"unsalted")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let found = log.find_leaves(floor, &leaves).map_err(|e| err(&e))?;
        for (e, at) in salted.into_iter().zip(found) {
            match at {
                Some(index) => marks.push((e.device, e.seq, index)),
                // Not appended: it gets a fresh salt below (its old opening, if one was
                // written, is referred to by no leaf).
                None => todo.push(Unlogged { salt: None, ..e }),
            }
        }
    }
    let n_recovered = marks.len();
    if !todo.is_empty() {
        let salts: Vec<Salt> = todo.iter().map(|_| fresh_salt()).collect();
        let floor = log.store_sequenced_size().map_err(|e| err(&e))?;
        let assign: Vec<_> = todo
            .iter()
            .zip(&salts)
            .map(|(e, s)| (&e.device, e.seq, s))
            .collect();
        store
            .assign_salts(property, floor, &assign)
            .map_err(|e| err(&e))?;
        let batch: Vec<(&[u8], Salt)> = todo
            .iter()
            .zip(salts)
            .map(|(e, s)| (e.signed.as_slice(), s))
            .collect();
        let indexes = log.append_batch_salted(&batch, now).map_err(|e| err(&e))?;
        for (e, index) in todo.into_iter().zip(indexes) {
            marks.push((e.device, e.seq, index));
        }
    }
    let refs: Vec<_> = marks.iter().map(|(d, s, i)| (d, *s, *i)).collect();
    store.mark_logged(&refs).map_err(|e| err(&e))?;
    log.integrate(now).map_err(|e| err(&e))?;
    if n_recovered > 0 {
        eprintln!(
            "doorman serve: {n_recovered} events of {property} were in the access log already (an interrupted round)"
        );
    }
    Ok(marks.len())
}

/// One round: everything waiting, a batch at a time. Returns how many events were logged.
pub fn round(store: &DeviceStore, access: &AccessLogs, clock: &Clock) -> Result<usize, String> {
    let mut total = 0;
    loop {
        let waiting = store.unlogged(BATCH).map_err(|e| e.to_string())?;
        let n = waiting.len();
        let mut by_property: BTreeMap<PropertyId, Vec<Unlogged>> = BTreeMap::new();
        for e in waiting {
            by_property.entry(e.property.clone()).or_default().push(e);
        }
        for (property, events) in by_property {
            let log = access
                .log(&property)
                .map_err(|e| format!("{property}: {e}"))?;
            total += ingest_property(store, &log, &property, events, clock())?;
        }
        if n < BATCH {
            return Ok(total);
        }
    }
}

impl Ingester {
    /// Starts the ingester thread; it runs a round at once (events left by a previous run).
    pub fn spawn(
        store: Arc<DeviceStore>,
        access: Arc<AccessLogs>,
        clock: Clock,
        kick: Kick,
    ) -> std::io::Result<Ingester> {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        *kick.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        let thread = std::thread::Builder::new()
            .name("doorman-ingest".to_string())
            .spawn(move || {
                loop {
                    if let Err(e) = round(&store, &access, &clock) {
                        eprintln!("doorman serve: logging device events failed (retrying): {e}");
                    }
                    match rx.recv_timeout(POLL) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                // A last round: nothing stored stays unlogged because the server stopped.
                if let Err(e) = round(&store, &access, &clock) {
                    eprintln!("doorman serve: logging device events failed: {e}");
                }
            })?;
        Ok(Ingester {
            kick,
            thread: Some(thread),
        })
    }

    /// Stops after a last round.
    pub fn stop(mut self) {
        self.kick
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

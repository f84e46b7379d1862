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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use doorman_core::{DeviceId, PropertyId};
    use doorman_store::{AccessKey, AccessLogs, DeviceEvent, DeviceStore};
    use jiff::Timestamp;

    use super::*;

    fn setup() -> (
        tempfile::TempDir,
        DeviceStore,
        AccessLogs,
        Clock,
        PropertyId,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = DeviceStore::open(dir.path()).unwrap();
        let access =
            AccessLogs::open(dir.path(), "t.example/log", AccessKey::from_seed([3; 32])).unwrap();
        let clock: Clock = Arc::new(|| SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000));
        (
            dir,
            store,
            access,
            clock,
            PropertyId::new("prop_1").unwrap(),
        )
    }

    fn event(seq: u64) -> DeviceEvent {
        DeviceEvent {
            device: DeviceId::new("dev_1").unwrap(),
            seq,
            property: PropertyId::new("prop_1").unwrap(),
            door: "street".into(),
            at: Timestamp::from_second(1_796_000_000).unwrap(),
            allowed: true,
            reason: None,
            carrier: None,
            unit: None,
            delivery: None,
            pass: None,
            received_at: Timestamp::from_second(1_796_000_001).unwrap(),
            signed: format!("signed event {seq}").into_bytes(),
            log_index: None,
        }
    }

    /// A crash after the leaves were appended but before their indexes were recorded: the
    /// next round finds them by their leaves and appends nothing twice; the events it had not
    /// reached are appended once.
    #[test]
    fn a_round_interrupted_after_its_append_logs_nothing_twice() {
        let (_dir, store, access, clock, property) = setup();
        store
            .record(&(1..=5).map(event).collect::<Vec<_>>())
            .unwrap();
        // What a round does up to its append, then "the crash" (no mark_logged).
        let waiting = store.unlogged(3).unwrap();
        let log = access.log(&property).unwrap();
        let salts: Vec<Salt> = waiting.iter().map(|_| fresh_salt()).collect();
        let floor = log.store_sequenced_size().unwrap();
        let assign: Vec<_> = waiting
            .iter()
            .zip(&salts)
            .map(|(e, s)| (&e.device, e.seq, s))
            .collect();
        store.assign_salts(&property, floor, &assign).unwrap();
        let batch: Vec<(&[u8], Salt)> = waiting
            .iter()
            .zip(salts.iter().cloned())
            .map(|(e, s)| (e.signed.as_slice(), s))
            .collect();
        log.append_batch_salted(&batch, clock()).unwrap();
        assert_eq!(log.store_sequenced_size().unwrap(), 3);

        // The restart's round.
        assert_eq!(round(&store, &access, &clock).unwrap(), 5);
        assert_eq!(
            log.store_sequenced_size().unwrap(),
            5,
            "nothing appended twice"
        );
        assert!(store.unlogged(10).unwrap().is_empty());
        let events = store
            .events(&doorman_store::EventFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        let mut indexes: Vec<u64> = events.iter().filter_map(|e| e.log_index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, [0, 1, 2, 3, 4]);
        // Each event opens its own leaf.
        let read = log.read(0, 5).unwrap();
        for e in &events {
            let opened = &read[usize::try_from(e.log_index.unwrap()).unwrap()];
            match &opened.opening {
                doorman_store::Opening::Open { payload, .. } => assert_eq!(payload, &e.signed),
                other => panic!("{other:?}"),
            }
        }
    }

    /// A crash after the salts were recorded but before the append: the events are appended
    /// (with fresh salts) by the next round, once.
    #[test]
    fn a_round_interrupted_before_its_append_logs_everything_once() {
        let (_dir, store, access, clock, property) = setup();
        store
            .record(&(1..=4).map(event).collect::<Vec<_>>())
            .unwrap();
        let waiting = store.unlogged(10).unwrap();
        let salts: Vec<Salt> = waiting.iter().map(|_| fresh_salt()).collect();
        let assign: Vec<_> = waiting
            .iter()
            .zip(&salts)
            .map(|(e, s)| (&e.device, e.seq, s))
            .collect();
        store.assign_salts(&property, 0, &assign).unwrap();
        assert_eq!(round(&store, &access, &clock).unwrap(), 4);
        let log = access.log(&property).unwrap();
        assert_eq!(log.store_sequenced_size().unwrap(), 4);
        assert!(store.unlogged(10).unwrap().is_empty());
        // A second round has nothing to do.
        assert_eq!(round(&store, &access, &clock).unwrap(), 0);
        assert_eq!(log.store_sequenced_size().unwrap(), 4);
    }
}

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

/// After a round that logged something (but less than a full batch), how long the ingester
/// lets new events gather before its next round. A round's cost is mostly per round, not per
/// event — a sync for each of its four commits, the access log's random-keyed opening
/// indexes touched once per page, a checkpoint — so under a steady stream of uploads rounds
/// of a few thousand events log several times more per second than a round per upload
/// message. A quiet device's event is still logged at once (the first round after a pause
/// runs on the kick); this only delays the access log, never an acknowledgement.
const GATHER: Duration = Duration::from_millis(200);

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
    /// Dropped to stop the ingester while it lets events gather.
    stop: Option<mpsc::Sender<()>>,
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
    let mut logged = 0;
    // Recovery: the events of an append that was under way when the server stopped may be in
    // the log already (from its floor on).
    let pending = store.pending_append(property).map_err(|e| err(&e))?;
    let (maybe, mut todo): (Vec<Unlogged>, Vec<Unlogged>) = events
        .into_iter()
        .partition(|e| e.salt.is_some() && pending.is_some_and(|p| e.id <= p.upto));
    // Events whose salt must be (re)drawn before they are appended.
    let mut resalt: Vec<u64> = todo
        .iter()
        .filter(|e| e.salt.is_none())
        .map(|e| e.id)
        .collect();
    if let (Some(p), false) = (pending, maybe.is_empty()) {
        let leaves = maybe
            .iter()
            .map(|e| match &e.salt {
                Some(s) => AccessLog::leaf_of(&e.signed, s).map_err(|e| err(&e)),
                None => Err(err(&"unsalted")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let found = log.find_leaves(p.floor, &leaves).map_err(|e| err(&e))?;
        let mut marks = Vec::new();
        for (e, at) in maybe.into_iter().zip(found) {
            match at {
                Some(index) => marks.push((e.id, index)),
                // Not appended: it gets a fresh salt below (its old opening, if one was
                // written, is referred to by no leaf).
                None => {
                    resalt.push(e.id);
                    todo.push(e);
                }
            }
        }
        if !marks.is_empty() {
            // Recorded before a new floor replaces the one they were found from; the append
            // stays pending for the events not found.
            store
                .mark_logged(property, &marks, false)
                .map_err(|e| err(&e))?;
            eprintln!(
                "doorman serve: {} events of {property} were in the access log already (an interrupted round)",
                marks.len()
            );
            logged += marks.len();
        }
    }
    if todo.is_empty() {
        if pending.is_some() {
            store
                .mark_logged(property, &[], true)
                .map_err(|e| err(&e))?;
        }
    } else {
        todo.sort_by_key(|e| e.id);
        let fresh: Vec<(u64, Salt)> = resalt.iter().map(|id| (*id, fresh_salt())).collect();
        let floor = log.store_sequenced_size().map_err(|e| err(&e))?;
        let upto = todo.iter().map(|e| e.id).max().unwrap_or(0);
        let assign: Vec<(u64, &Salt)> = fresh.iter().map(|(id, s)| (*id, s)).collect();
        store
            .begin_append(property, floor, upto, &assign)
            .map_err(|e| err(&e))?;
        let fresh: std::collections::HashMap<u64, Salt> = fresh.into_iter().collect();
        let batch = todo
            .iter()
            .map(|e| match fresh.get(&e.id).or(e.salt.as_ref()) {
                Some(s) => Ok((e.signed.as_slice(), s.clone())),
                None => Err(err(&"unsalted")),
            })
            .collect::<Result<Vec<(&[u8], Salt)>, String>>()?;
        let indexes = log.append_batch_salted(&batch, now).map_err(|e| err(&e))?;
        let marks: Vec<(u64, u64)> = todo.iter().map(|e| e.id).zip(indexes).collect();
        store
            .mark_logged(property, &marks, true)
            .map_err(|e| err(&e))?;
        logged += marks.len();
    }
    log.integrate(now).map_err(|e| err(&e))?;
    Ok(logged)
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
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        *kick.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(tx);
        let thread = std::thread::Builder::new()
            .name("doorman-ingest".to_string())
            .spawn(move || {
                loop {
                    let logged = match round(&store, &access, &clock) {
                        Ok(n) => n,
                        Err(e) => {
                            eprintln!(
                                "doorman serve: logging device events failed (retrying): {e}"
                            );
                            0
                        }
                    };
                    if logged > 0 {
                        // Busy: let the next round take what arrives meanwhile at once.
                        match stop_rx.recv_timeout(GATHER) {
                            Ok(()) | Err(RecvTimeoutError::Timeout) => continue,
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
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
            stop: Some(stop_tx),
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
        self.stop.take();
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

    /// What a round does up to its append, for the first `take` waiting events (their
    /// pending append recorded); then appends the first `appended` of them, and "crashes".
    fn interrupted_round(
        store: &DeviceStore,
        access: &AccessLogs,
        clock: &Clock,
        property: &PropertyId,
        take: usize,
        appended: usize,
    ) {
        let waiting = store.unlogged(take).unwrap();
        let log = access.log(property).unwrap();
        let floor = log.store_sequenced_size().unwrap();
        let upto = waiting.iter().map(|e| e.id).max().unwrap();
        store.begin_append(property, floor, upto, &[]).unwrap();
        let batch: Vec<(&[u8], Salt)> = waiting
            .iter()
            .take(appended)
            .map(|e| (e.signed.as_slice(), e.salt.clone().unwrap()))
            .collect();
        if !batch.is_empty() {
            log.append_batch_salted(&batch, clock()).unwrap();
        }
    }

    fn check_logged_once(store: &DeviceStore, access: &AccessLogs, property: &PropertyId, n: u64) {
        let log = access.log(property).unwrap();
        assert_eq!(
            log.store_sequenced_size().unwrap(),
            n,
            "nothing appended twice"
        );
        assert!(store.unlogged(100).unwrap().is_empty());
        assert_eq!(store.pending_append(property).unwrap(), None);
        let events = store
            .events(&doorman_store::EventFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        let mut indexes: Vec<u64> = events.iter().filter_map(|e| e.log_index).collect();
        indexes.sort_unstable();
        assert_eq!(indexes, (0..n).collect::<Vec<_>>());
        // Each event opens its own leaf.
        let read = log.read(0, n).unwrap();
        for e in &events {
            let opened = &read[usize::try_from(e.log_index.unwrap()).unwrap()];
            match &opened.opening {
                doorman_store::Opening::Open { payload, .. } => assert_eq!(payload, &e.signed),
                other => panic!("{other:?}"),
            }
        }
    }

    /// A crash after the leaves were appended but before their indexes were recorded: the
    /// next round finds them by their leaves and appends nothing twice; the events it had not
    /// reached are appended once.
    #[test]
    fn a_round_interrupted_after_its_append_logs_nothing_twice() {
        let (_dir, store, access, clock, property) = setup();
        store.record((1..=5).map(event).collect()).unwrap();
        interrupted_round(&store, &access, &clock, &property, 3, 3);
        assert_eq!(
            access
                .log(&property)
                .unwrap()
                .store_sequenced_size()
                .unwrap(),
            3
        );

        // The restart's round.
        assert_eq!(round(&store, &access, &clock).unwrap(), 5);
        check_logged_once(&store, &access, &property, 5);
    }

    /// A crash after the pending append was recorded but before the append: the events are
    /// appended by the next round, once.
    #[test]
    fn a_round_interrupted_before_its_append_logs_everything_once() {
        let (_dir, store, access, clock, property) = setup();
        store.record((1..=4).map(event).collect()).unwrap();
        interrupted_round(&store, &access, &clock, &property, 10, 0);
        assert_eq!(round(&store, &access, &clock).unwrap(), 4);
        check_logged_once(&store, &access, &property, 4);
        // A second round has nothing to do.
        assert_eq!(round(&store, &access, &clock).unwrap(), 0);
        assert_eq!(
            access
                .log(&property)
                .unwrap()
                .store_sequenced_size()
                .unwrap(),
            4
        );
    }

    /// Only part of a pending append made it (or its openings were written without their
    /// leaves): the rest is appended with fresh salts, once; and a second crash right after
    /// the recovery recorded what it found loses and doubles nothing either.
    #[test]
    fn a_partly_appended_round_is_completed_once_even_after_a_second_crash() {
        let (_dir, store, access, clock, property) = setup();
        store.record((1..=6).map(event).collect()).unwrap();
        interrupted_round(&store, &access, &clock, &property, 4, 2);
        // The second crash: the recovery's first step (found events recorded, the append
        // left pending), then nothing.
        let pending = store.pending_append(&property).unwrap().unwrap();
        let waiting = store.unlogged(10).unwrap();
        let log = access.log(&property).unwrap();
        let leaves: Vec<Vec<u8>> = waiting
            .iter()
            .map(|e| AccessLog::leaf_of(&e.signed, e.salt.as_ref().unwrap()).unwrap())
            .collect();
        let found = log.find_leaves(pending.floor, &leaves).unwrap();
        let marks: Vec<(u64, u64)> = waiting
            .iter()
            .zip(&found)
            .filter_map(|(e, f)| f.map(|i| (e.id, i)))
            .collect();
        assert_eq!(marks.len(), 2);
        store.mark_logged(&property, &marks, false).unwrap();
        assert!(store.pending_append(&property).unwrap().is_some());

        assert_eq!(round(&store, &access, &clock).unwrap(), 4);
        check_logged_once(&store, &access, &property, 6);
    }
}

//! The outbox publisher: moves log entries the control plane wrote to its outbox (in the same
//! transaction as the records that cause them) into the public log or a property's access
//! log, and records where each landed.
//!
//! **Exactly once into the public log.** Before each append the publisher durably records
//! the public log's size (`publisher.floor`). After a crash between an append and the
//! marking of its entries, the next round reads the log from that floor and marks every
//! pending entry found there byte for byte (entries carry unique ids and times, so equal
//! bytes are the same entry) instead of appending it again.
//!
//! **At least once into access logs.** An access-log leaf is a fresh salted commitment, so a
//! re-append cannot be recognised by its bytes; after such a crash an event can appear twice.
//! Every payload the control plane writes carries its time and author, so a reader can tell.
//! After appending, the property's access log is integrated at once, so the event can be read.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use doorman_core::PropertyId;
use doorman_store::control::{LogTarget, OutboxRecord};
use doorman_store::{AccessLogs, Clock, LogStore, Store};

/// Outbox entries published per round, at most.
const BATCH: usize = 1000;

/// How often the publisher looks even when nobody kicked it (a crash left entries pending, or
/// an append failed).
const POLL: Duration = Duration::from_secs(1);

const FLOOR_KEY: &str = "publisher.floor";

/// The publisher thread and what waits for it.
pub struct Publisher {
    store: Arc<dyn Store>,
    log: Arc<dyn LogStore>,
    access: Arc<AccessLogs>,
    clock: Clock,
    kick: Mutex<Option<mpsc::Sender<()>>>,
    /// The highest outbox id handled so far (published, or given up on this round).
    done: Mutex<i64>,
    progressed: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Publisher {
    /// Starts the publisher thread (it publishes what is pending at once).
    pub fn start(
        store: Arc<dyn Store>,
        log: Arc<dyn LogStore>,
        access: Arc<AccessLogs>,
        clock: Clock,
    ) -> std::io::Result<Arc<Publisher>> {
        let (tx, rx) = mpsc::channel::<()>();
        let publisher = Arc::new(Publisher {
            store,
            log,
            access,
            clock,
            kick: Mutex::new(Some(tx)),
            done: Mutex::new(0),
            progressed: Condvar::new(),
            thread: Mutex::new(None),
        });
        let worker = Arc::clone(&publisher);
        let handle = std::thread::Builder::new()
            .name("doorman-publisher".to_string())
            .spawn(move || {
                loop {
                    if let Err(e) = worker.round() {
                        eprintln!("doorman serve: publishing log entries failed (retrying): {e}");
                    }
                    match rx.recv_timeout(POLL) {
                        Ok(()) | Err(RecvTimeoutError::Timeout) => {
                            while rx.try_recv().is_ok() {}
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                // One last round: what was committed before the stop gets out.
                if let Err(e) = worker.round() {
                    eprintln!("doorman serve: publishing log entries at shutdown failed (they stay in the outbox): {e}");
                }
            })?;
        *lock(&publisher.thread) = Some(handle);
        Ok(publisher)
    }

    /// Wakes the thread.
    pub fn kick(&self) {
        if let Some(tx) = lock(&self.kick).as_ref() {
            let _ = tx.send(());
        }
    }

    /// Kicks the thread and waits until outbox entry `id` is handled, or `timeout` passed.
    pub fn wait_for(&self, id: i64, timeout: Duration) {
        self.kick();
        let done = lock(&self.done);
        let _ = self
            .progressed
            .wait_timeout_while(done, timeout, |done| *done < id)
            .unwrap_or_else(PoisonError::into_inner);
    }

    /// Kicks the thread and waits until everything pending now is handled, or `timeout`.
    pub fn flush(&self, timeout: Duration) {
        let newest = self
            .store
            .pending_outbox(usize::MAX)
            .ok()
            .and_then(|p| p.last().map(|r| r.id));
        if let Some(id) = newest {
            self.wait_for(id, timeout);
        }
    }

    /// Stops the thread after a last round.
    pub fn stop(&self) {
        lock(&self.kick).take();
        if let Some(h) = lock(&self.thread).take() {
            let _ = h.join();
        }
    }

    /// One round: everything pending, in order.
    fn round(&self) -> Result<(), String> {
        loop {
            let pending = self
                .store
                .pending_outbox(BATCH)
                .map_err(|e| e.to_string())?;
            let Some(last) = pending.last().map(|r| r.id) else {
                return Ok(());
            };
            let result = self.publish(&pending);
            {
                let mut done = lock(&self.done);
                if result.is_ok() {
                    *done = (*done).max(last);
                }
            }
            self.progressed.notify_all();
            result?;
            if pending.len() < BATCH {
                return Ok(());
            }
        }
    }

    fn publish(&self, pending: &[OutboxRecord]) -> Result<(), String> {
        let public: Vec<&OutboxRecord> = pending
            .iter()
            .filter(|r| r.target == LogTarget::Public)
            .collect();
        if !public.is_empty() {
            self.publish_public(&public)?;
        }
        let mut by_property: HashMap<PropertyId, Vec<&OutboxRecord>> = HashMap::new();
        for r in pending {
            if let LogTarget::Access(p) = &r.target {
                by_property.entry(p.clone()).or_default().push(r);
            }
        }
        let now = (self.clock)();
        for (property, records) in by_property {
            for r in records {
                let index = self
                    .access
                    .append(&property, &r.entry, now, &mut rand::rngs::OsRng)
                    .map_err(|e| format!("appending to the access log of {property}: {e}"))?;
                self.store
                    .mark_published(r.id, index)
                    .map_err(|e| e.to_string())?;
            }
            let log = self.access.log(&property).map_err(|e| e.to_string())?;
            log.integrate(now)
                .map_err(|e| format!("integrating the access log of {property}: {e}"))?;
        }
        Ok(())
    }

    fn publish_public(&self, records: &[&OutboxRecord]) -> Result<(), String> {
        // Recovery: entries appended by an earlier round that crashed before marking them.
        let mut left: Vec<&OutboxRecord> = Vec::new();
        if let Some(floor) = self.store.meta(FLOOR_KEY).map_err(|e| e.to_string())? {
            let floor = std::str::from_utf8(&floor)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            let size = self.log.sequenced_size().map_err(|e| e.to_string())?;
            let mut found: HashMap<Vec<u8>, u64> = HashMap::new();
            let mut start = floor;
            while start < size {
                let end = size.min(start.saturating_add(4096));
                for (i, e) in (start..).zip(
                    self.log
                        .sequenced_entries(start, end)
                        .map_err(|e| e.to_string())?,
                ) {
                    found.entry(e).or_insert(i);
                }
                start = end;
            }
            for r in records {
                match found.get(&r.entry) {
                    Some(index) => self
                        .store
                        .mark_published(r.id, *index)
                        .map_err(|e| e.to_string())?,
                    None => left.push(r),
                }
            }
        } else {
            left.extend_from_slice(records);
        }
        if left.is_empty() {
            return Ok(());
        }
        let size = self.log.sequenced_size().map_err(|e| e.to_string())?;
        self.store
            .put_meta(FLOOR_KEY, size.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        let batch: Vec<Vec<u8>> = left.iter().map(|r| r.entry.clone()).collect();
        let indexes = self
            .log
            .append(&batch)
            .map_err(|e| format!("appending to the public log: {e}"))?;
        let marks: Vec<(i64, u64)> = left
            .iter()
            .zip(indexes)
            .map(|(r, index)| (r.id, index))
            .collect();
        self.store
            .mark_published_all(&marks)
            .map_err(|e| e.to_string())?;
        let next = marks
            .iter()
            .map(|(_, index)| index.saturating_add(1))
            .max()
            .unwrap_or(size)
            .max(size);

        // Everything below is marked: the next recovery scan starts after it.
        self.store
            .put_meta(FLOOR_KEY, next.to_string().as_bytes())
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

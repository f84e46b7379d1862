//! Group commit: many appenders, one transaction.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use crate::error::StoreError;
use crate::store::{LogStore, MAX_BATCH_ENTRIES, check_batch};

/// How large one group commit may grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequencerConfig {
    /// Entries per commit (at most [`MAX_BATCH_ENTRIES`]). Default 8,192.
    pub max_batch_entries: usize,
    /// Bytes of entries per commit; a single request may exceed it. Default 16 MiB.
    pub max_batch_bytes: usize,
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig {
            max_batch_entries: 8_192,
            max_batch_bytes: 16 << 20,
        }
    }
}

type Reply = SyncSender<Result<Vec<u64>, StoreError>>;

struct Request {
    entries: Vec<Vec<u8>>,
    reply: Reply,
}

/// Appends entries with group commit: a background writer thread takes every request waiting
/// in its channel (up to [`SequencerConfig`]'s limits), appends them all in one
/// [`LogStore::append`] — one transaction, one sync — and then answers each appender with its
/// indices. So throughput grows with the number of concurrent appenders while each append
/// still returns only after its entries are durable.
///
/// `Sync`: share it (`Arc<Sequencer>`) between threads. Dropping it (or [`Sequencer::stop`])
/// lets the writer finish the requests already sent, then joins it.
#[derive(Debug)]
pub struct Sequencer {
    sender: Option<Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Sequencer {
    /// Starts the writer thread over `store`.
    pub fn new(store: Arc<dyn LogStore>, config: SequencerConfig) -> Result<Sequencer, StoreError> {
        let (sender, receiver) = mpsc::channel();
        let config = SequencerConfig {
            max_batch_entries: config.max_batch_entries.clamp(1, MAX_BATCH_ENTRIES),
            ..config
        };
        let thread = std::thread::Builder::new()
            .name("doorman-sequencer".to_string())
            .spawn(move || writer(store.as_ref(), &receiver, config))
            .map_err(|e| StoreError::Stopped(format!("cannot start the writer thread: {e}")))?;
        Ok(Sequencer {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    /// Appends one entry; returns its index once it is durable.
    pub fn append(&self, entry: Vec<u8>) -> Result<u64, StoreError> {
        let indices = self.append_all(vec![entry])?;
        indices
            .first()
            .copied()
            .ok_or_else(|| StoreError::Stopped("the writer returned no index".to_string()))
    }

    /// Appends entries as one unit (contiguous indices, all or nothing; at most
    /// [`MAX_BATCH_ENTRIES`]); returns their indices once they are durable. The batch is
    /// checked here, so a bad batch never fails the other appenders of a group commit.
    pub fn append_all(&self, entries: Vec<Vec<u8>>) -> Result<Vec<u64>, StoreError> {
        check_batch(&entries)?;
        let (reply, answer) = mpsc::sync_channel(1);
        self.sender
            .as_ref()
            .ok_or_else(|| StoreError::Stopped("stopped".to_string()))?
            .send(Request { entries, reply })
            .map_err(|_| StoreError::Stopped("the writer thread has exited".to_string()))?;
        answer.recv().map_err(|_| {
            StoreError::Stopped("the writer thread exited before answering".to_string())
        })?
    }

    /// Finishes the requests already sent and stops the writer thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            // A panicking writer has already dropped its replies; appenders saw `Stopped`.
            let _ = thread.join();
        }
    }
}

impl Drop for Sequencer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn writer(store: &dyn LogStore, receiver: &Receiver<Request>, config: SequencerConfig) {
    while let Ok(first) = receiver.recv() {
        let mut count = first.entries.len();
        let mut bytes: usize = first.entries.iter().map(Vec::len).sum();
        let mut group = vec![first];
        while count < config.max_batch_entries && bytes < config.max_batch_bytes {
            let Ok(next) = receiver.try_recv() else { break };
            if count + next.entries.len() > MAX_BATCH_ENTRIES {
                commit(store, std::mem::take(&mut group));
                count = 0;
                bytes = 0;
            }
            count += next.entries.len();
            bytes += next.entries.iter().map(Vec::len).sum::<usize>();
            group.push(next);
        }
        commit(store, group);
    }
}

fn commit(store: &dyn LogStore, group: Vec<Request>) {
    if group.is_empty() {
        return;
    }
    let mut entries = Vec::new();
    let mut replies = Vec::with_capacity(group.len());
    for request in group {
        replies.push((request.entries.len(), request.reply));
        entries.extend(request.entries);
    }
    match store.append(&entries) {
        Ok(indices) if indices.len() == entries.len() => {
            let mut rest = indices.as_slice();
            for (n, reply) in replies {
                let (mine, after) = rest.split_at(n.min(rest.len()));
                rest = after;
                // An appender that gave up waiting is no error of the log's.
                let _ = reply.send(Ok(mine.to_vec()));
            }
        }
        Ok(indices) => {
            let e = StoreError::Corrupt(format!(
                "the store returned {} indices for {} entries",
                indices.len(),
                entries.len()
            ));
            for (_, reply) in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for (_, reply) in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

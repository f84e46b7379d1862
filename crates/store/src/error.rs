//! The crate's one error type.

use doorman_tlog::MAX_ENTRY_SIZE;

/// Why a store, sequencer or integrator operation failed.
///
/// `Clone`, so the sequencer can hand one database error to every appender of the failed
/// group commit. Database errors are kept as text for the same reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "entry {position} of the batch is {size} bytes; entries are at most {MAX_ENTRY_SIZE} bytes \
         (the tlog-tiles entry bundle limit); nothing of the batch was stored"
    )]
    EntryTooLarge { position: usize, size: usize },
    #[error("empty batch: append at least one entry")]
    EmptyBatch,
    #[error(
        "the batch holds {0} entries; one append takes at most {max} (split it; nothing of the batch was stored)",
        max = crate::MAX_BATCH_ENTRIES
    )]
    BatchTooLarge(usize),
    #[error("the log is full: {0} entries is the most Doorman's tree holds (2^48)")]
    LogFull(u64),
    #[error(
        "{what} is not covered by the latest checkpoint (tree size {size}); only integrated data is served"
    )]
    NotCovered { what: String, size: u64 },
    #[error("bad range {start}..{end}: {why}")]
    BadRange { start: u64, end: u64, why: String },
    #[error(
        "the database is at schema version {found}; this build knows versions up to {supported}: \
         it was written by a newer Doorman (run that one; never downgrade a data dir)"
    )]
    FutureSchema { found: i64, supported: i64 },
    #[error(
        "another integration committed first (the latest checkpoint is now size {found}; this one \
         started from {expected}); nothing was written, integrate again"
    )]
    Conflict { expected: u64, found: u64 },
    #[error("the log's origin is {stored:?}; integrate was called with {given:?}")]
    WrongOrigin { stored: String, given: String },
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    #[error("database: {0}")]
    Database(String),
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error(transparent)]
    Log(#[from] doorman_tlog::Error),
    #[error("the sequencer has stopped: {0}")]
    Stopped(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Database(e.to_string())
    }
}

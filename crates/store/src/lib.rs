//! Doorman's durable log store and sequencer (issue 3, item 2): entries, the tree's stored
//! hashes and signed checkpoints, on SQLite by default.
//!
//! - [`LogStore`]: the interface a backend implements (seven storage primitives), with the log
//!   logic written once on top of them: [`LogStore::integrate`], entries by range, hash tiles
//!   and entry bundles for any [`TileCoord`](doorman_tlog::TileCoord), inclusion and
//!   consistency proofs. PostgreSQL and object storage (later issues) implement the same
//!   primitives and so serve the same bytes.
//! - [`SqliteLogStore`]: the default backend, one file `<data dir>/log.sqlite`.
//! - [`Sequencer`]: group commit — many concurrent appenders share one transaction; each gets
//!   its index only after that commit.
//! - [`Integrator`]: the driver thread that integrates and signs a checkpoint at most every
//!   interval (default 1 s) when something new was appended.
//!
//! # Durability and consistency
//!
//! - **An acknowledged append is durable.** [`LogStore::append`] assigns final, contiguous
//!   indices (the next index is `MAX(idx) + 1` read inside the write transaction) and returns
//!   only after `COMMIT`. SQLite runs in WAL mode with `synchronous=FULL`, so every commit
//!   syncs the WAL: a committed entry survives kill -9 *and* power loss (`NORMAL` would only
//!   survive a killed process). Batches are checked first (1 to [`MAX_BATCH_ENTRIES`] entries,
//!   each at most `doorman_tlog::MAX_ENTRY_SIZE` = 65,535 bytes, the tlog-tiles bundle limit);
//!   a refused or failed batch stores nothing and uses no index.
//! - **A checkpoint never exists without the hashes it commits to.** Integration reads the
//!   entries past the latest checkpoint, computes their stored hashes with `doorman_tlog` from
//!   the stored ones (an in-memory overlay holds the new ones), signs the checkpoint and then
//!   writes hashes and checkpoint in one transaction — only if the latest checkpoint is still
//!   the one it started from ([`StoreError::Conflict`] otherwise). Signing happens before the
//!   commit, outside the write lock; a crash in between leaves a signature nobody saw.
//! - **Every checkpoint is consistent with every earlier one.** The tree only grows from
//!   stored hashes, which never change once written, and integration first recomputes the
//!   latest checkpoint's root from them and refuses to sign anything if it differs
//!   ([`StoreError::Corrupt`]). That check covers the hashes the root depends on, not every
//!   stored hash; auditing all of them is a full recomputation (see tests/crash.rs).
//! - **Reads serve only what a checkpoint covers**: entries, tiles and bundles up to the
//!   latest checkpoint's size, proofs for tree sizes up to it ([`StoreError::NotCovered`]).
//!   Data below that size never changes, so reads need no snapshot.
//! - The crash test (`tests/crash.rs`, with the `doorman-store-crash-child` binary) kills a
//!   child appending and integrating under load with SIGKILL twelve times and checks both
//!   properties after each restart.
//!
//! # SQLite
//!
//! `rusqlite` 0.39 with `bundled`: SQLite is compiled in, so a fresh machine needs no system
//! library. (0.40 and later link a `libsqlite3-sys` that cannot coexist with the one sqlx 0.9
//! links; a later issue may add sqlx for PostgreSQL.) Tables: `entries(idx, data)`,
//! `hashes(idx, hash)` in stored-hash-index order (Go `sumdb/tlog`'s layout, what
//! `doorman_tlog::HashStore` reads), `checkpoints(size, origin, root, note, published_ms)`
//! keeping every checkpoint ever signed, and `schema_version`: numbered migration steps are
//! applied at open, and a database from a newer schema is refused
//! ([`StoreError::FutureSchema`]). One write connection behind a mutex (SQLite has one writer
//! anyway), a small pool of read connections beside it (WAL lets them read during a write),
//! busy timeout 10 s.
//!
//! # Time
//!
//! No clock is read here: [`LogStore::integrate`] takes `now`, the [`Integrator`] takes a
//! [`Clock`] (the binary's one clock read), and intervals are waited with channel timeouts.

mod error;
mod integrator;
mod sequencer;
mod sqlite;
mod store;

pub use error::StoreError;
pub use integrator::{Clock, Integrator, IntegratorConfig, OnCheckpoint};
pub use sequencer::{Sequencer, SequencerConfig};
pub use sqlite::{DB_FILE, SCHEMA_VERSION, SqliteLogStore};
pub use store::{
    LogStore, MAX_BATCH_ENTRIES, MAX_INTEGRATE_BATCH, MAX_READ_ENTRIES, StoredCheckpoint,
    StoredHashes, check_batch,
};

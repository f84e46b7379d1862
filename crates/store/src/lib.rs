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
//! - [`AccessLogs`] (`access.rs`): the per-property private access logs on the same
//!   machinery, payloads committed as salted hashes (redactable), anchored in the public log
//!   (docs/access-log.md).
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
//!   Data below that size never changes, so reads need no snapshot. Coverage is checked with
//!   [`LogStore::covered_size`]: a backend may check against the largest checkpoint size it
//!   has already seen committed and read the latest checkpoint only when a read asks for more
//!   (checkpoints only grow, so what one covered stays covered).
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
//! keeping every checkpoint ever signed, `hash_tiles(n, data)` and `entry_bundles(n, data)`
//! (schema 2: full level-0 hash tiles and full entry bundles kept whole, contiguously from
//! position 0 — a copy of what the rows above give, written by the integrator after each
//! checkpoint with [`LogStore::keep_full_tiles`], because serving one row is far cheaper than
//! the 511 hashes or 256 entries behind it; a log from schema 1 catches up a batch at a
//! time), and `schema_version`: numbered migration steps are
//! applied at open, and a database from a newer schema is refused
//! ([`StoreError::FutureSchema`]). One write connection behind a mutex (SQLite has one writer
//! anyway), a pool of at most eight read connections beside it (WAL lets them read during a
//! write; a read waits for a free one rather than opening another), busy timeout 10 s. The
//! stored hashes one call asks for are read in few statements: each run of nearby indexes
//! (such as a level-0 tile's) with one range scan, the scattered rest with one lookup. The
//! hashes of tree levels 8 and up (tile level 1 and up: one stored hash in about 128, at most
//! 2^20 of them) are also kept in memory, loaded at open and extended by each commit, so
//! proofs and upper tiles read only the few low-level hashes from SQLite. They are copies of
//! committed rows, which never change; a hash another process commits is read from the file.
//! (So the root check before integrating sees those levels as they were on disk at open or as
//! this store wrote them.)
//!
//! # Time
//!
//! No clock is read here: [`LogStore::integrate`] takes `now`, the [`Integrator`] takes a
//! [`Clock`] (the binary's one clock read), and intervals are waited with channel timeouts.

mod access;
pub mod control;
mod devices;
mod error;
mod index;
mod integrator;
mod sequencer;
mod sqlite;
mod store;

pub use access::{
    ACCESS_DIR, ACCESS_KEY_FILE, AccessEvent, AccessKey, AccessLog, AccessLogError, AccessLogs,
    AnchorRecord, AnchorReport, Anchored, MAX_ACCESS_READ, OPENINGS_FILE, Opening, access_origin,
    property_dir_name, property_from_dir_name,
};
pub use control::{ControlError, SqliteStore, Store};
pub use devices::{
    DEVICES_FILE, DeviceEvent, DeviceStatus, DeviceStore, EventCount, EventFilter, PendingAppend,
    Unlogged,
};
pub use doorman_files::{PrivateFileError, read_private_file, write_new_private_file};
pub use error::StoreError;
pub use index::{AddressLookup, INDEX_FILE, IndexedEntry, IndexedProperty, PublicIndex, Unparsed};
pub use integrator::{Clock, Integrator, IntegratorConfig, OnCheckpoint};
pub use sequencer::{Sequencer, SequencerConfig};
pub use sqlite::{DB_FILE, SCHEMA_VERSION, SqliteLogStore};
pub use store::{
    FullTiles, KEEP_TILES_BATCH, LogStore, MAX_BATCH_ENTRIES, MAX_INTEGRATE_BATCH,
    MAX_READ_ENTRIES, StoredCheckpoint, StoredHashes, check_batch,
};

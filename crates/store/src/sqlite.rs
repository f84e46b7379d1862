//! The default backend: one SQLite file under the data dir.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use doorman_tlog::{Hash, HashStore, TileCoord, TileKind, stored_hash_count};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::store::{
    FullTiles, LogStore, StoredCheckpoint, StoredHashes, check_batch, check_log_room, from_unix_ms,
    unix_ms,
};

/// The database's file name in the data dir.
pub const DB_FILE: &str = "log.sqlite";

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most read connections open at once. A read that finds them all busy waits for one
/// (rather than opening and closing a connection of its own, which costs more than most
/// reads: a connection's page cache and prepared statements start empty).
const MAX_READERS: usize = 8;

/// The schema, one step per version: step `i` (0-based) takes the database from version `i`
/// to `i + 1`. Steps are never edited once released; a change is a new step.
const MIGRATIONS: &[&str] = &[
    // 1: entries by index; the tree's stored hashes by stored hash index (tlog order); every
    // signed checkpoint by tree size (append-only history; the latest is the largest size).
    "CREATE TABLE entries (
        idx  INTEGER PRIMARY KEY,
        data BLOB NOT NULL
    );
    CREATE TABLE hashes (
        idx  INTEGER PRIMARY KEY,
        hash BLOB NOT NULL CHECK (length(hash) = 32)
    );
    CREATE TABLE checkpoints (
        size         INTEGER PRIMARY KEY,
        origin       TEXT NOT NULL,
        root         BLOB NOT NULL CHECK (length(root) = 32),
        note         BLOB NOT NULL,
        published_ms INTEGER NOT NULL
    );",
    // 2: full level-0 hash tiles and full entry bundles kept whole, by tile position: a copy
    // of what `hashes` and `entries` give, kept because one row is far cheaper to read than
    // the 511 hashes or 256 entries behind it. Rows are only ever added, contiguously from 0;
    // an existing log catches up after the upgrade (`LogStore::keep_full_tiles`).
    "CREATE TABLE hash_tiles (
        n    INTEGER PRIMARY KEY,
        data BLOB NOT NULL CHECK (length(data) = 8192)
    );
    CREATE TABLE entry_bundles (
        n    INTEGER PRIMARY KEY,
        data BLOB NOT NULL
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A [`LogStore`] in one SQLite file (WAL mode, `synchronous=FULL`).
///
/// One write connection (appends and integration commits take turns on it; SQLite has one
/// writer anyway) and a small pool of read connections, which WAL lets run beside the writer.
#[derive(Debug)]
pub struct SqliteLogStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Readers,
    upper: RwLock<UpperHashes>,
    /// The largest checkpoint size seen committed (read or written here). Checkpoints only
    /// grow, so everything up to it stays covered; see [`LogStore::covered_size`].
    known_size: AtomicU64,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a transaction open: rusqlite rolls back a
    // dropped transaction. So the connection is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::BadRange {
        start: v,
        end: v,
        why: "above 2^63-1".to_string(),
    })
}

pub(crate) fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what} {v}")))
}

pub(crate) fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(|e| StoreError::Io {
        path: path.display().to_string(),
        message: format!("cannot open the SQLite database: {e}"),
    })?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "{}: journal_mode is {mode}, not WAL (is it on a file system without shared memory?)",
            path.display()
        )));
    }
    // FULL: in WAL mode, every commit syncs the WAL, so a committed (acknowledged) append
    // survives power loss, not only a killed process.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    apply_migrations(conn, MIGRATIONS)
}

/// Brings a database to version `steps.len()`: step `i` (0-based) takes it from version `i` to
/// `i + 1`, all in one transaction. A database from a newer schema is refused
/// ([`StoreError::FutureSchema`]). Shared by every SQLite file the store keeps.
pub(crate) fn apply_migrations(conn: &mut Connection, steps: &[&str]) -> Result<(), StoreError> {
    let target = i64::try_from(steps.len()).unwrap_or(i64::MAX);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if found > target {
        return Err(StoreError::FutureSchema {
            found,
            supported: target,
        });
    }
    if found < 0 {
        return Err(StoreError::Corrupt(format!("schema version {found}")));
    }
    if found == target {
        return Ok(());
    }
    for step in steps.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(step)?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [target])?;
    tx.commit()?;
    Ok(())
}

fn hash_from(blob: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::from_slice(blob).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Wanted stored hashes at most this far apart are read with one range scan instead of one
/// lookup each: a full level-0 hash tile is 256 of about 511 consecutive stored hashes, while a
/// proof's hashes are spread over the whole tree.
const RANGE_GAP: u64 = 8;

/// Wanted stored hashes looked up by one statement at most (the statement's JSON list).
const LOOKUP_CHUNK: usize = 4096;

/// Reads the stored hashes at `wanted` (sorted, no duplicates) on one connection: each run of
/// indexes at most [`RANGE_GAP`] apart with one range scan, the scattered rest by primary key
/// with one statement per [`LOOKUP_CHUNK`]. Returns `(index, hash)` sorted by index; it may
/// hold indexes between the wanted ones. Missing ones are absent (the caller reports them).
fn read_hashes_sorted(c: &Connection, wanted: &[u64]) -> Result<Vec<(u64, Hash)>, StoreError> {
    let mut found: Vec<(u64, Hash)> = Vec::with_capacity(wanted.len());
    let mut scattered: Vec<u64> = Vec::new();
    let mut rest = wanted;
    while let Some((&first, tail)) = rest.split_first() {
        let run = tail
            .iter()
            .zip(rest)
            .take_while(|&(&next, &prev)| next - prev <= RANGE_GAP)
            .count();
        let Some((run_part, after)) = tail.split_at_checked(run) else {
            break; // cannot happen: run <= tail.len(); the unread ones are reported missing
        };
        match run_part.last().copied() {
            Some(last) => {
                let mut stmt = c.prepare_cached(
                    "SELECT idx, hash FROM hashes WHERE idx >= ?1 AND idx <= ?2 ORDER BY idx",
                )?;
                push_hashes(
                    stmt.query(params![to_i64(first)?, to_i64(last)?])?,
                    &mut found,
                )?;
            }
            None => scattered.push(first),
        }
        rest = after;
    }
    if !scattered.is_empty() {
        let mut stmt = c.prepare_cached(
            "SELECT idx, hash FROM hashes WHERE idx IN (SELECT value FROM json_each(?1))",
        )?;
        for chunk in scattered.chunks(LOOKUP_CHUNK) {
            let list = chunk
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            push_hashes(stmt.query([format!("[{list}]")])?, &mut found)?;
        }
        found.sort_unstable_by_key(|&(idx, _)| idx);
    }
    Ok(found)
}

/// Appends the `(idx, hash)` rows to `found`.
fn push_hashes(
    mut rows: rusqlite::Rows<'_>,
    found: &mut Vec<(u64, Hash)>,
) -> Result<(), StoreError> {
    while let Some(row) = rows.next()? {
        let idx = to_u64(row.get(0)?, "stored hash index")?;
        let blob = row
            .get_ref(1)?
            .as_blob()
            .map_err(|e| StoreError::Corrupt(format!("stored hash {idx}: {e}")))?;
        found.push((idx, hash_from(blob, "stored hash")?));
    }
    Ok(())
}

/// The lowest tree level whose hashes are kept in memory: the hashes of tile level 1 and up,
/// one stored hash in about 128 (every proof and every hash tile above level 0 reads them).
const MEMORY_LEVEL: u8 = doorman_tlog::TILE_HEIGHT;

/// At most this many hashes are kept in memory (about 48 MiB with the map's overhead): all of
/// the upper levels of a tree of up to about 2^27 entries, part of them beyond.
const MAX_MEMORY_HASHES: usize = 1 << 20;

/// The stored hashes of tree levels [`MEMORY_LEVEL`] and up, by stored hash index: a copy of
/// committed rows, loaded at open and extended by each commit. Stored hashes never change once
/// committed, so a copy never goes stale; it may lack some (another process's commits, or past
/// [`MAX_MEMORY_HASHES`]), which are then read from the database.
#[derive(Debug, Default)]
struct UpperHashes {
    hashes: HashMap<u64, Hash, BuildHasherDefault<IndexHasher>>,
}

/// A cheap hash for stored hash indexes (the default SipHash is most of a lookup's cost). The
/// keys are indexes this store committed, not chosen by a client, so flooding is no concern.
#[derive(Debug, Default, Clone, Copy)]
struct IndexHasher(u64);

impl Hasher for IndexHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

impl UpperHashes {
    /// The stored hash indexes of the hashes at levels [`MEMORY_LEVEL`] and up that growing the
    /// tree from `old_size` to `new_size` entries completes, highest level first, at most
    /// `limit` of them (when not all fit, those every proof reads come first).
    fn completed(old_size: u64, new_size: u64, limit: usize) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for level in (MEMORY_LEVEL..=63).rev() {
            let (lo, hi) = (old_size >> level, new_size >> level);
            for n in lo..hi {
                if out.len() >= limit {
                    return Ok(out);
                }
                out.push(doorman_tlog::stored_hash_index(level, n)?);
            }
        }
        Ok(out)
    }

    fn insert(&mut self, index: u64, hash: Hash) {
        if self.hashes.len() < MAX_MEMORY_HASHES {
            self.hashes.insert(index, hash);
        }
    }
}

/// A `checkpoints` row as read: size, origin, root, note, published_ms.
type CheckpointRow = (i64, String, Vec<u8>, Vec<u8>, i64);

fn checkpoint_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ))
}

fn checkpoint_from(
    (size, origin, root, note, ms): CheckpointRow,
) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        origin,
        size: to_u64(size, "checkpoint size")?,
        root: hash_from(&root, "checkpoint root")?,
        note,
        published_at: from_unix_ms(to_u64(ms, "checkpoint time")?),
    })
}

/// Loads the upper-level hashes of the latest checkpoint's tree (see [`UpperHashes`]). One
/// that is missing is left out: reading it later reports it.
fn load_upper_hashes(c: &Connection) -> Result<UpperHashes, StoreError> {
    let size: i64 = c.query_row("SELECT COALESCE(MAX(size), 0) FROM checkpoints", [], |r| {
        r.get(0)
    })?;
    let mut wanted =
        UpperHashes::completed(0, to_u64(size, "checkpoint size")?, MAX_MEMORY_HASHES)?;
    wanted.sort_unstable();
    let mut upper = UpperHashes::default();
    for chunk in wanted.chunks(LOOKUP_CHUNK) {
        for (i, hash) in read_hashes_sorted(c, chunk)? {
            if chunk.binary_search(&i).is_ok() {
                upper.insert(i, hash);
            }
        }
    }
    Ok(upper)
}

const CHECKPOINT_COLUMNS: &str = "size, origin, root, note, published_ms";

impl SqliteLogStore {
    /// Opens (creating if needed) `<data_dir>/log.sqlite`, creating the data dir too, and
    /// brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<SqliteLogStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Io {
            path: data_dir.display().to_string(),
            message: format!("cannot create the data dir: {e}"),
        })?;
        SqliteLogStore::open_file(&data_dir.join(DB_FILE))
    }

    /// Opens (creating if needed) the database file at `path` and brings its schema up to
    /// date. Refuses a database from a newer schema version.
    pub fn open_file(path: &Path) -> Result<SqliteLogStore, StoreError> {
        let mut writer = connect(path)?;
        migrate(&mut writer)?;
        let upper = load_upper_hashes(&writer)?;
        Ok(SqliteLogStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Readers::new(path),
            upper: RwLock::new(upper),
            known_size: AtomicU64::new(0),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection (see [`Readers::read`]).
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.read(f)
    }
}

/// Read-only connections to one SQLite file, opened as needed, at most [`MAX_READERS`]: in
/// WAL mode they read the last commit while the one writer works, so a long read neither
/// waits for nor holds up a commit (and its sync).
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    pool: Mutex<ReaderPool>,
    returned: Condvar,
}

impl Readers {
    pub(crate) fn new(path: &Path) -> Readers {
        Readers {
            path: path.to_path_buf(),
            pool: Mutex::new(ReaderPool::default()),
            returned: Condvar::new(),
        }
    }

    /// Runs `f` on a pooled read connection (waiting for one if [`MAX_READERS`] are busy). It
    /// sees every transaction committed before it starts.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut pool = lock(&self.pool);
            loop {
                if let Some(c) = pool.idle.pop() {
                    break Some(c);
                }
                if pool.open < MAX_READERS {
                    pool.open += 1;
                    break None;
                }
                pool = self
                    .returned
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let conn = match conn {
            Some(c) => c,
            None => match connect(&self.path).and_then(|c| {
                c.pragma_update(None, "query_only", "ON")?;
                Ok(c)
            }) {
                Ok(c) => c,
                Err(e) => {
                    let mut pool = lock(&self.pool);
                    pool.open = pool.open.saturating_sub(1);
                    drop(pool);
                    self.returned.notify_one();
                    return Err(e);
                }
            },
        };
        let result = f(&conn);
        lock(&self.pool).idle.push(conn);
        self.returned.notify_one();
        result
    }
}

/// The read connections: `open` of them exist, `idle` are not in use.
#[derive(Debug, Default)]
struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

impl LogStore for SqliteLogStore {
    fn append(&self, entries: &[Vec<u8>]) -> Result<Vec<u64>, StoreError> {
        check_batch(entries)?;
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let next: i64 = tx.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
            r.get(0)
        })?;
        let start = to_u64(next, "entry index")?;
        let end = check_log_room(start, entries.len())?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO entries (idx, data) VALUES (?1, ?2)")?;
            for (idx, entry) in (next..).zip(entries) {
                insert.execute(params![idx, entry])?;
            }
        }
        tx.commit()?;
        Ok((start..end).collect())
    }

    fn sequenced_size(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            let next: i64 =
                c.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
                    r.get(0)
                })?;
            to_u64(next, "entry index")
        })
    }

    fn sequenced_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        if start > end {
            return Err(StoreError::BadRange {
                start,
                end,
                why: "start is after end".to_string(),
            });
        }
        let (lo, hi) = (to_i64(start)?, to_i64(end)?);
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT idx, data FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )?;
            let mut rows = stmt.query(params![lo, hi])?;
            let mut out = Vec::new();
            let mut want = lo;
            while let Some(row) = rows.next()? {
                let idx: i64 = row.get(0)?;
                if idx != want {
                    break;
                }
                out.push(row.get::<_, Vec<u8>>(1)?);
                want = want.saturating_add(1);
            }
            if want != hi {
                return Err(StoreError::BadRange {
                    start,
                    end,
                    why: format!("entry {want} has not been appended"),
                });
            }
            Ok(out)
        })
    }

    fn stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        if indexes.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<Option<Hash>> = {
            let upper = self.upper.read().unwrap_or_else(PoisonError::into_inner);
            indexes
                .iter()
                .map(|i| upper.hashes.get(i).copied())
                .collect()
        };
        let mut wanted: Vec<u64> = indexes
            .iter()
            .zip(&out)
            .filter(|(_, h)| h.is_none())
            .map(|(&i, _)| i)
            .collect();
        if !wanted.is_empty() {
            wanted.sort_unstable();
            wanted.dedup();
            // Sorted by index, with every wanted one that exists (and maybe a few more).
            let found = self.read(|c| read_hashes_sorted(c, &wanted))?;
            for (slot, &i) in out.iter_mut().zip(indexes) {
                if slot.is_none() {
                    *slot = found
                        .binary_search_by_key(&i, |&(idx, _)| idx)
                        .ok()
                        .and_then(|at| found.get(at))
                        .map(|&(_, hash)| hash);
                }
            }
        }
        out.into_iter()
            .zip(indexes)
            .map(|(hash, &i)| {
                hash.ok_or_else(|| StoreError::Corrupt(format!("no stored hash at index {i}")))
            })
            .collect()
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY size DESC LIMIT 1"
            ))?
            .query_row([], checkpoint_from_row)
            .optional()?)
        })?;
        let latest = row.map(checkpoint_from).transpose()?;
        if let Some(cp) = &latest {
            self.known_size.fetch_max(cp.size, Ordering::AcqRel);
        }
        Ok(latest)
    }

    fn covered_size(&self, needed: u64) -> Result<u64, StoreError> {
        let known = self.known_size.load(Ordering::Acquire);
        if known >= needed {
            return Ok(known);
        }
        self.checkpoint_size()
    }

    fn checkpoints(
        &self,
        from_size: u64,
        limit: usize,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let from = to_i64(from_size)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints WHERE size >= ?1 ORDER BY size LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![from, limit], checkpoint_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        rows.into_iter().map(checkpoint_from).collect()
    }

    fn stored_tile(&self, tile: &TileCoord) -> Result<Option<Vec<u8>>, StoreError> {
        let sql = match tile.kind() {
            _ if !tile.is_full() => return Ok(None),
            TileKind::Hashes { level: 0 } => "SELECT data FROM hash_tiles WHERE n = ?1",
            TileKind::Entries => "SELECT data FROM entry_bundles WHERE n = ?1",
            TileKind::Hashes { .. } => return Ok(None),
        };
        let n = to_i64(tile.index())?;
        self.read(|c| {
            Ok(c.prepare_cached(sql)?
                .query_row([n], |r| r.get::<_, Vec<u8>>(0))
                .optional()?)
        })
    }

    fn full_tile_floor(&self) -> Result<Option<u64>, StoreError> {
        let floor: i64 = self.read(|c| {
            Ok(
                c.prepare_cached("SELECT COALESCE(MAX(n) + 1, 0) FROM entry_bundles")?
                    .query_row([], |r| r.get(0))?,
            )
        })?;
        Ok(Some(to_u64(floor, "tile position")?))
    }

    fn put_full_tiles(&self, floor: u64, tiles: &[FullTiles]) -> Result<(), StoreError> {
        if tiles.is_empty() {
            return Ok(());
        }
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = tx.query_row(
            "SELECT COALESCE(MAX(n) + 1, 0) FROM entry_bundles",
            [],
            |r| r.get(0),
        )?;
        let found = to_u64(found, "tile position")?;
        if found != floor {
            return Err(StoreError::Conflict {
                expected: floor,
                found,
            });
        }
        {
            let mut hashes =
                tx.prepare_cached("INSERT INTO hash_tiles (n, data) VALUES (?1, ?2)")?;
            let mut bundles =
                tx.prepare_cached("INSERT INTO entry_bundles (n, data) VALUES (?1, ?2)")?;
            for (n, t) in (to_i64(floor)?..).zip(tiles) {
                hashes.execute(params![n, t.hashes])?;
                bundles.execute(params![n, t.bundle])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn commit_integration(
        &self,
        old_size: u64,
        hashes: &[Hash],
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError> {
        let first = stored_hash_count(old_size)?;
        let want = stored_hash_count(checkpoint.size)?;
        if checkpoint.size <= old_size
            || u64::try_from(hashes.len()).ok() != want.checked_sub(first)
        {
            return Err(StoreError::Corrupt(format!(
                "{} hashes to grow the tree from {old_size} to {} entries; it takes {}",
                hashes.len(),
                checkpoint.size,
                want.saturating_sub(first)
            )));
        }
        // Computed before anything is written: nothing after the commit may fail.
        let completed = UpperHashes::completed(old_size, checkpoint.size, MAX_MEMORY_HASHES)?;
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 =
            tx.query_row("SELECT COALESCE(MAX(size), 0) FROM checkpoints", [], |r| {
                r.get(0)
            })?;
        let current = to_u64(current, "checkpoint size")?;
        if current != old_size {
            return Err(StoreError::Conflict {
                expected: old_size,
                found: current,
            });
        }
        {
            let mut insert = tx.prepare_cached("INSERT INTO hashes (idx, hash) VALUES (?1, ?2)")?;
            for (idx, hash) in (to_i64(first)?..).zip(hashes) {
                insert.execute(params![idx, hash.as_bytes().as_slice()])?;
            }
        }
        tx.execute(
            &format!("INSERT INTO checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
            params![
                to_i64(checkpoint.size)?,
                checkpoint.origin,
                checkpoint.root.as_bytes().as_slice(),
                checkpoint.note,
                to_i64(unix_ms(checkpoint.published_at))?,
            ],
        )?;
        tx.commit()?;
        self.known_size.fetch_max(checkpoint.size, Ordering::AcqRel);
        // Committed: keep the new upper-level hashes in memory too.
        let mut upper = self.upper.write().unwrap_or_else(PoisonError::into_inner);
        for i in completed {
            if let Some(&hash) = i
                .checked_sub(first)
                .and_then(|k| usize::try_from(k).ok())
                .and_then(|k| hashes.get(k))
            {
                upper.insert(i, hash);
            }
        }
        Ok(())
    }
}

impl HashStore for SqliteLogStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, doorman_tlog::Error> {
        StoredHashes(self).read_hashes(indexes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored hash indexes of every hash at levels 8 and up of a tree of `size` entries.
    fn upper_levels(size: u64) -> Vec<u64> {
        let mut out: Vec<u64> = (MEMORY_LEVEL..=48)
            .flat_map(|level| {
                (0..size >> level).map(move |n| doorman_tlog::stored_hash_index(level, n).unwrap())
            })
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn completed_names_exactly_the_new_upper_level_hashes() {
        for (old, new) in [
            (0, 255),
            (0, 256),
            (255, 257),
            (300, 70_000),
            (65_535, 65_536),
        ] {
            let mut got = UpperHashes::completed(old, new, usize::MAX).unwrap();
            got.sort_unstable();
            let before = upper_levels(old);
            let want: Vec<u64> = upper_levels(new)
                .into_iter()
                .filter(|i| before.binary_search(i).is_err())
                .collect();
            assert_eq!(got, want, "{old} -> {new}");
            let (first, end) = (
                stored_hash_count(old).unwrap(),
                stored_hash_count(new).unwrap(),
            );
            assert!(got.iter().all(|&i| first <= i && i < end), "{old} -> {new}");
        }
        // With a limit, the highest levels come first.
        let top = UpperHashes::completed(0, 70_000, 3).unwrap();
        let want: Vec<u64> = [(16, 0), (15, 0), (15, 1)]
            .iter()
            .map(|&(level, n)| doorman_tlog::stored_hash_index(level, n).unwrap())
            .collect();
        assert_eq!(top, want);
    }
}

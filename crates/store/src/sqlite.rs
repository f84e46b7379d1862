//! The default backend: one SQLite file under the data dir.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use doorman_tlog::{Hash, HashStore, stored_hash_count};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::store::{
    LogStore, StoredCheckpoint, StoredHashes, check_batch, check_log_room, from_unix_ms, unix_ms,
};

/// The database's file name in the data dir.
pub const DB_FILE: &str = "log.sqlite";

/// How long a connection waits for another's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;

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
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a transaction open: rusqlite rolls back a
    // dropped transaction. So the connection is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn to_i64(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::BadRange {
        start: v,
        end: v,
        why: "above 2^63-1".to_string(),
    })
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative {what} {v}")))
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
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
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let found: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::FutureSchema {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < 0 {
        return Err(StoreError::Corrupt(format!("schema version {found}")));
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    for step in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
        tx.execute_batch(step)?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute(
        "INSERT INTO schema_version (version) VALUES (?1)",
        [SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

fn hash_from(blob: &[u8], what: &str) -> Result<Hash, StoreError> {
    Hash::from_slice(blob).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
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
        Ok(SqliteLogStore {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on a pooled read connection.
    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = connect(&self.path)?;
                c.pragma_update(None, "query_only", "ON")?;
                c
            }
        };
        let result = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        result
    }
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
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT hash FROM hashes WHERE idx = ?1")?;
            indexes
                .iter()
                .map(|&i| {
                    let blob: Option<Vec<u8>> =
                        stmt.query_row([to_i64(i)?], |r| r.get(0)).optional()?;
                    let blob = blob.ok_or_else(|| {
                        StoreError::Corrupt(format!("no stored hash at index {i}"))
                    })?;
                    hash_from(&blob, "stored hash")
                })
                .collect()
        })
    }

    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY size DESC LIMIT 1"),
                [],
                checkpoint_from_row,
            )
            .optional()?)
        })?;
        row.map(checkpoint_from).transpose()
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
        Ok(())
    }
}

impl HashStore for SqliteLogStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, doorman_tlog::Error> {
        StoredHashes(self).read_hashes(indexes)
    }
}

//! The public log's address index: which entries are about which building, for
//! `GET /public/v1/installations?address=`.
//!
//! Derived data, in its own file `<data dir>/public-index.sqlite`: it is rebuilt from the log
//! if deleted, and nothing in it is trusted by clients — every entry the server returns from
//! it comes with its inclusion proof under a signed checkpoint. It indexes only entries the
//! latest checkpoint covers, in log order, so an entry's property is always registered (or
//! flagged) by the time it is read, exactly as a monitor reading the log would see it.
//!
//! Tables: `meta(indexed_size)`, `properties(property, address, address_key, registered_at)`
//! (the latest `property_registered` per property) and `entries(idx, property, type)`.
//! Entries that do not parse as public entries (none should: the writers validate them) are
//! counted for the caller to log, and not indexed.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use doorman_entries::PublicEntry;
use rusqlite::{Connection, params};

use crate::error::StoreError;
use crate::sqlite::connect;
use crate::store::{LogStore, MAX_READ_ENTRIES};

/// The index's file name in the data dir.
pub const INDEX_FILE: &str = "public-index.sqlite";

/// Entries read from the log per catch-up transaction.
const CHUNK: u64 = 4096;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_size  INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO meta (id, indexed_size) VALUES (1, 0);
    CREATE TABLE IF NOT EXISTS properties (
        property      TEXT PRIMARY KEY,
        address       TEXT NOT NULL,
        address_key   TEXT NOT NULL,
        registered_at INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS properties_by_address ON properties (address_key);
    CREATE TABLE IF NOT EXISTS entries (
        idx      INTEGER PRIMARY KEY,
        property TEXT,
        type     TEXT
    );
    CREATE INDEX IF NOT EXISTS entries_by_property ON entries (property, idx);
";

/// A registered property found by an address lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedProperty {
    pub property: String,
    /// The address as registered.
    pub address: String,
    /// Index of its latest `property_registered` entry.
    pub registered_at: u64,
}

/// What an address lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLookup {
    /// The normalised address looked up.
    pub address_key: String,
    /// Properties registered at that address.
    pub properties: Vec<IndexedProperty>,
    /// Indexes of the entries about them, ascending, after the `after` cursor, at most
    /// `limit`.
    pub indexes: Vec<u64>,
    /// Whether more entries follow the last one returned.
    pub more: bool,
    /// The tree size the index covered when looked up.
    pub indexed_size: u64,
}

/// Entries [`PublicIndex::catch_up`] found that are not valid public entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unparsed {
    /// How many.
    pub count: u64,
    /// The first one's index.
    pub first: Option<u64>,
}

/// The address index (see the module docs).
#[derive(Debug)]
pub struct PublicIndex {
    path: PathBuf,
    conn: Mutex<Connection>,
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl PublicIndex {
    /// Opens or creates `<data_dir>/public-index.sqlite`.
    pub fn open(data_dir: &Path) -> Result<PublicIndex, StoreError> {
        let path = data_dir.join(INDEX_FILE);
        let conn = connect(&path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(PublicIndex {
            path,
            conn: Mutex::new(conn),
        })
    }

    /// The index's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many log entries are indexed.
    pub fn indexed_size(&self) -> Result<u64, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let size: i64 = conn.query_row("SELECT indexed_size FROM meta WHERE id = 1", [], |r| {
            r.get(0)
        })?;
        Ok(to_u64(size))
    }

    /// Indexes every entry the log's latest checkpoint covers that is not indexed yet, one
    /// chunk per transaction (the lock is released between chunks, so lookups go on while a
    /// large log is indexed). Returns how many entries did not parse, and the first of them
    /// (to be logged by the caller). Errors if the index is ahead of the log (another log's
    /// index, or a log that lost entries): delete the index file to rebuild it.
    pub fn catch_up(&self, log: &dyn LogStore) -> Result<Unparsed, StoreError> {
        let size = log.checkpoint_size()?;
        let mut unparsed = Unparsed::default();
        loop {
            let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
            let tx = conn.transaction()?;
            let indexed: i64 =
                tx.query_row("SELECT indexed_size FROM meta WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
            let indexed = to_u64(indexed);
            if indexed > size {
                return Err(StoreError::Corrupt(format!(
                    "the address index {} covers {indexed} entries but the log has {size}; \
                     delete the index file to rebuild it",
                    self.path.display()
                )));
            }
            if indexed == size {
                return Ok(unparsed);
            }
            let end = size.min(indexed + CHUNK.min(MAX_READ_ENTRIES));
            let entries = log.entries(indexed, end)?;
            for (idx, bytes) in (indexed..end).zip(entries) {
                match PublicEntry::parse(&bytes) {
                    Ok(entry) => {
                        if let PublicEntry::PropertyRegistered {
                            property,
                            address,
                            address_key,
                            ..
                        } = &entry
                        {
                            tx.execute(
                                "INSERT INTO properties (property, address, address_key, registered_at)
                                 VALUES (?1, ?2, ?3, ?4)
                                 ON CONFLICT (property) DO UPDATE SET address = ?2,
                                     address_key = ?3, registered_at = ?4",
                                params![property, address, address_key, to_i64(idx)],
                            )?;
                        }
                        tx.execute(
                            "INSERT INTO entries (idx, property, type) VALUES (?1, ?2, ?3)",
                            params![to_i64(idx), entry.property(), entry.entry_type().as_str()],
                        )?;
                    }
                    Err(_) => {
                        unparsed.count += 1;
                        unparsed.first.get_or_insert(idx);
                    }
                }
            }
            tx.execute(
                "UPDATE meta SET indexed_size = ?1 WHERE id = 1",
                params![to_i64(end)],
            )?;
            tx.commit()?;
        }
    }

    /// The entries about the building whose normalised address is `address_key` (see
    /// `doorman_entries::normalize_address`): every entry about a property whose latest
    /// registration is at that address, ascending, starting after index `after`, at most
    /// `limit`.
    pub fn lookup(
        &self,
        address_key: &str,
        after: Option<u64>,
        limit: usize,
    ) -> Result<AddressLookup, StoreError> {
        let address_key = address_key.to_string();
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        let indexed: i64 =
            conn.query_row("SELECT indexed_size FROM meta WHERE id = 1", [], |r| {
                r.get(0)
            })?;
        let mut stmt = conn.prepare_cached(
            "SELECT property, address, registered_at FROM properties
             WHERE address_key = ?1 ORDER BY property",
        )?;
        let properties = stmt
            .query_map([&address_key], |r| {
                Ok(IndexedProperty {
                    property: r.get(0)?,
                    address: r.get(1)?,
                    registered_at: to_u64(r.get(2)?),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut indexes = Vec::new();
        let fetch = limit.saturating_add(1);
        let start = after.map_or(-1, to_i64);
        let mut stmt = conn.prepare_cached(
            "SELECT idx FROM entries WHERE property = ?1 AND idx > ?2 ORDER BY idx LIMIT ?3",
        )?;
        for p in &properties {
            let rows = stmt
                .query_map(
                    params![p.property, start, i64::try_from(fetch).unwrap_or(i64::MAX)],
                    |r| r.get::<_, i64>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            indexes.extend(rows.into_iter().map(to_u64));
        }
        indexes.sort_unstable();
        let more = indexes.len() > limit;
        indexes.truncate(limit);
        Ok(AddressLookup {
            address_key,
            properties,
            indexes,
            more,
            indexed_size: to_u64(indexed),
        })
    }
}

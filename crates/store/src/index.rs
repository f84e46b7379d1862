//! The public log's address index: which entries are about which building, for
//! `GET /public/v1/installations?address=`.
//!
//! Derived data, in its own file `<data dir>/public-index.sqlite`: it is rebuilt from the log
//! if deleted, and nothing in it is trusted by clients — every entry the server returns from
//! it comes with its inclusion proof under a signed checkpoint. It indexes only entries the
//! latest checkpoint covers, in log order, so an entry's property is always registered (or
//! flagged) by the time it is read, exactly as a monitor reading the log would see it.
//!
//! Tables: `meta(indexed_size)`, `properties(property, address, address_key, property_key,
//! registered_at)` (the latest `property_registered` per property) and `entries(idx,
//! property, type, warnings)`. Entries are indexed in log order through
//! `doorman_entries::Directory`, exactly as `doorman monitor` reads them, so each entry's
//! warnings (an embedded token that does not verify under the key registered *before* it, a
//! re-registration under another key) are computed once, not on every lookup.
//! Entries that do not parse as public entries (none should: the writers validate them) are
//! counted for the caller to log, and not indexed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use doorman_entries::{Directory, PropertyRecord, PublicEntry};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::sqlite::{connect, lock};
use crate::store::{LogStore, MAX_READ_ENTRIES};

/// The index's file name in the data dir.
pub const INDEX_FILE: &str = "public-index.sqlite";

/// Entries read from the log per catch-up transaction.
const CHUNK: u64 = 4096;

/// The index's layout version, in `PRAGMA user_version`. The index is derived data: a file
/// of another version is emptied and rebuilt from the log, never migrated.
const LAYOUT_VERSION: i64 = 2;

const SCHEMA: &str = "
    DROP TABLE IF EXISTS meta;
    DROP TABLE IF EXISTS properties;
    DROP TABLE IF EXISTS entries;
    CREATE TABLE meta (
        id            INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_size  INTEGER NOT NULL
    );
    INSERT INTO meta (id, indexed_size) VALUES (1, 0);
    CREATE TABLE properties (
        property      TEXT PRIMARY KEY,
        address       TEXT NOT NULL,
        address_key   TEXT NOT NULL,
        property_key  TEXT NOT NULL,
        registered_at INTEGER NOT NULL
    );
    CREATE INDEX properties_by_address ON properties (address_key);
    CREATE TABLE entries (
        idx      INTEGER PRIMARY KEY,
        property TEXT NOT NULL,
        type     TEXT NOT NULL,
        warnings TEXT NOT NULL
    );
    CREATE INDEX entries_by_property ON entries (property, idx);
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

/// An entry about a looked-up property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedEntry {
    pub index: u64,
    /// What a monitor reading the log in order flags about it
    /// (`doorman_entries::Directory::observe`), computed once when it was indexed.
    pub warnings: Vec<String>,
}

/// What an address lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressLookup {
    /// The normalised address looked up.
    pub address_key: String,
    /// Properties registered at that address.
    pub properties: Vec<IndexedProperty>,
    /// The entries about them, ascending, after the `after` cursor, at most `limit`.
    pub entries: Vec<IndexedEntry>,
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

/// How many log entries the index covers. (rusqlite reads and writes `u64` as SQLite's
/// signed integer and refuses negative or too large values, so corruption is an error, not
/// a silently clamped number.)
fn indexed(conn: &Connection) -> Result<u64, StoreError> {
    Ok(
        conn.query_row("SELECT indexed_size FROM meta WHERE id = 1", [], |r| {
            r.get(0)
        })?,
    )
}

impl PublicIndex {
    /// Opens or creates `<data_dir>/public-index.sqlite`.
    pub fn open(data_dir: &Path) -> Result<PublicIndex, StoreError> {
        let path = data_dir.join(INDEX_FILE);
        let conn = connect(&path)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != LAYOUT_VERSION {
            conn.execute_batch(SCHEMA)?;
            conn.pragma_update(None, "user_version", LAYOUT_VERSION)?;
        }
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
        indexed(&lock(&self.conn))
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
            let mut conn = lock(&self.conn);
            let tx = conn.transaction()?;
            let indexed = indexed(&tx)?;
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
                let Ok(entry) = PublicEntry::parse(&bytes) else {
                    unparsed.count += 1;
                    unparsed.first.get_or_insert(idx);
                    continue;
                };
                // What a monitor reading the log in order sees: the property as registered
                // before this entry, the entry checked against it, the registration updated.
                let property = entry.property().to_string();
                let mut directory = Directory::default();
                if let Some(record) = tx
                    .query_row(
                        "SELECT address, address_key, property_key, registered_at
                         FROM properties WHERE property = ?1",
                        [&property],
                        |r| {
                            Ok(PropertyRecord {
                                address: r.get(0)?,
                                address_key: r.get(1)?,
                                property_key: r.get(2)?,
                                registered_at: r.get(3)?,
                            })
                        },
                    )
                    .optional()?
                {
                    directory.properties.insert(property.clone(), record);
                }
                let seen = directory.observe(idx, &entry);
                if let (PublicEntry::PropertyRegistered { .. }, Some(record)) =
                    (&entry, directory.properties.get(&property))
                {
                    tx.execute(
                        "INSERT INTO properties
                             (property, address, address_key, property_key, registered_at)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (property) DO UPDATE SET address = ?2, address_key = ?3,
                             property_key = ?4, registered_at = ?5",
                        params![
                            property,
                            record.address,
                            record.address_key,
                            record.property_key,
                            record.registered_at
                        ],
                    )?;
                }
                let warnings = serde_json::to_string(&seen.warnings)
                    .map_err(|e| StoreError::Database(e.to_string()))?;
                tx.execute(
                    "INSERT INTO entries (idx, property, type, warnings) VALUES (?1, ?2, ?3, ?4)",
                    params![idx, property, entry.entry_type().as_str(), warnings],
                )?;
            }
            tx.execute(
                "UPDATE meta SET indexed_size = ?1 WHERE id = 1",
                params![end],
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
        let conn = lock(&self.conn);
        let indexed_size = indexed(&conn)?;
        let mut stmt = conn.prepare_cached(
            "SELECT property, address, registered_at FROM properties
             WHERE address_key = ?1 ORDER BY property",
        )?;
        let properties = stmt
            .query_map([&address_key], |r| {
                Ok(IndexedProperty {
                    property: r.get(0)?,
                    address: r.get(1)?,
                    registered_at: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut entries = Vec::new();
        let fetch = limit.saturating_add(1);
        let mut stmt = conn.prepare_cached(
            "SELECT idx, warnings FROM entries WHERE property = ?1 AND (?2 IS NULL OR idx > ?2)
             ORDER BY idx LIMIT ?3",
        )?;
        for p in &properties {
            let rows = stmt
                .query_map(
                    params![p.property, after, i64::try_from(fetch).unwrap_or(i64::MAX)],
                    |r| Ok((r.get::<_, u64>(0)?, r.get::<_, String>(1)?)),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            for (idx, warnings) in rows {
                entries.push(IndexedEntry {
                    index: idx,
                    warnings: serde_json::from_str(&warnings).map_err(|e| {
                        StoreError::Corrupt(format!("warnings of entry {idx} in the index: {e}"))
                    })?,
                });
            }
        }
        entries.sort_unstable_by_key(|e| e.index);
        let more = entries.len() > limit;
        entries.truncate(limit);
        Ok(AddressLookup {
            address_key,
            properties,
            entries,
            more,
            indexed_size,
        })
    }
}

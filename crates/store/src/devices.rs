//! What the server keeps about door devices (issue 5): the access events they uploaded, each
//! stored once, on its way into the property's access log, and each device's last status.
//!
//! `devices.sqlite` in the data dir, apart from the control plane's database so that event
//! ingestion (many small writes) never waits behind, or holds up, the control plane's writer.
//!
//! # Exactly once, from device to access log
//!
//! 1. [`DeviceStore::record`]: a verified event is inserted under (device, sequence number),
//!    with the salt of its future access-log commitment drawn there; a second upload of the
//!    same event (the device did not get the acknowledgement) inserts nothing. Only once this
//!    transaction is committed is the event acknowledged to the device, so an acknowledged
//!    event is never lost. Uploads of several devices arriving together share one
//!    transaction (group commit); if one of them fails, the group is rolled back and each is
//!    stored in a transaction of its own, so it fails alone.
//! 2. [`DeviceStore::begin_append`]: before a property's events go into its access log, the
//!    log's size (the floor) and the highest id among them are recorded as its pending
//!    append, in one small transaction.
//! 3. The events are appended ([`crate::AccessLog::append_batch_salted`]), then
//!    [`DeviceStore::mark_logged`] records each one's index and closes the pending append,
//!    in one transaction.
//!
//! After a crash between 2 and 3's record, the pending append says which events may be in
//! the log: their leaves are known from their salts, and [`crate::AccessLog::find_leaves`]
//! from the floor finds those that made it, so none is appended twice (the others are given
//! fresh salts: an opening may have been written with the old one).
//!
//! The signed event is kept in `event_docs`, apart from its `events` row, which the ingester
//! updates: the row stays small, so marking thousands of events rewrites few pages.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use doorman_core::{DeviceId, PropertyId};
use doorman_entries::{SALT_LEN, Salt};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::sqlite::{lock, to_i64, to_u64};

/// The database file in the data dir.
pub const DEVICES_FILE: &str = "devices.sqlite";

const MIGRATIONS: &[&str] = &["
CREATE TABLE events (
    device      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    property    TEXT NOT NULL,
    door        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    allowed     INTEGER NOT NULL,
    reason      TEXT,
    carrier     TEXT,
    unit        TEXT,
    delivery    TEXT,
    pass        TEXT,
    received_ms INTEGER NOT NULL,
    signed      BLOB NOT NULL,
    salt        BLOB,
    log_index   INTEGER
);
-- A rowid table: rows hold the signed event (about 650 bytes), which WITHOUT ROWID b-trees
-- store poorly; (device, seq) is unique through its own index.
CREATE UNIQUE INDEX events_by_device ON events (device, seq);
CREATE INDEX events_unlogged ON events (received_ms) WHERE log_index IS NULL;
CREATE INDEX events_by_property ON events (property, at_ms, device, seq);
CREATE TABLE floors (
    property TEXT PRIMARY KEY,
    floor    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE status (
    device          TEXT PRIMARY KEY,
    property        TEXT NOT NULL,
    door            TEXT NOT NULL,
    version         TEXT NOT NULL,
    active          INTEGER NOT NULL,
    pending         INTEGER NOT NULL,
    clock_offset_ms INTEGER NOT NULL,
    last_seen_ms    INTEGER NOT NULL,
    revocations_issued_ms INTEGER,
    fault           TEXT
) WITHOUT ROWID;
CREATE INDEX status_by_property ON status (property, device);
", "
-- 2: the signed event (about 650 bytes) apart from the row the ingester updates (salt,
-- log_index), which stays about 100 bytes, so marking a round's events rewrites a few pages,
-- not one per five events; an explicit id (stable across VACUUM) orders and names the
-- events; the floor records which events an append is under way for.
CREATE TABLE events_v2 (
    id          INTEGER PRIMARY KEY,
    device      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    property    TEXT NOT NULL,
    door        TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    allowed     INTEGER NOT NULL,
    reason      TEXT,
    carrier     TEXT,
    unit        TEXT,
    delivery    TEXT,
    pass        TEXT,
    received_ms INTEGER NOT NULL,
    salt        BLOB,
    log_index   INTEGER
);
CREATE TABLE event_docs (
    id     INTEGER PRIMARY KEY,
    signed BLOB NOT NULL
);
INSERT INTO events_v2 (id, device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, salt, log_index)
    SELECT rowid, device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, salt, log_index FROM events;
INSERT INTO event_docs (id, signed) SELECT rowid, signed FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE UNIQUE INDEX events_by_device ON events (device, seq);
CREATE INDEX events_unlogged ON events (id) WHERE log_index IS NULL;
CREATE INDEX events_by_property ON events (property, at_ms, device, seq);
ALTER TABLE floors ADD COLUMN upto INTEGER;
-- Under version 1, every salted unlogged event may have been appended since the floor.
UPDATE floors SET upto = (SELECT MAX(id) FROM events
    WHERE events.property = floors.property AND log_index IS NULL AND salt IS NOT NULL);
", "
-- 3: the dashboard's queries on a busy building (docs/benchmarks.md, 1,000,000 events): the
-- time-ordered index also holds what the charts count, so they read no table rows; a filter
-- on a unit, carrier or door walks its own index in list order instead of every event.
DROP INDEX events_by_property;
CREATE INDEX events_by_property ON events (property, at_ms, device, seq, allowed, carrier, reason);
CREATE INDEX events_by_unit ON events (property, unit, at_ms, device, seq);
CREATE INDEX events_by_carrier ON events (property, carrier, at_ms, device, seq);
CREATE INDEX events_by_door ON events (property, door, at_ms, device, seq);
"];

/// A verified access event, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEvent {
    pub device: DeviceId,
    pub seq: u64,
    pub property: PropertyId,
    pub door: String,
    /// The device's clock at the decision.
    pub at: Timestamp,
    pub allowed: bool,
    pub reason: Option<String>,
    pub carrier: Option<String>,
    pub unit: Option<String>,
    pub delivery: Option<String>,
    /// Hex pass id.
    pub pass: Option<String>,
    /// When the server stored it.
    pub received_at: Timestamp,
    /// The device-signed event, byte for byte.
    pub signed: Vec<u8>,
    /// Its index in the property's access log, once appended.
    pub log_index: Option<u64>,
}

/// An event waiting for the access log.
#[derive(Debug, Clone)]
pub struct Unlogged {
    /// Its id in the store (increasing in the order events were stored).
    pub id: u64,
    pub device: DeviceId,
    pub seq: u64,
    pub property: PropertyId,
    pub signed: Vec<u8>,
    /// Drawn when it was stored ([`DeviceStore::record`]); `None` only for events stored by
    /// a version that salted them later (they get one from [`DeviceStore::begin_append`]).
    pub salt: Option<Salt>,
}

/// An append to a property's access log that may have been under way when the server
/// stopped: [`DeviceStore::begin_append`] recorded it, [`DeviceStore::mark_logged`] had not
/// yet closed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingAppend {
    /// The access log's size before the append.
    pub floor: u64,
    /// The highest id among the events appended: an unlogged salted event of the property
    /// with an id up to this one may be in the log from `floor` on.
    pub upto: u64,
}

/// How many events of one kind a property's devices reported in one quarter hour (the
/// dashboard's charts: every time zone's offset is a multiple of 15 minutes, so quarters add
/// up to local hours and days anywhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    /// The quarter hour's start.
    pub quarter: Timestamp,
    pub allowed: bool,
    pub carrier: Option<String>,
    pub reason: Option<String>,
    pub count: u64,
}

/// Which events to list; every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub property: Option<PropertyId>,
    pub door: Option<String>,
    pub carrier: Option<String>,
    pub unit: Option<String>,
    pub allowed: Option<bool>,
    /// `at` within `[from, to)`.
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only events after this one in list order (time, device, seq): a page's cursor.
    pub after: Option<(Timestamp, String, u64)>,
    pub limit: usize,
    /// List newest first (the access-log page); `after` then means older than the cursor.
    pub newest_first: bool,
}

/// A device's last report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    pub device: DeviceId,
    pub property: PropertyId,
    pub door: String,
    pub version: String,
    pub active: bool,
    pub pending: u64,
    /// Device clock minus server clock when the report arrived, in milliseconds.
    pub clock_offset_ms: i64,
    pub last_seen: Timestamp,
    pub revocations_issued_at: Option<Timestamp>,
    pub fault: Option<String>,
}

/// The device database.
#[derive(Debug)]
pub struct DeviceStore {
    conn: Mutex<Connection>,
    /// Read-only connections for the ingester's reads and the dashboard's queries, so they
    /// neither wait for nor hold up the commits (and syncs) of uploads.
    readers: crate::sqlite::Readers,
    group: Mutex<RecordGroup>,
    group_commits: std::sync::atomic::AtomicU64,
}

/// Batches waiting for the next group commit of [`DeviceStore::record`], and the answers of
/// committed ones not yet collected by their callers.
#[derive(Debug, Default)]
struct RecordGroup {
    next: u64,
    waiting: Vec<(u64, Vec<DeviceEvent>)>,
    answers: HashMap<u64, Result<Vec<bool>, StoreError>>,
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn from_ms(v: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(v).map_err(|e| StoreError::Corrupt(format!("time {v}: {e}")))
}

fn device_id(s: String) -> Result<DeviceId, StoreError> {
    DeviceId::new(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn property_id(s: String) -> Result<PropertyId, StoreError> {
    PropertyId::new(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl DeviceStore {
    /// Opens (creating if needed) `devices.sqlite` in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<DeviceStore, StoreError> {
        let path = data_dir.join(DEVICES_FILE);
        let mut conn = crate::sqlite::connect(&path)?;
        crate::sqlite::apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(DeviceStore {
            conn: Mutex::new(conn),
            readers: crate::sqlite::Readers::new(&path),
            group: Mutex::new(RecordGroup::default()),
            group_commits: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Stores verified events (one upload message's) as a unit; returns, for each, whether it
    /// was new (a repeat of a stored (device, seq) inserts nothing and is not compared: the
    /// device signed both, and the first one stored is the one logged). Returns only after
    /// the transaction holding them committed (synchronous=FULL: durable), so the caller may
    /// acknowledge them.
    ///
    /// Group commit: the batch joins a queue, then waits for the connection. Whoever takes
    /// the connection next stores every queued batch in one transaction — one sync for the
    /// messages of several devices — and leaves each caller its answer; a caller that finds
    /// its answer left is done. A batch that fails is set apart (the group is rolled back and
    /// each batch stored on its own), so it fails alone. If the commit itself fails, every
    /// batch of the group gets the error: none was stored, none may be acknowledged.
    pub fn record(&self, events: Vec<DeviceEvent>) -> Result<Vec<bool>, StoreError> {
        let ticket = {
            let mut group = lock(&self.group);
            let ticket = group.next;
            group.next = group.next.wrapping_add(1);
            group.waiting.push((ticket, events));
            ticket
        };
        let mut conn = lock(&self.conn);
        let batches = {
            let mut group = lock(&self.group);
            if let Some(answer) = group.answers.remove(&ticket) {
                return answer;
            }
            std::mem::take(&mut group.waiting)
        };
        if !batches.iter().any(|(t, _)| *t == ticket) {
            // Taken by a commit that ended without answering (it panicked).
            return Err(StoreError::Database(
                "the transaction holding these events did not finish".to_string(),
            ));
        }
        let answers = record_group(&mut conn, &batches);
        self.group_commits
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut mine = Err(StoreError::Database("no answer".to_string()));
        let mut group = lock(&self.group);
        for ((t, _), answer) in batches.iter().zip(answers) {
            if *t == ticket {
                mine = answer;
            } else {
                group.answers.insert(*t, answer);
            }
        }
        mine
    }

    /// How many transactions [`DeviceStore::record`] committed (or tried to) so far: fewer
    /// than its calls when group commit joined them.
    pub fn record_commits(&self) -> u64 {
        self.group_commits
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Up to `limit` events not yet in their access log, in the order they were stored.
    pub fn unlogged(&self, limit: usize) -> Result<Vec<Unlogged>, StoreError> {
        self.readers.read(|conn| {
            let mut q = conn.prepare_cached(
                "SELECT e.id, e.device, e.seq, e.property, d.signed, e.salt
             FROM events e JOIN event_docs d ON d.id = e.id
             WHERE e.log_index IS NULL ORDER BY e.id LIMIT ?1",
            )?;
            let rows = q.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, Option<Vec<u8>>>(5)?,
                ))
            })?;
            let mut out = Vec::with_capacity(limit.min(8192));
            for row in rows {
                let (id, device, seq, property, signed, salt) = row?;
                out.push(Unlogged {
                    id: to_u64(id, "event id")?,
                    device: device_id(device)?,
                    seq: to_u64(seq, "seq")?,
                    property: property_id(property)?,
                    signed,
                    salt: salt
                        .map(|s| Salt::from_slice(&s))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
            }
            Ok(out)
        })
    }

    /// The append of `property`'s events that [`DeviceStore::begin_append`] recorded and
    /// [`DeviceStore::mark_logged`] has not closed, if any.
    pub fn pending_append(
        &self,
        property: &PropertyId,
    ) -> Result<Option<PendingAppend>, StoreError> {
        let conn = lock(&self.conn);
        let row = conn
            .query_row(
                "SELECT floor, upto FROM floors WHERE property = ?1",
                [property.as_str()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)),
            )
            .optional()?;
        match row {
            Some((floor, Some(upto))) => Ok(Some(PendingAppend {
                floor: to_u64(floor, "floor")?,
                upto: to_u64(upto, "upto")?,
            })),
            _ => Ok(None),
        }
    }

    /// Before `property`'s events up to id `upto` are appended to its access log, whose size
    /// is `floor`: records the append as pending and gives the listed events (by id) their
    /// new salts, in one transaction.
    pub fn begin_append(
        &self,
        property: &PropertyId,
        floor: u64,
        upto: u64,
        salts: &[(u64, &Salt)],
    ) -> Result<(), StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut set = tx.prepare_cached(
                "UPDATE events SET salt = ?2 WHERE id = ?1 AND log_index IS NULL",
            )?;
            for (id, salt) in salts {
                set.execute(params![to_i64(*id)?, salt.as_bytes().as_slice()])?;
            }
            tx.execute(
                "INSERT INTO floors (property, floor, upto) VALUES (?1, ?2, ?3)
                 ON CONFLICT (property) DO UPDATE SET floor = excluded.floor, upto = excluded.upto",
                params![property.as_str(), to_i64(floor)?, to_i64(upto)?],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records where events (by id) landed in `property`'s access log; with `close`, also
    /// that its pending append is done, in the same transaction.
    pub fn mark_logged(
        &self,
        property: &PropertyId,
        marks: &[(u64, u64)],
        close: bool,
    ) -> Result<(), StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut set = tx.prepare_cached("UPDATE events SET log_index = ?2 WHERE id = ?1")?;
            for (id, index) in marks {
                set.execute(params![to_i64(*id)?, to_i64(*index)?])?;
            }
            if close {
                tx.execute(
                    "UPDATE floors SET upto = NULL WHERE property = ?1",
                    [property.as_str()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes the logged events received before `older_than` (the retention period: their
    /// openings in the access log are redacted by the same rule). Returns how many.
    pub fn redact(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM event_docs WHERE id IN
               (SELECT id FROM events WHERE log_index IS NOT NULL AND received_ms < ?1)",
            [ms(older_than)],
        )?;
        let n = tx.execute(
            "DELETE FROM events WHERE log_index IS NOT NULL AND received_ms < ?1",
            [ms(older_than)],
        )?;
        tx.commit()?;
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// Whether `device`'s event `seq` is stored (the tests' view; the server lists events).
    #[cfg(test)]
    pub fn stored(&self, device: &DeviceId, seq: u64) -> Result<bool, StoreError> {
        let conn = lock(&self.conn);
        Ok(conn
            .query_row(
                "SELECT 1 FROM events WHERE device = ?1 AND seq = ?2",
                params![device.as_str(), to_i64(seq)?],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// A property's events with `at` in `[from, to)`, counted per quarter hour, decision,
    /// carrier and reason.
    pub fn event_counts(
        &self,
        property: &PropertyId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<EventCount>, StoreError> {
        const QUARTER_MS: i64 = 15 * 60 * 1000;
        self.readers.read(|conn| {
            let mut q = conn.prepare_cached(
                "SELECT at_ms / ?4, allowed, carrier, reason, COUNT(*) FROM events \
             WHERE property = ?1 AND at_ms >= ?2 AND at_ms < ?3 \
             GROUP BY 1, 2, 3, 4",
            )?;
            let rows = q.query_map(
                params![property.as_str(), ms(from), ms(to), QUARTER_MS],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, bool>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                },
            )?;
            let mut out = Vec::new();
            for row in rows {
                let (q, allowed, carrier, reason, n) = row?;
                out.push(EventCount {
                    quarter: Timestamp::from_millisecond(q.saturating_mul(QUARTER_MS))
                        .map_err(|e| StoreError::Corrupt(format!("an event time: {e}")))?,
                    allowed,
                    carrier,
                    reason,
                    count: u64::try_from(n).unwrap_or(0),
                });
            }
            Ok(out)
        })
    }

    /// Events matching `filter`, in (time, device, seq) order.
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<DeviceEvent>, StoreError> {
        let mut sql = String::from(
            "SELECT device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, d.signed, log_index FROM events JOIN event_docs d USING (id) WHERE 1 = 1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut add = |clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
        };
        use rusqlite::types::Value;
        if let Some(p) = &filter.property {
            add(" AND property = ?", Value::Text(p.to_string()));
        }
        if let Some(d) = &filter.door {
            add(" AND door = ?", Value::Text(d.clone()));
        }
        if let Some(c) = &filter.carrier {
            add(" AND carrier = ?", Value::Text(c.clone()));
        }
        if let Some(u) = &filter.unit {
            add(" AND unit = ?", Value::Text(u.clone()));
        }
        if let Some(a) = filter.allowed {
            add(" AND allowed = ?", Value::Integer(i64::from(a)));
        }
        if let Some(f) = filter.from {
            add(" AND at_ms >= ?", Value::Integer(ms(f)));
        }
        if let Some(t) = filter.to {
            add(" AND at_ms < ?", Value::Integer(ms(t)));
        }
        let (past, order) = if filter.newest_first {
            ("<", " ORDER BY at_ms DESC, device DESC, seq DESC LIMIT ?")
        } else {
            (">", " ORDER BY at_ms, device, seq LIMIT ?")
        };
        if let Some((at, device, seq)) = &filter.after {
            add(
                &format!(" AND (at_ms, device, seq) {past} (?"),
                Value::Integer(ms(*at)),
            );
            add(", ?", Value::Text(device.clone()));
            add(", ?)", Value::Integer(to_i64(*seq)?));
        }
        add(
            order,
            Value::Integer(i64::try_from(filter.limit).unwrap_or(i64::MAX)),
        );
        self.readers.read(|conn| {
            let mut q = conn.prepare(&sql)?;
            let rows = q.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    (
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, bool>(5)?,
                        r.get::<_, Option<String>>(6)?,
                    ),
                    (
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                        r.get::<_, Option<String>>(10)?,
                        r.get::<_, i64>(11)?,
                        r.get::<_, Vec<u8>>(12)?,
                        r.get::<_, Option<i64>>(13)?,
                    ),
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (
                    (device, seq, property, door, at, allowed, reason),
                    (carrier, unit, delivery, pass, received, signed, log_index),
                ) = row?;
                out.push(DeviceEvent {
                    device: device_id(device)?,
                    seq: to_u64(seq, "seq")?,
                    property: property_id(property)?,
                    door,
                    at: from_ms(at)?,
                    allowed,
                    reason,
                    carrier,
                    unit,
                    delivery,
                    pass,
                    received_at: from_ms(received)?,
                    signed,
                    log_index: log_index.map(|i| to_u64(i, "log index")).transpose()?,
                });
            }
            Ok(out)
        })
    }

    /// Keeps a device's latest report.
    pub fn put_status(&self, s: &DeviceStatus) -> Result<(), StoreError> {
        let conn = lock(&self.conn);
        conn.execute(
            "INSERT INTO status (device, property, door, version, active, pending, clock_offset_ms, last_seen_ms, revocations_issued_ms, fault)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (device) DO UPDATE SET property = excluded.property, door = excluded.door,
               version = excluded.version, active = excluded.active, pending = excluded.pending,
               clock_offset_ms = excluded.clock_offset_ms, last_seen_ms = excluded.last_seen_ms,
               revocations_issued_ms = excluded.revocations_issued_ms, fault = excluded.fault",
            params![
                s.device.as_str(),
                s.property.as_str(),
                s.door,
                s.version,
                s.active,
                to_i64(s.pending)?,
                s.clock_offset_ms,
                ms(s.last_seen),
                s.revocations_issued_at.map(ms),
                s.fault,
            ],
        )?;
        Ok(())
    }

    /// The last reports of `property`'s devices, by device id.
    pub fn statuses(&self, property: &PropertyId) -> Result<Vec<DeviceStatus>, StoreError> {
        self.readers.read(|conn| {
        let mut q = conn.prepare_cached(
            "SELECT device, property, door, version, active, pending, clock_offset_ms, last_seen_ms, revocations_issued_ms, fault
             FROM status WHERE property = ?1 ORDER BY device",
        )?;
        let rows = q.query_map([property.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, bool>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, Option<i64>>(8)?,
                r.get::<_, Option<String>>(9)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, property, door, version, active, pending, offset, seen, revs, fault) =
                row?;
            out.push(DeviceStatus {
                device: device_id(device)?,
                property: property_id(property)?,
                door,
                version,
                active,
                pending: to_u64(pending, "pending")?,
                clock_offset_ms: offset,
                last_seen: from_ms(seen)?,
                revocations_issued_at: revs.map(from_ms).transpose()?,
                fault,
            });
        }
        Ok(out)
        })
    }
}

/// One group commit of [`DeviceStore::record`]: every batch in one transaction; an answer
/// per batch, in order. If a batch fails, the transaction is rolled back and each batch is
/// stored in a transaction of its own, so the failing one fails alone. (Not savepoints: they
/// would copy each page touched to a statement journal, for a failure that in practice never
/// comes — an insert that ignores repeats fails only when the database does.)
fn record_group(
    conn: &mut Connection,
    batches: &[(u64, Vec<DeviceEvent>)],
) -> Vec<Result<Vec<bool>, StoreError>> {
    let all = |e: StoreError| batches.iter().map(|_| Err(e.clone())).collect();
    let together = (|| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut answers = Vec::with_capacity(batches.len());
        for (_, events) in batches {
            match insert_events(&tx, events) {
                Ok(fresh) => answers.push(fresh),
                // Dropping the transaction rolls it back.
                Err(e) => return Ok(Err(e)),
            }
        }
        tx.commit()?;
        Ok::<_, StoreError>(Ok(answers))
    })();
    match together {
        Ok(Ok(answers)) => answers.into_iter().map(Ok).collect(),
        Err(e) => all(e),
        Ok(Err(e)) if batches.len() == 1 => vec![Err(e)],
        Ok(Err(_)) => batches.iter().map(|(_, b)| record_alone(conn, b)).collect(),
    }
}

/// One batch in a transaction of its own.
fn record_alone(conn: &mut Connection, events: &[DeviceEvent]) -> Result<Vec<bool>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let fresh = insert_events(&tx, events)?;
    tx.commit()?;
    Ok(fresh)
}

/// Inserts one batch's events, each with a fresh salt for its access-log commitment;
/// whether each was new.
fn insert_events(conn: &Connection, events: &[DeviceEvent]) -> Result<Vec<bool>, StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO events (device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, salt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    let mut doc = conn.prepare_cached("INSERT INTO event_docs (id, signed) VALUES (?1, ?2)")?;
    // One draw from the OS for the whole batch.
    let mut salts = vec![0u8; events.len().saturating_mul(SALT_LEN)];
    rand::RngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut salts)
        .map_err(|e| StoreError::Database(format!("the RNG failed to draw salts: {e}")))?;
    let mut out = Vec::with_capacity(events.len());
    for (e, salt) in events.iter().zip(salts.chunks_exact(SALT_LEN)) {
        let n = insert.execute(params![
            e.device.as_str(),
            to_i64(e.seq)?,
            e.property.as_str(),
            e.door,
            ms(e.at),
            e.allowed,
            e.reason,
            e.carrier,
            e.unit,
            e.delivery,
            e.pass,
            ms(e.received_at),
            salt,
        ])?;
        if n == 1 {
            doc.execute(params![conn.last_insert_rowid(), e.signed])?;
        }
        out.push(n == 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(device: &str, seq: u64, at: i64) -> DeviceEvent {
        DeviceEvent {
            device: DeviceId::new(device).unwrap(),
            seq,
            property: PropertyId::new("prop_1").unwrap(),
            door: "street".into(),
            at: Timestamp::from_second(at).unwrap(),
            allowed: seq.is_multiple_of(2),
            reason: (!seq.is_multiple_of(2)).then(|| "expired".to_string()),
            carrier: Some("org_c".into()),
            unit: Some("4B".into()),
            delivery: None,
            pass: None,
            received_at: Timestamp::from_second(at + 1).unwrap(),
            signed: format!("{device}/{seq}").into_bytes(),
            log_index: None,
        }
    }

    #[test]
    fn an_event_is_stored_once_and_listed_in_order_with_filters_and_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let s = DeviceStore::open(dir.path()).unwrap();
        let batch: Vec<_> = (1..=5)
            .map(|i| event("dev_1", i, 1000 + i as i64))
            .collect();
        assert_eq!(s.record(batch.clone()).unwrap(), vec![true; 5]);
        // The device did not get the ack and sends three of them again, plus one new.
        let again = vec![batch[2].clone(), batch[3].clone(), event("dev_1", 6, 1006)];
        assert_eq!(s.record(again).unwrap(), vec![false, false, true]);
        let all = s
            .events(&EventFilter {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            all.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6]
        );
        let denied = s
            .events(&EventFilter {
                allowed: Some(false),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(denied.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 3, 5]);
        let page = s
            .events(&EventFilter {
                after: Some((all[1].at, "dev_1".into(), 2)),
                limit: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4]);
        let older = s
            .events(&EventFilter {
                after: Some((all[4].at, "dev_1".into(), 5)),
                limit: 3,
                newest_first: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(older.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 3, 2]);
        let window = s
            .events(&EventFilter {
                from: Some(Timestamp::from_second(1002).unwrap()),
                to: Some(Timestamp::from_second(1004).unwrap()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(window.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        // Counted per quarter hour and decision (seconds 1001-1006 share one quarter).
        let p = PropertyId::new("prop_1").unwrap();
        let counts = s
            .event_counts(
                &p,
                Timestamp::from_second(0).unwrap(),
                Timestamp::from_second(2000).unwrap(),
            )
            .unwrap();
        let total: u64 = counts.iter().map(|c| c.count).sum();
        assert_eq!(total, 6);
        assert!(
            counts
                .iter()
                .all(|c| c.quarter == Timestamp::from_second(900).unwrap())
        );
        let denied: u64 = counts.iter().filter(|c| !c.allowed).map(|c| c.count).sum();
        assert_eq!(denied, 3);
        let other = PropertyId::new("prop_2").unwrap();
        let none = s
            .event_counts(
                &other,
                Timestamp::from_second(0).unwrap(),
                Timestamp::from_second(2000).unwrap(),
            )
            .unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn salts_pending_appends_and_log_indexes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = PropertyId::new("prop_1").unwrap();
        let d = DeviceId::new("dev_1").unwrap();
        let first_salt;
        {
            let s = DeviceStore::open(dir.path()).unwrap();
            s.record(vec![event("dev_1", 1, 10), event("dev_1", 2, 11)])
                .unwrap();
            let waiting = s.unlogged(10).unwrap();
            assert_eq!(waiting.len(), 2);
            // Each stored event has its own salt from the start.
            assert!(waiting.iter().all(|e| e.salt.is_some()));
            assert_ne!(waiting[0].salt, waiting[1].salt);
            first_salt = waiting[0].salt.clone();
            assert_eq!(s.pending_append(&p).unwrap(), None);
            let fresh = Salt::from_bytes([7; 32]);
            s.begin_append(&p, 5, waiting[1].id, &[(waiting[1].id, &fresh)])
                .unwrap();
            s.mark_logged(&p, &[(waiting[1].id, 9)], false).unwrap();
        }
        let s = DeviceStore::open(dir.path()).unwrap();
        // Not closed: still pending.
        let pending = s.pending_append(&p).unwrap().unwrap();
        assert_eq!(pending.floor, 5);
        let waiting = s.unlogged(10).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].seq, 1);
        assert_eq!(waiting[0].salt, first_salt);
        assert!(pending.upto > waiting[0].id);
        s.mark_logged(&p, &[(waiting[0].id, 10)], true).unwrap();
        assert_eq!(s.pending_append(&p).unwrap(), None);
        assert!(s.unlogged(10).unwrap().is_empty());
        let listed = s
            .events(&EventFilter {
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|e| (e.seq, e.log_index))
                .collect::<Vec<_>>(),
            [(1, Some(10)), (2, Some(9))]
        );
        assert_eq!(listed[0].signed, b"dev_1/1");
        assert!(s.stored(&d, 2).unwrap());
        assert!(!s.stored(&d, 3).unwrap());
        // Redaction deletes logged events only (row and signed event).
        s.record(vec![event("dev_1", 3, 10)]).unwrap();
        assert_eq!(s.redact(Timestamp::from_second(100).unwrap()).unwrap(), 2);
        assert!(!s.stored(&d, 2).unwrap());
        assert!(s.stored(&d, 3).unwrap());
        let conn = lock(&s.conn);
        let docs: i64 = conn
            .query_row("SELECT COUNT(*) FROM event_docs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(docs, 1);
    }

    /// Version 1's database: the events move to the new layout, and salted unlogged events
    /// (which a version-1 round may have appended) become the property's pending append.
    #[test]
    fn a_version_1_database_is_migrated_with_its_pending_events() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut conn = crate::sqlite::connect(&dir.path().join(DEVICES_FILE)).unwrap();
            crate::sqlite::apply_migrations(&mut conn, &MIGRATIONS[..1]).unwrap();
            for (seq, salt, index) in [
                (1, Some(vec![1u8; 32]), Some(0)),
                (2, Some(vec![2u8; 32]), None),
                (3, None, None),
            ] {
                conn.execute(
                    "INSERT INTO events (device, seq, property, door, at_ms, allowed, received_ms, signed, salt, log_index)
                     VALUES ('dev_1', ?1, 'prop_1', 'street', 1000, 1, 2000, ?2, ?3, ?4)",
                    params![seq, format!("signed {seq}").into_bytes(), salt, index],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT INTO floors (property, floor) VALUES ('prop_1', 1)",
                [],
            )
            .unwrap();
        }
        let s = DeviceStore::open(dir.path()).unwrap();
        let p = PropertyId::new("prop_1").unwrap();
        let waiting = s.unlogged(10).unwrap();
        assert_eq!(waiting.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(waiting[0].salt, Some(Salt::from_bytes([2; 32])));
        assert_eq!(waiting[0].signed, b"signed 2");
        assert_eq!(waiting[1].salt, None);
        assert_eq!(
            s.pending_append(&p).unwrap(),
            Some(PendingAppend {
                floor: 1,
                upto: waiting[0].id
            })
        );
    }

    /// Group commit: batches recorded at once from many threads; each caller returns only
    /// once its batch is committed (a second connection sees it), and every batch is stored
    /// once.
    #[test]
    fn concurrent_batches_are_each_committed_before_their_caller_returns() {
        let dir = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(DeviceStore::open(dir.path()).unwrap());
        std::thread::scope(|scope| {
            for t in 0..8u64 {
                let s = std::sync::Arc::clone(&s);
                let path = dir.path().to_path_buf();
                scope.spawn(move || {
                    let other = DeviceStore::open(&path).unwrap();
                    for m in 0..10u64 {
                        let device = format!("dev_{t}");
                        let batch: Vec<_> =
                            (1..=5).map(|i| event(&device, m * 5 + i, 1000)).collect();
                        assert_eq!(s.record(batch).unwrap(), vec![true; 5]);
                        // Committed: visible to another connection as soon as record returned.
                        let d = DeviceId::new(device.as_str()).unwrap();
                        assert!(other.stored(&d, m * 5 + 5).unwrap());
                    }
                });
            }
        });
        assert!(s.record_commits() <= 80);
        assert_eq!(s.unlogged(1000).unwrap().len(), 400);
    }

    /// A batch that fails inside a group commit is rolled back alone: the batches committed
    /// with it are stored (and were answered as stored), nothing of the failed one is.
    #[test]
    fn a_failing_batch_in_a_group_loses_nothing_of_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let s = DeviceStore::open(dir.path()).unwrap();
        s.record(vec![event("dev_0", 1, 10)]).unwrap();
        let good = vec![event("dev_1", 1, 10), event("dev_1", 2, 10)];
        // A sequence number SQLite cannot hold: fails after its first event was inserted.
        let bad = vec![event("dev_2", 1, 10), event("dev_2", u64::MAX, 10)];
        let also_good = vec![event("dev_3", 1, 10)];
        let answers = {
            let mut conn = lock(&s.conn);
            record_group(&mut conn, &[(0, good), (1, bad), (2, also_good)])
        };
        assert_eq!(answers.len(), 3);
        assert_eq!(answers[0].as_ref().unwrap(), &vec![true, true]);
        assert!(answers[1].is_err());
        assert_eq!(answers[2].as_ref().unwrap(), &vec![true]);
        let d = |n: &str| DeviceId::new(n).unwrap();
        assert!(s.stored(&d("dev_0"), 1).unwrap());
        assert!(s.stored(&d("dev_1"), 2).unwrap());
        assert!(!s.stored(&d("dev_2"), 1).unwrap(), "rolled back alone");
        assert!(s.stored(&d("dev_3"), 1).unwrap());
        // The failed batch is simply sent again (without its bad event) and stored.
        assert_eq!(s.record(vec![event("dev_2", 1, 10)]).unwrap(), vec![true]);
    }
}

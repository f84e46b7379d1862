//! What the server keeps about door devices (issue 5): the access events they uploaded, each
//! stored once, on its way into the property's access log, and each device's last status.
//!
//! `devices.sqlite` in the data dir, apart from the control plane's database so that event
//! ingestion (many small writes) never waits behind, or holds up, the control plane's writer.
//!
//! # Exactly once, from device to access log
//!
//! 1. [`DeviceStore::record`]: a verified event is inserted under its primary key (device,
//!    sequence number); a second upload of the same event (the device did not get the
//!    acknowledgement) inserts nothing. Only once this transaction is committed is the event
//!    acknowledged to the device, so an acknowledged event is never lost.
//! 2. [`DeviceStore::assign_salts`]: before its events go into the access log, each gets its
//!    salt, and the access log's size before the append is kept as the property's floor, in
//!    one transaction.
//! 3. The events are appended ([`crate::AccessLog::append_batch_salted`]), then
//!    [`DeviceStore::mark_logged`] records each one's index.
//!
//! After a crash between 3's append and its record, the events still have their salts: their
//! leaves are known, and [`crate::AccessLog::find_leaves`] from the floor finds those that made
//! it, so none is appended twice.

use std::path::Path;
use std::sync::Mutex;

use doorman_core::{DeviceId, PropertyId};
use doorman_entries::Salt;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

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
    pub device: DeviceId,
    pub seq: u64,
    pub property: PropertyId,
    pub signed: Vec<u8>,
    /// Set once [`DeviceStore::assign_salts`] ran for it.
    pub salt: Option<Salt>,
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
        let mut conn = crate::sqlite::connect(&data_dir.join(DEVICES_FILE))?;
        crate::sqlite::apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(DeviceStore {
            conn: Mutex::new(conn),
        })
    }

    /// Stores verified events in one transaction; returns, for each, whether it was new (a
    /// repeat of a stored (device, seq) inserts nothing and is not compared: the device signed
    /// both, and the first one stored is the one logged).
    pub fn record(&self, events: &[DeviceEvent]) -> Result<Vec<bool>, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        let mut out = Vec::with_capacity(events.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO events (device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, signed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?;
            for e in events {
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
                    e.signed,
                ])?;
                out.push(n == 1);
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Up to `limit` events not yet in their access log, oldest received first.
    pub fn unlogged(&self, limit: usize) -> Result<Vec<Unlogged>, StoreError> {
        let conn = lock(&self.conn);
        let mut q = conn.prepare_cached(
            "SELECT device, seq, property, signed, salt FROM events WHERE log_index IS NULL
             ORDER BY received_ms, rowid LIMIT ?1",
        )?;
        let rows = q.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Vec<u8>>(3)?,
                r.get::<_, Option<Vec<u8>>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (device, seq, property, signed, salt) = row?;
            out.push(Unlogged {
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
    }

    /// The access-log size recorded before the last append of `property`'s events.
    pub fn floor(&self, property: &PropertyId) -> Result<Option<u64>, StoreError> {
        let conn = lock(&self.conn);
        conn.query_row(
            "SELECT floor FROM floors WHERE property = ?1",
            [property.as_str()],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .map(|v| to_u64(v, "floor"))
        .transpose()
    }

    /// Gives these events of `property` their salts and records `floor`, the access log's size
    /// before they are appended, in one transaction.
    pub fn assign_salts(
        &self,
        property: &PropertyId,
        floor: u64,
        salts: &[(&DeviceId, u64, &Salt)],
    ) -> Result<(), StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        {
            let mut set = tx.prepare_cached(
                "UPDATE events SET salt = ?3 WHERE device = ?1 AND seq = ?2 AND log_index IS NULL",
            )?;
            for (device, seq, salt) in salts {
                set.execute(params![
                    device.as_str(),
                    to_i64(*seq)?,
                    salt.as_bytes().as_slice()
                ])?;
            }
            tx.execute(
                "INSERT INTO floors (property, floor) VALUES (?1, ?2)
                 ON CONFLICT (property) DO UPDATE SET floor = excluded.floor",
                params![property.as_str(), to_i64(floor)?],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Records where events landed in their access log.
    pub fn mark_logged(&self, marks: &[(&DeviceId, u64, u64)]) -> Result<(), StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction()?;
        {
            let mut set = tx.prepare_cached(
                "UPDATE events SET log_index = ?3 WHERE device = ?1 AND seq = ?2",
            )?;
            for (device, seq, index) in marks {
                set.execute(params![device.as_str(), to_i64(*seq)?, to_i64(*index)?])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes the logged events received before `older_than` (the retention period: their
    /// openings in the access log are redacted by the same rule). Returns how many.
    pub fn redact(&self, older_than: Timestamp) -> Result<u64, StoreError> {
        let conn = lock(&self.conn);
        let n = conn.execute(
            "DELETE FROM events WHERE log_index IS NOT NULL AND received_ms < ?1",
            [ms(older_than)],
        )?;
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

    /// Events matching `filter`, in (time, device, seq) order.
    pub fn events(&self, filter: &EventFilter) -> Result<Vec<DeviceEvent>, StoreError> {
        let mut sql = String::from(
            "SELECT device, seq, property, door, at_ms, allowed, reason, carrier, unit, delivery, pass, received_ms, signed, log_index FROM events WHERE 1 = 1",
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
        if let Some((at, device, seq)) = &filter.after {
            add(" AND (at_ms, device, seq) > (?", Value::Integer(ms(*at)));
            add(", ?", Value::Text(device.clone()));
            add(", ?)", Value::Integer(to_i64(*seq)?));
        }
        add(
            " ORDER BY at_ms, device, seq LIMIT ?",
            Value::Integer(i64::try_from(filter.limit).unwrap_or(i64::MAX)),
        );
        let conn = lock(&self.conn);
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
        let conn = lock(&self.conn);
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
    }
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
        assert_eq!(s.record(&batch).unwrap(), vec![true; 5]);
        // The device did not get the ack and sends three of them again, plus one new.
        let again = vec![batch[2].clone(), batch[3].clone(), event("dev_1", 6, 1006)];
        assert_eq!(s.record(&again).unwrap(), vec![false, false, true]);
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
        let window = s
            .events(&EventFilter {
                from: Some(Timestamp::from_second(1002).unwrap()),
                to: Some(Timestamp::from_second(1004).unwrap()),
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(window.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn salts_and_log_indexes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let p = PropertyId::new("prop_1").unwrap();
        let d = DeviceId::new("dev_1").unwrap();
        {
            let s = DeviceStore::open(dir.path()).unwrap();
            s.record(&[event("dev_1", 1, 10), event("dev_1", 2, 11)])
                .unwrap();
            let salt = Salt::from_bytes([7; 32]);
            s.assign_salts(&p, 5, &[(&d, 1, &salt)]).unwrap();
            s.mark_logged(&[(&d, 2, 9)]).unwrap();
        }
        let s = DeviceStore::open(dir.path()).unwrap();
        assert_eq!(s.floor(&p).unwrap(), Some(5));
        let waiting = s.unlogged(10).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].seq, 1);
        assert_eq!(waiting[0].salt, Some(Salt::from_bytes([7; 32])));
        assert!(s.stored(&d, 2).unwrap());
        assert!(!s.stored(&d, 3).unwrap());
        // Redaction deletes logged events only.
        assert_eq!(s.redact(Timestamp::from_second(100).unwrap()).unwrap(), 1);
        assert!(!s.stored(&d, 2).unwrap());
        assert!(s.stored(&d, 1).unwrap());
    }
}

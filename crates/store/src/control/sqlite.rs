//! The control plane on SQLite: one file `<data dir>/doorman.sqlite` (WAL,
//! `synchronous=FULL`, the same connection settings and migration rules as the log's).
//!
//! One write connection behind a mutex (every change is one `IMMEDIATE` transaction on it)
//! and a few read connections beside it. Minted passes are group-committed: passes recorded
//! at the same time share one transaction and one sync (`record_pass`). Times are
//! milliseconds since the Unix epoch; lists (an authorization's doors, the disabled doors and
//! carriers) are JSON arrays; absent optional ids in unique keys are stored as `''`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use doorman_core::{
    CarrierId, DeliveryRef, DeviceId, DoorId, OrgId, OrgKind, PropertyId, RequestId, Role,
    ServiceSwitch, UnitId,
};
use doorman_entries::Custody;
use jiff::Timestamp;
use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior, params,
};

use super::{
    ApiToken, Authorization, AuthorizationFilter, CarrierKey, Consent, ControlError, Decision,
    DocumentKind, Door, Driver, Evidence, Installation, InstallationFilter, InstallationStatus,
    Invitation, LogTarget, LoginThrottle, MAX_EVIDENCE_PER_REQUEST, Member, Org, OutboxEntry,
    OutboxRecord, Pass, Property, PropertyStatus, Result, Revocation, RevokedKind, Service,
    Session, SignedDocument, Store, Unit, User,
};
use crate::sqlite::{apply_migrations, connect, lock};

/// The control plane's database file in the data dir.
pub const CONTROL_DB_FILE: &str = "doorman.sqlite";

/// Read connections kept open at most.
const MAX_IDLE_READERS: usize = 4;

/// The schema, one step per version (never edited once released; a change is a new step).
const MIGRATIONS: &[&str] = &[
    // 1: the control plane of issue 4.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_ms    INTEGER NOT NULL
    );
    CREATE TABLE orgs (
        id             TEXT PRIMARY KEY,
        kind           TEXT NOT NULL,
        name           TEXT NOT NULL,
        created_ms     INTEGER NOT NULL,
        carrier_key    TEXT,
        carrier_sealed BLOB,
        carrier_key_ms INTEGER
    );
    CREATE TABLE members (
        user_id     TEXT NOT NULL REFERENCES users(id),
        org_id      TEXT NOT NULL REFERENCES orgs(id),
        role        TEXT NOT NULL,
        property_id TEXT NOT NULL DEFAULT '',
        unit_id     TEXT NOT NULL DEFAULT '',
        created_ms  INTEGER NOT NULL,
        PRIMARY KEY (user_id, org_id, role, property_id, unit_id)
    );
    CREATE INDEX members_by_org ON members (org_id);
    CREATE INDEX members_by_property ON members (property_id) WHERE property_id != '';
    CREATE TABLE invitations (
        id          TEXT PRIMARY KEY,
        org_id      TEXT NOT NULL REFERENCES orgs(id),
        role        TEXT NOT NULL,
        email       TEXT NOT NULL,
        property_id TEXT NOT NULL DEFAULT '',
        unit_id     TEXT NOT NULL DEFAULT '',
        code_hash   BLOB NOT NULL UNIQUE,
        created_by  TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        expires_ms  INTEGER NOT NULL,
        accepted_ms INTEGER
    );
    CREATE INDEX invitations_by_org ON invitations (org_id);
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        user_id    TEXT NOT NULL REFERENCES users(id),
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE api_tokens (
        id           TEXT PRIMARY KEY,
        token_hash   BLOB NOT NULL UNIQUE,
        org_id       TEXT NOT NULL REFERENCES orgs(id),
        role         TEXT NOT NULL,
        name         TEXT NOT NULL,
        created_by   TEXT NOT NULL,
        created_ms   INTEGER NOT NULL,
        expires_ms   INTEGER,
        revoked_ms   INTEGER,
        last_used_ms INTEGER
    );
    CREATE INDEX api_tokens_by_org ON api_tokens (org_id);
    CREATE TABLE login_throttle (
        email           TEXT PRIMARY KEY,
        failures        INTEGER NOT NULL,
        last_failure_ms INTEGER,
        locked_until_ms INTEGER
    );
    CREATE TABLE properties (
        id                 TEXT PRIMARY KEY,
        org_id             TEXT NOT NULL REFERENCES orgs(id),
        name               TEXT NOT NULL,
        address            TEXT NOT NULL,
        address_key        TEXT NOT NULL,
        time_zone          TEXT NOT NULL,
        custody            TEXT NOT NULL,
        public_key         TEXT NOT NULL,
        sealed_key         BLOB,
        status             TEXT NOT NULL,
        claimed_by         TEXT NOT NULL,
        created_ms         INTEGER NOT NULL,
        decided_by         TEXT,
        decided_org        TEXT,
        decision_note      TEXT,
        decided_ms         INTEGER,
        registered_outbox  INTEGER,
        revocation_seq     INTEGER NOT NULL DEFAULT 0,
        service_seq        INTEGER NOT NULL DEFAULT 0,
        property_disabled  INTEGER NOT NULL DEFAULT 0,
        disabled_doors     TEXT NOT NULL DEFAULT '[]',
        disabled_carriers  TEXT NOT NULL DEFAULT '[]',
        service_changed_ms INTEGER,
        service_changed_by TEXT
    );
    CREATE INDEX properties_by_org ON properties (org_id);
    CREATE INDEX properties_by_address ON properties (address_key);
    CREATE TABLE doors (
        property_id TEXT NOT NULL REFERENCES properties(id),
        door_id     TEXT NOT NULL,
        name        TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        PRIMARY KEY (property_id, door_id)
    );
    CREATE TABLE units (
        property_id TEXT NOT NULL REFERENCES properties(id),
        unit_id     TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        PRIMARY KEY (property_id, unit_id)
    );
    CREATE TABLE installations (
        id               TEXT PRIMARY KEY,
        property_id      TEXT NOT NULL REFERENCES properties(id),
        door_id          TEXT NOT NULL,
        installer_org    TEXT NOT NULL REFERENCES orgs(id),
        filed_by         TEXT NOT NULL,
        device_id        TEXT NOT NULL,
        device_key       TEXT NOT NULL,
        notes            TEXT NOT NULL,
        status           TEXT NOT NULL,
        created_ms       INTEGER NOT NULL,
        requested_outbox INTEGER NOT NULL,
        decided_by       TEXT,
        decided_org      TEXT,
        decision_note    TEXT,
        decided_ms       INTEGER,
        consent          TEXT,
        consent_revocation BLOB,
        consent_nb_ms    INTEGER,
        consent_na_ms    INTEGER,
        consent_outbox   INTEGER,
        revoked_by       TEXT,
        revoked_org      TEXT,
        revoke_reason    TEXT,
        revoked_ms       INTEGER,
        revoked_outbox   INTEGER
    );
    CREATE INDEX installations_by_property ON installations (property_id);
    CREATE INDEX installations_by_installer ON installations (installer_org);
    CREATE TABLE evidence (
        installation_id TEXT NOT NULL REFERENCES installations(id),
        number          INTEGER NOT NULL,
        content_type    TEXT NOT NULL,
        size            INTEGER NOT NULL,
        sha256          BLOB NOT NULL,
        uploaded_by     TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        data            BLOB NOT NULL,
        PRIMARY KEY (installation_id, number)
    );
    CREATE TABLE authorizations (
        id               TEXT PRIMARY KEY,
        property_id      TEXT NOT NULL REFERENCES properties(id),
        carrier_id       TEXT NOT NULL,
        carrier_key      TEXT NOT NULL,
        doors            TEXT NOT NULL,
        schedule         TEXT NOT NULL,
        time_zone        TEXT NOT NULL,
        daily_cap        INTEGER,
        max_pass_seconds INTEGER NOT NULL,
        not_before_ms    INTEGER NOT NULL,
        not_after_ms     INTEGER NOT NULL,
        token            TEXT NOT NULL,
        revocation_id    BLOB NOT NULL,
        created_by       TEXT NOT NULL,
        created_ms       INTEGER NOT NULL,
        outbox           INTEGER NOT NULL,
        revoked_by       TEXT,
        revoked_org      TEXT,
        revoke_reason    TEXT,
        revoked_ms       INTEGER,
        revoked_outbox   INTEGER
    );
    CREATE INDEX authorizations_by_property ON authorizations (property_id);
    CREATE INDEX authorizations_by_carrier ON authorizations (carrier_id);
    CREATE TABLE drivers (
        id         TEXT PRIMARY KEY,
        org_id     TEXT NOT NULL REFERENCES orgs(id),
        name       TEXT NOT NULL,
        public_key TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        removed_ms INTEGER
    );
    CREATE INDEX drivers_by_org ON drivers (org_id);
    CREATE TABLE passes (
        id               TEXT PRIMARY KEY,
        authorization_id TEXT NOT NULL REFERENCES authorizations(id),
        door_id          TEXT NOT NULL,
        unit_id          TEXT NOT NULL,
        delivery         TEXT NOT NULL,
        driver_id        TEXT,
        driver_key       TEXT NOT NULL,
        not_before_ms    INTEGER NOT NULL,
        not_after_ms     INTEGER NOT NULL,
        token            TEXT NOT NULL,
        minted_by        TEXT NOT NULL,
        minted_ms        INTEGER NOT NULL
    );
    CREATE INDEX passes_by_authorization ON passes (authorization_id, minted_ms);
    CREATE TABLE revocations (
        property_id   TEXT NOT NULL REFERENCES properties(id),
        revocation_id BLOB NOT NULL,
        kind          TEXT NOT NULL,
        reference     TEXT NOT NULL,
        reason        TEXT NOT NULL,
        revoked_by    TEXT NOT NULL,
        revoked_ms    INTEGER NOT NULL,
        expires_ms    INTEGER,
        PRIMARY KEY (property_id, revocation_id)
    );
    CREATE TABLE documents (
        property_id TEXT NOT NULL REFERENCES properties(id),
        kind        TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        covers      INTEGER NOT NULL,
        issued_ms   INTEGER NOT NULL,
        document    BLOB NOT NULL,
        PRIMARY KEY (property_id, kind)
    );
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        target     TEXT NOT NULL,
        entry      BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        log_index  INTEGER
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE log_index IS NULL;",
    // 2: authorizations listed a page at a time, in (created, id) order, by property or by
    // carrier: indexes in that order, so a page reads its own rows and no more.
    "DROP INDEX authorizations_by_property;
    DROP INDEX authorizations_by_carrier;
    CREATE INDEX authorizations_by_property ON authorizations (property_id, created_ms, id);
    CREATE INDEX authorizations_by_carrier ON authorizations (carrier_id, created_ms, id);",
];

/// The schema version this build writes.
pub const CONTROL_SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The control plane's [`Store`] on SQLite.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    passes: Mutex<PassGroup>,
}

/// Passes waiting for the next group commit, and the answers of committed ones not yet
/// collected by their callers.
#[derive(Debug, Default)]
struct PassGroup {
    next: u64,
    waiting: Vec<(u64, Pass)>,
    answers: HashMap<u64, Result<()>>,
}

impl SqliteStore {
    /// Opens (creating and migrating) `<data dir>/doorman.sqlite`.
    pub fn open(data_dir: &Path) -> Result<SqliteStore> {
        SqliteStore::open_file(&data_dir.join(CONTROL_DB_FILE))
    }

    /// Opens (creating and migrating) the database at `path`.
    pub fn open_file(path: &Path) -> Result<SqliteStore> {
        let mut conn = connect(path)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        apply_migrations(&mut conn, MIGRATIONS)?;
        Ok(SqliteStore {
            path: path.to_path_buf(),
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
            passes: Mutex::new(PassGroup::default()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = connect(&self.path)?;
                c.pragma_update(None, "query_only", "ON")?;
                c
            }
        };
        let result = f(&conn);
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

// ---- Conversions ---------------------------------------------------------------------------

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_millisecond(ms).map_err(|e| conversion(e.to_string()))
}

fn opt_ts(ms: Option<i64>) -> rusqlite::Result<Option<Timestamp>> {
    ms.map(ts).transpose()
}

fn conversion(why: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, why.into())
}

fn id<T, E: std::fmt::Display>(
    s: String,
    make: impl FnOnce(String) -> Result<T, E>,
) -> rusqlite::Result<T> {
    make(s).map_err(|e| conversion(e.to_string()))
}

fn opt_id<T, E: std::fmt::Display>(
    s: String,
    make: impl FnOnce(String) -> Result<T, E>,
) -> rusqlite::Result<Option<T>> {
    if s.is_empty() {
        Ok(None)
    } else {
        id(s, make).map(Some)
    }
}

fn parse<T: std::str::FromStr>(s: String) -> rusqlite::Result<T>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| conversion(e.to_string()))
}

fn u64_of(v: i64) -> rusqlite::Result<u64> {
    u64::try_from(v).map_err(|_| conversion(format!("negative count {v}")))
}

fn i64_of(v: u64) -> Result<i64> {
    i64::try_from(v).map_err(|_| ControlError::Limit(format!("{v} is above 2^63-1")))
}

fn custody_str(c: Custody) -> &'static str {
    match c {
        Custody::Custodial => "custodial",
        Custody::SelfCustody => "self",
    }
}

fn custody_of(s: &str) -> rusqlite::Result<Custody> {
    match s {
        "custodial" => Ok(Custody::Custodial),
        "self" => Ok(Custody::SelfCustody),
        other => Err(conversion(format!("unknown custody {other:?}"))),
    }
}

fn status_of(s: &str) -> rusqlite::Result<PropertyStatus> {
    match s {
        "claimed" => Ok(PropertyStatus::Claimed),
        "verified" => Ok(PropertyStatus::Verified),
        "rejected" => Ok(PropertyStatus::Rejected),
        other => Err(conversion(format!("unknown property status {other:?}"))),
    }
}

fn json_list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> Result<String> {
    let v: Vec<String> = items.into_iter().map(|x| x.to_string()).collect();
    serde_json::to_string(&v).map_err(|e| ControlError::Corrupt(e.to_string()))
}

fn from_json_list<T, E: std::fmt::Display>(
    text: &str,
    make: impl Fn(String) -> Result<T, E>,
) -> rusqlite::Result<Vec<T>> {
    let v: Vec<String> = serde_json::from_str(text).map_err(|e| conversion(e.to_string()))?;
    v.into_iter().map(|s| id(s, &make)).collect()
}

fn target_str(t: &LogTarget) -> String {
    match t {
        LogTarget::Public => "public".to_string(),
        LogTarget::Access(p) => format!("access:{p}"),
    }
}

fn target_of(s: &str) -> rusqlite::Result<LogTarget> {
    match s.strip_prefix("access:") {
        Some(p) => Ok(LogTarget::Access(id(p.to_string(), PropertyId::new)?)),
        None if s == "public" => Ok(LogTarget::Public),
        None => Err(conversion(format!("unknown log target {s:?}"))),
    }
}

/// Maps a constraint failure: a taken unique key is `Duplicate(what)`, a missing referenced
/// row `NotFound`.
fn unique(what: &'static str) -> impl Fn(rusqlite::Error) -> ControlError {
    move |e| match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) if e.to_string().contains("FOREIGN KEY") => {
            ControlError::NotFound("a referenced record")
        }
        Some(ErrorCode::ConstraintViolation) => ControlError::Duplicate(what),
        _ => e.into(),
    }
}

/// Inserts passes in one transaction: each gets its own answer (a duplicate id fails alone);
/// any other failure fails them all, and nothing is stored.
fn insert_passes(conn: &mut Connection, batch: &[(u64, Pass)]) -> Vec<(u64, Result<()>)> {
    let fail_all = |why: String| -> Vec<(u64, Result<()>)> {
        batch
            .iter()
            .map(|(t, _)| (*t, Err(ControlError::Database(why.clone()))))
            .collect()
    };
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return fail_all(e.to_string()),
    };
    let sql = format!(
        "INSERT INTO passes ({PASS_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
    );
    let mut answers = Vec::with_capacity(batch.len());
    for (t, p) in batch {
        let inserted = tx.prepare_cached(&sql).and_then(|mut stmt| {
            stmt.execute(params![
                p.id,
                p.authorization,
                p.door.as_str(),
                p.unit.as_str(),
                p.delivery.as_str(),
                p.driver,
                p.driver_key,
                ms(p.not_before),
                ms(p.not_after),
                p.token,
                p.minted_by,
                ms(p.minted_at)
            ])
        });
        match inserted {
            Ok(_) => answers.push((*t, Ok(()))),
            // A failed constraint undoes its statement only; the transaction goes on.
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                answers.push((*t, Err(unique("pass")(e))));
            }
            // Dropping the transaction rolls it back.
            Err(e) => return fail_all(e.to_string()),
        }
    }
    match tx.commit() {
        Ok(()) => answers,
        Err(e) => fail_all(e.to_string()),
    }
}

fn insert_outbox(tx: &Transaction<'_>, entry: &OutboxEntry, now: Timestamp) -> Result<i64> {
    tx.execute(
        "INSERT INTO outbox (target, entry, created_ms) VALUES (?1, ?2, ?3)",
        params![target_str(&entry.target), entry.entry, ms(now)],
    )?;
    Ok(tx.last_insert_rowid())
}

// ---- Row mappers ---------------------------------------------------------------------------

const USER_COLS: &str = "id, email, name, password_hash, created_ms";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        password_hash: r.get(3)?,
        created_at: ts(r.get(4)?)?,
    })
}

const ORG_COLS: &str = "id, kind, name, created_ms, carrier_key, carrier_sealed, carrier_key_ms";

fn org_row(r: &Row<'_>) -> rusqlite::Result<Org> {
    let carrier_key = match (r.get::<_, Option<String>>(4)?, r.get::<_, Option<i64>>(6)?) {
        (Some(public_key), Some(at)) => Some(CarrierKey {
            public_key,
            sealed_secret: r.get(5)?,
            set_at: ts(at)?,
        }),
        _ => None,
    };
    Ok(Org {
        id: id(r.get(0)?, OrgId::new)?,
        kind: parse(r.get(1)?)?,
        name: r.get(2)?,
        created_at: ts(r.get(3)?)?,
        carrier_key,
    })
}

const MEMBER_COLS: &str =
    "m.user_id, m.org_id, o.kind, m.role, m.property_id, m.unit_id, m.created_ms";

fn member_row(r: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        user: r.get(0)?,
        org: id(r.get(1)?, OrgId::new)?,
        kind: parse(r.get(2)?)?,
        role: parse(r.get(3)?)?,
        property: opt_id(r.get(4)?, PropertyId::new)?,
        unit: opt_id(r.get(5)?, UnitId::new)?,
        created_at: ts(r.get(6)?)?,
    })
}

/// A membership and its account: `MEMBER_COLS` then the user's columns.
const MEMBER_USER_COLS: &str = "m.user_id, m.org_id, o.kind, m.role, m.property_id, m.unit_id, m.created_ms, u.id, u.email, u.name, u.password_hash, u.created_ms";

fn member_user_row(r: &Row<'_>) -> rusqlite::Result<(Member, User)> {
    let m = member_row(r)?;
    let u = User {
        id: r.get(7)?,
        email: r.get(8)?,
        name: r.get(9)?,
        password_hash: r.get(10)?,
        created_at: ts(r.get(11)?)?,
    };
    Ok((m, u))
}

const INVITATION_COLS: &str = "id, org_id, role, email, property_id, unit_id, code_hash, created_by, created_ms, expires_ms, accepted_ms";

fn invitation_row(r: &Row<'_>) -> rusqlite::Result<Invitation> {
    Ok(Invitation {
        id: r.get(0)?,
        org: id(r.get(1)?, OrgId::new)?,
        role: parse(r.get(2)?)?,
        email: r.get(3)?,
        property: opt_id(r.get(4)?, PropertyId::new)?,
        unit: opt_id(r.get(5)?, UnitId::new)?,
        code_hash: r.get(6)?,
        created_by: r.get(7)?,
        created_at: ts(r.get(8)?)?,
        expires_at: ts(r.get(9)?)?,
        accepted_at: opt_ts(r.get(10)?)?,
    })
}

const TOKEN_COLS: &str = "id, token_hash, org_id, role, name, created_by, created_ms, expires_ms, revoked_ms, last_used_ms";

fn token_row(r: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        token_hash: r.get(1)?,
        org: id(r.get(2)?, OrgId::new)?,
        role: parse(r.get(3)?)?,
        name: r.get(4)?,
        created_by: r.get(5)?,
        created_at: ts(r.get(6)?)?,
        expires_at: opt_ts(r.get(7)?)?,
        revoked_at: opt_ts(r.get(8)?)?,
        last_used_at: opt_ts(r.get(9)?)?,
    })
}

fn decision_at(r: &Row<'_>, first: usize) -> rusqlite::Result<Option<Decision>> {
    let by: Option<String> = r.get(first)?;
    let org: Option<String> = r.get(first + 1)?;
    let note: Option<String> = r.get(first + 2)?;
    let at: Option<i64> = r.get(first + 3)?;
    match (by, org, at) {
        (Some(by), Some(org), Some(at)) => Ok(Some(Decision {
            by,
            org: id(org, OrgId::new)?,
            note: note.unwrap_or_default(),
            at: ts(at)?,
        })),
        _ => Ok(None),
    }
}

const PROPERTY_COLS: &str = "id, org_id, name, address, address_key, time_zone, custody, public_key, sealed_key, status, claimed_by, created_ms, decided_by, decided_org, decision_note, decided_ms, registered_outbox, revocation_seq, service_seq";

fn property_row(r: &Row<'_>) -> rusqlite::Result<Property> {
    Ok(Property {
        id: id(r.get(0)?, PropertyId::new)?,
        org: id(r.get(1)?, OrgId::new)?,
        name: r.get(2)?,
        address: r.get(3)?,
        address_key: r.get(4)?,
        time_zone: r.get(5)?,
        custody: custody_of(&r.get::<_, String>(6)?)?,
        public_key: r.get(7)?,
        sealed_key: r.get(8)?,
        status: status_of(&r.get::<_, String>(9)?)?,
        claimed_by: r.get(10)?,
        created_at: ts(r.get(11)?)?,
        decision: decision_at(r, 12)?,
        registered_outbox: r.get(16)?,
        revocation_seq: u64_of(r.get(17)?)?,
        service_seq: u64_of(r.get(18)?)?,
    })
}

const INSTALLATION_COLS: &str = "id, property_id, door_id, installer_org, filed_by, device_id, device_key, notes, status, created_ms, requested_outbox, decided_by, decided_org, decision_note, decided_ms, consent, consent_revocation, consent_nb_ms, consent_na_ms, consent_outbox, revoked_by, revoked_org, revoke_reason, revoked_ms, revoked_outbox";

fn installation_row(r: &Row<'_>) -> rusqlite::Result<Installation> {
    let status: String = r.get(8)?;
    let consent = match (
        r.get::<_, Option<String>>(15)?,
        r.get::<_, Option<Vec<u8>>>(16)?,
        r.get::<_, Option<i64>>(17)?,
        r.get::<_, Option<i64>>(18)?,
        r.get::<_, Option<i64>>(19)?,
    ) {
        (Some(token), Some(revocation_id), Some(nb), Some(na), Some(outbox)) => Some(Consent {
            token,
            revocation_id,
            not_before: ts(nb)?,
            not_after: ts(na)?,
            outbox,
        }),
        _ => None,
    };
    Ok(Installation {
        id: id(r.get(0)?, RequestId::new)?,
        property: id(r.get(1)?, PropertyId::new)?,
        door: id(r.get(2)?, DoorId::new)?,
        installer_org: id(r.get(3)?, OrgId::new)?,
        filed_by: r.get(4)?,
        device: id(r.get(5)?, DeviceId::new)?,
        device_key: r.get(6)?,
        notes: r.get(7)?,
        status: InstallationStatus::parse(&status)
            .ok_or_else(|| conversion(format!("unknown installation status {status:?}")))?,
        created_at: ts(r.get(9)?)?,
        requested_outbox: r.get(10)?,
        decision: decision_at(r, 11)?,
        consent,
        revocation: decision_at(r, 20)?,
        revoked_outbox: r.get(24)?,
    })
}

const EVIDENCE_COLS: &str =
    "installation_id, number, content_type, size, sha256, uploaded_by, created_ms";

fn evidence_row(r: &Row<'_>) -> rusqlite::Result<Evidence> {
    Ok(Evidence {
        installation: id(r.get(0)?, RequestId::new)?,
        number: r.get(1)?,
        content_type: r.get(2)?,
        size: u64_of(r.get(3)?)?,
        sha256: r.get(4)?,
        uploaded_by: r.get(5)?,
        created_at: ts(r.get(6)?)?,
    })
}

const AUTHORIZATION_COLS: &str = "id, property_id, carrier_id, carrier_key, doors, schedule, time_zone, daily_cap, max_pass_seconds, not_before_ms, not_after_ms, token, revocation_id, created_by, created_ms, outbox, revoked_by, revoked_org, revoke_reason, revoked_ms, revoked_outbox";

fn authorization_row(r: &Row<'_>) -> rusqlite::Result<Authorization> {
    Ok(Authorization {
        id: r.get(0)?,
        property: id(r.get(1)?, PropertyId::new)?,
        carrier: id(r.get(2)?, CarrierId::new)?,
        carrier_key: r.get(3)?,
        doors: from_json_list(&r.get::<_, String>(4)?, DoorId::new)?,
        schedule: r.get(5)?,
        time_zone: r.get(6)?,
        daily_cap: r.get(7)?,
        max_pass_seconds: r.get(8)?,
        not_before: ts(r.get(9)?)?,
        not_after: ts(r.get(10)?)?,
        token: r.get(11)?,
        revocation_id: r.get(12)?,
        created_by: r.get(13)?,
        created_at: ts(r.get(14)?)?,
        outbox: r.get(15)?,
        revocation: decision_at(r, 16)?,
        revoked_outbox: r.get(20)?,
    })
}

const DRIVER_COLS: &str = "id, org_id, name, public_key, created_ms, removed_ms";

fn driver_row(r: &Row<'_>) -> rusqlite::Result<Driver> {
    Ok(Driver {
        id: r.get(0)?,
        org: id(r.get(1)?, OrgId::new)?,
        name: r.get(2)?,
        public_key: r.get(3)?,
        created_at: ts(r.get(4)?)?,
        removed_at: opt_ts(r.get(5)?)?,
    })
}

const PASS_COLS: &str = "id, authorization_id, door_id, unit_id, delivery, driver_id, driver_key, not_before_ms, not_after_ms, token, minted_by, minted_ms";

fn pass_row(r: &Row<'_>) -> rusqlite::Result<Pass> {
    Ok(Pass {
        id: r.get(0)?,
        authorization: r.get(1)?,
        door: id(r.get(2)?, DoorId::new)?,
        unit: id(r.get(3)?, UnitId::new)?,
        delivery: id(r.get(4)?, DeliveryRef::new)?,
        driver: r.get(5)?,
        driver_key: r.get(6)?,
        not_before: ts(r.get(7)?)?,
        not_after: ts(r.get(8)?)?,
        token: r.get(9)?,
        minted_by: r.get(10)?,
        minted_at: ts(r.get(11)?)?,
    })
}

const REVOCATION_COLS: &str =
    "property_id, revocation_id, kind, reference, reason, revoked_by, revoked_ms, expires_ms";

fn revocation_row(r: &Row<'_>) -> rusqlite::Result<Revocation> {
    let kind: String = r.get(2)?;
    Ok(Revocation {
        property: id(r.get(0)?, PropertyId::new)?,
        revocation_id: r.get(1)?,
        kind: RevokedKind::parse(&kind)
            .ok_or_else(|| conversion(format!("unknown revocation kind {kind:?}")))?,
        reference: r.get(3)?,
        reason: r.get(4)?,
        revoked_by: r.get(5)?,
        revoked_at: ts(r.get(6)?)?,
        expires_at: opt_ts(r.get(7)?)?,
    })
}

const OUTBOX_COLS: &str = "id, target, entry, created_ms, log_index";

fn outbox_row(r: &Row<'_>) -> rusqlite::Result<OutboxRecord> {
    Ok(OutboxRecord {
        id: r.get(0)?,
        target: target_of(&r.get::<_, String>(1)?)?,
        entry: r.get(2)?,
        created_at: ts(r.get(3)?)?,
        log_index: r.get::<_, Option<i64>>(4)?.map(u64_of).transpose()?,
    })
}

fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, map)
        .optional()?)
}

fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, map)?;
    Ok(rows.collect::<rusqlite::Result<Vec<T>>>()?)
}

fn get_property(conn: &Connection, p: &PropertyId) -> Result<Property> {
    one(
        conn,
        &format!("SELECT {PROPERTY_COLS} FROM properties WHERE id = ?1"),
        [p.as_str()],
        property_row,
    )?
    .ok_or(ControlError::NotFound("property"))
}

fn get_installation(conn: &Connection, i: &RequestId) -> Result<Installation> {
    one(
        conn,
        &format!("SELECT {INSTALLATION_COLS} FROM installations WHERE id = ?1"),
        [i.as_str()],
        installation_row,
    )?
    .ok_or(ControlError::NotFound("installation request"))
}

fn get_authorization(conn: &Connection, a: &str) -> Result<Authorization> {
    one(
        conn,
        &format!("SELECT {AUTHORIZATION_COLS} FROM authorizations WHERE id = ?1"),
        [a],
        authorization_row,
    )?
    .ok_or(ControlError::NotFound("authorization"))
}

fn insert_user(tx: &Transaction<'_>, user: &User) -> Result<()> {
    tx.execute(
        "INSERT INTO users (id, email, name, password_hash, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![user.id, user.email, user.name, user.password_hash, ms(user.created_at)],
    )
    .map_err(unique("an account with this email"))?;
    Ok(())
}

fn insert_org(tx: &Transaction<'_>, org: &Org) -> Result<()> {
    tx.execute(
        "INSERT INTO orgs (id, kind, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![
            org.id.as_str(),
            org.kind.as_str(),
            org.name,
            ms(org.created_at)
        ],
    )
    .map_err(unique("organisation"))?;
    Ok(())
}

fn insert_member(
    tx: &Transaction<'_>,
    user: &str,
    org: &OrgId,
    role: Role,
    property: Option<&PropertyId>,
    unit: Option<&UnitId>,
    now: Timestamp,
) -> Result<()> {
    tx.execute(
        "INSERT INTO members (user_id, org_id, role, property_id, unit_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            user,
            org.as_str(),
            role.as_str(),
            property.map_or("", |p| p.as_str()),
            unit.map_or("", |u| u.as_str()),
            ms(now)
        ],
    )
    .map_err(unique("membership"))?;
    Ok(())
}

fn add_revocation_tx(tx: &Transaction<'_>, r: &Revocation) -> Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO revocations ({REVOCATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            r.property.as_str(),
            r.revocation_id,
            r.kind.as_str(),
            r.reference,
            r.reason,
            r.revoked_by,
            ms(r.revoked_at),
            r.expires_at.map(ms)
        ],
    )
    .map_err(unique("revocation of this id"))?;
    let changed = tx.execute(
        "UPDATE properties SET revocation_seq = revocation_seq + 1 WHERE id = ?1",
        [r.property.as_str()],
    )?;
    if changed != 1 {
        return Err(ControlError::NotFound("property"));
    }
    Ok(())
}

/// Records where outbox entry `o` landed: idempotent for the same index, `Conflict` for another.
fn mark_one(tx: &Transaction<'_>, o: i64, log_index: u64) -> Result<()> {
    let index = i64_of(log_index)?;
    let current: Option<Option<i64>> =
        one(tx, "SELECT log_index FROM outbox WHERE id = ?1", [o], |r| {
            r.get(0)
        })?;
    match current {
        None => Err(ControlError::NotFound("outbox entry")),
        Some(Some(i)) if i == index => Ok(()),
        Some(Some(i)) => Err(conflict(format!(
            "outbox entry {o} is published at {i} already"
        ))),
        Some(None) => {
            tx.execute(
                "UPDATE outbox SET log_index = ?2 WHERE id = ?1",
                params![o, index],
            )?;
            Ok(())
        }
    }
}

fn conflict(why: impl Into<String>) -> ControlError {
    ControlError::Conflict(why.into())
}

impl Store for SqliteStore {
    fn is_set_up(&self) -> Result<bool> {
        self.read(|c| {
            Ok(one(
                c,
                "SELECT 1 FROM orgs WHERE kind = 'operator' LIMIT 1",
                [],
                |_| Ok(()),
            )?
            .is_some())
        })
    }

    fn put_setup_code(&self, code_hash: &[u8], _now: Timestamp) -> Result<()> {
        self.write(|tx| {
            if one(
                tx,
                "SELECT 1 FROM orgs WHERE kind = 'operator' LIMIT 1",
                [],
                |_| Ok(()),
            )?
            .is_some()
            {
                return Err(conflict("the operator account exists already"));
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('setup_code', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [code_hash],
            )?;
            Ok(())
        })
    }

    fn claim_setup(&self, code_hash: &[u8], user: &User, org: &Org) -> Result<()> {
        self.write(|tx| {
            if one(
                tx,
                "SELECT 1 FROM orgs WHERE kind = 'operator' LIMIT 1",
                [],
                |_| Ok(()),
            )?
            .is_some()
            {
                return Err(conflict(
                    "the operator account exists already; sign in instead",
                ));
            }
            let stored: Option<Vec<u8>> = one(
                tx,
                "SELECT value FROM meta WHERE key = 'setup_code'",
                [],
                |r| r.get(0),
            )?;
            if stored.as_deref() != Some(code_hash) {
                return Err(ControlError::NotFound("setup code"));
            }
            if org.kind != OrgKind::Operator {
                return Err(conflict("the first organisation is the operator's"));
            }
            insert_user(tx, user)?;
            insert_org(tx, org)?;
            insert_member(
                tx,
                &user.id,
                &org.id,
                Role::Operator,
                None,
                None,
                user.created_at,
            )?;
            tx.execute("DELETE FROM meta WHERE key = 'setup_code'", [])?;
            Ok(())
        })
    }

    fn sign_up(&self, user: &User, org: &Org, role: Role) -> Result<()> {
        self.write(|tx| {
            insert_user(tx, user)?;
            insert_org(tx, org)?;
            insert_member(tx, &user.id, &org.id, role, None, None, user.created_at)
        })
    }

    fn user(&self, user: &str) -> Result<Option<User>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE id = ?1"),
                [user],
                user_row,
            )
        })
    }

    fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
                [email],
                user_row,
            )
        })
    }

    fn org(&self, org: &OrgId) -> Result<Option<Org>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {ORG_COLS} FROM orgs WHERE id = ?1"),
                [org.as_str()],
                org_row,
            )
        })
    }

    fn orgs(&self, kind: Option<OrgKind>) -> Result<Vec<Org>> {
        self.read(|c| match kind {
            Some(k) => all(
                c,
                &format!("SELECT {ORG_COLS} FROM orgs WHERE kind = ?1 ORDER BY name, id"),
                [k.as_str()],
                org_row,
            ),
            None => all(
                c,
                &format!("SELECT {ORG_COLS} FROM orgs ORDER BY name, id"),
                [],
                org_row,
            ),
        })
    }

    fn create_org(&self, org: &Org, founder: &str, role: Role, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            insert_org(tx, org)?;
            insert_member(tx, founder, &org.id, role, None, None, now)
        })
    }

    fn memberships(&self, user: &str) -> Result<Vec<Member>> {
        self.read(|c| {
            all(
                c,
                &format!("SELECT {MEMBER_COLS} FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?1 ORDER BY m.created_ms, m.org_id"),
                [user],
                member_row,
            )
        })
    }

    fn members(&self, org: &OrgId) -> Result<Vec<(Member, User)>> {
        self.read(|c| {
            all(
                c,
                &format!("SELECT {MEMBER_USER_COLS} FROM members m JOIN orgs o ON o.id = m.org_id JOIN users u ON u.id = m.user_id WHERE m.org_id = ?1 ORDER BY m.created_ms, u.email"),
                [org.as_str()],
                member_user_row,
            )
        })
    }

    fn remove_member(&self, org: &OrgId, user: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM members WHERE org_id = ?1 AND user_id = ?2",
                params![org.as_str(), user],
            )?;
            if n == 0 {
                return Err(ControlError::NotFound("member"));
            }
            Ok(())
        })
    }

    fn remove_resident(&self, property: &PropertyId, user: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM members WHERE property_id = ?1 AND user_id = ?2 AND role = 'resident'",
                params![property.as_str(), user],
            )?;
            if n == 0 {
                return Err(ControlError::NotFound("resident"));
            }
            Ok(())
        })
    }

    fn residents(&self, property: &PropertyId) -> Result<Vec<(Member, User)>> {
        self.read(|c| {
            all(
                c,
                &format!("SELECT {MEMBER_USER_COLS} FROM members m JOIN orgs o ON o.id = m.org_id JOIN users u ON u.id = m.user_id WHERE m.property_id = ?1 AND m.role = 'resident' ORDER BY m.unit_id, u.email"),
                [property.as_str()],
                member_user_row,
            )
        })
    }

    fn set_carrier_key(&self, org: &OrgId, key: &CarrierKey) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE orgs SET carrier_key = ?2, carrier_sealed = ?3, carrier_key_ms = ?4 WHERE id = ?1 AND kind = 'carrier'",
                params![org.as_str(), key.public_key, key.sealed_secret, ms(key.set_at)],
            )?;
            if n == 0 {
                return Err(ControlError::NotFound("carrier organisation"));
            }
            Ok(())
        })
    }

    fn create_invitation(&self, inv: &Invitation) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO invitations ({INVITATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    inv.id,
                    inv.org.as_str(),
                    inv.role.as_str(),
                    inv.email,
                    inv.property.as_ref().map_or("", |p| p.as_str()),
                    inv.unit.as_ref().map_or("", |u| u.as_str()),
                    inv.code_hash,
                    inv.created_by,
                    ms(inv.created_at),
                    ms(inv.expires_at),
                    inv.accepted_at.map(ms)
                ],
            )
            .map_err(unique("invitation"))?;
            Ok(())
        })
    }

    fn invitations(&self, org: &OrgId) -> Result<Vec<Invitation>> {
        self.read(|c| all(c, &format!("SELECT {INVITATION_COLS} FROM invitations WHERE org_id = ?1 ORDER BY created_ms, id"), [org.as_str()], invitation_row))
    }

    fn invitation_by_code(&self, code_hash: &[u8]) -> Result<Option<Invitation>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE code_hash = ?1"),
                [code_hash],
                invitation_row,
            )
        })
    }

    fn delete_invitation(&self, org: &OrgId, inv: &str) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute(
                "DELETE FROM invitations WHERE org_id = ?1 AND id = ?2 AND accepted_ms IS NULL",
                params![org.as_str(), inv],
            )?;
            if n == 0 {
                return Err(ControlError::NotFound("open invitation"));
            }
            Ok(())
        })
    }

    fn accept_invitation(
        &self,
        code_hash: &[u8],
        new_user: Option<&User>,
        now: Timestamp,
    ) -> Result<Member> {
        self.write(|tx| {
            let inv = one(tx, &format!("SELECT {INVITATION_COLS} FROM invitations WHERE code_hash = ?1"), [code_hash], invitation_row)?
                .ok_or(ControlError::NotFound("invitation"))?;
            if inv.accepted_at.is_some() {
                return Err(conflict("this invitation has been used already"));
            }
            if inv.expires_at <= now {
                return Err(conflict(format!("this invitation expired at {}", inv.expires_at)));
            }
            let user_id = match new_user {
                Some(u) => {
                    if u.email != inv.email {
                        return Err(conflict("the account's email is not the invited one"));
                    }
                    insert_user(tx, u)?;
                    u.id.clone()
                }
                None => one(tx, "SELECT id FROM users WHERE email = ?1", [&inv.email], |r| r.get::<_, String>(0))?
                    .ok_or(ControlError::NotFound("account for the invited email"))?,
            };
            insert_member(tx, &user_id, &inv.org, inv.role, inv.property.as_ref(), inv.unit.as_ref(), now)?;
            tx.execute("UPDATE invitations SET accepted_ms = ?2 WHERE id = ?1", params![inv.id, ms(now)])?;
            one(
                tx,
                &format!("SELECT {MEMBER_COLS} FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = ?1 AND m.org_id = ?2 AND m.role = ?3 AND m.property_id = ?4 AND m.unit_id = ?5"),
                params![
                    user_id,
                    inv.org.as_str(),
                    inv.role.as_str(),
                    inv.property.as_ref().map_or("", |p| p.as_str()),
                    inv.unit.as_ref().map_or("", |u| u.as_str())
                ],
                member_row,
            )?
            .ok_or_else(|| ControlError::Corrupt("the new membership is not readable".to_string()))
        })
    }

    fn create_session(&self, s: &Session) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
                params![s.token_hash, s.user, ms(s.created_at), ms(s.expires_at)],
            )
            .map_err(unique("session"))?;
            Ok(())
        })
    }

    fn session(&self, token_hash: &[u8]) -> Result<Option<Session>> {
        self.read(|c| {
            one(c, "SELECT token_hash, user_id, created_ms, expires_ms FROM sessions WHERE token_hash = ?1", [token_hash], |r| {
                Ok(Session { token_hash: r.get(0)?, user: r.get(1)?, created_at: ts(r.get(2)?)?, expires_at: ts(r.get(3)?)? })
            })
        })
    }

    fn delete_session(&self, token_hash: &[u8]) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: Timestamp) -> Result<u64> {
        self.write(|tx| {
            Ok(tx.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [ms(now)])? as u64)
        })
    }

    fn create_api_token(&self, t: &ApiToken) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                &format!("INSERT INTO api_tokens ({TOKEN_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    t.id,
                    t.token_hash,
                    t.org.as_str(),
                    t.role.as_str(),
                    t.name,
                    t.created_by,
                    ms(t.created_at),
                    t.expires_at.map(ms),
                    t.revoked_at.map(ms),
                    t.last_used_at.map(ms)
                ],
            )
            .map_err(unique("API token"))?;
            Ok(())
        })
    }

    fn api_token_by_hash(&self, token_hash: &[u8]) -> Result<Option<ApiToken>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {TOKEN_COLS} FROM api_tokens WHERE token_hash = ?1"),
                [token_hash],
                token_row,
            )
        })
    }

    fn api_tokens(&self, org: &OrgId) -> Result<Vec<ApiToken>> {
        self.read(|c| {
            all(
                c,
                &format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE org_id = ?1 ORDER BY created_ms, id"
                ),
                [org.as_str()],
                token_row,
            )
        })
    }

    fn revoke_api_token(&self, org: &OrgId, token: &str, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            let revoked: Option<Option<i64>> = one(
                tx,
                "SELECT revoked_ms FROM api_tokens WHERE org_id = ?1 AND id = ?2",
                params![org.as_str(), token],
                |r| r.get(0),
            )?;
            match revoked {
                None => Err(ControlError::NotFound("API token")),
                Some(Some(_)) => Err(conflict("this token is revoked already")),
                Some(None) => {
                    tx.execute(
                        "UPDATE api_tokens SET revoked_ms = ?2 WHERE id = ?1",
                        params![token, ms(now)],
                    )?;
                    Ok(())
                }
            }
        })
    }

    fn touch_api_token(&self, token: &str, now: Timestamp) -> Result<()> {
        // At most one write a minute per token: a busy machine client would otherwise turn
        // every read into a write.
        self.write(|tx| {
            tx.execute(
                "UPDATE api_tokens SET last_used_ms = ?2 WHERE id = ?1 AND (last_used_ms IS NULL OR last_used_ms < ?2 - 60000)",
                params![token, ms(now)],
            )?;
            Ok(())
        })
    }

    fn login_throttle(&self, email: &str) -> Result<LoginThrottle> {
        self.read(|c| {
            Ok(one(c, "SELECT failures, last_failure_ms, locked_until_ms FROM login_throttle WHERE email = ?1", [email], |r| {
                Ok(LoginThrottle { failures: r.get(0)?, last_failure_at: opt_ts(r.get(1)?)?, locked_until: opt_ts(r.get(2)?)? })
            })?
            .unwrap_or_default())
        })
    }

    fn put_login_throttle(&self, email: &str, t: &LoginThrottle) -> Result<()> {
        self.write(|tx| {
            if *t == LoginThrottle::default() {
                tx.execute("DELETE FROM login_throttle WHERE email = ?1", [email])?;
            } else {
                tx.execute(
                    "INSERT INTO login_throttle (email, failures, last_failure_ms, locked_until_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (email) DO UPDATE SET failures = excluded.failures, last_failure_ms = excluded.last_failure_ms, locked_until_ms = excluded.locked_until_ms",
                    params![email, t.failures, t.last_failure_at.map(ms), t.locked_until.map(ms)],
                )?;
            }
            Ok(())
        })
    }

    fn create_property(&self, p: &Property) -> Result<()> {
        self.write(|tx| {
            if p.status != PropertyStatus::Claimed || p.decision.is_some() {
                return Err(conflict("a new property starts as a claim"));
            }
            tx.execute(
                "INSERT INTO properties (id, org_id, name, address, address_key, time_zone, custody, public_key, sealed_key, status, claimed_by, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'claimed', ?10, ?11)",
                params![
                    p.id.as_str(),
                    p.org.as_str(),
                    p.name,
                    p.address,
                    p.address_key,
                    p.time_zone,
                    custody_str(p.custody),
                    p.public_key,
                    p.sealed_key,
                    p.claimed_by,
                    ms(p.created_at)
                ],
            )
            .map_err(unique("property"))?;
            Ok(())
        })
    }

    fn property(&self, p: &PropertyId) -> Result<Option<Property>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {PROPERTY_COLS} FROM properties WHERE id = ?1"),
                [p.as_str()],
                property_row,
            )
        })
    }

    fn properties(&self, org: Option<&OrgId>) -> Result<Vec<Property>> {
        self.read(|c| match org {
            Some(o) => all(c, &format!("SELECT {PROPERTY_COLS} FROM properties WHERE org_id = ?1 ORDER BY created_ms, id"), [o.as_str()], property_row),
            None => all(c, &format!("SELECT {PROPERTY_COLS} FROM properties ORDER BY created_ms, id"), [], property_row),
        })
    }

    fn decide_property(
        &self,
        p: &PropertyId,
        verified: bool,
        d: &Decision,
        entry: Option<&OutboxEntry>,
    ) -> Result<Property> {
        self.write(|tx| {
            let current = get_property(tx, p)?;
            if current.status != PropertyStatus::Claimed {
                return Err(conflict(format!("the property is {} already", current.status.as_str())));
            }
            if verified {
                let taken: Option<String> = one(
                    tx,
                    "SELECT id FROM properties WHERE address_key = ?1 AND status = 'verified' AND id != ?2 LIMIT 1",
                    params![current.address_key, p.as_str()],
                    |r| r.get(0),
                )?;
                if let Some(other) = taken {
                    return Err(conflict(format!("this address is registered already, as property {other}")));
                }
            }
            let outbox = match (verified, entry) {
                (true, Some(e)) => Some(insert_outbox(tx, e, d.at)?),
                (true, None) => return Err(conflict("verifying a property publishes its registration")),
                (false, _) => None,
            };
            tx.execute(
                "UPDATE properties SET status = ?2, decided_by = ?3, decided_org = ?4, decision_note = ?5, decided_ms = ?6, registered_outbox = ?7 WHERE id = ?1",
                params![
                    p.as_str(),
                    if verified { "verified" } else { "rejected" },
                    d.by,
                    d.org.as_str(),
                    d.note,
                    ms(d.at),
                    outbox
                ],
            )?;
            get_property(tx, p)
        })
    }

    fn add_door(&self, d: &Door) -> Result<()> {
        self.write(|tx| {
            get_property(tx, &d.property)?;
            tx.execute(
                "INSERT INTO doors (property_id, door_id, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![d.property.as_str(), d.door.as_str(), d.name, ms(d.created_at)],
            )
            .map_err(unique("door"))?;
            Ok(())
        })
    }

    fn doors(&self, p: &PropertyId) -> Result<Vec<Door>> {
        self.read(|c| {
            all(c, "SELECT property_id, door_id, name, created_ms FROM doors WHERE property_id = ?1 ORDER BY door_id", [p.as_str()], |r| {
                Ok(Door { property: id(r.get(0)?, PropertyId::new)?, door: id(r.get(1)?, DoorId::new)?, name: r.get(2)?, created_at: ts(r.get(3)?)? })
            })
        })
    }

    fn remove_door(&self, p: &PropertyId, door: &DoorId) -> Result<()> {
        self.write(|tx| {
            let used: Option<String> = one(
                tx,
                "SELECT id FROM installations WHERE property_id = ?1 AND door_id = ?2 AND status IN ('requested', 'approved') LIMIT 1",
                params![p.as_str(), door.as_str()],
                |r| r.get(0),
            )?;
            if let Some(i) = used {
                return Err(conflict(format!("installation request {i} is open or approved at this door; reject it or revoke its consent first")));
            }
            let auths = all(
                tx,
                "SELECT id, doors FROM authorizations WHERE property_id = ?1 AND revoked_ms IS NULL",
                [p.as_str()],
                |r| Ok((r.get::<_, String>(0)?, from_json_list(&r.get::<_, String>(1)?, DoorId::new)?)),
            )?;
            if let Some((a, _)) = auths.iter().find(|(_, doors)| doors.contains(door)) {
                return Err(conflict(format!("authorization {a} covers this door; revoke it first")));
            }
            let n = tx.execute("DELETE FROM doors WHERE property_id = ?1 AND door_id = ?2", params![p.as_str(), door.as_str()])?;
            if n == 0 {
                return Err(ControlError::NotFound("door"));
            }
            Ok(())
        })
    }

    fn add_unit(&self, u: &Unit) -> Result<()> {
        self.write(|tx| {
            get_property(tx, &u.property)?;
            tx.execute(
                "INSERT INTO units (property_id, unit_id, created_ms) VALUES (?1, ?2, ?3)",
                params![u.property.as_str(), u.unit.as_str(), ms(u.created_at)],
            )
            .map_err(unique("unit"))?;
            Ok(())
        })
    }

    fn units(&self, p: &PropertyId) -> Result<Vec<Unit>> {
        self.read(|c| {
            all(c, "SELECT property_id, unit_id, created_ms FROM units WHERE property_id = ?1 ORDER BY unit_id", [p.as_str()], |r| {
                Ok(Unit { property: id(r.get(0)?, PropertyId::new)?, unit: id(r.get(1)?, UnitId::new)?, created_at: ts(r.get(2)?)? })
            })
        })
    }

    fn remove_unit(&self, p: &PropertyId, unit: &UnitId) -> Result<()> {
        self.write(|tx| {
            let lived: Option<String> = one(
                tx,
                "SELECT user_id FROM members WHERE property_id = ?1 AND unit_id = ?2 LIMIT 1",
                params![p.as_str(), unit.as_str()],
                |r| r.get(0),
            )?;
            if lived.is_some() {
                return Err(conflict("residents live in this unit; remove them first"));
            }
            let n = tx.execute(
                "DELETE FROM units WHERE property_id = ?1 AND unit_id = ?2",
                params![p.as_str(), unit.as_str()],
            )?;
            if n == 0 {
                return Err(ControlError::NotFound("unit"));
            }
            Ok(())
        })
    }

    fn create_installation(&self, i: &Installation, entry: &OutboxEntry) -> Result<Installation> {
        self.write(|tx| {
            if i.status != InstallationStatus::Requested || i.decision.is_some() || i.consent.is_some() {
                return Err(conflict("a new installation request starts as requested"));
            }
            let outbox = insert_outbox(tx, entry, i.created_at)?;
            tx.execute(
                "INSERT INTO installations (id, property_id, door_id, installer_org, filed_by, device_id, device_key, notes, status, created_ms, requested_outbox)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'requested', ?9, ?10)",
                params![
                    i.id.as_str(),
                    i.property.as_str(),
                    i.door.as_str(),
                    i.installer_org.as_str(),
                    i.filed_by,
                    i.device.as_str(),
                    i.device_key,
                    i.notes,
                    ms(i.created_at),
                    outbox
                ],
            )
            .map_err(unique("installation request"))?;
            get_installation(tx, &i.id)
        })
    }

    fn installation(&self, i: &RequestId) -> Result<Option<Installation>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {INSTALLATION_COLS} FROM installations WHERE id = ?1"),
                [i.as_str()],
                installation_row,
            )
        })
    }

    fn installations(&self, f: &InstallationFilter) -> Result<Vec<Installation>> {
        self.read(|c| {
            all(
                c,
                &format!(
                    "SELECT {INSTALLATION_COLS} FROM installations
                     WHERE (?1 IS NULL OR property_id = ?1)
                       AND (?2 IS NULL OR property_id IN (SELECT id FROM properties WHERE org_id = ?2))
                       AND (?3 IS NULL OR installer_org = ?3)
                       AND (?4 IS NULL OR status = ?4)
                     ORDER BY created_ms, id"
                ),
                params![
                    f.property.as_ref().map(|p| p.as_str()),
                    f.properties_of_org.as_ref().map(|o| o.as_str()),
                    f.installer_org.as_ref().map(|o| o.as_str()),
                    f.status.map(|s| s.as_str())
                ],
                installation_row,
            )
        })
    }

    fn approve_installation(
        &self,
        i: &RequestId,
        d: &Decision,
        consent: &Consent,
        entry: &OutboxEntry,
    ) -> Result<Installation> {
        self.write(|tx| {
            let current = get_installation(tx, i)?;
            if current.status != InstallationStatus::Requested {
                return Err(conflict(format!("the request is {} already", current.status.as_str())));
            }
            let outbox = insert_outbox(tx, entry, d.at)?;
            tx.execute(
                "UPDATE installations SET status = 'approved', decided_by = ?2, decided_org = ?3, decision_note = ?4, decided_ms = ?5,
                 consent = ?6, consent_revocation = ?7, consent_nb_ms = ?8, consent_na_ms = ?9, consent_outbox = ?10 WHERE id = ?1",
                params![
                    i.as_str(),
                    d.by,
                    d.org.as_str(),
                    d.note,
                    ms(d.at),
                    consent.token,
                    consent.revocation_id,
                    ms(consent.not_before),
                    ms(consent.not_after),
                    outbox
                ],
            )?;
            get_installation(tx, i)
        })
    }

    fn reject_installation(&self, i: &RequestId, d: &Decision) -> Result<Installation> {
        self.write(|tx| {
            let current = get_installation(tx, i)?;
            if current.status != InstallationStatus::Requested {
                return Err(conflict(format!("the request is {} already", current.status.as_str())));
            }
            tx.execute(
                "UPDATE installations SET status = 'rejected', decided_by = ?2, decided_org = ?3, decision_note = ?4, decided_ms = ?5 WHERE id = ?1",
                params![i.as_str(), d.by, d.org.as_str(), d.note, ms(d.at)],
            )?;
            get_installation(tx, i)
        })
    }

    fn revoke_consent(
        &self,
        i: &RequestId,
        d: &Decision,
        r: &Revocation,
        entry: &OutboxEntry,
    ) -> Result<Installation> {
        self.write(|tx| {
            let current = get_installation(tx, i)?;
            if current.status != InstallationStatus::Approved {
                return Err(conflict(match current.status {
                    InstallationStatus::Revoked => "the consent is revoked already".to_string(),
                    s => format!("the request is {}; only an approved request has a consent to revoke", s.as_str()),
                }));
            }
            add_revocation_tx(tx, r)?;
            let outbox = insert_outbox(tx, entry, d.at)?;
            tx.execute(
                "UPDATE installations SET status = 'revoked', revoked_by = ?2, revoked_org = ?3, revoke_reason = ?4, revoked_ms = ?5, revoked_outbox = ?6 WHERE id = ?1",
                params![i.as_str(), d.by, d.org.as_str(), d.note, ms(d.at), outbox],
            )?;
            get_installation(tx, i)
        })
    }

    fn add_evidence(&self, e: &Evidence, data: &[u8]) -> Result<Evidence> {
        self.write(|tx| {
            let current = get_installation(tx, &e.installation)?;
            if current.status != InstallationStatus::Requested {
                return Err(conflict(format!("the request is {}; evidence is added while it is requested", current.status.as_str())));
            }
            let count: u32 = tx.query_row("SELECT COUNT(*) FROM evidence WHERE installation_id = ?1", [e.installation.as_str()], |r| r.get(0))?;
            if count >= MAX_EVIDENCE_PER_REQUEST {
                return Err(ControlError::Limit(format!("a request holds at most {MAX_EVIDENCE_PER_REQUEST} photos")));
            }
            let number = count + 1;
            tx.execute(
                &format!("INSERT INTO evidence ({EVIDENCE_COLS}, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![e.installation.as_str(), number, e.content_type, i64_of(e.size)?, e.sha256, e.uploaded_by, ms(e.created_at), data],
            )?;
            Ok(Evidence { number, ..e.clone() })
        })
    }

    fn evidence(&self, i: &RequestId) -> Result<Vec<Evidence>> {
        self.read(|c| all(c, &format!("SELECT {EVIDENCE_COLS} FROM evidence WHERE installation_id = ?1 ORDER BY number"), [i.as_str()], evidence_row))
    }

    fn evidence_data(&self, i: &RequestId, number: u32) -> Result<Option<(Evidence, Vec<u8>)>> {
        self.read(|c| {
            one(c, &format!("SELECT {EVIDENCE_COLS}, data FROM evidence WHERE installation_id = ?1 AND number = ?2"), params![i.as_str(), number], |r| {
                Ok((evidence_row(r)?, r.get(7)?))
            })
        })
    }

    fn create_authorization(
        &self,
        a: &Authorization,
        entry: &OutboxEntry,
    ) -> Result<Authorization> {
        self.write(|tx| {
            if a.revocation.is_some() {
                return Err(conflict("a new authorization is active"));
            }
            get_property(tx, &a.property)?;
            let outbox = insert_outbox(tx, entry, a.created_at)?;
            tx.execute(
                "INSERT INTO authorizations (id, property_id, carrier_id, carrier_key, doors, schedule, time_zone, daily_cap, max_pass_seconds, not_before_ms, not_after_ms, token, revocation_id, created_by, created_ms, outbox)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    a.id,
                    a.property.as_str(),
                    a.carrier.as_str(),
                    a.carrier_key,
                    json_list(&a.doors)?,
                    a.schedule,
                    a.time_zone,
                    a.daily_cap,
                    a.max_pass_seconds,
                    ms(a.not_before),
                    ms(a.not_after),
                    a.token,
                    a.revocation_id,
                    a.created_by,
                    ms(a.created_at),
                    outbox
                ],
            )
            .map_err(unique("authorization"))?;
            get_authorization(tx, &a.id)
        })
    }

    fn authorization(&self, a: &str) -> Result<Option<Authorization>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {AUTHORIZATION_COLS} FROM authorizations WHERE id = ?1"),
                [a],
                authorization_row,
            )
        })
    }

    fn authorizations(&self, f: &AuthorizationFilter) -> Result<Vec<Authorization>> {
        // Only the filters given go into the statement (a `?1 IS NULL OR ...` form would keep
        // SQLite from using the indexes), so there are a few statements, each cached.
        let mut clauses: Vec<&str> = Vec::new();
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(p) = &f.property {
            clauses.push("property_id = ?");
            values.push(p.as_str().to_string().into());
        }
        if let Some(o) = &f.properties_of_org {
            clauses.push("property_id IN (SELECT id FROM properties WHERE org_id = ?)");
            values.push(o.as_str().to_string().into());
        }
        if let Some(c) = &f.carrier {
            clauses.push("carrier_id = ?");
            values.push(c.as_str().to_string().into());
        }
        if f.active_only {
            clauses.push("revoked_ms IS NULL");
        }
        if let Some((at, id)) = &f.after {
            clauses.push("(created_ms, id) > (?, ?)");
            values.push(ms(*at).into());
            values.push(id.clone().into());
        }
        let mut sql = format!("SELECT {AUTHORIZATION_COLS} FROM authorizations");
        if !clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&clauses.join(" AND "));
        }
        sql.push_str(" ORDER BY created_ms, id");
        if let Some(n) = f.limit {
            sql.push_str(" LIMIT ?");
            values.push(i64::try_from(n).unwrap_or(i64::MAX).into());
        }
        self.read(|c| {
            all(
                c,
                &sql,
                rusqlite::params_from_iter(values),
                authorization_row,
            )
        })
    }

    fn revoke_authorization(
        &self,
        a: &str,
        d: &Decision,
        r: &Revocation,
        entry: &OutboxEntry,
    ) -> Result<Authorization> {
        self.write(|tx| {
            let current = get_authorization(tx, a)?;
            if current.revocation.is_some() {
                return Err(conflict("the authorization is revoked already"));
            }
            add_revocation_tx(tx, r)?;
            let outbox = insert_outbox(tx, entry, d.at)?;
            tx.execute(
                "UPDATE authorizations SET revoked_by = ?2, revoked_org = ?3, revoke_reason = ?4, revoked_ms = ?5, revoked_outbox = ?6 WHERE id = ?1",
                params![a, d.by, d.org.as_str(), d.note, ms(d.at), outbox],
            )?;
            get_authorization(tx, a)
        })
    }

    fn add_driver(&self, d: &Driver) -> Result<()> {
        self.write(|tx| {
            // One handset key names one driver of a carrier: a second registration would make
            // its passes and entries name two people. (The same key at another carrier is a
            // driver working for both, and allowed.)
            let holder: Option<(String, String)> = tx
                .query_row(
                    "SELECT id, name FROM drivers WHERE org_id = ?1 AND public_key = ?2 AND removed_ms IS NULL",
                    params![d.org.as_str(), d.public_key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            if let Some((id, name)) = holder {
                return Err(ControlError::Conflict(format!(
                    "this handset key is already registered for driver {id} ({name}); remove that driver first to register the handset under another name"
                )));
            }
            tx.execute(
                &format!("INSERT INTO drivers ({DRIVER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
                params![
                    d.id,
                    d.org.as_str(),
                    d.name,
                    d.public_key,
                    ms(d.created_at),
                    d.removed_at.map(ms)
                ],
            )
            .map_err(unique("driver"))?;
            Ok(())
        })
    }

    fn drivers(&self, org: &OrgId) -> Result<Vec<Driver>> {
        self.read(|c| {
            all(
                c,
                &format!(
                    "SELECT {DRIVER_COLS} FROM drivers WHERE org_id = ?1 ORDER BY created_ms, id"
                ),
                [org.as_str()],
                driver_row,
            )
        })
    }

    fn driver(&self, org: &OrgId, d: &str) -> Result<Option<Driver>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {DRIVER_COLS} FROM drivers WHERE org_id = ?1 AND id = ?2"),
                params![org.as_str(), d],
                driver_row,
            )
        })
    }

    fn remove_driver(&self, org: &OrgId, d: &str, now: Timestamp) -> Result<()> {
        self.write(|tx| {
            let n = tx.execute("UPDATE drivers SET removed_ms = ?3 WHERE org_id = ?1 AND id = ?2 AND removed_ms IS NULL", params![org.as_str(), d, ms(now)])?;
            if n == 0 {
                return Err(ControlError::NotFound("driver"));
            }
            Ok(())
        })
    }

    /// Group commit: the pass joins a queue, then waits for the write lock. Whoever takes the
    /// lock next inserts every queued pass in one transaction (one sync) and leaves each
    /// caller its answer, so a caller that gets the lock after that finds its answer and is
    /// done. Either way a caller returns only after the transaction holding its pass
    /// committed. Passes minted at the same time thus share a sync instead of queueing for
    /// one each.
    fn record_pass(&self, p: &Pass) -> Result<()> {
        let ticket = {
            let mut group = lock(&self.passes);
            let ticket = group.next;
            group.next = group.next.wrapping_add(1);
            group.waiting.push((ticket, p.clone()));
            ticket
        };
        let mut conn = lock(&self.writer);
        let batch = {
            let mut group = lock(&self.passes);
            if let Some(answer) = group.answers.remove(&ticket) {
                return answer;
            }
            std::mem::take(&mut group.waiting)
        };
        if !batch.iter().any(|(t, _)| *t == ticket) {
            // Taken by a commit that ended without answering (it panicked).
            return Err(ControlError::Database(
                "the transaction holding this pass did not finish".to_string(),
            ));
        }
        let mut mine = Err(ControlError::Database("no answer".to_string()));
        let answers = insert_passes(&mut conn, &batch);
        let mut group = lock(&self.passes);
        for (t, answer) in answers {
            if t == ticket {
                mine = answer;
            } else {
                group.answers.insert(t, answer);
            }
        }
        mine
    }

    fn passes(&self, a: &str, limit: usize) -> Result<Vec<Pass>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| all(c, &format!("SELECT {PASS_COLS} FROM passes WHERE authorization_id = ?1 ORDER BY minted_ms DESC, id LIMIT ?2"), params![a, limit], pass_row))
    }

    fn service(&self, p: &PropertyId) -> Result<Service> {
        self.read(|c| {
            one(
                c,
                "SELECT property_disabled, disabled_doors, disabled_carriers, service_seq, service_changed_ms, service_changed_by FROM properties WHERE id = ?1",
                [p.as_str()],
                |r| {
                    Ok(Service {
                        property: p.clone(),
                        switch: ServiceSwitch {
                            property_disabled: r.get(0)?,
                            disabled_doors: from_json_list(&r.get::<_, String>(1)?, DoorId::new)?.into_iter().collect(),
                            disabled_carriers: from_json_list(&r.get::<_, String>(2)?, CarrierId::new)?.into_iter().collect(),
                        },
                        seq: u64_of(r.get(3)?)?,
                        changed_at: opt_ts(r.get(4)?)?,
                        changed_by: r.get(5)?,
                    })
                },
            )?
            .ok_or(ControlError::NotFound("property"))
        })
    }

    fn set_service(
        &self,
        p: &PropertyId,
        expected_seq: u64,
        switch: &ServiceSwitch,
        by: &str,
        now: Timestamp,
        entry: &OutboxEntry,
    ) -> Result<Service> {
        let done = self.write(|tx| {
            let current = get_property(tx, p)?;
            if current.service_seq != expected_seq {
                return Err(conflict(format!(
                    "the service switch changed meanwhile (now at change {}); read it again and retry",
                    current.service_seq
                )));
            }
            insert_outbox(tx, entry, now)?;
            tx.execute(
                "UPDATE properties SET property_disabled = ?2, disabled_doors = ?3, disabled_carriers = ?4, service_seq = service_seq + 1, service_changed_ms = ?5, service_changed_by = ?6 WHERE id = ?1",
                params![
                    p.as_str(),
                    switch.property_disabled,
                    json_list(&switch.disabled_doors)?,
                    json_list(&switch.disabled_carriers)?,
                    ms(now),
                    by
                ],
            )?;
            Ok(())
        });
        done?;
        self.service(p)
    }

    fn add_revocation(&self, r: &Revocation, entry: Option<&OutboxEntry>) -> Result<()> {
        self.write(|tx| {
            add_revocation_tx(tx, r)?;
            if let Some(e) = entry {
                insert_outbox(tx, e, r.revoked_at)?;
            }
            Ok(())
        })
    }

    fn revocations(&self, p: &PropertyId, now: Option<Timestamp>) -> Result<Vec<Revocation>> {
        self.read(|c| match now {
            Some(now) => all(c, &format!("SELECT {REVOCATION_COLS} FROM revocations WHERE property_id = ?1 AND (expires_ms IS NULL OR expires_ms > ?2) ORDER BY revocation_id"), params![p.as_str(), ms(now)], revocation_row),
            None => all(c, &format!("SELECT {REVOCATION_COLS} FROM revocations WHERE property_id = ?1 ORDER BY revocation_id"), [p.as_str()], revocation_row),
        })
    }

    fn put_document(&self, d: &SignedDocument) -> Result<()> {
        self.write(|tx| {
            let stored: Option<i64> = one(tx, "SELECT seq FROM documents WHERE property_id = ?1 AND kind = ?2", params![d.property.as_str(), d.kind.as_str()], |r| r.get(0))?;
            let seq = i64_of(d.seq)?;
            if stored.is_some_and(|s| s >= seq) {
                return Err(conflict(format!("a {} with seq {} or newer is stored already", d.kind.as_str(), d.seq)));
            }
            tx.execute(
                "INSERT INTO documents (property_id, kind, seq, covers, issued_ms, document) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (property_id, kind) DO UPDATE SET seq = excluded.seq, covers = excluded.covers, issued_ms = excluded.issued_ms, document = excluded.document",
                params![d.property.as_str(), d.kind.as_str(), seq, i64_of(d.covers)?, ms(d.issued_at), d.document],
            )
            .map_err(unique("document"))?;
            Ok(())
        })
    }

    fn document(&self, p: &PropertyId, kind: DocumentKind) -> Result<Option<SignedDocument>> {
        self.read(|c| {
            one(c, "SELECT seq, covers, issued_ms, document FROM documents WHERE property_id = ?1 AND kind = ?2", params![p.as_str(), kind.as_str()], |r| {
                Ok(SignedDocument { property: p.clone(), kind, seq: u64_of(r.get(0)?)?, covers: u64_of(r.get(1)?)?, issued_at: ts(r.get(2)?)?, document: r.get(3)? })
            })
        })
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|c| {
            one(c, "SELECT value FROM meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
        })
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<()> {
        if key == "setup_code" {
            return Err(conflict("setup_code is kept by put_setup_code"));
        }
        self.write(|tx| {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )?;
            Ok(())
        })
    }

    fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|c| {
            all(
                c,
                &format!(
                    "SELECT {OUTBOX_COLS} FROM outbox WHERE log_index IS NULL ORDER BY id LIMIT ?1"
                ),
                [limit],
                outbox_row,
            )
        })
    }

    fn outbox(&self, o: i64) -> Result<Option<OutboxRecord>> {
        self.read(|c| {
            one(
                c,
                &format!("SELECT {OUTBOX_COLS} FROM outbox WHERE id = ?1"),
                [o],
                outbox_row,
            )
        })
    }

    fn mark_published(&self, o: i64, log_index: u64) -> Result<()> {
        self.write(|tx| mark_one(tx, o, log_index))
    }

    fn mark_published_all(&self, marks: &[(i64, u64)]) -> Result<()> {
        self.write(|tx| {
            for (o, log_index) in marks {
                mark_one(tx, *o, *log_index)?;
            }
            Ok(())
        })
    }

    fn log_indexes(&self, ids: &[i64]) -> Result<Vec<Option<u64>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT log_index FROM outbox WHERE id = ?1")?;
            ids.iter()
                .map(|id| {
                    let v: Option<Option<i64>> = stmt.query_row([id], |r| r.get(0)).optional()?;
                    v.flatten()
                        .map(u64_of)
                        .transpose()
                        .map_err(ControlError::from)
                })
                .collect()
        })
    }

    fn last_published(&self, target: &LogTarget) -> Result<Option<u64>> {
        self.read(|c| {
            let max: Option<i64> = c.query_row(
                "SELECT MAX(log_index) FROM outbox WHERE target = ?1",
                [target_str(target)],
                |r| r.get(0),
            )?;
            max.map(u64_of).transpose().map_err(ControlError::from)
        })
    }
}

//! Per-property access logs (issue 3, item 4): one private log per property on the public
//! log's machinery, payloads committed as salted hashes so they can be redacted, checkpoints
//! anchored in the public log. The format and the reasoning are in docs/access-log.md; the
//! leaf format is `doorman_entries::AccessLeaf`.
//!
//! # On disk
//!
//! ```text
//! <data dir>/access/access.key                    the access key (signed-note private key
//!                                                 string named <public origin>/access, 0600)
//! <data dir>/access/<hex of the property id>/log.sqlite       the log: a SqliteLogStore
//!                                                             (leaves, hashes, checkpoints)
//! <data dir>/access/<hex of the property id>/openings.sqlite  openings and anchors
//! ```
//!
//! The directory name is the lowercase hex of the property id's bytes: property ids may hold
//! `/`, `:`, `#`, `@` and spaces, and ids that differ only in case must not share a directory
//! on a case-insensitive file system. At most 128 characters (ids are at most 64 bytes).
//!
//! # Origins and the key
//!
//! A property's access log has the origin `<public origin>/access/<property>`, with ` `, `#`,
//! `/` in the property id written `%20`, `%23`, `%2F` (ids hold no `%`, so this is
//! reversible), and is signed by the deployment's **access key**, not the public log's key:
//! each key signs one kind of log, so a leak or misuse of one cannot forge the other's
//! checkpoints. The signer of each access log is the access key's Ed25519 key under the
//! log's origin as signed-note key name (so `doorman log verify`, which takes the origin from
//! the key name, works on an access log served over tlog-tiles). Every access log thus has the
//! same public key and its own verifier key string ([`AccessLog::verifier`]).
//!
//! # Appending: the opening first
//!
//! [`AccessLog::append`] draws a fresh 32-byte salt, commits the opening (salt, payload, time)
//! to `openings.sqlite` (`synchronous=FULL`), and only then appends the leaf to the log and
//! returns its index. Openings are keyed by their commitment, not by index, so they can be
//! written before the index is known. A crash between the two leaves an opening no leaf points
//! to (never acknowledged; removed by redaction like any other); a leaf without its opening — a
//! lost event — cannot arise. A failed leaf append leaves its opening too: the failure may be
//! ambiguous (a commit whose result was lost), and deleting the opening of a leaf that did get
//! in would lose the event.
//!
//! # Redaction
//!
//! [`AccessLog::redact`] sets salt and payload to NULL for every opening appended before a
//! cutoff and records when; [`AccessLog::redact_event`] does it for one event. The database
//! runs with `secure_delete=ON` (freed content is overwritten with zeros) and the WAL is
//! truncated after each redaction, so the deleted bytes leave SQLite's files. (Copies outside
//! them — backups, file-system snapshots, SSD remapping — are the operator's to manage.) The
//! leaves, hashes and checkpoints in `log.sqlite` are never touched, so every tile and proof
//! still verifies.
//!
//! # Anchoring
//!
//! [`AccessLogs::anchor_all`] (or [`AccessLogs::anchors_due`] and
//! [`AccessLogs::record_anchor`]) produces `access_log_anchored` public entries for access
//! logs that grew since their last recorded anchor; the caller appends them to the public log.
//!
//! # Limits
//!
//! Each open access log keeps its SQLite connections (a writer, up to 8 readers, the openings
//! connection) until the [`AccessLogs`] is dropped; a deployment with many thousands of
//! properties will want to close idle ones (not done yet).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_core::PropertyId;
use doorman_entries::{
    AccessLeaf, AccessLeafError, EntryError, PublicEntry, SALT_LEN, Salt,
    access_log_anchored_entry, commitment,
};
use doorman_tlog::{Hash, NoteSigner, NoteVerifier, TlogProof};
use rand::{CryptoRng, RngCore};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::sqlite::{SqliteLogStore, lock, to_i64, to_u64};
use crate::store::{LogStore, StoredCheckpoint, from_unix_ms, unix_ms};

/// The access logs' directory in the data dir.
pub const ACCESS_DIR: &str = "access";

/// The access key's file in [`ACCESS_DIR`].
pub const ACCESS_KEY_FILE: &str = "access.key";

/// The openings and anchors database in each access log's directory.
pub const OPENINGS_FILE: &str = "openings.sqlite";

/// The most events one [`AccessLog::read`] returns (payloads are up to 16 KiB each).
pub const MAX_ACCESS_READ: u64 = 1024;

/// The longest origin an `access_log_anchored` entry takes.
const MAX_ORIGIN_LEN: usize = 256;

/// The openings database's schema, one step per version (never edited once released).
const MIGRATIONS: &[&str] = &[
    // 1: each event's opening by its commitment (salt and payload NULL once redacted; a salt
    // is never used twice); the anchors recorded in the public log, by access-log size.
    "CREATE TABLE openings (
        commitment  BLOB NOT NULL UNIQUE CHECK (length(commitment) = 32),
        salt        BLOB UNIQUE CHECK (salt IS NULL OR length(salt) = 32),
        payload     BLOB,
        appended_ms INTEGER NOT NULL,
        redacted_ms INTEGER,
        CHECK ((salt IS NULL) = (payload IS NULL)),
        CHECK ((salt IS NULL) = (redacted_ms IS NOT NULL))
    );
    CREATE INDEX openings_unredacted ON openings (appended_ms) WHERE redacted_ms IS NULL;
    CREATE TABLE anchors (
        size         INTEGER PRIMARY KEY,
        root         BLOB NOT NULL CHECK (length(root) = 32),
        public_index INTEGER NOT NULL,
        anchored_ms  INTEGER NOT NULL
    );",
];

/// Why an access-log operation failed. The `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessLogError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Leaf(#[from] AccessLeafError),
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error(transparent)]
    Log(#[from] doorman_tlog::Error),
    #[error("property {0:?} has no access log")]
    NoLog(String),
    #[error(
        "{0:?} cannot be the public log's origin (non-empty, no spaces, '+' or control characters)"
    )]
    BadOrigin(String),
    #[error(
        "the access log origin {origin:?} is {len} bytes; an anchor takes at most {MAX_ORIGIN_LEN} \
         (use a shorter public origin)"
    )]
    OriginTooLong { origin: String, len: usize },
    #[error("the access key {path}: {why}")]
    Key { path: String, why: String },
    #[error("{origin} has no checkpoint of size {size}; proofs are made for stored checkpoints")]
    NoCheckpoint { origin: String, size: u64 },
    #[error("the anchor does not match the access log: {0}")]
    BadAnchor(String),
    #[error(
        "the salt was used before (a broken RNG, or the same salted event appended twice); \
         nothing was stored"
    )]
    SaltReused,
    #[error("the RNG failed to draw a salt: {0}")]
    Rng(String),
}

impl AccessLogError {
    /// A stable code for programs (and the HTTP API).
    pub fn code(&self) -> &'static str {
        match self {
            AccessLogError::Store(_) => "store_error",
            AccessLogError::Leaf(e) => e.code(),
            AccessLogError::Entry(e) => e.code(),
            AccessLogError::Log(_) => "log_error",
            AccessLogError::NoLog(_) => "no_access_log",
            AccessLogError::BadOrigin(_) => "bad_origin",
            AccessLogError::OriginTooLong { .. } => "origin_too_long",
            AccessLogError::Key { .. } => "bad_access_key",
            AccessLogError::NoCheckpoint { .. } => "no_checkpoint",
            AccessLogError::BadAnchor(_) => "bad_anchor",
            AccessLogError::SaltReused => "salt_reused",
            AccessLogError::Rng(_) => "rng_failed",
        }
    }
}

impl From<rusqlite::Error> for AccessLogError {
    fn from(e: rusqlite::Error) -> AccessLogError {
        AccessLogError::Store(StoreError::from(e))
    }
}

fn io_error(path: &Path, message: String) -> AccessLogError {
    AccessLogError::Store(StoreError::Io {
        path: path.display().to_string(),
        message,
    })
}

fn corrupt(why: String) -> AccessLogError {
    AccessLogError::Store(StoreError::Corrupt(why))
}

fn valid_origin(origin: &str) -> bool {
    !origin.is_empty()
        && !origin
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '+')
}

/// The directory name of a property's access log: lowercase hex of the id's bytes.
pub fn property_dir_name(property: &PropertyId) -> String {
    property
        .as_str()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The property whose access log lives in a directory of this name, if it is one.
pub fn property_from_dir_name(name: &str) -> Option<PropertyId> {
    if name.is_empty() || !name.len().is_multiple_of(2) {
        return None;
    }
    let bytes = name
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            if text.bytes().any(|b| b.is_ascii_uppercase()) {
                return None;
            }
            u8::from_str_radix(text, 16).ok()
        })
        .collect::<Option<Vec<u8>>>()?;
    PropertyId::new(String::from_utf8(bytes).ok()?).ok()
}

/// The access log's origin for `property`: `<public origin>/access/<property>` with ` `, `#`
/// and `/` percent-encoded.
pub fn access_origin(public_origin: &str, property: &PropertyId) -> String {
    let mut out = format!("{public_origin}/access/");
    for c in property.as_str().chars() {
        match c {
            ' ' => out.push_str("%20"),
            '#' => out.push_str("%23"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
    out
}

/// The deployment's access key: the Ed25519 seed every access log's checkpoints are signed
/// with. Secret; `Debug` does not print it.
#[derive(Clone)]
pub struct AccessKey {
    seed: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(..)")
    }
}

impl AccessKey {
    /// The key of this seed.
    pub fn from_seed(seed: [u8; 32]) -> AccessKey {
        AccessKey {
            seed: Zeroizing::new(seed),
        }
    }

    /// A new key from `rng`.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Result<AccessKey, AccessLogError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.try_fill_bytes(seed.as_mut_slice())
            .map_err(|e| AccessLogError::Rng(e.to_string()))?;
        Ok(AccessKey { seed })
    }

    /// The signer of the log with this origin (the origin is the key name).
    pub fn signer(&self, origin: &str) -> Result<NoteSigner, AccessLogError> {
        Ok(NoteSigner::from_seed(origin, &self.seed)?)
    }

    /// Reads `<data dir>/access/access.key`, or creates it (mode 0600, never overwritten) with
    /// a key from `rng` if there is none. The file holds the signed-note private key string
    /// named `<public origin>/access`; a file for another public origin is refused. Returns
    /// the key and whether it was created now.
    pub fn load_or_create(
        data_dir: &Path,
        public_origin: &str,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(AccessKey, bool), AccessLogError> {
        if !valid_origin(public_origin) {
            return Err(AccessLogError::BadOrigin(public_origin.to_string()));
        }
        let dir = data_dir.join(ACCESS_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| io_error(&dir, format!("cannot create the access dir: {e}")))?;
        let path = dir.join(ACCESS_KEY_FILE);
        let name = format!("{public_origin}/access");
        let key_error = |why: String| AccessLogError::Key {
            path: path.display().to_string(),
            why,
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| key_error("is not UTF-8".to_string()))?;
                let text = text.trim_end();
                let signer = NoteSigner::parse(text).map_err(|e| key_error(e.to_string()))?;
                if signer.name() != name {
                    return Err(key_error(format!(
                        "is the key {:?}, not {name:?}: the public origin changed?",
                        signer.name()
                    )));
                }
                // NoteSigner::parse checked the form: PRIVATE+KEY+<name>+<id>+<base64 of 0x01
                // and the seed>; names hold no '+', the base64 may.
                let b64 = text
                    .strip_prefix("PRIVATE+KEY+")
                    .and_then(|rest| rest.splitn(3, '+').nth(2))
                    .unwrap_or_default();
                let raw = Zeroizing::new(
                    STANDARD
                        .decode(b64)
                        .map_err(|_| key_error("bad base64".to_string()))?,
                );
                let seed: [u8; 32] = raw
                    .get(1..)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| key_error("not a 32-byte seed".to_string()))?;
                Ok((AccessKey::from_seed(seed), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = AccessKey::generate(rng)?;
                let mut text = Zeroizing::new(key.signer(&name)?.private_key_string().to_string());
                text.push('\n');
                doorman_files::write_new_private_file(&path, text.as_bytes())
                    .map_err(|e| io_error(&path, format!("cannot create: {e}")))?;
                Ok((key, true))
            }
            Err(e) => Err(key_error(format!("cannot read it: {e}"))),
        }
    }
}

fn connect_openings(path: &Path) -> Result<Connection, AccessLogError> {
    // The same connection settings (WAL, synchronous=FULL, busy timeout) and migration rules
    // as the log's own database.
    let mut conn = crate::sqlite::connect(path)?;
    // Redacted salts and payloads are overwritten, not just unlinked from the b-tree.
    conn.pragma_update(None, "secure_delete", "ON")?;
    // Openings are indexed by commitment and salt, random keys: each batch of appends
    // touches index pages all over. A cache of 16 MiB (default 2 MiB; allocated only as
    // pages are read) keeps them in memory up to about 200,000 openings, and checkpointing
    // every 16 MiB of WAL (default 4 MiB) writes a page rewritten by several batches once.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
    crate::sqlite::apply_migrations(&mut conn, MIGRATIONS)?;
    Ok(conn)
}

/// What is kept of an event beside the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opening {
    /// Salt and payload, which open the leaf's commitment (checked when read).
    Open {
        salt: Salt,
        payload: Vec<u8>,
        appended_at: SystemTime,
    },
    /// Redacted: salt and payload are deleted; the leaf and every proof stay.
    Redacted {
        appended_at: SystemTime,
        redacted_at: SystemTime,
    },
    /// No opening is stored for this leaf: the event's payload is lost. Appends write the
    /// opening first, so this means the openings database was damaged or replaced.
    Missing,
}

/// One event as read: its index, its leaf and what is kept of its opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEvent {
    /// The leaf's index in the access log.
    pub index: u64,
    /// The logged leaf (canonical JSON, see `doorman_entries::AccessLeaf`).
    pub leaf: Vec<u8>,
    /// Salt and payload, or that they were redacted.
    pub opening: Opening,
}

/// An anchor recorded by [`AccessLog::record_anchor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRecord {
    /// The anchored access-log checkpoint's size and root.
    pub size: u64,
    pub root: Hash,
    /// The index of the `access_log_anchored` entry in the public log.
    pub public_index: u64,
    /// When it was recorded.
    pub anchored_at: SystemTime,
}

/// One property's access log.
#[derive(Debug)]
pub struct AccessLog {
    property: PropertyId,
    origin: String,
    signer: NoteSigner,
    store: SqliteLogStore,
    openings: Mutex<Connection>,
}

impl AccessLog {
    /// Opens (creating if needed) the access log in `dir`.
    fn open(
        dir: &Path,
        property: PropertyId,
        origin: String,
        signer: NoteSigner,
    ) -> Result<AccessLog, AccessLogError> {
        let store = SqliteLogStore::open(dir)?;
        let openings = connect_openings(&dir.join(OPENINGS_FILE))?;
        Ok(AccessLog {
            property,
            origin,
            signer,
            store,
            openings: Mutex::new(openings),
        })
    }

    /// The property.
    pub fn property(&self) -> &PropertyId {
        &self.property
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key of this log's checkpoints (named by the origin).
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }

    /// The log's store: leaves, tiles, bundles, checkpoints and proofs, as for the public log.
    pub fn store(&self) -> &SqliteLogStore {
        &self.store
    }

    /// Appends an event: draws a fresh salt from `rng`, stores the opening, then the leaf, and
    /// returns the leaf's index once both are durable. `now` is kept as the event's append time
    /// (what [`AccessLog::redact`] compares against).
    pub fn append(
        &self,
        payload: &[u8],
        now: SystemTime,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<u64, AccessLogError> {
        let mut bytes = Zeroizing::new([0u8; SALT_LEN]);
        rng.try_fill_bytes(bytes.as_mut_slice())
            .map_err(|e| AccessLogError::Rng(e.to_string()))?;
        self.append_salted(payload, &Salt::from_bytes(*bytes), now)
    }

    /// [`AccessLog::append`] with a salt the caller drew: 32 bytes from a cryptographically
    /// secure RNG, never used before (a reused salt is refused while its first use is
    /// unredacted; after that, reuse is undetectable and weakens the hiding of both events).
    pub fn append_salted(
        &self,
        payload: &[u8],
        salt: &Salt,
        now: SystemTime,
    ) -> Result<u64, AccessLogError> {
        let commitment = commitment(salt, payload)?;
        let leaf = AccessLeaf { commitment }.to_bytes();
        {
            let conn = lock(&self.openings);
            let inserted = conn.execute(
                "INSERT INTO openings (commitment, salt, payload, appended_ms) VALUES (?1, ?2, ?3, ?4)",
                params![
                    commitment.as_slice(),
                    salt.as_bytes().as_slice(),
                    payload,
                    to_i64(unix_ms(now))?
                ],
            );
            match inserted {
                Ok(_) => {}
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    return Err(AccessLogError::SaltReused);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let indices = self.store.append(&[leaf])?;
        indices
            .first()
            .copied()
            .ok_or_else(|| corrupt("the store returned no index".to_string()))
    }

    /// Appends several events at once, each with its own salt drawn by the caller (as for
    /// [`AccessLog::append_salted`]): every opening in one transaction, then every leaf in one
    /// append. Returns the leaves' indexes, in order. A crash between the two leaves openings
    /// without leaves (harmless: nothing refers to them); [`AccessLog::find_leaves`] tells a
    /// caller which leaves made it.
    pub fn append_batch_salted(
        &self,
        events: &[(&[u8], Salt)],
        now: SystemTime,
    ) -> Result<Vec<u64>, AccessLogError> {
        let mut leaves = Vec::with_capacity(events.len());
        {
            let mut conn = lock(&self.openings);
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO openings (commitment, salt, payload, appended_ms) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let ms = to_i64(unix_ms(now))?;
                for (payload, salt) in events {
                    let commitment = commitment(salt, payload)?;
                    match insert.execute(params![
                        commitment.as_slice(),
                        salt.as_bytes().as_slice(),
                        payload,
                        ms
                    ]) {
                        Ok(_) => {}
                        Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                            return Err(AccessLogError::SaltReused);
                        }
                        Err(e) => return Err(e.into()),
                    }
                    leaves.push(AccessLeaf { commitment }.to_bytes());
                }
            }
            tx.commit()?;
        }
        let indices = self.store.append(&leaves)?;
        if indices.len() != leaves.len() {
            return Err(corrupt("the store returned too few indexes".to_string()));
        }
        Ok(indices)
    }

    /// How many leaves were appended (integrated or not).
    pub fn store_sequenced_size(&self) -> Result<u64, AccessLogError> {
        Ok(self.store.sequenced_size()?)
    }

    /// The leaf an event with this salt and payload has (what [`AccessLog::append_salted`]
    /// appends for it).
    pub fn leaf_of(payload: &[u8], salt: &Salt) -> Result<Vec<u8>, AccessLogError> {
        Ok(AccessLeaf {
            commitment: commitment(salt, payload)?,
        }
        .to_bytes())
    }

    /// Where each of `leaves` is among the appended entries from index `from` on (recovery
    /// after a crash between an append and its caller's record of it).
    pub fn find_leaves(
        &self,
        from: u64,
        leaves: &[Vec<u8>],
    ) -> Result<Vec<Option<u64>>, AccessLogError> {
        let size = self.store.sequenced_size()?;
        let mut found: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
        let mut start = from;
        while start < size {
            let end = size.min(start.saturating_add(4096));
            for (i, e) in (start..).zip(self.store.sequenced_entries(start, end)?) {
                found.entry(e).or_insert(i);
            }
            start = end;
        }
        Ok(leaves.iter().map(|l| found.get(l).copied()).collect())
    }

    /// Integrates new events and signs a checkpoint with the access key (see
    /// [`LogStore::integrate`]); `None` if nothing is new.
    pub fn integrate(&self, now: SystemTime) -> Result<Option<StoredCheckpoint>, AccessLogError> {
        Ok(self.store.integrate(&self.signer, &self.origin, now)?)
    }

    /// The latest checkpoint, if any.
    pub fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, AccessLogError> {
        Ok(self.store.latest_checkpoint()?)
    }

    /// The events `start..end` (at most [`MAX_ACCESS_READ`], all covered by the latest
    /// checkpoint) with their openings; every opening read is checked against its leaf.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<AccessEvent>, AccessLogError> {
        if end.saturating_sub(start) > MAX_ACCESS_READ {
            return Err(AccessLogError::Store(StoreError::BadRange {
                start,
                end,
                why: format!("at most {MAX_ACCESS_READ} access events per read"),
            }));
        }
        let leaves = self.store.entries(start, end)?;
        let conn = lock(&self.openings);
        let mut stmt = conn.prepare_cached(
            "SELECT salt, payload, appended_ms, redacted_ms FROM openings WHERE commitment = ?1",
        )?;
        let mut out = Vec::with_capacity(leaves.len());
        for (index, leaf) in (start..).zip(leaves) {
            let parsed = AccessLeaf::parse(&leaf)
                .map_err(|e| corrupt(format!("access log leaf {index}: {e}")))?;
            let row = stmt
                .query_row(params![parsed.commitment.as_slice()], |r| {
                    Ok((
                        r.get::<_, Option<Vec<u8>>>(0)?,
                        r.get::<_, Option<Vec<u8>>>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                    ))
                })
                .optional()?;
            let opening = match row {
                None => Opening::Missing,
                Some((Some(salt), Some(payload), appended, None)) => {
                    let salt = Zeroizing::new(salt);
                    let salt = Salt::from_slice(&salt)?;
                    parsed.verify_opening(&salt, &payload).map_err(|e| {
                        corrupt(format!("the stored opening of access event {index}: {e}"))
                    })?;
                    Opening::Open {
                        salt,
                        payload,
                        appended_at: from_unix_ms(to_u64(appended, "append time")?),
                    }
                }
                Some((None, None, appended, Some(redacted))) => Opening::Redacted {
                    appended_at: from_unix_ms(to_u64(appended, "append time")?),
                    redacted_at: from_unix_ms(to_u64(redacted, "redaction time")?),
                },
                Some(_) => {
                    return Err(corrupt(format!(
                        "the opening of access event {index} is half redacted"
                    )));
                }
            };
            out.push(AccessEvent {
                index,
                leaf,
                opening,
            });
        }
        Ok(out)
    }

    /// Redacts every opening appended before `older_than` (the end of the retention period):
    /// deletes salt and payload, records `now` as the redaction time. Leaves, hashes and
    /// checkpoints are untouched. Returns how many openings were redacted.
    pub fn redact(&self, older_than: SystemTime, now: SystemTime) -> Result<u64, AccessLogError> {
        let conn = lock(&self.openings);
        let n = conn.execute(
            "UPDATE openings SET salt = NULL, payload = NULL, redacted_ms = ?1
             WHERE redacted_ms IS NULL AND appended_ms < ?2",
            params![to_i64(unix_ms(now))?, to_i64(unix_ms(older_than))?],
        )?;
        truncate_wal(&conn);
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    /// Redacts the opening of the event at `index` now (an erasure before the retention period
    /// ends). Returns whether there was an unredacted opening to redact.
    pub fn redact_event(&self, index: u64, now: SystemTime) -> Result<bool, AccessLogError> {
        let leaf = self
            .store
            .sequenced_entries(index, index.saturating_add(1))?
            .into_iter()
            .next()
            .ok_or_else(|| corrupt(format!("no access event {index}")))?;
        let parsed = AccessLeaf::parse(&leaf)
            .map_err(|e| corrupt(format!("access log leaf {index}: {e}")))?;
        let conn = lock(&self.openings);
        let n = conn.execute(
            "UPDATE openings SET salt = NULL, payload = NULL, redacted_ms = ?1
             WHERE redacted_ms IS NULL AND commitment = ?2",
            params![to_i64(unix_ms(now))?, parsed.commitment.as_slice()],
        )?;
        truncate_wal(&conn);
        Ok(n > 0)
    }

    /// The stored checkpoint of exactly `size` entries.
    pub fn checkpoint(&self, size: u64) -> Result<StoredCheckpoint, AccessLogError> {
        self.store
            .checkpoints(size, 1)?
            .into_iter()
            .next()
            .filter(|cp| cp.size == size)
            .ok_or_else(|| AccessLogError::NoCheckpoint {
                origin: self.origin.clone(),
                size,
            })
    }

    /// A c2sp.org/tlog-proof@v1 bundle for the event at `index` against the stored checkpoint
    /// of `size` entries (the latest if `None`). Verify it with the leaf, [`AccessLog::origin`]
    /// and [`AccessLog::verifier`].
    pub fn prove(&self, index: u64, size: Option<u64>) -> Result<TlogProof, AccessLogError> {
        let cp = match size {
            Some(size) => self.checkpoint(size)?,
            None => {
                self.store
                    .latest_checkpoint()?
                    .ok_or_else(|| AccessLogError::NoCheckpoint {
                        origin: self.origin.clone(),
                        size: 0,
                    })?
            }
        };
        let proof = self.store.inclusion_proof(index, cp.size)?;
        Ok(TlogProof::new(index, proof, cp.note, None)?)
    }

    /// The consistency proof between two tree sizes (see [`LogStore::consistency_proof`]).
    pub fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, AccessLogError> {
        Ok(self.store.consistency_proof(old_size, new_size)?)
    }

    /// The `access_log_anchored` entry for the latest checkpoint, if the log grew since the last
    /// recorded anchor (`at` is `now`). Reads only; see [`AccessLog::record_anchor`].
    pub fn anchor(&self, now: SystemTime) -> Result<Option<PublicEntry>, AccessLogError> {
        let Some(cp) = self.store.latest_checkpoint()? else {
            return Ok(None);
        };
        let last: i64 = lock(&self.openings).query_row(
            "SELECT COALESCE(MAX(size), 0) FROM anchors",
            [],
            |r| r.get(0),
        )?;
        if cp.size <= to_u64(last, "anchor size")? {
            return Ok(None);
        }
        Ok(Some(access_log_anchored_entry(
            now,
            &self.property,
            &self.origin,
            cp.size,
            cp.root.as_bytes(),
        )?))
    }

    /// Records that `entry` (from [`AccessLog::anchor`]) is at `public_index` in the public
    /// log. Checks that it anchors a stored checkpoint of this log. Recording a size twice
    /// keeps the first record.
    pub fn record_anchor(
        &self,
        entry: &PublicEntry,
        public_index: u64,
        now: SystemTime,
    ) -> Result<(), AccessLogError> {
        let PublicEntry::AccessLogAnchored {
            property,
            origin,
            size,
            root,
            ..
        } = entry
        else {
            return Err(AccessLogError::BadAnchor(format!(
                "a {} entry is not an anchor",
                entry.entry_type()
            )));
        };
        if property != self.property.as_str() || origin != &self.origin {
            return Err(AccessLogError::BadAnchor(format!(
                "it anchors {origin:?} of property {property:?}, not {:?}",
                self.origin
            )));
        }
        let root = Hash::from_base64(root)?;
        let cp = self.checkpoint(*size)?;
        if cp.root != root {
            return Err(AccessLogError::BadAnchor(format!(
                "its root {root} is not the root {} of the checkpoint of size {size}",
                cp.root
            )));
        }
        let conn = lock(&self.openings);
        conn.execute(
            "INSERT OR IGNORE INTO anchors (size, root, public_index, anchored_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                to_i64(*size)?,
                root.as_bytes().as_slice(),
                to_i64(public_index)?,
                to_i64(unix_ms(now))?
            ],
        )?;
        Ok(())
    }

    /// Every recorded anchor, smallest size first.
    pub fn anchors(&self) -> Result<Vec<AnchorRecord>, AccessLogError> {
        let conn = lock(&self.openings);
        let mut stmt = conn.prepare_cached(
            "SELECT size, root, public_index, anchored_ms FROM anchors ORDER BY size",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(size, root, public_index, ms)| {
                Ok(AnchorRecord {
                    size: to_u64(size, "anchor size")?,
                    root: Hash::from_slice(&root)
                        .map_err(|e| corrupt(format!("anchor root: {e}")))?,
                    public_index: to_u64(public_index, "public index")?,
                    anchored_at: from_unix_ms(to_u64(ms, "anchor time")?),
                })
            })
            .collect()
    }

    /// The proof of the event at `index` against the first anchored checkpoint that covers it,
    /// with that anchor: what a property's person needs (with the anchor entry's own proof in
    /// the public log) to check that the operator cannot rewrite the event away. `None` while
    /// no anchor covers it yet.
    pub fn anchored_proof(
        &self,
        index: u64,
    ) -> Result<Option<(TlogProof, AnchorRecord)>, AccessLogError> {
        let Some(anchor) = self.anchors()?.into_iter().find(|a| a.size > index) else {
            return Ok(None);
        };
        let proof = self.prove(index, Some(anchor.size))?;
        Ok(Some((proof, anchor)))
    }
}

/// Truncates the WAL after a redaction so the old page images holding redacted bytes leave
/// the disk file too. Best effort: a busy checkpoint is retried by the next redaction, and
/// SQLite checkpoints the WAL on its own as it grows.
fn truncate_wal(conn: &Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
}

/// An anchor appended to the public log by [`AccessLogs::anchor_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    /// The `access_log_anchored` entry.
    pub entry: PublicEntry,
    /// Its index in the public log.
    pub public_index: u64,
}

/// What one [`AccessLogs::anchor_all`] round did.
#[derive(Debug, Default)]
pub struct AnchorReport {
    /// New checkpoints signed, per property.
    pub checkpoints: Vec<(PropertyId, StoredCheckpoint)>,
    /// Anchors appended to the public log and recorded.
    pub anchored: Vec<Anchored>,
    /// Failures (`None`: listing the access logs failed). The other logs went on.
    pub failed: Vec<(Option<PropertyId>, AccessLogError)>,
}

/// Every property's access log in a data dir, opened on demand and kept open.
pub struct AccessLogs {
    dir: PathBuf,
    public_origin: String,
    key: AccessKey,
    logs: Mutex<BTreeMap<PropertyId, Arc<AccessLog>>>,
}

impl std::fmt::Debug for AccessLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessLogs")
            .field("dir", &self.dir)
            .field("public_origin", &self.public_origin)
            .finish_non_exhaustive()
    }
}

impl AccessLogs {
    /// The access logs under `<data_dir>/access/`, for the public log `public_origin`, signed
    /// with `key` (see [`AccessKey::load_or_create`]). Creates the directory; opens no log yet.
    pub fn open(
        data_dir: &Path,
        public_origin: &str,
        key: AccessKey,
    ) -> Result<AccessLogs, AccessLogError> {
        if !valid_origin(public_origin) {
            return Err(AccessLogError::BadOrigin(public_origin.to_string()));
        }
        let dir = data_dir.join(ACCESS_DIR);
        std::fs::create_dir_all(&dir)
            .map_err(|e| io_error(&dir, format!("cannot create the access dir: {e}")))?;
        Ok(AccessLogs {
            dir,
            public_origin: public_origin.to_string(),
            key,
            logs: Mutex::new(BTreeMap::new()),
        })
    }

    /// The origin of `property`'s access log.
    pub fn origin(&self, property: &PropertyId) -> String {
        access_origin(&self.public_origin, property)
    }

    /// The verifier key of `property`'s access log (the access key, named by its origin).
    pub fn verifier(&self, property: &PropertyId) -> Result<NoteVerifier, AccessLogError> {
        Ok(self.key.signer(&self.origin(property))?.verifier())
    }

    /// `property`'s access log, created if it does not exist yet.
    pub fn log(&self, property: &PropertyId) -> Result<Arc<AccessLog>, AccessLogError> {
        self.get(property, true)?
            .ok_or_else(|| AccessLogError::NoLog(property.to_string()))
    }

    /// `property`'s access log if it exists (never creates one).
    pub fn existing(
        &self,
        property: &PropertyId,
    ) -> Result<Option<Arc<AccessLog>>, AccessLogError> {
        self.get(property, false)
    }

    fn get(
        &self,
        property: &PropertyId,
        create: bool,
    ) -> Result<Option<Arc<AccessLog>>, AccessLogError> {
        let mut logs = lock(&self.logs);
        if let Some(log) = logs.get(property) {
            return Ok(Some(Arc::clone(log)));
        }
        let dir = self.dir.join(property_dir_name(property));
        if !create && !dir.is_dir() {
            return Ok(None);
        }
        let origin = self.origin(property);
        if origin.len() > MAX_ORIGIN_LEN {
            return Err(AccessLogError::OriginTooLong {
                len: origin.len(),
                origin,
            });
        }
        let signer = self.key.signer(&origin)?;
        let log = Arc::new(AccessLog::open(&dir, property.clone(), origin, signer)?);
        logs.insert(property.clone(), Arc::clone(&log));
        Ok(Some(log))
    }

    /// Every property with an access log on disk, sorted.
    pub fn properties(&self) -> Result<Vec<PropertyId>, AccessLogError> {
        let entries = std::fs::read_dir(&self.dir)
            .map_err(|e| io_error(&self.dir, format!("cannot list: {e}")))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&self.dir, format!("cannot list: {e}")))?;
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if let Some(p) = entry.file_name().to_str().and_then(property_from_dir_name) {
                out.push(p);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Appends an event to `property`'s access log (created if needed); see
    /// [`AccessLog::append`].
    pub fn append(
        &self,
        property: &PropertyId,
        payload: &[u8],
        now: SystemTime,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<u64, AccessLogError> {
        self.log(property)?.append(payload, now, rng)
    }

    /// Integrates every access log with new events. Returns the new checkpoints and the
    /// failures; one failing log does not stop the others.
    pub fn integrate_all(
        &self,
        now: SystemTime,
    ) -> Vec<(Option<PropertyId>, Result<StoredCheckpoint, AccessLogError>)> {
        let properties = match self.properties() {
            Ok(p) => p,
            Err(e) => return vec![(None, Err(e))],
        };
        let mut out = Vec::new();
        for property in properties {
            match self.log(&property).and_then(|log| log.integrate(now)) {
                Ok(Some(cp)) => out.push((Some(property), Ok(cp))),
                Ok(None) => {}
                Err(e) => out.push((Some(property), Err(e))),
            }
        }
        out
    }

    /// Redacts, in every access log, the openings appended before `older_than`; see
    /// [`AccessLog::redact`]. Returns how many were redacted.
    pub fn redact_all(
        &self,
        older_than: SystemTime,
        now: SystemTime,
    ) -> Result<u64, AccessLogError> {
        let mut total: u64 = 0;
        for property in self.properties()? {
            total = total.saturating_add(self.log(&property)?.redact(older_than, now)?);
        }
        Ok(total)
    }

    /// The `access_log_anchored` entries due: one for each access log whose latest checkpoint
    /// is larger than its last recorded anchor, for that checkpoint, `at` = `now`. Reads only:
    /// it neither integrates nor records. Append each entry's `to_bytes()` to the public log,
    /// then call [`AccessLogs::record_anchor`] with its index; until then the same anchor
    /// (for a grown log, a newer one) is due again.
    pub fn anchors_due(&self, now: SystemTime) -> Result<Vec<PublicEntry>, AccessLogError> {
        let mut out = Vec::new();
        for property in self.properties()? {
            if let Some(entry) = self.log(&property)?.anchor(now)? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Records that an entry from [`AccessLogs::anchors_due`] was appended to the public log at
    /// `public_index`; see [`AccessLog::record_anchor`].
    pub fn record_anchor(
        &self,
        entry: &PublicEntry,
        public_index: u64,
        now: SystemTime,
    ) -> Result<(), AccessLogError> {
        let property = PropertyId::new(entry.property())
            .map_err(|e| AccessLogError::BadAnchor(e.to_string()))?;
        let log = self
            .existing(&property)?
            .ok_or_else(|| AccessLogError::NoLog(property.to_string()))?;
        log.record_anchor(entry, public_index, now)
    }

    /// One anchoring round, for `doorman serve` to call periodically: for every access log,
    /// integrate what is new (signing a checkpoint), then, if the log grew since its last
    /// recorded anchor, build the `access_log_anchored` entry for its latest checkpoint, hand
    /// its canonical bytes to `append` (which must append them to the public log and return
    /// their index once durable, e.g. `Sequencer::append`), and record the anchor.
    ///
    /// At least once: if the process dies between `append` returning and the record being
    /// committed, the next round appends the same anchor again (same size and root, a later
    /// `at`), which is harmless. A failing log or append is reported in the
    /// [`AnchorReport`] and the other logs go on; the next round retries it.
    pub fn anchor_all(
        &self,
        now: SystemTime,
        mut append: impl FnMut(&[u8]) -> Result<u64, StoreError>,
    ) -> AnchorReport {
        let mut report = AnchorReport::default();
        let properties = match self.properties() {
            Ok(p) => p,
            Err(e) => {
                report.failed.push((None, e));
                return report;
            }
        };
        for property in properties {
            let result = self.anchor_one(&property, now, &mut append, &mut report);
            if let Err(e) = result {
                report.failed.push((Some(property), e));
            }
        }
        report
    }

    fn anchor_one(
        &self,
        property: &PropertyId,
        now: SystemTime,
        append: &mut impl FnMut(&[u8]) -> Result<u64, StoreError>,
        report: &mut AnchorReport,
    ) -> Result<(), AccessLogError> {
        let log = self.log(property)?;
        match log.integrate(now) {
            Ok(Some(cp)) => report.checkpoints.push((property.clone(), cp)),
            Ok(None) => {}
            // Another integration (integrate_all on another thread) got there first: anchor
            // what it committed.
            Err(AccessLogError::Store(StoreError::Conflict { .. })) => {}
            Err(e) => return Err(e),
        }
        if let Some(entry) = log.anchor(now)? {
            let public_index = append(&entry.to_bytes()?)?;
            log.record_anchor(&entry, public_index, now)?;
            report.anchored.push(Anchored {
                entry,
                public_index,
            });
        }
        Ok(())
    }
}

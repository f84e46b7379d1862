//! The control plane's records (issue 4): organisations, people, sessions, API tokens,
//! properties with their doors, units and keys, installation requests with evidence,
//! carrier authorizations, drivers and passes, the service switch, revocations, the signed
//! state served to devices, and the outbox that carries public and private log entries.
//!
//! [`Store`] is the interface; [`SqliteStore`] the default backend (`<data dir>/doorman.sqlite`);
//! [`conformance`] the test suite every backend must pass (PostgreSQL, a later issue, runs
//! the same one).
//!
//! # Rules every backend keeps
//!
//! - **A method is one transaction.** A compound change (approve a request: its status, its
//!   consent and the public entry to publish) is written whole or not at all; a failure leaves
//!   nothing half-written.
//! - **State changes check the state they start from.** Deciding a request that is no longer
//!   `requested`, revoking what is already revoked, verifying a claim twice: [`ControlError::Conflict`],
//!   nothing written. So two managers clicking at once cannot both win.
//! - **Log entries go through the outbox.** A record and the log entries it causes are written
//!   in the same transaction ([`OutboxEntry`]); a publisher appends them to the public log (or
//!   a property's access log) afterwards and records where they landed
//!   ([`Store::mark_published`]). An entry is never lost between the two stores, and never
//!   published before its record exists.
//! - **Secrets are stored only hashed or sealed.** Session and API tokens and invitation codes
//!   as SHA-256 hashes (they are 256-bit random, so a slow hash buys nothing); passwords as
//!   argon2id PHC strings; custodial private keys sealed under the key-encryption key. The
//!   store never sees a secret in the clear.
//! - **No clock.** Every time is passed in.

mod conformance_suite;
mod sqlite;

pub use sqlite::{CONTROL_DB_FILE, CONTROL_SCHEMA_VERSION, SqliteStore};

/// The conformance suite: every backend runs it (see [`conformance::run_all`]).
pub mod conformance {
    pub use super::conformance_suite::*;
}

use doorman_core::{
    CarrierId, DeliveryRef, DeviceId, DoorId, OrgId, OrgKind, PropertyId, RequestId, Role,
    ServiceSwitch, UnitId,
};
use doorman_entries::Custody;
use jiff::Timestamp;

/// Why a control-plane store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The thing does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique key is taken (an email, a door id, a token).
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// The thing is not in the state the change starts from.
    #[error("{0}")]
    Conflict(String),
    /// A limit of the store (evidence per request, and so on).
    #[error("{0}")]
    Limit(String),
    /// What is stored cannot be read back (a bug, or the file was changed by hand).
    #[error("the store is inconsistent: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database: {0}")]
    Database(String),
}

impl From<rusqlite::Error> for ControlError {
    fn from(e: rusqlite::Error) -> ControlError {
        ControlError::Database(e.to_string())
    }
}

impl From<crate::StoreError> for ControlError {
    fn from(e: crate::StoreError) -> ControlError {
        match e {
            crate::StoreError::Corrupt(why) => ControlError::Corrupt(why),
            other => ControlError::Database(other.to_string()),
        }
    }
}

/// Shorthand.
pub type Result<T, E = ControlError> = std::result::Result<T, E>;

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    /// Lower-cased; unique.
    pub email: String,
    pub name: String,
    /// argon2id, PHC string format.
    pub password_hash: String,
    pub created_at: Timestamp,
}

/// An organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub kind: OrgKind,
    pub name: String,
    pub created_at: Timestamp,
    /// A carrier's pass-signing key, once registered.
    pub carrier_key: Option<CarrierKey>,
}

/// A carrier's key: the public half always; the private half only when the carrier chose to
/// let the server mint passes for it (sealed under the key-encryption key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarrierKey {
    /// `ed25519/<hex>`.
    pub public_key: String,
    pub sealed_secret: Option<Vec<u8>>,
    pub set_at: Timestamp,
}

/// A person's role in an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: String,
    pub org: OrgId,
    /// The organisation's kind (denormalised: the policy needs it with every membership).
    pub kind: OrgKind,
    pub role: Role,
    /// A resident's property and unit.
    pub property: Option<PropertyId>,
    pub unit: Option<UnitId>,
    pub created_at: Timestamp,
}

/// An invitation to join an organisation in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub org: OrgId,
    pub role: Role,
    /// Lower-cased.
    pub email: String,
    pub property: Option<PropertyId>,
    pub unit: Option<UnitId>,
    /// SHA-256 of the invitation code.
    pub code_hash: Vec<u8>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session token.
    pub token_hash: Vec<u8>,
    pub user: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An API token: one organisation, one role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    /// SHA-256 of the token.
    pub token_hash: Vec<u8>,
    pub org: OrgId,
    pub role: Role,
    pub name: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

/// Failed sign-ins for one email address (kept whether or not an account has it, so the
/// throttle says nothing about which addresses exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LoginThrottle {
    /// Failures since the last success or lockout.
    pub failures: u32,
    pub last_failure_at: Option<Timestamp>,
    pub locked_until: Option<Timestamp>,
}

/// Where a property's claim stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyStatus {
    /// Claimed, waiting for the operator.
    Claimed,
    /// Verified by the operator; registered in the public log.
    Verified,
    /// The operator refused the claim.
    Rejected,
}

impl PropertyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PropertyStatus::Claimed => "claimed",
            PropertyStatus::Verified => "verified",
            PropertyStatus::Rejected => "rejected",
        }
    }
}

/// A property (building).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    pub id: PropertyId,
    pub org: OrgId,
    pub name: String,
    /// As given.
    pub address: String,
    /// `doorman_entries::normalize_address(address)`.
    pub address_key: String,
    pub time_zone: String,
    pub custody: Custody,
    /// `ed25519/<hex>`.
    pub public_key: String,
    /// Custodial only: the private key, sealed.
    pub sealed_key: Option<Vec<u8>>,
    pub status: PropertyStatus,
    pub claimed_by: String,
    pub created_at: Timestamp,
    /// The operator's decision: who (user), which operator org, the evidence note, when.
    pub decision: Option<Decision>,
    /// The `property_registered` entry, once verified.
    pub registered_outbox: Option<i64>,
    /// Bumped by every revocation at this property (the revocation list's `seq`).
    pub revocation_seq: u64,
    /// Bumped by every service switch change (the service state's `seq`).
    pub service_seq: u64,
}

/// Who decided, when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub by: String,
    pub org: OrgId,
    pub note: String,
    pub at: Timestamp,
}

/// A door of a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    pub property: PropertyId,
    pub door: DoorId,
    pub name: String,
    pub created_at: Timestamp,
}

/// A unit (apartment) of a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub property: PropertyId,
    pub unit: UnitId,
    pub created_at: Timestamp,
}

/// Where an installation request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallationStatus {
    Requested,
    Approved,
    Rejected,
    /// Approved, then its consent was revoked.
    Revoked,
}

impl InstallationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstallationStatus::Requested => "requested",
            InstallationStatus::Approved => "approved",
            InstallationStatus::Rejected => "rejected",
            InstallationStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<InstallationStatus> {
        [
            InstallationStatus::Requested,
            InstallationStatus::Approved,
            InstallationStatus::Rejected,
            InstallationStatus::Revoked,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// An installer's request to put a device on a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub id: RequestId,
    pub property: PropertyId,
    pub door: DoorId,
    pub installer_org: OrgId,
    pub filed_by: String,
    pub device: DeviceId,
    /// `ed25519/<hex>`.
    pub device_key: String,
    pub notes: String,
    pub status: InstallationStatus,
    pub created_at: Timestamp,
    pub requested_outbox: i64,
    /// Approval or rejection.
    pub decision: Option<Decision>,
    pub consent: Option<Consent>,
    /// The revocation of its consent.
    pub revocation: Option<Decision>,
    pub revoked_outbox: Option<i64>,
}

/// The consent an approval produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Base64url token text.
    pub token: String,
    pub revocation_id: Vec<u8>,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub outbox: i64,
}

/// A photo attached to an installation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub installation: RequestId,
    /// 1, 2, ... in upload order.
    pub number: u32,
    pub content_type: String,
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: Vec<u8>,
    pub uploaded_by: String,
    pub created_at: Timestamp,
}

/// Most photos per installation request.
pub const MAX_EVIDENCE_PER_REQUEST: u32 = 20;

/// A carrier authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub id: String,
    pub property: PropertyId,
    pub carrier: CarrierId,
    /// The carrier key it names (`ed25519/<hex>`).
    pub carrier_key: String,
    pub doors: Vec<DoorId>,
    /// Canonical schedule text.
    pub schedule: String,
    pub time_zone: String,
    pub daily_cap: Option<u32>,
    pub max_pass_seconds: i64,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// Base64url token text.
    pub token: String,
    pub revocation_id: Vec<u8>,
    pub created_by: String,
    pub created_at: Timestamp,
    pub outbox: i64,
    pub revocation: Option<Decision>,
    pub revoked_outbox: Option<i64>,
}

/// A driver of a carrier: a pseudonymous id and the key on their handset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Driver {
    pub id: String,
    pub org: OrgId,
    /// For the carrier's own people; never shown outside the carrier.
    pub name: String,
    /// `ed25519/<hex>`.
    pub public_key: String,
    pub created_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

/// A pass the server minted for a carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// Lowercase hex of the pass id (the carrier block's revocation id).
    pub id: String,
    pub authorization: String,
    pub door: DoorId,
    pub unit: UnitId,
    pub delivery: DeliveryRef,
    pub driver: Option<String>,
    pub driver_key: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub token: String,
    pub minted_by: String,
    pub minted_at: Timestamp,
}

/// What a revoked id belonged to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedKind {
    Consent,
    Authorization,
    Pass,
    /// An id a manager revoked directly (a pass minted offline and reported lost).
    Other,
}

impl RevokedKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokedKind::Consent => "consent",
            RevokedKind::Authorization => "authorization",
            RevokedKind::Pass => "pass",
            RevokedKind::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<RevokedKind> {
        [
            RevokedKind::Consent,
            RevokedKind::Authorization,
            RevokedKind::Pass,
            RevokedKind::Other,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// One revoked id at a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub property: PropertyId,
    pub revocation_id: Vec<u8>,
    pub kind: RevokedKind,
    /// The installation, authorization or pass id, or empty.
    pub reference: String,
    pub reason: String,
    pub revoked_by: String,
    pub revoked_at: Timestamp,
    /// When the revoked token expires anyway (the id can leave the list then).
    pub expires_at: Option<Timestamp>,
}

/// A property's service switch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub property: PropertyId,
    pub switch: ServiceSwitch,
    /// The property's `service_seq` this state has.
    pub seq: u64,
    pub changed_at: Option<Timestamp>,
    pub changed_by: Option<String>,
}

/// Which signed document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    RevocationList,
    ServiceState,
}

impl DocumentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::RevocationList => "revocation_list",
            DocumentKind::ServiceState => "service_state",
        }
    }
}

/// A signed device-state document (`doorman_trust::state`), as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDocument {
    pub property: PropertyId,
    pub kind: DocumentKind,
    /// The document's own sequence number (grows with every issue, including re-issues
    /// that only refresh `issued_at`).
    pub seq: u64,
    /// The property's `revocation_seq` or `service_seq` the document reflects.
    pub covers: u64,
    pub issued_at: Timestamp,
    pub document: Vec<u8>,
}

/// Where an outbox entry goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// The public transparency log.
    Public,
    /// A property's private access log.
    Access(PropertyId),
}

/// A log entry to publish, written with the record that causes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub target: LogTarget,
    pub entry: Vec<u8>,
}

/// An outbox entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRecord {
    pub id: i64,
    pub target: LogTarget,
    pub entry: Vec<u8>,
    pub created_at: Timestamp,
    /// Its index in the target log, once published.
    pub log_index: Option<u64>,
}

/// Filters for listing installation requests (all `None`: everything).
#[derive(Debug, Clone, Default)]
pub struct InstallationFilter {
    pub property: Option<PropertyId>,
    pub properties_of_org: Option<OrgId>,
    pub installer_org: Option<OrgId>,
    pub status: Option<InstallationStatus>,
}

/// Filters for listing authorizations.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationFilter {
    pub property: Option<PropertyId>,
    pub properties_of_org: Option<OrgId>,
    pub carrier: Option<CarrierId>,
    /// Only those not revoked.
    pub active_only: bool,
    /// Only those after this one in list order (created time, then id): a page's cursor.
    pub after: Option<(Timestamp, String)>,
    /// At most this many (none: all).
    pub limit: Option<usize>,
}

/// The control plane's storage. Synchronous and object-safe; the server runs it on its
/// blocking pool. See the [module docs](self) for the rules every backend keeps.
pub trait Store: Send + Sync + std::fmt::Debug {
    // ---- Setup -------------------------------------------------------------------------

    /// Whether an operator account exists.
    fn is_set_up(&self) -> Result<bool>;

    /// Replaces the one-time setup code (its hash) while no operator exists.
    fn put_setup_code(&self, code_hash: &[u8], now: Timestamp) -> Result<()>;

    /// Creates the operator organisation and its first operator, if `code_hash` is the
    /// current setup code and no operator exists yet; the code is used up.
    fn claim_setup(&self, code_hash: &[u8], user: &User, org: &Org) -> Result<()>;

    // ---- People and organisations -----------------------------------------------------

    /// Creates a user, an organisation and the user's founding membership at once (signing
    /// up). `Duplicate("email")` if the address is taken.
    fn sign_up(&self, user: &User, org: &Org, role: Role) -> Result<()>;

    fn user(&self, id: &str) -> Result<Option<User>>;
    fn user_by_email(&self, email: &str) -> Result<Option<User>>;

    fn org(&self, id: &OrgId) -> Result<Option<Org>>;
    /// Every organisation, optionally of one kind, by name.
    fn orgs(&self, kind: Option<OrgKind>) -> Result<Vec<Org>>;
    /// Creates an organisation for an existing user (who becomes its founder).
    fn create_org(&self, org: &Org, founder: &str, role: Role, now: Timestamp) -> Result<()>;

    /// A user's memberships.
    fn memberships(&self, user: &str) -> Result<Vec<Member>>;
    /// An organisation's members with their accounts.
    fn members(&self, org: &OrgId) -> Result<Vec<(Member, User)>>;
    /// Removes a membership (all of a user's in that org). `NotFound` if none.
    fn remove_member(&self, org: &OrgId, user: &str) -> Result<()>;
    /// Removes a resident's membership at a property (any unit). `NotFound` if none.
    fn remove_resident(&self, property: &PropertyId, user: &str) -> Result<()>;
    /// Residents of a property.
    fn residents(&self, property: &PropertyId) -> Result<Vec<(Member, User)>>;

    fn set_carrier_key(&self, org: &OrgId, key: &CarrierKey) -> Result<()>;

    // ---- Invitations -------------------------------------------------------------------

    fn create_invitation(&self, invitation: &Invitation) -> Result<()>;
    fn invitations(&self, org: &OrgId) -> Result<Vec<Invitation>>;
    /// The invitation with this code (used or not).
    fn invitation_by_code(&self, code_hash: &[u8]) -> Result<Option<Invitation>>;
    fn delete_invitation(&self, org: &OrgId, id: &str) -> Result<()>;
    /// Accepts an open invitation with this code: creates `new_user` if given (the invitee
    /// has no account yet) or uses the account of the invited email, adds the membership and
    /// marks the invitation used. `NotFound` for an unknown code, `Conflict` for a used or
    /// expired one.
    fn accept_invitation(
        &self,
        code_hash: &[u8],
        new_user: Option<&User>,
        now: Timestamp,
    ) -> Result<Member>;

    // ---- Sessions, tokens, sign-in throttling ------------------------------------------

    fn create_session(&self, session: &Session) -> Result<()>;
    fn session(&self, token_hash: &[u8]) -> Result<Option<Session>>;
    fn delete_session(&self, token_hash: &[u8]) -> Result<()>;
    /// Deletes expired sessions; returns how many.
    fn purge_sessions(&self, now: Timestamp) -> Result<u64>;

    fn create_api_token(&self, token: &ApiToken) -> Result<()>;
    fn api_token_by_hash(&self, token_hash: &[u8]) -> Result<Option<ApiToken>>;
    fn api_tokens(&self, org: &OrgId) -> Result<Vec<ApiToken>>;
    /// Revokes a token of `org`. `NotFound` if none, `Conflict` if already revoked.
    fn revoke_api_token(&self, org: &OrgId, id: &str, now: Timestamp) -> Result<()>;
    /// Records a use (backends may skip the write if the last one is recent).
    fn touch_api_token(&self, id: &str, now: Timestamp) -> Result<()>;

    fn login_throttle(&self, email: &str) -> Result<LoginThrottle>;
    fn put_login_throttle(&self, email: &str, throttle: &LoginThrottle) -> Result<()>;

    // ---- Properties --------------------------------------------------------------------

    fn create_property(&self, property: &Property) -> Result<()>;
    fn property(&self, id: &PropertyId) -> Result<Option<Property>>;
    /// Properties of one organisation, or all (`None`), by creation.
    fn properties(&self, org: Option<&OrgId>) -> Result<Vec<Property>>;
    /// Operator's decision on a claim (`Conflict` unless it is `claimed`). Verifying writes the
    /// `property_registered` entry to the outbox; rejecting writes none.
    fn decide_property(
        &self,
        id: &PropertyId,
        verified: bool,
        decision: &Decision,
        entry: Option<&OutboxEntry>,
    ) -> Result<Property>;

    fn add_door(&self, door: &Door) -> Result<()>;
    fn doors(&self, property: &PropertyId) -> Result<Vec<Door>>;
    /// `Conflict` while an approved installation or an active authorization uses it.
    fn remove_door(&self, property: &PropertyId, door: &DoorId) -> Result<()>;
    fn add_unit(&self, unit: &Unit) -> Result<()>;
    fn units(&self, property: &PropertyId) -> Result<Vec<Unit>>;
    /// `Conflict` while residents live there.
    fn remove_unit(&self, property: &PropertyId, unit: &UnitId) -> Result<()>;

    // ---- Installations -----------------------------------------------------------------

    /// Stores a new request (status `requested`) with its `installation_requested` entry;
    /// fills in `requested_outbox`.
    fn create_installation(
        &self,
        installation: &Installation,
        entry: &OutboxEntry,
    ) -> Result<Installation>;
    fn installation(&self, id: &RequestId) -> Result<Option<Installation>>;
    fn installations(&self, filter: &InstallationFilter) -> Result<Vec<Installation>>;
    /// Approves a `requested` request with its consent and `consent_granted` entry.
    fn approve_installation(
        &self,
        id: &RequestId,
        decision: &Decision,
        consent: &Consent,
        entry: &OutboxEntry,
    ) -> Result<Installation>;
    /// Rejects a `requested` request.
    fn reject_installation(&self, id: &RequestId, decision: &Decision) -> Result<Installation>;
    /// Revokes an approved request's consent: status `revoked`, the revocation at the
    /// property (its `revocation_seq` grows) and the `consent_revoked` entry.
    fn revoke_consent(
        &self,
        id: &RequestId,
        decision: &Decision,
        revocation: &Revocation,
        entry: &OutboxEntry,
    ) -> Result<Installation>;

    /// Adds a photo (the next number) to a `requested` request. `Limit` past
    /// [`MAX_EVIDENCE_PER_REQUEST`].
    fn add_evidence(&self, evidence: &Evidence, data: &[u8]) -> Result<Evidence>;
    fn evidence(&self, installation: &RequestId) -> Result<Vec<Evidence>>;
    fn evidence_data(
        &self,
        installation: &RequestId,
        number: u32,
    ) -> Result<Option<(Evidence, Vec<u8>)>>;

    // ---- Carrier authorizations, drivers, passes -------------------------------------

    fn create_authorization(
        &self,
        authorization: &Authorization,
        entry: &OutboxEntry,
    ) -> Result<Authorization>;
    fn authorization(&self, id: &str) -> Result<Option<Authorization>>;
    fn authorizations(&self, filter: &AuthorizationFilter) -> Result<Vec<Authorization>>;
    /// Revokes an active authorization: the revocation at the property and the
    /// `authorization_revoked` entry.
    fn revoke_authorization(
        &self,
        id: &str,
        decision: &Decision,
        revocation: &Revocation,
        entry: &OutboxEntry,
    ) -> Result<Authorization>;

    /// `Conflict` (naming that driver) if a driver of the same carrier, not removed, has the key.
    fn add_driver(&self, driver: &Driver) -> Result<()>;
    fn drivers(&self, org: &OrgId) -> Result<Vec<Driver>>;
    fn driver(&self, org: &OrgId, id: &str) -> Result<Option<Driver>>;
    fn remove_driver(&self, org: &OrgId, id: &str, now: Timestamp) -> Result<()>;

    fn record_pass(&self, pass: &Pass) -> Result<()>;
    fn passes(&self, authorization: &str, limit: usize) -> Result<Vec<Pass>>;

    // ---- The switch, revocations and signed state --------------------------------------

    /// The property's service switch (all on if never changed).
    fn service(&self, property: &PropertyId) -> Result<Service>;
    /// Sets the switch if the property's `service_seq` is still `expected_seq`; bumps it and
    /// writes `entry` (the change, for the property's access log). Returns the new state.
    fn set_service(
        &self,
        property: &PropertyId,
        expected_seq: u64,
        switch: &ServiceSwitch,
        by: &str,
        now: Timestamp,
        entry: &OutboxEntry,
    ) -> Result<Service>;

    /// Adds a revocation (bumps `revocation_seq`); `Duplicate` if that id is revoked already.
    fn add_revocation(&self, revocation: &Revocation, entry: Option<&OutboxEntry>) -> Result<()>;
    /// The property's revocations (all, or only those not expired at `now`).
    fn revocations(&self, property: &PropertyId, now: Option<Timestamp>)
    -> Result<Vec<Revocation>>;

    /// Stores a signed document if its `seq` is newer than the stored one.
    fn put_document(&self, document: &SignedDocument) -> Result<()>;
    fn document(&self, property: &PropertyId, kind: DocumentKind)
    -> Result<Option<SignedDocument>>;

    // ---- Small settings kept with the records ---------------------------------------

    /// A value kept under `key` (the outbox publisher's recovery floor, say).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>>;
    fn put_meta(&self, key: &str, value: &[u8]) -> Result<()>;

    // ---- Outbox ------------------------------------------------------------------------

    /// Unpublished entries, oldest first.
    fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxRecord>>;
    fn outbox(&self, id: i64) -> Result<Option<OutboxRecord>>;
    /// Records where an entry landed. Idempotent for the same index; `Conflict` for another.
    fn mark_published(&self, id: i64, log_index: u64) -> Result<()>;
    /// [`Store::mark_published`] for many entries in one transaction (all or nothing).
    fn mark_published_all(&self, marks: &[(i64, u64)]) -> Result<()>;
    /// The log indexes of outbox entries (`None` while unpublished or unknown), in order.
    fn log_indexes(&self, ids: &[i64]) -> Result<Vec<Option<u64>>>;
    /// The largest log index recorded for `target`, if any entry for it was published.
    fn last_published(&self, target: &LogTarget) -> Result<Option<u64>>;
}

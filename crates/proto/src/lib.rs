//! Doorman's wire types: what goes over HTTP between the control plane (`doorman serve`) and
//! its clients (the `doorman` CLI, `doorman-client`, carriers' dispatch systems, installers'
//! apps). A change of the API's format is a diff here.
//!
//! - Requests refuse unknown members (`deny_unknown_fields`), so a misspelt field is an error,
//!   not silently ignored.
//! - Times are RFC 3339 strings in UTC; keys are `ed25519/<64 hex digits>`; tokens are
//!   unpadded base64url text; revocation ids are lowercase hex.
//! - Lists come wrapped, `{"items": [...]}`, so paging can be added without a break.
//! - Errors are [`Problem`] (RFC 9457 problem details) with a stable [`codes`] value.
//!
//! The OpenAPI 3.1 document (`GET /api/v1/openapi.json`) is generated from these types and
//! the server's handlers.

pub mod codes;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An RFC 9457 problem details body. Every error of the API (and of the public log's
/// endpoints) is one, with `Content-Type: application/problem+json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: `code` says what went wrong.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong and how to fix it, for people (may change between versions).
    pub detail: String,
    /// The stable error code clients branch on (see [`codes`]).
    pub code: String,
    /// The request's id, also in the `x-request-id` response header and the server's log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A list, or one page of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    /// On a paged list, when more items follow: pass it as `?after=` to get the next page. A
    /// cursor is opaque; a page may hold fewer items than the limit even when more follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<String>,
}

impl<T> List<T> {
    /// A whole list.
    pub fn new(items: Vec<T>) -> List<T> {
        List {
            items,
            next_after: None,
        }
    }

    /// One page, and the cursor of the next one if more items follow.
    pub fn page(items: Vec<T>, next_after: Option<String>) -> List<T> {
        List { items, next_after }
    }
}

/// Items per page of a paged list unless `?limit=` says otherwise.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
/// The most items per page of a paged list.
pub const MAX_PAGE_LIMIT: usize = 1000;

// ---- People, sessions, organisations -------------------------------------------------------

/// `POST /api/v1/setup`: create the operator with the one-time setup code `doorman serve`
/// printed at first start.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    pub code: String,
    /// The operator organisation's name.
    pub org_name: String,
    pub email: String,
    pub name: String,
    /// At least 12 characters.
    pub password: String,
}

/// `POST /api/v1/signup`: a new organisation and its founder (owner of a property
/// organisation, admin of an installer or carrier).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// `property`, `installer` or `carrier`.
    pub org_kind: String,
    pub org_name: String,
    pub email: String,
    pub name: String,
    pub password: String,
}

/// `POST /api/v1/sessions`: sign in.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

/// `POST /api/v1/invitations/accept`. With no account for the invited email yet, `name` and
/// `password` create it; with one, `password` must be that account's.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub code: String,
    #[serde(default)]
    pub name: Option<String>,
    pub password: String,
}

/// A session: its bearer token (also set as the `doorman_session` cookie) and who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    pub me: Me,
}

/// `GET /api/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    pub memberships: Vec<MembershipView>,
    /// `session` or `api_token`.
    pub via: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MembershipView {
    pub org: String,
    pub org_name: String,
    /// `operator`, `property`, `installer` or `carrier`.
    pub kind: String,
    /// `operator`, `owner`, `manager`, `resident`, `admin`, `installer`, `dispatcher`, `driver`.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// `POST /api/v1/orgs`: a signed-in person founds another organisation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgView {
    pub id: String,
    pub kind: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// A carrier's pass-signing key, once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_key: Option<String>,
    /// Whether the server holds the carrier's private key (it can then mint passes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_key_custodial: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    pub user: UserView,
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// `POST /api/v1/orgs/{org}/invitations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    pub role: String,
}

/// `POST /api/v1/properties/{property}/residents`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteResidentRequest {
    pub email: String,
    pub unit: String,
}

/// An invitation. `code` is shown once, when it is made: hand it to the invitee, who
/// accepts with `POST /api/v1/invitations/accept` (or `doorman invitation accept`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub org: String,
    pub role: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub accepted_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `POST /api/v1/orgs/{org}/tokens`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// What it is for ("dispatch system", "installer app").
    pub name: String,
    pub role: String,
    /// Days until it expires (1 to 3650); none: it lives until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// An API token. `token` is shown once, when it is made; the server keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub org: String,
    pub name: String,
    pub role: String,
    pub created_by: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `PUT /api/v1/orgs/{org}/carrier-key`: register the carrier's own public key (it mints
/// passes offline), or let the server generate and hold one (`custodial`: the server can
/// then mint passes by API).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierKeyRequest {
    #[serde(default)]
    pub public_key: Option<String>,
    #[serde(default)]
    pub custodial: bool,
}

/// `POST /api/v1/orgs/{org}/drivers`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDriverRequest {
    /// For the carrier's own people only; never shown outside the carrier.
    pub name: String,
    /// The key on the driver's handset.
    pub public_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DriverView {
    /// A pseudonym (`drv_…`): what passes and the building's log show.
    pub id: String,
    pub name: String,
    pub public_key: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub removed_at: Option<Timestamp>,
}

/// A carrier in the directory managers pick from (`GET /api/v1/carriers`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CarrierView {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_key: Option<String>,
}

// ---- Properties ------------------------------------------------------------------------------

/// `POST /api/v1/properties`: claim a property for an organisation. The operator verifies
/// the claim before it can be used.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimPropertyRequest {
    pub org: String,
    pub name: String,
    pub address: String,
    /// IANA name, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// `custodial` (the server generates and holds the property key, sealed) or `self` (the
    /// owner holds it and signs offline; give `public_key`).
    pub custody: String,
    #[serde(default)]
    pub public_key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PropertyView {
    pub id: String,
    pub org: String,
    pub name: String,
    pub address: String,
    /// The normalised address lookups match on.
    pub address_key: String,
    pub time_zone: String,
    pub custody: String,
    pub public_key: String,
    /// `claimed`, `verified` or `rejected`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
    /// The public log index of its `property_registered` entry, once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

/// Who decided, for which organisation, why, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionView {
    pub by: String,
    pub org: String,
    pub note: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// `POST .../verify` (the evidence checked), `.../reject` (why).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    pub note: String,
}

/// `POST /api/v1/properties/{property}/doors`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDoorRequest {
    /// A short id used in tokens (`street`, `garage`).
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DoorView {
    pub id: String,
    pub name: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// `POST /api/v1/properties/{property}/units`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnitRequest {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResidentView {
    pub user: UserView,
    pub unit: String,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// The owner's switch as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServiceView {
    pub property: String,
    pub property_disabled: bool,
    pub disabled_doors: Vec<String>,
    pub disabled_carriers: Vec<String>,
    /// Changes so far; give it back as `expected_seq` to change it safely.
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub changed_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
    /// The `seq` of the latest state signed with the property key (what devices get);
    /// behind `seq` for a self-custody property until the owner uploads the signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_seq: Option<u64>,
    /// Self-custody: the next service state to sign (base64url of its payload: the switch as it
    /// stands, issued now), for `doorman state sign` / `doorman state push`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_payload: Option<String>,
}

/// `POST /api/v1/properties/{property}/service`: switch service off or on for the whole
/// property (`scope: property`), one door or one carrier. Effective at once in the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceChangeRequest {
    /// `property`, `door` or `carrier`.
    pub scope: String,
    /// The door or carrier id (not for `property`).
    #[serde(default)]
    pub target: Option<String>,
    pub enabled: bool,
    /// The `seq` the change was decided on; a change made meanwhile is a `409 conflict`.
    #[serde(default)]
    pub expected_seq: Option<u64>,
}

/// A property's revocations and the signed list devices get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationsView {
    pub property: String,
    /// Revocations so far (the list's `seq`).
    pub seq: u64,
    pub revoked: Vec<RevocationView>,
    /// The latest signed list (`doorman_trust::state`: a JSON object), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_seq: Option<u64>,
    /// Self-custody: the next list to sign (base64url of its payload: the revocations in force,
    /// issued now) with `doorman state sign` and upload with `PUT .../revocations/signed`
    /// (`doorman state push` does both). Signing again before the offline bound keeps devices'
    /// lists fresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_payload: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevocationView {
    pub revocation_id: String,
    /// `consent`, `authorization`, `pass` or `other`.
    pub kind: String,
    pub reference: String,
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub revoked_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

/// `POST /api/v1/properties/{property}/revocations`: revoke one token id (say, a pass minted
/// offline and reported lost).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeIdRequest {
    pub revocation_id: String,
    /// A reason code: `[a-z0-9_]`, at most 64.
    pub reason: String,
    /// When the token expires anyway (it can leave the list then).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

/// `PUT .../revocations/signed`, `PUT .../service/signed`: a self-custody owner uploads the
/// state signed offline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedDocumentRequest {
    pub document: String,
}

/// An installation's device configuration (`GET …/installations/{i}/activation/config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfigView {
    pub installation: String,
    /// `self` or `custodial`.
    pub custody: String,
    /// Self-custody: the configuration to sign offline (base64url payload; `doorman state
    /// sign` or `doorman installation sign-config` sign it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_payload: Option<String>,
    /// Self-custody: the signed configuration uploaded, which activation bundles carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

/// A log entry and its inclusion proof, in an activation bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoggedEntryView {
    /// The entry's canonical bytes (JSON text).
    pub entry: String,
    /// A `c2sp.org/tlog-proof@v1` bundle for it.
    pub proof: String,
}

/// `GET /api/v1/installations/{installation}/activation`: the bundle a door device verifies
/// itself before it serves its door (`doorman-agent activate`). The format is defined by
/// `doorman_device::ActivationBundle` (docs/agent.md); a test pins the two together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivationBundleView {
    /// `doorman_activation`.
    #[serde(rename = "type")]
    pub kind: String,
    /// 1.
    pub v: u64,
    /// The property's `property_registered` entry.
    pub registration: LoggedEntryView,
    /// The device's `consent_granted` entry.
    pub consent: LoggedEntryView,
    /// The device configuration signed with the property key.
    pub config: String,
    /// The property's signed revocation list.
    pub revocations: String,
    /// The property's signed service state.
    pub service: String,
    /// How the device reaches the server over MQTT (absent when device messaging is off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<BrokerLinkView>,
}

/// A device's broker account, in its activation bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerLinkView {
    /// `host:port` of the broker's listener for devices.
    pub broker: String,
    /// The device id.
    pub username: String,
    /// The device's broker password.
    pub password: String,
    /// The device's TLS client certificate (PEM) for the embedded broker, issued for the
    /// device's own key; it names the device's tenant, the only topics the broker lets it use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// The CA certificate (PEM) the embedded broker's certificate chains to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// The broker wants a fresh client id on every connection, `<device>.<n>` with `n`
    /// larger each time (the embedded broker; docs/mqtt.md); otherwise the device id.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub client_id_per_connection: bool,
}

/// A signed device-state document as served to devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SignedDocumentView {
    pub property: String,
    pub kind: String,
    pub seq: u64,
    #[schema(value_type = String, format = DateTime)]
    pub issued_at: Timestamp,
    pub document: String,
}

// ---- Installations --------------------------------------------------------------------------

/// `POST /api/v1/installations`: an installer asks to put a device on a door, with the
/// enrolment data the device printed at first start.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstallationRequest {
    pub property: String,
    pub door: String,
    pub device_id: String,
    pub device_key: String,
    /// Wiring notes (at most 8 KiB).
    #[serde(default)]
    pub notes: String,
    /// The installer organisation filing it; needed only if the caller belongs to several.
    #[serde(default)]
    pub installer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstallationView {
    pub id: String,
    pub property: String,
    pub door: String,
    pub installer: String,
    pub filed_by: String,
    pub device_id: String,
    pub device_key: String,
    pub notes: String,
    /// `requested`, `approved`, `rejected` or `revoked`.
    pub status: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Public log index of `installation_requested`, once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<DecisionView>,
    pub evidence: Vec<EvidenceView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentView {
    pub token: String,
    pub revocation_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub not_before: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub not_after: Timestamp,
    /// Public log index of `consent_granted`, once published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceView {
    pub number: u32,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

/// `POST /api/v1/installations/{id}/approve`. Custodial: the server signs the consent for
/// the window given (default: from now for a year). Self-custody: `consent` is the token
/// signed offline with `doorman consent sign`, checked against the request.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub not_before: Option<Timestamp>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub not_after: Option<Timestamp>,
    #[serde(default)]
    pub consent: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// `.../reject`, `.../revoke`: a reason code (`[a-z0-9_]`, at most 64).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

// ---- Carrier authorizations and passes -----------------------------------------------------

/// `POST /api/v1/properties/{property}/authorizations`. Custodial: the server signs it.
/// Self-custody: `authorization` is the token signed offline with `doorman authorization
/// sign`, checked against the rest of the request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub carrier: String,
    pub doors: Vec<String>,
    /// E.g. `Mon-Fri 08:00-20:00; Sat 09:00-13:00`, on the property's wall clock.
    pub schedule: String,
    #[serde(default)]
    pub daily_cap: Option<u32>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub not_before: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub not_after: Timestamp,
    /// Longest pass window, e.g. `2h` (default) or `45m`; at most `24h`.
    #[serde(default)]
    pub max_pass_duration: Option<String>,
    #[serde(default)]
    pub authorization: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuthorizationView {
    pub id: String,
    pub property: String,
    pub carrier: String,
    pub carrier_key: String,
    pub doors: Vec<String>,
    pub schedule: String,
    pub time_zone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_cap: Option<u32>,
    pub max_pass_seconds: i64,
    #[schema(value_type = String, format = DateTime)]
    pub not_before: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub not_after: Timestamp,
    /// `active`, `revoked` or `expired`.
    pub status: String,
    /// The token (base64url): a carrier mints passes on it.
    pub token: String,
    pub revocation_id: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<DecisionView>,
}

/// `POST /api/v1/authorizations/{id}/passes`: the server mints a pass with the carrier's
/// custodial key. Name the driver by id (`driver`) or by key (`driver_key`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MintPassRequest {
    pub door: String,
    pub unit: String,
    pub delivery: String,
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub driver_key: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub not_before: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub not_after: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PassView {
    /// The pass id (lowercase hex), also its revocation id.
    pub id: String,
    pub authorization: String,
    pub door: String,
    pub unit: String,
    pub delivery: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    pub driver_key: String,
    #[schema(value_type = String, format = DateTime)]
    pub not_before: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub not_after: Timestamp,
    pub token: String,
    #[schema(value_type = String, format = DateTime)]
    pub minted_at: Timestamp,
}

// ---- The property's access log ---------------------------------------------------------------

/// `GET /api/v1/properties/{property}/access-log`: the property's private log, for its
/// owners and managers: every event with its opening (or that it was redacted), and the
/// checkpoint they are covered by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessLogView {
    pub property: String,
    pub origin: String,
    /// The signed-note verifier key of the log's checkpoints.
    pub verifier_key: String,
    /// Events covered by the latest checkpoint.
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    pub events: Vec<AccessEventView>,
    /// The `from` of the next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_from: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessEventView {
    pub index: u64,
    /// The logged leaf (canonical JSON with the salted commitment).
    pub leaf: String,
    /// The payload (JSON), unless redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
    /// The salt (hex) that opens the commitment, unless redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub appended_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub redacted_at: Option<Timestamp>,
}

/// `GET /api/v1/properties/{property}/access-log/{index}/proof`: what a property's person
/// needs to check an event without trusting the operator (docs/access-log.md, section 8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AccessProofView {
    pub index: u64,
    /// A `c2sp.org/tlog-proof@v1` bundle of the event under the access log's latest checkpoint.
    pub proof: String,
    /// The same against the first checkpoint anchored in the public log that covers it,
    /// once one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchored: Option<AnchoredProofView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnchoredProofView {
    pub proof: String,
    /// The anchored checkpoint's size and root (standard base64).
    pub size: u64,
    pub root: String,
    /// The index of the `access_log_anchored` entry in the public log.
    pub public_index: u64,
}

/// `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub checks: Vec<ReadinessCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessCheck {
    pub name: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A door device's challenge, fetched through the server (`POST …/doors/{door}/challenge`):
/// the driver signs it (`doorman_trust::Challenge::prove`) and sends the answer to `…/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoorChallengeView {
    /// The device that issued it (send it back with the answer).
    pub device: String,
    /// The device's challenge, as it sent it.
    pub nonce: String,
    pub issued_at: String,
    pub property: String,
    pub door: String,
    pub device_key: String,
}

/// A pass and the driver's answer to a device's challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequest {
    /// The device named by the challenge.
    pub device: String,
    /// The pass, base64url.
    pub pass: String,
    /// The challenge's nonce (64 hex digits).
    pub nonce: String,
    /// RFC 3339: the handset's clock when the driver signed.
    pub presented_at: String,
    /// The driver's Ed25519 signature over the challenge message (128 hex digits).
    pub signature: String,
}

/// What the door decided. The exact reason of a denial is only in the property's access log
/// (the driver learns that the door did not open, not why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockResponse {
    /// `allow` or `deny`.
    pub result: String,
    pub device: String,
    /// The decision's sequence number on the device (its event in the access log).
    pub seq: u64,
}

/// One access event a device reported (signed by it), as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceEventView {
    pub device: String,
    pub seq: u64,
    pub door: String,
    /// The device's clock at the decision.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// `allow` or `deny`.
    pub result: String,
    /// The stable deny reason (`doorman_core::DenyReason`), on deny.
    pub reason: Option<String>,
    pub carrier: Option<String>,
    pub unit: Option<String>,
    pub delivery: Option<String>,
    /// The pass id (hex), when known.
    pub pass: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub received_at: Timestamp,
    /// Its index in the property's access log (`…/access-log/{index}/proof`), once logged.
    pub log_index: Option<u64>,
    /// The device-signed event, as uploaded.
    pub event: String,
}

/// A page of device events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceEventsView {
    pub events: Vec<DeviceEventView>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// A door device and its last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceView {
    pub device: String,
    pub door: String,
    pub installation: String,
    /// Heard from within the last 75 seconds.
    pub online: bool,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_seen: Option<Timestamp>,
    pub version: Option<String>,
    /// Serving its door (false once its consent is revoked).
    pub active: Option<bool>,
    /// Device clock minus server clock, milliseconds, at its last report.
    pub clock_offset_ms: Option<i64>,
    /// Decisions on the device not yet acknowledged.
    pub queue: Option<u64>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revocations_issued_at: Option<Timestamp>,
    pub fault: Option<String>,
}

/// A property's devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicesView {
    pub devices: Vec<DeviceView>,
}

//! A typed, blocking client of Doorman's control-plane API (`/api/v1`): one method per
//! endpoint, taking and returning the wire types of `doorman-proto`. The `doorman` CLI and
//! the integration tests both use it, so what the tests exercise is what users run.
//!
//! Errors keep the server's problem details ([`ClientError::Api`]), so a caller can branch on
//! the stable code.

use std::time::Duration;

use doorman_proto::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The largest response body read, in bytes (a photo is at most 10 MiB).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem (its stable `code` says what).
    #[error("{} ({}, HTTP {}){}", .problem.detail, .problem.code, .problem.status, .problem.request_id.as_ref().map(|r| format!(" [request {r}]")).unwrap_or_default())]
    Api { problem: Box<Problem> },
    /// The server answered with an error that is not a problem document.
    #[error("HTTP {status} from {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    /// The server could not be reached, or the connection failed.
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    /// The answer was not what the endpoint returns.
    #[error("{url}: unexpected response: {message}")]
    Decode { url: String, message: String },
    /// The device's challenge could not be answered (not a challenge, not a pass).
    #[error("cannot answer the door's challenge: {0}")]
    Challenge(String),
}

impl ClientError {
    /// The problem's stable code, if the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { problem } => Some(&problem.code),
            _ => None,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { problem } => Some(problem.status),
            ClientError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Shorthand.
pub type Result<T> = std::result::Result<T, ClientError>;

/// A raw answer, for callers that want the status and bytes (tests, photo downloads).
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as problem details, if it is one.
    pub fn problem(&self) -> Option<Problem> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One path segment, percent-encoded (ids may hold spaces, `#`, `/`, `:`, `@`).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query value, percent-encoded.
fn query_value(s: &str) -> String {
    segment(s)
}

/// The client: a server URL and, once signed in, a bearer token (session or API token).
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the server at `url` (such as `http://127.0.0.1:8470`), not signed in.
    pub fn new(url: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Client {
            base: url.trim_end_matches('/').to_string(),
            token: None,
            agent,
        }
    }

    /// The same server with a token.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        Client {
            token: Some(token.into()),
            ..self.clone()
        }
    }

    /// The server's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The bearer token in use.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sends a request and returns whatever came back.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<RawResponse> {
        let url = format!("{}{path}", self.base);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = &self.token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            builder = builder.header("content-type", ct);
        }
        let built = |b: ureq::http::request::Builder,
                     body: Option<&[u8]>|
         -> Result<ureq::http::Response<ureq::Body>> {
            let run = match body {
                Some(bytes) => b.body(bytes.to_vec()).map(|r| self.agent.run(r)),
                None => b.body(()).map(|r| self.agent.run(r)),
            };
            run.map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })
        };
        let mut resp = built(builder, body)?;
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE)
            .read_to_vec()
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                message: e.to_string(),
            })?;
        Ok(RawResponse {
            status,
            content_type,
            headers,
            body,
        })
    }

    fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let ct = body.as_ref().map(|_| "application/json");
        let resp = self.raw(method, path, ct, body.as_deref())?;
        decode(&self.base, path, resp)
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call("GET", path, None)
    }

    fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<T> {
        let bytes = serde_json::to_vec(body).map_err(|e| ClientError::Decode {
            url: format!("{}{path}", self.base),
            message: e.to_string(),
        })?;
        self.call(method, path, Some(bytes))
    }

    fn delete(&self, path: &str) -> Result<()> {
        let resp = self.raw("DELETE", path, None, None)?;
        expect_empty(&self.base, path, resp)
    }

    // ---- Accounts --------------------------------------------------------------------

    /// Creates the operator with the setup code; signs in as them.
    pub fn setup(&self, req: &SetupRequest) -> Result<SessionResponse> {
        self.send("POST", "/api/v1/setup", req)
    }

    pub fn signup(&self, req: &SignupRequest) -> Result<SessionResponse> {
        self.send("POST", "/api/v1/signup", req)
    }

    /// Signs in; returns the session (use [`Client::with_token`] with its token).
    pub fn sign_in(&self, email: &str, password: &str) -> Result<SessionResponse> {
        self.send(
            "POST",
            "/api/v1/sessions",
            &SignInRequest {
                email: email.to_string(),
                password: password.to_string(),
            },
        )
    }

    pub fn sign_out(&self) -> Result<()> {
        self.delete("/api/v1/sessions/current")
    }

    pub fn me(&self) -> Result<Me> {
        self.get("/api/v1/me")
    }

    pub fn accept_invitation(&self, req: &AcceptInvitationRequest) -> Result<SessionResponse> {
        self.send("POST", "/api/v1/invitations/accept", req)
    }

    // ---- Organisations ---------------------------------------------------------------

    pub fn orgs(&self) -> Result<List<OrgView>> {
        self.get("/api/v1/orgs")
    }

    pub fn create_org(&self, req: &CreateOrgRequest) -> Result<OrgView> {
        self.send("POST", "/api/v1/orgs", req)
    }

    pub fn org(&self, org: &str) -> Result<OrgView> {
        self.get(&format!("/api/v1/orgs/{}", segment(org)))
    }

    pub fn members(&self, org: &str) -> Result<List<MemberView>> {
        self.get(&format!("/api/v1/orgs/{}/members", segment(org)))
    }

    pub fn remove_member(&self, org: &str, user: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/orgs/{}/members/{}",
            segment(org),
            segment(user)
        ))
    }

    pub fn invite(&self, org: &str, req: &InviteRequest) -> Result<InvitationView> {
        self.send(
            "POST",
            &format!("/api/v1/orgs/{}/invitations", segment(org)),
            req,
        )
    }

    pub fn invitations(&self, org: &str) -> Result<List<InvitationView>> {
        self.get(&format!("/api/v1/orgs/{}/invitations", segment(org)))
    }

    pub fn cancel_invitation(&self, org: &str, id: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/orgs/{}/invitations/{}",
            segment(org),
            segment(id)
        ))
    }

    pub fn tokens(&self, org: &str) -> Result<List<TokenView>> {
        self.get(&format!("/api/v1/orgs/{}/tokens", segment(org)))
    }

    pub fn create_token(&self, org: &str, req: &CreateTokenRequest) -> Result<TokenView> {
        self.send(
            "POST",
            &format!("/api/v1/orgs/{}/tokens", segment(org)),
            req,
        )
    }

    pub fn revoke_token(&self, org: &str, id: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/orgs/{}/tokens/{}",
            segment(org),
            segment(id)
        ))
    }

    pub fn set_carrier_key(&self, org: &str, req: &CarrierKeyRequest) -> Result<OrgView> {
        self.send(
            "PUT",
            &format!("/api/v1/orgs/{}/carrier-key", segment(org)),
            req,
        )
    }

    pub fn drivers(&self, org: &str) -> Result<List<DriverView>> {
        self.get(&format!("/api/v1/orgs/{}/drivers", segment(org)))
    }

    pub fn add_driver(&self, org: &str, req: &CreateDriverRequest) -> Result<DriverView> {
        self.send(
            "POST",
            &format!("/api/v1/orgs/{}/drivers", segment(org)),
            req,
        )
    }

    pub fn remove_driver(&self, org: &str, id: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/orgs/{}/drivers/{}",
            segment(org),
            segment(id)
        ))
    }

    pub fn carriers(&self) -> Result<List<CarrierView>> {
        self.get("/api/v1/carriers")
    }

    // ---- Properties ------------------------------------------------------------------

    pub fn claim_property(&self, req: &ClaimPropertyRequest) -> Result<PropertyView> {
        self.send("POST", "/api/v1/properties", req)
    }

    /// Properties visible to the caller, optionally of one status.
    pub fn properties(&self, status: Option<&str>) -> Result<List<PropertyView>> {
        match status {
            Some(s) => self.get(&format!("/api/v1/properties?status={}", query_value(s))),
            None => self.get("/api/v1/properties"),
        }
    }

    pub fn property(&self, id: &str) -> Result<PropertyView> {
        self.get(&format!("/api/v1/properties/{}", segment(id)))
    }

    pub fn verify_property(&self, id: &str, note: &str) -> Result<PropertyView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/verify", segment(id)),
            &NoteRequest {
                note: note.to_string(),
            },
        )
    }

    pub fn reject_property(&self, id: &str, note: &str) -> Result<PropertyView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/reject", segment(id)),
            &NoteRequest {
                note: note.to_string(),
            },
        )
    }

    pub fn doors(&self, property: &str) -> Result<List<DoorView>> {
        self.get(&format!("/api/v1/properties/{}/doors", segment(property)))
    }

    pub fn add_door(&self, property: &str, id: &str, name: &str) -> Result<DoorView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/doors", segment(property)),
            &CreateDoorRequest {
                id: id.to_string(),
                name: name.to_string(),
            },
        )
    }

    pub fn remove_door(&self, property: &str, door: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/properties/{}/doors/{}",
            segment(property),
            segment(door)
        ))
    }

    pub fn units(&self, property: &str) -> Result<List<UnitView>> {
        self.get(&format!("/api/v1/properties/{}/units", segment(property)))
    }

    pub fn add_unit(&self, property: &str, id: &str) -> Result<UnitView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/units", segment(property)),
            &CreateUnitRequest { id: id.to_string() },
        )
    }

    pub fn remove_unit(&self, property: &str, unit: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/properties/{}/units/{}",
            segment(property),
            segment(unit)
        ))
    }

    pub fn residents(&self, property: &str) -> Result<List<ResidentView>> {
        self.get(&format!(
            "/api/v1/properties/{}/residents",
            segment(property)
        ))
    }

    pub fn invite_resident(
        &self,
        property: &str,
        email: &str,
        unit: &str,
    ) -> Result<InvitationView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/residents", segment(property)),
            &InviteResidentRequest {
                email: email.to_string(),
                unit: unit.to_string(),
            },
        )
    }

    pub fn remove_resident(&self, property: &str, user: &str) -> Result<()> {
        self.delete(&format!(
            "/api/v1/properties/{}/residents/{}",
            segment(property),
            segment(user)
        ))
    }

    pub fn service(&self, property: &str) -> Result<ServiceView> {
        self.get(&format!("/api/v1/properties/{}/service", segment(property)))
    }

    pub fn change_service(
        &self,
        property: &str,
        req: &ServiceChangeRequest,
    ) -> Result<ServiceView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/service", segment(property)),
            req,
        )
    }

    pub fn signed_service(&self, property: &str) -> Result<SignedDocumentView> {
        self.get(&format!(
            "/api/v1/properties/{}/service/signed",
            segment(property)
        ))
    }

    pub fn upload_service(&self, property: &str, document: &str) -> Result<SignedDocumentView> {
        self.send(
            "PUT",
            &format!("/api/v1/properties/{}/service/signed", segment(property)),
            &SignedDocumentRequest {
                document: document.to_string(),
            },
        )
    }

    pub fn revocations(&self, property: &str) -> Result<RevocationsView> {
        self.get(&format!(
            "/api/v1/properties/{}/revocations",
            segment(property)
        ))
    }

    pub fn revoke_id(&self, property: &str, req: &RevokeIdRequest) -> Result<RevocationView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/revocations", segment(property)),
            req,
        )
    }

    pub fn signed_revocations(&self, property: &str) -> Result<SignedDocumentView> {
        self.get(&format!(
            "/api/v1/properties/{}/revocations/signed",
            segment(property)
        ))
    }

    pub fn upload_revocations(&self, property: &str, document: &str) -> Result<SignedDocumentView> {
        self.send(
            "PUT",
            &format!(
                "/api/v1/properties/{}/revocations/signed",
                segment(property)
            ),
            &SignedDocumentRequest {
                document: document.to_string(),
            },
        )
    }

    pub fn access_log(&self, property: &str, from: u64, limit: u64) -> Result<AccessLogView> {
        self.get(&format!(
            "/api/v1/properties/{}/access-log?from={from}&limit={limit}",
            segment(property)
        ))
    }

    pub fn access_proof(&self, property: &str, index: u64) -> Result<AccessProofView> {
        self.get(&format!(
            "/api/v1/properties/{}/access-log/{index}/proof",
            segment(property)
        ))
    }

    // ---- Doors and devices -----------------------------------------------------------

    /// The door device's challenge (the first unlock step; no account needed).
    pub fn door_challenge(&self, property: &str, door: &str) -> Result<DoorChallengeView> {
        self.send(
            "POST",
            &format!(
                "/api/v1/properties/{}/doors/{}/challenge",
                segment(property),
                segment(door)
            ),
            &serde_json::json!({}),
        )
    }

    /// Forwards a pass and the driver's answer to the door's device (the second step).
    pub fn unlock(
        &self,
        property: &str,
        door: &str,
        req: &UnlockRequest,
    ) -> Result<UnlockResponse> {
        self.send(
            "POST",
            &format!(
                "/api/v1/properties/{}/doors/{}/unlock",
                segment(property),
                segment(door)
            ),
            req,
        )
    }

    /// The driver's whole online unlock: the door device's challenge, answered with the
    /// driver's key over `pass` at `now` (the handset's clock), then the unlock.
    pub fn unlock_as_driver(
        &self,
        property: &str,
        door: &str,
        pass: &str,
        driver: &doorman_trust::SecretKey,
        now: jiff::Timestamp,
    ) -> Result<UnlockResponse> {
        let c = self.door_challenge(property, door)?;
        let challenge = doorman_device::messages::ChallengeView {
            nonce: c.nonce.clone(),
            issued_at: c.issued_at.clone(),
            property: c.property.clone(),
            door: c.door.clone(),
            device_key: c.device_key.clone(),
        }
        .to_challenge()
        .map_err(ClientError::Challenge)?;
        let bytes = doorman_trust::token::decode(pass)
            .map_err(|e| ClientError::Challenge(format!("the pass: {e}")))?;
        let proof = challenge
            .prove(driver, &bytes, now)
            .map_err(|e| ClientError::Challenge(e.to_string()))?;
        self.unlock(
            property,
            door,
            &UnlockRequest {
                device: c.device,
                pass: pass.to_string(),
                nonce: c.nonce,
                presented_at: proof.presented_at.to_string(),
                signature: hex::encode(proof.signature),
            },
        )
    }

    /// One page of the events the property's devices reported; `query` is the query string
    /// without `?` (filters, `limit`, `after`).
    pub fn device_events(&self, property: &str, query: &str) -> Result<DeviceEventsView> {
        self.get(&format!(
            "/api/v1/properties/{}/events?{query}",
            segment(property)
        ))
    }

    /// The property's devices and their last reports.
    pub fn devices(&self, property: &str) -> Result<DevicesView> {
        self.get(&format!("/api/v1/properties/{}/devices", segment(property)))
    }

    // ---- Installations ---------------------------------------------------------------

    pub fn file_installation(&self, req: &CreateInstallationRequest) -> Result<InstallationView> {
        self.send("POST", "/api/v1/installations", req)
    }

    /// Requests visible to the caller, filtered by property and status.
    pub fn installations(
        &self,
        property: Option<&str>,
        status: Option<&str>,
    ) -> Result<List<InstallationView>> {
        let mut q = Vec::new();
        if let Some(p) = property {
            q.push(format!("property={}", query_value(p)));
        }
        if let Some(s) = status {
            q.push(format!("status={}", query_value(s)));
        }
        let query = if q.is_empty() {
            String::new()
        } else {
            format!("?{}", q.join("&"))
        };
        self.get(&format!("/api/v1/installations{query}"))
    }

    pub fn installation(&self, id: &str) -> Result<InstallationView> {
        self.get(&format!("/api/v1/installations/{}", segment(id)))
    }

    /// Attaches a photo (raw bytes with their content type).
    pub fn upload_evidence(
        &self,
        id: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<EvidenceView> {
        let path = format!("/api/v1/installations/{}/evidence", segment(id));
        let resp = self.raw("POST", &path, Some(content_type), Some(bytes))?;
        decode(&self.base, &path, resp)
    }

    /// A photo's content type and bytes.
    pub fn evidence(&self, id: &str, number: u32) -> Result<(String, Vec<u8>)> {
        let path = format!("/api/v1/installations/{}/evidence/{number}", segment(id));
        let resp = self.raw("GET", &path, None, None)?;
        if resp.status == 200 {
            return Ok((resp.content_type.unwrap_or_default(), resp.body));
        }
        Err(failure(&self.base, &path, resp))
    }

    /// The device's activation bundle (`doorman-agent activate` verifies it).
    pub fn activation(&self, id: &str) -> Result<ActivationBundleView> {
        self.get(&format!("/api/v1/installations/{}/activation", segment(id)))
    }

    /// An approved installation's device configuration (self-custody: the payload to sign).
    pub fn activation_config(&self, id: &str) -> Result<DeviceConfigView> {
        self.get(&format!(
            "/api/v1/installations/{}/activation/config",
            segment(id)
        ))
    }

    /// Uploads a self-custody property's device configuration signed offline.
    pub fn upload_activation_config(&self, id: &str, document: &str) -> Result<DeviceConfigView> {
        self.send(
            "PUT",
            &format!("/api/v1/installations/{}/activation/config", segment(id)),
            &SignedDocumentRequest {
                document: document.to_string(),
            },
        )
    }

    pub fn approve(&self, id: &str, req: &ApproveRequest) -> Result<InstallationView> {
        self.send(
            "POST",
            &format!("/api/v1/installations/{}/approve", segment(id)),
            req,
        )
    }

    pub fn reject(&self, id: &str, reason: &str) -> Result<InstallationView> {
        self.send(
            "POST",
            &format!("/api/v1/installations/{}/reject", segment(id)),
            &ReasonRequest {
                reason: reason.to_string(),
            },
        )
    }

    /// Takes the device off its door for good (consent revoked, `device_decommissioned`
    /// logged, the device told to stop).
    pub fn decommission(&self, id: &str, reason: &str) -> Result<InstallationView> {
        self.send(
            "POST",
            &format!("/api/v1/installations/{}/decommission", segment(id)),
            &ReasonRequest {
                reason: reason.to_string(),
            },
        )
    }

    pub fn revoke_consent(&self, id: &str, reason: &str) -> Result<InstallationView> {
        self.send(
            "POST",
            &format!("/api/v1/installations/{}/revoke", segment(id)),
            &ReasonRequest {
                reason: reason.to_string(),
            },
        )
    }

    // ---- Authorizations and passes ---------------------------------------------------

    pub fn authorize(&self, property: &str, req: &AuthorizeRequest) -> Result<AuthorizationView> {
        self.send(
            "POST",
            &format!("/api/v1/properties/{}/authorizations", segment(property)),
            req,
        )
    }

    /// Every authorization of a property, oldest first (all pages).
    pub fn property_authorizations(&self, property: &str) -> Result<List<AuthorizationView>> {
        self.all_pages(|after| self.property_authorizations_page(property, after, None))
    }

    /// One page of a property's authorizations: after the cursor `after` (a page's
    /// `next_after`), at most `limit` (server default 100, at most 1000).
    pub fn property_authorizations_page(
        &self,
        property: &str,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<List<AuthorizationView>> {
        self.get(&format!(
            "/api/v1/properties/{}/authorizations{}",
            segment(property),
            page_query(Vec::new(), after, limit)
        ))
    }

    /// Every authorization visible to the caller (all pages).
    pub fn authorizations(
        &self,
        property: Option<&str>,
        carrier: Option<&str>,
        active_only: bool,
    ) -> Result<List<AuthorizationView>> {
        self.all_pages(|after| {
            self.authorizations_page(property, carrier, active_only, after, None)
        })
    }

    /// One page of the authorizations visible to the caller.
    pub fn authorizations_page(
        &self,
        property: Option<&str>,
        carrier: Option<&str>,
        active_only: bool,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<List<AuthorizationView>> {
        let mut q = Vec::new();
        if let Some(p) = property {
            q.push(format!("property={}", query_value(p)));
        }
        if let Some(c) = carrier {
            q.push(format!("carrier={}", query_value(c)));
        }
        if active_only {
            q.push("active=true".to_string());
        }
        self.get(&format!(
            "/api/v1/authorizations{}",
            page_query(q, after, limit)
        ))
    }

    /// Follows `next_after` from the first page to the last and returns every item.
    fn all_pages<T>(
        &self,
        mut page: impl FnMut(Option<&str>) -> Result<List<T>>,
    ) -> Result<List<T>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let got = page(after.as_deref())?;
            items.extend(got.items);
            match got.next_after {
                // A cursor that does not move would loop for ever: stop instead.
                Some(next) if after.as_deref() != Some(next.as_str()) => after = Some(next),
                _ => return Ok(List::new(items)),
            }
        }
    }

    pub fn authorization(&self, id: &str) -> Result<AuthorizationView> {
        self.get(&format!("/api/v1/authorizations/{}", segment(id)))
    }

    pub fn revoke_authorization(&self, id: &str, reason: &str) -> Result<AuthorizationView> {
        self.send(
            "POST",
            &format!("/api/v1/authorizations/{}/revoke", segment(id)),
            &ReasonRequest {
                reason: reason.to_string(),
            },
        )
    }

    pub fn mint_pass(&self, authorization: &str, req: &MintPassRequest) -> Result<PassView> {
        self.send(
            "POST",
            &format!("/api/v1/authorizations/{}/passes", segment(authorization)),
            req,
        )
    }

    pub fn passes(&self, authorization: &str) -> Result<List<PassView>> {
        self.get(&format!(
            "/api/v1/authorizations/{}/passes",
            segment(authorization)
        ))
    }

    // ---- Operations ------------------------------------------------------------------

    pub fn openapi(&self) -> Result<serde_json::Value> {
        self.get("/api/v1/openapi.json")
    }

    pub fn readyz(&self) -> Result<Readiness> {
        let resp = self.raw("GET", "/readyz", None, None)?;
        serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode {
            url: format!("{}/readyz", self.base),
            message: e.to_string(),
        })
    }
}

fn failure(base: &str, path: &str, resp: RawResponse) -> ClientError {
    match resp.problem() {
        Some(problem) => ClientError::Api {
            problem: Box::new(problem),
        },
        None => ClientError::Http {
            url: format!("{base}{path}"),
            status: resp.status,
            body: String::from_utf8_lossy(&resp.body)
                .chars()
                .take(500)
                .collect(),
        },
    }
}

fn decode<T: DeserializeOwned>(base: &str, path: &str, resp: RawResponse) -> Result<T> {
    if !(200..300).contains(&resp.status) {
        return Err(failure(base, path, resp));
    }
    serde_json::from_slice(&resp.body).map_err(|e| ClientError::Decode {
        url: format!("{base}{path}"),
        message: e.to_string(),
    })
}

fn expect_empty(base: &str, path: &str, resp: RawResponse) -> Result<()> {
    if (200..300).contains(&resp.status) {
        Ok(())
    } else {
        Err(failure(base, path, resp))
    }
}

/// A query string of `params` plus the page parameters (`?` included; empty if there are none).
fn page_query(mut params: Vec<String>, after: Option<&str>, limit: Option<usize>) -> String {
    if let Some(a) = after {
        params.push(format!("after={}", query_value(a)));
    }
    if let Some(n) = limit {
        params.push(format!("limit={n}"));
    }
    if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("prop_1"), "prop_1");
        assert_eq!(segment("Apt 4B/#2"), "Apt%204B%2F%232");
    }
}

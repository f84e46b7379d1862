//! The whole Doorman server in-process, for scenario tests and benchmarks: `doorman serve`'s
//! own assembly (`doorman_server::start`) on 127.0.0.1 port 0, a temporary data dir, a clock
//! the test sets, and the real typed client (`doorman-client`). A scenario reads like the
//! product: "an installer files a request, the manager approves it, the consent is in the
//! public log".
//!
//! [`Building`] sets up the usual cast in one call: the operator, a property organisation
//! with its owner and a verified property (doors, units), an installer and a carrier with a
//! custodial key and a driver.

// Test support: a failure to set up is a test failure, said loudly.
#![allow(clippy::expect_used, clippy::panic)]

pub mod agent;
pub mod mosquitto;
pub mod remote;

pub use agent::TestAgent;
pub use mosquitto::Mosquitto;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

pub use doorman_client::{Client, ClientError};
use doorman_proto::*;
use doorman_server::{Running, ServerConfig};
use jiff::{SignedDuration, Timestamp};

/// A password good enough for the server's rules, used for every test account.
pub const PASSWORD: &str = "correct horse battery staple";

/// A clock the test moves. Starts at 2026-12-01T09:00:00Z (a Tuesday) unless set.
#[derive(Debug, Clone)]
pub struct TestClock(Arc<Mutex<SystemTime>>);

impl Default for TestClock {
    fn default() -> TestClock {
        TestClock::at("2026-12-01T09:00:00Z".parse().expect("a valid time"))
    }
}

impl TestClock {
    pub fn at(t: Timestamp) -> TestClock {
        TestClock(Arc::new(Mutex::new(to_system(t))))
    }

    pub fn now(&self) -> Timestamp {
        Timestamp::try_from(*self.0.lock().unwrap_or_else(PoisonError::into_inner))
            .expect("a representable time")
    }

    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = to_system(t);
    }

    pub fn advance(&self, d: SignedDuration) {
        let now = self.now();
        self.set(now.checked_add(d).expect("time in range"));
    }

    fn as_clock(&self) -> doorman_store::Clock {
        let inner = Arc::clone(&self.0);
        Arc::new(move || *inner.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn to_system(t: Timestamp) -> SystemTime {
    let ms = u64::try_from(t.as_millisecond()).expect("a time after 1970");
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}

#[allow(clippy::disallowed_methods)]
fn timer() -> std::time::Instant {
    // Request durations for the metrics only; the test clock drives everything else.
    std::time::Instant::now()
}

/// A running server and what a test needs of it.
pub struct TestServer {
    pub url: String,
    pub clock: TestClock,
    /// The one-time setup code, until the operator exists.
    pub setup_code: Option<String>,
    pub verifier_key: String,
    pub origin: String,
    running: Option<Running>,
    dir: Option<tempfile::TempDir>,
    data_dir: PathBuf,
    config: ServerConfig,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// A fresh server on a fresh data dir.
    pub fn start() -> TestServer {
        TestServer::start_with(|_| {})
    }

    /// A fresh server, with the configuration adjusted first.
    pub fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let dir = tempfile::tempdir().expect("a temporary data dir");
        let mut config = ServerConfig::new(dir.path().join("data"), "127.0.0.1:0");
        config.origin = Some("test.doorman.example/log".to_string());
        config.checkpoint_interval = Duration::from_millis(100);
        adjust(&mut config);
        let data_dir = config.data_dir.clone();
        TestServer::boot(config, TestClock::default(), Some(dir), data_dir)
    }

    fn boot(
        config: ServerConfig,
        clock: TestClock,
        dir: Option<tempfile::TempDir>,
        data_dir: PathBuf,
    ) -> TestServer {
        let running = doorman_server::start(config.clone(), clock.as_clock(), timer)
            .unwrap_or_else(|e| panic!("the server did not start: {e}"));
        let info = running.info.clone();
        TestServer {
            url: format!("http://{}", info.addr),
            clock,
            setup_code: info.setup_code,
            verifier_key: info.verifier_key,
            origin: info.origin,
            running: Some(running),
            dir,
            data_dir,
            config,
        }
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's own handles (store, logs), for assertions a client cannot make.
    pub fn api(&self) -> &doorman_server::api::Api {
        &self.running.as_ref().expect("running").api
    }

    /// A client that is not signed in.
    pub fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// Stops the server and starts it again on the same data dir (a new port).
    pub fn restart(mut self) -> TestServer {
        if let Some(r) = self.running.take() {
            r.stop().expect("a clean stop");
        }
        let mut config = self.config.clone();
        config.listen = "127.0.0.1:0".to_string();
        TestServer::boot(
            config,
            self.clock.clone(),
            self.dir.take(),
            self.data_dir.clone(),
        )
    }

    /// Stops the server.
    pub fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.stop().expect("a clean stop");
        }
    }

    /// Creates the operator (with the setup code) and returns their signed-in client.
    pub fn operator(&self) -> Client {
        let code = self
            .setup_code
            .clone()
            .expect("the operator exists already");
        let s = self
            .client()
            .setup(&SetupRequest {
                code,
                org_name: "Doorman Operations".to_string(),
                email: "operator@doorman.example".to_string(),
                name: "Olga Operator".to_string(),
                password: PASSWORD.to_string(),
            })
            .unwrap_or_else(|e| panic!("setup: {e}"));
        self.client().with_token(s.token)
    }

    /// Signs up an organisation and its founder; returns the founder's client and the org id.
    pub fn sign_up(&self, kind: &str, org_name: &str, email: &str) -> (Client, String) {
        let s = self
            .client()
            .signup(&SignupRequest {
                org_kind: kind.to_string(),
                org_name: org_name.to_string(),
                email: email.to_string(),
                name: format!("Founder of {org_name}"),
                password: PASSWORD.to_string(),
            })
            .unwrap_or_else(|e| panic!("signup {email}: {e}"));
        let org =
            s.me.memberships
                .first()
                .expect("a founding membership")
                .org
                .clone();
        (self.client().with_token(s.token), org)
    }

    /// Invites `email` into `org` as `role` (by `by`) and accepts; returns their client.
    pub fn invite(&self, by: &Client, org: &str, email: &str, role: &str) -> Client {
        let inv = by
            .invite(
                org,
                &InviteRequest {
                    email: email.to_string(),
                    role: role.to_string(),
                },
            )
            .unwrap_or_else(|e| panic!("invite {email} as {role}: {e}"));
        self.accept(&inv, email)
    }

    /// Accepts an invitation (creating the account); returns the new member's client.
    pub fn accept(&self, inv: &InvitationView, email: &str) -> Client {
        let s = self
            .client()
            .accept_invitation(&AcceptInvitationRequest {
                code: inv.code.clone().expect("a fresh invitation has its code"),
                name: Some(format!("Person {email}")),
                password: PASSWORD.to_string(),
            })
            .unwrap_or_else(|e| panic!("accept {email}: {e}"));
        self.client().with_token(s.token)
    }

    /// Waits until the public log's checkpoint covers `size` entries.
    pub fn wait_for_log(&self, size: u64) {
        for _ in 0..200 {
            if self
                .api()
                .log
                .latest_checkpoint()
                .ok()
                .flatten()
                .is_some_and(|c| c.size >= size)
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("the public log did not reach {size} entries");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = r.stop();
        }
    }
}

/// The usual cast, set up through the API.
pub struct Building {
    pub operator: Client,
    pub owner: Client,
    pub owner_org: String,
    pub manager: Client,
    pub property: PropertyView,
    pub installer: Client,
    pub installer_org: String,
    pub carrier: Client,
    pub carrier_org: String,
    pub carrier_key: String,
    pub driver: DriverView,
    pub driver_secret: doorman_trust::SecretKey,
}

impl std::fmt::Debug for Building {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Building")
            .field("property", &self.property.id)
            .finish_non_exhaustive()
    }
}

impl Building {
    /// A verified custodial property "12 Main Street" in Europe/Paris with doors `street` and
    /// `garage` and units `4B` and `5A`; installer "Fixit"; carrier "Acme Parcel" with a
    /// custodial key and one driver.
    pub fn new(server: &TestServer) -> Building {
        Building::with_custody(server, "custodial", None)
    }

    /// The same with a self-custody property whose key is `key`.
    pub fn with_custody(
        server: &TestServer,
        custody: &str,
        key: Option<&doorman_trust::SecretKey>,
    ) -> Building {
        let operator = server.operator();
        let (owner, owner_org) =
            server.sign_up("property", "Westchester Co-op", "owner@coop.example");
        let manager = server.invite(&owner, &owner_org, "manager@coop.example", "manager");
        let claimed = owner
            .claim_property(&ClaimPropertyRequest {
                org: owner_org.clone(),
                name: "The Main Street building".to_string(),
                address: "12 Main Street, Springfield".to_string(),
                time_zone: "Europe/Paris".to_string(),
                custody: custody.to_string(),
                public_key: key.map(|k| k.public().to_string()),
            })
            .unwrap_or_else(|e| panic!("claim: {e}"));
        let property = operator
            .verify_property(&claimed.id, "deed and management contract checked")
            .unwrap_or_else(|e| panic!("verify: {e}"));
        for (id, name) in [("street", "Street door"), ("garage", "Garage door")] {
            owner
                .add_door(&property.id, id, name)
                .unwrap_or_else(|e| panic!("door: {e}"));
        }
        for unit in ["4B", "5A"] {
            owner
                .add_unit(&property.id, unit)
                .unwrap_or_else(|e| panic!("unit: {e}"));
        }
        let (installer, installer_org) =
            server.sign_up("installer", "Fixit Installers", "admin@fixit.example");
        let (carrier, carrier_org) = server.sign_up("carrier", "Acme Parcel", "admin@acme.example");
        let org = carrier
            .set_carrier_key(
                &carrier_org,
                &CarrierKeyRequest {
                    public_key: None,
                    custodial: true,
                },
            )
            .unwrap_or_else(|e| panic!("carrier key: {e}"));
        let driver_secret = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
        let driver = carrier
            .add_driver(
                &carrier_org,
                &CreateDriverRequest {
                    name: "Sam Driver".to_string(),
                    public_key: driver_secret.public().to_string(),
                },
            )
            .unwrap_or_else(|e| panic!("driver: {e}"));
        Building {
            operator,
            owner,
            owner_org,
            manager,
            property,
            installer,
            installer_org,
            carrier,
            carrier_org,
            carrier_key: org.carrier_key.expect("a carrier key"),
            driver,
            driver_secret,
        }
    }

    /// An installation request for the street door from the installer, with a fresh device key.
    pub fn file_request(&self, device: &str) -> (InstallationView, doorman_trust::SecretKey) {
        let device_key = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
        let req = self
            .installer
            .file_installation(&CreateInstallationRequest {
                property: self.property.id.clone(),
                door: "street".to_string(),
                device_id: device.to_string(),
                device_key: device_key.public().to_string(),
                notes: "Relay wired to the panel's door-release terminals".to_string(),
                installer: None,
            })
            .unwrap_or_else(|e| panic!("file: {e}"));
        (req, device_key)
    }

    /// The carrier authorized for both doors, Mon-Fri 08:00-20:00 and Sat 09:00-13:00, for a year.
    pub fn authorize(&self, server: &TestServer) -> AuthorizationView {
        self.manager
            .authorize(&self.property.id, &self.authorize_request(server))
            .unwrap_or_else(|e| panic!("authorize: {e}"))
    }

    pub fn authorize_request(&self, server: &TestServer) -> AuthorizeRequest {
        AuthorizeRequest {
            carrier: self.carrier_org.clone(),
            doors: vec!["street".to_string(), "garage".to_string()],
            schedule: "Mon-Fri 08:00-20:00; Sat 09:00-13:00".to_string(),
            daily_cap: Some(20),
            not_before: None,
            not_after: server
                .clock
                .now()
                .checked_add(SignedDuration::from_hours(24 * 365))
                .expect("in range"),
            max_pass_duration: None,
            authorization: None,
        }
    }

    /// A pass request for the driver at the street door, for the next hour.
    pub fn pass_request(&self, server: &TestServer, delivery: &str) -> MintPassRequest {
        let now = server.clock.now();
        MintPassRequest {
            door: "street".to_string(),
            unit: "4B".to_string(),
            delivery: delivery.to_string(),
            driver: Some(self.driver.id.clone()),
            driver_key: None,
            not_before: now,
            not_after: now
                .checked_add(SignedDuration::from_hours(1))
                .expect("in range"),
        }
    }
}

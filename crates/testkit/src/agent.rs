//! A real door agent in the test process: `doorman-agent`'s own library (state dir, journal,
//! door, MQTT link) with a simulated relay and the test's clock, enrolled, approved and
//! activated through the API like a real installation.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use doorman_agent::StateDir;
use doorman_agent::door::SimulatedRelay;
use doorman_agent::embedded::{EmbeddedLink, link_config};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_agent::link::{Core, LinkEnd};
use doorman_proto::{ApproveRequest, CreateInstallationRequest};
use doorman_trust::SecretKey;

use crate::{Building, TestClock, TestServer};

/// A relay that counts its pulses where the test can see them.
#[derive(Debug, Clone, Default)]
pub struct SharedRelay(pub Arc<Mutex<SimulatedRelay>>);

impl doorman_agent::door::Relay for SharedRelay {
    fn pulse(&mut self, ms: u32) -> Result<(), String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pulse(ms)
    }
}

/// An agent, its state dir and its link thread.
pub struct TestAgent {
    pub dir: tempfile::TempDir,
    pub state: StateDir,
    pub device_id: String,
    pub installation: String,
    pub core: Arc<Mutex<Core>>,
    pub relay: SharedRelay,
    pub key: SecretKey,
    /// What the agent reported, line by line.
    pub log: Arc<Mutex<Vec<String>>>,
    clock: TestClock,
    heartbeat: Duration,
    broker: Option<String>,
    broker_ca: Option<Vec<u8>>,
    link: Option<EmbeddedLink>,
}

impl std::fmt::Debug for TestAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestAgent")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

impl TestAgent {
    /// Enrols a new device for `door`, has the manager approve it, activates it from the
    /// server's bundle, and starts its link (connected once [`TestAgent::wait_online`]).
    pub fn install(server: &TestServer, b: &Building, device_id: &str, door: &str) -> TestAgent {
        let log_key = server.verifier_key.clone();
        let dir = tempfile::tempdir().expect("a state dir");
        let state = StateDir::new(dir.path().join("agent"));
        let enrolment = state
            .init(&log_key, Some(device_id))
            .unwrap_or_else(|e| panic!("agent init: {e}"));
        let req = b
            .installer
            .file_installation(&CreateInstallationRequest {
                property: b.property.id.clone(),
                door: door.to_string(),
                device_id: enrolment.device_id.clone(),
                device_key: enrolment.device_key.clone(),
                notes: String::new(),
                installer: None,
            })
            .unwrap_or_else(|e| panic!("file: {e}"));
        let approved = b
            .manager
            .approve(&req.id, &ApproveRequest::default())
            .unwrap_or_else(|e| panic!("approve: {e}"));
        let index = approved
            .consent
            .and_then(|c| c.log_index)
            .expect("a logged consent");
        server.wait_for_log(index + 1);
        let bundle = b
            .installer
            .activation(&req.id)
            .unwrap_or_else(|e| panic!("activation: {e}"));
        let bytes = serde_json::to_vec(&bundle).expect("json");
        let activation = state
            .activate(&bytes, server.clock.now())
            .unwrap_or_else(|e| panic!("activate: {e}"));
        let key = state.device_key().expect("the device key");
        let relay = SharedRelay::default();
        let journal = Journal::open(state.path(), JournalLimits::default()).expect("journal");
        let core = Arc::new(Mutex::new(Core::new(
            activation,
            key.clone(),
            journal,
            Box::new(relay.clone()),
        )));
        let mut agent = TestAgent {
            dir,
            state,
            device_id: enrolment.device_id,
            installation: req.id,
            core,
            relay,
            key,
            log: Arc::default(),
            clock: server.clock.clone(),
            heartbeat: Duration::from_secs(1),
            broker: None,
            broker_ca: None,
            link: None,
        };
        agent.start_link();
        agent
    }

    /// Connects to this broker from now on (another broker than the bundle names).
    pub fn set_broker(&mut self, broker: Option<String>) {
        self.broker = broker;
    }

    /// Trusts these CA certificates (PEM) for a `mqtts://` broker from now on.
    pub fn set_broker_ca(&mut self, ca: Option<Vec<u8>>) {
        self.broker_ca = ca;
    }

    /// The link's configuration, as `doorman-agent run` builds it from the state dir.
    fn link_config(&self) -> doorman_agent::link::LinkConfig {
        let mut config = link_config(
            &self.state,
            &self.core,
            self.broker.as_deref(),
            self.heartbeat,
        )
        .expect("the agent's identity")
        .expect("the bundle names the broker");
        config.broker_ca = self.broker_ca.clone();
        config
    }

    /// Starts the link thread (if not running).
    pub fn start_link(&mut self) {
        if self.link.as_ref().is_some_and(EmbeddedLink::running) {
            return;
        }
        let config = self.link_config();
        let clock = self.clock.clone();
        self.link = Some(
            EmbeddedLink::start(
                config,
                Arc::clone(&self.core),
                &self.state,
                Arc::new(move || clock.now()),
                Arc::clone(&self.log),
            )
            .expect("the link thread"),
        );
    }

    /// MQTT options that log in as this device, exactly as its link does (its account, and on
    /// the embedded broker its TLS client certificate): for tests that play a device
    /// misbehaving with its own credentials.
    pub fn mqtt_options(&self) -> rumqttc::MqttOptions {
        doorman_agent::link::mqtt_options(&self.link_config()).expect("the link's options")
    }

    /// Stops the link thread (the agent keeps deciding offline) and says how it ended.
    pub fn stop_link(&mut self) -> Option<LinkEnd> {
        self.link.take().and_then(|mut l| l.stop())
    }

    /// Waits (at most `timeout`) for the link thread to end by itself (retired).
    pub fn wait_end(&mut self, timeout: Duration) -> Option<LinkEnd> {
        self.link.as_mut().and_then(|l| l.wait_end(timeout))
    }

    /// Decisions waiting in the journal.
    pub fn pending(&self) -> usize {
        self.core
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .journal
            .pending_len()
    }

    /// Relay pulses so far.
    pub fn pulses(&self) -> usize {
        self.relay
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pulses
            .len()
    }

    /// Waits until the server lists this device as online.
    pub fn wait_online(&self, b: &Building) {
        for _ in 0..400 {
            if b.manager.devices(&b.property.id).is_ok_and(|d| {
                d.devices
                    .iter()
                    .any(|d| d.device == self.device_id && d.online)
            }) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "{} did not come online; its log: {:?}",
            self.device_id,
            self.log.lock().unwrap_or_else(PoisonError::into_inner)
        );
    }

    /// Presents `pass` with the driver's key through the API (challenge, then unlock).
    pub fn unlock_online(
        server: &TestServer,
        b: &Building,
        door: &str,
        pass: &str,
        driver: &SecretKey,
    ) -> Result<doorman_proto::UnlockResponse, crate::ClientError> {
        server
            .client()
            .unlock_as_driver(&b.property.id, door, pass, driver, server.clock.now())
    }
}

impl Drop for TestAgent {
    fn drop(&mut self) {
        let _ = self.stop_link();
    }
}

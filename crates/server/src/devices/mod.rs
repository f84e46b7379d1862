//! Door devices on the server (issue 5): the device-messaging key and broker passwords, the
//! embedded MQTT broker, the server's own MQTT session, and what it does with each message.
//!
//! # Data flow
//!
//! ```text
//! agent ──up──▶ broker ──▶ link (this module) ── verify ──▶ DeviceStore (devices.sqlite)
//!   ▲                           │                                 │
//!   └──────down (signed)────────┘ ack once stored                 ▼ ingester
//!                                                        the property's access log
//! ```
//!
//! - Every `up` message is opened with the key of the device its topic names, as the
//!   [`Directory`] of approved installations has it; an unknown device, a bad signature, a
//!   message for another device, an event for another door or property: refused, logged with
//!   its code, counted ([`Devices::rejections`]), nothing else disturbed.
//! - Events are stored (once per device and sequence number), then acknowledged, then
//!   appended to the access log by the ingester ([`ingest`]).
//! - Challenge and decision replies complete the API request waiting for them (unlocks).
//! - A device saying hello gets the property's current signed state; a changed state is
//!   pushed to the property's devices ([`Devices::state_changed`]).

mod broker;
mod ca;
mod dynsec;
pub mod ingest;
mod keys;
mod permits;

use dynsec::{DYNSEC_RESPONSE, DYNSEC_SYNC, Dynsec};
pub use permits::CpuPermits;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use doorman_core::{DeviceId, DoorId, PropertyId, RequestId};
use doorman_device::AccessEvent;
use doorman_device::messages::{Down, Message, Up, all_up_topics, device_of_up_topic, down_topic};
use doorman_store::control::{DocumentKind, InstallationFilter, InstallationStatus};
use doorman_store::{DeviceEvent, DeviceStatus, DeviceStore, Store};
use doorman_trust::PublicKey;
use jiff::Timestamp;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::oneshot;

pub use broker::{DEVICE_LISTENERS, EmbeddedAddrs, device_listener, start_embedded};
pub use ca::{CaError, DevicesCa};
pub use doorman_device::broker::TLS_SCHEME;
pub use keys::{DEVICES_KEY_FILE, DeviceKeys, SERVER_USER};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the server's device messaging goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerConfig {
    /// rumqttd in this process, its devices' TLS listener on `listen` (`host:port`; port 0
    /// picks a free port). The server connects on a loopback listener of its own.
    Embedded { listen: String },
    /// An external broker (Mosquitto, EMQX) at `addr` (`host:port`); the server connects as
    /// `username`. The broker authenticates devices and enforces their topics (docs/mqtt.md).
    /// With `dynsec`, the server keeps the broker's accounts itself through Mosquitto's
    /// dynamic-security plugin (`username` is its admin): one account and one role (its own
    /// two topics) per approved device, disabled once the consent is revoked.
    External {
        addr: String,
        username: String,
        password: String,
        dynsec: bool,
    },
    /// No device messaging (devices still work offline).
    Off,
}

/// The device side's settings.
#[derive(Debug, Clone)]
pub struct DevicesConfig {
    pub broker: BrokerConfig,
    /// The `host:port` devices are told to connect to (activation bundles); default: the
    /// embedded broker's address, or the external broker's.
    pub public_broker: Option<String>,
    /// How long an unlock or challenge waits for the device.
    pub request_timeout: Duration,
}

impl Default for DevicesConfig {
    fn default() -> DevicesConfig {
        DevicesConfig {
            broker: BrokerConfig::Embedded {
                listen: "127.0.0.1:0".to_string(),
            },
            public_broker: None,
            request_timeout: Duration::from_secs(5),
        }
    }
}

/// An approved installation's device, as the server knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device: DeviceId,
    pub installation: RequestId,
    pub property: PropertyId,
    pub door: DoorId,
    pub key: PublicKey,
    /// False once its consent was revoked: it may no longer log in, but what it still
    /// reports (decisions it took before it learnt of the revocation) is logged.
    pub approved: bool,
}

/// Approved (and revoked) installations by device id, reloaded from the control store when older than
/// [`DIRECTORY_TTL`] or when an unknown id is asked for (at most once per [`RELOAD_GAP`]).
#[derive(Debug)]
pub struct Directory {
    control: Arc<dyn Store>,
    timer: fn() -> Instant,
    cache: Mutex<(HashMap<DeviceId, DeviceInfo>, Option<Instant>)>,
}

const DIRECTORY_TTL: Duration = Duration::from_secs(5);
const RELOAD_GAP: Duration = Duration::from_millis(200);

impl Directory {
    pub fn new(control: Arc<dyn Store>, timer: fn() -> Instant) -> Directory {
        Directory {
            control,
            timer,
            cache: Mutex::new((HashMap::new(), None)),
        }
    }

    fn reload(&self) -> Result<HashMap<DeviceId, DeviceInfo>, String> {
        let mut known = Vec::new();
        for status in [InstallationStatus::Revoked, InstallationStatus::Approved] {
            known.extend(
                self.control
                    .installations(&InstallationFilter {
                        status: Some(status),
                        ..Default::default()
                    })
                    .map_err(|e| e.to_string())?,
            );
        }
        // A device re-installed elsewhere: its latest installation wins.
        known.sort_by_key(|i| i.created_at);
        let mut out = HashMap::new();
        for i in known {
            let approved = i.status == InstallationStatus::Approved;
            let Ok(key) = i.device_key.parse::<PublicKey>() else {
                continue;
            };
            out.insert(
                i.device.clone(),
                DeviceInfo {
                    device: i.device,
                    installation: i.id,
                    property: i.property,
                    door: i.door,
                    key,
                    approved,
                },
            );
        }
        Ok(out)
    }

    fn refreshed(
        &self,
        force: bool,
    ) -> std::sync::MutexGuard<'_, (HashMap<DeviceId, DeviceInfo>, Option<Instant>)> {
        let mut cache = lock(&self.cache);
        let now = (self.timer)();
        let age = cache.1.map(|t| now.saturating_duration_since(t));
        let due = match age {
            None => true,
            Some(a) => a >= DIRECTORY_TTL || (force && a >= RELOAD_GAP),
        };
        if due {
            match self.reload() {
                Ok(map) => *cache = (map, Some(now)),
                Err(e) => eprintln!("doorman serve: reading the device directory failed: {e}"),
            }
        }
        cache
    }

    /// The device with this id, if an approved installation has it.
    pub fn lookup(&self, device: &DeviceId) -> Option<DeviceInfo> {
        if let Some(d) = self.refreshed(false).0.get(device) {
            return Some(d.clone());
        }
        self.refreshed(true).0.get(device).cloned()
    }

    /// The approved devices serving `door` of `property`.
    pub fn for_door(&self, property: &PropertyId, door: &DoorId) -> Vec<DeviceInfo> {
        let mut v: Vec<DeviceInfo> = self
            .refreshed(false)
            .0
            .values()
            .filter(|d| d.approved && &d.property == property && &d.door == door)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.device.cmp(&b.device));
        v
    }

    /// Every approved device of `property`.
    pub fn for_property(&self, property: &PropertyId) -> Vec<DeviceInfo> {
        let mut v: Vec<DeviceInfo> = self
            .refreshed(false)
            .0
            .values()
            .filter(|d| d.approved && &d.property == property)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.device.cmp(&b.device));
        v
    }

    /// Every known device (approved or revoked).
    pub fn snapshot(&self) -> Vec<DeviceInfo> {
        let mut v: Vec<DeviceInfo> = self.refreshed(false).0.values().cloned().collect();
        v.sort_by(|a, b| a.device.cmp(&b.device));
        v
    }

    /// Forgets the cache: the next lookup reads the store (after an approval or revocation).
    pub fn invalidate(&self) {
        lock(&self.cache).1 = None;
    }
}

/// The stored form of a verified event from `device`, received at `now`.
pub fn stored_event(
    device: &DeviceId,
    e: &AccessEvent,
    signed: &[u8],
    now: Timestamp,
) -> DeviceEvent {
    DeviceEvent {
        device: device.clone(),
        seq: e.seq,
        property: e.property.clone(),
        door: e.door.to_string(),
        at: e.at,
        allowed: e.is_allow(),
        reason: e.reason.map(|r| r.code().to_string()),
        carrier: e.carrier.clone(),
        unit: e.unit.clone(),
        delivery: e.delivery.clone(),
        pass: e.pass.as_ref().map(hex::encode),
        received_at: now,
        signed: signed.to_vec(),
        log_index: None,
    }
}

/// What a device answered to a request forwarded from the API.
pub type Reply = Up;

/// The server's device side, shared with the API.
pub struct Devices {
    pub store: Arc<DeviceStore>,
    pub keys: DeviceKeys,
    pub directory: Directory,
    pub config: DevicesConfig,
    control: Arc<dyn Store>,
    clock: doorman_store::Clock,
    timer: fn() -> Instant,
    client: Mutex<Option<AsyncClient>>,
    /// The link's runtime, for pushes started from the blocking pool.
    runtime: Mutex<Option<tokio::runtime::Handle>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Reply>>>,
    /// When each device was last heard from, and its property.
    seen: Mutex<HashMap<DeviceId, (Instant, PropertyId)>>,
    rejections: Mutex<BTreeMap<&'static str, u64>>,
    pub events_stored: AtomicU64,
    /// Uploads verified at once: at most one per core (see `permits`).
    verifying: CpuPermits,
    pub events_repeated: AtomicU64,
    ingest: ingest::Kick,
    /// The `host:port` devices are told (activation bundles).
    public_broker: Mutex<Option<String>>,
    /// The embedded broker's CA, which issues each device's client certificate.
    ca: std::sync::OnceLock<DevicesCa>,
    /// Set when the embedded broker serves devices on [`DEVICE_LISTENERS`] ports from the
    /// public one: each device is told its own ([`device_listener`]).
    spread: std::sync::OnceLock<()>,
    /// The last connection number admitted per device on the embedded broker
    /// (`doorman_device::broker::admits`): no client id is used twice.
    sessions: Mutex<HashMap<DeviceId, u64>>,
    /// Newly stored events, for the live feed (without their signed bytes).
    feed: tokio::sync::broadcast::Sender<Arc<DeviceEvent>>,
    /// Set when the server stops: open feeds end, so the HTTP server's graceful shutdown
    /// doesn't wait on pages that never close.
    feed_closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Devices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Devices")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// How many stored events the live feed holds for a slow page.
pub const FEED_BACKLOG: usize = 1024;

/// How long after its last message a device counts as online (heartbeats come every 30 s).
pub const ONLINE_WINDOW: Duration = Duration::from_secs(75);

fn now_ts(clock: &doorman_store::Clock) -> Timestamp {
    Timestamp::try_from(clock()).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Devices {
    pub fn new(
        store: Arc<DeviceStore>,
        keys: DeviceKeys,
        control: Arc<dyn Store>,
        clock: doorman_store::Clock,
        config: DevicesConfig,
        ingest: ingest::Kick,
        timer: fn() -> Instant,
    ) -> Devices {
        Devices {
            store,
            keys,
            directory: Directory::new(Arc::clone(&control), timer),
            timer,
            public_broker: Mutex::new(config.public_broker.clone()),
            ca: std::sync::OnceLock::new(),
            spread: std::sync::OnceLock::new(),
            sessions: Mutex::new(HashMap::new()),
            config,
            control,
            clock,
            client: Mutex::new(None),
            runtime: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
            seen: Mutex::new(HashMap::new()),
            rejections: Mutex::new(BTreeMap::new()),
            events_stored: AtomicU64::new(0),
            verifying: CpuPermits::per_core(),
            events_repeated: AtomicU64::new(0),
            ingest,
            feed: tokio::sync::broadcast::channel(FEED_BACKLOG).0,
            feed_closing: tokio::sync::watch::channel(false).0,
        }
    }

    /// Whether the server is stopping (open feeds end when it turns true).
    pub fn feed_closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.feed_closing.subscribe()
    }

    /// Ends every open feed (the server is stopping).
    pub fn close_feeds(&self) {
        self.feed_closing.send_replace(true);
    }

    /// Every event stored from now on, once, as it is stored (the live feed). A subscriber
    /// that falls more than [`FEED_BACKLOG`] events behind misses some and is told so.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<DeviceEvent>> {
        self.feed.subscribe()
    }

    fn now(&self) -> Timestamp {
        now_ts(&self.clock)
    }

    /// The broker address devices are told, once the link is set up.
    pub fn public_broker(&self) -> Option<String> {
        lock(&self.public_broker).clone()
    }

    pub(crate) fn set_public_broker(&self, addr: String) {
        let mut b = lock(&self.public_broker);
        if b.is_none() {
            *b = Some(addr);
        }
    }

    /// The broker address `device` is told: the public one, on the embedded broker with the
    /// port of the device's listener (the public port plus [`device_listener`]).
    pub fn broker_for(&self, device: &DeviceId) -> Option<String> {
        let public = self.public_broker()?;
        if self.spread.get().is_none() {
            return Some(public);
        }
        match doorman_device::broker::BrokerAddr::parse(&public) {
            Ok(mut a) => {
                a.port = a.port.saturating_add(device_listener(device));
                Some(a.to_string())
            }
            Err(_) => Some(public),
        }
    }

    /// Whether devices must use a fresh client id on every connection (the embedded broker;
    /// `doorman_device::broker::session_client_id`).
    pub fn client_id_per_connection(&self) -> bool {
        self.spread.get().is_some()
    }

    /// Admits connection number `n` of `device` if it is larger than the last admitted.
    pub(crate) fn admit_session(&self, device: &DeviceId, n: u64) -> bool {
        let mut sessions = lock(&self.sessions);
        let last = sessions.get(device).copied();
        if !doorman_device::broker::admits(last, n) {
            return false;
        }
        sessions.insert(device.clone(), n);
        true
    }

    /// The embedded broker listens on [`DEVICE_LISTENERS`] consecutive ports, and wants a
    /// fresh client id per connection.
    pub(crate) fn spread_over_listeners(&self) {
        let _ = self.spread.set(());
    }

    pub(crate) fn set_ca(&self, ca: DevicesCa) {
        let _ = self.ca.set(ca);
    }

    /// The embedded broker's CA, if that is the broker.
    pub fn ca(&self) -> Option<&DevicesCa> {
        self.ca.get()
    }

    /// Refused messages so far, by code.
    pub fn rejections(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.rejections).clone()
    }

    fn reject(&self, code: &'static str, what: &str) {
        *lock(&self.rejections).entry(code).or_insert(0) += 1;
        eprintln!("doorman serve: device message refused [{code}]: {what}");
    }

    /// Whether `device` was heard from within [`ONLINE_WINDOW`].
    pub fn online(&self, device: &DeviceId) -> bool {
        let now = (self.timer)();
        lock(&self.seen)
            .get(device)
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) < ONLINE_WINDOW)
    }

    fn client(&self) -> Option<AsyncClient> {
        lock(&self.client).clone()
    }

    async fn send(&self, device: &DeviceId, body: Down) -> Result<(), String> {
        let client = self.client().ok_or("device messaging is off")?;
        let topic = down_topic(device).map_err(|e| e.to_string())?;
        let qos = if doorman_device::messages::at_most_once_down(&body) {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let bytes = Message {
            device: device.clone(),
            at: self.now(),
            body,
        }
        .sign(self.keys.signer())
        .map_err(|e| e.to_string())?;
        client
            .publish(topic, qos, false, bytes)
            .await
            .map_err(|e| e.to_string())
    }

    /// Sends a request to `device` and waits (at most the configured timeout) for its reply.
    /// `make` gets the request id. `Ok(None)`: no answer in time.
    pub async fn request(
        &self,
        device: &DeviceId,
        make: impl FnOnce(String) -> Down,
    ) -> Result<Option<Reply>, String> {
        let id = {
            use rand::RngCore as _;
            let mut b = [0u8; 12];
            rand::rngs::OsRng.fill_bytes(&mut b);
            hex::encode(b)
        };
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id.clone(), tx);
        let sent = self.send(device, make(id.clone())).await;
        let out = match sent {
            Err(e) => Err(e),
            Ok(()) => match tokio::time::timeout(self.config.request_timeout, rx).await {
                Ok(Ok(reply)) => Ok(Some(reply)),
                Ok(Err(_)) | Err(_) => Ok(None),
            },
        };
        lock(&self.pending).remove(&id);
        out
    }

    /// The current signed state of `property`, as a `state` message body.
    fn state_of(&self, property: &PropertyId) -> Down {
        let doc = |kind| {
            self.control
                .document(property, kind)
                .ok()
                .flatten()
                .and_then(|d| String::from_utf8(d.document).ok())
        };
        Down::State {
            revocations: doc(DocumentKind::RevocationList),
            service: doc(DocumentKind::ServiceState),
            config: None,
        }
    }

    /// Pushes `property`'s current state to its online devices (called after a signed state
    /// document was issued or uploaded). Non-blocking: the sends run on the link's runtime.
    pub fn state_changed(self: &Arc<Self>, property: &PropertyId) {
        let Some(handle) = lock(&self.runtime).clone() else {
            return;
        };
        let devices = Arc::clone(self);
        let property = property.clone();
        handle.spawn(async move {
            let d2 = Arc::clone(&devices);
            let p2 = property.clone();
            // Every device of the property heard from lately, including one whose consent
            // was just revoked: this push is how it learns.
            let Ok((targets, state)) = tokio::task::spawn_blocking(move || {
                let now = (d2.timer)();
                let targets: Vec<DeviceId> = lock(&d2.seen)
                    .iter()
                    .filter(|(_, (t, p))| {
                        p == &p2 && now.saturating_duration_since(*t) < ONLINE_WINDOW
                    })
                    .map(|(d, _)| d.clone())
                    .collect();
                (targets, d2.state_of(&p2))
            })
            .await
            else {
                return;
            };
            for t in targets {
                if let Err(e) = devices.send(&t, state.clone()).await {
                    eprintln!("doorman serve: pushing the state of {property} to {t} failed: {e}");
                }
            }
        });
    }

    /// Tells a device it was decommissioned (its installation's consent was revoked).
    pub fn decommission(self: &Arc<Self>, device: DeviceId, reason: String) {
        let Some(handle) = lock(&self.runtime).clone() else {
            return;
        };
        let devices = Arc::clone(self);
        handle.spawn(async move {
            if let Err(e) = devices.send(&device, Down::Decommissioned { reason }).await {
                eprintln!("doorman serve: telling {device} it is decommissioned failed: {e}");
            }
        });
    }

    /// Verifies a device's signed events: each must verify under the device key and be for
    /// its property and door. Returns the rows to store and the highest sequence number seen.
    fn verify_events(
        &self,
        info: &DeviceInfo,
        events: &[Vec<u8>],
        now: Timestamp,
    ) -> (Vec<DeviceEvent>, Option<u64>) {
        let mut rows = Vec::with_capacity(events.len());
        let mut upto = None;
        for bytes in events {
            match AccessEvent::verify(bytes, &info.key) {
                Ok(e) if e.property != info.property || e.door != info.door => self.reject(
                    "wrong_door",
                    &format!(
                        "{}: an event for {} door {} (the device serves {} door {})",
                        info.device, e.property, e.door, info.property, info.door
                    ),
                ),
                Ok(e) => {
                    upto = upto.max(Some(e.seq));
                    rows.push(stored_event(&info.device, &e, bytes, now));
                }
                Err(e) => self.reject(
                    "bad_event",
                    &format!("{}: an event refused: {e} ({})", info.device, e.code()),
                ),
            }
        }
        (rows, upto)
    }

    fn record(&self, rows: Vec<DeviceEvent>) -> Result<(), String> {
        if rows.is_empty() {
            return Ok(());
        }
        // Copies for the live feed only while a page listens (ingestion stays lean otherwise).
        let watched: Vec<DeviceEvent> = if self.feed.receiver_count() > 0 {
            rows.iter()
                .map(|e| DeviceEvent {
                    signed: Vec::new(),
                    ..e.clone()
                })
                .collect()
        } else {
            Vec::new()
        };
        let fresh = self.store.record(rows).map_err(|e| e.to_string())?;
        for (e, new) in watched.into_iter().zip(&fresh) {
            if *new {
                // No receiver left is fine: nobody is watching.
                let _ = self.feed.send(Arc::new(e));
            }
        }
        let new = fresh.iter().filter(|f| **f).count() as u64;
        self.events_stored.fetch_add(new, Ordering::Relaxed);
        self.events_repeated
            .fetch_add(fresh.len() as u64 - new, Ordering::Relaxed);
        self.ingest.kick();
        Ok(())
    }

    /// Handles one message from an `up` topic.
    async fn handle_up(self: Arc<Self>, topic: String, payload: Vec<u8>) {
        let Some(device) = device_of_up_topic(&topic) else {
            return self.reject("bad_topic", &format!("a message on {topic:?}"));
        };
        let me = Arc::clone(&self);
        let d = device.clone();
        let Ok(info) = tokio::task::spawn_blocking(move || me.directory.lookup(&d)).await else {
            return;
        };
        let Some(info) = info else {
            return self.reject(
                "unknown_device",
                &format!("{device} is no approved installation's device"),
            );
        };
        let msg = match Message::<Up>::open(&payload, &device, &info.key) {
            Ok(m) => m,
            Err(e) => {
                return self.reject(
                    match e.code() {
                        "bad_signature" => "bad_signature",
                        "message_too_large" => "message_too_large",
                        "wrong_device" => "wrong_device",
                        _ => "malformed_message",
                    },
                    &format!("{device}: {e}"),
                );
            }
        };
        lock(&self.seen).insert(device.clone(), ((self.timer)(), info.property.clone()));
        let now = self.now();
        match msg.body {
            Up::Events(events) => {
                let me = Arc::clone(&self);
                let info2 = info.clone();
                let stored = tokio::task::spawn_blocking(move || {
                    let (rows, upto) = me.verifying.run(|| me.verify_events(&info2, &events, now));
                    me.record(rows).map(|()| upto)
                })
                .await;
                match stored {
                    Ok(Ok(Some(upto))) => {
                        if let Err(e) = self.send(&device, Down::Ack { upto }).await {
                            eprintln!("doorman serve: acknowledging {device}'s events failed: {e}");
                        }
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => eprintln!(
                        "doorman serve: storing {device}'s events failed (not acknowledged; the device sends them again): {e}"
                    ),
                    Err(e) => eprintln!("doorman serve: storing {device}'s events failed: {e}"),
                }
            }
            Up::Status(s) => {
                let hello = s.hello;
                let me = Arc::clone(&self);
                let offset = msg.at.as_millisecond().saturating_sub(now.as_millisecond());
                let info2 = info.clone();
                let state = tokio::task::spawn_blocking(move || {
                    let status = DeviceStatus {
                        device: info2.device.clone(),
                        property: info2.property.clone(),
                        door: info2.door.to_string(),
                        version: s.version,
                        active: s.active,
                        pending: s.pending,
                        clock_offset_ms: offset,
                        last_seen: now,
                        revocations_issued_at: s.revocations_issued_at.and_then(|t| t.parse().ok()),
                        fault: s.fault,
                    };
                    if let Err(e) = me.store.put_status(&status) {
                        eprintln!(
                            "doorman serve: keeping {}'s status failed: {e}",
                            info2.device
                        );
                    }
                    hello.then(|| me.state_of(&info2.property))
                })
                .await;
                if let Ok(Some(state)) = state
                    && let Err(e) = self.send(&device, state).await
                {
                    eprintln!("doorman serve: sending {device} its state failed: {e}");
                }
            }
            reply @ (Up::Challenge { .. } | Up::Decision { .. } | Up::Refused { .. }) => {
                let request = match &reply {
                    Up::Challenge { request, .. }
                    | Up::Decision { request, .. }
                    | Up::Refused { request, .. } => request.clone(),
                    _ => String::new(),
                };
                // The waiting request first: storing the event (a synced commit) must not delay
                // the driver's answer; the device uploads it again from its journal anyway.
                let decided = match &reply {
                    Up::Decision { event, .. } => Some(event.clone()),
                    _ => None,
                };
                match lock(&self.pending).remove(&request) {
                    Some(tx) => {
                        let _ = tx.send(reply);
                    }
                    None => self.reject(
                        "unexpected_reply",
                        &format!(
                            "{device}: a reply to {request:?}, which nobody waits for (late?)"
                        ),
                    ),
                }
                if let Some(event) = decided {
                    let me = Arc::clone(&self);
                    let info2 = info.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        let (rows, _) = me.verify_events(&info2, &[event], now);
                        if let Err(e) = me.record(rows) {
                            eprintln!(
                                "doorman serve: storing a decision of {} failed: {e}",
                                info2.device
                            );
                        }
                    })
                    .await;
                }
            }
        }
    }
}

/// The server's MQTT session: connects to `host:port` as [`SERVER_USER`], subscribes to
/// every device's `up` topic, and handles each message; reconnects until `stop` fires.
pub fn spawn_link(
    devices: Arc<Devices>,
    addr: (String, u16),
    username: String,
    password: String,
    dynsec: bool,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("doorman-mqtt".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("doorman-mqtt-worker")
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("doorman serve: cannot start the device link: {e}");
                    return;
                }
            };
            *lock(&devices.runtime) = Some(runtime.handle().clone());
            runtime.block_on(run_link(
                Arc::clone(&devices),
                addr,
                (username, password),
                dynsec,
                stop,
            ));
            *lock(&devices.runtime) = None;
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
}

async fn run_link(
    devices: Arc<Devices>,
    (host, port): (String, u16),
    (username, password): (String, String),
    dynsec_on: bool,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut options = MqttOptions::new(username.clone(), host.clone(), port);
    options.set_credentials(username.clone(), password);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    let max = doorman_device::messages::MAX_MESSAGE_BYTES + 1024;
    options.set_max_packet_size(max, max);
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    // Small request/answer messages: without TCP_NODELAY, Nagle's algorithm and delayed
    // acknowledgements add tens of milliseconds to each unlock.
    let mut net = rumqttc::NetworkOptions::new();
    net.set_tcp_nodelay(true);
    eventloop.set_network_options(net);
    *lock(&devices.client) = Some(client.clone());
    let mut failures: u32 = 0;
    let mut dynsec = Dynsec::new(&username);
    let mut tick = tokio::time::interval(DYNSEC_SYNC);
    loop {
        let event = tokio::select! {
            e = eventloop.poll() => e,
            _ = tick.tick(), if dynsec_on => {
                let d = Arc::clone(&devices);
                if let Ok(known) = tokio::task::spawn_blocking(move || d.directory.snapshot()).await {
                    dynsec.sync(&client, &devices.keys, &known, (devices.timer)()).await;
                }
                continue;
            }
            _ = stop.changed() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                failures = 0;
                eprintln!("doorman serve: device link connected to the broker at {host}:{port}");
                if dynsec_on {
                    dynsec.connected(&client).await;
                }
                if let Err(e) = client.subscribe(all_up_topics(), QoS::AtLeastOnce).await {
                    eprintln!("doorman serve: subscribing to the devices' topics failed: {e}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == DYNSEC_RESPONSE => {
                dynsec::log_response(&p.payload);
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let d = Arc::clone(&devices);
                tokio::spawn(d.handle_up(p.topic, p.payload.to_vec()));
            }
            Ok(_) => {}
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_power_of_two() {
                    eprintln!(
                        "doorman serve: the device link to {host}:{port} failed ({failures} times; retrying): {e}"
                    );
                }
                let wait = Duration::from_millis(200 * u64::from(failures.min(10)));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
    let _ = client.disconnect().await;
    *lock(&devices.client) = None;
}

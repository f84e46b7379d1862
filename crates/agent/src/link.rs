//! The agent's side of device messaging (docs/mqtt.md), and the door state both the local
//! socket and the link share.
//!
//! One thread runs the MQTT session ([`run_link`]); it
//!
//! - on every (re)connection subscribes to its `down` topic and says hello (its status), to
//!   which the server answers with the property's current signed state;
//! - uploads the journal's pending decisions, at most [`UPLOAD_BATCH`] per message and one
//!   message unacknowledged at a time, and trims them only on the server's signed
//!   acknowledgement;
//! - answers forwarded challenge requests and passes with the same door the local socket uses;
//! - applies pushed state (each document verified under the property key, only newer kept),
//!   and stops serving when the consent is revoked or the device decommissioned;
//! - reports its status every heartbeat.
//!
//! Every message it accepts must be signed by the server key its property-signed configuration
//! names; anything else is refused with a log line and counted.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use doorman_core::DeviceId;
use doorman_device::messages::{
    ChallengeView, Down, MAX_MESSAGE_BYTES, Message, Status, Up, down_topic,
};
use doorman_device::{Activation, BrokerLink};
use doorman_trust::SecretKey;
use jiff::Timestamp;
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use crate::door::{Door, Outcome, Relay};
use crate::journal::Journal;
use crate::{PushedState, StateDir};

/// Decisions per upload message.
pub const UPLOAD_BATCH: usize = 100;

/// How long an upload waits for its acknowledgement before it is sent again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The link's one monotonic clock (upload and heartbeat timing, never decisions).
#[allow(clippy::disallowed_methods)]
fn monotonic() -> Instant {
    Instant::now()
}

fn elapsed(since: Instant) -> Duration {
    monotonic().saturating_duration_since(since)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The door and what it needs, shared by the local socket and the link.
pub struct Core {
    pub door: Door,
    pub journal: Journal,
    pub relay: Box<dyn Relay + Send>,
    pub activation: Activation,
    /// False once the consent was revoked or the device decommissioned: nothing opens.
    pub active: bool,
    /// The last fault (journal, relay) for the status report.
    pub fault: Option<String>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Why the door could not take a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("the device is not active (its consent was revoked, or it was decommissioned)")]
    NotActive,
    #[error("the decision could not be recorded: {0}")]
    NotRecorded(String),
}

impl CoreError {
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotActive => "not_active",
            CoreError::NotRecorded(_) => "not_recorded",
        }
    }
}

impl Core {
    pub fn new(
        activation: Activation,
        key: SecretKey,
        journal: Journal,
        relay: Box<dyn Relay + Send>,
    ) -> Core {
        Core {
            door: Door::new(&activation, key),
            journal,
            relay,
            activation,
            active: true,
            fault: None,
        }
    }

    /// A challenge for a presenter.
    pub fn challenge(
        &mut self,
        nonce: [u8; 32],
        now: Timestamp,
    ) -> Result<doorman_trust::Challenge, CoreError> {
        if !self.active {
            return Err(CoreError::NotActive);
        }
        Ok(self.door.challenge(nonce, now))
    }

    /// Decides, journals and (on allow) pulses: see [`Door::present`].
    pub fn present(
        &mut self,
        pass: &str,
        nonce: &[u8; 32],
        proof: Option<&doorman_trust::PossessionProof>,
        now: Timestamp,
    ) -> Result<Outcome, CoreError> {
        if !self.active {
            return Err(CoreError::NotActive);
        }
        let out = self
            .door
            .present(
                pass,
                nonce,
                proof,
                now,
                &mut self.journal,
                self.relay.as_mut(),
            )
            .map_err(|e| CoreError::NotRecorded(e.to_string()))?;
        if let Some(f) = &out.fault {
            self.fault = Some(f.clone());
        }
        Ok(out)
    }

    /// The status report.
    pub fn status(&self, hello: bool) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            active: self.active,
            hello,
            pending: self.journal.pending_len() as u64,
            revocations_issued_at: Some(self.activation.revocations.issued_at.to_string()),
            revocations_seq: Some(self.activation.revocations.seq),
            service_seq: Some(self.activation.service.seq),
            config_seq: Some(self.activation.config.seq),
            fault: self.fault.clone(),
        }
    }
}

/// The link's settings.
#[derive(Debug, Clone)]
pub struct LinkConfig {
    pub link: BrokerLink,
    pub device: DeviceId,
    /// The device key: it signs every message up.
    pub key: SecretKey,
    pub heartbeat: Duration,
    /// The CA certificates (PEM) that a `mqtts://` broker's certificate must chain to; the
    /// system's roots if `None`.
    pub broker_ca: Option<Vec<u8>>,
}

/// What the link tells its caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEnd {
    /// Told to stop.
    Stopped,
    /// Decommissioned or consent revoked: activation forgotten, journal uploaded (or the
    /// wait for it gave up).
    Retired(String),
}

/// The MQTT session's options for `config`: the broker's address, the device's account, and
/// for `mqtts://` the TLS set-up (the broker's CA: `--broker-ca`, else the one the activation
/// names, else the system's roots; the device's client certificate if the activation has one).
pub fn mqtt_options(config: &LinkConfig) -> Result<MqttOptions, crate::tls::TlsSetupError> {
    let addr = crate::tls::BrokerAddr::parse(&config.link.broker)?;
    let mut options = MqttOptions::new(config.device.as_str(), addr.host, addr.port);
    if addr.tls {
        let ca = config
            .broker_ca
            .as_deref()
            .or(config.link.ca.as_deref().map(str::as_bytes));
        let identity = config.link.certificate.as_deref().map(|c| (c, &config.key));
        let tls = crate::tls::client_config(ca, identity)?;
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ));
    }
    options.set_credentials(config.link.username.clone(), config.link.password.clone());
    options.set_keep_alive(Duration::from_secs(30));
    options.set_clean_session(true);
    options.set_max_packet_size(MAX_MESSAGE_BYTES + 1024, MAX_MESSAGE_BYTES + 1024);
    next_client_id(&mut options, config);
    Ok(options)
}

/// This process's connection numbers, one sequence for all its links (so no two of them,
/// the load tool's thousands included, ever use the same number).
static CONNECTION_NUMBERS: Mutex<doorman_device::broker::SessionCounter> =
    Mutex::new(doorman_device::broker::SessionCounter::new());

/// The connection numbers' clock: the system's wall clock in milliseconds, so that a
/// restarted agent starts above the numbers it used before. Not the injected clock: this
/// orders connection attempts in real time and never decides anything.
#[allow(clippy::disallowed_methods)]
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Gives the next connection attempt its client id: on a broker that wants a fresh one each
/// time (`client_id_per_connection`, the embedded broker) `<device>.<n>` with the next
/// connection number, else the device id (set by [`mqtt_options`]). Call before the first
/// attempt and after every failed one.
pub fn next_client_id(options: &mut MqttOptions, config: &LinkConfig) {
    if config.link.client_id_per_connection {
        let n = lock(&CONNECTION_NUMBERS).next(wall_ms());
        options.set_client_id(doorman_device::broker::session_client_id(
            config.device.as_str(),
            n,
        ));
    }
}

/// How long one attempt to reach the broker (TCP, TLS, MQTT CONNECT) may take. Long, because
/// after a broker restart every device of a building reconnects at once and a broker may
/// take its handshakes one at a time (rumqttd does): a device that gave up after a few
/// seconds would lose its place in the queue and, retrying, make the queue longer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The network options of the device's link (also used by the load tool, so it measures
/// what devices do).
pub fn network_options() -> rumqttc::NetworkOptions {
    let mut net = rumqttc::NetworkOptions::new();
    // Small request/answer messages: no Nagle delay on the device's answers.
    net.set_tcp_nodelay(true);
    net.set_connection_timeout(CONNECT_TIMEOUT.as_secs());
    net
}

/// The pause before the next attempt after `failures` failed ones in a row: growing by
/// 200 ms per failure up to 2 s, then stretched by a random 0-100 % (from `random`), so that
/// devices that lost the broker together do not all come back in the same instant.
pub fn retry_delay(failures: u32, random: [u8; 32]) -> Duration {
    let base = 200 * u64::from(failures.clamp(1, 10));
    let [a, b, ..] = random;
    let spread = u64::from(u16::from_le_bytes([a, b]));
    Duration::from_millis(base + base * spread / u64::from(u16::MAX))
}

/// Runs the MQTT session until `stop` is set or the device is retired. `now` is the clock,
/// `report` gets one line per notable event.
pub fn run_link(
    config: &LinkConfig,
    core: &Arc<Mutex<Core>>,
    dir: &StateDir,
    now: &(dyn Fn() -> Timestamp + Sync),
    fresh: &mut dyn FnMut() -> [u8; 32],
    stop: &std::sync::atomic::AtomicBool,
    report: &(dyn Fn(&str) + Sync),
) -> LinkEnd {
    use std::sync::atomic::Ordering;
    let key = &config.key;
    let offline = |why: String| {
        report(&format!("{why}; working offline"));
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
        }
        LinkEnd::Stopped
    };
    let Ok(down) = down_topic(&config.device) else {
        report("this device id cannot name MQTT topics; working offline");
        return LinkEnd::Stopped;
    };
    let options = match mqtt_options(config) {
        Ok(o) => o,
        Err(e) => return offline(e.to_string()),
    };
    let (client, mut connection) = Client::new(options, 64);
    connection.eventloop.set_network_options(network_options());
    let up = match doorman_device::messages::up_topic(&config.device) {
        Ok(t) => t,
        Err(_) => return LinkEnd::Stopped,
    };
    let send = |body: Up| -> bool {
        let qos = if doorman_device::messages::at_most_once_up(&body) {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let signed = Message {
            device: config.device.clone(),
            at: now(),
            body,
        }
        .sign(key);
        match signed {
            Ok(bytes) => client.try_publish(up.clone(), qos, false, bytes).is_ok(),
            Err(e) => {
                report(&format!("cannot sign a message: {e}"));
                false
            }
        }
    };
    let server_key = lock(core).activation.config.server_key;
    let mut connected = false;
    let mut inflight: Option<(u64, Instant)> = None;
    let mut last_status: Option<Instant> = None;
    let mut failures: u32 = 0;
    let mut retiring: Option<(String, Instant)> = None;
    loop {
        if stop.load(Ordering::Relaxed) {
            let _ = client.try_disconnect();
            return LinkEnd::Stopped;
        }
        match connection.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {
                connected = true;
                failures = 0;
                inflight = None;
                report("connected to the server");
                let _ = client.try_subscribe(down.clone(), QoS::AtLeastOnce);
                let status = lock(core).status(true);
                if send(Up::Status(status)) {
                    last_status = Some(monotonic());
                }
            }
            Ok(Ok(Event::Incoming(Packet::Publish(p)))) => {
                let reply = handle_down(
                    &p.payload,
                    &config.device,
                    &server_key,
                    core,
                    dir,
                    now,
                    fresh,
                    &mut inflight,
                    report,
                );
                match reply {
                    Handled::Reply(body) => {
                        send(body);
                    }
                    Handled::Retire(why) => {
                        report(&format!("retiring: {why}"));
                        lock(core).active = false;
                        let status = lock(core).status(false);
                        send(Up::Status(status));
                        retiring = Some((why, monotonic()));
                    }
                    Handled::Nothing => {}
                }
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                connected = false;
                failures = failures.saturating_add(1);
                if failures == 1 || failures.is_power_of_two() {
                    report(&format!(
                        "the link to the server failed ({failures} times; retrying): {e}"
                    ));
                }
                std::thread::sleep(retry_delay(failures, fresh()));
                next_client_id(&mut connection.eventloop.mqtt_options, config);
            }
            Err(rumqttc::RecvTimeoutError::Timeout) => {}
            Err(rumqttc::RecvTimeoutError::Disconnected) => return LinkEnd::Stopped,
        }
        if !connected {
            continue;
        }
        // Upload what waits, one message unacknowledged at a time.
        let due = inflight.is_none_or(|(_, sent)| elapsed(sent) >= ACK_TIMEOUT);
        if due {
            let batch = lock(core).journal.pending(UPLOAD_BATCH);
            match batch {
                Ok(records) if !records.is_empty() => {
                    let upto = records.last().map_or(0, |(s, _)| *s);
                    let events = records.into_iter().map(|(_, p)| p).collect();
                    if send(Up::Events(events)) {
                        inflight = Some((upto, monotonic()));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    lock(core).fault = Some(format!("journal: {e}"));
                    report(&format!("cannot read the journal to upload it: {e}"));
                }
            }
        }
        if last_status.is_none_or(|t| elapsed(t) >= config.heartbeat) {
            let status = lock(core).status(false);
            if send(Up::Status(status)) {
                last_status = Some(monotonic());
            }
        }
        if let Some((why, since)) = &retiring {
            let drained = lock(core).journal.pending_len() == 0;
            if drained || elapsed(*since) > Duration::from_secs(30) {
                if let Err(e) = dir.forget() {
                    report(&format!("cannot forget the activation: {e}"));
                }
                let _ = client.try_disconnect();
                return LinkEnd::Retired(why.clone());
            }
        }
    }
}

/// What a message from the server comes to.
#[derive(Debug)]
pub enum Handled {
    /// Send this back.
    Reply(Up),
    /// Stop serving: decommissioned, or the consent revoked.
    Retire(String),
    Nothing,
}

/// Handles one message from the device's `down` topic (the link's own handler; public for
/// load tools that drive many doors from one process). `inflight` is the upload waiting for
/// its acknowledgement.
#[allow(clippy::too_many_arguments)]
pub fn handle_down(
    bytes: &[u8],
    device: &DeviceId,
    server_key: &doorman_trust::PublicKey,
    core: &Arc<Mutex<Core>>,
    dir: &StateDir,
    now: &(dyn Fn() -> Timestamp + Sync),
    fresh: &mut dyn FnMut() -> [u8; 32],
    inflight: &mut Option<(u64, Instant)>,
    report: &(dyn Fn(&str) + Sync),
) -> Handled {
    let msg = match Message::<Down>::open(bytes, device, server_key) {
        Ok(m) => m,
        Err(e) => {
            report(&format!(
                "a message on the down topic refused [{}]: {e}",
                e.code()
            ));
            return Handled::Nothing;
        }
    };
    match msg.body {
        Down::Ack { upto } => {
            let mut c = lock(core);
            match c.journal.ack(upto) {
                Ok(()) => {
                    if inflight.is_some_and(|(u, _)| upto >= u) {
                        *inflight = None;
                    }
                }
                Err(e) => {
                    c.fault = Some(format!("journal: {e}"));
                    report(&format!("cannot record an acknowledgement: {e}"));
                }
            }
            Handled::Nothing
        }
        Down::ChallengeRequest { request } => {
            let r = lock(core).challenge(fresh(), now());
            Handled::Reply(match r {
                Ok(c) => Up::Challenge {
                    request,
                    challenge: ChallengeView::of(&c),
                },
                Err(e) => Up::Refused {
                    request,
                    code: e.code().to_string(),
                    message: e.to_string(),
                },
            })
        }
        Down::Unlock {
            request,
            pass,
            nonce,
            proof,
        } => {
            let outcome = lock(core).present(&pass, &nonce, Some(&proof), now());
            Handled::Reply(match outcome {
                Ok(out) => {
                    report(&format!(
                        "decision {} (forwarded): {}{}",
                        out.event.seq,
                        out.decision.reason().map_or("allow", |r| r.code()),
                        if out.opened { ", relay pulsed" } else { "" },
                    ));
                    Up::Decision {
                        request,
                        opened: out.opened,
                        event: out.signed,
                    }
                }
                Err(e) => Up::Refused {
                    request,
                    code: e.code().to_string(),
                    message: e.to_string(),
                },
            })
        }
        Down::State {
            revocations,
            service,
            config,
        } => {
            let mut c = lock(core);
            let mut activation = c.activation.clone();
            match activation.apply_state(
                revocations.as_deref(),
                service.as_deref(),
                config.as_deref(),
            ) {
                Ok(update) if update.consent_revoked => {
                    Handled::Retire("the property revoked this device's consent".to_string())
                }
                Ok(update) => {
                    if update.revocations || update.service || update.config {
                        c.door.update(&activation);
                        c.activation = activation;
                        let kept = PushedState {
                            revocations: revocations.filter(|_| update.revocations),
                            service: service.filter(|_| update.service),
                            config: config.filter(|_| update.config),
                        };
                        if let Err(e) = dir.keep_state(&kept) {
                            report(&format!("cannot keep the pushed state: {e}"));
                        }
                        report(&format!(
                            "state updated (revocations {}, service {}, config {})",
                            c.activation.revocations.seq,
                            c.activation.service.seq,
                            c.activation.config.seq
                        ));
                    }
                    Handled::Nothing
                }
                Err(e) => {
                    report(&format!("pushed state refused [{}]: {e}", e.code()));
                    Handled::Nothing
                }
            }
        }
        Down::Decommissioned { reason } => Handled::Retire(format!("decommissioned: {reason}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_grows_to_its_cap_and_spreads_by_up_to_double() {
        let ms = |f, r: u8| retry_delay(f, [r; 32]).as_millis();
        assert_eq!(ms(0, 0), 200);
        assert_eq!(ms(1, 0), 200);
        assert_eq!(ms(3, 0), 600);
        assert_eq!(ms(10, 0), 2000);
        assert_eq!(ms(u32::MAX, 0), 2000);
        assert_eq!(ms(10, 0xff), 4000);
        let mut half = [0u8; 32];
        half[1] = 0x80;
        assert!((2990..=3010).contains(&retry_delay(10, half).as_millis()));
    }
}

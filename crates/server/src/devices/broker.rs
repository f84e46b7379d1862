//! The embedded broker: rumqttd in this process, MQTT 3.1.1 on one loopback listener.
//!
//! rumqttd authenticates each connection through a handler (below): the server's own account,
//! or a device whose id names an approved installation and whose password is the one derived
//! for it (`DeviceKeys::password`), with the client id equal to the user name. rumqttd has no
//! topic ACLs, so on this broker a connected device could subscribe to another device's `down`
//! topic (reading the passes forwarded to it, which are useless without the driver's key and
//! that device's challenge) or publish on another's `up` topic (refused by the server: the
//! signature is not that device's). The shipped Mosquitto configuration enforces the topics
//! in the broker as well (docs/mqtt.md).
//!
//! It serves plain MQTT, so it listens on loopback only; a deployment whose devices reach it
//! over a network puts a TLS terminator in front or uses an external broker with TLS.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use doorman_core::DeviceId;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

use super::{Devices, SERVER_USER};
use crate::StartError;

/// Starts rumqttd on `listen` (loopback; port 0 picks a free port) and returns the address.
/// The broker runs on its own threads for the life of the process.
pub fn start_embedded(devices: &Arc<Devices>, listen: &str) -> Result<SocketAddr, StartError> {
    let wanted: SocketAddr = listen
        .parse()
        .map_err(|e| StartError(format!("the embedded broker's address {listen:?}: {e}")))?;
    if !wanted.ip().is_loopback() {
        return Err(StartError(format!(
            "the embedded broker serves plain MQTT, so it listens on loopback only, not {listen}: put a TLS terminator in front of 127.0.0.1, or use an external broker with TLS (docs/mqtt.md)"
        )));
    }
    // rumqttd binds by itself and does not report the port: find a free one first.
    let addr = if wanted.port() == 0 {
        let probe = std::net::TcpListener::bind(wanted)
            .map_err(|e| StartError(format!("the embedded broker on {listen}: {e}")))?;
        probe
            .local_addr()
            .map_err(|e| StartError(format!("the embedded broker on {listen}: {e}")))?
    } else {
        // Fail here, with a clear message, if the port is taken.
        drop(
            std::net::TcpListener::bind(wanted)
                .map_err(|e| StartError(format!("the embedded broker on {listen}: {e}")))?,
        );
        wanted
    };
    let max_payload = doorman_device::messages::MAX_MESSAGE_BYTES + 1024;
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: max_payload,
        max_inflight_count: 200,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let d = Arc::clone(devices);
    connections.set_auth_handler(move |client_id: String, user: String, password: String| {
        let d = Arc::clone(&d);
        async move {
            if client_id != user {
                eprintln!("doorman serve: broker login refused: client id {client_id:?} is not the user name {user:?}");
                return false;
            }
            if user == SERVER_USER {
                return d.keys.check_password(SERVER_USER, &password);
            }
            let Ok(device) = DeviceId::new(user.as_str()) else {
                return false;
            };
            if !d.keys.check_password(device.as_str(), &password) {
                d.reject("bad_credentials", &format!("broker login of {device}"));
                return false;
            }
            let known = tokio::task::spawn_blocking(move || {
                d.directory.lookup(&device).is_some_and(|i| i.approved)
            })
                .await
                .unwrap_or(false);
            if !known {
                eprintln!("doorman serve: broker login refused: {user} is no approved installation's device");
            }
            known
        }
    });
    let mut v4 = HashMap::new();
    v4.insert(
        "1".to_string(),
        ServerSettings {
            name: "doorman-devices".to_string(),
            listen: addr,
            tls: None,
            next_connection_delay_ms: 0,
            connections,
        },
    );
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 20_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 1024 * 1024,
            max_segment_count: 2,
            custom_segment: None,
            initialized_filters: None,
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(v4),
        ..Default::default()
    };
    std::thread::Builder::new()
        .name("doorman-broker".to_string())
        .spawn(move || {
            let mut broker = Broker::new(config);
            if let Err(e) = broker.start() {
                eprintln!("doorman serve: the embedded broker stopped: {e}");
            }
        })
        .map_err(|e| StartError(format!("starting the embedded broker: {e}")))?;
    // Wait until it listens (it binds on its own thread).
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(addr);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(StartError(format!(
        "the embedded broker did not start listening on {addr}"
    )))
}

//! The embedded broker: rumqttd in this process, MQTT 3.1.1 on two listeners.
//!
//! - **Devices**: TLS with client certificates, on the configured address (any interface). A
//!   device's certificate (issued by the server's devices CA for the device's own key, `ca.rs`)
//!   names its tenant, and rumqttd (`validate-tenant-prefix`) lets it publish and subscribe
//!   only under `/tenants/<tenant>/`: its own two topics. Its login (below) must be an approved
//!   installation's device, with the password derived for it (`DeviceKeys::password`) and the
//!   client id equal to the user name. The server's account is refused here.
//! - **The server**: plain MQTT on a loopback port of its own, which admits the server's
//!   account only (no tenant, so it may use every device's topics).
//!
//! What rumqttd refuses (a topic outside the tenant) it logs and answers by dropping the
//! connection; the server never sees it. rumqttd 0.20 completes each TLS handshake before it
//! accepts the next connection, so a client that stalls its handshake holds up new
//! connections (not connected ones) until it gives up: see docs/mqtt.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use doorman_core::DeviceId;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};

use super::{Devices, SERVER_USER};
use crate::StartError;

/// Where the embedded broker listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedAddrs {
    /// The devices' TLS listener.
    pub devices: SocketAddr,
    /// The server's own plain loopback listener.
    pub server: SocketAddr,
}

/// Binds `addr` once to learn a free port (rumqttd binds by itself and does not report it),
/// or to fail here, with a clear message, if the port is taken.
fn free_addr(wanted: SocketAddr, what: &str) -> Result<SocketAddr, StartError> {
    let probe = std::net::TcpListener::bind(wanted)
        .map_err(|e| StartError(format!("{what} on {wanted}: {e}")))?;
    probe
        .local_addr()
        .map_err(|e| StartError(format!("{what} on {wanted}: {e}")))
}

fn connection_settings() -> ConnectionSettings {
    ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: doorman_device::messages::MAX_MESSAGE_BYTES + 1024,
        max_inflight_count: 200,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    }
}

/// Starts rumqttd: the devices' TLS listener on `wanted` (port 0 picks a free port), with the
/// TLS files of `tls` (ca, cert, key), and the server's loopback listener. The broker runs on
/// its own threads for the life of the process.
pub fn start_embedded(
    devices: &Arc<Devices>,
    wanted: SocketAddr,
    tls: &[std::path::PathBuf; 3],
) -> Result<EmbeddedAddrs, StartError> {
    let device_addr = free_addr(wanted, "the embedded broker")?;
    let server_addr = free_addr(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        "the embedded broker's server listener",
    )?;
    let path = |p: &std::path::PathBuf| p.to_string_lossy().into_owned();

    let mut for_devices = connection_settings();
    let d = Arc::clone(devices);
    for_devices.set_auth_handler(move |client_id: String, user: String, password: String| {
        let d = Arc::clone(&d);
        async move {
            if client_id != user {
                eprintln!("doorman serve: broker login refused: client id {client_id:?} is not the user name {user:?}");
                return false;
            }
            let Ok(device) = DeviceId::new(user.as_str()) else {
                return false;
            };
            if user == SERVER_USER {
                eprintln!("doorman serve: broker login refused: the server's account logs in on its own listener, not the devices'");
                return false;
            }
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
    let mut for_server = connection_settings();
    let d = Arc::clone(devices);
    for_server.set_auth_handler(move |client_id: String, user: String, password: String| {
        let d = Arc::clone(&d);
        async move {
            let ok = client_id == SERVER_USER
                && user == SERVER_USER
                && d.keys.check_password(SERVER_USER, &password);
            if !ok {
                eprintln!("doorman serve: broker login refused on the server's listener: {user:?} is not the server");
            }
            ok
        }
    });
    let mut v4 = HashMap::new();
    v4.insert(
        "1".to_string(),
        ServerSettings {
            name: "doorman-devices".to_string(),
            listen: device_addr,
            tls: Some(TlsConfig::Rustls {
                capath: Some(path(&tls[0])),
                certpath: path(&tls[1]),
                keypath: path(&tls[2]),
            }),
            next_connection_delay_ms: 0,
            connections: for_devices,
        },
    );
    v4.insert(
        "2".to_string(),
        ServerSettings {
            name: "doorman-server".to_string(),
            listen: server_addr,
            tls: None,
            next_connection_delay_ms: 0,
            connections: for_server,
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
    // Wait until both listen (they bind on their own threads).
    let connectable = |a: SocketAddr| {
        let a = if a.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        } else {
            a
        };
        std::net::TcpStream::connect(a).is_ok()
    };
    for _ in 0..300 {
        if connectable(device_addr) && connectable(server_addr) {
            return Ok(EmbeddedAddrs {
                devices: device_addr,
                server: server_addr,
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(StartError(format!(
        "the embedded broker did not start listening on {device_addr} and {server_addr}"
    )))
}

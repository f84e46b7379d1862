//! The embedded broker: rumqttd in this process, MQTT 3.1.1.
//!
//! - **Devices**: TLS with client certificates, on [`DEVICE_LISTENERS`] consecutive ports from
//!   the configured address (any interface); each device is told one of them
//!   ([`device_listener`]), and any of them serves any device. A
//!   device's certificate (issued by the server's devices CA for the device's own key, `ca.rs`)
//!   names its tenant, and rumqttd (`validate-tenant-prefix`) lets it publish and subscribe
//!   only under `/tenants/<tenant>/`: its own two topics. Its login (below) must be an approved
//!   installation's device, with the password derived for it (`DeviceKeys::password`) and the
//!   client id equal to the user name. The server's account is refused here.
//! - **The server**: plain MQTT on a loopback port of its own, which admits the server's
//!   account only (no tenant, so it may use every device's topics).
//!
//! What rumqttd refuses (a topic outside the tenant) it logs and answers by dropping the
//! connection; the server never sees it. rumqttd 0.20 runs each listener on one thread that
//! completes each TLS handshake before it accepts the next connection, behind an accept
//! queue of 1,024: hence several listeners, which set a reconnecting fleet up several times
//! faster, and a client that stalls its handshake holds up only its listener's newcomers
//! (not connected devices) until it gives up: see docs/mqtt.md.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use doorman_core::DeviceId;
use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};

use super::{Devices, SERVER_USER};
use crate::StartError;

/// How many rumqttd TLS listeners serve devices, on consecutive ports. Each is a thread that
/// sets up one connection at a time (docs/benchmarks.md: 4 listeners connect 10,000 devices
/// in a fraction of the time 1 takes); a device is told one of them by [`device_listener`].
/// Changing this only changes which port new activation bundles name.
pub const DEVICE_LISTENERS: u16 = 4;

/// Which of the [`DEVICE_LISTENERS`] a device is told to use (its port is the first port plus
/// this): a stable spread by device id (FNV-1a), so a fleet divides evenly and a device keeps
/// its port across restarts.
pub fn device_listener(device: &DeviceId) -> u16 {
    let hash = device
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    u16::try_from(hash % u64::from(DEVICE_LISTENERS)).unwrap_or(0)
}

/// Where the embedded broker listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedAddrs {
    /// The first of the devices' TLS listeners; the others follow on the next ports.
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

/// [`DEVICE_LISTENERS`] consecutive free ports from `wanted` (port 0: any free run of them),
/// checked by binding them all at once.
fn free_run(wanted: SocketAddr) -> Result<SocketAddr, StartError> {
    let what = "the embedded broker";
    let try_from = |first: SocketAddr| -> std::io::Result<SocketAddr> {
        let mut held = Vec::new();
        for i in 0..DEVICE_LISTENERS {
            let port = first.port().checked_add(i).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::AddrNotAvailable, "ports run out")
            })?;
            held.push(std::net::TcpListener::bind(SocketAddr::new(
                first.ip(),
                port,
            ))?);
        }
        Ok(first)
    };
    if wanted.port() != 0 {
        return try_from(wanted).map_err(|e| {
            StartError(format!(
                "{what} on {wanted} and the next {} ports: {e}",
                DEVICE_LISTENERS - 1
            ))
        });
    }
    let mut last = None;
    for _ in 0..50 {
        let first = free_addr(wanted, what)?;
        match try_from(first) {
            Ok(a) => return Ok(a),
            Err(e) => last = Some(e),
        }
    }
    Err(StartError(format!(
        "{what} on {wanted}: no {DEVICE_LISTENERS} consecutive free ports: {last:?}"
    )))
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

/// Starts rumqttd: the devices' TLS listeners from `wanted` (port 0 picks free ports), with the
/// TLS files of `tls` (ca, cert, key), and the server's loopback listener. The broker runs on
/// its own threads for the life of the process.
pub fn start_embedded(
    devices: &Arc<Devices>,
    wanted: SocketAddr,
    tls: &[std::path::PathBuf; 3],
) -> Result<EmbeddedAddrs, StartError> {
    let device_addr = free_run(wanted)?;
    let device_addrs: Vec<SocketAddr> = (0..DEVICE_LISTENERS)
        .map(|i| SocketAddr::new(device_addr.ip(), device_addr.port().saturating_add(i)))
        .collect();
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
            // A fresh client id per connection, `<device>.<n>` (doorman_device::broker).
            let Some(n) = doorman_device::broker::session_of(&client_id, &user) else {
                d.reject(
                    "reused_client_id",
                    &format!("broker login with client id {client_id:?}: not {user:?} with a connection number"),
                );
                return false;
            };
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
            let lookup = Arc::clone(&d);
            let for_lookup = device.clone();
            let known = tokio::task::spawn_blocking(move || {
                lookup.directory.lookup(&for_lookup).is_some_and(|i| i.approved)
            })
            .await
            .unwrap_or(false);
            if !known {
                eprintln!("doorman serve: broker login refused: {user} is no approved installation's device");
                return false;
            }
            // Last, once the device is known to be who it says: a number it used before
            // would reuse a client id, which rumqttd 0.20 cannot take (see session_client_id).
            if !d.admit_session(&device, n) {
                d.reject("reused_client_id", &format!("broker login of {device} with connection number {n}"));
                return false;
            }
            true
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
    for (i, &listen) in device_addrs.iter().enumerate() {
        v4.insert(
            format!("devices-{i}"),
            ServerSettings {
                name: format!("doorman-devices-{i}"),
                listen,
                tls: Some(TlsConfig::Rustls {
                    capath: Some(path(&tls[0])),
                    certpath: path(&tls[1]),
                    keypath: path(&tls[2]),
                }),
                next_connection_delay_ms: 0,
                connections: for_devices.clone(),
            },
        );
    }
    v4.insert(
        "server".to_string(),
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
    // Wait until all listen (they bind on their own threads).
    let connectable = |a: SocketAddr| {
        let a = if a.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        } else {
            a
        };
        std::net::TcpStream::connect(a).is_ok()
    };
    for _ in 0..300 {
        if connectable(server_addr) && device_addrs.iter().all(|&a| connectable(a)) {
            return Ok(EmbeddedAddrs {
                devices: device_addr,
                server: server_addr,
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(StartError(format!(
        "the embedded broker did not start listening on {device_addrs:?} and {server_addr}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_spread_evenly_over_the_listeners_and_keep_theirs() {
        let mut count = [0usize; DEVICE_LISTENERS as usize];
        for i in 0..10_000 {
            let d = DeviceId::new(format!("load-{i}").as_str()).unwrap();
            let l = device_listener(&d);
            assert_eq!(l, device_listener(&d));
            count[usize::from(l)] += 1;
        }
        // An even share is 2,500 each.
        assert!(
            count.iter().all(|&c| (2_300..=2_700).contains(&c)),
            "{count:?}"
        );
    }
}

//! Device accounts on an external Mosquitto, kept by the server through the
//! dynamic-security plugin's control topic (`$CONTROL/dynamic-security/v1`), so approving a
//! device is all it takes for it to log in, and a revoked device is shut out without a broker
//! restart.
//!
//! Per device `d`: an account `d` (client id `d`, the password derived for it, see
//! `DeviceKeys::password`) with one role `doorman-device-d` that allows exactly
//! `publishClientSend /tenants/<t>/doorman/v1/devices/d/up` and `subscribePattern
//! /tenants/<t>/doorman/v1/devices/d/down` (`t`: the device's tenant, the same topics as on
//! the embedded broker).
//! The plugin's default denies every other publish and subscription. The server's own account
//! (the plugin's admin, created by `deploy/mosquitto/setup.sh`) gets the role
//! `doorman-server`: subscribe to every `up`, publish to every `down`.
//!
//! A revoked device keeps its account for [`REVOKED_GRACE`] (the revocation list is pushed to
//! it meanwhile, and it uploads what its journal still holds), then the account is disabled.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use doorman_core::DeviceId;
use doorman_device::messages::{down_topic, every_device, up_topic};
use rumqttc::{AsyncClient, QoS};
use serde_json::json;

use super::DeviceInfo;

/// The plugin's command topic and its answers.
pub const DYNSEC_TOPIC: &str = "$CONTROL/dynamic-security/v1";
pub const DYNSEC_RESPONSE: &str = "$CONTROL/dynamic-security/v1/response";

/// How often the accounts are compared with the approved installations.
pub const DYNSEC_SYNC: Duration = Duration::from_secs(1);

/// How long a revoked device may stay connected.
pub const REVOKED_GRACE: Duration = Duration::from_secs(30);

/// The server's role on the broker.
const SERVER_ROLE: &str = "doorman-server";

/// What was sent to the broker since the link connected.
#[derive(Debug, Default)]
pub struct Dynsec {
    username: String,
    provisioned: HashSet<DeviceId>,
    revoked_since: HashMap<DeviceId, Instant>,
    disabled: HashSet<DeviceId>,
}

async fn send(client: &AsyncClient, commands: Vec<serde_json::Value>) {
    let body = json!({ "commands": commands }).to_string();
    if let Err(e) = client
        .publish(DYNSEC_TOPIC, QoS::AtLeastOnce, false, body.into_bytes())
        .await
    {
        eprintln!("doorman serve: a dynamic-security command could not be sent: {e}");
    }
}

impl Dynsec {
    pub fn new(username: &str) -> Dynsec {
        Dynsec {
            username: username.to_string(),
            ..Default::default()
        }
    }

    /// On every (re)connection: the server's own role, and everything is checked again.
    pub async fn connected(&mut self, client: &AsyncClient) {
        self.provisioned.clear();
        self.disabled.clear();
        if let Err(e) = client.subscribe(DYNSEC_RESPONSE, QoS::AtLeastOnce).await {
            eprintln!("doorman serve: subscribing to the dynamic-security answers failed: {e}");
        }
        send(
            client,
            vec![
                json!({"command": "createRole", "rolename": SERVER_ROLE, "acls": [
                    {"acltype": "subscribePattern", "topic": every_device("up"), "allow": true},
                    {"acltype": "publishClientReceive", "topic": every_device("up"), "allow": true},
                    {"acltype": "publishClientSend", "topic": every_device("down"), "allow": true},
                ]}),
                json!({"command": "addClientRole", "username": self.username, "rolename": SERVER_ROLE}),
            ],
        )
        .await;
    }

    /// Brings the broker's accounts in line with `known` (approved and revoked devices).
    pub async fn sync(
        &mut self,
        client: &AsyncClient,
        keys: &super::DeviceKeys,
        known: &[DeviceInfo],
        now: Instant,
    ) {
        let mut commands = Vec::new();
        for d in known {
            let (Ok(up), Ok(down)) = (up_topic(&d.device), down_topic(&d.device)) else {
                continue;
            };
            let role = format!("doorman-device-{}", d.device);
            if d.approved {
                self.revoked_since.remove(&d.device);
                if self.disabled.remove(&d.device) {
                    commands
                        .push(json!({"command": "enableClient", "username": d.device.as_str()}));
                }
                if self.provisioned.insert(d.device.clone()) {
                    let password = keys.password(d.device.as_str());
                    // Each may fail as "already exists" on a broker that kept its accounts
                    // from an earlier run; the password and role are set again regardless.
                    commands.extend([
                        json!({"command": "createRole", "rolename": role, "acls": [
                            {"acltype": "publishClientSend", "topic": up, "allow": true},
                            {"acltype": "subscribePattern", "topic": down, "allow": true},
                            {"acltype": "publishClientReceive", "topic": down, "allow": true},
                        ]}),
                        json!({"command": "createClient", "username": d.device.as_str(),
                               "clientid": d.device.as_str(), "password": password,
                               "roles": [{"rolename": role}]}),
                        json!({"command": "setClientPassword", "username": d.device.as_str(), "password": password}),
                        json!({"command": "addClientRole", "username": d.device.as_str(), "rolename": role}),
                        json!({"command": "enableClient", "username": d.device.as_str()}),
                    ]);
                }
            } else if !self.disabled.contains(&d.device) {
                let since = *self.revoked_since.entry(d.device.clone()).or_insert(now);
                if now.saturating_duration_since(since) >= REVOKED_GRACE {
                    commands
                        .push(json!({"command": "disableClient", "username": d.device.as_str()}));
                    self.disabled.insert(d.device.clone());
                    self.provisioned.remove(&d.device);
                }
            }
        }
        // One message per command batch stays small (the broker's packet limit).
        for chunk in commands.chunks(100) {
            send(client, chunk.to_vec()).await;
        }
    }
}

/// Logs what the plugin refused (except that a thing exists already).
pub fn log_response(payload: &[u8]) {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return;
    };
    let responses = v.get("responses").and_then(serde_json::Value::as_array);
    for r in responses.into_iter().flatten() {
        if let Some(e) = r.get("error").and_then(serde_json::Value::as_str)
            && !e.contains("already exists")
            && !e.contains("already has")
        {
            eprintln!(
                "doorman serve: the broker refused {}: {e}",
                r.get("command")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("a command")
            );
        }
    }
}

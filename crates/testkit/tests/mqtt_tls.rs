//! A door agent on a network reaches the broker over TLS (issue 5: "TLS on any non-loopback
//! listener"): the real Mosquitto with the shipped configuration's TLS listener enabled, a
//! server certificate from a test CA, the agent trusting that CA (`--broker-ca`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use doorman_testkit::{Building, Mosquitto, TestAgent, TestServer};

/// Over TLS an online unlock works end to end; an agent that trusts another CA never
/// connects (it keeps deciding offline and says why), so a broker impostor gets nothing, not
/// even the device's broker password.
#[test]
fn an_agent_reaches_mosquitto_over_tls_and_refuses_an_untrusted_broker() {
    let m = Mosquitto::start_with_tls();
    let tls = m.tls_addr.clone().unwrap();
    let config = m.broker_config();
    let server = TestServer::start_with(|c| c.devices.broker = config);
    let b = Building::new(&server);
    let auth = b.authorize(&server);

    let mut agent = TestAgent::install(&server, &b, "dev_tls", "street");
    agent.stop_link();
    agent.set_broker(Some(tls.clone()));
    agent.set_broker_ca(m.ca_pem.clone());
    agent.start_link();
    agent.wait_online(&b);
    let p = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "TLS-1"))
        .unwrap()
        .token;
    let opened = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
    assert_eq!(opened.result, "allow");
    assert_eq!(agent.pulses(), 1);
    agent.stop_link();

    // Another door's agent that trusts a different CA (the system's roots): the handshake
    // fails, it never goes online.
    let mut wary = TestAgent::install(&server, &b, "dev_wary", "garage");
    wary.stop_link();
    wary.set_broker(Some(tls));
    wary.set_broker_ca(None);
    wary.start_link();
    std::thread::sleep(Duration::from_secs(3));
    let devices = b.manager.devices(&b.property.id).unwrap();
    let status = devices
        .devices
        .iter()
        .find(|d| d.device == "dev_wary")
        .expect("the device is listed");
    assert!(
        !status.online,
        "an agent connected to a broker it does not trust"
    );
    let log = wary.log.lock().unwrap().join("\n");
    assert!(
        log.contains("certificate") || log.contains("roots"),
        "the agent did not say why: {log}"
    );
    assert!(!log.contains("connected to the server"), "{log}");
}

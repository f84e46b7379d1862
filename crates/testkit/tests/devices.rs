//! Door devices over MQTT (issue 5): real agents (the agent's library, simulated relays)
//! connected to a real server through its embedded broker.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use doorman_agent::link::LinkEnd;
use doorman_testkit::{Building, Mosquitto, TestAgent, TestServer};

/// Which broker a scenario runs over.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Broker {
    Embedded,
    Mosquitto,
}

/// A server over `broker`, and the Mosquitto it uses (kept alive by the caller).
fn server_over(broker: Broker) -> (TestServer, Option<Mosquitto>) {
    server_over_with(broker, |_| {})
}

/// The same, with the server's configuration adjusted first.
fn server_over_with(
    broker: Broker,
    adjust: impl FnOnce(&mut doorman_server::ServerConfig),
) -> (TestServer, Option<Mosquitto>) {
    match broker {
        Broker::Embedded => (TestServer::start_with(adjust), None),
        Broker::Mosquitto => {
            let m = Mosquitto::start();
            let config = m.broker_config();
            let server = TestServer::start_with(|c| {
                c.devices.broker = config;
                adjust(c);
            });
            (server, Some(m))
        }
    }
}

fn code(r: Result<impl std::fmt::Debug, doorman_client::ClientError>) -> String {
    match r {
        Err(e) => e.code().unwrap_or("(no code)").to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Waits until `f` holds, or fails with `what`.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for: {what}");
}

fn pass(server: &TestServer, b: &Building, authorization: &str, delivery: &str) -> String {
    b.carrier
        .mint_pass(authorization, &b.pass_request(server, delivery))
        .unwrap()
        .token
}

/// A pass forwarded through the API opens the door once; the device's signed event reaches
/// the property's access log exactly once, with a proof; the journal is trimmed on the
/// server's acknowledgement; the device's status is shown.
#[test]
fn an_online_unlock_opens_once_and_its_event_is_logged_once_embedded() {
    online_unlock(Broker::Embedded);
}

#[test]
fn an_online_unlock_opens_once_and_its_event_is_logged_once_mosquitto() {
    online_unlock(Broker::Mosquitto);
}

fn online_unlock(broker: Broker) {
    let (server, _mosquitto) = server_over(broker);
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = TestAgent::install(&server, &b, "dev_street", "street");
    agent.wait_online(&b);

    let p = pass(&server, &b, &auth.id, "D-1");
    let first = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
    assert_eq!(first.result, "allow");
    assert_eq!(first.device, "dev_street");
    assert_eq!(agent.pulses(), 1);
    // The same pass again (a new challenge): replayed, the door stays shut.
    let again = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
    assert_eq!(again.result, "deny");
    assert_eq!(agent.pulses(), 1);
    // A copied pass without the driver's key: denied.
    let p2 = pass(&server, &b, &auth.id, "D-2");
    let stranger = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
    let copied = TestAgent::unlock_online(&server, &b, "street", &p2, &stranger).unwrap();
    assert_eq!(copied.result, "deny");
    // Nobody serves the garage door.
    assert_eq!(
        code(server.client().door_challenge(&b.property.id, "garage")),
        "no_device"
    );

    // The three decisions arrive, each once, and are in the access log.
    eventually("three logged events", || {
        b.manager
            .device_events(&b.property.id, "limit=100")
            .is_ok_and(|e| e.events.len() == 3 && e.events.iter().all(|e| e.log_index.is_some()))
    });
    let events = b
        .manager
        .device_events(&b.property.id, "limit=100")
        .unwrap();
    let reasons: Vec<_> = events
        .events
        .iter()
        .map(|e| (e.result.as_str(), e.reason.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("allow", None),
            ("deny", Some("replayed")),
            ("deny", Some("no_proof_of_possession"))
        ]
    );
    let mut indexes: Vec<u64> = events.events.iter().filter_map(|e| e.log_index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 3, "each event has its own leaf");
    for i in &indexes {
        b.manager.access_proof(&b.property.id, *i).unwrap();
    }
    // Filters and export.
    let denied = b
        .manager
        .device_events(&b.property.id, "result=deny")
        .unwrap();
    assert_eq!(denied.events.len(), 2);
    let page = b.manager.device_events(&b.property.id, "limit=2").unwrap();
    assert_eq!(page.events.len(), 2);
    let rest = b
        .manager
        .device_events(
            &b.property.id,
            &format!("limit=2&after={}", page.next_after.clone().unwrap()),
        )
        .unwrap();
    assert_eq!(rest.events.len(), 1);
    assert!(rest.next_after.is_none());
    let csv = b
        .manager
        .raw(
            "GET",
            &format!("/api/v1/properties/{}/events?format=csv", b.property.id),
            None,
            None,
        )
        .unwrap();
    assert_eq!(csv.status, 200);
    let text = String::from_utf8(csv.body).unwrap();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.starts_with("device,seq,door,at,result,reason"));
    assert_eq!(
        code(b.manager.device_events(&b.property.id, "result=maybe")),
        "bad_query"
    );
    // A resident or another building's manager sees none of it.
    let (other, _) = server.sign_up("property", "Elsewhere", "x@elsewhere.example");
    assert_eq!(code(other.device_events(&b.property.id, "")), "not_found");

    // The server acknowledged: the journal is empty; the status says so.
    eventually("an empty journal", || agent.pending() == 0);
    eventually("the status shows the empty queue", || {
        b.manager.devices(&b.property.id).is_ok_and(|d| {
            d.devices
                .iter()
                .any(|d| d.device == "dev_street" && d.queue == Some(0) && d.version.is_some())
        })
    });
}

/// Decisions taken while the link is down wait in the journal and are delivered, once each,
/// when it comes back; revoking the consent reaches the online agent, which stops serving and
/// forgets its activation.
#[test]
fn offline_decisions_are_delivered_later_and_a_revoked_consent_retires_the_agent_embedded() {
    offline_then_revoked(Broker::Embedded);
}

#[test]
fn offline_decisions_are_delivered_later_and_a_revoked_consent_retires_the_agent_mosquitto() {
    offline_then_revoked(Broker::Mosquitto);
}

fn offline_then_revoked(broker: Broker) {
    let (server, _mosquitto) = server_over(broker);
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let mut agent = TestAgent::install(&server, &b, "dev_offline", "street");
    agent.wait_online(&b);
    assert!(matches!(agent.stop_link(), Some(LinkEnd::Stopped)));

    // Offline: the driver presents at the door itself (the local channel's path).
    for i in 0..5 {
        let p = pass(&server, &b, &auth.id, &format!("OFF-{i}"));
        let mut core = agent.core.lock().unwrap();
        let c = core
            .challenge([i as u8 + 1; 32], server.clock.now())
            .unwrap();
        let bytes = doorman_trust::token::decode(&p).unwrap();
        let proof = c
            .prove(&b.driver_secret, &bytes, server.clock.now())
            .unwrap();
        let out = core
            .present(&p, &c.nonce, Some(&proof), server.clock.now())
            .unwrap();
        assert!(out.opened);
    }
    assert_eq!(agent.pending(), 5);
    agent.start_link();
    eventually("five logged events", || {
        b.manager
            .device_events(&b.property.id, "")
            .is_ok_and(|e| e.events.len() == 5 && e.events.iter().all(|e| e.log_index.is_some()))
    });
    eventually("an empty journal", || agent.pending() == 0);

    // The consent is revoked: the new revocation list reaches the agent, which retires.
    b.manager
        .revoke_consent(&agent.installation, "device_removed")
        .unwrap();
    let end = agent.wait_end(Duration::from_secs(10));
    assert!(
        matches!(end, Some(LinkEnd::Retired(_))),
        "{end:?}; log: {:?}",
        agent.log.lock().unwrap()
    );
    assert!(!agent.core.lock().unwrap().active);
    assert!(
        agent
            .state
            .activation(server.clock.now())
            .unwrap()
            .is_none()
    );
}

/// The agent loses its link for a simulated day (the test clock walks 26 hours) and keeps
/// deciding at the door: passes minted through the day, allowed within the schedule, refused
/// outside it, replayed, expired, copied without the driver's key, and — once its revocation
/// list is older than the offline bound — `revocations_stale`, each journaled. When the link
/// comes back every journaled decision reaches the server exactly once (the same signed bytes,
/// each (device, seq) once with its own access-log leaf), the journal is trimmed, the agent
/// has fresh state again (a pass revoked during the day is refused online, a new one opens),
/// and a second reconnect delivers what was decided meanwhile and duplicates nothing.
#[test]
fn an_agent_offline_for_a_day_delivers_everything_once_when_back_embedded() {
    offline_for_a_day(Broker::Embedded);
}

#[test]
fn an_agent_offline_for_a_day_delivers_everything_once_when_back_mosquitto() {
    offline_for_a_day(Broker::Mosquitto);
}

/// Every event of the property, all pages.
fn all_events(b: &Building) -> Vec<doorman_proto::DeviceEventView> {
    let mut out = Vec::new();
    let mut query = "limit=1000".to_string();
    loop {
        let page = b.manager.device_events(&b.property.id, &query).unwrap();
        out.extend(page.events);
        match page.next_after {
            Some(after) => query = format!("limit=1000&after={after}"),
            None => return out,
        }
    }
}

/// One decision at the door through the local (offline) path: a challenge, the handset's
/// answer signed with `driver`, the decision. Returns the journaled event's sequence number,
/// its reason (`None` on allow) and whether the relay pulsed.
fn at_the_door(
    agent: &TestAgent,
    pass: &str,
    driver: &doorman_trust::SecretKey,
    nonce: [u8; 32],
    now: jiff::Timestamp,
) -> (u64, Option<&'static str>, bool) {
    let mut core = agent.core.lock().unwrap();
    let c = core.challenge(nonce, now).unwrap();
    let bytes = doorman_trust::token::decode(pass).unwrap();
    let proof = c.prove(driver, &bytes, now).unwrap();
    let out = core.present(pass, &c.nonce, Some(&proof), now).unwrap();
    assert!(out.fault.is_none(), "{:?}", out.fault);
    (
        out.event.seq,
        out.decision.reason().map(|r| r.code()),
        out.opened,
    )
}

fn offline_for_a_day(broker: Broker) {
    // The day outlasts a session (12 h by default); the cast stays signed in.
    let (server, _mosquitto) = server_over_with(broker, |c| {
        c.api.session_ttl = Duration::from_secs(3 * 24 * 3600);
    });
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let mut agent = TestAgent::install(&server, &b, "dev_day", "street");
    agent.wait_online(&b);
    let (issued, bound, seq_before) = {
        let core = agent.core.lock().unwrap();
        let a = &core.activation;
        (
            a.revocations.issued_at,
            a.config.policy().revocation_max_age,
            a.revocations.seq,
        )
    };
    assert_eq!(bound, jiff::SignedDuration::from_hours(24), "docs/agent.md");
    assert!(matches!(agent.stop_link(), Some(LinkEnd::Stopped)));

    // What the door should say, from the documented order (docs/trust.md): a stale list first,
    // then proof of possession, the pass's window, the schedule (Mon-Fri 08:00-20:00 in
    // Europe/Paris), the replay cache.
    let stale = |t: jiff::Timestamp| t.duration_since(issued) > bound;
    let in_schedule = |t: jiff::Timestamp| {
        let local = t.in_tz("Europe/Paris").unwrap();
        let weekday = local.weekday().to_monday_one_offset();
        (1..=5).contains(&weekday) && (8..20).contains(&local.hour())
    };

    // The day: every 87 minutes from 10:00 Tuesday (Paris) to 12:06 Wednesday, so no step
    // falls on the schedule's edges or on the bound itself.
    let start = server.clock.now();
    let mut expected: Vec<(u64, Option<&'static str>)> = Vec::new();
    let mut nonce = 0u32;
    let mut next_nonce = || {
        nonce += 1;
        let mut n = [0u8; 32];
        n[..4].copy_from_slice(&nonce.to_be_bytes());
        n
    };
    let mut previous: Option<String> = None;
    let mut pulses = 0usize;
    let stranger = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
    for step in 0..=18i64 {
        server
            .clock
            .set(start + jiff::SignedDuration::from_mins(87 * step));
        let now = server.clock.now();
        let fresh = pass(&server, &b, &auth.id, &format!("DAY-{step:02}"));
        // The fresh pass.
        let want = if stale(now) {
            Some("revocations_stale")
        } else if !in_schedule(now) {
            Some("outside_schedule")
        } else {
            None
        };
        let (seq, reason, opened) =
            at_the_door(&agent, &fresh, &b.driver_secret, next_nonce(), now);
        assert_eq!(
            (reason, opened),
            (want, want.is_none()),
            "step {step} at {now}"
        );
        pulses += usize::from(opened);
        expected.push((seq, reason));
        // The same pass again.
        let again = match want {
            None => Some("replayed"),
            other => other,
        };
        let (seq, reason, opened) =
            at_the_door(&agent, &fresh, &b.driver_secret, next_nonce(), now);
        assert_eq!((reason, opened), (again, false), "step {step} replay");
        expected.push((seq, reason));
        // The previous step's pass, whose hour is over.
        if let Some(old) = &previous {
            let want = if stale(now) {
                "revocations_stale"
            } else {
                "expired"
            };
            let (seq, reason, opened) =
                at_the_door(&agent, old, &b.driver_secret, next_nonce(), now);
            assert_eq!((reason, opened), (Some(want), false), "step {step} expired");
            expected.push((seq, reason));
        }
        // Every third step, a copy of the pass presented without the driver's key.
        if step % 3 == 1 {
            let copy = pass(&server, &b, &auth.id, &format!("COPY-{step:02}"));
            let want = if stale(now) {
                "revocations_stale"
            } else {
                "no_proof_of_possession"
            };
            let (seq, reason, opened) = at_the_door(&agent, &copy, &stranger, next_nonce(), now);
            assert_eq!((reason, opened), (Some(want), false), "step {step} copy");
            expected.push((seq, reason));
        }
        previous = Some(fresh);
    }
    // The day had all of it: 8 entries (7 on Tuesday, 1 on Wednesday morning), 9 steps of
    // night outside the schedule, and the last two steps past the bound, where even the
    // replay and the expired pass come out `revocations_stale` (checked first).
    let count = |r: Option<&str>| expected.iter().filter(|(_, x)| *x == r).count();
    assert_eq!(count(None), 8, "{expected:?}");
    assert_eq!(pulses, 8);
    assert_eq!(agent.pulses(), 8);
    assert_eq!(count(Some("replayed")), 8);
    assert_eq!(count(Some("outside_schedule")), 2 * 9, "{expected:?}");
    assert_eq!(count(Some("expired")), 16);
    assert_eq!(count(Some("no_proof_of_possession")), 6);
    assert_eq!(count(Some("revocations_stale")), 2 * 3, "{expected:?}");
    let n = expected.len();
    assert_eq!(n, 19 * 2 + 18 + 6);
    // Sequence numbers 1..=n, in order, all waiting in the journal.
    assert_eq!(
        expected.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=n as u64).collect::<Vec<_>>()
    );
    assert_eq!(agent.pending(), n);
    let journaled = doorman_agent::journal::read_pending(agent.state.path()).unwrap();
    assert_eq!(journaled.len(), n);
    // Nothing reached the server meanwhile.
    assert!(all_events(&b).is_empty());

    // At the end of the day the manager revokes a pass the driver still holds, so the
    // server's list is new at the test clock's time. (The server's keeper re-issues lists
    // hourly, but it ticks on real minutes, which this test does not wait for.)
    let revoked = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "LOST-1"))
        .unwrap();
    b.manager
        .revoke_id(
            &b.property.id,
            &doorman_proto::RevokeIdRequest {
                revocation_id: revoked.id.clone(),
                reason: "lost_handset".to_string(),
                expires_at: None,
            },
        )
        .unwrap();

    // Back online.
    agent.start_link();
    agent.wait_online(&b);
    eventually("every offline decision delivered and logged", || {
        let e = all_events(&b);
        e.len() >= n && e.iter().all(|e| e.log_index.is_some())
    });
    eventually("an empty journal", || agent.pending() == 0);
    let events = all_events(&b);
    assert_eq!(events.len(), n, "each decision once");
    let delivered: Vec<(String, u64, String, Option<String>, String)> = {
        let mut d: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.device.clone(),
                    e.seq,
                    e.result.clone(),
                    e.reason.clone(),
                    e.event.clone(),
                )
            })
            .collect();
        d.sort_by_key(|x| x.1);
        d
    };
    let wanted: Vec<(String, u64, String, Option<String>, String)> = journaled
        .iter()
        .zip(&expected)
        .map(|((seq, bytes), (s, reason))| {
            assert_eq!(seq, s);
            (
                "dev_day".to_string(),
                *seq,
                if reason.is_none() { "allow" } else { "deny" }.to_string(),
                reason.map(str::to_string),
                String::from_utf8(bytes.clone()).unwrap(),
            )
        })
        .collect();
    assert_eq!(delivered, wanted);
    let mut indexes: Vec<u64> = events.iter().filter_map(|e| e.log_index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), n, "each event has its own leaf");
    assert!(
        doorman_agent::journal::read_pending(agent.state.path())
            .unwrap()
            .is_empty()
    );

    // Fresh state again: the new revocation list arrived on reconnect.
    eventually("the new revocation list", || {
        agent.core.lock().unwrap().activation.revocations.seq > seq_before
    });
    let age = server
        .clock
        .now()
        .duration_since(agent.core.lock().unwrap().activation.revocations.issued_at);
    assert!(age <= bound, "the list is {age:?} old");
    let r =
        TestAgent::unlock_online(&server, &b, "street", &revoked.token, &b.driver_secret).unwrap();
    assert_eq!(r.result, "deny");
    let p = pass(&server, &b, &auth.id, "BACK-1");
    let r = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
    assert_eq!(r.result, "allow");
    assert_eq!(agent.pulses(), 9);
    eventually("the two online decisions logged", || {
        let e = all_events(&b);
        e.len() >= n + 2 && e.iter().all(|e| e.log_index.is_some())
    });
    let events = all_events(&b);
    assert_eq!(events.len(), n + 2);
    let last: Vec<_> = events
        .iter()
        .filter(|e| e.seq > n as u64)
        .map(|e| (e.seq, e.reason.as_deref()))
        .collect();
    assert_eq!(
        last,
        [(n as u64 + 1, Some("revoked")), (n as u64 + 2, None)]
    );
    eventually("an empty journal again", || agent.pending() == 0);

    // A second outage, shorter, with one decision; then back: that one arrives, nothing
    // already delivered comes again.
    assert!(matches!(agent.stop_link(), Some(LinkEnd::Stopped)));
    server.clock.advance(jiff::SignedDuration::from_mins(10));
    let now = server.clock.now();
    let p = pass(&server, &b, &auth.id, "AGAIN-1");
    let (seq, reason, opened) = at_the_door(&agent, &p, &b.driver_secret, next_nonce(), now);
    assert_eq!((seq, reason, opened), (n as u64 + 3, None, true));
    agent.start_link();
    agent.wait_online(&b);
    eventually("the decision of the second outage logged", || {
        all_events(&b)
            .iter()
            .any(|e| e.seq == n as u64 + 3 && e.log_index.is_some())
    });
    eventually("an empty journal once more", || agent.pending() == 0);
    // A heartbeat or two later, still exactly once each.
    std::thread::sleep(Duration::from_millis(1500));
    let events = all_events(&b);
    assert_eq!(events.len(), n + 3);
    let mut keys: Vec<(String, u64)> = events.iter().map(|e| (e.device.clone(), e.seq)).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n + 3, "each (device, seq) once");
    let mut indexes: Vec<u64> = events.iter().filter_map(|e| e.log_index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), n + 3, "each event has its own leaf");
}

/// What the broker carries that is not a device's own signed message is refused, counted,
/// and disturbs nothing: garbage, oversized payloads, another device's topic, a device with
/// a wrong password.
#[test]
fn bad_messages_are_refused_and_counted_and_nothing_else_is_disturbed_embedded() {
    bad_messages(Broker::Embedded);
}

#[test]
fn bad_messages_are_refused_and_counted_and_nothing_else_is_disturbed_mosquitto() {
    bad_messages(Broker::Mosquitto);
}

/// A building with `dev_a` online at the street door and `dev_b` installed at the garage,
/// whose credentials a test borrows to misbehave with (its own agent stays off).
struct Borrowed {
    server: TestServer,
    mosquitto: Option<Mosquitto>,
    b: Building,
    auth: doorman_proto::AuthorizationView,
    agent: TestAgent,
    other: TestAgent,
}

fn two_devices(kind: Broker) -> Borrowed {
    let (server, mosquitto) = server_over(kind);
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = TestAgent::install(&server, &b, "dev_a", "street");
    agent.wait_online(&b);
    let mut other = TestAgent::install(&server, &b, "dev_b", "garage");
    other.wait_online(&b);
    other.stop_link();
    Borrowed {
        server,
        mosquitto,
        b,
        auth,
        agent,
        other,
    }
}

fn bad_messages(kind: Broker) {
    let Borrowed {
        server,
        mosquitto,
        b,
        auth,
        agent,
        other,
    } = two_devices(kind);
    let dev_b = doorman_core::DeviceId::new("dev_b").unwrap();
    let dev_a = doorman_core::DeviceId::new("dev_a").unwrap();
    let ghost = doorman_core::DeviceId::new("dev_ghost").unwrap();
    let up = |d: &doorman_core::DeviceId| doorman_device::messages::up_topic(d).unwrap();
    let (own_up, a_up, ghost_up) = (up(&dev_b), up(&dev_a), up(&ghost));

    // Logged in as dev_b (its own credentials): junk on its own topic, a message signed by
    // dev_b on dev_a's topic, and a topic of a device that is not there.
    let mut options = other.mqtt_options();
    options.set_max_packet_size(2 * 1024 * 1024, 2 * 1024 * 1024);
    let (client, mut connection) = rumqttc::Client::new(options, 16);
    let impostor = doorman_device::messages::Message {
        device: doorman_core::DeviceId::new("dev_a").unwrap(),
        at: server.clock.now(),
        body: doorman_device::messages::Up::Events(vec![]),
    }
    .sign(&other.key)
    .unwrap();
    let own = own_up.clone();
    let sender = std::thread::spawn(move || {
        for p in [
            b"not json".to_vec(),
            // Over the message limit, within the broker's packet limit: the server refuses it.
            vec![b'{'; doorman_device::messages::MAX_MESSAGE_BYTES + 100],
            br#"{"payload":"e30","signature":"AAAA"}"#.to_vec(),
        ] {
            client
                .publish(&own, rumqttc::QoS::AtLeastOnce, false, p)
                .unwrap();
        }
        // Both brokers stop these (the embedded one drops the connection for them).
        let _ = client.publish(&a_up, rumqttc::QoS::AtLeastOnce, false, impostor);
        let _ = client.publish(&ghost_up, rumqttc::QoS::AtLeastOnce, false, b"{}".to_vec());
        std::thread::sleep(Duration::from_millis(500));
        let _ = client.disconnect();
    });
    for event in connection.iter() {
        if event.is_err() {
            break;
        }
    }
    sender.join().unwrap();
    // Neither broker lets dev_b's message onto dev_a's topic, nor the one onto a topic of no
    // device: the embedded broker (dev_b's certificate names dev_b's tenant only) drops the
    // connection, Mosquitto's ACLs drop the message. The server sees only the three on dev_b's
    // own topic.
    eventually("the refusals counted", || {
        let r = server.api().devices.rejections();
        eprintln!("refusals so far: {r:?}");
        r.get("malformed_message").copied().unwrap_or(0) >= 1
            && r.get("message_too_large").copied().unwrap_or(0) >= 1
            && r.get("bad_signature").copied().unwrap_or(0) >= 1
    });
    // The same counts in /metrics.
    let metrics = String::from_utf8(
        server
            .client()
            .raw("GET", "/metrics", None, None)
            .unwrap()
            .body,
    )
    .unwrap();
    assert!(
        metrics.contains("doorman_device_messages_refused_total{code=\"malformed_message\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("doorman_device_events_stored_total"),
        "{metrics}"
    );
    // Whatever the broker stopped never reached the server.
    std::thread::sleep(Duration::from_millis(300));
    let r = server.api().devices.rejections();
    assert_eq!(r.get("bad_signature").copied().unwrap_or(0), 1, "{r:?}");
    assert_eq!(r.get("unknown_device"), None, "{r:?}");
    let _ = &mosquitto;
    // Over the broker's packet limit: the broker drops that connection, nothing else.
    let mut options = other.mqtt_options();
    options.set_max_packet_size(4 * 1024 * 1024, 4 * 1024 * 1024);
    let (client, mut connection) = rumqttc::Client::new(options, 4);
    client
        .publish(
            &own_up,
            rumqttc::QoS::AtLeastOnce,
            false,
            vec![b'x'; 2 * doorman_device::messages::MAX_MESSAGE_BYTES],
        )
        .unwrap();
    let dropped = connection.iter().take(10).any(|e| e.is_err());
    assert!(
        dropped,
        "the broker kept a connection that sent an oversized packet"
    );

    // A wrong password does not get in.
    let mut options = other.mqtt_options();
    options.set_credentials("dev_b", "not-the-password");
    let (_c, mut connection) = rumqttc::Client::new(options, 4);
    let first = connection.iter().next().unwrap();
    assert!(first.is_err(), "{first:?}");

    // The agent still works.
    agent.wait_online(&b);
    let p = pass(&server, &b, &auth.id, "D-9");
    let r = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
    assert_eq!(r.result, "allow");
}

/// A device logged in with its own credentials can't read another device's `down` topic:
/// its own subscription is granted, but one to another device's topic (or to every device's)
/// is refused by the broker, and nothing sent to the other device reaches it.
#[test]
fn a_device_cannot_subscribe_to_another_devices_topics_embedded() {
    foreign_topics(Broker::Embedded);
}

#[test]
fn a_device_cannot_subscribe_to_another_devices_topics_mosquitto() {
    foreign_topics(Broker::Mosquitto);
}

fn foreign_topics(kind: Broker) {
    use rumqttc::{Event, Packet, SubscribeReasonCode};
    let Borrowed {
        server,
        b,
        auth,
        // Both held to the end: dev_a's link answers the unlock below, and Mosquitto runs.
        agent: _agent,
        mosquitto: _mosquitto,
        other,
    } = two_devices(kind);
    let down = |d: &str| {
        doorman_device::messages::down_topic(&doorman_core::DeviceId::new(d).unwrap()).unwrap()
    };

    // Watches one connection of dev_b's: every event (or its end) to `tx`.
    let watch = |filters: Vec<String>| {
        let (client, mut connection) = rumqttc::Client::new(other.mqtt_options(), 16);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for event in connection.iter() {
                let end = event.is_err();
                if tx.send(event.map_err(|e| e.to_string())).is_err() || end {
                    break;
                }
            }
        });
        for f in filters {
            client.subscribe(f, rumqttc::QoS::AtLeastOnce).unwrap();
        }
        (client, rx)
    };
    let next_suback = |rx: &std::sync::mpsc::Receiver<Result<Event, String>>| loop {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(Event::Incoming(Packet::SubAck(a)))) => return Ok(a.return_codes),
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(e),
            Err(e) => panic!("no answer from the broker: {e}"),
        }
    };

    // Its own down topic: granted (so what follows is the broker refusing, not a broken login).
    let (_own, rx) = watch(vec![down("dev_b")]);
    assert_eq!(
        next_suback(&rx).unwrap(),
        vec![SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)]
    );

    if kind == Broker::Embedded {
        // Without a client certificate there is no tenant: the TLS handshake fails, so the
        // password alone gets nobody onto the embedded broker.
        let ca = server.api().devices.ca().unwrap().ca_pem();
        let tls = doorman_agent::tls::client_config(Some(ca.as_bytes()), None).unwrap();
        let mut options = other.mqtt_options();
        options.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(tls),
        ));
        let (_c, mut connection) = rumqttc::Client::new(options, 4);
        let first = connection.iter().next().unwrap();
        assert!(first.is_err(), "{first:?}");
    }

    for filter in [
        down("dev_a"),
        doorman_device::messages::every_device("down"),
    ] {
        let (_client, rx) = watch(vec![filter.clone()]);
        match (kind, next_suback(&rx)) {
            // rumqttd refuses a filter outside the tenant of the client's certificate by
            // dropping the connection.
            (Broker::Embedded, Err(_)) => {}
            // Mosquitto's ACLs answer with a failure code and keep the connection.
            (Broker::Mosquitto, Ok(codes)) => {
                assert_eq!(codes, vec![SubscribeReasonCode::Failure], "{filter}")
            }
            (_, other) => panic!("subscribing to {filter}: {other:?}"),
        }
        // Traffic to dev_a meanwhile (a challenge request, the unlock, the acknowledgement)
        // never reaches dev_b's connection.
        let p = pass(&server, &b, &auth.id, &format!("T-{}", filter.len()));
        let r = TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret).unwrap();
        assert_eq!(r.result, "allow");
        std::thread::sleep(Duration::from_millis(300));
        while let Ok(event) = rx.try_recv() {
            if let Ok(Event::Incoming(Packet::Publish(p))) = event {
                panic!("dev_b received {} on {}", p.payload.len(), p.topic);
            }
        }
    }
}

/// The broker goes down (SIGKILL) and comes back: the agent and the server reconnect by
/// themselves, decisions taken meanwhile are delivered once, and unlocks work again.
/// rumqttd 0.20 can be made to panic by a client id whose earlier connection failed before
/// its CONNACK (bytebeamio/rumqtt#1062), which stops its listener for good. So on the
/// embedded broker every connection has a client id of its own, `<device>.<n>`, and the
/// server admits each number once: a reused one, or the bare device id, is refused and
/// counted, and fresh ones keep getting in.
#[test]
fn a_client_id_is_admitted_once_on_the_embedded_broker() {
    use rumqttc::{ConnectReturnCode, Event, Packet};
    let Borrowed {
        server,
        agent: _agent,
        other,
        ..
    } = two_devices(Broker::Embedded);
    // The first event of a connection: admitted (a successful CONNACK) or not, and what.
    let first_event = |options: rumqttc::MqttOptions| {
        let (_client, mut connection) = rumqttc::Client::new(options, 4);
        let e = connection.iter().next().unwrap();
        let ok = matches!(&e, Ok(Event::Incoming(Packet::ConnAck(a))) if a.code == ConnectReturnCode::Success);
        (ok, format!("{e:?}"))
    };
    let admitted = |e: &(bool, String)| e.0;
    let options = other.mqtt_options();
    let id = options.client_id();
    assert!(id.starts_with("dev_b."), "{id}");
    let e = first_event(options.clone());
    assert!(admitted(&e), "a fresh client id was refused: {e:?}");
    let e = first_event(options);
    assert!(
        !admitted(&e),
        "the client id {id} was admitted twice: {e:?}"
    );
    let mut bare = other.mqtt_options();
    bare.set_client_id("dev_b".to_string());
    let e = first_event(bare);
    assert!(!admitted(&e), "the bare device id was admitted: {e:?}");
    let r = server.api().devices.rejections();
    assert_eq!(r.get("reused_client_id").copied(), Some(2), "{r:?}");
    for _ in 0..3 {
        let e = first_event(other.mqtt_options());
        assert!(
            admitted(&e),
            "a fresh client id was refused after the refusals: {e:?}"
        );
    }
}

#[test]
fn after_a_broker_restart_agents_reconnect_and_resync() {
    let (server, mosquitto) = server_over(Broker::Mosquitto);
    let mut mosquitto = mosquitto.unwrap();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = TestAgent::install(&server, &b, "dev_restart", "street");
    agent.wait_online(&b);
    let p = pass(&server, &b, &auth.id, "R-1");
    assert_eq!(
        TestAgent::unlock_online(&server, &b, "street", &p, &b.driver_secret)
            .unwrap()
            .result,
        "allow"
    );
    mosquitto.restart();
    // While it was down nothing was lost: the decision is journaled until acknowledged.
    let p2 = pass(&server, &b, &auth.id, "R-2");
    let mut tries = Vec::new();
    let opened = (0..400).any(|_| {
        let r = TestAgent::unlock_online(&server, &b, "street", &p2, &b.driver_secret);
        let ok = r.as_ref().is_ok_and(|r| r.result == "allow");
        tries.push(format!("{:?}", r.map(|r| (r.result, r.seq))));
        if !ok {
            std::thread::sleep(Duration::from_millis(25));
        }
        ok
    });
    assert!(
        opened,
        "no unlock through the restarted broker; tries: {tries:?}; agent log: {:?}",
        agent.log.lock().unwrap()
    );
    eventually("both decisions logged, once each", || {
        b.manager.device_events(&b.property.id, "").is_ok_and(|e| {
            e.events.iter().filter(|e| e.result == "allow").count() == 2
                && e.events.iter().all(|e| e.log_index.is_some())
        })
    });
    eventually("an empty journal", || agent.pending() == 0);
}

/// A handset whose clock is off by more than the device's tolerance is refused with
/// `clock_skew`, online as at the door; within the tolerance it opens.
#[test]
fn a_clock_beyond_the_tolerance_is_refused_with_its_reason() {
    let (server, _m) = server_over(Broker::Embedded);
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = TestAgent::install(&server, &b, "dev_skew", "street");
    agent.wait_online(&b);
    let skewed = server
        .clock
        .now()
        .checked_add(jiff::SignedDuration::from_mins(10))
        .unwrap();
    let p = pass(&server, &b, &auth.id, "SKEW-1");
    let r = server
        .client()
        .unlock_as_driver(&b.property.id, "street", &p, &b.driver_secret, skewed)
        .unwrap();
    assert_eq!(r.result, "deny");
    let within = server
        .clock
        .now()
        .checked_add(jiff::SignedDuration::from_secs(30))
        .unwrap();
    let p2 = pass(&server, &b, &auth.id, "SKEW-2");
    let r2 = server
        .client()
        .unlock_as_driver(&b.property.id, "street", &p2, &b.driver_secret, within)
        .unwrap();
    assert_eq!(r2.result, "allow");
    eventually("both decisions logged", || {
        b.manager
            .device_events(&b.property.id, "")
            .is_ok_and(|e| e.events.len() == 2)
    });
    let events = b.manager.device_events(&b.property.id, "").unwrap();
    assert_eq!(events.events[0].reason.as_deref(), Some("clock_skew"));
    assert_eq!(events.events[1].result, "allow");
}

/// Decommissioning reaches the online agent: it stops serving, uploads what it holds and
/// forgets its activation; `device_decommissioned` is in the public log.
#[test]
fn a_decommissioned_device_stops_and_forgets_its_activation() {
    let (server, _m) = server_over(Broker::Embedded);
    let b = Building::new(&server);
    let mut agent = TestAgent::install(&server, &b, "dev_gone", "street");
    agent.wait_online(&b);
    let done = b
        .manager
        .decommission(&agent.installation, "device_removed")
        .unwrap();
    assert_eq!(done.status, "revoked");
    let end = agent.wait_end(Duration::from_secs(10));
    assert!(
        matches!(&end, Some(LinkEnd::Retired(why)) if why.contains("decommissioned") || why.contains("revoked")),
        "{end:?}; log: {:?}",
        agent.log.lock().unwrap()
    );
    assert!(
        agent
            .state
            .activation(server.clock.now())
            .unwrap()
            .is_none()
    );
    // In the public log, for every monitor of the address.
    let found = server
        .client()
        .raw(
            "GET",
            &format!(
                "/public/v1/installations?address={}",
                "12%20Main%20Street%2C%20Springfield"
            ),
            None,
            None,
        )
        .unwrap();
    eventually("device_decommissioned in the public log", || {
        server
            .client()
            .raw(
                "GET",
                "/public/v1/installations?address=12%20Main%20Street%2C%20Springfield",
                None,
                None,
            )
            .is_ok_and(|r| String::from_utf8_lossy(&r.body).contains("device_decommissioned"))
    });
    assert_eq!(found.status, 200);
    // Twice is refused.
    assert_eq!(
        code(
            b.manager
                .decommission(&agent.installation, "device_removed")
        ),
        "already_revoked"
    );
}

//! `doorman serve` killed with SIGKILL while a door agent uploads its journal: after the
//! restart, every decision is in the server once — none lost (an acknowledged event was
//! committed first), none twice (not in the device store, not in the access log).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doorman_agent::StateDir;
use doorman_agent::door::SimulatedRelay;
use doorman_agent::embedded::{EmbeddedLink, link_config};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_agent::link::Core;
use doorman_proto::{ApproveRequest, CreateInstallationRequest, MintPassRequest};
use doorman_testkit::remote::RemoteCast;
use jiff::{SignedDuration, Timestamp};

struct Serve {
    child: Child,
    url: String,
    code: Option<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, listen: &str, broker: &str) -> Serve {
    let mut child = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args([
            "serve",
            "--listen",
            listen,
            "--embedded-broker",
            broker,
            "--data-dir",
        ])
        .arg(data)
        .args(["--checkpoint-interval", "100ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut code) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(i) = line.find("--code ") {
            code = line[i + 7..].split_whitespace().next().map(str::to_string);
        }
        if let Some(rest) = line.strip_prefix("doorman serve: listening on ") {
            url = Some(rest.trim_end_matches("/log").to_string());
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Serve {
        child,
        url: url.expect("doorman serve started"),
        code,
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[allow(clippy::disallowed_methods)]
fn now() -> Timestamp {
    Timestamp::now()
}

#[test]
fn a_server_killed_during_an_upload_loses_and_repeats_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let listen = format!("127.0.0.1:{}", free_port());
    let broker = format!("127.0.0.1:{}", free_port());
    let mut server = serve(&data, &listen, &broker);
    let cast = RemoteCast::setup(&server.url, server.code.as_deref().unwrap());
    cast.manager
        .add_door(&cast.property, "street", "Street door")
        .unwrap();
    let key = doorman_testkit::remote::log_key(&server.url);

    // One agent, approved and activated through the API.
    let state = StateDir::new(dir.path().join("agent"));
    let enrolment = state.init(&key, Some("dev-crash")).unwrap();
    let req = cast
        .installer
        .file_installation(&CreateInstallationRequest {
            property: cast.property.clone(),
            door: "street".into(),
            device_id: enrolment.device_id,
            device_key: enrolment.device_key,
            notes: String::new(),
            installer: None,
        })
        .unwrap();
    cast.manager
        .approve(&req.id, &ApproveRequest::default())
        .unwrap();
    let mut bundle = None;
    for _ in 0..200 {
        bundle = cast.installer.activation(&req.id).ok();
        if bundle.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let activation = state
        .activate(&serde_json::to_vec(&bundle.unwrap()).unwrap(), now())
        .unwrap();
    let journal = Journal::open(state.path(), JournalLimits::default()).unwrap();
    let core = Arc::new(Mutex::new(Core::new(
        activation,
        state.device_key().unwrap(),
        journal,
        Box::new(SimulatedRelay::default()),
    )));

    // Offline, 500 decisions: one pass presented again and again (one allow, then replays).
    let auth = cast
        .manager
        .authorize(
            &cast.property,
            &doorman_proto::AuthorizeRequest {
                carrier: cast.carrier_org.clone(),
                doors: vec!["street".into()],
                schedule: "Daily 00:00-24:00".into(),
                daily_cap: None,
                not_before: None,
                not_after: now().checked_add(SignedDuration::from_hours(24)).unwrap(),
                max_pass_duration: None,
                authorization: None,
            },
        )
        .unwrap();
    let pass = cast
        .carrier
        .mint_pass(
            &auth.id,
            &MintPassRequest {
                door: "street".into(),
                unit: "1A".into(),
                delivery: "CRASH".into(),
                driver: Some(cast.driver_id.clone()),
                driver_key: None,
                not_before: now(),
                not_after: now().checked_add(SignedDuration::from_hours(1)).unwrap(),
            },
        )
        .unwrap()
        .token;
    let bytes = doorman_trust::token::decode(&pass).unwrap();
    const N: usize = 500;
    for i in 0..N {
        let mut c = core.lock().unwrap();
        let mut nonce = [0u8; 32];
        nonce[..8].copy_from_slice(&(i as u64).to_be_bytes());
        let ch = c.challenge(nonce, now()).unwrap();
        let proof = ch.prove(&cast.driver, &bytes, now()).unwrap();
        c.present(&pass, &ch.nonce, Some(&proof), now()).unwrap();
    }
    assert_eq!(core.lock().unwrap().journal.pending_len(), N);

    // Online: kill the server once part of the journal is acknowledged, then start it again.
    let config = link_config(&state, &core, None, Duration::from_secs(1))
        .unwrap()
        .unwrap();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut link = EmbeddedLink::start(
        config,
        Arc::clone(&core),
        &state,
        Arc::new(now),
        Arc::clone(&log),
    )
    .unwrap();
    let pending = || core.lock().unwrap().journal.pending_len();
    for _ in 0..2000 {
        if pending() < N - 100 {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let before_kill = pending();
    assert!(before_kill < N, "nothing was acknowledged before the kill");
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    assert!(
        before_kill > 0,
        "everything was uploaded before the kill: make N larger"
    );
    drop(server);
    let _server = serve(&data, &listen, &broker);
    for _ in 0..2000 {
        if pending() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        pending(),
        0,
        "not everything was delivered: {:?}",
        log.lock().unwrap()
    );
    link.stop();

    // Every decision exactly once, each in its own access-log leaf.
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(a) => format!("limit=1000&after={a}"),
            None => "limit=1000".to_string(),
        };
        let page = cast.manager.device_events(&cast.property, &q).unwrap();
        events.extend(page.events);
        match page.next_after {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=N as u64).collect::<Vec<_>>(),
        "every decision once"
    );
    let mut logged = Vec::new();
    for _ in 0..400 {
        let page = cast
            .manager
            .device_events(&cast.property, "limit=10000")
            .unwrap();
        logged = page.events.iter().filter_map(|e| e.log_index).collect();
        if logged.len() == N {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    logged.sort_unstable();
    logged.dedup();
    assert_eq!(logged.len(), N, "every decision in its own access-log leaf");
    let access = cast.manager.access_log(&cast.property, 0, 1).unwrap();
    assert_eq!(access.size, N as u64, "no leaf twice in the access log");
}

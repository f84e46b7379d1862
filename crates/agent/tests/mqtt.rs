//! The `doorman-agent` binary against a whole server (in-process, embedded broker): enrolled,
//! approved and activated through the API, `run` connects by itself, a pass forwarded through
//! the API opens the (simulated) relay, and the signed decision reaches the property's log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use doorman_proto::{ApproveRequest, CreateInstallationRequest};
use doorman_testkit::{Building, TestAgent, TestServer};

fn agent(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Enrols `dev_bin` with the binary, files, approves and activates it; returns its state dir
/// and the time to run it at.
fn installed(server: &TestServer, b: &Building, dir: &Path) -> (std::path::PathBuf, String) {
    let state = dir.join("state");
    let init = agent(
        &state,
        &[
            "--json",
            "init",
            "--log-key",
            &server.verifier_key,
            "--device-id",
            "dev_bin",
        ],
    );
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let enrolment: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
    let req = b
        .installer
        .file_installation(&CreateInstallationRequest {
            property: b.property.id.clone(),
            door: "street".to_string(),
            device_id: "dev_bin".to_string(),
            device_key: enrolment["device_key"].as_str().unwrap().to_string(),
            notes: String::new(),
            installer: None,
        })
        .unwrap();
    let approved = b
        .manager
        .approve(&req.id, &ApproveRequest::default())
        .unwrap();
    server.wait_for_log(approved.consent.unwrap().log_index.unwrap() + 1);
    let bundle = b.installer.activation(&req.id).unwrap();
    let path = dir.join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let now = server.clock.now().to_string();
    let activated = agent(&state, &["activate", path.to_str().unwrap(), "--at", &now]);
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );
    (state, now)
}

fn wait_online(b: &Building, log: &dyn Fn() -> String) {
    for _ in 0..400 {
        if b.manager
            .devices(&b.property.id)
            .is_ok_and(|d| d.devices.iter().any(|d| d.device == "dev_bin" && d.online))
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the agent did not come online: {}", log());
}

#[test]
fn the_agent_binary_serves_unlocks_forwarded_by_the_server() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let dir = tempfile::tempdir().unwrap();
    let (state, now) = installed(&server, &b, dir.path());
    let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
    let _run = Running(
        Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
            .arg("--state-dir")
            .arg(&state)
            .args(["run", "--fixed-time", &now, "--heartbeat-secs", "1"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let agent_log = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    wait_online(&b, &agent_log);

    let pass = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "BIN-1"))
        .unwrap()
        .token;
    let r = TestAgent::unlock_online(&server, &b, "street", &pass, &b.driver_secret).unwrap();
    assert_eq!(r.result, "allow", "{}", agent_log());
    let pulses = std::fs::read_to_string(state.join("relay-sim.log")).unwrap();
    assert_eq!(pulses.lines().collect::<Vec<_>>(), ["pulse 3000"]);
    let mut logged = false;
    for _ in 0..400 {
        if b.manager.device_events(&b.property.id, "").is_ok_and(|e| {
            e.events.len() == 1 && e.events[0].log_index.is_some() && e.events[0].result == "allow"
        }) {
            logged = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        logged,
        "the decision did not reach the log: {}",
        agent_log()
    );
    // The agent's own log shows the forwarded decision.
    assert!(
        agent_log().contains("(forwarded): allow"),
        "{}",
        agent_log()
    );
}

/// Decisions journaled by an agent that is then killed (SIGKILL) before it uploaded them are
/// delivered, once each, by the next run.
#[test]
fn decisions_journaled_before_a_kill_are_delivered_after_the_restart() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let dir = tempfile::tempdir().unwrap();
    let (state, now) = installed(&server, &b, dir.path());
    let driver_key = dir.path().join("driver.key");
    std::fs::write(&driver_key, b.driver_secret.to_pem().unwrap().as_bytes()).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&driver_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Offline: no upload can happen; three entries at the door's reader.
    let offline = Running(
        Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
            .arg("--state-dir")
            .arg(&state)
            .args(["run", "--offline", "--fixed-time", &now])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let socket = state.join("door.sock");
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    for i in 0..3 {
        let pass = b
            .carrier
            .mint_pass(&auth.id, &b.pass_request(&server, &format!("KILL-{i}")))
            .unwrap()
            .token;
        let pass_file = dir.path().join(format!("pass-{i}"));
        std::fs::write(&pass_file, &pass).unwrap();
        let out = agent(
            &state,
            &[
                "present",
                "--pass",
                pass_file.to_str().unwrap(),
                "--driver-key",
                driver_key.to_str().unwrap(),
                "--fixed-time",
                &now,
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(offline); // SIGKILL: the three decisions are only in the journal.
    let pending = agent(&state, &["--json", "log"]);
    assert_eq!(String::from_utf8_lossy(&pending.stdout).lines().count(), 3);

    let log = std::fs::File::create(dir.path().join("agent.log")).unwrap();
    let _run = Running(
        Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
            .arg("--state-dir")
            .arg(&state)
            .args(["run", "--fixed-time", &now, "--heartbeat-secs", "1"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let agent_log = || std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default();
    wait_online(&b, &agent_log);
    let mut delivered = false;
    for _ in 0..400 {
        if b.manager.device_events(&b.property.id, "").is_ok_and(|e| {
            e.events.len() == 3
                && e.events
                    .iter()
                    .all(|e| e.log_index.is_some() && e.result == "allow")
        }) {
            delivered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(delivered, "not delivered: {}", agent_log());
    // Acknowledged: the journal is empty.
    let mut empty = false;
    for _ in 0..200 {
        let pending = agent(&state, &["--json", "log"]);
        if pending.stdout.is_empty() {
            empty = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(empty, "the journal was not trimmed: {}", agent_log());
}

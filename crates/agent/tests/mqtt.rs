//! The `doorman-agent` binary against a whole server (in-process, embedded broker): enrolled,
//! approved and activated through the API, `run` connects by itself, a pass forwarded through
//! the API opens the (simulated) relay, and the signed decision reaches the property's log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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

#[test]
fn the_agent_binary_serves_unlocks_forwarded_by_the_server() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
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
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let now = server.clock.now().to_string();
    let activated = agent(&state, &["activate", path.to_str().unwrap(), "--at", &now]);
    assert!(
        activated.status.success(),
        "{}",
        String::from_utf8_lossy(&activated.stderr)
    );

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
    let mut online = false;
    for _ in 0..400 {
        if b.manager
            .devices(&b.property.id)
            .is_ok_and(|d| d.devices.iter().any(|d| d.device == "dev_bin" && d.online))
        {
            online = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(online, "the agent did not come online: {}", agent_log());

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

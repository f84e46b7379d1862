//! Issue 5's agent figures: `doorman-agent run`'s memory while active, with the release binary.
//!
//! ```sh
//! cargo build --release -p doorman-agent
//! cargo run --release -p doorman-agent --example agent_memory -- target/release/doorman-agent [N [BACKLOG]]
//! ```
//!
//! Sets up a state dir (init, then an activation from the fixture log for the trust fixture's
//! building), starts `run` at the fixture's time, presents N passes over the socket — each a
//! fresh pass minted on the fixture's authorization (allowed, journaled, pulsed) followed by a
//! replay of it (refused, journaled; past the authorization's daily cap of 50 the fresh ones are
//! refused too, `daily_cap_reached`) — and prints the agent's VmRSS and VmHWM from
//! /proc/<pid>/status after start, after the presentations and 5 s later.
//!
//! With BACKLOG (e.g. 100000), the journal already holds that many unacknowledged decisions
//! when `run` starts: real signed access events (an allow of a fixture pass, signed with this
//! device's key, sequence numbers 1..=BACKLOG, about 800 bytes each) written straight into
//! `journal.log` in the journal's format and synced once, as a box left offline would have
//! them. The agent checks them all at open; VmHWM then says what that cost at its peak.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::indexing_slicing,
    clippy::disallowed_methods
)]

use std::process::{Command, Stdio};

use doorman_agent::journal;
use doorman_agent::local::present_over;
use doorman_core::{DeliveryRef, PropertyId};
use doorman_device::AccessEvent;
use doorman_device::fixture::{World, good_in};
use doorman_trust::fixture::Fixture;
use doorman_trust::token;

/// `VmRSS x kB / VmHWM y kB` of the process (the kernel's "kB" are KiB).
fn memory(pid: u32) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    format!("VmRSS {} / VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bin = args.next().expect("the doorman-agent binary");
    let n: u64 = args.next().map_or(1000, |s| s.parse().unwrap());
    let backlog: u64 = args.next().map_or(0, |s| s.parse().unwrap());
    let f = Fixture::new().unwrap();
    let at = f.now.to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let agent = |a: &[&str]| {
        let out = Command::new(&bin)
            .arg("--state-dir")
            .arg(&state)
            .args(a)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    agent(&["init", "--log-key", &World::new().log_key().to_string()]);
    let shown: serde_json::Value = serde_json::from_slice(&agent(&["--json", "show"])).unwrap();
    let mut w = World::new();
    w.property_key = f.property_key.clone();
    w.property = PropertyId::new(f.property.as_str()).unwrap();
    w.device_key = shown["device_key"].as_str().unwrap().parse().unwrap();
    w.issued_at = f.now - jiff::SignedDuration::from_hours(1);
    let (_, bundle) = good_in(w);
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_bytes()).unwrap();
    agent(&["activate", file.to_str().unwrap(), "--at", &at]);
    if backlog > 0 {
        write_backlog(&f, &state, backlog);
    }

    let spawned = std::time::Instant::now();
    let mut run = Command::new(&bin)
        .arg("--state-dir")
        .arg(&state)
        .args(["run", "--fixed-time", &at])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let socket = state.join("door.sock");
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!(
        "after start ({backlog} decisions waiting, serving after {:.2} s): {}",
        spawned.elapsed().as_secs_f64(),
        memory(run.id())
    );
    let started = std::time::Instant::now();
    let (mut allowed, mut refused) = (0, 0);
    for i in 0..n {
        let mut spec = f.pass_spec();
        spec.delivery = DeliveryRef::new(format!("ACME-{i:08}")).unwrap();
        let pass = f.mint(&spec).unwrap();
        let bytes = token::decode(&pass).unwrap();
        for _ in 0..2 {
            let answer = present_over(&socket, &pass, |c| {
                c.prove(&f.driver_key, &bytes, f.now)
                    .map_err(|e| e.to_string())
            })
            .unwrap();
            match answer["result"].as_str() {
                Some("allow") => allowed += 1,
                _ => refused += 1,
            }
        }
    }
    let spent = started.elapsed();
    println!(
        "{} presentations in {:.1} s ({:.2} ms each, client signing included): {allowed} allowed, {refused} refused",
        2 * n,
        spent.as_secs_f64(),
        spent.as_secs_f64() * 1000.0 / (2 * n) as f64
    );
    println!("after the presentations: {}", memory(run.id()));
    std::thread::sleep(std::time::Duration::from_secs(5));
    println!("5 s later: {}", memory(run.id()));
    let journal = std::fs::metadata(state.join("journal.log")).unwrap().len();
    println!("journal: {journal} bytes for {} decisions", backlog + 2 * n);
    run.kill().unwrap();
    run.wait().unwrap();
}

/// Writes `count` signed decisions into the journal of the agent in `state`, as if they had
/// been decided offline and never acknowledged.
fn write_backlog(f: &Fixture, state: &std::path::Path, count: u64) {
    use std::io::Write as _;
    let dir = doorman_agent::StateDir::new(state);
    let key = dir.device_key().unwrap();
    let activation = dir.activation(f.now).unwrap().expect("activated");
    let mut door_state = f.state().unwrap();
    let decision = f.present(&f.device(), &mut door_state, &f.pass, f.now);
    assert!(decision.is_allow(), "{decision:?}");
    let file = std::fs::File::create(state.join(journal::JOURNAL_FILE)).unwrap();
    let mut out = std::io::BufWriter::new(file);
    let started = std::time::Instant::now();
    let mut bytes = 0u64;
    for seq in 1..=count {
        let at = f.now - jiff::SignedDuration::from_secs(i64::try_from(count - seq).unwrap());
        let event = AccessEvent::of_decision(
            &activation.property,
            &activation.door,
            key.public(),
            seq,
            at,
            &decision,
        );
        let record = journal::encode_record(seq, &event.sign(&key).unwrap()).unwrap();
        bytes += record.len() as u64;
        out.write_all(&record).unwrap();
    }
    out.into_inner().unwrap().sync_all().unwrap();
    println!(
        "backlog: {count} signed decisions, {bytes} bytes, written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

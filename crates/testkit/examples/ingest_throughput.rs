//! Device event ingestion on the SQLite default, the server's own path minus the broker hop:
//! each event's device signature verified (as `Devices` does for every uploaded event), the
//! verified events stored in batches of 100 (one upload message each) in `devices.sqlite`,
//! and the ingester's rounds appending them to the property's access log (salts recorded,
//! leaves appended, indexes marked, the log integrated and checkpointed).
//!
//! `cargo run --release -p doorman-testkit --example ingest_throughput -- [EVENTS] [DEVICES]
//! [THREADS] [mixed]` (default 200,000 events from 100 devices of one property, each upload
//! message 100 consecutive events of one device, the devices taking turns; verified and stored
//! by 32 threads: the server handles each upload message in its own task on tokio's blocking
//! pool, so the messages of different devices arriving together are handled at once, each
//! verification holding one of the per-core `CpuPermits` as there, and their commits are
//! grouped by `DeviceStore::record`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use doorman_core::{DenyReason, DeviceId, DoorId, PropertyId};
use doorman_device::AccessEvent;
use doorman_server::devices::CpuPermits;
use doorman_store::{AccessKey, AccessLogs, DeviceEvent, DeviceStore};
use doorman_trust::{Decision, Denial, PublicKey, SecretKey};
use jiff::Timestamp;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(200_000, |a| a.parse().unwrap());
    let devices: usize = args.next().map_or(100, |a| a.parse().unwrap());
    let threads: usize = args.next().map_or(32, |a| a.parse().unwrap());
    // `mixed`: the earlier composition, each message holding one event of each of 100 devices
    // (which the server would refuse: a message is one device's); by default each message is
    // 100 consecutive events of one device, as an agent uploads its journal.
    let mixed = args.next().is_some_and(|a| a == "mixed");
    let dir = tempfile::tempdir().unwrap();
    let property = PropertyId::new("prop_bench").unwrap();
    let door = DoorId::new("street").unwrap();
    let keys: Vec<SecretKey> = (0..devices)
        .map(|i| SecretKey::from_seed(&[u8::try_from(i % 251).unwrap() + 1; 32]))
        .collect();
    // The server keeps each device's public key parsed (`DeviceInfo::key`), so the events are
    // verified under keys made once here: deriving one per event would add a point
    // decompression (a quarter of a verification) that the server never pays.
    let public: Vec<PublicKey> = keys.iter().map(SecretKey::public).collect();
    let at = Timestamp::from_second(1_796_000_000).unwrap();
    // What devices upload: signed events (made before the clock starts).
    let t0 = Instant::now();
    let signed: Vec<(usize, u64, Vec<u8>)> = (0..events)
        .map(|i| {
            let (d, seq) = if mixed {
                (i % devices, (i / devices) as u64 + 1)
            } else {
                let m = i / 100;
                (m % devices, ((m / devices) * 100 + i % 100) as u64 + 1)
            };
            let decision = Decision::Deny(Denial {
                reason: DenyReason::Expired,
                detail: String::new(),
                pass_id: Some(vec![7; 32]),
                carrier: None,
            });
            let e = AccessEvent::of_decision(&property, &door, public[d], seq, at, &decision);
            (d, seq, e.sign(&keys[d]).unwrap())
        })
        .collect();
    let bytes: usize = signed.iter().map(|(_, _, s)| s.len()).sum();
    println!(
        "{events} events from {devices} devices, {} bytes each on average (signed in {:.1} s)",
        bytes / events,
        t0.elapsed().as_secs_f64()
    );

    let store = Arc::new(DeviceStore::open(dir.path()).unwrap());
    let access = Arc::new(
        AccessLogs::open(
            dir.path(),
            "bench.doorman.example/log",
            AccessKey::from_seed([5; 32]),
        )
        .unwrap(),
    );
    let clock: doorman_store::Clock = Arc::new(SystemTime::now);
    let ids: Vec<DeviceId> = (0..devices)
        .map(|i| DeviceId::new(format!("dev_{i}")).unwrap())
        .collect();

    // Verify and store, 100 per upload message, as the server does, on `threads` threads.
    let t = Instant::now();
    let cpu = cpu_seconds();
    let now = Timestamp::now();
    let messages: Vec<&[(usize, u64, Vec<u8>)]> = signed.chunks(100).collect();
    let permits = CpuPermits::per_core();
    let per_thread = messages.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in messages.chunks(per_thread) {
            let (store, public, ids, permits) = (&store, &public, &ids, &permits);
            scope.spawn(move || {
                for chunk in part {
                    store_message(store, public, ids, chunk, now, permits);
                }
            });
        }
    });
    let stored = t.elapsed().as_secs_f64();
    println!(
        "verified and stored ({threads} threads): {:.0} events/s ({stored:.2} s, {:.1} µs CPU per event, {} commits for {} messages)",
        events as f64 / stored,
        (cpu_seconds() - cpu) * 1e6 / events as f64,
        store.record_commits(),
        messages.len()
    );

    // Into the access log.
    let t = Instant::now();
    let cpu = cpu_seconds();
    let logged = doorman_server::devices::ingest::round(&store, &access, &clock).unwrap();
    let ingested = t.elapsed().as_secs_f64();
    assert_eq!(logged, events);
    println!(
        "appended to the access log: {:.0} events/s ({ingested:.2} s, {:.1} µs CPU per event)",
        events as f64 / ingested,
        (cpu_seconds() - cpu) * 1e6 / events as f64
    );

    // Both at once, as in the server: the ingester thread logging while uploads are stored.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = Arc::new(DeviceStore::open(dir2.path()).unwrap());
    let access2 = Arc::new(
        AccessLogs::open(
            dir2.path(),
            "bench.doorman.example/log",
            AccessKey::from_seed([5; 32]),
        )
        .unwrap(),
    );
    let kick = doorman_server::devices::ingest::Kick::default();
    let ingester = doorman_server::devices::ingest::Ingester::spawn(
        Arc::clone(&store2),
        Arc::clone(&access2),
        Arc::clone(&clock),
        kick.clone(),
    )
    .unwrap();
    let t = Instant::now();
    let cpu = cpu_seconds();
    std::thread::scope(|scope| {
        for part in messages.chunks(per_thread) {
            let (store, public, ids, kick, permits) = (&store2, &public, &ids, &kick, &permits);
            scope.spawn(move || {
                for chunk in part {
                    store_message(store, public, ids, chunk, now, permits);
                    kick.kick();
                }
            });
        }
    });
    // How long the ingester still works alone after the last upload was stored: the tail in
    // which one core is idle.
    let stored2 = t.elapsed().as_secs_f64();
    let log2 = access2.log(&property).unwrap();
    while log2
        .latest_checkpoint()
        .unwrap()
        .is_none_or(|c| c.size < events as u64)
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pipeline = t.elapsed().as_secs_f64();
    ingester.stop();
    println!(
        "uploads verified, stored and logged, concurrently: {:.0} events/s ({pipeline:.2} s, of which {:.2} s logging after the last upload was stored; {:.1} µs CPU per event, {} commits for {} messages)",
        events as f64 / pipeline,
        pipeline - stored2,
        (cpu_seconds() - cpu) * 1e6 / events as f64,
        store2.record_commits(),
        messages.len()
    );
    let log = access.log(&property).unwrap();
    let cp = log.latest_checkpoint().unwrap().unwrap();
    assert_eq!(cp.size, events as u64);
}

/// This process's CPU time so far (user + system, from /proc/self/stat; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    if f.len() < 13 {
        return 0.0;
    }
    (f[11] + f[12]) / 100.0
}

/// One upload message: every event verified under its device key, then stored in one
/// transaction.
fn store_message(
    store: &DeviceStore,
    public: &[PublicKey],
    ids: &[DeviceId],
    chunk: &[(usize, u64, Vec<u8>)],
    now: Timestamp,
    permits: &CpuPermits,
) {
    // As the server: the verification holds one of the per-core permits, the commit none.
    let rows: Vec<DeviceEvent> = permits.run(|| {
        chunk
            .iter()
            .map(|(d, _, bytes)| {
                let e = AccessEvent::verify(bytes, &public[*d]).unwrap();
                doorman_server::devices::stored_event(&ids[*d], &e, bytes, now)
            })
            .collect()
    });
    store.record(rows).unwrap();
}

//! Device event ingestion on the SQLite default, the server's own path minus the broker hop:
//! each event's device signature verified (as `Devices` does for every uploaded event), the
//! verified events stored in batches of 100 (one upload message each) in `devices.sqlite`,
//! and the ingester's rounds appending them to the property's access log (salts recorded,
//! leaves appended, indexes marked, the log integrated and checkpointed).
//!
//! `cargo run --release -p doorman-testkit --example ingest_throughput -- [EVENTS] [DEVICES]
//! [THREADS]` (default 200,000 events from 100 devices of one property, verified and stored by
//! as many threads as cores: the server handles each upload message on its blocking pool, so
//! messages of different devices are handled at once).

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
use doorman_store::{AccessKey, AccessLogs, DeviceEvent, DeviceStore};
use doorman_trust::{Decision, Denial, SecretKey};
use jiff::Timestamp;

fn main() {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().map_or(200_000, |a| a.parse().unwrap());
    let devices: usize = args.next().map_or(100, |a| a.parse().unwrap());
    let threads: usize = args.next().map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |a| a.parse().unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let property = PropertyId::new("prop_bench").unwrap();
    let door = DoorId::new("street").unwrap();
    let keys: Vec<SecretKey> = (0..devices)
        .map(|i| SecretKey::from_seed(&[u8::try_from(i % 251).unwrap() + 1; 32]))
        .collect();
    let at = Timestamp::from_second(1_796_000_000).unwrap();
    // What devices upload: signed events (made before the clock starts).
    let t0 = Instant::now();
    let signed: Vec<(usize, u64, Vec<u8>)> = (0..events)
        .map(|i| {
            let d = i % devices;
            let seq = (i / devices) as u64 + 1;
            let decision = Decision::Deny(Denial {
                reason: DenyReason::Expired,
                detail: String::new(),
                pass_id: Some(vec![7; 32]),
                carrier: None,
            });
            let e =
                AccessEvent::of_decision(&property, &door, keys[d].public(), seq, at, &decision);
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
    let now = Timestamp::now();
    let messages: Vec<&[(usize, u64, Vec<u8>)]> = signed.chunks(100).collect();
    let per_thread = messages.len().div_ceil(threads);
    std::thread::scope(|scope| {
        for part in messages.chunks(per_thread) {
            let (store, keys, ids) = (&store, &keys, &ids);
            scope.spawn(move || {
                for chunk in part {
                    store_message(store, keys, ids, chunk, now);
                }
            });
        }
    });
    let stored = t.elapsed().as_secs_f64();
    println!(
        "verified and stored ({threads} threads): {:.0} events/s ({stored:.2} s)",
        events as f64 / stored
    );

    // Into the access log.
    let t = Instant::now();
    let logged = doorman_server::devices::ingest::round(&store, &access, &clock).unwrap();
    let ingested = t.elapsed().as_secs_f64();
    assert_eq!(logged, events);
    println!(
        "appended to the access log: {:.0} events/s ({ingested:.2} s)",
        events as f64 / ingested
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
    std::thread::scope(|scope| {
        for part in messages.chunks(per_thread) {
            let (store, keys, ids, kick) = (&store2, &keys, &ids, &kick);
            scope.spawn(move || {
                for chunk in part {
                    store_message(store, keys, ids, chunk, now);
                    kick.kick();
                }
            });
        }
    });
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
        "uploads verified, stored and logged, concurrently: {:.0} events/s ({pipeline:.2} s)",
        events as f64 / pipeline
    );
    let log = access.log(&property).unwrap();
    let cp = log.latest_checkpoint().unwrap().unwrap();
    assert_eq!(cp.size, events as u64);
}

/// One upload message: every event verified under its device key, then stored in one
/// transaction.
fn store_message(
    store: &DeviceStore,
    keys: &[SecretKey],
    ids: &[DeviceId],
    chunk: &[(usize, u64, Vec<u8>)],
    now: Timestamp,
) {
    let rows: Vec<DeviceEvent> = chunk
        .iter()
        .map(|(d, _, bytes)| {
            let e = AccessEvent::verify(bytes, &keys[*d].public()).unwrap();
            doorman_server::devices::stored_event(&ids[*d], &e, bytes, now)
        })
        .collect();
    store.record(&rows).unwrap();
}

//! Figures for issue 3: sustained append throughput through the [`Sequencer`] with the
//! integrator publishing a checkpoint every interval, and the time from an append's
//! acknowledgement to the first checkpoint that covers it.
//!
//! ```sh
//! cargo run --release -p doorman-store --example append_throughput -- \
//!     [seconds=10] [threads=64] [entry bytes=1024] [interval ms=1000] [dir]
//! ```
//!
//! The database goes in a fresh temporary directory under `dir` (default: the system's temp
//! dir; give a directory on the disk you want to measure). Latency is measured from the
//! moment `append` returns in the appending thread to the moment the integrator's callback
//! runs for the first checkpoint whose size exceeds the index (the callback runs right after
//! the commit).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods // a measuring tool: it reads the clock
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use doorman_store::{
    Integrator, IntegratorConfig, LogStore, Sequencer, SequencerConfig, SqliteLogStore,
};
use doorman_tlog::NoteSigner;

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .map_or(default, |a| a.parse().expect("a number"))
}

fn main() {
    let seconds = arg(1, 10);
    let threads = arg(2, 64);
    let entry_size = usize::try_from(arg(3, 1024)).unwrap();
    let interval = Duration::from_millis(arg(4, 1000));
    let parent = std::env::args()
        .nth(5)
        .map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(parent).unwrap();

    let store: Arc<dyn LogStore> = Arc::new(SqliteLogStore::open(dir.path()).unwrap());
    let sequencer =
        Arc::new(Sequencer::new(Arc::clone(&store), SequencerConfig::default()).unwrap());
    let origin = "bench.example/log";
    let signer = NoteSigner::from_seed(origin, &[1; 32]).unwrap();
    let published: Arc<Mutex<Vec<(u64, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&published);
    let integrator = Integrator::spawn(
        Arc::clone(&store),
        signer,
        origin.to_string(),
        IntegratorConfig { interval },
        Arc::new(SystemTime::now),
        Some(Box::new(move |cp| {
            record.lock().unwrap().push((cp.size, Instant::now()));
        })),
    )
    .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let sequencer = Arc::clone(&sequencer);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut acks = Vec::new();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut entry = vec![b'e'; entry_size];
                    let tag = format!("{t}-{n}");
                    entry[..tag.len()].copy_from_slice(tag.as_bytes());
                    let index = sequencer.append(entry).unwrap();
                    acks.push((index, Instant::now()));
                    n += 1;
                }
                acks
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut acks: Vec<(u64, Instant)> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    acks.sort();
    let total = acks.len() as u64;

    // Wait until a checkpoint covers every acknowledged entry.
    let wait_until = Instant::now() + interval * 3 + Duration::from_secs(5);
    while store.checkpoint_size().unwrap() < total && Instant::now() < wait_until {
        std::thread::sleep(Duration::from_millis(10));
    }
    integrator.stop();
    let published = published.lock().unwrap().clone();

    let mut latencies: Vec<Duration> = Vec::with_capacity(acks.len());
    let mut cp = published.iter().peekable();
    for &(index, acked) in &acks {
        while cp.peek().is_some_and(|(size, _)| *size <= index) {
            cp.next();
        }
        let (_, covered) = cp
            .peek()
            .expect("an acknowledged entry no checkpoint covers");
        latencies.push(covered.saturating_duration_since(acked));
    }
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
    };
    let db_bytes = std::fs::metadata(dir.path().join(doorman_store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{threads} appending threads, {entry_size}-byte entries, checkpoint every {interval:?}, {elapsed:.2?}"
    );
    println!(
        "appended {total} entries: {:.0} entries/s ({:.1} MiB/s of entries)",
        total as f64 / elapsed.as_secs_f64(),
        (total as f64 * entry_size as f64) / elapsed.as_secs_f64() / f64::from(1 << 20)
    );
    println!(
        "{} checkpoints; append acknowledged -> covered by a checkpoint: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        published.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "database file {:.1} MiB (WAL not counted)",
        db_bytes as f64 / f64::from(1 << 20)
    );
}

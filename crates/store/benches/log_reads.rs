//! The log's read path on [`SqliteLogStore`] (divan): inclusion and consistency proofs, hash
//! tiles and entry bundles, from the stored hashes in SQLite. Figures: docs/benchmarks.md.
//!
//! ```sh
//! cargo bench -p doorman-store --bench log_reads
//! DOORMAN_BENCH_LOG=/tmp/log10m cargo bench -p doorman-store --bench log_reads
//! ```
//!
//! By default it builds a 131,072-entry log (two batches of 65,536 64-byte entries) in a
//! temporary directory, which takes a few seconds. `DOORMAN_BENCH_LOG=DIR` reads the log in
//! `DIR/log.sqlite` instead, untouched (build a large one with
//! `cargo run --release -p doorman-store --example log_growth -- --max 10000000 --data-dir DIR`).
//! Every sample asks for a different random entry, size or tile (a fixed seed), in the tree of
//! the latest checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, UNIX_EPOCH};

use doorman_store::{LogStore, MAX_BATCH_ENTRIES, SqliteLogStore};
use doorman_tlog::{NoteSigner, TileCoord};

fn main() {
    let log = log();
    eprintln!(
        "log_reads: {} entries in {}",
        log.size,
        log.store.path().display()
    );
    divan::main();
}

struct Log {
    store: SqliteLogStore,
    size: u64,
    /// Keeps the default log's directory alive until the end.
    _dir: Option<tempfile::TempDir>,
}

fn log() -> &'static Log {
    static LOG: OnceLock<Log> = OnceLock::new();
    LOG.get_or_init(|| {
        let (store, dir) = match std::env::var_os("DOORMAN_BENCH_LOG") {
            Some(dir) => (SqliteLogStore::open(dir.as_ref()).unwrap(), None),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let store = SqliteLogStore::open(dir.path()).unwrap();
                let signer = NoteSigner::from_seed("bench.example/log", &[1; 32]).unwrap();
                for batch in 0..2u64 {
                    let base = batch * MAX_BATCH_ENTRIES as u64;
                    let entries: Vec<Vec<u8>> = (base..base + MAX_BATCH_ENTRIES as u64)
                        .map(|i| format!("{i:064}").into_bytes())
                        .collect();
                    store.append(&entries).unwrap();
                    let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
                    store
                        .integrate(&signer, signer.name(), now)
                        .unwrap()
                        .unwrap();
                }
                (store, Some(dir))
            }
        };
        let size = store.checkpoint_size().unwrap();
        assert!(size >= 256, "the log needs at least one full tile");
        Log {
            store,
            size,
            _dir: dir,
        }
    })
}

/// SplitMix64 with a fixed seed: the same "random" inputs in every run.
fn random_below(state: &Cell<u64>, n: u64) -> u64 {
    let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
    state.set(s);
    let mut z = s;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) % n
}

/// The inclusion proof of a random entry in the latest checkpoint's tree, as
/// `GET /log/v1/proof/<index>` asks for it.
#[divan::bench(sample_count = 2000, sample_size = 1)]
fn inclusion_proof(bencher: divan::Bencher) {
    let log = log();
    let rng = Cell::new(1);
    bencher
        .with_inputs(|| random_below(&rng, log.size))
        .bench_local_values(|index| log.store.inclusion_proof(index, log.size).unwrap());
}

/// The consistency proof from a random older size to the latest checkpoint's.
#[divan::bench(sample_count = 2000, sample_size = 1)]
fn consistency_proof(bencher: divan::Bencher) {
    let log = log();
    let rng = Cell::new(2);
    bencher
        .with_inputs(|| 1 + random_below(&rng, log.size))
        .bench_local_values(|old| log.store.consistency_proof(old, log.size).unwrap());
}

/// A random full level-0 hash tile (256 leaf hashes, 8 KiB).
#[divan::bench(sample_count = 1000, sample_size = 1)]
fn hash_tile_level_0(bencher: divan::Bencher) {
    let log = log();
    let rng = Cell::new(3);
    bencher
        .with_inputs(|| TileCoord::hashes(0, random_below(&rng, log.size / 256), 256).unwrap())
        .bench_local_values(|tile| log.store.hash_tile(&tile).unwrap());
}

/// A random full level-1 hash tile (256 hashes of level 8, spread over the whole stored-hash
/// table; needs 65,536 entries).
#[divan::bench(sample_count = 1000, sample_size = 1)]
fn hash_tile_level_1(bencher: divan::Bencher) {
    let log = log();
    let full = log.size / 65_536;
    if full == 0 {
        return;
    }
    let rng = Cell::new(4);
    bencher
        .with_inputs(|| TileCoord::hashes(1, random_below(&rng, full), 256).unwrap())
        .bench_local_values(|tile| log.store.hash_tile(&tile).unwrap());
}

/// A random full entry bundle (256 entries).
#[divan::bench(sample_count = 1000, sample_size = 1)]
fn entry_bundle(bencher: divan::Bencher) {
    let log = log();
    let rng = Cell::new(5);
    bencher
        .with_inputs(|| TileCoord::entries(random_below(&rng, log.size / 256), 256).unwrap())
        .bench_local_values(|tile| log.store.entry_bundle(&tile).unwrap());
}

/// Reading the latest checkpoint (what `GET /log/checkpoint` and every proof start with).
#[divan::bench(sample_count = 2000)]
fn latest_checkpoint(bencher: divan::Bencher) {
    let log = log();
    bencher.bench_local(|| log.store.latest_checkpoint().unwrap());
}

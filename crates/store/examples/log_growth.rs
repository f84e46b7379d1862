//! Figures for issue 3: how append cost and proof cost grow with the log, 10^5 to 10^7 entries.
//!
//! ```sh
//! cargo run --release -p doorman-store --example log_growth -- \
//!     [--max 100000] [--entry-bytes 64] [--proofs 2000] [--dir /tmp] [--data-dir DIR]
//! ```
//!
//! Builds a log through the store's real write path — [`LogStore::append`] with batches of
//! [`MAX_BATCH_ENTRIES`] entries, each followed by [`LogStore::integrate`] (one signed checkpoint
//! per batch, [`MAX_INTEGRATE_BATCH`] entries) — and stops at every power of ten from 10^5 up to
//! `--max` (and at `--max` itself) to report:
//!
//! - the append and integrate time per batch (the median over the batches since the previous
//!   stop, at most the last 16), and the entries/s that gives;
//! - inclusion proofs ([`LogStore::inclusion_proof`]) of `--proofs` random entries in the tree
//!   of the latest checkpoint, and consistency proofs ([`LogStore::consistency_proof`]) from
//!   random older sizes to it: median, p99, max, each one timed on its own;
//! - 500 random full level-0 and level-1 hash tiles and entry bundles, read the same way.
//!
//! Outside the timed part, every inclusion proof is verified against the checkpoint's root and
//! consistency proofs from the first 64 checkpoints' sizes against both roots, so a fast wrong
//! answer cannot pass. Entries are `--entry-bytes` bytes (at least 16), distinct.
//!
//! Without `--data-dir`, the database goes in a fresh temporary directory under `--dir`
//! (default: the system's temp dir) and is deleted at the end. With `--data-dir DIR`, the log
//! is `DIR/log.sqlite` and is kept (a later run with a larger `--max` extends it), and
//! checkpoints are signed with `DIR/log.key` — the key `doorman serve --data-dir DIR` uses; if
//! there is none, a fresh random one for origin `bench.example/log` is written there (mode
//! 0600) — so `doorman serve --data-dir DIR` can then serve the log, and
//! `DOORMAN_BENCH_LOG=DIR cargo bench -p doorman-store --bench log_reads` can read it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods // a measuring tool: it reads the clock
)]

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use doorman_store::{
    LogStore, MAX_BATCH_ENTRIES, MAX_INTEGRATE_BATCH, SqliteLogStore, StoredCheckpoint,
};
use doorman_tlog::{
    NoteSigner, TileCoord, leaf_hash, parse_entry_bundle, verify_consistency, verify_inclusion,
};

struct Args {
    max: u64,
    entry_bytes: usize,
    proofs: usize,
    dir: PathBuf,
    data_dir: Option<PathBuf>,
}

fn args() -> Args {
    let mut a = Args {
        max: 100_000,
        entry_bytes: 64,
        proofs: 2_000,
        dir: std::env::temp_dir(),
        data_dir: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || -> u64 {
            value
                .replace('_', "")
                .parse()
                .unwrap_or_else(|_| panic!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "--max" => a.max = number(),
            "--entry-bytes" => a.entry_bytes = usize::try_from(number()).unwrap(),
            "--proofs" => a.proofs = usize::try_from(number()).unwrap(),
            "--dir" => a.dir = value.into(),
            "--data-dir" => a.data_dir = Some(value.into()),
            _ => panic!(
                "unknown flag {flag}; flags: --max N --entry-bytes B --proofs K --dir PARENT --data-dir DIR"
            ),
        }
    }
    assert!(a.max >= 1, "--max must be at least 1");
    assert!(a.entry_bytes >= 16, "--entry-bytes must be at least 16");
    assert!(a.proofs >= 1, "--proofs must be at least 1");
    a
}

/// A small deterministic generator (SplitMix64), so runs pick the same "random" indexes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for n far below 2^64.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Entry `i`: its decimal index, then filler derived from it, `len` bytes.
fn entry(i: u64, len: usize) -> Vec<u8> {
    let mut e = format!("doorman-bench-entry-{i}:").into_bytes();
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while e.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        e.push(b'a' + (x % 26) as u8);
    }
    e.truncate(len);
    e
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn pct(v: &[Duration], p: f64) -> Duration {
    // v sorted
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Times `f` once per input; returns the sorted durations.
fn time_each<T>(inputs: &[T], mut f: impl FnMut(&T)) -> Vec<Duration> {
    let mut out: Vec<Duration> = inputs
        .iter()
        .map(|x| {
            let t = Instant::now();
            f(x);
            t.elapsed()
        })
        .collect();
    out.sort();
    out
}

fn stops(max: u64) -> Vec<u64> {
    let mut s: Vec<u64> = std::iter::successors(Some(100_000u64), |n| n.checked_mul(10))
        .take_while(|&n| n <= max)
        .collect();
    if s.last() != Some(&max) {
        s.push(max);
    }
    s
}

fn report_proofs(
    store: &SqliteLogStore,
    cp: &StoredCheckpoint,
    rng: &mut Rng,
    count: usize,
    a: &Args,
) {
    let size = cp.size;
    let indexes: Vec<u64> = (0..count).map(|_| rng.below(size)).collect();
    // One untimed pass first would warm exactly these pages; instead the timed pass is the
    // first touch of each proof's rows in this process (the OS page cache may hold them).
    let mut proofs = Vec::with_capacity(count);
    let incl = time_each(&indexes, |&i| {
        proofs.push(store.inclusion_proof(i, size).unwrap());
    });
    for (&i, proof) in indexes.iter().zip(&proofs) {
        let leaf = leaf_hash(&entry(i, a.entry_bytes));
        verify_inclusion(i, size, &leaf, proof, &cp.root).unwrap();
    }
    let olds: Vec<u64> = (0..count).map(|_| 1 + rng.below(size)).collect();
    let mut cproofs = Vec::with_capacity(count);
    let cons = time_each(&olds, |&old| {
        cproofs.push(store.consistency_proof(old, size).unwrap());
    });
    // Verifying needs the old roots: check a few against the roots of older checkpoints.
    let older = store.checkpoints(1, 64).unwrap();
    for c in &older {
        let proof = store.consistency_proof(c.size, size).unwrap();
        verify_consistency(c.size, size, &proof, &c.root, &cp.root).unwrap();
    }
    let avg_len = |p: &[Vec<doorman_tlog::Hash>]| {
        p.iter().map(Vec::len).sum::<usize>() as f64 / p.len() as f64
    };
    println!(
        "  inclusion proof, {count} random entries ({:.1} hashes): median {}, p99 {}, max {}",
        avg_len(&proofs),
        us(pct(&incl, 0.5)),
        us(pct(&incl, 0.99)),
        us(pct(&incl, 1.0))
    );
    println!(
        "  consistency proof, {count} random old sizes ({:.1} hashes): median {}, p99 {}, max {}",
        avg_len(&cproofs),
        us(pct(&cons, 0.5)),
        us(pct(&cons, 0.99)),
        us(pct(&cons, 1.0))
    );

    let full0 = size / 256;
    let full1 = size / 65_536;
    let tiles = count.min(500);
    if full0 > 0 {
        let t0: Vec<TileCoord> = (0..tiles)
            .map(|_| TileCoord::hashes(0, rng.below(full0), 256).unwrap())
            .collect();
        let d0 = time_each(&t0, |t| {
            store.hash_tile(t).unwrap();
        });
        let db = time_each(&t0, |t| {
            let bundle = store.entry_bundle(&t.to_entries().unwrap()).unwrap();
            assert_eq!(
                parse_entry_bundle(&t.to_entries().unwrap(), &bundle)
                    .unwrap()
                    .len(),
                256
            );
        });
        println!(
            "  full level-0 hash tile, {tiles} random: median {}, p99 {}; full entry bundle: median {}, p99 {}",
            us(pct(&d0, 0.5)),
            us(pct(&d0, 0.99)),
            us(pct(&db, 0.5)),
            us(pct(&db, 0.99))
        );
    }
    if full1 > 0 {
        let t1: Vec<TileCoord> = (0..tiles)
            .map(|_| TileCoord::hashes(1, rng.below(full1), 256).unwrap())
            .collect();
        let d1 = time_each(&t1, |t| {
            store.hash_tile(t).unwrap();
        });
        println!(
            "  full level-1 hash tile, {tiles} random: median {}, p99 {}",
            us(pct(&d1, 0.5)),
            us(pct(&d1, 0.99))
        );
    }
}

/// Writes a new log key for origin `bench.example/log` from 32 bytes of /dev/urandom, in the
/// format of `doorman serve`'s `log.key`, readable by its owner only.
fn write_bench_key(path: &std::path::Path) {
    use std::io::{Read, Write};
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut seed)
        .unwrap();
    let signer = NoteSigner::from_seed("bench.example/log", &seed).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    writeln!(file, "{}", signer.private_key_string().as_str()).unwrap();
    println!(
        "wrote a new log key {} (origin bench.example/log)",
        path.display()
    );
}

fn main() {
    let a = args();
    let (_tmp, data_dir, signer) = match &a.data_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).unwrap();
            let path = dir.join("log.key");
            if !path.exists() {
                write_bench_key(&path);
            }
            let key = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (
                None,
                dir.clone(),
                NoteSigner::parse(key.trim_end()).unwrap(),
            )
        }
        None => {
            let tmp = tempfile::tempdir_in(&a.dir).unwrap();
            let path = tmp.path().to_path_buf();
            let signer = NoteSigner::from_seed("bench.example/log", &[1; 32]).unwrap();
            (Some(tmp), path, signer)
        }
    };
    let origin = signer.name().to_string();
    let store = SqliteLogStore::open(&data_dir).unwrap();
    let start_size = store.sequenced_size().unwrap();
    assert_eq!(
        start_size,
        store.checkpoint_size().unwrap(),
        "the log has entries no checkpoint covers; integrate them first"
    );
    println!(
        "log {} ({origin}), {}-byte entries, batches of {MAX_BATCH_ENTRIES} appended then integrated; starting at {start_size} entries",
        store.path().display(),
        a.entry_bytes
    );
    assert!(MAX_BATCH_ENTRIES as u64 <= MAX_INTEGRATE_BATCH);

    let mut rng = Rng(0x5eed);
    let mut size = start_size;
    let began = Instant::now();
    for stop in stops(a.max) {
        if stop <= size {
            continue;
        }
        let decade_start = size;
        let decade_began = Instant::now();
        let mut appends = Vec::new();
        let mut integrates = Vec::new();
        let mut last_batch_len = 0;
        while size < stop {
            let n = (stop - size).min(MAX_BATCH_ENTRIES as u64);
            let batch: Vec<Vec<u8>> = (size..size + n).map(|i| entry(i, a.entry_bytes)).collect();
            let t = Instant::now();
            let idx = store.append(&batch).unwrap();
            let appended = t.elapsed();
            assert_eq!(idx.first(), Some(&size));
            let t = Instant::now();
            let cp = store
                .integrate(&signer, &origin, SystemTime::now())
                .unwrap()
                .unwrap();
            let integrated = t.elapsed();
            assert_eq!(cp.size, size + n);
            size += n;
            // Only full batches count towards the per-batch figures.
            if n == MAX_BATCH_ENTRIES as u64 {
                appends.push(appended);
                integrates.push(integrated);
            }
            last_batch_len = n;
        }
        let decade = decade_began.elapsed();
        let cp = store.latest_checkpoint().unwrap().unwrap();
        let db_bytes = std::fs::metadata(store.path()).map_or(0, |m| m.len());
        println!(
            "size {size}: {} entries in {:.1} s ({:.0} entries/s appended and integrated); database {:.0} MiB (WAL not counted); total {:.0} s",
            size - decade_start,
            decade.as_secs_f64(),
            (size - decade_start) as f64 / decade.as_secs_f64(),
            db_bytes as f64 / f64::from(1 << 20),
            began.elapsed().as_secs_f64()
        );
        let keep = appends.len().saturating_sub(16);
        let (mut ap, mut it) = (appends.split_off(keep), integrates.split_off(keep));
        if ap.is_empty() {
            println!("  (no full {MAX_BATCH_ENTRIES}-entry batch; last batch {last_batch_len})");
        } else {
            let (ma, mi) = (median(&mut ap), median(&mut it));
            println!(
                "  per {MAX_BATCH_ENTRIES}-entry batch (median of the last {}): append {}, integrate {} -> {:.0} entries/s",
                ap.len(),
                ms(ma),
                ms(mi),
                MAX_BATCH_ENTRIES as f64 / (ma + mi).as_secs_f64()
            );
        }
        report_proofs(&store, &cp, &mut rng, a.proofs, &a);
    }
    drop(store);
    let t = Instant::now();
    let reopened = SqliteLogStore::open(&data_dir).unwrap();
    println!(
        "reopening the store at {} entries (it loads the hashes of levels 8 and up): {}",
        reopened.checkpoint_size().unwrap(),
        ms(t.elapsed())
    );
    drop(reopened);
    if a.data_dir.is_none() {
        println!("deleting {}", data_dir.display());
    }
}

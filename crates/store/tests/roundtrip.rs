//! Append / integrate / read round trips; proofs from the store verify against its
//! checkpoints; tiles and bundles equal what `doorman_tlog` computes in memory; the tlog-tiny
//! log is written byte for byte.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doorman_store::{
    DB_FILE, Integrator, IntegratorConfig, LogStore, Sequencer, SequencerConfig, SqliteLogStore,
    StoreError, StoredCheckpoint,
};
use doorman_tlog::{
    Checkpoint, MemoryTree, NoteSigner, TileCoord, encode_entry_bundle, leaf_hash,
    tiles_to_publish, verify_consistency, verify_inclusion,
};

const ORIGIN: &str = "example.com/doorman/test";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i} {}", "y".repeat(usize::try_from(i % 97).unwrap())).into_bytes()
}

fn open(dir: &Path) -> SqliteLogStore {
    SqliteLogStore::open(dir).unwrap()
}

/// Appends `entries` in batches of the given sizes, integrating after each batch, and checks
/// everything the store serves against a `MemoryTree` of the same entries.
fn check_against_memory(store: &SqliteLogStore, batches: &[u64]) -> Vec<StoredCheckpoint> {
    let verifier = signer().verifier();
    let mut tree = MemoryTree::new();
    let mut all = Vec::new();
    let mut cps = Vec::new();
    let mut next = 0u64;
    for (round, &n) in batches.iter().enumerate() {
        let batch: Vec<Vec<u8>> = (next..next + n).map(entry).collect();
        let indices = store.append(&batch).unwrap();
        assert_eq!(indices, (next..next + n).collect::<Vec<_>>());
        for e in &batch {
            tree.append(e).unwrap();
        }
        all.extend(batch);
        next += n;
        // Not yet integrated: not served.
        assert!(matches!(
            store.entries(next - 1, next),
            Err(StoreError::NotCovered { .. })
        ));
        let cp = store
            .integrate(&signer(), ORIGIN, at(1_000 + round as u64))
            .unwrap()
            .unwrap();
        assert_eq!(cp.size, next);
        assert_eq!(cp.root, tree.root().unwrap());
        let opened = Checkpoint::open(&cp.note, ORIGIN, &verifier).unwrap();
        assert_eq!((opened.size(), *opened.root()), (cp.size, cp.root));
        assert_eq!(store.latest_checkpoint().unwrap().unwrap(), cp);
        assert_eq!(cp.published_at, at(1_000 + round as u64));
        // Nothing new: no checkpoint.
        assert_eq!(store.integrate(&signer(), ORIGIN, at(5_000)).unwrap(), None);
        cps.push(cp);
    }
    let size = next;
    assert_eq!(store.entries(0, size).unwrap(), all);
    assert_eq!(store.entries(3, 3).unwrap(), Vec::<Vec<u8>>::new());
    // Inclusion proofs at every checkpoint size, for a spread of indices.
    for cp in &cps {
        for index in (0..cp.size).step_by(usize::try_from(cp.size / 17 + 1).unwrap()) {
            let proof = store.inclusion_proof(index, cp.size).unwrap();
            assert_eq!(proof, tree.inclusion_proof(index, cp.size).unwrap());
            verify_inclusion(
                index,
                cp.size,
                &leaf_hash(&all[index as usize]),
                &proof,
                &cp.root,
            )
            .unwrap();
        }
    }
    // Consistency between every pair of checkpoints.
    for old in &cps {
        for new in cps.iter().filter(|c| c.size >= old.size) {
            let proof = store.consistency_proof(old.size, new.size).unwrap();
            assert_eq!(proof, tree.consistency_proof(old.size, new.size).unwrap());
            verify_consistency(old.size, new.size, &proof, &old.root, &new.root).unwrap();
        }
    }
    // Every tile and bundle published along the way, as of the final tree.
    let mut old = 0;
    for cp in &cps {
        for tile in tiles_to_publish(old, cp.size).unwrap() {
            if tile.kind() == doorman_tlog::TileKind::Entries {
                let (start, end) = tile.entry_range();
                let want = encode_entry_bundle(&all[start as usize..end as usize]).unwrap();
                assert_eq!(store.entry_bundle(&tile).unwrap(), want, "{tile}");
            } else {
                assert_eq!(
                    store.hash_tile(&tile).unwrap(),
                    tree.hash_tile(&tile, size).unwrap(),
                    "{tile}"
                );
            }
        }
        old = cp.size;
    }
    assert_eq!(store.checkpoints(0, usize::MAX).unwrap(), cps);
    assert_eq!(
        store.checkpoints(cps[1].size, 1).unwrap(),
        vec![cps[1].clone()]
    );
    cps
}

#[test]
fn append_integrate_read_and_prove() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.latest_checkpoint().unwrap(), None);
    assert_eq!(store.integrate(&signer(), ORIGIN, at(1)).unwrap(), None);
    assert!(dir.path().join(DB_FILE).is_file());
    // Batches crossing tile boundaries at level 0 and level 1 (65,536 entries is level 2).
    check_against_memory(&store, &[1, 2, 5, 248, 1, 255, 256, 300, 1, 3000]);
}

/// Full tiles kept whole are served byte for byte as computed from the stored hashes and
/// entries; keeping catches up a batch at a time, never skips or repeats a position, and a
/// keeper working from a stale floor writes nothing.
#[test]
fn full_tiles_kept_whole_serve_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.full_tile_floor().unwrap(), Some(0));
    assert_eq!(store.keep_full_tiles(64).unwrap(), 0, "no checkpoint yet");
    check_against_memory(&store, &[1, 255, 3000, 840]);
    let full = 4096 / 256;
    let tiles: Vec<(TileCoord, Vec<u8>)> = (0..full)
        .flat_map(|n| {
            [
                TileCoord::hashes(0, n, 256).unwrap(),
                TileCoord::entries(n, 256).unwrap(),
            ]
        })
        .map(|t| {
            let bytes = match t.kind() {
                doorman_tlog::TileKind::Entries => store.entry_bundle(&t),
                _ => store.hash_tile(&t),
            };
            (t, bytes.unwrap())
        })
        .collect();
    assert!(
        tiles
            .iter()
            .all(|(t, _)| store.stored_tile(t).unwrap().is_none())
    );
    assert_eq!(store.keep_full_tiles(5).unwrap(), 5);
    assert_eq!(store.full_tile_floor().unwrap(), Some(5));
    // A keeper that read the floor before that: refused, nothing written.
    let stale = doorman_store::FullTiles {
        hashes: vec![0; 8192],
        bundle: vec![0; 2],
    };
    assert!(matches!(
        store.put_full_tiles(0, &[stale]),
        Err(StoreError::Conflict {
            expected: 0,
            found: 5
        })
    ));
    assert_eq!(store.keep_full_tiles(64).unwrap(), full - 5);
    assert_eq!(store.keep_full_tiles(64).unwrap(), 0, "caught up");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.full_tile_floor().unwrap(), Some(full));
    for (t, want) in &tiles {
        assert_eq!(store.stored_tile(t).unwrap().as_ref(), Some(want), "{t}");
        let served = match t.kind() {
            doorman_tlog::TileKind::Entries => store.entry_bundle(t),
            _ => store.hash_tile(t),
        };
        assert_eq!(&served.unwrap(), want, "{t}");
    }
    // Partial tiles and tiles above level 0 are never kept.
    assert_eq!(
        store
            .stored_tile(&TileCoord::hashes(0, full - 1, 100).unwrap())
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .stored_tile(&TileCoord::hashes(1, 0, 16).unwrap())
            .unwrap(),
        None
    );
}

#[test]
fn reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let cps = {
        let store = open(dir.path());
        check_against_memory(&store, &[7, 300])
    };
    let store = open(dir.path());
    assert_eq!(store.latest_checkpoint().unwrap().as_ref(), cps.last());
    assert_eq!(store.sequenced_size().unwrap(), 307);
    // Appended but not integrated before a restart: integrated after it, extending the tree.
    store.append(&[entry(307), entry(308)]).unwrap();
    drop(store);
    let store = open(dir.path());
    let cp = store.integrate(&signer(), ORIGIN, at(9)).unwrap().unwrap();
    assert_eq!(cp.size, 309);
    let old = cps.last().unwrap();
    let proof = store.consistency_proof(old.size, cp.size).unwrap();
    verify_consistency(old.size, cp.size, &proof, &old.root, &cp.root).unwrap();
}

/// Two stores on one file (as two processes would have): the one that opened before the other
/// integrated still serves the new checkpoint's proofs, tiles and entries, the same as a
/// fresh one, and integrates on top. (What a store keeps in memory — upper-level hashes, the
/// largest checkpoint size it saw — is a copy of committed rows and a lower bound; anything
/// beyond it is read from the file.)
#[test]
fn a_store_serves_what_another_store_on_the_file_committed() {
    let dir = tempfile::tempdir().unwrap();
    let early = open(dir.path());
    let writer = open(dir.path());
    // 1,300 entries: the tree has level-8 hashes (tile level 1), which stores keep in memory.
    let cps = check_against_memory(&writer, &[300, 1000]);
    assert_eq!(cps.last().unwrap().size, 1300);
    let mut tree = MemoryTree::new();
    for i in 0..1300 {
        tree.append(&entry(i)).unwrap();
    }
    let fresh = open(dir.path());
    for store in [&early, &fresh] {
        for index in (0..1300).step_by(37) {
            assert_eq!(
                store.inclusion_proof(index, 1300).unwrap(),
                tree.inclusion_proof(index, 1300).unwrap()
            );
        }
        assert_eq!(
            store.consistency_proof(300, 1300).unwrap(),
            tree.consistency_proof(300, 1300).unwrap()
        );
        for tile in [
            TileCoord::hashes(0, 4, 256).unwrap(),
            TileCoord::hashes(1, 0, 5).unwrap(),
        ] {
            assert_eq!(
                store.hash_tile(&tile).unwrap(),
                tree.hash_tile(&tile, 1300).unwrap()
            );
        }
        assert_eq!(store.entries(1299, 1300).unwrap(), vec![entry(1299)]);
        assert!(matches!(
            store.inclusion_proof(0, 1301),
            Err(StoreError::NotCovered { size: 1300, .. })
        ));
    }
    early.append(&[entry(1300)]).unwrap();
    let cp = early.integrate(&signer(), ORIGIN, at(7)).unwrap().unwrap();
    tree.append(&entry(1300)).unwrap();
    assert_eq!((cp.size, cp.root), (1301, tree.root().unwrap()));
    assert_eq!(
        writer.inclusion_proof(1300, 1301).unwrap(),
        tree.inclusion_proof(1300, 1301).unwrap()
    );
}

#[test]
fn sequencer_and_integrator_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LogStore> = Arc::new(open(dir.path()));
    let sequencer =
        Arc::new(Sequencer::new(Arc::clone(&store), SequencerConfig::default()).unwrap());
    let published = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&published);
    let integrator = Integrator::spawn(
        Arc::clone(&store),
        signer(),
        ORIGIN.to_string(),
        IntegratorConfig {
            interval: Duration::from_millis(20),
        },
        Arc::new(|| at(77)),
        Some(Box::new(move |cp: &StoredCheckpoint| {
            seen.lock().unwrap().push(cp.size)
        })),
    )
    .unwrap();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let sequencer = Arc::clone(&sequencer);
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for n in 0..200u64 {
                    let e = format!("t{t} n{n}").into_bytes();
                    if n % 10 == 0 {
                        let two = sequencer.append_all(vec![e.clone(), e.clone()]).unwrap();
                        assert_eq!(two[1], two[0] + 1, "a multi-entry append is contiguous");
                        mine.push((two[0], e.clone()));
                        mine.push((two[1], e));
                    } else {
                        mine.push((sequencer.append(e.clone()).unwrap(), e));
                    }
                }
                mine
            })
        })
        .collect();
    let mut acked: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    acked.sort();
    let total = acked.len() as u64;
    assert_eq!(total, 8 * 220);
    assert_eq!(
        acked.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>(),
        "indices are unique and contiguous"
    );
    // Wait for the integrator to cover everything and keep the full tiles whole.
    let full = total / 256;
    for _ in 0..500 {
        if store.checkpoint_size().unwrap() == total
            && store.full_tile_floor().unwrap() == Some(full)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    integrator.stop();
    assert_eq!(store.checkpoint_size().unwrap(), total);
    assert_eq!(store.full_tile_floor().unwrap(), Some(full));
    let entries = store.entries(0, total).unwrap();
    for (i, e) in &acked {
        assert_eq!(&entries[*i as usize], e);
    }
    let sizes = published.lock().unwrap().clone();
    assert!(!sizes.is_empty());
    assert!(sizes.windows(2).all(|w| w[0] < w[1]));
    let stored: Vec<u64> = store
        .checkpoints(0, usize::MAX)
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(stored, sizes);
}

fn tlog_tiny() -> Option<PathBuf> {
    doorman_testdata::testdata("tlog-tiny")
}

/// The 15 entries of tlog-tiny, appended one at a time and integrated after each, give the
/// same 15 checkpoints, tiles and bundles byte for byte.
#[test]
fn tlog_tiny_byte_identical() {
    let Some(tiny) = tlog_tiny() else { return };
    const TINY_ORIGIN: &str = "example.com/log/testdata";
    const ENTRIES: [&str; 15] = [
        "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven",
        "twelf", "threeten", "fourten", "fivten",
    ];
    let keys = std::fs::read_to_string(tiny.join("KEYS")).unwrap();
    let private = keys
        .lines()
        .find_map(|l| l.strip_prefix("private:"))
        .unwrap()
        .trim();
    let signer = NoteSigner::parse(private).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut old = 0;
    for (i, e) in ENTRIES.iter().enumerate() {
        store.append(&[e.as_bytes().to_vec()]).unwrap();
        let cp = store
            .integrate(&signer, TINY_ORIGIN, at(1))
            .unwrap()
            .unwrap();
        let want = std::fs::read(tiny.join(format!("checkpoint.{}", i + 1))).unwrap();
        assert_eq!(cp.note, want, "checkpoint.{}", i + 1);
        for tile in tiles_to_publish(old, cp.size).unwrap() {
            let want = std::fs::read(tiny.join(tile.path())).unwrap();
            let got = if tile.kind() == doorman_tlog::TileKind::Entries {
                store.entry_bundle(&tile).unwrap()
            } else {
                store.hash_tile(&tile).unwrap()
            };
            assert_eq!(got, want, "{tile}");
        }
        old = cp.size;
    }
    assert_eq!(
        store.latest_checkpoint().unwrap().unwrap().note,
        std::fs::read(tiny.join("checkpoint")).unwrap()
    );
    // A partial tile of an earlier, smaller tree is still served (from the same hashes).
    let tile = TileCoord::parse("tile/0/000.p/3").unwrap();
    assert_eq!(
        store.hash_tile(&tile).unwrap(),
        std::fs::read(tiny.join(tile.path())).unwrap()
    );
}

/// A log written before tiles were kept whole (schema 1) is upgraded at open and its full
/// tiles are then kept, the same bytes as computed.
#[test]
fn a_schema_1_log_catches_up_on_kept_tiles() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        check_against_memory(&store, &[600, 1]);
    }
    {
        // Back to what schema 1 had.
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute_batch(
            "DROP TABLE hash_tiles; DROP TABLE entry_bundles; UPDATE schema_version SET version = 1;",
        )
        .unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.full_tile_floor().unwrap(), Some(0));
    let want = store
        .entry_bundle(&TileCoord::entries(1, 256).unwrap())
        .unwrap();
    assert_eq!(store.keep_full_tiles(64).unwrap(), 2);
    assert_eq!(
        store
            .stored_tile(&TileCoord::entries(1, 256).unwrap())
            .unwrap(),
        Some(want)
    );
}

//! Bad input: clear errors, no panic, nothing half-stored.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use doorman_store::{
    DB_FILE, LogStore, MAX_BATCH_ENTRIES, MAX_READ_ENTRIES, SCHEMA_VERSION, Sequencer,
    SequencerConfig, SqliteLogStore, StoreError,
};
use doorman_tlog::{MAX_ENTRY_SIZE, NoteSigner, TileCoord};

const ORIGIN: &str = "example.com/doorman/test";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap()
}

fn store_with(n: u64) -> (tempfile::TempDir, SqliteLogStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteLogStore::open(dir.path()).unwrap();
    if n > 0 {
        let batch: Vec<Vec<u8>> = (0..n).map(|i| i.to_string().into_bytes()).collect();
        store.append(&batch).unwrap();
        store
            .integrate(&signer(), ORIGIN, UNIX_EPOCH + Duration::from_secs(1))
            .unwrap()
            .unwrap();
    }
    (dir, store)
}

#[test]
fn oversize_entry_refused_whole_batch() {
    let (_dir, store) = store_with(0);
    let ok = vec![1u8; MAX_ENTRY_SIZE];
    let big = vec![2u8; MAX_ENTRY_SIZE + 1];
    let err = store.append(&[ok.clone(), big.clone()]).unwrap_err();
    assert_eq!(
        err,
        StoreError::EntryTooLarge {
            position: 1,
            size: MAX_ENTRY_SIZE + 1
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("65535") && msg.contains("nothing of the batch"),
        "{msg}"
    );
    assert_eq!(store.sequenced_size().unwrap(), 0, "nothing half-stored");
    // The largest entry is fine, and gets index 0: the refused batch used no index.
    assert_eq!(store.append(std::slice::from_ref(&ok)).unwrap(), vec![0]);
    // Through the sequencer too, without failing anyone else.
    let store: Arc<dyn LogStore> = Arc::new(store);
    let sequencer = Sequencer::new(Arc::clone(&store), SequencerConfig::default()).unwrap();
    assert!(matches!(
        sequencer.append(big),
        Err(StoreError::EntryTooLarge { .. })
    ));
    assert!(matches!(
        sequencer.append_all(Vec::new()),
        Err(StoreError::EmptyBatch)
    ));
    assert_eq!(sequencer.append(b"next".to_vec()).unwrap(), 1);
}

#[test]
fn empty_and_huge_batches_refused() {
    let (_dir, store) = store_with(0);
    let err = store.append(&[]).unwrap_err();
    assert_eq!(err, StoreError::EmptyBatch);
    assert!(err.to_string().contains("empty batch"));
    let huge = vec![Vec::new(); MAX_BATCH_ENTRIES + 1];
    assert_eq!(
        store.append(&huge).unwrap_err(),
        StoreError::BatchTooLarge(MAX_BATCH_ENTRIES + 1)
    );
    assert_eq!(store.sequenced_size().unwrap(), 0);
    // Empty entries are entries.
    assert_eq!(store.append(&[Vec::new()]).unwrap(), vec![0]);
}

#[test]
fn reads_out_of_range() {
    let (_dir, store) = store_with(10);
    store.append(&[b"not integrated".to_vec()]).unwrap();
    let not_covered = |r: Result<Vec<Vec<u8>>, StoreError>| {
        matches!(r, Err(StoreError::NotCovered { size: 10, .. }))
    };
    assert!(not_covered(store.entries(0, 11)));
    assert!(not_covered(store.entries(10, 11)));
    assert!(not_covered(store.entries(u64::MAX - 1, u64::MAX)));
    assert!(matches!(
        store.entries(5, 4),
        Err(StoreError::BadRange { .. })
    ));
    assert!(matches!(
        store.entries(0, MAX_READ_ENTRIES + 1),
        Err(StoreError::BadRange { .. })
    ));
    assert!(matches!(
        store.sequenced_entries(0, 13),
        Err(StoreError::BadRange { .. })
    ));
    assert!(matches!(
        store.sequenced_entries(u64::MAX - 1, u64::MAX),
        Err(StoreError::BadRange { .. })
    ));
    // Tiles beyond the checkpoint, including the entry just appended.
    for path in [
        "tile/0/000.p/11",
        "tile/0/000",
        "tile/entries/000.p/11",
        "tile/0/001.p/1",
        "tile/1/000.p/1",
        "tile/2/x001/x234/567",
    ] {
        let tile = TileCoord::parse(path).unwrap();
        let r = if path.contains("entries") {
            store.entry_bundle(&tile)
        } else {
            store.hash_tile(&tile)
        };
        let err = r.unwrap_err();
        assert!(
            matches!(err, StoreError::NotCovered { size: 10, .. }),
            "{path}: {err}"
        );
        assert!(err.to_string().contains(path), "{err}");
    }
    // The wrong kind.
    let hashes = TileCoord::parse("tile/0/000.p/10").unwrap();
    assert!(store.entry_bundle(&hashes).is_err());
    let bundle = TileCoord::parse("tile/entries/000.p/10").unwrap();
    assert!(store.hash_tile(&bundle).is_err());
    assert!(store.hash_tile(&hashes).is_ok());
    assert!(store.entry_bundle(&bundle).is_ok());
    // An empty log serves nothing.
    let (_d, empty) = store_with(0);
    assert!(matches!(
        empty.hash_tile(&TileCoord::parse("tile/0/000.p/1").unwrap()),
        Err(StoreError::NotCovered { size: 0, .. })
    ));
    assert!(matches!(
        empty.entries(0, 1),
        Err(StoreError::NotCovered { .. })
    ));
    assert_eq!(empty.entries(0, 0).unwrap(), Vec::<Vec<u8>>::new());
}

#[test]
fn proofs_beyond_the_checkpoint() {
    let (_dir, store) = store_with(10);
    store.append(&[b"pending".to_vec()]).unwrap();
    assert!(matches!(
        store.inclusion_proof(10, 11),
        Err(StoreError::NotCovered { size: 10, .. })
    ));
    assert!(matches!(
        store.inclusion_proof(0, u64::MAX),
        Err(StoreError::NotCovered { .. })
    ));
    assert!(matches!(
        store.inclusion_proof(10, 10),
        Err(StoreError::Log(doorman_tlog::Error::IndexOutOfRange { .. }))
    ));
    assert!(matches!(
        store.inclusion_proof(u64::MAX, 10),
        Err(StoreError::Log(_))
    ));
    assert!(matches!(
        store.consistency_proof(5, 11),
        Err(StoreError::NotCovered { size: 10, .. })
    ));
    assert!(matches!(
        store.consistency_proof(0, 10),
        Err(StoreError::Log(doorman_tlog::Error::ConsistencyFromEmpty))
    ));
    assert!(matches!(
        store.consistency_proof(9, 5),
        Err(StoreError::Log(doorman_tlog::Error::ShrinkingTree { .. }))
    ));
    assert_eq!(store.consistency_proof(10, 10).unwrap(), Vec::new());
    assert!(store.inclusion_proof(9, 10).is_ok());
}

#[test]
fn future_schema_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteLogStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE schema_version SET version = ?1",
        [SCHEMA_VERSION + 1],
    )
    .unwrap();
    drop(conn);
    let err = SqliteLogStore::open(dir.path()).unwrap_err();
    assert_eq!(
        err,
        StoreError::FutureSchema {
            found: SCHEMA_VERSION + 1,
            supported: SCHEMA_VERSION
        }
    );
    assert!(err.to_string().contains("newer Doorman"), "{err}");
}

#[test]
fn not_a_database_or_not_a_dir() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(DB_FILE),
        b"this is not a SQLite database at all, no",
    )
    .unwrap();
    let err = SqliteLogStore::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteLogStore::open(&file).unwrap_err();
    assert!(matches!(err, StoreError::Io { .. }), "{err}");
}

#[test]
fn integrate_refuses_origin_change_and_conflicts() {
    let (_dir, store) = store_with(3);
    store.append(&[b"x".to_vec()]).unwrap();
    let err = store
        .integrate(&signer(), "other.example/log", UNIX_EPOCH)
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongOrigin { .. }), "{err}");
    // A commit that does not start from the latest checkpoint is refused whole.
    let latest = store.latest_checkpoint().unwrap().unwrap();
    let mut stale = latest.clone();
    stale.size = 4;
    assert!(matches!(
        store.commit_integration(1, &[latest.root; 6], &stale),
        Err(StoreError::Conflict {
            expected: 1,
            found: 3
        })
    ));
    // The wrong number of hashes for the growth is refused before anything is written.
    assert!(matches!(
        store.commit_integration(3, &[latest.root; 1], &stale),
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(store.latest_checkpoint().unwrap().unwrap(), latest);
    assert_eq!(
        store
            .integrate(&signer(), ORIGIN, UNIX_EPOCH)
            .unwrap()
            .unwrap()
            .size,
        4
    );
}

#[test]
fn tampered_hashes_stop_integration() {
    let (dir, store) = store_with(5);
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    // The hash of leaf 4, one the root of the 5-entry tree is computed from.
    conn.execute(
        "UPDATE hashes SET hash = zeroblob(32) WHERE idx = (SELECT MAX(idx) FROM hashes)",
        [],
    )
    .unwrap();
    drop(conn);
    let store = SqliteLogStore::open(dir.path()).unwrap();
    store.append(&[b"more".to_vec()]).unwrap();
    let err = store.integrate(&signer(), ORIGIN, UNIX_EPOCH).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    assert_eq!(store.checkpoint_size().unwrap(), 5, "no checkpoint signed");
}

//! Incremental verification across tile levels 0, 1 and 2 (trees past 65,536 entries), step
//! by step around tile boundaries, against a log served from memory; a fork found from the
//! tiles of the remembered tree's edge; a rollback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::{Arc, Mutex};

use common::{FakeLog, doorman, failed, fetched, succeeded};
use doorman_tlog::{
    Checkpoint, Hash, MemoryTree, NoteSigner, TileCoord, TileKind, encode_entry_bundle,
};

const ORIGIN: &str = "big.example.test/log";

#[test]
fn incremental_verify_steps_across_three_tile_levels() {
    let tmp = tempfile::tempdir().unwrap();
    let signer = NoteSigner::from_seed(ORIGIN, &[5; 32]).unwrap();
    let key = signer.verifier().to_string();
    // Checkpoints on and around tile boundaries of levels 0, 1 and 2.
    let sizes: [u64; 8] = [
        1,
        255,
        256,
        65_535,
        65_536,
        65_537,
        65_536 + 256 * 3 + 7,
        70_000,
    ];
    let big = sizes[7];
    let entries: Vec<Vec<u8>> = (0..big).map(|i| format!("e{i}").into_bytes()).collect();
    let mut tree = MemoryTree::new();
    for e in &entries {
        tree.append(e).unwrap();
    }
    let notes: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&size| {
            Checkpoint::new(ORIGIN, size, tree.root_at(size).unwrap())
                .unwrap()
                .sign(&[&signer])
                .unwrap()
        })
        .collect();
    // Serve the checkpoint of the current step, and the tiles of the whole tree (what any
    // smaller checkpoint's client fetches, at the widths of its size, is the same).
    let current = Arc::new(Mutex::new(0usize));
    let (cur, all) = (Arc::clone(&current), notes.clone());
    let log = FakeLog::start(Arc::new(move |path: &str| {
        let rel = path.strip_prefix("/log/")?;
        if rel == "checkpoint" {
            return Some(all[*cur.lock().unwrap()].clone());
        }
        let tile = TileCoord::parse(rel).ok()?;
        let (start, end) = tile.entry_range();
        match tile.kind() {
            TileKind::Entries => {
                let slice =
                    entries.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)?;
                encode_entry_bundle(slice).ok()
            }
            TileKind::Hashes { .. } => tree.hash_tile(&tile, big).ok(),
        }
    }));
    let url = format!("{}/log", log.base);
    let state = tmp.path().join("state");
    for (i, &size) in sizes.iter().enumerate() {
        if i == 3 {
            // Start from a checkpoint verified earlier (reading the first 65,535 entries in a
            // debug build takes seconds and checks nothing the smaller steps do not).
            std::fs::write(&state, &notes[i]).unwrap();
            continue;
        }
        *current.lock().unwrap() = i;
        let out = succeeded(&doorman(&[
            "log",
            "verify",
            "--url",
            &url,
            "--key",
            &key,
            "--state",
            state.to_str().unwrap(),
        ]));
        assert!(out.contains(&format!("tree size {size},")), "{out}");
        let (tiles, bundles) = fetched(&out);
        if i > 0 {
            let from = sizes[i - 1];
            assert!(
                out.contains(&format!("incremental: entries {from}..{size}")),
                "{out}"
            );
            // The bundles holding the new entries, no more.
            assert_eq!(bundles, size.div_ceil(256) - from / 256, "{out}");
            // The new level-0 tiles, plus a tile or two per level above.
            assert!(tiles <= bundles + 4, "{out}");
        }
    }
    let copy = tmp.path().join("copy");
    // Remembering another root for a tree of 65,537 entries, signed by the key: a fork, found
    // from the tree's edge at that size (a slice of a level-2 tile and one of a level-0 tile).
    let forged = Checkpoint::new(ORIGIN, 65_537, Hash::from_slice(&[9; 32]).unwrap())
        .unwrap()
        .sign(&[&signer])
        .unwrap();
    std::fs::write(&copy, forged).unwrap();
    failed(
        &doorman(&[
            "log",
            "verify",
            "--url",
            &url,
            "--key",
            &key,
            "--state",
            copy.to_str().unwrap(),
        ]),
        1,
        "fork: in the tree of size 70000",
    );
    // Remembering the largest tree, every smaller one is a rollback.
    *current.lock().unwrap() = 3;
    failed(
        &doorman(&[
            "log",
            "verify",
            "--url",
            &url,
            "--key",
            &key,
            "--state",
            state.to_str().unwrap(),
        ]),
        1,
        "rollback",
    );
}

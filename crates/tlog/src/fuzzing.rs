//! Bodies of the log's fuzz targets (`fuzz/fuzz_targets/log_*.rs`), here so the stable test
//! `tests/fuzz_corpus.rs` replays exactly what the fuzzer runs.
//!
//! Beyond "never panics", each body asserts properties that must hold for any input: what a
//! parser accepts re-encodes to the same bytes (one encoding per value), and a signature or
//! proof that verifies was made by the fixed test key over exactly that content.
// The invariant checks are assertions by design: a failure is a finding the fuzzer must report.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use crate::{
    Checkpoint, Hash, MemoryTree, NoteSigner, NoteVerifier, TileCoord, TileKind, TlogProof,
    encode_entry_bundle, leaf_hash, open_note, parse_entry_bundle, parse_hash_tile,
    root_from_tiles, verify_consistency, verify_inclusion,
};

const ORIGIN: &str = "fuzz.example/log";

struct Known {
    signer: NoteSigner,
    verifier: NoteVerifier,
    tree: MemoryTree,
    note: Vec<u8>,
}

/// A small signed log the targets mutate: 300 entries, a checkpoint at 300.
fn known() -> &'static Known {
    static K: OnceLock<Known> = OnceLock::new();
    K.get_or_init(|| {
        let signer = NoteSigner::from_seed(ORIGIN, &[9; 32]).unwrap();
        let verifier = signer.verifier();
        let mut tree = MemoryTree::new();
        for i in 0..300u32 {
            tree.append(format!("entry {i}").as_bytes()).unwrap();
        }
        let cp = Checkpoint::new(ORIGIN, tree.size(), tree.root().unwrap()).unwrap();
        let note = cp.sign(&[&signer]).unwrap();
        Known {
            signer,
            verifier,
            tree,
            note,
        }
    })
}

/// Text parsers: verifier and signer key strings, hashes, checkpoints, signed notes and
/// tlog-proof bundles; plus near-valid notes (the known checkpoint with bytes replaced).
pub fn log_text(data: &[u8]) {
    let k = known();
    let text = String::from_utf8_lossy(data);
    if let Ok(v) = NoteVerifier::parse(&text) {
        assert_eq!(v.to_string(), text, "a verifier key has one text form");
    }
    let _ = NoteSigner::parse(&text);
    if let Ok(h) = Hash::from_base64(&text) {
        assert_eq!(h.to_base64(), text, "a hash has one base64 form");
    }
    if let Ok(cp) = Checkpoint::parse(data) {
        assert_eq!(
            cp.to_text().as_bytes(),
            data,
            "a checkpoint has one text form"
        );
    }
    if let Ok(body) = open_note(data, &k.verifier) {
        // Only the known key's own notes verify; anything else would be a forgery.
        assert_eq!(
            data,
            crate::sign_note(&body, &[&k.signer]).unwrap().as_slice(),
            "a note verified that the key did not sign"
        );
    }
    if let Ok(p) = TlogProof::parse(data) {
        let again = TlogProof::parse(&p.to_bytes()).unwrap();
        assert_eq!(again.to_bytes(), p.to_bytes(), "a proof bundle round-trips");
        if let Ok(cp) = p.verify(&leaf_hash(b"entry 7"), ORIGIN, &k.verifier) {
            assert_eq!(p.index(), 7, "entry 7 proven at another index");
            assert_eq!(cp.size(), 300);
        }
    }
    // Near-valid: the known signed checkpoint with the input's bytes written over it.
    if let Some((&at, patch)) = data.split_first() {
        let mut note = k.note.clone();
        let start = usize::from(at) % note.len();
        for (slot, b) in note.iter_mut().skip(start).zip(patch) {
            *slot = *b;
        }
        if let Ok(cp) = Checkpoint::open(&note, ORIGIN, &k.verifier) {
            assert_eq!(note, k.note, "an altered checkpoint verified");
            assert_eq!(cp.size(), 300);
        }
    }
}

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (slot, v) in b.iter_mut().zip(data.iter().skip(at)) {
        *slot = *v;
    }
    u64::from_le_bytes(b)
}

/// Tile paths, hash tiles, entry bundles, roots from tiles, and proof verification with
/// arbitrary sizes, indices and hashes.
pub fn log_tiles(data: &[u8]) {
    let k = known();
    let text = String::from_utf8_lossy(data);
    if let Ok(coord) = TileCoord::parse(&text) {
        assert_eq!(coord.path(), text, "a tile has one path");
        let _ = parse_hash_tile(&coord, data);
        if coord.kind() == TileKind::Entries
            && let Ok(entries) = parse_entry_bundle(&coord, data)
        {
            assert_eq!(encode_entry_bundle(&entries).unwrap(), data);
        }
    }
    for coord in [
        TileCoord::hashes(0, 0, 256),
        TileCoord::hashes(0, 1, 44),
        TileCoord::entries(0, 256),
    ]
    .into_iter()
    .flatten()
    {
        if let Ok(hashes) = parse_hash_tile(&coord, data) {
            assert_eq!(hashes.len() * 32, data.len());
        }
        if let Ok(entries) = parse_entry_bundle(&coord, data) {
            assert_eq!(encode_entry_bundle(&entries).unwrap(), data);
        }
    }
    // A root from tiles that are the input: it may only equal the real root if the tiles are
    // the real tiles.
    let size = 1 + u64_at(data, 0) % 300;
    let real = k.tree.root_at(size).unwrap();
    let from_input = root_from_tiles(size, |_| Some(data.to_vec()));
    if from_input.as_ref() == Ok(&real) {
        let tile = k.tree.hash_tile(
            &TileCoord::hashes(0, 0, u16::try_from(size.min(256)).unwrap()).unwrap(),
            size,
        );
        assert_eq!(
            tile.ok().as_deref(),
            Some(data),
            "forged tiles reproduced the root"
        );
    }
    // Proof verification with arbitrary numbers and hashes never panics, and never accepts
    // a proof for a leaf that is not there.
    let (index, tree, old) = (u64_at(data, 8), u64_at(data, 16), u64_at(data, 24));
    let hashes: Vec<Hash> = data
        .chunks_exact(32)
        .skip(1)
        .take(70)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect();
    let leaf = Hash::from_slice(data.get(..32).unwrap_or(&[0; 32])).unwrap_or(Hash([0; 32]));
    if verify_inclusion(index, 300, &leaf, &hashes, &k.tree.root().unwrap()).is_ok() {
        let want = k.tree.inclusion_proof(index, 300).unwrap();
        assert_eq!(hashes, want, "a foreign inclusion proof verified");
    }
    let _ = verify_inclusion(index, tree, &leaf, &hashes, &leaf);
    let _ = verify_consistency(old, tree, &hashes, &leaf, &leaf);
    if (1..=300).contains(&old) {
        let old_root = k.tree.root_at(old).unwrap();
        if verify_consistency(old, 300, &hashes, &old_root, &k.tree.root().unwrap()).is_ok() {
            let want = k.tree.consistency_proof(old, 300).unwrap();
            assert_eq!(hashes, want, "a foreign consistency proof verified");
        }
    }
}

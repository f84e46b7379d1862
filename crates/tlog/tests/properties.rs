//! Property tests: every proof the tree produces verifies, against an independent RFC 6962
//! implementation; any bit flip in a proof, root, leaf, checkpoint or proof bundle is refused;
//! tile paths round-trip.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::OnceLock;

use doorman_tlog::{
    Checkpoint, Hash, MemoryTree, NoteSigner, NoteVerifier, TileCoord, TlogProof, leaf_hash,
    root_from_tiles, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

const ORIGIN: &str = "log.doorman.example/public";

fn entry(i: u64) -> Vec<u8> {
    format!("entry {i}").into_bytes()
}

/// One tree of the largest size the properties use, shared; smaller trees are its prefixes.
const MAX_SIZE: u64 = 3000;

fn tree() -> &'static MemoryTree {
    static T: OnceLock<MemoryTree> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = MemoryTree::new();
        for i in 0..MAX_SIZE {
            t.append(&entry(i)).unwrap();
        }
        t
    })
}

fn signer() -> &'static NoteSigner {
    static S: OnceLock<NoteSigner> = OnceLock::new();
    S.get_or_init(|| NoteSigner::from_seed(ORIGIN, &[42; 32]).unwrap())
}

/// RFC 6962 section 2.1, written out independently of tlog_tiles.
fn reference_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash(Sha256::digest(b"").into()),
        1 => leaves[0],
        n => {
            // The largest power of two below n.
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let (l, r) = leaves.split_at(k);
            let mut h = Sha256::new();
            h.update([1u8]);
            h.update(reference_root(l).0);
            h.update(reference_root(r).0);
            Hash(h.finalize().into())
        }
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut out = *h;
    out.0[(bit / 8) % 32] ^= 1 << (bit % 8);
    out
}

#[test]
fn reference_root_agrees_on_small_trees() {
    let leaves: Vec<Hash> = (0..300).map(|i| leaf_hash(&entry(i))).collect();
    assert_eq!(
        reference_root(&leaves[..1]).to_string(),
        leaf_hash(b"entry 0").to_string()
    );
    for n in 0..=300 {
        assert_eq!(
            tree().root_at(n as u64).unwrap(),
            reference_root(&leaves[..n]),
            "size {n}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// For a random size, every inclusion proof and every consistency proof into it verifies,
    /// and the root matches the reference implementation.
    #[test]
    fn every_proof_of_a_random_tree_verifies(size in 1..=MAX_SIZE) {
        let t = tree();
        let root = t.root_at(size).unwrap();
        let leaves: Vec<Hash> = (0..size).map(|i| leaf_hash(&entry(i))).collect();
        prop_assert_eq!(root, reference_root(&leaves));
        for index in 0..size {
            let proof = t.inclusion_proof(index, size).unwrap();
            prop_assert_eq!(
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root),
                Ok(())
            );
        }
        for old in 1..=size {
            let proof = t.consistency_proof(old, size).unwrap();
            let old_root = t.root_at(old).unwrap();
            prop_assert_eq!(verify_consistency(old, size, &proof, &old_root, &root), Ok(()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_bit_flip_breaks_an_inclusion_proof(
        size in 1..=MAX_SIZE,
        index_seed in any::<u64>(),
        which in 0usize..3,
        pick in any::<usize>(),
        bit in 0usize..256,
    ) {
        let t = tree();
        let index = index_seed % size;
        let root = t.root_at(size).unwrap();
        let leaf = leaf_hash(&entry(index));
        let mut proof = t.inclusion_proof(index, size).unwrap();
        prop_assert_eq!(verify_inclusion(index, size, &leaf, &proof, &root), Ok(()));
        let (leaf, root) = match which {
            0 if !proof.is_empty() => {
                let i = pick % proof.len();
                proof[i] = flip(&proof[i], bit);
                (leaf, root)
            }
            1 => (leaf, flip(&root, bit)),
            _ => (flip(&leaf, bit), root),
        };
        prop_assert!(verify_inclusion(index, size, &leaf, &proof, &root).is_err());
    }

    #[test]
    fn any_bit_flip_breaks_a_consistency_proof(
        size in 2..=MAX_SIZE,
        old_seed in any::<u64>(),
        which in 0usize..3,
        pick in any::<usize>(),
        bit in 0usize..256,
    ) {
        let t = tree();
        let old = 1 + old_seed % (size - 1);
        let new_root = t.root_at(size).unwrap();
        let old_root = t.root_at(old).unwrap();
        let mut proof = t.consistency_proof(old, size).unwrap();
        prop_assert!(!proof.is_empty());
        prop_assert_eq!(verify_consistency(old, size, &proof, &old_root, &new_root), Ok(()));
        let (old_root, new_root) = match which {
            0 => {
                let i = pick % proof.len();
                proof[i] = flip(&proof[i], bit);
                (old_root, new_root)
            }
            1 => (flip(&old_root, bit), new_root),
            _ => (old_root, flip(&new_root, bit)),
        };
        prop_assert!(verify_consistency(old, size, &proof, &old_root, &new_root).is_err());
    }

    /// A proof for one index does not verify at another. (It can verify at another tree size
    /// whose tree has the same shape along the path, e.g. index 0 in 1025 and 1026 entries; the
    /// root is what binds the size, so that is not a weakness.)
    #[test]
    fn proofs_do_not_transfer_to_other_positions(
        size in 2..=MAX_SIZE,
        index_seed in any::<u64>(),
        delta in 1u64..1000,
    ) {
        let t = tree();
        let index = index_seed % size;
        let root = t.root_at(size).unwrap();
        let leaf = leaf_hash(&entry(index));
        let proof = t.inclusion_proof(index, size).unwrap();
        let other = (index + delta) % size;
        if other != index {
            prop_assert!(verify_inclusion(other, size, &leaf, &proof, &root).is_err());
        }
    }

    #[test]
    fn tile_paths_round_trip(
        level in 0u8..=7,
        index in any::<u64>(),
        width in 1u16..=256,
        entries in any::<bool>(),
    ) {
        let coord = if entries {
            TileCoord::entries(index, width)
        } else {
            TileCoord::hashes(level, index, width)
        };
        if let Ok(c) = coord {
            prop_assert_eq!(TileCoord::parse(&c.path()), Ok(c));
        }
    }

    /// Recomputing a root from tiles works at any size, including multi-level trees.
    #[test]
    fn roots_recompute_from_tiles(size in 1..=MAX_SIZE) {
        let t = tree();
        let root = root_from_tiles(size, |c| t.hash_tile(c, size).ok()).unwrap();
        prop_assert_eq!(root, t.root_at(size).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_bit_flip_in_a_signed_checkpoint_is_refused(
        size in 1..=MAX_SIZE,
        ext in proptest::option::of("[a-z0-9 ]{1,20}"),
        bit_seed in any::<usize>(),
    ) {
        let t = tree();
        let root = t.root_at(size).unwrap();
        let cp = Checkpoint::with_extensions(ORIGIN, size, root, ext.into_iter().collect()).unwrap();
        let witness = NoteSigner::from_seed("witness.example", &[7; 32]).unwrap();
        let note = cp.sign(&[signer(), &witness]).unwrap();
        let key = signer().verifier();
        prop_assert_eq!(Checkpoint::open(&note, ORIGIN, &key), Ok(cp.clone()));
        // Flip a bit in the text or in the log's signature line (the witness's line is a
        // signature the verifier does not know, so it is ignored unless the flip makes the
        // note malformed).
        let log_sig_end = cp.to_text().len() + 1 + note[cp.to_text().len() + 1..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap();
        let bit = bit_seed % (log_sig_end * 8);
        let mut bad = note.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(Checkpoint::open(&bad, ORIGIN, &key).is_err(), "bit {}", bit);
    }

    #[test]
    fn tlog_proof_bundles_round_trip_verify_and_break_under_flips(
        size in 1..=MAX_SIZE,
        index_seed in any::<u64>(),
        extra in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..40)),
        bit_seed in any::<usize>(),
    ) {
        let t = tree();
        let index = index_seed % size;
        let cp = Checkpoint::new(ORIGIN, size, t.root_at(size).unwrap()).unwrap();
        let note = cp.sign(&[signer()]).unwrap();
        let proof = t.inclusion_proof(index, size).unwrap();
        let bundle = TlogProof::new(index, proof, note, extra.clone()).unwrap();
        let bytes = bundle.to_bytes();
        let parsed = TlogProof::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &bundle);
        let key: NoteVerifier = signer().verifier();
        prop_assert_eq!(parsed.verify_entry(&entry(index), ORIGIN, &key), Ok(cp));
        prop_assert!(parsed.verify_entry(&entry(index + 1), ORIGIN, &key).is_err());

        // Any bit outside the unauthenticated extra line breaks parsing or verification.
        let extra_line = extra.as_ref().map_or(0..0, |_| {
            let start = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
            let len = bytes[start..].iter().position(|&b| b == b'\n').unwrap() + 1;
            start..start + len
        });
        let bit = bit_seed % (bytes.len() * 8);
        if !extra_line.contains(&(bit / 8)) {
            let mut bad = bytes.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let refused = match TlogProof::parse(&bad) {
                Err(_) => true,
                Ok(p) => p.verify_entry(&entry(index), ORIGIN, &key).is_err(),
            };
            prop_assert!(refused, "bit {}", bit);
        }
    }
}

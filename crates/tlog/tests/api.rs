//! The API end to end: several signatures, tiles of multi-level trees, custom hash stores,
//! proof bundles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::RefCell;

use doorman_tlog::{
    Checkpoint, EMPTY_ROOT, Error, Hash, HashStore, MemoryTree, NoteSigner, NoteVerifier,
    TileCoord, TileKind, TlogProof, consistency_proof, inclusion_proof, leaf_hash, node_hash,
    open_note, root_from_tiles, sign_note, stored_hash_count, stored_hash_index,
    stored_hashes_for_append, tiles_to_publish, tree_root, verify_consistency, verify_inclusion,
};

const ORIGIN: &str = "log.doorman.example/public";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap()
}

fn tree(size: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..size {
        assert_eq!(t.append(format!("e{i}").as_bytes()).unwrap(), i);
    }
    t
}

#[test]
fn hashing_is_rfc_6962() {
    assert_eq!(
        EMPTY_ROOT.to_string(),
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    // SHA-256(0x00) for the empty entry, from RFC 6962 test vectors.
    assert_eq!(
        leaf_hash(b"").to_string(),
        Hash::from_slice(
            &[
                0x6e, 0x34, 0x0b, 0x9c, 0xff, 0xb3, 0x7a, 0x98, 0x9c, 0xa5, 0x44, 0xe6, 0xbb, 0x78,
                0x0a, 0x2c, 0x78, 0x90, 0x1d, 0x3f, 0xb3, 0x37, 0x38, 0x76, 0x85, 0x11, 0xa3, 0x06,
                0x17, 0xaf, 0xa0, 0x1d
            ][..]
        )
        .unwrap()
        .to_string()
    );
    let t = tree(2);
    assert_eq!(
        t.root().unwrap(),
        node_hash(&leaf_hash(b"e0"), &leaf_hash(b"e1"))
    );
    assert_eq!(MemoryTree::new().root().unwrap(), EMPTY_ROOT);
}

#[test]
fn a_checkpoint_with_several_signatures_opens_and_unknown_ones_are_ignored() {
    let log = log_key();
    let w1 = NoteSigner::from_seed("witness1.example", &[2; 32]).unwrap();
    let w2 = NoteSigner::from_seed("witness2.example", &[3; 32]).unwrap();
    let t = tree(10);
    let cp = Checkpoint::with_extensions(
        ORIGIN,
        10,
        t.root().unwrap(),
        vec!["doorman extension line".to_string()],
    )
    .unwrap();
    let note = cp.sign(&[&w1, &log, &w2]).unwrap();
    assert_eq!(
        Checkpoint::open(&note, ORIGIN, &log.verifier()),
        Ok(cp.clone())
    );
    // The text is the checkpoint; three signature lines follow the blank line.
    let text = String::from_utf8(note.clone()).unwrap();
    assert!(text.starts_with(&format!(
        "{ORIGIN}\n10\n{}\ndoorman extension line\n\n",
        cp.root()
    )));
    assert_eq!(text.matches("\n— ").count(), 3);

    // Signed only by keys the verifier does not know: refused as unsigned.
    let only_witnesses = cp.sign(&[&w1, &w2]).unwrap();
    assert_eq!(
        Checkpoint::open(&only_witnesses, ORIGIN, &log.verifier()),
        Err(Error::NotSigned {
            name: ORIGIN.to_string(),
            id: log.key_id()
        })
    );

    // A signature line under the log's name and id that does not verify is an error even
    // when other lines are fine.
    let other_log = NoteSigner::from_seed(ORIGIN, &[9; 32]).unwrap();
    let forged_line = {
        let forged = cp.sign(&[&other_log]).unwrap();
        let forged = String::from_utf8(forged).unwrap();
        let line = forged.lines().last().unwrap().to_string();
        // Re-label the other key's signature with the log's key id.
        let b64 = line.rsplit(' ').next().unwrap();
        use base64::Engine as _;
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        raw[..4].copy_from_slice(&log.key_id().to_be_bytes());
        format!(
            "— {ORIGIN} {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let mut bad = cp.to_text();
    bad.push('\n');
    bad.push_str(&forged_line);
    bad.push('\n');
    assert_eq!(
        Checkpoint::open(bad.as_bytes(), ORIGIN, &log.verifier()),
        Err(Error::BadSignature {
            name: ORIGIN.to_string(),
            id: log.key_id()
        })
    );
}

#[test]
fn notes_sign_and_open() {
    let log = log_key();
    let note = sign_note(b"hello\nworld\n", &[&log]).unwrap();
    assert_eq!(
        open_note(&note, &log.verifier()).unwrap(),
        b"hello\nworld\n"
    );
    assert!(matches!(sign_note(b"hello\n", &[]), Err(Error::BadNote(_))));
    assert!(matches!(
        sign_note(b"no newline", &[&log]),
        Err(Error::BadNote(_))
    ));
    assert!(matches!(
        sign_note(b"tab\there\n", &[&log]),
        Err(Error::BadNote(_))
    ));
}

#[test]
fn keys_round_trip() {
    let signer = NoteSigner::from_seed("example.com/log", &[5; 32]).unwrap();
    let private = signer.private_key_string();
    let again = NoteSigner::parse(&private).unwrap();
    assert_eq!(again.verifier(), signer.verifier());
    let public = signer.verifier().to_string();
    assert_eq!(public.parse::<NoteVerifier>().unwrap(), signer.verifier());
    assert_eq!(
        NoteVerifier::new("example.com/log", &signer.verifier().public_key()).unwrap(),
        signer.verifier()
    );
    // Debug output never shows the private key.
    let debug = format!("{signer:?}");
    assert!(!debug.contains(private.rsplit('+').next().unwrap()));
    assert!(debug.contains("example.com/log"));
}

#[test]
fn tile_paths_follow_the_spec() {
    let c = TileCoord::hashes(4, 1_234_067, 256).unwrap();
    assert_eq!(c.path(), "tile/4/x001/x234/067");
    let c = TileCoord::hashes(4, 1_234_067, 8).unwrap();
    assert_eq!(c.path(), "tile/4/x001/x234/067.p/8");
    let c = TileCoord::entries(1_234_067, 8).unwrap();
    assert_eq!(c.to_string(), "tile/entries/x001/x234/067.p/8");
    assert_eq!(c.kind(), TileKind::Entries);
    assert_eq!(TileCoord::hashes(0, 5, 256).unwrap().path(), "tile/0/005");
    assert_eq!(
        TileCoord::hashes(0, 1000, 256).unwrap().path(),
        "tile/0/x001/000"
    );
    assert_eq!(
        TileCoord::entries(u64::MAX / 256 - 1, 1).unwrap().path(),
        "tile/entries/x072/x057/x594/x037/x927/934.p/1"
    );
    assert_eq!(
        TileCoord::hashes(1, 2, 256).unwrap().entry_range(),
        (131_072, 196_608)
    );
    assert_eq!(
        TileCoord::hashes(0, 2, 7).unwrap().entry_range(),
        (512, 519)
    );
    assert!(TileCoord::hashes(0, 2, 256).unwrap().is_full());
    for p in [
        "tile/0/000",
        "tile/0/x001/x234/067.p/8",
        "tile/entries/000.p/1",
        "tile/6/000.p/1",
        "tile/7/000.p/255",
        "tile/entries/x072/x057/x594/x037/x927/934.p/1",
    ] {
        assert_eq!(TileCoord::parse(p).unwrap().path(), p);
    }
}

#[test]
fn tiles_to_publish_match_the_spec_example() {
    // C2SP tlog-tiles: "a tree of size 70,000 will be represented by 273 full level 0 tiles,
    // one partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile
    // of width 17, and one partial level 2 tile of width 1".
    let all = tiles_to_publish(0, 70_000).unwrap();
    let hashes: Vec<&TileCoord> = all
        .iter()
        .filter(|c| c.kind() != TileKind::Entries)
        .collect();
    let level = |l: u8| {
        hashes
            .iter()
            .filter(|c| c.kind() == TileKind::Hashes { level: l })
            .map(|c| (c.is_full(), c.width()))
            .collect::<Vec<_>>()
    };
    let l0 = level(0);
    assert_eq!(l0.iter().filter(|(full, _)| *full).count(), 273);
    assert_eq!(
        l0.iter().filter(|(full, _)| !*full).collect::<Vec<_>>(),
        vec![&(false, 112)]
    );
    assert_eq!(level(1), vec![(true, 256), (false, 17)]);
    assert_eq!(level(2), vec![(false, 1)]);
    assert_eq!(all.len(), 277 + 274);

    assert_eq!(
        tiles_to_publish(255, 256)
            .unwrap()
            .iter()
            .map(TileCoord::path)
            .collect::<Vec<_>>(),
        vec!["tile/0/000", "tile/1/000.p/1", "tile/entries/000"]
    );
    assert_eq!(tiles_to_publish(7, 7).unwrap(), vec![]);
}

#[test]
fn roots_recompute_from_the_tiles_of_a_three_level_tree() {
    let t = tree(70_000);
    let mut asked = Vec::new();
    let root = root_from_tiles(70_000, |c| {
        asked.push(c.path());
        t.hash_tile(c, 70_000).ok()
    })
    .unwrap();
    assert_eq!(root, t.root().unwrap());
    asked.sort();
    assert_eq!(
        asked,
        vec!["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    );
    // Every published full tile's tree hash is the hash one level up.
    let level1 = t
        .hash_tile(&TileCoord::hashes(1, 0, 256).unwrap(), 70_000)
        .unwrap();
    let tile5 = t
        .hash_tile(&TileCoord::hashes(0, 5, 256).unwrap(), 70_000)
        .unwrap();
    let tile5_hashes: Vec<Hash> = tile5
        .chunks(32)
        .map(|c| Hash::from_slice(c).unwrap())
        .collect();
    assert_eq!(
        doorman_tlog::root_of_leaf_hashes(&tile5_hashes)
            .unwrap()
            .as_bytes()[..],
        level1[5 * 32..6 * 32]
    );
}

/// A store kept as a plain vector of stored hashes, as a database table would.
#[derive(Default)]
struct VecStore(RefCell<Vec<Hash>>);

impl HashStore for VecStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        let v = self.0.borrow();
        indexes
            .iter()
            .map(|&i| {
                v.get(i as usize)
                    .copied()
                    .ok_or_else(|| Error::Store(format!("missing {i}")))
            })
            .collect()
    }
}

#[test]
fn a_custom_store_gives_the_same_tree() {
    let store = VecStore::default();
    for i in 0..1000u64 {
        let at = stored_hash_index(0, i).unwrap();
        assert_eq!(at, store.0.borrow().len() as u64);
        let new =
            stored_hashes_for_append(&store, i, &leaf_hash(format!("e{i}").as_bytes())).unwrap();
        store.0.borrow_mut().extend(new);
        assert_eq!(
            stored_hash_count(i + 1).unwrap(),
            store.0.borrow().len() as u64
        );
    }
    let t = tree(1000);
    assert_eq!(tree_root(&store, 1000), t.root());
    assert_eq!(
        inclusion_proof(&store, 1000, 17),
        t.inclusion_proof(17, 1000)
    );
    assert_eq!(
        consistency_proof(&store, 3, 1000),
        t.consistency_proof(3, 1000)
    );
    let root = t.root().unwrap();
    let proof = inclusion_proof(&store, 1000, 17).unwrap();
    verify_inclusion(17, 1000, &leaf_hash(b"e17"), &proof, &root).unwrap();
    let proof = consistency_proof(&store, 3, 1000).unwrap();
    verify_consistency(3, 1000, &proof, &t.root_at(3).unwrap(), &root).unwrap();

    // A store missing hashes gives an error, not a panic.
    store.0.borrow_mut().truncate(10);
    assert!(matches!(tree_root(&store, 1000), Err(Error::Store(_))));
    assert!(matches!(
        inclusion_proof(&store, 1000, 999),
        Err(Error::Store(_))
    ));
}

/// A store that returns the wrong number of hashes (tlog_tiles would assert) is an error.
struct ShortStore;

impl HashStore for ShortStore {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        Ok(vec![Hash::default(); indexes.len().saturating_sub(1)])
    }
}

#[test]
fn a_misbehaving_store_is_an_error() {
    assert!(matches!(tree_root(&ShortStore, 5), Err(Error::Store(_))));
    assert!(matches!(
        inclusion_proof(&ShortStore, 5, 1),
        Err(Error::Store(_))
    ));
    assert!(matches!(
        consistency_proof(&ShortStore, 3, 5),
        Err(Error::Store(_))
    ));
    assert!(matches!(
        stored_hashes_for_append(&ShortStore, 7, &Hash::default()),
        Err(Error::Store(_))
    ));
    assert!(matches!(
        doorman_tlog::hash_tile(&ShortStore, &TileCoord::hashes(0, 0, 3).unwrap(), 5),
        Err(Error::Store(_))
    ));
}

#[test]
fn proof_bundles_follow_the_spec_shape() {
    let log = log_key();
    let t = tree(100);
    let cp = Checkpoint::new(ORIGIN, 100, t.root().unwrap()).unwrap();
    let note = cp.sign(&[&log]).unwrap();
    let proof = t.inclusion_proof(42, 100).unwrap();
    let bundle = TlogProof::new(42, proof.clone(), note.clone(), Some(b"ctx".to_vec())).unwrap();
    let text = String::from_utf8(bundle.to_bytes()).unwrap();
    let mut want = "c2sp.org/tlog-proof@v1\nextra Y3R4\nindex 42\n".to_string();
    for h in &proof {
        want.push_str(&format!("{h}\n"));
    }
    want.push('\n');
    want.push_str(std::str::from_utf8(&note).unwrap());
    assert_eq!(text, want);
    let parsed = TlogProof::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.extra(), Some(&b"ctx"[..]));
    assert_eq!(parsed.index(), 42);
    assert_eq!(parsed.proof(), &proof[..]);
    assert_eq!(parsed.checkpoint_note(), &note[..]);
    assert_eq!(parsed.verify_entry(b"e42", ORIGIN, &log.verifier()), Ok(cp));
    assert_eq!(
        parsed.verify_entry(b"e43", ORIGIN, &log.verifier()),
        Err(Error::InvalidInclusionProof)
    );
    let stranger = NoteSigner::from_seed(ORIGIN, &[8; 32]).unwrap();
    assert!(matches!(
        parsed.verify_entry(b"e42", ORIGIN, &stranger.verifier()),
        Err(Error::NotSigned { .. })
    ));
    assert!(matches!(
        parsed.verify_entry(b"e42", "other.example", &log.verifier()),
        Err(Error::WrongOrigin { .. })
    ));

    // A one-entry tree: empty proof, no extra line.
    let t1 = tree(1);
    let cp1 = Checkpoint::new(ORIGIN, 1, t1.root().unwrap()).unwrap();
    let b1 = TlogProof::new(0, vec![], cp1.sign(&[&log]).unwrap(), None).unwrap();
    let text1 = b1.to_bytes();
    assert!(text1.starts_with(b"c2sp.org/tlog-proof@v1\nindex 0\n\n"));
    let parsed1 = TlogProof::parse(&text1).unwrap();
    assert_eq!(
        parsed1.verify_entry(b"e0", ORIGIN, &log.verifier()),
        Ok(cp1)
    );

    // An index beyond the checkpoint.
    let far = TlogProof::new(100, vec![], note, None).unwrap();
    assert_eq!(
        far.verify_entry(b"e0", ORIGIN, &log.verifier()),
        Err(Error::IndexOutOfRange {
            index: 100,
            size: 100
        })
    );
}

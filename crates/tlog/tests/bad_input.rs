//! Bad input for every parser and verifier: a clear error, never a panic. Ends with property
//! tests that throw arbitrary and mutated input at every parser.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_tlog::{
    Checkpoint, EMPTY_ROOT, Error, Hash, MAX_PROOF_BUNDLE_SIZE, MAX_TREE_SIZE, MemoryTree,
    NoteSigner, NoteVerifier, TileCoord, TlogProof, consistency_proof, encode_entry_bundle,
    inclusion_proof, open_note, parse_entry_bundle, parse_hash_tile, root_from_tiles,
    stored_hash_count, stored_hash_index, tiles_to_publish, tree_root, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;

const ORIGIN: &str = "log.doorman.example/public";
const TINY_PUBLIC: &str =
    "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const TINY_PRIVATE: &str =
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap()
}

/// A verifier key string with a correct key id for arbitrary key bytes.
fn key_string(name: &str, key: &[u8]) -> String {
    format!(
        "{name}+{:08x}+{}",
        signed_note::key_id(name, key),
        STANDARD.encode(key)
    )
}

// ---------------------------------------------------------------- hashes

#[test]
fn hashes_must_be_32_bytes_of_canonical_base64() {
    for len in [0, 1, 12, 31, 33, 64] {
        assert_eq!(Hash::from_slice(&vec![0; len]), Err(Error::HashLength(len)));
    }
    let good = EMPTY_ROOT.to_string();
    assert_eq!(Hash::from_base64(&good), Ok(EMPTY_ROOT));
    for bad in [
        "",
        "not base64",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU", // no padding
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=", // non-zero trailing bits
        "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=", // URL-safe alphabet
        " 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", // space
        "ZG9uJ3QgY2FyZSAy",                            // 12 bytes
    ] {
        assert!(Hash::from_base64(bad).is_err(), "{bad:?}");
    }
    assert!(Hash::from_base64(&"A".repeat(100_000)).is_err());
}

// ---------------------------------------------------------------- proofs

#[test]
fn verification_refuses_impossible_positions_without_panicking() {
    let h = Hash([3; 32]);
    assert_eq!(
        verify_inclusion(0, 0, &h, &[], &EMPTY_ROOT),
        Err(Error::IndexOutOfRange { index: 0, size: 0 })
    );
    assert_eq!(
        verify_inclusion(u64::MAX, u64::MAX, &h, &[], &h),
        Err(Error::IndexOutOfRange {
            index: u64::MAX,
            size: u64::MAX
        })
    );
    // Huge trees are fine to verify against; the proof just does not match.
    assert_eq!(
        verify_inclusion(u64::MAX - 1, u64::MAX, &h, &[h; 64], &h),
        Err(Error::InvalidInclusionProof)
    );
    assert_eq!(
        verify_inclusion(0, u64::MAX, &h, &[h; 3], &h),
        Err(Error::InvalidInclusionProof)
    );
    assert_eq!(
        verify_inclusion(0, 2, &h, &[h; 65], &h),
        Err(Error::ProofTooLong(65))
    );
    assert_eq!(
        verify_inclusion(0, 1, &h, &vec![h; 100_000], &h),
        Err(Error::ProofTooLong(100_000))
    );
    assert_eq!(verify_inclusion(0, 1, &h, &[], &h), Ok(()));
    assert_eq!(
        verify_inclusion(0, 1, &h, &[h], &h),
        Err(Error::InvalidInclusionProof)
    );

    // Consistency from size 0, in every form, is refused.
    assert_eq!(
        verify_consistency(0, 0, &[], &EMPTY_ROOT, &EMPTY_ROOT),
        Err(Error::ConsistencyFromEmpty)
    );
    assert_eq!(
        verify_consistency(0, 5, &[], &EMPTY_ROOT, &h),
        Err(Error::ConsistencyFromEmpty)
    );
    assert_eq!(
        verify_consistency(5, 4, &[], &h, &h),
        Err(Error::ShrinkingTree { old: 5, new: 4 })
    );
    assert_eq!(
        verify_consistency(1, u64::MAX, &[h; 64], &h, &h),
        Err(Error::InvalidConsistencyProof)
    );
    assert_eq!(
        verify_consistency(u64::MAX - 1, u64::MAX, &[h; 3], &h, &h),
        Err(Error::InvalidConsistencyProof)
    );
    assert_eq!(
        verify_consistency(1, 2, &[h; 65], &h, &h),
        Err(Error::ProofTooLong(65))
    );
}

#[test]
fn generation_refuses_impossible_positions() {
    let mut t = MemoryTree::new();
    for i in 0..10u8 {
        t.append(&[i]).unwrap();
    }
    assert_eq!(
        t.inclusion_proof(10, 10),
        Err(Error::IndexOutOfRange {
            index: 10,
            size: 10
        })
    );
    assert!(matches!(t.inclusion_proof(0, 11), Err(Error::Store(_))));
    assert!(matches!(t.root_at(11), Err(Error::Store(_))));
    assert_eq!(t.consistency_proof(0, 5), Err(Error::ConsistencyFromEmpty));
    assert_eq!(
        t.consistency_proof(6, 5),
        Err(Error::ShrinkingTree { old: 6, new: 5 })
    );
    assert!(matches!(t.consistency_proof(5, 11), Err(Error::Store(_))));
    assert_eq!(
        inclusion_proof(&t, u64::MAX, u64::MAX - 1),
        Err(Error::TreeTooLarge(u64::MAX))
    );
    assert_eq!(
        consistency_proof(&t, 1, u64::MAX),
        Err(Error::TreeTooLarge(u64::MAX))
    );
    assert_eq!(tree_root(&t, u64::MAX), Err(Error::TreeTooLarge(u64::MAX)));
    assert!(stored_hash_index(49, 0).is_err());
    assert!(stored_hash_index(0, MAX_TREE_SIZE).is_err());
    assert!(stored_hash_index(255, u64::MAX).is_err());
    assert!(stored_hash_index(0, MAX_TREE_SIZE - 1).is_ok());
    assert!(stored_hash_count(MAX_TREE_SIZE + 1).is_err());
    assert!(matches!(
        t.append(&vec![0; 65_536]),
        Err(Error::EntryTooLarge(65_536))
    ));
    assert!(t.append(&vec![0; 65_535]).is_ok());
}

// ---------------------------------------------------------------- tiles

#[test]
fn tile_paths_out_of_range_or_not_canonical_are_refused() {
    for bad in [
        "",
        "tile",
        "tile/",
        "tile/0",
        "tile/0/",
        "/tile/0/000",
        "tile/0/000/",
        "tile/0/000.p/",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/007",
        "tile/0/000.p/+7",
        "tile/0/000.p/5/",
        "tile/0/000.p/-1",
        "tile/00/000",
        "tile/+0/000",
        "tile/64/000",
        "tile/255/000",
        "tile/99999999999999999999/000",
        "tile/8/000",  // level 8 tiles need 2^64 entries
        "tile/63/000", // allowed by the syntax, out of range
        "tile/7/000",  // a full level-7 tile needs 2^64 entries
        "tile/7/001.p/1",
        "tile/0/-01",
        "tile/0/-1",
        "tile/0/1",
        "tile/0/01",
        "tile/0/0001",
        "tile/0/x1/000",
        "tile/0/x000/001", // leading zero group
        "tile/0/001/x002",
        "tile/0/x001/x002",
        "tile/0/001/002",
        "tile/0/x018/x446/x744/x073/x709/x551/616", // 2^64
        "tile/0/x001/x018/x446/x744/x073/x709/x551/615", // 8 groups
        "tile/entries/x018/x446/x744/x073/x709/x551/615", // index 2^64-1: beyond any tree
        "tile/0/x072/x057/x594/x037/x927/936",      // starts at 2^64
        "tile/data/000",                            // Go checksum-database form
        "tile/8/0/000",                             // Go form with the height
        "tile/8/0/x001/x234/067.p/8",
        "tile/0/000 ",
        "tile/0/\u{663}\u{663}\u{663}",
        "tile/entries/",
        "tile/entries/000.p/0",
        "TILE/0/000",
    ] {
        let err = TileCoord::parse(bad).unwrap_err();
        assert!(matches!(err, Error::BadTilePath { .. }), "{bad:?}: {err:?}");
        assert!(!err.to_string().is_empty());
    }
    assert!(TileCoord::parse(&format!("tile/0/{}", "x000/".repeat(1000))).is_err());
    assert!(TileCoord::hashes(0, 0, 0).is_err());
    assert!(TileCoord::hashes(0, 0, 257).is_err());
    assert!(TileCoord::hashes(8, 0, 1).is_err());
    assert!(TileCoord::hashes(200, 0, 1).is_err());
    assert!(TileCoord::entries(u64::MAX, 1).is_err());
}

#[test]
fn truncated_or_padded_tiles_are_refused() {
    let c = TileCoord::hashes(0, 0, 3).unwrap();
    for len in [0, 1, 31, 64, 95, 97, 128] {
        assert!(
            matches!(parse_hash_tile(&c, &vec![0; len]), Err(Error::BadTile(_))),
            "{len}"
        );
    }
    assert_eq!(parse_hash_tile(&c, &[0; 96]).unwrap().len(), 3);
    let bundle = TileCoord::entries(0, 3).unwrap();
    assert!(matches!(
        parse_hash_tile(&bundle, &[0; 96]),
        Err(Error::BadTile(_))
    ));

    let mut t = MemoryTree::new();
    for i in 0..300u16 {
        t.append(&i.to_be_bytes()).unwrap();
    }
    // A tile the tree does not have yet, a bundle, a tree too large.
    assert!(matches!(
        t.hash_tile(&TileCoord::hashes(0, 1, 45).unwrap(), 300),
        Err(Error::BadTile(_))
    ));
    assert!(matches!(
        t.hash_tile(&TileCoord::hashes(1, 0, 2).unwrap(), 300),
        Err(Error::BadTile(_))
    ));
    assert!(
        t.hash_tile(&TileCoord::hashes(1, 0, 1).unwrap(), 300)
            .is_ok()
    );
    assert!(matches!(
        t.hash_tile(&TileCoord::entries(0, 256).unwrap(), 300),
        Err(Error::BadTile(_))
    ));

    // Recomputing a root: missing, short and long tiles are errors.
    assert_eq!(
        root_from_tiles(300, |_| None),
        Err(Error::MissingTile("tile/1/000.p/1".to_string()))
    );
    let good = |c: &TileCoord| t.hash_tile(c, 300).ok();
    assert_eq!(root_from_tiles(300, good), t.root());
    let short = |c: &TileCoord| {
        let mut d = t.hash_tile(c, 300).unwrap();
        d.pop();
        Some(d)
    };
    assert!(matches!(
        root_from_tiles(300, short),
        Err(Error::BadTile(_))
    ));
    let long = |c: &TileCoord| {
        let mut d = t.hash_tile(c, 300).unwrap();
        d.push(0);
        Some(d)
    };
    assert!(matches!(root_from_tiles(300, long), Err(Error::BadTile(_))));
    assert_eq!(
        root_from_tiles(u64::MAX, |_| None),
        Err(Error::TreeTooLarge(u64::MAX))
    );
    assert!(matches!(
        tiles_to_publish(5, 3),
        Err(Error::ShrinkingTree { old: 5, new: 3 })
    ));
    assert_eq!(
        tiles_to_publish(0, MAX_TREE_SIZE + 1),
        Err(Error::TreeTooLarge(MAX_TREE_SIZE + 1))
    );
    assert!(tiles_to_publish(MAX_TREE_SIZE - 1, MAX_TREE_SIZE).is_ok());
}

#[test]
fn entry_bundles_refuse_bad_sizes_and_truncation() {
    assert!(matches!(
        encode_entry_bundle::<&[u8]>(&[]),
        Err(Error::BadEntryBundle(_))
    ));
    assert!(matches!(
        encode_entry_bundle(&vec![b"x"; 257]),
        Err(Error::BadEntryBundle(_))
    ));
    assert_eq!(
        encode_entry_bundle(&[vec![0u8; 65_536]]),
        Err(Error::EntryTooLarge(65_536))
    );
    let max = encode_entry_bundle(&[vec![7u8; 65_535], vec![]]).unwrap();
    let c2 = TileCoord::entries(0, 2).unwrap();
    assert_eq!(
        parse_entry_bundle(&c2, &max).unwrap(),
        vec![&[7u8; 65_535][..], &[][..]]
    );
    assert!(
        Error::EntryTooLarge(65_536)
            .to_string()
            .contains("at most 65,535 bytes")
    );

    let c1 = TileCoord::entries(0, 1).unwrap();
    let c3 = TileCoord::entries(0, 3).unwrap();
    let two = encode_entry_bundle(&[b"ab", b"cd"]).unwrap();
    for (coord, data) in [
        (c1, &b""[..]),             // no entries
        (c1, &[0][..]),             // truncated length
        (c1, &[0, 5, b'a'][..]),    // truncated entry
        (c1, &two[..]),             // more entries than the width
        (c3, &two[..]),             // fewer
        (c2, &[0, 0, 0, 0, 9][..]), // trailing byte
        (c1, &[0xff, 0xff][..]),
    ] {
        let err = parse_entry_bundle(&coord, data).unwrap_err();
        assert!(matches!(err, Error::BadEntryBundle(_)), "{data:?}: {err:?}");
    }
    let hash_tile = TileCoord::hashes(0, 0, 2).unwrap();
    assert!(matches!(
        parse_entry_bundle(&hash_tile, &two),
        Err(Error::BadEntryBundle(_))
    ));
    assert_eq!(parse_entry_bundle(&c2, &two).unwrap(), vec![b"ab", b"cd"]);
}

// ---------------------------------------------------------------- checkpoints

#[test]
fn malformed_checkpoints_are_refused() {
    let root = EMPTY_ROOT.to_string();
    for bad in [
        String::new(),
        format!("{ORIGIN}\n0\n{root}"), // no final newline
        format!("\n0\n{root}\n"),       // empty origin
        format!("{ORIGIN}\n+0\n{root}\n"),
        format!("{ORIGIN}\n00\n{root}\n"),
        format!("{ORIGIN}\n-1\n{root}\n"),
        format!("{ORIGIN}\n0x10\n{root}\n"),
        format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
        format!("{ORIGIN}\n 1\n{root}\n"),
        format!("{ORIGIN}\n1\nZG9uJ3QgY2FyZSAy\n"), // 12-byte root
        format!("{ORIGIN}\n1\nnot base64!\n"),
        format!("{ORIGIN}\n1\n{root}\next\n\n"), // empty extension line
        format!("{ORIGIN}\n1\n{root}\next"),     // unterminated extension
        format!("{ORIGIN}\r\n1\r\n{root}\r\n"),
        format!("{ORIGIN}\x01\n1\n{root}\n"),
        format!("{ORIGIN}\n1\n{root}\nex\x7ft\n"),
        format!("{ORIGIN}\n1\n"),
        format!("{ORIGIN}\n"),
    ] {
        assert!(
            matches!(
                Checkpoint::parse(bad.as_bytes()),
                Err(Error::BadCheckpoint(_))
            ),
            "{bad:?}"
        );
    }
    assert!(Checkpoint::parse(&[0xff, b'\n', b'1', b'\n']).is_err());
    assert!(Checkpoint::new("", 1, EMPTY_ROOT).is_err());
    assert!(Checkpoint::new("a\nb", 1, EMPTY_ROOT).is_err());
    assert!(Checkpoint::with_extensions("a", 1, EMPTY_ROOT, vec![String::new()]).is_err());
    assert!(Checkpoint::with_extensions("a", 1, EMPTY_ROOT, vec!["x\ny".into()]).is_err());
    let ok = format!("{ORIGIN}\n18446744073709551615\n{root}\nx\ny\n");
    let cp = Checkpoint::parse(ok.as_bytes()).unwrap();
    assert_eq!(cp.size(), u64::MAX);
    assert_eq!(cp.extensions(), ["x", "y"]);
    assert_eq!(cp.to_text(), ok);
}

// ---------------------------------------------------------------- keys

#[test]
fn verifier_keys_are_parsed_strictly() {
    // '+' inside the base64 is part of the key.
    let v = NoteVerifier::parse(TINY_PUBLIC).unwrap();
    assert_eq!(v.name(), "example.com/log/testdata");
    assert_eq!(v.to_string(), TINY_PUBLIC);

    let real = signer().verifier();
    let mut raw = vec![1u8];
    raw.extend_from_slice(&real.public_key());
    assert_eq!(
        NoteVerifier::parse(&key_string(ORIGIN, &raw)),
        Ok(real.clone())
    );

    // The identity point: a weak (small-order) key.
    let mut weak = vec![1u8, 1];
    weak.extend_from_slice(&[0; 31]);
    // A y coordinate that is not on the curve.
    let off_curve = (2u8..=255)
        .map(|y| {
            let mut k = [0u8; 32];
            k[0] = y;
            k
        })
        .find(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_err())
        .unwrap();
    let mut off = vec![1u8];
    off.extend_from_slice(&off_curve);
    let mut alg2 = raw.clone();
    alg2[0] = 2;

    let id = format!("{:08x}", real.key_id());
    let b64 = STANDARD.encode(&raw);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "three parts"),
        (ORIGIN.to_string(), "three parts"),
        (format!("{ORIGIN}+{id}"), "three parts"),
        (format!("+{id}+{b64}"), "name"),
        (format!("bad name+{id}+{b64}"), "name"),
        (format!("tab\tname+{id}+{b64}"), "name"),
        (format!("{ORIGIN}+{}+{b64}", id.to_uppercase()), "key id"),
        (format!("{ORIGIN}+{}+{b64}", &id[1..]), "key id"),
        (format!("{ORIGIN}+0{id}+{b64}"), "key id"),
        (format!("{ORIGIN}+zzzzzzzz+{b64}"), "key id"),
        (format!("{ORIGIN}+{id}+"), "empty"),
        (format!("{ORIGIN}+{id}+!!!!"), "base64"),
        (format!("{ORIGIN}+{id}+{b64}\n"), "base64"),
        (format!("{ORIGIN}+{id}+{}", &b64[..43]), "base64"),
        (format!("{ORIGIN}+{id}+{b64}="), "base64"),
        (format!("{ORIGIN}+{id}+{b64}+extra"), "base64"),
        (format!("{ORIGIN}+00000000+{b64}"), "does not match"),
        (key_string(ORIGIN, &raw[..32]), "32 bytes"),
        (
            key_string(ORIGIN, &[raw.clone(), vec![0]].concat()),
            "32 bytes",
        ),
        (key_string(ORIGIN, &alg2), "algorithm"),
        (key_string(ORIGIN, &weak), "weak"),
        (key_string(ORIGIN, &off), "curve point"),
        ("x".repeat(5000), "longer"),
    ];
    for (text, why) in cases {
        let err = NoteVerifier::parse(&text)
            .map(|v| panic!("{text:?} parsed as {v:?}"))
            .unwrap_err();
        assert!(
            matches!(err, Error::BadVerifierKey(_)) && err.to_string().contains(why),
            "{text:?}: {err}"
        );
    }
    assert!(NoteVerifier::new("bad name", &real.public_key()).is_err());
    assert!(NoteVerifier::new(ORIGIN, &weak[1..].try_into().unwrap()).is_err());
}

#[test]
fn private_keys_are_parsed_strictly() {
    let s = NoteSigner::parse(TINY_PRIVATE).unwrap();
    assert_eq!(s.verifier().to_string(), TINY_PUBLIC);
    let good = signer().private_key_string().to_string();
    let (head, b64) = good.rsplit_once('+').unwrap();
    let mut raw = STANDARD.decode(b64).unwrap();
    let mut alg2 = raw.clone();
    alg2[0] = 2;
    raw.pop();
    let id = format!("{:08x}", signer().key_id());
    for (text, why) in [
        (String::new(), "PRIVATE+KEY+"),
        (good.replacen("PRIVATE", "private", 1), "PRIVATE+KEY+"),
        (
            format!("PRIVATE+KEY+{ORIGIN}+{id}"),
            "a name, a key id and a key",
        ),
        (good.replacen(ORIGIN, "bad name", 1), "name"),
        (good.replacen(&id, "00000000", 1), "does not match"),
        (good.replacen(&id, &id.to_uppercase(), 1), "key id"),
        (format!("{head}+{}", STANDARD.encode(&raw)), "32-byte seed"),
        (format!("{head}+{}", STANDARD.encode(&alg2)), "algorithm"),
        (format!("{head}+%%%%"), "base64"),
        (format!("{head}+"), "empty"),
    ] {
        let err = NoteSigner::parse(&text).unwrap_err();
        assert!(
            matches!(err, Error::BadPrivateKey(_)) && err.to_string().contains(why),
            "{text:?}: {err}"
        );
        // Errors never echo the key material.
        assert!(!err.to_string().contains(b64), "{err}");
    }
    assert!(NoteSigner::from_seed("", &[0; 32]).is_err());
    assert!(NoteSigner::from_seed("a+b", &[0; 32]).is_err());
}

// ---------------------------------------------------------------- notes

#[test]
fn malformed_notes_are_refused() {
    let s = signer();
    let key = s.verifier();
    let text = "hello\n";
    let note = String::from_utf8(doorman_tlog::sign_note(text.as_bytes(), &[&s]).unwrap()).unwrap();
    let sig_line = note.lines().last().unwrap().to_string();
    let sig_b64 = sig_line.rsplit(' ').next().unwrap().to_string();
    assert_eq!(open_note(note.as_bytes(), &key).unwrap(), text.as_bytes());

    let bad_notes: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"hello\n".to_vec(),                                     // no signatures
        format!("hello\n{sig_line}\n").into_bytes(),             // no blank line
        format!("hello\n\n{sig_line}").into_bytes(),             // no final newline
        format!("hello\n\n{sig_line}\n\n").into_bytes(),         // blank line after signatures
        format!("hello\n\n- {ORIGIN} {sig_b64}\n").into_bytes(), // hyphen, not an em dash
        format!("hello\n\n— {ORIGIN}  {sig_b64}\n").into_bytes(),
        format!("hello\n\n— {ORIGIN} !!{sig_b64}\n").into_bytes(),
        format!("hello\n\n— {ORIGIN} AAAA\n").into_bytes(), // shorter than a key id + 1
        format!("hello\n\n— {ORIGIN}\n").into_bytes(),
        format!("hel\tlo\n\n{sig_line}\n").into_bytes(), // control character
        format!("hello\r\n\n{sig_line}\n").into_bytes(),
        [&[0xff][..], note.as_bytes()].concat(), // not UTF-8
        format!("hello\n\n{}", format!("{sig_line}\n").repeat(101)).into_bytes(),
        vec![b'a'; 1_000_001],
    ];
    for bad in bad_notes {
        let err = open_note(&bad, &key).unwrap_err();
        assert!(
            matches!(err, Error::BadNote(_)),
            "{:?}: {err:?}",
            String::from_utf8_lossy(&bad[..bad.len().min(80)])
        );
    }

    // Well-formed, but not signed by the key, or a bad signature under its name and id.
    let other = NoteSigner::from_seed("someone.else", &[4; 32]).unwrap();
    let by_other = doorman_tlog::sign_note(text.as_bytes(), &[&other]).unwrap();
    assert!(matches!(
        open_note(&by_other, &key),
        Err(Error::NotSigned { .. })
    ));
    let mut raw = STANDARD.decode(&sig_b64).unwrap();
    let last = raw.len() - 1;
    raw[last] ^= 1;
    let tampered = format!("hello\n\n— {ORIGIN} {}\n", STANDARD.encode(&raw));
    assert!(matches!(
        open_note(tampered.as_bytes(), &key),
        Err(Error::BadSignature { .. })
    ));
    // A signature of the wrong length under the key's name and id.
    let short = format!("hello\n\n— {ORIGIN} {}\n", STANDARD.encode(&raw[..20]));
    assert!(matches!(
        open_note(short.as_bytes(), &key),
        Err(Error::BadSignature { .. })
    ));
    // The text signed, then changed.
    let changed = note.replacen("hello", "hellO", 1);
    assert!(matches!(
        open_note(changed.as_bytes(), &key),
        Err(Error::BadSignature { .. })
    ));
    // A note whose text is not a checkpoint.
    assert!(matches!(
        Checkpoint::open(note.as_bytes(), ORIGIN, &key),
        Err(Error::BadCheckpoint(_))
    ));
}

// ---------------------------------------------------------------- proof bundles

fn valid_bundle() -> (Vec<u8>, NoteVerifier) {
    let s = signer();
    let mut t = MemoryTree::new();
    for i in 0..20u8 {
        t.append(&[i]).unwrap();
    }
    let cp = Checkpoint::new(ORIGIN, 20, t.root().unwrap()).unwrap();
    let b = TlogProof::new(
        7,
        t.inclusion_proof(7, 20).unwrap(),
        cp.sign(&[&s]).unwrap(),
        Some(b"x".to_vec()),
    )
    .unwrap();
    (b.to_bytes(), s.verifier())
}

#[test]
fn malformed_proof_bundles_are_refused() {
    let (good, key) = valid_bundle();
    let good_text = String::from_utf8(good.clone()).unwrap();
    assert!(
        TlogProof::parse(&good)
            .unwrap()
            .verify_entry(&[7], ORIGIN, &key)
            .is_ok()
    );
    let (head, checkpoint) = good_text.split_once("\n\n").unwrap();
    let lines: Vec<&str> = head.lines().collect();
    let hashes = lines[3..].join("\n");
    let many = vec![EMPTY_ROOT.to_string(); 65].join("\n");
    let cases = vec![
        String::new(),
        "c2sp.org/tlog-proof@v1".to_string(),
        "c2sp.org/tlog-proof@v2\nindex 7\n\n".to_string() + checkpoint,
        format!("C2SP.org/tlog-proof@v1\nindex 7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 7\n{hashes}\n\n"), // no checkpoint
        format!("c2sp.org/tlog-proof@v1\nindex 7\n{hashes}\n"),   // no blank line
        format!("c2sp.org/tlog-proof@v1\n\nindex 7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex -7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 07\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex +7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 7 \n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex  7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 99999999999999999999999999\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nextra \nindex 7\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 7\n{hashes}\n\n{checkpoint}"),
        format!(
            "c2sp.org/tlog-proof@v1\nextra eA==\nextra eA==\nindex 7\n{hashes}\n\n{checkpoint}"
        ),
        format!("c2sp.org/tlog-proof@v1\nindex 7\nextra eA==\n{hashes}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 7\nZG9uJ3QgY2FyZSAy\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 7\n{hashes} \n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\nindex 7\n{many}\n\n{checkpoint}"),
        format!("c2sp.org/tlog-proof@v1\r\nindex 7\r\n\r\n{checkpoint}"),
        format!(
            "c2sp.org/tlog-proof@v1\nindex 7\n{hashes}\n\n{}",
            "a".repeat(MAX_PROOF_BUNDLE_SIZE)
        ),
    ];
    for bad in cases {
        let err = TlogProof::parse(bad.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::BadProofBundle(_) | Error::ProofTooLong(_)),
            "{:?}: {err:?}",
            &bad[..bad.len().min(120)]
        );
    }
    assert!(TlogProof::parse(&[0xff, 0xfe, b'\n']).is_err());
    // Parsed fine, refused on verification: index beyond the tree, bad checkpoint.
    let beyond = good_text.replacen("index 7", "index 20", 1);
    assert!(matches!(
        TlogProof::parse(beyond.as_bytes())
            .unwrap()
            .verify_entry(&[7], ORIGIN, &key),
        Err(Error::IndexOutOfRange {
            index: 20,
            size: 20
        })
    ));
    let huge = good_text.replacen("index 7", "index 18446744073709551615", 1);
    assert!(
        TlogProof::parse(huge.as_bytes())
            .unwrap()
            .verify_entry(&[7], ORIGIN, &key)
            .is_err()
    );
    let garbled = format!("{head}\n\nnot a note\n");
    assert!(matches!(
        TlogProof::parse(garbled.as_bytes())
            .unwrap()
            .verify_entry(&[7], ORIGIN, &key),
        Err(Error::BadNote(_))
    ));
    assert!(TlogProof::new(0, vec![EMPTY_ROOT; 65], b"x".to_vec(), None).is_err());
    assert!(TlogProof::new(0, vec![], b"x".to_vec(), Some(vec![])).is_err());
    assert!(TlogProof::new(0, vec![], vec![], None).is_err());
}

// ---------------------------------------------------------------- never panics

fn mutate(mut data: Vec<u8>, ops: &[(u8, usize, u8)]) -> Vec<u8> {
    for &(op, at, byte) in ops {
        if data.is_empty() {
            data.push(byte);
            continue;
        }
        let at = at % data.len();
        match op % 4 {
            0 => data[at] ^= byte.max(1),
            1 => data.insert(at, byte),
            2 => {
                data.remove(at);
            }
            _ => data.truncate(at),
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_arbitrary_input(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Hash::from_base64(&text);
        let _ = TileCoord::parse(&text);
        let _ = NoteVerifier::parse(&text);
        let _ = NoteSigner::parse(&text);
        let _ = Checkpoint::parse(&bytes);
        let _ = open_note(&bytes, &signer().verifier());
        let _ = TlogProof::parse(&bytes);
        for w in [1u16, 2, 7, 256] {
            let _ = parse_entry_bundle(&TileCoord::entries(0, w).unwrap(), &bytes);
            let _ = parse_hash_tile(&TileCoord::hashes(0, 0, w).unwrap(), &bytes);
        }
    }

    #[test]
    fn tile_paths_never_panic(
        level in "(0|[1-9][0-9]?|entries|x|-1|[0-9]{1,25})",
        groups in proptest::collection::vec("x?[0-9]{1,4}", 0..9),
        width in proptest::option::of("[0-9+-]{1,5}"),
    ) {
        let mut path = format!("tile/{level}/{}", groups.join("/"));
        if let Some(w) = width {
            path.push_str(&format!(".p/{w}"));
        }
        if let Ok(c) = TileCoord::parse(&path) {
            prop_assert_eq!(c.path(), path);
        }
    }

    #[test]
    fn mutated_valid_inputs_never_panic(
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<u8>()), 1..6),
    ) {
        let (bundle, key) = valid_bundle();
        let m = mutate(bundle, &ops);
        if let Ok(p) = TlogProof::parse(&m) {
            let _ = p.verify_entry(&[7], ORIGIN, &key);
        }
        let cp = doorman_tlog::sign_note(b"origin\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", &[&signer()]).unwrap();
        let m = mutate(cp, &ops);
        let _ = Checkpoint::open(&m, "origin", &signer().verifier());
        let m = mutate(TINY_PUBLIC.as_bytes().to_vec(), &ops);
        let _ = NoteVerifier::parse(&String::from_utf8_lossy(&m));
        let m = mutate(TINY_PRIVATE.as_bytes().to_vec(), &ops);
        let _ = NoteSigner::parse(&String::from_utf8_lossy(&m));
        let m = mutate(encode_entry_bundle(&[&b"one"[..], b"two", b"three"]).unwrap(), &ops);
        let _ = parse_entry_bundle(&TileCoord::entries(0, 3).unwrap(), &m);
    }

    #[test]
    fn verifiers_never_panic_on_any_sizes(
        index in any::<u64>(),
        size in any::<u64>(),
        old in any::<u64>(),
        n in 0usize..70,
        seed in any::<u8>(),
    ) {
        let proof = vec![Hash([seed; 32]); n];
        let h = Hash([seed.wrapping_add(1); 32]);
        let _ = verify_inclusion(index, size, &h, &proof, &h);
        let _ = verify_consistency(old, size, &proof, &h, &h);
        let _ = verify_inclusion(index % size.max(1), size, &h, &proof, &h);
        let _ = verify_consistency(old % size.max(1), size, &proof, &h, &h);
        let _ = stored_hash_index((index % 256) as u8, size);
        let _ = stored_hash_count(size);
        let _ = tiles_to_publish(old, size);
        let _ = root_from_tiles(size, |_| None);
        let _ = TileCoord::hashes((index % 256) as u8, size, (old % 300) as u16);
        let _ = TileCoord::entries(size, (old % 300) as u16);
    }
}

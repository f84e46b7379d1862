//! `../shared/testdata/tlog-tiny`: a 15-entry tlog-tiles log written by Tessera. Read it (all
//! 16 checkpoints verify, every root is recomputed from the tiles and from the entries) and
//! write it (the same entries, key and origin give byte-identical tiles, bundles and
//! checkpoints).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};

use doorman_tlog::{
    Checkpoint, EMPTY_ROOT, Error, MemoryTree, NoteSigner, NoteVerifier, TileCoord,
    encode_entry_bundle, entries_match_tile, parse_entry_bundle, parse_hash_tile, root_from_tiles,
    root_of_leaf_hashes, tiles_to_publish,
};

const ORIGIN: &str = "example.com/log/testdata";
const ENTRIES: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf",
    "threeten", "fourten", "fivten",
];

struct Tiny {
    dir: PathBuf,
    public: String,
    private: String,
}

fn tiny() -> Option<Tiny> {
    let dir = doorman_testdata::testdata("tlog-tiny")?;
    let keys = std::fs::read_to_string(dir.join("KEYS")).unwrap();
    let field = |prefix: &str| {
        keys.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .trim()
            .to_string()
    };
    // The KEYS file lists the entries too; make sure they are the ones written below.
    assert!(
        keys.contains(&ENTRIES.join(" ")),
        "KEYS lists other entries"
    );
    Some(Tiny {
        public: field("public:"),
        private: field("private:"),
        dir,
    })
}

fn read(dir: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn checkpoint_file(size: u64) -> String {
    format!("checkpoint.{size}")
}

#[test]
fn keys_parse_and_match() {
    let Some(t) = tiny() else { return };
    // Both key strings hold '+' inside their base64.
    assert!(t.public.splitn(3, '+').nth(2).unwrap().contains('+'));
    assert!(t.private.splitn(5, '+').nth(4).unwrap().contains('+'));
    let verifier = NoteVerifier::parse(&t.public).unwrap();
    let signer = NoteSigner::parse(&t.private).unwrap();
    assert_eq!(verifier.name(), ORIGIN);
    assert_eq!(verifier.key_id(), 0x33d7_b496);
    assert_eq!(signer.verifier(), verifier);
    assert_eq!(verifier.to_string(), t.public);
    assert_eq!(signer.private_key_string().as_str(), t.private);
}

#[test]
fn all_sixteen_checkpoints_verify() {
    let Some(t) = tiny() else { return };
    let key = NoteVerifier::parse(&t.public).unwrap();
    for size in 0..=15u64 {
        let note = read(&t.dir, &checkpoint_file(size));
        let cp = Checkpoint::open(&note, ORIGIN, &key).unwrap();
        assert_eq!(cp.size(), size);
        assert_eq!(cp.origin(), ORIGIN);
        assert!(cp.extensions().is_empty());
    }
    let latest = Checkpoint::open(&read(&t.dir, "checkpoint"), ORIGIN, &key).unwrap();
    assert_eq!(latest.size(), 15);
    assert_eq!(
        Checkpoint::open(&read(&t.dir, "checkpoint"), "example.com/other", &key),
        Err(Error::WrongOrigin {
            got: ORIGIN.to_string(),
            want: "example.com/other".to_string()
        })
    );
}

#[test]
fn every_root_recomputes_from_tiles_and_from_entries() {
    let Some(t) = tiny() else { return };
    let key = NoteVerifier::parse(&t.public).unwrap();
    for size in 0..=15u64 {
        let cp = Checkpoint::open(&read(&t.dir, &checkpoint_file(size)), ORIGIN, &key).unwrap();
        if size == 0 {
            assert_eq!(*cp.root(), EMPTY_ROOT);
            assert_eq!(root_from_tiles(0, |_| None), Ok(EMPTY_ROOT));
            continue;
        }
        let width = u16::try_from(size).unwrap();
        // From the hash tile (the tree's only tile: tile/0/000.p/<size>).
        let mut asked = Vec::new();
        let root = root_from_tiles(size, |c| {
            asked.push(c.path());
            std::fs::read(t.dir.join(c.path())).ok()
        })
        .unwrap();
        assert_eq!(root, *cp.root(), "size {size} from tiles");
        assert_eq!(asked, vec![format!("tile/0/000.p/{size}")]);

        // From the entries of tile/entries/000.p/<size>.
        let bundle_coord = TileCoord::entries(0, width).unwrap();
        let bundle = read(&t.dir, &bundle_coord.path());
        let entries = parse_entry_bundle(&bundle_coord, &bundle).unwrap();
        let expect: Vec<&[u8]> = ENTRIES[..usize::from(width)]
            .iter()
            .map(|e| e.as_bytes())
            .collect();
        assert_eq!(entries, expect);
        let mut tree = MemoryTree::new();
        for e in &entries {
            tree.append(e).unwrap();
        }
        assert_eq!(tree.root().unwrap(), *cp.root(), "size {size} from entries");

        // The bundle's entries hash to the tile's leaf hashes, whose tree hash is the root.
        let tile_coord = TileCoord::hashes(0, 0, width).unwrap();
        let tile = parse_hash_tile(&tile_coord, &read(&t.dir, &tile_coord.path())).unwrap();
        entries_match_tile(&entries, &tile).unwrap();
        assert_eq!(root_of_leaf_hashes(&tile).unwrap(), *cp.root());
    }
}

#[test]
fn writing_the_same_entries_gives_byte_identical_files() {
    let Some(t) = tiny() else { return };
    let signer = NoteSigner::parse(&t.private).unwrap();
    let mut tree = MemoryTree::new();

    let empty = Checkpoint::new(ORIGIN, 0, tree.root().unwrap()).unwrap();
    assert_eq!(
        empty.sign(&[&signer]).unwrap(),
        read(&t.dir, "checkpoint.0")
    );

    for (i, entry) in ENTRIES.iter().enumerate() {
        let old = tree.size();
        assert_eq!(tree.append(entry.as_bytes()).unwrap(), old);
        let size = tree.size();
        assert_eq!(size, i as u64 + 1);

        // What to publish for this append: the new partial tile and its bundle.
        let publish = tiles_to_publish(old, size).unwrap();
        let width = u16::try_from(size).unwrap();
        let tile = TileCoord::hashes(0, 0, width).unwrap();
        let bundle = TileCoord::entries(0, width).unwrap();
        assert_eq!(publish, vec![tile, bundle]);

        assert_eq!(
            tree.hash_tile(&tile, size).unwrap(),
            read(&t.dir, &tile.path()),
            "{}",
            tile.path()
        );
        assert_eq!(
            encode_entry_bundle(&ENTRIES[..=i]).unwrap(),
            read(&t.dir, &bundle.path()),
            "{}",
            bundle.path()
        );
        let cp = Checkpoint::new(ORIGIN, size, tree.root().unwrap()).unwrap();
        assert_eq!(
            cp.sign(&[&signer]).unwrap(),
            read(&t.dir, &checkpoint_file(size)),
            "checkpoint.{size}"
        );
    }
    let cp = Checkpoint::new(ORIGIN, 15, tree.root().unwrap()).unwrap();
    assert_eq!(cp.sign(&[&signer]).unwrap(), read(&t.dir, "checkpoint"));
}

#[test]
fn any_bit_flip_in_a_tile_or_bundle_is_caught() {
    let Some(t) = tiny() else { return };
    let key = NoteVerifier::parse(&t.public).unwrap();
    let cp = Checkpoint::open(&read(&t.dir, "checkpoint"), ORIGIN, &key).unwrap();
    let tile_coord = TileCoord::hashes(0, 0, 15).unwrap();
    let tile = read(&t.dir, &tile_coord.path());
    for bit in 0..tile.len() * 8 {
        let mut bad = tile.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let root = root_from_tiles(15, |_| Some(bad.clone())).unwrap();
        assert_ne!(root, *cp.root(), "bit {bit}");
    }
    let bundle_coord = TileCoord::entries(0, 15).unwrap();
    let bundle = read(&t.dir, &bundle_coord.path());
    let hashes = parse_hash_tile(&tile_coord, &tile).unwrap();
    for bit in 0..bundle.len() * 8 {
        let mut bad = bundle.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        let caught = match parse_entry_bundle(&bundle_coord, &bad) {
            Err(_) => true,
            Ok(entries) => entries_match_tile(&entries, &hashes).is_err(),
        };
        assert!(caught, "bundle bit {bit}");
    }
}

/// One flipped bit in every byte (a different bit position from byte to byte; all bits of
/// every byte would cost ~10 s of debug-build Ed25519 checks, and the property tests flip
/// random bits of random checkpoints).
#[test]
fn a_bit_flip_in_any_byte_of_a_checkpoint_is_refused() {
    let Some(t) = tiny() else { return };
    let key = NoteVerifier::parse(&t.public).unwrap();
    let note = read(&t.dir, "checkpoint");
    assert!(Checkpoint::open(&note, ORIGIN, &key).is_ok());
    for byte in 0..note.len() {
        let mut bad = note.clone();
        bad[byte] ^= 1 << (byte % 8);
        assert!(Checkpoint::open(&bad, ORIGIN, &key).is_err(), "byte {byte}");
    }
}

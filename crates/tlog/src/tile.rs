//! C2SP tlog-tiles: tile coordinates and paths, hash tiles, entry bundles.
//!
//! A hash tile at level `L`, index `N` holds up to 256 consecutive tree hashes at tree level
//! `8 * L`: at level 0 the leaf hashes of entries `N * 256 ..`, above that the roots of full
//! tiles of the level below. A full tile holds 256 hashes (8,192 bytes); the rightmost tile of a
//! level is usually partial, `W` hashes (1 to 255), and served at `.p/<W>`. An entry bundle
//! `tile/entries/<N>` holds the entries whose leaf hashes make up level-0 tile `N`, each as a
//! big-endian uint16 length and the bytes, so an entry is at most 65,535 bytes.
//!
//! Paths (relative to the log's URL prefix):
//!
//! ```text
//! tile/<L>/<N>[.p/<W>]         L: 0..=63, no leading zeros; W: 1..=255, no leading zeros
//! tile/entries/<N>[.p/<W>]     N: 3-digit groups, all but the last prefixed "x": x001/x234/067
//! ```
//!
//! [`TileCoord::parse`] accepts exactly the canonical form and only tiles that can exist in a
//! tree of at most 2^64-1 entries (so levels 8 to 63, allowed by the syntax, are out of range).
//! Functions that read a store or compute roots further require trees of at most
//! [`MAX_TREE_SIZE`](crate::MAX_TREE_SIZE) entries.

use std::fmt;
use std::str::FromStr;

use tlog_tiles::Tile;

use crate::error::{Error, snippet};
use crate::hash::Hash;
use crate::merkle::{HashStore, check_tree_size, leaf_hash, node_hash, reader, store_error};

/// Tile height: each tile spans 8 tree levels (C2SP tlog-tiles fixes this).
pub const TILE_HEIGHT: u8 = 8;

/// Hashes in a full tile, entries in a full bundle.
pub const TILE_WIDTH: u16 = 256;

/// The largest entry an entry bundle can hold: its length is a big-endian uint16.
pub const MAX_ENTRY_SIZE: usize = 65_535;

/// Longest tile path we read: `tile/entries/` and seven 3-digit groups and `.p/255`.
const MAX_PATH_LEN: usize = 64;

/// What a tile holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Tree hashes at tile level `level` (tree level `8 * level`).
    Hashes { level: u8 },
    /// Log entries: the entry bundle matching level-0 hash tile of the same index.
    Entries,
}

/// The coordinates of a hash tile or an entry bundle: kind, index within its level, width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileCoord {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TileCoord {
    /// Hash tile `index` at `level`, holding `width` hashes (256 = full).
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<TileCoord, Error> {
        TileCoord::checked(TileKind::Hashes { level }, index, width)
    }

    /// Entry bundle `index`, holding `width` entries (256 = full).
    pub fn entries(index: u64, width: u16) -> Result<TileCoord, Error> {
        TileCoord::checked(TileKind::Entries, index, width)
    }

    fn checked(kind: TileKind, index: u64, width: u16) -> Result<TileCoord, Error> {
        let coord = TileCoord { kind, index, width };
        if width == 0 || width > TILE_WIDTH {
            return Err(Error::BadTile(format!(
                "width {width} of {} is not 1 to 256",
                coord.path()
            )));
        }
        if coord.span().is_none() {
            return Err(Error::BadTile(format!(
                "{} is out of range: no tree of at most 2^64-1 entries has it",
                coord.path()
            )));
        }
        Ok(coord)
    }

    /// `[start, end)`: the entries the tile's hashes (or the bundle's entries) cover, if that
    /// fits in u64.
    fn span(&self) -> Option<(u64, u64)> {
        let level = match self.kind {
            TileKind::Hashes { level } => u32::from(level),
            TileKind::Entries => 0,
        };
        let per_hash = 256u128.checked_pow(level)?;
        let first = u128::from(self.index).checked_mul(256)?;
        let start = first.checked_mul(per_hash)?;
        let end = first
            .checked_add(u128::from(self.width))?
            .checked_mul(per_hash)?;
        Some((u64::try_from(start).ok()?, u64::try_from(end).ok()?))
    }

    /// What the tile holds.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// Index within its level (`N`).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of hashes or entries (`W`; 256 for a full tile).
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Whether the tile is full (256 wide, no `.p/` suffix).
    pub fn is_full(&self) -> bool {
        self.width == TILE_WIDTH
    }

    /// `[start, end)`: the range of entries this tile's hashes (or bundle's entries) cover. A
    /// tree needs at least `end` entries for the tile to exist.
    pub fn entry_range(&self) -> (u64, u64) {
        // Constructors guarantee the span fits.
        self.span().unwrap_or((0, 0))
    }

    /// The entry bundle that goes with a level-0 hash tile (same index and width).
    pub fn to_entries(&self) -> Option<TileCoord> {
        match self.kind {
            TileKind::Hashes { level: 0 } => Some(TileCoord {
                kind: TileKind::Entries,
                ..*self
            }),
            _ => None,
        }
    }

    /// The tile path, relative to the log's prefix: `tile/0/x001/234.p/7`.
    pub fn path(&self) -> String {
        let mut groups = vec![self.index % 1000];
        let mut rest = self.index / 1000;
        while rest > 0 {
            groups.push(rest % 1000);
            rest /= 1000;
        }
        let mut n = String::new();
        for (i, g) in groups.iter().rev().enumerate() {
            if i + 1 < groups.len() {
                n.push_str(&format!("x{g:03}/"));
            } else {
                n.push_str(&format!("{g:03}"));
            }
        }
        let level = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        if self.is_full() {
            format!("tile/{level}/{n}")
        } else {
            format!("tile/{level}/{n}.p/{}", self.width)
        }
    }

    /// Parses a tile path in exactly the canonical form [`TileCoord::path`] writes.
    pub fn parse(path: &str) -> Result<TileCoord, Error> {
        let bad = |why: &str| Error::BadTilePath {
            path: snippet(path),
            why: why.to_string(),
        };
        if path.len() > MAX_PATH_LEN {
            return Err(bad("longer than any tile path (64 characters)"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with \"tile/\""))?;
        let (first, rest) = rest
            .split_once('/')
            .ok_or_else(|| bad("has no tile index after the level"))?;
        let kind = if first == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(first, 63)
                .ok_or_else(|| bad("level is not a decimal 0 to 63 without leading zeros"))?;
            TileKind::Hashes {
                level: u8::try_from(level).map_err(|_| bad("level out of range"))?,
            }
        };
        let (n_part, width) = match rest.split_once(".p/") {
            Some((n, w)) => {
                let w = parse_decimal(w, 255)
                    .filter(|&w| w >= 1)
                    .ok_or_else(|| bad("partial width is not a decimal 1 to 255"))?;
                (
                    n,
                    u16::try_from(w).map_err(|_| bad("partial width out of range"))?,
                )
            }
            None => (rest, TILE_WIDTH),
        };
        let index = parse_index(n_part).map_err(&bad)?;
        let coord = TileCoord::checked(kind, index, width)
            .map_err(|_| bad("out of range: no tree of at most 2^64-1 entries has this tile"))?;
        if coord.path() != path {
            return Err(bad("not in canonical form"));
        }
        Ok(coord)
    }
}

/// A decimal of ASCII digits, no sign, no leading zeros, at most `max`.
fn parse_decimal(s: &str, max: u64) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse::<u64>().ok().filter(|&v| v <= max)
}

/// `x001/x234/067`: 3-digit groups, all but the last prefixed `x`.
fn parse_index(s: &str) -> Result<u64, &'static str> {
    let groups: Vec<&str> = s.split('/').collect();
    if groups.len() > 7 {
        return Err("index has more 3-digit groups than a 64-bit number");
    }
    let last = groups.len().saturating_sub(1);
    let mut n: u64 = 0;
    for (i, group) in groups.iter().enumerate() {
        let digits = if i < last {
            group
                .strip_prefix('x')
                .ok_or("every index group but the last must start with \"x\"")?
        } else {
            group
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err("index groups must be exactly 3 decimal digits");
        }
        let value = digits
            .parse::<u64>()
            .map_err(|_| "index groups must be exactly 3 decimal digits")?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(value))
            .ok_or("index is above 2^64-1")?;
    }
    Ok(n)
}

impl fmt::Display for TileCoord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

impl FromStr for TileCoord {
    type Err = Error;
    fn from_str(s: &str) -> Result<TileCoord, Error> {
        TileCoord::parse(s)
    }
}

fn hash_level(tile: &TileCoord) -> Result<u8, Error> {
    match tile.kind {
        TileKind::Hashes { level } => Ok(level),
        TileKind::Entries => Err(Error::BadTile(format!(
            "{} is an entry bundle, not a hash tile",
            tile.path()
        ))),
    }
}

/// The bytes of hash tile `tile` of the tree of the first `tree_size` entries, read from
/// `store`. The tile must exist in that tree (its [`TileCoord::entry_range`] ends at or below
/// `tree_size`).
pub fn hash_tile<S: HashStore + ?Sized>(
    store: &S,
    tile: &TileCoord,
    tree_size: u64,
) -> Result<Vec<u8>, Error> {
    let level = hash_level(tile)?;
    check_tree_size(tree_size)?;
    let (_, end) = tile.entry_range();
    if end > tree_size {
        return Err(Error::BadTile(format!(
            "{} needs a tree of at least {end} entries; this one has {tree_size}",
            tile.path()
        )));
    }
    Tile::new(TILE_HEIGHT, level, tile.index, u32::from(tile.width), false)
        .read_data(&reader(store))
        .map_err(store_error)
}

/// The hashes in the bytes of hash tile `tile`, which must be exactly `32 * width` bytes.
pub fn parse_hash_tile(tile: &TileCoord, data: &[u8]) -> Result<Vec<Hash>, Error> {
    hash_level(tile)?;
    let want = usize::from(tile.width) * Hash::SIZE;
    if data.len() != want {
        return Err(Error::BadTile(format!(
            "{} must be {want} bytes ({} hashes); got {} bytes",
            tile.path(),
            tile.width,
            data.len()
        )));
    }
    data.chunks_exact(Hash::SIZE)
        .map(Hash::from_slice)
        .collect()
}

/// Encodes an entry bundle: each entry as a big-endian uint16 length and its bytes. 1 to 256
/// entries, each at most [`MAX_ENTRY_SIZE`] bytes.
pub fn encode_entry_bundle<T: AsRef<[u8]>>(entries: &[T]) -> Result<Vec<u8>, Error> {
    if entries.is_empty() || entries.len() > usize::from(TILE_WIDTH) {
        return Err(Error::BadEntryBundle(format!(
            "a bundle holds 1 to 256 entries; got {}",
            entries.len()
        )));
    }
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| Error::EntryTooLarge(entry.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits the bytes of entry bundle `tile` into its entries; there must be exactly `width`.
pub fn parse_entry_bundle<'a>(tile: &TileCoord, data: &'a [u8]) -> Result<Vec<&'a [u8]>, Error> {
    if tile.kind != TileKind::Entries {
        return Err(Error::BadEntryBundle(format!(
            "{} is a hash tile, not an entry bundle",
            tile.path()
        )));
    }
    let mut entries = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        if entries.len() >= usize::from(tile.width) {
            return Err(Error::BadEntryBundle(format!(
                "{}: {} bytes left after the {} entries it should hold",
                tile.path(),
                rest.len(),
                tile.width
            )));
        }
        let offset = data.len() - rest.len();
        let (len, after) = rest.split_at_checked(2).ok_or_else(|| {
            Error::BadEntryBundle(format!(
                "{}: truncated length prefix at byte {offset}",
                tile.path()
            ))
        })?;
        let len = <[u8; 2]>::try_from(len).map_or(0, |b| usize::from(u16::from_be_bytes(b)));
        let (entry, after) = after.split_at_checked(len).ok_or_else(|| {
            Error::BadEntryBundle(format!(
                "{}: entry {} at byte {offset} claims {len} bytes; only {} remain",
                tile.path(),
                entries.len(),
                after.len()
            ))
        })?;
        entries.push(entry);
        rest = after;
    }
    if entries.len() != usize::from(tile.width) {
        return Err(Error::BadEntryBundle(format!(
            "{} holds {} entries; its width says {}",
            tile.path(),
            entries.len(),
            tile.width
        )));
    }
    Ok(entries)
}

/// Checks that `entries` hash, one for one, to the leaf hashes of a level-0 tile.
pub fn entries_match_tile<T: AsRef<[u8]>>(entries: &[T], tile: &[Hash]) -> Result<(), Error> {
    if entries.len() != tile.len() {
        return Err(Error::BadEntryBundle(format!(
            "{} entries for {} tile hashes",
            entries.len(),
            tile.len()
        )));
    }
    for (i, (entry, want)) in entries.iter().zip(tile).enumerate() {
        if leaf_hash(entry.as_ref()) != *want {
            return Err(Error::BadEntryBundle(format!(
                "entry {i} does not hash to the tile's leaf hash"
            )));
        }
    }
    Ok(())
}

/// Recomputes the root of the tree of `size` entries from its tiles: the rightmost tile of each
/// level (the only ones a root depends on, besides full tiles already summarised one level up).
/// `fetch` returns a tile's bytes, or `None` if it has none. Compare the result with a
/// checkpoint's root to authenticate those tiles.
pub fn root_from_tiles<F>(size: u64, mut fetch: F) -> Result<Hash, Error>
where
    F: FnMut(&TileCoord) -> Option<Vec<u8>>,
{
    check_tree_size(size)?;
    if size == 0 {
        return Ok(crate::merkle::EMPTY_ROOT);
    }
    let mut fetched: Vec<(TileCoord, Vec<u8>)> = Vec::new();
    let mut hashes = Vec::new();
    for index in tlog_tiles::sub_tree_index(0, size, Vec::new()) {
        let tile = Tile::from_index(TILE_HEIGHT, index)
            .parent(0, size)
            .ok_or_else(|| Error::BadTile(format!("no tile holds stored hash {index}")))?;
        let width = u16::try_from(tile.width())
            .map_err(|_| Error::BadTile(format!("tile width {}", tile.width())))?;
        let coord = TileCoord::hashes(tile.level(), tile.level_index(), width)?;
        if !fetched.iter().any(|(c, _)| *c == coord) {
            let data = fetch(&coord).ok_or_else(|| Error::MissingTile(coord.path()))?;
            parse_hash_tile(&coord, &data)?;
            fetched.push((coord, data));
        }
        let data = fetched
            .iter()
            .find(|(c, _)| *c == coord)
            .map(|(_, d)| d.as_slice())
            .unwrap_or_default();
        let hash = tile.hash_at_index(data, index).map_err(store_error)?;
        hashes.push(Hash::from_tlog(hash));
    }
    let mut from_right = hashes.into_iter().rev();
    let mut root = from_right
        .next()
        .ok_or_else(|| Error::BadTile("no subtrees".to_string()))?;
    for left in from_right {
        root = node_hash(&left, &root);
    }
    Ok(root)
}

/// The hash tiles and entry bundles to publish when the tree grows from `old_size` to
/// `new_size` entries: new full tiles and the new partial tile of each level, then the entry
/// bundle of each new level-0 tile.
pub fn tiles_to_publish(old_size: u64, new_size: u64) -> Result<Vec<TileCoord>, Error> {
    if old_size > new_size {
        return Err(Error::ShrinkingTree {
            old: old_size,
            new: new_size,
        });
    }
    check_tree_size(new_size)?;
    let mut hash_tiles = Vec::new();
    for t in Tile::new_tiles(TILE_HEIGHT, old_size, new_size) {
        let width = u16::try_from(t.width())
            .map_err(|_| Error::BadTile(format!("tile width {}", t.width())))?;
        hash_tiles.push(TileCoord::hashes(t.level(), t.level_index(), width)?);
    }
    let bundles: Vec<TileCoord> = hash_tiles
        .iter()
        .filter_map(TileCoord::to_entries)
        .collect();
    hash_tiles.extend(bundles);
    Ok(hash_tiles)
}

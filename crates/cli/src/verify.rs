//! `doorman log verify`: check a tlog-tiles log from the outside, as an auditor does. The
//! check itself ([`check`]) is shared with `doorman monitor`, which also reads the new
//! entries it verifies.
//!
//! 1. Fetch `URL/checkpoint` and open it with the verifier key (strict Ed25519) and the origin
//!    (the key's name unless `--origin` says otherwise).
//! 2. With a remembered checkpoint (`--state`), compare: a smaller tree now is a rollback; the
//!    same size with another root is a fork; the same checkpoint means nothing to fetch.
//! 3. Recompute the root from the right-edge hash tiles (`root_from_tiles`), as a tile client
//!    does, and compare with the checkpoint.
//! 4. **Incremental** (a remembered checkpoint of size `m`, no `--full`): rebuild the tree's
//!    right edge at size `m` — the perfect subtrees covering entries `0..m`, one slice of one
//!    hash tile per subtree, at most a tile per level — from the current tiles, then fetch
//!    only the entry bundles holding entries `m..n` and the hash tiles they change. The new
//!    entries must hash to their level-0 tiles, every tile that became full must have its
//!    root one level up, and the edge at `m` extended with the new leaves must give the signed
//!    root of size `n`; the edge itself must give the remembered root of size `m` (else a
//!    fork: the log signed two trees that do not extend each other). This is a consistency
//!    check from tiles alone — what every C2SP tlog-tiles log serves, no consistency endpoint
//!    needed — and costs the new entries plus a few tiles.
//!
//!    **Full** (no remembered checkpoint, or `--full`): the same from size 0, so every bundle
//!    and tile of the tree is fetched and checked; the remembered root (if any) is compared
//!    with the tree of its size on the way. The leaves are folded into a compact range, so
//!    memory stays small.
//! 5. Write the new checkpoint to `--state` (atomically: a temporary file, then a rename).
//!
//! # The state file
//!
//! `--state FILE` holds exactly one signed checkpoint note of the log, byte for byte as
//! `URL/checkpoint` served it (tlog-checkpoint text — origin, size, root — a blank line and
//! the signature lines). Nothing else: any verified checkpoint note of the log is a valid
//! state file, and `curl URL/checkpoint > FILE` starts one (trusting that first fetch). A
//! missing file means "nothing remembered" and is created. A file that is not a checkpoint
//! of this origin signed by this key is refused (exit 2) and left alone; after a failed check
//! it is left alone too.
//!
//! Exit codes: 0 verified; 1 the log is wrong (bad signature, bad tile or bundle, fork,
//! rollback); 2 the check could not be made (network, HTTP error, bad flags or state file).

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use doorman_tlog::{
    Checkpoint, EMPTY_ROOT, Hash, NoteVerifier, TILE_WIDTH, TileCoord, TileKind,
    entries_match_tile, node_hash, parse_entry_bundle, parse_hash_tile, root_from_tiles,
    root_of_leaf_hashes,
};

/// The largest signed note read (signed-note's own limit).
const MAX_NOTE: u64 = 1_000_000;
/// A full hash tile.
const MAX_TILE: u64 = 256 * 32;
/// A full entry bundle of the largest entries.
const MAX_BUNDLE: u64 = 256 * (2 + 65_535);

/// What `doorman log verify` was asked.
#[derive(Debug)]
pub struct VerifyOptions {
    pub url: String,
    pub key: NoteVerifier,
    pub origin: Option<String>,
    pub state: Option<PathBuf>,
    /// Recompute the whole tree even when a remembered checkpoint allows an incremental check.
    pub full: bool,
}

/// The log is wrong (exit 1 for `log verify`, an ALERT for `monitor`), as opposed to the
/// check failing to run.
#[derive(Debug)]
pub(crate) struct Mismatch(String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

fn mismatch(why: impl Into<String>) -> anyhow::Error {
    anyhow!(Mismatch(why.into()))
}

/// Whether `e` says the log is wrong (rather than that it could not be checked).
pub(crate) fn is_mismatch(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Mismatch>().is_some()
}

/// Runs the check; prints the result.
pub fn run(opts: VerifyOptions) -> Result<ExitCode> {
    let client = Client::new(&opts.url)?;
    let origin = opts
        .origin
        .as_deref()
        .unwrap_or(opts.key.name())
        .to_string();
    let old = match &opts.state {
        Some(path) => read_state(path, &origin, &opts.key)?,
        None => None,
    };
    match check(
        &client,
        &opts.key,
        &origin,
        old.as_ref(),
        opts.full,
        &mut |_, _| {},
    ) {
        Ok(verified) => {
            if let Some(path) = &opts.state {
                write_atomically(path, &verified.note)?;
            }
            let mut report = format!(
                "verified {origin}: tree size {}, root {}; signature, {}",
                verified.checkpoint.size(),
                verified.checkpoint.root(),
                verified.summary()
            );
            match &old {
                Some(old) => report.push_str(&format!(
                    "; consistent with the remembered checkpoint of size {}",
                    old.size()
                )),
                None if opts.state.is_some() => {
                    report.push_str("; no earlier checkpoint remembered");
                }
                None => {}
            }
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if is_mismatch(&e) => {
            eprintln!("log verify FAILED: {e:#}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e),
    }
}

/// An HTTP client for one log prefix.
#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    pub(crate) fn new(url: &str) -> Result<Client> {
        if !url.starts_with("http://") {
            bail!("--url {url:?}: only http:// URLs are supported for now (this build has no TLS)");
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Ok(Client {
            agent,
            base: url.trim_end_matches('/').to_string(),
        })
    }

    /// The log's URL prefix.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// `GET <base>/<rel>`: the body of a 200 response of at most `limit` bytes.
    fn get(&self, rel: &str, limit: u64) -> Result<Vec<u8>> {
        let url = format!("{}/{rel}", self.base);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("fetching {url}"))?;
        let status = resp.status();
        if status != ureq::http::StatusCode::OK {
            let body = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_vec()
                .unwrap_or_default();
            let problem = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    let detail = v.get("detail")?.as_str()?.to_string();
                    let code = v.get("code").and_then(|c| c.as_str()).unwrap_or("-");
                    Some(format!(": {detail} ({code})"))
                })
                .unwrap_or_default();
            bail!("fetching {url}: HTTP {status}{problem}");
        }
        resp.body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .with_context(|| format!("reading {url}"))
    }
}

/// What a successful [`check`] established.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The verified checkpoint.
    pub checkpoint: Checkpoint,
    /// Its signed note, as served (what a state file holds).
    pub note: Vec<u8>,
    /// Hash tiles fetched and checked.
    pub hash_tiles: u64,
    /// Entry bundles fetched and checked.
    pub bundles: u64,
    /// How the tree was checked.
    pub mode: Mode,
}

/// How [`check`] went about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The same checkpoint as remembered: nothing fetched but the checkpoint.
    Unchanged,
    /// From the remembered size onwards.
    Incremental { from: u64 },
    /// Every tile and bundle.
    Full,
}

impl Verified {
    /// "N hash tiles and M entry bundles checked (mode)".
    pub(crate) fn summary(&self) -> String {
        let mode = match self.mode {
            Mode::Unchanged => "unchanged since the remembered checkpoint".to_string(),
            Mode::Incremental { from } => {
                format!("incremental: entries {from}..{}", self.checkpoint.size())
            }
            Mode::Full => "full".to_string(),
        };
        format!(
            "{} hash tiles and {} entry bundles checked ({mode})",
            self.hash_tiles, self.bundles
        )
    }
}

/// Reads a state file: `None` if there is none.
pub(crate) fn read_state(
    path: &Path,
    origin: &str,
    key: &NoteVerifier,
) -> Result<Option<Checkpoint>> {
    let note = match std::fs::read(path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow!("reading the state file {}: {e}", path.display())),
    };
    let cp = Checkpoint::open(&note, origin, key).with_context(|| {
        format!(
            "the state file {} does not hold a checkpoint of {origin} signed by {key} \
             (another log's? remove it to start afresh)",
            path.display()
        )
    })?;
    Ok(Some(cp))
}

/// Replaces `path` with `data`: a temporary file beside it, synced, then renamed over it.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Verifies the log behind `client` against the remembered checkpoint `old` (see the module
/// docs): incrementally from `old`'s size, or over the whole tree if `full` or nothing is
/// remembered. `on_entry(index, bytes)` sees every entry past `old`'s size, in order, as it is
/// read — before the final checks, so a caller must hold back what it does with them until
/// this returns `Ok`. Errors that mean the log is wrong carry a [`Mismatch`].
pub(crate) fn check(
    client: &Client,
    key: &NoteVerifier,
    origin: &str,
    old: Option<&Checkpoint>,
    full: bool,
    on_entry: &mut dyn FnMut(u64, &[u8]),
) -> Result<Verified> {
    // 1. The checkpoint and its signature.
    let note = client.get("checkpoint", MAX_NOTE)?;
    let cp = Checkpoint::open(&note, origin, key).map_err(|e| {
        mismatch(format!(
            "bad signature: {}/checkpoint does not verify as a checkpoint of {origin} signed by {key}: {e}",
            client.base
        ))
    })?;
    let size = cp.size();

    // 2. Against the remembered checkpoint.
    if let Some(old) = old {
        if old.size() > size {
            return Err(mismatch(format!(
                "rollback: the log now serves a tree of {size} entries, but it signed one of {} \
                 entries before (remembered in the state); a log never shrinks",
                old.size()
            )));
        }
        if old.size() == size && old.root() != cp.root() {
            return Err(mismatch(format!(
                "fork: two checkpoints signed by {key} for size {size} with different roots: {} \
                 now, {} remembered in the state",
                cp.root(),
                old.root()
            )));
        }
        if old.size() == size && !full {
            return Ok(Verified {
                checkpoint: cp,
                note,
                hash_tiles: 0,
                bundles: 0,
                mode: Mode::Unchanged,
            });
        }
    }

    // 3. The right-edge tiles give the checkpoint's root.
    let mut tiles = TileCache::new(client, size);
    let mut fetch_error = None;
    let tiles_root = root_from_tiles(size, |tile| match tiles.bytes(tile) {
        Ok(data) => Some(data),
        Err(e) => {
            fetch_error = Some(e);
            None
        }
    });
    if let Some(e) = fetch_error {
        return Err(e);
    }
    let tiles_root = tiles_root.map_err(|e| mismatch(format!("bad tile: {e}")))?;
    if tiles_root != *cp.root() {
        return Err(mismatch(format!(
            "bad tile: the hash tiles give root {tiles_root} for size {size}; the signed \
             checkpoint says {}",
            cp.root()
        )));
    }

    // 4. The entries and tiles from `from` on, with the tree's edge at `from` rebuilt from
    // tiles.
    let (from, mode) = match old {
        Some(old) if !full => (old.size(), Mode::Incremental { from: old.size() }),
        _ => (0, Mode::Full),
    };
    let edge = compact_range_from_tiles(from, &mut tiles)?;
    let report_from = old.map_or(0, Checkpoint::size);
    let old_at = old.map(|o| (o.size(), *o.root()));
    let audited = audit(client, &mut tiles, edge, old_at, report_from, on_entry)?;
    if audited.root != *cp.root() {
        return Err(mismatch(match mode {
            Mode::Incremental { from } => format!(
                "bad entries: the tree's edge at size {from}, read from the hash tiles, and the \
                 entries {from}..{size} served give root {}; the signed checkpoint says {}",
                audited.root,
                cp.root()
            ),
            _ => format!(
                "bad entries: the {size} entries served give root {}; the signed checkpoint says {}",
                audited.root,
                cp.root()
            ),
        }));
    }
    // Only now are the tiles the edge was read from known to be the signed tree's.
    if let (Some(old), Some(root_at_old)) = (old, audited.root_at_old)
        && root_at_old != *old.root()
    {
        return Err(mismatch(format!(
            "fork: in the tree of size {size} the log signed now, the first {} entries have \
             root {root_at_old}; the checkpoint of that size remembered in the state, signed \
             by the same key, says {}: the log rewrote its history",
            old.size(),
            old.root()
        )));
    }

    Ok(Verified {
        checkpoint: cp,
        note,
        hash_tiles: tiles.fetched,
        bundles: audited.bundles,
        mode,
    })
}

/// The hash tiles of the tree of `size` entries, each fetched (and parsed) at most once per
/// check, at the width it has in that tree.
struct TileCache<'a> {
    client: &'a Client,
    size: u64,
    tiles: HashMap<(u8, u64), Vec<Hash>>,
    fetched: u64,
}

impl<'a> TileCache<'a> {
    fn new(client: &'a Client, size: u64) -> TileCache<'a> {
        TileCache {
            client,
            size,
            tiles: HashMap::new(),
            fetched: 0,
        }
    }

    /// The coordinates of hash tile `index` at `level` in the tree of `self.size` entries.
    fn coord(&self, level: u8, index: u64) -> Result<TileCoord> {
        let count = self
            .size
            .checked_shr(8 * u32::from(level))
            .unwrap_or_default();
        let left = count.saturating_sub(index.saturating_mul(u64::from(TILE_WIDTH)));
        if left == 0 {
            bail!(
                "hash tile {index} of level {level} is not in a tree of {} entries",
                self.size
            );
        }
        let width = u16::try_from(left.min(u64::from(TILE_WIDTH)))?;
        Ok(TileCoord::hashes(level, index, width)?)
    }

    /// The hashes of tile `index` at `level`.
    fn hashes(&mut self, level: u8, index: u64) -> Result<Vec<Hash>> {
        if let Some(hashes) = self.tiles.get(&(level, index)) {
            return Ok(hashes.clone());
        }
        let tile = self.coord(level, index)?;
        let data = self.client.get(&tile.path(), MAX_TILE)?;
        self.fetched += 1;
        let hashes =
            parse_hash_tile(&tile, &data).map_err(|e| mismatch(format!("bad tile: {e}")))?;
        self.tiles.insert((level, index), hashes.clone());
        Ok(hashes)
    }

    /// Like [`TileCache::hashes`], but leaves nothing cached: the audit reads each tile once,
    /// and keeping them all would hold the whole tree's hashes in memory.
    fn take(&mut self, level: u8, index: u64) -> Result<Vec<Hash>> {
        match self.tiles.remove(&(level, index)) {
            Some(hashes) => Ok(hashes),
            None => {
                let hashes = self.hashes(level, index)?;
                self.tiles.remove(&(level, index));
                Ok(hashes)
            }
        }
    }

    /// The bytes of `tile`, for `root_from_tiles` (which asks for the widths of this tree).
    fn bytes(&mut self, tile: &TileCoord) -> Result<Vec<u8>> {
        let TileKind::Hashes { level } = tile.kind() else {
            bail!("{tile} is not a hash tile");
        };
        if self.coord(level, tile.index())? != *tile {
            bail!("{tile} is not a tile of the tree of {} entries", self.size);
        }
        let hashes = self.hashes(level, tile.index())?;
        Ok(hashes.iter().flat_map(|h| h.as_bytes().to_vec()).collect())
    }
}

/// The right edge of a tree being built leaf by leaf: its perfect subtrees, largest first,
/// with their heights.
#[derive(Debug, Default, Clone)]
struct CompactRange {
    size: u64,
    subtrees: Vec<(u32, Hash)>,
}

impl CompactRange {
    fn push(&mut self, leaf: Hash) {
        let mut height = 0;
        let mut hash = leaf;
        while let Some(&(h, left)) = self.subtrees.last() {
            if h != height {
                break;
            }
            self.subtrees.pop();
            hash = node_hash(&left, &hash);
            height += 1;
        }
        self.subtrees.push((height, hash));
        self.size += 1;
    }

    /// The RFC 6962 root of the leaves pushed so far.
    fn root(&self) -> Hash {
        let mut from_right = self.subtrees.iter().rev().map(|(_, h)| *h);
        let Some(mut root) = from_right.next() else {
            return EMPTY_ROOT;
        };
        for left in from_right {
            root = node_hash(&left, &root);
        }
        root
    }
}

/// The compact range of the first `size` entries, read from hash tiles: each perfect subtree
/// of height `h` (one per bit of `size`) is the root of `2^(h mod 8)` consecutive hashes of
/// one tile at level `h / 8`.
fn compact_range_from_tiles(size: u64, tiles: &mut TileCache<'_>) -> Result<CompactRange> {
    let mut range = CompactRange {
        size,
        subtrees: Vec::new(),
    };
    let mut start = 0u64;
    for height in (0..64u32).rev() {
        let span = 1u64 << height;
        if size & span == 0 {
            continue;
        }
        let level = u8::try_from(height / 8)?;
        let count = 1usize << (height % 8);
        let position = start >> (8 * u32::from(level));
        let tile = position / u64::from(TILE_WIDTH);
        let offset = usize::try_from(position % u64::from(TILE_WIDTH))?;
        let hashes = tiles.hashes(level, tile)?;
        let slice = hashes.get(offset..offset + count).ok_or_else(|| {
            mismatch(format!(
                "bad tile: hash tile {tile} of level {level} is too short for the subtree of \
                 entries {start}..{}",
                start + span
            ))
        })?;
        range.subtrees.push((height, root_of_leaf_hashes(slice)?));
        start += span;
    }
    Ok(range)
}

/// What [`audit`] found.
struct Audited {
    /// The root of the whole tree.
    root: Hash,
    /// The root of the tree of the remembered size, if one was given.
    root_at_old: Option<Hash>,
    /// Entry bundles read.
    bundles: u64,
}

/// Fetches the entry bundles and hash tiles that hold anything past `edge` (the compact range
/// of the first `edge.size` entries) and checks them against each other: the entries hash to
/// their level-0 tiles, the root of every tile that became full is the matching hash one level
/// up. Returns the root of the whole tree. `old` (size, root): the root of the tree of that
/// size is reported. `on_entry` sees entries `report_from..`.
fn audit(
    client: &Client,
    tiles: &mut TileCache<'_>,
    mut range: CompactRange,
    old: Option<(u64, Hash)>,
    report_from: u64,
    on_entry: &mut dyn FnMut(u64, &[u8]),
) -> Result<Audited> {
    let size = tiles.size;
    let width = u64::from(TILE_WIDTH);
    let from = range.size;
    let mut root_at_old = old
        .filter(|&(old_size, _)| old_size == from)
        .map(|_| range.root());
    let mut bundles = 0u64;

    // Level 0: the bundles and tiles holding entries `from..size`.
    let first_bundle = from / width;
    // The roots of the full tiles of the level below, for positions `first..` of this one.
    let mut above: Vec<Hash> = Vec::new();
    for n in first_bundle..size.div_ceil(width) {
        let tile = tiles.coord(0, n)?;
        let bundle = TileCoord::entries(n, tile.width())?;
        let data = client.get(&bundle.path(), MAX_BUNDLE)?;
        bundles += 1;
        let entries = parse_entry_bundle(&bundle, &data)
            .map_err(|e| mismatch(format!("bad entry bundle: {e}")))?;
        let hashes = tiles.take(0, n)?;
        entries_match_tile(&entries, &hashes)
            .map_err(|e| mismatch(format!("bad tile: {tile} and {bundle} disagree: {e}")))?;
        for (index, (hash, entry)) in (n * width..).zip(hashes.iter().zip(&entries)) {
            if index < from {
                continue;
            }
            range.push(*hash);
            if let Some((old_size, _)) = old
                && range.size == old_size
            {
                root_at_old = Some(range.root());
            }
            if index >= report_from {
                on_entry(index, entry);
            }
        }
        if tile.is_full() {
            above.push(root_of_leaf_hashes(&hashes)?);
        }
    }

    // Higher levels: the hashes that full tiles below added.
    let mut level: u8 = 1;
    let mut first = first_bundle;
    while !above.is_empty() {
        let expected = std::mem::take(&mut above);
        let last = first + u64::try_from(expected.len())? - 1;
        let first_tile = first / width;
        for n in first_tile..=last / width {
            let tile = tiles.coord(level, n)?;
            let hashes = tiles.take(level, n)?;
            for position in first.max(n * width)..=last.min(n * width + width - 1) {
                let got = usize::try_from(position - n * width)
                    .ok()
                    .and_then(|i| hashes.get(i));
                let want = usize::try_from(position - first)
                    .ok()
                    .and_then(|i| expected.get(i));
                if got.is_none() || got != want {
                    return Err(mismatch(format!(
                        "bad tile: {tile} does not hold the roots of the full tiles of level {}",
                        level - 1
                    )));
                }
            }
            if tile.is_full() {
                above.push(root_of_leaf_hashes(&hashes)?);
            }
        }
        first = first_tile;
        level = level
            .checked_add(1)
            .ok_or_else(|| anyhow!("too many tile levels"))?;
    }
    Ok(Audited {
        root: range.root(),
        root_at_old,
        bundles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use doorman_tlog::{MemoryTree, leaf_hash};

    #[test]
    fn compact_range_roots_match_the_tree() {
        let mut tree = MemoryTree::new();
        let mut range = CompactRange::default();
        assert_eq!(range.root(), EMPTY_ROOT);
        for i in 0u64..600 {
            let entry = i.to_be_bytes();
            tree.append(&entry).unwrap();
            range.push(leaf_hash(&entry));
            assert_eq!(range.root(), tree.root().unwrap(), "size {}", i + 1);
        }
    }

    /// The edge read from tiles of a larger tree is the edge built leaf by leaf, for sizes on
    /// and around tile boundaries of two levels.
    #[test]
    fn compact_range_from_tiles_matches_pushing_leaves() {
        let big = 256 * 256 + 300;
        let mut tree = MemoryTree::new();
        for i in 0u64..big {
            tree.append(&i.to_be_bytes()).unwrap();
        }
        let client = Client::new("http://127.0.0.1:9/unused").unwrap();
        let mut cache = TileCache::new(&client, big);
        // Serve the tiles from memory instead of HTTP.
        for level in 0u8..3 {
            let count = big >> (8 * u32::from(level));
            for n in 0..count.div_ceil(256) {
                let coord = cache.coord(level, n).unwrap();
                let data = tree.hash_tile(&coord, big).unwrap();
                cache
                    .tiles
                    .insert((level, n), parse_hash_tile(&coord, &data).unwrap());
            }
        }
        let mut range = CompactRange::default();
        let sizes = [
            0, 1, 2, 3, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, big,
        ];
        for i in 0..=big {
            if sizes.contains(&i) {
                let edge = compact_range_from_tiles(i, &mut cache).unwrap();
                assert_eq!(edge.subtrees, range.subtrees, "size {i}");
                assert_eq!(edge.root(), tree.root_at(i).unwrap(), "size {i}");
            }
            if i < big {
                range.push(leaf_hash(&i.to_be_bytes()));
            }
        }
        assert_eq!(cache.fetched, 0);
    }
}

//! `doorman log verify`: check a tlog-tiles log from the outside, as an auditor does.
//!
//! 1. Fetch `URL/checkpoint` and open it with the verifier key (strict Ed25519) and the origin
//!    (the key's name unless `--origin` says otherwise).
//! 2. With `--state`, compare with the checkpoint remembered there (signed by the same key): a
//!    smaller tree now is a rollback; the same size with another root is a fork.
//! 3. Recompute the root from the right-edge hash tiles (`root_from_tiles`), as a tile client
//!    does, and compare with the checkpoint.
//! 4. Fetch every entry bundle and every hash tile of the tree: the entries must hash to their
//!    level-0 tiles, every full tile's root must be the matching hash one level up, and the
//!    tree of all the entries must have the checkpoint's root. On the way, the tree of the
//!    first `old size` entries must have the remembered root (else a fork: tlog-tiles has no
//!    consistency endpoint, so consistency is checked by recomputing both roots from the same
//!    entries). The leaves are folded into a compact range, so memory stays small; the
//!    download is the whole log.
//! 5. Write the new checkpoint to `--state` (atomically: a temporary file, then a rename).
//!
//! Exit codes: 0 verified; 1 the log is wrong (bad signature, bad tile or bundle, fork,
//! rollback); 2 the check could not be made (network, HTTP error, bad flags or state file).

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use doorman_tlog::{
    Checkpoint, EMPTY_ROOT, Hash, NoteVerifier, TILE_WIDTH, TileCoord, entries_match_tile,
    node_hash, parse_entry_bundle, parse_hash_tile, root_from_tiles, root_of_leaf_hashes,
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
}

/// The log is wrong (exit 1), as opposed to the check failing to run (exit 2).
#[derive(Debug)]
struct Mismatch(String);

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Mismatch {}

fn mismatch(why: impl Into<String>) -> anyhow::Error {
    anyhow!(Mismatch(why.into()))
}

/// Runs the check; prints the result.
pub fn run(opts: VerifyOptions) -> Result<ExitCode> {
    match verify(&opts) {
        Ok(report) => {
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if e.downcast_ref::<Mismatch>().is_some() => {
            eprintln!("log verify FAILED: {e:#}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e),
    }
}

struct Client {
    agent: ureq::Agent,
    base: String,
}

impl Client {
    fn new(url: &str) -> Result<Client> {
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

    fn tile(&self, tile: &TileCoord, limit: u64) -> Result<Vec<u8>> {
        self.get(&tile.path(), limit)
    }
}

/// The right edge of a tree being built leaf by leaf: its perfect subtrees, largest first.
#[derive(Debug, Default)]
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

fn read_state(path: &Path, origin: &str, key: &NoteVerifier) -> Result<Option<Checkpoint>> {
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

fn write_state(path: &Path, note: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(note)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

fn verify(opts: &VerifyOptions) -> Result<String> {
    let client = Client::new(&opts.url)?;
    let key = &opts.key;
    let origin = opts.origin.as_deref().unwrap_or(key.name());
    let old = match &opts.state {
        Some(path) => read_state(path, origin, key)?,
        None => None,
    };

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
    if let Some(old) = &old {
        if old.size() > size {
            return Err(mismatch(format!(
                "rollback: the log now serves a tree of {size} entries, but it signed one of {} \
                 entries before (remembered in the state file); a log never shrinks",
                old.size()
            )));
        }
        if old.size() == size && old.root() != cp.root() {
            return Err(mismatch(format!(
                "fork: two checkpoints signed by {key} for size {size} with different roots: {} \
                 now, {} remembered in the state file",
                cp.root(),
                old.root()
            )));
        }
    }

    // 3. The right-edge tiles give the checkpoint's root.
    let mut fetch_error = None;
    let tiles_root = root_from_tiles(size, |tile| match client.tile(tile, MAX_TILE) {
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

    // 4. Every bundle and tile, and the remembered root on the way.
    let old_at = old.as_ref().map(|o| (o.size(), *o.root()));
    let (root, tiles, bundles) = audit(&client, size, old_at)?;
    if root != *cp.root() {
        return Err(mismatch(format!(
            "bad entries: the {size} entries served give root {root}; the signed checkpoint says {}",
            cp.root()
        )));
    }

    // 5. Remember it.
    if let Some(path) = &opts.state {
        write_state(path, &note)?;
    }
    let mut report = format!(
        "verified {origin}: tree size {size}, root {root}; signature, {tiles} hash tiles and \
         {bundles} entry bundles checked"
    );
    match &old {
        Some(old) => report.push_str(&format!(
            "; consistent with the remembered checkpoint of size {}",
            old.size()
        )),
        None if opts.state.is_some() => report.push_str("; no earlier checkpoint remembered"),
        None => {}
    }
    Ok(report)
}

/// Fetches every entry bundle and hash tile of the tree of `size` entries and checks them
/// against each other; returns the root of the entries and how many tiles and bundles were
/// read. If `old` is given, the tree of its size must have its root.
fn audit(client: &Client, size: u64, old: Option<(u64, Hash)>) -> Result<(Hash, u64, u64)> {
    let width_of = |count: u64, n: u64| -> Result<u16> {
        let left = count.saturating_sub(n.saturating_mul(u64::from(TILE_WIDTH)));
        u16::try_from(left.min(u64::from(TILE_WIDTH))).map_err(|_| anyhow!("tile width"))
    };
    let mut range = CompactRange::default();
    let mut above: Vec<Hash> = Vec::new();
    let mut tiles = 0u64;
    let bundles = size.div_ceil(u64::from(TILE_WIDTH));
    for n in 0..bundles {
        let width = width_of(size, n)?;
        let bundle = TileCoord::entries(n, width)?;
        let tile = TileCoord::hashes(0, n, width)?;
        let data = client.tile(&bundle, MAX_BUNDLE)?;
        let entries = parse_entry_bundle(&bundle, &data)
            .map_err(|e| mismatch(format!("bad entry bundle: {e}")))?;
        let hashes = parse_hash_tile(&tile, &client.tile(&tile, MAX_TILE)?)
            .map_err(|e| mismatch(format!("bad tile: {e}")))?;
        tiles += 1;
        entries_match_tile(&entries, &hashes)
            .map_err(|e| mismatch(format!("bad tile: {tile} and {bundle} disagree: {e}")))?;
        for hash in &hashes {
            range.push(*hash);
            if let Some((old_size, old_root)) = old
                && range.size == old_size
                && range.root() != old_root
            {
                return Err(mismatch(format!(
                    "fork: the first {old_size} entries served now give root {}; the checkpoint \
                     of size {old_size} remembered in the state file, signed by the same key, \
                     says {old_root}",
                    range.root()
                )));
            }
        }
        if width == TILE_WIDTH {
            above.push(root_of_leaf_hashes(&hashes)?);
        }
    }
    let mut level: u8 = 1;
    while !above.is_empty() {
        let expected = std::mem::take(&mut above);
        let count = u64::try_from(expected.len())?;
        for (n, chunk) in (0u64..).zip(expected.chunks(usize::from(TILE_WIDTH))) {
            let tile = TileCoord::hashes(level, n, width_of(count, n)?)?;
            let hashes = parse_hash_tile(&tile, &client.tile(&tile, MAX_TILE)?)
                .map_err(|e| mismatch(format!("bad tile: {e}")))?;
            tiles += 1;
            if hashes != chunk {
                return Err(mismatch(format!(
                    "bad tile: {tile} does not hold the roots of the full tiles of level {}",
                    level - 1
                )));
            }
            if tile.is_full() {
                above.push(root_of_leaf_hashes(&hashes)?);
            }
        }
        level = level
            .checked_add(1)
            .ok_or_else(|| anyhow!("too many tile levels"))?;
    }
    Ok((range.root(), tiles, bundles))
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
}

//! The storage interface every backend implements, and the log logic built on it once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use doorman_tlog::{
    Checkpoint, Hash, HashStore, MAX_ENTRY_SIZE, MAX_TREE_SIZE, NoteSigner, TILE_WIDTH, TileCoord,
    TileKind, encode_entry_bundle, leaf_hash, stored_hash_count, stored_hashes_for_append,
    tree_root,
};

use crate::error::StoreError;

/// The most entries one [`LogStore::append`] takes (the sequencer's group commits stay below
/// it); bounds the length of a write transaction.
pub const MAX_BATCH_ENTRIES: usize = 65_536;

/// The most entries one [`LogStore::integrate`] takes. A larger backlog (say, after a long
/// outage) is integrated in several checkpoints, each in its own short transaction;
/// [`Integrator`](crate::Integrator) runs them back to back.
pub const MAX_INTEGRATE_BATCH: u64 = 65_536;

/// The most entries one [`LogStore::entries`] call returns.
pub const MAX_READ_ENTRIES: u64 = 65_536;

/// Entries read from the store per query while integrating.
const INTEGRATE_CHUNK: u64 = 1024;

/// Tile positions whose full tiles the integrator keeps whole per
/// [`LogStore::keep_full_tiles`] call (one write transaction, short enough not to hold up
/// appends for long: 16,384 entries' worth).
pub const KEEP_TILES_BATCH: u64 = 64;

/// The full level-0 hash tile and the full entry bundle at one tile position, as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullTiles {
    /// The level-0 hash tile (256 hashes, 8,192 bytes).
    pub hashes: Vec<u8>,
    /// The entry bundle of the same 256 entries.
    pub bundle: Vec<u8>,
}

/// A signed checkpoint as stored: the note and what it commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The log's origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The root hash of the first `size` entries.
    pub root: Hash,
    /// The signed note (tlog-checkpoint text and signatures), byte for byte as published.
    pub note: Vec<u8>,
    /// When it was integrated (the `now` passed to [`LogStore::integrate`]), to the millisecond.
    pub published_at: SystemTime,
}

impl StoredCheckpoint {
    /// `published_at` as milliseconds since the Unix epoch (0 before it, saturating).
    pub fn published_at_unix_ms(&self) -> u64 {
        unix_ms(self.published_at)
    }
}

pub(crate) fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn from_unix_ms(ms: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .unwrap_or(UNIX_EPOCH)
}

/// Checks a batch before anything is stored: 1 to [`MAX_BATCH_ENTRIES`] entries, each at most
/// [`MAX_ENTRY_SIZE`] bytes. Backends call it first in [`LogStore::append`].
pub fn check_batch(entries: &[Vec<u8>]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Err(StoreError::EmptyBatch);
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(StoreError::BatchTooLarge(entries.len()));
    }
    if let Some((position, entry)) = entries
        .iter()
        .enumerate()
        .find(|(_, e)| e.len() > MAX_ENTRY_SIZE)
    {
        return Err(StoreError::EntryTooLarge {
            position,
            size: entry.len(),
        });
    }
    Ok(())
}

/// Where a log keeps its entries, its tree's stored hashes and its signed checkpoints.
///
/// Backends (SQLite now; PostgreSQL and object storage later) implement the seven storage
/// primitives; the log logic — integration, tiles, bundles, proofs — is written once in the
/// provided methods, so every backend computes the same bytes. Synchronous and object-safe:
/// the sequencer and the integrator hold an `Arc<dyn LogStore>`.
///
/// Rules every backend keeps:
///
/// - [`append`](LogStore::append) assigns final, contiguous indices and returns only after the
///   entries are durable; a failed append stores nothing.
/// - [`commit_integration`](LogStore::commit_integration) stores the new hashes and the
///   checkpoint in one atomic step, and only if the latest checkpoint is still the one the
///   integration started from. So a checkpoint is never stored without the hashes it commits
///   to, and the tree only grows from stored hashes.
/// - Stored hashes and entries below the latest checkpoint's size never change.
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Appends `entries` (checked with [`check_batch`]) and returns their indices, in order.
    /// Returns only once they are durable.
    fn append(&self, entries: &[Vec<u8>]) -> Result<Vec<u64>, StoreError>;

    /// How many entries have been appended (integrated or not).
    fn sequenced_size(&self) -> Result<u64, StoreError>;

    /// The entries `start..end`, appended but not necessarily integrated. Errors if any is
    /// missing.
    fn sequenced_entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The stored hashes at these stored hash indexes (see `doorman_tlog::stored_hash_index`),
    /// in order. A missing one is an error.
    fn stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// The latest signed checkpoint, if any.
    fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// Stored checkpoints of size `from_size` and up, oldest first, at most `limit`.
    fn checkpoints(
        &self,
        from_size: u64,
        limit: usize,
    ) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// Atomically stores `hashes` at stored hash index `stored_hash_count(old_size)` onwards
    /// and `checkpoint` as the new latest checkpoint — only if the latest checkpoint still has
    /// size `old_size` (0: none yet); otherwise [`StoreError::Conflict`] and nothing is
    /// written.
    fn commit_integration(
        &self,
        old_size: u64,
        hashes: &[Hash],
        checkpoint: &StoredCheckpoint,
    ) -> Result<(), StoreError>;

    /// The full level-0 hash tile or full entry bundle at `tile`, if this backend keeps it whole
    /// (see [`put_full_tiles`](LogStore::put_full_tiles)); `None` otherwise, and for every
    /// other tile (levels 1 and up are computed from stored hashes held in memory). Default:
    /// nothing is kept.
    fn stored_tile(&self, tile: &TileCoord) -> Result<Option<Vec<u8>>, StoreError> {
        let _ = tile;
        Ok(None)
    }

    /// How many tile positions, from 0 on, have their full tiles kept whole; `None` if this
    /// backend does not keep tiles. Default: `None`.
    fn full_tile_floor(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Keeps `tiles` whole as the full tiles of positions `floor..floor + tiles.len()` — only
    /// if [`full_tile_floor`](LogStore::full_tile_floor) is still `floor` (else
    /// [`StoreError::Conflict`] and nothing is written). They are a copy of what the stored
    /// hashes and entries give (a read finds them or computes the same bytes), kept because one
    /// row is far cheaper to read than the 511 hashes or 256 entries behind it. Default: keeps
    /// nothing.
    fn put_full_tiles(&self, floor: u64, tiles: &[FullTiles]) -> Result<(), StoreError> {
        let _ = (floor, tiles);
        Ok(())
    }

    /// Keeps whole the full tiles the latest checkpoint covers that are not kept yet, lowest
    /// position first, at most `limit` positions; returns how many it kept (0 when caught up,
    /// or when the backend keeps no tiles). The integrator calls it after each checkpoint, so
    /// new tiles are kept as they fill and an older log (from before tiles were kept) catches
    /// up a batch at a time.
    fn keep_full_tiles(&self, limit: u64) -> Result<u64, StoreError> {
        let Some(floor) = self.full_tile_floor()? else {
            return Ok(0);
        };
        let size = self.checkpoint_size()?;
        let end = (size / u64::from(TILE_WIDTH)).min(floor.saturating_add(limit));
        if end <= floor {
            return Ok(0);
        }
        let mut tiles = Vec::new();
        for n in floor..end {
            let hashes = doorman_tlog::hash_tile(
                &StoredHashes(self),
                &TileCoord::hashes(0, n, TILE_WIDTH)?,
                size,
            )?;
            let (start, stop) = TileCoord::entries(n, TILE_WIDTH)?.entry_range();
            let bundle = encode_entry_bundle(&self.sequenced_entries(start, stop)?)?;
            tiles.push(FullTiles { hashes, bundle });
        }
        self.put_full_tiles(floor, &tiles)?;
        Ok(end - floor)
    }

    /// Integrates the entries appended since the latest checkpoint (at most
    /// [`MAX_INTEGRATE_BATCH`]): computes their stored hashes from the stored ones, signs a
    /// checkpoint for the new tree with `signer` and commits both at once. Returns the new
    /// checkpoint, or `None` when there is nothing new.
    ///
    /// Before signing, it recomputes the latest checkpoint's root from the stored hashes and
    /// refuses to go on ([`StoreError::Corrupt`]) if they disagree, so it never signs a tree
    /// that does not extend the published one. The origin must not change.
    fn integrate(
        &self,
        signer: &NoteSigner,
        origin: &str,
        now: SystemTime,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let latest = self.latest_checkpoint()?;
        if let Some(cp) = &latest
            && cp.origin != origin
        {
            return Err(StoreError::WrongOrigin {
                stored: cp.origin.clone(),
                given: origin.to_string(),
            });
        }
        let old_size = latest.as_ref().map_or(0, |cp| cp.size);
        let sequenced = self.sequenced_size()?;
        if sequenced <= old_size {
            return Ok(None);
        }
        let new_size = sequenced.min(old_size.saturating_add(MAX_INTEGRATE_BATCH));
        let mut overlay = Overlay {
            store: StoredHashes(self),
            first: stored_hash_count(old_size)?,
            new: Vec::new(),
        };
        if let Some(cp) = &latest {
            let root = tree_root(&overlay, cp.size)?;
            if root != cp.root {
                return Err(StoreError::Corrupt(format!(
                    "the stored hashes give root {root} for size {}; the checkpoint says {}",
                    cp.size, cp.root
                )));
            }
        }
        let mut next = old_size;
        while next < new_size {
            let end = new_size.min(next.saturating_add(INTEGRATE_CHUNK));
            for entry in self.sequenced_entries(next, end)? {
                let hashes = stored_hashes_for_append(&overlay, next, &leaf_hash(&entry))?;
                overlay.new.extend(hashes);
                next = next.saturating_add(1);
            }
        }
        if next != new_size {
            return Err(StoreError::Corrupt(format!(
                "read entries up to {next}; expected {new_size}"
            )));
        }
        let root = tree_root(&overlay, new_size)?;
        let note = Checkpoint::new(origin, new_size, root)?.sign(&[signer])?;
        let checkpoint = StoredCheckpoint {
            origin: origin.to_string(),
            size: new_size,
            root,
            note,
            published_at: from_unix_ms(unix_ms(now)),
        };
        self.commit_integration(old_size, &overlay.new, &checkpoint)?;
        Ok(Some(checkpoint))
    }

    /// The size of the latest checkpoint (0 if none).
    fn checkpoint_size(&self) -> Result<u64, StoreError> {
        Ok(self.latest_checkpoint()?.map_or(0, |cp| cp.size))
    }

    /// What reads check coverage with: a stored checkpoint's size that is at least `needed`,
    /// or, if there is none, the latest checkpoint's size (below `needed`). Checkpoints only
    /// grow and what one covers never changes, so a backend may answer from a size it saw
    /// before (in memory) when that is enough, and read the latest only otherwise. Default:
    /// [`checkpoint_size`](LogStore::checkpoint_size).
    fn covered_size(&self, needed: u64) -> Result<u64, StoreError> {
        let _ = needed;
        self.checkpoint_size()
    }

    /// The entries `start..end` (at most [`MAX_READ_ENTRIES`]), all covered by the latest
    /// checkpoint.
    fn entries(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        if start > end {
            return Err(StoreError::BadRange {
                start,
                end,
                why: "start is after end".to_string(),
            });
        }
        if end - start > MAX_READ_ENTRIES {
            return Err(StoreError::BadRange {
                start,
                end,
                why: format!("at most {MAX_READ_ENTRIES} entries per read"),
            });
        }
        let size = self.covered_size(end)?;
        if end > size {
            return Err(StoreError::NotCovered {
                what: format!("entries {start}..{end}"),
                size,
            });
        }
        if start == end {
            return Ok(Vec::new());
        }
        self.sequenced_entries(start, end)
    }

    /// The bytes of a hash tile (full or partial) of the tree of the latest checkpoint.
    fn hash_tile(&self, tile: &TileCoord) -> Result<Vec<u8>, StoreError> {
        let size = covered(self, tile)?;
        if tile.is_full()
            && tile.kind() == (TileKind::Hashes { level: 0 })
            && let Some(data) = self.stored_tile(tile)?
        {
            return Ok(data);
        }
        Ok(doorman_tlog::hash_tile(&StoredHashes(self), tile, size)?)
    }

    /// The bytes of an entry bundle (full or partial) covered by the latest checkpoint.
    fn entry_bundle(&self, tile: &TileCoord) -> Result<Vec<u8>, StoreError> {
        if tile.kind() != TileKind::Entries {
            return Err(doorman_tlog::Error::BadEntryBundle(format!(
                "{tile} is a hash tile, not an entry bundle"
            ))
            .into());
        }
        covered(self, tile)?;
        if tile.is_full()
            && let Some(data) = self.stored_tile(tile)?
        {
            return Ok(data);
        }
        let (start, end) = tile.entry_range();
        Ok(encode_entry_bundle(&self.sequenced_entries(start, end)?)?)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries, which must be at
    /// most the latest checkpoint's size.
    fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let covered = self.covered_size(size)?;
        if size > covered {
            return Err(StoreError::NotCovered {
                what: format!("tree size {size}"),
                size: covered,
            });
        }
        Ok(doorman_tlog::inclusion_proof(
            &StoredHashes(self),
            size,
            index,
        )?)
    }

    /// The consistency proof from the tree of `old_size` entries (at least 1) to that of
    /// `new_size`, which must be at most the latest checkpoint's size.
    fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        let covered = self.covered_size(new_size)?;
        if new_size > covered {
            return Err(StoreError::NotCovered {
                what: format!("tree size {new_size}"),
                size: covered,
            });
        }
        Ok(doorman_tlog::consistency_proof(
            &StoredHashes(self),
            old_size,
            new_size,
        )?)
    }
}

/// The latest checkpoint's size, if it covers the tile; else [`StoreError::NotCovered`].
fn covered<S: LogStore + ?Sized>(store: &S, tile: &TileCoord) -> Result<u64, StoreError> {
    let (_, end) = tile.entry_range();
    let size = store.covered_size(end)?;
    if end > size {
        return Err(StoreError::NotCovered {
            what: format!("{tile} (entries up to {end})"),
            size,
        });
    }
    Ok(size)
}

/// A [`LogStore`]'s stored hashes as a `doorman_tlog` [`HashStore`].
#[derive(Debug)]
pub struct StoredHashes<'a, S: ?Sized>(pub &'a S);

impl<S: LogStore + ?Sized> HashStore for StoredHashes<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, doorman_tlog::Error> {
        self.0
            .stored_hashes(indexes)
            .map_err(|e| doorman_tlog::Error::Store(e.to_string()))
    }
}

/// The stored hashes plus those computed during an integration, not yet committed: indexes
/// from `first` on are read from `new`.
struct Overlay<'a, S: ?Sized> {
    store: StoredHashes<'a, S>,
    first: u64,
    new: Vec<Hash>,
}

impl<S: LogStore + ?Sized> HashStore for Overlay<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, doorman_tlog::Error> {
        let old: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|&i| i < self.first)
            .collect();
        let mut from_store = self.store.read_hashes(&old)?.into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < self.first {
                    from_store.next()
                } else {
                    usize::try_from(i - self.first)
                        .ok()
                        .and_then(|j| self.new.get(j))
                        .copied()
                }
                .ok_or_else(|| doorman_tlog::Error::Store(format!("no hash at stored index {i}")))
            })
            .collect()
    }
}

/// The largest tree a store accepts entries for.
pub(crate) fn check_log_room(start: u64, count: usize) -> Result<u64, StoreError> {
    let end = u64::try_from(count)
        .ok()
        .and_then(|n| start.checked_add(n))
        .filter(|&end| end <= MAX_TREE_SIZE)
        .ok_or(StoreError::LogFull(MAX_TREE_SIZE))?;
    Ok(end)
}

//! Full hash tiles and full entry bundles in memory. Once a checkpoint covers a full tile its
//! bytes never change, and checkpoints only grow, so a cached copy never goes stale and is
//! still covered: serving it skips the store (and the blocking pool) altogether.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use doorman_tlog::TileCoord;

/// The default memory budget: 64 MiB, about 8,000 full hash tiles.
pub const DEFAULT_TILE_CACHE_BYTES: usize = 64 << 20;

/// A bounded cache in two generations (a cheap approximation of least-recently-used): new
/// tiles go into the young one; when it reaches half the budget it becomes the old one and the
/// previous old one is dropped; a hit in the old one moves the tile back to the young one. So
/// at most `budget` bytes of tiles are held, and a tile asked for again before half the budget
/// of other tiles came in stays. A tile larger than half the budget is not kept.
#[derive(Debug)]
pub(crate) struct TileCache {
    half: usize,
    inner: Mutex<Generations>,
}

#[derive(Debug, Default)]
struct Generations {
    young: HashMap<TileCoord, Bytes>,
    young_bytes: usize,
    old: HashMap<TileCoord, Bytes>,
}

impl Generations {
    fn insert(&mut self, tile: TileCoord, data: Bytes, half: usize) {
        if self.young_bytes.saturating_add(data.len()) > half {
            self.old = std::mem::take(&mut self.young);
            self.young_bytes = 0;
        }
        self.young_bytes = self.young_bytes.saturating_add(data.len());
        if let Some(previous) = self.young.insert(tile, data) {
            self.young_bytes = self.young_bytes.saturating_sub(previous.len());
        }
    }
}

impl TileCache {
    /// A cache holding at most `budget` bytes of tiles (0: none).
    pub(crate) fn new(budget: usize) -> TileCache {
        TileCache {
            half: budget / 2,
            inner: Mutex::new(Generations::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        // Nothing here can panic while holding the lock; and a map is never left half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached bytes of `tile`, if any.
    pub(crate) fn get(&self, tile: &TileCoord) -> Option<Bytes> {
        let mut g = self.lock();
        if let Some(data) = g.young.get(tile) {
            return Some(data.clone());
        }
        let data = g.old.remove(tile)?;
        g.insert(*tile, data.clone(), self.half);
        Some(data)
    }

    /// Keeps the bytes of `tile`, which must be a full tile covered by a checkpoint.
    pub(crate) fn insert(&self, tile: TileCoord, data: Bytes) {
        if data.is_empty() || data.len() > self.half {
            return;
        }
        self.lock().insert(tile, data, self.half);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(n: u64) -> TileCoord {
        TileCoord::hashes(0, n, 256).unwrap()
    }

    #[test]
    fn holds_at_most_its_budget_and_keeps_what_is_asked_for() {
        let cache = TileCache::new(4 * 8192);
        for n in 0..2 {
            cache.insert(tile(n), Bytes::from(vec![n as u8; 8192]));
        }
        assert_eq!(cache.get(&tile(0)).unwrap()[0], 0);
        // Two more fill the young generation; tiles 0 and 1 move to the old one.
        for n in 2..4 {
            cache.insert(tile(n), Bytes::from(vec![n as u8; 8192]));
        }
        assert!(cache.get(&tile(0)).is_some(), "a hit in the old generation");
        // Tile 1 was not asked for again: it is gone.
        for n in 4..8 {
            cache.insert(tile(n), Bytes::from(vec![n as u8; 8192]));
        }
        assert!(cache.get(&tile(1)).is_none());
        let g = cache.lock();
        let held: usize = g.young.values().chain(g.old.values()).map(Bytes::len).sum();
        assert!(held <= 4 * 8192, "{held} bytes held");
    }

    #[test]
    fn a_zero_budget_keeps_nothing() {
        let cache = TileCache::new(0);
        cache.insert(tile(0), Bytes::from(vec![0; 8192]));
        assert!(cache.get(&tile(0)).is_none());
    }
}

//! RFC 6962 / RFC 9162 Merkle tree hashing and proofs, over `tlog_tiles`.
//!
//! A tree's hashes are addressed in the "stored hash index" order of Go's `sumdb/tlog`
//! (Crosby and Wallach, section 3.3): appending leaf `n` writes the leaf hash and the hashes of
//! every subtree it completes, at [`stored_hash_index`]`(0, n)` onwards. A store keeps them in
//! that order and implements [`HashStore`]; [`MemoryTree`] does it in memory. Proofs and roots
//! are computed from the store; verification needs no store.
//!
//! Sizes are checked before `tlog_tiles` sees them: trees hold at most [`MAX_TREE_SIZE`]
//! entries (far beyond any Doorman log; it keeps `tlog_tiles`' index arithmetic away from the
//! sizes where it overflows), proofs hold at most [`MAX_PROOF_HASHES`] hashes.

use crate::error::Error;
use crate::hash::Hash;
use crate::tile::{MAX_ENTRY_SIZE, TileCoord};

/// The largest tree Doorman builds or reads tiles of: 2^48 entries.
pub const MAX_TREE_SIZE: u64 = 1 << 48;

/// The longest inclusion or consistency proof any tree of at most 2^64-1 entries has. Longer
/// proofs are refused before they are looked at (`tlog_tiles` copies the proof once per tree
/// level, so an unbounded proof would cost quadratic time).
pub const MAX_PROOF_HASHES: usize = 64;

/// The root of the empty tree: SHA-256 of the empty string (RFC 6962 section 2.1).
pub const EMPTY_ROOT: Hash = Hash(tlog_tiles::EMPTY_HASH.0);

/// The leaf hash of an entry: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    Hash::from_tlog(tlog_tiles::record_hash(entry))
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash::from_tlog(tlog_tiles::node_hash(left.to_tlog(), right.to_tlog()))
}

/// Where a log keeps the hashes of its tree, by stored hash index (see the module docs).
pub trait HashStore {
    /// The hashes at these stored hash indexes, in the same order, one per index. An index the
    /// store does not hold is an error (return [`Error::Store`]), never a made-up hash.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error>;
}

/// Adapts a [`HashStore`] to `tlog_tiles`, which panics when a reader returns the wrong number
/// of hashes: this adapter turns that into an error first.
struct Reader<'a, S: ?Sized>(&'a S);

impl<S: HashStore + ?Sized> tlog_tiles::HashReader for Reader<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let hashes = self
            .0
            .read_hashes(indexes)
            .map_err(|e| tlog_tiles::Error::InvalidInput(e.to_string()))?;
        if hashes.len() != indexes.len() {
            return Err(tlog_tiles::Error::InvalidInput(format!(
                "hash store returned {} hashes for {} indexes",
                hashes.len(),
                indexes.len()
            )));
        }
        Ok(hashes.into_iter().map(Hash::to_tlog).collect())
    }
}

pub(crate) fn reader<S: HashStore + ?Sized>(store: &S) -> impl tlog_tiles::HashReader + '_ {
    Reader(store)
}

pub(crate) fn store_error(e: tlog_tiles::Error) -> Error {
    match e {
        tlog_tiles::Error::InvalidInput(msg) => Error::Store(msg),
        other => Error::Store(other.to_string()),
    }
}

pub(crate) fn check_tree_size(size: u64) -> Result<(), Error> {
    if size > MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge(size));
    }
    Ok(())
}

/// The stored hash index of the hash at `level` (0 = leaves), position `n` within that level.
/// Errors if that hash would lie beyond a tree of [`MAX_TREE_SIZE`] entries.
pub fn stored_hash_index(level: u8, n: u64) -> Result<u64, Error> {
    let end = u128::from(n)
        .checked_add(1)
        .and_then(|m| m.checked_mul(1u128 << level.min(127)))
        .unwrap_or(u128::MAX);
    if level > 48 || end > u128::from(MAX_TREE_SIZE) {
        return Err(Error::TreeTooLarge(u64::try_from(end).unwrap_or(u64::MAX)));
    }
    Ok(tlog_tiles::stored_hash_index(level, n))
}

/// How many hashes a store holds for a tree of `size` entries.
pub fn stored_hash_count(size: u64) -> Result<u64, Error> {
    check_tree_size(size)?;
    Ok(tlog_tiles::stored_hash_count(size))
}

/// The hashes to store when appending leaf number `index` (the tree's current size) with
/// `leaf`: they go at [`stored_hash_index`]`(0, index)` onwards. Reads up to log2(index)
/// earlier hashes from `store`.
pub fn stored_hashes_for_append<S: HashStore + ?Sized>(
    store: &S,
    index: u64,
    leaf: &Hash,
) -> Result<Vec<Hash>, Error> {
    if index >= MAX_TREE_SIZE {
        return Err(Error::TreeTooLarge(index.saturating_add(1)));
    }
    let hashes = tlog_tiles::stored_hashes_for_record_hash(index, leaf.to_tlog(), &reader(store))
        .map_err(store_error)?;
    Ok(hashes.into_iter().map(Hash::from_tlog).collect())
}

/// The root of the tree's first `size` entries.
pub fn tree_root<S: HashStore + ?Sized>(store: &S, size: u64) -> Result<Hash, Error> {
    check_tree_size(size)?;
    tlog_tiles::tree_hash(size, &reader(store))
        .map(Hash::from_tlog)
        .map_err(store_error)
}

/// The inclusion proof (RFC 6962 audit path, leaf side first) of leaf `index` in the tree of
/// the first `size` entries.
pub fn inclusion_proof<S: HashStore + ?Sized>(
    store: &S,
    size: u64,
    index: u64,
) -> Result<Vec<Hash>, Error> {
    check_tree_size(size)?;
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let proof = tlog_tiles::prove_record(size, index, &reader(store)).map_err(store_error)?;
    Ok(proof.into_iter().map(Hash::from_tlog).collect())
}

/// The consistency proof (RFC 6962 section 2.1.2) from the tree of `old_size` entries to the
/// tree of `new_size`. `old_size` must be at least 1 (see [`verify_consistency`]).
pub fn consistency_proof<S: HashStore + ?Sized>(
    store: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, Error> {
    check_consistency_sizes(old_size, new_size)?;
    check_tree_size(new_size)?;
    let proof = tlog_tiles::prove_tree(new_size, old_size, &reader(store)).map_err(store_error)?;
    Ok(proof.into_iter().map(Hash::from_tlog).collect())
}

fn check_consistency_sizes(old_size: u64, new_size: u64) -> Result<(), Error> {
    if old_size == 0 {
        return Err(Error::ConsistencyFromEmpty);
    }
    if old_size > new_size {
        return Err(Error::ShrinkingTree {
            old: old_size,
            new: new_size,
        });
    }
    Ok(())
}

fn to_tlog_proof(proof: &[Hash]) -> Result<Vec<tlog_tiles::Hash>, Error> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(Error::ProofTooLong(proof.len()));
    }
    Ok(proof.iter().map(|h| h.to_tlog()).collect())
}

/// Verifies that `proof` shows the leaf hash `leaf` at `index` in the tree of `size` entries
/// with root `root`. Any tree size up to 2^64-1 is accepted; `index` must be below `size`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let proof = to_tlog_proof(proof)?;
    tlog_tiles::check_record(&proof, size, root.to_tlog(), index, leaf.to_tlog())
        .map_err(|_| Error::InvalidInclusionProof)
}

/// Verifies that `proof` shows the tree of `old_size` entries with root `old_root` is a prefix
/// of the tree of `new_size` entries with root `new_root`.
///
/// Doorman's rules, stricter than Go's `transparency-dev/merkle` in two places:
///
/// - `old_size` 0 is refused ([`Error::ConsistencyFromEmpty`]): every tree extends the empty
///   tree, so such a proof shows nothing, and a monitor that "checks" from size 0 has no
///   earlier checkpoint to hold the log to. Start from a checkpoint of size at least 1.
/// - Equal sizes need an empty proof and equal roots, and roots are [`Hash`](struct@Hash)es, exactly 32
///   bytes: a root of any other length is refused when it is parsed, before this function is
///   reached. The upstream vector `sizes-are-equal-one-and-proof-is-empty.json` (two equal
///   12-byte roots, expected to succeed because Go returns early on equal sizes and compares
///   the roots as byte strings) therefore fails in Doorman.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), Error> {
    check_consistency_sizes(old_size, new_size)?;
    let proof = to_tlog_proof(proof)?;
    tlog_tiles::check_tree(
        &proof,
        new_size,
        new_root.to_tlog(),
        old_size,
        old_root.to_tlog(),
    )
    .map_err(|_| Error::InvalidConsistencyProof)
}

/// The RFC 6962 tree hash of a list of leaf hashes (for example the hashes of one tile).
pub fn root_of_leaf_hashes(leaves: &[Hash]) -> Result<Hash, Error> {
    let mut tree = MemoryTree::new();
    for leaf in leaves {
        tree.append_leaf_hash(*leaf)?;
    }
    tree.root()
}

/// A whole tree in memory: every stored hash, in stored hash index order. For tests, tools and
/// small logs; a server keeps the same hashes in its store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    hashes: Vec<Hash>,
    size: u64,
}

impl MemoryTree {
    /// The empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends an entry (at most [`MAX_ENTRY_SIZE`] bytes) and returns its index.
    pub fn append(&mut self, entry: &[u8]) -> Result<u64, Error> {
        if entry.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge(entry.len()));
        }
        self.append_leaf_hash(leaf_hash(entry))
    }

    /// Appends a leaf by its leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> Result<u64, Error> {
        let index = self.size;
        let new = stored_hashes_for_append(self, index, &leaf)?;
        self.hashes.extend(new);
        self.size = index.saturating_add(1);
        Ok(index)
    }

    /// The number of entries.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Result<Hash, Error> {
        tree_root(self, self.size)
    }

    /// The root of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.check_size(size)?;
        tree_root(self, size)
    }

    /// The inclusion proof of entry `index` in the tree of the first `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(size)?;
        inclusion_proof(self, size, index)
    }

    /// The consistency proof from the tree of `old_size` entries to that of `new_size`.
    pub fn consistency_proof(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, Error> {
        self.check_size(new_size)?;
        consistency_proof(self, old_size, new_size)
    }

    /// The bytes of a hash tile of the tree of the first `size` entries.
    pub fn hash_tile(&self, tile: &TileCoord, size: u64) -> Result<Vec<u8>, Error> {
        self.check_size(size)?;
        crate::tile::hash_tile(self, tile, size)
    }

    fn check_size(&self, size: u64) -> Result<(), Error> {
        if size > self.size {
            return Err(Error::Store(format!(
                "the tree holds {} entries; size {size} was asked for",
                self.size
            )));
        }
        Ok(())
    }
}

impl HashStore for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i))
                    .copied()
                    .ok_or_else(|| Error::Store(format!("no hash at stored index {i}")))
            })
            .collect()
    }
}

//! Doorman's transparency log core: the pure part of the public log (issue 3, item 1).
//!
//! - RFC 6962 / RFC 9162 hashing ([`leaf_hash`], [`node_hash`], [`EMPTY_ROOT`]), inclusion and
//!   consistency proofs, generated from any [`HashStore`] (stored hashes in the tlog order of
//!   Go's `sumdb/tlog`; [`MemoryTree`] keeps them in memory) and verified with
//!   [`verify_inclusion`] / [`verify_consistency`] (`merkle.rs`).
//! - C2SP **tlog-tiles**: tile coordinates and paths (`tile/<L>/<N>[.p/<W>]`,
//!   `tile/entries/<N>[.p/<W>]`), hash tiles, entry bundles, the root of a tree recomputed from
//!   its tiles (`tile.rs`).
//! - C2SP **signed-note** with Ed25519 under Doorman's strict rule ([`NoteVerifier`],
//!   [`NoteSigner`], `note.rs`) and **tlog-checkpoint** ([`Checkpoint`], `checkpoint.rs`).
//! - The **c2sp.org/tlog-proof@v1** text bundle ([`TlogProof`], `proof.rs`).
//!
//! Pure: no I/O, no clock, no randomness. Every parser returns an [`Error`] and never panics.
//!
//! # Built on `tlog_tiles` and `signed_note`
//!
//! The Merkle tree, tile and note code comes from the crates `tlog_tiles` 0.2 and `signed_note`
//! 0.2 (Cloudflare's azul: ports of Go's `golang.org/x/mod/sumdb/tlog` and `sumdb/note`,
//! BSD-3-Clause, maintained by a production CT log operator). `ct-merkle` was not chosen: it has
//! Merkle proofs but no tiles and no signed notes. This crate is a thin typed layer over them
//! that adds what they lack or get wrong for Doorman:
//!
//! - **Strict Ed25519.** `signed_note::StandardVerifier` uses the lenient
//!   `VerifyingKey::verify`; Doorman's rule is `verify_strict` everywhere (see
//!   `doorman_trust::keys`). [`NoteVerifier`] implements `signed_note::Verifier` with
//!   `verify_strict`, refuses weak (small-order) keys, and parses verifier key strings itself.
//! - **C2SP tile paths.** `tlog_tiles::Tile::path` writes the Go checksum-database form
//!   `tile/<H>/<L>/<N>` (with the height) and its `from_path` panics on some inputs (level above
//!   63, `.p/0`); [`TileCoord`] implements the C2SP form (height fixed at 8, `tile/entries/`).
//! - **No panics on input.** `tlog_tiles` asserts on internal invariants and overflows on very
//!   large indices (`Tile::new_tiles` shifts by 64 once a tree reaches 2^56 entries;
//!   `stored_hash_index` overflows near 2^62). This crate checks every input first: trees hold
//!   at most [`MAX_TREE_SIZE`] entries, proofs at most [`MAX_PROOF_HASHES`] hashes, hash stores
//!   must return as many hashes as asked for.
//! - **Typed values**: [`Hash`](struct@Hash) is exactly 32 bytes (other lengths are refused when parsed),
//!   errors are one `thiserror` enum with messages that say what to fix.

mod checkpoint;
mod error;
mod hash;
mod merkle;
mod note;
mod proof;
mod tile;

pub mod fuzzing;

pub use checkpoint::Checkpoint;
pub use error::Error;
pub use hash::Hash;
pub use merkle::{
    EMPTY_ROOT, HashStore, MAX_PROOF_HASHES, MAX_TREE_SIZE, MemoryTree, consistency_proof,
    inclusion_proof, leaf_hash, node_hash, root_of_leaf_hashes, stored_hash_count,
    stored_hash_index, stored_hashes_for_append, tree_root, verify_consistency, verify_inclusion,
};
pub use note::{NoteSigner, NoteVerifier, open_note, sign_note};
pub use proof::{MAX_PROOF_BUNDLE_SIZE, PROOF_HEADER, TlogProof};
pub use tile::{
    MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, TileCoord, TileKind, encode_entry_bundle,
    entries_match_tile, hash_tile, parse_entry_bundle, parse_hash_tile, root_from_tiles,
    tiles_to_publish,
};

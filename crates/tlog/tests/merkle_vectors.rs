//! The RFC 6962 inclusion and consistency vectors of transparency-dev/merkle
//! (`../shared/testdata/merkle`), run through Doorman's verifiers.
//!
//! Every file must give the result it expects (`wantErr`), with one documented exception:
//! `consistency/additional/sizes-are-equal-one-and-proof-is-empty.json` holds two equal
//! 12-byte "roots" and expects success, because Go's verifier returns early on equal sizes and
//! compares the roots as byte strings. Doorman's roots are SHA-256 hashes, exactly 32 bytes;
//! anything else is malformed input and refused when parsed (`Hash::from_slice`), before any
//! comparison. So Doorman refuses that file, and this test asserts exactly that.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_tlog::{Error, Hash, verify_consistency, verify_inclusion};
use serde::Deserialize;

/// The one file where Doorman deliberately disagrees with the upstream expectation.
const EQUAL_SIZES_12_BYTE_ROOTS: &str =
    "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionCase {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConsistencyCase {
    size1: u64,
    size2: u64,
    root1: String,
    root2: String,
    proof: Option<Vec<String>>,
    desc: String,
    want_err: bool,
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A base64 field as a Doorman hash: not base64 or not 32 bytes is an error.
fn hash(field: &str) -> Result<Hash, Error> {
    let bytes = STANDARD
        .decode(field)
        .map_err(|e| Error::Base64(e.to_string()))?;
    Hash::from_slice(&bytes)
}

fn hashes(fields: &Option<Vec<String>>) -> Result<Vec<Hash>, Error> {
    fields.iter().flatten().map(|f| hash(f)).collect()
}

fn run_inclusion(c: &InclusionCase) -> Result<(), Error> {
    let root = hash(&c.root)?;
    let leaf = hash(&c.leaf_hash)?;
    let proof = hashes(&c.proof)?;
    verify_inclusion(c.leaf_idx, c.tree_size, &leaf, &proof, &root)
}

fn run_consistency(c: &ConsistencyCase) -> Result<(), Error> {
    let root1 = hash(&c.root1)?;
    let root2 = hash(&c.root2)?;
    let proof = hashes(&c.proof)?;
    verify_consistency(c.size1, c.size2, &proof, &root1, &root2)
}

fn relative(base: &Path, path: &Path) -> String {
    path.strip_prefix(base).unwrap().display().to_string()
}

#[test]
fn inclusion_vectors() {
    let Some(base) = doorman_testdata::testdata("merkle") else {
        return;
    };
    let files = json_files(&base.join("inclusion"));
    assert_eq!(files.len(), 98, "inclusion files");
    let (mut ok, mut refused) = (0, 0);
    for file in &files {
        let name = relative(&base, file);
        let case: InclusionCase =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let result = run_inclusion(&case);
        assert_eq!(
            result.is_err(),
            case.want_err,
            "{name} ({}): got {result:?}",
            case.desc
        );
        if result.is_ok() {
            ok += 1
        } else {
            refused += 1
        }
    }
    println!(
        "inclusion: {} files, {ok} verified, {refused} refused",
        files.len()
    );
    assert!(ok >= 6);
}

#[test]
fn consistency_vectors() {
    let Some(base) = doorman_testdata::testdata("merkle") else {
        return;
    };
    let files = json_files(&base.join("consistency"));
    assert_eq!(files.len(), 98, "consistency files");
    let mut saw_exception = false;
    for file in &files {
        let name = relative(&base, file);
        let case: ConsistencyCase =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let result = run_consistency(&case);
        if name == EQUAL_SIZES_12_BYTE_ROOTS {
            // Upstream expects success; Doorman refuses roots that are not 32 bytes.
            assert!(!case.want_err, "the upstream file changed: {name}");
            assert_eq!(result, Err(Error::HashLength(12)), "{name}");
            saw_exception = true;
            continue;
        }
        assert_eq!(
            result.is_err(),
            case.want_err,
            "{name} ({}): got {result:?}",
            case.desc
        );
    }
    assert!(saw_exception, "{EQUAL_SIZES_12_BYTE_ROOTS} not found");
}

/// The same two roots, had they been 32 bytes, are consistent at equal sizes with an empty
/// proof: the refusal above is about the hash length, not the equal-sizes rule.
#[test]
fn equal_sizes_with_equal_32_byte_roots_and_empty_proof_verify() {
    let root = Hash([7; 32]);
    assert_eq!(verify_consistency(1, 1, &[], &root, &root), Ok(()));
    assert_eq!(
        verify_consistency(1, 1, &[], &root, &Hash([8; 32])),
        Err(Error::InvalidConsistencyProof)
    );
    assert_eq!(
        verify_consistency(1, 1, &[root], &root, &root),
        Err(Error::InvalidConsistencyProof)
    );
}

/// Negative vectors fail for the right reason where the inputs are well-formed: each
/// well-formed negative case is refused by verification, not by parsing.
#[test]
fn well_formed_negative_inclusion_cases_fail_in_verification() {
    let Some(base) = doorman_testdata::testdata("merkle") else {
        return;
    };
    for file in json_files(&base.join("inclusion")) {
        let case: InclusionCase =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        if !case.want_err || hash(&case.root).is_err() || hash(&case.leaf_hash).is_err() {
            continue;
        }
        if hashes(&case.proof).is_err() {
            continue;
        }
        let err = run_inclusion(&case).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidInclusionProof | Error::IndexOutOfRange { .. }
            ),
            "{}: {err:?}",
            file.display()
        );
    }
}

//! Wycheproof Ed25519 vectors (C2SP/wycheproof `testvectors_v1/ed25519_test.json`, kept in
//! `../shared/testdata/ed25519/`) under Doorman's one verification rule: the key must pass
//! `PublicKey::from_bytes` (a curve point, not small order) and the signature must pass
//! `PublicKey::verify` (ed25519-dalek `verify_strict`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::fmt;
use std::path::PathBuf;

use doorman_trust::{KeyError, PublicKey};
use serde::Deserialize;

/// Vectors where the rule and Wycheproof disagree, by tcId, each with a one-line reason.
/// Empty today: no valid vector uses a weak key and strict verification refuses every
/// invalid one. The test fails on any unlisted disagreement and on a listed id that agrees.
const EXPECTED_EXCEPTIONS: &[(u32, &str)] = &[];

/// The parts of the eddsa_verify_schema_v1 file the test reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VectorFile {
    number_of_tests: usize,
    test_groups: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TestGroup {
    public_key: GroupKey,
    tests: Vec<Vector>,
}

#[derive(Deserialize)]
struct GroupKey {
    /// The raw 32-byte key, hex.
    pk: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vector {
    tc_id: u32,
    comment: String,
    msg: String,
    sig: String,
    /// "valid", "invalid" or "acceptable".
    result: String,
    flags: Vec<String>,
}

/// What Doorman's rule does with one vector.
enum Verdict {
    Accepted,
    KeyRefused(KeyError),
    SignatureRefused,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accepted => f.write_str("accepted"),
            Verdict::KeyRefused(e) => write!(f, "key refused ({e})"),
            Verdict::SignatureRefused => f.write_str("signature refused"),
        }
    }
}

/// The vector file, or `None` (after a note) when it is missing outside CI; a failure on CI.
fn vector_file() -> Option<PathBuf> {
    doorman_testdata::testdata("ed25519").map(|d| d.join("wycheproof_ed25519_test.json"))
}

fn judge(pk: &[u8], msg: &[u8], sig: &[u8]) -> Verdict {
    match PublicKey::from_bytes(pk) {
        Err(e) => Verdict::KeyRefused(e),
        Ok(key) => match key.verify(msg, sig) {
            Ok(()) => Verdict::Accepted,
            Err(_) => Verdict::SignatureRefused,
        },
    }
}

#[test]
fn strict_rule_agrees_with_wycheproof() {
    let Some(path) = vector_file() else { return };
    let text = std::fs::read(&path).expect("read vector file");
    let file: VectorFile = serde_json::from_slice(&text).expect("parse vector file");

    let mut valid_accepted = 0;
    let mut invalid_refused = 0;
    let mut invalid_refused_at_key = 0;
    let mut acceptable = Vec::new();
    let mut exceptions = Vec::new();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for group in &file.test_groups {
        let pk = hex::decode(&group.public_key.pk).expect("key hex");
        for v in &group.tests {
            seen.push(v.tc_id);
            let msg = hex::decode(&v.msg).expect("msg hex");
            let sig = hex::decode(&v.sig).expect("sig hex");
            let verdict = judge(&pk, &msg, &sig);
            let agrees = match (v.result.as_str(), &verdict) {
                ("valid", Verdict::Accepted) => {
                    valid_accepted += 1;
                    true
                }
                ("invalid", Verdict::KeyRefused(_)) => {
                    invalid_refused += 1;
                    invalid_refused_at_key += 1;
                    true
                }
                ("invalid", Verdict::SignatureRefused) => {
                    invalid_refused += 1;
                    true
                }
                ("valid" | "invalid", _) => false,
                // Either answer is allowed; record which one the rule gives.
                ("acceptable", _) => {
                    acceptable.push(format!("tcId {}: {verdict}", v.tc_id));
                    true
                }
                (other, _) => panic!("tcId {}: unknown result {other:?}", v.tc_id),
            };
            let listed = EXPECTED_EXCEPTIONS.iter().find(|(id, _)| *id == v.tc_id);
            let describe = || {
                format!(
                    "tcId {} ({}; {:?}): Wycheproof says {}, the rule: {verdict}",
                    v.tc_id, v.comment, v.flags, v.result
                )
            };
            match (agrees, listed) {
                (true, None) => {}
                (false, Some((_, reason))) => exceptions.push(format!("{}: {reason}", describe())),
                (true, Some(_)) => problems.push(format!(
                    "tcId {} agrees now; remove it from EXPECTED_EXCEPTIONS",
                    v.tc_id
                )),
                (false, None) => problems.push(describe()),
            }
        }
    }
    // A truncated or reshaped file must not pass quietly with fewer vectors.
    assert_eq!(seen.len(), file.number_of_tests, "vector count");
    for (id, _) in EXPECTED_EXCEPTIONS {
        if !seen.contains(id) {
            problems.push(format!(
                "tcId {id}: in EXPECTED_EXCEPTIONS but not in the file"
            ));
        }
    }

    println!(
        "wycheproof ed25519: {valid_accepted} valid accepted, {invalid_refused} invalid refused \
         ({invalid_refused_at_key} at the key), {} acceptable, {} exceptions",
        acceptable.len(),
        exceptions.len()
    );
    for a in &acceptable {
        println!("  acceptable {a}");
    }
    for e in &exceptions {
        println!("  exception {e}");
    }
    assert!(
        problems.is_empty(),
        "Wycheproof disagreements under the strict rule:\n  {}",
        problems.join("\n  ")
    );
}

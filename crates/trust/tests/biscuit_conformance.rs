//! Biscuit conformance samples (eclipse-biscuit/biscuit `samples/current`, kept in
//! `../shared/testdata/biscuit-samples/`).
//!
//! The first test runs every sample through the biscuit-auth crate Doorman links, the way
//! biscuit-auth's own generator (`examples/testcases.rs`) validates them: parse under the root
//! key, compare revocation ids, run the authorizer code, compare the result as JSON. The second
//! feeds every sample token to Doorman's own parser, which adds its size, algorithm and
//! root-key-id rules in front of biscuit-auth.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use biscuit_auth::builder::Term;
use biscuit_auth::datalog::{ExternFunc, RunLimits};
use biscuit_auth::{Algorithm, AuthorizerBuilder, Biscuit};
use doorman_core::DenyReason;
use doorman_trust::TokenError;
use serde::Deserialize;
use serde_json::{Value, json};

/// Sample validations biscuit-auth 6.0.0 does not pass, by case id (see [`case_id`]), each
/// with a one-line reason. Empty today: every validation passes. The test fails if an unlisted
/// validation fails or a listed one passes, so the list stays exact.
const EXPECTED_EXCEPTIONS: &[(&str, &str)] = &[];

/// samples.json, as biscuit-auth's generator writes it.
#[derive(Deserialize)]
struct Samples {
    root_public_key: String,
    testcases: Vec<TestCase>,
}

#[derive(Deserialize)]
struct TestCase {
    filename: String,
    /// Keyed by validation name; the name is empty when a case has one validation.
    validations: BTreeMap<String, Validation>,
}

#[derive(Deserialize)]
struct Validation {
    authorizer_code: String,
    /// `{"Ok": policy index}` or `{"Err": <serialized biscuit_auth::error::Token>}`.
    result: Value,
    revocation_ids: Vec<String>,
}

/// The sample folder, or `None` (after a note) when it is missing outside CI; a failure on CI.
fn samples_dir() -> Option<PathBuf> {
    doorman_testdata::testdata("biscuit-samples")
}

fn load_samples(dir: &Path) -> Samples {
    let text = std::fs::read(dir.join("samples.json")).expect("read samples.json");
    serde_json::from_slice(&text).expect("parse samples.json")
}

fn read_token(dir: &Path, filename: &str) -> Vec<u8> {
    std::fs::read(dir.join(filename)).unwrap_or_else(|e| panic!("read {filename}: {e}"))
}

/// `file.bc` for a case's only validation, `file.bc [name]` for named ones.
fn case_id(filename: &str, validation: &str) -> String {
    if validation.is_empty() {
        filename.to_owned()
    } else {
        format!("{filename} [{validation}]")
    }
}

/// The external functions the generator registers for test035_ffi, and only for it (any other
/// token calling an external function must fail as it did when the samples were made).
fn extern_funcs_for(filename: &str) -> HashMap<String, ExternFunc> {
    if filename != "test035_ffi.bc" {
        return HashMap::new();
    }
    let test = ExternFunc::new(Arc::new(|left, right| match (left, right) {
        (t, None) => Ok(t),
        (Term::Str(left), Some(Term::Str(right))) if left == right => {
            Ok(Term::Str("equal strings".to_owned()))
        }
        (Term::Str(_), Some(Term::Str(_))) => Ok(Term::Str("different strings".to_owned())),
        _ => Err("unsupported operands".to_owned()),
    }));
    HashMap::from([("test".to_owned(), test)])
}

/// The result as the generator serializes it: `{"Ok": n}` or `{"Err": error}`.
fn result_json(result: Result<usize, biscuit_auth::error::Token>) -> Value {
    match result {
        Ok(n) => json!({ "Ok": n }),
        Err(e) => json!({ "Err": serde_json::to_value(&e).expect("serialize biscuit error") }),
    }
}

/// Runs one validation; `Err` says how the crate disagrees with the sample.
fn validate(
    root: &biscuit_auth::PublicKey,
    filename: &str,
    bytes: &[u8],
    expected: &Validation,
) -> Result<(), String> {
    let outcome = run(root, filename, bytes, expected)?;
    if outcome != expected.result {
        return Err(format!("result {outcome}, expected {}", expected.result));
    }
    Ok(())
}

/// What biscuit-auth makes of one validation, as result JSON; `Err` for an early mismatch.
fn run(
    root: &biscuit_auth::PublicKey,
    filename: &str,
    bytes: &[u8],
    expected: &Validation,
) -> Result<Value, String> {
    let token = match Biscuit::from(bytes, root) {
        Ok(token) => token,
        Err(e) => return Ok(result_json(Err(e))),
    };

    let ids: Vec<String> = token
        .revocation_identifiers()
        .iter()
        .map(hex::encode)
        .collect();
    if ids != expected.revocation_ids {
        return Err(format!(
            "revocation ids {ids:?}, expected {:?}",
            expected.revocation_ids
        ));
    }

    // The generator's default 1 ms time limit is too tight for debug builds; facts and
    // iterations keep their defaults, and no sample comes near 10 s.
    let limits = RunLimits {
        max_time: Duration::from_secs(10),
        ..Default::default()
    };
    let builder = AuthorizerBuilder::new()
        .set_limits(limits)
        .set_extern_funcs(extern_funcs_for(filename))
        .code(&expected.authorizer_code)
        .map_err(|e| format!("authorizer code does not parse: {e}"))?;
    let mut authorizer = match builder.build(&token) {
        Ok(authorizer) => authorizer,
        Err(e) => return Ok(result_json(Err(e))),
    };
    Ok(result_json(authorizer.authorize()))
}

#[test]
fn biscuit_auth_passes_the_conformance_samples() {
    let Some(dir) = samples_dir() else { return };
    let samples = load_samples(&dir);
    let root =
        biscuit_auth::PublicKey::from_bytes_hex(&samples.root_public_key, Algorithm::Ed25519)
            .expect("root public key");

    let mut passed = 0;
    let mut seen = Vec::new();
    let mut exceptions = Vec::new();
    let mut problems = Vec::new();
    for case in &samples.testcases {
        let bytes = read_token(&dir, &case.filename);
        for (name, expected) in &case.validations {
            let id = case_id(&case.filename, name);
            let listed = EXPECTED_EXCEPTIONS.iter().find(|(e, _)| *e == id);
            match (validate(&root, &case.filename, &bytes, expected), listed) {
                (Ok(()), None) => passed += 1,
                (Err(why), Some((_, reason))) => exceptions.push(format!("{id}: {reason} ({why})")),
                (Ok(()), Some(_)) => problems.push(format!(
                    "{id}: passes now; remove it from EXPECTED_EXCEPTIONS"
                )),
                (Err(why), None) => problems.push(format!("{id}: {why}")),
            }
            seen.push(id);
        }
    }
    // A listed id that matches no sample would hide nothing and mean nothing.
    for (id, _) in EXPECTED_EXCEPTIONS {
        if !seen.iter().any(|s| s == id) {
            problems.push(format!(
                "{id}: in EXPECTED_EXCEPTIONS but not in samples.json"
            ));
        }
    }

    println!(
        "biscuit conformance: {passed} of {} validations pass, {} expected exceptions",
        seen.len(),
        exceptions.len()
    );
    for e in &exceptions {
        println!("  exception {e}");
    }
    assert!(
        problems.is_empty(),
        "biscuit conformance disagreements:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn doorman_parse_refuses_or_accepts_every_sample_cleanly() {
    let Some(dir) = samples_dir() else { return };
    let samples = load_samples(&dir);
    let root_bytes = hex::decode(&samples.root_public_key).expect("root key hex");
    let root = doorman_trust::PublicKey::from_bytes(&root_bytes).expect("root key");
    let biscuit_root = root.to_biscuit();

    let mut accepted = 0;
    let mut refused = 0;
    let mut problems = Vec::new();
    for case in &samples.testcases {
        let name = &case.filename;
        let bytes = read_token(&dir, name);
        let Ok(result) = catch_unwind(AssertUnwindSafe(|| {
            doorman_trust::token::parse(&bytes, &root)
        })) else {
            problems.push(format!("{name}: doorman_trust::token::parse panicked"));
            continue;
        };

        // Doorman has one signature rule, Ed25519; biscuit-auth would accept these.
        if name.contains("secp256r1") {
            match result {
                Err(TokenError::UnsupportedAlgorithm(_)) => refused += 1,
                other => problems.push(format!(
                    "{name}: expected UnsupportedAlgorithm, got {other:?}"
                )),
            }
            continue;
        }

        // For Ed25519 tokens without a root key id, Doorman's extra rules change nothing:
        // it must accept exactly the samples biscuit-auth accepts.
        let crate_accepts = Biscuit::from(&bytes[..], biscuit_root).is_ok();
        match result {
            Ok(_) if crate_accepts => accepted += 1,
            Ok(_) => problems.push(format!("{name}: Doorman accepts, biscuit-auth refuses")),
            Err(e) => {
                if !DenyReason::ALL.contains(&e.reason()) {
                    problems.push(format!("{name}: {e} maps to no known DenyReason"));
                }
                if crate_accepts {
                    problems.push(format!(
                        "{name}: Doorman refuses ({e}), biscuit-auth accepts"
                    ));
                }
                println!("  {name}: refused as {}: {e}", e.reason().code());
                refused += 1;
            }
        }
    }

    println!("doorman parse over biscuit samples: {accepted} accepted, {refused} refused");
    assert!(
        problems.is_empty(),
        "doorman parse disagreements:\n  {}",
        problems.join("\n  ")
    );
}

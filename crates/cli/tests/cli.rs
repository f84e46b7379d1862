//! The `doorman` CLI end to end, as a carrier's engineer or a self-custody owner runs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn doorman(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorman"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = doorman(dir, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

struct Chain {
    dir: tempfile::TempDir,
    property: String,
    device: String,
}

fn chain() -> Chain {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let property = ok(d, &["key", "generate", "--out", "property.key"]);
    let carrier = ok(d, &["key", "generate", "--out", "carrier.key"]);
    let driver = ok(d, &["key", "generate", "--out", "driver.key"]);
    let device = ok(d, &["key", "generate", "--out", "device.key"]);
    assert_eq!(ok(d, &["key", "show", "driver.key"]), driver);
    ok(
        d,
        &[
            "consent",
            "sign",
            "--property-key",
            "property.key",
            "--property",
            "prop-1",
            "--door",
            "street",
            "--device-pub",
            &device,
            "--installer",
            "inst-1",
            "--not-before",
            "2026-11-01T00:00:00Z",
            "--not-after",
            "2027-11-01T00:00:00Z",
            "--out",
            "consent.tok",
        ],
    );
    ok(
        d,
        &[
            "authorization",
            "sign",
            "--property-key",
            "property.key",
            "--property",
            "prop-1",
            "--carrier",
            "acme",
            "--carrier-pub",
            &carrier,
            "--door",
            "street",
            "--door",
            "garage",
            "--schedule",
            "Mon-Fri 08:00-20:00; Sat 09:00-13:00",
            "--tz",
            "Europe/Paris",
            "--daily-cap",
            "20",
            "--max-pass-duration",
            "2h",
            "--not-before",
            "2026-11-01T00:00:00Z",
            "--not-after",
            "2027-02-01T00:00:00Z",
            "--out",
            "auth.tok",
        ],
    );
    ok(
        d,
        &[
            "pass",
            "mint",
            "--authorization",
            "auth.tok",
            "--carrier-key",
            "carrier.key",
            "--door",
            "street",
            "--unit",
            "4B",
            "--delivery",
            "ACME-1",
            "--driver-pub",
            &driver,
            "--not-before",
            "2026-11-25T08:30:00Z",
            "--not-after",
            "2026-11-25T10:30:00Z",
            "--out",
            "pass.tok",
        ],
    );
    Chain {
        dir,
        property,
        device,
    }
}

fn check(c: &Chain, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "door",
        "check",
        "--property-pub",
        &c.property,
        "--device-pub",
        &c.device,
        "--consent",
        "consent.tok",
        "--pass",
        "pass.tok",
    ];
    args.extend_from_slice(extra);
    let out = doorman(c.dir.path(), &args);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn the_whole_chain_allows_at_the_right_door_and_time_and_denies_the_rest() {
    let c = chain();
    let at = "2026-11-25T09:00:00Z";
    let (code, out) = check(
        &c,
        &["--door", "street", "--at", at, "--driver-key", "driver.key"],
    );
    assert_eq!((code, out.starts_with("allow")), (0, true), "{out}");
    for (extra, reason) in [
        (
            vec!["--door", "street", "--at", at],
            "no_proof_of_possession",
        ),
        (
            vec!["--door", "garage", "--at", at, "--driver-key", "driver.key"],
            "not_consented",
        ),
        (
            vec![
                "--door",
                "street",
                "--at",
                "2026-11-25T11:00:00Z",
                "--driver-key",
                "driver.key",
            ],
            "expired",
        ),
        (
            vec![
                "--door",
                "street",
                "--at",
                "2026-11-25T07:00:00Z",
                "--driver-key",
                "driver.key",
            ],
            "not_yet_valid",
        ),
        (
            vec![
                "--door",
                "street",
                "--at",
                at,
                "--driver-key",
                "driver.key",
                "--revocations-as-of",
                "2026-11-20T00:00:00Z",
            ],
            "revocations_stale",
        ),
    ] {
        let (code, out) = check(&c, &extra);
        assert_eq!(code, 1, "{extra:?}: {out}");
        assert!(
            out.contains(reason),
            "{extra:?}: wanted {reason}, got {out}"
        );
    }
    // Revoking the authorization by the id `token inspect --json` prints.
    let json = ok(
        c.dir.path(),
        &[
            "token",
            "inspect",
            "auth.tok",
            "--json",
            "--property-pub",
            &c.property,
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kind"], "carrier_authorization");
    assert_eq!(v["signatures_verified"], true);
    let id = v["blocks"][0]["revocation_id"].as_str().unwrap();
    std::fs::write(
        c.dir.path().join("revoked.txt"),
        format!("# revoked today\n{id}\n"),
    )
    .unwrap();
    let (code, out) = check(
        &c,
        &[
            "--door",
            "street",
            "--at",
            at,
            "--driver-key",
            "driver.key",
            "--revoked",
            "revoked.txt",
            "--json",
        ],
    );
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["reason"], "revoked");
    // The pass inspects as a pass.
    let json = ok(c.dir.path(), &["token", "inspect", "pass.tok", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["role"], "pass");
    assert!(v["size_bytes"].as_u64().unwrap() < 1024);
}

#[test]
fn keys_are_private_and_never_overwritten() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["key", "generate", "--out", "k.key"]);
    let mode = std::fs::metadata(d.join("k.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let out = doorman(d, &["key", "generate", "--out", "k.key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to overwrite"));
    std::fs::set_permissions(d.join("k.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = doorman(d, &["key", "show", "k.key"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let c = chain();
    let d = c.dir.path();
    std::fs::write(d.join("junk.tok"), "!!!not base64").unwrap();
    for (args, needle) in [
        (vec!["door", "check"], "required"),
        (vec!["token", "inspect", "junk.tok"], "base64url"),
        (vec!["token", "inspect", "missing.tok"], "missing.tok"),
        (
            vec![
                "authorization",
                "sign",
                "--property-key",
                "property.key",
                "--property",
                "p",
                "--carrier",
                "c",
                "--carrier-pub",
                "ed25519/zz",
                "--door",
                "d",
                "--schedule",
                "Mon 08:00-09:00",
                "--tz",
                "UTC",
                "--not-after",
                "2027-01-01T00:00:00Z",
            ],
            "hex",
        ),
        (
            vec![
                "authorization",
                "sign",
                "--property-key",
                "property.key",
                "--property",
                "p",
                "--carrier",
                "c",
                "--carrier-pub",
                &c.property,
                "--door",
                "d",
                "--schedule",
                "Mun 08:00-09:00",
                "--tz",
                "UTC",
                "--not-after",
                "2027-01-01T00:00:00Z",
            ],
            "unknown day",
        ),
        (
            vec![
                "authorization",
                "sign",
                "--property-key",
                "property.key",
                "--property",
                "p",
                "--carrier",
                "c",
                "--carrier-pub",
                &c.property,
                "--door",
                "d",
                "--schedule",
                "Mon 08:00-09:00",
                "--tz",
                "Mars/Olympus",
                "--not-after",
                "2027-01-01T00:00:00Z",
            ],
            "unknown time zone",
        ),
        (
            vec![
                "pass",
                "mint",
                "--authorization",
                "auth.tok",
                "--carrier-key",
                "carrier.key",
                "--door",
                "roof",
                "--unit",
                "4B",
                "--delivery",
                "X-1",
                "--driver-pub",
                &c.device,
                "--not-before",
                "2026-11-25T08:30:00Z",
                "--not-after",
                "2026-11-25T10:30:00Z",
            ],
            "not in the authorization",
        ),
        (
            vec![
                "pass",
                "mint",
                "--authorization",
                "auth.tok",
                "--carrier-key",
                "carrier.key",
                "--door",
                "street",
                "--unit",
                "4B",
                "--delivery",
                "X-1",
                "--driver-pub",
                &c.device,
                "--not-before",
                "2026-11-25T08:30:00Z",
                "--not-after",
                "2026-11-25T12:30:00Z",
            ],
            "at most",
        ),
    ] {
        let out = doorman(d, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: wanted {needle:?} in {err}");
    }
}

#[test]
fn the_example_configuration_is_accepted_and_unknown_keys_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../doorman.example.toml");
    // `serve` with the example but an unusable listen address fails on listening, after the
    // configuration was read: the file itself is accepted.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args([
            "serve",
            "--config",
            example,
            "--listen",
            "256.0.0.1:1",
            "--data-dir",
        ])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("listening on 256.0.0.1:1"), "{stderr}");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listen = \"127.0.0.1:0\"\nlisten_adress = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["serve", "--config"])
        .arg(&bad)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown field `listen_adress`"), "{stderr}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("e"))
        .env("DOORMAN_LISTN", "127.0.0.1:0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown environment variable DOORMAN_LISTN"),
        "{stderr}"
    );
}

//! `doorman demo --exit` plays the whole day and exits 0 only if every attempt came out as
//! expected and every decision reached the access log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

#[test]
fn the_demo_day_comes_out_as_expected() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("13 of 13 attempts as expected"), "{stdout}");
    for reason in [
        "deny: replayed",
        "deny: wrong_door",
        "deny: expired",
        "deny: no_proof_of_possession",
        "deny: outside_schedule",
        "deny: revoked",
        "refused: not_approved",
        "deny: service_disabled",
    ] {
        assert!(stdout.contains(reason), "{reason} missing:\n{stdout}");
    }
    // A second run on the same data dir is refused (the demo builds from scratch).
    let again = Command::new(env!("CARGO_BIN_EXE_doorman"))
        .args(["demo", "--exit", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a Doorman"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

//! `doorman-agent` as an installer and a script use it: first start, enrolment, activation
//! with a real logged consent, refusals with their codes, and nothing kept from a refused bundle.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use doorman_device::fixture::{World, good_for};
use doorman_trust::{PublicKey, SecretKey};

fn agent(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

const AT: &str = "2026-12-01T10:00:00Z";

#[test]
fn first_start_enrols_and_a_logged_consent_activates() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let log_key = World::new().log_key().to_string();
    let init = agent(&state, &["init", "--log-key", &log_key]);
    assert!(init.status.success(), "{}", stderr(&init));
    let text = stdout(&init);
    assert!(text.contains("device id:  dev_"), "{text}");
    assert!(text.contains("device key: ed25519/"), "{text}");
    // The QR code of the same data, drawn in half blocks below it: square, dozens of lines.
    let qr: Vec<&str> = text
        .lines()
        .filter(|l| l.contains('\u{2588}') || l.contains('\u{2580}') || l.contains('\u{2584}'))
        .collect();
    assert!(qr.len() >= 15, "no QR code under the enrolment:\n{text}");
    let width = qr[0].chars().count();
    assert!(qr.iter().all(|l| l.chars().count() == width), "{text}");
    assert!(
        (width / 2).abs_diff(qr.len()) <= 2,
        "not square: {width} x {}",
        qr.len()
    );
    let mode = std::fs::metadata(state.join("device.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // A second first start never replaces the key.
    let again = agent(&state, &["init", "--log-key", &log_key]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("[already_initialised]"),
        "{}",
        stderr(&again)
    );
    // `show` prints the same enrolment; its short code is eight digits.
    let shown = json(&agent(&state, &["--json", "show"]));
    let key: PublicKey = shown["device_key"].as_str().unwrap().parse().unwrap();
    let code = shown["short_code"].as_str().unwrap();
    assert!(
        code.len() == 9 && code.chars().filter(char::is_ascii_digit).count() == 8,
        "{code}"
    );
    assert!(text.contains(code));

    let status = agent(&state, &["status", "--at", AT]);
    assert!(status.status.success());
    assert!(stdout(&status).contains("inactive"), "{}", stdout(&status));

    // The consent for this device, logged, with its proof.
    let (_, bundle) = good_for(key);
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, bundle.to_bytes()).unwrap();
    let on = agent(
        &state,
        &["--json", "activate", file.to_str().unwrap(), "--at", AT],
    );
    assert!(on.status.success(), "{}", stderr(&on));
    let a = json(&on);
    assert_eq!(a["active"], true);
    assert_eq!(a["door"], "street");
    assert_eq!(a["property"], "prop_1");
    assert_eq!(a["pulse_ms"], 2500);
    let kept = std::fs::read(state.join("activation.json")).unwrap();
    assert_eq!(kept, bundle.to_bytes());

    // Another device's bundle is refused, and the kept activation stays.
    let (_, foreign) = good_for(SecretKey::from_seed(&[77; 32]).public());
    std::fs::write(&file, foreign.to_bytes()).unwrap();
    let off = agent(
        &state,
        &["--json", "activate", file.to_str().unwrap(), "--at", AT],
    );
    assert!(!off.status.success());
    assert_eq!(json(&off)["error"], "not_this_device");
    assert_eq!(std::fs::read(state.join("activation.json")).unwrap(), kept);
    let still = agent(&state, &["--json", "status", "--at", AT]);
    assert_eq!(json(&still)["active"], true);
    // From stdin, garbage: a clear code.
    let mut child = Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
        .arg("--state-dir")
        .arg(&state)
        .args(["activate", "-", "--at", AT])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(b"not json").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("[malformed_bundle]"),
        "{}",
        stderr(&out)
    );

    // Once the consent has expired, the agent says so.
    let late = agent(&state, &["status", "--at", "2028-01-01T00:00:00Z"]);
    assert!(!late.status.success());
    assert!(
        stderr(&late).contains("[consent_not_valid_now]"),
        "{}",
        stderr(&late)
    );
}

#[test]
fn bad_setup_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let out = agent(&state, &["init", "--log-key", "example.com+1234+AAAA"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("[bad_log_key]"), "{}", stderr(&out));
    assert!(!state.join("device.key").exists(), "nothing written");
    let out = agent(&state, &["show"]);
    assert!(
        stderr(&out).contains("[not_initialised]"),
        "{}",
        stderr(&out)
    );
    let log_key = World::new().log_key().to_string();
    let out = agent(
        &state,
        &["init", "--log-key", &log_key, "--device-id", "bad id!"],
    );
    assert!(stderr(&out).contains("[bad_device_id]"), "{}", stderr(&out));
    assert!(!state.join("device.key").exists(), "nothing written");
    // A key file others can read is refused.
    assert!(
        agent(&state, &["init", "--log-key", &log_key])
            .status
            .success()
    );
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(
            state.join("device.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
    }
    let out = agent(&state, &["show"]);
    assert!(stderr(&out).contains("[damaged_state]"), "{}", stderr(&out));
}

/// A state dir activated for the trust fixture's door (decisions as of `f.now`).
fn activated(dir: &Path, f: &doorman_trust::fixture::Fixture) -> std::path::PathBuf {
    let at = f.now.to_string();
    let state = dir.join("state");
    let log_key = World::new().log_key().to_string();
    assert!(
        agent(&state, &["init", "--log-key", &log_key])
            .status
            .success()
    );
    let shown = json(&agent(&state, &["--json", "show"]));
    let key: PublicKey = shown
        .get("device_key")
        .and_then(|k| k.as_str())
        .unwrap()
        .parse()
        .unwrap();
    let mut w = World::new();
    w.property_key = f.property_key.clone();
    w.property = doorman_core::PropertyId::new(f.property.as_str()).unwrap();
    w.device_key = key;
    w.issued_at = f.now - jiff::SignedDuration::from_hours(1);
    let (_, bundle) = doorman_device::fixture::good_in(w);
    let file = dir.join("bundle.json");
    std::fs::write(&file, bundle.to_bytes()).unwrap();
    let on = agent(&state, &["activate", file.to_str().unwrap(), "--at", &at]);
    assert!(on.status.success(), "{}", stderr(&on));
    state
}

/// A relay back end that can't be set up stops `run` at once with what to fix (the door is
/// never served without its relay), and so does a mix of options for different back ends.
/// (The GPIO pulse itself needs a GPIO chip, which this machine lacks: see docs/agent.md.)
#[test]
fn a_relay_that_cannot_be_set_up_stops_run_with_what_to_fix() {
    let f = doorman_trust::fixture::Fixture::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let state = activated(dir.path(), &f);
    let chip = dir.path().join("gpiochip7");
    let at = f.now.to_string();
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--relay",
                "gpio",
                "--gpio-line",
                "17",
                "--gpio-chip",
                chip.to_str().unwrap(),
            ],
            "gpioinfo",
        ),
        (&["--relay", "gpio"], "--gpio-line"),
        (
            &[
                "--relay",
                "gpio",
                "--gpio-line",
                "3",
                "--gpio-active",
                "medium",
            ],
            "high, low",
        ),
        (
            &[
                "--relay",
                "command",
                "--relay-command",
                "/bin/true",
                "--gpio-line",
                "3",
            ],
            "--relay-command",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["run", "--offline", "--fixed-time", &at];
        all.extend_from_slice(args);
        let out = agent(&state, &all);
        assert!(!out.status.success(), "{args:?} served");
        let err = stderr(&out);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!state.join("door.sock").exists(), "{args:?} listened");
    }
}

/// `doorman-agent run` serves the door on its socket; `present` is the driver's handset: a
/// real pass and the driver's key open it once; a replay and a copied pass stay shut; every
/// decision is in `log`, with its exact reason, while the presenter only learns allow or deny.
#[test]
fn run_and_present_open_the_door_once() {
    use doorman_trust::fixture::Fixture;
    let f = Fixture::new().unwrap();
    let at = f.now.to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = activated(dir.path(), &f);

    let pass = dir.path().join("pass.txt");
    std::fs::write(&pass, &f.pass).unwrap();
    let driver = dir.path().join("driver.key");
    doorman_files::write_new_private_file(&driver, f.driver_key.to_pem().unwrap().as_bytes())
        .unwrap();
    let thief = dir.path().join("thief.key");
    doorman_files::write_new_private_file(
        &thief,
        SecretKey::from_seed(&[66; 32]).to_pem().unwrap().as_bytes(),
    )
    .unwrap();

    let mut run = Command::new(env!("CARGO_BIN_EXE_doorman-agent"))
        .arg("--state-dir")
        .arg(&state)
        .args(["run", "--fixed-time", &at])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let socket = state.join("door.sock");
    for _ in 0..200 {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let present = |key: &Path| {
        agent(
            &state,
            &[
                "present",
                "--pass",
                pass.to_str().unwrap(),
                "--driver-key",
                key.to_str().unwrap(),
                "--fixed-time",
                &at,
            ],
        )
    };
    let first = present(&driver);
    assert!(
        first.status.success(),
        "{} {}",
        stdout(&first),
        stderr(&first)
    );
    assert_eq!(stdout(&first).trim(), "allow");
    assert_eq!(
        std::fs::read_to_string(state.join("relay-sim.log")).unwrap(),
        "pulse 2500\n"
    );
    let second = present(&driver);
    assert!(!second.status.success());
    assert_eq!(stdout(&second).trim(), "deny");
    let copied = present(&thief);
    assert_eq!(stdout(&copied).trim(), "deny");
    // Unreadable input on the socket: an error line, nothing else disturbed.
    {
        use std::io::{BufRead as _, Write as _};
        let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        s.write_all(b"hello\n").unwrap();
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).unwrap();
        assert!(line.contains("\"bad_request\""), "{line}");
    }
    let log = agent(&state, &["--json", "log"]);
    let lines: Vec<serde_json::Value> = stdout(&log)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: Vec<_> = lines.iter().map(|l| l["reason"].clone()).collect();
    assert_eq!(
        reasons,
        [
            serde_json::Value::Null,
            "replayed".into(),
            "no_proof_of_possession".into()
        ]
    );
    assert_eq!(lines[0]["unit"], "4B");
    assert_eq!(
        std::fs::read_to_string(state.join("relay-sim.log")).unwrap(),
        "pulse 2500\n",
        "opened once"
    );
    run.kill().unwrap();
    run.wait().unwrap();
}

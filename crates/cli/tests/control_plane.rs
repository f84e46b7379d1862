//! The control plane with the `doorman` CLI only, against a real `doorman serve` child on
//! loopback: the operator's setup, a property claimed and verified, doors and units, an
//! installer's request with a photo approved by the owner, a carrier with a custodial key
//! authorized and minting a pass by API, the owner's switch off and on, and the public log
//! verified from outside. Each person has their own credentials file (DOORMAN_CREDENTIALS).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Server, failed, succeeded, text};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery staple";

/// A small JPEG: the SOI and APP0 (JFIF) markers, then EOI.
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

/// One person at the terminal: their own credentials file, in `dir`.
struct Person {
    dir: PathBuf,
    credentials: PathBuf,
}

impl Person {
    fn new(dir: &Path, name: &str) -> Person {
        Person {
            dir: dir.to_path_buf(),
            credentials: dir.join(format!("{name}.credentials.json")),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_doorman"));
        c.current_dir(&self.dir)
            .args(args)
            .env("DOORMAN_CREDENTIALS", &self.credentials)
            .env_remove("DOORMAN_URL")
            .env_remove("DOORMAN_TOKEN");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs and returns stdout, trimmed; fails the test on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        succeeded(&out).trim().to_string()
    }

    /// Runs with `--json` and parses stdout.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let stdout = self.ok(&all);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout}"))
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
}

#[test]
fn the_control_plane_by_cli_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let mut server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        "cli.doorman.example/log",
        "--checkpoint-interval",
        "100ms",
    ]);
    let log_url = server.url.clone();
    let url = log_url.strip_suffix("/log").unwrap().to_string();
    let code_line = server.wait_for("--code dmsetup_");
    let code = code_line
        .split_whitespace()
        .find(|w| w.starts_with("dmsetup_"))
        .unwrap()
        .to_string();
    let key_line = server.wait_for("doorman serve: log ");
    let log_key = key_line.split_once(", key ").unwrap().1.trim().to_string();

    let password_file = d.join("password.txt");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&password_file)
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let pw = password_file.to_str().unwrap();

    // The operator, with the code `doorman serve` printed.
    let operator = Person::new(d, "operator");
    let setup = operator.json(&[
        "setup",
        "--url",
        &url,
        "--code",
        &code,
        "--email",
        "operator@doorman.example",
        "--name",
        "Olga Operator",
        "--org",
        "Doorman Operations",
        "--password-file",
        pw,
    ]);
    assert_eq!(setup["me"]["memberships"][0]["role"], "operator");
    assert!(
        setup.get("token").is_none(),
        "the session token goes to the file only"
    );
    let mode = std::fs::metadata(&operator.credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the credentials file is private");
    let stored: Value =
        serde_json::from_slice(&std::fs::read(&operator.credentials).unwrap()).unwrap();
    assert_eq!(stored["url"], url.as_str());
    assert!(str_of(&stored, "token").starts_with("dms_"));
    assert!(operator.ok(&["whoami"]).contains("Olga Operator"));

    // The property's owner signs up and claims the building; the operator verifies it.
    let owner = Person::new(d, "owner");
    owner.json(&[
        "signup",
        "--url",
        &url,
        "--kind",
        "property",
        "--org",
        "Westchester Co-op",
        "--email",
        "owner@coop.example",
        "--name",
        "Owen Owner",
        "--password-file",
        pw,
    ]);
    let claimed = owner.json(&[
        "property",
        "claim",
        "--name",
        "The Main Street building",
        "--address",
        "12 Main Street, Springfield",
        "--tz",
        "Europe/Paris",
    ]);
    assert_eq!(claimed["status"], "claimed");
    let prop = str_of(&claimed, "id").to_string();
    let property_pub = str_of(&claimed, "public_key").to_string();
    let queue = operator.ok(&["property", "list", "--status", "claimed", "-q"]);
    assert_eq!(queue, prop);
    let verified = operator.json(&[
        "property",
        "verify",
        &prop,
        "--note",
        "deed and management contract checked",
    ]);
    assert_eq!(verified["status"], "verified");

    owner.ok(&[
        "door",
        "add",
        "--property",
        &prop,
        "--id",
        "street",
        "--name",
        "Street door",
    ]);
    owner.ok(&[
        "door",
        "add",
        "--property",
        &prop,
        "--id",
        "garage",
        "--name",
        "Garage door",
    ]);
    owner.ok(&[
        "unit",
        "add",
        "--property",
        &prop,
        "--id",
        "4B",
        "--id",
        "5A",
    ]);
    assert_eq!(
        owner.ok(&["door", "list", "--property", &prop, "-q"]),
        "garage\nstreet"
    );
    let table = owner.ok(&["unit", "list", "--property", &prop]);
    assert!(table.starts_with("ID "), "a table with a header: {table}");

    // An installer and a carrier sign up; the carrier lets the server hold its key.
    let installer = Person::new(d, "installer");
    installer.json(&[
        "signup",
        "--url",
        &url,
        "--kind",
        "installer",
        "--org",
        "Fixit Installers",
        "--email",
        "admin@fixit.example",
        "--name",
        "Ines Installer",
        "--password-file",
        pw,
    ]);
    let carrier = Person::new(d, "carrier");
    let signed_up = carrier.json(&[
        "signup",
        "--url",
        &url,
        "--kind",
        "carrier",
        "--org",
        "Acme Parcel",
        "--email",
        "admin@acme.example",
        "--name",
        "Carla Carrier",
        "--password-file",
        pw,
    ]);
    let carrier_org = str_of(&signed_up["me"]["memberships"][0], "org").to_string();
    let keyed = carrier.json(&["carrier", "key", "--custodial"]);
    assert_eq!(keyed["carrier_key_custodial"], true);

    // The installer files a request with a photo of the work.
    let device_pub = installer.ok(&["key", "generate", "--out", "device.key"]);
    std::fs::write(d.join("door.jpg"), JPEG).unwrap();
    let filed = installer.json(&[
        "installation",
        "request",
        "--property",
        &prop,
        "--door",
        "street",
        "--device-id",
        "dev-street-1",
        "--device-key",
        &device_pub,
        "--notes",
        "Relay wired to the panel's door-release terminals",
        "--photo",
        "door.jpg",
    ]);
    assert_eq!(filed["status"], "requested");
    assert_eq!(filed["evidence"][0]["content_type"], "image/jpeg");
    let req = str_of(&filed, "id").to_string();

    // The owner sees it, looks at the photo, and approves: the consent is signed.
    let waiting = owner.ok(&[
        "installation",
        "list",
        "--property",
        &prop,
        "--status",
        "requested",
        "-q",
    ]);
    assert_eq!(waiting, req);
    owner.ok(&[
        "installation",
        "evidence",
        "get",
        &req,
        "1",
        "--out",
        "got.jpg",
    ]);
    assert_eq!(std::fs::read(d.join("got.jpg")).unwrap(), JPEG);
    let approved = owner.json(&["installation", "approve", &req]);
    assert_eq!(approved["status"], "approved");
    assert!(approved["consent"]["token"].is_string());

    // The owner authorizes the carrier, picked from the directory.
    assert_eq!(owner.ok(&["carrier", "list", "-q"]), carrier_org);
    let auth = owner.json(&[
        "carrier",
        "authorize",
        "--property",
        &prop,
        "--carrier",
        &carrier_org,
        "--door",
        "street",
        "--door",
        "garage",
        "--schedule",
        "Mon-Fri 08:00-20:00; Sat 09:00-13:00",
        "--not-after",
        "+90d",
        "--daily-cap",
        "20",
    ]);
    assert_eq!(auth["status"], "active");
    let auth_id = str_of(&auth, "id").to_string();

    // The carrier registers a driver, mints a pass by API and fetches its authorization.
    let driver_pub = carrier.ok(&["key", "generate", "--out", "driver.key"]);
    let driver = carrier.ok(&[
        "carrier",
        "driver",
        "add",
        "--name",
        "Sam Driver",
        "--public-key",
        &driver_pub,
        "-q",
    ]);
    assert!(driver.starts_with("drv_"), "{driver}");
    assert_eq!(
        carrier.ok(&["carrier", "authorizations", "--active", "-q"]),
        auth_id
    );
    let pass_args = [
        "carrier",
        "pass",
        &auth_id,
        "--door",
        "street",
        "--unit",
        "4B",
        "--delivery",
        "ACME-000123",
        "--driver",
        &driver,
        "--not-after",
        "+1h",
        "--out",
        "pass.tok",
    ];
    let pass = carrier.json(&pass_args);
    assert_eq!(pass["driver"], driver.as_str());
    // Presented at the door through the server: the pass file is read and sent; with no
    // device installed there, the server says so (the device's decision is in the testkit's
    // scenarios and the browser tests).
    let out = carrier.run(&[
        "door",
        "unlock",
        "--property",
        &prop,
        "--door",
        "street",
        "--pass",
        "pass.tok",
        "--driver-key",
        "driver.key",
    ]);
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("presenting the pass") && !said.contains("base64url"),
        "{said}"
    );
    carrier.ok(&[
        "carrier",
        "show",
        &auth_id,
        "--token-out",
        "authorization.tok",
    ]);
    // Both verify offline under the property's key.
    for token in ["pass.tok", "authorization.tok"] {
        let inspected = carrier.ok(&["token", "inspect", token, "--property-pub", &property_pub]);
        assert!(
            inspected.contains("verified under the given property key"),
            "{inspected}"
        );
    }
    assert_eq!(
        carrier.ok(&["carrier", "passes", &auth_id, "-q"]),
        str_of(&pass, "id")
    );

    // The owner switches service off: no pass is minted; on again: passes are.
    let off = owner.json(&["service", "off", "--property", &prop]);
    assert_eq!(off["property_disabled"], true);
    failed(&carrier.run(&pass_args), 2, "service_disabled");
    let on = owner.json(&["service", "on", "--property", &prop]);
    assert_eq!(on["property_disabled"], false);
    let door_off = owner.json(&["service", "off", "--property", &prop, "--door", "garage"]);
    assert_eq!(door_off["disabled_doors"], serde_json::json!(["garage"]));
    owner.ok(&["service", "on", "--property", &prop, "--door", "garage"]);
    let again = carrier.json(&pass_args);
    assert_ne!(again["id"], pass["id"]);
    let service = owner.ok(&["service", "show", "--property", &prop]);
    assert!(service.contains("doors off:     none"), "{service}");

    // A revoked id reaches the property's list.
    let revoked = owner.json(&[
        "revocations",
        "revoke",
        "--property",
        &prop,
        "--id",
        str_of(&pass, "id"),
        "--reason",
        "lost_handset",
    ]);
    assert_eq!(revoked["reason"], "lost_handset");
    let list = owner.ok(&["revocations", "show", "--property", &prop]);
    assert!(list.contains("lost_handset"), "{list}");

    // A wrong token is refused with the stable code; nothing else is tried.
    failed(
        &owner.run(&["whoami", "--token", "dmt_not-a-real-token"]),
        2,
        "unauthenticated",
    );
    failed(
        &owner.run(&["property", "show", &prop, "--token", "dms_forged"]),
        2,
        "(unauthenticated, HTTP 401) [request ",
    );

    // An API token for a machine, through DOORMAN_URL and DOORMAN_TOKEN alone (no
    // credentials file), until it is revoked.
    let secret = owner.ok(&[
        "token",
        "create",
        "--name",
        "dispatch system",
        "--role",
        "manager",
        "-q",
    ]);
    assert!(secret.starts_with("dmt_"), "{secret}");
    let machine = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_doorman"))
            .args(args)
            .env("DOORMAN_CREDENTIALS", d.join("no-such-file.json"))
            .env("DOORMAN_URL", &url)
            .env("DOORMAN_TOKEN", &secret)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let listed = machine(&["property", "list", "-q"]);
    assert_eq!(succeeded(&listed).trim(), prop);
    let token_id = owner.ok(&["token", "list", "-q"]);
    owner.ok(&["token", "revoke", &token_id]);
    failed(&machine(&["property", "list"]), 2, "unauthenticated");

    // Sign in again with the password on stdin, then out.
    let again = Person::new(d, "owner-again");
    let login = again.run_with_stdin(
        &["login", "--url", &url, "--email", "owner@coop.example"],
        &format!("{PASSWORD}\n"),
    );
    assert!(login.status.success(), "{}", text(&login));
    assert_eq!(again.ok(&["property", "list", "-q"]), prop);
    again.ok(&["logout"]);
    assert!(
        !again.credentials.exists(),
        "logout deletes the credentials file"
    );
    failed(&again.run(&["whoami"]), 2, "not signed in");

    // The public log holds the registration, the request, the consent and the
    // authorization, and verifies from outside.
    server.wait_for("checkpoint size 4 ");
    let verified = operator.ok(&["log", "verify", "--url", &log_url, "--key", &log_key]);
    assert!(verified.contains("tree size 4"), "{verified}");
    assert!(server.terminate().success());
}

#[test]
fn a_self_custody_owner_signs_the_device_state_and_pushes_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let mut server = Server::start(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--origin",
        "self.doorman.example/log",
    ]);
    let url = server.url.strip_suffix("/log").unwrap().to_string();
    let code_line = server.wait_for("--code dmsetup_");
    let code = code_line
        .split_whitespace()
        .find(|w| w.starts_with("dmsetup_"))
        .unwrap()
        .to_string();
    let pw = d.join("pw.txt");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&pw)
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let pw = pw.to_str().unwrap();
    let operator = Person::new(d, "operator");
    operator.ok(&[
        "setup",
        "--url",
        &url,
        "--code",
        &code,
        "--email",
        "op@example.org",
        "--name",
        "Op",
        "--org",
        "Ops",
        "--password-file",
        pw,
    ]);
    let owner = Person::new(d, "owner");
    owner.ok(&[
        "signup",
        "--url",
        &url,
        "--kind",
        "property",
        "--org",
        "Self Co-op",
        "--email",
        "o@example.org",
        "--name",
        "Owner",
        "--password-file",
        pw,
    ]);
    let key_file = d.join("property.key");
    let public = owner.ok(&["key", "generate", "--out", key_file.to_str().unwrap()]);
    let public = public
        .lines()
        .find(|l| l.starts_with("ed25519/"))
        .unwrap()
        .trim()
        .to_string();
    let claimed = owner.json(&[
        "property",
        "claim",
        "--name",
        "B",
        "--address",
        "7 Self Street",
        "--tz",
        "Europe/Paris",
        "--custody",
        "self",
        "--public-key",
        &public,
    ]);
    let prop = str_of(&claimed, "id").to_string();
    operator.ok(&["property", "verify", &prop, "--note", "deed checked"]);
    owner.ok(&[
        "revocations",
        "revoke",
        "--property",
        &prop,
        "--id",
        &"ab".repeat(32),
        "--reason",
        "lost_handset",
    ]);
    owner.ok(&["service", "off", "--property", &prop]);
    // Nothing signed yet: the server holds no key for this property.
    let before = owner.json(&["revocations", "show", "--property", &prop]);
    assert!(before.get("document").is_none(), "{before}");
    // Offline signing of one payload prints a document the library verifies.
    let payload = str_of(&before, "pending_payload").to_string();
    let signed = owner.ok(&[
        "state",
        "sign",
        "--property-key",
        key_file.to_str().unwrap(),
        &payload,
    ]);
    let list =
        doorman_trust::RevocationList::verify(signed.as_bytes(), &public.parse().unwrap()).unwrap();
    assert_eq!(list.revoked.len(), 1);
    // A wrong key is refused before anything is uploaded.
    let other = d.join("other.key");
    owner.ok(&["key", "generate", "--out", other.to_str().unwrap()]);
    failed(
        &owner.run(&[
            "state",
            "push",
            "--property",
            &prop,
            "--property-key",
            other.to_str().unwrap(),
        ]),
        2,
        "is not the key of",
    );
    // Push signs and uploads both documents.
    let out = owner.run(&[
        "state",
        "push",
        "--property",
        &prop,
        "--property-key",
        key_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let after = owner.json(&["revocations", "show", "--property", &prop]);
    let doc = str_of(&after, "document");
    assert_eq!(
        doorman_trust::RevocationList::verify(doc.as_bytes(), &public.parse().unwrap())
            .unwrap()
            .revoked
            .len(),
        1
    );
    let service = owner.json(&["service", "show", "--property", &prop]);
    assert_eq!(service["signed_seq"], service["seq"]);
    // Pushing again re-issues (fresh issue time, higher seq) — what a daily cron does.
    let again = owner.run(&[
        "state",
        "push",
        "--property",
        &prop,
        "--property-key",
        key_file.to_str().unwrap(),
    ]);
    assert!(again.status.success(), "{}", text(&again));
    let later = owner.json(&["revocations", "show", "--property", &prop]);
    assert!(later["document_seq"].as_u64().unwrap() > after["document_seq"].as_u64().unwrap());

    // A device for this property: the consent signed offline, the device configuration
    // signed by `installation sign-config`, the bundle fetched by the installer verifies.
    owner.ok(&[
        "door",
        "add",
        "--property",
        &prop,
        "--id",
        "street",
        "--name",
        "Street",
    ]);
    let installer = Person::new(d, "installer");
    installer.ok(&[
        "signup",
        "--url",
        &url,
        "--kind",
        "installer",
        "--org",
        "Fixit",
        "--email",
        "i@fixit.example",
        "--name",
        "Ines",
        "--password-file",
        pw,
    ]);
    let device_pub = installer.ok(&["key", "generate", "--out", "device.key"]);
    let device_pub = device_pub
        .lines()
        .find(|l| l.starts_with("ed25519/"))
        .unwrap()
        .trim()
        .to_string();
    let filed = installer.json(&[
        "installation",
        "request",
        "--property",
        &prop,
        "--door",
        "street",
        "--device-id",
        "dev-self-1",
        "--device-key",
        &device_pub,
    ]);
    let req = str_of(&filed, "id").to_string();
    let installer_org = str_of(&filed, "installer").to_string();
    let consent = d.join("consent.txt");
    owner.ok(&[
        "consent",
        "sign",
        "--property-key",
        key_file.to_str().unwrap(),
        "--property",
        &prop,
        "--door",
        "street",
        "--device-pub",
        &device_pub,
        "--installer",
        &installer_org,
        "--not-after",
        "2099-01-01T00:00:00Z",
        "--out",
        consent.to_str().unwrap(),
    ]);
    let approved = owner.json(&[
        "installation",
        "approve",
        &req,
        "--consent",
        consent.to_str().unwrap(),
    ]);
    assert_eq!(approved["status"], "approved");
    let bundle = d.join("bundle.json");
    let fetch = |who: &Person| {
        who.run(&[
            "installation",
            "activation",
            &req,
            "--out",
            bundle.to_str().unwrap(),
        ])
    };
    // Until the owner signs the configuration, there is no bundle, and the error says how
    // (once the consent is in a checkpoint of the public log: `not_yet_logged` until then).
    let mut first = fetch(&installer);
    for _ in 0..100 {
        if !text(&first).contains("not_yet_logged") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        first = fetch(&installer);
    }
    failed(&first, 2, "installation sign-config");
    failed(
        &owner.run(&[
            "installation",
            "sign-config",
            &req,
            "--property-key",
            other.to_str().unwrap(),
        ]),
        2,
        "is not the key of",
    );
    // The owner's own choices, checked before anything is signed or uploaded.
    let sign_config = |extra: &[&str]| {
        let mut args = vec![
            "installation",
            "sign-config",
            &req,
            "--property-key",
            key_file.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        owner.run(&args)
    };
    failed(&sign_config(&["--pulse-ms", "0"]), 2, "pulse_ms is 0");
    failed(
        &sign_config(&["--offline-bound", "0s"]),
        2,
        "not a positive whole number of seconds",
    );
    failed(&fetch(&installer), 2, "installation sign-config");
    let out = sign_config(&["--pulse-ms", "1500", "--offline-bound", "12h"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("relay pulse 1500 ms, offline bound 43200 s"),
        "{}",
        text(&out)
    );
    let out = owner.run(&[
        "state",
        "push",
        "--property",
        &prop,
        "--property-key",
        key_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let fetched = fetch(&installer);
    assert!(fetched.status.success(), "{}", text(&fetched));
    let log_key = doorman_tlog::NoteVerifier::parse(http_get(&url, "/log/key").trim()).unwrap();
    #[allow(clippy::disallowed_methods)] // the server runs on the real clock here
    let now = jiff::Timestamp::now();
    let activation = doorman_device::verify_activation(
        &std::fs::read(&bundle).unwrap(),
        &device_pub.parse().unwrap(),
        &log_key,
        now,
    )
    .unwrap();
    assert_eq!(activation.door.as_str(), "street");
    // What the owner chose is what the device runs with.
    assert_eq!(activation.config.pulse_ms, 1500);
    assert_eq!(activation.config.revocation_max_age_s, 12 * 3600);
}

/// The body of a plain GET (the server's public, unauthenticated text endpoints).
fn http_get(base: &str, path: &str) -> String {
    use std::io::Read as _;
    let host = base.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

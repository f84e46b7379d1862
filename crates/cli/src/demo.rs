//! `doorman demo`: the whole system on the embedded default, playing a building's day.
//!
//! One process: `doorman serve`'s own assembly (SQLite under the data dir, the embedded MQTT
//! broker), and real door agents (the agent's library: its state dir, journal, door and MQTT
//! link, with simulated relays writing `relay-sim.log`). Everything else goes through the API,
//! as the people would: the operator, a building's owner and manager, a resident, an
//! installer, two carriers and their drivers. Then a day at the door: entries online and
//! offline, and the attempts that must fail, each with the reason the device logged. It prints
//! the table, the URL and the sign-ins, and keeps serving until Ctrl-C (`--exit`: stops, with
//! a non-zero status if any outcome was not the expected one).

// A command-line tool: printing its results is its job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use doorman_agent::StateDir;
use doorman_agent::door::FileRelay;
use doorman_agent::embedded::{EmbeddedLink, link_config};
use doorman_agent::journal::{Journal, JournalLimits};
use doorman_agent::link::Core;
use doorman_client::Client;
use doorman_proto::*;
use doorman_server::ServerConfig;
use doorman_trust::SecretKey;
use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::clock;

/// `doorman demo`'s flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the server keeps its data and the agents their state (must not hold a Doorman
    /// yet). Default: a new directory under the system's temporary directory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the server listens. Port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    listen: String,
    /// Play the day, print the table and stop: exit status 1 if any outcome differs from the
    /// expected one (CI runs this).
    #[arg(long)]
    exit: bool,
}

/// Every demo account's password (a local demo: printed at the end).
const PASSWORD: &str = "doorman demo password";
const TIME_ZONE: &str = "Europe/Paris";

struct Attempt {
    what: String,
    door: &'static str,
    via: &'static str,
    expected: String,
    got: String,
}

/// A door agent of the demo.
struct Agent {
    id: &'static str,
    state: StateDir,
    core: Arc<Mutex<Core>>,
    link: Option<EmbeddedLink>,
    log: Arc<Mutex<Vec<String>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn step(text: &str) {
    eprintln!("doorman demo: {text}");
}

/// Waits up to ten seconds for `f`.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) -> Result<()> {
    for _ in 0..400 {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("timed out waiting for {what}")
}

struct Cast {
    url: String,
    operator: Client,
    owner: Client,
    manager: Client,
    installer: Client,
    property: PropertyView,
}

fn sign_up(url: &str, kind: &str, org: &str, email: &str) -> Result<(Client, String)> {
    let s = Client::new(url)
        .signup(&SignupRequest {
            org_kind: kind.to_string(),
            org_name: org.to_string(),
            email: email.to_string(),
            name: format!("{org} admin"),
            password: PASSWORD.to_string(),
        })
        .with_context(|| format!("signing up {org}"))?;
    let org_id =
        s.me.memberships
            .first()
            .map(|m| m.org.clone())
            .context("a founding membership")?;
    Ok((Client::new(url).with_token(s.token), org_id))
}

fn invite(url: &str, by: &Client, org: &str, email: &str, role: &str) -> Result<Client> {
    let inv = by.invite(
        org,
        &InviteRequest {
            email: email.to_string(),
            role: role.to_string(),
        },
    )?;
    accept(url, &inv, email)
}

fn accept(url: &str, inv: &InvitationView, email: &str) -> Result<Client> {
    let s = Client::new(url).accept_invitation(&AcceptInvitationRequest {
        code: inv
            .code
            .clone()
            .context("a fresh invitation has its code")?,
        name: Some(format!("Person {email}")),
        password: PASSWORD.to_string(),
    })?;
    Ok(Client::new(url).with_token(s.token))
}

fn building(url: &str, setup_code: String) -> Result<Cast> {
    let anon = Client::new(url);
    let op = anon.setup(&SetupRequest {
        code: setup_code,
        org_name: "Doorman Operations".to_string(),
        email: "operator@doorman.example".to_string(),
        name: "Olga Operator".to_string(),
        password: PASSWORD.to_string(),
    })?;
    let operator = Client::new(url).with_token(op.token);
    let (owner, owner_org) = sign_up(url, "property", "Maple Court Co-op", "owner@maple.example")?;
    let claimed = owner.claim_property(&ClaimPropertyRequest {
        org: owner_org.clone(),
        name: "Maple Court".to_string(),
        address: "1 Maple Court, Springfield".to_string(),
        time_zone: TIME_ZONE.to_string(),
        custody: "custodial".to_string(),
        public_key: None,
    })?;
    let property = operator.verify_property(&claimed.id, "deed and management contract checked")?;
    for (id, name) in [("street", "Street door"), ("garage", "Garage door")] {
        owner.add_door(&property.id, id, name)?;
    }
    for unit in ["4B", "5A"] {
        owner.add_unit(&property.id, unit)?;
    }
    let manager = invite(url, &owner, &owner_org, "manager@maple.example", "manager")?;
    let inv = manager.invite_resident(&property.id, "resident@maple.example", "4B")?;
    accept(url, &inv, "resident@maple.example")?;
    let (installer, _) = sign_up(url, "installer", "Fixit Installers", "admin@fixit.example")?;
    Ok(Cast {
        url: url.to_string(),
        operator,
        owner,
        manager,
        installer,
        property,
    })
}

struct Carrier {
    client: Client,
    org: String,
    driver: SecretKey,
    driver_id: String,
}

fn carrier(url: &str, name: &str, email: &str) -> Result<Carrier> {
    let (client, org) = sign_up(url, "carrier", name, email)?;
    client.set_carrier_key(
        &org,
        &CarrierKeyRequest {
            public_key: None,
            custodial: true,
        },
    )?;
    let driver = SecretKey::generate(&mut rand::rngs::OsRng);
    let d = client.add_driver(
        &org,
        &CreateDriverRequest {
            name: format!("{name} driver"),
            public_key: driver.public().to_string(),
        },
    )?;
    Ok(Carrier {
        client,
        org,
        driver,
        driver_id: d.id,
    })
}

impl Carrier {
    fn pass(
        &self,
        authorization: &str,
        door: &str,
        unit: &str,
        delivery: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<String> {
        Ok(self
            .client
            .mint_pass(
                authorization,
                &MintPassRequest {
                    door: door.to_string(),
                    unit: unit.to_string(),
                    delivery: delivery.to_string(),
                    driver: Some(self.driver_id.clone()),
                    driver_key: None,
                    not_before: from,
                    not_after: to,
                },
            )
            .with_context(|| format!("minting {delivery}"))?
            .token)
    }
}

/// An installation: the agent enrols, the installer files it, the manager decides.
fn install(
    cast: &Cast,
    dir: &std::path::Path,
    log_key: &str,
    id: &'static str,
    door: &str,
) -> Result<(StateDir, InstallationView)> {
    let state = StateDir::new(dir.join(id));
    let enrolment = state.init(log_key, Some(id))?;
    let req = cast
        .installer
        .file_installation(&CreateInstallationRequest {
            property: cast.property.id.clone(),
            door: door.to_string(),
            device_id: enrolment.device_id,
            device_key: enrolment.device_key,
            notes: format!("Relay wired to the {door} door's release terminals"),
            installer: None,
        })?;
    Ok((state, req))
}

fn activate(cast: &Cast, state: StateDir, request: &str, id: &'static str) -> Result<Agent> {
    let mut bundle = None;
    wait_for("the consent in a checkpoint", || {
        bundle = cast.installer.activation(request).ok();
        bundle.is_some()
    })?;
    let bytes = serde_json::to_vec(&bundle)?;
    let activation = state.activate(&bytes, clock::now())?;
    let key = state.device_key()?;
    let journal = Journal::open(state.path(), JournalLimits::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let relay = FileRelay(state.path().join("relay-sim.log"));
    let core = Arc::new(Mutex::new(Core::new(
        activation,
        key,
        journal,
        Box::new(relay),
    )));
    let mut agent = Agent {
        id,
        state,
        core,
        link: None,
        log: Arc::default(),
    };
    agent.connect()?;
    Ok(agent)
}

impl Agent {
    /// Starts the link and waits until it is connected and subscribed (its hello answered).
    fn connect(&mut self) -> Result<()> {
        let config = link_config(&self.state, &self.core, None, Duration::from_secs(5))?
            .context("the bundle names no broker")?;
        let connected = |log: &Mutex<Vec<String>>| {
            lock(log)
                .iter()
                .filter(|l| l.as_str() == "connected to the server")
                .count()
        };
        let before = connected(&self.log);
        self.link = Some(EmbeddedLink::start(
            config,
            Arc::clone(&self.core),
            &self.state,
            Arc::new(clock::now),
            Arc::clone(&self.log),
        )?);
        wait_for(&format!("{} connected", self.id), || {
            connected(&self.log) > before
        })?;
        // The subscription travels with the hello; give the broker a moment to register it.
        std::thread::sleep(Duration::from_millis(300));
        Ok(())
    }

    fn disconnect(&mut self) {
        if let Some(mut l) = self.link.take() {
            l.stop();
        }
    }

    /// A presentation at the door's own reader (BLE/NFC in the field): decided locally.
    fn at_the_door(&self, pass: &str, driver: &SecretKey) -> Result<String> {
        let mut nonce = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut core = lock(&self.core);
        let c = core.challenge(nonce, clock::now())?;
        let bytes = doorman_trust::token::decode(pass)?;
        let proof = c.prove(driver, &bytes, clock::now())?;
        let out = core.present(pass, &c.nonce, Some(&proof), clock::now())?;
        Ok(outcome(out.decision.reason().map(|r| r.code())))
    }

    fn revocations_seq(&self) -> u64 {
        lock(&self.core).activation.revocations.seq
    }

    fn service_seq(&self) -> u64 {
        lock(&self.core).activation.service.seq
    }
}

fn outcome(reason: Option<&str>) -> String {
    reason.map_or_else(|| "allow".to_string(), |r| format!("deny: {r}"))
}

/// A presentation through the server (the driver's app): the device's challenge, the driver's
/// answer, the device's decision; the reason as the property's log shows it.
fn online(cast: &Cast, door: &str, pass: &str, driver: &SecretKey) -> Result<String> {
    let r = Client::new(&cast.url).unlock_as_driver(
        &cast.property.id,
        door,
        pass,
        driver,
        clock::now(),
    )?;
    if r.result == "allow" {
        return Ok("allow".to_string());
    }
    // The driver only learns "deny"; the manager sees why.
    let mut reason = None;
    wait_for("the decision in the property's log", || {
        reason = cast
            .manager
            .device_events(&cast.property.id, "result=deny&limit=10000")
            .ok()
            .and_then(|e| {
                e.events
                    .into_iter()
                    .find(|e| e.device == r.device && e.seq == r.seq)
            })
            .map(|e| e.reason.unwrap_or_default());
        reason.is_some()
    })?;
    Ok(outcome(reason.as_deref()))
}

/// A daily window of one hour that excludes the property's local time now.
fn schedule_excluding_now() -> Result<String> {
    let tz = TimeZone::get(TIME_ZONE)?;
    let hour = tz.to_datetime(clock::now()).hour();
    let start = if hour <= 20 { hour + 2 } else { hour - 4 };
    Ok(format!("Daily {start:02}:00-{:02}:00", start + 1))
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let data_dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("doorman-demo-{}", clock::now().as_millisecond()))
    });
    if data_dir.join("doorman.sqlite").exists() {
        bail!(
            "{} already holds a Doorman: the demo builds its building from scratch; give it a new --data-dir",
            data_dir.display()
        );
    }
    let mut config = ServerConfig::new(&data_dir, &args.listen);
    config.checkpoint_interval = Duration::from_millis(200);
    config.devices.broker = doorman_server::devices::BrokerConfig::Embedded {
        listen: "127.0.0.1:0".to_string(),
    };
    let running = doorman_server::start(config, Arc::new(clock::system_now), clock::monotonic)
        .map_err(|e| {
            anyhow::anyhow!(
                "{e} (another server on {}? try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let info = running.info.clone();
    let url = format!("http://{}", info.addr);
    step(&format!(
        "server on {url}, data in {}, MQTT broker on {}",
        data_dir.display(),
        info.broker.as_deref().unwrap_or("-")
    ));

    step("the operator; Maple Court's owner, manager and a resident; an installer");
    let cast = building(
        &url,
        info.setup_code
            .clone()
            .context("a fresh data dir has a setup code")?,
    )?;
    let acme = carrier(&url, "Acme Parcel", "admin@acme.example")?;
    let bolt = carrier(&url, "Bolt Couriers", "admin@bolt.example")?;
    step("two carriers, each with a driver");

    step(
        "three installation requests: the street and garage doors approved, a third device rejected",
    );
    let agents_dir = data_dir.join("agents");
    let (street_state, street_req) = install(
        &cast,
        &agents_dir,
        &info.verifier_key,
        "dev-street",
        "street",
    )?;
    let (garage_state, garage_req) = install(
        &cast,
        &agents_dir,
        &info.verifier_key,
        "dev-garage",
        "garage",
    )?;
    let (rogue_state, rogue_req) = install(
        &cast,
        &agents_dir,
        &info.verifier_key,
        "dev-rogue",
        "street",
    )?;
    cast.manager
        .approve(&street_req.id, &ApproveRequest::default())?;
    cast.manager
        .approve(&garage_req.id, &ApproveRequest::default())?;
    cast.manager
        .reject(&rogue_req.id, "not_requested_by_building")?;
    let mut street = activate(&cast, street_state, &street_req.id, "dev-street")?;
    let garage = activate(&cast, garage_state, &garage_req.id, "dev-garage")?;
    for a in [&street, &garage] {
        wait_for(&format!("{} online", a.id), || {
            cast.manager
                .devices(&cast.property.id)
                .is_ok_and(|d| d.devices.iter().any(|d| d.device == a.id && d.online))
        })?;
    }
    step(
        "dev-street and dev-garage activated (each verified its consent in the public log) and connected",
    );

    let now = clock::now();
    let hours = |h: i64| SignedDuration::from_hours(h);
    let acme_auth = cast.manager.authorize(
        &cast.property.id,
        &AuthorizeRequest {
            carrier: acme.org.clone(),
            doors: vec!["street".to_string(), "garage".to_string()],
            schedule: "Daily 00:00-24:00".to_string(),
            daily_cap: Some(50),
            not_before: Some(now.checked_sub(hours(24))?),
            not_after: now.checked_add(hours(24 * 365))?,
            max_pass_duration: None,
            authorization: None,
        },
    )?;
    let bolt_schedule = schedule_excluding_now()?;
    let bolt_auth = cast.manager.authorize(
        &cast.property.id,
        &AuthorizeRequest {
            carrier: bolt.org.clone(),
            doors: vec!["street".to_string()],
            schedule: bolt_schedule.clone(),
            daily_cap: Some(50),
            // From a day ago, as Acme's: passes minted below start at `now`, which the
            // server's clock may already have passed when it stamps the authorization.
            not_before: Some(now.checked_sub(hours(24))?),
            not_after: now.checked_add(hours(24 * 365))?,
            max_pass_duration: None,
            authorization: None,
        },
    )?;
    step(&format!(
        "Acme authorized for both doors, daily; Bolt for the street door, {bolt_schedule} ({TIME_ZONE})"
    ));

    step("a day at the door");
    let soon = now.checked_add(hours(1))?;
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut record =
        |what: &str, door: &'static str, via: &'static str, expected: &str, got: Result<String>| {
            let got = got.unwrap_or_else(|e| format!("error: {e:#}"));
            eprintln!("  {what}: {got}");
            attempts.push(Attempt {
                what: what.to_string(),
                door,
                via,
                expected: expected.to_string(),
                got,
            });
        };
    let p1 = acme.pass(&acme_auth.id, "street", "4B", "ACME-1001", now, soon)?;
    record(
        "Acme delivery to 4B",
        "street",
        "online",
        "allow",
        online(&cast, "street", &p1, &acme.driver),
    );
    let p2 = acme.pass(&acme_auth.id, "garage", "5A", "ACME-1002", now, soon)?;
    record(
        "Acme delivery to 5A (bulky, garage)",
        "garage",
        "online",
        "allow",
        online(&cast, "garage", &p2, &acme.driver),
    );
    street.disconnect();
    let p3 = acme.pass(&acme_auth.id, "street", "5A", "ACME-1003", now, soon)?;
    record(
        "Acme delivery to 5A, the street door offline",
        "street",
        "reader",
        "allow",
        street.at_the_door(&p3, &acme.driver),
    );
    street.connect()?;
    record(
        "the first pass again",
        "street",
        "online",
        "deny: replayed",
        online(&cast, "street", &p1, &acme.driver),
    );
    let p4 = acme.pass(&acme_auth.id, "garage", "4B", "ACME-1004", now, soon)?;
    record(
        "a garage pass at the street door",
        "street",
        "reader",
        "deny: wrong_door",
        street.at_the_door(&p4, &acme.driver),
    );
    let p5 = acme.pass(
        &acme_auth.id,
        "street",
        "4B",
        "ACME-0999",
        now.checked_sub(hours(3))?,
        now.checked_sub(hours(2))?,
    )?;
    record(
        "yesterday's pass, expired",
        "street",
        "online",
        "deny: expired",
        online(&cast, "street", &p5, &acme.driver),
    );
    let p6 = acme.pass(&acme_auth.id, "street", "4B", "ACME-1005", now, soon)?;
    let thief = SecretKey::generate(&mut rand::rngs::OsRng);
    record(
        "a copied pass, without the driver's key",
        "street",
        "online",
        "deny: no_proof_of_possession",
        online(&cast, "street", &p6, &thief),
    );
    let b1 = bolt.pass(&bolt_auth.id, "street", "4B", "BOLT-1", now, soon)?;
    let b2 = bolt.pass(&bolt_auth.id, "street", "4B", "BOLT-2", now, soon)?;
    record(
        "Bolt, outside its schedule",
        "street",
        "online",
        "deny: outside_schedule",
        online(&cast, "street", &b1, &bolt.driver),
    );
    let seq = street.revocations_seq();
    cast.manager
        .revoke_authorization(&bolt_auth.id, "carrier_offboarded")?;
    wait_for("the revocation at the street door", || {
        street.revocations_seq() > seq
    })?;
    record(
        "Bolt after the manager revoked it",
        "street",
        "online",
        "deny: revoked",
        online(&cast, "street", &b2, &bolt.driver),
    );
    record(
        "the rejected device asks for its activation",
        "street",
        "install",
        "refused: not_approved",
        Ok(match cast.installer.activation(&rogue_req.id) {
            Ok(_) => "activated".to_string(),
            Err(e) => format!("refused: {}", e.code().unwrap_or("?")),
        }),
    );
    let street_bundle = serde_json::to_vec(&cast.installer.activation(&street_req.id)?)?;
    record(
        "the rejected device, with dev-street's bundle",
        "street",
        "install",
        "refused: not_this_device",
        Ok(match rogue_state.activate(&street_bundle, clock::now()) {
            Ok(_) => "activated".to_string(),
            Err(e) => format!("refused: {}", e.code()),
        }),
    );
    let p7 = acme.pass(&acme_auth.id, "street", "4B", "ACME-1006", now, soon)?;
    let seq = street.service_seq();
    let off = cast.owner.change_service(
        &cast.property.id,
        &ServiceChangeRequest {
            scope: "door".to_string(),
            target: Some("street".to_string()),
            enabled: false,
            expected_seq: None,
        },
    )?;
    wait_for("the switch at the street door", || {
        street.service_seq() > seq
    })?;
    record(
        "Acme, the street door switched off",
        "street",
        "online",
        "deny: service_disabled",
        online(&cast, "street", &p7, &acme.driver),
    );
    let seq = street.service_seq();
    cast.owner.change_service(
        &cast.property.id,
        &ServiceChangeRequest {
            scope: "door".to_string(),
            target: Some("street".to_string()),
            enabled: true,
            expected_seq: Some(off.seq),
        },
    )?;
    wait_for("the switch at the street door", || {
        street.service_seq() > seq
    })?;
    record(
        "Acme, switched on again",
        "street",
        "online",
        "allow",
        online(&cast, "street", &p7, &acme.driver),
    );

    // Every decision reaches the property's log, once.
    let decisions = attempts.iter().filter(|a| a.via != "install").count();
    wait_for("every decision in the property's log", || {
        cast.manager
            .device_events(&cast.property.id, "limit=10000")
            .is_ok_and(|e| {
                e.events.len() == decisions && e.events.iter().all(|e| e.log_index.is_some())
            })
    })
    .ok();
    let logged = cast
        .manager
        .device_events(&cast.property.id, "limit=10000")
        .map(|e| e.events.iter().filter(|e| e.log_index.is_some()).count())
        .unwrap_or(0);

    // One more request waits for whoever signs in as the manager (approve or reject it on
    // its page); its device is not running in the demo.
    let (_courtyard, waiting) = install(
        &cast,
        &agents_dir,
        &info.verifier_key,
        "dev-courtyard",
        "garage",
    )?;
    cast.installer.upload_evidence(
        &waiting.id,
        "image/png",
        include_bytes!("../assets/panel.png"),
    )?;

    println!();
    println!(
        "{:>2}  {:<46} {:<7} {:<7} {:<30} {:<30}",
        "#", "attempt", "door", "via", "expected", "got"
    );
    let mut wrong = 0;
    for (i, a) in attempts.iter().enumerate() {
        let mark = if a.expected == a.got {
            ""
        } else {
            "  <-- UNEXPECTED"
        };
        if !mark.is_empty() {
            wrong += 1;
        }
        println!(
            "{:>2}  {:<46} {:<7} {:<7} {:<30} {:<30}{mark}",
            i + 1,
            a.what,
            a.door,
            a.via,
            a.expected,
            a.got
        );
    }
    println!();
    println!(
        "{} of {} attempts as expected; {logged} of {decisions} decisions signed by their device and in Maple Court's access log.",
        attempts.len() - wrong,
        attempts.len()
    );
    if logged != decisions {
        wrong += 1;
    }
    println!();
    println!("Doorman is serving at {url} (API {url}/api/v1, public log {url}/log).");
    println!(
        "Anyone can see what is registered at Maple Court: {url}/lookup?address=1+Maple+Court%2C+Springfield"
    );
    println!("Sign in (`doorman login --url {url} --email …`), password \"{PASSWORD}\":");
    for (who, email) in [
        ("owner", "owner@maple.example"),
        ("manager", "manager@maple.example"),
        ("resident", "resident@maple.example"),
        ("installer", "admin@fixit.example"),
        ("carrier", "admin@acme.example"),
        ("operator", "operator@doorman.example"),
    ] {
        println!("  {who:<10} {email}");
    }
    println!(
        "An installation request waits for the manager's decision: {url}/app/installations/{}",
        waiting.id
    );
    let _ = (&cast.operator, &garage);
    if args.exit {
        street.disconnect();
        running.stop().context("stopping the server")?;
        return Ok(if wrong == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    println!("Press Ctrl-C to stop.");
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal watcher")?;
    signals.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    street.disconnect();
    running.stop().context("stopping the server")?;
    Ok(if wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

//! Device messaging under load (issue 5), against a real `doorman serve` process (started by
//! this tool, embedded broker, fresh data dir) on loopback:
//!
//! ```text
//! device_load connect --bin target/release/doorman --devices 10000
//! device_load unlock  --bin target/release/doorman --devices 1000 --rate 200 --duration 30
//! ```
//!
//! `--broker mosquitto` runs the machine's Mosquitto with the shipped configuration
//! (`deploy/mosquitto`, dynamic security) instead of the embedded broker.
//!
//! Both first set up a building through the API and approve one installation per simulated
//! device (device `load-<i>` on its own door `d<i>`). Device passwords come from the server's
//! `devices.key` (what activation bundles carry).
//!
//! `connect`: each simulated device opens its own MQTT connection, subscribes to its `down`
//! topic and says hello (a signed status); reports how long until all are connected and until
//! the server lists all as online, and the server's memory (VmRSS, VmHWM).
//!
//! `unlock`: each simulated device is a real door (activated from the server's bundle, the
//! agent's own `Core`: journal synced before the relay, signed events) answering through the
//! agent's own message handler; the tool then runs an open-loop load of unlocks — challenge,
//! then the pass with the driver's answer — at `rate` per second, each on a fresh pass for a
//! random door, and reports the round-trip latency of the unlock step (API → broker → agent →
//! signed decision → API), and of both steps. `DEVICE_LOAD_DIR=/dev/shm` puts the doors'
//! journals on tmpfs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::disallowed_methods
)]

use std::io::{BufRead as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use doorman_client::Client;
use doorman_core::DeviceId;
use doorman_device::messages::{Message, Status, Up, down_topic, up_topic};
use doorman_proto::*;

use doorman_testkit::remote::RemoteCast;
use doorman_trust::SecretKey;
use jiff::{SignedDuration, Timestamp};

struct Args {
    mode: String,
    bin: String,
    broker: String,
    devices: usize,
    rate: f64,
    duration: f64,
}

fn args() -> Args {
    let mut a = std::env::args().skip(1);
    let mode = a.next().expect("connect or unlock");
    let mut out = Args {
        mode,
        bin: "target/release/doorman".to_string(),
        broker: "embedded".to_string(),
        devices: 1000,
        rate: 200.0,
        duration: 30.0,
    };
    while let Some(k) = a.next() {
        let v = a.next().expect("a value");
        match k.as_str() {
            "--bin" => out.bin = v,
            "--broker" => out.broker = v,
            "--devices" => out.devices = v.parse().unwrap(),
            "--rate" => out.rate = v.parse().unwrap(),
            "--duration" => out.duration = v.parse().unwrap(),
            other => panic!("unknown flag {other}"),
        }
    }
    out
}

fn wall() -> Timestamp {
    Timestamp::try_from(SystemTime::now()).unwrap()
}

struct Server {
    child: Child,
    url: String,
    code: String,
    dir: tempfile::TempDir,
    /// The broker, with `--broker mosquitto` (kept running as long as the server).
    _mosquitto: Option<doorman_testkit::Mosquitto>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(bin: &str, broker: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(["--checkpoint-interval", "200ms"]);
    let mosquitto = match broker {
        "embedded" => None,
        "mosquitto" => {
            // The shipped configuration (deploy/mosquitto) on a free port.
            let m = doorman_testkit::Mosquitto::start();
            command
                .args(["--device-broker", &m.addr, "--broker-dynsec", "true"])
                .env("DOORMAN_BROKER_PASSWORD", &m.password);
            Some(m)
        }
        other => panic!("--broker embedded or mosquitto, not {other}"),
    };
    let mut child = command
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("doorman serve");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut code) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("doorman serve: listening on ") {
            url = Some(rest.trim_end_matches("/log").to_string());
            break;
        }
        if let Some(i) = line.find("--code ") {
            code = line[i + 7..].split_whitespace().next().map(str::to_string);
        }
    }
    // Keep draining its stderr so it never blocks, into a file to read after a run.
    let log_path = std::env::temp_dir().join("device_load-serve.log");
    let mut log = std::fs::File::create(&log_path).unwrap();
    println!("the server's log: {}", log_path.display());
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(log, "{line}");
        }
    });
    Server {
        child,
        url: url.expect("the server's URL"),
        code: code.expect("the setup code"),
        dir,
        _mosquitto: mosquitto,
    }
}

fn vm(pid: u32) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |f: &str| {
        s.lines()
            .find(|l| l.starts_with(f))
            .map(|l| l[f.len()..].trim().to_string())
            .unwrap_or_default()
    };
    format!("VmRSS {} VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}

/// One approved device per door, `threads` at a time; returns (id, key, installation, authorization).
fn devices(
    cast: &RemoteCast,
    n: usize,
    authorize: bool,
) -> Vec<(DeviceId, SecretKey, String, Option<String>)> {
    let t = Instant::now();
    let next = AtomicUsize::new(0);
    let out = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let door = format!("d{i}");
                    cast.manager.add_door(&cast.property, &door, &door).unwrap();
                    let key = SecretKey::generate(&mut rand::rngs::OsRng);
                    let id = DeviceId::new(format!("load-{i}")).unwrap();
                    let req = cast
                        .installer
                        .file_installation(&CreateInstallationRequest {
                            property: cast.property.clone(),
                            door: door.clone(),
                            device_id: id.to_string(),
                            device_key: key.public().to_string(),
                            notes: String::new(),
                            installer: None,
                        })
                        .unwrap();
                    cast.manager
                        .approve(&req.id, &ApproveRequest::default())
                        .unwrap();
                    let auth = authorize.then(|| {
                        cast.manager
                            .authorize(
                                &cast.property,
                                &AuthorizeRequest {
                                    carrier: cast.carrier_org.clone(),
                                    doors: vec![door.clone()],
                                    schedule: "Daily 00:00-24:00".into(),
                                    daily_cap: Some(10_000),
                                    not_before: None,
                                    not_after: wall()
                                        .checked_add(SignedDuration::from_hours(24))
                                        .unwrap(),
                                    max_pass_duration: None,
                                    authorization: None,
                                },
                            )
                            .unwrap()
                            .id
                    });
                    out.lock().unwrap().push((i, id, key, req.id, auth));
                }
            });
        }
    });
    let mut v = out.into_inner().unwrap();
    v.sort_by_key(|x| x.0);
    println!("{n} devices approved in {:.1} s", t.elapsed().as_secs_f64());
    v.into_iter().map(|(_, a, b, c, d)| (a, b, c, d)).collect()
}

fn link_of(cast: &RemoteCast, installation: &str) -> BrokerLinkView {
    let mut bundle = None;
    for _ in 0..200 {
        bundle = cast.installer.activation(installation).ok();
        if bundle.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bundle.expect("a bundle").link.expect("a broker")
}

/// How the simulated devices log in: as the server's bundles tell real ones (the account and,
/// on the embedded broker, the client certificate; the same CA and certificates, derived from
/// the server's `devices.key`), through the agent's own set-up of the link.
struct Logins {
    keys: doorman_server::devices::DeviceKeys,
    ca: doorman_server::devices::DevicesCa,
    /// The broker address of the first device's bundle, and that device.
    broker: String,
    first: DeviceId,
    /// Whether the broker wants a fresh client id per connection (the embedded one).
    per_connection: bool,
}

impl Logins {
    /// Learns the broker address from the first device's bundle, and checks on a few more
    /// that [`Logins::broker_for`] names the listener the server tells each device.
    fn new(
        server: &Server,
        cast: &RemoteCast,
        devs: &[(DeviceId, SecretKey, String, Option<String>)],
    ) -> Logins {
        let keys =
            doorman_server::devices::DeviceKeys::load_or_create(&server.dir.path().join("data"))
                .unwrap()
                .0;
        let ca = doorman_server::devices::DevicesCa::new(&keys, &[]).unwrap();
        let link = link_of(cast, &devs[0].2);
        let logins = Logins {
            keys,
            ca,
            broker: link.broker,
            first: devs[0].0.clone(),
            per_connection: link.client_id_per_connection,
        };
        for (device, _, installation, _) in devs.iter().take(16) {
            assert_eq!(
                logins.broker_for(device),
                link_of(cast, installation).broker,
                "the broker address of {device}"
            );
        }
        logins
    }

    /// The address the server's bundle gives `device`: on the embedded broker, its own
    /// listener's port (`doorman_server::devices::device_listener`).
    fn broker_for(&self, device: &DeviceId) -> String {
        use doorman_server::devices::device_listener;
        let mut a = doorman_device::broker::BrokerAddr::parse(&self.broker).unwrap();
        if !a.tls {
            return self.broker.clone();
        }
        a.port = a.port - device_listener(&self.first) + device_listener(device);
        a.to_string()
    }

    /// The device's link as the agent would set it up from its bundle.
    fn config(&self, device: &DeviceId, key: &SecretKey) -> doorman_agent::link::LinkConfig {
        let tls = self.broker.starts_with(doorman_server::devices::TLS_SCHEME);
        doorman_agent::link::LinkConfig {
            link: doorman_device::activation::BrokerLink {
                broker: self.broker_for(device),
                username: device.to_string(),
                password: self.keys.password(device.as_str()),
                certificate: tls
                    .then(|| self.ca.device_certificate(device, &key.public()).unwrap()),
                ca: tls.then(|| self.ca.ca_pem()),
                client_id_per_connection: self.per_connection,
            },
            device: device.clone(),
            key: key.clone(),
            heartbeat: Duration::from_secs(30),
            broker_ca: None,
        }
    }

    fn options(&self, config: &doorman_agent::link::LinkConfig) -> rumqttc::MqttOptions {
        let mut o = doorman_agent::link::mqtt_options(config).unwrap();
        o.set_keep_alive(Duration::from_secs(60));
        o
    }
}

fn connect(a: &Args) {
    let server = serve(&a.bin, &a.broker);
    let pid = server.child.id();
    println!("server after start: {}", vm(pid));
    let cast = RemoteCast::setup(&server.url, &server.code);
    let devs = devices(&cast, a.devices, false);
    let logins = Logins::new(&server, &cast, &devs);
    println!("server before the devices connect: {}", vm(pid));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let connected = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let _guard = runtime.enter();
    for (id, key, _, _) in &devs {
        let config = logins.config(id, key);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(logins.options(&config), 16);
        eventloop.set_network_options(doorman_agent::link::network_options());
        let (id, key, connected) = (id.clone(), key.clone(), Arc::clone(&connected));
        runtime.spawn(async move {
            let mut first = true;
            let mut failures = 0u32;
            // A status as the agent sends it: a hello on connecting, then a heartbeat every
            // 30 s (without which the server stops listing the device online).
            let status = |hello: bool| {
                Message {
                    device: id.clone(),
                    at: wall(),
                    body: Up::Status(Status {
                        version: "load".into(),
                        active: true,
                        hello,
                        pending: 0,
                        revocations_issued_at: None,
                        revocations_seq: None,
                        service_seq: None,
                        config_seq: None,
                        fault: None,
                    }),
                }
                .sign(&key)
                .unwrap()
            };
            let up = up_topic(&id).unwrap();
            let mut heartbeat = tokio::time::interval(Duration::from_secs(30));
            let mut online = false;
            loop {
                let event = tokio::select! {
                    e = eventloop.poll() => e,
                    _ = heartbeat.tick(), if online => {
                        let _ = client
                            .publish(up.clone(), rumqttc::QoS::AtLeastOnce, false, status(false))
                            .await;
                        continue;
                    }
                };
                match event {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        let _ = client
                            .subscribe(down_topic(&id).unwrap(), rumqttc::QoS::AtLeastOnce)
                            .await;
                        let _ = client
                            .publish(up.clone(), rumqttc::QoS::AtLeastOnce, false, status(true))
                            .await;
                        online = true;
                        heartbeat.reset();
                        failures = 0;
                        if first {
                            connected.fetch_add(1, Ordering::Relaxed);
                            first = false;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        online = false;
                        // As the agent retries (doorman_agent::link::run_link).
                        failures = failures.saturating_add(1);
                        let delay = doorman_agent::link::retry_delay(failures, rand::random());
                        tokio::time::sleep(delay).await;
                        doorman_agent::link::next_client_id(&mut eventloop.mqtt_options, &config);
                    }
                }
            }
        });
    }
    while connected.load(Ordering::Relaxed) < devs.len() && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let all_connected = t.elapsed().as_secs_f64();
    println!(
        "{} of {} devices connected (CONNACK) in {all_connected:.1} s",
        connected.load(Ordering::Relaxed),
        devs.len()
    );
    let mut online = 0;
    while t.elapsed() < Duration::from_secs(300) {
        online = cast
            .manager
            .devices(&cast.property)
            .map(|d| d.devices.iter().filter(|d| d.online).count())
            .unwrap_or(0);
        if online >= devs.len() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "{online} of {} listed online by the server after {:.1} s",
        devs.len(),
        t.elapsed().as_secs_f64()
    );
    println!("server with every device connected: {}", vm(pid));
    std::thread::sleep(Duration::from_secs(5));
    println!("server 5 s later: {}", vm(pid));
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn unlock(a: &Args) {
    let server = serve(&a.bin, &a.broker);
    let pid = server.child.id();
    let cast = RemoteCast::setup(&server.url, &server.code);
    let devs = devices(&cast, a.devices, true);
    let logins = Logins::new(&server, &cast, &devs);
    // Real doors: each activated from its bundle, with its own journal (under
    // $DEVICE_LOAD_DIR if set: one disk shared by every simulated door is not one box per door,
    // so /dev/shm separates the journal's fsync from the messaging path).
    let work = match std::env::var_os("DEVICE_LOAD_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    let connected = Arc::new(AtomicUsize::new(0));
    let log_key = cast_log_key(&cast);
    let t = Instant::now();
    for (i, (id, key, installation, _)) in devs.iter().enumerate() {
        let state = doorman_agent::StateDir::new(work.path().join(format!("a{i}")));
        std::fs::create_dir_all(state.path()).unwrap();
        let mut bundle = None;
        for _ in 0..400 {
            bundle = cast.installer.activation(installation).ok();
            if bundle.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let bundle = serde_json::to_vec(&bundle.expect("an activation bundle")).unwrap();
        let activation =
            doorman_device::verify_activation(&bundle, &key.public(), &log_key, wall()).unwrap();
        let journal = doorman_agent::journal::Journal::open(
            state.path(),
            doorman_agent::journal::JournalLimits::default(),
        )
        .unwrap();
        let core = Arc::new(Mutex::new(doorman_agent::link::Core::new(
            activation.clone(),
            key.clone(),
            journal,
            Box::new(doorman_agent::door::SimulatedRelay::default()),
        )));
        let server_key = activation.config.server_key;
        let config = logins.config(id, key);
        let (client, mut eventloop) = rumqttc::AsyncClient::new(logins.options(&config), 64);
        eventloop.set_network_options(doorman_agent::link::network_options());
        let (id, key, connected) = (id.clone(), key.clone(), Arc::clone(&connected));
        runtime.spawn(async move {
            let up = up_topic(&id).unwrap();
            let mut inflight = None;
            let mut first = true;
            loop {
                match eventloop.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => {
                        let _ = client
                            .subscribe(down_topic(&id).unwrap(), rumqttc::QoS::AtLeastOnce)
                            .await;
                        let status = core.lock().unwrap().status(true);
                        let hello = Message {
                            device: id.clone(),
                            at: wall(),
                            body: Up::Status(status),
                        }
                        .sign(&key)
                        .unwrap();
                        let _ = client
                            .publish(up.clone(), rumqttc::QoS::AtLeastOnce, false, hello)
                            .await;
                        if first {
                            connected.fetch_add(1, Ordering::Relaxed);
                            first = false;
                        }
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let (core2, state2, id2) = (
                            Arc::clone(&core),
                            doorman_agent::StateDir::new(state.path()),
                            id.clone(),
                        );
                        let mut fl = inflight.take();
                        let handled = tokio::task::block_in_place(|| {
                            let mut fresh = || {
                                let mut n = [0u8; 32];
                                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut n);
                                n
                            };
                            doorman_agent::link::handle_down(
                                &p.payload,
                                &id2,
                                &server_key,
                                &core2,
                                &state2,
                                &wall,
                                &mut fresh,
                                &mut fl,
                                &|_| {},
                            )
                        });
                        inflight = fl;
                        if let doorman_agent::link::Handled::Reply(body) = handled {
                            // As the agent does (docs/mqtt.md): answers at most once.
                            let qos = if doorman_device::messages::at_most_once_up(&body) {
                                rumqttc::QoS::AtMostOnce
                            } else {
                                rumqttc::QoS::AtLeastOnce
                            };
                            let bytes = Message {
                                device: id.clone(),
                                at: wall(),
                                body,
                            }
                            .sign(&key)
                            .unwrap();
                            let _ = client.publish(up.clone(), qos, false, bytes).await;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        doorman_agent::link::next_client_id(&mut eventloop.mqtt_options, &config);
                    }
                }
            }
        });
    }
    while connected.load(Ordering::Relaxed) < devs.len() && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "{} doors connected in {:.1} s",
        devs.len(),
        t.elapsed().as_secs_f64()
    );
    // Wait until the server lists them online.
    while cast
        .manager
        .devices(&cast.property)
        .map(|d| d.devices.iter().filter(|d| d.online).count())
        .unwrap_or(0)
        < devs.len()
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    // Passes, minted before the clock starts: one per unlock.
    let total = (a.rate * a.duration) as usize;
    let now = wall();
    let soon = now.checked_add(SignedDuration::from_hours(1)).unwrap();
    let next = AtomicUsize::new(0);
    let passes = Mutex::new(vec![String::new(); total]);
    let doors: Vec<usize> = (0..total)
        .map(|_| rand::random::<usize>() % devs.len())
        .collect();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        break;
                    }
                    let d = doors[k];
                    let p = cast
                        .carrier
                        .mint_pass(
                            devs[d].3.as_ref().unwrap(),
                            &MintPassRequest {
                                door: format!("d{d}"),
                                unit: "1A".into(),
                                delivery: format!("L-{k}"),
                                driver: Some(cast.driver_id.clone()),
                                driver_key: None,
                                not_before: now,
                                not_after: soon,
                            },
                        )
                        .unwrap()
                        .token;
                    passes.lock().unwrap()[k] = p;
                }
            });
        }
    });
    let passes = passes.into_inner().unwrap();
    println!(
        "{total} passes minted; open-loop unlocks at {} /s for {} s",
        a.rate, a.duration
    );
    // Open loop: unlock k is due at start + k / rate.
    let results: Mutex<Vec<(f64, f64, bool)>> = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..64 {
            scope.spawn(|| {
                let client = Client::new(&cast.url);
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= total {
                        break;
                    }
                    let due = start + Duration::from_secs_f64(k as f64 / a.rate);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let d = doors[k];
                    let door = format!("d{d}");
                    let c = client.door_challenge(&cast.property, &door);
                    let Ok(c) = c else {
                        results.lock().unwrap().push((
                            f64::NAN,
                            due.elapsed().as_secs_f64() * 1e3,
                            false,
                        ));
                        continue;
                    };
                    let challenge = doorman_device::messages::ChallengeView {
                        nonce: c.nonce.clone(),
                        issued_at: c.issued_at.clone(),
                        property: c.property.clone(),
                        door: c.door.clone(),
                        device_key: c.device_key.clone(),
                    }
                    .to_challenge()
                    .unwrap();
                    let bytes = doorman_trust::token::decode(&passes[k]).unwrap();
                    let proof = challenge.prove(&cast.driver, &bytes, wall()).unwrap();
                    let t1 = Instant::now();
                    let r = client.unlock(
                        &cast.property,
                        &door,
                        &UnlockRequest {
                            device: c.device,
                            pass: passes[k].clone(),
                            nonce: c.nonce,
                            presented_at: proof.presented_at.to_string(),
                            signature: hex::encode(proof.signature),
                        },
                    );
                    let unlock_ms = t1.elapsed().as_secs_f64() * 1e3;
                    let both_ms = due.elapsed().as_secs_f64() * 1e3;
                    results.lock().unwrap().push((
                        unlock_ms,
                        both_ms,
                        r.is_ok_and(|r| r.result == "allow"),
                    ));
                }
            });
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let results = results.into_inner().unwrap();
    let allowed = results.iter().filter(|r| r.2).count();
    let mut unlock: Vec<f64> = results
        .iter()
        .map(|r| r.0)
        .filter(|v| v.is_finite())
        .collect();
    let mut both: Vec<f64> = results.iter().map(|r| r.1).collect();
    unlock.sort_by(f64::total_cmp);
    both.sort_by(f64::total_cmp);
    println!(
        "{} unlocks in {elapsed:.1} s ({:.0}/s), {allowed} allowed",
        results.len(),
        results.len() as f64 / elapsed
    );
    println!(
        "unlock step (API -> broker -> agent -> signed decision -> API): p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2}",
        pct(&unlock, 0.5),
        pct(&unlock, 0.9),
        pct(&unlock, 0.99),
        pct(&unlock, 1.0)
    );
    println!(
        "challenge + unlock, from the due time: p50 {:.2} ms, p90 {:.2}, p99 {:.2}, max {:.2}",
        pct(&both, 0.5),
        pct(&both, 0.9),
        pct(&both, 0.99),
        pct(&both, 1.0)
    );
    println!("server: {}", vm(pid));
}

fn cast_log_key(cast: &RemoteCast) -> doorman_tlog::NoteVerifier {
    let key = Client::new(&cast.url)
        .raw("GET", "/log/key", None, None)
        .unwrap()
        .body;
    doorman_tlog::NoteVerifier::parse(String::from_utf8(key).unwrap().trim()).unwrap()
}

fn main() {
    let a = args();
    match a.mode.as_str() {
        "connect" => connect(&a),
        "unlock" => unlock(&a),
        other => panic!("unknown mode {other}: connect or unlock"),
    }
}

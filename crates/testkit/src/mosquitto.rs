//! A real Mosquitto for tests: the machine's `mosquitto` binary with the configuration the
//! project ships (`deploy/mosquitto/doorman.conf`: no anonymous access, the dynamic-security
//! plugin, the packet limit) on a free loopback port, its plugin file made by the shipped
//! `deploy/mosquitto/setup.sh`. A missing `mosquitto` fails the test (CI installs it), it is
//! never skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running broker; killed on drop.
pub struct Mosquitto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    conf: PathBuf,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// The server's (the plugin admin's) password.
    pub password: String,
    /// With [`Mosquitto::start_with_tls`]: `mqtts://127.0.0.1:<port>`, the shipped TLS
    /// listener's lines with a certificate for 127.0.0.1 from a test CA.
    pub tls_addr: Option<String>,
    /// That test CA's certificate (PEM).
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for Mosquitto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mosquitto")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/mosquitto")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn mosquitto_binary() -> PathBuf {
    for p in [
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/usr/bin/mosquitto",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "mosquitto is not installed: apt-get install mosquitto mosquitto-clients (.ci/run does)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A CA and a server certificate for 127.0.0.1 in `dir` (`server.crt`, `server.key`); returns
/// the CA's certificate (PEM).
fn test_certificates(dir: &Path) -> Vec<u8> {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=doorman test CA",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("the extension file");
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    std::fs::read(dir.join("ca.crt")).expect("the CA certificate")
}

impl Mosquitto {
    /// Starts a broker with the shipped configuration on a free port.
    pub fn start() -> Mosquitto {
        Mosquitto::start_inner(false)
    }

    /// Also enables the shipped configuration's TLS listener (on another free port, loopback),
    /// with a server certificate for 127.0.0.1 signed by a CA made for this broker (by the
    /// `openssl` command).
    pub fn start_with_tls() -> Mosquitto {
        Mosquitto::start_inner(true)
    }

    fn start_inner(tls: bool) -> Mosquitto {
        let dir = tempfile::tempdir().expect("a broker dir");
        let port = free_port();
        let dynsec = dir.path().join("dynamic-security.json");
        let password = format!("test-{port}-broker-admin");
        let status = Command::new("sh")
            .arg(deploy().join("setup.sh"))
            .arg(&dynsec)
            .arg(&password)
            .stdout(Stdio::null())
            .status()
            .expect("running deploy/mosquitto/setup.sh");
        assert!(status.success(), "deploy/mosquitto/setup.sh failed");
        let shipped = std::fs::read_to_string(deploy().join("doorman.conf"))
            .expect("deploy/mosquitto/doorman.conf");
        let tls_port = free_port();
        let certs = tls.then(|| test_certificates(dir.path()));
        let conf_text: String = shipped
            .lines()
            .map(|l| {
                let shown = |l: &str| {
                    // The commented TLS lines, enabled with this broker's port and files.
                    let l = l.trim_start_matches('#');
                    if l.starts_with("listener 8883 ") {
                        format!("listener {tls_port} 127.0.0.1")
                    } else if l.starts_with("certfile ") {
                        format!("certfile {}", dir.path().join("server.crt").display())
                    } else if l.starts_with("keyfile ") {
                        format!("keyfile {}", dir.path().join("server.key").display())
                    } else {
                        l.to_string()
                    }
                };
                if l.starts_with("listener 18884 ") {
                    format!("listener {port} 127.0.0.1")
                } else if l.starts_with("plugin_opt_config_file ") {
                    format!("plugin_opt_config_file {}", dynsec.display())
                } else if tls
                    && [
                        "#listener 8883 ",
                        "#certfile ",
                        "#keyfile ",
                        "#tls_version ",
                    ]
                    .iter()
                    .any(|p| l.starts_with(p))
                {
                    shown(l)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        if tls {
            assert!(
                conf_text.contains(&format!("listener {tls_port} "))
                    && conf_text.contains("\ncertfile "),
                "the shipped config's TLS lines changed"
            );
        }
        assert!(
            conf_text.contains(&format!("listener {port} ")),
            "the shipped config changed"
        );
        // Started as root, mosquitto drops to the `mosquitto` user, which cannot read this
        // test's private temporary dir; a deployment owns the plugin file by `mosquitto`
        // (setup.sh does) instead.
        let conf_text = if is_root() {
            format!("{conf_text}\nuser root\n")
        } else {
            conf_text
        };
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, conf_text).expect("writing the broker config");
        let mut m = Mosquitto {
            child: None,
            dir,
            conf,
            addr: format!("127.0.0.1:{port}"),
            password,
            tls_addr: tls.then(|| format!("mqtts://127.0.0.1:{tls_port}")),
            ca_pem: certs,
        };
        m.launch();
        m
    }

    fn launch(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("mosquitto.log")).expect("a log");
        let child = Command::new(mosquitto_binary())
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting mosquitto");
        self.child = Some(child);
        let tls = self
            .tls_addr
            .as_ref()
            .map(|a| a.trim_start_matches("mqtts://").to_string());
        for _ in 0..200 {
            if std::net::TcpStream::connect(&self.addr).is_ok()
                && tls
                    .as_ref()
                    .is_none_or(|a| std::net::TcpStream::connect(a).is_ok())
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("mosquitto did not listen on {}: {}", self.addr, self.log());
    }

    /// What the broker logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Kills the broker (SIGKILL) and starts it again on the same port and plugin file.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The server configuration that uses this broker.
    pub fn broker_config(&self) -> doorman_server::devices::BrokerConfig {
        doorman_server::devices::BrokerConfig::External {
            addr: self.addr.clone(),
            username: doorman_server::devices::SERVER_USER.to_string(),
            password: self.password.clone(),
            dynsec: true,
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

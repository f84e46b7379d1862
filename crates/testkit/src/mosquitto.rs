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

impl Mosquitto {
    /// Starts a broker with the shipped configuration on a free port.
    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().expect("a broker dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
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
        let conf_text: String = shipped
            .lines()
            .map(|l| {
                if l.starts_with("listener 18884 ") {
                    format!("listener {port} 127.0.0.1")
                } else if l.starts_with("plugin_opt_config_file ") {
                    format!("plugin_opt_config_file {}", dynsec.display())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
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
        for _ in 0..200 {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
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

//! `doorman-agent`: the program on the small Linux box wired to a door's release relay.
//!
//! This first part covers the device's identity and activation:
//!
//! - **First start** (`doorman-agent init`): the agent generates its own Ed25519 key in its
//!   state dir (mode 0600; the key never leaves the box), is provisioned with the public log's
//!   verifier key, and prints the enrolment data the installer files with the installation
//!   request: device id, public key and a short code to compare by eye or over the phone.
//! - **Activation** (`doorman-agent activate`): the agent verifies the activation bundle itself
//!   ([`doorman_device::verify_activation`]) — the consent names its key and door, is signed by
//!   the property key, and both the consent and the property's registration are in the public
//!   log under the provisioned log key — and only then keeps it. Otherwise it stays inactive
//!   and says why, with a stable code.
//! - **Status** (`doorman-agent status`): re-verifies what it keeps, at the current time (a
//!   consent expires; a kept bundle that no longer verifies makes the agent inactive).
//!
//! - **Serving** (`doorman-agent run`): [`door`] decides, [`journal`] records, [`local`] takes
//!   presentations on a socket, and [`link`] talks to the server over MQTT (docs/mqtt.md):
//!   uploads the journal, takes forwarded passes and pushed state, reports its status.
//!
//! # State dir
//!
//! | file | what |
//! | --- | --- |
//! | `device.key` | the device's private key (PKCS#8 PEM, mode 0600, never overwritten) |
//! | `agent.json` | `{"device_id": …, "device_key": …, "log_key": …}`: identity and the provisioned log key |
//! | `activation.json` | the accepted activation bundle, as received (mode 0600, replaced atomically) |
//! | `state.json` | the newest signed state the server pushed since (`{"revocations":…,"service":…,"config":…}`) |
//! | `journal.log`, `journal.ack` | the decisions not yet acknowledged, and the last acknowledgement |

pub mod door;
pub mod embedded;
pub mod fuzzing;
pub mod journal;
pub mod link;
pub mod local;
pub mod relay;
pub mod tls;

use std::path::{Path, PathBuf};

use doorman_device::{Activation, ActivationError, verify_activation};
use doorman_tlog::NoteVerifier;
use doorman_trust::{PublicKey, SecretKey};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The device key's file in the state dir.
pub const KEY_FILE: &str = "device.key";
/// The identity file.
pub const IDENTITY_FILE: &str = "agent.json";
/// The accepted activation bundle.
pub const ACTIVATION_FILE: &str = "activation.json";
/// The newest pushed state documents.
pub const STATE_FILE: &str = "state.json";

/// Signed state documents as pushed (each verified again whenever it is read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushedState {
    pub revocations: Option<String>,
    pub service: Option<String>,
    pub config: Option<String>,
}

/// Why the agent could not do what was asked. Each has a stable [`code`](AgentError::code).
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error(
        "{0} already holds a device identity; a device key is never replaced (use a new state dir for a new device)"
    )]
    AlreadyInitialised(String),
    #[error("{0} holds no device identity yet: run `doorman-agent init` first")]
    NotInitialised(String),
    #[error("the log key is not a signed-note verifier key (origin+keyhash+base64): {0}")]
    BadLogKey(String),
    #[error("the device id is invalid: {0}")]
    BadDeviceId(String),
    #[error("the state dir is damaged: {0}")]
    Damaged(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error("activation refused: {0}")]
    Activation(#[from] ActivationError),
    #[error("the door did not open")]
    Refused,
    #[error("the device stopped serving its door: {0}")]
    Retired(String),
}

impl AgentError {
    /// A stable code for scripts and the installer's app.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::AlreadyInitialised(_) => "already_initialised",
            AgentError::NotInitialised(_) => "not_initialised",
            AgentError::BadLogKey(_) => "bad_log_key",
            AgentError::BadDeviceId(_) => "bad_device_id",
            AgentError::Damaged(_) => "damaged_state",
            AgentError::Io { .. } => "io",
            AgentError::Activation(e) => e.code(),
            AgentError::Refused => "refused",
            AgentError::Retired(_) => "retired",
        }
    }
}

/// What the installer files with the installation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    pub device_id: String,
    /// `ed25519/<hex>`.
    pub device_key: String,
    /// Eight digits derived from the key, `1234-5678`, to compare with what the server shows.
    pub short_code: String,
}

impl Enrolment {
    /// What the QR code holds: the enrolment as compact JSON, for the installer's app to
    /// scan instead of typing the key.
    pub fn qr_payload(&self) -> String {
        serde_json::json!({
            "doorman_enrolment": 1,
            "device_id": self.device_id,
            "device_key": self.device_key,
            "short_code": self.short_code,
        })
        .to_string()
    }

    /// The QR code of [`Enrolment::qr_payload`], drawn with Unicode half blocks (two rows of
    /// modules per line), light on dark as terminals usually show it; `None` if it can't be
    /// encoded (it always fits: the payload is about 150 bytes).
    pub fn qr(&self) -> Option<String> {
        use qrcode::render::unicode::Dense1x2;
        let code = qrcode::QrCode::with_error_correction_level(
            self.qr_payload().as_bytes(),
            qrcode::EcLevel::M,
        )
        .ok()?;
        Some(
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        )
    }
}

impl std::fmt::Display for Enrolment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "device id:  {}", self.device_id)?;
        writeln!(f, "device key: {}", self.device_key)?;
        write!(f, "short code: {}", self.short_code)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identity {
    device_id: String,
    device_key: String,
    log_key: String,
}

/// The default device id for a key: `dev_` and the first 16 hex digits of SHA-256 of the key.
pub fn default_device_id(key: &PublicKey) -> String {
    let digest: [u8; 32] = Sha256::digest(key.to_bytes()).into();
    let [a, b, c, d, e, f, g, h, ..] = digest;
    format!("dev_{}", hex::encode([a, b, c, d, e, f, g, h]))
}

/// The short code of a key: eight decimal digits from a domain-separated SHA-256 of it.
pub fn short_code(key: &PublicKey) -> String {
    let mut h = Sha256::new();
    h.update(b"doorman short code v1\0");
    h.update(key.to_bytes());
    let digest: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = digest;
    let n = u32::from_be_bytes([a, b, c, d]) % 100_000_000;
    format!("{:04}-{:04}", n / 10_000, n % 10_000)
}

/// A state dir.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> AgentError {
    let path = path.display().to_string();
    move |source| AgentError::Io { what, path, source }
}

impl StateDir {
    pub fn new(path: impl Into<PathBuf>) -> StateDir {
        StateDir { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// First start: generates the device key and writes the identity, provisioned with the
    /// public log's verifier key `log_key`. Refuses a state dir that already has a key.
    pub fn init(&self, log_key: &str, device_id: Option<&str>) -> Result<Enrolment, AgentError> {
        NoteVerifier::parse(log_key.trim()).map_err(|e| AgentError::BadLogKey(e.to_string()))?;
        if self.file(KEY_FILE).exists() || self.file(IDENTITY_FILE).exists() {
            return Err(AgentError::AlreadyInitialised(
                self.path.display().to_string(),
            ));
        }
        std::fs::create_dir_all(&self.path)
            .map_err(io("cannot create the state dir", &self.path))?;
        let key = SecretKey::generate(&mut rand::rngs::OsRng);
        let public = key.public();
        let device_id = match device_id {
            Some(id) => doorman_core::DeviceId::new(id)
                .map_err(|e| AgentError::BadDeviceId(e.to_string()))?
                .to_string(),
            None => default_device_id(&public),
        };
        let pem = key
            .to_pem()
            .map_err(|e| AgentError::Damaged(format!("cannot encode the new key: {e}")))?;
        let key_path = self.file(KEY_FILE);
        doorman_files::write_new_private_file(&key_path, pem.as_bytes()).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                AgentError::AlreadyInitialised(self.path.display().to_string())
            } else {
                io("cannot write the device key", &key_path)(e)
            }
        })?;
        let identity = Identity {
            device_id: device_id.clone(),
            device_key: public.to_string(),
            log_key: log_key.trim().to_string(),
        };
        let id_path = self.file(IDENTITY_FILE);
        let json =
            serde_json::to_vec_pretty(&identity).map_err(|e| AgentError::Damaged(e.to_string()))?;
        doorman_files::replace_private_file(&id_path, &json)
            .map_err(io("cannot write the identity", &id_path))?;
        Ok(Enrolment {
            device_id,
            device_key: public.to_string(),
            short_code: short_code(&public),
        })
    }

    fn identity(&self) -> Result<(Identity, SecretKey, NoteVerifier), AgentError> {
        let key_path = self.file(KEY_FILE);
        if !key_path.exists() {
            return Err(AgentError::NotInitialised(self.path.display().to_string()));
        }
        let pem = doorman_files::read_private_file(&key_path, "the device key")
            .map_err(|e| AgentError::Damaged(e.to_string()))?;
        let key = SecretKey::from_pem(&pem)
            .map_err(|e| AgentError::Damaged(format!("{}: {e}", key_path.display())))?;
        let id_path = self.file(IDENTITY_FILE);
        let bytes = std::fs::read(&id_path).map_err(io("cannot read the identity", &id_path))?;
        let identity: Identity = serde_json::from_slice(&bytes)
            .map_err(|e| AgentError::Damaged(format!("{}: {e}", id_path.display())))?;
        if identity.device_key != key.public().to_string() {
            return Err(AgentError::Damaged(format!(
                "{} names key {}, but {} holds {}",
                id_path.display(),
                identity.device_key,
                key_path.display(),
                key.public()
            )));
        }
        let log = NoteVerifier::parse(&identity.log_key)
            .map_err(|e| AgentError::Damaged(format!("the provisioned log key: {e}")))?;
        Ok((identity, key, log))
    }

    /// The device's key pair (secret, public).
    pub fn keys(&self) -> Result<(SecretKey, PublicKey), AgentError> {
        let (_, key, _) = self.identity()?;
        let public = key.public();
        Ok((key, public))
    }

    /// The device's secret key.
    pub fn device_key(&self) -> Result<SecretKey, AgentError> {
        Ok(self.keys()?.0)
    }

    /// The enrolment data again (what `init` printed).
    pub fn enrolment(&self) -> Result<Enrolment, AgentError> {
        let (identity, key, _) = self.identity()?;
        Ok(Enrolment {
            device_id: identity.device_id,
            device_key: identity.device_key,
            short_code: short_code(&key.public()),
        })
    }

    /// Verifies `bundle` for this device at `now` and, only if it verifies, keeps it (replacing
    /// an earlier activation). A refused bundle changes nothing.
    pub fn activate(&self, bundle: &[u8], now: Timestamp) -> Result<Activation, AgentError> {
        let (_, key, log) = self.identity()?;
        let activation = verify_activation(bundle, &key.public(), &log, now)?;
        let path = self.file(ACTIVATION_FILE);
        doorman_files::replace_private_file(&path, bundle)
            .map_err(io("cannot keep the activation", &path))?;
        Ok(activation)
    }

    /// The kept activation, verified again at `now`: `Ok(None)` if never activated.
    pub fn activation(&self, now: Timestamp) -> Result<Option<Activation>, AgentError> {
        let (_, key, log) = self.identity()?;
        let path = self.file(ACTIVATION_FILE);
        let bundle = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("cannot read the activation", &path)(e)),
        };
        let mut activation = verify_activation(&bundle, &key.public(), &log, now)?;
        // State pushed since: applied again (each document verified again, only newer kept).
        let pushed = self.pushed_state()?;
        if pushed != PushedState::default() {
            match activation.apply_state(
                pushed.revocations.as_deref(),
                pushed.service.as_deref(),
                pushed.config.as_deref(),
            ) {
                Ok(update) if update.consent_revoked => {
                    return Err(AgentError::Activation(ActivationError::ConsentRevoked));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(AgentError::Damaged(format!(
                        "{STATE_FILE} no longer verifies: {e} [{}]",
                        e.code()
                    )));
                }
            }
        }
        Ok(Some(activation))
    }

    fn pushed_state(&self) -> Result<PushedState, AgentError> {
        let path = self.file(STATE_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| AgentError::Damaged(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PushedState::default()),
            Err(e) => Err(io("cannot read the pushed state", &path)(e)),
        }
    }

    /// Keeps pushed state documents that were applied (merged with those kept before: a
    /// push may carry only some of them).
    pub fn keep_state(&self, pushed: &PushedState) -> Result<(), AgentError> {
        let mut kept = self.pushed_state().unwrap_or_default();
        if pushed.revocations.is_some() {
            kept.revocations.clone_from(&pushed.revocations);
        }
        if pushed.service.is_some() {
            kept.service.clone_from(&pushed.service);
        }
        if pushed.config.is_some() {
            kept.config.clone_from(&pushed.config);
        }
        let path = self.file(STATE_FILE);
        let bytes = serde_json::to_vec(&kept).map_err(|e| AgentError::Damaged(e.to_string()))?;
        doorman_files::replace_private_file(&path, &bytes)
            .map_err(io("cannot keep the pushed state", &path))
    }

    /// Forgets the activation and the state pushed for it (decommissioned, or its consent
    /// revoked). The key, identity and journal stay: the device can be activated again, and
    /// decisions not yet uploaded are not lost.
    pub fn forget(&self) -> Result<(), AgentError> {
        for name in [ACTIVATION_FILE, STATE_FILE] {
            let path = self.file(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("cannot forget", &path)(e)),
            }
        }
        Ok(())
    }

    /// The device id and key pair.
    pub fn identity_keys(&self) -> Result<(String, SecretKey), AgentError> {
        let (identity, key, _) = self.identity()?;
        Ok((identity.device_id, key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_holds_the_enrolment_as_json() {
        let e = Enrolment {
            device_id: "dev_1".into(),
            device_key: "ed25519/00".into(),
            short_code: "1234-5678".into(),
        };
        let v: serde_json::Value = serde_json::from_str(&e.qr_payload()).unwrap();
        assert_eq!(v["doorman_enrolment"], 1);
        assert_eq!(v["device_id"], "dev_1");
        assert_eq!(v["device_key"], "ed25519/00");
        assert_eq!(v["short_code"], "1234-5678");
        assert!(e.qr().is_some_and(|q| q.lines().count() > 10));
    }
}

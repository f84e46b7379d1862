//! `doorman state`: the signed device state of a self-custody property — its revocation list
//! and service state — signed on the owner's machine with the property key, which the server
//! never holds.
//!
//! - `state sign --property-key KEY PAYLOAD` (offline): signs one payload (base64url, as the
//!   server gives it in `pending_payload`) and prints the signed document.
//! - `state push --property P --property-key KEY` (online): fetches both pending payloads,
//!   checks they are for this property and key, signs them and uploads them. Run it after every
//!   revocation or switch change, and at least daily (from cron, say): devices refuse passes
//!   once their list is older than their offline bound (24 h by default).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::Subcommand;
use doorman_trust::{DeviceConfig, RevocationList, SecretKey, ServiceState};

use super::Conn;
use crate::files::read_secret_key;

#[derive(Debug, Subcommand)]
pub enum StateCmd {
    /// Sign one pending payload (a revocation list, a service state or a device configuration)
    /// with the property key, offline; prints the signed document to upload.
    Sign {
        /// The property's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        property_key: PathBuf,
        /// The payload, base64url, as `GET …/revocations` or `GET …/service` gives it.
        payload: String,
        /// Write the document here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Fetch a self-custody property's pending revocation list and service state, sign both
    /// with the property key and upload them.
    Push {
        #[arg(long, value_name = "PROPERTY")]
        property: String,
        /// The property's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        property_key: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
}

/// A payload signed: which kind, its seq, the document.
fn sign(key: &SecretKey, payload_b64: &str) -> Result<(&'static str, u64, String)> {
    let payload = URL_SAFE_NO_PAD.decode(payload_b64.trim()).context(
        "the payload is not base64url (copy it whole from the server's pending_payload)",
    )?;
    let kind: serde_json::Value =
        serde_json::from_slice(&payload).context("the payload is not JSON")?;
    let (name, seq, doc) = match kind.get("type").and_then(|t| t.as_str()) {
        Some("revocation_list") => {
            let list =
                RevocationList::from_payload(&payload).context("reading the revocation list")?;
            ("revocation list", list.seq, list.sign(key)?)
        }
        Some("service_state") => {
            let state =
                ServiceState::from_payload(&payload).context("reading the service state")?;
            ("service state", state.seq, state.sign(key)?)
        }
        Some("device_config") => {
            let config =
                DeviceConfig::from_payload(&payload).context("reading the device configuration")?;
            ("device configuration", config.seq, config.sign(key)?)
        }
        other => bail!(
            "the payload is a {other:?}, not a revocation_list, service_state or device_config"
        ),
    };
    Ok((
        name,
        seq,
        String::from_utf8(doc).context("a signed document is UTF-8")?,
    ))
}

/// Signs a device configuration payload after `check` accepted what it says and set what the
/// owner chose (the relay pulse, the offline bound); returns its seq and the document.
pub fn sign_config(
    key: &SecretKey,
    payload_b64: &str,
    check: impl FnOnce(&mut DeviceConfig) -> Result<()>,
) -> Result<(u64, String)> {
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64.trim())
        .context("the server's payload is not base64url")?;
    let mut config =
        DeviceConfig::from_payload(&payload).context("reading the device configuration")?;
    check(&mut config)?;
    let doc = config
        .sign(key)
        .context("signing the device configuration")?;
    Ok((
        config.seq,
        String::from_utf8(doc).context("a signed document is UTF-8")?,
    ))
}

#[allow(clippy::print_stdout)]
pub fn run(cmd: StateCmd) -> Result<()> {
    match cmd {
        StateCmd::Sign {
            property_key,
            payload,
            out,
        } => {
            let key = read_secret_key(&property_key)?;
            let (name, seq, doc) = sign(&key, &payload)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{doc}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!("signed the {name} (seq {seq}) into {}", path.display());
                }
                None => println!("{doc}"),
            }
            Ok(())
        }
        StateCmd::Push {
            property,
            property_key,
            conn,
        } => {
            let key = read_secret_key(&property_key)?;
            let api = conn.connect()?;
            let p = api.call("reading the property", |c| c.property(&property))?;
            if p.public_key != key.public().to_string() {
                bail!(
                    "{} is not the key of {property} (its key is {}); give the property's own key",
                    property_key.display(),
                    p.public_key
                );
            }
            if p.custody != "self" {
                bail!("{property} is custodial: the server signs its state itself");
            }
            let revocations = api.call("reading the revocations", |c| c.revocations(&property))?;
            let service = api.call("reading the switch", |c| c.service(&property))?;
            for pending in [revocations.pending_payload, service.pending_payload]
                .into_iter()
                .flatten()
            {
                let (name, seq, doc) = sign(&key, &pending)?;
                let stored = if name == "revocation list" {
                    api.call("uploading the revocation list", |c| {
                        c.upload_revocations(&property, &doc)
                    })?
                } else {
                    api.call("uploading the service state", |c| {
                        c.upload_service(&property, &doc)
                    })?
                };
                eprintln!("uploaded the {name} seq {seq}, issued {}", stored.issued_at);
            }
            Ok(())
        }
    }
}

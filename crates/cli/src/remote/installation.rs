//! Installation requests: an installer files one for a door with the device's enrolment data
//! and photos; the property's owner or manager approves it (the server signs the consent,
//! or checks the one signed offline for a self-custody property), rejects or revokes it.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use doorman_proto::{ApproveRequest, CreateInstallationRequest, EvidenceView, InstallationView};
use doorman_trust::token;
use jiff::Timestamp;

use super::Conn;
use super::output::{self, OutputOpts, Row, Show, opt, time};
use super::property::decision;

/// The largest photo the server takes (10 MiB).
const MAX_PHOTO: u64 = 10 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum InstallationCmd {
    /// File a request to put a device on a door (installers), with photos of the work.
    Request(RequestArgs),
    /// Requests you can see: a property's (owners, managers) or your organisation's
    /// (installers).
    List {
        #[arg(long, value_name = "PROPERTY")]
        property: Option<String>,
        #[arg(long, value_name = "STATUS", value_parser = ["requested", "approved", "rejected", "revoked"])]
        status: Option<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// One request, with its photos and consent.
    Show {
        #[arg(value_name = "ID")]
        id: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Approve a request (the property's owner or manager, never its installer): the consent
    /// is signed and logged publicly.
    Approve {
        #[arg(value_name = "ID")]
        id: String,
        /// When the consent starts (RFC 3339, now, +DURATION) [default: now].
        #[arg(long, value_name = "T", value_parser = super::parse_time)]
        not_before: Option<Timestamp>,
        /// When the consent ends [default: a year from now].
        #[arg(long, value_name = "T", value_parser = super::parse_time)]
        not_after: Option<Timestamp>,
        /// Self-custody: the consent token signed offline (`doorman consent sign`), a file or -.
        #[arg(long, value_name = "FILE")]
        consent: Option<String>,
        /// A note for the record.
        #[arg(long, value_name = "TEXT")]
        note: Option<String>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Reject a request with a reason code (a-z, 0-9, _: wiring_unsafe).
    Reject {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "CODE")]
        reason: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// Revoke an approved request's consent (the device must stop) with a reason code.
    Revoke {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(long, value_name = "CODE")]
        reason: String,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
    /// A request's photos.
    #[command(subcommand)]
    Evidence(EvidenceCmd),
    /// Self-custody: sign an approved installation's device configuration with the property
    /// key (offline key, online call) and upload it, so the device can be activated.
    SignConfig {
        #[arg(value_name = "ID")]
        id: String,
        /// The property's private key (PKCS#8 PEM).
        #[arg(long, value_name = "FILE")]
        property_key: PathBuf,
        /// How long the door release is pulsed on an entry, in milliseconds (default: what
        /// the server proposes, 3000).
        #[arg(long, value_name = "MS")]
        pulse_ms: Option<u32>,
        /// The offline bound: the device refuses every pass once its revocation list is older
        /// than this, e.g. 12h (default: what the server proposes, 24h; at most 30 days).
        #[arg(long, value_name = "DURATION", value_parser = parse_bound)]
        offline_bound: Option<jiff::SignedDuration>,
        #[command(flatten)]
        conn: Conn,
    },
    /// The device's activation bundle (installers): give it to `doorman-agent activate`.
    Activation {
        #[arg(value_name = "ID")]
        id: String,
        /// Write it here instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Debug, Args)]
pub struct RequestArgs {
    #[arg(long, value_name = "PROPERTY")]
    property: String,
    #[arg(long, value_name = "DOOR")]
    door: String,
    /// The device's id, as it printed it at first start.
    #[arg(long, value_name = "ID")]
    device_id: String,
    /// The device's public key, ed25519/…, as it printed it.
    #[arg(long, value_name = "PUB")]
    device_key: String,
    /// Wiring notes (at most 8 KiB).
    #[arg(long, value_name = "TEXT", default_value = "")]
    notes: String,
    /// A photo of the work (JPEG, PNG, WebP or HEIC, at most 10 MiB); repeat for several.
    #[arg(long = "photo", value_name = "FILE")]
    photos: Vec<PathBuf>,
    /// Your installer organisation, if you belong to several.
    #[arg(long, value_name = "ORG")]
    installer: Option<String>,
    #[command(flatten)]
    conn: Conn,
    #[command(flatten)]
    out: OutputOpts,
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCmd {
    /// Download photo number N of a request.
    Get {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(value_name = "N")]
        number: u32,
        /// Where to write it.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        conn: Conn,
    },
    /// Attach more photos to an open request.
    Add {
        #[arg(value_name = "ID")]
        id: String,
        #[arg(value_name = "FILE", required = true)]
        photos: Vec<PathBuf>,
        #[command(flatten)]
        conn: Conn,
        #[command(flatten)]
        out: OutputOpts,
    },
}

/// A photo read and typed, ready to upload.
struct Photo {
    path: PathBuf,
    content_type: &'static str,
    bytes: Vec<u8>,
}

/// The image type the file's first bytes say.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        Some("image/webp")
    } else if bytes.get(4..8) == Some(b"ftyp") {
        match bytes.get(8..12) {
            Some(b"heic" | b"heix" | b"hevc" | b"hevx") => Some("image/heic"),
            _ => Some("image/heif"),
        }
    } else {
        None
    }
}

/// The image type the file's name says.
fn by_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jpg" | "jpeg" => Some("image/jpeg"),
        "png" => Some("image/png"),
        "webp" => Some("image/webp"),
        "heic" => Some("image/heic"),
        "heif" => Some("image/heif"),
        _ => None,
    }
}

/// Reads a photo and decides its content type from its bytes, checked against its name.
fn read_photo(path: &Path) -> Result<Photo> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PHOTO + 1).read_to_end(&mut bytes))
        .with_context(|| format!("reading the photo {}", path.display()))?;
    if bytes.len() as u64 > MAX_PHOTO {
        bail!(
            "{}: over 10 MiB, the largest photo the server takes",
            path.display()
        );
    }
    let content_type = match (sniff(&bytes), by_extension(path)) {
        (Some(t), Some(e))
            if t != e && !(t.starts_with("image/hei") && e.starts_with("image/hei")) =>
        {
            bail!(
                "{}: the name says {e} but the file is {t}; rename it or check it is the right file",
                path.display()
            )
        }
        (Some(t), _) => t,
        (None, _) => bail!(
            "{}: not a JPEG, PNG, WebP or HEIC image (its first bytes say otherwise)",
            path.display()
        ),
    };
    Ok(Photo {
        path: path.to_path_buf(),
        content_type,
        bytes,
    })
}

fn upload(api: &super::Api, id: &str, photos: &[Photo]) -> Result<Vec<EvidenceView>> {
    let mut done = Vec::new();
    for p in photos {
        let e = api.call(&format!("uploading {}", p.path.display()), |c| {
            c.upload_evidence(id, p.content_type, &p.bytes)
        })?;
        eprintln!(
            "photo {} attached: {} ({}, {} bytes)",
            e.number,
            p.path.display(),
            e.content_type,
            e.size
        );
        done.push(e);
    }
    Ok(done)
}

pub fn run(cmd: InstallationCmd) -> Result<()> {
    match cmd {
        InstallationCmd::Request(a) => {
            // Every photo is read and typed before anything is filed.
            let photos = a
                .photos
                .iter()
                .map(|p| read_photo(p))
                .collect::<Result<Vec<_>>>()?;
            let api = a.conn.connect()?;
            let mut req = api.call("filing the installation request", |c| {
                c.file_installation(&CreateInstallationRequest {
                    property: a.property,
                    door: a.door,
                    device_id: a.device_id,
                    device_key: a.device_key,
                    notes: a.notes,
                    installer: a.installer,
                })
            })?;
            let id = req.id.clone();
            match upload(&api, &id, &photos) {
                Ok(evidence) => req.evidence.extend(evidence),
                Err(e) => {
                    return Err(e.context(format!(
                        "request {id} was filed; attach the remaining photos with \
                         `doorman installation evidence add {id} FILE…`"
                    )));
                }
            }
            output::one(a.out, &req)
        }
        InstallationCmd::List {
            property,
            status,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            let list = api.call("listing installation requests", |c| {
                c.installations(property.as_deref(), status.as_deref())
            })?;
            output::list(out, &list)
        }
        InstallationCmd::Show { id, conn, out } => {
            let api = conn.connect()?;
            let i = api.call("reading the installation request", |c| c.installation(&id))?;
            output::one(out, &i)?;
            if !out.json && !out.quiet && !i.evidence.is_empty() {
                print!(
                    "{}",
                    output::table(EvidenceView::HEADERS, i.evidence.iter().map(Row::row))
                );
            }
            Ok(())
        }
        InstallationCmd::Approve {
            id,
            not_before,
            not_after,
            consent,
            note,
            conn,
            out,
        } => {
            let consent = consent
                .map(|c| {
                    crate::files::read_token(&c)
                        .context("reading --consent")
                        .map(|b| token::encode(&b))
                })
                .transpose()?;
            let api = conn.connect()?;
            let i = api.call("approving the request", |c| {
                c.approve(
                    &id,
                    &ApproveRequest {
                        not_before,
                        not_after,
                        consent,
                        note,
                    },
                )
            })?;
            output::one(out, &i)
        }
        InstallationCmd::Reject {
            id,
            reason,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            output::one(
                out,
                &api.call("rejecting the request", |c| c.reject(&id, &reason))?,
            )
        }
        InstallationCmd::Revoke {
            id,
            reason,
            conn,
            out,
        } => {
            let api = conn.connect()?;
            output::one(
                out,
                &api.call("revoking the consent", |c| c.revoke_consent(&id, &reason))?,
            )
        }
        InstallationCmd::SignConfig {
            id,
            property_key,
            pulse_ms,
            offline_bound,
            conn,
        } => {
            let key = crate::files::read_secret_key(&property_key)?;
            let api = conn.connect()?;
            let i = api.call("reading the request", |c| c.installation(&id))?;
            let p = api.call("reading the property", |c| c.property(&i.property))?;
            if p.public_key != key.public().to_string() {
                bail!(
                    "{} is not the key of {} (its key is {}); give the property's own key",
                    property_key.display(),
                    i.property,
                    p.public_key
                );
            }
            let pending = api.call("reading the configuration", |c| c.activation_config(&id))?;
            let Some(payload) = pending.pending_payload else {
                bail!(
                    "{} is custodial: the server signs its device configurations itself",
                    i.property
                );
            };
            let (seq, doc) = super::state::sign_config(&key, &payload, |config| {
                if config.property.as_str() != i.property
                    || config.door.as_str() != i.door
                    || config.device_key.to_string() != i.device_key
                {
                    bail!(
                        "the server's configuration is not for this request's property, door and device; not signed"
                    );
                }
                if let Some(ms) = pulse_ms {
                    config.pulse_ms = ms;
                }
                if let Some(bound) = offline_bound {
                    config.revocation_max_age_s =
                        u32::try_from(bound.as_secs()).unwrap_or(u32::MAX);
                }
                // What the owner delegates by signing: this server may send the device its
                // messages (never open a door: passes still need the owner's key).
                eprintln!(
                    "signing for {} door {}: relay pulse {} ms, offline bound {} s, clock tolerance {} s, server key {}",
                    i.property,
                    i.door,
                    config.pulse_ms,
                    config.revocation_max_age_s,
                    config.clock_skew_tolerance_s,
                    config.server_key
                );
                Ok(())
            })?;
            api.call("uploading the configuration", |c| {
                c.upload_activation_config(&id, &doc)
            })?;
            eprintln!(
                "signed and uploaded the device configuration of {id} (seq {seq}); the installer can fetch the activation bundle now"
            );
            Ok(())
        }
        InstallationCmd::Activation { id, out, conn } => {
            let api = conn.connect()?;
            let bundle = api.call("fetching the activation bundle", |c| c.activation(&id))?;
            let text = serde_json::to_string_pretty(&bundle)?;
            match out {
                Some(path) => {
                    std::fs::write(&path, format!("{text}\n"))
                        .with_context(|| format!("writing {}", path.display()))?;
                    eprintln!(
                        "wrote the activation bundle of {id} to {}: on the device, `doorman-agent activate {}`",
                        path.display(),
                        path.display()
                    );
                }
                None => {
                    #[allow(clippy::print_stdout)]
                    {
                        println!("{text}");
                    }
                }
            }
            Ok(())
        }
        InstallationCmd::Evidence(EvidenceCmd::Get {
            id,
            number,
            out,
            conn,
        }) => {
            let api = conn.connect()?;
            let (content_type, bytes) = api.call(&format!("downloading photo {number}"), |c| {
                c.evidence(&id, number)
            })?;
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "photo {number} of {id}: {} bytes ({content_type}) written to {}",
                bytes.len(),
                out.display()
            );
            Ok(())
        }
        InstallationCmd::Evidence(EvidenceCmd::Add {
            id,
            photos,
            conn,
            out,
        }) => {
            let photos = photos
                .iter()
                .map(|p| read_photo(p))
                .collect::<Result<Vec<_>>>()?;
            let api = conn.connect()?;
            let done = upload(&api, &id, &photos)?;
            output::list(out, &doorman_proto::List::new(done))
        }
    }
}

impl Show for InstallationView {
    fn key(&self) -> String {
        self.id.clone()
    }
    fn fields(&self) -> Vec<(&'static str, String)> {
        let consent = self
            .consent
            .as_ref()
            .map(|c| {
                format!(
                    "{} .. {}, revocation id {}{}",
                    time(&c.not_before),
                    time(&c.not_after),
                    c.revocation_id,
                    c.log_index
                        .map(|i| format!(", public log index {i}"))
                        .unwrap_or_default()
                )
            })
            .unwrap_or_default();
        vec![
            ("id", self.id.clone()),
            ("property", self.property.clone()),
            ("door", self.door.clone()),
            ("installer", self.installer.clone()),
            ("filed by", self.filed_by.clone()),
            ("device", self.device_id.clone()),
            ("device key", self.device_key.clone()),
            ("status", self.status.clone()),
            ("created", time(&self.created_at)),
            ("log index", opt(self.log_index.as_ref())),
            ("notes", self.notes.clone()),
            ("decision", decision(self.decision.as_ref())),
            ("consent", consent),
            ("revocation", decision(self.revocation.as_ref())),
            ("photos", self.evidence.len().to_string()),
        ]
    }
}

impl Row for InstallationView {
    const HEADERS: &'static [&'static str] = &[
        "ID", "PROPERTY", "DOOR", "DEVICE", "STATUS", "PHOTOS", "CREATED",
    ];
    fn key(&self) -> String {
        self.id.clone()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.property.clone(),
            self.door.clone(),
            self.device_id.clone(),
            self.status.clone(),
            self.evidence.len().to_string(),
            time(&self.created_at),
        ]
    }
}

impl Row for EvidenceView {
    const HEADERS: &'static [&'static str] = &["PHOTO", "TYPE", "BYTES", "SHA-256", "ADDED"];
    fn key(&self) -> String {
        self.number.to_string()
    }
    fn row(&self) -> Vec<String> {
        vec![
            self.number.to_string(),
            self.content_type.clone(),
            self.size.to_string(),
            self.sha256.clone(),
            time(&self.created_at),
        ]
    }
}

/// An offline bound: a positive whole number of seconds (the device configuration's unit).
fn parse_bound(s: &str) -> Result<jiff::SignedDuration, String> {
    let d = s
        .parse::<jiff::SignedDuration>()
        .map_err(|e| format!("{e}; write durations like 24h, 12h or 90m"))?;
    if d.is_negative() || d.is_zero() || d.subsec_nanos() != 0 {
        return Err(format!(
            "{s} is not a positive whole number of seconds; write durations like 24h, 12h or 90m"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn photos_are_typed_by_their_bytes_and_checked_against_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let jpeg = dir.path().join("door.JPG");
        std::fs::write(&jpeg, [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F']).unwrap();
        assert_eq!(read_photo(&jpeg).unwrap().content_type, "image/jpeg");
        let named_png = dir.path().join("door.png");
        std::fs::write(&named_png, [0xFF, 0xD8, 0xFF, 0xE0]).unwrap();
        assert!(read_photo(&named_png).is_err());
        let unnamed = dir.path().join("photo");
        std::fs::write(&unnamed, b"\x89PNG\r\n\x1a\n....").unwrap();
        assert_eq!(read_photo(&unnamed).unwrap().content_type, "image/png");
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, b"not an image").unwrap();
        assert!(read_photo(&text).is_err());
    }
}

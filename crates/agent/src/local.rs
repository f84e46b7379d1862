//! The local presentation channel: a Unix socket in the state dir standing in for the door's
//! BLE/NFC/QR reader, and its client (`doorman-agent present`).
//!
//! # Protocol (docs/agent.md)
//!
//! One JSON object per line each way, at most [`MAX_LINE`] bytes; one presenter at a time.
//!
//! ```text
//! → {"op":"challenge"}
//! ← {"nonce":"<64 hex>","issued_at":"…","property":"…","door":"…","device_key":"ed25519/…"}
//! → {"op":"present","pass":"<base64url>","nonce":"<64 hex>","presented_at":"…","signature":"<128 hex>"}
//! ← {"result":"allow"}  or  {"result":"deny"}
//! ← {"error":"<code>","message":"…"}   (a request the door could not read)
//! ```
//!
//! The presenter learns only allow or deny; the exact reason is in the signed event the door
//! journals (`doorman-agent log`), as it will be in the property's access log. The signature is
//! the driver's answer to that challenge (`doorman_trust::Challenge::message`): it names this
//! device, door, nonce and pass, so it can't be replayed later or elsewhere.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use doorman_trust::{Challenge, PossessionProof};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::link::Core;

/// The longest request or answer line.
pub const MAX_LINE: usize = 16 * 1024;

/// How long a presenter may take between lines before the door hangs up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// A request on the socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Challenge,
    Present {
        pass: String,
        nonce: String,
        /// RFC 3339, the handset's clock when it signed.
        presented_at: String,
        signature: String,
    },
}

pub use doorman_device::messages::{ChallengeView, nonce, proof, time};

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Reads one line of at most [`MAX_LINE`] bytes; `Ok(None)` at the end of the stream.
pub fn read_line(reader: &mut impl std::io::BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    let n = reader.take(limit).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a line over {MAX_LINE} bytes"),
        ));
    }
    String::from_utf8(buf)
        .map(|s| Some(s.trim_end().to_string()))
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8"))
}

/// The client side: asks for a challenge, lets `answer` sign it, presents, and returns the
/// door's answer line as JSON.
pub fn present_over(
    socket: &std::path::Path,
    pass: &str,
    answer: impl FnOnce(&Challenge) -> Result<PossessionProof, String>,
) -> Result<serde_json::Value, String> {
    let stream = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|e| e.to_string())?;
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    let mut send = |v: &Request| -> Result<serde_json::Value, String> {
        let mut line = serde_json::to_vec(v).map_err(|e| e.to_string())?;
        line.push(b'\n');
        writer.write_all(&line).map_err(|e| e.to_string())?;
        let answer = read_line(&mut reader)
            .map_err(|e| e.to_string())?
            .ok_or("the door hung up")?;
        serde_json::from_str(&answer).map_err(|e| format!("the door's answer: {e}"))
    };
    let c = send(&Request::Challenge)?;
    if let Some(code) = c.get("error") {
        return Err(format!("the door refused the challenge request: {code}"));
    }
    let view: ChallengeView =
        serde_json::from_value(c).map_err(|e| format!("the door's challenge: {e}"))?;
    let challenge = view.to_challenge()?;
    let proof = answer(&challenge)?;
    send(&Request::Present {
        pass: pass.to_string(),
        nonce: view.nonce,
        presented_at: proof.presented_at.to_string(),
        signature: hex::encode(proof.signature),
    })
}

/// The door's side of one connection: answers requests until the presenter hangs up, stays
/// silent past [`READ_TIMEOUT`], or sends something unreadable (answered with an error line,
/// then the connection is closed). `now` is the clock, `nonce` fresh randomness, `report` gets
/// one line per decision for the operator's log.
pub fn serve_connection(
    stream: UnixStream,
    core: &std::sync::Mutex<Core>,
    now: &dyn Fn() -> Timestamp,
    nonce: &mut dyn FnMut() -> [u8; 32],
    report: &mut dyn FnMut(&str),
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut reply = |v: serde_json::Value| -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&v).map_err(std::io::Error::other)?;
        line.push(b'\n');
        writer.write_all(&line)
    };
    loop {
        let line = match read_line(&mut reader) {
            Ok(Some(l)) => l,
            Ok(None) => return Ok(()),
            Err(e) => {
                let _ =
                    reply(serde_json::json!({"error": "bad_request", "message": e.to_string()}));
                return Ok(());
            }
        };
        let request: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                reply(serde_json::json!({"error": "bad_request", "message": e.to_string()}))?;
                return Ok(());
            }
        };
        match request {
            Request::Challenge => {
                let c = lock(core).challenge(nonce(), now());
                match c {
                    Ok(c) => reply(
                        serde_json::to_value(ChallengeView::of(&c))
                            .map_err(std::io::Error::other)?,
                    )?,
                    Err(e) => {
                        reply(serde_json::json!({"error": e.code(), "message": e.to_string()}))?;
                        return Ok(());
                    }
                }
            }
            Request::Present {
                pass,
                nonce: n,
                presented_at,
                signature,
            } => {
                let parsed =
                    self::nonce(&n).and_then(|n| Ok((n, proof(&presented_at, &signature)?)));
                let (n, p) = match parsed {
                    Ok(x) => x,
                    Err(e) => {
                        reply(serde_json::json!({"error": "bad_request", "message": e}))?;
                        return Ok(());
                    }
                };
                let outcome = lock(core).present(&pass, &n, Some(&p), now());
                match outcome {
                    Ok(out) => {
                        report(&format!(
                            "decision {}: {}{}{}",
                            out.event.seq,
                            out.decision.reason().map_or("allow", |r| r.code()),
                            if out.opened { ", relay pulsed" } else { "" },
                            out.fault
                                .as_deref()
                                .map(|f| format!(" (fault: {f})"))
                                .unwrap_or_default()
                        ));
                        let result = if out.opened { "allow" } else { "deny" };
                        reply(serde_json::json!({ "result": result }))?;
                    }
                    Err(e) => {
                        report(&format!("decision not recorded: {e}"));
                        reply(serde_json::json!({"result": "deny"}))?;
                    }
                }
            }
        }
    }
}

//! Token text, size limits, parsing under a pinned root key, and the Datalog vocabulary.
//!
//! Every Doorman token is a Biscuit v3 token written as base64url text (RFC 4648 §5, no
//! padding; padded input is accepted). Parsing refuses, in this order and before any
//! signature work: empty input, text or bytes above [`MAX_TOKEN_BYTES`], bad base64, bad
//! protobuf, keys of any algorithm but Ed25519. Then Biscuit verifies every block signature
//! (strict Ed25519) under the pinned property key.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use biscuit_auth::datalog::RunLimits;
use biscuit_auth::error::{Format, Signature as SigError, Token as BiscuitError};
use biscuit_auth::format::schema;
use biscuit_auth::{Authorizer, Biscuit, UnverifiedBiscuit};
use doorman_core::DenyReason;
use jiff::Timestamp;
use prost::Message;

use crate::keys::PublicKey;

/// Largest token accepted, in decoded bytes. A realistic pass is well under 1 KiB; 8 KiB
/// leaves room for attenuation while bounding the work an attacker can ask for.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Largest token text accepted: the base64 length of [`MAX_TOKEN_BYTES`] plus padding and a
/// little whitespace.
pub const MAX_TOKEN_TEXT: usize = MAX_TOKEN_BYTES.div_ceil(3) * 4 + 8;

/// Bounds on Datalog evaluation. Facts and iterations bound the work deterministically; the
/// time limit is only a backstop (biscuit-auth measures it with a monotonic clock) and is set
/// high enough that debug builds never hit it on Doorman's own tokens.
pub(crate) fn run_limits() -> RunLimits {
    RunLimits {
        max_facts: 1000,
        max_iterations: 100,
        max_time: Duration::from_millis(250),
    }
}

/// What is wrong with a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is empty; pass the base64url text of a Doorman token")]
    Empty,
    #[error("the token is {len} bytes long; the limit is {MAX_TOKEN_BYTES} bytes")]
    TooLarge { len: usize },
    #[error("the token is not base64url text: {0}")]
    BadBase64(String),
    #[error("the token is not a well-formed Biscuit token: {0}")]
    Format(String),
    #[error("the token uses {0} keys; Doorman tokens use Ed25519 only")]
    UnsupportedAlgorithm(String),
    #[error(
        "the token was issued under another root key (root key id {found:08x}; this verifier \
         pins {expected} with id {expected_id:08x}); check that you have the right property key"
    )]
    WrongRoot {
        found: u32,
        expected: String,
        expected_id: u32,
    },
    #[error("a signature in the token does not verify (the token was altered or damaged): {0}")]
    BadSignature(String),
    #[error("this is not a Doorman {expected}: {detail}")]
    WrongKind {
        expected: &'static str,
        detail: String,
    },
    #[error("could not build the token: {0}")]
    Build(String),
}

impl TokenError {
    /// The door-decision reason this error stands for.
    pub fn reason(&self) -> DenyReason {
        match self {
            TokenError::WrongRoot { .. } => DenyReason::WrongRoot,
            TokenError::BadSignature(_) => DenyReason::BadSignature,
            _ => DenyReason::Malformed,
        }
    }

    pub(crate) fn build(e: impl std::fmt::Display) -> TokenError {
        TokenError::Build(e.to_string())
    }
}

/// Writes token bytes as base64url text without padding.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads token text (base64url, padded or not, surrounding whitespace ignored).
pub fn decode(text: &str) -> Result<Vec<u8>, TokenError> {
    if text.len() > MAX_TOKEN_TEXT {
        return Err(TokenError::TooLarge {
            len: text.len() / 4 * 3,
        });
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(TokenError::Empty);
    }
    let result = if text.ends_with('=') {
        URL_SAFE.decode(text)
    } else {
        URL_SAFE_NO_PAD.decode(text)
    };
    let bytes = result.map_err(|e| {
        let hint = if text.contains(['+', '/']) {
            " (it looks like standard base64; Doorman writes base64url with - and _)"
        } else {
            ""
        };
        TokenError::BadBase64(format!("{e}{hint}"))
    })?;
    check_size(&bytes)?;
    Ok(bytes)
}

fn check_size(bytes: &[u8]) -> Result<(), TokenError> {
    if bytes.is_empty() {
        return Err(TokenError::Empty);
    }
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge { len: bytes.len() });
    }
    Ok(())
}

/// Refuses any key that is not Ed25519 anywhere in the token: block next-keys and
/// third-party signers. Biscuit also speaks secp256r1, but Doorman has one verification rule.
fn check_algorithms(bytes: &[u8]) -> Result<schema::Biscuit, TokenError> {
    let raw = schema::Biscuit::decode(bytes).map_err(|e| TokenError::Format(e.to_string()))?;
    let ed25519 = schema::public_key::Algorithm::Ed25519 as i32;
    let blocks = std::iter::once(&raw.authority).chain(raw.blocks.iter());
    for block in blocks {
        let mut keys = vec![block.next_key.algorithm];
        if let Some(ext) = &block.external_signature {
            keys.push(ext.public_key.algorithm);
        }
        for alg in keys {
            if alg != ed25519 {
                let name = if alg == schema::public_key::Algorithm::Secp256r1 as i32 {
                    "secp256r1".to_owned()
                } else {
                    format!("unknown algorithm {alg}")
                };
                return Err(TokenError::UnsupportedAlgorithm(name));
            }
        }
    }
    Ok(raw)
}

fn map_format(e: Format, root: &PublicKey, found_id: Option<u32>) -> TokenError {
    match e {
        Format::UnknownPublicKey => TokenError::WrongRoot {
            found: found_id.unwrap_or(0),
            expected: root.to_string(),
            expected_id: root.root_key_id(),
        },
        Format::Signature(SigError::InvalidSignature(s)) => TokenError::BadSignature(s),
        Format::Signature(SigError::InvalidFormat) => {
            TokenError::BadSignature("a signature has the wrong size".into())
        }
        Format::SealedSignature => TokenError::BadSignature("the seal does not verify".into()),
        Format::InvalidSignatureSize(n) => {
            TokenError::BadSignature(format!("a signature is {n} bytes long"))
        }
        other => TokenError::Format(other.to_string()),
    }
}

/// Parses token bytes and verifies every signature under `root`.
///
/// A token stamped with another root key id is refused as [`TokenError::WrongRoot`] before
/// any signature work; a token without a root key id is checked against `root`.
pub fn parse(bytes: &[u8], root: &PublicKey) -> Result<Biscuit, TokenError> {
    parse_raw(bytes, root).map(|(biscuit, _)| biscuit)
}

/// [`parse`], also returning the token's protobuf container (already decoded for the
/// algorithm check), from which raw key bytes can be read without decompressing points.
pub(crate) fn parse_raw(
    bytes: &[u8],
    root: &PublicKey,
) -> Result<(Biscuit, schema::Biscuit), TokenError> {
    check_size(bytes)?;
    let raw = check_algorithms(bytes)?;
    let expected_id = root.root_key_id();
    let root_b = root.to_biscuit();
    let provider = move |kid: Option<u32>| match kid {
        Some(id) if id != expected_id => Err(Format::UnknownPublicKey),
        _ => Ok(root_b),
    };
    let biscuit = Biscuit::from(bytes, provider).map_err(|e| match e {
        BiscuitError::Format(f) => map_format(f, root, raw.root_key_id),
        other => TokenError::Format(other.to_string()),
    })?;
    Ok((biscuit, raw))
}

/// Parses token bytes without verifying the root signature (for inspection and for a
/// carrier reading the authorization it extends; never for a decision).
pub fn parse_unverified(bytes: &[u8]) -> Result<UnverifiedBiscuit, TokenError> {
    check_size(bytes)?;
    check_algorithms(bytes)?;
    UnverifiedBiscuit::from(bytes).map_err(|e| TokenError::Format(e.to_string()))
}

/// A Datalog rule parsed once per call site and cloned after (parsing costs more than the
/// query): `rule!("data($x) <- door($x)")` in a function returning `Result<_, TokenError>`.
macro_rules! rule {
    ($text:expr) => {{
        static CELL: std::sync::OnceLock<biscuit_auth::builder::Rule> = std::sync::OnceLock::new();
        $crate::token::cached_rule(&CELL, $text)?
    }};
}
pub(crate) use rule;

/// See [`rule!`].
pub(crate) fn cached_rule(
    cell: &'static std::sync::OnceLock<biscuit_auth::builder::Rule>,
    text: &str,
) -> Result<biscuit_auth::builder::Rule, TokenError> {
    if let Some(r) = cell.get() {
        return Ok(r.clone());
    }
    let r = biscuit_auth::builder::Rule::try_from(text)
        .map_err(|e| TokenError::Format(format!("internal rule {text:?}: {e}")))?;
    let _ = cell.set(r.clone());
    Ok(r)
}

/// Runs a query over a verified token's authorizer and returns the typed rows.
///
/// The query sees the authority block (signed by the root key) and the authorizer only,
/// unless the rule names a wider scope (`trusting ed25519/...`). Never `query_all`: that
/// would read facts any holder can append and let attenuation widen a pass.
pub(crate) fn query<T>(
    authorizer: &mut Authorizer,
    rule: biscuit_auth::builder::Rule,
) -> Result<Vec<T>, TokenError>
where
    T: TryFrom<biscuit_auth::builder::Fact, Error = BiscuitError>,
{
    authorizer
        .query_with_limits(rule, run_limits())
        .map_err(|e| TokenError::Format(format!("reading the token's facts: {e}")))
}

/// Exactly one row, or a `WrongKind` error naming the fact.
pub(crate) fn query_one<T>(
    authorizer: &mut Authorizer,
    rule: biscuit_auth::builder::Rule,
    expected: &'static str,
    fact: &str,
) -> Result<T, TokenError>
where
    T: TryFrom<biscuit_auth::builder::Fact, Error = BiscuitError>,
{
    let mut rows: Vec<T> = query(authorizer, rule)?;
    match rows.len() {
        1 => Ok(rows.remove(0)),
        n => Err(TokenError::WrongKind {
            expected,
            detail: format!("expected exactly one {fact} fact, found {n}"),
        }),
    }
}

/// A Biscuit date term for an instant (seconds since the epoch; earlier instants clamp to 0).
pub(crate) fn date(t: Timestamp) -> biscuit_auth::builder::Term {
    biscuit_auth::builder::Term::Date(u64::try_from(t.as_second()).unwrap_or(0))
}

/// The instant of a Biscuit date read back from a token.
pub(crate) fn from_system_time(t: SystemTime) -> Result<Timestamp, TokenError> {
    Timestamp::try_from(t).map_err(|e| TokenError::Format(format!("date out of range: {e}")))
}

/// Refuses instants Biscuit dates can't hold or that make no sense for a token.
pub(crate) fn check_instant(what: &str, t: Timestamp) -> Result<(), TokenError> {
    let lo: Timestamp = Timestamp::UNIX_EPOCH;
    // 9999-12-31T23:59:59Z: beyond it, RFC 3339 text and Biscuit dates disagree.
    let hi = Timestamp::from_second(253_402_300_799).unwrap_or(Timestamp::MAX);
    if t < lo || t > hi {
        return Err(TokenError::Build(format!(
            "{what} {t} is outside 1970-01-01..9999-12-31"
        )));
    }
    Ok(())
}

/// Refuses a validity window that is empty or outside what Biscuit dates can hold.
pub(crate) fn check_window(not_before: Timestamp, not_after: Timestamp) -> Result<(), TokenError> {
    check_instant("not_before", not_before)?;
    check_instant("not_after", not_after)?;
    if not_after <= not_before {
        return Err(TokenError::Build(format!(
            "not_after ({not_after}) must be after not_before ({not_before})"
        )));
    }
    Ok(())
}

/// Hex of a revocation id, as revocation lists carry them.
pub fn revocation_hex(id: &[u8]) -> String {
    hex::encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_refuses_bad_text_clearly() {
        assert_eq!(decode(""), Err(TokenError::Empty));
        assert_eq!(decode("  \n"), Err(TokenError::Empty));
        assert!(matches!(decode("a"), Err(TokenError::BadBase64(_))));
        assert!(
            matches!(decode("ab+/"), Err(TokenError::BadBase64(m)) if m.contains("standard base64"))
        );
        assert!(matches!(decode("é"), Err(TokenError::BadBase64(_))));
        let big = "A".repeat(MAX_TOKEN_TEXT + 1);
        assert!(matches!(decode(&big), Err(TokenError::TooLarge { .. })));
        let just_over = encode(&vec![1u8; MAX_TOKEN_BYTES + 1]);
        assert!(
            matches!(decode(&just_over), Err(TokenError::TooLarge { len }) if len == MAX_TOKEN_BYTES + 1)
        );
        assert_eq!(decode(&encode(b"abc")).unwrap(), b"abc");
        assert_eq!(decode("YWJj\n").unwrap(), b"abc");
        assert_eq!(decode("YWI=").unwrap(), b"ab");
    }

    #[test]
    fn parse_refuses_garbage_without_panicking() {
        let root = crate::keys::SecretKey::from_seed(&[1; 32]).public();
        for bytes in [&b"x"[..], &[0u8; 100], &[0xff; 3], b"\x0a\x00"] {
            let e = parse(bytes, &root).unwrap_err();
            assert_eq!(e.reason(), DenyReason::Malformed, "{e}");
        }
        assert!(matches!(parse(&[], &root), Err(TokenError::Empty)));
    }
}

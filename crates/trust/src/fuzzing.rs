//! Fuzz-target bodies, shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay
//! test (`tests/fuzz_corpus.rs`), so the stable `cargo test` runs exactly what the fuzzer ran.
//!
//! Every target takes arbitrary bytes, feeds them to the token readers and the door decision
//! built on the deterministic [`Fixture`], to the signed device-state readers
//! ([`crate::state`]) under a fixed property key, or to [`Kek::open`] under a fixed KEK, and
//! must never panic on their own. What *does* panic here is deliberate: the invariants below
//! are `assert!`s, because a fuzzer learns of a broken invariant only through a panic, and
//! building the fixture once is set-up that can't fail on valid literals (if it ever did,
//! every input would be meaningless, so aborting is the honest answer). That is why this module allows `clippy::panic`; nothing here decides a real
//! door, and no production path calls it.
//!
//! Invariants checked:
//!
//! * [`token_parse`]: whatever the bytes, no reader panics; a verified pass's id is the id the
//!   handset computes without the key ([`pass::pass_id_unverified`]); a verified token also
//!   parses unverified; a verified authorization reads the same unverified (what the carrier
//!   checks before minting is what the device will read); base64url text round-trips.
//! * [`door_decision`]: an `Allow` is only ever given to pass text that decodes to a pass
//!   verifying under the pinned property key, for the device's door, inside its window, with
//!   every service switch on, a proof given and the presenter's clock within tolerance, and not
//!   for a revoked pass; the same presentation decided a second time on the same state is never
//!   an `Allow` (single use).
//! * [`state_document`]: whatever the bytes, [`RevocationList::verify`],
//!   [`ServiceState::verify`] and both `from_payload`s return, and every error has one of the
//!   documented [`StateError::code`]s; no bytes read as both types; whatever is accepted
//!   re-encodes (`payload()`) to bytes that read back to an equal value and re-encode to the
//!   same bytes, and signs to a document that verifies to the same value (and not as the other
//!   type); the bytes signed as a payload in the documented wire form (built here, not by
//!   `state.rs`) verify to exactly what `from_payload` reads, and never as the other type;
//!   payloads built from the input's lines as field values get the same round trip.
//! * [`sealed_key`]: whatever the bytes, [`Kek::open`] returns a format or open error, or a key
//!   only for a 73-byte version-1 seal that opens for no other purpose, id or KEK; a key sealed
//!   for a purpose and id chosen by the input (refused only for a purpose with a NUL byte)
//!   opens for exactly that pair, to the same key, and not once a byte of the seal is altered;
//!   two different pairs never share associated data.
#![allow(clippy::panic)]

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use doorman_core::{CarrierId, DoorId, PropertyId, ServiceSwitch};
use rand::SeedableRng as _;

use crate::authorization;
use crate::consent;
use crate::custody::{self, Kek, SealError};
use crate::door::{Decision, DoorDevice, DoorState, Presentation, Revocations, decide};
use crate::fixture::Fixture;
use crate::inspect;
use crate::keys::{PublicKey, SecretKey};
use crate::pass;
use crate::possession::{Challenge, PossessionProof};
use crate::state::{RevocationList, ServiceState, StateError};
use crate::token;

/// The building every input is judged against, built once per process.
struct Env {
    fixture: Fixture,
    property_key: PublicKey,
    device: DoorDevice,
    /// Consent verified, nothing revoked, list issued an hour before `fixture.now`.
    state: DoorState,
}

fn build_env() -> Result<Env, token::TokenError> {
    let fixture = Fixture::new()?;
    let device = fixture.device();
    let state = fixture.state()?;
    Ok(Env {
        property_key: fixture.property_key.public(),
        fixture,
        device,
        state,
    })
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| match build_env() {
        Ok(env) => env,
        Err(e) => panic!("the fuzzing fixture could not be built: {e}"),
    })
}

/// Feeds `data` to every token reader, as raw token bytes and (if it is UTF-8) as token text.
pub fn token_parse(data: &[u8]) {
    let env = env();
    read_all(data, &env.property_key);

    // base64url text round-trips for every size the reader accepts.
    if !data.is_empty() && data.len() <= token::MAX_TOKEN_BYTES {
        let text = token::encode(data);
        assert!(
            token::decode(&text).as_deref() == Ok(data),
            "base64url text of {} bytes does not decode to the same bytes",
            data.len()
        );
    }

    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(bytes) = token::decode(text)
    {
        read_all(&bytes, &env.property_key);
    }
}

fn read_all(bytes: &[u8], key: &PublicKey) {
    let parsed = token::parse(bytes, key);
    let unverified = token::parse_unverified(bytes);
    if parsed.is_ok() {
        assert!(
            unverified.is_ok(),
            "a token that verifies does not parse unverified: {:?}",
            unverified.err()
        );
    }

    let verified = pass::verify_pass(bytes, key);
    let id = pass::pass_id_unverified(bytes);
    if let Ok(p) = &verified {
        assert!(
            id.as_deref() == Ok(p.pass_id()),
            "the handset's pass id ({id:?}) is not the verified pass id ({})",
            token::revocation_hex(p.pass_id())
        );
        let view = inspect::inspect(bytes);
        assert!(
            view.as_ref().is_ok_and(|v| v.role == "pass"),
            "a verified pass does not inspect as a pass: {view:?}"
        );
    } else {
        let _ = inspect::inspect(bytes);
    }

    let _ = consent::read_consent(bytes, key);

    let auth = authorization::read_authorization(bytes, key);
    let auth_unverified = authorization::read_authorization_unverified(bytes);
    if let Ok(a) = &auth {
        assert!(
            auth_unverified.as_ref() == Ok(&a.spec),
            "an authorization reads differently unverified: {auth_unverified:?} vs {:?}",
            a.spec
        );
    }
}

/// Size of the fixed header of a [`door_decision`] input.
pub const DOOR_HEADER: usize = 72;

/// Flag bits of a [`door_decision`] input (first two header bytes, little-endian).
pub mod flags {
    /// Service off for the whole property.
    pub const PROPERTY_OFF: u16 = 1 << 0;
    /// Service off for the device's door.
    pub const DOOR_OFF: u16 = 1 << 1;
    /// Service off for the fixture's carrier.
    pub const CARRIER_OFF: u16 = 1 << 2;
    /// Two bits of proof mode: 0 none, 1 the header's 64 signature bytes, 2 and 3 a real
    /// signature by the fixture's driver key over the challenge and the presented pass's id.
    pub const PROOF_SHIFT: u16 = 3;
    /// The tail starts with a mutation script applied to the bytes of the pass text after it.
    pub const MUTATE: u16 = 1 << 5;
    /// The presented pass's own id (read unverified) is on the revocation list.
    pub const REVOKE_PASS: u16 = 1 << 6;
    /// The challenge names the other door of the building (not issued by this device).
    pub const FOREIGN_CHALLENGE: u16 = 1 << 7;
    /// The revocation list was issued 25 h before the fixture's instant (stale).
    pub const STALE_REVOCATIONS: u16 = 1 << 8;
}

/// Proof mode: no proof.
pub const PROOF_NONE: u16 = 0;
/// Proof mode: the header's signature bytes.
pub const PROOF_RAW: u16 = 1;
/// Proof mode: signed by the fixture's driver key.
pub const PROOF_DRIVER: u16 = 2;

/// Most mutations applied to a pass.
pub const MAX_MUTATIONS: u8 = 32;

/// The decoded shape of a [`door_decision`] input.
///
/// Layout (short inputs are padded with zeros, so every input is meaningful):
///
/// | bytes   | field                                                                |
/// |---------|----------------------------------------------------------------------|
/// | 0..2    | flags, u16 LE (see [`flags`])                                        |
/// | 2..4    | `presented_at` offset, i16 LE seconds from the fixture's instant     |
/// | 4..6    | `now` offset, i16 LE seconds from the fixture's instant              |
/// | 6       | challenge age in seconds (`issued_at = now - age`)                  |
/// | 7       | number of mutations `k` (with [`flags::MUTATE`]; modulo 33)          |
/// | 8..72   | 64 signature bytes (proof mode 1)                                    |
/// | 72..    | pass text (lossy UTF-8); with [`flags::MUTATE`], `4k` bytes of       |
/// |         | mutation script first, then the pass text they apply to              |
///
/// A mutation is 4 bytes, `op, pos_lo, pos_hi, value`, applied in order to the token bytes
/// the pass text decodes to (none if it doesn't): `op % 4` is 0 xor `value` at `pos`,
/// 1 replace with `value`, 2 insert `value` before `pos`, 3 delete at `pos` (`pos` modulo the
/// length). The result is presented as base64url text. The seed corpus puts the fixture's
/// real pass after the script, so the fuzzer explores near-valid tokens at the byte level
/// (text-level mutations mostly break the base64). The base comes from the input, not from
/// the [`Fixture`] built in this process: the fixture's tokens differ from one process to the
/// next (Biscuit draws each block's next key from the OS), and an input must replay the same.
#[derive(Debug, Clone)]
struct DoorInput {
    flags: u16,
    presented_at: Timestamp,
    now: Timestamp,
    challenge_age: SignedDuration,
    signature: [u8; 64],
    pass: String,
}

fn split_door_input(data: &[u8], env: &Env) -> DoorInput {
    let mut header = [0u8; DOOR_HEADER];
    let n = data.len().min(DOOR_HEADER);
    if let (Some(dst), Some(src)) = (header.get_mut(..n), data.get(..n)) {
        dst.copy_from_slice(src);
    }
    let tail = data.get(DOOR_HEADER..).unwrap_or_default();
    let [f0, f1, p0, p1, n0, n1, age, count, sig @ ..] = header;
    let flags = u16::from_le_bytes([f0, f1]);
    let at = |lo: u8, hi: u8| {
        env.fixture.now + SignedDuration::from_secs(i64::from(i16::from_le_bytes([lo, hi])))
    };
    let pass = if flags & flags::MUTATE != 0 {
        let split = usize::from(count % (MAX_MUTATIONS + 1)) * 4;
        let (script, text) = tail.split_at_checked(split).unwrap_or((tail, &[]));
        let base = token::decode(&String::from_utf8_lossy(text)).unwrap_or_default();
        token::encode(&mutate(base, script))
    } else {
        String::from_utf8_lossy(tail).into_owned()
    };
    DoorInput {
        flags,
        presented_at: at(p0, p1),
        now: at(n0, n1),
        challenge_age: SignedDuration::from_secs(i64::from(age)),
        signature: sig,
        pass,
    }
}

fn mutate(mut bytes: Vec<u8>, script: &[u8]) -> Vec<u8> {
    for m in script.chunks_exact(4) {
        let &[op, lo, hi, value] = m else { continue };
        let pos = usize::from(u16::from_le_bytes([lo, hi]));
        match op % 4 {
            0 | 1 => {
                let len = bytes.len();
                if let Some(b) = pos.checked_rem(len).and_then(|i| bytes.get_mut(i)) {
                    *b = if op % 4 == 0 { *b ^ value } else { value };
                }
            }
            2 => {
                let i = pos % (bytes.len() + 1);
                bytes.insert(i, value);
            }
            _ => {
                if let Some(i) = pos.checked_rem(bytes.len()) {
                    bytes.remove(i);
                }
            }
        }
    }
    bytes
}

/// Decides one presentation built from `data` (layout on [`DoorInput`]) on a fresh copy of
/// the fixture device's state, checks what an `Allow` implies, and presents it again.
pub fn door_decision(data: &[u8]) {
    let _ = door_decision_outcome(data);
}

/// [`door_decision`], returning the first decision (so tests can see what inputs reach).
pub fn door_decision_outcome(data: &[u8]) -> Decision {
    let env = env();
    let input = split_door_input(data, env);
    let device = &env.device;

    let mut state = env.state.clone();
    let carrier = env.fixture.authorization_spec().carrier;
    state.service.property_disabled = input.flags & flags::PROPERTY_OFF != 0;
    if input.flags & flags::DOOR_OFF != 0 {
        state.service.disabled_doors.insert(device.door.clone());
    }
    if input.flags & flags::CARRIER_OFF != 0 {
        state.service.disabled_carriers.insert(carrier.clone());
    }
    let revoked = (input.flags & flags::REVOKE_PASS != 0)
        .then(|| {
            token::decode(&input.pass)
                .and_then(|b| pass::pass_id_unverified(&b))
                .ok()
        })
        .flatten();
    let as_of = if input.flags & flags::STALE_REVOCATIONS != 0 {
        env.fixture.now - SignedDuration::from_hours(25)
    } else {
        state.revocations.as_of
    };
    state.revocations = Revocations::new(revoked.clone(), as_of);

    let mut challenge: Challenge = device.challenge([7; 32], input.now - input.challenge_age);
    if input.flags & flags::FOREIGN_CHALLENGE != 0 {
        challenge.door = env.fixture.other_door.clone();
    }
    let proof_mode = (input.flags >> flags::PROOF_SHIFT) & 0b11;
    let proof = match proof_mode {
        PROOF_NONE => None,
        PROOF_RAW => Some(PossessionProof {
            presented_at: input.presented_at,
            signature: input.signature,
        }),
        _ => {
            let pass_id = token::decode(&input.pass)
                .and_then(|b| pass::pass_id_unverified(&b))
                .unwrap_or_default();
            Some(PossessionProof {
                presented_at: input.presented_at,
                signature: env
                    .fixture
                    .driver_key
                    .sign(&challenge.message(&pass_id, input.presented_at)),
            })
        }
    };
    let presentation = Presentation {
        pass: &input.pass,
        challenge: &challenge,
        proof: proof.as_ref(),
    };

    let first = decide(device, &mut state, &presentation, input.now);
    if let Decision::Allow(entry) = &first {
        let verified = token::decode(&input.pass)
            .and_then(|bytes| pass::verify_pass(&bytes, &device.property_key));
        let Ok(verified) = verified else {
            panic!("allowed a pass that does not verify: {verified:?}");
        };
        let spec = verified.spec();
        assert!(
            spec.door == device.door,
            "allowed a pass for door {:?} at door {:?}",
            spec.door,
            device.door
        );
        assert!(
            entry.pass_id == verified.pass_id(),
            "the entry records another pass id than the pass's"
        );
        assert!(
            spec.not_before <= input.now && input.now < spec.not_after,
            "allowed at {} a pass valid {}..{}",
            input.now,
            spec.not_before,
            spec.not_after
        );
        assert!(
            input.flags & (flags::PROPERTY_OFF | flags::DOOR_OFF | flags::CARRIER_OFF) == 0,
            "allowed with a service switch off (flags {:#06x})",
            input.flags
        );
        assert!(proof.is_some(), "allowed without a proof of possession");
        assert!(
            input.presented_at.duration_until(input.now).abs()
                <= device.policy.clock_skew_tolerance,
            "allowed with the presenter's clock at {} and the device's at {}",
            input.presented_at,
            input.now
        );
        assert!(
            revoked.as_ref() != Some(&entry.pass_id),
            "allowed a revoked pass"
        );
        assert!(
            input.flags & flags::FOREIGN_CHALLENGE == 0,
            "allowed on a challenge naming another door"
        );
        assert!(
            input.challenge_age <= device.policy.challenge_ttl,
            "allowed on a challenge {:#} old",
            input.challenge_age
        );
        let list_age = as_of.duration_until(input.now);
        assert!(
            -device.policy.clock_skew_tolerance <= list_age
                && list_age <= device.policy.revocation_max_age,
            "allowed on a revocation list {list_age:#} old"
        );
        assert!(
            verified.authorization().property == device.property,
            "allowed a pass for another property"
        );
    }

    let second = decide(device, &mut state, &presentation, input.now);
    assert!(
        !second.is_allow(),
        "the same presentation opened the door twice: first {first:?}, then {second:?}"
    );
    first
}

/// Builds a [`door_decision`] input from its parts (for seed corpora and tests): `mutations`
/// (at most [`MAX_MUTATIONS`] of them) go before the pass text; give some only with
/// [`flags::MUTATE`] set.
pub fn door_input(
    flags: u16,
    presented_at_offset: i16,
    now_offset: i16,
    challenge_age: u8,
    signature: &[u8; 64],
    mutations: &[[u8; 4]],
    pass_text: &[u8],
) -> Vec<u8> {
    let mutations = mutations
        .get(..usize::from(MAX_MUTATIONS))
        .unwrap_or(mutations);
    let mut out = Vec::with_capacity(DOOR_HEADER + mutations.len() * 4 + pass_text.len());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&presented_at_offset.to_le_bytes());
    out.extend_from_slice(&now_offset.to_le_bytes());
    out.push(challenge_age);
    out.push(u8::try_from(mutations.len()).unwrap_or(MAX_MUTATIONS));
    out.extend_from_slice(signature);
    out.extend(mutations.iter().flatten());
    out.extend_from_slice(pass_text);
    out
}

/// Seed of the property key every [`state_document`] input is verified under (and the seed
/// corpus signed with).
pub const STATE_KEY_SEED: [u8; 32] = [0x5d; 32];

/// Every [`StateError::code`], as `state.rs` documents them.
pub const STATE_ERROR_CODES: [&str; 6] = [
    "document_too_large",
    "malformed_document",
    "bad_signature",
    "wrong_document_type",
    "unknown_version",
    "invalid_document",
];

/// The signing domains of docs/trust.md, restated here so the target checks the documented
/// wire form rather than `state.rs` against itself.
const REVOCATION_DOMAIN: &[u8] = b"doorman/revocation-list/v1\n";
const SERVICE_DOMAIN: &[u8] = b"doorman/service-state/v1\n";

/// The property key of [`state_document`], built once per process.
fn state_key() -> &'static (SecretKey, PublicKey) {
    static KEY: OnceLock<(SecretKey, PublicKey)> = OnceLock::new();
    KEY.get_or_init(|| {
        let secret = SecretKey::from_seed(&STATE_KEY_SEED);
        let public = secret.public();
        (secret, public)
    })
}

/// The two signed document types, for one generic round trip.
trait Document: Sized + PartialEq + std::fmt::Debug {
    const NAME: &'static str;
    const DOMAIN: &'static [u8];
    fn to_payload(&self) -> Result<Vec<u8>, StateError>;
    fn read_payload(payload: &[u8]) -> Result<Self, StateError>;
    fn sign_with(&self, key: &SecretKey) -> Result<Vec<u8>, StateError>;
    fn verify_under(document: &[u8], key: &PublicKey) -> Result<Self, StateError>;
    /// The other type's verification of the same bytes (a signature over one type is never
    /// another's).
    fn verifies_as_other(document: &[u8], key: &PublicKey) -> Result<(), StateError>;
}

impl Document for RevocationList {
    const NAME: &'static str = "revocation list";
    const DOMAIN: &'static [u8] = REVOCATION_DOMAIN;
    fn to_payload(&self) -> Result<Vec<u8>, StateError> {
        self.payload()
    }
    fn read_payload(payload: &[u8]) -> Result<Self, StateError> {
        RevocationList::from_payload(payload)
    }
    fn sign_with(&self, key: &SecretKey) -> Result<Vec<u8>, StateError> {
        self.sign(key)
    }
    fn verify_under(document: &[u8], key: &PublicKey) -> Result<Self, StateError> {
        RevocationList::verify(document, key)
    }
    fn verifies_as_other(document: &[u8], key: &PublicKey) -> Result<(), StateError> {
        ServiceState::verify(document, key).map(drop)
    }
}

impl Document for ServiceState {
    const NAME: &'static str = "service state";
    const DOMAIN: &'static [u8] = SERVICE_DOMAIN;
    fn to_payload(&self) -> Result<Vec<u8>, StateError> {
        self.payload()
    }
    fn read_payload(payload: &[u8]) -> Result<Self, StateError> {
        ServiceState::from_payload(payload)
    }
    fn sign_with(&self, key: &SecretKey) -> Result<Vec<u8>, StateError> {
        self.sign(key)
    }
    fn verify_under(document: &[u8], key: &PublicKey) -> Result<Self, StateError> {
        ServiceState::verify(document, key)
    }
    fn verifies_as_other(document: &[u8], key: &PublicKey) -> Result<(), StateError> {
        RevocationList::verify(document, key).map(drop)
    }
}

fn check_state_error(e: &StateError, what: &str) {
    assert!(
        STATE_ERROR_CODES.contains(&e.code()),
        "{what}: the error {e:?} has the undocumented code {:?}",
        e.code()
    );
    assert!(
        !e.to_string().is_empty(),
        "{what}: the error {e:?} has no message"
    );
}

/// What an accepted document must satisfy: it re-encodes, reads back equal, re-encodes to the
/// same bytes, and signs to a document that verifies to the same value and only as its type.
fn state_round_trip<D: Document>(value: &D, secret: &SecretKey, public: &PublicKey) {
    let payload = match value.to_payload() {
        Ok(p) => p,
        Err(e) => panic!(
            "an accepted {} does not re-encode ({}: {e}): {value:?}",
            D::NAME,
            e.code()
        ),
    };
    let again = D::read_payload(&payload);
    assert!(
        again.as_ref() == Ok(value),
        "the {} re-encoded as {:?} reads back as {again:?}, not {value:?}",
        D::NAME,
        String::from_utf8_lossy(&payload)
    );
    if let Ok(again) = &again {
        assert!(
            again.to_payload().as_deref() == Ok(payload.as_slice()),
            "the {} does not re-encode to the same bytes twice",
            D::NAME
        );
    }
    let document = match value.sign_with(secret) {
        Ok(d) => d,
        Err(e) => panic!(
            "an accepted {} cannot be signed ({}: {e}): {value:?}",
            D::NAME,
            e.code()
        ),
    };
    let verified = D::verify_under(&document, public);
    assert!(
        verified.as_ref() == Ok(value),
        "the signed {} verifies as {verified:?}, not {value:?}",
        D::NAME
    );
    assert!(
        D::verifies_as_other(&document, public) == Err(StateError::BadSignature),
        "a signed {} is not refused as the other type with bad_signature",
        D::NAME
    );
}

/// Checks one result of reading `D` from outside bytes: an error has a documented code, a
/// value round-trips.
fn check_state_result<D: Document>(
    result: &Result<D, StateError>,
    how: &str,
    secret: &SecretKey,
    public: &PublicKey,
) {
    match result {
        Ok(value) => state_round_trip(value, secret, public),
        Err(e) => check_state_error(e, &format!("{} {how}", D::NAME)),
    }
}

/// `payload` signed under `key` for `domain`, in the wire form of docs/trust.md (base64url has
/// nothing JSON must escape).
fn state_envelope(key: &SecretKey, domain: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut message = domain.to_vec();
    message.extend_from_slice(payload);
    format!(
        r#"{{"payload":"{}","signature":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(key.sign(&message))
    )
    .into_bytes()
}

/// `data` as a payload, signed for `D`'s domain: verifies to exactly what `from_payload`
/// reads, and never as the other type.
fn check_wrapped<D: Document>(
    data: &[u8],
    read: &Result<D, StateError>,
    secret: &SecretKey,
    public: &PublicKey,
) {
    let document = state_envelope(secret, D::DOMAIN, data);
    let verified = D::verify_under(&document, public);
    if document.len() > crate::state::MAX_DOCUMENT_BYTES {
        assert!(
            matches!(verified, Err(StateError::TooLarge(_))),
            "a {} of {} bytes is not refused as too large",
            D::NAME,
            document.len()
        );
        return;
    }
    assert!(
        &verified == read,
        "a {} signed in the documented wire form verifies as {verified:?}; its payload reads as {read:?}",
        D::NAME
    );
    assert!(
        D::verifies_as_other(&document, public) == Err(StateError::BadSignature),
        "a {} payload signed for its type is not refused as the other type",
        D::NAME
    );
}

/// Feeds `data` to the signed device-state readers as a signed document under the key of
/// [`STATE_KEY_SEED`], as payload bytes, and as payload bytes signed under that key; checks
/// the invariants listed in the module documentation.
pub fn state_document(data: &[u8]) {
    let (secret, public) = state_key();

    // As a signed document off the network.
    let list = RevocationList::verify(data, public);
    let service = ServiceState::verify(data, public);
    assert!(
        !(list.is_ok() && service.is_ok()),
        "one document verified as a revocation list and as a service state"
    );
    check_state_result(&list, "verify", secret, public);
    check_state_result(&service, "verify", secret, public);

    // As payload bytes.
    let list = RevocationList::from_payload(data);
    let service = ServiceState::from_payload(data);
    assert!(
        !(list.is_ok() && service.is_ok()),
        "one payload read as a revocation list and as a service state"
    );
    check_state_result(&list, "from_payload", secret, public);
    check_state_result(&service, "from_payload", secret, public);

    // As payload bytes the property signed.
    check_wrapped(data, &list, secret, public);
    check_wrapped(data, &service, secret, public);

    // As the fields of a well-formed payload, so the fuzzer edits values, not JSON syntax.
    for payload in state_field_payloads(data) {
        let list = RevocationList::from_payload(&payload);
        let service = ServiceState::from_payload(&payload);
        check_state_result(&list, "from_payload of fields", secret, public);
        check_state_result(&service, "from_payload of fields", secret, public);
    }
}

/// The two payloads (a revocation list's and a service state's, with the right type and
/// version) whose field values are the lines of `data` (lossy UTF-8, split at `\n`):
/// `issued_at`, `property`, `seq` (decimal; 1 if it isn't; odd means `property_disabled`),
/// then list items: every one is a revocation id, and for the service state the items before
/// the first empty one are disabled doors and those after it disabled carriers.
fn state_field_payloads(data: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let issued_at = lines.next().unwrap_or_default();
    let property = lines.next().unwrap_or_default();
    let seq = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1);
    let items: Vec<&str> = lines.collect();
    let (doors, carriers) = match items.iter().position(|s| s.is_empty()) {
        Some(i) => (
            items.get(..i).unwrap_or_default(),
            items.get(i + 1..).unwrap_or_default(),
        ),
        None => (items.as_slice(), &[][..]),
    };
    let list = serde_json::json!({
        "type": "revocation_list", "v": 1, "property": property, "seq": seq,
        "issued_at": issued_at, "revoked": items,
    });
    let service = serde_json::json!({
        "type": "service_state", "v": 1, "property": property, "seq": seq,
        "issued_at": issued_at, "property_disabled": seq % 2 == 1,
        "disabled_doors": doors, "disabled_carriers": carriers,
    });
    [list, service]
        .iter()
        .filter_map(|v| serde_json::to_vec(v).ok())
        .collect()
}

/// A [`state_document`] seed corpus: real documents signed with the key of [`STATE_KEY_SEED`]
/// (revocation lists and service states, empty and not), their payloads, and one document
/// signed by another key.
pub fn state_document_seeds() -> Result<Vec<Vec<u8>>, StateError> {
    let (secret, _) = state_key();
    let id = |s: &str| PropertyId::new(s).map_err(|e| StateError::Invalid(e.to_string()));
    let at = |s: &str| {
        s.parse::<Timestamp>()
            .map_err(|e| StateError::Invalid(e.to_string()))
    };
    let lists = [
        RevocationList {
            property: id("prop_1")?,
            seq: 1,
            issued_at: at("2026-12-01T10:00:00Z")?,
            revoked: Default::default(),
        },
        RevocationList {
            property: id("prop_harbour view/2")?,
            seq: 42,
            issued_at: at("2026-12-24T23:59:59Z")?,
            revoked: [vec![0x01], vec![0xab; 32], vec![0xfe; 64]]
                .into_iter()
                .collect(),
        },
    ];
    let door = |s: &str| DoorId::new(s).map_err(|e| StateError::Invalid(e.to_string()));
    let carrier = |s: &str| CarrierId::new(s).map_err(|e| StateError::Invalid(e.to_string()));
    let services = [
        ServiceState {
            property: id("prop_1")?,
            seq: 1,
            issued_at: at("2026-12-01T10:00:00Z")?,
            switch: ServiceSwitch::all_on(),
        },
        ServiceState {
            property: id("prop_1")?,
            seq: 7,
            issued_at: at("2027-01-02T03:04:05Z")?,
            switch: ServiceSwitch {
                property_disabled: true,
                disabled_doors: [door("garage")?, door("street")?].into_iter().collect(),
                disabled_carriers: [carrier("org_parcels")?].into_iter().collect(),
            },
        },
    ];
    let mut seeds = Vec::new();
    for list in &lists {
        seeds.push(list.sign(secret)?);
        seeds.push(list.payload()?);
    }
    for service in &services {
        seeds.push(service.sign(secret)?);
        seeds.push(service.payload()?);
    }
    if let Some(list) = lists.last() {
        seeds.push(list.sign(&SecretKey::from_seed(&[0x01; 32]))?);
    }
    // Field lines (see `state_field_payloads`).
    seeds.push(b"2026-12-01T10:00:00Z\nprop_1\n2\n01\nabab".to_vec());
    seeds.push(b"2027-01-02T03:04:05Z\nprop_1\n7\ngarage\nstreet\n\norg_parcels".to_vec());
    Ok(seeds)
}

/// The key-encryption key every [`sealed_key`] input is opened with.
pub const SEALED_KEK: [u8; custody::KEK_LEN] = [0x6b; custody::KEK_LEN];
/// The purpose raw [`sealed_key`] inputs are opened for.
pub const SEALED_PURPOSE: &str = "property-key";
/// The id raw [`sealed_key`] inputs are opened for.
pub const SEALED_ID: &str = "prop_1";
/// Length of a sealed key: version, nonce, sealed 32-byte seed, tag.
pub const SEALED_LEN: usize = 1 + 24 + 32 + 16;
/// Size of the fixed header of a [`sealed_key`] round-trip input.
pub const SEAL_HEADER: usize = 71;

/// The decoded shape of a [`sealed_key`] input, read as a seal → open round trip.
///
/// Layout (short inputs are padded with zeros):
///
/// | bytes  | field                                                                  |
/// |--------|------------------------------------------------------------------------|
/// | 0      | purpose length                                                         |
/// | 1      | id length                                                              |
/// | 2      | other purpose length                                                   |
/// | 3      | other id length                                                        |
/// | 4..6   | tamper position, u16 LE (modulo the seal's length)                     |
/// | 6      | tamper xor value (0: no tampering)                                     |
/// | 7..39  | seed of the key sealed                                                 |
/// | 39..71 | seed of the RNG that draws the nonce                                   |
/// | 71..   | purpose, id, other purpose, other id, each of its length (as far as    |
/// |        | the bytes go), as lossy UTF-8                                          |
#[derive(Debug, Clone)]
struct SealInput {
    purpose: String,
    id: String,
    other_purpose: String,
    other_id: String,
    tamper_at: u16,
    tamper_xor: u8,
    key_seed: [u8; 32],
    rng_seed: [u8; 32],
}

fn split_seal_input(data: &[u8]) -> SealInput {
    let mut header = [0u8; SEAL_HEADER];
    let n = data.len().min(SEAL_HEADER);
    if let (Some(dst), Some(src)) = (header.get_mut(..n), data.get(..n)) {
        dst.copy_from_slice(src);
    }
    let [pl, il, opl, oil, t0, t1, tamper_xor, rest @ ..] = header;
    let key_seed: [u8; 32] = rest.first_chunk().copied().unwrap_or_default();
    let rng_seed: [u8; 32] = rest.last_chunk().copied().unwrap_or_default();
    let mut tail = data.get(SEAL_HEADER..).unwrap_or_default();
    let mut take = |len: u8| {
        let (text, rest) = tail
            .split_at_checked(usize::from(len))
            .unwrap_or((tail, &[]));
        tail = rest;
        String::from_utf8_lossy(text).into_owned()
    };
    SealInput {
        purpose: take(pl),
        id: take(il),
        other_purpose: take(opl),
        other_id: take(oil),
        tamper_at: u16::from_le_bytes([t0, t1]),
        tamper_xor,
        key_seed,
        rng_seed,
    }
}

/// Opens `data` as a sealed key from the database under [`SEALED_KEK`] for [`SEALED_PURPOSE`]
/// and [`SEALED_ID`], then reads it as a seal → open round trip (layout on `SealInput`);
/// checks the invariants listed in the module documentation.
pub fn sealed_key(data: &[u8]) {
    let kek = Kek::from_bytes(SEALED_KEK);

    // As a sealed key a thief may have edited.
    match kek.open(data, SEALED_PURPOSE, SEALED_ID) {
        Ok(key) => {
            assert!(
                data.len() == SEALED_LEN && data.first() == Some(&1),
                "opened a sealed key of {} bytes, not a {SEALED_LEN}-byte version-1 seal",
                data.len()
            );
            assert!(
                kek.open(data, "carrier-key", SEALED_ID).is_err(),
                "a property key's seal opens as a carrier key"
            );
            assert!(
                kek.open(data, SEALED_PURPOSE, "prop_2").is_err(),
                "a seal opens for another property"
            );
            assert!(
                Kek::from_bytes([0x6c; custody::KEK_LEN])
                    .open(data, SEALED_PURPOSE, SEALED_ID)
                    .is_err(),
                "a seal opens under another KEK"
            );
            let mut rng = rand::rngs::StdRng::from_seed([0; 32]);
            let again = kek
                .seal(&key, SEALED_PURPOSE, SEALED_ID, &mut rng)
                .and_then(|sealed| kek.open(&sealed, SEALED_PURPOSE, SEALED_ID));
            assert!(
                again.as_ref().map(SecretKey::public) == Ok(key.public()),
                "an opened key does not seal and open again to itself"
            );
        }
        Err(e) => assert!(
            matches!(e, SealError::Format | SealError::Open),
            "opening failed with {e:?}, neither a format nor an open error"
        ),
    }

    // As a round trip for a purpose and id of the input's choosing.
    let input = split_seal_input(data);
    let same_pair = input.purpose == input.other_purpose && input.id == input.other_id;
    let aad = custody::associated_data(&input.purpose, &input.id);
    let other_aad = custody::associated_data(&input.other_purpose, &input.other_id);
    assert!(
        same_pair || aad.is_err() || other_aad.is_err() || aad != other_aad,
        "({:?}, {:?}) and ({:?}, {:?}) have the same associated data",
        input.purpose,
        input.id,
        input.other_purpose,
        input.other_id
    );
    let key = SecretKey::from_seed(&input.key_seed);
    let mut rng = rand::rngs::StdRng::from_seed(input.rng_seed);
    let sealed = match kek.seal(&key, &input.purpose, &input.id, &mut rng) {
        Ok(sealed) => sealed,
        Err(SealError::Purpose) if input.purpose.contains('\0') => return,
        Err(e) => panic!(
            "sealing for ({:?}, {:?}) failed: {e}",
            input.purpose, input.id
        ),
    };
    assert!(
        sealed.len() == SEALED_LEN,
        "a seal of {} bytes, not {SEALED_LEN}",
        sealed.len()
    );
    let opened = kek.open(&sealed, &input.purpose, &input.id);
    assert!(
        opened.as_ref().map(SecretKey::public) == Ok(key.public()),
        "a key sealed for ({:?}, {:?}) opens as {:?}",
        input.purpose,
        input.id,
        opened.map(|k| k.public())
    );
    let other = kek.open(&sealed, &input.other_purpose, &input.other_id);
    assert!(
        same_pair || other.is_err(),
        "a key sealed for ({:?}, {:?}) opens for ({:?}, {:?})",
        input.purpose,
        input.id,
        input.other_purpose,
        input.other_id
    );
    if input.tamper_xor != 0 {
        let mut bad = sealed;
        let len = bad.len();
        if let Some(b) = usize::from(input.tamper_at)
            .checked_rem(len)
            .and_then(|i| bad.get_mut(i))
        {
            *b ^= input.tamper_xor;
        }
        assert!(
            kek.open(&bad, &input.purpose, &input.id).is_err(),
            "a seal with a byte altered at {} still opens",
            input.tamper_at
        );
    }
}

/// Builds a [`sealed_key`] round-trip input from its parts (for seed corpora and tests); each
/// string is cut to 255 bytes.
pub fn seal_input(
    pair: (&str, &str),
    other: (&str, &str),
    tamper: (u16, u8),
    key_seed: &[u8; 32],
    rng_seed: &[u8; 32],
) -> Vec<u8> {
    let texts = [pair.0, pair.1, other.0, other.1].map(|s| {
        let bytes = s.as_bytes();
        bytes.get(..255).unwrap_or(bytes)
    });
    let mut out = Vec::with_capacity(SEAL_HEADER + texts.iter().map(|t| t.len()).sum::<usize>());
    out.extend(
        texts
            .iter()
            .map(|t| u8::try_from(t.len()).unwrap_or(u8::MAX)),
    );
    out.extend_from_slice(&tamper.0.to_le_bytes());
    out.push(tamper.1);
    out.extend_from_slice(key_seed);
    out.extend_from_slice(rng_seed);
    out.extend(texts.iter().copied().flatten());
    out
}

/// A [`sealed_key`] seed corpus: real seals under [`SEALED_KEK`] (for [`SEALED_PURPOSE`] and
/// [`SEALED_ID`], and for another pair), and round-trip inputs with real purposes and ids.
pub fn sealed_key_seeds() -> Result<Vec<Vec<u8>>, SealError> {
    let kek = Kek::from_bytes(SEALED_KEK);
    let mut rng = rand::rngs::StdRng::from_seed([0x11; 32]);
    let key = SecretKey::from_seed(&[0x22; 32]);
    Ok(vec![
        kek.seal(&key, SEALED_PURPOSE, SEALED_ID, &mut rng)?,
        kek.seal(&key, "carrier-key", "org_parcels", &mut rng)?,
        seal_input(
            (SEALED_PURPOSE, SEALED_ID),
            (SEALED_PURPOSE, "prop_2"),
            (0, 0),
            &[0x22; 32],
            &[0x33; 32],
        ),
        seal_input(
            ("carrier-key", "org_parcels"),
            ("property-key", "org_parcels"),
            (30, 0x80),
            &[0x44; 32],
            &[0x55; 32],
        ),
        seal_input(
            ("property-key", "prop_harbour view/2"),
            ("property-key", "prop_harbour view/2"),
            (72, 0x01),
            &[0x66; 32],
            &[0x77; 32],
        ),
    ])
}

//! Fuzz-target bodies, shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay
//! test (`tests/fuzz_corpus.rs`), so the stable `cargo test` runs exactly what the fuzzer ran.
//!
//! Both functions take arbitrary bytes, feed them to the token readers and the door decision
//! built on the deterministic [`Fixture`], and must never panic on their own. What *does*
//! panic here is deliberate: the invariants below are `assert!`s, because a fuzzer learns of a
//! broken invariant only through a panic, and building the fixture once is set-up that can't
//! fail on valid literals (if it ever did, every input would be meaningless, so aborting is the
//! honest answer). That is why this module allows `clippy::panic`; nothing here decides a real
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
#![allow(clippy::panic)]

use std::sync::OnceLock;

use jiff::{SignedDuration, Timestamp};

use crate::authorization;
use crate::consent;
use crate::door::{Decision, DoorDevice, DoorState, Presentation, Revocations, decide};
use crate::fixture::Fixture;
use crate::inspect;
use crate::keys::PublicKey;
use crate::pass;
use crate::possession::{Challenge, PossessionProof};
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

//! Pass: an authorization plus one third-party block signed by the carrier naming one
//! delivery, one unit, one door, one driver key and a short window.
//!
//! Carrier block (signed with the carrier's key via Biscuit's third-party protocol, bound to
//! the authorization's signature so it can't be moved to another one):
//!
//! ```text
//! pass("<delivery ref>", "<unit>", "<door>", hex:<driver public key>, <nb unix s>, <na unix s>);
//! check if time($t), $t >= <not_before>, $t < <not_after>;
//! ```
//!
//! The pass is valid for `not_before <= t < not_after`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use biscuit_auth::AuthorizerBuilder;
use biscuit_auth::builder::{BlockBuilder, Scope, Term, fact};
use biscuit_auth::format::schema;
use doorman_core::{CarrierId, DeliveryRef, DoorId, UnitId};
use jiff::{SignedDuration, Timestamp};
use prost::Message;
use rand::{CryptoRng, RngCore};

use crate::authorization::{self, AuthorizationSpec};
use crate::keys::{PublicKey, SecretKey};
use crate::token::{self, TokenError, check_instant, date, query};

/// What the carrier's block of a pass says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassSpec {
    pub door: DoorId,
    pub unit: UnitId,
    pub delivery: DeliveryRef,
    /// The key on the driver's handset; the driver proves possession at the door.
    pub driver_key: PublicKey,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

/// Mints a pass on an authorization with the carrier's key. Refuses requests the device
/// would refuse anyway (wrong carrier key, door not authorized, window too long or outside
/// the authorization), saying what to fix. Returns the token bytes. `rng` draws the pass's
/// next-block key.
pub fn mint_pass<R: RngCore + CryptoRng>(
    authorization: &[u8],
    carrier_key: &SecretKey,
    spec: &PassSpec,
    rng: &mut R,
) -> Result<Vec<u8>, TokenError> {
    let auth = authorization::read_authorization_unverified(authorization)?;
    check_request(&auth, &carrier_key.public(), spec)?;
    let unverified = token::parse_unverified(authorization)?;
    if unverified.block_count() != 1 {
        return Err(TokenError::Build(format!(
            "the authorization already has {} blocks; mint passes on the authorization as \
             the owner signed it, not on a pass",
            unverified.block_count()
        )));
    }
    let mut params = HashMap::new();
    params.insert("nb".to_owned(), date(spec.not_before));
    params.insert("na".to_owned(), date(spec.not_after));
    let block = BlockBuilder::new()
        .fact(fact(
            "pass",
            &[
                Term::Str(spec.delivery.to_string()),
                Term::Str(spec.unit.to_string()),
                Term::Str(spec.door.to_string()),
                Term::Bytes(spec.driver_key.to_bytes().to_vec()),
                Term::Integer(spec.not_before.as_second()),
                Term::Integer(spec.not_after.as_second()),
            ],
        ))
        .and_then(|b| {
            b.code_with_params(
                "check if time($t), $t >= {nb}, $t < {na};",
                params,
                HashMap::new(),
            )
        })
        .map_err(TokenError::build)?;
    let request = unverified
        .third_party_request()
        .map_err(TokenError::build)?;
    let carrier = carrier_key.to_biscuit().map_err(TokenError::build)?;
    let signed = request
        .create_block(&carrier.private(), block)
        .and_then(|b| b.serialize())
        .map_err(TokenError::build)?;
    let next = biscuit_auth::KeyPair::new_with_rng(biscuit_auth::Algorithm::Ed25519, rng);
    unverified
        .append_third_party_with_keypair(&signed, next)
        .and_then(|t| t.to_vec())
        .map_err(TokenError::build)
}

fn check_request(
    auth: &AuthorizationSpec,
    carrier: &PublicKey,
    spec: &PassSpec,
) -> Result<(), TokenError> {
    check_instant("not_before", spec.not_before)?;
    check_instant("not_after", spec.not_after)?;
    if &auth.carrier_key != carrier {
        return Err(TokenError::Build(format!(
            "this authorization is for carrier key {}, but the key given is {}",
            auth.carrier_key, carrier
        )));
    }
    if !auth.doors.contains(&spec.door) {
        let doors: Vec<&str> = auth.doors.iter().map(DoorId::as_str).collect();
        return Err(TokenError::Build(format!(
            "door {:?} is not in the authorization (doors: {})",
            spec.door.as_str(),
            doors.join(", ")
        )));
    }
    if spec.not_after <= spec.not_before {
        return Err(TokenError::Build(format!(
            "the pass window is empty: not_after ({}) must be after not_before ({})",
            spec.not_after, spec.not_before
        )));
    }
    let window = spec.not_before.duration_until(spec.not_after);
    if window > auth.max_pass_duration {
        return Err(TokenError::Build(format!(
            "the pass window is {:#}; this authorization allows at most {:#}",
            window, auth.max_pass_duration
        )));
    }
    if spec.not_before < auth.not_before || spec.not_after > auth.not_after {
        return Err(TokenError::Build(format!(
            "the pass window {}..{} is outside the authorization's {}..{}",
            spec.not_before, spec.not_after, auth.not_before, auth.not_after
        )));
    }
    Ok(())
}

/// A pass whose whole chain verified under the pinned property key and whose shape is
/// right: one carrier block signed by the authorization's carrier key, one `pass` fact.
/// Only [`verify_pass`] makes one; it says nothing yet about door, time or schedule.
#[derive(Debug, Clone)]
pub struct VerifiedPass {
    pub(crate) authorization: Arc<AuthorizationSpec>,
    pub(crate) spec: PassSpec,
    pub(crate) carrier_block: usize,
    pub(crate) revocation_ids: Vec<Vec<u8>>,
}

impl VerifiedPass {
    /// The authorization it was minted on.
    pub fn authorization(&self) -> &AuthorizationSpec {
        &self.authorization
    }

    /// What the carrier's block says.
    pub fn spec(&self) -> &PassSpec {
        &self.spec
    }

    /// The carrier.
    pub fn carrier(&self) -> &CarrierId {
        &self.authorization.carrier
    }

    /// The pass's own id: the revocation id of the carrier's block. Attenuated copies of a
    /// pass share it, so single use holds whatever a holder appends.
    pub fn pass_id(&self) -> &[u8] {
        self.revocation_ids
            .get(self.carrier_block)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The authorization's id: revocation id of the authority block.
    pub fn authorization_id(&self) -> &[u8] {
        self.revocation_ids
            .first()
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Every block's revocation id; revoking any of them kills the pass.
    pub fn revocation_ids(&self) -> &[Vec<u8>] {
        &self.revocation_ids
    }

    /// Length of the pass's window.
    pub fn window(&self) -> SignedDuration {
        self.spec.not_before.duration_until(self.spec.not_after)
    }
}

fn wrong(detail: impl Into<String>) -> TokenError {
    TokenError::WrongKind {
        expected: "pass",
        detail: detail.into(),
    }
}

/// Verifies a pass's signatures under the pinned property key and reads it.
pub fn verify_pass(bytes: &[u8], property_key: &PublicKey) -> Result<VerifiedPass, TokenError> {
    verify_pass_at(bytes, property_key, None, None).map(|(pass, _)| pass)
}

/// The facts of the moment a device supplies when it evaluates a pass: what any Biscuit
/// verifier needs for the checks the tokens carry (docs/trust.md).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ambient<'a> {
    pub now: Timestamp,
    pub door: &'a DoorId,
    pub property: &'a doorman_core::PropertyId,
}

/// Authorizations a device has already read, so the next pass on the same authorization skips
/// re-reading the owner's facts (three Datalog queries and a key decompression, about a tenth
/// of a decision).
///
/// Keyed by the pinned property key and the signature of the owner's block: that block was
/// verified under that key in the same parse, and a strict Ed25519 signature binds exactly one
/// block content, so an entry can only ever describe the block it was read from. Bounded;
/// the oldest entry is forgotten first.
#[derive(Debug, Clone)]
pub struct AuthorizationCache {
    capacity: usize,
    entries: HashMap<Vec<u8>, Arc<AuthorizationSpec>>,
    order: VecDeque<Vec<u8>>,
}

impl Default for AuthorizationCache {
    fn default() -> Self {
        AuthorizationCache::new(1024)
    }
}

impl AuthorizationCache {
    /// A cache holding at most `capacity` authorizations (0 disables it).
    pub fn new(capacity: usize) -> AuthorizationCache {
        AuthorizationCache {
            capacity,
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Number of authorizations held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn get(&self, key: &[u8]) -> Option<Arc<AuthorizationSpec>> {
        self.entries.get(key).cloned()
    }

    fn insert(&mut self, key: Vec<u8>, spec: Arc<AuthorizationSpec>) {
        if self.capacity == 0 {
            return;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
        if self.entries.insert(key.clone(), spec).is_none() {
            self.order.push_back(key);
        }
    }
}

/// Outcome of evaluating every check the token carries.
pub(crate) type TokenChecks = Result<usize, biscuit_auth::error::Token>;

/// [`verify_pass`], and, given the facts of the moment, the outcome of all the token's own
/// checks, from one Datalog evaluation (the door decision's hot path).
pub(crate) fn verify_pass_at(
    bytes: &[u8],
    property_key: &PublicKey,
    ambient: Option<Ambient<'_>>,
    cache: Option<&mut AuthorizationCache>,
) -> Result<(VerifiedPass, Option<TokenChecks>), TokenError> {
    let (biscuit, raw) = token::parse_raw(bytes, property_key)?;
    let mut builder = AuthorizerBuilder::new().set_limits(token::run_limits());
    if let Some(am) = ambient {
        builder = builder
            .fact(fact("time", &[date(am.now)]))
            .and_then(|b| b.fact(fact("unix_time", &[Term::Integer(am.now.as_second())])))
            .and_then(|b| b.fact(fact("door_request", &[Term::Str(am.door.to_string())])))
            .and_then(|b| {
                b.fact(fact(
                    "property_request",
                    &[Term::Str(am.property.to_string())],
                ))
            })
            .and_then(|b| b.policy(allow_all()?))
            .map_err(TokenError::build)?;
    }
    let mut a = builder
        .build(&biscuit)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    let checks = ambient.map(|_| a.authorize());
    // Exactly one third-party block, signed by the one carrier key the owner's block names.
    // Keys are compared as bytes (no point decompression on the hot path).
    let (carrier_block, carrier_b) = carrier_block(&biscuit.external_public_keys())?;
    let mut cache_key = property_key.to_bytes().to_vec();
    cache_key.extend_from_slice(&raw.authority.signature);
    let cached = cache.as_ref().and_then(|c| c.get(&cache_key));
    let authorization = match cached {
        // The same owner's block: only the carrier's signature on this pass is new.
        Some(spec) if spec.carrier_key.to_bytes() == carrier_b.to_bytes().as_slice() => spec,
        Some(_) => {
            return Err(wrong(
                "its third-party block is not signed by the authorized carrier",
            ));
        }
        None => {
            let spec = Arc::new(read_owner_block(&mut a, &raw, &carrier_b)?);
            if let Some(c) = cache {
                c.insert(cache_key, Arc::clone(&spec));
            }
            spec
        }
    };
    // Only facts from blocks signed by the carrier's key: never the holder's own blocks.
    let mut pass_rule =
        token::rule!("data($r, $u, $d, $k, $nb, $na) <- pass($r, $u, $d, $k, $nb, $na)");
    pass_rule.scopes = vec![Scope::PublicKey(carrier_b)];
    type Row = (String, String, String, Vec<u8>, i64, i64);
    let rows: Vec<Row> = query(&mut a, pass_rule)?;
    let [(delivery, unit, door, driver, nb, na)] = <[Row; 1]>::try_from(rows).map_err(|rows| {
        wrong(format!(
            "expected one pass fact from the carrier, found {}",
            rows.len()
        ))
    })?;
    let bad = |what: &str, e: &dyn std::fmt::Display| wrong(format!("bad {what}: {e}"));
    let at = |what: &str, s: i64| Timestamp::from_second(s).map_err(|e| bad(what, &e));
    let spec = PassSpec {
        door: DoorId::new(door).map_err(|e| bad("door", &e))?,
        unit: UnitId::new(unit).map_err(|e| bad("unit", &e))?,
        delivery: DeliveryRef::new(delivery).map_err(|e| bad("delivery", &e))?,
        driver_key: PublicKey::verifying_only(&driver).map_err(|e| bad("driver key", &e))?,
        not_before: at("not_before", nb)?,
        not_after: at("not_after", na)?,
    };
    Ok((
        VerifiedPass {
            revocation_ids: biscuit.revocation_identifiers(),
            authorization,
            spec,
            carrier_block,
        },
        checks,
    ))
}

fn allow_all() -> Result<biscuit_auth::builder::Policy, biscuit_auth::error::Token> {
    static POLICY: std::sync::OnceLock<biscuit_auth::builder::Policy> = std::sync::OnceLock::new();
    if let Some(p) = POLICY.get() {
        return Ok(p.clone());
    }
    let p = biscuit_auth::builder::Policy::try_from("allow if true")?;
    let _ = POLICY.set(p.clone());
    Ok(p)
}

/// Reads the owner's block of a pass: checks that it names exactly the carrier key that signed
/// the third-party block (compared as bytes), then reads its facts.
fn read_owner_block(
    a: &mut biscuit_auth::Authorizer,
    raw: &schema::Biscuit,
    carrier_b: &biscuit_auth::PublicKey,
) -> Result<AuthorizationSpec, TokenError> {
    let authority = schema::Block::decode(raw.authority.block.as_slice())
        .map_err(|e| TokenError::Format(e.to_string()))?;
    match authority.public_keys.as_slice() {
        [k] if k.key == carrier_b.to_bytes() => {}
        [_] => {
            return Err(wrong(
                "its third-party block is not signed by the authorized carrier",
            ));
        }
        keys => {
            return Err(wrong(format!(
                "the owner's block must name exactly one carrier key, it names {}",
                keys.len()
            )));
        }
    }
    let carrier_key =
        PublicKey::from_biscuit(carrier_b).map_err(|e| wrong(format!("bad carrier key: {e}")))?;
    authorization::authority_facts(a, carrier_key)
}

/// The pass id a driver's handset signs over, read without the root key (the handset may
/// not know it). Same definition as [`VerifiedPass::pass_id`]: the revocation id of the one
/// third-party block.
pub fn pass_id_unverified(bytes: &[u8]) -> Result<Vec<u8>, TokenError> {
    let u = token::parse_unverified(bytes)?;
    let (i, _) = carrier_block(&u.external_public_keys())?;
    u.revocation_identifiers()
        .get(i)
        .cloned()
        .ok_or_else(|| wrong("missing revocation id"))
}

/// The one third-party block of a pass (the carrier's): its index and signer. Both the device
/// and the driver's handset find the pass id here, so they always agree on it.
fn carrier_block(
    external: &[Option<biscuit_auth::PublicKey>],
) -> Result<(usize, biscuit_auth::PublicKey), TokenError> {
    let mut third = external
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.map(|k| (i, k)));
    match (third.next(), third.next()) {
        (Some(one), None) => Ok(one),
        (None, _) => Err(wrong(
            "it is an authorization without a carrier's pass block",
        )),
        (Some(_), Some(_)) => Err(wrong(format!(
            "it has {} third-party blocks; a pass has one",
            external.iter().flatten().count()
        ))),
    }
}

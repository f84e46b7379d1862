//! Carrier authorization: the owner's signed "this carrier may deliver to these doors, on this
//! schedule, until then, this many times a day" — usable only with a block signed by the
//! carrier's own key, so a leaked authorization alone opens nothing.
//!
//! Authority block (signed by the property key), kept compact so a pass fits in 1 KiB:
//!
//! ```text
//! authorization("P", "C", "Europe/Paris", <max pass seconds>, <daily cap, 0 = none>,
//!               <not_before date>, <not_after date>);
//! door("D1"); door("D2");
//! schedule({1, 2, 3, 4, 5}, 480, 1200);   // ISO weekdays, [start, end) minutes, local time
//! check if pass($r, $u, $d, $k, $nb, $na) trusting ed25519/<carrier key>;
//! check if time($t), $t >= <not_before>, $t < <not_after>;
//! check if door_request($d), door($d);
//! ```
//!
//! The carrier's key is the one key in the block's public-key table (the `trusting` scope of
//! the first check): that check is what makes a carrier-signed block mandatory. Any Biscuit
//! verifier that supplies `time` and `door_request` enforces expiry, door and the carrier
//! block; the schedule, daily cap and pass-window length are enforced by the Doorman door
//! decision, which reads them from these facts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::SystemTime;

use biscuit_auth::builder::{BlockBuilder, Scope, Term, fact};
use biscuit_auth::datalog::SymbolTable;
use biscuit_auth::{Authorizer, AuthorizerBuilder, Biscuit};
use doorman_core::{CarrierId, DoorId, PropertyId, WeeklySchedule};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use rand::{CryptoRng, RngCore};

use crate::keys::{PublicKey, SecretKey};
use crate::token::{self, TokenError, check_window, date, query, query_one, rule};

/// Default longest pass window.
pub const DEFAULT_MAX_PASS_DURATION: SignedDuration = SignedDuration::from_hours(2);

/// The longest pass window an authorization may allow at all.
pub const HARD_MAX_PASS_DURATION: SignedDuration = SignedDuration::from_hours(24);

/// What an authorization says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationSpec {
    pub property: PropertyId,
    pub carrier: CarrierId,
    /// The key the carrier signs passes with.
    pub carrier_key: PublicKey,
    pub doors: BTreeSet<DoorId>,
    pub schedule: WeeklySchedule,
    /// IANA time zone of the property; the schedule is on its wall clock.
    pub time_zone: String,
    /// Most entries per property-local day; `None` for no cap.
    pub daily_cap: Option<u32>,
    /// Longest window of a pass minted under this authorization.
    pub max_pass_duration: SignedDuration,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
}

impl AuthorizationSpec {
    /// The property's time zone, from the bundled database.
    pub fn tz(&self) -> Result<TimeZone, TokenError> {
        time_zone(&self.time_zone)
    }
}

/// Looks up an IANA zone name in the bundled time-zone database.
pub fn time_zone(name: &str) -> Result<TimeZone, TokenError> {
    TimeZone::get(name).map_err(|_| {
        TokenError::Build(format!(
            "unknown time zone {name:?}; use an IANA name such as Europe/Paris or America/New_York"
        ))
    })
}

fn validate(spec: &AuthorizationSpec) -> Result<(), TokenError> {
    check_window(spec.not_before, spec.not_after)?;
    if spec.doors.is_empty() {
        return Err(TokenError::Build("give at least one door".into()));
    }
    spec.tz()?;
    if spec.max_pass_duration <= SignedDuration::ZERO
        || spec.max_pass_duration > HARD_MAX_PASS_DURATION
    {
        return Err(TokenError::Build(format!(
            "max pass duration must be between 1s and 24h; got {:#}",
            spec.max_pass_duration
        )));
    }
    if spec.daily_cap == Some(0) {
        return Err(TokenError::Build(
            "a daily cap of 0 would allow nothing; omit it for no cap".into(),
        ));
    }
    Ok(())
}

/// Signs a carrier authorization with the property key. Returns the token bytes. `rng` draws
/// the token's next-block key.
pub fn sign_authorization<R: RngCore + CryptoRng>(
    property_key: &SecretKey,
    spec: &AuthorizationSpec,
    rng: &mut R,
) -> Result<Vec<u8>, TokenError> {
    validate(spec)?;
    let mut b = Biscuit::builder()
        .fact(fact(
            "authorization",
            &[
                Term::Str(spec.property.to_string()),
                Term::Str(spec.carrier.to_string()),
                Term::Str(spec.time_zone.clone()),
                Term::Integer(spec.max_pass_duration.as_secs()),
                Term::Integer(i64::from(spec.daily_cap.unwrap_or(0))),
                date(spec.not_before),
                date(spec.not_after),
            ],
        ))
        .map_err(TokenError::build)?;
    for door in &spec.doors {
        b = b
            .fact(fact("door", &[Term::Str(door.to_string())]))
            .map_err(TokenError::build)?;
    }
    // Weekdays sharing the same hours go in one fact: Mon-Fri 08:00-20:00 is one fact, not five.
    let mut by_hours: BTreeMap<(u16, u16), BTreeSet<Term>> = BTreeMap::new();
    for iv in spec.schedule.intervals() {
        by_hours
            .entry((iv.start, iv.end))
            .or_default()
            .insert(Term::Integer(i64::from(iv.weekday)));
    }
    for ((start, end), days) in by_hours {
        b = b
            .fact(fact(
                "schedule",
                &[
                    Term::Set(days),
                    Term::Integer(i64::from(start)),
                    Term::Integer(i64::from(end)),
                ],
            ))
            .map_err(TokenError::build)?;
    }
    let mut params = HashMap::new();
    params.insert("nb".to_owned(), date(spec.not_before));
    params.insert("na".to_owned(), date(spec.not_after));
    let mut scope_params = HashMap::new();
    scope_params.insert("carrier".to_owned(), spec.carrier_key.to_biscuit());
    let b = b
        .code_with_params(
            r#"
            check if pass($r, $u, $d, $k, $nb, $na) trusting {carrier};
            check if time($t), $t >= {nb}, $t < {na};
            check if door_request($d), door($d);
            "#,
            params,
            scope_params,
        )
        .map_err(TokenError::build)?
        .root_key_id(property_key.public().root_key_id());
    let keypair = property_key.to_biscuit().map_err(TokenError::build)?;
    b.build_with_rng(&keypair, SymbolTable::default(), rng)
        .and_then(|t| t.to_vec())
        .map_err(TokenError::build)
}

/// Reads the authority facts of an authorization (or of a pass built on one) from an
/// authorizer whose token was verified, or whose facts were loaded for inspection. The
/// carrier key comes from the block's public-key table, read by the caller.
pub(crate) fn authority_facts(
    a: &mut Authorizer,
    carrier_key: PublicKey,
) -> Result<AuthorizationSpec, TokenError> {
    const E: &str = "carrier authorization";
    let bad = |what: &str, e: &dyn std::fmt::Display| TokenError::WrongKind {
        expected: E,
        detail: format!("bad {what}: {e}"),
    };
    type Row = (String, String, String, i64, i64, SystemTime, SystemTime);
    let (property, carrier, time_zone, max_pass, cap, nb, na): Row = query_one(
        a,
        rule!("data($p, $c, $z, $m, $n, $b, $a) <- authorization($p, $c, $z, $m, $n, $b, $a)"),
        E,
        "authorization",
    )?;
    let doors: Vec<(String,)> = query(a, rule!("data($x) <- door($x)"))?;
    let schedule: Vec<(BTreeSet<i64>, i64, i64)> =
        query(a, rule!("data($w, $s, $e) <- schedule($w, $s, $e)"))?;
    let daily_cap = match cap {
        0 => None,
        n => Some(u32::try_from(n).map_err(|e| bad("daily cap", &e))?),
    };
    let doors = doors
        .into_iter()
        .map(|(d,)| DoorId::new(d))
        .collect::<Result<BTreeSet<_>, _>>()
        .map_err(|e| bad("door", &e))?;
    if doors.is_empty() {
        return Err(bad("door", &"no door named"));
    }
    if max_pass <= 0 {
        return Err(bad("max pass seconds", &max_pass));
    }
    self::time_zone(&time_zone).map_err(|e| bad("timezone", &e))?;
    let intervals = schedule
        .into_iter()
        .flat_map(|(days, s, e)| days.into_iter().map(move |d| (d, s, e)));
    Ok(AuthorizationSpec {
        property: PropertyId::new(property).map_err(|e| bad("property", &e))?,
        carrier: CarrierId::new(carrier).map_err(|e| bad("carrier", &e))?,
        carrier_key,
        doors,
        schedule: WeeklySchedule::from_intervals(intervals).map_err(|e| bad("schedule", &e))?,
        time_zone,
        daily_cap,
        max_pass_duration: SignedDuration::from_secs(max_pass),
        not_before: token::from_system_time(nb)?,
        not_after: token::from_system_time(na)?,
    })
}

fn one_carrier_key(
    keys: impl IntoIterator<Item = biscuit_auth::PublicKey>,
) -> Result<PublicKey, TokenError> {
    let keys: Vec<_> = keys.into_iter().collect();
    match keys.as_slice() {
        [k] => PublicKey::from_biscuit(k).map_err(|e| TokenError::WrongKind {
            expected: "carrier authorization",
            detail: format!("bad carrier key: {e}"),
        }),
        _ => Err(TokenError::WrongKind {
            expected: "carrier authorization",
            detail: format!(
                "the authority block must name exactly one carrier key, it names {}",
                keys.len()
            ),
        }),
    }
}

/// The carrier key of a verified token: the one key in the authority block's table.
pub(crate) fn carrier_key_of(biscuit: &Biscuit) -> Result<PublicKey, TokenError> {
    let table = biscuit
        .block_public_keys(0)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    one_carrier_key((0..).map_while(|i| table.get_key(i).cloned()))
}

/// An authorization whose signature verified under a property key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAuthorization {
    pub spec: AuthorizationSpec,
    /// Revocation id of the authority block: revoking it kills every pass minted on it.
    pub revocation_id: Vec<u8>,
}

/// Verifies an authorization's signature under the property key and reads it.
pub fn read_authorization(
    bytes: &[u8],
    property_key: &PublicKey,
) -> Result<VerifiedAuthorization, TokenError> {
    let biscuit = token::parse(bytes, property_key)?;
    let mut a = AuthorizerBuilder::new()
        .set_limits(token::run_limits())
        .build(&biscuit)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    Ok(VerifiedAuthorization {
        spec: authority_facts(&mut a, carrier_key_of(&biscuit)?)?,
        revocation_id: biscuit
            .revocation_identifiers()
            .into_iter()
            .next()
            .unwrap_or_default(),
    })
}

/// Reads an authorization's facts **without** checking its signature: what a carrier does
/// to validate a pass request before minting (the device checks everything again).
pub fn read_authorization_unverified(bytes: &[u8]) -> Result<AuthorizationSpec, TokenError> {
    let unverified = token::parse_unverified(bytes)?;
    let source = unverified
        .print_block_source(0)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    let block = BlockBuilder::new()
        .code(&source)
        .map_err(|e| TokenError::Format(e.to_string()))?;
    let scoped_keys = block
        .checks
        .iter()
        .flat_map(|c| c.queries.iter())
        .flat_map(|q| q.scopes.iter())
        .filter_map(|s| match s {
            Scope::PublicKey(k) => Some(*k),
            _ => None,
        })
        .fold(Vec::new(), |mut keys, k| {
            if !keys.contains(&k) {
                keys.push(k);
            }
            keys
        });
    let mut a = AuthorizerBuilder::new()
        .set_limits(token::run_limits())
        .code(source)
        .and_then(|b| b.build_unauthenticated())
        .map_err(|e| TokenError::Format(e.to_string()))?;
    authority_facts(&mut a, one_carrier_key(scoped_keys)?)
}

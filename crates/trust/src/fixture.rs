//! A deterministic building (same keys, same token bytes in every run) for tests, benchmarks, fuzzing and demos: fixed keys, a consent,
//! a carrier authorization and a pass, at a fixed instant. Nothing here is used to decide a
//! real door; it only builds inputs for [`crate::door::decide`].

use std::collections::BTreeSet;

use doorman_core::{
    CarrierId, DeliveryRef, DoorId, PropertyId, ServiceSwitch, UnitId, UsageLedger, UsageLimits,
};
use jiff::{SignedDuration, Timestamp};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::authorization::{AuthorizationSpec, sign_authorization};
use crate::consent::{ConsentSpec, read_consent, sign_consent};
use crate::door::{Decision, DoorDevice, DoorPolicy, DoorState, Presentation, Revocations, decide};
use crate::keys::SecretKey;
use crate::pass::AuthorizationCache;
use crate::pass::{PassSpec, mint_pass};
use crate::token::{self, TokenError};

/// Keys, ids and tokens of one building at one instant.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub property_key: SecretKey,
    pub carrier_key: SecretKey,
    pub driver_key: SecretKey,
    pub device_key: SecretKey,
    pub property: PropertyId,
    pub door: DoorId,
    /// A second door of the building, also in the authorization.
    pub other_door: DoorId,
    /// Wednesday 2026-11-25 10:00 in Paris (09:00Z): inside the schedule and every window.
    pub now: Timestamp,
    pub consent: Vec<u8>,
    pub authorization: Vec<u8>,
    /// A pass for `door`, valid `now - 30 min .. now + 90 min`, as text.
    pub pass: String,
}

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    match s.parse() {
        Ok(v) => v,
        // Fixture literals are valid by construction.
        Err(_) => unreachable_fixture(),
    }
}

/// A seeded RNG: the fixture's tokens are the same bytes in every run (tests, fuzzing and
/// benchmarks reproduce exactly).
fn seeded(n: u64) -> StdRng {
    StdRng::seed_from_u64(0x646f_6f72_6d61_6e00 + n)
}

#[cold]
#[allow(clippy::panic)]
fn unreachable_fixture() -> ! {
    panic!("fixture literal is invalid")
}

impl Fixture {
    /// The standard building.
    pub fn new() -> Result<Fixture, TokenError> {
        let property_key = SecretKey::from_seed(&[1; 32]);
        let carrier_key = SecretKey::from_seed(&[2; 32]);
        let driver_key = SecretKey::from_seed(&[3; 32]);
        let device_key = SecretKey::from_seed(&[4; 32]);
        let now: Timestamp = id("2026-11-25T09:00:00Z");
        let mut f = Fixture {
            property_key,
            carrier_key,
            driver_key,
            device_key,
            property: id("prop-7f3a9c"),
            door: id("street"),
            other_door: id("garage"),
            now,
            consent: Vec::new(),
            authorization: Vec::new(),
            pass: String::new(),
        };
        f.consent = sign_consent(&f.property_key, &f.consent_spec(), &mut seeded(1))?;
        f.authorization =
            sign_authorization(&f.property_key, &f.authorization_spec(), &mut seeded(2))?;
        f.pass = token::encode(&mint_pass(
            &f.authorization,
            &f.carrier_key,
            &f.pass_spec(),
            &mut seeded(3),
        )?);
        Ok(f)
    }

    /// The consent for `device_key` at `door`, valid for a year around `now`.
    pub fn consent_spec(&self) -> ConsentSpec {
        ConsentSpec {
            property: self.property.clone(),
            door: self.door.clone(),
            device: self.device_key.public(),
            installer: id("install-co-12"),
            not_before: self.now - SignedDuration::from_hours(24 * 30),
            not_after: self.now + SignedDuration::from_hours(24 * 335),
        }
    }

    /// Carrier `acme-parcel`, both doors, Mon-Fri 08:00-20:00 and Sat 09:00-13:00 in Paris,
    /// 50 entries a day, passes of at most 2 h, valid for 90 days from a week ago.
    pub fn authorization_spec(&self) -> AuthorizationSpec {
        AuthorizationSpec {
            property: self.property.clone(),
            carrier: id::<CarrierId>("acme-parcel"),
            carrier_key: self.carrier_key.public(),
            doors: BTreeSet::from([self.door.clone(), self.other_door.clone()]),
            schedule: id("Mon-Fri 08:00-20:00; Sat 09:00-13:00"),
            time_zone: "Europe/Paris".into(),
            daily_cap: Some(50),
            max_pass_duration: SignedDuration::from_hours(2),
            not_before: self.now - SignedDuration::from_hours(24 * 7),
            not_after: self.now + SignedDuration::from_hours(24 * 83),
        }
    }

    /// The standard pass: delivery `ACME-20261125-000123` to unit `4B` at `door` for the driver.
    pub fn pass_spec(&self) -> PassSpec {
        PassSpec {
            door: self.door.clone(),
            unit: id::<UnitId>("4B"),
            delivery: id::<DeliveryRef>("ACME-20261125-000123"),
            driver_key: self.driver_key.public(),
            not_before: self.now - SignedDuration::from_mins(30),
            not_after: self.now + SignedDuration::from_mins(90),
        }
    }

    /// Mints another pass on the fixture's authorization.
    pub fn mint(&self, spec: &PassSpec) -> Result<String, TokenError> {
        Ok(token::encode(&mint_pass(
            &self.authorization,
            &self.carrier_key,
            spec,
            &mut seeded(4),
        )?))
    }

    /// The device at `door`, default policy.
    pub fn device(&self) -> DoorDevice {
        DoorDevice {
            property_key: self.property_key.public(),
            property: self.property.clone(),
            door: self.door.clone(),
            device_key: self.device_key.public(),
            policy: DoorPolicy::default(),
        }
    }

    /// The device's state: consent verified, nothing revoked, list issued an hour ago.
    pub fn state(&self) -> Result<DoorState, TokenError> {
        Ok(DoorState {
            consent: Some(read_consent(&self.consent, &self.property_key.public())?),
            service: ServiceSwitch::all_on(),
            revocations: Revocations::new([], self.now - SignedDuration::from_hours(1)),
            usage: UsageLedger::new(UsageLimits::default()),
            authorizations: AuthorizationCache::default(),
        })
    }

    /// A whole presentation: the device issues a challenge at `now`, the fixture's driver
    /// answers it at `now`, the device decides at `now`.
    pub fn present(
        &self,
        device: &DoorDevice,
        state: &mut DoorState,
        pass: &str,
        now: Timestamp,
    ) -> Decision {
        let challenge = device.challenge([7; 32], now);
        let proof = token::decode(pass)
            .and_then(|bytes| challenge.prove(&self.driver_key, &bytes, now))
            .ok();
        decide(
            device,
            state,
            &Presentation {
                pass,
                challenge: &challenge,
                proof: proof.as_ref(),
            },
            now,
        )
    }
}

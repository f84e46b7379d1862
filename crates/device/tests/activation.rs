//! The activation bundle: a real log, real tokens and signed documents; every way a bundle can
//! be wrong is refused with its code, and no single-byte change gets through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_core::{DoorId, PropertyId, ServiceSwitch};
use doorman_device::fixture::{ORIGIN, World, good, now};
use doorman_device::{ActivationBundle, verify_activation};
use doorman_tlog::NoteSigner;
use doorman_trust::{DeviceConfig, SecretKey, ServiceState};
use proptest::prelude::*;

fn code(w: &World, bundle: &ActivationBundle) -> &'static str {
    match verify_activation(&bundle.to_bytes(), &w.device.public(), &w.log_key(), now()) {
        Ok(_) => "ok",
        Err(e) => e.code(),
    }
}

#[test]
fn a_logged_consent_for_this_device_activates_it() {
    let (w, bundle) = good();
    let a = verify_activation(&bundle.to_bytes(), &w.device.public(), &w.log_key(), now()).unwrap();
    assert_eq!(a.property.as_str(), "prop_1");
    assert_eq!(a.door.as_str(), "street");
    assert_eq!(a.property_key, w.property_key.public());
    assert_eq!((a.registration_index, a.consent_index), (1, 2));
    assert_eq!(a.config.policy().pulse_ms, 2500);
    assert!(a.revocations.revoked.is_empty());
}

#[test]
fn another_device_or_log_key_refuses() {
    let (w, bundle) = good();
    let stranger = SecretKey::from_seed(&[4; 32]).public();
    let err = verify_activation(&bundle.to_bytes(), &stranger, &w.log_key(), now()).unwrap_err();
    assert_eq!(err.code(), "not_this_device");
    // A log the device was not provisioned with: nothing is proven.
    let other_log = NoteSigner::from_seed(ORIGIN, &[5; 32]).unwrap().verifier();
    let err =
        verify_activation(&bundle.to_bytes(), &w.device.public(), &other_log, now()).unwrap_err();
    assert_eq!(err.code(), "not_in_log");
}

#[test]
fn a_consent_not_in_the_log_refuses() {
    let (mut w, mut bundle) = good();
    // Signed by the property, but never logged: the proof is for another entry.
    let token = w.consent_token(&w.device.public(), "2027-10-01T00:00:00Z");
    let entry = w.consent_entry(&token);
    bundle.consent.entry = String::from_utf8(entry.to_bytes().unwrap()).unwrap();
    assert_eq!(code(&w, &bundle), "not_in_log");
    // Logged only before the registration: refused too.
    let mut early = World::new();
    let token = early.consent_token(&early.device.public(), "2027-11-01T00:00:00Z");
    let c = early.append(&early.consent_entry(&token));
    let r = early.append(&early.registration("prop_1", &early.property_key.public()));
    let b = early.bundle(r, c);
    assert_eq!(code(&early, &b), "not_registered");
    // Entries swapped: a registration where the consent goes.
    let (w2, mut b2) = good();
    b2.consent = w2.logged(0);
    assert_eq!(code(&w2, &b2), "wrong_entry");
    let _ = &mut w;
}

#[test]
fn a_consent_under_a_key_the_log_did_not_register_refuses() {
    let mut w = World::new();
    // The registration logs a key; the consent is signed by a different one.
    let registered = SecretKey::from_seed(&[6; 32]).public();
    let reg = w.append(&w.registration("prop_1", &registered));
    let token = w.consent_token(&w.device.public(), "2027-11-01T00:00:00Z");
    let consent = w.append(&w.consent_entry(&token));
    let b = w.bundle(reg, consent);
    assert_eq!(code(&w, &b), "bad_consent");
}

#[test]
fn expired_revoked_and_mismatched_state_refuse() {
    // Expired consent.
    let mut w = World::new();
    let reg = w.append(&w.registration("prop_1", &w.property_key.public()));
    let token = w.consent_token(&w.device.public(), "2026-11-30T00:00:00Z");
    let consent = w.append(&w.consent_entry(&token));
    let b = w.bundle(reg, consent);
    assert_eq!(code(&w, &b), "consent_not_valid_now");

    // Revoked consent.
    let (w, mut b) = good();
    let a = verify_activation(&b.to_bytes(), &w.device.public(), &w.log_key(), now()).unwrap();
    b.revocations = w.revocations([a.consent.revocation_id().to_vec()].into_iter().collect());
    assert_eq!(code(&w, &b), "consent_revoked");

    // A configuration for another device or door.
    let (w, mut b) = good();
    b.config = w.signed(&DeviceConfig {
        device_key: SecretKey::from_seed(&[8; 32]).public(),
        ..w.config()
    });
    assert_eq!(code(&w, &b), "state_mismatch");
    b.config = w.signed(&DeviceConfig {
        door: DoorId::new("garage").unwrap(),
        ..w.config()
    });
    assert_eq!(code(&w, &b), "state_mismatch");
    // State signed by someone else.
    let (w, mut b) = good();
    b.service = String::from_utf8(
        ServiceState {
            property: PropertyId::new("prop_1").unwrap(),
            seq: 2,
            issued_at: now(),
            switch: ServiceSwitch::default(),
        }
        .sign(&SecretKey::from_seed(&[8; 32]))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(code(&w, &b), "bad_state");
    // A revocation list where the config goes.
    let (w, mut b) = good();
    b.config = b.revocations.clone();
    assert_eq!(code(&w, &b), "bad_state");
}

#[test]
fn malformed_bundles_get_codes() {
    let (w, b) = good();
    let key = w.device.public();
    let log = w.log_key();
    for (bytes, want) in [
        (b"".to_vec(), "malformed_bundle"),
        (b"[]".to_vec(), "malformed_bundle"),
        (
            b"{\"type\":\"doorman_activation\"}".to_vec(),
            "malformed_bundle",
        ),
        (
            vec![b' '; doorman_device::MAX_BUNDLE_BYTES + 1],
            "bundle_too_large",
        ),
    ] {
        assert_eq!(
            verify_activation(&bytes, &key, &log, now())
                .unwrap_err()
                .code(),
            want
        );
    }
    let mut v: serde_json::Value = serde_json::from_slice(&b.to_bytes()).unwrap();
    v["v"] = 2.into();
    assert_eq!(
        verify_activation(&serde_json::to_vec(&v).unwrap(), &key, &log, now())
            .unwrap_err()
            .code(),
        "unknown_version"
    );
    let mut v: serde_json::Value = serde_json::from_slice(&b.to_bytes()).unwrap();
    v["extra"] = 1.into();
    assert_eq!(
        verify_activation(&serde_json::to_vec(&v).unwrap(), &key, &log, now())
            .unwrap_err()
            .code(),
        "malformed_bundle"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// No single-byte change to a good bundle activates the device.
    #[test]
    fn no_changed_byte_activates(at in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let (w, b) = good();
        let mut bytes = b.to_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= delta;
        prop_assert!(
            verify_activation(&bytes, &w.device.public(), &w.log_key(), now()).is_err(),
            "byte {} ^ {:#x} accepted", i, delta
        );
    }
}

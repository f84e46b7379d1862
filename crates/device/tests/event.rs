//! Access events: signed by the device, read back exactly, bound to their device; no changed
//! byte verifies; inconsistent events are refused.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_core::{DenyReason, DoorId, PropertyId};
use doorman_device::AccessEvent;
use doorman_trust::SecretKey;
use proptest::prelude::*;

fn device() -> SecretKey {
    SecretKey::from_seed(&[3; 32])
}

fn allow() -> AccessEvent {
    AccessEvent {
        property: PropertyId::new("prop_1").unwrap(),
        door: DoorId::new("street").unwrap(),
        device_key: device().public(),
        seq: 17,
        at: "2026-12-01T10:00:00Z".parse().unwrap(),
        reason: None,
        pass: Some(vec![0xab; 64]),
        authorization: Some(vec![0xcd; 64]),
        carrier: Some("org_carrier".to_string()),
        unit: Some("4B".to_string()),
        delivery: Some("D-1".to_string()),
        driver_key: Some(SecretKey::from_seed(&[5; 32]).public()),
        pulse_ms: Some(3000),
    }
}

fn deny() -> AccessEvent {
    AccessEvent {
        reason: Some(DenyReason::Expired),
        authorization: None,
        unit: None,
        delivery: None,
        driver_key: None,
        pulse_ms: None,
        ..allow()
    }
}

#[test]
fn a_stored_event_that_is_not_an_envelope_is_refused() {
    for bad in [
        &b""[..],
        b"{}",
        b"{\"payload\":\"***\",\"signature\":\"\"}",
        b"[1]",
    ] {
        assert!(AccessEvent::from_stored(bad).is_err());
    }
}

#[test]
fn events_round_trip_and_are_bound_to_their_device() {
    for e in [allow(), deny()] {
        let doc = e.sign(&device()).unwrap();
        assert_eq!(AccessEvent::verify(&doc, &device().public()).unwrap(), e);
        // Read back from the store (verified when it was stored): the same event.
        assert_eq!(AccessEvent::from_stored(&doc).unwrap(), e);
        let other = SecretKey::from_seed(&[4; 32]);
        assert_eq!(
            AccessEvent::verify(&doc, &other.public())
                .unwrap_err()
                .code(),
            "bad_signature"
        );
        // A device can't sign an event in another device's name.
        assert_eq!(e.sign(&other).unwrap_err().code(), "invalid_document");
    }
    // A service-state signature is no event's (domain separation).
    let state = doorman_trust::ServiceState {
        property: PropertyId::new("prop_1").unwrap(),
        seq: 1,
        issued_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        switch: Default::default(),
    }
    .sign(&device())
    .unwrap();
    assert!(AccessEvent::verify(&state, &device().public()).is_err());
}

#[test]
fn inconsistent_events_are_refused() {
    let bad = [
        AccessEvent {
            pulse_ms: None,
            ..allow()
        },
        AccessEvent {
            pulse_ms: Some(1),
            ..deny()
        },
        AccessEvent {
            at: "2026-12-01T10:00:00.5Z".parse().unwrap(),
            ..allow()
        },
    ];
    for e in bad {
        assert_eq!(
            e.sign(&device()).unwrap_err().code(),
            "invalid_document",
            "{e:?}"
        );
    }
    for (member, value) in [
        ("result", serde_json::json!("maybe")),
        ("reason", serde_json::json!("expired")),
        ("pass", serde_json::json!("ABCD")),
        ("at", serde_json::json!("2026-12-01 10:00:00")),
        ("v", serde_json::json!(2)),
        ("extra", serde_json::json!(1)),
    ] {
        let mut wire: serde_json::Value =
            serde_json::from_slice(&allow().payload().unwrap()).unwrap();
        wire[member] = value;
        let payload = serde_json::to_vec(&wire).unwrap();
        assert!(AccessEvent::from_payload(&payload).is_err(), "{member}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn no_changed_byte_verifies(at in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let mut doc = allow().sign(&device()).unwrap();
        let i = at.index(doc.len());
        doc[i] ^= delta;
        prop_assert!(AccessEvent::verify(&doc, &device().public()).is_err(), "byte {} ^ {:#x}", i, delta);
    }
}

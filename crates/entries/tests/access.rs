//! Access-log leaves: the commitment, openings, strict parsing, the anchor entry.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use doorman_core::PropertyId;
use doorman_entries::{
    AccessLeaf, AccessLeafError, COMMITMENT_DOMAIN, MAX_ACCESS_PAYLOAD, PublicEntry, Salt,
    access_log_anchored_entry, commit, commitment, verify_opening,
};
use proptest::prelude::*;
use sha2::{Digest as _, Sha256};

const PAYLOAD: &[u8] = b"door=street;at=2026-11-25T10:00:00Z;pass=4f2a";

#[test]
fn the_commitment_is_sha256_over_tag_salt_length_and_payload() {
    let salt = Salt::from_bytes([0x5a; 32]);
    let mut h = Sha256::new();
    h.update(b"doorman/access_event/commitment/v1\0");
    h.update([0x5a; 32]);
    h.update((PAYLOAD.len() as u64).to_be_bytes());
    h.update(PAYLOAD);
    let want: [u8; 32] = h.finalize().into();
    assert_eq!(commitment(&salt, PAYLOAD).unwrap(), want);
    assert_eq!(COMMITMENT_DOMAIN.iter().filter(|&&b| b == 0).count(), 1);
    let leaf = commit(&salt, PAYLOAD).unwrap();
    assert_eq!(
        leaf,
        format!(
            r#"{{"commitment":"{}","type":"access_event","v":1}}"#,
            STANDARD.encode(want)
        )
        .into_bytes()
    );
    assert_eq!(AccessLeaf::parse(&leaf).unwrap().commitment, want);
}

#[test]
fn a_known_vector_stays_the_same() {
    // Pins the format: changing the tag, the order or the encoding breaks every stored leaf.
    let leaf = commit(&Salt::from_bytes([0; 32]), b"").unwrap();
    let parsed = AccessLeaf::parse(&leaf).unwrap();
    let mut h = Sha256::new();
    h.update(COMMITMENT_DOMAIN);
    h.update([0u8; 40]);
    assert_eq!(parsed.commitment, <[u8; 32]>::from(h.finalize()));
}

#[test]
fn openings_verify_and_every_change_is_refused() {
    let salt = Salt::from_bytes([1; 32]);
    let leaf = commit(&salt, PAYLOAD).unwrap();
    verify_opening(&leaf, &salt, PAYLOAD).unwrap();
    // A flipped bit in the salt, the payload or the leaf.
    for i in 0..32 {
        let mut s = *salt.as_bytes();
        s[i] ^= 1;
        let e = verify_opening(&leaf, &Salt::from_bytes(s), PAYLOAD).unwrap_err();
        assert_eq!(e, AccessLeafError::OpeningMismatch);
        assert_eq!(e.code(), "opening_mismatch");
    }
    for i in 0..PAYLOAD.len() * 8 {
        let mut p = PAYLOAD.to_vec();
        p[i / 8] ^= 1 << (i % 8);
        assert!(verify_opening(&leaf, &salt, &p).is_err());
    }
    for i in 0..leaf.len() * 8 {
        let mut l = leaf.clone();
        l[i / 8] ^= 1 << (i % 8);
        assert!(
            verify_opening(&l, &salt, PAYLOAD).is_err(),
            "bit {i} of the leaf flipped and the opening still verifies"
        );
    }
    // Without the salt, the payload does not open the leaf (it cannot be guessed from it).
    assert!(verify_opening(&leaf, &Salt::from_bytes([0; 32]), PAYLOAD).is_err());
    // Equal payloads under different salts give unrelated leaves.
    assert_ne!(commit(&Salt::from_bytes([2; 32]), PAYLOAD).unwrap(), leaf);
}

#[test]
fn payloads_are_at_most_16_kib() {
    let salt = Salt::from_bytes([3; 32]);
    let big = vec![b'x'; MAX_ACCESS_PAYLOAD];
    let leaf = commit(&salt, &big).unwrap();
    verify_opening(&leaf, &salt, &big).unwrap();
    let e = commit(&salt, &vec![b'x'; MAX_ACCESS_PAYLOAD + 1]).unwrap_err();
    assert_eq!(e, AccessLeafError::PayloadTooLarge(MAX_ACCESS_PAYLOAD + 1));
    assert_eq!(e.code(), "payload_too_large");
    assert_eq!(Salt::from_slice(&[0; 31]).unwrap_err().code(), "bad_salt");
    assert_eq!(format!("{salt:?}"), "Salt(..)");
}

#[test]
fn leaves_are_parsed_strictly() {
    let good = commit(&Salt::from_bytes([4; 32]), PAYLOAD).unwrap();
    let c = STANDARD.encode(AccessLeaf::parse(&good).unwrap().commitment);
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "bad_leaf"),
        ("[]".into(), "bad_leaf"),
        ("not json".into(), "bad_leaf"),
        (
            format!(r#"{{"commitment":"{c}","type":"consent_granted","v":1}}"#),
            "wrong_type",
        ),
        (format!(r#"{{"commitment":"{c}","v":1}}"#), "bad_member"),
        (
            format!(r#"{{"commitment":"{c}","type":"access_event","v":2}}"#),
            "unsupported_version",
        ),
        (
            format!(r#"{{"commitment":"{c}","type":"access_event"}}"#),
            "bad_member",
        ),
        (r#"{"type":"access_event","v":1}"#.into(), "bad_member"),
        (
            r#"{"commitment":"AAAA","type":"access_event","v":1}"#.into(),
            "bad_member",
        ),
        (
            format!(r#"{{"commitment":"{c}","door":"street","type":"access_event","v":1}}"#),
            "bad_member",
        ),
        (
            format!(r#"{{"type":"access_event","commitment":"{c}","v":1}}"#),
            "not_canonical",
        ),
        (
            format!(r#"{{"commitment":"{c}", "type":"access_event","v":1}}"#),
            "not_canonical",
        ),
        (
            format!(r#"{{"commitment":"{c}","type":"access_event","v":1,"v":1}}"#),
            "bad_leaf",
        ),
        ("x".repeat(300), "bad_leaf"),
    ];
    for (text, code) in cases {
        let e = AccessLeaf::parse(text.as_bytes()).unwrap_err();
        assert_eq!(e.code(), code, "{text}: {e}");
    }
    // An access leaf is no public entry, and a public entry is no access leaf.
    assert_eq!(
        PublicEntry::parse(&good).unwrap_err().code(),
        "unknown_type"
    );
}

#[test]
fn the_anchor_entry_is_a_valid_public_entry() {
    let property = PropertyId::new("prop #1/b@x: y").unwrap();
    let now = UNIX_EPOCH + Duration::from_millis(1_764_064_800_750);
    let entry = access_log_anchored_entry(
        now,
        &property,
        "log.example.com/log/access/prop%20%231%2Fb@x:%20y",
        7,
        &[9; 32],
    )
    .unwrap();
    let bytes = entry.to_bytes().unwrap();
    assert_eq!(PublicEntry::parse(&bytes).unwrap(), entry);
    let PublicEntry::AccessLogAnchored {
        at,
        property: p,
        size,
        root,
        ..
    } = &entry
    else {
        panic!("{entry:?}");
    };
    assert_eq!(at, "2025-11-25T10:00:00Z");
    assert_eq!(p, "prop #1/b@x: y");
    assert_eq!(*size, 7);
    assert_eq!(STANDARD.decode(root).unwrap(), vec![9; 32]);
    // Size 0 and bad origins are refused.
    assert!(access_log_anchored_entry(now, &property, "o", 0, &[9; 32]).is_err());
    assert!(access_log_anchored_entry(now, &property, "a b", 1, &[9; 32]).is_err());
    assert!(access_log_anchored_entry(now, &property, "a+b", 1, &[9; 32]).is_err());
}

proptest! {
    #[test]
    fn any_change_to_salt_or_payload_is_rejected(
        salt in any::<[u8; 32]>(),
        payload in proptest::collection::vec(any::<u8>(), 0..512),
        other_salt in any::<[u8; 32]>(),
        other_payload in proptest::collection::vec(any::<u8>(), 0..512),
        bit in any::<usize>(),
    ) {
        let leaf = commit(&Salt::from_bytes(salt), &payload).unwrap();
        prop_assert!(verify_opening(&leaf, &Salt::from_bytes(salt), &payload).is_ok());
        prop_assert_eq!(AccessLeaf::parse(&leaf).unwrap().to_bytes(), leaf.clone());
        // Any other salt or payload.
        if other_salt != salt {
            prop_assert!(verify_opening(&leaf, &Salt::from_bytes(other_salt), &payload).is_err());
        }
        if other_payload != payload {
            prop_assert!(verify_opening(&leaf, &Salt::from_bytes(salt), &other_payload).is_err());
        }
        // One flipped bit of the salt.
        let mut s = salt;
        s[(bit / 8) % 32] ^= 1 << (bit % 8);
        prop_assert!(verify_opening(&leaf, &Salt::from_bytes(s), &payload).is_err());
        // One flipped bit, one byte more or one byte fewer in the payload.
        if !payload.is_empty() {
            let mut p = payload.clone();
            let i = (bit / 8) % p.len();
            p[i] ^= 1 << (bit % 8);
            prop_assert!(verify_opening(&leaf, &Salt::from_bytes(salt), &p).is_err());
            prop_assert!(verify_opening(&leaf, &Salt::from_bytes(salt), &payload[1..]).is_err());
        }
        let mut longer = payload.clone();
        longer.push(0);
        prop_assert!(verify_opening(&leaf, &Salt::from_bytes(salt), &longer).is_err());
    }
}

//! Public entries: round trips, canonical form, validation, token checks, the directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_entries::{
    Custody, Directory, EntryError, EntryType, PublicEntry, carrier_authorized_entry, check_tokens,
    consent_granted_entry, normalize_address,
};
use doorman_trust::fixture::Fixture;
use proptest::prelude::*;

fn registered(f: &Fixture) -> PublicEntry {
    let address = "12, Rue de l'Église, 75001 Paris".to_string();
    PublicEntry::PropertyRegistered {
        at: "2026-11-01T09:00:00Z".into(),
        property: f.property.to_string(),
        address_key: normalize_address(&address).unwrap(),
        address,
        time_zone: "Europe/Paris".into(),
        property_key: f.property_key.public().to_string(),
        custody: Custody::Custodial,
        verified_by: "operator".into(),
    }
}

fn all_entries(f: &Fixture) -> Vec<PublicEntry> {
    let at: jiff::Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let key = f.property_key.public();
    vec![
        registered(f),
        PublicEntry::InstallationRequested {
            at: at.to_string(),
            property: f.property.to_string(),
            request: "req-1".into(),
            door: f.door.to_string(),
            device: "dev-1".into(),
            device_key: f.device_key.public().to_string(),
            installer: "acme-install".into(),
        },
        consent_granted_entry(at, "req-1", "dev-1", &f.consent, &key).unwrap(),
        PublicEntry::DeviceActivated {
            at: at.to_string(),
            property: f.property.to_string(),
            door: f.door.to_string(),
            device: "dev-1".into(),
            device_key: f.device_key.public().to_string(),
        },
        carrier_authorized_entry(at, &f.authorization, &key).unwrap(),
        PublicEntry::AuthorizationRevoked {
            at: at.to_string(),
            property: f.property.to_string(),
            carrier: "carrier-x".into(),
            revocation_id: "00ff".into(),
            reason: "contract_ended".into(),
        },
        PublicEntry::ConsentRevoked {
            at: at.to_string(),
            property: f.property.to_string(),
            door: f.door.to_string(),
            device: "dev-1".into(),
            revocation_id: "abcd".into(),
            reason: "owner_request".into(),
        },
        PublicEntry::DeviceDecommissioned {
            at: at.to_string(),
            property: f.property.to_string(),
            door: f.door.to_string(),
            device: "dev-1".into(),
            reason: "removed".into(),
        },
        PublicEntry::AccessLogAnchored {
            at: at.to_string(),
            property: f.property.to_string(),
            origin: "doorman.example/access/p1".into(),
            size: 42,
            root: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
        },
    ]
}

#[test]
fn every_type_round_trips_canonically() {
    let f = Fixture::new().unwrap();
    let entries = all_entries(&f);
    let types: Vec<EntryType> = entries.iter().map(PublicEntry::entry_type).collect();
    assert_eq!(types.len(), EntryType::ALL.len());
    for t in EntryType::ALL {
        assert!(types.contains(&t), "{t} not covered");
    }
    for entry in entries {
        let bytes = entry.to_bytes().unwrap();
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with('{') && !text.contains(": ") && !text.contains('\n'));
        assert!(text.contains("\"v\":1"), "{text}");
        assert_eq!(PublicEntry::parse(&bytes).unwrap(), entry);
        // Pretty-printed input is accepted by from_json, refused by parse.
        let pretty = serde_json::to_string_pretty(
            &serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
        )
        .unwrap();
        assert_eq!(PublicEntry::from_json(pretty.as_bytes()).unwrap(), entry);
        assert_eq!(
            PublicEntry::parse(pretty.as_bytes()),
            Err(EntryError::NotCanonical)
        );
    }
}

#[test]
fn the_format_is_byte_stable() {
    // A change here changes what third-party monitors read: bump the version instead.
    let entry = PublicEntry::DeviceDecommissioned {
        at: "2026-11-02T10:00:00Z".into(),
        property: "p1".into(),
        door: "street".into(),
        device: "dev-1".into(),
        reason: "removed".into(),
    };
    assert_eq!(
        String::from_utf8(entry.to_bytes().unwrap()).unwrap(),
        r#"{"at":"2026-11-02T10:00:00Z","device":"dev-1","door":"street","property":"p1","reason":"removed","type":"device_decommissioned","v":1}"#
    );
}

#[test]
fn bad_entries_get_clear_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "bad_json"),
        (b"\xff", "bad_json"),
        (b"[]", "bad_json"),
        (b"{}", "unknown_type"),
        (br#"{"type":"door_opened","v":1}"#, "unknown_type"),
        (br#"{"type":"device_activated"}"#, "unsupported_version"),
        (br#"{"type":"device_activated","v":2}"#, "unsupported_version"),
        (br#"{"type":"device_activated","v":1.0}"#, "unsupported_version"),
        (br#"{"type":"device_activated","v":1}"#, "bad_member"),
        (
            br#"{"type":"device_decommissioned","v":1,"at":"2026-11-02T10:00:00Z","property":"p1","door":"d","device":"x","reason":"Resident Jane Doe asked"}"#,
            "bad_member",
        ),
        (
            br#"{"type":"device_decommissioned","v":1,"at":"2026-11-02T10:00:00+01:00","property":"p1","door":"d","device":"x","reason":"removed"}"#,
            "bad_member",
        ),
        (
            br#"{"type":"device_decommissioned","v":1,"at":"2026-11-02T10:00:00Z","property":"p1","door":"d","device":"x","reason":"removed","driver":"Bob"}"#,
            "bad_member",
        ),
        (
            br#"{"type":"device_decommissioned","v":1,"v":1,"at":"2026-11-02T10:00:00Z","property":"p1","door":"d","device":"x","reason":"removed"}"#,
            "bad_json",
        ),
        (
            br#"{"type":"access_log_anchored","v":1,"at":"2026-11-02T10:00:00Z","property":"p1","origin":"o","size":0,"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}"#,
            "bad_member",
        ),
    ];
    for (bytes, code) in cases {
        let e = PublicEntry::parse(bytes).unwrap_err();
        assert_eq!(e.code(), *code, "{:?}: {e}", String::from_utf8_lossy(bytes));
        assert!(!e.to_string().is_empty());
    }
    let big = vec![b' '; 70_000];
    assert_eq!(
        PublicEntry::parse(&big).unwrap_err().code(),
        "entry_too_large"
    );
}

#[test]
fn address_key_must_match_the_address() {
    let f = Fixture::new().unwrap();
    let mut entry = registered(&f);
    if let PublicEntry::PropertyRegistered { address_key, .. } = &mut entry {
        *address_key = "somewhere else".into();
    }
    assert!(matches!(entry.to_bytes(), Err(EntryError::BadMember(m, _)) if m == "address_key"));
}

#[test]
fn tokens_must_verify_and_agree_with_the_entry() {
    let f = Fixture::new().unwrap();
    let key = f.property_key.public();
    let entries = all_entries(&f);
    for entry in &entries {
        check_tokens(entry, &key).unwrap();
    }
    let other = doorman_trust::SecretKey::from_seed(&[9; 32]).public();
    let consent = entries
        .iter()
        .find(|e| e.entry_type() == EntryType::ConsentGranted)
        .unwrap();
    assert!(matches!(
        check_tokens(consent, &other),
        Err(EntryError::TokenMismatch(_))
    ));
    // The operator describes a signed consent wrongly: another door.
    let mut lied = consent.clone();
    if let PublicEntry::ConsentGranted { door, .. } = &mut lied {
        *door = f.other_door.to_string();
    }
    let e = check_tokens(&lied, &key).unwrap_err();
    assert!(e.to_string().contains("door"), "{e}");
    let authz = entries
        .iter()
        .find(|e| e.entry_type() == EntryType::CarrierAuthorized)
        .unwrap();
    let mut wider = authz.clone();
    if let PublicEntry::CarrierAuthorized { schedule, .. } = &mut wider {
        *schedule = "Mon 00:00-24:00".into();
    }
    assert!(check_tokens(&wider, &key).is_err());
}

#[test]
fn the_directory_maps_entries_to_addresses_and_flags_trouble() {
    let f = Fixture::new().unwrap();
    let entries = all_entries(&f);
    let mut dir = Directory::default();
    // An entry before its property's registration is flagged.
    let early = dir.observe(0, &entries[1]);
    assert_eq!(early.address_key, None);
    assert_eq!(early.warnings.len(), 1, "{:?}", early.warnings);
    for (i, entry) in entries.iter().enumerate() {
        let seen = dir.observe(i as u64 + 1, entry);
        assert_eq!(
            seen.address_key.as_deref(),
            Some("12 rue de l eglise 75001 paris")
        );
        assert!(seen.warnings.is_empty(), "{:?}", seen.warnings);
    }
    // A re-registration under another key is flagged, and later consents must verify under it.
    let mut again = registered(&f);
    if let PublicEntry::PropertyRegistered { property_key, .. } = &mut again {
        *property_key = doorman_trust::SecretKey::from_seed(&[7; 32])
            .public()
            .to_string();
    }
    assert_eq!(dir.observe(20, &again).warnings.len(), 1);
    let consent = dir.observe(21, &entries[2]);
    assert_eq!(consent.warnings.len(), 1, "{:?}", consent.warnings);
}

static ENTRIES: std::sync::LazyLock<Vec<PublicEntry>> =
    std::sync::LazyLock::new(|| all_entries(&Fixture::new().unwrap()));

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = PublicEntry::parse(&bytes);
        let _ = PublicEntry::from_json(&bytes);
    }

    #[test]
    fn one_entry_has_one_byte_form(flip in 0usize..10_000, bit in 0u8..8) {
        // Any bit flip in a logged entry either makes it invalid or makes it say something
        // else: no two byte strings parse to the same entry.
        for entry in ENTRIES.iter() {
            let bytes = entry.to_bytes().unwrap();
            let mut changed = bytes.clone();
            let i = flip % changed.len();
            changed[i] ^= 1 << bit;
            if let Ok(other) = PublicEntry::parse(&changed) {
                prop_assert_ne!(&other, entry);
            }
        }
    }

    #[test]
    fn normalising_is_idempotent(text in "\\PC{1,60}") {
        if let Ok(key) = normalize_address(&text) {
            prop_assert_eq!(normalize_address(&key).unwrap(), key);
        }
    }
}

#[test]
fn the_documented_example_is_a_canonical_entry() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/log-format.md"),
    )
    .unwrap();
    let example = doc
        .lines()
        .find(|l| l.starts_with("{\"address\""))
        .expect("docs/log-format.md has an example entry");
    let entry = PublicEntry::parse(example.as_bytes()).unwrap();
    assert_eq!(entry.entry_type(), EntryType::PropertyRegistered);
}

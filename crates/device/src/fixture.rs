//! A building, a door device and a public log holding their entries, with real keys, tokens,
//! proofs and signed documents: for tests, benchmarks and demos. Deterministic keys; nothing
//! here decides a real door.
//!
//! Every input is a constant of this module, so a failure is a bug here, not bad input: the
//! builders panic on it (allowed below) rather than thread errors through every test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;

use doorman_core::{DoorId, InstallerId, PropertyId, ServiceSwitch};
use doorman_entries::{Custody, PublicEntry, consent_granted_entry};
use doorman_tlog::{Checkpoint, MemoryTree, NoteSigner, NoteVerifier, TlogProof};
use doorman_trust::{
    ConsentSpec, DeviceConfig, PublicKey, RevocationList, SecretKey, ServiceState, sign_consent,
};
use jiff::Timestamp;
use rand::SeedableRng;

use crate::activation::{ActivationBundle, LoggedEntry};

/// The fixture log's origin.
pub const ORIGIN: &str = "log.doorman.test/public";

/// A time from RFC 3339 text.
pub fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The fixture's present: 2026-12-01T10:00:00Z.
pub fn now() -> Timestamp {
    t("2026-12-01T10:00:00Z")
}

/// A building, a device and a log holding their entries.
#[derive(Debug)]
pub struct World {
    pub log_signer: NoteSigner,
    pub property_key: SecretKey,
    pub device: SecretKey,
    /// The key the consent and configuration name (the device's, unless a test swaps it).
    pub device_key: PublicKey,
    /// The property the consent and documents are for (`prop_1`).
    pub property: PropertyId,
    /// When the signed documents were issued (2026-12-01T09:00:00Z).
    pub issued_at: Timestamp,
    /// The server's device-messaging key (the configuration names its public half).
    pub server_key: SecretKey,
    pub tree: MemoryTree,
    pub entries: Vec<Vec<u8>>,
}

impl World {
    /// Fixed keys, an empty log.
    #[allow(clippy::new_without_default)]
    pub fn new() -> World {
        World {
            log_signer: NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap(),
            property_key: SecretKey::from_seed(&[2; 32]),
            device: SecretKey::from_seed(&[3; 32]),
            device_key: SecretKey::from_seed(&[3; 32]).public(),
            property: PropertyId::new("prop_1").unwrap(),
            issued_at: t("2026-12-01T09:00:00Z"),
            server_key: SecretKey::from_seed(&[4; 32]),
            tree: MemoryTree::new(),
            entries: Vec::new(),
        }
    }

    /// The log's verifier key.
    pub fn log_key(&self) -> NoteVerifier {
        self.log_signer.verifier()
    }

    /// Appends an entry to the log; returns its index.
    pub fn append(&mut self, entry: &PublicEntry) -> u64 {
        let bytes = entry.to_bytes().unwrap();
        self.entries.push(bytes.clone());
        self.tree.append(&bytes).unwrap()
    }

    /// The entry at `index` with its proof under a checkpoint of the whole tree.
    pub fn logged(&self, index: u64) -> LoggedEntry {
        let size = self.tree.size();
        let note = Checkpoint::new(ORIGIN, size, self.tree.root().unwrap())
            .unwrap()
            .sign(&[&self.log_signer])
            .unwrap();
        let proof = TlogProof::new(
            index,
            self.tree.inclusion_proof(index, size).unwrap(),
            note,
            None,
        )
        .unwrap();
        LoggedEntry {
            entry: String::from_utf8(self.entries[index as usize].clone()).unwrap(),
            proof: String::from_utf8(proof.to_bytes()).unwrap(),
        }
    }

    /// A `property_registered` entry for `property` under `key`.
    pub fn registration(&self, property: &str, key: &PublicKey) -> PublicEntry {
        PublicEntry::PropertyRegistered {
            at: "2026-11-01T09:00:00Z".to_string(),
            property: property.to_string(),
            address: "12 Rue de l'Église, Paris".to_string(),
            address_key: doorman_entries::normalize_address("12 Rue de l'Église, Paris").unwrap(),
            time_zone: "Europe/Paris".to_string(),
            property_key: key.to_string(),
            custody: Custody::Custodial,
            verified_by: "org_operator".to_string(),
        }
    }

    /// A consent for `device` at door `street` of `prop_1`, valid until `not_after`.
    pub fn consent_token(&self, device: &PublicKey, not_after: &str) -> Vec<u8> {
        let spec = ConsentSpec {
            property: self.property.clone(),
            door: DoorId::new("street").unwrap(),
            device: *device,
            installer: InstallerId::new("org_installer").unwrap(),
            not_before: t("2026-11-01T00:00:00Z"),
            not_after: t(not_after),
        };
        sign_consent(
            &self.property_key,
            &spec,
            &mut rand::rngs::StdRng::seed_from_u64(7),
        )
        .unwrap()
    }

    /// The `consent_granted` entry of a consent token.
    pub fn consent_entry(&self, token: &[u8]) -> PublicEntry {
        consent_granted_entry(
            t("2026-11-02T09:00:00Z"),
            "req_1",
            "dev_1",
            token,
            &self.property_key.public(),
        )
        .unwrap()
    }

    /// The device configuration of the fixture's device.
    pub fn config(&self) -> DeviceConfig {
        DeviceConfig {
            property: self.property.clone(),
            seq: 1,
            issued_at: self.issued_at,
            door: DoorId::new("street").unwrap(),
            device_key: self.device_key,
            pulse_ms: 2500,
            revocation_max_age_s: 86_400,
            clock_skew_tolerance_s: 120,
            challenge_ttl_s: 60,
            server_key: self.server_key.public(),
        }
    }

    /// A signed revocation list of `prop_1`.
    pub fn revocations(&self, revoked: BTreeSet<Vec<u8>>) -> String {
        let doc = RevocationList {
            property: self.property.clone(),
            seq: 1,
            issued_at: self.issued_at,
            revoked,
        }
        .sign(&self.property_key)
        .unwrap();
        String::from_utf8(doc).unwrap()
    }

    /// A signed service state of `prop_1`, everything on.
    pub fn service(&self) -> String {
        let doc = ServiceState {
            property: self.property.clone(),
            seq: 1,
            issued_at: self.issued_at,
            switch: ServiceSwitch::default(),
        }
        .sign(&self.property_key)
        .unwrap();
        String::from_utf8(doc).unwrap()
    }

    /// A bundle of the entries at `registration` and `consent`, with the fixture's
    /// configuration, an empty revocation list and service on.
    pub fn bundle(&self, registration: u64, consent: u64) -> ActivationBundle {
        ActivationBundle::new(
            self.logged(registration),
            self.logged(consent),
            self.signed(&self.config()),
            self.revocations(BTreeSet::new()),
            self.service(),
        )
    }

    /// A configuration signed with the property key.
    pub fn signed(&self, config: &DeviceConfig) -> String {
        String::from_utf8(config.sign(&self.property_key).unwrap()).unwrap()
    }
}

/// A log with other entries around ours, and a good bundle for the fixture's device.
pub fn good() -> (World, ActivationBundle) {
    good_for(SecretKey::from_seed(&[3; 32]).public())
}

/// [`good`] for the device with key `device_key` (whose secret the fixture does not hold).
pub fn good_for(device_key: PublicKey) -> (World, ActivationBundle) {
    let mut w = World::new();
    w.device_key = device_key;
    good_in(w)
}

/// A good bundle in a prepared world (another property key, property, device or issue time).
pub fn good_in(mut w: World) -> (World, ActivationBundle) {
    let other = SecretKey::from_seed(&[9; 32]).public();
    w.append(&w.registration("prop_0", &other));
    let property = w.property.to_string();
    let reg = w.append(&w.registration(&property, &w.property_key.public()));
    let token = w.consent_token(&w.device_key, "2027-11-01T00:00:00Z");
    let consent = w.append(&w.consent_entry(&token));
    w.append(&w.registration("prop_2", &other));
    let bundle = w.bundle(reg, consent);
    (w, bundle)
}

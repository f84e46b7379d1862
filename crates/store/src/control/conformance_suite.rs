//! The conformance suite of [`Store`]: the behaviour every backend must have, written once
//! against the trait. A backend's tests call [`run_all`] with a function that opens a fresh,
//! empty store; SQLite's do (`tests/control.rs`), and PostgreSQL's will.
//!
//! Each check panics with a message naming what broke, like a test.

// This is test code that ships in the library so other backends' tests can run it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_core::{
    CarrierId, DeliveryRef, DeviceId, DoorId, OrgId, OrgKind, PropertyId, RequestId, Role,
    ServiceSwitch, UnitId,
};
use doorman_entries::Custody;
use jiff::Timestamp;

use super::{
    ApiToken, Authorization, AuthorizationFilter, CarrierKey, Consent, ControlError, Decision,
    DocumentKind, Door, Driver, Evidence, Installation, InstallationFilter, InstallationStatus,
    Invitation, LogTarget, LoginThrottle, MAX_EVIDENCE_PER_REQUEST, Org, OutboxEntry, Pass,
    Property, PropertyStatus, Revocation, RevokedKind, Session, SignedDocument, Store, Unit, User,
};

/// Opens a fresh, empty store.
pub type Open<'a> = &'a dyn Fn() -> Box<dyn Store>;

/// One check: it gets a fresh store.
pub type Check = fn(&dyn Store);

/// Every check, by name.
pub const CHECKS: &[(&str, Check)] = &[
    ("setup_is_one_time", setup_is_one_time),
    ("sign_up_is_all_or_nothing", sign_up_is_all_or_nothing),
    (
        "invitations_are_single_use_and_expire",
        invitations_are_single_use_and_expire,
    ),
    ("sessions_and_tokens", sessions_and_tokens),
    ("login_throttle_round_trips", login_throttle_round_trips),
    (
        "property_claims_are_decided_once",
        property_claims_are_decided_once,
    ),
    ("doors_and_units", doors_and_units),
    ("installation_lifecycle", installation_lifecycle),
    (
        "a_failed_revocation_changes_nothing",
        a_failed_revocation_changes_nothing,
    ),
    (
        "evidence_is_limited_and_read_back",
        evidence_is_limited_and_read_back,
    ),
    ("authorization_lifecycle", authorization_lifecycle),
    (
        "drivers_carrier_keys_and_passes",
        drivers_carrier_keys_and_passes,
    ),
    ("passes_recorded_at_once", passes_recorded_at_once),
    ("service_switch_is_optimistic", service_switch_is_optimistic),
    ("documents_only_move_forward", documents_only_move_forward),
    ("outbox_publishing", outbox_publishing),
];

/// Runs every check, each on a fresh store from `open`.
pub fn run_all(open: Open<'_>) {
    for (name, check) in CHECKS {
        let store = open();
        eprintln!("store conformance: {name}");
        check(store.as_ref());
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn now() -> Timestamp {
    t("2026-12-01T10:00:00Z")
}

fn org_id(s: &str) -> OrgId {
    OrgId::new(s).unwrap()
}

fn user(id: &str, email: &str) -> User {
    User {
        id: id.to_string(),
        email: email.to_string(),
        name: format!("User {id}"),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string(),
        created_at: now(),
    }
}

fn org(id: &str, kind: OrgKind) -> Org {
    Org {
        id: org_id(id),
        kind,
        name: format!("Org {id}"),
        created_at: now(),
        carrier_key: None,
    }
}

fn public_entry(text: &str) -> OutboxEntry {
    OutboxEntry {
        target: LogTarget::Public,
        entry: text.as_bytes().to_vec(),
    }
}

fn decision(by: &str, o: &str, note: &str) -> Decision {
    Decision {
        by: by.to_string(),
        org: org_id(o),
        note: note.to_string(),
        at: now(),
    }
}

fn expect_conflict<T: std::fmt::Debug>(r: Result<T, ControlError>, what: &str) {
    match r {
        Err(ControlError::Conflict(_)) => {}
        other => panic!("{what}: expected Conflict, got {other:?}"),
    }
}

/// A verified property `prop_1` of org `org_p` (owner `u_owner`), doors `street` and
/// `garage`, unit `4B`; an installer org `org_i` (`u_inst`) and a carrier org `org_c`.
fn building(s: &dyn Store) -> Property {
    s.sign_up(
        &user("u_owner", "owner@example.org"),
        &org("org_p", OrgKind::Property),
        Role::Owner,
    )
    .unwrap();
    s.sign_up(
        &user("u_inst", "inst@example.org"),
        &org("org_i", OrgKind::Installer),
        Role::Admin,
    )
    .unwrap();
    s.sign_up(
        &user("u_carr", "carr@example.org"),
        &org("org_c", OrgKind::Carrier),
        Role::Admin,
    )
    .unwrap();
    s.sign_up(
        &user("u_op", "op@example.org"),
        &org("org_op", OrgKind::Operator),
        Role::Operator,
    )
    .unwrap();
    let p = property("prop_1", "12 main st");
    s.create_property(&p).unwrap();
    let verified = s
        .decide_property(
            &p.id,
            true,
            &decision("u_op", "org_op", "deed checked"),
            Some(&public_entry("registered")),
        )
        .unwrap();
    for d in ["street", "garage"] {
        s.add_door(&Door {
            property: p.id.clone(),
            door: DoorId::new(d).unwrap(),
            name: format!("{d} door"),
            created_at: now(),
        })
        .unwrap();
    }
    s.add_unit(&Unit {
        property: p.id.clone(),
        unit: UnitId::new("4B").unwrap(),
        created_at: now(),
    })
    .unwrap();
    verified
}

fn property(id: &str, address_key: &str) -> Property {
    Property {
        id: PropertyId::new(id).unwrap(),
        org: org_id("org_p"),
        name: "The Building".to_string(),
        address: "12 Main St".to_string(),
        address_key: address_key.to_string(),
        time_zone: "Europe/Paris".to_string(),
        custody: Custody::Custodial,
        public_key: format!("ed25519/{}", "ab".repeat(32)),
        sealed_key: Some(vec![1, 2, 3]),
        status: PropertyStatus::Claimed,
        claimed_by: "u_owner".to_string(),
        created_at: now(),
        decision: None,
        registered_outbox: None,
        revocation_seq: 0,
        service_seq: 0,
    }
}

fn request(id: &str) -> Installation {
    Installation {
        id: RequestId::new(id).unwrap(),
        property: PropertyId::new("prop_1").unwrap(),
        door: DoorId::new("street").unwrap(),
        installer_org: org_id("org_i"),
        filed_by: "u_inst".to_string(),
        device: DeviceId::new("dev-1").unwrap(),
        device_key: format!("ed25519/{}", "cd".repeat(32)),
        notes: "wired to the panel's release".to_string(),
        status: InstallationStatus::Requested,
        created_at: now(),
        requested_outbox: 0,
        decision: None,
        consent: None,
        revocation: None,
        revoked_outbox: None,
    }
}

fn consent() -> Consent {
    Consent {
        token: "EnoK".to_string(),
        revocation_id: vec![9; 64],
        not_before: now(),
        not_after: t("2027-12-01T10:00:00Z"),
        outbox: 0,
    }
}

fn revocation(id: Vec<u8>, kind: RevokedKind, reference: &str) -> Revocation {
    Revocation {
        property: PropertyId::new("prop_1").unwrap(),
        revocation_id: id,
        kind,
        reference: reference.to_string(),
        reason: "moved_out".to_string(),
        revoked_by: "u_owner".to_string(),
        revoked_at: now(),
        expires_at: Some(t("2027-12-01T10:00:00Z")),
    }
}

fn authorization(id: &str) -> Authorization {
    Authorization {
        id: id.to_string(),
        property: PropertyId::new("prop_1").unwrap(),
        carrier: CarrierId::new("org_c").unwrap(),
        carrier_key: format!("ed25519/{}", "ef".repeat(32)),
        doors: vec![
            DoorId::new("garage").unwrap(),
            DoorId::new("street").unwrap(),
        ],
        schedule: "Mon-Fri 08:00-20:00".to_string(),
        time_zone: "Europe/Paris".to_string(),
        daily_cap: Some(20),
        max_pass_seconds: 7200,
        not_before: now(),
        not_after: t("2027-06-01T00:00:00Z"),
        token: "EnoKauth".to_string(),
        revocation_id: vec![7; 64],
        created_by: "u_owner".to_string(),
        created_at: now(),
        outbox: 0,
        revocation: None,
        revoked_outbox: None,
    }
}

// ---- Checks --------------------------------------------------------------------------------

fn setup_is_one_time(s: &dyn Store) {
    assert!(!s.is_set_up().unwrap());
    let op = org("org_op", OrgKind::Operator);
    let u = user("u1", "op@example.org");
    assert!(matches!(
        s.claim_setup(b"nope", &u, &op),
        Err(ControlError::NotFound(_))
    ));
    s.put_setup_code(b"code-1", now()).unwrap();
    // A new code replaces the old one while unclaimed.
    s.put_setup_code(b"code-2", now()).unwrap();
    assert!(matches!(
        s.claim_setup(b"code-1", &u, &op),
        Err(ControlError::NotFound(_))
    ));
    s.claim_setup(b"code-2", &u, &op).unwrap();
    assert!(s.is_set_up().unwrap());
    expect_conflict(
        s.claim_setup(
            b"code-2",
            &user("u2", "x@example.org"),
            &org("org_op2", OrgKind::Operator),
        ),
        "second claim",
    );
    expect_conflict(s.put_setup_code(b"code-3", now()), "a new code after setup");
    let m = s.memberships("u1").unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].kind, m[0].role), (OrgKind::Operator, Role::Operator));
}

fn sign_up_is_all_or_nothing(s: &dyn Store) {
    s.sign_up(
        &user("u1", "a@example.org"),
        &org("org_a", OrgKind::Property),
        Role::Owner,
    )
    .unwrap();
    assert_eq!(s.user_by_email("a@example.org").unwrap().unwrap().id, "u1");
    assert_eq!(s.user("u1").unwrap().unwrap(), user("u1", "a@example.org"));
    let got = s.org(&org_id("org_a")).unwrap().unwrap();
    assert_eq!(got, org("org_a", OrgKind::Property));
    // The same email again: refused, and the second organisation was not created either.
    assert_eq!(
        s.sign_up(
            &user("u2", "a@example.org"),
            &org("org_b", OrgKind::Carrier),
            Role::Admin
        ),
        Err(ControlError::Duplicate("an account with this email"))
    );
    assert!(s.org(&org_id("org_b")).unwrap().is_none());
    assert!(s.user("u2").unwrap().is_none());
    // Same org id, new email: refused, and the user was not created.
    assert!(matches!(
        s.sign_up(
            &user("u3", "c@example.org"),
            &org("org_a", OrgKind::Carrier),
            Role::Admin
        ),
        Err(ControlError::Duplicate(_))
    ));
    assert!(s.user("u3").unwrap().is_none());
    let members = s.members(&org_id("org_a")).unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].0.role, Role::Owner);
    assert_eq!(s.orgs(Some(OrgKind::Property)).unwrap().len(), 1);
    assert_eq!(s.orgs(Some(OrgKind::Carrier)).unwrap().len(), 0);
    // An existing user founds a second organisation.
    s.create_org(&org("org_d", OrgKind::Installer), "u1", Role::Admin, now())
        .unwrap();
    assert_eq!(s.memberships("u1").unwrap().len(), 2);
    s.remove_member(&org_id("org_d"), "u1").unwrap();
    assert!(matches!(
        s.remove_member(&org_id("org_d"), "u1"),
        Err(ControlError::NotFound(_))
    ));
}

fn invitation(id: &str, code: &[u8], email: &str, role: Role, expires: Timestamp) -> Invitation {
    Invitation {
        id: id.to_string(),
        org: org_id("org_p"),
        role,
        email: email.to_string(),
        property: None,
        unit: None,
        code_hash: code.to_vec(),
        created_by: "u_owner".to_string(),
        created_at: now(),
        expires_at: expires,
        accepted_at: None,
    }
}

fn invitations_are_single_use_and_expire(s: &dyn Store) {
    building(s);
    let later = t("2026-12-08T10:00:00Z");
    s.create_invitation(&invitation(
        "inv1",
        b"c1",
        "m@example.org",
        Role::Manager,
        later,
    ))
    .unwrap();
    let mut resident = invitation("inv2", b"c2", "r@example.org", Role::Resident, later);
    resident.property = Some(PropertyId::new("prop_1").unwrap());
    resident.unit = Some(UnitId::new("4B").unwrap());
    s.create_invitation(&resident).unwrap();
    s.create_invitation(&invitation(
        "inv3",
        b"c3",
        "x@example.org",
        Role::Manager,
        now(),
    ))
    .unwrap();
    assert_eq!(s.invitations(&org_id("org_p")).unwrap().len(), 3);
    assert_eq!(s.invitation_by_code(b"c2").unwrap().unwrap().id, "inv2");
    assert!(s.invitation_by_code(b"zz").unwrap().is_none());

    // Wrong email for a new account: refused, nothing written.
    expect_conflict(
        s.accept_invitation(b"c1", Some(&user("u_m", "other@example.org")), now()),
        "email mismatch",
    );
    assert!(s.user("u_m").unwrap().is_none());
    let m = s
        .accept_invitation(b"c1", Some(&user("u_m", "m@example.org")), now())
        .unwrap();
    assert_eq!(
        (m.org.as_str(), m.role, m.kind),
        ("org_p", Role::Manager, OrgKind::Property)
    );
    expect_conflict(s.accept_invitation(b"c1", None, now()), "second use");
    assert!(matches!(
        s.accept_invitation(b"zz", None, now()),
        Err(ControlError::NotFound(_))
    ));
    expect_conflict(
        s.accept_invitation(b"c3", Some(&user("u_x", "x@example.org")), now()),
        "expired",
    );
    assert!(s.user("u_x").unwrap().is_none());

    let r = s
        .accept_invitation(b"c2", Some(&user("u_r", "r@example.org")), now())
        .unwrap();
    assert_eq!(r.property.as_ref().map(|p| p.as_str()), Some("prop_1"));
    assert_eq!(r.unit.as_ref().map(|u| u.as_str()), Some("4B"));
    let residents = s.residents(&PropertyId::new("prop_1").unwrap()).unwrap();
    assert_eq!(residents.len(), 1);
    assert_eq!(residents[0].1.id, "u_r");
    expect_conflict(
        s.remove_unit(
            &PropertyId::new("prop_1").unwrap(),
            &UnitId::new("4B").unwrap(),
        ),
        "unit with residents",
    );
    s.remove_resident(&PropertyId::new("prop_1").unwrap(), "u_r")
        .unwrap();
    s.remove_unit(
        &PropertyId::new("prop_1").unwrap(),
        &UnitId::new("4B").unwrap(),
    )
    .unwrap();

    // An existing account accepts without creating one.
    s.create_invitation(&Invitation {
        org: org_id("org_i"),
        ..invitation("inv4", b"c4", "m@example.org", Role::Installer, later)
    })
    .unwrap();
    s.accept_invitation(b"c4", None, now()).unwrap();
    assert_eq!(s.memberships("u_m").unwrap().len(), 2);
    s.delete_invitation(&org_id("org_p"), "inv3").unwrap();
    assert!(matches!(
        s.delete_invitation(&org_id("org_p"), "inv1"),
        Err(ControlError::NotFound(_))
    ));
}

fn sessions_and_tokens(s: &dyn Store) {
    building(s);
    let session = Session {
        token_hash: vec![1; 32],
        user: "u_owner".to_string(),
        created_at: now(),
        expires_at: t("2026-12-01T22:00:00Z"),
    };
    s.create_session(&session).unwrap();
    assert_eq!(s.session(&[1; 32]).unwrap(), Some(session.clone()));
    assert_eq!(s.purge_sessions(now()).unwrap(), 0);
    assert_eq!(s.purge_sessions(t("2026-12-02T00:00:00Z")).unwrap(), 1);
    assert_eq!(s.session(&[1; 32]).unwrap(), None);
    s.create_session(&session).unwrap();
    s.delete_session(&[1; 32]).unwrap();
    assert_eq!(s.session(&[1; 32]).unwrap(), None);

    let token = ApiToken {
        id: "tok_1".to_string(),
        token_hash: vec![2; 32],
        org: org_id("org_c"),
        role: Role::Dispatcher,
        name: "dispatch system".to_string(),
        created_by: "u_carr".to_string(),
        created_at: now(),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    };
    s.create_api_token(&token).unwrap();
    assert_eq!(s.api_token_by_hash(&[2; 32]).unwrap(), Some(token.clone()));
    assert!(matches!(
        s.create_api_token(&token),
        Err(ControlError::Duplicate(_))
    ));
    s.touch_api_token("tok_1", t("2026-12-01T11:00:00Z"))
        .unwrap();
    assert_eq!(
        s.api_token_by_hash(&[2; 32]).unwrap().unwrap().last_used_at,
        Some(t("2026-12-01T11:00:00Z"))
    );
    assert!(matches!(
        s.revoke_api_token(&org_id("org_p"), "tok_1", now()),
        Err(ControlError::NotFound(_))
    ));
    s.revoke_api_token(&org_id("org_c"), "tok_1", now())
        .unwrap();
    expect_conflict(
        s.revoke_api_token(&org_id("org_c"), "tok_1", now()),
        "double token revocation",
    );
    assert_eq!(
        s.api_tokens(&org_id("org_c")).unwrap()[0].revoked_at,
        Some(now())
    );
}

fn login_throttle_round_trips(s: &dyn Store) {
    assert_eq!(
        s.login_throttle("a@example.org").unwrap(),
        LoginThrottle::default()
    );
    let th = LoginThrottle {
        failures: 3,
        last_failure_at: Some(now()),
        locked_until: Some(t("2026-12-01T10:15:00Z")),
    };
    s.put_login_throttle("a@example.org", &th).unwrap();
    assert_eq!(s.login_throttle("a@example.org").unwrap(), th);
    s.put_login_throttle("a@example.org", &LoginThrottle::default())
        .unwrap();
    assert_eq!(
        s.login_throttle("a@example.org").unwrap(),
        LoginThrottle::default()
    );
}

fn property_claims_are_decided_once(s: &dyn Store) {
    let p = building(s);
    assert_eq!(p.status, PropertyStatus::Verified);
    let outbox = p
        .registered_outbox
        .expect("verification writes the registration to the outbox");
    assert_eq!(s.outbox(outbox).unwrap().unwrap().entry, b"registered");
    assert_eq!(p.decision.as_ref().unwrap().note, "deed checked");
    expect_conflict(
        s.decide_property(
            &p.id,
            true,
            &decision("u_op", "org_op", "again"),
            Some(&public_entry("x")),
        ),
        "second verification",
    );
    // Another claim at the same address can be made, but not verified.
    let second = property("prop_2", "12 main st");
    s.create_property(&second).unwrap();
    let pending = s.pending_outbox(100).unwrap().len();
    expect_conflict(
        s.decide_property(
            &second.id,
            true,
            &decision("u_op", "org_op", ""),
            Some(&public_entry("dup")),
        ),
        "a second registration at one address",
    );
    assert_eq!(
        s.pending_outbox(100).unwrap().len(),
        pending,
        "a refused verification wrote to the outbox"
    );
    let rejected = s
        .decide_property(
            &second.id,
            false,
            &decision("u_op", "org_op", "not the owner"),
            None,
        )
        .unwrap();
    assert_eq!(rejected.status, PropertyStatus::Rejected);
    assert_eq!(rejected.registered_outbox, None);
    assert!(matches!(
        s.create_property(&property("prop_1", "x")),
        Err(ControlError::Duplicate(_))
    ));
    let all = s.properties(None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(s.properties(Some(&org_id("org_p"))).unwrap().len(), 2);
    assert_eq!(s.properties(Some(&org_id("org_i"))).unwrap().len(), 0);
    let read = s.property(&p.id).unwrap().unwrap();
    assert_eq!(read, p);
    assert_eq!(read.sealed_key.as_deref(), Some(&[1u8, 2, 3][..]));
}

fn doors_and_units(s: &dyn Store) {
    let p = building(s);
    let doors = s.doors(&p.id).unwrap();
    assert_eq!(
        doors.iter().map(|d| d.door.as_str()).collect::<Vec<_>>(),
        ["garage", "street"]
    );
    assert!(matches!(
        s.add_door(&doors[0]),
        Err(ControlError::Duplicate("door"))
    ));
    assert!(matches!(
        s.add_door(&Door {
            property: PropertyId::new("nowhere").unwrap(),
            ..doors[0].clone()
        }),
        Err(ControlError::NotFound(_))
    ));
    s.create_installation(&request("req_1"), &public_entry("requested"))
        .unwrap();
    expect_conflict(
        s.remove_door(&p.id, &DoorId::new("street").unwrap()),
        "a door with an open request",
    );
    s.create_authorization(&authorization("auth_1"), &public_entry("authorized"))
        .unwrap();
    expect_conflict(
        s.remove_door(&p.id, &DoorId::new("garage").unwrap()),
        "a door an authorization covers",
    );
    s.add_door(&Door {
        door: DoorId::new("back").unwrap(),
        ..doors[0].clone()
    })
    .unwrap();
    s.remove_door(&p.id, &DoorId::new("back").unwrap()).unwrap();
    assert!(matches!(
        s.remove_door(&p.id, &DoorId::new("back").unwrap()),
        Err(ControlError::NotFound(_))
    ));
    assert_eq!(s.units(&p.id).unwrap().len(), 1);
}

fn installation_lifecycle(s: &dyn Store) {
    let p = building(s);
    let filed = s
        .create_installation(&request("req_1"), &public_entry("requested"))
        .unwrap();
    assert_eq!(
        s.outbox(filed.requested_outbox).unwrap().unwrap().entry,
        b"requested"
    );
    assert_eq!(filed.status, InstallationStatus::Requested);
    let approved = s
        .approve_installation(
            &filed.id,
            &decision("u_owner", "org_p", ""),
            &consent(),
            &public_entry("granted"),
        )
        .unwrap();
    assert_eq!(approved.status, InstallationStatus::Approved);
    let c = approved.consent.clone().unwrap();
    assert_eq!(s.outbox(c.outbox).unwrap().unwrap().entry, b"granted");
    assert_eq!(
        (c.token.as_str(), c.revocation_id.clone()),
        ("EnoK", vec![9; 64])
    );
    expect_conflict(
        s.approve_installation(
            &filed.id,
            &decision("u_owner", "org_p", ""),
            &consent(),
            &public_entry("again"),
        ),
        "second approval",
    );
    expect_conflict(
        s.reject_installation(&filed.id, &decision("u_owner", "org_p", "no")),
        "reject after approve",
    );

    let revoked = s
        .revoke_consent(
            &filed.id,
            &decision("u_owner", "org_p", "device_removed"),
            &revocation(vec![9; 64], RevokedKind::Consent, "req_1"),
            &public_entry("revoked"),
        )
        .unwrap();
    assert_eq!(revoked.status, InstallationStatus::Revoked);
    assert_eq!(revoked.revocation.as_ref().unwrap().note, "device_removed");
    assert_eq!(s.property(&p.id).unwrap().unwrap().revocation_seq, 1);
    expect_conflict(
        s.revoke_consent(
            &filed.id,
            &decision("u_owner", "org_p", ""),
            &revocation(vec![8; 64], RevokedKind::Consent, "req_1"),
            &public_entry("x"),
        ),
        "double revocation",
    );
    assert_eq!(s.revocations(&p.id, None).unwrap().len(), 1);

    let second = s
        .create_installation(&request("req_2"), &public_entry("requested 2"))
        .unwrap();
    let rejected = s
        .reject_installation(&second.id, &decision("u_owner", "org_p", "wrong_door"))
        .unwrap();
    assert_eq!(rejected.status, InstallationStatus::Rejected);
    expect_conflict(
        s.approve_installation(
            &second.id,
            &decision("u_owner", "org_p", ""),
            &consent(),
            &public_entry("x"),
        ),
        "approving a rejected request",
    );
    expect_conflict(
        s.revoke_consent(
            &second.id,
            &decision("u_owner", "org_p", ""),
            &revocation(vec![1; 64], RevokedKind::Consent, "req_2"),
            &public_entry("x"),
        ),
        "revoking a rejected request",
    );
    assert!(matches!(
        s.create_installation(&request("req_1"), &public_entry("dup")),
        Err(ControlError::Duplicate(_))
    ));

    let by_installer = s
        .installations(&InstallationFilter {
            installer_org: Some(org_id("org_i")),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_installer.len(), 2);
    let by_org = s
        .installations(&InstallationFilter {
            properties_of_org: Some(org_id("org_p")),
            status: Some(InstallationStatus::Rejected),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        by_org.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
        ["req_2"]
    );
    assert!(
        s.installations(&InstallationFilter {
            properties_of_org: Some(org_id("org_c")),
            ..Default::default()
        })
        .unwrap()
        .is_empty()
    );
    assert_eq!(s.installation(&filed.id).unwrap().unwrap(), revoked);
}

fn a_failed_revocation_changes_nothing(s: &dyn Store) {
    let p = building(s);
    let filed = s
        .create_installation(&request("req_1"), &public_entry("requested"))
        .unwrap();
    s.approve_installation(
        &filed.id,
        &decision("u_owner", "org_p", ""),
        &consent(),
        &public_entry("granted"),
    )
    .unwrap();
    // The id is revoked already (say, by hand): revoking the consent fails as a whole.
    s.add_revocation(&revocation(vec![9; 64], RevokedKind::Other, ""), None)
        .unwrap();
    let pending = s.pending_outbox(100).unwrap().len();
    assert!(matches!(
        s.revoke_consent(
            &filed.id,
            &decision("u_owner", "org_p", ""),
            &revocation(vec![9; 64], RevokedKind::Consent, "req_1"),
            &public_entry("revoked")
        ),
        Err(ControlError::Duplicate(_))
    ));
    let after = s.installation(&filed.id).unwrap().unwrap();
    assert_eq!(after.status, InstallationStatus::Approved, "half-revoked");
    assert_eq!(
        s.pending_outbox(100).unwrap().len(),
        pending,
        "the outbox was written"
    );
    assert_eq!(s.property(&p.id).unwrap().unwrap().revocation_seq, 1);
}

fn evidence_is_limited_and_read_back(s: &dyn Store) {
    building(s);
    let filed = s
        .create_installation(&request("req_1"), &public_entry("requested"))
        .unwrap();
    let ev = |n: u8| Evidence {
        installation: filed.id.clone(),
        number: 0,
        content_type: "image/jpeg".to_string(),
        size: 3,
        sha256: vec![n; 32],
        uploaded_by: "u_inst".to_string(),
        created_at: now(),
    };
    for n in 1..=MAX_EVIDENCE_PER_REQUEST {
        let stored = s.add_evidence(&ev(n as u8), &[n as u8; 3]).unwrap();
        assert_eq!(stored.number, n);
    }
    assert!(matches!(
        s.add_evidence(&ev(0), b"abc"),
        Err(ControlError::Limit(_))
    ));
    let list = s.evidence(&filed.id).unwrap();
    assert_eq!(list.len() as u32, MAX_EVIDENCE_PER_REQUEST);
    let (meta, data) = s.evidence_data(&filed.id, 2).unwrap().unwrap();
    assert_eq!((meta.number, data), (2, vec![2u8; 3]));
    assert!(s.evidence_data(&filed.id, 99).unwrap().is_none());
    let second = s
        .create_installation(&request("req_2"), &public_entry("requested 2"))
        .unwrap();
    s.reject_installation(&second.id, &decision("u_owner", "org_p", "no"))
        .unwrap();
    expect_conflict(
        s.add_evidence(
            &Evidence {
                installation: second.id.clone(),
                ..ev(1)
            },
            b"x",
        ),
        "evidence on a decided request",
    );
}

fn authorization_lifecycle(s: &dyn Store) {
    let p = building(s);
    let a = s
        .create_authorization(&authorization("auth_1"), &public_entry("authorized"))
        .unwrap();
    assert_eq!(s.outbox(a.outbox).unwrap().unwrap().entry, b"authorized");
    assert_eq!(a.doors.len(), 2);
    assert_eq!(s.authorization("auth_1").unwrap().unwrap(), a);
    let revoked = s
        .revoke_authorization(
            "auth_1",
            &decision("u_owner", "org_p", "contract_ended"),
            &revocation(vec![7; 64], RevokedKind::Authorization, "auth_1"),
            &public_entry("revoked"),
        )
        .unwrap();
    assert!(revoked.revocation.is_some() && revoked.revoked_outbox.is_some());
    expect_conflict(
        s.revoke_authorization(
            "auth_1",
            &decision("u_owner", "org_p", ""),
            &revocation(vec![6; 64], RevokedKind::Authorization, "auth_1"),
            &public_entry("x"),
        ),
        "double revocation",
    );
    s.create_authorization(&authorization("auth_2"), &public_entry("authorized 2"))
        .unwrap();
    let active = s
        .authorizations(&AuthorizationFilter {
            property: Some(p.id.clone()),
            active_only: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        active.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["auth_2"]
    );
    let by_carrier = s
        .authorizations(&AuthorizationFilter {
            carrier: Some(CarrierId::new("org_c").unwrap()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_carrier.len(), 2);
    // Pages: in (created, id) order, a limit, and a cursor that starts after an item.
    let page = |after: Option<&Authorization>, limit| {
        s.authorizations(&AuthorizationFilter {
            property: Some(p.id.clone()),
            after: after.map(|a| (a.created_at, a.id.clone())),
            limit,
            ..Default::default()
        })
        .unwrap()
    };
    let first = page(None, Some(1));
    assert_eq!(
        first.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["auth_1"]
    );
    let second = page(first.first(), Some(1));
    assert_eq!(
        second.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["auth_2"]
    );
    assert!(page(second.first(), Some(5)).is_empty());
    assert_eq!(page(first.first(), None).len(), 1);
    assert!(page(None, Some(0)).is_empty());
    assert!(matches!(s.authorization("nope"), Ok(None)));
    let revs = s.revocations(&p.id, Some(now())).unwrap();
    assert_eq!(revs.len(), 1);
    assert!(
        s.revocations(&p.id, Some(t("2028-01-01T00:00:00Z")))
            .unwrap()
            .is_empty(),
        "expired ids still listed"
    );
}

fn drivers_carrier_keys_and_passes(s: &dyn Store) {
    building(s);
    let key = CarrierKey {
        public_key: format!("ed25519/{}", "ef".repeat(32)),
        sealed_secret: Some(vec![5; 73]),
        set_at: now(),
    };
    s.set_carrier_key(&org_id("org_c"), &key).unwrap();
    assert_eq!(
        s.org(&org_id("org_c")).unwrap().unwrap().carrier_key,
        Some(key.clone())
    );
    assert!(matches!(
        s.set_carrier_key(&org_id("org_p"), &key),
        Err(ControlError::NotFound(_))
    ));
    let driver = Driver {
        id: "drv_1".to_string(),
        org: org_id("org_c"),
        name: "Sam".to_string(),
        public_key: format!("ed25519/{}", "12".repeat(32)),
        created_at: now(),
        removed_at: None,
    };
    s.add_driver(&driver).unwrap();
    assert_eq!(
        s.driver(&org_id("org_c"), "drv_1").unwrap(),
        Some(driver.clone())
    );
    assert!(s.driver(&org_id("org_p"), "drv_1").unwrap().is_none());
    s.create_authorization(&authorization("auth_1"), &public_entry("authorized"))
        .unwrap();
    let pass = Pass {
        id: "aa".repeat(32),
        authorization: "auth_1".to_string(),
        door: DoorId::new("street").unwrap(),
        unit: UnitId::new("4B").unwrap(),
        delivery: DeliveryRef::new("D-1").unwrap(),
        driver: Some("drv_1".to_string()),
        driver_key: driver.public_key.clone(),
        not_before: now(),
        not_after: t("2026-12-01T12:00:00Z"),
        token: "EnoKpass".to_string(),
        minted_by: "u_carr".to_string(),
        minted_at: now(),
    };
    s.record_pass(&pass).unwrap();
    assert!(matches!(
        s.record_pass(&pass),
        Err(ControlError::Duplicate(_))
    ));
    assert_eq!(s.passes("auth_1", 10).unwrap(), vec![pass]);
    s.remove_driver(&org_id("org_c"), "drv_1", now()).unwrap();
    assert!(matches!(
        s.remove_driver(&org_id("org_c"), "drv_1", now()),
        Err(ControlError::NotFound(_))
    ));
    assert_eq!(
        s.drivers(&org_id("org_c")).unwrap()[0].removed_at,
        Some(now())
    );
}

/// Passes recorded from many threads at once (a backend may commit them together): each
/// caller gets its own answer, a duplicate fails alone, every other pass is stored.
fn passes_recorded_at_once(s: &dyn Store) {
    building(s);
    s.create_authorization(&authorization("auth_1"), &public_entry("authorized"))
        .unwrap();
    let pass = |i: usize| Pass {
        id: format!("{i:064x}"),
        authorization: "auth_1".to_string(),
        door: DoorId::new("street").unwrap(),
        unit: UnitId::new("4B").unwrap(),
        delivery: DeliveryRef::new(format!("D-{i}")).unwrap(),
        driver: None,
        driver_key: format!("ed25519/{}", "12".repeat(32)),
        not_before: now(),
        not_after: t("2026-12-01T12:00:00Z"),
        token: format!("EnoKpass{i}"),
        minted_by: "u_carr".to_string(),
        minted_at: now(),
    };
    s.record_pass(&pass(0)).unwrap();
    // Every fifth caller repeats pass 0.
    let answers: Vec<(usize, Result<(), ControlError>)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                scope.spawn(move || {
                    (0..25)
                        .map(|k| {
                            let i = thread * 25 + k + 1;
                            let p = if i % 5 == 0 { pass(0) } else { pass(i) };
                            (i, s.record_pass(&p))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    for (i, answer) in &answers {
        if i % 5 == 0 {
            assert!(
                matches!(answer, Err(ControlError::Duplicate(_))),
                "caller {i} repeated pass 0 and got {answer:?}"
            );
        } else {
            assert!(answer.is_ok(), "caller {i}: {answer:?}");
        }
    }
    let stored = s.passes("auth_1", 1000).unwrap();
    assert_eq!(stored.len(), 1 + 200 - 40, "passes stored");
    for (i, _) in answers.iter().filter(|(i, _)| i % 5 != 0) {
        assert!(
            stored.iter().any(|p| p == &pass(*i)),
            "pass {i} is not stored as recorded"
        );
    }
}

fn service_switch_is_optimistic(s: &dyn Store) {
    let p = building(s);
    let initial = s.service(&p.id).unwrap();
    assert_eq!(
        (initial.switch.clone(), initial.seq),
        (ServiceSwitch::all_on(), 0)
    );
    let mut off = ServiceSwitch::all_on();
    off.disabled_doors.insert(DoorId::new("garage").unwrap());
    off.disabled_carriers
        .insert(CarrierId::new("org_c").unwrap());
    let change = OutboxEntry {
        target: LogTarget::Access(p.id.clone()),
        entry: b"service_changed".to_vec(),
    };
    let after = s
        .set_service(&p.id, 0, &off, "u_owner", now(), &change)
        .unwrap();
    assert_eq!((after.switch.clone(), after.seq), (off.clone(), 1));
    assert_eq!(after.changed_by.as_deref(), Some("u_owner"));
    expect_conflict(
        s.set_service(
            &p.id,
            0,
            &ServiceSwitch::all_on(),
            "u_owner",
            now(),
            &change,
        ),
        "a stale switch change",
    );
    assert_eq!(s.service(&p.id).unwrap().switch, off);
    let pending = s.pending_outbox(100).unwrap();
    assert!(
        pending
            .iter()
            .any(|o| o.target == LogTarget::Access(p.id.clone()) && o.entry == b"service_changed")
    );
    assert!(matches!(
        s.service(&PropertyId::new("nowhere").unwrap()),
        Err(ControlError::NotFound(_))
    ));
}

fn documents_only_move_forward(s: &dyn Store) {
    let p = building(s);
    assert!(
        s.document(&p.id, DocumentKind::RevocationList)
            .unwrap()
            .is_none()
    );
    let doc = |seq| SignedDocument {
        property: p.id.clone(),
        kind: DocumentKind::RevocationList,
        seq,
        covers: seq * 2,
        issued_at: now(),
        document: format!("doc {seq}").into_bytes(),
    };
    s.put_document(&doc(2)).unwrap();
    expect_conflict(s.put_document(&doc(2)), "the same seq again");
    expect_conflict(s.put_document(&doc(1)), "an older seq");
    s.put_document(&doc(3)).unwrap();
    assert_eq!(
        s.document(&p.id, DocumentKind::RevocationList).unwrap(),
        Some(doc(3))
    );
    assert!(
        s.document(&p.id, DocumentKind::ServiceState)
            .unwrap()
            .is_none()
    );
}

fn outbox_publishing(s: &dyn Store) {
    building(s);
    assert_eq!(s.meta("publisher.floor").unwrap(), None);
    s.put_meta("publisher.floor", b"12").unwrap();
    s.put_meta("publisher.floor", b"13").unwrap();
    assert_eq!(
        s.meta("publisher.floor").unwrap().as_deref(),
        Some(&b"13"[..])
    );
    s.create_installation(&request("req_1"), &public_entry("requested"))
        .unwrap();
    let pending = s.pending_outbox(10).unwrap();
    assert_eq!(
        pending
            .iter()
            .map(|o| o.entry.as_slice())
            .collect::<Vec<_>>(),
        [&b"registered"[..], b"requested"]
    );
    assert!(pending.windows(2).all(|w| w[0].id < w[1].id));
    s.mark_published(pending[0].id, 0).unwrap();
    s.mark_published(pending[0].id, 0).unwrap();
    expect_conflict(
        s.mark_published(pending[0].id, 5),
        "republishing at another index",
    );
    assert!(matches!(
        s.mark_published(999_999, 1),
        Err(ControlError::NotFound(_))
    ));
    assert_eq!(s.pending_outbox(10).unwrap().len(), 1);
    assert_eq!(s.outbox(pending[0].id).unwrap().unwrap().log_index, Some(0));
    assert_eq!(s.last_published(&LogTarget::Public).unwrap(), Some(0));
    s.mark_published(pending[1].id, 7).unwrap();
    assert_eq!(s.last_published(&LogTarget::Public).unwrap(), Some(7));
    // Many at once: all or nothing.
    s.create_installation(&request("req_2"), &public_entry("requested 2"))
        .unwrap();
    s.create_installation(&request("req_3"), &public_entry("requested 3"))
        .unwrap();
    let more = s.pending_outbox(10).unwrap();
    assert_eq!(more.len(), 2);
    assert!(matches!(
        s.mark_published_all(&[(more[0].id, 8), (pending[0].id, 99)]),
        Err(ControlError::Conflict(_))
    ));
    assert_eq!(
        s.pending_outbox(10).unwrap().len(),
        2,
        "a refused batch marked something"
    );
    s.mark_published_all(&[(more[0].id, 8), (more[1].id, 9)])
        .unwrap();
    assert_eq!(
        s.log_indexes(&[pending[0].id, more[1].id, 424_242])
            .unwrap(),
        vec![Some(0), Some(9), None]
    );
    assert_eq!(
        s.last_published(&LogTarget::Access(PropertyId::new("prop_1").unwrap()))
            .unwrap(),
        None
    );
    assert!(s.pending_outbox(1).unwrap().is_empty());
}

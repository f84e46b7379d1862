//! One scenario per workflow of the control plane, through the typed client against a server
//! booted in-process (doorman-testkit) with a controllable clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_client::Client;
use doorman_entries::PublicEntry;
use doorman_proto::*;
use doorman_testkit::{Building, PASSWORD, TestServer};
use doorman_tlog::{NoteVerifier, TlogProof};
use doorman_trust::{
    AuthorizationSpec, ConsentSpec, DeviceConfig, RevocationList, SecretKey, ServiceState,
    sign_authorization, sign_consent, token,
};
use jiff::SignedDuration;

fn public_entries(server: &TestServer) -> Vec<PublicEntry> {
    let log = &server.api().log;
    let size = log.sequenced_size().unwrap();
    log.sequenced_entries(0, size)
        .unwrap()
        .iter()
        .map(|e| PublicEntry::parse(e).unwrap())
        .collect()
}

fn types(server: &TestServer) -> Vec<&'static str> {
    public_entries(server)
        .iter()
        .map(|e| e.entry_type().as_str())
        .collect()
}

fn code(r: Result<impl std::fmt::Debug, doorman_client::ClientError>) -> String {
    match r {
        Err(e) => e.code().unwrap_or("(no code)").to_string(),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Every entry of the public log verifies from outside: its proof bundle from
/// `/log/v1/proof/<i>` under the log's key.
fn verify_log_from_outside(server: &TestServer) {
    let entries = {
        let log = &server.api().log;
        let size = log.sequenced_size().unwrap();
        server.wait_for_log(size);
        log.sequenced_entries(0, size).unwrap()
    };
    let key = NoteVerifier::parse(&server.verifier_key).unwrap();
    let client = server.client();
    for (i, entry) in entries.iter().enumerate() {
        let resp = client
            .raw("GET", &format!("/log/v1/proof/{i}"), None, None)
            .unwrap();
        assert_eq!(resp.status, 200);
        let proof = TlogProof::parse(&resp.body).unwrap();
        proof.verify_entry(entry, &server.origin, &key).unwrap();
    }
}

#[test]
fn install_consent_and_authorize_end_to_end() {
    let server = TestServer::start();
    let b = Building::new(&server);
    assert_eq!(b.property.status, "verified");
    assert!(
        b.property.log_index.is_some(),
        "the registration is published"
    );

    // The installer files a request; the manager sees it, with its photo.
    let (req, device) = b.file_request("dev-street-1");
    assert_eq!(req.status, "requested");
    assert!(req.log_index.is_some());
    let jpeg = [
        &[0xFF, 0xD8, 0xFF, 0xE0][..],
        b"not really a photo but starts like one",
    ]
    .concat();
    let ev = b
        .installer
        .upload_evidence(&req.id, "image/jpeg", &jpeg)
        .unwrap();
    assert_eq!((ev.number, ev.size), (1, jpeg.len() as u64));
    let waiting = b
        .manager
        .installations(Some(&b.property.id), Some("requested"))
        .unwrap();
    assert_eq!(waiting.items.len(), 1);
    assert_eq!(waiting.items[0].evidence.len(), 1);
    let (ct, bytes) = b.manager.evidence(&req.id, 1).unwrap();
    assert_eq!((ct.as_str(), bytes), ("image/jpeg", jpeg));

    // The manager approves: the consent names the device's key and verifies under the
    // property key; it is published.
    let approved = b
        .manager
        .approve(&req.id, &ApproveRequest::default())
        .unwrap();
    assert_eq!(approved.status, "approved");
    let consent = approved.consent.clone().unwrap();
    assert!(consent.log_index.is_some());
    let pkey: doorman_trust::PublicKey = b.property.public_key.parse().unwrap();
    let verified =
        doorman_trust::read_consent(&token::decode(&consent.token).unwrap(), &pkey).unwrap();
    assert_eq!(verified.spec().device, device.public());
    assert_eq!(verified.spec().door.as_str(), "street");

    // The carrier is authorized, fetches its token and mints a pass by API.
    let auth = b.authorize(&server);
    assert_eq!(auth.status, "active");
    let fetched = b.carrier.authorization(&auth.id).unwrap();
    assert_eq!(fetched.token, auth.token);
    let pass = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "ACME-1"))
        .unwrap();
    assert_eq!((pass.door.as_str(), pass.unit.as_str()), ("street", "4B"));
    let vp = doorman_trust::verify_pass(&token::decode(&pass.token).unwrap(), &pkey).unwrap();
    assert_eq!(vp.spec().driver_key, b.driver_secret.public());
    assert_eq!(b.carrier.passes(&auth.id).unwrap().items.len(), 1);
    // The pass fits in a QR code.
    assert!(token::decode(&pass.token).unwrap().len() < 1024);

    assert_eq!(
        types(&server),
        [
            "property_registered",
            "installation_requested",
            "consent_granted",
            "carrier_authorized"
        ]
    );
    verify_log_from_outside(&server);

    // The public address lookup finds all of it, in another spelling.
    let lookup = server
        .client()
        .raw(
            "GET",
            "/public/v1/installations?address=12+main+st.,+springfield",
            None,
            None,
        )
        .unwrap();
    server.api(); // (the index catches up on its own thread)
    assert_eq!(
        lookup.status,
        200,
        "{}",
        String::from_utf8_lossy(&lookup.body)
    );
}

#[test]
fn setup_is_one_time_and_sessions_expire() {
    let server = TestServer::start();
    let anon = server.client();
    assert_eq!(
        code(anon.setup(&SetupRequest {
            code: "dmsetup_wrong".into(),
            org_name: "Ops".into(),
            email: "op@example.org".into(),
            name: "Op".into(),
            password: PASSWORD.into()
        })),
        "not_found"
    );
    let operator = server.operator();
    assert_eq!(operator.me().unwrap().memberships[0].role, "operator");
    assert_eq!(
        code(anon.setup(&SetupRequest {
            code: server.setup_code.clone().unwrap(),
            org_name: "Ops".into(),
            email: "op2@example.org".into(),
            name: "Op".into(),
            password: PASSWORD.into()
        })),
        "setup_done"
    );
    // A restarted server prints no new code once the operator exists.
    let server = server.restart();
    assert!(server.setup_code.is_none());

    let (owner, _) = server.sign_up("property", "Co-op", "o@example.org");
    assert_eq!(owner.me().unwrap().via, "session");
    server.clock.advance(SignedDuration::from_hours(13));
    assert_eq!(code(owner.me()), "unauthenticated");
    let again = server.client().sign_in("o@example.org", PASSWORD).unwrap();
    let owner = server.client().with_token(again.token);
    owner.sign_out().unwrap();
    assert_eq!(code(owner.me()), "unauthenticated");
    assert_eq!(code(server.client().me()), "unauthenticated");
}

#[test]
fn failed_sign_ins_are_slowed_then_locked_out() {
    let server = TestServer::start();
    server.sign_up("carrier", "Acme", "a@example.org");
    let anon = server.client();
    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(code(anon.sign_in("a@example.org", "wrong password!!")));
    }
    assert_eq!(codes, ["unauthenticated"; 4]);
    // Now each attempt must wait; a quick retry is refused without checking the password.
    let e = anon.sign_in("a@example.org", PASSWORD).unwrap_err();
    assert_eq!(e.code(), Some("too_many_attempts"));
    // Waiting out the backoff lets one more attempt through, until the lockout.
    let mut locked = false;
    for _ in 0..20 {
        server.clock.advance(SignedDuration::from_secs(600));
        match anon.sign_in("a@example.org", "still wrong!!!!") {
            Err(e) if e.code() == Some("locked_out") => {
                locked = true;
                break;
            }
            Err(e) => assert_eq!(e.code(), Some("unauthenticated")),
            Ok(_) => panic!("a wrong password signed in"),
        }
    }
    assert!(locked, "never locked out");
    // Locked: even the right password is refused, with a Retry-After.
    let resp = anon
        .raw(
            "POST",
            "/api/v1/sessions",
            Some("application/json"),
            Some(br#"{"email":"a@example.org","password":"correct horse battery staple"}"#),
        )
        .unwrap();
    assert_eq!(resp.status, 429);
    assert!(resp.header("retry-after").unwrap().parse::<u64>().unwrap() > 0);
    // An address with no account is throttled the same way (nothing says it does not exist).
    for _ in 0..4 {
        assert_eq!(
            code(anon.sign_in("nobody@example.org", "whatever password")),
            "unauthenticated"
        );
    }
    assert_eq!(
        code(anon.sign_in("nobody@example.org", "whatever password")),
        "too_many_attempts"
    );
    // After the lockout, the right password works and clears the record.
    server.clock.advance(SignedDuration::from_mins(16));
    anon.sign_in("a@example.org", PASSWORD).unwrap();
}

#[test]
fn invitations_and_api_tokens() {
    let server = TestServer::start();
    let b = Building::new(&server);
    // The carrier invites a dispatcher; the code works once.
    let inv = b
        .carrier
        .invite(
            &b.carrier_org,
            &InviteRequest {
                email: "disp@acme.example".into(),
                role: "dispatcher".into(),
            },
        )
        .unwrap();
    let dispatcher = server.accept(&inv, "disp@acme.example");
    assert_eq!(dispatcher.me().unwrap().memberships[0].role, "dispatcher");
    assert_eq!(
        code(server.client().accept_invitation(&AcceptInvitationRequest {
            code: inv.code.clone().unwrap(),
            name: Some("X".into()),
            password: PASSWORD.into()
        })),
        "invitation_closed"
    );
    // A role the organisation does not have.
    assert_eq!(
        code(b.carrier.invite(
            &b.carrier_org,
            &InviteRequest {
                email: "x@acme.example".into(),
                role: "manager".into()
            }
        )),
        "invalid_field"
    );
    // An expired invitation cannot be used.
    let late = b
        .carrier
        .invite(
            &b.carrier_org,
            &InviteRequest {
                email: "late@acme.example".into(),
                role: "dispatcher".into(),
            },
        )
        .unwrap();
    server.clock.advance(SignedDuration::from_hours(8 * 24));
    assert_eq!(
        code(server.client().accept_invitation(&AcceptInvitationRequest {
            code: late.code.unwrap(),
            name: Some("L".into()),
            password: PASSWORD.into()
        })),
        "invitation_closed"
    );

    // A dispatch system's API token mints passes; listing never shows the secret; revoking
    // stops it at once.
    let server_clock_now = server.clock.now();
    let _ = server_clock_now;
    let owner = server
        .client()
        .sign_in("owner@coop.example", PASSWORD)
        .unwrap();
    let owner = server.client().with_token(owner.token);
    let auth = {
        let req = b.authorize_request(&server);
        owner.authorize(&b.property.id, &req).unwrap()
    };
    let carrier = server
        .client()
        .sign_in("admin@acme.example", PASSWORD)
        .unwrap();
    let carrier = server.client().with_token(carrier.token);
    let tok = carrier
        .create_token(
            &b.carrier_org,
            &CreateTokenRequest {
                name: "dispatch system".into(),
                role: "dispatcher".into(),
                expires_in_days: Some(30),
            },
        )
        .unwrap();
    let secret = tok.token.clone().unwrap();
    assert!(secret.starts_with("dmt_"));
    let machine = server.client().with_token(&secret);
    assert_eq!(machine.me().unwrap().via, "api_token");
    machine
        .mint_pass(&auth.id, &b.pass_request(&server, "M-1"))
        .unwrap();
    let listed = carrier.tokens(&b.carrier_org).unwrap();
    assert!(listed.items.iter().all(|t| t.token.is_none()));
    assert!(listed.items[0].last_used_at.is_some());
    // A token cannot issue tokens, nor act for a resident or driver.
    assert_eq!(
        code(machine.create_token(
            &b.carrier_org,
            &CreateTokenRequest {
                name: "x".into(),
                role: "dispatcher".into(),
                expires_in_days: None
            }
        )),
        "forbidden"
    );
    assert_eq!(
        code(carrier.create_token(
            &b.carrier_org,
            &CreateTokenRequest {
                name: "x".into(),
                role: "driver".into(),
                expires_in_days: None
            }
        )),
        "invalid_field"
    );
    carrier.revoke_token(&b.carrier_org, &tok.id).unwrap();
    assert_eq!(code(machine.me()), "unauthenticated");
    assert_eq!(
        code(carrier.revoke_token(&b.carrier_org, &tok.id)),
        "already_revoked"
    );
    // Expired tokens stop too.
    let short = carrier
        .create_token(
            &b.carrier_org,
            &CreateTokenRequest {
                name: "short".into(),
                role: "admin".into(),
                expires_in_days: Some(1),
            },
        )
        .unwrap();
    let short = server.client().with_token(short.token.unwrap());
    short.me().unwrap();
    server.clock.advance(SignedDuration::from_hours(25));
    assert_eq!(code(short.me()), "unauthenticated");
}

#[test]
fn property_claims_are_verified_by_the_operator_only() {
    let server = TestServer::start();
    let operator = server.operator();
    let (owner, org) = server.sign_up("property", "Co-op", "o@example.org");
    let claim = |addr: &str| {
        owner
            .claim_property(&ClaimPropertyRequest {
                org: org.clone(),
                name: "B".into(),
                address: addr.into(),
                time_zone: "America/New_York".into(),
                custody: "custodial".into(),
                public_key: None,
            })
            .unwrap()
    };
    let p = claim("1 Elm Street");
    assert_eq!(p.status, "claimed");
    assert!(p.log_index.is_none());
    // Not usable before verification.
    owner.add_door(&p.id, "front", "Front").unwrap();
    assert_eq!(code(owner.verify_property(&p.id, "I own it")), "forbidden");
    assert_eq!(code(operator.verify_property(&p.id, "")), "invalid_field");
    let queue = operator.properties(Some("claimed")).unwrap();
    assert_eq!(queue.items.len(), 1);
    let v = operator
        .verify_property(&p.id, "deed checked at the registry")
        .unwrap();
    assert_eq!(v.status, "verified");
    assert!(v.log_index.is_some());
    assert_eq!(
        code(operator.verify_property(&p.id, "again")),
        "already_decided"
    );
    assert_eq!(
        code(operator.reject_property(&p.id, "no")),
        "already_decided"
    );
    // A second claim at the same address (any spelling) cannot be registered.
    let dup = claim("1 ELM ST.");
    assert_eq!(
        code(operator.verify_property(&dup.id, "looks fine")),
        "already_decided"
    );
    let rejected = operator
        .reject_property(&dup.id, "registered already by another organisation")
        .unwrap();
    assert_eq!(rejected.status, "rejected");
    assert_eq!(types(&server), ["property_registered"]);
    let entry = &public_entries(&server)[0];
    match entry {
        PublicEntry::PropertyRegistered {
            property, custody, ..
        } => {
            assert_eq!(property, &p.id);
            assert_eq!(*custody, doorman_entries::Custody::Custodial);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn requests_are_decided_once_and_never_by_their_installer() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (r1, _) = b.file_request("dev-1");
    // The installer sees its request but cannot decide it.
    assert_eq!(b.installer.installation(&r1.id).unwrap().id, r1.id);
    assert_eq!(
        code(b.installer.approve(&r1.id, &ApproveRequest::default())),
        "forbidden"
    );
    // A manager of the building who also works for the installer cannot either.
    server.invite(&b.owner, &b.owner_org, "both@example.org", "manager");
    let inv = b
        .installer
        .invite(
            &b.installer_org,
            &InviteRequest {
                email: "both@example.org".into(),
                role: "installer".into(),
            },
        )
        .unwrap();
    server
        .client()
        .accept_invitation(&AcceptInvitationRequest {
            code: inv.code.unwrap(),
            name: None,
            password: PASSWORD.into(),
        })
        .unwrap();
    let both = server.client().with_token(
        server
            .client()
            .sign_in("both@example.org", PASSWORD)
            .unwrap()
            .token,
    );
    assert_eq!(
        code(both.approve(&r1.id, &ApproveRequest::default())),
        "own_request"
    );
    // Another carrier or installer organisation does not even see it.
    let (other_installer, _) = server.sign_up("installer", "Other Installers", "x@other.example");
    assert_eq!(code(other_installer.installation(&r1.id)), "not_found");
    assert_eq!(code(b.carrier.installation(&r1.id)), "not_found");

    let rejected = b.manager.reject(&r1.id, "wrong_door").unwrap();
    assert_eq!(rejected.status, "rejected");
    assert_eq!(
        code(b.manager.approve(&r1.id, &ApproveRequest::default())),
        "already_decided"
    );
    assert_eq!(code(b.manager.reject(&r1.id, "again")), "already_decided");
    assert_eq!(
        code(b.manager.revoke_consent(&r1.id, "x")),
        "already_decided"
    );
    assert_eq!(code(b.manager.reject(&r1.id, "Not A Code")), "bad_reason");

    let (r2, _) = b.file_request("dev-2");
    b.manager
        .approve(&r2.id, &ApproveRequest::default())
        .unwrap();
    let revoked = b.owner.revoke_consent(&r2.id, "device_removed").unwrap();
    assert_eq!(revoked.status, "revoked");
    assert_eq!(
        code(b.owner.revoke_consent(&r2.id, "device_removed")),
        "already_revoked"
    );
    // Evidence only while the request is open.
    assert_eq!(
        code(
            b.installer
                .upload_evidence(&r2.id, "image/png", b"\x89PNG\r\n\x1a\nrest")
        ),
        "already_decided"
    );
    // The revoked consent is in the signed revocation list devices get.
    let revs = b.owner.revocations(&b.property.id).unwrap();
    assert_eq!(revs.revoked.len(), 1);
    let doc = b.owner.signed_revocations(&b.property.id).unwrap();
    let list = RevocationList::verify(
        doc.document.as_bytes(),
        &b.property.public_key.parse().unwrap(),
    )
    .unwrap();
    assert!(
        list.revoked
            .contains(&hex::decode(&revs.revoked[0].revocation_id).unwrap())
    );
    assert_eq!(
        types(&server),
        [
            "property_registered",
            "installation_requested",
            "installation_requested",
            "consent_granted",
            "consent_revoked"
        ]
    );
    verify_log_from_outside(&server);
}

#[test]
fn revoking_an_authorization_stops_minting_and_lists_its_id() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    b.carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "D-1"))
        .unwrap();
    // The carrier sees it; another carrier does not.
    let (other, _) = server.sign_up("carrier", "Other Parcel", "x@other.example");
    assert_eq!(code(other.authorization(&auth.id)), "not_found");
    assert_eq!(
        code(b.carrier.revoke_authorization(&auth.id, "contract_ended")),
        "forbidden"
    );
    let revoked = b
        .manager
        .revoke_authorization(&auth.id, "contract_ended")
        .unwrap();
    assert_eq!(revoked.status, "revoked");
    assert_eq!(
        code(b.manager.revoke_authorization(&auth.id, "contract_ended")),
        "already_revoked"
    );
    assert_eq!(
        code(
            b.carrier
                .mint_pass(&auth.id, &b.pass_request(&server, "D-2"))
        ),
        "authorization_inactive"
    );
    let doc = b.owner.signed_revocations(&b.property.id).unwrap();
    let list = RevocationList::verify(
        doc.document.as_bytes(),
        &b.property.public_key.parse().unwrap(),
    )
    .unwrap();
    assert!(
        list.revoked
            .contains(&hex::decode(&auth.revocation_id).unwrap())
    );
    assert_eq!(
        types(&server),
        [
            "property_registered",
            "carrier_authorized",
            "authorization_revoked"
        ]
    );
    // Expiry stops minting too.
    let auth2 = b.authorize(&server);
    server.clock.advance(SignedDuration::from_hours(24 * 366));
    // (Sessions last 12 hours: sign in again a year later.)
    let carrier = server.client().with_token(
        server
            .client()
            .sign_in("admin@acme.example", PASSWORD)
            .unwrap()
            .token,
    );
    assert_eq!(
        code(carrier.mint_pass(&auth2.id, &b.pass_request(&server, "D-3"))),
        "authorization_inactive"
    );
    assert_eq!(carrier.authorization(&auth2.id).unwrap().status, "expired");
}

#[test]
fn pass_requests_are_checked_before_minting() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let base = b.pass_request(&server, "D-1");
    let mint = |f: &dyn Fn(&mut MintPassRequest)| {
        let mut r = base.clone();
        f(&mut r);
        code(b.carrier.mint_pass(&auth.id, &r))
    };
    assert_eq!(mint(&|r| r.unit = "99Z".into()), "unknown_reference");
    assert_eq!(mint(&|r| r.door = "back".into()), "unknown_reference");
    assert_eq!(
        mint(&|r| r.driver = Some("drv_nobody".into())),
        "unknown_reference"
    );
    assert_eq!(
        mint(&|r| {
            r.driver = None;
        }),
        "invalid_field"
    );
    assert_eq!(
        mint(&|r| r.not_after = r
            .not_before
            .checked_add(SignedDuration::from_hours(3))
            .unwrap()),
        "bad_window"
    );
    assert_eq!(mint(&|r| r.not_after = r.not_before), "bad_window");
    // A carrier whose key the server does not hold mints offline only.
    let (c2, c2_org) = server.sign_up("carrier", "Own Key Parcel", "k@own.example");
    let ck = SecretKey::generate(&mut rand::rngs::OsRng);
    c2.set_carrier_key(
        &c2_org,
        &CarrierKeyRequest {
            public_key: Some(ck.public().to_string()),
            custodial: false,
        },
    )
    .unwrap();
    let mut req = b.authorize_request(&server);
    req.carrier = c2_org.clone();
    let a2 = b.manager.authorize(&b.property.id, &req).unwrap();
    let by_key = MintPassRequest {
        driver: None,
        driver_key: Some(
            SecretKey::generate(&mut rand::rngs::OsRng)
                .public()
                .to_string(),
        ),
        ..b.pass_request(&server, "X")
    };
    assert_eq!(code(c2.mint_pass(&a2.id, &by_key)), "no_carrier_key");
    // It mints offline with its own key, on the token it fetched.
    let token_bytes = token::decode(&c2.authorization(&a2.id).unwrap().token).unwrap();
    let driver = SecretKey::generate(&mut rand::rngs::OsRng);
    let pass = doorman_trust::mint_pass(
        &token_bytes,
        &ck,
        &doorman_trust::PassSpec {
            door: "street".parse().unwrap(),
            unit: "4B".parse().unwrap(),
            delivery: "OWN-1".parse().unwrap(),
            driver_key: driver.public(),
            not_before: base.not_before,
            not_after: base.not_after,
        },
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    doorman_trust::verify_pass(&pass, &b.property.public_key.parse().unwrap()).unwrap();
}

#[test]
fn the_owners_switch_is_immediate_logged_and_signed() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let off = |scope: &str, target: Option<&str>, enabled: bool| ServiceChangeRequest {
        scope: scope.into(),
        target: target.map(str::to_string),
        enabled,
        expected_seq: None,
    };
    let s = b
        .manager
        .change_service(&b.property.id, &off("carrier", Some(&b.carrier_org), false))
        .unwrap();
    assert_eq!(s.disabled_carriers, std::slice::from_ref(&b.carrier_org));
    assert_eq!(
        code(
            b.carrier
                .mint_pass(&auth.id, &b.pass_request(&server, "S-1"))
        ),
        "service_disabled"
    );
    b.manager
        .change_service(&b.property.id, &off("carrier", Some(&b.carrier_org), true))
        .unwrap();
    b.carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "S-2"))
        .unwrap();
    b.manager
        .change_service(&b.property.id, &off("door", Some("street"), false))
        .unwrap();
    assert_eq!(
        code(
            b.carrier
                .mint_pass(&auth.id, &b.pass_request(&server, "S-3"))
        ),
        "service_disabled"
    );
    let mut garage = b.pass_request(&server, "S-4");
    garage.door = "garage".into();
    b.carrier.mint_pass(&auth.id, &garage).unwrap();
    let s = b
        .owner
        .change_service(&b.property.id, &off("property", None, false))
        .unwrap();
    assert!(s.property_disabled);
    assert_eq!(
        code(b.carrier.mint_pass(&auth.id, &garage)),
        "service_disabled"
    );
    // A change decided on a stale view is refused.
    let mut stale = off("property", None, true);
    stale.expected_seq = Some(1);
    assert_eq!(
        code(b.owner.change_service(&b.property.id, &stale)),
        "stale_state"
    );
    assert_eq!(
        code(
            b.owner
                .change_service(&b.property.id, &off("door", Some("nowhere"), false))
        ),
        "unknown_reference"
    );
    assert_eq!(
        code(
            b.owner
                .change_service(&b.property.id, &off("building", None, false))
        ),
        "invalid_field"
    );

    // Devices get it signed with the property key.
    let view = b.owner.service(&b.property.id).unwrap();
    assert_eq!(view.seq, 4);
    assert_eq!(view.signed_seq, Some(4));
    let doc = b.owner.signed_service(&b.property.id).unwrap();
    let state = ServiceState::verify(
        doc.document.as_bytes(),
        &b.property.public_key.parse().unwrap(),
    )
    .unwrap();
    assert!(state.switch.property_disabled);
    assert!(
        state
            .switch
            .disabled_doors
            .iter()
            .any(|d| d.as_str() == "street")
    );

    // Each change is in the property's private access log, readable by its managers only.
    let log = b.manager.access_log(&b.property.id, 0, 100).unwrap();
    let changes: Vec<_> = log
        .events
        .iter()
        .filter_map(|e| e.payload.as_ref())
        .filter(|p| p["type"] == "service_changed")
        .collect();
    assert_eq!(changes.len(), 4);
    assert_eq!(changes[0]["scope"], "carrier");
    assert_eq!(changes[0]["enabled"], false);
    for e in &log.events {
        let leaf = doorman_entries::AccessLeaf::parse(e.leaf.as_bytes()).unwrap();
        let salt =
            doorman_entries::Salt::from_slice(&hex::decode(e.salt.as_ref().unwrap()).unwrap())
                .unwrap();
        let payload = doorman_entries::to_canonical(e.payload.as_ref().unwrap());
        leaf.verify_opening(&salt, payload.as_bytes()).unwrap();
    }
    assert_eq!(
        code(b.installer.access_log(&b.property.id, 0, 10)),
        "not_found"
    );
    assert_eq!(code(b.carrier.service(&b.property.id)), "not_found");
}

#[test]
fn self_custody_properties_upload_what_the_owner_signed_offline() {
    let server = TestServer::start();
    let owner_key = SecretKey::generate(&mut rand::rngs::OsRng);
    let b = Building::with_custody(&server, "self", Some(&owner_key));
    assert_eq!(b.property.public_key, owner_key.public().to_string());
    let (req, device) = b.file_request("dev-self");
    assert_eq!(
        code(b.manager.approve(&req.id, &ApproveRequest::default())),
        "signature_required"
    );
    let now = server.clock.now();
    let spec = ConsentSpec {
        property: b.property.id.parse().unwrap(),
        door: "street".parse().unwrap(),
        device: device.public(),
        installer: b.installer_org.parse().unwrap(),
        not_before: jiff::Timestamp::from_second(now.as_second()).unwrap(),
        not_after: jiff::Timestamp::from_second(now.as_second() + 86_400 * 365).unwrap(),
    };
    let upload = |t: Vec<u8>| ApproveRequest {
        consent: Some(token::encode(&t)),
        ..Default::default()
    };
    // A consent signed by someone else's key, or for another door, is refused.
    let forged = sign_consent(
        &SecretKey::generate(&mut rand::rngs::OsRng),
        &spec,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    assert_eq!(
        code(b.manager.approve(&req.id, &upload(forged))),
        "bad_token"
    );
    let wrong_door = sign_consent(
        &owner_key,
        &ConsentSpec {
            door: "garage".parse().unwrap(),
            ..spec.clone()
        },
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    assert_eq!(
        code(b.manager.approve(&req.id, &upload(wrong_door))),
        "token_mismatch"
    );
    assert_eq!(
        code(b.manager.approve(
            &req.id,
            &ApproveRequest {
                consent: Some("not a token".into()),
                ..Default::default()
            }
        )),
        "bad_token"
    );
    let good = sign_consent(&owner_key, &spec, &mut rand::rngs::OsRng).unwrap();
    let approved = b.manager.approve(&req.id, &upload(good)).unwrap();
    assert_eq!(approved.status, "approved");

    // Authorizations likewise.
    let mut areq = b.authorize_request(&server);
    assert_eq!(
        code(b.manager.authorize(&b.property.id, &areq)),
        "signature_required"
    );
    let aspec = AuthorizationSpec {
        property: b.property.id.parse().unwrap(),
        carrier: b.carrier_org.parse().unwrap(),
        carrier_key: b.carrier_key.parse().unwrap(),
        doors: ["garage".parse().unwrap(), "street".parse().unwrap()]
            .into_iter()
            .collect(),
        schedule: areq.schedule.parse().unwrap(),
        time_zone: "Europe/Paris".into(),
        daily_cap: areq.daily_cap,
        max_pass_duration: SignedDuration::from_hours(2),
        not_before: jiff::Timestamp::from_second(now.as_second()).unwrap(),
        not_after: jiff::Timestamp::from_second(areq.not_after.as_second()).unwrap(),
    };
    areq.not_before = Some(aspec.not_before);
    let loose = sign_authorization(
        &owner_key,
        &AuthorizationSpec {
            daily_cap: None,
            ..aspec.clone()
        },
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    areq.authorization = Some(token::encode(&loose));
    assert_eq!(
        code(b.manager.authorize(&b.property.id, &areq)),
        "token_mismatch"
    );
    let signed = sign_authorization(&owner_key, &aspec, &mut rand::rngs::OsRng).unwrap();
    areq.authorization = Some(token::encode(&signed));
    let auth = b.manager.authorize(&b.property.id, &areq).unwrap();
    assert_eq!(auth.status, "active");

    // The device's activation bundle waits for the owner's signed device configuration.
    let index = approved
        .consent
        .as_ref()
        .and_then(|c| c.log_index)
        .expect("a logged consent");
    server.wait_for_log(index + 1);
    assert_eq!(code(b.installer.activation(&req.id)), "signature_required");
    let pending = b.owner.activation_config(&req.id).unwrap();
    assert_eq!(
        (pending.custody.as_str(), pending.document.as_ref()),
        ("self", None)
    );
    let config = DeviceConfig::from_payload(&base64_decode(
        pending
            .pending_payload
            .as_deref()
            .expect("a payload to sign"),
    ))
    .unwrap();
    assert_eq!(config.device_key, device.public());
    assert_eq!(config.door.as_str(), "street");
    let sign = |c: &DeviceConfig, k: &SecretKey| String::from_utf8(c.sign(k).unwrap()).unwrap();
    // The installer may not upload it; another key's signature, another door or another
    // server key are refused.
    let doc = sign(&config, &owner_key);
    assert_eq!(
        code(b.installer.upload_activation_config(&req.id, &doc)),
        "forbidden"
    );
    let stranger = SecretKey::generate(&mut rand::rngs::OsRng);
    assert_eq!(
        code(
            b.owner
                .upload_activation_config(&req.id, &sign(&config, &stranger))
        ),
        "bad_token"
    );
    for wrong in [
        DeviceConfig {
            door: "garage".parse().unwrap(),
            ..config.clone()
        },
        DeviceConfig {
            server_key: stranger.public(),
            ..config.clone()
        },
    ] {
        assert_eq!(
            code(
                b.owner
                    .upload_activation_config(&req.id, &sign(&wrong, &owner_key))
            ),
            "token_mismatch"
        );
    }
    let stored = b.owner.upload_activation_config(&req.id, &doc).unwrap();
    assert_eq!(stored.document.as_deref(), Some(doc.as_str()));
    assert_eq!(
        code(b.owner.upload_activation_config(&req.id, &doc)),
        "stale_state"
    );
    // Devices also need the property's signed state, which only the owner can sign.
    assert_eq!(code(b.installer.activation(&req.id)), "signature_required");
    let revs = b.owner.revocations(&b.property.id).unwrap();
    let list =
        RevocationList::from_payload(&base64_decode(revs.pending_payload.as_deref().unwrap()))
            .unwrap();
    b.owner
        .upload_revocations(
            &b.property.id,
            &String::from_utf8(list.sign(&owner_key).unwrap()).unwrap(),
        )
        .unwrap();
    let service = b.owner.service(&b.property.id).unwrap();
    let state =
        ServiceState::from_payload(&base64_decode(service.pending_payload.as_deref().unwrap()))
            .unwrap();
    b.owner
        .upload_service(
            &b.property.id,
            &String::from_utf8(state.sign(&owner_key).unwrap()).unwrap(),
        )
        .unwrap();
    // The bundle now carries it all, and verifies the way the device checks it.
    let bundle = b.installer.activation(&req.id).unwrap();
    assert_eq!(bundle.config, doc);
    let activation = doorman_device::verify_activation(
        &serde_json::to_vec(&bundle).unwrap(),
        &device.public(),
        &NoteVerifier::parse(&server.verifier_key).unwrap(),
        server.clock.now(),
    )
    .unwrap();
    assert_eq!(activation.door.as_str(), "street");
    assert_eq!(activation.config.seq, config.seq);

    // A revocation leaves a list for the owner to sign; the server serves what they upload.
    b.owner.revoke_consent(&req.id, "device_removed").unwrap();
    let revs = b.owner.revocations(&b.property.id).unwrap();
    let payload = base64_decode(revs.pending_payload.as_deref().expect("a pending list"));
    let list = RevocationList::from_payload(&payload).unwrap();
    assert_eq!(list.revoked.len(), 1);
    let doc = String::from_utf8(list.sign(&owner_key).unwrap()).unwrap();
    // A list that leaves the revocation out is refused.
    let empty = RevocationList {
        revoked: Default::default(),
        ..list.clone()
    };
    assert_eq!(
        code(b.owner.upload_revocations(
            &b.property.id,
            &String::from_utf8(empty.sign(&owner_key).unwrap()).unwrap()
        )),
        "token_mismatch"
    );
    let stored = b.owner.upload_revocations(&b.property.id, &doc).unwrap();
    assert_eq!(stored.seq, list.seq);
    assert_eq!(
        b.owner.signed_revocations(&b.property.id).unwrap().document,
        doc
    );
    assert_eq!(
        code(b.owner.upload_revocations(&b.property.id, &doc)),
        "stale_state"
    );
    // What is pending now is the next re-issue (a fresh issue time, the next seq).
    let now_pending = b.owner.revocations(&b.property.id).unwrap();
    assert_eq!(now_pending.document_seq, Some(list.seq));
    let next = RevocationList::from_payload(&base64_decode(
        now_pending.pending_payload.as_deref().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        (next.seq, next.revoked.clone()),
        (list.seq + 1, list.revoked.clone())
    );
    // The server never held the key: nothing sealed is stored for the property.
    let stored = server
        .api()
        .store
        .property(&b.property.id.parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(stored.sealed_key.is_none());
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

#[test]
fn residents_doors_and_units() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let inv = b
        .manager
        .invite_resident(&b.property.id, "res@example.org", "4B")
        .unwrap();
    assert_eq!(
        code(
            b.manager
                .invite_resident(&b.property.id, "res2@example.org", "77")
        ),
        "unknown_reference"
    );
    let resident = server.accept(&inv, "res@example.org");
    let me = resident.me().unwrap();
    assert_eq!(
        (
            me.memberships[0].role.as_str(),
            me.memberships[0].unit.as_deref()
        ),
        ("resident", Some("4B"))
    );
    // A resident sees the building and its doors, not its people or its switch.
    assert_eq!(resident.property(&b.property.id).unwrap().id, b.property.id);
    assert_eq!(resident.doors(&b.property.id).unwrap().items.len(), 2);
    assert_eq!(code(resident.residents(&b.property.id)), "forbidden");
    assert_eq!(
        code(resident.change_service(
            &b.property.id,
            &ServiceChangeRequest {
                scope: "property".into(),
                target: None,
                enabled: false,
                expected_seq: None
            }
        )),
        "forbidden"
    );
    // Another of the organisation's buildings is invisible to them.
    let other = b
        .owner
        .claim_property(&ClaimPropertyRequest {
            org: b.owner_org.clone(),
            name: "Other".into(),
            address: "3 Oak Road".into(),
            time_zone: "Europe/Paris".into(),
            custody: "custodial".into(),
            public_key: None,
        })
        .unwrap();
    assert_eq!(code(resident.property(&other.id)), "not_found");
    let rlist = b.manager.residents(&b.property.id).unwrap();
    assert_eq!(rlist.items.len(), 1);
    assert_eq!(code(b.manager.remove_unit(&b.property.id, "4B")), "in_use");
    b.manager
        .remove_resident(&b.property.id, &rlist.items[0].user.id)
        .unwrap();
    assert_eq!(code(resident.property(&b.property.id)), "not_found");
    b.manager.remove_unit(&b.property.id, "4B").unwrap();
    // Doors in use cannot be removed; a duplicate is refused.
    let auth = b.authorize(&server);
    assert_eq!(
        code(b.manager.remove_door(&b.property.id, "garage")),
        "in_use"
    );
    assert_eq!(
        code(b.manager.add_door(&b.property.id, "street", "Again")),
        "duplicate"
    );
    assert_eq!(
        code(b.manager.add_door(&b.property.id, "bad\"id", "Bad")),
        "bad_id"
    );
    b.manager
        .revoke_authorization(&auth.id, "contract_ended")
        .unwrap();
    b.manager.remove_door(&b.property.id, "garage").unwrap();
}

#[test]
fn operations_endpoints() {
    let server = TestServer::start();
    let c = server.client();
    let doc = c.openapi().unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap(), "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 40, "{} paths", paths.len());
    // Every documented path is routed: none answers "no such endpoint".
    for path in paths.keys() {
        let concrete = path.replace('{', "x").replace('}', "");
        let resp = c.raw("GET", &concrete, None, None).unwrap();
        let unrouted = resp.status == 404
            && resp
                .problem()
                .is_some_and(|p| p.detail == "no such endpoint");
        assert!(!unrouted, "{path} is documented but not routed");
    }
    let ready = c.readyz().unwrap();
    assert!(ready.ready, "{ready:?}");
    let metrics = c.raw("GET", "/metrics", None, None).unwrap();
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(text.contains("doorman_http_requests_total{route=\"/api/v1/openapi.json\",method=\"GET\",status=\"200\"} 1"), "{text}");
    assert!(text.contains("doorman_public_log_size"));
    // Every response carries a request id, and errors repeat it.
    let resp = c.raw("GET", "/api/v1/me", None, None).unwrap();
    let rid = resp.header("x-request-id").unwrap().to_string();
    assert_eq!(
        resp.problem().unwrap().request_id.as_deref(),
        Some(rid.as_str())
    );
    let _: Client = c;
}

#[test]
fn access_events_are_anchored_in_the_public_log() {
    let server =
        TestServer::start_with(|c| c.anchor_interval = std::time::Duration::from_millis(100));
    let b = Building::new(&server);
    b.owner
        .change_service(
            &b.property.id,
            &ServiceChangeRequest {
                scope: "property".into(),
                target: None,
                enabled: false,
                expected_seq: None,
            },
        )
        .unwrap();
    let mut anchored = None;
    for _ in 0..100 {
        anchored = b.owner.access_proof(&b.property.id, 0).unwrap().anchored;
        if anchored.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let anchored = anchored.expect("the keeper anchors the access log");
    let log = b.owner.access_log(&b.property.id, 0, 10).unwrap();
    let key = NoteVerifier::parse(&log.verifier_key).unwrap();
    let cp = TlogProof::parse(anchored.proof.as_bytes())
        .unwrap()
        .verify_entry(log.events[0].leaf.as_bytes(), &log.origin, &key)
        .unwrap();
    assert_eq!(cp.root().to_base64(), anchored.root);
    server.wait_for_log(anchored.public_index + 1);
    let entry = &public_entries(&server)[usize::try_from(anchored.public_index).unwrap()];
    match entry {
        PublicEntry::AccessLogAnchored {
            property,
            size,
            root,
            ..
        } => {
            assert_eq!(property, &b.property.id);
            assert_eq!(*size, anchored.size);
            assert_eq!(root, &anchored.root);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_server_restarts_with_everything_in_place() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (req, _) = b.file_request("dev-1");
    let auth = b.authorize(&server);
    b.owner
        .change_service(
            &b.property.id,
            &ServiceChangeRequest {
                scope: "door".into(),
                target: Some("garage".into()),
                enabled: false,
                expected_seq: None,
            },
        )
        .unwrap();
    let owner_token = b.owner.token().unwrap().to_string();
    let carrier_token = b.carrier.token().unwrap().to_string();
    let before = public_entries(&server);
    let server = server.restart();
    // Sessions survive; so do requests, authorizations, the switch and the log.
    let owner = server.client().with_token(owner_token);
    let carrier = server.client().with_token(carrier_token);
    assert_eq!(owner.installation(&req.id).unwrap().status, "requested");
    assert_eq!(owner.property(&b.property.id).unwrap().status, "verified");
    assert_eq!(
        owner.service(&b.property.id).unwrap().disabled_doors,
        ["garage"]
    );
    // The log is the same (the keeper's first round may anchor the access log on top).
    assert!(public_entries(&server).starts_with(&before));
    // The custodial keys still open (the master key was read back): approve and mint.
    let approved = owner.approve(&req.id, &ApproveRequest::default()).unwrap();
    assert!(approved.consent.unwrap().log_index.is_some());
    carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "AFTER-RESTART"))
        .unwrap();
    // The log grew on top of the old one and verifies end to end.
    let after = public_entries(&server);
    assert!(after.starts_with(&before));
    assert!(
        after[before.len()..]
            .iter()
            .any(|e| matches!(e, PublicEntry::ConsentGranted { .. }))
    );
    verify_log_from_outside(&server);
    assert_eq!(
        owner
            .access_log(&b.property.id, 0, 10)
            .unwrap()
            .events
            .len(),
        1
    );
}

#[test]
fn parallel_guesses_do_not_slip_past_the_throttle() {
    let server = TestServer::start();
    server.sign_up("carrier", "Acme", "a@example.org");
    let codes: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let c = server.client();
                s.spawn(move || code(c.sign_in("a@example.org", &format!("guess number {i:04}"))))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = codes.iter().filter(|c| *c == "unauthenticated").count();
    // The clock does not move: after the free failures and one more, everything waits.
    assert!(
        checked <= 4,
        "{checked} passwords were checked in one instant: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| c == "unauthenticated" || c == "too_many_attempts"),
        "{codes:?}"
    );
    let stored = server.api().store.login_throttle("a@example.org").unwrap();
    assert_eq!(stored.failures as usize, checked);
}

/// Authorization lists come a page at a time: every item once, in order, whatever the page
/// size; the same pages for the property's manager and the carrier; bad paging is a 400.
#[test]
fn authorization_lists_are_paged() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let made: Vec<String> = (0..7)
        .map(|_| {
            // Distinct creation times.
            server.clock.advance(SignedDuration::from_secs(1));
            b.authorize(&server).id
        })
        .collect();
    let first = b
        .manager
        .property_authorizations_page(&b.property.id, None, Some(3))
        .unwrap();
    assert_eq!(first.items.len(), 3);
    let mut seen: Vec<String> = first.items.iter().map(|a| a.id.clone()).collect();
    let mut after = first.next_after.clone();
    let mut pages = 1;
    while let Some(cursor) = after {
        let page = b
            .manager
            .property_authorizations_page(&b.property.id, Some(&cursor), Some(3))
            .unwrap();
        seen.extend(page.items.iter().map(|a| a.id.clone()));
        after = page.next_after;
        pages += 1;
    }
    assert_eq!(seen, made, "every authorization once, oldest first");
    assert_eq!(pages, 3);
    // The whole list (the client follows the pages), for the manager and for the carrier.
    let all = b.manager.property_authorizations(&b.property.id).unwrap();
    assert_eq!(all.items.len(), 7);
    assert_eq!(all.next_after, None);
    let carrier_page = b
        .carrier
        .authorizations_page(None, None, false, None, Some(5))
        .unwrap();
    assert_eq!(carrier_page.items.len(), 5);
    assert!(carrier_page.next_after.is_some());
    assert_eq!(
        b.carrier
            .authorizations(None, None, false)
            .unwrap()
            .items
            .len(),
        7
    );
    // A page of exactly what is left says nothing follows.
    let last = b
        .carrier
        .authorizations_page(
            None,
            None,
            false,
            carrier_page.next_after.as_deref(),
            Some(2),
        )
        .unwrap();
    assert_eq!(last.items.len(), 2);
    assert_eq!(last.next_after, None);
    for (after, limit) in [
        (None, Some(0)),
        (None, Some(1001)),
        (Some("nonsense"), None),
        (Some(".auth_x"), None),
        (Some("-5.auth_x"), None),
        (Some("99999999999999999999.auth_x"), None),
    ] {
        assert_eq!(
            code(
                b.manager
                    .property_authorizations_page(&b.property.id, after, limit)
            ),
            "bad_query",
            "{after:?} {limit:?}"
        );
    }
}

/// The whole activation path: the agent's first start prints its enrolment, the installer
/// files it, the manager approves, the server hands out the bundle, and the agent verifies it
/// itself — against the log key it was provisioned with — before it keeps it. Nothing else gets
/// one: not before approval, not another organisation, not another device, not after revocation.
#[test]
fn an_approved_device_activates_from_the_servers_bundle() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let log_key = server
        .client()
        .raw("GET", "/log/key", None, None)
        .unwrap()
        .body;
    let log_key = String::from_utf8(log_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let agent = doorman_agent::StateDir::new(dir.path().join("agent"));
    let enrolment = agent.init(log_key.trim(), None).unwrap();
    let req = b
        .installer
        .file_installation(&CreateInstallationRequest {
            property: b.property.id.clone(),
            door: "street".to_string(),
            device_id: enrolment.device_id.clone(),
            device_key: enrolment.device_key.clone(),
            notes: String::new(),
            installer: None,
        })
        .unwrap();
    assert_eq!(code(b.installer.activation(&req.id)), "not_approved");
    let approved = b
        .manager
        .approve(&req.id, &ApproveRequest::default())
        .unwrap();
    let index = approved.consent.unwrap().log_index.unwrap();
    server.wait_for_log(index + 1);
    // Another installer may not even know the request exists.
    let (stranger, _) = server.sign_up("installer", "Other Installs", "x@other-installs.example");
    assert_eq!(code(stranger.activation(&req.id)), "not_found");

    let bundle = b.installer.activation(&req.id).unwrap();
    let bytes = serde_json::to_vec(&bundle).unwrap();
    let now = server.clock.now();
    let a = agent.activate(&bytes, now).unwrap();
    assert_eq!(a.property.as_str(), b.property.id);
    assert_eq!(a.door.as_str(), "street");
    assert_eq!(a.consent_index, index);
    assert_eq!(a.config.pulse_ms, 3000);
    assert!(agent.activation(now).unwrap().is_some());
    // The manager gets the same kind of bundle; another device refuses it.
    let again = serde_json::to_vec(&b.manager.activation(&req.id).unwrap()).unwrap();
    let other = doorman_agent::StateDir::new(dir.path().join("other"));
    other.init(log_key.trim(), None).unwrap();
    assert_eq!(
        other.activate(&again, now).unwrap_err().code(),
        "not_this_device"
    );

    // Revoked: no more bundles, and the agent, given the new revocation list, refuses the old.
    b.manager.revoke_consent(&req.id, "device_removed").unwrap();
    assert_eq!(code(b.installer.activation(&req.id)), "not_approved");
    let revocations = b.owner.signed_revocations(&b.property.id).unwrap();
    let mut stale: doorman_proto::ActivationBundleView = bundle;
    stale.revocations = revocations.document;
    assert_eq!(
        agent
            .activate(&serde_json::to_vec(&stale).unwrap(), now)
            .unwrap_err()
            .code(),
        "consent_revoked"
    );
}

#[test]
fn a_handset_key_names_one_driver_of_a_carrier() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let again = CreateDriverRequest {
        name: "Sam's twin".to_string(),
        public_key: b.driver_secret.public().to_string(),
    };
    let e = b.carrier.add_driver(&b.carrier_org, &again).unwrap_err();
    assert_eq!(e.code(), Some("duplicate"), "{e}");
    assert!(e.to_string().contains(&b.driver.id), "{e}");
    let drivers = b.carrier.drivers(&b.carrier_org).unwrap();
    assert_eq!(drivers.items.len(), 1, "nothing stored for the refused one");
    // Once that driver is removed, the handset can be registered again.
    b.carrier
        .remove_driver(&b.carrier_org, &b.driver.id)
        .unwrap();
    b.carrier.add_driver(&b.carrier_org, &again).unwrap();
    // Another carrier may register the same handset: a driver working for both.
    let (other, other_org) = server.sign_up("carrier", "Other Parcel", "admin@other.example");
    other.add_driver(&other_org, &again).unwrap();
}

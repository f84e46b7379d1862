//! One scenario per workflow of the control plane, through the typed client against a server
//! booted in-process (doorman-testkit).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use doorman_entries::PublicEntry;
use doorman_proto::*;
use doorman_testkit::{Building, TestServer};
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

#[test]
fn install_consent_and_authorize_end_to_end() {
    let server = TestServer::start();
    let b = Building::new(&server);
    assert_eq!(b.property.status, "verified");
    assert!(
        b.property.log_index.is_some(),
        "the registration is published"
    );

    // The installer files a request; the manager sees it.
    let (req, _device) = b.file_request("dev-street-1");
    assert_eq!(req.status, "requested");
    assert!(req.log_index.is_some());
    let waiting = b
        .manager
        .installations(Some(&b.property.id), Some("requested"))
        .unwrap();
    assert_eq!(waiting.items.len(), 1);

    // The manager approves: the consent is signed and published.
    let approved = b
        .manager
        .approve(&req.id, &ApproveRequest::default())
        .unwrap();
    assert_eq!(approved.status, "approved");
    let consent = approved.consent.clone().unwrap();
    assert!(consent.log_index.is_some());

    // The carrier is authorized and mints a pass by API.
    let auth = b.authorize(&server);
    assert_eq!(auth.status, "active");
    let pass = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "ACME-1"))
        .unwrap();
    assert_eq!(pass.door, "street");

    let entries = public_entries(&server);
    let types: Vec<&str> = entries.iter().map(|e| e.entry_type().as_str()).collect();
    assert_eq!(
        types,
        [
            "property_registered",
            "installation_requested",
            "consent_granted",
            "carrier_authorized"
        ]
    );
    server.wait_for_log(4);
}

#[test]
fn the_server_restarts_with_everything_in_place() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (req, _) = b.file_request("dev-1");
    let token = b.owner.token().unwrap().to_string();
    server.wait_for_log(2);
    let server = server.restart();
    let owner = server.client().with_token(token);
    let again = owner.installation(&req.id).unwrap();
    assert_eq!(again.status, "requested");
    assert_eq!(owner.property(&b.property.id).unwrap().status, "verified");
    let _ = SignedDuration::ZERO;
}

//! The public pages (issue 6, first part): the home page, the address lookup and the log
//! page, served by the server itself, with their security headers, as a browser gets them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use doorman_client::RawResponse;
use doorman_proto::{ApproveRequest, ClaimPropertyRequest};
use doorman_testkit::{Building, TestServer};

fn get(server: &TestServer, path: &str) -> RawResponse {
    server.client().raw("GET", path, None, None).unwrap()
}

fn html(r: &RawResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn header<'a>(r: &'a RawResponse, name: &str) -> &'a str {
    r.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// What every page must carry.
fn assert_page_headers(r: &RawResponse) {
    assert_eq!(header(r, "content-type"), "text/html; charset=utf-8");
    assert_eq!(
        header(r, "content-security-policy"),
        doorman_server::web::CONTENT_SECURITY_POLICY
    );
    let csp = header(r, "content-security-policy");
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(header(r, "x-frame-options"), "DENY");
    assert_eq!(header(r, "x-content-type-options"), "nosniff");
    assert_eq!(header(r, "cache-control"), "no-store");
    // No script at all, inline or not.
    assert!(!html(r).contains("<script"), "a page has a script");
}

/// Waits until the lookup of `address` shows `needle`.
fn lookup_until(server: &TestServer, address: &str, needle: &str) -> String {
    let path = format!("/lookup?address={}", address.replace(' ', "+"));
    for _ in 0..200 {
        let r = get(server, &path);
        assert_eq!(r.status, 200, "{}", html(&r));
        let page = html(&r);
        if page.contains(needle) {
            assert_page_headers(&r);
            return page;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("the lookup of {address} never showed {needle:?}");
}

#[test]
fn the_public_sees_every_device_and_carrier_at_an_address_with_its_log_entries() {
    let server = TestServer::start();
    let home = get(&server, "/");
    assert_eq!(home.status, 200);
    assert_page_headers(&home);
    assert!(html(&home).contains("<form class=\"lookup\" method=\"get\" action=\"/lookup\""));
    let css = get(&server, "/assets/doorman.css");
    assert_eq!(css.status, 200);
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");

    let b = Building::new(&server);
    let (approved_req, _) = b.file_request("dev-street-7");
    b.manager
        .approve(&approved_req.id, &ApproveRequest::default())
        .unwrap();
    let (waiting, _) = b.file_request("dev-garage-2");
    let auth = b.authorize(&server);
    assert_eq!(auth.status, "active");

    // Any spelling of the address finds it.
    let page = lookup_until(&server, "12 MAIN street,  springfield", &b.carrier_org);
    assert!(page.contains("<h2 id=\"p-"), "{page}");
    assert!(page.contains("12 Main Street, Springfield"));
    assert!(page.contains("ownership verified by"));
    assert!(page.contains("consent signed by the owner"), "{page}");
    assert!(page.contains(&format!("installation requested by {}", b.installer_org)));
    assert!(page.contains("dev-garage-2") && page.contains("requested, not consented"));
    assert!(page.contains(&b.carrier_org), "the carrier is listed");
    // Organisations by name (from the server's directory) beside their logged id.
    assert!(
        page.contains(&format!("Fixit Installers ({})", b.installer_org)),
        "{page}"
    );
    assert!(
        page.contains(&format!("Acme Parcel ({})", b.carrier_org)),
        "{page}"
    );
    assert!(page.contains("authorized by the owner"));
    assert!(
        page.contains("verified"),
        "each entry's status against the log"
    );
    assert!(!page.contains("warning:"), "{page}");
    // Every proof link resolves to a proof.
    let first = page
        .split("href=\"/log/v1/proof/")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let proof = get(&server, &format!("/log/v1/proof/{first}"));
    assert_eq!(proof.status, 200);
    assert!(String::from_utf8_lossy(&proof.body).starts_with("c2sp.org/tlog-proof@v1"));

    // A revoked consent shows as revoked.
    b.owner
        .revoke_consent(&approved_req.id, "device_removed")
        .unwrap();
    let page = lookup_until(
        &server,
        "12 Main Street, Springfield",
        "consent revoked (device_removed)",
    );
    assert!(page.contains("dev-garage-2"));
    let _ = waiting;

    // An address with nothing registered, and bad input: a page that says what to fix.
    let none = html(&get(&server, "/lookup?address=1+Nowhere+Lane"));
    assert!(none.contains("No property is registered at"), "{none}");
    for (path, says) in [
        ("/lookup?address=", "Type the building"),
        ("/lookup?address=+++", "Type the building"),
        (
            &*format!("/lookup?address={}", "x".repeat(300)),
            "longer than 256",
        ),
        ("/lookup?address=12+Main+Street&after=-1", "not valid"),
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 400, "{path}");
        assert_page_headers(&r);
        assert!(html(&r).contains(says), "{path}: {}", html(&r));
    }
    let blank = get(&server, "/lookup");
    assert_eq!(blank.status, 200);
    assert_page_headers(&blank);
}

/// Text someone else wrote (an address) is shown as text, never as markup.
#[test]
fn stored_text_is_escaped_on_the_pages() {
    let server = TestServer::start();
    let operator = server.operator();
    let (owner, org) = server.sign_up("property", "Evil Co", "o@evil.example");
    let address = "<script>alert(1)</script> 9 \"Quote\" Road, Springfield";
    let claimed = owner
        .claim_property(&ClaimPropertyRequest {
            org,
            name: "x".into(),
            address: address.into(),
            time_zone: "Europe/Paris".into(),
            custody: "custodial".into(),
            public_key: None,
        })
        .unwrap();
    operator.verify_property(&claimed.id, "checked").unwrap();
    let page = lookup_until(
        &server,
        "script alert 1 script 9 quote road springfield",
        "Quote",
    );
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62; 9 &#34;Quote&#34; Road"),
        "{page}"
    );
    // And what the visitor typed, reflected in the form, likewise.
    let typed = html(&get(&server, "/lookup?address=%22%3E%3Cimg+src%3Dx%3E"));
    assert!(!typed.contains("\"><img"), "{typed}");
}

#[test]
fn the_log_page_shows_the_checkpoint_and_how_to_verify_it() {
    let server = TestServer::start();
    let _b = Building::new(&server);
    server.wait_for_log(1);
    let r = get(&server, "/log");
    assert_eq!(r.status, 200);
    assert_page_headers(&r);
    let page = html(&r);
    assert!(page.contains(&server.verifier_key), "{page}");
    assert!(page.contains(&server.origin));
    let host = server.url.trim_start_matches("http://");
    assert!(
        page.contains(&format!("doorman log verify --url http://{host}/log --key")),
        "{page}"
    );
    // The size shown is the checkpoint's.
    let cp = get(&server, "/log/checkpoint");
    let size = String::from_utf8_lossy(&cp.body)
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(page.contains(&format!("<strong>{size}</strong>")), "{page}");
}

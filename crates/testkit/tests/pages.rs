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

/// A browser's request, without following redirects: (status, headers, body).
fn http(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    http_bytes(server, method, path, headers, body.as_bytes())
}

/// [`http`] with a body of any bytes (uploads).
fn http_bytes(
    server: &TestServer,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, String) {
    use std::io::{Read as _, Write as _};
    let host = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, rest) = all.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let hs = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, hs, rest.to_string())
}

fn set_cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.split(&marker)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Signs in through the page like a browser; returns the session cookie pair.
fn sign_in_page(server: &TestServer, email: &str) -> String {
    let (status, hs, html) = http(server, "GET", "/signin", &[], "");
    assert_eq!(status, 200);
    let csrf_cookie = set_cookie(&hs, "doorman_csrf").unwrap();
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Strict"));
    let pair = csrf_cookie.split(';').next().unwrap().to_string();
    let csrf = hidden(&html, "csrf");
    let (status, hs, _) = http(
        server,
        "POST",
        "/signin",
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Cookie", pair),
        ],
        &form_body(&[
            ("email", email),
            ("password", doorman_testkit::PASSWORD),
            ("csrf", &csrf),
        ]),
    );
    assert_eq!(status, 303, "sign-in refused");
    assert_eq!(
        hs.iter()
            .find(|(k, _)| k == "location")
            .map(|(_, v)| v.as_str()),
        Some("/app")
    );
    let session = set_cookie(&hs, "doorman_session").unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Lax"),
        "{session}"
    );
    session.split(';').next().unwrap().to_string()
}

#[test]
fn a_manager_signs_in_sees_their_buildings_and_signs_out() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (_req, _) = b.file_request("dev-waiting");
    // Without a session, the overview sends the browser to sign in.
    let (status, hs, _) = http(&server, "GET", "/app", &[], "");
    assert_eq!(status, 303);
    assert!(hs.iter().any(|(k, v)| k == "location" && v == "/signin"));

    // Bad sign-ins: a page that says what went wrong, no session.
    let (_, hs, html) = http(&server, "GET", "/signin", &[], "");
    let pair = set_cookie(&hs, "doorman_csrf")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&html, "csrf");
    let post = |cookie: Option<&str>, fields: &[(&str, &str)]| {
        let mut h = vec![(
            "Content-Type",
            "application/x-www-form-urlencoded".to_string(),
        )];
        if let Some(c) = cookie {
            h.push(("Cookie", c.to_string()));
        }
        http(&server, "POST", "/signin", &h, &form_body(fields))
    };
    let (status, hs, html) = post(
        Some(&pair),
        &[
            ("email", "manager@coop.example"),
            ("password", "not the password"),
            ("csrf", &csrf),
        ],
    );
    assert_eq!(status, 401);
    assert!(
        html.contains("Wrong email or password") && set_cookie(&hs, "doorman_session").is_none()
    );
    assert!(
        html.contains("value=\"manager@coop.example\""),
        "the email is kept"
    );
    // A forged cross-site form: no double-submit cookie, or another token.
    let good = [
        ("email", "manager@coop.example"),
        ("password", doorman_testkit::PASSWORD),
        ("csrf", csrf.as_str()),
    ];
    let (status, hs, html) = post(None, &good);
    assert_eq!(status, 403);
    assert!(
        html.contains("came from another site") && set_cookie(&hs, "doorman_session").is_none()
    );
    let (status, _, _) = post(Some("doorman_csrf=dmc_other"), &good);
    assert_eq!(status, 403);
    let (status, _, html) = post(Some(&pair), &[("csrf", csrf.as_str())]);
    assert_eq!(status, 400);
    assert!(html.contains("Give your email and your password"));

    let session = sign_in_page(&server, "manager@coop.example");
    let (status, _, html) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    assert_eq!(status, 200);
    assert!(html.contains("The Main Street building"), "{html}");
    assert!(html.contains("12 Main Street, Springfield"));
    assert!(
        html.contains("<span class=\"warn\">1</span>"),
        "one request waiting: {html}"
    );
    assert!(!html.contains("<script"));

    // Another building's owner sees only their own.
    let (other, org) = server.sign_up("property", "Other Co", "o@other.example");
    other
        .claim_property(&ClaimPropertyRequest {
            org,
            name: "Elsewhere House".into(),
            address: "3 Far Road, Shelbyville".into(),
            time_zone: "Europe/Paris".into(),
            custody: "custodial".into(),
            public_key: None,
        })
        .unwrap();
    let theirs = sign_in_page(&server, "o@other.example");
    let (_, _, html) = http(&server, "GET", "/app", &[("Cookie", theirs)], "");
    assert!(
        html.contains("Elsewhere House") && !html.contains("Main Street"),
        "{html}"
    );

    // Sign out needs the session's own token; then the session is gone.
    let (_, _, page) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    let token = hidden(&page, "csrf");
    let out = |csrf: &str| {
        http(
            &server,
            "POST",
            "/signout",
            &[
                ("Content-Type", "application/x-www-form-urlencoded".into()),
                ("Cookie", session.clone()),
            ],
            &form_body(&[("csrf", csrf)]),
        )
    };
    assert_eq!(out("forged").0, 403);
    assert_eq!(
        http(&server, "GET", "/app", &[("Cookie", session.clone())], "").0,
        200
    );
    let (status, hs, _) = out(&token);
    assert_eq!(status, 303);
    assert!(
        set_cookie(&hs, "doorman_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let (status, hs, _) = http(&server, "GET", "/app", &[("Cookie", session)], "");
    assert_eq!(status, 303);
    assert!(
        hs.iter()
            .any(|(k, v)| k == "location" && v == "/signin?expired=1")
    );
}

#[test]
fn an_expired_session_is_sent_to_sign_in_again() {
    let server = TestServer::start();
    let _b = Building::new(&server);
    let session = sign_in_page(&server, "owner@coop.example");
    assert_eq!(
        http(&server, "GET", "/app", &[("Cookie", session.clone())], "").0,
        200
    );
    server.clock.advance(jiff::SignedDuration::from_hours(13));
    let (status, hs, _) = http(&server, "GET", "/app", &[("Cookie", session)], "");
    assert_eq!(status, 303);
    assert!(
        hs.iter()
            .any(|(k, v)| k == "location" && v == "/signin?expired=1")
    );
    let (_, _, html) = http(&server, "GET", "/signin?expired=1", &[], "");
    assert!(html.contains("Your session has ended"));
}

#[test]
fn the_property_page_shows_doors_devices_requests_and_carriers_to_its_managers_only() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let agent = doorman_testkit::TestAgent::install(&server, &b, "dev_street", "street");
    agent.wait_online(&b);
    let (_waiting, _) = b.file_request("dev-garage-9");
    let auth = b.authorize(&server);
    b.manager
        .change_service(
            &b.property.id,
            &doorman_proto::ServiceChangeRequest {
                scope: "door".into(),
                target: Some("garage".into()),
                enabled: false,
                expected_seq: None,
            },
        )
        .unwrap();
    let path = format!("/app/properties/{}", b.property.id);
    let session = sign_in_page(&server, "manager@coop.example");
    let (status, _, html) = http(&server, "GET", &path, &[("Cookie", session)], "");
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("The Main Street building"));
    // Doors, with the switch.
    assert!(
        html.contains(
            "<td><code>garage</code></td><td>Garage door</td><td><span class=\"warn\">off</span>"
        ),
        "{html}"
    );
    assert!(html.contains(
        "<td><code>street</code></td><td>Street door</td><td><span class=\"ok\">on</span>"
    ));
    // The device, online, with its consent's public log entry.
    assert!(
        html.contains("<code>dev_street</code>")
            && html.contains("<span class=\"ok\">online</span>")
    );
    assert!(html.contains("(proof)</a>"), "{html}");
    // The waiting request, by the installer's name.
    assert!(html.contains("<code>dev-garage-9</code>") && html.contains("by Fixit Installers"));
    // The carrier, its schedule drawn as a week grid (Mon-Fri and Sat spans).
    assert!(
        html.contains(&format!(
            "<h3><a href=\"/app/authorizations/{}\">Acme Parcel</a>",
            auth.id
        )),
        "{html}"
    );
    assert!(html.contains(&format!("<code>{}</code>", auth.schedule)));
    assert!(html.matches("<rect ").count() >= 6, "{html}");
    assert!(!html.contains("<script") && !html.contains("style=\""));

    // Someone else's owner, or a resident of nowhere here: not found. Without a session: sign in.
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    let (status, _, html) = http(&server, "GET", &path, &[("Cookie", theirs.clone())], "");
    assert_eq!(status, 404, "{html}");
    assert!(!html.contains("Main Street"));
    let (status, _, _) = http(
        &server,
        "GET",
        "/app/properties/prop_nonexistent",
        &[("Cookie", theirs)],
        "",
    );
    assert_eq!(status, 404);
    assert_eq!(http(&server, "GET", &path, &[], "").0, 303);
}

/// A signed-in form post like a browser's.
fn post_form(
    server: &TestServer,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    http(
        server,
        "POST",
        path,
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Cookie", session.to_string()),
        ],
        &form_body(fields),
    )
}

fn location(headers: &[(String, String)]) -> Option<&str> {
    headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_manager_approves_and_rejects_installation_requests_from_their_pages() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (first, _) = b.file_request("dev-first");
    let (second, _) = b.file_request("dev-second");
    b.installer
        .upload_evidence(&first.id, "image/png", b"\x89PNG\r\n\x1a\nthe panel")
        .unwrap();
    let session = sign_in_page(&server, "manager@coop.example");
    let page_path = format!("/app/installations/{}", first.id);

    // The property page links each waiting request to its page.
    let (_, _, html) = http(
        &server,
        "GET",
        &format!("/app/properties/{}", b.property.id),
        &[("Cookie", session.clone())],
        "",
    );
    assert!(html.contains(&format!("href=\"{page_path}\"")), "{html}");

    let (status, _, html) = http(
        &server,
        "GET",
        &page_path,
        &[("Cookie", session.clone())],
        "",
    );
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Relay wired to the panel"),
        "the installer's notes"
    );
    assert!(
        html.contains(&format!(
            "<img src=\"/api/v1/installations/{}/evidence/1\"",
            first.id
        )),
        "{html}"
    );
    assert!(html.contains("action=\"/app/installations/") && html.contains("/approve\""));
    let csrf = hidden(&html, "csrf");
    let approve = format!("{page_path}/approve");
    let status_of = |id: &str| b.manager.installation(id).unwrap().status;

    // Refused forms do nothing: a forged token, a note too long (kept to fix), a non-form body.
    let (status, _, html) = post_form(&server, &session, &approve, &[("csrf", "forged")]);
    assert_eq!(status, 403);
    assert!(html.contains("Nothing was done"));
    let long = "n".repeat(3000);
    let (status, _, html) = post_form(
        &server,
        &session,
        &approve,
        &[("csrf", &csrf), ("note", &long)],
    );
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("note: at most 2048 bytes"), "{html}");
    assert!(html.contains(&long), "what was typed is kept");
    let (status, _, _) = http(
        &server,
        "POST",
        &approve,
        &[
            ("Content-Type", "application/json".into()),
            ("Cookie", session.clone()),
        ],
        "{}",
    );
    assert_eq!(status, 400);
    assert_eq!(status_of(&first.id), "requested");

    // The installer follows the request's status, but can't decide it.
    let installer = sign_in_page(&server, "admin@fixit.example");
    let (status, _, html) = http(
        &server,
        "GET",
        &page_path,
        &[("Cookie", installer.clone())],
        "",
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("requested") && !html.contains("/approve\""));
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", installer.clone())], "");
    let theirs = hidden(&overview, "csrf");
    let (status, _, html) = post_form(&server, &installer, &approve, &[("csrf", &theirs)]);
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("your role does not allow this"), "{html}");
    assert_eq!(status_of(&first.id), "requested");

    // Approved: back to the request's page, which says so; a second approval says why not.
    let (status, hs, _) = post_form(
        &server,
        &session,
        &approve,
        &[("csrf", &csrf), ("note", "checked on site")],
    );
    assert_eq!(status, 303);
    assert_eq!(location(&hs), Some(&*format!("{page_path}?done=approved")));
    assert_eq!(status_of(&first.id), "approved");
    let (_, _, html) = http(
        &server,
        "GET",
        &format!("{page_path}?done=approved"),
        &[("Cookie", session.clone())],
        "",
    );
    assert!(html.contains("Approved: the consent is signed"), "{html}");
    assert!(html.contains("checked on site") && !html.contains("/approve\""));
    let (status, _, html) = post_form(&server, &session, &approve, &[("csrf", &csrf)]);
    assert_eq!(status, 409, "{html}");
    assert!(html.contains("Not done:"), "{html}");

    // Rejecting: a reason that is not a code (or is markup) says what to fix and stores nothing.
    let reject = format!("/app/installations/{}/reject", second.id);
    for bad in ["Not A Code", "<script>alert(1)</script>", ""] {
        let (status, _, html) = post_form(
            &server,
            &session,
            &reject,
            &[("csrf", &csrf), ("reason", ""), ("reason_other", bad)],
        );
        assert_eq!(status, 422, "{bad}: {html}");
        assert!(html.contains("reason: a code of 1 to 64"), "{html}");
        assert!(!html.contains("<script>alert"), "markup is escaped");
        assert_eq!(status_of(&second.id), "requested");
    }
    let (status, hs, _) = post_form(
        &server,
        &session,
        &reject,
        &[
            ("csrf", &csrf),
            ("reason", "wrong_door"),
            ("reason_other", ""),
        ],
    );
    assert_eq!(status, 303);
    assert!(location(&hs).unwrap().ends_with("?done=rejected"));
    let done = b.manager.installation(&second.id).unwrap();
    assert_eq!(done.status, "rejected");

    // Someone else's owner: not found, and nothing done.
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    assert_eq!(
        http(
            &server,
            "GET",
            &page_path,
            &[("Cookie", theirs.clone())],
            ""
        )
        .0,
        404
    );
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", theirs.clone())], "");
    let token = hidden(&overview, "csrf");
    let (status, _, _) = post_form(
        &server,
        &theirs,
        &format!("/app/installations/{}/reject", first.id),
        &[("csrf", &token), ("reason", "wrong_door")],
    );
    assert_eq!(status, 404);
    assert_eq!(status_of(&first.id), "approved");
}

#[test]
fn the_switch_is_flipped_from_the_property_page_after_a_confirmation() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let _auth = b.authorize(&server);
    let session = sign_in_page(&server, "manager@coop.example");
    let property_path = format!("/app/properties/{}", b.property.id);
    let (_, _, html) = http(
        &server,
        "GET",
        &property_path,
        &[("Cookie", session.clone())],
        "",
    );
    let link = format!("{property_path}/switch?scope=door&amp;target=garage&amp;enabled=false");
    assert!(html.contains(&link), "{html}");
    assert!(html.contains("scope=carrier&amp;target=") && html.contains("scope=property"));

    // The link shows a confirmation; nothing changes until it is confirmed.
    let confirm = link.replace("&amp;", "&");
    let (status, _, html) = http(&server, "GET", &confirm, &[("Cookie", session.clone())], "");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Switch delivery access at the Garage door (garage) off?"),
        "{html}"
    );
    assert!(html.contains("service_disabled") && html.contains("24 hours"));
    assert!(
        b.manager
            .service(&b.property.id)
            .unwrap()
            .disabled_doors
            .is_empty()
    );
    let csrf = hidden(&html, "csrf");
    let seq = hidden(&html, "seq");
    let switch = format!("{property_path}/switch");
    let fields = |seq: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("scope", "door".to_string()),
            ("target", "garage".to_string()),
            ("enabled", "false".to_string()),
            ("seq", seq.to_string()),
        ]
    };
    let post = |f: Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&server, &session, &switch, &pairs)
    };

    // Someone changed the switch meanwhile: said, and the page is drawn again as it stands.
    b.owner
        .change_service(
            &b.property.id,
            &doorman_proto::ServiceChangeRequest {
                scope: "door".into(),
                target: Some("street".into()),
                enabled: false,
                expected_seq: None,
            },
        )
        .unwrap();
    let (status, _, html) = post(fields(&seq));
    assert_eq!(status, 409, "{html}");
    assert!(
        html.contains("someone changed the switch meanwhile"),
        "{html}"
    );
    let fresh = hidden(&html, "seq");
    assert_ne!(fresh, seq);
    let service = b.manager.service(&b.property.id).unwrap();
    assert_eq!(service.disabled_doors, ["street"]);

    // Bad fields: a page that says what to fix.
    let mut bad = fields(&fresh);
    bad[1].1 = "everything".into();
    let (status, _, html) = post(bad);
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("scope: property, door or carrier"), "{html}");
    let mut bad = fields(&fresh);
    bad[2].1 = "<b>cellar</b>".into();
    let (status, _, html) = post(bad);
    assert!((400..500).contains(&status), "{status}: {html}");
    assert!(!html.contains("<b>cellar"));
    let (status, _, html) = post(fields("not a number"));
    assert_eq!(status, 422);
    assert!(html.contains("seq: reload the page"), "{html}");

    let (status, hs, _) = post(fields(&fresh));
    assert_eq!(status, 303);
    assert_eq!(
        location(&hs),
        Some(&*format!("{property_path}?done=switched"))
    );
    let service = b.manager.service(&b.property.id).unwrap();
    assert_eq!(service.disabled_doors, ["garage", "street"]);
    let (_, _, html) = http(
        &server,
        "GET",
        &format!("{property_path}?done=switched"),
        &[("Cookie", session.clone())],
        "",
    );
    assert!(html.contains("Done: the switch is changed"));
    assert!(
        html.contains("scope=door&amp;target=garage&amp;enabled=true"),
        "{html}"
    );

    // The whole building, then back on.
    for enabled in ["false", "true"] {
        let (_, _, html) = http(
            &server,
            "GET",
            &format!("{switch}?scope=property&enabled={enabled}"),
            &[("Cookie", session.clone())],
            "",
        );
        let (status, _, _) = post(vec![
            ("csrf", csrf.clone()),
            ("scope", "property".into()),
            ("target", String::new()),
            ("enabled", enabled.into()),
            ("seq", hidden(&html, "seq")),
        ]);
        assert_eq!(status, 303);
        assert_eq!(
            b.manager.service(&b.property.id).unwrap().property_disabled,
            enabled == "false"
        );
    }

    // Another building's owner can't see the confirmation nor post the change.
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    assert_eq!(
        http(&server, "GET", &confirm, &[("Cookie", theirs.clone())], "").0,
        404
    );
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", theirs.clone())], "");
    let token = hidden(&overview, "csrf");
    let (status, _, _) = post_form(
        &server,
        &theirs,
        &switch,
        &[
            ("csrf", &token),
            ("scope", "property"),
            ("enabled", "false"),
            ("seq", "1"),
        ],
    );
    assert_eq!(status, 404);
    assert!(!b.manager.service(&b.property.id).unwrap().property_disabled);
}

/// Opens a page's event stream like a browser's EventSource; returns the socket, headers read.
fn open_feed(server: &TestServer, session: &str, path: &str) -> (std::net::TcpStream, String) {
    use std::io::{Read as _, Write as _};
    let host = server.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\nCookie: {session}\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    // Reads time out after 200 ms: 50 of them are 10 s.
    let mut tries = 0;
    while !String::from_utf8_lossy(&got).contains("\r\n\r\n") {
        tries += 1;
        assert!(tries < 50, "no answer from the feed");
        let mut buf = [0u8; 4096];
        if let Ok(n) = s.read(&mut buf) {
            got.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
    }
    (s, String::from_utf8_lossy(&got).into_owned())
}

/// Reads the stream until it has shown `needle` (or fails after 10 s).
fn feed_until(s: &mut std::net::TcpStream, seen: &mut String, needle: &str) {
    use std::io::Read as _;
    let mut tries = 0;
    while !seen.contains(needle) {
        tries += 1;
        assert!(tries < 50, "the feed never showed {needle:?}: {seen}");
        let mut buf = [0u8; 4096];
        if let Ok(n) = s.read(&mut buf) {
            seen.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or_default()));
        }
    }
}

#[test]
fn the_access_log_page_filters_pages_exports_and_follows_the_live_feed() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = doorman_testkit::TestAgent::install(&server, &b, "dev_street", "street");
    agent.wait_online(&b);
    let session = sign_in_page(&server, "manager@coop.example");
    let log = format!("/app/properties/{}/log", b.property.id);
    let get_page = |path: &str| http(&server, "GET", path, &[("Cookie", session.clone())], "");

    // The live feed, opened before anything happens.
    let (mut feed, head) = open_feed(
        &server,
        &session,
        &format!("/app/properties/{}/feed", b.property.id),
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/event-stream"), "{head}");
    let mut seen = String::new();

    let pass = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "D-77"))
        .unwrap()
        .token;
    let allowed =
        doorman_testkit::TestAgent::unlock_online(&server, &b, "street", &pass, &b.driver_secret)
            .unwrap();
    assert_eq!(allowed.result, "allow");
    feed_until(&mut feed, &mut seen, "event: entry");
    feed_until(&mut feed, &mut seen, "\"delivery\":\"D-77\"");
    assert!(
        seen.contains("\"allowed\":true") && seen.contains("\"carrier\":\"Acme Parcel\""),
        "{seen}"
    );
    let replayed =
        doorman_testkit::TestAgent::unlock_online(&server, &b, "street", &pass, &b.driver_secret)
            .unwrap();
    assert_eq!(replayed.result, "deny");
    feed_until(&mut feed, &mut seen, "\"reason\":\"replayed\"");

    // The page: newest first, by carrier name, with the reason and the log link once logged.
    let mut html = String::new();
    for _ in 0..200 {
        let (status, _, page) = get_page(&log);
        assert_eq!(status, 200, "{page}");
        html = page;
        if html.matches("href=\"/api/v1/properties/").count() >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(html.contains("<script src=\"/assets/feed.js\" defer></script>"));
    let denied = html
        .find("<code>replayed</code>")
        .expect("the denial is listed");
    let first_allowed = html.find("<span class=\"ok\">allowed</span>").unwrap();
    assert!(denied < first_allowed, "newest first");
    assert!(html.contains("<td>Acme Parcel</td>") && html.contains("<td>D-77</td>"));
    assert!(
        html.contains("/access-log/") && html.contains("/proof\">#"),
        "{html}"
    );
    // Times are the building's (Europe/Paris), not UTC.
    assert!(html.contains("Times are in Europe/Paris"));

    // Filters.
    let (_, _, denials) = get_page(&format!("{log}?result=deny&door=&carrier="));
    assert!(
        denials.contains("<code>replayed</code>")
            && !denials.contains("<span class=\"ok\">allowed</span>")
    );
    assert!(
        denials.contains("<option value=\"deny\" selected>"),
        "the filter is kept"
    );
    let (_, _, garage) = get_page(&format!("{log}?door=garage"));
    assert!(garage.contains("No entry matches this filter"), "{garage}");
    let (_, _, carrier) = get_page(&format!("{log}?carrier={}", b.carrier_org));
    assert!(
        carrier.contains("<span class=\"ok\">allowed</span>") && carrier.contains("<td>D-77</td>")
    );
    let today = server
        .clock
        .now()
        .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Paris").unwrap())
        .date();
    let (_, _, dated) = get_page(&format!("{log}?from={today}&to={today}"));
    assert_eq!(
        dated.matches("<td><code>dev_street</code></td>").count(),
        2,
        "{dated}"
    );
    let (_, _, before) = get_page(&format!("{log}?to={}", today.yesterday().unwrap()));
    assert!(before.contains("No entry matches"));
    // Bad filters: the page says what to fix; markup typed in stays text.
    let (status, _, bad) = get_page(&format!("{log}?from=2026-13-01"));
    assert_eq!(status, 200);
    assert!(
        bad.contains("Can't filter:") && bad.contains("from: a date as YYYY-MM-DD"),
        "{bad}"
    );
    let (_, _, bad) = get_page(&format!("{log}?result=maybe"));
    assert!(bad.contains("result: allow or deny"), "{bad}");
    let (_, _, marked) = get_page(&format!("{log}?unit=%3Cscript%3Ealert(1)%3C%2Fscript%3E"));
    assert!(
        !marked.contains("<script>alert") && marked.contains("&#60;script&#62;alert(1)"),
        "{marked}"
    );
    let (status, _, _) = get_page(&format!("{log}?before=not-a-cursor"));
    assert_eq!(status, 200);

    // Exports: everything the filter matches, with the signed events in JSON Lines.
    let (status, hs, csv) = get_page(&format!("{log}/export?format=csv"));
    assert_eq!(status, 200);
    assert!(hs.iter().any(
        |(k, v)| k == "content-disposition" && v.contains("attachment; filename=\"access-log-")
    ));
    let body = dechunk(&csv);
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "{body}");
    assert!(lines[0].starts_with("device,seq,door,at,result,reason"));
    assert!(
        lines[1].contains(",allow,") && lines[2].contains(",deny,replayed,"),
        "{body}"
    );
    let (_, _, jsonl) = get_page(&format!("{log}/export?format=jsonl&result=deny"));
    let body = dechunk(&jsonl);
    assert_eq!(body.lines().count(), 1, "{body}");
    let v: serde_json::Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(v["reason"], "replayed");
    assert!(v["event"].as_str().unwrap().len() > 100, "the signed event");
    let (status, _, html) = get_page(&format!("{log}/export?format=xml"));
    assert_eq!(status, 400);
    assert!(html.contains("format: csv or jsonl"));

    // Paging: 60 more entries make two pages; the older page links back to the newest.
    let store = &server.api().devices.store;
    let base = server.clock.now();
    let rows: Vec<doorman_store::DeviceEvent> = (1..=60u64)
        .map(|i| doorman_store::DeviceEvent {
            device: doorman_core::DeviceId::new("dev_street").unwrap(),
            seq: 1000 + i,
            property: doorman_core::PropertyId::new(&b.property.id).unwrap(),
            door: "street".into(),
            at: base + jiff::SignedDuration::from_secs(i as i64),
            allowed: false,
            reason: Some("expired".into()),
            carrier: Some(b.carrier_org.clone()),
            unit: Some("4B".into()),
            delivery: Some(format!("P-{i:03}")),
            pass: None,
            received_at: base,
            signed: format!("paging test {i}").into_bytes(),
            log_index: None,
        })
        .collect();
    store.record(rows).unwrap();
    let (_, _, first) = get_page(&format!("{log}?unit=4B"));
    assert_eq!(first.matches("<td>P-").count(), 50);
    assert!(first.contains("<td>P-060</td>") && !first.contains("<td>P-010</td>"));
    let older = first
        .split("<a href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.contains("before="))
        .expect("an older page")
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    assert!(
        older.contains("unit=4B"),
        "the filter carries over: {older}"
    );
    let (_, _, second) = get_page(&older);
    assert_eq!(second.matches("<td>P-").count(), 10, "{second}");
    assert!(second.contains("<td>P-001</td>") && second.contains("← Newest"));
    assert!(!second.contains("before="), "no page after the last");
    // The overview counts today's entries and denials (the building's day).
    let (_, _, overview) = get_page("/app");
    assert!(
        overview.contains(">1 entries</a>") && overview.contains(">61 denied</a>"),
        "{overview}"
    );
    // A revoked authorization is listed on the property page.
    b.manager
        .revoke_authorization(&auth.id, "contract_ended")
        .unwrap();
    let (_, _, property) = get_page(&format!("/app/properties/{}", b.property.id));
    assert!(
        property.contains(&format!(
            "<td>authorization</td><td><code>{}</code></td><td><code>contract_ended</code></td>",
            auth.id
        )),
        "{property}"
    );

    // Not for another building's owner (page, export and feed alike).
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    for path in [
        log.clone(),
        format!("{log}/export?format=csv"),
        format!("/app/properties/{}/feed", b.property.id),
    ] {
        let (status, _, _) = http(&server, "GET", &path, &[("Cookie", theirs.clone())], "");
        assert_eq!(status, 404, "{path}");
    }
    assert_eq!(http(&server, "GET", &log, &[], "").0, 303);
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(raw: &str) -> String {
    let mut out = String::new();
    let mut rest = raw;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return out;
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return raw.to_string();
        };
        if n == 0 {
            return out;
        }
        out.push_str(after.get(..n).unwrap_or_default());
        rest = after.get(n + 2..).unwrap_or_default();
    }
}

#[test]
fn the_reports_chart_the_last_thirty_days_for_the_buildings_managers() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let session = sign_in_page(&server, "manager@coop.example");
    let path = format!("/app/properties/{}/reports", b.property.id);
    let (status, _, html) = http(&server, "GET", &path, &[("Cookie", session.clone())], "");
    assert_eq!(status, 200, "{html}");
    assert_eq!(html.matches("Nothing to draw yet").count(), 3, "{html}");

    // Entries and denials over the last days, and one older than 30 days (left out).
    let now = server.clock.now();
    let event =
        |seq: u64, days_ago: i64, allowed: bool, reason: Option<&str>| doorman_store::DeviceEvent {
            device: doorman_core::DeviceId::new("dev_street").unwrap(),
            seq,
            property: doorman_core::PropertyId::new(&b.property.id).unwrap(),
            door: "street".into(),
            at: now - jiff::SignedDuration::from_hours(24 * days_ago),
            allowed,
            reason: reason.map(str::to_string),
            carrier: Some(b.carrier_org.clone()),
            unit: Some("4B".into()),
            delivery: Some(format!("R-{seq}")),
            pass: None,
            received_at: now,
            signed: format!("reports test {seq}").into_bytes(),
            log_index: None,
        };
    let rows = vec![
        event(1, 0, true, None),
        event(2, 1, true, None),
        event(3, 1, true, None),
        event(4, 2, false, Some("outside_schedule")),
        event(5, 2, false, Some("expired")),
        event(6, 3, false, Some("expired")),
        event(7, 45, true, None),
    ];
    server.api().devices.store.record(rows).unwrap();
    let (status, _, html) = http(&server, "GET", &path, &[("Cookie", session)], "");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Entries per day, by carrier")
            && html.contains("3 entries in the last 30 days"),
        "{html}"
    );
    assert!(html.contains("Entries by hour of day") && html.contains("busiest hour"));
    assert!(html.contains("3 denials in the last 30 days"));
    assert!(
        html.contains("<td>expired</td><td>2</td>")
            && html.contains("<td>outside_schedule</td><td>1</td>"),
        "{html}"
    );
    assert!(html.contains("<li><svg width=\"12\" height=\"12\" aria-hidden=\"true\"><rect width=\"12\" height=\"12\" fill=\"#0072B2\"/></svg> Acme Parcel</li>"), "{html}");
    // Two days with entries, one hour, two reasons.
    assert_eq!(html.matches("<rect x=").count(), 5, "{html}");
    assert!(!html.contains("<script") && !html.contains("style=\""));

    // Not for another building's owner; sign in first.
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    assert_eq!(
        http(&server, "GET", &path, &[("Cookie", theirs)], "").0,
        404
    );
    assert_eq!(http(&server, "GET", &path, &[], "").0, 303);
}

#[test]
fn a_resident_sees_their_deliveries_and_the_buildings_entries_with_drivers_as_pseudonyms() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = doorman_testkit::TestAgent::install(&server, &b, "dev_street", "street");
    agent.wait_online(&b);
    let inv = b
        .manager
        .invite_resident(&b.property.id, "res@coop.example", "4B")
        .unwrap();
    let _resident = server.accept(&inv, "res@coop.example");
    // One delivery to 4B, one to 5A, and a refused attempt.
    for (unit, delivery) in [("4B", "D-4B"), ("5A", "D-5A")] {
        let mut req = b.pass_request(&server, delivery);
        req.unit = unit.to_string();
        let pass = b.carrier.mint_pass(&auth.id, &req).unwrap().token;
        let r = doorman_testkit::TestAgent::unlock_online(
            &server,
            &b,
            "street",
            &pass,
            &b.driver_secret,
        )
        .unwrap();
        assert_eq!(r.result, "allow");
        if unit == "5A" {
            let again = doorman_testkit::TestAgent::unlock_online(
                &server,
                &b,
                "street",
                &pass,
                &b.driver_secret,
            )
            .unwrap();
            assert_eq!(again.result, "deny");
        }
    }
    let session = sign_in_page(&server, "res@coop.example");
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    let path = format!("/app/properties/{}/deliveries", b.property.id);
    assert!(
        overview.contains("Your home") && overview.contains(&path),
        "{overview}"
    );
    assert!(!overview.contains(&format!("href=\"/app/properties/{}\"", b.property.id)));

    let mut html = String::new();
    for _ in 0..200 {
        html = http(&server, "GET", &path, &[("Cookie", session.clone())], "").2;
        if html.matches("<td>Acme Parcel</td>").count() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(html.contains("Deliveries to your unit, 4B"), "{html}");
    let (mine, building) = html.split_once("The building's delivery entries").unwrap();
    assert!(
        mine.contains("<td>D-4B</td>") && !mine.contains("D-5A"),
        "{mine}"
    );
    // The building's entries: both deliveries, not the refusal, no other unit's reference.
    assert_eq!(
        building.matches("<td>Acme Parcel</td>").count(),
        2,
        "{building}"
    );
    assert!(!building.contains("D-5A") && !building.contains("5A"));
    // The driver as a pseudonym, the same in both lists; never the key or the name.
    let pseudonym = mine
        .split("<td>Driver ")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap();
    assert_eq!(pseudonym.len(), 6, "{mine}");
    assert_eq!(
        building
            .matches(&format!("<td>Driver {pseudonym}</td>"))
            .count(),
        2
    );
    let key = b.driver_secret.public().to_string();
    assert!(!html.contains(&key) && !html.contains("Sam Driver"));
    assert!(!html.contains("<script"));

    // Not the manager's pages; not another building's.
    for p in [
        format!("/app/properties/{}", b.property.id),
        format!("/app/properties/{}/log", b.property.id),
        format!("/app/properties/{}/feed", b.property.id),
        format!("/app/properties/{}/reports", b.property.id),
    ] {
        let (status, _, _) = http(&server, "GET", &p, &[("Cookie", session.clone())], "");
        assert_eq!(status, 404, "{p}");
    }
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    assert_eq!(
        http(&server, "GET", &path, &[("Cookie", theirs)], "").0,
        404
    );
}

/// A multipart/form-data body: text fields, then files as (name, file name, bytes).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "doormanTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (k, file, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{file}\"\r\nContent-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn an_installer_files_a_request_with_photos_and_bad_forms_store_nothing() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let session = sign_in_page(&server, "admin@fixit.example");
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    assert!(
        overview.contains("href=\"/app/installations/new\""),
        "{overview}"
    );
    let (status, _, form) = http(
        &server,
        "GET",
        &format!("/app/installations/new?property={}", b.property.id),
        &[("Cookie", session.clone())],
        "",
    );
    assert_eq!(status, 200, "{form}");
    assert!(
        form.contains(&format!("value=\"{}\"", b.property.id)),
        "prefilled"
    );
    assert!(form.contains("enctype=\"multipart/form-data\""));
    let csrf = hidden(&form, "csrf");
    let device = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng)
        .public()
        .to_string();
    let png: &[u8] = b"\x89PNG\r\n\x1a\n a photo of the panel";
    let post = |fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]| {
        let (ct, body) = multipart(fields, files);
        http_bytes(
            &server,
            "POST",
            "/app/installations",
            &[("Content-Type", ct), ("Cookie", session.clone())],
            &body,
        )
    };
    let good = |door: &'static str, notes: &'static str| {
        vec![
            ("csrf", csrf.as_str()),
            ("property", b.property.id.as_str()),
            ("door", door),
            ("device_id", "dev-new-1"),
            ("device_key", device.as_str()),
            ("notes", notes),
        ]
    };
    let requests = || b.installer.installations(None, None).unwrap().items.len();
    let before = requests();

    // Refused forms: what to fix, what was typed kept, nothing stored.
    let text_file: &[u8] = b"this is not a photo";
    for (fields, files, says) in [
        (
            good("street", "n"),
            vec![("photos", "panel.jpg", text_file)],
            "panel.jpg&#34; is not a JPEG, PNG, WebP or HEIC photo",
        ),
        (
            good("cellar", "n"),
            vec![("photos", "panel.png", png)],
            "door: the property has no door",
        ),
        (
            good("street", "n"),
            vec![("photos", "a.png", png); 6],
            "at most 5 photos",
        ),
    ] {
        let (status, _, html) = post(&fields, &files);
        assert!((400..500).contains(&status), "{status}: {html}");
        assert!(html.contains(says), "{says}: {html}");
        assert!(
            html.contains("value=\"dev-new-1\""),
            "typed fields are kept"
        );
        assert_eq!(requests(), before, "nothing stored for: {says}");
    }
    // More than the whole form may hold: refused once the limit is read, nothing stored.
    {
        use std::io::{Read as _, Write as _};
        let (ct, _) = multipart(&[], &[]);
        let boundary = ct.split("boundary=").nth(1).unwrap().to_string();
        let mut head = Vec::new();
        head.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n"
            )
            .as_bytes(),
        );
        head.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"huge.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
        let total = 60 * 1024 * 1024;
        let host = server.url.trim_start_matches("http://");
        let mut sock = std::net::TcpStream::connect(host).unwrap();
        write!(
            sock,
            "POST /app/installations HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {ct}\r\nCookie: {session}\r\nContent-Length: {total}\r\n\r\n"
        )
        .unwrap();
        sock.write_all(&head).unwrap();
        // The server may stop reading (and answer) before all of it is sent.
        let chunk = vec![0u8; 1024 * 1024];
        let mut sent = head.len();
        while sent < total {
            if sock.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        let mut answer = String::new();
        let _ = sock.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{}",
            answer.get(..300).unwrap_or(&answer)
        );
        assert!(answer.contains("the upload is too large"), "{answer}");
        assert_eq!(requests(), before);
    }
    let huge = vec![0xFFu8, 0xD8, 0xFF]
        .into_iter()
        .chain(std::iter::repeat_n(0u8, 10 * 1024 * 1024 + 1))
        .collect::<Vec<u8>>();
    let (status, _, html) = post(&good("street", "n"), &[("photos", "big.jpg", &huge)]);
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("larger than 10 MiB"), "{html}");
    let mut forged = good("street", "n");
    forged[0].1 = "forged";
    let (status, _, _) = post(&forged, &[]);
    assert_eq!(status, 403);
    let (status, _, html) = http(
        &server,
        "POST",
        "/app/installations",
        &[
            ("Content-Type", "application/x-www-form-urlencoded".into()),
            ("Cookie", session.clone()),
        ],
        "csrf=x",
    );
    assert_eq!(status, 400, "{html}");
    assert_eq!(requests(), before);

    // Filed, with its photo (a JPEG sent as any type is taken by its bytes), markup as text.
    let (status, hs, _) = post(
        &good("street", "<script>alert(1)</script> wired to the panel"),
        &[("photos", "panel.png", png)],
    );
    assert_eq!(status, 303);
    let to = location(&hs).unwrap().to_string();
    assert!(to.ends_with("?done=filed"), "{to}");
    assert_eq!(requests(), before + 1);
    let (_, _, page) = http(&server, "GET", &to, &[("Cookie", session.clone())], "");
    assert!(page.contains("Filed: the building"), "{page}");
    assert!(
        page.contains("&#60;script&#62;alert(1)&#60;/script&#62; wired")
            && !page.contains("<script>alert")
    );
    assert!(page.contains("image/png"), "sniffed from the bytes: {page}");
    // More photos from the request's page.
    let id = to
        .trim_start_matches("/app/installations/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let csrf2 = hidden(&page, "csrf");
    let (ct, body) = multipart(&[("csrf", &csrf2)], &[("photos", "more.png", png)]);
    let (status, hs, _) = http_bytes(
        &server,
        "POST",
        &format!("/app/installations/{id}/photos"),
        &[("Content-Type", ct), ("Cookie", session.clone())],
        &body,
    );
    assert_eq!(status, 303);
    assert!(location(&hs).unwrap().ends_with("?done=photos"));
    assert_eq!(b.manager.installation(&id).unwrap().evidence.len(), 2);

    // The overview lists it; a manager of the building can't file; another installer can't add photos.
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    assert!(
        overview.contains(&format!("/app/installations/{id}")) && overview.contains("requested")
    );
    let manager = sign_in_page(&server, "manager@coop.example");
    let (_, _, mform) = http(
        &server,
        "GET",
        "/app/installations/new",
        &[("Cookie", manager.clone())],
        "",
    );
    let mcsrf = hidden(&mform, "csrf");
    let mut fields = good("street", "n");
    fields[0].1 = mcsrf.as_str();
    fields[3].1 = "dev-by-manager";
    let (ct, body) = multipart(&fields, &[]);
    let (status, _, html) = http_bytes(
        &server,
        "POST",
        "/app/installations",
        &[("Content-Type", ct), ("Cookie", manager)],
        &body,
    );
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("only installers file"), "{html}");
    assert_eq!(requests(), before + 1);
}

#[test]
fn a_carrier_sees_its_authorizations_passes_and_what_its_passes_met() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let auth = b.authorize(&server);
    let agent = doorman_testkit::TestAgent::install(&server, &b, "dev_street", "street");
    agent.wait_online(&b);
    let pass = b
        .carrier
        .mint_pass(&auth.id, &b.pass_request(&server, "ACME-1"))
        .unwrap()
        .token;
    for expect in ["allow", "deny"] {
        let r = doorman_testkit::TestAgent::unlock_online(
            &server,
            &b,
            "street",
            &pass,
            &b.driver_secret,
        )
        .unwrap();
        assert_eq!(r.result, expect);
    }
    let session = sign_in_page(&server, "admin@acme.example");
    let (_, _, overview) = http(&server, "GET", "/app", &[("Cookie", session.clone())], "");
    let path = format!("/app/authorizations/{}", auth.id);
    assert!(
        overview.contains("Your authorizations") && overview.contains(&path),
        "{overview}"
    );
    assert!(overview.contains("The Main Street building") && overview.contains("active"));

    let mut html = String::new();
    for _ in 0..200 {
        html = http(&server, "GET", &path, &[("Cookie", session.clone())], "").2;
        if html.contains("<td><code>replayed</code></td><td>1</td>") {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(html.contains("<strong>1</strong> entries"), "{html}");
    assert!(
        html.contains("<td><code>replayed</code></td><td>1</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td>ACME-1</td>") && html.contains("<td>4B</td>"),
        "the pass minted: {html}"
    );
    assert!(html.contains(&format!("<code>{}</code>", auth.schedule)));
    assert!(html.matches("<rect ").count() >= 6, "the week grid: {html}");
    assert!(html.contains("<span class=\"warn\">denied</span> <code>replayed</code>"));

    // The building's manager sees it too; another carrier, and a resident, don't.
    let manager = sign_in_page(&server, "manager@coop.example");
    assert_eq!(
        http(&server, "GET", &path, &[("Cookie", manager)], "").0,
        200
    );
    let _bolt = server.sign_up("carrier", "Bolt", "admin@bolt.example");
    let bolt = sign_in_page(&server, "admin@bolt.example");
    let (_, _, theirs) = http(&server, "GET", "/app", &[("Cookie", bolt.clone())], "");
    assert!(
        theirs.contains("No building has authorized your carrier yet"),
        "{theirs}"
    );
    assert_eq!(http(&server, "GET", &path, &[("Cookie", bolt)], "").0, 404);
    let inv = b
        .manager
        .invite_resident(&b.property.id, "res@coop.example", "4B")
        .unwrap();
    let _r = server.accept(&inv, "res@coop.example");
    let resident = sign_in_page(&server, "res@coop.example");
    assert_eq!(
        http(&server, "GET", &path, &[("Cookie", resident)], "").0,
        404
    );
}

#[test]
fn a_manager_invites_and_removes_residents_and_the_invited_accept_on_a_page() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let session = sign_in_page(&server, "manager@coop.example");
    let path = format!("/app/properties/{}/residents", b.property.id);
    let (status, _, html) = http(&server, "GET", &path, &[("Cookie", session.clone())], "");
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("No resident yet") && html.contains("<option value=\"5A\""),
        "{html}"
    );
    let csrf = hidden(&html, "csrf");

    // Bad input: said, kept, nothing made.
    let (status, _, html) = post_form(
        &server,
        &session,
        &path,
        &[("csrf", &csrf), ("email", "not an email"), ("unit", "4B")],
    );
    assert!((400..500).contains(&status), "{status}: {html}");
    assert!(
        html.contains("Not invited:") && html.contains("value=\"not an email\""),
        "{html}"
    );
    let (status, _, html) = post_form(
        &server,
        &session,
        &path,
        &[
            ("csrf", &csrf),
            ("email", "r@coop.example"),
            ("unit", "99Z"),
        ],
    );
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("not a unit of this property"));
    assert_eq!(
        post_form(
            &server,
            &session,
            &path,
            &[
                ("csrf", "forged"),
                ("email", "r@coop.example"),
                ("unit", "4B")
            ]
        )
        .0,
        403
    );

    let (status, _, html) = post_form(
        &server,
        &session,
        &path,
        &[("csrf", &csrf), ("email", "r@coop.example"), ("unit", "4B")],
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Invited r@coop.example to unit 4B"), "{html}");
    let code = html
        .split("<code class=\"key\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    assert!(code.starts_with("dmi_"), "{code}");

    // The invited person accepts on the page (double-submit token, as sign-in).
    let (status, hs, form) = http(&server, "GET", &format!("/invitation?code={code}"), &[], "");
    assert_eq!(status, 200);
    assert!(form.contains(&format!("value=\"{code}\"")), "prefilled");
    let pair = set_cookie(&hs, "doorman_csrf")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = hidden(&form, "csrf");
    let accept = |fields: &[(&str, &str)], cookie: &str| {
        http(
            &server,
            "POST",
            "/invitation",
            &[
                ("Content-Type", "application/x-www-form-urlencoded".into()),
                ("Cookie", cookie.to_string()),
            ],
            &form_body(fields),
        )
    };
    let (status, _, html) = accept(
        &[
            ("csrf", &token),
            ("code", "dmi_wrong"),
            ("name", "Rae"),
            ("password", doorman_testkit::PASSWORD),
        ],
        &pair,
    );
    assert_eq!(status, 404, "{html}");
    assert!(html.contains("no invitation has this code"), "{html}");
    assert_eq!(
        accept(
            &[
                ("csrf", "forged"),
                ("code", &code),
                ("name", "Rae"),
                ("password", doorman_testkit::PASSWORD)
            ],
            &pair
        )
        .0,
        403
    );
    let (status, hs, _) = accept(
        &[
            ("csrf", &token),
            ("code", &code),
            ("name", "Rae Resident"),
            ("password", doorman_testkit::PASSWORD),
        ],
        &pair,
    );
    assert_eq!(status, 303);
    assert_eq!(location(&hs), Some("/app"));
    let resident = set_cookie(&hs, "doorman_session")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (_, _, home) = http(&server, "GET", "/app", &[("Cookie", resident.clone())], "");
    assert!(
        home.contains("Your home") && home.contains("/deliveries"),
        "{home}"
    );
    // A code is used once.
    let (status, _, _) = accept(
        &[
            ("csrf", &token),
            ("code", &code),
            ("name", "Rae"),
            ("password", doorman_testkit::PASSWORD),
        ],
        &pair,
    );
    assert!((400..500).contains(&status));

    // Listed, then removed: their home is gone.
    let (_, _, html) = http(&server, "GET", &path, &[("Cookie", session.clone())], "");
    assert!(
        html.contains("<td>Rae Resident</td><td>r@coop.example</td><td>4B</td>"),
        "{html}"
    );
    let remove = html
        .split("action=\"")
        .filter_map(|s| s.split('"').next())
        .find(|a| a.ends_with("/remove"))
        .unwrap()
        .to_string();
    assert_eq!(
        post_form(&server, &session, &remove, &[("csrf", "forged")]).0,
        403
    );
    let (status, hs, _) = post_form(&server, &session, &remove, &[("csrf", &csrf)]);
    assert_eq!(status, 303);
    assert!(location(&hs).unwrap().ends_with("?done=removed"));
    let (_, _, home) = http(&server, "GET", "/app", &[("Cookie", resident.clone())], "");
    assert!(!home.contains("/deliveries"), "{home}");
    // Residents and other owners can't see the page.
    let _other = server.sign_up("property", "Other Co", "o@other.example");
    let theirs = sign_in_page(&server, "o@other.example");
    assert_eq!(
        http(&server, "GET", &path, &[("Cookie", theirs)], "").0,
        404
    );
}

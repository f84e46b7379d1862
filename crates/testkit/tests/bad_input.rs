//! Bad input to the API: every mistake gets a 4xx with a stable code, never a 500, and
//! nothing half-written is left behind.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use doorman_client::Client;
use doorman_proto::*;
use doorman_testkit::{Building, TestServer};
use serde_json::json;

fn post(c: &Client, path: &str, ct: &str, body: &[u8]) -> (u16, String) {
    let r = c.raw("POST", path, Some(ct), Some(body)).unwrap();
    (
        r.status,
        r.problem()
            .map(|p| p.code)
            .unwrap_or_else(|| format!("(no problem body: {})", String::from_utf8_lossy(&r.body))),
    )
}

fn json_post(c: &Client, path: &str, v: serde_json::Value) -> (u16, String) {
    post(c, path, "application/json", v.to_string().as_bytes())
}

/// What is written so far: public log entries, outbox rows, installation requests,
/// authorizations, revocations.
fn footprint(server: &TestServer, b: &Building) -> (u64, usize, usize, usize, usize) {
    let api = server.api();
    let p = b.property.id.parse().unwrap();
    (
        api.log.sequenced_size().unwrap(),
        api.store.pending_outbox(100_000).unwrap().len(),
        api.store.installations(&Default::default()).unwrap().len(),
        api.store.authorizations(&Default::default()).unwrap().len(),
        api.store.revocations(&p, None).unwrap().len(),
    )
}

#[test]
fn malformed_bodies_get_clear_codes() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let p = &b.property.id;
    let doors = format!("/api/v1/properties/{p}/doors");
    assert_eq!(
        post(&b.owner, &doors, "application/json", b"{not json"),
        (400, "invalid_json".into())
    );
    assert_eq!(
        post(
            &b.owner,
            &doors,
            "application/json",
            br#"{"id": 5, "name": "x"}"#
        ),
        (400, "invalid_json".into())
    );
    assert_eq!(
        post(&b.owner, &doors, "application/json", br#"{"id": "x"}"#),
        (400, "invalid_json".into())
    );
    assert_eq!(
        json_post(
            &b.owner,
            &doors,
            json!({"id": "x", "name": "X", "colour": "red"})
        ),
        (400, "unknown_field".into())
    );
    assert_eq!(
        post(
            &b.owner,
            &doors,
            "text/plain",
            br#"{"id": "x", "name": "X"}"#
        ),
        (415, "unsupported_media_type".into())
    );
    let big = format!(
        r#"{{"id": "x", "name": "{}"}}"#,
        "a".repeat(1024 * 1024 + 10)
    );
    assert_eq!(
        post(&b.owner, &doors, "application/json", big.as_bytes()),
        (413, "body_too_large".into())
    );
    assert_eq!(
        json_post(&b.owner, &doors, json!({"id": "no\"quotes", "name": "X"})),
        (422, "bad_id".into())
    );
    assert_eq!(
        json_post(&b.owner, &doors, json!({"id": "ok", "name": ""})),
        (422, "invalid_field".into())
    );
    assert_eq!(
        json_post(&b.owner, &doors, json!({"id": "x".repeat(65), "name": "X"})),
        (422, "bad_id".into())
    );
}

#[test]
fn bad_values_are_refused_by_name() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let claim = |tz: &str, addr: &str, custody: &str, key: Option<&str>| {
        json_post(
            &b.owner,
            "/api/v1/properties",
            json!({"org": b.owner_org, "name": "N", "address": addr, "time_zone": tz, "custody": custody, "public_key": key}),
        )
    };
    assert_eq!(
        claim("Mars/Olympus_Mons", "1 A St", "custodial", None),
        (422, "bad_time_zone".into())
    );
    assert_eq!(
        claim("Europe/Paris", "", "custodial", None),
        (422, "bad_address".into())
    );
    assert_eq!(
        claim("Europe/Paris", &"x".repeat(300), "custodial", None),
        (422, "bad_address".into())
    );
    assert_eq!(
        claim("Europe/Paris", "1 A St", "self", Some("ed25519/zz")),
        (422, "bad_key".into())
    );
    assert_eq!(
        claim("Europe/Paris", "1 A St", "self", None),
        (422, "invalid_field".into())
    );
    assert_eq!(
        claim("Europe/Paris", "1 A St", "shared", None),
        (422, "invalid_field".into())
    );

    let signup = |email: &str, password: &str, kind: &str| {
        json_post(
            &server.client(),
            "/api/v1/signup",
            json!({"org_kind": kind, "org_name": "O", "email": email, "name": "N", "password": password}),
        )
    };
    assert_eq!(
        signup("not-an-email", "long enough password", "carrier"),
        (422, "bad_email".into())
    );
    assert_eq!(
        signup("a@b.example", "short", "carrier"),
        (422, "weak_password".into())
    );
    assert_eq!(
        signup("a@b.example", "long enough password", "operator"),
        (422, "invalid_field".into())
    );
    assert_eq!(
        signup("a@b.example", "long enough password", "landlord"),
        (422, "invalid_field".into())
    );
    assert_eq!(
        signup("owner@coop.example", "long enough password", "carrier"),
        (409, "duplicate".into())
    );

    let mut auth = serde_json::to_value(b.authorize_request(&server)).unwrap();
    let path = format!("/api/v1/properties/{}/authorizations", b.property.id);
    let with = |k: &str, v: serde_json::Value, auth: &mut serde_json::Value| {
        let mut a = auth.clone();
        a[k] = v;
        json_post(&b.manager, &path, a)
    };
    assert_eq!(
        with("schedule", json!("Someday 25:00-26:00"), &mut auth),
        (422, "bad_schedule".into())
    );
    assert_eq!(
        with("schedule", json!("Mon-Fri 20:00-08:00:00"), &mut auth),
        (422, "bad_schedule".into())
    );
    assert_eq!(
        with("daily_cap", json!(0), &mut auth),
        (422, "invalid_field".into())
    );
    assert_eq!(
        with("doors", json!([]), &mut auth),
        (422, "invalid_field".into())
    );
    assert_eq!(
        with("doors", json!(["back"]), &mut auth),
        (422, "unknown_reference".into())
    );
    assert_eq!(
        with("carrier", json!(b.installer_org), &mut auth),
        (422, "unknown_reference".into())
    );
    assert_eq!(
        with("not_after", json!("2020-01-01T00:00:00Z"), &mut auth),
        (422, "bad_window".into())
    );
    assert_eq!(
        with("not_after", json!("yesterday"), &mut auth),
        (400, "invalid_json".into())
    );
    assert_eq!(
        with("max_pass_duration", json!("forever"), &mut auth),
        (422, "invalid_field".into())
    );
    assert_eq!(
        with("max_pass_duration", json!("48h"), &mut auth),
        (422, "bad_window".into())
    );

    let file = |device_key: &str, door: &str| {
        json_post(
            &b.installer,
            "/api/v1/installations",
            json!({"property": b.property.id, "door": door, "device_id": "dev-x", "device_key": device_key}),
        )
    };
    assert_eq!(file("ed25519/00", "street"), (422, "bad_key".into()));
    assert_eq!(
        file(
            &format!(
                "ed25519/{}",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
            ),
            "back"
        ),
        (422, "unknown_reference".into())
    );
    assert_eq!(
        json_post(&b.installer, "/api/v1/installations", json!({"property": "prop_nowhere", "door": "street", "device_id": "dev-x", "device_key": "ed25519/00"})).0,
        404
    );
}

#[test]
fn photos_are_checked() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (r, _) = b.file_request("dev-1");
    let path = format!("/api/v1/installations/{}/evidence", r.id);
    assert_eq!(
        post(&b.installer, &path, "image/gif", b"GIF89a"),
        (415, "unsupported_media_type".into())
    );
    assert_eq!(
        post(&b.installer, &path, "image/png", b"\xFF\xD8\xFFnot a png"),
        (415, "unsupported_media_type".into())
    );
    assert_eq!(
        post(&b.installer, &path, "image/jpeg", b""),
        (415, "unsupported_media_type".into())
    );
    let mut huge = vec![0xFF, 0xD8, 0xFF, 0xE0];
    huge.resize(10 * 1024 * 1024 + 1, 0);
    assert_eq!(
        post(&b.installer, &path, "image/jpeg", &huge),
        (413, "body_too_large".into())
    );
    huge.truncate(10 * 1024 * 1024);
    assert_eq!(post(&b.installer, &path, "image/jpeg", &huge).0, 201);
    assert_eq!(b.manager.installation(&r.id).unwrap().evidence.len(), 1);
    for _ in 1..20 {
        b.installer
            .upload_evidence(&r.id, "image/jpeg", &[0xFF, 0xD8, 0xFF, 1])
            .unwrap();
    }
    assert_eq!(
        post(&b.installer, &path, "image/jpeg", &[0xFF, 0xD8, 0xFF, 2]),
        (409, "limit_reached".into())
    );
    let photo = b
        .manager
        .raw(
            "GET",
            &format!("/api/v1/installations/{}/evidence/1", r.id),
            None,
            None,
        )
        .unwrap();
    assert_eq!(photo.header("x-content-type-options"), Some("nosniff"));
    assert!(
        photo
            .header("content-security-policy")
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(
        b.manager
            .raw(
                "GET",
                &format!("/api/v1/installations/{}/evidence/99", r.id),
                None,
                None
            )
            .unwrap()
            .status,
        404
    );
    assert_eq!(
        b.manager
            .raw(
                "GET",
                &format!("/api/v1/installations/{}/evidence/abc", r.id),
                None,
                None
            )
            .unwrap()
            .status,
        404
    );
}

/// Every operation that takes a body, fed garbage: a 4xx with a code, never a 5xx, and
/// nothing written.
#[test]
fn garbage_never_gets_a_500_nor_writes_anything() {
    let server = TestServer::start();
    let b = Building::new(&server);
    let (r, _) = b.file_request("dev-g");
    let a = b.authorize(&server);
    let before = footprint(&server, &b);
    let doc = server.client().openapi().unwrap();
    let fill = |path: &str| {
        path.replace("{org}", &b.owner_org)
            .replace("{property}", &b.property.id)
            .replace("{installation}", &r.id)
            .replace("{authorization}", &a.id)
            .replace("{door}", "street")
            .replace("{unit}", "4B")
            .replace("{number}", "1")
            .replace("{token}", "tok_x")
            .replace("{invitation}", "inv_x")
            .replace("{driver}", "drv_x")
            .replace("{user}", "usr_x")
    };
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("application/json", b"".to_vec()),
        ("application/json", b"null".to_vec()),
        ("application/json", b"[]".to_vec()),
        ("application/json", b"\"string\"".to_vec()),
        (
            "application/json",
            br#"{"email": 1, "id": null, "doors": "street", "scope": [], "reason": {}}"#.to_vec(),
        ),
        ("application/json", vec![0xFF, 0xFE, 0x00, 0x7B]),
        ("application/json", nested.into_bytes()),
        (
            "application/json",
            format!(
                r#"{{"note": "{}", "reason": "{}"}}"#,
                "\u{202e}".repeat(3000),
                "x".repeat(5000)
            )
            .into_bytes(),
        ),
        (
            "application/json; charset=latin1",
            b"{\"id\": \"\xe9\"}".to_vec(),
        ),
        ("image/jpeg", vec![1, 2, 3]),
    ];
    let mut failures = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if method == "GET" || method == "DELETE" {
                continue;
            }
            let concrete = fill(path);
            for caller in [&b.owner, &b.installer, &server.client()] {
                for (ct, body) in &garbage {
                    let resp = caller
                        .raw(&method, &concrete, Some(ct), Some(body))
                        .unwrap();
                    let problem = resp.problem();
                    if !(400..500).contains(&resp.status) || problem.is_none() {
                        failures.push(format!(
                            "{method} {concrete} [{ct}, {} bytes]: {} {:?}",
                            body.len(),
                            resp.status,
                            problem.map(|p| p.code)
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(footprint(&server, &b), before, "garbage wrote something");
}

#[test]
fn odd_paths_and_queries_are_not_found_or_bad_queries() {
    let server = TestServer::start();
    let b = Building::new(&server);
    for path in [
        "/api/v1/properties/%FF%FE".to_string(),
        format!("/api/v1/properties/{}", "p".repeat(5000)),
        "/api/v1/properties/..%2F..%2Fetc".to_string(),
        "/api/v1/installations/%00".to_string(),
        "/api/v1/authorizations/%20".to_string(),
        "/api/v1/orgs/a%2Fb/members".to_string(),
    ] {
        let resp = b.owner.raw("GET", &path, None, None).unwrap();
        assert!(
            resp.status == 404 || resp.status == 400,
            "{path}: {}",
            resp.status
        );
        assert!(resp.problem().is_some(), "{path}");
    }
    for q in [
        "?status=exploded",
        "?status=claimed&status=verified",
        "?colour=red",
        "?status=%FF",
    ] {
        let resp = b
            .owner
            .raw("GET", &format!("/api/v1/properties{q}"), None, None)
            .unwrap();
        assert_eq!(
            (resp.status, resp.problem().unwrap().code.as_str()),
            (400, "bad_query"),
            "{q}"
        );
    }
    for q in [
        "?from=-1",
        "?from=99999999999999999999999",
        "?limit=0",
        "?limit=100000",
        "?from=01",
    ] {
        let resp = b
            .owner
            .raw(
                "GET",
                &format!("/api/v1/properties/{}/access-log{q}", b.property.id),
                None,
                None,
            )
            .unwrap();
        assert_eq!(resp.status, 400, "{q}");
    }
    // A bearer that is not a token, and a header that is not Bearer.
    let resp = server
        .client()
        .with_token("nonsense \u{7f}")
        .raw("GET", "/api/v1/me", None, None);
    if let Ok(resp) = resp {
        assert_eq!(resp.status, 401);
    }
    let resp = server
        .client()
        .raw("GET", "/api/v1/me", None, None)
        .unwrap();
    assert_eq!(resp.status, 401);
}

#[test]
fn failed_decisions_leave_nothing_half_written() {
    let server = TestServer::start();
    let owner_key = doorman_trust::SecretKey::generate(&mut rand::rngs::OsRng);
    let b = Building::with_custody(&server, "self", Some(&owner_key));
    let (r, _) = b.file_request("dev-h");
    let before = footprint(&server, &b);
    for consent in [None, Some("garbage".to_string()), Some("EnoK".to_string())] {
        let resp = b.manager.approve(
            &r.id,
            &ApproveRequest {
                consent,
                ..Default::default()
            },
        );
        assert!(resp.is_err());
    }
    let mut areq = b.authorize_request(&server);
    areq.authorization = Some("EnoKBw".into());
    assert!(b.manager.authorize(&b.property.id, &areq).is_err());
    assert_eq!(b.manager.installation(&r.id).unwrap().status, "requested");
    assert_eq!(footprint(&server, &b), before);
    // Two managers deciding at once: exactly one wins.
    let (r2, _) = b.file_request("dev-i");
    let server2 = TestServer::start();
    drop(server2);
    let results: Vec<_> = std::thread::scope(|s| {
        let h1 = s.spawn(|| b.manager.reject(&r2.id, "first"));
        let h2 = s.spawn(|| b.owner.reject(&r2.id, "second"));
        vec![h1.join().unwrap(), h2.join().unwrap()]
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| r.as_ref().err().and_then(|e| e.code()) == Some("already_decided"))
    );
}

//! The authorization matrix: every role of every organisation kind (and API tokens, and
//! strangers from other organisations of each kind, and nobody at all) against every
//! endpoint of the API. For each endpoint the table names who may act; everyone else must
//! get exactly `401` (no credentials), `403` (they can see the thing but their role does not
//! allow this) or `404` (they may not know it exists) — and lists never show another
//! tenant's things.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use doorman_client::Client;
use doorman_proto::*;
use doorman_testkit::{Building, PASSWORD, TestServer};

/// Everyone who calls.
struct Cast {
    actors: BTreeMap<&'static str, Client>,
}

impl Cast {
    fn get(&self, name: &str) -> &Client {
        &self.actors[name]
    }
}

const ALL: &[&str] = &[
    "anon",
    "operator",
    "owner",
    "manager",
    "resident",
    "manager_token",
    "installer_admin",
    "installer",
    "carrier_admin",
    "dispatcher",
    "driver",
    "dispatcher_token",
    "other_owner",
    "other_installer",
    "other_carrier",
];

const P_ADMIN: &[&str] = &["owner", "manager", "manager_token"];
const P_READ: &[&str] = &["owner", "manager", "manager_token", "resident", "operator"];
const I_MEMBERS: &[&str] = &["installer_admin", "installer"];
const C_STAFF: &[&str] = &["carrier_admin", "dispatcher", "dispatcher_token"];

fn union(sets: &[&[&'static str]]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = sets.iter().flat_map(|s| s.iter().copied()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// One row: an endpoint, who may act, who sees the thing but may not (403). Everyone else
/// (authenticated) gets 404, or 403 for `no_thing` endpoints (there is nothing to hide).
struct Row {
    method: &'static str,
    path: String,
    body: Option<String>,
    content_type: &'static str,
    allowed: Vec<&'static str>,
    forbidden: Vec<&'static str>,
    no_thing: bool,
    /// Changes state: after the first allowed actor succeeds, later ones may find it gone
    /// (404) or decided (409).
    destructive: bool,
}

fn row(
    method: &'static str,
    path: String,
    body: Option<serde_json::Value>,
    allowed: Vec<&'static str>,
    forbidden: Vec<&'static str>,
) -> Row {
    Row {
        method,
        path,
        body: body.map(|b| b.to_string()),
        content_type: "application/json",
        allowed,
        forbidden,
        no_thing: false,
        destructive: method != "GET",
    }
}

fn setup(server: &TestServer) -> (Building, Cast, BTreeMap<&'static str, String>) {
    let b = Building::new(server);
    let mut actors: BTreeMap<&'static str, Client> = BTreeMap::new();
    actors.insert("anon", server.client());
    actors.insert("operator", b.operator.clone());
    actors.insert("owner", b.owner.clone());
    actors.insert("manager", b.manager.clone());
    let inv = b
        .manager
        .invite_resident(&b.property.id, "res@coop.example", "4B")
        .unwrap();
    actors.insert("resident", server.accept(&inv, "res@coop.example"));
    let t = b
        .owner
        .create_token(
            &b.owner_org,
            &CreateTokenRequest {
                name: "bms".into(),
                role: "manager".into(),
                expires_in_days: None,
            },
        )
        .unwrap();
    actors.insert(
        "manager_token",
        server.client().with_token(t.token.unwrap()),
    );
    actors.insert("installer_admin", b.installer.clone());
    actors.insert(
        "installer",
        server.invite(
            &b.installer,
            &b.installer_org,
            "tech@fixit.example",
            "installer",
        ),
    );
    actors.insert("carrier_admin", b.carrier.clone());
    actors.insert(
        "dispatcher",
        server.invite(
            &b.carrier,
            &b.carrier_org,
            "disp@acme.example",
            "dispatcher",
        ),
    );
    actors.insert(
        "driver",
        server.invite(&b.carrier, &b.carrier_org, "drv@acme.example", "driver"),
    );
    let t = b
        .carrier
        .create_token(
            &b.carrier_org,
            &CreateTokenRequest {
                name: "dispatch".into(),
                role: "dispatcher".into(),
                expires_in_days: None,
            },
        )
        .unwrap();
    actors.insert(
        "dispatcher_token",
        server.client().with_token(t.token.unwrap()),
    );
    let (other_owner, other_org) = server.sign_up("property", "Other Co-op", "o@other.example");
    let other_prop = other_owner
        .claim_property(&ClaimPropertyRequest {
            org: other_org,
            name: "Other".into(),
            address: "9 Pine Road".into(),
            time_zone: "Europe/Paris".into(),
            custody: "custodial".into(),
            public_key: None,
        })
        .unwrap();
    b.operator
        .verify_property(&other_prop.id, "checked")
        .unwrap();
    actors.insert("other_owner", other_owner);
    actors.insert(
        "other_installer",
        server
            .sign_up("installer", "Other Installers", "i@other.example")
            .0,
    );
    let (other_carrier, oc_org) = server.sign_up("carrier", "Other Parcel", "c@other.example");
    other_carrier
        .set_carrier_key(
            &oc_org,
            &CarrierKeyRequest {
                public_key: None,
                custodial: true,
            },
        )
        .unwrap();
    actors.insert("other_carrier", other_carrier);

    // The things acted on.
    let (r, _) = b.file_request("dev-matrix-1");
    b.installer
        .upload_evidence(&r.id, "image/png", b"\x89PNG\r\n\x1a\nmatrix")
        .unwrap();
    let (r2, _) = b.file_request("dev-matrix-2");
    b.manager
        .approve(&r2.id, &ApproveRequest::default())
        .unwrap();
    let a = b.authorize(server);
    let a2 = b.authorize(server);
    b.owner
        .change_service(
            &b.property.id,
            &ServiceChangeRequest {
                scope: "door".into(),
                target: Some("garage".into()),
                enabled: true,
                expected_seq: None,
            },
        )
        .unwrap();
    let pending_invite = b
        .owner
        .invite(
            &b.owner_org,
            &InviteRequest {
                email: "later@coop.example".into(),
                role: "manager".into(),
            },
        )
        .unwrap();
    let spare = server
        .invite(&b.owner, &b.owner_org, "spare@coop.example", "manager")
        .me()
        .unwrap()
        .user
        .id;
    let resident_id = actors["resident"].me().unwrap().user.id;
    let tok = b
        .owner
        .create_token(
            &b.owner_org,
            &CreateTokenRequest {
                name: "old".into(),
                role: "manager".into(),
                expires_in_days: None,
            },
        )
        .unwrap();
    let mut ids = BTreeMap::new();
    ids.insert("P", b.property.id.clone());
    ids.insert("POrg", b.owner_org.clone());
    ids.insert("IOrg", b.installer_org.clone());
    ids.insert("COrg", b.carrier_org.clone());
    ids.insert("R", r.id);
    ids.insert("R2", r2.id);
    ids.insert("A", a.id);
    ids.insert("A2", a2.id);
    ids.insert("Inv", pending_invite.id);
    ids.insert("Tok", tok.id);
    ids.insert("Drv", b.driver.id.clone());
    ids.insert("OtherP", other_prop.id);
    ids.insert("Spare", spare);
    ids.insert("Resident", resident_id);
    (b, Cast { actors }, ids)
}

fn rows(b: &Building, server: &TestServer, ids: &BTreeMap<&'static str, String>) -> Vec<Row> {
    use serde_json::json;
    let p = &ids["P"];
    let porg = &ids["POrg"];
    let corg = &ids["COrg"];
    let r = &ids["R"];
    let a = &ids["A"];
    let none: Vec<&'static str> = Vec::new();
    let everyone_but_anon: Vec<&'static str> =
        ALL.iter().copied().filter(|a| *a != "anon").collect();
    let mint = serde_json::to_value(b.pass_request(server, "MATRIX")).unwrap();
    let authorize = serde_json::to_value(b.authorize_request(server)).unwrap();
    let mut v = vec![
        // Accounts and lists: anyone signed in (what the lists show is checked below).
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/me".into(),
                None,
                everyone_but_anon.clone(),
                none.clone(),
            )
        },
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/orgs".into(),
                None,
                everyone_but_anon.clone(),
                none.clone(),
            )
        },
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/properties".into(),
                None,
                everyone_but_anon.clone(),
                none.clone(),
            )
        },
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/installations".into(),
                None,
                everyone_but_anon.clone(),
                none.clone(),
            )
        },
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/authorizations".into(),
                None,
                everyone_but_anon.clone(),
                none.clone(),
            )
        },
        Row {
            no_thing: true,
            ..row(
                "GET",
                "/api/v1/carriers".into(),
                None,
                union(&[P_ADMIN, &["operator", "other_owner"]]),
                none.clone(),
            )
        },
        // The property organisation.
        row(
            "GET",
            format!("/api/v1/orgs/{porg}"),
            None,
            union(&[P_ADMIN, &["resident", "operator"]]),
            none.clone(),
        ),
        row(
            "GET",
            format!("/api/v1/orgs/{porg}/members"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/orgs/{porg}/invitations"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/orgs/{porg}/invitations"),
            Some(json!({"email": "new@coop.example", "role": "manager"})),
            vec!["owner"],
            vec!["manager", "manager_token", "resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/orgs/{porg}/tokens"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/orgs/{porg}/tokens"),
            Some(json!({"name": "t", "role": "manager"})),
            vec!["owner", "manager"],
            vec!["manager_token", "resident", "operator"],
        ),
        // The carrier organisation.
        row(
            "GET",
            format!("/api/v1/orgs/{corg}/drivers"),
            None,
            C_STAFF.to_vec(),
            vec!["driver", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/orgs/{corg}/drivers"),
            Some(
                json!({"name": "New Driver", "public_key": format!("ed25519/{}", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")}),
            ),
            C_STAFF.to_vec(),
            vec!["driver", "operator"],
        ),
        row(
            "PUT",
            format!("/api/v1/orgs/{corg}/carrier-key"),
            Some(json!({"custodial": true})),
            vec!["carrier_admin"],
            vec!["dispatcher", "dispatcher_token", "driver", "operator"],
        ),
        // The property.
        row(
            "POST",
            "/api/v1/properties".into(),
            Some(
                json!({"org": porg, "name": "New", "address": "5 New Street", "time_zone": "Europe/Paris", "custody": "custodial"}),
            ),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}"),
            None,
            P_READ.to_vec(),
            none.clone(),
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/verify"),
            Some(json!({"note": "again"})),
            vec!["operator"],
            union(&[P_ADMIN, &["resident"]]),
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/reject"),
            Some(json!({"note": "no"})),
            vec!["operator"],
            union(&[P_ADMIN, &["resident"]]),
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/doors"),
            None,
            P_READ.to_vec(),
            none.clone(),
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/doors"),
            Some(json!({"id": "matrix", "name": "Matrix door"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/units"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/units"),
            Some(json!({"id": "9Z"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/residents"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/residents"),
            Some(json!({"email": "r2@coop.example", "unit": "5A"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/service"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/service"),
            Some(json!({"scope": "door", "target": "garage", "enabled": true})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/service/signed"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "PUT",
            format!("/api/v1/properties/{p}/service/signed"),
            Some(json!({"document": "{}"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/revocations"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/revocations"),
            Some(json!({"revocation_id": "ab".repeat(32), "reason": "lost_pass"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/revocations/signed"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "PUT",
            format!("/api/v1/properties/{p}/revocations/signed"),
            Some(json!({"document": "{}"})),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/access-log"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/access-log/0/proof"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/events"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/devices"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "GET",
            format!("/api/v1/properties/{p}/authorizations"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "POST",
            format!("/api/v1/properties/{p}/authorizations"),
            Some(authorize),
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        // Installation requests.
        Row {
            no_thing: true,
            ..row(
                "POST",
                "/api/v1/installations".into(),
                Some(
                    json!({"property": p, "door": "street", "device_id": "dev-m", "device_key": format!("ed25519/{}", "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")}),
                ),
                union(&[I_MEMBERS, &["other_installer"]]),
                none.clone(),
            )
        },
        row(
            "GET",
            format!("/api/v1/installations/{r}"),
            None,
            union(&[P_ADMIN, I_MEMBERS]),
            none.clone(),
        ),
        Row {
            content_type: "image/jpeg",
            ..row(
                "POST",
                format!("/api/v1/installations/{r}/evidence"),
                None,
                I_MEMBERS.to_vec(),
                P_ADMIN.to_vec(),
            )
        },
        row(
            "GET",
            format!("/api/v1/installations/{r}/evidence/1"),
            None,
            union(&[P_ADMIN, I_MEMBERS]),
            none.clone(),
        ),
        // (The request is not approved yet here: allowed callers get 409 not_approved.)
        row(
            "GET",
            format!("/api/v1/installations/{r}/activation"),
            None,
            union(&[P_ADMIN, I_MEMBERS]),
            none.clone(),
        ),
        row(
            "GET",
            format!("/api/v1/installations/{r}/activation/config"),
            None,
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        row(
            "PUT",
            format!("/api/v1/installations/{r}/activation/config"),
            Some(json!({"document": "{}"})),
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        // Authorizations and passes.
        row(
            "GET",
            format!("/api/v1/authorizations/{a}"),
            None,
            union(&[P_ADMIN, C_STAFF]),
            none.clone(),
        ),
        row(
            "GET",
            format!("/api/v1/authorizations/{a}/passes"),
            None,
            union(&[P_ADMIN, C_STAFF]),
            none.clone(),
        ),
        row(
            "POST",
            format!("/api/v1/authorizations/{a}/passes"),
            Some(mint),
            C_STAFF.to_vec(),
            P_ADMIN.to_vec(),
        ),
        // Decisions (state changes: later allowed callers find them decided).
        row(
            "POST",
            format!("/api/v1/installations/{r}/approve"),
            Some(json!({})),
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        row(
            "POST",
            format!("/api/v1/installations/{r}/reject"),
            Some(json!({"reason": "x"})),
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        row(
            "POST",
            format!("/api/v1/installations/{}/revoke", ids["R2"]),
            Some(json!({"reason": "device_removed"})),
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        row(
            "POST",
            format!("/api/v1/installations/{}/decommission", ids["R2"]),
            Some(json!({"reason": "device_removed"})),
            P_ADMIN.to_vec(),
            I_MEMBERS.to_vec(),
        ),
        row(
            "POST",
            format!("/api/v1/authorizations/{}/revoke", ids["A2"]),
            Some(json!({"reason": "contract_ended"})),
            P_ADMIN.to_vec(),
            C_STAFF.to_vec(),
        ),
        // Removals.
        row(
            "DELETE",
            format!("/api/v1/orgs/{porg}/invitations/{}", ids["Inv"]),
            None,
            vec!["owner"],
            vec!["manager", "manager_token", "resident", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/orgs/{porg}/tokens/{}", ids["Tok"]),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/orgs/{corg}/drivers/{}", ids["Drv"]),
            None,
            C_STAFF.to_vec(),
            vec!["driver", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/properties/{p}/doors/matrix"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/properties/{p}/units/9Z"),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/orgs/{porg}/members/{}", ids["Spare"]),
            None,
            vec!["owner"],
            vec!["manager", "manager_token", "resident", "operator"],
        ),
        row(
            "DELETE",
            format!("/api/v1/properties/{p}/residents/{}", ids["Resident"]),
            None,
            P_ADMIN.to_vec(),
            vec!["resident", "operator"],
        ),
    ];
    v.shrink_to_fit();
    v
}

fn call(c: &Client, r: &Row) -> (u16, String) {
    let body: Option<Vec<u8>> = match (r.content_type, &r.body) {
        ("image/jpeg", _) => Some([&[0xFF, 0xD8, 0xFF, 0xE0][..], b"matrix photo"].concat()),
        (_, Some(b)) => Some(b.clone().into_bytes()),
        (_, None) => None,
    };
    let ct = body.as_ref().map(|_| r.content_type);
    let resp = c.raw(r.method, &r.path, ct, body.as_deref()).unwrap();
    let code = resp.problem().map(|p| p.code).unwrap_or_default();
    (resp.status, code)
}

#[test]
fn every_role_against_every_endpoint() {
    let server = TestServer::start();
    let (b, cast, ids) = setup(&server);
    let table = rows(&b, &server, &ids);
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in &table {
        // Refusals first, while every thing still exists.
        for name in ALL.iter().copied().filter(|n| !r.allowed.contains(n)) {
            let (status, code) = call(cast.get(name), r);
            let expected = if name == "anon" {
                401
            } else if r.forbidden.contains(&name) || r.no_thing {
                403
            } else {
                404
            };
            checked += 1;
            if status != expected {
                failures.push(format!(
                    "{name:>16} {} {}: got {status} {code}, expected {expected}",
                    r.method, r.path
                ));
            }
        }
        let mut first = true;
        for name in r.allowed.iter().copied() {
            let (status, code) = call(cast.get(name), r);
            checked += 1;
            let ok = match status {
                200..=299 => true,
                // Refused for the state of the thing or the body, not for who asks.
                409 | 422 => code != "forbidden",
                404 => r.destructive && !first,
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name:>16} {} {}: got {status} {code}, expected it allowed",
                    r.method, r.path
                ));
            }
            first = false;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} calls wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every operation of the API is in the table or exempt (so a new endpoint cannot skip
    // the matrix): the account endpoints act on no thing and are covered by the scenarios.
    let exempt = [
        "POST /api/v1/setup",
        "POST /api/v1/signup",
        "POST /api/v1/sessions",
        "DELETE /api/v1/sessions/current",
        "POST /api/v1/invitations/accept",
        "POST /api/v1/orgs",
        "GET /api/v1/openapi.json",
        // No account at the door: the pass and the driver's answer to the device's challenge
        // are the credential, and the device decides (crates/testkit/tests/devices.rs).
        "POST /api/v1/properties/{property}/doors/{door}/challenge",
        "POST /api/v1/properties/{property}/doors/{door}/unlock",
    ];
    let matches = |template: &str, concrete: &str| {
        let t: Vec<&str> = template.split('/').collect();
        let c: Vec<&str> = concrete.split('?').next().unwrap().split('/').collect();
        t.len() == c.len() && t.iter().zip(&c).all(|(t, c)| t.starts_with('{') || t == c)
    };
    let doc = server.client().openapi().unwrap();
    let mut missing = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let op = format!("{} {path}", method.to_uppercase());
            let covered = table
                .iter()
                .any(|r| r.method.eq_ignore_ascii_case(method) && matches(path, &r.path));
            if !covered && !exempt.contains(&op.as_str()) {
                missing.push(op);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "operations missing from the matrix: {missing:?}"
    );
}

#[test]
fn lists_never_show_another_tenants_things() {
    let server = TestServer::start();
    let (b, cast, ids) = setup(&server);
    let props = |n: &str| -> Vec<String> {
        cast.get(n)
            .properties(None)
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    let reqs = |n: &str| -> Vec<String> {
        cast.get(n)
            .installations(None, None)
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    let auths = |n: &str| -> Vec<String> {
        cast.get(n)
            .authorizations(None, None, false)
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.id)
            .collect()
    };
    let orgs = |n: &str| -> Vec<String> {
        cast.get(n)
            .orgs()
            .unwrap()
            .items
            .into_iter()
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(props("other_owner"), [ids["OtherP"].clone()]);
    assert_eq!(props("resident"), [ids["P"].clone()]);
    assert!(props("installer_admin").is_empty() && props("carrier_admin").is_empty());
    assert_eq!(props("operator").len(), 2);
    assert!(
        reqs("other_installer").is_empty()
            && reqs("other_owner").is_empty()
            && reqs("resident").is_empty()
            && reqs("carrier_admin").is_empty()
            && reqs("operator").is_empty()
    );
    assert_eq!(reqs("installer").len(), 2);
    assert_eq!(reqs("manager_token").len(), 2);
    assert!(
        auths("other_carrier").is_empty()
            && auths("other_owner").is_empty()
            && auths("driver").is_empty()
            && auths("installer_admin").is_empty()
            && auths("operator").is_empty()
    );
    assert_eq!(auths("dispatcher_token").len(), 2);
    assert_eq!(auths("owner").len(), 2);
    // Asking for another carrier's authorizations by filter shows nothing either.
    assert!(
        cast.get("other_carrier")
            .authorizations(None, Some(&ids["COrg"]), false)
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(orgs("driver"), [ids["COrg"].clone()]);
    assert!(orgs("operator").len() >= 7);
    let _ = (b, PASSWORD);
}

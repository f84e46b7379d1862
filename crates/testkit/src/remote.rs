//! A building set up through the API of a server running in another process (load tools,
//! crash tests): the operator with the setup code, a property organisation whose owner also
//! acts as manager, a verified custodial property "Load tower" with unit `1A`, an installer,
//! and a carrier with a custodial key and one driver. Doors are added by the caller.

use doorman_client::Client;
use doorman_proto::*;
use doorman_trust::SecretKey;

const PASSWORD: &str = crate::PASSWORD;

/// The cast, each with a signed-in client.
#[derive(Debug)]
pub struct RemoteCast {
    pub url: String,
    pub manager: Client,
    pub installer: Client,
    pub carrier: Client,
    pub carrier_org: String,
    pub driver: SecretKey,
    pub driver_id: String,
    pub property: String,
}

impl RemoteCast {
    /// Sets up the cast through the API of the server at `url`, with its one-time setup code.
    pub fn setup(url: &str, code: &str) -> RemoteCast {
        let anon = Client::new(url);
        let op = anon
            .setup(&SetupRequest {
                code: code.to_string(),
                org_name: "Ops".into(),
                email: "op@load.example".into(),
                name: "Op".into(),
                password: PASSWORD.into(),
            })
            .expect("the setup through the API");
        let operator = anon.with_token(op.token);
        let sign_up = |kind: &str, org: &str, email: &str| {
            let s = anon
                .signup(&SignupRequest {
                    org_kind: kind.into(),
                    org_name: org.into(),
                    email: email.into(),
                    name: org.into(),
                    password: PASSWORD.into(),
                })
                .expect("the setup through the API");
            (
                anon.with_token(s.token),
                s.me.memberships
                    .first()
                    .expect("a founding membership")
                    .org
                    .clone(),
            )
        };
        let (owner, owner_org) = sign_up("property", "Load Co-op", "owner@load.example");
        let claimed = owner
            .claim_property(&ClaimPropertyRequest {
                org: owner_org,
                name: "Load tower".into(),
                address: "1 Load Street, Springfield".into(),
                time_zone: "Europe/Paris".into(),
                custody: "custodial".into(),
                public_key: None,
            })
            .expect("the setup through the API");
        let property = operator
            .verify_property(&claimed.id, "checked")
            .expect("the setup through the API")
            .id;
        owner
            .add_unit(&property, "1A")
            .expect("the setup through the API");
        let (installer, _) = sign_up("installer", "Load Installers", "i@load.example");
        let (carrier, carrier_org) = sign_up("carrier", "Load Parcel", "c@load.example");
        carrier
            .set_carrier_key(
                &carrier_org,
                &CarrierKeyRequest {
                    public_key: None,
                    custodial: true,
                },
            )
            .expect("the setup through the API");
        let driver = SecretKey::generate(&mut rand::rngs::OsRng);
        let driver_id = carrier
            .add_driver(
                &carrier_org,
                &CreateDriverRequest {
                    name: "Driver".into(),
                    public_key: driver.public().to_string(),
                },
            )
            .expect("the setup through the API")
            .id;
        RemoteCast {
            url: url.to_string(),
            manager: owner,
            installer,
            carrier,
            carrier_org,
            driver,
            driver_id,
            property,
        }
    }
}

/// The public log's verifier key, as the server at `url` serves it (`GET /log/key`).
pub fn log_key(url: &str) -> String {
    let r = Client::new(url)
        .raw("GET", "/log/key", None, None)
        .expect("the log key");
    String::from_utf8_lossy(&r.body).trim().to_string()
}

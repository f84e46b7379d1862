//! The OpenAPI 3.1 document of the API, generated from the handlers' `#[utoipa::path]`
//! annotations and the wire types in `doorman-proto`, served at `/api/v1/openapi.json`.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The bearer scheme: a session token (`POST /api/v1/sessions`) or an API token.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token (dms_…, from POST /api/v1/sessions; also sent as the doorman_session cookie) or an API token (dmt_…)"))
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Doorman control plane",
        description = "Accounts, organisations, properties, installations with owner consent, carrier authorizations, passes, the owner's switch and revocations. Errors are RFC 9457 problem details with a stable code (doorman_proto::codes). Someone who may not know a thing exists gets 404, as for a thing that does not exist.",
        license(name = "Apache-2.0")
    ),
    paths(
        super::auth::setup,
        super::auth::signup,
        super::auth::sign_in,
        super::auth::sign_out,
        super::auth::me,
        super::auth::accept_invitation,
        super::authorizations::authorize_carrier,
        super::doors::challenge,
        super::doors::unlock,
        super::doors::events,
        super::doors::devices,
        super::authorizations::list,
        super::authorizations::list_for_property,
        super::authorizations::show,
        super::authorizations::revoke,
        super::authorizations::passes,
        super::authorizations::mint,
        super::installations::list,
        super::installations::file,
        super::installations::show,
        super::installations::activation,
        super::installations::activation_config,
        super::installations::upload_activation_config,
        super::installations::upload_evidence,
        super::installations::evidence,
        super::installations::approve,
        super::installations::reject,
        super::installations::revoke,
        super::installations::decommission,
        super::orgs::list,
        super::orgs::create,
        super::orgs::show,
        super::orgs::members,
        super::orgs::remove_member,
        super::orgs::invitations,
        super::orgs::invite,
        super::orgs::cancel_invitation,
        super::orgs::tokens,
        super::orgs::create_token,
        super::orgs::revoke_token,
        super::orgs::set_carrier_key,
        super::orgs::drivers,
        super::orgs::add_driver,
        super::orgs::remove_driver,
        super::orgs::carriers,
        super::properties::list,
        super::properties::claim,
        super::properties::show,
        super::properties::verify,
        super::properties::reject,
        super::properties::doors,
        super::properties::add_door,
        super::properties::remove_door,
        super::properties::units,
        super::properties::add_unit,
        super::properties::remove_unit,
        super::properties::residents,
        super::properties::invite_resident,
        super::properties::remove_resident,
        super::properties::service,
        super::properties::change_service,
        super::properties::signed_service,
        super::properties::signed_revocations,
        super::properties::upload_service,
        super::properties::upload_revocations,
        super::properties::revocations,
        super::properties::revoke_id,
        super::properties::access_log,
        super::properties::access_proof,
    ),
    modifiers(&Bearer),
    tags(
        (name = "accounts", description = "Setup, sign-up, sign-in, invitations"),
        (name = "organisations", description = "Members, API tokens, carrier keys, drivers"),
        (name = "properties", description = "Claims, verification, doors, units, residents"),
        (name = "service", description = "The owner's switch, revocations, signed device state"),
        (name = "installations", description = "Installation requests and consents"),
        (name = "authorizations", description = "Carrier authorizations and passes"),
        (name = "access log", description = "The property's private log")
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document as JSON.
pub fn document() -> String {
    ApiDoc::openapi().to_json().unwrap_or_default()
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn serve() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let body = DOC.get_or_init(document).clone();
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

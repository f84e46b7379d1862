//! The API guide stays true: every stable error code is in docs/api.md's table with its
//! status, and the OpenAPI document is 3.1 and names every operation's errors.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use doorman_proto::codes::Code;

#[test]
fn every_error_code_is_documented_with_its_status() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).unwrap();
    for code in Code::ALL {
        let row = format!("| `{}` | {} |", code.as_str(), code.status());
        assert!(doc.contains(&row), "docs/api.md lacks the row {row:?}");
    }
}

#[test]
fn the_openapi_document_is_3_1_and_every_operation_documents_errors() {
    let doc: serde_json::Value =
        serde_json::from_str(&doorman_server::api::openapi::document()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if path.ends_with("openapi.json") {
                continue;
            }
            assert!(
                op["responses"].get("4XX").is_some(),
                "{method} {path} documents no 4XX problem"
            );
        }
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

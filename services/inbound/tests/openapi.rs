//! hub-inbound's HTTP API as published: the OpenAPI document its handlers generate parses
//! as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-inbound.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-inbound --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_inbound::http::openapi();
    let published = check("hub-inbound", &api, json!([{"serviceCredential": []}]));
    assert_eq!(
        published.operations,
        ["GET /api/v1/exchange-log", "GET /api/v1/openapi.json"]
    );
    assert!(
        published
            .document
            .pointer("/components/schemas/ChainedRow")
            .is_some()
    );
}

//! The indicators' HTTP API as published: the OpenAPI document its handlers generate parses
//! as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-indicators.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-indicators --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_indicators::http::openapi();
    let published = check("hub-indicators", &api, json!([{"serviceCredential": []}]));
    assert_eq!(
        published.operations,
        [
            "GET /api/v1/indicators/{id}/history",
            "GET /api/v1/openapi.json",
            "GET /api/v1/plan",
            "GET /api/v1/plans",
            "GET /api/v1/snapshots",
            "GET /api/v1/snapshots/{version}",
            "GET /api/v1/snapshots/{version}/export",
            "GET /api/v1/snapshots/{version}/units/{code}",
            "POST /api/v1/snapshots",
        ]
    );
    // a snapshot is described by the published contract's own schema
    assert!(
        published
            .document
            .pointer("/components/schemas/IndicatorSnapshot")
            .is_some()
    );
}

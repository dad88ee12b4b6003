//! The reconciler's HTTP API as published: the OpenAPI document its handlers generate parses
//! as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-reconciler.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-reconciler --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_reconciler::http::openapi();
    let published = check("hub-reconciler", &api, json!([{"serviceCredential": []}]));
    let ops = &published.operations;
    for expected in [
        "GET /api/v1/cooperatives",
        "POST /api/v1/cooperatives/merge",
        "GET /api/v1/cooperatives/{id}",
        "POST /api/v1/cooperatives/{id}/split",
        "GET /api/v1/review",
        "POST /api/v1/review/{id}/link",
        "POST /api/v1/review/{id}/separate",
        "GET /api/v1/log",
        "GET /api/v1/log/stream",
        "GET /api/v1/status",
        "GET /api/v1/openapi.json",
    ] {
        assert!(
            ops.contains(&expected.to_owned()),
            "{expected} missing: {ops:?}"
        );
    }
    assert_eq!(ops.len(), 11, "{ops:?}");
    // the published message types are described by their contracts' own schemas
    for name in ["GoldenRecord", "ReconciliationDecision", "ReviewItem"] {
        assert!(
            published
                .document
                .pointer(&format!("/components/schemas/{name}"))
                .is_some(),
            "{name} not among the components"
        );
    }
}

//! The console's operator API as published: the OpenAPI document its handlers generate
//! parses as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-console.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-console --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_console::api::openapi();
    let published = check(
        "hub-console",
        &api,
        json!([{"bearerToken": []}, {"sessionCookie": []}]),
    );
    let ops = &published.operations;
    assert_eq!(ops.len(), 30, "{ops:?}");
    for expected in [
        "POST /api/v1/auth/token",
        "POST /api/v1/review/{id}/{decision}",
        "POST /api/v1/dlq/{queue}/{id}/{action}",
        "GET /api/v1/snapshots/{version}/export",
        "GET /api/v1/openapi.json",
    ] {
        assert!(ops.contains(&expected.to_owned()), "{expected} missing");
    }
    // the login is the one operation without a credential
    assert_eq!(
        published.document["paths"]["/api/v1/auth/token"]["post"]["security"],
        json!([{}])
    );
}

//! The console's operator API as published: the OpenAPI document its handlers generate
//! parses as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-console.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-console --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_console::api::openapi();
    assert!(api.problems.is_empty(), "generation: {:?}", api.problems);
    let doc = &*api.document;
    let text = serde_json::to_string(doc).expect("serialisable");
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    assert_eq!(spec.openapi, "3.1.0");
    let ops: Vec<String> = spec
        .operations()
        .map(|(path, method, _)| format!("{method} {path}"))
        .collect();
    assert_eq!(ops.len(), 29, "{ops:?}");
    for expected in [
        "POST /api/v1/auth/token",
        "POST /api/v1/review/{id}/{decision}",
        "POST /api/v1/dlq/{queue}/{id}/{action}",
        "GET /api/v1/snapshots/{version}/export",
        "GET /api/v1/openapi.json",
    ] {
        assert!(ops.contains(&expected.to_owned()), "{expected} missing");
    }
    assert_eq!(hub_contracts::openapi::problems(doc), Vec::<String>::new());
    assert_eq!(
        doc["security"],
        serde_json::json!([{"bearerToken": []}, {"sessionCookie": []}])
    );
    // the login is the one operation without a credential
    assert_eq!(
        doc["paths"]["/api/v1/auth/token"]["post"]["security"],
        serde_json::json!([{}])
    );
    hub_contracts::openapi::verify("hub-console", doc).unwrap_or_else(|e| panic!("{e}"));
}

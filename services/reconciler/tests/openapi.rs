//! The reconciler's HTTP API as published: the OpenAPI document its handlers generate parses
//! as OpenAPI 3.1 (oas3), declares every path parameter, equals the committed
//! `contracts/openapi/hub-reconciler.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-reconciler --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path.

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_reconciler::http::openapi();
    assert!(api.problems.is_empty(), "generation: {:?}", api.problems);
    let doc = &*api.document;
    let text = serde_json::to_string(doc).expect("serialisable");
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    assert_eq!(spec.openapi, "3.1.0");
    let ops: Vec<String> = spec
        .operations()
        .map(|(path, method, _)| format!("{method} {path}"))
        .collect();
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
    assert_eq!(hub_contracts::openapi::problems(doc), Vec::<String>::new());
    // the published message types are described by their contracts' own schemas
    for name in ["GoldenRecord", "ReconciliationDecision", "ReviewItem"] {
        assert!(
            doc.pointer(&format!("/components/schemas/{name}"))
                .is_some(),
            "{name} not among the components"
        );
    }
    assert_eq!(
        doc["security"],
        serde_json::json!([{"serviceCredential": []}])
    );
    hub_contracts::openapi::verify("hub-reconciler", doc).unwrap_or_else(|e| panic!("{e}"));
}

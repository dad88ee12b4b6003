//! The pull adapters' HTTP API as published (`POST /api/v1/sync`): the OpenAPI document the
//! route generates parses as OpenAPI 3.1 (oas3), equals the committed
//! `contracts/openapi/hub-adapter.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-adapter-kit --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path. (The file
//! sources' upload API is checked by hub-adapter-farmers-union's `tests/openapi.rs`.)

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_adapter_kit::runner::sync_openapi();
    assert!(api.problems.is_empty(), "generation: {:?}", api.problems);
    let doc = &*api.document;
    let text = serde_json::to_string(doc).expect("serialisable");
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    assert_eq!(spec.openapi, "3.1.0");
    let mut ops: Vec<String> = spec
        .operations()
        .map(|(path, method, _)| format!("{method} {path}"))
        .collect();
    ops.sort();
    assert_eq!(ops, ["GET /api/v1/openapi.json", "POST /api/v1/sync"]);
    assert_eq!(hub_contracts::openapi::problems(doc), Vec::<String>::new());
    assert_eq!(
        doc["security"],
        serde_json::json!([{"serviceCredential": []}])
    );
    hub_contracts::openapi::verify("hub-adapter", doc).unwrap_or_else(|e| panic!("{e}"));
}

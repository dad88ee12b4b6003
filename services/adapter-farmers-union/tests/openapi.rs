//! The upload API as published (`POST /api/v1/upload`, `GET /api/v1/uploads`, the adapter
//! kit's file source kind, run by this adapter): the OpenAPI document the handlers generate
//! parses as OpenAPI 3.1 (oas3), equals the committed `contracts/openapi/hub-adapter-file.json`
//! and changes it only compatibly. If this fails: "out of date": run
//! `HUB_UPDATE_OPENAPI=1 cargo test -p hub-adapter-farmers-union --test openapi` and commit;
//! "breaking": make the change compatible, or publish it under a new path.

use hub_adapter_farmers_union::FarmersUnion;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_adapter_kit::file::upload_openapi::<FarmersUnion>();
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
    assert_eq!(
        ops,
        [
            "GET /api/v1/openapi.json",
            "GET /api/v1/uploads",
            "POST /api/v1/upload"
        ]
    );
    assert_eq!(hub_contracts::openapi::problems(doc), Vec::<String>::new());
    let upload = &doc["paths"]["/api/v1/upload"]["post"];
    assert!(upload["requestBody"]["content"]["application/octet-stream"].is_object());
    assert!(upload["responses"]["422"].is_object());
    assert!(doc.pointer("/components/schemas/UploadReport").is_some());
    assert_eq!(doc["security"], serde_json::json!([{"uploaderToken": []}]));
    hub_contracts::openapi::verify("hub-adapter-file", doc).unwrap_or_else(|e| panic!("{e}"));
}

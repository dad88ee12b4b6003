//! The upload API as published (`POST /api/v1/upload`, `GET /api/v1/uploads`, the adapter
//! kit's file source kind, run by this adapter): the OpenAPI document the handlers generate
//! parses as OpenAPI 3.1 (oas3), equals the committed `contracts/openapi/hub-adapter-file.json`
//! and changes it only compatibly. If this fails: "out of date": run
//! `HUB_UPDATE_OPENAPI=1 cargo test -p hub-adapter-farmers-union --test openapi` and commit;
//! "breaking": make the change compatible, or publish it under a new path.

use hub_adapter_farmers_union::FarmersUnion;
use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_adapter_kit::file::upload_openapi::<FarmersUnion>();
    let published = check("hub-adapter-file", &api, json!([{"uploaderToken": []}]));
    assert_eq!(
        published.operations,
        [
            "GET /api/v1/openapi.json",
            "GET /api/v1/uploads",
            "POST /api/v1/upload"
        ]
    );
    let doc = &*published.document;
    let upload = &doc["paths"]["/api/v1/upload"]["post"];
    assert!(upload["requestBody"]["content"]["application/octet-stream"].is_object());
    assert!(upload["responses"]["422"].is_object());
    assert!(doc.pointer("/components/schemas/UploadReport").is_some());
}

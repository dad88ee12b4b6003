//! The pull adapters' HTTP API as published (`POST /api/v1/sync`): the OpenAPI document the
//! route generates parses as OpenAPI 3.1 (oas3), equals the committed
//! `contracts/openapi/hub-adapter.json` and changes it only compatibly. If this fails:
//! "out of date": run `HUB_UPDATE_OPENAPI=1 cargo test -p hub-adapter-kit --test openapi` and
//! commit; "breaking": make the change compatible, or publish it under a new path. (The file
//! sources' upload API is checked by hub-adapter-farmers-union's `tests/openapi.rs`.)

use hub_test_support::openapi::check;
use serde_json::json;

#[test]
fn openapi_document_is_valid_committed_and_compatible() {
    let api = hub_adapter_kit::runner::sync_openapi();
    let published = check("hub-adapter", &api, json!([{"serviceCredential": []}]));
    assert_eq!(
        published.operations,
        ["GET /api/v1/openapi.json", "POST /api/v1/sync"]
    );
}

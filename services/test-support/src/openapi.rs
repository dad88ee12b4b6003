//! The check every service's `tests/openapi.rs` makes of its API's OpenAPI document, in one
//! place: generated without problems, parses as OpenAPI 3.1 (oas3), sound by
//! [`hub_contracts::openapi::problems`] (every path parameter declared, every operation
//! answered), the expected global security, and equal to the committed
//! `contracts/openapi/<service>.json` and compatible with it
//! ([`hub_contracts::openapi::verify`]). The tests then assert what is their API's own (its
//! operations, its components).
//!
//! Owns none of those rules (they are hub-contracts' and oas3's); it only runs them.

use std::sync::Arc;

use hub_runtime::openapi::Finished;
use serde_json::Value;

/// An API's OpenAPI document that passed [`check`].
pub struct Published {
    /// The generated document.
    pub document: Arc<Value>,
    /// Its operations as `METHOD /path`, sorted.
    pub operations: Vec<String>,
}

/// Checks the OpenAPI document of `service` (the committed file's name), generated with `api`,
/// whose global `security` must be `security`; panics, failing the test, naming what is
/// wrong. If it fails with "out of date": run the test with `HUB_UPDATE_OPENAPI=1` and
/// commit; "breaking": make the change compatible, or publish it under a new path.
pub fn check<S>(service: &str, api: &Finished<S>, security: Value) -> Published {
    assert!(api.problems.is_empty(), "generation: {:?}", api.problems);
    let doc = &*api.document;
    let text = serde_json::to_string(doc).expect("serialisable");
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not OpenAPI 3.1: {e}"));
    assert_eq!(spec.openapi, "3.1.0");
    let mut operations: Vec<String> = spec
        .operations()
        .map(|(path, method, _)| format!("{method} {path}"))
        .collect();
    operations.sort();
    assert_eq!(hub_contracts::openapi::problems(doc), Vec::<String>::new());
    assert_eq!(doc["security"], security, "global security");
    hub_contracts::openapi::verify(service, doc).unwrap_or_else(|e| panic!("{e}"));
    Published {
        document: api.document.clone(),
        operations,
    }
}

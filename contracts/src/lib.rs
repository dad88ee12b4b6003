//! # hub-contracts: the hub's public API
//!
//! Everything that crosses a RabbitMQ exchange is a [`Envelope`] (CloudEvents 1.0,
//! structured JSON mode) around a payload from a versioned module ([`v1`], [`v2`]). The
//! envelope's `type` names the payload and its version (`indicator.snapshot.v1`), and each
//! payload type implements [`Contract`], which ties the Rust type to that name, to its
//! routing key and to its JSON Schema (committed under `contracts/schemas/`).
//!
//! Rules this crate keeps (checked by `tests/schemas.rs`):
//! - a published version never changes incompatibly: no field removed, retyped or made
//!   required; a breaking change is a new module (`v2`) and a new `type`;
//! - readers tolerate unknown fields (no `deny_unknown_fields` anywhere);
//! - the committed schemas are exactly what the types generate.
//!
//! [`openapi`] keeps the services' HTTP APIs (their OpenAPI documents, committed under
//! `contracts/openapi/`) compatible the same way.
//!
//! This crate owns no I/O but its own committed files: no broker, no database, no HTTP.
//! Services depend on it; it depends on none of them.

pub mod compat;
pub mod envelope;
pub mod openapi;
pub mod registry;
pub mod v1;
pub mod v2;

pub use envelope::{Envelope, EnvelopeError, RawEnvelope};
pub use registry::{Contract, ContractInfo, all_contracts, find_contract};

/// The `source` URI prefix of every event the hub itself emits.
pub const HUB_SOURCE_PREFIX: &str = "urn:coophub";

/// Stable lowercase hex SHA-256 of a JSON value's canonical form (object keys sorted, no
/// insignificant white space). Used for content hashes and deterministic ids.
pub fn content_hash(value: &serde_json::Value) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hex::encode(hasher.finalize())
}

fn write_canonical(value: &serde_json::Value, out: &mut impl sha2::Digest) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            out.update(b"{");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                out.update(Value::String(k.clone()).to_string().as_bytes());
                out.update(b":");
                write_canonical(&map[k], out);
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_canonical(v, out);
            }
            out.update(b"]");
        }
        other => out.update(other.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn content_hash_ignores_key_order_but_not_values() {
        let a = json!({"b": 1, "a": [1, {"y": true, "x": null}]});
        let b = json!({"a": [1, {"x": null, "y": true}], "b": 1});
        let c = json!({"a": [1, {"x": null, "y": false}], "b": 1});
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
        assert_eq!(content_hash(&a).len(), 64);
    }
}

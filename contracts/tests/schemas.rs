//! The committed schemas are the published API: they must equal what the types generate, and
//! the types may only change compatibly. If this fails:
//! - "out of date": run `cargo run -p hub-contracts --bin gen-schemas` and commit;
//! - "breaking": make the change compatible, or publish a new version (`v2`).

use std::path::PathBuf;

use hub_contracts::{all_contracts, compat::breaking_changes, registry::schema_file_name};

fn committed(type_name: &str) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema_file_name(type_name));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run gen-schemas and commit", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn published_contracts_stay_backward_compatible() {
    let mut problems = Vec::new();
    for c in all_contracts() {
        for b in breaking_changes(&committed(c.type_name), &(c.schema)().to_value()) {
            problems.push(format!("{}: {b}", c.type_name));
        }
    }
    assert!(
        problems.is_empty(),
        "breaking changes to published contracts:\n{}",
        problems.join("\n")
    );
}

#[test]
fn committed_schemas_equal_generated_ones() {
    let mut stale = Vec::new();
    for c in all_contracts() {
        if committed(c.type_name) != (c.schema)().to_value() {
            stale.push(c.type_name);
        }
    }
    assert!(
        stale.is_empty(),
        "schemas out of date (run `cargo run -p hub-contracts --bin gen-schemas`): {stale:?}"
    );
}

#[test]
fn every_schema_file_is_a_published_contract() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let known: Vec<String> = all_contracts()
        .iter()
        .map(|c| schema_file_name(c.type_name))
        .collect();
    for entry in std::fs::read_dir(&dir).expect("contracts/schemas exists") {
        let name = entry
            .expect("readable dir")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            known.contains(&name),
            "{name} in contracts/schemas is no published contract (a removed contract is a breaking change)"
        );
    }
}

#[test]
fn asyncapi_lists_every_contract() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("asyncapi.yaml");
    let text = std::fs::read_to_string(&path).expect("contracts/asyncapi.yaml exists");
    for c in all_contracts() {
        assert!(
            text.contains(c.type_name),
            "asyncapi.yaml does not describe {}",
            c.type_name
        );
        assert!(
            text.contains(&format!("schemas/{}", schema_file_name(c.type_name))),
            "asyncapi.yaml does not reference the schema of {}",
            c.type_name
        );
    }
}

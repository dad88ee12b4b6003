//! The golden-record example the ecosystem's tools are tried on
//! (`contracts/examples/identity.golden_record.v1.json`): the engine reconciles a registry
//! record and a loan of the same cooperative, and the golden record it builds, in the
//! envelope the service publishes it in (`hub_reconciler::service::SOURCE`, the same
//! deterministic id), must equal the committed example, and be valid against the committed
//! schema. CI decodes that example with a consumer model Modelina generates from
//! `contracts/asyncapi.yaml` (`contracts/tools/check.mjs`). If this fails because the golden
//! record changed on purpose: `HUB_UPDATE_EXAMPLES=1 cargo test -p hub-reconciler --test
//! golden_example`, and commit.

mod common;

use std::path::PathBuf;

use common::*;
use hub_contracts::Envelope;
use hub_contracts::v1::{BorrowerType, GoldenRecord, OrgKind};
use hub_reconciler::engine::Engine;
use hub_reconciler::engine::observation::Observation;

fn golden_envelope() -> serde_json::Value {
    let mut e = Engine::new();
    let mut rec = registry(
        "LM-1",
        "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon",
        OrgKind::Htx,
        Some("6200123456"),
        BAN_HON,
        Some("Lò Văn Minh"),
        Some("0912345678"),
    );
    // the committed example's cooperative, established before its loan of July 2024
    rec.established_on = chrono::NaiveDate::from_ymd_opt(2024, 5, 17);
    e.observe(Observation::from_registry(&rec), now());
    let l = loan(
        "Q-1",
        "HTX NN DV Ban Hon",
        BorrowerType::Cooperative,
        Some("6200123456"),
        "Ban Hon, Tam Duong, Lai Chau",
        None,
        None,
    );
    let ch = e.observe(Observation::from_loan(&l), now());
    let id = *ch.identities.first().expect("an identity changed");
    let golden: GoldenRecord = e.current_golden(id, now()).expect("its golden record");
    assert_eq!(
        golden.source_refs.len(),
        2,
        "both records are one cooperative"
    );
    let env_id = Envelope::<()>::deterministic_id(&[
        "identity.golden_record",
        &golden.organisation_id.to_string(),
        &golden.version.to_string(),
    ]);
    let subject = golden.organisation_id.to_string();
    let mut env =
        Envelope::new(env_id, hub_reconciler::service::SOURCE, golden).with_subject(subject);
    env.time = now();
    serde_json::to_value(&env).expect("serialisable")
}

#[test]
fn golden_record_example_is_what_the_engine_builds() {
    let produced = golden_envelope();
    let schema_path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/schemas/identity.golden_record.v1.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&schema_path).expect("the committed schema"))
            .expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(&produced["data"])
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "the example breaks its schema: {errors:?}"
    );
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/examples/identity.golden_record.v1.json");
    let text = serde_json::to_string_pretty(&produced).expect("serialisable") + "\n";
    if std::env::var("HUB_UPDATE_EXAMPLES").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a directory")).expect("writable");
        std::fs::write(&path, &text).expect("writable");
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (HUB_UPDATE_EXAMPLES=1 writes it)", path.display()));
    assert_eq!(
        committed,
        text,
        "{} is not what the engine builds now",
        path.display()
    );
}

//! The registry adapter serving every province loaded (#17): with Lai Châu's and Điện Biên's
//! plan folders installed (`REFERENCE_DIRS`, read by `hub_runtime::units`), a Điện Biên record
//! keeps its commune and district, as a Lai Châu record does; a code of neither is flagged
//! naming both. Installing is once per process: every test here sees both provinces.

use std::path::Path;

use hub_adapter_coop_alliance::{SYSTEM, map};
use hub_contracts::v1::{SourceMeta, SourceRef};
use serde_json::{Value, json};

fn both() {
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans");
    hub_runtime::units::install(&[plans.join("lai-chau"), plans.join("dien-bien")])
        .expect("both plan folders install");
}

fn meta(raw: &Value) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(SYSTEM, raw["id"].as_str().unwrap_or("LM-1")),
        fetched_at: hub_adapter_kit::source::now_vn(),
        content_hash: hub_contracts::content_hash(raw),
        raw: raw.clone(),
        issues: vec![],
    }
}

fn record(id: &str, commune: &str, district: &str) -> Value {
    json!({
        "id": id, "kind": "HTX", "name": "Hợp tác xã Nông nghiệp Mường Báng",
        "commune_code": commune, "district_code": district,
        "address": "Bản Háng Tàu, xã Mường Báng, huyện Tủa Chùa, tỉnh Điện Biên",
        "status": "active", "updated_at": "2025-03-01T08:00:00+07:00", "version": 1
    })
}

#[test]
fn a_dien_bien_record_keeps_its_commune_and_district() {
    both();
    // Xã Mường Báng (Tủa Chùa), and the 2025 unit Sính Phình
    for (commune, district) in [("03250", "098"), ("03241", "098")] {
        let raw = record("LM-DB-1", commune, district);
        let c = map(&raw, meta(&raw)).expect("valid");
        assert_eq!(c.commune_code.as_deref(), Some(commune));
        assert_eq!(c.district_code.as_deref(), Some(district));
        assert!(c.meta.issues.is_empty(), "{:?}", c.meta.issues);
    }
}

#[test]
fn a_lai_chau_record_still_keeps_its_commune() {
    both();
    let raw = record("LM-LC-1", "03421", "106");
    let c = map(&raw, meta(&raw)).expect("valid");
    assert_eq!(c.commune_code.as_deref(), Some("03421"));
    assert_eq!(c.district_code.as_deref(), Some("106"));
    assert!(c.meta.issues.is_empty(), "{:?}", c.meta.issues);
}

#[test]
fn a_code_of_no_loaded_province_is_flagged_naming_them() {
    both();
    // 01001: a commune of Hà Nội, 001: a district of Hà Nội
    let raw = record("LM-X-1", "01001", "001");
    let c = map(&raw, meta(&raw)).expect("valid");
    assert_eq!(c.commune_code, None);
    assert_eq!(c.district_code, None);
    let text = serde_json::to_string(&c.meta.issues).expect("issues serialise");
    assert!(
        text.contains("not a Lai Châu or Điện Biên commune code (2024 or 2025 list)"),
        "{text}"
    );
    assert!(
        text.contains("not a Lai Châu or Điện Biên district code"),
        "{text}"
    );
}

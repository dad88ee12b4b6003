//! The exports indicator systems import, read back by maintained libraries: the DHIS2
//! `dataValueSets` payload validated against a JSON Schema written from DHIS2's documentation
//! (`tests/interchange/dhis2-dataValueSets.schema.json`), the SDMX-JSON message read by sdmx1
//! (PyPI) with the snapshot's values, through `tests/interchange/check.py` (CI installs
//! `sdmx1` and `jsonschema`; a missing library fails the test). The CSV starts with a BOM and
//! carries the provenance. The snapshot is computed from a small projection with fractional
//! percents (1/3), counts, no-data values and context values.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::indicator::{IndicatorSnapshot, SnapshotProvenance, SourceProvenance};
use hub_indicators::compute::{Inputs, compute};
use hub_indicators::export::Lang;
use hub_indicators::{Plan, UnitList, interchange, snapshot};
use serde_json::{Value, json};

fn golden(n: u128, commune: &str, grade: &str, established: &str) -> GoldenRecord {
    serde_json::from_value(json!({
        "organisation_id": uuid::Uuid::from_u128(n),
        "version": 1,
        "kind": "HTX",
        "name": format!("HTX {n}"),
        "commune_code": commune,
        "established_on": established,
        "status": "active",
        "farmers_union_supported": true,
        "member_households": 7 * n,
        "rating": {"year": 2024, "grade": grade},
        "key_officers": {"total": 3, "trained": n % 3},
        "in_registry": true,
        "source_refs": [{"system": "coop-alliance", "id": format!("LM-{n}")}],
        "updated_at": "2025-06-01T00:00:00Z",
    }))
    .expect("a golden record")
}

/// Communes of Lai Châu's the small projection lies in (two in one district).
const LAI_CHAU: [&str; 3] = ["03421", "03400", "03586"];
/// Communes of Điện Biên's: Mường Báng and Tủa Chùa (Tủa Chùa), Him Lam (Điện Biên Phủ).
const DIEN_BIEN: [&str; 3] = ["03250", "03217", "03127"];

fn snapshot_of(plan: &Plan, list: UnitList) -> IndicatorSnapshot {
    let communes = if plan.province_code == "11" {
        DIEN_BIEN
    } else {
        LAI_CHAU
    };
    let golden = vec![
        golden(1, communes[0], "good", "2024-05-01"),
        golden(2, communes[0], "weak", "2024-06-01"),
        golden(3, communes[1], "average", "2024-07-01"),
        golden(4, communes[2], "fair", "2025-01-01"),
    ];
    let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
    let units = compute(
        plan,
        list,
        as_of,
        Inputs {
            golden: &golden,
            loans: &[],
            ntm: &[],
        },
    );
    let provenance = SnapshotProvenance {
        sources: vec![SourceProvenance {
            system: "coop-alliance".into(),
            records: 4,
            last_sync: Some("2025-06-30T03:00:00Z".parse().expect("time")),
        }],
        reconciled_automatically: 4,
        awaiting_review: 0,
        automatic_share: Some(1.0),
    };
    let mut s = snapshot::build(plan, list, as_of, units, provenance);
    s.version = 3;
    s
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interchange")
}

/// Every number of `s` is a data value of the DHIS2 payload at its org unit and data element,
/// the payload validates against DHIS2's documented format, and sdmx1 reads the SDMX-JSON
/// message back with the same values (`check.py`).
fn exports_read_back(plan: &Plan, s: &IndicatorSnapshot, out: &Path) {
    let map = plan.dhis2.as_ref().expect("the plan maps to DHIS2");
    let list = &s.unit_list;
    let dhis2 = interchange::dhis2(map, s).expect("dhis2");
    let values = dhis2["dataValues"].as_array().expect("values");
    // every number of the snapshot is a data value, at its org unit and data element
    let mut expected = Vec::new();
    let mut n = 0;
    for u in &s.units {
        let org = &map.org_units[&(s.unit_list.clone(), u.unit_code.clone())];
        for v in &u.values {
            let e = &map.data_elements[&v.indicator];
            for (measure, x, element) in [
                ("VALUE", v.value, Some(&e.value)),
                ("NUMERATOR", v.numerator, e.numerator.as_ref()),
                ("DENOMINATOR", v.denominator, e.denominator.as_ref()),
            ] {
                let Some(x) = x else { continue };
                expected.push(json!({
                    "unit": u.unit_code, "indicator": v.indicator, "measure": measure,
                    "as_of": s.as_of.to_string(), "value": x,
                }));
                let Some(element) = element else { continue };
                n += 1;
                let dv = values
                    .iter()
                    .find(|d| d["orgUnit"] == org.as_str() && d["dataElement"] == element.as_str())
                    .unwrap_or_else(|| panic!("{} {} {measure}", u.unit_code, v.indicator));
                let read: f64 = dv["value"]
                    .as_str()
                    .expect("a string")
                    .parse()
                    .expect("a number");
                assert_eq!(read, x, "{} {} {measure}", u.unit_code, v.indicator);
                assert_eq!(dv["period"], "20250630");
                let comment = dv["comment"].as_str().expect("comment");
                assert!(comment.contains(&s.content_hash), "{comment}");
                assert!(comment.contains("coop-alliance 4 records"), "{comment}");
            }
        }
    }
    assert_eq!(values.len(), n, "nothing else");

    let sdmx = interchange::sdmx(plan, s);
    let header_id = format!("coophub-{}-{}-v3", plan.id, s.unit_list);
    let write = |name: &str, v: &Value| {
        let path = out.join(format!("{}-{name}", s.unit_list));
        std::fs::write(&path, serde_json::to_vec_pretty(v).expect("json")).expect("write");
        path
    };
    let dhis2_path = write("dhis2.json", &dhis2);
    let sdmx_path = write("sdmx.json", &sdmx);
    let expected_path = write(
        "expected.json",
        &json!({ "header_id": header_id, "observations": expected }),
    );
    let run = Command::new("python3")
        .arg(dir().join("check.py"))
        .arg(&dhis2_path)
        .arg(dir().join("dhis2-dataValueSets.schema.json"))
        .arg(&sdmx_path)
        .arg(&expected_path)
        .output()
        .expect("python3 runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "{list} list: check.py failed: {said}");
    assert!(said.contains("ok:"), "{said}");
}

#[test]
fn dhis2_and_sdmx_exports_read_back_with_the_snapshots_values() {
    let plan = Plan::builtin().expect("plan");
    let out = std::env::temp_dir().join(format!("coophub-interchange-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("temp dir");
    for list in UnitList::ALL {
        let s = snapshot_of(&plan, list);
        // the snapshot is not trivial: a fraction, a count, no data
        let p = &s.units[0].values;
        assert_eq!(p[2].numerator, Some(2.0), "I3: 2 of 4 fair or good");
        assert_eq!(p[8].value, Some(100.0 * 4.0 / 12.0), "I9: 4 of 12 trained");
        exports_read_back(&plan, &s, &out);
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// Điện Biên's plan, read from its folder alone (its own indicators, units and DHIS2
/// mapping, `deploy/plans/dien-bien/dhis2.toml`: illustrative identifiers), exports the same
/// way: every number at its own org unit and data element, checked against DHIS2's format,
/// and read back by sdmx1.
#[test]
fn dien_biens_snapshot_exports_from_its_own_mapping() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans/dien-bien");
    let plan = Plan::load(&folder).expect("Điện Biên's plan");
    let map = plan.dhis2.as_ref().expect("Điện Biên's plan maps to DHIS2");
    assert_eq!(map.data_set.as_deref(), Some("DbCoop182DS"));
    let out = std::env::temp_dir().join(format!("coophub-interchange-db-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("temp dir");
    for (list, units) in [
        (UnitList::Units2024, 1 + 10 + 129),
        (UnitList::Units2025, 1 + 45),
    ] {
        let s = snapshot_of(&plan, list);
        assert_eq!(
            (s.plan_id.as_str(), s.units.len()),
            ("dien-bien-182", units)
        );
        let p = &s.units[0].values;
        assert_eq!(p[0].indicator, "HTX-MOI");
        assert_eq!(
            p[0].value,
            Some(4.0),
            "four new supported HTX since 2024-04-01"
        );
        assert_eq!(
            (p[1].numerator, p[1].denominator),
            (Some(2.0), Some(4.0)),
            "HTX-KHA: 2 of 4 fair or good"
        );
        let dhis2 = interchange::dhis2(map, &s).expect("dhis2");
        let values = dhis2["dataValues"].as_array().expect("values");
        assert!(!values.is_empty());
        assert_eq!(dhis2["dataSet"], "DbCoop182DS");
        // Điện Biên's own org units and data elements, none of Lai Châu's
        assert!(values.iter().all(|v| {
            v["orgUnit"].as_str().is_some_and(|o| o.starts_with("Db"))
                && v["dataElement"]
                    .as_str()
                    .is_some_and(|e| e.starts_with("Db"))
        }));
        assert!(
            values
                .iter()
                .any(|v| v["orgUnit"] == "DbP00000011" && v["dataElement"] == "DbHtxMoValu"),
            "the province's HTX-MOI"
        );
        exports_read_back(&plan, &s, &out);
    }
    let _ = std::fs::remove_dir_all(&out);
}

/// The checker is not a rubber stamp: a payload DHIS2 would refuse (a name where a UID goes,
/// a number where a string goes) and an SDMX value off by a little are refused.
#[test]
fn the_checker_refuses_a_bad_payload_and_a_wrong_value() {
    let plan = Plan::builtin().expect("plan");
    let map = plan.dhis2.as_ref().expect("mapping");
    let s = snapshot_of(&plan, UnitList::Units2024);
    let out = std::env::temp_dir().join(format!("coophub-interchange-bad-{}", std::process::id()));
    std::fs::create_dir_all(&out).expect("temp dir");
    let mut dhis2 = interchange::dhis2(map, &s).expect("dhis2");
    let sdmx = interchange::sdmx(&plan, &s);
    let good_expected = json!({ "header_id": "coophub-lai-chau-182-2024-v3", "observations": [] });
    let check = |dhis2: &Value, sdmx: &Value, expected: &Value| {
        for (name, v) in [("d.json", dhis2), ("s.json", sdmx), ("e.json", expected)] {
            std::fs::write(out.join(name), serde_json::to_vec(v).expect("json")).expect("write");
        }
        let run = Command::new("python3")
            .arg(dir().join("check.py"))
            .arg(out.join("d.json"))
            .arg(dir().join("dhis2-dataValueSets.schema.json"))
            .arg(out.join("s.json"))
            .arg(out.join("e.json"))
            .output()
            .expect("python3 runs");
        (
            run.status.success(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    };
    dhis2["dataValues"][0]["orgUnit"] = json!("Tỉnh Lai Châu");
    dhis2["dataValues"][1]["value"] = json!(3);
    let (ok, said) = check(&dhis2, &sdmx, &good_expected);
    assert!(!ok && said.contains("DHIS2 payload invalid"), "{said}");
    // a valid payload, but one SDMX observation off by 0.001
    let dhis2 = interchange::dhis2(map, &s).expect("dhis2");
    let mut sdmx_off = sdmx.clone();
    let series = sdmx_off["dataSets"][0]["series"]
        .as_object_mut()
        .expect("series");
    let first = series.values_mut().next().expect("a series");
    let x = first["observations"]["0"][0].as_f64().expect("number");
    first["observations"]["0"][0] = json!(x + 0.001);
    let expected: Vec<Value> = s
        .units
        .iter()
        .flat_map(|u| {
            u.values.iter().flat_map(move |v| {
                [
                    ("VALUE", v.value),
                    ("NUMERATOR", v.numerator),
                    ("DENOMINATOR", v.denominator),
                ]
                .into_iter()
                .filter_map(move |(m, x)| {
                    x.map(|x| {
                        json!({"unit": u.unit_code, "indicator": v.indicator,
                                         "measure": m, "as_of": "2025-06-30", "value": x})
                    })
                })
            })
        })
        .collect();
    let expected = json!({ "header_id": "coophub-lai-chau-182-2024-v3", "observations": expected });
    let (ok, said) = check(&dhis2, &sdmx, &expected);
    assert!(ok, "the untouched message passes: {said}");
    let (ok, said) = check(&dhis2, &sdmx_off, &expected);
    assert!(!ok && said.contains("SDMX values differ"), "{said}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_csv_starts_with_a_bom_and_carries_the_provenance() {
    let plan = Plan::builtin().expect("plan");
    let s = snapshot_of(&plan, UnitList::Units2025);
    for lang in [Lang::En, Lang::Vi] {
        let bytes = interchange::csv_with_bom(&plan, &s, lang).expect("csv");
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM first");
        let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let head = r.headers().expect("header").clone();
        let rows: Vec<csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
        assert_eq!(rows.len(), 1 + 38);
        let n = head.len();
        for row in &rows {
            assert_eq!(row.len(), n);
            assert_eq!(&row[n - 2], s.content_hash.as_str());
            assert!(
                row[n - 1].contains("coop-alliance 4 records"),
                "{}",
                &row[n - 1]
            );
            assert!(
                row[n - 3].contains("v3 as of 2025-06-30"),
                "{}",
                &row[n - 3]
            );
        }
        if lang == Lang::Vi {
            assert!(text.contains("Tỉnh Lai Châu"));
        }
    }
}

//! Exports that indicator systems import: DHIS2 `dataValueSets` (JSON), an SDMX-JSON 1.0 data
//! message, and CSV in UTF-8 with a byte-order mark (so that Excel shows Vietnamese), each
//! carrying the snapshot's provenance.
//!
//! - DHIS2: one data value per unit, indicator and measure (value, numerator, denominator) that
//!   has a number; data elements, org units and option combos from the plan's mapping
//!   ([`Dhis2Mapping`], plan data beside the plan file); the period is the as-of day
//!   (`yyyyMMdd`); each value's `comment` names the snapshot, its hash, status and sources.
//! - SDMX-JSON: series keyed by unit (`REF_AREA`), indicator (`INDICATOR`) and measure
//!   (`MEASURE`), one observation at the as-of day (`TIME_PERIOD`) with its status
//!   (`OBS_STATUS`) and unit of measure; provenance as data-set attributes.
//! - CSV: [`crate::export::csv`]'s layout behind a BOM, with the provenance columns appended.
//!
//! Owns these layouts and the mapping file's validation. Pure: bytes and JSON in memory.

use std::collections::BTreeMap;

use hub_contracts::v1::indicator::{IndicatorSnapshot, IndicatorValue, ValueStatus, ValueUnit};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::export::{ExportError, Lang};
use crate::plan::{Plan, PlanError};

/// The data elements of one indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dhis2Elements {
    pub value: String,
    #[serde(default)]
    pub numerator: Option<String>,
    #[serde(default)]
    pub denominator: Option<String>,
}

/// How a plan's units and indicators are known in DHIS2 (a mapping file beside the plan).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dhis2Mapping {
    pub data_set: Option<String>,
    pub category_option_combo: String,
    pub attribute_option_combo: String,
    /// Indicator id → its data elements.
    pub data_elements: BTreeMap<String, Dhis2Elements>,
    /// (unit list, unit code) → org unit.
    #[serde(skip)]
    pub org_units: BTreeMap<(String, String), String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(default)]
    data_set: Option<String>,
    category_option_combo: String,
    attribute_option_combo: String,
    org_units: String,
    data_elements: BTreeMap<String, Dhis2Elements>,
}

#[derive(Debug, Deserialize)]
struct OrgUnitRow {
    unit_list: String,
    unit_code: String,
    org_unit: String,
}

/// A DHIS2 UID: a letter, then 10 letters or digits.
pub fn is_uid(s: &str) -> bool {
    s.len() == 11
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| c.is_ascii_alphanumeric())
}

impl Dhis2Mapping {
    /// Parses and validates a mapping file against `plan` (every indicator and every unit of
    /// both lists mapped, every identifier a UID); `read` gives the org-unit file by the path
    /// the mapping names.
    pub fn parse(
        text: &str,
        file: &str,
        plan: &Plan,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Dhis2Mapping, PlanError> {
        let err = |field: &str, problem: String| PlanError {
            file: file.to_owned(),
            field: field.to_owned(),
            problem,
        };
        let raw: RawMapping =
            crate::plan::toml_from_str(text).map_err(|(field, problem)| err(&field, problem))?;
        let uid = |field: &str, s: &str| {
            if is_uid(s) {
                Ok(())
            } else {
                Err(err(
                    field,
                    format!(
                        "expected a DHIS2 UID (a letter, then 10 letters or digits), got {s:?}"
                    ),
                ))
            }
        };
        if let Some(ds) = &raw.data_set {
            uid("data_set", ds)?;
        }
        uid("category_option_combo", &raw.category_option_combo)?;
        uid("attribute_option_combo", &raw.attribute_option_combo)?;
        for ind in &plan.indicators {
            let id = ind.id.as_str();
            let e = raw
                .data_elements
                .get(id)
                .ok_or_else(|| err("data_elements", format!("{id} has no data elements")))?;
            uid(&format!("data_elements.{id}.value"), &e.value)?;
            for (name, x) in [("numerator", &e.numerator), ("denominator", &e.denominator)] {
                if let Some(x) = x {
                    uid(&format!("data_elements.{id}.{name}"), x)?;
                }
            }
        }
        let text = read(&raw.org_units).map_err(|p| err("org_units", p))?;
        let mut org_units = BTreeMap::new();
        for (i, row) in csv::Reader::from_reader(text.as_bytes())
            .deserialize::<OrgUnitRow>()
            .enumerate()
        {
            let at = format!("org_units ({} line {})", raw.org_units, i + 2);
            let row = row.map_err(|e| err(&at, e.to_string()))?;
            uid(&at, &row.org_unit)?;
            org_units.insert((row.unit_list, row.unit_code), row.org_unit);
        }
        for list in crate::plan::UnitList::ALL {
            for u in &plan.units(list).rows {
                if !org_units.contains_key(&(list.as_str().to_owned(), u.code.clone())) {
                    return Err(err(
                        "org_units",
                        format!(
                            "{}: unit {} of list {list} has no org unit",
                            raw.org_units, u.code
                        ),
                    ));
                }
            }
        }
        Ok(Dhis2Mapping {
            data_set: raw.data_set,
            category_option_combo: raw.category_option_combo,
            attribute_option_combo: raw.attribute_option_combo,
            data_elements: raw.data_elements,
            org_units,
        })
    }
}

/// The numbers shown: shortest exact text of the stored value.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn status_word(v: &IndicatorValue) -> &'static str {
    if v.context && v.value.is_some() {
        return "context";
    }
    match v.status {
        ValueStatus::Met => "met",
        ValueStatus::Behind => "behind",
        ValueStatus::NoData => "no_data",
        ValueStatus::NoSource => "no_source",
    }
}

/// One line naming the snapshot and where its inputs came from.
pub fn provenance_line(s: &IndicatorSnapshot) -> String {
    let sources: Vec<String> = s
        .provenance
        .sources
        .iter()
        .map(|p| {
            let at = p
                .last_sync
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| "never".into());
            format!("{} {} records (last sync {at})", p.system, p.records)
        })
        .collect();
    format!(
        "coophub snapshot {} plan {} units {} version {} as of {} baseline {} hash {}; sources: {}; reconciled automatically {}, awaiting review {}",
        s.snapshot_id,
        s.plan_id,
        s.unit_list,
        s.version,
        s.as_of,
        s.baseline,
        s.content_hash,
        if sources.is_empty() {
            "none".to_owned()
        } else {
            sources.join(", ")
        },
        s.provenance.reconciled_automatically,
        s.provenance.awaiting_review,
    )
}

/// The three measures of a value that have a number: (measure, number).
fn measures(v: &IndicatorValue) -> Vec<(&'static str, f64)> {
    [
        ("VALUE", v.value),
        ("NUMERATOR", v.numerator),
        ("DENOMINATOR", v.denominator),
    ]
    .into_iter()
    .filter_map(|(m, x)| x.map(|x| (m, x)))
    .collect()
}

/// The snapshot as a DHIS2 `dataValueSets` payload (JSON). Units or indicators the mapping
/// lacks are an error naming them (a partial import would look complete).
pub fn dhis2(map: &Dhis2Mapping, s: &IndicatorSnapshot) -> Result<Value, ExportError> {
    let period = s.as_of.format("%Y%m%d").to_string();
    let provenance = provenance_line(s);
    let mut values = Vec::new();
    for u in &s.units {
        let org_unit = map
            .org_units
            .get(&(s.unit_list.clone(), u.unit_code.clone()))
            .ok_or_else(|| {
                ExportError::Mapping(format!(
                    "unit {} of list {} has no DHIS2 org unit",
                    u.unit_code, s.unit_list
                ))
            })?;
        for v in &u.values {
            let e = map.data_elements.get(&v.indicator).ok_or_else(|| {
                ExportError::Mapping(format!("{} has no DHIS2 data element", v.indicator))
            })?;
            for (measure, x) in measures(v) {
                let element = match measure {
                    "VALUE" => Some(&e.value),
                    "NUMERATOR" => e.numerator.as_ref(),
                    _ => e.denominator.as_ref(),
                };
                let Some(element) = element else { continue };
                values.push(json!({
                    "dataElement": element,
                    "period": period,
                    "orgUnit": org_unit,
                    "categoryOptionCombo": map.category_option_combo,
                    "attributeOptionCombo": map.attribute_option_combo,
                    "value": number(x),
                    "storedBy": "coophub-indicators",
                    "comment": format!("{} {measure} status {}; {provenance}", v.indicator, status_word(v)),
                    "followup": false,
                }));
            }
        }
    }
    let mut set = json!({
        "period": period,
        "attributeOptionCombo": map.attribute_option_combo,
        "completeDate": s.as_of.to_string(),
        "dataValues": values,
    });
    if let (Some(ds), Some(o)) = (&map.data_set, set.as_object_mut()) {
        o.insert("dataSet".into(), json!(ds));
    }
    Ok(set)
}

/// `{"id": …, "name": …}` for an SDMX-JSON value list.
fn coded(id: &str, name: &str) -> Value {
    json!({ "id": id, "name": name })
}

/// The snapshot as an SDMX-JSON 1.0 data message.
pub fn sdmx(plan: &Plan, s: &IndicatorSnapshot) -> Value {
    let units: Vec<Value> = s
        .units
        .iter()
        .map(|u| coded(&u.unit_code, &u.unit_name))
        .collect();
    let indicators: Vec<Value> = plan
        .indicators
        .iter()
        .map(|i| coded(i.id.as_str(), &i.name))
        .collect();
    let index: BTreeMap<&str, usize> = plan
        .indicators
        .iter()
        .enumerate()
        .map(|(i, x)| (x.id.as_str(), i))
        .collect();
    const MEASURES: [&str; 3] = ["VALUE", "NUMERATOR", "DENOMINATOR"];
    const STATUSES: [&str; 5] = ["met", "behind", "no_data", "no_source", "context"];
    let mut series = serde_json::Map::new();
    for (ui, u) in s.units.iter().enumerate() {
        for v in &u.values {
            let Some(&ii) = index.get(v.indicator.as_str()) else {
                continue;
            };
            let st = STATUSES
                .iter()
                .position(|x| *x == status_word(v))
                .unwrap_or(0);
            for (measure, x) in measures(v) {
                let mi = MEASURES.iter().position(|m| *m == measure).unwrap_or(0);
                let unit = usize::from(measure == "VALUE" && v.unit == ValueUnit::Percent);
                series.insert(
                    format!("{ui}:{ii}:{mi}"),
                    json!({ "attributes": [], "observations": { "0": [x, st, unit] } }),
                );
            }
        }
    }
    let prov = |id: &str, name: &str, value: String| json!({ "id": id, "name": name, "values": [{ "id": value.clone(), "name": value }] });
    let sources: Vec<String> = s
        .provenance
        .sources
        .iter()
        .map(|p| format!("{}={}", p.system, p.records))
        .collect();
    json!({
        "header": {
            "id": format!("coophub-{}-{}-v{}", s.plan_id, s.unit_list, s.version),
            "test": false,
            "prepared": s.computed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "sender": { "id": "COOPHUB", "name": "Cooperative data hub (hub-indicators)" },
        },
        "structure": {
            "name": format!("{} · {} · unit list {}", plan.name, plan.province_name, s.unit_list),
            "description": provenance_line(s),
            "dimensions": {
                "dataSet": [],
                "series": [
                    { "id": "REF_AREA", "name": "Administrative unit", "keyPosition": 0, "values": units },
                    { "id": "INDICATOR", "name": "Indicator", "keyPosition": 1, "values": indicators },
                    { "id": "MEASURE", "name": "Measure", "keyPosition": 2,
                      "values": MEASURES.iter().map(|m| coded(m, &m.to_lowercase())).collect::<Vec<_>>() },
                ],
                "observation": [
                    { "id": "TIME_PERIOD", "name": "As of", "keyPosition": 3, "role": "time",
                      "values": [{ "id": s.as_of.to_string(), "name": s.as_of.to_string(),
                                   "start": format!("{}T00:00:00", s.as_of),
                                   "end": format!("{}T23:59:59", s.as_of) }] },
                ],
            },
            "attributes": {
                "dataSet": [
                    prov("SNAPSHOT_ID", "Snapshot", s.snapshot_id.to_string()),
                    prov("SNAPSHOT_VERSION", "Version", s.version.to_string()),
                    prov("CONTENT_HASH", "Content hash (SHA-256)", s.content_hash.clone()),
                    prov("BASELINE", "Baseline", s.baseline.to_string()),
                    prov("SOURCES", "Sources (records)", sources.join(",")),
                ],
                "series": [],
                "observation": [
                    { "id": "OBS_STATUS", "name": "Status against the plan's target",
                      "values": STATUSES.iter().map(|x| coded(x, x)).collect::<Vec<_>>() },
                    { "id": "UNIT_MEASURE", "name": "Unit of measure",
                      "values": [coded("count", "count"), coded("percent", "percent")] },
                ],
            },
        },
        "dataSets": [{
            "action": "Information",
            "attributes": [0, 0, 0, 0, 0],
            "series": series,
        }],
    })
}

/// The CSV export ([`crate::export::csv`]) behind a UTF-8 byte-order mark, with the
/// snapshot's provenance in the last columns of every row.
pub fn csv_with_bom(
    plan: &Plan,
    s: &IndicatorSnapshot,
    lang: Lang,
) -> Result<Vec<u8>, ExportError> {
    let plain = crate::export::csv(plan, s, lang)?;
    let mut r = csv::Reader::from_reader(plain.as_slice());
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let mut head = r.headers()?.clone();
    let (snap, hash, prov) = match lang {
        Lang::En => ("Snapshot", "Content hash", "Provenance"),
        Lang::Vi => ("Phiên bản số liệu", "Mã băm nội dung", "Nguồn gốc số liệu"),
    };
    head.push_field(snap);
    head.push_field(hash);
    head.push_field(prov);
    w.write_record(&head)?;
    let name = format!(
        "{}/{} v{} as of {}",
        s.plan_id, s.unit_list, s.version, s.as_of
    );
    let line = provenance_line(s);
    for row in r.records() {
        let mut row = row?;
        row.push_field(&name);
        row.push_field(&s.content_hash);
        row.push_field(&line);
        w.write_record(&row)?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| ExportError::Io(e.into_error()))
}

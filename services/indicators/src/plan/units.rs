//! A plan's unit files (the pre- and post-2025 unit lists and the crosswalk between them),
//! validated, and the unit tables built from them.

use std::collections::{BTreeMap, BTreeSet};

use hub_contracts::v1::indicator::UnitLevel;
use hub_normalise::reference::{Commune2024, Commune2025, CrosswalkRow};
use serde::Deserialize;

use super::{PlanError, UnitList, UnitRow, UnitTable};

/// What a plan's `[units]` give.
pub(super) struct Units {
    pub(super) communes_2024: Vec<Commune2024>,
    pub(super) units_2024: UnitTable,
    pub(super) units_2025: UnitTable,
}

/// Reads and validates the unit files `[units]` names (`read` gives a file's text) and
/// builds the unit tables.
pub(super) fn read_units(
    u: &RawUnits,
    read: &dyn Fn(&str) -> Result<String, String>,
    err: &dyn Fn(&str, String) -> PlanError,
) -> Result<Units, PlanError> {
    if u.province_code.trim().is_empty() {
        return Err(err("units.province_code", "expected a code".into()));
    }
    let load_csv = |field: &str, rel: &str| -> Result<String, PlanError> {
        read(rel).map_err(|p| err(&format!("units.{field}"), p))
    };
    let communes_2024: Vec<Commune2024> = parse_csv(&load_csv("units_2024", &u.units_2024)?)
        .map_err(|p| err("units.units_2024", format!("{}: {p}", u.units_2024)))?;
    let communes_2025: Vec<Commune2025> = parse_csv(&load_csv("units_2025", &u.units_2025)?)
        .map_err(|p| err("units.units_2025", format!("{}: {p}", u.units_2025)))?;
    let crosswalk: Vec<CrosswalkRow> =
        parse_csv(&load_csv("crosswalk_2025", &u.crosswalk_2025)?)
            .map_err(|p| err("units.crosswalk_2025", format!("{}: {p}", u.crosswalk_2025)))?;
    if communes_2024.is_empty() {
        return Err(err(
            "units.units_2024",
            format!("{}: expected at least one commune", u.units_2024),
        ));
    }
    let mut codes = BTreeSet::new();
    for c in &communes_2024 {
        if !codes.insert(c.commune_code.as_str()) {
            return Err(err(
                "units.units_2024",
                format!(
                    "{}: commune {} is listed twice",
                    u.units_2024, c.commune_code
                ),
            ));
        }
    }
    let to_2025 = crosswalk_index(u, &codes, &communes_2024, &communes_2025, &crosswalk, err)?;
    let units_2024 = table_2024(&u.province_code, &u.province_name, &communes_2024);
    let units_2025 = table_2025(
        &u.province_code,
        &u.province_name,
        &communes_2024,
        &communes_2025,
        &to_2025,
    );
    Ok(Units {
        units_2024,
        units_2025,
        communes_2024,
    })
}

/// The crosswalk as pre-2025 commune → post-2025 unit, checked: every row joins a commune of
/// `units_2024` (`codes`) to a unit of `units_2025`, once, and every commune has a row.
fn crosswalk_index<'a>(
    u: &RawUnits,
    codes: &BTreeSet<&str>,
    communes_2024: &[Commune2024],
    communes_2025: &'a [Commune2025],
    crosswalk: &'a [CrosswalkRow],
    err: &dyn Fn(&str, String) -> PlanError,
) -> Result<BTreeMap<&'a str, &'a str>, PlanError> {
    let new_codes: BTreeSet<&str> = communes_2025
        .iter()
        .map(|c| c.commune_code.as_str())
        .collect();
    let mut to_2025: BTreeMap<&str, &str> = BTreeMap::new();
    for (i, row) in crosswalk.iter().enumerate() {
        let line = i + 2;
        if !codes.contains(row.old_commune_code.as_str()) {
            return Err(err(
                "units.crosswalk_2025",
                format!(
                    "{} line {line}: {} is not a commune of units_2024",
                    u.crosswalk_2025, row.old_commune_code
                ),
            ));
        }
        if !new_codes.contains(row.new_commune_code.as_str()) {
            return Err(err(
                "units.crosswalk_2025",
                format!(
                    "{} line {line}: {} is not a unit of units_2025",
                    u.crosswalk_2025, row.new_commune_code
                ),
            ));
        }
        if to_2025
            .insert(&row.old_commune_code, &row.new_commune_code)
            .is_some()
        {
            return Err(err(
                "units.crosswalk_2025",
                format!(
                    "{} line {line}: {} is listed twice (a pre-2025 commune merges into one unit)",
                    u.crosswalk_2025, row.old_commune_code
                ),
            ));
        }
    }
    if let Some(missing) = communes_2024
        .iter()
        .find(|c| !to_2025.contains_key(c.commune_code.as_str()))
    {
        return Err(err(
            "units.crosswalk_2025",
            format!(
                "{}: expected a row for every commune of units_2024; {} ({}) has none",
                u.crosswalk_2025, missing.commune_code, missing.commune_name
            ),
        ));
    }
    Ok(to_2025)
}

fn table_2024(province: &str, province_name: &str, communes: &[Commune2024]) -> UnitTable {
    let mut rows = vec![UnitRow {
        code: province.to_owned(),
        name: province_name.to_owned(),
        level: UnitLevel::Province,
        parent_code: None,
    }];
    let mut districts: BTreeMap<&str, &str> = BTreeMap::new();
    for c in communes {
        districts
            .entry(&c.district_code)
            .or_insert(&c.district_name);
    }
    let mut district_row = BTreeMap::new();
    for (code, name) in districts {
        district_row.insert(code, rows.len());
        rows.push(UnitRow {
            code: code.to_owned(),
            name: name.to_owned(),
            level: UnitLevel::District,
            parent_code: Some(province.to_owned()),
        });
    }
    let mut containing = BTreeMap::new();
    for c in communes {
        let mut within = vec![0];
        within.extend(district_row.get(c.district_code.as_str()).copied());
        within.push(rows.len());
        rows.push(UnitRow {
            code: c.commune_code.clone(),
            name: c.commune_name.clone(),
            level: UnitLevel::Commune,
            parent_code: Some(c.district_code.clone()),
        });
        containing.insert(c.commune_code.clone(), within);
    }
    UnitTable {
        list: UnitList::Units2024,
        rows,
        containing,
    }
}

fn table_2025(
    province: &str,
    province_name: &str,
    old: &[Commune2024],
    new: &[Commune2025],
    to_2025: &BTreeMap<&str, &str>,
) -> UnitTable {
    let mut rows = vec![UnitRow {
        code: province.to_owned(),
        name: province_name.to_owned(),
        level: UnitLevel::Province,
        parent_code: None,
    }];
    let mut index = BTreeMap::new();
    for c in new {
        index.insert(c.commune_code.as_str(), rows.len());
        rows.push(UnitRow {
            code: c.commune_code.clone(),
            name: c.commune_name.clone(),
            level: UnitLevel::Commune,
            parent_code: Some(province.to_owned()),
        });
    }
    let containing = old
        .iter()
        .map(|c| {
            let mut within = vec![0];
            within.extend(
                to_2025
                    .get(c.commune_code.as_str())
                    .and_then(|n| index.get(n))
                    .copied(),
            );
            (c.commune_code.clone(), within)
        })
        .collect();
    UnitTable {
        list: UnitList::Units2025,
        rows,
        containing,
    }
}

fn parse_csv<T: for<'de> Deserialize<'de>>(text: &str) -> Result<Vec<T>, String> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| e.to_string())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUnits {
    pub(super) province_code: String,
    pub(super) province_name: String,
    pub(super) units_2024: String,
    pub(super) units_2025: String,
    pub(super) crosswalk_2025: String,
    #[serde(default)]
    pub(super) reform: Option<String>,
}

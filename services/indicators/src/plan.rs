//! The plan as data: a province's plan file (TOML, `deploy/plans/*.toml`) with its baseline,
//! its indicators and their 2025/2030 targets, and its units (files of the reference data).
//!
//! Owns reading and validating a plan file, and the unit tables built from it
//! ([`UnitTable`]: province, pre-2025 districts and communes, or the post-2025 communes through
//! the crosswalk). An invalid file is an error naming the file, the field and what was
//! expected. Knows nothing of the database, the broker or how indicators are computed.
//!
//! ```toml
//! id = "lai-chau-182"
//! name = "Lai Châu: implementing Decision 182/QĐ-TTg"
//! name_vi = "Kế hoạch …"                 # optional
//! baseline = "2024-02-20"                # B
//! dhis2 = "lai-chau-182.dhis2.toml"       # optional: DHIS2 identifiers (crate::interchange)
//! [units]
//! province_code = "12"
//! province_name = "Tỉnh Lai Châu"
//! units_2024 = "../reference/lai-chau-units-2024.csv"       # relative to the plan file
//! units_2025 = "../reference/lai-chau-units-2025.csv"
//! crosswalk_2025 = "../reference/lai-chau-crosswalk-2025.csv"
//! reform = "2025-07-01"                  # optional: from when records use units_2025's codes
//! [[indicators]]
//! id = "I3"                              # I1 … I10 (shared/mission/indicators.md)
//! name = "…"
//! name_vi = "…"                          # optional
//! unit = "percent"                       # must be the definition's unit
//! target_2025 = { comparison = ">=", value = 100, unit = "percent" }   # optional
//! target_2030 = { comparison = ">", value = 15, unit = "count" }       # optional
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use hub_contracts::v1::indicator::{Comparison, Target, UnitLevel, ValueUnit};
use hub_normalise::reference::{Commune2024, Commune2025, CrosswalkRow};
use serde::{Deserialize, Serialize};

/// The plan file the service uses when `PLAN_FILE` is not set: Lai Châu's, built in.
pub const BUILTIN_PLAN_NAME: &str = "deploy/plans/lai-chau-182.toml (built in)";
const BUILTIN_PLAN: &str = include_str!("../../../deploy/plans/lai-chau-182.toml");
const BUILTIN_UNITS_2024: &str = include_str!("../../../deploy/reference/lai-chau-units-2024.csv");
const BUILTIN_UNITS_2025: &str = include_str!("../../../deploy/reference/lai-chau-units-2025.csv");
const BUILTIN_CROSSWALK: &str =
    include_str!("../../../deploy/reference/lai-chau-crosswalk-2025.csv");
const BUILTIN_DHIS2: &str = include_str!("../../../deploy/plans/lai-chau-182.dhis2.toml");
const BUILTIN_DHIS2_ORG_UNITS: &str =
    include_str!("../../../deploy/plans/lai-chau-182.dhis2-org-units.csv");

/// When the post-reform unit lists took effect: 1 July 2025.
pub const DEFAULT_REFORM_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2025, 7, 1) {
    Some(d) => d,
    None => panic!("2025-07-01 is a date"),
};

/// A plan file that cannot be used. `file` is the plan file (or a unit file it names), `field`
/// the offending field's path in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("plan file {file}: {field}: {problem}")]
pub struct PlanError {
    pub file: String,
    pub field: String,
    pub problem: String,
}

/// The indicators this service knows how to compute (`shared/mission/indicators.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IndicatorId {
    I1,
    I2,
    I3,
    I4,
    I5,
    I6,
    I7,
    I8,
    I9,
    I10,
}

impl IndicatorId {
    pub const ALL: [IndicatorId; 10] = [
        Self::I1,
        Self::I2,
        Self::I3,
        Self::I4,
        Self::I5,
        Self::I6,
        Self::I7,
        Self::I8,
        Self::I9,
        Self::I10,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::I1 => "I1",
            Self::I2 => "I2",
            Self::I3 => "I3",
            Self::I4 => "I4",
            Self::I5 => "I5",
            Self::I6 => "I6",
            Self::I7 => "I7",
            Self::I8 => "I8",
            Self::I9 => "I9",
            Self::I10 => "I10",
        }
    }

    /// The unit its definition gives the value in.
    pub fn unit(self) -> ValueUnit {
        match self {
            Self::I1 | Self::I2 | Self::I4 => ValueUnit::Count,
            _ => ValueUnit::Percent,
        }
    }
}

impl FromStr for IndicatorId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|i| i.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("expected one of I1 … I10, got {s:?}"))
    }
}

impl std::fmt::Display for IndicatorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which unit list a snapshot is computed on (the contract's type, re-exported).
pub use hub_contracts::v1::indicator::UnitList;

/// One indicator of the plan, with its targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanIndicator {
    pub id: IndicatorId,
    pub name: String,
    pub name_vi: Option<String>,
    pub unit: ValueUnit,
    pub target_2025: Option<Target>,
    pub target_2030: Option<Target>,
}

impl PlanIndicator {
    /// True when the plan sets no target: the indicator is shown for context only.
    pub fn is_context(&self) -> bool {
        self.target_2025.is_none() && self.target_2030.is_none()
    }
}

/// One unit of a unit list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub level: UnitLevel,
    pub parent_code: Option<String>,
}

/// The units of one list, province first, and which of them each pre-2025 commune lies in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitTable {
    pub list: UnitList,
    pub rows: Vec<UnitRow>,
    /// Pre-2025 commune code → indices into `rows` of every unit containing it.
    #[serde(skip)]
    pub containing: BTreeMap<String, Vec<usize>>,
}

impl UnitTable {
    pub fn row(&self, code: &str) -> Option<&UnitRow> {
        self.rows.iter().find(|r| r.code == code)
    }
}

/// A validated plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub id: String,
    pub name: String,
    pub name_vi: Option<String>,
    pub baseline: NaiveDate,
    pub province_code: String,
    pub province_name: String,
    /// From this date records use the post-reform unit codes (`units.reform`, default
    /// 2025-07-01, Resolution 1670/NQ-UBTVQH15).
    pub reform_date: NaiveDate,
    pub indicators: Vec<PlanIndicator>,
    /// Where it was read from.
    pub source: String,
    /// The pre-2025 communes, in file order.
    #[serde(skip)]
    pub communes_2024: Vec<Commune2024>,
    #[serde(skip)]
    pub units_2024: UnitTable,
    #[serde(skip)]
    pub units_2025: UnitTable,
    /// How its units and indicators are known in DHIS2 (`dhis2`: a mapping file beside the
    /// plan), for the `dataValueSets` export.
    pub dhis2: Option<crate::interchange::Dhis2Mapping>,
}

impl Plan {
    /// The unit table of a list.
    pub fn units(&self, list: UnitList) -> &UnitTable {
        match list {
            UnitList::Units2024 => &self.units_2024,
            UnitList::Units2025 => &self.units_2025,
        }
    }

    pub fn indicator(&self, id: IndicatorId) -> Option<&PlanIndicator> {
        self.indicators.iter().find(|i| i.id == id)
    }

    /// Lai Châu's plan as built into the service (the same text as
    /// `deploy/plans/lai-chau-182.toml` and the reference files it names).
    pub fn builtin() -> Result<Plan, PlanError> {
        Plan::parse(
            BUILTIN_PLAN,
            BUILTIN_PLAN_NAME,
            &|rel: &str| match Path::new(rel).file_name().and_then(|f| f.to_str()) {
                Some("lai-chau-units-2024.csv") => Ok(BUILTIN_UNITS_2024.to_owned()),
                Some("lai-chau-units-2025.csv") => Ok(BUILTIN_UNITS_2025.to_owned()),
                Some("lai-chau-crosswalk-2025.csv") => Ok(BUILTIN_CROSSWALK.to_owned()),
                Some("lai-chau-182.dhis2.toml") => Ok(BUILTIN_DHIS2.to_owned()),
                Some("lai-chau-182.dhis2-org-units.csv") => Ok(BUILTIN_DHIS2_ORG_UNITS.to_owned()),
                _ => Err("not among the built-in reference files".to_owned()),
            },
        )
    }

    /// Reads and validates a plan file; unit files are read relative to it.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PlanError {
            file: name.clone(),
            field: "(file)".into(),
            problem: format!("cannot read it: {e}"),
        })?;
        let dir: PathBuf = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Plan::parse(&text, &name, &|rel: &str| {
            std::fs::read_to_string(dir.join(rel))
                .map_err(|e| format!("cannot read {}: {e}", dir.join(rel).display()))
        })
    }

    /// Parses and validates plan text; `read` gives the text of a unit file by the path the
    /// plan names.
    pub fn parse(
        text: &str,
        file: &str,
        read: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<Plan, PlanError> {
        let err = |field: &str, problem: String| PlanError {
            file: file.to_owned(),
            field: field.to_owned(),
            problem,
        };
        let raw: RawPlan = toml_from_str(text).map_err(|(field, problem)| err(&field, problem))?;

        if raw.id.is_empty()
            || !raw
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(err(
                "id",
                format!(
                    "expected lower-case letters, digits and '-' (e.g. \"lai-chau-182\"), got {:?}",
                    raw.id
                ),
            ));
        }
        if raw.name.trim().is_empty() {
            return Err(err("name", "expected a non-empty name".into()));
        }
        let baseline = NaiveDate::parse_from_str(&raw.baseline, "%Y-%m-%d").map_err(|_| {
            err(
                "baseline",
                format!("expected a date YYYY-MM-DD, got {:?}", raw.baseline),
            )
        })?;

        if raw.indicators.is_empty() {
            return Err(err(
                "indicators",
                "expected at least one [[indicators]] entry".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut indicators = Vec::with_capacity(raw.indicators.len());
        for (i, ind) in raw.indicators.into_iter().enumerate() {
            let at = |f: &str| format!("indicators[{i}].{f}");
            let id: IndicatorId = ind.id.parse().map_err(|p| err(&at("id"), p))?;
            if !seen.insert(id) {
                return Err(err(&at("id"), format!("{id} is listed twice")));
            }
            let unit = parse_unit(&ind.unit).map_err(|p| err(&at("unit"), p))?;
            if unit != id.unit() {
                return Err(err(
                    &at("unit"),
                    format!(
                        "{id} is a {} by its definition, got {:?}",
                        unit_name(id.unit()),
                        ind.unit
                    ),
                ));
            }
            if ind.name.trim().is_empty() {
                return Err(err(&at("name"), "expected a non-empty name".into()));
            }
            let target = |year: i32, t: Option<RawTarget>| -> Result<Option<Target>, PlanError> {
                let Some(t) = t else { return Ok(None) };
                let f = |x: &str| at(&format!("target_{year}.{x}"));
                let comparison = match t.comparison.as_str() {
                    ">" => Comparison::Gt,
                    ">=" => Comparison::Ge,
                    other => {
                        return Err(err(
                            &f("comparison"),
                            format!("expected \">\" or \">=\", got {other:?}"),
                        ));
                    }
                };
                let tunit = parse_unit(&t.unit).map_err(|p| err(&f("unit"), p))?;
                if tunit == ValueUnit::Percent && unit == ValueUnit::Count {
                    return Err(err(
                        &f("unit"),
                        format!("{id} is a count: its target cannot be a percent"),
                    ));
                }
                if !t.value.is_finite() || t.value < 0.0 {
                    return Err(err(
                        &f("value"),
                        format!("expected a number >= 0, got {}", t.value),
                    ));
                }
                if tunit == ValueUnit::Percent && t.value > 100.0 {
                    return Err(err(
                        &f("value"),
                        format!("expected a percent from 0 to 100, got {}", t.value),
                    ));
                }
                Ok(Some(Target {
                    year,
                    comparison,
                    value: t.value,
                    unit: tunit,
                }))
            };
            indicators.push(PlanIndicator {
                id,
                name: ind.name,
                name_vi: ind.name_vi,
                unit,
                target_2025: target(2025, ind.target_2025)?,
                target_2030: target(2030, ind.target_2030)?,
            });
        }
        indicators.sort_by_key(|i| i.id);

        let u = raw.units;
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

        let reform_date = match &u.reform {
            None => DEFAULT_REFORM_DATE,
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                err(
                    "units.reform",
                    format!("expected a date YYYY-MM-DD, got {s:?}"),
                )
            })?,
        };
        let units_2024 = table_2024(&u.province_code, &u.province_name, &communes_2024);
        let units_2025 = table_2025(
            &u.province_code,
            &u.province_name,
            &communes_2024,
            &communes_2025,
            &to_2025,
        );
        let mut plan = Plan {
            id: raw.id,
            name: raw.name,
            name_vi: raw.name_vi,
            baseline,
            province_code: u.province_code,
            province_name: u.province_name,
            reform_date,
            indicators,
            source: file.to_owned(),
            communes_2024,
            units_2024,
            units_2025,
            dhis2: None,
        };
        if let Some(rel) = &raw.dhis2 {
            let text = read(rel).map_err(|p| err("dhis2", p))?;
            plan.dhis2 = Some(crate::interchange::Dhis2Mapping::parse(
                &text,
                &format!("{file} → {rel}"),
                &plan,
                read,
            )?);
        }
        Ok(plan)
    }
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

fn parse_unit(s: &str) -> Result<ValueUnit, String> {
    match s {
        "count" => Ok(ValueUnit::Count),
        "percent" => Ok(ValueUnit::Percent),
        other => Err(format!("expected \"count\" or \"percent\", got {other:?}")),
    }
}

fn unit_name(u: ValueUnit) -> &'static str {
    match u {
        ValueUnit::Count => "count",
        ValueUnit::Percent => "percent",
    }
}

fn parse_csv<T: for<'de> Deserialize<'de>>(text: &str) -> Result<Vec<T>, String> {
    csv::Reader::from_reader(text.as_bytes())
        .deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| e.to_string())
}

/// Deserialises TOML through figment, turning its error into `(field path, problem)`.
pub(crate) fn toml_from_str<T: for<'de> Deserialize<'de>>(
    text: &str,
) -> Result<T, (String, String)> {
    use figment::Figment;
    use figment::providers::{Format, Toml};
    Figment::from(Toml::string(text))
        .extract::<T>()
        .map_err(|e| {
            let field = if e.path.is_empty() {
                "(file)".to_owned()
            } else {
                e.path.join(".")
            };
            (field, e.kind.to_string())
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlan {
    id: String,
    name: String,
    #[serde(default)]
    name_vi: Option<String>,
    baseline: String,
    #[serde(default)]
    dhis2: Option<String>,
    units: RawUnits,
    indicators: Vec<RawIndicator>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnits {
    province_code: String,
    province_name: String,
    units_2024: String,
    units_2025: String,
    crosswalk_2025: String,
    #[serde(default)]
    reform: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    id: String,
    name: String,
    #[serde(default)]
    name_vi: Option<String>,
    unit: String,
    #[serde(default)]
    target_2025: Option<RawTarget>,
    #[serde(default)]
    target_2030: Option<RawTarget>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    comparison: String,
    value: f64,
    unit: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin_parts(rel: &str) -> Result<String, String> {
        match Path::new(rel).file_name().and_then(|f| f.to_str()) {
            Some("lai-chau-units-2024.csv") => Ok(BUILTIN_UNITS_2024.to_owned()),
            Some("lai-chau-units-2025.csv") => Ok(BUILTIN_UNITS_2025.to_owned()),
            Some("lai-chau-crosswalk-2025.csv") => Ok(BUILTIN_CROSSWALK.to_owned()),
            Some("lai-chau-182.dhis2.toml") => Ok(BUILTIN_DHIS2.to_owned()),
            Some("lai-chau-182.dhis2-org-units.csv") => Ok(BUILTIN_DHIS2_ORG_UNITS.to_owned()),
            _ => Err(format!("no such file {rel}")),
        }
    }

    fn parse_edited(from: &str, to: &str) -> Result<Plan, PlanError> {
        assert!(BUILTIN_PLAN.contains(from), "{from:?} is in the plan");
        Plan::parse(
            &BUILTIN_PLAN.replacen(from, to, 1),
            "x.toml",
            &builtin_parts,
        )
    }

    #[test]
    fn the_lai_chau_plan_has_the_targets_of_the_plan_table() {
        let plan = Plan::builtin().expect("built-in plan is valid");
        assert_eq!(plan.id, "lai-chau-182");
        assert_eq!(
            plan.baseline,
            NaiveDate::from_ymd_opt(2024, 2, 20).expect("date")
        );
        assert_eq!(plan.indicators.len(), 10);
        let t = |id: IndicatorId| {
            let i = plan.indicator(id).expect("listed");
            (
                i.target_2025.map(|t| (t.comparison, t.value, t.unit)),
                i.target_2030.map(|t| (t.comparison, t.value, t.unit)),
            )
        };
        use Comparison::{Ge, Gt};
        use ValueUnit::{Count, Percent};
        assert_eq!(
            t(IndicatorId::I1),
            (Some((Gt, 3.0, Count)), Some((Ge, 10.0, Count)))
        );
        assert_eq!(
            t(IndicatorId::I3),
            (Some((Ge, 100.0, Percent)), Some((Gt, 15.0, Count)))
        );
        assert_eq!(
            t(IndicatorId::I7),
            (Some((Gt, 50.0, Percent)), Some((Gt, 70.0, Percent)))
        );
        assert_eq!(t(IndicatorId::I10), (None, None));
        assert!(plan.indicator(IndicatorId::I10).expect("I10").is_context());

        let u24 = plan.units(UnitList::Units2024);
        assert_eq!(u24.rows.len(), 1 + 8 + 106);
        assert_eq!(u24.rows[0].code, "12");
        assert_eq!(
            u24.containing["03421"].len(),
            3,
            "province, district, commune"
        );
        let u25 = plan.units(UnitList::Units2025);
        assert_eq!(u25.rows.len(), 1 + 38);
        // Bản Hon (03421) became part of Xã Khun Há (03430)
        let within: Vec<&str> = u25.containing["03421"]
            .iter()
            .map(|&i| u25.rows[i].code.as_str())
            .collect();
        assert_eq!(within, vec!["12", "03430"]);
    }

    #[test]
    fn the_file_in_deploy_equals_the_built_in_plan() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans/lai-chau-182.toml");
        let mut from_file = Plan::load(&path).expect("deploy plan is valid");
        from_file.source = BUILTIN_PLAN_NAME.into();
        assert_eq!(from_file, Plan::builtin().expect("valid"));
    }

    #[test]
    fn invalid_plans_name_the_file_the_field_and_what_was_expected() {
        let e = parse_edited(
            "comparison = \">\", value = 3",
            "comparison = \"=>\", value = 3",
        )
        .expect_err("bad comparison");
        assert_eq!(e.file, "x.toml");
        assert_eq!(e.field, "indicators[0].target_2025.comparison");
        assert!(e.problem.contains("expected \">\" or \">=\""), "{e}");

        let e = parse_edited("baseline = \"2024-02-20\"", "baseline = \"20/02/2024\"")
            .expect_err("bad date");
        assert_eq!(e.field, "baseline");
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");

        let e = parse_edited("id = \"I4\"", "id = \"I11\"").expect_err("unknown indicator");
        assert_eq!(e.field, "indicators[3].id");

        let e = parse_edited("id = \"I4\"", "id = \"I1\"").expect_err("twice");
        assert!(e.problem.contains("twice"), "{e}");

        let e = parse_edited(
            "id = \"I1\"\nname = \"New HTX established with FU support\"\nname_vi = \"HTX thành lập mới do Hội Nông dân hỗ trợ\"\nunit = \"count\"",
            "id = \"I1\"\nname = \"New HTX established with FU support\"\nname_vi = \"HTX thành lập mới do Hội Nông dân hỗ trợ\"\nunit = \"percent\"",
        )
        .expect_err("wrong unit");
        assert_eq!(e.field, "indicators[0].unit");

        let e = parse_edited("\">=\", value = 70,", "\">=\", value = 170,")
            .expect_err("percent over 100");
        assert_eq!(e.field, "indicators[8].target_2025.value");

        let e = parse_edited(
            "value = 3, unit = \"count\"",
            "value = \"three\", unit = \"count\"",
        )
        .expect_err("not a number");
        assert!(e.field.contains("target_2025"), "{e}");
        assert!(e.field.contains("value"), "{e}");

        let e = parse_edited(
            "province_code = \"12\"",
            "province_code = \"12\"\ncolour = \"red\"",
        )
        .expect_err("unknown field");
        assert!(e.problem.contains("colour"), "{e}");

        let e = parse_edited(
            "../reference/lai-chau-units-2025.csv",
            "../reference/nowhere.csv",
        )
        .expect_err("missing unit file");
        assert_eq!(e.field, "units.units_2025");

        let e = Plan::load(Path::new("/nonexistent/plan.toml")).expect_err("no file");
        assert!(e.to_string().contains("/nonexistent/plan.toml"), "{e}");
    }

    #[test]
    fn a_crosswalk_that_misses_a_commune_is_refused() {
        let read = |rel: &str| -> Result<String, String> {
            let text = builtin_parts(rel)?;
            if rel.ends_with("crosswalk-2025.csv") {
                // drop Bản Hon's row
                Ok(text
                    .lines()
                    .filter(|l| !l.starts_with("03421,"))
                    .collect::<Vec<_>>()
                    .join("\n"))
            } else {
                Ok(text)
            }
        };
        let e = Plan::parse(BUILTIN_PLAN, "x.toml", &read).expect_err("incomplete crosswalk");
        assert_eq!(e.field, "units.crosswalk_2025");
        assert!(e.problem.contains("03421"), "{e}");
    }
}

//! The plan as data: a province's plan is a folder (`deploy/plans/<province>/`): `plan.toml`
//! with its baseline, its indicators (what each counts or sums over the projection,
//! [`crate::measure`]) and their targets (any years; optionally per district), the unit lists
//! and crosswalk it names, and its DHIS2 mapping.
//!
//! Owns reading and validating a plan, and the unit tables built from it ([`UnitTable`]:
//! province, pre-2025 districts and communes, or the post-2025 communes through the
//! crosswalk). An invalid plan is an error naming the file, the field and what was expected.
//! Knows nothing of the database, the broker or how the sums are made.
//!
//! ```toml
//! id = "lai-chau-182"
//! name = "Lai Châu: implementing Decision 182/QĐ-TTg"
//! name_vi = "Kế hoạch …"                 # optional
//! baseline = "2024-02-20"                # B
//! dhis2 = "dhis2.toml"                   # optional: DHIS2 identifiers (crate::interchange)
//! [units]
//! province_code = "12"
//! province_name = "Tỉnh Lai Châu"
//! units_2024 = "units-2024.csv"          # relative to plan.toml
//! units_2025 = "units-2025.csv"
//! crosswalk_2025 = "crosswalk-2025.csv"
//! reform = "2025-07-01"                  # optional: from when records use units_2025's codes
//! [[indicators]]
//! id = "I3"                              # any identifier
//! name = "…"
//! name_vi = "…"                          # optional
//! unit = "percent"                       # count: `value = {…}`; percent: numerator, denominator
//! numerator = { count = "organisations", where = { live = true, rating = ["good", "fair"] } }
//! denominator = { count = "organisations", where = { live = true, rated = true } }
//! targets = [                            # optional, any years
//!   { year = 2025, comparison = ">=", value = 100, unit = "percent" },
//!   { year = 2030, comparison = ">", value = 15, unit = "count" },
//! ]
//! district_targets = { "105" = [{ year = 2025, comparison = ">=", value = 80, unit = "percent" }] }
//! ```

//!
//! Submodules: `indicators` (an `[[indicators]]` entry: its measure and targets) and `units`
//! (the unit files and the crosswalk, and the unit tables built from them).

mod indicators;
mod units;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::NaiveDate;
use hub_contracts::v1::indicator::{Target, UnitLevel, ValueUnit};
use hub_normalise::reference::Commune2024;
use serde::{Deserialize, Serialize};

use crate::measure::Term;
use indicators::{RawIndicator, parse_indicator};
use units::{RawUnits, read_units};

/// The plan the service uses when neither `PLAN_DIRS` nor `PLAN_FILE` is set: Lai Châu's, built in.
pub const BUILTIN_PLAN_NAME: &str = "deploy/plans/lai-chau/plan.toml (built in)";
/// The file a plan folder holds its plan in.
pub const PLAN_FILE_NAME: &str = "plan.toml";
const BUILTIN_PLAN: &str = include_str!("../../../../deploy/plans/lai-chau/plan.toml");
/// Lai Châu's folder, built in: (file name, text).
const BUILTIN_FILES: [(&str, &str); 5] = [
    (
        "units-2024.csv",
        include_str!("../../../../deploy/plans/lai-chau/units-2024.csv"),
    ),
    (
        "units-2025.csv",
        include_str!("../../../../deploy/plans/lai-chau/units-2025.csv"),
    ),
    (
        "crosswalk-2025.csv",
        include_str!("../../../../deploy/plans/lai-chau/crosswalk-2025.csv"),
    ),
    (
        "dhis2.toml",
        include_str!("../../../../deploy/plans/lai-chau/dhis2.toml"),
    ),
    (
        "dhis2-org-units.csv",
        include_str!("../../../../deploy/plans/lai-chau/dhis2-org-units.csv"),
    ),
];

/// A file of the built-in folder, by the path the plan names.
fn builtin_file(rel: &str) -> Result<String, String> {
    BUILTIN_FILES
        .iter()
        .find(|(name, _)| *name == rel)
        .map(|(_, text)| (*text).to_owned())
        .ok_or_else(|| format!("{rel}: not among the built-in plan's files"))
}

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

/// An indicator's identifier in a plan (`I1`, `I7`, or any other the plan declares): letters,
/// digits, `_`, `-` and `.`, at most 32.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndicatorId(String);

impl IndicatorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IndicatorId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "expected an identifier of letters, digits, '_', '-' or '.' (e.g. \"I1\"), got {s:?}"
            ))
        }
    }
}

impl std::fmt::Display for IndicatorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which unit list a snapshot is computed on (the contract's type, re-exported).
pub use hub_contracts::v1::indicator::UnitList;

/// How an indicator's value is made from terms over the projection ([`crate::measure`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// A count: the term's value (numerator = value).
    Count { value: Term },
    /// A percent: numerator × 100 / denominator (no value when the denominator is 0).
    Percent { numerator: Term, denominator: Term },
}

impl Measure {
    /// Its terms, value or numerator first.
    pub fn terms(&self) -> Vec<&Term> {
        match self {
            Measure::Count { value } => vec![value],
            Measure::Percent {
                numerator,
                denominator,
            } => vec![numerator, denominator],
        }
    }
}

/// One indicator of the plan: what it measures and its targets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanIndicator {
    pub id: IndicatorId,
    pub name: String,
    pub name_vi: Option<String>,
    pub unit: ValueUnit,
    pub measure: Measure,
    /// Where a term reads the Farmers' Union's records and no workbook covers the unit: the
    /// numerator shown as context beside `no_source` (I5: the registry's count).
    pub when_no_source: Option<Term>,
    /// The province's targets, by year (any years).
    pub targets: Vec<Target>,
    /// Targets of a pre-2025 district, by its code (none: its values are context).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub district_targets: BTreeMap<String, Vec<Target>>,
    /// The province's 2025 target (also in `targets`).
    pub target_2025: Option<Target>,
    /// The province's 2030 target (also in `targets`).
    pub target_2030: Option<Target>,
}

impl PlanIndicator {
    /// True when the plan sets no target: the indicator is shown for context only.
    pub fn is_context(&self) -> bool {
        self.targets.is_empty()
    }

    /// True when a term reads the Farmers' Union's records.
    pub fn from_union(&self) -> bool {
        self.measure.terms().iter().any(|t| t.from_union())
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

    pub fn indicator(&self, id: &str) -> Option<&PlanIndicator> {
        self.indicators.iter().find(|i| i.id.as_str() == id)
    }

    /// Lai Châu's plan as built into the service (the same files as `deploy/plans/lai-chau/`).
    pub fn builtin() -> Result<Plan, PlanError> {
        Plan::parse(BUILTIN_PLAN, BUILTIN_PLAN_NAME, &builtin_file)
    }

    /// Reads and validates a plan: a folder (its `plan.toml`) or a plan file; the files it
    /// names are read relative to it.
    pub fn load(path: &Path) -> Result<Plan, PlanError> {
        let path = if path.is_dir() {
            path.join(PLAN_FILE_NAME)
        } else {
            path.to_path_buf()
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| PlanError {
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
            let ind = parse_indicator(i, ind, &err)?;
            if !seen.insert(ind.id.clone()) {
                return Err(err(
                    &format!("indicators[{i}].id"),
                    format!("{} is listed twice", ind.id),
                ));
            }
            indicators.push(ind);
        }

        let units = read_units(&raw.units, read, &err)?;
        for (i, ind) in indicators.iter().enumerate() {
            if let Some(d) = ind
                .district_targets
                .keys()
                .find(|d| !units.communes_2024.iter().any(|c| &c.district_code == *d))
            {
                return Err(err(
                    &format!("indicators[{i}].district_targets"),
                    format!("{d} is not a district of units_2024"),
                ));
            }
        }
        let reform_date = match &raw.units.reform {
            None => DEFAULT_REFORM_DATE,
            Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
                err(
                    "units.reform",
                    format!("expected a date YYYY-MM-DD, got {s:?}"),
                )
            })?,
        };
        let mut plan = Plan {
            id: raw.id,
            name: raw.name,
            name_vi: raw.name_vi,
            baseline,
            province_code: raw.units.province_code,
            province_name: raw.units.province_name,
            reform_date,
            indicators,
            source: file.to_owned(),
            communes_2024: units.communes_2024,
            units_2024: units.units_2024,
            units_2025: units.units_2025,
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

#[cfg(test)]
mod tests;

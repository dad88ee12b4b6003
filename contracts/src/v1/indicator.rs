//! `indicator.snapshot.v1`: where a province stands against its plan, as of a date.
//!
//! Published on the public `coophub.indicator` exchange for agency systems. Snapshots are
//! immutable; a newer `version` of the same plan and unit list supersedes an older one.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Comparison a target uses: `>` ("trên", more than) or `>=` ("ít nhất", at least).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Comparison {
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

/// A plan target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    pub year: i32,
    pub comparison: Comparison,
    pub value: f64,
    /// `count` or `percent`: a percent-valued indicator may have a count target (I3 by 2030).
    pub unit: ValueUnit,
}

/// Unit of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueUnit {
    Count,
    Percent,
}

/// Status of a value against its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ValueStatus {
    /// Satisfies the target it is compared with.
    Met,
    Behind,
    /// A percent with a zero denominator: no value.
    NoData,
    /// No connected system holds the data.
    NoSource,
}

/// Status of a value against one target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TargetCheck {
    pub target: Target,
    pub status: ValueStatus,
}

/// One indicator in one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IndicatorValue {
    /// The plan's identifier of the indicator (`I1` … `I10` in Lai Châu's plan).
    pub indicator: String,
    /// The value in `unit`; null when there is none (`no_data`, `no_source`).
    #[serde(default)]
    pub value: Option<f64>,
    pub unit: ValueUnit,
    #[serde(default)]
    pub numerator: Option<f64>,
    #[serde(default)]
    pub denominator: Option<f64>,
    /// Overall status: against the target that applies as of `as_of` (the 2025 target up to
    /// 2025, the 2030 one after; `met`/`behind`), or `no_data`/`no_source`.
    pub status: ValueStatus,
    #[serde(default)]
    pub target_2025: Option<TargetCheck>,
    #[serde(default)]
    pub target_2030: Option<TargetCheck>,
    /// The plan's targets for years other than 2025 and 2030 (those stay in `target_2025` and
    /// `target_2030`), in year order, each with its status; absent when the plan has none. The
    /// headline `status` is judged against the first target (of every year) whose year is
    /// that of `as_of` or later, else the last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<TargetCheck>,
    /// True when the plan sets no target for this indicator (I10 in Lai Châu's plan): the value
    /// is shown for context only, both targets are null, and `status` is `met` whenever there
    /// is a value (there is no target to be behind). Absent means false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub context: bool,
    /// I5 only, where a Farmers' Union workbook covers the unit: of the branches converted in
    /// [B, T] (I5's numerator), how many the hub matched to an organisation in the registry
    /// and how many it could not. A cross-check shown beside I5, never mixed into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversions: Option<ConversionCheck>,
}

/// The Farmers' Union's conversions matched to the registry, beside I5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversionCheck {
    /// Converted branches the reconciler linked to an organisation of the registry: the
    /// branch's record is among the `source_refs` of a live golden record holding a
    /// registry record.
    pub matched: u64,
    /// Converted branches it did not (not in the registry, awaiting review, or not yet
    /// reconciled).
    pub unmatched: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Level of an administrative unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    Province,
    District,
    Commune,
}

/// All indicators for one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UnitIndicators {
    pub unit_code: String,
    pub unit_name: String,
    pub level: UnitLevel,
    #[serde(default)]
    pub parent_code: Option<String>,
    pub values: Vec<IndicatorValue>,
}

/// What one source contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceProvenance {
    pub system: String,
    /// Last successful sync the indicator service knows of (latest record fetch time).
    #[serde(default)]
    pub last_sync: Option<DateTime<Utc>>,
    pub records: u64,
}

/// Where the snapshot's inputs came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotProvenance {
    pub sources: Vec<SourceProvenance>,
    /// Source records resolved automatically / waiting for review.
    pub reconciled_automatically: u64,
    pub awaiting_review: u64,
    /// `reconciled_automatically / (reconciled_automatically + awaiting_review)`, null if none.
    #[serde(default)]
    pub automatic_share: Option<f64>,
}

/// `indicator.snapshot.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IndicatorSnapshot {
    pub snapshot_id: Uuid,
    /// Plan identifier, e.g. `lai-chau-182`.
    pub plan_id: String,
    pub province_code: String,
    /// Grows by one at each new snapshot of this plan and unit list.
    pub version: u64,
    pub as_of: NaiveDate,
    pub baseline: NaiveDate,
    /// Which unit list the snapshot uses: `2024` (before the July 2025 reform) or `2025`.
    pub unit_list: String,
    pub computed_at: DateTime<Utc>,
    /// SHA-256 of the snapshot's content (units, values, as_of, unit list, plan, provenance
    /// counts; not its id, version, computation time, nor when the sources were fetched): the
    /// same inputs give the same hash, in any hub.
    pub content_hash: String,
    pub units: Vec<UnitIndicators>,
    pub provenance: SnapshotProvenance,
}

/// Which unit list a snapshot is computed on: the values of [`IndicatorSnapshot::unit_list`].
/// The field stays a string in the contract (its schema is published); this is the one Rust
/// type for it, shared by the indicators service and the simulators' truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum UnitList {
    /// Before 1 July 2025: the province, its districts and their communes.
    #[serde(rename = "2024")]
    Units2024,
    /// From 1 July 2025: the province and its merged communes (no districts).
    #[serde(rename = "2025")]
    Units2025,
}

impl UnitList {
    pub const ALL: [UnitList; 2] = [UnitList::Units2024, UnitList::Units2025];

    /// `2024` or `2025`, as in [`IndicatorSnapshot::unit_list`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Units2024 => "2024",
            Self::Units2025 => "2025",
        }
    }
}

impl std::str::FromStr for UnitList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "2024" => Ok(Self::Units2024),
            "2025" => Ok(Self::Units2025),
            other => Err(format!("expected 2024 or 2025, got {other:?}")),
        }
    }
}

impl std::fmt::Display for UnitList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::UnitList;

    #[test]
    fn unit_list_reads_back_what_it_writes() {
        for list in UnitList::ALL {
            let json = serde_json::to_string(&list).unwrap();
            assert_eq!(json, format!("\"{}\"", list.as_str()));
            assert_eq!(serde_json::from_str::<UnitList>(&json).unwrap(), list);
            assert_eq!(list.to_string().parse::<UnitList>(), Ok(list));
        }
        assert!("2023".parse::<UnitList>().is_err());
    }
}

//! The provincial report as a Vietnamese provincial official reads it: one row per indicator
//! (target 2025, target 2030, achieved, assessment), one block per unit, values rounded as
//! officials write them (counts whole, percentages to one decimal), the as-of date and the
//! data sources in the header, Vietnamese terms of the plan with the English beside them.
//!
//! Only the province is assessed: the plan's targets are the province's, so a district's or
//! commune's block is context ("Tham khảo"), with no targets of its own unless the snapshot
//! carries some for it (see [`crate::compute`]).
//!
//! Owns the report's model ([`Report`], built from a snapshot and its plan), its rounding
//! ([`rounded`]) and its wording; [`crate::export`] lays it out as XLSX and printable HTML.
//! Pure: no I/O, no clock.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use hub_contracts::v1::indicator::{
    Comparison, IndicatorSnapshot, IndicatorValue, Target, TargetCheck, UnitLevel, ValueStatus,
    ValueUnit,
};
use hub_runtime::sources::SourceInfo;
use serde::Serialize;

use crate::plan::Plan;

/// A value as the report shows it: counts whole, percentages to one decimal.
pub fn rounded(value: f64, unit: ValueUnit) -> f64 {
    match unit {
        ValueUnit::Count => value.round(),
        ValueUnit::Percent => (value * 10.0).round() / 10.0,
    }
}

/// Vietnam time (UTC+7), the offset every date in the report is written in.
pub fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// A number the Vietnamese way: `.` groups thousands, `,` marks decimals (`1.250`, `66,7`).
pub fn number_vi(x: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, x.abs());
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (text, None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 && x.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        "-"
    } else {
        ""
    };
    match frac {
        Some(f) => format!("{sign}{grouped},{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// What a count of an indicator counts, in Vietnamese and English.
fn noun(indicator: &str) -> (&'static str, &'static str) {
    match indicator {
        "I1" | "I3" | "I6" | "I7" => ("HTX", "cooperatives"),
        "I2" => ("THT", "cooperative groups"),
        "I4" => ("hộ", "households"),
        "I5" => ("HTX, THT", "cooperatives and groups"),
        "I8" | "I9" => ("cán bộ", "officers"),
        "I10" => ("xã", "communes"),
        _ => ("", ""),
    }
}

/// A target as officials write it: `Trên 3 HTX`, `Ít nhất 70 %`, `100 %`.
pub fn target_vi(indicator: &str, t: &Target) -> String {
    let what = match t.unit {
        ValueUnit::Percent => "%".to_owned(),
        ValueUnit::Count => noun(indicator).0.to_owned(),
    };
    let n = number_vi(t.value, if t.value.fract() == 0.0 { 0 } else { 1 });
    match (t.comparison, t.unit) {
        (Comparison::Ge, ValueUnit::Percent) if t.value >= 100.0 => format!("{n} %"),
        (Comparison::Gt, _) => format!("Trên {n} {what}"),
        (Comparison::Ge, _) => format!("Ít nhất {n} {what}"),
    }
}

/// The same target in English: `more than 3 cooperatives`, `at least 70 %`.
pub fn target_en(indicator: &str, t: &Target) -> String {
    let what = match t.unit {
        ValueUnit::Percent => "%".to_owned(),
        ValueUnit::Count => noun(indicator).1.to_owned(),
    };
    let n = if t.value.fract() == 0.0 {
        format!("{}", t.value as i64)
    } else {
        format!("{:.1}", t.value)
    };
    match (t.comparison, t.unit) {
        (Comparison::Ge, ValueUnit::Percent) if t.value >= 100.0 => format!("{n} %"),
        (Comparison::Gt, _) => format!("more than {n} {what}"),
        (Comparison::Ge, _) => format!("at least {n} {what}"),
    }
}

/// How a value stands, as the report's last column says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    Met,
    Behind,
    /// A district's or commune's value, or an indicator the plan sets no target for.
    Context,
    NoData,
    NoSource,
}

impl Assessment {
    pub fn vi(self) -> &'static str {
        match self {
            Assessment::Met => "Đạt",
            Assessment::Behind => "Chưa đạt",
            Assessment::Context => "Tham khảo",
            Assessment::NoData => "Chưa có số liệu",
            Assessment::NoSource => "Chưa có nguồn dữ liệu",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Assessment::Met => "met",
            Assessment::Behind => "behind",
            Assessment::Context => "context",
            Assessment::NoData => "no data",
            Assessment::NoSource => "no source",
        }
    }
}

/// One indicator in one unit, as a report row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Số thứ tự: 1 … 10.
    pub no: usize,
    pub indicator: String,
    pub name_vi: String,
    pub name_en: String,
    /// Đơn vị tính: `%`, `HTX`, `hộ`, …
    pub measure_vi: String,
    pub measure_en: String,
    pub target_2025_vi: String,
    pub target_2025_en: String,
    pub target_2030_vi: String,
    pub target_2030_en: String,
    /// The value as shown ([`rounded`]); none when there is no value.
    pub achieved: Option<f64>,
    pub percent: bool,
    /// `66,7 %`, `12`, `–`.
    pub achieved_vi: String,
    /// What the value is made of: `2/3 HTX`, or a count without a denominator.
    pub detail_vi: String,
    pub detail_en: String,
    pub assessment: Assessment,
    pub assessment_vi: &'static str,
    pub assessment_en: &'static str,
}

/// One unit's block.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Block {
    pub unit_code: String,
    pub unit_name: String,
    pub level: UnitLevel,
    pub level_vi: &'static str,
    pub level_en: &'static str,
    pub parent_code: Option<String>,
    pub parent_name: Option<String>,
    /// A district's or commune's block: shown for context, not assessed.
    pub context: bool,
    pub rows: Vec<Row>,
}

/// One data source in the header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceLine {
    pub system: String,
    pub name_vi: String,
    pub name_en: String,
    /// `dd/mm/yyyy HH:MM:SS` in Vietnam time, or empty.
    pub last_sync: String,
    pub records: u64,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub plan_name_vi: String,
    pub plan_name_en: String,
    pub province_name: String,
    /// `dd/mm/yyyy`.
    pub as_of: String,
    pub baseline: String,
    pub unit_list: String,
    pub version: u64,
    pub snapshot_id: String,
    pub content_hash: String,
    /// The target year the assessment is against: 2025 until the end of 2025, then 2030.
    pub milestone: i32,
    pub sources: Vec<SourceLine>,
    pub reconciled_automatically: u64,
    pub awaiting_review: u64,
    pub province: Vec<Block>,
    pub districts: Vec<Block>,
    pub communes: Vec<Block>,
}

/// The agency behind a source system, in Vietnamese and English: the source's registration
/// names it (`sources`, from the `hub` binary's registrations); the hub's own reconciliation
/// is named here; any other system by its name.
pub fn source_names(sources: &[SourceInfo], system: &str) -> (String, String) {
    if system == "reconciler" {
        return (
            "Đối chiếu của hệ thống".to_owned(),
            "the hub's reconciliation".to_owned(),
        );
    }
    hub_runtime::sources::names_of(sources, system)
}

fn date_vi(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `dd/mm/yyyy HH:MM:SS` in Vietnam time.
pub fn time_vi(t: DateTime<Utc>) -> String {
    t.with_timezone(&vietnam())
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

fn level_words(l: UnitLevel) -> (&'static str, &'static str) {
    match l {
        UnitLevel::Province => ("Tỉnh", "province"),
        UnitLevel::District => ("Huyện", "district"),
        UnitLevel::Commune => ("Xã", "commune"),
    }
}

/// The milestone a snapshot as of `as_of` is assessed against.
pub fn milestone(as_of: NaiveDate) -> i32 {
    if as_of.year() <= 2025 { 2025 } else { 2030 }
}

fn assessment(v: &IndicatorValue, year: i32) -> Assessment {
    match v.status {
        ValueStatus::NoSource => return Assessment::NoSource,
        ValueStatus::NoData => return Assessment::NoData,
        _ => {}
    }
    let check: Option<&TargetCheck> = match year {
        2025 => v.target_2025.as_ref().or(v.target_2030.as_ref()),
        _ => v.target_2030.as_ref().or(v.target_2025.as_ref()),
    };
    match check {
        None => Assessment::Context,
        Some(c) => match c.status {
            ValueStatus::Met => Assessment::Met,
            ValueStatus::Behind => Assessment::Behind,
            ValueStatus::NoData => Assessment::NoData,
            ValueStatus::NoSource => Assessment::NoSource,
        },
    }
}

fn row(plan: &Plan, no: usize, v: &IndicatorValue, year: i32) -> Row {
    let def = plan
        .indicators
        .iter()
        .find(|i| i.id.as_str() == v.indicator);
    let name_en = def.map(|d| d.name.clone()).unwrap_or_default();
    let name_vi = def
        .and_then(|d| d.name_vi.clone())
        .unwrap_or_else(|| name_en.clone());
    let (noun_vi, noun_en) = noun(&v.indicator);
    let percent = v.unit == ValueUnit::Percent;
    let (measure_vi, measure_en) = if percent {
        ("%".to_owned(), "%".to_owned())
    } else {
        (noun_vi.to_owned(), noun_en.to_owned())
    };
    let target = |c: &Option<TargetCheck>, vi: bool| {
        c.as_ref()
            .map(|c| {
                if vi {
                    target_vi(&v.indicator, &c.target)
                } else {
                    target_en(&v.indicator, &c.target)
                }
            })
            .unwrap_or_else(|| "–".to_owned())
    };
    let achieved = v.value.map(|x| rounded(x, v.unit));
    let achieved_vi = match achieved {
        Some(x) if percent => format!("{} %", number_vi(x, 1)),
        Some(x) => number_vi(x, 0),
        None => "–".to_owned(),
    };
    let whole = |x: f64| number_vi(x, 0);
    let (detail_vi, detail_en) = match (v.numerator, v.denominator) {
        (Some(n), Some(d)) if percent => (
            format!("{}/{} {noun_vi}", whole(n), whole(d)),
            format!("{}/{} {noun_en}", whole(n), whole(d)),
        ),
        (Some(n), None) if v.value.is_none() => (
            format!("{} {noun_vi} (sổ đăng ký, tham khảo)", whole(n)),
            format!("{} {noun_en} (registry, context)", whole(n)),
        ),
        _ => (String::new(), String::new()),
    };
    // beside I5: the conversions the reconciler found in the registry, and not
    let (detail_vi, detail_en) = match v.conversions {
        Some(c) => (
            format!(
                "{detail_vi}{}chuyển đổi: {} có trong sổ đăng ký HTX, {} chưa",
                if detail_vi.is_empty() { "" } else { "; " },
                c.matched,
                c.unmatched
            ),
            format!(
                "{detail_en}{}conversions: {} in the registry, {} not",
                if detail_en.is_empty() { "" } else { "; " },
                c.matched,
                c.unmatched
            ),
        ),
        None => (detail_vi, detail_en),
    };
    let a = assessment(v, year);
    Row {
        no,
        indicator: v.indicator.clone(),
        name_vi,
        name_en,
        measure_vi,
        measure_en,
        target_2025_vi: target(&v.target_2025, true),
        target_2025_en: target(&v.target_2025, false),
        target_2030_vi: target(&v.target_2030, true),
        target_2030_en: target(&v.target_2030, false),
        achieved,
        percent,
        achieved_vi,
        detail_vi: detail_vi.trim().to_owned(),
        detail_en: detail_en.trim().to_owned(),
        assessment: a,
        assessment_vi: a.vi(),
        assessment_en: a.en(),
    }
}

/// The report of a snapshot.
pub fn build(plan: &Plan, snap: &IndicatorSnapshot, sources: &[SourceInfo]) -> Report {
    let year = milestone(snap.as_of);
    let names: std::collections::BTreeMap<&str, &str> = snap
        .units
        .iter()
        .map(|u| (u.unit_code.as_str(), u.unit_name.as_str()))
        .collect();
    let mut province = Vec::new();
    let mut districts = Vec::new();
    let mut communes = Vec::new();
    for u in &snap.units {
        let (level_vi, level_en) = level_words(u.level);
        let rows: Vec<Row> = u
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| row(plan, i + 1, v, year))
            .collect();
        let block = Block {
            unit_code: u.unit_code.clone(),
            unit_name: u.unit_name.clone(),
            level: u.level,
            level_vi,
            level_en,
            parent_code: u.parent_code.clone(),
            parent_name: u
                .parent_code
                .as_deref()
                .and_then(|p| names.get(p))
                .map(|s| (*s).to_owned()),
            context: u.level != UnitLevel::Province,
            rows,
        };
        match u.level {
            UnitLevel::Province => province.push(block),
            UnitLevel::District => districts.push(block),
            UnitLevel::Commune => communes.push(block),
        }
    }
    let sources = snap
        .provenance
        .sources
        .iter()
        .map(|s| {
            let (name_vi, name_en) = source_names(sources, &s.system);
            SourceLine {
                system: s.system.clone(),
                name_vi,
                name_en,
                last_sync: s.last_sync.map(time_vi).unwrap_or_default(),
                records: s.records,
            }
        })
        .collect();
    Report {
        plan_name_vi: plan.name_vi.clone().unwrap_or_else(|| plan.name.clone()),
        plan_name_en: plan.name.clone(),
        province_name: plan.province_name.clone(),
        as_of: date_vi(snap.as_of),
        baseline: date_vi(snap.baseline),
        unit_list: snap.unit_list.clone(),
        version: snap.version,
        snapshot_id: snap.snapshot_id.to_string(),
        content_hash: snap.content_hash.clone(),
        milestone: year,
        sources,
        reconciled_automatically: snap.provenance.reconciled_automatically,
        awaiting_review: snap.provenance.awaiting_review,
        province,
        districts,
        communes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_the_vietnamese_way() {
        assert_eq!(number_vi(1250.0, 0), "1.250");
        assert_eq!(number_vi(66.6666, 1), "66,7");
        assert_eq!(number_vi(0.0, 1), "0,0");
        assert_eq!(number_vi(100.0, 1), "100,0");
        assert_eq!(number_vi(1_234_567.0, 0), "1.234.567");
        assert_eq!(rounded(200.0 / 3.0, ValueUnit::Percent), 66.7);
        assert_eq!(rounded(70.09345794392523, ValueUnit::Percent), 70.1);
        assert_eq!(rounded(3.0, ValueUnit::Count), 3.0);
    }

    #[test]
    fn targets_are_written_as_the_plan_writes_them() {
        let t = |comparison, value, unit| Target {
            year: 2025,
            comparison,
            value,
            unit,
        };
        assert_eq!(
            target_vi("I1", &t(Comparison::Gt, 3.0, ValueUnit::Count)),
            "Trên 3 HTX"
        );
        assert_eq!(
            target_vi("I9", &t(Comparison::Ge, 70.0, ValueUnit::Percent)),
            "Ít nhất 70 %"
        );
        assert_eq!(
            target_vi("I3", &t(Comparison::Ge, 100.0, ValueUnit::Percent)),
            "100 %"
        );
        assert_eq!(
            target_vi("I4", &t(Comparison::Gt, 1200.0, ValueUnit::Count)),
            "Trên 1.200 hộ"
        );
        assert_eq!(
            target_en("I1", &t(Comparison::Ge, 10.0, ValueUnit::Count)),
            "at least 10 cooperatives"
        );
    }

    #[test]
    fn i5_shows_the_conversions_beside_it() {
        let plan = Plan::builtin().expect("plan");
        let v: IndicatorValue = serde_json::from_value(serde_json::json!({
            "indicator": "I5", "unit": "percent", "value": 25.0, "numerator": 2.0,
            "denominator": 8.0, "status": "behind",
            "conversions": {"matched": 1, "unmatched": 1}
        }))
        .expect("a value");
        let r = row(&plan, 5, &v, 2025);
        assert!(
            r.detail_vi
                .ends_with("; chuyển đổi: 1 có trong sổ đăng ký HTX, 1 chưa"),
            "{}",
            r.detail_vi
        );
        assert!(
            r.detail_en
                .ends_with("; conversions: 1 in the registry, 1 not"),
            "{}",
            r.detail_en
        );
    }

    #[test]
    fn the_milestone_moves_to_2030_after_2025() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(milestone(d(2025, 12, 31)), 2025);
        assert_eq!(milestone(d(2026, 1, 1)), 2030);
    }

    #[test]
    fn times_are_vietnam_time_to_the_second() {
        let t = DateTime::parse_from_rfc3339("2025-06-30T17:05:09.123456789Z")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(time_vi(t), "01/07/2025 00:05:09");
    }
}

#[cfg(test)]
mod source_name_tests {
    use super::*;
    use hub_runtime::sources::SourceNames;

    #[test]
    fn a_source_is_named_by_its_registration_and_an_unknown_one_by_its_system() {
        let sources = [SourceInfo {
            system: "farmers-union",
            names: SourceNames {
                vi: "Hội Nông dân tỉnh",
                en: "Provincial Farmers' Union",
            },
            contracts: &[],
            file_source: true,
            agency: None,
        }];
        assert_eq!(
            source_names(&sources, "farmers-union"),
            (
                "Hội Nông dân tỉnh".to_owned(),
                "Provincial Farmers' Union".to_owned()
            )
        );
        assert_eq!(
            source_names(&sources, "new-source"),
            ("new-source".to_owned(), "new-source".to_owned())
        );
        assert_eq!(
            source_names(&[], "reconciler").1,
            "the hub's reconciliation"
        );
    }
}

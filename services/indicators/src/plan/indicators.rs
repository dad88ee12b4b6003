//! One `[[indicators]]` entry of a plan: its identifier, unit, measure (terms over the
//! projection, [`crate::measure`]) and targets (the province's by year, a district's
//! optionally), validated.

use std::collections::BTreeMap;

use hub_contracts::v1::indicator::{Comparison, Target, ValueUnit};
use serde::Deserialize;

use super::{IndicatorId, Measure, PlanError, PlanIndicator};
use crate::measure::{RawTerm, Term, parse_term};

/// Validates one `[[indicators]]` entry (the `i`-th).
pub(super) fn parse_indicator(
    i: usize,
    ind: RawIndicator,
    err: &dyn Fn(&str, String) -> PlanError,
) -> Result<PlanIndicator, PlanError> {
    let at = |f: &str| format!("indicators[{i}].{f}");
    let id: IndicatorId = ind.id.parse().map_err(|p| err(&at("id"), p))?;
    let unit = parse_unit(&ind.unit).map_err(|p| err(&at("unit"), p))?;
    if ind.name.trim().is_empty() {
        return Err(err(&at("name"), "expected a non-empty name".into()));
    }
    let term = |f: &str, t: Option<RawTerm>| -> Result<Option<Term>, PlanError> {
        t.map(parse_term).transpose().map_err(|p| err(&at(f), p))
    };
    let value = term("value", ind.value)?;
    let numerator = term("numerator", ind.numerator)?;
    let denominator = term("denominator", ind.denominator)?;
    let measure = match (unit, value, numerator, denominator) {
        (ValueUnit::Count, Some(value), None, None) => Measure::Count { value },
        (ValueUnit::Percent, None, Some(numerator), Some(denominator)) => Measure::Percent {
            numerator,
            denominator,
        },
        (ValueUnit::Count, ..) => {
            return Err(err(
                &at("value"),
                format!(
                    "{id} is a count: expected value = {{ count = … }} or {{ sum = … }}, and no numerator or denominator"
                ),
            ));
        }
        (ValueUnit::Percent, ..) => {
            return Err(err(
                &at("numerator"),
                format!("{id} is a percent: expected numerator and denominator, and no value"),
            ));
        }
    };
    let when_no_source = term("when_no_source", ind.when_no_source)?;
    if when_no_source.is_some() && !measure.terms().iter().any(|t| t.from_union()) {
        return Err(err(
            &at("when_no_source"),
            "only for an indicator with a union_branches or union_officers term".into(),
        ));
    }
    let mut targets = Vec::new();
    for (year, t) in [(2025, ind.target_2025), (2030, ind.target_2030)] {
        if let Some(t) = t {
            let f = at(&format!("target_{year}"));
            targets.push(parse_target(&f, year, t, unit, err)?);
        }
    }
    for (k, t) in ind.targets.into_iter().enumerate() {
        let f = at(&format!("targets[{k}]"));
        let year = t
            .year
            .ok_or_else(|| err(&format!("{f}.year"), "expected a year".into()))?;
        targets.push(parse_target(&f, year, t, unit, err)?);
    }
    let mut district_targets = BTreeMap::new();
    for (d, list) in ind.district_targets {
        let mut out = Vec::new();
        for (k, t) in list.into_iter().enumerate() {
            let f = at(&format!("district_targets.{d}[{k}]"));
            let year = t
                .year
                .ok_or_else(|| err(&format!("{f}.year"), "expected a year".into()))?;
            out.push(parse_target(&f, year, t, unit, err)?);
        }
        district_targets.insert(d, sorted_targets(out, &at("district_targets"), err)?);
    }
    let targets = sorted_targets(targets, &at("targets"), err)?;
    let of_year = |y: i32| targets.iter().find(|t| t.year == y).copied();
    Ok(PlanIndicator {
        target_2025: of_year(2025),
        target_2030: of_year(2030),
        id,
        name: ind.name,
        name_vi: ind.name_vi,
        unit,
        measure,
        when_no_source,
        targets,
        district_targets,
    })
}

/// Targets in year order, one a year.
pub(super) fn sorted_targets(
    mut targets: Vec<Target>,
    field: &str,
    err: &dyn Fn(&str, String) -> PlanError,
) -> Result<Vec<Target>, PlanError> {
    targets.sort_by_key(|t| t.year);
    if let Some(w) = targets.windows(2).find(|w| w[0].year == w[1].year) {
        return Err(err(field, format!("two targets for {}", w[0].year)));
    }
    Ok(targets)
}

/// Validates one target of an indicator whose value is in `unit`; `field` names it.
pub(super) fn parse_target(
    field: &str,
    year: i32,
    t: RawTarget,
    unit: ValueUnit,
    err: &dyn Fn(&str, String) -> PlanError,
) -> Result<Target, PlanError> {
    let f = |x: &str| format!("{field}.{x}");
    if !(1900..=2200).contains(&year) {
        return Err(err(&f("year"), format!("expected a year, got {year}")));
    }
    if t.year.is_some_and(|y| y != year) {
        return Err(err(
            &f("year"),
            format!("target_{year} with year = {:?}", t.year),
        ));
    }
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
            "a count indicator: its target cannot be a percent".into(),
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
    Ok(Target {
        year,
        comparison,
        value: t.value,
        unit: tunit,
    })
}

pub(super) fn parse_unit(s: &str) -> Result<ValueUnit, String> {
    match s {
        "count" => Ok(ValueUnit::Count),
        "percent" => Ok(ValueUnit::Percent),
        other => Err(format!("expected \"count\" or \"percent\", got {other:?}")),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawIndicator {
    id: String,
    name: String,
    #[serde(default)]
    name_vi: Option<String>,
    unit: String,
    #[serde(default)]
    value: Option<RawTerm>,
    #[serde(default)]
    numerator: Option<RawTerm>,
    #[serde(default)]
    denominator: Option<RawTerm>,
    #[serde(default)]
    when_no_source: Option<RawTerm>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    /// The former spelling of `targets`' 2025 and 2030 entries.
    #[serde(default)]
    target_2025: Option<RawTarget>,
    #[serde(default)]
    target_2030: Option<RawTarget>,
    #[serde(default)]
    district_targets: BTreeMap<String, Vec<RawTarget>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTarget {
    #[serde(default)]
    year: Option<i32>,
    comparison: String,
    value: f64,
    unit: String,
}

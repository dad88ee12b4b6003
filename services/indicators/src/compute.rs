//! Indicators I1–I10 exactly as `shared/mission/indicators.md` defines them, for every unit of
//! a unit list, as of a date: a pure function of the projection ([`Inputs`]) and the plan.
//!
//! Owns the definitions and their comparison with the plan's targets. Touches no database,
//! broker or clock: the same inputs give the same values, whatever their order.
//!
//! How the definitions are read where they leave room (shared with `hub-simulators`' truth):
//! - Registry facts (supported, kind, established_on, status, rating, …) are those of the
//!   golden record's registry record as of T ([`crate::asof`]: its latest version dated by
//!   T), and only when a registry record is part of the identity (`in_registry`): "the
//!   registry says". Without a version held, the golden record's own facts.
//! - An organisation established after T does not exist as of T and counts nowhere; one with
//!   no `status` is not dissolved (live).
//! - In unit U: the record's commune (read on the list its date calls for,
//!   [`crate::asof::Places`]) lies in U; an organisation whose commune is unknown counts in
//!   its district, when known, and the province.
//! - Loans and NTM entries belong to the live golden record that lists their source
//!   reference (`loan-fund/{loan_no}`, `ntm/{commune}:{year}:{index}`). Should two live
//!   records list the same reference (a merge half-delivered), the most recently updated one
//!   has it.
//! - A commune's NTM report: of every revision seen and submitted by T, the highest
//!   `submitted`/`approved` one of the latest year <= year(T) that has one. A draft seen later
//!   never replaces it. A loan's state is its version as of T.
//! - The plan's targets are the province's: districts and communes carry their values as
//!   context (`context`, no targets, never `behind`), unless a plan gives their level targets.
//!   The headline `status` is judged against the target that applies as of T: the 2025
//!   target up to 2025, the 2030 one after.
//! - Counts (I1, I2, I4) carry `numerator` = `value`; I3 and I10 are percents with the count
//!   as numerator. I5 and I8 come from the Farmers' Union's workbooks
//!   ([`crate::farmers_union`]); where no workbook covers a unit, I5 is `no_source` with the
//!   registry's count of new HTX/THT from a professional branch as numerator, I8 `no_source`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use hub_contracts::v1::common::{OrgKind, SourceRef};
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::indicator::{
    Comparison, ConversionCheck, IndicatorValue, Target, TargetCheck, UnitIndicators, UnitLevel,
    ValueStatus, ValueUnit,
};
use hub_contracts::v1::source::{
    Grade, LoanDisbursement, LoanStatus, NtmCommuneReport, OrgStatus, Origin, ReportStatus,
};
use uuid::Uuid;

use crate::asof::{Facts, Place, Places, RegistryHistory, RegistryVersion, loans_as_of, ntm_as_of};
use crate::farmers_union::{FuInputs, FuSums};
use crate::plan::{IndicatorId, Plan, PlanIndicator, UnitList};

/// What the indicators are computed from: the service's projection.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The latest version of every organisation (retired ones are skipped here).
    pub golden: &'a [GoldenRecord],
    /// The latest state of every loan.
    pub loans: &'a [LoanDisbursement],
    /// Every NTM report revision seen.
    pub ntm: &'a [NtmCommuneReport],
}

/// Per pre-2025 commune sums: every indicator is a sum over communes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Sums {
    i1: u64,
    i2: u64,
    i3_num: u64,
    i3_den: u64,
    i4: u64,
    i5: u64,
    i6_num: u64,
    i6_den: u64,
    i7_num: u64,
    i7_den: u64,
    i9_num: u64,
    i9_den: u64,
    i10_num: u64,
    i10_den: u64,
}

impl std::ops::AddAssign<&Sums> for Sums {
    fn add_assign(&mut self, o: &Sums) {
        self.i1 += o.i1;
        self.i2 += o.i2;
        self.i3_num += o.i3_num;
        self.i3_den += o.i3_den;
        self.i4 += o.i4;
        self.i5 += o.i5;
        self.i6_num += o.i6_num;
        self.i6_den += o.i6_den;
        self.i7_num += o.i7_num;
        self.i7_den += o.i7_den;
        self.i9_num += o.i9_num;
        self.i9_den += o.i9_den;
        self.i10_num += o.i10_num;
        self.i10_den += o.i10_den;
    }
}

/// The report that stands for a commune as of `year`: its highest submitted/approved revision
/// of the latest year <= `year` that has one.
pub fn standing_report<'a>(
    revisions: impl IntoIterator<Item = &'a NtmCommuneReport>,
    year: i32,
) -> Option<&'a NtmCommuneReport> {
    revisions
        .into_iter()
        .filter(|r| r.year <= year)
        .filter(|r| matches!(r.status, ReportStatus::Submitted | ReportStatus::Approved))
        // latest year, then highest revision; equal revisions seen twice: the later fetch
        .max_by(|a, b| {
            (a.year, a.revision, a.meta.fetched_at).cmp(&(b.year, b.revision, b.meta.fetched_at))
        })
}

fn criterion_met(report: &NtmCommuneReport, id: &str) -> bool {
    report.criteria.iter().any(|c| c.id == id && c.met)
}

/// Computes every indicator of the plan for every unit of `list`, as of `as_of`, without
/// the Farmers' Union's records (I5 and I8 `no_source` everywhere) nor registry versions (the
/// golden records' facts are taken as they are).
pub fn compute(
    plan: &Plan,
    list: UnitList,
    as_of: NaiveDate,
    inputs: Inputs<'_>,
) -> Vec<UnitIndicators> {
    compute_as_of(plan, list, as_of, inputs, &[], &FuInputs::default())
}

/// As [`compute_as_of`], without registry versions.
pub fn compute_with_union(
    plan: &Plan,
    list: UnitList,
    as_of: NaiveDate,
    inputs: Inputs<'_>,
    fu: &FuInputs,
) -> Vec<UnitIndicators> {
    compute_as_of(plan, list, as_of, inputs, &[], fu)
}

/// Computes every indicator of the plan for every unit of `list` from the state as of
/// `as_of` ([`crate::asof`]): each organisation's registry facts from its registry record's
/// version as of T (`registry`: every version held; the golden record's own facts when none
/// is held), each loan's version as of T, the NTM revisions submitted by T; I5 and I8 from
/// the Farmers' Union's records `fu` where a workbook covers the unit.
pub fn compute_as_of(
    plan: &Plan,
    list: UnitList,
    as_of: NaiveDate,
    inputs: Inputs<'_>,
    registry: &[RegistryVersion],
    fu: &FuInputs,
) -> Vec<UnitIndicators> {
    let t = as_of;
    let b = plan.baseline;

    // live golden records, most recently updated first: the first to claim a reference has it
    let mut live: Vec<&GoldenRecord> = inputs.golden.iter().filter(|g| !g.retired).collect();
    live.sort_by(|a, b| {
        (b.updated_at, b.version, b.organisation_id).cmp(&(
            a.updated_at,
            a.version,
            a.organisation_id,
        ))
    });
    let mut owner: BTreeMap<&SourceRef, Uuid> = BTreeMap::new();
    for g in &live {
        for r in &g.source_refs {
            owner.entry(r).or_insert(g.organisation_id);
        }
    }

    // credit: a matched loan, not cancelled as of T, disbursed in [B, T]
    let mut credit: BTreeSet<Uuid> = BTreeSet::new();
    for loan in loans_as_of(inputs.loans, t) {
        let Some(org) = owner.get(&loan.meta.source) else {
            continue;
        };
        let gave_credit = matches!(
            loan.status,
            LoanStatus::Disbursed | LoanStatus::Repaid | LoanStatus::Overdue
        );
        if gave_credit && loan.disbursed_on.is_some_and(|d| d >= b && d <= t) {
            credit.insert(*org);
        }
    }

    // the NTM report standing for each commune as of T
    let mut by_commune: BTreeMap<&str, Vec<&NtmCommuneReport>> = BTreeMap::new();
    for r in ntm_as_of(inputs.ntm, t) {
        by_commune.entry(&r.commune_code).or_default().push(r);
    }
    let standing: BTreeMap<&str, &NtmCommuneReport> = by_commune
        .into_iter()
        .filter_map(|(c, revs)| standing_report(revs, t.year()).map(|r| (c, r)))
        .collect();
    // organisations listed as linked with an enterprise in their commune's standing report
    let mut ntm_linked: BTreeSet<(Uuid, &str)> = BTreeSet::new();
    for (commune, report) in &standing {
        for e in &report.cooperatives {
            if e.linked_with_enterprise != Some(true) {
                continue;
            }
            let entry = SourceRef::new(report.meta.source.system.clone(), e.source_id.clone());
            if let Some(org) = owner.get(&entry) {
                ntm_linked.insert((*org, commune));
            }
        }
    }

    // per place (pre-2025 commune, else what is known of it)
    let places = Places::new(plan);
    let history = RegistryHistory::new(registry);
    let mut sums: BTreeMap<Place, Sums> = BTreeMap::new();
    for g in &live {
        if !g.in_registry {
            continue;
        }
        let f = history.facts(g, t);
        // exists as of T
        if f.established_on.is_some_and(|d| d > t) {
            continue;
        }
        let place = places.resolve(&f.location);
        if !place.in_province() {
            continue;
        }
        let linked_in_report = place
            .commune_2024
            .as_deref()
            .is_some_and(|c| ntm_linked.contains(&(g.organisation_id, c)));
        let s = sums.entry(place).or_default();
        add_organisation(
            s,
            &f,
            (b, t),
            linked_in_report,
            credit.contains(&g.organisation_id),
        );
    }

    // per unit
    let table = plan.units(list);
    let mut unit_sums = vec![Sums::default(); table.rows.len()];
    for (place, s) in &sums {
        for i in places.rows(list, place) {
            unit_sums[i] += s;
        }
    }
    // I10: every pre-2025 commune, by its standing report
    for c in &plan.communes_2024 {
        let code = c.commune_code.as_str();
        let met = standing.get(code).is_some_and(|r| criterion_met(r, "13.1"));
        for &i in table.containing.get(code).into_iter().flatten() {
            unit_sums[i].i10_den += 1;
            unit_sums[i].i10_num += u64::from(met);
        }
    }
    let fu_sums = crate::farmers_union::per_unit(plan, list, t, fu, inputs.golden);
    table
        .rows
        .iter()
        .zip(unit_sums)
        .zip(fu_sums)
        .map(|((row, s), fu)| UnitIndicators {
            unit_code: row.code.clone(),
            unit_name: row.name.clone(),
            level: row.level,
            parent_code: row.parent_code.clone(),
            values: plan
                .indicators
                .iter()
                .map(|ind| value_of(ind, row.level, t.year(), &s, fu.as_ref()))
                .collect(),
        })
        .collect()
}

/// Adds one organisation of the registry (existing as of T) to its place's sums; `bt` is
/// (B, T).
fn add_organisation(
    s: &mut Sums,
    f: &Facts,
    (b, t): (NaiveDate, NaiveDate),
    linked_in_report: bool,
    credit: bool,
) {
    let new = f.established_on.is_some_and(|d| d >= b && d <= t);
    let live = f.status != Some(OrgStatus::Dissolved);
    let supported = f.farmers_union_supported == Some(true);
    let htx = f.kind == Some(OrgKind::Htx);
    let tht = f.kind == Some(OrgKind::Tht);
    if new && supported && htx {
        s.i1 += 1;
    }
    if new && supported && tht {
        s.i2 += 1;
    }
    if live && new && (htx || tht) {
        s.i4 += u64::from(f.member_households.unwrap_or(0));
    }
    if new && (htx || tht) && f.origin == Some(Origin::ProfessionalBranch) {
        s.i5 += 1;
    }
    if !(live && supported && htx) {
        return;
    }
    if let Some(rating) = f.rating {
        s.i3_den += 1;
        if matches!(rating.grade, Grade::Good | Grade::Fair) {
            s.i3_num += 1;
        }
    }
    s.i6_den += 1;
    if f.enterprise_linkage == Some(true) || linked_in_report {
        s.i6_num += 1;
    }
    s.i7_den += 1;
    if credit {
        s.i7_num += 1;
    }
    if let Some(k) = f.key_officers {
        s.i9_num += u64::from(k.trained);
        s.i9_den += u64::from(k.total);
    }
}

/// An indicator's value, numerator and denominator, before the targets.
struct Raw {
    value: Option<f64>,
    numerator: Option<f64>,
    denominator: Option<f64>,
    no_source: bool,
}

fn count(n: u64) -> Raw {
    Raw {
        value: Some(n as f64),
        numerator: Some(n as f64),
        denominator: None,
        no_source: false,
    }
}

fn percent(n: u64, d: u64) -> Raw {
    Raw {
        value: (d > 0).then(|| n as f64 * 100.0 / d as f64),
        numerator: Some(n as f64),
        denominator: Some(d as f64),
        no_source: false,
    }
}

/// The plan's targets are the province's (`indicators.md`: "targets belong to the province");
/// a district's or commune's value is context, judged against nothing, as long as the plan
/// gives no targets of its own for that level (Lai Châu's plan gives none).
fn judged(ind: &PlanIndicator, level: UnitLevel) -> (Option<Target>, Option<Target>) {
    match level {
        UnitLevel::Province => (ind.target_2025, ind.target_2030),
        UnitLevel::District | UnitLevel::Commune => (None, None),
    }
}

fn value_of(
    ind: &PlanIndicator,
    level: UnitLevel,
    year: i32,
    s: &Sums,
    fu: Option<&FuSums>,
) -> IndicatorValue {
    let raw = match (ind.id, fu) {
        (IndicatorId::I5, Some(fu)) => percent(fu.i5_num, fu.i5_den),
        (IndicatorId::I8, Some(fu)) => percent(fu.i8_num, fu.i8_den),
        (id, _) => raw_of(id, s),
    };
    let mut v = value_with(ind, level, year, raw);
    if let (IndicatorId::I5, Some(fu)) = (ind.id, fu) {
        v.conversions = Some(ConversionCheck {
            matched: fu.conv_matched,
            unmatched: fu.conv_unmatched,
        });
    }
    v
}

fn raw_of(id: IndicatorId, s: &Sums) -> Raw {
    match id {
        IndicatorId::I1 => count(s.i1),
        IndicatorId::I2 => count(s.i2),
        IndicatorId::I3 => percent(s.i3_num, s.i3_den),
        IndicatorId::I4 => count(s.i4),
        // no workbook covers the unit: the registry's count as context
        IndicatorId::I5 => Raw {
            value: None,
            numerator: Some(s.i5 as f64),
            denominator: None,
            no_source: true,
        },
        IndicatorId::I6 => percent(s.i6_num, s.i6_den),
        IndicatorId::I7 => percent(s.i7_num, s.i7_den),
        // no workbook covers the unit
        IndicatorId::I8 => Raw {
            value: None,
            numerator: None,
            denominator: None,
            no_source: true,
        },
        IndicatorId::I9 => percent(s.i9_num, s.i9_den),
        IndicatorId::I10 => percent(s.i10_num, s.i10_den),
    }
}

/// The target the headline status is judged against as of `year`: of the targets given, the
/// first whose year is `year` or later, else the last (the 2025 target up to 2025, then the
/// 2030 one).
fn headline(checks: &[Option<TargetCheck>], year: i32) -> Option<TargetCheck> {
    let given: Vec<TargetCheck> = checks.iter().flatten().copied().collect();
    given
        .iter()
        .find(|c| c.target.year >= year)
        .or(given.last())
        .copied()
}

fn value_with(ind: &PlanIndicator, level: UnitLevel, year: i32, raw: Raw) -> IndicatorValue {
    let check = |target: Option<Target>| {
        target.map(|target| TargetCheck {
            target,
            status: against(&raw, ind.unit, &target),
        })
    };
    let (t2025, t2030) = judged(ind, level);
    let target_2025 = check(t2025);
    let target_2030 = check(t2030);
    let status = if raw.no_source {
        ValueStatus::NoSource
    } else if raw.value.is_none() {
        ValueStatus::NoData
    } else if let Some(c) = headline(&[target_2025, target_2030], year) {
        c.status
    } else {
        // no target to be behind: a context indicator
        ValueStatus::Met
    };
    IndicatorValue {
        indicator: ind.id.as_str().to_owned(),
        value: raw.value,
        unit: ind.unit,
        numerator: raw.numerator,
        denominator: raw.denominator,
        status,
        target_2025,
        target_2030,
        context: t2025.is_none() && t2030.is_none(),
        conversions: None,
    }
}

/// `met` when the value already satisfies the target, else `behind`. A count target on a
/// percent indicator (I3 by 2030) is compared with the numerator.
fn against(raw: &Raw, unit: ValueUnit, target: &Target) -> ValueStatus {
    if raw.no_source {
        return ValueStatus::NoSource;
    }
    let x = match (unit, target.unit) {
        (ValueUnit::Percent, ValueUnit::Count) => raw.numerator,
        _ => raw.value,
    };
    let Some(x) = x else {
        return ValueStatus::NoData;
    };
    let met = match target.comparison {
        Comparison::Gt => x > target.value,
        Comparison::Ge => x >= target.value,
    };
    if met {
        ValueStatus::Met
    } else {
        ValueStatus::Behind
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_asof;

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
use hub_contracts::v1::common::SourceRef;
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::indicator::{
    Comparison, ConversionCheck, IndicatorValue, Target, TargetCheck, UnitIndicators, UnitLevel,
    ValueStatus, ValueUnit,
};
use hub_contracts::v1::source::{LoanDisbursement, LoanStatus, NtmCommuneReport, ReportStatus};
use uuid::Uuid;

use crate::asof::{Facts, Place, Places, RegistryHistory, RegistryVersion, loans_as_of, ntm_as_of};
use crate::farmers_union::{FuInputs, FuSums};
use crate::measure::{Entity, OrgView, Term};
use crate::plan::{Measure, Plan, PlanIndicator, UnitList, UnitRow};

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

/// Per place (or unit) sums: one per term of the plan ([`terms`]); every indicator is a sum
/// over communes.
type Sums = Vec<u64>;

fn add(into: &mut Sums, from: &Sums) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// The plan's terms in order: each indicator's value or numerator, then its denominator, then
/// its `when_no_source`.
fn terms(plan: &Plan) -> Vec<&Term> {
    plan.indicators
        .iter()
        .flat_map(|i| {
            i.measure
                .terms()
                .into_iter()
                .chain(i.when_no_source.as_ref())
        })
        .collect()
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
/// is held), each loan's version as of T, the NTM revisions submitted by T; the terms over
/// the Farmers' Union's records from `fu` where a workbook covers the unit.
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
    let terms = terms(plan);
    let (live, owner) = owners(inputs.golden);
    // loans with the organisation they were matched to
    let loans: Vec<(&LoanDisbursement, Uuid)> = loans_as_of(inputs.loans, t)
        .into_iter()
        .filter_map(|l| owner.get(&l.meta.source).map(|o| (l, *o)))
        .collect();
    let standing = standing_reports(inputs.ntm, t);
    let state = AsOf {
        period: (b, t),
        credit: credit(&loans, b, t),
        ntm_linked: ntm_linked(&standing, &owner),
    };
    let places = Places::new(plan);
    let history = RegistryHistory::new(registry);
    let sums = state.place_sums(&places, &terms, &live, &loans, &history);
    let unit_sums = unit_sums(plan, list, &places, &sums, &standing, &terms);
    let table = plan.units(list);
    let fu_sums = if plan.indicators.iter().any(|i| i.from_union()) {
        crate::farmers_union::per_unit(plan, list, t, fu, inputs.golden)
    } else {
        vec![None; table.rows.len()]
    };
    table
        .rows
        .iter()
        .zip(unit_sums)
        .zip(fu_sums)
        .map(|((row, s), fu)| {
            let mut k = 0;
            let values = plan
                .indicators
                .iter()
                .map(|ind| {
                    let v = value_of(ind, row, t.year(), &terms[k..], &s[k..], fu.as_ref());
                    k += ind.measure.terms().len() + usize::from(ind.when_no_source.is_some());
                    v
                })
                .collect();
            UnitIndicators {
                unit_code: row.code.clone(),
                unit_name: row.name.clone(),
                level: row.level,
                parent_code: row.parent_code.clone(),
                values,
            }
        })
        .collect()
}

/// The live golden records, most recently updated first, and which of them owns each source
/// reference (the first to claim a reference has it).
fn owners(golden: &[GoldenRecord]) -> (Vec<&GoldenRecord>, BTreeMap<&SourceRef, Uuid>) {
    let mut live: Vec<&GoldenRecord> = golden.iter().filter(|g| !g.retired).collect();
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
    (live, owner)
}

/// The organisations with credit: a matched loan, not cancelled as of T, disbursed in [B, T].
fn credit(loans: &[(&LoanDisbursement, Uuid)], b: NaiveDate, t: NaiveDate) -> BTreeSet<Uuid> {
    let mut credit: BTreeSet<Uuid> = BTreeSet::new();
    for (loan, org) in loans {
        let gave_credit = matches!(
            loan.status,
            LoanStatus::Disbursed | LoanStatus::Repaid | LoanStatus::Overdue
        );
        if gave_credit && loan.disbursed_on.is_some_and(|d| d >= b && d <= t) {
            credit.insert(*org);
        }
    }
    credit
}

/// The NTM report standing for each commune as of T.
fn standing_reports(ntm: &[NtmCommuneReport], t: NaiveDate) -> BTreeMap<&str, &NtmCommuneReport> {
    let mut by_commune: BTreeMap<&str, Vec<&NtmCommuneReport>> = BTreeMap::new();
    for r in ntm_as_of(ntm, t) {
        by_commune.entry(&r.commune_code).or_default().push(r);
    }
    by_commune
        .into_iter()
        .filter_map(|(c, revs)| standing_report(revs, t.year()).map(|r| (c, r)))
        .collect()
}

/// Organisations listed as linked with an enterprise in their commune's standing report.
fn ntm_linked<'a>(
    standing: &BTreeMap<&'a str, &NtmCommuneReport>,
    owner: &BTreeMap<&SourceRef, Uuid>,
) -> BTreeSet<(Uuid, &'a str)> {
    let mut ntm_linked: BTreeSet<(Uuid, &str)> = BTreeSet::new();
    for (commune, report) in standing {
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
    ntm_linked
}

/// What every organisation's view is made from, as of T.
struct AsOf<'a> {
    /// (B, T).
    period: (NaiveDate, NaiveDate),
    credit: BTreeSet<Uuid>,
    ntm_linked: BTreeSet<(Uuid, &'a str)>,
}

impl AsOf<'_> {
    /// How the measures see organisation `org` in `place` with facts `facts`.
    fn view<'f>(&self, org: Uuid, place: &Place, facts: &'f Facts) -> OrgView<'f> {
        let linked_in_report = place
            .commune_2024
            .as_deref()
            .is_some_and(|c| self.ntm_linked.contains(&(org, c)));
        OrgView {
            facts,
            period: self.period,
            linked_in_report,
            credit: self.credit.contains(&org),
        }
    }

    /// The terms' sums per place (pre-2025 commune, else what is known of it): the registry
    /// organisations existing as of T, and the loans, in their organisation's place.
    fn place_sums(
        &self,
        places: &Places<'_>,
        terms: &[&Term],
        live: &[&GoldenRecord],
        loans: &[(&LoanDisbursement, Uuid)],
        history: &RegistryHistory<'_>,
    ) -> BTreeMap<Place, Sums> {
        let t = self.period.1;
        let mut sums: BTreeMap<Place, Sums> = BTreeMap::new();
        let mut orgs: BTreeMap<Uuid, (Place, Facts)> = BTreeMap::new();
        for g in live {
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
            let view = self.view(g.organisation_id, &place, &f);
            let s = sums
                .entry(place.clone())
                .or_insert_with(|| vec![0; terms.len()]);
            for (k, term) in terms.iter().enumerate() {
                s[k] += term.of_organisation(&view);
            }
            if terms.iter().any(|t| t.entity == Entity::Loans) {
                orgs.insert(g.organisation_id, (place, f));
            }
        }
        for (loan, org) in loans {
            let Some((place, f)) = orgs.get(org) else {
                continue;
            };
            let view = self.view(*org, place, f);
            let s = sums
                .entry(place.clone())
                .or_insert_with(|| vec![0; terms.len()]);
            for (k, term) in terms.iter().enumerate() {
                s[k] += term.of_loan(loan, &view);
            }
        }
        sums
    }
}

/// The terms' sums per unit of `list`: the places' sums added up, and the communes' terms,
/// every pre-2025 commune by its standing report.
fn unit_sums(
    plan: &Plan,
    list: UnitList,
    places: &Places<'_>,
    sums: &BTreeMap<Place, Sums>,
    standing: &BTreeMap<&str, &NtmCommuneReport>,
    terms: &[&Term],
) -> Vec<Sums> {
    let table = plan.units(list);
    let mut unit_sums = vec![vec![0; terms.len()]; table.rows.len()];
    for (place, s) in sums {
        for i in places.rows(list, place) {
            add(&mut unit_sums[i], s);
        }
    }
    for c in &plan.communes_2024 {
        let code = c.commune_code.as_str();
        let report = standing.get(code);
        for (k, term) in terms.iter().enumerate() {
            if term.entity != Entity::Communes {
                continue;
            }
            let counts = term
                .ntm_criterion_met
                .as_deref()
                .is_none_or(|id| report.is_some_and(|r| criterion_met(r, id)));
            for &i in table.containing.get(code).into_iter().flatten() {
                unit_sums[i][k] += u64::from(counts);
            }
        }
    }
    unit_sums
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

/// The targets a unit is judged against: the plan's targets are the province's
/// (`indicators.md`: "targets belong to the province"); a district's value is judged against
/// the plan's targets for that district when it gives some, otherwise (and a commune's
/// always) it is context, judged against nothing.
fn judged<'p>(ind: &'p PlanIndicator, row: &UnitRow) -> &'p [Target] {
    match row.level {
        UnitLevel::Province => &ind.targets,
        UnitLevel::District => ind
            .district_targets
            .get(&row.code)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
        UnitLevel::Commune => &[],
    }
}

/// The value of a term over the Farmers' Union's records in a unit a workbook covers.
fn union_value(term: &Term, fu: &FuSums) -> u64 {
    match (term.entity, term.converted, term.trained) {
        (Entity::UnionBranches, true, _) => fu.i5_num,
        (Entity::UnionBranches, false, _) => fu.i5_den,
        (Entity::UnionOfficers, _, true) => fu.i8_num,
        _ => fu.i8_den,
    }
}

/// `terms` and `s` start at the indicator's own terms.
fn value_of(
    ind: &PlanIndicator,
    row: &UnitRow,
    year: i32,
    terms: &[&Term],
    s: &[u64],
    fu: Option<&FuSums>,
) -> IndicatorValue {
    let n = ind.measure.terms().len();
    let from_union = ind.from_union();
    let raw = if from_union && fu.is_none() {
        // no workbook covers the unit: the `when_no_source` count as context
        Raw {
            value: None,
            numerator: ind.when_no_source.as_ref().map(|_| s[n] as f64),
            denominator: None,
            no_source: true,
        }
    } else {
        let at = |k: usize| match fu {
            Some(fu) if terms[k].from_union() => union_value(terms[k], fu),
            _ => s[k],
        };
        match ind.measure {
            Measure::Count { .. } => count(at(0)),
            Measure::Percent { .. } => percent(at(0), at(1)),
        }
    };
    let mut v = value_with(ind, judged(ind, row), year, raw);
    let converted = ind
        .measure
        .terms()
        .first()
        .is_some_and(|t| t.entity == Entity::UnionBranches && t.converted);
    if let (true, Some(fu)) = (converted, fu) {
        v.conversions = Some(ConversionCheck {
            matched: fu.conv_matched,
            unmatched: fu.conv_unmatched,
        });
    }
    v
}

/// The target the headline status is judged against as of `year`: of the targets given (in
/// year order), the first whose year is `year` or later, else the last (the 2025 target up
/// to 2025, then the 2030 one).
fn headline(checks: &[TargetCheck], year: i32) -> Option<TargetCheck> {
    checks
        .iter()
        .find(|c| c.target.year >= year)
        .or(checks.last())
        .copied()
}

fn value_with(ind: &PlanIndicator, targets: &[Target], year: i32, raw: Raw) -> IndicatorValue {
    let checks: Vec<TargetCheck> = targets
        .iter()
        .map(|&target| TargetCheck {
            target,
            status: against(&raw, ind.unit, &target),
        })
        .collect();
    let of_year = |y: i32| checks.iter().find(|c| c.target.year == y).copied();
    let status = if raw.no_source {
        ValueStatus::NoSource
    } else if raw.value.is_none() {
        ValueStatus::NoData
    } else if let Some(c) = headline(&checks, year) {
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
        target_2025: of_year(2025),
        target_2030: of_year(2030),
        targets: checks
            .iter()
            .filter(|c| c.target.year != 2025 && c.target.year != 2030)
            .copied()
            .collect(),
        context: checks.is_empty(),
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

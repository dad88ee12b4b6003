//! The indicators computed from the engine's identities, as the indicator service computes
//! them, compared with the world's truth; and, organisation by organisation, why I6 and I7
//! differ (a diagnostic of the harness's output).
//!
//! Part of the accuracy harness (see [`super`]): reads the engine after the run.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use hub_contracts::v1::{LoanDisbursement, NtmCommuneReport, RegistryCooperative, SourceRef};
use hub_simulators::world::System;
use hub_simulators::{Truth, TruthParams};
use serde::Serialize;

use super::WorldContracts;
use crate::engine::{Engine, OrgId};

/// How the indicators computed from the engine's identities compare with the world's truth.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IndicatorCheck {
    /// Values (indicator × unit) compared, and those that differ: all units, then the
    /// province and its districts only (what a provincial report shows).
    pub values: usize,
    pub differ: usize,
    pub values_province_districts: usize,
    pub differ_province_districts: usize,
    /// The differences in words (unit, indicator, got, truth), at most 40.
    pub differences: Vec<String>,
}

/// Computes the plan's indicators (Lai Châu's built-in plan, the truth's unit list, as of and
/// baseline) from the engine's current golden records, the world's loans and every NTM report
/// revision, exactly as the indicator service does, and compares them with `truth`.
pub fn check_indicators(
    engine: &Engine,
    contracts: &WorldContracts,
    truth: &Truth,
    params: TruthParams,
    now: DateTime<Utc>,
) -> Result<IndicatorCheck, hub_indicators::PlanError> {
    use hub_indicators::{Plan, UnitList, compute, snapshot};
    let plan = Plan::builtin()?;
    let golden: Vec<_> = engine
        .clusters()
        .into_iter()
        .filter_map(|(id, _)| engine.current_golden(id, now))
        .collect();
    let list = match params.units {
        hub_simulators::UnitList::Units2024 => UnitList::Units2024,
        hub_simulators::UnitList::Units2025 => UnitList::Units2025,
    };
    let units = compute::compute(
        &plan,
        list,
        params.as_of,
        compute::Inputs {
            golden: &golden,
            loans: &contracts.loans,
            ntm: &contracts.revisions,
        },
    );
    let provenance = hub_contracts::v1::indicator::SnapshotProvenance {
        sources: Vec::new(),
        reconciled_automatically: 0,
        awaiting_review: 0,
        automatic_share: None,
    };
    let snap = snapshot::build(&plan, list, params.as_of, units, provenance);
    let differences = truth.differences(&snap);
    // a difference names its unit first: the province is `12`, a district three digits
    let upper = |code: &str| code.len() <= 3;
    let values: usize = truth.indicators.iter().map(|u| u.values.len()).sum();
    let values_pd: usize = truth
        .indicators
        .iter()
        .filter(|u| upper(&u.unit_code))
        .map(|u| u.values.len())
        .sum();
    let differ_pd = differences
        .iter()
        .filter(|d| d.split_whitespace().next().is_some_and(upper))
        .count();
    Ok(IndicatorCheck {
        values,
        differ: differences.len(),
        values_province_districts: values_pd,
        differ_province_districts: differ_pd,
        differences: differences.into_iter().take(40).collect(),
    })
}

/// Why I6 and I7 differ from the truth, organisation by organisation: for every live,
/// supported HTX of the registry whose credit (I7) or NTM enterprise linkage (I6) the engine
/// sees differently from the truth, the loans or entries that gave it in truth and where the
/// engine put them, or those the engine gave it that belong elsewhere. A diagnostic for the
/// harness's `--worst` output (names as served; the simulated world has no real people).
pub fn indicator_errors(
    engine: &Engine,
    contracts: &WorldContracts,
    truth: &Truth,
    now: DateTime<Utc>,
) -> Vec<String> {
    let clusters = engine.clusters();
    let mut owner: HashMap<&SourceRef, usize> = HashMap::new();
    for (ci, (_, members)) in clusters.iter().enumerate() {
        for m in members {
            owner.insert(m, ci);
        }
    }
    let label = super::labels(truth);
    let credit = index_by(
        credit(contracts, truth.baseline, truth.as_of),
        |l| &l.meta.source,
        &label,
        &owner,
    );
    let linked = index_by(
        linked_entries(contracts, truth.as_of),
        |(r, _)| r,
        &label,
        &owner,
    );
    let d = Diagnosis {
        engine,
        truth,
        label,
        clusters: &clusters,
        owner,
        credit,
        linked,
    };
    let registry: HashMap<&SourceRef, &RegistryCooperative> = contracts
        .registry
        .iter()
        .map(|r| (&r.meta.source, r))
        .collect();
    let mut out = Vec::new();
    for (i, o) in truth.organisations.iter().enumerate() {
        let Some(reg) = o
            .records
            .iter()
            .find(|r| r.system == System::CoopAlliance.as_str())
        else {
            continue;
        };
        let Some(rec) = registry.get(reg) else {
            continue;
        };
        if !counted(rec, truth.as_of) {
            continue;
        }
        let org = Org {
            index: i,
            reg,
            rec,
            cluster: d.owner.get(reg).copied(),
        };
        out.extend(d.i7(&org));
        out.extend(d.i6(&org, now));
    }
    out
}

/// Whether a registry record counts in I6 and I7: a supported HTX, not dissolved, established
/// by `as_of`.
fn counted(rec: &RegistryCooperative, as_of: NaiveDate) -> bool {
    use hub_contracts::v1::{OrgKind, OrgStatus};
    rec.kind == OrgKind::Htx
        && rec.farmers_union_supported == Some(true)
        && rec.status != Some(OrgStatus::Dissolved)
        && rec.established_on.is_none_or(|d| d <= as_of)
}

/// The loans that give credit (I7): disbursed, repaid or overdue, disbursed in the period.
fn credit(
    contracts: &WorldContracts,
    baseline: NaiveDate,
    as_of: NaiveDate,
) -> Vec<&LoanDisbursement> {
    use hub_contracts::v1::LoanStatus;
    contracts
        .loans
        .iter()
        .filter(|l| {
            matches!(
                l.status,
                LoanStatus::Disbursed | LoanStatus::Repaid | LoanStatus::Overdue
            ) && l.disbursed_on.is_some_and(|d| d >= baseline && d <= as_of)
        })
        .collect()
}

/// The entries linked with an enterprise (I6) of each commune's standing report (the
/// indicator service's own rule for which revision stands), with their commune.
fn linked_entries(contracts: &WorldContracts, as_of: NaiveDate) -> Vec<(SourceRef, &str)> {
    use chrono::Datelike;
    let mut by_commune: BTreeMap<&str, Vec<&NtmCommuneReport>> = BTreeMap::new();
    for r in &contracts.revisions {
        by_commune.entry(&r.commune_code).or_default().push(r);
    }
    let standing: BTreeMap<&str, &NtmCommuneReport> = by_commune
        .into_iter()
        .filter_map(|(c, revs)| {
            hub_indicators::compute::standing_report(revs, as_of.year()).map(|r| (c, r))
        })
        .collect();
    standing
        .iter()
        .flat_map(|(c, r)| {
            r.cooperatives
                .iter()
                .filter(|e| e.linked_with_enterprise == Some(true))
                .map(move |e| {
                    (
                        SourceRef::new(r.meta.source.system.clone(), e.source_id.clone()),
                        *c,
                    )
                })
        })
        .collect()
}

/// Records indexed two ways: by the true organisation they belong to and by the engine's
/// cluster that holds them (so that the diagnosis of one organisation reads only its own).
struct ByOwner<T> {
    by_label: HashMap<usize, Vec<T>>,
    by_cluster: HashMap<usize, Vec<T>>,
}

impl<T> ByOwner<T> {
    fn of_label(&self, i: usize) -> &[T] {
        self.by_label.get(&i).map_or(&[], Vec::as_slice)
    }

    fn of_cluster(&self, c: Option<usize>) -> &[T] {
        c.and_then(|c| self.by_cluster.get(&c))
            .map_or(&[], Vec::as_slice)
    }
}

fn index_by<'a, T: Clone>(
    items: Vec<T>,
    source: impl Fn(&T) -> &SourceRef,
    label: &HashMap<&'a SourceRef, usize>,
    owner: &HashMap<&'a SourceRef, usize>,
) -> ByOwner<T> {
    let mut by_label: HashMap<usize, Vec<T>> = HashMap::new();
    let mut by_cluster: HashMap<usize, Vec<T>> = HashMap::new();
    for it in items {
        let r = source(&it);
        if let Some(&i) = label.get(r) {
            by_label.entry(i).or_default().push(it.clone());
        }
        if let Some(&c) = owner.get(r) {
            by_cluster.entry(c).or_default().push(it);
        }
    }
    ByOwner {
        by_label,
        by_cluster,
    }
}

/// What [`indicator_errors`] reads: the engine's identities, the truth's labels, and the
/// records I6 and I7 count.
struct Diagnosis<'a> {
    engine: &'a Engine,
    truth: &'a Truth,
    /// Which true organisation each labelled record belongs to.
    label: HashMap<&'a SourceRef, usize>,
    clusters: &'a [(OrgId, Vec<SourceRef>)],
    /// Which cluster each record is in.
    owner: HashMap<&'a SourceRef, usize>,
    credit: ByOwner<&'a LoanDisbursement>,
    linked: ByOwner<(SourceRef, &'a str)>,
}

/// A counted organisation of the truth: its index, its registry record, and the engine's
/// cluster of that record.
struct Org<'a> {
    index: usize,
    reg: &'a SourceRef,
    rec: &'a RegistryCooperative,
    cluster: Option<usize>,
}

impl Diagnosis<'_> {
    /// An identity in words: its registered names and size.
    fn describe(&self, ci: Option<usize>) -> String {
        let Some(ci) = ci else {
            return "nowhere".into();
        };
        let (_, members) = &self.clusters[ci];
        let regs: Vec<String> = members
            .iter()
            .filter(|m| m.system == System::CoopAlliance.as_str())
            .filter_map(|m| self.engine.observation(m).map(|o| o.name.clone()))
            .collect();
        if regs.is_empty() {
            format!("an identity of {} records, none registered", members.len())
        } else {
            format!("{} ({} records)", regs.join(" + "), members.len())
        }
    }

    /// Where a record of `org`'s went instead, and how the engine scores it against `org`'s
    /// registration and against the registrations of the identity it went to.
    fn went_to(&self, org: &Org, r: &SourceRef) -> String {
        let ci = self.owner.get(r).copied();
        let mut s = format!(
            "{}; against its registration: {}",
            self.describe(ci),
            self.explain(org.reg, r)
        );
        for m in ci.iter().flat_map(|&ci| &self.clusters[ci].1) {
            if m.system == System::CoopAlliance.as_str() {
                s += &format!("; against {m}: {}", self.explain(m, r));
            }
        }
        s
    }

    /// Whose a record truly is.
    fn whose(&self, r: &SourceRef) -> String {
        self.label
            .get(r)
            .map_or("a household or bad record".into(), |&i| {
                self.truth.organisations[i].name.clone()
            })
    }

    /// Whether a record truly is `org`'s.
    fn mine(&self, org: &Org, r: &SourceRef) -> bool {
        self.label.get(r) == Some(&org.index)
    }

    /// Whether the engine put a record in `org`'s identity.
    fn ours(&self, org: &Org, r: &SourceRef) -> bool {
        org.cluster.is_some() && self.owner.get(r).copied() == org.cluster
    }

    /// How the engine scores a record against another: the logit and each feature's part.
    fn explain(&self, a: &SourceRef, b: &SourceRef) -> String {
        self.engine
            .explain_pair(a, b)
            .map_or("not scored".into(), |p| {
                let parts: Vec<String> = p
                    .features
                    .iter()
                    .map(|(k, v)| format!("{k} {v:.2}"))
                    .collect();
                format!("logit {:.2} ({})", p.logit, parts.join(", "))
            })
    }

    /// The name the engine holds for a record.
    fn name(&self, r: &SourceRef) -> String {
        self.engine
            .observation(r)
            .map(|o| o.name.clone())
            .unwrap_or_default()
    }

    /// I7: credit in truth and in the engine, when they differ.
    fn i7(&self, org: &Org) -> Option<String> {
        let o = &self.truth.organisations[org.index];
        let truly: Vec<&&LoanDisbursement> = self
            .credit
            .of_label(org.index)
            .iter()
            .filter(|l| self.mine(org, &l.meta.source))
            .collect();
        let seen: Vec<&&LoanDisbursement> = self
            .credit
            .of_cluster(org.cluster)
            .iter()
            .filter(|l| self.ours(org, &l.meta.source))
            .collect();
        if truly.is_empty() == seen.is_empty() {
            return None;
        }
        let mut s = format!(
            "I7 {} {} ({}): credit in truth {}, in the engine {}",
            o.district_code,
            o.name,
            org.reg,
            !truly.is_empty(),
            !seen.is_empty()
        );
        for l in &truly {
            s += &format!(
                "\n    its loan {} `{}` went to {}",
                l.meta.source,
                l.borrower.name,
                self.went_to(org, &l.meta.source)
            );
        }
        for l in &seen {
            s += &format!(
                "\n    engine's loan {} `{}` is {}; against the registration: {}",
                l.meta.source,
                l.borrower.name,
                self.whose(&l.meta.source),
                self.explain(org.reg, &l.meta.source)
            );
        }
        Some(s)
    }

    /// I6: enterprise linkage in truth and in the engine, when they differ.
    fn i6(&self, org: &Org, now: DateTime<Utc>) -> Option<String> {
        let o = &self.truth.organisations[org.index];
        let golden = org
            .cluster
            .and_then(|ci| self.engine.current_golden(self.clusters[ci].0, now));
        let own_commune = o.commune_code.as_str();
        let engine_commune = golden.as_ref().and_then(|g| g.commune_code.clone());
        let truly: Vec<&(SourceRef, &str)> = self
            .linked
            .of_label(org.index)
            .iter()
            .filter(|(r, c)| *c == own_commune && self.mine(org, r))
            .collect();
        let seen: Vec<&(SourceRef, &str)> = self
            .linked
            .of_cluster(org.cluster)
            .iter()
            .filter(|(r, c)| Some(*c) == engine_commune.as_deref() && self.ours(org, r))
            .collect();
        let truth_link = org.rec.enterprise_linkage == Some(true) || !truly.is_empty();
        let engine_link = golden
            .as_ref()
            .is_some_and(|g| g.enterprise_linkage == Some(true))
            || !seen.is_empty();
        if truth_link == engine_link {
            return None;
        }
        let mut s = format!(
            "I6 {} {} ({}): linkage in truth {truth_link}, in the engine {engine_link} (commune {own_commune}, engine's {engine_commune:?})",
            o.district_code, o.name, org.reg
        );
        for (r, _) in &truly {
            s += &format!(
                "\n    its entry {r} `{}` went to {}",
                self.name(r),
                self.went_to(org, r)
            );
        }
        for (r, _) in &seen {
            s += &format!(
                "\n    engine's entry {r} `{}` is {}; against the registration: {}",
                self.name(r),
                self.whose(r),
                self.explain(org.reg, r)
            );
        }
        Some(s)
    }
}

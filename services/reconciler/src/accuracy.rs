//! Accuracy: the engine run over a whole simulated world, scored against its ground truth.
//!
//! Owns the feed (every current source record of a [`World`], converted as an adapter would:
//! tax codes to digits, phones to E.164, local times with `+07:00`, NTM entries named
//! `{commune_code}:{year}:{index}`), the pairwise metrics (precision, recall, F1 over pairs
//! of records said to be one organisation, overall and per source pair: registry↔loan,
//! loan↔loan, loan↔ntm, registry↔ntm, ntm↔ntm, registry↔registry), the review load and the
//! worst errors with the names involved (person-like names masked).
//!
//! Built only with the crate's `accuracy` feature: it links the simulators, which the
//! production library does not. The engine never sees the truth: it is read only here, after
//! the run. Deliberately bad records (which belong to no organisation) are left out, as an
//! adapter would reject them.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveTime, TimeZone, Utc};
use hub_contracts::v1::{
    Borrower, LoanDisbursement, NtmCommuneReport, NtmCooperativeEntry, Person, RegistryCooperative,
    SourceMeta, SourceRef,
};
use hub_normalise::{mask, orgname, phone, taxcode};
use hub_simulators::world::{RegistrySubject, System, World, local_to_fixed};
use hub_simulators::{Truth, TruthParams};
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::observation::{Observation, ntm_entry_id};

/// In which order the world's records reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedOrder {
    /// By the time each source last changed the record (what a hub syncing all along sees).
    Time,
    /// Registry first, then loans, then NTM reports.
    RegistryFirst,
    /// Loans, then NTM reports, then the registry (the hardest: identities formed from
    /// noisy records first, linked by the registry later).
    RegistryLast,
}

impl std::str::FromStr for FeedOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "time" => Ok(FeedOrder::Time),
            "registry-first" => Ok(FeedOrder::RegistryFirst),
            "registry-last" => Ok(FeedOrder::RegistryLast),
            other => Err(format!(
                "unknown order {other:?}: time, registry-first or registry-last"
            )),
        }
    }
}

/// One input of the engine.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Observation(Box<Observation>),
    Report(Box<NtmCommuneReport>),
}

fn meta(system: &str, id: &str, fetched_at: DateTime<FixedOffset>) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at,
        content_hash: String::new(),
        raw: serde_json::Value::Null,
        issues: Vec::new(),
    }
}

/// The world's current, well-formed source records as the adapters publish them: registry
/// records, loans and NTM reports (every revision served, as a hub polling all along saw
/// them: the indicators count the highest submitted one; the engine reads the current one).
#[derive(Debug, Clone, Default)]
pub struct WorldContracts {
    pub registry: Vec<RegistryCooperative>,
    pub loans: Vec<LoanDisbursement>,
    /// The current revision of every report.
    pub reports: Vec<NtmCommuneReport>,
    /// Every revision of every report, the current one included.
    pub revisions: Vec<NtmCommuneReport>,
}

/// The world's records converted as an adapter would (see the module documentation).
pub fn world_contracts(world: &World) -> WorldContracts {
    let mut out = WorldContracts::default();
    for rec in &world.registry {
        if rec.bad.is_some() {
            continue;
        }
        let f = match &rec.subject {
            RegistrySubject::Org(i) => &world.organisations[*i].facts,
            RegistrySubject::Junk(f) => f,
        };
        out.registry.push(RegistryCooperative {
            meta: meta(System::CoopAlliance.as_str(), &rec.id, rec.updated_at),
            registration_code: f.registration_code.clone(),
            kind: f.kind,
            name: f.name.clone(),
            commune_code: Some(f.commune_code.clone()),
            district_code: Some(f.district_code.clone()),
            address: Some(f.address.clone()),
            representative: f.representative.as_ref().map(|p| Person {
                full_name: p.full_name.clone(),
                phone: p.phone.as_deref().and_then(phone::to_e164),
            }),
            established_on: Some(f.established_on),
            status: Some(f.status),
            member_households: Some(f.member_households),
            farmers_union_supported: Some(f.farmers_union_supported),
            origin: f.origin,
            rating: f.rating,
            enterprise_linkage: f.enterprise_linkage,
            key_officers: f.key_officers,
            updated_at: rec.updated_at,
            version: rec.version,
        });
    }
    for loan in &world.loans {
        if loan.bad.is_some() {
            continue;
        }
        let modified = local_to_fixed(&loan.modified);
        let b = &loan.borrower;
        out.loans.push(LoanDisbursement {
            meta: meta(System::LoanFund.as_str(), &loan.loan_no, modified),
            loan_no: loan.loan_no.clone(),
            borrower: Borrower {
                name: b.name.clone(),
                tax_code: b.tax_code.as_deref().and_then(taxcode::clean),
                address: Some(b.address.clone()),
                legal_rep: b.legal_rep.clone(),
                phone: b.phone.as_deref().and_then(phone::to_e164),
            },
            borrower_type: loan.borrower_type,
            amount_vnd: loan.amount_vnd,
            disbursed_on: Some(loan.disbursed_on),
            term_months: Some(loan.term_months),
            purpose: Some(loan.purpose.clone()),
            status: loan.status,
            modified,
        });
    }
    let reference = hub_normalise::reference::Reference::get();
    for rep in &world.reports {
        let n = rep.revisions.len();
        for (k, rev) in rep.revisions.iter().enumerate() {
            // a revision replaced before anyone read it was never served
            if rev.bad.is_some() || !rev.ever_current {
                continue;
            }
            let at = rev.submitted_at.unwrap_or_else(|| {
                let d = chrono::NaiveDate::from_ymd_opt(rep.year, 12, 31)
                    .unwrap_or_default()
                    .and_time(NaiveTime::MIN);
                local_to_fixed(&d)
            });
            let commune = reference.commune_2024(&rep.commune_code);
            let report = NtmCommuneReport {
                meta: meta(System::Ntm.as_str(), &rep.id(), at),
                commune_code: rep.commune_code.clone(),
                commune_name: commune.map(|c| c.commune_name.clone()),
                district_name: commune.map(|c| c.district_name.clone()),
                year: rep.year,
                revision: rev.revision,
                status: rev.status,
                criteria: rev.criteria.clone(),
                cooperatives: rev
                    .cooperatives
                    .iter()
                    .enumerate()
                    .map(|(i, e)| NtmCooperativeEntry {
                        source_id: ntm_entry_id(&rep.commune_code, rep.year, i as u32),
                        index: i as u32,
                        name: e.name.clone(),
                        kind: e.kind,
                        representative: e.representative.clone(),
                        members: e.members,
                        effective: e.effective,
                        linked_with_enterprise: e.linked_with_enterprise,
                    })
                    .collect(),
                submitted_at: rev.submitted_at,
            };
            if k + 1 == n {
                out.reports.push(report.clone());
            }
            out.revisions.push(report);
        }
    }
    out
}

/// Every current, well-formed source record of the world, as contracts, in `order`.
pub fn world_feed(world: &World, order: FeedOrder) -> Vec<FeedItem> {
    feed_of(&world_contracts(world), order)
}

/// The engine's inputs from a world's contracts, in `order` (ties by time, then id).
pub fn feed_of(c: &WorldContracts, order: FeedOrder) -> Vec<FeedItem> {
    let mut items: Vec<(u8, DateTime<FixedOffset>, String, FeedItem)> = Vec::new();
    for r in &c.registry {
        items.push((
            0,
            r.updated_at,
            r.meta.source.id.clone(),
            FeedItem::Observation(Box::new(Observation::from_registry(r))),
        ));
    }
    for l in &c.loans {
        items.push((
            1,
            l.modified,
            l.loan_no.clone(),
            FeedItem::Observation(Box::new(Observation::from_loan(l))),
        ));
    }
    for r in &c.reports {
        items.push((
            2,
            r.meta.fetched_at,
            r.meta.source.id.clone(),
            FeedItem::Report(Box::new(r.clone())),
        ));
    }
    match order {
        FeedOrder::Time => items.sort_by(|a, b| (a.1, a.0, &a.2).cmp(&(b.1, b.0, &b.2))),
        FeedOrder::RegistryFirst => items.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2))),
        FeedOrder::RegistryLast => {
            items.sort_by(|a, b| ((a.0 + 2) % 3, a.1, &a.2).cmp(&((b.0 + 2) % 3, b.1, &b.2)))
        }
    }
    items.into_iter().map(|(_, _, _, i)| i).collect()
}

/// Feeds every item to the engine; returns how many observations went in and how long the
/// engine took.
pub fn run(engine: &mut Engine, feed: Vec<FeedItem>, now: DateTime<Utc>) -> (usize, Duration) {
    run_traced(engine, feed, now, |_, _| {})
}

/// [`run`], handing each operation's changes to `trace` (with the engine after it).
pub fn run_traced(
    engine: &mut Engine,
    feed: Vec<FeedItem>,
    now: DateTime<Utc>,
    mut trace: impl FnMut(&Engine, &crate::engine::Changes),
) -> (usize, Duration) {
    let mut n = 0;
    let start = Instant::now();
    for item in feed {
        let ch = match item {
            FeedItem::Observation(o) => {
                n += 1;
                engine.observe(*o, now)
            }
            FeedItem::Report(r) => {
                n += r.cooperatives.len();
                engine.ntm_report(&r, now)
            }
        };
        trace(engine, &ch);
    }
    (n, start.elapsed())
}

/// One error: records the engine put together that are different organisations, or one
/// organisation the engine kept apart.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorCase {
    /// Pairs of records this error costs.
    pub pairs: u64,
    /// What the records were called, by system (person-like names masked).
    pub names: Vec<String>,
    pub records: Vec<String>,
}

/// The systems of a pair of records, in a fixed order (registry, loan fund, NTM).
pub const SOURCE_PAIRS: [&str; 6] = [
    "registry-loan",
    "loan-loan",
    "loan-ntm",
    "registry-ntm",
    "ntm-ntm",
    "registry-registry",
];

/// 0 registry, 1 loan fund, 2 NTM (another system counts as NTM: there is none).
fn system_index(r: &SourceRef) -> usize {
    match r.system.as_str() {
        "coop-alliance" => 0,
        "loan-fund" => 1,
        _ => 2,
    }
}

/// The [`SOURCE_PAIRS`] index of a pair of systems.
fn pair_index(a: usize, b: usize) -> usize {
    match (a.min(b), a.max(b)) {
        (0, 1) => 0,
        (1, 1) => 1,
        (1, 2) => 2,
        (0, 2) => 3,
        (2, 2) => 4,
        _ => 5,
    }
}

/// Pairs within a group of records, per source pair, from its count per system.
fn pairs_by_source(n: &[u64; 3]) -> [u64; 6] {
    let mut out = [0u64; 6];
    for a in 0..3 {
        for b in a..3 {
            let k = if a == b { pairs(n[a]) } else { n[a] * n[b] };
            out[pair_index(a, b)] += k;
        }
    }
    out
}

fn counts(records: &[&SourceRef]) -> [u64; 3] {
    let mut n = [0u64; 3];
    for r in records {
        n[system_index(r)] += 1;
    }
    n
}

/// Precision, recall and F1 over the pairs of one source pair (`registry-loan`, …).
#[derive(Debug, Clone, Serialize)]
pub struct PairMetrics {
    pub pair: String,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    /// 1 when nothing was predicted.
    pub precision: f64,
    /// 1 when there is nothing to find.
    pub recall: f64,
    pub f1: f64,
}

fn ratios(correct: u64, predicted: u64, true_pairs: u64) -> (f64, f64, f64) {
    let precision = if predicted == 0 {
        1.0
    } else {
        correct as f64 / predicted as f64
    };
    let recall = if true_pairs == 0 {
        1.0
    } else {
        correct as f64 / true_pairs as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// Pairwise metrics of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Records of true organisations the engine resolved.
    pub labelled_records: usize,
    /// The same figures per source pair, in [`SOURCE_PAIRS`] order.
    pub by_pair: Vec<PairMetrics>,
    /// Review items still open after the run (the engine's own count).
    pub open_reviews: usize,
    /// Open review items whose two records truly are one organisation (the rest are not, or
    /// are unlabelled), by the item's logit: below 1, [1, 2), [2, 3), 3 and above.
    pub reviews_same_org: [usize; 4],
    pub reviews_different: [usize; 4],
    pub false_merges: Vec<ErrorCase>,
    pub missed_links: Vec<ErrorCase>,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn shown(engine: &Engine, r: &SourceRef) -> String {
    let name = engine
        .observation(r)
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let person_like = orgname::parse(&name).person_like;
    let name = if person_like {
        mask::mask_name(&name)
    } else {
        name.trim().to_owned()
    };
    format!("{}: {name}", r.system)
}

/// Scores the engine's identities against the truth (records of households and bad records
/// are unlabelled: any pair with one is a wrong pair).
pub fn evaluate(engine: &Engine, truth: &Truth, worst: usize) -> Metrics {
    let mut label: HashMap<&SourceRef, usize> = HashMap::new();
    for (i, o) in truth.organisations.iter().enumerate() {
        for r in &o.records {
            label.insert(r, i);
        }
    }
    let clusters = engine.clusters();
    let (mut predicted, mut correct) = (0u64, 0u64);
    let mut false_merges = Vec::new();
    // where each true organisation's records went
    let mut spread: BTreeMap<usize, BTreeMap<usize, Vec<SourceRef>>> = BTreeMap::new();
    let mut labelled = 0;
    let (mut predicted_by, mut correct_by) = ([0u64; 6], [0u64; 6]);
    for (ci, (_, members)) in clusters.iter().enumerate() {
        predicted += pairs(members.len() as u64);
        let all: Vec<&SourceRef> = members.iter().collect();
        for (k, n) in pairs_by_source(&counts(&all)).into_iter().enumerate() {
            predicted_by[k] += n;
        }
        let mut by_label: BTreeMap<Option<usize>, Vec<&SourceRef>> = BTreeMap::new();
        for m in members {
            let l = label.get(m).copied();
            by_label.entry(l).or_default().push(m);
            if let Some(l) = l {
                labelled += 1;
                spread
                    .entry(l)
                    .or_default()
                    .entry(ci)
                    .or_default()
                    .push(m.clone());
            }
        }
        let good: u64 = by_label
            .iter()
            .filter(|(l, _)| l.is_some())
            .map(|(_, v)| pairs(v.len() as u64))
            .sum();
        correct += good;
        for (_, v) in by_label.iter().filter(|(l, _)| l.is_some()) {
            for (k, n) in pairs_by_source(&counts(v)).into_iter().enumerate() {
                correct_by[k] += n;
            }
        }
        let wrong = pairs(members.len() as u64) - good;
        if wrong > 0 {
            false_merges.push(ErrorCase {
                pairs: wrong,
                names: by_label
                    .values()
                    .filter_map(|v| v.first())
                    .map(|r| shown(engine, r))
                    .collect(),
                records: members.iter().map(ToString::to_string).collect(),
            });
        }
    }
    let mut true_pairs = 0;
    let mut true_by = [0u64; 6];
    let mut missed = Vec::new();
    for parts in spread.values() {
        let n: u64 = parts.values().map(|v| v.len() as u64).sum();
        true_pairs += pairs(n);
        let all: Vec<&SourceRef> = parts.values().flatten().collect();
        for (k, n) in pairs_by_source(&counts(&all)).into_iter().enumerate() {
            true_by[k] += n;
        }
        if parts.len() > 1 {
            let within: u64 = parts.values().map(|v| pairs(v.len() as u64)).sum();
            missed.push(ErrorCase {
                pairs: pairs(n) - within,
                names: parts
                    .values()
                    .filter_map(|v| v.first())
                    .map(|r| shown(engine, r))
                    .collect(),
                records: parts.values().flatten().map(ToString::to_string).collect(),
            });
        }
    }
    false_merges.sort_by(|a, b| b.pairs.cmp(&a.pairs).then(a.records.cmp(&b.records)));
    missed.sort_by(|a, b| b.pairs.cmp(&a.pairs).then(a.records.cmp(&b.records)));
    false_merges.truncate(worst);
    missed.truncate(worst);
    let (precision, recall, f1) = ratios(correct, predicted, true_pairs);
    let by_pair = SOURCE_PAIRS
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let (precision, recall, f1) = ratios(correct_by[k], predicted_by[k], true_by[k]);
            PairMetrics {
                pair: (*name).to_owned(),
                true_pairs: true_by[k],
                predicted_pairs: predicted_by[k],
                correct_pairs: correct_by[k],
                precision,
                recall,
                f1,
            }
        })
        .collect();
    let (mut reviews_same_org, mut reviews_different) = ([0usize; 4], [0usize; 4]);
    for r in engine.reviews() {
        if r.status != crate::engine::ReviewStatus::Open {
            continue;
        }
        let logit = r.features.get("logit").copied().unwrap_or(0.0);
        let band = (logit.max(0.0) as usize).min(3);
        let same = match (label.get(&r.observation), label.get(&r.candidate)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        };
        if same {
            reviews_same_org[band] += 1;
        } else {
            reviews_different[band] += 1;
        }
    }
    Metrics {
        reviews_same_org,
        reviews_different,
        true_pairs,
        predicted_pairs: predicted,
        correct_pairs: correct,
        precision,
        recall,
        f1,
        labelled_records: labelled,
        by_pair,
        open_reviews: engine.stats().open_reviews,
        false_merges,
        missed_links: missed,
    }
}

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

/// The truth of a world, with its default parameters.
pub fn truth_of(world: &World) -> Truth {
    world.truth(&TruthParams::for_world(world))
}

/// A fixed present for reproducible worlds: 2025-10-15 10:00 +07:00.
pub fn default_now() -> DateTime<FixedOffset> {
    hub_simulators::world::vn_offset()
        .with_ymd_and_hms(2025, 10, 15, 10, 0, 0)
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.fixed_offset())
}

/// CPU time this thread has used (Linux, `/proc/thread-self/schedstat`), if known: on a
/// shared machine it varies less than the wall clock.
pub fn thread_cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Resets the peak resident memory of this process to what it uses now (Linux), so that
/// [`peak_rss_bytes`] measures from here. Returns whether it could.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process in bytes (Linux), if known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
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
    use chrono::Datelike;
    use hub_contracts::v1::{LoanStatus, OrgKind, OrgStatus};
    let (b, t) = (truth.baseline, truth.as_of);
    let mut label: HashMap<&SourceRef, usize> = HashMap::new();
    for (i, o) in truth.organisations.iter().enumerate() {
        for r in &o.records {
            label.insert(r, i);
        }
    }
    let clusters = engine.clusters();
    let mut owner: HashMap<&SourceRef, usize> = HashMap::new();
    for (ci, (_, members)) in clusters.iter().enumerate() {
        for m in members {
            owner.insert(m, ci);
        }
    }
    let describe = |ci: Option<usize>| -> String {
        let Some(ci) = ci else {
            return "nowhere".into();
        };
        let (_, members) = &clusters[ci];
        let regs: Vec<String> = members
            .iter()
            .filter(|m| m.system == System::CoopAlliance.as_str())
            .filter_map(|m| engine.observation(m).map(|o| o.name.clone()))
            .collect();
        if regs.is_empty() {
            format!("an identity of {} records, none registered", members.len())
        } else {
            format!("{} ({} records)", regs.join(" + "), members.len())
        }
    };
    let whose = |r: &SourceRef| -> String {
        label
            .get(r)
            .map_or("a household or bad record".into(), |&i| {
                truth.organisations[i].name.clone()
            })
    };
    let credit: Vec<&LoanDisbursement> = contracts
        .loans
        .iter()
        .filter(|l| {
            matches!(
                l.status,
                LoanStatus::Disbursed | LoanStatus::Repaid | LoanStatus::Overdue
            ) && l.disbursed_on.is_some_and(|d| d >= b && d <= t)
        })
        .collect();
    // the standing report of each commune, and its entries linked with an enterprise
    // (the indicator service's own rule for which revision stands)
    let mut by_commune: BTreeMap<&str, Vec<&NtmCommuneReport>> = BTreeMap::new();
    for r in &contracts.revisions {
        by_commune.entry(&r.commune_code).or_default().push(r);
    }
    let standing: BTreeMap<&str, &NtmCommuneReport> = by_commune
        .into_iter()
        .filter_map(|(c, revs)| {
            hub_indicators::compute::standing_report(revs, t.year()).map(|r| (c, r))
        })
        .collect();
    let linked: Vec<(SourceRef, &str)> = standing
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
        .collect();
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
        let counted = rec.kind == OrgKind::Htx
            && rec.farmers_union_supported == Some(true)
            && rec.status != Some(OrgStatus::Dissolved)
            && rec.established_on.is_none_or(|d| d <= t);
        if !counted {
            continue;
        }
        let ci = owner.get(reg).copied();
        let golden = ci.and_then(|ci| engine.current_golden(clusters[ci].0, now));
        let mine = |r: &SourceRef| label.get(r) == Some(&i);
        let ours = |r: &SourceRef| ci.is_some() && owner.get(r).copied() == ci;
        let district = &o.district_code;
        // I7
        let truly: Vec<&&LoanDisbursement> =
            credit.iter().filter(|l| mine(&l.meta.source)).collect();
        let seen: Vec<&&LoanDisbursement> =
            credit.iter().filter(|l| ours(&l.meta.source)).collect();
        if truly.is_empty() != seen.is_empty() {
            let mut s = format!(
                "I7 {district} {} ({reg}): credit in truth {}, in the engine {}",
                o.name,
                !truly.is_empty(),
                !seen.is_empty()
            );
            for l in &truly {
                s += &format!(
                    "\n    its loan {} `{}` went to {}",
                    l.meta.source,
                    l.borrower.name,
                    describe(owner.get(&l.meta.source).copied())
                );
            }
            for l in &seen {
                s += &format!(
                    "\n    engine's loan {} `{}` is {}",
                    l.meta.source,
                    l.borrower.name,
                    whose(&l.meta.source)
                );
            }
            out.push(s);
        }
        // I6
        let own_commune = o.commune_code.as_str();
        let engine_commune = golden.as_ref().and_then(|g| g.commune_code.clone());
        let truly: Vec<&(SourceRef, &str)> = linked
            .iter()
            .filter(|(r, c)| *c == own_commune && mine(r))
            .collect();
        let seen: Vec<&(SourceRef, &str)> = linked
            .iter()
            .filter(|(r, c)| Some(*c) == engine_commune.as_deref() && ours(r))
            .collect();
        let truth_link = rec.enterprise_linkage == Some(true) || !truly.is_empty();
        let engine_link = golden
            .as_ref()
            .is_some_and(|g| g.enterprise_linkage == Some(true))
            || !seen.is_empty();
        if truth_link != engine_link {
            let mut s = format!(
                "I6 {district} {} ({reg}): linkage in truth {truth_link}, in the engine {engine_link} (commune {own_commune}, engine's {engine_commune:?})",
                o.name
            );
            for (r, _) in &truly {
                let name = engine
                    .observation(r)
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                s += &format!(
                    "\n    its entry {r} `{name}` went to {}",
                    describe(owner.get(r).copied())
                );
            }
            for (r, _) in &seen {
                let name = engine
                    .observation(r)
                    .map(|o| o.name.clone())
                    .unwrap_or_default();
                s += &format!("\n    engine's entry {r} `{name}` is {}", whose(r));
            }
            out.push(s);
        }
    }
    out
}

//! The pairwise metrics of a run: precision, recall and F1 over pairs of records said to be
//! one organisation, overall and per source pair, the review load by logit, and the worst
//! false merges and missed links with the names involved (person-like names masked).
//!
//! Part of the accuracy harness (see [`super`]): reads the engine's identities and the truth
//! after the run.

use std::collections::{BTreeMap, HashMap};

use hub_contracts::v1::SourceRef;
use hub_normalise::{mask, orgname};
use hub_simulators::Truth;
use serde::Serialize;

use crate::engine::{Engine, OrgId};

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

/// What the engine's identities say, counted over its clusters.
#[derive(Default)]
struct Predicted<'a> {
    pairs: u64,
    correct: u64,
    by_pair: [u64; 6],
    correct_by_pair: [u64; 6],
    /// Records of true organisations the engine resolved.
    labelled: usize,
    false_merges: Vec<ErrorCase>,
    /// Where each true organisation's records went: cluster index → its records there.
    spread: BTreeMap<usize, BTreeMap<usize, Vec<&'a SourceRef>>>,
}

/// What the truth says: its pairs, and those the engine kept apart.
struct Truly {
    pairs: u64,
    by_pair: [u64; 6],
    missed: Vec<ErrorCase>,
}

/// Scores the engine's identities against the truth (records of households and bad records
/// are unlabelled: any pair with one is a wrong pair).
pub fn evaluate(engine: &Engine, truth: &Truth, worst: usize) -> Metrics {
    let label = super::labels(truth);
    let clusters = engine.clusters();
    let mut p = predicted(engine, &clusters, &label);
    let mut t = truly(engine, &p.spread);
    p.false_merges
        .sort_by(|a, b| b.pairs.cmp(&a.pairs).then(a.records.cmp(&b.records)));
    t.missed
        .sort_by(|a, b| b.pairs.cmp(&a.pairs).then(a.records.cmp(&b.records)));
    p.false_merges.truncate(worst);
    t.missed.truncate(worst);
    let (precision, recall, f1) = ratios(p.correct, p.pairs, t.pairs);
    let by_pair = SOURCE_PAIRS
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let (precision, recall, f1) = ratios(p.correct_by_pair[k], p.by_pair[k], t.by_pair[k]);
            PairMetrics {
                pair: (*name).to_owned(),
                true_pairs: t.by_pair[k],
                predicted_pairs: p.by_pair[k],
                correct_pairs: p.correct_by_pair[k],
                precision,
                recall,
                f1,
            }
        })
        .collect();
    let (reviews_same_org, reviews_different) = review_bands(engine, &label);
    Metrics {
        reviews_same_org,
        reviews_different,
        true_pairs: t.pairs,
        predicted_pairs: p.pairs,
        correct_pairs: p.correct,
        precision,
        recall,
        f1,
        labelled_records: p.labelled,
        by_pair,
        open_reviews: engine.stats().open_reviews,
        false_merges: p.false_merges,
        missed_links: t.missed,
    }
}

/// The pairs the engine's clusters make, those of them that are right, and the false merges.
fn predicted<'a>(
    engine: &Engine,
    clusters: &'a [(OrgId, Vec<SourceRef>)],
    label: &HashMap<&SourceRef, usize>,
) -> Predicted<'a> {
    let mut p = Predicted::default();
    for (ci, (_, members)) in clusters.iter().enumerate() {
        p.pairs += pairs(members.len() as u64);
        let all: Vec<&SourceRef> = members.iter().collect();
        for (k, n) in pairs_by_source(&counts(&all)).into_iter().enumerate() {
            p.by_pair[k] += n;
        }
        let mut by_label: BTreeMap<Option<usize>, Vec<&SourceRef>> = BTreeMap::new();
        for m in members {
            let l = label.get(m).copied();
            by_label.entry(l).or_default().push(m);
            if let Some(l) = l {
                p.labelled += 1;
                p.spread
                    .entry(l)
                    .or_default()
                    .entry(ci)
                    .or_default()
                    .push(m);
            }
        }
        let good: u64 = by_label
            .iter()
            .filter(|(l, _)| l.is_some())
            .map(|(_, v)| pairs(v.len() as u64))
            .sum();
        p.correct += good;
        for (_, v) in by_label.iter().filter(|(l, _)| l.is_some()) {
            for (k, n) in pairs_by_source(&counts(v)).into_iter().enumerate() {
                p.correct_by_pair[k] += n;
            }
        }
        let wrong = pairs(members.len() as u64) - good;
        if wrong > 0 {
            p.false_merges.push(ErrorCase {
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
    p
}

/// The true pairs (of the labelled records the engine resolved), and the organisations the
/// engine kept apart.
fn truly(engine: &Engine, spread: &BTreeMap<usize, BTreeMap<usize, Vec<&SourceRef>>>) -> Truly {
    let mut t = Truly {
        pairs: 0,
        by_pair: [0u64; 6],
        missed: Vec::new(),
    };
    for parts in spread.values() {
        let n: u64 = parts.values().map(|v| v.len() as u64).sum();
        t.pairs += pairs(n);
        let all: Vec<&SourceRef> = parts.values().flatten().copied().collect();
        for (k, n) in pairs_by_source(&counts(&all)).into_iter().enumerate() {
            t.by_pair[k] += n;
        }
        if parts.len() > 1 {
            let within: u64 = parts.values().map(|v| pairs(v.len() as u64)).sum();
            t.missed.push(ErrorCase {
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
    t
}

/// Open review items whose two records truly are one organisation, and the rest, by the
/// item's logit band (below 1, [1, 2), [2, 3), 3 and above).
fn review_bands(engine: &Engine, label: &HashMap<&SourceRef, usize>) -> ([usize; 4], [usize; 4]) {
    let (mut same_org, mut different) = ([0usize; 4], [0usize; 4]);
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
            same_org[band] += 1;
        } else {
            different[band] += 1;
        }
    }
    (same_org, different)
}

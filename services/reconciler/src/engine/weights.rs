//! Match weights: how much each feature's agreement level says about two records being one
//! organisation, per pair of source systems, estimated from the records themselves.
//!
//! Owns the comparison levels' vocabulary ([`Feature`], [`LEVELS`]), the prior the estimate
//! starts from, and the estimation: expectation–maximisation over the comparison vectors of
//! blocked pairs, as Fellegi–Sunter models do (Splink's `estimate_parameters_using_
//! expectation_maximisation`): each pair is a match with probability λ; given that, each
//! feature's level is drawn independently from `m` (matches) or `u` (non-matches); EM fits λ,
//! `m` and `u` to the observed vectors. A level's weight is `ln(m/u)`; a pair's log-odds is
//! `ln(λ/(1−λ))` plus the weights of its levels.
//!
//! The prior is a Dirichlet pseudo-count on every `m` and `u` ([`PRIOR_PAIRS`] pairs' worth):
//! a pair class with few blocked pairs keeps weights near the prior, a large one speaks for
//! itself. The estimate is refused (the prior kept, and said so) when it turns the evidence
//! upside down: an exact name weighing less than a different one, the same commune less than
//! another district.
//!
//! Decides no match (the engine does, from the log-odds) and never sees the truth: only the
//! levels [`super::score`] derives from two records' features. Pure and deterministic: the
//! same pattern counts give the same weights.

// the tables are indexed in parallel by feature and level (m, u, w and the counts): index
// loops say that more plainly than zipped iterators
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use serde::Serialize;

use super::observation::ObservationKind;

/// The compared features, each with a few ordered levels (see [`LEVEL_NAMES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    Name,
    Location,
    Kind,
    Representative,
    Phone,
    Code,
    /// Member households: the registry's count and an NTM report's (a tie-breaker between
    /// namesakes of one commune; most pairs have it on one side only).
    Members,
}

/// Number of compared features.
pub const FEATURES: usize = 7;
/// Every feature, in [`Feature`] order.
pub const ALL: [Feature; FEATURES] = [
    Feature::Name,
    Feature::Location,
    Feature::Kind,
    Feature::Representative,
    Feature::Phone,
    Feature::Code,
    Feature::Members,
];
/// The most levels a feature has.
pub const MAX_LEVELS: usize = 7;
/// Levels per feature.
pub const LEVELS: [usize; FEATURES] = [7, 6, 5, 6, 3, 4, 4];

/// The levels' names, per feature (what the log shows).
pub const LEVEL_NAMES: [&[&str]; FEATURES] = [
    &[
        "conflict",
        "against",
        "weak_against",
        "weak",
        "fair",
        "strong",
        "very_strong",
    ],
    &[
        "same_commune",
        "same_2025_unit",
        "same_district",
        "district_only_same",
        "other_district",
        "unknown",
    ],
    &["same", "unknown", "htx_vs_tht", "union_vs_member", "other"],
    &["exact", "close", "similar", "weak", "different", "missing"],
    &["equal", "different", "missing"],
    &["equal", "one_apart", "far_apart", "missing"],
    &["equal", "close", "different", "missing"],
];

impl Feature {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Name => "name",
            Feature::Location => "location",
            Feature::Kind => "kind",
            Feature::Representative => "representative",
            Feature::Phone => "phone",
            Feature::Code => "code",
            Feature::Members => "members",
        }
    }

    /// The log's key for this feature's weight (`w_name`, …).
    pub fn weight_key(self) -> &'static str {
        match self {
            Feature::Name => "w_name",
            Feature::Location => "w_location",
            Feature::Kind => "w_kind",
            Feature::Representative => "w_representative",
            Feature::Phone => "w_phone",
            Feature::Code => "w_code",
            Feature::Members => "w_members",
        }
    }

    /// The log's key for this feature's level (its index in [`LEVEL_NAMES`]).
    pub fn level_key(self) -> &'static str {
        match self {
            Feature::Name => "level_name",
            Feature::Location => "level_location",
            Feature::Kind => "level_kind",
            Feature::Representative => "level_representative",
            Feature::Phone => "level_phone",
            Feature::Code => "level_code",
            Feature::Members => "level_members",
        }
    }
}

/// A pair's agreement level on every feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Levels(pub [u8; FEATURES]);

impl Levels {
    /// One number for the whole vector (mixed radix over [`LEVELS`]).
    pub fn pattern(&self) -> u32 {
        let mut p = 0u32;
        for (k, l) in self.0.iter().enumerate() {
            p = p * LEVELS[k] as u32 + u32::from(*l);
        }
        p
    }

    /// The vector a [`Levels::pattern`] stands for.
    pub fn from_pattern(mut p: u32) -> Levels {
        let mut v = [0u8; FEATURES];
        for k in (0..FEATURES).rev() {
            v[k] = (p % LEVELS[k] as u32) as u8;
            p /= LEVELS[k] as u32;
        }
        Levels(v)
    }
}

/// Which two systems a pair joins: matches look different between them (an NTM entry is a
/// short form, a registry record has a code and a representative, a loan has neither for
/// sure), so each class has its own weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairClass {
    RegistryRegistry,
    RegistryLoan,
    RegistryNtm,
    LoanLoan,
    LoanNtm,
    NtmNtm,
}

/// Number of pair classes.
pub const CLASSES: usize = 6;
/// Every class, in order.
pub const ALL_CLASSES: [PairClass; CLASSES] = [
    PairClass::RegistryRegistry,
    PairClass::RegistryLoan,
    PairClass::RegistryNtm,
    PairClass::LoanLoan,
    PairClass::LoanNtm,
    PairClass::NtmNtm,
];

impl PairClass {
    pub fn of(a: ObservationKind, b: ObservationKind) -> PairClass {
        use ObservationKind::*;
        match (a, b) {
            (Registry, Registry) => PairClass::RegistryRegistry,
            (Registry, Loan) | (Loan, Registry) => PairClass::RegistryLoan,
            (Registry, NtmEntry) | (NtmEntry, Registry) => PairClass::RegistryNtm,
            (Loan, Loan) => PairClass::LoanLoan,
            (Loan, NtmEntry) | (NtmEntry, Loan) => PairClass::LoanNtm,
            (NtmEntry, NtmEntry) => PairClass::NtmNtm,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PairClass::RegistryRegistry => "registry-registry",
            PairClass::RegistryLoan => "registry-loan",
            PairClass::RegistryNtm => "registry-ntm",
            PairClass::LoanLoan => "loan-loan",
            PairClass::LoanNtm => "loan-ntm",
            PairClass::NtmNtm => "ntm-ntm",
        }
    }
}

/// How many blocked pairs' worth the prior counts for, in every class.
pub const PRIOR_PAIRS: f64 = 200.0;
/// No level weighs more than this either way (a level never seen among matches or
/// non-matches would otherwise weigh infinitely).
pub const WEIGHT_CAP: f64 = 9.0;
/// EM stops when no probability moved more than this in an iteration…
const TOLERANCE: f64 = 1e-7;
/// …or after this many iterations.
const MAX_ITERATIONS: u32 = 200;
/// Fewer certain matches than this in a class: its `m` is not measured from them.
pub const MIN_CERTAIN: u64 = 50;
/// Fewer blocked pairs than this in a class: the prior is kept as it is.
pub const MIN_PAIRS: u64 = 200;

/// The prior's `m` (among matches) and `u` (among non-matches) per feature and level:
/// what a careful reader of Vietnamese registers expects before seeing any data. The
/// estimate starts here and is pulled back towards it by [`PRIOR_PAIRS`].
fn prior_mu(class: PairClass, f: Feature) -> (&'static [f64], &'static [f64]) {
    let ntm = matches!(
        class,
        PairClass::RegistryNtm | PairClass::LoanNtm | PairClass::NtmNtm
    );
    match f {
        // bands of the hand-set name contribution, which already forgives an NTM short form
        // the words it leaves out
        Feature::Name if ntm => (
            &[0.004, 0.02, 0.04, 0.10, 0.25, 0.30, 0.286],
            &[0.10, 0.45, 0.20, 0.12, 0.08, 0.03, 0.02],
        ),
        Feature::Name => (
            &[0.004, 0.02, 0.03, 0.06, 0.14, 0.30, 0.446],
            &[0.10, 0.45, 0.20, 0.12, 0.08, 0.03, 0.02],
        ),
        Feature::Location => (
            &[0.78, 0.04, 0.06, 0.05, 0.02, 0.05],
            &[0.15, 0.05, 0.45, 0.05, 0.25, 0.05],
        ),
        Feature::Kind => (
            &[0.85, 0.11, 0.02, 0.01, 0.01],
            &[0.55, 0.10, 0.25, 0.05, 0.05],
        ),
        Feature::Representative => (
            &[0.50, 0.12, 0.06, 0.04, 0.06, 0.22],
            &[0.01, 0.01, 0.02, 0.05, 0.69, 0.22],
        ),
        Feature::Phone => (&[0.35, 0.10, 0.55], &[0.002, 0.45, 0.548]),
        Feature::Code => (&[0.40, 0.05, 0.01, 0.54], &[0.001, 0.004, 0.30, 0.695]),
        // counts drift between a registration and a commune's report, and most pairs have
        // a count on one side only; two different cooperatives rarely report the same
        Feature::Members => (&[0.30, 0.20, 0.10, 0.40], &[0.02, 0.08, 0.50, 0.40]),
    }
}

/// The prior's share of matches among blocked pairs.
const PRIOR_LAMBDA: f64 = 0.2;
/// The prior's share of matches among an observation's likeliest candidates.
const PRIOR_CANDIDATE_LAMBDA: f64 = 0.6;

/// One pair class's model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassModel {
    pub class: PairClass,
    /// Share of matches among the blocked pairs.
    pub lambda: f64,
    /// Share of matches among the pairs of an observation and its likeliest candidate: the
    /// prior odds a decision starts from.
    pub candidate_lambda: f64,
    /// P(level | match), per feature and level.
    pub m: [[f64; MAX_LEVELS]; FEATURES],
    /// P(level | non-match).
    pub u: [[f64; MAX_LEVELS]; FEATURES],
    /// `ln(m/u)`, capped at ±[`WEIGHT_CAP`].
    pub w: [[f64; MAX_LEVELS]; FEATURES],
    /// Blocked pairs the estimate saw (0: the prior).
    pub pairs: u64,
    /// EM iterations run.
    pub iterations: u32,
    /// Why the estimate was not used, when it was not: the class then scores with the
    /// hand-set contributions of rules 1.0.
    pub fallback: Option<String>,
    /// Score this class with the hand-set contributions (no estimate yet, too few pairs, or
    /// an estimate refused).
    pub legacy: bool,
}

impl ClassModel {
    fn prior(class: PairClass) -> ClassModel {
        let mut c = ClassModel {
            class,
            lambda: PRIOR_LAMBDA,
            candidate_lambda: PRIOR_CANDIDATE_LAMBDA,
            m: [[0.0; MAX_LEVELS]; FEATURES],
            u: [[0.0; MAX_LEVELS]; FEATURES],
            w: [[0.0; MAX_LEVELS]; FEATURES],
            pairs: 0,
            iterations: 0,
            fallback: None,
            legacy: false,
        };
        for f in ALL {
            let (m, u) = prior_mu(class, f);
            let k = f.index();
            c.m[k][..m.len()].copy_from_slice(m);
            c.u[k][..u.len()].copy_from_slice(u);
        }
        c.normalise();
        c.reweigh();
        c
    }

    fn normalise(&mut self) {
        for k in 0..FEATURES {
            let n = LEVELS[k];
            for t in [&mut self.m[k], &mut self.u[k]] {
                let s: f64 = t[..n].iter().sum();
                if s > 0.0 {
                    t[..n].iter_mut().for_each(|x| *x /= s);
                }
            }
        }
    }

    fn reweigh(&mut self) {
        for k in 0..FEATURES {
            for l in 0..LEVELS[k] {
                let (m, u) = (self.m[k][l].max(1e-12), self.u[k][l].max(1e-12));
                self.w[k][l] = (m / u).ln().clamp(-WEIGHT_CAP, WEIGHT_CAP);
            }
        }
        // a closer agreement never weighs less than a looser one of the same feature
        for (f, order) in ORDERED {
            monotone(&mut self.w[f.index()], order);
        }
    }

    /// The log-odds before any feature is compared: of the share of matches among an
    /// observation's likeliest candidates.
    pub fn prior_logit(&self) -> f64 {
        let l = self.candidate_lambda.clamp(1e-6, 1.0 - 1e-6);
        (l / (1.0 - l)).ln()
    }

    /// The weight of a feature's level.
    pub fn weight(&self, f: Feature, level: u8) -> f64 {
        self.w[f.index()][usize::from(level)]
    }

    /// Why these weights contradict what the levels mean, if they do.
    fn implausible(&self) -> Option<String> {
        let name = &self.w[Feature::Name.index()];
        let loc = &self.w[Feature::Location.index()];
        if name[6] <= name[1] {
            return Some(format!(
                "an equal name weighs {:.2}, a different one {:.2}",
                name[6], name[1]
            ));
        }
        if name[6] <= 0.0 {
            return Some(format!("an equal name weighs {:.2}", name[6]));
        }
        if loc[0] <= loc[4] {
            return Some(format!(
                "the same commune weighs {:.2}, another district {:.2}",
                loc[0], loc[4]
            ));
        }
        if !(0.0..1.0).contains(&self.lambda) || self.lambda.is_nan() {
            return Some(format!("λ = {}", self.lambda));
        }
        None
    }
}

/// The weights of every pair class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Weights {
    classes: Vec<ClassModel>,
}

static LEGACY: std::sync::LazyLock<Weights> = std::sync::LazyLock::new(|| Weights {
    classes: ALL_CLASSES
        .iter()
        .map(|c| ClassModel {
            legacy: true,
            fallback: Some("not estimated".into()),
            ..ClassModel::prior(*c)
        })
        .collect(),
});

impl Default for Weights {
    /// [`Weights::legacy`]: an engine that has not estimated yet scores as rules 1.0 did.
    fn default() -> Self {
        Weights::legacy().clone()
    }
}

impl Weights {
    /// The prior, for an engine that has not estimated yet.
    pub fn prior() -> Weights {
        Weights {
            classes: ALL_CLASSES.iter().map(|c| ClassModel::prior(*c)).collect(),
        }
    }

    /// The hand-set contributions of rules 1.0 in every class: what an engine scores with
    /// before it has estimated anything (and kept to compare against).
    pub fn legacy() -> &'static Weights {
        &LEGACY
    }

    /// Whether every class scores with the hand-set contributions.
    pub fn is_legacy(&self) -> bool {
        self.classes.iter().all(|c| c.legacy)
    }

    pub fn class(&self, c: PairClass) -> &ClassModel {
        &self.classes[c.index()]
    }

    pub fn classes(&self) -> &[ClassModel] {
        &self.classes
    }

    /// Estimates every class from its blocked pairs' level vectors, starting from and pulled
    /// towards the prior.
    pub fn estimate(counts: &PatternCounts) -> Weights {
        Weights {
            classes: ALL_CLASSES
                .iter()
                .map(|c| {
                    estimate_class(
                        *c,
                        &counts.by_class[c.index()],
                        &counts.top_by_class[c.index()],
                        &counts.random_by_class[c.index()],
                        &counts.certain_by_class[c.index()],
                    )
                })
                .collect(),
        }
    }

    /// A table of the weights (class, feature, level, m, u, weight), for people.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for c in &self.classes {
            out.push_str(&format!(
                "{}: {} pairs, λ {:.3} (likeliest candidates {:.3}), {} iterations{}\n",
                c.class.as_str(),
                c.pairs,
                c.lambda,
                c.candidate_lambda,
                c.iterations,
                c.fallback
                    .as_ref()
                    .map(|f| format!(" (hand-set weights: {f})"))
                    .unwrap_or_default()
            ));
            for f in ALL {
                let k = f.index();
                let row: Vec<String> = (0..LEVELS[k])
                    .map(|l| format!("{} {:+.2}", LEVEL_NAMES[k][l], c.w[k][l]))
                    .collect();
                out.push_str(&format!("  {:<15} {}\n", f.as_str(), row.join(", ")));
            }
        }
        out
    }
}

/// How often each level vector occurred among blocked pairs, per pair class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternCounts {
    by_class: [BTreeMap<u32, u64>; CLASSES],
    /// The pairs of an observation and the one other observation sharing the most blocking
    /// keys with it (its likeliest candidate), also counted in `by_class`.
    top_by_class: [BTreeMap<u32, u64>; CLASSES],
    /// Pairs drawn at random among all observations: almost all non-matches, they tell
    /// `u` (how often each level occurs by chance) without EM having to.
    random_by_class: [BTreeMap<u32, u64>; CLASSES],
    /// Blocked pairs with equal full registration codes: matches by the certain rule, so
    /// how their other features agree is `m` (how noisy matches are), measured.
    certain_by_class: [BTreeMap<u32, u64>; CLASSES],
}

impl PatternCounts {
    /// Counts a blocked pair; `top` when it is its observation's likeliest candidate.
    pub fn add(&mut self, class: PairClass, levels: Levels, top: bool) {
        *self.by_class[class.index()]
            .entry(levels.pattern())
            .or_insert(0) += 1;
        if top {
            *self.top_by_class[class.index()]
                .entry(levels.pattern())
                .or_insert(0) += 1;
        }
    }

    /// Counts a pair drawn at random.
    pub fn add_random(&mut self, class: PairClass, levels: Levels) {
        *self.random_by_class[class.index()]
            .entry(levels.pattern())
            .or_insert(0) += 1;
    }

    /// Counts a pair the certain rule (equal registration codes) says is a match.
    pub fn add_certain(&mut self, class: PairClass, levels: Levels) {
        *self.certain_by_class[class.index()]
            .entry(levels.pattern())
            .or_insert(0) += 1;
    }

    /// The counts of both (pairs counted in either).
    pub fn merged(mut self, other: PatternCounts) -> PatternCounts {
        let mine = [
            &mut self.by_class,
            &mut self.top_by_class,
            &mut self.random_by_class,
            &mut self.certain_by_class,
        ];
        let theirs = [
            other.by_class,
            other.top_by_class,
            other.random_by_class,
            other.certain_by_class,
        ];
        for (mine, theirs) in mine.into_iter().zip(theirs) {
            for (m, t) in mine.iter_mut().zip(theirs) {
                for (pattern, n) in t {
                    *m.entry(pattern).or_insert(0) += n;
                }
            }
        }
        self
    }

    /// Pairs counted in a class.
    pub fn pairs(&self, class: PairClass) -> u64 {
        self.by_class[class.index()].values().sum()
    }
}

/// Levels whose meaning is ordered, closest agreement first: their weights must not rise
/// along the order. A missing value and the kinds are not ordered, nor are a name's lower
/// levels (a substituted word, `weak_against`, is a different thing from a name sharing
/// little, and noisy typing may make it the likelier among matches: EM must learn that).
const ORDERED: [(Feature, &[usize]); 5] = [
    (Feature::Name, &[6, 5, 4, 3]),
    (Feature::Representative, &[0, 1, 2, 3, 4]),
    (Feature::Phone, &[0, 1]),
    (Feature::Code, &[0, 1, 2]),
    (Feature::Members, &[0, 1, 2]),
];

/// Makes `w` non-increasing along `order` by pooling adjacent violators (each pool takes
/// its levels' mean): the least change in squares that respects the order. An estimate can
/// break the order where a level is rare among matches in a dense world (an exact name
/// shared by namesakes weighing less than a name with a sector word dropped); the order is
/// what the levels mean.
fn monotone(w: &mut [f64; MAX_LEVELS], order: &[usize]) {
    // pools of (sum, count), each mean no greater than the previous pool's
    let mut pools: Vec<(f64, usize)> = Vec::with_capacity(order.len());
    for &l in order {
        pools.push((w[l], 1));
        while pools.len() > 1 {
            let (s1, n1) = pools[pools.len() - 1];
            let (s0, n0) = pools[pools.len() - 2];
            if s1 / n1 as f64 <= s0 / n0 as f64 {
                break;
            }
            pools.pop();
            if let Some(last) = pools.last_mut() {
                *last = (s0 + s1, n0 + n1);
            }
        }
    }
    let mut at = 0;
    for (sum, n) in pools {
        for &l in &order[at..at + n] {
            w[l] = sum / n as f64;
        }
        at += n;
    }
}

/// Posterior probability of a match for a level vector under a model.
fn posterior(c: &ClassModel, lambda: f64, lv: &Levels) -> f64 {
    let mut lm = lambda.ln();
    let mut lu = (1.0 - lambda).ln();
    for k in 0..FEATURES {
        let l = usize::from(lv.0[k]);
        lm += c.m[k][l].max(1e-300).ln();
        lu += c.u[k][l].max(1e-300).ln();
    }
    1.0 / (1.0 + (lu - lm).exp())
}

/// The model of one class of pairs, estimated from its blocked pairs (`counts`), its
/// likeliest candidates (`top`), random pairs and certain matches (pattern → pairs); the
/// prior, marked as the fallback, when there are too few pairs or the fit is implausible.
fn estimate_class(
    class: PairClass,
    counts: &BTreeMap<u32, u64>,
    top: &BTreeMap<u32, u64>,
    random: &BTreeMap<u32, u64>,
    certain: &BTreeMap<u32, u64>,
) -> ClassModel {
    let prior = ClassModel::prior(class);
    let total: u64 = counts.values().sum();
    if total < MIN_PAIRS {
        return ClassModel {
            pairs: total,
            fallback: Some(format!("{total} blocked pairs, fewer than {MIN_PAIRS}")),
            legacy: true,
            ..prior
        };
    }
    let patterns: Vec<(Levels, f64)> = counts
        .iter()
        .map(|(p, n)| (Levels::from_pattern(*p), *n as f64))
        .collect();
    let mut cur = prior.clone();
    // u from the random pairs (Splink's estimate_u_using_random_sampling), held fixed: EM
    // over blocked pairs alone lets the latent class drift to what blocking selected for
    // (the same commune) instead of the same organisation
    let u_fixed = fix_u(&mut cur, &prior, random);
    // m from the certain matches where there are enough (every feature but the code, which
    // selected them); EM is then left only λ to fit
    let m_fixed = u_fixed && fix_m(&mut cur, &prior, certain);
    let fixed = Fixed {
        m: m_fixed,
        u: u_fixed,
    };
    let mut iterations = 0;
    for it in 1..=MAX_ITERATIONS {
        iterations = it;
        let (next, moved) = em_step(&cur, &prior, &patterns, total, fixed);
        cur = next;
        if moved < TOLERANCE {
            break;
        }
    }
    cur.reweigh();
    cur.pairs = total;
    cur.iterations = iterations;
    // the engine decides between an observation and its likeliest candidates, not any two
    // blocked records: its prior odds are the share of matches among those pairs, which the
    // fitted model tells (one E-step over them)
    let top_total: u64 = top.values().sum();
    if top_total >= MIN_PAIRS / 4 {
        let matches: f64 = top
            .iter()
            .map(|(p, n)| *n as f64 * posterior(&cur, cur.lambda, &Levels::from_pattern(*p)))
            .sum();
        cur.candidate_lambda =
            (matches + PRIOR_PAIRS * PRIOR_CANDIDATE_LAMBDA) / (top_total as f64 + PRIOR_PAIRS);
    }
    if let Some(why) = cur.implausible() {
        return ClassModel {
            pairs: total,
            iterations,
            fallback: Some(why),
            legacy: true,
            ..prior
        };
    }
    cur
}

/// Which of a class's probabilities were estimated outside EM and are held fixed in it.
#[derive(Debug, Clone, Copy)]
struct Fixed {
    m: bool,
    u: bool,
}

/// How many pairs of `patterns` stand at each level of each feature.
fn level_counts(patterns: &BTreeMap<u32, u64>) -> [[f64; MAX_LEVELS]; FEATURES] {
    let mut c = [[0.0; MAX_LEVELS]; FEATURES];
    for (p, n) in patterns {
        let lv = Levels::from_pattern(*p);
        for k in 0..FEATURES {
            c[k][usize::from(lv.0[k])] += *n as f64;
        }
    }
    c
}

/// Sets `cur.u` from the random pairs (the prior as pseudo-counts) when there are enough of
/// them; returns whether it did.
fn fix_u(cur: &mut ClassModel, prior: &ClassModel, random: &BTreeMap<u32, u64>) -> bool {
    let random_total: u64 = random.values().sum();
    if random_total < MIN_PAIRS {
        return false;
    }
    let ru = level_counts(random);
    for k in 0..FEATURES {
        for l in 0..LEVELS[k] {
            cur.u[k][l] =
                (ru[k][l] + PRIOR_PAIRS * prior.u[k][l]) / (random_total as f64 + PRIOR_PAIRS);
        }
    }
    true
}

/// Sets `cur.m` of every feature but the code from the certain matches (the prior as
/// pseudo-counts) when there are enough of them; returns whether it did.
fn fix_m(cur: &mut ClassModel, prior: &ClassModel, certain: &BTreeMap<u32, u64>) -> bool {
    let certain_total: u64 = certain.values().sum();
    if certain_total < MIN_CERTAIN {
        return false;
    }
    let cm = level_counts(certain);
    for f in ALL {
        if f == Feature::Code {
            continue;
        }
        let k = f.index();
        for l in 0..LEVELS[k] {
            cur.m[k][l] =
                (cm[k][l] + PRIOR_PAIRS * prior.m[k][l]) / (certain_total as f64 + PRIOR_PAIRS);
        }
    }
    true
}

/// One EM iteration over the blocked `patterns` (`total` pairs): the next model, and the
/// largest change of any of its probabilities.
fn em_step(
    cur: &ClassModel,
    prior: &ClassModel,
    patterns: &[(Levels, f64)],
    total: u64,
    fixed: Fixed,
) -> (ClassModel, f64) {
    let mut em = [[0.0; MAX_LEVELS]; FEATURES];
    let mut eu = [[0.0; MAX_LEVELS]; FEATURES];
    let mut matches = 0.0;
    let n_total = total as f64;
    for (lv, n) in patterns {
        let g = posterior(cur, cur.lambda, lv);
        matches += n * g;
        for k in 0..FEATURES {
            let l = usize::from(lv.0[k]);
            em[k][l] += n * g;
            eu[k][l] += n * (1.0 - g);
        }
    }
    let mut next = cur.clone();
    // the prior as pseudo-counts: λ too, so a class of near-duplicates cannot drive it to 1
    next.lambda = (matches + PRIOR_PAIRS * prior.lambda) / (n_total + PRIOR_PAIRS);
    let (pm, pu) = (
        PRIOR_PAIRS * prior.lambda,
        PRIOR_PAIRS * (1.0 - prior.lambda),
    );
    for k in 0..FEATURES {
        let n = LEVELS[k];
        let sm: f64 = em[k][..n].iter().sum::<f64>() + pm;
        let su: f64 = eu[k][..n].iter().sum::<f64>() + pu;
        for l in 0..n {
            if !fixed.m && !fixed.u {
                next.m[k][l] = (em[k][l] + pm * prior.m[k][l]) / sm;
            }
            if !fixed.u {
                next.u[k][l] = (eu[k][l] + pu * prior.u[k][l]) / su;
            }
        }
    }
    let mut moved = (next.lambda - cur.lambda).abs();
    for k in 0..FEATURES {
        for l in 0..LEVELS[k] {
            moved = moved
                .max((next.m[k][l] - cur.m[k][l]).abs())
                .max((next.u[k][l] - cur.u[k][l]).abs());
        }
    }
    (next, moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn patterns_round_trip() {
        for p in [0u32, 1, 17, 1234, 15_119] {
            assert_eq!(Levels::from_pattern(p).pattern(), p);
        }
        let l = Levels([6, 5, 4, 5, 2, 3, 3]);
        assert_eq!(Levels::from_pattern(l.pattern()), l);
    }

    #[test]
    fn ordered_levels_never_weigh_more_for_a_looser_agreement() {
        // an exact name estimated below a name with a sector word dropped: pooled
        let mut w = [0.0; MAX_LEVELS];
        w[..7].copy_from_slice(&[-9.0, -3.0, -1.0, 2.0, 5.0, 8.6, 8.1]);
        monotone(&mut w, &[6, 5, 4, 3, 2, 1, 0]);
        assert!(
            (w[6] - 8.35).abs() < 1e-9 && (w[5] - 8.35).abs() < 1e-9,
            "{w:?}"
        );
        assert_eq!(w[..5], [-9.0, -3.0, -1.0, 2.0, 5.0]);
        // an order already kept is left alone; a level outside the order too
        let mut kept = [4.0, 1.0, -2.0, 7.0, 0.0, 0.0, 0.0];
        monotone(&mut kept, &[0, 1, 2]);
        assert_eq!(kept, [4.0, 1.0, -2.0, 7.0, 0.0, 0.0, 0.0]);
        // a longer violation pools every level it spans
        let mut v = [1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0];
        monotone(&mut v, &[0, 1, 2]);
        assert_eq!(v[..3], [2.0, 2.0, 2.0]);
        // estimated weights keep the order
        let c = ClassModel::prior(PairClass::of(
            ObservationKind::Registry,
            ObservationKind::Loan,
        ));
        for (f, order) in ORDERED {
            let w = &c.w[f.index()];
            assert!(order.windows(2).all(|p| w[p[0]] >= w[p[1]]), "{f:?}: {w:?}");
        }
    }

    fn draw(rng: &mut ChaCha8Rng, dist: &[f64]) -> u8 {
        let mut x: f64 = rng.random();
        for (i, p) in dist.iter().enumerate() {
            if x < *p {
                return i as u8;
            }
            x -= p;
        }
        (dist.len() - 1) as u8
    }

    /// Pairs drawn from a known model: EM recovers its λ and its strong weights.
    fn world(seed: u64, lambda: f64, name_m: &[f64], name_u: &[f64]) -> PatternCounts {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut counts = PatternCounts::default();
        for _ in 0..40_000 {
            let is_match = rng.random_bool(lambda);
            let mut v = [0u8; FEATURES];
            for f in ALL {
                let k = f.index();
                let (pm, pu) = prior_mu(PairClass::LoanLoan, f);
                let dist = match (f, is_match) {
                    (Feature::Name, true) => name_m,
                    (Feature::Name, false) => name_u,
                    (_, true) => pm,
                    (_, false) => pu,
                };
                v[k] = draw(&mut rng, dist);
            }
            counts.add(PairClass::LoanLoan, Levels(v), false);
        }
        counts
    }

    #[test]
    fn em_recovers_the_generating_model() {
        // names of matches are often substituted in this world (noisy typing)
        let name_m = [0.01, 0.04, 0.25, 0.05, 0.10, 0.20, 0.35];
        let name_u = [0.10, 0.50, 0.20, 0.08, 0.06, 0.05, 0.01];
        let w = Weights::estimate(&world(7, 0.3, &name_m, &name_u));
        let c = w.class(PairClass::LoanLoan);
        assert!(c.fallback.is_none(), "{:?}", c.fallback);
        assert!((c.lambda - 0.3).abs() < 0.03, "λ {}", c.lambda);
        let sub = c.weight(Feature::Name, 2);
        let truth = (0.25f64 / 0.20).ln();
        assert!((sub - truth).abs() < 0.35, "substituted {sub} vs {truth}");
        // the prior said substitution is strong evidence against; this world says it is not
        let prior = Weights::prior();
        assert!(prior.class(PairClass::LoanLoan).weight(Feature::Name, 2) < -1.5);
    }

    #[test]
    fn two_worlds_with_different_noise_get_different_weights() {
        let clean_m = [0.005, 0.01, 0.02, 0.02, 0.04, 0.2, 0.705];
        let noisy_m = [0.01, 0.10, 0.30, 0.08, 0.12, 0.14, 0.25];
        let name_u = [0.10, 0.50, 0.20, 0.08, 0.06, 0.05, 0.01];
        let a = Weights::estimate(&world(1, 0.25, &clean_m, &name_u));
        let b = Weights::estimate(&world(2, 0.25, &noisy_m, &name_u));
        let (wa, wb) = (
            a.class(PairClass::LoanLoan).weight(Feature::Name, 2),
            b.class(PairClass::LoanLoan).weight(Feature::Name, 2),
        );
        assert!(wb > wa + 1.0, "substituted: clean {wa}, noisy {wb}");
    }

    /// `u` from random pairs and `m` from certain matches: a class whose matches carry
    /// substituted names learns that a substituted name is no evidence against a match.
    #[test]
    fn m_from_certain_matches_and_u_from_random_pairs() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut counts = PatternCounts::default();
        let name_m = [0.0, 0.02, 0.08, 0.30, 0.10, 0.20, 0.30];
        let name_u = [0.05, 0.75, 0.12, 0.05, 0.02, 0.008, 0.002];
        let vector = |rng: &mut ChaCha8Rng, is_match: bool| {
            let mut v = [0u8; FEATURES];
            for f in ALL {
                let (pm, pu) = prior_mu(PairClass::LoanLoan, f);
                v[f.index()] = match (f, is_match) {
                    (Feature::Name, true) => draw(rng, &name_m),
                    (Feature::Name, false) => draw(rng, &name_u),
                    (_, true) => draw(rng, pm),
                    (_, false) => draw(rng, pu),
                };
            }
            Levels(v)
        };
        for _ in 0..5_000 {
            let m = rng.random_bool(0.4);
            let v = vector(&mut rng, m);
            counts.add(PairClass::LoanLoan, v, false);
        }
        for _ in 0..2_000 {
            let v = vector(&mut rng, true);
            counts.add_certain(PairClass::LoanLoan, v);
        }
        for _ in 0..20_000 {
            let v = vector(&mut rng, false);
            counts.add_random(PairClass::LoanLoan, v);
        }
        let w = Weights::estimate(&counts);
        let c = w.class(PairClass::LoanLoan);
        assert!(c.fallback.is_none(), "{:?}", c.fallback);
        let dropped = c.weight(Feature::Name, 3);
        let truth = (0.30f64 / 0.05).ln();
        assert!((dropped - truth).abs() < 0.4, "{dropped} vs {truth}");
        assert!(c.weight(Feature::Name, 1) < -2.5);
    }

    #[test]
    fn a_small_class_keeps_the_prior() {
        let mut counts = PatternCounts::default();
        counts.add(PairClass::RegistryNtm, Levels([6, 0, 0, 5, 2, 3, 3]), true);
        let w = Weights::estimate(&counts);
        let c = w.class(PairClass::RegistryNtm);
        assert_eq!(c.pairs, 1);
        assert!(c.fallback.is_some());
        assert!(c.legacy);
    }
}

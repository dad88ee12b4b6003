//! Pairwise scoring: how strongly two observations say they are about one organisation.
//!
//! Owns the weights, the thresholds and [`RULE_VERSION`]; never changes an identity (the engine
//! decides from these scores) and reads only precomputed [`Features`]. The score is a sum of log-odds
//! contributions (one per feature, Fellegi–Sunter style), turned into `[0, 1]` by the
//! logistic function. Every contribution is reported, so the log says what drove a decision.
//!
//! | feature | contribution (log-odds) |
//! |---|---|
//! | base | −1.0 |
//! | name: base | +0.5 |
//! | name: shared words | +2.5 per unit of shared weight (place 1, or 0.25 when it names the commune/district/province both records are in; product 1.5; number 2; sector and activity words 0.5), at most 4 units |
//! | name: substituted words | −7.0 per unit (words each side has that the other lacks) |
//! | name: dropped words | −0.3 per unit when the shorter name is an NTM short form, −6.0 when it is a registry or loan name (abbreviated, never shortened) |
//! | name: number on one side only, or different numbers | −9.0 |
//! | name: same canonical form | +1.0 |
//! | commune: same / same district or 2025 unit / other district | +3.0 / −1.0 / −4.0 |
//! | district only (one side has no commune): same / other | +0.5 / −4.0 |
//! | location unknown on a side | −0.5 |
//! | kind: same / HTX vs THT / LHHTX vs HTX or THT / enterprise vs cooperative | +0.5 / −5.0 / −2.5 / −3.0 |
//! | representative similarity ≥ 0.95 / ≥ 0.85 / < 0.5 / < 0.7 | +2.0 / +1.0 / −2.5 / −1.5 |
//! | phone equal / different | +2.5 / −1.0 |
//! | registration code one digit apart / further apart | +4.0 / −6.0 |
//!
//! A pair is a *hard conflict* (the engine lowers a candidate identity by 6 when any scored
//! member is one) with another product, a number on one side only, a substituted word, a
//! full name lacking words the other has, another district, codes two digits apart, or HTX
//! against THT where both state their kind.
//!
//! A household (borrower type, or a person's name where an organisation is declared) never
//! matches an organisation: the pair is vetoed. Equal 10-digit codes are the deterministic
//! rule (`registration_code`), unless everything else strongly disagrees.

use super::features::{Features, Interner, KindClass, PRODUCT_PREFIX, Tok, TokClass, near};

/// Version of the matching rules, in every decision.
pub const RULE_VERSION: &str = "reconciler-rules-1.0";

/// At or above: the same organisation.
pub const MATCH_LOGIT: f64 = 3.0;
/// At or above (and below [`MATCH_LOGIT`]): doubtful, an operator decides.
pub const REVIEW_LOGIT: f64 = 0.5;
/// The best candidate must lead the next by this much to be taken without review.
pub const MARGIN_LOGIT: f64 = 1.5;
/// Below this, everything but the code disagrees: an equal code alone does not decide.
pub const CODE_RULE_FLOOR: f64 = -3.0;

const BASE: f64 = -1.0;
const NAME_BASE: f64 = 0.5;
const SHARED: f64 = 2.5;
const SHARED_CAP: f64 = 4.0;
const SUBSTITUTED: f64 = 7.0;
const DROPPED_SHORT_FORM: f64 = 0.3;
const DROPPED_FULL_NAME: f64 = 6.0;
const NUMBER_CONFLICT: f64 = -9.0;
const SAME_CANONICAL: f64 = 1.0;

/// Which rule decided a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Equal registration codes.
    RegistrationCode,
    /// The weighted features.
    Probabilistic,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::RegistrationCode => "registration_code",
            Rule::Probabilistic => "probabilistic",
        }
    }
}

/// A scored pair.
#[derive(Debug, Clone)]
pub struct PairScore {
    /// Sum of contributions.
    pub logit: f64,
    pub rule: Rule,
    /// Never the same organisation, whatever the score (a household and an organisation).
    pub veto: bool,
    /// A contradiction strong enough to keep identities apart (another product, number,
    /// district or code).
    pub hard_conflict: bool,
    /// Contribution of each feature, and the raw similarities, for the log.
    pub features: Vec<(&'static str, f64)>,
}

impl PairScore {
    /// The logit as a probability.
    pub fn probability(&self) -> f64 {
        sigmoid(self.logit)
    }
}

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn weight(class: TokClass) -> f64 {
    match class {
        TokClass::Place => 1.0,
        TokClass::Product => 1.5,
        TokClass::Number => 2.0,
        TokClass::Sector => 0.5,
    }
}

/// A place word naming the commune, district or province both records are known to be in:
/// the location already says it.
const LOCAL_PLACE: f64 = 0.25;

fn tok_weight(t: &Tok, a: &Features, b: &Features) -> f64 {
    if t.class == TokClass::Place
        && a.local.binary_search(&t.id).is_ok()
        && b.local.binary_search(&t.id).is_ok()
    {
        LOCAL_PLACE
    } else {
        weight(t.class)
    }
}

/// [`tok_weight`] of a word both names have (`x` from one list, `y` from the other): each
/// token already knows whether it names its own record's place.
fn shared_weight(x: &Tok, y: &Tok) -> f64 {
    let class = x.class.min(y.class);
    if class == TokClass::Place && x.local && y.local {
        LOCAL_PLACE
    } else {
        weight(class)
    }
}

/// How much a side that lacks words is penalised per unit: NTM reports use short forms
/// (documented), registry and loan names are written in full (abbreviated, not shortened).
fn drop_rate(side: &Features) -> f64 {
    if side.obs_kind == super::observation::ObservationKind::NtmEntry {
        DROPPED_SHORT_FORM
    } else {
        DROPPED_FULL_NAME
    }
}

/// Leftover product words of an ASCII name `x` that the other name `y` (with diacritics)
/// has as place words: counted as shared, removed from both lists.
fn ascii_products(
    x: &Features,
    y: &Features,
    xs: &mut Vec<Tok>,
    ys: &mut Vec<Tok>,
    interner: &Interner,
) -> f64 {
    if !x.ascii || y.ascii {
        return 0.0;
    }
    let mut shared = 0.0;
    xs.retain(|t| {
        if t.class != TokClass::Product {
            return true;
        }
        let word = interner.get(t.id).trim_start_matches(PRODUCT_PREFIX);
        match ys
            .iter()
            .position(|u| u.class == TokClass::Place && interner.get(u.id) == word)
        {
            Some(pos) => {
                shared += tok_weight(&ys[pos], x, y);
                ys.remove(pos);
                false
            }
            None => true,
        }
    });
    shared
}

/// Name comparison: shared, substituted and dropped weight.
fn name_part(
    a: &Features,
    b: &Features,
    interner: &Interner,
    out: &mut Vec<(&'static str, f64)>,
) -> (f64, bool) {
    let (mut shared, mut only_a, mut only_b) = (0.0, Vec::<Tok>::new(), Vec::<Tok>::new());
    // both token lists are sorted by (id, class); ids are unique within a list
    let (mut i, mut j) = (0, 0);
    let (ta, tb) = (&a.tokens, &b.tokens);
    while i < ta.len() && j < tb.len() {
        match ta[i].id.cmp(&tb[j].id) {
            std::cmp::Ordering::Equal => {
                shared += shared_weight(&ta[i], &tb[j]);
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                only_a.push(ta[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                only_b.push(tb[j]);
                j += 1;
            }
        }
    }
    only_a.extend_from_slice(&ta[i..]);
    only_b.extend_from_slice(&tb[j..]);

    // numbers: a number on one side only, or different numbers, means another organisation
    let num = |v: &[Tok]| v.iter().any(|t| t.class == TokClass::Number);
    let number_conflict = num(&only_a) || num(&only_b);

    // one typo in a place word of five letters or more still counts as shared (sector and
    // product words are a closed list: a different one is another word, `nong` vs `tong`)
    let mut fuzzy = 0.0;
    let mut used_b = vec![false; only_b.len()];
    // two names both written with diacritics that fold to different words are different words
    let typo_possible = a.ascii || b.ascii;
    only_a.retain(|x| {
        if x.class != TokClass::Place || !typo_possible {
            return true;
        }
        let xs = interner.get(x.id);
        for (k, y) in only_b.iter().enumerate() {
            if !used_b[k] && y.class == x.class && near(xs, interner.get(y.id)) {
                used_b[k] = true;
                fuzzy += 0.8 * tok_weight(x, a, b);
                return false;
            }
        }
        true
    });
    let mut k = 0;
    only_b.retain(|_| {
        let keep = !used_b[k];
        k += 1;
        keep
    });
    // without diacritics a product word may be a place word the other name spells with them
    fuzzy += ascii_products(a, b, &mut only_a, &mut only_b, interner);
    fuzzy += ascii_products(b, a, &mut only_b, &mut only_a, interner);
    let wa: f64 = only_a
        .iter()
        .filter(|t| t.class != TokClass::Number)
        .map(|t| weight(t.class))
        .sum();
    let wb: f64 = only_b
        .iter()
        .filter(|t| t.class != TokClass::Number)
        .map(|t| weight(t.class))
        .sum();
    let mut shared = shared + fuzzy;
    let (mut wa, mut wb) = (wa, wb);
    // the same words glued or spaced differently
    if a.joined == b.joined && shared == 0.0 && a.joined != super::features::fnv(b"") {
        shared = wa.max(wb);
        (wa, wb) = (0.0, 0.0);
    }
    let substituted = wa.min(wb);
    let dropped = (wa - wb).abs();
    // the side with fewer words left them out
    let rate = if wa > wb { drop_rate(b) } else { drop_rate(a) };
    let mut s =
        NAME_BASE + SHARED * shared.min(SHARED_CAP) - SUBSTITUTED * substituted - rate * dropped;
    if number_conflict {
        s += NUMBER_CONFLICT;
    }
    if a.canonical == b.canonical {
        s += SAME_CANONICAL;
    }
    out.push(("name_shared", shared));
    out.push(("name_substituted", substituted));
    out.push(("name_dropped", dropped));
    out.push(("name_number_conflict", f64::from(u8::from(number_conflict))));
    out.push(("name", s));
    // a different product (both name one) or a different number is a hard conflict
    let product_conflict = only_a.iter().any(|t| t.class == TokClass::Product)
        && only_b.iter().any(|t| t.class == TokClass::Product)
        && !ta
            .iter()
            .any(|t| t.class == TokClass::Product && tb.contains(t));
    // two names written in full (registry, loans: abbreviated, never shortened) that differ
    // by a word are two names
    let full = |f: &Features| f.obs_kind != super::observation::ObservationKind::NtmEntry;
    let full_name_conflict = full(a) && full(b) && substituted + dropped >= 1.0;
    // a full name lacking words another name has: they are not the same name
    let shorter = if wa > wb { b } else { a };
    let full_dropped = dropped >= 1.0 && full(shorter);
    // short forms leave words out, they never put others in: a substitution is another name
    let substitution = substituted >= 1.0;
    (
        s,
        number_conflict || product_conflict || full_name_conflict || full_dropped || substitution,
    )
}

fn geo_part(a: &Features, b: &Features, out: &mut Vec<(&'static str, f64)>) -> (f64, bool) {
    let s = match (&a.commune, &b.commune, &a.district, &b.district) {
        (Some(ca), Some(cb), _, _) if ca == cb => 3.0,
        (Some(_), Some(_), da, db) => {
            let same_unit = a.unit_2025.is_some() && a.unit_2025 == b.unit_2025;
            if same_unit || (da.is_some() && da == db) {
                -1.0
            } else {
                -4.0
            }
        }
        (_, _, Some(da), Some(db)) => {
            if da == db {
                0.5
            } else {
                -4.0
            }
        }
        _ => -0.5,
    };
    out.push(("location", s));
    (s, s <= -4.0)
}

fn kind_part(a: &Features, b: &Features, out: &mut Vec<(&'static str, f64)>) -> (f64, bool) {
    use KindClass::*;
    let (s, veto) = match (a.kind, b.kind) {
        (Household, _) | (_, Household) => (0.0, true),
        (Unknown, _) | (_, Unknown) => (0.0, false),
        (x, y) if x == y => (0.5, false),
        (Htx, Tht) | (Tht, Htx) => (-5.0, false),
        (Lhhtx, _) | (_, Lhhtx) => (-2.5, false),
        _ => (-3.0, false),
    };
    out.push(("kind", s));
    (s, veto)
}

fn person_part(
    a: &Features,
    b: &Features,
    interner: &Interner,
    out: &mut Vec<(&'static str, f64)>,
) -> f64 {
    let mut s = 0.0;
    if let (Some(ia), Some(ib)) = (&a.rep, &b.rep) {
        let sim = interner.person_similarity(*ia, *ib);
        out.push(("representative_similarity", sim));
        s += if sim >= 0.95 {
            2.0
        } else if sim >= 0.85 {
            1.0
        } else if sim < 0.5 {
            -2.5
        } else if sim < 0.7 {
            -1.5
        } else {
            0.0
        };
    }
    if let (Some(pa), Some(pb)) = (&a.phone, &b.phone) {
        let eq = pa == pb;
        out.push(("phone_equal", f64::from(u8::from(eq))));
        s += if eq { 2.5 } else { -1.0 };
    }
    out.push(("representative_phone", s));
    s
}

/// Scores a pair of observations.
pub fn score(a: &Features, b: &Features, interner: &Interner) -> PairScore {
    let mut features = Vec::with_capacity(16);
    let (name, name_conflict) = name_part(a, b, interner, &mut features);
    let (geo, geo_conflict) = geo_part(a, b, &mut features);
    let (kind, veto) = kind_part(a, b, &mut features);
    let kind_conflict = kind <= -5.0 && a.kind_declared && b.kind_declared;
    let person = person_part(a, b, interner, &mut features);
    let rest = BASE + name + geo + kind + person;
    let mut hard_conflict = name_conflict || geo_conflict || kind_conflict;
    let (logit, rule) = match (&a.code, &b.code) {
        (Some(ca), Some(cb)) => {
            let d = ca.distance(cb);
            features.push(("code_distance", d as f64));
            if d == 0 && ca.is_full() && rest >= CODE_RULE_FLOOR {
                (
                    rest.max(MATCH_LOGIT + MARGIN_LOGIT) + 6.0,
                    Rule::RegistrationCode,
                )
            } else if d == 0 {
                (rest + 6.0, Rule::Probabilistic)
            } else if d == 1 {
                (rest + 4.0, Rule::Probabilistic)
            } else if ca.digits().len() >= 9 && cb.digits().len() >= 9 {
                hard_conflict = true;
                (rest - 6.0, Rule::Probabilistic)
            } else {
                (rest, Rule::Probabilistic)
            }
        }
        _ => (rest, Rule::Probabilistic),
    };
    features.push(("logit", logit));
    PairScore {
        logit,
        rule,
        veto,
        hard_conflict,
        features,
    }
}

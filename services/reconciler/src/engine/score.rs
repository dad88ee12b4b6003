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
//! | name: dropped words | −0.3 per unit when the shorter name is an NTM short form, −6.0 when it is a registry or loan name (abbreviated, never shortened), at most −1.5 in all when all it lacks is the products and it names none (words naming the place of both records may stand in their stead) |
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
//! member is one) with another product, a number on one side only, place words all
//! different (each name names a place, none shared: one person may lead both), a substituted word, a
//! full name lacking words the other has, another district, codes two digits apart, or HTX
//! against THT where both state their kind.
//!
//! A household (borrower type, or a person's name where an organisation is declared) never
//! matches an organisation: the pair is vetoed. Equal 10-digit codes are the deterministic
//! rule (`registration_code`), unless everything else strongly disagrees.

use super::features::{
    Features, Interner, KindClass, PRODUCT_PREFIX, Tok, TokClass, near, swapped_neighbours,
    within_one_edit,
};
use super::weights::{self, Feature, Levels, PairClass, Weights};

/// Version of the matching rules, in every decision.
pub const RULE_VERSION: &str = "reconciler-rules-2.0";

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
/// At most, the products a name that names none leaves out, whatever their words.
const DROPPED_PRODUCT: f64 = 1.5;
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
    /// Never the same organisation, whatever the score (a household and an organisation; a
    /// record of the organisation active before the registration's cooperative was
    /// established).
    pub veto: bool,
    /// A contradiction strong enough to keep identities apart (another product, number,
    /// district or code).
    pub hard_conflict: bool,
    /// Of those, the contradictions no typing slip explains: another number, product, set of
    /// places, district, kind or registration code, or two or more words each name has and the
    /// other lacks (a word written differently is not one).
    pub structural_conflict: bool,
    /// What no slip explains in a name or a tax code: another number, product or place in
    /// the names, or tax codes far apart (a mistyped code is one swap away).
    pub identity_contradiction: bool,
    /// The two name the same representative (or give the same phone).
    pub person_agrees: bool,
    /// Contribution of each feature, and the raw similarities, for the log.
    pub features: Vec<(&'static str, f64)>,
}

impl PairScore {
    /// The logit as a probability.
    pub fn probability(&self) -> f64 {
        sigmoid(self.logit)
    }

    /// A contradiction no person in common explains (another sector word, a word more or
    /// less in two full names, …), outside the registration-code rule: against a
    /// registration, the pair is worth an operator's question, never an automatic link.
    pub fn unexplained_conflict(&self) -> bool {
        self.hard_conflict && !self.person_agrees && self.rule != Rule::RegistrationCode
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
    if local_place(t, a, b) {
        LOCAL_PLACE
    } else {
        weight(t.class)
    }
}

/// Whether `t` is a place word naming where both records are (see [`LOCAL_PLACE`]).
fn local_place(t: &Tok, a: &Features, b: &Features) -> bool {
    t.class == TokClass::Place
        && a.local.binary_search(&t.id).is_ok()
        && b.local.binary_search(&t.id).is_ok()
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
/// has as place words, or that `y` spells in ASCII amid diacritics
/// ([`Tok::maybe_product`]): counted as shared, removed from both lists.
fn ascii_products(
    x: &Features,
    y: &Features,
    xs: &mut Vec<Tok>,
    ys: &mut Vec<Tok>,
    interner: &Interner,
) -> f64 {
    let whole_name = x.ascii && !y.ascii;
    if !whole_name && !ys.iter().any(|u| u.maybe_product) {
        return 0.0;
    }
    let mut shared = 0.0;
    xs.retain(|t| {
        if t.class != TokClass::Product {
            return true;
        }
        let word = interner.get(t.id).trim_start_matches(PRODUCT_PREFIX);
        match ys.iter().position(|u| {
            u.class == TokClass::Place
                && (whole_name || u.maybe_product)
                && interner.get(u.id) == word
        }) {
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

/// What comparing two names found.
struct NameCmp {
    /// The hand-set contribution (the legacy weights).
    legacy: f64,
    /// A hard conflict (see the module documentation).
    conflict: bool,
    /// Of those, a different number or product, or two or more words that differ on both
    /// sides: what no typing slip produces.
    structural: bool,
    /// The agreement level (see [`weights::LEVEL_NAMES`]): 0 is another number, product or
    /// place.
    level: u8,
}

/// The name's agreement level: a number or product conflict, or the band the hand-set
/// name contribution falls in (it weighs shared words by class, substitutions, and words
/// dropped as the side's system drops them), so the estimate learns how much each band says.
fn name_level(legacy: f64, number_or_product_conflict: bool) -> u8 {
    const BANDS: [f64; 5] = [-3.0, 0.5, 3.0, 5.5, 8.0];
    if number_or_product_conflict {
        0
    } else {
        1 + BANDS.iter().filter(|b| legacy >= **b).count() as u8
    }
}

/// The words two names share (their weight) and those each has alone, from two token
/// lists sorted by (id, class), ids unique within a list.
fn diff_tokens(ta: &[Tok], tb: &[Tok]) -> (f64, Vec<Tok>, Vec<Tok>) {
    let (mut shared, mut only_a, mut only_b) = (0.0, Vec::<Tok>::new(), Vec::<Tok>::new());
    let (mut i, mut j) = (0, 0);
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
    (shared, only_a, only_b)
}

/// Pairs leftover place words one typo apart (five letters or more; sector and product
/// words are a closed list: a different one is another word, `nong` vs `tong`), removes
/// them from both lists and returns their weight. Two names both written with diacritics
/// that fold to different words are different words, but for two neighbouring letters
/// swapped (`Nmậ` for `Nậm`, three letters or more), a slip of any keyboard.
fn pair_typos(
    a: &Features,
    b: &Features,
    only_a: &mut Vec<Tok>,
    only_b: &mut Vec<Tok>,
    interner: &Interner,
) -> f64 {
    if only_a.is_empty() || only_b.is_empty() {
        return 0.0;
    }
    let any_typo = a.ascii || b.ascii;
    let mut fuzzy = 0.0;
    let mut used_b = vec![false; only_b.len()];
    only_a.retain(|x| {
        if x.class != TokClass::Place {
            return true;
        }
        let xs = interner.get(x.id);
        for (k, y) in only_b.iter().enumerate() {
            let ys = interner.get(y.id);
            if !used_b[k]
                && y.class == x.class
                && ((any_typo && near(xs, ys)) || swapped_neighbours(xs, ys))
            {
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
    fuzzy
}

/// The words of two names that nothing paired, weighed: one side's words the other lacks
/// are substituted as far as the other lacks as many, the rest are dropped.
struct Leftover {
    only_a: Vec<Tok>,
    only_b: Vec<Tok>,
    /// Weight of `only_a` (numbers aside: they are a conflict of their own).
    wa: f64,
    /// Weight of `only_b`.
    wb: f64,
}

impl Leftover {
    /// Weighs the leftovers; a word one name has and the other lacks weighs less when it
    /// names the place of both records (`… Sì Thâu Chải Dào San`: the commune appended, or
    /// its 2025 unit). Not when each name has such a word the other lacks: two places of the
    /// same unit or district, one in each name (`… Sơn Bình số 17`, `… Bình Lư số 17`, both
    /// communes of the 2025 unit Bình Lư), name two organisations.
    fn new(a: &Features, b: &Features, only_a: Vec<Tok>, only_b: Vec<Tok>) -> Leftover {
        let local = |t: &Tok| local_place(t, a, b);
        let two_places = only_a.iter().any(local) && only_b.iter().any(local);
        let weigh = |v: &[Tok]| -> f64 {
            v.iter()
                .filter(|t| t.class != TokClass::Number)
                .map(|t| {
                    if two_places {
                        weight(t.class)
                    } else {
                        tok_weight(t, a, b)
                    }
                })
                .sum()
        };
        let (wa, wb) = (weigh(&only_a), weigh(&only_b));
        Leftover {
            only_a,
            only_b,
            wa,
            wb,
        }
    }

    fn substituted(&self) -> f64 {
        self.wa.min(self.wb)
    }

    fn dropped(&self) -> f64 {
        (self.wa - self.wb).abs()
    }

    /// Whether `a` is the name with fewer leftover words (the one that left words out).
    fn a_is_shorter(&self) -> bool {
        self.wa <= self.wb
    }

    fn has(v: &[Tok], class: TokClass) -> bool {
        v.iter().any(|t| t.class == class)
    }

    /// Whether the only difference is the products one name names and the other, which
    /// names none, leaves out (`HTX NN Pờ Ngài`, `HTX NN lúa gạo Pờ Ngài`), that other
    /// perhaps with the place of both appended (`HTX SX và TM Sà Dề Phìn số 2 Sìn Hồ`):
    /// `Some(true)` when `a` is the name that left them out.
    fn product_left_out(&self, a: &Features, b: &Features) -> Option<bool> {
        let only_products =
            |v: &[Tok]| !v.is_empty() && v.iter().all(|t| t.class == TokClass::Product);
        let (a_shorter, shorter_only, shorter) =
            match (only_products(&self.only_a), only_products(&self.only_b)) {
                (false, true) => (true, &self.only_a, a),
                (true, false) => (false, &self.only_b, b),
                _ => return None,
            };
        let appended_place = |t: &Tok| local_place(t, a, b);
        (shorter_only.iter().all(appended_place) && !Self::has(&shorter.tokens, TokClass::Product))
            .then_some(a_shorter)
    }

    /// A different product, both names naming one and sharing none.
    fn product_conflict(&self, a: &Features, b: &Features) -> bool {
        Self::has(&self.only_a, TokClass::Product)
            && Self::has(&self.only_b, TokClass::Product)
            && !a
                .tokens
                .iter()
                .any(|t| t.class == TokClass::Product && b.tokens.contains(t))
    }

    /// A number on one side only, or different numbers: another organisation.
    fn number_conflict(&self) -> bool {
        Self::has(&self.only_a, TokClass::Number) || Self::has(&self.only_b, TokClass::Number)
    }
}

/// Whether two names each name a place and share none of them (`… Nà Sẳng số 2`, `… Mường
/// Cấu số 2`): two organisations whatever else agrees (one person may lead both). `only_a`
/// and `only_b` are the words left once shared words, typing slips and products spelled as
/// places are paired. Places a slip could make one are no evidence either way: all of them
/// one edit apart, or a word of three letters or more left on one side within one edit of,
/// or inside, one left on the other (`Hon` and `Hom`, syllables glued: `Namkhao`); two-letter
/// words one edit apart (`Mạ`, `Pá`) are two words.
fn places_disjoint(
    a: &Features,
    b: &Features,
    only_a: &[Tok],
    only_b: &[Tok],
    interner: &Interner,
) -> bool {
    let place = |t: &&Tok| t.class == TokClass::Place;
    let all_left = |f: &Features, left: &[Tok]| {
        let n = f.tokens.iter().filter(place).count();
        n > 0 && left.iter().filter(place).count() == n
    };
    if !all_left(a, only_a) || !all_left(b, only_b) {
        return false;
    }
    let joined =
        |v: &[Tok]| -> String { v.iter().filter(place).map(|t| interner.get(t.id)).collect() };
    if within_one_edit(&joined(only_a), &joined(only_b)) {
        return false;
    }
    !only_a.iter().filter(place).any(|x| {
        let xs = interner.get(x.id);
        only_b.iter().filter(place).any(|y| {
            let ys = interner.get(y.id);
            xs.len().min(ys.len()) >= 3
                && (within_one_edit(xs, ys) || xs.contains(ys) || ys.contains(xs))
        })
    })
}

/// Name comparison: shared, substituted and dropped weight.
fn name_part(
    a: &Features,
    b: &Features,
    interner: &Interner,
    out: &mut Vec<(&'static str, f64)>,
) -> NameCmp {
    let (mut shared, mut only_a, mut only_b) = diff_tokens(&a.tokens, &b.tokens);
    shared += pair_typos(a, b, &mut only_a, &mut only_b, interner);
    // without diacritics a product word may be a place word the other name spells with them
    shared += ascii_products(a, b, &mut only_a, &mut only_b, interner);
    shared += ascii_products(b, a, &mut only_b, &mut only_a, interner);
    let glued = a.joined == b.joined && a.joined != super::features::fnv(b"");
    let other_places = !glued && places_disjoint(a, b, &only_a, &only_b, interner);
    let mut left = Leftover::new(a, b, only_a, only_b);
    // the same words glued or spaced differently
    if glued && shared == 0.0 {
        shared = left.wa.max(left.wb);
        (left.wa, left.wb) = (0.0, 0.0);
    }
    let number_conflict = left.number_conflict();
    let product_conflict = left.product_conflict(a, b);
    let left_out_by = left.product_left_out(a, b);
    let product_left_out = left_out_by.is_some();
    // products left out beside an appended place: all of it left out, nothing substituted
    let (substituted, dropped) = match left_out_by {
        Some(_) => (0.0, left.wa + left.wb),
        None => (left.substituted(), left.dropped()),
    };
    let a_shorter = left_out_by.unwrap_or_else(|| left.a_is_shorter());
    let shorter = if a_shorter { a } else { b };
    // the side with fewer words left them out; products left out count once, however
    // many words they take (`lúa gạo` is two)
    let rate = drop_rate(shorter);
    let left_out = if product_left_out {
        (rate * dropped).min(DROPPED_PRODUCT)
    } else {
        rate * dropped
    };
    let mut s = NAME_BASE + SHARED * shared.min(SHARED_CAP) - SUBSTITUTED * substituted - left_out;
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
    // two names written in full (registry, loans: abbreviated, never shortened) that differ
    // by a word are two names
    // — except a name that names no product at all beside one that does (`HTX NN Pờ Ngài`,
    // `HTX NN lúa gạo Pờ Ngài`): a clerk leaves the product out, siblings that differ only
    // by product compete as candidates
    let full = |f: &Features| f.obs_kind != super::observation::ObservationKind::NtmEntry;
    let full_name_conflict =
        full(a) && full(b) && substituted + dropped >= 1.0 && !product_left_out;
    // a full name lacking words another name has: they are not the same name
    let full_dropped = dropped >= 1.0 && full(shorter) && !product_left_out;
    // short forms leave words out, they never put others in: a substitution is another name
    let substitution = substituted >= 1.0;
    NameCmp {
        legacy: s,
        // two or more words that differ on both sides are another name, not a slip
        structural: number_conflict || product_conflict || other_places || substituted >= 2.0,
        conflict: number_conflict
            || product_conflict
            || other_places
            || full_name_conflict
            || full_dropped
            || substitution,
        level: name_level(s, number_conflict || product_conflict || other_places),
    }
}

/// Location: the legacy contribution, whether it is a hard conflict, and the level.
fn geo_part(a: &Features, b: &Features) -> (f64, bool, u8) {
    let (s, level) = match (&a.commune, &b.commune, &a.district, &b.district) {
        (Some(ca), Some(cb), _, _) if ca == cb => (3.0, 0),
        (Some(_), Some(_), da, db) => {
            let same_unit = a.unit_2025.is_some() && a.unit_2025 == b.unit_2025;
            if same_unit {
                (-1.0, 1)
            } else if da.is_some() && da == db {
                (-1.0, 2)
            } else {
                (-4.0, 4)
            }
        }
        // one side named only its 2025 unit (an address written after the reform): the
        // same unit is where the other's commune went
        (ca, cb, _, _)
            if (ca.is_none() || cb.is_none())
                && a.unit_2025.is_some()
                && a.unit_2025 == b.unit_2025 =>
        {
            (1.5, 1)
        }
        (_, _, Some(da), Some(db)) => {
            if da == db {
                (0.5, 3)
            } else {
                (-4.0, 4)
            }
        }
        _ => (-0.5, 5),
    };
    (s, s <= -4.0, level)
}

/// Kind: the legacy contribution, the household veto, and the level.
fn kind_part(a: &Features, b: &Features) -> (f64, bool, u8) {
    use KindClass::*;
    match (a.kind, b.kind) {
        (Household, _) | (_, Household) => (0.0, true, 1),
        (Unknown, _) | (_, Unknown) => (0.0, false, 1),
        (x, y) if x == y => (0.5, false, 0),
        (Htx, Tht) | (Tht, Htx) => (-5.0, false, 2),
        (Lhhtx, _) | (_, Lhhtx) => (-2.5, false, 3),
        _ => (-3.0, false, 4),
    }
}

/// Representative and phone: the legacy contribution and both levels.
fn person_part(
    a: &Features,
    b: &Features,
    interner: &Interner,
    out: &mut Vec<(&'static str, f64)>,
) -> (f64, u8, u8) {
    let mut s = 0.0;
    let mut rep_level = 5;
    if let (Some(ia), Some(ib)) = (&a.rep, &b.rep) {
        let sim = interner.person_similarity(*ia, *ib);
        out.push(("representative_similarity", sim));
        (s, rep_level) = if sim >= 0.95 {
            (2.0, 0)
        } else if sim >= 0.85 {
            (1.0, 1)
        } else if sim >= 0.7 {
            (0.0, 2)
        } else if sim >= 0.5 {
            (-1.5, 3)
        } else {
            (-2.5, 4)
        };
    }
    let mut phone_level = 2;
    if let (Some(pa), Some(pb)) = (&a.phone, &b.phone) {
        let eq = pa == pb;
        out.push(("phone_equal", f64::from(u8::from(eq))));
        s += if eq { 2.5 } else { -1.0 };
        phone_level = if eq { 0 } else { 1 };
    }
    (s, rep_level, phone_level)
}

/// The registration codes' distance and level, when both sides have one.
fn code_level(a: &Features, b: &Features) -> (Option<usize>, u8) {
    match (&a.code, &b.code) {
        (Some(ca), Some(cb)) => {
            let d = ca.distance(cb);
            let level = if d == 0 {
                0
            } else if d == 1 {
                1
            } else if ca.digits().len() >= 9 && cb.digits().len() >= 9 {
                2
            } else {
                3
            };
            (Some(d), level)
        }
        _ => (None, 3),
    }
}

/// Whether one of the pair shows its organisation active before the other, a registry
/// record, was established: an NTM entry of an earlier year (a report lists the cooperatives
/// active in its commune that year), a loan disbursed earlier. The record is another
/// organisation's: certain, like a household against an organisation.
fn active_before_established(a: &Features, b: &Features) -> bool {
    let early = |x: &Features, y: &Features| {
        x.active_on
            .zip(y.established_on)
            .is_some_and(|(active, established)| active < established)
    };
    early(a, b) || early(b, a)
}

/// Member households' level: equal, close (within 2, or a tenth of the larger count),
/// different, or missing on a side. Counts drift between a registration and a report.
fn members_level(a: &Features, b: &Features) -> u8 {
    match (a.members, b.members) {
        (Some(x), Some(y)) if x == y => 0,
        (Some(x), Some(y)) if x.abs_diff(y) <= 2.max(x.max(y) / 10) => 1,
        (Some(_), Some(_)) => 2,
        _ => 3,
    }
}

/// The agreement levels of a pair, for estimating weights; `None` for a vetoed pair (a
/// household and an organisation, a record of the organisation active before the
/// registration's cooperative was established), which no weight decides.
pub fn levels(a: &Features, b: &Features, interner: &Interner) -> Option<Levels> {
    let mut scratch = Vec::new();
    let name = name_part(a, b, interner, &mut scratch);
    let (_, _, geo) = geo_part(a, b);
    let (_, veto, kind) = kind_part(a, b);
    if veto || active_before_established(a, b) {
        return None;
    }
    let (_, rep, phone) = person_part(a, b, interner, &mut scratch);
    let (_, code) = code_level(a, b);
    Some(Levels([
        name.level,
        geo,
        kind,
        rep,
        phone,
        code,
        members_level(a, b),
    ]))
}

/// Scores a pair of observations with the legacy (hand-set) weights.
pub fn score(a: &Features, b: &Features, interner: &Interner) -> PairScore {
    score_with(a, b, interner, Weights::legacy())
}

/// Scores a pair of observations: the weights of the pair's class for each feature's level
/// (or, with [`Weights::legacy`], the hand-set contributions), the certain rules on top.
pub fn score_with(a: &Features, b: &Features, interner: &Interner, w: &Weights) -> PairScore {
    let mut features = Vec::with_capacity(24);
    let name = name_part(a, b, interner, &mut features);
    let (geo, geo_conflict, geo_level) = geo_part(a, b);
    let (kind, veto, kind_level) = kind_part(a, b);
    let kind_conflict = kind <= -5.0 && a.kind_declared && b.kind_declared;
    let too_early = active_before_established(a, b);
    if too_early {
        features.push(("active_before_established", 1.0));
    }
    let (person, rep_level, phone_level) = person_part(a, b, interner, &mut features);
    let (distance, code_lvl) = code_level(a, b);
    let levels = Levels([
        name.level,
        geo_level,
        kind_level,
        rep_level,
        phone_level,
        code_lvl,
        members_level(a, b),
    ]);
    let mut hard_conflict = name.conflict || geo_conflict || kind_conflict;
    let mut structural_conflict = name.structural || geo_conflict || kind_conflict;
    if let Some(d) = distance {
        features.push(("code_distance", d as f64));
    }
    let class = w.class(PairClass::of(a.obs_kind, b.obs_kind));
    let (rest, code_w) = if class.legacy {
        let code_w = match (distance, code_lvl) {
            (Some(0), _) => 6.0,
            (Some(1), _) => 4.0,
            (_, 2) => -6.0,
            _ => 0.0,
        };
        features.push(("name", name.legacy));
        features.push(("location", geo));
        features.push(("kind", kind));
        features.push(("representative_phone", person));
        (BASE + name.legacy + geo + kind + person, code_w)
    } else {
        let prior = class.prior_logit();
        features.push(("prior", prior));
        let mut rest = prior;
        for f in weights::ALL {
            let l = levels.0[f.index()];
            let wt = class.weight(f, l);
            features.push((f.level_key(), f64::from(l)));
            features.push((f.weight_key(), wt));
            if f != Feature::Code {
                rest += wt;
            }
        }
        (rest, class.weight(Feature::Code, code_lvl))
    };
    if code_lvl == 2 {
        hard_conflict = true;
        structural_conflict = true;
    }
    let full_equal = distance == Some(0) && a.code.is_some_and(|c| c.is_full());
    let (logit, rule) = if full_equal && rest >= CODE_RULE_FLOOR {
        (
            rest.max(MATCH_LOGIT + MARGIN_LOGIT) + code_w.max(0.0),
            Rule::RegistrationCode,
        )
    } else {
        (rest + code_w, Rule::Probabilistic)
    };
    features.push(("logit", logit));
    PairScore {
        logit,
        rule,
        veto: veto || too_early || (kind_conflict && distance != Some(0)),
        hard_conflict,
        structural_conflict,
        identity_contradiction: name.level == 0 || code_lvl == 2,
        person_agrees: rep_level <= 1 || phone_level == 0,
        features,
    }
}

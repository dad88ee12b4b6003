//! The "field" noise model: how Lai Châu's cooperatives are really written in loan files,
//! commune reports and (a little) in the registry, from what unseen real records look like.
//! A second, independent model beside [`crate::noise`] ("classic"): it is written from the
//! records, not from the matcher, so that a matcher tuned on one model can be measured on the
//! other.
//!
//! Owns the text noise of a [`crate::NoiseModel::Field`] world. Which record gets which noise,
//! and the structural cases (a cooperative that moved commune, one person leading an HTX and a
//! THT of the same commune, a union named after the same place as a cooperative) are the
//! generator's business ([`mod@crate::generate`]); this module only renders text.
//!
//! Classes and rates (per record rendered; see also `services/simulators/README.md`):
//!
//! | class | loan borrower | NTM entry | registry |
//! |---|---|---|---|
//! | legal form written another way (`HTX`, `H.T.X`, `HTX.`, `Htx`, `Hợp tác xã`; `THT`, `Tổ`, `Tổ HT`, `Tổ SX`, `T.H.T`; `LHHTX`, `Liên hiệp HTX`, `LH HTX`) | 85 % (not the full form) | short forms, 90 % | 1.5 % `HTX`, 1.5 % `hợp tác xã` in the legal name |
//! | sector words abbreviated (`NN DV`), reordered (`DV NN`), joined (`và`, `&`, `vaf`, `-`, run together `NNDV`) | 60 % abbreviated, 15 % of pairs reordered, 30 % another joiner | 10 % | 0.5 % `Nông nghiệp - Dịch vụ` |
//! | typed without diacritics | 40 % (5 % half) | 15 % | — |
//! | Telex / VNI slip in a word typed without diacritics (`Sif`, `Namj`, `Haam`, `Si2`); one word in sixteen as often in text typed with them (`Haam Lếch`) | 5 % of such words (about 6 % of names) | 4 % of such words | — |
//! | letters swapped (`qau`) | 2 % | 1 % | — |
//! | case: UPPER / lower / partial capitals | 9 / 7 / 7 % | 3 / 3 / 4 % | 0.5 % UPPER |
//! | words run together (`HTXNN`, `TảLèng`) | 4 % | 2 % | — |
//! | double space / non-breaking space / leading or trailing space / trailing `.` `,` | 7 / 4 / 9 / 4 % | 4 / 2 / 4 / 2 % | 2 / — / 1 / 1 % |
//! | Unicode NFD instead of NFC | 5 % | 3 % | 2 % |
//! | place appended (`… Phúc Than - Than Uyên`, `…, Sìn Hồ`, `(xã …)`) | 12 % | 5 % | — |
//! | address with the NEW commune name (loans on or after 1 July 2025) | 75 % of those loans, 8 % of them also name the old one | — | — |
//! | tax code: exact / missing / two adjacent digits swapped / one digit wrong / one missing / formatted (spaces, dashes, dots, `'`, `MST:`) / branch suffix `-001` | 52 / 16 / 12 / 4 / 4 / 10 / 2 % | — | — |
//! | representative: full / `Văn Minh` / `Lò Minh` / `Minh Lò Văn` / `Ông`/`Bà` + full; then folded, UPPER | 72 / 7 / 7 / 4 / 5 %, 30 %, 6 % | 84 / 5 / 5 / 2 / 3 %, 15 %, 3 % | — |
//!
//! Every function takes the true value and returns one rendering; none panics on odd input
//! (an unknown commune code, an empty name).

use chrono::NaiveDate;
use hub_contracts::v1::common::OrgKind;
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::IndexedRandom;
use unicode_normalization::UnicodeNormalization;

use crate::noise;
use crate::vocab::{self, fold};

/// The date the administrative reform took effect: addresses typed on or after it may use the
/// new commune names.
pub const REFORM: NaiveDate = match NaiveDate::from_ymd_opt(2025, 7, 1) {
    Some(d) => d,
    None => panic!("constant date is valid"),
};

/// Where a text is typed: the rates differ (a loan officer types more freely than a commune
/// fills in its report, and the registry is the cleanest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Loan,
    Ntm,
}

/// Rates of the text-level classes for one context.
struct TextRates {
    folded: f64,
    half_folded: f64,
    slip_per_word: f64,
    swap_letters: f64,
    upper: f64,
    lower: f64,
    partial_caps: f64,
    run_together: f64,
    double_space: f64,
    nbsp: f64,
    edge_space: f64,
    trailing_punct: f64,
    nfd: f64,
}

const LOAN_TEXT: TextRates = TextRates {
    folded: 0.40,
    half_folded: 0.05,
    slip_per_word: 0.05,
    swap_letters: 0.02,
    upper: 0.09,
    lower: 0.07,
    partial_caps: 0.07,
    run_together: 0.04,
    double_space: 0.07,
    nbsp: 0.04,
    edge_space: 0.09,
    trailing_punct: 0.04,
    nfd: 0.05,
};

const NTM_TEXT: TextRates = TextRates {
    folded: 0.15,
    half_folded: 0.0,
    slip_per_word: 0.04,
    swap_letters: 0.01,
    upper: 0.03,
    lower: 0.03,
    partial_caps: 0.04,
    run_together: 0.02,
    double_space: 0.04,
    nbsp: 0.02,
    edge_space: 0.04,
    trailing_punct: 0.02,
    nfd: 0.03,
};

/// Sector words of legal names and their abbreviations.
const SECTORS: &[(&str, &str)] = &[
    ("Nông nghiệp", "NN"),
    ("Dịch vụ", "DV"),
    ("Thương mại", "TM"),
    ("Sản xuất", "SX"),
    ("Kinh doanh", "KD"),
    ("Tổng hợp", "TH"),
    ("Chăn nuôi", "CN"),
    ("Thủy sản", "TS"),
];

/// A legal name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts {
    pub kind: OrgKind,
    /// Indices into the sector list, in the legal name's order.
    pub sectors: Vec<usize>,
    /// Whether the legal name joins its sectors with `và`.
    pub joined_by_va: bool,
    /// What is left between the sectors and the place: the product (`chè`, `trồng chè`,
    /// `gà`), possibly empty.
    pub product: String,
    /// The place the name carries (with any `số 2`), possibly empty when it cannot be found.
    pub place: String,
}

fn pick_weighted<'a>(rng: &mut impl Rng, items: &[(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    if total == 0 {
        return items.first().map_or("", |(s, _)| s);
    }
    let mut pick = rng.random_range(0..total);
    for (s, w) in items {
        if pick < *w {
            return s;
        }
        pick -= w;
    }
    items.first().map_or("", |(s, _)| s)
}

/// NFC, whitespace collapsed (non-breaking spaces included), trailing `.`/`,` dropped.
fn tidy(s: &str) -> String {
    let s: String = s.nfc().collect();
    let s = s
        .split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    s.trim_end_matches(['.', ',']).to_owned()
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let n = prefix.chars().count();
    let head: String = s.chars().take(n).collect();
    if head.to_lowercase() == prefix.to_lowercase() {
        let cut = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
        Some(s[cut..].trim_start())
    } else {
        None
    }
}

/// Takes a legal name apart (case-insensitive, tolerant of the registry's own noise).
pub fn split_legal(name: &str, kind: OrgKind, place: &str) -> NameParts {
    let clean = tidy(name);
    let prefixes: &[&str] = match kind {
        OrgKind::Lhhtx => &["Liên hiệp Hợp tác xã", "Liên hiệp HTX", "LHHTX"],
        OrgKind::Htx => &["Hợp tác xã", "HTX"],
        OrgKind::Tht => &["Tổ hợp tác", "THT"],
    };
    let rest = prefixes
        .iter()
        .find_map(|p| strip_prefix_ci(&clean, p))
        .unwrap_or(&clean)
        .to_owned();
    let place = tidy(place);
    let (middle, place) = {
        let lr = rest.to_lowercase();
        let lp = place.to_lowercase();
        if !lp.is_empty() && lr.ends_with(&lp) {
            let cut = rest.len() - lp.len().min(rest.len());
            // lengths agree when lower-casing keeps byte lengths, which holds for
            // Vietnamese letters; guard anyway
            if rest.is_char_boundary(cut) {
                (rest[..cut].trim().to_owned(), rest[cut..].trim().to_owned())
            } else {
                (rest.clone(), String::new())
            }
        } else {
            (rest.clone(), String::new())
        }
    };
    let words: Vec<&str> = middle.split(' ').filter(|w| !w.is_empty()).collect();
    let mut sectors = Vec::new();
    let mut joined_by_va = false;
    let mut i = 0;
    while i + 1 < words.len() {
        let two = format!("{} {}", words[i], words[i + 1]).to_lowercase();
        if let Some(k) = SECTORS.iter().position(|(s, _)| s.to_lowercase() == two) {
            sectors.push(k);
            i += 2;
            if i < words.len() && words[i].to_lowercase() == "và" && !sectors.is_empty() {
                joined_by_va = true;
                i += 1;
            }
        } else {
            break;
        }
    }
    let product = words[i.min(words.len())..].join(" ");
    NameParts {
        kind,
        sectors,
        joined_by_va,
        product,
        place,
    }
}

/// The legal form as a loan officer writes it.
fn form_as_typed(rng: &mut impl Rng, kind: OrgKind, ctx: Context) -> &'static str {
    match (kind, ctx) {
        (OrgKind::Htx, Context::Loan) => pick_weighted(
            rng,
            &[
                ("HTX", 55),
                ("Hợp tác xã", 15),
                ("H.T.X", 5),
                ("HTX.", 6),
                ("Htx", 7),
                ("htx", 3),
            ],
        ),
        (OrgKind::Htx, Context::Ntm) => pick_weighted(
            rng,
            &[("HTX", 80), ("Hợp tác xã", 10), ("HTX.", 5), ("Htx", 5)],
        ),
        (OrgKind::Tht, Context::Loan) => pick_weighted(
            rng,
            &[
                ("THT", 35),
                ("Tổ hợp tác", 20),
                ("Tổ HT", 10),
                ("Tổ SX", 8),
                ("Tổ", 15),
                ("T.H.T", 4),
            ],
        ),
        (OrgKind::Tht, Context::Ntm) => pick_weighted(
            rng,
            &[
                ("THT", 55),
                ("Tổ hợp tác", 15),
                ("Tổ HT", 10),
                ("Tổ SX", 5),
                ("Tổ", 15),
            ],
        ),
        (OrgKind::Lhhtx, _) => pick_weighted(
            rng,
            &[
                ("LHHTX", 25),
                ("Liên hiệp HTX", 30),
                ("LH HTX", 15),
                ("Liên hiệp Hợp tác xã", 20),
                ("L.H.HTX", 5),
            ],
        ),
    }
}

/// The sector words rendered (abbreviated, reordered, joined) or empty.
fn sectors_as_typed(rng: &mut impl Rng, parts: &NameParts, abbreviate_p: f64) -> String {
    if parts.sectors.is_empty() {
        return String::new();
    }
    let mut sectors = parts.sectors.clone();
    // reorder a pair of sector words (not "Dịch vụ Tổng hợp", which is one phrase)
    if sectors.len() == 2 && !sectors.contains(&5) && rng.random_bool(0.15) {
        sectors.swap(0, 1);
    }
    let abbreviate = rng.random_bool(abbreviate_p);
    let words: Vec<&str> = sectors
        .iter()
        .map(|&k| {
            let (long, short) = SECTORS[k];
            // an officer sometimes abbreviates one word and not the other
            if abbreviate != rng.random_bool(0.08) {
                short
            } else {
                long
            }
        })
        .collect();
    if words.len() == 1 {
        return words[0].to_owned();
    }
    let all_short = words.iter().all(|w| w.len() <= 2);
    let default = if parts.joined_by_va { " và " } else { " " };
    // "Dịch vụ Tổng hợp" is one phrase: never joined by "và"
    let joiner = if !sectors.contains(&5) && rng.random_bool(0.3) {
        let mut choices = vec![
            (" ", 30),
            (" và ", 20),
            (" & ", 15),
            (" vaf ", 5),
            ("-", 20),
        ];
        if all_short {
            choices.push(("", 10));
        }
        choices.push((" - ", 5));
        pick_weighted(rng, &choices)
    } else {
        default
    };
    words.join(joiner)
}

/// `Tổ SX trồng chè` reads `Tổ SX chè`: a group's form that already says what it does drops
/// the verb of its product phrase half the time.
fn product_after_form(rng: &mut impl Rng, form: &str, product: &str) -> String {
    if form == "Tổ SX" || form == "Tổ" {
        for verb in ["trồng ", "sản xuất ", "chăn nuôi ", "nuôi "] {
            if let Some(rest) = product.strip_prefix(verb)
                && rng.random_bool(0.5)
            {
                return rest.to_owned();
            }
        }
    }
    product.to_owned()
}

/// A place appended to a name, as loan officers add it to tell cooperatives apart:
/// `Phúc Than - Than Uyên`, `, Sìn Hồ`, ` (xã Phúc Than)`; after the reform, sometimes the new
/// commune's name. Empty for an unknown commune.
pub fn appended_place(rng: &mut impl Rng, commune_code: &str, on: NaiveDate) -> String {
    let reference = Reference::get();
    let Some(c) = reference.commune_2024(commune_code) else {
        return String::new();
    };
    let commune = vocab::bare_commune(&c.commune_name).to_owned();
    let district = vocab::bare_district(&c.district_name).to_owned();
    if on >= REFORM && rng.random_bool(0.5) {
        let new = new_commune_name(commune_code).unwrap_or_else(|| commune.clone());
        return match rng.random_range(0..3) {
            0 => format!(", xã {new}"),
            1 => format!(" - {new}"),
            _ => format!(" {new}"),
        };
    }
    match rng.random_range(0..6) {
        0 | 1 => format!(" {commune} - {district}"),
        2 => format!(", {district}"),
        3 => format!(" - {district}"),
        4 => format!(" ({} {commune})", vocab::commune_word(&c.commune_kind)),
        _ => format!(", {} {commune}", vocab::commune_word(&c.commune_kind)),
    }
}

/// The bare name of the post-reform commune a pre-reform commune became part of.
pub fn new_commune_name(commune_code: &str) -> Option<String> {
    let reference = Reference::get();
    let new = reference.new_unit_of(commune_code)?;
    reference
        .communes_2025
        .iter()
        .find(|c| c.commune_code == new)
        .map(|c| vocab::bare_commune(&c.commune_name).to_owned())
}

/// What an organisation's name is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct OrgName<'a> {
    pub legal: &'a str,
    pub kind: OrgKind,
    /// The place its legal name carries.
    pub place: &'a str,
    /// Where it is (pre-reform commune code) when the text is typed, and when.
    pub commune_code: &'a str,
    pub on: NaiveDate,
}

/// The borrower name a loan officer types for an organisation.
pub fn borrower_name(rng: &mut impl Rng, org: &OrgName<'_>) -> String {
    let parts = split_legal(org.legal, org.kind, org.place);
    let form = form_as_typed(rng, org.kind, Context::Loan);
    let sectors = sectors_as_typed(rng, &parts, 0.6);
    let product = if rng.random_bool(0.08) && !sectors.is_empty() {
        // "HTX NN DV Bản Hon": the product left out when sector words remain
        String::new()
    } else {
        product_after_form(rng, form, &parts.product)
    };
    let mut name = join_words(&[form, &sectors, &product, &parts.place]);
    if rng.random_bool(0.12) {
        name.push_str(&appended_place(rng, org.commune_code, org.on));
    }
    text_noise(rng, &name, &LOAN_TEXT)
}

/// The name a commune writes in its NTM report: a short form (`HTX Bản Hon`, `HTX chè Tả
/// Lèng`, `Tổ trồng chè …`) or the legal name, then a little text noise. `place_unique`: no
/// other organisation of the commune and kind carries the same place (only then is form +
/// place alone enough for the commune to write).
pub fn ntm_name(rng: &mut impl Rng, org: &OrgName<'_>, place_unique: bool) -> String {
    let parts = split_legal(org.legal, org.kind, org.place);
    let form = form_as_typed(rng, org.kind, Context::Ntm);
    let r: f64 = rng.random();
    let mut name = if r < 0.10 {
        tidy(org.legal)
    } else if r < 0.40 || (!place_unique && r < 0.75) {
        let sectors = sectors_as_typed(rng, &parts, 0.1);
        let product = product_after_form(rng, form, &parts.product);
        join_words(&[form, &sectors, &product, &parts.place])
    } else if r < 0.75 && !parts.product.is_empty() {
        let product = product_after_form(rng, form, &parts.product);
        join_words(&[form, &product, &parts.place])
    } else if place_unique && !parts.place.is_empty() {
        join_words(&[form, &parts.place])
    } else {
        let sectors = sectors_as_typed(rng, &parts, 0.1);
        join_words(&[form, &sectors, &parts.product, &parts.place])
    };
    if rng.random_bool(0.05) {
        name.push_str(&appended_place(rng, org.commune_code, org.on));
    }
    text_noise(rng, &name, &NTM_TEXT)
}

/// The registry's own noise on a legal name (applied to about one name in ten): a double
/// or trailing space, a trailing period, NFD, the form in lower case or abbreviated, capitals.
pub fn registry_name(rng: &mut impl Rng, legal: &str) -> String {
    if !rng.random_bool(0.10) {
        return legal.to_owned();
    }
    match pick_weighted(
        rng,
        &[
            ("double", 20),
            ("trailing", 20),
            ("nfd", 20),
            ("lower", 15),
            ("abbrev", 15),
            ("upper", 5),
            ("dash", 5),
        ],
    ) {
        "double" => double_a_space(rng, legal),
        "trailing" => {
            if rng.random_bool(0.5) {
                format!("{legal} ")
            } else {
                format!("{legal}.")
            }
        }
        "nfd" => legal.nfd().collect(),
        "lower" => {
            legal
                .replacen("Hợp tác xã", "hợp tác xã", 1)
                .replacen("Tổ hợp tác", "tổ hợp tác", 1)
        }
        "abbrev" => legal.replacen("Hợp tác xã", "HTX", 1),
        "upper" => legal.to_uppercase(),
        _ => legal.replacen("Nông nghiệp Dịch vụ", "Nông nghiệp - Dịch vụ", 1),
    }
}

/// A person's name as typed: orders and parts (`Văn Minh`, `Lò Minh`, `Minh Lò Văn`),
/// honorifics, diacritics and case.
pub fn person(rng: &mut impl Rng, name: &str, ctx: Context) -> String {
    let words: Vec<&str> = name.split_whitespace().collect();
    let (fold_p, upper_p, weights): (f64, f64, [u32; 5]) = match ctx {
        Context::Loan => (0.30, 0.06, [72, 7, 7, 4, 5]),
        Context::Ntm => (0.15, 0.03, [84, 5, 5, 2, 3]),
    };
    let mut s = if words.len() >= 3 {
        let (surname, middle, given) = (
            words[0],
            words[1..words.len() - 1].join(" "),
            words[words.len() - 1],
        );
        let items = [
            ("full", weights[0]),
            ("middle_given", weights[1]),
            ("surname_given", weights[2]),
            ("given_first", weights[3]),
            ("honorific", weights[4]),
        ];
        match pick_weighted(rng, &items) {
            "middle_given" => format!("{middle} {given}"),
            "surname_given" => format!("{surname} {given}"),
            "given_first" => format!("{given} {surname} {middle}"),
            "honorific" => {
                let title = if middle.contains("Thị") {
                    "Bà"
                } else {
                    "Ông"
                };
                format!("{title} {name}")
            }
            _ => words.join(" "),
        }
    } else {
        name.to_owned()
    };
    if rng.random_bool(fold_p) {
        s = fold(&s);
    }
    if rng.random_bool(upper_p) {
        s = s.to_uppercase();
    }
    s
}

/// The tax code as the loan file has it: exact, missing, two adjacent digits swapped, one
/// digit wrong or missing, formatted, or with a branch suffix.
pub fn tax_code(rng: &mut impl Rng, code: Option<&str>) -> Option<String> {
    let code = code?;
    let digits: Vec<char> = code.chars().collect();
    if digits.len() < 4 || !digits.iter().all(char::is_ascii_digit) {
        return Some(code.to_owned());
    }
    let swapped = |rng: &mut dyn FnMut(usize) -> usize| {
        // positions where the neighbours differ, so that the swap changes the code
        let at: Vec<usize> = (0..digits.len() - 1)
            .filter(|&i| digits[i] != digits[i + 1])
            .collect();
        if at.is_empty() {
            return None;
        }
        let i = at[rng(at.len())];
        let mut d = digits.clone();
        d.swap(i, i + 1);
        Some(d.into_iter().collect::<String>())
    };
    let choice = pick_weighted(
        rng,
        &[
            ("exact", 52),
            ("missing", 16),
            ("swap", 12),
            ("wrong", 4),
            ("drop", 4),
            ("format", 10),
            ("branch", 2),
        ],
    );
    match choice {
        "missing" => None,
        "swap" => {
            let mut pick = |n: usize| rng.random_range(0..n);
            Some(swapped(&mut pick).unwrap_or_else(|| code.to_owned()))
        }
        "wrong" => {
            let i = rng.random_range(0..digits.len());
            let mut d = digits.clone();
            let old = d[i].to_digit(10).unwrap_or(0);
            d[i] = char::from_digit((old + rng.random_range(1..10)) % 10, 10).unwrap_or('0');
            Some(d.into_iter().collect())
        }
        "drop" => {
            let mut d = digits.clone();
            d.remove(rng.random_range(0..d.len()));
            Some(d.into_iter().collect())
        }
        "format" => {
            let (a, b) = code.split_at(4.min(code.len()));
            let (b1, b2) = b.split_at(3.min(b.len()));
            let variants = [
                format!("{a} {b1} {b2}"),
                format!("{a}-{b1}-{b2}"),
                format!("{a}.{b1}.{b2}"),
                format!("'{code}"),
                format!("MST: {code}"),
                format!(" {code} "),
            ];
            variants.choose(rng).cloned()
        }
        "branch" => Some(format!("{code}-001")),
        _ => Some(code.to_owned()),
    }
}

/// A borrower's address. Typed on or after the reform it names the new commune (and no
/// district, which no longer exists) three times in four, sometimes with the old one beside
/// it; before, it reads as the classic model's addresses.
pub fn address(rng: &mut impl Rng, village: &str, commune_code: &str, on: NaiveDate) -> String {
    if on >= REFORM
        && rng.random_bool(0.75)
        && let Some(new) = new_commune_name(commune_code)
    {
        let reference = Reference::get();
        let old = reference
            .commune_2024(commune_code)
            .map(|c| vocab::bare_commune(&c.commune_name).to_owned());
        let words = rng.random_bool(0.6);
        let mut parts: Vec<String> = Vec::new();
        if rng.random_bool(0.7) {
            parts.push(if words {
                format!("bản {village}")
            } else {
                village.to_owned()
            });
        }
        let word = if new_is_ward(commune_code) {
            "phường"
        } else {
            "xã"
        };
        match old {
            Some(old) if old != new && rng.random_bool(0.08) => {
                parts.push(format!("xã {old} (nay là {word} {new})"));
            }
            _ => parts.push(if words {
                format!("{word} {new}")
            } else {
                new.clone()
            }),
        }
        if rng.random_bool(0.6) {
            parts.push(if words {
                "tỉnh Lai Châu".to_owned()
            } else {
                "Lai Châu".to_owned()
            });
        }
        let sep = *[", ", ", ", " - ", ","].choose(rng).unwrap_or(&", ");
        let mut s = parts.join(sep);
        if rng.random_bool(0.45) {
            s = fold(&s);
        }
        if rng.random_bool(0.08) {
            s = s.to_uppercase();
        }
        return s;
    }
    noise::address(rng, village, commune_code)
}

fn new_is_ward(commune_code: &str) -> bool {
    let reference = Reference::get();
    reference
        .new_unit_of(commune_code)
        .and_then(|new| {
            reference
                .communes_2025
                .iter()
                .find(|c| c.commune_code == new)
        })
        .is_some_and(|c| c.commune_name.starts_with("Phường"))
}

fn join_words(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

// ---- text-level noise ----

const TONES_TELEX: [(char, char, char); 5] = [
    ('\u{0300}', 'f', '2'),
    ('\u{0301}', 's', '1'),
    ('\u{0309}', 'r', '3'),
    ('\u{0303}', 'x', '4'),
    ('\u{0323}', 'j', '5'),
];

/// A word with diacritics as someone typing with the input method switched off leaves it:
/// the tone letter only (`Sì` → `Sif`, `Nậm` → `Namj`), the vowel mark only (`Hâm` →
/// `Haam`), the full Telex sequence (`Nậm` → `Naamj`), or VNI digits (`Sì` → `Si2`).
pub fn telex_slip(rng: &mut impl Rng, word: &str) -> String {
    let style = pick_weighted(
        rng,
        &[("tone", 45), ("mark", 25), ("full", 20), ("vni", 10)],
    );
    let mut base = String::new();
    let mut marks = String::new();
    let mut tone: Option<(char, char)> = None;
    for c in word.nfd() {
        match c {
            '\u{0302}' => {
                // circumflex: â ê ô = aa ee oo (VNI 6)
                let last = base.chars().last().unwrap_or('a');
                marks.push(last);
                if style != "tone" && style != "vni" {
                    base.push(last.to_ascii_lowercase());
                } else if style == "vni" {
                    base.push('6');
                }
            }
            '\u{0306}' | '\u{031b}' => {
                // breve (ă = aw, VNI 8), horn (ơ ư = ow uw, VNI 7)
                marks.push('w');
                if style != "tone" && style != "vni" {
                    base.push('w');
                } else if style == "vni" {
                    base.push(if c == '\u{0306}' { '8' } else { '7' });
                }
            }
            c if TONES_TELEX.iter().any(|(m, _, _)| *m == c) => {
                tone = TONES_TELEX
                    .iter()
                    .find(|(m, _, _)| *m == c)
                    .map(|(_, t, v)| (*t, *v));
            }
            'đ' | 'Đ' => {
                base.push(if c == 'đ' { 'd' } else { 'D' });
                if style != "tone" {
                    base.push(if style == "vni" { '9' } else { 'd' });
                }
            }
            other => base.push(other),
        }
    }
    let out = match (style, tone) {
        ("tone" | "full", Some((t, _))) => format!("{base}{t}"),
        ("vni", Some((_, v))) => format!("{base}{v}"),
        ("mark", _) if marks.is_empty() => match tone {
            // nothing to double: the tone letter is what is left
            Some((t, _)) => format!("{base}{t}"),
            None => base.clone(),
        },
        _ => base,
    };
    if out == fold(word) {
        // nothing to slip on (no diacritics): the word as typed
        return word.to_owned();
    }
    out
}

fn has_diacritics(word: &str) -> bool {
    fold(word) != word
}

fn double_a_space(rng: &mut impl Rng, s: &str) -> String {
    let spaces: Vec<usize> = s.match_indices(' ').map(|(i, _)| i).collect();
    let mut out = s.to_owned();
    if let Some(&i) = spaces.choose(rng) {
        out.insert(i, ' ');
    }
    out
}

fn flip_case(word: &str) -> String {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    if first.is_uppercase() {
        word.to_lowercase()
    } else {
        first.to_uppercase().chain(chars).collect()
    }
}

/// Diacritics, slips, case, words run together, swapped letters, spaces and NFD, at `rates`.
fn text_noise(rng: &mut impl Rng, s: &str, rates: &TextRates) -> String {
    let words: Vec<String> = s.split(' ').map(str::to_owned).collect();
    // diacritics: kept, dropped (with slips), or dropped in half the words
    let r: f64 = rng.random();
    let mode = if r < rates.folded {
        1
    } else if r < rates.folded + rates.half_folded {
        2
    } else {
        0
    };
    let mut words: Vec<String> = words
        .into_iter()
        .map(|w| {
            let fold_it = match mode {
                1 => true,
                2 => rng.random_bool(0.5),
                _ => false,
            };
            if fold_it && has_diacritics(&w) && rng.random_bool(rates.slip_per_word) {
                telex_slip(rng, &w)
            } else if fold_it {
                fold(&w)
            } else if mode == 0 && has_diacritics(&w) && rng.random_bool(rates.slip_per_word / 16.0)
            {
                // a slip inside otherwise well-typed text: "Haam Lếch"
                telex_slip(rng, &w)
            } else {
                w
            }
        })
        .collect();
    if rng.random_bool(rates.swap_letters) {
        let long: Vec<usize> = (0..words.len())
            .filter(|&i| words[i].chars().count() >= 3)
            .collect();
        if let Some(&i) = long.choose(rng) {
            let mut cs: Vec<char> = words[i].chars().collect();
            let j = rng.random_range(1..cs.len() - 1);
            cs.swap(j, j + 1);
            words[i] = cs.into_iter().collect();
        }
    }
    let r: f64 = rng.random();
    if r < rates.upper {
        words = words.iter().map(|w| w.to_uppercase()).collect();
    } else if r < rates.upper + rates.lower {
        words = words.iter().map(|w| w.to_lowercase()).collect();
    } else if r < rates.upper + rates.lower + rates.partial_caps {
        words = words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i > 0 && rng.random_bool(0.35) {
                    flip_case(w)
                } else {
                    w.clone()
                }
            })
            .collect();
    }
    let mut out = if words.len() > 1 && rng.random_bool(rates.run_together) {
        // "HTXNN DV …" after an abbreviated form, else two syllables of the place
        let at = if words[0].chars().all(|c| c.is_uppercase() || c == '.') {
            0
        } else {
            words.len() - 2
        };
        let mut v = words.clone();
        let joined = format!("{}{}", v[at], v[at + 1]);
        v.splice(at..at + 2, [joined]);
        v.join(" ")
    } else {
        words.join(" ")
    };
    if rng.random_bool(rates.double_space) {
        out = double_a_space(rng, &out);
    }
    if rng.random_bool(rates.nbsp) {
        let spaces: Vec<usize> = out.match_indices(' ').map(|(i, _)| i).collect();
        if let Some(&i) = spaces.choose(rng) {
            out.replace_range(i..i + 1, "\u{a0}");
        }
    }
    if rng.random_bool(rates.trailing_punct) {
        out.push(if rng.random_bool(0.75) { '.' } else { ',' });
    }
    if rng.random_bool(rates.edge_space) {
        if rng.random_bool(0.4) {
            out.insert(0, ' ');
        } else {
            out.push(' ');
        }
    }
    if rng.random_bool(rates.nfd) {
        out = out.nfd().collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn legal_names_come_apart() {
        let p = split_legal(
            "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon",
            OrgKind::Htx,
            "Bản Hon",
        );
        assert_eq!(p.sectors, vec![0, 1]);
        assert_eq!(p.product, "");
        assert_eq!(p.place, "Bản Hon");
        let p = split_legal(
            "Hợp tác xã Sản xuất và Thương mại chè Tả Lèng số 2",
            OrgKind::Htx,
            "Tả Lèng số 2",
        );
        assert_eq!(p.sectors, vec![3, 2]);
        assert!(p.joined_by_va);
        assert_eq!(p.product, "chè");
        assert_eq!(p.place, "Tả Lèng số 2");
        // the registry's own noise does not hide the parts
        let p = split_legal(
            "HỢP TÁC XÃ  NÔNG NGHIỆP DỊCH VỤ BẢN HON.",
            OrgKind::Htx,
            "Bản Hon",
        );
        assert_eq!((p.sectors.len(), p.place.as_str()), (2, "BẢN HON"));
        let p = split_legal("Tổ hợp tác trồng chè Nà Ít", OrgKind::Tht, "Nà Ít");
        assert_eq!(
            (p.product.as_str(), p.place.as_str()),
            ("trồng chè", "Nà Ít")
        );
    }

    #[test]
    fn telex_and_vni_slips_look_like_the_field() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..400 {
            seen.insert(telex_slip(&mut rng, "Nậm"));
            seen.insert(telex_slip(&mut rng, "Sì"));
            seen.insert(telex_slip(&mut rng, "Hâm"));
            seen.insert(telex_slip(&mut rng, "Đông"));
        }
        for expected in [
            "Namj", "Naamj", "Na6m5", "Sif", "Si2", "Haam", "Ddoong", "D9o6ng",
        ] {
            assert!(seen.contains(expected), "{expected} not in {seen:?}");
        }
        assert_eq!(telex_slip(&mut rng, "Heo"), "Heo");
    }

    #[test]
    fn adjacent_swaps_keep_the_digits() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut swaps = 0;
        for _ in 0..500 {
            let Some(t) = tax_code(&mut rng, Some("6200123456")) else {
                continue;
            };
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            let mut a: Vec<char> = digits.chars().collect();
            let mut b: Vec<char> = "6200123456".chars().collect();
            if digits != "6200123456" && digits.len() == 10 {
                a.sort_unstable();
                b.sort_unstable();
                if a == b {
                    swaps += 1;
                }
            }
        }
        assert!((30..=100).contains(&swaps), "{swaps} swaps in 500");
    }

    #[test]
    fn people_are_written_in_every_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let seen: std::collections::BTreeSet<String> = (0..600)
            .map(|_| person(&mut rng, "Lò Văn Minh", Context::Loan))
            .collect();
        for expected in [
            "Lò Văn Minh",
            "Văn Minh",
            "Lò Minh",
            "Minh Lò Văn",
            "Ông Lò Văn Minh",
            "Lo Van Minh",
        ] {
            assert!(seen.contains(expected), "{expected} not in {seen:?}");
        }
    }

    #[test]
    fn new_commune_names_after_the_reform() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let reference = Reference::get();
        // a commune merged into a unit of another name
        let c = reference
            .communes_2024
            .iter()
            .find(|c| {
                new_commune_name(&c.commune_code)
                    .is_some_and(|n| n != vocab::bare_commune(&c.commune_name))
            })
            .expect("a renamed commune");
        let new = new_commune_name(&c.commune_code).expect("new name");
        let after = NaiveDate::from_ymd_opt(2025, 8, 1).expect("date");
        let before = NaiveDate::from_ymd_opt(2025, 6, 1).expect("date");
        let hits = |on: NaiveDate, rng: &mut ChaCha8Rng| {
            (0..200)
                .filter(|_| {
                    let a = fold(&address(rng, "Nà Ít", &c.commune_code, on)).to_lowercase();
                    a.contains(&fold(&new).to_lowercase())
                })
                .count()
        };
        let (a, b) = (hits(after, &mut rng), hits(before, &mut rng));
        assert!(a > 120, "{a} of 200 after the reform");
        // before the reform only when the old district or commune happens to share the name
        assert!(b < a / 2, "{b} of 200 before the reform");
    }
}

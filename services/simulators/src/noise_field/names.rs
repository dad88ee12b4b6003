//! Organisation names as the field writes them: a legal name taken apart (form, sectors,
//! product, place) and typed again in a loan file, a commune's report or the registry.

use chrono::NaiveDate;
use hub_contracts::v1::common::OrgKind;
use hub_normalise::reference::Reference;
use rand::Rng;
use unicode_normalization::UnicodeNormalization;

use super::typing::{LOAN_TEXT, NTM_TEXT, double_a_space, text_noise};
use super::{Context, REFORM};
use crate::vocab;

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

pub(super) fn pick_weighted<'a>(rng: &mut impl Rng, items: &[(&'a str, u32)]) -> &'a str {
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

fn join_words(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

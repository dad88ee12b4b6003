//! The index of one province's unit names (communes, districts, 2025 units, the
//! alternative spellings), built once per loaded province. Owns the entries and their
//! folded words; reads nothing but [`crate::reference`].

use std::sync::OnceLock;

use crate::reference::{Commune2024, Commune2025, Province, provinces};
use crate::text;

use super::ALTERNATIVE_SPELLINGS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CommuneKind {
    Xa,
    Phuong,
    ThiTran,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    /// Index into `Index::communes`.
    Commune(usize),
    /// Index into `Index::districts`.
    District(usize),
    /// "Lai Châu" (also the city's name) or "Việt Nam": explains words, resolves nothing.
    Province,
}

#[derive(Debug)]
pub(super) struct NameEntry {
    /// Folded words.
    pub(super) words: Vec<String>,
    /// Folded words joined without spaces.
    pub(super) joined: String,
    /// Lower-case NFC with diacritics, words separated by one space.
    pub(super) raw: String,
    pub(super) target: Target,
}

#[derive(Debug)]
pub(super) struct CommuneEntry {
    pub(super) unit: &'static Commune2024,
    pub(super) kind: CommuneKind,
    pub(super) district: usize,
}

#[derive(Debug)]
pub(super) struct DistrictEntry {
    pub(super) code: &'static str,
    pub(super) name: &'static str,
}

#[derive(Debug)]
pub(super) struct Unit2025Entry {
    pub(super) unit: &'static Commune2025,
    pub(super) kind: CommuneKind,
    /// Folded words of the name without its unit word.
    pub(super) words: Vec<String>,
    pub(super) joined: String,
    /// Indexes into `Index::communes`, in code order.
    pub(super) old: Vec<usize>,
    /// Indexes into `Index::districts`, without repeats.
    pub(super) districts: Vec<usize>,
}

#[derive(Debug)]
pub(super) struct Index {
    /// Folded words of the province's name without `Tỉnh` (`lai chau`).
    pub(super) province_words: Vec<String>,
    pub(super) communes: Vec<CommuneEntry>,
    pub(super) units_2025: Vec<Unit2025Entry>,
    pub(super) districts: Vec<DistrictEntry>,
    pub(super) names: Vec<NameEntry>,
    /// The district that shares the province's name (Thành phố Lai Châu).
    pub(super) city: Option<usize>,
}

pub(super) fn strip_prefix_ci<'a>(name: &'a str, prefixes: &[&str]) -> &'a str {
    for p in prefixes {
        if let Some(rest) = name.strip_prefix(p) {
            return rest.trim();
        }
    }
    name.trim()
}

pub(super) fn core_of_commune(name: &str) -> &str {
    strip_prefix_ci(name, &["Xã ", "Phường ", "Thị trấn "])
}

pub(super) fn core_of_district(name: &str) -> &str {
    strip_prefix_ci(name, &["Huyện ", "Thành phố ", "Thị xã "])
}

pub(super) fn entry(name: &str, target: Target) -> NameEntry {
    let words = text::tokens(name);
    NameEntry {
        joined: words.concat(),
        raw: text::lower_nfc(name),
        words,
        target,
    }
}

/// One index per loaded province ([`provinces`]), in their order.
pub(super) fn indexes() -> &'static [Index] {
    static INDEXES: OnceLock<Vec<Index>> = OnceLock::new();
    INDEXES.get_or_init(|| provinces().iter().map(build_index).collect())
}

pub(super) fn build_index(p: &'static Province) -> Index {
    {
        let r = p.reference;
        let mut districts: Vec<DistrictEntry> = Vec::new();
        let mut communes = Vec::with_capacity(r.communes_2024.len());
        for c in &r.communes_2024 {
            let district = match districts.iter().position(|d| d.code == c.district_code) {
                Some(i) => i,
                None => {
                    districts.push(DistrictEntry {
                        code: &c.district_code,
                        name: &c.district_name,
                    });
                    districts.len() - 1
                }
            };
            let kind = match c.commune_kind.as_str() {
                "phường" => CommuneKind::Phuong,
                "thị trấn" => CommuneKind::ThiTran,
                _ => CommuneKind::Xa,
            };
            communes.push(CommuneEntry {
                unit: c,
                kind,
                district,
            });
        }
        let mut names = Vec::new();
        for (i, c) in communes.iter().enumerate() {
            names.push(entry(
                core_of_commune(&c.unit.commune_name),
                Target::Commune(i),
            ));
        }
        for (code, alt) in ALTERNATIVE_SPELLINGS {
            if let Some(i) = communes.iter().position(|c| c.unit.commune_code == *code) {
                names.push(entry(alt, Target::Commune(i)));
            }
        }
        let mut city = None;
        for (i, d) in districts.iter().enumerate() {
            let core = core_of_district(d.name);
            if text::fold(core) == text::fold(p.short_name()) {
                // The city shares the province's name: only a district word makes it the city.
                city = Some(i);
                continue;
            }
            names.push(entry(core, Target::District(i)));
        }
        names.push(entry(p.short_name(), Target::Province));
        names.push(entry("Việt Nam", Target::Province));
        let mut units_2025 = Vec::with_capacity(r.communes_2025.len());
        for u in &r.communes_2025 {
            let mut old: Vec<usize> = r
                .crosswalk
                .iter()
                .filter(|row| row.new_commune_code == u.commune_code)
                .filter_map(|row| {
                    communes
                        .iter()
                        .position(|c| c.unit.commune_code == row.old_commune_code)
                })
                .collect();
            old.sort_by_key(|&i| &communes[i].unit.commune_code);
            let mut ds: Vec<usize> = old.iter().map(|&i| communes[i].district).collect();
            ds.sort_unstable();
            ds.dedup();
            let words = text::tokens(core_of_commune(&u.commune_name));
            units_2025.push(Unit2025Entry {
                unit: u,
                kind: if u.commune_kind == "phường" {
                    CommuneKind::Phuong
                } else {
                    CommuneKind::Xa
                },
                joined: words.concat(),
                words,
                old,
                districts: ds,
            });
        }
        Index {
            province_words: text::tokens(p.short_name()),
            communes,
            units_2025,
            districts,
            names,
            city,
        }
    }
}

/// Folded word sequences of every place name the index knows (communes with their
/// alternative spellings, districts, the province), for [`crate::orgname`].
pub(crate) fn place_phrases() -> impl Iterator<Item = &'static [String]> {
    indexes()
        .iter()
        .flat_map(|idx| idx.names.iter().map(|n| n.words.as_slice()))
}

/// What a place phrase of [`place_phrases`] names: the districts of the communes called so,
/// and the district called so, if any.
pub(crate) fn place_units(words: &[String]) -> (Vec<&'static str>, Option<&'static str>) {
    let mut communes_in = Vec::new();
    let mut district = None;
    for (idx, n) in indexes()
        .iter()
        .flat_map(|idx| idx.names.iter().map(move |n| (idx, n)))
        .filter(|(_, n)| n.words == words)
    {
        match n.target {
            Target::Commune(c) => communes_in.push(idx.districts[idx.communes[c].district].code),
            Target::District(d) => district = district.or(Some(idx.districts[d].code)),
            Target::Province => {}
        }
    }
    (communes_in, district)
}

/// Whether place phrase `unit` (folded words) names a post-reform (2025) unit one of whose
/// old communes phrase `commune` names, a commune other than the unit's namesake: `Lê Lợi`
/// and `Pú Đao` (Pú Đao became part of Lê Lợi), not `Lê Lợi` and `Lê Lợi`.
pub(crate) fn unit_holds_commune(unit: &[String], commune: &[String]) -> bool {
    indexes().iter().any(|idx| {
        idx.units_2025.iter().filter(|u| u.words == unit).any(|u| {
            u.old.iter().any(|&c| {
                idx.names.iter().any(|n| {
                    n.target == Target::Commune(c) && n.words == commune && n.words != u.words
                })
            })
        })
    })
}

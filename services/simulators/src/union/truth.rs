//! The truth the Union's workbooks give: every converted branch and what it became
//! ([`conversions`]), and I5 and I8 per unit as of a date ([`UnionTruth`]).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hub_contracts::v1::common::OrgKind;
use hub_normalise::reference::{PROVINCE_CODE, Reference};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::roster::{Branch, Level, Roster, Status, rosters};
use crate::World;
use crate::truth::UnitList;

/// I5 and I8 of one unit (numerators and denominators); absent: no workbook covers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnionCounts {
    pub i5_num: u64,
    pub i5_den: u64,
    pub i8_num: u64,
    pub i8_den: u64,
    /// Of I5's numerator: conversions whose HTX/THT is an organisation of the registry…
    pub conv_matched: u64,
    /// …and those whose HTX/THT is not (not an organisation of the world, or one the
    /// registry does not hold).
    pub conv_unmatched: u64,
}

/// A converted branch of an uploaded workbook and the truth of what it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversionTruth {
    /// The branch's source id, `{sender}:{code}`.
    pub source_id: String,
    pub sender: String,
    pub code: String,
    /// `ma_xa` (2024 list) and its district.
    pub commune_code: String,
    pub district_code: String,
    pub ended_on: Option<NaiveDate>,
    /// What the Union wrote: `HTX`/`THT`, the name (NFC, spaces collapsed, as the adapter
    /// reads it), the registration code when written.
    pub kind: OrgKind,
    pub name: String,
    pub registration_code: Option<String>,
    /// The world's organisation it became (`ORG-…`), when it is one.
    pub organisation: Option<String>,
    /// That organisation's registry record id, when the registry holds it.
    pub registry_id: Option<String>,
}

/// Every converted branch of the workbooks of [`workbooks`] (the end-2024 provincial one and
/// district 106's; the mid-2024 one has none), with the truth of what it became.
pub fn conversions(world: &World) -> Vec<ConversionTruth> {
    let (_, p2, d106) = rosters(world);
    let reference = Reference::get();
    let mut out = Vec::new();
    for r in [&p2, &d106] {
        for b in &r.branches {
            let Some((kind, name, reg)) = &b.converted else {
                continue;
            };
            let org = b.became.map(|i| &world.organisations[i]);
            out.push(ConversionTruth {
                source_id: format!("{}:{}", r.sender, b.code),
                sender: r.sender.clone(),
                code: b.code.clone(),
                commune_code: b.commune.clone(),
                district_code: reference
                    .commune_2024(&b.commune)
                    .map(|c| c.district_code.clone())
                    .unwrap_or_default(),
                ended_on: b.ended,
                kind: if kind == "HTX" {
                    OrgKind::Htx
                } else {
                    OrgKind::Tht
                },
                name: name
                    .nfc()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                registration_code: reg.clone(),
                organisation: org.map(|o| o.id.clone()),
                registry_id: org.and_then(|o| o.registry_id.clone()),
            });
        }
    }
    out
}

/// Whether the HTX/THT a branch became is an organisation of the registry.
fn in_registry(world: &World, b: &Branch) -> bool {
    b.became
        .and_then(|i| world.organisations.get(i))
        .is_some_and(|o| o.registry_id.is_some())
}

/// The truth of I5 and I8 per unit code, for the workbooks of [`workbooks`] as of T
/// (T on or after 2025-01-15, when all of them are sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnionTruth {
    pub units: BTreeMap<String, UnionCounts>,
}

impl UnionTruth {
    pub fn of(world: &World, list: UnitList, as_of: NaiveDate, baseline: NaiveDate) -> UnionTruth {
        let (_, p2, d106) = rosters(world);
        let reference = Reference::get();
        let mut units: BTreeMap<String, UnionCounts> = BTreeMap::new();
        // every unit is covered: the provincial workbook covers them all
        units.insert(PROVINCE_CODE.into(), UnionCounts::default());
        for c in &reference.communes_2024 {
            match list {
                UnitList::Units2024 => {
                    units.entry(c.district_code.clone()).or_default();
                    units.entry(c.commune_code.clone()).or_default();
                }
                UnitList::Units2025 => {
                    if let Some(n) = reference.new_unit_of(&c.commune_code) {
                        units.entry(n.to_owned()).or_default();
                    }
                }
            }
        }
        let district_of = |c: &str| reference.commune_2024(c).map(|x| x.district_code.clone());
        let stands = |r: &Roster, district: &str| {
            let own_newer = d106.report_date >= p2.report_date && d106.report_date <= as_of;
            if district == "106" && own_newer {
                r.sender == "106"
            } else {
                r.sender == PROVINCE_CODE
            }
        };
        let units_of_commune = |commune: &str| -> Vec<String> {
            let mut out = vec![PROVINCE_CODE.to_owned()];
            match list {
                UnitList::Units2024 => {
                    out.push(commune.to_owned());
                    if let Some(dc) = district_of(commune) {
                        out.push(dc);
                    }
                }
                UnitList::Units2025 => {
                    if let Some(n) = reference.new_unit_of(commune) {
                        out.push(n.to_owned());
                    }
                }
            }
            out
        };
        let (b, t) = (baseline, as_of);
        for r in [&p2, &d106] {
            for br in &r.branches {
                let Some(district) = district_of(&br.commune) else {
                    continue;
                };
                if !stands(r, &district) || br.established > t {
                    continue;
                }
                let ended_before_b = br.status != Status::Active && br.ended.is_some_and(|e| e < b);
                let converted =
                    br.status == Status::Converted && br.ended.is_some_and(|e| e >= b && e <= t);
                let matched = in_registry(world, br);
                for u in units_of_commune(&br.commune) {
                    let e = units.entry(u).or_default();
                    if !ended_before_b {
                        e.i5_den += 1;
                    }
                    if converted {
                        e.i5_num += 1;
                        if matched {
                            e.conv_matched += 1;
                        } else {
                            e.conv_unmatched += 1;
                        }
                    }
                }
            }
            let trained: BTreeSet<&str> = r
                .trainings
                .iter()
                .filter(|x| x.covers && x.to >= b && x.to <= t)
                .map(|x| x.officer.as_str())
                .collect();
            for o in r.officers.iter().filter(|o| o.supports) {
                let targets = match o.level {
                    Level::Province if r.sender == PROVINCE_CODE => vec![PROVINCE_CODE.to_owned()],
                    Level::Province => continue,
                    Level::District => {
                        if !stands(r, &o.unit) {
                            continue;
                        }
                        match list {
                            UnitList::Units2024 => vec![PROVINCE_CODE.to_owned(), o.unit.clone()],
                            UnitList::Units2025 => vec![PROVINCE_CODE.to_owned()],
                        }
                    }
                    Level::Commune | Level::Branch => {
                        let Some(district) = district_of(&o.unit) else {
                            continue;
                        };
                        if !stands(r, &district) {
                            continue;
                        }
                        units_of_commune(&o.unit)
                    }
                };
                let yes = trained.contains(o.code.as_str());
                for u in targets {
                    let e = units.entry(u).or_default();
                    e.i8_den += 1;
                    if yes {
                        e.i8_num += 1;
                    }
                }
            }
        }
        UnionTruth { units }
    }
}

//! The state of the projection as of a date T, and where an organisation lies.
//!
//! Owns two readings of `shared/mission/indicators.md` that need time:
//! - "As of T" is the sources' own time: of every version the projection holds of a registry
//!   record (by its `updated_at`) or a loan (by its `modified`), the latest one dated before
//!   the end of T in Vietnam (UTC+7); an NTM revision counts once submitted by then. A record
//!   of which the hub only knows versions dated after T (it never saw the earlier ones) is
//!   read from its earliest known version: the best the hub knows of T. Identities (which
//!   source records are one organisation) are always the latest golden records: a merge
//!   found today corrects last year's counts too.
//! - Where an organisation lies ([`Place`]): a registry record dated on or after the plan's
//!   reform date whose `commune_code` is a code of the post-reform list is read as that
//!   post-reform unit (every post-reform unit reuses a pre-reform code), unless the record
//!   also gives the new unit apart (`commune_code_2025`, then `commune_code` is the old one).
//!   A post-reform unit made of one pre-reform commune resolves to it; otherwise the
//!   pre-reform commune is unknown and the organisation counts in its district when the
//!   record gives one (or when every old commune of the unit lies in one district) and in the
//!   province. An organisation whose commune is unknown but whose district is a district of
//!   the plan counts in that district and the province.
//!
//! Pure: touches no database, broker or clock.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::source::{
    KeyOfficers, LoanDisbursement, NtmCommuneReport, OrgStatus, Origin, Rating, RegistryCooperative,
};
use serde::{Deserialize, Serialize};

use crate::plan::{Plan, UnitList};

/// The registry's system name in source references.
pub const REGISTRY: &str = "coop-alliance";

/// Vietnam's offset: dates are days there.
fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// The first instant after day `t` in Vietnam: "as of T" takes what is dated before it.
pub fn end_of(t: NaiveDate) -> DateTime<FixedOffset> {
    let next = t.succ_opt().unwrap_or(t).and_time(NaiveTime::MIN);
    next.and_local_timezone(vietnam())
        .single()
        .unwrap_or_else(|| DateTime::<FixedOffset>::MAX_UTC.fixed_offset())
}

/// The date of an instant in Vietnam.
pub fn day_of(at: DateTime<FixedOffset>) -> NaiveDate {
    at.with_timezone(&vietnam()).date_naive()
}

/// One version of a registry record: the facts the indicators use (no names, addresses or
/// people), as the registry dated them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryVersion {
    pub source_id: String,
    pub version: u64,
    /// The registry's `updated_at`: from when these facts hold.
    pub updated_at: DateTime<FixedOffset>,
    pub kind: OrgKind,
    #[serde(default)]
    pub commune_code: Option<String>,
    /// The post-reform unit, when the record gives it apart from `commune_code`.
    #[serde(default)]
    pub commune_code_2025: Option<String>,
    #[serde(default)]
    pub district_code: Option<String>,
    #[serde(default)]
    pub established_on: Option<NaiveDate>,
    #[serde(default)]
    pub status: Option<OrgStatus>,
    #[serde(default)]
    pub member_households: Option<u32>,
    #[serde(default)]
    pub farmers_union_supported: Option<bool>,
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default)]
    pub rating: Option<Rating>,
    #[serde(default)]
    pub enterprise_linkage: Option<bool>,
    #[serde(default)]
    pub key_officers: Option<KeyOfficers>,
}

impl RegistryVersion {
    /// The facts of a consumed registry record.
    pub fn of(c: &RegistryCooperative) -> Self {
        let commune_code_2025 = c
            .meta
            .raw
            .get("commune_code_2025")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        RegistryVersion {
            source_id: c.meta.source.id.clone(),
            version: c.version,
            updated_at: c.updated_at,
            kind: c.kind,
            commune_code: c.commune_code.clone(),
            commune_code_2025,
            district_code: c.district_code.clone(),
            established_on: c.established_on,
            status: c.status,
            member_households: c.member_households,
            farmers_union_supported: c.farmers_union_supported,
            origin: c.origin,
            rating: c.rating,
            enterprise_linkage: c.enterprise_linkage,
            key_officers: c.key_officers,
        }
    }
}

/// Of `versions` (any order), the latest dated before `end`, else the earliest.
fn as_of<'a, T, K: Ord>(
    versions: impl IntoIterator<Item = &'a T>,
    end: DateTime<FixedOffset>,
    at: impl Fn(&T) -> DateTime<FixedOffset>,
    order: impl Fn(&T) -> K,
) -> Option<&'a T> {
    let mut before: Option<&T> = None;
    let mut earliest: Option<&T> = None;
    for v in versions {
        if at(v) < end {
            if before.is_none_or(|b| (at(b), order(b)) < (at(v), order(v))) {
                before = Some(v);
            }
        } else if earliest.is_none_or(|e| (at(e), order(e)) > (at(v), order(v))) {
            earliest = Some(v);
        }
    }
    before.or(earliest)
}

/// Each loan's state as of T (one per `loan_no`), from every version held.
pub fn loans_as_of(loans: &[LoanDisbursement], t: NaiveDate) -> Vec<&LoanDisbursement> {
    let end = end_of(t);
    let mut by_no: BTreeMap<&str, Vec<&LoanDisbursement>> = BTreeMap::new();
    for l in loans {
        by_no.entry(&l.loan_no).or_default().push(l);
    }
    by_no
        .into_values()
        .filter_map(|v| as_of(v, end, |l| l.modified, |l| l.meta.fetched_at))
        .collect()
}

/// The NTM revisions that existed as of T: submitted by then (or with no submission time).
pub fn ntm_as_of(
    ntm: &[NtmCommuneReport],
    t: NaiveDate,
) -> impl Iterator<Item = &NtmCommuneReport> {
    let end = end_of(t);
    ntm.iter()
        .filter(move |r| r.submitted_at.is_none_or(|s| s < end))
}

/// Every version of each registry record, by registry id.
pub struct RegistryHistory<'a> {
    by_id: BTreeMap<&'a str, Vec<&'a RegistryVersion>>,
}

impl<'a> RegistryHistory<'a> {
    pub fn new(versions: &'a [RegistryVersion]) -> Self {
        let mut by_id: BTreeMap<&str, Vec<&RegistryVersion>> = BTreeMap::new();
        for v in versions {
            by_id.entry(&v.source_id).or_default().push(v);
        }
        Self { by_id }
    }

    /// The registry record a golden record takes its registry facts from: the one its `name`
    /// came from, else of its registry records the most recently updated one held.
    fn record_of(&self, g: &GoldenRecord) -> Option<&[&'a RegistryVersion]> {
        if let Some(r) = g
            .attribute_sources
            .get("name")
            .filter(|r| r.system == REGISTRY)
            && let Some(v) = self.by_id.get(r.id.as_str())
        {
            return Some(v);
        }
        g.source_refs
            .iter()
            .filter(|r| r.system == REGISTRY)
            .filter_map(|r| self.by_id.get(r.id.as_str()))
            .max_by_key(|v| v.iter().map(|x| (x.updated_at, x.version)).max())
            .map(Vec::as_slice)
    }

    /// The facts of a golden record as of T: its registry record's version as of T when the
    /// projection holds one, else the golden record's own (undated) facts.
    pub fn facts(&self, g: &GoldenRecord, t: NaiveDate) -> Facts {
        let version = self.record_of(g).filter(|_| g.in_registry).and_then(|v| {
            as_of(
                v.iter().copied(),
                end_of(t),
                |x| x.updated_at,
                |x| x.version,
            )
        });
        match version {
            Some(v) => Facts {
                kind: Some(v.kind),
                established_on: v.established_on,
                status: v.status,
                member_households: v.member_households,
                farmers_union_supported: v.farmers_union_supported,
                origin: v.origin,
                rating: v.rating,
                enterprise_linkage: v.enterprise_linkage,
                key_officers: v.key_officers,
                location: Location {
                    commune_code: v.commune_code.clone(),
                    district_code: v.district_code.clone(),
                    dated: Some(day_of(v.updated_at)),
                    new_unit_apart: v.commune_code_2025.is_some(),
                },
            },
            None => Facts {
                kind: g.kind,
                established_on: g.established_on,
                status: g.status,
                member_households: g.member_households,
                farmers_union_supported: g.farmers_union_supported,
                origin: g.origin,
                rating: g.rating,
                enterprise_linkage: g.enterprise_linkage,
                key_officers: g.key_officers,
                location: Location {
                    commune_code: g.commune_code.clone(),
                    district_code: g.district_code.clone(),
                    dated: None,
                    new_unit_apart: false,
                },
            },
        }
    }
}

/// Where a record says an organisation is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub commune_code: Option<String>,
    pub district_code: Option<String>,
    /// The record's date (None: undated, its codes are read as pre-reform codes).
    pub dated: Option<NaiveDate>,
    /// The record gives the post-reform unit in a field of its own.
    pub new_unit_apart: bool,
}

/// The registry facts of an organisation as of T.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub kind: Option<OrgKind>,
    pub established_on: Option<NaiveDate>,
    pub status: Option<OrgStatus>,
    pub member_households: Option<u32>,
    pub farmers_union_supported: Option<bool>,
    pub origin: Option<Origin>,
    pub rating: Option<Rating>,
    pub enterprise_linkage: Option<bool>,
    pub key_officers: Option<KeyOfficers>,
    pub location: Location,
}

/// Where an organisation lies among the plan's units (every field None: outside the plan).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Place {
    /// Pre-reform commune.
    pub commune_2024: Option<String>,
    /// Pre-reform district.
    pub district: Option<String>,
    /// Post-reform unit.
    pub commune_2025: Option<String>,
}

impl Place {
    /// In the plan's province at all.
    pub fn in_province(&self) -> bool {
        self.commune_2024.is_some() || self.district.is_some() || self.commune_2025.is_some()
    }
}

/// The plan's units, indexed for [`Places::resolve`].
pub struct Places<'p> {
    plan: &'p Plan,
    district_of: BTreeMap<&'p str, &'p str>,
    new_of_old: BTreeMap<&'p str, &'p str>,
    olds_of_new: BTreeMap<&'p str, Vec<&'p str>>,
    districts: BTreeSet<&'p str>,
    row_2024: BTreeMap<&'p str, usize>,
    row_2025: BTreeMap<&'p str, usize>,
}

impl<'p> Places<'p> {
    pub fn new(plan: &'p Plan) -> Self {
        let u24 = plan.units(UnitList::Units2024);
        let u25 = plan.units(UnitList::Units2025);
        let district_of: BTreeMap<&str, &str> = plan
            .communes_2024
            .iter()
            .map(|c| (c.commune_code.as_str(), c.district_code.as_str()))
            .collect();
        let mut new_of_old = BTreeMap::new();
        let mut olds_of_new: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (old, within) in &u25.containing {
            if let Some(new) = within
                .iter()
                .skip(1)
                .map(|&i| u25.rows[i].code.as_str())
                .next()
            {
                new_of_old.insert(old.as_str(), new);
                olds_of_new.entry(new).or_default().push(old.as_str());
            }
        }
        let index = |t: &'p crate::plan::UnitTable| {
            t.rows
                .iter()
                .enumerate()
                .map(|(i, r)| (r.code.as_str(), i))
                .collect::<BTreeMap<_, _>>()
        };
        Places {
            plan,
            districts: district_of.values().copied().collect(),
            district_of,
            new_of_old,
            olds_of_new,
            row_2024: index(u24),
            row_2025: index(u25),
        }
    }

    /// Where a record's codes put an organisation (see the module's documentation).
    pub fn resolve(&self, l: &Location) -> Place {
        let commune = l.commune_code.as_deref();
        let district = l
            .district_code
            .as_deref()
            .filter(|d| self.districts.contains(d));
        let post_reform = l.dated.is_some_and(|d| d >= self.plan.reform_date) && !l.new_unit_apart;
        if let Some(new) = commune.filter(|c| post_reform && self.olds_of_new.contains_key(c)) {
            let olds = &self.olds_of_new[new];
            let old = (olds.len() == 1).then(|| olds[0]);
            let of_olds: BTreeSet<&str> = olds
                .iter()
                .filter_map(|o| self.district_of.get(o).copied())
                .collect();
            let district = match (old, district) {
                (Some(o), _) => self.district_of.get(o).copied(),
                (None, Some(d)) if of_olds.contains(d) => Some(d),
                _ if of_olds.len() == 1 => of_olds.first().copied(),
                _ => None,
            };
            return Place {
                commune_2024: old.map(str::to_owned),
                district: district.map(str::to_owned),
                commune_2025: Some(new.to_owned()),
            };
        }
        if let Some(old) = commune.filter(|c| self.district_of.contains_key(c)) {
            return Place {
                commune_2024: Some(old.to_owned()),
                district: self.district_of.get(old).map(|d| (*d).to_owned()),
                commune_2025: self.new_of_old.get(old).map(|n| (*n).to_owned()),
            };
        }
        Place {
            commune_2024: None,
            district: district.map(str::to_owned),
            commune_2025: None,
        }
    }

    /// The rows of `list` an organisation at `place` counts in (the province first).
    pub fn rows(&self, list: UnitList, place: &Place) -> Vec<usize> {
        if !place.in_province() {
            return vec![];
        }
        let mut rows = vec![0];
        let mut add = |index: &BTreeMap<&str, usize>, code: &Option<String>| {
            if let Some(&i) = code.as_deref().and_then(|c| index.get(c)) {
                rows.push(i);
            }
        };
        match list {
            UnitList::Units2024 => {
                add(&self.row_2024, &place.district);
                add(&self.row_2024, &place.commune_2024);
            }
            UnitList::Units2025 => add(&self.row_2025, &place.commune_2025),
        }
        rows
    }
}

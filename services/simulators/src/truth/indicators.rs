//! The indicators I1–I10 of the truth: sums per pre-2025 commune (each organisation of the
//! registry counted in its commune, as of T from the baseline), added up per unit of a unit
//! list.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::indicator::{UnitLevel, ValueUnit};
use hub_contracts::v1::source::{Grade, LoanStatus, OrgStatus, Origin};
use hub_normalise::reference::{PROVINCE_CODE, PROVINCE_NAME, Reference};

use super::{TruthStatus, TruthUnit, TruthValue, UnitList, commune_report};
use crate::world::{NtmRevision, Subject, World};

/// Per-commune sums; every indicator is a sum over communes, so units add them up.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Acc {
    i1: u64,
    i2: u64,
    i3n: u64,
    i3d: u64,
    i4: u64,
    i5: u64,
    i6n: u64,
    i6d: u64,
    i7n: u64,
    i7d: u64,
    i9n: u64,
    i9d: u64,
    i10n: u64,
    i10d: u64,
}

impl std::ops::AddAssign for Acc {
    fn add_assign(&mut self, o: Acc) {
        self.i1 += o.i1;
        self.i2 += o.i2;
        self.i3n += o.i3n;
        self.i3d += o.i3d;
        self.i4 += o.i4;
        self.i5 += o.i5;
        self.i6n += o.i6n;
        self.i6d += o.i6d;
        self.i7n += o.i7n;
        self.i7d += o.i7d;
        self.i9n += o.i9n;
        self.i9d += o.i9d;
        self.i10n += o.i10n;
        self.i10d += o.i10d;
    }
}

impl Acc {
    fn values(&self) -> Vec<TruthValue> {
        vec![
            count("I1", self.i1),
            count("I2", self.i2),
            percent("I3", self.i3n, self.i3d),
            count("I4", self.i4),
            TruthValue {
                indicator: "I5".into(),
                unit: ValueUnit::Percent,
                value: None,
                numerator: Some(self.i5 as f64),
                denominator: None,
                status: TruthStatus::NoSource,
            },
            percent("I6", self.i6n, self.i6d),
            percent("I7", self.i7n, self.i7d),
            TruthValue {
                indicator: "I8".into(),
                unit: ValueUnit::Percent,
                value: None,
                numerator: None,
                denominator: None,
                status: TruthStatus::NoSource,
            },
            percent("I9", self.i9n, self.i9d),
            percent("I10", self.i10n, self.i10d),
        ]
    }
}

fn count(id: &str, n: u64) -> TruthValue {
    TruthValue {
        indicator: id.into(),
        unit: ValueUnit::Count,
        value: Some(n as f64),
        numerator: Some(n as f64),
        denominator: None,
        status: TruthStatus::Ok,
    }
}

fn percent(id: &str, n: u64, d: u64) -> TruthValue {
    TruthValue {
        indicator: id.into(),
        unit: ValueUnit::Percent,
        value: (d > 0).then(|| n as f64 * 100.0 / d as f64),
        numerator: Some(n as f64),
        denominator: Some(d as f64),
        status: if d > 0 {
            TruthStatus::Ok
        } else {
            TruthStatus::NoData
        },
    }
}

impl World {
    /// The indicators' sums per pre-2025 commune, as of `t` from baseline `b`.
    pub(super) fn commune_sums(&self, t: NaiveDate, b: NaiveDate) -> BTreeMap<&'static str, Acc> {
        let reference = Reference::get();
        let mut acc: BTreeMap<&str, Acc> = reference
            .communes_2024
            .iter()
            .map(|c| (c.commune_code.as_str(), Acc::default()))
            .collect();
        let mut report_of: BTreeMap<&str, Option<&NtmRevision>> = BTreeMap::new();
        for c in &reference.communes_2024 {
            let rev = commune_report(self, &c.commune_code, t.year());
            report_of.insert(c.commune_code.as_str(), rev);
            if let Some(a) = acc.get_mut(c.commune_code.as_str()) {
                a.i10d += 1;
                if rev.is_some_and(met_13_1) {
                    a.i10n += 1;
                }
            }
        }
        for (idx, o) in self.organisations.iter().enumerate() {
            if o.registry_id.is_none() {
                continue;
            }
            let f = &o.facts;
            if f.established_on > t {
                continue;
            }
            let Some(a) = acc.get_mut(f.commune_code.as_str()) else {
                continue;
            };
            let new = f.established_on >= b && f.established_on <= t;
            let live = f.status != OrgStatus::Dissolved;
            let supported = f.farmers_union_supported;
            let htx_or_tht = matches!(f.kind, OrgKind::Htx | OrgKind::Tht);
            if new && supported && f.kind == OrgKind::Htx {
                a.i1 += 1;
            }
            if new && supported && f.kind == OrgKind::Tht {
                a.i2 += 1;
            }
            if live && new && htx_or_tht {
                a.i4 += u64::from(f.member_households);
            }
            if new && htx_or_tht && f.origin == Some(Origin::ProfessionalBranch) {
                a.i5 += 1;
            }
            if live && supported && f.kind == OrgKind::Htx {
                let report = report_of.get(f.commune_code.as_str()).copied().flatten();
                self.add_supported_htx(a, idx, report, (b, t));
            }
        }
        acc
    }

    /// Adds a live, supported HTX `idx` to its commune's I3, I6, I7 and I9 (its commune's
    /// standing NTM report, when there is one, may say it is linked with an enterprise), for
    /// the period (baseline, as-of).
    fn add_supported_htx(
        &self,
        a: &mut Acc,
        idx: usize,
        report: Option<&NtmRevision>,
        (b, t): (NaiveDate, NaiveDate),
    ) {
        let f = &self.organisations[idx].facts;
        if let Some(r) = f.rating {
            a.i3d += 1;
            if matches!(r.grade, Grade::Good | Grade::Fair) {
                a.i3n += 1;
            }
        }
        a.i6d += 1;
        let ntm_linked = report.is_some_and(|rev| {
            rev.cooperatives
                .iter()
                .any(|e| e.org == idx && e.linked_with_enterprise == Some(true))
        });
        if f.enterprise_linkage == Some(true) || ntm_linked {
            a.i6n += 1;
        }
        a.i7d += 1;
        let credit = self.loans.iter().any(|l| {
            l.bad.is_none()
                && l.subject == Subject::Org(idx)
                && matches!(
                    l.status,
                    LoanStatus::Disbursed | LoanStatus::Repaid | LoanStatus::Overdue
                )
                && l.disbursed_on >= b
                && l.disbursed_on <= t
        });
        if credit {
            a.i7n += 1;
        }
        if let Some(k) = f.key_officers {
            a.i9n += u64::from(k.trained);
            a.i9d += u64::from(k.total);
        }
    }
}

/// The values of every unit of a unit list, from the communes' sums.
pub(super) fn unit_values(acc: &BTreeMap<&str, Acc>, units: UnitList) -> Vec<TruthUnit> {
    let reference = Reference::get();
    let mut province = Acc::default();
    for a in acc.values() {
        province += *a;
    }
    let mut indicators = vec![TruthUnit {
        unit_code: PROVINCE_CODE.into(),
        unit_name: PROVINCE_NAME.into(),
        level: UnitLevel::Province,
        parent_code: None,
        values: province.values(),
    }];
    match units {
        UnitList::Units2024 => {
            for d in reference.districts() {
                let mut sum = Acc::default();
                for c in reference
                    .communes_2024
                    .iter()
                    .filter(|c| c.district_code == d.code)
                {
                    if let Some(a) = acc.get(c.commune_code.as_str()) {
                        sum += *a;
                    }
                }
                indicators.push(TruthUnit {
                    unit_code: d.code.clone(),
                    unit_name: d.name.clone(),
                    level: UnitLevel::District,
                    parent_code: Some(PROVINCE_CODE.into()),
                    values: sum.values(),
                });
            }
            for c in &reference.communes_2024 {
                let a = acc
                    .get(c.commune_code.as_str())
                    .copied()
                    .unwrap_or_default();
                indicators.push(TruthUnit {
                    unit_code: c.commune_code.clone(),
                    unit_name: c.commune_name.clone(),
                    level: UnitLevel::Commune,
                    parent_code: Some(c.district_code.clone()),
                    values: a.values(),
                });
            }
        }
        UnitList::Units2025 => {
            for n in &reference.communes_2025 {
                let mut sum = Acc::default();
                for c in &reference.communes_2024 {
                    if reference.new_unit_of(&c.commune_code) == Some(n.commune_code.as_str())
                        && let Some(a) = acc.get(c.commune_code.as_str())
                    {
                        sum += *a;
                    }
                }
                indicators.push(TruthUnit {
                    unit_code: n.commune_code.clone(),
                    unit_name: n.commune_name.clone(),
                    level: UnitLevel::Commune,
                    parent_code: Some(PROVINCE_CODE.into()),
                    values: sum.values(),
                });
            }
        }
    }
    indicators
}

pub(super) fn met_13_1(rev: &NtmRevision) -> bool {
    rev.criteria.iter().any(|c| c.id == "13.1" && c.met)
}

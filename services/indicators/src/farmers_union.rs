//! I5 and I8 from the Farmers' Union's workbooks (`shared/mission/indicators.md`, "I5 and
//! I8"), per unit of a unit list, as of a date: a pure function of the `source.fu_*.v1`
//! records held ([`FuInputs`], every version seen) and the plan's units.
//!
//! How the definitions are read:
//! - A sender's roster as of T is its workbook with the latest report date <= T (a workbook
//!   lists the whole roster, every row under its report date): the records of that report
//!   date (a later fetch breaks ties); a retracted one counts nowhere.
//! - A plan reads only its own province's senders: its provincial union (the sender coded
//!   as the plan's province, `12` for Lai Châu) and its districts' unions; another province's
//!   workbooks (several plans in one hub) count nowhere in it.
//! - For each district, the sender whose roster stands there is the one of the provincial
//!   union and the district's own union with the later report date (the district's
//!   own on a tie); a branch or an officer of a district counts only from that sender.
//!   Province-level officers (`tinh`) count from the provincial roster only.
//! - A branch counts in its commune (`ma_xa`, 2024 list) and the units containing it (on the
//!   2025 list: the new commune the crosswalk maps it to, and the province). An officer: `tinh`
//!   in the province; `huyen` in its district and the province (on the 2025 list: the
//!   province); `xa` and `chi_hoi` in their commune and the units containing it.
//! - Beside I5 (never in it): each conversion counted in I5's numerator is matched to the
//!   registry when the reconciler linked the branch's record (its `source.fu_branch.v1`
//!   source, which the reconciler observes as the HTX/THT the branch became) to an
//!   organisation of the registry: a live golden record holding a registry record lists it
//!   in its `source_refs`. The rest (not in the registry, in review, not yet reconciled) are
//!   unmatched. The hub decides the match once, in the reconciler, with its log and review
//!   queue; nothing is matched here.
//! - A unit is covered when a workbook <= T covers some of it: the province by any
//!   workbook; a district (and its communes) by the provincial or its own workbook; a 2025
//!   commune when one of its old communes' districts is covered. Elsewhere I5 and I8 stay
//!   `no_source`.
//!
//! Owns these readings; touches no database, broker or clock.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset, NaiveDate};
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::{
    BranchStatus, FuBranch, FuOfficer, FuTraining, OfficerLevel, SourceRef, Workbook,
};

use hub_contracts::v1::indicator::UnitLevel;

use crate::plan::{Plan, UnitList, UnitTable};

/// Every version of every Farmers' Union record the projection holds.
#[derive(Debug, Clone, Default)]
pub struct FuInputs {
    pub branches: Vec<FuBranch>,
    pub officers: Vec<FuOfficer>,
    pub trainings: Vec<FuTraining>,
}

impl FuInputs {
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty() && self.officers.is_empty() && self.trainings.is_empty()
    }
}

/// I5 and I8 sums of one unit a workbook covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FuSums {
    /// Branches converted with `ngay_ket_thuc` in [B, T].
    pub i5_num: u64,
    /// Branches established by T and not ended before B.
    pub i5_den: u64,
    /// Officers on the collective economy trained on it in [B, T].
    pub i8_num: u64,
    /// Officers on the collective economy.
    pub i8_den: u64,
    /// Conversions of I5's numerator matched to an organisation of the registry.
    pub conv_matched: u64,
    /// Conversions of I5's numerator not found in the registry.
    pub conv_unmatched: u64,
}

/// The source records the reconciler linked to an organisation of the registry: every
/// source ref of a live golden record that holds a registry record.
fn linked_to_registry(golden: &[GoldenRecord]) -> BTreeSet<&SourceRef> {
    golden
        .iter()
        .filter(|g| !g.retired && g.in_registry)
        .flat_map(|g| g.source_refs.iter())
        .collect()
}

/// The version of each record standing as of `t`: latest report date <= t, then latest fetch.
fn standing<'a, T>(
    records: &'a [T],
    t: NaiveDate,
    latest: &BTreeMap<&str, NaiveDate>,
    key: impl Fn(&T) -> (&Workbook, &str, DateTime<FixedOffset>),
) -> BTreeMap<&'a str, &'a T> {
    let mut out: BTreeMap<&'a str, (&'a T, (NaiveDate, DateTime<FixedOffset>))> = BTreeMap::new();
    for r in records {
        let (wb, id, fetched) = key(r);
        // only the sender's latest workbook <= T stands (it lists the whole roster)
        if wb.report_date > t || latest.get(wb.sender.as_str()) != Some(&wb.report_date) {
            continue;
        }
        let order = (wb.report_date, fetched);
        match out.get(id) {
            Some((_, o)) if *o >= order => {}
            _ => {
                out.insert(id, (r, order));
            }
        }
    }
    out.into_iter().map(|(k, (r, _))| (k, r)).collect()
}

/// I5 and I8 sums per row of the plan's `list` table (`None`: no workbook covers the unit).
pub fn per_unit(
    plan: &Plan,
    list: UnitList,
    t: NaiveDate,
    fu: &FuInputs,
    golden: &[GoldenRecord],
) -> Vec<Option<FuSums>> {
    let latest = latest_report_dates(plan, fu, t);
    if latest.is_empty() {
        return vec![None; plan.units(list).rows.len()];
    }
    let mut units = Units::new(plan, list, &latest);
    let period = (plan.baseline, t);
    units.add_branches(fu, period, &latest, golden);
    units.add_officers(fu, period, &latest);
    units.out
}

/// Each of the plan's senders' latest report date <= T (its province's union and its
/// districts' unions; other provinces' senders are left out).
fn latest_report_dates<'a>(
    plan: &Plan,
    fu: &'a FuInputs,
    t: NaiveDate,
) -> BTreeMap<&'a str, NaiveDate> {
    let districts: BTreeSet<&str> = plan
        .communes_2024
        .iter()
        .map(|c| c.district_code.as_str())
        .collect();
    let ours = |sender: &str| sender == plan.province_code || districts.contains(sender);
    let mut latest: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    let dates = fu
        .branches
        .iter()
        .map(|r| &r.workbook)
        .chain(fu.officers.iter().map(|r| &r.workbook))
        .chain(fu.trainings.iter().map(|r| &r.workbook));
    for wb in dates {
        if wb.report_date <= t && ours(&wb.sender) {
            let e = latest.entry(wb.sender.as_str()).or_insert(wb.report_date);
            if *e < wb.report_date {
                *e = wb.report_date;
            }
        }
    }
    latest
}

/// The units of a table, which sender stands for each district, and the sums so far.
struct Units<'a> {
    table: &'a UnitTable,
    list: UnitList,
    /// District → the sender standing for it (its own workbook when newer than the
    /// province's).
    chosen: BTreeMap<&'a str, &'a str>,
    /// The provincial union's sender code: the plan's province code.
    province: &'a str,
    province_rows: Vec<usize>,
    out: Vec<Option<FuSums>>,
}

impl<'a> Units<'a> {
    /// The table of `list`, every unit a standing workbook covers at zero.
    fn new(plan: &'a Plan, list: UnitList, latest: &BTreeMap<&'a str, NaiveDate>) -> Self {
        let table = plan.units(list);
        let districts: BTreeSet<&str> = plan
            .communes_2024
            .iter()
            .map(|c| c.district_code.as_str())
            .collect();
        let province_sender = plan.province_code.as_str();
        let province = latest.get(province_sender).copied();
        let mut chosen: BTreeMap<&str, &str> = BTreeMap::new();
        for d in &districts {
            let own = latest.get(d).copied();
            let sender = match (own, province) {
                (Some(o), Some(p)) if o >= p => Some(*d),
                (Some(_), Some(_)) | (None, Some(_)) => Some(province_sender),
                (Some(_), None) => Some(*d),
                (None, None) => None,
            };
            if let Some(s) = sender {
                chosen.insert(d, s);
            }
        }
        let mut out: Vec<Option<FuSums>> = vec![None; table.rows.len()];
        let province_rows: Vec<usize> = table
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.level == UnitLevel::Province)
            .map(|(i, _)| i)
            .collect();
        for &i in &province_rows {
            out[i] = Some(FuSums::default());
        }
        for c in &plan.communes_2024 {
            if chosen.contains_key(c.district_code.as_str()) {
                for &i in table.containing.get(&c.commune_code).into_iter().flatten() {
                    out[i].get_or_insert_with(FuSums::default);
                }
            }
        }
        Units {
            table,
            list,
            chosen,
            province: province_sender,
            province_rows,
            out,
        }
    }

    /// Whether `sender`'s workbook stands for `district`.
    fn counts_for(&self, sender: &str, district: &str) -> bool {
        self.chosen.get(district) == Some(&sender)
    }

    /// The rows a district's figures count in: the province, and the district itself in the
    /// pre-2025 list.
    fn district_rows(&self, district: &str) -> Vec<usize> {
        let mut rows = self.province_rows.clone();
        if self.list == UnitList::Units2024
            && let Some(i) = self.table.rows.iter().position(|r| r.code == district)
        {
            rows.push(i);
        }
        rows
    }

    fn add(&mut self, rows: &[usize], f: &dyn Fn(&mut FuSums)) {
        for &i in rows {
            if let Some(s) = self.out[i].as_mut() {
                f(s);
            }
        }
    }

    /// I5: branches (and beside it, their conversions matched to the registry).
    fn add_branches(
        &mut self,
        fu: &FuInputs,
        (b, t): (NaiveDate, NaiveDate),
        latest: &BTreeMap<&str, NaiveDate>,
        golden: &[GoldenRecord],
    ) {
        let registry = linked_to_registry(golden);
        let branches = standing(&fu.branches, t, latest, |r| {
            (&r.workbook, r.meta.source.id.as_str(), r.meta.fetched_at)
        });
        for br in branches.values() {
            if br.retracted || !self.counts_for(&br.workbook.sender, &br.district_code) {
                continue;
            }
            if br.established_on > t {
                continue;
            }
            let ended_before_b =
                br.status != BranchStatus::Active && br.ended_on.is_some_and(|e| e < b);
            let converted = br.status == BranchStatus::Converted
                && br.ended_on.is_some_and(|e| e >= b && e <= t);
            let Some(rows) = self.table.containing.get(&br.commune_code) else {
                continue;
            };
            let matched = converted && registry.contains(&br.meta.source);
            self.add(rows, &|s| {
                if !ended_before_b {
                    s.i5_den += 1;
                }
                if converted {
                    s.i5_num += 1;
                    if matched {
                        s.conv_matched += 1;
                    } else {
                        s.conv_unmatched += 1;
                    }
                }
            });
        }
    }

    /// I8: officers and their trainings.
    fn add_officers(
        &mut self,
        fu: &FuInputs,
        (b, t): (NaiveDate, NaiveDate),
        latest: &BTreeMap<&str, NaiveDate>,
    ) {
        let trainings = standing(&fu.trainings, t, latest, |r| {
            (&r.workbook, r.meta.source.id.as_str(), r.meta.fetched_at)
        });
        let mut trained: BTreeSet<(&str, &str)> = BTreeSet::new();
        for tr in trainings.values() {
            if !tr.retracted && tr.covers_collective_economy && tr.to >= b && tr.to <= t {
                trained.insert((tr.workbook.sender.as_str(), tr.officer_code.as_str()));
            }
        }
        let officers = standing(&fu.officers, t, latest, |r| {
            (&r.workbook, r.meta.source.id.as_str(), r.meta.fetched_at)
        });
        for o in officers.values() {
            if o.retracted || !o.supports_collective_economy {
                continue;
            }
            let sender = o.workbook.sender.as_str();
            let rows: Vec<usize> = match (o.level, o.district_code.as_deref()) {
                (OfficerLevel::Province, _) if sender == self.province => {
                    self.province_rows.clone()
                }
                (OfficerLevel::District, Some(d)) if self.counts_for(sender, d) => {
                    self.district_rows(d)
                }
                (OfficerLevel::Commune | OfficerLevel::Branch, Some(d))
                    if self.counts_for(sender, d) =>
                {
                    self.table
                        .containing
                        .get(&o.unit_code)
                        .cloned()
                        .unwrap_or_default()
                }
                _ => continue,
            };
            let was_trained = trained.contains(&(sender, o.code.as_str()));
            self.add(&rows, &|s| {
                s.i8_den += 1;
                if was_trained {
                    s.i8_num += 1;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use hub_contracts::v1::{
        BranchKind, BranchStatus, Conversion, FuBranch, FuOfficer, FuTraining, OfficerLevel,
        OrgKind, SourceMeta, SourceRef, Workbook,
    };

    use super::*;
    use crate::compute::{Inputs, compute_with_union};
    use crate::plan::{Plan, UnitList};
    use hub_contracts::v1::identity::GoldenRecord;
    use hub_contracts::v1::indicator::{UnitIndicators, ValueStatus};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn meta(id: &str) -> SourceMeta {
        SourceMeta {
            source: SourceRef::new("farmers-union", id),
            fetched_at: chrono::DateTime::parse_from_rfc3339("2025-01-02T08:00:00+07:00")
                .expect("time"),
            content_hash: "h".into(),
            raw: serde_json::Value::Null,
            issues: Vec::new(),
        }
    }

    fn wb(sender: &str, date: NaiveDate) -> Workbook {
        Workbook {
            sender: sender.into(),
            report_date: date,
            content_hash: format!("{sender}-{date}"),
        }
    }

    fn branch(
        w: &Workbook,
        code: &str,
        commune: &str,
        district: &str,
        status: BranchStatus,
        ended: Option<NaiveDate>,
    ) -> FuBranch {
        FuBranch {
            meta: meta(&format!("{}:{code}", w.sender)),
            workbook: w.clone(),
            retracted: false,
            code: code.into(),
            name: "Chi hội".into(),
            kind: BranchKind::ChiHoi,
            commune_code: commune.into(),
            commune_code_2025: None,
            district_code: district.into(),
            established_on: d(2020, 1, 1),
            members: None,
            status,
            ended_on: ended,
            converted_to: (status == BranchStatus::Converted).then(|| Conversion {
                kind: OrgKind::Htx,
                name: "HTX".into(),
                registration_code: None,
            }),
        }
    }

    fn officer(
        w: &Workbook,
        code: &str,
        level: OfficerLevel,
        unit: &str,
        district: Option<&str>,
    ) -> FuOfficer {
        FuOfficer {
            meta: meta(&format!("{}:{code}", w.sender)),
            workbook: w.clone(),
            retracted: false,
            code: code.into(),
            full_name: "X".into(),
            level,
            unit_code: unit.into(),
            district_code: district.map(str::to_owned),
            position: None,
            supports_collective_economy: true,
            phone: None,
        }
    }

    fn training(w: &Workbook, officer: &str, to: NaiveDate) -> FuTraining {
        FuTraining {
            meta: meta(&format!("{}:{officer}:{to}", w.sender)),
            workbook: w.clone(),
            retracted: false,
            officer_code: officer.into(),
            course: "KTTT".into(),
            from: to,
            to,
            organiser: None,
            covers_collective_economy: true,
        }
    }

    fn value(
        units: &[UnitIndicators],
        unit: &str,
        ind: &str,
    ) -> (Option<f64>, Option<f64>, Option<f64>, ValueStatus) {
        let v = units
            .iter()
            .find(|u| u.unit_code == unit)
            .and_then(|u| u.values.iter().find(|v| v.indicator == ind))
            .expect("value");
        (v.value, v.numerator, v.denominator, v.status)
    }

    #[test]
    fn i5_and_i8_per_unit_from_the_standing_rosters_no_source_elsewhere() {
        let plan = Plan::builtin().expect("plan");
        let p1 = wb("12", d(2024, 6, 30));
        let d106 = wb("106", d(2024, 9, 30));
        let p2 = wb("12", d(2024, 12, 31));
        let mut fu = FuInputs::default();
        // the provincial Q2 workbook: two branches in 106 (one converted), one in 105
        fu.branches.push(branch(
            &p1,
            "B1",
            "03390",
            "106",
            BranchStatus::Converted,
            Some(d(2024, 5, 1)),
        ));
        fu.branches.push(branch(
            &p1,
            "B2",
            "03394",
            "106",
            BranchStatus::Active,
            None,
        ));
        fu.branches.push(branch(
            &p1,
            "B3",
            "03386",
            "105",
            BranchStatus::Active,
            None,
        ));
        // ended before the baseline: in neither count
        fu.branches.push(branch(
            &p1,
            "B4",
            "03386",
            "105",
            BranchStatus::Dissolved,
            Some(d(2023, 1, 1)),
        ));
        // district 106's own Q3 workbook (newer: it stands for 106): B1 converted, B5 new
        fu.branches.push(branch(
            &d106,
            "B1",
            "03390",
            "106",
            BranchStatus::Converted,
            Some(d(2024, 5, 1)),
        ));
        fu.branches.push(branch(
            &d106,
            "B5",
            "03394",
            "106",
            BranchStatus::Converted,
            Some(d(2024, 8, 1)),
        ));
        // the provincial Q4 workbook: 105's B3 converted, B1 and B2 still listed for 106
        let mut b3 = branch(
            &p2,
            "B3",
            "03386",
            "105",
            BranchStatus::Converted,
            Some(d(2024, 11, 1)),
        );
        b3.established_on = d(2019, 1, 1);
        fu.branches.push(b3);
        fu.branches.push(branch(
            &p2,
            "B1",
            "03390",
            "106",
            BranchStatus::Active,
            None,
        ));
        // B4 retracted by the Q4 workbook
        let mut b4 = branch(
            &p2,
            "B4",
            "03386",
            "105",
            BranchStatus::Dissolved,
            Some(d(2023, 1, 1)),
        );
        b4.retracted = true;
        fu.branches.push(b4);
        // officers: one provincial, one of 105 (trained), one of 106 by the district
        fu.officers
            .push(officer(&p2, "T1", OfficerLevel::Province, "12", None));
        fu.officers.push(officer(
            &p2,
            "C105",
            OfficerLevel::Commune,
            "03386",
            Some("105"),
        ));
        fu.trainings.push(training(&p2, "C105", d(2024, 10, 1)));
        fu.officers.push(officer(
            &d106,
            "H106",
            OfficerLevel::District,
            "106",
            Some("106"),
        ));
        fu.trainings.push(training(&d106, "H106", d(2024, 3, 1)));
        // trained before the baseline: does not count
        fu.trainings
            .push(training(&d106, "H106-old", d(2023, 3, 1)));
        let inputs = Inputs {
            golden: &[],
            loans: &[],
            ntm: &[],
        };

        // as of 2025-03-31: 12's Q4 (2024-12-31) is newer than 106's Q3: 12 stands everywhere
        let units = compute_with_union(&plan, UnitList::Units2024, d(2025, 3, 31), inputs, &fu);
        // 105: B3 converted in [B, T] (1 of 1); 106: B1 active (0 of 1)
        assert_eq!(value(&units, "105", "I5").1, Some(1.0));
        assert_eq!(value(&units, "105", "I5").2, Some(1.0));
        assert_eq!(
            value(&units, "106", "I5"),
            (Some(0.0), Some(0.0), Some(1.0), ValueStatus::Met)
        );
        assert_eq!(value(&units, "12", "I5").1, Some(1.0));
        assert_eq!(value(&units, "12", "I5").2, Some(2.0));
        // I8: T1 (province only, untrained), C105 trained; H106 is 106's roster, not standing
        assert_eq!(value(&units, "12", "I8").1, Some(1.0));
        assert_eq!(value(&units, "12", "I8").2, Some(2.0));
        assert_eq!(value(&units, "03386", "I8").0, Some(100.0));
        assert_eq!(value(&units, "106", "I8").2, Some(0.0));
        assert_eq!(value(&units, "106", "I8").3, ValueStatus::NoData);

        // as of 2024-10-15: 106's Q3 stands for 106 (B1, B5 converted: 2 of 2), 12's Q2 for 105
        let units = compute_with_union(&plan, UnitList::Units2024, d(2024, 10, 15), inputs, &fu);
        // beside I5: no registry at all, both conversions unmatched
        let i5 = |units: &[UnitIndicators]| {
            units
                .iter()
                .find(|u| u.unit_code == "106")
                .and_then(|u| u.values.iter().find(|v| v.indicator == "I5"))
                .and_then(|v| v.conversions)
                .map(|c| (c.matched, c.unmatched))
        };
        assert_eq!(i5(&units), Some((0, 2)));
        // B5's record is linked to an organisation of the registry: matched; the same HTX
        // name, kind and commune without the link is not (the reconciler decides, not this)
        let golden = |refs: serde_json::Value, in_registry: bool| -> GoldenRecord {
            serde_json::from_value(serde_json::json!({
                "organisation_id": "018f0000-0000-7000-8000-000000000001",
                "version": 1, "retired": false, "kind": "HTX", "name": "Hợp tác xã",
                "commune_code": "03394", "in_registry": in_registry, "source_refs": refs,
                "updated_at": "2025-01-01T00:00:00Z"
            }))
            .expect("a golden record")
        };
        let b5 = serde_json::json!([
            {"system": "coop-alliance", "id": "R1"},
            {"system": "farmers-union", "id": "106:B5"}
        ]);
        for (refs, in_registry) in [(serde_json::json!([]), true), (b5.clone(), false)] {
            let g = golden(refs, in_registry);
            let inputs = Inputs {
                golden: std::slice::from_ref(&g),
                loans: &[],
                ntm: &[],
            };
            let units =
                compute_with_union(&plan, UnitList::Units2024, d(2024, 10, 15), inputs, &fu);
            assert_eq!(i5(&units), Some((0, 2)));
        }
        let golden = golden(b5, true);
        let with_registry = Inputs {
            golden: std::slice::from_ref(&golden),
            loans: &[],
            ntm: &[],
        };
        let units = compute_with_union(
            &plan,
            UnitList::Units2024,
            d(2024, 10, 15),
            with_registry,
            &fu,
        );
        assert_eq!(i5(&units), Some((1, 1)));
        let units = compute_with_union(&plan, UnitList::Units2024, d(2024, 10, 15), inputs, &fu);
        assert_eq!(value(&units, "106", "I5").1, Some(2.0));
        assert_eq!(value(&units, "106", "I5").2, Some(2.0));
        assert_eq!(value(&units, "105", "I5").1, Some(0.0));
        assert_eq!(value(&units, "105", "I5").2, Some(1.0), "B4 ended before B");
        assert_eq!(
            value(&units, "106", "I8").1,
            Some(1.0),
            "H106 trained in [B, T]"
        );

        // before any workbook: no_source everywhere
        let units = compute_with_union(&plan, UnitList::Units2024, d(2024, 3, 1), inputs, &fu);
        assert_eq!(value(&units, "12", "I5").3, ValueStatus::NoSource);
        assert_eq!(value(&units, "12", "I8").3, ValueStatus::NoSource);

        // only district 106's workbook: 106 covered, 105 not
        let only_106 = FuInputs {
            branches: fu
                .branches
                .iter()
                .filter(|b| b.workbook.sender == "106")
                .cloned()
                .collect(),
            officers: Vec::new(),
            trainings: Vec::new(),
        };
        let units =
            compute_with_union(&plan, UnitList::Units2024, d(2025, 1, 1), inputs, &only_106);
        assert_eq!(value(&units, "106", "I5").1, Some(2.0));
        assert_eq!(value(&units, "03390", "I5").1, Some(1.0));
        assert_eq!(value(&units, "105", "I5").3, ValueStatus::NoSource);
        assert_eq!(value(&units, "03386", "I8").3, ValueStatus::NoSource);

        // the 2025 list: a branch counts in the new commune the crosswalk maps it to
        let units =
            compute_with_union(&plan, UnitList::Units2025, d(2025, 1, 1), inputs, &only_106);
        let new_unit = hub_normalise::reference::Reference::get()
            .new_unit_of("03390")
            .expect("mapped");
        assert_eq!(value(&units, new_unit, "I5").1, Some(1.0));
    }
    /// Several plans in one hub: each reads its own province's unions only. Điện Biên's
    /// provincial (`11`) and Tủa Chùa's (`098`) workbooks make its CAN-BO (officers trained,
    /// as I8); Lai Châu's workbook (`12`) counts in Lai Châu's I8 and nowhere in Điện Biên's,
    /// which stays `no_source` while only Lai Châu's unions have sent.
    #[test]
    fn each_plan_reads_its_own_provinces_unions_only() {
        let lai_chau = Plan::builtin().expect("plan");
        let dien_bien = Plan::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans/dien-bien"),
        )
        .expect("Điện Biên's plan");
        let lc = wb("12", d(2024, 12, 31));
        let db = wb("11", d(2024, 12, 31));
        let tua_chua = wb("098", d(2025, 3, 31));
        let mut fu = FuInputs::default();
        fu.officers
            .push(officer(&lc, "T1", OfficerLevel::Province, "12", None));
        fu.trainings.push(training(&lc, "T1", d(2024, 6, 1)));
        let only_lai_chau = fu.clone();
        fu.officers
            .push(officer(&db, "T1", OfficerLevel::Province, "11", None));
        fu.officers
            .push(officer(&db, "T2", OfficerLevel::Province, "11", None));
        fu.trainings.push(training(&db, "T2", d(2024, 7, 1)));
        // Mường Báng (Tủa Chùa): an officer of the district's own roster, trained
        fu.officers.push(officer(
            &tua_chua,
            "X1",
            OfficerLevel::Commune,
            "03250",
            Some("098"),
        ));
        fu.trainings.push(training(&tua_chua, "X1", d(2025, 1, 10)));
        let inputs = Inputs {
            golden: &[],
            loans: &[],
            ntm: &[],
        };
        let at = d(2025, 6, 30);

        let units = compute_with_union(&dien_bien, UnitList::Units2024, at, inputs, &fu);
        // province: T1, T2 (T2 trained) and X1 (trained): 2 of 3
        let (_, num, den, _) = value(&units, "11", "CAN-BO");
        assert_eq!((num, den), (Some(2.0), Some(3.0)));
        assert_eq!(value(&units, "098", "CAN-BO").1, Some(1.0));
        assert_eq!(value(&units, "03250", "CAN-BO").2, Some(1.0));
        // Lai Châu's officer T1 (trained) is not Điện Biên's
        let units = compute_with_union(&lai_chau, UnitList::Units2024, at, inputs, &fu);
        let (_, num, den, _) = value(&units, "12", "I8");
        assert_eq!((num, den), (Some(1.0), Some(1.0)));
        // before Điện Biên's unions sent anything: no source there, whatever Lai Châu sent
        let units = compute_with_union(&dien_bien, UnitList::Units2024, at, inputs, &only_lai_chau);
        assert_eq!(value(&units, "11", "CAN-BO").3, ValueStatus::NoSource);
        assert_eq!(value(&units, "098", "CAN-BO").3, ValueStatus::NoSource);
    }
}

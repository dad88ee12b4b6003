//! The definitions on a projection small enough to check by hand. Every expected number is
//! derived in the comments from `shared/mission/indicators.md`.
//!
//! T = 2025-06-30, B = 2024-02-20. Communes: Bản Hon (03421) and Tả Lèng (03400) in Tam Đường
//! (106, 13 communes); Nậm Xe (03586) in Phong Thổ (109, 17 communes).
//!
//! | org | kind | commune | established | supported | status | members | origin | rating | linkage | officers total/trained |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | A | HTX | Bản Hon | 2024-05-17 | yes | active | 12 | professional_branch | fair | true | 5/3 |
//! | B | HTX | Bản Hon | 2020-01-01 | yes | active | 30 | – | weak | false | 4/4 |
//! | C | HTX | Tả Lèng | 2024-09-01 | yes | dissolved | 8 | – | good | – | 3/1 |
//! | D | THT | Tả Lèng | 2024-03-01 | yes | active | 6 | professional_branch | – | – | – |
//! | E | HTX | Nậm Xe | 2025-01-10 | no | active | 20 | new | – | true | 6/6 |
//! | F | HTX | Nậm Xe | 2024-12-01 | yes | active | 10 | – | – | false | – |
//! | G | THT | Bản Hon | 2024-06-01 | yes, but not in the registry | active | 9 | | | | |
//! | H | HTX | Bản Hon | 2025-08-01 (after T) | yes | active | 15 | professional_branch | – | true | 2/2 |
//! | R | HTX | Bản Hon | 2024-04-01 | yes, retired (merged into A) | active | 50 | professional_branch | good | true | 9/9 |
//!
//! Loans: A 2024-07-02 disbursed; B 2023-05-01 repaid (before B); B 2025-01-15 cancelled;
//! F 2025-03-01 overdue; C 2024-10-01 disbursed (C dissolved); G disbursed (not in registry);
//! H 2025-08-02 (after T); R 2024-05-01 (retired record); one household loan nobody lists.
//!
//! NTM:
//! - Bản Hon 2024 r1 approved: A effective, B linked → 13.1 met. 2025 r1 draft → falls back
//!   to 2024: met, B linked through the report.
//! - Tả Lèng 2024 r1 submitted: C effective → met. 2025 r1 approved, empty → not met; r2
//!   draft lists C effective → a draft after a counted revision does not replace it.
//! - Nậm Xe 2024 r1 approved: E, F linked → met. 2025 r1 submitted: F not linked → not met.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use hub_contracts::v1::common::{OrgKind, SourceMeta, SourceRef};
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::indicator::{UnitIndicators, ValueStatus};
use hub_contracts::v1::source::{
    Borrower, BorrowerType, Criterion, Grade, KeyOfficers, LoanDisbursement, LoanStatus,
    NtmCommuneReport, NtmCooperativeEntry, OrgStatus, Origin, Rating, ReportStatus,
};
use uuid::Uuid;

use super::*;
use crate::plan::Plan;

const BAN_HON: &str = "03421";
const TA_LENG: &str = "03400";
const NAM_XE: &str = "03586";

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn ts(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("timestamp")
}

fn meta(system: &str, id: &str) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at: ts("2025-06-30T10:00:00+07:00"),
        content_hash: String::new(),
        raw: serde_json::Value::Null,
        issues: vec![],
    }
}

struct Org {
    name: &'static str,
    kind: OrgKind,
    commune: &'static str,
    established: &'static str,
    supported: bool,
    status: OrgStatus,
    members: u32,
    origin: Option<Origin>,
    rating: Option<Grade>,
    linkage: Option<bool>,
    officers: Option<(u32, u32)>,
    in_registry: bool,
    retired: bool,
    refs: Vec<SourceRef>,
}

fn org(name: &'static str, kind: OrgKind, commune: &'static str, established: &'static str) -> Org {
    Org {
        name,
        kind,
        commune,
        established,
        supported: true,
        status: OrgStatus::Active,
        members: 0,
        origin: None,
        rating: None,
        linkage: None,
        officers: None,
        in_registry: true,
        retired: false,
        refs: vec![],
    }
}

fn id(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
}

fn golden(o: Org) -> GoldenRecord {
    GoldenRecord {
        organisation_id: id(o.name),
        version: 1,
        retired: o.retired,
        merged_into: o.retired.then(|| id("A")),
        kind: Some(o.kind),
        name: format!("HTX {}", o.name),
        registration_code: None,
        commune_code: Some(o.commune.to_owned()),
        district_code: None,
        address: None,
        representative: None,
        established_on: Some(d(o.established)),
        status: Some(o.status),
        member_households: Some(o.members),
        farmers_union_supported: Some(o.supported),
        origin: o.origin,
        rating: o.rating.map(|grade| Rating { year: 2024, grade }),
        enterprise_linkage: o.linkage,
        key_officers: o
            .officers
            .map(|(total, trained)| KeyOfficers { total, trained }),
        in_registry: o.in_registry,
        source_refs: o.refs,
        attribute_sources: Default::default(),
        updated_at: ts("2025-06-01T08:00:00+07:00").with_timezone(&Utc),
    }
}

fn loan(no: &str, on: &str, status: LoanStatus) -> LoanDisbursement {
    LoanDisbursement {
        meta: meta("loan-fund", no),
        loan_no: no.to_owned(),
        borrower: Borrower {
            name: "HTX".into(),
            tax_code: None,
            address: None,
            legal_rep: None,
            phone: None,
        },
        borrower_type: BorrowerType::Cooperative,
        amount_vnd: 100_000_000,
        disbursed_on: Some(d(on)),
        term_months: Some(36),
        purpose: None,
        status,
        modified: ts("2025-06-01T08:00:00+07:00"),
    }
}

/// (entry index as referenced, effective, linked)
fn report(
    commune: &str,
    year: i32,
    revision: u32,
    status: ReportStatus,
    entries: &[(bool, Option<bool>)],
) -> NtmCommuneReport {
    let cooperatives: Vec<NtmCooperativeEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, &(effective, linked))| NtmCooperativeEntry {
            source_id: format!("{commune}:{year}:{i}"),
            index: i as u32,
            name: format!("HTX {i}"),
            kind: None,
            representative: None,
            members: None,
            effective,
            linked_with_enterprise: linked,
        })
        .collect();
    // 13.1 as the commune fills it: some listed cooperative operates effectively
    let met = entries.iter().any(|e| e.0);
    NtmCommuneReport {
        meta: meta("ntm", &format!("{commune}:{year}")),
        commune_code: commune.to_owned(),
        commune_name: None,
        district_name: None,
        year,
        revision,
        status,
        criteria: vec![Criterion {
            id: "13.1".into(),
            met,
            note: None,
        }],
        cooperatives,
        submitted_at: None,
    }
}

fn loan_ref(no: &str) -> SourceRef {
    SourceRef::new("loan-fund", no)
}

fn ntm_ref(s: &str) -> SourceRef {
    SourceRef::new("ntm", s)
}

struct World {
    golden: Vec<GoldenRecord>,
    loans: Vec<LoanDisbursement>,
    ntm: Vec<NtmCommuneReport>,
}

fn world() -> World {
    use OrgKind::{Htx, Tht};
    let golden = vec![
        golden(Org {
            members: 12,
            origin: Some(Origin::ProfessionalBranch),
            rating: Some(Grade::Fair),
            linkage: Some(true),
            officers: Some((5, 3)),
            refs: vec![
                SourceRef::new("coop-alliance", "LM-1"),
                loan_ref("L1"),
                ntm_ref("03421:2024:0"),
                ntm_ref("03421:2025:0"),
            ],
            ..org("A", Htx, BAN_HON, "2024-05-17")
        }),
        golden(Org {
            members: 30,
            rating: Some(Grade::Weak),
            linkage: Some(false),
            officers: Some((4, 4)),
            refs: vec![loan_ref("L2"), loan_ref("L3"), ntm_ref("03421:2024:1")],
            ..org("B", Htx, BAN_HON, "2020-01-01")
        }),
        golden(Org {
            status: OrgStatus::Dissolved,
            members: 8,
            rating: Some(Grade::Good),
            officers: Some((3, 1)),
            refs: vec![
                loan_ref("L5"),
                ntm_ref("03400:2024:0"),
                ntm_ref("03400:2025:0"),
            ],
            ..org("C", Htx, TA_LENG, "2024-09-01")
        }),
        golden(Org {
            members: 6,
            origin: Some(Origin::ProfessionalBranch),
            refs: vec![ntm_ref("03400:2024:1")],
            ..org("D", Tht, TA_LENG, "2024-03-01")
        }),
        golden(Org {
            supported: false,
            members: 20,
            origin: Some(Origin::New),
            linkage: Some(true),
            officers: Some((6, 6)),
            refs: vec![ntm_ref("03586:2024:0"), ntm_ref("03586:2025:0")],
            ..org("E", Htx, NAM_XE, "2025-01-10")
        }),
        golden(Org {
            members: 10,
            linkage: Some(false),
            refs: vec![
                loan_ref("L4"),
                ntm_ref("03586:2024:1"),
                ntm_ref("03586:2025:1"),
            ],
            ..org("F", Htx, NAM_XE, "2024-12-01")
        }),
        golden(Org {
            members: 9,
            in_registry: false,
            refs: vec![loan_ref("L6"), ntm_ref("03421:2024:2")],
            ..org("G", Tht, BAN_HON, "2024-06-01")
        }),
        golden(Org {
            members: 15,
            origin: Some(Origin::ProfessionalBranch),
            linkage: Some(true),
            officers: Some((2, 2)),
            refs: vec![loan_ref("L7")],
            ..org("H", Htx, BAN_HON, "2025-08-01")
        }),
        golden(Org {
            members: 50,
            origin: Some(Origin::ProfessionalBranch),
            rating: Some(Grade::Good),
            linkage: Some(true),
            officers: Some((9, 9)),
            retired: true,
            refs: vec![loan_ref("L9")],
            ..org("R", Htx, BAN_HON, "2024-04-01")
        }),
    ];
    let mut household = loan("L8", "2024-08-01", LoanStatus::Disbursed);
    household.borrower_type = BorrowerType::Household;
    let loans = vec![
        loan("L1", "2024-07-02", LoanStatus::Disbursed),
        loan("L2", "2023-05-01", LoanStatus::Repaid),
        loan("L3", "2025-01-15", LoanStatus::Cancelled),
        loan("L4", "2025-03-01", LoanStatus::Overdue),
        loan("L5", "2024-10-01", LoanStatus::Disbursed),
        loan("L6", "2024-10-01", LoanStatus::Disbursed),
        loan("L7", "2025-08-02", LoanStatus::Disbursed),
        household,
        loan("L9", "2024-05-01", LoanStatus::Disbursed),
    ];
    use ReportStatus::{Approved, Draft, Submitted};
    let ntm = vec![
        report(
            BAN_HON,
            2024,
            1,
            Approved,
            &[(true, None), (false, Some(true)), (true, None)],
        ),
        report(BAN_HON, 2025, 1, Draft, &[(false, None)]),
        report(TA_LENG, 2024, 1, Submitted, &[(true, None), (false, None)]),
        report(TA_LENG, 2025, 1, Approved, &[]),
        report(TA_LENG, 2025, 2, Draft, &[(true, None)]),
        report(
            NAM_XE,
            2024,
            1,
            Approved,
            &[(true, Some(true)), (false, Some(true))],
        ),
        report(
            NAM_XE,
            2025,
            1,
            Submitted,
            &[(false, None), (false, Some(false))],
        ),
    ];
    World { golden, loans, ntm }
}

fn plan() -> Plan {
    Plan::builtin().expect("built-in plan")
}

fn run(w: &World, as_of: &str, list: UnitList) -> Vec<UnitIndicators> {
    compute(
        &plan(),
        list,
        d(as_of),
        Inputs {
            golden: &w.golden,
            loans: &w.loans,
            ntm: &w.ntm,
        },
    )
}

fn get<'a>(units: &'a [UnitIndicators], unit: &str, ind: &str) -> &'a IndicatorValue {
    units
        .iter()
        .find(|u| u.unit_code == unit)
        .and_then(|u| u.values.iter().find(|v| v.indicator == ind))
        .unwrap_or_else(|| panic!("{unit} {ind}"))
}

/// (numerator, denominator, status)
fn nds(units: &[UnitIndicators], unit: &str, ind: &str) -> (Option<f64>, Option<f64>, ValueStatus) {
    let v = get(units, unit, ind);
    (v.numerator, v.denominator, v.status)
}

use ValueStatus::{Behind, Met, NoData, NoSource};

#[test]
fn counts_of_new_supported_organisations_include_the_dissolved_but_not_the_unborn() {
    let u = run(&world(), "2025-06-30", UnitList::Units2024);
    // I1: A, C (dissolved still counts), F. Not B (old), E (unsupported), H (after T), R
    // (retired). Exactly 3 is not "more than 3".
    assert_eq!(nds(&u, "12", "I1"), (Some(3.0), None, Behind));
    assert_eq!(get(&u, "12", "I1").value, Some(3.0));
    assert_eq!(get(&u, BAN_HON, "I1").value, Some(1.0));
    assert_eq!(get(&u, TA_LENG, "I1").value, Some(1.0));
    assert_eq!(get(&u, "106", "I1").value, Some(2.0));
    assert_eq!(get(&u, "109", "I1").value, Some(1.0));
    // I2: D only; G is not in the registry, so the registry says nothing of it.
    assert_eq!(nds(&u, "12", "I2"), (Some(1.0), None, Behind));
    // I4: live new HTX/THT whether supported or not: A 12 + D 6 + E 20 + F 10 (C dissolved).
    assert_eq!(nds(&u, "12", "I4"), (Some(48.0), None, Behind));
    assert_eq!(get(&u, NAM_XE, "I4").value, Some(30.0));
    // I5: new HTX/THT from a professional branch: A, D (H after T); no source for the roster.
    assert_eq!(nds(&u, "12", "I5"), (Some(2.0), None, NoSource));
    assert_eq!(get(&u, "12", "I5").value, None);
    let i5 = get(&u, "12", "I5");
    assert_eq!(i5.target_2025.map(|c| c.status), Some(NoSource));
    // I8: nothing at all.
    assert_eq!(nds(&u, "12", "I8"), (None, None, NoSource));
}

#[test]
fn percents_over_live_supported_htx() {
    let u = run(&world(), "2025-06-30", UnitList::Units2024);
    // I3: A fair, B weak; C dissolved; F unrated → 1/2, behind 100 %; 2030 count 1 > 15 no.
    assert_eq!(nds(&u, "12", "I3"), (Some(1.0), Some(2.0), Behind));
    assert_eq!(get(&u, "12", "I3").value, Some(50.0));
    let i3 = get(&u, "12", "I3");
    assert_eq!(i3.target_2030.map(|c| c.status), Some(Behind));
    // Tả Lèng: its only HTX is dissolved → zero denominator → no value, not 0 % or 100 %;
    // the count target still compares the numerator.
    assert_eq!(nds(&u, TA_LENG, "I3"), (Some(0.0), Some(0.0), NoData));
    assert_eq!(get(&u, TA_LENG, "I3").value, None);
    // a commune is context: no targets of its own (the province's below)
    assert_eq!(get(&u, TA_LENG, "I3").target_2025, None);
    assert_eq!(get(&u, TA_LENG, "I3").target_2030, None);
    // I6: A (registry), B (Bản Hon's 2024 report stands: 2025 is a draft); F not (Nậm Xe's
    // 2025 report says not linked) → 2/3 = 66.7 % > 30 and > 50.
    assert_eq!(nds(&u, "12", "I6"), (Some(2.0), Some(3.0), Met));
    assert_eq!(get(&u, "12", "I6").target_2030.map(|c| c.status), Some(Met));
    assert_eq!(nds(&u, BAN_HON, "I6"), (Some(2.0), Some(2.0), Met));
    assert_eq!(nds(&u, NAM_XE, "I6"), (Some(0.0), Some(1.0), Met)); // context
    assert_eq!(get(&u, NAM_XE, "I6").value, Some(0.0));
    // I7: A (2024-07-02), F (overdue counts); B's loans are before B or cancelled; C is
    // dissolved; H's is after T; R is retired → 2/3 > 50 % but not > 70 %.
    assert_eq!(nds(&u, "12", "I7"), (Some(2.0), Some(3.0), Met));
    assert_eq!(
        get(&u, "12", "I7").target_2030.map(|c| c.status),
        Some(Behind)
    );
    let v = get(&u, "12", "I7").value.expect("value");
    assert!((v - 200.0 / 3.0).abs() < 1e-9, "{v}");
    assert_eq!(nds(&u, BAN_HON, "I7"), (Some(1.0), Some(2.0), Met)); // context
    // I9: A 3/5 + B 4/4 = 7/9 = 77.8 % >= 70, not >= 90; F reports no officers.
    assert_eq!(nds(&u, "12", "I9"), (Some(7.0), Some(9.0), Met));
    assert_eq!(
        get(&u, "12", "I9").target_2030.map(|c| c.status),
        Some(Behind)
    );
    assert_eq!(nds(&u, NAM_XE, "I9").2, NoData);
    // a commune with no organisation at all
    assert_eq!(nds(&u, "03430", "I7"), (Some(0.0), Some(0.0), NoData));
    assert_eq!(nds(&u, "03430", "I1"), (Some(0.0), None, Met)); // context
}

#[test]
fn ntm_reports_fall_back_from_drafts_and_drafts_never_replace_counted_revisions() {
    let u = run(&world(), "2025-06-30", UnitList::Units2024);
    // Bản Hon met (2024 stands for the 2025 draft), Tả Lèng not (2025 r1 approved, not met;
    // the r2 draft would say met), Nậm Xe not (2025 submitted, not met) → 1/106.
    assert_eq!(nds(&u, "12", "I10"), (Some(1.0), Some(106.0), Met));
    assert_eq!(nds(&u, "106", "I10"), (Some(1.0), Some(13.0), Met));
    assert_eq!(nds(&u, "109", "I10"), (Some(0.0), Some(17.0), Met));
    assert_eq!(get(&u, BAN_HON, "I10").value, Some(100.0));
    assert_eq!(get(&u, TA_LENG, "I10").value, Some(0.0));
    // context: no targets, flagged
    let i10 = get(&u, "12", "I10");
    assert!(i10.context && i10.target_2025.is_none() && i10.target_2030.is_none());
    assert!(!get(&u, "12", "I7").context);

    // a draft seen after the counted revisions changes nothing; a submitted one does
    let mut w = world();
    let before = run(&w, "2025-06-30", UnitList::Units2024);
    w.ntm.push(report(
        NAM_XE,
        2025,
        2,
        ReportStatus::Draft,
        &[(true, Some(true)), (true, Some(true))],
    ));
    w.ntm
        .push(report(BAN_HON, 2024, 2, ReportStatus::Draft, &[]));
    assert_eq!(run(&w, "2025-06-30", UnitList::Units2024), before);
    w.ntm.push(report(
        NAM_XE,
        2025,
        3,
        ReportStatus::Submitted,
        &[(false, None), (true, Some(true))],
    ));
    let later = run(&w, "2025-06-30", UnitList::Units2024);
    assert_eq!(nds(&later, NAM_XE, "I10"), (Some(1.0), Some(1.0), Met));
    // F is entry 1 of Nậm Xe 2025 and now listed as linked
    assert_eq!(nds(&later, NAM_XE, "I6"), (Some(1.0), Some(1.0), Met));
}

#[test]
fn as_of_the_end_of_2024() {
    let u = run(&world(), "2024-12-31", UnitList::Units2024);
    // E (2025-01-10) and H do not exist yet: I4 = A 12 + D 6 + F 10.
    assert_eq!(nds(&u, "12", "I4"), (Some(28.0), None, Behind));
    // I7: A; F's loan is in 2025 → 1/3.
    assert_eq!(nds(&u, "12", "I7"), (Some(1.0), Some(3.0), Behind));
    // I6: the 2024 reports stand: B via Bản Hon, F via Nậm Xe → 3/3.
    assert_eq!(nds(&u, "12", "I6"), (Some(3.0), Some(3.0), Met));
    // I10: every 2024 report met 13.1.
    assert_eq!(nds(&u, "12", "I10"), (Some(3.0), Some(106.0), Met));
    // before the baseline nothing is new
    let u = run(&world(), "2024-02-19", UnitList::Units2024);
    assert_eq!(get(&u, "12", "I1").value, Some(0.0));
    assert_eq!(get(&u, "12", "I4").value, Some(0.0));
}

#[test]
fn the_2025_unit_list_adds_up_the_communes_merged_into_each_unit() {
    let u = run(&world(), "2025-06-30", UnitList::Units2025);
    assert_eq!(u.len(), 1 + 38);
    assert!(
        u.iter()
            .all(|x| x.level != hub_contracts::v1::indicator::UnitLevel::District)
    );
    // Bản Hon and Khun Há became Xã Khun Há (03430): 1 of 2 met 13.1.
    assert_eq!(nds(&u, "03430", "I10"), (Some(1.0), Some(2.0), Met));
    assert_eq!(get(&u, "03430", "I1").value, Some(1.0));
    assert_eq!(nds(&u, "03430", "I6"), (Some(2.0), Some(2.0), Met));
    // Nậm Xe, Thèn Sin and Sin Suối Hồ became Xã Sin Suối Hồ (03394).
    assert_eq!(nds(&u, "03394", "I10"), (Some(0.0), Some(3.0), Met));
    assert_eq!(nds(&u, "03394", "I7"), (Some(1.0), Some(1.0), Met));
    // the province does not depend on the unit list
    let old = run(&world(), "2025-06-30", UnitList::Units2024);
    assert_eq!(u[0], old[0]);
}

#[test]
fn order_of_inputs_does_not_matter() {
    let w = world();
    let a = run(&w, "2025-06-30", UnitList::Units2024);
    let mut r = world();
    r.golden.reverse();
    r.loans.reverse();
    r.ntm.reverse();
    assert_eq!(run(&r, "2025-06-30", UnitList::Units2024), a);
}

#[test]
fn a_reference_listed_by_two_live_records_belongs_to_the_most_recently_updated() {
    let mut w = world();
    // B (updated later than everyone else) also lists A's loan L1
    let b = w.golden.iter_mut().find(|g| g.name == "HTX B").expect("B");
    b.source_refs.push(loan_ref("L1"));
    b.updated_at += chrono::Duration::days(1);
    let u = run(&w, "2025-06-30", UnitList::Units2024);
    // L1 moves from A to B: still 1 of 2 in Bản Hon, but the other one
    assert_eq!(nds(&u, BAN_HON, "I7"), (Some(1.0), Some(2.0), Met));
    // a loan cancelled later (the projection holds the latest state) gives no credit
    let mut w = world();
    if let Some(l) = w.loans.iter_mut().find(|l| l.loan_no == "L1") {
        l.status = LoanStatus::Cancelled;
    }
    let u = run(&w, "2025-06-30", UnitList::Units2024);
    assert_eq!(nds(&u, "12", "I7"), (Some(1.0), Some(3.0), Behind));
}

#[test]
fn targets_compare_with_more_than_and_at_least() {
    use hub_contracts::v1::indicator::{Comparison, Target};
    let t = |comparison, value, unit| Target {
        year: 2025,
        comparison,
        value,
        unit,
    };
    let raw = |n: u64, d: u64| percent(n, d);
    let c = |n| count(n);
    assert_eq!(
        against(
            &c(3),
            ValueUnit::Count,
            &t(Comparison::Gt, 3.0, ValueUnit::Count)
        ),
        Behind
    );
    assert_eq!(
        against(
            &c(4),
            ValueUnit::Count,
            &t(Comparison::Gt, 3.0, ValueUnit::Count)
        ),
        Met
    );
    assert_eq!(
        against(
            &c(10),
            ValueUnit::Count,
            &t(Comparison::Ge, 10.0, ValueUnit::Count)
        ),
        Met
    );
    assert_eq!(
        against(
            &raw(5, 5),
            ValueUnit::Percent,
            &t(Comparison::Ge, 100.0, ValueUnit::Percent)
        ),
        Met
    );
    assert_eq!(
        against(
            &raw(1, 2),
            ValueUnit::Percent,
            &t(Comparison::Gt, 50.0, ValueUnit::Percent)
        ),
        Behind
    );
    // I3 by 2030: a count target on a percent indicator compares the numerator
    assert_eq!(
        against(
            &raw(16, 40),
            ValueUnit::Percent,
            &t(Comparison::Gt, 15.0, ValueUnit::Count)
        ),
        Met
    );
    assert_eq!(
        against(
            &raw(0, 0),
            ValueUnit::Percent,
            &t(Comparison::Gt, 50.0, ValueUnit::Percent)
        ),
        NoData
    );
}

/// Issue #17: the plan's targets are the province's. A commune with 3 new HTX is not
/// "behind" a province target of "> 3"; districts and communes are context.
#[test]
fn districts_and_communes_are_context_not_judged_against_the_province_targets() {
    use hub_contracts::v1::indicator::UnitLevel;
    let u = run(&world(), "2025-06-30", UnitList::Units2024);
    // the province is judged
    let p = get(&u, "12", "I1");
    assert!(!p.context && p.target_2025.is_some() && p.target_2030.is_some());
    assert_eq!(p.status, Behind);
    for unit in u.iter().filter(|x| x.level != UnitLevel::Province) {
        for v in &unit.values {
            assert!(
                v.context && v.target_2025.is_none() && v.target_2030.is_none(),
                "{} {} is judged against the province's targets",
                unit.unit_code,
                v.indicator
            );
            assert_ne!(v.status, Behind, "{} {}", unit.unit_code, v.indicator);
        }
    }
    // values stay: Nậm Xe's I6 is 0 % (context, no target to be behind), Tả Lèng's I3 has no
    // data, I5 has no source
    assert_eq!(nds(&u, NAM_XE, "I6"), (Some(0.0), Some(1.0), Met));
    assert_eq!(nds(&u, TA_LENG, "I3"), (Some(0.0), Some(0.0), NoData));
    assert_eq!(nds(&u, "106", "I5").2, NoSource);
    // the 2025 list too
    let u = run(&world(), "2025-08-01", UnitList::Units2025);
    assert!(
        u.iter()
            .filter(|x| x.level != UnitLevel::Province)
            .flat_map(|x| &x.values)
            .all(|v| v.context && v.status != Behind)
    );
}

#[cfg(test)]
mod plans;

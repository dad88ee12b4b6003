//! A world small enough to check by hand. Every expected number below is derived in the
//! comments from the definitions in `shared/mission/indicators.md`, not from the code.
//!
//! As of T = 2025-06-30, baseline B = 2024-02-20. Communes: Bản Hon (03421) and Tả Lèng
//! (03400) in Tam Đường (106, 13 communes); Nậm Xe (03586) in Phong Thổ (109, 17 communes).
//!
//! | org | kind | commune | established | supported | status | members | origin | rating | linkage | key officers |
//! |---|---|---|---|---|---|---|---|---|---|---|
//! | A | HTX | Bản Hon | 2024-05-17 | yes | active | 12 | professional_branch | 2024 fair | true | 5/3 |
//! | B | HTX | Bản Hon | 2020-01-01 | yes | active | 30 | – | 2024 weak | false | 4/4 |
//! | C | HTX | Tả Lèng | 2024-09-01 | yes | dissolved | 8 | – | 2024 good | – | 3/1 |
//! | D | THT | Tả Lèng | 2024-03-01 | yes | active | 6 | professional_branch | – | – | – |
//! | E | HTX | Nậm Xe | 2025-01-10 | no | active | 20 | new | – | true | 6/6 |
//! | F | HTX | Nậm Xe | 2024-12-01 | yes | active | 10 | – | – | false | – |
//! | G | THT | Bản Hon | 2024-06-01 | (not in the registry) | | 9 | | | | |
//! | H | HTX | Bản Hon | 2025-08-01 (after T) | yes | active | 15 | professional_branch | – | true | 2/2 |
//!
//! Loans: A 02/07/2024 disbursed; B 01/05/2023 repaid (before B); B 15/01/2025 cancelled;
//! F 01/03/2025 overdue; C 01/10/2024 disbursed (C is dissolved); a household named like A's
//! representative; one bad loan.
//!
//! NTM (years 2024, 2025):
//! - Bản Hon 2024 r1 approved: A effective, B not effective but linked → 13.1 met.
//!   Bản Hon 2025 r1 draft → not counted, falls back to 2024 → met; B linked via NTM.
//! - Tả Lèng 2024 r1 submitted: C effective (HTX) → met.
//!   Tả Lèng 2025 r1 approved with no cooperative (not met), then r2 draft listing C as
//!   effective → the draft does not replace r1 → not met.
//! - Nậm Xe 2024 r1 approved: E effective and linked, F linked → met.
//!   Nậm Xe 2025 r1 submitted: E and F not effective, F not linked → not met; F has no
//!   linkage as of 2025.

use chrono::{DateTime, FixedOffset, NaiveDate};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{
    BorrowerType, Grade, KeyOfficers, LoanStatus, OrgStatus, Origin, Rating, ReportStatus,
};
use hub_simulators::truth::{Truth, TruthStatus, UnitList};
use hub_simulators::world::{
    BadMark, BorrowerText, Loan, NtmEntry, NtmRevision, OrgFacts, Patch, Representative, Subject,
    criteria_for,
};
use hub_simulators::{TruthParams, World};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("timestamp")
}

struct Org {
    kind: OrgKind,
    commune: &'static str,
    district: &'static str,
    established: &'static str,
    supported: bool,
    status: OrgStatus,
    members: u32,
    origin: Option<Origin>,
    rating: Option<Grade>,
    linkage: Option<bool>,
    officers: Option<(u32, u32)>,
}

fn facts(name: &str, o: Org) -> OrgFacts {
    OrgFacts {
        kind: o.kind,
        name: name.to_owned(),
        commune_code: o.commune.to_owned(),
        district_code: o.district.to_owned(),
        village: "Nà Khương".into(),
        place: "Bản Hon".into(),
        product: "chè".into(),
        address: "Bản Nà Khương".into(),
        registration_code: None,
        representative: Some(Representative {
            full_name: Some(format!("Người đại diện {name}")),
            phone: None,
        }),
        established_on: d(o.established),
        status: o.status,
        member_households: o.members,
        farmers_union_supported: o.supported,
        origin: o.origin,
        rating: o.rating.map(|grade| Rating { year: 2024, grade }),
        enterprise_linkage: o.linkage,
        key_officers: o
            .officers
            .map(|(total, trained)| KeyOfficers { total, trained }),
    }
}

fn loan(world: &mut World, subject: Subject, on: &str, status: LoanStatus) {
    let disbursed_on = d(on);
    let loan_no = world.new_loan_no(2024);
    world.loans.push(Loan {
        loan_no,
        subject,
        borrower: BorrowerText {
            name: "HTX".into(),
            tax_code: None,
            address: "Ban Hon".into(),
            legal_rep: None,
            phone: None,
        },
        borrower_type: match subject {
            Subject::Household(_) | Subject::Nobody => BorrowerType::Household,
            Subject::Org(_) => BorrowerType::Cooperative,
        },
        amount_vnd: 100_000_000,
        disbursed_on,
        term_months: 36,
        purpose: "Mua máy sấy chè".into(),
        status,
        modified: disbursed_on.and_hms_opt(9, 0, 0).expect("time"),
        bad: None,
    });
}

fn entry(org: usize, effective: bool, linked: Option<bool>) -> NtmEntry {
    NtmEntry {
        org,
        name: format!("HTX {org}"),
        kind: None,
        representative: None,
        members: None,
        effective,
        linked_with_enterprise: linked,
    }
}

fn revision(world: &World, status: ReportStatus, entries: Vec<NtmEntry>) -> NtmRevision {
    NtmRevision {
        revision: 0,
        status,
        criteria: criteria_for(&entries, &world.organisations),
        cooperatives: entries,
        submitted_at: (status != ReportStatus::Draft).then(|| t("2024-11-20T09:15:00+07:00")),
        ever_current: true,
        bad: None,
    }
}

const BAN_HON: &str = "03421";
const TA_LENG: &str = "03400";
const NAM_XE: &str = "03586";

fn hand_world() -> World {
    let mut w = World::empty(0, t("2025-07-01T08:00:00+07:00"), vec![2024, 2025]);
    let at = Some((t("2025-06-01T08:00:00+07:00"), 1));
    let org = |kind, commune, district, established, supported, status, members| Org {
        kind,
        commune,
        district,
        established,
        supported,
        status,
        members,
        origin: None,
        rating: None,
        linkage: None,
        officers: None,
    };
    use OrgKind::{Htx, Tht};
    use OrgStatus::{Active, Dissolved};
    let a = w.add_organisation(
        facts(
            "A",
            Org {
                origin: Some(Origin::ProfessionalBranch),
                rating: Some(Grade::Fair),
                linkage: Some(true),
                officers: Some((5, 3)),
                ..org(Htx, BAN_HON, "106", "2024-05-17", true, Active, 12)
            },
        ),
        at,
    );
    let b = w.add_organisation(
        facts(
            "B",
            Org {
                rating: Some(Grade::Weak),
                linkage: Some(false),
                officers: Some((4, 4)),
                ..org(Htx, BAN_HON, "106", "2020-01-01", true, Active, 30)
            },
        ),
        at,
    );
    let c = w.add_organisation(
        facts(
            "C",
            Org {
                rating: Some(Grade::Good),
                officers: Some((3, 1)),
                ..org(Htx, TA_LENG, "106", "2024-09-01", true, Dissolved, 8)
            },
        ),
        at,
    );
    let dd = w.add_organisation(
        facts(
            "D",
            Org {
                origin: Some(Origin::ProfessionalBranch),
                ..org(Tht, TA_LENG, "106", "2024-03-01", true, Active, 6)
            },
        ),
        at,
    );
    let e = w.add_organisation(
        facts(
            "E",
            Org {
                origin: Some(Origin::New),
                linkage: Some(true),
                officers: Some((6, 6)),
                ..org(Htx, NAM_XE, "109", "2025-01-10", false, Active, 20)
            },
        ),
        at,
    );
    let f = w.add_organisation(
        facts(
            "F",
            Org {
                linkage: Some(false),
                ..org(Htx, NAM_XE, "109", "2024-12-01", true, Active, 10)
            },
        ),
        at,
    );
    let g = w.add_organisation(
        facts("G", org(Tht, BAN_HON, "106", "2024-06-01", true, Active, 9)),
        None,
    );
    let h = w.add_organisation(
        facts(
            "H",
            Org {
                origin: Some(Origin::ProfessionalBranch),
                linkage: Some(true),
                officers: Some((2, 2)),
                ..org(Htx, BAN_HON, "106", "2025-08-01", true, Active, 15)
            },
        ),
        at,
    );

    loan(&mut w, Subject::Org(a), "2024-07-02", LoanStatus::Disbursed);
    loan(&mut w, Subject::Org(b), "2023-05-01", LoanStatus::Repaid);
    loan(&mut w, Subject::Org(b), "2025-01-15", LoanStatus::Cancelled);
    loan(&mut w, Subject::Org(f), "2025-03-01", LoanStatus::Overdue);
    loan(&mut w, Subject::Org(c), "2024-10-01", LoanStatus::Disbursed);
    loan(&mut w, Subject::Org(g), "2024-10-01", LoanStatus::Disbursed);
    loan(&mut w, Subject::Org(h), "2025-08-02", LoanStatus::Disbursed);
    let hh = w.add_household("Người đại diện A", BAN_HON, "Nà Khương", None);
    loan(
        &mut w,
        Subject::Household(hh),
        "2024-08-01",
        LoanStatus::Disbursed,
    );
    loan(&mut w, Subject::Nobody, "2024-08-01", LoanStatus::Disbursed);
    if let Some(l) = w.loans.last_mut() {
        l.bad = Some(BadMark {
            reason: "disbursed_on is not a date".into(),
            patches: vec![Patch::new(
                &["disbursed_on"],
                serde_json::json!("31/02/2024"),
            )],
        });
    }

    use ReportStatus::{Approved, Draft, Submitted};
    let r = revision(
        &w,
        Approved,
        vec![
            entry(a, true, None),
            entry(b, false, Some(true)),
            entry(g, true, None),
        ],
    );
    w.push_revision(BAN_HON, 2024, r);
    let r = revision(&w, Draft, vec![entry(a, false, None)]);
    w.push_revision(BAN_HON, 2025, r);
    let r = revision(
        &w,
        Submitted,
        vec![entry(c, true, None), entry(dd, false, None)],
    );
    w.push_revision(TA_LENG, 2024, r);
    let r = revision(&w, Approved, vec![]);
    w.push_revision(TA_LENG, 2025, r);
    let r = revision(&w, Draft, vec![entry(c, true, None)]);
    w.push_revision(TA_LENG, 2025, r);
    let r = revision(
        &w,
        Approved,
        vec![entry(e, true, Some(true)), entry(f, false, Some(true))],
    );
    w.push_revision(NAM_XE, 2024, r);
    let r = revision(
        &w,
        Submitted,
        vec![entry(e, false, None), entry(f, false, Some(false))],
    );
    w.push_revision(NAM_XE, 2025, r);
    w
}

fn truth(w: &World, as_of: &str, units: UnitList) -> Truth {
    w.truth(&TruthParams {
        as_of: d(as_of),
        baseline: d("2024-02-20"),
        units,
    })
}

/// (numerator, denominator, status) of an indicator in a unit.
fn nd(truth: &Truth, unit: &str, id: &str) -> (Option<f64>, Option<f64>, TruthStatus) {
    let v = truth
        .unit(unit)
        .and_then(|u| u.value(id))
        .unwrap_or_else(|| panic!("{unit} {id}"));
    (v.numerator, v.denominator, v.status)
}

fn value(truth: &Truth, unit: &str, id: &str) -> Option<f64> {
    truth
        .unit(unit)
        .and_then(|u| u.value(id))
        .and_then(|v| v.value)
}

use TruthStatus::{NoData, NoSource, Ok};

#[test]
fn indicators_as_of_mid_2025() {
    let w = hand_world();
    let tr = truth(&w, "2025-06-30", UnitList::Units2024);

    // I1 new supported HTX: A (2024-05-17), C (2024-09-01, dissolved still counts),
    // F (2024-12-01). Not B (old), E (not supported), H (after T).
    assert_eq!(nd(&tr, "12", "I1"), (Some(3.0), None, Ok));
    assert_eq!(value(&tr, "12", "I1"), Some(3.0));
    assert_eq!(nd(&tr, BAN_HON, "I1").0, Some(1.0));
    assert_eq!(nd(&tr, TA_LENG, "I1").0, Some(1.0));
    assert_eq!(nd(&tr, NAM_XE, "I1").0, Some(1.0));
    assert_eq!(nd(&tr, "106", "I1").0, Some(2.0));
    assert_eq!(nd(&tr, "109", "I1").0, Some(1.0));
    // I2 new supported THT: D. G is not in the registry.
    assert_eq!(nd(&tr, "12", "I2"), (Some(1.0), None, Ok));
    // I3 live supported HTX with a rating: A fair, B weak (C dissolved, F unrated) → 1/2.
    assert_eq!(nd(&tr, "12", "I3"), (Some(1.0), Some(2.0), Ok));
    assert_eq!(value(&tr, "12", "I3"), Some(50.0));
    assert_eq!(nd(&tr, TA_LENG, "I3"), (Some(0.0), Some(0.0), NoData));
    assert_eq!(value(&tr, TA_LENG, "I3"), None);
    assert_eq!(nd(&tr, NAM_XE, "I3").2, NoData);
    // I4 members of live new HTX/THT: A 12 + D 6 + E 20 + F 10 = 48 (C dissolved, B old).
    assert_eq!(nd(&tr, "12", "I4"), (Some(48.0), None, Ok));
    assert_eq!(nd(&tr, NAM_XE, "I4").0, Some(30.0));
    // I5: new HTX/THT from a professional branch: A, D → numerator 2, no source.
    assert_eq!(nd(&tr, "12", "I5"), (Some(2.0), None, NoSource));
    assert_eq!(value(&tr, "12", "I5"), None);
    // I6 live supported HTX A, B, F; linked: A (registry), B (Bản Hon's 2024 report,
    // standing for 2025 whose report is a draft); F's 2025 report says not linked → 2/3.
    assert_eq!(nd(&tr, "12", "I6"), (Some(2.0), Some(3.0), Ok));
    assert_eq!(nd(&tr, BAN_HON, "I6"), (Some(2.0), Some(2.0), Ok));
    assert_eq!(nd(&tr, NAM_XE, "I6"), (Some(0.0), Some(1.0), Ok));
    assert_eq!(value(&tr, NAM_XE, "I6"), Some(0.0));
    // I7 credit in [B, T], not cancelled: A (2024-07-02), F (overdue 2025-03-01); B's loans
    // are before B or cancelled → 2/3.
    assert_eq!(nd(&tr, "12", "I7"), (Some(2.0), Some(3.0), Ok));
    assert!((value(&tr, "12", "I7").unwrap_or(0.0) - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(nd(&tr, BAN_HON, "I7"), (Some(1.0), Some(2.0), Ok));
    // I8 no source.
    assert_eq!(nd(&tr, "12", "I8"), (None, None, NoSource));
    // I9 key officers of A (3/5) and B (4/4); F reports none → 7/9.
    assert_eq!(nd(&tr, "12", "I9"), (Some(7.0), Some(9.0), Ok));
    assert_eq!(nd(&tr, NAM_XE, "I9").2, NoData);
    // I10: Bản Hon met (2024 standing), Tả Lèng not (2025 r1 approved, not met; the draft
    // r2 does not replace it), Nậm Xe not (2025 submitted, not met) → 1/106.
    assert_eq!(nd(&tr, "12", "I10"), (Some(1.0), Some(106.0), Ok));
    assert_eq!(nd(&tr, "106", "I10"), (Some(1.0), Some(13.0), Ok));
    assert_eq!(nd(&tr, "109", "I10"), (Some(0.0), Some(17.0), Ok));
    assert_eq!(nd(&tr, BAN_HON, "I10"), (Some(1.0), Some(1.0), Ok));
    assert_eq!(value(&tr, BAN_HON, "I10"), Some(100.0));
    // a commune with no organisation at all
    assert_eq!(nd(&tr, "03430", "I7"), (Some(0.0), Some(0.0), NoData));
    assert_eq!(nd(&tr, "03430", "I1"), (Some(0.0), None, Ok));
}

#[test]
fn indicators_at_the_end_of_2024() {
    let w = hand_world();
    let tr = truth(&w, "2024-12-31", UnitList::Units2024);
    // E (2025-01-10) and H do not exist yet.
    assert_eq!(nd(&tr, "12", "I4"), (Some(12.0 + 6.0 + 10.0), None, Ok));
    // I7: A has credit; F's loan is in 2025 → 1/3.
    assert_eq!(nd(&tr, "12", "I7"), (Some(1.0), Some(3.0), Ok));
    // I6: the 2024 reports stand: F linked in Nậm Xe 2024 → A, B, F → 3/3.
    assert_eq!(nd(&tr, "12", "I6"), (Some(3.0), Some(3.0), Ok));
    // I10: all three 2024 reports met 13.1.
    assert_eq!(nd(&tr, "12", "I10"), (Some(3.0), Some(106.0), Ok));
}

#[test]
fn the_2025_unit_list_adds_up_old_communes() {
    let w = hand_world();
    let tr = truth(&w, "2025-06-30", UnitList::Units2025);
    assert_eq!(tr.indicators.len(), 1 + 38);
    // Bản Hon (03421) and Khun Há (03430) became Xã Khun Há (03430): 1 of 2 met.
    assert_eq!(nd(&tr, "03430", "I10"), (Some(1.0), Some(2.0), Ok));
    assert_eq!(nd(&tr, "03430", "I1").0, Some(1.0));
    assert_eq!(nd(&tr, "03430", "I6"), (Some(2.0), Some(2.0), Ok));
    // Nậm Xe (03586), Thèn Sin and Sin Suối Hồ became Xã Sin Suối Hồ (03394).
    assert_eq!(nd(&tr, "03394", "I10"), (Some(0.0), Some(3.0), Ok));
    assert_eq!(nd(&tr, "03394", "I7"), (Some(1.0), Some(1.0), Ok));
    // the province does not depend on the unit list
    let old = truth(&w, "2025-06-30", UnitList::Units2024);
    assert_eq!(tr.unit("12"), old.unit("12"));
}

#[test]
fn identities_and_records_are_listed() {
    let w = hand_world();
    let tr = truth(&w, "2025-06-30", UnitList::Units2024);
    let records = |id: &str| {
        tr.organisations.iter().find(|o| o.org_id == id).map(|o| {
            o.records
                .iter()
                .map(|r| format!("{}/{}", r.system, r.id))
                .collect::<Vec<_>>()
        })
    };
    // A: registry, one loan, entry 0 of Bản Hon 2024 and entry 0 of the 2025 draft
    assert_eq!(
        records("ORG-0001"),
        Some(vec![
            "coop-alliance/LM-000001".to_owned(),
            "loan-fund/QHT-2024-00001".to_owned(),
            "ntm/03421:2024:0".to_owned(),
            "ntm/03421:2025:0".to_owned(),
        ])
    );
    // G: not in the registry, known from a loan and an NTM entry
    let g = tr
        .organisations
        .iter()
        .find(|o| o.org_id == "ORG-0007")
        .expect("G");
    assert!(!g.in_registry);
    assert_eq!(g.farmers_union_supported, None);
    assert_eq!(g.records.len(), 2);
    // the household is separate, the bad loan belongs to nobody
    assert_eq!(tr.households.len(), 1);
    assert_eq!(tr.households[0].records.len(), 1);
    assert_eq!(tr.bad_records.len(), 1);
    assert_eq!(tr.bad_records[0].id, "QHT-2024-00009");
    // Tả Lèng 2025: served r2 (draft), counted r1
    let rep = tr
        .ntm_reports
        .iter()
        .find(|r| r.commune_code == TA_LENG && r.year == 2025)
        .expect("report");
    assert_eq!((rep.current_revision, rep.counted_revision), (2, Some(1)));
    assert_eq!(rep.counted_13_1_met, Some(false));
}

#[test]
fn a_draft_after_a_counted_revision_changes_nothing() {
    let mut w = hand_world();
    let before = truth(&w, "2025-06-30", UnitList::Units2024);
    // a new draft over Nậm Xe 2025 (submitted) and over Bản Hon 2024 (approved)
    let f = 5;
    let r = revision(&w, ReportStatus::Draft, vec![entry(f, true, Some(true))]);
    w.push_revision(NAM_XE, 2025, r);
    let r = revision(&w, ReportStatus::Draft, vec![]);
    w.push_revision(BAN_HON, 2024, r);
    let after = truth(&w, "2025-06-30", UnitList::Units2024);
    assert_eq!(before.indicators, after.indicators);
    // a newer submitted revision does count
    let r = revision(
        &w,
        ReportStatus::Submitted,
        vec![entry(f, true, Some(true))],
    );
    w.push_revision(NAM_XE, 2025, r);
    let later = truth(&w, "2025-06-30", UnitList::Units2024);
    assert_eq!(nd(&later, NAM_XE, "I10"), (Some(1.0), Some(1.0), Ok));
    assert_eq!(nd(&later, NAM_XE, "I6"), (Some(1.0), Some(1.0), Ok));
}

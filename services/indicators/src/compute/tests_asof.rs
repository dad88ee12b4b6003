//! Issue #17's drifts, each on a projection small enough to check by hand: the state as of
//! T (registry and loan versions), the headline target after 2025, post-reform commune codes,
//! organisations whose commune is unknown. And history: last year's snapshot recomputed after
//! this year's changes arrived gives last year's numbers.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use hub_contracts::v1::common::{OrgKind, SourceMeta, SourceRef};
use hub_contracts::v1::identity::GoldenRecord;
use hub_contracts::v1::indicator::{UnitIndicators, ValueStatus};
use hub_contracts::v1::source::{
    Borrower, BorrowerType, Criterion, Grade, LoanDisbursement, LoanStatus, NtmCommuneReport,
    NtmCooperativeEntry, OrgStatus, Rating, ReportStatus,
};
use uuid::Uuid;

use super::*;
use crate::asof::RegistryVersion;
use crate::plan::Plan;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn ts(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("timestamp")
}

fn plan() -> Plan {
    Plan::builtin().expect("built-in plan")
}

fn id(n: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, n.as_bytes())
}

/// A supported HTX of the registry (record `LM-{n}`), facts as its latest version says.
fn golden(
    n: &str,
    commune: Option<&str>,
    district: Option<&str>,
    established: &str,
) -> GoldenRecord {
    GoldenRecord {
        organisation_id: id(n),
        version: 1,
        retired: false,
        merged_into: None,
        kind: Some(OrgKind::Htx),
        name: format!("HTX {n}"),
        registration_code: None,
        commune_code: commune.map(str::to_owned),
        district_code: district.map(str::to_owned),
        address: None,
        representative: None,
        established_on: Some(d(established)),
        status: Some(OrgStatus::Active),
        member_households: Some(10),
        farmers_union_supported: Some(true),
        origin: None,
        rating: None,
        enterprise_linkage: None,
        key_officers: None,
        in_registry: true,
        source_refs: vec![
            SourceRef::new("coop-alliance", format!("LM-{n}")),
            SourceRef::new("loan-fund", format!("L-{n}")),
        ],
        attribute_sources: Default::default(),
        updated_at: ts("2026-12-01T08:00:00+07:00").with_timezone(&Utc),
    }
}

/// Version `version` of registry record `LM-{n}`, dated `at`, with `g`'s facts.
fn version(g: &GoldenRecord, n: &str, version: u64, at: &str) -> RegistryVersion {
    RegistryVersion {
        source_id: format!("LM-{n}"),
        version,
        updated_at: ts(at),
        kind: g.kind.unwrap_or(OrgKind::Htx),
        commune_code: g.commune_code.clone(),
        commune_code_2025: None,
        district_code: g.district_code.clone(),
        established_on: g.established_on,
        status: g.status,
        member_households: g.member_households,
        farmers_union_supported: g.farmers_union_supported,
        origin: g.origin,
        rating: g.rating,
        enterprise_linkage: g.enterprise_linkage,
        key_officers: g.key_officers,
    }
}

fn loan(n: &str, on: &str, status: LoanStatus, modified: &str) -> LoanDisbursement {
    LoanDisbursement {
        meta: SourceMeta {
            source: SourceRef::new("loan-fund", format!("L-{n}")),
            fetched_at: ts(modified),
            content_hash: String::new(),
            raw: serde_json::Value::Null,
            issues: vec![],
        },
        loan_no: format!("L-{n}"),
        borrower: Borrower {
            name: format!("HTX {n}"),
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
        modified: ts(modified),
    }
}

fn report(commune: &str, year: i32, revision: u32, met: bool, submitted: &str) -> NtmCommuneReport {
    NtmCommuneReport {
        meta: SourceMeta {
            source: SourceRef::new("ntm", format!("{commune}:{year}")),
            fetched_at: ts(submitted),
            content_hash: String::new(),
            raw: serde_json::Value::Null,
            issues: vec![],
        },
        commune_code: commune.to_owned(),
        commune_name: None,
        district_name: None,
        year,
        revision,
        status: ReportStatus::Submitted,
        criteria: vec![Criterion {
            id: "13.1".into(),
            met,
            note: None,
        }],
        cooperatives: vec![NtmCooperativeEntry {
            source_id: format!("{commune}:{year}:0"),
            index: 0,
            name: "HTX".into(),
            kind: None,
            representative: None,
            members: None,
            effective: met,
            linked_with_enterprise: None,
        }],
        submitted_at: Some(ts(submitted)),
    }
}

#[derive(Default, Clone)]
struct State {
    golden: Vec<GoldenRecord>,
    registry: Vec<RegistryVersion>,
    loans: Vec<LoanDisbursement>,
    ntm: Vec<NtmCommuneReport>,
}

fn run(s: &State, as_of: &str, list: UnitList) -> Vec<UnitIndicators> {
    compute_as_of(
        &plan(),
        list,
        d(as_of),
        Inputs {
            golden: &s.golden,
            loans: &s.loans,
            ntm: &s.ntm,
        },
        &s.registry,
        &FuInputs::default(),
    )
}

fn get<'a>(u: &'a [UnitIndicators], unit: &str, ind: &str) -> &'a IndicatorValue {
    u.iter()
        .find(|x| x.unit_code == unit)
        .and_then(|x| x.values.iter().find(|v| v.indicator == ind))
        .unwrap_or_else(|| panic!("{unit} {ind}"))
}

fn nd(u: &[UnitIndicators], unit: &str, ind: &str) -> (Option<f64>, Option<f64>) {
    let v = get(u, unit, ind);
    (v.numerator, v.denominator)
}

const BAN_HON: &str = "03421";

/// Two supported HTX in Bản Hon. A: rated fair (2024), good (2025-03); dissolved 2026-02.
/// B: rated weak (2024-06), good from 2026-01. A's loan of 2025-01-10 was cancelled in 2026.
fn rated_pair() -> State {
    let mut a = golden("A", Some(BAN_HON), Some("106"), "2024-05-01");
    let mut b = golden("B", Some(BAN_HON), Some("106"), "2024-06-01");
    let mut registry = vec![];
    a.rating = Some(Rating {
        year: 2023,
        grade: Grade::Fair,
    });
    registry.push(version(&a, "A", 1, "2024-06-01T09:00:00+07:00"));
    a.rating = Some(Rating {
        year: 2024,
        grade: Grade::Good,
    });
    registry.push(version(&a, "A", 2, "2025-03-01T09:00:00+07:00"));
    a.rating = Some(Rating {
        year: 2025,
        grade: Grade::Weak,
    });
    a.status = Some(OrgStatus::Dissolved);
    registry.push(version(&a, "A", 3, "2026-02-01T09:00:00+07:00"));
    b.rating = Some(Rating {
        year: 2023,
        grade: Grade::Weak,
    });
    registry.push(version(&b, "B", 1, "2024-06-15T09:00:00+07:00"));
    b.rating = Some(Rating {
        year: 2025,
        grade: Grade::Good,
    });
    registry.push(version(&b, "B", 2, "2026-01-20T09:00:00+07:00"));
    let loans = vec![
        loan(
            "A",
            "2025-01-10",
            LoanStatus::Disbursed,
            "2025-01-10T10:00:00+07:00",
        ),
        loan(
            "A",
            "2025-01-10",
            LoanStatus::Cancelled,
            "2026-01-05T10:00:00+07:00",
        ),
    ];
    State {
        golden: vec![a, b],
        registry,
        loans,
        ntm: vec![],
    }
}

/// Drift (a): as of a past date, "live" and "latest rating" are as of that date.
#[test]
fn status_and_rating_are_those_as_of_the_date() {
    let s = rated_pair();
    // 2025-06-30: A live, rated good; B rated weak → 1 of 2 consolidated; A had credit
    let u = run(&s, "2025-06-30", UnitList::Units2024);
    assert_eq!(nd(&u, "12", "I3"), (Some(1.0), Some(2.0)));
    assert_eq!(get(&u, "12", "I3").value, Some(50.0));
    assert_eq!(
        nd(&u, "12", "I7"),
        (Some(1.0), Some(2.0)),
        "A's loan stood then"
    );
    assert_eq!(nd(&u, BAN_HON, "I6"), (Some(0.0), Some(2.0)), "A was live");
    // 2024-12-31: A fair, B weak
    let u = run(&s, "2024-12-31", UnitList::Units2024);
    assert_eq!(nd(&u, "12", "I3"), (Some(1.0), Some(2.0)));
    assert_eq!(
        nd(&u, "12", "I7"),
        (Some(0.0), Some(2.0)),
        "not disbursed yet"
    );
    // now: A dissolved, B good, the loan cancelled
    let u = run(&s, "2026-06-30", UnitList::Units2024);
    assert_eq!(nd(&u, "12", "I3"), (Some(1.0), Some(1.0)));
    assert_eq!(nd(&u, "12", "I7"), (Some(0.0), Some(1.0)));
    // the date's end is Vietnam's: B's re-rating stamped 01:00 on 2026-01-21 (+07), still
    // 2026-01-20 in UTC, does not hold as of 2026-01-20
    let mut late = s.clone();
    late.registry[4].updated_at = ts("2026-01-20T18:00:00Z");
    let u = run(&late, "2026-01-20", UnitList::Units2024);
    assert_eq!(nd(&u, "12", "I3"), (Some(1.0), Some(2.0)), "B still weak");
    let u = run(&late, "2026-01-21", UnitList::Units2024);
    assert_eq!(nd(&u, "12", "I3"), (Some(2.0), Some(2.0)), "B good");
}

/// Drift (b): after 2025 the headline status is judged against the 2030 target.
#[test]
fn the_headline_status_uses_the_target_of_the_as_of_year() {
    let mut s = State::default();
    for n in ["P", "Q", "R", "S"] {
        s.golden
            .push(golden(n, Some(BAN_HON), Some("106"), "2025-02-01"));
    }
    // 4 new supported HTX: more than 3 (2025) but not at least 10 (2030)
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    let v = get(&u, "12", "I1");
    assert_eq!(v.value, Some(4.0));
    assert_eq!(v.status, ValueStatus::Met);
    let u = run(&s, "2026-01-01", UnitList::Units2024);
    let v = get(&u, "12", "I1");
    assert_eq!(v.target_2025.map(|c| c.status), Some(ValueStatus::Met));
    assert_eq!(v.target_2030.map(|c| c.status), Some(ValueStatus::Behind));
    assert_eq!(
        v.status,
        ValueStatus::Behind,
        "2030 is the target that applies"
    );
    // and after 2030 still the 2030 target
    let u = run(&s, "2031-03-01", UnitList::Units2024);
    assert_eq!(get(&u, "12", "I1").status, ValueStatus::Behind);
}

/// Drift (c): a registry record dated after the reform with a post-reform code is not the
/// pre-reform commune that had the code before.
#[test]
fn a_post_reform_code_is_not_read_as_the_pre_reform_commune_that_reused_it() {
    // 03430 is Xã Khun Há after the reform (old 03430 and 03421 Bản Hon merged)
    let g = golden("K", Some("03430"), Some("106"), "2025-08-01");
    let mut s = State {
        golden: vec![g.clone()],
        registry: vec![version(&g, "K", 1, "2025-09-01T09:00:00+07:00")],
        ..State::default()
    };
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    assert_eq!(get(&u, "03430", "I1").value, Some(0.0), "not the old 03430");
    assert_eq!(
        get(&u, "106", "I1").value,
        Some(1.0),
        "its district (the record's)"
    );
    assert_eq!(get(&u, "12", "I1").value, Some(1.0));
    let u = run(&s, "2025-12-31", UnitList::Units2025);
    assert_eq!(get(&u, "03430", "I1").value, Some(1.0));
    assert_eq!(get(&u, "12", "I1").value, Some(1.0));

    // Phường Đoàn Kết (03388) spans districts 105 and 109: without a district, only the
    // province on the 2024 list
    let mut g = golden("K", Some("03388"), None, "2025-08-01");
    s.golden = vec![g.clone()];
    s.registry = vec![version(&g, "K", 1, "2025-09-01T09:00:00+07:00")];
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    assert_eq!(get(&u, "12", "I1").value, Some(1.0));
    assert_eq!(
        get(&u, "03388", "I1").value,
        Some(0.0),
        "not Phường Quyết Tiến"
    );
    assert_eq!(get(&u, "105", "I1").value, Some(0.0));
    // a new unit made of one old commune (03451) resolves to it, district and all
    g.commune_code = Some("03451".into());
    s.golden = vec![g.clone()];
    s.registry = vec![version(&g, "K", 1, "2025-09-01T09:00:00+07:00")];
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    assert_eq!(get(&u, "03451", "I1").value, Some(1.0));
    assert_eq!(get(&u, "107", "I1").value, Some(1.0));

    // dated before the reform, or giving the new unit apart: the code is the old commune's
    let g = golden("K", Some("03430"), Some("106"), "2025-05-01");
    s.golden = vec![g.clone()];
    s.registry = vec![version(&g, "K", 1, "2025-06-30T09:00:00+07:00")];
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    assert_eq!(get(&u, "03430", "I1").value, Some(1.0));
    let mut v = version(&g, "K", 2, "2025-09-01T09:00:00+07:00");
    v.commune_code_2025 = Some("03430".into());
    s.registry.push(v);
    let u = run(&s, "2025-12-31", UnitList::Units2024);
    assert_eq!(get(&u, "03430", "I1").value, Some(1.0));
}

/// Drift (d): an organisation whose commune cannot be resolved still counts in its district
/// and the province.
#[test]
fn an_organisation_without_a_known_commune_counts_in_its_district_and_province() {
    let s = State {
        golden: vec![
            golden("U", None, Some("106"), "2024-08-01"),
            golden("V", Some("99999"), Some("109"), "2024-08-01"),
            golden("W", None, Some("999"), "2024-08-01"),
        ],
        ..State::default()
    };
    let u = run(&s, "2025-06-30", UnitList::Units2024);
    assert_eq!(get(&u, "106", "I1").value, Some(1.0));
    assert_eq!(get(&u, "109", "I1").value, Some(1.0));
    assert_eq!(get(&u, "12", "I1").value, Some(2.0), "W's place is unknown");
    assert_eq!(nd(&u, "12", "I7"), (Some(0.0), Some(2.0)));
    let communes: f64 = u
        .iter()
        .filter(|x| x.level == hub_contracts::v1::indicator::UnitLevel::Commune)
        .filter_map(|x| get(&u, &x.unit_code, "I1").value)
        .sum();
    assert_eq!(communes, 0.0);
    let u = run(&s, "2025-06-30", UnitList::Units2025);
    assert_eq!(get(&u, "12", "I1").value, Some(2.0));
}

/// History: the snapshot of the end of last year, recomputed after this year's changes
/// arrived (dissolution, new ratings, a cancelled and a new loan, a later NTM revision of last
/// year's report, new organisations, a move), gives last year's numbers on both lists.
#[test]
fn last_years_numbers_survive_this_years_changes() {
    let mut s = rated_pair();
    let c = golden("C", Some("03400"), Some("106"), "2025-04-01");
    s.registry
        .push(version(&c, "C", 1, "2025-04-02T09:00:00+07:00"));
    s.golden.push(c.clone());
    s.loans.push(loan(
        "C",
        "2025-05-01",
        LoanStatus::Disbursed,
        "2025-05-01T09:00:00+07:00",
    ));
    s.ntm
        .push(report(BAN_HON, 2025, 1, true, "2025-11-01T09:00:00+07:00"));
    let last_year = s.clone();
    let before: Vec<_> = UnitList::ALL
        .iter()
        .map(|&l| run(&last_year, "2025-12-31", l))
        .collect();

    // this year: A dissolved and B re-rated (already in rated_pair's later versions), C moved
    // to Nậm Xe, a revision of Bản Hon's 2025 report not met, D and E established, new loans
    let mut moved = c.clone();
    moved.commune_code = Some("03586".into());
    moved.district_code = Some("109".into());
    s.registry
        .push(version(&moved, "C", 2, "2026-03-01T09:00:00+07:00"));
    s.golden[2] = moved;
    s.ntm
        .push(report(BAN_HON, 2025, 2, false, "2026-02-01T09:00:00+07:00"));
    s.ntm
        .push(report(BAN_HON, 2026, 1, false, "2026-04-01T09:00:00+07:00"));
    for n in ["D", "E"] {
        let g = golden(n, Some(BAN_HON), Some("106"), "2026-02-01");
        s.registry
            .push(version(&g, n, 1, "2026-02-02T09:00:00+07:00"));
        s.golden.push(g);
        s.loans.push(loan(
            n,
            "2026-03-01",
            LoanStatus::Disbursed,
            "2026-03-01T09:00:00+07:00",
        ));
    }
    s.loans.push(loan(
        "C",
        "2025-05-01",
        LoanStatus::Cancelled,
        "2026-05-01T09:00:00+07:00",
    ));
    // the world did change
    let now = run(&s, "2026-06-30", UnitList::Units2024);
    assert_ne!(
        nd(&now, "12", "I3"),
        nd(&before[0], "12", "I3"),
        "this year differs"
    );
    for (list, was) in UnitList::ALL.iter().zip(&before) {
        assert_eq!(&run(&s, "2025-12-31", *list), was, "{list} list");
    }
    // and last year's numbers are what the definitions give
    let u = &before[0];
    assert_eq!(nd(u, "12", "I1"), (Some(3.0), None));
    assert_eq!(nd(u, "12", "I7"), (Some(2.0), Some(3.0)));
    assert_eq!(nd(u, "03400", "I1"), (Some(1.0), None));
    assert_eq!(nd(u, BAN_HON, "I10"), (Some(1.0), Some(1.0)));
}

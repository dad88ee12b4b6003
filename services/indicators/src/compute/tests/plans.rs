//! A second province's plan, computed from its folder alone (`deploy/plans/dien-bien/`, copied
//! to a directory of its own): other indicators, target years and a district target, all data.
//!
//! T = 2026-06-30, B = 2024-04-01 (the plan's baseline). Điện Biên communes: Him Lam (03127)
//! and Noong Bua (03124) in Điện Biên Phủ city (094, 12 communes); Tuần Giáo (03253) in Tuần
//! Giáo (099). 129 pre-2025 communes, 45 post-2025 ones.
//!
//! | org | kind | commune | established | supported | members | rating | loans |
//! |---|---|---|---|---|---|---|---|
//! | P | HTX | Him Lam | 2024-05-01 | yes | 10 | good | DB1 500 M disbursed 2024-06-01 |
//! | Q | THT | Tuần Giáo | 2025-02-01 | yes | 5 | – | – |
//! | S | HTX | Noong Bua | 2024-03-01 (before B) | yes | 40 | weak | DB2 300 M repaid 2024-08-01; DB3 cancelled |
//! | X | HTX | Bản Hon, Lai Châu (03421) | 2024-05-01 | yes | 7 | good | – |
//!
//! NTM: Him Lam 2025 approved, 13.1 met.

use std::path::{Path, PathBuf};

use super::*;

const HIM_LAM: &str = "03127";
const NOONG_BUA: &str = "03124";
const TUAN_GIAO: &str = "03253";

/// The folder's files copied to a directory of their own: nothing else is read.
fn folder_alone() -> PathBuf {
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans/dien-bien");
    // one directory per call: the tests of this module run at once in one process
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let to = std::env::temp_dir().join(format!("hub-plan-dien-bien-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&to).expect("temp dir");
    // every file of the folder (plan, unit lists, crosswalk, DHIS2 mapping), nothing else
    for entry in std::fs::read_dir(&from).expect("the folder") {
        let path = entry.expect("an entry").path();
        if path.is_file() {
            std::fs::copy(&path, to.join(path.file_name().expect("a name"))).expect("copy");
        }
    }
    to
}

fn dien_bien() -> (Plan, World) {
    use OrgKind::{Htx, Tht};
    let dir = folder_alone();
    let plan = Plan::load(&dir).expect("Điện Biên's folder is a valid plan");
    std::fs::remove_dir_all(&dir).expect("clean up");
    let mut db1 = loan("DB1", "2024-06-01", LoanStatus::Disbursed);
    db1.amount_vnd = 500_000_000;
    let mut db2 = loan("DB2", "2024-08-01", LoanStatus::Repaid);
    db2.amount_vnd = 300_000_000;
    let golden = vec![
        golden(Org {
            members: 10,
            rating: Some(Grade::Good),
            refs: vec![loan_ref("DB1")],
            ..org("P", Htx, HIM_LAM, "2024-05-01")
        }),
        golden(Org {
            members: 5,
            ..org("Q", Tht, TUAN_GIAO, "2025-02-01")
        }),
        golden(Org {
            members: 40,
            rating: Some(Grade::Weak),
            refs: vec![loan_ref("DB2"), loan_ref("DB3")],
            ..org("S", Htx, NOONG_BUA, "2024-03-01")
        }),
        golden(Org {
            members: 7,
            rating: Some(Grade::Good),
            ..org("X", Htx, BAN_HON, "2024-05-01")
        }),
    ];
    let loans = vec![db1, db2, loan("DB3", "2024-09-01", LoanStatus::Cancelled)];
    let ntm = vec![report(
        HIM_LAM,
        2025,
        1,
        ReportStatus::Approved,
        &[(true, None)],
    )];
    (plan, World { golden, loans, ntm })
}

fn run_plan(plan: &Plan, w: &World, list: UnitList) -> Vec<UnitIndicators> {
    compute(
        plan,
        list,
        d("2026-06-30"),
        Inputs {
            golden: &w.golden,
            loans: &w.loans,
            ntm: &w.ntm,
        },
    )
}

#[test]
fn a_second_province_computes_from_its_folder_alone() {
    let (plan, w) = dien_bien();
    assert_eq!(
        (plan.id.as_str(), plan.province_code.as_str()),
        ("dien-bien-182", "11")
    );
    let u = run_plan(&plan, &w, UnitList::Units2024);
    assert_eq!(
        u.len(),
        1 + 10 + 129,
        "province, 10 districts, 129 communes"
    );
    let ids: Vec<&str> = u[0].values.iter().map(|v| v.indicator.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "HTX-MOI",
            "HTX-KHA",
            "VON-VAY",
            "HO-THAM-GIA",
            "CAN-BO",
            "NTM-13"
        ],
        "the plan's own indicators, in its order"
    );

    // new supported HTX/THT since B: P, Q (S is older than B; X is in Lai Châu)
    let v = get(&u, "11", "HTX-MOI");
    assert_eq!(v.value, Some(2.0));
    // its targets of 2026 and 2028 beside the 2030 one; the headline is 2026's (>= 8)
    let years: Vec<i32> = v.targets.iter().map(|c| c.target.year).collect();
    assert_eq!(years, vec![2026, 2028]);
    assert_eq!(v.target_2025, None);
    assert_eq!(v.target_2030.map(|c| c.target.value), Some(35.0));
    assert_eq!(v.status, ValueStatus::Behind);
    // the city has a target of its own (>= 2 in 2026): 1, behind; Tuần Giáo's is context
    let city = get(&u, "094", "HTX-MOI");
    assert_eq!(
        (city.value, city.status, city.context),
        (Some(1.0), ValueStatus::Behind, false)
    );
    let tg = get(&u, "099", "HTX-MOI");
    assert_eq!(
        (tg.value, tg.status, tg.context),
        (Some(1.0), ValueStatus::Met, true)
    );
    assert!(get(&u, HIM_LAM, "HTX-MOI").context);

    // live supported HTX rated fair or good: P of P, S = 50 % (< 60 % by 2026)
    let v = get(&u, "11", "HTX-KHA");
    assert_eq!(
        (v.numerator, v.denominator, v.value),
        (Some(1.0), Some(2.0), Some(50.0))
    );
    assert_eq!(v.status, ValueStatus::Behind);

    // loans to supported HTX, disbursed in [B, T], not cancelled: 500 M + 300 M
    assert_eq!(get(&u, "11", "VON-VAY").value, Some(800_000_000.0));
    assert_eq!(get(&u, NOONG_BUA, "VON-VAY").value, Some(300_000_000.0));
    // member households of live new HTX and THT: P 10 + Q 5
    assert_eq!(get(&u, "11", "HO-THAM-GIA").value, Some(15.0));
    // no Union workbook: no source, never 0
    let v = get(&u, "11", "CAN-BO");
    assert_eq!(
        (v.status, v.value, v.numerator),
        (ValueStatus::NoSource, None, None)
    );
    // 13.1: Him Lam of 129 communes; of the city's 12
    let v = get(&u, "11", "NTM-13");
    assert_eq!((v.numerator, v.denominator), (Some(1.0), Some(129.0)));
    assert!(v.context);
    assert_eq!(get(&u, "094", "NTM-13").denominator, Some(12.0));

    // the 2025 list: Him Lam lies in Phường Điện Biên Phủ (03127), Noong Bua in Mường Thanh
    let u = run_plan(&plan, &w, UnitList::Units2025);
    assert_eq!(u.len(), 1 + 45);
    assert_eq!(get(&u, "03127", "HTX-MOI").value, Some(1.0));
    assert_eq!(get(&u, "03334", "VON-VAY").value, Some(300_000_000.0));
    assert_eq!(get(&u, "11", "HTX-MOI").value, Some(2.0));
}

#[test]
fn lai_chau_ignores_the_second_province_s_organisations() {
    let (_, w) = dien_bien();
    let u = run(&w, "2026-06-30", UnitList::Units2024);
    // only X, in Bản Hon, is Lai Châu's
    assert_eq!(get(&u, "12", "I1").value, Some(1.0));
}

//! History on the real database: last year's snapshot, recomputed after this year's changes
//! arrived through the projection (a dissolution, a new rating, a cancelled loan, a later
//! revision of last year's NTM report, a new cooperative), gives last year's numbers on both
//! unit lists, although the snapshot of today differs. The versions behind it are the
//! projection's (`registry_versions`, `loan_versions`, NTM `submitted_at`).

use chrono::NaiveDate;
use hub_contracts::v1::indicator::IndicatorSnapshot;
use hub_indicators::service::{MIGRATOR, Snapshots};
use hub_indicators::store::{Input, Store};
use hub_indicators::{Plan, UnitList};
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;
use serde_json::{Value, json};

fn meta(system: &str, id: &str, fetched_at: &str) -> Value {
    json!({
        "source": {"system": system, "id": id},
        "fetched_at": fetched_at,
        "content_hash": format!("{system}/{id}/{fetched_at}"),
        "raw": {},
    })
}

fn org(n: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(n)
}

/// The golden record of supported HTX `n` in Bản Hon (03421), as it is now.
fn golden(n: u128, status: &str, grade: &str, established: &str) -> Input {
    Input::Golden(Box::new(
        serde_json::from_value(json!({
            "organisation_id": org(n),
            "version": 1,
            "kind": "HTX",
            "name": format!("HTX {n}"),
            "commune_code": "03421",
            "district_code": "106",
            "established_on": established,
            "status": status,
            "farmers_union_supported": true,
            "member_households": 10,
            "rating": {"year": 2025, "grade": grade},
            "in_registry": true,
            "source_refs": [
                {"system": "coop-alliance", "id": format!("LM-{n}")},
                {"system": "loan-fund", "id": format!("L-{n}")},
            ],
            "updated_at": "2026-06-01T00:00:00Z",
        }))
        .expect("a golden record"),
    ))
}

fn registry(
    n: u128,
    version: u64,
    updated: &str,
    status: &str,
    grade: &str,
    established: &str,
) -> Input {
    Input::Registry(Box::new(
        serde_json::from_value(json!({
            "meta": meta("coop-alliance", &format!("LM-{n}"), updated),
            "kind": "HTX",
            "name": format!("HTX {n}"),
            "commune_code": "03421",
            "district_code": "106",
            "established_on": established,
            "status": status,
            "farmers_union_supported": true,
            "member_households": 10,
            "rating": {"year": 2024, "grade": grade},
            "updated_at": updated,
            "version": version,
        }))
        .expect("a registry record"),
    ))
}

fn loan(n: u128, status: &str, modified: &str) -> Input {
    Input::Loan(Box::new(
        serde_json::from_value(json!({
            "meta": meta("loan-fund", &format!("L-{n}"), modified),
            "loan_no": format!("L-{n}"),
            "borrower": {"name": format!("HTX {n}")},
            "borrower_type": "cooperative",
            "amount_vnd": 100_000_000,
            "disbursed_on": "2025-04-01",
            "status": status,
            "modified": modified,
        }))
        .expect("a loan"),
    ))
}

fn report(revision: u32, met: bool, submitted: &str) -> Input {
    Input::Ntm(Box::new(
        serde_json::from_value(json!({
            "meta": meta("ntm", "03421:2025", submitted),
            "commune_code": "03421",
            "year": 2025,
            "revision": revision,
            "status": "submitted",
            "criteria": [{"id": "13.1", "met": met}],
            "cooperatives": [],
            "submitted_at": submitted,
        }))
        .expect("a report"),
    ))
}

fn value(s: &IndicatorSnapshot, unit: &str, ind: &str) -> (Option<f64>, Option<f64>) {
    let v = s
        .units
        .iter()
        .find(|u| u.unit_code == unit)
        .and_then(|u| u.values.iter().find(|v| v.indicator == ind))
        .unwrap_or_else(|| panic!("{unit} {ind}"));
    (v.numerator, v.denominator)
}

#[tokio::test]
async fn last_years_snapshot_recomputed_after_this_years_changes_gives_last_years_numbers() {
    let env = TestEnv::new().await;
    let db = Database::connect(&env.config.database_url, "indicators", Some(&MIGRATOR))
        .await
        .expect("database");
    let store = Store::new(db);
    let snapshots = Snapshots::new(
        Plan::builtin().expect("plan"),
        store.clone(),
        UnitList::ALL.to_vec(),
        None,
    );
    let apply = |batch: Vec<(&'static str, Input)>| {
        let store = store.clone();
        async move {
            let refs: Vec<(&str, &Input)> = batch.iter().map(|(id, i)| (*id, i)).collect();
            store.apply_batch(&refs).await.expect("applied")
        }
    };
    let last_day = NaiveDate::from_ymd_opt(2025, 12, 31).expect("date");
    let today = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");

    // last year, as it arrived then: HTX 1 and 2 live, rated good and weak; HTX 1 had credit;
    // Bản Hon met 13.1
    apply(vec![
        (
            "r1v1",
            registry(
                1,
                1,
                "2024-05-02T09:00:00+07:00",
                "active",
                "good",
                "2024-05-01",
            ),
        ),
        (
            "r2v1",
            registry(
                2,
                1,
                "2024-06-02T09:00:00+07:00",
                "active",
                "weak",
                "2024-06-01",
            ),
        ),
        ("g1", golden(1, "active", "good", "2024-05-01")),
        ("g2", golden(2, "active", "weak", "2024-06-01")),
        ("l1v1", loan(1, "disbursed", "2025-04-01T09:00:00+07:00")),
        ("n1", report(1, true, "2025-11-01T09:00:00+07:00")),
    ])
    .await;
    let mut then = Vec::new();
    for list in UnitList::ALL {
        then.push(
            snapshots
                .recompute(list, Some(last_day))
                .await
                .expect("recompute")
                .snapshot,
        );
    }
    let s = &then[0];
    assert_eq!(value(s, "12", "I3"), (Some(1.0), Some(2.0)));
    assert_eq!(value(s, "12", "I7"), (Some(1.0), Some(2.0)));
    assert_eq!(value(s, "03421", "I10"), (Some(1.0), Some(1.0)));

    // this year: HTX 1 dissolved, HTX 2 rated good, HTX 1's loan cancelled, Bản Hon's 2025
    // report revised (13.1 not met), HTX 3 established
    apply(vec![
        (
            "r1v2",
            registry(
                1,
                2,
                "2026-02-01T09:00:00+07:00",
                "dissolved",
                "good",
                "2024-05-01",
            ),
        ),
        (
            "r2v2",
            registry(
                2,
                2,
                "2026-03-01T09:00:00+07:00",
                "active",
                "good",
                "2024-06-01",
            ),
        ),
        (
            "r3v1",
            registry(
                3,
                1,
                "2026-03-02T09:00:00+07:00",
                "active",
                "fair",
                "2026-03-01",
            ),
        ),
        ("g1b", {
            let mut g = golden(1, "dissolved", "good", "2024-05-01");
            if let Input::Golden(g) = &mut g {
                g.version = 2;
            }
            g
        }),
        ("g2b", {
            let mut g = golden(2, "active", "good", "2024-06-01");
            if let Input::Golden(g) = &mut g {
                g.version = 2;
            }
            g
        }),
        ("g3", golden(3, "active", "fair", "2026-03-01")),
        ("l1v2", loan(1, "cancelled", "2026-01-15T09:00:00+07:00")),
        ("n2", report(2, false, "2026-02-15T09:00:00+07:00")),
    ])
    .await;
    let now = snapshots
        .recompute(UnitList::Units2024, Some(today))
        .await
        .expect("today");
    assert_eq!(
        value(&now.snapshot, "12", "I3"),
        (Some(2.0), Some(2.0)),
        "2 and 3 now"
    );
    assert_eq!(value(&now.snapshot, "12", "I7"), (Some(0.0), Some(2.0)));
    assert_eq!(value(&now.snapshot, "12", "I1"), (Some(3.0), None));

    for (list, was) in UnitList::ALL.into_iter().zip(&then) {
        let again = snapshots
            .recompute(list, Some(last_day))
            .await
            .expect("again")
            .snapshot;
        assert_eq!(again.as_of, last_day);
        assert_eq!(again.units, was.units, "{list}: last year's numbers");
    }
    env.drop_database().await;
}

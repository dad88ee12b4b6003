//! The projection's batch path on the real database: inputs applied in ONE transaction give
//! exactly the projection that applying them one by one gives, also when one batch holds
//! several versions of the same golden record, loan or registry record (order matters for
//! some of them) and duplicates within the batch and of an earlier batch. Every version of a
//! loan and of a registry record is kept (`loan_versions`, `registry_versions`).

use hub_indicators::service::MIGRATOR;
use hub_indicators::store::{Input, Store};
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

fn golden(org: u128, version: u64, retired: bool) -> Input {
    Input::Golden(Box::new(
        serde_json::from_value(json!({
            "organisation_id": uuid::Uuid::from_u128(org),
            "version": version,
            "retired": retired,
            "kind": "HTX",
            "name": format!("HTX {org} v{version}"),
            "commune_code": "03400",
            "district_code": "106",
            "in_registry": true,
            "source_refs": [{"system": "coop-alliance", "id": format!("LM-{org}")}],
            "updated_at": "2025-03-01T00:00:00Z",
        }))
        .expect("a golden record"),
    ))
}

fn loan(no: &str, modified: &str, fetched: &str, amount: u64) -> Input {
    Input::Loan(Box::new(
        serde_json::from_value(json!({
            "meta": meta("loan-fund", no, fetched),
            "loan_no": no,
            "borrower": {"name": "HTX chè Tả Lèng", "tax_code": "6200123456"},
            "borrower_type": "cooperative",
            "amount_vnd": amount,
            "status": "disbursed",
            "modified": modified,
        }))
        .expect("a loan"),
    ))
}

fn registry(id: &str, version: u64, fetched: &str) -> Input {
    Input::Registry(Box::new(
        serde_json::from_value(json!({
            "meta": meta("coop-alliance", id, fetched),
            "kind": "HTX",
            "name": "Hợp tác xã chè Tả Lèng",
            "updated_at": "2025-03-01T08:00:00+07:00",
            "version": version,
        }))
        .expect("a registry record"),
    ))
}

fn report(revision: u32, status: &str, fetched: &str) -> Input {
    Input::Ntm(Box::new(
        serde_json::from_value(json!({
            "meta": meta("ntm", "03400:2024", fetched),
            "commune_code": "03400",
            "year": 2024,
            "revision": revision,
            "status": status,
            "criteria": [],
            "cooperatives": [{"source_id": "03400:2024:0", "index": 0, "name": "HTX Tả Lèng", "effective": true}],
        }))
        .expect("a report"),
    ))
}

fn decision(n: u128, outcome: &str) -> Input {
    Input::Decision(Box::new(
        serde_json::from_value(json!({
            "decision_id": uuid::Uuid::from_u128(n),
            "at": "2025-03-01T00:00:00Z",
            "outcome": outcome,
            "source": {"system": "loan-fund", "id": format!("Q-{n}")},
            "organisation_id": uuid::Uuid::from_u128(1),
            "rule": "tax-code",
            "rule_version": "1",
        }))
        .expect("a decision"),
    ))
}

/// Message ids and inputs, in arrival order (ids repeat where a message is delivered again).
fn feed() -> Vec<(&'static str, Input)> {
    vec![
        ("g1v1", golden(1, 1, false)),
        ("g2v2", golden(2, 2, false)),
        ("g1v3", golden(1, 3, false)),
        ("g1v2", golden(1, 2, false)), // older than what is held: ignored
        ("g2v1", golden(2, 1, false)),
        ("g2v3", golden(2, 3, true)),
        (
            "l1a",
            loan(
                "Q-1",
                "2025-03-01T08:00:00+07:00",
                "2025-03-02T08:00:00+07:00",
                1,
            ),
        ),
        (
            "l1b",
            loan(
                "Q-1",
                "2025-03-03T08:00:00+07:00",
                "2025-03-04T08:00:00+07:00",
                2,
            ),
        ),
        (
            "l1c",
            loan(
                "Q-1",
                "2025-03-02T08:00:00+07:00",
                "2025-03-05T08:00:00+07:00",
                3,
            ),
        ),
        // the registry's rule keeps the greatest version and fetch time only when the pair is
        // greater: applied in this order, the fetch time of r1b is never taken
        ("r1a", registry("LM-1", 2, "2025-03-01T08:00:00+07:00")),
        ("r1b", registry("LM-1", 1, "2025-03-09T08:00:00+07:00")),
        ("r1c", registry("LM-1", 2, "2025-03-02T08:00:00+07:00")),
        ("n1", report(1, "draft", "2025-03-01T08:00:00+07:00")),
        ("n2", report(2, "approved", "2025-03-02T08:00:00+07:00")),
        (
            "n1again",
            report(1, "approved", "2025-03-03T08:00:00+07:00"),
        ),
        ("d1", decision(1, "matched")),
        ("d2", decision(2, "review")),
        ("d1b", decision(1, "matched")),
    ]
}

async fn store(env: &TestEnv) -> Store {
    let db = Database::connect(&env.config.database_url, "indicators", Some(&MIGRATOR))
        .await
        .expect("database");
    Store::new(db)
}

/// Every projection table, as text, in key order.
async fn dump(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for q in [
        "SELECT organisation_id::text || ' ' || version || ' ' || retired || ' ' || (record->>'name') FROM golden_records ORDER BY 1",
        "SELECT loan_no || ' ' || modified || ' ' || fetched_at || ' ' || (record->>'amount_vnd') FROM loans ORDER BY 1",
        "SELECT commune_code || ' ' || year || ' ' || revision || ' ' || status || ' ' || fetched_at FROM ntm_revisions ORDER BY 1",
        "SELECT source_id || ' ' || version || ' ' || fetched_at FROM registry_records ORDER BY 1",
        "SELECT loan_no || ' ' || modified || ' ' || fetched_at || ' ' || (record->>'amount_vnd') FROM loan_versions ORDER BY 1",
        "SELECT source_id || ' ' || version || ' ' || updated_at || ' ' || fetched_at FROM registry_versions ORDER BY 1",
        "SELECT decision_id::text || ' ' || outcome || ' ' || by_operator FROM decisions ORDER BY 1",
        "SELECT consumer || ' ' || message_id FROM inbox ORDER BY 1",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(q)
            .fetch_all(&store.db.pool)
            .await
            .expect("projection");
        out.extend(rows);
    }
    out
}

#[tokio::test]
async fn a_batch_gives_the_projection_of_one_by_one_and_duplicates_count_once() {
    let feed = feed();

    let one = TestEnv::new().await;
    let single = store(&one).await;
    let mut changed = Vec::new();
    for (id, input) in &feed {
        changed.push(single.apply(id, input).await.expect("applied"));
    }
    assert_eq!(
        changed.iter().filter(|c| !**c).count(),
        3,
        "two older golden records and a duplicate decision change nothing (an older loan or \
         registry version is kept among the versions, for the state as of a past date): \
         {changed:?}"
    );
    let expected = dump(&single).await;

    let two = TestEnv::new().await;
    let batched = store(&two).await;
    // the first two alone, then everything else in one batch with duplicates of both
    assert!(
        batched
            .apply_batch(&[(feed[0].0, &feed[0].1), (feed[1].0, &feed[1].1)])
            .await
            .expect("first batch")
    );
    let mut rest: Vec<(&str, &Input)> = Vec::new();
    for (i, (id, input)) in feed.iter().enumerate().skip(2) {
        rest.push((id, input));
        if i % 3 == 0 {
            rest.push((id, input)); // delivered twice within the batch
        }
    }
    rest.push((feed[0].0, &feed[0].1)); // delivered again after its batch
    assert!(batched.apply_batch(&rest).await.expect("second batch"));
    assert_eq!(
        dump(&batched).await,
        expected,
        "a batch gives what one by one gives"
    );

    // a batch of nothing but duplicates changes nothing
    assert!(
        !batched
            .apply_batch(&[(feed[3].0, &feed[3].1), (feed[0].0, &feed[0].1)])
            .await
            .expect("duplicates")
    );
    assert_eq!(dump(&batched).await, expected);
    one.drop_database().await;
    two.drop_database().await;
}

//! The reconciliation log's rows on the real database: a row keeps in JSON only what its
//! columns do not hold (no second copy of the decision id, outcome, source record,
//! organisation or candidate), and the log read back is exactly the decisions made, in
//! their order.

mod common;

use common::*;
use hub_contracts::v1::{BorrowerType, OrgKind};
use hub_reconciler::engine::observation::Observation;
use hub_reconciler::service::{Cause, Shared};
use hub_reconciler::store::{self, LogFilter};
use hub_reconciler::{MIGRATOR, SCHEMA};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;
use serde_json::Value;

#[tokio::test]
async fn log_rows_hold_no_copy_of_their_columns_and_read_back_whole() {
    let env = TestEnv::new().await;
    let db = Database::connect(&env.config.database_url, SCHEMA, Some(&MIGRATOR))
        .await
        .expect("database");
    let shared = Shared::load(db.clone(), CancellationToken::new(), 500)
        .await
        .expect("engine loads");
    let reg = registry(
        "LM-1",
        "Hợp tác xã chè Tả Lèng",
        OrgKind::Htx,
        Some("6200123456"),
        "03400",
        Some("Lò Văn Phong"),
        None,
    );
    let ln = loan(
        "Q-1",
        "HTX chè Tả Lèng",
        BorrowerType::Cooperative,
        Some("6200123456"),
        "Tả Lèng, Tam Đường",
        None,
        None,
    );
    let mut made = Vec::new();
    for obs in [
        Observation::from_registry(&reg),
        Observation::from_loan(&ln),
    ] {
        let ch = shared
            .apply(&Cause::default(), move |e, now| Ok(e.observe(obs, now)))
            .await
            .expect("applied")
            .expect("not a duplicate");
        made.extend(ch.decisions);
    }
    assert!(made.len() >= 2, "a decision per record: {made:?}");
    assert!(
        made.iter()
            .any(|d| d.organisation_id.is_some() && d.source.is_some())
    );

    let rows: Vec<Value> = sqlx::query_scalar("SELECT decision FROM decisions ORDER BY seq")
        .fetch_all(&db.pool)
        .await
        .expect("rows");
    for r in &rows {
        for k in [
            "decision_id",
            "outcome",
            "source",
            "organisation_id",
            "candidate_id",
        ] {
            assert!(r.get(k).is_none(), "{k} is a column, not in the JSON: {r}");
        }
    }
    let log = store::query_log(&db.pool, &LogFilter::default(), None, 100)
        .await
        .expect("log");
    assert_eq!(
        log, made,
        "the log reads back every decision whole, in order"
    );
    env.drop_database().await;
}

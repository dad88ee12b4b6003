//! The checkpoint's commit (one statement): a page's rows and its watermark land together,
//! the watermark never moves backwards, a page without a watermark records its rows and
//! leaves the checkpoint alone, and a later reading of a record replaces the earlier one.

use chrono::{DateTime, FixedOffset};
use hub_adapter_kit::checkpoint::{RecordRow, Watermark};
use hub_adapter_kit::{MIGRATOR, Store, schema_for};
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("a time")
}

fn row(id: &str, hash: &str, message: Option<&str>) -> RecordRow {
    RecordRow {
        source_id: id.to_owned(),
        content_hash: hash.to_owned(),
        marker: None,
        message_id: message.map(str::to_owned),
        invalid_reason: message.is_none().then(|| "no name".to_owned()),
    }
}

async fn pages(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT pages FROM checkpoint")
        .fetch_one(&store.database().pool)
        .await
        .expect("the checkpoint row")
}

#[tokio::test]
async fn a_page_commits_its_rows_and_watermark_together_never_backwards() {
    let env = TestEnv::new().await;
    let db = Database::connect(
        &env.config.database_url,
        &schema_for("probe"),
        Some(&MIGRATOR),
    )
    .await
    .expect("adapter database");
    let store = Store::new(db, "probe");
    assert_eq!(store.watermark().await.expect("read"), None);

    // nothing to write: nothing happens
    store.commit(&[], None).await.expect("empty commit");
    assert_eq!(store.watermark().await.expect("read"), None);

    let w2 = Watermark::new(at("2026-12-01T10:00:00+07:00"), "b");
    store
        .commit(
            &[row("a", "h1", Some("m1")), row("b", "h2", None)],
            Some(&w2),
        )
        .await
        .expect("page 1");
    assert_eq!(store.watermark().await.expect("read"), Some(w2.clone()));
    assert_eq!(pages(&store).await, 1);
    assert_eq!(
        store.committed().await.expect("rows"),
        vec![("a".into(), Some("m1".into())), ("b".into(), None)]
    );
    assert_eq!(
        store.invalid_records().await.expect("invalid"),
        vec![("b".into(), "no name".into())]
    );

    // an older watermark (a re-read of the overlap) records the rows, keeps the watermark
    let w1 = Watermark::new(at("2026-12-01T09:00:00+07:00"), "z");
    store
        .commit(&[row("b", "h3", Some("m3"))], Some(&w1))
        .await
        .expect("page 2");
    assert_eq!(store.watermark().await.expect("read"), Some(w2.clone()));
    assert_eq!(pages(&store).await, 2);
    let stored = store
        .stored(&["a".into(), "b".into(), "c".into()])
        .await
        .expect("stored");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored["b"].content_hash, "h3");
    assert!(store.invalid_records().await.expect("invalid").is_empty());

    // a page without a watermark: its rows, the checkpoint untouched
    store
        .commit(&[row("c", "h4", Some("m4"))], None)
        .await
        .expect("page 3");
    assert_eq!(store.watermark().await.expect("read"), Some(w2));
    assert_eq!(pages(&store).await, 2);
    assert_eq!(store.committed().await.expect("rows").len(), 3);

    // a later watermark moves it on
    let w3 = Watermark::new(at("2026-12-01T10:00:00+07:00"), "c");
    store.commit(&[], Some(&w3)).await.expect("page 4");
    assert_eq!(store.watermark().await.expect("read"), Some(w3));
    assert_eq!(pages(&store).await, 3);
    env.drop_database().await;
}

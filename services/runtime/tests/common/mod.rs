//! Helpers shared by the runtime's integration tests: a handler whose effect is counted in
//! PostgreSQL, behind the inbox, so that doubled effects are visible.

#![allow(dead_code)]

use std::sync::Arc;

use hub_contracts::Envelope;
use hub_contracts::v1::{IdentityMerged, SourceRef};
use hub_runtime::messaging::{HandlerError, Incoming};
use hub_runtime::storage::{Database, inbox};
use tokio::sync::mpsc;
use uuid::Uuid;

/// A small valid contract message carrying a sequence number in `reason`.
pub fn message(n: u64) -> Envelope<IdentityMerged> {
    let data = IdentityMerged {
        survivor: Uuid::from_u128(n as u128),
        absorbed: vec![],
        moved_refs: vec![SourceRef::new("test", n.to_string())],
        reason: n.to_string(),
        decided_by: None,
        decision_id: Uuid::from_u128(n as u128),
        at: chrono::Utc::now(),
    };
    Envelope::new(format!("msg-{n}"), "urn:coophub:test", data)
}

pub async fn effects_db(url: &str) -> Database {
    let db = Database::connect(url, "svc", None).await.expect("database");
    sqlx::query("CREATE TABLE IF NOT EXISTS effects (n BIGINT PRIMARY KEY, times INT NOT NULL)")
        .execute(&db.pool)
        .await
        .expect("effects table");
    db
}

/// Applies a message's effect once: claim in the inbox, bump a counter, in one transaction.
/// Reports every handled delivery (duplicates included) on `seen`.
#[derive(Clone)]
pub struct CountingHandler {
    pub db: Database,
    pub seen: mpsc::UnboundedSender<(u64, bool)>,
}

impl CountingHandler {
    pub async fn apply(&self, msg: Incoming) -> Result<(), HandlerError> {
        let env = msg.decode::<IdentityMerged>()?;
        let n: u64 = env.data.reason.parse().map_err(HandlerError::permanent)?;
        let mut tx = self.db.pool.begin().await?;
        let first = inbox::claim(&mut tx, "test", &env.id).await?;
        if first {
            sqlx::query(
                "INSERT INTO effects (n, times) VALUES ($1, 1)
                 ON CONFLICT (n) DO UPDATE SET times = effects.times + 1",
            )
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let _ = self.seen.send((n, first));
        Ok(())
    }
}

pub fn counting(db: Database) -> (Arc<CountingHandler>, mpsc::UnboundedReceiver<(u64, bool)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(CountingHandler { db, seen: tx }), rx)
}

pub async fn effect_counts(db: &Database) -> Vec<(i64, i32)> {
    sqlx::query_as("SELECT n, times FROM effects ORDER BY n")
        .fetch_all(&db.pool)
        .await
        .expect("effects")
}

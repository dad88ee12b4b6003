//! The transactional outbox: [`enqueue`] writes messages in the same transaction as the state
//! change that caused them; the [`OutboxRelay`] publishes them with confirms and deletes them
//! only once the broker confirmed. A crash or a broker outage between commit and publish
//! delays messages, never loses them; a crash between confirm and delete republishes them,
//! and consumers' inboxes drop the duplicates.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, Row};

use super::{Database, StorageError};
use crate::messaging::{MessagingError, OutgoingMessage, Publisher, RetryPolicy};
use crate::shutdown::CancellationToken;

fn channel_name(schema: &str) -> String {
    format!("hub_outbox_{schema}")
}

/// Adds messages to the outbox within the caller's transaction; the relay is woken on commit.
pub async fn enqueue(
    conn: &mut PgConnection,
    schema: &str,
    msgs: &[OutgoingMessage],
) -> Result<(), sqlx::Error> {
    if msgs.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(msgs.len());
    let mut exchanges = Vec::with_capacity(msgs.len());
    let mut keys = Vec::with_capacity(msgs.len());
    let mut types = Vec::with_capacity(msgs.len());
    let mut bodies = Vec::with_capacity(msgs.len());
    let mut headers = Vec::with_capacity(msgs.len());
    for m in msgs {
        ids.push(m.message_id.clone());
        exchanges.push(m.exchange.clone());
        keys.push(m.routing_key.clone());
        types.push(m.contract_type.clone());
        bodies.push(m.body.clone());
        headers.push(serde_json::to_value(&m.headers).unwrap_or_default());
    }
    // one round trip: the rows, and the relay's wake-up (sent on commit); a data-modifying
    // WITH runs to completion whether or not the query reads it
    sqlx::query(
        "WITH queued AS (
            INSERT INTO outbox (message_id, exchange, routing_key, contract_type, body, headers)
            SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[],
                                 $6::jsonb[]))
         SELECT pg_notify($7, '')",
    )
    .bind(&ids)
    .bind(&exchanges)
    .bind(&keys)
    .bind(&types)
    .bind(&bodies)
    .bind(&headers)
    .bind(channel_name(schema))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Rows waiting in the outbox.
pub async fn pending(pool: &sqlx::PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(pool)
        .await
}

/// Why a relay pass failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Messaging(#[from] MessagingError),
}

/// Publishes the outbox of one service's schema.
pub struct OutboxRelay {
    db: Database,
    publisher: Arc<Publisher>,
    batch: i64,
}

impl OutboxRelay {
    pub fn new(db: Database, publisher: Arc<Publisher>) -> Self {
        Self {
            db,
            publisher,
            batch: 500,
        }
    }

    pub fn batch(mut self, n: i64) -> Self {
        self.batch = n.max(1);
        self
    }

    /// Publishes one batch; returns how many messages were confirmed and deleted.
    pub async fn drain_once(&self) -> Result<usize, RelayError> {
        let mut tx = self.db.pool.begin().await?;
        let rows = sqlx::query(
            "SELECT seq, message_id, exchange, routing_key, contract_type, body, headers
             FROM outbox ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut seqs = Vec::with_capacity(rows.len());
        let mut msgs = Vec::with_capacity(rows.len());
        for r in &rows {
            seqs.push(r.try_get::<i64, _>("seq")?);
            let headers: serde_json::Value = r.try_get("headers")?;
            msgs.push(OutgoingMessage {
                message_id: r.try_get("message_id")?,
                exchange: r.try_get("exchange")?,
                routing_key: r.try_get("routing_key")?,
                contract_type: r.try_get("contract_type")?,
                body: r.try_get("body")?,
                headers: serde_json::from_value(headers).unwrap_or_default(),
            });
        }
        self.publisher.publish_batch(&msgs).await?;
        sqlx::query("DELETE FROM outbox WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(msgs.len())
    }

    /// Publishes everything that is waiting, then waits for new rows (a notification, or a
    /// poll every second as a fallback) until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut listener = None;
        let mut backoff = RetryPolicy::reconnect_backoff();
        while !shutdown.is_cancelled() {
            if listener.is_none() {
                match PgListener::connect_with(&self.db.pool).await {
                    Ok(mut l) => match l.listen(&channel_name(&self.db.schema)).await {
                        Ok(()) => listener = Some(l),
                        Err(e) => tracing::warn!(error = %e, "outbox listener failed; polling"),
                    },
                    Err(e) => tracing::warn!(error = %e, "outbox listener unavailable; polling"),
                }
            }
            match self.drain_once().await {
                Ok(n) if n > 0 => {
                    backoff.reset();
                    tracing::debug!(published = n, "outbox batch confirmed");
                    continue;
                }
                Ok(_) => backoff.reset(),
                Err(e) => {
                    let wait = backoff.next_wait().unwrap_or(Duration::from_secs(5));
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "outbox relay failed; will retry");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
            }
            // idle: wait for a notification, a poll tick, or shutdown
            let wait = async {
                match listener.as_mut() {
                    Some(l) => {
                        if tokio::time::timeout(Duration::from_secs(1), l.recv())
                            .await
                            .is_ok_and(|r| r.is_err())
                        {
                            return false;
                        }
                        true
                    }
                    None => {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        true
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                ok = wait => if !ok { listener = None; }
            }
        }
        // last pass so that a clean shutdown leaves nothing behind when the broker is up
        let _ = self.drain_once().await;
    }
}

//! The idempotent inbox: `claim` inside the transaction that applies a message's effect. The
//! first claim of a (consumer, message id) wins; a redelivery or a duplicate finds the row
//! and the handler skips the effect. Because claim and effect commit together, a crash in
//! between leaves neither.

use sqlx::PgConnection;

/// Claims `message_id` for `consumer`; true when this is its first taking effect. Call inside
/// the transaction that applies the effect. A concurrent duplicate waits for the first
/// transaction and then gets `false`.
pub async fn claim(
    conn: &mut PgConnection,
    consumer: &str,
    message_id: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(message_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims several message ids for `consumer` in one statement, inside the transaction that
/// applies their effects; returns the ids claimed now (first taking effect). An id given
/// twice is claimed once. Ids are claimed in sorted order, so two transactions claiming
/// overlapping sets wait for each other instead of deadlocking.
pub async fn claim_many(
    conn: &mut PgConnection,
    consumer: &str,
    message_ids: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(Default::default());
    }
    let mut ids = message_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let claimed: Vec<String> = sqlx::query_scalar(
        "INSERT INTO inbox (consumer, message_id)
         SELECT $1, id FROM UNNEST($2::text[]) WITH ORDINALITY AS u(id, n) ORDER BY n
         ON CONFLICT DO NOTHING
         RETURNING message_id",
    )
    .bind(consumer)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(claimed.into_iter().collect())
}

/// Which of `message_ids` took effect for `consumer` already (their claim committed). For a
/// service that prepares work before its transaction; the claim in that transaction still
/// decides.
pub async fn claimed(
    conn: &mut PgConnection,
    consumer: &str,
    message_ids: &[String],
) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(Default::default());
    }
    let done: Vec<String> = sqlx::query_scalar(
        "SELECT message_id FROM inbox WHERE consumer = $1 AND message_id = ANY($2::text[])",
    )
    .bind(consumer)
    .bind(message_ids)
    .fetch_all(conn)
    .await?;
    Ok(done.into_iter().collect())
}

/// Forgets inbox rows older than `days` (a redelivery older than that is not expected).
pub async fn prune(pool: &sqlx::PgPool, days: i32) -> Result<u64, sqlx::Error> {
    let done =
        sqlx::query("DELETE FROM inbox WHERE processed_at < now() - make_interval(days => $1)")
            .bind(days)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

//! The per-agency exchange log (`inbound.exchange_log`): every push this service decided on,
//! forwarded or refused, with the agency user that pushed it (broker-verified), the message
//! id, the contract type, the SHA-256 of the pushed payload, the outcome (and why it was
//! refused) and when; and every event the hub published on an exchange an agency reads
//! (outcome `delivered`), once per agency that reads it. Owns this table only.
//!
//! One hash chain per agency user ([`hub_runtime::chain`], the format the console's audit log
//! uses): a row's `prev_hash` is the hash of the same agency's row before it. Rows of one
//! agency are appended under a transaction-scoped advisory lock on that agency, so that each
//! chain has one order even with several consumers or replicas; agencies do not wait for one
//! another. The table is append-only (a trigger refuses `UPDATE`, `DELETE`, `TRUNCATE`) and a
//! push is recorded once (`UNIQUE (agency, message_id)`, like an inbox): a redelivered or
//! retried push adds nothing. A delivered event is recorded once per agency too (its own
//! `direction`, so a push cannot pre-empt an event's row by reusing its id).
//!
//! The hashed content of a row is the JSON array
//! `[id, agency, message_id, contract_type, body_sha256, outcome, reason, at]`
//! (`reason` `null` when forwarded, `at` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`); `body_sha256` is
//! [`hub_contracts::content_hash`] of the envelope's `data` (its canonical JSON: keys sorted,
//! no whitespace), which an agency can recompute from what it sent.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use hub_runtime::chain::{self, ChainedRow, GENESIS};
use serde_json::{Value, json};

/// The agency recorded for a push that carried no publisher at all.
pub const NO_PUBLISHER: &str = "-";

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Republished to `coophub.source` and confirmed by the broker.
    Forwarded,
    /// Dead-lettered, with the reason.
    Refused(String),
    /// Not a push: an event the hub published on an exchange the agency reads.
    Delivered,
}

impl Outcome {
    /// The stored outcome and the reason. (The row's `direction`, `pushed` or `received`,
    /// is generated from the outcome by the database.)
    fn columns(&self) -> (&'static str, Option<String>) {
        match self {
            Outcome::Forwarded => ("forwarded", None),
            Outcome::Refused(r) => ("refused", Some(bounded(r, 2000))),
            Outcome::Delivered => ("delivered", None),
        }
    }
}

/// One push (or delivery, [`Outcome::Delivered`]) to record.
#[derive(Debug, Clone)]
pub struct Push<'a> {
    /// The agency user (broker-verified), or [`NO_PUBLISHER`].
    pub agency: &'a str,
    pub message_id: &'a str,
    pub contract_type: &'a str,
    /// SHA-256 (hex) of the pushed payload's canonical JSON.
    pub body_sha256: &'a str,
    pub outcome: Outcome,
}

/// One stored row, every column.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: i64,
    agency: String,
    message_id: String,
    contract_type: String,
    body_sha256: String,
    outcome: String,
    reason: Option<String>,
    at: DateTime<Utc>,
    prev_hash: String,
    hash: String,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The hashed fields of a row.
struct Content<'a> {
    id: i64,
    agency: &'a str,
    message_id: &'a str,
    contract_type: &'a str,
    body_sha256: &'a str,
    outcome: &'a str,
    reason: Option<&'a str>,
    at: &'a DateTime<Utc>,
}

impl Content<'_> {
    /// The hashed fields in their fixed order:
    /// `[id, agency, message_id, contract_type, body_sha256, outcome, reason, at]`.
    fn json(&self) -> Value {
        json!([
            self.id,
            self.agency,
            self.message_id,
            self.contract_type,
            self.body_sha256,
            self.outcome,
            self.reason,
            ts(self.at)
        ])
    }
}

impl Row {
    fn chained(self) -> ChainedRow {
        ChainedRow {
            id: self.id,
            content: Content {
                id: self.id,
                agency: &self.agency,
                message_id: &self.message_id,
                contract_type: &self.contract_type,
                body_sha256: &self.body_sha256,
                outcome: &self.outcome,
                reason: self.reason.as_deref(),
                at: &self.at,
            }
            .json(),
            prev_hash: Some(self.prev_hash),
            hash: Some(self.hash),
        }
    }
}

/// The exchange log.
#[derive(Clone, Debug)]
pub struct ExchangeLog {
    pool: sqlx::PgPool,
}

impl ExchangeLog {
    /// The log in the database `pool` is connected to (its `search_path` the `inbound` schema).
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }

    /// Appends `push` to its agency's chain, unless that agency's message id is recorded
    /// already (in the same direction); returns whether a row was added.
    pub async fn record(&self, push: &Push<'_>) -> Result<bool, sqlx::Error> {
        Ok(self.record_many(std::slice::from_ref(push)).await? == 1)
    }

    /// Appends `pushes` (in order) to their agencies' chains in one transaction, skipping
    /// what is recorded already; returns how many rows were added. The agencies' locks are
    /// taken in name order, so two writers never wait on each other in a cycle.
    pub async fn record_many(&self, pushes: &[Push<'_>]) -> Result<usize, sqlx::Error> {
        if pushes.is_empty() {
            return Ok(0);
        }
        let mut agencies: Vec<String> = pushes.iter().map(|p| bounded(p.agency, 200)).collect();
        agencies.sort();
        agencies.dedup();
        let mut tx = self.pool.begin().await?;
        // one writer per agency at a time, so that its chain has one order
        for agency in &agencies {
            sqlx::query(
                "SELECT pg_advisory_xact_lock(hashtextextended('inbound.exchange_log:' || $1, 0))",
            )
            .bind(agency)
            .execute(&mut *tx)
            .await?;
        }
        // each chain's head, and the rows' ids (increasing, taken under the locks)
        let mut heads: HashMap<String, String> = sqlx::query_as(
            "SELECT DISTINCT ON (agency) agency, hash FROM exchange_log
              WHERE agency = ANY($1) ORDER BY agency, id DESC",
        )
        .bind(&agencies)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        let mut ids: Vec<i64> = sqlx::query_scalar(
            "SELECT nextval(pg_get_serial_sequence('exchange_log', 'id'))
               FROM generate_series(1, $1::int)",
        )
        .bind(i32::try_from(pushes.len()).unwrap_or(i32::MAX))
        .fetch_all(&mut *tx)
        .await?;
        ids.sort_unstable();
        let mut added = 0;
        for (push, id) in pushes.iter().zip(ids) {
            let agency = bounded(push.agency, 200);
            let prev = heads
                .get(&agency)
                .cloned()
                .unwrap_or_else(|| GENESIS.to_owned());
            // a row recorded already (same agency, direction and id) is skipped by the
            // constraint and leaves the head where it was
            if let Some(hash) = append(&mut tx, push, id, &prev).await? {
                heads.insert(agency, hash);
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// The rows of `agency` (every agency when `None`) after `after`, at most `limit`, in id
    /// order, with their hashed content and links.
    pub async fn export(
        &self,
        agency: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<ChainedRow>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, agency, message_id, contract_type, body_sha256, outcome, reason, at,
                    prev_hash, hash
               FROM exchange_log
              WHERE id > $1 AND ($2::text IS NULL OR agency = $2)
              ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(agency)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Row::chained).collect())
    }

    /// Every row of `agency` (every agency when `None`), in id order.
    pub async fn export_all(&self, agency: Option<&str>) -> Result<Vec<ChainedRow>, sqlx::Error> {
        let mut rows = Vec::new();
        let mut after = i64::MIN;
        loop {
            let page = self.export(agency, after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            rows.extend(page);
        }
        Ok(rows)
    }
}

/// Inserts `push` as row `id` after `prev` inside `tx` (which holds the agency's lock), unless
/// it is recorded already; returns the new row's hash when it was added.
async fn append(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    push: &Push<'_>,
    id: i64,
    prev: &str,
) -> Result<Option<String>, sqlx::Error> {
    let (outcome, reason) = push.outcome.columns();
    let agency = bounded(push.agency, 200);
    let message_id = bounded(push.message_id, 500);
    let contract_type = bounded(push.contract_type, 200);
    let body_sha256 = bounded(push.body_sha256, 64);
    // stored with microseconds: hash what is stored
    let at = Utc::now().trunc_subsecs(6);
    let content = Content {
        id,
        agency: &agency,
        message_id: &message_id,
        contract_type: &contract_type,
        body_sha256: &body_sha256,
        outcome,
        reason: reason.as_deref(),
        at: &at,
    };
    let hash = chain::link_hash(prev, &content.json());
    let added = sqlx::query(
        "INSERT INTO exchange_log (id, agency, message_id, contract_type, body_sha256,
                                   outcome, reason, at, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT ON CONSTRAINT exchange_log_once DO NOTHING",
    )
    .bind(id)
    .bind(&agency)
    .bind(&message_id)
    .bind(&contract_type)
    .bind(&body_sha256)
    .bind(outcome)
    .bind(reason.as_deref())
    .bind(at)
    .bind(prev)
    .bind(&hash)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok((added == 1).then_some(hash))
}

/// Trims a value the pusher controls to a sane size.
fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, agency: &str, prev: &str) -> ChainedRow {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("time")
            .with_timezone(&Utc);
        let content = Content {
            id,
            agency,
            message_id: "m",
            contract_type: "source.cooperative.v1",
            body_sha256: "ab",
            outcome: "forwarded",
            reason: None,
            at: &at,
        }
        .json();
        let hash = chain::link_hash(prev, &content);
        ChainedRow {
            id,
            content,
            prev_hash: Some(prev.to_owned()),
            hash: Some(hash),
        }
    }

    #[test]
    fn rows_chain_and_an_edit_is_named() {
        let a1 = row(1, "agency-a", GENESIS);
        let a2 = row(3, "agency-a", a1.hash.as_deref().expect("hash"));
        let v = chain::verify(&[a1.clone(), a2.clone()], None);
        assert_eq!((v.rows, v.problem), (2, None));
        assert_eq!(
            a1.content[1],
            json!("agency-a"),
            "the agency is the second field"
        );
        let mut edited = a1;
        edited.content[4] = json!("cd");
        let p = chain::verify(&[edited, a2], None).problem.expect("edited");
        assert_eq!(p.id, 1);
    }
}

//! The operators' audit log (`console.audit_log`): every action taken through the console or
//! the CLI (review decisions, merges, splits, dead-letter replays and discards, sync triggers,
//! recomputes), every login, and every refused attempt (401, 403, 429), with who, when, what
//! and which target.
//!
//! An action is recorded *before* it is carried out ([`Audit::begin`], outcome `pending`),
//! then its outcome is appended as a row of its own that `finishes` the first
//! ([`Audit::finish`]): when the log cannot be written the action is refused, so nothing
//! happens unrecorded.
//!
//! The log is append-only and hash-chained ([`crate::chain`]): a trigger refuses `UPDATE`,
//! `DELETE` and `TRUNCATE`, and each row stores the hash of its content and of the row before
//! it, written under a table lock so that the chain has one order. [`Audit::export`] gives
//! the rows with their hashes (`GET /api/v1/audit/export`), which `hub audit verify` checks,
//! from the console or from a copy. Owns this table only.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::chain::{self, ChainedRow, GENESIS};

/// One entry (an action with its outcome, or a one-step event).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub target: String,
    pub outcome: String,
    pub detail: sqlx::types::Json<serde_json::Value>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One stored row, every column.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    id: i64,
    at: DateTime<Utc>,
    actor: String,
    role: String,
    action: String,
    target: String,
    outcome: String,
    detail: sqlx::types::Json<Value>,
    finished_at: Option<DateTime<Utc>>,
    finishes: Option<i64>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

fn ts(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The hashed fields of a row.
struct Content<'a> {
    id: i64,
    at: &'a DateTime<Utc>,
    entry: &'a Entry<'a>,
    finished_at: Option<&'a DateTime<Utc>>,
}

impl Content<'_> {
    /// The hashed fields in their fixed order:
    /// `[id, at, actor, role, action, target, outcome, detail, finished_at, finishes]`.
    fn json(&self) -> Value {
        let e = self.entry;
        json!([
            self.id,
            ts(self.at),
            e.actor,
            e.role,
            e.action,
            e.target,
            e.outcome,
            e.detail,
            self.finished_at.map(ts),
            e.finishes
        ])
    }
}

/// What a row says, before it is stored (its id, time and hashes are the log's).
struct Entry<'a> {
    actor: &'a str,
    role: &'a str,
    action: &'a str,
    target: &'a str,
    outcome: &'a str,
    detail: &'a Value,
    /// The row of the action this outcome finishes.
    finishes: Option<i64>,
}

impl Row {
    fn chained(self) -> ChainedRow {
        let entry = Entry {
            actor: &self.actor,
            role: &self.role,
            action: &self.action,
            target: &self.target,
            outcome: &self.outcome,
            detail: &self.detail.0,
            finishes: self.finishes,
        };
        let content = Content {
            id: self.id,
            at: &self.at,
            entry: &entry,
            finished_at: self.finished_at.as_ref(),
        }
        .json();
        ChainedRow {
            id: self.id,
            content,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// An action begun with [`Audit::begin`], to finish with [`Audit::finish`].
#[derive(Debug, Clone)]
pub struct Begun {
    pub id: i64,
    actor: String,
    role: String,
    action: String,
    target: String,
}

/// The audit log.
#[derive(Clone)]
pub struct Audit {
    pool: sqlx::PgPool,
}

/// Filters of [`Audit::list`].
#[derive(Debug, Default, Clone, serde::Deserialize, schemars::JsonSchema)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub limit: Option<i64>,
}

/// Trims what a caller controls (a user name typed at the login form) to a sane size.
fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

impl Audit {
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }

    /// Records that `caller` is about to do `action` on `target`.
    pub async fn begin(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        detail: Value,
    ) -> Result<Begun, sqlx::Error> {
        let id = self
            .append(Entry {
                actor: &caller.name,
                role: caller.role.as_str(),
                action,
                target,
                outcome: "pending",
                detail: &detail,
                finishes: None,
            })
            .await?;
        Ok(Begun {
            id,
            actor: caller.name.clone(),
            role: caller.role.as_str().to_owned(),
            action: action.to_owned(),
            target: target.to_owned(),
        })
    }

    /// Records a finished event in one step (a login, a refused attempt).
    pub async fn record(
        &self,
        actor: &str,
        role: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: Value,
    ) -> Result<i64, sqlx::Error> {
        self.append(Entry {
            actor,
            role,
            action,
            target,
            outcome,
            detail: &detail,
            finishes: None,
        })
        .await
    }

    /// Appends the outcome of an action begun with [`Audit::begin`] (`ok` or `failed: …`).
    pub async fn finish(&self, begun: &Begun, outcome: &str) {
        if let Err(e) = self
            .append(Entry {
                actor: &begun.actor,
                role: &begun.role,
                action: &begun.action,
                target: &begun.target,
                outcome,
                detail: &json!({}),
                finishes: Some(begun.id),
            })
            .await
        {
            // the action stays `pending`: it is still recorded as attempted
            tracing::error!(error = %e, id = begun.id, "could not record an action's outcome");
        }
    }

    /// Appends one chained row (the actor and target cut to a sane size); returns its id.
    async fn append(&self, entry: Entry<'_>) -> Result<i64, sqlx::Error> {
        let actor = bounded(entry.actor, 200);
        let target = bounded(entry.target, 500);
        let entry = Entry {
            actor: &actor,
            target: &target,
            ..entry
        };
        let mut tx = self.pool.begin().await?;
        // one writer at a time, so that the chain has one order; readers are not blocked
        sqlx::query("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let prev: Option<String> = sqlx::query_scalar(
            "SELECT hash FROM audit_log WHERE hash IS NOT NULL ORDER BY id DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let prev = prev.unwrap_or_else(|| GENESIS.to_owned());
        let id: i64 =
            sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('audit_log', 'id'))")
                .fetch_one(&mut *tx)
                .await?;
        // stored with microseconds: hash what is stored
        let at = Utc::now().trunc_subsecs(6);
        let finished_at = (entry.outcome != "pending").then_some(at);
        let content = Content {
            id,
            at: &at,
            entry: &entry,
            finished_at: finished_at.as_ref(),
        };
        let hash = chain::link_hash(&prev, &content.json());
        sqlx::query(
            "INSERT INTO audit_log (id, at, actor, role, action, target, outcome, detail,
                                    finished_at, finishes, prev_hash, hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(at)
        .bind(entry.actor)
        .bind(entry.role)
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.outcome)
        .bind(sqlx::types::Json(entry.detail))
        .bind(finished_at)
        .bind(entry.finishes)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Entries, newest first: each action with the outcome appended for it.
    pub async fn list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, sqlx::Error> {
        sqlx::query_as(
            "SELECT b.id, b.at, b.actor, b.role, b.action, b.target,
                    COALESCE(f.outcome, b.outcome) AS outcome, b.detail,
                    COALESCE(f.at, b.finished_at) AS finished_at
               FROM audit_log b
               LEFT JOIN LATERAL (
                    SELECT outcome, at FROM audit_log f
                     WHERE f.finishes = b.id ORDER BY f.id DESC LIMIT 1) f ON true
              WHERE b.finishes IS NULL
                AND ($1::text IS NULL OR b.actor = $1)
                AND ($2::text IS NULL OR b.action = $2)
                AND ($3::text IS NULL OR b.target = $3)
              ORDER BY b.id DESC
              LIMIT $4",
        )
        .bind(&q.actor)
        .bind(&q.action)
        .bind(&q.target)
        .bind(q.limit.unwrap_or(200).clamp(1, 1000))
        .fetch_all(&self.pool)
        .await
    }

    /// Every row after `after` (at most `limit`), oldest first, with its hashed content and
    /// its link: what `hub audit verify` checks.
    pub async fn export(&self, after: i64, limit: i64) -> Result<Vec<ChainedRow>, sqlx::Error> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, actor, role, action, target, outcome, detail, finished_at,
                    finishes, prev_hash, hash
               FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Row::chained).collect())
    }

    /// Checks the whole chain in the database.
    pub async fn verify(&self) -> Result<chain::Verdict, sqlx::Error> {
        let mut rows = Vec::new();
        let mut after = i64::MIN;
        loop {
            let page = self.export(after, 10_000).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            rows.extend(page);
        }
        Ok(chain::verify(&rows, None))
    }
}

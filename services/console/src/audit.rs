//! The operators' audit log (`console.audit_log`): every action taken through the console or
//! the CLI (review decisions, merges, splits, dead-letter replays and discards, sync triggers,
//! recomputes, logins), with who, when, what and which target.
//!
//! An action is recorded *before* it is carried out ([`Audit::begin`], outcome `pending`),
//! then finished with its outcome ([`Audit::finish`]): when the log cannot be written the
//! action is refused, so nothing happens unrecorded. Owns this table only.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::auth::Caller;

/// One entry.
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

/// The audit log.
#[derive(Clone)]
pub struct Audit {
    pool: sqlx::PgPool,
}

/// Filters of [`Audit::list`].
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub limit: Option<i64>,
}

impl Audit {
    pub fn new(pool: sqlx::PgPool) -> Self {
        Self { pool }
    }

    /// Records that `caller` is about to do `action` on `target`; returns the entry's id.
    pub async fn begin(
        &self,
        caller: &Caller,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<i64, sqlx::Error> {
        self.record(
            &caller.name,
            caller.role.as_str(),
            action,
            target,
            "pending",
            detail,
        )
        .await
    }

    /// Records a finished event in one step (a login, a refused login).
    pub async fn record(
        &self,
        actor: &str,
        role: &str,
        action: &str,
        target: &str,
        outcome: &str,
        detail: serde_json::Value,
    ) -> Result<i64, sqlx::Error> {
        let finished = (outcome != "pending").then(Utc::now);
        sqlx::query_scalar(
            "INSERT INTO audit_log (actor, role, action, target, outcome, detail, finished_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(actor)
        .bind(role)
        .bind(action)
        .bind(target)
        .bind(outcome)
        .bind(sqlx::types::Json(detail))
        .bind(finished)
        .fetch_one(&self.pool)
        .await
    }

    /// Sets the outcome of an entry begun with [`Audit::begin`] (`ok` or `failed: …`).
    pub async fn finish(&self, id: i64, outcome: &str) {
        if let Err(e) =
            sqlx::query("UPDATE audit_log SET outcome = $2, finished_at = now() WHERE id = $1")
                .bind(id)
                .bind(outcome)
                .execute(&self.pool)
                .await
        {
            // the entry stays `pending`: the action is still recorded as attempted
            tracing::error!(error = %e, id, "could not record an action's outcome");
        }
    }

    /// Entries, newest first.
    pub async fn list(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, at, actor, role, action, target, outcome, detail, finished_at
               FROM audit_log
              WHERE ($1::text IS NULL OR actor = $1)
                AND ($2::text IS NULL OR action = $2)
                AND ($3::text IS NULL OR target = $3)
              ORDER BY id DESC
              LIMIT $4",
        )
        .bind(&q.actor)
        .bind(&q.action)
        .bind(&q.target)
        .bind(q.limit.unwrap_or(200).clamp(1, 1000))
        .fetch_all(&self.pool)
        .await
    }
}

//! Persistence of the engine's state in the `reconciler` schema (migrations in
//! `services/reconciler/migrations`): loading a [`Snapshot`] to rebuild the engine at start,
//! writing what one engine operation changed in the caller's transaction ([`persist`], in
//! `store/persist.rs`: one function a table), and the read queries behind the HTTP API.
//!
//! Owns the SQL. Reads and writes only this service's schema; never another service's.

use chrono::{DateTime, Utc};
use hub_contracts::v1::{GoldenRecord, ReconciliationDecision, SourceRef};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::engine::{
    Constraint, ConstraintKind, Counters, ObsState, ReportState, ReviewItem, ReviewStatus,
    Snapshot, StoredIdentity, StoredObservation,
};

mod persist;

pub use persist::{Rows, persist};

/// Why the stored state could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("stored {what} is unreadable: {message}")]
    Corrupt { what: &'static str, message: String },
}

fn corrupt(what: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what,
        message: e.to_string(),
    }
}

/// Each row's JSON column `column` read as a `T` (`what` names it when it does not read).
fn from_json<T: serde::de::DeserializeOwned>(
    rows: Vec<PgRow>,
    column: &str,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|r| {
            let v: Value = r.try_get(column)?;
            serde_json::from_value(v).map_err(|e| corrupt(what, e))
        })
        .collect()
}

/// The state sequence and counters.
pub async fn engine_state(conn: &mut PgConnection) -> Result<(i64, Counters), sqlx::Error> {
    let r = sqlx::query(
        "SELECT state_seq, next_org_seq, next_decision_seq, next_review_seq FROM engine_state",
    )
    .fetch_one(conn)
    .await?;
    Ok((
        r.try_get("state_seq")?,
        Counters {
            next_org_seq: r.try_get::<i64, _>("next_org_seq")? as u64,
            next_decision_seq: r.try_get::<i64, _>("next_decision_seq")? as u64,
            next_review_seq: r.try_get::<i64, _>("next_review_seq")? as u64,
        },
    ))
}

/// Everything the engine needs to be rebuilt, and the state sequence it corresponds to.
pub async fn load_snapshot(conn: &mut PgConnection) -> Result<(i64, Snapshot), StoreError> {
    let (seq, counters) = engine_state(conn).await?;
    let mut snap = Snapshot {
        counters,
        ..Snapshot::default()
    };
    let rows = sqlx::query(
        "SELECT organisation_id, seq, retired, merged_into, golden_version, golden_hash, last_name
         FROM identities",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        snap.identities.push(StoredIdentity {
            organisation_id: r.try_get("organisation_id")?,
            seq: r.try_get::<i64, _>("seq")? as u64,
            retired: r.try_get("retired")?,
            merged_into: r.try_get("merged_into")?,
            golden_version: r.try_get::<i64, _>("golden_version")? as u64,
            golden_hash: r.try_get("golden_hash")?,
            last_name: r.try_get("last_name")?,
        });
    }
    let rows = sqlx::query("SELECT state, organisation_id, observation FROM observations")
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        let state: String = r.try_get("state")?;
        let state = ObsState::parse(&state).ok_or_else(|| corrupt("observation state", &state))?;
        let obs: Value = r.try_get("observation")?;
        snap.observations.push(StoredObservation {
            observation: serde_json::from_value(obs).map_err(|e| corrupt("observation", e))?,
            state,
            organisation_id: r.try_get("organisation_id")?,
        });
    }
    let rows = sqlx::query(
        "SELECT a_system, a_id, b_system, b_id, kind, operator, reason, decision_id, at
         FROM constraints",
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in rows {
        let kind: String = r.try_get("kind")?;
        snap.constraints.push(Constraint {
            a: SourceRef::new(
                r.try_get::<String, _>("a_system")?,
                r.try_get::<String, _>("a_id")?,
            ),
            b: SourceRef::new(
                r.try_get::<String, _>("b_system")?,
                r.try_get::<String, _>("b_id")?,
            ),
            kind: ConstraintKind::parse(&kind).ok_or_else(|| corrupt("constraint kind", &kind))?,
            operator: r.try_get("operator")?,
            reason: r.try_get("reason")?,
            decision_id: r.try_get("decision_id")?,
            at: r.try_get("at")?,
        });
    }
    let rows = sqlx::query("SELECT item FROM review_items WHERE status = 'open'")
        .fetch_all(&mut *conn)
        .await?;
    snap.reviews = from_json(rows, "item", "review item")?;
    let rows = sqlx::query("SELECT commune_code, year, revision, entries FROM ntm_reports")
        .fetch_all(&mut *conn)
        .await?;
    for r in rows {
        snap.reports.push(ReportState {
            commune_code: r.try_get("commune_code")?,
            year: r.try_get("year")?,
            revision: r.try_get::<i32, _>("revision")? as u32,
            entries: r.try_get::<i32, _>("entries")? as u32,
        });
    }
    Ok((seq, snap))
}

// ----------------------------------------------------------------------------------------
// Reads for the API.

/// Filters of the cooperative list.
#[derive(Debug, Clone, Default)]
pub struct CooperativeFilter {
    pub commune_code: Option<String>,
    pub district_code: Option<String>,
    pub kind: Option<String>,
    pub in_registry: Option<bool>,
    pub include_retired: bool,
}

/// Golden records in organisation id order, after `cursor`.
pub async fn list_cooperatives(
    pool: &sqlx::PgPool,
    f: &CooperativeFilter,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GoldenRecord>, StoreError> {
    // the current golden record is the version its identity names (`persist`)
    let rows = sqlx::query(
        "SELECT v.record FROM identities i
         JOIN golden_versions v
           ON v.organisation_id = i.organisation_id AND v.version = i.golden_version
         WHERE ($1::uuid IS NULL OR i.organisation_id > $1)
           AND ($2::text IS NULL OR commune_code = $2)
           AND ($3::text IS NULL OR district_code = $3)
           AND ($4::text IS NULL OR kind = $4)
           AND ($5::boolean IS NULL OR in_registry = $5)
           AND ($6 OR NOT retired)
         ORDER BY i.organisation_id
         LIMIT $7",
    )
    .bind(after)
    .bind(&f.commune_code)
    .bind(&f.district_code)
    .bind(&f.kind)
    .bind(f.in_registry)
    .bind(f.include_retired)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    from_json(rows, "record", "golden record")
}

/// One organisation with its history.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct CooperativeHistory {
    pub record: GoldenRecord,
    /// Every published version, oldest first.
    pub versions: Vec<GoldenRecord>,
    /// Merges and splits it took part in, oldest first.
    pub events: Vec<Value>,
    /// Decisions about it (as organisation or candidate), oldest first.
    pub decisions: Vec<ReconciliationDecision>,
}

pub async fn cooperative(
    pool: &sqlx::PgPool,
    id: Uuid,
) -> Result<Option<CooperativeHistory>, StoreError> {
    // every version, the current one (the version its identity names) marked
    let rows = sqlx::query(
        "SELECT v.record, v.version = i.golden_version AS current
         FROM golden_versions v JOIN identities i ON i.organisation_id = v.organisation_id
         WHERE v.organisation_id = $1 ORDER BY v.version",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    // NULL when the identity names no version: then none is current
    let mut current = None;
    for (i, r) in rows.iter().enumerate() {
        if r.try_get::<Option<bool>, _>("current")? == Some(true) {
            current = Some(i);
            break;
        }
    }
    let versions: Vec<GoldenRecord> = from_json(rows, "record", "golden version")?;
    let Some(record) = current.and_then(|i| versions.get(i).cloned()) else {
        return Ok(None);
    };
    let events = sqlx::query(
        "SELECT e.kind, e.event FROM identity_events e
         JOIN identity_event_orgs o ON o.event_seq = e.seq
         WHERE o.organisation_id = $1 ORDER BY e.seq",
    )
    .bind(id)
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|r| -> Result<Value, sqlx::Error> {
        let kind: String = r.try_get("kind")?;
        let event: Value = r.try_get("event")?;
        Ok(serde_json::json!({ "kind": kind, "event": event }))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let decisions = query_log(
        pool,
        &LogFilter {
            organisation: Some(id),
            ..LogFilter::default()
        },
        None,
        10_000,
    )
    .await?;
    Ok(Some(CooperativeHistory {
        record,
        versions,
        events,
        decisions,
    }))
}

/// Review items of a status, oldest first, after `cursor` (a review id).
pub async fn list_reviews(
    pool: &sqlx::PgPool,
    status: Option<ReviewStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ReviewItem>, StoreError> {
    let rows = sqlx::query(
        "SELECT item FROM review_items
         WHERE ($1::text IS NULL OR status = $1)
           AND ($2::uuid IS NULL OR (created_at, review_id) >
                (SELECT created_at, review_id FROM review_items WHERE review_id = $2))
         ORDER BY created_at, review_id
         LIMIT $3",
    )
    .bind(status.map(ReviewStatus::as_str))
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    from_json(rows, "item", "review item")
}

/// Filters of the reconciliation log.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub organisation: Option<Uuid>,
    pub system: Option<String>,
    pub source_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Decisions in log order, after `cursor` (a log sequence number).
pub async fn query_log(
    pool: &sqlx::PgPool,
    f: &LogFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ReconciliationDecision>, StoreError> {
    Ok(query_log_seq(pool, f, after, limit)
        .await?
        .into_iter()
        .map(|(_, d)| d)
        .collect())
}

/// [`query_log`] with each entry's sequence number (the cursor).
pub async fn query_log_seq(
    pool: &sqlx::PgPool,
    f: &LogFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<(i64, ReconciliationDecision)>, StoreError> {
    let rows = sqlx::query(
        // a row's JSON lacks what its columns hold (`persist::slim_decision`; rows written
        // before kept it whole: the columns' values are the same)
        "SELECT seq,
                decision || jsonb_build_object(
                    'decision_id', decision_id,
                    'outcome', outcome,
                    'source', CASE WHEN system IS NULL THEN NULL
                                   ELSE jsonb_build_object('system', system, 'id', source_id) END,
                    'organisation_id', organisation_id,
                    'candidate_id', candidate_id) AS decision
           FROM decisions
         WHERE ($1::uuid IS NULL OR organisation_id = $1 OR candidate_id = $1)
           AND ($2::text IS NULL OR system = $2)
           AND ($3::text IS NULL OR source_id = $3)
           AND ($4::timestamptz IS NULL OR at >= $4)
           AND ($5::timestamptz IS NULL OR at < $5)
           AND ($6::bigint IS NULL OR seq > $6)
         ORDER BY seq
         LIMIT $7",
    )
    .bind(f.organisation)
    .bind(&f.system)
    .bind(&f.source_id)
    .bind(f.since)
    .bind(f.until)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            let seq: i64 = r.try_get("seq")?;
            let v: Value = r.try_get("decision")?;
            let d = serde_json::from_value(v).map_err(|e| corrupt("decision", e))?;
            Ok((seq, d))
        })
        .collect()
}

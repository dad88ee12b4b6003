//! Incremental-sync state in PostgreSQL, in the adapter's own schema (`adapter_<system>`):
//!
//! - the **checkpoint**: a compound watermark (timestamp, key) saying where the last
//!   committed page ended. It never moves backwards: a page that ends before it (a re-read of
//!   the overlap window) leaves it where it is.
//! - the **records** table: per source id, the content hash last committed (dedup), the
//!   source's change marker if it has one, the message id it was published under, or the
//!   reason it could not be published.
//!
//! Both change in ONE statement (so atomically, in one round trip), after the broker
//! confirmed the page's messages ([`Store::commit`]). A crash between confirm and commit republishes the same records under
//! the same deterministic message ids, which consumers' inboxes drop.
//!
//! Owns these two tables; reads and writes nothing else.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use hub_runtime::storage::Database;
use sqlx::Row;
use sqlx::migrate::Migrator;

/// The kit's migrations; pass to `Database::connect(url, schema, Some(&MIGRATOR))`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The schema an adapter keeps its state in: `adapter_` + the system name with `-` as `_`.
pub fn schema_for(system: &str) -> String {
    format!("adapter_{}", system.replace('-', "_"))
}

/// Where a sync got to: records are read in (timestamp, key) order and everything up to and
/// including this pair was committed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Watermark {
    pub ts: DateTime<FixedOffset>,
    pub key: String,
}

impl Watermark {
    pub fn new(ts: DateTime<FixedOffset>, key: impl Into<String>) -> Self {
        Self {
            ts,
            key: key.into(),
        }
    }
}

/// What is remembered of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub content_hash: String,
    pub marker: Option<String>,
}

/// One record's row, written at commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub source_id: String,
    pub content_hash: String,
    pub marker: Option<String>,
    /// The message it was published as (None when invalid).
    pub message_id: Option<String>,
    pub invalid_reason: Option<String>,
}

/// The state of one adapter.
#[derive(Clone, Debug)]
pub struct Store {
    db: Database,
    system: String,
}

fn vn() -> FixedOffset {
    hub_normalise::datetime::vn_offset()
}

impl Store {
    /// The state of `system` in `db` (connected with [`MIGRATOR`]).
    pub fn new(db: Database, system: &str) -> Self {
        Self {
            db,
            system: system.to_owned(),
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The committed watermark, if any page was committed with one.
    pub async fn watermark(&self) -> Result<Option<Watermark>, sqlx::Error> {
        let row =
            sqlx::query("SELECT watermark_ts, watermark_key FROM checkpoint WHERE system = $1")
                .bind(&self.system)
                .fetch_optional(&self.db.pool)
                .await?;
        row.map(|r| {
            let ts: DateTime<Utc> = r.try_get("watermark_ts")?;
            Ok(Watermark {
                ts: ts.with_timezone(&vn()),
                key: r.try_get("watermark_key")?,
            })
        })
        .transpose()
    }

    /// What is remembered of these ids.
    pub async fn stored(&self, ids: &[String]) -> Result<HashMap<String, Stored>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(
            "SELECT source_id, content_hash, marker FROM records WHERE source_id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>("source_id")?,
                    Stored {
                        content_hash: r.try_get("content_hash")?,
                        marker: r.try_get("marker")?,
                    },
                ))
            })
            .collect()
    }

    /// Records the page and advances the watermark (never backwards), atomically: one
    /// statement (the rows, then the checkpoint in a data-modifying CTE), so one round trip.
    pub async fn commit(
        &self,
        rows: &[RecordRow],
        watermark: Option<&Watermark>,
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() && watermark.is_none() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(rows.len());
        let mut hashes = Vec::with_capacity(rows.len());
        let mut markers = Vec::with_capacity(rows.len());
        let mut messages = Vec::with_capacity(rows.len());
        let mut reasons = Vec::with_capacity(rows.len());
        for r in rows {
            ids.push(r.source_id.as_str());
            hashes.push(r.content_hash.as_str());
            markers.push(r.marker.as_deref());
            messages.push(r.message_id.as_deref());
            reasons.push(r.invalid_reason.as_deref());
        }
        sqlx::query(
            "WITH page AS (
                INSERT INTO records (source_id, content_hash, marker, message_id, invalid_reason)
                SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                ON CONFLICT (source_id) DO UPDATE SET
                   content_hash = EXCLUDED.content_hash,
                   marker = EXCLUDED.marker,
                   message_id = EXCLUDED.message_id,
                   invalid_reason = EXCLUDED.invalid_reason,
                   changed_at = CASE WHEN records.content_hash = EXCLUDED.content_hash
                                     THEN records.changed_at ELSE now() END)
             INSERT INTO checkpoint (system, watermark_ts, watermark_key, pages)
             SELECT $6, $7, $8, 1 WHERE $7::timestamptz IS NOT NULL
             ON CONFLICT (system) DO UPDATE SET
                watermark_ts = CASE WHEN (checkpoint.watermark_ts, checkpoint.watermark_key)
                                         < (EXCLUDED.watermark_ts, EXCLUDED.watermark_key)
                                    THEN EXCLUDED.watermark_ts ELSE checkpoint.watermark_ts END,
                watermark_key = CASE WHEN (checkpoint.watermark_ts, checkpoint.watermark_key)
                                          < (EXCLUDED.watermark_ts, EXCLUDED.watermark_key)
                                     THEN EXCLUDED.watermark_key ELSE checkpoint.watermark_key END,
                pages = checkpoint.pages + 1,
                updated_at = now()",
        )
        .bind(&ids)
        .bind(&hashes)
        .bind(&markers)
        .bind(&messages)
        .bind(&reasons)
        .bind(&self.system)
        .bind(watermark.map(|w| w.ts.with_timezone(&Utc)))
        .bind(watermark.map(|w| w.key.as_str()))
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Records that could not form a contract, with the reason, by id.
    pub async fn invalid_records(&self) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(
            "SELECT source_id, invalid_reason FROM records
             WHERE invalid_reason IS NOT NULL ORDER BY source_id",
        )
        .fetch_all(&self.db.pool)
        .await
    }

    /// Every committed record id with the message it was published as (None when invalid).
    pub async fn committed(&self) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
        sqlx::query_as("SELECT source_id, message_id FROM records ORDER BY source_id")
            .fetch_all(&self.db.pool)
            .await
    }
}

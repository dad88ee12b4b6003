//! The service's own tables (schema `indicators`): the projection built from the contracts it
//! consumes, and the immutable snapshots.
//!
//! Owns every SQL statement of the service. Each consumed message takes effect once, in the
//! transaction that claims it in the runtime's inbox; a snapshot row and its outbox message
//! are written in one transaction. Never reads another service's schema, never updates or
//! deletes a snapshot (a trigger refuses it too).

mod apply;

use chrono::{DateTime, NaiveDate, Utc};
use hub_contracts::v1::identity::{GoldenRecord, ReconciliationDecision};
use hub_contracts::v1::indicator::{IndicatorSnapshot, SnapshotProvenance, SourceProvenance};
use hub_contracts::v1::source::{LoanDisbursement, NtmCommuneReport, RegistryCooperative};
use hub_contracts::v1::{FuBranch, FuOfficer, FuTraining};
use hub_contracts::v2::ReconciliationDecisions;
use hub_contracts::{Contract, Envelope};
use hub_runtime::messaging::OutgoingMessage;
use hub_runtime::storage::{Database, inbox, outbox};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::asof::RegistryVersion;
use crate::plan::UnitList;

/// The inbox consumer name of the service.
pub const CONSUMER: &str = "indicators";
/// The `source` of every envelope the service publishes.
pub const EVENT_SOURCE: &str = "urn:coophub:indicators";

/// A consumed message, decoded.
#[derive(Debug, Clone)]
pub enum Input {
    Golden(Box<GoldenRecord>),
    Loan(Box<LoanDisbursement>),
    Ntm(Box<NtmCommuneReport>),
    Registry(Box<RegistryCooperative>),
    /// `reconciliation.decision.v1`: one decision.
    Decision(Box<ReconciliationDecision>),
    /// `reconciliation.decision.v2`: the decisions of one reconciler transaction (each taken
    /// as a `v1` one would be: a decision already held, by either contract, is kept once).
    Decisions(Box<ReconciliationDecisions>),
    FuBranch(Box<FuBranch>),
    FuOfficer(Box<FuOfficer>),
    FuTraining(Box<FuTraining>),
}

/// What was read back from the projection for a computation.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    pub golden: Vec<GoldenRecord>,
    /// Every version of every loan.
    pub loans: Vec<LoanDisbursement>,
    /// Every version of every registry record (its facts).
    pub registry: Vec<RegistryVersion>,
    pub ntm: Vec<NtmCommuneReport>,
    /// Every version of the Farmers' Union's records.
    pub fu: crate::farmers_union::FuInputs,
}

/// One stored snapshot's header.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotHeader {
    pub snapshot_id: Uuid,
    pub version: u64,
    pub as_of: NaiveDate,
    pub computed_at: DateTime<Utc>,
    pub content_hash: String,
}

/// One indicator value of one unit in one stored version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    pub version: u64,
    pub as_of: NaiveDate,
    pub computed_at: DateTime<Utc>,
    pub value: serde_json::Value,
}

/// The service's tables.
#[derive(Clone, Debug)]
pub struct Store {
    pub db: Database,
}

pub(crate) fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The serde name of a unit enum value (`review`, `approved`).
fn serde_name(o: impl Serialize) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Store {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Applies a message once: claims `message_id` in the inbox and applies the effect in one
    /// transaction. True when the projection changed (a first delivery that was not older
    /// than what is held).
    pub async fn apply(&self, message_id: &str, input: &Input) -> Result<bool, sqlx::Error> {
        self.apply_batch(&[(message_id, input)]).await
    }

    /// Applies messages once each, in order, in ONE transaction: one inbox claim for every
    /// message id (a duplicate, within the batch or of an earlier one, is skipped), then one
    /// statement per table for the rest: of several versions of a golden record, a loan or a
    /// report revision only the newest can take effect, so only it is written; versions of a
    /// registry record go in successive statements in message order (its rule depends on
    /// it). The outcome is the one of applying the messages one by one. True when the
    /// projection changed.
    pub async fn apply_batch(&self, inputs: &[(&str, &Input)]) -> Result<bool, sqlx::Error> {
        let mut tx = self.db.pool.begin().await?;
        let ids: Vec<String> = inputs.iter().map(|(id, _)| (*id).to_owned()).collect();
        let mut claimed = inbox::claim_many(&mut tx, CONSUMER, &ids).await?;
        let mut batch = apply::Batch::default();
        for (id, input) in inputs {
            // a second copy in the batch finds its id taken
            if claimed.remove(*id) {
                batch.push(input);
            }
        }
        let changed = batch.write(&mut tx).await?;
        tx.commit().await?;
        Ok(changed > 0)
    }

    /// The projection and the provenance, read in one consistent (repeatable-read) view.
    pub async fn inputs(&self) -> Result<(Projection, SnapshotProvenance), sqlx::Error> {
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let projection = projection(&mut tx).await?;
        let provenance = provenance(&mut tx).await?;
        tx.commit().await?;
        Ok((projection, provenance))
    }

    /// Stores `snapshot` as the next version of its plan and unit list, with its outbox
    /// message, unless its content hash equals the latest version's: then the latest is
    /// returned and `false`. `snapshot`'s id, version and computed_at are set here.
    pub async fn save_if_changed(
        &self,
        mut snapshot: IndicatorSnapshot,
    ) -> Result<(IndicatorSnapshot, bool), sqlx::Error> {
        let mut tx = self.db.pool.begin().await?;
        // one writer per series at a time
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!(
                "snapshots:{}:{}",
                snapshot.plan_id, snapshot.unit_list
            ))
            .execute(&mut *tx)
            .await?;
        let latest = sqlx::query(
            "SELECT version, content_hash, body FROM snapshots
              WHERE plan_id = $1 AND unit_list = $2 ORDER BY version DESC LIMIT 1",
        )
        .bind(&snapshot.plan_id)
        .bind(&snapshot.unit_list)
        .fetch_optional(&mut *tx)
        .await?;
        let mut version = 1;
        if let Some(row) = latest {
            let hash: String = row.try_get("content_hash")?;
            if hash == snapshot.content_hash {
                let body: Json<IndicatorSnapshot> = row.try_get("body")?;
                tx.commit().await?;
                return Ok((body.0, false));
            }
            version = row.try_get::<i64, _>("version")? + 1;
        }
        snapshot.version = u64::try_from(version).unwrap_or(0);
        snapshot.snapshot_id = Uuid::now_v7();
        snapshot.computed_at = Utc::now();
        sqlx::query(
            "INSERT INTO snapshots
               (snapshot_id, plan_id, unit_list, version, as_of, computed_at, content_hash, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(snapshot.snapshot_id)
        .bind(&snapshot.plan_id)
        .bind(&snapshot.unit_list)
        .bind(version)
        .bind(snapshot.as_of)
        .bind(snapshot.computed_at)
        .bind(&snapshot.content_hash)
        .bind(Json(&snapshot))
        .execute(&mut *tx)
        .await?;
        let envelope = Envelope::new(
            Envelope::<IndicatorSnapshot>::deterministic_id(&[
                IndicatorSnapshot::TYPE,
                &snapshot.plan_id,
                &snapshot.unit_list,
                &version.to_string(),
            ]),
            EVENT_SOURCE,
            snapshot.clone(),
        )
        .with_subject(format!("{}/{}", snapshot.plan_id, snapshot.unit_list));
        outbox::enqueue(
            &mut tx,
            &self.db.schema,
            &[OutgoingMessage::from_envelope(&envelope)],
        )
        .await?;
        tx.commit().await?;
        Ok((snapshot, true))
    }

    /// A stored snapshot: the latest (`version` None) or a given version.
    pub async fn snapshot(
        &self,
        plan_id: &str,
        list: UnitList,
        version: Option<u64>,
    ) -> Result<Option<IndicatorSnapshot>, sqlx::Error> {
        let body: Option<Json<IndicatorSnapshot>> = match version {
            None => {
                sqlx::query_scalar(
                    "SELECT body FROM snapshots WHERE plan_id = $1 AND unit_list = $2
                      ORDER BY version DESC LIMIT 1",
                )
                .bind(plan_id)
                .bind(list.as_str())
                .fetch_optional(&self.db.pool)
                .await?
            }
            Some(v) => sqlx::query_scalar(
                "SELECT body FROM snapshots WHERE plan_id = $1 AND unit_list = $2 AND version = $3",
            )
            .bind(plan_id)
            .bind(list.as_str())
            .bind(i64_of(v))
            .fetch_optional(&self.db.pool)
            .await?,
        };
        Ok(body.map(|b| b.0))
    }

    /// Every version of a series, oldest first.
    pub async fn versions(
        &self,
        plan_id: &str,
        list: UnitList,
    ) -> Result<Vec<SnapshotHeader>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT snapshot_id, version, as_of, computed_at, content_hash FROM snapshots
              WHERE plan_id = $1 AND unit_list = $2 ORDER BY version",
        )
        .bind(plan_id)
        .bind(list.as_str())
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SnapshotHeader {
                    snapshot_id: r.try_get("snapshot_id")?,
                    version: u64::try_from(r.try_get::<i64, _>("version")?).unwrap_or(0),
                    as_of: r.try_get("as_of")?,
                    computed_at: r.try_get("computed_at")?,
                    content_hash: r.try_get("content_hash")?,
                })
            })
            .collect()
    }

    /// One indicator of one unit across every version of a series, oldest first.
    pub async fn history(
        &self,
        plan_id: &str,
        list: UnitList,
        unit_code: &str,
        indicator: &str,
    ) -> Result<Vec<HistoryPoint>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT s.version, s.as_of, s.computed_at, v.value AS value
               FROM snapshots s,
                    jsonb_array_elements(s.body -> 'units') u,
                    jsonb_array_elements(u -> 'values') v
              WHERE s.plan_id = $1 AND s.unit_list = $2
                AND u ->> 'unit_code' = $3 AND v ->> 'indicator' = $4
              ORDER BY s.version",
        )
        .bind(plan_id)
        .bind(list.as_str())
        .bind(unit_code)
        .bind(indicator)
        .fetch_all(&self.db.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryPoint {
                    version: u64::try_from(r.try_get::<i64, _>("version")?).unwrap_or(0),
                    as_of: r.try_get("as_of")?,
                    computed_at: r.try_get("computed_at")?,
                    value: r.try_get::<Json<serde_json::Value>, _>("value")?.0,
                })
            })
            .collect()
    }
}

/// The row of each key that applying the rows one by one would leave, for statements that
/// only replace a stored row by a strictly newer one: the newest by `order`, the first of
/// equals. One statement with these rows has the effect of the rows one by one.
pub(crate) fn newest<'a, T, K: Ord, O: PartialOrd>(
    rows: &[&'a T],
    key: impl Fn(&T) -> K,
    order: impl Fn(&T) -> O,
) -> Vec<&'a T> {
    let mut at: std::collections::BTreeMap<K, usize> = std::collections::BTreeMap::new();
    let mut out: Vec<&'a T> = Vec::with_capacity(rows.len());
    for row in rows {
        match at.get(&key(row)) {
            Some(&i) => {
                if order(row) > order(out[i]) {
                    out[i] = row;
                }
            }
            None => {
                at.insert(key(row), out.len());
                out.push(row);
            }
        }
    }
    out
}

/// Writes loan rows (`loan_no`, `modified`, `fetched_at`, `record`) with `sql`: an
/// `INSERT … SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[],
/// $4::jsonb[])` into `loans` or `loan_versions`, each with its own conflict rule. Returns the
/// rows written.
pub(crate) async fn upsert_loan_rows(
    conn: &mut PgConnection,
    sql: &'static str,
    round: &[&LoanDisbursement],
) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(sql)
        .bind(round.iter().map(|l| l.loan_no.clone()).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|l| l.modified.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|l| l.meta.fetched_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|l| Json(*l)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// Every version of the Farmers' Union's records of one contract, by record and report date.
async fn fu_records<T: Contract + serde::de::DeserializeOwned + Send + Unpin>(
    conn: &mut PgConnection,
) -> Result<Vec<T>, sqlx::Error> {
    let rows: Vec<Json<T>> = sqlx::query_scalar(
        "SELECT record FROM fu_records WHERE contract_type = $1
          ORDER BY source_id, report_date",
    )
    .bind(T::TYPE)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|j| j.0).collect())
}

/// The projection: live golden records, every version of every loan and registry record,
/// every NTM revision.
async fn projection(conn: &mut PgConnection) -> Result<Projection, sqlx::Error> {
    let golden: Vec<Json<GoldenRecord>> = sqlx::query_scalar(
        "SELECT record FROM golden_records WHERE NOT retired ORDER BY organisation_id",
    )
    .fetch_all(&mut *conn)
    .await?;
    let loans: Vec<Json<LoanDisbursement>> =
        sqlx::query_scalar("SELECT record FROM loan_versions ORDER BY loan_no, modified")
            .fetch_all(&mut *conn)
            .await?;
    let registry: Vec<Json<RegistryVersion>> =
        sqlx::query_scalar("SELECT facts FROM registry_versions ORDER BY source_id, version")
            .fetch_all(&mut *conn)
            .await?;
    let ntm: Vec<Json<NtmCommuneReport>> = sqlx::query_scalar(
        "SELECT record FROM ntm_revisions ORDER BY commune_code, year, revision",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(Projection {
        golden: golden.into_iter().map(|j| j.0).collect(),
        loans: loans.into_iter().map(|j| j.0).collect(),
        registry: registry.into_iter().map(|j| j.0).collect(),
        ntm: ntm.into_iter().map(|j| j.0).collect(),
        fu: crate::farmers_union::FuInputs {
            branches: fu_records::<FuBranch>(conn).await?,
            officers: fu_records::<FuOfficer>(conn).await?,
            trainings: fu_records::<FuTraining>(conn).await?,
        },
    })
}

/// Which sources contributed, their last sync and record counts, and how the source
/// records were reconciled (by each record's latest decision). A source is named by the
/// system its records carry (`meta.source.system`), summed over the projection's tables:
/// a new source appears here once its records are projected, with no list to extend.
async fn provenance(conn: &mut PgConnection) -> Result<SnapshotProvenance, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT system, sum(records)::bigint AS records, max(last_sync) AS last_sync
           FROM (SELECT system, count(*) AS records, max(fetched_at) AS last_sync
                   FROM registry_records GROUP BY system
                 UNION ALL
                 SELECT record->'meta'->'source'->>'system', count(*), max(fetched_at)
                   FROM loans GROUP BY 1
                 UNION ALL
                 SELECT record->'meta'->'source'->>'system', count(*), max(fetched_at)
                   FROM ntm_revisions GROUP BY 1
                 UNION ALL
                 SELECT record->'meta'->'source'->>'system', count(*), max(fetched_at)
                   FROM fu_records GROUP BY 1) per_table
          WHERE system IS NOT NULL
          GROUP BY system
         UNION ALL
         SELECT 'reconciler', count(*) FILTER (WHERE NOT retired),
                max(updated_at) FILTER (WHERE NOT retired)
           FROM golden_records",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut sources = Vec::new();
    for r in rows {
        let records: i64 = r.try_get("records")?;
        if records == 0 {
            continue;
        }
        sources.push(SourceProvenance {
            system: r.try_get("system")?,
            last_sync: r.try_get("last_sync")?,
            records: u64::try_from(records).unwrap_or(0),
        });
    }
    sources.sort_by(|a, b| a.system.cmp(&b.system));
    let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE outcome = 'review') AS review,
                    count(*) FILTER (WHERE NOT by_operator
                        AND outcome IN ('matched', 'new', 'merged', 'split', 'out_of_scope')) AS auto
               FROM (SELECT DISTINCT ON (source_system, source_id) outcome, by_operator
                       FROM decisions WHERE source_system IS NOT NULL
                      ORDER BY source_system, source_id, at DESC, decision_id DESC) latest",
        )
        .fetch_one(&mut *conn)
        .await?;
    let review = u64::try_from(row.try_get::<i64, _>("review")?).unwrap_or(0);
    let auto = u64::try_from(row.try_get::<i64, _>("auto")?).unwrap_or(0);
    Ok(SnapshotProvenance {
        sources,
        reconciled_automatically: auto,
        awaiting_review: review,
        automatic_share: (auto + review > 0).then(|| auto as f64 / (auto + review) as f64),
    })
}

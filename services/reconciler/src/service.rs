//! The service shell around the engine: applies source records (through the runtime
//! consumer and the inbox) and operator decisions (through the HTTP API) to the in-memory
//! engine, persists what changed and enqueues the events in the OUTBOX, all in one
//! transaction, then feeds the live log.
//!
//! Consistency across replicas: the source queue has a single active consumer, and every
//! change (message or operator request) runs under one PostgreSQL advisory lock and checks
//! the stored state sequence first: a replica whose engine is behind (another replica
//! committed since) rebuilds it from the database before applying anything. A failed
//! transaction marks the engine stale, so it is rebuilt before the next change.
//!
//! Owns no matching logic (the engine's) and no SQL (the store's).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use hub_contracts::v1::{
    GoldenRecord, IdentityMerged, IdentitySplit, LoanDisbursement, NtmCommuneReport,
    ReconciliationDecision, RegistryCooperative, SourceRef,
};
use hub_contracts::{Contract, Envelope};
use hub_runtime::messaging::{HandlerError, Incoming, OutgoingMessage};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::{Database, inbox, outbox};
use serde_json::Value;
use tokio::sync::{Mutex, broadcast};

use crate::engine::observation::{Observation, ntm_entry_id};
use crate::engine::{Changes, Engine, EngineError};
use crate::store::{self, StoreError};

mod settling;
pub use settling::{SettleError, SettleOutcome, SettleStatus, settle_loop};

/// The `source` of every event this service publishes.
pub const SOURCE: &str = "urn:coophub:reconciler";
/// Inbox consumer name.
pub const CONSUMER: &str = "reconciler.source";
/// Advisory lock serialising every change of the reconciler's state.
const LOCK_KEY: i64 = 0x7265_636f_6e63_696c; // "reconcil"

/// Why a change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        ApplyError::Store(StoreError::Sql(e))
    }
}

struct EngineState {
    engine: Engine,
    seq: i64,
    stale: bool,
}

/// The context of the message or request that caused a change.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    /// Inbox message id (for messages; requests have none).
    pub message_id: Option<String>,
    pub correlation: Option<String>,
    pub traceparent: Option<String>,
}

/// What HTTP handlers and the consumer share.
pub struct Shared {
    state: Mutex<EngineState>,
    pub db: Database,
    pub decisions: broadcast::Sender<ReconciliationDecision>,
    pub shutdown: CancellationToken,
    pub max_page: i64,
}

impl Shared {
    /// Loads the engine from the database.
    pub async fn load(
        db: Database,
        shutdown: CancellationToken,
        max_page: i64,
    ) -> Result<Arc<Shared>, StoreError> {
        let mut conn = db.pool.acquire().await?;
        let (seq, snap) = store::load_snapshot(&mut conn).await?;
        drop(conn);
        let n = snap.observations.len();
        let engine = Engine::restore(snap);
        tracing::info!(
            observations = n,
            state_seq = seq,
            "engine rebuilt from the database"
        );
        let (decisions, _) = broadcast::channel(4096);
        Ok(Arc::new(Shared {
            state: Mutex::new(EngineState {
                engine,
                seq,
                stale: false,
            }),
            db,
            decisions,
            shutdown,
            max_page,
        }))
    }

    /// Applies `op` to the engine and commits its effects with the outbox in one
    /// transaction. With a `cause.message_id` the inbox makes it take effect once: a
    /// duplicate returns `Ok(None)`.
    pub async fn apply<F>(&self, cause: &Cause, op: F) -> Result<Option<Changes>, ApplyError>
    where
        F: FnOnce(
            &mut Engine,
            chrono::DateTime<Utc>,
        ) -> Result<(Changes, BTreeMap<SourceRef, Value>), EngineError>,
    {
        let mut st = self.state.lock().await;
        let mut tx = self.db.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let (seq, _) = store::engine_state(&mut tx).await?;
        if st.stale || seq != st.seq {
            let (seq, snap) = store::load_snapshot(&mut tx).await?;
            tracing::info!(
                state_seq = seq,
                was = st.seq,
                "engine behind the database: rebuilding"
            );
            st.engine = Engine::restore(snap);
            st.seq = seq;
            st.stale = false;
        }
        if let Some(id) = &cause.message_id
            && !inbox::claim(&mut tx, CONSUMER, id).await?
        {
            tx.commit().await?;
            return Ok(None);
        }
        let now = Utc::now();
        let (ch, payloads) = op(&mut st.engine, now)?;
        // from here on the engine is ahead of the database until the commit succeeds
        st.stale = true;
        let goldens = st.engine.publish_golden(&ch.identities, now);
        let new_seq = store::persist(&mut tx, &st.engine, &ch, &goldens, &payloads, now).await?;
        let msgs = messages(&ch, &goldens, cause);
        outbox::enqueue(&mut tx, &self.db.schema, &msgs).await?;
        tx.commit().await?;
        st.seq = new_seq;
        st.stale = false;
        drop(st);
        for d in &ch.decisions {
            // no subscriber is fine
            let _ = self.decisions.send(d.clone());
        }
        Ok(Some(ch))
    }

    /// Handles one source record from the queue.
    pub async fn handle(&self, msg: Incoming) -> Result<(), HandlerError> {
        let cause = Cause {
            message_id: Some(msg.envelope.id.clone()),
            correlation: Some(msg.envelope.correlationid.clone()),
            traceparent: Some(msg.trace.header()),
        };
        let result = match msg.envelope.ty.as_str() {
            RegistryCooperative::TYPE => {
                let env = msg.decode::<RegistryCooperative>()?;
                let payload = serde_json::to_value(&env.data).unwrap_or(Value::Null);
                let obs = Observation::from_registry(&env.data);
                self.apply(&cause, move |e, now| {
                    let src = obs.source.clone();
                    Ok((e.observe(obs, now), BTreeMap::from([(src, payload)])))
                })
                .await
            }
            LoanDisbursement::TYPE => {
                let env = msg.decode::<LoanDisbursement>()?;
                let payload = serde_json::to_value(&env.data).unwrap_or(Value::Null);
                let obs = Observation::from_loan(&env.data);
                self.apply(&cause, move |e, now| {
                    let src = obs.source.clone();
                    Ok((e.observe(obs, now), BTreeMap::from([(src, payload)])))
                })
                .await
            }
            NtmCommuneReport::TYPE => {
                let env = msg.decode::<NtmCommuneReport>()?;
                let report = env.data;
                let payloads = ntm_payloads(&report);
                self.apply(&cause, move |e, now| {
                    Ok((e.ntm_report(&report, now), payloads))
                })
                .await
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "the reconciler does not take {other}"
                )));
            }
        };
        match result {
            Ok(_) => Ok(()),
            Err(ApplyError::Engine(e)) => Err(HandlerError::permanent(e)),
            Err(ApplyError::Store(StoreError::Sql(e))) => Err(HandlerError::from(e)),
            Err(ApplyError::Store(e)) => Err(HandlerError::transient(e)),
        }
    }
}

/// What to keep of an NTM report for each of its entries: the entry and its report's
/// context.
fn ntm_payloads(report: &NtmCommuneReport) -> BTreeMap<SourceRef, Value> {
    report
        .cooperatives
        .iter()
        .map(|e| {
            let r = SourceRef::new(
                report.meta.source.system.clone(),
                ntm_entry_id(&report.commune_code, report.year, e.index),
            );
            let v = serde_json::json!({
                "report": {
                    "source": report.meta.source,
                    "commune_code": report.commune_code,
                    "year": report.year,
                    "revision": report.revision,
                    "status": report.status,
                    "submitted_at": report.submitted_at,
                },
                "entry": e,
            });
            (r, v)
        })
        .collect()
}

fn envelope<T: Contract>(id: String, data: T, subject: String, cause: &Cause) -> OutgoingMessage {
    let mut env = Envelope::new(id, SOURCE, data).with_subject(subject);
    if let Some(c) = &cause.correlation {
        env = env.with_correlation(c.clone());
    }
    env = env.with_traceparent(cause.traceparent.clone());
    OutgoingMessage::from_envelope(&env)
}

/// The events of one change: golden records, merges, splits, decisions.
fn messages(ch: &Changes, goldens: &[GoldenRecord], cause: &Cause) -> Vec<OutgoingMessage> {
    let mut out = Vec::new();
    for m in &ch.merged {
        out.push(envelope::<IdentityMerged>(
            Envelope::<()>::deterministic_id(&["identity.merged", &m.decision_id.to_string()]),
            m.clone(),
            m.survivor.to_string(),
            cause,
        ));
    }
    for s in &ch.splits {
        out.push(envelope::<IdentitySplit>(
            Envelope::<()>::deterministic_id(&["identity.split", &s.decision_id.to_string()]),
            s.clone(),
            s.original.to_string(),
            cause,
        ));
    }
    for g in goldens {
        out.push(envelope::<GoldenRecord>(
            Envelope::<()>::deterministic_id(&[
                "identity.golden_record",
                &g.organisation_id.to_string(),
                &g.version.to_string(),
            ]),
            g.clone(),
            g.organisation_id.to_string(),
            cause,
        ));
    }
    for d in &ch.decisions {
        let subject = d
            .source
            .as_ref()
            .map(ToString::to_string)
            .or(d.organisation_id.map(|o| o.to_string()))
            .unwrap_or_default();
        out.push(envelope::<ReconciliationDecision>(
            Envelope::<()>::deterministic_id(&[
                "reconciliation.decision",
                &d.decision_id.to_string(),
            ]),
            d.clone(),
            subject,
            cause,
        ));
    }
    out
}

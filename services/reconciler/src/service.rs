//! The service shell around the engine: applies source records (through the runtime
//! consumer and the inbox) and operator decisions (through the HTTP API) to the in-memory
//! engine, persists what changed and enqueues the events in the OUTBOX, all in one
//! transaction, then feeds the live log.
//!
//! Source records come in batches (whatever the broker delivered while the previous batch
//! was being applied, see `hub_runtime::messaging::StagedConsumer`), and a batch is applied
//! in two stages ([`stages`]): [`Shared::prepare`] runs the engine operations in order and
//! takes what changed, [`Shared::commit`] writes it in one transaction (one inbox claim, one
//! write of the union of their changes, the outbox). The consumer matches batch n+1 while
//! batch n commits, and acks each batch after its own commit. [`Shared::apply_batch`] is
//! both stages at once, [`Shared::apply`] the same for one operation (operator requests, the
//! settle pass).
//!
//! Consistency across replicas: the source queue has a single active consumer, and every
//! commit (message or operator request) runs under one PostgreSQL advisory lock and checks
//! that the stored state sequence is the one its change was prepared on: if another replica
//! committed since, the change is void ([`Superseded`]) and the engine is rebuilt from the
//! database before the next change (also checked before a change when nothing is pending).
//! A failed transaction voids the changes prepared after it and marks the engine stale.
//!
//! Owns no matching logic (the engine's) and no SQL (the store's).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{
    FuBranch, GoldenRecord, IdentityMerged, IdentitySplit, LoanDisbursement, NtmCommuneReport,
    ReconciliationDecision, RegistryCooperative,
};
use hub_contracts::v2::ReconciliationDecisions;
use hub_contracts::{Contract, Envelope};
use hub_runtime::messaging::{
    CommitError, HandlerError, Incoming, OutgoingMessage, Prepared, StagedHandler,
};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::Database;
use tokio::sync::{Mutex, broadcast};

use crate::engine::features;
use crate::engine::observation::Observation;
use crate::engine::{Changes, Engine, EngineError};
use crate::store::{self, StoreError};

mod active;
mod settling;
mod stages;
pub use active::{Replica, active_url, elect};
pub use settling::{SettleError, SettleOutcome, SettleStatus, settle_loop};
pub use stages::{Superseded, Work};

/// The `source` of every event this service publishes.
pub const SOURCE: &str = "urn:coophub:reconciler";
/// Inbox consumer name.
pub const CONSUMER: &str = "reconciler.source";
/// Advisory lock serialising every change of the reconciler's state.
const LOCK_KEY: i64 = 0x7265_636f_6e63_696c; // "reconcil"
/// How often [`Shared::apply_again_if_superseded`] prepares an operation before it gives up.
const SUPERSEDED_ATTEMPTS: usize = 5;

/// Why a change was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Prepared on state that did not commit, or that another replica changed: nothing was
    /// written.
    #[error(transparent)]
    Superseded(#[from] Superseded),
}

impl From<sqlx::Error> for ApplyError {
    fn from(e: sqlx::Error) -> Self {
        ApplyError::Store(StoreError::Sql(e))
    }
}

struct EngineState {
    engine: Engine,
}

/// The context of the message or request that caused a change.
#[derive(Debug, Clone, Default)]
pub struct Cause {
    /// Inbox message id (for messages; requests have none).
    pub message_id: Option<String>,
    pub correlation: Option<String>,
    pub traceparent: Option<String>,
}

/// Which contracts the decisions of a transaction are published as on `coophub.identity`
/// (`RECONCILER_DECISION_CONTRACTS`): `reconciliation.decision.v2`, one message per
/// transaction (up to 500 decisions each), by default; `reconciliation.decision.v1`, one
/// message per decision, on request, for the consumers bound to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionContracts {
    pub v1: bool,
    pub v2: bool,
}

impl Default for DecisionContracts {
    /// v2 only: the hub's indicators bind v2; a deployment whose agencies are bound to v1
    /// asks for it (`RECONCILER_DECISION_CONTRACTS=v1,v2`).
    fn default() -> Self {
        DecisionContracts {
            v1: false,
            v2: true,
        }
    }
}

/// What HTTP handlers and the consumer share.
pub struct Shared {
    state: Mutex<EngineState>,
    pub db: Database,
    pub decisions: broadcast::Sender<ReconciliationDecision>,
    pub shutdown: CancellationToken,
    pub max_page: i64,
    /// How decisions are published.
    pub decision_contracts: DecisionContracts,
    /// Whether this replica takes operator writes (see [`active`]).
    pub replica: Arc<Replica>,
    /// Which prepared changes still stand (see [`stages`]).
    stages: Arc<stages::Stages>,
}

impl Shared {
    /// Loads the engine from the database; decisions are published as the default
    /// [`DecisionContracts`] say (v2); the replica is alone (always active).
    pub async fn load(
        db: Database,
        shutdown: CancellationToken,
        max_page: i64,
    ) -> Result<Arc<Shared>, StoreError> {
        Self::load_with(
            db,
            shutdown,
            max_page,
            DecisionContracts::default(),
            Replica::alone(),
        )
        .await
    }

    /// Like [`Shared::load`], publishing decisions as `decision_contracts` says, as `replica`
    /// (active while it holds the election's lock, see [`elect`]).
    pub async fn load_with(
        db: Database,
        shutdown: CancellationToken,
        max_page: i64,
        decision_contracts: DecisionContracts,
        replica: Arc<Replica>,
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
            state: Mutex::new(EngineState { engine }),
            stages: stages::Stages::new(seq),
            db,
            decisions,
            shutdown,
            max_page,
            decision_contracts,
            replica,
        }))
    }

    /// Applies `op` to the engine and commits its effects with the outbox in one
    /// transaction. With a `cause.message_id` the inbox makes it take effect once: a
    /// duplicate returns `Ok(None)`.
    pub async fn apply<F>(&self, cause: &Cause, op: F) -> Result<Option<Changes>, ApplyError>
    where
        F: FnOnce(&mut Engine, DateTime<Utc>) -> OpResult + Send,
    {
        let (applied, changes) = self
            .apply_batch(vec![(cause.clone(), Box::new(op) as Op<'_>)])
            .await?;
        Ok(applied.first().copied().unwrap_or(false).then_some(changes))
    }

    /// Like [`Shared::apply`], for an operation that can run again (operator requests): when
    /// it was [`Superseded`] (prepared on a change that then did not commit, or another
    /// replica wrote first; nothing was written), the engine is rebuilt from the database and
    /// the operation prepared and committed again, up to [`SUPERSEDED_ATTEMPTS`] times in
    /// all, so that the caller gets the operation's own answer rather than "try again".
    pub async fn apply_again_if_superseded<F>(
        &self,
        cause: &Cause,
        op: F,
    ) -> Result<Option<Changes>, ApplyError>
    where
        F: Fn(&mut Engine, DateTime<Utc>) -> OpResult + Send + Sync,
    {
        let mut attempt = 1;
        loop {
            match self.apply(cause, &op).await {
                Err(ApplyError::Superseded(e)) if attempt < SUPERSEDED_ATTEMPTS => {
                    tracing::info!(attempt, error = %e, "operation superseded; preparing it again");
                    attempt += 1;
                }
                r => return r,
            }
        }
    }

    /// Applies several operations, in order, in ONE transaction: [`Shared::prepare`] (the
    /// engine operations one after the other, a duplicate message id, within the batch or of
    /// an earlier one, skipped; the engine ends exactly as if they had been applied one by
    /// one, golden record versions included), then [`Shared::commit`] (one advisory lock, one
    /// inbox claim, one write of the union of what they changed and every event in the
    /// outbox). A golden record changed by several operations is published once, at its
    /// latest version (a higher version supersedes a lower one, so the ones in between are
    /// not sent). An engine error rolls the whole batch back (the caller may then apply its
    /// operations one at a time).
    ///
    /// Returns, per operation, whether it was applied (false: a duplicate), and the union
    /// of the changes.
    pub async fn apply_batch(
        &self,
        ops: Vec<(Cause, Op<'_>)>,
    ) -> Result<(Vec<bool>, Changes), ApplyError> {
        let work = self.prepare(ops).await?;
        self.commit(work).await
    }

    /// Handles one source record from the queue.
    pub async fn handle(&self, msg: Incoming) -> Result<(), HandlerError> {
        let mut r = self.handle_batch(std::slice::from_ref(&msg)).await?;
        r.pop().unwrap_or(Ok(()))
    }

    /// Handles source records from the queue, in order, in one transaction (prepared again
    /// when superseded). A record that does not decode is rejected alone; a failure of the
    /// transaction fails the batch (the consumer then hands the records over one at a time).
    pub async fn handle_batch(
        &self,
        msgs: &[Incoming],
    ) -> Result<Vec<Result<(), HandlerError>>, HandlerError> {
        let mut last = HandlerError::transient(Superseded);
        for _ in 0..3 {
            let p = self.prepare_records(msgs).await?;
            match self.commit(p.work).await {
                Ok(_) => return Ok(p.results),
                Err(ApplyError::Superseded(e)) => last = HandlerError::transient(e),
                Err(e) => return Err(handler_error(e)),
            }
        }
        Err(last)
    }

    /// Prepares source records from the queue, in order (see [`Shared::prepare`]); a
    /// record that does not decode is rejected alone.
    pub async fn prepare_records(&self, msgs: &[Incoming]) -> Result<Prepared<Work>, HandlerError> {
        let mut results: Vec<Result<(), HandlerError>> = Vec::with_capacity(msgs.len());
        let mut inputs: Vec<(Cause, Input)> = Vec::with_capacity(msgs.len());
        for msg in msgs {
            match Input::decode(msg) {
                Ok(input) => {
                    let cause = Cause {
                        message_id: Some(msg.envelope.id.clone()),
                        correlation: Some(msg.envelope.correlationid.clone()),
                        traceparent: Some(msg.trace.header()),
                    };
                    inputs.push((cause, input));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        // the batch read on every core, off the async threads and before the engine's lock
        let ops = tokio::task::spawn_blocking(move || {
            use rayon::prelude::*;
            inputs
                .into_par_iter()
                .map(|(cause, input)| (cause, input.read()))
                .collect::<Vec<(Cause, Op<'static>)>>()
        })
        .await
        .map_err(|e| HandlerError::transient(format!("reading a batch of source records: {e}")))?;
        let work = self.prepare(ops).await.map_err(handler_error)?;
        Ok(Prepared { work, results })
    }
}

/// How the consumer treats a change that did not take effect.
fn handler_error(e: ApplyError) -> HandlerError {
    match e {
        ApplyError::Engine(e) => HandlerError::permanent(e),
        ApplyError::Store(StoreError::Sql(e)) => HandlerError::from(e),
        ApplyError::Store(e) => HandlerError::transient(e),
        ApplyError::Superseded(e) => HandlerError::transient(e),
    }
}

/// What an engine operation returns: its changes.
pub type OpResult = Result<Changes, EngineError>;

/// An engine operation of a batch.
pub type Op<'a> = Box<dyn FnOnce(&mut Engine, DateTime<Utc>) -> OpResult + Send + 'a>;

/// A source record decoded, before the engine reads it.
enum Input {
    Observe(Observation),
    Report(NtmCommuneReport),
    Withdraw(hub_contracts::v1::SourceRef),
}

impl Input {
    /// Decodes a source record; a payload that does not decode is a permanent error.
    fn decode(msg: &Incoming) -> Result<Input, HandlerError> {
        Ok(match msg.envelope.ty.as_str() {
            RegistryCooperative::TYPE => Input::Observe(Observation::from_registry(
                &msg.decode::<RegistryCooperative>()?.data,
            )),
            LoanDisbursement::TYPE => Input::Observe(Observation::from_loan(
                &msg.decode::<LoanDisbursement>()?.data,
            )),
            NtmCommuneReport::TYPE => Input::Report(msg.decode::<NtmCommuneReport>()?.data),
            FuBranch::TYPE => {
                let branch = msg.decode::<FuBranch>()?.data;
                // a branch that names no HTX/THT (any more) withdraws what it named
                match Observation::from_fu_conversion(&branch) {
                    Some(obs) => Input::Observe(obs),
                    None => Input::Withdraw(branch.meta.source),
                }
            }
            other => {
                return Err(HandlerError::permanent(format!(
                    "the reconciler does not take {other}"
                )));
            }
        })
    }

    /// The engine operation, with the record's features read now (pure, any thread: the
    /// costly part of matching, done before the engine's lock is taken).
    fn read(self) -> Op<'static> {
        match self {
            Input::Observe(obs) => {
                let prepared = features::prepare(&obs);
                Box::new(move |e: &mut Engine, now| Ok(e.observe_prepared(obs, prepared, now)))
            }
            Input::Report(report) => {
                let prepared = features::prepare_report(&report);
                Box::new(move |e: &mut Engine, now| {
                    Ok(e.ntm_report_prepared(&report, prepared, now))
                })
            }
            Input::Withdraw(source) => {
                Box::new(move |e: &mut Engine, now| Ok(e.withdraw(&source, now)))
            }
        }
    }
}

/// The consumer's view of [`Shared`]: a batch of source records at a time, matched while
/// the previous batch commits.
pub struct SourceHandler(pub Arc<Shared>);

impl StagedHandler for SourceHandler {
    type Work = Work;

    async fn prepare(&self, msgs: &[Incoming]) -> Result<Prepared<Work>, HandlerError> {
        self.0.prepare_records(msgs).await
    }

    async fn commit(&self, work: Work) -> Result<(), CommitError> {
        match self.0.commit(work).await {
            Ok(_) => Ok(()),
            Err(ApplyError::Superseded(_)) => Err(CommitError::Stale),
            Err(e) => Err(CommitError::Failed(handler_error(e))),
        }
    }
}

fn envelope<T: Contract>(id: String, data: T, subject: String, cause: &Cause) -> OutgoingMessage {
    let mut env = Envelope::new(id, SOURCE, data).with_subject(subject);
    if let Some(c) = &cause.correlation {
        env = env.with_correlation(c.clone());
    }
    env = env.with_traceparent(cause.traceparent.clone());
    OutgoingMessage::from_envelope(&env)
}

/// The merge and split events of one change.
fn merge_and_split_messages(ch: &Changes, cause: &Cause) -> Vec<OutgoingMessage> {
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
    out
}

/// A published golden record version.
fn golden_message(g: &GoldenRecord, cause: &Cause) -> OutgoingMessage {
    envelope::<GoldenRecord>(
        Envelope::<()>::deterministic_id(&[
            "identity.golden_record",
            &g.organisation_id.to_string(),
            &g.version.to_string(),
        ]),
        g.clone(),
        g.organisation_id.to_string(),
        cause,
    )
}

/// The decisions of one transaction as `reconciliation.decision.v2` messages, under the
/// cause of its first operation (the batch's correlation and trace).
fn decision_batch_messages(
    decisions: &[ReconciliationDecision],
    at: DateTime<Utc>,
    causes: &[Cause],
) -> Vec<OutgoingMessage> {
    let cause = causes.first().cloned().unwrap_or_default();
    ReconciliationDecisions::batches(decisions, at)
        .into_iter()
        .map(|b| {
            let id = Envelope::<()>::deterministic_id(&[
                "reconciliation.decision.v2",
                &b.batch_id.to_string(),
                &b.part.to_string(),
            ]);
            let subject = b.batch_id.to_string();
            envelope::<ReconciliationDecisions>(id, b, subject, &cause)
        })
        .collect()
}

/// The decisions of one change.
fn decision_messages(ch: &Changes, cause: &Cause) -> Vec<OutgoingMessage> {
    ch.decisions
        .iter()
        .map(|d| {
            let subject = d
                .source
                .as_ref()
                .map(ToString::to_string)
                .or(d.organisation_id.map(|o| o.to_string()))
                .unwrap_or_default();
            envelope::<ReconciliationDecision>(
                Envelope::<()>::deterministic_id(&[
                    "reconciliation.decision",
                    &d.decision_id.to_string(),
                ]),
                d.clone(),
                subject,
                cause,
            )
        })
        .collect()
}

//! The staged batch consumer: batch n+1 is prepared (a service's in-memory work, e.g.
//! matching) while batch n commits, and each batch is acked after its own commit.
//!
//! A [`StagedHandler`] splits [`super::BatchHandler::handle_batch`] in two stages:
//! [`StagedHandler::prepare`] (in queue order, one batch at a time) and
//! [`StagedHandler::commit`] (in the order of preparation, one at a time, in a task of its
//! own so that it runs beside the next preparation). Between the two stages there is room for
//! exactly one batch: the consumer prepares batch n+1, then waits for batch n's commit,
//! settles batch n (acks, retry and dead-letter copies), and only then starts n+1's commit and
//! reads batch n+2. So at most two batches are unacked, the queue's order is kept (batches
//! are prepared, committed and settled in order), and a delivery is acked only after the
//! commit that took its effect.
//!
//! Failure: a commit that did not take effect ([`CommitError`]) voids every batch prepared
//! after it (their preparation assumed it). When batch n's commit did not take effect (or
//! its preparation failed), the consumer drops the prepared batch n+1 first, then deals
//! with batch n (prepared and committed again when [`CommitError::Stale`]; one
//! message at a time when it failed, each then taking its own retry or dead-letter path, as
//! in [`super::BatchConsumer`]), and then prepares batch n+1 again. A crash anywhere leaves
//! unacked deliveries that the broker redelivers; the handler's inbox keeps effects once.

use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use lapin::message::Delivery;
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::settle::Batch;
use super::{Core, Drive, HandlerError, Incoming, MessagingError};
use crate::messaging::{Broker, QueueSpec, RetryPolicy};
use crate::shutdown::CancellationToken;

/// How often a batch whose commit was stale is prepared again before it is handed over one
/// message at a time.
const STALE_RETRIES: usize = 3;

/// Why a commit did not take effect (nothing of the batch is applied either way).
#[derive(Debug, Clone, thiserror::Error)]
pub enum CommitError {
    /// The preparation was built on state that is no longer there (an earlier batch did not
    /// commit, or another writer committed first): prepare the batch again.
    #[error("stale: prepared on state that did not commit")]
    Stale,
    /// The batch failed as a whole (rolled back).
    #[error(transparent)]
    Failed(#[from] HandlerError),
}

/// A batch prepared by [`StagedHandler::prepare`]: the work to commit and each message's
/// own outcome so far.
pub struct Prepared<W> {
    /// What [`StagedHandler::commit`] takes.
    pub work: W,
    /// One per message, in order: `Ok` (its effect is in `work`, or it is a duplicate) or its
    /// own error (a payload that does not decode, say), which sends it alone to its retry or
    /// dead-letter path whatever the commit does.
    pub results: Vec<Result<(), HandlerError>>,
}

/// What a [`StagedConsumer`] does with a batch, in two stages (see the module
/// documentation).
pub trait StagedHandler: Send + Sync + 'static {
    /// What the preparation leaves for the commit.
    type Work: Send + 'static;

    /// Prepares `msgs` (at least one, in queue order) while the previous batch may still be
    /// committing: everything but the commit. `Err`: nothing was prepared (the consumer
    /// hands the messages over again one at a time).
    fn prepare(
        &self,
        msgs: &[Incoming],
    ) -> impl Future<Output = Result<Prepared<Self::Work>, HandlerError>> + Send;

    /// Commits a prepared batch. Called in the order of preparation, one at a time, and
    /// never for a batch prepared after a commit that failed. `Ok`: the effects of every
    /// message whose result was `Ok` are durable.
    fn commit(&self, work: Self::Work) -> impl Future<Output = Result<(), CommitError>> + Send;
}

/// A queue consumer that prepares the next batch while the previous one commits (see the
/// module documentation).
pub struct StagedConsumer<P> {
    core: Core,
    handler: Arc<P>,
}

/// A batch between its preparation and its settling.
struct InFlight<W> {
    batch: Batch,
    results: Vec<Result<(), HandlerError>>,
    /// What is to be committed, until the commit starts.
    work: Option<W>,
    /// The commit running; `None` when there was nothing to commit.
    commit: Option<JoinHandle<Result<(), CommitError>>>,
    /// The outcome, once known (at once when the preparation failed as a whole).
    done: Option<Result<(), CommitError>>,
}

impl<W> InFlight<W> {
    /// The commit's outcome. Cancel-safe: the commit runs in its own task, and its outcome
    /// is kept once known.
    async fn outcome(&mut self) -> Result<(), CommitError> {
        if let Some(r) = &self.done {
            return r.clone();
        }
        let r = match &mut self.commit {
            None => Ok(()),
            Some(task) => match task.await {
                Ok(r) => r,
                Err(e) => Err(CommitError::Failed(HandlerError::Transient(format!(
                    "the commit did not finish: {e}"
                )))),
            },
        };
        self.done = Some(r.clone());
        r
    }
}

impl<P: StagedHandler> StagedConsumer<P> {
    pub fn new(broker: Broker, spec: QueueSpec, handler: P) -> Self {
        Self {
            core: Core::new(broker, spec),
            handler: Arc::new(handler),
        }
    }

    queue_options!(batches);

    /// Prepares `batch`; its commit is not started yet.
    async fn prepare(&self, batch: Batch) -> InFlight<P::Work> {
        let mut f = InFlight {
            batch,
            results: Vec::new(),
            work: None,
            commit: None,
            done: None,
        };
        if f.batch.msgs.is_empty() {
            return f;
        }
        let span = f.batch.span.clone();
        match self.handler.prepare(&f.batch.msgs).instrument(span).await {
            Ok(p) if p.results.len() == f.batch.msgs.len() => {
                f.results = p.results;
                f.work = Some(p.work);
            }
            Ok(p) => {
                let e = HandlerError::Transient(format!(
                    "the handler prepared {} results for {} messages",
                    p.results.len(),
                    f.batch.msgs.len()
                ));
                f.done = Some(Err(CommitError::Failed(e)));
            }
            Err(e) => f.done = Some(Err(CommitError::Failed(e))),
        }
        f
    }

    /// Starts the commit of what `f` prepared, in a task of its own (so that it runs beside
    /// the next preparation).
    fn start_commit(&self, f: &mut InFlight<P::Work>) {
        if let Some(work) = f.work.take() {
            let handler = self.handler.clone();
            let span = f.batch.span.clone();
            f.commit = Some(tokio::spawn(
                async move { handler.commit(work).await }.instrument(span),
            ));
        }
    }

    /// Waits for `f`'s commit and settles its deliveries; when the commit did not take
    /// effect, deals with its messages again (see the module documentation), so nothing
    /// prepared after it may be held then.
    async fn finish(&self, core: &Core, queue: &str, mut f: InFlight<P::Work>) {
        let first = f.outcome().await;
        let results = match first {
            Ok(()) => f.results,
            Err(e) => {
                self.again(queue, &f.batch, e)
                    .instrument(f.batch.span.clone())
                    .await
            }
        };
        // batches settle in order: every earlier delivery on the channel is settled already
        core.settle_batch(queue, f.batch, results).await;
    }

    /// The outcomes of a batch whose commit failed with `e`, nothing else being in flight:
    /// prepared and committed again when stale, else each message alone.
    async fn again(
        &self,
        queue: &str,
        batch: &Batch,
        mut e: CommitError,
    ) -> Vec<Result<(), HandlerError>> {
        let msgs = &batch.msgs;
        for _ in 0..STALE_RETRIES {
            if !matches!(e, CommitError::Stale) {
                break;
            }
            tracing::debug!(%queue, size = msgs.len(), "stale preparation; preparing the batch again");
            match self.inline(msgs).await {
                Ok(results) => return results,
                Err(again) => e = again,
            }
        }
        match e {
            CommitError::Failed(e) if msgs.len() == 1 => vec![Err(e)],
            e => {
                tracing::warn!(%queue, size = msgs.len(), error = %e, "batch failed; handling its messages one at a time");
                let mut one_by_one = Vec::with_capacity(msgs.len());
                for m in msgs {
                    one_by_one.push(self.one(m).await);
                }
                one_by_one
            }
        }
    }

    /// Prepares and commits `msgs` with nothing else in flight.
    async fn inline(
        &self,
        msgs: &[Incoming],
    ) -> Result<Vec<Result<(), HandlerError>>, CommitError> {
        let p = self.handler.prepare(msgs).await?;
        if p.results.len() != msgs.len() {
            return Err(CommitError::Failed(HandlerError::Transient(format!(
                "the handler prepared {} results for {} messages",
                p.results.len(),
                msgs.len()
            ))));
        }
        self.handler.commit(p.work).await?;
        Ok(p.results)
    }

    /// One message alone (the fallback after a failed batch).
    async fn one(&self, msg: &Incoming) -> Result<(), HandlerError> {
        let mut last = HandlerError::Transient("stale preparation".into());
        for _ in 0..STALE_RETRIES {
            match self.inline(std::slice::from_ref(msg)).await {
                Ok(mut r) => return r.pop().unwrap_or(Ok(())),
                Err(CommitError::Stale) => {}
                Err(CommitError::Failed(e)) => return Err(e),
            }
            last = HandlerError::Transient("stale preparation, again".into());
        }
        Err(last)
    }
}

impl<P: StagedHandler> Drive for StagedConsumer<P> {
    async fn drive<S>(&self, core: &Core, queue: &str, deliveries: S)
    where
        S: futures::Stream<Item = Delivery> + Send,
    {
        let mut chunks = std::pin::pin!(deliveries.ready_chunks(core.batch_size()));
        let mut committing: Option<InFlight<P::Work>> = None;
        loop {
            // the next batch: whatever arrives while the previous one commits; when that
            // commit ends first, it is settled and the next batch awaited
            let chunk = match committing.as_mut() {
                None => chunks.next().await,
                Some(c) => {
                    let done = tokio::select! {
                        biased;
                        _ = c.outcome() => None,
                        chunk = chunks.next() => Some(chunk),
                    };
                    match done {
                        Some(chunk) => chunk,
                        None => {
                            if let Some(c) = committing.take() {
                                self.finish(core, queue, c).await;
                            }
                            continue;
                        }
                    }
                }
            };
            let Some(chunk) = chunk else { break };
            // batch n+1 is prepared while batch n commits
            let mut next = self.prepare(core.read_batch(queue, chunk)).await;
            if let Some(mut c) = committing.take() {
                let void = c.outcome().await.is_err();
                if void {
                    // what was prepared stood on a commit that did not happen: dropped before
                    // batch n is dealt with again, and prepared again after it
                    next.work = None;
                }
                self.finish(core, queue, c).await;
                if void {
                    next = self.prepare(next.batch).await;
                }
            }
            self.start_commit(&mut next);
            committing = Some(next);
        }
        if let Some(c) = committing.take() {
            self.finish(core, queue, c).await;
        }
    }
}

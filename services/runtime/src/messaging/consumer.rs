//! Consuming with manual acks and bounded prefetch, delayed retry and dead letters.
//!
//! For each delivery: parse the envelope; a message that is not JSON, not a CloudEvent, or of
//! an unknown contract version goes straight to the queue's dead-letter queue with the reason
//! in its headers, and the consumer carries on. Otherwise the [`Handler`] runs:
//! - `Ok` → ack;
//! - [`HandlerError::Permanent`] → dead-letter with the reason;
//! - [`HandlerError::Transient`] → the message waits in the retry queue for the policy's next
//!   delay and comes back with its attempt count raised; after the last attempt it is
//!   dead-lettered with the reason.
//!
//! A message is acked only after its retry or dead-letter copy was confirmed by the broker, so
//! a crash in between redelivers it (at-least-once; handlers are idempotent through the inbox).
//! A connection or channel loss ends the stream; the consumer reconnects, redeclares its queue
//! and resumes. Cancelling the shutdown token stops new deliveries and lets in-flight ones
//! finish.
//!
//! Who published a message: [`Incoming::origin_user`] is the broker-validated AMQP `user_id`
//! of the delivery, or, when the delivery was published by the hub itself (this consumer's own
//! connection user, or a configured relay such as the console replaying a dead letter), the
//! original publisher recorded in the [`H_ORIGIN_USER`] header of that copy. Every retry and
//! dead-letter copy records it there, so a message keeps its publisher through retries and
//! replays, and a header an outside publisher sets is never believed.
//!
//! A consumer may cap the size of a message body ([`Consumer::max_body_bytes`]): a larger one is
//! dead-lettered (`too-large`) before anything parses it.
//!
//! Three kinds: [`Consumer`] hands its [`Handler`] one message at a time (several at once with
//! `concurrency`); [`BatchConsumer`] hands its [`BatchHandler`] every message the broker had
//! already delivered (within the prefetch window, up to the batch size; it never waits for a
//! batch to fill), so that a service can apply them in ONE transaction, and acks them together
//! after that commit; [`StagedConsumer`] works like [`BatchConsumer`] but prepares the next
//! batch while the previous one commits (see [`staged`]). The kinds share their options
//! (one set of builder setters, `queue_options!`) and one settle path ([`settle`]): parsing,
//! outcomes, retry and dead-letter copies, acks. Per-message outcomes are the same in all: what cannot be parsed is
//! dead-lettered before the handler sees it; a message the batch handler reports as failed
//! alone takes its own retry or dead-letter path; and when a batch fails as a whole (rolled
//! back), its messages are handed over again one at a time, so one bad message never takes the
//! others down with it.
//!
//! Tracing: every parsed delivery gets a consumer span `process <contract type>`, the child of
//! the context it was published in (its `traceparent` header, else its envelope's), and
//! [`Incoming::trace`] is that span's context (handlers put it on what they publish, so a
//! record's trace goes on through every service). A batch gets one span `process <queue>`,
//! a root linked to the context of each of its messages, and each message's span is linked
//! to it; the batch handler runs inside it. Spans carry ids, types, counts and the outcome.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use hub_contracts::{Contract, Envelope, RawEnvelope};
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use tracing::Instrument;

use super::MessagingError;
use super::broker::Broker;
use super::publisher::Publisher;
use super::retry::RetryPolicy;
use super::topology::{DLX, QueueSpec};
use crate::shutdown::CancellationToken;
use crate::telemetry::TraceContext;
use crate::telemetry::propagation::{self, TRACEPARENT};

/// The options every consumer kind has, written once and expanded in each kind's `impl`
/// (the kind holds its [`Core`] in `core`); `batches` adds the batch size.
macro_rules! queue_options {
    () => {
        /// The retry policy for transient failures (delays, attempts).
        pub fn retry(mut self, policy: RetryPolicy) -> Self {
            self.core.retry = policy;
            self
        }

        /// Unacknowledged deliveries the broker may send ahead (bounded prefetch). For the
        /// batch kinds also the largest batch unless `max_batch` says otherwise (a window of
        /// two batches lets the pipelined kind fill the next one while one commits).
        pub fn prefetch(mut self, n: u16) -> Self {
            self.core.prefetch = n.max(1);
            self
        }

        /// Contract types this consumer takes; any other type is dead-lettered.
        pub fn accepts(mut self, types: &[&str]) -> Self {
            self.core.accepts = Some(types.iter().map(|t| (*t).to_owned()).collect());
            self
        }

        /// Users (besides this connection's own) whose messages are the hub's copies of
        /// another publisher's message, e.g. the console's user replaying dead letters: their
        /// [`H_ORIGIN_USER`](crate::messaging::consumer::H_ORIGIN_USER) header names the
        /// original publisher.
        pub fn relays(mut self, users: &[String]) -> Self {
            self.core.relays = users.to_vec();
            self
        }

        /// The largest message body taken: a larger one is dead-lettered (`too-large`)
        /// unparsed.
        pub fn max_body_bytes(mut self, n: usize) -> Self {
            self.core.max_body = Some(n);
            self
        }

        /// Declares the queue and consumes until `shutdown`, reconnecting after any broker
        /// failure.
        pub async fn run(self, shutdown: CancellationToken) -> Result<(), MessagingError> {
            self.core.run(&self, shutdown).await
        }
    };
    (batches) => {
        queue_options!();

        /// The most messages handed over at once (default: the prefetch).
        pub fn max_batch(mut self, n: usize) -> Self {
            self.core.max_batch = Some(n.max(1));
            self
        }
    };
}

mod settle;
mod staged;
use settle::{Outcome, attempt_of};
pub use staged::{CommitError, Prepared, StagedConsumer, StagedHandler};

/// Header: attempt number of this delivery (1 for the first).
pub const H_ATTEMPT: &str = "x-hub-attempt";
/// Header: the last transient error, on a retried message.
pub const H_LAST_ERROR: &str = "x-hub-last-error";
/// Header: why a message was dead-lettered, in words.
pub const H_DEAD_REASON: &str = "x-hub-dead-reason";
/// Header: machine-readable reason (`malformed`, `unknown-contract`, `retries-exhausted`, …).
pub const H_DEAD_KIND: &str = "x-hub-dead-kind";
/// Header: the queue the message was dead-lettered from (full name).
pub const H_DEAD_QUEUE: &str = "x-hub-dead-queue";
/// Header: when it was dead-lettered (RFC 3339).
pub const H_DEAD_AT: &str = "x-hub-dead-at";
/// Header: the broker-validated user that published the original message, on the hub's own
/// copies of it (retry, dead letter, replay). Believed only on a message whose own `user_id`
/// is the hub's (see the module documentation).
pub const H_ORIGIN_USER: &str = "x-hub-origin-user";

/// Longest wait for a broker operation that should be quick (ack, close): on a connection
/// that died without notice it would otherwise never return.
const OP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a handler did not take effect.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (database down, dependency timing out): retried with backoff.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never work (invalid content): dead-lettered at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl HandlerError {
    pub fn transient(e: impl std::fmt::Display) -> Self {
        Self::Transient(e.to_string())
    }
    pub fn permanent(e: impl std::fmt::Display) -> Self {
        Self::Permanent(e.to_string())
    }
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        // constraint violations say the data is wrong; everything else (connection lost,
        // pool timed out, server restarting) is worth retrying
        match &e {
            sqlx::Error::Database(db)
                if db.is_check_violation() || db.is_foreign_key_violation() =>
            {
                Self::Permanent(e.to_string())
            }
            _ => Self::Transient(e.to_string()),
        }
    }
}

impl From<crate::storage::StorageError> for HandlerError {
    fn from(e: crate::storage::StorageError) -> Self {
        Self::Transient(e.to_string())
    }
}

/// A delivery, parsed as an envelope.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub envelope: RawEnvelope,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub redelivered: bool,
    /// Full name of the queue it came from.
    pub queue: String,
    /// This hop's trace context: the consumer span's, a child of the message's `traceparent`
    /// (see the module documentation).
    pub trace: TraceContext,
    /// The RabbitMQ user that published the message, as the broker validated it (see the
    /// module documentation); `None` when the message carries no `user_id`.
    pub origin_user: Option<String>,
}

impl Incoming {
    /// Decodes the payload as contract `T`; a mismatch is a permanent error.
    pub fn decode<T: Contract>(&self) -> Result<Envelope<T>, HandlerError> {
        self.envelope
            .decode_ref::<T>()
            .map_err(HandlerError::permanent)
    }
}

/// What a consumer does with each message.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, msg: Incoming) -> impl Future<Output = Result<(), HandlerError>> + Send;
}

impl<F, Fut> Handler for F
where
    F: Fn(Incoming) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send,
{
    fn handle(&self, msg: Incoming) -> impl Future<Output = Result<(), HandlerError>> + Send {
        self(msg)
    }
}

/// What a [`BatchConsumer`] does with the messages that arrived together.
///
/// The consumer hands over what the broker had already delivered (up to its batch size, never
/// waiting for more), in queue order, after taking out what it dead-letters itself (not an
/// envelope, unknown or unexpected contract).
pub trait BatchHandler: Send + Sync + 'static {
    /// Applies `msgs` (at least one, in queue order) as one unit of work: typically one
    /// database transaction that claims every message id in the inbox, applies every effect
    /// and commits once.
    ///
    /// - `Ok(results)`: the unit committed; `results[i]` (one per message) is message `i`'s
    ///   own outcome: `Ok` (took effect, or a duplicate) is acked; an error (a payload that
    ///   does not decode, say) sends that message alone to its retry or dead-letter path.
    /// - `Err(e)`: nothing took effect (rolled back). The consumer then hands the messages
    ///   over again one at a time, so that one failing message holds none of the others
    ///   back and each gets exactly the per-message retry and dead-letter treatment; a
    ///   batch of one takes `e` as its outcome.
    fn handle_batch(
        &self,
        msgs: &[Incoming],
    ) -> impl Future<Output = Result<Vec<Result<(), HandlerError>>, HandlerError>> + Send;
}

/// What every consumer kind shares: the queue, its declaration, options and retry policy,
/// parsing, and settling a delivery ([`settle`]).
struct Core {
    broker: Broker,
    publisher: Arc<Publisher>,
    spec: QueueSpec,
    retry: RetryPolicy,
    prefetch: u16,
    accepts: Option<Vec<String>>,
    /// Users whose messages are the hub's own copies (besides the connection's own user).
    relays: Vec<String>,
    /// Largest body taken; a larger one is dead-lettered unparsed.
    max_body: Option<usize>,
    /// The most messages in a batch (the batch kinds; default: the prefetch).
    max_batch: Option<usize>,
}

/// How a consumer works through its deliveries.
trait Drive: Send + Sync {
    fn drive<S>(&self, core: &Core, queue: &str, deliveries: S) -> impl Future<Output = ()> + Send
    where
        S: futures::Stream<Item = Delivery> + Send;
}

/// A queue consumer that hands its [`Handler`] one message at a time.
pub struct Consumer<H> {
    core: Core,
    concurrency: usize,
    handler: Arc<H>,
}

impl Core {
    fn new(broker: Broker, spec: QueueSpec) -> Self {
        Self {
            publisher: Arc::new(Publisher::new(broker.clone())),
            broker,
            spec,
            retry: RetryPolicy::default(),
            prefetch: 64,
            accepts: None,
            relays: Vec::new(),
            max_body: None,
            max_batch: None,
        }
    }

    /// The most messages in a batch.
    fn batch_size(&self) -> usize {
        self.max_batch.unwrap_or(usize::from(self.prefetch)).max(1)
    }

    /// Who published `d` (see the module documentation).
    fn origin_of(&self, d: &Delivery, headers: &BTreeMap<String, String>) -> Option<String> {
        let user = d.properties.user_id().as_ref()?.as_str();
        let relayed =
            self.broker.user() == Some(user) || self.relays.iter().any(|r| r.as_str() == user);
        if relayed {
            headers.get(H_ORIGIN_USER).cloned()
        } else {
            Some(user.to_owned())
        }
    }

    /// Declares the queue and consumes until `shutdown`, reconnecting after any broker failure.
    async fn run<D: Drive>(
        &self,
        driver: &D,
        shutdown: CancellationToken,
    ) -> Result<(), MessagingError> {
        let queue = self.broker.topology().name(&self.spec.name);
        let mut backoff = RetryPolicy::reconnect_backoff();
        while !shutdown.is_cancelled() {
            match self.consume_once(driver, &queue, &shutdown).await {
                Ok(()) if shutdown.is_cancelled() => break,
                Ok(()) => {
                    tracing::warn!(%queue, "delivery stream ended; reconnecting");
                    backoff.reset();
                }
                Err(MessagingError::ShuttingDown) => break,
                Err(e) => {
                    let wait = backoff
                        .next_wait()
                        .unwrap_or(std::time::Duration::from_secs(5));
                    tracing::warn!(%queue, error = %e, retry_in_ms = wait.as_millis() as u64, "consumer failed; reconnecting");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
            self.broker.invalidate_if_dead().await;
        }
        tracing::info!(%queue, "consumer stopped");
        Ok(())
    }

    async fn consume_once<D: Drive>(
        &self,
        driver: &D,
        queue: &str,
        shutdown: &CancellationToken,
    ) -> Result<(), MessagingError> {
        let ch = self.broker.channel_with_retry(shutdown).await?;
        self.broker
            .topology()
            .declare_queue(&ch, &self.spec, &self.retry)
            .await?;
        ch.basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let consumer = ch
            .basic_consume(
                queue.into(),
                format!("{queue}.{}", uuid::Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(%queue, prefetch = self.prefetch, "consuming");
        let stop = shutdown.clone();
        let deliveries = consumer
            .take_until(async move { stop.cancelled().await })
            .take_while(|d| {
                if let Err(e) = d {
                    tracing::warn!(%queue, error = %e, "delivery stream error");
                }
                futures::future::ready(d.is_ok())
            })
            .filter_map(|d| futures::future::ready(d.ok()));
        driver.drive(self, queue, deliveries).await;
        // a channel on a connection that just died may never answer close-ok
        if ch.status().connected() {
            let _ =
                tokio::time::timeout(OP_TIMEOUT, ch.close(200, "consumer stopping".into())).await;
        }
        Ok(())
    }

    /// The delivery as an [`Incoming`] with its consumer span, or why it goes straight to
    /// the dead-letter queue.
    fn parse(
        &self,
        queue: &str,
        d: &Delivery,
        attempt: u32,
        headers: &BTreeMap<String, String>,
    ) -> Result<(Incoming, Traced), Outcome> {
        if let Some(max) = self.max_body
            && d.data.len() > max
        {
            return Err(Outcome::DeadLetter(
                "too-large".into(),
                format!(
                    "message of {} bytes is larger than the {max} bytes queue {queue} takes",
                    d.data.len()
                ),
            ));
        }
        let env = RawEnvelope::parse(&d.data)
            .map_err(|e| Outcome::DeadLetter(e.kind().to_owned(), e.to_string()))?;
        if let Some(types) = &self.accepts
            && !types.contains(&env.ty)
        {
            return Err(Outcome::DeadLetter(
                "unexpected-contract".into(),
                format!("queue {queue} does not take contract type {:?}", env.ty),
            ));
        }
        let parent = headers
            .get(TRACEPARENT)
            .cloned()
            .or_else(|| env.traceparent.clone());
        let span = tracing::info_span!(parent: None, "process",
            otel.name = %format!("process {}", env.ty), otel.kind = "consumer",
            messaging.system = "rabbitmq", messaging.operation.type = "process",
            messaging.destination.name = %queue, messaging.message.id = %env.id,
            hub.contract = %env.ty, hub.attempt = attempt,
            hub.outcome = tracing::field::Empty, trace_id = tracing::field::Empty);
        propagation::set_remote_parent(&span, parent.as_deref());
        let trace = TraceContext::of(&span)
            .unwrap_or_else(|| TraceContext::continue_or_new(parent.as_deref()));
        span.record("trace_id", trace.trace_id.as_str());
        let msg = Incoming {
            envelope: env,
            attempt,
            redelivered: d.redelivered,
            queue: queue.to_owned(),
            trace,
            origin_user: self.origin_of(d, headers),
        };
        Ok((msg, Traced { span, parent }))
    }
}

impl<H: Handler> Consumer<H> {
    pub fn new(broker: Broker, spec: QueueSpec, handler: H) -> Self {
        Self {
            core: Core::new(broker, spec),
            concurrency: 1,
            handler: Arc::new(handler),
        }
    }

    queue_options!();

    /// Handlers running at once (1 keeps the queue's order).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    async fn process(&self, core: &Core, queue: &str, d: Delivery) {
        let headers = string_headers(d.properties.headers());
        let attempt = attempt_of(&headers);
        let outcome = match core.parse(queue, &d, attempt, &headers) {
            Err(dead) => dead,
            Ok((msg, traced)) => {
                let span = traced.span.clone();
                span.in_scope(|| tracing::debug!("handling"));
                let outcome =
                    core.outcome(attempt, self.handler.handle(msg).instrument(span).await);
                traced.settled(&outcome);
                outcome
            }
        };
        // with several handlers at once, deliveries settle out of order: one ack each
        core.settle(queue, vec![(d, attempt, headers, outcome)], false)
            .await;
    }
}

impl<H: Handler> Drive for Consumer<H> {
    async fn drive<S>(&self, core: &Core, queue: &str, deliveries: S)
    where
        S: futures::Stream<Item = Delivery> + Send,
    {
        deliveries
            .for_each_concurrent(self.concurrency, |d| self.process(core, queue, d))
            .await;
    }
}

/// A queue consumer that hands its [`BatchHandler`] every message the broker had delivered
/// when the previous batch was done (up to the batch size, without waiting for more), and
/// acks them together once the handler committed. One batch at a time, in queue order.
pub struct BatchConsumer<B> {
    core: Core,
    handler: Arc<B>,
}

impl<B: BatchHandler> BatchConsumer<B> {
    pub fn new(broker: Broker, spec: QueueSpec, handler: B) -> Self {
        Self {
            core: Core::new(broker, spec),
            handler: Arc::new(handler),
        }
    }

    queue_options!(batches);

    /// One message alone (the fallback after a failed batch).
    async fn handle_one(&self, msg: &Incoming) -> Result<(), HandlerError> {
        match self.handler.handle_batch(std::slice::from_ref(msg)).await {
            Ok(mut r) if r.len() == 1 => r.pop().unwrap_or(Ok(())),
            Ok(r) => Err(HandlerError::Transient(format!(
                "batch handler returned {} results for 1 message",
                r.len()
            ))),
            Err(e) => Err(e),
        }
    }

    /// The batch's outcomes: the handler's for the batch, or for each message alone when the
    /// batch failed as a whole.
    async fn handle_all(&self, queue: &str, msgs: &[Incoming]) -> Vec<Result<(), HandlerError>> {
        match self.handler.handle_batch(msgs).await {
            Ok(r) if r.len() == msgs.len() => r,
            Err(e) if msgs.len() == 1 => vec![Err(e)],
            other => {
                let why = match other {
                    Err(e) => e.to_string(),
                    Ok(r) => format!(
                        "the handler returned {} results for {} messages",
                        r.len(),
                        msgs.len()
                    ),
                };
                tracing::warn!(%queue, size = msgs.len(), error = %why, "batch failed; handling its messages one at a time");
                let mut one_by_one = Vec::with_capacity(msgs.len());
                for m in msgs {
                    one_by_one.push(self.handle_one(m).await);
                }
                one_by_one
            }
        }
    }
}

impl<B: BatchHandler> Drive for BatchConsumer<B> {
    async fn drive<S>(&self, core: &Core, queue: &str, deliveries: S)
    where
        S: futures::Stream<Item = Delivery> + Send,
    {
        let mut batches = std::pin::pin!(deliveries.ready_chunks(core.batch_size()));
        while let Some(chunk) = batches.next().await {
            let batch = core.read_batch(queue, chunk);
            let results = if batch.msgs.is_empty() {
                Vec::new()
            } else {
                let span = batch.span.clone();
                self.handle_all(queue, &batch.msgs).instrument(span).await
            };
            // one batch at a time: every earlier delivery on the channel is settled already
            core.settle_batch(queue, batch, results).await;
        }
    }
}

/// A parsed delivery's consumer span, and the context it was published in.
struct Traced {
    span: tracing::Span,
    parent: Option<String>,
}

impl Traced {
    /// Records the delivery's outcome on its span (a dead letter is an error), which ends
    /// when this is dropped.
    fn settled(self, outcome: &Outcome) {
        self.span.record("hub.outcome", outcome.label());
        if let Outcome::DeadLetter(kind, _) = outcome {
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            // the kind only: a reason may quote the message
            self.span
                .set_status(opentelemetry::trace::Status::error(kind.clone()));
        }
    }
}

/// The span of a batch: a root linked to the context each message was published in; each
/// message's span is linked to it.
fn batch_span(queue: &str, traced: &[Traced]) -> tracing::Span {
    let span = tracing::info_span!(parent: None, "process_batch",
        otel.name = %format!("process {queue}"), otel.kind = "consumer",
        messaging.system = "rabbitmq", messaging.operation.type = "process",
        messaging.destination.name = %queue, messaging.batch.message_count = traced.len());
    for t in traced {
        if let Some(p) = &t.parent {
            propagation::link(&span, p);
        }
        propagation::link_span(&t.span, &span);
    }
    span
}

/// String-valued headers of a delivery.
pub fn string_headers(table: &Option<FieldTable>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(t) = table {
        for (k, v) in t.inner() {
            let value = match v {
                AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
                AMQPValue::ShortString(s) => s.to_string(),
                AMQPValue::LongLongInt(n) => n.to_string(),
                AMQPValue::LongInt(n) => n.to_string(),
                AMQPValue::LongUInt(n) => n.to_string(),
                AMQPValue::ShortInt(n) => n.to_string(),
                AMQPValue::Boolean(b) => b.to_string(),
                _ => continue,
            };
            out.insert(k.to_string(), value);
        }
    }
    out
}

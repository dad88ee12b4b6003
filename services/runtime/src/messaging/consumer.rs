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

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use backoff::backoff::Backoff;
use futures::StreamExt;
use hub_contracts::{Contract, Envelope, RawEnvelope};
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};

use super::MessagingError;
use super::broker::Broker;
use super::publisher::{OutgoingMessage, Publisher};
use super::retry::RetryPolicy;
use super::topology::{DLX, QueueSpec};
use crate::shutdown::CancellationToken;
use crate::telemetry::{QueueLabels, TraceContext};

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
    /// This hop's trace context (a child of the envelope's `traceparent`).
    pub trace: TraceContext,
}

impl Incoming {
    /// Decodes the payload as contract `T`; a mismatch is a permanent error.
    pub fn decode<T: Contract>(&self) -> Result<Envelope<T>, HandlerError> {
        self.envelope
            .clone()
            .decode::<T>()
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

/// A queue consumer.
pub struct Consumer<H> {
    broker: Broker,
    publisher: Arc<Publisher>,
    spec: QueueSpec,
    retry: RetryPolicy,
    prefetch: u16,
    concurrency: usize,
    accepts: Option<Vec<String>>,
    handler: Arc<H>,
}

impl<H: Handler> Consumer<H> {
    pub fn new(broker: Broker, spec: QueueSpec, handler: H) -> Self {
        Self {
            publisher: Arc::new(Publisher::new(broker.clone())),
            broker,
            spec,
            retry: RetryPolicy::default(),
            prefetch: 64,
            concurrency: 1,
            accepts: None,
            handler: Arc::new(handler),
        }
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Unacknowledged deliveries the broker may send ahead (bounded prefetch).
    pub fn prefetch(mut self, n: u16) -> Self {
        self.prefetch = n.max(1);
        self
    }

    /// Handlers running at once (1 keeps the queue's order).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Contract types this consumer takes; any other type is dead-lettered.
    pub fn accepts(mut self, types: &[&str]) -> Self {
        self.accepts = Some(types.iter().map(|t| (*t).to_owned()).collect());
        self
    }

    /// Declares the queue and consumes until `shutdown`, reconnecting after any broker failure.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), MessagingError> {
        let queue = self.broker.topology().name(&self.spec.name);
        let mut backoff = RetryPolicy::reconnect_backoff();
        while !shutdown.is_cancelled() {
            match self.consume_once(&queue, &shutdown).await {
                Ok(()) if shutdown.is_cancelled() => break,
                Ok(()) => {
                    tracing::warn!(%queue, "delivery stream ended; reconnecting");
                    backoff.reset();
                }
                Err(MessagingError::ShuttingDown) => break,
                Err(e) => {
                    let wait = backoff
                        .next_backoff()
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

    async fn consume_once(
        &self,
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
        consumer
            .take_until(async move { stop.cancelled().await })
            .take_while(|d| {
                if let Err(e) = d {
                    tracing::warn!(%queue, error = %e, "delivery stream error");
                }
                futures::future::ready(d.is_ok())
            })
            .for_each_concurrent(self.concurrency, |d| async move {
                if let Ok(delivery) = d {
                    self.process(queue, delivery).await;
                }
            })
            .await;
        // a channel on a connection that just died may never answer close-ok
        if ch.status().connected() {
            let _ =
                tokio::time::timeout(OP_TIMEOUT, ch.close(200, "consumer stopping".into())).await;
        }
        Ok(())
    }

    async fn process(&self, queue: &str, d: Delivery) {
        let headers = string_headers(d.properties.headers());
        let attempt = headers
            .get(H_ATTEMPT)
            .and_then(|a| a.parse::<u32>().ok())
            .unwrap_or(1);
        let outcome = match RawEnvelope::parse(&d.data) {
            Err(e) => Outcome::DeadLetter(e.kind().to_owned(), e.to_string()),
            Ok(env) => match &self.accepts {
                Some(types) if !types.contains(&env.ty) => Outcome::DeadLetter(
                    "unexpected-contract".into(),
                    format!("queue {queue} does not take contract type {:?}", env.ty),
                ),
                _ => {
                    let trace = TraceContext::continue_or_new(env.traceparent.as_deref());
                    let span = tracing::info_span!("handle", %queue, id = %env.id, ty = %env.ty,
                        trace_id = %trace.trace_id, attempt);
                    let msg = Incoming {
                        envelope: env,
                        attempt,
                        redelivered: d.redelivered,
                        queue: queue.to_owned(),
                        trace,
                    };
                    let result = {
                        let _enter = span.enter();
                        tracing::debug!("handling");
                        drop(_enter);
                        self.handler.handle(msg).await
                    };
                    match result {
                        Ok(()) => Outcome::Ack,
                        Err(HandlerError::Permanent(m)) => {
                            Outcome::DeadLetter("rejected".into(), m)
                        }
                        Err(HandlerError::Transient(m)) => match self.retry.delay_after(attempt) {
                            Some(delay) => Outcome::Retry(delay, m),
                            None => Outcome::DeadLetter(
                                "retries-exhausted".into(),
                                format!("failed {attempt} attempts; last error: {m}"),
                            ),
                        },
                    }
                }
            },
        };
        let label = match &outcome {
            Outcome::Ack => "ok",
            Outcome::Retry(..) => "retry",
            Outcome::DeadLetter(..) => "dead_letter",
        };
        let forwarded = match outcome {
            Outcome::Ack => Ok(()),
            Outcome::Retry(delay, error) => {
                tracing::info!(%queue, attempt, delay_ms = delay.as_millis() as u64, %error, "transient failure; retrying later");
                let mut h = headers.clone();
                h.insert(H_ATTEMPT.into(), (attempt + 1).to_string());
                h.insert(H_LAST_ERROR.into(), truncate(&error, 1000));
                let target = self.broker.topology().retry_queue(&self.spec.name, delay);
                self.publisher
                    .publish(&copy_of(&d, String::new(), target, h))
                    .await
            }
            Outcome::DeadLetter(kind, reason) => {
                tracing::warn!(%queue, %kind, %reason, "dead-lettering message");
                let mut h = headers.clone();
                h.insert(H_DEAD_KIND.into(), kind);
                h.insert(H_DEAD_REASON.into(), truncate(&reason, 4000));
                h.insert(H_DEAD_QUEUE.into(), queue.to_owned());
                h.insert(H_DEAD_AT.into(), chrono::Utc::now().to_rfc3339());
                h.insert(H_ATTEMPT.into(), attempt.to_string());
                self.publisher
                    .publish(&copy_of(&d, DLX.to_owned(), queue.to_owned(), h))
                    .await
            }
        };
        self.broker
            .metrics()
            .consumed
            .get_or_create(&QueueLabels {
                queue: queue.to_owned(),
                outcome: label.to_owned(),
            })
            .inc();
        match forwarded {
            Ok(()) => {
                match tokio::time::timeout(OP_TIMEOUT, d.ack(BasicAckOptions::default())).await {
                    Ok(Ok(_)) => {}
                    // the broker will redeliver; the inbox makes that harmless
                    Ok(Err(e)) => tracing::warn!(%queue, error = %e, "ack failed"),
                    Err(_) => tracing::warn!(%queue, "ack timed out"),
                }
            }
            Err(e) => {
                tracing::warn!(%queue, error = %e, "could not forward message; returning it to the queue");
                let nack = d.nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                });
                let _ = tokio::time::timeout(OP_TIMEOUT, nack).await;
            }
        }
    }
}

enum Outcome {
    Ack,
    Retry(std::time::Duration, String),
    DeadLetter(String, String),
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
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

fn copy_of(
    d: &Delivery,
    exchange: String,
    routing_key: String,
    headers: BTreeMap<String, String>,
) -> OutgoingMessage {
    OutgoingMessage {
        exchange,
        routing_key,
        message_id: d
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string())
            .unwrap_or_else(|| format!("unidentified-{}", uuid::Uuid::new_v4())),
        contract_type: d
            .properties
            .kind()
            .as_ref()
            .map(|k| k.to_string())
            .unwrap_or_else(|| "unknown".into()),
        body: d.data.clone(),
        headers,
    }
}

//! Settling deliveries, the one path every consumer kind takes: a handler's result becomes an
//! [`Outcome`] (ack, retry later, dead letter), the retry and dead-letter copies are forwarded
//! (pipelined, confirmed) and only then are the deliveries acked. Also reading a batch (what
//! parses, what goes straight to the dead-letter queue) and settling it, shared by the batch
//! and pipelined kinds.

use std::collections::BTreeMap;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};

use super::{
    Core, DLX, H_ATTEMPT, H_DEAD_AT, H_DEAD_KIND, H_DEAD_QUEUE, H_DEAD_REASON, H_LAST_ERROR,
    H_ORIGIN_USER, HandlerError, Incoming, OP_TIMEOUT, Traced, batch_span, string_headers,
};
use crate::messaging::publisher::OutgoingMessage;
use crate::telemetry::QueueLabels;

/// What becomes of a delivery.
pub(super) enum Outcome {
    Ack,
    /// To the retry queue of this delay, with the error.
    Retry(std::time::Duration, String),
    /// To the dead-letter queue: kind, reason.
    DeadLetter(String, String),
}

impl Outcome {
    pub(super) fn label(&self) -> &'static str {
        match self {
            Outcome::Ack => "ok",
            Outcome::Retry(..) => "retry",
            Outcome::DeadLetter(..) => "dead_letter",
        }
    }
}

/// A delivery read: its attempt, its headers, and its outcome when it goes straight to the
/// dead-letter queue.
type Read = (Delivery, u32, BTreeMap<String, String>, Option<Outcome>);

/// A batch as read: every delivery, the messages parsed from it (in order) with their spans,
/// and the batch's span (none when nothing parsed).
pub(super) struct Batch {
    deliveries: Vec<Read>,
    pub(super) msgs: Vec<Incoming>,
    traced: Vec<Traced>,
    pub(super) span: tracing::Span,
}

impl Core {
    /// Reads `chunk`: parses each delivery, keeps aside what goes straight to the
    /// dead-letter queue.
    pub(super) fn read_batch(&self, queue: &str, chunk: Vec<Delivery>) -> Batch {
        let mut deliveries = Vec::with_capacity(chunk.len());
        let mut msgs = Vec::with_capacity(chunk.len());
        let mut traced = Vec::with_capacity(chunk.len());
        for d in chunk {
            let headers = string_headers(d.properties.headers());
            let attempt = attempt_of(&headers);
            match self.parse(queue, &d, attempt, &headers) {
                Ok((m, t)) => {
                    msgs.push(m);
                    traced.push(t);
                    deliveries.push((d, attempt, headers, None));
                }
                Err(dead) => deliveries.push((d, attempt, headers, Some(dead))),
            }
        }
        let span = if msgs.is_empty() {
            tracing::Span::none()
        } else {
            let span = batch_span(queue, &traced);
            span.in_scope(|| tracing::debug!("handling a batch"));
            span
        };
        Batch {
            deliveries,
            msgs,
            traced,
            span,
        }
    }

    /// Settles `batch` with `results`, one per parsed message, in order (a missing one
    /// counts as `Ok`). Batches are settled one at a time and in order, so every earlier
    /// delivery on the channel is settled already.
    pub(super) async fn settle_batch(
        &self,
        queue: &str,
        batch: Batch,
        results: Vec<Result<(), HandlerError>>,
    ) {
        let mut results = results.into_iter();
        let mut traced = batch.traced.into_iter();
        let settled = batch
            .deliveries
            .into_iter()
            .map(|(d, attempt, headers, dead)| {
                let outcome = dead.unwrap_or_else(|| {
                    let o = self.outcome(attempt, results.next().unwrap_or(Ok(())));
                    if let Some(t) = traced.next() {
                        t.settled(&o);
                    }
                    o
                });
                (d, attempt, headers, outcome)
            })
            .collect();
        self.settle(queue, settled, true).await;
    }

    /// What to do with a delivery after its handler returned `result`.
    pub(super) fn outcome(&self, attempt: u32, result: Result<(), HandlerError>) -> Outcome {
        match result {
            Ok(()) => Outcome::Ack,
            Err(HandlerError::Permanent(m)) => Outcome::DeadLetter("rejected".into(), m),
            Err(HandlerError::Transient(m)) => match self.retry.delay_after(attempt) {
                Some(delay) => Outcome::Retry(delay, m),
                None => Outcome::DeadLetter(
                    "retries-exhausted".into(),
                    format!("failed {attempt} attempts; last error: {m}"),
                ),
            },
        }
    }

    /// The copy of a delivery that goes to a retry or dead-letter queue; `None` for an ack.
    fn forward_copy(
        &self,
        queue: &str,
        d: &Delivery,
        attempt: u32,
        mut h: BTreeMap<String, String>,
        outcome: Outcome,
    ) -> Option<OutgoingMessage> {
        // the copy is published by this service: it records who published the original
        match self.origin_of(d, &h) {
            Some(origin) => h.insert(H_ORIGIN_USER.into(), origin),
            None => h.remove(H_ORIGIN_USER),
        };
        match outcome {
            Outcome::Ack => None,
            Outcome::Retry(delay, error) => {
                tracing::info!(%queue, attempt, delay_ms = delay.as_millis() as u64, %error, "transient failure; retrying later");
                h.insert(H_ATTEMPT.into(), (attempt + 1).to_string());
                h.insert(H_LAST_ERROR.into(), truncate(&error, 1000));
                let target = self.broker.topology().retry_queue(&self.spec.name, delay);
                Some(copy_of(d, String::new(), target, h))
            }
            Outcome::DeadLetter(kind, reason) => {
                tracing::warn!(%queue, %kind, %reason, "dead-lettering message");
                h.insert(H_DEAD_KIND.into(), kind);
                h.insert(H_DEAD_REASON.into(), truncate(&reason, 4000));
                h.insert(H_DEAD_QUEUE.into(), queue.to_owned());
                h.insert(H_DEAD_AT.into(), chrono::Utc::now().to_rfc3339());
                h.insert(H_ATTEMPT.into(), attempt.to_string());
                Some(copy_of(d, DLX.to_owned(), queue.to_owned(), h))
            }
        }
    }

    fn count(&self, queue: &str, outcome: &Outcome) {
        self.broker
            .metrics()
            .consumed
            .get_or_create(&QueueLabels {
                queue: queue.to_owned(),
                outcome: outcome.label().to_owned(),
            })
            .inc();
    }

    /// Settles deliveries in order: forwards the retry and dead-letter copies (pipelined,
    /// confirmed), then acks. A delivery whose copy was not confirmed goes back to the queue.
    /// With `sole_consumer_of_tags` (no other unsettled delivery on the channel precedes
    /// these), an all-ack outcome is one `multiple` ack.
    pub(super) async fn settle(
        &self,
        queue: &str,
        settled: Vec<(Delivery, u32, BTreeMap<String, String>, Outcome)>,
        sole_consumer_of_tags: bool,
    ) {
        let mut copies = Vec::new();
        let mut forwarded = Vec::with_capacity(settled.len());
        let mut deliveries = Vec::with_capacity(settled.len());
        for (d, attempt, headers, outcome) in settled {
            self.count(queue, &outcome);
            let copy = self.forward_copy(queue, &d, attempt, headers, outcome);
            forwarded.push(copy.is_some());
            copies.extend(copy);
            deliveries.push(d);
        }
        let confirmed = match self.publisher.publish_batch(&copies).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(%queue, error = %e, "could not forward messages; returning them to the queue");
                false
            }
        };
        if confirmed
            && sole_consumer_of_tags
            && deliveries.len() > 1
            && let Some(last) = deliveries.last()
        {
            let multiple = BasicAckOptions { multiple: true };
            match tokio::time::timeout(OP_TIMEOUT, last.ack(multiple)).await {
                Ok(Ok(_)) => {}
                // the broker will redeliver; the inbox makes that harmless
                Ok(Err(e)) => tracing::warn!(%queue, error = %e, "ack failed"),
                Err(_) => tracing::warn!(%queue, "ack timed out"),
            }
            return;
        }
        for (d, was_forwarded) in deliveries.into_iter().zip(forwarded) {
            if confirmed || !was_forwarded {
                match tokio::time::timeout(OP_TIMEOUT, d.ack(BasicAckOptions::default())).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(%queue, error = %e, "ack failed"),
                    Err(_) => tracing::warn!(%queue, "ack timed out"),
                }
            } else {
                let nack = d.nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                });
                let _ = tokio::time::timeout(OP_TIMEOUT, nack).await;
            }
        }
    }
}

/// The attempt a delivery's headers give (1 for the first).
pub(super) fn attempt_of(headers: &BTreeMap<String, String>) -> u32 {
    headers
        .get(H_ATTEMPT)
        .and_then(|a| a.parse::<u32>().ok())
        .unwrap_or(1)
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

/// A copy of `d` to publish to `exchange` with `routing_key` and `headers`.
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

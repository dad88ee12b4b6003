//! Dead-letter queues for operators: list what failed and why, replay a message to the queue
//! it failed on (after a fix), or discard it.
//!
//! Listing peeks without consuming (messages are fetched unacked and released when the channel
//! closes). Replay publishes the original body, with confirms, to the source queue through
//! `coophub.requeue` with a fresh attempt count, then acks the dead letter: a crash in between
//! leaves a duplicate, never a loss, and consumers are idempotent.

use std::collections::BTreeMap;

use lapin::options::{BasicAckOptions, BasicGetOptions};
use serde::Serialize;

use super::MessagingError;
use super::broker::Broker;
use super::consumer::{
    H_ATTEMPT, H_DEAD_AT, H_DEAD_KIND, H_DEAD_QUEUE, H_DEAD_REASON, H_LAST_ERROR, string_headers,
};
use super::publisher::{OutgoingMessage, Publisher};
use super::topology::REQUEUE;

/// One dead letter, as an operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub message_id: Option<String>,
    pub contract_type: Option<String>,
    /// Machine-readable kind (`malformed`, `unknown-contract`, `retries-exhausted`,
    /// `delivery_limit` when the broker dead-lettered it itself, …).
    pub kind: String,
    pub reason: String,
    /// Full name of the queue it failed on.
    pub queue: String,
    pub dead_at: Option<String>,
    pub attempts: Option<u32>,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

fn to_dead_letter(queue_full: &str, props: &lapin::BasicProperties, data: &[u8]) -> DeadLetter {
    let headers = string_headers(props.headers());
    // a message the broker dead-lettered itself (delivery limit, rejection) carries x-death
    // rather than our headers
    let broker_reason = headers.get("x-first-death-reason").cloned();
    DeadLetter {
        message_id: props.message_id().as_ref().map(|m| m.to_string()),
        contract_type: props.kind().as_ref().map(|k| k.to_string()),
        kind: headers
            .get(H_DEAD_KIND)
            .cloned()
            .or_else(|| broker_reason.clone())
            .unwrap_or_else(|| "unknown".into()),
        reason: headers
            .get(H_DEAD_REASON)
            .cloned()
            .or_else(|| broker_reason.map(|r| format!("dead-lettered by the broker: {r}")))
            .unwrap_or_default(),
        queue: headers
            .get(H_DEAD_QUEUE)
            .cloned()
            .unwrap_or_else(|| queue_full.to_owned()),
        dead_at: headers.get(H_DEAD_AT).cloned(),
        attempts: headers.get(H_ATTEMPT).and_then(|a| a.parse().ok()),
        body: String::from_utf8_lossy(data).into_owned(),
        headers,
    }
}

/// Operations on the dead-letter queue of one consumer queue.
pub struct DeadLetters {
    broker: Broker,
    /// Base name of the consumer queue (without namespace).
    queue: String,
}

impl DeadLetters {
    pub fn new(broker: Broker, queue: &str) -> Self {
        Self {
            broker,
            queue: queue.to_owned(),
        }
    }

    /// How many dead letters wait (declares nothing; the queue must exist).
    pub async fn count(&self) -> Result<u32, MessagingError> {
        let ch = self.broker.channel().await?;
        let q = ch
            .queue_declare(
                self.broker.topology().dlq(&self.queue).as_str().into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                Default::default(),
            )
            .await?;
        let _ = ch.close(200, "done".into()).await;
        Ok(q.message_count())
    }

    /// Up to `limit` dead letters, oldest first, left in place.
    pub async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, MessagingError> {
        let dlq = self.broker.topology().dlq(&self.queue);
        let full = self.broker.topology().name(&self.queue);
        let ch = self.broker.channel().await?;
        let mut out = Vec::new();
        while out.len() < limit {
            match ch
                .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: false })
                .await?
            {
                Some(m) => out.push(to_dead_letter(
                    &full,
                    &m.delivery.properties,
                    &m.delivery.data,
                )),
                None => break,
            }
        }
        // closing the channel releases every fetched message back to the queue
        let _ = ch.close(200, "peeked".into()).await;
        Ok(out)
    }

    /// Removes the dead letter with `message_id` and returns it; with `replay`, first sends its
    /// body back to the queue it failed on.
    async fn take(&self, message_id: &str, replay: bool) -> Result<DeadLetter, MessagingError> {
        let topology = self.broker.topology().clone();
        let dlq = topology.dlq(&self.queue);
        let full = topology.name(&self.queue);
        let ch = self.broker.channel().await?;
        let result = async {
            loop {
                let Some(m) = ch
                    .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: false })
                    .await?
                else {
                    return Err(MessagingError::NotFound {
                        queue: dlq.clone(),
                        message_id: message_id.to_owned(),
                    });
                };
                let props = &m.delivery.properties;
                if props.message_id().as_ref().map(|s| s.as_str()) != Some(message_id) {
                    continue;
                }
                let letter = to_dead_letter(&full, props, &m.delivery.data);
                if replay {
                    let mut headers = letter.headers.clone();
                    for h in [
                        H_DEAD_KIND,
                        H_DEAD_REASON,
                        H_DEAD_QUEUE,
                        H_DEAD_AT,
                        H_LAST_ERROR,
                        H_ATTEMPT,
                    ] {
                        headers.remove(h);
                    }
                    headers.retain(|k, _| {
                        !k.starts_with("x-death")
                            && !k.starts_with("x-first-death")
                            && !k.starts_with("x-last-death")
                    });
                    headers.insert("x-hub-replayed-at".into(), chrono::Utc::now().to_rfc3339());
                    let publisher = Publisher::new(self.broker.clone());
                    publisher
                        .publish(&OutgoingMessage {
                            exchange: REQUEUE.to_owned(),
                            routing_key: full.clone(),
                            message_id: message_id.to_owned(),
                            contract_type: letter
                                .contract_type
                                .clone()
                                .unwrap_or_else(|| "unknown".into()),
                            body: m.delivery.data.clone(),
                            headers,
                        })
                        .await?;
                }
                m.delivery.ack(BasicAckOptions::default()).await?;
                return Ok(letter);
            }
        }
        .await;
        let _ = ch.close(200, "done".into()).await;
        result
    }

    /// Sends a dead letter back to its queue and removes it from the dead-letter queue.
    pub async fn replay(&self, message_id: &str) -> Result<DeadLetter, MessagingError> {
        self.take(message_id, true).await
    }

    /// Removes a dead letter for good.
    pub async fn discard(&self, message_id: &str) -> Result<DeadLetter, MessagingError> {
        self.take(message_id, false).await
    }
}

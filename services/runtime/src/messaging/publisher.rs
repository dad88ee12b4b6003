//! Publishing with publisher confirms, pipelined, and `mandatory`.
//!
//! A batch is sent without waiting (every message's frames queued to the connection's I/O
//! loop in order, their writes awaited together), then every confirm is awaited: one round
//! trip per batch, not per message. A nack, or a message the broker returns as unroutable, fails the batch with
//! the exchange and routing key named, so nothing is lost silently; callers (the outbox relay,
//! the consumer's retry and dead-letter paths) keep the messages until the batch is confirmed.
//! Every message carries the connection's user as its AMQP `user_id` (when the URL names
//! one; see [`Broker::user`]), which the broker validates.
//!
//! A message's `CC` header (comma-separated routing keys) is sent as the AMQP `CC` array:
//! the broker routes the message by those keys too. A source record published by a process
//! of a province (`HUB_PROVINCE`) gets `province.<code>.<type>` there, so that its
//! province's reconciler shard receives it.
//!
//! Every message carries a W3C `traceparent` header: its envelope's (set by
//! [`OutgoingMessage::from_envelope`]), or else the publishing span's
//! ([`crate::telemetry::propagation`]).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::task::Poll;

use hub_contracts::{Contract, Envelope};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, PublisherConfirm};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::MessagingError;
use super::broker::Broker;
use crate::telemetry::ExchangeLabels;
use crate::telemetry::propagation::{self, TRACEPARENT};

/// Content type of a CloudEvents structured-mode message.
pub const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// Longest wait for a broker's confirm.
const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A message ready to publish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Exchange base name (the namespace is added when publishing); empty for the default
    /// exchange, in which case `routing_key` is a full queue name.
    pub exchange: String,
    pub routing_key: String,
    /// The envelope's `id`: the idempotency key consumers dedupe on.
    pub message_id: String,
    /// Contract type (also the AMQP `type` property).
    pub contract_type: String,
    pub body: Vec<u8>,
    /// Extra AMQP headers (string values).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl OutgoingMessage {
    /// The message for an envelope: the contract's exchange, its type as routing key, its
    /// `traceparent` also as a header.
    pub fn from_envelope<T: Contract>(env: &Envelope<T>) -> Self {
        let mut headers = BTreeMap::new();
        if let Some(t) = &env.traceparent {
            headers.insert(TRACEPARENT.to_owned(), t.clone());
        }
        Self {
            exchange: T::EXCHANGE.to_owned(),
            routing_key: T::TYPE.to_owned(),
            message_id: env.id.clone(),
            contract_type: T::TYPE.to_owned(),
            body: env.to_bytes(),
            headers,
        }
    }

    pub fn with_header(mut self, key: &str, value: impl Into<String>) -> Self {
        self.headers.insert(key.to_owned(), value.into());
        self
    }
}

/// The header whose routing keys the broker routes a message by, besides its routing key.
pub const CC: &str = "CC";

/// The extra routing keys of `m`: its `CC` header's, or for a source record published by a
/// process of `province`, the province's key.
fn cc_keys(m: &OutgoingMessage, province: Option<&str>) -> Vec<String> {
    if let Some(keys) = m.headers.get(CC) {
        return keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
    }
    match province {
        Some(p)
            if m.exchange == hub_contracts::registry::exchanges::SOURCE
                && hub_contracts::registry::is_source_record(&m.contract_type) =>
        {
            vec![hub_contracts::registry::province_routing_key(
                p,
                &m.contract_type,
            )]
        }
        _ => Vec::new(),
    }
}

/// A publish whose frames are queued: written already, or waiting for the I/O loop.
enum Sent<F> {
    Written(PublisherConfirm),
    Queued(Pin<Box<F>>),
}

/// A confirming publisher over the service's [`Broker`].
pub struct Publisher {
    broker: Broker,
    channel: Mutex<Option<Channel>>,
}

fn short(s: &str) -> Result<ShortString, MessagingError> {
    ShortString::try_new(s).map_err(|e| MessagingError::Name(format!("{s:?}: {e}")))
}

impl Publisher {
    pub fn new(broker: Broker) -> Self {
        Self {
            broker,
            channel: Mutex::new(None),
        }
    }

    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    async fn confirm_channel(&self, slot: &mut Option<Channel>) -> Result<Channel, MessagingError> {
        if let Some(ch) = slot.as_ref()
            && ch.status().connected()
        {
            return Ok(ch.clone());
        }
        let ch = self.broker.channel().await?;
        ch.confirm_select(ConfirmSelectOptions::default()).await?;
        *slot = Some(ch.clone());
        Ok(ch)
    }

    /// Publishes one message and waits for its confirm.
    pub async fn publish(&self, msg: &OutgoingMessage) -> Result<(), MessagingError> {
        self.publish_batch(std::slice::from_ref(msg)).await
    }

    /// Publishes a batch, pipelined, and returns once the broker confirmed every message.
    pub async fn publish_batch(&self, msgs: &[OutgoingMessage]) -> Result<(), MessagingError> {
        if msgs.is_empty() {
            return Ok(());
        }
        let mut slot = self.channel.lock().await;
        let result = self.publish_on(&mut slot, msgs).await;
        if result.is_err() {
            // a failed channel is not reused; a returned or nacked message leaves it usable,
            // but a fresh channel costs little and keeps confirm accounting simple
            if let Some(ch) = slot.take() {
                let close = ch.close(200, "publish failed".into());
                let _ = tokio::time::timeout(std::time::Duration::from_secs(5), close).await;
            }
        }
        result
    }

    async fn publish_on(
        &self,
        slot: &mut Option<Channel>,
        msgs: &[OutgoingMessage],
    ) -> Result<(), MessagingError> {
        let ch = self.confirm_channel(slot).await?;
        let topology = self.broker.topology();
        // a message that carries no context of its own continues the publishing span's
        let current = propagation::traceparent(&tracing::Span::current());
        let mut pending = Vec::with_capacity(msgs.len());
        for m in msgs {
            let exchange = if m.exchange.is_empty() {
                String::new()
            } else {
                topology.name(&m.exchange)
            };
            let mut headers = FieldTable::default();
            for (k, v) in &m.headers {
                if k != CC {
                    headers.insert(short(k)?, AMQPValue::LongString(v.as_str().into()));
                }
            }
            if let Some(t) = &current
                && !m.headers.contains_key(TRACEPARENT)
            {
                headers.insert(
                    short(TRACEPARENT)?,
                    AMQPValue::LongString(t.as_str().into()),
                );
            }
            let cc = cc_keys(m, topology.province());
            if !cc.is_empty() {
                let keys = cc
                    .into_iter()
                    .map(|k| AMQPValue::LongString(k.into()))
                    .collect::<Vec<_>>();
                headers.insert(short(CC)?, AMQPValue::FieldArray(keys.into()));
            }
            let mut props = BasicProperties::default();
            if let Some(user) = self.broker.user() {
                // validated by the broker: it equals this connection's user
                props = props.with_user_id(short(user)?);
            }
            let props = props
                .with_delivery_mode(2)
                .with_content_type(CLOUDEVENTS_JSON.into())
                .with_message_id(short(&m.message_id)?)
                .with_type(short(&m.contract_type)?)
                .with_timestamp(chrono::Utc::now().timestamp().max(0) as u64)
                .with_headers(headers);
            let mut send = Box::pin(ch.basic_publish(
                short(&exchange)?,
                short(&m.routing_key)?,
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &m.body,
                props,
            ));
            // the first poll numbers the message for its confirm and queues its frames, in
            // this order; the send then waits for the I/O loop to write them: wait for the
            // batch's writes together below, not one message at a time
            let send = match futures::poll!(send.as_mut()) {
                Poll::Ready(confirm) => Sent::Written(confirm?),
                Poll::Pending => Sent::Queued(send),
            };
            pending.push((exchange, m, send));
        }
        for (exchange, m, send) in pending {
            let confirm = match send {
                Sent::Written(confirm) => confirm,
                Sent::Queued(send) => send.await?,
            };
            // a connection that dies without notice would leave the confirm pending forever
            let confirmation = tokio::time::timeout(CONFIRM_TIMEOUT, confirm)
                .await
                .map_err(|_| MessagingError::ConfirmTimeout {
                    exchange: exchange.clone(),
                    routing_key: m.routing_key.clone(),
                })??;
            if confirmation.is_nack() {
                return Err(MessagingError::Nacked {
                    exchange,
                    routing_key: m.routing_key.clone(),
                });
            }
            if let Some(returned) = confirmation.take_message() {
                return Err(MessagingError::Unroutable {
                    exchange,
                    routing_key: m.routing_key.clone(),
                    reply: returned.reply_text.to_string(),
                });
            }
            self.broker
                .metrics()
                .published
                .get_or_create(&ExchangeLabels {
                    exchange: exchange.clone(),
                })
                .inc();
        }
        Ok(())
    }
}

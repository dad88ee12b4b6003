//! The broker topology, in one place: exchange names, queue arguments, and their idempotent
//! declaration at start.
//!
//! - Public topic exchanges from [`hub_contracts::registry::exchanges`], durable.
//! - Per consumer queue `Q` (quorum, durable):
//!   - `Q` itself, with an explicit `x-delivery-limit` and dead-lettering (at-least-once) to
//!     `coophub.dlx` under routing key `Q`, `x-overflow: reject-publish` (a publish to a full
//!     queue is nacked, never dropped) with the `x-max-length`/`x-max-length-bytes` its spec
//!     sets (the inbound queue, which outsiders fill, has both), and
//!     `x-single-active-consumer` when its spec asks for one consumer at a time across
//!     replicas;
//!   - `Q.dlq`, the dead-letter queue an operator inspects and replays from;
//!   - `Q.retry.<ms>`, one delay queue per retry delay: a message waits there for its TTL and
//!     is dead-lettered back to `Q` through `coophub.requeue`.
//! - `coophub.requeue` (direct): each `Q` is bound under its own name, so "send back to `Q`"
//!   (after a retry delay, or an operator's replay) is one publish.
//!
//! Every name carries the optional namespace prefix (`HUB_NAMESPACE`), so several hubs or test
//! runs can share a broker without seeing each other's messages.
//!
//! Sharding by province (`HUB_PROVINCE`): a source record published by a process of a
//! province also carries the routing key `province.<code>.<type>` (AMQP `CC`, see the
//! publisher), and a shard's queue binds its province's keys; see [`Topology::province`].

use std::time::Duration;

use hub_contracts::registry::exchanges;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use super::MessagingError;
use super::retry::RetryPolicy;

/// Exchange for dead letters (direct, keyed by queue name).
pub const DLX: &str = "coophub.dlx";
/// Exchange that routes a message back to a queue by the queue's name (direct).
pub const REQUEUE: &str = "coophub.requeue";

/// Alternate exchange (fanout) of `coophub.identity`, and the bounded queue bound to it: an
/// identity event no queue is bound for (no consumer has declared its queue yet) is kept
/// there instead of being returned as unroutable. A routed event costs nothing more (an
/// always-bound copy queue would store every event twice).
pub const UNROUTED_IDENTITY: &str = "coophub.identity.unrouted";
/// How many unrouted identity events it keeps (oldest dropped first).
pub const UNROUTED_IDENTITY_MAX: i64 = 10_000;

/// Bounded queue that retains the latest snapshots published on `coophub.indicator`.
pub const RETAINED_SNAPSHOTS: &str = "coophub.indicator.retained";
/// How many snapshots it keeps (oldest dropped first).
pub const RETAINED_SNAPSHOTS_MAX: i64 = 1000;

/// Every queue this process declared, so that a test can delete all of its namespace's queues
/// at the end (a quorum queue holds resources on the broker until it is deleted).
static DECLARED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn remember(name: &str) {
    if let Ok(mut d) = DECLARED.lock() {
        d.insert(name.to_owned());
    }
}

/// The queues this process declared whose names start with `prefix`.
pub fn declared_queues(prefix: &str) -> Vec<String> {
    DECLARED
        .lock()
        .map(|d| {
            d.iter()
                .filter(|n| n.starts_with(prefix))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Names of the hub's exchanges and queues under one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Topology {
    namespace: String,
    /// The province of this process (`HUB_PROVINCE`), when the hub is sharded.
    province: Option<String>,
}

/// A consumer queue and what it is bound to.
#[derive(Debug, Clone)]
pub struct QueueSpec {
    /// Base name, without namespace (e.g. `reconciler.source`).
    pub name: String,
    /// `(exchange base name, routing key pattern)` pairs.
    pub bindings: Vec<(String, String)>,
    /// Redeliveries before the broker dead-letters by itself.
    pub delivery_limit: u32,
    /// `x-single-active-consumer`: of several consumers (replicas) on the queue, only one
    /// receives deliveries at a time; another takes over when it goes away. For services
    /// that must apply messages one at a time, in order, across replicas.
    pub single_active_consumer: bool,
    /// `x-max-length`: most messages the queue holds; with `x-overflow: reject-publish` a
    /// publish beyond it is nacked (the publisher sees it), never silently dropped.
    pub max_length: Option<i64>,
    /// `x-max-length-bytes`: most bytes of message bodies the queue holds (same overflow).
    pub max_length_bytes: Option<i64>,
}

impl QueueSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bindings: Vec::new(),
            delivery_limit: 10,
            single_active_consumer: false,
            max_length: None,
            max_length_bytes: None,
        }
    }

    pub fn bind(mut self, exchange: &str, routing_key: &str) -> Self {
        self.bindings
            .push((exchange.to_owned(), routing_key.to_owned()));
        self
    }

    pub fn delivery_limit(mut self, limit: u32) -> Self {
        self.delivery_limit = limit;
        self
    }

    /// Declares the queue with `x-single-active-consumer` (see the field). A queue's
    /// arguments cannot change once declared: set this when the queue is first created.
    pub fn single_active_consumer(mut self) -> Self {
        self.single_active_consumer = true;
        self
    }

    /// Bounds the queue to `messages` messages and `bytes` bytes of bodies; beyond either a
    /// publish is refused (nacked). Like every argument, fixed when the queue is created.
    pub fn max_length(mut self, messages: i64, bytes: i64) -> Self {
        self.max_length = Some(messages);
        self.max_length_bytes = Some(bytes);
        self
    }
}

fn short(s: &str) -> Result<ShortString, MessagingError> {
    ShortString::try_new(s).map_err(|e| MessagingError::Name(format!("{s:?}: {e}")))
}

fn long(s: &str) -> AMQPValue {
    AMQPValue::LongString(s.into())
}

impl Topology {
    pub fn new(namespace: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            province: None,
        }
    }

    /// The same names, for a process of `province` (None: not sharded).
    pub fn with_province(mut self, province: Option<&str>) -> Self {
        self.province = province.map(str::to_owned);
        self
    }

    /// The province this process serves: the source records it publishes also carry the
    /// routing key [`hub_contracts::registry::province_routing_key`].
    pub fn province(&self) -> Option<&str> {
        self.province.as_deref()
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The full name of an exchange or queue.
    pub fn name(&self, base: &str) -> String {
        if self.namespace.is_empty() {
            base.to_owned()
        } else {
            format!("{}.{base}", self.namespace)
        }
    }

    pub fn dlq(&self, queue: &str) -> String {
        format!("{}.dlq", self.name(queue))
    }

    pub fn retry_queue(&self, queue: &str, delay: Duration) -> String {
        format!("{}.retry.{}ms", self.name(queue), delay.as_millis())
    }

    /// What every service declares besides its own queues:
    /// - the public topic exchanges, `coophub.identity` with [`UNROUTED_IDENTITY`] as its
    ///   alternate exchange, and the direct exchanges `coophub.dlx` and `coophub.requeue`;
    /// - the bounded queue of unrouted identity events (so `mandatory` publishing of an
    ///   identity event never fails while no consumer has bound a queue);
    /// - the bounded queue that retains the latest snapshots published on the public snapshot
    ///   exchange (so a snapshot published while no agency has bound a queue is kept for them,
    ///   and `mandatory` publishing never fails for lack of a subscriber).
    pub fn shared_plan(&self) -> Vec<Declaration> {
        let unrouted = self.name(UNROUTED_IDENTITY);
        let exchange = |name: &str, kind: ExchangeType| Declaration::Exchange {
            name: self.name(name),
            kind,
            arguments: Vec::new(),
        };
        let mut out = vec![
            exchange(UNROUTED_IDENTITY, ExchangeType::Fanout),
            exchange(exchanges::SOURCE, ExchangeType::Topic),
            exchange(exchanges::INBOUND, ExchangeType::Topic),
            Declaration::Exchange {
                name: self.name(exchanges::IDENTITY),
                kind: ExchangeType::Topic,
                arguments: vec![("alternate-exchange".into(), Arg::Str(unrouted.clone()))],
            },
            exchange(exchanges::INDICATOR, ExchangeType::Topic),
            exchange(DLX, ExchangeType::Direct),
            exchange(REQUEUE, ExchangeType::Direct),
        ];
        out.extend(bounded_queue(
            unrouted.clone(),
            UNROUTED_IDENTITY_MAX,
            unrouted,
            "",
        ));
        out.extend(bounded_queue(
            self.name(RETAINED_SNAPSHOTS),
            RETAINED_SNAPSHOTS_MAX,
            self.name(exchanges::INDICATOR),
            "#",
        ));
        out
    }

    /// A consumer queue with its dead-letter queue and retry queues, and its bindings, as
    /// data, in declaration order.
    pub fn queue_plan(&self, spec: &QueueSpec, retry: &RetryPolicy) -> Vec<Declaration> {
        let queue = self.name(&spec.name);
        let dlq = self.dlq(&spec.name);
        let quorum = || ("x-queue-type".to_owned(), Arg::Str("quorum".into()));
        let mut out = vec![
            Declaration::Queue {
                name: dlq.clone(),
                arguments: vec![quorum()],
            },
            Declaration::Binding {
                exchange: self.name(DLX),
                queue: dlq,
                routing_key: queue.clone(),
            },
        ];
        let mut args = vec![
            quorum(),
            (
                "x-delivery-limit".into(),
                Arg::Int(i64::from(spec.delivery_limit)),
            ),
            ("x-dead-letter-exchange".into(), Arg::Str(self.name(DLX))),
            ("x-dead-letter-routing-key".into(), Arg::Str(queue.clone())),
            (
                "x-dead-letter-strategy".into(),
                Arg::Str("at-least-once".into()),
            ),
            ("x-overflow".into(), Arg::Str("reject-publish".into())),
        ];
        if spec.single_active_consumer {
            args.push(("x-single-active-consumer".into(), Arg::Bool(true)));
        }
        if let Some(n) = spec.max_length {
            args.push(("x-max-length".into(), Arg::Int(n)));
        }
        if let Some(n) = spec.max_length_bytes {
            args.push(("x-max-length-bytes".into(), Arg::Int(n)));
        }
        out.push(Declaration::Queue {
            name: queue.clone(),
            arguments: args,
        });
        out.push(Declaration::Binding {
            exchange: self.name(REQUEUE),
            queue: queue.clone(),
            routing_key: queue.clone(),
        });
        for (exchange, key) in &spec.bindings {
            out.push(Declaration::Binding {
                exchange: self.name(exchange),
                queue: queue.clone(),
                routing_key: key.clone(),
            });
        }
        for delay in retry.delays() {
            out.push(Declaration::Queue {
                name: self.retry_queue(&spec.name, delay),
                arguments: vec![
                    quorum(),
                    (
                        "x-message-ttl".into(),
                        Arg::Int(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
                    ),
                    (
                        "x-dead-letter-exchange".into(),
                        Arg::Str(self.name(REQUEUE)),
                    ),
                    ("x-dead-letter-routing-key".into(), Arg::Str(queue.clone())),
                    (
                        "x-dead-letter-strategy".into(),
                        Arg::Str("at-least-once".into()),
                    ),
                    ("x-overflow".into(), Arg::Str("reject-publish".into())),
                ],
            });
        }
        out
    }

    /// Declares every exchange and the shared queue (idempotent).
    pub async fn declare_exchanges(&self, ch: &Channel) -> Result<(), MessagingError> {
        apply(ch, &self.shared_plan()).await
    }

    /// Declares a consumer queue with its dead-letter queue and retry queues, and binds it
    /// (idempotent: the same spec declares the same arguments).
    pub async fn declare_queue(
        &self,
        ch: &Channel,
        spec: &QueueSpec,
        retry: &RetryPolicy,
    ) -> Result<(), MessagingError> {
        apply(ch, &self.queue_plan(spec, retry)).await
    }
}

/// A queue argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Arg {
    fn amqp(&self) -> AMQPValue {
        match self {
            Arg::Str(s) => long(s),
            Arg::Int(n) => AMQPValue::LongLongInt(*n),
            Arg::Bool(b) => AMQPValue::Boolean(*b),
        }
    }

    /// The value as JSON (for RabbitMQ definitions files).
    pub fn json(&self) -> serde_json::Value {
        match self {
            Arg::Str(s) => serde_json::Value::from(s.as_str()),
            Arg::Int(n) => serde_json::Value::from(*n),
            Arg::Bool(b) => serde_json::Value::from(*b),
        }
    }
}

/// The type of an exchange the hub declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeType {
    Topic,
    Direct,
    Fanout,
}

impl ExchangeType {
    /// The name RabbitMQ gives it (`topic`, `direct`, `fanout`).
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeType::Topic => "topic",
            ExchangeType::Direct => "direct",
            ExchangeType::Fanout => "fanout",
        }
    }

    fn amqp(self) -> ExchangeKind {
        match self {
            ExchangeType::Topic => ExchangeKind::Topic,
            ExchangeType::Direct => ExchangeKind::Direct,
            ExchangeType::Fanout => ExchangeKind::Fanout,
        }
    }
}

/// One thing to declare on the broker. Every exchange and queue is durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Declaration {
    Exchange {
        name: String,
        kind: ExchangeType,
        arguments: Vec<(String, Arg)>,
    },
    Queue {
        name: String,
        arguments: Vec<(String, Arg)>,
    },
    Binding {
        exchange: String,
        queue: String,
        routing_key: String,
    },
}

/// A quorum queue keeping the latest `max` messages (the oldest dropped first), bound to
/// `exchange` under `routing_key`.
fn bounded_queue(name: String, max: i64, exchange: String, routing_key: &str) -> [Declaration; 2] {
    [
        Declaration::Queue {
            name: name.clone(),
            arguments: vec![
                ("x-queue-type".into(), Arg::Str("quorum".into())),
                ("x-max-length".into(), Arg::Int(max)),
                ("x-overflow".into(), Arg::Str("drop-head".into())),
            ],
        },
        Declaration::Binding {
            exchange,
            queue: name,
            routing_key: routing_key.to_owned(),
        },
    ]
}

fn field_table(arguments: &[(String, Arg)]) -> Result<FieldTable, MessagingError> {
    let mut args = FieldTable::default();
    for (k, v) in arguments {
        args.insert(short(k)?, v.amqp());
    }
    Ok(args)
}

async fn apply(ch: &Channel, plan: &[Declaration]) -> Result<(), MessagingError> {
    for d in plan {
        match d {
            Declaration::Exchange {
                name,
                kind,
                arguments,
            } => {
                ch.exchange_declare(
                    short(name)?,
                    kind.amqp(),
                    ExchangeDeclareOptions {
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    field_table(arguments)?,
                )
                .await?;
            }
            Declaration::Queue { name, arguments } => {
                ch.queue_declare(
                    short(name)?,
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    field_table(arguments)?,
                )
                .await?;
                remember(name);
            }
            Declaration::Binding {
                exchange,
                queue,
                routing_key,
            } => {
                ch.queue_bind(
                    short(queue)?,
                    short(exchange)?,
                    short(routing_key)?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_namespace() {
        let t = Topology::new("t1");
        assert_eq!(t.name("coophub.source"), "t1.coophub.source");
        assert_eq!(t.dlq("reconciler.source"), "t1.reconciler.source.dlq");
        assert_eq!(
            t.retry_queue("q", Duration::from_millis(400)),
            "t1.q.retry.400ms"
        );
        assert_eq!(Topology::default().name("coophub.dlx"), "coophub.dlx");
    }
}

//! The broker topology, in one place: exchange names, queue arguments, and their idempotent
//! declaration at start.
//!
//! - Public topic exchanges from [`hub_contracts::registry::exchanges`], durable.
//! - Per consumer queue `Q` (quorum, durable):
//!   - `Q` itself, with an explicit `x-delivery-limit` and dead-lettering (at-least-once) to
//!     `coophub.dlx` under routing key `Q`, and `x-single-active-consumer` when its spec asks
//!     for one consumer at a time across replicas;
//!   - `Q.dlq`, the dead-letter queue an operator inspects and replays from;
//!   - `Q.retry.<ms>`, one delay queue per retry delay: a message waits there for its TTL and
//!     is dead-lettered back to `Q` through `coophub.requeue`.
//! - `coophub.requeue` (direct): each `Q` is bound under its own name, so "send back to `Q`"
//!   (after a retry delay, or an operator's replay) is one publish.
//!
//! Every name carries the optional namespace prefix (`HUB_NAMESPACE`), so several hubs or test
//! runs can share a broker without seeing each other's messages.

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
}

impl QueueSpec {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            bindings: Vec::new(),
            delivery_limit: 10,
            single_active_consumer: false,
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
        }
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

    /// Declares every exchange (idempotent).
    pub async fn declare_exchanges(&self, ch: &Channel) -> Result<(), MessagingError> {
        let topics = [
            exchanges::SOURCE,
            exchanges::INBOUND,
            exchanges::IDENTITY,
            exchanges::INDICATOR,
        ];
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for ex in topics {
            ch.exchange_declare(
                short(&self.name(ex))?,
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        }
        // the public snapshot exchange keeps the latest snapshots in a bounded queue of its
        // own, so a snapshot published while no agency has bound a queue is retained for
        // them (and routable: `mandatory` publishing never fails for lack of a subscriber)
        let retained = self.name(RETAINED_SNAPSHOTS);
        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), long("quorum"));
        args.insert(
            "x-max-length".into(),
            AMQPValue::LongLongInt(RETAINED_SNAPSHOTS_MAX),
        );
        args.insert("x-overflow".into(), long("drop-head"));
        for ex in [DLX, REQUEUE] {
            ch.exchange_declare(
                short(&self.name(ex))?,
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        }
        remember(&retained);
        ch.queue_declare(
            short(&retained)?,
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await?;
        ch.queue_bind(
            short(&retained)?,
            short(&self.name(exchanges::INDICATOR))?,
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        Ok(())
    }

    /// Declares a consumer queue with its dead-letter queue and retry queues, and binds it
    /// (idempotent: the same spec declares the same arguments).
    pub async fn declare_queue(
        &self,
        ch: &Channel,
        spec: &QueueSpec,
        retry: &RetryPolicy,
    ) -> Result<(), MessagingError> {
        let queue = self.name(&spec.name);
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };

        let mut dlq_args = FieldTable::default();
        dlq_args.insert("x-queue-type".into(), long("quorum"));
        ch.queue_declare(short(&self.dlq(&spec.name))?, durable, dlq_args)
            .await?;
        remember(&self.dlq(&spec.name));
        ch.queue_bind(
            short(&self.dlq(&spec.name))?,
            short(&self.name(DLX))?,
            short(&queue)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

        let mut args = FieldTable::default();
        args.insert("x-queue-type".into(), long("quorum"));
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(i64::from(spec.delivery_limit)),
        );
        args.insert("x-dead-letter-exchange".into(), long(&self.name(DLX)));
        args.insert("x-dead-letter-routing-key".into(), long(&queue));
        args.insert("x-dead-letter-strategy".into(), long("at-least-once"));
        args.insert("x-overflow".into(), long("reject-publish"));
        if spec.single_active_consumer {
            args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
        }
        ch.queue_declare(short(&queue)?, durable, args).await?;
        remember(&queue);
        ch.queue_bind(
            short(&queue)?,
            short(&self.name(REQUEUE))?,
            short(&queue)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        for (exchange, key) in &spec.bindings {
            ch.queue_bind(
                short(&queue)?,
                short(&self.name(exchange))?,
                short(key)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }

        for delay in retry.delays() {
            let mut r = FieldTable::default();
            r.insert("x-queue-type".into(), long("quorum"));
            r.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            );
            r.insert("x-dead-letter-exchange".into(), long(&self.name(REQUEUE)));
            r.insert("x-dead-letter-routing-key".into(), long(&queue));
            r.insert("x-dead-letter-strategy".into(), long("at-least-once"));
            r.insert("x-overflow".into(), long("reject-publish"));
            ch.queue_declare(short(&self.retry_queue(&spec.name, delay))?, durable, r)
                .await?;
            remember(&self.retry_queue(&spec.name, delay));
        }
        Ok(())
    }
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

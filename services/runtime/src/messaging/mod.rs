//! The RabbitMQ runtime over lapin: [`topology`] (names and declarations, in one place),
//! [`broker`] (the self-healing connection), [`publisher`] (confirms, pipelining, mandatory),
//! [`consumer`] (manual acks, prefetch, retry, dead letters, one message or a batch at a time), [`retry`] (the policy, in one
//! place) and [`dlq`] (inspecting, replaying and discarding dead letters).

pub mod broker;
pub mod consumer;
pub mod dlq;
pub mod publisher;
pub mod retry;
pub mod topology;

pub use broker::Broker;
pub use consumer::{
    BatchConsumer, BatchHandler, CommitError, Consumer, Handler, HandlerError, Incoming, Prepared,
    StagedConsumer, StagedHandler,
};
pub use publisher::{OutgoingMessage, Publisher};
pub use retry::{Backoff, RetryPolicy};
pub use topology::{QueueSpec, Topology};

/// What can go wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    #[error("cannot connect to the broker at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error(
        "the broker refused (nacked) a message to exchange {exchange:?}, routing key {routing_key:?}"
    )]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    #[error(
        "unroutable message: exchange {exchange:?}, routing key {routing_key:?} has no queue bound ({reply})"
    )]
    Unroutable {
        exchange: String,
        routing_key: String,
        reply: String,
    },
    #[error(
        "no confirm from the broker in time for exchange {exchange:?}, routing key {routing_key:?}"
    )]
    ConfirmTimeout {
        exchange: String,
        routing_key: String,
    },
    #[error("invalid AMQP name {0}")]
    Name(String),
    #[error("no dead letter with message id {message_id:?} in {queue}")]
    NotFound { queue: String, message_id: String },
    #[error("shutting down")]
    ShuttingDown,
}

//! # hub-runtime: what every hub service shares
//!
//! - [`config`]: configuration from environment variables and an optional TOML file, failing
//!   at start with the variable's name and what was expected;
//! - [`telemetry`]: tracing (human or JSON), OpenTelemetry spans (exported over OTLP when
//!   configured) and the one place that propagates W3C trace context (AMQP, HTTP),
//!   Prometheus metrics;
//! - [`messaging`]: the RabbitMQ runtime over lapin: topology, confirmed and pipelined
//!   publishing, consuming with manual acks, delayed retry, dead letters, reconnection;
//! - [`storage`]: PostgreSQL through sqlx: a schema per service, migrations, the
//!   transactional outbox and the idempotent inbox;
//! - [`http`]: `/healthz`, `/readyz` and `/metrics`, plus a service's own routes;
//! - [`openapi`]: the OpenAPI 3.1 document of a service's HTTP API, generated from its
//!   handlers' types and served at `/api/v1/openapi.json`;
//! - [`service_auth`]: the service credential the internal HTTP APIs require, and the
//!   operator the console vouches for;
//! - [`chain`]: hash chains (canonical content, link hashes, verification naming the first
//!   bad row) for the tamper-evident logs: the console's audit log, hub-inbound's exchange log;
//! - [`shutdown`]: one cancellation token fired by SIGTERM or SIGINT;
//! - [`sources`]: what the services need to know of the registered source systems, as data;
//! - [`units`]: the provinces whose units and addresses a service resolves (`REFERENCE_DIRS`).
//!
//! This crate knows the envelope but no payload's meaning: it never decides what a message
//! does. Services build on it; it depends on no service.

pub mod chain;
pub mod config;
pub mod http;
pub mod messaging;
pub mod openapi;
pub mod service;
pub mod service_auth;
pub mod shutdown;
pub mod sources;
pub mod storage;
pub mod telemetry;
pub mod units;

pub use config::{CommonConfig, ConfigError};
pub use messaging::{
    BatchConsumer, BatchHandler, Broker, Consumer, Handler, HandlerError, Incoming,
    OutgoingMessage, Publisher, QueueSpec, RetryPolicy, Topology,
};
pub use storage::{Database, StorageError};

//! # hub-bench: how fast the hub is on this machine, against the physical reference
//!
//! Each benchmark prints figures and returns them as data, so `hub bench` can print a table
//! and write a file. Ratios (hub against raw broker) are what to compare across machines.
//!
//! - [`broker`]: raw RabbitMQ publish→consume throughput with confirms, manual acks and
//!   persistent messages on a quorum queue, at the hub's contract message sizes: the
//!   reference the hub's own throughput is compared with.
//!
//! - [`pipeline`]: the hub's end-to-end throughput and change-to-snapshot latency, with the
//!   messages the hub publishes and the queue deliveries they cause per source record (what
//!   makes the hub-to-raw ratio comparable: the raw reference is one publish and one delivery
//!   per message).
//!
//! - [`shards`]: the reconciler sharded by province, one shard against several.
//!
//! - [`adapters`]: the adapters alone, syncing the pipeline's world into the broker with
//!   nothing consuming it.
//!
//! Benchmarks use their own topology namespace and database, and clean up after themselves.

pub mod adapters;
pub mod broker;
pub mod pipeline;
pub mod shards;

pub use broker::BenchError;

/// One measured figure.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub note: String,
}

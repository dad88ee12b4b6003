//! # hub-indicators: where a province stands against its plan
//!
//! Computes a plan's indicators (Lai Châu's I1–I10, `shared/mission/indicators.md`) for the
//! province, each district and each commune, against the plan's targets (a folder per plan,
//! `deploy/plans/<province>/`; several plans at once), and publishes them as immutable,
//! versioned `indicator.snapshot.v1` snapshots on `coophub.indicator`.
//!
//! - [`plan`]: the plan as data (baseline, indicators, targets, unit lists), validated;
//!   [`measure`]: what an indicator counts or sums, declared in the plan;
//! - [`asof`]: the state as of a date (registry and loan versions, NTM submissions) and
//!   where an organisation lies (post-reform codes, unknown communes);
//! - [`compute`]: the definitions, a pure function of the projection; [`farmers_union`]: I5
//!   and I8 from the Farmers' Union's workbook records;
//! - [`store`]: the service's own schema `indicators`: a projection of golden records,
//!   loans, NTM report revisions, registry records and reconciliation decisions, built from
//!   consumed contracts through the inbox, and the snapshots, written with their outbox
//!   message in one transaction;
//! - [`snapshot`]: snapshot content and its hash (same inputs, same hash, no new version);
//! - [`service`]: [`start`]/[`run`]: consumer, debounced recompute, outbox relay, HTTP;
//! - [`http`]: the query, recompute and export API; [`export`]: CSV and XLSX reports;
//!   [`interchange`]: DHIS2 `dataValueSets`, SDMX-JSON and CSV with a BOM;
//! - [`config`]: [`Config`] from the environment.
//!
//! Owns only its schema. It reads no other service's tables and calls no other service: all
//! it knows arrives as contracts on `coophub.identity` and `coophub.source`.
//!
//! ```no_run
//! # async fn f() -> Result<(), hub_indicators::Error> {
//! let shutdown = hub_runtime::shutdown::CancellationToken::new();
//! let running = hub_indicators::start(hub_indicators::Config::from_env()?, shutdown.clone()).await?;
//! let addr = running.http_addr(); // HTTP_ADDR with port 0: the port picked
//! let first = running
//!     .snapshot_where(hub_indicators::UnitList::Units2024, |_| true)
//!     .await;
//! shutdown.cancel();
//! running.stopped().await?;
//! # Ok(()) }
//! ```

pub mod asof;
pub mod compute;
pub mod config;
pub mod export;
pub mod farmers_union;
pub mod http;
pub mod interchange;
pub mod measure;
pub mod plan;
pub mod report;
pub mod service;
pub mod snapshot;
pub mod store;
mod store_versions;

pub use config::Config;
pub use plan::{IndicatorId, Plan, PlanError, UnitList};
pub use service::{Latest, Recomputed, Running, Snapshots, input_queue, run, start};

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] hub_runtime::ConfigError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Service(#[from] hub_runtime::service::ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a task of the service failed: {0}")]
    Task(String),
}

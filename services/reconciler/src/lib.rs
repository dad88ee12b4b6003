//! # hub-reconciler: identity reconciliation
//!
//! Tells which source records (registry records, loans, NTM report entries) are the same
//! organisation, keeps a golden record per organisation, a review queue for doubtful pairs
//! and a log of every decision.
//!
//! | module | owns |
//! |---|---|
//! | [`engine`] | the matching engine: pure, in-memory, deterministic; no I/O |
//! | `accuracy` | scoring the engine against a simulated world's ground truth (feature `accuracy`) |
//! | [`config`] | settings from the environment |
//! | [`store`] | the `reconciler` schema: snapshot, changes, API reads |
//! | [`service`] | the shell: consumer + inbox, one transaction per batch of changes with the outbox |
//! | [`http`] | the API: golden records, review queue, operator actions, the log |
//!
//! [`run`] consumes `source.cooperative.v1`, `source.disbursement.v1`,
//! `source.ntm_report.v1` and `source.fu_branch.v1` (the HTX/THT a converted Farmers' Union
//! branch became; other branches change nothing)
//! from `coophub.source` (queue `reconciler.source`, single active
//! consumer) and publishes `identity.golden_record.v1`, `identity.merged.v1`,
//! `identity.split.v1` and `reconciliation.decision.v2` (one per transaction) and, on request,
//! `reconciliation.decision.v1` (one per decision, `RECONCILER_DECISION_CONTRACTS`) on
//! `coophub.identity` through the transactional outbox. Reads no other service's tables;
//! talks to the rest of the hub only through the published contracts. Sharded by province
//! (`HUB_PROVINCE`), a reconciler consumes its province's queue (see [`source_queue`]) and
//! keeps its state in its own database.

#[cfg(feature = "accuracy")]
pub mod accuracy;
pub mod config;
pub mod engine;
pub mod http;
pub mod service;
pub mod store;

use std::net::SocketAddr;

use hub_contracts::Contract;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{FuBranch, LoanDisbursement, NtmCommuneReport, RegistryCooperative};
use hub_runtime::config::CommonConfig;
use hub_runtime::messaging::{Broker, QueueSpec, StagedConsumer, StagedHandler};
use hub_runtime::service::{ServiceContext, ServiceError};
use hub_runtime::shutdown::CancellationToken;
use sqlx::migrate::Migrator;

pub use config::Config;

/// The reconciler's migrations (its own schema).
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Service name (broker connection name, readiness, logs).
pub const NAME: &str = "reconciler";
/// Database schema.
pub const SCHEMA: &str = "reconciler";
/// The source queue (base name; the namespace is added).
pub const SOURCE_QUEUE: &str = "reconciler.source";

/// Why the service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] hub_runtime::ConfigError),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Messaging(#[from] hub_runtime::messaging::MessagingError),
    #[error("a task failed: {0}")]
    Task(String),
}

/// The source queue's declaration: `reconciler.source`, bound to the contract types; for a
/// shard of a province (`HUB_PROVINCE=<code>`), `reconciler.source.p<code>`, bound to that
/// province's routing keys only (`province.<code>.<type>`). Either has a single active
/// consumer: each shard applies its records in order, shards in parallel.
pub fn source_queue(config: &Config) -> QueueSpec {
    let mut spec = match &config.common.hub_province {
        None => QueueSpec::new(SOURCE_QUEUE),
        Some(p) => QueueSpec::new(shard_queue(p)),
    };
    for ty in SOURCE_TYPES {
        spec = match &config.common.hub_province {
            None => spec.bind(exchanges::SOURCE, ty),
            Some(p) => spec.bind(
                exchanges::SOURCE,
                &hub_contracts::registry::province_routing_key(p, ty),
            ),
        };
    }
    spec.delivery_limit(config.common.delivery_limit)
        .single_active_consumer()
}

/// The source queue of the shard of `province` (base name).
pub fn shard_queue(province: &str) -> String {
    format!("{SOURCE_QUEUE}.p{province}")
}

/// The source contracts the reconciler binds and matches.
pub const SOURCE_TYPES: [&str; 4] = [
    RegistryCooperative::TYPE,
    LoanDisbursement::TYPE,
    NtmCommuneReport::TYPE,
    FuBranch::TYPE,
];

/// A started service.
pub struct Running {
    /// Where the HTTP API listens (when `HTTP_ADDR` is set).
    pub http_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<Result<(), Error>>,
}

impl Running {
    /// Waits until the service stopped (after `shutdown` was cancelled).
    pub async fn wait(self) -> Result<(), Error> {
        self.task.await.map_err(|e| Error::Task(e.to_string()))?
    }
}

/// The consumer of the source queue: every record the broker delivered meanwhile goes in the
/// next transaction, matched while the previous batch commits (batches in order keep the
/// queue's order); room in the prefetch for three batches: one committing, one prepared, and
/// the next one already delivered when the commit's acks go out (with room for two, the
/// batch read right after an ack held only what the broker had sent back meanwhile, a
/// tenth of a batch, at the full cost of a transaction). `handler` is the service's
/// [`service::SourceHandler`] (tests wrap it).
pub fn source_consumer<P: StagedHandler>(
    broker: &Broker,
    config: &Config,
    common: &CommonConfig,
    handler: P,
) -> StagedConsumer<P> {
    StagedConsumer::new(broker.clone(), source_queue(config), handler)
        .retry(common.retry_policy())
        .prefetch(
            common
                .batch_prefetch()
                .max(common.batch_size.saturating_mul(3)),
        )
        .max_batch(usize::from(common.batch_size))
        .accepts(&SOURCE_TYPES)
}

/// Runs the service until `shutdown` is cancelled.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    start(config, shutdown).await?.wait().await
}

/// Starts the service: database (migrations), engine rebuilt from it, queues, outbox relay,
/// consumer and HTTP; returns once it serves.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, Error> {
    config.validate()?;
    let ctx = ServiceContext::start(
        NAME,
        config.common.clone(),
        SCHEMA,
        Some(&MIGRATOR),
        shutdown.clone(),
    )
    .await?;
    let replica = service::Replica::new();
    let shared = service::Shared::load_with(
        ctx.db.clone(),
        shutdown.clone(),
        i64::from(config.reconciler_max_page),
        config.decision_contracts()?,
        replica.clone(),
    )
    .await?;
    let relay = ctx.spawn_outbox_relay();
    let probe = ctx.spawn_database_probe();
    let consumer = source_consumer(
        &ctx.broker,
        &config,
        &ctx.config,
        service::SourceHandler(shared.clone()),
    );
    let consumer = tokio::spawn(consumer.run(shutdown.clone()));
    let prune = spawn_inbox_prune(ctx.db.clone(), shutdown.clone());
    let settle = tokio::spawn(service::settle_loop(
        shared.clone(),
        std::time::Duration::from_millis(config.reconciler_settle_quiet_ms),
        shutdown.clone(),
    ));
    let api = hub_runtime::service_auth::require_service_credential(
        http::router(shared),
        config.service_tokens.clone(),
    );
    let http_addr = ctx.serve_http(api).await?;
    // operator writes go to the replica that holds the election's lock; the first attempt
    // decides before the service counts as started
    let (tried, first) = tokio::sync::oneshot::channel();
    let election = tokio::spawn(service::elect(
        ctx.db.clone(),
        replica,
        config.advertise_url(http_addr),
        tried,
        shutdown.clone(),
    ));
    let _ = first.await;
    let task = tokio::spawn(async move {
        shutdown.cancelled().await;
        let consumed = consumer.await.map_err(|e| Error::Task(e.to_string()))?;
        let _ = relay.await;
        let _ = probe.await;
        let _ = prune.await;
        let _ = settle.await;
        let _ = election.await;
        ctx.broker.close().await;
        consumed?;
        Ok(())
    });
    Ok(Running { http_addr, task })
}

/// Inbox rows are kept this many days (a redelivery older than that is not expected).
const INBOX_DAYS: i32 = 30;

/// Forgets old inbox rows every hour until shutdown.
fn spawn_inbox_prune(
    db: hub_runtime::Database,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match hub_runtime::storage::inbox::prune(&db.pool, INBOX_DAYS).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "old inbox rows forgotten"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "inbox prune failed; will retry"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            }
        }
    })
}

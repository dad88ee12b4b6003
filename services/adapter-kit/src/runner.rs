//! Running an adapter as a service: [`run`] starts the shared runtime (its database schema
//! with the kit's migrations, the broker, `/healthz` `/readyz` `/metrics` on `HTTP_ADDR`),
//! then checks the source and syncs it every poll interval until the shutdown token fires.
//!
//! - Readiness has a `source` flag: true once a check passed, false after a credentials
//!   failure (the runner re-checks before syncing again rather than hammering the system).
//! - `POST /api/v1/sync` starts a sync at once (the console's `hub sync`). Like every
//!   internal API it requires the service credential ([`RunSettings::service_tokens`],
//!   `SERVICE_TOKENS`, checked by [`hub_runtime::service_auth`]; 401 otherwise); `/healthz`,
//!   `/readyz` and `/metrics` stay open for probes.
//! - A failed sync is logged and counted; committed pages are kept and the next poll goes on
//!   from them.
//! - Shutdown: a sync in progress stops after its current page is committed (or at the
//!   next wait), then the broker connection is closed.
//!
//! A pull source's settings implement [`PullConfig`] (its one build function and the few
//! facts the runner and the acceptance kit need), and [`run_pull`] runs it from them.
//!
//! Owns the poll loop only; what a sync does is [`crate::source`]'s business.

use std::time::Duration;

use axum::Router;
use hub_runtime::CommonConfig;
use hub_runtime::service::{ServiceContext, ServiceError};
use hub_runtime::service_auth::ServiceTokens;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{MIGRATOR, Store, schema_for};
use crate::config::SourceConfig;
use crate::conformance::Credential;
use crate::error::SourceError;
use crate::metrics::AdapterMetrics;
use crate::source::{Source, SyncEngine};

/// `POST /api/v1/sync`: starts a sync now instead of at the next poll (answers 202; a
/// request during a sync starts another right after it). Operators reach it through the
/// console, which authorises and audits the action and sends the service credential: the
/// route answers 401 without one of `tokens`.
fn sync_route(trigger: std::sync::Arc<tokio::sync::Notify>, tokens: ServiceTokens) -> Router {
    let api = documented_sync(trigger).router;
    hub_runtime::service_auth::require_service_credential(api, tokens)
}

/// The pull adapters' API (`POST /api/v1/sync`) and its OpenAPI 3.1 document, served at
/// `GET /api/v1/openapi.json` behind the same credential (the same for every pull source:
/// `contracts/openapi/hub-adapter.json`).
pub fn sync_openapi() -> hub_runtime::openapi::Finished<()> {
    documented_sync(std::sync::Arc::new(tokio::sync::Notify::new()))
}

fn documented_sync(
    trigger: std::sync::Arc<tokio::sync::Notify>,
) -> hub_runtime::openapi::Finished<()> {
    use hub_runtime::openapi as oa;
    let routes = move || {
        aide::axum::ApiRouter::new().api_route(
            "/api/v1/sync",
            aide::axum::routing::post_with(
                move || {
                    let trigger = trigger.clone();
                    async move {
                        trigger.notify_one();
                        (
                            axum::http::StatusCode::ACCEPTED,
                            axum::Json(serde_json::json!({ "sync": "requested" })),
                        )
                    }
                },
                |op| {
                    op.summary("Sync now instead of at the next poll")
                        .response_with::<202, axum::Json<serde_json::Value>, _>(|r| {
                            r.description("{\"sync\": \"requested\"}")
                        })
                },
            ),
        )
    };
    oa::finish(
        routes,
        oa::ApiInfo {
            title: "hub-adapter",
            description: "A pull adapter's API (the console's `hub sync`). Every route needs \
                the service credential; /healthz, /readyz and /metrics stay open.",
        },
        oa::service_credential,
    )
}

/// How often to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    /// Time between the end of one sync and the start of the next.
    pub poll_interval: Duration,
    /// `SERVICE_TOKENS`: the bearer tokens the adapter's API (`POST /api/v1/sync`) accepts
    /// (the console's `SERVICE_TOKEN`); required when `HTTP_ADDR` is set.
    pub service_tokens: ServiceTokens,
}

/// Why an adapter could not run.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Config(#[from] hub_runtime::ConfigError),
    #[error(transparent)]
    Source(#[from] SourceError),
}

/// A pull source's settings: besides loading and validating ([`SourceConfig`]), the one
/// function that builds the source from them, and the few facts [`run_pull`] and the
/// acceptance kit ([`crate::conformance::pull_from_env`]) need.
pub trait PullConfig: SourceConfig + Clone + Sync {
    /// The source these settings build.
    type Source: Source;

    /// Builds the source; its retry waits end when `shutdown` fires.
    fn build(&self, shutdown: CancellationToken) -> Result<Self::Source, SourceError>;

    /// Time between the end of one sync and the start of the next (`<SYSTEM>_POLL_SECS`).
    fn poll_interval(&self) -> Duration;

    /// `SERVICE_TOKENS`: who may call the adapter's API.
    fn service_tokens(&self) -> &ServiceTokens;

    /// The same settings with the credential `which` and `page` records a page (within what
    /// the system accepts), for the acceptance kit.
    fn for_acceptance(&self, which: Credential, page: usize) -> Self;
}

/// Runs the pull source of `config` until `shutdown`: validates the settings, builds the
/// source and [`run`]s it every [`PullConfig::poll_interval`].
pub async fn run_pull<C: PullConfig>(
    mut config: C,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    config.validate()?;
    let source = config.build(shutdown.clone())?;
    let settings = RunSettings {
        poll_interval: config.poll_interval(),
        service_tokens: config.service_tokens().clone(),
    };
    let common = std::mem::take(config.common_mut());
    run(source, common, settings, shutdown).await
}

/// Runs `source` until `shutdown`: the service name is `adapter-<system>`, the database
/// schema `adapter_<system>`.
pub async fn run<S: Source>(
    source: S,
    common: CommonConfig,
    settings: RunSettings,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let system = source.system().to_owned();
    settings
        .service_tokens
        .validate(common.http_addr.is_some())?;
    let ctx = ServiceContext::start(
        &format!("adapter-{system}"),
        common,
        &schema_for(&system),
        Some(&MIGRATOR),
        shutdown.clone(),
    )
    .await?;
    let metrics = AdapterMetrics::register(&ctx.metrics, &system);
    ctx.readiness.set("source", false);
    let trigger = std::sync::Arc::new(tokio::sync::Notify::new());
    if let Some(addr) = ctx
        .serve_http(sync_route(trigger.clone(), settings.service_tokens.clone()))
        .await?
    {
        tracing::info!(%system, %addr, "adapter serving /healthz /readyz /metrics, POST /api/v1/sync");
    }
    let probe = ctx.spawn_database_probe();
    let engine = SyncEngine::new(
        source,
        Store::new(ctx.db.clone(), &system),
        ctx.publisher.clone(),
        metrics,
        shutdown.clone(),
    );
    let mut checked = false;
    while !shutdown.is_cancelled() {
        if !checked {
            match engine.check().await {
                Ok(()) => {
                    checked = true;
                    ctx.readiness.set("source", true);
                    tracing::info!(%system, "source check passed");
                }
                Err(SourceError::Cancelled) => break,
                Err(e) => {
                    ctx.readiness.set("source", false);
                    tracing::error!(%system, error = %e, "source check failed; retrying at the next poll");
                }
            }
        }
        if checked {
            match engine.sync_once().await {
                Ok(_) => {}
                Err(SourceError::Cancelled) => break,
                Err(e) if e.is_unauthorized() => {
                    checked = false;
                    ctx.readiness.set("source", false);
                    tracing::error!(%system, error = %e, "credentials rejected during sync");
                }
                Err(e) => {
                    tracing::error!(%system, error = %e, "sync failed; retrying at the next poll")
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(settings.poll_interval) => {}
            _ = trigger.notified() => tracing::info!(%system, "sync requested"),
        }
    }
    tracing::info!(%system, "adapter stopping");
    probe.abort();
    ctx.broker.close().await;
    Ok(())
}

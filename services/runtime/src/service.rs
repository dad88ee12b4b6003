//! Bootstrapping a service: the pieces every `run(config)` starts with, in one place.
//!
//! [`ServiceContext::start`] connects the database (its own schema, migrations applied), makes
//! the broker handle and a confirming publisher, and registers readiness. The service then
//! spawns its consumers, the outbox relay ([`ServiceContext::spawn_outbox_relay`]) and its HTTP
//! routes ([`ServiceContext::serve_http`]), and waits for the shutdown token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use sqlx::migrate::Migrator;

use crate::config::CommonConfig;
use crate::http::{self, Readiness};
use crate::messaging::{Broker, Publisher, RetryPolicy};
use crate::shutdown::CancellationToken;
use crate::storage::outbox::OutboxRelay;
use crate::storage::{Database, StorageError};
use crate::telemetry::Metrics;

/// What a service could not start with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("HTTP_ADDR {addr}: {message}")]
    Http { addr: SocketAddr, message: String },
    #[error("shut down before start-up finished")]
    ShuttingDown,
}

/// The shared parts of a running service.
#[derive(Clone)]
pub struct ServiceContext {
    pub name: String,
    pub config: CommonConfig,
    pub db: Database,
    pub broker: Broker,
    pub publisher: Arc<Publisher>,
    pub metrics: Metrics,
    pub readiness: Readiness,
    pub shutdown: CancellationToken,
}

impl ServiceContext {
    /// Validates the config, connects the database (retrying while it is not up yet, so that a
    /// service may start before PostgreSQL) and prepares the broker handle.
    pub async fn start(
        name: &str,
        config: CommonConfig,
        schema: &str,
        migrator: Option<&Migrator>,
        shutdown: CancellationToken,
    ) -> Result<Self, ServiceError> {
        config.validate()?;
        crate::units::install(&config.reference_dirs())?;
        let metrics = Metrics::new();
        let readiness = Readiness::new();
        readiness.set("database", false);
        let mut backoff = RetryPolicy::reconnect_backoff();
        let started = tokio::time::Instant::now();
        let db = loop {
            match Database::connect(&config.database_url, schema, migrator).await {
                Ok(db) => break db,
                // wrong URL or failed migration: no point retrying
                Err(
                    e @ (StorageError::Url { .. }
                    | StorageError::Migrate { .. }
                    | StorageError::Schema(_)),
                ) => {
                    return Err(e.into());
                }
                Err(e) if started.elapsed() > Duration::from_secs(60) => return Err(e.into()),
                Err(e) => {
                    let wait = backoff.next_wait().unwrap_or(Duration::from_secs(2));
                    tracing::warn!(error = %e, "database not ready; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(ServiceError::ShuttingDown),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        };
        readiness.set("database", true);
        let broker = Broker::new(
            &config.amqp_url,
            name,
            config.topology(),
            metrics.clone(),
            readiness.clone(),
        );
        let publisher = Arc::new(Publisher::new(broker.clone()));
        Ok(Self {
            name: name.to_owned(),
            config,
            db,
            broker,
            publisher,
            metrics,
            readiness,
            shutdown,
        })
    }

    /// Runs the outbox relay of this service's schema until shutdown.
    pub fn spawn_outbox_relay(&self) -> tokio::task::JoinHandle<()> {
        let relay = OutboxRelay::new(self.db.clone(), self.publisher.clone());
        tokio::spawn(relay.run(self.shutdown.clone()))
    }

    /// Keeps the `database` readiness flag true while the database answers.
    pub fn spawn_database_probe(&self) -> tokio::task::JoinHandle<()> {
        let (db, readiness, shutdown) = (
            self.db.clone(),
            self.readiness.clone(),
            self.shutdown.clone(),
        );
        tokio::spawn(async move {
            while !shutdown.is_cancelled() {
                readiness.set("database", db.ping().await);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                }
            }
        })
    }

    /// Serves `/healthz`, `/readyz`, `/metrics` and `routes` on `HTTP_ADDR`, if set. Returns the
    /// bound address.
    pub async fn serve_http(&self, routes: Router) -> Result<Option<SocketAddr>, ServiceError> {
        let Some(addr) = self.config.http_addr else {
            return Ok(None);
        };
        let router = http::traced(routes).merge(http::ops_router(
            self.readiness.clone(),
            self.metrics.clone(),
        ));
        let tls = self.config.http_tls();
        let (local, _task) = http::serve_with(addr, router, self.shutdown.clone(), tls.as_ref())
            .await
            .map_err(|e| ServiceError::Http {
                addr,
                message: e.to_string(),
            })?;
        Ok(Some(local))
    }
}

//! Running the console: [`start`] loads the users file, starts the shared runtime (the
//! `console` schema with its migrations, the broker handle) and serves the pages and the
//! operator API on `HTTP_ADDR` with `/healthz`, `/readyz`, `/metrics`; [`run`] waits for the
//! shutdown token.
//!
//! Owns the wiring only: the state it builds is [`crate::state`]'s; what a route does is
//! [`crate::api`]'s, [`crate::web`]'s and [`crate::actions`]'s.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hub_runtime::service::ServiceContext;
use hub_runtime::shutdown::CancellationToken;
use sqlx::migrate::Migrator;

use crate::Error;
use crate::audit::Audit;
use crate::auth::{Sessions, UsersSource};
use crate::config::Config;
use crate::state::AppState;
use crate::throttle::LoginThrottle;
use crate::upstream::Upstream;

/// The service's name (broker connection, logs).
pub const SERVICE_NAME: &str = "console";
/// The console's own schema.
pub const SCHEMA: &str = "console";

/// The console's migrations.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A started console.
pub struct Running {
    http_addr: SocketAddr,
    shutdown: CancellationToken,
    ctx: ServiceContext,
}

impl Running {
    /// Where the console listens (with `HTTP_ADDR` port 0, the port picked).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The base URL, `http://addr`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// Waits for the shutdown token, then closes the broker connection.
    pub async fn stopped(self) -> Result<(), Error> {
        self.shutdown.cancelled().await;
        self.ctx.broker.close().await;
        Ok(())
    }
}

/// Starts the console and returns once it listens.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, Error> {
    config.validate()?;
    let users_file = config
        .console_users_file
        .clone()
        .ok_or_else(|| hub_runtime::ConfigError::invalid("CONSOLE_USERS_FILE", "required"))?;
    let users = UsersSource::load(&users_file)?;
    tracing::info!(users = users.current().await.len(), file = %users_file.display(), "users loaded");
    if config.common.http_addr.is_none() {
        return Err(Error::NoHttp);
    }
    let ctx = ServiceContext::start(
        SERVICE_NAME,
        config.common.clone(),
        SCHEMA,
        Some(&MIGRATOR),
        shutdown.clone(),
    )
    .await?;
    let upstream = Upstream::new(
        &config.reconciler_url,
        &config.indicators_url,
        &config.adapter_urls,
        Duration::from_millis(config.upstream_timeout_ms),
        config.service_token.token().map(str::to_owned),
    );
    let password_checks = prometheus_client::metrics::counter::Counter::default();
    ctx.metrics.register(
        "console_password_verifications",
        "Password verifications (argon2) run by the console",
        password_checks.clone(),
    );
    let state = Arc::new(AppState {
        users,
        throttle: LoginThrottle::new(
            config.login_max_failures,
            config.login_max_failures_per_address,
            Duration::from_secs(config.login_window_secs),
        ),
        password_slots: tokio::sync::Semaphore::new(usize::from(config.login_concurrency)),
        password_checks,
        sessions: Sessions::new(ctx.db.pool.clone(), config.session_ttl_minutes),
        audit: Audit::new(ctx.db.pool.clone()),
        upstream,
        broker: ctx.broker.clone(),
        config,
    });
    // connect once now, so that `/readyz` tells whether the broker is reachable
    {
        let (broker, shutdown) = (ctx.broker.clone(), shutdown.clone());
        tokio::spawn(async move {
            if let Ok(ch) = broker.channel_with_retry(&shutdown).await {
                let _ = ch.close(200, "connected".into()).await;
            }
        });
    }
    let _probe = ctx.spawn_database_probe();
    let router = crate::guard::layer(
        crate::api::router(state.clone()).merge(crate::web::router(state.clone())),
        state,
    );
    let http_addr = ctx.serve_http(router).await?.ok_or(Error::NoHttp)?;
    tracing::info!(%http_addr, "console serving");
    Ok(Running {
        http_addr,
        shutdown,
        ctx,
    })
}

/// Runs the console until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    start(config, shutdown).await?.stopped().await
}

//! What every handler shares: [`AppState`] (users, sessions, audit log, throttle, upstream
//! clients, broker, config) and its handle [`Shared`]. Built once by [`crate::service::start`];
//! every other module only reads it. Imports nothing from the routes ([`crate::api`],
//! [`crate::web`]) or [`crate::actions`], so that the modules form no circle.

use std::sync::Arc;

use hub_runtime::Broker;

use crate::audit::Audit;
use crate::auth::{Caller, Sessions, UsersSource};
use crate::config::Config;
use crate::throttle::LoginThrottle;
use crate::upstream::Upstream;

/// What every handler shares.
pub struct AppState {
    /// The users file, as it is now.
    pub users: UsersSource,
    /// Failed logins per user and address.
    pub throttle: LoginThrottle,
    /// Password verifications (argon2) running at once, at most `LOGIN_CONCURRENCY`.
    pub password_slots: tokio::sync::Semaphore,
    /// Password verifications run (`coophub_console_password_verifications_total`).
    pub password_checks: prometheus_client::metrics::counter::Counter,
    pub sessions: Sessions,
    pub audit: Audit,
    pub upstream: Upstream,
    pub broker: Broker,
    pub config: Config,
}

impl AppState {
    /// The caller of a request, checked against the users file as it is now (a removed user
    /// or a changed password ends the session; a changed role applies at once).
    pub async fn caller(
        &self,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<Caller>, sqlx::Error> {
        let users = self.users.current().await;
        self.sessions.caller(headers, &users).await
    }

    /// The queues whose dead letters operators may see and act on.
    pub fn knows_queue(&self, queue: &str) -> bool {
        self.config.dlq_queues.iter().any(|q| q == queue)
    }
}

/// Shared state handle.
pub type Shared = Arc<AppState>;

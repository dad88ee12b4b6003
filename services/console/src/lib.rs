//! # hub-console: the operator console
//!
//! A backend-for-frontend over the other services' public HTTP APIs and the broker: web
//! pages for operators, the operator API the `hub` CLI talks to, access control and the
//! audit log.
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | [`Config`] from the environment (`RECONCILER_URL`, `INDICATORS_URL`, `ADAPTER_URLS`, `CONSOLE_USERS_FILE`, …) |
//! | [`auth`] | roles, the users file (argon2), sessions (cookie) and tokens (bearer) |
//! | [`audit`] | the audit log of operator actions, refused attempts and logins (append-only, hash-chained) |
//! | [`chain`] | re-export of [`hub_runtime::chain`] (shared with hub-inbound's exchange log) |
//! | [`throttle`] | login throttling per user name and per client address |
//! | [`guard`] | what every response gets: security headers, `no-store`, refused requests audited |
//! | [`privacy`] | masking personal data for viewers |
//! | [`upstream`] | HTTP clients of the reconciler, indicators and adapters |
//! | [`health`] | pipeline health: sources, services, queue depths, dead-letter counts |
//! | [`actions`] | operator actions (review, merge/split, dead letters, sync, recompute): role check, audit, call |
//! | [`api`] | the operator API (`/api/v1/…`, JSON) |
//! | [`web`] | the server-rendered pages, with their embedded CSS and JS |
//! | [`state`] | [`state::AppState`]: what every handler shares (the one owner of the state) |
//! | [`service`] | [`start`]/[`run`]: the console's schema, broker handle and HTTP server |
//! | [`ops`] | the `hub` operator commands ([`ops::OpsCommand`], [`ops::run_ops`]) |
//! | [`agency`] | the agency systems' RabbitMQ users, as data for `definitions.json` |
//!
//! Owns the `console` schema (sessions, audit log) and nothing else. It never reads another
//! service's tables: what it shows comes from their HTTP APIs and, for queues and dead
//! letters, from the broker through [`hub_runtime::messaging::dlq`].

pub mod actions;
pub mod agency;
pub mod api;
pub mod audit;
pub mod auth;
/// Hash chains live in the runtime (shared with hub-inbound's exchange log).
pub use hub_runtime::chain;
pub mod config;
pub mod guard;
pub mod health;
pub mod ops;
pub mod privacy;
pub mod service;
pub mod state;
pub mod throttle;
pub mod upstream;
pub mod web;

pub use auth::Role;
pub use config::Config;
pub use service::{Running, run, start};

/// Why the console could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] hub_runtime::ConfigError),
    #[error("users file {path}: {problem}")]
    Users {
        path: std::path::PathBuf,
        problem: String,
    },
    #[error("password hashing: {0}")]
    Hash(String),
    #[error(transparent)]
    Service(#[from] hub_runtime::service::ServiceError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("HTTP_ADDR is required: the console is an HTTP service")]
    NoHttp,
}

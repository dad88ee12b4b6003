//! The HTTP face every service has: `/healthz` (the process is alive), `/readyz` (its broker
//! and database connections are up) and Prometheus `/metrics`, merged with the service's own
//! routes. Owns no business logic.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::shutdown::CancellationToken;
use crate::telemetry::Metrics;

/// Named readiness flags (e.g. `broker`, `database`), set by the components that own them.
#[derive(Clone, Default)]
pub struct Readiness {
    flags: Arc<RwLock<BTreeMap<String, bool>>>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, component: &str, ready: bool) {
        if let Ok(mut f) = self.flags.write() {
            f.insert(component.to_owned(), ready);
        }
    }

    /// Ready when every registered component is.
    pub fn is_ready(&self) -> bool {
        self.flags
            .read()
            .map(|f| f.values().all(|v| *v))
            .unwrap_or(false)
    }

    pub fn snapshot(&self) -> BTreeMap<String, bool> {
        self.flags.read().map(|f| f.clone()).unwrap_or_default()
    }
}

#[derive(Clone)]
struct Ops {
    readiness: Readiness,
    metrics: Metrics,
}

/// The operational routes, to merge with a service's own.
pub fn ops_router(readiness: Readiness, metrics: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(Ops { readiness, metrics })
}

async fn readyz(State(ops): State<Ops>) -> impl IntoResponse {
    let flags = ops.readiness.snapshot();
    let code = if ops.readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(flags))
}

async fn metrics_text(State(ops): State<Ops>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        ops.metrics.encode(),
    )
}

/// Binds `addr` and serves `router` until `shutdown`. Returns the bound address (useful with
/// port 0) and the server task.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        // with the peer's address in each request (`ConnectInfo`), for per-address limits
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
    });
    tracing::info!(%local, "http listening");
    Ok((local, task))
}

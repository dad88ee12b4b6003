//! The HTTP face every service has: `/healthz` (the process is alive), `/readyz` (its broker
//! and database connections are up) and Prometheus `/metrics`, merged with the service's own
//! routes. Owns no business logic.
//!
//! A service's own routes run each request in a server span ([`traced`]) that continues the
//! caller's W3C `traceparent`; it names the route's template, never its values.
//!
//! Served over TLS when `HTTP_TLS_CERT` and `HTTP_TLS_KEY` name PEM files ([`TlsFiles`]):
//! handshakes run on their own tasks with a timeout, so a slow client holds up nobody else.

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
use crate::telemetry::propagation;

/// `routes` with every request in a server span, the child of the request's `traceparent`
/// when it has one (a root otherwise).
pub fn traced(routes: Router) -> Router {
    routes.layer(axum::middleware::from_fn(trace_request))
}

async fn trace_request(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use tracing::Instrument;
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!(parent: None, "http_request",
        otel.name = %format!("{method} {route}"), otel.kind = "server",
        http.request.method = %method, http.route = %route,
        http.response.status_code = tracing::field::Empty);
    propagation::set_remote_parent(&span, propagation::extract_http(req.headers()));
    let response = next.run(req).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

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
    serve_with(addr, router, shutdown, None).await
}

/// The certificate chain and private key (PEM, PKCS#8) an HTTP listener serves TLS with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Longest time a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A listener that hands over connections whose TLS handshake succeeded.
struct TlsListener {
    local: SocketAddr,
    accepted: tokio::sync::mpsc::Receiver<(
        tokio_native_tls::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_native_tls::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(c) => c,
            // the accepting task ended (shutdown): wait for the server to stop
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

fn tls_acceptor(files: &TlsFiles) -> std::io::Result<tokio_native_tls::TlsAcceptor> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display())))
    };
    let identity =
        tokio_native_tls::native_tls::Identity::from_pkcs8(&read(&files.cert)?, &read(&files.key)?)
            .map_err(|e| std::io::Error::other(format!("HTTP_TLS_CERT/HTTP_TLS_KEY: {e}")))?;
    let acceptor = tokio_native_tls::native_tls::TlsAcceptor::new(identity)
        .map_err(|e| std::io::Error::other(format!("TLS: {e}")))?;
    Ok(acceptor.into())
}

/// Like [`serve`], over TLS when `tls` names a certificate and key.
pub async fn serve_with(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
    tls: Option<&TlsFiles>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if let Some(files) = tls {
        use axum::serve::ListenerExt as _;
        let acceptor = std::sync::Arc::new(tls_acceptor(files)?);
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        let listener = TlsListener {
            local,
            accepted: rx,
        }
        .tap_io(|_| {});
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
        });
        tracing::info!(%local, "https listening");
        return Ok((local, task));
    }
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

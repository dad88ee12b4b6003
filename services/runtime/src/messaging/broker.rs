//! One broker connection per service, re-established on demand.
//!
//! Owns the lapin [`Connection`]: [`Broker::channel`] hands out a channel on a live
//! connection, reconnecting first (and redeclaring the exchanges) when the old one died. The
//! publisher and consumers call it again after any channel error, which is how a service
//! survives a broker restart: reconnect, redeclare, resume.
//!
//! `AMQP_URL` may list the nodes of a cluster, separated by commas
//! (`amqp://u:p@node1:5672/%2f,amqp://u:p@node2:5672/%2f`): a connection goes to the node
//! that last worked, and when that node is gone to the next one that answers, so a service
//! survives one node of a cluster stopping (its quorum queues elect leaders on the others).

use std::sync::Arc;

use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use super::MessagingError;
use super::retry::RetryPolicy;
use super::topology::Topology;
use crate::config::redact_url;
use crate::http::Readiness;
use crate::shutdown::CancellationToken;
use crate::telemetry::Metrics;

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const OP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The user a connection to `url` authenticates as with a user name and password.
fn url_user(url: &str) -> Option<String> {
    use lapin::uri::{AMQPUri, SASLMechanism};
    let uri: AMQPUri = url.parse().ok()?;
    match uri.query.auth_mechanism.unwrap_or_default() {
        SASLMechanism::Plain | SASLMechanism::AMQPlain => Some(uri.authority.userinfo.username),
        _ => None,
    }
}

/// The URLs of a comma-separated `AMQP_URL` (one for a single broker), blanks trimmed.
pub fn split_urls(url: &str) -> Vec<String> {
    url.split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A shared, self-healing broker connection.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

struct Inner {
    /// The nodes' URLs (one for a single broker).
    urls: Vec<String>,
    /// Index in `urls` of the node to try first: the one that last worked.
    preferred: std::sync::atomic::AtomicUsize,
    /// The user the connection authenticates as (see [`Broker::user`]).
    user: Option<String>,
    name: String,
    topology: Topology,
    metrics: Metrics,
    readiness: Readiness,
    conn: Mutex<Option<Connection>>,
}

impl Broker {
    /// A broker handle; the connection is made on first use.
    pub fn new(
        url: &str,
        name: &str,
        topology: Topology,
        metrics: Metrics,
        readiness: Readiness,
    ) -> Self {
        readiness.set("broker", false);
        Self {
            inner: Arc::new(Inner {
                urls: split_urls(url),
                preferred: std::sync::atomic::AtomicUsize::new(0),
                user: url_user(split_urls(url).first().map_or(url, String::as_str)),
                name: name.to_owned(),
                topology,
                metrics,
                readiness,
                conn: Mutex::new(None),
            }),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// The RabbitMQ user this connection authenticates as, when the URL says it (PLAIN or
    /// AMQPLAIN: the URL's user name, `guest` when it names none); `None` for EXTERNAL
    /// (certificate) or ANONYMOUS authentication, where the broker decides the name. The
    /// publisher stamps it as the AMQP `user_id` of every message, which the broker checks
    /// against the connection's user (validated user id): a consumer can tell a message the
    /// hub's own services published (a retry or dead-letter copy, an operator's replay) from
    /// one an agency published.
    pub fn user(&self) -> Option<&str> {
        self.inner.user.as_deref()
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Opens a channel, connecting (once) if there is no live connection.
    pub async fn channel(&self) -> Result<Channel, MessagingError> {
        let mut guard = self.inner.conn.lock().await;
        if let Some(conn) = guard.as_ref()
            && conn.status().connected()
        {
            match tokio::time::timeout(OP_TIMEOUT, conn.create_channel()).await {
                Ok(Ok(ch)) => return Ok(ch),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "channel on existing connection failed; reconnecting")
                }
                Err(_) => tracing::warn!("channel on existing connection timed out; reconnecting"),
            }
        }
        *guard = None;
        self.inner.readiness.set("broker", false);
        let conn = self.connect_any().await?;
        let ch = conn.create_channel().await?;
        self.inner.topology.declare_exchanges(&ch).await?;
        self.inner.metrics.reconnects.inc();
        self.inner.readiness.set("broker", true);
        tracing::info!(connection = %self.inner.name, "connected to broker");
        *guard = Some(conn);
        Ok(ch)
    }

    /// A connection to the first node that answers, starting from the one that last worked.
    async fn connect_any(&self) -> Result<Connection, MessagingError> {
        use std::sync::atomic::Ordering;
        let urls = &self.inner.urls;
        let first = self.inner.preferred.load(Ordering::Relaxed) % urls.len().max(1);
        let mut failures = Vec::new();
        for i in (0..urls.len()).map(|k| (first + k) % urls.len()) {
            let url = &urls[i];
            let props = ConnectionProperties::default()
                .with_connection_name(self.inner.name.clone().into());
            let attempt =
                tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, props)).await;
            match attempt {
                Ok(Ok(conn)) => {
                    if i != first {
                        tracing::info!(node = %redact_url(url), "connected to another node of the cluster");
                    }
                    self.inner.preferred.store(i, Ordering::Relaxed);
                    return Ok(conn);
                }
                Ok(Err(e)) => failures.push((url, e.to_string())),
                Err(_) => failures.push((url, format!("no answer within {CONNECT_TIMEOUT:?}"))),
            }
        }
        let message = failures
            .iter()
            .map(|(url, e)| format!("{}: {e}", redact_url(url)))
            .collect::<Vec<_>>()
            .join("; ");
        Err(MessagingError::Connect {
            url: urls
                .iter()
                .map(|u| redact_url(u))
                .collect::<Vec<_>>()
                .join(","),
            message,
        })
    }

    /// Like [`Broker::channel`], retrying with backoff until it works or `shutdown` fires.
    pub async fn channel_with_retry(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<Channel, MessagingError> {
        let mut backoff = RetryPolicy::reconnect_backoff();
        loop {
            match self.channel().await {
                Ok(ch) => return Ok(ch),
                Err(e) => {
                    let wait = backoff
                        .next_wait()
                        .unwrap_or(std::time::Duration::from_secs(5));
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "broker unavailable");
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(MessagingError::ShuttingDown),
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }

    /// Marks the connection dead so the next [`Broker::channel`] reconnects.
    pub async fn invalidate(&self) {
        let mut guard = self.inner.conn.lock().await;
        if let Some(conn) = guard.take() {
            let _ = tokio::time::timeout(OP_TIMEOUT, conn.close(200, "reconnecting".into())).await;
        }
        self.inner.readiness.set("broker", false);
    }

    /// Drops the connection only if it is no longer connected (a channel error leaves a live
    /// connection that other components still use).
    pub async fn invalidate_if_dead(&self) {
        let mut guard = self.inner.conn.lock().await;
        if guard.as_ref().is_some_and(|c| !c.status().connected()) {
            *guard = None;
            self.inner.readiness.set("broker", false);
        }
    }

    /// Closes the connection (graceful shutdown).
    pub async fn close(&self) {
        let mut guard = self.inner.conn.lock().await;
        if let Some(conn) = guard.take() {
            let _ = tokio::time::timeout(OP_TIMEOUT, conn.close(200, "shutdown".into())).await;
        }
    }
}

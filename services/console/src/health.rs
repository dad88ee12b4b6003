//! Pipeline health, gathered on request: each source adapter's readiness, last sync, lag and
//! errors (from its `/readyz` and Prometheus `/metrics`), the reconciler's and indicators'
//! readiness, and each consumer queue's depth and dead-letter count (passive declarations on
//! the broker: nothing is created, nothing consumed).
//!
//! Owns no state: every call asks the services and the broker again.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use hub_runtime::Broker;
use hub_runtime::messaging::dlq::DeadLetters;
use serde::Serialize;

use crate::upstream::Upstream;

/// One source adapter.
#[derive(Debug, Clone, Serialize)]
pub struct SourceHealth {
    pub system: String,
    pub url: String,
    /// `/readyz` answered 200.
    pub ready: bool,
    /// The readiness flags (`broker`, `database`, `source`).
    pub flags: BTreeMap<String, bool>,
    /// End of the last successful sync.
    pub last_sync: Option<DateTime<Utc>>,
    /// Now minus the committed watermark's timestamp.
    pub lag_seconds: Option<f64>,
    /// Failed checks and syncs since the adapter started.
    pub errors: Option<f64>,
    pub records_published: Option<f64>,
    /// Pages confirmed and committed, and raw records read, since the adapter started: they
    /// grow while a sync runs.
    #[serde(default)]
    pub pages_committed: Option<f64>,
    #[serde(default)]
    pub records_read: Option<f64>,
    /// Why the adapter could not be asked, if it could not.
    pub problem: Option<String>,
}

/// One hub service.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceHealth {
    pub name: String,
    pub url: Option<String>,
    pub ready: bool,
    pub flags: BTreeMap<String, bool>,
    pub problem: Option<String>,
}

/// One consumer queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueHealth {
    pub queue: String,
    pub depth: Option<u32>,
    pub dead_letters: Option<u32>,
    pub problem: Option<String>,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineStatus {
    pub at: DateTime<Utc>,
    pub sources: Vec<SourceHealth>,
    pub services: Vec<ServiceHealth>,
    pub queues: Vec<QueueHealth>,
}

/// Reads `name{labels} value` samples of a Prometheus text exposition: the sum over every
/// label set of the metric `name` (with a `system` label equal to `system`, when given).
pub fn metric(text: &str, name: &str, system: Option<&str>) -> Option<f64> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (metric_name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric_name != name {
            continue;
        }
        if let Some(sys) = system {
            let wanted = format!("system=\"{sys}\"");
            if !labels.split(',').any(|l| l.trim() == wanted) {
                continue;
            }
        }
        if let Ok(v) = value.trim().parse::<f64>() {
            found = Some(found.unwrap_or(0.0) + v);
        }
    }
    found
}

async fn readiness(
    upstream: &Upstream,
    who: &str,
    base: &str,
) -> (bool, BTreeMap<String, bool>, Option<String>) {
    match upstream.get_text(who, &format!("{base}/readyz")).await {
        Ok((status, body)) => {
            let flags = serde_json::from_str(&body).unwrap_or_default();
            let problem = (!status.is_success()).then(|| format!("/readyz answered {status}"));
            (status.is_success(), flags, problem)
        }
        Err(e) => (false, BTreeMap::new(), Some(e.to_string())),
    }
}

/// Asks one adapter.
pub async fn source_health(upstream: &Upstream, system: &str, base: &str) -> SourceHealth {
    let (ready, flags, mut problem) = readiness(upstream, system, base).await;
    let mut h = SourceHealth {
        system: system.to_owned(),
        url: base.to_owned(),
        ready,
        flags,
        last_sync: None,
        lag_seconds: None,
        errors: None,
        records_published: None,
        pages_committed: None,
        records_read: None,
        problem: None,
    };
    match upstream.get_text(system, &format!("{base}/metrics")).await {
        Ok((status, text)) if status.is_success() => {
            let m = |n: &str| metric(&text, n, Some(system));
            h.last_sync = m("coophub_adapter_last_success_timestamp_seconds")
                .filter(|t| *t > 0.0)
                .and_then(|t| Utc.timestamp_opt(t as i64, 0).single());
            h.lag_seconds = m("coophub_adapter_lag_seconds");
            h.errors = m("coophub_adapter_errors_total").or(Some(0.0));
            h.records_published = m("coophub_adapter_records_published_total");
            h.pages_committed = m("coophub_adapter_pages_committed_total");
            h.records_read = m("coophub_adapter_records_read_total");
        }
        Ok((status, _)) => {
            problem.get_or_insert(format!("/metrics answered {status}"));
        }
        Err(e) => {
            problem.get_or_insert(e.to_string());
        }
    }
    h.problem = problem;
    h
}

/// Depth of a consumer queue (passive declaration: fails when it does not exist).
pub async fn queue_depth(broker: &Broker, queue: &str) -> Result<u32, String> {
    let ch = broker.channel().await.map_err(|e| e.to_string())?;
    let name = broker.topology().name(queue);
    let q = ch
        .queue_declare(
            name.as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await;
    let _ = ch.close(200, "done".into()).await;
    q.map(|q| q.message_count())
        .map_err(|e| format!("queue {name}: {e}"))
}

/// Asks everything.
pub async fn status(
    upstream: &Upstream,
    services: &[(&str, Option<String>)],
    broker: &Broker,
    queues: &[String],
) -> PipelineStatus {
    let sources = futures::future::join_all(
        upstream
            .adapters()
            .iter()
            .map(|(system, url)| source_health(upstream, system, url)),
    )
    .await;
    let mut svc = Vec::new();
    for (name, url) in services {
        let h = match url {
            Some(u) => {
                let (ready, flags, problem) = readiness(upstream, name, u).await;
                ServiceHealth {
                    name: (*name).to_owned(),
                    url: Some(u.clone()),
                    ready,
                    flags,
                    problem,
                }
            }
            None => ServiceHealth {
                name: (*name).to_owned(),
                url: None,
                ready: false,
                flags: BTreeMap::new(),
                problem: Some("not configured".into()),
            },
        };
        svc.push(h);
    }
    let mut qs = Vec::new();
    for q in queues {
        let depth = queue_depth(broker, q).await;
        let dead = DeadLetters::new(broker.clone(), q)
            .count()
            .await
            .map_err(|e| e.to_string());
        let problem = match (&depth, &dead) {
            (Err(e), _) | (_, Err(e)) => Some(e.clone()),
            _ => None,
        };
        qs.push(QueueHealth {
            queue: q.clone(),
            depth: depth.ok(),
            dead_letters: dead.ok(),
            problem,
        });
    }
    PipelineStatus {
        at: Utc::now(),
        sources,
        services: svc,
        queues: qs,
    }
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn reads_prometheus_samples() {
        let text = "# HELP coophub_adapter_errors Failed checks and syncs\n\
                    # TYPE coophub_adapter_errors counter\n\
                    coophub_adapter_errors_total{system=\"ntm\"} 3\n\
                    coophub_adapter_errors_total{system=\"loan-fund\"} 1\n\
                    coophub_adapter_lag_seconds{system=\"ntm\"} 42\n\
                    # EOF\n";
        assert_eq!(
            metric(text, "coophub_adapter_errors_total", Some("ntm")),
            Some(3.0)
        );
        assert_eq!(
            metric(text, "coophub_adapter_errors_total", None),
            Some(4.0)
        );
        assert_eq!(
            metric(text, "coophub_adapter_lag_seconds", Some("ntm")),
            Some(42.0)
        );
        assert_eq!(metric(text, "coophub_adapter_lag_seconds", Some("x")), None);
    }
}

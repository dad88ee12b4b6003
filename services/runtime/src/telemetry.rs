//! Telemetry: tracing subscriber set-up, OpenTelemetry spans and their propagation, the
//! Prometheus registry, and W3C trace context.
//!
//! Owns log formatting, the span exporter ([`otlp`]: OTLP when configured) and metric
//! families shared by the runtime; [`propagation`] is the one place that reads and writes
//! `traceparent`. Personal data is masked before it reaches a log: services log through
//! `hub_normalise::mask`, never raw names or phones; spans carry ids, types and counts only,
//! and log events are never exported as span events.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use rand::RngCore;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub mod otlp;
pub mod propagation;

pub use otlp::{OtlpConfig, TelemetryError, flush, shutdown};

/// The service name spans are exported under when neither the caller nor
/// `OTEL_SERVICE_NAME` names one.
pub const DEFAULT_SERVICE: &str = "coophub";

/// Installs the global tracing subscriber (once; later calls are no-ops), writing logs to
/// standard error, `RUST_LOG` filtering them (default `info`), and spans to OTLP when
/// OpenTelemetry's variables say so ([`otlp`]). A wrong OTLP variable is logged and nothing
/// is exported; [`init_service`] fails instead.
pub fn init(format: LogFormat) {
    if let Err(e) = init_service(format, DEFAULT_SERVICE) {
        let _ = init_with(format, &OtlpConfig::off(DEFAULT_SERVICE));
        tracing::error!(error = %e, "OpenTelemetry configuration refused: spans are not exported");
    }
}

/// Like [`init`], exporting as `default_service` unless `OTEL_SERVICE_NAME` says otherwise;
/// a wrong OTLP variable is an error naming it.
pub fn init_service(format: LogFormat, default_service: &str) -> Result<(), TelemetryError> {
    init_with(format, &OtlpConfig::from_env(default_service)?)
}

/// Installs the subscriber with `otlp` as the span export (tests point it at their own
/// collector). Once per process: a later call changes nothing.
pub fn init_with(format: LogFormat, otlp: &OtlpConfig) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // standard error: standard output is for what a command prints (`hub definitions >
    // definitions.json`, `hub snapshot export`, the demo's table)
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(true);
    let logs = match format {
        LogFormat::Human => logs.boxed(),
        LogFormat::Json => logs.json().flatten_event(true).boxed(),
    };
    let provider = otlp::provider(otlp)?;
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(otlp::layer(provider))
        .try_init();
    Ok(())
}

/// Labels of per-queue metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
    pub outcome: String,
}

/// Labels of per-exchange metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeLabels {
    pub exchange: String,
}

/// The runtime's metric families, registered in a shared [`Registry`].
#[derive(Clone)]
pub struct Metrics {
    pub registry: Arc<Mutex<Registry>>,
    /// Deliveries handled, by queue and outcome (`ok`, `duplicate`, `retry`, `dead_letter`).
    pub consumed: Family<QueueLabels, Counter>,
    /// Messages confirmed by the broker, by exchange.
    pub published: Family<ExchangeLabels, Counter>,
    /// Outbox rows waiting to be published.
    pub outbox_pending: Gauge,
    /// Broker connections (re)established.
    pub reconnects: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("coophub");
        let consumed = Family::<QueueLabels, Counter>::default();
        let published = Family::<ExchangeLabels, Counter>::default();
        let outbox_pending = Gauge::default();
        let reconnects = Counter::default();
        registry.register("messages_consumed", "Deliveries handled", consumed.clone());
        registry.register(
            "messages_published",
            "Messages confirmed by the broker",
            published.clone(),
        );
        registry.register(
            "outbox_pending",
            "Outbox rows not yet published",
            outbox_pending.clone(),
        );
        registry.register(
            "broker_connections",
            "Broker connections established",
            reconnects.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            consumed,
            published,
            outbox_pending,
            reconnects,
        }
    }

    /// Registers a service's own metric.
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        if let Ok(mut r) = self.registry.lock() {
            r.register(name, help, metric);
        }
    }

    /// The registry in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Ok(r) = self.registry.lock() {
            let _ = prometheus_client::encoding::text::encode(&mut out, &r);
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// A W3C trace context (`traceparent`): the trace id follows a record through every service,
/// each hop gets a new span id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: String,
    pub span_id: String,
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace.
    pub fn new_root() -> Self {
        let mut rng = rand::rng();
        let mut t = [0u8; 16];
        let mut s = [0u8; 8];
        rng.fill_bytes(&mut t);
        rng.fill_bytes(&mut s);
        Self {
            trace_id: hex(&t),
            span_id: hex(&s),
            sampled: true,
        }
    }

    /// Parses a `traceparent` value; None when it is not version 00 of the W3C format.
    pub fn parse(value: &str) -> Option<Self> {
        let parts: Vec<&str> = value.trim().split('-').collect();
        let [version, trace, span, flags] = parts.as_slice() else {
            return None;
        };
        let is_hex = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_hexdigit());
        if *version != "00" || !is_hex(trace, 32) || !is_hex(span, 16) || !is_hex(flags, 2) {
            return None;
        }
        if trace.chars().all(|c| c == '0') || span.chars().all(|c| c == '0') {
            return None;
        }
        Some(Self {
            trace_id: trace.to_ascii_lowercase(),
            span_id: span.to_ascii_lowercase(),
            sampled: u8::from_str_radix(flags, 16)
                .map(|f| f & 1 == 1)
                .unwrap_or(false),
        })
    }

    /// The context of `span` (`None` when the OpenTelemetry layer does not see it).
    pub fn of(span: &tracing::Span) -> Option<Self> {
        propagation::traceparent(span).and_then(|t| Self::parse(&t))
    }

    /// A child span of the same trace.
    pub fn child(&self) -> Self {
        let mut s = [0u8; 8];
        rand::rng().fill_bytes(&mut s);
        Self {
            trace_id: self.trace_id.clone(),
            span_id: hex(&s),
            sampled: self.sampled,
        }
    }

    /// Continues `parent` if given and valid, else starts a new trace.
    pub fn continue_or_new(parent: Option<&str>) -> Self {
        parent
            .and_then(Self::parse)
            .map(|p| p.child())
            .unwrap_or_else(Self::new_root)
    }

    pub fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            self.trace_id,
            self.span_id,
            if self.sampled { "01" } else { "00" }
        )
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trip_and_child_keeps_trace() {
        let root = TraceContext::new_root();
        let parsed = TraceContext::parse(&root.header()).expect("valid");
        assert_eq!(parsed, root);
        let child = root.child();
        assert_eq!(child.trace_id, root.trace_id);
        assert_ne!(child.span_id, root.span_id);
        assert!(TraceContext::parse("00-xyz-1-01").is_none());
        assert!(
            TraceContext::parse("00-00000000000000000000000000000000-0000000000000001-01")
                .is_none()
        );
    }

    #[test]
    fn metrics_encode_registered_families() {
        let m = Metrics::new();
        m.published
            .get_or_create(&ExchangeLabels {
                exchange: "coophub.source".into(),
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains("coophub_messages_published_total{exchange=\"coophub.source\"} 1"),
            "{text}"
        );
    }
}

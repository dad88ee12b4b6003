//! OpenTelemetry spans: the tracer provider behind the `tracing` subscriber, exporting over
//! OTLP/HTTP (protobuf) when an endpoint is configured, and the filter that decides which
//! spans leave the process.
//!
//! Configuration is OpenTelemetry's own environment (read once, at start):
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) or `OTEL_EXPORTER_OTLP_ENDPOINT` (the
//! collector's base URL; `/v1/traces` is added), `OTEL_SERVICE_NAME`, `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_EXPORTER=none`; the exporter also reads `OTEL_EXPORTER_OTLP_HEADERS`,
//! `OTEL_EXPORTER_OTLP_TIMEOUT` and the batch processor `OTEL_BSP_*`. With no endpoint,
//! nothing is exported, but spans still get W3C ids, so that `traceparent` keeps travelling
//! through every envelope and a downstream service that exports continues the trace.
//!
//! What leaves the process: only spans (never log events) of the hub's own crates (targets
//! `hub…`), with the fields those spans declare. A span in this workspace therefore names ids,
//! types, counts and routes only: never a name, a phone or a free-text value.
//!
//! Owns the provider's life (install, flush, shut down); knows no service.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

/// Where spans go, and under which service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The OTLP/HTTP traces URL (`…/v1/traces`); `None`: nothing is exported.
    pub traces_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

/// Why telemetry could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("{variable}: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
    #[error("OTLP exporter: {0}")]
    Exporter(String),
}

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

impl OtlpConfig {
    /// Nothing exported (spans still get ids).
    pub fn off(service_name: &str) -> Self {
        Self {
            traces_endpoint: None,
            service_name: service_name.to_owned(),
        }
    }

    /// From OpenTelemetry's standard variables; `default_service` when `OTEL_SERVICE_NAME` is
    /// unset. An endpoint that is not an `http(s)://` URL is an error naming its variable.
    pub fn from_env(default_service: &str) -> Result<Self, TelemetryError> {
        Self::from_vars(default_service, |k| std::env::var(k).ok())
    }

    /// Like [`OtlpConfig::from_env`], from `var` (tests).
    pub fn from_vars(
        default_service: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TelemetryError> {
        let set = |k: &str| {
            var(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let service_name = set("OTEL_SERVICE_NAME").unwrap_or_else(|| default_service.to_owned());
        let disabled = set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
        let endpoint = if disabled {
            None
        } else if let Some(url) = set(TRACES_ENDPOINT) {
            Some((TRACES_ENDPOINT, url))
        } else {
            set(ENDPOINT).map(|base| {
                (
                    ENDPOINT,
                    format!("{}/v1/traces", base.trim_end_matches('/')),
                )
            })
        };
        if let Some((variable, url)) = &endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(TelemetryError::Invalid {
                variable,
                reason: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        Ok(Self {
            traces_endpoint: endpoint.map(|(_, url)| url),
            service_name,
        })
    }
}

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The most links a span keeps. A batch consumer's span links to every message of its batch,
/// and a batch may hold up to `BATCH_SIZE` (a `u16`) messages: the SDK's default of 128
/// silently dropped the links past the 128th of a larger batch.
pub const MAX_LINKS_PER_SPAN: u32 = u16::MAX as u32;

/// The tracer provider of `config` (exporting in batches when it names an endpoint).
pub(crate) fn provider(config: &OtlpConfig) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_max_links_per_span(MAX_LINKS_PER_SPAN);
    if let Some(url) = &config.traces_endpoint {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        builder = builder.with_batch_exporter(exporter);
    }
    Ok(builder.build())
}

/// The `tracing` layer that turns the hub's spans into OpenTelemetry spans of `provider`,
/// registered as the process's provider (for [`flush`] and [`shutdown`]); a second call
/// keeps the first provider.
pub(crate) fn layer<S>(
    provider: SdkTracerProvider,
) -> Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
    HubSpans,
    S,
>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let layer = layer_of(&provider);
    let _ = PROVIDER.set(provider);
    layer
}

/// The layer of [`layer`], over `provider` (not registered).
fn layer_of<S>(
    provider: &SdkTracerProvider,
) -> Filtered<
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::SdkTracer>,
    HubSpans,
    S,
>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("coophub"))
        .with_tracked_inactivity(false)
        .with_filter(HubSpans)
}

/// Which spans leave the process: spans (log events may carry what a span must not) of the
/// hub's crates (targets `hub…`).
///
/// Asked at every span, never answered once per callsite (`Interest::sometimes`, not
/// `always`): a per-layer filter's decision reaches the layer through a thread-local that
/// the dispatcher's `enabled` writes just before the span is made. A callsite every layer
/// always wants skips `enabled`, and the span then reads what the last `enabled` on that
/// thread left, for other metadata: after sqlx's query logger asked whether its event is
/// enabled (this layer says no to events), the next hub span was silently dropped from this
/// layer, and never exported (tokio-rs/tracing#2519). With the log layer also at `info`, an
/// adapter's `sync` span and now and then a record's consumer span were lost so.
#[derive(Debug, Clone, Copy)]
pub struct HubSpans;

impl HubSpans {
    fn wants(meta: &Metadata<'_>) -> bool {
        meta.is_span() && meta.target().starts_with("hub")
    }
}

impl<S> Filter<S> for HubSpans {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        Self::wants(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if Self::wants(meta) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }
}

/// Exports every span ended so far (blocks until the exporter answered; a no-op when
/// nothing is exported). For tests and for the end of a process.
pub fn flush() -> Result<(), TelemetryError> {
    match PROVIDER.get() {
        Some(p) => p
            .force_flush()
            .map_err(|e| TelemetryError::Exporter(e.to_string())),
        None => Ok(()),
    }
}

/// Exports what is left and stops the exporter (at the end of `main`).
pub fn shutdown() {
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown_with_timeout(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<OtlpConfig, TelemetryError> {
        OtlpConfig::from_vars("hub-test", |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn off_unless_an_endpoint_is_set() {
        let c = config(&[]).expect("valid");
        assert_eq!(c.traces_endpoint, None);
        assert_eq!(c.service_name, "hub-test");
        let c = config(&[
            (ENDPOINT, "http://collector:4318/"),
            ("OTEL_SERVICE_NAME", "x"),
        ])
        .expect("valid");
        assert_eq!(
            c.traces_endpoint.as_deref(),
            Some("http://collector:4318/v1/traces")
        );
        assert_eq!(c.service_name, "x");
        let c = config(&[
            (ENDPOINT, "http://collector:4318"),
            (TRACES_ENDPOINT, "https://t/v1/traces"),
        ])
        .expect("valid");
        assert_eq!(c.traces_endpoint.as_deref(), Some("https://t/v1/traces"));
        let c =
            config(&[(ENDPOINT, "http://c:4318"), ("OTEL_SDK_DISABLED", "true")]).expect("valid");
        assert_eq!(c.traces_endpoint, None);
    }

    #[test]
    fn a_span_keeps_a_link_to_every_message_of_the_largest_batch() {
        use opentelemetry::trace::{
            Span as _, SpanContext, SpanId, TraceFlags, TraceId, TraceState, Tracer as _,
        };
        let provider = provider(&OtlpConfig::off("hub-test")).expect("provider");
        let mut span = provider.tracer("test").start("process_batch");
        let batch = usize::from(u16::MAX);
        for i in 1..=batch {
            let sc = SpanContext::new(
                TraceId::from(i as u128),
                SpanId::from(i as u64),
                TraceFlags::SAMPLED,
                true,
                TraceState::default(),
            );
            span.add_link(sc, Vec::new());
        }
        let data = span.exported_data().expect("a recorded span");
        assert_eq!(data.links.links.len(), batch);
        assert_eq!(data.links.dropped_count, 0);
    }

    /// Collects the names of the spans exported.
    #[derive(Debug, Clone, Default)]
    struct Names(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl opentelemetry_sdk::trace::SpanExporter for Names {
        fn export(
            &self,
            batch: Vec<opentelemetry_sdk::trace::SpanData>,
        ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send
        {
            if let Ok(mut names) = self.0.lock() {
                names.extend(batch.into_iter().map(|s| s.name.into_owned()));
            }
            std::future::ready(Ok(()))
        }
    }

    #[test]
    fn a_hub_span_is_exported_after_an_event_only_the_log_layer_wants_was_asked_about() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let names = Names::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(names.clone())
            .build();
        // the log layer at `info`, as `telemetry::init_with` sets it up, beside this one
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::sink)
                    .with_filter(tracing_subscriber::EnvFilter::new("info")),
            )
            .with(layer_of(&provider));
        tracing::subscriber::with_default(subscriber, || {
            for i in 0..3 {
                // what sqlx's query logger does after each query: asks, logs nothing
                let _ = tracing::enabled!(target: "sqlx::query", tracing::Level::INFO);
                tracing::info_span!(target: "hub_runtime::test", "after_a_query", i)
                    .in_scope(|| {});
            }
        });
        provider.force_flush().expect("flushed");
        let names = names.0.lock().expect("names").clone();
        assert_eq!(names, vec!["after_a_query"; 3]);
    }

    #[test]
    fn a_bad_endpoint_names_its_variable() {
        let e = config(&[(ENDPOINT, "collector:4318")]).expect_err("not a URL");
        assert!(e.to_string().starts_with(ENDPOINT), "{e}");
    }
}

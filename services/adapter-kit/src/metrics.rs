//! The adapter's metrics, registered in the runtime's [`Metrics`] registry (so `/metrics`
//! serves them), labelled by `system`:
//!
//! | metric | meaning |
//! |---|---|
//! | `coophub_adapter_records_read_total` | raw records read from the source |
//! | `coophub_adapter_records_published_total` | records published (broker-confirmed) |
//! | `coophub_adapter_records_skipped_unchanged_total` | records whose content hash was already committed |
//! | `coophub_adapter_records_invalid_total` | records that could not form a contract |
//! | `coophub_adapter_field_issues_total` | invalid or doubtful values flagged in `meta.issues` |
//! | `coophub_adapter_errors_total` | failed checks and syncs |
//! | `coophub_adapter_pages_committed_total` | pages confirmed and committed |
//! | `coophub_adapter_lag_seconds` | now − the committed watermark's timestamp |
//! | `coophub_adapter_last_success_timestamp_seconds` | end of the last successful sync (Unix time) |
//!
//! Owns only these families.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use hub_runtime::telemetry::Metrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SystemLabels {
    pub system: String,
}

/// The adapter metric families and this adapter's label.
#[derive(Clone)]
pub struct AdapterMetrics {
    labels: SystemLabels,
    read: Family<SystemLabels, Counter>,
    published: Family<SystemLabels, Counter>,
    skipped: Family<SystemLabels, Counter>,
    invalid: Family<SystemLabels, Counter>,
    issues: Family<SystemLabels, Counter>,
    errors: Family<SystemLabels, Counter>,
    pages: Family<SystemLabels, Counter>,
    lag: Family<SystemLabels, Gauge>,
    last_success: Family<SystemLabels, Gauge>,
}

impl AdapterMetrics {
    /// Registers the families in `metrics` for `system`.
    pub fn register(metrics: &Metrics, system: &str) -> Self {
        let m = Self {
            labels: SystemLabels {
                system: system.to_owned(),
            },
            read: Family::default(),
            published: Family::default(),
            skipped: Family::default(),
            invalid: Family::default(),
            issues: Family::default(),
            errors: Family::default(),
            pages: Family::default(),
            lag: Family::default(),
            last_success: Family::default(),
        };
        metrics.register(
            "adapter_records_read",
            "Raw records read from the source",
            m.read.clone(),
        );
        metrics.register(
            "adapter_records_published",
            "Source records published and confirmed by the broker",
            m.published.clone(),
        );
        metrics.register(
            "adapter_records_skipped_unchanged",
            "Records whose content was already published",
            m.skipped.clone(),
        );
        metrics.register(
            "adapter_records_invalid",
            "Records that could not form a contract",
            m.invalid.clone(),
        );
        metrics.register(
            "adapter_field_issues",
            "Invalid or doubtful values flagged in meta.issues",
            m.issues.clone(),
        );
        metrics.register(
            "adapter_errors",
            "Failed checks and syncs",
            m.errors.clone(),
        );
        metrics.register(
            "adapter_pages_committed",
            "Pages confirmed by the broker and committed",
            m.pages.clone(),
        );
        metrics.register(
            "adapter_lag_seconds",
            "Now minus the committed watermark's timestamp",
            m.lag.clone(),
        );
        metrics.register(
            "adapter_last_success_timestamp_seconds",
            "When the last successful sync ended (Unix time)",
            m.last_success.clone(),
        );
        m
    }

    /// Metrics in a registry of their own (tests, tools).
    pub fn standalone(system: &str) -> Self {
        Self::register(&Metrics::new(), system)
    }

    pub(crate) fn add_read(&self, n: u64) {
        self.read.get_or_create(&self.labels).inc_by(n);
    }
    pub(crate) fn add_published(&self, n: u64) {
        self.published.get_or_create(&self.labels).inc_by(n);
    }
    pub(crate) fn add_skipped(&self, n: u64) {
        self.skipped.get_or_create(&self.labels).inc_by(n);
    }
    pub(crate) fn add_invalid(&self, n: u64) {
        self.invalid.get_or_create(&self.labels).inc_by(n);
    }
    pub(crate) fn add_issues(&self, n: u64) {
        self.issues.get_or_create(&self.labels).inc_by(n);
    }
    pub(crate) fn add_error(&self) {
        self.errors.get_or_create(&self.labels).inc();
    }
    pub(crate) fn add_page(&self) {
        self.pages.get_or_create(&self.labels).inc();
    }
    pub(crate) fn set_lag(&self, seconds: i64) {
        self.lag.get_or_create(&self.labels).set(seconds.max(0));
    }
    pub(crate) fn set_last_success(&self, unix: i64) {
        self.last_success.get_or_create(&self.labels).set(unix);
    }

    /// Sync and check errors counted so far.
    pub fn errors(&self) -> u64 {
        self.errors.get_or_create(&self.labels).get()
    }
}

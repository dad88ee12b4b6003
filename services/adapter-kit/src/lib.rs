//! # hub-adapter-kit: what every source adapter needs
//!
//! A source adapter is, Vector-style, a config type plus one build function returning a
//! [`Source`]: its settings implement [`SourceConfig`] (their rules, how it runs) and, for a
//! pull source, [`PullConfig`] (the build function, the poll interval, the acceptance
//! credential); this crate does the rest over the shared runtime, loading and validating
//! the settings included:
//!
//! | module | owns |
//! |---|---|
//! | [`http`] | the reqwest client: timeouts, retries (429 `Retry-After`, 5xx, connection errors, garbage bodies) with the runtime's `Backoff`, API key / Basic / OAuth2 client-credentials auth |
//! | [`checkpoint`] | the adapter's state in PostgreSQL: compound watermark, content hashes, markers |
//! | [`source`] | the [`Source`] trait, the page protocol ([`SyncContext`]) and the [`SyncEngine`] |
//! | [`mapping`] | reading raw fields into contracts, flagging what is wrong in `meta.issues` |
//! | [`metrics`] | records read / published / skipped / invalid, errors, lag |
//! | [`registration`] | [`Registration`]: what the `hub` binary needs of a source, from the source's crate; its generic `run`, `run_with` and pull `acceptance` |
//! | [`runner`] | [`run`]: the service (checks, poll schedule, ops routes, graceful shutdown); [`PullConfig`] and [`run_pull`]: a pull source run from its settings |
//! | [`config`] | [`SourceConfig`]: an adapter's settings loaded (environment or variables given) and validated in one place; [`Secret`] and lenient readers for environment values |
//! | [`conformance`] | the acceptance kit against an integrator's own server or files (`hub acceptance`) |
//! | [`file`] | files as a source kind: workbooks (XLSX, CSV) uploaded, read into rows, diffed against the sender's roster, retractions, audit of every upload, the upload API |
//! | `acceptance` | (feature `acceptance`) the acceptance test kit every adapter runs |
//!
//! Delivery guarantee: a page's records are published with confirms, then their content
//! hashes and the watermark are committed in one transaction. Nothing is lost; a crash
//! between confirm and commit republishes records under the same deterministic message ids.
//!
//! This crate may not know any one source system's API or record format (those live in the
//! `hub-adapter-*` crates), and it never writes outside its adapter's schema.

pub mod checkpoint;
pub mod config;
pub mod conformance;
pub mod error;
pub mod file;
pub mod http;
pub mod mapping;
pub mod metrics;
pub mod registration;
pub mod runner;
pub mod source;

#[cfg(feature = "acceptance")]
pub mod acceptance;

pub use checkpoint::{MIGRATOR, Store, Watermark, schema_for};
pub use config::{Secret, SourceConfig};
pub use error::{Invalid, SourceError};
pub use http::{Auth, HttpClient, HttpSettings, WithRaw};
pub use mapping::FieldReader;
pub use metrics::AdapterMetrics;
pub use registration::{
    Agency, Deploy, Registration, Setting, SourceInfo, SourceNames, Value as SettingValue,
};
pub use runner::{AdapterError, PullConfig, RunSettings, run, run_pull};
pub use source::{PageEvent, PageHook, Source, SyncContext, SyncEngine, SyncReport};

//! A source's registration: what the `hub` binary needs of a source, given by the source's
//! own crate as one value (`hub_adapter_<system>::REGISTRATION`) and listed once, in
//! `hub::sources`. From it the binary gets `hub adapter <system>`, `hub upload <system>` (a
//! file source), and the RabbitMQ user of the adapter in the generated definitions.
//!
//! Owns the shape of a registration only.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use tokio_util::sync::CancellationToken;

use crate::file::UploadReport;
use crate::runner::AdapterError;

/// A boxed future the registration's functions return.
pub type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Any error of an upload from the command line (reading files, configuration, ingest).
pub type UploadError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a source until shutdown.
pub type RunFn = fn(CancellationToken) -> Boxed<Result<(), AdapterError>>;

/// Uploads files (paths) as the named uploader.
pub type UploadFn = fn(Vec<PathBuf>, String) -> Boxed<Result<UploadReport, UploadError>>;

/// What the `hub` binary needs of one source.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The system's name (`SourceRef.system`, `hub adapter <system>`).
    pub system: &'static str,
    /// One line for `hub --help`.
    pub about: &'static str,
    /// Reads the adapter's configuration from the environment and runs it until shutdown.
    pub run: RunFn,
    /// A file source: uploads files as the named uploader (`hub upload <system> FILE…`).
    pub upload: Option<UploadFn>,
}

impl Registration {
    /// The adapter's RabbitMQ user: `svc-adapter-<system>`.
    pub fn service_user(&self) -> String {
        format!("svc-adapter-{}", self.system)
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("system", &self.system)
            .field("file_source", &self.upload.is_some())
            .finish()
    }
}

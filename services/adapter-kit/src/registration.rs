//! A source's registration: everything the rest of the hub needs of a source, given by the
//! source's own crate as one value (`hub_adapter_<system>::REGISTRATION`) and listed once, in
//! `hub::sources`. From it come `hub adapter <system>`, `hub upload <system>` (a file
//! source), `hub acceptance <system>`, the adapter's RabbitMQ user in the generated
//! definitions, and its service, broker user, database role and settings in the generated
//! deployment files (`hub deploy-files`: compose, Kubernetes, the secrets and roles scripts),
//! its agency's push user and entitlements (when its agency pushes), the console's upload
//! page (a file source), the report's name of its agency, and its place in the in-process
//! pipeline (`hub demo`, the end-to-end tests), through [`Registration::info`] and
//! [`Registration::run_with`].
//!
//! A source's `run`, `run_with` and (a pull source's) `acceptance` are the generic
//! [`run_from_env`], [`run_with`] and [`pull_acceptance`] over its settings type.
//!
//! Owns the shape of a registration and the names derived from a system's name only.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use hub_runtime::CommonConfig;
pub use hub_runtime::sources::{Agency, SourceInfo, SourceNames};
use tokio_util::sync::CancellationToken;

use crate::config::SourceConfig;
use crate::conformance::{AcceptanceError, AcceptanceReport};
use crate::file::{UploadReport, UploadStep};
use crate::runner::{AdapterError, PullConfig};

/// A boxed future the registration's functions return.
pub type Boxed<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Any error of an upload from the command line (reading files, configuration, ingest).
pub type UploadError = Box<dyn std::error::Error + Send + Sync>;

/// Runs a source until shutdown.
pub type RunFn = fn(CancellationToken) -> Boxed<Result<(), AdapterError>>;

/// Runs a source until shutdown with the common settings and the source's own variables
/// given (name → value, as the environment would give them), not read from the environment:
/// the in-process pipeline runs every source this way.
pub type RunWithFn = fn(
    CommonConfig,
    BTreeMap<String, String>,
    CancellationToken,
) -> Boxed<Result<(), AdapterError>>;

/// Told each step of a running upload (`hub upload`'s progress bar).
pub type ProgressFn = std::sync::Arc<dyn Fn(UploadStep) + Send + Sync>;

/// Uploads files (paths) as the named uploader, telling the progress callback each step.
pub type UploadFn =
    fn(Vec<PathBuf>, String, ProgressFn) -> Boxed<Result<UploadReport, UploadError>>;

/// Runs the acceptance kit against the source's own server (configured as for `run`, from
/// the environment) or, for a file source, against the files given (`hub acceptance`).
pub type AcceptanceFn = fn(Vec<PathBuf>) -> Boxed<Result<AcceptanceReport, AcceptanceError>>;

/// [`Registration::run`] of a source whose settings are `C`: reads them from the
/// environment and runs the adapter until shutdown.
pub fn run_from_env<C: SourceConfig>(
    shutdown: CancellationToken,
) -> Boxed<Result<(), AdapterError>> {
    Box::pin(async move { C::from_env()?.run(shutdown).await })
}

/// [`Registration::run_with`] of a source whose settings are `C`: the same with the
/// settings given ([`RunWithFn`]).
pub fn run_with<C: SourceConfig>(
    common: CommonConfig,
    variables: BTreeMap<String, String>,
    shutdown: CancellationToken,
) -> Boxed<Result<(), AdapterError>> {
    Box::pin(async move { C::from_settings(common, &variables)?.run(shutdown).await })
}

/// [`Registration::acceptance`] of a pull source whose settings are `C`: the acceptance kit
/// against the server its settings from the environment name.
pub fn pull_acceptance<C: PullConfig>(
    _files: Vec<PathBuf>,
) -> Boxed<Result<AcceptanceReport, AcceptanceError>> {
    Box::pin(crate::conformance::pull_from_env::<C>())
}

/// What the `hub` binary needs of one source.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The system's name (`SourceRef.system`, `hub adapter <system>`).
    pub system: &'static str,
    /// One line for `hub --help` (and a comment above its service in the deployment files).
    pub about: &'static str,
    /// The agency behind it, as the provincial report names it (Vietnamese, English).
    pub names: SourceNames,
    /// Its agency also pushes its records (hub-inbound): the user `agency-<system>`, its
    /// entitlements and broker permissions; `None` when it does not.
    pub agency: Option<Agency>,
    /// The contract types its records are published as (`source.*`).
    pub contracts: &'static [&'static str],
    /// Reads the adapter's configuration from the environment and runs it until shutdown.
    pub run: RunFn,
    /// The same with the settings given ([`RunWithFn`]).
    pub run_with: RunWithFn,
    /// A file source: uploads files as the named uploader (`hub upload <system> FILE…`).
    pub upload: Option<UploadFn>,
    /// The acceptance kit against an integrator's server or files (`hub acceptance`).
    pub acceptance: AcceptanceFn,
    /// Its settings in the deployment files.
    pub deploy: Deploy,
}

/// How a source's adapter is deployed, beyond what every adapter gets (its broker user,
/// database role and schema, `SERVICE_TOKENS`, the console's `ADAPTER_URLS` entry).
#[derive(Debug, Clone, Copy)]
pub struct Deploy {
    /// Its own settings (the agency system's address and credentials, …).
    pub settings: &'static [Setting],
    /// In compose its agency system is the simulators' (the service waits for them).
    pub simulated: bool,
}

/// One setting of an adapter: its variable and its value in each deployment.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The environment variable (`COOP_ALLIANCE_URL`).
    pub name: &'static str,
    /// Its value in `docker-compose.yml`.
    pub compose: Value,
    /// Its value in `deploy/kubernetes/hub.yaml`.
    pub kubernetes: Value,
}

/// Where a setting's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// Written in the file (compose: the service's environment; Kubernetes: the ConfigMap).
    Plain(&'static str),
    /// A secret under the setting's name: compose reads it from `.env` (made at random by
    /// `deploy/gen-secrets.sh`), Kubernetes from the Secret `coophub`.
    Secret,
}

impl Registration {
    /// The adapter's RabbitMQ user: `svc-adapter-<system>`.
    pub fn service_user(&self) -> String {
        format!("svc-adapter-{}", self.system)
    }

    /// The adapter's PostgreSQL role: `svc_adapter_<system>` (`-` as `_`).
    pub fn database_role(&self) -> String {
        format!("svc_adapter_{}", self.system.replace('-', "_"))
    }

    /// The adapter's schema: `adapter_<system>` (`-` as `_`).
    pub fn schema(&self) -> String {
        crate::checkpoint::schema_for(self.system)
    }

    /// The system's name in variable names: `COOP_ALLIANCE`.
    pub fn env_name(&self) -> String {
        self.system.replace('-', "_").to_ascii_uppercase()
    }

    /// The adapter's service (compose) and Deployment (Kubernetes): `adapter-<system>`.
    pub fn service_name(&self) -> String {
        format!("adapter-{}", self.system)
    }

    /// Whether it is a file source.
    pub fn is_file_source(&self) -> bool {
        self.upload.is_some()
    }

    /// What the services need to know of it, as data.
    pub fn info(&self) -> SourceInfo {
        SourceInfo {
            system: self.system,
            names: self.names,
            contracts: self.contracts,
            file_source: self.is_file_source(),
            agency: self.agency,
        }
    }
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("system", &self.system)
            .field("contracts", &self.contracts)
            .field("file_source", &self.upload.is_some())
            .finish()
    }
}

//! # hub-adapter-farmers-union: the Farmers' Union's workbooks
//!
//! The Union has no API: its provincial union (`12` for Lai Châu) and its district unions send
//! workbooks (`shared/sources/farmers-union.md`), one XLSX or one CSV file per sheet, each its
//! sender's full roster as of its report date. The senders are those of every province loaded
//! (`REFERENCE_DIRS`): each province's union and its districts'. This crate reads them ([`read`]) into
//! `source.fu_branch.v1`, `source.fu_officer.v1` and `source.fu_training.v1`; the adapter
//! kit's file source kind (`hub_adapter_kit::file`) does the rest: dedup by file hash,
//! retraction of rows a sender no longer lists, publishing with confirms, the audit of every
//! upload, the upload API.
//!
//! Ways in, all through [`hub_adapter_kit::file::FileIngest::upload`]:
//! - `hub upload farmers-union FILE…` ([`upload_files`], with `DATABASE_URL` and `AMQP_URL`);
//! - `POST /api/v1/upload?file=NAME.xlsx` on `hub adapter farmers-union` ([`run`]), with a
//!   bearer token of `FARMERS_UNION_UPLOAD_TOKENS` (an uploader's name is what the audit
//!   keeps) or the console's service credential naming its operator.
//!
//! ## Configuration (environment variables, or keys of the `HUB_CONFIG` file)
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `FARMERS_UNION_UPLOAD_TOKENS` | `name:sender=token,…`: uploaders of the HTTP endpoint (tokens ≥ 32 characters), each confined to its sender's workbooks (`union-106:106=…`; `name:*=…` for any sender) | none |
//! | `SERVICE_TOKENS` | tokens the console may upload with (naming its operator) | none |
//! | `FARMERS_UNION_MAX_UPLOAD_BYTES` | most bytes one upload may have | 10485760 |
//!
//! plus the runtime's (`AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, …). State
//! lives in the schema `adapter_farmers_union` (`file_rows`, `file_uploads`).
//!
//! This crate knows only the Union's workbook; it may not touch another system's data or
//! any schema but its own.

pub mod read;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use hub_adapter_kit::file::{
    self, FileError, FileIngest, FileRecord, FileSettings, FileSource, Records, UploadAuth,
    UploadFile, UploadReport, Workbook,
};
use hub_adapter_kit::{AdapterError, Invalid, SourceConfig};
use hub_contracts::v1::Workbook as WorkbookRef;
use hub_runtime::service_auth::ServiceTokens;
use hub_runtime::{CommonConfig, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The system's name in source references.
pub const SYSTEM: &str = "farmers-union";

/// The contract types this source publishes.
pub const CONTRACT_TYPES: [&str; 3] = [
    <hub_contracts::v1::FuBranch as hub_contracts::Contract>::TYPE,
    <hub_contracts::v1::FuOfficer as hub_contracts::Contract>::TYPE,
    <hub_contracts::v1::FuTraining as hub_contracts::Contract>::TYPE,
];

/// The adapter's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(skip)]
    pub common: CommonConfig,
    /// `FARMERS_UNION_UPLOAD_TOKENS`: `name:sender=token,…` (`name:*=token`: any sender).
    #[serde(deserialize_with = "hub_adapter_kit::config::lenient_string")]
    pub farmers_union_upload_tokens: String,
    /// `SERVICE_TOKENS`: the console's credential.
    pub service_tokens: ServiceTokens,
    /// `FARMERS_UNION_MAX_UPLOAD_BYTES`.
    pub farmers_union_max_upload_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            farmers_union_upload_tokens: String::new(),
            service_tokens: ServiceTokens::default(),
            farmers_union_max_upload_bytes: file::DEFAULT_MAX_UPLOAD_BYTES,
        }
    }
}

impl SourceConfig for Config {
    fn common_mut(&mut self) -> &mut CommonConfig {
        &mut self.common
    }

    async fn run(self, shutdown: CancellationToken) -> Result<(), AdapterError> {
        run(self, shutdown).await
    }

    /// Checks what serde cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100 * 1024 * 1024).contains(&self.farmers_union_max_upload_bytes) {
            return Err(ConfigError::invalid(
                "FARMERS_UNION_MAX_UPLOAD_BYTES",
                "expected 1 to 104857600",
            ));
        }
        self.service_tokens.validate(false)?;
        self.auth().map(|_| ())
    }
}

impl Config {
    /// Who may upload over HTTP.
    pub fn auth(&self) -> Result<UploadAuth, ConfigError> {
        UploadAuth::parse(
            "FARMERS_UNION_UPLOAD_TOKENS",
            &self.farmers_union_upload_tokens,
            self.service_tokens.clone(),
        )
    }
}

/// This source, for the `hub` binary's one list of sources (`hub::sources`): its run, its
/// uploads, its acceptance against an integrator's files (`hub acceptance`), its deployment.
pub const REGISTRATION: hub_adapter_kit::Registration = hub_adapter_kit::Registration {
    system: SYSTEM,
    names: hub_adapter_kit::SourceNames {
        vi: "Hội Nông dân tỉnh",
        en: "Provincial Farmers' Union",
    },
    // the Union uploads workbooks; it has no push user
    agency: None,
    about: "the Farmers' Union's workbooks: the upload API (POST /api/v1/upload)",
    contracts: &CONTRACT_TYPES,
    run: hub_adapter_kit::registration::run_from_env::<Config>,
    run_with: hub_adapter_kit::registration::run_with::<Config>,
    upload: Some(|files, uploaded_by, progress| {
        Box::pin(async move {
            let config = Config::from_env()?;
            Ok(upload_files(config, &files, &uploaded_by, &*progress).await?)
        })
    }),
    acceptance: |files| {
        Box::pin(async move {
            let config = Config::from_env()?;
            hub_adapter_kit::conformance::file(
                FarmersUnion,
                &CONTRACT_TYPES,
                decode,
                &files,
                config.farmers_union_max_upload_bytes,
            )
            .await
        })
    },
    // no agency system to reach: uploads only (FARMERS_UNION_UPLOAD_TOKENS is set per
    // deployment, for the district unions' scripts)
    deploy: hub_adapter_kit::Deploy {
        settings: &[],
        simulated: false,
    },
};

/// Whether an envelope decodes as the Union's contract it names (the acceptance kit).
fn decode(e: &hub_contracts::RawEnvelope) -> Result<(), String> {
    use hub_contracts::Contract;
    use hub_contracts::v1::{FuBranch, FuOfficer, FuTraining};
    let e = e.clone();
    match e.ty.as_str() {
        FuBranch::TYPE => e.decode::<FuBranch>().map(drop),
        FuOfficer::TYPE => e.decode::<FuOfficer>().map(drop),
        FuTraining::TYPE => e.decode::<FuTraining>().map(drop),
        other => return Err(format!("{other} is no contract of {SYSTEM}")),
    }
    .map_err(|e| e.to_string())
}

/// The Union's workbooks as a file source.
#[derive(Debug, Clone, Default)]
pub struct FarmersUnion;

impl FileSource for FarmersUnion {
    fn system(&self) -> &str {
        SYSTEM
    }

    fn workbook(&self, book: &Workbook, content_hash: &str) -> Result<WorkbookRef, FileError> {
        read::header(book, content_hash)
    }

    fn records(
        &self,
        book: &Workbook,
        batch: &WorkbookRef,
        held: &BTreeSet<String>,
    ) -> Result<Records, FileError> {
        read::records(book, batch, held)
    }

    fn retract(
        &self,
        contract_type: &str,
        last: &Value,
        by: &WorkbookRef,
    ) -> Result<FileRecord, Invalid> {
        read::retract(contract_type, last, by)
    }
}

/// Runs the upload service until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), AdapterError> {
    let settings = FileSettings {
        max_upload_bytes: config.farmers_union_max_upload_bytes,
        auth: config.auth()?,
    };
    file::run(FarmersUnion, config.common, settings, shutdown).await
}

/// Why `hub upload` could not upload.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes, at most {max} accepted")]
    TooLarge { path: String, size: u64, max: usize },
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error(transparent)]
    Ingest(#[from] file::IngestError),
}

/// `hub upload farmers-union FILE…`: reads the files (size-limited) and uploads them as
/// `uploaded_by`, through the same ingest as the HTTP endpoint, telling `progress` each step.
pub async fn upload_files(
    config: Config,
    paths: &[impl AsRef<Path>],
    uploaded_by: &str,
    progress: file::UploadProgress<'_>,
) -> Result<UploadReport, UploadError> {
    let max = config.farmers_union_max_upload_bytes;
    let mut files = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let path = p.display().to_string();
        let size = std::fs::metadata(p)
            .map_err(|source| UploadError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        if size > max as u64 {
            return Err(UploadError::TooLarge { path, size, max });
        }
        let bytes = std::fs::read(p).map_err(|source| UploadError::Read {
            path: path.clone(),
            source,
        })?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(path);
        files.push(UploadFile { name, bytes });
    }
    let shutdown = CancellationToken::new();
    let ctx = file::context(SYSTEM, config.common, shutdown).await?;
    let ingest = FileIngest::new(FarmersUnion, ctx.db.clone(), ctx.publisher.clone(), max);
    let report = ingest
        .upload_with_progress(&files, uploaded_by, progress)
        .await;
    ctx.broker.close().await;
    Ok(report?)
}

/// An ingest over an existing database and publisher (tests, the in-process pipeline).
pub fn ingest(
    db: hub_runtime::storage::Database,
    publisher: Arc<hub_runtime::messaging::Publisher>,
    max_bytes: usize,
) -> FileIngest<FarmersUnion> {
    FileIngest::new(FarmersUnion, db, publisher, max_bytes)
}

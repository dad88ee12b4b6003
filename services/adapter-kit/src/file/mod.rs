//! Files as a source kind, beside HTTP pull: a source whose records come as workbooks (one
//! XLSX, or CSV files) that people or scripts upload, rather than pages the hub fetches.
//!
//! | module | owns |
//! |---|---|
//! | [`workbook`] | files into sheets of cells; values as people type them; [`RowError`] |
//! | [`ingest`] | [`FileSource`], and [`FileIngest`]: dedup by file hash, roster diff, retractions, publish with confirms, audit of every upload |
//! | here | the ways in over HTTP ([`upload_router`], authenticated, size-limited; its OpenAPI document [`upload_openapi`]) and [`run`], the service |
//!
//! The three ways in (the `hub upload` command, `POST /api/v1/upload`, the console's upload
//! page through that endpoint) all call [`FileIngest::upload`] (an uploader confined to its
//! sender: [`FileIngest::upload_confined`]).

pub mod ingest;
pub mod workbook;

use std::sync::Arc;

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_runtime::CommonConfig;
use hub_runtime::service::ServiceContext;
use hub_runtime::service_auth::{OPERATOR_HEADER, ServiceTokens, decode_operator};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use ingest::{
    FileIngest, FileRecord, FileSource, IngestError, Outcome, Records, UploadProgress,
    UploadReport, UploadStep, files_hash,
};
pub use workbook::{
    Cell, Columns, FileError, Row, RowError, RowReader, Sheet, UploadFile, Workbook,
};

use crate::checkpoint::{MIGRATOR, schema_for};
use crate::runner::AdapterError;

/// Default most bytes one upload may have (all its files together).
pub const DEFAULT_MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Who may upload over HTTP: named uploaders (a district union's script), each with its own
/// bearer token and the one sender whose workbooks it may send (`name:sender=token,…`;
/// `name:*=token` for an uploader that may send any sender's, such as the provincial
/// office), and the console with the service credential, naming its operator in
/// `X-Hub-Operator` (any sender: its operators are reviewers, and the console audits them).
#[derive(Debug, Clone, Default)]
pub struct UploadAuth {
    uploaders: Vec<(Uploader, ServiceTokens)>,
    console: ServiceTokens,
}

/// An authenticated uploader: its name (what the audit keeps) and the sender it is confined
/// to (`None`: any sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploader {
    pub name: String,
    pub sender: Option<String>,
}

impl UploadAuth {
    /// Parses `name:sender=token,name:*=token` (tokens of at least 32 characters) from
    /// `var`, and the console's accepted service tokens. Every uploader names its sender (or
    /// `*`): an uploader that names none is refused, so that no district's script can send
    /// another's roster by mistake of configuration.
    pub fn parse(
        var: &str,
        uploaders: &str,
        console: ServiceTokens,
    ) -> Result<Self, hub_runtime::ConfigError> {
        let mut list = Vec::new();
        for pair in uploaders
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let Some((who, token)) = pair.split_once('=') else {
                return Err(hub_runtime::ConfigError::invalid(
                    var,
                    "expected name:sender=token pairs, comma-separated",
                ));
            };
            let Some((name, sender)) = who.split_once(':') else {
                return Err(hub_runtime::ConfigError::invalid(
                    var,
                    format!(
                        "uploader {:?} names no sender: name:sender=token (the sender whose \
                         workbooks it may send), or name:*=token for any sender",
                        who.trim()
                    ),
                ));
            };
            let (name, sender) = (name.trim(), sender.trim());
            if sender.is_empty()
                || !sender
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '*')
                || (sender.contains('*') && sender != "*")
            {
                return Err(hub_runtime::ConfigError::invalid(
                    var,
                    format!("uploader {name:?}: a sender is its code (letters, digits) or *"),
                ));
            }
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(hub_runtime::ConfigError::invalid(
                    var,
                    "an uploader name is letters, digits, '-', '_' or '.'",
                ));
            }
            let token = token.trim();
            if token.len() < hub_runtime::service_auth::MIN_TOKEN_LEN {
                return Err(hub_runtime::ConfigError::invalid(
                    var,
                    format!(
                        "every token needs at least {} characters",
                        hub_runtime::service_auth::MIN_TOKEN_LEN
                    ),
                ));
            }
            let uploader = Uploader {
                name: name.to_owned(),
                sender: (sender != "*").then(|| sender.to_owned()),
            };
            list.push((uploader, ServiceTokens::new([token])));
        }
        Ok(Self {
            uploaders: list,
            console,
        })
    }

    /// True when nobody could upload over HTTP.
    pub fn is_empty(&self) -> bool {
        self.uploaders.is_empty() && self.console.is_empty()
    }

    /// The uploader a request is from, or `None` (401).
    pub fn authenticate(&self, headers: &HeaderMap) -> Option<Uploader> {
        let token = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        // every uploader is compared, so timing does not tell which one matched
        let mut found = None;
        for (uploader, tokens) in &self.uploaders {
            if tokens.accepts(token) && found.is_none() {
                found = Some(uploader.clone());
            }
        }
        if found.is_some() {
            return found;
        }
        if !self.console.is_empty() && self.console.accepts(token) {
            let operator = headers
                .get(OPERATOR_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(decode_operator)?;
            return Some(Uploader {
                name: format!("console:{operator}"),
                sender: None,
            });
        }
        None
    }
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct UploadQuery {
    /// The file's name (`.xlsx` or `.csv`).
    file: String,
}

/// The upload API's state.
pub struct Api<S: FileSource> {
    ingest: Arc<FileIngest<S>>,
    auth: UploadAuth,
}

/// `POST /api/v1/upload?file=NAME.xlsx` (the file as the body) and `GET /api/v1/uploads`
/// (the latest reports). Bearer token required (401 otherwise); a body over the ingest's
/// limit is refused 413 before it is read whole. An accepted or duplicate upload answers
/// 200 with its report, a refused one 422 with its report.
/// `GET /api/v1/openapi.json` answers the API's document ([`upload_openapi`]), with the same
/// authentication.
pub fn upload_router<S: FileSource>(ingest: Arc<FileIngest<S>>, auth: UploadAuth) -> Router {
    let limit = ingest.max_bytes();
    let api = Arc::new(Api { ingest, auth });
    upload_openapi::<S>()
        .router
        .layer(DefaultBodyLimit::max(limit))
        .with_state(api)
}

/// The upload API's routes and their OpenAPI 3.1 document (the same for every file source:
/// `contracts/openapi/hub-adapter-file.json`).
pub fn upload_openapi<S: FileSource>() -> hub_runtime::openapi::Finished<Arc<Api<S>>> {
    use hub_runtime::openapi as oa;
    const UPLOADER: &str = "uploaderToken";
    oa::finish(
        || {
            ApiRouter::new()
                .api_route(
                    "/api/v1/upload",
                    post_with(upload::<S>, |op| {
                        let op = op
                            .summary("Upload a workbook (XLSX) or a CSV file, as the body")
                            .response_with::<200, axum::Json<UploadReport>, _>(|r| {
                                r.description("Accepted, or a duplicate of an accepted upload")
                            })
                            .response_with::<422, axum::Json<UploadReport>, _>(|r| {
                                r.description("Refused; the report says why")
                            });
                        oa::media_answer(op, 413, &[], "The body is over the upload limit")
                    }),
                )
                .api_route(
                    "/api/v1/uploads",
                    get_with(recent::<S>, |op| {
                        op.summary("The latest uploads' reports, newest first")
                            .response::<200, axum::Json<Vec<UploadReport>>>()
                    }),
                )
        },
        oa::ApiInfo {
            title: "hub-adapter-file",
            description: "The upload API of a file source (the Farmers' Union's workbooks): a \
                named uploader's bearer token, or the console's service credential with the \
                operator in X-Hub-Operator.",
        },
        |t| {
            t.security_scheme(
                UPLOADER,
                aide::openapi::SecurityScheme::Http {
                    scheme: "bearer".into(),
                    bearer_format: None,
                    description: Some(
                        "An uploader's token (the source's UPLOAD_TOKENS; an uploader may \
                         send only its own sender's workbooks), or the console's service \
                         credential naming its operator in X-Hub-Operator."
                            .into(),
                    ),
                    extensions: Default::default(),
                },
            )
            .security_requirement(UPLOADER)
        },
    )
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

async fn upload<S: FileSource>(
    State(api): State<Arc<Api<S>>>,
    headers: HeaderMap,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    body: axum::body::Bytes,
) -> Response {
    let Some(uploader) = api.auth.authenticate(&headers) else {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    };
    let Ok(Query(q)) = query else {
        return error(StatusCode::BAD_REQUEST, "name the file: ?file=NAME.xlsx");
    };
    let name = q.file.rsplit(['/', '\\']).next().unwrap_or("").to_owned();
    if name.is_empty() || name.len() > 200 {
        return error(StatusCode::BAD_REQUEST, "bad file name");
    }
    let files = [UploadFile {
        name,
        bytes: body.to_vec(),
    }];
    match api
        .ingest
        .upload_confined(&files, &uploader.name, uploader.sender.as_deref())
        .await
    {
        Ok(report) => {
            let status = if report.outcome == Outcome::Refused {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            (status, axum::Json(report)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "upload failed; the uploader may send it again");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the upload could not be processed now; send it again",
            )
        }
    }
}

async fn recent<S: FileSource>(State(api): State<Arc<Api<S>>>, headers: HeaderMap) -> Response {
    if api.auth.authenticate(&headers).is_none() {
        return error(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
    }
    match api.ingest.recent(50).await {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading uploads failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

/// How a file source runs.
#[derive(Debug, Clone)]
pub struct FileSettings {
    pub max_upload_bytes: usize,
    pub auth: UploadAuth,
}

/// The adapter's database (schema `adapter_<system>`, the kit's migrations) and broker.
pub async fn context(
    system: &str,
    common: CommonConfig,
    shutdown: CancellationToken,
) -> Result<ServiceContext, AdapterError> {
    Ok(ServiceContext::start(
        &format!("adapter-{system}"),
        common,
        &schema_for(system),
        Some(&MIGRATOR),
        shutdown,
    )
    .await?)
}

/// Runs a file source as a service until `shutdown`: `/healthz`, `/readyz`, `/metrics` and
/// the upload API on `HTTP_ADDR`.
pub async fn run<S: FileSource>(
    source: S,
    common: CommonConfig,
    settings: FileSettings,
    shutdown: CancellationToken,
) -> Result<(), AdapterError> {
    let system = source.system().to_owned();
    let ctx = context(&system, common, shutdown.clone()).await?;
    let ingest = Arc::new(FileIngest::new(
        source,
        ctx.db.clone(),
        ctx.publisher.clone(),
        settings.max_upload_bytes,
    ));
    if let Some(addr) = ctx.serve_http(upload_router(ingest, settings.auth)).await? {
        tracing::info!(%system, %addr, "file source serving POST /api/v1/upload");
    }
    let probe = ctx.spawn_database_probe();
    shutdown.cancelled().await;
    probe.abort();
    ctx.broker.close().await;
    Ok(())
}

//! # The acceptance kit against an integrator's own server or files (`hub acceptance`)
//!
//! The checks of the acceptance kit that need no simulator (no ground truth, no mutation),
//! run through the adapter exactly as it is deployed, against any server speaking the
//! source's spec (or any files of a file source). It uses the broker and the PostgreSQL
//! server of `AMQP_URL` and `DATABASE_URL`, but a topology namespace (`acc<random>`) and
//! schemas (`adapter_<system>_acc<random>_<n>`) of its own, removed afterwards: nothing it
//! publishes reaches the hub's consumers and nothing it stores mixes with the adapter's state.
//!
//! A **pull source** (configured as for `hub adapter <system>`: its URL and credentials):
//! 1. `credentials`: `check()` passes; with the credential altered it fails with a 401 that
//!    names the system, and a sync with it fails the same way and publishes nothing;
//! 2. `full sync`: every record is published once, each a well-formed envelope of the
//!    source's contract (it decodes; the source's system; `meta.content_hash` is the hash of
//!    `meta.raw`; the message id is deterministic); a second sync publishes nothing (the
//!    server must not change during the run);
//! 3. `kill and resume`: with a sixth of the records per page, a sync frozen after the
//!    broker confirmed its third page (before the commit) is aborted, restarted, aborted
//!    after its second commit, restarted to the end: every record of the full sync is
//!    delivered, those committed before the first kill exactly once, and a republished one
//!    under its first message id.
//!
//! A **file source** (the files of one upload):
//! 1. `upload`: accepted (not refused); each rejected row names its sheet, row, column and
//!    reason; every published record is a well-formed envelope of one of its contracts
//!    (decodes; its system; the deterministic id of system, source id and content hash);
//! 2. `same files again`: a duplicate, nothing published.
//!
//! Owns these checks and their scratch resources only; it never touches the adapter's own
//! schema or the hub's queues.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use hub_contracts::registry::exchanges;
use hub_contracts::{Envelope, RawEnvelope, content_hash};
use hub_runtime::http::Readiness;
use hub_runtime::messaging::topology::Declaration;
use hub_runtime::messaging::{Broker, Publisher, QueueSpec};
use hub_runtime::storage::Database;
use hub_runtime::telemetry::Metrics;
use hub_runtime::{CommonConfig, ConfigError};
use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{MIGRATOR, Store, schema_for};
use crate::file::{FileIngest, FileSource, Outcome, UploadFile};
use crate::metrics::AdapterMetrics;
use crate::runner::PullConfig;
use crate::source::{PageEvent, Source, SyncEngine};

/// Which credential to build the adapter with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// The configured one.
    Configured,
    /// The configured one altered, so that the server must refuse it.
    Altered,
}

/// `secret` as configured, or altered so that the server must refuse it.
pub fn credential(secret: &crate::Secret, which: Credential) -> crate::Secret {
    match which {
        Credential::Configured => secret.clone(),
        Credential::Altered => crate::Secret::new(format!("{}-wrong", secret.expose())),
    }
}

/// An adapter that could not be built, for [`pull`].
pub fn build_error(e: impl std::fmt::Display) -> AcceptanceError {
    AcceptanceError::Build(e.to_string())
}

/// One check passed.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub detail: String,
}

/// The checks an acceptance run passed (it stops at the first that fails).
#[derive(Debug, Clone, Serialize)]
pub struct AcceptanceReport {
    pub system: String,
    pub checks: Vec<CheckResult>,
}

/// Why an acceptance run did not pass.
#[derive(Debug, thiserror::Error)]
pub enum AcceptanceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("building the adapter: {0}")]
    Build(String),
    #[error("{what}: {path}: {reason}")]
    File {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("acceptance scratch resources (broker, database): {0}")]
    Setup(String),
    #[error("check `{check}` FAILED: {detail}")]
    Failed { check: &'static str, detail: String },
}

fn failed(check: &'static str, detail: impl Into<String>) -> AcceptanceError {
    AcceptanceError::Failed {
        check,
        detail: detail.into(),
    }
}

fn setup(e: impl std::fmt::Display) -> AcceptanceError {
    AcceptanceError::Setup(e.to_string())
}

/// Twelve hex digits, different at each run.
fn random_tag() -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "{:?}{}{:p}",
        std::time::SystemTime::now(),
        std::process::id(),
        &h as *const _
    ));
    hex::encode(h.finalize())[..12].to_owned()
}

/// The run's namespace, schemas and observer queue on the configured broker and server.
struct Scratch {
    common: CommonConfig,
    system: String,
    tag: String,
    schemas: std::sync::Mutex<Vec<String>>,
    broker: Broker,
    publisher: Arc<Publisher>,
    channel: lapin::Channel,
    observer: QueueSpec,
}

/// A message the adapter published.
struct Seen {
    message_id: String,
    envelope: RawEnvelope,
}

impl Scratch {
    async fn start(system: &str) -> Result<Self, AcceptanceError> {
        let tag = random_tag();
        let common = CommonConfig {
            hub_namespace: format!("acc{tag}"),
            ..hub_runtime::config::load_common()?
        };
        let broker = Broker::new(
            &common.amqp_url,
            "acceptance",
            common.topology(),
            Metrics::new(),
            Readiness::new(),
        );
        let channel = broker.channel().await.map_err(setup)?;
        let observer = QueueSpec::new("acceptance.observer").bind(exchanges::SOURCE, "source.#");
        common
            .topology()
            .declare_queue(&channel, &observer, &common.retry_policy())
            .await
            .map_err(setup)?;
        let publisher = Arc::new(Publisher::new(broker.clone()));
        Ok(Self {
            common,
            system: system.to_owned(),
            tag,
            schemas: Default::default(),
            broker,
            publisher,
            channel,
            observer,
        })
    }

    /// A fresh schema of the adapter kit's tables.
    async fn database(&self) -> Result<Database, AcceptanceError> {
        let schema = {
            let mut s = self.schemas.lock().map_err(setup)?;
            let name = format!("{}_acc{}_{}", schema_for(&self.system), self.tag, s.len());
            s.push(name.clone());
            name
        };
        Database::connect(&self.common.database_url, &schema, Some(&MIGRATOR))
            .await
            .map_err(setup)
    }

    async fn engine<S: Source>(&self, source: S) -> Result<SyncEngine<S>, AcceptanceError> {
        let store = Store::new(self.database().await?, source.system());
        let metrics = AdapterMetrics::standalone(source.system());
        Ok(SyncEngine::new(
            source,
            store,
            self.publisher.clone(),
            metrics,
            CancellationToken::new(),
        ))
    }

    /// Every message waiting on the observer queue (publishes are confirmed before a sync or
    /// an upload returns).
    async fn drain(&self) -> Result<Vec<Seen>, AcceptanceError> {
        let queue = self.common.topology().name(&self.observer.name);
        let mut out = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .map_err(setup)?
        {
            let envelope = RawEnvelope::parse(&m.delivery.data).map_err(|e| {
                failed(
                    "envelope",
                    format!("published something that is no valid envelope: {e}"),
                )
            })?;
            let message_id = m
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            out.push(Seen {
                message_id,
                envelope,
            });
        }
        Ok(out)
    }

    /// Drops the schemas, deletes the namespace's queues and exchanges.
    async fn finish(self) {
        let schemas = self.schemas.lock().map(|s| s.clone()).unwrap_or_default();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&self.common.database_url)
            .await;
        if let Ok(pool) = pool {
            for s in schemas {
                let sql = format!("DROP SCHEMA IF EXISTS {s} CASCADE");
                if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await {
                    tracing::warn!(schema = %s, error = %e, "acceptance: schema not dropped");
                }
            }
            pool.close().await;
        }
        let t = self.common.topology();
        let mut plan = t.shared_plan();
        plan.extend(t.queue_plan(&self.observer, &self.common.retry_policy()));
        for d in plan {
            match d {
                Declaration::Queue { name, .. } => {
                    let _ = self
                        .channel
                        .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                        .await;
                }
                Declaration::Exchange { name, .. } => {
                    let _ = self
                        .channel
                        .exchange_delete(name.as_str().into(), ExchangeDeleteOptions::default())
                        .await;
                }
                Declaration::Binding { .. } => {}
            }
        }
        let _ = self.channel.close(200, "done".into()).await;
        self.broker.close().await;
    }
}

/// Checks one published message: its contract is one of `contracts`, it decodes
/// (`decode`), it carries `system`, the AMQP message id is the envelope id and the
/// deterministic id of (system, source id, content hash), and, when `raw_hash`, the content
/// hash is the hash of `meta.raw`. Answers its source id.
fn well_formed(
    check: &'static str,
    system: &str,
    contracts: &[&str],
    decode: &dyn Fn(&RawEnvelope) -> Result<(), String>,
    raw_hash: bool,
    seen: &Seen,
) -> Result<String, AcceptanceError> {
    let e = &seen.envelope;
    let id = e.data["meta"]["source"]["id"].as_str().unwrap_or_default();
    let at = format!("{} {id:?}", e.ty);
    if !contracts.contains(&e.ty.as_str()) {
        return Err(failed(
            check,
            format!("published {at}, not a contract of {system} ({contracts:?})"),
        ));
    }
    decode(e).map_err(|r| failed(check, format!("{at} does not decode: {r}")))?;
    if e.data["meta"]["source"]["system"] != system {
        return Err(failed(
            check,
            format!("{at}: meta.source.system is not {system}"),
        ));
    }
    if seen.message_id != e.id {
        return Err(failed(
            check,
            format!("{at}: the AMQP message id is not the envelope id"),
        ));
    }
    let hash = e.data["meta"]["content_hash"].as_str().unwrap_or_default();
    if raw_hash && hash != content_hash(&e.data["meta"]["raw"]) {
        return Err(failed(
            check,
            format!("{at}: meta.content_hash is not the hash of meta.raw"),
        ));
    }
    if e.id != Envelope::<Value>::deterministic_id(&[system, id, hash]) {
        return Err(failed(
            check,
            format!("{at}: the message id is not the deterministic id of system, id and hash"),
        ));
    }
    Ok(id.to_owned())
}

/// Message ids per source id, in arrival order.
type Deliveries = BTreeMap<String, Vec<String>>;

fn deliveries<S: Source>(
    check: &'static str,
    system: &str,
    seen: &[Seen],
) -> Result<Deliveries, AcceptanceError> {
    let ty = <S::Record as hub_contracts::Contract>::TYPE;
    let decode = |e: &RawEnvelope| {
        e.clone()
            .decode::<S::Record>()
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let mut out: Deliveries = BTreeMap::new();
    for s in seen {
        let id = well_formed(check, system, &[ty], &decode, true, s)?;
        out.entry(id).or_default().push(s.message_id.clone());
    }
    Ok(out)
}

/// Runs the pull checks against the adapter `build` makes (with the configured credential
/// or an altered one, and so many records per page).
pub async fn pull<S, F>(build: F) -> Result<AcceptanceReport, AcceptanceError>
where
    S: Source,
    F: Fn(Credential, usize) -> Result<S, AcceptanceError>,
{
    let system = build(Credential::Configured, 50)?.system().to_owned();
    let scratch = Scratch::start(&system).await?;
    let result = pull_checks(&scratch, &system, &build).await;
    scratch.finish().await;
    result.map(|checks| AcceptanceReport { system, checks })
}

/// [`pull`] with the adapter a pull source's settings build, read from the environment as
/// for `hub adapter <system>` (`hub acceptance <system>`).
pub async fn pull_from_env<C: PullConfig>() -> Result<AcceptanceReport, AcceptanceError> {
    let config = C::from_env()?;
    pull(move |which, page| {
        config
            .for_acceptance(which, page)
            .build(CancellationToken::new())
            .map_err(build_error)
    })
    .await
}

async fn pull_checks<S, F>(
    scratch: &Scratch,
    system: &str,
    build: &F,
) -> Result<Vec<CheckResult>, AcceptanceError>
where
    S: Source,
    F: Fn(Credential, usize) -> Result<S, AcceptanceError>,
{
    let mut checks = vec![credentials(scratch, system, build).await?];
    let (full, delivered) = full_sync(scratch, system, build).await?;
    checks.push(full);
    checks.push(kill_and_resume(scratch, system, build, &delivered).await?);
    Ok(checks)
}

async fn credentials<S, F>(
    scratch: &Scratch,
    system: &str,
    build: &F,
) -> Result<CheckResult, AcceptanceError>
where
    S: Source,
    F: Fn(Credential, usize) -> Result<S, AcceptanceError>,
{
    const C: &str = "credentials";
    let good = scratch.engine(build(Credential::Configured, 50)?).await?;
    good.check()
        .await
        .map_err(|e| failed(C, format!("check with the configured credential: {e}")))?;
    let bad = scratch.engine(build(Credential::Altered, 50)?).await?;
    let refused = |what: &str, r: Result<(), crate::SourceError>| match r {
        Ok(()) => Err(failed(
            C,
            format!("{what}: an altered credential was accepted"),
        )),
        Err(e) if !e.is_unauthorized() => Err(failed(
            C,
            format!("{what}: an altered credential should be refused with 401, got: {e}"),
        )),
        Err(e) if !(e.to_string().contains(system) && e.to_string().contains("401")) => {
            Err(failed(
                C,
                format!("{what}: the error names neither {system} nor 401: {e}"),
            ))
        }
        Err(_) => Ok(()),
    };
    refused("check", bad.check().await)?;
    refused("sync", bad.sync_once().await.map(|_| ()))?;
    let n = scratch.drain().await?.len();
    if n > 0 {
        return Err(failed(C, format!("a refused sync published {n} messages")));
    }
    Ok(CheckResult {
        check: C,
        detail: "the configured credential passes; an altered one is refused with 401 and \
                 publishes nothing"
            .into(),
    })
}

async fn full_sync<S, F>(
    scratch: &Scratch,
    system: &str,
    build: &F,
) -> Result<(CheckResult, Deliveries), AcceptanceError>
where
    S: Source,
    F: Fn(Credential, usize) -> Result<S, AcceptanceError>,
{
    const C: &str = "full sync";
    let engine = scratch.engine(build(Credential::Configured, 50)?).await?;
    let report = engine
        .sync_once()
        .await
        .map_err(|e| failed(C, format!("sync: {e}")))?;
    let delivered = deliveries::<S>(C, system, &scratch.drain().await?)?;
    if delivered.is_empty() {
        return Err(failed(C, "the server served no record"));
    }
    if let Some((id, d)) = delivered.iter().find(|(_, d)| d.len() > 1) {
        return Err(failed(
            C,
            format!("{id} published {} times in one sync", d.len()),
        ));
    }
    if report.published as usize != delivered.len() {
        return Err(failed(
            C,
            format!(
                "the sync reports {} published, the broker saw {}",
                report.published,
                delivered.len()
            ),
        ));
    }
    let again = engine
        .sync_once()
        .await
        .map_err(|e| failed(C, format!("second sync: {e}")))?;
    let n = scratch.drain().await?.len();
    if again.published > 0 || n > 0 {
        return Err(failed(
            C,
            format!(
                "a second sync republished {n} unchanged records (did the server change \
                 during the run?)"
            ),
        ));
    }
    Ok((
        CheckResult {
            check: C,
            detail: format!(
                "{} records, each once and well-formed ({} invalid remembered); a second sync \
                 publishes nothing",
                delivered.len(),
                report.invalid
            ),
        },
        delivered,
    ))
}

/// Runs `engine`'s sync until `stop_at`, then aborts it there.
async fn sync_until_killed<S: Source>(
    engine: SyncEngine<S>,
    stop_at: PageEvent,
) -> Result<(), AcceptanceError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let engine = engine.with_hook(Arc::new(move |e: PageEvent| {
        if e == stop_at {
            let _ = tx.send(());
            // freeze here: the task is aborted at exactly this point
            futures::future::pending::<()>().boxed()
        } else {
            futures::future::ready(()).boxed()
        }
    }));
    let task = tokio::spawn(async move { engine.sync_once().await.map(|_| ()) });
    let reached = tokio::time::timeout(Duration::from_secs(600), rx.recv()).await;
    task.abort();
    let ended = task.await;
    match reached {
        Ok(Some(())) => Ok(()),
        _ => Err(failed(
            "kill and resume",
            format!("the sync never reached {stop_at:?} (it ended with {ended:?})"),
        )),
    }
}

async fn kill_and_resume<S, F>(
    scratch: &Scratch,
    system: &str,
    build: &F,
    full: &Deliveries,
) -> Result<CheckResult, AcceptanceError>
where
    S: Source,
    F: Fn(Credential, usize) -> Result<S, AcceptanceError>,
{
    const C: &str = "kill and resume";
    let page = (full.len() / 6).max(1);
    let e1 = scratch.engine(build(Credential::Configured, page)?).await?;
    let store = e1.store().clone();
    sync_until_killed(e1, PageEvent::Confirmed { page: 3 }).await?;
    let committed_first: BTreeSet<String> = store
        .committed()
        .await
        .map_err(setup)?
        .into_iter()
        .filter(|(_, m)| m.is_some())
        .map(|(id, _)| id)
        .collect();
    let engine = || -> Result<SyncEngine<S>, AcceptanceError> {
        let source = build(Credential::Configured, page)?;
        let metrics = AdapterMetrics::standalone(source.system());
        Ok(SyncEngine::new(
            source,
            store.clone(),
            scratch.publisher.clone(),
            metrics,
            CancellationToken::new(),
        ))
    };
    sync_until_killed(engine()?, PageEvent::Committed { page: 2 }).await?;
    let last = engine()?
        .sync_once()
        .await
        .map_err(|e| failed(C, format!("the restarted sync: {e}")))?;
    let delivered = deliveries::<S>(C, system, &scratch.drain().await?)?;
    let want: BTreeSet<&String> = full.keys().collect();
    let got: BTreeSet<&String> = delivered.keys().collect();
    if want != got {
        let missing: Vec<_> = want.difference(&got).take(10).collect();
        let extra: Vec<_> = got.difference(&want).take(10).collect();
        return Err(failed(
            C,
            format!("after the restarts, missing {missing:?}, not in the full sync {extra:?}"),
        ));
    }
    for id in &committed_first {
        if delivered.get(id).map_or(0, Vec::len) != 1 {
            return Err(failed(
                C,
                format!("{id} was committed before the kill, yet delivered again"),
            ));
        }
    }
    let duplicated: Vec<(&String, &Vec<String>)> =
        delivered.iter().filter(|(_, d)| d.len() > 1).collect();
    if let Some((id, d)) = duplicated
        .iter()
        .find(|(_, d)| d.iter().any(|m| *m != d[0]))
    {
        return Err(failed(
            C,
            format!("{id} republished under another message id: {d:?}"),
        ));
    }
    if last.published as usize >= delivered.len() {
        return Err(failed(
            C,
            "the restarted sync started over instead of resuming from its checkpoint",
        ));
    }
    Ok(CheckResult {
        check: C,
        detail: format!(
            "{page} records per page, killed after a confirm and after a commit: all {} \
             delivered, {} committed before the kill not again, {} republished under their \
             first id",
            delivered.len(),
            committed_first.len(),
            duplicated.len()
        ),
    })
}

/// Reads the files of one upload, each at most `max_bytes`.
pub fn read_files(paths: &[PathBuf], max_bytes: usize) -> Result<Vec<UploadFile>, AcceptanceError> {
    let mut files = Vec::new();
    for p in paths {
        let path = p.display().to_string();
        let err = |what, reason: String| AcceptanceError::File {
            what,
            path: path.clone(),
            reason,
        };
        let size = std::fs::metadata(p)
            .map_err(|e| err("reading", e.to_string()))?
            .len();
        if size > max_bytes as u64 {
            return Err(err(
                "too large",
                format!("{size} bytes, at most {max_bytes}"),
            ));
        }
        let bytes = std::fs::read(p).map_err(|e| err("reading", e.to_string()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| err("reading", "no file name".into()))?;
        files.push(UploadFile { name, bytes });
    }
    Ok(files)
}

/// Runs the file checks: `files` uploaded through `source`'s ingest, then again. `decode`
/// checks that an envelope decodes as its contract (one of `contracts`).
pub async fn file<S: FileSource>(
    source: S,
    contracts: &[&str],
    decode: fn(&RawEnvelope) -> Result<(), String>,
    paths: &[PathBuf],
    max_bytes: usize,
) -> Result<AcceptanceReport, AcceptanceError> {
    if paths.is_empty() {
        return Err(AcceptanceError::File {
            what: "no file",
            path: String::new(),
            reason: "a file source's acceptance needs the files of one upload".into(),
        });
    }
    let files = read_files(paths, max_bytes)?;
    let system = source.system().to_owned();
    let scratch = Scratch::start(&system).await?;
    let result = file_checks(&scratch, source, contracts, decode, &files, max_bytes).await;
    scratch.finish().await;
    result.map(|checks| AcceptanceReport { system, checks })
}

async fn file_checks<S: FileSource>(
    scratch: &Scratch,
    source: S,
    contracts: &[&str],
    decode: fn(&RawEnvelope) -> Result<(), String>,
    files: &[UploadFile],
    max_bytes: usize,
) -> Result<Vec<CheckResult>, AcceptanceError> {
    const C: &str = "upload";
    let system = source.system().to_owned();
    let ingest = FileIngest::new(
        source,
        scratch.database().await?,
        scratch.publisher.clone(),
        max_bytes,
    );
    let report = ingest
        .upload(files, "acceptance")
        .await
        .map_err(|e| failed(C, e.to_string()))?;
    if report.outcome != Outcome::Accepted {
        return Err(failed(
            C,
            format!(
                "the upload was {}: {}",
                report.outcome.as_str(),
                report.reason.clone().unwrap_or_default()
            ),
        ));
    }
    if let Some(r) = report
        .rejected
        .iter()
        .find(|r| r.sheet.is_empty() || r.column.is_empty() || r.reason.is_empty() || r.row == 0)
    {
        return Err(failed(
            C,
            format!("a rejected row does not say its sheet, row, column and reason: {r}"),
        ));
    }
    let seen = scratch.drain().await?;
    let mut ids = BTreeSet::new();
    for s in &seen {
        let id = well_formed(C, &system, contracts, &decode, false, s)?;
        if !ids.insert((s.envelope.ty.clone(), id.clone())) {
            return Err(failed(C, format!("{} {id} published twice", s.envelope.ty)));
        }
    }
    if seen.len() != report.published + report.retracted {
        return Err(failed(
            C,
            format!(
                "the report says {} published, the broker saw {}",
                report.published + report.retracted,
                seen.len()
            ),
        ));
    }
    let first = CheckResult {
        check: C,
        detail: format!(
            "{} rows read: {} taken, {} records published, each well-formed; {} rows rejected \
             with sheet, row, column and reason",
            report.rows_read,
            report.taken,
            seen.len(),
            report.rejected.len()
        ),
    };
    const A: &str = "same files again";
    let again = ingest
        .upload(files, "acceptance")
        .await
        .map_err(|e| failed(A, e.to_string()))?;
    let n = scratch.drain().await?.len();
    if again.outcome != Outcome::Duplicate || n > 0 {
        return Err(failed(
            A,
            format!(
                "the same files again were {} and published {n} messages",
                again.outcome.as_str()
            ),
        ));
    }
    Ok(vec![
        first,
        CheckResult {
            check: A,
            detail: "a duplicate: nothing published".into(),
        },
    ])
}

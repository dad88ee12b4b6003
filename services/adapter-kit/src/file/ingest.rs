//! Taking one upload: the [`FileSource`] trait (what a file source knows: its workbook's
//! header, its rows, how to retract a record) and [`FileIngest`], which does the rest the
//! same way for every way in (CLI, HTTP, console):
//!
//! 1. the files' SHA-256; a file already accepted is a `duplicate`: nothing is published or
//!    changed (its earlier report is given again);
//! 2. the workbook is read ([`Workbook::read`]) and its header taken ([`FileSource::workbook`]);
//!    an unreadable file, or a report date older than the sender's latest accepted one, is
//!    `refused` whole;
//! 3. its rows become records or [`RowError`]s (the rest is taken);
//! 4. records new or changed since the sender's roster (by content hash) are published, and
//!    every record the roster held that the workbook no longer lists is published retracted
//!    ([`FileSource::retract`]); a row that is listed but unreadable keeps what was held;
//! 5. after the broker confirmed every message, the roster and the upload's audit row
//!    (uploader, file hash, sender, report date, report) are written in ONE transaction,
//!    under a lock per system so that two uploads never interleave.
//!
//! A crash between 4 and 5 leaves the upload unrecorded: sending it again republishes the
//! same records under the same deterministic message ids, which consumers drop.
//!
//! Owns the tables `file_rows` and `file_uploads` of the adapter's schema.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::NaiveDate;
use hub_contracts::Envelope;
use hub_contracts::registry::Contract;
use hub_contracts::v1::Workbook as WorkbookRef;
use hub_runtime::messaging::{MessagingError, OutgoingMessage, Publisher};
use hub_runtime::storage::Database;
use hub_runtime::telemetry::TraceContext;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use super::workbook::{FileError, RowError, UploadFile, Workbook};
use crate::error::Invalid;

/// What a file source knows; [`FileIngest`] does the rest.
pub trait FileSource: Send + Sync + 'static {
    /// The system's name in source references (`farmers-union`).
    fn system(&self) -> &str;

    /// Who sent the workbook and as of when (its header); `Err` refuses the whole upload.
    fn workbook(&self, book: &Workbook, content_hash: &str) -> Result<WorkbookRef, FileError>;

    /// The workbook's rows as records, and the rows that cannot be read. `held` is the ids
    /// the sender's roster holds (from earlier workbooks). `Err` refuses the whole upload
    /// (say, a required sheet or column missing).
    fn records(
        &self,
        book: &Workbook,
        batch: &WorkbookRef,
        held: &BTreeSet<String>,
    ) -> Result<Records, FileError>;

    /// A held record (its last published data, of `contract_type`) retracted by `by`.
    fn retract(
        &self,
        contract_type: &str,
        last: &Value,
        by: &WorkbookRef,
    ) -> Result<FileRecord, Invalid>;
}

/// What the rows of one workbook gave.
#[derive(Debug, Default)]
pub struct Records {
    pub rows_read: usize,
    pub records: Vec<FileRecord>,
    pub rejected: Vec<RowError>,
}

/// One record ready to publish.
#[derive(Debug, Clone)]
pub struct FileRecord {
    /// Its id in the system (`{sender}:{key}`).
    pub id: String,
    /// `meta.content_hash`: what decides whether it changed.
    pub content_hash: String,
    pub contract_type: &'static str,
    /// The contract as JSON (kept for a later retraction).
    pub data: Value,
    pub message: OutgoingMessage,
}

impl FileRecord {
    /// Wraps `record` in its envelope, under the deterministic id (system, id, hash).
    pub fn new<T: Contract>(
        system: &str,
        id: String,
        content_hash: String,
        record: T,
    ) -> Result<Self, Invalid> {
        let data = serde_json::to_value(&record)
            .map_err(|e| Invalid::new(format!("{id}: cannot serialise: {e}")))?;
        let message_id = Envelope::<Value>::deterministic_id(&[system, &id, &content_hash]);
        let env = Envelope::new(
            message_id,
            format!("{}:adapter:{system}", hub_contracts::HUB_SOURCE_PREFIX),
            record,
        )
        .with_subject(format!("{system}/{id}"))
        .with_traceparent(Some(TraceContext::new_root().header()));
        Ok(Self {
            id,
            content_hash,
            contract_type: T::TYPE,
            data,
            message: OutgoingMessage::from_envelope(&env),
        })
    }
}

/// What became of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Read and taken (possibly with rejected rows).
    Accepted,
    /// The same file was accepted before: nothing changed.
    Duplicate,
    /// Not taken at all (`reason` says why).
    Refused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::Refused => "refused",
        }
    }
}

/// The answer to an upload, also kept in its audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadReport {
    pub upload_id: i64,
    pub outcome: Outcome,
    pub uploaded_by: String,
    pub files: Vec<String>,
    /// SHA-256 of the file (of the CSV files, by name order).
    pub file_hash: String,
    pub sender: Option<String>,
    pub report_date: Option<NaiveDate>,
    /// Why a refused upload was refused.
    pub reason: Option<String>,
    pub rows_read: usize,
    /// Rows read into records.
    pub taken: usize,
    /// Records published new or changed.
    pub published: usize,
    /// Records listed unchanged.
    pub unchanged: usize,
    /// Records the sender no longer lists, published retracted.
    pub retracted: usize,
    /// Rows that could not be read: sheet, row, column, reason.
    pub rejected: Vec<RowError>,
}

/// Why an upload could not be processed (the uploader may send it again).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("adapter state in PostgreSQL: {0}")]
    Storage(#[from] sqlx::Error),
    #[error("publishing the upload's records: {0}")]
    Messaging(#[from] MessagingError),
    #[error("{0}")]
    Invalid(#[from] Invalid),
}

/// SHA-256 of the uploaded files: the bytes of one file; for several, each name and bytes in
/// name order.
pub fn files_hash(files: &[UploadFile]) -> String {
    if let [one] = files {
        return hex::encode(Sha256::digest(&one.bytes));
    }
    let mut sorted: Vec<&UploadFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut h = Sha256::new();
    for f in sorted {
        h.update(f.name.as_bytes());
        h.update([0u8]);
        h.update((f.bytes.len() as u64).to_be_bytes());
        h.update(&f.bytes);
    }
    hex::encode(h.finalize())
}

/// Where a running upload stands, for a progress display (`hub upload`'s bar): the rows read,
/// then the messages confirmed by the broker, then the rows recorded, each as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadStep {
    /// The files were read: `rows` rows, `records` of them taken or retracted to publish.
    Read { rows: usize, records: usize },
    /// `done` of `total` messages confirmed by the broker.
    Published { done: usize, total: usize },
    /// `done` of `total` records written to the adapter's state.
    Recorded { done: usize, total: usize },
}

/// A callback told each [`UploadStep`] of an upload.
pub type UploadProgress<'a> = &'a (dyn Fn(UploadStep) + Send + Sync);

/// How many messages are published (and confirmed) between two progress steps.
const PROGRESS_CHUNK: usize = 200;

/// Takes uploads of one file source.
pub struct FileIngest<S: FileSource> {
    source: Arc<S>,
    db: Database,
    publisher: Arc<Publisher>,
    max_bytes: usize,
}

/// A record the sender's roster holds: what was last published of it.
struct Held {
    contract_type: String,
    content_hash: String,
    data: Value,
}

impl UploadReport {
    /// The report of an upload not yet taken (refused, unless it gets further).
    fn refused_so_far(files: &[UploadFile], uploaded_by: &str, file_hash: &str) -> Self {
        Self {
            upload_id: 0,
            outcome: Outcome::Refused,
            uploaded_by: uploaded_by.to_owned(),
            files: files.iter().map(|f| f.name.clone()).collect(),
            file_hash: file_hash.to_owned(),
            sender: None,
            report_date: None,
            reason: None,
            rows_read: 0,
            taken: 0,
            published: 0,
            unchanged: 0,
            retracted: 0,
            rejected: Vec::new(),
        }
    }

    /// Refused whole, for `reason`.
    fn refused(mut self, reason: String) -> Self {
        self.outcome = Outcome::Refused;
        self.reason = Some(reason);
        self
    }

    /// The same file as the `earlier` accepted upload: its figures, nothing changed.
    fn duplicate_of(mut self, earlier: UploadReport) -> Self {
        self.outcome = Outcome::Duplicate;
        self.sender = earlier.sender;
        self.report_date = earlier.report_date;
        self.rows_read = earlier.rows_read;
        self.taken = earlier.taken;
        self.unchanged = earlier.taken;
        self.rejected = earlier.rejected;
        self.reason = Some(format!(
            "the same file was accepted before (upload {})",
            earlier.upload_id
        ));
        self
    }
}

/// The report of the first accepted upload of the file `file_hash`, if any.
async fn accepted_before(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    file_hash: &str,
) -> Result<Option<UploadReport>, IngestError> {
    let earlier: Option<Value> = sqlx::query_scalar(
        "SELECT report FROM file_uploads WHERE file_hash = $1 AND outcome = 'accepted'
         ORDER BY id LIMIT 1",
    )
    .bind(file_hash)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(earlier.and_then(|v| serde_json::from_value::<UploadReport>(v).ok()))
}

/// The records `sender`'s roster holds (not retracted), by id.
async fn held_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    sender: &str,
) -> Result<BTreeMap<String, Held>, IngestError> {
    let rows = sqlx::query(
        "SELECT source_id, contract_type, content_hash, data FROM file_rows
         WHERE sender = $1 AND NOT retracted",
    )
    .bind(sender)
    .fetch_all(&mut **tx)
    .await?;
    let mut held: BTreeMap<String, Held> = BTreeMap::new();
    for r in rows {
        held.insert(
            r.try_get("source_id")?,
            Held {
                contract_type: r.try_get("contract_type")?,
                content_hash: r.try_get("content_hash")?,
                data: r.try_get("data")?,
            },
        );
    }
    Ok(held)
}

/// Writes what was published to `sender`'s roster, telling `progress` every
/// [`PROGRESS_CHUNK`] rows and at the last.
async fn record_rows(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    out: &[(FileRecord, bool)],
    sender: &str,
    file_hash: &str,
    progress: UploadProgress<'_>,
) -> Result<(), IngestError> {
    for (done, (rec, retracted)) in out.iter().enumerate() {
        sqlx::query(
            "INSERT INTO file_rows (source_id, sender, contract_type, content_hash, data,
                                    retracted, workbook_hash, message_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (source_id) DO UPDATE SET
                sender = EXCLUDED.sender, contract_type = EXCLUDED.contract_type,
                content_hash = EXCLUDED.content_hash, data = EXCLUDED.data,
                retracted = EXCLUDED.retracted, workbook_hash = EXCLUDED.workbook_hash,
                message_id = EXCLUDED.message_id, changed_at = now()",
        )
        .bind(&rec.id)
        .bind(sender)
        .bind(rec.contract_type)
        .bind(&rec.content_hash)
        .bind(&rec.data)
        .bind(*retracted)
        .bind(file_hash)
        .bind(&rec.message.message_id)
        .execute(&mut **tx)
        .await?;
        if (done + 1) % PROGRESS_CHUNK == 0 || done + 1 == out.len() {
            progress(UploadStep::Recorded {
                done: done + 1,
                total: out.len(),
            });
        }
    }
    Ok(())
}

impl<S: FileSource> FileIngest<S> {
    /// An ingest over the adapter's database (connected with the kit's `MIGRATOR`) and
    /// publisher; uploads over `max_bytes` in total are refused.
    pub fn new(source: S, db: Database, publisher: Arc<Publisher>, max_bytes: usize) -> Self {
        Self {
            source: Arc::new(source),
            db,
            publisher,
            max_bytes,
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Takes one upload by `uploaded_by` (an account name, never personal data).
    pub async fn upload(
        &self,
        files: &[UploadFile],
        uploaded_by: &str,
    ) -> Result<UploadReport, IngestError> {
        self.upload_with_progress(files, uploaded_by, &|_| {}).await
    }

    /// [`FileIngest::upload`] by an uploader confined to one sender (`Some`: a district
    /// union's script may send only its own district's workbook): a workbook of another
    /// sender, or the same file as another sender's accepted upload, is refused whole (and
    /// audited). `None`: any sender.
    pub async fn upload_confined(
        &self,
        files: &[UploadFile],
        uploaded_by: &str,
        sender: Option<&str>,
    ) -> Result<UploadReport, IngestError> {
        self.take(files, uploaded_by, sender, &|_| {}).await
    }

    /// [`FileIngest::upload`], telling `progress` each step as it goes.
    pub async fn upload_with_progress(
        &self,
        files: &[UploadFile],
        uploaded_by: &str,
        progress: UploadProgress<'_>,
    ) -> Result<UploadReport, IngestError> {
        self.take(files, uploaded_by, None, progress).await
    }

    async fn take(
        &self,
        files: &[UploadFile],
        uploaded_by: &str,
        only_sender: Option<&str>,
        progress: UploadProgress<'_>,
    ) -> Result<UploadReport, IngestError> {
        let not_its_sender = |sender: &str| {
            only_sender.filter(|s| *s != sender).map(|own| {
                format!(
                    "uploader {uploaded_by} may send only sender {own}'s workbooks; this one \
                     is sender {sender}'s"
                )
            })
        };
        let system = self.source.system().to_owned();
        let file_hash = files_hash(files);
        let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
        let mut report = UploadReport::refused_so_far(files, uploaded_by, &file_hash);

        let mut tx = self.db.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("file-ingest:{system}"))
            .execute(&mut *tx)
            .await?;

        // the same file again: its earlier report, nothing changed
        if let Some(earlier) = accepted_before(&mut tx, &file_hash).await? {
            let report = match not_its_sender(earlier.sender.as_deref().unwrap_or_default()) {
                Some(reason) => report.refused(reason),
                None => report.duplicate_of(earlier),
            };
            return self.finish(tx, report, bytes).await;
        }

        let header = self
            .header(&mut tx, files, &file_hash, &mut report, &not_its_sender)
            .await?;
        let (book, batch) = match header {
            Ok(h) => h,
            Err(reason) => return self.finish(tx, report.refused(reason), bytes).await,
        };
        let held = held_rows(&mut tx, &batch.sender).await?;
        let held_ids: BTreeSet<String> = held.keys().cloned().collect();
        let read = match self.source.records(&book, &batch, &held_ids) {
            Ok(r) => r,
            Err(e) => return self.finish(tx, report.refused(e.to_string()), bytes).await,
        };
        report.rows_read = read.rows_read;
        report.taken = read.records.len();
        report.rejected = read.rejected;
        let out = self.to_publish(read.records, &held, &batch, &mut report)?;

        progress(UploadStep::Read {
            rows: report.rows_read,
            records: out.len(),
        });
        self.publish(&out, progress).await?;
        record_rows(&mut tx, &out, &batch.sender, &file_hash, progress).await?;
        report.outcome = Outcome::Accepted;
        self.finish(tx, report, bytes).await
    }

    /// The upload's workbook and its header, or why the upload is refused whole: too large,
    /// unreadable, no header, another sender's, or older than the sender's roster held.
    /// Notes the header's sender and report date in `report`.
    async fn header(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        files: &[UploadFile],
        file_hash: &str,
        report: &mut UploadReport,
        not_its_sender: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Result<(Workbook, WorkbookRef), String>, IngestError> {
        let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
        if bytes > self.max_bytes {
            let r = FileError::TooLarge {
                total: bytes,
                max: self.max_bytes,
            };
            return Ok(Err(r.to_string()));
        }
        let book = match Workbook::read(files) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e.to_string())),
        };
        let batch = match self.source.workbook(&book, file_hash) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e.to_string())),
        };
        report.sender = Some(batch.sender.clone());
        report.report_date = Some(batch.report_date);
        if let Some(reason) = not_its_sender(&batch.sender) {
            return Ok(Err(reason));
        }
        let latest: Option<NaiveDate> = sqlx::query_scalar(
            "SELECT max(report_date) FROM file_uploads WHERE sender = $1 AND outcome = 'accepted'",
        )
        .bind(&batch.sender)
        .fetch_one(&mut **tx)
        .await?;
        if let Some(latest) = latest.filter(|l| *l > batch.report_date) {
            return Ok(Err(format!(
                "report date {} is older than sender {}'s roster already held ({latest})",
                batch.report_date, batch.sender
            )));
        }
        Ok(Ok((book, batch)))
    }

    /// What to publish: the records new or changed since `held`, then retractions of what is
    /// held and no longer listed (a rejected row's record counts as listed); each with
    /// whether it is a retraction. Counts them in `report`.
    fn to_publish(
        &self,
        records: Vec<FileRecord>,
        held: &BTreeMap<String, Held>,
        batch: &WorkbookRef,
        report: &mut UploadReport,
    ) -> Result<Vec<(FileRecord, bool)>, Invalid> {
        let mut listed: BTreeSet<String> = report
            .rejected
            .iter()
            .filter_map(|e| e.record_id.clone())
            .collect();
        let mut out: Vec<(FileRecord, bool)> = Vec::new();
        for rec in records {
            listed.insert(rec.id.clone());
            if held
                .get(&rec.id)
                .is_some_and(|h| h.content_hash == rec.content_hash)
            {
                report.unchanged += 1;
            } else {
                out.push((rec, false));
            }
        }
        for (id, h) in held {
            if listed.contains(id) {
                continue;
            }
            let rec = self.source.retract(&h.contract_type, &h.data, batch)?;
            out.push((rec, true));
        }
        report.published = out.iter().filter(|(_, r)| !r).count();
        report.retracted = out.iter().filter(|(_, r)| *r).count();
        Ok(out)
    }

    /// Publishes `out`'s messages, confirmed, telling `progress` every [`PROGRESS_CHUNK`].
    async fn publish(
        &self,
        out: &[(FileRecord, bool)],
        progress: UploadProgress<'_>,
    ) -> Result<(), IngestError> {
        let messages: Vec<OutgoingMessage> = out.iter().map(|(r, _)| r.message.clone()).collect();
        let mut published = 0;
        for chunk in messages.chunks(PROGRESS_CHUNK) {
            self.publisher.publish_batch(chunk).await?;
            published += chunk.len();
            progress(UploadStep::Published {
                done: published,
                total: messages.len(),
            });
        }
        Ok(())
    }

    /// Writes the upload's audit row and commits.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        mut report: UploadReport,
        bytes: usize,
    ) -> Result<UploadReport, IngestError> {
        let id: i64 =
            sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('file_uploads', 'id'))")
                .fetch_one(&mut *tx)
                .await?;
        report.upload_id = id;
        let body = serde_json::to_value(&report)
            .map_err(|e| Invalid::new(format!("upload report: {e}")))?;
        sqlx::query(
            "INSERT INTO file_uploads (id, uploaded_by, file_names, file_hash, bytes, sender,
                                       report_date, outcome, report)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(&report.uploaded_by)
        .bind(&report.files)
        .bind(&report.file_hash)
        .bind(bytes as i64)
        .bind(&report.sender)
        .bind(report.report_date)
        .bind(report.outcome.as_str())
        .bind(&body)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(system = %self.source.system(), upload = id,
            outcome = report.outcome.as_str(), uploaded_by = %report.uploaded_by,
            file_hash = %report.file_hash, sender = ?report.sender,
            report_date = ?report.report_date, rows = report.rows_read,
            published = report.published, unchanged = report.unchanged,
            retracted = report.retracted, rejected = report.rejected.len(),
            reason = ?report.reason, "upload processed");
        Ok(report)
    }

    /// The latest uploads' reports, newest first.
    pub async fn recent(&self, limit: i64) -> Result<Vec<UploadReport>, IngestError> {
        let rows: Vec<Value> =
            sqlx::query_scalar("SELECT report FROM file_uploads ORDER BY id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(&self.db.pool)
                .await?;
        Ok(rows
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }
}

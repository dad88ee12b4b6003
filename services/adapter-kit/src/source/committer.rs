//! The page committer: publishes and commits a sync's prepared pages, in order, in a task of
//! its own, while the source reads and prepares the next page.
//!
//! Each page goes through the same steps as before, one page after the other: published
//! (pipelined, every confirm awaited), [`PageEvent::Confirmed`], its rows and watermark
//! committed ([`Store::commit`], one statement), [`PageEvent::Committed`], counted. Only the
//! reading of the pages after it (HTTP, dedup look-up, mapping, serialising) runs beside it.
//! Room for one prepared page between the two: the source is at most two pages ahead of the
//! last commit, and no page is published before the one before it is committed, so that a
//! crash leaves at most one page confirmed and not committed, as before.
//!
//! The first page that fails to publish or commit stops the committer: nothing after it is
//! published or committed, and the sync ends with its error. Shutdown is seen between pages:
//! what was committed stays, the pages not yet published are dropped (read again at the
//! next sync) and the sync ends with [`SourceError::Cancelled`].
//! Dropping the committer aborts its task (an aborted sync leaves nothing running).
//!
//! Owns the order of publish and commit within a sync; knows nothing of any source.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, Utc};
use hub_runtime::messaging::{OutgoingMessage, Publisher};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{PageEvent, PageHook, SyncReport};
use crate::checkpoint::{RecordRow, Store, Watermark};
use crate::error::SourceError;
use crate::metrics::AdapterMetrics;

/// A page read and prepared: what to publish, what to record, and its counts.
pub(super) struct PreparedPage {
    /// 1-based within the sync.
    pub page: u64,
    /// Raw records read on the page (duplicates within it included).
    pub read: u64,
    pub messages: Vec<OutgoingMessage>,
    pub rows: Vec<RecordRow>,
    pub watermark: Option<Watermark>,
    /// The sync's watermark once this page is committed (for the lag metric).
    pub lag_from: Option<DateTime<FixedOffset>>,
    /// The published records' spans, ended once the broker confirmed them.
    pub spans: Vec<tracing::Span>,
    pub skipped: u64,
    pub invalid: u64,
    pub issues: u64,
    /// Time the source took to read the page (since the page before was handed over).
    pub read_in: Duration,
    /// Time the page took to prepare (dedup look-up, mapping, serialising).
    pub prepared_in: Duration,
}

/// What the committer needs of the engine.
#[derive(Clone)]
pub(super) struct CommitParts {
    pub system: String,
    pub store: Store,
    pub publisher: Arc<Publisher>,
    pub metrics: AdapterMetrics,
    pub hook: Option<PageHook>,
    pub shutdown: CancellationToken,
}

/// The committer of one sync (started at its first page).
pub(super) struct Committer {
    parts: CommitParts,
    running: Option<Running>,
    /// The last page committed (0: none yet).
    committed: Arc<AtomicU64>,
}

struct Running {
    tx: mpsc::Sender<PreparedPage>,
    /// What it committed, and how it ended.
    task: JoinHandle<(SyncReport, Result<(), SourceError>)>,
}

impl Drop for Committer {
    fn drop(&mut self) {
        if let Some(r) = &self.running {
            r.task.abort();
        }
    }
}

impl Committer {
    pub fn new(parts: CommitParts) -> Self {
        Self {
            parts,
            running: None,
            committed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The last page committed (0: none yet).
    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Hands `page` over; waits while the page before it is still queued. `Err` when the
    /// committer stopped (the error of the page that failed, or [`SourceError::Cancelled`]
    /// when it stopped at shutdown); the pages it committed are counted in `report`.
    pub async fn send(
        &mut self,
        page: PreparedPage,
        report: &mut SyncReport,
    ) -> Result<(), SourceError> {
        let running = self
            .running
            .get_or_insert_with(|| start(self.parts.clone(), self.committed.clone()));
        if running.tx.send(page).await.is_ok() {
            return Ok(());
        }
        // the task ended: its error, or shutdown
        self.finish(report).await?;
        Err(SourceError::Cancelled)
    }

    /// Waits until every page handed over is committed (or the committer stopped) and adds
    /// what it committed to `report`. Idempotent: a second call has nothing left to wait for.
    pub async fn finish(&mut self, report: &mut SyncReport) -> Result<(), SourceError> {
        let Some(Running { tx, task }) = self.running.take() else {
            return Ok(());
        };
        drop(tx);
        let (committed, ended) = match task.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // only our own Drop aborts it, and then no one is waiting here
            Err(_) => (SyncReport::default(), Err(SourceError::Cancelled)),
        };
        report.pages = report.pages.max(committed.pages);
        report.read += committed.read;
        report.published += committed.published;
        report.skipped_unchanged += committed.skipped_unchanged;
        report.invalid += committed.invalid;
        report.field_issues += committed.field_issues;
        ended
    }
}

fn start(parts: CommitParts, committed: Arc<AtomicU64>) -> Running {
    // room for one page between the source and the committer (see the module documentation)
    let (tx, rx) = mpsc::channel(1);
    let task = tokio::spawn(run(parts, rx, committed).instrument(tracing::Span::current()));
    Running { tx, task }
}

async fn event(parts: &CommitParts, e: PageEvent) {
    if let Some(h) = &parts.hook {
        h(e).await;
    }
}

/// Publishes and commits each page in turn until the source is done, a page fails, or
/// shutdown; returns what it committed, and how it ended.
async fn run(
    parts: CommitParts,
    rx: mpsc::Receiver<PreparedPage>,
    committed: Arc<AtomicU64>,
) -> (SyncReport, Result<(), SourceError>) {
    let mut report = SyncReport::default();
    let ended = commit_pages(&parts, rx, &committed, &mut report).await;
    (report, ended)
}

async fn commit_pages(
    parts: &CommitParts,
    mut rx: mpsc::Receiver<PreparedPage>,
    committed: &AtomicU64,
    report: &mut SyncReport,
) -> Result<(), SourceError> {
    let mut idle = Instant::now();
    while let Some(mut p) = rx.recv().await {
        if parts.shutdown.is_cancelled() {
            // this page and any after it are read again at the next sync
            return Err(SourceError::Cancelled);
        }
        let waited = idle.elapsed();
        let t = Instant::now();
        parts.publisher.publish_batch(&p.messages).await?;
        let published_in = t.elapsed();
        // the records' spans end once the broker has them
        drop(std::mem::take(&mut p.spans));
        event(parts, PageEvent::Confirmed { page: p.page }).await;
        let t = Instant::now();
        parts.store.commit(&p.rows, p.watermark.as_ref()).await?;
        let committed_in = t.elapsed();
        if let Some(ts) = p.lag_from {
            parts
                .metrics
                .set_lag((Utc::now() - ts.with_timezone(&Utc)).num_seconds());
        }
        committed.store(p.page, Ordering::Release);
        count_page(parts, report, &p);
        // where a page's time goes (the source's reading runs beside the publish and commit
        // of the page before; `waited`: this committer idle, waiting for the source)
        tracing::debug!(system = %parts.system, page = p.page,
            read_ms = p.read_in.as_millis() as u64, prepare_ms = p.prepared_in.as_millis() as u64,
            waited_ms = waited.as_millis() as u64, publish_ms = published_in.as_millis() as u64,
            commit_ms = committed_in.as_millis() as u64, "page times");
        event(parts, PageEvent::Committed { page: p.page }).await;
        idle = Instant::now();
    }
    Ok(())
}

/// Counts a committed page in the metrics and the sync's report.
fn count_page(parts: &CommitParts, r: &mut SyncReport, p: &PreparedPage) {
    let published = p.messages.len() as u64;
    let (page, read, skipped, invalid, issues) = (p.page, p.read, p.skipped, p.invalid, p.issues);
    let m = &parts.metrics;
    m.add_read(read);
    m.add_published(published);
    m.add_skipped(skipped);
    m.add_invalid(invalid);
    m.add_issues(issues);
    m.add_page();
    r.pages = page;
    r.read += read;
    r.published += published;
    r.skipped_unchanged += skipped;
    r.invalid += invalid;
    r.field_issues += issues;
    tracing::debug!(system = %parts.system, page, read, published, skipped, invalid,
        "page committed");
}

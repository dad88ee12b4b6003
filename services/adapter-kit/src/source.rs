//! The [`Source`] trait and the [`SyncEngine`] that drives it.
//!
//! A source knows its system's paging and its record format; the engine knows everything
//! else. A sync is a loop the source writes itself:
//!
//! ```text
//! for each page the source fetches:
//!     ctx.emit(id, raw)            for each raw record on it
//!     ctx.commit_page(watermark)   the page is done
//! ```
//!
//! [`SyncContext::commit_page`] then, for the page's records:
//! 1. looks up their committed content hashes (and those of the pages handed to the
//!    committer and not committed yet) and skips the unchanged ones (dedup);
//! 2. maps the rest with [`Source::map`] into the source's contract, or counts and logs the
//!    record as invalid when it cannot form one;
//! 3. hands the page to the sync's committer ([`committer`]) and returns, so that the source
//!    reads the next page while this one is published and committed; the committer, one
//!    page after the other:
//! 4. publishes the contracts to `coophub.source` with [`Publisher::publish_batch`]
//!    (pipelined; returns once the broker confirmed every message), each under the
//!    deterministic id `Envelope::deterministic_id([system, source id, content hash])`;
//! 5. in ONE statement records the hashes and advances the watermark ([`Store::commit`]).
//!
//! A sync returns once every page it handed over is committed (or one failed: its error).
//!
//! Tracing: a sync is a span `sync <system>` whose fetches are client spans
//! ([`crate::http`]); each published record starts a trace of its own (one trace per source
//! record): a producer span, linked to the fetches its page was read from, whose context is
//! the envelope's `traceparent`, and ends once the broker confirmed the page.
//!
//! A crash anywhere before 5 reads the page again at the next sync: records published but not
//! committed are published again with the same message ids, which consumers drop. A page is
//! published only once the page before it is committed: at most one page is ever confirmed
//! and not committed.
//!
//! Owns the page protocol; knows nothing of any one system's API.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use futures::future::BoxFuture;
use hub_contracts::registry::Contract;
use hub_contracts::v1::{SourceMeta, SourceRef};
use hub_contracts::{Envelope, content_hash};
use hub_runtime::messaging::{OutgoingMessage, Publisher};
use hub_runtime::telemetry::{TraceContext, propagation};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::checkpoint::{RecordRow, Store, Stored, Watermark};
use crate::error::{Invalid, SourceError};
use crate::metrics::AdapterMetrics;

mod committer;

use committer::{CommitParts, Committer, PreparedPage};

/// A source system the hub reads: its name, a connectivity-and-credentials check, a sync
/// that pages through it, and the mapping of one raw record into the source's contract.
pub trait Source: Send + Sync + Sized + 'static {
    /// The contract each record becomes (`source.cooperative.v1`, …).
    type Record: Contract;

    /// The system's name in source references: `coop-alliance`, `loan-fund`, `ntm`.
    fn system(&self) -> &str;

    /// Verifies that the system answers AND accepts the credentials (one cheap request).
    fn check(&self) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Reads what changed since the context's watermark (or markers), page by page: emit each
    /// record, then commit the page. Returning `Err` leaves the uncommitted page to the next
    /// sync.
    fn sync(
        &self,
        ctx: &mut SyncContext<'_, Self>,
    ) -> impl Future<Output = Result<(), SourceError>> + Send;

    /// Maps one raw record, normalising only what is certain and flagging the rest in
    /// `meta.issues`; `Err` when it cannot form the contract at all. Pure: no I/O.
    fn map(&self, id: &str, raw: &Value, meta: SourceMeta) -> Result<Self::Record, Invalid>;
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: u64,
    pub read: u64,
    pub published: u64,
    pub skipped_unchanged: u64,
    pub invalid: u64,
    pub field_issues: u64,
}

/// A step of the page protocol, for tests that stop an adapter at an exact point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEvent {
    /// The broker confirmed page `page` (1-based within this sync); not committed yet.
    Confirmed { page: u64 },
    /// Page `page` is committed.
    Committed { page: u64 },
}

/// Awaited at each [`PageEvent`]; a hook that never returns freezes the sync right there.
pub type PageHook = Arc<dyn Fn(PageEvent) -> BoxFuture<'static, ()> + Send + Sync>;

struct Pending {
    id: String,
    raw: Value,
    marker: Option<String>,
}

/// A sync in progress: what the source emits into, page by page.
pub struct SyncContext<'a, S: Source> {
    source: &'a S,
    engine: &'a EngineParts,
    watermark: Option<Watermark>,
    pending: Vec<Pending>,
    report: SyncReport,
    /// Pages handed to the committer so far.
    pages: u64,
    /// What this sync handed to the committer and may not be committed yet, by source id,
    /// with the page that carried it (kept until that page is committed, so a few pages at
    /// most).
    handed: HashMap<String, (u64, Stored)>,
    /// The ids each of those pages carried, oldest first.
    handed_pages: std::collections::VecDeque<(u64, Vec<String>)>,
    /// When the last page was handed over (or the sync began).
    handed_at: std::time::Instant,
    committer: Committer,
}

impl<'a, S: Source> SyncContext<'a, S> {
    /// The watermark committed before this sync began, or that of the last page handed to
    /// the committer (committed by the time the sync succeeds).
    pub fn watermark(&self) -> Option<&Watermark> {
        self.watermark.as_ref()
    }

    /// True once shutdown was requested: a source may stop between pages.
    pub fn is_cancelled(&self) -> bool {
        self.engine.shutdown.is_cancelled()
    }

    /// Adds a raw record, under its id in the source system, to the current page.
    pub fn emit(&mut self, id: impl Into<String>, raw: Value) {
        self.pending.push(Pending {
            id: id.into(),
            raw,
            marker: None,
        });
    }

    /// Like [`SyncContext::emit`], remembering the source's own change marker (say,
    /// `3:approved` for an NTM report's revision and status) for [`SyncContext::markers`].
    pub fn emit_with_marker(&mut self, id: impl Into<String>, raw: Value, marker: String) {
        self.pending.push(Pending {
            id: id.into(),
            raw,
            marker: Some(marker),
        });
    }

    /// A raw record without a usable id: it cannot be tracked, only counted and logged.
    pub fn reject_unidentified(&mut self, reason: &str) {
        self.report.read += 1;
        self.report.invalid += 1;
        self.engine.metrics.add_read(1);
        self.engine.metrics.add_invalid(1);
        tracing::error!(system = %self.source.system(), id = "(none)", %reason,
            "invalid record: not published");
    }

    /// The markers of these ids, committed or handed to the committer by this sync (absent:
    /// never committed, or committed without one).
    pub async fn markers(&self, ids: &[String]) -> Result<HashMap<String, String>, SourceError> {
        Ok(self
            .stored(ids)
            .await?
            .into_iter()
            .filter_map(|(id, s)| s.marker.map(|m| (id, m)))
            .collect())
    }

    /// What is remembered of these ids: committed, or handed to the committer by this sync
    /// (which wins: it is newer).
    async fn stored(&self, ids: &[String]) -> Result<HashMap<String, Stored>, SourceError> {
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !self.handed.contains_key(*id))
            .cloned()
            .collect();
        let mut stored = self.engine.store.stored(&unknown).await?;
        for id in ids {
            if let Some((_, s)) = self.handed.get(id) {
                stored.insert(id.clone(), s.clone());
            }
        }
        Ok(stored)
    }

    /// Forgets what pages the committer has committed carried: the store holds it now
    /// (unless a later page carried the same id again).
    fn forget_committed(&mut self) {
        let committed = self.committer.committed();
        while self
            .handed_pages
            .front()
            .is_some_and(|(page, _)| *page <= committed)
        {
            let Some((page, ids)) = self.handed_pages.pop_front() else {
                break;
            };
            for id in ids {
                if self.handed.get(&id).is_some_and(|(p, _)| *p == page) {
                    self.handed.remove(&id);
                }
            }
        }
    }

    /// Prepares the page's changed records and hands the page to the sync's committer, which
    /// publishes them (confirmed), then records their hashes and advances the watermark to
    /// `watermark` in one statement, while the source reads on. Returns the committer's
    /// error when an earlier page failed, and [`SourceError::Cancelled`] (once what was
    /// handed over is committed) when shutdown was requested.
    pub async fn commit_page(&mut self, watermark: Option<Watermark>) -> Result<(), SourceError> {
        let read_in = self.handed_at.elapsed();
        let started = std::time::Instant::now();
        self.pages += 1;
        let page = self.pages;
        let system = self.source.system().to_owned();
        let pending = std::mem::take(&mut self.pending);
        let read = pending.len() as u64;
        let pending = last_readings(pending);
        let ids: Vec<String> = pending.iter().map(|p| p.id.clone()).collect();
        self.forget_committed();
        let stored = self.stored(&ids).await?;
        let mut out = PageOut {
            skipped: read - pending.len() as u64,
            ..PageOut::default()
        };
        self.prepare(&system, pending, &stored, &mut out);
        for r in &out.rows {
            let s = Stored {
                content_hash: r.content_hash.clone(),
                marker: r.marker.clone(),
            };
            self.handed.insert(r.source_id.clone(), (page, s));
        }
        let carried = out.rows.iter().map(|r| r.source_id.clone()).collect();
        self.handed_pages.push_back((page, carried));
        if let Some(w) = &watermark
            && self.watermark.as_ref().is_none_or(|old| old < w)
        {
            self.watermark = Some(w.clone());
        }
        let prepared = PreparedPage {
            page,
            read,
            messages: out.messages,
            rows: out.rows,
            watermark,
            lag_from: self.watermark.as_ref().map(|w| w.ts),
            spans: out.spans,
            skipped: out.skipped,
            invalid: out.invalid,
            issues: out.issues,
            read_in,
            prepared_in: started.elapsed(),
        };
        self.committer.send(prepared, &mut self.report).await?;
        self.handed_at = std::time::Instant::now();
        if self.engine.shutdown.is_cancelled() {
            self.finish().await?;
            return Err(SourceError::Cancelled);
        }
        Ok(())
    }

    /// Waits until every page handed over is committed and counts them in the report.
    async fn finish(&mut self) -> Result<(), SourceError> {
        self.committer.finish(&mut self.report).await
    }

    /// Maps the page's records that changed (by content hash) into messages, and the rows to
    /// record for every record: changed, invalid, or the same content under a new marker.
    fn prepare(
        &self,
        system: &str,
        pending: Vec<Pending>,
        stored: &HashMap<String, Stored>,
        out: &mut PageOut,
    ) {
        let fetched_at = Utc::now().with_timezone(&hub_normalise::datetime::vn_offset());
        let fetches = crate::http::page_fetches();
        for p in pending {
            let hash = content_hash(&p.raw);
            if stored.get(&p.id).is_some_and(|s| s.content_hash == hash) {
                out.skipped += 1;
                if let Some(m) = &p.marker
                    && stored.get(&p.id).and_then(|s| s.marker.as_ref()) != Some(m)
                {
                    // same content under a new marker: remember the marker, publish nothing
                    out.rows.push(RecordRow {
                        source_id: p.id,
                        content_hash: hash,
                        marker: Some(m.clone()),
                        message_id: None,
                        invalid_reason: None,
                    });
                }
                continue;
            }
            let meta = SourceMeta {
                source: SourceRef::new(system, &p.id),
                fetched_at,
                content_hash: hash.clone(),
                raw: p.raw.clone(),
                issues: Vec::new(),
            };
            match self.source.map(&p.id, &p.raw, meta) {
                Ok(record) => {
                    let id = Envelope::<Value>::deterministic_id(&[system, &p.id, &hash]);
                    let (span, traceparent) = record_span::<S::Record>(system, &id, &fetches);
                    out.spans.push(span);
                    let env = Envelope::new(
                        id.clone(),
                        format!("{}:adapter:{system}", hub_contracts::HUB_SOURCE_PREFIX),
                        record,
                    )
                    .with_subject(format!("{system}/{}", p.id))
                    .with_traceparent(Some(traceparent));
                    let message = OutgoingMessage::from_envelope(&env);
                    let n = body_issues(&message.body);
                    if n > 0 {
                        out.issues += n;
                        log_issues(system, &p.id, &env.data);
                    }
                    out.messages.push(message);
                    out.rows.push(RecordRow {
                        source_id: p.id,
                        content_hash: hash,
                        marker: p.marker,
                        message_id: Some(id),
                        invalid_reason: None,
                    });
                }
                Err(Invalid { reason }) => {
                    out.invalid += 1;
                    tracing::error!(%system, id = %p.id, %reason, "invalid record: not published");
                    out.rows.push(RecordRow {
                        source_id: p.id,
                        content_hash: hash,
                        marker: p.marker,
                        message_id: None,
                        invalid_reason: Some(reason),
                    });
                }
            }
        }
    }
}

/// The same id twice in one page: the later reading wins.
fn last_readings(mut pending: Vec<Pending>) -> Vec<Pending> {
    let mut last: HashMap<String, usize> = HashMap::new();
    for (i, p) in pending.iter().enumerate() {
        last.insert(p.id.clone(), i);
    }
    let mut keep = 0usize;
    pending.retain(|p| {
        let i = keep;
        keep += 1;
        last.get(&p.id) == Some(&i)
    });
    pending
}

/// What a page publishes and records, and its counts.
#[derive(Default)]
struct PageOut {
    /// The published records' spans, ended once the broker confirmed them.
    spans: Vec<tracing::Span>,
    messages: Vec<OutgoingMessage>,
    rows: Vec<RecordRow>,
    skipped: u64,
    invalid: u64,
    issues: u64,
}

/// The span of a published record: a trace of its own, linked to the fetches its page was
/// read from; and its `traceparent` (a fresh root when no OpenTelemetry layer runs). Ids
/// only: what the record says stays out of it.
fn record_span<T: Contract>(
    system: &str,
    message_id: &str,
    fetches: &[String],
) -> (tracing::Span, String) {
    let span = tracing::info_span!(parent: None, "record",
        otel.name = %format!("publish {}", T::TYPE), otel.kind = "producer",
        messaging.system = "rabbitmq", messaging.operation.type = "send",
        messaging.destination.name = T::EXCHANGE, messaging.message.id = %message_id,
        hub.contract = T::TYPE, hub.source.system = %system);
    for f in fetches {
        propagation::link(&span, f);
    }
    let traceparent =
        propagation::traceparent(&span).unwrap_or_else(|| TraceContext::new_root().header());
    (span, traceparent)
}

/// The issues a record carries, read from its message body (the kit does not know the
/// type): a scan of the bytes already serialised, which allocates nothing for the rest of
/// the record, rather than serialising the record once more.
fn body_issues(body: &[u8]) -> u64 {
    use serde::de::IgnoredAny;
    #[derive(serde::Deserialize)]
    struct Body {
        data: Data,
    }
    #[derive(serde::Deserialize)]
    struct Data {
        meta: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(default)]
        issues: Vec<IgnoredAny>,
    }
    serde_json::from_slice::<Body>(body).map_or(0, |b| b.data.meta.issues.len() as u64)
}

fn log_issues<T: Contract>(system: &str, id: &str, record: &T) {
    let Ok(v) = serde_json::to_value(record) else {
        return;
    };
    for issue in v["meta"]["issues"].as_array().into_iter().flatten() {
        // FieldIssue.raw never holds personal data (the mapping leaves it out for such fields)
        tracing::warn!(%system, %id, field = %issue["field"].as_str().unwrap_or(""),
            problem = %issue["problem"].as_str().unwrap_or(""), raw = %issue["raw"],
            "field flagged in meta.issues");
    }
}

struct EngineParts {
    store: Store,
    publisher: Arc<Publisher>,
    metrics: AdapterMetrics,
    hook: Option<PageHook>,
    shutdown: CancellationToken,
}

impl EngineParts {
    fn commit_parts(&self, system: &str) -> CommitParts {
        CommitParts {
            system: system.to_owned(),
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            metrics: self.metrics.clone(),
            hook: self.hook.clone(),
            shutdown: self.shutdown.clone(),
        }
    }
}

/// Runs checks and syncs of one source over its store and the broker.
pub struct SyncEngine<S: Source> {
    source: Arc<S>,
    parts: EngineParts,
}

impl<S: Source> SyncEngine<S> {
    /// An engine for `source`, keeping state in `store`, publishing with `publisher`.
    pub fn new(
        source: S,
        store: Store,
        publisher: Arc<Publisher>,
        metrics: AdapterMetrics,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            source: Arc::new(source),
            parts: EngineParts {
                store,
                publisher,
                metrics,
                hook: None,
                shutdown,
            },
        }
    }

    /// Awaits `hook` at each page event (tests stop an adapter at an exact point with it).
    pub fn with_hook(mut self, hook: PageHook) -> Self {
        self.parts.hook = Some(hook);
        self
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn store(&self) -> &Store {
        &self.parts.store
    }

    pub fn metrics(&self) -> &AdapterMetrics {
        &self.parts.metrics
    }

    /// [`Source::check`], counted as an error when it fails.
    pub async fn check(&self) -> Result<(), SourceError> {
        let r = self.source.check().await;
        if r.is_err() {
            self.parts.metrics.add_error();
        }
        r
    }

    /// One sync from the committed checkpoint to the source's present.
    pub async fn sync_once(&self) -> Result<SyncReport, SourceError> {
        let started = std::time::Instant::now();
        let watermark = match self.parts.store.watermark().await {
            Ok(w) => w,
            Err(e) => {
                self.parts.metrics.add_error();
                return Err(e.into());
            }
        };
        let system = self.source.system();
        let mut ctx = SyncContext {
            source: &*self.source,
            engine: &self.parts,
            watermark,
            pending: Vec::new(),
            report: SyncReport::default(),
            pages: 0,
            handed: HashMap::new(),
            handed_pages: std::collections::VecDeque::new(),
            handed_at: std::time::Instant::now(),
            committer: Committer::new(self.parts.commit_parts(system)),
        };
        let span = tracing::info_span!(parent: None, "sync",
            otel.name = %format!("sync {system}"), hub.source.system = %system);
        let result = crate::http::noting_page_fetches(
            async {
                let mut result = self.source.sync(&mut ctx).await;
                if result.is_ok() && !ctx.pending.is_empty() {
                    // emitted but not committed by the source: commit without moving the
                    // watermark
                    result = ctx.commit_page(None).await;
                }
                // whatever the source ended with, the pages it handed over are committed
                // (or the first that fails is the sync's error)
                let finished = ctx.finish().await;
                result.and(finished)
            }
            .instrument(span),
        )
        .await;
        let report = ctx.report.clone();
        match result {
            Ok(()) => {
                self.parts.metrics.set_last_success(Utc::now().timestamp());
                tracing::info!(%system, pages = report.pages, read = report.read,
                    published = report.published, skipped_unchanged = report.skipped_unchanged,
                    invalid = report.invalid, field_issues = report.field_issues,
                    elapsed_ms = started.elapsed().as_millis() as u64, "sync finished");
                Ok(report)
            }
            Err(e) => {
                if !matches!(e, SourceError::Cancelled) {
                    self.parts.metrics.add_error();
                }
                tracing::warn!(%system, error = %e, pages = report.pages,
                    published = report.published, "sync stopped; committed pages are kept");
                Err(e)
            }
        }
    }
}

/// Now at +07:00 (what `fetched_at` uses).
pub fn now_vn() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&hub_normalise::datetime::vn_offset())
}

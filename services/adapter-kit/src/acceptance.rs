//! The acceptance test kit (feature `acceptance`), like Airbyte's connector acceptance
//! tests: every adapter runs the same checks against its simulator, on the real RabbitMQ and
//! PostgreSQL, in a fresh database and topology namespace.
//!
//! An adapter implements [`Target`] in its `tests/acceptance.rs` (how to build it from a
//! running simulator, what the simulator's truth says it serves, what an emitted record
//! says) and adds one line: `hub_adapter_kit::acceptance_tests!(MyTarget);`, which expands
//! to five tests:
//!
//! 1. [`check_and_credentials`]: `check()` passes with good credentials and fails clearly
//!    (a 401 naming the system) with bad ones; a sync with bad ones publishes nothing;
//! 2. [`full_sync`]: a full sync emits every current record exactly once, with the version
//!    the truth lists (a deliberately bad record is either emitted with its issues or
//!    remembered as invalid), and a second sync emits nothing;
//! 3. [`incremental_sync`]: after `mutate`, a sync emits exactly the changed records;
//! 4. [`kill_and_resume`]: an adapter frozen right after the broker confirmed its third page
//!    (before the commit) is aborted, restarted, aborted again after its second commit, and
//!    restarted: nothing is lost, nothing committed is republished, and every duplicate
//!    carries the same message id as its first copy;
//! 5. [`changes_while_paging`]: the source changes in the middle of a sync (edited rows move
//!    to the end of its order); after that sync and the next, every record was delivered in
//!    its current version.
//!
//! Emitted records are observed through a test queue bound to `coophub.source` (`source.#`)
//! in the test's namespace. Owns test scaffolding only; nothing here runs in production.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use futures::FutureExt;
use hub_contracts::registry::exchanges;
use hub_contracts::{Contract, RawEnvelope, content_hash};
use hub_runtime::messaging::{Broker, Publisher, QueueSpec};
use hub_runtime::storage::Database;
use hub_simulators::{
    Credentials, MutationRequest, RunningSims, SimConfig, System, Truth, WorldConfig,
};
use hub_test_support::TestEnv;
use lapin::options::BasicGetOptions;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{MIGRATOR, Store, schema_for};
use crate::metrics::AdapterMetrics;
use crate::source::{PageEvent, Source, SyncEngine};

/// What the acceptance kit needs to know of an adapter.
pub trait Target: 'static {
    type Source: Source;
    /// The simulated system it reads.
    const SYSTEM: System;
    /// The adapter configured for `sims` with `credentials` and `page_size` records (or
    /// reports) per page.
    fn build(sims: &RunningSims, credentials: &Credentials, page_size: usize) -> Self::Source;
    /// The current records the truth lists for this system, with the marker a delivery of
    /// each must carry (registry version, loan `modified`, report revision).
    fn expected(truth: &Truth) -> Vec<Expected>;
    /// The (source id, marker) an emitted record's `data` carries.
    fn observed(data: &Value) -> Option<(String, String)>;
}

/// One record the simulator serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub id: String,
    pub marker: String,
    /// Deliberately invalid: either delivered with issues or remembered as invalid.
    pub bad: bool,
}

/// A message seen on the test queue.
#[derive(Debug, Clone)]
pub struct Observed {
    pub message_id: String,
    pub envelope: RawEnvelope,
}

/// The present of acceptance worlds (fixed, so runs are reproducible).
pub fn world_now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").unwrap_or_default()
}

/// A world small enough to be quick and big enough to page: ~130 registry records, ~150
/// loans, 212 NTM reports, 12 deliberately bad records.
pub fn world(seed: u64) -> WorldConfig {
    WorldConfig {
        seed,
        organisations: 140,
        loans: 140,
        report_years: vec![2024, 2025],
        bad_records: 12,
        now: world_now(),
        noise: Default::default(),
    }
}

/// Credentials every server rejects.
pub fn bad_credentials(good: &Credentials) -> Credentials {
    Credentials {
        coop_api_key: format!("{}-wrong", good.coop_api_key),
        loan_client_id: good.loan_client_id.clone(),
        loan_client_secret: format!("{}-wrong", good.loan_client_secret),
        ntm_user: good.ntm_user.clone(),
        ntm_password: format!("{}-wrong", good.ntm_password),
    }
}

/// The test's broker, database, simulators and observer queue.
pub struct Harness {
    pub env: TestEnv,
    pub sims: RunningSims,
    pub broker: Broker,
    pub publisher: Arc<Publisher>,
    observer: QueueSpec,
    channel: lapin::Channel,
}

impl Harness {
    /// A fresh database and namespace, the simulators over `world`, and a queue bound to
    /// `coophub.source` that sees every source record published in this namespace.
    pub async fn start(world: WorldConfig) -> Self {
        let env = TestEnv::new().await;
        let sims = hub_simulators::start(SimConfig::for_tests(world))
            .await
            .expect("simulators start");
        let broker = env.broker("acceptance");
        let channel = broker.channel().await.expect("broker reachable");
        let observer = QueueSpec::new("acceptance.observer").bind(exchanges::SOURCE, "source.#");
        env.topology()
            .declare_queue(&channel, &observer, &env.retry_policy())
            .await
            .expect("declare the observer queue");
        let publisher = Arc::new(Publisher::new(broker.clone()));
        Self {
            env,
            sims,
            broker,
            publisher,
            observer,
            channel,
        }
    }

    /// The adapter's state in this test's database (schema `adapter_<system>`).
    pub async fn store(&self, system: &str) -> Store {
        let db = Database::connect(
            &self.env.config.database_url,
            &schema_for(system),
            Some(&MIGRATOR),
        )
        .await
        .expect("adapter database");
        Store::new(db, system)
    }

    /// An engine for `source` over this test's broker and database.
    pub async fn engine<S: Source>(&self, source: S) -> SyncEngine<S> {
        let store = self.store(source.system()).await;
        let metrics = AdapterMetrics::standalone(source.system());
        SyncEngine::new(
            source,
            store,
            self.publisher.clone(),
            metrics,
            CancellationToken::new(),
        )
    }

    /// Takes every message waiting on the observer queue (publishes are confirmed before a
    /// sync returns, so after it they are all there).
    pub async fn drain(&self) -> Vec<Observed> {
        let queue = self.env.topology().name(&self.observer.name);
        let mut out = Vec::new();
        while let Some(m) = self
            .channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            let envelope = RawEnvelope::parse(&m.delivery.data).unwrap_or_else(|e| {
                panic!("an adapter published something that is not a valid envelope: {e}")
            });
            let message_id = m
                .delivery
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert_eq!(
                message_id, envelope.id,
                "the AMQP message id is the envelope id"
            );
            out.push(Observed {
                message_id,
                envelope,
            });
        }
        out
    }

    /// Deletes the test's queues and database, stops the simulators.
    pub async fn finish(self) {
        let _ = self.channel.close(200, "done".into()).await;
        self.broker.close().await;
        self.env
            .delete_queues(std::slice::from_ref(&self.observer))
            .await;
        self.env.drop_database().await;
        self.sims.shutdown().await;
    }
}

/// Deliveries per source id: (marker, message id) in arrival order.
pub type Deliveries = BTreeMap<String, Vec<(String, String)>>;

/// Groups observed messages of `T` by source id, checking each is a well-formed record of
/// the adapter's contract: the right type and system, the content hash of its raw record,
/// the deterministic message id.
pub fn deliveries<T: Target>(observed: &[Observed]) -> Deliveries {
    let system = T::SYSTEM.as_str();
    let mut out: Deliveries = BTreeMap::new();
    for o in observed {
        let ty = <<T::Source as Source>::Record as Contract>::TYPE;
        if o.envelope.ty != ty {
            continue;
        }
        o.envelope
            .clone()
            .decode::<<T::Source as Source>::Record>()
            .unwrap_or_else(|e| panic!("{system}: published data does not decode: {e}"));
        let data = &o.envelope.data;
        let meta = &data["meta"];
        assert_eq!(meta["source"]["system"], system, "{data}");
        let id = meta["source"]["id"].as_str().unwrap_or_default().to_owned();
        let hash = meta["content_hash"].as_str().unwrap_or_default();
        assert_eq!(
            hash,
            content_hash(&meta["raw"]),
            "{system}/{id}: meta.content_hash is the hash of meta.raw"
        );
        assert_eq!(
            o.message_id,
            hub_contracts::Envelope::<Value>::deterministic_id(&[system, &id, hash]),
            "{system}/{id}: the message id is deterministic"
        );
        let (oid, marker) = T::observed(data)
            .unwrap_or_else(|| panic!("{system}: cannot read id and marker of {data}"));
        assert_eq!(oid, id, "{system}: the record's own id is its source id");
        out.entry(id)
            .or_default()
            .push((marker, o.message_id.clone()));
    }
    out
}

/// Checks that `delivered` holds every expected record with its current marker, none other,
/// and that bad records are either delivered or remembered as invalid. Returns how many were
/// delivered and how many invalid.
pub fn assert_complete(
    system: &str,
    expected: &[Expected],
    delivered: &Deliveries,
    invalid: &BTreeSet<String>,
) -> (usize, usize) {
    let by_id: BTreeMap<&str, &Expected> = expected.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    for e in expected {
        match delivered.get(&e.id) {
            Some(d) => {
                let (marker, _) = &d[d.len() - 1];
                if *marker != e.marker {
                    wrong.push(format!("{} has {marker}, the source {}", e.id, e.marker));
                }
            }
            None if e.bad && invalid.contains(&e.id) => {}
            None => missing.push(e.id.clone()),
        }
    }
    let unknown: Vec<&String> = delivered
        .keys()
        .filter(|id| !by_id.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{system}: {} record(s) never delivered: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert!(wrong.is_empty(), "{system}: stale deliveries: {wrong:?}");
    assert!(
        unknown.is_empty(),
        "{system}: delivered records the source does not serve: {unknown:?}"
    );
    let invalid_expected = expected
        .iter()
        .filter(|e| invalid.contains(&e.id))
        .inspect(|e| {
            assert!(
                e.bad,
                "{system}: {} was rejected but is a good record",
                e.id
            )
        })
        .count();
    (delivered.len(), invalid_expected)
}

async fn invalid_ids(store: &Store) -> BTreeSet<String> {
    store
        .invalid_records()
        .await
        .expect("invalid records")
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// 1. `check()` passes with good credentials and fails clearly with bad ones.
pub async fn check_and_credentials<T: Target>() {
    let h = Harness::start(world(11)).await;
    let system = T::SYSTEM.as_str();
    let good = h.engine(T::build(&h.sims, &h.sims.credentials, 50)).await;
    good.check()
        .await
        .unwrap_or_else(|e| panic!("{system}: check with good credentials: {e}"));

    let bad = h
        .engine(T::build(&h.sims, &bad_credentials(&h.sims.credentials), 50))
        .await;
    let e = bad.check().await.expect_err("bad credentials are rejected");
    assert!(e.is_unauthorized(), "{system}: {e}");
    let text = e.to_string();
    assert!(
        text.contains(system) && text.contains("401"),
        "the error names the system and the status: {text}"
    );
    let e = bad
        .sync_once()
        .await
        .expect_err("a sync with bad credentials fails");
    assert!(e.is_unauthorized(), "{system}: {e}");
    assert!(h.drain().await.is_empty(), "nothing published");
    assert_eq!(bad.store().watermark().await.expect("read"), None);
    assert_eq!(bad.metrics().errors(), 2, "both failures counted");
    h.finish().await;
}

/// 2. A full sync emits every record once; a second sync emits nothing.
pub async fn full_sync<T: Target>() {
    let h = Harness::start(world(12)).await;
    let system = T::SYSTEM.as_str();
    let engine = h.engine(T::build(&h.sims, &h.sims.credentials, 50)).await;
    let report = engine.sync_once().await.expect("full sync");
    let observed = h.drain().await;
    let delivered = deliveries::<T>(&observed);
    let twice: Vec<_> = delivered.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{system}: delivered more than once: {twice:?}"
    );
    let expected = T::expected(&h.sims.truth(None).await);
    let invalid = invalid_ids(engine.store()).await;
    let (n, bad) = assert_complete(system, &expected, &delivered, &invalid);
    assert!(n > 100, "{system}: a world worth testing ({n} records)");
    assert_eq!(report.published as usize, n);
    assert_eq!(report.invalid as usize, bad);
    assert!(
        expected.iter().any(|e| e.bad),
        "{system}: the world has bad records"
    );

    let again = engine.sync_once().await.expect("second sync");
    assert_eq!(
        again.published, 0,
        "{system}: unchanged records are not republished"
    );
    assert!(h.drain().await.is_empty());
    h.finish().await;
}

/// 3. After changes, a sync emits exactly the changed records. The changes all carry one
///    timestamp and outnumber a page, so paging must get through one second holding more
///    records than a page.
pub async fn incremental_sync<T: Target>() {
    let h = Harness::start(world(13)).await;
    let system = T::SYSTEM.as_str();
    let engine = h.engine(T::build(&h.sims, &h.sims.credentials, 20)).await;
    engine.sync_once().await.expect("full sync");
    let first = h.drain().await.len();
    assert!(first > 0);

    let report = h
        .sims
        .mutate(&MutationRequest {
            new_cooperatives: 25,
            edited_cooperatives: 20,
            new_loans: 25,
            edited_loans: 20,
            report_revisions: 30,
            credit_uncredited_htx: 2,
        })
        .await
        .expect("mutate");
    let changed: BTreeSet<String> = report
        .changes
        .iter()
        .filter(|c| c.system == system)
        .map(|c| c.id.clone())
        .collect();
    assert!(
        !changed.is_empty(),
        "{system}: the mutation changed records"
    );

    let r = engine.sync_once().await.expect("incremental sync");
    let delivered = deliveries::<T>(&h.drain().await);
    let invalid = invalid_ids(engine.store()).await;
    let expected = T::expected(&h.sims.truth(None).await);
    let expected_changed: Vec<Expected> = expected
        .into_iter()
        .filter(|e| changed.contains(&e.id))
        .collect();
    assert_eq!(
        expected_changed.len(),
        changed.len(),
        "{system}: truth lists every change"
    );
    assert_complete(system, &expected_changed, &delivered, &invalid);
    let got: BTreeSet<String> = delivered.keys().cloned().collect();
    let rejected: BTreeSet<String> = changed.difference(&got).cloned().collect();
    assert!(
        rejected.iter().all(|id| invalid.contains(id)),
        "{system}: changes neither delivered nor rejected: {rejected:?}"
    );
    assert!(
        delivered.values().all(|d| d.len() == 1),
        "{system}: each change once"
    );
    assert_eq!(r.published as usize, got.len());

    assert_eq!(engine.sync_once().await.expect("quiet sync").published, 0);
    assert!(h.drain().await.is_empty());
    h.finish().await;
}

/// 5. Records that change while a sync pages (edited rows move to the end of the order,
///    shifting everything after them) are not skipped: after that sync and one more,
///    every record was delivered in its current version, none twice in the same version.
pub async fn changes_while_paging<T: Target>() {
    let h = Harness::start(world(15)).await;
    let system = T::SYSTEM.as_str();
    let world = h.sims.world.clone();
    let (tx, mut rx) = mpsc::unbounded_channel::<usize>();
    let once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let engine = h
        .engine(T::build(&h.sims, &h.sims.credentials, 20))
        .await
        .with_hook(Arc::new(move |e: PageEvent| {
            let (world, tx, once) = (world.clone(), tx.clone(), once.clone());
            async move {
                // once, in the first sync only
                if e == (PageEvent::Committed { page: 2 })
                    && !once.swap(true, std::sync::atomic::Ordering::SeqCst)
                {
                    let req = MutationRequest {
                        new_cooperatives: 5,
                        edited_cooperatives: 30,
                        new_loans: 5,
                        edited_loans: 30,
                        report_revisions: 30,
                        credit_uncredited_htx: 0,
                    };
                    let report = world
                        .write()
                        .await
                        .mutate(&req, hub_simulators::generate::wall_clock_now())
                        .expect("mutate");
                    let _ = tx.send(report.changes.len());
                }
            }
            .boxed()
        }));
    engine
        .sync_once()
        .await
        .expect("sync while the source changes");
    assert!(
        rx.try_recv().is_ok_and(|n| n > 0),
        "{system}: the source changed mid-sync"
    );
    engine.sync_once().await.expect("the next sync");
    let delivered = deliveries::<T>(&h.drain().await);
    let expected = T::expected(&h.sims.truth(None).await);
    let invalid = invalid_ids(engine.store()).await;
    assert_complete(system, &expected, &delivered, &invalid);
    for (id, d) in &delivered {
        let markers: BTreeSet<&String> = d.iter().map(|(m, _)| m).collect();
        assert_eq!(
            markers.len(),
            d.len(),
            "{system}/{id}: a version delivered twice: {d:?}"
        );
    }
    h.finish().await;
}

/// Runs `engine`'s sync until `stop_at`, then aborts it there; returns once it is gone.
async fn sync_until_killed<S: Source>(engine: SyncEngine<S>, stop_at: PageEvent) {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let engine = engine.with_hook(Arc::new(move |e: PageEvent| {
        if e == stop_at {
            let _ = tx.send(());
            // freeze here: the test aborts the task at exactly this point
            futures::future::pending::<()>().boxed()
        } else {
            futures::future::ready(()).boxed()
        }
    }));
    let task = tokio::spawn(async move { engine.sync_once().await.map(|_| ()) });
    let reached = tokio::time::timeout(Duration::from_secs(120), rx.recv()).await;
    task.abort();
    let ended = task.await;
    assert!(
        matches!(reached, Ok(Some(()))),
        "the sync reached {stop_at:?} (it ended with {ended:?})"
    );
}

/// 4. Killed mid-sync (between confirm and commit, then right after a commit) and
///    restarted, an adapter loses nothing and republishes nothing it had committed.
pub async fn kill_and_resume<T: Target>() {
    let h = Harness::start(world(14)).await;
    let system = T::SYSTEM.as_str();
    let page = 20;
    let creds = h.sims.credentials.clone();

    // run 1: the broker confirmed page 3, the checkpoint does not know it yet
    let e1 = h.engine(T::build(&h.sims, &creds, page)).await;
    let store = e1.store().clone();
    sync_until_killed(e1, PageEvent::Confirmed { page: 3 }).await;
    let committed_first: BTreeSet<String> = store
        .committed()
        .await
        .expect("committed")
        .into_iter()
        .filter(|(_, m)| m.is_some())
        .map(|(id, _)| id)
        .collect();
    assert!(!committed_first.is_empty(), "pages 1-2 were committed");

    // run 2: killed right after its second commit
    let e2 = h.engine(T::build(&h.sims, &creds, page)).await;
    sync_until_killed(e2, PageEvent::Committed { page: 2 }).await;

    // run 3: to the end
    let e3 = h.engine(T::build(&h.sims, &creds, page)).await;
    let last = e3.sync_once().await.expect("the restarted sync completes");
    let observed = h.drain().await;
    let delivered = deliveries::<T>(&observed);
    let expected = T::expected(&h.sims.truth(None).await);
    let invalid = invalid_ids(e3.store()).await;
    assert_complete(system, &expected, &delivered, &invalid);

    for id in &committed_first {
        let n = delivered.get(id).map_or(0, Vec::len);
        assert_eq!(
            n, 1,
            "{system}/{id} was committed before the kill: delivered once"
        );
    }
    let duplicated: Vec<(&String, &Vec<(String, String)>)> =
        delivered.iter().filter(|(_, d)| d.len() > 1).collect();
    for (id, d) in &duplicated {
        assert!(
            d.iter().all(|(_, m)| *m == d[0].1),
            "{system}/{id}: a republished record keeps its message id: {d:?}"
        );
    }
    assert!(
        !duplicated.is_empty() && duplicated.len() <= page,
        "{system}: exactly the confirmed-but-uncommitted page is republished ({} records)",
        duplicated.len()
    );
    assert!(
        (last.published as usize) < delivered.len(),
        "{system}: the restart resumed from the checkpoint rather than starting over"
    );
    h.finish().await;
}

/// Expands to the five acceptance tests for a [`Target`].
#[macro_export]
macro_rules! acceptance_tests {
    ($target:ty) => {
        #[tokio::test]
        async fn acceptance_check_with_good_and_bad_credentials() {
            $crate::acceptance::check_and_credentials::<$target>().await
        }
        #[tokio::test]
        async fn acceptance_full_sync_emits_every_record_once() {
            $crate::acceptance::full_sync::<$target>().await
        }
        #[tokio::test]
        async fn acceptance_incremental_sync_emits_exactly_the_changes() {
            $crate::acceptance::incremental_sync::<$target>().await
        }
        #[tokio::test]
        async fn acceptance_killed_mid_sync_resumes_without_loss() {
            $crate::acceptance::kill_and_resume::<$target>().await
        }
        #[tokio::test]
        async fn acceptance_changes_while_paging_are_not_lost() {
            $crate::acceptance::changes_while_paging::<$target>().await
        }
    };
}

//! The reconciler's batch path on the real database (and broker): a batch of source records is
//! applied in ONE transaction with the same result as applying them one by one; duplicates
//! within a batch and of an earlier batch take effect once; a record that does not decode is
//! dead-lettered and the rest applied; a transient database failure in a batch rolls it all
//! back, the records are applied again (one at a time, then through the retry queue) and
//! nothing is doubled. Pipelined: the next batch is matched while one commits, with the
//! result of one by one; a failed commit voids the batch matched on top of it; a crash
//! between match and commit, or between commit and ack, loses and doubles nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::observer::{Observer, outgoing};
use common::*;
use hub_contracts::v1::{BorrowerType, GoldenRecord, OrgKind};
use hub_contracts::{Contract, RawEnvelope};
use hub_reconciler::service::{Cause, Shared, SourceHandler, Work};
use hub_reconciler::{Config, MIGRATOR, SCHEMA};
use hub_runtime::messaging::dlq::DeadLetters;
use hub_runtime::messaging::{
    CommitError, HandlerError, Incoming, OutgoingMessage, Prepared, Publisher, StagedHandler,
};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::Database;
use hub_runtime::telemetry::TraceContext;
use hub_test_support::{TestEnv, eventually};
use serde_json::Value;
use sqlx::Row;

/// Source records about a handful of cooperatives: registry records, loans that match them
/// (and one household), NTM reports naming them. Enough for matches, merges and new
/// identities.
fn feed() -> Vec<(String, OutgoingMessage)> {
    let mut out = Vec::new();
    let names = [
        (
            "Hợp tác xã chè Tả Lèng",
            "HTX che Ta Leng",
            "6200123456",
            TA_LENG,
        ),
        (
            "Hợp tác xã mắc ca Bản Hon",
            "HTX mac ca Ban Hon",
            "6200654321",
            BAN_HON,
        ),
        (
            "Hợp tác xã dược liệu Tả Lèng",
            "HTX duoc lieu Ta Leng",
            "6200111222",
            TA_LENG,
        ),
    ];
    for (i, (name, ascii, code, commune)) in names.iter().enumerate() {
        out.push(msg(
            &format!("loan-{i}"),
            loan(
                &format!("Q-{i}"),
                ascii,
                BorrowerType::Cooperative,
                Some(code),
                "Lai Chau",
                None,
                None,
            ),
        ));
        out.push(msg(
            &format!("reg-{i}"),
            registry(
                &format!("LM-{i}"),
                name,
                OrgKind::Htx,
                Some(code),
                commune,
                Some("Lò Văn Minh"),
                None,
            ),
        ));
        out.push(msg(
            &format!("loan-{i}b"),
            loan(
                &format!("Q-{i}b"),
                name,
                BorrowerType::Cooperative,
                Some(code),
                "Lai Chau",
                None,
                None,
            ),
        ));
    }
    out.push(msg(
        "ntm-1",
        ntm(
            TA_LENG,
            2024,
            1,
            &[
                ("HTX Tả Lèng", Some(OrgKind::Htx), Some("Lò Văn Minh")),
                ("HTX dược liệu Tả Lèng", Some(OrgKind::Htx), None),
            ],
        ),
    ));
    out.push(msg(
        "household",
        loan(
            "Q-H",
            "Lò Văn Minh",
            BorrowerType::Household,
            None,
            "Tả Lèng",
            Some("Lò Văn Minh"),
            None,
        ),
    ));
    out.push(msg(
        "ntm-2",
        ntm(
            TA_LENG,
            2024,
            2,
            &[(
                "Hợp tác xã chè Tả Lèng",
                Some(OrgKind::Htx),
                Some("Lò Văn Minh"),
            )],
        ),
    ));
    out
}

fn msg<T: Contract>(id: &str, data: T) -> (String, OutgoingMessage) {
    (id.to_owned(), outgoing(id, data))
}

fn incoming(m: &OutgoingMessage) -> Incoming {
    Incoming {
        envelope: RawEnvelope::parse(&m.body).expect("an envelope"),
        attempt: 1,
        redelivered: false,
        queue: "test".into(),
        trace: TraceContext::continue_or_new(None),
        origin_user: None,
    }
}

/// A record whose payload does not decode as its contract.
fn undecodable(id: &str) -> OutgoingMessage {
    let (_, mut m) = msg(
        id,
        loan(
            "Q-X",
            "HTX X",
            BorrowerType::Cooperative,
            None,
            "Lai Chau",
            None,
            None,
        ),
    );
    let mut v: Value = serde_json::from_slice(&m.body).expect("json");
    v["data"]["borrower_type"] = "spaceship".into();
    m.body = serde_json::to_vec(&v).expect("json");
    m
}

async fn shared(env: &TestEnv) -> std::sync::Arc<Shared> {
    let db = Database::connect(&env.config.database_url, SCHEMA, Some(&MIGRATOR))
        .await
        .expect("database");
    Shared::load(db, CancellationToken::new(), 500)
        .await
        .expect("engine loads")
}

async fn state_seq(db: &Database) -> i64 {
    sqlx::query_scalar("SELECT state_seq FROM engine_state")
        .fetch_one(&db.pool)
        .await
        .expect("state")
}

/// What a run leaves: the crosswalk, the live golden records without version and time,
/// decisions per source record, open review items.
#[derive(Debug, PartialEq)]
struct Outcome {
    crosswalk: BTreeMap<(String, String), (String, Option<uuid::Uuid>)>,
    golden: BTreeMap<uuid::Uuid, Value>,
    decisions: BTreeMap<(String, String), i64>,
    reviews: i64,
    inbox: i64,
}

async fn outcome(db: &Database) -> Outcome {
    let mut crosswalk = BTreeMap::new();
    for r in sqlx::query("SELECT system, source_id, state, organisation_id FROM observations")
        .fetch_all(&db.pool)
        .await
        .expect("observations")
    {
        crosswalk.insert(
            (r.get("system"), r.get("source_id")),
            (r.get("state"), r.get("organisation_id")),
        );
    }
    let mut golden = BTreeMap::new();
    for r in sqlx::query(
        "SELECT i.organisation_id, v.record AS golden FROM identities i
         JOIN golden_versions v
           ON v.organisation_id = i.organisation_id AND v.version = i.golden_version",
    )
    .fetch_all(&db.pool)
    .await
    .expect("identities")
    {
        let mut g: Value = r.get("golden");
        g["version"] = Value::Null;
        g["updated_at"] = Value::Null;
        golden.insert(r.get("organisation_id"), g);
    }
    let mut decisions = BTreeMap::new();
    for r in sqlx::query(
        "SELECT system, source_id, count(*) AS n FROM decisions
         WHERE system IS NOT NULL GROUP BY system, source_id",
    )
    .fetch_all(&db.pool)
    .await
    .expect("decisions")
    {
        decisions.insert((r.get("system"), r.get("source_id")), r.get("n"));
    }
    let reviews = sqlx::query_scalar("SELECT count(*) FROM review_items WHERE status = 'open'")
        .fetch_one(&db.pool)
        .await
        .expect("reviews");
    let inbox = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&db.pool)
        .await
        .expect("inbox");
    Outcome {
        crosswalk,
        golden,
        decisions,
        reviews,
        inbox,
    }
}

/// Which source records are one organisation (live ones), whatever its id.
fn partition(o: &Outcome) -> BTreeSet<BTreeSet<(String, String)>> {
    let mut by_org: BTreeMap<uuid::Uuid, BTreeSet<(String, String)>> = BTreeMap::new();
    for (r, (state, org)) in &o.crosswalk {
        if let (Some(org), "active") = (org, state.as_str()) {
            by_org.entry(*org).or_default().insert(r.clone());
        }
    }
    by_org.into_values().collect()
}

#[tokio::test]
async fn a_batch_is_one_transaction_with_the_result_of_one_by_one_and_duplicates_count_once() {
    let feed = feed();

    // one by one, as the consumer did before batches
    let one = TestEnv::new().await;
    let single = shared(&one).await;
    for (_, m) in &feed {
        single.handle(incoming(m)).await.expect("applied");
    }
    let expected = outcome(&single.db).await;
    assert_eq!(state_seq(&single.db).await, feed.len() as i64);
    assert_eq!(expected.inbox, feed.len() as i64);
    assert!(expected.crosswalk.len() >= 12, "{expected:?}");

    // the same records in two batches: the first record alone, then the rest with a
    // duplicate of the first (an earlier batch), duplicates within the batch, and a record
    // that does not decode
    let two = TestEnv::new().await;
    let batched = shared(&two).await;
    let first = batched
        .handle_batch(&[incoming(&feed[0].1)])
        .await
        .expect("first batch");
    assert!(first.iter().all(Result::is_ok));
    let mut rest: Vec<Incoming> = Vec::new();
    for (i, (_, m)) in feed.iter().enumerate().skip(1) {
        rest.push(incoming(m));
        if i % 4 == 0 {
            rest.push(incoming(m)); // the same message twice in the batch
        }
        if i == 5 {
            rest.push(incoming(&feed[0].1)); // already applied in the first batch
            rest.push(incoming(&undecodable("bad")));
        }
    }
    let results = batched.handle_batch(&rest).await.expect("second batch");
    assert_eq!(results.len(), rest.len());
    let failed: Vec<&str> = rest
        .iter()
        .zip(&results)
        .filter(|(_, r)| r.is_err())
        .map(|(m, _)| m.envelope.id.as_str())
        .collect();
    assert_eq!(
        failed,
        vec!["bad"],
        "only the undecodable record is rejected"
    );
    assert_eq!(
        state_seq(&batched.db).await,
        2,
        "two batches, two transactions"
    );
    let got = outcome(&batched.db).await;
    assert_eq!(got, expected, "a batch gives what one by one gives");

    // the batch published each changed golden record once, at its latest state
    let goldens: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT message_id, body FROM outbox WHERE contract_type = $1 ORDER BY seq")
            .bind(GoldenRecord::TYPE)
            .fetch_all(&batched.db.pool)
            .await
            .expect("outbox");
    let mut per_org: BTreeMap<String, usize> = BTreeMap::new();
    for (_, body) in goldens.iter().skip(1) {
        let g = RawEnvelope::parse(body)
            .expect("envelope")
            .decode::<GoldenRecord>()
            .expect("golden record");
        *per_org
            .entry(g.data.organisation_id.to_string())
            .or_default() += 1;
    }
    assert!(
        per_org.values().all(|n| *n == 1),
        "one golden record per organisation and batch: {per_org:?}"
    );
    let ids: BTreeSet<&String> = goldens.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), goldens.len(), "no golden record version twice");
    // decisions in the log: one per observation, as one by one
    let logged: i64 = sqlx::query_scalar("SELECT count(*) FROM decisions")
        .fetch_one(&batched.db.pool)
        .await
        .expect("decisions");
    let logged_single: i64 = sqlx::query_scalar("SELECT count(*) FROM decisions")
        .fetch_one(&single.db.pool)
        .await
        .expect("decisions");
    assert_eq!(logged, logged_single);

    // a restart rebuilds the same engine from what the batches stored
    let restarted = Shared::load(batched.db.clone(), CancellationToken::new(), 500)
        .await
        .expect("reloads");
    let (_, again) = restarted
        .apply_batch(vec![])
        .await
        .expect("an empty batch is fine");
    assert!(again.is_empty());
    assert_eq!(outcome(&restarted.db).await, expected);

    one.drop_database().await;
    two.drop_database().await;
}

/// The service over the broker, with everything published before it starts (so that it
/// finds them waiting, as after an adapter's sync).
struct Service {
    env: TestEnv,
    config: Config,
    goldens: Observer<GoldenRecord>,
}

impl Service {
    async fn prepare() -> Service {
        let env = TestEnv::new().await;
        let config = Config {
            common: env.config.clone(),
            ..Config::default()
        };
        let goldens = Observer::start(&env, &config, &[GoldenRecord::TYPE], |m: Incoming| {
            Ok(m.decode::<GoldenRecord>()?.data)
        })
        .await;
        Service {
            env,
            config,
            goldens,
        }
    }

    async fn publish(&self, msgs: &[OutgoingMessage]) {
        let publisher = Publisher::new(self.env.broker("test-publisher"));
        publisher.publish_batch(msgs).await.expect("published");
        publisher.broker().close().await;
    }

    /// Waits until the golden records received cover every source record in `refs`.
    async fn covered(&mut self, refs: &BTreeSet<(String, String)>) {
        let mut latest: BTreeMap<uuid::Uuid, GoldenRecord> = BTreeMap::new();
        loop {
            let seen: BTreeSet<(String, String)> = latest
                .values()
                .filter(|g| !g.retired)
                .flat_map(|g| {
                    g.source_refs
                        .iter()
                        .map(|r| (r.system.clone(), r.id.clone()))
                })
                .collect();
            if refs.is_subset(&seen) {
                return;
            }
            let g = tokio::time::timeout(Duration::from_secs(60), self.goldens.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out; covered so far: {seen:?}"))
                .expect("observer running");
            if latest
                .get(&g.organisation_id)
                .is_none_or(|old| old.version < g.version)
            {
                latest.insert(g.organisation_id, g);
            }
        }
    }

    async fn teardown(self) {
        self.goldens.teardown(self.env, &self.config).await;
    }
}

fn refs(feed: &[(String, OutgoingMessage)]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (_, m) in feed {
        let e = RawEnvelope::parse(&m.body).expect("envelope");
        let data = &e.data;
        match e.ty.as_str() {
            "source.ntm_report.v1" => {
                // the latest revision's entries
                if data["revision"] == 2 {
                    for c in data["cooperatives"].as_array().expect("entries") {
                        out.insert(("ntm".into(), c["source_id"].as_str().unwrap_or("").into()));
                    }
                }
            }
            _ if data["borrower_type"] == "household" => {}
            _ => {
                out.insert((
                    data["meta"]["source"]["system"]
                        .as_str()
                        .unwrap_or("")
                        .into(),
                    data["meta"]["source"]["id"].as_str().unwrap_or("").into(),
                ));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_malformed_record_in_a_batch_is_dead_lettered_and_the_rest_applied_once() {
    let mut s = Service::prepare().await;
    let feed = feed();
    let mut msgs: Vec<OutgoingMessage> = feed.iter().map(|(_, m)| m.clone()).collect();
    // duplicates and bad records among them
    msgs.insert(3, feed[1].1.clone());
    msgs.insert(5, undecodable("bad-payload"));
    msgs.insert(
        7,
        OutgoingMessage {
            body: b"{\"specversion\": \"1.0\", oops".to_vec(),
            message_id: "broken".into(),
            ..feed[0].1.clone()
        },
    );
    msgs.push(feed[4].1.clone());
    s.publish(&msgs).await;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(s.config.clone(), stop.clone())
        .await
        .expect("starts");
    s.covered(&refs(&feed)).await;

    let broker = s.env.broker("dlq");
    let dlq = DeadLetters::new(broker.clone(), hub_reconciler::SOURCE_QUEUE);
    let letters = eventually("two dead letters", Duration::from_secs(30), || async {
        let l = dlq.list(10).await.ok()?;
        (l.len() == 2).then_some(l)
    })
    .await;
    let mut kinds: Vec<(Option<String>, String)> = letters
        .iter()
        .map(|l| (l.message_id.clone(), l.kind.clone()))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (Some("bad-payload".into()), "rejected".into()),
            (Some("broken".into()), "malformed".into()),
        ]
    );
    stop.cancel();
    running.wait().await.expect("clean stop");
    broker.close().await;

    let db = Database::connect(&s.env.config.database_url, SCHEMA, None)
        .await
        .expect("database");
    // nothing was retried, so the records went in in their order: the result is the one of
    // applying the good ones one by one
    let got = outcome(&db).await;
    assert_eq!(
        got.inbox,
        feed.len() as i64,
        "each good record claimed once"
    );
    let clean = TestEnv::new().await;
    let single = shared(&clean).await;
    for (_, m) in &feed {
        single.handle(incoming(m)).await.expect("applied");
    }
    assert_eq!(got, outcome(&single.db).await);
    assert!(
        state_seq(&db).await < feed.len() as i64,
        "fewer transactions than records"
    );
    clean.drop_database().await;
    s.teardown().await;
}

#[tokio::test]
async fn a_transient_database_failure_in_a_batch_retries_every_record_and_doubles_nothing() {
    let mut s = Service::prepare().await;
    let feed = feed();
    let n = feed.len() as i64;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(s.config.clone(), stop.clone())
        .await
        .expect("starts");
    // the next n + 1 transactions that reach the outbox fail as if the server restarted:
    // the batch's, then each record's alone; every record goes to the retry queue
    let db = Database::connect(&s.env.config.database_url, SCHEMA, None)
        .await
        .expect("database");
    for stmt in [
        "CREATE SEQUENCE test_failures".to_owned(),
        format!(
            "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF nextval('test_failures') <= {} THEN
                     RAISE EXCEPTION 'the database is restarting' USING ERRCODE = '57P01';
                 END IF;
                 RETURN NULL;
             END $$",
            n + 1
        ),
        "CREATE TRIGGER test_fail BEFORE INSERT ON outbox
         FOR EACH STATEMENT EXECUTE FUNCTION test_fail()"
            .to_owned(),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(stmt))
            .execute(&db.pool)
            .await
            .expect("failure injection");
    }
    let mut msgs: Vec<OutgoingMessage> = feed.iter().map(|(_, m)| m.clone()).collect();
    msgs.push(feed[2].1.clone());
    s.publish(&msgs).await;
    s.covered(&refs(&feed)).await;
    // the golden records can be complete while records that change none of them (the older
    // NTM revision, the household loan) still wait in the retry queue: wait for every claim
    drained(&s, &db, n).await;
    let failures: i64 = sqlx::query_scalar("SELECT last_value FROM test_failures")
        .fetch_one(&db.pool)
        .await
        .expect("failures");
    assert!(failures > n, "the injected failures happened: {failures}");
    stop.cancel();
    running.wait().await.expect("clean stop");

    let got = outcome(&db).await;
    assert_eq!(got.inbox, n, "each record claimed once");
    // records that went through the retry queue may have come back in another order, which
    // may change organisation ids: compare which records are together
    let clean = TestEnv::new().await;
    let single = shared(&clean).await;
    for (_, m) in &feed {
        single.handle(incoming(m)).await.expect("applied");
    }
    assert_eq!(partition(&got), partition(&outcome(&single.db).await));
    clean.drop_database().await;
    let broker = s.env.broker("dlq");
    let dead = DeadLetters::new(broker.clone(), hub_reconciler::SOURCE_QUEUE)
        .count()
        .await
        .expect("dlq");
    assert_eq!(dead, 0, "nothing dead-lettered");
    broker.close().await;
    s.teardown().await;
}

/// What [`Hooked`] does around the service's own stages.
#[derive(Clone, Copy)]
enum Hook {
    /// Nothing: the service's handler as it runs.
    None,
    /// The first commit waits (up to a minute) until a second batch was being prepared.
    Overlap,
    /// Commit number `k` never writes: the process "crashes" between match and commit.
    CrashBeforeCommit(usize),
    /// Commit number `k` writes, then never returns: the crash comes before the acks.
    CrashAfterCommit(usize),
}

/// The reconciler's source handler with a hook around its stages, counting them.
struct Hooked {
    inner: SourceHandler,
    hook: Hook,
    prepares: tokio::sync::watch::Sender<usize>,
    commits: AtomicUsize,
    /// Set when the first commit saw the second preparation start before it returned.
    overlapped: Arc<AtomicBool>,
    /// Cancelled when the crash point is reached.
    crashed: CancellationToken,
}

impl Hooked {
    fn new(shared: Arc<Shared>, hook: Hook) -> Self {
        Hooked {
            inner: SourceHandler(shared),
            hook,
            prepares: tokio::sync::watch::Sender::new(0),
            commits: AtomicUsize::new(0),
            overlapped: Arc::new(AtomicBool::new(false)),
            crashed: CancellationToken::new(),
        }
    }
}

impl StagedHandler for Hooked {
    type Work = Work;

    async fn prepare(&self, msgs: &[Incoming]) -> Result<Prepared<Work>, HandlerError> {
        self.prepares.send_modify(|n| *n += 1);
        self.inner.prepare(msgs).await
    }

    async fn commit(&self, work: Work) -> Result<(), CommitError> {
        let k = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        match self.hook {
            Hook::None => self.inner.commit(work).await,
            Hook::Overlap => {
                if k == 1 {
                    let mut rx = self.prepares.subscribe();
                    let second = rx.wait_for(|n| *n >= 2);
                    if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(60), second).await {
                        self.overlapped.store(true, Ordering::SeqCst);
                    }
                }
                self.inner.commit(work).await
            }
            Hook::CrashBeforeCommit(at) if at == k => {
                self.crashed.cancel();
                std::future::pending().await
            }
            Hook::CrashAfterCommit(at) if at == k => {
                let r = self.inner.commit(work).await;
                assert!(r.is_ok(), "the crashing commit itself commits");
                self.crashed.cancel();
                std::future::pending().await
            }
            Hook::CrashBeforeCommit(_) | Hook::CrashAfterCommit(_) => self.inner.commit(work).await,
        }
    }
}

/// The service's source consumer over `handler`, in batches of `batch`, until `stop`.
async fn consume(
    s: &Service,
    batch: u16,
    handler: Hooked,
    stop: &CancellationToken,
) -> (
    hub_runtime::messaging::Broker,
    tokio::task::JoinHandle<Result<(), hub_runtime::messaging::MessagingError>>,
) {
    let mut common = s.config.common.clone();
    common.batch_size = batch;
    let broker = s.env.broker("test-reconciler");
    let consumer = hub_reconciler::source_consumer(&broker, &s.config, &common, handler);
    (broker, tokio::spawn(consumer.run(stop.clone())))
}

async fn inbox_count(db: &Database) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&db.pool)
        .await
        .expect("inbox")
}

/// Waits until every record of `feed` took effect, then until the queue is empty (every
/// delivery acked).
async fn drained(s: &Service, db: &Database, n: i64) {
    eventually("every record claimed", Duration::from_secs(60), || async {
        (inbox_count(db).await == n).then_some(())
    })
    .await;
    let broker = s.env.broker("test-depth");
    let queue = s
        .env
        .topology()
        .name(&hub_reconciler::source_queue(&s.config).name);
    eventually(
        "the source queue empty",
        Duration::from_secs(60),
        || async {
            let ch = broker.channel().await.ok()?;
            let q = ch
                .queue_declare(
                    queue.as_str().into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    Default::default(),
                )
                .await
                .ok()?;
            let _ = ch.close(200, "done".into()).await;
            (q.message_count() == 0).then_some(())
        },
    )
    .await;
    broker.close().await;
}

/// What one by one gives for `feed`.
async fn one_by_one(feed: &[(String, OutgoingMessage)]) -> (TestEnv, Outcome) {
    let clean = TestEnv::new().await;
    let single = shared(&clean).await;
    for (_, m) in feed {
        single.handle(incoming(m)).await.expect("applied");
    }
    let o = outcome(&single.db).await;
    (clean, o)
}

async fn no_dead_letters(s: &Service) {
    let broker = s.env.broker("dlq");
    let dead = DeadLetters::new(broker.clone(), hub_reconciler::SOURCE_QUEUE)
        .count()
        .await
        .expect("dlq");
    assert_eq!(dead, 0, "nothing dead-lettered");
    broker.close().await;
}

#[tokio::test]
async fn the_next_batch_is_matched_while_one_commits_with_the_result_of_one_by_one() {
    let s = Service::prepare().await;
    let feed = feed();
    let mut msgs: Vec<OutgoingMessage> = feed.iter().map(|(_, m)| m.clone()).collect();
    // a duplicate in the batch after its first copy's
    msgs.insert(6, feed[1].1.clone());
    s.publish(&msgs).await;
    let db = shared(&s.env).await;
    let hooked = Hooked::new(db.clone(), Hook::Overlap);
    let overlapped = hooked.overlapped.clone();
    let stop = CancellationToken::new();
    let (broker, task) = consume(&s, 4, hooked, &stop).await;
    drained(&s, &db.db, feed.len() as i64).await;
    stop.cancel();
    task.await.expect("joins").expect("clean stop");
    broker.close().await;
    assert!(
        overlapped.load(Ordering::SeqCst),
        "the second batch was prepared while the first committed"
    );
    let got = outcome(&db.db).await;
    let (clean, expected) = one_by_one(&feed).await;
    assert_eq!(
        got, expected,
        "the same as one by one, in the queue's order"
    );
    assert!(state_seq(&db.db).await >= 3, "several batches");
    no_dead_letters(&s).await;
    clean.drop_database().await;
    s.teardown().await;
}

#[tokio::test]
async fn a_failed_commit_voids_the_batch_matched_on_top_of_it_and_nothing_is_doubled() {
    let s = Service::prepare().await;
    let feed = feed();
    let db = shared(&s.env).await;
    // the first transaction that reaches the outbox fails, while the second batch is
    // already matched on top of it
    for stmt in [
        "CREATE SEQUENCE test_failures",
        "CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('test_failures') <= 1 THEN
                 RAISE EXCEPTION 'the database is restarting' USING ERRCODE = '57P01';
             END IF;
             RETURN NULL;
         END $$",
        "CREATE TRIGGER test_fail BEFORE INSERT ON outbox
         FOR EACH STATEMENT EXECUTE FUNCTION test_fail()",
    ] {
        sqlx::query(stmt)
            .execute(&db.db.pool)
            .await
            .expect("failure injection");
    }
    let msgs: Vec<OutgoingMessage> = feed.iter().map(|(_, m)| m.clone()).collect();
    s.publish(&msgs).await;
    let hooked = Hooked::new(db.clone(), Hook::Overlap);
    let overlapped = hooked.overlapped.clone();
    let stop = CancellationToken::new();
    let (broker, task) = consume(&s, 4, hooked, &stop).await;
    drained(&s, &db.db, feed.len() as i64).await;
    stop.cancel();
    task.await.expect("joins").expect("clean stop");
    broker.close().await;
    assert!(overlapped.load(Ordering::SeqCst), "the batches overlapped");
    let failures: i64 = sqlx::query_scalar("SELECT last_value FROM test_failures")
        .fetch_one(&db.db.pool)
        .await
        .expect("failures");
    assert!(failures > 1, "the injected failure happened");
    // the failed batch went again one record at a time, then the void one matched again:
    // still the queue's order, so exactly what one by one gives
    let got = outcome(&db.db).await;
    let (clean, expected) = one_by_one(&feed).await;
    assert_eq!(got, expected);
    no_dead_letters(&s).await;
    clean.drop_database().await;
    s.teardown().await;
}

/// A crash at `hook`: the first consumer stops dead there (its task aborted, its connection
/// gone, its engine dropped); a new one, with an engine rebuilt from the database, takes the
/// redelivered records. Nothing is lost or doubled.
async fn crash_and_restart(hook: Hook) {
    let s = Service::prepare().await;
    let feed = feed();
    let n = feed.len() as i64;
    let msgs: Vec<OutgoingMessage> = feed.iter().map(|(_, m)| m.clone()).collect();
    s.publish(&msgs).await;
    let first = shared(&s.env).await;
    let hooked = Hooked::new(first.clone(), hook);
    let crashed = hooked.crashed.clone();
    let stop = CancellationToken::new();
    let (broker, task) = consume(&s, 4, hooked, &stop).await;
    tokio::time::timeout(Duration::from_secs(60), crashed.cancelled())
        .await
        .expect("the crash point is reached");
    task.abort();
    let _ = task.await;
    broker.close().await;
    let db = first.db.clone();
    drop(first);
    let before = inbox_count(&db).await;
    assert!(
        before > 0 && before < n,
        "the crash left part of the records applied: {before} of {n}"
    );

    let second = shared(&s.env).await;
    let stop = CancellationToken::new();
    let (broker, task) = consume(&s, 4, Hooked::new(second.clone(), Hook::None), &stop).await;
    drained(&s, &db, n).await;
    stop.cancel();
    task.await.expect("joins").expect("clean stop");
    broker.close().await;

    let got = outcome(&db).await;
    let (clean, expected) = one_by_one(&feed).await;
    assert_eq!(got.inbox, n, "each record claimed once");
    // the redelivered records may come back in another order: compare which records are
    // together, and that each record was decided as often as one by one decides it
    assert_eq!(partition(&got), partition(&expected));
    assert_eq!(got.decisions, expected.decisions, "no record decided twice");
    let versions: Vec<(uuid::Uuid, i64)> =
        sqlx::query_as("SELECT organisation_id, version FROM golden_versions")
            .fetch_all(&db.pool)
            .await
            .expect("versions");
    let distinct: BTreeSet<&(uuid::Uuid, i64)> = versions.iter().collect();
    assert_eq!(
        distinct.len(),
        versions.len(),
        "no golden record version twice"
    );
    no_dead_letters(&s).await;
    clean.drop_database().await;
    s.teardown().await;
}

#[tokio::test]
async fn a_crash_between_match_and_commit_loses_nothing_and_doubles_nothing() {
    crash_and_restart(Hook::CrashBeforeCommit(2)).await;
}

#[tokio::test]
async fn a_crash_between_commit_and_ack_loses_nothing_and_doubles_nothing() {
    crash_and_restart(Hook::CrashAfterCommit(2)).await;
}

#[tokio::test]
async fn an_operator_write_on_a_change_that_does_not_commit_is_prepared_again_and_answered() {
    let env = TestEnv::new().await;
    let s = shared(&env).await;
    let feed = feed();
    let (last, before) = feed.split_last().expect("a feed");
    let msgs: Vec<Incoming> = before.iter().map(|(_, m)| incoming(m)).collect();
    s.handle_batch(&msgs).await.expect("applied");
    let orgs: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT organisation_id FROM identities WHERE golden_version > 0
         ORDER BY organisation_id LIMIT 2",
    )
    .fetch_all(&s.db.pool)
    .await
    .expect("identities");
    assert_eq!(orgs.len(), 2, "two organisations to merge");
    let seq = state_seq(&s.db).await;

    // a batch of source records matched, its commit not done yet
    let pending = s
        .prepare_records(&[incoming(&last.1)])
        .await
        .expect("prepared");
    // the operator's merge, matched on top of it (its commit waits for the batch's)
    let (ran, mut runs) = tokio::sync::mpsc::unbounded_channel();
    let merge = {
        let s = s.clone();
        let orgs = orgs.clone();
        tokio::spawn(async move {
            s.apply_again_if_superseded(&Cause::default(), move |e, now| {
                let _ = ran.send(());
                let ch = e.merge(&orgs, None, "op@example.org", "one cooperative", now)?;
                Ok(ch)
            })
            .await
        })
    };
    let first = tokio::time::timeout(Duration::from_secs(30), runs.recv()).await;
    assert!(matches!(first, Ok(Some(()))), "the merge was matched");
    // the batch under it never commits (its process lost it): the merge stood on it
    drop(pending);
    let answer = tokio::time::timeout(Duration::from_secs(30), merge)
        .await
        .expect("the operator is answered")
        .expect("joins");
    let changes = answer
        .expect("the merge itself, not 'try again'")
        .expect("applied");
    assert_eq!(changes.merged.len(), 1, "{changes:?}");
    assert!(
        runs.try_recv().is_ok(),
        "the merge was matched again on the engine rebuilt from the database"
    );
    assert_eq!(
        state_seq(&s.db).await,
        seq + 1,
        "the merge alone committed, not the batch it was first matched on"
    );
    let inbox: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&s.db.pool)
        .await
        .expect("inbox");
    assert_eq!(
        inbox,
        before.len() as i64,
        "the dropped batch claimed nothing"
    );
    env.drop_database().await;
}

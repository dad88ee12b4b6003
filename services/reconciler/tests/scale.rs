//! Scaling the reconciler (issue 18), over the real broker and database:
//! - shards by province: two reconcilers of one hub (one namespace), each with its province
//!   (`HUB_PROVINCE`) and its own database, each get exactly their province's source records
//!   (routed by the `province.<code>.<type>` key the publisher adds) and nothing else;
//! - decisions in batches: the decisions of a transaction go out as `reconciliation.decision.v2`
//!   messages carrying exactly what the `reconciliation.decision.v1` messages carry, one v2
//!   message per transaction.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use common::observer::{Observer, outgoing};
use common::*;
use hub_contracts::Contract;
use hub_contracts::v1::{OrgKind, ReconciliationDecision};
use hub_contracts::v2::ReconciliationDecisions;
use hub_reconciler::{Config, source_queue};
use hub_runtime::CommonConfig;
use hub_runtime::http::Readiness;
use hub_runtime::messaging::{Broker, Incoming, OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::telemetry::Metrics;
use hub_test_support::{TestEnv, eventually};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Registry records `prefix-0..n` (distinct names and codes), as an adapter publishes them.
fn records(prefix: &str, n: usize) -> Vec<OutgoingMessage> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            outgoing(
                &format!("msg-{id}"),
                registry(
                    &id,
                    &format!("Hợp tác xã {prefix} số {i}"),
                    OrgKind::Htx,
                    Some(&format!("62{:08}", i + 100 * prefix.len())),
                    if i % 2 == 0 { TA_LENG } else { BAN_HON },
                    None,
                    None,
                ),
            )
        })
        .collect()
}

/// Publishes `msgs` as a process of `province` does.
async fn publish_as(env: &TestEnv, province: &str, msgs: &[OutgoingMessage]) {
    let broker = Broker::new(
        &env.config.amqp_url,
        &format!("test-adapter-{province}"),
        env.topology().with_province(Some(province)),
        Metrics::new(),
        Readiness::new(),
    );
    let publisher = Publisher::new(broker);
    publisher.publish_batch(msgs).await.expect("published");
    publisher.broker().close().await;
}

/// The source records the reconciler of `env`'s database has observed.
async fn observed(env: &TestEnv) -> BTreeSet<String> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(PgConnectOptions::from_str(&env.config.database_url).expect("url"))
        .await
        .expect("test database");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT system, source_id FROM reconciler.observations")
            .fetch_all(&pool)
            .await
            .unwrap_or_default();
    pool.close().await;
    rows.into_iter()
        .map(|(s, id)| format!("{s}:{id}"))
        .collect()
}

fn refs(prefix: &str, n: usize) -> BTreeSet<String> {
    (0..n)
        .map(|i| format!("coop-alliance:{prefix}-{i}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_province_shards_each_reconcile_their_provinces_records_only() {
    let a = TestEnv::new().await;
    // the second shard: the same hub (namespace), its own database
    let mut b = TestEnv::new().await;
    b.namespace = a.namespace.clone();
    b.config.hub_namespace = a.namespace.clone();
    let shard = |env: &TestEnv, province: &str| Config {
        common: CommonConfig {
            hub_province: Some(province.into()),
            ..env.config.clone()
        },
        ..Config::default()
    };
    let (lai_chau, ha_giang) = (shard(&a, "12"), shard(&b, "02"));
    let (qa, qb) = (source_queue(&lai_chau), source_queue(&ha_giang));
    assert_ne!(qa.name, qb.name, "one queue per shard");
    assert!(qa.single_active_consumer && qb.single_active_consumer);
    // both shards' queues exist before anything is published (publishing is mandatory)
    let broker = a.broker("test-declare");
    let ch = broker.channel().await.expect("broker reachable");
    for q in [&qa, &qb] {
        a.topology()
            .declare_queue(&ch, q, &a.retry_policy())
            .await
            .expect("declare");
    }
    broker.close().await;

    let stop = CancellationToken::new();
    let ra = hub_reconciler::start(lai_chau.clone(), stop.clone())
        .await
        .expect("the Lai Châu shard starts");
    let rb = hub_reconciler::start(ha_giang.clone(), stop.clone())
        .await
        .expect("the Hà Giang shard starts");
    publish_as(&a, "12", &records("lc", 4)).await;
    publish_as(&a, "02", &records("hg", 3)).await;

    let (want_a, want_b) = (refs("lc", 4), refs("hg", 3));
    eventually(
        "each shard to observe its province's records",
        Duration::from_secs(60),
        || async { (observed(&a).await.len() >= 4 && observed(&b).await.len() >= 3).then_some(()) },
    )
    .await;
    // both queues drained: nothing more is on its way to either shard
    let broker = a.broker("test-depth");
    eventually(
        "both shard queues empty",
        Duration::from_secs(30),
        || async {
            let ch = broker.channel().await.ok()?;
            let mut empty = true;
            for q in [&qa, &qb] {
                let d = ch
                    .queue_declare(
                        a.topology().name(&q.name).as_str().into(),
                        lapin::options::QueueDeclareOptions {
                            passive: true,
                            ..Default::default()
                        },
                        Default::default(),
                    )
                    .await
                    .ok()?;
                empty &= d.message_count() == 0;
            }
            empty.then_some(())
        },
    )
    .await;
    broker.close().await;
    let (got_a, got_b) = (observed(&a).await, observed(&b).await);
    stop.cancel();
    ra.wait().await.expect("shard 12 stops");
    rb.wait().await.expect("shard 02 stops");
    a.delete_queues(&[qa, qb]).await;
    a.drop_database().await;
    b.drop_database().await;
    assert_eq!(
        got_a, want_a,
        "the Lai Châu shard has Lai Châu's records only"
    );
    assert_eq!(
        got_b, want_b,
        "the Hà Giang shard has Hà Giang's records only"
    );
}

/// What the observer receives: decisions one by one (v1) or in batches (v2).
enum Seen {
    One(Box<ReconciliationDecision>),
    Batch(ReconciliationDecisions),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transactions_decisions_go_out_as_one_v2_message_as_well_as_v1_ones() {
    let env = TestEnv::new().await;
    // v1 on request (the default is v2 alone), for agency consumers bound to it
    let config = Config {
        common: env.config.clone(),
        reconciler_decision_contracts: "v1,v2".into(),
        ..Config::default()
    };
    let keys = [ReconciliationDecision::TYPE, ReconciliationDecisions::TYPE];
    let mut observer = Observer::start(&env, &config, &keys, |m: Incoming| {
        Ok(match m.envelope.ty.as_str() {
            ReconciliationDecisions::TYPE => {
                Seen::Batch(m.decode::<ReconciliationDecisions>()?.data)
            }
            _ => Seen::One(Box::new(m.decode::<ReconciliationDecision>()?.data)),
        })
    })
    .await;
    // published before the service starts: it finds them waiting, as after a sync
    let publisher = Publisher::new(env.broker("test-publisher"));
    publisher
        .publish_batch(&records("dc", 6))
        .await
        .expect("published");
    publisher.broker().close().await;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(config.clone(), stop.clone())
        .await
        .expect("starts");

    let mut one: BTreeMap<uuid::Uuid, ReconciliationDecision> = BTreeMap::new();
    let mut batched: BTreeMap<uuid::Uuid, ReconciliationDecision> = BTreeMap::new();
    let (mut v1_messages, mut v2_messages) = (0usize, 0usize);
    let mut doubled = Vec::new();
    let observed_records = |one: &BTreeMap<uuid::Uuid, ReconciliationDecision>| {
        one.values()
            .filter_map(|d| d.source.as_ref().map(|s| s.id.clone()))
            .collect::<BTreeSet<_>>()
            .len()
    };
    while observed_records(&one) < 6 || one != batched {
        let seen = tokio::time::timeout(Duration::from_secs(60), observer.rx.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "timed out: {} decisions one by one, {} in batches",
                    one.len(),
                    batched.len()
                )
            })
            .expect("observer running");
        match seen {
            Seen::One(d) => {
                v1_messages += 1;
                one.insert(d.decision_id, *d);
            }
            Seen::Batch(b) => {
                v2_messages += 1;
                assert!(b.part < b.parts, "part {} of {}", b.part, b.parts);
                for d in b.decisions {
                    if let Some(old) = batched.insert(d.decision_id, d) {
                        doubled.push(old.decision_id);
                    }
                }
            }
        }
    }
    stop.cancel();
    running.wait().await.expect("stops");
    observer.teardown(env, &config).await;
    assert!(doubled.is_empty(), "decisions in two batches: {doubled:?}");
    assert_eq!(one, batched, "v2 carries exactly the v1 decisions");
    assert!(
        v2_messages < v1_messages,
        "{v2_messages} batch messages for {v1_messages} decisions"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_decisions_go_out_as_v2_alone() {
    let env = TestEnv::new().await;
    let config = Config {
        common: env.config.clone(),
        ..Config::default()
    };
    let keys = [ReconciliationDecision::TYPE, ReconciliationDecisions::TYPE];
    let mut observer = Observer::start(&env, &config, &keys, |m: Incoming| {
        Ok(match m.envelope.ty.as_str() {
            ReconciliationDecisions::TYPE => {
                Seen::Batch(m.decode::<ReconciliationDecisions>()?.data)
            }
            _ => Seen::One(Box::new(m.decode::<ReconciliationDecision>()?.data)),
        })
    })
    .await;
    let publisher = Publisher::new(env.broker("test-publisher"));
    publisher
        .publish_batch(&records("dv", 6))
        .await
        .expect("published");
    publisher.broker().close().await;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(config.clone(), stop.clone())
        .await
        .expect("starts");
    // a transaction's v1 messages would be in the outbox before its v2 ones, and one queue
    // keeps their order: when every record's decision came in a batch, none came alone
    let mut records_decided = BTreeSet::new();
    let mut alone = 0usize;
    while records_decided.len() < 6 {
        let seen = tokio::time::timeout(Duration::from_secs(60), observer.rx.recv())
            .await
            .expect("decisions within 60 s")
            .expect("observer running");
        match seen {
            Seen::One(_) => alone += 1,
            Seen::Batch(b) => records_decided.extend(
                b.decisions
                    .into_iter()
                    .filter_map(|d| d.source.map(|s| s.id)),
            ),
        }
    }
    stop.cancel();
    running.wait().await.expect("stops");
    observer.teardown(env, &config).await;
    assert_eq!(alone, 0, "no reconciliation.decision.v1 unless asked for");
}

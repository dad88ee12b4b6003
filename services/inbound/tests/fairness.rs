//! One agency flooding does not starve the others, on the real broker and database: each
//! agency's pushes have a bounded queue of their own (`inbound.source.<agency user>`), so when
//! the registry's queue is full the broker refuses the registry's next push (nack) while the
//! loan fund's push is still taken, and is decided and forwarded though the registry's backlog
//! is still queued behind the registry's own consumer. With one shared bounded queue the
//! fund's push would have been refused too. A former shared queue still bound the old way
//! (`inbound.source` ← `source.#`, as before the per-agency queues) is unbound at start.
//!
//! Pushes are published as the service's own user (`guest` here) naming the agency user as
//! the original publisher (as the hub's own copies are); `tests/identity.rs` pushes as real
//! agency users.

use std::str::FromStr;
use std::time::Duration;

use hub_contracts::registry::exchanges;
use hub_contracts::v1::{LoanDisbursement, OrgKind, RegistryCooperative, SourceMeta, SourceRef};
use hub_contracts::{Contract, Envelope, content_hash};
use hub_inbound::{Config, agency_queue, queue_specs, start};
use hub_runtime::messaging::consumer::H_ORIGIN_USER;
use hub_runtime::messaging::{Broker, MessagingError, OutgoingMessage, Publisher, QueueSpec};
use hub_test_support::{TestEnv, eventually};
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

const REGISTRY_USER: &str = "agency-coop-alliance";
const FUND_USER: &str = "agency-loan-fund";
/// The bound of each agency's queue in this test.
const BOUND: i64 = 5;

fn time() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00").expect("time")
}

fn registry_push(n: u32) -> OutgoingMessage {
    let id = format!("LM-{n:06}");
    let raw = json!({"id": id, "kind": "HTX", "name": "Hợp tác xã Bản Hon"});
    let data = RegistryCooperative {
        meta: SourceMeta {
            source: SourceRef::new("coop-alliance", &id),
            fetched_at: time(),
            content_hash: content_hash(&raw),
            raw,
            issues: vec![],
        },
        registration_code: None,
        kind: OrgKind::Htx,
        name: "Hợp tác xã Bản Hon".into(),
        commune_code: Some("03421".into()),
        district_code: Some("106".into()),
        address: None,
        representative: None,
        established_on: None,
        status: None,
        member_households: Some(12),
        farmers_union_supported: None,
        origin: None,
        rating: None,
        enterprise_linkage: None,
        key_officers: None,
        updated_at: time(),
        version: 1,
    };
    let env = Envelope::new(
        Envelope::<Value>::deterministic_id(&["fairness", &id]),
        "urn:agency:coop-alliance",
        data,
    );
    pushed(&env.to_json(), RegistryCooperative::TYPE, REGISTRY_USER)
}

fn fund_push() -> (Value, OutgoingMessage) {
    let raw = json!({"loan_no": "QHT-2025-0001", "amount": 250_000_000});
    let data: LoanDisbursement = serde_json::from_value(json!({
        "meta": {
            "source": {"system": "loan-fund", "id": "QHT-2025-0001"},
            "fetched_at": "2025-03-01T08:00:00+07:00",
            "content_hash": content_hash(&raw),
            "raw": raw,
            "issues": []
        },
        "loan_no": "QHT-2025-0001",
        "borrower": {"name": "HTX Bản Hon", "tax_code": "6200123456"},
        "borrower_type": "cooperative",
        "amount_vnd": 250_000_000,
        "status": "disbursed",
        "modified": "2025-03-01T08:00:00+07:00"
    }))
    .expect("a valid disbursement");
    let env = Envelope::new(
        Envelope::<Value>::deterministic_id(&["fairness", "QHT-2025-0001"]),
        "urn:agency:loan-fund",
        data,
    )
    .to_json();
    let out = pushed(&env, LoanDisbursement::TYPE, FUND_USER);
    (env, out)
}

fn pushed(env: &Value, ty: &str, agency: &str) -> OutgoingMessage {
    OutgoingMessage {
        exchange: exchanges::INBOUND.into(),
        routing_key: ty.into(),
        message_id: env["id"].as_str().expect("id").into(),
        contract_type: ty.into(),
        body: serde_json::to_vec(env).expect("json"),
        headers: [(H_ORIGIN_USER.to_owned(), agency.to_owned())].into(),
    }
}

/// Messages in a queue and its consumers.
async fn queue_state(broker: &Broker, name: &str) -> Option<(u32, u32)> {
    let ch = broker.channel().await.ok()?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = ch
        .queue_declare(name.into(), passive, Default::default())
        .await
        .ok();
    let _ = ch.close(200, "ok".into()).await;
    q.map(|q| (q.message_count(), q.consumer_count()))
}

/// Whether `queue` is bound to `exchange` with `source.#` (asked of `rabbitmqctl`).
fn bound_to_every_push(queue: &str, exchange: &str) -> bool {
    let out = std::process::Command::new("rabbitmqctl")
        .args([
            "list_bindings",
            "-q",
            "source_name",
            "destination_name",
            "routing_key",
        ])
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split('\t').collect::<Vec<_>>() == [exchange, queue, "source.#"])
}

async fn rows_of(pool: &sqlx::PgPool, agency: &str, outcome: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM exchange_log WHERE agency = $1 AND outcome = $2")
        .bind(agency)
        .bind(outcome)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[tokio::test]
async fn a_flooding_agency_fills_only_its_own_queue() {
    let env = TestEnv::new().await;
    let broker = env.broker("fairness-test");
    let t = env.topology();
    // forwarded pushes need somewhere to go (they are published `mandatory`)
    let ch = broker.channel().await.expect("broker reachable");
    let observer = QueueSpec::new("fairness.observer").bind(exchanges::SOURCE, "source.#");
    t.declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer queue");
    let config = Config {
        common: env.config.clone(),
        // the registry's consumer takes one push at a time, and holds at most one unacked
        inbound_concurrency: 1,
        inbound_queue_max_messages: BOUND,
        ..Config::default()
    };
    let mut common = config.common.clone();
    common.prefetch = 1;
    let config = Config { common, ..config };
    // the former shared queue, as an older hub declared it: bound to every push
    let legacy =
        hub_inbound::queue_spec(config.common.delivery_limit).bind(exchanges::INBOUND, "source.#");
    t.declare_queue(&ch, &legacy, &env.retry_policy())
        .await
        .expect("the former shared queue");
    assert!(bound_to_every_push(
        &t.name(hub_inbound::QUEUE),
        &t.name(exchanges::INBOUND)
    ));
    let registry_queue = t.name(&agency_queue(REGISTRY_USER));
    let fund_queue = t.name(&agency_queue(FUND_USER));

    // the service declares every agency's queue, then stops: nothing consumes while the
    // registry floods
    let stop = CancellationToken::new();
    let running = start(config.clone(), stop.clone()).await.expect("starts");
    for q in [&registry_queue, &fund_queue] {
        eventually(
            "the agency queues consumed",
            Duration::from_secs(30),
            || {
                let broker = &broker;
                async move { queue_state(broker, q).await.filter(|s| s.1 > 0) }
            },
        )
        .await;
    }
    stop.cancel();
    running.wait().await.expect("stops cleanly");
    assert!(
        !bound_to_every_push(&t.name(hub_inbound::QUEUE), &t.name(exchanges::INBOUND)),
        "the former shared queue no longer takes every push"
    );

    // the registry floods until the broker refuses it (a quorum queue takes at most one
    // message past its bound)
    let publisher = Publisher::new(broker.clone());
    let mut refused_at = None;
    for n in 0..(BOUND as u32 + 3) {
        if let Err(e) = publisher.publish(&registry_push(n)).await {
            assert!(matches!(e, MessagingError::Nacked { .. }), "{e}");
            refused_at = Some(n);
            break;
        }
    }
    let refused_at = refused_at.expect("the registry's push beyond its bound is refused");
    assert!(
        refused_at <= BOUND as u32 + 1,
        "refused only at {refused_at}"
    );
    let (held, _) = queue_state(&broker, &registry_queue)
        .await
        .expect("the registry's queue");
    assert!(held >= BOUND as u32, "the registry's queue is full: {held}");

    // the fund is not starved: the broker takes its push (it would be nacked had every agency
    // one shared bounded queue)
    let (fund_env, fund_msg) = fund_push();
    publisher
        .publish(&fund_msg)
        .await
        .expect("the fund's push is taken while the registry's queue is full");

    // once the service runs again, the fund's push is decided and forwarded (by its own
    // queue's consumer, not behind the registry's backlog)
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(
            PgConnectOptions::from_str(&env.config.database_url)
                .expect("url")
                .options([("search_path", "inbound")]),
        )
        .await
        .expect("database");
    let stop = CancellationToken::new();
    let running = start(config.clone(), stop.clone()).await.expect("restarts");
    eventually("the fund's push forwarded", Duration::from_secs(30), || {
        let pool = &pool;
        async move { (rows_of(pool, FUND_USER, "forwarded").await == 1).then_some(()) }
    })
    .await;
    let observed = t.name(&observer.name);
    let fund_id = fund_env["id"].as_str().expect("id");
    let mut seen = Vec::new();
    let start_at = tokio::time::Instant::now();
    while !seen.iter().any(|id: &String| id == fund_id) {
        assert!(
            start_at.elapsed() < Duration::from_secs(30),
            "the fund's push reached coophub.source: {seen:?}"
        );
        match ch
            .basic_get(observed.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
        {
            Some(m) => seen.push(
                m.delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    // and every push the broker took from the registry is decided too, none lost
    eventually(
        "the registry's backlog drained",
        Duration::from_secs(30),
        || {
            let pool = &pool;
            async move {
                (rows_of(pool, REGISTRY_USER, "forwarded").await == i64::from(refused_at))
                    .then_some(())
            }
        },
    )
    .await;
    stop.cancel();
    running.wait().await.expect("stops cleanly");

    pool.close().await;
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    let mut specs = queue_specs(&config).expect("specs");
    specs.push(observer);
    env.delete_queues(&specs).await;
    env.drop_database().await;
}

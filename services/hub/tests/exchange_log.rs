//! The per-agency exchange log on the real broker and database: hub-inbound records every
//! push it decides on (forwarded or refused) and every event published on an exchange an
//! agency reads (delivered) in one hash chain per agency user, once per message and
//! direction; `hub audit verify --exchange` (the code the binary runs) reads the chains
//! through hub-inbound's authenticated API (never its tables), checks them and an exported
//! copy, and names the row that was edited or deleted.
//!
//! Pushes are published as the service's own user (`guest` here) naming the agency user as
//! the original publisher (`x-hub-origin-user`), as the hub's own copies of a push are;
//! `services/inbound/tests/identity.rs` pushes as real agency users.

use std::str::FromStr;
use std::time::Duration;

use hub::exchange::ExchangeApi;
use hub_console::ops::{AuditAction, AuditArgs, ExchangeArgs, OpsClient, OpsCommand};
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{OrgKind, RegistryCooperative, SourceMeta, SourceRef};
use hub_contracts::{Contract, Envelope, content_hash};
use hub_inbound::{Config, DELIVERED_QUEUE, agency_queue, start};
use hub_runtime::messaging::consumer::H_ORIGIN_USER;
use hub_runtime::messaging::{Broker, OutgoingMessage, Publisher, QueueSpec};
use hub_test_support::{TestEnv, eventually};
use lapin::options::QueueDeclareOptions;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

const REGISTRY_USER: &str = "agency-coop-alliance";
const LOAN_FUND_USER: &str = "agency-loan-fund";
const NTM_USER: &str = "agency-ntm";

/// An event the hub publishes on `exchange` (a public one agencies read), as raw JSON.
fn event(id: &str, ty: &str, exchange: &str, data: Value) -> (Value, OutgoingMessage) {
    let env = json!({
        "specversion": "1.0", "id": id, "source": "urn:coophub:test", "type": ty,
        "time": "2025-03-01T01:00:00Z", "datacontenttype": "application/json",
        "dataschema": format!("urn:coophub:schema:{ty}"), "correlationid": id, "data": data
    });
    let out = OutgoingMessage {
        exchange: exchange.into(),
        routing_key: ty.into(),
        message_id: id.into(),
        contract_type: ty.into(),
        body: serde_json::to_vec(&env).expect("json"),
        headers: Default::default(),
    };
    (env, out)
}

fn record(id: &str) -> Value {
    let raw = json!({"id": id, "kind": "HTX", "name": "Hợp tác xã Bản Hon", "version": 1});
    let data = RegistryCooperative {
        meta: SourceMeta {
            source: SourceRef::new("coop-alliance", id),
            fetched_at: chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00")
                .expect("time"),
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
        updated_at: chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00")
            .expect("time"),
        version: 1,
    };
    Envelope::new(
        Envelope::<Value>::deterministic_id(&["exchange-log", id]),
        "urn:agency:coop-alliance",
        data,
    )
    .to_json()
}

fn pushed(env: &Value, agency: &str) -> OutgoingMessage {
    OutgoingMessage {
        exchange: exchanges::INBOUND.into(),
        routing_key: RegistryCooperative::TYPE.into(),
        message_id: env["id"].as_str().expect("id").into(),
        contract_type: RegistryCooperative::TYPE.into(),
        body: serde_json::to_vec(env).expect("json"),
        headers: [(H_ORIGIN_USER.to_owned(), agency.to_owned())].into(),
    }
}

async fn wait_for_queue(env: &TestEnv, broker: &Broker, queue: &str) {
    let name = env.topology().name(queue);
    eventually(
        "the inbound service consuming",
        Duration::from_secs(30),
        || {
            let (broker, name) = (broker.clone(), name.clone());
            async move {
                let ch = broker.channel().await.ok()?;
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                };
                let consuming = ch
                    .queue_declare(name.as_str().into(), passive, Default::default())
                    .await
                    .is_ok_and(|q| q.consumer_count() > 0);
                let _ = ch.close(200, "ok".into()).await;
                consuming.then_some(())
            }
        },
    )
    .await;
}

async fn rows_of(pool: &sqlx::PgPool, agency: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM exchange_log WHERE agency = $1")
        .bind(agency)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// `(message_id, outcome, body_sha256)` of an agency's rows, in chain order.
async fn chain_of(pool: &sqlx::PgPool, agency: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT message_id, outcome, body_sha256 FROM exchange_log WHERE agency = $1 ORDER BY id",
    )
    .bind(agency)
    .fetch_all(pool)
    .await
    .expect("rows")
}

fn exchange(agency: &str) -> ExchangeArgs {
    ExchangeArgs {
        exchange: true,
        agency: Some(agency.to_owned()),
    }
}

/// `hub audit verify --exchange --agency <agency>` against hub-inbound's API.
async fn verify_db(api: &ExchangeApi, agency: &str) -> Result<String, String> {
    let action = AuditAction::Verify {
        file: None,
        expect_head: None,
        exchange: exchange(agency),
    };
    let mut out = Vec::new();
    hub::exchange::run(&action, api, &mut out)
        .await
        .map(|()| String::from_utf8_lossy(&out).into_owned())
        .map_err(|e| format!("{e:#}"))
}

/// `hub audit verify --exchange --agency <agency> --file <path>`: needs no hub at all.
async fn verify_file(path: &std::path::Path, agency: &str) -> Result<String, String> {
    let cmd = OpsCommand::Audit(AuditArgs {
        action: Some(AuditAction::Verify {
            file: Some(path.to_owned()),
            expect_head: None,
            exchange: exchange(agency),
        }),
        limit: 50,
    });
    let client = OpsClient::new("http://127.0.0.1:9", None);
    let mut out = Vec::new();
    hub_console::ops::execute(&client, cmd, None, &mut out)
        .await
        .map(|()| String::from_utf8_lossy(&out).into_owned())
        .map_err(|e| format!("{e:#}"))
}

/// Runs `sql` as the superuser with the append-only trigger switched off (what someone who
/// controls the database could do).
async fn tamper(pool: &sqlx::PgPool, sql: &str) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("ALTER TABLE exchange_log DISABLE TRIGGER exchange_log_no_change")
        .execute(&mut *tx)
        .await
        .expect("disable trigger");
    let done = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *tx)
        .await
        .expect("tamper");
    assert_eq!(done.rows_affected(), 1, "{sql}");
    sqlx::query("ALTER TABLE exchange_log ENABLE TRIGGER exchange_log_no_change")
        .execute(&mut *tx)
        .await
        .expect("enable trigger");
    tx.commit().await.expect("commit");
}

#[tokio::test]
async fn every_push_and_delivery_is_chained_per_agency_once_and_tampering_is_named() {
    let env = TestEnv::new().await;
    let broker = env.broker("exchange-log-test");
    // forwarded pushes need somewhere to go (they are published `mandatory`)
    let ch = broker.channel().await.expect("broker reachable");
    let observer = QueueSpec::new("exchange-log.observer").bind(exchanges::SOURCE, "source.#");
    env.topology()
        .declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer queue");
    let _ = ch.close(200, "ok".into()).await;
    let stop = CancellationToken::new();
    let token = hub_runtime::service_auth::generate_token();
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("address"));
    let running = start(
        Config {
            common,
            // one at a time: the redelivery below is decided before the marker after it
            inbound_concurrency: 1,
            service_tokens: hub_runtime::service_auth::ServiceTokens::new([token.clone()]),
            ..Config::default()
        },
        stop.clone(),
    )
    .await
    .expect("inbound starts");
    let addr = running.http_addr.expect("the API listens");
    let api = ExchangeApi {
        inbound_url: Some(format!("http://{addr}")),
        service_token: hub_runtime::service_auth::ServiceCredential::new(token.clone()),
    };
    // every push below is a registry record: it goes to the registry's queue
    wait_for_queue(&env, &broker, &agency_queue(REGISTRY_USER)).await;
    wait_for_queue(&env, &broker, DELIVERED_QUEUE).await;
    let url = env.config.database_url.clone();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(
            PgConnectOptions::from_str(&url)
                .expect("url")
                .options([("search_path", "inbound")]),
        )
        .await
        .expect("database");

    // two pushes within the registry's rights, one for another agency's system
    let first = record("LM-000001");
    let second = record("LM-000002");
    let mut foreign = record("LM-000003");
    foreign["data"]["meta"]["source"]["system"] = json!("loan-fund");
    let publisher = Publisher::new(broker.clone());
    publisher
        .publish_batch(&[
            pushed(&first, REGISTRY_USER),
            pushed(&second, REGISTRY_USER),
            pushed(&foreign, REGISTRY_USER),
        ])
        .await
        .expect("confirmed");
    eventually("three rows", Duration::from_secs(30), || {
        let pool = &pool;
        async move { (rows_of(pool, REGISTRY_USER).await == 3).then_some(()) }
    })
    .await;

    #[derive(sqlx::FromRow, Debug)]
    struct Logged {
        id: i64,
        message_id: String,
        body_sha256: String,
        outcome: String,
        reason: Option<String>,
        prev_hash: String,
        hash: String,
    }
    let rows: Vec<Logged> = sqlx::query_as(
        "SELECT id, message_id, body_sha256, outcome, reason, prev_hash, hash
           FROM exchange_log WHERE agency = $1 ORDER BY id",
    )
    .bind(REGISTRY_USER)
    .fetch_all(&pool)
    .await
    .expect("rows");
    assert_eq!(rows[0].prev_hash, hub_runtime::chain::GENESIS);
    assert_eq!(rows[1].prev_hash, rows[0].hash);
    assert_eq!(rows[2].prev_hash, rows[1].hash);
    for (env, outcome) in [
        (&first, "forwarded"),
        (&second, "forwarded"),
        (&foreign, "refused"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.message_id == env["id"].as_str().expect("id"))
            .unwrap_or_else(|| panic!("{} logged: {rows:?}", env["id"]));
        assert_eq!(row.outcome, outcome, "{row:?}");
        assert_eq!(
            row.body_sha256,
            content_hash(&env["data"]),
            "the agency can recompute it"
        );
        if outcome == "refused" {
            let reason = row.reason.as_deref().unwrap_or_default();
            assert!(reason.contains("not entitled"), "{reason}");
        } else {
            assert_eq!(row.reason, None);
        }
    }

    // a redelivered push adds nothing (a marker from another agency shows it was decided)
    let marker = record("LM-000004");
    publisher
        .publish_batch(&[
            pushed(&first, REGISTRY_USER),
            pushed(&marker, LOAN_FUND_USER),
        ])
        .await
        .expect("confirmed");
    eventually("the marker's row", Duration::from_secs(30), || {
        let pool = &pool;
        async move { (rows_of(pool, LOAN_FUND_USER).await == 1).then_some(()) }
    })
    .await;
    assert_eq!(rows_of(&pool, REGISTRY_USER).await, 3, "no second row");

    // what the hub publishes on the exchanges agencies read is logged as delivered to each
    // agency that reads it (entitlements `reads`): a golden record to the registry and the
    // fund, a snapshot to all three. The golden record reuses the id of the registry's first
    // push: its delivery is still recorded (a push cannot pre-empt an event's row).
    let first_id = first["id"].as_str().expect("id").to_owned();
    let (golden, golden_msg) = event(
        &first_id,
        "identity.golden_record.v1",
        exchanges::IDENTITY,
        json!({"organisation_id": "o-1", "name": "Hợp tác xã Bản Hon"}),
    );
    let (snapshot, snapshot_msg) = event(
        "snap-1",
        "indicator.snapshot.v1",
        exchanges::INDICATOR,
        json!({"unit": "12", "values": [1, 2, 3]}),
    );
    publisher
        .publish_batch(&[golden_msg.clone(), snapshot_msg])
        .await
        .expect("confirmed");
    eventually(
        "the snapshot delivered to NTM",
        Duration::from_secs(30),
        || {
            let pool = &pool;
            async move { (rows_of(pool, NTM_USER).await == 1).then_some(()) }
        },
    )
    .await;
    // the same events again, then a marker: the deliveries are recorded once
    let (_, marker_msg) = event(
        "snap-2",
        "indicator.snapshot.v1",
        exchanges::INDICATOR,
        json!({"unit": "12", "values": [4]}),
    );
    publisher.publish(&golden_msg).await.expect("confirmed");
    publisher.publish(&marker_msg).await.expect("confirmed");
    eventually(
        "the marker delivered to NTM",
        Duration::from_secs(30),
        || {
            let pool = &pool;
            async move { (rows_of(pool, NTM_USER).await == 2).then_some(()) }
        },
    )
    .await;
    let golden_hash = content_hash(&golden["data"]);
    let snapshot_hash = content_hash(&snapshot["data"]);
    let delivered = |c: Vec<(String, String, String)>| -> Vec<(String, String)> {
        c.into_iter()
            .filter(|(_, o, _)| o == "delivered")
            .map(|(id, _, h)| (id, h))
            .collect()
    };
    let registry = chain_of(&pool, REGISTRY_USER).await;
    assert_eq!(registry.len(), 3 + 3, "{registry:?}");
    let mut got = delivered(registry);
    got.sort();
    let mut want = vec![
        (first_id.clone(), golden_hash.clone()),
        ("snap-1".to_owned(), snapshot_hash.clone()),
        (
            "snap-2".to_owned(),
            content_hash(&json!({"unit": "12", "values": [4]})),
        ),
    ];
    want.sort();
    assert_eq!(got, want, "the registry reads identity and indicators");
    let fund = delivered(chain_of(&pool, LOAN_FUND_USER).await);
    assert_eq!(fund.len(), 3, "{fund:?}");
    let ntm = delivered(chain_of(&pool, NTM_USER).await);
    assert_eq!(
        ntm.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(),
        ["snap-1", "snap-2"],
        "the NTM office reads indicators only"
    );

    // the log is append-only
    let refused = sqlx::query("DELETE FROM exchange_log")
        .execute(&pool)
        .await
        .expect_err("the trigger refuses");
    assert!(refused.to_string().contains("append-only"), "{refused}");
    let refused = sqlx::query("UPDATE exchange_log SET outcome = 'forwarded'")
        .execute(&pool)
        .await
        .expect_err("the trigger refuses");
    assert!(refused.to_string().contains("append-only"), "{refused}");

    // the API answers only the service credential
    let stranger = ExchangeApi {
        inbound_url: api.inbound_url.clone(),
        service_token: hub_runtime::service_auth::ServiceCredential::new(
            hub_runtime::service_auth::generate_token(),
        ),
    };
    let e = verify_db(&stranger, REGISTRY_USER)
        .await
        .expect_err("a wrong token");
    assert!(e.contains("401"), "{e}");
    let status = reqwest::get(format!("http://{addr}/api/v1/exchange-log"))
        .await
        .expect("answers")
        .status();
    assert_eq!(status.as_u16(), 401, "no credential");

    // the chains hold, read through the API and from an agency's own copy
    let ok = verify_db(&api, REGISTRY_USER).await.expect("chain holds");
    assert!(ok.contains("6 rows chained"), "{ok}");
    let ok = verify_db(&api, LOAN_FUND_USER).await.expect("chain holds");
    assert!(ok.contains("4 rows chained"), "{ok}");
    let ok = verify_db(&api, NTM_USER).await.expect("chain holds");
    assert!(ok.contains("2 rows chained"), "{ok}");
    let dir = std::env::temp_dir().join(format!("exchange-log-{}", env.namespace));
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = dir.join("copy.jsonl");
    let export = AuditAction::Export {
        output: Some(copy.clone()),
        exchange: exchange(REGISTRY_USER),
    };
    let mut out = Vec::new();
    hub::exchange::run(&export, &api, &mut out)
        .await
        .expect("export");
    let text = std::fs::read_to_string(&copy).expect("copy");
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        !text.contains(LOAN_FUND_USER),
        "only the agency's own chain"
    );
    assert!(
        text.contains(&golden_hash),
        "the agency finds the hash of what it received"
    );
    let ok = verify_file(&copy, REGISTRY_USER)
        .await
        .expect("copy verifies");
    assert!(ok.contains("6 rows chained"), "{ok}");

    // an edited row is named
    let (id0, id1, id2) = (rows[0].id, rows[1].id, rows[2].id);
    let original = rows[1].body_sha256.clone();
    tamper(
        &pool,
        &format!("UPDATE exchange_log SET body_sha256 = repeat('f', 64) WHERE id = {id1}"),
    )
    .await;
    let err = verify_db(&api, REGISTRY_USER)
        .await
        .expect_err("edit detected");
    assert!(
        err.contains(&format!("row {id1}:")) && err.contains("edited"),
        "{err}"
    );
    // the other agencies' chains are untouched; the agency's copy still holds
    verify_db(&api, LOAN_FUND_USER).await.expect("other chain");
    verify_file(&copy, REGISTRY_USER).await.expect("copy holds");
    tamper(
        &pool,
        &format!("UPDATE exchange_log SET body_sha256 = '{original}' WHERE id = {id1}"),
    )
    .await;
    verify_db(&api, REGISTRY_USER).await.expect("restored");

    // a delivery rewritten (what the hub says it sent the NTM office) is named
    let ntm_first: i64 = sqlx::query_scalar(
        "SELECT min(id) FROM exchange_log WHERE agency = $1 AND outcome = 'delivered'",
    )
    .bind(NTM_USER)
    .fetch_one(&pool)
    .await
    .expect("id");
    tamper(
        &pool,
        &format!("UPDATE exchange_log SET body_sha256 = repeat('0', 64) WHERE id = {ntm_first}"),
    )
    .await;
    let err = verify_db(&api, NTM_USER)
        .await
        .expect_err("edited delivery detected");
    assert!(err.contains(&format!("row {ntm_first}:")), "{err}");

    // a deleted row is named (its successor no longer links)
    tamper(&pool, &format!("DELETE FROM exchange_log WHERE id = {id1}")).await;
    let err = verify_db(&api, REGISTRY_USER)
        .await
        .expect_err("deletion detected");
    assert!(
        err.contains(&format!("row {id2}:")) && err.contains(&format!("row {id0}")),
        "{err}"
    );

    // an edited copy is named too
    let edited = text.replacen(&original, &"e".repeat(64), 1);
    std::fs::write(&copy, edited).expect("write");
    let err = verify_file(&copy, REGISTRY_USER)
        .await
        .expect_err("edited copy");
    assert!(err.contains(&format!("row {id1}:")), "{err}");

    let _ = std::fs::remove_dir_all(&dir);
    stop.cancel();
    running.wait().await.expect("the service stops cleanly");
    pool.close().await;
    broker.close().await;
    let entitlements = hub_inbound::entitlements::Entitlements::builtin().expect("entitlements");
    let mut specs = vec![observer, hub_inbound::queue_spec(env.config.delivery_limit)];
    specs.extend(hub_inbound::delivered_queue_spec(
        &entitlements,
        env.config.delivery_limit,
    ));
    env.delete_queues(&specs).await;
    env.drop_database().await;
}

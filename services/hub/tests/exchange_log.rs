//! The per-agency exchange log on the real broker and database: hub-inbound records every
//! push it decides on (forwarded or refused) in one hash chain per agency user, once per
//! message; `hub audit verify --exchange` (the code the binary runs) checks the chain from
//! the database and from an exported copy, and names the row that was edited or deleted.
//!
//! Pushes are published as the service's own user (`guest` here) naming the agency user as
//! the original publisher (`x-hub-origin-user`), as the hub's own copies of a push are;
//! `services/inbound/tests/identity.rs` pushes as real agency users.

use std::str::FromStr;
use std::time::Duration;

use hub_console::ops::{AuditAction, AuditArgs, ExchangeArgs, OpsClient, OpsCommand};
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{OrgKind, RegistryCooperative, SourceMeta, SourceRef};
use hub_contracts::{Contract, Envelope, content_hash};
use hub_inbound::{Config, QUEUE, run};
use hub_runtime::messaging::consumer::H_ORIGIN_USER;
use hub_runtime::messaging::{Broker, OutgoingMessage, Publisher, QueueSpec};
use hub_runtime::testing::{TestEnv, eventually};
use lapin::options::QueueDeclareOptions;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio_util::sync::CancellationToken;

const REGISTRY_USER: &str = "agency-coop-alliance";
const LOAN_FUND_USER: &str = "agency-loan-fund";

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

async fn wait_for_queue(env: &TestEnv, broker: &Broker) {
    let name = env.topology().name(QUEUE);
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

fn exchange(agency: &str) -> ExchangeArgs {
    ExchangeArgs {
        exchange: true,
        agency: Some(agency.to_owned()),
    }
}

/// `hub audit verify --exchange --agency <agency>` against the database.
async fn verify_db(url: &str, agency: &str) -> Result<String, String> {
    let action = AuditAction::Verify {
        file: None,
        expect_head: None,
        exchange: exchange(agency),
    };
    let mut out = Vec::new();
    hub::exchange::run(&action, url, &mut out)
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
async fn every_push_is_chained_per_agency_once_and_tampering_is_named() {
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
    let service = tokio::spawn(run(
        Config {
            common: env.config.clone(),
            // one at a time: the redelivery below is decided before the marker after it
            inbound_concurrency: 1,
            ..Config::default()
        },
        stop.clone(),
    ));
    wait_for_queue(&env, &broker).await;
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
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rows_of(&pool, REGISTRY_USER).await, 3, "no second row");

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

    // the chains hold, from the database and from an agency's own copy
    let ok = verify_db(&url, REGISTRY_USER).await.expect("chain holds");
    assert!(ok.contains("3 rows chained"), "{ok}");
    let ok = verify_db(&url, LOAN_FUND_USER).await.expect("chain holds");
    assert!(ok.contains("1 rows chained"), "{ok}");
    let dir = std::env::temp_dir().join(format!("exchange-log-{}", env.namespace));
    std::fs::create_dir_all(&dir).expect("dir");
    let copy = dir.join("copy.jsonl");
    let export = AuditAction::Export {
        output: Some(copy.clone()),
        exchange: exchange(REGISTRY_USER),
    };
    let mut out = Vec::new();
    hub::exchange::run(&export, &url, &mut out)
        .await
        .expect("export");
    let text = std::fs::read_to_string(&copy).expect("copy");
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        !text.contains(LOAN_FUND_USER),
        "only the agency's own chain"
    );
    let ok = verify_file(&copy, REGISTRY_USER)
        .await
        .expect("copy verifies");
    assert!(ok.contains("3 rows chained"), "{ok}");

    // an edited row is named
    let (id0, id1, id2) = (rows[0].id, rows[1].id, rows[2].id);
    let original = rows[1].body_sha256.clone();
    tamper(
        &pool,
        &format!("UPDATE exchange_log SET body_sha256 = repeat('f', 64) WHERE id = {id1}"),
    )
    .await;
    let err = verify_db(&url, REGISTRY_USER)
        .await
        .expect_err("edit detected");
    assert!(
        err.contains(&format!("row {id1}:")) && err.contains("edited"),
        "{err}"
    );
    // the other agency's chain is untouched; the agency's copy still holds
    verify_db(&url, LOAN_FUND_USER).await.expect("other chain");
    verify_file(&copy, REGISTRY_USER).await.expect("copy holds");
    tamper(
        &pool,
        &format!("UPDATE exchange_log SET body_sha256 = '{original}' WHERE id = {id1}"),
    )
    .await;
    verify_db(&url, REGISTRY_USER).await.expect("restored");

    // a deleted row is named (its successor no longer links)
    tamper(&pool, &format!("DELETE FROM exchange_log WHERE id = {id1}")).await;
    let err = verify_db(&url, REGISTRY_USER)
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
    service
        .await
        .expect("joined")
        .expect("the service stops cleanly");
    pool.close().await;
    broker.close().await;
    env.delete_queues(&[observer, hub_inbound::queue_spec(env.config.delivery_limit)])
        .await;
    env.drop_database().await;
}

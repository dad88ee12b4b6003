//! Two replicas of one reconciler (one database, one namespace) on the real RabbitMQ and
//! PostgreSQL: operator writes go to the active replica. The standby refuses them with 421
//! naming the active one (body and `X-Hub-Active-Replica`) and still serves reads; when the
//! active replica stops, the standby takes over and accepts writes, and now names itself.

use std::net::SocketAddr;
use std::time::Duration;

use hub_reconciler::Config;
use hub_reconciler::http::ACTIVE_REPLICA_HEADER;
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::{TestEnv, eventually};
use reqwest::StatusCode;
use serde_json::Value;

fn config(env: &TestEnv, token: &str, url: &str) -> Config {
    Config {
        common: hub_runtime::CommonConfig {
            http_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..env.config.clone()
        },
        service_tokens: hub_runtime::service_auth::ServiceTokens::new([token.to_owned()]),
        reconciler_advertise_url: Some(url.to_owned()),
        ..Config::default()
    }
}

/// An operator write (linking a review item that does not exist): the active replica gets
/// as far as the engine (404), a standby refuses it first.
async fn link(
    http: &reqwest::Client,
    token: &str,
    addr: SocketAddr,
) -> (StatusCode, Option<String>, Value) {
    let r = http
        .post(format!(
            "http://{addr}/api/v1/review/{}/link",
            uuid::Uuid::from_u128(7)
        ))
        .bearer_auth(token)
        .header("X-Hub-Operator", "op-1")
        .json(&serde_json::json!({"reason": "same HTX"}))
        .send()
        .await
        .expect("replica answers");
    let status = r.status();
    let header = r
        .headers()
        .get(ACTIVE_REPLICA_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, header, r.json().await.expect("JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_refuses_operator_writes_naming_the_active_replica() {
    let env = TestEnv::new().await;
    let token = hub_runtime::service_auth::generate_token();
    let http = reqwest::Client::new();

    let stop_a = CancellationToken::new();
    let a = hub_reconciler::start(
        config(&env, &token, "http://replica-a.test:8080"),
        stop_a.clone(),
    )
    .await
    .expect("replica a starts");
    let a_addr = a.http_addr.expect("a serves HTTP");
    // a is alone: it becomes the active replica
    eventually("replica a active", Duration::from_secs(30), || async {
        (link(&http, &token, a_addr).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;

    let stop_b = CancellationToken::new();
    let b = hub_reconciler::start(
        config(&env, &token, "http://replica-b.test:8080"),
        stop_b.clone(),
    )
    .await
    .expect("replica b starts");
    let b_addr = b.http_addr.expect("b serves HTTP");
    let (status, header, body) = link(&http, &token, b_addr).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{body}");
    assert_eq!(header.as_deref(), Some("http://replica-a.test:8080"));
    assert_eq!(body["active_replica"], "http://replica-a.test:8080");
    // reads are served by either
    let read = http
        .get(format!("http://{b_addr}/api/v1/review"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("b answers");
    assert_eq!(read.status(), StatusCode::OK);
    // the active one still takes writes
    assert_eq!(link(&http, &token, a_addr).await.0, StatusCode::NOT_FOUND);

    // a goes: b takes over and names itself
    stop_a.cancel();
    a.wait().await.expect("a stops");
    eventually("replica b active", Duration::from_secs(30), || async {
        (link(&http, &token, b_addr).await.0 == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    let active: Option<String> = {
        let db = hub_runtime::storage::Database::connect(
            &env.config.database_url,
            hub_reconciler::SCHEMA,
            Some(&hub_reconciler::MIGRATOR),
        )
        .await
        .expect("database");
        hub_reconciler::service::active_url(&db)
            .await
            .expect("row read")
    };
    assert_eq!(active.as_deref(), Some("http://replica-b.test:8080"));

    stop_b.cancel();
    b.wait().await.expect("b stops");
    env.drop_database().await;
}

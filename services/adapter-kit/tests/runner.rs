//! The runner as a service: ops routes, readiness that follows the source check, metrics
//! after the first sync, the sync trigger only with the service credential (401 without),
//! and a graceful stop on the shutdown token.

use std::net::SocketAddr;
use std::time::Duration;

use hub_adapter_kit::acceptance::{Harness, world};
use hub_adapter_kit::{RunSettings, Secret, SourceConfig, run};
use hub_runtime::service_auth::{ServiceTokens, generate_token};
use hub_test_support::eventually;
use tokio_util::sync::CancellationToken;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// `POST url` with an empty JSON body and, if given, a bearer token: the status.
async fn post(url: &str, token: Option<&str>) -> u16 {
    let mut req = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("answers").status().as_u16()
}

/// The value of one metric line (`name{labels} value`), if present.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn get(url: &str) -> Option<(u16, String)> {
    let resp = reqwest::get(url).await.ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().await.ok()?))
}

fn source(h: &Harness, key: &str) -> hub_adapter_coop_alliance::CoopAlliance {
    hub_adapter_coop_alliance::build(&hub_adapter_coop_alliance::Config {
        coop_alliance_url: h.sims.coop_alliance.base_url.clone(),
        coop_alliance_api_key: Secret::new(key),
        ..Default::default()
    })
    .expect("builds")
}

#[tokio::test]
async fn the_runner_serves_ops_routes_syncs_on_schedule_and_stops_gracefully() {
    let h = Harness::start(world(31)).await;
    let addr = free_addr();
    let mut common = h.env.config.clone();
    common.http_addr = Some(addr);
    let token = generate_token();
    let settings = RunSettings {
        poll_interval: Duration::from_secs(3600),
        service_tokens: ServiceTokens::new([token.clone()]),
    };

    // bad credentials: alive, not ready, the failure counted
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(
        source(&h, "wrong"),
        common.clone(),
        settings.clone(),
        stop.clone(),
    ));
    let base = format!("http://{addr}");
    let (status, body) = eventually("readyz answers", Duration::from_secs(30), || {
        let url = format!("{base}/readyz");
        async move { get(&url).await }
    })
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"source\":false"), "{body}");
    assert_eq!(
        get(&format!("{base}/healthz")).await.map(|r| r.0),
        Some(200)
    );
    let metrics = get(&format!("{base}/metrics")).await.expect("metrics").1;
    assert!(
        metrics.contains("coophub_adapter_errors_total{system=\"coop-alliance\"} 1"),
        "{metrics}"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops promptly")
        .expect("joined")
        .expect("clean stop");

    // good credentials: ready, one sync done, the records counted
    let stop = CancellationToken::new();
    let task = tokio::spawn(run(
        source(&h, &h.sims.credentials.coop_api_key),
        common,
        settings,
        stop.clone(),
    ));
    let expected = h.sims.truth(None).await.records.coop_alliance.len();
    let metrics = eventually("the first sync's metrics", Duration::from_secs(60), || {
        let url = format!("{base}/metrics");
        async move {
            let (_, text) = get(&url).await?;
            text.contains(
                "coophub_adapter_last_success_timestamp_seconds{system=\"coop-alliance\"}",
            )
            .then_some(text)
        }
    })
    .await;
    let read = format!("coophub_adapter_records_read_total{{system=\"coop-alliance\"}} {expected}");
    assert!(metrics.contains(&read), "{read} in {metrics}");
    assert!(metrics.contains("coophub_adapter_records_published_total{system=\"coop-alliance\"}"));
    assert!(metrics.contains("coophub_adapter_lag_seconds{system=\"coop-alliance\"}"));
    let (status, body) = get(&format!("{base}/readyz")).await.expect("readyz");
    assert_eq!(status, 200, "{body}");

    // the sync trigger needs the service credential; the probes above needed none
    let sync = format!("{base}/api/v1/sync");
    assert_eq!(post(&sync, None).await, 401, "no credential");
    assert_eq!(
        post(&sync, Some(&generate_token())).await,
        401,
        "a token that is not one of SERVICE_TOKENS"
    );
    // the API's OpenAPI document, behind the same credential
    let doc_url = format!("{base}/api/v1/openapi.json");
    assert_eq!(
        get(&doc_url).await.expect("answers").0,
        401,
        "document, no credential"
    );
    let served: serde_json::Value = reqwest::Client::new()
        .get(&doc_url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(served, *hub_adapter_kit::runner::sync_openapi().document);
    let pages = "coophub_adapter_pages_committed_total{system=\"coop-alliance\"}";
    let before = metric(&metrics, pages).expect("pages committed");
    assert_eq!(post(&sync, Some(&token)).await, 202, "with the credential");
    eventually(
        "the requested sync commits a page",
        Duration::from_secs(60),
        || {
            let url = format!("{base}/metrics");
            async move {
                let (_, text) = get(&url).await?;
                (metric(&text, pages)? > before).then_some(())
            }
        },
    )
    .await;

    let delivered = h.drain().await.len();
    assert!(
        delivered > 100 && delivered <= expected,
        "{delivered} of {expected}"
    );

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops promptly")
        .expect("joined")
        .expect("clean stop");
    assert!(
        get(&format!("{base}/healthz")).await.is_none(),
        "HTTP stopped"
    );
    h.finish().await;
}

#[tokio::test]
async fn an_adapter_serving_http_refuses_to_start_without_service_tokens() {
    let source = hub_adapter_coop_alliance::build(&hub_adapter_coop_alliance::Config {
        coop_alliance_url: "http://127.0.0.1:9".into(),
        coop_alliance_api_key: Secret::new("k"),
        ..Default::default()
    })
    .expect("builds");
    let common = hub_runtime::CommonConfig {
        http_addr: Some(free_addr()),
        ..Default::default()
    };
    let settings = RunSettings {
        poll_interval: Duration::from_secs(3600),
        service_tokens: ServiceTokens::default(),
    };
    let err = run(source, common, settings, CancellationToken::new())
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("SERVICE_TOKENS"), "{err}");

    // the adapter's own configuration says so too, before anything starts
    let config = hub_adapter_coop_alliance::Config {
        coop_alliance_url: "http://127.0.0.1:9".into(),
        coop_alliance_api_key: Secret::new("k"),
        common: hub_runtime::CommonConfig {
            http_addr: Some(free_addr()),
            ..Default::default()
        },
        ..Default::default()
    };
    let e = config.validate().expect_err("refused").to_string();
    assert!(e.contains("SERVICE_TOKENS"), "{e}");
    let config = hub_adapter_coop_alliance::Config {
        service_tokens: ServiceTokens::new([generate_token()]),
        ..config
    };
    config.validate().expect("valid with a token");
}

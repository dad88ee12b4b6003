//! The runner as a service: ops routes, readiness that follows the source check, metrics
//! after the first sync, and a graceful stop on the shutdown token.

use std::net::SocketAddr;
use std::time::Duration;

use hub_adapter_kit::acceptance::{Harness, world};
use hub_adapter_kit::{RunSettings, Secret, run};
use hub_runtime::testing::eventually;
use tokio_util::sync::CancellationToken;

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
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
    let settings = RunSettings {
        poll_interval: Duration::from_secs(3600),
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

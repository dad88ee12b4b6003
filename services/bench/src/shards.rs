//! Reconciliation sharded by province: `shards` reconcilers of one hub (one namespace), each
//! with its province (`HUB_PROVINCE`) and its own database, each consuming its province's
//! queue. The same records are spread evenly over the provinces and published before the
//! reconcilers start (as after a sync); the figure is records reconciled per second from
//! the reconcilers' start to the last record observed in every shard. One shard is the
//! unsharded hub's figure; several show what reconciling provinces in parallel gives on this
//! machine (on one machine they share its cores; deployed, each shard can have its own).

use std::str::FromStr;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone};
use hub_contracts::Envelope;
use hub_contracts::v1::{OrgKind, OrgStatus, RegistryCooperative, SourceMeta, SourceRef};
use hub_runtime::CommonConfig;
use hub_runtime::http::Readiness;
use hub_runtime::messaging::{Broker, OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::telemetry::Metrics;
use hub_test_support::TestEnv;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::BenchError;

/// One sharded run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Sharded {
    pub shards: usize,
    pub records: usize,
    pub seconds: f64,
    pub records_per_second: f64,
}

fn at() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600)
        .and_then(|o| o.with_ymd_and_hms(2025, 3, 1, 8, 0, 0).single())
        .unwrap_or_default()
}

/// Registry record `n` of `province`: a cooperative of its own (distinct name and code).
fn record(province: &str, n: usize) -> OutgoingMessage {
    let id = format!("p{province}-{n}");
    let communes = ["03400", "03421", "03430", "03442"];
    let data = RegistryCooperative {
        meta: SourceMeta {
            source: SourceRef::new("coop-alliance", &id),
            fetched_at: at(),
            content_hash: id.clone(),
            raw: serde_json::json!({}),
            issues: Vec::new(),
        },
        registration_code: Some(format!("6{province:0>2}{n:07}")),
        kind: OrgKind::Htx,
        name: format!("Hợp tác xã nông nghiệp {province} {n}"),
        commune_code: Some(communes[n % communes.len()].to_owned()),
        district_code: None,
        address: None,
        representative: None,
        established_on: None,
        status: Some(OrgStatus::Active),
        member_households: Some(10),
        farmers_union_supported: None,
        origin: None,
        rating: None,
        enterprise_linkage: None,
        key_officers: None,
        updated_at: at(),
        version: 1,
    };
    OutgoingMessage::from_envelope(&Envelope::new(
        format!("bench-{id}"),
        "urn:coophub:bench",
        data,
    ))
}

async fn observations(url: &str) -> i64 {
    let Ok(opts) = PgConnectOptions::from_str(url) else {
        return 0;
    };
    let Ok(pool) = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
    else {
        return 0;
    };
    let n = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM reconciler.observations")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    pool.close().await;
    n
}

/// Reconciles `records` registry records spread over `shards` provinces, one reconciler
/// per province.
pub async fn sharded(
    base: &CommonConfig,
    shards: usize,
    records: usize,
) -> Result<Sharded, BenchError> {
    let shards = shards.max(1);
    let mut envs = Vec::with_capacity(shards);
    for _ in 0..shards {
        envs.push(TestEnv::new().await);
    }
    let namespace = envs[0].namespace.clone();
    let provinces: Vec<String> = (0..shards).map(|i| format!("{:02}", 10 + i)).collect();
    let configs: Vec<hub_reconciler::Config> = envs
        .iter()
        .zip(&provinces)
        .map(|(env, p)| hub_reconciler::Config {
            common: CommonConfig {
                hub_province: Some(p.clone()),
                hub_namespace: namespace.clone(),
                amqp_url: base.amqp_url.clone(),
                batch_size: base.batch_size,
                ..env.config.clone()
            },
            ..hub_reconciler::Config::default()
        })
        .collect();
    let topology = configs[0].common.topology();
    let result = async {
        // queues first (publishing is mandatory), then every record, then the reconcilers
        let broker = Broker::new(
            &base.amqp_url,
            "bench-shards",
            topology.clone(),
            Metrics::new(),
            Readiness::new(),
        );
        let ch = broker.channel().await?;
        for c in &configs {
            topology
                .declare_queue(
                    &ch,
                    &hub_reconciler::source_queue(c),
                    &c.common.retry_policy(),
                )
                .await?;
        }
        let _ = ch.close(200, "declared".into()).await;
        broker.close().await;
        for (i, p) in provinces.iter().enumerate() {
            let share = records / shards + usize::from(i < records % shards);
            let msgs: Vec<OutgoingMessage> = (0..share).map(|n| record(p, n)).collect();
            let publisher = Publisher::new(Broker::new(
                &base.amqp_url,
                "bench-shards-publisher",
                topology.clone().with_province(Some(p)),
                Metrics::new(),
                Readiness::new(),
            ));
            for chunk in msgs.chunks(500) {
                publisher.publish_batch(chunk).await?;
            }
            publisher.broker().close().await;
        }
        let stop = CancellationToken::new();
        let start = Instant::now();
        let mut running = Vec::new();
        for c in &configs {
            running.push(
                hub_reconciler::start(c.clone(), stop.clone())
                    .await
                    .map_err(|e| BenchError::Shard(e.to_string()))?,
            );
        }
        let deadline = start + Duration::from_secs(600);
        let mut done = 0i64;
        while done < records as i64 && Instant::now() < deadline {
            done = 0;
            for c in &configs {
                done += observations(&c.common.database_url).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seconds = start.elapsed().as_secs_f64();
        stop.cancel();
        for r in running {
            let _ = r.wait().await;
        }
        if done < records as i64 {
            return Err(BenchError::Incomplete(done.max(0) as u64));
        }
        Ok(Sharded {
            shards,
            records,
            seconds,
            records_per_second: records as f64 / seconds,
        })
    }
    .await;
    let specs: Vec<_> = configs.iter().map(hub_reconciler::source_queue).collect();
    envs[0].delete_queues(&specs).await;
    for env in &envs {
        env.drop_database().await;
    }
    result
}

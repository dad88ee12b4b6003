//! The hub's own figures, over the whole pipeline in one process (simulators, adapters,
//! reconciler, indicators) on the real broker and database:
//!
//! - [`throughput`]: source records per second from the adapters' first request to the last
//!   golden record that covers them (observed on `coophub.identity` as an agency would);
//! - [`latency`]: from a change at a source (a new loan to a supported HTX) to the published
//!   snapshot that reflects it, p50 and p99 over several changes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hub::pipeline::{Pipeline, PipelineConfig, Sources};
use hub_contracts::Contract;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{GoldenRecord, IndicatorSnapshot};
use hub_runtime::CommonConfig;
use hub_runtime::messaging::topology::Declaration;
use hub_runtime::messaging::{Broker, Consumer, HandlerError, Incoming, QueueSpec, Topology};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::{MutationRequest, SimConfig, TruthParams, UnitList, WorldConfig};
use tokio::sync::mpsc;

use crate::BenchError;

/// Throughput of one pipeline run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Throughput {
    pub source_records: usize,
    pub seconds: f64,
    pub records_per_second: f64,
    /// Mean size of the source-record messages as the broker carries them (whole envelope,
    /// bytes), for the raw reference.
    pub mean_message_bytes: usize,
    /// When the adapters had published every source record (seconds from the start).
    pub adapters_done_seconds: f64,
    /// Messages the hub published during the run, by exchange (each routed to one or more
    /// queues): source records, identity events (golden records, decisions, merges,
    /// splits), snapshots.
    pub published: std::collections::BTreeMap<String, u64>,
    /// Published messages per source record.
    pub published_per_record: f64,
    /// Queue deliveries (publish × queues it was routed to, this benchmark's own watchers
    /// left out) per source record: what the broker stored and delivered.
    pub deliveries_per_record: f64,
}

/// Latency figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    pub changes: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub poll_interval_ms: u64,
    pub debounce_ms: u64,
}

async fn watch<T: hub_contracts::Contract>(
    broker: &Broker,
    common: &CommonConfig,
    name: &str,
    exchange: &str,
    stop: &CancellationToken,
) -> Result<(QueueSpec, mpsc::UnboundedReceiver<(T, usize)>), BenchError> {
    let spec = QueueSpec::new(name).bind(exchange, T::TYPE);
    let ch = broker.channel().await?;
    common
        .topology()
        .declare_queue(&ch, &spec, &common.retry_policy())
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let consumer = Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
        let tx = tx.clone();
        async move {
            let size = m.envelope.data.to_string().len();
            let env = m.decode::<T>()?;
            tx.send((env.data, size)).map_err(HandlerError::permanent)
        }
    })
    .prefetch(500);
    tokio::spawn(consumer.run(stop.clone()));
    Ok((spec, rx))
}

/// A message seen on an exchange: the exchange (base name), its contract type, body size,
/// and for a golden record whether it is retired and the source records it covers.
pub(crate) struct Tapped {
    exchange: &'static str,
    ty: String,
    pub(crate) bytes: usize,
    golden: Option<(bool, Vec<(String, String)>)>,
}

/// The part of an envelope the benchmark reads.
#[derive(serde::Deserialize)]
struct TapEnvelope {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    data: TapData,
}

#[derive(Default, serde::Deserialize)]
struct TapData {
    #[serde(default)]
    retired: bool,
    #[serde(default)]
    source_refs: Vec<TapRef>,
}

#[derive(serde::Deserialize)]
struct TapRef {
    system: String,
    id: String,
}

/// The benchmark's instrument on `exchange`: a classic, exclusive, auto-deleted queue bound
/// with `#`, consumed without acknowledgements. It sees every message the hub publishes
/// there, yet weighs on the broker as little as a queue can (in memory, no quorum log, no
/// acks) and on this process only what it reads — the hub's own queues are quorum queues
/// with manual acks. (Watching through the hub's consumers instead cost the first version
/// of this benchmark about a third of the broker's and the hub's work.)
pub(crate) async fn tap(
    broker: &Broker,
    common: &CommonConfig,
    exchange: &'static str,
    stop: &CancellationToken,
) -> Result<mpsc::UnboundedReceiver<Tapped>, BenchError> {
    use futures::StreamExt;
    use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
    use lapin::types::FieldTable;
    let ch = broker.channel().await?;
    let q = ch
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    ch.queue_bind(
        q.name().clone(),
        common.topology().name(exchange).as_str().into(),
        "#".into(),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await?;
    let mut deliveries = ch
        .basic_consume(
            q.name().clone(),
            "bench".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    let (tx, rx) = mpsc::unbounded_channel();
    let stop = stop.clone();
    tokio::spawn(async move {
        // the channel lives as long as the tap
        let _ch = ch;
        loop {
            let d = tokio::select! {
                _ = stop.cancelled() => break,
                d = deliveries.next() => match d {
                    Some(Ok(d)) => d,
                    _ => break,
                },
            };
            let Ok(env) = serde_json::from_slice::<TapEnvelope>(&d.data) else {
                tracing::warn!(bytes = d.data.len(), "benchmark tap: not an envelope");
                continue;
            };
            let golden = (env.ty == GoldenRecord::TYPE).then(|| {
                let refs = env.data.source_refs.into_iter().map(|r| (r.system, r.id));
                (env.data.retired, refs.collect())
            });
            let tapped = Tapped {
                exchange,
                ty: env.ty,
                bytes: d.data.len(),
                golden,
            };
            if tx.send(tapped).is_err() {
                break;
            }
        }
    });
    Ok(rx)
}

/// The pipeline's bindings, `(exchange, routing key)` with base names: the shared topology's
/// and those of every service queue (this benchmark's taps left out).
fn pipeline_bindings() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Topology::default()
        .shared_plan()
        .into_iter()
        .filter_map(|d| match d {
            Declaration::Binding {
                exchange,
                routing_key,
                ..
            } => Some((exchange, routing_key)),
            _ => None,
        })
        .collect();
    let common = CommonConfig::default();
    for spec in [
        hub_reconciler::source_queue(&hub_reconciler::Config::default()),
        hub_indicators::input_queue(&hub_indicators::Config::default()),
        hub_inbound::queue_spec(common.delivery_limit),
    ] {
        out.extend(spec.bindings);
    }
    out
}

/// Queues one publish of `ty` on `exchange` is stored in and delivered from, by the
/// pipeline's bindings (the hub binds contract types or `#`); an identity event no queue is
/// bound for goes to the alternate exchange's queue.
fn routed_queues(bindings: &[(String, String)], exchange: &str, ty: &str) -> u64 {
    let n = bindings
        .iter()
        .filter(|(e, key)| e == exchange && (key == ty || key == "#"))
        .count() as u64;
    if n == 0 && exchange == exchanges::IDENTITY {
        1
    } else {
        n
    }
}

fn pipeline_config(
    common: &CommonConfig,
    sims: &hub_simulators::RunningSims,
    years: Vec<i32>,
    as_of: chrono::NaiveDate,
    poll: Duration,
    debounce: Duration,
) -> PipelineConfig {
    PipelineConfig {
        common: common.clone(),
        sources: Sources::of(sims, years),
        poll,
        as_of: Some(as_of),
        reconciler_http: None,
        indicators_http: None,
        debounce,
        service_token: None,
        plan_dirs: Vec::new(),
    }
}

/// The benchmarks' world (seed 7, no deliberately bad records), served by the simulators,
/// and a broker handle for the benchmark's own taps and declarations.
pub(crate) struct BenchWorld {
    pub sims: hub_simulators::RunningSims,
    /// The NTM report years the world has.
    pub years: Vec<i32>,
    pub truth: hub_simulators::Truth,
    /// Registry records, loans and NTM reports the sources serve.
    pub source_records: usize,
    pub broker: Broker,
}

/// The benchmark's own broker handle (its taps and declarations), on the hub's topology.
fn bench_broker(common: &CommonConfig) -> Broker {
    Broker::new(
        &common.amqp_url,
        "bench",
        common.topology(),
        Default::default(),
        Default::default(),
    )
}

impl BenchWorld {
    pub(crate) async fn start(
        common: &CommonConfig,
        organisations: usize,
        loans: usize,
    ) -> Result<BenchWorld, BenchError> {
        let world = WorldConfig {
            organisations,
            loans,
            bad_records: 0,
            ..WorldConfig::new(7, hub_simulators::generate::wall_clock_now())
        };
        let years = world.report_years.clone();
        let sims = hub_simulators::start(SimConfig::for_tests(world)).await?;
        let truth = sims.truth(None).await;
        let source_records = truth.records.coop_alliance.len()
            + truth.records.loan_fund.len()
            + truth.records.ntm.len();
        let broker = bench_broker(common);
        Ok(BenchWorld {
            sims,
            years,
            truth,
            source_records,
            broker,
        })
    }
}

/// Syncs a world of `organisations` and `loans` through the pipeline and times it.
pub async fn throughput(
    common: &CommonConfig,
    organisations: usize,
    loans: usize,
) -> Result<Throughput, BenchError> {
    let stop = CancellationToken::new();
    let BenchWorld {
        sims,
        years,
        truth,
        source_records,
        broker,
    } = BenchWorld::start(common, organisations, loans).await?;
    // every source record a golden record must cover (NTM reports are covered through
    // their entries; households are out of scope)
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for o in &truth.organisations {
        for r in &o.records {
            if r.system != "ntm" {
                expected.insert((r.system.clone(), r.id.clone()));
            }
        }
    }
    let expected_len = expected.len();
    let mut identity = tap(&broker, common, exchanges::IDENTITY, &stop).await?;
    let mut sources = tap(&broker, common, exchanges::SOURCE, &stop).await?;
    let mut indicators = tap(&broker, common, exchanges::INDICATOR, &stop).await?;

    let params = TruthParams::for_world(&*sims.world.read().await);
    let start = Instant::now();
    let pipeline = Pipeline::start(
        pipeline_config(
            common,
            &sims,
            years,
            params.as_of,
            Duration::from_secs(3600),
            Duration::from_millis(1000),
        ),
        stop.clone(),
    )
    .await?;
    let mut published: BTreeMap<String, u64> = BTreeMap::new();
    let mut deliveries = 0u64;
    let mut sizes = Vec::new();
    let mut adapters_done = None;
    // measured in a block of its own: the pipeline is stopped whatever happens in it
    let measured = async {
        let bindings = pipeline_bindings();
        let mut count = |m: &Tapped| {
            *published.entry(m.ty.clone()).or_default() += 1;
            deliveries += routed_queues(&bindings, m.exchange, &m.ty);
        };
        // source records not yet covered by a live golden record
        let mut uncovered = expected;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
        let covered = |uncovered: &BTreeSet<_>| (expected_len - uncovered.len()) as u64;
        let incomplete = |uncovered: &BTreeSet<_>| BenchError::Incomplete(covered(uncovered));
        while !uncovered.is_empty() {
            tokio::select! {
                m = sources.recv() => {
                    let m = m.ok_or_else(|| incomplete(&uncovered))?;
                    count(&m);
                    sizes.push(m.bytes);
                    if sizes.len() == source_records {
                        adapters_done = Some(start.elapsed().as_secs_f64());
                    }
                }
                m = identity.recv() => {
                    let m = m.ok_or_else(|| incomplete(&uncovered))?;
                    count(&m);
                    if let Some((false, refs)) = m.golden {
                        for r in refs {
                            uncovered.remove(&r);
                        }
                    }
                }
                m = indicators.recv() => {
                    let m = m.ok_or_else(|| incomplete(&uncovered))?;
                    count(&m);
                }
                _ = tokio::time::sleep_until(deadline) => return Err(incomplete(&uncovered)),
            }
        }
        Ok::<f64, BenchError>(start.elapsed().as_secs_f64())
    }
    .await;
    let _ = pipeline.stop().await;
    sims.shutdown().await;
    broker.close().await;
    let seconds = measured?;
    let mean_message_bytes = if sizes.is_empty() {
        0
    } else {
        sizes.iter().sum::<usize>() / sizes.len()
    };
    let total: u64 = published.values().sum();
    Ok(Throughput {
        source_records,
        seconds,
        records_per_second: source_records as f64 / seconds,
        mean_message_bytes,
        adapters_done_seconds: adapters_done.unwrap_or(f64::NAN),
        published_per_record: total as f64 / source_records as f64,
        deliveries_per_record: deliveries as f64 / source_records as f64,
        published,
    })
}

fn i7_numerator(s: &IndicatorSnapshot) -> Option<f64> {
    s.units
        .iter()
        .find(|u| u.unit_code == s.province_code)
        .and_then(|u| u.values.iter().find(|v| v.indicator == "I7"))
        .and_then(|v| v.numerator)
}

/// Times `changes` source changes (one new loan each to a supported HTX without credit)
/// until the snapshot reflecting each is published.
pub async fn latency(
    common: &CommonConfig,
    changes: usize,
    poll: Duration,
    debounce: Duration,
) -> Result<Latency, BenchError> {
    let stop = CancellationToken::new();
    let world = WorldConfig {
        organisations: 400,
        loans: 150,
        ..WorldConfig::new(11, hub_simulators::generate::wall_clock_now())
    };
    let years = world.report_years.clone();
    let sims = hub_simulators::start(SimConfig::for_tests(world)).await?;
    let params = TruthParams {
        units: UnitList::Units2024,
        ..TruthParams::for_world(&*sims.world.read().await)
    };
    let broker = bench_broker(common);
    let (_q, mut snapshots) = watch::<IndicatorSnapshot>(
        &broker,
        common,
        "bench.snapshots",
        exchanges::INDICATOR,
        &stop,
    )
    .await?;
    let pipeline = Pipeline::start(
        pipeline_config(common, &sims, years, params.as_of, poll, debounce),
        stop.clone(),
    )
    .await?;

    let mut samples = Vec::with_capacity(changes);
    // measured in a block of its own: the pipeline is stopped whatever happens in it
    let measured = async {
        // the first snapshot that equals the truth: everything synced
        let truth = sims.truth(Some(params)).await;
        let mut current = loop {
            let (s, _) = snapshots.recv().await.ok_or(BenchError::Incomplete(0))?;
            if s.unit_list == "2024" && truth.differences(&s).is_empty() {
                break i7_numerator(&s);
            }
        };
        for _ in 0..changes {
            let t0 = Instant::now();
            let report = sims
                .mutate(&MutationRequest {
                    credit_uncredited_htx: 1,
                    ..MutationRequest::default()
                })
                .await?;
            if report.changes.is_empty() {
                break; // every supported HTX has credit now
            }
            let want = current.map(|n| n + 1.0);
            loop {
                let (s, _) = tokio::time::timeout(Duration::from_secs(60), snapshots.recv())
                    .await
                    .map_err(|_| BenchError::Incomplete(samples.len() as u64))?
                    .ok_or(BenchError::Incomplete(samples.len() as u64))?;
                if s.unit_list == "2024" && i7_numerator(&s) == want {
                    samples.push(t0.elapsed().as_secs_f64() * 1000.0);
                    current = want;
                    break;
                }
            }
        }
        Ok::<(), BenchError>(())
    }
    .await;
    let _ = pipeline.stop().await;
    sims.shutdown().await;
    broker.close().await;
    measured?;
    samples.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        if samples.is_empty() {
            return f64::NAN;
        }
        let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[idx.min(samples.len() - 1)]
    };
    Ok(Latency {
        changes: samples.len(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: samples.last().copied().unwrap_or(f64::NAN),
        poll_interval_ms: poll.as_millis() as u64,
        debounce_ms: debounce.as_millis() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_contracts::v1::{IdentityMerged, LoanDisbursement};
    use hub_contracts::v2::ReconciliationDecisions;

    #[test]
    fn routed_queues_follow_the_services_bindings() {
        let b = pipeline_bindings();
        // reconciler.source and indicators.inputs
        assert_eq!(
            routed_queues(&b, exchanges::SOURCE, LoanDisbursement::TYPE),
            2
        );
        // indicators.inputs
        assert_eq!(
            routed_queues(&b, exchanges::IDENTITY, GoldenRecord::TYPE),
            1
        );
        // indicators.inputs takes decisions in batches
        let decisions = ReconciliationDecisions::TYPE;
        assert_eq!(routed_queues(&b, exchanges::IDENTITY, decisions), 1);
        // nobody binds merges in the pipeline: the unrouted queue keeps them
        assert_eq!(
            routed_queues(&b, exchanges::IDENTITY, IdentityMerged::TYPE),
            1
        );
        // coophub.indicator.retained
        let snapshot = IndicatorSnapshot::TYPE;
        assert_eq!(routed_queues(&b, exchanges::INDICATOR, snapshot), 1);
        // nothing is published on the source exchange under another key
        assert_eq!(routed_queues(&b, exchanges::SOURCE, "other.v1"), 0);
    }
}

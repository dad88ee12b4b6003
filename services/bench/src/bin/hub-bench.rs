//! `hub-bench`: measures the hub on this machine and prints a table (also written as JSON
//! and Markdown). Each benchmark runs in a fresh database and topology namespace.
//!
//!   cargo run --release -p hub-bench -- all --out bench-results

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hub_bench::{adapters, broker, pipeline, shards};
use hub_test_support::TestEnv;

#[derive(Debug, Parser)]
#[command(
    name = "hub-bench",
    about = "Benchmarks of the hub against the raw broker"
)]
struct Args {
    #[command(subcommand)]
    what: What,
    /// Write results to <out>.json and <out>.md.
    #[arg(long, global = true, default_value = "bench-results")]
    out: PathBuf,
    /// BATCH_SIZE of the reconciler and the indicators (default: the hub's default).
    #[arg(long, global = true)]
    batch_size: Option<u16>,
    /// Tokio worker threads of the process that runs every service (default: one per core;
    /// deployed, each service is a process with its own).
    #[arg(long, global = true)]
    worker_threads: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum What {
    /// Raw RabbitMQ publish→consume throughput (confirms, acks, persistence, quorum queue).
    Broker {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 2_000)]
        size: usize,
        /// Quorum queues each message is routed to (a fanout exchange when more than one).
        #[arg(long, default_value_t = 1)]
        queues: usize,
    },
    /// Pipeline throughput (source records per second, adapter to golden record) and the
    /// raw broker at the same message size, with their ratio.
    Pipeline {
        #[arg(long, default_value_t = 3_000)]
        organisations: usize,
        #[arg(long, default_value_t = 6_000)]
        loans: usize,
    },
    /// Change-to-snapshot latency, p50 and p99.
    Latency {
        #[arg(long, default_value_t = 20)]
        changes: usize,
        #[arg(long, default_value_t = 1000)]
        poll_ms: u64,
        #[arg(long, default_value_t = 200)]
        debounce_ms: u64,
    },
    /// Reconciliation sharded by province: one reconciler (own database) per province, each
    /// consuming its province's queue; records per second for each shard count.
    Shards {
        /// Shard counts to measure, e.g. `1,2,3`.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2])]
        counts: Vec<usize>,
        #[arg(long, default_value_t = 4_000)]
        records: usize,
    },
    /// The adapters alone (nothing consumes what they publish) on the pipeline's world, and
    /// the raw broker at the same message size, with their ratio.
    Adapters {
        #[arg(long, default_value_t = 3_000)]
        organisations: usize,
        #[arg(long, default_value_t = 6_000)]
        loans: usize,
    },
    /// Pipeline, latency, then shards (1 and 2).
    All,
}

#[derive(Debug, Default, serde::Serialize)]
struct Results {
    machine: String,
    /// Worker threads of the runtime every service ran on (None: one per core).
    worker_threads: Option<usize>,
    /// BATCH_SIZE of the reconciler and the indicators.
    batch_size: u16,
    /// 1-minute load average before each measurement (other work on the machine).
    load_before: std::collections::BTreeMap<String, f64>,
    raw: Option<broker::RawResult>,
    pipeline: Option<pipeline::Throughput>,
    /// Hub source records per second over raw broker messages per second.
    hub_to_raw_ratio: Option<f64>,
    /// The raw broker with each message routed to the whole number of queues at or above the
    /// hub's mean fan-out (deliveries / published).
    raw_fanout: Option<broker::RawResult>,
    /// The hub's mean fan-out (queues per published message).
    fanout: Option<f64>,
    /// The raw broker's messages per second at that fan-out: the time per message
    /// interpolated between the whole numbers of queues around it (measured).
    raw_at_fanout_per_second: Option<f64>,
    /// Records per second the broker alone would allow the hub: the raw fan-out rate over
    /// the messages the hub publishes per source record.
    broker_ceiling_records_per_second: Option<f64>,
    /// Hub records per second over that ceiling.
    hub_to_ceiling_ratio: Option<f64>,
    latency: Option<pipeline::Latency>,
    /// The broker's nodes (1: one node; 3: the test cluster, `AMQP_URL` listing three).
    broker_nodes: usize,
    /// `RECONCILER_DECISION_CONTRACTS` of the run (v1, v2 or both).
    decision_contracts: String,
    /// Reconciliation sharded by province, per shard count.
    shards: Vec<shards::Sharded>,
    /// The adapters alone.
    adapters: Option<adapters::AdapterThroughput>,
    /// Their source records per second over the raw broker's messages per second.
    adapters_to_raw_ratio: Option<f64>,
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {}", std::env::consts::ARCH)
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|l| l.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// A fresh database and namespace, with the benchmark's settings.
async fn env(batch_size: Option<u16>) -> TestEnv {
    let mut env = TestEnv::new().await;
    if let Some(n) = batch_size {
        env.config.batch_size = n.max(1);
    }
    env
}

/// Runs one measurement (`part` of the results) in a fresh database and namespace, with the
/// load average noted first; its queues and database are deleted whatever the outcome
/// (quorum queues hold broker resources until deleted). Answers its result and the config.
async fn in_fresh_env<T, Fut>(
    results: &mut Results,
    part: &str,
    batch_size: Option<u16>,
    measure: impl FnOnce(hub_runtime::CommonConfig) -> Fut,
) -> anyhow::Result<(T, hub_runtime::CommonConfig)>
where
    Fut: std::future::Future<Output = Result<T, hub_bench::BenchError>>,
{
    results.load_before.insert(part.into(), load_average());
    let env = env(batch_size).await;
    let out = measure(env.config.clone()).await;
    env.delete_queues(&[]).await;
    env.drop_database().await;
    Ok((out?, env.config.clone()))
}

async fn run_pipeline(
    results: &mut Results,
    organisations: usize,
    loans: usize,
    batch_size: Option<u16>,
) -> anyhow::Result<()> {
    let (t, config) = in_fresh_env(results, "pipeline", batch_size, |c| async move {
        pipeline::throughput(&c, organisations, loans).await
    })
    .await?;
    println!(
        "pipeline: {} source records in {:.2} s = {:.0} records/s (mean message {} B); adapters done at {:.2} s",
        t.source_records,
        t.seconds,
        t.records_per_second,
        t.mean_message_bytes,
        t.adapters_done_seconds
    );
    println!(
        "  published per source record: {:.2} ({:?}); queue deliveries per record: {:.2}",
        t.published_per_record, t.published, t.deliveries_per_record
    );
    results.load_before.insert("raw".into(), load_average());
    let raw = broker::raw_throughput(
        &config.amqp_url,
        t.source_records as u64 * 2,
        t.mean_message_bytes.max(256),
        200,
        200,
    )
    .await?;
    println!(
        "raw broker at {} B: {:.0} msgs/s",
        raw.size_bytes, raw.per_second
    );
    results.hub_to_raw_ratio = Some(t.records_per_second / raw.per_second);
    // the broker's cost per message grows with the queues it is stored in and delivered from:
    // measure at the whole numbers of queues around the hub's mean fan-out and interpolate
    // the time per message between them
    let fanout = (t.deliveries_per_record / t.published_per_record).max(1.0);
    let (lo, hi) = (fanout.floor() as usize, fanout.ceil() as usize);
    let measure = |queues: usize| {
        broker::raw_fanout(
            &config.amqp_url,
            t.source_records as u64 * 2,
            t.mean_message_bytes.max(256),
            200,
            200,
            queues,
        )
    };
    let raw_lo = if lo == 1 {
        raw.clone()
    } else {
        measure(lo).await?
    };
    let raw_hi = if hi == lo {
        raw_lo.clone()
    } else {
        measure(hi).await?
    };
    let seconds_per_message = 1.0 / raw_lo.per_second
        + (fanout - lo as f64) * (1.0 / raw_hi.per_second - 1.0 / raw_lo.per_second);
    let at_fanout = 1.0 / seconds_per_message;
    let ceiling = at_fanout / t.published_per_record;
    println!(
        "raw broker at {} B, each message to {lo} queue(s): {:.0} msgs/s, to {hi}: {:.0} msgs/s; \
         at the hub's {fanout:.2} queues per message: {at_fanout:.0} msgs/s; the hub publishes \
         {:.2} per record: at most {ceiling:.0} records/s from the broker alone",
        raw_hi.size_bytes, raw_lo.per_second, raw_hi.per_second, t.published_per_record
    );
    results.fanout = Some(fanout);
    results.raw_at_fanout_per_second = Some(at_fanout);
    results.broker_ceiling_records_per_second = Some(ceiling);
    results.hub_to_ceiling_ratio = Some(t.records_per_second / ceiling);
    results.raw_fanout = Some(raw_hi);
    results.raw = Some(raw);
    results.pipeline = Some(t);
    Ok(())
}

async fn run_adapters(
    results: &mut Results,
    organisations: usize,
    loans: usize,
    batch_size: Option<u16>,
) -> anyhow::Result<()> {
    let (a, config) = in_fresh_env(results, "adapters", batch_size, |c| async move {
        adapters::throughput(&c, organisations, loans).await
    })
    .await?;
    println!(
        "adapters alone: {} source records in {:.2} s = {:.0} records/s (mean message {} B)",
        a.source_records, a.seconds, a.records_per_second, a.mean_message_bytes
    );
    results.load_before.insert("raw".into(), load_average());
    let raw = broker::raw_throughput(
        &config.amqp_url,
        a.source_records as u64 * 2,
        a.mean_message_bytes.max(256),
        200,
        200,
    )
    .await?;
    println!(
        "raw broker at {} B: {:.0} msgs/s; adapters / raw {:.2}",
        raw.size_bytes,
        raw.per_second,
        a.records_per_second / raw.per_second
    );
    results.adapters_to_raw_ratio = Some(a.records_per_second / raw.per_second);
    results.raw.get_or_insert(raw);
    results.adapters = Some(a);
    Ok(())
}

async fn run_shards(
    results: &mut Results,
    counts: &[usize],
    records: usize,
    batch_size: Option<u16>,
) -> anyhow::Result<()> {
    for &n in counts {
        results
            .load_before
            .insert(format!("shards {n}"), load_average());
        let env = env(batch_size).await;
        let s = shards::sharded(&env.config, n, records).await;
        env.drop_database().await;
        let s = s?;
        println!(
            "{} shard(s): {} records in {:.2} s = {:.0} records/s",
            s.shards, s.records, s.seconds, s.records_per_second
        );
        results.shards.push(s);
    }
    Ok(())
}

async fn run_latency(
    results: &mut Results,
    changes: usize,
    poll: Duration,
    debounce: Duration,
    batch_size: Option<u16>,
) -> anyhow::Result<()> {
    results.load_before.insert("latency".into(), load_average());
    let env = env(batch_size).await;
    let l = pipeline::latency(&env.config, changes, poll, debounce).await;
    env.delete_queues(&[]).await;
    env.drop_database().await;
    let l = l?;
    println!(
        "latency over {} changes: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (poll {} ms, debounce {} ms)",
        l.changes, l.p50_ms, l.p99_ms, l.max_ms, l.poll_interval_ms, l.debounce_ms
    );
    results.latency = Some(l);
    Ok(())
}

fn markdown(r: &Results) -> String {
    let mut s = format!(
        "# Hub benchmarks\n\nMachine: {}; every service in one process on {}; BATCH_SIZE {}",
        r.machine,
        r.worker_threads.map_or_else(
            || "one tokio worker thread per core".to_owned(),
            |n| format!("{n} tokio worker threads")
        ),
        r.batch_size
    );
    if !r.load_before.is_empty() {
        let loads: Vec<String> = r
            .load_before
            .iter()
            .map(|(k, v)| format!("{k} {v:.1}"))
            .collect();
        s += &format!(" (load average before each run: {})", loads.join(", "));
    }
    s += "\n\n| raw broker | hub end to end | hub / raw | published / record | deliveries / record | raw broker at the hub's fan-out | broker ceiling for the hub | hub / ceiling | change → snapshot p50 / p99 |\n|---|---|---|---|---|---|---|---|---|\n";
    let or = |v: Option<String>| v.unwrap_or_else(|| "–".into());
    s += &format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        or(r.raw
            .as_ref()
            .map(|raw| format!("{:.0} msg/s ({} B)", raw.per_second, raw.size_bytes))),
        or(r.pipeline.as_ref().map(|p| format!(
            "{:.0} records/s ({} records)",
            p.records_per_second, p.source_records
        ))),
        or(r.hub_to_raw_ratio.map(|x| format!("{x:.2}"))),
        or(r.pipeline
            .as_ref()
            .map(|p| format!("{:.2}", p.published_per_record))),
        or(r.pipeline
            .as_ref()
            .map(|p| format!("{:.2}", p.deliveries_per_record))),
        or(r.raw_at_fanout_per_second
            .zip(r.fanout)
            .map(|(rate, f)| format!("{rate:.0} msg/s at {f:.2} queues per message"))),
        or(r.broker_ceiling_records_per_second
            .map(|x| format!("{x:.0} records/s"))),
        or(r.hub_to_ceiling_ratio.map(|x| format!("{x:.2}"))),
        or(r.latency.as_ref().map(|l| format!(
            "{:.0} ms / {:.0} ms ({} changes, poll {} ms, debounce {} ms)",
            l.p50_ms, l.p99_ms, l.changes, l.poll_interval_ms, l.debounce_ms
        ))),
    );
    s += &format!(
        "\nBroker: {} node(s); decisions published as {}.\n",
        r.broker_nodes, r.decision_contracts
    );
    if !r.shards.is_empty() {
        s += "\n| reconciler shards (provinces) | records | seconds | records/s |\n|---|---|---|---|\n";
        for x in &r.shards {
            s += &format!(
                "| {} | {} | {:.2} | {:.0} |\n",
                x.shards, x.records, x.seconds, x.records_per_second
            );
        }
    }
    if let Some(a) = &r.adapters {
        s += &format!(
            "\nThe adapters alone (nothing consuming): {} source records in {:.2} s = {:.0} records/s \
             (mean message {} B); adapters / raw {}.\n",
            a.source_records,
            a.seconds,
            a.records_per_second,
            a.mean_message_bytes,
            or(r.adapters_to_raw_ratio.map(|x| format!("{x:.2}")))
        );
    }
    if let Some(p) = &r.pipeline {
        s += &format!(
            "\nThe adapters had published every source record after {:.1} s of the {:.1} s run; \
             the rest is the reconciler (one transaction a batch, the next batch matched while one \
             commits) and the \
             indicators catching up.\n",
            p.adapters_done_seconds, p.seconds
        );
    }
    s += "\n- raw broker: one persistent publish (confirmed, pipelined in windows of 200) and one \
          consume (manual ack, prefetch 200) per message on a quorum queue, at the mean size of \
          the hub's source-record messages (whole message bodies, envelope included).\n\
          - hub end to end: source records per second from the adapters' first request to the \
          last golden record covering them; each source record costs the hub several messages \
          (published / record) and each message is stored and delivered by one or more quorum \
          queues (deliveries / record). The benchmark watches the exchanges through classic, \
          exclusive, no-ack queues of its own (not counted), so that watching weighs little on \
          what it measures.\n\
          - broker ceiling: the raw broker with each message routed to as many quorum queues \
          as the hub's are on average (measured at the whole numbers of queues around it, the \
          time per message interpolated), divided by the messages the hub publishes per source \
          record: the records/s the broker alone would allow, whatever the services cost. \
          hub / raw can be no higher than ceiling / raw.\n";
    s
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.worker_threads {
        runtime.worker_threads(n.max(1));
    }
    runtime.build()?.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    hub_runtime::telemetry::init(hub_runtime::config::LogFormat::Human);
    let mut results = Results {
        machine: machine(),
        worker_threads: args.worker_threads,
        batch_size: args
            .batch_size
            .unwrap_or(hub_runtime::CommonConfig::default().batch_size),
        broker_nodes: hub_runtime::messaging::broker::split_urls(
            &std::env::var("AMQP_URL")
                .unwrap_or_else(|_| hub_runtime::CommonConfig::default().amqp_url),
        )
        .len(),
        decision_contracts: std::env::var("RECONCILER_DECISION_CONTRACTS")
            .unwrap_or_else(|_| hub_reconciler::Config::default().reconciler_decision_contracts),
        ..Results::default()
    };
    match args.what {
        What::Broker {
            messages,
            size,
            queues,
        } => {
            results.load_before.insert("raw".into(), load_average());
            let url = hub_runtime::config::load_common()?.amqp_url;
            let raw = broker::raw_fanout(&url, messages, size, 200, 200, queues).await?;
            println!(
                "raw broker: {} msgs of {} B, each to {} queues, in {:.2} s = {:.0} msgs/s",
                raw.messages, raw.size_bytes, raw.queues, raw.seconds, raw.per_second
            );
            results.raw = Some(raw);
        }
        What::Pipeline {
            organisations,
            loans,
        } => run_pipeline(&mut results, organisations, loans, args.batch_size).await?,
        What::Latency {
            changes,
            poll_ms,
            debounce_ms,
        } => {
            run_latency(
                &mut results,
                changes,
                Duration::from_millis(poll_ms),
                Duration::from_millis(debounce_ms),
                args.batch_size,
            )
            .await?
        }
        What::Adapters {
            organisations,
            loans,
        } => run_adapters(&mut results, organisations, loans, args.batch_size).await?,
        What::Shards { counts, records } => {
            run_shards(&mut results, &counts, records, args.batch_size).await?
        }
        What::All => {
            run_pipeline(&mut results, 3_000, 6_000, args.batch_size).await?;
            run_latency(
                &mut results,
                20,
                Duration::from_secs(1),
                Duration::from_millis(200),
                args.batch_size,
            )
            .await?;
            run_shards(&mut results, &[1, 2], 4_000, args.batch_size).await?;
        }
    }
    let md = markdown(&results);
    println!("\n{md}");
    std::fs::write(
        args.out.with_extension("json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    std::fs::write(args.out.with_extension("md"), md)?;
    Ok(())
}

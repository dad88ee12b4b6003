//! `hub-bench`: measures the hub on this machine and prints a table (also written as JSON
//! and Markdown). Each benchmark runs in a fresh database and topology namespace.
//!
//!   cargo run --release -p hub-bench -- all --out bench-results

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use hub_bench::{broker, pipeline};
use hub_runtime::testing::TestEnv;

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
}

#[derive(Debug, Subcommand)]
enum What {
    /// Raw RabbitMQ publish→consume throughput (confirms, acks, persistence, quorum queue).
    Broker {
        #[arg(long, default_value_t = 20_000)]
        messages: u64,
        #[arg(long, default_value_t = 2_000)]
        size: usize,
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
    /// Pipeline, then latency.
    All,
}

#[derive(Debug, Default, serde::Serialize)]
struct Results {
    machine: String,
    raw: Option<broker::RawResult>,
    pipeline: Option<pipeline::Throughput>,
    hub_to_raw_ratio: Option<f64>,
    latency: Option<pipeline::Latency>,
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cores} cores, {}", std::env::consts::ARCH)
}

async fn run_pipeline(
    results: &mut Results,
    organisations: usize,
    loans: usize,
) -> anyhow::Result<()> {
    let env = TestEnv::new().await;
    let t = pipeline::throughput(&env.config, organisations, loans).await?;
    env.drop_database().await;
    println!(
        "pipeline: {} source records in {:.2} s = {:.0} records/s (mean message {} B)",
        t.source_records, t.seconds, t.records_per_second, t.mean_message_bytes
    );
    let raw = broker::raw_throughput(
        &env.config.amqp_url,
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
    results.raw = Some(raw);
    results.pipeline = Some(t);
    Ok(())
}

async fn run_latency(
    results: &mut Results,
    changes: usize,
    poll: Duration,
    debounce: Duration,
) -> anyhow::Result<()> {
    let env = TestEnv::new().await;
    let l = pipeline::latency(&env.config, changes, poll, debounce).await?;
    env.drop_database().await;
    println!(
        "latency over {} changes: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (poll {} ms, debounce {} ms)",
        l.changes, l.p50_ms, l.p99_ms, l.max_ms, l.poll_interval_ms, l.debounce_ms
    );
    results.latency = Some(l);
    Ok(())
}

fn markdown(r: &Results) -> String {
    let mut s = format!(
        "# Hub benchmarks\n\nMachine: {}\n\n| figure | value |\n|---|---|\n",
        r.machine
    );
    if let Some(raw) = &r.raw {
        s += &format!(
            "| raw broker, {} B persistent messages, confirms + acks, quorum | {:.0} msgs/s |\n",
            raw.size_bytes, raw.per_second
        );
    }
    if let Some(p) = &r.pipeline {
        s += &format!(
            "| hub end to end, adapter → golden record ({} records) | {:.0} records/s |\n",
            p.source_records, p.records_per_second
        );
    }
    if let Some(ratio) = r.hub_to_raw_ratio {
        s += &format!("| hub / raw broker | {:.2} |\n", ratio);
    }
    if let Some(l) = &r.latency {
        s += &format!(
            "| change → snapshot latency p50 / p99 ({} changes, poll {} ms, debounce {} ms) | {:.0} ms / {:.0} ms |\n",
            l.changes, l.poll_interval_ms, l.debounce_ms, l.p50_ms, l.p99_ms
        );
    }
    s
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    hub_runtime::telemetry::init(hub_runtime::config::LogFormat::Human);
    let mut results = Results {
        machine: machine(),
        ..Results::default()
    };
    match args.what {
        What::Broker { messages, size } => {
            let url = hub_runtime::config::load_common()?.amqp_url;
            let raw = broker::raw_throughput(&url, messages, size, 200, 200).await?;
            println!(
                "raw broker: {} msgs of {} B in {:.2} s = {:.0} msgs/s",
                raw.messages, raw.size_bytes, raw.seconds, raw.per_second
            );
            results.raw = Some(raw);
        }
        What::Pipeline {
            organisations,
            loans,
        } => run_pipeline(&mut results, organisations, loans).await?,
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
            )
            .await?
        }
        What::All => {
            run_pipeline(&mut results, 3_000, 6_000).await?;
            run_latency(
                &mut results,
                20,
                Duration::from_secs(1),
                Duration::from_millis(200),
            )
            .await?;
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

//! `cargo bench -p hub-reconciler`: the matching engine's throughput on simulated worlds of
//! about 10k and 100k observations (add 1M with `RECONCILER_BENCH_1M=1`), in-process, in
//! release mode. Prints observations per second, the engine's CPU time, pairs scored per
//! observation, peak memory and F1 for each size, and the time ratio to the size before.
//! The full growth table (each size in its own process, repeated, written to a file) is
//! `cargo run --release -p hub-reconciler --features accuracy --bin reconcile-accuracy -- --scale`.

use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::Engine;
use hub_simulators::{WorldConfig, generate};

fn main() {
    let mut sizes = vec![("10k", 2_000, 4_000), ("100k", 20_000, 40_000)];
    if std::env::var_os("RECONCILER_BENCH_1M").is_some() {
        sizes.push(("1M", 50_000, 850_000));
    }
    let mut previous: Option<(usize, f64)> = None;
    for (label, orgs, loans) in sizes {
        let mut cfg = WorldConfig::new(42, accuracy::default_now());
        cfg.organisations = orgs;
        cfg.loans = loans;
        let Ok(world) = generate(&cfg) else {
            eprintln!("{label}: world generation failed");
            continue;
        };
        let feed = accuracy::world_feed(&world, FeedOrder::Time);
        let mut engine = Engine::new();
        let cpu0 = accuracy::process_cpu_time();
        let (n, elapsed) = accuracy::run(&mut engine, feed, chrono::Utc::now());
        let cpu = cpu0
            .zip(accuracy::process_cpu_time())
            .map_or(f64::NAN, |(a, b)| b.saturating_sub(a).as_secs_f64());
        let m = accuracy::evaluate(&engine, &accuracy::truth_of(&world), 0);
        let ratio = previous.map_or(String::new(), |(pn, pcpu): (usize, f64)| {
            format!(
                ", {:.1}× the CPU time for {:.1}× the observations",
                cpu / pcpu,
                n as f64 / pn as f64
            )
        });
        println!(
            "engine/{label}: {n} observations in {:.2} s ({:.0} obs/s, CPU {cpu:.2} s{ratio}), {:.1} pairs scored/obs, peak RSS {} MiB, F1 {:.4}",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64().max(1e-9),
            engine.stats().pairs_scored as f64 / n.max(1) as f64,
            accuracy::peak_rss_bytes().map_or(0, |b| b / 1_048_576),
            m.f1
        );
        previous = Some((n, cpu));
    }
}

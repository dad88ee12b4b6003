//! `cargo bench -p hub-reconciler`: the matching engine's throughput on simulated worlds of
//! about 10k and 100k observations (add 1M with `RECONCILER_BENCH_1M=1`), in-process, in
//! release mode. Prints observations per second, peak memory and F1 for each size.

use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::Engine;
use hub_simulators::{WorldConfig, generate};

fn main() {
    let mut sizes = vec![("10k", 2_000, 4_000), ("100k", 20_000, 40_000)];
    if std::env::var_os("RECONCILER_BENCH_1M").is_some() {
        sizes.push(("1M", 50_000, 850_000));
    }
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
        let (n, elapsed) = accuracy::run(&mut engine, feed, chrono::Utc::now());
        let m = accuracy::evaluate(&engine, &accuracy::truth_of(&world), 0);
        println!(
            "engine/{label}: {n} observations in {:.2} s ({:.0} obs/s), peak RSS {} MiB, F1 {:.4}",
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64().max(1e-9),
            accuracy::peak_rss_bytes().map_or(0, |b| b / 1_048_576),
            m.f1
        );
    }
}

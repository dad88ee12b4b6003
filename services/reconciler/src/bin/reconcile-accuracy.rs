//! `reconcile-accuracy`: generates a simulated world (seeded, sizes as flags), feeds every
//! source record through the matching engine in-process (no broker, no database), and scores
//! the identities against the world's truth: pairwise precision, recall, F1, the worst errors
//! (person-like names masked), and the engine's time and peak memory. Build with
//! `--release` for meaningful timings.

use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::Engine;
use hub_simulators::{WorldConfig, generate};

#[derive(Debug, Parser)]
#[command(about = "Measure the reconciler's accuracy and speed on a simulated world")]
struct Args {
    /// World seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// True organisations.
    #[arg(long, default_value_t = 120)]
    organisations: usize,
    /// Loans (to organisations and households).
    #[arg(long, default_value_t = 200)]
    loans: usize,
    /// Deliberately bad records (left out of the feed, as an adapter rejects them).
    #[arg(long, default_value_t = 6)]
    bad_records: usize,
    /// NTM report years, comma-separated.
    #[arg(long, default_value = "2023,2024,2025", value_delimiter = ',')]
    report_years: Vec<i32>,
    /// Feed order: time, registry-first or registry-last.
    #[arg(long, default_value = "time")]
    order: FeedOrder,
    /// How many of the worst errors to show.
    #[arg(long, default_value_t = 10)]
    worst: usize,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Print every decision whose note contains this text (folded), for debugging rules.
    #[arg(long)]
    trace: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut cfg = WorldConfig::new(args.seed, accuracy::default_now());
    cfg.organisations = args.organisations;
    cfg.loans = args.loans;
    cfg.bad_records = args.bad_records;
    cfg.report_years = args.report_years.clone();
    let t0 = Instant::now();
    let world = generate(&cfg).context("generating the world")?;
    let generated = t0.elapsed();
    let feed = accuracy::world_feed(&world, args.order);
    let mut engine = Engine::new();
    let now = chrono::Utc::now();
    let needle = args.trace.as_deref().map(hub_normalise::text::fold);
    let (observations, elapsed) = accuracy::run_traced(&mut engine, feed, now, |_, ch| {
        if let Some(n) = &needle {
            for d in &ch.decisions {
                let note = d
                    .note
                    .as_deref()
                    .map(hub_normalise::text::fold)
                    .unwrap_or_default();
                if note.contains(n.as_str()) {
                    println!(
                        "{:?} {} {:?} score {:?} {}\n    {:?}",
                        d.outcome,
                        d.source
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_default(),
                        d.note,
                        d.score,
                        d.rule,
                        d.features
                    );
                }
            }
        }
    });
    let truth = accuracy::truth_of(&world);
    let metrics = accuracy::evaluate(&engine, &truth, args.worst);
    let stats = engine.stats();
    let rate = observations as f64 / elapsed.as_secs_f64().max(1e-9);
    let peak = accuracy::peak_rss_bytes();
    if args.json {
        let v = serde_json::json!({
            "seed": args.seed, "organisations": args.organisations, "loans": args.loans,
            "order": args.order, "observations": observations,
            "engine_seconds": elapsed.as_secs_f64(), "observations_per_second": rate,
            "generation_seconds": generated.as_secs_f64(), "peak_rss_bytes": peak,
            "identities": stats.identities, "open_reviews": stats.open_reviews,
            "out_of_scope": stats.out_of_scope, "metrics": metrics,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "world: seed {} · {} organisations · {} loans · years {:?} · generated in {:.1} s",
        args.seed,
        args.organisations,
        args.loans,
        args.report_years,
        generated.as_secs_f64()
    );
    println!(
        "engine: {observations} observations ({:?} order) in {:.2} s = {:.0} obs/s · peak RSS {}",
        args.order,
        elapsed.as_secs_f64(),
        rate,
        peak.map_or("unknown".into(), |b| format!(
            "{:.0} MiB",
            b as f64 / 1048576.0
        ))
    );
    println!(
        "identities: {} (largest {}) · open reviews: {} · out of scope: {} · index keys: {} · pairs scored: {}",
        stats.identities,
        stats.largest_identity,
        stats.open_reviews,
        stats.out_of_scope,
        stats.index_keys,
        stats.pairs_scored
    );
    println!(
        "pairs: true {} · predicted {} · correct {} (labelled records {})",
        metrics.true_pairs,
        metrics.predicted_pairs,
        metrics.correct_pairs,
        metrics.labelled_records
    );
    println!(
        "precision {:.4} · recall {:.4} · F1 {:.4}",
        metrics.precision, metrics.recall, metrics.f1
    );
    if !metrics.false_merges.is_empty() {
        println!("\nworst false merges (records of different organisations put together):");
        for e in &metrics.false_merges {
            println!("  {} pairs: {}", e.pairs, e.names.join("  |  "));
        }
    }
    if !metrics.missed_links.is_empty() {
        println!("\nworst missed links (one organisation kept apart):");
        for e in &metrics.missed_links {
            println!("  {} pairs: {}", e.pairs, e.names.join("  |  "));
        }
    }
    Ok(())
}

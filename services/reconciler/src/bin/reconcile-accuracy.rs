//! `reconcile-accuracy`: generates a simulated world (seeded, sizes as flags), feeds every
//! source record through the matching engine in-process (no broker, no database), and scores
//! the identities against the world's truth: pairwise precision, recall, F1, the worst errors
//! (person-like names masked), and the engine's time and peak memory. Build with
//! `--release` for meaningful timings.
//!
//! `--scale` runs the growth table instead: worlds of about 10k, 100k and 1M observations
//! (`--scale-sizes`), each `--repeat` times in a child process of its own (so each has its own
//! peak memory), and prints how time, memory and blocking grow from one size to the next; the
//! table is also written to `--scale-out` (markdown, and JSON beside it).

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::{Engine, blocking};
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
    /// Run the growth table (see the module documentation) instead of one world.
    #[arg(long)]
    scale: bool,
    /// Worlds of the growth table: `label=organisations:loans`, comma-separated.
    #[arg(
        long,
        default_value = "10k=2000:4000,100k=20000:40000,1M=50000:850000",
        value_delimiter = ','
    )]
    scale_sizes: Vec<String>,
    /// Runs per world in the growth table (it shows the range).
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// With `--scale`: render the table from the runs of an earlier table's JSON instead of
    /// running the worlds again.
    #[arg(long)]
    scale_from: Option<PathBuf>,
    /// Where the growth table is written (markdown; the JSON goes beside it).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/scale-results.md"))]
    scale_out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.scale {
        return scale::run(&args);
    }
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
    // measure the engine only: the world and its feed are built
    let rss_before = accuracy::peak_rss_bytes();
    let peak_reset = accuracy::reset_peak_rss();
    let cpu0 = accuracy::thread_cpu_time();
    let lookups0 = blocking::lookup_stats();
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
    let cpu = match (cpu0, accuracy::thread_cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let lookups1 = blocking::lookup_stats();
    // the peak while the engine ran (the world and feed included), before scoring
    let peak = accuracy::peak_rss_bytes();
    let peak_scope = if peak_reset {
        "engine run"
    } else {
        "whole process"
    };
    let truth = accuracy::truth_of(&world);
    let metrics = accuracy::evaluate(&engine, &truth, args.worst);
    let stats = engine.stats();
    let rate = observations as f64 / elapsed.as_secs_f64().max(1e-9);
    let lookups = lookups1.lookups - lookups0.lookups;
    if args.json {
        let v = serde_json::json!({
            "seed": args.seed, "organisations": args.organisations, "loans": args.loans,
            "order": args.order, "observations": observations,
            "engine_seconds": elapsed.as_secs_f64(), "observations_per_second": rate,
            "engine_cpu_seconds": cpu.map(|c| c.as_secs_f64()),
            "generation_seconds": generated.as_secs_f64(), "peak_rss_bytes": peak,
            "rss_before_engine_bytes": rss_before, "peak_rss_scope": peak_scope,
            "identities": stats.identities, "largest_identity": stats.largest_identity,
            "open_reviews": stats.open_reviews, "out_of_scope": stats.out_of_scope,
            "index_keys": stats.index_keys, "pairs_scored": stats.pairs_scored,
            "key_lookups": lookups,
            "key_list_entries": lookups1.entries - lookups0.entries,
            "longest_key_list": lookups1.longest,
            "metrics": metrics,
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
        "engine: {observations} observations ({:?} order) in {:.2} s (CPU {}) = {:.0} obs/s · peak RSS {} ({peak_scope})",
        args.order,
        elapsed.as_secs_f64(),
        cpu.map_or("unknown".into(), |c| format!("{:.2} s", c.as_secs_f64())),
        rate,
        peak.map_or("unknown".into(), |b| format!(
            "{:.0} MiB",
            b as f64 / 1048576.0
        ))
    );
    println!(
        "blocking: {:.1} key lists looked up per observation, {:.1} entries each on average, longest {} · pairs scored per observation {:.1}",
        lookups as f64 / observations.max(1) as f64,
        (lookups1.entries - lookups0.entries) as f64 / lookups.max(1) as f64,
        lookups1.longest,
        stats.pairs_scored as f64 / observations.max(1) as f64
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

/// The growth table: each world in a child process of this binary (`--json`), then ratios
/// between consecutive sizes.
mod scale {
    use std::fmt::Write as _;
    use std::process::Command;

    use anyhow::{Context, bail};
    use serde_json::Value;

    use super::Args;

    /// One world of the table and its runs.
    struct Row {
        label: String,
        organisations: usize,
        loans: usize,
        runs: Vec<Value>,
    }

    impl Row {
        fn nums(&self, f: impl Fn(&Value) -> Option<f64>) -> Vec<f64> {
            self.runs.iter().filter_map(f).collect()
        }
        fn first(&self, f: impl Fn(&Value) -> Option<f64>) -> f64 {
            self.runs.first().and_then(f).unwrap_or(f64::NAN)
        }
        fn median(&self, f: impl Fn(&Value) -> Option<f64>) -> f64 {
            let mut v = self.nums(f);
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => f64::NAN,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        }
        fn range(&self, f: impl Fn(&Value) -> Option<f64>, digits: usize) -> String {
            let v = self.nums(f);
            let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if v.is_empty() {
                "?".into()
            } else if (hi - lo).abs() < 0.5 * 10f64.powi(-(digits as i32)) {
                format!("{lo:.digits$}")
            } else {
                format!("{lo:.digits$}–{hi:.digits$}")
            }
        }
    }

    fn get(v: &Value, path: &[&str]) -> Option<f64> {
        let mut x = v;
        for p in path {
            x = x.get(p)?;
        }
        x.as_f64()
    }

    fn parse_size(s: &str) -> anyhow::Result<(String, usize, usize)> {
        let (label, rest) = s
            .split_once('=')
            .with_context(|| format!("size {s:?}: label=organisations:loans"))?;
        let (o, l) = rest
            .split_once(':')
            .with_context(|| format!("size {s:?}: label=organisations:loans"))?;
        Ok((
            label.trim().to_owned(),
            o.trim().parse()?,
            l.trim().parse()?,
        ))
    }

    pub fn run(args: &Args) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding this program")?;
        let mut rows = Vec::new();
        if let Some(from) = &args.scale_from {
            let text = std::fs::read_to_string(from)
                .with_context(|| format!("reading {}", from.display()))?;
            let saved: Vec<Value> = serde_json::from_str(&text).context("reading the runs")?;
            for r in saved {
                let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0) as usize;
                rows.push(Row {
                    label: r
                        .get("label")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    organisations: n("organisations"),
                    loans: n("loans"),
                    runs: r
                        .get("runs")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
        for s in args
            .scale_sizes
            .iter()
            .filter(|_| args.scale_from.is_none())
        {
            let (label, organisations, loans) = parse_size(s)?;
            let mut row = Row {
                label,
                organisations,
                loans,
                runs: Vec::new(),
            };
            for k in 0..args.repeat.max(1) {
                eprintln!(
                    "{}: {organisations} organisations, {loans} loans (run {} of {})…",
                    row.label,
                    k + 1,
                    args.repeat.max(1)
                );
                let out = Command::new(&exe)
                    .args(["--json", "--worst", "0", "--seed"])
                    .arg(args.seed.to_string())
                    .arg("--organisations")
                    .arg(organisations.to_string())
                    .arg("--loans")
                    .arg(loans.to_string())
                    .arg("--bad-records")
                    .arg(args.bad_records.to_string())
                    .arg("--order")
                    .arg(match args.order {
                        hub_reconciler::accuracy::FeedOrder::Time => "time",
                        hub_reconciler::accuracy::FeedOrder::RegistryFirst => "registry-first",
                        hub_reconciler::accuracy::FeedOrder::RegistryLast => "registry-last",
                    })
                    .output()
                    .context("running a world")?;
                if !out.status.success() {
                    bail!(
                        "{} failed: {}",
                        row.label,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                let v: Value = serde_json::from_slice(&out.stdout).context("reading a run")?;
                eprintln!(
                    "  {:.1} s, CPU {:.1} s, peak {:.0} MiB, F1 {:.4}",
                    get(&v, &["engine_seconds"]).unwrap_or(f64::NAN),
                    get(&v, &["engine_cpu_seconds"]).unwrap_or(f64::NAN),
                    get(&v, &["peak_rss_bytes"]).unwrap_or(f64::NAN) / 1048576.0,
                    get(&v, &["metrics", "f1"]).unwrap_or(f64::NAN)
                );
                row.runs.push(v);
            }
            rows.push(row);
        }
        let table = render(args, &rows);
        println!("{table}");
        if let Some(dir) = args.scale_out.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        std::fs::write(&args.scale_out, &table)
            .with_context(|| format!("writing {}", args.scale_out.display()))?;
        let json: Vec<Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "label": r.label, "organisations": r.organisations, "loans": r.loans,
                    "runs": r.runs,
                })
            })
            .collect();
        let json_path = args.scale_out.with_extension("json");
        std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", json_path.display()))?;
        eprintln!(
            "written to {} and {}",
            args.scale_out.display(),
            json_path.display()
        );
        Ok(())
    }

    fn render(args: &Args, rows: &[Row]) -> String {
        let wall = |v: &Value| get(v, &["engine_seconds"]);
        let cpu = |v: &Value| get(v, &["engine_cpu_seconds"]);
        let obs = |v: &Value| get(v, &["observations"]);
        let mib = |v: &Value| get(v, &["peak_rss_bytes"]).map(|b| b / 1048576.0);
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Reconciler growth: seed {}, {:?} order, {} run(s) per world\n",
            args.seed,
            args.order,
            args.repeat.max(1)
        );
        let _ = writeln!(
            t,
            "| world | orgs | loans | observations | engine s (wall) | engine s (CPU) | µs/obs (CPU) | × time (CPU) / × observations | cost per observation × | peak RSS MiB | pairs scored/obs | key lists/obs | mean key list | longest key list | largest identity | precision | recall | F1 |"
        );
        let _ = writeln!(t, "|{}", "---|".repeat(18));
        let mut prev: Option<&Row> = None;
        for r in rows {
            let n = r.first(obs);
            let growth = prev.map_or("—".to_owned(), |p| {
                let (tc, tp) = (r.median(cpu), p.median(cpu));
                let (wc, wp) = (r.median(wall), p.median(wall));
                format!(
                    "{:.1}× (wall {:.1}×) / {:.1}×",
                    tc / tp,
                    wc / wp,
                    n / p.first(obs)
                )
            });
            let per_obs = prev.map_or("—".to_owned(), |p| {
                let now = r.median(cpu) / n.max(1.0);
                let before = p.median(cpu) / p.first(obs).max(1.0);
                format!("{:.2}×", now / before)
            });
            let per = |f: &dyn Fn(&Value) -> Option<f64>| r.first(|v| f(v)) / n.max(1.0);
            let lookups = r.first(|v| get(v, &["key_lookups"]));
            let _ = writeln!(
                t,
                "| {} | {} | {} | {:.0} | {} | {} | {:.0} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.4} | {:.4} | {:.4} |",
                r.label,
                r.organisations,
                r.loans,
                n,
                r.range(wall, 2),
                r.range(cpu, 2),
                r.median(cpu) / n.max(1.0) * 1e6,
                growth,
                per_obs,
                r.range(mib, 0),
                per(&|v| get(v, &["pairs_scored"])),
                lookups / n.max(1.0),
                r.first(|v| get(v, &["key_list_entries"])) / lookups.max(1.0),
                r.first(|v| get(v, &["longest_key_list"])),
                r.first(|v| get(v, &["largest_identity"])),
                r.first(|v| get(v, &["metrics", "precision"])),
                r.first(|v| get(v, &["metrics", "recall"])),
                r.first(|v| get(v, &["metrics", "f1"])),
            );
            prev = Some(r);
        }
        let _ = writeln!(
            t,
            "\nEngine time only (world generation, feed conversion and scoring excluded); CPU is the \
             engine thread's own time, steadier than the wall clock on a shared machine. Peak RSS is \
             the process's peak while the engine ran (the world and its feed are in memory too). \
             Key lists: the blocking lists looked up per observation, their mean and longest length; \
             the engine reads at most a bounded part of them. Ratios use the median of the runs; \
             `cost per observation ×` is the change in CPU time per observation from the row above."
        );
        t
    }
}

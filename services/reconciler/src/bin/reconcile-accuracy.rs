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
//!
//! `--eval` runs the evaluation table: every combination of `--sizes` (organisations; loans
//! `--loans-per-org` times as many), `--noise` models (`classic`, `field`) and `--seeds`, each
//! in a child process, and prints overall and per-source-pair precision and recall and the
//! share of records left in review; written to `--eval-out` (markdown, JSON beside it).
//!
//! Built only with the crate's `accuracy` feature (`--features accuracy`).
//!
//! Diagnostics of a single run, by environment variable: `SHOW_WEIGHTS` prints the weights
//! in use, `SHOW_REVIEWS` the open reviews of NTM entries, `SHOW_INDICATOR_ERRORS` every
//! supported HTX whose credit (I7) or enterprise linkage (I6) the engine sees otherwise than
//! the truth, with the records that made the difference and where they went.

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::weights::Weights;
use hub_reconciler::engine::{Engine, blocking};
use hub_simulators::{NoiseModel, WorldConfig, generate};

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
    /// After the run, score a record against every member of another record's identity:
    /// `system/id=system/id` (the pair scores with conflicts, for debugging rules).
    #[arg(long)]
    explain: Option<String>,
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
    /// Noise model(s) of the world: `classic` or `field`; with `--eval`, a comma-separated
    /// list of the models to run (a single run uses the first).
    #[arg(long, default_value = "classic", value_delimiter = ',')]
    noise: Vec<NoiseModel>,
    /// Match weights: `estimated` (the settle pass estimates them from the world's records,
    /// as the service does once quiet) or `legacy` (the hand-set weights of rules 1.0, fixed);
    /// with `--eval`, a comma-separated list to run side by side.
    #[arg(long, default_value = "estimated", value_delimiter = ',')]
    weights: Vec<String>,
    /// Run the evaluation table (see the module documentation) instead of one world.
    #[arg(long)]
    eval: bool,
    /// Seeds of the evaluation table.
    #[arg(long, default_value = "1,2,3", value_delimiter = ',')]
    seeds: Vec<u64>,
    /// World sizes of the evaluation table: `organisations` (loans `--loans-per-org` times as
    /// many) or `organisations:loans`, comma-separated. The defaults give about 4,300 source
    /// records (registry records, loans, NTM reports) and about 85,000.
    #[arg(long, default_value = "1500:2650,30000:57700", value_delimiter = ',')]
    sizes: Vec<String>,
    /// Loans per organisation in the evaluation table when a size gives none: 1.8 gives
    /// about 4,400 source records (registry records, loans, NTM reports) for 1,500
    /// organisations and 81,000 for 30,000.
    #[arg(long, default_value_t = 1.8)]
    loans_per_org: f64,
    /// Where the evaluation table is written (markdown; the JSON goes beside it).
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/eval-results.md"))]
    eval_out: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.scale {
        return scale::run(&args);
    }
    if args.eval {
        return eval::run(&args);
    }
    let noise = args.noise.first().copied().unwrap_or_default();
    let mut cfg = WorldConfig::new(args.seed, accuracy::default_now());
    cfg.noise = noise;
    cfg.organisations = args.organisations;
    cfg.loans = args.loans;
    cfg.bad_records = args.bad_records;
    cfg.report_years = args.report_years.clone();
    let t0 = Instant::now();
    let world = generate(&cfg).context("generating the world")?;
    let generated = t0.elapsed();
    // what the three systems serve (well-formed): registry records, loans, NTM reports
    let source_records = world.registry.iter().filter(|r| r.bad.is_none()).count()
        + world.loans.iter().filter(|l| l.bad.is_none()).count()
        + world
            .reports
            .iter()
            .filter(|r| r.current().is_some_and(|c| c.bad.is_none()))
            .count();
    let contracts = accuracy::world_contracts(&world);
    let feed = accuracy::feed_of(&contracts, args.order);
    let mut engine = Engine::new();
    let weights = args.weights.first().map_or("estimated", String::as_str);
    match weights {
        "estimated" => {}
        "legacy" => engine.fix_weights(Weights::legacy().clone()),
        other => anyhow::bail!("unknown --weights {other:?}: estimated or legacy"),
    }
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
    // the settle pass, as the service runs it once the input is quiet: with estimated
    // weights it estimates them from every record, then replays in canonical order
    let settle_start = Instant::now();
    engine.settle(now);
    let elapsed = elapsed + settle_start.elapsed();
    // with --trace, the decisions of a replay with the settled weights, registry first
    if let Some(n) = &needle {
        println!("--- replay with the settled weights, registry first ---");
        let mut again = Engine::new();
        again.fix_weights(engine.weights().clone());
        let feed = accuracy::feed_of(&contracts, accuracy::FeedOrder::RegistryFirst);
        accuracy::run_traced(&mut again, feed, now, |_, ch| {
            for d in &ch.decisions {
                let note = d
                    .note
                    .as_deref()
                    .map(hub_normalise::text::fold)
                    .unwrap_or_default();
                if note.contains(n.as_str()) {
                    println!(
                        "{:?} {:?} {:?}\n    {:?}",
                        d.outcome, d.source, d.note, d.features
                    );
                }
            }
        });
    }
    if let Some(spec) = &args.explain {
        explain(&mut engine, spec)?;
    }
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
    let params = hub_simulators::TruthParams::for_world(&world);
    let truth = world.truth(&params);
    let metrics = accuracy::evaluate(&engine, &truth, args.worst);
    let indicators = accuracy::check_indicators(&engine, &contracts, &truth, params, now)
        .context("computing the indicators")?;
    let stats = engine.stats();
    let rate = observations as f64 / elapsed.as_secs_f64().max(1e-9);
    let lookups = lookups1.lookups - lookups0.lookups;
    if args.json {
        let v = serde_json::json!({
            "seed": args.seed, "organisations": args.organisations, "loans": args.loans,
            "noise": noise, "order": args.order, "observations": observations,
            "weights": weights,
            "review_share": stats.open_reviews as f64 / observations.max(1) as f64,
            "source_records": source_records,
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
            "indicators": indicators,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!(
        "world: seed {} · {noise} noise · {} organisations · {} loans · years {:?} · generated in {:.1} s",
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
        "precision {:.4} · recall {:.4} · F1 {:.4} · open reviews per observation {:.4}",
        metrics.precision,
        metrics.recall,
        metrics.f1,
        stats.open_reviews as f64 / observations.max(1) as f64
    );
    for p in &metrics.by_pair {
        println!(
            "  {:<18} precision {:.4} · recall {:.4} · F1 {:.4} (true {} · predicted {} · correct {})",
            p.pair, p.precision, p.recall, p.f1, p.true_pairs, p.predicted_pairs, p.correct_pairs
        );
    }
    println!(
        "open reviews by logit (<1, 1–2, 2–3, ≥3): one organisation {:?}, different {:?}",
        metrics.reviews_same_org, metrics.reviews_different
    );
    {
        let mut by: std::collections::BTreeMap<(String, String), usize> = Default::default();
        for r in engine.reviews() {
            if r.status == hub_reconciler::engine::ReviewStatus::Open {
                let mut k = [r.observation.system.clone(), r.candidate.system.clone()];
                k.sort();
                let [a, b] = k;
                *by.entry((a, b)).or_default() += 1;
            }
        }
        println!("open reviews by systems: {by:?}");
        if std::env::var_os("SHOW_WEIGHTS").is_some() {
            println!("{}", engine.weights().describe());
        }
        if std::env::var_os("SHOW_REVIEWS").is_some() {
            let mut open: Vec<_> = engine
                .reviews()
                .filter(|r| {
                    r.status == hub_reconciler::engine::ReviewStatus::Open
                        && r.observation.system == "ntm"
                })
                .collect();
            open.sort_by(|a, b| a.observation.cmp(&b.observation));
            for r in open.into_iter().take(60) {
                let obs = engine.observation(&r.observation);
                let cand = engine.observation(&r.candidate);
                println!(
                    "  review {} {:?} | {} {:?} · {:?}",
                    r.observation,
                    obs.map(|o| (&o.name, &o.commune_code, &o.representative)),
                    r.candidate,
                    cand.map(|o| (&o.name, &o.commune_code, &o.representative)),
                    r.features.get("logit")
                );
            }
        }
    }
    println!(
        "indicators ≠ truth: {} of {} values (province and districts: {} of {})",
        indicators.differ,
        indicators.values,
        indicators.differ_province_districts,
        indicators.values_province_districts
    );
    for d in indicators.differences.iter().take(args.worst) {
        println!("  {d}");
    }
    if std::env::var_os("SHOW_INDICATOR_ERRORS").is_some() {
        for e in accuracy::indicator_errors(&engine, &contracts, &truth, now) {
            println!("  {e}");
        }
    }
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

/// The evaluation table: every size × noise model × seed in a child process of this binary
/// (`--json`), overall and per-source-pair figures side by side.
mod eval {
    use std::fmt::Write as _;
    use std::process::Command;

    use anyhow::{Context, bail};
    use serde_json::Value;

    use super::Args;

    fn num(v: &Value, path: &[&str]) -> f64 {
        let mut x = v;
        for p in path {
            match x.get(p) {
                Some(y) => x = y,
                None => return f64::NAN,
            }
        }
        x.as_f64().unwrap_or(f64::NAN)
    }

    /// A source pair's figure (`precision`, `recall`, `true_pairs`, …) of a run.
    fn pair(v: &Value, name: &str, field: &str) -> f64 {
        v.pointer("/metrics/by_pair")
            .and_then(Value::as_array)
            .and_then(|ps| {
                ps.iter()
                    .find(|p| p.get("pair").and_then(Value::as_str) == Some(name))
            })
            .and_then(|p| p.get(field))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    }

    fn order_arg(args: &Args) -> &'static str {
        match args.order {
            hub_reconciler::accuracy::FeedOrder::Time => "time",
            hub_reconciler::accuracy::FeedOrder::RegistryFirst => "registry-first",
            hub_reconciler::accuracy::FeedOrder::RegistryLast => "registry-last",
        }
    }

    pub fn run(args: &Args) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding this program")?;
        let mut runs: Vec<Value> = Vec::new();
        for spec in &args.sizes {
            let (size, loans) = match spec.split_once(':') {
                Some((o, l)) => (o.trim().parse::<usize>()?, l.trim().parse::<usize>()?),
                None => {
                    let o = spec.trim().parse::<usize>()?;
                    (o, (o as f64 * args.loans_per_org).round() as usize)
                }
            };
            for noise in &args.noise {
                for (&seed, weights) in args
                    .seeds
                    .iter()
                    .flat_map(|s| args.weights.iter().map(move |w| (s, w)))
                {
                    eprintln!(
                        "{size} organisations, {loans} loans, {noise} noise, seed {seed}, {weights} weights…"
                    );
                    let out = Command::new(&exe)
                        .args(["--json", "--worst", "5", "--weights", weights, "--seed"])
                        .arg(seed.to_string())
                        .arg("--organisations")
                        .arg(size.to_string())
                        .arg("--loans")
                        .arg(loans.to_string())
                        .arg("--bad-records")
                        .arg(args.bad_records.to_string())
                        .arg("--noise")
                        .arg(noise.as_str())
                        .arg("--order")
                        .arg(order_arg(args))
                        .output()
                        .context("running a world")?;
                    if !out.status.success() {
                        bail!(
                            "{size}/{noise}/{seed} failed: {}",
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                    let v: Value = serde_json::from_slice(&out.stdout).context("reading a run")?;
                    eprintln!(
                        "  {:.0} records · P {:.4} R {:.4} F1 {:.4} · review {:.2} % · engine {:.1} s",
                        num(&v, &["observations"]),
                        num(&v, &["metrics", "precision"]),
                        num(&v, &["metrics", "recall"]),
                        num(&v, &["metrics", "f1"]),
                        num(&v, &["review_share"]) * 100.0,
                        num(&v, &["engine_seconds"])
                    );
                    runs.push(v);
                }
            }
        }
        let table = render(args, &runs);
        println!("{table}");
        if let Some(dir) = args.eval_out.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        std::fs::write(&args.eval_out, &table)
            .with_context(|| format!("writing {}", args.eval_out.display()))?;
        let json_path = args.eval_out.with_extension("json");
        std::fs::write(&json_path, serde_json::to_string_pretty(&runs)?)
            .with_context(|| format!("writing {}", json_path.display()))?;
        eprintln!(
            "written to {} and {}",
            args.eval_out.display(),
            json_path.display()
        );
        Ok(())
    }

    /// A run's noise model and weights, as the means table groups them (`field · estimated`).
    fn model_of(v: &Value) -> String {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("?").to_owned();
        format!("{} · {}", s("noise"), s("weights"))
    }

    /// The pairs shown, with their column titles.
    const PAIRS: [(&str, &str); 5] = [
        ("registry-loan", "reg↔loan"),
        ("loan-loan", "loan↔loan"),
        ("loan-ntm", "loan↔ntm"),
        ("registry-ntm", "reg↔ntm"),
        ("ntm-ntm", "ntm↔ntm"),
    ];

    fn render(args: &Args, runs: &[Value]) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# Reconciler accuracy: {} order, sizes {}\n",
            order_arg(args),
            args.sizes.join(", ")
        );
        let _ = write!(
            t,
            "| orgs | loans | noise | seed | weights | source records | observations | P | R | F1 |"
        );
        for (_, title) in PAIRS {
            let _ = write!(t, " {title} R / P |");
        }
        let _ = writeln!(
            t,
            " reg↔reg false pairs | open reviews / records | indicators ≠ truth: province+districts / all | engine s |"
        );
        let _ = writeln!(t, "|{}", "---|".repeat(10 + PAIRS.len() + 4));
        let f = |x: f64| {
            if x.is_nan() {
                "–".to_owned()
            } else {
                format!("{x:.4}")
            }
        };
        for v in runs {
            let _ = write!(
                t,
                "| {:.0} | {:.0} | {} | {:.0} | {} | {:.0} | {:.0} | {} | {} | {} |",
                num(v, &["organisations"]),
                num(v, &["loans"]),
                v.get("noise").and_then(Value::as_str).unwrap_or("?"),
                num(v, &["seed"]),
                v.get("weights").and_then(Value::as_str).unwrap_or("?"),
                num(v, &["source_records"]),
                num(v, &["observations"]),
                f(num(v, &["metrics", "precision"])),
                f(num(v, &["metrics", "recall"])),
                f(num(v, &["metrics", "f1"])),
            );
            for (name, _) in PAIRS {
                let _ = write!(
                    t,
                    " {} / {} |",
                    f(pair(v, name, "recall")),
                    f(pair(v, name, "precision"))
                );
            }
            let _ = writeln!(
                t,
                " {:.0} | {:.2} % | {:.0} of {:.0} / {:.0} of {:.0} | {:.1} |",
                pair(v, "registry-registry", "predicted_pairs"),
                num(v, &["review_share"]) * 100.0,
                num(v, &["indicators", "differ_province_districts"]),
                num(v, &["indicators", "values_province_districts"]),
                num(v, &["indicators", "differ"]),
                num(v, &["indicators", "values"]),
                num(v, &["engine_seconds"]),
            );
        }
        // means per size and model
        let _ = writeln!(t, "\nMeans over the seeds:\n");
        let _ = write!(t, "| orgs | noise · weights | runs | P | R | F1 |");
        for (_, title) in PAIRS {
            let _ = write!(t, " {title} R / P |");
        }
        let _ = writeln!(
            t,
            " open reviews / records | runs with every province and district value true |"
        );
        let _ = writeln!(t, "|{}", "---|".repeat(6 + PAIRS.len() + 2));
        let mut groups: Vec<(f64, String)> = Vec::new();
        for v in runs {
            let key = (num(v, &["organisations"]), model_of(v));
            if !groups.contains(&key) {
                groups.push(key);
            }
        }
        for (orgs, noise) in groups {
            let group: Vec<&Value> = runs
                .iter()
                .filter(|v| num(v, &["organisations"]) == orgs && model_of(v) == noise)
                .collect();
            let mean = |g: &dyn Fn(&Value) -> f64| {
                group.iter().map(|v| g(v)).sum::<f64>() / group.len().max(1) as f64
            };
            let _ = write!(
                t,
                "| {orgs:.0} | {noise} | {} | {} | {} | {} |",
                group.len(),
                f(mean(&|v| num(v, &["metrics", "precision"]))),
                f(mean(&|v| num(v, &["metrics", "recall"]))),
                f(mean(&|v| num(v, &["metrics", "f1"]))),
            );
            for (name, _) in PAIRS {
                let _ = write!(
                    t,
                    " {} / {} |",
                    f(mean(&|v| pair(v, name, "recall"))),
                    f(mean(&|v| pair(v, name, "precision")))
                );
            }
            let exact = group
                .iter()
                .filter(|v| num(v, &["indicators", "differ_province_districts"]) == 0.0)
                .count();
            let _ = writeln!(
                t,
                " {:.2} % | {exact} of {} |",
                mean(&|v| num(v, &["review_share"])) * 100.0,
                group.len()
            );
        }
        let _ = writeln!(
            t,
            "\nPairwise precision (P), recall (R) and F1 over pairs of source records said to be one \
             organisation, overall and per source pair (the systems of the two records: registry, \
             loan fund, NTM report entry). A pair with nothing to find has recall 1; nothing \
             predicted, precision 1. `reg↔reg false pairs`: pairs of registry records put together \
             (every registry record is its own organisation, so each is a false merge). Open \
             reviews / records: review items still open after the run over the observations fed \
             (registry records, loans and NTM report entries; source records count an NTM report \
             once). Indicators ≠ truth: the plan's indicator values (I1–I10 of every unit, Lai Châu's \
             plan, 2024 units) computed from the engine's golden records with the indicator \
             service's own computation, that differ from the world's truth: for the province and \
             its districts, then for every unit (communes included). \
             Deliberately bad records are left out of the feed; household loans are in it and count \
             against precision when they join an organisation. Each run is a child process; world \
             generation is not timed."
        );
        t
    }
}

/// `--explain a=b`: `a` scored against every member of `b`'s identity.
fn explain(engine: &mut Engine, spec: &str) -> anyhow::Result<()> {
    let parse = |t: &str| -> anyhow::Result<hub_contracts::v1::SourceRef> {
        let (system, id) = t
            .split_once('/')
            .with_context(|| format!("--explain: `{t}` is not system/id"))?;
        Ok(hub_contracts::v1::SourceRef::new(system, id))
    };
    let (a, b) = spec
        .split_once('=')
        .context("--explain takes system/id=system/id")?;
    let (a, b) = (parse(a)?, parse(b)?);
    let id = engine
        .identity_of(&b)
        .with_context(|| format!("--explain: {b} has no identity"))?;
    for r in [&a, &b] {
        if let Some(o) = engine.observation(r) {
            println!(
                "{r}: {:?} · commune {:?} · district {:?} · address {:?}",
                o.name, o.commune_code, o.district_code, o.address
            );
        }
        if let Some(f) = engine.features_of(r) {
            println!(
                "    features: commune {:?} · district {:?} · unit 2025 {:?} · near {:?} · joined {:x}",
                f.commune, f.district, f.unit_2025, f.near_districts, f.joined
            );
        }
    }
    println!("--- {a} against the identity of {b} ---");
    for m in engine.members(id).unwrap_or_default() {
        let name = engine.observation(&m).map(|o| o.name.clone());
        match engine.explain_pair(&a, &m) {
            Some(sc) => println!(
                "  {m} {name:?}: logit {:.2} · hard conflict {} · structural {} · person agrees {}\n    {:?}",
                sc.logit, sc.hard_conflict, sc.structural_conflict, sc.person_agrees, sc.features
            ),
            None => println!("  {m} {name:?}: not scored"),
        }
    }
    println!("--- candidates of {a} now ---");
    for c in engine.explain_candidates(&a) {
        let names: Vec<String> = engine
            .members(c.organisation_id)
            .unwrap_or_default()
            .iter()
            .take(3)
            .filter_map(|m| engine.observation(m).map(|o| o.name.clone()))
            .collect();
        println!(
            "  pre {:.2} · logit {:?} · {} · hits {:?}",
            c.pre_score,
            c.score.as_ref().map(|s| s.logit),
            names.join(" | "),
            c.hits.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
    }
    Ok(())
}

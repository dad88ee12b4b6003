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
//! the truth once the open reviews are answered, with the records that made the difference
//! and where they went.
//!
//! After the run, an operator who knows the truth answers every open review item (link or
//! separate); the indicators are checked before and after, so that the errors an operator's
//! answers fix show apart from those the engine made on its own.
//!
//! `REFERENCE_DIRS` (as for the services: plan folders) loads other provinces' units beside
//! Lai Châu's, to measure Lai Châu's worlds with them loaded (child runs inherit it).

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::blocking::{self, LookupStats};
use hub_reconciler::engine::weights::Weights;
use hub_reconciler::engine::{Changes, Engine, ReviewStatus, Stats};
use hub_simulators::world::World;
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
    /// `system/id=system/id` (the pair scores with conflicts, for debugging rules); several
    /// pairs separated by commas.
    #[arg(long)]
    explain: Option<String>,
    /// Run the growth table (see the module documentation) instead of one world.
    #[arg(long)]
    scale: bool,
    /// Measure the engine alone (what `--scale` runs): the world and its contracts are
    /// dropped once the feed and the truth are made, so that the peak RSS is the engine's
    /// and its input's; pairwise metrics only (no indicators, no review answers).
    #[arg(long)]
    engine_only: bool,
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
    if let Ok(dirs) = std::env::var(hub_runtime::units::VARIABLE) {
        hub_runtime::units::install(&hub_runtime::units::split_dirs(&dirs))
            .context("loading the provinces of REFERENCE_DIRS")?;
    }
    if args.scale {
        return scale::run(&args);
    }
    if args.eval {
        return eval::run(&args);
    }
    let noise = args.noise.first().copied().unwrap_or_default();
    let t0 = Instant::now();
    let world = generate(&world_config(&args, noise)).context("generating the world")?;
    let generated = t0.elapsed();
    let contracts = accuracy::world_contracts(&world);
    let feed = accuracy::feed_of(&contracts, args.order);
    let params = hub_simulators::TruthParams::for_world(&world);
    let truth = world.truth(&params);
    let run = RunInfo {
        noise,
        weights: args.weights.first().map_or("estimated", String::as_str),
        generated,
        source_records: source_records(&world),
    };
    // the world is not needed past here; the contracts only for the indicators
    drop(world);
    let contracts = (!args.engine_only).then_some(contracts);
    let mut engine = Engine::new();
    match run.weights {
        "estimated" => {}
        "legacy" => engine.fix_weights(Weights::legacy().clone()),
        other => anyhow::bail!("unknown --weights {other:?}: estimated or legacy"),
    }
    let now = chrono::Utc::now();
    let measured = measure_run(&args, &mut engine, feed, contracts.as_ref(), now)?;
    let mut report = Report {
        run,
        measured,
        metrics: accuracy::evaluate(&engine, &truth, args.worst),
        indicators: accuracy::IndicatorCheck::default(),
        i6_i7_errors: Vec::new(),
        stats: engine.stats(),
        after: AfterAnswers::default(),
    };
    let Some(contracts) = contracts else {
        // --engine-only: the pairwise metrics are all there is
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report.json(&args))?);
        } else {
            report.print_summary(&args);
        }
        return Ok(());
    };
    report.indicators = accuracy::check_indicators(&engine, &contracts, &truth, params, now)
        .context("computing the indicators")?;
    report.i6_i7_errors = accuracy::indicator_errors(&engine, &contracts, &truth, now);
    if !args.json {
        print_open_reviews(&engine);
    }
    // then an operator who knows the truth answers what the engine asked: what is still
    // wrong after that, the engine got wrong on its own
    let answered = accuracy::answer_reviews(&mut engine, &truth, now);
    let metrics = accuracy::evaluate(&engine, &truth, 0);
    report.after = AfterAnswers {
        answered,
        precision: metrics.precision,
        recall: metrics.recall,
        f1: metrics.f1,
        indicators: accuracy::check_indicators(&engine, &contracts, &truth, params, now)
            .context("computing the indicators after the answers")?,
        i6_i7_errors: accuracy::indicator_errors(&engine, &contracts, &truth, now),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json(&args))?);
        return Ok(());
    }
    report.print_summary(&args);
    report.print_indicators(&args);
    if std::env::var_os("SHOW_INDICATOR_ERRORS").is_some() {
        for (when, errors) in [
            ("before the answers", &report.i6_i7_errors),
            ("left after the answers", &report.after.i6_i7_errors),
        ] {
            println!("I6/I7 errors {when}, organisation by organisation:");
            for e in errors {
                println!("  {e}");
            }
        }
    }
    report.print_worst();
    Ok(())
}

/// The world of a single run.
fn world_config(args: &Args, noise: NoiseModel) -> WorldConfig {
    let mut cfg = WorldConfig::new(args.seed, accuracy::default_now());
    cfg.noise = noise;
    cfg.organisations = args.organisations;
    cfg.loans = args.loans;
    cfg.bad_records = args.bad_records;
    cfg.report_years = args.report_years.clone();
    cfg
}

/// What the three systems serve (well-formed): registry records, loans, NTM reports.
fn source_records(world: &World) -> usize {
    world.registry.iter().filter(|r| r.bad.is_none()).count()
        + world.loans.iter().filter(|l| l.bad.is_none()).count()
        + world
            .reports
            .iter()
            .filter(|r| r.current().is_some_and(|c| c.bad.is_none()))
            .count()
}

/// What a run of the engine cost.
struct Measured {
    observations: usize,
    /// The feed and the settle pass.
    elapsed: Duration,
    cpu: Option<Duration>,
    /// The peak resident memory while the engine ran, and what it covers.
    peak: Option<u64>,
    peak_scope: &'static str,
    rss_before: Option<u64>,
    lookups: LookupStats,
}

/// Feeds the world to `engine` in `--order` and settles it, as the service does once the
/// input is quiet, measuring the engine only (the world and its feed are built); with
/// `--trace` it prints the decisions noted so, and with `--explain` the pairs asked for.
fn measure_run(
    args: &Args,
    engine: &mut Engine,
    feed: Vec<accuracy::FeedItem>,
    contracts: Option<&accuracy::WorldContracts>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Measured> {
    let needle = args.trace.as_deref().map(hub_normalise::text::fold);
    let rss_before = accuracy::peak_rss_bytes();
    let peak_reset = accuracy::reset_peak_rss();
    let cpu0 = accuracy::process_cpu_time();
    let lookups0 = blocking::lookup_stats();
    let (observations, elapsed) = accuracy::run_traced(engine, feed, now, |_, ch| {
        if let Some(n) = &needle {
            print_traced(n, ch);
        }
    });
    // the settle pass, as the service runs it once the input is quiet: with estimated
    // weights it estimates them from every record, then replays in canonical order
    let settle_start = Instant::now();
    engine.settle(now);
    let elapsed = elapsed + settle_start.elapsed();
    // with --trace, the decisions of a replay with the settled weights, in the settle order
    if let (Some(n), Some(contracts)) = (&needle, contracts) {
        println!("--- replay with the settled weights, in the settle pass's order ---");
        let mut again = Engine::new();
        again.fix_weights(engine.weights().clone());
        let feed = accuracy::feed_of(contracts, accuracy::FeedOrder::Canonical);
        accuracy::run_traced(&mut again, feed, now, |_, ch| print_replayed(n, ch));
    }
    if let Some(specs) = &args.explain {
        for spec in specs.split(',').filter(|s| !s.trim().is_empty()) {
            explain(engine, spec.trim())?;
        }
    }
    let cpu = match (cpu0, accuracy::process_cpu_time()) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let lookups1 = blocking::lookup_stats();
    Ok(Measured {
        observations,
        elapsed,
        cpu,
        // the peak while the engine ran (the world and feed included), before scoring
        peak: accuracy::peak_rss_bytes(),
        peak_scope: if peak_reset {
            "engine run"
        } else {
            "whole process"
        },
        rss_before,
        lookups: LookupStats {
            lookups: lookups1.lookups - lookups0.lookups,
            entries: lookups1.entries - lookups0.entries,
            longest: lookups1.longest,
        },
    })
}

/// The decisions of `ch` whose note contains `needle` (folded).
fn noted<'a>(
    needle: &'a str,
    ch: &'a Changes,
) -> impl Iterator<Item = &'a hub_contracts::v1::ReconciliationDecision> {
    ch.decisions.iter().filter(move |d| {
        d.note
            .as_deref()
            .map(hub_normalise::text::fold)
            .unwrap_or_default()
            .contains(needle)
    })
}

/// The decisions of `ch` noted with `needle`, in full.
fn print_traced(needle: &str, ch: &Changes) {
    for d in noted(needle, ch) {
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

/// The decisions of a replay noted with `needle`.
fn print_replayed(needle: &str, ch: &Changes) {
    for d in noted(needle, ch) {
        println!(
            "{:?} {:?} {:?}\n    {:?}",
            d.outcome, d.source, d.note, d.features
        );
    }
}

/// The run's settings as reported.
struct RunInfo<'a> {
    noise: NoiseModel,
    weights: &'a str,
    generated: Duration,
    source_records: usize,
}

/// Everything a single run reports.
struct Report<'a> {
    run: RunInfo<'a>,
    measured: Measured,
    metrics: accuracy::Metrics,
    indicators: accuracy::IndicatorCheck,
    /// Supported HTX whose I7 (credit) or I6 (enterprise linkage) the engine sees otherwise
    /// than the truth, one line each with the records that made the difference.
    i6_i7_errors: Vec<String>,
    stats: Stats,
    after: AfterAnswers,
}

/// The run once an operator who knows the truth answered the open reviews.
#[derive(Default)]
struct AfterAnswers {
    answered: accuracy::Answered,
    precision: f64,
    recall: f64,
    f1: f64,
    indicators: accuracy::IndicatorCheck,
    i6_i7_errors: Vec<String>,
}

impl Report<'_> {
    fn rate(&self) -> f64 {
        self.measured.observations as f64 / self.measured.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report as JSON (`--json`, what `--scale` and `--eval` read).
    fn json(&self, args: &Args) -> serde_json::Value {
        let (m, stats) = (&self.measured, &self.stats);
        let observations = m.observations;
        serde_json::json!({
            "seed": args.seed, "organisations": args.organisations, "loans": args.loans,
            "noise": self.run.noise, "order": args.order, "observations": observations,
            "weights": self.run.weights,
            "review_share": stats.open_reviews as f64 / observations.max(1) as f64,
            "source_records": self.run.source_records,
            "engine_seconds": m.elapsed.as_secs_f64(), "observations_per_second": self.rate(),
            "engine_cpu_seconds": m.cpu.map(|c| c.as_secs_f64()),
            "generation_seconds": self.run.generated.as_secs_f64(), "peak_rss_bytes": m.peak,
            "rss_before_engine_bytes": m.rss_before, "peak_rss_scope": m.peak_scope,
            "identities": stats.identities, "largest_identity": stats.largest_identity,
            "open_reviews": stats.open_reviews, "out_of_scope": stats.out_of_scope,
            "index_keys": stats.index_keys, "pairs_scored": stats.pairs_scored,
            "key_lookups": m.lookups.lookups,
            "key_list_entries": m.lookups.entries,
            "longest_key_list": m.lookups.longest,
            "metrics": self.metrics,
            "indicators": self.indicators,
            "i6_i7_errors": self.i6_i7_errors.len(),
            "after_answers": {
                "reviews": self.after.answered,
                "precision": self.after.precision, "recall": self.after.recall,
                "f1": self.after.f1,
                "indicators": self.after.indicators,
                "i6_i7_errors": self.after.i6_i7_errors.len(),
            },
        })
    }

    /// The world, the engine's cost, its identities and the pairwise metrics.
    fn print_summary(&self, args: &Args) {
        let (m, stats, metrics) = (&self.measured, &self.stats, &self.metrics);
        let observations = m.observations;
        println!(
            "world: seed {} · {} noise · {} organisations · {} loans · years {:?} · generated in {:.1} s",
            args.seed,
            self.run.noise,
            args.organisations,
            args.loans,
            args.report_years,
            self.run.generated.as_secs_f64()
        );
        println!(
            "engine: {observations} observations ({:?} order) in {:.2} s (CPU {}) = {:.0} obs/s · peak RSS {} ({})",
            args.order,
            m.elapsed.as_secs_f64(),
            m.cpu
                .map_or("unknown".into(), |c| format!("{:.2} s", c.as_secs_f64())),
            self.rate(),
            m.peak.map_or("unknown".into(), |b| format!(
                "{:.0} MiB",
                b as f64 / 1048576.0
            )),
            m.peak_scope
        );
        println!(
            "blocking: {:.1} key lists looked up per observation, {:.1} entries each on average, longest {} · pairs scored per observation {:.1}",
            m.lookups.lookups as f64 / observations.max(1) as f64,
            m.lookups.entries as f64 / m.lookups.lookups.max(1) as f64,
            m.lookups.longest,
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
                p.pair,
                p.precision,
                p.recall,
                p.f1,
                p.true_pairs,
                p.predicted_pairs,
                p.correct_pairs
            );
        }
        println!(
            "open reviews by logit (<1, 1–2, 2–3, ≥3): one organisation {:?}, different {:?}",
            metrics.reviews_same_org, metrics.reviews_different
        );
    }

    /// The indicators that differ from the truth (`--worst` of them).
    fn print_indicators(&self, args: &Args) {
        let indicators = &self.indicators;
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
        println!(
            "supported HTX with I6 or I7 otherwise than the truth: {}",
            self.i6_i7_errors.len()
        );
        let (a, after) = (&self.after.answered, &self.after.indicators);
        println!(
            "after an operator who knows the truth answers the open reviews ({} linked, {} separated, {} skipped): \
             precision {:.4} · recall {:.4} · F1 {:.4} · supported HTX with I6 or I7 otherwise {} · \
             {} of {} values ≠ truth (province and districts: {} of {})",
            a.linked,
            a.separated,
            a.skipped,
            self.after.precision,
            self.after.recall,
            self.after.f1,
            self.after.i6_i7_errors.len(),
            after.differ,
            after.values,
            after.differ_province_districts,
            after.values_province_districts
        );
        for d in after.differences.iter().take(args.worst) {
            println!("  {d}");
        }
    }

    /// The worst false merges and missed links.
    fn print_worst(&self) {
        if !self.metrics.false_merges.is_empty() {
            println!("\nworst false merges (records of different organisations put together):");
            for e in &self.metrics.false_merges {
                println!("  {} pairs: {}", e.pairs, e.names.join("  |  "));
            }
        }
        if !self.metrics.missed_links.is_empty() {
            println!("\nworst missed links (one organisation kept apart):");
            for e in &self.metrics.missed_links {
                println!("  {} pairs: {}", e.pairs, e.names.join("  |  "));
            }
        }
    }
}

/// Open reviews by the pair of systems; with `SHOW_WEIGHTS` the weights in use, with
/// `SHOW_REVIEWS` the open reviews of NTM entries.
fn print_open_reviews(engine: &Engine) {
    let mut by: std::collections::BTreeMap<(String, String), usize> = Default::default();
    for r in engine.reviews() {
        if r.status == ReviewStatus::Open {
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
            .filter(|r| r.status == ReviewStatus::Open && r.observation.system == "ntm")
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

mod scale;

mod eval;

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
            if let Some(f) = &o.registry {
                println!(
                    "    registry: established {:?} · status {:?} · members {:?} · updated {:?}",
                    f.established_on, f.status, f.member_households, o.observed_at
                );
            }
            if let Some(n) = &o.ntm {
                println!(
                    "    ntm: year {} · revision {} · members {:?} · effective {} · linked {:?}",
                    n.year, n.revision, n.members, n.effective, n.linked_with_enterprise
                );
            }
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

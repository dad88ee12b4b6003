//! The growth table: each world in a child process of this binary (`--json`), then ratios
//! between consecutive sizes.
//!
//! Part of `reconcile-accuracy` (see `main.rs`); reads the child runs' JSON, owns no engine.

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
        let text =
            std::fs::read_to_string(from).with_context(|| format!("reading {}", from.display()))?;
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
                .args(["--json", "--engine-only", "--worst", "0", "--seed"])
                .arg(args.seed.to_string())
                .arg("--organisations")
                .arg(organisations.to_string())
                .arg("--loans")
                .arg(loans.to_string())
                .arg("--bad-records")
                .arg(args.bad_records.to_string())
                .arg("--order")
                .arg(args.order.as_str())
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
        "\nEngine time only (world generation, feed conversion and scoring excluded): the records \
         resolved in turn, each batch of 256 read ahead on every core, then the settle pass \
         (weights estimated on every core, the canonical replay). CPU is the process's CPU time \
         over that run, all threads, steadier than the wall clock on a shared machine. Peak RSS \
         is the process's peak while the engine ran, with the world and its contracts dropped \
         before (`--engine-only`): the engine, and the feed it has not read yet. \
         Key lists: the blocking lists looked up per observation, their mean and longest length; \
         the engine reads at most a bounded part of them. Ratios use the median of the runs; \
         `cost per observation ×` is the change in CPU time per observation from the row above."
    );
    t
}

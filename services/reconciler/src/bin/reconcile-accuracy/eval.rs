//! The evaluation table: every size × noise model × seed in a child process of this binary
//! (`--json`), overall and per-source-pair figures side by side.
//!
//! Part of `reconcile-accuracy` (see `main.rs`); reads the child runs' JSON, owns no engine.

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
                    .arg(args.order.as_str())
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
        args.order.as_str(),
        args.sizes.join(", ")
    );
    render_runs(&mut t, runs);
    render_means(&mut t, runs);
    let _ = writeln!(t, "{NOTE}");
    t
}

/// A figure to four places, `–` where the run has none.
fn f(x: f64) -> String {
    if x.is_nan() {
        "–".to_owned()
    } else {
        format!("{x:.4}")
    }
}

/// The table of every run.
fn render_runs(t: &mut String, runs: &[Value]) {
    let _ = write!(
        t,
        "| orgs | loans | noise | seed | weights | source records | observations | P | R | F1 |"
    );
    for (_, title) in PAIRS {
        let _ = write!(t, " {title} R / P |");
    }
    let _ = writeln!(
        t,
        " reg↔reg false pairs | open reviews / records | indicators ≠ truth: province+districts / all | supported HTX with I6/I7 ≠ truth | after the reviews are answered: F1 · indicators ≠ truth · HTX with I6/I7 ≠ truth | engine s |"
    );
    let _ = writeln!(t, "|{}", "---|".repeat(10 + PAIRS.len() + 6));
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
            " {:.0} | {:.2} % | {} | {:.0} | {} · {} · {:.0} | {:.1} |",
            pair(v, "registry-registry", "predicted_pairs"),
            num(v, &["review_share"]) * 100.0,
            off(v, &["indicators"]),
            num(v, &["i6_i7_errors"]),
            f(num(v, &["after_answers", "f1"])),
            off(v, &["after_answers", "indicators"]),
            num(v, &["after_answers", "i6_i7_errors"]),
            num(v, &["engine_seconds"]),
        );
    }
}

/// How many indicator values of the check at `path` (`indicators`, or those after the
/// answers) differ from the truth: province and districts, then all units.
fn off(v: &Value, path: &[&str]) -> String {
    let at = |field: &str| {
        let mut p = path.to_vec();
        p.push(field);
        num(v, &p)
    };
    format!(
        "{:.0} of {:.0} / {:.0} of {:.0}",
        at("differ_province_districts"),
        at("values_province_districts"),
        at("differ"),
        at("values"),
    )
}

/// The means over the seeds, per size and model.
fn render_means(t: &mut String, runs: &[Value]) {
    let _ = writeln!(t, "\nMeans over the seeds:\n");
    let _ = write!(t, "| orgs | noise · weights | runs | P | R | F1 |");
    for (_, title) in PAIRS {
        let _ = write!(t, " {title} R / P |");
    }
    let _ = writeln!(
        t,
        " open reviews / records | runs with every province and district value true | supported HTX with I6/I7 ≠ truth | after the reviews are answered: F1 · runs with every value true · HTX with I6/I7 ≠ truth |"
    );
    let _ = writeln!(t, "|{}", "---|".repeat(6 + PAIRS.len() + 4));
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
        let exact = |path: &[&str]| {
            let mut p = path.to_vec();
            p.push("differ_province_districts");
            group.iter().filter(|v| num(v, &p) == 0.0).count()
        };
        let _ = writeln!(
            t,
            " {:.2} % | {} of {n} | {:.1} | {} · {} of {n} · {:.1} |",
            mean(&|v| num(v, &["review_share"])) * 100.0,
            exact(&["indicators"]),
            mean(&|v| num(v, &["i6_i7_errors"])),
            f(mean(&|v| num(v, &["after_answers", "f1"]))),
            exact(&["after_answers", "indicators"]),
            mean(&|v| num(v, &["after_answers", "i6_i7_errors"])),
            n = group.len()
        );
    }
}

/// What the table's figures mean.
const NOTE: &str = "\nPairwise precision (P), recall (R) and F1 over pairs of source records said to be one \
         organisation, overall and per source pair (the systems of the two records: registry, \
         loan fund, NTM report entry). A pair with nothing to find has recall 1; nothing \
         predicted, precision 1. `reg↔reg false pairs`: pairs of registry records put together \
         (every registry record is its own organisation, so each is a false merge). Open \
         reviews / records: review items still open after the run over the observations fed \
         (registry records, loans and NTM report entries; source records count an NTM report \
         once). Indicators ≠ truth: the plan's indicator values (I1–I10 of every unit, Lai Châu's \
         plan, 2024 units) computed from the engine's golden records with the indicator \
         service's own computation, that differ from the world's truth: for the province and \
         its districts, then for every unit (communes included). Supported HTX with I6/I7 ≠ \
         truth: registered cooperatives whose credit (I7) or enterprise linkage (I6) the engine \
         sees otherwise than the truth, counted one by one (a district's value can be right \
         while two such errors cancel). After the reviews are answered: the same run once an \
         operator who knows the truth answered every open review item (link when the two \
         records are one organisation, separate otherwise), which tells the errors an \
         operator's answers fix from those the engine made on its own. \
         Deliberately bad records are left out of the feed; household loans are in it and count \
         against precision when they join an organisation. Each run is a child process; world \
         generation is not timed.";

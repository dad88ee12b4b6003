//! `hub demo`: the whole hub on this machine in one command.
//!
//! Starts the three simulators and every service over the default broker and PostgreSQL
//! server, in a database of its own (`coophub_demo`, made afresh at each run, so a demo never
//! mixes with an earlier one) and the topology namespace `demo`, and uploads the Farmers'
//! Union's workbooks of the simulated world (through the same ingest as `hub upload`). It
//! waits for the first snapshot that reflects the simulators' data and the workbooks (I5 and
//! I8 included), prints the province's indicators against the plan's targets and the HTTP
//! addresses, and runs until Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use hub_contracts::v1::{IndicatorSnapshot, ValueStatus};
use hub_runtime::CommonConfig;
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::cli::SimArgs;
use hub_simulators::union::UnionTruth;
use hub_simulators::{TruthParams, UnitList};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::pipeline::{Pipeline, PipelineConfig, Sources};

/// Database the demo (re)creates on the configured server.
pub const DEMO_DATABASE: &str = "coophub_demo";

/// Options of `hub demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Reconciler API address.
    #[arg(
        long,
        env = "HUB_DEMO_RECONCILER_ADDR",
        default_value = "127.0.0.1:8081"
    )]
    pub reconciler_addr: SocketAddr,
    /// Indicator API address.
    #[arg(
        long,
        env = "HUB_DEMO_INDICATORS_ADDR",
        default_value = "127.0.0.1:8082"
    )]
    pub indicators_addr: SocketAddr,
    /// Operator console address.
    #[arg(long, env = "HUB_DEMO_CONSOLE_ADDR", default_value = "127.0.0.1:8080")]
    pub console_addr: SocketAddr,
    /// The adapters' addresses (`/readyz`, `/metrics`, `POST /api/v1/sync`, a file source's
    /// uploads), which the console reads: one per registered source, in `hub::sources`
    /// order (coop-alliance, loan-fund, ntm, farmers-union); a source left without one serves
    /// no HTTP (a file source then does not run).
    #[arg(
        long,
        env = "HUB_DEMO_ADAPTER_ADDRS",
        value_delimiter = ',',
        default_value = "127.0.0.1:8091,127.0.0.1:8092,127.0.0.1:8093,127.0.0.1:8094"
    )]
    pub adapter_addrs: Vec<SocketAddr>,
    /// Doubtful pairs the demo plants (a cancelled loan or an NTM entry of a cooperative
    /// written with only the name it shares with a namesake), so that the review queue has
    /// work in the first minute.
    #[arg(long, default_value_t = 5)]
    pub doubtful_pairs: usize,
    /// The database the demo makes afresh on the configured PostgreSQL server.
    #[arg(long, env = "HUB_DEMO_DATABASE", default_value = DEMO_DATABASE)]
    pub database: String,
    /// Console users (argon2 hashes); the dev file's users are viewer/viewer-dev,
    /// reviewer/reviewer-dev and admin/admin-dev.
    #[arg(
        long,
        env = "CONSOLE_USERS_FILE",
        default_value = "deploy/console/users.dev.toml"
    )]
    pub users_file: std::path::PathBuf,
    /// Seconds to wait for the first complete snapshot.
    #[arg(long, default_value_t = 110)]
    pub wait_secs: u64,
    /// Exit after printing the table instead of running until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub sim: SimArgs,
}

/// What stopped the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Config(#[from] hub_runtime::ConfigError),
    #[error("PostgreSQL ({0})")]
    Database(String),
    #[error("simulators: {0}")]
    Simulators(#[from] hub_simulators::SimError),
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error("console: {0}")]
    Console(#[from] hub_console::Error),
    #[error("uploading the Farmers' Union's workbooks: {0}")]
    Union(String),
    #[error("no snapshot within {0} s: is the pipeline stuck? see the logs above")]
    NoSnapshot(u64),
}

/// `url` with its database replaced by `db`.
fn with_database(url: &str, db: &str) -> Result<String, DemoError> {
    let mut parsed =
        reqwest::Url::parse(url).map_err(|e| DemoError::Database(format!("DATABASE_URL: {e}")))?;
    parsed.set_path(&format!("/{db}"));
    Ok(parsed.to_string())
}

async fn fresh_database(server_url: &str, db: &str) -> Result<String, DemoError> {
    if db.is_empty() || !db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(DemoError::Database(format!(
            "--database {db:?}: letters, digits and _ only"
        )));
    }
    let opts =
        PgConnectOptions::from_str(server_url).map_err(|e| DemoError::Database(e.to_string()))?;
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .map_err(|e| {
            DemoError::Database(format!(
                "cannot reach {}: {e}",
                hub_runtime::config::redact_url(server_url)
            ))
        })?;
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .map_err(|e| DemoError::Database(e.to_string()))?;
    }
    admin.close().await;
    with_database(server_url, db)
}

/// Runs the demo until Ctrl-C (or, with `--once`, until the table is printed).
pub async fn run(args: DemoArgs, shutdown: CancellationToken) -> Result<(), DemoError> {
    let common = demo_common(&args).await?;
    let sim_config = args.sim.clone().config();
    let years = sim_config.world.report_years.clone();
    let sims = hub_simulators::start(sim_config).await?;
    let params = {
        let w = sims.world.read().await;
        TruthParams {
            units: UnitList::Units2024,
            ..TruthParams::for_world(&w)
        }
    };
    let planted = plant_doubtful_pairs(&sims.world, args.doubtful_pairs).await;
    let truth = sims.truth(Some(params)).await;
    println!(
        "simulators: coop-alliance {}  loan-fund {}  ntm {}",
        sims.coop_alliance.base_url, sims.loan_fund.base_url, sims.ntm.base_url
    );

    // the adapters' addresses, by registered source
    let sources = Sources {
        adapter_http: crate::sources::names()
            .map(str::to_owned)
            .zip(args.adapter_addrs.iter().copied())
            .collect(),
        ..Sources::of(&sims, years)
    };
    let adapter_urls: Vec<(String, String)> = crate::pipeline::running_sources(&sources)
        .into_iter()
        .filter_map(|s| {
            let addr = sources.adapter_http.get(s.system)?;
            Some((s.system.to_owned(), format!("http://{addr}")))
        })
        .collect();
    let pipeline_common = common.clone();
    let pipeline = Pipeline::start(
        PipelineConfig {
            common,
            sources,
            poll: Duration::from_secs(30),
            as_of: Some(params.as_of),
            reconciler_http: Some(args.reconciler_addr),
            indicators_http: Some(args.indicators_addr),
            debounce: Duration::from_millis(1000),
            service_token: None,
            plan_dirs: Vec::new(),
        },
        shutdown.clone(),
    )
    .await?;
    let console = hub_console::start(
        console_config(
            &args,
            &pipeline_common,
            adapter_urls,
            &pipeline.service_token,
        ),
        shutdown.clone(),
    )
    .await?;

    let union = upload_union_workbooks(&pipeline_common, &sims.world).await?;
    println!(
        "farmers-union: {} workbooks uploaded, {} records published",
        union.0, union.1
    );
    let union_truth = {
        let w = sims.world.read().await;
        UnionTruth::of(&w, params.units, params.as_of, params.baseline)
    };
    let differences = |s: &IndicatorSnapshot| {
        let mut d = union_differences(s, &union_truth);
        // the simulators' truth knows no workbook: its I5 and I8 are `no_source`
        d.extend(truth.differences(s).into_iter().filter(|l| {
            let ind = l.split_whitespace().nth(1).unwrap_or_default();
            !matches!(ind.trim_end_matches(':'), "I5" | "I8")
        }));
        d
    };

    let shown = first_snapshot(&pipeline, args.wait_secs, &shutdown, &differences).await;
    let Some(snapshot) = shown else {
        shutdown.cancel();
        let _ = pipeline.stop().await;
        sims.shutdown().await;
        return Err(DemoError::NoSnapshot(args.wait_secs));
    };
    println!();
    print!("{}", province_table(&snapshot));
    let matches = differences(&snapshot).is_empty();
    println!(
        "\nsnapshot v{} as of {} ({} units); {}",
        snapshot.version,
        snapshot.as_of,
        snapshot.units.len(),
        if matches {
            "equal to the simulators' ground truth"
        } else {
            "still converging (not yet equal to the simulators' ground truth)"
        }
    );
    print_addresses(&args, console.http_addr(), planted, &pipeline.service_token);
    if !args.once {
        println!("\nrunning; Ctrl-C to stop");
        shutdown.cancelled().await;
    }
    for e in pipeline.stop().await {
        tracing::warn!(error = %e, "service stopped with an error");
    }
    if let Err(e) = console.stopped().await {
        tracing::warn!(error = %e, "console stopped with an error");
    }
    sims.shutdown().await;
    Ok(())
}

/// The configured common settings, in a fresh demo database and (unless one is configured)
/// the namespace `demo`.
async fn demo_common(args: &DemoArgs) -> Result<CommonConfig, DemoError> {
    let base = hub_runtime::config::load_common()?;
    Ok(CommonConfig {
        database_url: fresh_database(&base.database_url, &args.database).await?,
        hub_namespace: if base.hub_namespace.is_empty() {
            "demo".into()
        } else {
            base.hub_namespace.clone()
        },
        ..base
    })
}

/// The console over this run's services, reading the adapters at `adapter_urls`.
fn console_config(
    args: &DemoArgs,
    common: &CommonConfig,
    adapter_urls: Vec<(String, String)>,
    service_token: &str,
) -> hub_console::Config {
    hub_console::Config {
        common: CommonConfig {
            http_addr: Some(args.console_addr),
            ..common.clone()
        },
        reconciler_url: Some(format!("http://{}", args.reconciler_addr)),
        indicators_url: Some(format!("http://{}", args.indicators_addr)),
        adapter_urls,
        console_users_file: Some(args.users_file.clone()),
        service_token: hub_runtime::service_auth::ServiceCredential::new(service_token.to_owned()),
        ..hub_console::Config::default()
    }
    .with_sources(crate::sources::infos())
}

/// The first snapshot of the 2024 units with no `differences`, or the latest one when
/// `wait_secs` ran out (or the demo was stopped) first; `None` when there was none.
async fn first_snapshot(
    pipeline: &Pipeline,
    wait_secs: u64,
    shutdown: &CancellationToken,
    differences: &dyn Fn(&IndicatorSnapshot) -> Vec<String>,
) -> Option<std::sync::Arc<IndicatorSnapshot>> {
    let mut latest = pipeline.indicators.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_secs);
    let mut shown: Option<std::sync::Arc<IndicatorSnapshot>> = None;
    loop {
        let current = latest
            .borrow_and_update()
            .get(&hub_indicators::UnitList::Units2024)
            .cloned();
        if let Some(s) = current {
            let complete = differences(&s).is_empty();
            shown = Some(s);
            if complete {
                break;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep_until(deadline) => break,
            changed = latest.changed() => if changed.is_err() { break },
        }
    }
    shown
}

/// Where the demo's console, APIs and exports answer.
fn print_addresses(args: &DemoArgs, console: SocketAddr, planted: usize, service_token: &str) {
    println!(
        "console         http://{console}  (admin/admin-dev, reviewer/reviewer-dev, viewer/viewer-dev)"
    );
    println!(
        "                {planted} doubtful pairs wait in the review queue: http://{console}/review"
    );
    println!("report (print)  http://{console}/indicators/report");
    println!(
        "reconciler API  http://{}/api/v1/cooperatives",
        args.reconciler_addr
    );
    println!(
        "                (the APIs need the service credential of this run: \
         -H 'Authorization: Bearer {service_token}')"
    );
    println!(
        "indicator API   http://{}/api/v1/snapshots/latest",
        args.indicators_addr
    );
    println!(
        "export (xlsx)   http://{}/api/v1/snapshots/latest/export?format=xlsx&lang=vi",
        args.indicators_addr
    );
}

/// Uploads the simulated world's Farmers' Union workbooks (in their order: a provincial one,
/// a later one retracting rows, a district one, the first again) as `demo`, through the
/// Union's ingest in this run's database and namespace. Answers the workbooks and the records
/// published (retractions included).
pub async fn upload_union_workbooks(
    common: &CommonConfig,
    world: &hub_simulators::http::SharedWorld,
) -> Result<(usize, usize), DemoError> {
    use hub_adapter_kit::file::{DEFAULT_MAX_UPLOAD_BYTES, UploadFile};
    let books = hub_simulators::union::workbooks(&*world.read().await);
    let db = hub_runtime::storage::Database::connect(
        &common.database_url,
        &hub_adapter_kit::schema_for(hub_adapter_farmers_union::SYSTEM),
        Some(&hub_adapter_kit::MIGRATOR),
    )
    .await
    .map_err(|e| DemoError::Union(e.to_string()))?;
    let broker = hub_runtime::Broker::new(
        &common.amqp_url,
        "demo-union-upload",
        common.topology(),
        Default::default(),
        Default::default(),
    );
    let publisher = std::sync::Arc::new(hub_runtime::messaging::Publisher::new(broker.clone()));
    let ingest = hub_adapter_farmers_union::ingest(db, publisher, DEFAULT_MAX_UPLOAD_BYTES);
    let mut published = 0;
    for book in &books {
        let files: Vec<UploadFile> = book
            .files
            .iter()
            .map(|f| UploadFile {
                name: f.name.clone(),
                bytes: f.bytes.clone(),
            })
            .collect();
        let report = ingest
            .upload(&files, "demo")
            .await
            .map_err(|e| DemoError::Union(e.to_string()))?;
        published += report.published + report.retracted;
    }
    broker.close().await;
    Ok((books.len(), published))
}

/// Where a snapshot's I5 and I8 differ from the world's Union truth (every unit the truth
/// has must carry both, with its numerator and denominator and a status other than
/// `no_source`), and beside I5 the conversions the reconciler linked to the registry and
/// not.
pub fn union_differences(s: &IndicatorSnapshot, truth: &UnionTruth) -> Vec<String> {
    let mut out = Vec::new();
    for (code, want) in &truth.units {
        let Some(unit) = s.units.iter().find(|u| &u.unit_code == code) else {
            out.push(format!("unit {code} missing"));
            continue;
        };
        for (ind, num, den) in [
            ("I5", want.i5_num, want.i5_den),
            ("I8", want.i8_num, want.i8_den),
        ] {
            match unit.values.iter().find(|v| v.indicator == ind) {
                Some(v)
                    if (v.numerator, v.denominator) == (Some(num as f64), Some(den as f64))
                        && v.status != ValueStatus::NoSource => {}
                Some(v) => out.push(format!(
                    "{code} {ind}: got {:?}/{:?} {:?}, truth {num}/{den}",
                    v.numerator, v.denominator, v.status
                )),
                None => out.push(format!("{code} {ind} missing")),
            }
        }
        let conversions = unit
            .values
            .iter()
            .find(|v| v.indicator == "I5")
            .and_then(|v| v.conversions)
            .map(|c| (c.matched, c.unmatched));
        let want_conv = (want.conv_matched, want.conv_unmatched);
        if conversions != Some(want_conv) {
            out.push(format!(
                "{code} I5 conversions (in the registry, not): got {conversions:?}, truth {want_conv:?}"
            ));
        }
    }
    out
}

/// Plants up to `n` doubtful pairs in the world before anything reads it. Each is a record
/// of a registered cooperative written with only the words it shares with a namesake of its
/// commune (`HTX Nông nghiệp Tả Phìn` for `… Nông nghiệp mắc ca Tả Phìn` beside `… Nông
/// nghiệp dược liệu Tả Phìn`: the product left out), and nothing else that tells them apart
/// (no tax code, phone, representative or member count). It fits both registrations equally:
/// no engine can choose, and one that is right asks an operator. First cancelled loans
/// ([`plant_ambiguous_loans`]), then NTM report entries ([`plant_short_report_entries`]). Only records that change no indicator are touched
/// (cancelled loans; entries that do not say they are linked with an enterprise), so the
/// indicators and the ground truth they are compared with stay the same. Answers how many
/// were planted.
pub async fn plant_doubtful_pairs(world: &hub_simulators::http::SharedWorld, n: usize) -> usize {
    let mut planted = plant_ambiguous_loans(world, n).await;
    if planted < n {
        planted += plant_short_report_entries(world, n - planted).await;
    }
    planted
}

/// For each registered organisation that has a namesake (same commune, place and kind, another
/// product, the same name once the product is left out), that shared name and its namesakes.
fn shared_short_names(world: &hub_simulators::world::World) -> BTreeMap<usize, Namesakes> {
    let without_product = |f: &hub_simulators::world::OrgFacts| -> Option<String> {
        if f.product.is_empty() || f.place.is_empty() || !f.name.contains(&f.product) {
            return None;
        }
        let short = f.name.replacen(&f.product, " ", 1);
        Some(short.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let mut groups: BTreeMap<(String, String, hub_contracts::v1::OrgKind), Vec<usize>> =
        BTreeMap::new();
    for (i, o) in world.organisations.iter().enumerate() {
        if o.registry_id.is_none() {
            continue;
        }
        if let Some(short) = without_product(&o.facts) {
            // the short name must say more than the legal form and the place (a name that is
            // only those conflicts with every fuller name: no engine would find it doubtful)
            let bare = legal_form_words(o.facts.kind) + o.facts.place.split_whitespace().count();
            if short.split_whitespace().count() > bare {
                groups
                    .entry((o.facts.commune_code.clone(), short, o.facts.kind))
                    .or_default()
                    .push(i);
            }
        }
    }
    groups
        .into_iter()
        .filter(|(_, members)| {
            let products: BTreeSet<&str> = members
                .iter()
                .map(|i| world.organisations[*i].facts.product.as_str())
                .collect();
            products.len() >= 2
        })
        .flat_map(|((_, short, _), members)| {
            members
                .iter()
                .map(|&i| {
                    let others = members.iter().copied().filter(|o| *o != i).collect();
                    (
                        i,
                        Namesakes {
                            short: short.clone(),
                            others,
                        },
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Words of the legal form the world's names start with (`Hợp tác xã`, `Tổ hợp tác`,
/// `Liên hiệp Hợp tác xã`).
fn legal_form_words(kind: hub_contracts::v1::OrgKind) -> usize {
    match kind {
        hub_contracts::v1::OrgKind::Lhhtx => 5,
        _ => 3,
    }
}

/// The name a registered organisation shares with its namesakes, and theirs (indices).
struct Namesakes {
    short: String,
    others: Vec<usize>,
}

/// A cancelled loan (it gives no credit, so the indicators stay as they are) of a cooperative
/// with a namesake, rewritten as a loan officer types a borrower they half know: the name the
/// two share, no tax code, no phone, no representative (see [`plant_doubtful_pairs`]).
async fn plant_ambiguous_loans(world: &hub_simulators::http::SharedWorld, n: usize) -> usize {
    use hub_contracts::v1::LoanStatus;
    use hub_simulators::world::Subject;
    let mut w = world.write().await;
    let short = shared_short_names(&w);
    let mut planted = 0;
    for loan in w.loans.iter_mut() {
        if planted >= n {
            break;
        }
        let Subject::Org(i) = loan.subject else {
            continue;
        };
        if loan.bad.is_some() || loan.status != LoanStatus::Cancelled {
            continue;
        }
        let Some(names) = short.get(&i) else {
            continue;
        };
        loan.borrower.name = names.short.clone();
        loan.borrower.tax_code = None;
        loan.borrower.phone = None;
        loan.borrower.legal_rep = None;
        planted += 1;
    }
    planted
}

/// NTM report entries (latest reports first) of cooperatives with a namesake that the report
/// does not list, renamed to the name the two share, with no representative and no member count (see
/// [`plant_doubtful_pairs`]).
async fn plant_short_report_entries(world: &hub_simulators::http::SharedWorld, n: usize) -> usize {
    let mut w = world.write().await;
    let short = shared_short_names(&w);
    let mut planted = 0;
    for report in w.reports.iter_mut().rev() {
        if planted >= n {
            break;
        }
        let Some(rev) = report.revisions.last_mut() else {
            continue;
        };
        // a report lists different cooperatives: a namesake listed beside the entry would
        // tell which one the entry is
        let listed: BTreeSet<usize> = rev.cooperatives.iter().map(|e| e.org).collect();
        for entry in rev.cooperatives.iter_mut() {
            if planted >= n || entry.linked_with_enterprise == Some(true) {
                continue;
            }
            let Some(names) = short.get(&entry.org) else {
                continue;
            };
            if names.others.iter().all(|o| !listed.contains(o)) {
                entry.name = names.short.clone();
                entry.representative = None;
                entry.members = None;
                planted += 1;
            }
        }
    }
    planted
}

fn fmt_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.fract() == 0.0 => format!("{x:.0}"),
        Some(x) => format!("{x:.1}"),
        None => "-".into(),
    }
}

fn status(s: ValueStatus) -> &'static str {
    match s {
        ValueStatus::Met => "met",
        ValueStatus::Behind => "behind",
        ValueStatus::NoData => "no data",
        ValueStatus::NoSource => "no source",
    }
}

/// The province's row of a snapshot as a table: value, numerator/denominator, targets.
pub fn province_table(s: &IndicatorSnapshot) -> String {
    use std::fmt::Write;
    let plan = hub_indicators::Plan::builtin().ok();
    let mut out = String::new();
    let Some(unit) = s.units.iter().find(|u| u.unit_code == s.province_code) else {
        return "no province row in the snapshot\n".into();
    };
    let _ = writeln!(
        out,
        "{} ({}), plan {}, baseline {}",
        unit.unit_name, unit.unit_code, s.plan_id, s.baseline
    );
    let _ = writeln!(
        out,
        "{:<4} {:<52} {:>8} {:>11}  {:<18} {:<18}",
        "id", "indicator", "value", "num/den", "2025 target", "2030 target"
    );
    for v in &unit.values {
        let name = plan
            .as_ref()
            .and_then(|p| p.indicators.iter().find(|i| i.id.as_str() == v.indicator))
            .map(|i| i.name.clone())
            .unwrap_or_default();
        let name: String = name.chars().take(52).collect();
        let value = match (v.value, v.unit) {
            (Some(x), hub_contracts::v1::ValueUnit::Percent) => format!("{x:.1} %"),
            (x, _) => fmt_num(x),
        };
        let ratio = match (v.numerator, v.denominator) {
            (Some(n), Some(d)) => format!("{}/{}", fmt_num(Some(n)), fmt_num(Some(d))),
            (Some(n), None) => fmt_num(Some(n)),
            _ => "-".into(),
        };
        let target = |t: &Option<hub_contracts::v1::TargetCheck>| match t {
            Some(c) => {
                let op = match c.target.comparison {
                    hub_contracts::v1::Comparison::Gt => ">",
                    hub_contracts::v1::Comparison::Ge => ">=",
                };
                let unit = match c.target.unit {
                    hub_contracts::v1::ValueUnit::Percent => " %",
                    hub_contracts::v1::ValueUnit::Count => "",
                };
                format!(
                    "{op} {}{unit} {}",
                    fmt_num(Some(c.target.value)),
                    status(c.status)
                )
            }
            None if matches!(v.status, ValueStatus::NoSource | ValueStatus::NoData) => {
                status(v.status).into()
            }
            None => "context".into(),
        };
        let _ = writeln!(
            out,
            "{:<4} {:<52} {:>8} {:>11}  {:<18} {:<18}",
            v.indicator,
            name,
            value,
            ratio,
            target(&v.target_2025),
            target(&v.target_2030)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every planted name is what two registrations of one commune and kind share once their
    /// products are left out: it fits both, so no rule can choose.
    #[test]
    fn planted_names_fit_two_registrations_equally() {
        let world =
            hub_simulators::generate(&hub_simulators::WorldConfig::default()).expect("a world");
        let short = shared_short_names(&world);
        assert!(short.len() >= 5, "{} namesakes", short.len());
        for (i, names) in &short {
            let a = &world.organisations[*i].facts;
            assert!(!names.others.is_empty());
            for o in &names.others {
                let b = &world.organisations[*o].facts;
                assert_ne!(a.name, b.name);
                assert_ne!(a.product, b.product);
                assert_eq!((&a.commune_code, a.kind), (&b.commune_code, b.kind));
                for f in [a, b] {
                    let left: Vec<&str> = f.name.split_whitespace().collect();
                    let short_words: Vec<&str> = names.short.split_whitespace().collect();
                    // the short name is the legal name with its product's words left out
                    let product = f.product.split_whitespace().count();
                    assert_eq!(left.len(), short_words.len() + product, "{}", f.name);
                    assert!(f.name.contains(&f.product));
                }
                // words between the legal form and the place: a sector, a verb
                let bare = legal_form_words(a.kind) + a.place.split_whitespace().count();
                assert!(
                    names.short.split_whitespace().count() > bare,
                    "{}",
                    names.short
                );
            }
        }
    }
}

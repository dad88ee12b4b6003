//! `hub`: one binary for every role. Thin: it parses arguments and configuration, then calls
//! the library `run` of the service named. Operator commands talk to the services' HTTP APIs
//! and to the broker, never to another service's tables (`hub audit verify|export --exchange`
//! reads hub-inbound's exchange log through hub-inbound's API, [`hub::exchange`]).

/// mimalloc: the services allocate and free many small JSON values per message; glibc malloc
/// spent about a fifth of the pipeline benchmark's CPU in allocation (see `bench-results.md`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "hub",
    version,
    about = "Cooperative data hub: services and operator commands"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole hub on this machine: simulators and every service, then the province's
    /// indicator table against the plan's targets; runs until Ctrl-C.
    Demo {
        #[command(flatten)]
        args: Box<hub::demo::DemoArgs>,
    },
    #[command(flatten)]
    Service(ServiceCommand),
    /// Run the three agency simulators (coop-alliance, loan-fund, ntm) until Ctrl-C.
    Sim {
        #[command(flatten)]
        args: Box<hub_simulators::cli::SimArgs>,
    },
    #[command(flatten)]
    Ops(hub_console::ops::OpsCommand),
    /// Print the RabbitMQ definitions (exchanges, queues, bindings, least-privilege users)
    /// generated from the topology code (`deploy/rabbitmq/definitions.json`, no passwords).
    Definitions {
        /// Give every user its password from `RABBITMQ_PASSWORD_<USER>` (e.g.
        /// `RABBITMQ_PASSWORD_SVC_INBOUND`), hashed: the file a deployment loads (a secret).
        #[arg(long)]
        passwords_from_env: bool,
    },
    /// Write the sources' part of the deployment files (compose, Kubernetes, the secrets and
    /// roles scripts) from their registrations (`hub::sources`); with `--check`, only fail
    /// when a committed file differs.
    DeployFiles {
        /// The repository's root.
        #[arg(long, default_value = ".")]
        root: std::path::PathBuf,
        /// Change nothing; fail when a file is not what the registrations give.
        #[arg(long)]
        check: bool,
    },
    /// Run the acceptance kit against a source's own server, configured as for `hub adapter
    /// <source>` (its URL and credential variables), or against a file source's files; on the
    /// broker and PostgreSQL server of `AMQP_URL` and `DATABASE_URL`, in a scratch namespace
    /// and schemas removed afterwards. Fails at the first check that does not pass.
    Acceptance {
        /// The source (`hub::sources`).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(hub::sources::names()))]
        source: String,
        /// A file source: the files of one upload (a workbook, or its CSV files).
        files: Vec<std::path::PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Exit 0 when an HTTP endpoint answers 2xx (container health checks).
    Probe { url: String },
    /// Upload a file source's files (one XLSX workbook, or its CSV files) as `DATABASE_URL`
    /// and `AMQP_URL` allow; prints the upload's report (rejected rows with sheet, row,
    /// column and reason) and fails when the upload is refused.
    Upload {
        /// The file source (`hub::sources`).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(hub::sources::file_sources()))]
        source: String,
        /// The workbook (`.xlsx`) or the CSV files, one per sheet.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Who uploads, for the audit (default: `cli:$USER`).
        #[arg(long = "as")]
        uploaded_by: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The services, each run on its own in a real deployment.
#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Run a source adapter: pulls its agency system on a schedule (or takes the uploads of a
    /// file source) and publishes source records.
    Adapter {
        /// The source (`hub::sources`).
        #[arg(value_parser = clap::builder::PossibleValuesParser::new(hub::sources::names()))]
        source: String,
    },
    /// Run the inbound validator: checks agency pushes on `coophub.inbound` against the schemas.
    Inbound,
    /// Run the reconciler: identities, golden records, review queue, reconciliation log.
    Reconciler,
    /// Run the indicator service: projection, snapshots against the plan, exports.
    Indicators,
    /// Run the operator console (web and operator API, with access control).
    Console,
}

/// Runs one service until SIGTERM or SIGINT.
async fn service(command: ServiceCommand) -> anyhow::Result<()> {
    use anyhow::Context;
    let shutdown = hub_runtime::shutdown::on_signals();
    match command {
        ServiceCommand::Adapter { source } => {
            let registration = hub::sources::find(&source)
                .ok_or_else(|| anyhow::anyhow!("no source {source:?}"))?;
            (registration.run)(shutdown)
                .await
                .with_context(|| format!("adapter {source}"))?
        }
        ServiceCommand::Inbound => {
            let config = hub_inbound::Config::from_env()?;
            hub_inbound::run(config, shutdown)
                .await
                .context("inbound")?
        }
        ServiceCommand::Reconciler => {
            let config = hub_reconciler::Config::from_env()?;
            hub_reconciler::run(config, shutdown)
                .await
                .context("reconciler")?
        }
        ServiceCommand::Console => {
            let config = hub_console::Config::from_env()?.with_sources(hub::sources::infos());
            hub_console::run(config, shutdown)
                .await
                .context("console")?
        }
        ServiceCommand::Indicators => {
            let config = hub_indicators::Config {
                sources: hub::sources::infos(),
                ..hub_indicators::Config::from_env()?
            };
            hub_indicators::run(config, shutdown)
                .await
                .context("indicators")?
        }
    }
    Ok(())
}

/// The upload's progress bar on stderr (as `hub sync` draws one); hidden for `--json` and
/// when stderr is not a terminal.
fn upload_bar(source: &str, json: bool) -> indicatif::ProgressBar {
    if json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {prefix}: {msg} [{bar:30}] {pos}/{len} [{elapsed}]",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(format!("upload {source}"));
    bar.set_message("reading the files");
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// One step of a running upload on its bar.
fn show_upload_step(bar: &indicatif::ProgressBar, step: hub_adapter_kit::file::UploadStep) {
    use hub_adapter_kit::file::UploadStep;
    match step {
        UploadStep::Read { rows, records } => {
            bar.set_message(format!("{rows} rows read, publishing"));
            bar.set_length(records as u64);
            bar.set_position(0);
        }
        UploadStep::Published { done, total } => {
            bar.set_message("published");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
        UploadStep::Recorded { done, total } => {
            bar.set_message("recorded");
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        }
    }
}

/// `hub upload <source> FILE…`: the same ingest as the upload API, with a progress bar.
async fn upload(
    source: &str,
    files: &[std::path::PathBuf],
    uploaded_by: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let who = uploaded_by.unwrap_or_else(|| {
        format!(
            "cli:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    });
    let upload = hub::sources::find(source)
        .and_then(|s| s.upload)
        .ok_or_else(|| anyhow::anyhow!("{source:?} is no file source"))?;
    let bar = upload_bar(source, json);
    let report = upload(files.to_vec(), who, {
        let bar = bar.clone();
        std::sync::Arc::new(move |step| show_upload_step(&bar, step))
    })
    .await
    .map_err(|e| anyhow::anyhow!("upload {source}: {e}"));
    bar.finish_and_clear();
    let report = report?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "upload {}: {} (sha256 {}), by {}",
            report.upload_id,
            report.outcome.as_str(),
            report.file_hash,
            report.uploaded_by
        );
        if let (Some(sender), Some(date)) = (&report.sender, report.report_date) {
            println!("sender {sender}, report date {date}");
        }
        if let Some(reason) = &report.reason {
            println!("{reason}");
        }
        println!(
            "{} rows read: {} taken ({} published, {} unchanged), {} retracted, {} rejected",
            report.rows_read,
            report.taken,
            report.published,
            report.unchanged,
            report.retracted,
            report.rejected.len()
        );
        for e in &report.rejected {
            println!("  {e}");
        }
    }
    anyhow::ensure!(
        report.outcome != hub_adapter_kit::file::Outcome::Refused,
        "upload refused"
    );
    Ok(())
}

/// `hub deploy-files [--check]`.
fn deploy_files(root: &std::path::Path, check: bool) -> anyhow::Result<()> {
    let sources = hub::sources::SOURCES;
    if check {
        let stale: Vec<String> = hub::deploy_files::generate(root, sources)?
            .into_iter()
            .filter(|(_, old, new)| old != new)
            .map(|(p, _, _)| p.display().to_string())
            .collect();
        anyhow::ensure!(
            stale.is_empty(),
            "not what the registrations give (run `hub deploy-files`): {}",
            stale.join(", ")
        );
        println!("the deployment files are what the registrations give");
    } else {
        for p in hub::deploy_files::write(root, sources)? {
            println!("wrote {}", p.display());
        }
    }
    Ok(())
}

/// `hub acceptance <source> [FILE…]`.
async fn acceptance(
    source: &str,
    files: Vec<std::path::PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    let registration =
        hub::sources::find(source).ok_or_else(|| anyhow::anyhow!("no source {source:?}"))?;
    anyhow::ensure!(
        registration.is_file_source() || files.is_empty(),
        "{source} is no file source: it is checked against its server (its adapter's settings), \
         not files"
    );
    // the provinces records are read against (REFERENCE_DIRS), as `hub adapter <source>`
    // installs them at start: a Điện Biên workbook is a workbook where Điện Biên is loaded
    let common = hub_runtime::config::load_common()?;
    hub_runtime::units::install(&common.reference_dirs())?;
    let report = (registration.acceptance)(files)
        .await
        .map_err(|e| anyhow::anyhow!("acceptance of {source}: {e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.checks {
            println!("ok  {}: {}", c.check, c.detail);
        }
        println!("{source}: every acceptance check passed");
    }
    Ok(())
}

async fn probe(url: &str) -> anyhow::Result<()> {
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?
        .get(url)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

async fn sim(args: hub_simulators::cli::SimArgs) -> anyhow::Result<()> {
    let sims = hub_simulators::start(args.config()).await?;
    println!("coop-alliance {}", sims.coop_alliance.base_url);
    println!("loan-fund     {}", sims.loan_fund.base_url);
    println!("ntm           {}", sims.ntm.base_url);
    hub_runtime::shutdown::on_signals().cancelled().await;
    sims.shutdown().await;
    Ok(())
}

/// The operator commands; those on the exchange log ask hub-inbound's API.
async fn ops(cmd: hub_console::ops::OpsCommand) -> anyhow::Result<()> {
    if let hub_console::ops::OpsCommand::Audit(hub_console::ops::AuditArgs {
        action: Some(action),
        ..
    }) = &cmd
        && action.exchange_from_database().is_some()
    {
        let api = hub::exchange::ExchangeApi::from_env()?;
        return hub::exchange::run(action, &api, &mut std::io::stdout()).await;
    }
    hub_console::ops::run_ops(cmd).await
}

/// The OpenTelemetry `service.name` of a command: `hub-<role>` (`hub-adapter-<source>`).
fn service_name(command: &Command) -> String {
    match command {
        Command::Service(ServiceCommand::Adapter { source }) => format!("hub-adapter-{source}"),
        Command::Service(ServiceCommand::Inbound) => "hub-inbound".into(),
        Command::Service(ServiceCommand::Reconciler) => "hub-reconciler".into(),
        Command::Service(ServiceCommand::Indicators) => "hub-indicators".into(),
        Command::Service(ServiceCommand::Console) => "hub-console".into(),
        Command::Demo { .. } => "hub-demo".into(),
        _ => "hub".into(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = hub_runtime::config::load::<hub_runtime::CommonConfig>()
        .map(|c| c.log_format)
        .unwrap_or_default();
    // spans go out under the role's name (`OTEL_SERVICE_NAME` overrides it)
    if let Err(e) = hub_runtime::telemetry::init_service(format, &service_name(&cli.command)) {
        eprintln!("hub: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Sim { args } => sim(*args).await,
        Command::Demo { args } => hub::demo::run(*args, hub_runtime::shutdown::on_signals())
            .await
            .map_err(anyhow::Error::from),
        Command::Ops(cmd) => ops(cmd).await,
        Command::Probe { url } => probe(&url).await,
        Command::DeployFiles { root, check } => deploy_files(&root, check),
        Command::Acceptance {
            source,
            files,
            json,
        } => acceptance(&source, files, json).await,
        Command::Upload {
            source,
            files,
            uploaded_by,
            json,
        } => upload(&source, &files, uploaded_by, json).await,
        Command::Definitions { passwords_from_env } => {
            let d = if passwords_from_env {
                hub::definitions::render_with_passwords(|v| std::env::var(v).ok())
                    .map_err(anyhow::Error::from)
            } else {
                Ok(hub::definitions::definitions())
            };
            d.and_then(|d| serde_json::to_string_pretty(&d).map_err(anyhow::Error::from))
                .map(|text| println!("{text}"))
        }
        Command::Service(c) => service(c).await,
    };
    // what is left of the spans goes out before the process ends
    hub_runtime::telemetry::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `hub-sim`: runs the three agency simulators over one generated world until Ctrl-C.
//!
//! Every flag has an `HUB_SIM_*` environment variable (see `--help`). Owns configuration
//! parsing only; everything else is the library's.

use std::process::ExitCode;

use clap::Parser;
use hub_simulators::cli::SimArgs;

#[derive(Debug, Parser)]
#[command(
    name = "hub-sim",
    about = "Simulators of coop-alliance, loan-fund and ntm over one generated world"
)]
struct Args {
    #[command(flatten)]
    sim: SimArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = Args::parse().sim.config();
    let sims = match hub_simulators::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the simulators");
            return ExitCode::FAILURE;
        }
    };
    println!("coop-alliance {}", sims.coop_alliance.base_url);
    println!("loan-fund     {}", sims.loan_fund.base_url);
    println!("ntm           {}", sims.ntm.base_url);
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "cannot wait for Ctrl-C");
    }
    sims.shutdown().await;
    ExitCode::SUCCESS
}

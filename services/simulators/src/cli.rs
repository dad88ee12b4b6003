//! Command-line and environment configuration of the simulators, shared by the `hub-sim`
//! binary and the `hub sim` subcommand. Every flag has an `HUB_SIM_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use crate::{
    Credentials, Faults, NoiseModel, ServerConfig, SimConfig, WorldConfig, generate::wall_clock_now,
};

#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Seed of the world.
    #[arg(long, env = "HUB_SIM_SEED", default_value_t = 42)]
    pub seed: u64,
    /// True organisations (HTX, THT, LHHTX).
    #[arg(long, env = "HUB_SIM_ORGANISATIONS", default_value_t = 120)]
    pub organisations: usize,
    /// Loans.
    #[arg(long, env = "HUB_SIM_LOANS", default_value_t = 200)]
    pub loans: usize,
    /// Deliberately invalid source records.
    #[arg(long, env = "HUB_SIM_BAD_RECORDS", default_value_t = 6)]
    pub bad_records: usize,
    /// NTM report years, comma-separated.
    #[arg(
        long,
        env = "HUB_SIM_REPORT_YEARS",
        value_delimiter = ',',
        default_value = "2023,2024,2025"
    )]
    pub report_years: Vec<i32>,
    /// The world's present (RFC 3339); the wall clock when absent. Set it for a world that
    /// is the same on every run.
    #[arg(long, env = "HUB_SIM_NOW")]
    pub now: Option<DateTime<FixedOffset>>,
    /// How records are written: `classic` or `field` (see the README's noise models).
    #[arg(long, env = "HUB_SIM_NOISE", default_value = "classic")]
    pub noise: NoiseModel,

    #[arg(long, env = "HUB_SIM_COOP_ADDR", default_value = crate::DEFAULT_COOP_ALLIANCE_ADDR)]
    pub coop_addr: SocketAddr,
    #[arg(long, env = "HUB_SIM_LOAN_ADDR", default_value = crate::DEFAULT_LOAN_FUND_ADDR)]
    pub loan_addr: SocketAddr,
    #[arg(long, env = "HUB_SIM_NTM_ADDR", default_value = crate::DEFAULT_NTM_ADDR)]
    pub ntm_addr: SocketAddr,

    #[arg(
        long,
        env = "HUB_SIM_COOP_API_KEY",
        default_value = "coop-alliance-dev-key"
    )]
    pub coop_api_key: String,
    #[arg(long, env = "HUB_SIM_LOAN_CLIENT_ID", default_value = "hub")]
    pub loan_client_id: String,
    #[arg(
        long,
        env = "HUB_SIM_LOAN_CLIENT_SECRET",
        default_value = "loan-fund-dev-secret"
    )]
    pub loan_client_secret: String,
    #[arg(long, env = "HUB_SIM_NTM_USER", default_value = "hub")]
    pub ntm_user: String,
    #[arg(long, env = "HUB_SIM_NTM_PASSWORD", default_value = "ntm-dev-password")]
    pub ntm_password: String,

    /// Share of requests answered 429 (coop-alliance and loan-fund; ntm has no 429).
    #[arg(long, env = "HUB_SIM_RATE_429", default_value_t = 0.0)]
    pub rate_429: f64,
    /// Retry-After of a 429, seconds.
    #[arg(long, env = "HUB_SIM_RETRY_AFTER", default_value_t = 1)]
    pub retry_after: u64,
    /// Share of requests answered with a transient 5xx.
    #[arg(long, env = "HUB_SIM_RATE_5XX", default_value_t = 0.0)]
    pub rate_5xx: f64,
    /// Latency added to every API request, milliseconds.
    #[arg(long, env = "HUB_SIM_LATENCY_MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of 200 answers whose body is garbage.
    #[arg(long, env = "HUB_SIM_GARBAGE_RATE", default_value_t = 0.0)]
    pub garbage_rate: f64,
    /// Lifetime of loan-fund tokens, seconds.
    #[arg(long, env = "HUB_SIM_TOKEN_LIFETIME", default_value_t = 300)]
    pub token_lifetime: u64,

    /// Write the ground truth (JSON) here at start and after each mutation.
    #[arg(long, env = "HUB_SIM_TRUTH_OUT")]
    pub truth_out: Option<PathBuf>,
}

impl SimArgs {
    /// The simulator configuration these arguments describe.
    pub fn config(self) -> SimConfig {
        let faults = Faults {
            rate_429: self.rate_429,
            retry_after_secs: self.retry_after,
            rate_5xx: self.rate_5xx,
            latency_ms: self.latency_ms,
            garbage_rate: self.garbage_rate,
            token_lifetime_secs: self.token_lifetime,
            queue: Vec::new(),
        };
        let ntm_faults = Faults {
            rate_429: 0.0,
            ..faults.clone()
        };
        SimConfig {
            world: WorldConfig {
                seed: self.seed,
                organisations: self.organisations,
                loans: self.loans,
                report_years: self.report_years,
                bad_records: self.bad_records,
                now: self.now.unwrap_or_else(wall_clock_now),
                noise: self.noise,
            },
            coop_alliance: ServerConfig {
                addr: self.coop_addr,
                faults: faults.clone(),
            },
            loan_fund: ServerConfig {
                addr: self.loan_addr,
                faults,
            },
            ntm: ServerConfig {
                addr: self.ntm_addr,
                faults: ntm_faults,
            },
            credentials: Credentials {
                coop_api_key: self.coop_api_key,
                loan_client_id: self.loan_client_id,
                loan_client_secret: self.loan_client_secret,
                ntm_user: self.ntm_user,
                ntm_password: self.ntm_password,
            },
            truth_out: self.truth_out,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::NoiseModel;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sim: super::SimArgs,
    }

    #[test]
    fn the_noise_model_comes_from_the_command_line() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.sim.config().world.noise);
        assert_eq!(
            parse(&["hub-sim", "--noise", "field"]).ok(),
            Some(NoiseModel::Field)
        );
        assert_eq!(
            parse(&["hub-sim", "--noise", "classic"]).ok(),
            Some(NoiseModel::Classic)
        );
        assert!(parse(&["hub-sim", "--noise", "loud"]).is_err());
    }
}

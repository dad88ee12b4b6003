//! # hub-simulators: the three agency systems, simulated over one world
//!
//! The hub adapts to three HTTP interfaces it cannot reach from here: the Cooperative
//! Alliance registry (`coop-alliance`), the Cooperative Development Support Fund
//! (`loan-fund`) and the New Rural Development reports (`ntm`), specified in
//! `shared/sources/`. This crate serves exactly those interfaces over ONE generated
//! [`World`], so that the same organisation appears, differently spelt, in every system, and
//! knows the ground truth a perfect hub would reach.
//!
//! - [`mod@generate`]: the world from a seed ([`WorldConfig`]), deterministic.
//! - [`world`]: the data model and its rendering in the source formats.
//! - [`mutate`]: change over time, reported exactly.
//! - [`truth`]: identities, current records and indicators I1–I10 per unit.
//! - [`faults`]: 429, 5xx, latency, garbage bodies, token lifetime; changeable at run time.
//! - [`http`]: the three axum servers and their `/_sim/` admin routes.
//! - [`vocab`], [`noise`]: Vietnamese names and how loan officers and communes type them.
//! - [`noise_field`]: a second, independent noise model written from real unseen records,
//!   chosen with [`WorldConfig::noise`] ([`NoiseModel`]).
//!
//! Start everything with [`start`] (or [`start_with_world`] for a hand-built world); the
//! binary `hub-sim` does the same from flags and `HUB_SIM_*` environment variables.

pub mod cli;
pub mod error;
pub mod faults;
pub mod generate;
pub mod http;
pub mod mutate;
pub mod noise;
pub mod noise_field;
pub mod truth;
pub mod union;
pub mod vocab;
pub mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::RwLock;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::SimError;
pub use faults::{FaultStats, Faults, FaultsUpdate, ScriptedFault};
pub use generate::{DEFAULT_BASELINE, NoiseModel, WorldConfig, generate};
pub use http::SharedWorld;
pub use mutate::{Change, ChangeKind, MutationReport, MutationRequest};
pub use truth::{Truth, TruthParams, TruthStatus, UnitList};
pub use world::{System, World};

use faults::FaultState;
use http::Shared;
use http::loan_fund::TokenStore;

/// Default addresses.
pub const DEFAULT_COOP_ALLIANCE_ADDR: &str = "127.0.0.1:8101";
pub const DEFAULT_LOAN_FUND_ADDR: &str = "127.0.0.1:8102";
pub const DEFAULT_NTM_ADDR: &str = "127.0.0.1:8103";

/// The credentials each server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// coop-alliance `X-Api-Key`.
    pub coop_api_key: String,
    /// loan-fund client credentials.
    pub loan_client_id: String,
    pub loan_client_secret: String,
    /// ntm HTTP Basic.
    pub ntm_user: String,
    pub ntm_password: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            coop_api_key: "coop-alliance-dev-key".into(),
            loan_client_id: "hub".into(),
            loan_client_secret: "loan-fund-dev-secret".into(),
            ntm_user: "hub".into(),
            ntm_password: "ntm-dev-password".into(),
        }
    }
}

/// One server's address and initial faults.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Port 0 picks a free port (see [`RunningSims`] for the bound address).
    pub addr: SocketAddr,
    pub faults: Faults,
}

impl ServerConfig {
    fn at(addr: &str) -> ServerConfig {
        ServerConfig {
            addr: addr
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0))),
            faults: Faults::default(),
        }
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub world: WorldConfig,
    pub coop_alliance: ServerConfig,
    pub loan_fund: ServerConfig,
    pub ntm: ServerConfig,
    pub credentials: Credentials,
    /// When set, the truth (default parameters) is written there at start and after each
    /// mutation.
    pub truth_out: Option<PathBuf>,
}

impl Default for SimConfig {
    /// Default world, ports 8101/8102/8103 on 127.0.0.1, default credentials, no faults.
    fn default() -> Self {
        SimConfig {
            world: WorldConfig::default(),
            coop_alliance: ServerConfig::at(DEFAULT_COOP_ALLIANCE_ADDR),
            loan_fund: ServerConfig::at(DEFAULT_LOAN_FUND_ADDR),
            ntm: ServerConfig::at(DEFAULT_NTM_ADDR),
            credentials: Credentials::default(),
            truth_out: None,
        }
    }
}

impl SimConfig {
    /// A configuration for tests: this world, every server on 127.0.0.1 port 0.
    pub fn for_tests(world: WorldConfig) -> SimConfig {
        SimConfig {
            world,
            coop_alliance: ServerConfig::at("127.0.0.1:0"),
            loan_fund: ServerConfig::at("127.0.0.1:0"),
            ntm: ServerConfig::at("127.0.0.1:0"),
            credentials: Credentials::default(),
            truth_out: None,
        }
    }
}

/// One running server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:8101` (no trailing slash).
    pub base_url: String,
}

/// The three running servers. Dropping it stops them (so does [`RunningSims::shutdown`]).
#[derive(Debug)]
pub struct RunningSims {
    pub coop_alliance: Endpoint,
    pub loan_fund: Endpoint,
    pub ntm: Endpoint,
    pub credentials: Credentials,
    /// The world all three serve.
    pub world: SharedWorld,
    faults: [Arc<FaultState>; 3],
    tokens: Arc<TokenStore>,
    truth_out: Option<PathBuf>,
    cancel: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSims {
    /// The settings of the adapters of the three simulated systems, by variable, as the
    /// environment of `hub adapter <system>` would give them: each system's base URL and
    /// credentials (`COOP_ALLIANCE_URL`, `COOP_ALLIANCE_API_KEY`, `LOAN_FUND_…`, `NTM_…`,
    /// `NTM_YEARS` the years given). The in-process pipeline configures each adapter from it.
    pub fn adapter_variables(
        &self,
        ntm_years: &[i32],
    ) -> std::collections::BTreeMap<String, String> {
        let c = &self.credentials;
        let years: Vec<String> = ntm_years.iter().map(i32::to_string).collect();
        [
            ("COOP_ALLIANCE_URL", self.coop_alliance.base_url.clone()),
            ("COOP_ALLIANCE_API_KEY", c.coop_api_key.clone()),
            ("LOAN_FUND_URL", self.loan_fund.base_url.clone()),
            ("LOAN_FUND_CLIENT_ID", c.loan_client_id.clone()),
            ("LOAN_FUND_CLIENT_SECRET", c.loan_client_secret.clone()),
            ("NTM_URL", self.ntm.base_url.clone()),
            ("NTM_USER", c.ntm_user.clone()),
            ("NTM_PASSWORD", c.ntm_password.clone()),
            ("NTM_YEARS", years.join(",")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Generates the configured world and starts the three servers on it.
pub async fn start(config: SimConfig) -> Result<RunningSims, SimError> {
    let world = generate(&config.world)?;
    start_with_world(world, config).await
}

/// Starts the three servers over a given world (`config.world` is not used).
pub async fn start_with_world(world: World, config: SimConfig) -> Result<RunningSims, SimError> {
    let seed = world.seed;
    let fault = |system, f: &Faults| FaultState::new(system, f.clone(), seed).map(Arc::new);
    let faults = [
        fault(System::CoopAlliance, &config.coop_alliance.faults)?,
        fault(System::LoanFund, &config.loan_fund.faults)?,
        fault(System::Ntm, &config.ntm.faults)?,
    ];
    if let Some(path) = &config.truth_out {
        world
            .truth(&TruthParams::for_world(&world))
            .write_to(path)?;
    }
    let shared = Arc::new(Shared {
        world: Arc::new(RwLock::new(world)),
        truth_out: config.truth_out.clone(),
    });
    let tokens = Arc::new(TokenStore::default());
    let creds = &config.credentials;
    let admin = |i: usize, tokens: Option<Arc<TokenStore>>| {
        http::admin::router(http::admin::AdminState {
            shared: shared.clone(),
            faults: faults[i].clone(),
            tokens,
        })
    };
    let coop = http::coop_alliance::router(
        http::coop_alliance::CoopState {
            shared: shared.clone(),
            api_key: creds.coop_api_key.as_str().into(),
        },
        faults[0].clone(),
    )
    .merge(admin(0, None))
    .fallback(http::not_found);
    let loan = http::loan_fund::router(http::loan_fund::LoanState {
        shared: shared.clone(),
        faults: faults[1].clone(),
        tokens: tokens.clone(),
        client_id: creds.loan_client_id.as_str().into(),
        client_secret: creds.loan_client_secret.as_str().into(),
    })
    .merge(admin(1, Some(tokens.clone())))
    .fallback(http::not_found);
    let ntm = http::ntm::router(
        http::ntm::NtmState {
            shared: shared.clone(),
            user: creds.ntm_user.as_str().into(),
            password: creds.ntm_password.as_str().into(),
        },
        faults[2].clone(),
    )
    .merge(admin(2, None))
    .fallback(http::not_found);

    let cancel = CancellationToken::new();
    let mut tasks = Vec::new();
    let mut endpoints = Vec::new();
    for (system, addr, router) in [
        (System::CoopAlliance, config.coop_alliance.addr, coop),
        (System::LoanFund, config.loan_fund.addr, loan),
        (System::Ntm, config.ntm.addr, ntm),
    ] {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let bound = listener
            .local_addr()
            .map_err(|source| SimError::Bind { addr, source })?;
        let stop = cancel.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(%system, error = %e, "server stopped");
            }
        }));
        tracing::info!(%system, addr = %bound, "simulator listening");
        endpoints.push(Endpoint {
            addr: bound,
            base_url: format!("http://{bound}"),
        });
    }
    let mut endpoints = endpoints.into_iter();
    let (Some(coop_alliance), Some(loan_fund), Some(ntm)) =
        (endpoints.next(), endpoints.next(), endpoints.next())
    else {
        return Err(SimError::InvalidConfig("three servers expected".into()));
    };
    Ok(RunningSims {
        coop_alliance,
        loan_fund,
        ntm,
        credentials: config.credentials,
        world: shared.world.clone(),
        faults,
        tokens,
        truth_out: config.truth_out,
        cancel,
        tasks,
    })
}

impl RunningSims {
    fn fault_state(&self, system: System) -> &FaultState {
        match system {
            System::CoopAlliance => &self.faults[0],
            System::LoanFund => &self.faults[1],
            System::Ntm => &self.faults[2],
        }
    }

    /// A server's endpoint.
    pub fn endpoint(&self, system: System) -> &Endpoint {
        match system {
            System::CoopAlliance => &self.coop_alliance,
            System::LoanFund => &self.loan_fund,
            System::Ntm => &self.ntm,
        }
    }

    /// A server's faults now.
    pub fn faults(&self, system: System) -> Faults {
        self.fault_state(system).get()
    }

    /// Replaces a server's faults.
    pub fn set_faults(&self, system: System, faults: Faults) -> Result<Faults, SimError> {
        self.fault_state(system).set(faults)
    }

    /// Changes some of a server's faults.
    pub fn update_faults(&self, system: System, update: &FaultsUpdate) -> Result<Faults, SimError> {
        self.fault_state(system).update(update)
    }

    /// What a server's fault layer did so far.
    pub fn stats(&self, system: System) -> FaultStats {
        self.fault_state(system).stats()
    }

    /// Expires every loan-fund token; returns how many were live.
    pub fn expire_tokens(&self) -> usize {
        self.tokens.expire_all()
    }

    /// Applies a mutation (as `POST /_sim/mutate` does).
    pub async fn mutate(&self, req: &MutationRequest) -> Result<MutationReport, SimError> {
        let mut world = self.world.write().await;
        let report = world.mutate(req, generate::wall_clock_now())?;
        if let Some(path) = &self.truth_out {
            world
                .truth(&TruthParams::for_world(&world))
                .write_to(path)?;
        }
        Ok(report)
    }

    /// The ground truth (as `GET /_sim/truth` gives it).
    pub async fn truth(&self, params: Option<TruthParams>) -> Truth {
        let world = self.world.read().await;
        let params = params.unwrap_or_else(|| TruthParams::for_world(&world));
        world.truth(&params)
    }

    /// Stops the servers and waits for them to finish.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSims {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

//! Starting and stopping every service of the hub in one process.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::NaiveDate;
use hub_adapter_kit::Secret;
use hub_runtime::CommonConfig;
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::RunningSims;
use tokio::task::JoinHandle;

/// Where the three agency systems are and how to log in: the simulators' endpoints, or the
/// real systems'.
#[derive(Debug, Clone)]
pub struct Sources {
    pub coop_alliance_url: String,
    pub coop_alliance_api_key: String,
    pub loan_fund_url: String,
    pub loan_fund_client_id: String,
    pub loan_fund_client_secret: String,
    pub ntm_url: String,
    pub ntm_user: String,
    pub ntm_password: String,
    pub ntm_years: Vec<i32>,
    /// Where each adapter serves `/readyz`, `/metrics` and `POST /api/v1/sync` (for the
    /// console); None: the adapters serve no HTTP.
    pub adapter_http: Option<AdapterHttp>,
}

/// The adapters' HTTP addresses.
#[derive(Debug, Clone, Copy)]
pub struct AdapterHttp {
    pub coop_alliance: SocketAddr,
    pub loan_fund: SocketAddr,
    pub ntm: SocketAddr,
}

impl Sources {
    /// The endpoints and credentials of running simulators.
    pub fn of(sims: &RunningSims, ntm_years: Vec<i32>) -> Self {
        let c = &sims.credentials;
        Self {
            coop_alliance_url: sims.coop_alliance.base_url.clone(),
            coop_alliance_api_key: c.coop_api_key.clone(),
            loan_fund_url: sims.loan_fund.base_url.clone(),
            loan_fund_client_id: c.loan_client_id.clone(),
            loan_fund_client_secret: c.loan_client_secret.clone(),
            ntm_url: sims.ntm.base_url.clone(),
            ntm_user: c.ntm_user.clone(),
            ntm_password: c.ntm_password.clone(),
            ntm_years,
            adapter_http: None,
        }
    }
}

/// How to run the pipeline.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Broker, database, namespace, retry policy: shared by every service.
    pub common: CommonConfig,
    pub sources: Sources,
    /// Time between two syncs of each adapter.
    pub poll: Duration,
    /// The indicator service's as-of date (today in Vietnam when None).
    pub as_of: Option<NaiveDate>,
    /// HTTP addresses (port 0 picks one); None: no HTTP for that service.
    pub reconciler_http: Option<SocketAddr>,
    pub indicators_http: Option<SocketAddr>,
    /// Debounce of snapshot recomputation.
    pub debounce: Duration,
    /// The service credential the reconciler's, indicators' and adapters' APIs accept
    /// (`SERVICE_TOKENS`);
    /// None: a fresh random one (see [`Pipeline::service_token`]).
    pub service_token: Option<String>,
}

/// What could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("reconciler: {0}")]
    Reconciler(#[from] hub_reconciler::Error),
    #[error("indicators: {0}")]
    Indicators(#[from] hub_indicators::Error),
    #[error("declaring the queues: {0}")]
    Messaging(#[from] hub_runtime::messaging::MessagingError),
    #[error("inbound: {0}")]
    Inbound(#[from] hub_inbound::entitlements::EntitlementsError),
}

/// Every service, running.
pub struct Pipeline {
    pub reconciler: hub_reconciler::Running,
    pub indicators: hub_indicators::Running,
    /// The bearer token the reconciler's, indicators' and adapters' APIs accept: give it to the console
    /// (`SERVICE_TOKEN`) and to anything else that calls them.
    pub service_token: String,
    pub shutdown: CancellationToken,
    tasks: Vec<(String, JoinHandle<Result<(), String>>)>,
}

fn with_http(common: &CommonConfig, addr: Option<SocketAddr>) -> CommonConfig {
    CommonConfig {
        http_addr: addr,
        ..common.clone()
    }
}

impl Pipeline {
    /// Starts the consumers first (so that their queues exist before anything is
    /// published), then the inbound validator and the adapters.
    pub async fn start(
        config: PipelineConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, PipelineError> {
        let service_token = config
            .service_token
            .clone()
            .unwrap_or_else(hub_runtime::service_auth::generate_token);
        let tokens = hub_runtime::service_auth::ServiceTokens::new([service_token.clone()]);
        let reconciler = hub_reconciler::start(
            hub_reconciler::Config {
                common: with_http(&config.common, config.reconciler_http),
                service_tokens: tokens.clone(),
                // as deployed: the contracts decisions go out as (v1, v2 or both)
                reconciler_decision_contracts: std::env::var("RECONCILER_DECISION_CONTRACTS")
                    .unwrap_or_else(|_| {
                        hub_reconciler::Config::default().reconciler_decision_contracts
                    }),
                ..hub_reconciler::Config::default()
            },
            shutdown.clone(),
        )
        .await?;
        let indicators = hub_indicators::start(
            hub_indicators::Config {
                common: with_http(&config.common, config.indicators_http),
                as_of: config.as_of,
                debounce_ms: config.debounce.as_millis() as u64,
                service_tokens: tokens.clone(),
                ..hub_indicators::Config::default()
            },
            shutdown.clone(),
        )
        .await?;
        let mut tasks = Vec::new();
        let common = with_http(&config.common, None);
        let s = config.sources.clone();
        let poll = config.poll.as_secs().max(1);

        let inbound = hub_inbound::Config {
            common: common.clone(),
            ..hub_inbound::Config::default()
        };
        let inbound_queues = hub_inbound::queue_specs(&inbound)?;
        let t = shutdown.clone();
        tasks.push((
            "inbound".to_owned(),
            tokio::spawn(async move {
                hub_inbound::run(inbound, t)
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));

        // the consumers declare their queues in their own tasks; make sure every queue and
        // binding exists before the adapters publish (publishing is `mandatory`)
        let broker = hub_runtime::Broker::new(
            &common.amqp_url,
            "pipeline-setup",
            common.topology(),
            Default::default(),
            Default::default(),
        );
        let retry = common.retry_policy();
        let mut specs = vec![
            hub_reconciler::source_queue(&hub_reconciler::Config {
                common: common.clone(),
                ..hub_reconciler::Config::default()
            }),
            hub_indicators::input_queue(&hub_indicators::Config {
                common: common.clone(),
                ..hub_indicators::Config::default()
            }),
        ];
        specs.extend(inbound_queues);
        let ch = broker.channel_with_retry(&shutdown).await?;
        for spec in &specs {
            common.topology().declare_queue(&ch, spec, &retry).await?;
        }
        broker.close().await;

        let http = s.adapter_http;
        let coop = hub_adapter_coop_alliance::Config {
            common: with_http(&common, http.map(|h| h.coop_alliance)),
            coop_alliance_url: s.coop_alliance_url.clone(),
            coop_alliance_api_key: Secret::new(s.coop_alliance_api_key.clone()),
            coop_alliance_poll_secs: poll,
            service_tokens: tokens.clone(),
            ..hub_adapter_coop_alliance::Config::default()
        };
        let t = shutdown.clone();
        tasks.push((
            "adapter coop-alliance".to_owned(),
            tokio::spawn(async move {
                hub_adapter_coop_alliance::run(coop, t)
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));

        let loans = hub_adapter_loan_fund::Config {
            common: with_http(&common, http.map(|h| h.loan_fund)),
            loan_fund_url: s.loan_fund_url.clone(),
            loan_fund_client_id: s.loan_fund_client_id.clone(),
            loan_fund_client_secret: Secret::new(s.loan_fund_client_secret.clone()),
            loan_fund_poll_secs: poll,
            service_tokens: tokens.clone(),
            ..hub_adapter_loan_fund::Config::default()
        };
        let t = shutdown.clone();
        tasks.push((
            "adapter loan-fund".to_owned(),
            tokio::spawn(async move {
                hub_adapter_loan_fund::run(loans, t)
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));

        let ntm = hub_adapter_ntm::Config {
            common: with_http(&common, http.map(|h| h.ntm)),
            ntm_url: s.ntm_url.clone(),
            ntm_user: s.ntm_user.clone(),
            ntm_password: Secret::new(s.ntm_password.clone()),
            ntm_years: s.ntm_years.clone(),
            ntm_poll_secs: poll,
            service_tokens: tokens.clone(),
            ..hub_adapter_ntm::Config::default()
        };
        let t = shutdown.clone();
        tasks.push((
            "adapter ntm".to_owned(),
            tokio::spawn(async move {
                hub_adapter_ntm::run(ntm, t)
                    .await
                    .map_err(|e| e.to_string())
            }),
        ));

        Ok(Self {
            reconciler,
            indicators,
            service_token,
            shutdown,
            tasks,
        })
    }

    /// Cancels every service and waits for each to stop; returns the errors they stopped with.
    pub async fn stop(self) -> Vec<String> {
        self.shutdown.cancel();
        let mut errors = Vec::new();
        for (name, task) in self.tasks {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => errors.push(format!("{name}: {e}")),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        if let Err(e) = self.reconciler.wait().await {
            errors.push(format!("reconciler: {e}"));
        }
        if let Err(e) = self.indicators.stopped().await {
            errors.push(format!("indicators: {e}"));
        }
        errors
    }
}

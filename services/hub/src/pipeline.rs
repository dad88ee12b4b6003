//! Starting and stopping every service of the hub in one process: the consumers, hub-inbound,
//! and the adapter of each registered source it runs ([`running_sources`]).

use std::net::SocketAddr;
use std::time::Duration;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use hub_adapter_kit::Registration;
use hub_runtime::CommonConfig;
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::RunningSims;
use tokio::task::JoinHandle;

/// The sources' settings and HTTP addresses. Which adapters run comes from the
/// registrations ([`crate::sources::SOURCES`]), not from a list here: every source whose
/// agency system is simulated (`deploy.simulated`), and every file source given an HTTP
/// address (its uploads come over HTTP).
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The sources' own variables, as the environment of `hub adapter <system>` would give
    /// them (`COOP_ALLIANCE_URL`, `NTM_PASSWORD`, …): each adapter reads its own.
    pub variables: BTreeMap<String, String>,
    /// Where each adapter serves `/readyz`, `/metrics`, `POST /api/v1/sync` and (a file
    /// source) `POST /api/v1/upload`, by system; an adapter without one serves no HTTP.
    pub adapter_http: BTreeMap<String, SocketAddr>,
}

impl Sources {
    /// The endpoints and credentials of running simulators.
    pub fn of(sims: &RunningSims, ntm_years: Vec<i32>) -> Self {
        Self {
            variables: sims.adapter_variables(&ntm_years),
            adapter_http: BTreeMap::new(),
        }
    }
}

/// Whether the pipeline runs this source's adapter.
fn runs(source: &Registration, sources: &Sources) -> bool {
    source.deploy.simulated
        || (source.is_file_source() && sources.adapter_http.contains_key(source.system))
}

/// The registered sources the pipeline runs an adapter for.
pub fn running_sources(sources: &Sources) -> Vec<&'static Registration> {
    running_among(crate::sources::SOURCES, sources)
}

/// Those of `registrations` the pipeline would run an adapter for.
pub fn running_among<'a>(
    registrations: &'a [Registration],
    sources: &Sources,
) -> Vec<&'a Registration> {
    registrations.iter().filter(|s| runs(s, sources)).collect()
}

/// The queues the pipeline binds to source records, as its services declare them: the
/// reconciler's source queue and the indicators' input queue.
pub fn source_record_queues(common: &CommonConfig) -> [hub_runtime::messaging::QueueSpec; 2] {
    [
        hub_reconciler::source_queue(&hub_reconciler::Config {
            common: common.clone(),
            ..hub_reconciler::Config::default()
        }),
        hub_indicators::input_queue(&hub_indicators::Config {
            common: common.clone(),
            ..hub_indicators::Config::default()
        }),
    ]
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
    /// The indicators' plan folders (`PLAN_DIRS`); empty: Lai Châu's built-in plan. The
    /// provinces every service resolves against are `common.reference_dirs`.
    pub plan_dirs: Vec<std::path::PathBuf>,
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
                sources: crate::sources::infos(),
                plan_dirs: config.plan_dirs.clone(),
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
        let mut specs = source_record_queues(&common).to_vec();
        specs.extend(inbound_queues);
        let ch = broker.channel_with_retry(&shutdown).await?;
        for spec in &specs {
            common.topology().declare_queue(&ch, spec, &retry).await?;
        }
        broker.close().await;

        // every registered source the pipeline runs, configured as `hub adapter <system>`
        // would be from the environment: its variables, its poll interval, the service
        // credential, its HTTP address
        for source in running_sources(&s) {
            let mut variables = s.variables.clone();
            variables.insert(format!("{}_POLL_SECS", source.env_name()), poll.to_string());
            variables.insert("SERVICE_TOKENS".to_owned(), service_token.clone());
            let common = with_http(&common, s.adapter_http.get(source.system).copied());
            let run = (source.run_with)(common, variables, shutdown.clone());
            tasks.push((
                format!("adapter {}", source.system),
                tokio::spawn(async move { run.await.map_err(|e| e.to_string()) }),
            ));
        }

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

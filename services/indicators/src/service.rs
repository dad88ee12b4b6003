//! The running service: the input consumer (inbox, exactly-once effects), the debounced
//! recompute, the outbox relay and the HTTP API, started by [`start`] and stopped by the
//! shutdown token.
//!
//! Owns when snapshots are computed (after inputs change, quiet for `DEBOUNCE_MS`; when the
//! date rolls over; on demand) and that one recompute runs at a time. The computation itself
//! is [`crate::compute`], storage [`crate::store`].
//!
//! Tracing: each automatic recompute is a span `snapshot`, linked to the spans of the input
//! batches that changed the projection since the previous one (each of which links to its
//! messages' traces, so a source record's trace leads to the snapshots it fed).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{FixedOffset, NaiveDate, Utc};
use hub_contracts::Contract;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::identity::{GoldenRecord, ReconciliationDecision};
use hub_contracts::v1::indicator::IndicatorSnapshot;
use hub_contracts::v1::source::{LoanDisbursement, NtmCommuneReport, RegistryCooperative};
use hub_contracts::v1::{FuBranch, FuOfficer, FuTraining};
use hub_contracts::v2::ReconciliationDecisions;
use hub_runtime::messaging::{BatchConsumer, BatchHandler, HandlerError, Incoming, QueueSpec};
use hub_runtime::service::ServiceContext;
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::telemetry::propagation::Causes;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::compute::{Inputs, compute_as_of};
use crate::config::Config;
use crate::plan::{Plan, UnitList};
use crate::store::{Input, Store};
use crate::{Error, http, snapshot};

/// The service's name (broker connection, logs).
pub const SERVICE_NAME: &str = "indicators";
/// The service's database schema.
pub const SCHEMA: &str = "indicators";
/// Base name of the input queue.
pub const INPUT_QUEUE: &str = "indicators.inputs";

/// The service's migrations (its own schema).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The contract types the service consumes. Decisions come as `reconciliation.decision.v2`
/// (one message per reconciler transaction, the queue's binding); a
/// `reconciliation.decision.v1` is still taken (one queued before an upgrade, or routed by a
/// binding an older deployment left on the queue), each decision kept once whichever
/// contract brought it.
pub const INPUT_TYPES: [&str; 9] = [
    GoldenRecord::TYPE,
    ReconciliationDecisions::TYPE,
    ReconciliationDecision::TYPE,
    LoanDisbursement::TYPE,
    NtmCommuneReport::TYPE,
    RegistryCooperative::TYPE,
    FuBranch::TYPE,
    FuOfficer::TYPE,
    FuTraining::TYPE,
];

/// The input queue and its bindings (declaring it before publishing is what a test needs:
/// publishes are mandatory).
pub fn input_queue(config: &Config) -> QueueSpec {
    QueueSpec::new(INPUT_QUEUE)
        .bind(exchanges::IDENTITY, GoldenRecord::TYPE)
        .bind(exchanges::IDENTITY, ReconciliationDecisions::TYPE)
        .bind(exchanges::SOURCE, LoanDisbursement::TYPE)
        .bind(exchanges::SOURCE, NtmCommuneReport::TYPE)
        .bind(exchanges::SOURCE, RegistryCooperative::TYPE)
        .bind(exchanges::SOURCE, FuBranch::TYPE)
        .bind(exchanges::SOURCE, FuOfficer::TYPE)
        .bind(exchanges::SOURCE, FuTraining::TYPE)
        .delivery_limit(config.common.delivery_limit)
}

/// Vietnam's UTC offset, +07:00: "today" is a date there.
const VIETNAM: FixedOffset = match FixedOffset::east_opt(7 * 3600) {
    Some(o) => o,
    None => panic!("+07:00 is a valid offset"),
};

/// Today's date in Vietnam (UTC+7): the default as-of date.
pub fn today_in_vietnam() -> NaiveDate {
    Utc::now().with_timezone(&VIETNAM).date_naive()
}

/// The latest snapshot known per unit list.
pub type Latest = BTreeMap<UnitList, Arc<IndicatorSnapshot>>;

/// What a recompute gave.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recomputed {
    /// False when the content equalled the latest version's (no new version).
    pub created: bool,
    pub snapshot: IndicatorSnapshot,
}

/// Computes and stores snapshots, per plan; shared by the debouncer and the HTTP API.
pub struct Snapshots {
    /// The default plan: the first of `plans`.
    pub plan: Arc<Plan>,
    /// Every plan loaded (`PLAN_DIRS`), the default first; snapshots are kept per plan.
    pub plans: Vec<Arc<Plan>>,
    pub store: Store,
    /// Unit lists of automatic recomputes; the first is the API's default.
    pub lists: Vec<UnitList>,
    /// `AS_OF`, when fixed.
    pub fixed_as_of: Option<NaiveDate>,
    /// The registered sources (the report's names of their agencies).
    pub sources: Vec<hub_runtime::sources::SourceInfo>,
    running: tokio::sync::Mutex<()>,
    latest: watch::Sender<Latest>,
}

impl Snapshots {
    pub fn new(
        plan: Plan,
        store: Store,
        lists: Vec<UnitList>,
        fixed_as_of: Option<NaiveDate>,
    ) -> Self {
        Self::with_plans(plan, vec![], store, lists, fixed_as_of)
    }

    /// Over several plans: `default` and the `more` beside it.
    pub fn with_plans(
        default: Plan,
        more: Vec<Plan>,
        store: Store,
        lists: Vec<UnitList>,
        fixed_as_of: Option<NaiveDate>,
    ) -> Self {
        let plan = Arc::new(default);
        let plans = std::iter::once(plan.clone())
            .chain(more.into_iter().map(Arc::new))
            .collect();
        Self {
            plan,
            plans,
            store,
            lists,
            fixed_as_of,
            sources: Vec::new(),
            running: tokio::sync::Mutex::new(()),
            latest: watch::Sender::new(Latest::new()),
        }
    }

    /// The as-of date of a recompute that names none.
    pub fn default_as_of(&self) -> NaiveDate {
        self.fixed_as_of.unwrap_or_else(today_in_vietnam)
    }

    /// The plan of this id (`None`: the default plan).
    pub fn plan(&self, id: Option<&str>) -> Option<&Arc<Plan>> {
        match id {
            None => Some(&self.plan),
            Some(id) => self.plans.iter().find(|p| p.id == id),
        }
    }

    /// Computes the default plan's snapshot of `list` as of `as_of` (default:
    /// [`Snapshots::default_as_of`]) and stores it as a new version unless its content equals
    /// the latest version's.
    pub async fn recompute(
        &self,
        list: UnitList,
        as_of: Option<NaiveDate>,
    ) -> Result<Recomputed, Error> {
        self.recompute_plan(&self.plan.clone(), list, as_of).await
    }

    /// As [`Snapshots::recompute`], for one of the plans; [`Snapshots::subscribe`] follows the
    /// default plan's.
    pub async fn recompute_plan(
        &self,
        plan: &Plan,
        list: UnitList,
        as_of: Option<NaiveDate>,
    ) -> Result<Recomputed, Error> {
        let _one_at_a_time = self.running.lock().await;
        let as_of = as_of.unwrap_or_else(|| self.default_as_of());
        let (projection, provenance) = self.store.inputs().await?;
        let units = compute_as_of(
            plan,
            list,
            as_of,
            Inputs {
                golden: &projection.golden,
                loans: &projection.loans,
                ntm: &projection.ntm,
            },
            &projection.registry,
            &projection.fu,
        );
        let built = snapshot::build(plan, list, as_of, units, provenance);
        let (snapshot, created) = self.store.save_if_changed(built).await?;
        if created {
            tracing::info!(plan = %plan.id, unit_list = %list, version = snapshot.version, %as_of, hash = %snapshot.content_hash, "new snapshot");
        }
        if plan.id == self.plan.id {
            let shared = Arc::new(snapshot.clone());
            self.latest.send_modify(|l| {
                l.insert(list, shared);
            });
        }
        Ok(Recomputed { created, snapshot })
    }

    /// Follows the latest snapshot per unit list.
    pub fn subscribe(&self) -> watch::Receiver<Latest> {
        self.latest.subscribe()
    }
}

/// Applies each batch of consumed messages once, in one transaction, and marks the projection
/// dirty when it changed.
struct InputHandler {
    store: Store,
    dirty: Arc<Notify>,
    /// The batches that changed it since the last snapshot (links of the next one).
    causes: Causes,
}

fn decode_input(msg: &Incoming) -> Result<Input, HandlerError> {
    Ok(match msg.envelope.ty.as_str() {
        GoldenRecord::TYPE => Input::Golden(Box::new(msg.decode::<GoldenRecord>()?.data)),
        LoanDisbursement::TYPE => Input::Loan(Box::new(msg.decode::<LoanDisbursement>()?.data)),
        NtmCommuneReport::TYPE => Input::Ntm(Box::new(msg.decode::<NtmCommuneReport>()?.data)),
        RegistryCooperative::TYPE => {
            Input::Registry(Box::new(msg.decode::<RegistryCooperative>()?.data))
        }
        ReconciliationDecision::TYPE => {
            Input::Decision(Box::new(msg.decode::<ReconciliationDecision>()?.data))
        }
        ReconciliationDecisions::TYPE => {
            Input::Decisions(Box::new(msg.decode::<ReconciliationDecisions>()?.data))
        }
        FuBranch::TYPE => Input::FuBranch(Box::new(msg.decode::<FuBranch>()?.data)),
        FuOfficer::TYPE => Input::FuOfficer(Box::new(msg.decode::<FuOfficer>()?.data)),
        FuTraining::TYPE => Input::FuTraining(Box::new(msg.decode::<FuTraining>()?.data)),
        other => {
            return Err(HandlerError::permanent(format!(
                "hub-indicators does not take contract type {other:?}"
            )));
        }
    })
}

impl BatchHandler for InputHandler {
    async fn handle_batch(
        &self,
        msgs: &[Incoming],
    ) -> Result<Vec<Result<(), HandlerError>>, HandlerError> {
        let mut results = Vec::with_capacity(msgs.len());
        let mut inputs = Vec::with_capacity(msgs.len());
        for msg in msgs {
            match decode_input(msg) {
                Ok(input) => {
                    inputs.push((msg.envelope.id.as_str(), input));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        if inputs.is_empty() {
            return Ok(results);
        }
        let batch: Vec<(&str, &Input)> = inputs.iter().map(|(id, i)| (*id, i)).collect();
        if self.store.apply_batch(&batch).await? {
            // the consumer runs this in the batch's span
            self.causes.note_current();
            self.dirty.notify_one();
        }
        Ok(results)
    }
}

/// The service, started.
pub struct Running {
    snapshots: Arc<Snapshots>,
    http_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// Where the HTTP API listens (with `HTTP_ADDR` port 0, the port picked).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn snapshots(&self) -> &Arc<Snapshots> {
        &self.snapshots
    }

    /// Follows the latest snapshot per unit list.
    pub fn subscribe(&self) -> watch::Receiver<Latest> {
        self.snapshots.subscribe()
    }

    /// Waits for a snapshot of `list` that satisfies `pred` (the first one: `|_| true`);
    /// `None` when the service shut down first.
    pub async fn snapshot_where(
        &self,
        list: UnitList,
        pred: impl Fn(&IndicatorSnapshot) -> bool,
    ) -> Option<Arc<IndicatorSnapshot>> {
        let mut rx = self.subscribe();
        tokio::select! {
            _ = self.shutdown.cancelled() => None,
            found = rx.wait_for(|l| l.get(&list).is_some_and(|s| pred(s))) => {
                found.ok().and_then(|l| l.get(&list).cloned())
            }
        }
    }

    /// Recomputes now (as `POST /api/v1/snapshots` does).
    pub async fn recompute(
        &self,
        list: UnitList,
        as_of: Option<NaiveDate>,
    ) -> Result<Recomputed, Error> {
        self.snapshots.recompute(list, as_of).await
    }

    /// Waits for the shutdown token and for every task to finish.
    pub async fn stopped(self) -> Result<(), Error> {
        self.shutdown.cancelled().await;
        let mut failed = None;
        for t in self.tasks {
            if let Err(e) = t.await {
                failed = Some(e.to_string());
            }
        }
        match failed {
            Some(e) => Err(Error::Task(e)),
            None => Ok(()),
        }
    }
}

/// Starts the service: plan, database (schema `indicators`, migrations), consumer, outbox
/// relay, debounced recompute (a first one right away) and HTTP. Returns once everything is
/// started; an invalid plan or configuration is an error here.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, Error> {
    config.validate()?;
    let (default_plan, more_plans) = load_plans(&config)?;
    let ctx = ServiceContext::start(
        SERVICE_NAME,
        config.common.clone(),
        SCHEMA,
        Some(&MIGRATOR),
        shutdown.clone(),
    )
    .await?;
    let store = Store::new(ctx.db.clone());
    let snapshots = Arc::new(Snapshots {
        sources: config.sources.clone(),
        ..Snapshots::with_plans(
            default_plan,
            more_plans,
            store.clone(),
            config.unit_list.clone(),
            config.as_of,
        )
    });
    let dirty = Arc::new(Notify::new());
    let causes = Causes::new();
    let mut tasks = vec![ctx.spawn_outbox_relay(), ctx.spawn_database_probe()];

    // every input the broker delivered meanwhile goes in the next transaction
    let consumer = BatchConsumer::new(
        ctx.broker.clone(),
        input_queue(&config),
        InputHandler {
            store,
            dirty: dirty.clone(),
            causes: causes.clone(),
        },
    )
    .retry(ctx.config.retry_policy())
    .prefetch(ctx.config.batch_prefetch())
    .max_batch(usize::from(ctx.config.batch_size))
    .accepts(&INPUT_TYPES);
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        if let Err(e) = consumer.run(stop).await {
            tracing::error!(error = %e, "input consumer stopped");
        }
    }));

    tasks.push(tokio::spawn(debounce(
        snapshots.clone(),
        dirty.clone(),
        causes,
        Duration::from_millis(config.debounce_ms),
        Duration::from_millis(config.debounce_max_ms),
        shutdown.clone(),
    )));
    // a first snapshot from whatever the projection holds
    dirty.notify_one();

    let api = hub_runtime::service_auth::require_service_credential(
        http::router(snapshots.clone()),
        config.service_tokens.clone(),
    );
    let http_addr = ctx.serve_http(api).await?;
    let broker = ctx.broker.clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        stop.cancelled().await;
        broker.close().await;
    }));
    Ok(Running {
        snapshots,
        http_addr,
        shutdown,
        tasks,
    })
}

/// The plans of `PLAN_DIRS` (in order; the first is the default), else of `PLAN_FILE`, else
/// Lai Châu's built in; two plans with one id are an error.
pub fn load_plans(config: &Config) -> Result<(Plan, Vec<Plan>), Error> {
    let (default, more) = match config.plan_dirs.split_first() {
        Some((first, rest)) => (
            Plan::load(first)?,
            rest.iter()
                .map(|d| Plan::load(d))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => match &config.plan_file {
            Some(path) => (Plan::load(path)?, vec![]),
            None => (Plan::builtin()?, vec![]),
        },
    };
    let plans: Vec<&Plan> = std::iter::once(&default).chain(&more).collect();
    for (i, plan) in plans.iter().enumerate() {
        if let Some(other) = plans[..i].iter().find(|p| p.id == plan.id) {
            return Err(crate::plan::PlanError {
                file: plan.source.clone(),
                field: "id".into(),
                problem: format!("{} is also the id of {}", plan.id, other.source),
            }
            .into());
        }
        tracing::info!(plan = %plan.id, source = %plan.source, indicators = plan.indicators.len(), "plan loaded");
    }
    Ok((default, more))
}

/// Runs the service until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), Error> {
    start(config, shutdown).await?.stopped().await
}

/// Time until the next midnight in Vietnam, when "today" changes.
fn until_next_day() -> Duration {
    let now = Utc::now().with_timezone(&VIETNAM);
    let next = now
        .date_naive()
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 1))
        .map(|t| t - now.naive_local());
    next.and_then(|d| d.to_std().ok())
        .unwrap_or(Duration::from_secs(3600))
}

/// Recomputes every configured unit list once inputs have been quiet for `quiet` (at most
/// `longest` after the first change), and when the date changes (unless `AS_OF` is fixed).
async fn debounce(
    snapshots: Arc<Snapshots>,
    dirty: Arc<Notify>,
    causes: Causes,
    quiet: Duration,
    longest: Duration,
    shutdown: CancellationToken,
) {
    let follows_today = snapshots.fixed_as_of.is_none();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = dirty.notified() => {}
            _ = tokio::time::sleep(until_next_day()), if follows_today => {}
        }
        let first = tokio::time::Instant::now();
        loop {
            let deadline = (tokio::time::Instant::now() + quiet).min(first + longest);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = dirty.notified() => {
                    if tokio::time::Instant::now() >= first + longest { break; }
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        // linked to the batches that changed the projection since the last one
        let span = tracing::info_span!(parent: None, "snapshot", otel.name = "snapshot",
            hub.unit_lists = snapshots.lists.len(), hub.causes = tracing::field::Empty);
        span.record("hub.causes", causes.take(&span));
        // owned: a spawned future cannot hold the loop's borrows
        let (snapshots, dirty, shutdown) = (snapshots.clone(), dirty.clone(), shutdown.clone());
        async move {
            let every: Vec<(Arc<Plan>, UnitList)> = snapshots
                .plans
                .iter()
                .flat_map(|p| snapshots.lists.iter().map(|l| (p.clone(), *l)))
                .collect();
            for (plan, list) in every {
                if let Err(e) = snapshots.recompute_plan(&plan, list, None).await {
                    tracing::warn!(error = %e, plan = %plan.id, unit_list = %list, "recompute failed; will retry");
                    // try again after a pause
                    let again = dirty.clone();
                    let stop = shutdown.clone();
                    tokio::spawn(async move {
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = tokio::time::sleep(Duration::from_secs(5)) => again.notify_one(),
                        }
                    });
                    break;
                }
            }
        }
        .instrument(span)
        .await;
    }
}

//! The fault suite's harness, shared by `tests/faults.rs` (hub-e2e: broker and database
//! restarts, duplicates, reordering, poison, source faults) and
//! `services/hub/tests/faults_kill.rs` (SIGKILL of each service run as a `hub` process,
//! through its dev-dependency on hub-e2e):
//! a run of the whole pipeline over a fresh database and namespace and a fresh simulated world
//! of a fixed seed, its end state (the partition of source refs into organisations, the
//! snapshot content hash, the indicators' projection, queue depths, dead letters), and the
//! report table.
//!
//! Nothing here sleeps to synchronise: waits are on channels or on a condition with a
//! deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hub::pipeline::{Pipeline, PipelineConfig, Sources};
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{GoldenRecord, IndicatorSnapshot};
use hub_runtime::messaging::{
    Consumer, HandlerError, Incoming, OutgoingMessage, Publisher, QueueSpec, dlq::DeadLetters,
};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::{RunningSims, Truth, TruthParams, WorldConfig};
use hub_test_support::TestEnv;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::mpsc;

use crate::snapshots::{self, Unwatched};
use crate::start::{self, Simulated};

pub const SEED: u64 = 20251129;
/// How long a scenario may take to reach the fault-free end state.
pub const RECOVERY_DEADLINE: Duration = Duration::from_secs(150);
/// A drained pipeline whose end state stays different this long will not converge.
pub const SETTLED_DIFFERENT: Duration = Duration::from_secs(10);

/// The services' consumer queues (base names).
pub const RECONCILER_QUEUE: &str = "reconciler.source";
pub const INDICATORS_QUEUE: &str = "indicators.inputs";
pub const INBOUND_QUEUE: &str = "inbound.source";

pub fn world() -> WorldConfig {
    WorldConfig::new(SEED, start::now())
}

/// A small deterministic pseudo-random stream (splitmix64) for shuffles and delays; seeded
/// from the clock unless `FAULTS_SEED` is set, and printed so that a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn from_env() -> Self {
        let seed = std::env::var("FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(7)
            });
        println!("fault suite: FAULTS_SEED={seed}");
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
    /// A random delay of at most `max_ms`, to inject a fault at a random point.
    pub fn delay(&mut self, max_ms: u64) -> Duration {
        Duration::from_millis(self.below(max_ms + 1))
    }
}

/// A source message as it went over `coophub.source`, to be published again.
#[derive(Debug, Clone)]
pub struct Captured {
    pub routing_key: String,
    pub body: Vec<u8>,
    pub id: String,
}

impl Captured {
    pub fn outgoing(&self) -> OutgoingMessage {
        OutgoingMessage {
            exchange: exchanges::SOURCE.to_owned(),
            routing_key: self.routing_key.clone(),
            message_id: self.id.clone(),
            contract_type: self.routing_key.clone(),
            body: self.body.clone(),
            headers: BTreeMap::new(),
        }
    }
}

/// What a run ends in; two runs of the same world must end in equal ones.
#[derive(Debug, Clone)]
pub struct EndState {
    /// Each organisation as the set of its source refs (`system:id`): the crosswalk without
    /// organisation UUIDs, which are assigned in arrival order and differ per run.
    pub partition: BTreeSet<BTreeSet<String>>,
    /// Each live golden record's content (all but its id, version and time), by its source
    /// refs.
    pub golden: BTreeMap<BTreeSet<String>, serde_json::Value>,
    pub content_hash: String,
    /// The snapshot's content hashed into `content_hash` (for showing differences).
    pub content: serde_json::Value,
    /// Rows of the indicators' projection and of the reconciler's observations.
    pub projection: BTreeMap<String, i64>,
    /// Sum of the live golden records' versions: reported, not compared (how many versions a
    /// record goes through depends on the order its sources arrive in, which differs between
    /// two fault-free runs too).
    pub golden_versions: u64,
    /// Message ids in the dead-letter queues of the reconciler and the indicators.
    pub dead_letters: BTreeMap<String, BTreeSet<String>>,
}

impl PartialEq for EndState {
    fn eq(&self, other: &Self) -> bool {
        self.partition == other.partition
            && self.golden == other.golden
            && self.content_hash == other.content_hash
            && self.projection == other.projection
            && self.dead_letters == other.dead_letters
    }
}

/// Paths where two JSON values differ (at most `max`).
pub fn json_diff(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
    max: usize,
) {
    use serde_json::Value;
    if out.len() >= max || a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                json_diff(
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    &format!("{path}/{k}"),
                    out,
                    max,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_diff(p, q, &format!("{path}/{i}"), out, max);
            }
        }
        _ => out.push(format!("{path}: {} vs {}", short(a), short(b))),
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!("{}…", &s[..120])
    } else {
        s
    }
}

impl EndState {
    pub fn refs(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for org in &self.partition {
            for r in org {
                *m.entry(r.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    /// (lost, doubled) against `golden` (the fault-free end state with `expected_dead`
    /// dead letters): lost counts source refs, projection rows and expected dead letters that
    /// are missing (and messages dead-lettered that should not be); doubled counts refs in
    /// more than one organisation and extra projection rows. With another partition, another
    /// number of organisations is neither (the row fails on the partition).
    pub fn lost_and_doubled(&self, golden: &EndState) -> (u64, u64) {
        let (mine, theirs) = (self.refs(), golden.refs());
        let mut lost = theirs.keys().filter(|r| !mine.contains_key(*r)).count() as u64;
        let mut doubled = mine.values().filter(|n| **n > 1).count() as u64;
        let same_partition = self.partition == golden.partition;
        for (k, v) in &golden.projection {
            let m = self.projection.get(k).copied().unwrap_or(0);
            if !same_partition && k.contains("golden_records") {
                continue;
            }
            if m < *v {
                lost += (*v - m) as u64;
            } else {
                doubled += (m - *v) as u64;
            }
        }
        for (q, ids) in &golden.dead_letters {
            let got = self.dead_letters.get(q).cloned().unwrap_or_default();
            lost += ids.difference(&got).count() as u64;
            lost += got.difference(ids).count() as u64;
        }
        (lost, doubled)
    }

    /// Human-readable differences from `golden`.
    pub fn differences(&self, golden: &EndState) -> Vec<String> {
        let mut d = Vec::new();
        if self.partition != golden.partition {
            let extra: Vec<_> = self
                .partition
                .difference(&golden.partition)
                .take(5)
                .collect();
            let missing: Vec<_> = golden
                .partition
                .difference(&self.partition)
                .take(5)
                .collect();
            d.push(format!(
                "partition differs ({} vs {} organisations); here, not in the fault-free run: {extra:?}; \
                 in the fault-free run, not here: {missing:?}",
                self.partition.len(),
                golden.partition.len()
            ));
        }
        if self.partition == golden.partition && self.golden != golden.golden {
            let mut paths = Vec::new();
            for (refs, g) in &self.golden {
                if let Some(theirs) = golden.golden.get(refs)
                    && g != theirs
                {
                    json_diff(g, theirs, &format!("{refs:?}"), &mut paths, 4);
                }
            }
            d.push(format!("golden records differ at: {}", paths.join("; ")));
        }
        if self.content_hash != golden.content_hash {
            d.push(format!(
                "snapshot content hash {} != fault-free {}",
                self.content_hash, golden.content_hash
            ));
        }
        if self.projection != golden.projection {
            d.push(format!(
                "projection {:?} != fault-free {:?}",
                self.projection, golden.projection
            ));
        }
        if self.content_hash != golden.content_hash {
            let mut paths = Vec::new();
            json_diff(&self.content, &golden.content, "", &mut paths, 8);
            d.push(format!("snapshot content differs at: {}", paths.join("; ")));
        }
        if self.dead_letters != golden.dead_letters {
            d.push(format!(
                "dead letters {:?} != expected {:?}",
                self.dead_letters, golden.dead_letters
            ));
        }
        d
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: String,
    pub survived: bool,
    pub lost: u64,
    pub doubled: u64,
    pub recovery: Duration,
    pub note: String,
}

pub fn print_table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\n| {:<58} | {:<8} | {:>4} | {:>7} | {:>9} | {}\n",
        "fault", "survived", "lost", "doubled", "recovery", "note"
    ));
    out.push_str(&format!(
        "|{}|{}|{}|{}|{}|---\n",
        "-".repeat(60),
        "-".repeat(10),
        "-".repeat(6),
        "-".repeat(9),
        "-".repeat(11)
    ));
    for r in rows {
        out.push_str(&format!(
            "| {:<58} | {:<8} | {:>4} | {:>7} | {:>9} | {}\n",
            r.fault,
            if r.survived { "yes" } else { "NO" },
            r.lost,
            r.doubled,
            if r.survived {
                format!("{:.1}s", r.recovery.as_secs_f64())
            } else {
                "never".to_owned()
            },
            r.note
        ));
    }
    println!("{out}");
    out
}

/// Which services run where.
pub enum Services {
    InProcess(Pipeline),
    /// Run by the caller (child processes); the reconciler's HTTP address is known.
    External,
}

/// One run of the whole pipeline over a fresh world, database and namespace.
pub struct Run {
    pub env: TestEnv,
    pub sims: RunningSims,
    pub services: Option<Services>,
    pub stop: CancellationToken,
    pub truth: Truth,
    pub params: TruthParams,
    pub reconciler_http: SocketAddr,
    /// The service credential the reconciler's API accepts (`SERVICE_TOKENS`); `http` sends it.
    pub service_token: String,
    pub http: reqwest::Client,
    pub pool: sqlx::PgPool,
    snapshots: mpsc::UnboundedReceiver<IndicatorSnapshot>,
    pub latest: Option<IndicatorSnapshot>,
    agency: QueueSpec,
    capture_spec: QueueSpec,
    pub captured: Arc<Mutex<Vec<Captured>>>,
    pub years: Vec<i32>,
    last_progress: Instant,
}

pub fn capture_spec() -> QueueSpec {
    QueueSpec::new("e2e.faults.capture").bind(exchanges::SOURCE, "#")
}

impl Run {
    /// Fresh env and simulators, the agency and capture queues declared and consumed; the
    /// services are not started yet.
    pub async fn prepare() -> Run {
        Self::prepare_on(None).await
    }

    /// Like [`Run::prepare`], on the broker of `amqp_url` (one node, or a cluster's nodes
    /// separated by commas) instead of the machine's (`AMQP_URL`).
    pub async fn prepare_on(amqp_url: Option<&str>) -> Run {
        let mut env = TestEnv::new().await;
        if let Some(url) = amqp_url {
            env.config.amqp_url = url.to_owned();
        }
        let stop = CancellationToken::new();
        let Simulated {
            sims,
            params,
            truth,
            years,
        } = start::simulate(world()).await;
        let (agency, snapshots) =
            snapshots::watch(&env, &stop, "e2e.faults.snapshots", Unwatched::Drop).await;
        let capture_spec = capture_spec();
        let captured = Arc::new(Mutex::new(Vec::new()));
        {
            let broker = env.broker("e2e-capture");
            let ch = broker.channel().await.expect("broker reachable");
            env.topology()
                .declare_queue(&ch, &capture_spec, &env.retry_policy())
                .await
                .expect("declare the capture queue");
            let sink = captured.clone();
            let consumer = Consumer::new(broker, capture_spec.clone(), move |m: Incoming| {
                let sink = sink.clone();
                async move {
                    let body = serde_json::to_vec(&m.envelope).map_err(HandlerError::permanent)?;
                    sink.lock().expect("capture lock").push(Captured {
                        routing_key: m.envelope.ty.clone(),
                        id: m.envelope.id.clone(),
                        body,
                    });
                    Ok(())
                }
            });
            tokio::spawn(consumer.run(stop.clone()));
        }
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(3))
            .connect_with(PgConnectOptions::from_str(&env.config.database_url).expect("url"))
            .await
            .expect("test database reachable");
        let service_token = hub_runtime::service_auth::generate_token();
        let mut auth = reqwest::header::HeaderMap::new();
        auth.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {service_token}")
                .parse()
                .expect("header value"),
        );
        Run {
            env,
            sims,
            services: None,
            stop,
            truth,
            params,
            reconciler_http: "127.0.0.1:0".parse().expect("addr"),
            service_token,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .default_headers(auth)
                .build()
                .expect("http client"),
            pool,
            snapshots,
            latest: None,
            agency,
            capture_spec,
            captured,
            years,
            last_progress: Instant::now(),
        }
    }

    /// Starts every service in this process.
    pub async fn start_in_process(&mut self) {
        let pipeline = Pipeline::start(
            PipelineConfig {
                common: self.env.config.clone(),
                sources: Sources::of(&self.sims, self.years.clone()),
                poll: Duration::from_secs(1),
                as_of: Some(self.params.as_of),
                reconciler_http: Some("127.0.0.1:0".parse().expect("addr")),
                indicators_http: None,
                debounce: Duration::from_millis(300),
                service_token: Some(self.service_token.clone()),
                plan_dirs: Vec::new(),
            },
            self.stop.clone(),
        )
        .await
        .expect("pipeline starts");
        self.reconciler_http = pipeline
            .reconciler
            .http_addr
            .expect("the reconciler listens");
        self.services = Some(Services::InProcess(pipeline));
    }

    pub fn sources(&self) -> Sources {
        Sources::of(&self.sims, self.years.clone())
    }

    /// Rows the reconciler has observed so far (None while the database is unreachable).
    pub async fn observations(&self) -> Option<i64> {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM reconciler.observations")
            .fetch_one(&self.pool)
            .await
            .ok()
    }

    /// Waits until the reconciler observed at least `n` source records: the pipeline is
    /// mid-flight.
    pub async fn wait_observations(&self, n: i64) -> i64 {
        hub_test_support::eventually(
            &format!("the reconciler to observe {n} records"),
            Duration::from_secs(60),
            || async { self.observations().await.filter(|c| *c >= n) },
        )
        .await
    }

    /// Publishes `msgs` to `coophub.source`, with confirms, retrying through broker hiccups.
    pub async fn publish(&self, msgs: &[OutgoingMessage]) {
        let publisher = Publisher::new(self.env.broker("e2e-faults-publisher"));
        for chunk in msgs.chunks(200) {
            let until = Instant::now() + Duration::from_secs(30);
            loop {
                match publisher.publish_batch(chunk).await {
                    Ok(()) => break,
                    Err(e) => {
                        assert!(
                            Instant::now() < until,
                            "cannot publish to coophub.source: {e}"
                        );
                        // a reconnect is in progress: ask again on the next broker round trip
                        tokio::task::yield_now().await;
                    }
                }
            }
        }
        publisher.broker().close().await;
    }

    async fn depth(&self, ch: &lapin::Channel, full: &str) -> Result<u32, String> {
        ch.queue_declare(
            full.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .map(|q| q.message_count())
        .map_err(|e| format!("{full}: {e}"))
    }

    /// Depths of the services' queues and their retry queues: all 0 when nothing is left
    /// unacked or waiting.
    pub async fn queue_depths(&self) -> Result<BTreeMap<String, u32>, String> {
        let broker = self.env.broker("e2e-faults-depth");
        let t = self.env.topology();
        let ch = broker.channel().await.map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        let mut names = vec![
            t.name(RECONCILER_QUEUE),
            t.name(INDICATORS_QUEUE),
            t.name(INBOUND_QUEUE),
            t.name(&self.agency.name),
        ];
        for q in [RECONCILER_QUEUE, INDICATORS_QUEUE] {
            for d in self.env.retry_policy().delays() {
                names.push(t.retry_queue(q, d));
            }
        }
        let mut result = Ok(());
        for n in names {
            match self.depth(&ch, &n).await {
                Ok(c) => {
                    out.insert(n, c);
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        let _ = ch.close(200, "done".into()).await;
        broker.close().await;
        result.map(|()| out)
    }

    /// Message ids in the reconciler's and the indicators' dead-letter queues.
    pub async fn dead_letters(&self) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
        let broker = self.env.broker("e2e-faults-dlq");
        let mut out = BTreeMap::new();
        for q in [RECONCILER_QUEUE, INDICATORS_QUEUE] {
            let list = DeadLetters::new(broker.clone(), q)
                .list(1000)
                .await
                .map_err(|e| format!("{q}.dlq: {e}"))?;
            out.insert(
                q.to_owned(),
                list.into_iter()
                    .map(|d| d.message_id.unwrap_or_else(|| "<no id>".into()))
                    .collect(),
            );
        }
        broker.close().await;
        Ok(out)
    }

    /// The reconciler's `GET /api/v1/status`.
    pub async fn reconciler_status(&self) -> Result<serde_json::Value, String> {
        let url = format!("http://{}/api/v1/status", self.reconciler_http);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        resp.json().await.map_err(|e| format!("GET {url}: {e}"))
    }

    /// Every live golden record, through the reconciler's HTTP API (paginated).
    pub async fn golden_records(&self) -> Result<Vec<GoldenRecord>, String> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "http://{}/api/v1/cooperatives?limit=100",
                self.reconciler_http
            );
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let resp = self
                .http
                .get(&url)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !resp.status().is_success() {
                return Err(format!("GET {url}: {}", resp.status()));
            }
            let page: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
            let items: Vec<GoldenRecord> =
                serde_json::from_value(page["items"].clone()).map_err(|e| e.to_string())?;
            out.extend(items);
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return Ok(out),
            }
        }
    }

    pub async fn projection(&self) -> Result<BTreeMap<String, i64>, String> {
        let mut out = BTreeMap::new();
        for (name, sql) in [
            (
                "indicators.golden_records (live)",
                "SELECT count(*) FROM indicators.golden_records WHERE NOT retired",
            ),
            ("indicators.loans", "SELECT count(*) FROM indicators.loans"),
            (
                "indicators.ntm_revisions",
                "SELECT count(*) FROM indicators.ntm_revisions",
            ),
            (
                "indicators.registry_records",
                "SELECT count(*) FROM indicators.registry_records",
            ),
            (
                "reconciler.observations",
                "SELECT count(*) FROM reconciler.observations",
            ),
        ] {
            let n = sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&self.pool)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            out.insert(name.to_owned(), n);
        }
        Ok(out)
    }

    /// The latest snapshot received on the agency queue, waiting up to `wait` for a new one.
    async fn next_snapshot(&mut self, wait: Duration) {
        // the truth is per the 2024 unit list; snapshots over other lists are published too
        if let Ok(Some(s)) = tokio::time::timeout(wait, self.snapshots.recv()).await
            && s.unit_list == "2024"
        {
            self.latest = Some(s);
        }
        while let Ok(s) = self.snapshots.try_recv() {
            if s.unit_list == "2024" {
                self.latest = Some(s);
            }
        }
    }

    /// The current end state, or why it is not reached yet: the published snapshot equals
    /// the truth and every service queue is empty.
    pub async fn observe(&mut self) -> Result<EndState, String> {
        let r = match tokio::time::timeout(Duration::from_secs(15), self.observe_once()).await {
            Ok(r) => r,
            Err(_) => Err("observing the end state took over 15 s".into()),
        };
        if let Err(why) = &r
            && self.last_progress.elapsed() >= Duration::from_secs(5)
        {
            self.last_progress = Instant::now();
            eprintln!(
                "  … not there yet: {}",
                why.chars().take(600).collect::<String>()
            );
        }
        r
    }

    async fn observe_once(&mut self) -> Result<EndState, String> {
        self.next_snapshot(Duration::from_millis(250)).await;
        let snapshot = self.latest.as_ref().ok_or("no snapshot yet")?;
        let diff = self.truth.differences(snapshot);
        if snapshot.unit_list != "2024" || !diff.is_empty() {
            return Err(format!(
                "snapshot v{} differs from the truth: {}",
                snapshot.version,
                diff.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ));
        }
        let content_hash = content_hash(snapshot);
        let content = content(snapshot);
        let depths = self.queue_depths().await?;
        if depths.values().any(|d| *d > 0) {
            return Err(format!(
                "messages left in queues: {:?}",
                depths.iter().filter(|(_, d)| **d > 0).collect::<Vec<_>>()
            ));
        }
        let status = self.reconciler_status().await?;
        if status["settled"] != serde_json::Value::Bool(true) {
            return Err(format!("the reconciler has not settled yet: {status}"));
        }
        let records = self.golden_records().await?;
        let golden = records
            .iter()
            .map(|g| {
                let refs: BTreeSet<String> = g
                    .source_refs
                    .iter()
                    .map(|r| format!("{}:{}", r.system, r.id))
                    .collect();
                let mut v = serde_json::to_value(g).unwrap_or_default();
                if let Some(m) = v.as_object_mut() {
                    for k in ["organisation_id", "version", "merged_into", "updated_at"] {
                        m.remove(k);
                    }
                }
                (refs, v)
            })
            .collect();
        let partition = records
            .iter()
            .map(|g| {
                g.source_refs
                    .iter()
                    .map(|r| format!("{}:{}", r.system, r.id))
                    .collect::<BTreeSet<_>>()
            })
            .collect();
        let golden_versions = records.iter().map(|g| g.version).sum();
        Ok(EndState {
            partition,
            golden,
            content_hash,
            content,
            projection: self.projection().await?,
            golden_versions,
            dead_letters: self.dead_letters().await?,
        })
    }

    /// Waits until the end state is stable: the same over two observations at least
    /// `stable_for` apart (longer than an adapter's poll, so a sync in flight shows).
    pub async fn settle(&mut self, deadline: Duration, stable_for: Duration) -> EndState {
        let until = Instant::now() + deadline;
        let mut last: Option<(EndState, Instant)> = None;
        let mut why = String::from("nothing observed");
        loop {
            match self.observe().await {
                Ok(s) => match &last {
                    Some((prev, at)) if *prev == s => {
                        why = format!("stable for {:?}", at.elapsed());
                        if at.elapsed() >= stable_for {
                            return s;
                        }
                    }
                    _ => last = Some((s, Instant::now())),
                },
                Err(e) => {
                    why = e;
                    last = None;
                }
            }
            assert!(
                Instant::now() < until,
                "the fault-free run did not settle within {deadline:?}: {why}"
            );
        }
    }

    /// Waits until the end state equals `golden`; returns the time it took from `since` and
    /// the end state reached, or the last state and why it differed at the deadline.
    pub async fn reach(
        &mut self,
        golden: &EndState,
        since: Instant,
        deadline: Duration,
    ) -> Result<(Duration, EndState), (Option<EndState>, String)> {
        let until = Instant::now() + deadline;
        let mut last = None;
        let mut settled: Option<(EndState, Instant)> = None;
        loop {
            let why = match self.observe().await {
                Ok(s) if s == *golden => return Ok((since.elapsed(), s)),
                Ok(s) => {
                    let why = s.differences(golden).join("\n");
                    if self.last_progress.elapsed() >= Duration::from_secs(5) {
                        self.last_progress = Instant::now();
                        eprintln!("  … differs: {}", why.chars().take(600).collect::<String>());
                    }
                    // every queue drained and the same different state for SETTLED_DIFFERENT:
                    // nothing more will come (adapters poll every second and find no change)
                    match &settled {
                        Some((prev, at)) if *prev == s => {
                            if at.elapsed() >= SETTLED_DIFFERENT {
                                return Err((Some(s), format!("settled different: {why}")));
                            }
                        }
                        _ => settled = Some((s.clone(), Instant::now())),
                    }
                    last = Some(s);
                    why
                }
                Err(e) => {
                    settled = None;
                    e
                }
            };
            if Instant::now() >= until {
                return Err((last, why));
            }
        }
    }

    /// Stops the services (in-process ones; external ones are the caller's), the simulators,
    /// and deletes the queues and the database.
    pub async fn finish(mut self) -> Vec<String> {
        let mut errors = Vec::new();
        if let Some(Services::InProcess(p)) = self.services.take() {
            errors = p.stop().await;
        }
        self.stop.cancel();
        self.sims.shutdown().await;
        self.pool.close().await;
        self.env
            .delete_queues(&[self.agency.clone(), self.capture_spec.clone()])
            .await;
        self.env.drop_database().await;
        errors
    }
}

/// The snapshot's content hash without the sources' fetch times: the published
/// `content_hash` covers `provenance.sources[].last_sync` (wall-clock fetch times), so two
/// runs over the same world never share it; everything else (plan, as-of, unit list, every
/// unit's values, record counts, review counts) must be equal.
pub fn content_hash(snapshot: &IndicatorSnapshot) -> String {
    hub_contracts::content_hash(&content(snapshot))
}

/// The snapshot without its id, version, computation time, hash and fetch times.
pub fn content(snapshot: &IndicatorSnapshot) -> serde_json::Value {
    let mut v = serde_json::to_value(snapshot).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        for k in ["snapshot_id", "computed_at", "version", "content_hash"] {
            map.remove(k);
        }
    }
    if let Some(sources) = v
        .pointer_mut("/provenance/sources")
        .and_then(|s| s.as_array_mut())
    {
        for s in sources {
            if let Some(s) = s.as_object_mut() {
                s.remove("last_sync");
            }
        }
    }
    v
}

/// Records a scenario's outcome as a report row.
pub fn row(
    fault: &str,
    outcome: Result<(Duration, EndState), (Option<EndState>, String)>,
    golden: &EndState,
    note: String,
) -> Row {
    match outcome {
        Ok((t, s)) => {
            let (lost, doubled) = s.lost_and_doubled(golden);
            Row {
                // reached means equal to the fault-free end state
                fault: fault.into(),
                survived: lost == 0 && doubled == 0,
                lost,
                doubled,
                recovery: t,
                note,
            }
        }
        Err((last, why)) => {
            // u64::MAX: the end state was never even observed (queues never drained)
            let (lost, doubled) = last
                .as_ref()
                .map(|s| s.lost_and_doubled(golden))
                .unwrap_or((u64::MAX, 0));
            Row {
                fault: fault.into(),
                survived: false,
                lost,
                doubled,
                recovery: RECOVERY_DEADLINE,
                note: format!("{note}; NOT REACHED: {}", why.replace('\n', " | ")),
            }
        }
    }
}

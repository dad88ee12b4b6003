//! # hub-inbound: push as well as pull
//!
//! An agency system that would rather push than be polled publishes source-record contracts
//! (`source.cooperative.v1`, `source.disbursement.v1`, `source.ntm_report.v1`) to the
//! `coophub.inbound` exchange under its own RabbitMQ user. Each agency's pushes have a queue
//! of their own, `inbound.source.<agency user>` ([`agency_queue_specs`]), bound with the
//! contract types the agency is entitled to (a type belongs to one agency) and bounded on its
//! own (`INBOUND_QUEUE_MAX_MESSAGES`, `INBOUND_QUEUE_MAX_BYTES`, reject-publish): an agency
//! that floods fills only its own queue, the broker refuses only its pushes, and each queue
//! has its own consumer, so the others' pushes are neither refused nor kept waiting behind
//! the flood. The former shared queue `inbound.source` is still consumed (what it holds
//! from before is decided as ever; nothing routes to it any more: its `source.#` binding is
//! removed at start). For each message:
//!
//! 1. the runtime's consumer refuses a body larger than `INBOUND_MAX_MESSAGE_BYTES` before
//!    parsing it (`too-large`), then checks the CloudEvents envelope and that the type is one
//!    of the three (anything else is dead-lettered by the runtime with its reason);
//! 2. **who sent it**: the publisher is the AMQP `user_id` the broker validated (RabbitMQ
//!    refuses a `user_id` other than the connection's user), or, on the hub's own retry and
//!    replay copies, the original publisher they carry ([`hub_runtime::messaging::consumer`]).
//!    [`entitlements::Entitlements`] (data: `deploy/inbound/entitlements.toml` or
//!    `INBOUND_ENTITLEMENTS_FILE`) must grant that user the record's system
//!    (`data.meta.source.system`) and its contract type, and the envelope's own producer
//!    (`source`) must be `urn:agency:<that system>`; a message without a publisher, from an
//!    unknown user, for another agency's system, of a type not granted or whose producer
//!    names another system is dead-lettered with that reason (`not entitled: …`) and
//!    forwarded nowhere;
//! 3. [`Validators`] checks `data` against the committed JSON Schema of its type
//!    (`contracts/schemas/*.schema.json`, embedded at build time, formats checked), and the
//!    payload is decoded into its Rust type; `meta.content_hash` must be the hash of
//!    `meta.raw` (consumers deduplicate on it);
//! 4. a message that passes is republished unchanged (same id, same payload) to
//!    `coophub.source` with a publisher confirm (header `x-hub-pushed-by`: the agency user),
//!    so it is treated exactly like an adapter's output; one that fails is dead-lettered
//!    (`HandlerError::Permanent`) with the schema error's instance path and message, to its
//!    queue's `.dlq` (`inbound.source.<agency>.dlq`);
//! 5. the decision is appended to the per-agency, hash-chained [`exchange_log`] (schema
//!    `inbound`): a forwarded push once the broker confirmed it, a refused one before it is
//!    dead-lettered. When the log cannot be written the message is retried (transient), so
//!    no push is forwarded or refused unrecorded for long; a push is recorded once per
//!    agency and message id, so a redelivery adds nothing. Bodies the runtime refuses before
//!    this handler (too large, not an envelope, an unknown type) are not in the log: they
//!    are in the dead-letter queue with their reason.
//!
//! Idempotent: a redelivered message is republished under the same id, which consumers'
//! inboxes drop, and is not logged twice.
//!
//! ## Configuration
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `INBOUND_CONCURRENCY` | messages validated at once | 4 |
//! | `INBOUND_ENTITLEMENTS_FILE` | who may push what (TOML) | the committed `deploy/inbound/entitlements.toml` |
//! | `INBOUND_MAX_MESSAGE_BYTES` | largest pushed message taken (bytes) | 262144 |
//! | `INBOUND_QUEUE_MAX_MESSAGES` | most messages one agency's queue holds (fixed when the queue is created) | 100000 |
//! | `INBOUND_QUEUE_MAX_BYTES` | most bytes one agency's queue holds (likewise) | 536870912 |
//! | `SERVICE_TOKENS` | bearer tokens accepted by the API (the exchange log, [`http`]); required with `HTTP_ADDR` | none |
//!
//! plus the runtime's (`AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, `PREFETCH`,
//! `RETRY_*`, `DELIVERY_LIMIT`).
//!
//! Besides, [`DeliveryRecorder`] logs every event published on an exchange an agency reads
//! (`inbound.delivered`) in that agency's chain as delivered.
//!
//! This service may not change a record (it forwards or rejects), and publishes nowhere but
//! `coophub.source`.

pub mod entitlements;
pub mod exchange_log;
pub mod http;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hub_contracts::registry::{Contract, exchanges, find_contract, is_source_record};
use hub_contracts::v1::{LoanDisbursement, NtmCommuneReport, RegistryCooperative};
use hub_contracts::{RawEnvelope, content_hash};
use hub_runtime::messaging::{
    BatchConsumer, BatchHandler, Consumer, HandlerError, Incoming, OutgoingMessage, Publisher,
    QueueSpec,
};
use hub_runtime::service::{ServiceContext, ServiceError};
use hub_runtime::service_auth::ServiceTokens;
use hub_runtime::{CommonConfig, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::entitlements::{Entitlements, EntitlementsError};
use crate::exchange_log::{ExchangeLog, NO_PUBLISHER, Outcome, Push};

/// The former shared queue of every agency's pushes (base name), still consumed so that what
/// it holds is decided; nothing is routed to it any more (see [`agency_queue`]). Its dead
/// letters are in `inbound.source.dlq`, as before.
pub const QUEUE: &str = "inbound.source";
/// The queue of events published to agencies, logged as delivered ([`DeliveryRecorder`]).
pub const DELIVERED_QUEUE: &str = "inbound.delivered";
/// Header added to a forwarded message: where it came in.
pub const H_VIA: &str = "x-hub-via";
/// Header added to a forwarded message: the agency user that pushed it (broker-verified).
pub const H_PUSHED_BY: &str = "x-hub-pushed-by";
/// Most messages an agency's queue holds by default; beyond it the broker refuses (nacks)
/// the agency's push.
pub const QUEUE_MAX_LENGTH: i64 = 100_000;
/// Most bytes of message bodies an agency's queue holds by default (same overflow).
pub const QUEUE_MAX_BYTES: i64 = 512 * 1024 * 1024;

/// The queue of one agency user's pushes (base name): `inbound.source.<user>`.
pub fn agency_queue(agency: &str) -> String {
    format!("{QUEUE}.{agency}")
}

/// The committed schemas of the source-record contracts, by type.
const SCHEMAS: [(&str, &str); 3] = [
    (
        RegistryCooperative::TYPE,
        include_str!("../../../contracts/schemas/source.cooperative.v1.schema.json"),
    ),
    (
        LoanDisbursement::TYPE,
        include_str!("../../../contracts/schemas/source.disbursement.v1.schema.json"),
    ),
    (
        NtmCommuneReport::TYPE,
        include_str!("../../../contracts/schemas/source.ntm_report.v1.schema.json"),
    ),
];

/// The service's migrations (schema `inbound`: the exchange log).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The service's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The runtime's settings (loaded separately, see [`Config::from_env`]).
    #[serde(skip)]
    pub common: CommonConfig,
    /// `INBOUND_CONCURRENCY`.
    pub inbound_concurrency: usize,
    /// `INBOUND_ENTITLEMENTS_FILE`: who may push what; `None` takes the committed default.
    pub inbound_entitlements_file: Option<PathBuf>,
    /// `INBOUND_MAX_MESSAGE_BYTES`: a larger pushed message is dead-lettered unparsed.
    pub inbound_max_message_bytes: usize,
    /// `SERVICE_TOKENS`: who may read the exchange log over HTTP (required with `HTTP_ADDR`).
    pub service_tokens: ServiceTokens,
    /// `INBOUND_QUEUE_MAX_MESSAGES`: the bound of each agency's queue, in messages.
    pub inbound_queue_max_messages: i64,
    /// `INBOUND_QUEUE_MAX_BYTES`: the bound of each agency's queue, in bytes of bodies.
    pub inbound_queue_max_bytes: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            inbound_concurrency: 4,
            inbound_entitlements_file: None,
            inbound_max_message_bytes: 256 * 1024,
            service_tokens: ServiceTokens::default(),
            inbound_queue_max_messages: QUEUE_MAX_LENGTH,
            inbound_queue_max_bytes: QUEUE_MAX_BYTES,
        }
    }
}

impl Config {
    /// Loads and validates the service's and the runtime's settings.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut c: Config = hub_runtime::config::load()?;
        c.common = hub_runtime::config::load_common()?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.inbound_concurrency == 0 {
            return Err(ConfigError::invalid(
                "INBOUND_CONCURRENCY",
                "expected at least 1",
            ));
        }
        if self.inbound_max_message_bytes < 1024 {
            return Err(ConfigError::invalid(
                "INBOUND_MAX_MESSAGE_BYTES",
                "expected at least 1024",
            ));
        }
        if self.inbound_queue_max_messages < 1 {
            return Err(ConfigError::invalid(
                "INBOUND_QUEUE_MAX_MESSAGES",
                "expected at least 1",
            ));
        }
        if self.inbound_queue_max_bytes < 1024 {
            return Err(ConfigError::invalid(
                "INBOUND_QUEUE_MAX_BYTES",
                "expected at least 1024",
            ));
        }
        self.service_tokens
            .validate(self.common.http_addr.is_some())?;
        self.common.validate()
    }

    /// The entitlements this configuration names.
    pub fn entitlements(&self) -> Result<Entitlements, EntitlementsError> {
        match &self.inbound_entitlements_file {
            Some(path) => Entitlements::load(path),
            None => Entitlements::builtin(),
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the committed schema of {ty} does not compile: {message}")]
    Schema { ty: String, message: String },
    #[error(transparent)]
    Messaging(#[from] hub_runtime::messaging::MessagingError),
    #[error(transparent)]
    Entitlements(#[from] EntitlementsError),
    #[error("inbound task: {0}")]
    Task(String),
}

/// One compiled validator per source-record contract.
pub struct Validators {
    by_type: HashMap<&'static str, jsonschema::Validator>,
}

impl Validators {
    /// Compiles the embedded schemas (draft 2020-12, formats checked).
    pub fn load() -> Result<Self, InboundError> {
        let mut by_type = HashMap::new();
        for (ty, text) in SCHEMAS {
            let err = |message: String| InboundError::Schema {
                ty: ty.to_owned(),
                message,
            };
            let schema: Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
            let validator = jsonschema::draft202012::options()
                .should_validate_formats(true)
                .build(&schema)
                .map_err(|e| err(e.to_string()))?;
            by_type.insert(ty, validator);
        }
        Ok(Self { by_type })
    }

    /// Checks `data` against the schema of `ty`; the error lists each failure as
    /// `<instance path>: <message>` (at most five).
    pub fn validate(&self, ty: &str, data: &Value) -> Result<(), String> {
        let Some(v) = self.by_type.get(ty) else {
            return Err(format!("{ty} is not a source-record contract"));
        };
        let errors: Vec<String> = v
            .iter_errors(data)
            .take(5)
            .map(|e| {
                let path = e.instance_path.as_str();
                let path = if path.is_empty() { "/" } else { path };
                format!("{path}: {e}")
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "data does not match the schema of {ty}: {}",
                errors.join("; ")
            ))
        }
    }
}

/// Checks who pushed a message and what it says, and forwards it to `coophub.source`.
pub struct Forwarder {
    validators: Arc<Validators>,
    entitlements: Arc<Entitlements>,
    publisher: Arc<Publisher>,
    log: ExchangeLog,
}

impl Forwarder {
    pub fn new(
        validators: Arc<Validators>,
        entitlements: Arc<Entitlements>,
        publisher: Arc<Publisher>,
        log: ExchangeLog,
    ) -> Self {
        Self {
            validators,
            entitlements,
            publisher,
            log,
        }
    }

    /// Appends the decision on `env` to its agency's chain; a failure is transient (the
    /// message comes back and is decided, and recorded, again).
    async fn record(
        &self,
        publisher: Option<&str>,
        env: &RawEnvelope,
        outcome: Outcome,
    ) -> Result<(), HandlerError> {
        let body_sha256 = content_hash(&env.data);
        let push = Push {
            agency: publisher.unwrap_or(NO_PUBLISHER),
            message_id: &env.id,
            contract_type: &env.ty,
            body_sha256: &body_sha256,
            outcome,
        };
        match self.log.record(&push).await {
            Ok(added) => {
                if !added {
                    tracing::debug!(id = %env.id, "push already in the exchange log");
                }
                Ok(())
            }
            Err(e) => {
                tracing::warn!(id = %env.id, error = %e, "could not write the exchange log");
                Err(HandlerError::transient(format!("exchange log: {e}")))
            }
        }
    }

    /// Checks the message pushed by `publisher` (the broker-verified user); `Permanent`
    /// (dead-lettered with the reason) when it fails. Who sent it is checked first: a push
    /// its publisher is not entitled to is refused for that, whatever else is wrong with it.
    pub fn check(&self, publisher: Option<&str>, env: &RawEnvelope) -> Result<(), HandlerError> {
        if !is_source_record(&env.ty) {
            return Err(HandlerError::permanent(format!(
                "coophub.inbound takes source.* contracts only, not {}",
                env.ty
            )));
        }
        let system = env
            .data
            .pointer("/meta/source/system")
            .and_then(Value::as_str);
        self.entitlements
            .check(publisher, &env.ty, system, &env.source)
            .map_err(HandlerError::permanent)?;
        self.validators
            .validate(&env.ty, &env.data)
            .map_err(HandlerError::Permanent)?;
        let decoded = match env.ty.as_str() {
            RegistryCooperative::TYPE => env.clone().decode::<RegistryCooperative>().map(|_| ()),
            LoanDisbursement::TYPE => env.clone().decode::<LoanDisbursement>().map(|_| ()),
            NtmCommuneReport::TYPE => env.clone().decode::<NtmCommuneReport>().map(|_| ()),
            other => {
                return Err(HandlerError::permanent(format!(
                    "{other} is not a source-record contract"
                )));
            }
        };
        decoded.map_err(HandlerError::permanent)?;
        let meta = &env.data["meta"];
        let claimed = meta["content_hash"].as_str().unwrap_or_default();
        let actual = content_hash(&meta["raw"]);
        if claimed != actual {
            return Err(HandlerError::permanent(format!(
                "/meta/content_hash: {claimed:?} is not the SHA-256 of meta.raw's canonical JSON ({actual})"
            )));
        }
        Ok(())
    }

    pub async fn handle(&self, msg: Incoming) -> Result<(), HandlerError> {
        let env = msg.envelope;
        let publisher = msg.origin_user;
        if let Err(e) = self.check(publisher.as_deref(), &env) {
            tracing::warn!(id = %env.id, ty = %env.ty, source = %env.source,
                publisher = publisher.as_deref().unwrap_or("-"), error = %e,
                "pushed record rejected");
            let reason = match &e {
                HandlerError::Permanent(r) | HandlerError::Transient(r) => r.clone(),
            };
            self.record(publisher.as_deref(), &env, Outcome::Refused(reason))
                .await?;
            return Err(e);
        }
        let body = serde_json::to_vec(&env).map_err(HandlerError::permanent)?;
        let mut headers = BTreeMap::new();
        headers.insert(H_VIA.to_owned(), exchanges::INBOUND.to_owned());
        if let Some(p) = &publisher {
            headers.insert(H_PUSHED_BY.to_owned(), p.clone());
        }
        let out = OutgoingMessage {
            exchange: exchanges::SOURCE.to_owned(),
            routing_key: env.ty.clone(),
            message_id: env.id.clone(),
            contract_type: env.ty.clone(),
            body,
            headers,
        };
        self.publisher
            .publish(&out)
            .await
            .map_err(HandlerError::transient)?;
        self.record(publisher.as_deref(), &env, Outcome::Forwarded)
            .await?;
        tracing::debug!(id = %env.id, ty = %env.ty, "pushed record forwarded");
        Ok(())
    }
}

/// Records, in the exchange log, every event published on an exchange agencies read, once
/// per agency that reads it ([`exchange_log::Outcome::Delivered`]): what the hub offered each
/// agency, which the agency checks against what it received.
pub struct DeliveryRecorder {
    entitlements: Arc<Entitlements>,
    log: ExchangeLog,
}

impl DeliveryRecorder {
    pub fn new(entitlements: Arc<Entitlements>, log: ExchangeLog) -> Self {
        Self { entitlements, log }
    }
}

impl BatchHandler for DeliveryRecorder {
    async fn handle_batch(
        &self,
        msgs: &[Incoming],
    ) -> Result<Vec<Result<(), HandlerError>>, HandlerError> {
        let hashes: Vec<String> = msgs
            .iter()
            .map(|m| content_hash(&m.envelope.data))
            .collect();
        let mut rows = Vec::new();
        let mut results = Vec::with_capacity(msgs.len());
        for (m, hash) in msgs.iter().zip(&hashes) {
            let env = &m.envelope;
            let Some(contract) = find_contract(&env.ty) else {
                results.push(Err(HandlerError::permanent(format!(
                    "{} is not a contract this hub knows",
                    env.ty
                ))));
                continue;
            };
            for agency in self.entitlements.readers_of(contract.exchange) {
                rows.push(Push {
                    agency,
                    message_id: &env.id,
                    contract_type: &env.ty,
                    body_sha256: hash,
                    outcome: Outcome::Delivered,
                });
            }
            results.push(Ok(()));
        }
        let added = self.log.record_many(&rows).await.map_err(|e| {
            tracing::warn!(error = %e, "could not write the exchange log (deliveries)");
            HandlerError::transient(format!("exchange log: {e}"))
        })?;
        tracing::debug!(events = msgs.len(), rows = added, "deliveries logged");
        Ok(results)
    }
}

/// The queue of the events delivered to agencies: `inbound.delivered`, bound with `#` to each
/// exchange some agency reads (so it sees every event an agency's own queue could be bound
/// for); `None` when no agency reads any.
pub fn delivered_queue_spec(entitlements: &Entitlements, delivery_limit: u32) -> Option<QueueSpec> {
    let mut spec = QueueSpec::new(DELIVERED_QUEUE).delivery_limit(delivery_limit);
    for exchange in entitlements::READABLE_EXCHANGES {
        if !entitlements.readers_of(exchange).is_empty() {
            spec = spec.bind(exchange, "#");
        }
    }
    (!spec.bindings.is_empty()).then_some(spec)
}

/// The former shared queue `inbound.source`, bounded as it was created; bound to nothing
/// but the requeue exchange (retries and replays of what it held come back to it).
pub fn queue_spec(delivery_limit: u32) -> QueueSpec {
    QueueSpec::new(QUEUE)
        .delivery_limit(delivery_limit)
        .max_length(QUEUE_MAX_LENGTH, QUEUE_MAX_BYTES)
}

/// One queue per agency user, `inbound.source.<user>`, bound to `coophub.inbound` with the
/// contract types the user may push, at most `max_messages` messages and `max_bytes` bytes
/// (outsiders fill it: a push beyond either is refused to its publisher, never kept).
pub fn agency_queue_specs(
    entitlements: &Entitlements,
    delivery_limit: u32,
    max_messages: i64,
    max_bytes: i64,
) -> Vec<QueueSpec> {
    entitlements
        .agencies
        .iter()
        .map(|(user, grant)| {
            let mut spec = QueueSpec::new(agency_queue(user))
                .delivery_limit(delivery_limit)
                .max_length(max_messages, max_bytes);
            for ty in &grant.types {
                spec = spec.bind(exchanges::INBOUND, ty);
            }
            spec
        })
        .collect()
}

/// Every queue the service consumes (the former shared one, each agency's, the deliveries'),
/// for set-up and teardown by whoever runs it in process.
pub fn queue_specs(config: &Config) -> Result<Vec<QueueSpec>, EntitlementsError> {
    let entitlements = config.entitlements()?;
    let dl = config.common.delivery_limit;
    let mut specs = vec![queue_spec(dl)];
    specs.extend(agency_queue_specs(
        &entitlements,
        dl,
        config.inbound_queue_max_messages,
        config.inbound_queue_max_bytes,
    ));
    specs.extend(delivered_queue_spec(&entitlements, dl));
    Ok(specs)
}

/// Removes the binding that routed every push to the former shared queue (idempotent: a
/// binding that is not there is no error), so that pushes reach only their agency's queue.
async fn unbind_shared_queue(ctx: &ServiceContext) -> Result<(), InboundError> {
    let t = ctx.broker.topology().clone();
    let ch = ctx.broker.channel().await?;
    let r = ch
        .queue_unbind(
            t.name(QUEUE).as_str().into(),
            t.name(exchanges::INBOUND).as_str().into(),
            "source.#".into(),
            Default::default(),
        )
        .await;
    let _ = ch.close(200, "done".into()).await;
    match r {
        Ok(()) => Ok(()),
        // the queue or exchange does not exist yet: nothing is bound
        Err(e) if e.to_string().contains("NOT_FOUND") => Ok(()),
        Err(e) => Err(InboundError::Messaging(e.into())),
    }
}

/// A started service.
pub struct Running {
    /// Where the HTTP API listens (when `HTTP_ADDR` is set).
    pub http_addr: Option<SocketAddr>,
    task: tokio::task::JoinHandle<Result<(), InboundError>>,
}

impl Running {
    /// Waits until the service stopped (after `shutdown` was cancelled, or a failure).
    pub async fn wait(self) -> Result<(), InboundError> {
        self.task
            .await
            .map_err(|e| InboundError::Task(e.to_string()))?
    }
}

/// Runs the service until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), InboundError> {
    start(config, shutdown).await?.wait().await
}

/// Starts the service: database (migrations), HTTP API, and the consumers of the pushes and
/// of the deliveries; returns once the API serves.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, InboundError> {
    config.validate()?;
    let validators = Arc::new(Validators::load()?);
    let entitlements = Arc::new(config.entitlements()?);
    let relays = entitlements.relays.clone();
    let common = config.common.clone();
    let ctx = ServiceContext::start(
        "inbound",
        common.clone(),
        "inbound",
        Some(&MIGRATOR),
        shutdown.clone(),
    )
    .await?;
    let log = ExchangeLog::new(ctx.db.pool.clone());
    let api = hub_runtime::service_auth::require_service_credential(
        http::router(log.clone()),
        config.service_tokens.clone(),
    );
    let http_addr = ctx.serve_http(api).await?;
    let forwarder = Arc::new(Forwarder::new(
        validators,
        entitlements.clone(),
        ctx.publisher.clone(),
        log.clone(),
    ));
    let deliveries = delivered_queue_spec(&entitlements, common.delivery_limit).map(|spec| {
        BatchConsumer::new(
            ctx.broker.clone(),
            spec,
            DeliveryRecorder::new(entitlements.clone(), log.clone()),
        )
        .retry(common.retry_policy())
        .prefetch(common.prefetch)
    });
    let types = [
        RegistryCooperative::TYPE,
        LoanDisbursement::TYPE,
        NtmCommuneReport::TYPE,
    ];
    let mut push_queues = vec![queue_spec(common.delivery_limit)];
    push_queues.extend(agency_queue_specs(
        &entitlements,
        common.delivery_limit,
        config.inbound_queue_max_messages,
        config.inbound_queue_max_bytes,
    ));
    unbind_shared_queue(&ctx).await?;
    let mut consumers = Vec::new();
    for spec in push_queues {
        let forwarder = forwarder.clone();
        let consumer = Consumer::new(ctx.broker.clone(), spec, move |m: Incoming| {
            let f = forwarder.clone();
            async move { f.handle(m).await }
        })
        .retry(common.retry_policy())
        .prefetch(common.prefetch)
        .concurrency(config.inbound_concurrency)
        .accepts(&types)
        .relays(&relays)
        .max_body_bytes(config.inbound_max_message_bytes);
        consumers.push(consumer.run(shutdown.clone()));
    }
    tracing::info!(
        agencies = entitlements.agencies.len(),
        max_message_bytes = config.inbound_max_message_bytes,
        queue_max_messages = config.inbound_queue_max_messages,
        "inbound: checking and validating pushed source records, one queue per agency"
    );
    let task = tokio::spawn(async move {
        let pushes = futures::future::try_join_all(consumers);
        match deliveries {
            Some(d) => {
                // any consumer failing stops them all
                tokio::try_join!(pushes, d.run(shutdown.clone()))?;
            }
            None => {
                pushes.await?;
            }
        }
        ctx.broker.close().await;
        Ok(())
    });
    Ok(Running { http_addr, task })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_agency_has_its_own_bounded_queue_of_its_own_types() {
        let e = Entitlements::builtin().expect("the committed file");
        let specs = agency_queue_specs(&e, 7, 5, 4096);
        type Bindings = Vec<(String, String)>;
        let got: Vec<(String, Bindings, Option<i64>)> = specs
            .iter()
            .map(|s| (s.name.clone(), s.bindings.clone(), s.max_length))
            .collect();
        let bind = |ty: &str| vec![(exchanges::INBOUND.to_owned(), ty.to_owned())];
        assert_eq!(
            got,
            vec![
                (
                    "inbound.source.agency-coop-alliance".to_owned(),
                    bind("source.cooperative.v1"),
                    Some(5)
                ),
                (
                    "inbound.source.agency-loan-fund".to_owned(),
                    bind("source.disbursement.v1"),
                    Some(5)
                ),
                (
                    "inbound.source.agency-ntm".to_owned(),
                    bind("source.ntm_report.v1"),
                    Some(5)
                ),
            ]
        );
        assert!(specs.iter().all(|s| s.max_length_bytes == Some(4096)));
        assert!(
            queue_spec(7).bindings.is_empty(),
            "nothing routes to the former shared queue"
        );
        let delivered = delivered_queue_spec(&e, 7).expect("agencies read");
        assert_eq!(
            delivered.bindings,
            vec![
                (exchanges::IDENTITY.to_owned(), "#".to_owned()),
                (exchanges::INDICATOR.to_owned(), "#".to_owned()),
            ]
        );
        let none = Entitlements::parse(
            "[agencies.a]\nsystems = [\"x\"]\ntypes = [\"source.cooperative.v1\"]\n",
            "x.toml",
        )
        .expect("valid");
        assert!(delivered_queue_spec(&none, 7).is_none(), "nobody reads");
    }

    #[test]
    fn every_source_contract_has_a_compiling_schema() {
        let v = Validators::load().expect("schemas compile");
        for (ty, _) in SCHEMAS {
            assert!(v.by_type.contains_key(ty));
        }
        let e = v
            .validate(
                RegistryCooperative::TYPE,
                &serde_json::json!({"kind": "XYZ"}),
            )
            .expect_err("invalid");
        assert!(e.contains("/kind") && e.contains("required"), "{e}");
    }
}

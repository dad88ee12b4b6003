//! Helpers shared by the runtime's integration tests: a handler whose effect is counted in
//! PostgreSQL, behind the inbox, so that doubled effects are visible.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use hub_contracts::Envelope;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{IdentityMerged, SourceRef};
use hub_runtime::messaging::dlq::{DeadLetter, DeadLetters};
use hub_runtime::messaging::{HandlerError, Incoming, OutgoingMessage, QueueSpec};
use hub_runtime::storage::{Database, inbox};
use hub_test_support::{TestEnv, eventually};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The routing key (and contract type) of the test messages.
pub const KEY: &str = "identity.merged.v1";

/// A queue that takes the test messages.
pub fn spec(name: &str) -> QueueSpec {
    QueueSpec::new(name).bind(exchanges::IDENTITY, KEY)
}

/// Declares the consumer's queue before anything is published (a publish to an exchange with
/// no queue bound is an error: `mandatory`).
pub async fn declare(env: &TestEnv, spec: &QueueSpec) {
    let broker = env.broker("declare");
    let ch = broker.channel().await.expect("broker reachable");
    env.topology()
        .declare_queue(&ch, spec, &env.retry_policy())
        .await
        .expect("declare");
    broker.close().await;
}

/// Messages ready in a queue (not delivered, or delivered and returned unacked).
pub async fn ready(env: &TestEnv, queue: &str) -> u32 {
    let broker = env.broker("depth");
    let ch = broker.channel().await.expect("broker reachable");
    let q = ch
        .queue_declare(
            env.topology().name(queue).as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            Default::default(),
        )
        .await
        .expect("queue exists");
    broker.close().await;
    q.message_count()
}

/// The next value on `rx`, waiting at most 30 s.
pub async fn recv<T>(rx: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("channel closed waiting for {what}"))
}

/// A message with the given body, routed as the test messages are.
pub fn raw(id: &str, body: Vec<u8>) -> OutgoingMessage {
    OutgoingMessage {
        exchange: exchanges::IDENTITY.into(),
        routing_key: KEY.into(),
        message_id: id.into(),
        contract_type: KEY.into(),
        body,
        headers: Default::default(),
    }
}

/// Three messages that end in the dead-letter queue, in this order: `broken` (not JSON),
/// `future` (message `unknown` as an unknown contract version) and `bad-payload` (message
/// `bad` with a payload that does not decode).
pub fn poison_messages(unknown: u64, bad: u64) -> [OutgoingMessage; 3] {
    let mut future = message(unknown).to_json();
    future["type"] = "identity.merged.v9".into();
    let mut bad_payload = message(bad).to_json();
    bad_payload["data"]["survivor"] = "not-a-uuid".into();
    [
        raw("broken", b"{\"specversion\": \"1.0\", oops".to_vec()),
        raw("future", serde_json::to_vec(&future).expect("json")),
        raw(
            "bad-payload",
            serde_json::to_vec(&bad_payload).expect("json"),
        ),
    ]
}

/// The dead letters of `dlq` (up to 10), once `enough` holds for them (waits up to 20 s).
pub async fn dead_letters(
    dlq: &DeadLetters,
    what: &str,
    enough: impl Fn(&[DeadLetter]) -> bool,
) -> Vec<DeadLetter> {
    eventually(what, Duration::from_secs(20), || async {
        let l = dlq.list(10).await.ok()?;
        enough(&l).then_some(l)
    })
    .await
}

/// A small valid contract message carrying a sequence number in `reason`.
pub fn message(n: u64) -> Envelope<IdentityMerged> {
    let data = IdentityMerged {
        survivor: Uuid::from_u128(n as u128),
        absorbed: vec![],
        moved_refs: vec![SourceRef::new("test", n.to_string())],
        reason: n.to_string(),
        decided_by: None,
        decision_id: Uuid::from_u128(n as u128),
        at: chrono::Utc::now(),
    };
    Envelope::new(format!("msg-{n}"), "urn:coophub:test", data)
}

pub async fn effects_db(url: &str) -> Database {
    let db = Database::connect(url, "svc", None).await.expect("database");
    sqlx::query("CREATE TABLE IF NOT EXISTS effects (n BIGINT PRIMARY KEY, times INT NOT NULL)")
        .execute(&db.pool)
        .await
        .expect("effects table");
    db
}

/// Applies a message's effect once: claim in the inbox, bump a counter, in one transaction.
/// Reports every handled delivery (duplicates included) on `seen`.
#[derive(Clone)]
pub struct CountingHandler {
    pub db: Database,
    pub seen: mpsc::UnboundedSender<(u64, bool)>,
}

impl CountingHandler {
    pub async fn apply(&self, msg: Incoming) -> Result<(), HandlerError> {
        let env = msg.decode::<IdentityMerged>()?;
        let n: u64 = env.data.reason.parse().map_err(HandlerError::permanent)?;
        let mut tx = self.db.pool.begin().await?;
        let first = inbox::claim(&mut tx, "test", &env.id).await?;
        if first {
            sqlx::query(
                "INSERT INTO effects (n, times) VALUES ($1, 1)
                 ON CONFLICT (n) DO UPDATE SET times = effects.times + 1",
            )
            .bind(n as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        let _ = self.seen.send((n, first));
        Ok(())
    }
}

pub fn counting(db: Database) -> (Arc<CountingHandler>, mpsc::UnboundedReceiver<(u64, bool)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (Arc::new(CountingHandler { db, seen: tx }), rx)
}

pub async fn effect_counts(db: &Database) -> Vec<(i64, i32)> {
    sqlx::query_as("SELECT n, times FROM effects ORDER BY n")
        .fetch_all(&db.pool)
        .await
        .expect("effects")
}

//! The batch consumer on the real broker and database: every message the broker delivered is
//! handed over at once and applied in one transaction; duplicates (within a batch and across
//! batches) take effect once, a message that cannot be parsed or decoded is dead-lettered
//! alone, and a batch that fails is handed over again one message at a time, so a transient
//! failure doubles nothing and a message that always fails holds none of the others back.
//!
//! How the broker splits deliveries into batches is not under the test's control, so every
//! assertion holds for any split; the inbox test pins duplicates inside one claim.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{
    dead_letters, declare, effect_counts, effects_db, message, poison_messages, ready, recv, spec,
};
use hub_contracts::v1::IdentityMerged;
use hub_runtime::messaging::dlq::DeadLetters;
use hub_runtime::messaging::{
    BatchConsumer, BatchHandler, HandlerError, Incoming, OutgoingMessage, Publisher, QueueSpec,
};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::{Database, inbox};
use hub_test_support::TestEnv;
use tokio::sync::mpsc;

/// The sequence number of a message whose effect always fails (a constraint it violates).
const POISON: u64 = 666;

/// One call of the handler: the sequence numbers it was handed, with their attempts.
type Call = Vec<(u64, u32)>;

/// Applies a batch in one transaction: one inbox claim for every id, one effect per first
/// claim. Fails the whole transaction transiently while `transient_failures` lasts, and
/// permanently when the batch holds [`POISON`].
struct Counting {
    db: Database,
    calls: mpsc::UnboundedSender<Call>,
    transient_failures: AtomicU32,
}

impl BatchHandler for Counting {
    async fn handle_batch(
        &self,
        msgs: &[Incoming],
    ) -> Result<Vec<Result<(), HandlerError>>, HandlerError> {
        let mut results = Vec::new();
        let mut good = Vec::new();
        for m in msgs {
            match m.decode::<IdentityMerged>() {
                Ok(env) => {
                    let n: u64 = env.data.reason.parse().map_err(HandlerError::permanent)?;
                    good.push((env.id, n, m.attempt));
                    results.push(Ok(()));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let result = self.apply(&good).await.map(|()| results);
        // reported once the transaction committed or failed: the effects are visible
        let _ = self
            .calls
            .send(good.iter().map(|(_, n, a)| (*n, *a)).collect());
        result
    }
}

impl Counting {
    async fn apply(&self, good: &[(String, u64, u32)]) -> Result<(), HandlerError> {
        let mut tx = self.db.pool.begin().await?;
        let ids: Vec<String> = good.iter().map(|(id, _, _)| id.clone()).collect();
        let mut claimed = inbox::claim_many(&mut tx, "test", &ids).await?;
        for (id, n, _) in good {
            if claimed.remove(id) {
                sqlx::query(
                    "INSERT INTO effects (n, times) VALUES ($1, 1)
                     ON CONFLICT (n) DO UPDATE SET times = effects.times + 1",
                )
                .bind(*n as i64)
                .execute(&mut *tx)
                .await?;
            }
        }
        // the transaction fails after its writes: they roll back with it
        if self
            .transient_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(HandlerError::transient("the database is restarting"));
        }
        if good.iter().any(|(_, n, _)| *n == POISON) {
            return Err(HandlerError::permanent(
                "message 666 violates a check constraint",
            ));
        }
        tx.commit().await?;
        Ok(())
    }
}

struct Run {
    env: TestEnv,
    spec: QueueSpec,
    db: Database,
    calls: mpsc::UnboundedReceiver<Call>,
    publisher: Publisher,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), hub_runtime::messaging::MessagingError>>,
}

impl Run {
    async fn start(name: &str, transient_failures: u32) -> Run {
        let env = TestEnv::new().await;
        let spec = spec(name);
        declare(&env, &spec).await;
        let db = effects_db(&env.config.database_url).await;
        let (tx, calls) = mpsc::unbounded_channel();
        let handler = Counting {
            db: db.clone(),
            calls: tx,
            transient_failures: AtomicU32::new(transient_failures),
        };
        let stop = CancellationToken::new();
        let broker = env.broker(name);
        let task = tokio::spawn(
            BatchConsumer::new(broker.clone(), spec.clone(), handler)
                .retry(env.retry_policy())
                .prefetch(50)
                .run(stop.clone()),
        );
        Run {
            publisher: Publisher::new(broker),
            env,
            spec,
            db,
            calls,
            stop,
            task,
        }
    }

    async fn next_call(&mut self) -> Call {
        recv(&mut self.calls, "the handler").await
    }

    /// Receives handler calls until `done` holds for the calls so far and the effects (each
    /// call is reported after its transaction ended, so its effects are visible by then).
    async fn until(&mut self, done: impl Fn(&[Call], &[(i64, i32)]) -> bool) -> Vec<Call> {
        let mut calls = Vec::new();
        while !done(&calls, &effect_counts(&self.db).await) {
            calls.push(self.next_call().await);
        }
        calls
    }

    /// Stops the consumer; anything it had not acked returns to the queue.
    async fn stop(self) -> (TestEnv, QueueSpec) {
        self.stop.cancel();
        self.task
            .await
            .expect("joined")
            .expect("consumer ends cleanly");
        (self.env, self.spec)
    }
}

#[tokio::test]
async fn claiming_many_ids_claims_each_once_within_and_across_claims() {
    let env = TestEnv::new().await;
    let db = effects_db(&env.config.database_url).await;
    let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut tx = db.pool.begin().await.expect("tx");
    let first = inbox::claim_many(&mut tx, "test", &ids(&["b", "a", "b", "c"]))
        .await
        .expect("claim");
    tx.commit().await.expect("commit");
    let mut first: Vec<String> = first.into_iter().collect();
    first.sort();
    assert_eq!(
        first,
        ids(&["a", "b", "c"]),
        "a duplicate in one claim counts once"
    );
    let mut tx = db.pool.begin().await.expect("tx");
    let second = inbox::claim_many(&mut tx, "test", &ids(&["c", "d", "a"]))
        .await
        .expect("claim");
    assert_eq!(second.into_iter().collect::<Vec<_>>(), ids(&["d"]));
    // rolled back: d is not claimed
    tx.rollback().await.expect("rollback");
    let mut tx = db.pool.begin().await.expect("tx");
    let third = inbox::claim_many(&mut tx, "test", &ids(&["d"]))
        .await
        .expect("claim");
    assert_eq!(third.into_iter().collect::<Vec<_>>(), ids(&["d"]));
    assert!(
        inbox::claim_many(&mut tx, "other-consumer", &ids(&["a"]))
            .await
            .expect("claim")
            .contains("a"),
        "each consumer has its own inbox"
    );
    tx.commit().await.expect("commit");
    env.drop_database().await;
}

#[tokio::test]
async fn a_batch_with_duplicates_takes_effect_once_and_everything_is_acked() {
    let mut run = Run::start("batch-dupes", 0).await;
    // 1 takes effect in an earlier batch
    run.publisher
        .publish(&OutgoingMessage::from_envelope(&message(1)))
        .await
        .expect("confirmed");
    assert_eq!(run.next_call().await, vec![(1, 1)]);
    // then duplicates within what arrives together, and of the earlier batch
    let m = |n| OutgoingMessage::from_envelope(&message(n));
    run.publisher
        .publish_batch(&[m(2), m(3), m(2), m(1), m(3), m(4), m(4), m(5)])
        .await
        .expect("confirmed");
    let calls = run
        .until(|calls, _| calls.iter().map(Vec::len).sum::<usize>() >= 8)
        .await;
    let handed: usize = calls.iter().map(Vec::len).sum();
    assert_eq!(
        handed, 8,
        "each delivery handed over once, none one by one after a failure: {calls:?}"
    );
    assert_eq!(
        effect_counts(&run.db).await,
        vec![(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)]
    );
    let db = run.db.clone();
    let (env, spec) = run.stop().await;
    assert_eq!(
        ready(&env, &spec.name).await,
        0,
        "every delivery was acked: none came back after the consumer stopped"
    );
    assert_eq!(effect_counts(&db).await.len(), 5);
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn a_malformed_message_in_a_batch_is_dead_lettered_and_the_rest_applied() {
    let mut run = Run::start("batch-poison", 0).await;
    let [broken, future, bad_payload] = poison_messages(4, 5);
    run.publisher
        .publish_batch(&[
            OutgoingMessage::from_envelope(&message(1)),
            broken,
            OutgoingMessage::from_envelope(&message(2)),
            future,
            bad_payload,
            OutgoingMessage::from_envelope(&message(3)),
        ])
        .await
        .expect("confirmed");
    // 3 is the last good message: once it is handed over, so is everything before it
    run.until(|calls, _| calls.iter().flatten().any(|(n, _)| *n == 3))
        .await;
    assert_eq!(effect_counts(&run.db).await, vec![(1, 1), (2, 1), (3, 1)]);
    let broker = run.env.broker("dlq");
    let dlq = DeadLetters::new(broker.clone(), "batch-poison");
    let letters = dead_letters(&dlq, "three dead letters", |l| l.len() == 3).await;
    let mut summary: Vec<(Option<String>, String)> = letters
        .iter()
        .map(|l| (l.message_id.clone(), l.kind.clone()))
        .collect();
    summary.sort();
    assert_eq!(
        summary,
        vec![
            (Some("bad-payload".into()), "rejected".into()),
            (Some("broken".into()), "malformed".into()),
            (Some("future".into()), "unknown-contract".into()),
        ]
    );
    let bad = letters
        .iter()
        .find(|l| l.message_id.as_deref() == Some("bad-payload"))
        .expect("bad payload dead-lettered");
    assert!(
        bad.reason.contains("not-a-uuid") || bad.reason.contains("UUID"),
        "{}",
        bad.reason
    );
    let (env, spec) = run.stop().await;
    assert_eq!(ready(&env, &spec.name).await, 0, "everything was settled");
    broker.close().await;
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn a_failed_batch_is_retried_one_by_one_so_nothing_doubles_and_one_bad_message_stays_alone() {
    // the first two transactions fail as a database restart would (the batch's, then the
    // first single's); message 666 always fails its transaction
    let mut run = Run::start("batch-fail", 2).await;
    let m = |n| OutgoingMessage::from_envelope(&message(n));
    run.publisher
        .publish_batch(&[m(1), m(2), m(POISON), m(3), m(2)])
        .await
        .expect("confirmed");
    let calls = run
        .until(|calls, effects| effects.len() == 3 && calls.iter().flatten().any(|c| *c == (1, 2)))
        .await;
    assert_eq!(
        effect_counts(&run.db).await,
        vec![(1, 1), (2, 1), (3, 1)],
        "every effect once, the failed transactions left nothing behind"
    );
    let attempts = |n: u64| -> Vec<u32> {
        calls
            .iter()
            .flatten()
            .filter(|(m, _)| *m == n)
            .map(|(_, a)| *a)
            .collect()
    };
    assert!(
        attempts(1).contains(&2),
        "1 failed alone too and came back through the retry queue: {calls:?}"
    );
    assert!(
        attempts(3).iter().all(|a| *a == 1),
        "3 was applied without waiting for a retry: {calls:?}"
    );
    let broker = run.env.broker("dlq");
    let dlq = DeadLetters::new(broker.clone(), "batch-fail");
    let letters = dead_letters(&dlq, "the poison message dead-lettered", |l| !l.is_empty()).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].message_id.as_deref(), Some("msg-666"));
    assert_eq!(letters[0].kind, "rejected");
    assert!(
        letters[0].reason.contains("check constraint"),
        "{}",
        letters[0].reason
    );
    let (env, spec) = run.stop().await;
    assert_eq!(ready(&env, &spec.name).await, 0, "everything was settled");
    broker.close().await;
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

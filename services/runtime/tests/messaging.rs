//! The messaging runtime on the real broker and database: idempotent effects, dead letters
//! with readable reasons, retries, unroutable publishes, and the outbox relay.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::{
    KEY, counting, dead_letters, declare, effect_counts, effects_db, message, poison_messages,
    ready, recv, spec,
};
use hub_contracts::registry::exchanges;
use hub_runtime::messaging::dlq::DeadLetters;
use hub_runtime::messaging::{
    Consumer, HandlerError, Incoming, MessagingError, OutgoingMessage, Publisher,
};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::storage::outbox::{self, OutboxRelay};
use hub_test_support::{TestEnv, eventually};
use tokio::sync::mpsc;

#[tokio::test]
async fn a_message_delivered_twice_takes_effect_once() {
    let env = TestEnv::new().await;
    let spec = spec("dedupe");
    declare(&env, &spec).await;
    let db = effects_db(&env.config.database_url).await;
    let (handler, mut seen) = counting(db.clone());
    let broker = env.broker("dedupe");
    let stop = CancellationToken::new();
    let h = handler.clone();
    let consumer = Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
        let h = h.clone();
        async move { h.apply(m).await }
    });
    let task = tokio::spawn(consumer.run(stop.clone()));

    let publisher = Publisher::new(broker.clone());
    let msg = OutgoingMessage::from_envelope(&message(7));
    publisher
        .publish_batch(&[msg.clone(), msg.clone()])
        .await
        .expect("confirmed");
    publisher
        .publish(&OutgoingMessage::from_envelope(&message(8)))
        .await
        .expect("confirmed");

    let mut firsts = Vec::new();
    for _ in 0..3 {
        firsts.push(recv(&mut seen, "deliveries").await);
    }
    firsts.sort();
    assert_eq!(
        firsts,
        vec![(7, false), (7, true), (8, true)],
        "7 twice (one effect), 8 once"
    );
    assert_eq!(effect_counts(&db).await, vec![(7, 1), (8, 1)]);

    stop.cancel();
    task.await.expect("joined").expect("consumer ends cleanly");
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn malformed_and_unknown_version_messages_are_dead_lettered_and_the_consumer_goes_on() {
    let env = TestEnv::new().await;
    let spec = spec("poison");
    declare(&env, &spec).await;
    let db = effects_db(&env.config.database_url).await;
    let (handler, mut seen) = counting(db.clone());
    let broker = env.broker("poison");
    let stop = CancellationToken::new();
    let h = handler.clone();
    let task = tokio::spawn(
        Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
            let h = h.clone();
            async move { h.apply(m).await }
        })
        .run(stop.clone()),
    );

    let publisher = Publisher::new(broker.clone());
    let [broken, future, bad_payload] = poison_messages(1, 2);
    publisher
        .publish_batch(&[
            broken,
            future,
            bad_payload,
            OutgoingMessage::from_envelope(&message(3)),
        ])
        .await
        .expect("confirmed");

    assert_eq!(recv(&mut seen, "the good message").await, (3, true));
    let letters = DeadLetters::new(broker.clone(), "poison")
        .list(10)
        .await
        .expect("list");
    let summary: Vec<(Option<String>, String)> = letters
        .iter()
        .map(|l| (l.message_id.clone(), l.kind.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("broken".into()), "malformed".into()),
            (Some("future".into()), "unknown-contract".into()),
            (Some("bad-payload".into()), "rejected".into()),
        ]
    );
    assert!(
        letters[0].reason.contains("line 1, column"),
        "{}",
        letters[0].reason
    );
    assert!(
        letters[1].reason.contains("identity.merged.v9"),
        "{}",
        letters[1].reason
    );
    assert!(
        letters[2].reason.contains("not-a-uuid") || letters[2].reason.contains("UUID"),
        "{}",
        letters[2].reason
    );
    assert!(
        letters
            .iter()
            .all(|l| l.queue == env.topology().name("poison"))
    );
    // peeking left them in place (a quorum queue takes peeked messages back asynchronously)
    let dlq = DeadLetters::new(broker.clone(), "poison");
    eventually(
        "the three dead letters back in place",
        Duration::from_secs(10),
        || async { (dlq.count().await.ok()? == 3).then_some(()) },
    )
    .await;
    assert_eq!(dlq.list(10).await.expect("list again").len(), 3);

    stop.cancel();
    task.await.expect("joined").expect("clean stop");
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn transient_failures_are_retried_then_dead_lettered_after_the_configured_attempts() {
    let env = TestEnv::new().await;
    let spec = spec("retry");
    declare(&env, &spec).await;
    let broker = env.broker("retry");
    let stop = CancellationToken::new();
    let policy = env.retry_policy();
    assert_eq!(policy.attempts, 3);
    let (tx, mut attempts) = mpsc::unbounded_channel::<(String, u32)>();
    let calls = Arc::new(AtomicU32::new(0));
    let c = calls.clone();
    let task = tokio::spawn(
        Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
            let tx = tx.clone();
            let c = c.clone();
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send((m.envelope.id.clone(), m.attempt));
                match m.envelope.id.as_str() {
                    // fails twice, then works
                    "msg-1" if m.attempt < 3 => Err(HandlerError::transient("database busy")),
                    "msg-1" => Ok(()),
                    // never works
                    _ => Err(HandlerError::transient("dependency down")),
                }
            }
        })
        .retry(policy.clone())
        .run(stop.clone()),
    );
    let publisher = Publisher::new(broker.clone());
    publisher
        .publish_batch(&[
            OutgoingMessage::from_envelope(&message(1)),
            OutgoingMessage::from_envelope(&message(2)),
        ])
        .await
        .expect("confirmed");

    let mut seen = Vec::new();
    for _ in 0..6 {
        seen.push(recv(&mut attempts, "attempts").await);
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("msg-1".into(), 1),
            ("msg-1".into(), 2),
            ("msg-1".into(), 3),
            ("msg-2".into(), 1),
            ("msg-2".into(), 2),
            ("msg-2".into(), 3),
        ]
    );
    let dlq = DeadLetters::new(broker.clone(), "retry");
    let letters = dead_letters(&dlq, "msg-2 in the dead-letter queue", |l| !l.is_empty()).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].message_id.as_deref(), Some("msg-2"));
    assert_eq!(letters[0].kind, "retries-exhausted");
    assert_eq!(letters[0].attempts, Some(3));
    assert!(
        letters[0].reason.contains("dependency down"),
        "{}",
        letters[0].reason
    );

    // an operator replays it after a fix: it comes back with a fresh attempt count
    dlq.replay("msg-2").await.expect("replayed");
    let (id, attempt) = recv(&mut attempts, "replayed delivery").await;
    assert_eq!((id.as_str(), attempt), ("msg-2", 1));
    assert_eq!(calls.load(Ordering::SeqCst), 7);

    stop.cancel();
    task.await.expect("joined").expect("clean stop");
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn an_unroutable_message_is_an_error_not_a_silent_loss() {
    let env = TestEnv::new().await;
    let broker = env.broker("unroutable");
    let publisher = Publisher::new(broker.clone());
    // on the source exchange (no alternate exchange: an unrouted source record is an error)
    let mut m = OutgoingMessage::from_envelope(&message(1));
    m.exchange = exchanges::SOURCE.to_owned();
    let err = publisher
        .publish(&m)
        .await
        .expect_err("no queue is bound in this namespace");
    match err {
        MessagingError::Unroutable {
            exchange,
            routing_key,
            ..
        } => {
            assert_eq!(exchange, env.topology().name(exchanges::SOURCE));
            assert_eq!(routing_key, KEY);
        }
        other => panic!("expected Unroutable, got {other}"),
    }
    env.delete_queues(&[]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn an_identity_event_nobody_is_bound_for_is_kept_in_the_unrouted_queue_and_only_there() {
    let env = TestEnv::new().await;
    let broker = env.broker("unrouted");
    let publisher = Publisher::new(broker.clone());
    let unrouted = hub_runtime::messaging::topology::UNROUTED_IDENTITY;
    publisher
        .publish(&OutgoingMessage::from_envelope(&message(1)))
        .await
        .expect("an identity event with no queue bound goes to the alternate exchange");
    assert_eq!(ready(&env, unrouted).await, 1);
    // once a queue is bound for it, an event goes there and not also to the unrouted queue
    let spec = spec("unrouted");
    declare(&env, &spec).await;
    publisher
        .publish(&OutgoingMessage::from_envelope(&message(2)))
        .await
        .expect("routed");
    assert_eq!(ready(&env, &spec.name).await, 1);
    assert_eq!(ready(&env, unrouted).await, 1);
    broker.close().await;
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn the_outbox_publishes_what_a_transaction_committed_and_nothing_it_rolled_back() {
    let env = TestEnv::new().await;
    let spec = spec("outbox");
    declare(&env, &spec).await;
    let db = effects_db(&env.config.database_url).await;
    let broker = env.broker("outbox");

    // one committed transaction with two messages, one rolled back
    let mut tx = db.pool.begin().await.expect("tx");
    outbox::enqueue(
        &mut tx,
        &db.schema,
        &[
            OutgoingMessage::from_envelope(&message(1)),
            OutgoingMessage::from_envelope(&message(2)),
        ],
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    let mut tx = db.pool.begin().await.expect("tx");
    outbox::enqueue(
        &mut tx,
        &db.schema,
        &[OutgoingMessage::from_envelope(&message(3))],
    )
    .await
    .expect("enqueue");
    tx.rollback().await.expect("rollback");
    assert_eq!(outbox::pending(&db.pool).await.expect("pending"), 2);

    let stop = CancellationToken::new();
    let relay = tokio::spawn(
        OutboxRelay::new(db.clone(), Arc::new(Publisher::new(broker.clone()))).run(stop.clone()),
    );
    let (handler, mut seen) = counting(db.clone());
    let h = handler.clone();
    let consumer = tokio::spawn(
        Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
            let h = h.clone();
            async move { h.apply(m).await }
        })
        .run(stop.clone()),
    );
    let mut got = vec![
        recv(&mut seen, "first").await,
        recv(&mut seen, "second").await,
    ];
    got.sort();
    assert_eq!(got, vec![(1, true), (2, true)]);
    assert_eq!(outbox::pending(&db.pool).await.expect("pending"), 0);

    // a later commit wakes the relay through NOTIFY
    let mut tx = db.pool.begin().await.expect("tx");
    outbox::enqueue(
        &mut tx,
        &db.schema,
        &[OutgoingMessage::from_envelope(&message(4))],
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    assert_eq!(recv(&mut seen, "after notify").await, (4, true));
    assert_eq!(effect_counts(&db).await, vec![(1, 1), (2, 1), (4, 1)]);

    stop.cancel();
    relay.await.expect("relay joined");
    consumer.await.expect("joined").expect("clean stop");
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

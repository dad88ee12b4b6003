//! RabbitMQ restarted (`rabbitmqctl stop_app`, then `start_app`) in the middle of a stream of
//! 10,000 messages: none lost, no effect doubled, and the consumer resumes by itself.
//!
//! This binary holds one test on purpose: it stops the broker for everyone, and cargo runs test
//! binaries one after another.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::{counting, effect_counts, effects_db, message};
use hub_contracts::registry::exchanges;
use hub_runtime::messaging::{Consumer, Incoming, OutgoingMessage, Publisher, QueueSpec};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;

const N: u64 = 10_000;

fn rabbitmqctl(arg: &str) {
    let out = Command::new("rabbitmqctl")
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rabbitmqctl {arg}: {e}"));
    assert!(
        out.status.success(),
        "rabbitmqctl {arg} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing_and_doubles_nothing() {
    hub_runtime::telemetry::init(hub_runtime::config::LogFormat::Human);
    let env = TestEnv::new().await;
    let spec = QueueSpec::new("restart").bind(exchanges::IDENTITY, "identity.merged.v1");
    let broker = env.broker("restart");
    {
        let ch = broker.channel().await.expect("broker reachable");
        env.topology()
            .declare_queue(&ch, &spec, &env.retry_policy())
            .await
            .expect("declare");
    }
    let db = effects_db(&env.config.database_url).await;
    let (handler, mut seen) = counting(db.clone());
    let stop = CancellationToken::new();
    let h = handler.clone();
    let consumer = tokio::spawn(
        Consumer::new(broker.clone(), spec.clone(), move |m: Incoming| {
            let h = h.clone();
            async move { h.apply(m).await }
        })
        .prefetch(200)
        .concurrency(8)
        .run(stop.clone()),
    );

    // an at-least-once producer: a batch is resent until the broker confirms all of it. It
    // stays at most 2,000 messages ahead of the consumer, so the restart hits both sides.
    let (progress_tx, mut progress) = tokio::sync::watch::channel(0u64);
    let producer_broker = broker.clone();
    let producer = tokio::spawn(async move {
        let publisher = Publisher::new(producer_broker);
        let mut resent = 0u32;
        let all: Vec<OutgoingMessage> = (0..N)
            .map(|n| OutgoingMessage::from_envelope(&message(n)))
            .collect();
        for (i, batch) in all.chunks(100).enumerate() {
            let sent = (i * 100) as u64;
            let _ = progress.wait_for(|done| *done + 2_000 >= sent).await;
            let mut backoff = hub_runtime::messaging::RetryPolicy::reconnect_backoff();
            loop {
                match publisher.publish_batch(batch).await {
                    Ok(()) => break,
                    Err(_) => {
                        resent += 1;
                        let wait = backoff.next_wait().unwrap_or(Duration::from_secs(1));
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        }
        resent
    });

    let mut effects = BTreeSet::new();
    let mut duplicates = 0u64;
    let mut restart = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    while (effects.len() as u64) < N {
        let next = tokio::time::timeout_at(deadline, seen.recv())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {N} messages took effect before the deadline",
                    effects.len()
                )
            })
            .expect("handler alive");
        match next {
            (n, true) => {
                assert!(effects.insert(n), "message {n} took effect twice");
                let _ = progress_tx.send(effects.len() as u64);
            }
            (_, false) => duplicates += 1,
        }
        if restart.is_none() && effects.len() == 3_000 {
            // the stream goes on while the broker stops and starts
            restart = Some(tokio::task::spawn_blocking(|| {
                rabbitmqctl("stop_app");
                rabbitmqctl("start_app");
            }));
        }
    }
    restart
        .expect("the broker was restarted mid-stream")
        .await
        .expect("restart ran");
    let resent = producer.await.expect("producer finished");

    let counts = effect_counts(&db).await;
    assert_eq!(counts.len() as u64, N, "every message took effect");
    assert!(
        counts.iter().all(|(_, times)| *times == 1),
        "no effect doubled"
    );
    println!(
        "restart test: {N} effects, {duplicates} duplicate deliveries dropped by the inbox, {resent} batches resent"
    );

    stop.cancel();
    consumer.await.expect("joined").expect("clean stop");
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

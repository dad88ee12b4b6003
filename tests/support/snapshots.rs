//! Watching the indicator snapshots the hub publishes, from a queue of the test's own, as an
//! agency system would. Shared by the hub-e2e library (`tests/lib.rs`) and the fault suite's
//! harness (`tests/faults_harness.rs`, which `services/hub/tests/faults_kill.rs` includes too,
//! hence a file included by path rather than a dependency on hub-e2e).

use hub_contracts::registry::exchanges;
use hub_contracts::v1::IndicatorSnapshot;
use hub_runtime::messaging::{Consumer, HandlerError, Incoming, QueueSpec};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use tokio::sync::mpsc;

/// What the watcher does with a snapshot that arrives once its receiver was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwatched {
    /// Fails the message permanently: it goes to the queue's dead-letter queue.
    DeadLetter,
    /// Acks and drops it (a run that is over does not dead-letter what it no longer reads).
    Drop,
}

/// Queue `queue`, bound to `coophub.indicator`, consumed into a channel of decoded snapshots
/// until `stop`.
pub async fn watch(
    env: &TestEnv,
    stop: &CancellationToken,
    queue: &str,
    unwatched: Unwatched,
) -> (QueueSpec, mpsc::UnboundedReceiver<IndicatorSnapshot>) {
    let spec = QueueSpec::new(queue).bind(exchanges::INDICATOR, "indicator.snapshot.v1");
    let broker = env.broker("e2e-agency");
    {
        let ch = broker.channel().await.expect("broker reachable");
        env.topology()
            .declare_queue(&ch, &spec, &env.retry_policy())
            .await
            .expect("declare the agency queue");
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let consumer = Consumer::new(broker, spec.clone(), move |m: Incoming| {
        let tx = tx.clone();
        async move {
            let env = m.decode::<IndicatorSnapshot>()?;
            match unwatched {
                Unwatched::DeadLetter => tx.send(env.data).map_err(HandlerError::permanent),
                Unwatched::Drop => {
                    let _ = tx.send(env.data);
                    Ok(())
                }
            }
        }
    });
    tokio::spawn(consumer.run(stop.clone()));
    (spec, rx)
}

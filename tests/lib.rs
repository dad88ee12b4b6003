//! Shared helpers of the end-to-end tests: observing what the hub publishes on its public
//! exchanges, from a queue of the test's own, as an agency system would.

use std::time::Duration;

use hub_contracts::registry::exchanges;
use hub_contracts::v1::IndicatorSnapshot;
use hub_runtime::messaging::{Consumer, HandlerError, Incoming, QueueSpec};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::testing::TestEnv;
use tokio::sync::mpsc;

/// A queue bound to `coophub.indicator`, consumed into a channel of decoded snapshots.
pub async fn watch_snapshots(
    env: &TestEnv,
    stop: &CancellationToken,
) -> (QueueSpec, mpsc::UnboundedReceiver<IndicatorSnapshot>) {
    let spec =
        QueueSpec::new("e2e.agency.snapshots").bind(exchanges::INDICATOR, "indicator.snapshot.v1");
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
            tx.send(env.data).map_err(HandlerError::permanent)
        }
    });
    tokio::spawn(consumer.run(stop.clone()));
    (spec, rx)
}

/// Receives snapshots until one satisfies `pred`; fails with `describe(last)` at the deadline.
pub async fn snapshot_where(
    rx: &mut mpsc::UnboundedReceiver<IndicatorSnapshot>,
    deadline: Duration,
    what: &str,
    pred: impl Fn(&IndicatorSnapshot) -> bool,
    describe: impl Fn(&IndicatorSnapshot) -> String,
) -> IndicatorSnapshot {
    let until = tokio::time::Instant::now() + deadline;
    let mut last: Option<IndicatorSnapshot> = None;
    loop {
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(s)) => {
                if pred(&s) {
                    return s;
                }
                last = Some(s);
            }
            Ok(None) => panic!("snapshot stream closed waiting for {what}"),
            Err(_) => panic!(
                "no snapshot {what} within {deadline:?}; the last one published:\n{}",
                last.as_ref()
                    .map(&describe)
                    .unwrap_or_else(|| "none".into())
            ),
        }
    }
}

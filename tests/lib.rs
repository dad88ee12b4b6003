//! Shared helpers of the end-to-end tests: starting the simulators and the pipeline
//! ([`start`]), and observing what the hub publishes on its public exchanges, from a queue of
//! the test's own, as an agency system would.

pub mod faults_harness;
#[path = "support/snapshots.rs"]
pub mod snapshots;
#[path = "support/start.rs"]
pub mod start;

use std::time::Duration;

use hub_contracts::v1::IndicatorSnapshot;
use hub_runtime::messaging::QueueSpec;
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use tokio::sync::mpsc;

use snapshots::Unwatched;

/// A queue bound to `coophub.indicator`, consumed into a channel of decoded snapshots.
pub async fn watch_snapshots(
    env: &TestEnv,
    stop: &CancellationToken,
) -> (QueueSpec, mpsc::UnboundedReceiver<IndicatorSnapshot>) {
    snapshots::watch(env, stop, "e2e.agency.snapshots", Unwatched::DeadLetter).await
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

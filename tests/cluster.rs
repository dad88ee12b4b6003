//! The hub on a three-node RabbitMQ cluster (issue 18): one broker node stopped in the middle
//! of a sync and started again loses nothing and doubles nothing.
//!
//! `deploy/rabbitmq/cluster.sh` runs three nodes on this machine (127.0.0.1:5681–5683,
//! started here when they are not running, stopped at the end if this test started them);
//! every service connects with `AMQP_URL` listing the three, so that when its node goes it
//! reconnects to another, and its quorum queues (a replica on each node) elect leaders on the
//! two that are left. Node 1 is the one stopped: every connection starts there and the queues'
//! leaders are there (declared through it), so the fault moves both.
//!
//! The fault suite's harness (`faults_harness.rs`) runs the pipeline: once without faults on
//! the cluster, the golden end state, then once with node 1 stopped once the reconciler has
//! observed a third of the records, and started again. The second run's end state must equal
//! the first's: the same partition of source records into organisations, golden records,
//! snapshot content, projection, and empty queues and dead-letter queues.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hub_e2e::faults_harness::{RECONCILER_QUEUE, RECOVERY_DEADLINE, Row, Run, print_table, row};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/rabbitmq/cluster.sh")
}

/// Runs `cluster.sh args`, returning its standard output; panics with its error output.
fn cluster(args: &[&str]) -> String {
    let out = Command::new(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {args:?}: {e}", script().display()));
    assert!(
        out.status.success(),
        "cluster.sh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Stops the cluster at the end if this test started it, and starts a node again that a
/// failed step left stopped.
struct ClusterGuard {
    started_here: bool,
    stopped_node: Option<&'static str>,
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.started_here {
            let _ = Command::new(script()).arg("stop").output();
        } else if let Some(n) = self.stopped_node {
            let _ = Command::new(script()).args(["start-node", n]).output();
        }
    }
}

/// The members of quorum queue `name` (full name) as the cluster lists them.
fn members(name: &str) -> Vec<String> {
    cluster(&["queues"])
        .lines()
        .find_map(|l| {
            let mut cols = l.split('\t');
            (cols.next() == Some(name)).then(|| {
                cols.nth(1)
                    .unwrap_or("")
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect()
            })
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_node_stopped_mid_sync_loses_and_doubles_nothing() {
    let was_running = Command::new(script())
        .arg("status")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    let mut guard = ClusterGuard {
        started_here: !was_running,
        stopped_node: None,
    };
    // idempotent: joins and starts whatever is not running yet
    cluster(&["start"]);
    let urls = cluster(&["urls"]).trim().to_owned();
    let mut rows = Vec::new();

    // ── fault-free, on the cluster ───────────────────────────────────────────────────────
    let mut run = Run::prepare_on(Some(&urls)).await;
    let started = Instant::now();
    run.start_in_process().await;
    let golden = run
        .settle(Duration::from_secs(180), Duration::from_millis(2500))
        .await;
    let queue = run.env.topology().name(RECONCILER_QUEUE);
    let replicas = members(&queue);
    assert_eq!(
        replicas.len(),
        3,
        "{queue} has a replica on each of the three nodes: {replicas:?}"
    );
    assert!(
        golden.dead_letters.values().all(|ids| ids.is_empty()),
        "the fault-free run dead-lettered nothing: {:?}",
        golden.dead_letters
    );
    println!(
        "fault-free on the cluster: {} organisations, {} source refs, projection {:?}",
        golden.partition.len(),
        golden.refs().len(),
        golden.projection
    );
    rows.push(Row {
        fault: "none (fault-free run, three-node cluster)".into(),
        survived: true,
        lost: 0,
        doubled: 0,
        recovery: started.elapsed(),
        note: format!("{queue} on {replicas:?}"),
    });
    let errors = run.finish().await;
    assert!(
        errors.is_empty(),
        "services stopped with errors: {errors:?}"
    );

    // ── node 1 stopped mid-sync, then started again ──────────────────────────────────────
    let mut run = Run::prepare_on(Some(&urls)).await;
    run.start_in_process().await;
    let total = golden.projection["reconciler.observations"];
    run.wait_observations((total / 3).max(1)).await;
    let before = run.observations().await.unwrap_or(-1);
    let injected = Instant::now();
    guard.stopped_node = Some("1");
    tokio::task::spawn_blocking(|| cluster(&["stop-node", "1"]))
        .await
        .expect("stop-node ran");
    // the services go on on nodes 2 and 3 while node 1 is down: wait for progress there
    let during = run.wait_observations(before + 1).await;
    tokio::task::spawn_blocking(|| cluster(&["start-node", "1"]))
        .await
        .expect("start-node ran");
    guard.stopped_node = None;
    let outage = injected.elapsed();
    let outcome = run.reach(&golden, injected, RECOVERY_DEADLINE).await;
    let r = row(
        "broker node 1 of 3 stopped mid-sync, then started",
        outcome,
        &golden,
        format!(
            "stopped after {before} of {total} observations, {during} by the time it was \
             down; down/up took {:.1}s",
            outage.as_secs_f64()
        ),
    );
    let errors = run.finish().await;
    rows.push(r);
    let table = print_table(&rows);
    let last = rows.last().expect("a row");
    assert!(
        last.survived && last.lost == 0 && last.doubled == 0,
        "after a broker node's restart the end state differs from the fault-free run's \
         (lost {}, doubled {}): {}\n{table}",
        last.lost,
        last.doubled,
        last.note
    );
    assert!(
        errors.is_empty(),
        "services stopped with errors: {errors:?}"
    );
    drop(guard);
}

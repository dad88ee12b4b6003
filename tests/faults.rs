//! Proof under faults (issue 8): nothing lost, nothing doubled.
//!
//! The whole pipeline (simulators → adapters → reconciler → indicators) runs over the real
//! RabbitMQ and PostgreSQL, once without faults, then once per fault, each time over a fresh
//! database and namespace and the same simulated world. After each fault the end state must
//! equal the fault-free run's once the reconciler reports itself settled: the same crosswalk
//! (the partition of source records into organisations, read from the reconciler's HTTP API),
//! the same golden records (all but their ids, versions and times: organisation UUIDs are
//! assigned in arrival order, which differs between any two runs), the same snapshot content
//! hash, the same indicators projection, every service queue empty, and the dead-letter queues
//! holding exactly the poison messages.
//!
//! One test on purpose: the broker and the database restart for everyone, and cargo runs test
//! binaries one after another. SIGKILL of each service, run as a `hub` process, is in
//! `services/hub/tests/faults_kill.rs`, where the binary is at hand.

use std::process::Command;
use std::time::{Duration, Instant};

use hub_contracts::Contract;
use hub_contracts::v1::RegistryCooperative;
use hub_e2e::faults_harness::{
    Captured, EndState, INDICATORS_QUEUE, RECONCILER_QUEUE, RECOVERY_DEADLINE, Rng, Row, Run,
    print_table, row,
};
use hub_runtime::messaging::OutgoingMessage;
use hub_simulators::{FaultsUpdate, System};

/// Runs `cmd args`, panicking with its stderr when it fails.
fn run_cmd(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd} {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts the server again if a restart failed midway, so later tests find it running.
struct Restore {
    cmd: &'static str,
    args: Vec<String>,
    armed: bool,
}

impl Drop for Restore {
    fn drop(&mut self) {
        if self.armed {
            eprintln!("restoring: {} {:?}", self.cmd, self.args);
            let _ = Command::new(self.cmd).args(&self.args).output();
        }
    }
}

fn pg_cluster() -> (String, String) {
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("PostgreSQL is installed under /etc/postgresql")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a PostgreSQL cluster");
    (version, "main".to_owned())
}

/// `rabbitmqctl stop_app` then `start_app`; start_app again on any failure.
fn restart_rabbitmq() {
    let mut guard = Restore {
        cmd: "rabbitmqctl",
        args: vec!["start_app".into()],
        armed: true,
    };
    run_cmd("rabbitmqctl", &["stop_app"]);
    run_cmd("rabbitmqctl", &["start_app"]);
    guard.armed = false;
}

/// `pg_ctlcluster … restart`; start on any failure.
fn restart_postgres() {
    let (version, cluster) = pg_cluster();
    let mut guard = Restore {
        cmd: "pg_ctlcluster",
        args: vec![
            "--skip-systemctl-redirect".into(),
            version.clone(),
            cluster.clone(),
            "start".into(),
        ],
        armed: true,
    };
    run_cmd(
        "pg_ctlcluster",
        &[
            "--skip-systemctl-redirect",
            &version,
            &cluster,
            "restart",
            "-m",
            "fast",
        ],
    );
    guard.armed = false;
}

/// Ends a run, adding any error the services stopped with to the row.
async fn finish(run: Run, mut r: Row) -> Row {
    let errors = run.finish().await;
    if !errors.is_empty() {
        r.note
            .push_str(&format!("; services stopped with errors: {errors:?}"));
    }
    println!(
        "scenario done: {} survived={} lost={} doubled={} recovery={:.1}s {}",
        r.fault,
        r.survived,
        r.lost,
        r.doubled,
        r.recovery.as_secs_f64(),
        r.note
    );
    r
}

/// A restart of a server in the middle of the flow: injected after a random delay once the
/// reconciler has observed `share` of the fault-free run's records.
async fn restart_mid_flow(
    golden: &EndState,
    rng: &mut Rng,
    fault: &str,
    share: f64,
    restart: fn(),
) -> Row {
    let mut run = Run::prepare().await;
    run.start_in_process().await;
    let total = golden.projection["reconciler.observations"];
    run.wait_observations(((total as f64 * share) as i64).max(1))
        .await;
    tokio::time::sleep(rng.delay(400)).await;
    let before = run.observations().await.unwrap_or(-1);
    let injected = Instant::now();
    tokio::task::spawn_blocking(restart)
        .await
        .expect("restart ran");
    let outage = injected.elapsed();
    let outcome = run.reach(golden, injected, RECOVERY_DEADLINE).await;
    let note = format!(
        "injected after {before} of {total} observations; server down/up took {:.1}s",
        outage.as_secs_f64()
    );
    let r = row(fault, outcome, golden, note);
    finish(run, r).await
}

fn outgoing(msgs: &[Captured]) -> Vec<OutgoingMessage> {
    msgs.iter().map(Captured::outgoing).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_faults_nothing_is_lost_and_nothing_is_doubled() {
    let suite = Instant::now();
    let mut rng = Rng::from_env();
    let mut rows: Vec<Row> = Vec::new();

    // ── the fault-free run: the golden end state ─────────────────────────────────────────
    let mut run = Run::prepare().await;
    let started = Instant::now();
    run.start_in_process().await;
    let golden = run
        .settle(Duration::from_secs(180), Duration::from_millis(2500))
        .await;
    assert!(
        golden.dead_letters.values().all(|ids| ids.is_empty()),
        "the fault-free run dead-lettered nothing: {:?}",
        golden.dead_letters
    );
    let captured: Vec<Captured> = run.captured.lock().expect("capture").clone();
    println!(
        "fault-free: {} organisations, {} source refs, {} source messages, projection {:?}, \
         golden versions {}, content hash {}",
        golden.partition.len(),
        golden.refs().len(),
        captured.len(),
        golden.projection,
        golden.golden_versions,
        golden.content_hash
    );
    assert!(!captured.is_empty(), "source messages were captured");
    rows.push(Row {
        fault: "none (fault-free run)".into(),
        survived: true,
        lost: 0,
        doubled: 0,
        recovery: started.elapsed(),
        note: format!(
            "{} organisations, {} source messages",
            golden.partition.len(),
            captured.len()
        ),
    });

    // ── duplicates after the sync: every source message again, twice, shuffled ────────────
    let mut again = captured.clone();
    again.extend(captured.iter().cloned());
    rng.shuffle(&mut again);
    let injected = Instant::now();
    run.publish(&outgoing(&again)).await;
    let outcome = run.reach(&golden, injected, RECOVERY_DEADLINE).await;
    rows.push(
        finish(
            run,
            row(
                "duplicate deliveries after the sync (x2, shuffled)",
                outcome,
                &golden,
                format!("{} messages republished", again.len()),
            ),
        )
        .await,
    );

    // ── control: a second fault-free run ends in the same state ─────────────────────────────
    {
        let mut run = Run::prepare().await;
        let started = Instant::now();
        run.start_in_process().await;
        let outcome = run.reach(&golden, started, RECOVERY_DEADLINE).await;
        let r = row(
            "none again (control: a second fault-free run)",
            outcome,
            &golden,
            "the adapters' interleaving differs from run to run".into(),
        );
        rows.push(finish(run, r).await);
    }

    // ── duplicates and reordering during the sync ────────────────────────────────────────
    {
        let mut run = Run::prepare().await;
        run.start_in_process().await;
        let mut msgs = captured.clone();
        msgs.extend(captured.iter().cloned());
        rng.shuffle(&mut msgs);
        let injected = Instant::now();
        run.publish(&outgoing(&msgs)).await;
        let outcome = run.reach(&golden, injected, RECOVERY_DEADLINE).await;
        let r = row(
            "duplicate + reordered deliveries during the sync",
            outcome,
            &golden,
            format!("{} shuffled messages racing the adapters' own", msgs.len()),
        );
        rows.push(finish(run, r).await);
    }

    // ── RabbitMQ restart in the middle of a sync ─────────────────────────────────────────
    rows.push(
        restart_mid_flow(
            &golden,
            &mut rng,
            "RabbitMQ restart mid-sync",
            0.1,
            restart_rabbitmq,
        )
        .await,
    );

    // ── PostgreSQL restart in the middle of reconciliation ───────────────────────────────
    rows.push(
        restart_mid_flow(
            &golden,
            &mut rng,
            "PostgreSQL restart mid-reconciliation",
            0.3,
            restart_postgres,
        )
        .await,
    );

    // ── poison messages and a source answering garbage ────────────────────────────────────
    {
        let mut run = Run::prepare().await;
        for system in [System::CoopAlliance, System::LoanFund, System::Ntm] {
            run.sims
                .update_faults(
                    system,
                    &FaultsUpdate {
                        garbage_rate: Some(0.2),
                        ..FaultsUpdate::default()
                    },
                )
                .expect("garbage faults");
        }
        run.start_in_process().await;
        let injected = Instant::now();
        let tag = rng.next_u64();
        let malformed_id = format!("poison-malformed-{tag:x}");
        let unknown_id = format!("poison-unknown-version-{tag:x}");
        let registry = captured
            .iter()
            .find(|c| c.routing_key == RegistryCooperative::TYPE)
            .expect("a captured registry record");
        let mut v9: serde_json::Value =
            serde_json::from_slice(&registry.body).expect("captured JSON");
        v9["type"] = RegistryCooperative::TYPE.replace(".v1", ".v9").into();
        v9["id"] = unknown_id.clone().into();
        let poison = vec![
            OutgoingMessage {
                exchange: hub_contracts::registry::exchanges::SOURCE.into(),
                routing_key: RegistryCooperative::TYPE.into(),
                message_id: malformed_id.clone(),
                contract_type: RegistryCooperative::TYPE.into(),
                body: b"{\"specversion\": \"1.0\", \"id\": ".to_vec(),
                headers: Default::default(),
            },
            OutgoingMessage {
                exchange: hub_contracts::registry::exchanges::SOURCE.into(),
                routing_key: RegistryCooperative::TYPE.into(),
                message_id: unknown_id.clone(),
                contract_type: RegistryCooperative::TYPE.into(),
                body: serde_json::to_vec(&v9).expect("json"),
                headers: Default::default(),
            },
        ];
        run.publish(&poison).await;
        let mut expected = golden.clone();
        for q in [RECONCILER_QUEUE, INDICATORS_QUEUE] {
            expected.dead_letters.insert(
                q.to_owned(),
                [malformed_id.clone(), unknown_id.clone()].into(),
            );
        }
        let outcome = run.reach(&expected, injected, RECOVERY_DEADLINE).await;
        let garbage: u64 = [System::CoopAlliance, System::LoanFund, System::Ntm]
            .into_iter()
            .map(|s| run.sims.stats(s).garbage)
            .sum();
        let r = row(
            "poison (malformed JSON, unknown version) + garbage source",
            outcome,
            &expected,
            format!("2 poison messages; {garbage} garbage answers served"),
        );
        rows.push(finish(run, r).await);
    }

    // ── 429 storms and expired tokens ────────────────────────────────────────────────────
    {
        let mut run = Run::prepare().await;
        for (system, update) in [
            (
                System::CoopAlliance,
                FaultsUpdate {
                    rate_429: Some(0.3),
                    retry_after_secs: Some(1),
                    ..FaultsUpdate::default()
                },
            ),
            (
                System::LoanFund,
                FaultsUpdate {
                    rate_429: Some(0.3),
                    retry_after_secs: Some(1),
                    token_lifetime_secs: Some(30),
                    ..FaultsUpdate::default()
                },
            ),
            (
                System::Ntm,
                FaultsUpdate {
                    rate_5xx: Some(0.15),
                    ..FaultsUpdate::default()
                },
            ),
        ] {
            run.sims
                .update_faults(system, &update)
                .expect("storm faults");
        }
        let injected = Instant::now();
        run.start_in_process().await;
        // the loan fund's tokens are expired once it has answered a few requests (a token
        // was issued and used), after a random delay
        let sims = &run.sims;
        hub_test_support::eventually(
            "the loan fund to answer 3 requests",
            Duration::from_secs(60),
            || async { (sims.stats(System::LoanFund).requests >= 3).then_some(()) },
        )
        .await;
        tokio::time::sleep(rng.delay(300)).await;
        let expired = run.sims.expire_tokens();
        let outcome = run.reach(&golden, injected, RECOVERY_DEADLINE).await;
        let stats: Vec<String> = [System::CoopAlliance, System::LoanFund, System::Ntm]
            .into_iter()
            .map(|s| {
                let st = run.sims.stats(s);
                format!(
                    "{s:?} {} requests, {} x 429, {} x 5xx",
                    st.requests, st.rate_limited, st.server_errors
                )
            })
            .collect();
        let r = row(
            "429 storm (30%), ntm 5xx (15%), tokens expired mid-sync",
            outcome,
            &golden,
            format!("{expired} live token(s) expired; {}", stats.join(", ")),
        );
        rows.push(finish(run, r).await);
    }

    let table = print_table(&rows);
    println!("fault suite: {:.1}s", suite.elapsed().as_secs_f64());
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| !r.survived)
        .map(|r| format!("{}: {}", r.fault, r.note))
        .collect();
    assert!(
        failed.is_empty(),
        "after these faults the end state differs from the fault-free run's (same world, \
         same inputs):\n{}\n{table}",
        failed.join("\n")
    );
}

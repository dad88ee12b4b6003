//! Proof under faults (issue 8), the SIGKILL part: each service, run as a `hub` process, is
//! killed with SIGKILL at a random point of the flow and started again; the end state must
//! equal the fault-free run's (same partition of source records into organisations, same
//! snapshot content hash, same projection and golden-record versions, every queue empty, no
//! dead letters). The rest of the fault suite is `tests/faults.rs` (hub-e2e); both share
//! its harness, `hub_e2e::faults_harness`.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hub_e2e::faults_harness::{RECOVERY_DEADLINE, Rng, Row, Run, print_table, row};

const SERVICES: [&str; 6] = [
    "reconciler",
    "indicators",
    "inbound",
    "adapter coop-alliance",
    "adapter loan-fund",
    "adapter ntm",
];

/// The services of one run, as child processes of the `hub` binary; killed when dropped.
struct Processes {
    env: BTreeMap<String, String>,
    children: BTreeMap<&'static str, Child>,
    logs: std::path::PathBuf,
}

impl Processes {
    fn new(run: &Run, reconciler_http: std::net::SocketAddr) -> Self {
        let c = &run.env.config;
        let s = run.sources();
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("AMQP_URL", c.amqp_url.clone()),
            ("DATABASE_URL", c.database_url.clone()),
            ("HUB_NAMESPACE", c.hub_namespace.clone()),
            ("RETRY_ATTEMPTS", c.retry_attempts.to_string()),
            ("RETRY_INITIAL_MS", c.retry_initial_ms.to_string()),
            ("RETRY_MAX_MS", c.retry_max_ms.to_string()),
            ("RUST_LOG", "warn".into()),
            ("COOP_ALLIANCE_POLL_SECS", "1".into()),
            ("LOAN_FUND_POLL_SECS", "1".into()),
            ("NTM_POLL_SECS", "1".into()),
            ("AS_OF", run.params.as_of.to_string()),
            ("DEBOUNCE_MS", "300".into()),
            ("RECONCILER_HTTP_ADDR", reconciler_http.to_string()),
            ("SERVICE_TOKENS", run.service_token.clone()),
        ] {
            env.insert(k.to_owned(), v);
        }
        // the simulated systems' URLs and credentials, as the pipeline gives its adapters
        env.extend(s.variables);
        let logs = std::env::temp_dir().join(format!("hub-faults-kill-{}", c.hub_namespace));
        std::fs::create_dir_all(&logs).expect("log directory");
        Processes {
            env,
            children: BTreeMap::new(),
            logs,
        }
    }

    /// Starts `service` (`reconciler`, `adapter ntm`, …) as `hub <service>`.
    fn spawn(&mut self, service: &'static str) {
        let bin = env!("CARGO_BIN_EXE_hub");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("{}.log", service.replace(' ', "-"))))
            .expect("log file");
        let mut cmd = Command::new(bin);
        cmd.args(service.split(' '))
            .envs(
                self.env
                    .iter()
                    .filter(|(k, _)| *k != "RECONCILER_HTTP_ADDR"),
            )
            .env_remove("HUB_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if service == "reconciler" {
            cmd.env("HTTP_ADDR", &self.env["RECONCILER_HTTP_ADDR"]);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} {service}: {e}"));
        self.children.insert(service, child);
    }

    /// SIGKILL, reaped.
    fn kill(&mut self, service: &'static str) {
        let mut child = self.children.remove(service).expect("service running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Every service still running (none exited by itself).
    fn exited(&mut self) -> Vec<String> {
        self.children
            .iter_mut()
            .filter_map(|(name, c)| {
                c.try_wait()
                    .ok()
                    .flatten()
                    .map(|status| format!("{name} exited: {status}"))
            })
            .collect()
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, mut c) in std::mem::take(&mut self.children) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// A run with every service as a process: consumers first (their queues must exist before
/// anything is published), then the adapters. Err (with the processes, to be dropped) when
/// the consumers' queues do not appear within a minute.
async fn start_processes(run: &mut Run) -> Result<Processes, (Processes, String)> {
    let addr = free_port();
    run.reconciler_http = addr;
    run.services = Some(hub_e2e::faults_harness::Services::External);
    let mut p = Processes::new(run, addr);
    for s in ["reconciler", "indicators", "inbound"] {
        p.spawn(s);
    }
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        match run.queue_depths().await {
            Ok(_) => break,
            Err(e) if Instant::now() >= until => {
                let exited = p.exited();
                return Err((
                    p,
                    format!("the consumers' queues did not appear within 60 s: {e}; {exited:?}"),
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    for s in ["adapter coop-alliance", "adapter loan-fund", "adapter ntm"] {
        p.spawn(s);
    }
    Ok(p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_service_killed_at_a_random_point_loses_nothing_and_doubles_nothing() {
    let suite = Instant::now();
    let mut rng = Rng::from_env();
    let mut rows: Vec<Row> = Vec::new();

    // the fault-free run, with the services as processes too
    let mut run = Run::prepare().await;
    let started = Instant::now();
    let mut procs = start_processes(&mut run)
        .await
        .unwrap_or_else(|(_, e)| panic!("the fault-free run cannot start: {e}"));
    let golden = run
        .settle(Duration::from_secs(180), Duration::from_millis(2500))
        .await;
    let exited = procs.exited();
    assert!(exited.is_empty(), "services exited: {exited:?}");
    assert!(
        golden.dead_letters.values().all(|ids| ids.is_empty()),
        "the fault-free run dead-lettered nothing: {:?}",
        golden.dead_letters
    );
    println!(
        "fault-free (processes): {} organisations, {} source refs, projection {:?}, golden versions {}, content hash {}",
        golden.partition.len(),
        golden.refs().len(),
        golden.projection,
        golden.golden_versions,
        golden.content_hash
    );
    rows.push(Row {
        fault: "none (fault-free run, services as processes)".into(),
        survived: true,
        lost: 0,
        doubled: 0,
        recovery: started.elapsed(),
        note: format!("{} organisations", golden.partition.len()),
    });
    let logs = procs.logs.clone();
    drop(procs);
    run.finish().await;
    let _ = std::fs::remove_dir_all(logs);

    let total = golden.projection["reconciler.observations"];
    for service in SERVICES {
        let mut run = Run::prepare().await;
        let mut procs = match start_processes(&mut run).await {
            Ok(p) => p,
            Err((p, e)) => {
                drop(p);
                run.finish().await;
                rows.push(Row {
                    fault: format!("SIGKILL {service}, then restart"),
                    survived: false,
                    lost: 0,
                    doubled: 0,
                    recovery: Duration::ZERO,
                    note: format!("could not start: {e}"),
                });
                continue;
            }
        };
        // a random point of the flow: after 5–60 % of the records were observed, and a
        // random delay
        let share = 5 + rng.below(56) as i64;
        run.wait_observations((total * share / 100).max(1)).await;
        tokio::time::sleep(rng.delay(500)).await;
        let before = run.observations().await.unwrap_or(-1);
        let injected = Instant::now();
        procs.kill(service);
        procs.spawn(service);
        let outcome = run.reach(&golden, injected, RECOVERY_DEADLINE).await;
        let exited = procs.exited();
        let mut r = row(
            &format!("SIGKILL {service}, then restart"),
            outcome,
            &golden,
            format!("killed after {before} of {total} observations"),
        );
        if !exited.is_empty() {
            r.survived = false;
            r.note.push_str(&format!("; {exited:?}"));
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
        rows.push(r);
        let logs = procs.logs.clone();
        drop(procs);
        run.finish().await;
        let _ = std::fs::remove_dir_all(logs);
    }

    let table = print_table(&rows);
    println!("kill suite: {:.1}s", suite.elapsed().as_secs_f64());
    assert!(
        rows.iter().all(|r| r.survived),
        "a kill was not survived:{table}"
    );
}

//! The `hub` operator commands against a console running in-process on the real broker and
//! database, with real services behind it: dead letters made by a real consumer, a real
//! coop-alliance adapter syncing a simulator, a real hub-indicators.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{declare, hub, service_tokens, start_console, token};
use hub_contracts::Envelope;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{IdentityMerged, SourceRef};
use hub_runtime::QueueSpec;
use hub_runtime::messaging::{Consumer, HandlerError, Incoming, OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::free_addr;
use hub_test_support::{TestEnv, eventually};
use tokio::sync::mpsc;

const QUEUE: &str = "consoletest.work";

fn merged(n: u128) -> OutgoingMessage {
    let data = IdentityMerged {
        survivor: uuid::Uuid::from_u128(n),
        absorbed: vec![uuid::Uuid::from_u128(n + 100)],
        moved_refs: vec![SourceRef::new("loan-fund", format!("L-{n}"))],
        reason: "same tax code".into(),
        decided_by: None,
        decision_id: uuid::Uuid::from_u128(n + 200),
        at: chrono::Utc::now(),
    };
    let mut msg =
        OutgoingMessage::from_envelope(&Envelope::new(format!("m-{n}"), "urn:coophub:test", data));
    // personal data the consumer does not know (readers tolerate unknown fields)
    let mut body: serde_json::Value = serde_json::from_slice(&msg.body).expect("json");
    body["data"]["representative"] =
        serde_json::json!({ "full_name": "Lò Văn Minh", "phone": "+84912345678" });
    msg.body = serde_json::to_vec(&body).expect("json");
    msg
}

#[tokio::test]
async fn dlq_commands_inspect_replay_and_discard_through_the_console_and_are_audited() {
    let env = TestEnv::new().await;
    let spec = QueueSpec::new(QUEUE).bind(exchanges::IDENTITY, "identity.merged.v1");
    declare(&env, std::slice::from_ref(&spec)).await;

    // a consumer that fails every message until it is "fixed"
    let fixed = Arc::new(AtomicBool::new(false));
    let (tx, mut handled) = mpsc::unbounded_channel();
    let stop = CancellationToken::new();
    let f = fixed.clone();
    let consumer = Consumer::new(env.broker("work"), spec.clone(), move |m: Incoming| {
        let (f, tx) = (f.clone(), tx.clone());
        async move {
            let env = m.decode::<IdentityMerged>()?;
            if !f.load(Ordering::SeqCst) {
                return Err(HandlerError::permanent(
                    "no rule for absorbed organisations yet",
                ));
            }
            let _ = tx.send(env.id);
            Ok(())
        }
    })
    .retry(env.retry_policy());
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    let publisher = Publisher::new(env.broker("test-publisher"));
    publisher
        .publish_batch(&[merged(1), merged(2)])
        .await
        .expect("confirmed");

    let console = start_console(&env, |c| c.dlq_queues = vec![QUEUE.into()]).await;
    let viewer = token(&console.base, "viewer").await;
    let admin = token(&console.base, "admin").await;

    // both dead-lettered: the overview counts them
    let overview = eventually("two dead letters", Duration::from_secs(30), || {
        let (base, viewer) = (console.base.clone(), viewer.clone());
        async move {
            let out = hub(&base, &viewer, &["dlq", "list"]).await.ok()?;
            out.contains("dead letters 2").then_some(out)
        }
    })
    .await;
    assert!(overview.contains(QUEUE), "{overview}");
    let status = hub(&console.base, &viewer, &["status"])
        .await
        .expect("status");
    assert!(
        status.contains("QUEUES") && status.contains(&format!("{QUEUE}\t0\t2")),
        "{status}"
    );

    // listing gives each with its reason
    let list = hub(&console.base, &viewer, &["dlq", "list", QUEUE])
        .await
        .expect("list");
    assert!(list.starts_with("2 dead letter(s)"), "{list}");
    assert!(list.contains("m-1") && list.contains("m-2"), "{list}");
    assert!(
        list.contains("no rule for absorbed organisations yet"),
        "{list}"
    );

    // a viewer sees the body with personal data masked, an admin as it is
    let shown = hub(&console.base, &viewer, &["dlq", "show", QUEUE, "m-2"])
        .await
        .expect("show");
    assert!(shown.contains("L** V** M***"), "{shown}");
    assert!(
        !shown.contains("912345678") && !shown.contains("Lò Văn Minh"),
        "{shown}"
    );
    let shown = hub(&console.base, &admin, &["dlq", "show", QUEUE, "m-2"])
        .await
        .expect("show");
    assert!(
        shown.contains("Lò Văn Minh") && shown.contains("+84912345678"),
        "{shown}"
    );
    assert!(shown.contains("identity.merged.v1"), "{shown}");

    // a viewer may not act
    let e = hub(&console.base, &viewer, &["dlq", "replay", QUEUE, "m-1"])
        .await
        .expect_err("viewer");
    assert!(e.contains("forbidden") && e.contains("admin"), "{e}");

    // after the fix, the admin replays one and discards the other
    fixed.store(true, Ordering::SeqCst);
    let out = hub(&console.base, &admin, &["dlq", "replay", QUEUE, "m-1"])
        .await
        .expect("replay");
    assert!(out.contains("replayed m-1"), "{out}");
    let id = tokio::time::timeout(Duration::from_secs(30), handled.recv())
        .await
        .expect("the replayed message is handled")
        .expect("open");
    assert_eq!(id, "m-1");
    let out = hub(&console.base, &admin, &["dlq", "discard", QUEUE, "m-2"])
        .await
        .expect("discard");
    assert!(out.contains("discarded m-2"), "{out}");
    let list = hub(&console.base, &viewer, &["dlq", "list", QUEUE])
        .await
        .expect("list");
    assert!(list.starts_with("0 dead letter(s)"), "{list}");
    let e = hub(&console.base, &admin, &["dlq", "discard", QUEUE, "m-2"])
        .await
        .expect_err("gone");
    assert!(e.contains("404"), "{e}");

    // every action is in the audit log: who, what, which message, outcome
    let audit = hub(&console.base, &viewer, &["audit"])
        .await
        .expect("audit");
    let lines: Vec<&str> = audit.lines().filter(|l| l.contains("dlq.")).collect();
    assert_eq!(lines.len(), 3, "{audit}");
    assert!(
        lines[0].contains("admin\tdlq.discard") && lines[0].contains("failed: 404"),
        "{audit}"
    );
    assert!(
        lines[1].contains(&format!("admin\tdlq.discard\t{QUEUE}/m-2\tok")),
        "{audit}"
    );
    assert!(
        lines[2].contains(&format!("admin\tdlq.replay\t{QUEUE}/m-1\tok")),
        "{audit}"
    );

    stop.cancel();
    consuming.await.expect("joined").expect("clean stop");
    drop(console);
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn login_status_sources_check_and_sync_against_a_real_adapter() {
    let env = TestEnv::new().await;
    let sims = hub_simulators::start(hub_simulators::SimConfig::for_tests(
        hub_simulators::WorldConfig {
            organisations: 60,
            loans: 40,
            bad_records: 4,
            ..hub_simulators::WorldConfig::new(7, hub_simulators::generate::wall_clock_now())
        },
    ))
    .await
    .expect("simulators");
    let adapter_addr = free_addr();
    let mut common = env.config.clone();
    common.http_addr = Some(adapter_addr);
    // adapters publish with `mandatory`: someone must listen to coophub.source
    let listener = QueueSpec::new("consoletest.source").bind(exchanges::SOURCE, "source.#");
    declare(&env, std::slice::from_ref(&listener)).await;
    let stop = CancellationToken::new();
    let adapter = tokio::spawn(hub_adapter_coop_alliance::run(
        hub_adapter_coop_alliance::Config {
            common,
            coop_alliance_url: sims.coop_alliance.base_url.clone(),
            coop_alliance_api_key: hub_adapter_kit::Secret::new(&sims.credentials.coop_api_key),
            coop_alliance_poll_secs: 3600,
            // the sync trigger takes the console's credential only
            service_tokens: service_tokens(),
            ..Default::default()
        },
        stop.clone(),
    ));
    let dead = free_addr(); // nothing listens there
    let console = start_console(&env, |c| {
        c.adapter_urls = vec![
            ("coop-alliance".into(), format!("http://{adapter_addr}")),
            ("ntm".into(), format!("http://{dead}")),
        ];
        c.dlq_queues = vec!["consoletest.source".into()];
    })
    .await;

    // `hub login` gives a token that works
    let client = hub_console::ops::OpsClient::new(&console.base, None);
    let mut out = Vec::new();
    hub_console::ops::execute(
        &client,
        hub_console::ops::OpsCommand::Login {
            user: "admin".into(),
        },
        Some("admin-dev"),
        &mut out,
    )
    .await
    .expect("login");
    let out = String::from_utf8(out).expect("utf-8");
    let admin = out
        .lines()
        .find_map(|l| l.strip_prefix("export HUB_TOKEN="))
        .expect("a token line")
        .to_owned();
    assert!(out.contains("admin (admin)"), "{out}");
    let viewer = token(&console.base, "viewer").await;

    // the adapter becomes ready after its first sync; the dead one is reported, and the
    // command fails because of it
    let check = eventually("coop-alliance synced", Duration::from_secs(90), || {
        let (base, viewer) = (console.base.clone(), viewer.clone());
        async move {
            let e = hub(&base, &viewer, &["sources", "check"]).await.err()?;
            let synced = e.contains("not ready: ntm") && !e.contains("coop-alliance,");
            synced.then_some(e)
        }
    })
    .await;
    assert!(check.contains("not ready: ntm"), "{check}");
    let status = eventually("last sync shown", Duration::from_secs(90), || {
        let (base, viewer) = (console.base.clone(), viewer.clone());
        async move {
            let out = hub(&base, &viewer, &["status"]).await.ok()?;
            let line = out
                .lines()
                .find(|l| l.contains("coop-alliance"))?
                .to_owned();
            (line.contains("\tready") && !line.contains("last sync -")).then_some(out)
        }
    })
    .await;
    assert!(status.contains("ntm\tNOT READY"), "{status}");
    assert!(status.contains("consoletest.source"), "{status}");

    // sync: admins only; the adapter syncs at once when asked
    let e = hub(&console.base, &viewer, &["sync", "coop-alliance"])
        .await
        .expect_err("viewer");
    assert!(e.contains("forbidden"), "{e}");
    let out = hub(&console.base, &admin, &["sync", "coop-alliance"])
        .await
        .expect("an admin triggers a sync");
    assert!(out.contains("requested"), "{out}");
    // it follows the sync to its end (a progress bar on stderr, a line on stdout)
    assert!(out.contains("sync of coop-alliance done"), "{out}");
    let e = hub(&console.base, &admin, &["sync", "nowhere"])
        .await
        .expect_err("unknown");
    assert!(e.contains("404"), "{e}");
    let audit = hub(&console.base, &admin, &["audit"]).await.expect("audit");
    assert!(
        audit.contains("admin\tsource.sync\tsource:coop-alliance\tok"),
        "{audit}"
    );

    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), adapter).await;
    drop(console);
    sims.shutdown().await;
    env.delete_queues(&[listener]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn snapshot_show_and_export_through_the_console() {
    let env = TestEnv::new().await;
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let config = hub_indicators::Config {
        common,
        unit_list: vec![hub_indicators::UnitList::Units2024],
        as_of: chrono::NaiveDate::from_ymd_opt(2025, 6, 30),
        service_tokens: service_tokens(),
        ..Default::default()
    };
    let snapshots = QueueSpec::new("consoletest.snapshots").bind(exchanges::INDICATOR, "#");
    declare(
        &env,
        &[hub_indicators::input_queue(&config), snapshots.clone()],
    )
    .await;
    let stop = CancellationToken::new();
    let indicators = hub_indicators::start(config, stop.clone())
        .await
        .expect("indicators start");
    let url = format!("http://{}", indicators.http_addr().expect("bound"));
    let console = start_console(&env, |c| c.indicators_url = Some(url)).await;
    let viewer = token(&console.base, "viewer").await;
    let admin = token(&console.base, "admin").await;

    // a recompute, asked through the console (admin), makes a snapshot
    let r = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/snapshots?units=2024&as_of=2025-06-30",
            console.base
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert!(r.status().is_success(), "{}", r.status());

    let shown = hub(
        &console.base,
        &viewer,
        &["snapshot", "show", "--units", "2024"],
    )
    .await
    .expect("show");
    assert!(
        shown.contains("lai-chau-182") && shown.contains("as of 2025-06-30"),
        "{shown}"
    );
    for i in ["I1\t", "I5\t", "I10\t"] {
        assert!(shown.contains(i), "{i} in {shown}");
    }
    assert!(
        shown.contains("Lai Châu"),
        "the province's Vietnamese name: {shown}"
    );

    let csv = hub(
        &console.base,
        &viewer,
        &[
            "snapshot", "export", "--units", "2024", "--format", "csv", "--lang", "vi",
        ],
    )
    .await
    .expect("export");
    assert!(csv.lines().count() > 10, "{csv}");
    assert!(csv.contains("Lai Châu"), "{csv}");
    let file = std::env::temp_dir().join(format!("hub-console-{}.xlsx", uuid::Uuid::new_v4()));
    let out = hub(
        &console.base,
        &viewer,
        &[
            "snapshot",
            "export",
            "--format",
            "xlsx",
            "--output",
            file.to_str().expect("utf-8"),
        ],
    )
    .await
    .expect("xlsx");
    assert!(out.starts_with("wrote "), "{out}");
    let bytes = std::fs::read(&file).expect("written");
    assert_eq!(&bytes[..2], b"PK", "an XLSX is a zip");
    let _ = std::fs::remove_file(&file);

    stop.cancel();
    drop(console);
    env.delete_queues(&[snapshots]).await;
    env.drop_database().await;
}

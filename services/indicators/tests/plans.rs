//! Several plans in one service (`PLAN_DIRS`): Lai Châu's and Điện Biên's folders, snapshots
//! computed, stored, served and exported (DHIS2 with each plan's own mapping, SDMX-JSON) per
//! plan, against a real PostgreSQL and RabbitMQ.

use std::path::PathBuf;

use chrono::NaiveDate;
use hub_contracts::Contract;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::indicator::IndicatorSnapshot;
use hub_indicators::{Config, UnitList};
use hub_runtime::messaging::QueueSpec;
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use serde_json::Value;

fn folder(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/plans")
        .join(name)
}

/// The province's DHIS2 org unit in the plan's own mapping (`dhis2-org-units.csv`).
fn map_org_unit(plan: &str, province: &str) -> String {
    let dir = if plan.starts_with("lai-chau") {
        "lai-chau"
    } else {
        "dien-bien"
    };
    let text = std::fs::read_to_string(folder(dir).join("dhis2-org-units.csv")).expect("mapping");
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("2024,{province},")))
        .expect("the province is mapped")
        .to_owned()
}

#[tokio::test]
async fn each_plan_loaded_has_its_own_snapshots() {
    let env = TestEnv::new().await;
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let token = hub_runtime::service_auth::generate_token();
    let config = Config {
        common,
        plan_dirs: vec![folder("lai-chau"), folder("dien-bien")],
        unit_list: vec![UnitList::Units2024],
        as_of: NaiveDate::from_ymd_opt(2026, 6, 30),
        service_tokens: hub_runtime::service_auth::ServiceTokens::new([token.clone()]),
        ..Config::default()
    };
    let queues = [
        hub_indicators::input_queue(&config),
        QueueSpec::new("test.plans.snapshots").bind(exchanges::INDICATOR, IndicatorSnapshot::TYPE),
    ];
    let broker = env.broker("declare");
    let ch = broker.channel().await.expect("broker reachable");
    for q in &queues {
        env.topology()
            .declare_queue(&ch, q, &env.retry_policy())
            .await
            .expect("declare");
    }
    broker.close().await;

    let stop = CancellationToken::new();
    let running = hub_indicators::start(config, stop.clone())
        .await
        .expect("service starts with two plans");
    let base = format!("http://{}", running.http_addr().expect("HTTP bound"));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(&token);
        async move {
            let resp = req.send().await.expect("http");
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // the plans loaded, the default first
    let (status, plans) = get("/api/v1/plans".into()).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = plans
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["lai-chau-182", "dien-bien-182"]);
    assert_eq!(plans[1]["province_code"], "11");

    // a recompute per plan: each its own units, indicators and version line
    for (plan, province, units, first) in [
        ("dien-bien-182", "11", 1 + 10 + 129, "HTX-MOI"),
        ("lai-chau-182", "12", 1 + 8 + 106, "I1"),
    ] {
        let resp = http
            .post(format!("{base}/api/v1/snapshots?plan={plan}&units=2024"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("http");
        assert!(resp.status().is_success(), "{plan}: {}", resp.status());
        let r: Value = resp.json().await.expect("json");
        let s: IndicatorSnapshot =
            serde_json::from_value(r["snapshot"].clone()).expect("a snapshot");
        assert_eq!(
            (s.plan_id.as_str(), s.province_code.as_str()),
            (plan, province)
        );
        assert_eq!(s.units.len(), units);
        assert_eq!(s.units[0].values[0].indicator, first);

        let (status, latest) = get(format!("/api/v1/snapshots/latest?plan={plan}")).await;
        assert_eq!(status, 200);
        assert_eq!(latest["plan_id"], plan);
        assert_eq!(latest["content_hash"], s.content_hash.as_str());
        let (_, versions) = get(format!("/api/v1/snapshots?plan={plan}")).await;
        assert_eq!(versions["plan_id"], plan);
        assert!(!versions["versions"].as_array().expect("list").is_empty());
        let (status, p) = get(format!("/api/v1/plan?plan={plan}")).await;
        assert_eq!((status, p["id"].as_str()), (200, Some(plan)));
        let (status, h) = get(format!(
            "/api/v1/indicators/{first}/history?plan={plan}&unit={province}"
        ))
        .await;
        assert_eq!((status, h["plan_id"].as_str()), (200, Some(plan)));
        // each plan's snapshot exports with its own DHIS2 mapping and as SDMX-JSON
        let (status, dhis2) = get(format!(
            "/api/v1/snapshots/latest/export?format=dhis2&units=2024&plan={plan}"
        ))
        .await;
        assert_eq!(status, 200, "{plan}: {dhis2}");
        let org = map_org_unit(plan, province);
        assert!(
            dhis2["dataValues"]
                .as_array()
                .is_some_and(|v| v.iter().any(|d| d["orgUnit"] == org.as_str())),
            "{plan}: the province's org unit {org}"
        );
        let (status, sdmx) = get(format!(
            "/api/v1/snapshots/latest/export?format=sdmx&units=2024&plan={plan}"
        ))
        .await;
        assert_eq!(status, 200, "{plan}: {sdmx}");
        assert_eq!(
            sdmx["header"]["id"],
            format!("coophub-{plan}-2024-v{}", s.version),
            "{plan}"
        );
    }
    // without `plan`: the default (the first folder)
    let (_, latest) = get("/api/v1/snapshots/latest".into()).await;
    assert_eq!(latest["plan_id"], "lai-chau-182");
    // a plan that is not loaded
    let (status, e) = get("/api/v1/snapshots/latest?plan=son-la".into()).await;
    assert_eq!(status, 404, "{e}");

    stop.cancel();
    running.stopped().await.expect("stopped");
    env.delete_queues(&queues).await;
    env.drop_database().await;
}

#[tokio::test]
async fn two_folders_with_one_plan_id_stop_the_service_at_start() {
    let config = Config {
        plan_dirs: vec![folder("lai-chau"), folder("lai-chau")],
        ..Config::default()
    };
    let e = match hub_indicators::start(config, CancellationToken::new()).await {
        Ok(_) => panic!("two plans with one id must not start"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("lai-chau-182 is also the id of"), "{e}");
}

//! The console over a real hub-indicators carrying two plans (`PLAN_DIRS`: Lai Châu's and
//! Điện Biên's folders), against a real PostgreSQL and RabbitMQ: an admin recomputes each
//! plan's snapshot through the console's API (`plan=`, audited with the plan), the API and the
//! dashboard show the province chosen (its selector, its own indicators and units, its exports
//! and report carrying the plan), the default being the first plan.

mod common;

use std::path::PathBuf;

use chrono::NaiveDate;
use common::{declare, service_tokens, start_console, token};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use reqwest::StatusCode;
use serde_json::Value;

fn folder(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/plans")
        .join(name)
}

/// A session cookie of a dev user, from the login form.
async fn session(base: &str, user: &str) -> String {
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{base}/login"))
        .form(&[
            ("username", user),
            ("password", &format!("{user}-dev")),
            ("next", "/"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {user}");
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    set.split(';').next().expect("pair").to_owned()
}

#[tokio::test]
async fn the_console_shows_the_province_chosen_and_recomputes_each_plan() {
    let env = TestEnv::new().await;
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let config = hub_indicators::Config {
        common,
        plan_dirs: vec![folder("lai-chau"), folder("dien-bien")],
        unit_list: vec![hub_indicators::UnitList::Units2024],
        as_of: NaiveDate::from_ymd_opt(2026, 6, 30),
        service_tokens: service_tokens(),
        ..Default::default()
    };
    declare(&env, &[hub_indicators::input_queue(&config)]).await;
    let stop = CancellationToken::new();
    let indicators = hub_indicators::start(config, stop.clone())
        .await
        .expect("indicators with two plans");
    let indicators_url = format!("http://{}", indicators.http_addr().expect("bound"));
    let console = start_console(&env, |c| c.indicators_url = Some(indicators_url)).await;
    let base = console.base.clone();
    let admin = token(&base, "admin").await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let req = http.get(format!("{base}{path}")).bearer_auth(&admin);
        async move {
            let r = req.send().await.expect("answers");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    // the plans the hub carries, through the console
    let (status, plans) = get("/api/v1/plans".into()).await;
    assert_eq!(status, StatusCode::OK, "{plans}");
    let ids: Vec<&str> = plans
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["lai-chau-182", "dien-bien-182"]);
    let (_, plan) = get("/api/v1/plan?plan=dien-bien-182".into()).await;
    assert_eq!(plan["id"], "dien-bien-182");
    let (_, plan) = get("/api/v1/plan".into()).await;
    assert_eq!(plan["id"], "lai-chau-182", "the default: the first plan");

    // an admin recomputes each plan's snapshot through the console
    for (query, plan_id, units) in [
        (
            "plan=dien-bien-182&units=2024",
            "dien-bien-182",
            1 + 10 + 129,
        ),
        ("units=2024", "lai-chau-182", 1 + 8 + 106),
    ] {
        let r = http
            .post(format!("{base}/api/v1/snapshots?{query}"))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::OK, "{query}");
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["snapshot"]["plan_id"], plan_id, "{query}");
        assert_eq!(
            v["snapshot"]["units"].as_array().map(Vec::len),
            Some(units),
            "{query}"
        );
        let (status, latest) = get(format!("/api/v1/snapshots/latest?plan={plan_id}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            (&latest["plan_id"], &latest["content_hash"]),
            (&v["snapshot"]["plan_id"], &v["snapshot"]["content_hash"])
        );
    }
    // the audit keeps which plan was recomputed
    let (_, audit) = get("/api/v1/audit".into()).await;
    let text = audit.to_string();
    assert!(text.contains("snapshots:dien-bien-182:2024"), "{text}");
    // the DHIS2 export of Điện Biên's snapshot, through the console: its own org units
    let r = http
        .get(format!(
            "{base}/api/v1/snapshots/latest/export?format=dhis2&units=2024&plan=dien-bien-182"
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    let dhis2: Value = r.json().await.expect("json");
    assert_eq!(dhis2["dataSet"], "DbCoop182DS");

    // the dashboard: the province chosen, its selector, its indicators and units
    let viewer = session(&base, "viewer").await;
    let page = |path: &'static str| {
        let req = http.get(format!("{base}{path}")).header("cookie", &viewer);
        async move {
            let r = req.send().await.expect("answers");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.text().await.expect("html")
        }
    };
    let html = page("/indicators?plan=dien-bien-182&units=2024").await;
    assert!(
        html.contains("<option value=\"dien-bien-182\" selected>Tỉnh Điện Biên (dien-bien-182)"),
        "the selector shows Điện Biên chosen"
    );
    assert!(html.contains("<option value=\"lai-chau-182\">Tỉnh Lai Châu (lai-chau-182)"));
    assert!(
        html.contains("HTX, THT thành lập mới do Hội Nông dân hỗ trợ"),
        "its own indicators"
    );
    assert!(html.contains("Huyện Tủa Chùa (098)"), "its own units");
    assert!(
        !html.contains("Huyện Tam Đường"),
        "none of Lai Châu's units"
    );
    assert!(html.contains("format=dhis2&amp;units=2024&amp;plan=dien-bien-182"));
    let html = page("/indicators?units=2024").await;
    assert!(
        html.contains("<option value=\"lai-chau-182\" selected>"),
        "the default"
    );
    assert!(html.contains("Huyện Tam Đường"));
    // the printable report of the province chosen, its XLSX link carrying the plan
    let html = page("/indicators/report?plan=dien-bien-182&units=2024").await;
    assert!(html.contains("Điện Biên"), "Điện Biên's report");
    assert!(
        html.contains("format=xlsx&amp;lang=vi&amp;units=2024&amp;plan=dien-bien-182"),
        "the XLSX link carries the plan"
    );

    console.stop.cancel();
    stop.cancel();
    indicators.stopped().await.expect("stopped");
    env.delete_queues(&[hub_indicators::input_queue(
        &hub_indicators::Config::default(),
    )])
    .await;
    env.drop_database().await;
}

//! The console in a real headless Chromium: logging in, the pipeline page, the indicator
//! dashboard over a real hub-indicators, dead letters (masked for a viewer, discarded by an
//! admin) and the audit log; screenshots of each page.

mod common;

use std::time::Duration;

use common::{declare, service_tokens, start_console, token};
use fantoccini::Locator;
use hub_contracts::registry::exchanges;
use hub_runtime::QueueSpec;
use hub_runtime::messaging::{Consumer, HandlerError, Incoming, OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::browser::Browser;
use hub_test_support::{TestEnv, eventually};

const QUEUE: &str = "consoletest.browser";

#[tokio::test]
async fn pages_in_a_real_browser_indicators_dead_letters_and_audit() {
    let env = TestEnv::new().await;
    // hub-indicators, with two snapshots so that charts have a history
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let config = hub_indicators::Config {
        common,
        unit_list: vec![hub_indicators::UnitList::Units2024],
        service_tokens: service_tokens(),
        ..Default::default()
    };
    let snapshots = QueueSpec::new("consoletest.snapshots").bind(exchanges::INDICATOR, "#");
    let work = QueueSpec::new(QUEUE).bind(exchanges::IDENTITY, "identity.#");
    declare(
        &env,
        &[
            hub_indicators::input_queue(&config),
            snapshots.clone(),
            work.clone(),
        ],
    )
    .await;
    let stop = CancellationToken::new();
    let indicators = hub_indicators::start(config, stop.clone())
        .await
        .expect("indicators");
    let indicators_url = format!("http://{}", indicators.http_addr().expect("bound"));

    // a consumer that cannot handle what it gets: one dead letter with personal data
    let consumer = Consumer::new(env.broker("work"), work.clone(), |_m: Incoming| async {
        Err::<(), _>(HandlerError::permanent(
            "commune code 99999 is not in the reference units",
        ))
    })
    .retry(env.retry_policy());
    let consuming = tokio::spawn(consumer.run(stop.clone()));
    let body = serde_json::json!({
        "specversion": "1.0", "id": "dl-1", "source": "urn:coophub:test", "time": "2025-06-30T10:00:00Z", "datacontenttype": "application/json", "dataschema": "urn:coophub:schema:identity.golden_record.v1", "correlationid": "dl-1",
        "type": "identity.golden_record.v1", "data": {
            "name": "HTX Nông nghiệp Bình Lư", "commune_code": "99999",
            "representative": { "full_name": "Tòng Thị Hoa", "phone": "+84987654321" }
        }
    });
    Publisher::new(env.broker("pub"))
        .publish(&OutgoingMessage {
            exchange: exchanges::IDENTITY.into(),
            routing_key: "identity.golden_record.v1".into(),
            message_id: "dl-1".into(),
            contract_type: "identity.golden_record.v1".into(),
            body: serde_json::to_vec(&body).expect("json"),
            headers: Default::default(),
        })
        .await
        .expect("confirmed");

    let console = start_console(&env, |c| {
        c.indicators_url = Some(indicators_url);
        c.dlq_queues = vec![QUEUE.into()];
    })
    .await;
    let admin = token(&console.base, "admin").await;
    let http = reqwest::Client::new();
    for as_of in ["2025-03-31", "2025-06-30"] {
        let r = http
            .post(format!(
                "{}/api/v1/snapshots?units=2024&as_of={as_of}",
                console.base
            ))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("answers");
        assert!(r.status().is_success(), "recompute {as_of}: {}", r.status());
    }
    eventually("the dead letter", Duration::from_secs(30), || {
        let (base, admin) = (console.base.clone(), admin.clone());
        async move {
            let v: serde_json::Value = reqwest::Client::new()
                .get(format!("{base}/api/v1/dlq"))
                .bearer_auth(&admin)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            (v["queues"][0]["dead_letters"] == 1).then_some(())
        }
    })
    .await;

    let b = Browser::start().await;
    let mut shots = Vec::new();
    b.client
        .goto(&format!("{}/indicators", console.base))
        .await
        .expect("goto");
    assert!(
        b.client
            .current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/login")
    );
    shots.push(b.screenshot("login").await);
    b.login(&console.base, "viewer").await;

    // pipeline health
    b.client.goto(&console.base).await.expect("goto");
    let text = b.text().await;
    assert!(text.contains("Tình trạng luồng dữ liệu"), "{text}");
    assert!(text.contains(QUEUE), "{text}");
    shots.push(b.screenshot("pipeline").await);

    // the indicator dashboard: every indicator against both targets, with a chart
    b.client
        .goto(&format!("{}/indicators?units=2024", console.base))
        .await
        .expect("goto");
    let text = b.text().await;
    assert!(
        text.contains("Chỉ tiêu kế hoạch") && text.contains("Lai Châu"),
        "{text}"
    );
    assert!(
        text.contains("2025 target") && text.contains("2030 target"),
        "{text}"
    );
    let cards = b
        .client
        .find_all(Locator::Css("#indicators .indicator"))
        .await
        .expect("cards");
    assert_eq!(cards.len(), 10, "I1 to I10");
    let charts = b
        .client
        .find_all(Locator::Css("#indicators svg.chart"))
        .await
        .expect("charts");
    assert_eq!(charts.len(), 10);
    let points = b
        .client
        .find_all(Locator::Css("#indicators svg.chart circle"))
        .await
        .expect("points");
    assert!(
        points.len() >= 2,
        "two snapshots give points: {}",
        points.len()
    );
    shots.push(b.screenshot("indicators").await);
    // per unit: pick a district
    let options = b
        .client
        .find_all(Locator::Css("#unit option"))
        .await
        .expect("units");
    assert!(options.len() > 8, "province, districts, communes");
    let district = options[1]
        .attr("value")
        .await
        .expect("attr")
        .expect("value");
    b.client
        .goto(&format!(
            "{}/indicators?units=2024&unit={district}",
            console.base
        ))
        .await
        .expect("goto");
    let selected = b
        .client
        .find(Locator::Css("#unit option[selected]"))
        .await
        .expect("selected");
    assert_eq!(
        selected.attr("value").await.expect("attr").as_deref(),
        Some(district.as_str())
    );

    // dead letters: the reason, the body masked for a viewer, no action offered
    b.client
        .goto(&format!("{}/dlq", console.base))
        .await
        .expect("goto");
    let text = b.text().await;
    assert!(
        text.contains("commune code 99999 is not in the reference units"),
        "{text}"
    );
    shots.push(b.screenshot("dead-letters").await);
    b.client
        .goto(&format!("{}/dlq/{QUEUE}/dl-1", console.base))
        .await
        .expect("goto");
    let text = b.text().await;
    assert!(
        text.contains("T*** T** H**") && !text.contains("Tòng Thị Hoa"),
        "{text}"
    );
    assert!(!text.contains("987654321"), "{text}");
    assert!(
        text.contains("HTX Nông nghiệp Bình Lư"),
        "organisations are not personal data"
    );
    assert!(
        b.client
            .find(Locator::Css("button[name=discard]"))
            .await
            .is_err()
    );

    // an admin sees it whole and discards it
    b.client
        .find(Locator::Css("header form button"))
        .await
        .expect("logout")
        .click()
        .await
        .expect("clicked");
    b.login(&console.base, "admin").await;
    b.client
        .goto(&format!("{}/dlq/{QUEUE}/dl-1", console.base))
        .await
        .expect("goto");
    let text = b.text().await;
    assert!(
        text.contains("Tòng Thị Hoa") && text.contains("+84987654321"),
        "{text}"
    );
    shots.push(b.screenshot("dead-letter").await);
    b.client
        .find(Locator::Css("button[name=discard]"))
        .await
        .expect("discard button")
        .click()
        .await
        .expect("clicked");
    let notice = b
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("notice"))
        .await
        .expect("done notice");
    assert!(notice.text().await.expect("text").contains("discard"));
    assert!(b.text().await.contains("No dead letters."));

    // the audit log shows who did what to which message
    b.client
        .goto(&format!("{}/audit", console.base))
        .await
        .expect("goto");
    let rows = b
        .client
        .find_all(Locator::Css("#audit tr"))
        .await
        .expect("rows");
    let mut found = false;
    for r in rows {
        let t = r.text().await.expect("text");
        if t.contains("admin")
            && t.contains("dlq.discard")
            && t.contains(&format!("{QUEUE}/dl-1"))
            && t.contains("ok")
        {
            found = true;
        }
    }
    assert!(found, "{}", b.text().await);
    shots.push(b.screenshot("audit").await);

    b.close().await;
    for s in &shots {
        println!("screenshot: {}", s.display());
    }
    stop.cancel();
    let _ = consuming.await;
    drop(console);
    env.delete_queues(&[snapshots, work]).await;
    env.drop_database().await;
}

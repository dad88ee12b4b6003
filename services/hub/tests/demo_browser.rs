//! The demo's first minute, in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven with `fantoccini`; fails loudly when either is missing): the
//! `hub demo` binary runs as a newcomer starts it; the console's first page lists the three
//! sources with a last sync; a reviewer resolves one of the doubtful pairs the demo planted;
//! the log shows the decision in Vietnam time (UTC+7, to the second) with the organisation's
//! name, and its row links to the two records side by side. Screenshots of each page (under
//! `docs/screenshots/` with `UPDATE_SCREENSHOTS=1`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use fantoccini::Locator;
use hub_test_support::browser::Browser;
use hub_test_support::{TestEnv, eventually, free_addr};

/// `dd/mm/yyyy HH:MM:SS` of an RFC 3339 time in UTC+7.
fn vietnam(rfc3339: &str) -> String {
    let t = DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time");
    let vn = FixedOffset::east_opt(7 * 3600).expect("offset");
    t.with_timezone(&vn).format("%d/%m/%Y %H:%M:%S").to_string()
}

#[tokio::test]
async fn the_demos_first_minute_sources_a_review_resolved_and_the_log_in_vietnam_time() {
    let env = TestEnv::new().await;
    let demo_db = format!("{}_demo", env.database);
    let [console, reconciler, indicators, coop, loans, ntm] = [(); 6].map(|_| free_addr());
    let users =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/console/users.dev.toml");
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"))
        .arg("demo")
        .args(["--console-addr", &console.to_string()])
        .args(["--reconciler-addr", &reconciler.to_string()])
        .args(["--indicators-addr", &indicators.to_string()])
        .args(["--adapter-addrs", &format!("{coop},{loans},{ntm}")])
        .args([
            "--coop-addr",
            "127.0.0.1:0",
            "--loan-addr",
            "127.0.0.1:0",
            "--ntm-addr",
            "127.0.0.1:0",
        ])
        .args(["--database", &demo_db])
        .arg("--users-file")
        .arg(&users)
        .env("DATABASE_URL", &env.config.database_url)
        .env("AMQP_URL", &env.config.amqp_url)
        .env("HUB_NAMESPACE", &env.config.hub_namespace)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("hub demo starts");
    let base = format!("http://{console}");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = demo.try_wait().expect("demo process") {
            panic!("hub demo exited before its console answered: {status}");
        }
        let up = reqwest::get(format!("{base}/login"))
            .await
            .is_ok_and(|r| r.status().is_success());
        if up {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the demo's console did not answer within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let b = Browser::start().await;
    b.login(&base, "reviewer").await;

    // 1. the first page lists the three sources, each with a last sync
    let sources = eventually(
        "three sources with a last sync",
        Duration::from_secs(150),
        || {
            let b = &b;
            let base = base.clone();
            async move {
                b.goto(&format!("{base}/")).await;
                let t = b
                    .client
                    .find(Locator::Id("sources"))
                    .await
                    .ok()?
                    .text()
                    .await
                    .ok()?;
                let rows: Vec<&str> = t.lines().skip(1).collect();
                (rows.len() == 3
                    && ["coop-alliance", "loan-fund", "ntm"]
                        .iter()
                        .all(|s| t.contains(s))
                    && rows
                        .iter()
                        .all(|r| !r.contains("never") && r.contains("ready")))
                .then_some(t)
            }
        },
    )
    .await;
    assert!(!sources.contains("no adapter configured"), "{sources}");
    let shot_health = b.screenshot("demo-first-page").await;

    // 2. doubtful pairs wait for review (a handful, not one: the demo plants five), with
    // names, districts and contributions
    let item_id = eventually("three review items", Duration::from_secs(120), || {
        let b = &b;
        let base = base.clone();
        async move {
            b.goto(&format!("{base}/review")).await;
            let items = b.client.find_all(Locator::Css(".review-item")).await.ok()?;
            if items.len() < 3 {
                return None;
            }
            items.first()?.attr("data-id").await.ok()?
        }
    })
    .await;
    let card = b
        .client
        .find(Locator::Css(&format!(".review-item[data-id='{item_id}']")))
        .await
        .expect("the item");
    let text = card.text().await.expect("text");
    assert!(
        text.contains("Huyện") || text.contains("Thành phố"),
        "a district: {text}"
    );
    assert!(
        text.contains("logit") && text.contains("name · tên"),
        "contributions inline: {text}"
    );
    let shot_review = b.screenshot("review-doubtful-pair").await;
    // the two records side by side, from the item
    let compare = card
        .find(Locator::Css("a.compare"))
        .await
        .expect("link")
        .attr("href")
        .await
        .expect("attr")
        .expect("href");
    b.goto(&format!("{base}{compare}")).await;
    let table = b
        .client
        .find(Locator::Id("compare"))
        .await
        .expect("side by side")
        .text()
        .await
        .expect("text");
    assert!(
        table.contains("name") && table.contains("commune_code"),
        "{table}"
    );
    let shot_compare = b.screenshot("review-side-by-side").await;

    // link it; while the demo's first minute settles (the reconciler's settle pass replays
    // the records once the input is quiet), an item can be superseded under the reviewer's
    // eyes: the console says so (409) and the reviewer takes the queue's item again
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let notice = loop {
        b.goto(&format!("{base}/review")).await;
        let Ok(item) = b.client.find(Locator::Css(".review-item")).await else {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the review queue emptied: {}",
                b.text().await
            );
            continue;
        };
        let form = item
            .find(Locator::Css("form[action$='/link']"))
            .await
            .expect("the item's link form");
        form.find(Locator::Css("input[name=reason]"))
            .await
            .expect("reason")
            .send_keys("Cùng HTX: tên viết tắt trong báo cáo NTM (same cooperative)")
            .await
            .expect("typed");
        form.find(Locator::Css("button"))
            .await
            .expect("button")
            .click()
            .await
            .expect("clicked");
        if let Ok(n) = b
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Id("notice"))
            .await
        {
            break n;
        }
        let page = b.text().await;
        assert!(
            page.contains("already decided") && tokio::time::Instant::now() < deadline,
            "not decided: {page}"
        );
    };
    assert!(notice.text().await.expect("text").contains("link"));

    // 3. the log shows it in Vietnam time, to the second, with the organisation's name
    let (shown, utc, row_text) =
        eventually("the decision in the log", Duration::from_secs(30), || {
            let b = &b;
            let base = base.clone();
            async move {
                b.goto(&format!("{base}/log?outcome=operator_linked")).await;
                for r in b
                    .client
                    .find_all(Locator::Css("#log tbody tr"))
                    .await
                    .ok()?
                {
                    let t = r.text().await.ok()?;
                    if !(t.contains("operator_linked") && t.contains("reviewer")) {
                        continue;
                    }
                    let cell = r.find(Locator::Css("td.time")).await.ok()?;
                    let shown = cell.text().await.ok()?;
                    let utc = cell.attr("title").await.ok()??;
                    return Some((shown, utc, t));
                }
                None
            }
        })
        .await;
    assert_eq!(shown, vietnam(&utc), "Vietnam time of {utc}");
    assert!(
        shown.len() == 19 && shown.as_bytes()[2] == b'/' && shown.as_bytes()[13] == b':',
        "dd/mm/yyyy HH:MM:SS: {shown}"
    );
    assert!(
        row_text.contains("HTX") || row_text.contains("Hợp tác xã"),
        "a name: {row_text}"
    );
    let shot_log = b.screenshot("log-vietnam-time").await;

    // the report, printable
    b.goto(&format!("{base}/indicators/report")).await;
    let report = b.text().await;
    assert!(
        report.contains("BÁO CÁO KẾT QUẢ"),
        "{}",
        &report[..report.len().min(400)]
    );
    let shot_report = b.screenshot("report-printable").await;

    b.close().await;
    for s in [
        shot_health,
        shot_review,
        shot_compare,
        shot_log,
        shot_report,
    ] {
        println!("screenshot: {}", s.display());
    }
    demo.start_kill().expect("stop the demo");
    let _ = demo.wait().await;
    drop_database(&env, &demo_db).await;
    env.drop_database().await;
}

async fn drop_database(env: &TestEnv, db: &str) {
    use std::str::FromStr;
    let opts = sqlx::postgres::PgConnectOptions::from_str(&env.config.database_url)
        .expect("url")
        .database("postgres");
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .expect("postgres");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .expect("dropped");
    admin.close().await;
}

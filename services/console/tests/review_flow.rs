//! The loop an operator closes: source records as the adapters publish them, the real
//! hub-reconciler (in-process, on the real broker and database) and the console. A reviewer logs in in a real
//! Chromium, resolves a review item, and sees the decision arrive live in the log and in the
//! golden record; the `hub review` and `hub log --follow` commands do the same from a shell.

mod common;

use std::time::Duration;

use chrono::{FixedOffset, TimeZone};
use common::{declare, hub, service_tokens, start_console, token};
use fantoccini::Locator;
use hub_contracts::Envelope;
use hub_contracts::registry::exchanges;
use hub_contracts::v1::{
    NtmCommuneReport, NtmCooperativeEntry, OrgKind, OrgStatus, Person, RegistryCooperative,
    ReportStatus, SourceMeta, SourceRef,
};
use hub_runtime::QueueSpec;
use hub_runtime::messaging::{OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::browser::Browser;
use hub_test_support::{TestEnv, eventually};
use serde_json::Value;

fn at(day: u32) -> chrono::DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600)
        .and_then(|o| o.with_ymd_and_hms(2025, 3, day, 8, 0, 0).single())
        .expect("valid time")
}

fn meta(system: &str, id: &str) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at: at(1),
        content_hash: format!("{system}/{id}"),
        raw: serde_json::json!({}),
        issues: Vec::new(),
    }
}

/// A registry record (as the coop-alliance adapter maps one).
fn registry(
    id: &str,
    name: &str,
    code: Option<&str>,
    commune: &str,
    rep: &str,
    i: usize,
) -> RegistryCooperative {
    RegistryCooperative {
        meta: meta("coop-alliance", id),
        registration_code: code.map(str::to_owned),
        kind: OrgKind::Htx,
        name: name.to_owned(),
        commune_code: Some(commune.to_owned()),
        district_code: Some(if commune == "03451" { "107" } else { "106" }.into()),
        address: Some(
            if commune == "03451" {
                "huyện Mường Tè, tỉnh Lai Châu"
            } else {
                "huyện Tam Đường, tỉnh Lai Châu"
            }
            .into(),
        ),
        representative: Some(Person {
            full_name: Some(rep.to_owned()),
            phone: Some(format!("+8491234567{i}")),
        }),
        established_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 17),
        status: Some(OrgStatus::Active),
        member_households: Some(12 + i as u32),
        farmers_union_supported: Some(true),
        origin: None,
        rating: None,
        enterprise_linkage: Some(true),
        key_officers: None,
        updated_at: at(2),
        version: 1,
    }
}

/// A commune's NTM report listing one cooperative by its short name.
fn ntm(commune: &str, entry: &str, rep: &str) -> NtmCommuneReport {
    NtmCommuneReport {
        meta: meta("ntm", &format!("{commune}:2024")),
        commune_code: commune.to_owned(),
        commune_name: None,
        district_name: None,
        year: 2024,
        revision: 1,
        status: ReportStatus::Approved,
        criteria: Vec::new(),
        cooperatives: vec![NtmCooperativeEntry {
            source_id: format!("{commune}:2024:0"),
            index: 0,
            name: entry.to_owned(),
            kind: Some(OrgKind::Htx),
            representative: Some(rep.to_owned()),
            members: Some(12),
            effective: true,
            linked_with_enterprise: Some(true),
        }],
        submitted_at: Some(at(4)),
    }
}

/// A writer that sends each complete line to a channel.
struct LineWriter(tokio::sync::mpsc::UnboundedSender<String>, Vec<u8>);

impl std::io::Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.1.extend_from_slice(buf);
        while let Some(i) = self.1.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=i).collect();
            let _ = self
                .0
                .send(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn get(base: &str, token: &str, path: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("console answers");
    assert!(r.status().is_success(), "GET {path}: {}", r.status());
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_reviewer_resolves_a_review_item_and_sees_it_in_the_log_and_the_golden_record() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    // the reconciler, its queue declared before the adapters publish
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let rconfig = hub_reconciler::Config {
        common,
        service_tokens: service_tokens(),
        ..Default::default()
    };
    let identity = QueueSpec::new("consoletest.identity").bind(exchanges::IDENTITY, "#");
    declare(
        &env,
        &[hub_reconciler::source_queue(&rconfig), identity.clone()],
    )
    .await;
    let reconciler = hub_reconciler::start(rconfig, stop.clone())
        .await
        .expect("reconciler starts");
    let reconciler_url = format!("http://{}", reconciler.http_addr.expect("bound"));

    // what the agency systems' adapters would publish: registry records, then NTM reports
    // whose short names resemble them but name another representative (doubtful pairs)
    let publisher = Publisher::new(env.broker("test-sources"));
    let mut msgs = Vec::new();
    for (i, (id, name, code, commune, rep)) in [
        (
            "LM-1",
            "Hợp tác xã chè Tả Lèng",
            None,
            "03400",
            "Lò Văn Minh",
        ),
        (
            "LM-2",
            "Hợp tác xã dược liệu Hồ Thầu",
            None,
            "03406",
            "Tòng Văn Pâng",
        ),
        (
            "LM-3",
            "Hợp tác xã nông nghiệp Bình Lư",
            Some("6200123456"),
            "03412",
            "Vàng Thị Dua",
        ),
        (
            "LM-4",
            "Hợp tác xã thảo quả Giang Ma",
            Some("6200654321"),
            "03405",
            "Lý A Chứ",
        ),
        (
            "LM-5",
            "Hợp tác xã thảo quả Mù Cả",
            None,
            "03451",
            "Lò Thị Xuân",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let data = registry(id, name, code, commune, rep, i);
        msgs.push(OutgoingMessage::from_envelope(&Envelope::new(
            format!("reg-{id}"),
            "urn:coophub:adapter:coop-alliance",
            data,
        )));
    }
    for (commune, entry, rep) in [
        ("03400", "HTX Tả Lèng", "Giàng A Páo"),
        ("03406", "HTX Hồ Thầu", "Sùng A Lử"),
        ("03451", "HTX Mù Cả", "Pờ Lò Xá"),
    ] {
        msgs.push(OutgoingMessage::from_envelope(&Envelope::new(
            format!("ntm-{commune}"),
            "urn:coophub:adapter:ntm",
            ntm(commune, entry, rep),
        )));
    }
    publisher.publish_batch(&msgs).await.expect("confirmed");

    let console = start_console(&env, |c| {
        c.reconciler_url = Some(reconciler_url);
        c.dlq_queues = vec![hub_reconciler::SOURCE_QUEUE.into()];
    })
    .await;
    let reviewer = token(&console.base, "reviewer").await;
    let viewer = token(&console.base, "viewer").await;

    // wait until the review items are open
    let items = eventually("three open review items", Duration::from_secs(120), || {
        let (base, t) = (console.base.clone(), reviewer.clone());
        async move {
            let v = get(&base, &t, "/api/v1/review").await;
            let items = v["items"].as_array()?.clone();
            (items.len() >= 3).then_some(items)
        }
    })
    .await;
    let first = items[0].clone();
    let second = items[1].clone();
    let third = items[2].clone();
    let id = first["review_id"].as_str().expect("review id").to_owned();
    let candidate = first["candidate_id"]
        .as_str()
        .expect("candidate")
        .to_owned();
    let observation = format!(
        "{}:{}",
        first["observation"]["system"].as_str().expect("system"),
        first["observation"]["id"].as_str().expect("id")
    );

    // --- in the browser ---
    let b = Browser::start().await;
    b.login(&console.base, "reviewer").await;
    // the log, live, in a first window
    b.client
        .goto(&format!("{}/log", console.base))
        .await
        .expect("goto");
    let log_window = b.client.window().await.expect("window");
    b.client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#stream-status.ok"))
        .await
        .expect("the log stream is live");
    // the review queue in a second
    let review_window = b.client.new_window(false).await.expect("new window").handle;
    b.client
        .switch_to_window(review_window)
        .await
        .expect("switch");
    b.client
        .goto(&format!("{}/review", console.base))
        .await
        .expect("goto");
    let text = b.text().await;
    assert!(
        text.contains("Hàng đợi rà soát") && text.contains(&observation),
        "{text}"
    );
    let shot_review = b.screenshot("review").await;
    let reason = "Cùng mã số thuế và địa chỉ (same tax code and address)";
    let form = b
        .client
        .find(Locator::Css(&format!(
            ".review-item[data-id='{id}'] form[action$='/link']"
        )))
        .await
        .expect("the item's link form");
    form.find(Locator::Css("input[name=reason]"))
        .await
        .expect("reason")
        .send_keys(reason)
        .await
        .expect("typed");
    form.find(Locator::Css("button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("clicked");
    let notice = b
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("notice"))
        .await
        .expect("decided");
    assert!(notice.text().await.expect("text").contains("link"));
    assert!(
        b.client
            .find(Locator::Css(&format!(".review-item[data-id='{id}']")))
            .await
            .is_err(),
        "the item left the queue"
    );

    // the decision arrived live in the log window
    b.client.switch_to_window(log_window).await.expect("switch");
    let row = eventually(
        "the decision in the live log",
        Duration::from_secs(30),
        || {
            let c = b.client.clone();
            async move {
                for r in c.find_all(Locator::Css("#log tbody tr.new")).await.ok()? {
                    let t = r.text().await.ok()?;
                    if t.contains("operator_linked") && t.contains("reviewer") {
                        return Some(t);
                    }
                }
                None
            }
        },
    )
    .await;
    assert!(row.contains(&observation), "{row}");
    let shot_log = b.screenshot("log").await;

    // and in the golden record it now belongs to
    b.client
        .goto(&format!("{}/cooperatives/{candidate}", console.base))
        .await
        .expect("goto");
    let side = b
        .client
        .find(Locator::Id("side-by-side"))
        .await
        .expect("side by side")
        .text()
        .await
        .expect("text");
    assert!(
        side.contains(&observation),
        "the linked record is a source: {side}"
    );
    let history = b
        .client
        .find(Locator::Id("history"))
        .await
        .expect("history")
        .text()
        .await
        .expect("text");
    assert!(
        history.contains("operator_linked") && history.contains("reviewer"),
        "{history}"
    );
    let shot_golden = b.screenshot("golden-record").await;
    b.client
        .goto(&format!("{}/cooperatives", console.base))
        .await
        .expect("goto");
    let shot_list = b.screenshot("cooperatives").await;
    b.close().await;
    for s in [shot_review, shot_log, shot_golden, shot_list] {
        println!("screenshot: {}", s.display());
    }

    // viewers see representatives masked, reviewers as they are
    let plain = get(
        &console.base,
        &reviewer,
        &format!("/api/v1/cooperatives/{candidate}"),
    )
    .await;
    let masked = get(
        &console.base,
        &viewer,
        &format!("/api/v1/cooperatives/{candidate}"),
    )
    .await;
    if let Some(name) = plain["record"]["representative"]["full_name"].as_str() {
        let m = masked["record"]["representative"]["full_name"]
            .as_str()
            .expect("masked name");
        assert!(m.contains('*') && m != name, "{m}");
        assert!(
            !masked.to_string().contains(name),
            "nowhere in the viewer's copy"
        );
    }

    // --- the same from a shell: review list, separate, log --follow ---
    let list = hub(&console.base, &viewer, &["review", "list"])
        .await
        .expect("list");
    let second_id = second["review_id"].as_str().expect("id");
    assert!(list.contains(second_id) && !list.contains(&id), "{list}");
    let e = hub(
        &console.base,
        &viewer,
        &["review", "separate", second_id, "--reason", "x"],
    )
    .await
    .expect_err("viewers do not decide");
    assert!(e.contains("forbidden"), "{e}");
    // `hub log --follow`, its output read line by line as it comes
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let follow = {
        let client = hub_console::ops::OpsClient::new(&console.base, Some(viewer.clone()));
        tokio::spawn(async move {
            let mut out = LineWriter(lines_tx, Vec::new());
            hub_console::ops::execute(
                &client,
                hub_console::ops::OpsCommand::Log(hub_console::ops::LogArgs {
                    follow: true,
                    organisation: None,
                    system: None,
                    source_id: None,
                    since: None,
                    until: None,
                    max_events: Some(1),
                }),
                None,
                &mut out,
            )
            .await
            .map_err(|e| e.to_string())
        })
    };
    let first_line = tokio::time::timeout(Duration::from_secs(20), lines.recv())
        .await
        .expect("the follower connects")
        .expect("a line");
    assert!(first_line.starts_with("# following"), "{first_line}");
    let out = hub(
        &console.base,
        &reviewer,
        &[
            "review",
            "separate",
            second_id,
            "--reason",
            "different communes",
        ],
    )
    .await
    .expect("separate");
    assert!(out.contains("separate: review item"), "{out}");
    tokio::time::timeout(Duration::from_secs(30), follow)
        .await
        .expect("an event followed")
        .expect("joined")
        .expect("log --follow");
    let followed = lines.recv().await.expect("the followed decision");
    assert!(followed.contains("operator_separated"), "{followed}");
    let third_id = third["review_id"].as_str().expect("id");
    let out = hub(
        &console.base,
        &reviewer,
        &[
            "review",
            "link",
            third_id,
            "--reason",
            "cùng HTX, đổi người đại diện",
        ],
    )
    .await
    .expect("link");
    assert!(out.contains("link: review item"), "{out}");
    let list = hub(&console.base, &viewer, &["review", "list"])
        .await
        .expect("list");
    assert!(list.starts_with("0 item(s)"), "{list}");
    let log = hub(
        &console.base,
        &viewer,
        &[
            "log",
            "--organisation",
            second["organisation_id"].as_str().expect("org"),
        ],
    )
    .await
    .expect("log");
    assert!(
        log.contains("operator_separated\t") && log.contains("reviewer"),
        "{log}"
    );
    let audit = hub(&console.base, &viewer, &["audit"])
        .await
        .expect("audit");
    assert!(
        audit.contains(&format!("reviewer\treview.link\treview:{id}\tok")),
        "{audit}"
    );
    assert!(
        audit.contains(&format!(
            "reviewer\treview.separate\treview:{second_id}\tok"
        )),
        "{audit}"
    );
    assert!(
        audit.contains(&format!("reviewer\treview.link\treview:{third_id}\tok")),
        "{audit}"
    );

    // merge and split through the console's API: reviewers only, recorded
    let orgs = get(&console.base, &viewer, "/api/v1/cooperatives").await;
    let by_source = |id: &str| {
        orgs["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|g| g["source_refs"].to_string().contains(&format!("\"{id}\"")))
            .and_then(|g| g["organisation_id"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("an organisation with {id}: {orgs}"))
    };
    let (a, b_) = (by_source("LM-3"), by_source("LM-4"));
    let post = |tok: &str, path: String, body: Value| {
        reqwest::Client::new()
            .post(format!("{}{path}", console.base))
            .bearer_auth(tok.to_owned())
            .json(&body)
            .send()
    };
    let merge = serde_json::json!({
        "organisation_ids": [a, b_], "survivor": a, "reason": "một HTX, hai bản ghi (one cooperative)"
    });
    let r = post(&viewer, "/api/v1/cooperatives/merge".into(), merge.clone())
        .await
        .expect("answers");
    assert_eq!(r.status(), 403);
    let r = post(&reviewer, "/api/v1/cooperatives/merge".into(), merge)
        .await
        .expect("answers");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let merged = get(&console.base, &viewer, &format!("/api/v1/cooperatives/{a}")).await;
    let refs = merged["record"]["source_refs"].to_string();
    assert!(refs.contains("LM-3") && refs.contains("LM-4"), "{refs}");
    let split = serde_json::json!({
        "parts": [[{"system": "coop-alliance", "id": "LM-4"}]], "reason": "hai HTX khác nhau"
    });
    // splitting what an operator just merged contradicts that decision: the reconciler's
    // 409 comes through, and the attempt is recorded as failed
    let r = post(&reviewer, format!("/api/v1/cooperatives/{a}/split"), split)
        .await
        .expect("answers");
    assert_eq!(r.status(), 409, "{:?}", r.text().await);
    let audit = hub(&console.base, &viewer, &["audit"])
        .await
        .expect("audit");
    assert!(
        audit.contains("reviewer\tcooperative.merge\tcooperatives\tok"),
        "{audit}"
    );
    assert!(
        audit.contains(&format!(
            "reviewer\tcooperative.split\tcooperative:{a}\tfailed: 409"
        )),
        "{audit}"
    );

    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(30), reconciler.wait()).await;
    drop(console);
    env.delete_queues(&[identity, QueueSpec::new(hub_reconciler::SOURCE_QUEUE)])
        .await;
    env.drop_database().await;
}

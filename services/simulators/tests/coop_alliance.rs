//! coop-alliance conformance: `X-Api-Key`, limits, key-set cursor stability, strict
//! `updated_since`, the record shape, and faults (which never touch `/_sim/`).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::DateTime;
use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn api_key_is_required() {
    let sims = start(1).await;
    let url = format!("{}/api/v1/cooperatives", sims.coop_alliance.base_url);
    for key in [None, Some("wrong-key")] {
        let mut req = client().get(&url);
        if let Some(k) = key {
            req = req.header("X-Api-Key", k);
        }
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status().as_u16(), 401);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body, json!({"error": "unauthorized"}));
    }
}

#[tokio::test]
async fn limits_out_of_range_are_400() {
    let sims = start(1).await;
    for bad in ["0", "501", "-1", "abc", "", "10.5"] {
        let (status, _) = coop_get(&sims, &[("limit", bad)]).await;
        assert_eq!(status, 400, "limit={bad:?}");
    }
    for bad in [("updated_since", "yesterday"), ("cursor", "not-a-cursor")] {
        let (status, _) = coop_get(&sims, &[bad]).await;
        assert_eq!(status, 400, "{bad:?}");
    }
    let (status, body) = coop_get(&sims, &[("limit", "1")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(1));
    let (status, body) = coop_get(&sims, &[("limit", "500")]).await;
    assert_eq!(status, 200);
    assert!(body["next_cursor"].is_null(), "all fit in 500");
    // default 100
    let (status, body) = coop_get(&sims, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().map(Vec::len), Some(100));
    assert!(body["next_cursor"].is_string());
}

fn key(item: &Value) -> (DateTime<chrono::FixedOffset>, String) {
    let t = DateTime::parse_from_rfc3339(item["updated_at"].as_str().expect("updated_at"))
        .expect("rfc3339");
    (t, item["id"].as_str().expect("id").to_owned())
}

#[tokio::test]
async fn paging_returns_every_record_once_in_key_order() {
    let sims = start(2).await;
    let truth = sims.truth(None).await;
    let items = coop_all(&sims, 7, None).await;
    let ids: Vec<String> = items.iter().map(|i| key(i).1).collect();
    let expected: BTreeSet<String> = truth
        .records
        .coop_alliance
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(ids.len(), expected.len(), "no repeats");
    assert_eq!(ids.iter().cloned().collect::<BTreeSet<_>>(), expected);
    let keys: Vec<_> = items.iter().map(key).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ordered by (updated_at, id)"
    );
    // ties on updated_at exist in the generated world, so the id tiebreak is exercised
    assert!(keys.windows(2).any(|w| w[0].0 == w[1].0), "some ties");
}

#[tokio::test]
async fn cursor_is_stable_while_records_change() {
    let sims = start(3).await;
    let all_before: BTreeSet<String> = sims
        .truth(None)
        .await
        .records
        .coop_alliance
        .iter()
        .map(|r| r.id.clone())
        .collect();
    let (_, first) = coop_get(&sims, &[("limit", "20")]).await;
    let mut seen: Vec<Value> = first["items"].as_array().cloned().unwrap_or_default();
    let mut cursor = first["next_cursor"].as_str().map(str::to_owned);
    // change records (some already read, some not) and add new ones while paging
    let report = sims
        .mutate(&hub_simulators::MutationRequest {
            new_cooperatives: 3,
            edited_cooperatives: 40,
            ..Default::default()
        })
        .await
        .expect("mutate");
    while let Some(c) = cursor {
        let (status, page) = coop_get(&sims, &[("limit", "20"), ("cursor", c.as_str())]).await;
        assert_eq!(status, 200);
        seen.extend(page["items"].as_array().cloned().unwrap_or_default());
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    let seen_ids: BTreeSet<String> = seen.iter().map(|i| key(i).1).collect();
    assert!(all_before.is_subset(&seen_ids), "no record skipped");
    for ch in &report.changes {
        assert!(seen_ids.contains(&ch.id), "{} seen", ch.id);
        // the latest version of every changed record was delivered
        let latest = seen
            .iter()
            .filter(|i| i["id"] == ch.id.as_str())
            .map(|i| i["version"].as_u64().unwrap_or(0))
            .max();
        assert_eq!(latest, ch.version, "{}", ch.id);
    }
}

#[tokio::test]
async fn updated_since_is_strictly_after() {
    let sims = start(4).await;
    let items = coop_all(&sims, 500, None).await;
    // a timestamp that several records share, in the middle
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in &items {
        *counts
            .entry(i["updated_at"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    let (tied, _) = counts
        .iter()
        .find(|(_, n)| **n > 1)
        .expect("a shared timestamp");
    let t = DateTime::parse_from_rfc3339(tied).expect("rfc3339");
    let after = coop_all(&sims, 13, Some(tied)).await;
    let expected: BTreeSet<String> = items
        .iter()
        .filter(|i| key(i).0 > t)
        .map(|i| key(i).1)
        .collect();
    let got: BTreeSet<String> = after.iter().map(|i| key(i).1).collect();
    assert_eq!(got, expected);
    assert!(after.iter().all(|i| key(i).0 > t));
    // the same instant written in UTC selects the same records
    let utc = t.with_timezone(&chrono::Utc).to_rfc3339();
    let after_utc = coop_all(&sims, 50, Some(&utc)).await;
    assert_eq!(after_utc.len(), expected.len());
}

#[tokio::test]
async fn records_have_the_documented_shape() {
    let sims = start(5).await;
    let truth = sims.truth(None).await;
    let bad: BTreeSet<String> = truth
        .bad_records
        .iter()
        .filter(|b| b.system == "coop-alliance")
        .map(|b| b.id.clone())
        .collect();
    assert!(!bad.is_empty(), "bad registry records exist");
    let fields: BTreeSet<&str> = [
        "id",
        "registration_code",
        "kind",
        "name",
        "commune_code",
        "district_code",
        "address",
        "representative",
        "established_on",
        "status",
        "member_households",
        "farmers_union_supported",
        "origin",
        "rating",
        "enterprise_linkage",
        "key_officers",
        "updated_at",
        "version",
    ]
    .into_iter()
    .collect();
    for item in coop_all(&sims, 500, None).await {
        let obj = item.as_object().expect("object");
        let mut keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
        // a later registry version's field, which clients must tolerate
        if keys.remove("commune_code_2025") {
            assert!(
                item["updated_at"]
                    .as_str()
                    .is_some_and(|t| t >= "2025-07-01")
            );
        }
        assert_eq!(keys, fields);
        let id = item["id"].as_str().unwrap_or("");
        if bad.contains(id) {
            continue;
        }
        assert!(["HTX", "THT", "LHHTX"].contains(&item["kind"].as_str().unwrap_or("")));
        assert!(
            ["active", "suspended", "dissolved"].contains(&item["status"].as_str().unwrap_or(""))
        );
        chrono::NaiveDate::parse_from_str(
            item["established_on"].as_str().unwrap_or(""),
            "%Y-%m-%d",
        )
        .expect("date");
        if let Some(code) = item["registration_code"].as_str() {
            assert!(
                code.len() == 10 && code.chars().all(|c| c.is_ascii_digit()),
                "{code}"
            );
        }
        if let Some(k) = item["key_officers"].as_object() {
            assert!(k["trained"].as_u64() <= k["total"].as_u64());
        }
        assert!(
            item["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Hợp tác xã")
                    || n.starts_with("Tổ hợp tác")
                    || n.starts_with("Liên hiệp Hợp tác xã"))
        );
    }
}

#[tokio::test]
async fn faults_apply_to_the_api_and_never_to_admin_routes() {
    let sims = start(6).await;
    let base = sims.coop_alliance.base_url.clone();
    let (status, f) = admin_put(&base, "/_sim/faults", &json!({"rate_5xx": 1.0})).await;
    assert_eq!(status, 200, "{f}");
    for _ in 0..10 {
        let (status, _) = coop_get(&sims, &[]).await;
        assert!([500, 502, 503].contains(&status), "{status}");
    }
    let (status, _) = admin_get(&base, "/_sim/truth").await;
    assert_eq!(status, 200, "admin never faulted");
    let (status, stats) = admin_get(&base, "/_sim/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["server_errors"], 10);

    // 429 with Retry-After
    admin_put(
        &base,
        "/_sim/faults",
        &json!({"rate_5xx": 0.0, "rate_429": 1.0, "retry_after_secs": 7}),
    )
    .await;
    let resp = client()
        .get(format!("{base}/api/v1/cooperatives"))
        .header("X-Api-Key", &sims.credentials.coop_api_key)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(
        resp.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("7")
    );

    // garbage: 200 with a body that is not the documented JSON
    admin_put(
        &base,
        "/_sim/faults",
        &json!({"rate_429": 0.0, "garbage_rate": 1.0}),
    )
    .await;
    for _ in 0..10 {
        let resp = client()
            .get(format!("{base}/api/v1/cooperatives"))
            .header("X-Api-Key", &sims.credentials.coop_api_key)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 200);
        let text = resp.text().await.expect("body");
        let documented = serde_json::from_str::<Value>(&text)
            .ok()
            .is_some_and(|v| v["items"].is_array() && v.get("next_cursor").is_some());
        assert!(!documented, "{text}");
    }

    // scripted faults, then clean answers
    let (status, f) = admin_put(
        &base,
        "/_sim/faults",
        &json!({"garbage_rate": 0.0, "queue": ["502", "rate_limited", "500"]}),
    )
    .await;
    assert_eq!(status, 200, "{f}");
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(coop_get(&sims, &[]).await.0);
    }
    assert_eq!(got, vec![502, 429, 500, 200]);

    // invalid fault settings are refused
    let (status, _) = admin_put(&base, "/_sim/faults", &json!({"rate_5xx": 2.0})).await;
    assert_eq!(status, 400);
    let (status, _) = admin_put(&base, "/_sim/faults", &json!({"rate_typo": 0.1})).await;
    assert_eq!(status, 400);
    let (status, _) = admin_put(
        &sims.ntm.base_url,
        "/_sim/faults",
        &json!({"queue": ["502"]}),
    )
    .await;
    assert_eq!(status, 400, "ntm answers only 503");
}

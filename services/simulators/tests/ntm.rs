//! ntm conformance: HTTP Basic, the year list (400 for unknown or missing years), the
//! report (404 for unknown commune or year), revisions growing after mutations.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn basic_auth_is_required() {
    let sims = start(21).await;
    let url = format!("{}/api/reports?year=2024", sims.ntm.base_url);
    let resp = client().get(&url).send().await.expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = client()
        .get(&url)
        .basic_auth(&sims.credentials.ntm_user, Some("wrong"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    let resp = client()
        .get(format!("{}/api/reports/03421/2024", sims.ntm.base_url))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(ntm_get(&sims, "/api/reports?year=2024").await.0, 200);
}

#[tokio::test]
async fn years_and_communes_are_checked() {
    let sims = start(22).await;
    for q in [
        "/api/reports",
        "/api/reports?year=",
        "/api/reports?year=1999",
        "/api/reports?year=abc",
        "/api/reports?year=2026",
    ] {
        assert_eq!(ntm_get(&sims, q).await.0, 400, "{q}");
    }
    for p in [
        "/api/reports/99999/2024",
        "/api/reports/03421/1999",
        "/api/reports/03421/abc",
    ] {
        let (status, body) = ntm_get(&sims, p).await;
        assert_eq!(status, 404, "{p}");
        assert_eq!(body, json!({"error": "not_found"}));
    }
}

#[tokio::test]
async fn list_and_report_agree_and_have_the_documented_shape() {
    let sims = start(23).await;
    let truth = sims.truth(None).await;
    let bad: BTreeSet<String> = truth
        .bad_records
        .iter()
        .filter(|b| b.system == "ntm")
        .map(|b| b.id.clone())
        .collect();
    let mut statuses = BTreeSet::new();
    for year in [2023, 2024, 2025] {
        let (status, list) = ntm_get(&sims, &format!("/api/reports?year={year}")).await;
        assert_eq!(status, 200);
        assert_eq!(list["year"], year);
        let reports = list["reports"].as_array().cloned().unwrap_or_default();
        assert_eq!(reports.len(), 106, "one report per commune");
        for line in reports.iter().take(40) {
            let code = line["commune_code"].as_str().unwrap_or_default();
            statuses.insert(line["status"].as_str().unwrap_or_default().to_owned());
            let (status, rep) = ntm_get(&sims, &format!("/api/reports/{code}/{year}")).await;
            assert_eq!(status, 200);
            assert_eq!(rep["revision"], line["revision"]);
            assert_eq!(rep["status"], line["status"]);
            assert_eq!(rep["commune"]["code"], code);
            assert!(rep["commune"]["name"].is_string() && rep["commune"]["district"].is_string());
            if bad.contains(&format!("{code}:{year}")) {
                continue;
            }
            assert_eq!(rep["submitted_at"], line["submitted_at"]);
            let ids: Vec<&str> = rep["criteria"]
                .as_array()
                .map(|c| c.iter().filter_map(|x| x["id"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(ids, vec!["13.1", "13.2"]);
            for e in rep["cooperatives"].as_array().cloned().unwrap_or_default() {
                let keys: BTreeSet<String> = e
                    .as_object()
                    .map(|o| o.keys().cloned().collect())
                    .unwrap_or_default();
                let expected: BTreeSet<String> = [
                    "name",
                    "kind",
                    "representative",
                    "members",
                    "effective",
                    "linked_with_enterprise",
                ]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
                assert_eq!(keys, expected);
                assert!(e["effective"].is_boolean());
                assert!(
                    e["kind"].is_null()
                        || ["HTX", "THT"].contains(&e["kind"].as_str().unwrap_or(""))
                );
            }
            // 13.1 is met exactly when an HTX listed operates effectively
            let met = rep["criteria"][0]["met"].as_bool().unwrap_or(false);
            if met {
                assert!(
                    rep["cooperatives"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|e| e["effective"] == true))
                );
            }
        }
    }
    assert!(
        statuses.len() == 3,
        "draft, submitted and approved all served: {statuses:?}"
    );
}

#[tokio::test]
async fn revisions_grow_and_a_draft_can_follow_an_approval() {
    let sims = start(24).await;
    let (status, report) = admin_post(
        &sims.ntm.base_url,
        "/_sim/mutate",
        &json!({"report_revisions": 4}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let changes = report["changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 4);
    assert_eq!(
        changes[0]["status"], "draft",
        "first revision is a draft over an approved report"
    );
    for ch in &changes {
        assert_eq!(ch["system"], "ntm");
        let id = ch["id"].as_str().unwrap_or_default();
        let (code, year) = id.split_once(':').expect("commune:year");
        let (status, rep) = ntm_get(&sims, &format!("/api/reports/{code}/{year}")).await;
        assert_eq!(status, 200);
        assert_eq!(rep["revision"], ch["revision"]);
        assert_eq!(rep["status"], ch["status"]);
        let (_, list) = ntm_get(&sims, &format!("/api/reports?year={year}")).await;
        let line: Value = list["reports"]
            .as_array()
            .and_then(|r| r.iter().find(|l| l["commune_code"] == code).cloned())
            .unwrap_or_default();
        assert_eq!(line["revision"], ch["revision"]);
    }
    // the approved revision under the new draft still counts in the truth
    let first = changes[0]["id"].as_str().unwrap_or_default();
    let truth = sims.truth(None).await;
    let (code, year) = first.split_once(':').expect("id");
    let rep = truth
        .ntm_reports
        .iter()
        .find(|r| r.commune_code == code && r.year.to_string() == year)
        .expect("report in truth");
    assert_eq!(Some(rep.current_revision - 1), rep.counted_revision);
}

//! loan-fund conformance: client-credentials tokens, expiry, limits and offsets, ordering
//! by (modified, loan_no), inclusive `modified_from`, live offset paging.

mod common;

use std::collections::BTreeSet;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn token_endpoint_checks_credentials() {
    let sims = start(11).await;
    let url = format!("{}/oauth/token", sims.loan_fund.base_url);
    let c = &sims.credentials;
    let resp = client()
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.loan_client_id.as_str()),
            ("client_secret", c.loan_client_secret.as_str()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);

    for (id, secret) in [
        (c.loan_client_id.as_str(), "wrong"),
        ("someone", c.loan_client_secret.as_str()),
    ] {
        let resp = client()
            .post(&url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status().as_u16(), 401);
    }
    let resp = client()
        .post(&url)
        .form(&[
            ("grant_type", "password"),
            ("client_id", c.loan_client_id.as_str()),
        ])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn unknown_and_expired_tokens_are_refused() {
    let sims = start(12).await;
    for token in ["", "deadbeef"] {
        let (status, body) = loan_get(&sims, token, &[]).await;
        assert_eq!(status, 401);
        assert_eq!(body, json!({"error": "invalid_token"}));
    }
    let resp = client()
        .get(format!("{}/v2/disbursements", sims.loan_fund.base_url))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401, "no Authorization header");

    // a token that lived its life
    let base = sims.loan_fund.base_url.clone();
    let (status, _) = admin_put(&base, "/_sim/faults", &json!({"token_lifetime_secs": 0})).await;
    assert_eq!(status, 200);
    let resp = client()
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sims.credentials.loan_client_id.as_str()),
            (
                "client_secret",
                sims.credentials.loan_client_secret.as_str(),
            ),
        ])
        .send()
        .await
        .expect("request");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["expires_in"], 0);
    let expired = body["access_token"].as_str().unwrap_or_default().to_owned();
    let (status, body) = loan_get(&sims, &expired, &[]).await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({"error": "invalid_token"}));

    // a live token, then expired by the admin route: refused; a new one works
    admin_put(&base, "/_sim/faults", &json!({"token_lifetime_secs": 300})).await;
    let token = loan_token(&sims).await;
    assert_eq!(loan_get(&sims, &token, &[]).await.0, 200);
    let (status, body) = admin_post(&base, "/_sim/tokens/expire", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["expired"], 1);
    assert_eq!(loan_get(&sims, &token, &[]).await.0, 401);
    let token = loan_token(&sims).await;
    assert_eq!(loan_get(&sims, &token, &[]).await.0, 200);
}

#[tokio::test]
async fn bad_parameters_are_400() {
    let sims = start(13).await;
    let token = loan_token(&sims).await;
    for q in [
        ("limit", "0"),
        ("limit", "201"),
        ("limit", "x"),
        ("offset", "-1"),
        ("offset", "one"),
        ("modified_from", "2024-07-02"),
        ("modified_from", "2024-07-02T10:11:12+07:00"),
        ("modified_from", "02/07/2024 10:11:12"),
    ] {
        let (status, _) = loan_get(&sims, &token, &[q]).await;
        assert_eq!(status, 400, "{q:?}");
    }
    let (status, body) = loan_get(&sims, &token, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(50));
    let (status, body) = loan_get(&sims, &token, &[("limit", "200"), ("offset", "100000")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(0));
}

fn row_key(row: &Value) -> (String, String) {
    (
        row["modified"].as_str().unwrap_or_default().to_owned(),
        row["loan_no"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn all_rows(
    sims: &hub_simulators::RunningSims,
    token: &str,
    from: Option<&str>,
    limit: usize,
) -> (usize, Vec<Value>) {
    let mut rows = Vec::new();
    loop {
        let offset = rows.len().to_string();
        let limit_s = limit.to_string();
        let mut q = vec![("offset", offset.as_str()), ("limit", limit_s.as_str())];
        if let Some(f) = from {
            q.push(("modified_from", f));
        }
        let (status, body) = loan_get(sims, token, &q).await;
        assert_eq!(status, 200, "{body}");
        let total = body["total"].as_u64().unwrap_or(0) as usize;
        let data = body["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            return (total, rows);
        }
        rows.extend(data);
        if rows.len() >= total {
            return (total, rows);
        }
    }
}

#[tokio::test]
async fn rows_are_ordered_and_modified_from_is_inclusive() {
    let sims = start(14).await;
    let token = loan_token(&sims).await;
    let truth = sims.truth(None).await;
    let (total, rows) = all_rows(&sims, &token, None, 13).await;
    assert_eq!(total, truth.records.loan_fund.len());
    let keys: Vec<_> = rows.iter().map(row_key).collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ordered by (modified, loan_no)"
    );
    assert!(
        keys.windows(2).any(|w| w[0].0 == w[1].0),
        "ties on modified exist"
    );
    let ids: BTreeSet<_> = keys.iter().map(|k| k.1.clone()).collect();
    let expected: BTreeSet<_> = truth
        .records
        .loan_fund
        .iter()
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(ids, expected);
    // statuses and formats of good rows
    let bad: BTreeSet<String> = truth.bad_records.iter().map(|b| b.id.clone()).collect();
    let mut statuses = BTreeSet::new();
    for r in &rows {
        if bad.contains(r["loan_no"].as_str().unwrap_or_default()) {
            continue;
        }
        chrono::NaiveDate::parse_from_str(r["disbursed_on"].as_str().unwrap_or(""), "%d/%m/%Y")
            .expect("DD/MM/YYYY");
        statuses.insert(r["status"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        statuses.contains("cancelled") && statuses.contains("disbursed"),
        "{statuses:?}"
    );

    // inclusive: a tied timestamp selects every row at it
    let tied = keys
        .windows(2)
        .find(|w| w[0].0 == w[1].0)
        .map(|w| w[0].0.clone())
        .expect("tie");
    let (_, from_rows) = all_rows(&sims, &token, Some(&tied), 7).await;
    let expected: Vec<_> = keys.iter().filter(|k| k.0 >= tied).cloned().collect();
    assert_eq!(from_rows.iter().map(row_key).collect::<Vec<_>>(), expected);
}

#[tokio::test]
async fn a_row_modified_while_paging_moves_to_the_end() {
    let sims = start(15).await;
    let token = loan_token(&sims).await;
    let (_, page1) = loan_get(&sims, &token, &[("offset", "0"), ("limit", "10")]).await;
    let page1 = page1["data"].as_array().cloned().unwrap_or_default();
    let total_before = sims.world.read().await.loans.len();
    // a mutation edits loans; the rows it touched now sort last
    let report = sims
        .mutate(&hub_simulators::MutationRequest {
            edited_loans: 5,
            ..Default::default()
        })
        .await
        .expect("mutate");
    assert_eq!(report.changes.len(), 5);
    let (total, rows) = all_rows(&sims, &token, None, 200).await;
    assert_eq!(total, total_before, "no row added");
    let tail: BTreeSet<String> = rows[rows.len() - 5..]
        .iter()
        .map(|r| r["loan_no"].as_str().unwrap_or_default().to_owned())
        .collect();
    let changed: BTreeSet<String> = report.changes.iter().map(|c| c.id.clone()).collect();
    assert_eq!(tail, changed);
    for r in &rows[rows.len() - 5..] {
        assert_eq!(
            r["modified"].as_str(),
            report.changes[0].modified.as_deref()
        );
    }
    // offsets index the live ordering: page 2 is rows 10..20 of the data as it is now,
    // not as it was when page 1 was read
    let (_, page2) = loan_get(&sims, &token, &[("offset", "10"), ("limit", "10")]).await;
    let page2 = page2["data"].as_array().cloned().unwrap_or_default();
    let expected_page2: Vec<_> = rows[10..20].iter().map(row_key).collect();
    assert_eq!(
        page2.iter().map(row_key).collect::<Vec<_>>(),
        expected_page2
    );
    assert_eq!(page1.len(), 10);
}

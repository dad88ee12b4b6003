//! Shared helpers of the simulator tests: a small fixed world, started on port 0, and an
//! HTTP client with each system's credentials.
#![allow(dead_code)]

use chrono::{DateTime, FixedOffset};
use hub_simulators::{RunningSims, SimConfig, WorldConfig};
use serde_json::Value;

/// The present of the test worlds.
pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").expect("valid timestamp")
}

/// A world small enough to be fast, big enough to page (more than 100 registry records).
pub fn world_config(seed: u64) -> WorldConfig {
    WorldConfig {
        seed,
        organisations: 150,
        loans: 120,
        report_years: vec![2023, 2024, 2025],
        bad_records: 6,
        now: now(),
        noise: Default::default(),
    }
}

pub async fn start(seed: u64) -> RunningSims {
    hub_simulators::start(SimConfig::for_tests(world_config(seed)))
        .await
        .expect("simulators start")
}

/// One client per test binary (building one loads the TLS roots: slow).
pub fn client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(reqwest::Client::new).clone()
}

/// GET with the registry's API key; returns status and JSON body (Null if not JSON).
pub async fn coop_get(sims: &RunningSims, query: &[(&str, &str)]) -> (u16, Value) {
    let resp = client()
        .get(format!(
            "{}/api/v1/cooperatives",
            sims.coop_alliance.base_url
        ))
        .header("X-Api-Key", &sims.credentials.coop_api_key)
        .query(query)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A loan-fund token.
pub async fn loan_token(sims: &RunningSims) -> String {
    let resp = client()
        .post(format!("{}/oauth/token", sims.loan_fund.base_url))
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
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("json");
    body["access_token"].as_str().expect("token").to_owned()
}

pub async fn loan_get(sims: &RunningSims, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let resp = client()
        .get(format!("{}/v2/disbursements", sims.loan_fund.base_url))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn ntm_get(sims: &RunningSims, path_and_query: &str) -> (u16, Value) {
    let resp = client()
        .get(format!("{}{path_and_query}", sims.ntm.base_url))
        .basic_auth(
            &sims.credentials.ntm_user,
            Some(&sims.credentials.ntm_password),
        )
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn admin_post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = client()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn admin_put(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let resp = client()
        .put(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn admin_get(base: &str, path: &str) -> (u16, Value) {
    let resp = client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Pages through the whole registry with `limit`, returning the items in order.
pub async fn coop_all(sims: &RunningSims, limit: usize, since: Option<&str>) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    let limit = limit.to_string();
    loop {
        let mut q: Vec<(&str, &str)> = vec![("limit", limit.as_str())];
        if let Some(c) = &cursor {
            q.push(("cursor", c.as_str()));
        }
        if let Some(s) = since {
            q.push(("updated_since", s));
        }
        let (status, body) = coop_get(sims, &q).await;
        assert_eq!(status, 200, "{body}");
        items.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return items,
        }
    }
}

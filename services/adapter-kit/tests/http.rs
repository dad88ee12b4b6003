//! The kit's HTTP client against the simulators' scripted faults: 429 honours Retry-After,
//! 5xx is retried, garbage is retried then fails naming the URL, the retry budget ends,
//! OAuth2 tokens are cached and renewed after a 401, bad credentials fail clearly.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hub_adapter_kit::acceptance::world;
use hub_adapter_kit::{Auth, HttpClient, HttpSettings, Secret, SourceError};
use hub_simulators::{Faults, RunningSims, ScriptedFault, SimConfig, System};
use serde_json::Value;

async fn sims() -> RunningSims {
    let mut w = world(21);
    w.organisations = 20;
    w.loans = 20;
    hub_simulators::start(SimConfig::for_tests(w))
        .await
        .expect("simulators start")
}

fn quick() -> HttpSettings {
    HttpSettings {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        ..HttpSettings::default()
    }
}

fn coop(key: &str, settings: HttpSettings) -> HttpClient {
    HttpClient::new(
        "coop-alliance",
        Auth::ApiKey {
            header: "X-Api-Key".into(),
            key: Secret::new(key),
        },
        settings,
    )
    .expect("client")
    .with_credentials_hint("COOP_ALLIANCE_API_KEY")
}

fn loan(sims: &RunningSims, secret: &str) -> HttpClient {
    HttpClient::new(
        "loan-fund",
        Auth::OAuth2ClientCredentials {
            token_url: format!("{}/oauth/token", sims.loan_fund.base_url),
            client_id: sims.credentials.loan_client_id.clone(),
            client_secret: Secret::new(secret),
        },
        quick(),
    )
    .expect("client")
}

fn coop_url(sims: &RunningSims) -> String {
    format!("{}/api/v1/cooperatives", sims.coop_alliance.base_url)
}

fn script(sims: &RunningSims, system: System, queue: Vec<ScriptedFault>) {
    sims.set_faults(
        system,
        Faults {
            queue,
            ..Faults::default()
        },
    )
    .expect("faults");
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after_and_server_errors_are_retried() {
    let sims = sims().await;
    let client = coop(&sims.credentials.coop_api_key, quick());
    script(
        &sims,
        System::CoopAlliance,
        vec![
            ScriptedFault::RateLimited,
            ScriptedFault::Error500,
            ScriptedFault::Error502,
            ScriptedFault::Error503,
        ],
    );
    let t0 = Instant::now();
    let page: Value = client
        .get_json(&coop_url(&sims), &[("limit", "5".into())])
        .await
        .expect("answered after the faults");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(5));
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured ({:?})",
        t0.elapsed()
    );
    let stats = sims.stats(System::CoopAlliance);
    assert_eq!((stats.rate_limited, stats.server_errors), (1, 3));
    assert_eq!(client.stats().retries.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn garbage_is_retried_then_fails_naming_the_url() {
    let sims = sims().await;
    let client = coop(&sims.credentials.coop_api_key, quick());
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        items: Vec<Value>,
        next_cursor: Option<String>,
    }
    script(
        &sims,
        System::CoopAlliance,
        vec![ScriptedFault::Garbage, ScriptedFault::Garbage],
    );
    client
        .get_json::<Page>(&coop_url(&sims), &[])
        .await
        .expect("two garbage answers, then the real page");

    script(&sims, System::CoopAlliance, vec![ScriptedFault::Garbage; 3]);
    let e = client
        .get_json::<Page>(&coop_url(&sims), &[])
        .await
        .expect_err("three garbage answers fail the request");
    assert!(matches!(e, SourceError::Garbage { attempts: 3, .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&coop_url(&sims)) && text.contains("not the documented JSON"),
        "{text}"
    );
}

#[tokio::test]
async fn the_retry_budget_ends_with_the_last_error() {
    let sims = sims().await;
    let client = coop(
        &sims.credentials.coop_api_key,
        HttpSettings {
            max_attempts: 4,
            ..quick()
        },
    );
    sims.set_faults(
        System::CoopAlliance,
        Faults {
            rate_5xx: 1.0,
            ..Faults::default()
        },
    )
    .expect("faults");
    let e = client
        .get_json::<Value>(&coop_url(&sims), &[])
        .await
        .expect_err("always 5xx");
    assert!(
        matches!(e, SourceError::Exhausted { attempts: 4, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("HTTP 50"), "{e}");
    assert_eq!(sims.stats(System::CoopAlliance).requests, 4);
}

#[tokio::test]
async fn bad_credentials_fail_clearly_and_are_not_retried() {
    let sims = sims().await;
    let e = coop("wrong", quick())
        .get_json::<Value>(&coop_url(&sims), &[])
        .await
        .expect_err("401");
    assert!(e.is_unauthorized(), "{e}");
    assert!(e.to_string().contains("check COOP_ALLIANCE_API_KEY"), "{e}");
    let e = loan(&sims, "wrong")
        .get_json::<Value>(
            &format!("{}/v2/disbursements", sims.loan_fund.base_url),
            &[],
        )
        .await
        .expect_err("token refused");
    assert!(
        e.is_unauthorized() && e.to_string().contains("/oauth/token"),
        "{e}"
    );
    let basic = HttpClient::new(
        "ntm",
        Auth::Basic {
            user: sims.credentials.ntm_user.clone(),
            password: Secret::new("wrong"),
        },
        quick(),
    )
    .expect("client");
    let e = basic
        .get_json::<Value>(&format!("{}/api/reports?year=2024", sims.ntm.base_url), &[])
        .await
        .expect_err("401");
    assert!(e.is_unauthorized(), "{e}");
    assert_eq!(
        sims.stats(System::CoopAlliance).requests,
        1,
        "no retry of a 401"
    );
}

#[tokio::test]
async fn oauth_tokens_are_cached_and_renewed_after_a_401() {
    let sims = sims().await;
    let client = loan(&sims, &sims.credentials.loan_client_secret);
    let url = format!("{}/v2/disbursements", sims.loan_fund.base_url);
    for _ in 0..3 {
        client
            .get_json::<Value>(&url, &[("limit", "2".into())])
            .await
            .expect("page");
    }
    assert_eq!(
        client.stats().token_fetches.load(Ordering::Relaxed),
        1,
        "cached"
    );
    assert!(sims.expire_tokens() >= 1);
    client
        .get_json::<Value>(&url, &[])
        .await
        .expect("a 401 fetches a new token and repeats the request");
    assert_eq!(client.stats().token_fetches.load(Ordering::Relaxed), 2);

    // the token endpoint itself may be rate limited or fail: retried like any request
    sims.expire_tokens();
    script(
        &sims,
        System::LoanFund,
        vec![ScriptedFault::Error503, ScriptedFault::RateLimited],
    );
    client.get_json::<Value>(&url, &[]).await.expect("renewed");

    // tokens that expire at once: one renewal, then a clear failure instead of a loop
    sims.update_faults(
        System::LoanFund,
        &hub_simulators::FaultsUpdate {
            token_lifetime_secs: Some(0),
            ..Default::default()
        },
    )
    .expect("faults");
    sims.expire_tokens();
    let e = client
        .get_json::<Value>(&url, &[])
        .await
        .expect_err("401 twice");
    assert!(e.is_unauthorized(), "{e}");
}

#[tokio::test]
async fn a_response_larger_than_the_cap_is_not_read() {
    let sims = sims().await;
    let client = coop(
        &sims.credentials.coop_api_key,
        HttpSettings {
            max_response_bytes: 64,
            garbage_attempts: 2,
            ..quick()
        },
    );
    let e = client
        .get_json::<serde_json::Value>(&coop_url(&sims), &[("limit", "50".into())])
        .await
        .expect_err("a page is larger than 64 bytes");
    let text = e.to_string();
    assert!(text.contains("larger than the 64 bytes"), "{text}");
    // the same page within the default cap is read
    let client = coop(&sims.credentials.coop_api_key, quick());
    client
        .get_json::<serde_json::Value>(&coop_url(&sims), &[("limit", "50".into())])
        .await
        .expect("within the cap");
}

//! Faults per server: only the statuses each spec documents, latency on the API but not on
//! `/_sim/`, faults set at start, and the same fault sequence for the same seed.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hub_simulators::{Faults, SimConfig, System};
use serde_json::json;

#[tokio::test]
async fn each_server_answers_only_its_documented_errors() {
    let sims = start(51).await;
    let token = loan_token(&sims).await;
    admin_put(
        &sims.loan_fund.base_url,
        "/_sim/faults",
        &json!({"rate_5xx": 1.0}),
    )
    .await;
    admin_put(
        &sims.ntm.base_url,
        "/_sim/faults",
        &json!({"rate_5xx": 1.0}),
    )
    .await;
    let mut loan = std::collections::BTreeSet::new();
    let mut ntm = std::collections::BTreeSet::new();
    for _ in 0..30 {
        loan.insert(loan_get(&sims, &token, &[]).await.0);
        ntm.insert(ntm_get(&sims, "/api/reports?year=2024").await.0);
    }
    assert_eq!(loan.into_iter().collect::<Vec<_>>(), vec![500, 503]);
    assert_eq!(ntm.into_iter().collect::<Vec<_>>(), vec![503]);
    // ntm's spec has no 429
    let (status, _) = admin_put(
        &sims.ntm.base_url,
        "/_sim/faults",
        &json!({"rate_429": 0.5}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = admin_put(
        &sims.loan_fund.base_url,
        "/_sim/faults",
        &json!({"queue": ["502"]}),
    )
    .await;
    assert_eq!(status, 400, "loan-fund answers 500 and 503 only");
    // faults are per server: coop-alliance is untouched
    assert_eq!(coop_get(&sims, &[]).await.0, 200);
    assert_eq!(sims.stats(System::Ntm).server_errors, 30);
}

#[tokio::test]
async fn latency_is_added_to_the_api_only() {
    let sims = start(52).await;
    admin_put(
        &sims.coop_alliance.base_url,
        "/_sim/faults",
        &json!({"latency_ms": 300}),
    )
    .await;
    let t0 = Instant::now();
    assert_eq!(coop_get(&sims, &[("limit", "1")]).await.0, 200);
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let t0 = Instant::now();
    assert_eq!(
        admin_get(&sims.coop_alliance.base_url, "/_sim/faults")
            .await
            .0,
        200
    );
    assert!(t0.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn faults_set_at_start_follow_the_seed() {
    let faults = Faults {
        rate_429: 0.3,
        rate_5xx: 0.3,
        ..Faults::default()
    };
    let mut sequences = Vec::new();
    for _ in 0..2 {
        let mut cfg = SimConfig::for_tests(world_config(53));
        cfg.coop_alliance.faults = faults.clone();
        let sims = hub_simulators::start(cfg).await.expect("start");
        let mut seq = Vec::new();
        for _ in 0..40 {
            seq.push(coop_get(&sims, &[("limit", "1")]).await.0);
        }
        assert!(seq.contains(&429) && seq.contains(&200));
        assert!(seq.iter().any(|s| [500, 502, 503].contains(s)));
        sequences.push(seq);
        sims.shutdown().await;
    }
    assert_eq!(sequences[0], sequences[1]);
    // a bad configuration does not start
    let mut cfg = SimConfig::for_tests(world_config(53));
    cfg.ntm.faults.rate_429 = 0.1;
    assert!(hub_simulators::start(cfg).await.is_err());
}

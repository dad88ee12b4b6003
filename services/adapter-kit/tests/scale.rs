//! At scale, with faults: the three adapters sync over 5,000 source records concurrently
//! while every server answers 5% of requests with 429 (Retry-After) or a 5xx, and every
//! record the simulators list is delivered exactly once, in its current version.

use std::time::{Duration, Instant};

use hub_adapter_kit::Secret;
use hub_adapter_kit::acceptance::{Expected, Harness, assert_complete, deliveries, world_now};
use hub_adapter_kit::acceptance::{Observed, Target};
use hub_simulators::{Credentials, Faults, RunningSims, ScriptedFault, System, Truth, WorldConfig};
use serde_json::Value;

struct Coop;
struct Loans;
struct Ntm;

impl Target for Coop {
    type Source = hub_adapter_coop_alliance::CoopAlliance;
    const SYSTEM: System = System::CoopAlliance;
    fn build(sims: &RunningSims, c: &Credentials, page_size: usize) -> Self::Source {
        hub_adapter_coop_alliance::build(&hub_adapter_coop_alliance::Config {
            coop_alliance_url: sims.coop_alliance.base_url.clone(),
            coop_alliance_api_key: Secret::new(&c.coop_api_key),
            coop_alliance_page_size: page_size,
            ..Default::default()
        })
        .expect("builds")
    }
    fn expected(truth: &Truth) -> Vec<Expected> {
        let r = &truth.records.coop_alliance;
        r.iter()
            .map(|r| Expected {
                id: r.id.clone(),
                marker: r.version.to_string(),
                bad: r.bad,
            })
            .collect()
    }
    fn observed(data: &Value) -> Option<(String, String)> {
        Some((
            data["meta"]["source"]["id"].as_str()?.to_owned(),
            data["version"].as_u64()?.to_string(),
        ))
    }
}

impl Target for Loans {
    type Source = hub_adapter_loan_fund::LoanFund;
    const SYSTEM: System = System::LoanFund;
    fn build(sims: &RunningSims, c: &Credentials, page_size: usize) -> Self::Source {
        hub_adapter_loan_fund::build(&hub_adapter_loan_fund::Config {
            loan_fund_url: sims.loan_fund.base_url.clone(),
            loan_fund_client_id: c.loan_client_id.clone(),
            loan_fund_client_secret: Secret::new(&c.loan_client_secret),
            loan_fund_page_size: page_size,
            ..Default::default()
        })
        .expect("builds")
    }
    fn expected(truth: &Truth) -> Vec<Expected> {
        let r = &truth.records.loan_fund;
        r.iter()
            .map(|r| Expected {
                id: r.id.clone(),
                marker: r.modified.clone(),
                bad: r.bad,
            })
            .collect()
    }
    fn observed(data: &Value) -> Option<(String, String)> {
        Some((
            data["loan_no"].as_str()?.to_owned(),
            data["meta"]["raw"]["modified"].as_str()?.to_owned(),
        ))
    }
}

impl Target for Ntm {
    type Source = hub_adapter_ntm::Ntm;
    const SYSTEM: System = System::Ntm;
    fn build(sims: &RunningSims, c: &Credentials, page_size: usize) -> Self::Source {
        hub_adapter_ntm::build(&hub_adapter_ntm::Config {
            ntm_url: sims.ntm.base_url.clone(),
            ntm_user: c.ntm_user.clone(),
            ntm_password: Secret::new(&c.ntm_password),
            ntm_years: vec![2023, 2024, 2025],
            ntm_page_size: page_size,
            ..Default::default()
        })
        .expect("builds")
    }
    fn expected(truth: &Truth) -> Vec<Expected> {
        let r = &truth.records.ntm;
        r.iter()
            .map(|r| Expected {
                id: r.id.clone(),
                marker: r.revision.to_string(),
                bad: r.bad,
            })
            .collect()
    }
    fn observed(data: &Value) -> Option<(String, String)> {
        Some((
            data["meta"]["source"]["id"].as_str()?.to_owned(),
            data["revision"].as_u64()?.to_string(),
        ))
    }
}

fn faults(system: System) -> Faults {
    Faults {
        // 5% of requests faulted: half 429 with Retry-After, half 5xx (ntm: 5xx only)
        rate_429: if system == System::Ntm { 0.0 } else { 0.025 },
        rate_5xx: if system == System::Ntm { 0.05 } else { 0.025 },
        retry_after_secs: 1,
        // and, whatever the draws, each system's first requests fail
        queue: if system == System::Ntm {
            vec![ScriptedFault::Error503, ScriptedFault::Error503]
        } else {
            vec![ScriptedFault::RateLimited, ScriptedFault::Error500]
        },
        ..Faults::default()
    }
}

async fn check<T: Target>(h: &Harness, observed: &[Observed], truth: &Truth) -> usize {
    let system = T::SYSTEM.as_str();
    let delivered = deliveries::<T>(observed);
    let store = h.store(system).await;
    let invalid = store
        .invalid_records()
        .await
        .expect("invalid")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let expected = T::expected(truth);
    let (n, bad) = assert_complete(system, &expected, &delivered, &invalid);
    let twice: Vec<_> = delivered.iter().filter(|(_, d)| d.len() > 1).collect();
    assert!(twice.is_empty(), "{system}: delivered twice: {twice:?}");
    println!(
        "{system}: {} records listed, {n} delivered, {bad} invalid",
        expected.len()
    );
    expected.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_records_with_five_percent_faults_are_all_delivered() {
    let h = Harness::start(WorldConfig {
        seed: 5000,
        organisations: 2700,
        loans: 2500,
        report_years: vec![2023, 2024, 2025],
        bad_records: 30,
        now: world_now(),
        noise: Default::default(),
    })
    .await;
    for s in System::ALL {
        h.sims.set_faults(s, faults(s)).expect("faults");
    }
    let creds = h.sims.credentials.clone();
    let coop = h.engine(Coop::build(&h.sims, &creds, 100)).await;
    let loans = h.engine(Loans::build(&h.sims, &creds, 100)).await;
    let ntm = h.engine(Ntm::build(&h.sims, &creds, 25)).await;

    let t0 = Instant::now();
    let (a, b, c) = tokio::join!(coop.sync_once(), loans.sync_once(), ntm.sync_once());
    let elapsed = t0.elapsed();
    let reports = [
        a.expect("coop-alliance sync"),
        b.expect("loan-fund sync"),
        c.expect("ntm sync"),
    ];

    let observed = h.drain().await;
    let truth = h.sims.truth(None).await;
    let listed = check::<Coop>(&h, &observed, &truth).await
        + check::<Loans>(&h, &observed, &truth).await
        + check::<Ntm>(&h, &observed, &truth).await;
    assert!(listed >= 5000, "at least 5,000 source records ({listed})");

    let mut requests = 0;
    let mut faulted = 0;
    for s in System::ALL {
        let st = h.sims.stats(s);
        println!(
            "{s}: {} requests, {} answered 429, {} answered 5xx",
            st.requests, st.rate_limited, st.server_errors
        );
        assert!(
            st.rate_limited + st.server_errors >= 2,
            "{s}: faults were injected"
        );
        requests += st.requests;
        faulted += st.rate_limited + st.server_errors;
    }
    let published: u64 = reports.iter().map(|r| r.published).sum();
    println!(
        "{listed} records listed, {published} published, {} messages observed, {faulted} of {requests} requests faulted, in {elapsed:?}",
        observed.len()
    );
    assert!(elapsed < Duration::from_secs(240), "took {elapsed:?}");
    h.finish().await;
}

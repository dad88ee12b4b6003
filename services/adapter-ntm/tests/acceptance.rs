//! The adapter kit's acceptance tests against the ntm simulator, on the real RabbitMQ and
//! PostgreSQL.

use hub_adapter_kit::Secret;
use hub_adapter_kit::acceptance::{Expected, Target};
use hub_adapter_ntm::{Config, Ntm, build};
use hub_simulators::{Credentials, RunningSims, System, Truth};
use serde_json::Value;

struct NtmTarget;

impl Target for NtmTarget {
    type Source = Ntm;
    const SYSTEM: System = System::Ntm;

    fn build(sims: &RunningSims, credentials: &Credentials, page_size: usize) -> Ntm {
        build(&Config {
            ntm_url: sims.ntm.base_url.clone(),
            ntm_user: credentials.ntm_user.clone(),
            ntm_password: Secret::new(&credentials.ntm_password),
            ntm_years: hub_adapter_kit::acceptance::world(0).report_years,
            ntm_page_size: page_size,
            ..Config::default()
        })
        .expect("adapter builds")
    }

    fn expected(truth: &Truth) -> Vec<Expected> {
        truth
            .records
            .ntm
            .iter()
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

hub_adapter_kit::acceptance_tests!(NtmTarget);

//! The adapter kit's acceptance tests against the coop-alliance simulator, on the real
//! RabbitMQ and PostgreSQL.

use hub_adapter_coop_alliance::{Config, CoopAlliance, build};
use hub_adapter_kit::Secret;
use hub_adapter_kit::acceptance::{Expected, Target};
use hub_simulators::{Credentials, RunningSims, System, Truth};
use serde_json::Value;

struct CoopTarget;

impl Target for CoopTarget {
    type Source = CoopAlliance;
    const SYSTEM: System = System::CoopAlliance;

    fn build(sims: &RunningSims, credentials: &Credentials, page_size: usize) -> CoopAlliance {
        build(&Config {
            coop_alliance_url: sims.coop_alliance.base_url.clone(),
            coop_alliance_api_key: Secret::new(&credentials.coop_api_key),
            coop_alliance_page_size: page_size,
            ..Config::default()
        })
        .expect("adapter builds")
    }

    fn expected(truth: &Truth) -> Vec<Expected> {
        truth
            .records
            .coop_alliance
            .iter()
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

hub_adapter_kit::acceptance_tests!(CoopTarget);

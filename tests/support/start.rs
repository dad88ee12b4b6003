//! Starting what the pipeline tests share: the simulated agencies over one world with their
//! truth on the 2024 units, and the in-process pipeline's settings for them. Used by the
//! hub-e2e tests, the fault suite's harness and the hub's own pipeline tests (`telemetry`,
//! `conversions`), which set only what they differ in.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use hub::pipeline::{PipelineConfig, Sources};
use hub_simulators::{RunningSims, SimConfig, Truth, TruthParams, UnitList, WorldConfig};
use hub_test_support::TestEnv;

/// The tests' clock: the simulated systems' "now".
pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").expect("time")
}

/// Running simulators, the truth they expect on the 2024 units and its parameters, and the
/// NTM report years the pipeline reads.
pub struct Simulated {
    pub sims: RunningSims,
    pub params: TruthParams,
    pub truth: Truth,
    pub years: Vec<i32>,
}

/// Starts the simulators over `world` and computes their truth on the 2024 units.
pub async fn simulate(world: WorldConfig) -> Simulated {
    let years = world.report_years.clone();
    let sims = hub_simulators::start(SimConfig::for_tests(world))
        .await
        .expect("simulators");
    let params = {
        let w = sims.world.read().await;
        TruthParams {
            units: UnitList::Units2024,
            ..TruthParams::for_world(&w)
        }
    };
    let truth = sims.truth(Some(params)).await;
    Simulated {
        sims,
        params,
        truth,
        years,
    }
}

impl Simulated {
    /// The in-process pipeline on `env`'s broker and database reading these simulators,
    /// snapshots as of the truth's date: polling every second, a 500 ms debounce, no HTTP, a
    /// generated service token. Tests change what they need.
    pub fn pipeline_config(&self, env: &TestEnv) -> PipelineConfig {
        PipelineConfig {
            common: env.config.clone(),
            sources: Sources::of(&self.sims, self.years.clone()),
            poll: Duration::from_secs(1),
            as_of: Some(self.params.as_of),
            reconciler_http: None,
            indicators_http: None,
            debounce: Duration::from_millis(500),
            service_token: None,
            plan_dirs: Vec::new(),
        }
    }
}

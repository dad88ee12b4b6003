//! simulators → adapters → reconciler → indicators, on the real RabbitMQ and PostgreSQL.
//!
//! The snapshot an agency receives on `coophub.indicator` must equal the simulators' expected
//! values (computed from their ground truth per indicators.md) for the province and every
//! district and commune; and a new loan to a supported HTX at the source must yield a new
//! snapshot in which I7 moved by exactly that loan.

use std::time::Duration;

use hub::pipeline::Pipeline;
use hub_e2e::{snapshot_where, start, watch_snapshots};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::{MutationRequest, WorldConfig};
use hub_test_support::TestEnv;

fn i7(s: &hub_contracts::v1::IndicatorSnapshot, unit: &str) -> (Option<f64>, Option<f64>) {
    s.units
        .iter()
        .find(|u| u.unit_code == unit)
        .and_then(|u| u.values.iter().find(|v| v.indicator == "I7"))
        .map(|v| (v.numerator, v.denominator))
        .unwrap_or((None, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_published_snapshot_equals_the_truth_and_a_new_loan_moves_i7() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let simulated = start::simulate(WorldConfig {
        organisations: 150,
        loans: 260,
        ..WorldConfig::new(20251015, start::now())
    })
    .await;
    let (params, truth) = (simulated.params, &simulated.truth);

    let (agency_queue, mut snapshots) = watch_snapshots(&env, &stop).await;
    let pipeline = Pipeline::start(simulated.pipeline_config(&env), stop.clone())
        .await
        .expect("pipeline starts");

    let first = snapshot_where(
        &mut snapshots,
        Duration::from_secs(240),
        "equal to the truth",
        |s| s.unit_list == "2024" && truth.differences(s).is_empty(),
        |s| truth.differences(s).join("\n"),
    )
    .await;
    assert_eq!(first.as_of, params.as_of);
    assert_eq!(
        first.units.len(),
        1 + 8 + 106,
        "province, 8 districts, 106 communes"
    );
    let province_i7 = i7(&first, "12");
    assert!(
        province_i7.1.unwrap_or(0.0) > 0.0,
        "the world has supported HTX: {province_i7:?}"
    );

    // a new loan to a live supported HTX without credit, at the source
    let report = simulated
        .sims
        .mutate(&MutationRequest {
            credit_uncredited_htx: 1,
            ..MutationRequest::default()
        })
        .await
        .expect("mutation");
    assert_eq!(report.changes.len(), 1, "{report:?}");
    let truth_after = simulated.sims.truth(Some(params)).await;
    let moved = truth_after
        .unit("12")
        .and_then(|u| u.value("I7"))
        .and_then(|v| v.numerator);
    assert_eq!(
        moved,
        province_i7.0.map(|n| n + 1.0),
        "the truth says I7 moves by one"
    );

    let second = snapshot_where(
        &mut snapshots,
        Duration::from_secs(120),
        "after the new loan",
        |s| {
            s.unit_list == "2024"
                && s.version > first.version
                && truth_after.differences(s).is_empty()
        },
        |s| truth_after.differences(s).join("\n"),
    )
    .await;
    assert_ne!(second.content_hash, first.content_hash);
    assert_eq!(
        i7(&second, "12").0,
        province_i7.0.map(|n| n + 1.0),
        "I7 numerator +1"
    );
    assert_eq!(
        i7(&second, "12").1,
        province_i7.1,
        "I7 denominator unchanged"
    );

    let errors = pipeline.stop().await;
    assert!(
        errors.is_empty(),
        "services stopped with errors: {errors:?}"
    );
    simulated.sims.shutdown().await;
    env.delete_queues(&[agency_queue]).await;
    env.drop_database().await;
}

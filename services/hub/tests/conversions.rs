//! End to end on the real RabbitMQ and PostgreSQL: the simulated agencies pulled, the world's
//! Farmers' Union workbooks uploaded; the reconciler links every converted branch to the
//! organisation it became (explained in its log), and the snapshot's I5, I8 and, beside I5,
//! the conversions matched to the registry and not equal the world's truth in every unit,
//! with the other indicators still equal to the simulators' truth.

use std::time::Duration;

use hub::demo::{union_differences, upload_union_workbooks};
use hub::pipeline::{Pipeline, PipelineConfig};
use hub_contracts::v1::{DecisionOutcome, IndicatorSnapshot, ReconciliationDecision};
use hub_e2e::{snapshot_where, start, watch_snapshots};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::WorldConfig;
use hub_simulators::union::{UnionTruth, conversions};
use hub_test_support::TestEnv;

/// A difference of the simulators' truth on I5 or I8 (which it knows nothing of).
fn is_union(line: &str) -> bool {
    let ind = line.split_whitespace().nth(1).unwrap_or_default();
    matches!(ind.trim_end_matches(':'), "I5" | "I8")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn converted_branches_are_linked_and_the_i5_cross_check_equals_the_truth() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let simulated = start::simulate(WorldConfig::new(20251016, start::now())).await;
    let (params, truth) = (simulated.params, &simulated.truth);
    let (union_truth, converted) = {
        let w = simulated.sims.world.read().await;
        let union = UnionTruth::of(&w, params.units, params.as_of, params.baseline);
        (union, conversions(&w))
    };
    let province = union_truth.units["12"];
    assert!(
        province.conv_matched > 0 && province.conv_unmatched > 0,
        "the world has both kinds of conversion: {province:?}"
    );

    let (agency_queue, mut snapshots) = watch_snapshots(&env, &stop).await;
    let reconciler_addr = hub_test_support::free_addr();
    let pipeline = Pipeline::start(
        PipelineConfig {
            reconciler_http: Some(reconciler_addr),
            ..simulated.pipeline_config(&env)
        },
        stop.clone(),
    )
    .await
    .expect("pipeline starts");
    // the agencies' records first (the Union's workbooks come in later, as in the province)
    let synced = snapshot_where(
        &mut snapshots,
        Duration::from_secs(240),
        "the agencies' records reconciled",
        |s| s.unit_list == "2024" && truth.differences(s).iter().all(|l| is_union(l)),
        |s| truth.differences(s).join("\n"),
    )
    .await;
    let (books, published) = upload_union_workbooks(&env.config, &simulated.sims.world)
        .await
        .expect("workbooks uploaded");
    assert_eq!(books, 4);
    assert!(published > 0);

    // the simulators' truth knows no workbook: its I5 and I8 are `no_source`
    let differences = |s: &IndicatorSnapshot| {
        let mut d = union_differences(s, &union_truth);
        d.extend(truth.differences(s).into_iter().filter(|l| !is_union(l)));
        d
    };
    let snapshot = snapshot_where(
        &mut snapshots,
        Duration::from_secs(300),
        "equal to the truth, the Union's cross-check included",
        |s| s.unit_list == "2024" && s.version > synced.version && differences(s).is_empty(),
        |s| differences(s).join("\n"),
    )
    .await;
    let i5 = snapshot
        .units
        .iter()
        .find(|u| u.unit_code == "12")
        .and_then(|u| u.values.iter().find(|v| v.indicator == "I5"))
        .and_then(|v| v.conversions)
        .expect("the province's cross-check");
    assert_eq!(
        (i5.matched, i5.unmatched),
        (province.conv_matched, province.conv_unmatched)
    );

    // every conversion is in the reconciler's log, those to registry organisations matched
    let client = reqwest::Client::new();
    let log: serde_json::Value = client
        .get(format!(
            "http://{reconciler_addr}/api/v1/log?system=farmers-union&limit=500"
        ))
        .bearer_auth(&pipeline.service_token)
        .send()
        .await
        .expect("log")
        .error_for_status()
        .expect("log answered")
        .json()
        .await
        .expect("log body");
    let decisions: Vec<ReconciliationDecision> =
        serde_json::from_value(log["items"].clone()).expect("decisions");
    for c in &converted {
        let of_it: Vec<&ReconciliationDecision> = decisions
            .iter()
            .filter(|d| d.source.as_ref().is_some_and(|s| s.id == c.source_id))
            .collect();
        assert!(!of_it.is_empty(), "{} has no decision", c.source_id);
        if c.registry_id.is_some() {
            assert!(
                of_it
                    .iter()
                    .any(|d| d.outcome == DecisionOutcome::Matched && d.organisation_id.is_some()),
                "{}: {of_it:?}",
                c.source_id
            );
        }
    }

    let errors = pipeline.stop().await;
    assert!(
        errors.is_empty(),
        "services stopped with errors: {errors:?}"
    );
    simulated.sims.shutdown().await;
    env.delete_queues(&[agency_queue]).await;
    env.drop_database().await;
}

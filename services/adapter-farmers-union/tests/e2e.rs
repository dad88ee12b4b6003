//! End to end on the real broker and database: the simulated world's Union workbooks (the
//! mess of the spec: NFD, codes as numbers, Excel dates, yes/no spellings, bad rows, a
//! retraction, a district workbook after the provincial one, the same file twice) uploaded
//! through the ingest, published, projected by hub-indicators, and the snapshot's I5 and I8
//! equal to the world's truth for every unit of both unit lists.

use std::time::Duration;

use chrono::NaiveDate;
use hub_adapter_kit::file::{Outcome, UploadFile, UploadStep};
use hub_adapter_kit::{MIGRATOR, schema_for};
use hub_contracts::v1::indicator::{IndicatorSnapshot, ValueStatus};
use hub_indicators::{Config, UnitList};
use hub_runtime::messaging::Publisher;
use hub_runtime::storage::Database;
use hub_simulators::union::{UnionTruth, workbooks};
use hub_test_support::TestEnv;
use tokio_util::sync::CancellationToken;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

fn records_of(s: &IndicatorSnapshot) -> u64 {
    s.provenance
        .sources
        .iter()
        .find(|p| p.system == "farmers-union")
        .map_or(0, |p| p.records)
}

fn compare(s: &IndicatorSnapshot, truth: &UnionTruth) -> Vec<String> {
    let mut problems = Vec::new();
    for (code, want) in &truth.units {
        let Some(unit) = s.units.iter().find(|u| &u.unit_code == code) else {
            problems.push(format!("{code}: missing from the snapshot"));
            continue;
        };
        for (ind, num, den) in [
            ("I5", want.i5_num, want.i5_den),
            ("I8", want.i8_num, want.i8_den),
        ] {
            let Some(v) = unit.values.iter().find(|v| v.indicator == ind) else {
                problems.push(format!("{code} {ind}: missing"));
                continue;
            };
            let got = (v.numerator, v.denominator);
            if got != (Some(num as f64), Some(den as f64)) || v.status == ValueStatus::NoSource {
                problems.push(format!(
                    "{code} {ind}: got {got:?} {:?}, truth {num}/{den}",
                    v.status
                ));
            }
        }
    }
    assert_eq!(truth.units.len(), s.units.len(), "every unit has a truth");
    problems
}

#[tokio::test]
async fn the_worlds_i5_and_i8_equal_its_truth_end_to_end() {
    let env = TestEnv::new().await;
    let world = hub_simulators::generate(&hub_simulators::WorldConfig::default()).expect("world");
    let as_of = d(2025, 6, 30);
    let config = Config {
        common: env.config.clone(),
        plan_dirs: vec![],
        plan_file: None,
        unit_list: UnitList::ALL.to_vec(),
        debounce_ms: 100,
        debounce_max_ms: 1_000,
        as_of: Some(as_of),
        service_tokens: hub_runtime::service_auth::ServiceTokens::default(),
        sources: Vec::new(),
    };
    let broker = env.broker("fu-e2e");
    let ch = broker.channel().await.expect("broker");
    let input_queue = hub_indicators::input_queue(&config);
    env.topology()
        .declare_queue(&ch, &input_queue, &env.retry_policy())
        .await
        .expect("declare");
    let stop = CancellationToken::new();
    let running = hub_indicators::start(config, stop.clone())
        .await
        .expect("indicators start");

    let db = Database::connect(
        &env.config.database_url,
        &schema_for(hub_adapter_farmers_union::SYSTEM),
        Some(&MIGRATOR),
    )
    .await
    .expect("adapter database");
    let publisher = std::sync::Arc::new(Publisher::new(broker.clone()));
    let ingest = hub_adapter_farmers_union::ingest(db, publisher, 10 * 1024 * 1024);

    let books = workbooks(&world);
    let mut published = 0u64;
    let mut outcomes = Vec::new();
    for (i, book) in books.iter().enumerate() {
        let files: Vec<UploadFile> = book
            .files
            .iter()
            .map(|f| UploadFile {
                name: f.name.clone(),
                bytes: f.bytes.clone(),
            })
            .collect();
        let steps = std::sync::Mutex::new(Vec::new());
        let report = ingest
            .upload_with_progress(&files, "union-sim", &|step| {
                steps.lock().expect("steps").push(step)
            })
            .await
            .expect("upload");
        let steps = steps.into_inner().expect("steps");
        if report.outcome == Outcome::Accepted {
            // the progress an upload tells: the rows read, then every message confirmed,
            // then every record written, each growing to its total
            let records = report.published + report.retracted;
            assert_eq!(
                steps.first(),
                Some(&UploadStep::Read {
                    rows: report.rows_read,
                    records
                }),
                "workbook {i}: {steps:?}"
            );
            let last = |f: fn(&UploadStep) -> Option<(usize, usize)>| {
                steps.iter().filter_map(f).next_back()
            };
            let published = |s: &UploadStep| match *s {
                UploadStep::Published { done, total } => Some((done, total)),
                _ => None,
            };
            let recorded = |s: &UploadStep| match *s {
                UploadStep::Recorded { done, total } => Some((done, total)),
                _ => None,
            };
            if records > 0 {
                assert_eq!(last(published), Some((records, records)), "{steps:?}");
                assert_eq!(last(recorded), Some((records, records)), "{steps:?}");
            }
        }
        assert_eq!(
            report.rejected.len(),
            if report.outcome == Outcome::Accepted {
                book.bad_rows
            } else {
                report.rejected.len()
            },
            "workbook {i}: {:#?}",
            report.rejected
        );
        if i == 1 {
            assert!(
                report.retracted >= 2,
                "the end-2024 workbook retracts: {report:?}"
            );
        }
        published += (report.published + report.retracted) as u64;
        outcomes.push(report.outcome);
    }
    assert_eq!(
        outcomes,
        vec![
            Outcome::Accepted,
            Outcome::Accepted,
            Outcome::Accepted,
            Outcome::Duplicate
        ]
    );

    let b = d(2024, 2, 20);
    for list in [UnitList::Units2024, UnitList::Units2025] {
        let truth = UnionTruth::of(&world, list, as_of, b);
        let snapshot = tokio::time::timeout(
            Duration::from_secs(120),
            running.snapshot_where(list, |s| records_of(s) == published),
        )
        .await
        .unwrap_or_else(|_| panic!("no snapshot of {list:?} with all {published} Union records"))
        .expect("service running");
        let problems = compare(&snapshot, &truth);
        assert!(problems.is_empty(), "{list:?}:\n{}", problems.join("\n"));
        let p = &truth.units["12"];
        println!(
            "{list:?}: province I5 {}/{}, I8 {}/{}; {} units equal their truth",
            p.i5_num,
            p.i5_den,
            p.i8_num,
            p.i8_den,
            truth.units.len()
        );
    }

    stop.cancel();
    running.stopped().await.expect("stopped");
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    env.delete_queues(&[input_queue]).await;
    env.drop_database().await;
}

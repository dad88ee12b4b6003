//! Two provinces in one hub, end to end on the real RabbitMQ and PostgreSQL (#17): every
//! service resolves against Lai Châu's and Điện Biên's plan folders (`REFERENCE_DIRS`), the
//! indicators compute both plans (`PLAN_DIRS`). Lai Châu's snapshot, pulled from the simulated
//! agencies, still equals the simulators' truth (the same check as the one-province pipeline
//! test: Lai Châu's numbers unchanged with a second province loaded); Điện Biên's provincial
//! union uploads a workbook, and Điện Biên's snapshot, computed from its folder alone,
//! counts its officers while Lai Châu's stays equal to the truth. Installing the provinces
//! is once per process: this file is a test binary of its own.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use hub::pipeline::{Pipeline, PipelineConfig};
use hub_adapter_kit::file::{DEFAULT_MAX_UPLOAD_BYTES, Outcome, UploadFile};
use hub_contracts::v1::IndicatorSnapshot;
use hub_e2e::{snapshot_where, start, watch_snapshots};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::WorldConfig;
use hub_test_support::TestEnv;

fn folder(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/plans")
        .join(name)
}

/// Điện Biên's provincial union's workbook (CSV, one file a sheet): a branch in Mường Báng
/// (Tủa Chùa) and two provincial officers on the collective economy, one trained.
fn dien_bien_workbook() -> Vec<UploadFile> {
    let file = |name: &str, text: &str| UploadFile {
        name: name.to_owned(),
        bytes: text.as_bytes().to_vec(),
    };
    vec![
        file(
            "Thong_tin.csv",
            "don_vi_gui,ngay_bao_cao,nguoi_lap\n11,30/06/2025,Lò Văn Minh\n",
        ),
        file(
            "Chi_to_hoi_NN.csv",
            "ma,ten,loai,ma_xa,ma_xa_moi,ngay_thanh_lap,so_hoi_vien,trang_thai,ngay_ket_thuc,\
             chuyen_thanh_loai,chuyen_thanh_ten,chuyen_thanh_ma_dk\n\
             CHNN-11-0001,Chi hội nông dân nghề nghiệp trồng chè,chi_hoi,03250,03217,01/03/2023,\
             20,hoat_dong,,,,\n",
        ),
        file(
            "Can_bo_Hoi.csv",
            "ma_can_bo,ho_ten,cap,ma_don_vi,chuc_vu,phu_trach_KTTT,dien_thoai\n\
             CB-T-1,Lò Văn Ánh,tinh,11,Chủ tịch,co,\n\
             CB-T-2,Quàng Thị Bình,tinh,11,Phó Chủ tịch,co,\n",
        ),
        file(
            "Tap_huan.csv",
            "ma_can_bo,khoa_hoc,tu_ngay,den_ngay,don_vi_to_chuc,noi_dung_KTTT\n\
             CB-T-1,Kinh tế tập thể 2025,02/05/2025,04/05/2025,Hội Nông dân tỉnh,co\n",
        ),
    ]
}

/// `(numerator, denominator)` of an indicator at a unit.
fn fraction(s: &IndicatorSnapshot, unit: &str, indicator: &str) -> (Option<f64>, Option<f64>) {
    s.units
        .iter()
        .find(|u| u.unit_code == unit)
        .and_then(|u| u.values.iter().find(|v| v.indicator == indicator))
        .map(|v| (v.numerator, v.denominator))
        .unwrap_or((None, None))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lai_chau_equals_its_truth_and_dien_bien_computes_beside_it() {
    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let simulated = start::simulate(WorldConfig {
        organisations: 150,
        loans: 260,
        ..WorldConfig::new(20251015, start::now())
    })
    .await;
    let (params, truth) = (simulated.params, &simulated.truth);
    assert!(
        params.as_of >= NaiveDate::from_ymd_opt(2025, 6, 30).expect("date"),
        "the workbook's report date is on or before the as-of date"
    );

    let (agency_queue, mut snapshots) = watch_snapshots(&env, &stop).await;
    let mut config = simulated.pipeline_config(&env);
    let both = [folder("lai-chau"), folder("dien-bien")];
    config.common.reference_dirs = Some(
        both.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    let indicators_addr = hub_test_support::free_addr();
    let pipeline = Pipeline::start(
        PipelineConfig {
            plan_dirs: both.to_vec(),
            indicators_http: Some(indicators_addr),
            ..config
        },
        stop.clone(),
    )
    .await
    .expect("pipeline starts with two provinces");

    let describe = |s: &IndicatorSnapshot| {
        if s.plan_id == "lai-chau-182" {
            truth.differences(s).join("\n")
        } else {
            format!("{} {}", s.plan_id, s.unit_list)
        }
    };
    // Lai Châu's numbers: the simulators' truth, as with Lai Châu alone
    let lai_chau = snapshot_where(
        &mut snapshots,
        Duration::from_secs(240),
        "Lai Châu's snapshot equal to the truth",
        |s| s.plan_id == "lai-chau-182" && s.unit_list == "2024" && truth.differences(s).is_empty(),
        describe,
    )
    .await;
    assert_eq!(lai_chau.units.len(), 1 + 8 + 106);
    assert_eq!(lai_chau.as_of, params.as_of);

    // Điện Biên's provincial union uploads its workbook
    let db = hub_runtime::storage::Database::connect(
        &env.config.database_url,
        &hub_adapter_kit::schema_for(hub_adapter_farmers_union::SYSTEM),
        Some(&hub_adapter_kit::MIGRATOR),
    )
    .await
    .expect("the Union adapter's database");
    let broker = hub_runtime::Broker::new(
        &env.config.amqp_url,
        "provinces-upload",
        env.config.topology(),
        Default::default(),
        Default::default(),
    );
    let publisher = std::sync::Arc::new(hub_runtime::messaging::Publisher::new(broker.clone()));
    let ingest = hub_adapter_farmers_union::ingest(db, publisher, DEFAULT_MAX_UPLOAD_BYTES);
    let report = ingest
        .upload(&dien_bien_workbook(), "union-dien-bien")
        .await
        .expect("upload");
    assert_eq!(
        (report.outcome, report.sender.as_deref(), report.published),
        (Outcome::Accepted, Some("11"), 4),
        "{report:?}"
    );
    broker.close().await;

    // Điện Biên's snapshot: its own plan, units and indicators, its officers counted
    let dien_bien = snapshot_where(
        &mut snapshots,
        Duration::from_secs(120),
        "Điện Biên's snapshot counting its union's officers",
        |s| {
            s.plan_id == "dien-bien-182"
                && s.unit_list == "2024"
                && fraction(s, "11", "CAN-BO") == (Some(1.0), Some(2.0))
        },
        describe,
    )
    .await;
    assert_eq!(dien_bien.province_code, "11");
    assert_eq!(dien_bien.units.len(), 1 + 10 + 129);
    assert_eq!(dien_bien.as_of, params.as_of);
    // nothing of Lai Châu's world in it: the simulated organisations are all Lai Châu's
    let moi = dien_bien.units[0]
        .values
        .iter()
        .find(|v| v.indicator == "HTX-MOI")
        .and_then(|v| v.value);
    assert_eq!(moi, Some(0.0));

    // Lai Châu's latest snapshot is still the truth, Điện Biên's workbook counts nowhere in it
    let latest: IndicatorSnapshot = reqwest::Client::new()
        .get(format!(
            "http://{indicators_addr}/api/v1/snapshots/latest?plan=lai-chau-182&units=2024"
        ))
        .bearer_auth(&pipeline.service_token)
        .send()
        .await
        .expect("indicators answer")
        .error_for_status()
        .expect("a snapshot")
        .json()
        .await
        .expect("a snapshot");
    assert_eq!(latest.plan_id, "lai-chau-182");
    assert!(
        truth.differences(&latest).is_empty(),
        "{}",
        truth.differences(&latest).join("\n")
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

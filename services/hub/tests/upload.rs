//! `hub upload farmers-union FILE…`, the binary itself, on the real broker and database:
//! CSV files of a workbook are taken with their bad rows reported (sheet, row, column,
//! reason), published, and audited with the uploader; the same files again change nothing.

use std::process::Command;

use hub_contracts::registry::exchanges;
use hub_runtime::messaging::QueueSpec;
use hub_test_support::TestEnv;
use lapin::options::BasicGetOptions;
use sqlx::postgres::PgPoolOptions;

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn hub_upload(env: &TestEnv, files: &[std::path::PathBuf]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hub"))
        .args(["upload", "farmers-union", "--as", "cli-test"])
        .args(files)
        .env("DATABASE_URL", &env.config.database_url)
        .env("AMQP_URL", &env.config.amqp_url)
        .env("HUB_NAMESPACE", &env.namespace)
        .env_remove("HUB_CONFIG")
        .output()
        .expect("hub runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn hub_upload_takes_csv_files_reports_bad_rows_and_is_idempotent() {
    let env = TestEnv::new().await;
    let broker = env.broker("upload-test");
    let ch = broker.channel().await.expect("broker");
    let observer = QueueSpec::new("upload.observer").bind(exchanges::SOURCE, "source.#");
    env.topology()
        .declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer");

    let dir = std::env::temp_dir().join(format!("hub-upload-{}", env.namespace));
    std::fs::create_dir_all(&dir).expect("dir");
    let files = vec![
        write(
            &dir,
            "Thong_tin.csv",
            "don_vi_gui;ngay_bao_cao;nguoi_lap\n106;31/12/2024;Lò Văn Minh\n",
        ),
        write(
            &dir,
            "Chi_to_hoi_NN.csv",
            "\u{feff}ma,ten,loai,ma_xa,ngay_thanh_lap,trang_thai,ngay_ket_thuc\n\
             CHNN-106-0001,Chi hội trồng chè,chi_hoi,3390,01/03/2023,hoat_dong,\n\
             CHNN-105-0001,Chi hội nuôi ong,chi_hoi,03386,01/03/2023,hoat_dong,\n",
        ),
        write(
            &dir,
            "Can_bo_Hoi.csv",
            "ma_can_bo,ho_ten,cap,ma_don_vi,phu_trach_KTTT\nCB1,Giàng A Páo,xa,03390,có\n",
        ),
        write(
            &dir,
            "Tap_huan.csv",
            "ma_can_bo,khoa_hoc,tu_ngay,den_ngay,noi_dung_KTTT\nCB1,KTTT,2024-05-02,2024-05-04,x\n",
        ),
    ];
    let (ok, out) = hub_upload(&env, &files);
    assert!(ok, "{out}");
    assert!(out.contains(": accepted"), "{out}");
    assert!(out.contains("sender 106, report date 2024-12-31"), "{out}");
    assert!(
        out.contains("sheet Chi_to_hoi_NN, row 3, column ma_xa: outside district 106"),
        "{out}"
    );
    assert!(out.contains("3 taken (3 published"), "{out}");
    assert!(!out.contains("Giàng"), "no personal data printed: {out}");
    let queue = env.topology().name(&observer.name);
    let mut published = 0;
    while ch
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .is_some()
    {
        published += 1;
    }
    assert_eq!(published, 3);

    let (ok, out) = hub_upload(&env, &files);
    assert!(ok, "{out}");
    assert!(out.contains(": duplicate"), "{out}");
    assert!(
        ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
            .is_none(),
        "nothing published again"
    );

    // a file that is no workbook: refused, exit status 1, audited too
    let bad = vec![write(&dir, "notes.txt", "hello")];
    let (ok, out) = hub_upload(&env, &bad);
    assert!(!ok, "{out}");

    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.config.database_url)
        .await
        .expect("db");
    let audit: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT uploaded_by, outcome, sender FROM adapter_farmers_union.file_uploads ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("audit");
    assert_eq!(
        audit,
        vec![
            ("cli-test".into(), "accepted".into(), Some("106".into())),
            ("cli-test".into(), "duplicate".into(), Some("106".into())),
            ("cli-test".into(), "refused".into(), None),
        ]
    );
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    env.delete_queues(&[observer]).await;
    env.drop_database().await;
}

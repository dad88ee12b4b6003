//! `hub acceptance <source>`, the binary itself, as an integrator runs it against their own
//! server or files, here pointed at our simulator and at the simulated world's Union
//! workbooks, on the real broker and database: every check passes; an altered server
//! credential or a file that is no workbook fails it, naming the check; the scratch
//! schemas are gone afterwards. A Điện Biên workbook passes where `REFERENCE_DIRS` loads
//! Điện Biên, and is refused (sender 11 unknown) where Lai Châu alone is.

use chrono::DateTime;
use hub_simulators::{SimConfig, WorldConfig};
use hub_test_support::TestEnv;
use sqlx::postgres::PgPoolOptions;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn hub_acceptance(env: &TestEnv, args: &[&str], vars: &[(&str, &str)]) -> Run {
    // async: the simulators serve on this test's runtime meanwhile
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_hub"));
    cmd.arg("acceptance")
        .args(args)
        .env("DATABASE_URL", &env.config.database_url)
        .env("AMQP_URL", &env.config.amqp_url)
        .env_remove("HUB_CONFIG")
        .env_remove("HUB_NAMESPACE");
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("hub runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The schemas an acceptance run left in the test's database.
async fn scratch_schemas(env: &TestEnv) -> Vec<String> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.config.database_url)
        .await
        .expect("database");
    let left = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'adapter\\_%\\_acc%'",
    )
    .fetch_all(&pool)
    .await
    .expect("schemas");
    pool.close().await;
    left
}

#[tokio::test]
async fn hub_acceptance_passes_against_the_ntm_simulator_and_fails_with_a_wrong_password() {
    let env = TestEnv::new().await;
    let world = WorldConfig {
        seed: 21,
        organisations: 140,
        loans: 140,
        report_years: vec![2024, 2025],
        bad_records: 12,
        now: DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").expect("date"),
        noise: Default::default(),
    };
    let sims = hub_simulators::start(SimConfig::for_tests(world))
        .await
        .expect("simulators");
    let c = sims.credentials.clone();
    let url = sims.ntm.base_url.clone();
    let server = |password: &str| {
        vec![
            ("NTM_URL", url.clone()),
            ("NTM_USER", c.ntm_user.clone()),
            ("NTM_PASSWORD", password.to_owned()),
            ("NTM_YEARS", "2024,2025".to_owned()),
        ]
    };
    let vars = server(&c.ntm_password);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = hub_acceptance(&env, &["ntm"], &vars).await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    for check in ["ok  credentials", "ok  full sync", "ok  kill and resume"] {
        assert!(run.stdout.contains(check), "{check}:\n{}", run.stdout);
    }
    let synced: usize = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("ok  full sync: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        (190..=212).contains(&synced),
        "the simulator's 212 reports, less the invalid ones: {}",
        run.stdout
    );

    let vars = server("not-the-password");
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = hub_acceptance(&env, &["ntm"], &vars).await;
    assert!(!run.ok, "a wrong password fails: {}", run.stdout);
    assert!(
        run.stderr.contains("check `credentials` FAILED") && run.stderr.contains("401"),
        "{}",
        run.stderr
    );
    assert_eq!(scratch_schemas(&env).await, Vec::<String>::new());
    sims.shutdown().await;
    env.drop_database().await;
}

#[tokio::test]
async fn hub_acceptance_passes_on_the_worlds_union_workbook_and_refuses_a_non_workbook() {
    let env = TestEnv::new().await;
    let world = hub_simulators::generate(&WorldConfig::default()).expect("world");
    let books = hub_simulators::union::workbooks(&world);
    let dir = std::env::temp_dir().join(format!("hub-acceptance-{}", env.namespace));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let book = &books[0];
    let paths: Vec<String> = book
        .files
        .iter()
        .map(|f| {
            let p = dir.join(&f.name);
            std::fs::write(&p, &f.bytes).expect("write the workbook");
            p.display().to_string()
        })
        .collect();
    let mut args = vec!["farmers-union"];
    args.extend(paths.iter().map(String::as_str));
    let run = hub_acceptance(&env, &args, &[]).await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok  upload"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("{} rows rejected", book.bad_rows)),
        "the workbook's {} bad rows are reported: {}",
        book.bad_rows,
        run.stdout
    );
    assert!(
        run.stdout.contains("ok  same files again"),
        "{}",
        run.stdout
    );

    let junk = dir.join("not-a-workbook.xlsx");
    std::fs::write(&junk, b"these are not the bytes of a workbook").expect("write");
    let run = hub_acceptance(&env, &["farmers-union", &junk.display().to_string()], &[]).await;
    assert!(!run.ok, "{}", run.stdout);
    assert!(
        run.stderr.contains("check `upload` FAILED") && run.stderr.contains("refused"),
        "{}",
        run.stderr
    );
    let run = hub_acceptance(&env, &["ntm", &junk.display().to_string()], &[]).await;
    assert!(
        !run.ok && run.stderr.contains("no file source"),
        "{}",
        run.stderr
    );
    assert_eq!(scratch_schemas(&env).await, Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
    env.drop_database().await;
}

#[tokio::test]
async fn hub_acceptance_reads_another_provinces_workbook_where_it_is_loaded() {
    let env = TestEnv::new().await;
    let dir = std::env::temp_dir().join(format!("hub-acceptance-db-{}", env.namespace));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Điện Biên's provincial union (11): a branch in Mường Báng (Tủa Chùa), an officer
    let sheets = [
        (
            "Thong_tin.csv",
            "don_vi_gui,ngay_bao_cao,nguoi_lap\n11,30/06/2025,Lò Văn Minh\n",
        ),
        (
            "Chi_to_hoi_NN.csv",
            "ma,ten,loai,ma_xa,ngay_thanh_lap,trang_thai\n\
             CHNN-11-0001,Chi hội nông dân nghề nghiệp trồng chè,chi_hoi,03250,01/03/2023,hoat_dong\n",
        ),
        (
            "Can_bo_Hoi.csv",
            "ma_can_bo,ho_ten,cap,ma_don_vi,phu_trach_KTTT\nCB-T-1,Lò Văn Ánh,tinh,11,co\n",
        ),
        (
            "Tap_huan.csv",
            "ma_can_bo,khoa_hoc,tu_ngay,den_ngay,noi_dung_KTTT\n\
             CB-T-1,Kinh tế tập thể 2025,02/05/2025,04/05/2025,co\n",
        ),
    ];
    let mut args = vec!["farmers-union".to_owned()];
    for (name, text) in sheets {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write the workbook");
        args.push(p.display().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let plans = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans");
    let both = format!(
        "{},{}",
        plans.join("lai-chau").display(),
        plans.join("dien-bien").display()
    );
    let run = hub_acceptance(&env, &args, &[("REFERENCE_DIRS", &both)]).await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok  upload"), "{}", run.stdout);
    // Lai Châu alone: 11 is no sender
    let run = hub_acceptance(&env, &args, &[]).await;
    assert!(!run.ok, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("is neither a province (12) nor one of its districts"),
        "{}",
        run.stderr
    );
    assert_eq!(scratch_schemas(&env).await, Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
    env.drop_database().await;
}

//! Every service works connected as its own PostgreSQL role, made by
//! `deploy/postgres/role.sql` as the deployment makes it: its migrations (the runtime's and
//! its own) run in its own schema, and it cannot touch another service's.

use hub_runtime::storage::Database;
use hub_test_support::TestEnv;
use sqlx::migrate::Migrator;

#[tokio::test]
async fn each_service_migrates_as_its_own_role() {
    let env = TestEnv::new().await;
    let services: [(&str, String, Option<&Migrator>); 5] = [
        ("inbound", "inbound".into(), Some(&hub_inbound::MIGRATOR)),
        (
            "reconciler",
            hub_reconciler::SCHEMA.into(),
            Some(&hub_reconciler::MIGRATOR),
        ),
        (
            "indicators",
            hub_indicators::service::SCHEMA.into(),
            Some(&hub_indicators::service::MIGRATOR),
        ),
        (
            "console",
            hub_console::service::SCHEMA.into(),
            Some(&hub_console::service::MIGRATOR),
        ),
        (
            "adapter",
            hub_adapter_kit::schema_for("loan-fund"),
            Some(&hub_adapter_kit::MIGRATOR),
        ),
    ];
    let mut roles = Vec::new();
    let mut pools = Vec::new();
    for (name, schema, migrator) in &services {
        let role = format!("{}_{name}", env.namespace);
        env.create_service_role(&role, schema);
        let db = Database::connect(&env.database_url_as(&role), schema, *migrator)
            .await
            .unwrap_or_else(|e| panic!("{name} as its own role: {e}"));
        roles.push(role);
        pools.push(db);
    }
    // the adapter's role may not read the console's sessions or audit log
    let adapter = &pools[4];
    let e = sqlx::query("SELECT count(*) FROM console._sqlx_migrations")
        .execute(&adapter.pool)
        .await
        .expect_err("another service's schema");
    assert!(e.to_string().contains("permission denied"), "{e}");
    for db in pools {
        db.pool.close().await;
    }
    env.drop_database().await;
    let admin_url = env
        .config
        .database_url
        .replace(&format!("/{}", env.database), "/postgres");
    if let Ok(admin) = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_url)
        .await
    {
        for r in roles {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {r}")))
                .execute(&admin)
                .await;
        }
    }
}

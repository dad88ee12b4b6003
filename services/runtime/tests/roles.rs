//! Each service its own PostgreSQL role (`deploy/postgres/role.sql`, run with `psql` as the
//! deployment does): connected as its role, a service makes its tables and runs its migrations
//! in its own schema, and cannot read or write another service's schema, create a schema or
//! use `public`.

use hub_runtime::storage::Database;
use hub_test_support::TestEnv;

#[tokio::test]
async fn a_service_role_owns_its_schema_and_nothing_else() {
    let env = TestEnv::new().await;
    let (alpha, beta) = (
        format!("{}_alpha", env.namespace),
        format!("{}_beta", env.namespace),
    );
    env.create_service_role(&alpha, "alpha");
    env.create_service_role(&beta, "beta");
    // idempotent: run again (a password rotation)
    env.create_service_role(&alpha, "alpha");

    let a = Database::connect(&env.database_url_as(&alpha), "alpha", None)
        .await
        .expect("alpha connects as its own role and migrates its schema");
    let b = Database::connect(&env.database_url_as(&beta), "beta", None)
        .await
        .expect("beta too");
    sqlx::query("INSERT INTO inbox (consumer, message_id) VALUES ('c', 'm1')")
        .execute(&a.pool)
        .await
        .expect("writes in its own schema");
    sqlx::query("INSERT INTO outbox (message_id, exchange, routing_key, contract_type, body) VALUES ('m1', 'x', 'k', 't', '')")
        .execute(&b.pool)
        .await
        .expect("and so does beta in its own");
    for (what, sql) in [
        (
            "read another's table",
            "SELECT count(*) FROM beta._hub_runtime_migrations",
        ),
        (
            "write another's table",
            "DELETE FROM beta._hub_runtime_migrations",
        ),
        ("create a schema", "CREATE SCHEMA gamma"),
        ("use public", "CREATE TABLE public.t (x int)"),
    ] {
        let e = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&a.pool)
            .await
            .expect_err(what);
        assert!(e.to_string().contains("permission denied"), "{what}: {e}");
    }
    a.pool.close().await;
    b.pool.close().await;
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
        for r in [&alpha, &beta] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {r}")))
                .execute(&admin)
                .await;
        }
    }
}

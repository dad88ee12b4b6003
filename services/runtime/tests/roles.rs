//! Each service its own PostgreSQL role (`deploy/postgres/role.sql`, run with `psql` as the
//! deployment does): connected as its role, a service makes its tables and runs its migrations
//! in its own schema, and cannot read or write another service's schema, create a schema or
//! use `public`.

use std::process::Command;

use hub_runtime::storage::Database;
use hub_runtime::testing::TestEnv;

fn role_sql(env: &TestEnv, role: &str, schema: &str) {
    let sql =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/postgres/role.sql");
    let out = Command::new("psql")
        .arg(&env.config.database_url)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-v", &format!("db={}", env.database)])
        .args(["-v", &format!("role={role}")])
        .args(["-v", &format!("schema={schema}")])
        .args(["-v", "password=test-only-0123456789"])
        .arg("-f")
        .arg(&sql)
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "role.sql for {role}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_role(url: &str, role: &str) -> String {
    // postgres://user@host/db -> postgres://role@host/db (trust authentication here)
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
    format!("{scheme}://{role}@{host}")
}

#[tokio::test]
async fn a_service_role_owns_its_schema_and_nothing_else() {
    let env = TestEnv::new().await;
    let (alpha, beta) = (
        format!("{}_alpha", env.namespace),
        format!("{}_beta", env.namespace),
    );
    role_sql(&env, &alpha, "alpha");
    role_sql(&env, &beta, "beta");
    // idempotent: run again (a password rotation)
    role_sql(&env, &alpha, "alpha");

    let a = Database::connect(&as_role(&env.config.database_url, &alpha), "alpha", None)
        .await
        .expect("alpha connects as its own role and migrates its schema");
    let b = Database::connect(&as_role(&env.config.database_url, &beta), "beta", None)
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

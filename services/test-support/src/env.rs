//! Support for tests that run against the real broker and database (zero2prod style): each
//! test gets a fresh database and its own topology namespace, so tests run in parallel on one
//! RabbitMQ and one PostgreSQL without seeing each other. Nothing here is a mock.
//!
//! A missing server fails the test loudly: there is no skipping. Owns creating and dropping
//! the test's database and roles and deleting its queues; it never touches another test's
//! namespace or database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use hub_runtime::config::CommonConfig;
use hub_runtime::http::Readiness;
use hub_runtime::messaging::topology::Declaration;
use hub_runtime::messaging::{Broker, QueueSpec, RetryPolicy, Topology};
use hub_runtime::telemetry::Metrics;

/// A fresh database and namespace for one test.
pub struct TestEnv {
    pub config: CommonConfig,
    pub database: String,
    pub namespace: String,
}

impl TestEnv {
    /// Creates a database `hub_t_<random>` on the server of `DATABASE_URL` (default: this
    /// machine's) and a namespace `t<random>`.
    pub async fn new() -> Self {
        let base = CommonConfig {
            amqp_url: std::env::var("AMQP_URL")
                .unwrap_or_else(|_| CommonConfig::default().amqp_url),
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| CommonConfig::default().database_url),
            ..CommonConfig::default()
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("hub_t_{}", &id[..16]);
        let namespace = format!("t{}", &id[..12]);
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(
                PgConnectOptions::from_str(&base.database_url).expect("DATABASE_URL parses"),
            )
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {} is not reachable: {e}", base.database_url)
            });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let database_url = replace_db(&base.database_url, &database);
        Self {
            config: CommonConfig {
                database_url,
                hub_namespace: namespace.clone(),
                retry_attempts: 3,
                retry_initial_ms: 50,
                retry_max_ms: 200,
                ..base
            },
            database,
            namespace,
        }
    }

    pub fn topology(&self) -> Topology {
        Topology::new(&self.namespace)
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        self.config.retry_policy()
    }

    /// A broker handle in this test's namespace.
    pub fn broker(&self, name: &str) -> Broker {
        Broker::new(
            &self.config.amqp_url,
            name,
            self.topology(),
            Metrics::new(),
            Readiness::new(),
        )
    }

    /// Deletes every queue declared in this test's namespace by this process (the test's own
    /// and the services' it started), the ones of `specs` too, and the namespace's exchanges:
    /// a quorum queue holds resources on the broker until it is deleted.
    pub async fn delete_queues(&self, specs: &[QueueSpec]) {
        let broker = self.broker("teardown");
        let Ok(ch) = broker.channel().await else {
            return;
        };
        // what the shared plan and the specs' plans declare, and whatever else this process
        // declared in the namespace
        let t = self.topology();
        let mut plan = t.shared_plan();
        for spec in specs {
            plan.extend(t.queue_plan(spec, &self.retry_policy()));
        }
        let mut queues: std::collections::BTreeSet<String> =
            hub_runtime::messaging::topology::declared_queues(&format!("{}.", self.namespace))
                .into_iter()
                .collect();
        let mut exchanges = Vec::new();
        for d in plan {
            match d {
                Declaration::Queue { name, .. } => {
                    queues.insert(name);
                }
                Declaration::Exchange { name, .. } => exchanges.push(name),
                Declaration::Binding { .. } => {}
            }
        }
        for n in queues {
            let _ = ch
                .queue_delete(
                    n.as_str().into(),
                    lapin::options::QueueDeleteOptions::default(),
                )
                .await;
        }
        for ex in exchanges {
            let _ = ch
                .exchange_delete(
                    ex.as_str().into(),
                    lapin::options::ExchangeDeleteOptions::default(),
                )
                .await;
        }
        broker.close().await;
    }

    /// Makes a service's own role owning `schema` in the test database, by running
    /// `deploy/postgres/role.sql` with `psql` as the deployment does (a test-only password).
    pub fn create_service_role(&self, role: &str, schema: &str) {
        let sql =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/postgres/role.sql");
        let out = std::process::Command::new("psql")
            .arg(&self.config.database_url)
            .args(["-q", "-v", "ON_ERROR_STOP=1"])
            .args(["-v", &format!("db={}", self.database)])
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

    /// The test database's URL with `role` as the user (trust authentication here):
    /// `postgres://user@host/db` → `postgres://role@host/db`.
    pub fn database_url_as(&self, role: &str) -> String {
        let url = &self.config.database_url;
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host = rest.rsplit_once('@').map(|(_, h)| h).unwrap_or(rest);
        format!("{scheme}://{role}@{host}")
    }

    /// Drops the test database.
    pub async fn drop_database(&self) {
        let url = replace_db(&self.config.database_url, "postgres");
        if let Ok(opts) = PgConnectOptions::from_str(&url)
            && let Ok(admin) = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            )))
            .execute(&admin)
            .await;
        }
    }
}

fn replace_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = match path_start {
        Some(p) => &base[..p],
        None => base,
    };
    match query {
        Some(q) => format!("{host}/{db}?{q}"),
        None => format!("{host}/{db}"),
    }
}

/// Waits until `check` returns `Some`, re-checking when `tick` elapses, failing the test with
/// `what` after `deadline`. For conditions only observable by asking (a queue's depth).
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            super::replace_db("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_db("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}

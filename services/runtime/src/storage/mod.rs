//! PostgreSQL through sqlx: a schema per service, migrations, the transactional outbox and
//! the idempotent inbox.
//!
//! Each service connects with its own schema as `search_path`, so its tables, its migration
//! history and the runtime's outbox and inbox all live there: no service reads another's
//! tables. The runtime's tables have their own migration history table
//! (`_hub_runtime_migrations`) beside the service's (`_sqlx_migrations`).
//!
//! In production each service connects as its own role, which owns its schema and has no
//! rights on any other (`deploy/postgres/roles.sql`): the schema then exists already and is
//! not created here. Development and tests connect as a superuser, which creates it.

pub mod inbox;
pub mod outbox;

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::redact_url;

/// What can go wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("DATABASE_URL {url}: {message}")]
    Url { url: String, message: String },
    #[error("cannot reach the database: {0}")]
    Connect(String),
    #[error("migrations of schema {schema} failed: {message}")]
    Migrate { schema: String, message: String },
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("invalid schema name {0:?}: expected lower-case letters, digits and '_'")]
    Schema(String),
}

static RUNTIME_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// A service's database: a pool whose connections use the service's schema.
#[derive(Clone, Debug)]
pub struct Database {
    pub pool: PgPool,
    pub schema: String,
}

impl Database {
    /// Connects, creates the schema if needed, and runs the runtime's and the service's
    /// migrations in it.
    pub async fn connect(
        url: &str,
        schema: &str,
        migrator: Option<&Migrator>,
    ) -> Result<Self, StorageError> {
        if schema.is_empty()
            || !schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StorageError::Schema(schema.to_owned()));
        }
        let base = PgConnectOptions::from_str(url).map_err(|e| StorageError::Url {
            url: redact_url(url),
            message: e.to_string(),
        })?;
        // create the schema on a plain connection first
        let bootstrap = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(base.clone())
            .await
            .map_err(|e| StorageError::Connect(e.to_string()))?;
        // a service connected as its own role finds its schema made for it (owned by the
        // role, `deploy/postgres/roles.sql`) and may not create schemas: PostgreSQL checks
        // that right before `IF NOT EXISTS`, so ask first
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                .bind(schema)
                .fetch_one(&bootstrap)
                .await?;
        if !exists {
            // the name was checked above: lower-case letters, digits and underscores only
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {schema}"
            )))
            .execute(&bootstrap)
            .await
            .or_else(|e| match &e {
                // two services racing to create the same schema
                sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => {
                    Ok(Default::default())
                }
                _ => Err(e),
            })?;
        }
        bootstrap.close().await;

        let options = base.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| StorageError::Connect(e.to_string()))?;
        let migrate_err = |e: sqlx::migrate::MigrateError| StorageError::Migrate {
            schema: schema.to_owned(),
            message: e.to_string(),
        };
        let mut runtime = Migrator {
            migrations: RUNTIME_MIGRATIONS.migrations.clone(),
            ..Migrator::DEFAULT
        };
        runtime.dangerous_set_table_name("_hub_runtime_migrations");
        runtime.run(&pool).await.map_err(migrate_err)?;
        if let Some(m) = migrator {
            m.run(&pool).await.map_err(migrate_err)?;
        }
        Ok(Self {
            pool,
            schema: schema.to_owned(),
        })
    }

    /// True when a trivial query answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

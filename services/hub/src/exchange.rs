//! `hub audit verify --exchange` and `hub audit export --exchange`: reads hub-inbound's
//! per-agency exchange log (`inbound.exchange_log`, [`hub_inbound::exchange_log`]) from the
//! database named by `DATABASE_URL`, read only, and hands the rows to the operator commands'
//! chain check and export ([`hub_console::ops::verify_exchange`], [`hub_console::ops::write_rows`]).
//!
//! The one operator command that reads a service's tables rather than an HTTP API: the
//! exchange log is hub-inbound's, and checking it must not depend on the console. Give it a
//! role that may read the `inbound` schema (hub-inbound's own, or a read-only one). Owns no
//! state.

use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use hub_console::ops::AuditAction;
use hub_inbound::exchange_log::ExchangeLog;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Runs `action` (a `verify` or `export` with `--exchange`, not from a `--file`) against the
/// exchange log in the database at `database_url`, writing to `out`.
pub async fn run(
    action: &AuditAction,
    database_url: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let Some(exchange) = action.exchange_from_database() else {
        bail!("not an exchange-log command");
    };
    let options = PgConnectOptions::from_str(database_url)
        .context("DATABASE_URL")?
        .options([
            ("search_path", "inbound"),
            ("default_transaction_read_only", "on"),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .context("connecting to hub-inbound's database")?;
    let rows = ExchangeLog::new(pool.clone())
        .export_all(exchange.agency.as_deref())
        .await
        .context("reading inbound.exchange_log")?;
    pool.close().await;
    match action {
        AuditAction::Export { output, .. } => {
            hub_console::ops::write_rows(&rows, output.as_deref(), out)
        }
        AuditAction::Verify { expect_head, .. } => hub_console::ops::verify_exchange(
            rows,
            exchange.agency.as_deref(),
            expect_head.as_deref(),
            out,
        ),
    }
}

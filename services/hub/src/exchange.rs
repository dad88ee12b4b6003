//! `hub audit verify --exchange` and `hub audit export --exchange`: fetch hub-inbound's
//! per-agency exchange log through hub-inbound's own HTTP API (`GET /api/v1/exchange-log`,
//! [`hub_inbound::http`]) with the service credential, and hand the rows to the operator
//! commands' chain check and export ([`hub_console::ops::verify_exchange`],
//! [`hub_console::ops::write_rows`]). No service's tables are read here: the log stays
//! hub-inbound's, and checking it does not depend on the console.
//!
//! Settings: `INBOUND_URL` (hub-inbound's API, e.g. `http://inbound:8083`) and
//! `SERVICE_TOKEN` (one of hub-inbound's `SERVICE_TOKENS`). Owns no state.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use hub_console::ops::AuditAction;
use hub_inbound::http::{EXCHANGE_LOG_PATH, MAX_PAGE};
use hub_runtime::chain::ChainedRow;
use hub_runtime::service_auth::ServiceCredential;
use serde_json::Value;

/// Where the exchange log is read from.
#[derive(Debug, Clone, Default)]
pub struct ExchangeApi {
    /// `INBOUND_URL`: hub-inbound's HTTP API.
    pub inbound_url: Option<String>,
    /// `SERVICE_TOKEN`: the bearer token hub-inbound accepts.
    pub service_token: ServiceCredential,
}

impl ExchangeApi {
    /// From the environment (`INBOUND_URL`, `SERVICE_TOKEN`).
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let api = ExchangeApi {
            inbound_url: var("INBOUND_URL"),
            service_token: var(hub_runtime::service_auth::TOKEN_VAR)
                .map(ServiceCredential::new)
                .unwrap_or_default(),
        };
        api.service_token.validate(false)?;
        Ok(api)
    }

    /// Every row of `agency` (every agency when `None`), in id order, page by page.
    pub async fn rows(&self, agency: Option<&str>) -> anyhow::Result<Vec<ChainedRow>> {
        let base = self
            .inbound_url
            .as_deref()
            .ok_or_else(|| anyhow!("INBOUND_URL is not set: hub-inbound's HTTP API"))?
            .trim_end_matches('/');
        let token = self
            .service_token
            .token()
            .ok_or_else(|| anyhow!("SERVICE_TOKEN is not set"))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let mut rows = Vec::new();
        let mut after: Option<i64> = None;
        loop {
            let mut query = vec![("limit", MAX_PAGE.to_string())];
            if let Some(a) = agency {
                query.push(("agency", a.to_owned()));
            }
            if let Some(a) = after {
                query.push(("after", a.to_string()));
            }
            let url = format!("{base}{EXCHANGE_LOG_PATH}");
            let resp = http
                .get(&url)
                .bearer_auth(token)
                .query(&query)
                .send()
                .await
                .with_context(|| format!("GET {url}"))?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                bail!(
                    "GET {url}: {status}{}",
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", body.chars().take(300).collect::<String>())
                    }
                );
            }
            let mut page: Value = resp
                .json()
                .await
                .with_context(|| format!("GET {url}: not JSON"))?;
            let page_rows: Vec<ChainedRow> = serde_json::from_value(page["rows"].take())
                .with_context(|| format!("GET {url}: not a page of exchange-log rows"))?;
            if let (Some(prev), Some(first)) = (after, page_rows.first())
                && first.id <= prev
            {
                bail!("GET {url}: rows out of order after row {prev}");
            }
            rows.extend(page_rows);
            match page["next_after"].as_i64() {
                Some(a) => after = Some(a),
                None => break,
            }
        }
        Ok(rows)
    }
}

/// Runs `action` (a `verify` or `export` with `--exchange`, not from a `--file`) against
/// hub-inbound's API, writing to `out`.
pub async fn run(
    action: &AuditAction,
    api: &ExchangeApi,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let Some(exchange) = action.exchange_from_database() else {
        bail!("not an exchange-log command");
    };
    let rows = api
        .rows(exchange.agency.as_deref())
        .await
        .context("reading hub-inbound's exchange log")?;
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

//! # hub-adapter-loan-fund: the Cooperative Development Support Fund
//!
//! Reads `GET /v2/disbursements` (`shared/sources/loan-fund.md`) and publishes each loan as
//! `source.disbursement.v1` on `coophub.source`.
//!
//! - **Auth**: OAuth2 client credentials (`POST /oauth/token`); the kit caches the token,
//!   refreshes it before it expires and after a `401`.
//! - **Paging** over live data: rows come in (`modified`, `loan_no`) order, `modified_from`
//!   is inclusive at second resolution, and a row modified while we page moves to the end,
//!   shifting every offset after it. So the adapter keys on (`modified`, `loan_no`), not on
//!   offsets: each request after the first asks for `modified_from` = the last row's second
//!   at the offset where that last row should be, and checks that the first row returned IS
//!   that row (the anchor). If it is, everything after it is exactly the rows that follow.
//!   If not, rows moved: the adapter re-reads that second from offset 0 (rows it already
//!   committed are skipped by content hash). Any number of rows may share one second (the
//!   offset walks through them), and a sync that keeps meeting moved rows gives up after
//!   100 re-reads rather than looping. Each page commits the watermark (`modified`,
//!   `loan_no`) of its last row; the next sync starts at `modified_from` = that second minus
//!   the overlap.
//! - **Mapping** ([`map`]): `DD/MM/YYYY` to ISO dates, local `modified` to `+07:00`, phones
//!   to E.164, tax codes to their digits (a code that is not 10 digits after cleaning is
//!   kept and flagged); a loan without `loan_no`, `borrower.name`, a known `borrower_type`
//!   or `status`, an integer `amount_vnd` or a readable `modified` is reported invalid.
//!
//! ## Configuration (environment variables, or keys of the `HUB_CONFIG` file)
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `LOAN_FUND_URL` | base URL, e.g. `http://127.0.0.1:8102` | required |
//! | `LOAN_FUND_CLIENT_ID` | OAuth2 client id | required |
//! | `LOAN_FUND_CLIENT_SECRET` | OAuth2 client secret | required |
//! | `LOAN_FUND_PAGE_SIZE` | rows per page, 2..200 | 200 |
//! | `LOAN_FUND_POLL_SECS` | seconds between syncs | 300 |
//! | `LOAN_FUND_OVERLAP_SECS` | how far before the watermark a sync re-reads | 60 |
//! | `SERVICE_TOKENS` | required with `HTTP_ADDR` | bearer tokens the adapter's API (`POST /api/v1/sync`) accepts (the console's `SERVICE_TOKEN`), comma-separated; at least 32 characters each |
//!
//! plus the runtime's (`AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, …). State
//! lives in the schema `adapter_loan_fund`.
//!
//! This crate knows only the fund's API and record format; it may not touch another
//! system's data, the contracts, or any schema but its own.

use std::time::Duration;

use hub_adapter_kit::config::lenient_string;
use hub_adapter_kit::conformance::{Credential, credential};
use hub_adapter_kit::{
    AdapterError, Auth, FieldReader, HttpClient, HttpSettings, Invalid, PullConfig, Secret, Source,
    SourceConfig, SourceError, SyncContext, Watermark,
};
use hub_contracts::v1::{Borrower, BorrowerType, LoanDisbursement, LoanStatus, SourceMeta};
use hub_normalise::datetime::{local_vn, parse_dmy, to_local_vn_string};
use hub_runtime::service_auth::ServiceTokens;
use hub_runtime::{CommonConfig, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The system's name in source references.
pub const SYSTEM: &str = "loan-fund";

/// Re-reads of a second (rows moved while paging) before a sync gives up.
const MAX_REALIGNMENTS: u32 = 100;

/// The adapter's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The runtime's settings (loaded separately, see [`SourceConfig::from_env`]).
    #[serde(skip)]
    pub common: CommonConfig,
    /// `SERVICE_TOKENS`: who may call the adapter's API (required with `HTTP_ADDR`).
    pub service_tokens: ServiceTokens,
    /// `LOAN_FUND_URL`.
    #[serde(deserialize_with = "lenient_string")]
    pub loan_fund_url: String,
    /// `LOAN_FUND_CLIENT_ID`.
    #[serde(deserialize_with = "lenient_string")]
    pub loan_fund_client_id: String,
    /// `LOAN_FUND_CLIENT_SECRET`.
    pub loan_fund_client_secret: Secret,
    /// `LOAN_FUND_PAGE_SIZE`.
    pub loan_fund_page_size: usize,
    /// `LOAN_FUND_POLL_SECS`.
    pub loan_fund_poll_secs: u64,
    /// `LOAN_FUND_OVERLAP_SECS`.
    pub loan_fund_overlap_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            service_tokens: ServiceTokens::default(),
            loan_fund_url: String::new(),
            loan_fund_client_id: String::new(),
            loan_fund_client_secret: Secret::default(),
            loan_fund_page_size: 200,
            loan_fund_poll_secs: 300,
            loan_fund_overlap_secs: 60,
        }
    }
}

impl SourceConfig for Config {
    fn common_mut(&mut self) -> &mut CommonConfig {
        &mut self.common
    }

    async fn run(self, shutdown: CancellationToken) -> Result<(), AdapterError> {
        run(self, shutdown).await
    }

    /// Checks what serde cannot.
    fn validate(&self) -> Result<(), ConfigError> {
        self.service_tokens
            .validate(self.common.http_addr.is_some())?;
        hub_adapter_kit::config::require_base_url(
            "LOAN_FUND_URL",
            &self.loan_fund_url,
            "the fund's",
        )?;
        if self.loan_fund_client_id.is_empty() {
            return Err(ConfigError::invalid("LOAN_FUND_CLIENT_ID", "required"));
        }
        if self.loan_fund_client_secret.is_empty() {
            return Err(ConfigError::invalid("LOAN_FUND_CLIENT_SECRET", "required"));
        }
        if !(2..=200).contains(&self.loan_fund_page_size) {
            return Err(ConfigError::invalid(
                "LOAN_FUND_PAGE_SIZE",
                "expected 2 to 200 (the fund's limit; paging re-reads one row per page)",
            ));
        }
        if self.loan_fund_poll_secs == 0 {
            return Err(ConfigError::invalid(
                "LOAN_FUND_POLL_SECS",
                "expected at least 1",
            ));
        }
        Ok(())
    }
}

/// The fund as a [`Source`].
pub struct LoanFund {
    client: HttpClient,
    list_url: String,
    page_size: usize,
    overlap: Duration,
}

impl PullConfig for Config {
    type Source = LoanFund;

    fn build(&self, shutdown: CancellationToken) -> Result<LoanFund, SourceError> {
        let base = self.loan_fund_url.trim_end_matches('/');
        let client = HttpClient::new(
            SYSTEM,
            Auth::OAuth2ClientCredentials {
                token_url: format!("{base}/oauth/token"),
                client_id: self.loan_fund_client_id.clone(),
                client_secret: self.loan_fund_client_secret.clone(),
            },
            HttpSettings::default(),
        )?
        .with_credentials_hint("LOAN_FUND_CLIENT_ID and LOAN_FUND_CLIENT_SECRET")
        .with_shutdown(shutdown);
        Ok(LoanFund {
            client,
            list_url: format!("{base}/v2/disbursements"),
            page_size: self.loan_fund_page_size,
            overlap: Duration::from_secs(self.loan_fund_overlap_secs),
        })
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.loan_fund_poll_secs)
    }

    fn service_tokens(&self) -> &ServiceTokens {
        &self.service_tokens
    }

    fn for_acceptance(&self, which: Credential, page: usize) -> Self {
        Config {
            loan_fund_client_secret: credential(&self.loan_fund_client_secret, which),
            loan_fund_page_size: page.clamp(2, 200),
            ..self.clone()
        }
    }
}

/// Builds the source from its settings (its retry waits never cancelled).
pub fn build(config: &Config) -> Result<LoanFund, SourceError> {
    config.build(CancellationToken::new())
}

use hub_adapter_kit::Setting;
use hub_adapter_kit::SettingValue::{Plain, Secret as SecretSetting};
use hub_contracts::registry::exchanges::{IDENTITY, INDICATOR};

/// This source, for the `hub` binary's one list of sources (`hub::sources`): its run, its
/// acceptance against a live server (`hub acceptance`), its settings in the deployment files.
pub const REGISTRATION: hub_adapter_kit::Registration = hub_adapter_kit::Registration {
    system: SYSTEM,
    names: hub_adapter_kit::SourceNames {
        vi: "Quỹ Hỗ trợ phát triển HTX",
        en: "Cooperative Development Support Fund",
    },
    agency: Some(hub_adapter_kit::Agency {
        description: "Cooperative Development Support Fund (Quỹ hỗ trợ phát triển HTX): loan pushes; reads golden records and indicators",
        reads: &[IDENTITY, INDICATOR],
    }),
    contracts: &[<LoanDisbursement as hub_contracts::Contract>::TYPE],
    about: "the loan-support fund (pull)",
    run: hub_adapter_kit::registration::run_from_env::<Config>,
    run_with: hub_adapter_kit::registration::run_with::<Config>,
    upload: None,
    acceptance: hub_adapter_kit::registration::pull_acceptance::<Config>,
    deploy: hub_adapter_kit::Deploy {
        settings: &[
            Setting {
                name: "LOAN_FUND_URL",
                compose: Plain("http://simulators:8102"),
                kubernetes: Plain("https://fund.example.invalid"),
            },
            Setting {
                name: "LOAN_FUND_CLIENT_ID",
                compose: Plain("hub"),
                kubernetes: SecretSetting,
            },
            Setting {
                name: "LOAN_FUND_CLIENT_SECRET",
                compose: SecretSetting,
                kubernetes: SecretSetting,
            },
        ],
        simulated: true,
    },
};

/// Runs the adapter until `shutdown`.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), AdapterError> {
    hub_adapter_kit::run_pull(config, shutdown).await
}

#[derive(Deserialize)]
struct Page {
    #[allow(dead_code)]
    total: u64,
    data: Vec<Value>,
}

/// A row's place in the fund's order: (`modified` as served, `loan_no`).
fn position(row: &Value) -> Option<(&str, &str)> {
    let modified = row.get("modified")?.as_str()?;
    let loan_no = row.get("loan_no")?.as_str().filter(|s| !s.is_empty())?;
    Some((modified, loan_no))
}

impl Source for LoanFund {
    type Record = LoanDisbursement;

    fn system(&self) -> &str {
        SYSTEM
    }

    async fn check(&self) -> Result<(), SourceError> {
        self.client
            .get_json::<Page>(&self.list_url, &[("limit", "1".to_owned())])
            .await
            .map(|_| ())
    }

    async fn sync(&self, ctx: &mut SyncContext<'_, Self>) -> Result<(), SourceError> {
        let overlap = chrono::Duration::from_std(self.overlap).unwrap_or_default();
        // the second the current query starts at (inclusive), the offset within its rows,
        // and the row expected first on the next page
        let mut from: Option<String> = ctx
            .watermark()
            .map(|w| to_local_vn_string(&(w.ts - overlap)));
        let mut offset = 0usize;
        let mut anchor: Option<(String, String)> = None;
        let mut realignments = 0u32;
        loop {
            let mut query = vec![
                ("limit", self.page_size.to_string()),
                ("offset", offset.to_string()),
            ];
            if let Some(f) = &from {
                query.push(("modified_from", f.clone()));
            }
            let page: Page = self.client.get_json(&self.list_url, &query).await?;
            let rows = page.data;
            let mut start = 0;
            if let Some((modified, loan_no)) = &anchor {
                if rows.first().and_then(position) == Some((modified.as_str(), loan_no.as_str())) {
                    start = 1;
                } else {
                    realignments += 1;
                    if realignments > MAX_REALIGNMENTS {
                        return Err(SourceError::protocol(
                            SYSTEM,
                            format!(
                                "rows kept moving while paging ({MAX_REALIGNMENTS} re-reads); the next sync goes on from the committed watermark"
                            ),
                        ));
                    }
                    tracing::info!(system = SYSTEM, from = ?from, offset,
                        "rows moved while paging; re-reading from the start of the second");
                    offset = 0;
                    anchor = None;
                    continue;
                }
            }
            let mut watermark: Option<Watermark> = None;
            for row in &rows[start..] {
                let Some((modified, loan_no)) = position(row) else {
                    match row.get("loan_no").and_then(Value::as_str) {
                        Some(id) if !id.is_empty() => ctx.emit(id.to_owned(), row.clone()),
                        _ => ctx.reject_unidentified("loan without a loan_no"),
                    }
                    continue;
                };
                if let Ok(t) = local_vn(modified) {
                    watermark = Some(Watermark::new(t, loan_no));
                }
                ctx.emit(loan_no.to_owned(), row.clone());
            }
            ctx.commit_page(watermark).await?;
            if rows.len() < self.page_size {
                return Ok(());
            }
            let Some((last_modified, last_no)) = rows.last().and_then(position) else {
                return Err(SourceError::protocol(
                    SYSTEM,
                    "a full page ends with a row without modified or loan_no: cannot key the next page on it",
                ));
            };
            if from.as_deref() == Some(last_modified) {
                offset += rows.len() - 1;
            } else {
                let same_second = rows
                    .iter()
                    .rev()
                    .take_while(|r| position(r).map(|p| p.0) == Some(last_modified))
                    .count();
                offset = same_second.saturating_sub(1);
                from = Some(last_modified.to_owned());
            }
            anchor = Some((last_modified.to_owned(), last_no.to_owned()));
        }
    }

    fn map(&self, _id: &str, raw: &Value, meta: SourceMeta) -> Result<LoanDisbursement, Invalid> {
        map(raw, meta)
    }
}

/// Maps one loan.
pub fn map(raw: &Value, mut meta: SourceMeta) -> Result<LoanDisbursement, Invalid> {
    let mut r = FieldReader::new(raw);
    let loan_no = r.required_text("loan_no")?;
    if !matches!(r.get("borrower"), Some(Value::Object(_))) {
        return Err(Invalid::new("borrower is missing or not an object"));
    }
    // the borrower's name may be a person's (households): never quoted
    let name = match r.get("borrower.name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => return Err(Invalid::new("borrower.name is missing or blank")),
    };
    let borrower_type: BorrowerType = r.required("borrower_type")?;
    let amount_vnd: i64 = r.required("amount_vnd")?;
    let status: LoanStatus = r.required("status")?;
    let modified = r
        .get("modified")
        .and_then(Value::as_str)
        .and_then(|s| local_vn(s).ok())
        .ok_or_else(|| Invalid::new("modified is missing or not YYYY-MM-DD HH:MM:SS"))?;

    let tax_code = r.optional_with("borrower.tax_code", false, |v| {
        let text = v.as_str().ok_or("not a string")?;
        Ok(hub_normalise::taxcode::clean(text))
    });
    if let Some(code) = &tax_code
        && code.len() != 10
    {
        r.flag(
            "borrower.tax_code",
            format!("{} digits after cleaning, expected 10", code.len()),
            raw.pointer("/borrower/tax_code").cloned(),
        );
    }
    let address = r.optional::<String>("borrower.address");
    let legal_rep = r.optional_personal::<String>("borrower.legal_rep");
    let phone = r.optional_with("borrower.phone", true, hub_adapter_kit::mapping::e164_phone);
    let disbursed_on = r.optional_with("disbursed_on", false, |v| {
        let text = v.as_str().ok_or("not a string")?;
        parse_dmy(text).map(Some).map_err(|e| e.to_string())
    });
    let term_months = r.optional::<u32>("term_months");
    let purpose = r.optional::<String>("purpose");
    meta.issues = r.finish();
    Ok(LoanDisbursement {
        meta,
        loan_no,
        borrower: Borrower {
            name,
            tax_code,
            address,
            legal_rep,
            phone,
        },
        borrower_type,
        amount_vnd,
        disbursed_on,
        term_months,
        purpose,
        status,
        modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_contracts::v1::SourceRef;
    use serde_json::json;

    fn meta(raw: &Value) -> SourceMeta {
        SourceMeta {
            source: SourceRef::new(SYSTEM, "QHT-2024-00017"),
            fetched_at: hub_adapter_kit::source::now_vn(),
            content_hash: hub_contracts::content_hash(raw),
            raw: raw.clone(),
            issues: vec![],
        }
    }

    fn spec_example() -> Value {
        json!({
            "loan_no": "QHT-2024-00017",
            "borrower": {
                "name": "HTX NN DV Ban Hon", "tax_code": "6200123456",
                "address": "Ban Hon, Tam Duong, Lai Chau", "legal_rep": "Lo Van Minh",
                "phone": "+84 912 345 678"
            },
            "borrower_type": "cooperative", "amount_vnd": 500000000,
            "disbursed_on": "02/07/2024", "term_months": 36, "purpose": "Mua máy sấy chè",
            "status": "disbursed", "modified": "2024-07-02 10:11:12"
        })
    }

    #[test]
    fn maps_the_spec_example() {
        let raw = spec_example();
        let l = map(&raw, meta(&raw)).expect("valid");
        assert_eq!(l.modified.to_rfc3339(), "2024-07-02T10:11:12+07:00");
        assert_eq!(
            l.disbursed_on.map(|d| d.to_string()).as_deref(),
            Some("2024-07-02")
        );
        assert_eq!(l.borrower.phone.as_deref(), Some("+84912345678"));
        assert_eq!(l.borrower.tax_code.as_deref(), Some("6200123456"));
        assert!(l.meta.issues.is_empty(), "{:?}", l.meta.issues);
    }

    #[test]
    fn flags_doubtful_values_and_rejects_unusable_loans() {
        let mut raw = spec_example();
        raw["borrower"]["tax_code"] = json!("620-012 345");
        raw["borrower"]["phone"] = json!("số cũ");
        raw["disbursed_on"] = json!("31/02/2024");
        let l = map(&raw, meta(&raw)).expect("still a loan");
        assert_eq!(
            l.borrower.tax_code.as_deref(),
            Some("620012345"),
            "kept, digits only"
        );
        assert!(l.disbursed_on.is_none() && l.borrower.phone.is_none());
        let fields: Vec<&str> = l.meta.issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["borrower.tax_code", "borrower.phone", "disbursed_on"]
        );
        assert!(l.meta.issues[1].raw.is_none(), "phones are not copied");

        for (path, value, reason) in [
            ("/borrower/name", json!(null), "borrower.name is missing"),
            (
                "/amount_vnd",
                json!("năm trăm triệu"),
                "amount_vnd is unreadable",
            ),
            ("/status", json!("pending"), "status is unreadable"),
            (
                "/borrower_type",
                json!("enterprise"),
                "borrower_type is unreadable",
            ),
            ("/modified", json!("02/07/2024"), "modified is missing"),
        ] {
            let mut raw = spec_example();
            if let Some(v) = raw.pointer_mut(path) {
                *v = value;
            }
            let e = map(&raw, meta(&raw)).expect_err("invalid");
            assert!(e.reason.starts_with(reason), "{}", e.reason);
            assert!(!e.reason.contains("Lo Van Minh"));
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own error type
    fn configuration_comes_from_the_environment_and_names_what_is_wrong() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LOAN_FUND_URL", "http://127.0.0.1:8102");
            jail.set_env("LOAN_FUND_CLIENT_ID", "hub");
            jail.set_env("LOAN_FUND_CLIENT_SECRET", "s3cret");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.loan_fund_client_secret.expose(), "s3cret");
            assert!(!format!("{c:?}").contains("s3cret"), "secrets never print");
            jail.set_env("LOAN_FUND_PAGE_SIZE", "1");
            let e = Config::from_env().expect_err("1 cannot page").to_string();
            assert!(e.contains("LOAN_FUND_PAGE_SIZE"), "{e}");
            jail.set_env("LOAN_FUND_PAGE_SIZE", "50");
            jail.set_env("LOAN_FUND_URL", "ftp://x");
            let e = Config::from_env().expect_err("not http").to_string();
            assert!(e.contains("LOAN_FUND_URL"), "{e}");
            Ok(())
        });
    }
}

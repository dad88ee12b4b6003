//! # hub-adapter-ntm: the New Rural Development program's commune reports
//!
//! Reads `GET /api/reports?year=` and `GET /api/reports/{commune_code}/{year}`
//! (`shared/sources/ntm.md`) and publishes each report revision as `source.ntm_report.v1`
//! on `coophub.source`.
//!
//! - **Change detection**: there is no timestamp to page on, and reports change after the
//!   fact. For each configured year the adapter lists the reports and fetches the details of
//!   those whose (`revision`, `status`) differs from the marker committed for
//!   `{commune_code}:{year}`; details are committed in pages of `NTM_PAGE_SIZE` reports. A
//!   restarted sync fetches only what was not committed.
//! - **Ids**: the report's `SourceRef` id is `{commune_code}:{year}`; each entry of
//!   criterion 13 gets `{commune_code}:{year}:{index}` (its position in this revision).
//! - **Auth**: HTTP Basic.
//! - **Mapping** ([`map`]): timestamps read strictly; an unreadable optional value (`members`,
//!   `kind`, `submitted_at`, …) becomes null with a `meta.issues` entry; a report whose
//!   criteria or entries lack a required value (`met`, `effective`, `name`) cannot form the
//!   contract and is reported invalid (its marker is still committed, so it is reported once
//!   per revision).
//!
//! ## Configuration (environment variables, or keys of the `HUB_CONFIG` file)
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `NTM_URL` | base URL, e.g. `http://127.0.0.1:8103` | required |
//! | `NTM_USER` | HTTP Basic user | required |
//! | `NTM_PASSWORD` | HTTP Basic password | required |
//! | `NTM_YEARS` | report years to follow, e.g. `2023,2024,2025` | required |
//! | `NTM_PAGE_SIZE` | reports fetched per committed page | 25 |
//! | `NTM_POLL_SECS` | seconds between syncs | 900 |
//! | `SERVICE_TOKENS` | required with `HTTP_ADDR` | bearer tokens the adapter's API (`POST /api/v1/sync`) accepts (the console's `SERVICE_TOKEN`), comma-separated; at least 32 characters each |
//!
//! plus the runtime's (`AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, …). State
//! lives in the schema `adapter_ntm`.
//!
//! This crate knows only the NTM office's API and report format; it may not touch another
//! system's data, the contracts, or any schema but its own.

use std::time::Duration;

use chrono::DateTime;
use hub_adapter_kit::config::{int_list, lenient_string};
use hub_adapter_kit::conformance::{Credential, credential};
use hub_adapter_kit::{
    AdapterError, Auth, FieldReader, HttpClient, HttpSettings, Invalid, PullConfig, Secret, Source,
    SourceConfig, SourceError, SyncContext,
};
use hub_contracts::v1::{
    Criterion, NtmCommuneReport, NtmCooperativeEntry, OrgKind, ReportStatus, SourceMeta,
};
use hub_runtime::service_auth::ServiceTokens;
use hub_runtime::{CommonConfig, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The system's name in source references.
pub const SYSTEM: &str = "ntm";

/// The adapter's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The runtime's settings (loaded separately, see [`SourceConfig::from_env`]).
    #[serde(skip)]
    pub common: CommonConfig,
    /// `SERVICE_TOKENS`: who may call the adapter's API (required with `HTTP_ADDR`).
    pub service_tokens: ServiceTokens,
    /// `NTM_URL`.
    #[serde(deserialize_with = "lenient_string")]
    pub ntm_url: String,
    /// `NTM_USER`.
    #[serde(deserialize_with = "lenient_string")]
    pub ntm_user: String,
    /// `NTM_PASSWORD`.
    pub ntm_password: Secret,
    /// `NTM_YEARS`.
    #[serde(deserialize_with = "int_list")]
    pub ntm_years: Vec<i32>,
    /// `NTM_PAGE_SIZE`.
    pub ntm_page_size: usize,
    /// `NTM_POLL_SECS`.
    pub ntm_poll_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            service_tokens: ServiceTokens::default(),
            ntm_url: String::new(),
            ntm_user: String::new(),
            ntm_password: Secret::default(),
            ntm_years: Vec::new(),
            ntm_page_size: 25,
            ntm_poll_secs: 900,
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
        hub_adapter_kit::config::require_base_url("NTM_URL", &self.ntm_url, "the NTM office's")?;
        if self.ntm_user.is_empty() {
            return Err(ConfigError::invalid("NTM_USER", "required"));
        }
        if self.ntm_password.is_empty() {
            return Err(ConfigError::invalid("NTM_PASSWORD", "required"));
        }
        if self.ntm_years.is_empty() || self.ntm_years.iter().any(|y| !(2000..=2100).contains(y)) {
            return Err(ConfigError::invalid(
                "NTM_YEARS",
                "required: report years, e.g. 2023,2024,2025",
            ));
        }
        if self.ntm_page_size == 0 {
            return Err(ConfigError::invalid("NTM_PAGE_SIZE", "expected at least 1"));
        }
        if self.ntm_poll_secs == 0 {
            return Err(ConfigError::invalid("NTM_POLL_SECS", "expected at least 1"));
        }
        Ok(())
    }
}

/// The NTM office as a [`Source`].
pub struct Ntm {
    client: HttpClient,
    base: String,
    years: Vec<i32>,
    page_size: usize,
}

impl PullConfig for Config {
    type Source = Ntm;

    fn build(&self, shutdown: CancellationToken) -> Result<Ntm, SourceError> {
        let client = HttpClient::new(
            SYSTEM,
            Auth::Basic {
                user: self.ntm_user.clone(),
                password: self.ntm_password.clone(),
            },
            HttpSettings::default(),
        )?
        .with_credentials_hint("NTM_USER and NTM_PASSWORD")
        .with_shutdown(shutdown);
        Ok(Ntm {
            client,
            base: self.ntm_url.trim_end_matches('/').to_owned(),
            years: self.ntm_years.clone(),
            page_size: self.ntm_page_size.max(1),
        })
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.ntm_poll_secs)
    }

    fn service_tokens(&self) -> &ServiceTokens {
        &self.service_tokens
    }

    fn for_acceptance(&self, which: Credential, page: usize) -> Self {
        Config {
            ntm_password: credential(&self.ntm_password, which),
            ntm_page_size: page,
            ..self.clone()
        }
    }
}

/// Builds the source from its settings (its retry waits never cancelled).
pub fn build(config: &Config) -> Result<Ntm, SourceError> {
    config.build(CancellationToken::new())
}

impl Ntm {
    fn list_url(&self) -> String {
        format!("{}/api/reports", self.base)
    }
}

use hub_adapter_kit::Setting;
use hub_adapter_kit::SettingValue::{Plain, Secret as SecretSetting};
use hub_contracts::registry::exchanges::INDICATOR;

/// This source, for the `hub` binary's one list of sources (`hub::sources`): its run, its
/// acceptance against a live server (`hub acceptance`), its settings in the deployment files.
pub const REGISTRATION: hub_adapter_kit::Registration = hub_adapter_kit::Registration {
    system: SYSTEM,
    names: hub_adapter_kit::SourceNames {
        vi: "Báo cáo nông thôn mới cấp xã",
        en: "NTM commune reports",
    },
    agency: Some(hub_adapter_kit::Agency {
        description: "New Rural Development office (Văn phòng Điều phối NTM): commune report pushes; reads indicators",
        reads: &[INDICATOR],
    }),
    contracts: &[<NtmCommuneReport as hub_contracts::Contract>::TYPE],
    about: "the NTM commune reports (pull)",
    run: hub_adapter_kit::registration::run_from_env::<Config>,
    run_with: hub_adapter_kit::registration::run_with::<Config>,
    upload: None,
    acceptance: hub_adapter_kit::registration::pull_acceptance::<Config>,
    deploy: hub_adapter_kit::Deploy {
        settings: &[
            Setting {
                name: "NTM_URL",
                compose: Plain("http://simulators:8103"),
                kubernetes: Plain("https://ntm.example.invalid"),
            },
            Setting {
                name: "NTM_USER",
                compose: Plain("hub"),
                kubernetes: SecretSetting,
            },
            Setting {
                name: "NTM_PASSWORD",
                compose: SecretSetting,
                kubernetes: SecretSetting,
            },
            Setting {
                name: "NTM_YEARS",
                compose: Plain("2023,2024,2025"),
                kubernetes: Plain("2024,2025,2026"),
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
struct ReportList {
    #[allow(dead_code)]
    year: i32,
    reports: Vec<Value>,
}

/// The documented shape of a report's details (checked, then kept raw).
#[derive(Deserialize)]
#[allow(dead_code)]
struct ReportShape {
    commune: serde_json::Map<String, Value>,
    year: Value,
    revision: Value,
    status: Value,
    criteria: Vec<Value>,
    cooperatives: Vec<Value>,
}

/// The change marker of a report: its revision and status as served.
fn marker(v: &Value) -> Option<String> {
    let revision = v.get("revision").filter(|r| !r.is_null())?;
    let status = v.get("status").and_then(Value::as_str)?;
    Some(format!("{revision}:{status}"))
}

impl Source for Ntm {
    type Record = NtmCommuneReport;

    fn system(&self) -> &str {
        SYSTEM
    }

    async fn check(&self) -> Result<(), SourceError> {
        let year = self.years.first().copied().unwrap_or(2024);
        self.client
            .get_json::<ReportList>(&self.list_url(), &[("year", year.to_string())])
            .await
            .map(|_| ())
    }

    async fn sync(&self, ctx: &mut SyncContext<'_, Self>) -> Result<(), SourceError> {
        for &year in &self.years {
            let list: ReportList = self
                .client
                .get_json(&self.list_url(), &[("year", year.to_string())])
                .await?;
            let mut listed = Vec::new();
            for r in &list.reports {
                let Some(code) = r.get("commune_code").and_then(Value::as_str) else {
                    ctx.reject_unidentified("report summary without a commune_code");
                    continue;
                };
                // a report with no current revision has nothing to read yet
                if let Some(m) = marker(r) {
                    listed.push((format!("{code}:{year}"), code.to_owned(), m));
                }
            }
            let ids: Vec<String> = listed.iter().map(|(id, ..)| id.clone()).collect();
            let known = ctx.markers(&ids).await?;
            let changed: Vec<_> = listed
                .into_iter()
                .filter(|(id, _, m)| known.get(id) != Some(m))
                .collect();
            tracing::debug!(
                system = SYSTEM,
                year,
                changed = changed.len(),
                "reports to read"
            );
            for chunk in changed.chunks(self.page_size) {
                for (id, code, _) in chunk {
                    let url = format!("{}/api/reports/{code}/{year}", self.base);
                    let doc = match self
                        .client
                        .get_json::<hub_adapter_kit::WithRaw<ReportShape>>(&url, &[])
                        .await
                    {
                        Ok(d) => d,
                        Err(SourceError::Status { status: 404, .. }) => {
                            // listed a moment ago, gone now: the next sync lists again
                            tracing::warn!(system = SYSTEM, %id, "listed report not found; skipped this sync");
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    let m = marker(&doc.raw).unwrap_or_default();
                    ctx.emit_with_marker(id.clone(), doc.raw, m);
                }
                ctx.commit_page(None).await?;
            }
        }
        Ok(())
    }

    fn map(&self, id: &str, raw: &Value, meta: SourceMeta) -> Result<NtmCommuneReport, Invalid> {
        map(id, raw, meta)
    }
}

/// Maps one report revision; `id` is `{commune_code}:{year}`.
pub fn map(id: &str, raw: &Value, mut meta: SourceMeta) -> Result<NtmCommuneReport, Invalid> {
    let mut r = FieldReader::new(raw);
    let commune_code = r.required_text("commune.code")?;
    let year: i32 = r.required("year")?;
    if format!("{commune_code}:{year}") != id {
        return Err(Invalid::new(format!(
            "the report served for {id} is about {commune_code}:{year}"
        )));
    }
    let revision: u32 = r.required("revision")?;
    let status: ReportStatus = r.required("status")?;
    let criteria_raw = match r.get("criteria") {
        Some(Value::Array(items)) => items,
        _ => return Err(Invalid::new("criteria is missing or not an array")),
    };
    let mut criteria = Vec::with_capacity(criteria_raw.len());
    for i in 0..criteria_raw.len() {
        let id = r.required_text(&format!("criteria.{i}.id"))?;
        let met = match r.get(&format!("criteria.{i}.met")) {
            Some(Value::Bool(b)) => *b,
            _ => return Err(Invalid::new(format!("criteria[{i}].met is not a boolean"))),
        };
        let note = r.optional::<String>(&format!("criteria.{i}.note"));
        criteria.push(Criterion { id, met, note });
    }
    let entries_raw = match r.get("cooperatives") {
        Some(Value::Array(items)) => items,
        _ => return Err(Invalid::new("cooperatives is missing or not an array")),
    };
    let mut cooperatives = Vec::with_capacity(entries_raw.len());
    for i in 0..entries_raw.len() {
        let p = |f: &str| format!("cooperatives.{i}.{f}");
        let name = r.required_text(&p("name"))?;
        let effective = match r.get(&p("effective")) {
            Some(Value::Bool(b)) => *b,
            _ => {
                return Err(Invalid::new(format!(
                    "cooperatives[{i}].effective is not a boolean"
                )));
            }
        };
        let kind = r.optional::<OrgKind>(&p("kind"));
        let representative = r.optional_personal::<String>(&p("representative"));
        let members = r.optional::<u32>(&p("members"));
        let linked_with_enterprise = r.optional::<bool>(&p("linked_with_enterprise"));
        cooperatives.push(NtmCooperativeEntry {
            source_id: format!("{commune_code}:{year}:{i}"),
            index: i as u32,
            name,
            kind,
            representative,
            members,
            effective,
            linked_with_enterprise,
        });
    }
    let commune_name = r.optional::<String>("commune.name");
    let district_name = r.optional::<String>("commune.district");
    let submitted_at = r.optional_with("submitted_at", false, |v| {
        let text = v.as_str().ok_or("not a string")?;
        DateTime::parse_from_rfc3339(text)
            .map(Some)
            .map_err(|_| "not an RFC 3339 timestamp".to_owned())
    });
    meta.issues = r.finish();
    Ok(NtmCommuneReport {
        meta,
        commune_code,
        commune_name,
        district_name,
        year,
        revision,
        status,
        criteria,
        cooperatives,
        submitted_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_contracts::v1::SourceRef;
    use serde_json::json;

    fn meta(raw: &Value) -> SourceMeta {
        SourceMeta {
            source: SourceRef::new(SYSTEM, "03421:2024"),
            fetched_at: hub_adapter_kit::source::now_vn(),
            content_hash: hub_contracts::content_hash(raw),
            raw: raw.clone(),
            issues: vec![],
        }
    }

    fn spec_example() -> Value {
        json!({
            "commune": { "code": "03421", "name": "Xã Bản Hon", "district": "Huyện Tam Đường" },
            "year": 2024, "revision": 3, "status": "approved",
            "criteria": [
                { "id": "13.1", "met": true,  "note": "Có HTX hoạt động hiệu quả" },
                { "id": "13.2", "met": false, "note": null }
            ],
            "cooperatives": [{
                "name": "HTX Bản Hon", "kind": "HTX", "representative": "Lò Văn Minh",
                "members": 12, "effective": true, "linked_with_enterprise": true
            }],
            "submitted_at": "2024-11-20T09:15:00+07:00"
        })
    }

    #[test]
    fn maps_the_spec_example_with_entry_ids() {
        let raw = spec_example();
        let r = map("03421:2024", &raw, meta(&raw)).expect("valid");
        assert_eq!(r.cooperatives[0].source_id, "03421:2024:0");
        assert_eq!(r.revision, 3);
        assert_eq!(r.status, ReportStatus::Approved);
        assert_eq!(r.criteria.len(), 2);
        assert!(r.meta.issues.is_empty(), "{:?}", r.meta.issues);
        assert_eq!(marker(&raw).as_deref(), Some("3:approved"));
    }

    #[test]
    fn flags_optional_values_and_rejects_unreadable_judgements() {
        let mut raw = spec_example();
        raw["cooperatives"][0]["members"] = json!("mười hai");
        raw["submitted_at"] = json!("hôm qua");
        let r = map("03421:2024", &raw, meta(&raw)).expect("still a report");
        let fields: Vec<&str> = r.meta.issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(fields, vec!["cooperatives.0.members", "submitted_at"]);
        assert!(r.submitted_at.is_none() && r.cooperatives[0].members.is_none());

        for (path, value, reason) in [
            (
                "/cooperatives/0/effective",
                json!("có"),
                "cooperatives[0].effective",
            ),
            ("/criteria/0/met", json!("đạt"), "criteria[0].met"),
            (
                "/commune/code",
                json!("03422"),
                "the report served for 03421:2024",
            ),
        ] {
            let mut raw = spec_example();
            if let Some(v) = raw.pointer_mut(path) {
                *v = value;
            }
            let e = map("03421:2024", &raw, meta(&raw)).expect_err("invalid");
            assert!(e.reason.starts_with(reason), "{}", e.reason);
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own error type
    fn configuration_comes_from_the_environment_and_names_what_is_wrong() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("NTM_URL", "http://127.0.0.1:8103");
            jail.set_env("NTM_USER", "hub");
            jail.set_env("NTM_PASSWORD", "pw");
            let e = Config::from_env().expect_err("no years").to_string();
            assert!(e.contains("NTM_YEARS"), "{e}");
            jail.set_env("NTM_YEARS", "2023,2024, 2025");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.ntm_years, vec![2023, 2024, 2025]);
            jail.set_env("NTM_YEARS", "2025");
            assert_eq!(Config::from_env().expect("one year").ntm_years, vec![2025]);
            Ok(())
        });
    }
}

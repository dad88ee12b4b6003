//! # hub-adapter-coop-alliance: the Cooperative Alliance registry
//!
//! Reads `GET /api/v1/cooperatives` (`shared/sources/coop-alliance.md`) and publishes each
//! registry record as `source.cooperative.v1` on `coophub.source`.
//!
//! - **Paging**: cursor pages in (`updated_at`, `id`) order. A sync starts at
//!   `updated_since` = the committed watermark's timestamp minus an overlap (the parameter is
//!   strictly-after, so records sharing the watermark's second are read again; unchanged
//!   ones are skipped by content hash) and follows `next_cursor` to the end. The watermark
//!   after each page is its last record's (`updated_at`, `id`).
//! - **Auth**: `X-Api-Key`.
//! - **Mapping** ([`map`]): codes and dates read strictly; phones to E.164; invalid optional
//!   values become null with a `meta.issues` entry; a record without a readable `kind`,
//!   `name`, `updated_at` or `version` cannot form the contract and is reported invalid.
//!   Unknown fields (later registry versions) are tolerated and kept in `meta.raw`.
//!
//! ## Configuration (environment variables, or keys of the `HUB_CONFIG` file)
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `COOP_ALLIANCE_URL` | base URL, e.g. `http://127.0.0.1:8101` | required |
//! | `COOP_ALLIANCE_API_KEY` | the `X-Api-Key` value | required |
//! | `COOP_ALLIANCE_PAGE_SIZE` | records per page, 1..500 | 500 |
//! | `COOP_ALLIANCE_POLL_SECS` | seconds between syncs | 300 |
//! | `COOP_ALLIANCE_OVERLAP_SECS` | how far before the watermark a sync re-reads, ≥ 1 | 60 |
//! | `SERVICE_TOKENS` | required with `HTTP_ADDR` | bearer tokens the adapter's API (`POST /api/v1/sync`) accepts (the console's `SERVICE_TOKEN`), comma-separated; at least 32 characters each |
//!
//! plus the runtime's (`AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, …). State
//! lives in the schema `adapter_coop_alliance`.
//!
//! This crate knows only the registry's API and record format; it may not touch another
//! system's data, the contracts, or any schema but its own.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use hub_adapter_kit::config::lenient_string;
use hub_adapter_kit::conformance::{Credential, credential};
use hub_adapter_kit::{
    AdapterError, Auth, FieldReader, HttpClient, HttpSettings, Invalid, PullConfig, Secret, Source,
    SourceConfig, SourceError, SyncContext, Watermark,
};
use hub_contracts::v1::{
    KeyOfficers, OrgKind, OrgStatus, Origin, Person, Rating, RegistryCooperative, SourceMeta,
};
use hub_normalise::reference::{self, Province};
use hub_runtime::service_auth::ServiceTokens;
use hub_runtime::{CommonConfig, ConfigError};
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The system's name in source references.
pub const SYSTEM: &str = "coop-alliance";

/// The adapter's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The runtime's settings (loaded separately, see [`SourceConfig::from_env`]).
    #[serde(skip)]
    pub common: CommonConfig,
    /// `SERVICE_TOKENS`: who may call the adapter's API (required with `HTTP_ADDR`).
    pub service_tokens: ServiceTokens,
    /// `COOP_ALLIANCE_URL`.
    #[serde(deserialize_with = "lenient_string")]
    pub coop_alliance_url: String,
    /// `COOP_ALLIANCE_API_KEY`.
    pub coop_alliance_api_key: Secret,
    /// `COOP_ALLIANCE_PAGE_SIZE`.
    pub coop_alliance_page_size: usize,
    /// `COOP_ALLIANCE_POLL_SECS`.
    pub coop_alliance_poll_secs: u64,
    /// `COOP_ALLIANCE_OVERLAP_SECS`.
    pub coop_alliance_overlap_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            service_tokens: ServiceTokens::default(),
            coop_alliance_url: String::new(),
            coop_alliance_api_key: Secret::default(),
            coop_alliance_page_size: 500,
            coop_alliance_poll_secs: 300,
            coop_alliance_overlap_secs: 60,
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
            "COOP_ALLIANCE_URL",
            &self.coop_alliance_url,
            "the registry's",
        )?;
        if self.coop_alliance_api_key.is_empty() {
            return Err(ConfigError::invalid(
                "COOP_ALLIANCE_API_KEY",
                "required: the registry's API key",
            ));
        }
        if !(1..=500).contains(&self.coop_alliance_page_size) {
            return Err(ConfigError::invalid(
                "COOP_ALLIANCE_PAGE_SIZE",
                "expected 1 to 500 (the registry's limit)",
            ));
        }
        if self.coop_alliance_poll_secs == 0 {
            return Err(ConfigError::invalid(
                "COOP_ALLIANCE_POLL_SECS",
                "expected at least 1",
            ));
        }
        if self.coop_alliance_overlap_secs == 0 {
            return Err(ConfigError::invalid(
                "COOP_ALLIANCE_OVERLAP_SECS",
                "expected at least 1: updated_since is strictly-after, so a sync must re-read the watermark's second",
            ));
        }
        Ok(())
    }
}

/// The registry as a [`Source`].
pub struct CoopAlliance {
    client: HttpClient,
    list_url: String,
    page_size: usize,
    overlap: Duration,
}

impl PullConfig for Config {
    type Source = CoopAlliance;

    fn build(&self, shutdown: CancellationToken) -> Result<CoopAlliance, SourceError> {
        let client = HttpClient::new(
            SYSTEM,
            Auth::ApiKey {
                header: "X-Api-Key".into(),
                key: self.coop_alliance_api_key.clone(),
            },
            HttpSettings::default(),
        )?
        .with_credentials_hint("COOP_ALLIANCE_API_KEY")
        .with_shutdown(shutdown);
        Ok(CoopAlliance {
            client,
            list_url: format!(
                "{}/api/v1/cooperatives",
                self.coop_alliance_url.trim_end_matches('/')
            ),
            page_size: self.coop_alliance_page_size,
            overlap: Duration::from_secs(self.coop_alliance_overlap_secs),
        })
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.coop_alliance_poll_secs)
    }

    fn service_tokens(&self) -> &ServiceTokens {
        &self.service_tokens
    }

    fn for_acceptance(&self, which: Credential, page: usize) -> Self {
        Config {
            coop_alliance_api_key: credential(&self.coop_alliance_api_key, which),
            coop_alliance_page_size: page.clamp(1, 500),
            ..self.clone()
        }
    }
}

/// Builds the source from its settings (its retry waits never cancelled).
pub fn build(config: &Config) -> Result<CoopAlliance, SourceError> {
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
        vi: "Liên minh HTX tỉnh (sổ đăng ký HTX)",
        en: "Cooperative Alliance (registry)",
    },
    agency: Some(hub_adapter_kit::Agency {
        description: "Provincial Cooperative Alliance (Liên minh Hợp tác xã): registry pushes; reads golden records and indicators",
        reads: &[IDENTITY, INDICATOR],
    }),
    contracts: &[<RegistryCooperative as hub_contracts::Contract>::TYPE],
    about: "the Cooperative Alliance registry (pull)",
    run: hub_adapter_kit::registration::run_from_env::<Config>,
    run_with: hub_adapter_kit::registration::run_with::<Config>,
    upload: None,
    acceptance: hub_adapter_kit::registration::pull_acceptance::<Config>,
    deploy: hub_adapter_kit::Deploy {
        settings: &[
            Setting {
                name: "COOP_ALLIANCE_URL",
                compose: Plain("http://simulators:8101"),
                kubernetes: Plain("https://registry.example.invalid"),
            },
            Setting {
                name: "COOP_ALLIANCE_API_KEY",
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
    items: Vec<Value>,
    next_cursor: Option<String>,
}

fn rfc3339(v: &Value) -> Option<DateTime<FixedOffset>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
}

impl Source for CoopAlliance {
    type Record = RegistryCooperative;

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
        let since = ctx.watermark().map(|w| w.ts - overlap);
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", self.page_size.to_string())];
            if let Some(s) = since {
                query.push((
                    "updated_since",
                    s.to_rfc3339_opts(SecondsFormat::AutoSi, false),
                ));
            }
            if let Some(c) = &cursor {
                query.push(("cursor", c.clone()));
            }
            let page: Page = self.client.get_json(&self.list_url, &query).await?;
            let mut watermark: Option<Watermark> = None;
            for item in page.items {
                let Some(id) = item
                    .get("id")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                else {
                    ctx.reject_unidentified("registry record without an id");
                    continue;
                };
                if let Some(t) = item.get("updated_at").and_then(rfc3339) {
                    let w = Watermark::new(t, id.clone());
                    if watermark.as_ref().is_none_or(|old| *old < w) {
                        watermark = Some(w);
                    }
                }
                ctx.emit(id, item);
            }
            ctx.commit_page(watermark).await?;
            match page.next_cursor {
                None => return Ok(()),
                Some(c) if cursor.as_deref() == Some(c.as_str()) => {
                    return Err(SourceError::protocol(
                        SYSTEM,
                        "next_cursor repeats the cursor just used: paging would never end",
                    ));
                }
                Some(c) => cursor = Some(c),
            }
        }
    }

    fn map(
        &self,
        _id: &str,
        raw: &Value,
        meta: SourceMeta,
    ) -> Result<RegistryCooperative, Invalid> {
        map(raw, meta)
    }
}

/// The loaded provinces' names for a flag: `Lai Châu`, `Lai Châu or Điện Biên`.
fn province_names(provinces: &[Province]) -> String {
    provinces
        .iter()
        .map(Province::short_name)
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Maps one registry record.
pub fn map(raw: &Value, mut meta: SourceMeta) -> Result<RegistryCooperative, Invalid> {
    let mut r = FieldReader::new(raw);
    let kind: OrgKind = r.required::<OrgKind>("kind").map_err(|_| {
        Invalid::new(format!(
            "kind is not HTX, THT or LHHTX: {}",
            raw.get("kind").unwrap_or(&Value::Null)
        ))
    })?;
    let name = r.required_text("name")?;
    let updated_at = r
        .get("updated_at")
        .and_then(rfc3339)
        .ok_or_else(|| Invalid::new("updated_at is missing or not RFC 3339"))?;
    let version: u64 = r.required("version")?;

    let registration_code = r.optional_with("registration_code", false, |v| {
        let text = v.as_str().ok_or("not a string")?;
        match hub_normalise::taxcode::clean(text) {
            None => Ok(None),
            Some(d) if d.len() == 10 => Ok(Some(d)),
            Some(d) => Err(format!("{} digits after cleaning, expected 10", d.len())),
        }
    });
    // every province this process serves (REFERENCE_DIRS; Lai Châu's alone by default)
    let provinces = reference::provinces();
    let commune_code = r.optional_with("commune_code", false, |v| {
        let code = v.as_str().ok_or("not a string")?;
        if provinces.iter().any(|p| {
            p.reference.commune_2024(code).is_some() || p.reference.commune_2025(code).is_some()
        }) {
            Ok(Some(code.to_owned()))
        } else {
            Err(format!(
                "not a {} commune code (2024 or 2025 list)",
                province_names(provinces)
            ))
        }
    });
    let district_code = r.optional_with("district_code", false, |v| {
        let code = v.as_str().ok_or("not a string")?;
        if provinces
            .iter()
            .any(|p| p.reference.districts().iter().any(|d| d.code == code))
        {
            Ok(Some(code.to_owned()))
        } else {
            Err(format!("not a {} district code", province_names(provinces)))
        }
    });
    let address = r.optional::<String>("address");
    let representative = representative(&mut r);
    let established_on = r.optional_with("established_on", false, iso_date);
    let status = r.optional::<OrgStatus>("status");
    let member_households = r.optional::<u32>("member_households");
    let farmers_union_supported = r.optional::<bool>("farmers_union_supported");
    let origin = r.optional::<Origin>("origin");
    let rating = r.optional::<Rating>("rating");
    let enterprise_linkage = r.optional::<bool>("enterprise_linkage");
    let key_officers = r.optional_with("key_officers", false, key_officers);
    meta.issues = r.finish();
    Ok(RegistryCooperative {
        meta,
        registration_code,
        kind,
        name,
        commune_code,
        district_code,
        address,
        representative,
        established_on,
        status,
        member_households,
        farmers_union_supported,
        origin,
        rating,
        enterprise_linkage,
        key_officers,
        updated_at,
        version,
    })
}

/// The representative: a name (personal) and a phone in E.164 (flagged, masked, when it
/// cannot be read); flagged when it is not an object.
fn representative(r: &mut FieldReader<'_>) -> Option<Person> {
    match r.get("representative") {
        None => None,
        Some(Value::Object(_)) => {
            let full_name = r.optional_personal::<String>("representative.full_name");
            let phone = r.optional_with(
                "representative.phone",
                true,
                hub_adapter_kit::mapping::e164_phone,
            );
            Some(Person { full_name, phone })
        }
        Some(_) => {
            r.flag("representative", "not an object", None);
            None
        }
    }
}

/// An ISO date (`YYYY-MM-DD`, an existing one).
fn iso_date(v: &Value) -> Result<Option<NaiveDate>, String> {
    let text = v.as_str().ok_or("not a string")?;
    if text.len() != 10 {
        return Err("not an ISO date (YYYY-MM-DD)".to_owned());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| "not an existing ISO date (YYYY-MM-DD)".to_owned())
}

/// The key officers, no more of them trained than there are.
fn key_officers(v: &Value) -> Result<Option<KeyOfficers>, String> {
    let k = KeyOfficers::deserialize(v).map_err(|e| e.to_string())?;
    if k.trained > k.total {
        return Err(format!(
            "trained ({}) exceeds total ({})",
            k.trained, k.total
        ));
    }
    Ok(Some(k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_contracts::v1::SourceRef;
    use serde_json::json;

    fn meta(raw: &Value) -> SourceMeta {
        SourceMeta {
            source: SourceRef::new(SYSTEM, "LM-000123"),
            fetched_at: hub_adapter_kit::source::now_vn(),
            content_hash: hub_contracts::content_hash(raw),
            raw: raw.clone(),
            issues: vec![],
        }
    }

    fn spec_example() -> Value {
        json!({
            "id": "LM-000123", "registration_code": "6200 123-456", "kind": "HTX",
            "name": "Hợp tác xã Nông nghiệp Dịch vụ Bản Hon", "commune_code": "03421",
            "district_code": "106", "address": "Bản Hon, xã Bản Hon",
            "representative": { "full_name": "Lò Văn Minh", "phone": "0912345678" },
            "established_on": "2024-05-17", "status": "active", "member_households": 12,
            "farmers_union_supported": true, "origin": "professional_branch",
            "rating": { "year": 2024, "grade": "fair" }, "enterprise_linkage": true,
            "key_officers": { "total": 5, "trained": 3 },
            "updated_at": "2025-03-01T08:00:00+07:00", "version": 7,
            "commune_code_2025": "03430"
        })
    }

    #[test]
    fn maps_the_spec_example_and_tolerates_unknown_fields() {
        let raw = spec_example();
        let c = map(&raw, meta(&raw)).expect("valid");
        assert_eq!(c.registration_code.as_deref(), Some("6200123456"));
        assert_eq!(c.kind, OrgKind::Htx);
        assert_eq!(
            c.representative.and_then(|p| p.phone).as_deref(),
            Some("+84912345678")
        );
        assert_eq!(
            c.established_on.map(|d| d.to_string()).as_deref(),
            Some("2024-05-17")
        );
        assert_eq!(c.updated_at.to_rfc3339(), "2025-03-01T08:00:00+07:00");
        assert_eq!(c.version, 7);
        assert!(c.meta.issues.is_empty(), "{:?}", c.meta.issues);
        assert_eq!(c.meta.raw["commune_code_2025"], "03430");
    }

    #[test]
    fn flags_invalid_optional_values_and_rejects_missing_required_ones() {
        let mut raw = spec_example();
        raw["established_on"] = json!("2024-02-30");
        raw["member_households"] = json!(-4);
        raw["commune_code"] = json!("99999");
        raw["representative"]["phone"] = json!("12345");
        raw["key_officers"] = json!({"total": 2, "trained": 3});
        let c = map(&raw, meta(&raw)).expect("still a record");
        let fields: Vec<&str> = c.meta.issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "commune_code",
                "representative.phone",
                "established_on",
                "member_households",
                "key_officers"
            ]
        );
        assert!(c.established_on.is_none() && c.member_households.is_none());
        let phone = &c.meta.issues[1];
        assert!(
            phone.raw.is_none() && !phone.problem.contains("12345"),
            "{phone:?}"
        );

        for (field, value, reason) in [
            ("kind", json!("XYZ"), "kind is not HTX"),
            ("name", json!(null), "name is missing"),
            ("version", json!("seven"), "version is unreadable"),
        ] {
            let mut raw = spec_example();
            raw[field] = value;
            let e = map(&raw, meta(&raw)).expect_err("invalid");
            assert!(e.reason.starts_with(reason), "{}", e.reason);
        }
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail returns its own error type
    fn configuration_comes_from_the_environment_and_names_what_is_wrong() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("COOP_ALLIANCE_URL", "http://127.0.0.1:8101");
            jail.set_env("COOP_ALLIANCE_API_KEY", "12345");
            jail.set_env("COOP_ALLIANCE_POLL_SECS", "60");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.coop_alliance_api_key.expose(), "12345");
            assert_eq!(
                (c.coop_alliance_page_size, c.coop_alliance_poll_secs),
                (500, 60)
            );
            assert!(!format!("{c:?}").contains("12345"), "secrets never print");
            jail.set_env("COOP_ALLIANCE_PAGE_SIZE", "900");
            let e = Config::from_env().expect_err("too big").to_string();
            assert!(e.contains("COOP_ALLIANCE_PAGE_SIZE"), "{e}");
            jail.set_env("COOP_ALLIANCE_PAGE_SIZE", "100");
            jail.set_env("COOP_ALLIANCE_API_KEY", "");
            let e = Config::from_env().expect_err("no key").to_string();
            assert!(e.contains("COOP_ALLIANCE_API_KEY"), "{e}");
            Ok(())
        });
    }
}

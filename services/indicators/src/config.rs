//! The service's settings: the common ones (`AMQP_URL`, `DATABASE_URL`, `HTTP_ADDR`, …) and
//! its own, from environment variables over the optional `HUB_CONFIG` file
//! ([`hub_runtime::config::load`]). A wrong value fails at start naming the variable.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PLAN_DIRS` | unset | the plan folders to load, comma-separated (`deploy/plans/lai-chau,deploy/plans/dien-bien`): snapshots are computed and kept per plan; the first is the API's default |
//! | `PLAN_FILE` | Lai Châu's plan, built in (`deploy/plans/lai-chau/`) | the plan: a folder (its `plan.toml`) or a plan file; the files it names are read relative to it |
//! | `UNIT_LIST` | `2024,2025` | unit lists snapshots are recomputed on: `2024`, `2025` or both |
//! | `DEBOUNCE_MS` | `2000` | quiet time after an input change before recomputing |
//! | `DEBOUNCE_MAX_MS` | `30000` | longest a stream of changes may delay a recompute |
//! | `AS_OF` | unset: today in Vietnam (UTC+7) | fixed as-of date (`YYYY-MM-DD`) of automatic recomputes |
//! | `SERVICE_TOKENS` | required with `HTTP_ADDR` | bearer tokens the API accepts (the console's `SERVICE_TOKEN`), comma-separated so that one can be rotated; at least 32 characters each |
//!
//! Owns no I/O beyond reading the environment.

use std::path::PathBuf;

use chrono::NaiveDate;
use hub_runtime::config::{CommonConfig, ConfigError};
use hub_runtime::service_auth::ServiceTokens;
use serde::{Deserialize, Deserializer};

use crate::plan::UnitList;

/// Settings of hub-indicators.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(flatten)]
    pub common: CommonConfig,
    /// `PLAN_DIRS` (when set, `PLAN_FILE` is not read).
    #[serde(deserialize_with = "paths")]
    pub plan_dirs: Vec<PathBuf>,
    /// `PLAN_FILE`.
    pub plan_file: Option<PathBuf>,
    /// `UNIT_LIST`.
    #[serde(deserialize_with = "unit_lists")]
    pub unit_list: Vec<UnitList>,
    /// `DEBOUNCE_MS`.
    pub debounce_ms: u64,
    /// `DEBOUNCE_MAX_MS`.
    pub debounce_max_ms: u64,
    /// `AS_OF`.
    pub as_of: Option<NaiveDate>,
    /// `SERVICE_TOKENS`.
    pub service_tokens: ServiceTokens,
    /// The registered sources, not a variable: the `hub` binary gives them from its
    /// registrations; the report names each source's agency by them.
    #[serde(skip)]
    pub sources: Vec<hub_runtime::sources::SourceInfo>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            plan_dirs: vec![],
            plan_file: None,
            unit_list: UnitList::ALL.to_vec(),
            debounce_ms: 2_000,
            debounce_max_ms: 30_000,
            as_of: None,
            service_tokens: ServiceTokens::default(),
            sources: Vec::new(),
        }
    }
}

impl Config {
    /// Reads and validates the settings from the environment (and `HUB_CONFIG`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let c: Config = hub_runtime::config::load()?;
        c.validate()?;
        Ok(c)
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.service_tokens
            .validate(self.common.http_addr.is_some())?;
        if self.unit_list.is_empty() {
            return Err(ConfigError::invalid(
                "UNIT_LIST",
                "expected 2024, 2025 or 2024,2025",
            ));
        }
        if self.debounce_ms == 0 {
            return Err(ConfigError::invalid("DEBOUNCE_MS", "expected at least 1"));
        }
        if self.debounce_max_ms < self.debounce_ms {
            return Err(ConfigError::invalid(
                "DEBOUNCE_MAX_MS",
                format!("expected at least DEBOUNCE_MS ({})", self.debounce_ms),
            ));
        }
        Ok(())
    }
}

/// `"a,b"` or `["a", "b"]`.
fn paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    let parts = match Raw::deserialize(d)? {
        Raw::Text(s) => s.split(',').map(str::to_owned).collect(),
        Raw::List(l) => l,
    };
    Ok(parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect())
}

/// `2024`, `"2025"`, `"2024,2025"` or `[2024, 2025]`.
fn unit_lists<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<UnitList>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(i64),
        Text(String),
        List(Vec<Raw>),
    }
    fn flatten(raw: Raw, out: &mut Vec<String>) {
        match raw {
            Raw::Number(n) => out.push(n.to_string()),
            Raw::Text(s) => out.extend(s.split(',').map(|p| p.trim().to_owned())),
            Raw::List(items) => items.into_iter().for_each(|i| flatten(i, out)),
        }
    }
    let mut parts = Vec::new();
    flatten(Raw::deserialize(d)?, &mut parts);
    let mut lists = Vec::new();
    for p in parts.iter().filter(|p| !p.is_empty()) {
        let list: UnitList = p.parse().map_err(serde::de::Error::custom)?;
        if !lists.contains(&list) {
            lists.push(list);
        }
    }
    lists.sort();
    Ok(lists)
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; not ours to shrink
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Config::default().validate().expect("valid");
    }

    #[test]
    fn reads_its_variables_and_the_common_ones() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PLAN_FILE", "/etc/hub/plan.toml");
            jail.set_env(
                "PLAN_DIRS",
                "/etc/hub/plans/lai-chau, /etc/hub/plans/dien-bien",
            );
            jail.set_env("UNIT_LIST", "2025");
            jail.set_env("DEBOUNCE_MS", "50");
            jail.set_env("AS_OF", "2025-06-30");
            jail.set_env("HUB_NAMESPACE", "x1");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.plan_file, Some(PathBuf::from("/etc/hub/plan.toml")));
            assert_eq!(
                c.plan_dirs,
                vec![
                    PathBuf::from("/etc/hub/plans/lai-chau"),
                    PathBuf::from("/etc/hub/plans/dien-bien")
                ]
            );
            assert_eq!(c.unit_list, vec![UnitList::Units2025]);
            assert_eq!(c.debounce_ms, 50);
            assert_eq!(c.as_of, NaiveDate::from_ymd_opt(2025, 6, 30));
            assert_eq!(c.common.hub_namespace, "x1");
            jail.set_env("UNIT_LIST", "2025, 2024");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.unit_list, UnitList::ALL.to_vec());
            Ok(())
        });
    }

    #[test]
    fn wrong_values_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("UNIT_LIST", "2023");
            let e = Config::from_env().expect_err("no such list").to_string();
            assert!(e.contains("UNIT_LIST") && e.contains("2024"), "{e}");
            jail.set_env("UNIT_LIST", "2024");
            jail.set_env("DEBOUNCE_MS", "0");
            let e = Config::from_env().expect_err("zero").to_string();
            assert!(e.contains("DEBOUNCE_MS"), "{e}");
            jail.set_env("DEBOUNCE_MS", "soon");
            let e = Config::from_env().expect_err("not a number").to_string();
            assert!(e.contains("DEBOUNCE_MS"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn an_api_needs_a_service_token() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HTTP_ADDR", "127.0.0.1:0");
            let e = Config::from_env().expect_err("no token").to_string();
            assert!(e.contains("SERVICE_TOKENS"), "{e}");
            jail.set_env("SERVICE_TOKENS", "a".repeat(32));
            Config::from_env().expect("a token");
            Ok(())
        });
    }
}

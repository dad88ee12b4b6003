//! The console's settings: the common ones (`AMQP_URL`, `DATABASE_URL`, `HTTP_ADDR`, …) and
//! its own, from environment variables over the optional `HUB_CONFIG` file
//! ([`hub_runtime::config::load`]). A wrong value fails at start naming the variable.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `RECONCILER_URL` | unset | base URL of hub-reconciler's HTTP API (`http://127.0.0.1:8081`) |
//! | `INDICATORS_URL` | unset | base URL of hub-indicators' HTTP API |
//! | `ADAPTER_URLS` | empty | `system=url` pairs, comma-separated: `coop-alliance=http://127.0.0.1:8091,loan-fund=…` |
//! | `CONSOLE_USERS_FILE` | required | the users file (TOML, argon2 password hashes); `deploy/console/users.dev.toml` for development |
//! | `DLQ_QUEUES` | `reconciler.source,indicators.inputs,inbound.source` and `inbound.source.<agency user>` for each agency | consumer queues (base names) whose depth and dead letters the console shows |
//! | `SESSION_TTL_MINUTES` | `480` | lifetime of a browser session or CLI token |
//! | `COOKIE_SECURE` | `true` unless `HTTP_ADDR` is a loopback address | add `Secure` to the session cookie (a browser then sends it over HTTPS only; `false` for plain HTTP beyond this machine, never in production) |
//! | `UPSTREAM_TIMEOUT_MS` | `5000` | timeout of each call to another service |
//! | `SERVICE_TOKEN` | required with `RECONCILER_URL`/`INDICATORS_URL`/`ADAPTER_URLS` | the bearer token sent to the reconciler, indicators and adapters (one of their `SERVICE_TOKENS`) |
//! | `LOGIN_MAX_FAILURES` | `10` | failed logins per user name within `LOGIN_WINDOW_SECS` after which further attempts are refused (429) without checking the password |
//! | `LOGIN_MAX_FAILURES_PER_ADDRESS` | `30` | the same per client address |
//! | `LOGIN_WINDOW_SECS` | `900` | the throttling window |
//! | `LOGIN_CONCURRENCY` | `2` | password verifications (argon2) run at once, on blocking threads |
//!
//! With `HUB_ENV=production` the console refuses the development users file
//! (`deploy/console/users.dev.toml`, by name or by its password hashes).
//!
//! An unset service URL is not an error: the pages that need it say it is not configured.
//! Owns no I/O beyond reading the environment.

use std::path::PathBuf;

use hub_runtime::config::{CommonConfig, ConfigError};
use hub_runtime::service_auth::ServiceCredential;
use hub_runtime::sources::SourceInfo;
use serde::{Deserialize, Deserializer};

/// Settings of hub-console.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(flatten)]
    pub common: CommonConfig,
    /// `RECONCILER_URL`.
    pub reconciler_url: Option<String>,
    /// `INDICATORS_URL`.
    pub indicators_url: Option<String>,
    /// `ADAPTER_URLS`: `(system, base URL)` pairs.
    #[serde(deserialize_with = "pairs")]
    pub adapter_urls: Vec<(String, String)>,
    /// `CONSOLE_USERS_FILE`.
    pub console_users_file: Option<PathBuf>,
    /// `DLQ_QUEUES`.
    #[serde(deserialize_with = "list")]
    pub dlq_queues: Vec<String>,
    /// `SESSION_TTL_MINUTES`.
    pub session_ttl_minutes: u32,
    /// `COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// `UPSTREAM_TIMEOUT_MS`.
    pub upstream_timeout_ms: u64,
    /// `SERVICE_TOKEN`.
    pub service_token: ServiceCredential,
    /// `LOGIN_MAX_FAILURES`.
    pub login_max_failures: u32,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS`.
    pub login_max_failures_per_address: u32,
    /// `LOGIN_WINDOW_SECS`.
    pub login_window_secs: u64,
    /// `LOGIN_CONCURRENCY`.
    pub login_concurrency: u16,
    /// The registered sources, not a variable: the `hub` binary gives them from its
    /// registrations ([`Config::with_sources`]). The upload page offers the file sources
    /// among `ADAPTER_URLS`; each agency user's queue joins the default `DLQ_QUEUES`.
    #[serde(skip)]
    pub sources: Vec<SourceInfo>,
}

/// The hub's consumer queues: the reconciler's, the indicators' and hub-inbound's former
/// shared queue ([`Config::with_sources`] adds its queue per agency user,
/// `inbound.source.<user>`).
fn default_dlq_queues() -> Vec<String> {
    ["reconciler.source", "indicators.inputs", "inbound.source"]
        .map(String::from)
        .to_vec()
}

impl Default for Config {
    fn default() -> Self {
        Self {
            common: CommonConfig::default(),
            reconciler_url: None,
            indicators_url: None,
            adapter_urls: Vec::new(),
            console_users_file: None,
            dlq_queues: default_dlq_queues(),
            session_ttl_minutes: 480,
            cookie_secure: false,
            upstream_timeout_ms: 5_000,
            service_token: ServiceCredential::default(),
            login_max_failures: 10,
            login_max_failures_per_address: 30,
            login_window_secs: 900,
            login_concurrency: 2,
            sources: Vec::new(),
        }
    }
}

impl Config {
    /// Reads and validates the settings from the environment (and `HUB_CONFIG`).
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut c: Config = hub_runtime::config::load()?;
        // COOKIE_SECURE unset: on, unless the console listens on loopback only
        #[derive(Deserialize)]
        struct Explicit {
            cookie_secure: Option<bool>,
        }
        let explicit: Explicit = hub_runtime::config::load()?;
        c.cookie_secure = explicit
            .cookie_secure
            .unwrap_or_else(|| !c.common.http_addr.is_some_and(|a| a.ip().is_loopback()));
        c.validate()?;
        Ok(c)
    }

    /// With the registered sources: the upload page's file sources, and, while `DLQ_QUEUES`
    /// is left at its default, the queue of each source's agency user
    /// (`inbound.source.agency-<system>`).
    pub fn with_sources(mut self, sources: impl IntoIterator<Item = SourceInfo>) -> Self {
        self.sources = sources.into_iter().collect();
        if self.dlq_queues == default_dlq_queues() {
            self.dlq_queues.extend(
                self.sources
                    .iter()
                    .filter_map(SourceInfo::agency_user)
                    .map(|user| format!("inbound.source.{user}")),
            );
        }
        self
    }

    /// The registered file sources the console reaches (in `ADAPTER_URLS`): where it can
    /// upload.
    pub fn file_sources(&self) -> Vec<String> {
        self.adapter_urls
            .iter()
            .map(|(system, _)| system)
            .filter(|system| {
                self.sources
                    .iter()
                    .any(|s| s.file_source && s.system == system.as_str())
            })
            .cloned()
            .collect()
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        for (var, url) in [
            ("RECONCILER_URL", &self.reconciler_url),
            ("INDICATORS_URL", &self.indicators_url),
        ] {
            if let Some(u) = url {
                check_url(var, u)?;
            }
        }
        for (system, url) in &self.adapter_urls {
            if system.is_empty() {
                return Err(ConfigError::invalid(
                    "ADAPTER_URLS",
                    "expected system=url pairs, got an empty system name",
                ));
            }
            check_url("ADAPTER_URLS", url)?;
        }
        if self.console_users_file.is_none() {
            return Err(ConfigError::invalid(
                "CONSOLE_USERS_FILE",
                "required: the users file (deploy/console/users.dev.toml for development)",
            ));
        }
        if let Some(path) = &self.console_users_file {
            let dev = include_str!("../../../deploy/console/users.dev.toml");
            let hashes: Vec<&str> = dev
                .lines()
                .filter_map(|l| l.trim().strip_prefix("password_hash = "))
                .map(|h| h.trim_matches('"'))
                .collect();
            hub_runtime::config::refuse_dev_file(
                &self.common,
                "CONSOLE_USERS_FILE",
                path,
                "users.dev.toml",
                &hashes,
            )?;
        }
        self.service_token.validate(
            self.reconciler_url.is_some()
                || self.indicators_url.is_some()
                || !self.adapter_urls.is_empty(),
        )?;
        for (var, v) in [
            ("LOGIN_MAX_FAILURES", u64::from(self.login_max_failures)),
            (
                "LOGIN_MAX_FAILURES_PER_ADDRESS",
                u64::from(self.login_max_failures_per_address),
            ),
            ("LOGIN_WINDOW_SECS", self.login_window_secs),
            ("LOGIN_CONCURRENCY", u64::from(self.login_concurrency)),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(var, "expected at least 1"));
            }
        }
        if self.session_ttl_minutes == 0 {
            return Err(ConfigError::invalid(
                "SESSION_TTL_MINUTES",
                "expected at least 1",
            ));
        }
        if self.upstream_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "UPSTREAM_TIMEOUT_MS",
                "expected at least 1",
            ));
        }
        if let Some(q) = self.dlq_queues.iter().find(|q| {
            !q.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        }) {
            return Err(ConfigError::invalid(
                "DLQ_QUEUES",
                format!("expected queue base names (letters, digits, '.', '-', '_'), got {q:?}"),
            ));
        }
        Ok(())
    }
}

fn check_url(var: &str, url: &str) -> Result<(), ConfigError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(ConfigError::invalid(
            var,
            format!("expected an http:// or https:// URL, got {url:?}"),
        ))
    }
}

/// `"a,b"` or `["a", "b"]`.
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        List(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::Text(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
        Raw::List(l) => l,
    };
    Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
}

/// `"sys=url,sys2=url2"` or a TOML table `{ sys = "url" }`.
fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Table(std::collections::BTreeMap<String, String>),
    }
    match Raw::deserialize(d)? {
        Raw::Table(t) => Ok(t.into_iter().collect()),
        Raw::Text(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.split_once('=')
                    .map(|(k, v)| {
                        (
                            k.trim().to_owned(),
                            v.trim().trim_end_matches('/').to_owned(),
                        )
                    })
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("expected system=url, got {p:?}"))
                    })
            })
            .collect(),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's error type
mod tests {
    use super::*;

    #[test]
    fn reads_its_variables_and_the_common_ones() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RECONCILER_URL", "http://127.0.0.1:8081");
            jail.set_env("SERVICE_TOKEN", "t".repeat(32));
            jail.set_env(
                "ADAPTER_URLS",
                "coop-alliance=http://127.0.0.1:9001/, ntm=http://127.0.0.1:9002",
            );
            jail.set_env("CONSOLE_USERS_FILE", "/etc/hub/users.toml");
            jail.set_env("DLQ_QUEUES", "a.b, c");
            jail.set_env("HUB_NAMESPACE", "x1");
            let c = Config::from_env().expect("valid");
            assert_eq!(c.reconciler_url.as_deref(), Some("http://127.0.0.1:8081"));
            assert_eq!(
                c.adapter_urls,
                vec![
                    ("coop-alliance".into(), "http://127.0.0.1:9001".into()),
                    ("ntm".into(), "http://127.0.0.1:9002".into())
                ]
            );
            assert_eq!(c.dlq_queues, vec!["a.b".to_owned(), "c".to_owned()]);
            assert_eq!(c.common.hub_namespace, "x1");
            Ok(())
        });
    }

    #[test]
    fn wrong_values_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            let e = Config::from_env().expect_err("no users file").to_string();
            assert!(e.contains("CONSOLE_USERS_FILE"), "{e}");
            jail.set_env("CONSOLE_USERS_FILE", "/etc/hub/users.toml");
            jail.set_env("INDICATORS_URL", "http://x");
            let e = Config::from_env().expect_err("no token").to_string();
            assert!(e.contains("SERVICE_TOKEN"), "{e}");
            jail.set_env("SERVICE_TOKEN", "t".repeat(32));
            jail.set_env("INDICATORS_URL", "ftp://x");
            let e = Config::from_env().expect_err("not http").to_string();
            assert!(e.contains("INDICATORS_URL"), "{e}");
            jail.set_env("INDICATORS_URL", "http://x");
            jail.set_env("ADAPTER_URLS", "ntm");
            let e = Config::from_env().expect_err("no =").to_string();
            assert!(e.contains("ADAPTER_URLS"), "{e}");
            jail.set_env("ADAPTER_URLS", "");
            jail.set_env("SESSION_TTL_MINUTES", "soon");
            let e = Config::from_env().expect_err("not a number").to_string();
            assert!(e.contains("SESSION_TTL_MINUTES"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn cookies_secure_beyond_loopback_and_no_dev_users_in_production() {
        figment::Jail::expect_with(|jail| {
            let dev = concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../deploy/console/users.dev.toml"
            );
            jail.set_env("CONSOLE_USERS_FILE", dev);
            jail.set_env("HTTP_ADDR", "127.0.0.1:8080");
            assert!(!Config::from_env().expect("valid").cookie_secure);
            jail.set_env("HTTP_ADDR", "0.0.0.0:8080");
            assert!(Config::from_env().expect("valid").cookie_secure);
            jail.set_env("COOKIE_SECURE", "false");
            assert!(!Config::from_env().expect("valid").cookie_secure);
            jail.set_env("HUB_ENV", "production");
            jail.set_env("AMQP_URL", "amqps://svc-console:Qm2x8Lw0pZ@mq:5671/%2f");
            jail.set_env(
                "DATABASE_URL",
                "postgres://svc_console:Qm2x8Lw0pZ@db/coophub",
            );
            let e = Config::from_env().expect_err("dev users").to_string();
            assert!(e.contains("CONSOLE_USERS_FILE"), "{e}");
            // the same users under another name are still the development users
            jail.create_file(
                "users.toml",
                &std::fs::read_to_string(dev).expect("dev file"),
            )?;
            jail.set_env("CONSOLE_USERS_FILE", "users.toml");
            let e = Config::from_env()
                .expect_err("dev users copied")
                .to_string();
            assert!(e.contains("CONSOLE_USERS_FILE"), "{e}");
            Ok(())
        });
    }
}

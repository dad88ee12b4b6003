//! The reconciler's settings: the runtime's common ones plus its own, from environment
//! variables (or the `HUB_CONFIG` TOML file) through `hub_runtime::config::load`.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `AMQP_URL`, `DATABASE_URL`, `HUB_NAMESPACE`, `HTTP_ADDR`, `LOG_FORMAT`, `PREFETCH`, `BATCH_SIZE`, `RETRY_ATTEMPTS`, `RETRY_INITIAL_MS`, `RETRY_MAX_MS`, `DELIVERY_LIMIT` | see `hub_runtime::CommonConfig` | the common settings |
//! | `RECONCILER_MAX_PAGE` | `500` | largest `limit` the HTTP API accepts |
//! | `SERVICE_TOKENS` | required with `HTTP_ADDR` | bearer tokens the API accepts (the console's `SERVICE_TOKEN`), comma-separated so that one can be rotated; at least 32 characters each |
//! | `RECONCILER_DECISION_CONTRACTS` | `v2` | how decisions go on `coophub.identity`: `v2` one `reconciliation.decision.v2` per transaction (a batch; the hub's indicators bind it), `v1` one `reconciliation.decision.v1` per decision (on request, for agency consumers still bound to it); either or both, comma-separated |
//! | `RECONCILER_ADVERTISE_URL` | `http://<host name>:<HTTP_ADDR port>` | where this replica's API is reached: a standby refuses operator writes (421) naming the active replica's |
//! | `RECONCILER_SETTLE_QUIET_MS` | `1000` | the settle pass (identities independent of arrival order) runs once no record or operator decision changed the engine for this long; 50 to 600000 |
//!
//! Owns parsing and validation only.

use hub_runtime::config::{self, CommonConfig, ConfigError};
use hub_runtime::service_auth::ServiceTokens;
use serde::Deserialize;

/// The reconciler's configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    #[serde(flatten)]
    pub common: CommonConfig,
    /// `RECONCILER_MAX_PAGE`.
    pub reconciler_max_page: u32,
    /// `RECONCILER_SETTLE_QUIET_MS`.
    pub reconciler_settle_quiet_ms: u64,
    /// `SERVICE_TOKENS`.
    pub service_tokens: ServiceTokens,
    /// `RECONCILER_DECISION_CONTRACTS`.
    pub reconciler_decision_contracts: String,
    /// `RECONCILER_ADVERTISE_URL`.
    pub reconciler_advertise_url: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            common: CommonConfig::default(),
            reconciler_max_page: 500,
            reconciler_settle_quiet_ms: 1000,
            service_tokens: ServiceTokens::default(),
            reconciler_decision_contracts: "v2".into(),
            reconciler_advertise_url: None,
        }
    }
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env() -> Result<Config, ConfigError> {
        let c: Config = config::load()?;
        c.validate()?;
        Ok(c)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.common.validate()?;
        self.service_tokens
            .validate(self.common.http_addr.is_some())?;
        if !(1..=10_000).contains(&self.reconciler_max_page) {
            return Err(ConfigError::invalid(
                "RECONCILER_MAX_PAGE",
                "expected a number from 1 to 10000",
            ));
        }
        self.decision_contracts()?;
        if let Some(u) = &self.reconciler_advertise_url
            && (!(u.starts_with("http://") || u.starts_with("https://"))
                || u.len() > 500
                || !u.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(ConfigError::invalid(
                "RECONCILER_ADVERTISE_URL",
                "expected an http:// or https:// URL of at most 500 characters, no spaces",
            ));
        }
        if !(50..=600_000).contains(&self.reconciler_settle_quiet_ms) {
            return Err(ConfigError::invalid(
                "RECONCILER_SETTLE_QUIET_MS",
                "expected milliseconds from 50 to 600000",
            ));
        }
        Ok(())
    }
}

impl Config {
    /// Where this replica's API is reached (`RECONCILER_ADVERTISE_URL`, else its host name
    /// and the port the API listens on, `bound`).
    pub fn advertise_url(&self, bound: Option<std::net::SocketAddr>) -> String {
        if let Some(u) = &self.reconciler_advertise_url {
            return u.clone();
        }
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        match bound.or(self.common.http_addr) {
            Some(a) => format!("http://{host}:{}", a.port()),
            None => format!("http://{host}"),
        }
    }

    /// The contracts decisions are published as (`RECONCILER_DECISION_CONTRACTS`).
    pub fn decision_contracts(&self) -> Result<crate::service::DecisionContracts, ConfigError> {
        let mut c = crate::service::DecisionContracts {
            v1: false,
            v2: false,
        };
        for v in self.reconciler_decision_contracts.split(',').map(str::trim) {
            match v {
                "v1" => c.v1 = true,
                "v2" => c.v2 = true,
                other => {
                    return Err(ConfigError::invalid(
                        "RECONCILER_DECISION_CONTRACTS",
                        format!("expected v1, v2 or v1,v2, got {other:?}"),
                    ));
                }
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let c = Config::default();
        c.validate().expect("defaults work on this machine");
        let only_v2 = crate::service::DecisionContracts {
            v1: false,
            v2: true,
        };
        assert_eq!(c.decision_contracts().expect("valid"), only_v2);
        assert_eq!(crate::service::DecisionContracts::default(), only_v2);
    }

    #[test]
    fn reads_its_own_and_the_common_variables() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RECONCILER_MAX_PAGE", "50");
            jail.set_env("RECONCILER_SETTLE_QUIET_MS", "250");
            jail.set_env("HUB_NAMESPACE", "t1");
            jail.set_env("PREFETCH", "8");
            let c = Config::from_env().expect("valid");
            assert_eq!(
                (c.reconciler_max_page, c.reconciler_settle_quiet_ms),
                (50, 250)
            );
            assert_eq!(
                (c.common.hub_namespace.as_str(), c.common.prefetch),
                ("t1", 8)
            );
            Ok(())
        });
    }

    #[test]
    fn wrong_values_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("RECONCILER_MAX_PAGE", "0");
            let e = Config::from_env().expect_err("out of range").to_string();
            assert!(e.contains("RECONCILER_MAX_PAGE"), "{e}");
            jail.set_env("RECONCILER_MAX_PAGE", "many");
            let e = Config::from_env().expect_err("not a number").to_string();
            assert!(e.contains("RECONCILER_MAX_PAGE"), "{e}");
            jail.set_env("RECONCILER_MAX_PAGE", "50");
            jail.set_env("RECONCILER_SETTLE_QUIET_MS", "10");
            let e = Config::from_env().expect_err("too short").to_string();
            assert!(e.contains("RECONCILER_SETTLE_QUIET_MS"), "{e}");
            jail.set_env("RECONCILER_SETTLE_QUIET_MS", "1000");
            jail.set_env("RECONCILER_DECISION_CONTRACTS", "v3");
            let e = Config::from_env().expect_err("no v3").to_string();
            assert!(e.contains("RECONCILER_DECISION_CONTRACTS"), "{e}");
            // v1 on request, for agency consumers bound to it
            jail.set_env("RECONCILER_DECISION_CONTRACTS", "v1, v2");
            let c = Config::from_env().expect("both");
            let both = crate::service::DecisionContracts { v1: true, v2: true };
            assert_eq!(c.decision_contracts().expect("valid"), both);
            Ok(())
        });
    }

    #[test]
    fn an_api_needs_a_service_token() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HTTP_ADDR", "127.0.0.1:0");
            let e = Config::from_env().expect_err("no token").to_string();
            assert!(e.contains("SERVICE_TOKENS"), "{e}");
            jail.set_env("SERVICE_TOKENS", "too-short");
            let e = Config::from_env().expect_err("short token").to_string();
            assert!(e.contains("SERVICE_TOKENS"), "{e}");
            jail.set_env(
                "SERVICE_TOKENS",
                format!("{},{}", "a".repeat(32), "b".repeat(40)),
            );
            let c = Config::from_env().expect("two tokens");
            assert!(c.service_tokens.accepts(&"b".repeat(40)));
            Ok(())
        });
    }
}

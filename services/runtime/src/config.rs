//! Configuration: environment variables, over an optional TOML file named by `HUB_CONFIG`,
//! over defaults that work on a developer machine.
//!
//! Each service defines its own settings struct (serde, with defaults) and loads it with
//! [`load`]; the settings every service has are [`CommonConfig`]. A key `amqp_url` is read
//! from the variable `AMQP_URL` or from `amqp_url = "…"` in the file. A wrong value fails at
//! start with the variable's name and what was expected.
//!
//! `HUB_ENV=production` ([`HubEnv`]) makes a service refuse to start with development
//! credentials: the default URLs, a known or default password (`guest`, the compose file's
//! `hub`, a password equal to the user name, …) in `AMQP_URL` or `DATABASE_URL`
//! ([`CommonConfig::validate`]); services check their own files the same way
//! ([`refuse_dev_file`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A configuration value was missing or wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {variable}: {problem}")]
    Invalid { variable: String, problem: String },
    #[error("configuration file {path}: {problem}")]
    File { path: PathBuf, problem: String },
}

impl ConfigError {
    pub fn invalid(variable: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            variable: variable.to_owned(),
            problem: problem.into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Where a service runs: `HUB_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HubEnv {
    /// A developer machine, tests, the demo: the defaults and the dev users file work.
    #[default]
    Development,
    /// A deployment: no default URL, no known password, no development file.
    Production,
}

/// Passwords that are known: the defaults of RabbitMQ and the compose file, and words people
/// leave in place. A password equal to its user name, or ending in `-dev`, is refused too.
const KNOWN_PASSWORDS: &[&str] = &[
    "",
    "guest",
    "hub",
    "postgres",
    "password",
    "admin",
    "secret",
    "changeme",
    "change-me",
    "rabbitmq",
    "coophub",
];

/// Settings every service has.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct CommonConfig {
    /// `AMQP_URL`: the broker.
    pub amqp_url: String,
    /// `DATABASE_URL`: PostgreSQL.
    pub database_url: String,
    /// `HUB_NAMESPACE`: prefix of every exchange and queue name (empty in production; tests
    /// and several hubs on one broker use it to stay apart).
    pub hub_namespace: String,
    /// `HUB_PROVINCE`: the province this process serves, when the hub is sharded by
    /// province (a code of letters and digits, e.g. `12` for Lai Châu): the source records
    /// it publishes also carry the routing key `province.<code>.<type>`, and a reconciler
    /// consumes only that province's records. Unset: one shard for everything.
    pub hub_province: Option<String>,
    /// `HTTP_ADDR`: where `/healthz`, `/readyz`, `/metrics` and the service's API listen.
    pub http_addr: Option<SocketAddr>,
    /// `LOG_FORMAT`: `human` or `json`.
    pub log_format: LogFormat,
    /// `PREFETCH`: unacknowledged deliveries per consumer (bounded prefetch).
    pub prefetch: u16,
    /// `BATCH_SIZE`: most messages a batch consumer (reconciler, indicators) applies in one
    /// transaction; its prefetch is at least this.
    pub batch_size: u16,
    /// `RETRY_ATTEMPTS`: handler attempts before a message is dead-lettered.
    pub retry_attempts: u32,
    /// `RETRY_INITIAL_MS`: first retry delay; doubles each attempt.
    pub retry_initial_ms: u64,
    /// `RETRY_MAX_MS`: longest retry delay.
    pub retry_max_ms: u64,
    /// `DELIVERY_LIMIT`: redeliveries (consumer crashes, nacks) before the broker
    /// dead-letters a message by itself.
    pub delivery_limit: u32,
    /// `HUB_ENV`: `development` (default) or `production`.
    pub hub_env: HubEnv,
    /// `HTTP_TLS_CERT`: PEM certificate chain; with `HTTP_TLS_KEY`, `HTTP_ADDR` serves HTTPS.
    pub http_tls_cert: Option<PathBuf>,
    /// `HTTP_TLS_KEY`: PEM private key (PKCS#8) of `HTTP_TLS_CERT`.
    pub http_tls_key: Option<PathBuf>,
    /// `REFERENCE_DIRS`: plan folders, comma-separated (`deploy/plans/lai-chau,
    /// deploy/plans/dien-bien`), whose provinces' units and addresses the service resolves
    /// against ([`crate::units`]); unset: Lai Châu's, built in.
    pub reference_dirs: Option<String>,
}

impl Default for CommonConfig {
    fn default() -> Self {
        Self {
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            database_url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
            hub_namespace: String::new(),
            hub_province: None,
            http_addr: None,
            log_format: LogFormat::Human,
            prefetch: 64,
            batch_size: 256,
            retry_attempts: 5,
            retry_initial_ms: 200,
            retry_max_ms: 10_000,
            delivery_limit: 10,
            hub_env: HubEnv::Development,
            http_tls_cert: None,
            http_tls_key: None,
            reference_dirs: None,
        }
    }
}

impl CommonConfig {
    /// The folders of `REFERENCE_DIRS`, in order (none when unset).
    pub fn reference_dirs(&self) -> Vec<PathBuf> {
        self.reference_dirs
            .as_deref()
            .map(crate::units::split_dirs)
            .unwrap_or_default()
    }

    /// Checks what serde cannot: URL schemes and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // one URL, or the nodes of a cluster separated by commas
        let amqp_urls = crate::messaging::broker::split_urls(&self.amqp_url);
        if amqp_urls.is_empty()
            || amqp_urls
                .iter()
                .any(|u| !(u.starts_with("amqp://") || u.starts_with("amqps://")))
        {
            return Err(ConfigError::invalid(
                "AMQP_URL",
                format!(
                    "expected an amqp:// or amqps:// URL (or several, separated by commas), got {:?}",
                    redact_url(&self.amqp_url)
                ),
            ));
        }
        if !(self.database_url.starts_with("postgres://")
            || self.database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::invalid(
                "DATABASE_URL",
                format!(
                    "expected a postgres:// URL, got {:?}",
                    redact_url(&self.database_url)
                ),
            ));
        }
        if !self
            .hub_namespace
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::invalid(
                "HUB_NAMESPACE",
                "expected letters, digits, '-' or '_'",
            ));
        }
        if let Some(p) = &self.hub_province
            && (p.is_empty() || p.len() > 16 || !p.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(ConfigError::invalid(
                "HUB_PROVINCE",
                "expected a province code of 1 to 16 letters or digits",
            ));
        }
        if self.prefetch == 0 {
            return Err(ConfigError::invalid(
                "PREFETCH",
                "expected a number from 1 to 65535",
            ));
        }
        if self.batch_size == 0 {
            return Err(ConfigError::invalid(
                "BATCH_SIZE",
                "expected a number from 1 to 65535",
            ));
        }
        if self.retry_attempts == 0 {
            return Err(ConfigError::invalid(
                "RETRY_ATTEMPTS",
                "expected at least 1",
            ));
        }
        if self.delivery_limit == 0 {
            return Err(ConfigError::invalid(
                "DELIVERY_LIMIT",
                "expected at least 1",
            ));
        }
        if self.http_tls_cert.is_some() != self.http_tls_key.is_some() {
            return Err(ConfigError::invalid(
                if self.http_tls_cert.is_some() {
                    "HTTP_TLS_KEY"
                } else {
                    "HTTP_TLS_CERT"
                },
                "HTTPS needs both HTTP_TLS_CERT and HTTP_TLS_KEY",
            ));
        }
        if self.is_production() {
            let defaults = CommonConfig::default();
            for (variable, url, default) in [
                ("AMQP_URL", &self.amqp_url, &defaults.amqp_url),
                ("DATABASE_URL", &self.database_url, &defaults.database_url),
            ] {
                if url == default {
                    return Err(ConfigError::invalid(
                        variable,
                        "HUB_ENV=production: set it (the default is for development)",
                    ));
                }
                for url in crate::messaging::broker::split_urls(url) {
                    if let Some(problem) = known_credentials(&url) {
                        return Err(ConfigError::invalid(
                            variable,
                            format!("HUB_ENV=production: {problem} in {}", redact_url(&url)),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The certificate and key `HTTP_ADDR` serves HTTPS with, if set.
    pub fn http_tls(&self) -> Option<crate::http::TlsFiles> {
        match (&self.http_tls_cert, &self.http_tls_key) {
            (Some(cert), Some(key)) => Some(crate::http::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        }
    }

    /// `HUB_ENV=production`.
    pub fn is_production(&self) -> bool {
        self.hub_env == HubEnv::Production
    }

    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> crate::messaging::RetryPolicy {
        crate::messaging::RetryPolicy {
            attempts: self.retry_attempts,
            initial: std::time::Duration::from_millis(self.retry_initial_ms),
            max: std::time::Duration::from_millis(self.retry_max_ms),
        }
    }

    /// The prefetch of a batch consumer: room for a whole batch.
    pub fn batch_prefetch(&self) -> u16 {
        self.prefetch.max(self.batch_size)
    }

    /// The topology namespace these settings describe.
    pub fn topology(&self) -> crate::messaging::Topology {
        crate::messaging::Topology::new(&self.hub_namespace)
            .with_province(self.hub_province.as_deref())
    }
}

/// What is wrong with a URL's credentials in production, if anything: the user `guest`, or a
/// known password (see [`KNOWN_PASSWORDS`]), one equal to the user name or ending in `-dev`.
/// A URL without a password passes (certificate or peer authentication).
pub fn known_credentials(url: &str) -> Option<String> {
    let (s, at) = (url.find("://")?, url.rfind('@')?);
    if at <= s + 3 {
        return None;
    }
    let creds = &url[s + 3..at];
    let (user, password) = match creds.split_once(':') {
        Some((u, p)) => (u, Some(p)),
        None => (creds, None),
    };
    if user == "guest" {
        return Some("the user guest (RabbitMQ's default)".into());
    }
    let password = password?;
    let lower = password.to_ascii_lowercase();
    if KNOWN_PASSWORDS.contains(&lower.as_str()) || password == user || lower.ends_with("-dev") {
        return Some(format!("a known or default password for user {user:?}"));
    }
    None
}

/// Refuses, in production, a file that is a development file: named `dev_name`, or holding
/// any of `dev_markers` (e.g. the password hashes of the development users file).
pub fn refuse_dev_file(
    config: &CommonConfig,
    variable: &str,
    path: &std::path::Path,
    dev_name: &str,
    dev_markers: &[&str],
) -> Result<(), ConfigError> {
    if !config.is_production() {
        return Ok(());
    }
    let refused = || {
        ConfigError::invalid(
            variable,
            format!(
                "HUB_ENV=production: {} is the development file; give the deployment's own",
                path.display()
            ),
        )
    };
    if path.file_name().and_then(|n| n.to_str()) == Some(dev_name) {
        return Err(refused());
    }
    // an unreadable file is reported by whoever reads it, with its own message
    if let Ok(text) = std::fs::read_to_string(path)
        && dev_markers
            .iter()
            .any(|m| !m.is_empty() && text.contains(m))
    {
        return Err(refused());
    }
    Ok(())
}

/// Hides a URL's password, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s + 3 => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..s + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The figment every service reads: defaults < `HUB_CONFIG` file < environment.
fn figment() -> Result<Figment, ConfigError> {
    let mut f = Figment::new();
    if let Ok(path) = std::env::var("HUB_CONFIG") {
        let path = PathBuf::from(path);
        if !path.is_file() {
            return Err(ConfigError::File {
                problem: "HUB_CONFIG names a file that does not exist".into(),
                path,
            });
        }
        f = f.merge(Toml::file(path));
    }
    Ok(f.merge(Env::raw().filter(|k| {
        // only upper-case variables (the documented ones), never `path` and friends
        k.as_str()
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })))
}

/// Loads settings of type `T` from the environment and the optional file.
pub fn load<T: DeserializeOwned>() -> Result<T, ConfigError> {
    figment()?.extract::<T>().map_err(from_figment)
}

/// Loads settings of type `T` from the variables given (name → value, as the environment
/// would give them: `COOP_ALLIANCE_URL=…`), not from the environment or the file: how a
/// process that runs several services (the in-process pipeline) configures each one.
pub fn load_from<T: DeserializeOwned>(
    variables: &std::collections::BTreeMap<String, String>,
) -> Result<T, ConfigError> {
    let mut dict = figment::value::Dict::new();
    for (name, value) in variables {
        // as figment's `Env` reads a variable: its name in lower case, its value parsed
        let value: figment::value::Value = value.parse().unwrap_or_else(|e| match e {});
        dict.insert(name.to_ascii_lowercase(), value);
    }
    Figment::new()
        .merge(figment::providers::Serialized::globals(dict))
        .extract::<T>()
        .map_err(from_figment)
}

/// Loads and validates the common settings.
pub fn load_common() -> Result<CommonConfig, ConfigError> {
    let c: CommonConfig = load()?;
    c.validate()?;
    Ok(c)
}

fn from_figment(e: figment::Error) -> ConfigError {
    let variable = if e.path.is_empty() {
        "(configuration)".to_owned()
    } else {
        e.path.join("_").to_uppercase()
    };
    ConfigError::Invalid {
        variable,
        problem: e.kind.to_string(),
    }
}

#[cfg(test)]
// figment's Jail closure returns figment::Error by value; its size is figment's choice
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CommonConfig::default()
            .validate()
            .expect("defaults work on this machine");
    }

    #[test]
    fn wrong_values_name_the_variable() {
        let c = CommonConfig {
            amqp_url: "http://x".into(),
            ..CommonConfig::default()
        };
        let e = c.validate().expect_err("http is no amqp url").to_string();
        assert!(e.contains("AMQP_URL") && e.contains("amqp://"), "{e}");

        let c = CommonConfig {
            database_url: "mysql://root:secret@h/db".into(),
            ..CommonConfig::default()
        };
        let e = c.validate().expect_err("mysql").to_string();
        assert!(e.contains("DATABASE_URL") && !e.contains("secret"), "{e}");
    }

    #[test]
    fn a_cluster_is_a_list_of_urls_each_checked() {
        let cluster =
            "amqp://guest:guest@127.0.0.1:5681/%2f, amqp://guest:guest@127.0.0.1:5682/%2f";
        let c = CommonConfig {
            amqp_url: cluster.into(),
            ..CommonConfig::default()
        };
        c.validate().expect("a list of nodes");
        let c = CommonConfig {
            amqp_url: format!("{cluster},http://x"),
            ..CommonConfig::default()
        };
        let e = c
            .validate()
            .expect_err("one node is no amqp url")
            .to_string();
        assert!(e.contains("AMQP_URL") && !e.contains("guest:guest"), "{e}");
        let c = CommonConfig {
            hub_env: HubEnv::Production,
            amqp_url: "amqps://svc-a:Kx81fP2m@mq1:5671/%2f,amqps://guest:guest@mq2:5671/%2f".into(),
            database_url: "postgres://svc_a:Zq8v1c0d9e@db:5432/coophub".into(),
            ..CommonConfig::default()
        };
        let e = c.validate().expect_err("guest on one node").to_string();
        assert!(e.contains("AMQP_URL") && e.contains("mq2"), "{e}");
    }

    #[test]
    fn a_province_is_a_short_code() {
        for good in ["12", "LC"] {
            let c = CommonConfig {
                hub_province: Some(good.into()),
                ..CommonConfig::default()
            };
            c.validate().expect(good);
            assert_eq!(c.topology().province(), Some(good));
        }
        for bad in ["", "1.2", "#", "12345678901234567"] {
            let c = CommonConfig {
                hub_province: Some(bad.into()),
                ..CommonConfig::default()
            };
            let e = c.validate().expect_err(bad).to_string();
            assert!(e.contains("HUB_PROVINCE"), "{e}");
        }
    }

    #[test]
    fn figment_type_errors_name_the_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PREFETCH", "lots");
            let e = load::<CommonConfig>()
                .expect_err("not a number")
                .to_string();
            assert!(e.contains("PREFETCH"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn settings_from_given_variables_as_from_the_environment() {
        let vars: std::collections::BTreeMap<String, String> = [
            ("PREFETCH", "7"),
            ("HUB_NAMESPACE", "t1"),
            ("SOMETHING_ELSE", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into_iter()
        .collect();
        let c: CommonConfig = load_from(&vars).expect("valid");
        assert_eq!((c.prefetch, c.hub_namespace.as_str()), (7, "t1"));
        let bad = [("PREFETCH".to_owned(), "lots".to_owned())].into();
        let e = load_from::<CommonConfig>(&bad).expect_err("not a number");
        assert!(e.to_string().contains("PREFETCH"), "{e}");
    }

    #[test]
    fn file_then_environment() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("hub.toml", "prefetch = 7\nretry_attempts = 2\n")?;
            jail.set_env("HUB_CONFIG", "hub.toml");
            jail.set_env("RETRY_ATTEMPTS", "3");
            let c = load_common().expect("valid");
            assert_eq!((c.prefetch, c.retry_attempts), (7, 3));
            Ok(())
        });
    }

    #[test]
    fn production_refuses_default_and_known_credentials() {
        let dev = CommonConfig::default();
        dev.validate().expect("development takes the defaults");
        let prod = |amqp: &str, db: &str| CommonConfig {
            hub_env: HubEnv::Production,
            amqp_url: amqp.into(),
            database_url: db.into(),
            ..CommonConfig::default()
        };
        let good_db = "postgres://svc_inbound:Zq8v1c0d9e@db:5432/coophub?sslmode=verify-full";
        let e = CommonConfig {
            hub_env: HubEnv::Production,
            ..CommonConfig::default()
        }
        .validate()
        .expect_err("defaults")
        .to_string();
        assert!(e.contains("AMQP_URL") && e.contains("production"), "{e}");
        for bad in [
            "amqp://guest:guest@mq:5672/%2f",
            "amqps://svc-inbound:svc-inbound@mq:5671/%2f",
            "amqps://svc-inbound:admin-dev@mq:5671/%2f",
        ] {
            let e = prod(bad, good_db).validate().expect_err(bad).to_string();
            assert!(e.contains("AMQP_URL") && !e.contains("admin-dev"), "{e}");
        }
        let e = prod(
            "amqps://svc-inbound:Kx81fP2m@mq:5671/%2f",
            "postgres://hub:hub@db:5432/coophub",
        )
        .validate()
        .expect_err("compose's password")
        .to_string();
        assert!(e.contains("DATABASE_URL") && !e.contains(":hub@"), "{e}");
        prod("amqps://svc-inbound:Kx81fP2m@mq:5671/%2f", good_db)
            .validate()
            .expect("own secrets");
    }

    #[test]
    fn production_refuses_the_development_file() {
        let dir = std::env::temp_dir().join(format!("hub-devfile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let dev = dir.join("users.dev.toml");
        let copy = dir.join("users.toml");
        std::fs::write(&dev, "x").expect("write");
        std::fs::write(&copy, "hash = \"$argon2id$DEV\"").expect("write");
        let prod = CommonConfig {
            hub_env: HubEnv::Production,
            ..CommonConfig::default()
        };
        for path in [&dev, &copy] {
            let e = refuse_dev_file(&prod, "F", path, "users.dev.toml", &["$argon2id$DEV"])
                .expect_err("dev file");
            assert!(e.to_string().contains("F"), "{e}");
            refuse_dev_file(
                &CommonConfig::default(),
                "F",
                path,
                "users.dev.toml",
                &["$argon2id$DEV"],
            )
            .expect("development takes it");
        }
        std::fs::write(&copy, "hash = \"$argon2id$OWN\"").expect("write");
        refuse_dev_file(&prod, "F", &copy, "users.dev.toml", &["$argon2id$DEV"])
            .expect("the deployment's own file");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("amqp://user:pw@host:5672/%2f"),
            "amqp://user:***@host:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
    }
}

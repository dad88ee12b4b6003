//! Configuration every adapter's `Config` uses: the [`SourceConfig`] trait, which loads and
//! validates an adapter's settings (from the environment, or from the variables given) in
//! one place; a [`Secret`] that never prints; lenient readers for values that arrive from
//! environment variables (a key of digits, a comma-separated list of years).
//!
//! Owns no setting itself: each adapter crate declares its own variables, their defaults
//! and their rules.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;

use hub_runtime::{CommonConfig, ConfigError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use tokio_util::sync::CancellationToken;

use crate::runner::AdapterError;

/// An adapter's settings, Vector-style: a struct whose fields are the adapter's own
/// variables (each field its variable in lower case, as figment maps them; the defaults in
/// its `Default`) and the runtime's [`CommonConfig`], loaded separately (a `common` field,
/// `#[serde(skip)]`). The adapter gives what serde cannot check and how it runs; loading and
/// validating are done here once, for the environment and for variables given.
pub trait SourceConfig: DeserializeOwned + Default + Send + Sized + 'static {
    /// The runtime's settings the adapter holds.
    fn common_mut(&mut self) -> &mut CommonConfig;

    /// Checks what serde cannot; each error names its variable.
    fn validate(&self) -> Result<(), ConfigError>;

    /// Runs the adapter until `shutdown` (a pull source: [`crate::runner::run_pull`]).
    fn run(
        self,
        shutdown: CancellationToken,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Loads and validates the adapter's and the runtime's settings from the environment
    /// (and the `HUB_CONFIG` file).
    fn from_env() -> Result<Self, ConfigError> {
        let mut c: Self = hub_runtime::config::load()?;
        *c.common_mut() = hub_runtime::config::load_common()?;
        c.validate()?;
        Ok(c)
    }

    /// The same from the common settings and this source's variables given, not from the
    /// environment (the in-process pipeline, [`crate::Registration::run_with`]).
    fn from_settings(
        common: CommonConfig,
        variables: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut c: Self = hub_runtime::config::load_from(variables)?;
        *c.common_mut() = common;
        c.validate()?;
        Ok(c)
    }
}

/// A credential: deserialised from a string (or a number, as an environment variable of
/// digits may arrive), shown as `***` by `Debug` and `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "***" })
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient_string(d).map(Secret)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrNumber {
    S(String),
    I(i64),
    U(u64),
    F(f64),
    B(bool),
}

/// A string, accepting a number or a boolean as its text (configuration providers parse
/// `12345` as a number).
pub fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match StringOrNumber::deserialize(d)? {
        StringOrNumber::S(s) => s,
        StringOrNumber::I(n) => n.to_string(),
        StringOrNumber::U(n) => n.to_string(),
        StringOrNumber::F(n) => n.to_string(),
        StringOrNumber::B(b) => b.to_string(),
    })
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ListOrText {
    List(Vec<i64>),
    One(i64),
    Text(String),
}

/// A list of integers from `2023,2024`, `2023 2024`, a single number, or a sequence.
pub fn int_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    use serde::de::Error;
    let values: Vec<i64> = match ListOrText::deserialize(d)? {
        ListOrText::List(v) => v,
        ListOrText::One(n) => vec![n],
        ListOrText::Text(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| {
                p.parse::<i64>()
                    .map_err(|_| D::Error::custom(format!("{p:?} is not a number")))
            })
            .collect::<Result<_, _>>()?,
    };
    values
        .into_iter()
        .map(|n| i32::try_from(n).map_err(|_| D::Error::custom(format!("{n} is out of range"))))
        .collect()
}

/// Checks that `value`, the setting `variable`, is an `http://` or `https://` base URL;
/// the error names the variable and says what the URL is (`what`, e.g. "the fund's").
pub fn require_base_url(
    variable: &str,
    value: &str,
    what: &str,
) -> Result<(), hub_runtime::ConfigError> {
    if value.starts_with("http://") || value.starts_with("https://") {
        Ok(())
    } else {
        Err(hub_runtime::ConfigError::invalid(
            variable,
            format!("required: {what} base URL (http:// or https://)"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        key: Secret,
        #[serde(deserialize_with = "int_list")]
        years: Vec<i32>,
    }

    #[test]
    fn secrets_never_print_and_accept_digits() {
        let t: T = serde_json::from_str(r#"{"key": 12345, "years": "2023, 2024"}"#).expect("ok");
        assert_eq!(t.key.expose(), "12345");
        assert_eq!(format!("{:?} {}", t.key, t.key), "*** ***");
        assert_eq!(t.years, vec![2023, 2024]);
        let t: T = serde_json::from_str(r#"{"key": "k", "years": 2025}"#).expect("ok");
        assert_eq!(t.years, vec![2025]);
        let t: T = serde_json::from_str(r#"{"key": "k", "years": [2023]}"#).expect("ok");
        assert_eq!(t.years, vec![2023]);
        assert!(serde_json::from_str::<T>(r#"{"key": "k", "years": "20x3"}"#).is_err());
    }
}

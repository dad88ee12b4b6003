//! Configuration helpers every adapter's `Config` uses: a [`Secret`] that never prints, and
//! lenient readers for values that arrive from environment variables (a key of digits, a
//! comma-separated list of years).
//!
//! Owns no setting itself: each adapter crate declares its own variables.

use std::fmt;

use serde::{Deserialize, Deserializer};

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

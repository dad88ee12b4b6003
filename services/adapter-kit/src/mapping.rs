//! Reading a raw source record into a contract, field by field: required fields either read
//! or make the record [`Invalid`]; optional fields either read, or become `None` with a
//! [`FieldIssue`] saying what was wrong (with the raw value, unless the field is personal
//! data).
//!
//! Owns no source's field list: each adapter says which fields it reads and how.

use hub_contracts::v1::FieldIssue;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Invalid;

/// Reads fields of one raw record and collects issues.
pub struct FieldReader<'a> {
    raw: &'a Value,
    issues: Vec<FieldIssue>,
}

/// A phone number as E.164 (`+84…`), for [`FieldReader::optional_with`]: a value that is
/// not a readable Vietnamese number is flagged, masked (a phone is personal data).
pub fn e164_phone(v: &Value) -> Result<Option<String>, String> {
    let text = v.as_str().ok_or("not a string")?;
    hub_normalise::phone::to_e164(text)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "not a readable Vietnamese phone number ({})",
                hub_normalise::mask::mask_phone(text)
            )
        })
}

/// The value at a dotted path (`borrower.tax_code`, `cooperatives.0.name`).
pub fn at<'v>(raw: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(raw, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> FieldReader<'a> {
    pub fn new(raw: &'a Value) -> Self {
        Self {
            raw,
            issues: Vec::new(),
        }
    }

    pub fn raw(&self) -> &'a Value {
        self.raw
    }

    /// The value at `path`, `None` when missing or null.
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        at(self.raw, path).filter(|v| !v.is_null())
    }

    /// A required field of type `T`; missing, null or unreadable makes the record invalid.
    pub fn required<T: DeserializeOwned>(&self, path: &str) -> Result<T, Invalid> {
        let v = self
            .get(path)
            .ok_or_else(|| Invalid::new(format!("{path} is missing")))?;
        T::deserialize(v).map_err(|e| Invalid::new(format!("{path} is unreadable: {e}")))
    }

    /// A required, non-blank string.
    pub fn required_text(&self, path: &str) -> Result<String, Invalid> {
        match self.get(path) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) => Err(Invalid::new(format!("{path} is blank"))),
            Some(other) => Err(Invalid::new(format!(
                "{path} is {}, expected a string",
                describe(other)
            ))),
            None => Err(Invalid::new(format!("{path} is missing"))),
        }
    }

    /// An optional field of type `T`: `None` when missing or null; `None` and an issue (with
    /// the raw value) when unreadable.
    pub fn optional<T: DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        self.optional_with(path, false, |v| {
            T::deserialize(v).map(Some).map_err(|e| e.to_string())
        })
    }

    /// Like [`FieldReader::optional`] for personal data: the issue does not copy the value,
    /// and the problem text does not quote it.
    pub fn optional_personal<T: DeserializeOwned>(&mut self, path: &str) -> Option<T> {
        self.optional_with(path, true, |v| {
            T::deserialize(v)
                .map(Some)
                .map_err(|_| format!("{} where another type was expected", describe(v)))
        })
    }

    /// An optional field read by `read`: `Ok(None)` is absent, `Err(problem)` is flagged.
    pub fn optional_with<T>(
        &mut self,
        path: &str,
        personal: bool,
        read: impl FnOnce(&Value) -> Result<Option<T>, String>,
    ) -> Option<T> {
        let v = self.get(path)?;
        match read(v) {
            Ok(t) => t,
            Err(problem) => {
                self.flag(path, problem, (!personal).then(|| v.clone()));
                None
            }
        }
    }

    /// Records an issue.
    pub fn flag(&mut self, path: &str, problem: impl Into<String>, raw: Option<Value>) {
        self.issues.push(FieldIssue {
            field: path.to_owned(),
            problem: problem.into(),
            raw,
        });
    }

    /// The issues found.
    pub fn finish(self) -> Vec<FieldIssue> {
        self.issues
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_required_and_flags_optional() {
        let raw = json!({"a": {"b": [1, "x"]}, "n": -4, "name": "  ", "p": 12});
        let mut r = FieldReader::new(&raw);
        assert_eq!(r.required::<u32>("a.b.0"), Ok(1));
        assert!(r.required::<u32>("a.b.1").is_err());
        assert_eq!(
            r.required_text("name").map_err(|e| e.reason),
            Err("name is blank".into())
        );
        assert_eq!(
            r.required_text("gone").map_err(|e| e.reason),
            Err("gone is missing".into())
        );
        assert_eq!(r.optional::<u32>("n"), None);
        assert_eq!(r.optional::<u32>("missing"), None);
        assert_eq!(r.optional_personal::<String>("p"), None);
        let issues = r.finish();
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].field, "n");
        assert_eq!(issues[0].raw, Some(json!(-4)));
        assert_eq!(issues[1].raw, None, "personal values are not copied");
        assert!(!issues[1].problem.contains("12"));
    }
}

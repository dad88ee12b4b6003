//! What the pages show of the upstream services' JSON: scalars as text, fields found under
//! any of their names, arrays, objects flattened into attribute rows, records side by side,
//! numbers without useless decimals. Pure functions and typed views; no I/O, no HTML (the
//! templates write the markup and escape every value).

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

/// A JSON scalar as text; objects and arrays compact.
pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(text).collect::<Vec<_>>().join(", ")
        }
        Value::Object(m) if m.contains_key("system") && m.contains_key("id") && m.len() == 2 => {
            format!("{}:{}", text(&m["system"]), text(&m["id"]))
        }
        other => other.to_string(),
    }
}

/// The first present, non-null field of `v` among `keys`.
pub fn field<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().filter_map(|k| v.get(*k)).find(|x| !x.is_null())
}

/// The field's text, or empty.
pub fn ftext(v: &Value, keys: &[&str]) -> String {
    field(v, keys).map(text).unwrap_or_default()
}

/// The array in `v`: itself, or the first array field among `keys`.
pub fn items<'a>(v: &'a Value, keys: &[&str]) -> Vec<&'a Value> {
    if let Value::Array(a) = v {
        return a.iter().collect();
    }
    keys.iter()
        .filter_map(|k| v.get(*k).and_then(Value::as_array))
        .next()
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Flattens an object one level into `key` / `key.sub` rows.
pub fn flatten(v: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Value::Object(m) = v {
        for (k, val) in m {
            match val {
                Value::Object(inner)
                    if !(inner.contains_key("system")
                        && inner.contains_key("id")
                        && inner.len() == 2) =>
                {
                    for (k2, v2) in inner {
                        rows.push((format!("{k}.{k2}"), text(v2)));
                    }
                }
                other => rows.push((k.clone(), text(other))),
            }
        }
    }
    rows
}

/// One attribute's values, one per record.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeRow {
    pub key: String,
    pub values: Vec<String>,
}

/// Records side by side: one row per attribute, one column per record (the template's
/// `side_by_side` macro draws it).
#[derive(Debug, Clone, Serialize)]
pub struct SideBySide {
    pub columns: Vec<String>,
    pub rows: Vec<AttributeRow>,
}

impl SideBySide {
    /// From `(title, record)` columns; attributes in the order they first appear.
    pub fn new(columns: &[(String, &Value)]) -> Self {
        let flat: Vec<Vec<(String, String)>> = columns.iter().map(|(_, v)| flatten(v)).collect();
        let mut keys: Vec<String> = Vec::new();
        let mut seen = BTreeSet::new();
        for rows in &flat {
            for (k, _) in rows {
                if seen.insert(k.clone()) {
                    keys.push(k.clone());
                }
            }
        }
        let rows = keys
            .into_iter()
            .map(|k| {
                let values = flat
                    .iter()
                    .map(|rows| {
                        rows.iter()
                            .find(|(rk, _)| *rk == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default()
                    })
                    .collect();
                AttributeRow { key: k, values }
            })
            .collect();
        SideBySide {
            columns: columns.iter().map(|(t, _)| t.clone()).collect(),
            rows,
        }
    }
}

/// A number without useless decimals.
pub fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn side_by_side_aligns_attributes() {
        let a = json!({"name": "HTX Tân Uyên", "commune_code": "03622"});
        let b = json!({"name": "HTX Tan Uyen", "meta": {"system": "loan-fund"}});
        let t = SideBySide::new(&[("golden".into(), &a), ("loan-fund:L1".into(), &b)]);
        assert_eq!(t.columns, ["golden", "loan-fund:L1"]);
        let row = |k: &str| t.rows.iter().find(|r| r.key == k).map(|r| r.values.clone());
        assert_eq!(
            row("name"),
            Some(vec!["HTX Tân Uyên".into(), "HTX Tan Uyen".into()])
        );
        assert_eq!(
            row("meta.system"),
            Some(vec![String::new(), "loan-fund".into()])
        );
        assert_eq!(
            row("commune_code"),
            Some(vec!["03622".into(), String::new()])
        );
    }

    #[test]
    fn numbers_lose_useless_decimals() {
        assert_eq!(fmt_num(70.0), "70");
        assert_eq!(fmt_num(70.09345794392523), "70.1");
    }
}

//! Backward-compatibility check between a published schema and a newly generated one.
//!
//! A change is breaking when, in the root object or any named definition that both schemas
//! have, a property is removed, changes shape (type, format, reference, item type,
//! nullability), becomes required (including a new property that is required), or an enum
//! loses a value, or a size limit (`maxLength`, `maxItems`, `maxProperties`) is lowered.
//! Adding an optional property or an enum value is compatible. So is adding a size limit
//! where there was none, or raising one: the limits guard the hub against oversized input (an
//! agency's push, checked by hub-inbound) and are set far above any value the sources hold
//! (names 1,000 characters, addresses 2,000, codes 64, a report's cooperatives 2,000), so
//! that no real record that was valid becomes invalid; readers are unaffected. This is what
//! "never broken silently" is enforced with: `tests/schemas.rs` runs it against the committed
//! schemas, and `gen-schemas` refuses to overwrite a published schema with a breaking one.

use std::collections::BTreeSet;

use serde_json::Value;

/// One incompatibility, with the JSON path where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breaking {
    pub path: String,
    pub what: String,
}

impl std::fmt::Display for Breaking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.what)
    }
}

/// Lists every breaking difference from `old` to `new` (empty: compatible).
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<Breaking> {
    let mut out = Vec::new();
    compare_object(old, new, "#", &mut out);
    let empty = serde_json::Map::new();
    let old_defs = old
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_defs = new
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (name, old_def) in old_defs {
        if let Some(new_def) = new_defs.get(name) {
            compare_object(old_def, new_def, &format!("#/$defs/{name}"), &mut out);
            compare_enum(old_def, new_def, &format!("#/$defs/{name}"), &mut out);
        }
    }
    out
}

pub(crate) fn compare_object(old: &Value, new: &Value, path: &str, out: &mut Vec<Breaking>) {
    let empty = serde_json::Map::new();
    let old_props = old
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_props = new
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (field, old_schema) in old_props {
        let field_path = format!("{path}/properties/{field}");
        match new_props.get(field) {
            None => out.push(Breaking {
                path: field_path,
                what: "field removed".into(),
            }),
            Some(new_schema) => {
                let (a, b) = (shape(old_schema), shape(new_schema));
                if a != b {
                    out.push(Breaking {
                        path: field_path.clone(),
                        what: format!("field retyped from {a} to {b}"),
                    });
                }
                compare_enum(old_schema, new_schema, &field_path, out);
                compare_limits(old_schema, new_schema, &field_path, out);
            }
        }
    }
    let old_req = required(old);
    for field in required(new).difference(&old_req) {
        out.push(Breaking {
            path: format!("{path}/properties/{field}"),
            what: "field made required".into(),
        });
    }
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn enum_values(schema: &Value) -> Option<BTreeSet<String>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return Some(values.iter().map(Value::to_string).collect());
    }
    let alternatives = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)?;
    let consts: BTreeSet<String> = alternatives
        .iter()
        .filter_map(|a| a.get("const").map(Value::to_string))
        .collect();
    (!consts.is_empty() && consts.len() == alternatives.len()).then_some(consts)
}

/// The size limits a schema may carry.
const LIMITS: [&str; 3] = ["maxLength", "maxItems", "maxProperties"];

/// A limit lowered is breaking (a value valid before is refused now); one added where there
/// was none, raised or removed is not (see the module documentation for why adding is).
pub(crate) fn compare_limits(old: &Value, new: &Value, path: &str, out: &mut Vec<Breaking>) {
    for key in LIMITS {
        if let (Some(a), Some(b)) = (
            old.get(key).and_then(Value::as_u64),
            new.get(key).and_then(Value::as_u64),
        ) && b < a
        {
            out.push(Breaking {
                path: path.to_owned(),
                what: format!("{key} lowered from {a} to {b}"),
            });
        }
    }
}

pub(crate) fn compare_enum(old: &Value, new: &Value, path: &str, out: &mut Vec<Breaking>) {
    if let (Some(a), Some(b)) = (enum_values(old), enum_values(new)) {
        for removed in a.difference(&b) {
            out.push(Breaking {
                path: path.to_owned(),
                what: format!("enum value {removed} removed"),
            });
        }
    }
}

/// A canonical description of a schema's type, ignoring documentation and enum values.
pub(crate) fn shape(schema: &Value) -> String {
    let Some(obj) = schema.as_object() else {
        return schema.to_string();
    };
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        return format!("ref({})", r.rsplit('/').next().unwrap_or(r));
    }
    if enum_values(schema).is_some() {
        return format!("enum<{}>", types(obj).join("|"));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = obj.get(key).and_then(Value::as_array) {
            let mut parts: Vec<String> = alts.iter().map(shape).collect();
            parts.sort();
            parts.dedup();
            return parts.join("|");
        }
    }
    let mut s = types(obj).join("|");
    if let Some(f) = obj.get("format").and_then(Value::as_str) {
        s.push_str(&format!("<{f}>"));
    }
    if let Some(items) = obj.get("items") {
        s.push_str(&format!("[{}]", shape(items)));
    }
    if let Some(extra) = obj.get("additionalProperties").filter(|v| v.is_object()) {
        s.push_str(&format!("{{*:{}}}", shape(extra)));
    }
    if s.is_empty() { "any".into() } else { s }
}

fn types(obj: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut t: Vec<String> = match obj.get("type") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    // integer formats (uint32, int64) matter for readers; they are part of the type
    t.sort();
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "count": {"type": "integer", "format": "uint32"},
                "kind": {"$ref": "#/$defs/Kind"},
                "note": {"type": ["string", "null"]}
            },
            "required": ["id", "kind"],
            "$defs": {"Kind": {"type": "string", "enum": ["HTX", "THT"]}}
        })
    }

    #[test]
    fn adding_or_raising_a_size_limit_is_compatible_lowering_it_is_not() {
        let mut limited = base();
        limited["properties"]["id"]["maxLength"] = json!(100);
        assert!(breaking_changes(&base(), &limited).is_empty(), "added");
        let mut raised = limited.clone();
        raised["properties"]["id"]["maxLength"] = json!(200);
        assert!(breaking_changes(&limited, &raised).is_empty(), "raised");
        let b = breaking_changes(&raised, &limited);
        assert_eq!(b.len(), 1);
        assert!(
            b[0].what.contains("maxLength lowered from 200 to 100"),
            "{}",
            b[0]
        );
    }

    #[test]
    fn identical_is_compatible() {
        assert!(breaking_changes(&base(), &base()).is_empty());
    }

    #[test]
    fn new_optional_field_and_new_enum_value_are_compatible() {
        let mut new = base();
        new["properties"]["extra"] = json!({"type": "boolean"});
        new["$defs"]["Kind"]["enum"] = json!(["HTX", "THT", "LHHTX"]);
        new["properties"]["id"]["description"] = json!("documented now");
        assert_eq!(breaking_changes(&base(), &new), vec![]);
    }

    #[test]
    fn removed_field_is_breaking() {
        let mut new = base();
        new["properties"].as_object_mut().unwrap().remove("count");
        let b = breaking_changes(&base(), &new);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].path, "#/properties/count");
        assert_eq!(b[0].what, "field removed");
    }

    #[test]
    fn retyped_field_is_breaking() {
        let mut new = base();
        new["properties"]["count"] = json!({"type": "string"});
        new["properties"]["note"] = json!({"type": "string"});
        let b = breaking_changes(&base(), &new);
        let paths: Vec<_> = b.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, vec!["#/properties/count", "#/properties/note"]);
        assert!(b[0].what.contains("integer<uint32>"), "{}", b[0].what);
    }

    #[test]
    fn field_made_required_is_breaking_and_so_is_a_new_required_field() {
        let mut new = base();
        new["required"] = json!(["id", "kind", "note", "fresh"]);
        new["properties"]["fresh"] = json!({"type": "string"});
        let b = breaking_changes(&base(), &new);
        let paths: Vec<_> = b.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, vec!["#/properties/fresh", "#/properties/note"]);
        assert!(b.iter().all(|x| x.what == "field made required"));
    }

    #[test]
    fn enum_value_removed_is_breaking() {
        let mut new = base();
        new["$defs"]["Kind"]["enum"] = json!(["HTX"]);
        let b = breaking_changes(&base(), &new);
        assert_eq!(b.len(), 1);
        assert!(b[0].what.contains("\"THT\""));
    }

    #[test]
    fn nested_definition_changes_are_found() {
        let old = json!({"properties": {"p": {"$ref": "#/$defs/P"}},
            "$defs": {"P": {"type": "object", "properties": {"name": {"type": "string"}}, "required": []}}});
        let new = json!({"properties": {"p": {"$ref": "#/$defs/P"}},
            "$defs": {"P": {"type": "object", "properties": {}, "required": []}}});
        let b = breaking_changes(&old, &new);
        assert_eq!(
            b,
            vec![Breaking {
                path: "#/$defs/P/properties/name".into(),
                what: "field removed".into()
            }]
        );
    }
}

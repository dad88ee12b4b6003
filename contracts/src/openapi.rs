//! The services' HTTP APIs as published: their OpenAPI 3.1 documents, committed under
//! `contracts/openapi/<service>.json`, kept compatible the way the message schemas are.
//!
//! Each service generates its document from its handlers' types (`hub_runtime::openapi`);
//! its `tests/openapi.rs` calls [`verify`], which fails when the generated document differs
//! from the committed one, and names every breaking change ([`breaking_changes`]):
//! - an operation (path and method) removed;
//! - a parameter removed, retyped, made required, or a new required one;
//! - a request body made required where there was none, or a media type of it removed;
//! - a documented answer (status code) or one of its media types removed;
//! - in a schema (a component or one inline in an operation), what
//!   [`crate::compat::breaking_changes`] calls breaking: a field removed, retyped or made
//!   required, an enum value removed, a size limit lowered; a component schema removed.
//!
//! Adding operations, optional parameters, fields, answers and components is compatible.
//! Reads and writes only its own files under `contracts/openapi/`.

use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::compat::{Breaking, compare_enum, compare_limits, compare_object, shape};

/// The environment variable that lets [`verify`] rewrite a stale (compatible) document.
pub const UPDATE_VAR: &str = "HUB_UPDATE_OPENAPI";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// Where a service's committed document lives.
pub fn committed_path(service: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("openapi")
        .join(format!("{service}.json"))
}

/// Compares `generated` with the committed document of `service`: `Ok` when equal. With
/// `HUB_UPDATE_OPENAPI=1` a compatible change (or a first document) is written and `Ok`; a
/// breaking change is never written.
pub fn verify(service: &str, generated: &Value) -> Result<(), String> {
    let path = committed_path(service);
    let committed = match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| format!("{}: not JSON: {e}", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    if let Some(old) = &committed {
        let breaking = breaking_changes(old, generated);
        if !breaking.is_empty() {
            let list: Vec<String> = breaking.iter().map(|b| format!("  {b}")).collect();
            return Err(format!(
                "breaking changes to the published API {service} ({}):\n{}\nmake them \
                 compatible, or publish the change under a new path (/api/v2/…)",
                path.display(),
                list.join("\n")
            ));
        }
        if old == generated {
            return Ok(());
        }
    }
    if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(generated)
            .map_err(|e| format!("{service}: the document does not serialise: {e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(());
    }
    Err(format!(
        "{} is out of date (or missing): run `{UPDATE_VAR}=1 cargo test -p <the service> \
         --test openapi` and commit it",
        path.display()
    ))
}

/// Every breaking difference from the published document `old` to `new` (empty: compatible).
pub fn breaking_changes(old: &Value, new: &Value) -> Vec<Breaking> {
    let mut out = Vec::new();
    let paths = |d: &'_ Value| d.get("paths").and_then(Value::as_object).cloned();
    let (old_paths, new_paths) = (
        paths(old).unwrap_or_default(),
        paths(new).unwrap_or_default(),
    );
    for (route, old_item) in &old_paths {
        for method in METHODS {
            let Some(old_op) = old_item.get(method) else {
                continue;
            };
            let at = format!("{} {route}", method.to_uppercase());
            match new_paths.get(route).and_then(|i| i.get(method)) {
                None => out.push(Breaking {
                    path: at,
                    what: "operation removed".into(),
                }),
                Some(new_op) => compare_operation(old_op, new_op, &at, &mut out),
            }
        }
    }
    let schemas = |d: &'_ Value| {
        d.pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (old_schemas, new_schemas) = (schemas(old), schemas(new));
    for (name, old_schema) in &old_schemas {
        let at = format!("#/components/schemas/{name}");
        match new_schemas.get(name) {
            None => out.push(Breaking {
                path: at,
                what: "schema removed".into(),
            }),
            Some(new_schema) => compare_schema(old_schema, new_schema, &at, &mut out),
        }
    }
    // in one order whatever serde_json's map keeps (`preserve_order` may be on in a build)
    out.sort_by(|a, b| (&a.path, &a.what).cmp(&(&b.path, &b.what)));
    out
}

/// What an OpenAPI parser would refuse that serde alone lets through: a path template's
/// `{name}` without a path parameter of that name on each of its operations, an operation
/// without answers, an operation id used twice. Empty: sound.
pub fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return vec!["no paths".into()];
    };
    for (route, item) in paths {
        let names: Vec<&str> = route
            .split('{')
            .skip(1)
            .filter_map(|s| s.split_once('}').map(|(n, _)| n))
            .collect();
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let at = format!("{} {route}", method.to_uppercase());
            let mut declared = parameters(op);
            declared.extend(parameters(item));
            for n in &names {
                if !declared
                    .iter()
                    .any(|(k, _)| *k == format!("path parameter {n}"))
                {
                    out.push(format!("{at}: path parameter {n} not declared"));
                }
            }
            if op
                .get("responses")
                .and_then(Value::as_object)
                .is_none_or(Map::is_empty)
            {
                out.push(format!("{at}: no answers documented"));
            }
            if let Some(id) = op.get("operationId").and_then(Value::as_str)
                && !ids.insert(id.to_owned())
            {
                out.push(format!("{at}: operationId {id} used twice"));
            }
        }
    }
    out
}

fn compare_schema(old: &Value, new: &Value, at: &str, out: &mut Vec<Breaking>) {
    let (a, b) = (shape(old), shape(new));
    if a != b {
        out.push(Breaking {
            path: at.to_owned(),
            what: format!("retyped from {a} to {b}"),
        });
    }
    compare_object(old, new, at, out);
    compare_enum(old, new, at, out);
    compare_limits(old, new, at, out);
}

fn parameters(op: &Value) -> Vec<(String, &Value)> {
    op.get("parameters")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let key = format!(
                        "{} parameter {}",
                        p.get("in").and_then(Value::as_str).unwrap_or("?"),
                        p.get("name").and_then(Value::as_str).unwrap_or("?")
                    );
                    (key, p)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_required(v: Option<&Value>) -> bool {
    v.and_then(|v| v.get("required"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn compare_operation(old: &Value, new: &Value, at: &str, out: &mut Vec<Breaking>) {
    let (old_params, new_params) = (parameters(old), parameters(new));
    for (key, old_p) in &old_params {
        let here = format!("{at}: {key}");
        match new_params.iter().find(|(k, _)| k == key) {
            None => out.push(Breaking {
                path: here,
                what: "parameter removed".into(),
            }),
            Some((_, new_p)) => {
                if !is_required(Some(old_p)) && is_required(Some(new_p)) {
                    out.push(Breaking {
                        path: here.clone(),
                        what: "parameter made required".into(),
                    });
                }
                if let (Some(a), Some(b)) = (old_p.get("schema"), new_p.get("schema")) {
                    compare_schema(a, b, &here, out);
                }
            }
        }
    }
    for (key, new_p) in &new_params {
        if is_required(Some(new_p)) && !old_params.iter().any(|(k, _)| k == key) {
            out.push(Breaking {
                path: format!("{at}: {key}"),
                what: "new required parameter".into(),
            });
        }
    }
    let (old_body, new_body) = (old.get("requestBody"), new.get("requestBody"));
    if !is_required(old_body) && is_required(new_body) {
        out.push(Breaking {
            path: format!("{at}: request body"),
            what: "request body made required".into(),
        });
    }
    if let Some(old_body) = old_body {
        compare_content(old_body, new_body, &format!("{at}: request body"), out);
    }
    let responses = |op: &'_ Value| {
        op.get("responses")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let new_responses = responses(new);
    for (status, old_r) in responses(old) {
        let here = format!("{at}: answer {status}");
        match new_responses.get(&status) {
            None => out.push(Breaking {
                path: here,
                what: "answer removed".into(),
            }),
            Some(new_r) => compare_content(&old_r, Some(new_r), &here, out),
        }
    }
}

/// Media types of a request body or an answer: each one published stays, compatibly.
fn compare_content(old: &Value, new: Option<&Value>, at: &str, out: &mut Vec<Breaking>) {
    let Some(old_content) = old.get("content").and_then(Value::as_object) else {
        return;
    };
    let empty = Map::new();
    let new_content = new
        .and_then(|n| n.get("content"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (media, old_m) in old_content {
        let here = format!("{at} {media}");
        match new_content.get(media) {
            None => out.push(Breaking {
                path: here,
                what: "media type removed".into(),
            }),
            Some(new_m) => {
                if let (Some(a), Some(b)) = (old_m.get("schema"), new_m.get("schema")) {
                    compare_schema(a, b, &here, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "openapi": "3.1.0",
            "paths": {
                "/api/v1/things/{id}": {
                    "get": {
                        "parameters": [
                            {"in": "path", "name": "id", "required": true, "schema": {"type": "string"}},
                            {"in": "query", "name": "limit", "schema": {"type": ["integer", "null"], "format": "int64"}}
                        ],
                        "responses": {"200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}}
                    },
                    "post": {
                        "parameters": [{"in": "path", "name": "id", "required": true, "schema": {"type": "string"}}],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Body"}}}},
                        "responses": {"200": {"description": ""}}
                    }
                }
            },
            "components": {"schemas": {
                "Thing": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 100}, "kind": {"type": "string", "enum": ["a", "b"]}}, "required": ["name"]},
                "Body": {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}
            }}
        })
    }

    #[test]
    fn undeclared_path_parameters_are_problems() {
        assert_eq!(problems(&doc()), Vec::<String>::new());
        let mut bad = doc();
        bad["paths"]["/api/v1/things/{id}"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .remove(0);
        assert_eq!(
            problems(&bad),
            vec!["GET /api/v1/things/{id}: path parameter id not declared"]
        );
    }

    /// The findings as a sorted list (their order is not what these tests check).
    fn sorted<S: ToString>(v: Vec<S>) -> Vec<String> {
        let mut v: Vec<String> = v.iter().map(ToString::to_string).collect();
        v.sort();
        v
    }

    #[test]
    fn identical_and_additions_are_compatible() {
        assert_eq!(breaking_changes(&doc(), &doc()), vec![]);
        let mut new = doc();
        new["paths"]["/api/v1/other"] = json!({"get": {"responses": {"200": {"description": ""}}}});
        new["components"]["schemas"]["Thing"]["properties"]["extra"] = json!({"type": "integer"});
        new["components"]["schemas"]["Thing"]["properties"]["kind"]["enum"] =
            json!(["a", "b", "c"]);
        new["paths"]["/api/v1/things/{id}"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .push(json!({"in": "query", "name": "since", "schema": {"type": "string"}}));
        assert_eq!(breaking_changes(&doc(), &new), vec![]);
    }

    #[test]
    fn removed_operation_field_parameter_or_answer_is_breaking() {
        let mut new = doc();
        new["paths"]["/api/v1/things/{id}"]
            .as_object_mut()
            .unwrap()
            .remove("post");
        new["components"]["schemas"]["Thing"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("kind");
        new["paths"]["/api/v1/things/{id}"]["get"]["parameters"]
            .as_array_mut()
            .unwrap()
            .pop();
        new["paths"]["/api/v1/things/{id}"]["get"]["responses"] =
            json!({"201": {"description": ""}});
        let b: Vec<String> = breaking_changes(&doc(), &new)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            sorted(b),
            sorted(vec![
                "GET /api/v1/things/{id}: query parameter limit: parameter removed",
                "GET /api/v1/things/{id}: answer 200: answer removed",
                "POST /api/v1/things/{id}: operation removed",
                "#/components/schemas/Thing/properties/kind: field removed",
            ])
        );
    }

    #[test]
    fn tightened_types_are_breaking() {
        let mut new = doc();
        let get = &mut new["paths"]["/api/v1/things/{id}"]["get"];
        get["parameters"][1]["schema"] = json!({"type": "integer", "format": "int64"});
        get["parameters"][1]["required"] = json!(true);
        let thing = &mut new["components"]["schemas"]["Thing"];
        thing["properties"]["name"]["maxLength"] = json!(50);
        thing["properties"]["kind"]["enum"] = json!(["a"]);
        thing["required"] = json!(["name", "kind"]);
        let b: Vec<String> = breaking_changes(&doc(), &new)
            .iter()
            .map(|b| b.what.clone())
            .collect();
        assert_eq!(
            sorted(b),
            sorted(vec![
                "parameter made required",
                "retyped from integer|null<int64> to integer<int64>",
                "enum value \"b\" removed",
                "maxLength lowered from 100 to 50",
                "field made required",
            ])
        );
    }
}

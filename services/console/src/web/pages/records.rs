//! Golden records: the list, one organisation with its source records side by side and its
//! history, and the merge a reviewer asks for. Typed views rendered by templates; personal
//! data reaches them only through [`crate::api::for_caller`] (masked for viewers).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Page, fail, render_page};
use crate::actions;
use crate::api::for_caller;
use crate::auth::Role;
use crate::state::Shared;
use crate::upstream::Service;
use crate::web::PageCaller;
use crate::web::values::{SideBySide, field, ftext, items, text};

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
    commune_code: Option<String>,
    district_code: Option<String>,
}

/// A row of the cooperatives page.
#[derive(Debug, Serialize)]
struct CooperativeRow {
    id: String,
    name: String,
    registration_code: String,
    commune_code: String,
    kind: String,
    representative: String,
    source_refs: String,
}

fn cooperative_row(r: &Value) -> CooperativeRow {
    let rec = field(r, &["record", "golden_record"]).unwrap_or(r);
    CooperativeRow {
        id: ftext(rec, &["organisation_id", "id"]),
        name: ftext(rec, &["name"]),
        registration_code: ftext(rec, &["registration_code"]),
        commune_code: ftext(rec, &["commune_code"]),
        kind: ftext(rec, &["kind"]),
        representative: rec
            .get("representative")
            .map(|p| ftext(p, &["full_name"]))
            .unwrap_or_default(),
        source_refs: field(rec, &["source_refs"])
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
            .unwrap_or_default(),
    }
}

pub async fn cooperatives(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(lq): Query<ListQuery>,
) -> Page {
    let mut query = vec![("limit".to_owned(), "50".to_owned())];
    for (k, v) in [
        ("cursor", &lq.cursor),
        ("commune_code", &lq.commune_code),
        ("district_code", &lq.district_code),
    ] {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            query.push((k.to_owned(), v.clone()));
        }
    }
    let (rows, next, problem) = match state
        .upstream
        .get(Service::Reconciler, "/api/v1/cooperatives", &query)
        .await
    {
        Ok(v) => {
            let v = for_caller(&caller, v);
            let rows: Vec<CooperativeRow> =
                items(&v, &["items", "cooperatives", "records", "data"])
                    .into_iter()
                    .map(cooperative_row)
                    .collect();
            let next = field(&v, &["next_cursor"])
                .and_then(Value::as_str)
                .map(str::to_owned);
            (rows, next, None)
        }
        Err(e) => (Vec::new(), None, Some(actions::ApiError::from(e).message)),
    };
    render_page(
        "Cooperatives",
        &caller,
        "cooperatives",
        "cooperatives.html",
        minijinja::context! { rows, next, problem },
    )
}

/// A source record's title (`system:id`) and its attributes.
fn source_column(r: &Value) -> (String, &Value) {
    let title = field(r, &["source_ref", "source", "ref"])
        .map(text)
        .or_else(|| {
            r.get("meta").map(|m| {
                format!(
                    "{}:{}",
                    ftext(m, &["system"]),
                    ftext(m, &["source_id", "id"])
                )
            })
        })
        .unwrap_or_else(|| "source record".into());
    let body = field(r, &["record", "payload", "data", "observation"])
        .filter(|v| v.is_object())
        .unwrap_or(r);
    (title, body)
}

/// For each source record of a golden record, the attributes it contributed
/// (`attribute_sources`), so that sources stand beside the golden values.
fn contributions(golden: &Value) -> Vec<(String, Value)> {
    let refs = items(golden, &["source_refs"]);
    let by_attr = golden.get("attribute_sources").and_then(Value::as_object);
    refs.iter()
        .map(|r| {
            let title = text(r);
            let mut attrs = serde_json::Map::new();
            if let Some(by_attr) = by_attr {
                for (attr, src) in by_attr {
                    if text(src) == title
                        && let Some(val) = golden.get(attr)
                    {
                        attrs.insert(attr.clone(), val.clone());
                    }
                }
            }
            (title, Value::Object(attrs))
        })
        .collect()
}

/// A row of a golden record's history.
#[derive(Debug, Serialize)]
struct HistoryRow {
    at: String,
    outcome: String,
    source: String,
    rule: String,
    operator: String,
    reason: String,
    version: String,
}

fn history_row(h: &Value) -> HistoryRow {
    HistoryRow {
        at: ftext(h, &["at", "updated_at"]),
        outcome: ftext(h, &["outcome", "change", "kind"]),
        source: ftext(h, &["source"]),
        rule: ftext(h, &["rule"]),
        operator: ftext(h, &["operator", "decided_by"]),
        reason: ftext(h, &["reason", "note"]),
        version: ftext(h, &["version"]),
    }
}

/// One organisation's page.
#[derive(Debug, Serialize)]
struct CooperativeView {
    organisation: String,
    name: String,
    organisation_id: String,
    version: String,
    side_by_side: SideBySide,
    history: Vec<HistoryRow>,
    reviewer: bool,
}

pub async fn cooperative(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Path(id): Path<String>,
) -> Page {
    let path = format!("/api/v1/cooperatives/{}", actions::encode(&id));
    let v = match state.upstream.get(Service::Reconciler, &path, &[]).await {
        Ok(v) => for_caller(&caller, v),
        Err(e) => return fail(&caller, e.into()),
    };
    let golden = field(&v, &["record", "golden_record", "golden", "cooperative"]).unwrap_or(&v);
    let sources = items(&v, &["source_records", "sources", "observations"]);
    let contributed = contributions(golden);
    // the golden values alone: provenance is what the other columns show
    let mut values = golden.clone();
    if let Value::Object(m) = &mut values {
        m.remove("attribute_sources");
        m.remove("source_refs");
    }
    let mut columns: Vec<(String, &Value)> = vec![("golden record".into(), &values)];
    if sources.is_empty() {
        columns.extend(contributed.iter().map(|(t, v)| (t.clone(), v)));
    } else {
        columns.extend(sources.iter().map(|r| source_column(r)));
    }
    let view = CooperativeView {
        name: ftext(golden, &["name"]),
        organisation_id: ftext(golden, &["organisation_id"]),
        version: ftext(golden, &["version"]),
        side_by_side: SideBySide::new(&columns),
        history: items(&v, &["history", "decisions", "log"])
            .into_iter()
            .map(history_row)
            .collect(),
        reviewer: caller.role >= Role::Reviewer,
        organisation: id,
    };
    render_page(
        "Cooperative",
        &caller,
        "cooperatives",
        "cooperative.html",
        view,
    )
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    other: String,
    reason: String,
}

/// Merges another organisation into this one (the survivor).
pub async fn cooperative_merge(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Path(id): Path<String>,
    Form(f): Form<MergeForm>,
) -> Page {
    let body = serde_json::json!({
        "organisation_ids": [id, f.other.trim()],
        "survivor": id,
        "reason": f.reason,
    });
    match actions::merge(&state, &caller, body).await {
        Ok(_) => Redirect::to(&format!("/cooperatives/{}", actions::encode(&id))).into_response(),
        Err(e) => fail(&caller, e),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::escaping::{SCRIPT, assert_escaped, body};
    use super::*;

    #[test]
    fn the_cooperative_pages_escape_records() {
        let r = json!({
            "organisation_id": SCRIPT, "name": SCRIPT, "registration_code": SCRIPT,
            "commune_code": "03400", "kind": "htx",
            "representative": {"full_name": SCRIPT}, "source_refs": [{"system": "ntm", "id": SCRIPT}],
        });
        let page = body(
            "cooperatives.html",
            minijinja::context! {
                rows => vec![cooperative_row(&r)], next => SCRIPT, problem => Option::<String>::None,
            },
        );
        assert_escaped(&page);
        assert!(page.contains("href=\"/cooperatives/%3Cscript%3E"), "{page}");
        let view = CooperativeView {
            organisation: SCRIPT.into(),
            name: SCRIPT.into(),
            organisation_id: SCRIPT.into(),
            version: "3".into(),
            side_by_side: SideBySide::new(&[(SCRIPT.into(), &r)]),
            history: vec![history_row(&json!({"at": SCRIPT, "reason": SCRIPT}))],
            reviewer: true,
        };
        let page = body("cooperative.html", view);
        assert_escaped(&page);
        assert!(page.contains("name=\"merge\""), "{page}");
    }
}

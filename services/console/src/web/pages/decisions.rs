//! The reconciliation's decisions as operators read them: the log (live, in Vietnam time,
//! with names, districts and each score's feature contributions), the review queue and its
//! decisions, and two records side by side. Typed views rendered by templates; personal data
//! reaches them only through [`crate::api::for_caller`] (masked for viewers).

use std::collections::{BTreeMap, BTreeSet};

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Page, fail, render_page};
use crate::actions::{self, ApiError, ReviewDecision};
use crate::api::for_caller;
use crate::auth::{Caller, Role};
use crate::state::Shared;
use crate::upstream::Service;
use crate::web::PageCaller;
use crate::web::values::{field, flatten, ftext, items};
use crate::web::views;

#[derive(Debug, Deserialize, Default, Serialize)]
pub struct LogFilter {
    organisation: Option<String>,
    system: Option<String>,
    source_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// A pre-2025 district code: decisions about an organisation (or candidate) there.
    district: Option<String>,
    /// A decision outcome (`matched`, `review`, …).
    outcome: Option<String>,
}

impl LogFilter {
    /// What the reconciler filters (district and outcome are the console's).
    fn query(&self) -> Vec<(String, String)> {
        [
            ("organisation", &self.organisation),
            ("system", &self.system),
            ("source_id", &self.source_id),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| (k.to_owned(), v.clone()))
        })
        .collect()
    }

    fn district(&self) -> Option<&str> {
        self.district.as_deref().filter(|d| !d.is_empty())
    }

    fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref().filter(|d| !d.is_empty())
    }
}

/// The golden records of these organisations (masked for the caller), by id; an id the
/// reconciler does not answer for is left out.
async fn golden_records(
    state: &Shared,
    caller: &Caller,
    ids: impl IntoIterator<Item = String>,
) -> BTreeMap<String, Value> {
    use futures::StreamExt as _;
    let ids: BTreeSet<String> = ids.into_iter().filter(|i| !i.is_empty()).collect();
    futures::stream::iter(ids)
        .map(|id| {
            let upstream = state.upstream.clone();
            async move {
                let path = format!("/api/v1/cooperatives/{}", actions::encode(&id));
                let v = upstream.get(Service::Reconciler, &path, &[]).await.ok();
                (id, v)
            }
        })
        .buffer_unordered(8)
        .filter_map(|(id, v)| async move {
            let v = v?;
            let record = v.get("record").cloned().unwrap_or(v);
            Some((id, record))
        })
        .collect::<BTreeMap<_, _>>()
        .await
        .into_iter()
        .map(|(id, v)| (id, for_caller(caller, v)))
        .collect()
}

/// The organisations of a district, by id (golden records, masked for the caller).
async fn district_records(
    state: &Shared,
    caller: &Caller,
    district: &str,
) -> Result<BTreeMap<String, Value>, ApiError> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let mut q = vec![
            ("district_code".to_owned(), district.to_owned()),
            ("include_retired".to_owned(), "true".to_owned()),
            ("limit".to_owned(), "500".to_owned()),
        ];
        if let Some(c) = &cursor {
            q.push(("cursor".to_owned(), c.clone()));
        }
        let page = state
            .upstream
            .get(Service::Reconciler, "/api/v1/cooperatives", &q)
            .await?;
        for r in items(&page, &["items"]) {
            let id = ftext(r, &["organisation_id"]);
            out.insert(id, for_caller(caller, r.clone()));
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok(out)
}

/// One row of the log page.
#[derive(Debug, Serialize)]
struct LogRow {
    decision_id: String,
    at: String,
    at_utc: String,
    outcome: String,
    outcome_label: String,
    source: String,
    organisation: Option<views::Org>,
    candidate: Option<views::Org>,
    score: Option<views::Score>,
    rule: String,
    operator: String,
    note: String,
    compare: Option<String>,
}

fn org_of(id: &str, records: &BTreeMap<String, Value>) -> Option<views::Org> {
    (!id.is_empty()).then(|| views::Org::new(id, records.get(id)))
}

fn log_row(d: &Value, records: &BTreeMap<String, Value>) -> LogRow {
    let org = ftext(d, &["organisation_id"]);
    let cand = ftext(d, &["candidate_id"]);
    let source = views::source_text(d.get("source"));
    let at = ftext(d, &["at"]);
    let outcome = ftext(d, &["outcome"]);
    LogRow {
        decision_id: ftext(d, &["decision_id", "id"]),
        at: views::vn_time(&at),
        at_utc: at,
        outcome_label: views::outcome_label(&outcome),
        outcome,
        compare: views::compare_href(Some(&org), Some(&cand), &source),
        source,
        organisation: org_of(&org, records),
        candidate: org_of(&cand, records),
        score: views::score(
            field(d, &["score"]).and_then(Value::as_f64),
            d.get("features"),
        ),
        rule: ftext(d, &["rule"]),
        operator: ftext(d, &["operator"]),
        note: ftext(d, &["reason", "note"]),
    }
}

/// How many decisions the page shows.
const LOG_ROWS: usize = 200;
/// How many of the latest decisions a district or outcome filter looks through.
const LOG_SCAN: usize = 5000;

pub async fn log(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(f): Query<LogFilter>,
) -> Page {
    let q = f.query();
    let filtered = f.district().is_some() || f.outcome().is_some();
    let stream = {
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", actions::encode(v)))
            .collect();
        if qs.is_empty() {
            "/api/v1/log/stream".to_owned()
        } else {
            format!("/api/v1/log/stream?{}", qs.join("&"))
        }
    };
    let mut problem = None;
    let mut rows = Vec::new();
    let mut scanned = 0;
    let keep = if filtered { LOG_SCAN } else { LOG_ROWS };
    match crate::api::latest_log(&state, &q, keep).await {
        Ok(entries) => {
            scanned = entries.len();
            let v = for_caller(&caller, Value::Array(entries));
            let mut entries = items(&v, &[]);
            // newest first
            entries.reverse();
            if let Some(o) = f.outcome() {
                entries.retain(|d| ftext(d, &["outcome"]) == o);
            }
            let mut records = BTreeMap::new();
            if let Some(district) = f.district() {
                match district_records(&state, &caller, district).await {
                    Ok(r) => records = r,
                    Err(e) => problem = Some(e.message),
                }
                entries.retain(|d| {
                    records.contains_key(&ftext(d, &["organisation_id"]))
                        || records.contains_key(&ftext(d, &["candidate_id"]))
                });
            }
            entries.truncate(LOG_ROWS);
            let missing: Vec<String> = entries
                .iter()
                .flat_map(|d| [ftext(d, &["organisation_id"]), ftext(d, &["candidate_id"])])
                .filter(|id| !records.contains_key(id))
                .collect();
            records.extend(golden_records(&state, &caller, missing).await);
            rows = entries.iter().map(|d| log_row(d, &records)).collect();
        }
        Err(e) => problem = Some(e.message),
    }
    render_page(
        "Log",
        &caller,
        "log",
        "log.html",
        minijinja::context! {
            f => &f,
            districts => views::district_options(),
            outcomes => views::outcome_options(),
            shown => rows.len(),
            scanned,
            filtered,
            rows,
            stream,
            problem,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct ReviewQuery {
    done: Option<String>,
    district: Option<String>,
}

/// One doubtful pair on the review page.
#[derive(Debug, Serialize)]
struct ReviewView {
    id: String,
    observation: String,
    observation_name: String,
    candidate: String,
    candidate_name: String,
    organisation: Option<views::Org>,
    candidate_org: Option<views::Org>,
    score: Option<views::Score>,
    opened: String,
    rule_version: String,
    compare: Option<String>,
}

pub async fn review(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(rq): Query<ReviewQuery>,
) -> Page {
    let district = rq.district.clone().filter(|d| !d.is_empty());
    let mut problem = None;
    let mut views_ = Vec::new();
    match state
        .upstream
        .get(Service::Reconciler, "/api/v1/review", &[])
        .await
    {
        Ok(v) => {
            let v = for_caller(&caller, v);
            let list = items(&v, &["items", "review", "reviews", "data"]);
            let ids = list
                .iter()
                .flat_map(|i| [ftext(i, &["organisation_id"]), ftext(i, &["candidate_id"])]);
            let records = golden_records(&state, &caller, ids).await;
            for item in list {
                let org = ftext(item, &["organisation_id"]);
                let cand = ftext(item, &["candidate_id"]);
                let observation = views::source_text(item.get("observation"));
                let view = ReviewView {
                    id: ftext(item, &["review_id", "id", "item_id"]),
                    candidate: views::source_text(item.get("candidate")),
                    observation_name: ftext(item, &["observation_name"]),
                    candidate_name: ftext(item, &["candidate_name"]),
                    organisation: org_of(&org, &records),
                    candidate_org: org_of(&cand, &records),
                    score: views::score(
                        field(item, &["score"]).and_then(Value::as_f64),
                        item.get("features"),
                    ),
                    opened: views::vn_time(&ftext(item, &["created_at"])),
                    rule_version: ftext(item, &["rule_version"]),
                    compare: views::compare_href(Some(&org), Some(&cand), &observation),
                    observation,
                };
                let in_district = |o: &Option<views::Org>| {
                    o.as_ref().and_then(|o| o.district_code.as_deref()) == district.as_deref()
                };
                if district.is_none()
                    || in_district(&view.organisation)
                    || in_district(&view.candidate_org)
                {
                    views_.push(view);
                }
            }
        }
        Err(e) => problem = Some(ApiError::from(e).message),
    }
    render_page(
        "Review",
        &caller,
        "review",
        "review.html",
        minijinja::context! {
            done => rq.done,
            district,
            districts => views::district_options(),
            items => views_,
            problem,
            reviewer => caller.role >= Role::Reviewer,
        },
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct CompareQuery {
    a: Option<String>,
    b: Option<String>,
    source: Option<String>,
}

/// Two organisations' golden records side by side (the two records of a decision or a
/// review item), attribute by attribute, with the decisions about them.
pub async fn compare(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(cq): Query<CompareQuery>,
) -> Page {
    let ids: Vec<String> = [cq.a.clone(), cq.b.clone()]
        .into_iter()
        .flatten()
        .filter(|x| !x.is_empty())
        .collect();
    if ids.is_empty() {
        return fail(
            &caller,
            ApiError::not_found("which organisations? (a=, b=)"),
        );
    }
    let mut problems = Vec::new();
    let mut histories = Vec::new();
    for id in &ids {
        let path = format!("/api/v1/cooperatives/{}", actions::encode(id));
        match state.upstream.get(Service::Reconciler, &path, &[]).await {
            Ok(v) => histories.push((id.clone(), for_caller(&caller, v))),
            Err(e) => problems.push(format!("{id}: {}", ApiError::from(e).message)),
        }
    }
    let mut columns = Vec::new();
    let mut flat = Vec::new();
    for (id, h) in &histories {
        let g = field(h, &["record"]).unwrap_or(h);
        columns.push(serde_json::json!({
            "id": id,
            "title": ftext(g, &["name"]),
        }));
        let mut values = g.clone();
        if let Value::Object(m) = &mut values {
            m.remove("attribute_sources");
        }
        flat.push(flatten(&values));
    }
    let mut keys: Vec<String> = Vec::new();
    for rows in &flat {
        for (k, _) in rows {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    let rows: Vec<Value> = keys
        .iter()
        .map(|k| {
            let values: Vec<String> = flat
                .iter()
                .map(|rows| {
                    rows.iter()
                        .find(|(rk, _)| rk == k)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect();
            let differs = values.len() > 1 && values.iter().any(|v| *v != values[0]);
            serde_json::json!({ "key": k, "values": values, "differs": differs })
        })
        .collect();
    let mut decisions: Vec<Value> = Vec::new();
    let mut seen = BTreeSet::new();
    for (_, h) in &histories {
        for d in items(h, &["decisions"]) {
            if seen.insert(ftext(d, &["decision_id"])) {
                decisions.push(serde_json::json!({
                    "at_utc": ftext(d, &["at"]),
                    "at": views::vn_time(&ftext(d, &["at"])),
                    "outcome": views::outcome_label(&ftext(d, &["outcome"])),
                    "source": views::source_text(d.get("source")),
                    "rule": ftext(d, &["rule"]),
                    "operator": ftext(d, &["operator"]),
                    "note": ftext(d, &["note", "reason"]),
                }));
            }
        }
    }
    decisions.sort_by(|x, y| y["at_utc"].as_str().cmp(&x["at_utc"].as_str()));
    decisions.truncate(50);
    render_page(
        "Side by side",
        &caller,
        "log",
        "compare.html",
        minijinja::context! {
            source => cq.source,
            columns,
            rows,
            decisions,
            problems,
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    reason: String,
}

pub async fn review_decide(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((id, decision)): Path<(String, String)>,
    Form(f): Form<ReasonForm>,
) -> Page {
    let decision: ReviewDecision = match decision.parse() {
        Ok(d) => d,
        Err(e) => return fail(&caller, e),
    };
    match actions::review(&state, &caller, &id, decision, &f.reason).await {
        Ok(_) => Redirect::to(&format!(
            "/review?done={}",
            actions::encode(&format!("Item {id}: {}", decision.as_str()))
        ))
        .into_response(),
        Err(e) => fail(&caller, e),
    }
}

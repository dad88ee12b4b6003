//! The pages' handlers: each asks [`crate::api`]'s helpers, [`crate::actions`] or
//! [`crate::upstream`] and renders with [`super::html`]. Personal data reaches the page only
//! through [`crate::api::for_caller`] (masked for viewers).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::PageCaller;
use super::html::{
    TargetLine, chart, error_page, esc, field, fmt_num, ftext, items, kv_table, page, side_by_side,
    text,
};
use super::views;
use crate::actions::{self, ApiError, ReviewDecision};
use crate::api::{ConnectInfoAddr, Login, for_caller, login as api_login, pipeline_status};
use crate::audit::AuditQuery;
use crate::auth::{self, Caller, Role, SessionKind};
use crate::guard::AlreadyAudited;
use crate::state::Shared;
use crate::upstream::Service;

type Page = Response;

fn fail(caller: &Caller, e: ApiError) -> Response {
    error_page(e.status, Some(caller), &e.message)
}

/// An upstream problem shown inside a page rather than instead of it.
fn problem(e: &ApiError) -> String {
    format!("<div class=\"error\">{}</div>", esc(&e.message))
}

fn notice(done: &Option<String>) -> String {
    done.as_ref()
        .map(|d| format!("<div class=\"notice\" id=\"notice\">{}</div>", esc(d)))
        .unwrap_or_default()
}

#[derive(Debug, Deserialize, Default)]
pub struct Next {
    next: Option<String>,
    error: Option<String>,
}

/// Only a same-site absolute path: never redirect elsewhere after login. Browsers drop tabs
/// and line breaks from URLs and read `\\` as `/`, so `/\t/evil.example` or `/\\evil` would
/// become `//evil.example`, another site: anything but plain path characters is refused.
pub fn safe_next(next: Option<&str>) -> String {
    fn path_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/?#".contains(c)
    }
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 2000
                && n.chars().all(path_char) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub async fn login_form(Query(q): Query<Next>) -> Page {
    let body = views::render(
        "login.html",
        minijinja::context! {
            error => q.error.is_some(),
            next => safe_next(q.next.as_deref()),
        },
    );
    page("Log in", None, "", &body).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<Shared>,
    ConnectInfoAddr(addr): ConnectInfoAddr,
    Form(f): Form<LoginForm>,
) -> Page {
    let next = safe_next(f.next.as_deref());
    let creds = Login {
        username: f.username,
        password: f.password,
    };
    match api_login(&state, &creds, SessionKind::Cookie, addr).await {
        Ok((secret, _)) => {
            let cookie = auth::session_cookie_header(
                &secret,
                state.sessions.ttl(),
                state.config.cookie_secure,
            );
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let mut r = if e.error.status == StatusCode::UNAUTHORIZED {
                Redirect::to(&format!("/login?error=1&next={}", actions::encode(&next)))
                    .into_response()
            } else {
                error_page(e.error.status, None, &e.error.message)
            };
            if let Some(secs) = e.retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, secs.max(1).into());
            }
            r.extensions_mut().insert(AlreadyAudited);
            r
        }
    }
}

pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Page {
    if let Some(secret) = auth::session_cookie(&headers) {
        let _ = state.sessions.close(&secret).await;
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::clear_cookie_header(state.config.cookie_secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn yes_no(ok: bool, yes: &str, no: &str) -> String {
    if ok {
        format!("<span class=\"ok\">{yes}</span>")
    } else {
        format!("<span class=\"bad\">{no}</span>")
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "–".into())
}

pub async fn health(State(state): State<Shared>, PageCaller(caller): PageCaller) -> Page {
    let s = pipeline_status(&state).await;
    let mut b = String::from("<h1>Pipeline health <small>Tình trạng luồng dữ liệu</small></h1>");
    b.push_str("<h2>Sources <small>Nguồn dữ liệu</small></h2><p class=\"muted\">Last sync in Vietnam time (UTC+7); pages and records grow while a sync runs (this page refreshes every 5 s).</p><table id=\"sources\" data-refresh=\"5\"><tr><th>source</th><th>ready</th><th>last sync (UTC+7)</th><th>lag</th><th>errors</th><th>pages</th><th>records read</th><th>published</th><th>problem</th></tr>");
    if s.sources.is_empty() {
        b.push_str(
            "<tr><td colspan=\"9\" class=\"muted\">no adapter configured (ADAPTER_URLS)</td></tr>",
        );
    }
    for src in &s.sources {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&src.system),
            yes_no(src.ready, "ready", "not ready"),
            src.last_sync
                .map(views::vn)
                .unwrap_or_else(|| "never".into()),
            src.lag_seconds
                .map(|l| format!("{} s", fmt_num(l)))
                .unwrap_or_else(|| "–".into()),
            opt_num(src.errors),
            opt_num(src.pages_committed),
            opt_num(src.records_read),
            opt_num(src.records_published),
            esc(src.problem.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table><h2>Services <small>Dịch vụ</small></h2><table id=\"services\"><tr><th>service</th><th>ready</th><th>components</th><th>problem</th></tr>");
    for svc in &s.services {
        let flags: Vec<String> = svc
            .flags
            .iter()
            .map(|(k, v)| format!("{k}: {}", if *v { "up" } else { "down" }))
            .collect();
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&svc.name),
            yes_no(svc.ready, "ready", "not ready"),
            esc(&flags.join(", ")),
            esc(svc.problem.as_deref().unwrap_or("")),
        );
    }
    b.push_str("</table><h2>Queues <small>Hàng đợi</small></h2><table id=\"queues\"><tr><th>queue</th><th>depth</th><th>dead letters</th><th>problem</th></tr>");
    for q in &s.queues {
        let dead = match q.dead_letters {
            Some(0) => "<span class=\"ok\">0</span>".to_owned(),
            Some(n) => format!("<a class=\"bad\" href=\"/dlq#{0}\">{n}</a>", esc(&q.queue)),
            None => "–".into(),
        };
        let _ = write!(
            b,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{dead}</td><td>{}</td></tr>",
            esc(&q.queue),
            q.depth.map(|d| d.to_string()).unwrap_or_else(|| "–".into()),
            esc(q.problem.as_deref().unwrap_or("")),
        );
    }
    let _ = write!(
        b,
        "</table><p class=\"muted\">as of {}</p>",
        s.at.to_rfc3339()
    );
    page("Pipeline", Some(&caller), "health", &b).into_response()
}

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
    let body = views::render(
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
    );
    page("Log", Some(&caller), "log", &body).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    done: Option<String>,
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
    let body = views::render(
        "review.html",
        minijinja::context! {
            done => rq.done,
            district,
            districts => views::district_options(),
            items => views_,
            problem,
            reviewer => caller.role >= Role::Reviewer,
        },
    );
    page("Review", Some(&caller), "review", &body).into_response()
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
        flat.push(super::html::flatten(&values));
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
    let body = views::render(
        "compare.html",
        minijinja::context! {
            source => cq.source,
            columns,
            rows,
            decisions,
            problems,
        },
    );
    page("Side by side", Some(&caller), "log", &body).into_response()
}

/// The provincial report, printable (A4 landscape): the indicators service renders it
/// (auto-escaped), the console puts it in its layout and stylesheet.
pub async fn report(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(iq): Query<IndicatorQuery>,
) -> Page {
    let units = iq.units.clone().filter(|u| !u.is_empty());
    let mut q = vec![
        ("format".to_owned(), "html".to_owned()),
        ("fragment".to_owned(), "true".to_owned()),
    ];
    if let Some(u) = &units {
        q.push(("units".to_owned(), u.clone()));
    }
    let (report, problem) = match state
        .upstream
        .get_raw(Service::Indicators, "/api/v1/snapshots/latest/export", &q)
        .await
    {
        Ok(raw) if raw.status.is_success() => {
            (String::from_utf8_lossy(&raw.body).into_owned(), None)
        }
        Ok(raw) => (
            String::new(),
            Some(format!(
                "indicators answered {}: {}",
                raw.status,
                String::from_utf8_lossy(&raw.body)
            )),
        ),
        Err(e) => (String::new(), Some(ApiError::from(e).message)),
    };
    let body = views::render(
        "report.html",
        minijinja::context! { report, problem, units => units.unwrap_or_default() },
    );
    page("Report", Some(&caller), "indicators", &body).into_response()
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

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    cursor: Option<String>,
    commune_code: Option<String>,
    district_code: Option<String>,
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
    let mut b = String::from("<h1>Cooperatives <small>Hợp tác xã</small></h1>");
    match state
        .upstream
        .get(Service::Reconciler, "/api/v1/cooperatives", &query)
        .await
    {
        Ok(v) => {
            let v = for_caller(&caller, v);
            let list = items(&v, &["items", "cooperatives", "records", "data"]);
            b.push_str("<table id=\"cooperatives\"><tr><th>name</th><th>registration code</th><th>commune</th><th>kind</th><th>representative</th><th>source records</th></tr>");
            for r in &list {
                let rec = field(r, &["record", "golden_record"]).unwrap_or(r);
                let id = ftext(rec, &["organisation_id", "id"]);
                let refs = field(rec, &["source_refs"])
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default();
                let rep = rec
                    .get("representative")
                    .map(|p| ftext(p, &["full_name"]))
                    .unwrap_or_default();
                let _ = write!(
                    b,
                    "<tr><td><a href=\"/cooperatives/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&actions::encode(&id)),
                    esc(&ftext(rec, &["name"])),
                    esc(&ftext(rec, &["registration_code"])),
                    esc(&ftext(rec, &["commune_code"])),
                    esc(&ftext(rec, &["kind"])),
                    esc(&rep),
                    esc(&refs),
                );
            }
            b.push_str("</table>");
            if let Some(next) = field(&v, &["next_cursor"]).and_then(Value::as_str) {
                let _ = write!(
                    b,
                    "<a id=\"next\" href=\"/cooperatives?cursor={}\">next →</a>",
                    esc(&actions::encode(next))
                );
            }
        }
        Err(e) => b.push_str(&problem(&e.into())),
    }
    page("Cooperatives", Some(&caller), "cooperatives", &b).into_response()
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
    let mut b = format!(
        "<h1>{} <small>golden record · bản ghi hợp nhất</small></h1><p class=\"muted\">{} · version {}</p>",
        esc(&ftext(golden, &["name"])),
        esc(&ftext(golden, &["organisation_id"])),
        esc(&ftext(golden, &["version"])),
    );
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
    b.push_str("<h2>Golden record and its source records <small>side by side · bản ghi nguồn</small></h2><div id=\"side-by-side\">");
    b.push_str(&side_by_side(&columns));
    b.push_str("</div>");
    let history = items(&v, &["history", "decisions", "log"]);
    b.push_str("<h2>History <small>Lịch sử</small></h2><table id=\"history\"><tr><th>at</th><th>outcome</th><th>source record</th><th>rule</th><th>operator</th><th>reason</th><th>version</th></tr>");
    for h in history {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&ftext(h, &["at", "updated_at"])),
            esc(&ftext(h, &["outcome", "change", "kind"])),
            esc(&ftext(h, &["source"])),
            esc(&ftext(h, &["rule"])),
            esc(&ftext(h, &["operator", "decided_by"])),
            esc(&ftext(h, &["reason", "note"])),
            esc(&ftext(h, &["version"])),
        );
    }
    b.push_str("</table>");
    if caller.role >= Role::Reviewer {
        let _ = write!(
            b,
            "<h2>Operator decisions <small>Gộp · Tách</small></h2>\
             <form class=\"inline\" method=\"post\" action=\"/cooperatives/{0}/merge\">\
             <input type=\"text\" name=\"other\" placeholder=\"organisation id to merge into this one\" size=\"40\" required>\
             <input type=\"text\" name=\"reason\" placeholder=\"reason · lý do\" required>\
             <button type=\"submit\" name=\"merge\">Merge · Gộp</button></form>",
            esc(&actions::encode(&id))
        );
    }
    page("Cooperative", Some(&caller), "cooperatives", &b).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct IndicatorQuery {
    units: Option<String>,
    unit: Option<String>,
}

fn target_cell(v: &Value, key: &str) -> String {
    let Some(t) = v.get(key).filter(|t| !t.is_null()) else {
        return "<td class=\"muted\">–</td>".into();
    };
    let target = &t["target"];
    let unit = if ftext(target, &["unit"]) == "percent" {
        " %"
    } else {
        ""
    };
    let status = ftext(t, &["status"]);
    let class = match status.as_str() {
        "met" => "ok",
        "behind" => "bad",
        _ => "muted",
    };
    format!(
        "<td>{} {}{unit} <span class=\"{class}\">{}</span></td>",
        esc(&ftext(target, &["comparison"])),
        esc(&ftext(target, &["value"])),
        esc(&status.replace('_', " "))
    )
}

pub async fn indicators(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(iq): Query<IndicatorQuery>,
) -> Page {
    let mut b = String::from("<h1>Indicators <small>Chỉ tiêu kế hoạch</small></h1>");
    let mut q = Vec::new();
    if let Some(u) = iq.units.as_ref().filter(|u| !u.is_empty()) {
        q.push(("units".to_owned(), u.clone()));
    }
    let (plan, snapshot) = futures::join!(
        state.upstream.get(Service::Indicators, "/api/v1/plan", &[]),
        state
            .upstream
            .get(Service::Indicators, "/api/v1/snapshots/latest", &q),
    );
    let (plan, snapshot) = match (plan, snapshot) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => {
            b.push_str(&problem(&e.into()));
            return page("Indicators", Some(&caller), "indicators", &b).into_response();
        }
    };
    let units = items(&snapshot, &["units"]);
    let province = ftext(&snapshot, &["province_code"]);
    let unit_code = iq.unit.clone().unwrap_or(province);
    let Some(unit) = units
        .iter()
        .find(|u| ftext(u, &["unit_code"]) == unit_code)
        .copied()
    else {
        return fail(
            &caller,
            ApiError::not_found(format!("no unit {unit_code} in this snapshot")),
        );
    };
    let list = ftext(&snapshot, &["unit_list"]);
    let _ = write!(
        b,
        "<p>{} · <b>{}</b> · snapshot v{} as of {} · unit list {}</p>",
        esc(&ftext(&plan, &["name_vi", "name"])),
        esc(&ftext(unit, &["unit_name"])),
        esc(&ftext(&snapshot, &["version"])),
        esc(&ftext(&snapshot, &["as_of"])),
        esc(&list),
    );
    let _ = write!(
        b,
        "<form class=\"inline\" method=\"get\" action=\"/indicators\"><input type=\"hidden\" name=\"units\" value=\"{}\"><select name=\"unit\" id=\"unit\">",
        esc(&list)
    );
    for u in &units {
        let code = ftext(u, &["unit_code"]);
        let indent = match ftext(u, &["level"]).as_str() {
            "district" => "  ",
            "commune" => "    ",
            _ => "",
        };
        let _ = write!(
            b,
            "<option value=\"{0}\"{1}>{indent}{2} ({0})</option>",
            esc(&code),
            if code == unit_code { " selected" } else { "" },
            esc(&ftext(u, &["unit_name"])),
        );
    }
    b.push_str("</select><button type=\"submit\">Show</button></form>");
    let _ = write!(
        b,
        " <a href=\"/api/v1/snapshots/latest/export?format=csv&amp;lang=vi&amp;units={0}\">CSV (vi)</a> · \
         <a href=\"/api/v1/snapshots/latest/export?format=xlsx&amp;lang=vi&amp;units={0}\">XLSX (vi)</a> · \
         <a id=\"report-link\" href=\"/indicators/report?units={0}\">Report · Báo cáo (A4)</a>",
        esc(&actions::encode(&list))
    );
    let values = items(unit, &["values"]);
    let names: Vec<&Value> = items(&plan, &["indicators"]);
    let histories = futures::future::join_all(values.iter().map(|v| {
        let id = ftext(v, &["indicator"]);
        let query = vec![
            ("unit".to_owned(), unit_code.clone()),
            ("units".to_owned(), list.clone()),
        ];
        let upstream = state.upstream.clone();
        async move {
            upstream
                .get(
                    Service::Indicators,
                    &format!("/api/v1/indicators/{}/history", actions::encode(&id)),
                    &query,
                )
                .await
                .ok()
        }
    }))
    .await;
    b.push_str("<div class=\"grid\" id=\"indicators\">");
    for (v, history) in values.iter().zip(histories) {
        let id = ftext(v, &["indicator"]);
        let def = names.iter().find(|n| ftext(n, &["id"]) == id);
        let name = def
            .map(|d| ftext(d, &["name_vi", "name"]))
            .unwrap_or_default();
        let percent = ftext(v, &["unit"]) == "percent";
        let value = field(v, &["value"])
            .and_then(Value::as_f64)
            .map(|x| format!("{}{}", fmt_num(x), if percent { " %" } else { "" }))
            .unwrap_or_else(|| ftext(v, &["status"]).replace('_', " "));
        let _ = write!(
            b,
            "<div class=\"card indicator\" data-indicator=\"{0}\"><h2>{0} <small>{1}</small></h2>\
             <table><tr><th>value</th><th>2025 target</th><th>2030 target</th></tr><tr><td class=\"num\"><b>{2}</b></td>{3}{4}</tr></table>",
            esc(&id),
            esc(&name),
            esc(&value),
            target_cell(v, "target_2025"),
            target_cell(v, "target_2030"),
        );
        let points: Vec<(String, Option<f64>)> = history
            .as_ref()
            .map(|h| {
                items(h, &["history"])
                    .into_iter()
                    .map(|p| {
                        (
                            ftext(p, &["as_of"]),
                            p.get("value")
                                .and_then(|x| x.get("value"))
                                .and_then(Value::as_f64),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        // targets in the value's own unit only (I3's 2030 target is a count)
        let targets: Vec<TargetLine> = ["target_2025", "target_2030"]
            .iter()
            .filter_map(|k| v.get(*k).filter(|t| !t.is_null()))
            .filter(|t| ftext(&t["target"], &["unit"]) == ftext(v, &["unit"]))
            .filter_map(|t| {
                Some(TargetLine {
                    label: ftext(&t["target"], &["year"]),
                    value: t["target"]["value"].as_f64()?,
                })
            })
            .collect();
        b.push_str(&chart(&format!("{id} over time"), &points, &targets));
        b.push_str("</div>");
    }
    b.push_str("</div>");
    page("Indicators", Some(&caller), "indicators", &b).into_response()
}

pub async fn dlq(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(d): Query<Done>,
) -> Page {
    let mut b = format!(
        "<h1>Dead letters <small>Thông điệp lỗi</small></h1>{}",
        notice(&d.done)
    );
    for queue in &state.config.dlq_queues {
        let _ = write!(b, "<h2 id=\"{0}\">{0}</h2>", esc(queue));
        match actions::dead_letters(&state, &caller, queue, 50).await {
            Ok(letters) if letters.is_empty() => {
                b.push_str("<p class=\"muted\">No dead letters.</p>");
            }
            Ok(letters) => {
                b.push_str("<table class=\"dead-letters\"><tr><th>message</th><th>contract</th><th>kind</th><th>reason</th><th>dead at</th><th>attempts</th></tr>");
                for l in letters {
                    let mid = l.message_id.clone().unwrap_or_default();
                    let _ = write!(
                        b,
                        "<tr><td><a href=\"/dlq/{}/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
                        esc(&actions::encode(queue)),
                        esc(&actions::encode(&mid)),
                        esc(&mid),
                        esc(l.contract_type.as_deref().unwrap_or("")),
                        esc(&l.kind),
                        esc(&l.reason),
                        esc(l.dead_at.as_deref().unwrap_or("")),
                        l.attempts.map(|a| a.to_string()).unwrap_or_default(),
                    );
                }
                b.push_str("</table>");
            }
            Err(e) => b.push_str(&problem(&e)),
        }
    }
    page("Dead letters", Some(&caller), "dlq", &b).into_response()
}

pub async fn dlq_show(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((queue, id)): Path<(String, String)>,
) -> Page {
    let l = match actions::dead_letter(&state, &caller, &queue, &id).await {
        Ok(l) => l,
        Err(e) => return fail(&caller, e),
    };
    let mut b = format!(
        "<h1>Dead letter <small>{}</small></h1><table><tr><th>queue</th><td>{}</td></tr><tr><th>contract</th><td>{}</td></tr><tr><th>kind</th><td>{}</td></tr><tr><th>reason</th><td id=\"reason\">{}</td></tr><tr><th>dead at</th><td>{}</td></tr></table>",
        esc(&id),
        esc(&l.queue),
        esc(l.contract_type.as_deref().unwrap_or("")),
        esc(&l.kind),
        esc(&l.reason),
        esc(l.dead_at.as_deref().unwrap_or("")),
    );
    if caller.role >= Role::Admin {
        for (action, label, class) in [
            ("replay", "Replay", ""),
            ("discard", "Discard", " class=\"danger\""),
        ] {
            let _ = write!(
                b,
                "<form class=\"inline\" method=\"post\" action=\"/dlq/{}/{}/{action}\"><button type=\"submit\" name=\"{action}\"{class}>{label}</button></form>",
                esc(&actions::encode(&queue)),
                esc(&actions::encode(&id)),
            );
        }
    } else {
        b.push_str("<p class=\"muted\">Admins replay or discard dead letters.</p>");
    }
    let headers = serde_json::to_value(&l.headers).unwrap_or_default();
    b.push_str("<h2>Headers</h2>");
    b.push_str(&kv_table(&headers));
    let body = serde_json::from_str::<Value>(&l.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(l.body);
    let _ = write!(b, "<h2>Body</h2><pre id=\"body\">{}</pre>", esc(&body));
    page("Dead letter", Some(&caller), "dlq", &b).into_response()
}

pub async fn dlq_action(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Path((queue, id, action)): Path<(String, String, String)>,
) -> Page {
    let replay = match action.as_str() {
        "replay" => true,
        "discard" => false,
        _ => return fail(&caller, ApiError::not_found("replay or discard")),
    };
    match actions::dead_letter_action(&state, &caller, &queue, &id, replay).await {
        Ok(_) => Redirect::to(&format!(
            "/dlq?done={}",
            actions::encode(&format!("{action}: {queue}/{id}"))
        ))
        .into_response(),
        Err(e) => fail(&caller, e),
    }
}

/// The file sources the console can upload to: the configured adapters that are file sources.
const FILE_SOURCES: [&str; 1] = ["farmers-union"];

fn upload_form_html(state: &Shared) -> String {
    let mut options = String::new();
    for (system, _) in state.upstream.adapters() {
        if FILE_SOURCES.contains(&system.as_str()) {
            let _ = write!(options, "<option value=\"{0}\">{0}</option>", esc(system));
        }
    }
    if options.is_empty() {
        return "<p class=\"muted\">No file source in ADAPTER_URLS.</p>".into();
    }
    format!(
        "<form method=\"post\" action=\"/upload\" enctype=\"multipart/form-data\" id=\"upload-form\">\
         <label>Source <select name=\"system\">{options}</select></label> \
         <label>Workbook (.xlsx) or CSV file <input type=\"file\" name=\"file\" accept=\".xlsx,.csv\" required></label> \
         <button type=\"submit\">Upload</button></form>"
    )
}

/// An upload's report: outcome, counts, and each rejected row with sheet, row, column, reason.
fn report_html(r: &Value) -> String {
    let text = |k: &str| r[k].as_str().map(str::to_owned).unwrap_or_default();
    let num = |k: &str| r[k].as_u64().unwrap_or(0);
    let outcome = text("outcome");
    let class = if outcome == "refused" {
        "error"
    } else {
        "notice"
    };
    let mut b = format!(
        "<div class=\"{class}\" id=\"upload-report\">Upload {} <b>{}</b>: sender {}, report date {}, SHA-256 {}. \
         {} rows read: {} taken ({} published, {} unchanged), {} retracted, {} rejected.{}</div>",
        num("upload_id"),
        esc(&outcome),
        esc(&text("sender")),
        esc(&text("report_date")),
        esc(&text("file_hash")),
        num("rows_read"),
        num("taken"),
        num("published"),
        num("unchanged"),
        num("retracted"),
        r["rejected"].as_array().map_or(0, Vec::len),
        r["reason"]
            .as_str()
            .map(|x| format!(" {}", esc(x)))
            .unwrap_or_default(),
    );
    if let Some(rows) = r["rejected"].as_array().filter(|a| !a.is_empty()) {
        b.push_str("<table class=\"rejected\"><tr><th>sheet</th><th>row</th><th>column</th><th>reason</th></tr>");
        for e in rows {
            let _ = write!(
                b,
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(e["sheet"].as_str().unwrap_or("")),
                e["row"].as_u64().unwrap_or(0),
                esc(e["column"].as_str().unwrap_or("")),
                esc(e["reason"].as_str().unwrap_or("")),
            );
        }
        b.push_str("</table>");
    }
    b
}

const UPLOAD_TITLE: &str = "<h1>Upload <small>Tải tệp lên</small></h1>";

/// `GET /upload`: the form (reviewer, admin; a viewer is refused 403).
pub async fn upload_form(State(state): State<Shared>, PageCaller(caller): PageCaller) -> Page {
    if let Err(e) = caller.require(Role::Reviewer) {
        return fail(&caller, e.into());
    }
    let body = format!("{UPLOAD_TITLE}{}", upload_form_html(&state));
    page("Upload", Some(&caller), "upload", &body).into_response()
}

/// `POST /upload` (multipart: `system`, `file`): uploads through [`actions::upload`] and shows
/// the adapter's report at once.
pub async fn upload(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    mut form: axum::extract::Multipart,
) -> Page {
    if let Err(e) = caller.require(Role::Reviewer) {
        return fail(&caller, e.into());
    }
    let (mut system, mut file) = (None, None);
    loop {
        match form.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("system") => system = field.text().await.ok(),
                Some("file") => {
                    let name = field.file_name().unwrap_or("").to_owned();
                    match field.bytes().await {
                        Ok(b) => file = Some((name, b.to_vec())),
                        Err(e) => {
                            return fail(
                                &caller,
                                ApiError::new(StatusCode::BAD_REQUEST, e.body_text()),
                            );
                        }
                    }
                }
                _ => {}
            },
            Ok(None) => break,
            Err(e) => return fail(&caller, ApiError::new(e.status(), e.body_text())),
        }
    }
    let (Some(system), Some((name, bytes))) = (system, file) else {
        return fail(
            &caller,
            ApiError::new(StatusCode::BAD_REQUEST, "choose a source and a file"),
        );
    };
    let mut b = String::from(UPLOAD_TITLE);
    match actions::upload(&state, &caller, &system, &name, bytes).await {
        Ok(report) => b.push_str(&report_html(&report)),
        Err(e) if e.status == StatusCode::FORBIDDEN => return fail(&caller, e),
        Err(e) => b.push_str(&problem(&e)),
    }
    b.push_str(&upload_form_html(&state));
    page("Upload", Some(&caller), "upload", &b).into_response()
}

pub async fn audit(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(q): Query<AuditQuery>,
) -> Page {
    let (entries, problem) = match state.audit.list(&q).await {
        Ok(entries) => (
            entries
                .into_iter()
                .map(|e| {
                    let class = if e.outcome == "ok" {
                        "ok"
                    } else if e.outcome.starts_with("failed") || e.outcome == "refused" {
                        "bad"
                    } else {
                        "muted"
                    };
                    serde_json::json!({
                        "at": views::vn(e.at),
                        "at_utc": e.at.to_rfc3339(),
                        "actor": e.actor,
                        "role": e.role,
                        "action": e.action,
                        "target": e.target,
                        "outcome": e.outcome,
                        "class": class,
                        "detail": e.detail.0.to_string(),
                    })
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(ApiError::from(e).message)),
    };
    let body = views::render("audit.html", minijinja::context! { entries, problem });
    page("Audit", Some(&caller), "audit", &body).into_response()
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

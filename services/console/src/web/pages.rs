//! The pages' handlers: each asks [`crate::api`]'s helpers, [`crate::actions`] or
//! [`crate::upstream`] and renders with [`super::html`]. Personal data reaches the page only
//! through [`crate::api::for_caller`] (masked for viewers).

use std::fmt::Write as _;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;

use super::PageCaller;
use super::html::{
    TargetLine, chart, error_page, esc, field, fmt_num, ftext, items, kv_table, page, side_by_side,
    text,
};
use crate::actions::{self, ApiError, ReviewDecision};
use crate::api::{ConnectInfoAddr, Login, for_caller, login as api_login, pipeline_status};
use crate::audit::AuditQuery;
use crate::auth::{self, Caller, Role, SessionKind};
use crate::guard::AlreadyAudited;
use crate::service::Shared;
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
    let err = q
        .error
        .map(|_| "<div class=\"error\">Unknown user or wrong password.</div>".to_owned())
        .unwrap_or_default();
    let body = format!(
        "<div class=\"login card\"><h1>Log in <small>Đăng nhập</small></h1>{err}\
         <form method=\"post\" action=\"/login\">\
         <input type=\"hidden\" name=\"next\" value=\"{}\">\
         <label for=\"username\">User · Tên đăng nhập</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password · Mật khẩu</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <p><button type=\"submit\" id=\"login\">Log in</button></p></form></div>",
        esc(&safe_next(q.next.as_deref()))
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
    b.push_str("<h2>Sources <small>Nguồn dữ liệu</small></h2><table id=\"sources\"><tr><th>source</th><th>ready</th><th>last sync</th><th>lag</th><th>errors</th><th>published</th><th>problem</th></tr>");
    if s.sources.is_empty() {
        b.push_str(
            "<tr><td colspan=\"7\" class=\"muted\">no adapter configured (ADAPTER_URLS)</td></tr>",
        );
    }
    for src in &s.sources {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&src.system),
            yes_no(src.ready, "ready", "not ready"),
            src.last_sync
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "never".into()),
            src.lag_seconds
                .map(|l| format!("{} s", fmt_num(l)))
                .unwrap_or_else(|| "–".into()),
            opt_num(src.errors),
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

fn log_row(d: &Value) -> String {
    let score = field(d, &["score"])
        .and_then(Value::as_f64)
        .map(|s| format!("{s:.3}"))
        .unwrap_or_default();
    format!(
        "<tr data-decision=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{score}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        esc(&ftext(d, &["decision_id", "id"])),
        esc(&ftext(d, &["at"])),
        esc(&ftext(d, &["outcome"])),
        esc(&ftext(d, &["source"])),
        esc(&ftext(d, &["organisation_id"])),
        esc(&ftext(d, &["candidate_id"])),
        esc(&ftext(d, &["rule"])),
        esc(&ftext(d, &["operator"])),
        esc(&ftext(d, &["reason", "note"])),
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct LogFilter {
    organisation: Option<String>,
    system: Option<String>,
    source_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

impl LogFilter {
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
}

pub async fn log(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(f): Query<LogFilter>,
) -> Page {
    let q = f.query();
    let mut b = String::from(
        "<h1>Reconciliation log <small>Nhật ký đối soát</small> <span id=\"stream-status\" class=\"muted\">connecting…</span></h1>",
    );
    let _ = write!(
        b,
        "<form class=\"inline\" method=\"get\" action=\"/log\">\
         <input type=\"text\" name=\"organisation\" placeholder=\"organisation id\" value=\"{}\">\
         <input type=\"text\" name=\"system\" placeholder=\"system\" value=\"{}\">\
         <input type=\"text\" name=\"source_id\" placeholder=\"source id\" value=\"{}\">\
         <button type=\"submit\">Filter</button></form>",
        esc(f.organisation.as_deref().unwrap_or("")),
        esc(f.system.as_deref().unwrap_or("")),
        esc(f.source_id.as_deref().unwrap_or("")),
    );
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
    let _ = write!(
        b,
        "<table id=\"log\"><thead><tr><th>at</th><th>outcome</th><th>source record</th><th>organisation</th><th>candidate</th><th>score</th><th>rule</th><th>operator</th><th>reason</th></tr></thead><tbody data-stream=\"{}\">",
        esc(&stream)
    );
    match crate::api::latest_log(&state, &q, 200).await {
        Ok(entries) => {
            let v = for_caller(&caller, Value::Array(entries));
            let mut entries = items(&v, &[]);
            // newest first
            entries.reverse();
            for e in entries {
                b.push_str(&log_row(e));
            }
            b.push_str("</tbody></table>");
        }
        Err(e) => {
            b.push_str("</tbody></table>");
            b.push_str(&problem(&e));
        }
    }
    page("Log", Some(&caller), "log", &b).into_response()
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn item_id(item: &Value) -> String {
    ftext(item, &["id", "review_id", "item_id"])
}

/// The two sides of a review item, when it has them.
fn review_sides(item: &Value) -> Option<(String, &Value, String, &Value)> {
    let left_keys = ["observation", "source_record", "left", "record", "source"];
    let right_keys = [
        "candidate",
        "candidate_record",
        "right",
        "organisation",
        "golden_record",
    ];
    let (lk, left) = left_keys
        .iter()
        .find_map(|k| item.get(*k).filter(|v| v.is_object()).map(|v| (*k, v)))?;
    let (rk, right) = right_keys
        .iter()
        .find_map(|k| item.get(*k).filter(|v| v.is_object()).map(|v| (*k, v)))?;
    Some((lk.to_owned(), left, rk.to_owned(), right))
}

/// A reconciler review item: the observation and the candidate side by side, then the
/// features that drove the score.
fn review_pair(item: &Value) -> String {
    let mut t = String::from(
        "<table class=\"pair\"><tr><th></th><th>observation · bản ghi mới</th><th>candidate · ứng viên</th></tr>",
    );
    for (label, l, r) in [
        ("source record", "observation", "candidate"),
        ("name", "observation_name", "candidate_name"),
        ("organisation", "organisation_id", "candidate_id"),
    ] {
        let link = |k: &str| {
            let v = ftext(item, &[k]);
            if k.ends_with("_id") {
                format!("<a href=\"/cooperatives/{0}\">{0}</a>", esc(&v))
            } else {
                esc(&v)
            }
        };
        let _ = write!(
            t,
            "<tr><th>{label}</th><td>{}</td><td>{}</td></tr>",
            link(l),
            link(r)
        );
    }
    t.push_str("</table>");
    if let Some(Value::Object(f)) = item.get("features") {
        t.push_str("<table class=\"features\"><tr><th>feature</th><th>value</th></tr>");
        for (k, v) in f {
            let _ = write!(
                t,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                esc(k),
                v.as_f64()
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_else(|| text(v))
            );
        }
        t.push_str("</table>");
    }
    let _ = write!(
        t,
        "<p class=\"muted\">opened {} · rules {}</p>",
        esc(&ftext(item, &["created_at"])),
        esc(&ftext(item, &["rule_version"]))
    );
    t
}

pub async fn review(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(d): Query<Done>,
) -> Page {
    let mut b = format!(
        "<h1>Review queue <small>Hàng đợi rà soát</small></h1>{}",
        notice(&d.done)
    );
    match state
        .upstream
        .get(Service::Reconciler, "/api/v1/review", &[])
        .await
    {
        Ok(v) => {
            let v = for_caller(&caller, v);
            let list = items(&v, &["items", "review", "reviews", "data"]);
            if list.is_empty() {
                b.push_str("<p class=\"muted\" id=\"review-empty\">Nothing waits for review.</p>");
            }
            for item in list {
                let id = item_id(item);
                let score = field(item, &["score"])
                    .and_then(Value::as_f64)
                    .map(|s| format!(" · score {s:.3}"))
                    .unwrap_or_default();
                let _ = write!(
                    b,
                    "<div class=\"card review-item\" data-id=\"{0}\"><h2>Item {0}<small>{1}</small></h2>",
                    esc(&id),
                    esc(&score)
                );
                if item.get("observation_name").is_some() {
                    b.push_str(&review_pair(item));
                } else {
                    match review_sides(item) {
                        Some((lt, l, rt, r)) => b.push_str(&side_by_side(&[(lt, l), (rt, r)])),
                        None => b.push_str(&kv_table(item)),
                    }
                }
                if caller.role >= Role::Reviewer {
                    for (action, label, class) in [
                        ("link", "Link · Gộp", ""),
                        ("separate", "Separate · Tách", " class=\"secondary\""),
                    ] {
                        let _ = write!(
                            b,
                            "<form class=\"inline\" method=\"post\" action=\"/review/{id}/{action}\">\
                             <input type=\"text\" name=\"reason\" placeholder=\"reason · lý do\" required>\
                             <button type=\"submit\" name=\"{action}\"{class}>{label}</button></form>",
                            id = esc(&actions::encode(&id)),
                        );
                    }
                } else {
                    b.push_str("<p class=\"muted\">Reviewers decide these items.</p>");
                }
                b.push_str("</div>");
            }
        }
        Err(e) => b.push_str(&problem(&e.into())),
    }
    page("Review", Some(&caller), "review", &b).into_response()
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
         <a href=\"/api/v1/snapshots/latest/export?format=xlsx&amp;lang=vi&amp;units={0}\">XLSX (vi)</a>",
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

pub async fn audit(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(q): Query<AuditQuery>,
) -> Page {
    let mut b = String::from("<h1>Audit log <small>Nhật ký thao tác</small></h1>");
    match state.audit.list(&q).await {
        Ok(entries) => {
            b.push_str("<table id=\"audit\"><tr><th>at</th><th>who</th><th>role</th><th>action</th><th>target</th><th>outcome</th><th>detail</th></tr>");
            for e in entries {
                let class = if e.outcome == "ok" {
                    "ok"
                } else if e.outcome.starts_with("failed") || e.outcome == "refused" {
                    "bad"
                } else {
                    "muted"
                };
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{class}\">{}</td><td>{}</td></tr>",
                    e.at.to_rfc3339(),
                    esc(&e.actor),
                    esc(&e.role),
                    esc(&e.action),
                    esc(&e.target),
                    esc(&e.outcome),
                    esc(&e.detail.0.to_string()),
                );
            }
            b.push_str("</table>");
        }
        Err(e) => b.push_str(&problem(&e.into())),
    }
    page("Audit", Some(&caller), "audit", &b).into_response()
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

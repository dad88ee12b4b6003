//! Operating the pipeline: its health (sources with a running sync's pages and records,
//! services, queues), dead letters and what admins do with them, uploading a file source's
//! workbook, and the audit log. Typed views rendered by templates; no I/O but through
//! [`crate::api`]'s helpers, [`crate::actions`] and the audit log.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Page, fail, render_page};
use crate::actions::{self, ApiError};
use crate::api::pipeline_status;
use crate::audit::AuditQuery;
use crate::auth::Role;
use crate::health::{PipelineStatus, QueueHealth};
use crate::state::Shared;
use crate::web::PageCaller;
use crate::web::values::fmt_num;
use crate::web::views;

fn opt_num(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "–".into())
}

/// A source's row on the health page.
#[derive(Debug, Serialize)]
struct SourceRow {
    system: String,
    ready: bool,
    last_sync: String,
    lag: String,
    errors: String,
    pages: String,
    records_read: String,
    published: String,
    problem: String,
}

/// A service's row on the health page.
#[derive(Debug, Serialize)]
struct ServiceRow {
    name: String,
    ready: bool,
    components: String,
    problem: String,
}

/// The health page.
#[derive(Debug, Serialize)]
struct HealthView<'a> {
    sources: Vec<SourceRow>,
    services: Vec<ServiceRow>,
    queues: &'a [QueueHealth],
    at: String,
}

fn health_view(s: &PipelineStatus) -> HealthView<'_> {
    HealthView {
        sources: s
            .sources
            .iter()
            .map(|src| SourceRow {
                system: src.system.clone(),
                ready: src.ready,
                last_sync: src
                    .last_sync
                    .map(views::vn)
                    .unwrap_or_else(|| "never".into()),
                lag: src
                    .lag_seconds
                    .map(|l| format!("{} s", fmt_num(l)))
                    .unwrap_or_else(|| "–".into()),
                errors: opt_num(src.errors),
                pages: opt_num(src.pages_committed),
                records_read: opt_num(src.records_read),
                published: opt_num(src.records_published),
                problem: src.problem.clone().unwrap_or_default(),
            })
            .collect(),
        services: s
            .services
            .iter()
            .map(|svc| ServiceRow {
                name: svc.name.clone(),
                ready: svc.ready,
                components: svc
                    .flags
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", if *v { "up" } else { "down" }))
                    .collect::<Vec<_>>()
                    .join(", "),
                problem: svc.problem.clone().unwrap_or_default(),
            })
            .collect(),
        queues: &s.queues,
        at: s.at.to_rfc3339(),
    }
}

/// `GET /`: pipeline health; a running sync's pages and records grow as it goes (the page
/// refreshes itself).
pub async fn health(State(state): State<Shared>, PageCaller(caller): PageCaller) -> Page {
    let s = pipeline_status(&state).await;
    render_page(
        "Pipeline",
        &caller,
        "health",
        "health.html",
        health_view(&s),
    )
}

#[derive(Debug, Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

/// A queue's dead letters on the dead-letter page.
#[derive(Debug, Serialize)]
struct QueueLetters {
    queue: String,
    letters: Vec<hub_runtime::messaging::dlq::DeadLetter>,
    problem: Option<String>,
}

pub async fn dlq(
    State(state): State<Shared>,
    PageCaller(caller): PageCaller,
    Query(d): Query<Done>,
) -> Page {
    let mut queues = Vec::new();
    for queue in &state.config.dlq_queues {
        let (letters, problem) = match actions::dead_letters(&state, &caller, queue, 50).await {
            Ok(l) => (l, None),
            Err(e) => (Vec::new(), Some(e.message)),
        };
        queues.push(QueueLetters {
            queue: queue.clone(),
            letters,
            problem,
        });
    }
    render_page(
        "Dead letters",
        &caller,
        "dlq",
        "dlq.html",
        minijinja::context! { done => d.done, queues },
    )
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
    let body = serde_json::from_str::<Value>(&l.body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| l.body.clone());
    let headers: Vec<(String, String)> = l.headers.clone().into_iter().collect();
    render_page(
        "Dead letter",
        &caller,
        "dlq",
        "dead_letter.html",
        minijinja::context! {
            id, queue, l, headers, body,
            admin => caller.role >= Role::Admin,
        },
    )
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

/// A rejected row of an upload's report.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct RejectedRow {
    sheet: String,
    row: u64,
    column: String,
    reason: String,
}

/// An upload's report as the adapter answers it: outcome, counts, and each rejected row with
/// sheet, row, column, reason.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct UploadReport {
    upload_id: u64,
    outcome: String,
    sender: Option<String>,
    report_date: Option<String>,
    file_hash: String,
    rows_read: u64,
    taken: u64,
    published: u64,
    unchanged: u64,
    retracted: u64,
    rejected: Vec<RejectedRow>,
    reason: Option<String>,
}

/// The upload page.
#[derive(Debug, Serialize)]
struct UploadView {
    systems: Vec<String>,
    report: Option<UploadReport>,
    problem: Option<String>,
}

fn upload_view(
    state: &Shared,
    report: Option<UploadReport>,
    problem: Option<String>,
) -> UploadView {
    UploadView {
        // the registered file sources among the configured adapters
        systems: state.config.file_sources(),
        report,
        problem,
    }
}

/// `GET /upload`: the form (reviewer, admin; a viewer is refused 403).
pub async fn upload_form(State(state): State<Shared>, PageCaller(caller): PageCaller) -> Page {
    if let Err(e) = caller.require(Role::Reviewer) {
        return fail(&caller, e.into());
    }
    render_page(
        "Upload",
        &caller,
        "upload",
        "upload.html",
        upload_view(&state, None, None),
    )
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
    let view = match actions::upload(&state, &caller, &system, &name, bytes).await {
        Ok(report) => upload_view(
            &state,
            Some(serde_json::from_value(report).unwrap_or_default()),
            None,
        ),
        Err(e) if e.status == StatusCode::FORBIDDEN => return fail(&caller, e),
        Err(e) => upload_view(&state, None, Some(e.message)),
    };
    render_page("Upload", &caller, "upload", "upload.html", view)
}

/// A row of the audit page.
#[derive(Debug, Serialize)]
struct AuditRow {
    at: String,
    at_utc: String,
    actor: String,
    role: String,
    action: String,
    target: String,
    outcome: String,
    class: &'static str,
    detail: String,
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
                .map(|e| AuditRow {
                    class: if e.outcome == "ok" {
                        "ok"
                    } else if e.outcome.starts_with("failed") || e.outcome == "refused" {
                        "bad"
                    } else {
                        "muted"
                    },
                    at: views::vn(e.at),
                    at_utc: e.at.to_rfc3339(),
                    actor: e.actor,
                    role: e.role,
                    action: e.action,
                    target: e.target,
                    outcome: e.outcome,
                    detail: e.detail.0.to_string(),
                })
                .collect::<Vec<_>>(),
            None,
        ),
        Err(e) => (Vec::new(), Some(ApiError::from(e).message)),
    };
    render_page(
        "Audit",
        &caller,
        "audit",
        "audit.html",
        minijinja::context! { entries, problem },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::Utc;
    use hub_runtime::messaging::dlq::DeadLetter;

    use super::super::escaping::{SCRIPT, assert_escaped, body};
    use super::*;
    use crate::health::{ServiceHealth, SourceHealth};

    #[test]
    fn the_health_page_escapes_sources_services_and_queues() {
        let s = PipelineStatus {
            at: Utc::now(),
            sources: vec![SourceHealth {
                system: SCRIPT.into(),
                url: "http://127.0.0.1:1".into(),
                ready: true,
                flags: BTreeMap::new(),
                last_sync: None,
                lag_seconds: Some(3.0),
                errors: None,
                records_published: Some(10.0),
                pages_committed: Some(2.0),
                records_read: Some(12.0),
                problem: Some(SCRIPT.into()),
            }],
            services: vec![ServiceHealth {
                name: SCRIPT.into(),
                url: None,
                ready: false,
                flags: BTreeMap::from([(SCRIPT.to_owned(), true)]),
                problem: None,
            }],
            queues: vec![QueueHealth {
                queue: SCRIPT.into(),
                depth: Some(1),
                dead_letters: Some(2),
                problem: None,
            }],
        };
        let page = body("health.html", health_view(&s));
        assert_escaped(&page);
        // a running sync's pages and records
        assert!(
            page.contains("<td class=\"num\">2</td><td class=\"num\">12</td>"),
            "{page}"
        );
        assert!(
            page.contains("<span class=\"bad\">not ready</span>"),
            "{page}"
        );
    }

    fn letter() -> DeadLetter {
        DeadLetter {
            message_id: Some(SCRIPT.into()),
            contract_type: Some(SCRIPT.into()),
            kind: SCRIPT.into(),
            reason: SCRIPT.into(),
            queue: SCRIPT.into(),
            dead_at: None,
            attempts: Some(3),
            headers: BTreeMap::from([(SCRIPT.to_owned(), SCRIPT.to_owned())]),
            body: SCRIPT.into(),
        }
    }

    #[test]
    fn the_dead_letter_pages_escape_what_a_message_carries() {
        let queues = vec![QueueLetters {
            queue: SCRIPT.into(),
            letters: vec![letter()],
            problem: None,
        }];
        let page = body("dlq.html", minijinja::context! { done => SCRIPT, queues });
        assert_escaped(&page);
        assert!(page.contains("href=\"/dlq/%3Cscript%3E"), "{page}");
        let l = letter();
        let headers: Vec<(String, String)> = l.headers.clone().into_iter().collect();
        let page = body(
            "dead_letter.html",
            minijinja::context! {
                id => SCRIPT, queue => SCRIPT, body => l.body.clone(), l, headers, admin => true,
            },
        );
        assert_escaped(&page);
        assert!(page.contains("name=\"discard\" class=\"danger\""), "{page}");
    }

    #[test]
    fn the_upload_page_escapes_the_report() {
        let report = UploadReport {
            upload_id: 7,
            outcome: "taken".into(),
            sender: Some(SCRIPT.into()),
            rejected: vec![RejectedRow {
                sheet: SCRIPT.into(),
                row: 4,
                column: "C".into(),
                reason: SCRIPT.into(),
            }],
            ..UploadReport::default()
        };
        let page = body(
            "upload.html",
            UploadView {
                systems: vec![SCRIPT.into()],
                report: Some(report),
                problem: Some(SCRIPT.into()),
            },
        );
        assert_escaped(&page);
        assert!(
            page.contains("id=\"upload-report\"") && page.contains("1 rejected"),
            "{page}"
        );
    }

    #[test]
    fn the_audit_page_escapes_entries() {
        let entries = vec![AuditRow {
            at: "01/07/2025 00:05:09".into(),
            at_utc: "2025-06-30T17:05:09Z".into(),
            actor: SCRIPT.into(),
            role: "admin".into(),
            action: SCRIPT.into(),
            target: SCRIPT.into(),
            outcome: "ok".into(),
            class: "ok",
            detail: SCRIPT.into(),
        }];
        let page = body(
            "audit.html",
            minijinja::context! { entries, problem => Option::<String>::None },
        );
        assert_escaped(&page);
    }
}

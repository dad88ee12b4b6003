//! The operator API's routes as aide lists them, and its OpenAPI 3.1 document: the routes
//! of [`super::router`] with their summaries, answers and path parameters, the security
//! (bearer token or session cookie; none for the login), `GET /api/v1/openapi.json` for a
//! viewer. Owns the description only; the handlers are [`super`]'s.

use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use aide::transform::{TransformOpenApi, TransformOperation};
use axum::Json;
use hub_runtime::openapi as oa;
use serde_json::Value;

use super::*;

/// The operator API's routes and their OpenAPI 3.1 document
/// (`contracts/openapi/hub-console.json`).
pub fn openapi() -> oa::Finished<Shared> {
    oa::finish_served_by(
        routes,
        oa::ApiInfo {
            title: "hub-console",
            description: "The operator API, used by the `hub` CLI and the console's pages. \
                Every route but POST /api/v1/auth/token needs a bearer token (from that route) \
                or the session cookie, and a role (viewer, reviewer, admin: 403 otherwise). \
                Answers proxied from the reconciler and the indicators are theirs (see their \
                documents), personal data masked for viewers.",
        },
        console_security,
        |slot| {
            get_with(
                move |_caller: Caller| {
                    let slot = slot.clone();
                    async move { Json(slot.get().map(|d| (**d).clone()).unwrap_or_default()) }
                },
                |op| op.summary("This document (OpenAPI 3.1)"),
            )
        },
    )
}

const BEARER: &str = "bearerToken";
const SESSION: &str = "sessionCookie";

fn console_security(t: TransformOpenApi<'_>) -> TransformOpenApi<'_> {
    use aide::openapi::{ApiKeyLocation, SecurityScheme};
    t.security_scheme(
        BEARER,
        SecurityScheme::Http {
            scheme: "bearer".into(),
            bearer_format: None,
            description: Some("A token from POST /api/v1/auth/token (the CLI).".into()),
            extensions: Default::default(),
        },
    )
    .security_scheme(
        SESSION,
        SecurityScheme::ApiKey {
            location: ApiKeyLocation::Cookie,
            name: crate::auth::COOKIE_NAME.into(),
            description: Some("The session of a console login (the pages).".into()),
            extensions: Default::default(),
        },
    )
    .security_requirement(BEARER)
    .security_requirement(SESSION)
}

/// A JSON answer whose shape is described in words (proxied or assembled answers).
fn json_answer<'a>(op: TransformOperation<'a>, what: &str) -> TransformOperation<'a> {
    op.response_with::<200, Json<Value>, _>(|r| r.description(what))
}

fn routes() -> ApiRouter<Shared> {
    session_and_source_routes()
        .merge(reconciler_routes())
        .merge(dlq_and_audit_routes())
        .merge(indicator_routes())
}

/// Sessions, pipeline status and the sources.
fn session_and_source_routes() -> ApiRouter<Shared> {
    let p = oa::path_param;
    let upload_limit = axum::extract::DefaultBodyLimit::max(actions::MAX_UPLOAD_BYTES);
    ApiRouter::new()
        .api_route(
            "/api/v1/auth/token",
            post_with(token, |op| {
                let mut op = json_answer(
                    op.summary("A bearer token for the CLI"),
                    "{token, user, role, expires_at}",
                );
                // the one route without a credential
                op.inner_mut().security = vec![Default::default()];
                oa::media_answer(
                    op,
                    429,
                    &["application/json"],
                    "Too many failed logins (Retry-After)",
                )
            }),
        )
        .api_route(
            "/api/v1/auth/logout",
            post_with(logout, |op| {
                oa::media_answer(
                    op.summary("Revoke the token or session used"),
                    204,
                    &[],
                    "Revoked",
                )
            }),
        )
        .api_route(
            "/api/v1/whoami",
            get_with(whoami, |op| {
                json_answer(op.summary("The caller"), "{name, role, kind, expires_at}")
            }),
        )
        .api_route(
            "/api/v1/status",
            get_with(status, |op| {
                json_answer(
                    op.summary("Pipeline health"),
                    "Sources, services, queue depths, dead letters",
                )
            }),
        )
        .api_route(
            "/api/v1/sources",
            get_with(sources, |op| {
                json_answer(
                    op.summary("Each adapter's readiness, last sync, lag, errors"),
                    "{sources: [...]}",
                )
            }),
        )
        .api_route(
            "/api/v1/sources/{system}/sync",
            post_with(sync, |op| {
                json_answer(
                    p(
                        op.summary("Ask an adapter to sync now (admin)"),
                        "system",
                        "the source system",
                    ),
                    "What the adapter answered",
                )
            }),
        )
        .api_route(
            "/api/v1/sources/{system}/upload",
            post_with(upload, |op| {
                let op = json_answer(
                    p(
                        op.summary("Upload a file to a file source (reviewer)"),
                        "system",
                        "the source system",
                    ),
                    "The upload's report",
                );
                oa::media_answer(
                    op,
                    422,
                    &["application/json"],
                    "Refused; the report says why",
                )
            })
            .layer(upload_limit),
        )
}

/// The reconciler's routes, proxied.
fn reconciler_routes() -> ApiRouter<Shared> {
    let p = oa::path_param;
    ApiRouter::new()
        .api_route(
            "/api/v1/review",
            get_with(review_list, |op| {
                json_answer(
                    op.summary("The review queue (the reconciler's, masked for viewers)"),
                    "The reconciler's page of review items",
                )
            }),
        )
        .api_route(
            "/api/v1/review/{id}/{decision}",
            post_with(review_decide, |op| {
                let op = p(
                    op.summary("Decide a review item (reviewer)"),
                    "id",
                    "review id",
                );
                json_answer(
                    p(op, "decision", "`link` or `separate`"),
                    "The reconciler's action result",
                )
            }),
        )
        .api_route(
            "/api/v1/cooperatives",
            get_with(cooperatives, |op| {
                json_answer(
                    op.summary("Golden records (the reconciler's, masked for viewers)"),
                    "The reconciler's page of golden records",
                )
            }),
        )
        .api_route(
            "/api/v1/cooperatives/merge",
            post_with(merge, |op| {
                json_answer(
                    op.summary("Merge organisations (reviewer)"),
                    "The reconciler's action result",
                )
            }),
        )
        .api_route(
            "/api/v1/cooperatives/{id}",
            get_with(cooperative, |op| {
                json_answer(
                    p(
                        op.summary("One golden record with its history"),
                        "id",
                        "organisation id",
                    ),
                    "The reconciler's answer",
                )
            }),
        )
        .api_route(
            "/api/v1/cooperatives/{id}/split",
            post_with(split, |op| {
                json_answer(
                    p(
                        op.summary("Split an organisation (reviewer)"),
                        "id",
                        "organisation id",
                    ),
                    "The reconciler's action result",
                )
            }),
        )
        .api_route(
            "/api/v1/log",
            get_with(log, |op| {
                json_answer(
                    op.summary("The reconciliation log (latest 200, or the reconciler's page)"),
                    "{items, next_cursor}",
                )
            }),
        )
        .api_route(
            "/api/v1/log/stream",
            get_with(log_stream, |op| {
                oa::media_answer(
                    op.summary("The reconciliation log live"),
                    200,
                    &["text/event-stream"],
                    "The reconciler's stream, relayed",
                )
            }),
        )
}

/// Dead letters and the audit log.
fn dlq_and_audit_routes() -> ApiRouter<Shared> {
    let p = oa::path_param;
    ApiRouter::new()
        .api_route(
            "/api/v1/dlq",
            get_with(dlq_queues, |op| {
                json_answer(
                    op.summary("Dead-letter queues and their depths"),
                    "{queues: [...]}",
                )
            }),
        )
        .api_route(
            "/api/v1/dlq/{queue}",
            get_with(dlq_list, |op| {
                json_answer(
                    p(op.summary("A queue's dead letters"), "queue", "the queue"),
                    "{queue, dead_letters}",
                )
            }),
        )
        .api_route(
            "/api/v1/dlq/{queue}/{id}",
            get_with(dlq_show, |op| {
                json_answer(
                    p(
                        p(op.summary("One dead letter"), "queue", "the queue"),
                        "id",
                        "message id",
                    ),
                    "The dead letter",
                )
            }),
        )
        .api_route(
            "/api/v1/dlq/{queue}/{id}/{action}",
            post_with(dlq_action, |op| {
                let op = p(
                    p(
                        op.summary("Replay or discard a dead letter (admin)"),
                        "queue",
                        "the queue",
                    ),
                    "id",
                    "message id",
                );
                json_answer(
                    p(op, "action", "`replay` or `discard`"),
                    "{action, dead_letter}",
                )
            }),
        )
        .api_route(
            "/api/v1/audit",
            get_with(audit, |op| {
                json_answer(op.summary("The audit log"), "{entries: [...]}")
            }),
        )
        .api_route(
            "/api/v1/audit/export",
            get_with(audit_export, |op| {
                json_answer(
                    op.summary("The audit log's rows as stored, with their hashes"),
                    "{rows, next_after}",
                )
            }),
        )
        .api_route(
            "/api/v1/audit/verify",
            get_with(audit_verify, |op| {
                json_answer(
                    op.summary("The console's check of the audit chain"),
                    "The verdict",
                )
            }),
        )
}

/// The indicators' routes, proxied.
fn indicator_routes() -> ApiRouter<Shared> {
    let p = oa::path_param;
    ApiRouter::new()
        .api_route(
            "/api/v1/plans",
            get_with(plans, |op| {
                json_answer(
                    op.summary("The plans (provinces) the indicators carry, the default first"),
                    "The plans: id, name, province",
                )
            }),
        )
        .api_route(
            "/api/v1/plan",
            get_with(plan, |op| {
                json_answer(
                    op.summary("A plan (the indicators'; `plan=<id>`)"),
                    "The plan",
                )
            }),
        )
        .api_route(
            "/api/v1/snapshots",
            post_with(recompute, |op| {
                json_answer(
                    op.summary("Recompute a snapshot (admin)"),
                    "What the indicators answered",
                )
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}",
            get_with(snapshot, |op| {
                json_answer(
                    p(
                        op.summary("A snapshot (the indicators')"),
                        "version",
                        "a version or `latest`",
                    ),
                    "indicator.snapshot.v1",
                )
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}/units/{code}",
            get_with(snapshot_unit, |op| {
                json_answer(
                    p(
                        p(
                            op.summary("One unit of a snapshot"),
                            "version",
                            "a version or `latest`",
                        ),
                        "code",
                        "the unit's code",
                    ),
                    "The indicators' answer",
                )
            }),
        )
        .api_route(
            "/api/v1/snapshots/{version}/export",
            get_with(export, |op| {
                oa::media_answer(
                    p(
                        op.summary("The provincial report (the indicators')"),
                        "version",
                        "a version or `latest`",
                    ),
                    200,
                    &[
                        "text/csv",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "text/html",
                    ],
                    "The report as a file",
                )
            }),
        )
        .api_route(
            "/api/v1/indicators/{id}/history",
            get_with(history, |op| {
                json_answer(
                    p(
                        op.summary("One indicator across versions"),
                        "id",
                        "the indicator's id",
                    ),
                    "The indicators' answer",
                )
            }),
        )
}

/// Callers authenticate with a bearer token or the session cookie (the document's security).
impl aide::OperationInput for Caller {}

impl aide::OperationInput for ConnectInfoAddr {}

/// Documented once for every operation: `{"error": "…"}`.
impl aide::OperationOutput for ApiError {
    type Inner = Self;
}

impl aide::OperationOutput for LoginRefused {
    type Inner = Self;
}

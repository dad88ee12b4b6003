//! The operator API (JSON), used by the `hub` CLI and the pages' scripts. Every route but
//! `POST /api/v1/auth/token` needs a bearer token or the session cookie (401 otherwise), and
//! the role in the third column (403 otherwise). Errors are `{"error": "…"}`.
//!
//! | route | what | role |
//! |---|---|---|
//! | `POST /api/v1/auth/token` `{username, password}` | a bearer token for the CLI (429 with `Retry-After` after too many failures for the name or the address) | — |
//! | `POST /api/v1/auth/logout` | revokes the token or session used | viewer |
//! | `GET /api/v1/whoami` | the caller | viewer |
//! | `GET /api/v1/status` | pipeline health: sources, services, queue depths, dead letters | viewer |
//! | `GET /api/v1/sources` | each adapter's readiness, last sync, lag, errors | viewer |
//! | `POST /api/v1/sources/{system}/sync` | ask an adapter to sync now | admin |
//! | `GET /api/v1/review` | the review queue (reconciler), personal data masked for viewers | viewer |
//! | `POST /api/v1/review/{id}/link\|separate` `{reason}` | decide a review item | reviewer |
//! | `GET /api/v1/cooperatives[/{id}]` | golden records (reconciler), masked for viewers | viewer |
//! | `POST /api/v1/cooperatives/merge`, `POST /api/v1/cooperatives/{id}/split` | reconciler requests, `reason` required | reviewer |
//! | `GET /api/v1/log?organisation=&system=&source_id=&since=&until=` | the latest 200 entries of the reconciliation log, oldest first (with `limit`/`cursor`: the reconciler's own paging) | viewer |
//! | `GET /api/v1/log/stream` | the log, live (server-sent events) | viewer |
//! | `GET /api/v1/dlq` | every `DLQ_QUEUES` queue with its depth and dead letters | viewer |
//! | `GET /api/v1/dlq/{queue}[?limit=]`, `GET /api/v1/dlq/{queue}/{message_id}` | dead letters with their reasons (bodies masked for viewers) | viewer |
//! | `POST /api/v1/dlq/{queue}/{message_id}/replay\|discard` | act on a dead letter | admin |
//! | `GET /api/v1/audit?actor=&action=&target=&limit=` | the audit log | viewer |
//! | `GET /api/v1/audit/export?after=&limit=` | the audit log's rows as stored, oldest first, with their hashes (`{rows, next_after}`), for `hub audit verify` and an agency's own copy | viewer |
//! | `GET /api/v1/audit/verify` | the console's own check of the chain (the CLI checks the export itself) | viewer |
//! | `GET /api/v1/plans`, `GET /api/v1/plan?plan=`, `GET /api/v1/snapshots/{version\|latest}[/units/{code}]`, `GET /api/v1/snapshots/{v}/export?format=&lang=`, `GET /api/v1/indicators/{id}/history?unit=` | indicators (proxied; each takes `plan=<id>`, default the first plan) | viewer |
//! | `POST /api/v1/snapshots?plan=&units=&as_of=` | recompute a snapshot | admin |
//! | `GET /api/v1/openapi.json` | this API's OpenAPI 3.1 document (`contracts/openapi/hub-console.json`) | viewer |
//!
//! Every action is recorded in the audit log by [`crate::actions`]. Owns request parsing and
//! responses only.

use std::net::IpAddr;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::actions::{self, ApiError, Reason, ReviewDecision};
use crate::audit::AuditQuery;
use crate::auth::{Caller, Role, SessionKind};
use crate::guard::{AlreadyAudited, client_addr};
use crate::health;
use crate::privacy::mask_personal;
use crate::state::{AppState, Shared};
use crate::upstream::Service;

type Api = Result<Response, ApiError>;
type Params = Query<Vec<(String, String)>>;

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, ApiError> {
        state
            .caller(&parts.headers)
            .await?
            .ok_or_else(ApiError::unauthenticated)
    }
}

/// The API's routes, with `GET /api/v1/openapi.json` (viewer).
pub fn router(state: Shared) -> Router {
    openapi().router.with_state(state)
}

mod doc;
pub use doc::openapi;

/// Credentials for a token.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Why a login was refused, with what the response needs.
#[derive(Debug)]
pub struct LoginRefused {
    pub error: ApiError,
    /// Seconds until a throttled name or address may try again (429).
    pub retry_after: Option<u64>,
}

impl From<ApiError> for LoginRefused {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl From<sqlx::Error> for LoginRefused {
    fn from(e: sqlx::Error) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for LoginRefused {
    fn into_response(self) -> Response {
        let mut r = self.error.into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, secs.max(1).into());
        }
        // the login path wrote its own audit entry
        r.extensions_mut().insert(AlreadyAudited);
        r
    }
}

/// Checks credentials, records the attempt, opens a session of `kind`.
///
/// A name or address with too many recent failures is refused (429) before the password is
/// looked at; otherwise the password is verified (argon2) on a blocking thread, at most
/// `LOGIN_CONCURRENCY` at once. Every attempt, refused or not, is written to the audit log.
pub async fn login(
    state: &AppState,
    login: &Login,
    kind: SessionKind,
    addr: Option<IpAddr>,
) -> Result<(String, Caller), LoginRefused> {
    let address = addr.map(|a| a.to_string());
    if let Err(t) = state.throttle.check(&login.username, addr) {
        let _ = state
            .audit
            .record(
                &login.username,
                "-",
                "login",
                "console",
                "refused: 429 throttled",
                json!({ "via": kind, "address": address, "throttled_by": t.by }),
            )
            .await;
        return Err(LoginRefused {
            error: ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many failed logins for this {}: try again in {} s",
                    t.by,
                    t.retry_after.as_secs().max(1)
                ),
            ),
            retry_after: Some(t.retry_after.as_secs()),
        });
    }
    let users = state.users.current().await;
    let user = {
        let _slot = state.password_slots.acquire().await.map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the console is stopping")
        })?;
        state.password_checks.inc();
        let (name, password) = (login.username.clone(), login.password.clone());
        tokio::task::spawn_blocking(move || users.verify(&name, &password).cloned())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "password verification panicked");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            })?
    };
    let Some(user) = user else {
        state.throttle.failed(&login.username, addr);
        let _ = state
            .audit
            .record(
                &login.username,
                "-",
                "login",
                "console",
                "refused: 401",
                json!({ "via": kind, "address": address }),
            )
            .await;
        return Err(
            ApiError::new(StatusCode::UNAUTHORIZED, "unknown user or wrong password").into(),
        );
    };
    state.throttle.succeeded(&user.name);
    let (secret, expires_at) = state.sessions.open(&user, kind).await?;
    let _ = state
        .audit
        .record(
            &user.name,
            user.role.as_str(),
            "login",
            "console",
            "ok",
            json!({ "via": kind, "address": address }),
        )
        .await;
    Ok((
        secret,
        Caller {
            name: user.name,
            role: user.role,
            kind,
            expires_at,
        },
    ))
}

async fn token(
    State(state): State<Shared>,
    ConnectInfoAddr(addr): ConnectInfoAddr,
    Json(body): Json<Login>,
) -> Result<Response, LoginRefused> {
    let (secret, caller) = login(&state, &body, SessionKind::Token, addr).await?;
    Ok(Json(json!({
        "token": secret,
        "user": caller.name,
        "role": caller.role,
        "expires_at": caller.expires_at,
    }))
    .into_response())
}

/// The client's address, if the server records it ([`crate::guard::client_addr`]).
pub struct ConnectInfoAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(&parts.extensions)))
    }
}

async fn logout(State(state): State<Shared>, _caller: Caller, headers: HeaderMap) -> Api {
    if let Some(secret) = crate::auth::credentials(&headers) {
        state.sessions.close(&secret).await?;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn whoami(caller: Caller) -> Api {
    Ok(Json(caller).into_response())
}

/// Pipeline health, as the pages and `hub status` show it.
pub async fn pipeline_status(state: &AppState) -> health::PipelineStatus {
    let services = [
        ("reconciler", state.config.reconciler_url.clone()),
        ("indicators", state.config.indicators_url.clone()),
    ];
    health::status(
        &state.upstream,
        &services,
        &state.broker,
        &state.config.dlq_queues,
    )
    .await
}

async fn status(State(state): State<Shared>, _caller: Caller) -> Api {
    Ok(Json(pipeline_status(&state).await).into_response())
}

async fn sources(State(state): State<Shared>, _caller: Caller) -> Api {
    let checks = futures::future::join_all(
        state
            .upstream
            .adapters()
            .iter()
            .map(|(s, u)| health::source_health(&state.upstream, s, u)),
    )
    .await;
    Ok(Json(json!({ "sources": checks })).into_response())
}

async fn sync(State(state): State<Shared>, caller: Caller, Path(system): Path<String>) -> Api {
    Ok(Json(actions::sync(&state, &caller, &system).await?).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct UploadQuery {
    file: String,
}

/// `POST /api/v1/sources/{system}/upload?file=NAME`: the file as the body (reviewer, admin).
async fn upload(
    State(state): State<Shared>,
    caller: Caller,
    Path(system): Path<String>,
    Query(q): Query<UploadQuery>,
    body: axum::body::Bytes,
) -> Api {
    let report = actions::upload(&state, &caller, &system, &q.file, body.to_vec()).await?;
    let status = if report["outcome"] == "refused" {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

/// Masks personal data for callers who may not see it.
pub fn for_caller(caller: &Caller, mut v: Value) -> Value {
    if !caller.role.sees_personal_data() {
        mask_personal(&mut v);
    }
    v
}

async fn review_list(State(state): State<Shared>, caller: Caller, Query(q): Params) -> Api {
    let v = state
        .upstream
        .get(Service::Reconciler, "/api/v1/review", &q)
        .await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

async fn review_decide(
    State(state): State<Shared>,
    caller: Caller,
    Path((id, decision)): Path<(String, String)>,
    Json(body): Json<Reason>,
) -> Api {
    let decision: ReviewDecision = decision.parse()?;
    let v = actions::review(&state, &caller, &id, decision, &body.reason).await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

async fn cooperatives(State(state): State<Shared>, caller: Caller, Query(q): Params) -> Api {
    let v = state
        .upstream
        .get(Service::Reconciler, "/api/v1/cooperatives", &q)
        .await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

async fn cooperative(State(state): State<Shared>, caller: Caller, Path(id): Path<String>) -> Api {
    let v = state
        .upstream
        .get(
            Service::Reconciler,
            &format!("/api/v1/cooperatives/{}", actions::encode(&id)),
            &[],
        )
        .await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

async fn merge(State(state): State<Shared>, caller: Caller, Json(body): Json<Value>) -> Api {
    let v = actions::merge(&state, &caller, body).await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

async fn split(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Api {
    let v = actions::split(&state, &caller, &id, body).await?;
    Ok(Json(for_caller(&caller, v)).into_response())
}

/// Pages of the reconciler's log followed at most this far for [`latest_log`].
const LOG_PAGES: usize = 20;

/// The latest `keep` entries of the reconciliation log matching `query`, oldest first. The
/// reconciler pages its log oldest first, so this follows its cursor (at most
/// [`LOG_PAGES`] pages of 500) and keeps the tail.
pub async fn latest_log(
    state: &AppState,
    query: &[(String, String)],
    keep: usize,
) -> Result<Vec<Value>, ApiError> {
    let mut entries: std::collections::VecDeque<Value> = Default::default();
    let mut cursor: Option<String> = None;
    for _ in 0..LOG_PAGES {
        let mut q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "cursor" && k != "limit")
            .cloned()
            .collect();
        q.push(("limit".into(), "500".into()));
        if let Some(c) = &cursor {
            q.push(("cursor".into(), c.clone()));
        }
        let page = state
            .upstream
            .get(Service::Reconciler, "/api/v1/log", &q)
            .await?;
        if let Some(items) = page.get("items").and_then(Value::as_array) {
            entries.extend(items.iter().cloned());
        }
        while entries.len() > keep {
            entries.pop_front();
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    Ok(entries.into())
}

/// With `limit` or `cursor`: the reconciler's page as it is; without: the latest 200 entries.
async fn log(State(state): State<Shared>, caller: Caller, Query(q): Params) -> Api {
    if q.iter().any(|(k, _)| k == "cursor" || k == "limit") {
        let v = state
            .upstream
            .get(Service::Reconciler, "/api/v1/log", &q)
            .await?;
        return Ok(Json(for_caller(&caller, v)).into_response());
    }
    let items = latest_log(&state, &q, 200).await?;
    Ok(Json(for_caller(
        &caller,
        json!({ "items": items, "next_cursor": null }),
    ))
    .into_response())
}

/// The reconciler's log stream, relayed as it comes (its entries are masked at the source:
/// `reconciliation.decision.v1` carries no personal data unmasked).
async fn log_stream(State(state): State<Shared>, _caller: Caller, Query(q): Params) -> Api {
    let upstream = state
        .upstream
        .stream(Service::Reconciler, "/api/v1/log/stream", &q)
        .await?;
    let stream = futures::stream::unfold(Some(upstream), |resp| async move {
        let mut resp = resp?;
        match resp.chunk().await {
            Ok(Some(bytes)) => Some((Ok::<_, std::io::Error>(bytes), Some(resp))),
            Ok(None) => None,
            Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn dlq_queues(State(state): State<Shared>, _caller: Caller) -> Api {
    let status = pipeline_status(&state).await;
    Ok(Json(json!({ "queues": status.queues })).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct Limit {
    limit: Option<usize>,
}

async fn dlq_list(
    State(state): State<Shared>,
    caller: Caller,
    Path(queue): Path<String>,
    Query(l): Query<Limit>,
) -> Api {
    let letters = actions::dead_letters(&state, &caller, &queue, l.limit.unwrap_or(100)).await?;
    Ok(Json(json!({ "queue": queue, "dead_letters": letters })).into_response())
}

async fn dlq_show(
    State(state): State<Shared>,
    caller: Caller,
    Path((queue, id)): Path<(String, String)>,
) -> Api {
    Ok(Json(actions::dead_letter(&state, &caller, &queue, &id).await?).into_response())
}

async fn dlq_action(
    State(state): State<Shared>,
    caller: Caller,
    Path((queue, id, action)): Path<(String, String, String)>,
) -> Api {
    let replay = match action.as_str() {
        "replay" => true,
        "discard" => false,
        other => {
            return Err(ApiError::not_found(format!(
                "no dead-letter action {other:?}: replay or discard"
            )));
        }
    };
    let letter = actions::dead_letter_action(&state, &caller, &queue, &id, replay).await?;
    Ok(Json(json!({ "action": action, "dead_letter": letter })).into_response())
}

async fn audit(State(state): State<Shared>, caller: Caller, Query(q): Query<AuditQuery>) -> Api {
    caller.require(Role::Viewer)?;
    Ok(Json(json!({ "entries": state.audit.list(&q).await? })).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct ExportQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

async fn audit_export(
    State(state): State<Shared>,
    caller: Caller,
    Query(q): Query<ExportQuery>,
) -> Api {
    caller.require(Role::Viewer)?;
    let limit = q.limit.unwrap_or(5_000).clamp(1, 10_000);
    let rows = state
        .audit
        .export(q.after.unwrap_or(i64::MIN), limit)
        .await?;
    let next_after = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    Ok(Json(json!({ "rows": rows, "next_after": next_after })).into_response())
}

async fn audit_verify(State(state): State<Shared>, caller: Caller) -> Api {
    caller.require(Role::Viewer)?;
    Ok(Json(state.audit.verify().await?).into_response())
}

/// Which plan (province) to read: an id of `GET /api/v1/plans` (default: the indicators'
/// first).
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct PlanQuery {
    plan: Option<String>,
}

impl PlanQuery {
    fn upstream(&self) -> Vec<(String, String)> {
        self.plan
            .iter()
            .map(|p| ("plan".to_owned(), p.clone()))
            .collect()
    }
}

async fn plans(State(state): State<Shared>, _caller: Caller) -> Api {
    Ok(Json(
        state
            .upstream
            .get(Service::Indicators, "/api/v1/plans", &[])
            .await?,
    )
    .into_response())
}

async fn plan(State(state): State<Shared>, _caller: Caller, Query(q): Query<PlanQuery>) -> Api {
    Ok(Json(
        state
            .upstream
            .get(Service::Indicators, "/api/v1/plan", &q.upstream())
            .await?,
    )
    .into_response())
}

async fn snapshot(
    State(state): State<Shared>,
    _caller: Caller,
    Path(version): Path<String>,
    Query(q): Params,
) -> Api {
    let path = format!("/api/v1/snapshots/{}", actions::encode(&version));
    Ok(Json(state.upstream.get(Service::Indicators, &path, &q).await?).into_response())
}

async fn snapshot_unit(
    State(state): State<Shared>,
    _caller: Caller,
    Path((version, code)): Path<(String, String)>,
    Query(q): Params,
) -> Api {
    let path = format!(
        "/api/v1/snapshots/{}/units/{}",
        actions::encode(&version),
        actions::encode(&code)
    );
    Ok(Json(state.upstream.get(Service::Indicators, &path, &q).await?).into_response())
}

async fn export(
    State(state): State<Shared>,
    _caller: Caller,
    Path(version): Path<String>,
    Query(q): Params,
) -> Api {
    let path = format!("/api/v1/snapshots/{}/export", actions::encode(&version));
    let raw = state
        .upstream
        .get_raw(Service::Indicators, &path, &q)
        .await?;
    let mut resp = (raw.status, raw.body).into_response();
    for (name, value) in [
        (header::CONTENT_TYPE, raw.content_type),
        (header::CONTENT_DISPOSITION, raw.content_disposition),
    ] {
        if let Some(v) = value.and_then(|v| v.parse().ok()) {
            resp.headers_mut().insert(name, v);
        }
    }
    Ok(resp)
}

async fn history(
    State(state): State<Shared>,
    _caller: Caller,
    Path(id): Path<String>,
    Query(q): Params,
) -> Api {
    let path = format!("/api/v1/indicators/{}/history", actions::encode(&id));
    Ok(Json(state.upstream.get(Service::Indicators, &path, &q).await?).into_response())
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct RecomputeQuery {
    /// The plan (province) to recompute (default: the indicators' first).
    plan: Option<String>,
    units: Option<String>,
    as_of: Option<String>,
}

async fn recompute(
    State(state): State<Shared>,
    caller: Caller,
    Query(q): Query<RecomputeQuery>,
) -> Api {
    Ok(Json(actions::recompute(&state, &caller, q.plan, q.units, q.as_of).await?).into_response())
}

//! The reconciler's HTTP API (merged into the runtime's server with `/healthz`, `/readyz`,
//! `/metrics`):
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/cooperatives` | golden records, paginated (`limit`, `cursor`), filters `commune_code`, `district_code`, `kind`, `in_registry`, `include_retired` |
//! | `GET /api/v1/cooperatives/{id}` | one golden record with its versions, merges/splits and decisions |
//! | `POST /api/v1/cooperatives/merge` | `{reason, organisation_ids, survivor?}` |
//! | `POST /api/v1/cooperatives/{id}/split` | `{reason, parts: [[{system, id}]]}` |
//! | `GET /api/v1/review` | review items (`status`, default `open`; `limit`, `cursor`) |
//! | `POST /api/v1/review/{id}/link` | `{reason}` |
//! | `POST /api/v1/review/{id}/separate` | `{reason}` |
//! | `GET /api/v1/log` | decisions, filters `organisation`, `system`, `source_id`, `since`, `until` (RFC 3339); `limit`, `cursor` |
//! | `GET /api/v1/log/stream` | decisions live, as Server-Sent Events (`event: decision`) |
//! | `GET /api/v1/status` | whether the identities are settled, and the engine's counts |
//! | `GET /api/v1/openapi.json` | this API's OpenAPI 3.1 document (`contracts/openapi/hub-reconciler.json`) |
//!
//! Every route needs the service credential (`Authorization: Bearer <token>`, one of
//! `SERVICE_TOKENS`; 401 otherwise): [`router`] is wrapped by
//! [`hub_runtime::service_auth::require_service_credential`], which also turns the
//! `X-Hub-Operator` header (set by the console from its authenticated session) into an
//! [`AuthenticatedOperator`]. `/healthz`, `/readyz` and `/metrics` are outside and stay open.
//!
//! Reads come from the database (what is committed), on any replica; changes go through
//! [`Shared::apply`] on the active replica only (a standby answers 421 naming it, see
//! `service::active`). Who acts: only the authenticated operator, never a name in the body
//! (see [`actor`]; an action without one is refused with 401). Owns request and response
//! shapes only.

use std::convert::Infallible;
use std::sync::Arc;

use aide::UseApi;
use aide::axum::ApiRouter;
use aide::axum::routing::{get_with, post_with};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use hub_contracts::v1::{GoldenRecord, ReconciliationDecision, SourceRef};
use hub_runtime::openapi::{self as oa, ApiInfo, EventStream};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::{EngineError, ReviewItem, ReviewStatus};
use crate::service::{ApplyError, Cause, Shared};
use crate::store::{self, CooperativeFilter, LogFilter, StoreError};

/// The operator the console vouched for with the service credential.
pub use hub_runtime::service_auth::AuthenticatedOperator;

/// An API error: a status and `{"error": "…"}`; a standby's refusal also names the active
/// replica (`active_replica` in the body, header `X-Hub-Active-Replica`).
#[derive(Debug)]
pub struct ApiError(StatusCode, String, Option<String>);

/// The header naming the active replica in a standby's refusal.
pub const ACTIVE_REPLICA_HEADER: &str = "x-hub-active-replica";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.2 {
            None => (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response(),
            Some(url) => {
                let body = Json(serde_json::json!({ "error": self.1, "active_replica": url }));
                let mut r = (self.0, body).into_response();
                if let Ok(v) = axum::http::HeaderValue::from_str(&url) {
                    r.headers_mut().insert(ACTIVE_REPLICA_HEADER, v);
                }
                r
            }
        }
    }
}

/// Operator writes go to the active replica: a standby refuses them with 421 Misdirected
/// Request naming where the active one is reached (503 while none is), so that the caller
/// sends them there and the standby's engine is never rebuilt for a write.
async fn only_active(s: &Shared) -> Result<(), ApiError> {
    if s.replica.is_active() {
        return Ok(());
    }
    match crate::service::active_url(&s.db).await {
        Ok(Some(url)) => Err(ApiError(
            StatusCode::MISDIRECTED_REQUEST,
            format!("this replica is a standby: send operator writes to the active one, {url}"),
            Some(url),
        )),
        Ok(None) => Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no replica is active yet: try again shortly".into(),
            None,
        )),
        Err(e) => Err(StoreError::Sql(e).into()),
    }
}

/// Documented once for every operation: `{"error": "…"}` ([`oa::ErrorBody`]).
impl aide::OperationOutput for ApiError {
    type Inner = Self;
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store failed");
        ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error".into(),
            None,
        )
    }
}

impl From<ApplyError> for ApiError {
    fn from(e: ApplyError) -> Self {
        match e {
            ApplyError::Engine(e) => {
                let code = match &e {
                    EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
                    EngineError::AlreadyDecided(..)
                    | EngineError::Retired(..)
                    | EngineError::Conflict(_) => StatusCode::CONFLICT,
                    EngineError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError(code, e.to_string(), None)
            }
            ApplyError::Store(e) => e.into(),
            // prepared again several times, superseded each time: the client may try again
            ApplyError::Superseded(e) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string(), None)
            }
        }
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into(), None)
}

/// The reconciler's routes, with `GET /api/v1/openapi.json`.
pub fn router(shared: Arc<Shared>) -> Router {
    documented().router.with_state(shared)
}

/// The API's OpenAPI document (what `GET /api/v1/openapi.json` answers).
pub fn openapi() -> oa::Finished<Arc<Shared>> {
    documented()
}

const ABOUT: &str = "Golden records, the review queue and the reconciliation log. Every \
    route needs the service credential; an operator action also needs the X-Hub-Operator \
    header (the console's authenticated operator), never a name in the body.";

fn documented() -> oa::Finished<Arc<Shared>> {
    oa::finish(
        routes,
        ApiInfo {
            title: "hub-reconciler",
            description: ABOUT,
        },
        oa::service_credential,
    )
}

fn routes() -> ApiRouter<Arc<Shared>> {
    ApiRouter::new()
        .api_route(
            "/api/v1/cooperatives",
            get_with(list_cooperatives, |op| {
                op.summary("Golden records, paginated")
            }),
        )
        .api_route(
            "/api/v1/cooperatives/merge",
            post_with(merge, |op| op.summary("Merge organisations (operator)")),
        )
        .api_route(
            "/api/v1/cooperatives/{id}",
            get_with(cooperative, |op| {
                oa::path_param(
                    op.summary("One golden record with its history"),
                    "id",
                    "organisation id (UUID)",
                )
            }),
        )
        .api_route(
            "/api/v1/cooperatives/{id}/split",
            post_with(split, |op| {
                oa::path_param(
                    op.summary("Split an organisation (operator)"),
                    "id",
                    "organisation id (UUID)",
                )
            }),
        )
        .api_route(
            "/api/v1/review",
            get_with(list_reviews, |op| op.summary("Review items, paginated")),
        )
        .api_route(
            "/api/v1/review/{id}/link",
            post_with(link, |op| {
                oa::path_param(
                    op.summary("Decide: the same organisation (operator)"),
                    "id",
                    "review id (UUID)",
                )
            }),
        )
        .api_route(
            "/api/v1/review/{id}/separate",
            post_with(separate, |op| {
                oa::path_param(
                    op.summary("Decide: different organisations (operator)"),
                    "id",
                    "review id (UUID)",
                )
            }),
        )
        .api_route(
            "/api/v1/log",
            get_with(log, |op| op.summary("The reconciliation log, paginated")),
        )
        .api_route(
            "/api/v1/log/stream",
            get_with(
                |s: State<Arc<Shared>>| async move {
                    UseApi::<_, EventStream<ReconciliationDecision>>::from(log_stream(s).await)
                },
                |op| op.summary("The reconciliation log live (event: decision; event: lagged)"),
            ),
        )
        .api_route(
            "/api/v1/status",
            get_with(status, |op| op.summary("Settle state and counts")),
        )
}

/// `GET /api/v1/status`: whether the identities are settled (independent of the order the
/// records arrived in) and the engine's counts.
async fn status(State(shared): State<Arc<Shared>>) -> Json<crate::service::SettleStatus> {
    Json(shared.settle_status().await)
}

/// A page of items and the cursor of the next page (`null` on the last).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

fn limit(shared: &Shared, asked: Option<i64>) -> Result<i64, ApiError> {
    match asked {
        None => Ok(100.min(shared.max_page)),
        Some(n) if (1..=shared.max_page).contains(&n) => Ok(n),
        Some(n) => Err(bad(format!("limit {n}: expected 1..={}", shared.max_page))),
    }
}

fn uuid_cursor(c: Option<&str>) -> Result<Option<Uuid>, ApiError> {
    c.map(|c| Uuid::parse_str(c).map_err(|_| bad(format!("invalid cursor {c:?}"))))
        .transpose()
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CooperativeQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub commune_code: Option<String>,
    pub district_code: Option<String>,
    pub kind: Option<String>,
    pub in_registry: Option<bool>,
    #[serde(default)]
    pub include_retired: bool,
}

async fn list_cooperatives(
    State(s): State<Arc<Shared>>,
    Query(q): Query<CooperativeQuery>,
) -> Result<Json<Page<GoldenRecord>>, ApiError> {
    let n = limit(&s, q.limit)?;
    let f = CooperativeFilter {
        commune_code: q.commune_code,
        district_code: q.district_code,
        kind: q.kind,
        in_registry: q.in_registry,
        include_retired: q.include_retired,
    };
    let items =
        store::list_cooperatives(&s.db.pool, &f, uuid_cursor(q.cursor.as_deref())?, n).await?;
    let next_cursor = (items.len() as i64 == n)
        .then(|| items.last().map(|g| g.organisation_id.to_string()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

async fn cooperative(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<store::CooperativeHistory>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| bad(format!("invalid organisation id {id:?}")))?;
    store::cooperative(&s.db.pool, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no organisation {id}"), None))
}

/// Why an operator decides (who decides comes from the authenticated request, never from
/// here; an `operator` field in the body is ignored).
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
pub struct OperatorBody {
    pub reason: String,
}

/// The acting operator (the authenticated one; 401 without) and the reason.
pub fn actor(
    auth: Option<&AuthenticatedOperator>,
    body: &OperatorBody,
) -> Result<(String, String), ApiError> {
    let who = auth.map(|a| a.0.trim().to_owned()).ok_or_else(|| {
        ApiError(
            StatusCode::UNAUTHORIZED,
            "an operator action needs the X-Hub-Operator header of an authenticated caller".into(),
            None,
        )
    })?;
    if who.is_empty() || who.chars().count() > 200 {
        return Err(bad("operator: expected a name of 1 to 200 characters"));
    }
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 2000 {
        return Err(bad("reason: expected 1 to 2000 characters"));
    }
    Ok((who, reason))
}

/// Result of an operator action.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct ActionResult {
    /// Decisions logged by the action.
    pub decisions: Vec<ReconciliationDecision>,
    /// Organisations whose golden record changed.
    pub organisations: Vec<Uuid>,
    /// The review item after the action, for review actions.
    #[serde(default)]
    pub review: Option<ReviewItem>,
}

fn action_result(ch: crate::engine::Changes, review: Option<Uuid>) -> ActionResult {
    ActionResult {
        review: review.and_then(|id| ch.reviews.iter().rev().find(|r| r.review_id == id).cloned()),
        decisions: ch.decisions,
        organisations: ch.identities.into_iter().collect(),
    }
}

async fn review_action(
    s: Arc<Shared>,
    id: String,
    auth: Option<Extension<AuthenticatedOperator>>,
    body: OperatorBody,
    link: bool,
) -> Result<Json<ActionResult>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| bad(format!("invalid review id {id:?}")))?;
    let (who, reason) = actor(auth.as_ref().map(|e| &e.0), &body)?;
    only_active(&s).await?;
    let ch = s
        .apply_again_if_superseded(&Cause::default(), move |e, now| {
            let ch = if link {
                e.link_review(id, &who, &reason, now)?
            } else {
                e.separate_review(id, &who, &reason, now)?
            };
            Ok(ch)
        })
        .await?
        .unwrap_or_default();
    Ok(Json(action_result(ch, Some(id))))
}

async fn link(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    auth: Option<Extension<AuthenticatedOperator>>,
    Json(body): Json<OperatorBody>,
) -> Result<Json<ActionResult>, ApiError> {
    review_action(s, id, auth, body, true).await
}

async fn separate(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    auth: Option<Extension<AuthenticatedOperator>>,
    Json(body): Json<OperatorBody>,
) -> Result<Json<ActionResult>, ApiError> {
    review_action(s, id, auth, body, false).await
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct MergeBody {
    #[serde(flatten)]
    pub who: OperatorBody,
    pub organisation_ids: Vec<Uuid>,
    #[serde(default)]
    pub survivor: Option<Uuid>,
}

async fn merge(
    State(s): State<Arc<Shared>>,
    auth: Option<Extension<AuthenticatedOperator>>,
    Json(body): Json<MergeBody>,
) -> Result<Json<ActionResult>, ApiError> {
    let (who, reason) = actor(auth.as_ref().map(|e| &e.0), &body.who)?;
    only_active(&s).await?;
    let ids = body.organisation_ids;
    let survivor = body.survivor;
    let ch = s
        .apply_again_if_superseded(&Cause::default(), move |e, now| {
            e.merge(&ids, survivor, &who, &reason, now)
        })
        .await?
        .unwrap_or_default();
    Ok(Json(action_result(ch, None)))
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct SplitBody {
    #[serde(flatten)]
    pub who: OperatorBody,
    /// The records that leave, one list per new organisation.
    pub parts: Vec<Vec<SourceRef>>,
}

async fn split(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    auth: Option<Extension<AuthenticatedOperator>>,
    Json(body): Json<SplitBody>,
) -> Result<Json<ActionResult>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| bad(format!("invalid organisation id {id:?}")))?;
    let (who, reason) = actor(auth.as_ref().map(|e| &e.0), &body.who)?;
    only_active(&s).await?;
    let parts = body.parts;
    let ch = s
        .apply_again_if_superseded(&Cause::default(), move |e, now| {
            e.split(id, &parts, &who, &reason, now)
        })
        .await?
        .unwrap_or_default();
    Ok(Json(action_result(ch, None)))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReviewQuery {
    /// `open` (default), `linked`, `separated`, `superseded` or `all`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

async fn list_reviews(
    State(s): State<Arc<Shared>>,
    Query(q): Query<ReviewQuery>,
) -> Result<Json<Page<ReviewItem>>, ApiError> {
    let n = limit(&s, q.limit)?;
    let status = match q.status.as_deref() {
        None => Some(ReviewStatus::Open),
        Some("all") => None,
        Some(x) => Some(ReviewStatus::parse(x).ok_or_else(|| {
            bad(format!(
                "status {x:?}: expected open, linked, separated, superseded or all"
            ))
        })?),
    };
    let items =
        store::list_reviews(&s.db.pool, status, uuid_cursor(q.cursor.as_deref())?, n).await?;
    let next_cursor = (items.len() as i64 == n)
        .then(|| items.last().map(|r| r.review_id.to_string()))
        .flatten();
    Ok(Json(Page { items, next_cursor }))
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LogQuery {
    pub organisation: Option<Uuid>,
    pub system: Option<String>,
    pub source_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

async fn log(
    State(s): State<Arc<Shared>>,
    Query(q): Query<LogQuery>,
) -> Result<Json<Page<ReconciliationDecision>>, ApiError> {
    let n = limit(&s, q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad(format!("invalid cursor {c:?}")))
        })
        .transpose()?;
    let f = LogFilter {
        organisation: q.organisation,
        system: q.system,
        source_id: q.source_id,
        since: q.since,
        until: q.until,
    };
    let rows = store::query_log_seq(&s.db.pool, &f, after, n).await?;
    let next_cursor = (rows.len() as i64 == n)
        .then(|| rows.last().map(|(seq, _)| seq.to_string()))
        .flatten();
    Ok(Json(Page {
        items: rows.into_iter().map(|(_, d)| d).collect(),
        next_cursor,
    }))
}

async fn log_stream(
    State(s): State<Arc<Shared>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = s.decisions.subscribe();
    let stop = s.shutdown.clone();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        use tokio::sync::broadcast::error::RecvError;
        match rx.recv().await {
            Ok(d) => {
                let ev = Event::default()
                    .event("decision")
                    .id(d.decision_id.to_string())
                    .json_data(&d)
                    .unwrap_or_else(|_| Event::default().comment("unserialisable decision"));
                Some((Ok(ev), rx))
            }
            Err(RecvError::Lagged(n)) => {
                Some((Ok(Event::default().event("lagged").data(n.to_string())), rx))
            }
            Err(RecvError::Closed) => None,
        }
    })
    .take_until(async move { stop.cancelled().await });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

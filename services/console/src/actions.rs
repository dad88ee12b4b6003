//! Operator actions, shared by the pages and the operator API: each checks the caller's role,
//! records the action in the audit log *before* doing it (and refuses when it cannot), calls
//! the service or the broker that owns the data, then records the outcome.
//!
//! | action | role | carried out by |
//! |---|---|---|
//! | review link / separate | reviewer | reconciler `POST /api/v1/review/{id}/link\|separate` |
//! | merge / split | reviewer | reconciler `POST /api/v1/cooperatives/merge`, `…/{id}/split` |
//! | dead letter replay / discard | admin | the broker ([`hub_runtime::messaging::dlq::DeadLetters`]) |
//! | sync a source | admin | the adapter `POST /api/v1/sync` |
//! | recompute a snapshot | admin | indicators `POST /api/v1/snapshots` |
//!
//! Also [`ApiError`], the one error type of the console's handlers. Owns no data.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hub_runtime::messaging::MessagingError;
use hub_runtime::messaging::dlq::{DeadLetter, DeadLetters};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::{Caller, Refusal, Role};
use crate::privacy;
use crate::state::AppState;
use crate::upstream::{Service, UpstreamError};

/// A handler's error: a status and a message, answered as JSON `{"error": …}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication required: log in, or send Authorization: Bearer <token>",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"hub-console\""),
            );
        }
        r
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Unauthenticated => Self::unauthenticated(),
            Refusal::Forbidden { needed, has } => Self::new(
                StatusCode::FORBIDDEN,
                format!("this needs the {needed} role; you are {has}"),
            ),
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        Self::new(e.status(), e.to_string())
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        tracing::warn!(error = %e, "console database error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "console database unavailable",
        )
    }
}

impl From<MessagingError> for ApiError {
    fn from(e: MessagingError) -> Self {
        match e {
            MessagingError::NotFound { .. } => Self::not_found(e.to_string()),
            other => Self::new(StatusCode::BAD_GATEWAY, other.to_string()),
        }
    }
}

/// An operator's reason for a decision.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct Reason {
    pub reason: String,
}

fn check_reason(reason: &str) -> Result<(), ApiError> {
    if reason.trim().is_empty() {
        return Err(ApiError::bad_request("reason: required"));
    }
    if reason.chars().count() > 2000 {
        return Err(ApiError::bad_request("reason: at most 2000 characters"));
    }
    Ok(())
}

/// A review decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewDecision {
    Link,
    Separate,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Link => "link",
            ReviewDecision::Separate => "separate",
        }
    }
}

impl std::str::FromStr for ReviewDecision {
    type Err = ApiError;
    fn from_str(s: &str) -> Result<Self, ApiError> {
        match s {
            "link" => Ok(Self::Link),
            "separate" => Ok(Self::Separate),
            other => Err(ApiError::not_found(format!(
                "no review action {other:?}: link or separate"
            ))),
        }
    }
}

/// Runs `action` between an audit `begin` and `finish`.
async fn audited<T, F>(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: Value,
    run: F,
) -> Result<T, ApiError>
where
    F: std::future::Future<Output = Result<T, ApiError>>,
{
    let begun = state
        .audit
        .begin(caller, action, target, detail)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, action, "audit log unavailable: action refused");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the audit log cannot be written: action refused",
            )
        })?;
    let result = run.await;
    let outcome = match &result {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("failed: {} {}", e.status.as_u16(), e.message),
    };
    state.audit.finish(&begun, &outcome).await;
    result
}

/// Links or separates a review item.
pub async fn review(
    state: &AppState,
    caller: &Caller,
    item: &str,
    decision: ReviewDecision,
    reason: &str,
) -> Result<Value, ApiError> {
    caller.require(Role::Reviewer)?;
    check_reason(reason)?;
    let path = format!("/api/v1/review/{}/{}", encode(item), decision.as_str());
    let body = json!({ "reason": reason });
    audited(
        state,
        caller,
        &format!("review.{}", decision.as_str()),
        &format!("review:{item}"),
        json!({ "reason": reason }),
        async {
            Ok(state
                .upstream
                .post(Service::Reconciler, &path, &[], &body, &caller.name)
                .await?)
        },
    )
    .await
}

/// Merges organisations: `body` is the reconciler's merge request (the operator goes in the
/// authenticated header).
pub async fn merge(state: &AppState, caller: &Caller, mut body: Value) -> Result<Value, ApiError> {
    caller.require(Role::Reviewer)?;
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_reason(&reason)?;
    let Value::Object(map) = &mut body else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    // who acts travels in the authenticated X-Hub-Operator header, never in the body
    map.remove("operator");
    let detail = body.clone();
    audited(
        state,
        caller,
        "cooperative.merge",
        "cooperatives",
        detail,
        async {
            Ok(state
                .upstream
                .post(
                    Service::Reconciler,
                    "/api/v1/cooperatives/merge",
                    &[],
                    &body,
                    &caller.name,
                )
                .await?)
        },
    )
    .await
}

/// Splits an organisation: `body` is the reconciler's split request.
pub async fn split(
    state: &AppState,
    caller: &Caller,
    id: &str,
    mut body: Value,
) -> Result<Value, ApiError> {
    caller.require(Role::Reviewer)?;
    let reason = body
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    check_reason(&reason)?;
    let Value::Object(map) = &mut body else {
        return Err(ApiError::bad_request("expected a JSON object"));
    };
    // who acts travels in the authenticated X-Hub-Operator header, never in the body
    map.remove("operator");
    let path = format!("/api/v1/cooperatives/{}/split", encode(id));
    let detail = body.clone();
    audited(
        state,
        caller,
        "cooperative.split",
        &format!("cooperative:{id}"),
        detail,
        async {
            Ok(state
                .upstream
                .post(Service::Reconciler, &path, &[], &body, &caller.name)
                .await?)
        },
    )
    .await
}

fn known_queue(state: &AppState, queue: &str) -> Result<(), ApiError> {
    if state.knows_queue(queue) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "no queue {queue:?} in DLQ_QUEUES ({})",
            state.config.dlq_queues.join(", ")
        )))
    }
}

/// A dead letter as the caller may see it: bodies masked for viewers.
pub fn letter_for(caller: &Caller, mut letter: DeadLetter) -> DeadLetter {
    if !caller.role.sees_personal_data() {
        letter.body = privacy::mask_body(&letter.body);
    }
    letter
}

/// Dead letters of a queue (left in place), oldest first.
pub async fn dead_letters(
    state: &AppState,
    caller: &Caller,
    queue: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, ApiError> {
    caller.require(Role::Viewer)?;
    known_queue(state, queue)?;
    let letters = DeadLetters::new(state.broker.clone(), queue)
        .list(limit.clamp(1, 10_000))
        .await?;
    Ok(letters.into_iter().map(|l| letter_for(caller, l)).collect())
}

/// One dead letter.
pub async fn dead_letter(
    state: &AppState,
    caller: &Caller,
    queue: &str,
    message_id: &str,
) -> Result<DeadLetter, ApiError> {
    let letters = dead_letters(state, caller, queue, 10_000).await?;
    letters
        .into_iter()
        .find(|l| l.message_id.as_deref() == Some(message_id))
        .ok_or_else(|| ApiError::not_found(format!("no dead letter {message_id:?} in {queue}")))
}

/// Replays (`replay = true`) or discards a dead letter.
pub async fn dead_letter_action(
    state: &AppState,
    caller: &Caller,
    queue: &str,
    message_id: &str,
    replay: bool,
) -> Result<DeadLetter, ApiError> {
    caller.require(Role::Admin)?;
    known_queue(state, queue)?;
    let action = if replay { "dlq.replay" } else { "dlq.discard" };
    let dl = DeadLetters::new(state.broker.clone(), queue);
    audited(
        state,
        caller,
        action,
        &format!("{queue}/{message_id}"),
        json!({ "queue": queue, "message_id": message_id }),
        async {
            let letter = if replay {
                dl.replay(message_id).await?
            } else {
                dl.discard(message_id).await?
            };
            Ok(letter_for(caller, letter))
        },
    )
    .await
}

/// Asks an adapter to sync now.
pub async fn sync(state: &AppState, caller: &Caller, system: &str) -> Result<Value, ApiError> {
    caller.require(Role::Admin)?;
    let base = state
        .upstream
        .adapter_url(system)
        .ok_or_else(|| ApiError::not_found(format!("no source {system:?} in ADAPTER_URLS")))?
        .to_owned();
    audited(
        state,
        caller,
        "source.sync",
        &format!("source:{system}"),
        json!({}),
        async {
            let (status, text) = state
                .upstream
                .post_text(system, &format!("{base}/api/v1/sync"), &caller.name)
                .await?;
            if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
                return Err(ApiError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    format!(
                        "adapter {system} has no sync trigger (POST /api/v1/sync answered {status})"
                    ),
                ));
            }
            if !status.is_success() {
                return Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "adapter {system} answered {status}: {}",
                        text.chars().take(300).collect::<String>()
                    ),
                ));
            }
            Ok(
                serde_json::from_str(&text)
                    .unwrap_or_else(|_| json!({ "status": status.as_u16() })),
            )
        },
    )
    .await
}

/// Most bytes the console forwards in one upload (the adapter has its own limit too).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// Uploads a file (one XLSX workbook, or one CSV file) to a file source's adapter for the
/// caller (reviewer or admin): audited with the file's name, size and SHA-256; the adapter's
/// report of the upload (accepted, duplicate or refused, rejected rows) is the answer.
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    system: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> Result<Value, ApiError> {
    use sha2::Digest;
    caller.require(Role::Reviewer)?;
    if !state.config.file_sources().iter().any(|s| s == system) {
        return Err(ApiError::not_found(format!(
            "no file source {system:?} (a registered file source in ADAPTER_URLS)"
        )));
    }
    let base = state
        .upstream
        .adapter_url(system)
        .ok_or_else(|| ApiError::not_found(format!("no source {system:?} in ADAPTER_URLS")))?
        .to_owned();
    let name = file_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "name the file"));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_UPLOAD_BYTES} bytes"),
        ));
    }
    let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    audited(
        state,
        caller,
        "source.upload",
        &format!("source:{system}"),
        json!({ "file": name, "bytes": bytes.len(), "sha256": sha256 }),
        async {
            let (status, text) = state
                .upstream
                .post_file(system, &base, &caller.name, &name, bytes)
                .await?;
            if status.is_success() || status == StatusCode::UNPROCESSABLE_ENTITY {
                return serde_json::from_str(&text).map_err(|_| {
                    ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        format!("adapter {system} answered {status} without a report"),
                    )
                });
            }
            Err(ApiError::new(
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    StatusCode::PAYLOAD_TOO_LARGE
                } else {
                    StatusCode::BAD_GATEWAY
                },
                format!(
                    "adapter {system} answered {status}: {}",
                    text.chars().take(300).collect::<String>()
                ),
            ))
        },
    )
    .await
}

/// Asks the indicators service to recompute a snapshot now.
pub async fn recompute(
    state: &AppState,
    caller: &Caller,
    plan: Option<String>,
    units: Option<String>,
    as_of: Option<String>,
) -> Result<Value, ApiError> {
    caller.require(Role::Admin)?;
    let mut query = Vec::new();
    if let Some(p) = &plan {
        query.push(("plan".to_owned(), p.clone()));
    }
    if let Some(u) = &units {
        query.push(("units".to_owned(), u.clone()));
    }
    if let Some(a) = &as_of {
        query.push(("as_of".to_owned(), a.clone()));
    }
    audited(
        state,
        caller,
        "snapshot.recompute",
        &match &plan {
            Some(p) => format!("snapshots:{p}:{}", units.as_deref().unwrap_or("default")),
            None => format!("snapshots:{}", units.as_deref().unwrap_or("default")),
        },
        json!({ "plan": plan, "units": units, "as_of": as_of }),
        async {
            Ok(state
                .upstream
                .post(
                    Service::Indicators,
                    "/api/v1/snapshots",
                    &query,
                    &json!({}),
                    &caller.name,
                )
                .await?)
        },
    )
    .await
}

/// Percent-encodes a path segment.
pub fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

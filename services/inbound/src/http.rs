//! hub-inbound's HTTP API: the exchange log, read by the operator commands
//! (`hub audit verify|export --exchange`), so that nothing outside this service reads its
//! tables.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/exchange-log` | rows in id order with their hashed content and links: `agency` (one agency's chain; every agency when absent), `after` (id), `limit` (1–10,000, default 1,000); answers `{"rows": [...], "next_after": id or null}` |
//!
//! Every route needs the service credential (`Authorization: Bearer <token>`, one of
//! `SERVICE_TOKENS`; 401 otherwise): [`router`] is wrapped by
//! [`hub_runtime::service_auth::require_service_credential`] in [`crate::start`].
//! `/healthz`, `/readyz` and `/metrics` stay open. Read only; owns request and response
//! shapes only.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::exchange_log::ExchangeLog;

/// The path of the exchange log's rows.
pub const EXCHANGE_LOG_PATH: &str = "/api/v1/exchange-log";
/// Most rows in one answer.
pub const MAX_PAGE: i64 = 10_000;

/// The API's routes (to be wrapped by the service credential).
pub fn router(log: ExchangeLog) -> Router {
    Router::new()
        .route(EXCHANGE_LOG_PATH, get(exchange_log))
        .with_state(log)
}

/// Query of [`EXCHANGE_LOG_PATH`].
#[derive(Debug, Deserialize)]
pub struct ExchangeLogQuery {
    pub agency: Option<String>,
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": what}))).into_response()
}

async fn exchange_log(
    State(log): State<ExchangeLog>,
    Query(q): Query<ExchangeLogQuery>,
) -> Response {
    if q.agency
        .as_deref()
        .is_some_and(|a| a.is_empty() || a.len() > 200)
    {
        return bad_request("agency: 1 to 200 bytes");
    }
    let limit = q.limit.unwrap_or(1000);
    if !(1..=MAX_PAGE).contains(&limit) {
        return bad_request("limit: 1 to 10000");
    }
    match log
        .export(q.agency.as_deref(), q.after.unwrap_or(i64::MIN), limit)
        .await
    {
        Ok(rows) => {
            let next_after = (rows.len() as i64 == limit)
                .then(|| rows.last().map(|r| r.id))
                .flatten();
            Json(json!({"rows": rows, "next_after": next_after})).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "reading the exchange log");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "the exchange log cannot be read now"})),
            )
                .into_response()
        }
    }
}

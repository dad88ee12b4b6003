//! hub-inbound's HTTP API: the exchange log, read by the operator commands
//! (`hub audit verify|export --exchange`), so that nothing outside this service reads its
//! tables.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/v1/exchange-log` | rows in id order with their hashed content and links: `agency` (one agency's chain; every agency when absent), `after` (id), `limit` (1–10,000, default 1,000); answers `{"rows": [...], "next_after": id or null}` |
//! | `GET /api/v1/openapi.json` | this API's OpenAPI 3.1 document (`contracts/openapi/hub-inbound.json`) |
//!
//! Every route needs the service credential (`Authorization: Bearer <token>`, one of
//! `SERVICE_TOKENS`; 401 otherwise): [`router`] is wrapped by
//! [`hub_runtime::service_auth::require_service_credential`] in [`crate::start`].
//! `/healthz`, `/readyz` and `/metrics` stay open. Read only; owns request and response
//! shapes only.

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hub_runtime::chain::ChainedRow;
use hub_runtime::openapi::{self as oa, ApiInfo};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::exchange_log::ExchangeLog;

/// The path of the exchange log's rows.
pub const EXCHANGE_LOG_PATH: &str = "/api/v1/exchange-log";
/// Most rows in one answer.
pub const MAX_PAGE: i64 = 10_000;

/// The API's routes (to be wrapped by the service credential), with
/// `GET /api/v1/openapi.json`.
pub fn router(log: ExchangeLog) -> Router {
    openapi().router.with_state(log)
}

/// The API's routes and their OpenAPI document (what `GET /api/v1/openapi.json` answers).
pub fn openapi() -> oa::Finished<ExchangeLog> {
    oa::finish(
        || {
            ApiRouter::new().api_route(
                EXCHANGE_LOG_PATH,
                get_with(exchange_log, |op| {
                    op.summary("The exchange log's rows, in id order, with their hashes")
                        .response::<200, Json<ExchangeLogPage>>()
                }),
            )
        },
        ApiInfo {
            title: "hub-inbound",
            description: "The exchange log of the agencies' pushes, for `hub audit verify|export \
                --exchange`. Every route needs the service credential.",
        },
        oa::service_credential,
    )
}

/// Query of [`EXCHANGE_LOG_PATH`].
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ExchangeLogQuery {
    /// One agency's chain (1 to 200 bytes); every agency when absent.
    pub agency: Option<String>,
    /// Rows after this id.
    pub after: Option<i64>,
    /// Most rows, 1 to 10,000 (default 1,000).
    pub limit: Option<i64>,
}

/// A page of the exchange log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExchangeLogPage {
    /// The id to ask `after` for the next page; `null` on the last.
    pub next_after: Option<i64>,
    pub rows: Vec<ChainedRow>,
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
            Json(ExchangeLogPage { next_after, rows }).into_response()
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

//! The HTTP face: one axum router per agency system ([`coop_alliance`], [`loan_fund`],
//! [`ntm`]), each wrapped in its fault layer, plus the simulator's own admin routes under
//! `/_sim/` ([`admin`]), which faults never touch.
//!
//! Owns the state the routers share and the JSON error answers.

pub mod admin;
pub mod coop_alliance;
pub mod loan_fund;
pub mod ntm;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::RwLock;

use crate::world::World;

/// The world, shared by the three servers.
pub type SharedWorld = Arc<RwLock<World>>;

/// What every router of one simulator run shares.
#[derive(Debug)]
pub struct Shared {
    pub world: SharedWorld,
    /// Where to rewrite the truth (default parameters) after each mutation.
    pub truth_out: Option<PathBuf>,
}

/// `{"error": code}` with a status.
pub(crate) fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

/// `{"error": code, "message": message}` with a status.
pub(crate) fn error_msg(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({ "error": code, "message": message.into() })),
    )
        .into_response()
}

/// 400 `bad_request` with a message.
pub(crate) fn bad_request(message: impl Into<String>) -> Response {
    error_msg(StatusCode::BAD_REQUEST, "bad_request", message)
}

/// Query pairs into a map (the last of repeated keys wins).
pub(crate) fn query_map(pairs: Vec<(String, String)>) -> BTreeMap<String, String> {
    pairs.into_iter().collect()
}

/// 404 for any other path.
pub(crate) async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found")
}

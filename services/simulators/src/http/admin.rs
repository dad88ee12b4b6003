//! The simulator's own routes, under `/_sim/` on every server, never faulted:
//!
//! | route | body / query | answer |
//! |---|---|---|
//! | `GET /_sim/health` | | `{"status":"ok","system":"loan-fund"}` |
//! | `GET /_sim/faults` | | this server's [`Faults`](crate::faults::Faults) |
//! | `PUT /_sim/faults` | [`FaultsUpdate`] (partial) | the faults now, or 400 |
//! | `GET /_sim/stats` | | [`FaultStats`](crate::faults::FaultStats) |
//! | `POST /_sim/mutate` | [`MutationRequest`] | [`MutationReport`](crate::mutate::MutationReport) |
//! | `GET /_sim/truth` | `as_of`, `baseline` (`YYYY-MM-DD`), `units` (`2024`/`2025`) | [`Truth`](crate::truth::Truth) |
//! | `POST /_sim/tokens/expire` | | loan-fund only: `{"expired": n}` |
//!
//! The world is shared: a mutation through any server changes what all three serve.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Json, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::loan_fund::TokenStore;
use super::{Shared, bad_request, error, query_map};
use crate::faults::{FaultState, FaultsUpdate};
use crate::generate::wall_clock_now;
use crate::mutate::MutationRequest;
use crate::truth::TruthParams;

#[derive(Clone)]
pub(crate) struct AdminState {
    pub shared: Arc<Shared>,
    pub faults: Arc<FaultState>,
    pub tokens: Option<Arc<TokenStore>>,
}

pub(crate) fn router(state: AdminState) -> Router {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/stats", get(stats))
        .route("/_sim/mutate", post(mutate))
        .route("/_sim/truth", get(truth))
        .route("/_sim/tokens/expire", post(expire_tokens))
        .with_state(state)
}

async fn health(State(st): State<AdminState>) -> Response {
    Json(json!({"status": "ok", "system": st.faults.system.as_str()})).into_response()
}

async fn get_faults(State(st): State<AdminState>) -> Response {
    Json(st.faults.get()).into_response()
}

async fn put_faults(
    State(st): State<AdminState>,
    body: Result<Json<FaultsUpdate>, JsonRejection>,
) -> Response {
    let Json(update) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    match st.faults.update(&update) {
        Ok(f) => Json(f).into_response(),
        Err(e) => bad_request(e.to_string()),
    }
}

async fn stats(State(st): State<AdminState>) -> Response {
    Json(st.faults.stats()).into_response()
}

async fn mutate(
    State(st): State<AdminState>,
    body: Result<Json<MutationRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => return bad_request(e.body_text()),
    };
    let mut world = st.shared.world.write().await;
    let report = match world.mutate(&req, wall_clock_now()) {
        Ok(r) => r,
        Err(e) => return bad_request(e.to_string()),
    };
    if let Some(path) = &st.shared.truth_out {
        let truth = world.truth(&TruthParams::for_world(&world));
        if let Err(e) = truth.write_to(path) {
            tracing::warn!(error = %e, "could not rewrite the truth file");
        }
    }
    drop(world);
    Json(report).into_response()
}

async fn truth(
    State(st): State<AdminState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(pairs)) = query else {
        return bad_request("unreadable query string");
    };
    let q = query_map(pairs);
    let world = st.shared.world.read().await;
    let params = match TruthParams::parse(
        &world,
        q.get("as_of").map(String::as_str),
        q.get("baseline").map(String::as_str),
        q.get("units").map(String::as_str),
    ) {
        Ok(p) => p,
        Err(e) => return bad_request(e.to_string()),
    };
    Json(world.truth(&params)).into_response()
}

async fn expire_tokens(State(st): State<AdminState>) -> Response {
    match &st.tokens {
        Some(tokens) => Json(json!({"expired": tokens.expire_all()})).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

//! The New Rural Development program's reports (`shared/sources/ntm.md`): HTTP Basic on
//! every request, `GET /api/reports?year=YYYY` (400 for an unknown or missing year) and
//! `GET /api/reports/{commune_code}/{year}` serving the current revision (404 for an
//! unknown commune or year).

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{Shared, bad_request, error, query_map};
use crate::faults::FaultState;
use crate::world::World;

#[derive(Clone)]
pub(crate) struct NtmState {
    pub shared: Arc<Shared>,
    pub user: Arc<str>,
    pub password: Arc<str>,
}

/// The API routes, wrapped in the fault layer.
pub(crate) fn router(state: NtmState, faults: Arc<FaultState>) -> Router {
    Router::new()
        .route("/api/reports", get(list))
        .route("/api/reports/{commune_code}/{year}", get(report))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            faults,
            crate::faults::inject,
        ))
}

fn authorised(st: &NtmState, headers: &HeaderMap) -> bool {
    let Some(encoded) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(bytes) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return false;
    };
    text.split_once(':')
        .is_some_and(|(u, p)| u == &*st.user && p == &*st.password)
}

fn unauthorised() -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized");
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"ntm\""),
    );
    resp
}

async fn list(
    State(st): State<NtmState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    if !authorised(&st, &headers) {
        return unauthorised();
    }
    let Ok(Query(pairs)) = query else {
        return bad_request("unreadable query string");
    };
    let q = query_map(pairs);
    let Some(year_text) = q.get("year") else {
        return bad_request("year is required");
    };
    let world = st.shared.world.read().await;
    let year = match year_text.parse::<i32>() {
        Ok(y) if year_text.len() == 4 && world.report_years.contains(&y) => y,
        _ => return bad_request(format!("unknown year: {year_text:?}")),
    };
    let reports: Vec<_> = world
        .reports
        .iter()
        .filter(|r| r.year == year)
        .map(World::report_summary_json)
        .collect();
    axum::Json(json!({ "year": year, "reports": reports })).into_response()
}

async fn report(
    State(st): State<NtmState>,
    headers: HeaderMap,
    Path((commune_code, year)): Path<(String, String)>,
) -> Response {
    if !authorised(&st, &headers) {
        return unauthorised();
    }
    let Ok(year) = year.parse::<i32>() else {
        return error(StatusCode::NOT_FOUND, "not_found");
    };
    let world = st.shared.world.read().await;
    match world.report(&commune_code, year) {
        Some(r) => axum::Json(World::report_json(r)).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

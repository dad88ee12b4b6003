//! The Cooperative Development Support Fund (`shared/sources/loan-fund.md`): OAuth2 client
//! credentials at `POST /oauth/token`, bearer tokens that expire, and
//! `GET /v2/disbursements` with `modified_from` (local time, inclusive), real offset paging
//! over live data ordered by (`modified`, `loan_no`), `limit` 1..200 (default 50).
//!
//! Owns the token store. Tokens live `token_lifetime_secs` of the server's faults at the
//! time they are issued (0 gives tokens that are already expired).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::NaiveDateTime;
use rand::Rng;
use serde_json::json;

use super::{Shared, bad_request, error, error_msg, query_map};
use crate::faults::FaultState;
use crate::world::World;

/// Issued tokens and when they expire.
#[derive(Debug, Default)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, Instant>>,
}

impl TokenStore {
    /// Issues a token living `lifetime`.
    pub fn issue(&self, lifetime: Duration) -> String {
        let token = format!("{:032x}", rand::rng().random::<u128>());
        let now = Instant::now();
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), now + lifetime);
        token
    }

    /// Whether a token was issued here and has not expired.
    pub fn is_valid(&self, token: &str) -> bool {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.get(token).is_some_and(|exp| *exp > Instant::now())
    }

    /// Expires every token now; returns how many were live.
    pub fn expire_all(&self) -> usize {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let live = tokens.values().filter(|exp| **exp > now).count();
        tokens.clear();
        live
    }
}

#[derive(Clone)]
pub(crate) struct LoanState {
    pub shared: Arc<Shared>,
    pub faults: Arc<FaultState>,
    pub tokens: Arc<TokenStore>,
    pub client_id: Arc<str>,
    pub client_secret: Arc<str>,
}

/// The API routes, wrapped in the fault layer.
pub(crate) fn router(state: LoanState) -> Router {
    let faults = state.faults.clone();
    Router::new()
        .route("/oauth/token", post(token))
        .route("/v2/disbursements", get(disbursements))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            faults,
            crate::faults::inject,
        ))
}

async fn token(
    State(st): State<LoanState>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(pairs)) = form else {
        return error_msg(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "expected an application/x-www-form-urlencoded body",
        );
    };
    let f = query_map(pairs);
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let ok = f.get("client_id").is_some_and(|v| v == &*st.client_id)
        && f.get("client_secret")
            .is_some_and(|v| v == &*st.client_secret);
    if !ok {
        return error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let lifetime = st.faults.token_lifetime();
    let access_token = st.tokens.issue(Duration::from_secs(lifetime));
    let mut resp = axum::Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn invalid_token() -> Response {
    let mut resp = error(StatusCode::UNAUTHORIZED, "invalid_token");
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    resp
}

async fn disbursements(
    State(st): State<LoanState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    if !token.is_some_and(|t| st.tokens.is_valid(t)) {
        return invalid_token();
    }
    let Ok(Query(pairs)) = query else {
        return bad_request("unreadable query string");
    };
    let q = query_map(pairs);
    let limit = match q.get("limit") {
        None => 50,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=200).contains(&n) => n,
            _ => return bad_request(format!("limit must be an integer in 1..200: {s:?}")),
        },
    };
    let offset = match q.get("offset") {
        None => 0,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => n,
            _ => return bad_request(format!("offset must be an integer >= 0: {s:?}")),
        },
    };
    let from = match q.get("modified_from") {
        None => None,
        Some(s) => match NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S") {
            Ok(t) => Some(t),
            Err(_) => {
                return bad_request(format!("modified_from must be YYYY-MM-DD HH:MM:SS: {s:?}"));
            }
        },
    };
    let world = st.shared.world.read().await;
    let mut rows: Vec<_> = world
        .loans
        .iter()
        .filter(|l| from.is_none_or(|f| l.modified >= f))
        .collect();
    rows.sort_by(|a, b| (a.modified, &a.loan_no).cmp(&(b.modified, &b.loan_no)));
    let total = rows.len();
    let data: Vec<_> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(World::loan_json)
        .collect();
    axum::Json(json!({
        "total": total,
        "offset": offset,
        "limit": limit,
        "data": data,
    }))
    .into_response()
}

//! The Cooperative Alliance registry (`shared/sources/coop-alliance.md`): `X-Api-Key`
//! authentication and `GET /api/v1/cooperatives` with `updated_since` (strictly after), an
//! opaque key-set cursor over (`updated_at`, `id`) and `limit` 1..500 (default 100).
//!
//! The cursor is base64url (no padding) of `{"t": updated_at, "id": id}` of the page's last
//! record; the next page holds the records strictly after that key, so a record updated
//! while a client pages moves to a later page with its newer `updated_at`, never skipped.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Shared, bad_request, error, query_map};
use crate::faults::FaultState;

#[derive(Clone)]
pub(crate) struct CoopState {
    pub shared: Arc<Shared>,
    pub api_key: Arc<str>,
}

/// The API routes, wrapped in the fault layer.
pub(crate) fn router(state: CoopState, faults: Arc<FaultState>) -> Router {
    Router::new()
        .route("/api/v1/cooperatives", get(list))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            faults,
            crate::faults::inject,
        ))
}

#[derive(Serialize, Deserialize)]
struct CursorKey {
    t: String,
    id: String,
}

/// Encodes the key-set position after (`t`, `id`).
pub fn encode_cursor(t: &DateTime<FixedOffset>, id: &str) -> String {
    let key = CursorKey {
        t: t.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        id: id.to_owned(),
    };
    let text = serde_json::to_string(&key).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(text)
}

/// Decodes a cursor; `None` when it is not one of ours.
pub fn decode_cursor(cursor: &str) -> Option<(DateTime<FixedOffset>, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
    let key: CursorKey = serde_json::from_slice(&bytes).ok()?;
    let t = DateTime::parse_from_rfc3339(&key.t).ok()?;
    Some((t, key.id))
}

async fn list(
    State(st): State<CoopState>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let authorised = headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|k| k == &*st.api_key);
    if !authorised {
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let Ok(Query(pairs)) = query else {
        return bad_request("unreadable query string");
    };
    let q = query_map(pairs);
    let limit = match q.get("limit") {
        None => 100,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=500).contains(&n) => n,
            _ => return bad_request(format!("limit must be an integer in 1..500: {s:?}")),
        },
    };
    let since = match q.get("updated_since") {
        None => None,
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t),
            Err(_) => return bad_request(format!("updated_since must be RFC 3339: {s:?}")),
        },
    };
    let after = match q.get("cursor") {
        None => None,
        Some(c) => match decode_cursor(c) {
            Some(k) => Some(k),
            None => return bad_request("cursor is not one this server issued"),
        },
    };

    let world = st.shared.world.read().await;
    let mut page: Vec<_> = world
        .registry
        .iter()
        .filter(|r| since.is_none_or(|s| r.updated_at > s))
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|(t, id)| (r.updated_at, r.id.as_str()) > (*t, id.as_str()))
        })
        .collect();
    page.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
    let more = page.len() > limit;
    page.truncate(limit);
    let next_cursor = if more {
        page.last().map(|r| encode_cursor(&r.updated_at, &r.id))
    } else {
        None
    };
    let items: Vec<_> = page.iter().map(|r| world.registry_json(r)).collect();
    axum::Json(json!({ "items": items, "next_cursor": next_cursor })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00").expect("valid");
        let c = encode_cursor(&t, "LM-000123");
        assert_eq!(decode_cursor(&c), Some((t, "LM-000123".to_owned())));
        assert_eq!(decode_cursor("not a cursor"), None);
    }
}

//! The web console: server-rendered HTML pages, every one from an auto-escaping `minijinja`
//! template with a typed view ([`views`], `templates/`; UTF-8, a font stack that covers
//! Vietnamese), with one embedded stylesheet and one small script, no build step.
//!
//! | page | what | role |
//! |---|---|---|
//! | `GET /login`, `POST /login`, `POST /logout` | session cookie (`HttpOnly`, `SameSite=Strict`) | — |
//! | `GET /` | pipeline health: sources (last sync, lag, errors), services, queue depths, dead letters | viewer |
//! | `GET /log?district=&outcome=` | the reconciliation log, live (server-sent events), in Vietnam time, with names, districts and each score's feature contributions | viewer |
//! | `GET /review?district=`, `POST /review/{id}/link\|separate` | the review queue and its decisions | viewer / reviewer |
//! | `GET /compare?a=&b=&source=` | the two records of a decision or review item side by side | viewer |
//! | `GET /indicators/report?units=` | the provincial report, printable on A4 landscape | viewer |
//! | `GET /cooperatives`, `GET /cooperatives/{id}` | golden records, with their source records side by side | viewer |
//! | `POST /cooperatives/{id}/merge` | merge another organisation into this one | reviewer |
//! | `GET /indicators?units=&unit=` | each indicator against its 2025 and 2030 targets, with a chart over time, per unit | viewer |
//! | `GET /dlq`, `GET /dlq/{queue}/{id}`, `POST /dlq/{queue}/{id}/replay\|discard` | dead letters | viewer / admin |
//! | `GET /upload`, `POST /upload` | upload a file source's workbook (the Farmers' Union's): the report at once, the latest uploads' reports | reviewer |
//! | `GET /audit` | the audit log | viewer |
//!
//! A page without a session redirects to `/login` (only ever back to a same-site path, see
//! [`pages::safe_next`]); an action above the caller's role answers 403. Personal data is
//! masked for viewers. Every response carries the security headers and `no-store` of
//! [`crate::guard`]. Owns presentation only: every action goes
//! through [`crate::actions`].

mod chart;
pub mod pages;
mod values;
mod views;

use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::auth::Caller;
use crate::state::Shared;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// The caller of a page: without a session, the page redirects to the login form.
pub struct PageCaller(pub Caller);

/// A page's refusal: redirect to the login form.
pub struct ToLogin(String);

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to(&format!("/login?next={}", crate::actions::encode(&self.0))).into_response()
    }
}

impl FromRequestParts<Shared> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let path = OriginalUri::from_request_parts(parts, state)
            .await
            .map(|u| {
                u.0.path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_else(|| "/".into())
            })
            .unwrap_or_else(|_| "/".into());
        match state.caller(&parts.headers).await {
            Ok(Some(c)) => Ok(PageCaller(c)),
            Ok(None) => Err(ToLogin(path).into_response()),
            Err(e) => {
                tracing::warn!(error = %e, "session lookup failed");
                Err((
                    StatusCode::SERVICE_UNAVAILABLE,
                    "console database unavailable",
                )
                    .into_response())
            }
        }
    }
}

/// The pages' routes.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/assets/console.css", get(css))
        .route("/assets/console.js", get(js))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/", get(pages::health))
        .route("/log", get(pages::log))
        .route("/review", get(pages::review))
        .route("/review/{id}/{decision}", post(pages::review_decide))
        .route("/cooperatives", get(pages::cooperatives))
        .route("/cooperatives/{id}", get(pages::cooperative))
        .route("/cooperatives/{id}/merge", post(pages::cooperative_merge))
        .route("/indicators", get(pages::indicators))
        .route("/indicators/report", get(pages::report))
        .route("/compare", get(pages::compare))
        .route("/dlq", get(pages::dlq))
        .route("/dlq/{queue}/{id}", get(pages::dlq_show))
        .route("/dlq/{queue}/{id}/{action}", post(pages::dlq_action))
        .route(
            "/upload",
            get(pages::upload_form).post(pages::upload).layer(
                axum::extract::DefaultBodyLimit::max(crate::actions::MAX_UPLOAD_BYTES + 64 * 1024),
            ),
        )
        .route("/audit", get(pages::audit))
        .with_state(state)
}

async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS)
}

async fn js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
}

//! Logging in and out: the form, the session cookie, and the one place that decides where a
//! login may send the browser next ([`safe_next`]).

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

use super::{Page, error_page, render_page_for};
use crate::actions;
use crate::api::{ConnectInfoAddr, Login, login as api_login};
use crate::auth::{self, SessionKind};
use crate::guard::AlreadyAudited;
use crate::state::Shared;

#[derive(Debug, Deserialize, Default)]
pub struct Next {
    next: Option<String>,
    error: Option<String>,
}

/// Only a same-site absolute path: never redirect elsewhere after login. Browsers drop tabs
/// and line breaks from URLs and read `\\` as `/`, so `/\t/evil.example` or `/\\evil` would
/// become `//evil.example`, another site: anything but plain path characters is refused.
pub fn safe_next(next: Option<&str>) -> String {
    fn path_char(c: char) -> bool {
        c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/?#".contains(c)
    }
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.len() <= 2000
                && n.chars().all(path_char) =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

pub async fn login_form(Query(q): Query<Next>) -> Page {
    render_page_for(
        "Log in",
        None,
        "",
        "login.html",
        minijinja::context! {
            error => q.error.is_some(),
            next => safe_next(q.next.as_deref()),
        },
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<Shared>,
    ConnectInfoAddr(addr): ConnectInfoAddr,
    Form(f): Form<LoginForm>,
) -> Page {
    let next = safe_next(f.next.as_deref());
    let creds = Login {
        username: f.username,
        password: f.password,
    };
    match api_login(&state, &creds, SessionKind::Cookie, addr).await {
        Ok((secret, _)) => {
            let cookie = auth::session_cookie_header(
                &secret,
                state.sessions.ttl(),
                state.config.cookie_secure,
            );
            let mut r = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => {
            let mut r = if e.error.status == StatusCode::UNAUTHORIZED {
                Redirect::to(&format!("/login?error=1&next={}", actions::encode(&next)))
                    .into_response()
            } else {
                error_page(e.error.status, None, &e.error.message)
            };
            if let Some(secs) = e.retry_after {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, secs.max(1).into());
            }
            r.extensions_mut().insert(AlreadyAudited);
            r
        }
    }
}

pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Page {
    if let Some(secret) = auth::session_cookie(&headers) {
        let _ = state.sessions.close(&secret).await;
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&auth::clear_cookie_header(state.config.cookie_secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

//! What every console response gets, whatever route answered it ([`layer`]):
//!
//! - security headers: a `Content-Security-Policy` allowing only the console's own script
//!   and stylesheet (no inline script or style, no framing: `frame-ancestors 'none'`, with
//!   `X-Frame-Options: DENY` for older browsers), `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy: same-origin`;
//! - `Cache-Control: no-store` on every page and API answer (they may carry personal data),
//!   the embedded assets excepted;
//! - every refused request (401, 403, 429) written to the audit log (action `refused`, the
//!   method and path as target, the caller when a session is known, the client address),
//!   unless the handler recorded it itself (a refused login; it marks the response with
//!   [`AlreadyAudited`]).
//!
//! Also [`client_addr`], the TCP peer of a request (not `X-Forwarded-For`, which anyone can
//! set). Owns no data.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use crate::state::Shared;

/// The console's content security policy.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Marks a refusal its handler already wrote to the audit log.
#[derive(Debug, Clone, Copy)]
pub struct AlreadyAudited;

/// The client's address (the TCP peer), when the server records it.
pub fn client_addr(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Wraps the console's routes.
pub fn layer(router: Router, state: Shared) -> Router {
    router.layer(axum::middleware::from_fn_with_state(state, guard))
}

async fn guard(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let addr = client_addr(req.extensions());
    let headers = req.headers().clone();
    let mut resp = next.run(req).await;

    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::CONTENT_SECURITY_POLICY, CSP);
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if path.starts_with("/assets/") {
        set(h, header::CACHE_CONTROL, "private, max-age=300");
    } else {
        set(h, header::CACHE_CONTROL, "no-store");
    }

    let status = resp.status();
    let refused = matches!(
        status,
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
    );
    if refused && resp.extensions().get::<AlreadyAudited>().is_none() {
        let caller = state.caller(&headers).await.ok().flatten();
        let (actor, role) = caller
            .as_ref()
            .map(|c| (c.name.as_str(), c.role.as_str()))
            .unwrap_or(("-", "-"));
        let outcome = format!("refused: {}", status.as_u16());
        if let Err(e) = state
            .audit
            .record(
                actor,
                role,
                "refused",
                &format!("{method} {path}"),
                &outcome,
                json!({ "status": status.as_u16(), "address": addr.map(|a| a.to_string()) }),
            )
            .await
        {
            tracing::error!(error = %e, %path, "could not record a refused request");
        }
    }
    resp
}

//! Service-to-service authentication of the internal HTTP APIs (the reconciler's, the
//! indicators', hub-inbound's and the adapters'): only a caller holding a service credential
//! (the console) may use them, and only that caller may say which operator acts.
//!
//! - [`ServiceTokens`]: the accepted bearer tokens (`SERVICE_TOKENS`, comma-separated; several
//!   at once so that a token can be rotated without downtime), each at least
//!   [`MIN_TOKEN_LEN`] characters. Compared in constant time.
//! - [`require_service_credential`]: wraps a service's API routes. A request without a valid
//!   `Authorization: Bearer <token>` is answered 401 before any handler runs. With a valid
//!   one, the `X-Hub-Operator` header (percent-encoded UTF-8, set by the console from its
//!   authenticated session) becomes an [`AuthenticatedOperator`] request extension; without
//!   a valid credential that header is never read.
//! - [`ServiceCredential`]: the caller's side (the console's `SERVICE_TOKEN`), and
//!   [`encode_operator`].
//!
//! `/healthz`, `/readyz` and `/metrics` are merged outside this layer and stay open (they
//! carry no personal data and no action). Owns no storage.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer};

use crate::config::ConfigError;

/// The variable naming the accepted tokens on the service side.
pub const TOKENS_VAR: &str = "SERVICE_TOKENS";
/// The variable naming the token the console sends.
pub const TOKEN_VAR: &str = "SERVICE_TOKEN";
/// The header carrying the acting operator (trusted only with a valid credential).
pub const OPERATOR_HEADER: &str = "x-hub-operator";
/// Shortest token accepted (a random 32-byte value in hex or base64 is longer).
pub const MIN_TOKEN_LEN: usize = 32;

/// The operator the console vouched for, with a valid service credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedOperator(pub String);

/// One secret, never printed.
#[derive(Clone, PartialEq, Eq)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The tokens a service accepts (`SERVICE_TOKENS`): empty means none configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTokens(Vec<Secret>);

impl<'de> Deserialize<'de> for ServiceTokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            List(Vec<String>),
        }
        let items: Vec<String> = match Raw::deserialize(d)? {
            Raw::Text(s) => s.split(',').map(|p| p.trim().to_owned()).collect(),
            Raw::List(l) => l.into_iter().map(|p| p.trim().to_owned()).collect(),
        };
        Ok(Self(
            items
                .into_iter()
                .filter(|t| !t.is_empty())
                .map(Secret)
                .collect(),
        ))
    }
}

impl ServiceTokens {
    /// Tokens from strings (in-process wiring and tests).
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Self {
        Self(tokens.into_iter().map(|t| Secret(t.into())).collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A service with an HTTP API refuses to start without a token, or with a short one.
    pub fn validate(&self, api_served: bool) -> Result<(), ConfigError> {
        if api_served && self.0.is_empty() {
            return Err(ConfigError::invalid(
                TOKENS_VAR,
                "required when HTTP_ADDR is set: the bearer token(s) the console sends \
                 (comma-separated, to rotate); generate one with `openssl rand -hex 32`",
            ));
        }
        if self.0.iter().any(|t| t.0.chars().count() < MIN_TOKEN_LEN) {
            return Err(ConfigError::invalid(
                TOKENS_VAR,
                format!("every token needs at least {MIN_TOKEN_LEN} characters"),
            ));
        }
        Ok(())
    }

    /// Whether `presented` is one of the tokens. Every token is compared, each in time that
    /// depends only on the lengths, so timing tells nothing of a token's content.
    pub fn accepts(&self, presented: &str) -> bool {
        let mut ok = false;
        for t in &self.0 {
            ok |= constant_time_eq(t.0.as_bytes(), presented.as_bytes());
        }
        ok
    }
}

/// Equality whose time depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0xff);
        diff |= std::hint::black_box(x ^ y);
    }
    diff == 0
}

/// A fresh random token (64 hex characters), for in-process wiring and tests.
pub fn generate_token() -> String {
    rand::random::<[u8; 32]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bearer token of a request, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Wraps `api` (a service's own routes, not its `/healthz` `/readyz` `/metrics`) so that every
/// request needs a valid service credential.
pub fn require_service_credential(api: Router, tokens: ServiceTokens) -> Router {
    api.layer(axum::middleware::from_fn_with_state(
        Arc::new(tokens),
        check,
    ))
}

async fn check(State(tokens): State<Arc<ServiceTokens>>, mut req: Request, next: Next) -> Response {
    let valid = bearer(req.headers()).is_some_and(|t| tokens.accepts(t));
    if !valid {
        tracing::warn!(path = %req.uri().path(), "API request without a valid service credential refused");
        let mut r = (
            StatusCode::UNAUTHORIZED,
            axum::Json(serde_json::json!({
                "error": "a service credential is required (Authorization: Bearer <SERVICE_TOKEN>)"
            })),
        )
            .into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"hub-internal\""),
        );
        return r;
    }
    let operator = req
        .headers()
        .get(OPERATOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(decode_operator);
    if let Some(op) = operator {
        req.extensions_mut().insert(AuthenticatedOperator(op));
    }
    next.run(req).await
}

/// Percent-encodes an operator's name (UTF-8) for [`OPERATOR_HEADER`].
pub fn encode_operator(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The name in an [`OPERATOR_HEADER`] value; `None` when it is not valid percent-encoded
/// UTF-8 or empty.
pub fn decode_operator(value: &str) -> Option<String> {
    let bytes = value.trim().as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().filter(|s| !s.trim().is_empty())
}

/// The caller's side: the token the console sends (`SERVICE_TOKEN`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ServiceCredential(Option<String>);

impl std::fmt::Debug for ServiceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => f.write_str("ServiceCredential(\"***\")"),
            None => f.write_str("ServiceCredential(None)"),
        }
    }
}

impl<'de> Deserialize<'de> for ServiceCredential {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(Self(
            s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        ))
    }
}

impl ServiceCredential {
    pub fn new(token: impl Into<String>) -> Self {
        Self(Some(token.into()))
    }

    /// The token, if configured.
    pub fn token(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Required (and long enough) when the caller talks to any internal API.
    pub fn validate(&self, needed: bool) -> Result<(), ConfigError> {
        match &self.0 {
            None if needed => Err(ConfigError::invalid(
                TOKEN_VAR,
                "required when RECONCILER_URL, INDICATORS_URL or ADAPTER_URLS is set: the \
                 bearer token those services accept (one of their SERVICE_TOKENS)",
            )),
            Some(t) if t.chars().count() < MIN_TOKEN_LEN => Err(ConfigError::invalid(
                TOKEN_VAR,
                format!("expected at least {MIN_TOKEN_LEN} characters"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_any_configured_token_only() {
        let a = generate_token();
        let b = generate_token();
        let t = ServiceTokens::new([a.clone(), b.clone()]);
        assert!(t.accepts(&a) && t.accepts(&b));
        assert!(!t.accepts(&a[..63]) && !t.accepts(&format!("{a}x")) && !t.accepts(""));
        assert!(!ServiceTokens::default().accepts(""));
        assert!(t.validate(true).is_ok());
        let e = ServiceTokens::default().validate(true).expect_err("none");
        assert!(e.to_string().contains(TOKENS_VAR), "{e}");
        assert!(ServiceTokens::default().validate(false).is_ok());
        assert!(ServiceTokens::new(["short"]).validate(false).is_err());
        assert!(!format!("{t:?}").contains(&a));
    }

    #[test]
    fn tokens_from_text_or_list() {
        let t: ServiceTokens = serde_json::from_str("\" a , b ,\"").expect("text");
        assert_eq!(t, ServiceTokens::new(["a", "b"]));
        let t: ServiceTokens = serde_json::from_str("[\"a\"]").expect("list");
        assert_eq!(t, ServiceTokens::new(["a"]));
    }

    #[test]
    fn operator_names_round_trip() {
        for name in ["lan", "Nguyễn Thị Lan", "a%b c", "x\r\ny"] {
            let enc = encode_operator(name);
            assert!(HeaderValue::from_str(&enc).is_ok(), "{enc}");
            assert_eq!(decode_operator(&enc).as_deref(), Some(name));
        }
        assert_eq!(decode_operator("%zz"), None);
        assert_eq!(decode_operator("%C3"), None);
        assert_eq!(decode_operator(" "), None);
    }
}

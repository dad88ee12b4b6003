//! The HTTP side of every adapter: one reqwest client with timeouts, authentication, and the
//! retry policy in one place.
//!
//! - **Retries** ([`HttpSettings`]): `429` waits for its `Retry-After` (seconds); `5xx`,
//!   timeouts and connection errors wait on the runtime's exponential [`Backoff`];
//!   both stop after `max_attempts` attempts or `max_elapsed`, whichever comes first, with a
//!   [`SourceError::Exhausted`] naming the URL and the last error. Other statuses (400, 403,
//!   404) are not retried.
//! - **Garbage**: a `200` whose body does not deserialise into the documented shape is a
//!   failure too: retried up to `garbage_attempts` times, then [`SourceError::Garbage`]
//!   naming the URL and the start of the body (string values masked: a cut page may hold
//!   personal data).
//! - **Auth** ([`Auth`]): an API key header, HTTP Basic, or OAuth2 client credentials with a
//!   cached token refreshed shortly before it expires and on a `401` (after which the request
//!   is repeated once). A `401` that survives this is [`SourceError::Unauthorized`].
//!
//! - **Tracing**: each [`HttpClient::get_json`] is a client span `GET` (its attempts carry its
//!   W3C `traceparent` header); a successful one is noted for the page being read (see
//!   [`page_fetches`]), whose records link to it.
//!
//! Owns no knowledge of any source's paths or paging. Sleeps between attempts end early when
//! the shutdown token fires.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::error::SourceError;
use hub_runtime::messaging::retry::Backoff;
use hub_runtime::telemetry::propagation;
use tracing::Instrument;

tokio::task_local! {
    /// The `traceparent`s of the fetches made since the page being read began.
    static PAGE_FETCHES: RefCell<Vec<String>>;
}

/// Runs `f` (a sync) noting the fetches it makes, for [`page_fetches`].
pub(crate) async fn noting_page_fetches<F: Future>(f: F) -> F::Output {
    PAGE_FETCHES.scope(RefCell::new(Vec::new()), f).await
}

/// The `traceparent`s of the successful fetches since the last call (within
/// [`noting_page_fetches`]; none elsewhere): what the page's records were read from.
pub(crate) fn page_fetches() -> Vec<String> {
    PAGE_FETCHES
        .try_with(|f| std::mem::take(&mut *f.borrow_mut()))
        .unwrap_or_default()
}

fn note_page_fetch(span: &tracing::Span) {
    if let Some(t) = propagation::traceparent(span) {
        let _ = PAGE_FETCHES.try_with(|f| f.borrow_mut().push(t));
    }
}

/// Timeouts and the retry budget.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpSettings {
    /// Establishing a TCP connection.
    pub connect_timeout: Duration,
    /// One whole request, body included.
    pub request_timeout: Duration,
    /// Attempts per request, the first included (429, 5xx, timeouts, garbage all count).
    pub max_attempts: u32,
    /// Longest time spent on one request, waits included.
    pub max_elapsed: Duration,
    /// First backoff wait; doubles (with jitter) up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts that may return garbage before the request fails.
    pub garbage_attempts: u32,
    /// The longest `Retry-After` honoured as such (a longer one is cut to this).
    pub max_retry_after: Duration,
    /// The largest response body read: a larger one (by `Content-Length`, or once that many
    /// bytes arrived) is dropped unread and counted as a garbage answer, so that a broken or
    /// hostile source cannot run the adapter out of memory.
    pub max_response_bytes: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_attempts: 10,
            max_elapsed: Duration::from_secs(180),
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(10),
            garbage_attempts: 3,
            max_retry_after: Duration::from_secs(120),
            max_response_bytes: 32 * 1024 * 1024,
        }
    }
}

impl HttpSettings {
    fn backoff(&self) -> Backoff {
        Backoff::exponential(
            self.initial_backoff,
            self.max_backoff,
            0.2,
            Some(self.max_elapsed),
        )
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// A fixed key in a header (`X-Api-Key: …`).
    ApiKey {
        header: String,
        key: Secret,
    },
    /// HTTP Basic on every request.
    Basic {
        user: String,
        password: Secret,
    },
    /// OAuth2 client credentials: `POST token_url` with a form body, then `Bearer` tokens.
    OAuth2ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
    },
}

#[derive(Debug, Clone)]
struct CachedToken {
    token: String,
    /// When to fetch a new one: shortly before the server's expiry.
    refresh_at: Instant,
}

/// When a token that lives `lifetime` from `issued` should be replaced: a fifth of its
/// life early, at most 30 s early.
pub fn refresh_at(issued: Instant, lifetime: Duration) -> Instant {
    let margin = (lifetime / 5).min(Duration::from_secs(30));
    issued + lifetime.saturating_sub(margin)
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Requests made, and what was retried, for tests and metrics.
#[derive(Debug, Default)]
pub struct HttpStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub token_fetches: AtomicU64,
}

/// A shared client for one source system.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    system: String,
    client: reqwest::Client,
    auth: Auth,
    settings: HttpSettings,
    hint: String,
    token: tokio::sync::Mutex<Option<CachedToken>>,
    shutdown: CancellationToken,
    stats: HttpStats,
}

/// A deserialised body together with the JSON it came from (for `meta.raw`).
#[derive(Debug, Clone)]
pub struct WithRaw<T> {
    pub value: T,
    pub raw: serde_json::Value,
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for WithRaw<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = serde_json::Value::deserialize(d)?;
        let value = T::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(Self { value, raw })
    }
}

/// The outcome of one attempt.
enum Attempt {
    Body(Vec<u8>),
    /// The body was larger than `max_response_bytes` (the detail says how large).
    TooLarge(String),
    Unauthorized,
    Retry(Failure),
    Fatal(u16, String),
}

enum Failure {
    RateLimited(Option<Duration>),
    Transient(String),
}

impl HttpClient {
    /// A client for `system` (the name used in errors and logs).
    pub fn new(system: &str, auth: Auth, settings: HttpSettings) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .user_agent(concat!("coophub-adapter/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SourceError::config(system, format!("HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                system: system.to_owned(),
                client,
                auth,
                settings,
                hint: String::new(),
                token: tokio::sync::Mutex::new(None),
                shutdown: CancellationToken::new(),
                stats: HttpStats::default(),
            }),
        })
    }

    /// Names the settings to check when credentials are rejected (`COOP_ALLIANCE_API_KEY`).
    pub fn with_credentials_hint(mut self, names: &str) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hint = format!(": check {names}");
        }
        self
    }

    /// Waits between attempts end (with [`SourceError::Cancelled`]) when `token` fires.
    pub fn with_shutdown(mut self, token: CancellationToken) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.shutdown = token;
        }
        self
    }

    pub fn system(&self) -> &str {
        &self.inner.system
    }

    pub fn stats(&self) -> &HttpStats {
        &self.inner.stats
    }

    /// GET `url` with `query`, authenticated, retried, deserialised as `T`; in a client
    /// span (the path only: a query may name what is asked for).
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> Result<T, SourceError> {
        let parsed = reqwest::Url::parse(url).ok();
        let span = tracing::info_span!("fetch", otel.name = "GET", otel.kind = "client",
            http.request.method = "GET",
            server.address = parsed.as_ref().and_then(|u| u.host_str()).unwrap_or(""),
            url.path = parsed.as_ref().map(|u| u.path()).unwrap_or(""),
            hub.source.system = %self.inner.system);
        let traceparent = propagation::traceparent(&span);
        let result = self
            .get_json_traced(url, query, traceparent.as_deref())
            .instrument(span.clone())
            .await;
        if result.is_ok() {
            note_page_fetch(&span);
        }
        result
    }

    async fn get_json_traced<T: DeserializeOwned>(
        &self,
        url: &str,
        query: &[(&str, String)],
        traceparent: Option<&str>,
    ) -> Result<T, SourceError> {
        let mut retry = Retrier::new(self, url);
        let mut reauthenticated = false;
        loop {
            let mut req = self.inner.client.get(url).query(query);
            if let Some(t) = traceparent {
                req = req.header(propagation::TRACEPARENT, t);
            }
            req = self.authorise(req).await?;
            match self.attempt(req).await {
                Attempt::Body(bytes) => match serde_json::from_slice::<T>(&bytes) {
                    Ok(v) => return Ok(v),
                    Err(e) => retry.garbage(e.to_string(), &bytes).await?,
                },
                Attempt::TooLarge(detail) => retry.garbage(detail, &[]).await?,
                Attempt::Unauthorized
                    if !reauthenticated
                        && matches!(self.inner.auth, Auth::OAuth2ClientCredentials { .. }) =>
                {
                    // the token expired or was revoked: fetch a new one, repeat once
                    reauthenticated = true;
                    *self.inner.token.lock().await = None;
                }
                Attempt::Unauthorized => return Err(self.unauthorized(url)),
                Attempt::Retry(f) => retry.wait(f).await?,
                Attempt::Fatal(status, snippet) => {
                    return Err(SourceError::Status {
                        system: self.inner.system.clone(),
                        url: url.to_owned(),
                        status,
                        snippet,
                    });
                }
            }
        }
    }

    fn unauthorized(&self, url: &str) -> SourceError {
        SourceError::Unauthorized {
            system: self.inner.system.clone(),
            url: url.to_owned(),
            hint: self.inner.hint.clone(),
        }
    }

    async fn authorise(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, SourceError> {
        Ok(match &self.inner.auth {
            Auth::None => req,
            Auth::ApiKey { header, key } => req.header(header.as_str(), key.expose()),
            Auth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
            Auth::OAuth2ClientCredentials { .. } => req.bearer_auth(self.bearer().await?),
        })
    }

    /// The cached bearer token, fetched anew when absent or about to expire. One fetch at a
    /// time: concurrent requests wait for it.
    async fn bearer(&self) -> Result<String, SourceError> {
        let mut slot = self.inner.token.lock().await;
        if let Some(t) = slot.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.token.clone());
        }
        let fresh = self.fetch_token().await?;
        let token = fresh.token.clone();
        *slot = Some(fresh);
        Ok(token)
    }

    async fn fetch_token(&self) -> Result<CachedToken, SourceError> {
        let Auth::OAuth2ClientCredentials {
            token_url,
            client_id,
            client_secret,
        } = &self.inner.auth
        else {
            return Err(SourceError::config(
                &self.inner.system,
                "no OAuth2 settings",
            ));
        };
        self.inner
            .stats
            .token_fetches
            .fetch_add(1, Ordering::Relaxed);
        let mut retry = Retrier::new(self, token_url);
        loop {
            let req = self.inner.client.post(token_url).form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret.expose()),
            ]);
            let issued = Instant::now();
            match self.attempt(req).await {
                Attempt::Body(bytes) => match serde_json::from_slice::<TokenResponse>(&bytes) {
                    Ok(t) => {
                        let lifetime = Duration::from_secs(t.expires_in.unwrap_or(60));
                        return Ok(CachedToken {
                            token: t.access_token,
                            refresh_at: refresh_at(issued, lifetime),
                        });
                    }
                    Err(e) => retry.garbage(e.to_string(), &bytes).await?,
                },
                Attempt::TooLarge(detail) => retry.garbage(detail, &[]).await?,
                Attempt::Unauthorized => return Err(self.unauthorized(token_url)),
                Attempt::Retry(f) => retry.wait(f).await?,
                Attempt::Fatal(status, snippet) => {
                    return Err(SourceError::Status {
                        system: self.inner.system.clone(),
                        url: token_url.clone(),
                        status,
                        snippet,
                    });
                }
            }
        }
    }

    async fn attempt(&self, req: reqwest::RequestBuilder) -> Attempt {
        self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(Failure::Transient(transport_error(&e))),
        };
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let max = self.inner.settings.max_response_bytes;
        let too_large = |n: u64| {
            Attempt::TooLarge(format!(
                "response body of {n} bytes or more is larger than the {max} bytes taken"
            ))
        };
        if let Some(n) = resp.content_length()
            && n > max as u64
        {
            return too_large(n);
        }
        let mut resp = resp;
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() > max => {
                    return too_large((body.len() + chunk.len()) as u64);
                }
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => return Attempt::Retry(Failure::Transient(transport_error(&e))),
            }
        }
        if status == StatusCode::OK {
            return Attempt::Body(body);
        }
        let text = snippet(&body);
        match status {
            StatusCode::UNAUTHORIZED => Attempt::Unauthorized,
            StatusCode::TOO_MANY_REQUESTS => Attempt::Retry(Failure::RateLimited(retry_after)),
            s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => {
                Attempt::Retry(Failure::Transient(format!("HTTP {}: {text}", s.as_u16())))
            }
            s => Attempt::Fatal(s.as_u16(), text),
        }
    }
}

fn transport_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out: {e}")
    } else if e.is_connect() {
        format!("cannot connect: {e}")
    } else {
        e.to_string()
    }
}

/// The retry budget of one request.
struct Retrier<'a> {
    client: &'a HttpClient,
    url: &'a str,
    started: Instant,
    attempts: u32,
    garbage: u32,
    backoff: Backoff,
}

impl<'a> Retrier<'a> {
    fn new(client: &'a HttpClient, url: &'a str) -> Self {
        Self {
            client,
            url,
            started: Instant::now(),
            attempts: 0,
            garbage: 0,
            backoff: client.inner.settings.backoff(),
        }
    }

    fn settings(&self) -> &HttpSettings {
        &self.client.inner.settings
    }

    /// A body that is not the documented JSON: wait and retry, or give up naming it.
    async fn garbage(&mut self, detail: String, body: &[u8]) -> Result<(), SourceError> {
        self.garbage += 1;
        if self.garbage >= self.settings().garbage_attempts.max(1) {
            return Err(SourceError::Garbage {
                system: self.client.inner.system.clone(),
                url: self.url.to_owned(),
                detail,
                snippet: snippet(body),
                attempts: self.garbage,
            });
        }
        tracing::warn!(system = %self.client.inner.system, url = %self.url, %detail,
            body = %snippet(body), "answer is not the documented JSON; retrying");
        let wait = self.backoff.next_wait();
        self.sleep_or_give_up(wait, format!("not the documented JSON: {detail}"))
            .await
    }

    /// A transient failure: wait as it asks (429) or on the backoff, or give up.
    async fn wait(&mut self, failure: Failure) -> Result<(), SourceError> {
        let (wait, last) = match failure {
            Failure::RateLimited(after) => {
                let backoff = self.backoff.next_wait();
                let wait = match after {
                    Some(d) => Some(d.min(self.settings().max_retry_after)),
                    None => backoff,
                };
                (wait, "HTTP 429 (rate limited)".to_owned())
            }
            Failure::Transient(message) => (self.backoff.next_wait(), message),
        };
        self.sleep_or_give_up(wait, last).await
    }

    async fn sleep_or_give_up(
        &mut self,
        wait: Option<Duration>,
        last: String,
    ) -> Result<(), SourceError> {
        self.attempts += 1;
        let elapsed = self.started.elapsed();
        let over_time = wait.is_none_or(|w| elapsed + w > self.settings().max_elapsed);
        if self.attempts >= self.settings().max_attempts || over_time {
            return Err(SourceError::Exhausted {
                system: self.client.inner.system.clone(),
                url: self.url.to_owned(),
                attempts: self.attempts,
                elapsed,
                last,
            });
        }
        let wait = wait.unwrap_or_default();
        self.client
            .inner
            .stats
            .retries
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(system = %self.client.inner.system, url = %self.url, error = %last,
            wait_ms = wait.as_millis() as u64, attempt = self.attempts, "transient failure; retrying");
        tokio::select! {
            _ = self.client.inner.shutdown.cancelled() => Err(SourceError::Cancelled),
            _ = tokio::time::sleep(wait) => Ok(()),
        }
    }
}

/// The start of a body for an error message: at most 120 characters, on one line, with the
/// string values of JSON masked (a cut page may hold names and phones).
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text.chars().take(160).collect();
    let trimmed = text.trim_start();
    let masked = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        mask_json_values(&text)
    } else {
        text
    };
    let one_line: String = masked
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if body.is_empty() {
        "(empty)".to_owned()
    } else {
        one_line
    }
}

/// Masks every JSON string that follows a `:` (values, not keys), even in cut text.
fn mask_json_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut after_colon = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut s = String::new();
                let mut escaped = false;
                for d in chars.by_ref() {
                    if escaped {
                        escaped = false;
                        s.push(d);
                        continue;
                    }
                    match d {
                        '\\' => escaped = true,
                        '"' => break,
                        _ => s.push(d),
                    }
                }
                out.push('"');
                if after_colon {
                    out.push_str(&hub_normalise::mask::mask_name(&s));
                } else {
                    out.push_str(&s);
                }
                out.push('"');
                after_colon = false;
            }
            ':' => {
                after_colon = true;
                out.push(c);
            }
            c if c.is_whitespace() => out.push(c),
            _ => {
                after_colon = false;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mask_values_but_keep_keys_and_html() {
        let s = snippet(br#"{"items":[{"name":"L\u00f2 V\u0103n Minh","phone":"0912345678","n":3"#);
        assert!(s.contains("\"items\""), "{s}");
        assert!(!s.contains("Minh") && !s.contains("0912345678"), "{s}");
        let html = snippet(b"<html><head><title>502 Bad Gateway</title></head></html>");
        assert!(html.contains("502 Bad Gateway"), "{html}");
        assert_eq!(snippet(b""), "(empty)");
        assert!(snippet(&[b'x'; 1000]).chars().count() <= 120);
    }

    #[test]
    fn tokens_are_refreshed_before_they_expire() {
        let t0 = Instant::now();
        assert_eq!(
            refresh_at(t0, Duration::from_secs(300)),
            t0 + Duration::from_secs(270)
        );
        assert_eq!(
            refresh_at(t0, Duration::from_secs(10)),
            t0 + Duration::from_secs(8)
        );
        assert_eq!(refresh_at(t0, Duration::ZERO), t0);
    }
}

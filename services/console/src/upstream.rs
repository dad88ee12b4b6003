//! The other services, as the console sees them: HTTP clients of hub-reconciler,
//! hub-indicators and the adapters (`RECONCILER_URL`, `INDICATORS_URL`, `ADAPTER_URLS`).
//!
//! Every call to the reconciler, the indicators or an adapter carries the service credential
//! (`Authorization: Bearer <SERVICE_TOKEN>`); an action also carries the operator of the
//! authenticated console session in `X-Hub-Operator` (never in the body), which those
//! services trust only with the credential.
//!
//! Responses are kept as JSON values: the console shows what the services say and tolerates
//! fields it does not know, so a service may add fields without breaking it. Owns no data;
//! never reads another service's tables, only its public HTTP API.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

/// Which service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Reconciler,
    Indicators,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Reconciler => "reconciler",
            Service::Indicators => "indicators",
        }
    }

    fn variable(self) -> &'static str {
        match self {
            Service::Reconciler => "RECONCILER_URL",
            Service::Indicators => "INDICATORS_URL",
        }
    }
}

/// What went wrong asking another service.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{service} is not configured (set {variable})")]
    NotConfigured {
        service: String,
        variable: &'static str,
    },
    #[error("{service} did not answer: {message}")]
    Unreachable { service: String, message: String },
    #[error("{service} answered {status}: {message}")]
    Status {
        service: String,
        status: StatusCode,
        message: String,
    },
    #[error("{service} answered something that is not JSON: {message}")]
    Body { service: String, message: String },
}

impl UpstreamError {
    /// The status the console answers with: the service's own 4xx, else 502 (503 when not
    /// configured).
    pub fn status(&self) -> StatusCode {
        match self {
            UpstreamError::NotConfigured { .. } => StatusCode::SERVICE_UNAVAILABLE,
            UpstreamError::Status { status, .. } if status.is_client_error() => *status,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

/// The clients.
#[derive(Clone)]
pub struct Upstream {
    http: reqwest::Client,
    /// For streams (`/log/stream`): no overall timeout.
    streaming: reqwest::Client,
    reconciler: Option<String>,
    indicators: Option<String>,
    adapters: Vec<(String, String)>,
    /// `SERVICE_TOKEN`.
    token: Option<String>,
}

/// A raw response (exports).
pub struct RawResponse {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
    pub body: Vec<u8>,
}

fn trim(url: &Option<String>) -> Option<String> {
    url.as_ref().map(|u| u.trim_end_matches('/').to_owned())
}

impl Upstream {
    pub fn new(
        reconciler: &Option<String>,
        indicators: &Option<String>,
        adapters: &[(String, String)],
        timeout: Duration,
        token: Option<String>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        let streaming = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            streaming,
            reconciler: trim(reconciler),
            indicators: trim(indicators),
            adapters: adapters
                .iter()
                .map(|(s, u)| (s.clone(), u.trim_end_matches('/').to_owned()))
                .collect(),
            token,
        }
    }

    /// Adds the service credential and, for an action, the operator.
    fn authorised(
        &self,
        req: reqwest::RequestBuilder,
        operator: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        match operator {
            Some(op) => req.header(
                hub_runtime::service_auth::OPERATOR_HEADER,
                hub_runtime::service_auth::encode_operator(op),
            ),
            None => req,
        }
    }

    /// The configured adapters: `(system, base URL)`.
    pub fn adapters(&self) -> &[(String, String)] {
        &self.adapters
    }

    pub fn adapter_url(&self, system: &str) -> Option<&str> {
        self.adapters
            .iter()
            .find(|(s, _)| s == system)
            .map(|(_, u)| u.as_str())
    }

    fn base(&self, service: Service) -> Result<&str, UpstreamError> {
        match service {
            Service::Reconciler => self.reconciler.as_deref(),
            Service::Indicators => self.indicators.as_deref(),
        }
        .ok_or(UpstreamError::NotConfigured {
            service: service.name().into(),
            variable: service.variable(),
        })
    }

    /// `GET path?query` on a service, as JSON.
    pub async fn get(
        &self,
        service: Service,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}{path}", self.base(service)?);
        let req = self.authorised(self.http.get(url).query(query), None);
        json_of(service.name(), req.send().await).await
    }

    /// `POST path` with a JSON body, as `operator` (the authenticated caller).
    pub async fn post(
        &self,
        service: Service,
        path: &str,
        query: &[(String, String)],
        body: &Value,
        operator: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}{path}", self.base(service)?);
        let req = self.authorised(self.http.post(url).query(query).json(body), Some(operator));
        json_of(service.name(), req.send().await).await
    }

    /// `GET path?query`, the body as it is (CSV, XLSX).
    pub async fn get_raw(
        &self,
        service: Service,
        path: &str,
        query: &[(String, String)],
    ) -> Result<RawResponse, UpstreamError> {
        let name = service.name();
        let url = format!("{}{path}", self.base(service)?);
        let resp = self
            .authorised(self.http.get(url).query(query), None)
            .send()
            .await
            .map_err(|e| unreachable(name, &e))?;
        let status = resp.status();
        let header = |h: reqwest::header::HeaderName| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE);
        let content_disposition = header(reqwest::header::CONTENT_DISPOSITION);
        let body = resp
            .bytes()
            .await
            .map_err(|e| unreachable(name, &e))?
            .to_vec();
        if !status.is_success() {
            return Err(UpstreamError::Status {
                service: name.into(),
                status,
                message: message_of(&body),
            });
        }
        Ok(RawResponse {
            status,
            content_type,
            content_disposition,
            body,
        })
    }

    /// Opens a stream (server-sent events) on a service.
    pub async fn stream(
        &self,
        service: Service,
        path: &str,
        query: &[(String, String)],
    ) -> Result<reqwest::Response, UpstreamError> {
        let name = service.name();
        let url = format!("{}{path}", self.base(service)?);
        let resp = self
            .authorised(self.streaming.get(url).query(query), None)
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| unreachable(name, &e))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.bytes().await.unwrap_or_default();
            return Err(UpstreamError::Status {
                service: name.into(),
                status,
                message: message_of(&body),
            });
        }
        Ok(resp)
    }

    /// `GET url` on an adapter, with the service credential: status and body text.
    pub async fn get_text(
        &self,
        who: &str,
        url: &str,
    ) -> Result<(StatusCode, String), UpstreamError> {
        let resp = self
            .authorised(self.http.get(url), None)
            .send()
            .await
            .map_err(|e| unreachable(who, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| unreachable(who, &e))?;
        Ok((status, text))
    }

    /// `POST url` on an adapter with an empty JSON body, with the service credential, naming
    /// the operator: status and body text.
    pub async fn post_text(
        &self,
        who: &str,
        url: &str,
        operator: &str,
    ) -> Result<(StatusCode, String), UpstreamError> {
        let req = self.http.post(url).json(&serde_json::json!({}));
        let resp = self
            .authorised(req, Some(operator))
            .send()
            .await
            .map_err(|e| unreachable(who, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| unreachable(who, &e))?;
        Ok((status, text))
    }
}

impl Upstream {
    /// Posts a file to a file source's upload API (`{base}/api/v1/upload?file=NAME`) with
    /// the service credential, naming the operator; the adapter's status and body.
    pub async fn post_file(
        &self,
        who: &str,
        base: &str,
        operator: &str,
        file_name: &str,
        bytes: Vec<u8>,
    ) -> Result<(StatusCode, String), UpstreamError> {
        let req = self
            .http
            .post(format!("{base}/api/v1/upload"))
            .query(&[("file", file_name)])
            .body(bytes);
        let resp = self
            .authorised(req, Some(operator))
            .send()
            .await
            .map_err(|e| unreachable(who, &e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| unreachable(who, &e))?;
        Ok((status, text))
    }
}

fn unreachable(service: &str, e: &reqwest::Error) -> UpstreamError {
    UpstreamError::Unreachable {
        service: service.into(),
        message: e.to_string(),
    }
}

/// The `error` of a JSON error body, else the text, shortened.
fn message_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| text.trim().to_owned());
    msg.chars().take(500).collect()
}

async fn json_of(
    service: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, UpstreamError> {
    let resp = sent.map_err(|e| unreachable(service, &e))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| unreachable(service, &e))?;
    if !status.is_success() {
        return Err(UpstreamError::Status {
            service: service.into(),
            status,
            message: message_of(&body),
        });
    }
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&body).map_err(|e| UpstreamError::Body {
        service: service.into(),
        message: e.to_string(),
    })
}

//! Fault injection: rate limiting (429 with `Retry-After`), transient server errors, added
//! latency, garbage bodies on 200, and the loan fund's token lifetime, per server, set at
//! start and changed at run time through `PUT /_sim/faults`.
//!
//! Owns [`Faults`], [`FaultsUpdate`], the per-server [`FaultState`] and the axum middleware
//! that applies them. The middleware wraps the agency API routes only, never `/_sim/`.
//! Draws come from a ChaCha stream seeded per server, so a fixed request sequence meets a
//! fixed fault sequence; `queue` scripts the next requests' faults exactly.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::world::System;

/// A fault to inject into exactly one upcoming request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScriptedFault {
    /// 429 with `Retry-After`.
    #[serde(rename = "rate_limited")]
    RateLimited,
    #[serde(rename = "500")]
    Error500,
    #[serde(rename = "502")]
    Error502,
    #[serde(rename = "503")]
    Error503,
    /// 200 with a body that is not the documented JSON.
    #[serde(rename = "garbage")]
    Garbage,
}

/// A server's faults. Rates are probabilities in [0, 1] per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests answered 429 (never on ntm: its spec has no 429).
    pub rate_429: f64,
    /// `Retry-After` of a 429, in seconds.
    pub retry_after_secs: u64,
    /// Share of requests answered with a transient 5xx (coop-alliance 500/502/503,
    /// loan-fund 500/503, ntm 503).
    pub rate_5xx: f64,
    /// Added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Share of 200 answers whose body is replaced by garbage.
    pub garbage_rate: f64,
    /// Lifetime of new loan-fund tokens, in seconds (ignored by the other servers).
    pub token_lifetime_secs: u64,
    /// Faults for the next requests, in order, before the rates apply.
    pub queue: Vec<ScriptedFault>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_429: 0.0,
            retry_after_secs: 1,
            rate_5xx: 0.0,
            latency_ms: 0,
            garbage_rate: 0.0,
            token_lifetime_secs: 300,
            queue: Vec::new(),
        }
    }
}

/// A partial change of [`Faults`] (the body of `PUT /_sim/faults`): fields left out keep
/// their value; `queue` replaces the queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultsUpdate {
    pub rate_429: Option<f64>,
    pub retry_after_secs: Option<u64>,
    pub rate_5xx: Option<f64>,
    pub latency_ms: Option<u64>,
    pub garbage_rate: Option<f64>,
    pub token_lifetime_secs: Option<u64>,
    pub queue: Option<Vec<ScriptedFault>>,
}

impl Faults {
    /// The faults after `update`.
    pub fn updated(&self, update: &FaultsUpdate) -> Faults {
        Faults {
            rate_429: update.rate_429.unwrap_or(self.rate_429),
            retry_after_secs: update.retry_after_secs.unwrap_or(self.retry_after_secs),
            rate_5xx: update.rate_5xx.unwrap_or(self.rate_5xx),
            latency_ms: update.latency_ms.unwrap_or(self.latency_ms),
            garbage_rate: update.garbage_rate.unwrap_or(self.garbage_rate),
            token_lifetime_secs: update
                .token_lifetime_secs
                .unwrap_or(self.token_lifetime_secs),
            queue: update.queue.clone().unwrap_or_else(|| self.queue.clone()),
        }
    }

    /// Checks the faults make sense for `system` (rates in [0, 1], only the statuses its
    /// spec documents, latency at most 60 s).
    pub fn validate(&self, system: System) -> Result<(), SimError> {
        for (name, r) in [
            ("rate_429", self.rate_429),
            ("rate_5xx", self.rate_5xx),
            ("garbage_rate", self.garbage_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(SimError::InvalidParam(format!(
                    "{name} must be in [0, 1]: {r}"
                )));
            }
        }
        if self.latency_ms > 60_000 {
            return Err(SimError::InvalidParam(
                "latency_ms must be at most 60000".into(),
            ));
        }
        if system == System::Ntm && self.rate_429 > 0.0 {
            return Err(SimError::InvalidParam(
                "ntm answers no 429 (its spec lists only 503)".into(),
            ));
        }
        for f in &self.queue {
            if let Some(status) = scripted_status(*f)
                && !server_errors(system).contains(&status)
            {
                return Err(SimError::InvalidParam(format!(
                    "{system} does not answer {status} (its spec lists {:?})",
                    server_errors(system)
                )));
            }
            if *f == ScriptedFault::RateLimited && system == System::Ntm {
                return Err(SimError::InvalidParam(
                    "ntm answers no 429 (its spec lists only 503)".into(),
                ));
            }
        }
        Ok(())
    }
}

fn scripted_status(f: ScriptedFault) -> Option<u16> {
    match f {
        ScriptedFault::Error500 => Some(500),
        ScriptedFault::Error502 => Some(502),
        ScriptedFault::Error503 => Some(503),
        _ => None,
    }
}

/// The transient server errors a system's spec documents.
pub fn server_errors(system: System) -> &'static [u16] {
    match system {
        System::CoopAlliance => &[500, 502, 503],
        System::LoanFund => &[500, 503],
        System::Ntm => &[503],
    }
}

/// Counts of what the fault layer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultStats {
    /// API requests seen (admin requests are not counted).
    pub requests: u64,
    pub rate_limited: u64,
    pub server_errors: u64,
    pub garbage: u64,
}

/// One server's faults, randomness and counters.
#[derive(Debug)]
pub struct FaultState {
    pub system: System,
    faults: Mutex<Faults>,
    rng: Mutex<ChaCha8Rng>,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    garbage: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    RateLimited(u64),
    Status(u16),
    Garbage(u8),
}

impl FaultState {
    pub fn new(system: System, faults: Faults, seed: u64) -> Result<FaultState, SimError> {
        faults.validate(system)?;
        let stream = match system {
            System::CoopAlliance => 501,
            System::LoanFund => 502,
            System::Ntm => 503,
        };
        Ok(FaultState {
            system,
            faults: Mutex::new(faults),
            rng: Mutex::new(crate::generate::stream(seed, stream)),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            server_errors: AtomicU64::new(0),
            garbage: AtomicU64::new(0),
        })
    }

    pub fn get(&self) -> Faults {
        self.faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the faults (validated first).
    pub fn set(&self, faults: Faults) -> Result<Faults, SimError> {
        faults.validate(self.system)?;
        *self.faults.lock().unwrap_or_else(PoisonError::into_inner) = faults.clone();
        Ok(faults)
    }

    /// Applies a partial change.
    pub fn update(&self, update: &FaultsUpdate) -> Result<Faults, SimError> {
        let mut guard = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let next = guard.updated(update);
        next.validate(self.system)?;
        *guard = next.clone();
        Ok(next)
    }

    pub fn stats(&self) -> FaultStats {
        FaultStats {
            requests: self.requests.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            server_errors: self.server_errors.load(Ordering::Relaxed),
            garbage: self.garbage.load(Ordering::Relaxed),
        }
    }

    /// Lifetime of a token issued now.
    pub fn token_lifetime(&self) -> u64 {
        self.get().token_lifetime_secs
    }

    fn decide(&self) -> (u64, Option<Action>) {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let garbage_kind = rng.random_range(0..GARBAGE_KINDS);
        let action = if !faults.queue.is_empty() {
            let f = faults.queue.remove(0);
            Some(match f {
                ScriptedFault::RateLimited => Action::RateLimited(faults.retry_after_secs),
                ScriptedFault::Garbage => Action::Garbage(garbage_kind),
                other => Action::Status(scripted_status(other).unwrap_or(503)),
            })
        } else {
            let r429 = rng.random::<f64>();
            let r5xx = rng.random::<f64>();
            let rgarbage = rng.random::<f64>();
            if r429 < faults.rate_429 && self.system != System::Ntm {
                Some(Action::RateLimited(faults.retry_after_secs))
            } else if r5xx < faults.rate_5xx {
                let status = server_errors(self.system)
                    .choose(&mut *rng)
                    .copied()
                    .unwrap_or(503);
                Some(Action::Status(status))
            } else if rgarbage < faults.garbage_rate {
                Some(Action::Garbage(garbage_kind))
            } else {
                None
            }
        };
        (faults.latency_ms, action)
    }
}

const GARBAGE_KINDS: u8 = 5;

/// The middleware: latency, then 429 / 5xx / garbage as drawn.
pub async fn inject(State(fs): State<Arc<FaultState>>, req: Request, next: Next) -> Response {
    fs.requests.fetch_add(1, Ordering::Relaxed);
    let (latency, action) = fs.decide();
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match action {
        None => next.run(req).await,
        Some(Action::RateLimited(secs)) => {
            fs.rate_limited.fetch_add(1, Ordering::Relaxed);
            let mut resp = (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(serde_json::json!({"error": "rate_limited"})),
            )
                .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
        Some(Action::Status(code)) => {
            fs.server_errors.fetch_add(1, Ordering::Relaxed);
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            (
                status,
                axum::Json(
                    serde_json::json!({"error": status.canonical_reason().unwrap_or("error")}),
                ),
            )
                .into_response()
        }
        Some(Action::Garbage(kind)) => {
            let resp = next.run(req).await;
            if resp.status() != StatusCode::OK {
                return resp;
            }
            fs.garbage.fetch_add(1, Ordering::Relaxed);
            let (mut parts, body) = resp.into_parts();
            let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
                .await
                .unwrap_or_default();
            let garbage: Vec<u8> = match kind {
                // the real body cut in half: invalid JSON
                0 => bytes[..bytes.len() / 2].to_vec(),
                // a proxy's error page
                1 => b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
                    .to_vec(),
                // valid JSON, not the documented shape
                2 => br#"{"status":"ok","result":null}"#.to_vec(),
                3 => Vec::new(),
                _ => br#"["maintenance"]"#.to_vec(),
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Response::from_parts(parts, Body::from(garbage))
        }
    }
}

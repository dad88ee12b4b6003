//! The CloudEvents 1.0 envelope (structured JSON mode) every hub message travels in.
//!
//! Owns: the envelope's attributes, building one around a [`Contract`] payload, and decoding
//! bytes into a typed envelope with an error that says what was wrong. Knows nothing of
//! exchanges, queues or retries: that is the runtime's business.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::registry::{Contract, find_contract};

/// The only CloudEvents spec version the hub speaks.
pub const SPEC_VERSION: &str = "1.0";
/// Media type of every payload.
pub const DATA_CONTENT_TYPE: &str = "application/json";

/// A CloudEvents 1.0 event in structured mode, with the hub's two extension attributes:
/// `correlationid` (one id for every message caused by one source record or request) and
/// `traceparent` (W3C Trace Context, so one trace follows a record through every service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope<T> {
    /// Always `"1.0"`.
    pub specversion: String,
    /// Unique per message; equal ids mean the same message (consumers are idempotent on it).
    pub id: String,
    /// URI naming the producer, e.g. `urn:coophub:adapter:coop-alliance`.
    pub source: String,
    /// Payload type and version, e.g. `indicator.snapshot.v1`.
    #[serde(rename = "type")]
    pub ty: String,
    /// When the producer created the event.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// URI of the payload's JSON Schema.
    pub dataschema: String,
    /// What the event is about (a source record id, an organisation id, a unit code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Correlates every message caused by the same origin.
    pub correlationid: String,
    /// W3C `traceparent` header value (`00-<trace-id>-<span-id>-<flags>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    /// The payload.
    pub data: T,
}

/// An envelope whose payload is not decoded yet: what a consumer sees first.
pub type RawEnvelope = Envelope<serde_json::Value>;

/// Why bytes could not become a typed envelope. Each variant names what was wrong and where.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("malformed JSON envelope at line {line}, column {column}: {message}")]
    Malformed {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("unsupported CloudEvents specversion {0:?} (expected \"1.0\")")]
    SpecVersion(String),
    #[error("unsupported datacontenttype {0:?} (expected \"application/json\")")]
    ContentType(String),
    #[error("unknown contract type {0:?}: no such type or version is published")]
    UnknownType(String),
    #[error("contract type {found:?} where {expected:?} was expected")]
    TypeMismatch { expected: String, found: String },
    #[error("payload of {ty} does not match its schema: {message}")]
    InvalidData { ty: String, message: String },
}

impl EnvelopeError {
    /// A short machine-readable kind, used as the dead-letter reason code.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::SpecVersion(_) | Self::ContentType(_) => "unsupported-envelope",
            Self::UnknownType(_) => "unknown-contract",
            Self::TypeMismatch { .. } => "type-mismatch",
            Self::InvalidData { .. } => "invalid-data",
        }
    }
}

impl<T: Contract> Envelope<T> {
    /// Wraps `data` in a fresh envelope. `id` should be deterministic where the message may be
    /// produced twice (see [`Envelope::deterministic_id`]).
    pub fn new(id: impl Into<String>, source: impl Into<String>, data: T) -> Self {
        let id = id.into();
        Self {
            specversion: SPEC_VERSION.to_owned(),
            correlationid: id.clone(),
            id,
            source: source.into(),
            ty: T::TYPE.to_owned(),
            time: Utc::now(),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataschema: crate::registry::schema_uri(T::TYPE),
            subject: None,
            traceparent: None,
            data,
        }
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn with_correlation(mut self, correlation: impl Into<String>) -> Self {
        self.correlationid = correlation.into();
        self
    }

    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// Serialises to a JSON value (cannot fail for the hub's payload types).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Serialises to bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl<T> Envelope<T> {
    /// A name-based UUID (v5) from parts, so that producing the same thing twice yields the
    /// same message id and consumers' inboxes drop the second.
    pub fn deterministic_id(parts: &[&str]) -> String {
        Uuid::new_v5(&Uuid::NAMESPACE_URL, parts.join("\u{1f}").as_bytes()).to_string()
    }
}

impl RawEnvelope {
    /// Parses bytes as an envelope and checks the envelope attributes and that the type is a
    /// published contract. The payload stays untyped.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let env: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| EnvelopeError::Malformed {
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        if env.specversion != SPEC_VERSION {
            return Err(EnvelopeError::SpecVersion(env.specversion));
        }
        if env.datacontenttype != DATA_CONTENT_TYPE {
            return Err(EnvelopeError::ContentType(env.datacontenttype));
        }
        if find_contract(&env.ty).is_none() {
            return Err(EnvelopeError::UnknownType(env.ty));
        }
        Ok(env)
    }

    /// Decodes the payload as contract `T` without consuming (or copying) the untyped one.
    pub fn decode_ref<T: Contract + DeserializeOwned>(&self) -> Result<Envelope<T>, EnvelopeError> {
        if self.ty != T::TYPE {
            return Err(EnvelopeError::TypeMismatch {
                expected: T::TYPE.to_owned(),
                found: self.ty.clone(),
            });
        }
        let data = T::deserialize(&self.data).map_err(|e| EnvelopeError::InvalidData {
            ty: self.ty.clone(),
            message: e.to_string(),
        })?;
        Ok(Envelope {
            specversion: self.specversion.clone(),
            id: self.id.clone(),
            source: self.source.clone(),
            ty: self.ty.clone(),
            time: self.time,
            datacontenttype: self.datacontenttype.clone(),
            dataschema: self.dataschema.clone(),
            subject: self.subject.clone(),
            correlationid: self.correlationid.clone(),
            traceparent: self.traceparent.clone(),
            data,
        })
    }

    /// Decodes the payload as contract `T`.
    pub fn decode<T: Contract + DeserializeOwned>(self) -> Result<Envelope<T>, EnvelopeError> {
        if self.ty != T::TYPE {
            return Err(EnvelopeError::TypeMismatch {
                expected: T::TYPE.to_owned(),
                found: self.ty,
            });
        }
        let data =
            serde_json::from_value::<T>(self.data).map_err(|e| EnvelopeError::InvalidData {
                ty: self.ty.clone(),
                message: e.to_string(),
            })?;
        Ok(Envelope {
            specversion: self.specversion,
            id: self.id,
            source: self.source,
            ty: self.ty,
            time: self.time,
            datacontenttype: self.datacontenttype,
            dataschema: self.dataschema,
            subject: self.subject,
            correlationid: self.correlationid,
            traceparent: self.traceparent,
            data,
        })
    }
}

/// Parses and decodes in one step.
pub fn decode<T: Contract + DeserializeOwned>(bytes: &[u8]) -> Result<Envelope<T>, EnvelopeError> {
    RawEnvelope::parse(bytes)?.decode()
}

//! Types shared by several v1 payloads.

use chrono::{DateTime, FixedOffset};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Legal form of a collective economic organisation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum OrgKind {
    /// Hợp tác xã: cooperative.
    #[serde(rename = "HTX")]
    Htx,
    /// Tổ hợp tác: cooperative group.
    #[serde(rename = "THT")]
    Tht,
    /// Liên hiệp hợp tác xã: union of cooperatives.
    #[serde(rename = "LHHTX")]
    Lhhtx,
}

impl OrgKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Htx => "HTX",
            Self::Tht => "THT",
            Self::Lhhtx => "LHHTX",
        }
    }
}

/// A record's identity in the system that holds it: `system` is the source's name
/// (`coop-alliance`, `loan-fund`, `ntm`, or a later source's), `id` its own id there
/// (for NTM entries `{commune_code}:{year}:{index}`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct SourceRef {
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]*$"), length(max = 64))]
    pub system: String,
    #[schemars(length(max = 256))]
    pub id: String,
}

impl SourceRef {
    pub fn new(system: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            system: system.into(),
            id: id.into(),
        }
    }
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.system, self.id)
    }
}

/// A value the adapter could not accept as it was. The record is still delivered; the field
/// holds `null` (or the best certain reading) and this says what was wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldIssue {
    /// JSON path of the field in the source record, e.g. `borrower.tax_code`.
    #[schemars(length(max = 256))]
    pub field: String,
    /// What was wrong, in words.
    #[schemars(length(max = 2000))]
    pub problem: String,
    /// The value as the source gave it (personal data fields are not copied here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<serde_json::Value>,
}

/// Where a source record came from and how it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceMeta {
    /// The record's identity in its system.
    pub source: SourceRef,
    /// When the adapter read it (or the agency pushed it).
    pub fetched_at: DateTime<FixedOffset>,
    /// SHA-256 of the raw record's canonical JSON: equal hashes mean unchanged content.
    #[schemars(length(max = 128))]
    pub content_hash: String,
    /// The record exactly as the source served it, for provenance.
    pub raw: serde_json::Value,
    /// Values that were invalid or doubtful.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub issues: Vec<FieldIssue>,
}

/// A person named by a source (personal data: masked in logs, shown only to roles that need it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Person {
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub full_name: Option<String>,
    /// E.164 (`+84912345678`) when the source's phone could be read, else null.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub phone: Option<String>,
}

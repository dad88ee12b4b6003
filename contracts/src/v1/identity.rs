//! Identity contracts: the reconciler's golden records, merges, splits and decision log.
//!
//! Published on the `coophub.identity` exchange. An organisation id is a UUID the hub assigns;
//! `source_refs` is the crosswalk from source records to it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{OrgKind, Person, SourceRef};
use super::source::{KeyOfficers, OrgStatus, Origin, Rating};

/// `identity.golden_record.v1`: the hub's best view of one organisation, after survivorship
/// (the registry wins for legal name, code, kind and location). Published at each change;
/// a higher `version` supersedes a lower one. A `retired` record was merged into another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GoldenRecord {
    pub organisation_id: Uuid,
    /// Grows by one at each change of this record.
    pub version: u64,
    /// True once the organisation was merged into another (`merged_into`) or emptied by a split.
    #[serde(default)]
    pub retired: bool,
    #[serde(default)]
    pub merged_into: Option<Uuid>,
    #[serde(default)]
    pub kind: Option<OrgKind>,
    pub name: String,
    #[serde(default)]
    pub registration_code: Option<String>,
    #[serde(default)]
    pub commune_code: Option<String>,
    #[serde(default)]
    pub district_code: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// Personal data.
    #[serde(default)]
    pub representative: Option<Person>,
    #[serde(default)]
    pub established_on: Option<NaiveDate>,
    #[serde(default)]
    pub status: Option<OrgStatus>,
    #[serde(default)]
    pub member_households: Option<u32>,
    #[serde(default)]
    pub farmers_union_supported: Option<bool>,
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default)]
    pub rating: Option<Rating>,
    #[serde(default)]
    pub enterprise_linkage: Option<bool>,
    #[serde(default)]
    pub key_officers: Option<KeyOfficers>,
    /// True when a Cooperative Alliance registry record is part of this identity.
    pub in_registry: bool,
    /// Every source record resolved to this organisation (the crosswalk).
    pub source_refs: Vec<SourceRef>,
    /// For each attribute above, the source record its value came from.
    #[serde(default)]
    pub attribute_sources: BTreeMap<String, SourceRef>,
    pub updated_at: DateTime<Utc>,
}

/// `identity.merged.v1`: organisations found to be one. `absorbed` ids are retired and their
/// source records now belong to `survivor`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IdentityMerged {
    pub survivor: Uuid,
    pub absorbed: Vec<Uuid>,
    pub moved_refs: Vec<SourceRef>,
    pub reason: String,
    /// Operator who decided, null for an automatic merge.
    #[serde(default)]
    pub decided_by: Option<String>,
    pub decision_id: Uuid,
    pub at: DateTime<Utc>,
}

/// One part of a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SplitPart {
    pub organisation_id: Uuid,
    pub source_refs: Vec<SourceRef>,
}

/// `identity.split.v1`: one organisation found to be several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IdentitySplit {
    pub original: Uuid,
    pub parts: Vec<SplitPart>,
    pub reason: String,
    #[serde(default)]
    pub decided_by: Option<String>,
    pub decision_id: Uuid,
    pub at: DateTime<Utc>,
}

/// What the reconciler decided about an observation or a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionOutcome {
    /// Resolved to an existing organisation.
    Matched,
    /// Became a new organisation.
    New,
    /// Doubtful: waits for an operator.
    Review,
    Merged,
    Split,
    /// An operator linked a pair.
    OperatorLinked,
    /// An operator separated a pair.
    OperatorSeparated,
    /// Outside the hub's scope (a household borrower).
    OutOfScope,
}

/// `reconciliation.decision.v1`: one entry of the reconciliation log. Personal data is masked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReconciliationDecision {
    pub decision_id: Uuid,
    pub at: DateTime<Utc>,
    pub outcome: DecisionOutcome,
    /// The observation decided on.
    #[serde(default)]
    pub source: Option<SourceRef>,
    /// The organisation it went to (or was proposed for).
    #[serde(default)]
    pub organisation_id: Option<Uuid>,
    /// For a review or operator decision: the other side of the pair.
    #[serde(default)]
    pub candidate_id: Option<Uuid>,
    /// Overall match score in [0, 1], when scored.
    #[serde(default)]
    pub score: Option<f64>,
    /// The features that drove the decision, each in [0, 1] (or a weight).
    #[serde(default)]
    pub features: BTreeMap<String, f64>,
    /// The rule that fired (e.g. `registration_code`, `probabilistic`, `operator`).
    pub rule: String,
    /// Version of the matching rules.
    pub rule_version: String,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

//! The engine's public data: what an operation changed ([`Changes`]), review items, operator
//! constraints, the stored form of identities and observations (what the service persists
//! and what [`super::Engine::restore`] rebuilds from), and errors.
//!
//! Owns data shapes only; no logic beyond small constructors.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use hub_contracts::v1::{IdentityMerged, IdentitySplit, ReconciliationDecision, SourceRef};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::observation::Observation;

/// An organisation id (a golden record's id).
pub type OrgId = Uuid;

/// Where an observation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObsState {
    /// Resolved to an identity.
    Active,
    /// A household borrower: kept, never matched.
    OutOfScope,
    /// No longer served by its source (an NTM entry dropped from a later revision).
    Withdrawn,
}

impl ObsState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObsState::Active => "active",
            ObsState::OutOfScope => "out_of_scope",
            ObsState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(s: &str) -> Option<ObsState> {
        match s {
            "active" => Some(ObsState::Active),
            "out_of_scope" => Some(ObsState::OutOfScope),
            "withdrawn" => Some(ObsState::Withdrawn),
            _ => None,
        }
    }
}

/// An operator's constraint between two source records. It always wins over the automatic
/// matcher, now and in every later run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    MustLink,
    CannotLink,
}

impl ConstraintKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConstraintKind::MustLink => "must_link",
            ConstraintKind::CannotLink => "cannot_link",
        }
    }

    pub fn parse(s: &str) -> Option<ConstraintKind> {
        match s {
            "must_link" => Some(ConstraintKind::MustLink),
            "cannot_link" => Some(ConstraintKind::CannotLink),
            _ => None,
        }
    }
}

/// One operator constraint. `a < b`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Constraint {
    pub a: SourceRef,
    pub b: SourceRef,
    pub kind: ConstraintKind,
    pub operator: String,
    pub reason: String,
    pub decision_id: Uuid,
    pub at: DateTime<Utc>,
}

/// Status of a review item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waits for an operator.
    Open,
    /// An operator said: the same organisation.
    Linked,
    /// An operator said: different organisations.
    Separated,
    /// The observation changed or left before anyone decided; a newer item replaces it.
    Superseded,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Linked => "linked",
            ReviewStatus::Separated => "separated",
            ReviewStatus::Superseded => "superseded",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewStatus> {
        match s {
            "open" => Some(ReviewStatus::Open),
            "linked" => Some(ReviewStatus::Linked),
            "separated" => Some(ReviewStatus::Separated),
            "superseded" => Some(ReviewStatus::Superseded),
            _ => None,
        }
    }
}

/// A doubtful pair waiting for an operator: an observation and the member of another
/// identity it resembles. Names are organisation names (a person-like one is masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReviewItem {
    pub review_id: Uuid,
    pub status: ReviewStatus,
    pub observation: SourceRef,
    pub observation_name: String,
    /// The observation's own identity when the item was opened.
    pub organisation_id: OrgId,
    /// The member of the candidate identity the observation resembles most.
    pub candidate: SourceRef,
    pub candidate_name: String,
    /// The candidate identity when the item was opened.
    pub candidate_id: OrgId,
    pub score: f64,
    pub features: BTreeMap<String, f64>,
    pub rule_version: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// An identity as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredIdentity {
    pub organisation_id: OrgId,
    pub seq: u64,
    pub retired: bool,
    pub merged_into: Option<OrgId>,
    /// Version of the last golden record published (0: none yet).
    pub golden_version: u64,
    /// Content hash of that golden record.
    pub golden_hash: String,
    /// Its name, kept for the retired record.
    pub last_name: String,
}

/// An observation as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredObservation {
    pub observation: Observation,
    pub state: ObsState,
    pub organisation_id: Option<OrgId>,
}

/// The latest revision read of an NTM report, and how many entries it had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportState {
    pub commune_code: String,
    pub year: i32,
    pub revision: u32,
    pub entries: u32,
}

/// The engine's counters (ids are derived from them, so that a run is deterministic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    pub next_org_seq: u64,
    pub next_decision_seq: u64,
    pub next_review_seq: u64,
}

/// Everything needed to rebuild an engine.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub observations: Vec<StoredObservation>,
    pub identities: Vec<StoredIdentity>,
    pub constraints: Vec<Constraint>,
    pub reviews: Vec<ReviewItem>,
    pub reports: Vec<ReportState>,
    pub counters: Counters,
}

/// What one engine operation changed: the service persists it in one transaction and
/// publishes the events through the outbox.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Log entries, personal data masked.
    pub decisions: Vec<ReconciliationDecision>,
    pub merged: Vec<IdentityMerged>,
    pub splits: Vec<IdentitySplit>,
    /// Identities whose golden record may have changed (retired ones included).
    pub identities: BTreeSet<OrgId>,
    /// Observations whose stored form changed.
    pub observations: BTreeSet<SourceRef>,
    /// Review items opened or changed (full state).
    pub reviews: Vec<ReviewItem>,
    /// Constraints added (or replacing the opposite kind on the same pair).
    pub constraints: Vec<Constraint>,
    /// Reports whose latest revision changed.
    pub reports: Vec<ReportState>,
    /// True when the input was older than what the engine already holds and was ignored.
    pub stale: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
            && self.identities.is_empty()
            && self.observations.is_empty()
            && self.reviews.is_empty()
            && self.constraints.is_empty()
            && self.reports.is_empty()
    }

    pub fn absorb(&mut self, other: Changes) {
        self.decisions.extend(other.decisions);
        self.merged.extend(other.merged);
        self.splits.extend(other.splits);
        self.identities.extend(other.identities);
        self.observations.extend(other.observations);
        self.reviews.extend(other.reviews);
        self.constraints.extend(other.constraints);
        self.reports.extend(other.reports);
        self.stale |= other.stale;
    }
}

/// Why an operator request was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error("no {what} {id}")]
    NotFound { what: &'static str, id: String },
    #[error("review item {0} was already decided ({1})")]
    AlreadyDecided(Uuid, &'static str),
    #[error("organisation {0} is retired (merged into {1:?}); act on the survivor")]
    Retired(OrgId, Option<OrgId>),
    #[error("conflicts with an earlier operator decision: {0}")]
    Conflict(String),
    #[error("invalid request: {0}")]
    Invalid(String),
}

//! The positional forms of the log calls that `settle.rs` still makes: `decision`,
//! `log_merge`, `log_split` and `open_review_item`. The rest of the engine builds a
//! [`LogEntry`], [`MergePlan`], [`SplitPlan`] or [`ReviewPair`] instead. `settle.rs` is
//! being changed elsewhere meanwhile, so its call sites stay; once they take the structs,
//! this module goes (with the last `too_many_arguments` allowances).
//!
//! Owns nothing: each function only builds the struct and calls the `log` form.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{DecisionOutcome, SourceRef, SplitPart};
use uuid::Uuid;

use super::log::{LogEntry, MergePlan, ReviewPair, SplitPlan};
use super::score::PairScore;
use super::{Changes, Engine, OrgId};

impl Engine {
    /// [`Engine::log_decision`] with its entry's fields as arguments.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn decision(
        &mut self,
        ch: &mut Changes,
        outcome: DecisionOutcome,
        source: Option<SourceRef>,
        org: Option<OrgId>,
        candidate: Option<OrgId>,
        score: Option<&PairScore>,
        rule: &str,
        operator: Option<String>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) {
        let entry = LogEntry::new(outcome, rule)
            .source(source)
            .org(org)
            .candidate(candidate)
            .scored(score)
            .by(operator.as_deref())
            .maybe_note(note);
        self.log_decision(entry, now, ch);
    }

    /// [`Engine::log_merge_event`] with its plan's fields as arguments.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn log_merge(
        &mut self,
        survivor: OrgId,
        absorbed: OrgId,
        moved_refs: Vec<SourceRef>,
        reason: String,
        operator: Option<&str>,
        automatic_rule: &str,
        decision_id: Uuid,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let plan = MergePlan {
            survivor,
            absorbed,
            moved_refs,
            reason,
            operator,
            automatic_rule,
            decision_id,
        };
        self.log_merge_event(plan, now, ch);
    }

    /// [`Engine::log_split_event`] with its plan's fields as arguments.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn log_split(
        &mut self,
        original: OrgId,
        parts: Vec<SplitPart>,
        reason: String,
        operator: Option<&str>,
        automatic_rule: &str,
        decision_id: Uuid,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let plan = SplitPlan {
            original,
            parts,
            reason,
            operator,
            automatic_rule,
            decision_id,
        };
        self.log_split_event(plan, now, ch);
    }

    /// [`Engine::open_review_pair`] with its pair's fields as arguments.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_review_item(
        &mut self,
        s: u32,
        own: u32,
        cand: u32,
        cand_ident: u32,
        score: f64,
        features: BTreeMap<String, f64>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let pair = ReviewPair {
            s,
            own,
            cand,
            cand_ident,
            score,
            features,
        };
        self.open_review_pair(pair, now, ch);
    }
}

//! The decision log and the review queue: every decision with its id, time, rule, scores
//! and note; merge and split events; review items opened, closed and superseded; the names
//! fit for the log (a person's masked).
//!
//! Owns: decision ids and times (strictly increasing), review ids, what a log entry says.
//! May not change identities or constraints: it records what the other modules decided.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{
    DecisionOutcome, IdentityMerged, IdentitySplit, ReconciliationDecision, SourceRef, SplitPart,
};
use hub_normalise::mask;
use uuid::Uuid;

use super::features::KindClass;
use super::score::{PairScore, RULE_VERSION};
use super::{Cand, Changes, Engine, OrgId, ReviewItem, ReviewStatus, ns_uuid};

/// One entry of the decision log, before it gets its id and time: what was decided, under
/// which rule, about what, with which score, by whom, and why. Built with
/// `LogEntry::new(outcome, rule)` and the setters below; what is not set stays empty.
#[derive(Debug)]
pub(super) struct LogEntry<'a> {
    outcome: DecisionOutcome,
    rule: &'a str,
    source: Option<SourceRef>,
    org: Option<OrgId>,
    candidate: Option<OrgId>,
    score: Option<f64>,
    features: BTreeMap<String, f64>,
    operator: Option<String>,
    note: Option<String>,
}

impl<'a> LogEntry<'a> {
    pub(super) fn new(outcome: DecisionOutcome, rule: &'a str) -> LogEntry<'a> {
        LogEntry {
            outcome,
            rule,
            source: None,
            org: None,
            candidate: None,
            score: None,
            features: BTreeMap::new(),
            operator: None,
            note: None,
        }
    }

    /// The source record decided about.
    pub(super) fn source(mut self, source: impl Into<Option<SourceRef>>) -> Self {
        self.source = source.into();
        self
    }

    /// The organisation it belongs to now (or the survivor, or the original).
    pub(super) fn org(mut self, org: impl Into<Option<OrgId>>) -> Self {
        self.org = org.into();
        self
    }

    /// The other organisation in question (the candidate, or the one absorbed).
    pub(super) fn candidate(mut self, candidate: impl Into<Option<OrgId>>) -> Self {
        self.candidate = candidate.into();
        self
    }

    /// The pair score behind the decision: its probability and rounded features.
    pub(super) fn scored<'s>(mut self, score: impl Into<Option<&'s PairScore>>) -> Self {
        let score = score.into();
        self.score = score.map(PairScore::probability);
        self.features = score.map(features_map).unwrap_or_default();
        self
    }

    /// A probability and features already taken (from a review item).
    pub(super) fn probability(mut self, score: f64, features: BTreeMap<String, f64>) -> Self {
        self.score = Some(score);
        self.features = features;
        self
    }

    /// The operator who decided (none: automatic).
    pub(super) fn by(mut self, operator: Option<&str>) -> Self {
        self.operator = operator.map(str::to_owned);
        self
    }

    pub(super) fn note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// A merge to publish and log: `absorbed` into `survivor`, the records that moved, why, and
/// who (`operator`; none: `automatic_rule` took it), under `decision_id`.
#[derive(Debug)]
pub(super) struct MergePlan<'a> {
    pub survivor: OrgId,
    pub absorbed: OrgId,
    pub moved_refs: Vec<SourceRef>,
    pub reason: String,
    pub operator: Option<&'a str>,
    pub automatic_rule: &'a str,
    pub decision_id: Uuid,
}

/// A split to log and publish: `original` into `parts` (the first keeps the id), why, and
/// who (`operator`; none: `automatic_rule` took it), under `decision_id`.
#[derive(Debug)]
pub(super) struct SplitPlan<'a> {
    pub original: OrgId,
    pub parts: Vec<SplitPart>,
    pub reason: String,
    pub operator: Option<&'a str>,
    pub automatic_rule: &'a str,
    pub decision_id: Uuid,
}

/// A review item to open: slot `s` (of identity `own`) against slot `cand` (of identity
/// `cand_ident`), with the pair's probability and features.
#[derive(Debug)]
pub(super) struct ReviewPair {
    pub s: u32,
    pub own: u32,
    pub cand: u32,
    pub cand_ident: u32,
    pub score: f64,
    pub features: BTreeMap<String, f64>,
}

impl Engine {
    /// The rule a decision is logged under: `operator` when an operator took it, else the
    /// automatic rule that did.
    fn rule_of<'a>(operator: Option<&str>, automatic: &'a str) -> &'a str {
        if operator.is_some() {
            "operator"
        } else {
            automatic
        }
    }

    /// Logs the `Split` decision of the plan's original into its parts and publishes the
    /// split (the decision first; both under the plan's decision id).
    pub(super) fn log_split_event(
        &mut self,
        plan: SplitPlan<'_>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let SplitPlan {
            original,
            parts,
            reason,
            operator,
            automatic_rule,
            decision_id,
        } = plan;
        let note = format!(
            "split into {}: {reason}",
            parts
                .iter()
                .map(|p| p.organisation_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let entry = LogEntry::new(
            DecisionOutcome::Split,
            Self::rule_of(operator, automatic_rule),
        )
        .org(original)
        .by(operator)
        .note(note);
        self.log_decision_with_id(decision_id, entry, now, ch);
        ch.splits.push(IdentitySplit {
            original,
            parts,
            reason,
            decided_by: operator.map(str::to_owned),
            decision_id,
            at: now,
        });
    }

    /// Publishes that the plan's absorbed identity was merged into its survivor and logs
    /// its `Merged` decision (the event first; both under the plan's decision id).
    pub(super) fn log_merge_event(
        &mut self,
        plan: MergePlan<'_>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let MergePlan {
            survivor,
            absorbed,
            moved_refs,
            reason,
            operator,
            automatic_rule,
            decision_id,
        } = plan;
        ch.merged.push(IdentityMerged {
            survivor,
            absorbed: vec![absorbed],
            moved_refs,
            reason: reason.clone(),
            decided_by: operator.map(str::to_owned),
            decision_id,
            at: now,
        });
        let entry = LogEntry::new(
            DecisionOutcome::Merged,
            Self::rule_of(operator, automatic_rule),
        )
        .org(survivor)
        .candidate(absorbed)
        .by(operator)
        .note(reason);
        self.log_decision_with_id(decision_id, entry, now, ch);
    }

    /// Closes the open review items about slot `s` as superseded.
    pub(super) fn supersede_reviews(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let open = std::mem::take(&mut self.slots[s as usize].reviews);
        for id in open {
            self.close_review(id, ReviewStatus::Superseded, None, None, now, ch);
        }
    }

    /// Closes review item `id` as `status`; a record left waiting for no one gets a
    /// `review_closed` entry.
    pub(super) fn close_review(
        &mut self,
        id: Uuid,
        status: ReviewStatus,
        operator: Option<&str>,
        reason: Option<&str>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        if let Some(item) = self.reviews.get_mut(&id) {
            item.status = status;
            item.decided_by = operator.map(str::to_owned);
            item.decided_at = Some(now);
            item.reason = reason.map(str::to_owned);
            ch.reviews.push(item.clone());
            let source = item.observation.clone();
            if let Some(&s) = self.by_ref.get(&source) {
                self.slots[s as usize].reviews.retain(|r| *r != id);
                // the log says the record no longer waits for anyone (an operator's decision
                // logs its own): "awaiting review" read from the log stays equal to the open
                // review items, whatever closed them
                let sl = &self.slots[s as usize];
                if status == ReviewStatus::Superseded && sl.reviews.is_empty() {
                    let org = sl.identity.map(|i| self.idents[i as usize].id);
                    let entry = LogEntry::new(DecisionOutcome::Matched, "review_closed")
                        .source(source)
                        .org(org)
                        .note(reason.unwrap_or("no longer doubtful"));
                    self.log_decision(entry, now, ch);
                }
            }
        }
    }

    pub(super) fn next_decision_id(&mut self) -> Uuid {
        let seq = self.counters.next_decision_seq;
        self.counters.next_decision_seq += 1;
        ns_uuid("decision", seq)
    }

    /// A name fit for the log: an organisation's name as written, a person's masked.
    pub(super) fn display_name(&self, s: u32) -> String {
        let sl = &self.slots[s as usize];
        let Some(o) = &sl.obs else {
            return String::new();
        };
        let personal = sl
            .feat
            .as_ref()
            .is_some_and(|f| f.person_like || f.kind == KindClass::Household);
        if personal {
            mask::mask_name(&o.name)
        } else {
            o.name.trim().to_owned()
        }
    }

    /// Logs `entry` under the next decision id.
    pub(super) fn log_decision(
        &mut self,
        entry: LogEntry<'_>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let id = self.next_decision_id();
        self.log_decision_with_id(id, entry, now, ch);
    }

    /// Logs `entry` under `decision_id`, at `now` or just after the last decision logged.
    pub(super) fn log_decision_with_id(
        &mut self,
        decision_id: Uuid,
        entry: LogEntry<'_>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        // strictly increasing times: the log's order is the order decisions were taken, also
        // within one batch (readers take a record's latest decision by time)
        let at = match self.last_decision_at {
            Some(last) if now <= last => last + chrono::Duration::microseconds(1),
            _ => now,
        };
        self.last_decision_at = Some(at);
        ch.decisions.push(ReconciliationDecision {
            decision_id,
            at,
            outcome: entry.outcome,
            source: entry.source,
            organisation_id: entry.org,
            candidate_id: entry.candidate,
            score: entry.score,
            features: entry.features,
            rule: entry.rule.to_owned(),
            rule_version: RULE_VERSION.to_owned(),
            operator: entry.operator,
            note: entry.note,
        });
    }

    /// Opens a review item between slot `s` (of identity `own`) and candidate `c`.
    pub(super) fn add_review(
        &mut self,
        s: u32,
        own: u32,
        c: &Cand,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let pair = ReviewPair {
            s,
            own,
            cand: c.anchor,
            cand_ident: c.ident,
            score: c.score.probability(),
            features: features_map(&c.score),
        };
        self.open_review_pair(pair, now, ch);
    }

    /// Opens the review item `pair` and records it in `ch`.
    pub(super) fn open_review_pair(
        &mut self,
        pair: ReviewPair,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let ReviewPair {
            s,
            own,
            cand,
            cand_ident,
            score,
            features,
        } = pair;
        let seq = self.counters.next_review_seq;
        self.counters.next_review_seq += 1;
        let id = ns_uuid("review", seq);
        let item = ReviewItem {
            review_id: id,
            status: ReviewStatus::Open,
            observation: self.refs[s as usize].clone(),
            observation_name: self.display_name(s),
            organisation_id: self.idents[own as usize].id,
            candidate: self.refs[cand as usize].clone(),
            candidate_name: self.display_name(cand),
            candidate_id: self.idents[cand_ident as usize].id,
            score,
            features,
            rule_version: RULE_VERSION.to_owned(),
            created_at: now,
            decided_by: None,
            decided_at: None,
            reason: None,
        };
        self.slots[s as usize].reviews.push(id);
        self.reviews.insert(id, item.clone());
        ch.reviews.push(item);
    }
}

pub(super) fn features_map(s: &PairScore) -> BTreeMap<String, f64> {
    s.features
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v * 1000.0).round() / 1000.0))
        .collect()
}

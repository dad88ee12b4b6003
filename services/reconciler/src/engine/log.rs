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

impl Engine {
    /// The rule a decision is logged under: `operator` when an operator took it, else the
    /// automatic rule that did.
    pub(super) fn rule_of<'a>(operator: Option<&str>, automatic: &'a str) -> &'a str {
        if operator.is_some() {
            "operator"
        } else {
            automatic
        }
    }

    /// Logs the `Split` decision of `original` into `parts` and publishes the split (the
    /// decision first; both under `decision_id`), under `automatic_rule` unless an
    /// `operator` took it.
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
        let note = format!(
            "split into {}: {reason}",
            parts
                .iter()
                .map(|p| p.organisation_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        self.decision_with_id(
            ch,
            decision_id,
            DecisionOutcome::Split,
            None,
            Some(original),
            None,
            None,
            BTreeMap::new(),
            Self::rule_of(operator, automatic_rule),
            operator.map(str::to_owned),
            Some(note),
            now,
        );
        ch.splits.push(IdentitySplit {
            original,
            parts,
            reason,
            decided_by: operator.map(str::to_owned),
            decision_id,
            at: now,
        });
    }

    /// Publishes that `absorbed` was merged into `survivor` and logs its `Merged` decision
    /// (the event first; both under `decision_id`), under `automatic_rule` unless an
    /// `operator` took it.
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
        ch.merged.push(IdentityMerged {
            survivor,
            absorbed: vec![absorbed],
            moved_refs,
            reason: reason.clone(),
            decided_by: operator.map(str::to_owned),
            decision_id,
            at: now,
        });
        self.decision_with_id(
            ch,
            decision_id,
            DecisionOutcome::Merged,
            None,
            Some(survivor),
            Some(absorbed),
            None,
            BTreeMap::new(),
            Self::rule_of(operator, automatic_rule),
            operator.map(str::to_owned),
            Some(reason),
            now,
        );
    }

    pub(super) fn supersede_reviews(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let open = std::mem::take(&mut self.slots[s as usize].reviews);
        for id in open {
            self.close_review(id, ReviewStatus::Superseded, None, None, now, ch);
        }
    }

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
                    self.decision(
                        ch,
                        DecisionOutcome::Matched,
                        Some(source),
                        org,
                        None,
                        None,
                        "review_closed",
                        None,
                        Some(reason.unwrap_or("no longer doubtful").to_owned()),
                        now,
                    );
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
        let id = self.next_decision_id();
        let features = score.map(features_map).unwrap_or_default();
        self.decision_with_id(
            ch,
            id,
            outcome,
            source,
            org,
            candidate,
            score.map(PairScore::probability),
            features,
            rule,
            operator,
            note,
            now,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn decision_with_id(
        &mut self,
        ch: &mut Changes,
        decision_id: Uuid,
        outcome: DecisionOutcome,
        source: Option<SourceRef>,
        org: Option<OrgId>,
        candidate: Option<OrgId>,
        score: Option<f64>,
        features: BTreeMap<String, f64>,
        rule: &str,
        operator: Option<String>,
        note: Option<String>,
        now: DateTime<Utc>,
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
            outcome,
            source,
            organisation_id: org,
            candidate_id: candidate,
            score,
            features,
            rule: rule.to_owned(),
            rule_version: RULE_VERSION.to_owned(),
            operator,
            note,
        });
    }

    pub(super) fn add_review(
        &mut self,
        s: u32,
        own: u32,
        c: &Cand,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        self.open_review_item(
            s,
            own,
            c.anchor,
            c.ident,
            c.score.probability(),
            features_map(&c.score),
            now,
            ch,
        );
    }

    /// Opens a review item between slot `s` (of identity `own`) and slot `cand` (of identity
    /// `cand_ident`), and records it in `ch`.
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

//! Operator actions: link or separate a review pair, merge identities, split one; and the
//! operator constraints (must-link, cannot-link) they leave, which every later automatic
//! run obeys.
//!
//! Owns: validating an operator's request and recording constraints. May not match
//! automatically (it calls `resolve` only to re-place an observation an operator separated);
//! members move through `identities`, entries go to the log through `log`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{DecisionOutcome, SourceRef};
use uuid::Uuid;

use super::identities::Cause;
use super::log::LogEntry;
use super::score;
use super::{
    Changes, Constraint, ConstraintKind, Engine, EngineError, OrgId, ReviewItem, ReviewStatus,
};

/// Cross pairs an operator split may create as cannot-links.
const MAX_SPLIT_PAIRS: usize = 20_000;

/// An operator's decision as constraints record it: who, why, under which decision, when.
#[derive(Debug, Clone, Copy)]
pub(super) struct OperatorAct<'a> {
    pub operator: &'a str,
    pub reason: &'a str,
    pub decision_id: Uuid,
    pub now: DateTime<Utc>,
}

impl Engine {
    pub(super) fn open_review(&self, id: Uuid) -> Result<ReviewItem, EngineError> {
        let item = self.reviews.get(&id).ok_or(EngineError::NotFound {
            what: "review item",
            id: id.to_string(),
        })?;
        if item.status != ReviewStatus::Open {
            return Err(EngineError::AlreadyDecided(id, item.status.as_str()));
        }
        Ok(item.clone())
    }

    /// An operator says a review pair is one organisation.
    ///
    /// The two organisations merge, unless each holds a registration of its own (two
    /// registrations are two organisations), or one does and the other record contradicts
    /// it: the operator answered for the pair alone, so the record of the two that sits
    /// with a registration it does not belong to moves to the other's organisation (with
    /// the records earlier operator links tie to it) and the rest stays (split if it no
    /// longer holds together).
    pub fn link_review(
        &mut self,
        id: Uuid,
        operator: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Changes, EngineError> {
        let item = self.open_review(id)?;
        let mut ch = Changes::default();
        let (a, b) = (
            self.slot_of(&item.observation)?,
            self.slot_of(&item.candidate)?,
        );
        if let Some((movers, to)) = self.movers(a, b)? {
            let act = OperatorAct {
                operator,
                reason,
                decision_id: self.next_decision_id(),
                now,
            };
            self.add_constraint(a, b, ConstraintKind::MustLink, &act, &mut ch);
            let why = "an operator linked it to another organisation";
            for m in movers {
                self.detach_answered(m, item.review_id, why, now, &mut ch);
                self.join(m, to, &mut ch);
            }
        } else {
            // the merge (if any) is logged under the link's constraint; the link itself too
            self.link_slots(a, b, operator, reason, now, &mut ch)?;
        }
        let act = OperatorAct {
            operator,
            reason,
            decision_id: self.next_decision_id(),
            now,
        };
        let (outcome, status) = (DecisionOutcome::OperatorLinked, ReviewStatus::Linked);
        self.answer_review(&item, a, outcome, status, &act, &mut ch);
        Ok(ch)
    }

    /// Which records of a linked pair `(a, b)` move, and to which identity: when the two
    /// identities each hold a registration (merging them would make two registered
    /// organisations one), the one of the two that is not a registration moves to the
    /// other's identity, with the records operator links tie to it there. When only one
    /// holds a registration and the pair's record from the other identity contradicts it
    /// ([`Self::contradicts_registration`]: the operator vouched for the pair, not for the
    /// registration), the pair's record on the registration's side moves out the same way.
    /// `None`: the identities merge (no registration is at stake, or both records are
    /// registrations, or operator links tie the mover to its registration). An operator's
    /// cannot-link between a mover and its new identity refuses the link.
    fn movers(&self, a: u32, b: u32) -> Result<Option<(Vec<u32>, u32)>, EngineError> {
        let (Some(x), Some(y)) = (
            self.slots[a as usize].identity,
            self.slots[b as usize].identity,
        ) else {
            return Ok(None);
        };
        if x == y {
            return Ok(None);
        }
        let (rx, ry) = (
            self.idents[x as usize].registry > 0,
            self.idents[y as usize].registry > 0,
        );
        let (mover, from, to, other) = match (rx, ry) {
            (false, false) => return Ok(None),
            // one registration: merging would bring the other identity under it; when the
            // record linked from there contradicts that registration, the record of the pair
            // on the registration's side was the one placed wrongly, and it moves instead
            (true, false) | (false, true) => {
                let (r, o, from, to) = if rx { (a, b, x, y) } else { (b, a, y, x) };
                if self.is_registry(r) || !self.contradicts_registration(o, from) {
                    return Ok(None);
                }
                (r, from, to, o)
            }
            (true, true) => match (self.is_registry(a), self.is_registry(b)) {
                (false, _) => (a, x, y, b),
                (true, false) => (b, y, x, a),
                (true, true) => return Ok(None),
            },
        };
        // the records operator links tie to the mover within its identity go with it
        let mut group = vec![mover];
        let mut k = 0;
        while k < group.len() {
            for &m in &self.slots[group[k] as usize].must {
                if self.slots[m as usize].identity == Some(from) && !group.contains(&m) {
                    group.push(m);
                }
            }
            k += 1;
        }
        if group.iter().any(|&m| self.is_registry(m)) {
            return Ok(None);
        }
        for &m in &group {
            if let Some(&c) = self.slots[m as usize]
                .cannot
                .iter()
                .find(|c| self.slots[**c as usize].identity == Some(to) && **c != other)
            {
                return Err(EngineError::Conflict(format!(
                    "an operator separated {} and {}",
                    self.refs[m as usize], self.refs[c as usize]
                )));
            }
        }
        Ok(Some((group, to)))
    }

    /// Whether slot `o` scores against every registration of identity `ii` as another
    /// organisation's record: below even odds, or contradicting one outright (another
    /// product, number, place or code; or a word the names do not share, with no person in
    /// common).
    fn contradicts_registration(&self, o: u32, ii: u32) -> bool {
        let Some(fo) = self.slots[o as usize].feat.as_ref() else {
            return false;
        };
        let mut any = false;
        for &m in &self.idents[ii as usize].members {
            if !self.is_registry(m) {
                continue;
            }
            let Some(fm) = self.slots[m as usize].feat.as_ref() else {
                continue;
            };
            any = true;
            let sc = score::score_with(fo, fm, &self.interner, &self.weights);
            // a contradiction no person in common explains counts against it as the
            // candidates' rule does: the engine would only have asked about the pair
            if !(sc.veto || sc.identity_contradiction || sc.unexplained_conflict())
                && sc.logit >= 0.0
            {
                return false;
            }
        }
        any
    }

    /// An operator says a review pair is two organisations.
    pub fn separate_review(
        &mut self,
        id: Uuid,
        operator: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Changes, EngineError> {
        let item = self.open_review(id)?;
        let mut ch = Changes::default();
        let (a, b) = (
            self.slot_of(&item.observation)?,
            self.slot_of(&item.candidate)?,
        );
        let decision_id = self.next_decision_id();
        let act = OperatorAct {
            operator,
            reason,
            decision_id,
            now,
        };
        self.add_constraint(a, b, ConstraintKind::CannotLink, &act, &mut ch);
        // if they ended up together meanwhile, the observation leaves and is resolved again
        let (ia, ib) = (
            self.slots[a as usize].identity,
            self.slots[b as usize].identity,
        );
        if ia.is_some() && ia == ib {
            self.detach_answered(a, item.review_id, "an operator separated it", now, &mut ch);
            self.resolve(a, now, &mut ch);
        }
        let (outcome, status) = (DecisionOutcome::OperatorSeparated, ReviewStatus::Separated);
        self.answer_review(&item, a, outcome, status, &act, &mut ch);
        Ok(ch)
    }

    /// Takes observation `a` out of its identity while review `answered` is being answered:
    /// its other open reviews are superseded, that one is left for the answer to close.
    fn detach_answered(
        &mut self,
        a: u32,
        answered: Uuid,
        why: &str,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        self.slots[a as usize].reviews.retain(|r| *r != answered);
        self.detach(a, why, false, now, ch);
    }

    /// Logs an operator's answer to a review pair under the act's decision (the pair, its
    /// score and features, and the organisation the observation, slot `a`, now belongs to),
    /// then closes the review as `status`.
    fn answer_review(
        &mut self,
        item: &ReviewItem,
        a: u32,
        outcome: DecisionOutcome,
        status: ReviewStatus,
        act: &OperatorAct<'_>,
        ch: &mut Changes,
    ) {
        let org = self.slots[a as usize]
            .identity
            .map(|i| self.idents[i as usize].id);
        let entry = LogEntry::new(outcome, "operator")
            .source(item.observation.clone())
            .org(org)
            .candidate(item.candidate_id)
            .probability(item.score, item.features.clone())
            .by(Some(act.operator))
            .note(act.reason);
        self.log_decision_with_id(act.decision_id, entry, act.now, ch);
        self.close_review(
            item.review_id,
            status,
            Some(act.operator),
            Some(act.reason),
            act.now,
            ch,
        );
    }

    /// An operator merges identities. The survivor is `survivor`, else the one holding a
    /// registry record, else the oldest.
    pub fn merge(
        &mut self,
        ids: &[OrgId],
        survivor: Option<OrgId>,
        operator: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Changes, EngineError> {
        let mut idx: Vec<u32> = Vec::new();
        for id in ids.iter().chain(survivor.iter()) {
            let i = self.live_ident(*id)?;
            if !idx.contains(&i) {
                idx.push(i);
            }
        }
        if idx.len() < 2 {
            return Err(EngineError::Invalid(
                "a merge needs at least two different organisations".into(),
            ));
        }
        for (k, &i) in idx.iter().enumerate() {
            for &j in &idx[k + 1..] {
                if let Some(c) = self.cross_cannot(i, j) {
                    return Err(EngineError::Conflict(c));
                }
            }
        }
        let surv = match survivor {
            Some(s) => self.live_ident(s)?,
            None => self.pick_survivor(&idx),
        };
        let mut ch = Changes::default();
        let anchor = self.anchor(surv);
        for &i in &idx {
            if i == surv {
                continue;
            }
            let other = self.anchor(i);
            let did = self.next_decision_id();
            let act = OperatorAct {
                operator,
                reason,
                decision_id: did,
                now,
            };
            self.add_constraint(anchor, other, ConstraintKind::MustLink, &act, &mut ch);
            let cause = Cause::operator(operator, reason, now);
            self.merge_idents(surv, i, &cause, Some(did), &mut ch);
        }
        Ok(ch)
    }

    /// An operator splits an identity: each listed part becomes its own organisation (the
    /// members not listed stay; if every member is listed, the first part keeps the id).
    /// Parts are kept apart from each other, and together within, from now on.
    pub fn split(
        &mut self,
        id: OrgId,
        parts: &[Vec<SourceRef>],
        operator: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Changes, EngineError> {
        let ii = self.live_ident(id)?;
        let (groups, listed) = self.split_groups(ii, id, parts)?;
        self.check_split(&groups)?;
        let mut ch = Changes::default();
        let act = OperatorAct {
            operator,
            reason,
            decision_id: self.next_decision_id(),
            now,
        };
        for (a, ga) in groups.iter().enumerate() {
            for gb in &groups[a + 1..] {
                for &x in ga {
                    for &y in gb {
                        self.add_constraint(x, y, ConstraintKind::CannotLink, &act, &mut ch);
                    }
                }
            }
            for w in ga.windows(2) {
                if a > 0 || !rest_is_first(&groups, &listed) {
                    self.add_constraint(w[0], w[1], ConstraintKind::MustLink, &act, &mut ch);
                }
            }
        }
        let cause = Cause::operator(operator, reason, now);
        self.split_ident(ii, groups, &cause, act.decision_id, &mut ch);
        Ok(ch)
    }

    /// The groups a split of identity `ii` (organisation `id`) makes of `parts`: the members
    /// not listed first (if any), then each part; and the members listed.
    fn split_groups(
        &self,
        ii: u32,
        id: OrgId,
        parts: &[Vec<SourceRef>],
    ) -> Result<(Vec<Vec<u32>>, BTreeSet<u32>), EngineError> {
        if parts.is_empty() || parts.iter().any(Vec::is_empty) {
            return Err(EngineError::Invalid(
                "every part must list source records".into(),
            ));
        }
        let mut seen = BTreeSet::new();
        let mut slot_parts: Vec<Vec<u32>> = Vec::new();
        for p in parts {
            let mut v = Vec::new();
            for r in p {
                let s = self.slot_of(r)?;
                if self.slots[s as usize].identity != Some(ii) {
                    return Err(EngineError::Invalid(format!("{r} is not a member of {id}")));
                }
                if !seen.insert(s) {
                    return Err(EngineError::Invalid(format!("{r} is listed twice")));
                }
                v.push(s);
            }
            slot_parts.push(v);
        }
        let rest: Vec<u32> = self.idents[ii as usize]
            .members
            .iter()
            .copied()
            .filter(|m| !seen.contains(m))
            .collect();
        let mut groups: Vec<Vec<u32>> = Vec::new();
        if rest.is_empty() {
            groups.extend(slot_parts);
        } else {
            groups.push(rest);
            groups.extend(slot_parts);
        }
        if groups.len() < 2 {
            return Err(EngineError::Invalid(
                "a split needs at least two parts (list the records that leave)".into(),
            ));
        }
        Ok((groups, seen))
    }

    /// Whether a split into `groups` may be done: not too many cross pairs, and no
    /// operator must-link across two groups.
    fn check_split(&self, groups: &[Vec<u32>]) -> Result<(), EngineError> {
        let pairs: usize = (0..groups.len())
            .flat_map(|i| (i + 1..groups.len()).map(move |j| (i, j)))
            .map(|(i, j)| groups[i].len() * groups[j].len())
            .sum();
        if pairs > MAX_SPLIT_PAIRS {
            return Err(EngineError::Invalid(format!(
                "a split this large ({pairs} cross pairs) must be done in steps"
            )));
        }
        for (a, ga) in groups.iter().enumerate() {
            for gb in &groups[a + 1..] {
                for &x in ga {
                    for &y in gb {
                        if self.has_constraint(x, y, ConstraintKind::MustLink) {
                            return Err(EngineError::Conflict(format!(
                                "an operator linked {} and {}",
                                self.refs[x as usize], self.refs[y as usize]
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn link_adjacency(&mut self, a: u32, b: u32, kind: ConstraintKind) {
        for (x, y) in [(a, b), (b, a)] {
            let sl = &mut self.slots[x as usize];
            sl.must.retain(|v| *v != y);
            sl.cannot.retain(|v| *v != y);
            match kind {
                ConstraintKind::MustLink => sl.must.push(y),
                ConstraintKind::CannotLink => sl.cannot.push(y),
            }
        }
    }

    pub(super) fn has_constraint(&self, a: u32, b: u32, kind: ConstraintKind) -> bool {
        let sl = &self.slots[a as usize];
        match kind {
            ConstraintKind::MustLink => sl.must.contains(&b),
            ConstraintKind::CannotLink => sl.cannot.contains(&b),
        }
    }

    /// Records an operator constraint of `kind` between slots `a` and `b` (replacing any
    /// between them), under `act`.
    pub(super) fn add_constraint(
        &mut self,
        a: u32,
        b: u32,
        kind: ConstraintKind,
        act: &OperatorAct<'_>,
        ch: &mut Changes,
    ) {
        if a == b {
            return;
        }
        let (ra, rb) = (self.refs[a as usize].clone(), self.refs[b as usize].clone());
        let (ra, rb) = if ra <= rb { (ra, rb) } else { (rb, ra) };
        self.input_changed();
        self.link_adjacency(a, b, kind);
        let c = Constraint {
            a: ra.clone(),
            b: rb.clone(),
            kind,
            operator: act.operator.to_owned(),
            reason: act.reason.to_owned(),
            decision_id: act.decision_id,
            at: act.now,
        };
        self.constraints.insert((ra, rb), c.clone());
        ch.constraints.push(c);
    }

    /// A cannot-link between members of two identities, described.
    pub(super) fn cross_cannot(&self, i: u32, j: u32) -> Option<String> {
        let (small, other) =
            if self.idents[i as usize].members.len() <= self.idents[j as usize].members.len() {
                (i, j)
            } else {
                (j, i)
            };
        for &m in &self.idents[small as usize].members {
            for &c in &self.slots[m as usize].cannot {
                if self.slots[c as usize].identity == Some(other) {
                    return Some(format!(
                        "an operator separated {} and {}",
                        self.refs[m as usize], self.refs[c as usize]
                    ));
                }
            }
        }
        None
    }

    /// Links two observations by operator decision: a must-link, and their identities
    /// merged.
    pub(super) fn link_slots(
        &mut self,
        a: u32,
        b: u32,
        operator: &str,
        reason: &str,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) -> Result<Uuid, EngineError> {
        let (ia, ib) = (
            self.slots[a as usize].identity,
            self.slots[b as usize].identity,
        );
        if let (Some(x), Some(y)) = (ia, ib)
            && x != y
        {
            // the pair itself may carry a cannot-link the operator now overrides
            let was = self.has_constraint(a, b, ConstraintKind::CannotLink);
            if was {
                self.link_adjacency(a, b, ConstraintKind::MustLink);
            }
            let conflict = self.cross_cannot(x, y);
            if let Some(c) = conflict {
                if was {
                    self.link_adjacency(a, b, ConstraintKind::CannotLink);
                }
                return Err(EngineError::Conflict(c));
            }
        }
        let did = self.next_decision_id();
        let act = OperatorAct {
            operator,
            reason,
            decision_id: did,
            now,
        };
        self.add_constraint(a, b, ConstraintKind::MustLink, &act, ch);
        match (ia, ib) {
            (Some(x), Some(y)) if x != y => {
                let surv = self.pick_survivor(&[x, y]);
                let other = if surv == x { y } else { x };
                let cause = Cause::operator(operator, reason, now);
                self.merge_idents(surv, other, &cause, Some(did), ch);
            }
            _ => {}
        }
        Ok(did)
    }
}

fn rest_is_first(groups: &[Vec<u32>], listed: &BTreeSet<u32>) -> bool {
    groups
        .first()
        .is_some_and(|g| g.iter().all(|m| !listed.contains(m)))
}

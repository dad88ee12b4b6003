//! The settle pass: makes the engine's identities independent of the order records arrived in.
//!
//! Incremental resolution decides each record against what is known when it arrives, so two
//! runs fed the same records in different orders (duplicates, redeliveries, adapters
//! interleaving differently) can end with different identities. The settle pass replays every
//! active observation and every operator constraint into a fresh engine in one canonical order
//! (registry records first, then by source reference) and moves the live engine to that
//! partition: the same records and decisions give the same identities and the same open review
//! pairs, whatever the order they came in.
//!
//! It runs in two steps so the service can do the expensive part away from its lock:
//! [`Engine::settle_input`] (cheap: clones the inputs) and [`SettleInput::replay`] (pure, the
//! cost of resolving everything once), then [`Engine::apply_settlement`] (cheap: compares and
//! moves). Applying keeps organisation ids where it can: each canonical group keeps the live
//! identity it overlaps most, the moves are published as merges and splits (rule `settle`).
//!
//! Owns only the replay and the move to its result; matching itself stays in the parent module.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{DecisionOutcome, SourceRef, SplitPart};

use super::log::{LogEntry, MergePlan, ReviewPair, SplitPlan};
use super::observation::{Observation, ObservationKind};
use super::{Changes, Constraint, Engine, Generation, ObsState, ReviewStatus};

/// What a replay needs: the active observations and the operator constraints.
#[derive(Debug, Clone)]
pub struct SettleInput {
    generation: Generation,
    /// Shared with the live engine (the replay reads them, never changes them).
    observations: Vec<Arc<Observation>>,
    constraints: Vec<Constraint>,
    /// Weights the caller fixed (else the replay estimates them).
    fixed: Option<super::weights::Weights>,
}

/// An open review pair of the canonical replay.
#[derive(Debug, Clone)]
struct CanonReview {
    observation: SourceRef,
    candidate: SourceRef,
    score: f64,
    features: BTreeMap<String, f64>,
}

/// What the canonical replay made of a [`SettleInput`], in source references.
#[derive(Debug, Clone)]
pub struct Settlement {
    /// The engine inputs it was computed from.
    generation: Generation,
    /// Groups of source records that are one organisation, each sorted, in sorted order.
    groups: Vec<Vec<SourceRef>>,
    /// Open review pairs, by (observation, candidate).
    reviews: BTreeMap<(SourceRef, SourceRef), CanonReview>,
    /// The weights estimated from the input and replayed with.
    weights: super::weights::Weights,
}

impl Settlement {
    /// The canonical partition.
    pub fn groups(&self) -> &[Vec<SourceRef>] {
        &self.groups
    }

    /// The engine inputs it was computed from.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The weights estimated from the input.
    pub fn weights(&self) -> &super::weights::Weights {
        &self.weights
    }
}

/// The report an NTM entry belongs to: its commune and year.
fn report_of(o: &Observation) -> Option<(&str, i32)> {
    o.ntm.as_ref().map(|p| (p.commune_code.as_str(), p.year))
}

/// Canonical order: registry records first (they anchor identities), then by reference.
fn canonical_key(o: &Observation) -> (bool, &SourceRef) {
    (o.kind != ObservationKind::Registry, &o.source)
}

impl SettleInput {
    /// Replays the input into a fresh engine in canonical order. Pure and deterministic:
    /// the result depends on the set of observations and constraints only.
    pub fn replay(mut self, now: DateTime<Utc>) -> Settlement {
        // the weights first, from every record held in canonical order (the same set gives
        // the same weights)
        self.observations
            .sort_by(|a, b| canonical_key(a).cmp(&canonical_key(b)));
        // every record's features once, for the estimate and the replay alike (interned in
        // canonical order, as the replay would intern them)
        let mut interner = super::features::Interner::default();
        let features = super::features::extract_all(&self.observations, &mut interner);
        let (weights, features, interner) = match self.fixed.take() {
            Some(w) => (w, features.into_iter().map(Some).collect(), interner),
            None => Engine::estimate_with(&self.observations, features, interner),
        };
        let mut e = Engine {
            interner,
            ..Engine::new()
        };
        e.weights = weights.clone();
        self.constraints
            .sort_by(|a, b| (&a.a, &a.b).cmp(&(&b.a, &b.b)));
        for c in self.constraints {
            let (a, b) = (e.slot_for(&c.a), e.slot_for(&c.b));
            e.link_adjacency(a, b, c.kind);
            e.constraints.insert((c.a.clone(), c.b.clone()), c);
        }
        // the replay's own log is not kept: only its result is
        let mut scratch = Changes::default();
        let mut entries: Vec<(Arc<Observation>, Option<super::features::Features>)> = Vec::new();
        for (o, feat) in self.observations.into_iter().zip(features) {
            // the entries of one report together (adjacent in canonical order), as they arrive
            if entries
                .last()
                .is_some_and(|(last, _)| report_of(last) != report_of(&o))
            {
                e.observe_entries_into(std::mem::take(&mut entries), now, &mut scratch);
                scratch = Changes::default();
            }
            if report_of(&o).is_some() {
                entries.push((o, feat));
            } else {
                e.observe_into(o, feat, now, &mut scratch);
                scratch = Changes::default();
            }
        }
        if !entries.is_empty() {
            e.observe_entries_into(entries, now, &mut scratch);
        }
        let mut groups: Vec<Vec<SourceRef>> = e
            .idents
            .iter()
            .filter(|i| !i.retired && !i.members.is_empty())
            .map(|i| {
                let mut g: Vec<SourceRef> = i
                    .members
                    .iter()
                    .map(|m| e.refs[*m as usize].clone())
                    .collect();
                g.sort();
                g
            })
            .collect();
        groups.sort();
        let reviews = e
            .reviews
            .values()
            .filter(|r| r.status == ReviewStatus::Open)
            .map(|r| {
                (
                    (r.observation.clone(), r.candidate.clone()),
                    CanonReview {
                        observation: r.observation.clone(),
                        candidate: r.candidate.clone(),
                        score: r.score,
                        features: r.features.clone(),
                    },
                )
            })
            .collect();
        Settlement {
            generation: self.generation,
            groups,
            reviews,
            weights,
        }
    }
}

impl Engine {
    /// The inputs of a settle replay (see the module documentation).
    pub fn settle_input(&self) -> SettleInput {
        let observations = self
            .slots
            .iter()
            .filter(|s| s.state == ObsState::Active)
            .filter_map(|s| s.obs.clone())
            .collect();
        SettleInput {
            generation: self.generation,
            observations,
            constraints: self.constraints.values().cloned().collect(),
            fixed: self.fixed_weights(),
        }
    }

    /// Replays and applies in one step (for callers that do not need to split the work).
    pub fn settle(&mut self, now: DateTime<Utc>) -> Changes {
        let settlement = self.settle_input().replay(now);
        self.apply_settlement(&settlement, now)
    }

    /// Whether applying `settlement` would change anything: it was computed from the inputs
    /// held now and its partition or open review pairs differ from the live ones.
    pub fn settlement_needed(&self, settlement: &Settlement) -> bool {
        if settlement.generation != self.generation {
            return false;
        }
        let Some(groups) = self.settlement_slots(settlement) else {
            return false;
        };
        let open: BTreeSet<(&SourceRef, &SourceRef)> = self
            .reviews
            .values()
            .filter(|r| r.status == ReviewStatus::Open)
            .map(|r| (&r.observation, &r.candidate))
            .collect();
        let open_count = self
            .reviews
            .values()
            .filter(|r| r.status == ReviewStatus::Open)
            .count();
        let same_reviews = open_count == settlement.reviews.len()
            && settlement
                .reviews
                .keys()
                .all(|(o, c)| open.contains(&(o, c)));
        !(self.same_partition(&groups) && same_reviews)
    }

    fn same_partition(&self, groups: &[Vec<u32>]) -> bool {
        groups.iter().all(|g| {
            let id = self.slots[g[0] as usize].identity;
            id.is_some_and(|i| self.idents[i as usize].members.len() == g.len())
                && g.iter().all(|s| self.slots[*s as usize].identity == id)
        })
    }

    /// Moves the live identities to `settlement`'s partition and its open review pairs.
    /// Returns no change when they already agree, or when the settlement was computed from
    /// other inputs than the engine holds now (then the engine stays unsettled and the caller
    /// settles again later).
    pub fn apply_settlement(&mut self, settlement: &Settlement, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        if settlement.generation != self.generation {
            return ch;
        }
        let Some(groups) = self.settlement_slots(settlement) else {
            return ch;
        };
        // later records are scored with what this input taught
        self.weights = settlement.weights.clone();
        if !self.same_partition(&groups) {
            self.move_to(&groups, now, &mut ch);
        }
        self.settle_reviews(settlement, now, &mut ch);
        self.settled = Some(self.generation);
        ch
    }

    /// The settlement's groups as slot numbers, if they cover exactly the active, assigned
    /// observations of this engine.
    fn settlement_slots(&self, settlement: &Settlement) -> Option<Vec<Vec<u32>>> {
        let mut covered = 0usize;
        let mut groups = Vec::with_capacity(settlement.groups.len());
        for g in &settlement.groups {
            let mut slots = Vec::with_capacity(g.len());
            for r in g {
                let s = *self.by_ref.get(r)?;
                let sl = &self.slots[s as usize];
                if sl.state != ObsState::Active || sl.identity.is_none() {
                    return None;
                }
                slots.push(s);
            }
            if slots.is_empty() {
                continue;
            }
            slots.sort_unstable();
            covered += slots.len();
            groups.push(slots);
        }
        let assigned = self
            .slots
            .iter()
            .filter(|s| s.state == ObsState::Active && s.identity.is_some())
            .count();
        (covered == assigned).then_some(groups)
    }

    /// Reassigns members so that live identities are exactly `groups`.
    fn move_to(&mut self, groups: &[Vec<u32>], now: DateTime<Utc>, ch: &mut Changes) {
        let (target, taken) = self.settle_targets(groups, ch);
        let flows = self.flows(groups, &target);
        self.move_members(groups, &target, ch);
        self.tell_moves(flows, &taken, now, ch);
    }

    /// 1. The identity each group becomes: the live identity it overlaps most (ties: the
    ///    older identity), else a new one; and the live identities so kept.
    fn settle_targets(
        &mut self,
        groups: &[Vec<u32>],
        ch: &mut Changes,
    ) -> (Vec<u32>, BTreeSet<u32>) {
        let mut overlaps: Vec<(usize, u64, usize, u32)> = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let mut count: HashMap<u32, usize> = HashMap::new();
            for s in g {
                if let Some(i) = self.slots[*s as usize].identity {
                    *count.entry(i).or_default() += 1;
                }
            }
            for (i, n) in count {
                overlaps.push((n, self.idents[i as usize].seq, gi, i));
            }
        }
        overlaps.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut target: Vec<Option<u32>> = vec![None; groups.len()];
        let mut taken: BTreeSet<u32> = BTreeSet::new();
        for (_, _, gi, i) in overlaps {
            if target[gi].is_none() && !taken.contains(&i) {
                target[gi] = Some(i);
                taken.insert(i);
            }
        }
        let target: Vec<u32> = target
            .into_iter()
            .map(|t| t.unwrap_or_else(|| self.new_ident(ch)))
            .collect();
        (target, taken)
    }

    /// 2. Where each live identity's members go (identities whose members all stay are left
    ///    out): from → target → the slots moved there.
    fn flows(&self, groups: &[Vec<u32>], target: &[u32]) -> BTreeMap<u32, BTreeMap<u32, Vec<u32>>> {
        let mut flows: BTreeMap<u32, BTreeMap<u32, Vec<u32>>> = BTreeMap::new();
        for (gi, g) in groups.iter().enumerate() {
            for &s in g {
                if let Some(from) = self.slots[s as usize].identity {
                    flows
                        .entry(from)
                        .or_default()
                        .entry(target[gi])
                        .or_default()
                        .push(s);
                }
            }
        }
        flows.retain(|from, to| to.keys().any(|t| t != from));
        flows
    }

    /// 3. Moves every group's members into its target identity.
    fn move_members(&mut self, groups: &[Vec<u32>], target: &[u32], ch: &mut Changes) {
        for (gi, g) in groups.iter().enumerate() {
            let t = target[gi];
            for &s in g {
                if self.slots[s as usize].identity != Some(t) {
                    ch.observations.insert(self.refs[s as usize].clone());
                    self.slots[s as usize].identity = Some(t);
                }
            }
            let registry = g.iter().filter(|s| self.is_registry(**s)).count() as u32;
            let ident = &mut self.idents[t as usize];
            ident.members = g.clone();
            ident.registry = registry;
            ident.retired = false;
            ident.merged_into = None;
            ch.identities.insert(ident.id);
        }
    }

    /// 4. Tells the moves: an identity emptied into one other was merged into it; one whose
    ///    members went several ways was split (`taken`: the identities kept by a group).
    fn tell_moves(
        &mut self,
        flows: BTreeMap<u32, BTreeMap<u32, Vec<u32>>>,
        taken: &BTreeSet<u32>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        for (from, to) in flows {
            let kept = taken.contains(&from);
            let original = self.idents[from as usize].id;
            ch.identities.insert(original);
            let did = self.next_decision_id();
            if !kept {
                let ident = &mut self.idents[from as usize];
                ident.members.clear();
                ident.registry = 0;
                ident.retired = true;
                ident.merged_into = if to.len() == 1 {
                    to.keys().next().copied()
                } else {
                    None
                };
            }
            if !kept
                && to.len() == 1
                && let Some((&t, moved)) = to.iter().next()
            {
                let survivor = self.idents[t as usize].id;
                let reason = "the settle pass found these records belong to one organisation \
                              whatever order they arrived in"
                    .to_owned();
                let moved_refs = self.refs_of(moved);
                let plan = MergePlan {
                    survivor,
                    absorbed: original,
                    moved_refs,
                    reason,
                    operator: None,
                    automatic_rule: "settle",
                    decision_id: did,
                };
                self.log_merge_event(plan, now, ch);
                continue;
            }
            // the part that stays (if any) first: it keeps the id
            let mut parts: Vec<SplitPart> = Vec::new();
            let mut ordered: Vec<(&u32, &Vec<u32>)> = to.iter().collect();
            ordered.sort_by_key(|(t, _)| **t != from);
            for (t, members) in ordered {
                parts.push(SplitPart {
                    organisation_id: self.idents[*t as usize].id,
                    source_refs: self.refs_of(members),
                });
            }
            let reason = "the settle pass found these records are not one organisation \
                          whatever order they arrived in"
                .to_owned();
            let plan = SplitPlan {
                original,
                parts,
                reason,
                operator: None,
                automatic_rule: "settle",
                decision_id: did,
            };
            self.log_split_event(plan, now, ch);
        }
    }

    /// Closes open review items the replay does not hold doubtful and opens those it does.
    fn settle_reviews(&mut self, settlement: &Settlement, now: DateTime<Utc>, ch: &mut Changes) {
        let open: Vec<(uuid::Uuid, (SourceRef, SourceRef))> = self
            .reviews
            .values()
            .filter(|r| r.status == ReviewStatus::Open)
            .map(|r| (r.review_id, (r.observation.clone(), r.candidate.clone())))
            .collect();
        let mut held: BTreeSet<(SourceRef, SourceRef)> = BTreeSet::new();
        for (id, pair) in open {
            if settlement.reviews.contains_key(&pair) && !held.contains(&pair) {
                held.insert(pair);
            } else {
                self.close_review(
                    id,
                    ReviewStatus::Superseded,
                    None,
                    Some("the settle pass no longer finds this pair doubtful"),
                    now,
                    ch,
                );
            }
        }
        for (pair, r) in &settlement.reviews {
            if held.contains(pair) {
                continue;
            }
            let (Some(&s), Some(&c)) = (
                self.by_ref.get(&r.observation),
                self.by_ref.get(&r.candidate),
            ) else {
                continue;
            };
            let (Some(own), Some(cand)) = (
                self.slots[s as usize].identity,
                self.slots[c as usize].identity,
            ) else {
                continue;
            };
            let pair = ReviewPair {
                s,
                own,
                cand: c,
                cand_ident: cand,
                score: r.score,
                features: r.features.clone(),
            };
            self.open_review_pair(pair, now, ch);
            let (o, c) = (self.idents[own as usize].id, self.idents[cand as usize].id);
            let entry = LogEntry::new(DecisionOutcome::Review, "settle")
                .source(r.observation.clone())
                .org(o)
                .candidate(c)
                .note("the settle pass finds this pair doubtful");
            self.log_decision(entry, now, ch);
        }
    }
}

//! The matching engine: a pure, in-memory, deterministic library. Observations go in,
//! identities, golden records and a decision log come out. No I/O: the service is a thin
//! persistence and messaging shell around it, and `reconcile-accuracy` runs it on a whole
//! simulated world in-process.
//!
//! Owns identities (which observations are one organisation), the review queue, operator
//! constraints and their precedence, and the resolution of each new or changed observation:
//!
//! 1. out of scope: a household borrower is kept but never matched;
//! 2. operator constraints first: a must-link puts the observation with its partner (merging
//!    identities the operator said are one); a cannot-link excludes an identity;
//! 3. candidates from the blocking index ([`blocking`]), scored in full ([`score`]) against
//!    the identity's registry record and the members that shared keys;
//! 4. the best candidate at or above [`score::MATCH_LOGIT`], clearly ahead of the next:
//!    matched (other strong, compatible candidates are merged into it: the observation links
//!    them); doubtful or ambiguous: a new identity and a review item; nothing: a new identity.
//!
//! A registry record arriving after the records about it reclaims those that fit it clearly
//! better than their identity's own registry record, and absorbs registry-less identities it
//! matches. A changed observation leaves its identity and is resolved again; if the members left
//! behind no longer hold together, the identity is split. Entries of one NTM report are
//! different cooperatives, and two registry records are never merged automatically.
//! Same inputs in the same order give the same identities and the same ids. Different orders
//! may resolve differently at first; the [`settle`] pass (run by the service once the input
//! is quiet) moves the identities to what one canonical order gives, so the end state depends
//! on the records and the operator decisions only.

pub mod blocking;
pub mod features;
pub mod golden;
pub mod observation;
pub mod score;
pub mod settle;
pub mod types;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use hub_contracts::v1::{
    DecisionOutcome, GoldenRecord, IdentityMerged, IdentitySplit, NtmCommuneReport,
    ReconciliationDecision, SourceRef, SplitPart,
};
use hub_normalise::mask;
use uuid::Uuid;

use blocking::{Index, KeyKind};
use features::{Features, Interner, KindClass};
use observation::{Observation, ObservationKind, ntm_entry_id};
use score::{MARGIN_LOGIT, MATCH_LOGIT, PairScore, REVIEW_LOGIT, RULE_VERSION, Rule};
pub use types::*;

/// Identities larger than this are not checked for falling apart when a member leaves.
const SPLIT_CHECK_LIMIT: usize = 64;
/// Members of a candidate identity scored in full (its registry records come first).
const MEMBERS_SCORED: usize = 6;
/// Added to a candidate identity's score when one of its members contradicts the
/// observation (another product, number, district, code, kind, or full name).
const MEMBER_CONFLICT: f64 = -6.0;
/// Two identities an observation links may merge unless what they say of each other
/// directly is below this (a contradiction).
const COMPATIBLE_LOGIT: f64 = -2.0;
/// Neighbours a newly arrived registry record reconsiders.
const RECONSIDERED: usize = 64;
/// Cross pairs an operator split may create as cannot-links.
const MAX_SPLIT_PAIRS: usize = 20_000;

fn ns_uuid(kind: &str, seq: u64) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:coophub:reconciler:{kind}:{seq}").as_bytes(),
    )
}

#[derive(Debug)]
struct Slot {
    obs: Option<Observation>,
    feat: Option<Features>,
    state: ObsState,
    identity: Option<u32>,
    must: Vec<u32>,
    cannot: Vec<u32>,
    /// Open review items about this observation.
    reviews: Vec<Uuid>,
}

#[derive(Debug)]
struct Ident {
    id: OrgId,
    seq: u64,
    /// Sorted slot numbers.
    members: Vec<u32>,
    retired: bool,
    merged_into: Option<u32>,
    registry: u32,
    golden_version: u64,
    golden_hash: String,
    last_name: String,
}

/// A candidate identity, scored.
#[derive(Debug, Clone)]
struct Cand {
    ident: u32,
    seq: u64,
    score: PairScore,
    /// The member the observation resembles most.
    anchor: u32,
    /// Only an operator may link it (both hold a registry record).
    review_only: bool,
}

/// The engine. See the module documentation.
#[derive(Debug, Default)]
pub struct Engine {
    interner: Interner,
    slots: Vec<Slot>,
    by_ref: HashMap<SourceRef, u32>,
    refs: Vec<SourceRef>,
    idents: Vec<Ident>,
    by_org: HashMap<OrgId, u32>,
    index: Index,
    constraints: BTreeMap<(SourceRef, SourceRef), Constraint>,
    reviews: BTreeMap<Uuid, ReviewItem>,
    reports: HashMap<(String, i32), ReportState>,
    counters: Counters,
    key_buf: Vec<(u64, KeyKind)>,
    pairs_scored: u64,
    /// An identity a changed observation just left empty: reused if the observation ends up
    /// alone again (its organisation id does not churn), else retired into where it went.
    vacated: Option<u32>,
    /// Which inputs the engine holds: see [`Generation`].
    generation: Generation,
    /// The generation the last settle pass confirmed or applied.
    settled: Option<Generation>,
    /// Time of the last decision logged (decision times strictly increase).
    last_decision_at: Option<DateTime<Utc>>,
}

/// Names the inputs (observations and operator constraints) an engine holds: it changes with
/// every input that changes, and differs between engine instances, so a result computed
/// from one generation (a [`settle::Settlement`]) is never applied to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Generation {
    instance: u64,
    inputs: u64,
}

static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Counts, for reports and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub observations: usize,
    pub active: usize,
    pub out_of_scope: usize,
    pub identities: usize,
    pub open_reviews: usize,
    pub index_keys: usize,
    /// Pairs scored in full so far (the cost the blocking bounds).
    pub pairs_scored: u64,
    /// Members of the largest live identity.
    pub largest_identity: usize,
}

impl Engine {
    pub fn new() -> Engine {
        Engine {
            generation: Generation {
                instance: INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                inputs: 0,
            },
            ..Engine::default()
        }
    }

    /// The inputs this engine holds now (see [`Generation`]).
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Whether the identities are what the canonical order gives for the inputs held now
    /// (the last settle pass ran after the last input changed).
    pub fn is_settled(&self) -> bool {
        self.settled == Some(self.generation)
    }

    fn input_changed(&mut self) {
        self.generation.inputs += 1;
    }

    // ------------------------------------------------------------------------------------
    // Queries.

    pub fn stats(&self) -> Stats {
        let mut s = Stats {
            observations: self.slots.iter().filter(|s| s.obs.is_some()).count(),
            identities: self.idents.iter().filter(|i| !i.retired).count(),
            open_reviews: self
                .reviews
                .values()
                .filter(|r| r.status == ReviewStatus::Open)
                .count(),
            index_keys: self.index.len(),
            pairs_scored: self.pairs_scored,
            largest_identity: self
                .idents
                .iter()
                .filter(|i| !i.retired)
                .map(|i| i.members.len())
                .max()
                .unwrap_or(0),
            ..Stats::default()
        };
        for sl in &self.slots {
            match (sl.obs.is_some(), sl.state) {
                (true, ObsState::Active) => s.active += 1,
                (true, ObsState::OutOfScope) => s.out_of_scope += 1,
                _ => {}
            }
        }
        s
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The organisation a source record belongs to now.
    pub fn identity_of(&self, source: &SourceRef) -> Option<OrgId> {
        let s = *self.by_ref.get(source)?;
        self.slots[s as usize]
            .identity
            .map(|i| self.idents[i as usize].id)
    }

    /// The state of a source record.
    pub fn state_of(&self, source: &SourceRef) -> Option<ObsState> {
        let s = *self.by_ref.get(source)?;
        self.slots[s as usize].obs.as_ref()?;
        Some(self.slots[s as usize].state)
    }

    /// Live identities and their members, in identity order (for scoring a run).
    pub fn clusters(&self) -> Vec<(OrgId, Vec<SourceRef>)> {
        self.idents
            .iter()
            .filter(|i| !i.retired)
            .map(|i| (i.id, self.refs_of(&i.members)))
            .collect()
    }

    pub fn observation(&self, source: &SourceRef) -> Option<&Observation> {
        let s = *self.by_ref.get(source)?;
        self.slots[s as usize].obs.as_ref()
    }

    /// The stored form of an observation.
    pub fn stored_observation(&self, source: &SourceRef) -> Option<StoredObservation> {
        let s = *self.by_ref.get(source)?;
        let sl = &self.slots[s as usize];
        Some(StoredObservation {
            observation: sl.obs.clone()?,
            state: sl.state,
            organisation_id: sl.identity.map(|i| self.idents[i as usize].id),
        })
    }

    /// The stored form of an identity.
    pub fn stored_identity(&self, id: OrgId) -> Option<StoredIdentity> {
        let i = &self.idents[*self.by_org.get(&id)? as usize];
        Some(StoredIdentity {
            organisation_id: i.id,
            seq: i.seq,
            retired: i.retired,
            merged_into: i.merged_into.map(|m| self.idents[m as usize].id),
            golden_version: i.golden_version,
            golden_hash: i.golden_hash.clone(),
            last_name: i.last_name.clone(),
        })
    }

    /// Source records of a live identity.
    pub fn members(&self, id: OrgId) -> Option<Vec<SourceRef>> {
        let i = &self.idents[*self.by_org.get(&id)? as usize];
        Some(self.refs_of(&i.members))
    }

    pub fn review(&self, id: Uuid) -> Option<&ReviewItem> {
        self.reviews.get(&id)
    }

    pub fn reviews(&self) -> impl Iterator<Item = &ReviewItem> {
        self.reviews.values()
    }

    pub fn constraints(&self) -> impl Iterator<Item = &Constraint> {
        self.constraints.values()
    }

    /// The golden record of an identity as it is now, without touching its version: the
    /// version is the last published one (`current_golden` is for reading).
    pub fn current_golden(&self, id: OrgId, now: DateTime<Utc>) -> Option<GoldenRecord> {
        let ii = *self.by_org.get(&id)?;
        let mut g = self.build_golden(ii, now);
        g.version = self.idents[ii as usize].golden_version.max(1);
        Some(g)
    }

    /// Golden records of `ids` that changed since last published, with their version
    /// raised; the engine remembers them as published.
    pub fn publish_golden(
        &mut self,
        ids: &BTreeSet<OrgId>,
        now: DateTime<Utc>,
    ) -> Vec<GoldenRecord> {
        let mut out = Vec::new();
        for id in ids {
            let Some(&ii) = self.by_org.get(id) else {
                continue;
            };
            let mut g = self.build_golden(ii, now);
            let hash = golden::content_hash(&g);
            let ident = &mut self.idents[ii as usize];
            if hash == ident.golden_hash {
                continue;
            }
            ident.golden_version += 1;
            ident.golden_hash = hash;
            if !g.retired {
                ident.last_name.clone_from(&g.name);
            }
            g.version = ident.golden_version;
            out.push(g);
        }
        out
    }

    fn build_golden(&self, ii: u32, now: DateTime<Utc>) -> GoldenRecord {
        let ident = &self.idents[ii as usize];
        if ident.retired || ident.members.is_empty() {
            let mut g = golden::build(ident.id, &[], now);
            g.retired = true;
            g.merged_into = ident.merged_into.map(|m| self.idents[m as usize].id);
            g.name.clone_from(&ident.last_name);
            return g;
        }
        let mut members: Vec<&Observation> = ident
            .members
            .iter()
            .filter_map(|m| self.slots[*m as usize].obs.as_ref())
            .collect();
        // by source ref, as survivorship expects: not by arrival (slot) order
        members.sort_by(|a, b| a.source.cmp(&b.source));
        golden::build(ident.id, &members, now)
    }

    // ------------------------------------------------------------------------------------
    // Input.

    /// Resolves a new or changed observation. Unchanged content changes nothing.
    pub fn observe(&mut self, obs: Observation, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        self.observe_into(obs, now, &mut ch);
        ch
    }

    fn observe_into(&mut self, obs: Observation, now: DateTime<Utc>, ch: &mut Changes) {
        let s = self.slot_for(&obs.source);
        let sl = &self.slots[s as usize];
        if let Some(old) = &sl.obs {
            if *old == obs && sl.state != ObsState::Withdrawn {
                return;
            }
            let in_scope_same = sl.state == ObsState::Active && !obs.out_of_scope();
            if in_scope_same && old.same_match_content(&obs) {
                // only facts changed: the golden record, not the identity
                let ident = sl.identity;
                self.slots[s as usize].obs = Some(obs);
                ch.observations.insert(self.refs[s as usize].clone());
                if let Some(i) = ident {
                    ch.identities.insert(self.idents[i as usize].id);
                }
                return;
            }
            self.detach(s, "its source record changed", true, now, ch);
        }
        self.input_changed();
        let feat = features::extract(&obs, &mut self.interner);
        let out = obs.out_of_scope();
        let sl = &mut self.slots[s as usize];
        sl.obs = Some(obs);
        sl.feat = Some(feat);
        ch.observations.insert(self.refs[s as usize].clone());
        if out {
            sl.state = ObsState::OutOfScope;
            let source = self.refs[s as usize].clone();
            self.decision(
                ch,
                DecisionOutcome::OutOfScope,
                Some(source),
                None,
                None,
                None,
                "borrower_type",
                None,
                Some("household borrower: outside the hub's scope, never matched".into()),
                now,
            );
            return;
        }
        sl.state = ObsState::Active;
        self.resolve(s, now, ch);
        self.settle_vacated(s, now, ch);
        if self.is_registry(s) {
            self.reconsider_neighbours(s, now, ch);
        }
    }

    /// A registry record just arrived: observations that went to another registry record's
    /// identity earlier (when this one was not known) and fit this one clearly better move
    /// here. Bounded: at most [`RECONSIDERED`] neighbours, found through the index.
    fn reconsider_neighbours(&mut self, r: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let Some(target) = self.slots[r as usize].identity else {
            return;
        };
        let Some(fr) = self.slots[r as usize].feat.as_ref() else {
            return;
        };
        let mut buf = std::mem::take(&mut self.key_buf);
        blocking::keys(fr, &self.interner, true, &mut buf);
        let mut lists: Vec<&[u32]> = buf
            .iter()
            .map(|(k, _)| self.index.get(*k))
            .filter(|l| !l.is_empty() && l.len() <= blocking::BROAD)
            .collect();
        lists.sort_by_key(|l| l.len());
        let mut near: Vec<u32> = Vec::new();
        'lists: for l in lists {
            for &o in l {
                if near.len() >= RECONSIDERED {
                    break 'lists;
                }
                if o != r && !near.contains(&o) {
                    near.push(o);
                }
            }
        }
        self.key_buf = buf;
        near.sort_unstable();
        for o in near {
            let Some(cur) = self.slots[o as usize].identity else {
                continue;
            };
            if cur == target || self.is_registry(o) {
                continue;
            }
            let (Some(fo), Some(fr)) = (&self.slots[o as usize].feat, &self.slots[r as usize].feat)
            else {
                continue;
            };
            let here = score::score(fo, fr, &self.interner);
            if here.veto || here.logit < MATCH_LOGIT {
                continue;
            }
            // an identity without a registry record that this one matches: they are one
            if self.idents[cur as usize].registry == 0 {
                if !here.hard_conflict && self.compatible(target, cur) {
                    let reason = format!(
                        "the registry record {} matches {}",
                        self.refs[r as usize], self.refs[o as usize]
                    );
                    self.merge_idents(target, cur, &reason, None, None, now, ch);
                }
                continue;
            }
            let there = self.idents[cur as usize]
                .members
                .iter()
                .filter(|m| self.is_registry(**m))
                .filter_map(|m| self.slots[*m as usize].feat.as_ref())
                .map(|fm| score::score(fo, fm, &self.interner).logit)
                .fold(f64::NEG_INFINITY, f64::max);
            if here.logit < there + MARGIN_LOGIT {
                continue;
            }
            // operator decisions and report lists still hold
            let sl = &self.slots[o as usize];
            let held = sl
                .must
                .iter()
                .any(|p| self.slots[*p as usize].identity == Some(cur));
            let barred = sl
                .cannot
                .iter()
                .any(|p| self.slots[*p as usize].identity == Some(target));
            let same_report = fo.report.as_ref().is_some_and(|rep| {
                self.idents[target as usize].members.iter().any(|m| {
                    self.slots[*m as usize]
                        .feat
                        .as_ref()
                        .and_then(|f| f.report.as_ref())
                        == Some(rep)
                })
            });
            if held || barred || same_report {
                continue;
            }
            let from = self.idents[cur as usize].id;
            self.detach(o, "a registry record fits it better", true, now, ch);
            self.join(o, target, ch);
            let org = self.idents[target as usize].id;
            let source = self.refs[o as usize].clone();
            let note = format!(
                "{} ~ {}: fits this registry record better than {from}'s",
                self.display_name(o),
                self.display_name(r)
            );
            self.decision(
                ch,
                DecisionOutcome::Matched,
                Some(source),
                Some(org),
                Some(from),
                Some(&here),
                "registry_arrival",
                None,
                Some(note),
                now,
            );
            self.settle_vacated(o, now, ch);
        }
    }

    /// Retires the identity a changed observation left empty, if it was not reused: the
    /// observation went to another organisation, which absorbs it.
    fn settle_vacated(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let Some(v) = self.vacated.take() else {
            return;
        };
        let target = self.slots[s as usize].identity.filter(|t| *t != v);
        let ident = &mut self.idents[v as usize];
        if !ident.members.is_empty() {
            return;
        }
        ident.retired = true;
        ident.merged_into = target;
        ch.identities.insert(ident.id);
        if let Some(t) = target {
            let (sid, aid) = (self.idents[t as usize].id, self.idents[v as usize].id);
            let did = self.next_decision_id();
            let reason = format!(
                "its only record {} now belongs to {sid}",
                self.refs[s as usize]
            );
            let moved_refs = self.refs_of(&[s]);
            self.log_merge(sid, aid, moved_refs, reason, None, "moved", did, now, ch);
        }
    }

    /// A new identity, or the one a changed observation just left empty.
    fn fresh_ident(&mut self, ch: &mut Changes) -> u32 {
        match self.vacated.take() {
            Some(v) if self.idents[v as usize].members.is_empty() => {
                ch.identities.insert(self.idents[v as usize].id);
                v
            }
            _ => self.new_ident(ch),
        }
    }

    /// A source record that is no longer served: it leaves its identity.
    pub fn withdraw(&mut self, source: &SourceRef, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        if let Some(&s) = self.by_ref.get(source)
            && self.slots[s as usize].obs.is_some()
            && self.slots[s as usize].state != ObsState::Withdrawn
        {
            self.input_changed();
            self.detach(s, "its source record was withdrawn", false, now, &mut ch);
            self.slots[s as usize].state = ObsState::Withdrawn;
            ch.observations.insert(source.clone());
        }
        ch
    }

    /// One revision of an NTM report: each entry is an observation; entries past the end of
    /// this revision are withdrawn. An older revision than the one held is ignored.
    pub fn ntm_report(&mut self, report: &NtmCommuneReport, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        let key = (report.commune_code.clone(), report.year);
        let previous = self.reports.get(&key).cloned();
        if previous
            .as_ref()
            .is_some_and(|p| report.revision < p.revision)
        {
            ch.stale = true;
            return ch;
        }
        let mut seen = BTreeSet::new();
        for e in &report.cooperatives {
            seen.insert(e.index);
            self.observe_into(Observation::from_ntm_entry(report, e), now, &mut ch);
        }
        let before = previous.as_ref().map_or(0, |p| p.entries);
        let upto = before.max(report.cooperatives.len() as u32);
        for i in 0..upto {
            if !seen.contains(&i) {
                let r = SourceRef::new(
                    report.meta.source.system.clone(),
                    ntm_entry_id(&report.commune_code, report.year, i),
                );
                let w = self.withdraw(&r, now);
                ch.absorb(w);
            }
        }
        let state = ReportState {
            commune_code: report.commune_code.clone(),
            year: report.year,
            revision: report.revision,
            entries: report.cooperatives.len() as u32,
        };
        if previous.as_ref() != Some(&state) {
            self.reports.insert(key, state.clone());
            ch.reports.push(state);
        }
        ch
    }

    // ------------------------------------------------------------------------------------
    // Operator decisions.

    fn open_review(&self, id: Uuid) -> Result<ReviewItem, EngineError> {
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
        // the merge (if any) is logged under the link's constraint; the link itself too
        self.link_slots(a, b, operator, reason, now, &mut ch)?;
        let decision_id = self.next_decision_id();
        let org = self.slots[a as usize]
            .identity
            .map(|i| self.idents[i as usize].id);
        self.decision_with_id(
            &mut ch,
            decision_id,
            DecisionOutcome::OperatorLinked,
            Some(item.observation.clone()),
            org,
            Some(item.candidate_id),
            Some(item.score),
            item.features.clone(),
            "operator",
            Some(operator.to_owned()),
            Some(reason.to_owned()),
            now,
        );
        self.close_review(
            id,
            ReviewStatus::Linked,
            Some(operator),
            Some(reason),
            now,
            &mut ch,
        );
        Ok(ch)
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
        self.add_constraint(
            a,
            b,
            ConstraintKind::CannotLink,
            operator,
            reason,
            decision_id,
            now,
            &mut ch,
        );
        // if they ended up together meanwhile, the observation leaves and is resolved again
        let (ia, ib) = (
            self.slots[a as usize].identity,
            self.slots[b as usize].identity,
        );
        if ia.is_some() && ia == ib {
            self.detach(a, "an operator separated it", false, now, &mut ch);
            self.resolve(a, now, &mut ch);
        }
        let org = self.slots[a as usize]
            .identity
            .map(|i| self.idents[i as usize].id);
        self.decision_with_id(
            &mut ch,
            decision_id,
            DecisionOutcome::OperatorSeparated,
            Some(item.observation.clone()),
            org,
            Some(item.candidate_id),
            Some(item.score),
            item.features.clone(),
            "operator",
            Some(operator.to_owned()),
            Some(reason.to_owned()),
            now,
        );
        self.close_review(
            id,
            ReviewStatus::Separated,
            Some(operator),
            Some(reason),
            now,
            &mut ch,
        );
        Ok(ch)
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
            self.add_constraint(
                anchor,
                other,
                ConstraintKind::MustLink,
                operator,
                reason,
                did,
                now,
                &mut ch,
            );
            self.merge_idents(surv, i, reason, Some(operator), Some(did), now, &mut ch);
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
        let mut ch = Changes::default();
        let did = self.next_decision_id();
        for (a, ga) in groups.iter().enumerate() {
            for gb in &groups[a + 1..] {
                for &x in ga {
                    for &y in gb {
                        self.add_constraint(
                            x,
                            y,
                            ConstraintKind::CannotLink,
                            operator,
                            reason,
                            did,
                            now,
                            &mut ch,
                        );
                    }
                }
            }
            for w in ga.windows(2) {
                if a > 0 || !rest_is_first(&groups, &seen) {
                    self.add_constraint(
                        w[0],
                        w[1],
                        ConstraintKind::MustLink,
                        operator,
                        reason,
                        did,
                        now,
                        &mut ch,
                    );
                }
            }
        }
        self.split_ident(ii, groups, reason, Some(operator), did, now, &mut ch);
        Ok(ch)
    }

    // ------------------------------------------------------------------------------------
    // Restore.

    /// Everything [`Engine::restore`] needs, as the service stores it.
    pub fn snapshot(&self) -> Snapshot {
        let mut observations = Vec::new();
        for r in &self.refs {
            if let Some(so) = self.stored_observation(r) {
                observations.push(so);
            }
        }
        Snapshot {
            observations,
            identities: self
                .idents
                .iter()
                .filter_map(|i| self.stored_identity(i.id))
                .collect(),
            constraints: self.constraints.values().cloned().collect(),
            reviews: self.reviews.values().cloned().collect(),
            reports: self.reports.values().cloned().collect(),
            counters: self.counters,
        }
    }

    /// Rebuilds an engine from what the service stored (no re-resolution: identities are
    /// taken as they were).
    pub fn restore(snap: Snapshot) -> Engine {
        let mut e = Engine::new();
        e.counters = snap.counters;
        let mut idents = snap.identities;
        idents.sort_by_key(|i| i.seq);
        for si in &idents {
            let ii = e.idents.len() as u32;
            e.idents.push(Ident {
                id: si.organisation_id,
                seq: si.seq,
                members: Vec::new(),
                retired: si.retired,
                merged_into: None,
                registry: 0,
                golden_version: si.golden_version,
                golden_hash: si.golden_hash.clone(),
                last_name: si.last_name.clone(),
            });
            e.by_org.insert(si.organisation_id, ii);
        }
        for si in &idents {
            if let (Some(m), Some(&ii)) = (si.merged_into, e.by_org.get(&si.organisation_id)) {
                e.idents[ii as usize].merged_into = e.by_org.get(&m).copied();
            }
        }
        let mut obs = snap.observations;
        obs.sort_by(|a, b| a.observation.source.cmp(&b.observation.source));
        for so in obs {
            let s = e.slot_for(&so.observation.source);
            let feat = features::extract(&so.observation, &mut e.interner);
            let ident = so
                .organisation_id
                .and_then(|o| e.by_org.get(&o).copied())
                .filter(|_| so.state == ObsState::Active);
            let sl = &mut e.slots[s as usize];
            sl.state = so.state;
            sl.obs = Some(so.observation);
            sl.feat = Some(feat);
            if let Some(i) = ident {
                sl.identity = Some(i);
                let reg = sl
                    .obs
                    .as_ref()
                    .is_some_and(|o| o.kind == ObservationKind::Registry);
                let id = &mut e.idents[i as usize];
                id.members.push(s);
                if reg {
                    id.registry += 1;
                }
                e.index_slot(s, true);
            }
        }
        for i in &mut e.idents {
            i.members.sort_unstable();
        }
        for c in snap.constraints {
            let (a, b) = (e.slot_for(&c.a), e.slot_for(&c.b));
            e.link_adjacency(a, b, c.kind);
            e.constraints.insert((c.a.clone(), c.b.clone()), c);
        }
        for r in snap.reviews {
            if r.status == ReviewStatus::Open {
                let s = e.slot_for(&r.observation);
                e.slots[s as usize].reviews.push(r.review_id);
            }
            e.reviews.insert(r.review_id, r);
        }
        for r in snap.reports {
            e.reports.insert((r.commune_code.clone(), r.year), r);
        }
        e
    }

    // ------------------------------------------------------------------------------------
    // Internals: slots and identities.

    fn slot_for(&mut self, r: &SourceRef) -> u32 {
        if let Some(&s) = self.by_ref.get(r) {
            return s;
        }
        let s = self.slots.len() as u32;
        self.slots.push(Slot {
            obs: None,
            feat: None,
            state: ObsState::Withdrawn,
            identity: None,
            must: Vec::new(),
            cannot: Vec::new(),
            reviews: Vec::new(),
        });
        self.refs.push(r.clone());
        self.by_ref.insert(r.clone(), s);
        s
    }

    fn slot_of(&self, r: &SourceRef) -> Result<u32, EngineError> {
        self.by_ref
            .get(r)
            .copied()
            .filter(|s| self.slots[*s as usize].obs.is_some())
            .ok_or(EngineError::NotFound {
                what: "source record",
                id: r.to_string(),
            })
    }

    fn live_ident(&self, id: OrgId) -> Result<u32, EngineError> {
        let i = *self.by_org.get(&id).ok_or(EngineError::NotFound {
            what: "organisation",
            id: id.to_string(),
        })?;
        let ident = &self.idents[i as usize];
        if ident.retired {
            return Err(EngineError::Retired(
                id,
                ident.merged_into.map(|m| self.idents[m as usize].id),
            ));
        }
        Ok(i)
    }

    fn new_ident(&mut self, ch: &mut Changes) -> u32 {
        let seq = self.counters.next_org_seq;
        self.counters.next_org_seq += 1;
        let id = ns_uuid("organisation", seq);
        let ii = self.idents.len() as u32;
        self.idents.push(Ident {
            id,
            seq,
            members: Vec::new(),
            retired: false,
            merged_into: None,
            registry: 0,
            golden_version: 0,
            golden_hash: String::new(),
            last_name: String::new(),
        });
        self.by_org.insert(id, ii);
        ch.identities.insert(id);
        ii
    }

    fn index_slot(&mut self, s: u32, insert: bool) {
        let mut buf = std::mem::take(&mut self.key_buf);
        if let Some(f) = &self.slots[s as usize].feat {
            blocking::keys(f, &self.interner, false, &mut buf);
            if insert {
                self.index.insert(&buf, s);
            } else {
                self.index.remove(&buf, s);
            }
        }
        self.key_buf = buf;
    }

    fn is_registry(&self, s: u32) -> bool {
        self.slots[s as usize]
            .obs
            .as_ref()
            .is_some_and(|o| o.kind == ObservationKind::Registry)
    }

    fn join(&mut self, s: u32, ii: u32, ch: &mut Changes) {
        let reg = self.is_registry(s);
        let ident = &mut self.idents[ii as usize];
        if let Err(pos) = ident.members.binary_search(&s) {
            ident.members.insert(pos, s);
        }
        if reg {
            ident.registry += 1;
        }
        ch.identities.insert(ident.id);
        self.slots[s as usize].identity = Some(ii);
        self.index_slot(s, true);
        ch.observations.insert(self.refs[s as usize].clone());
    }

    /// Takes an active observation out of its identity (and the index); the identity is
    /// retired when empty and split when what is left no longer holds together.
    fn detach(&mut self, s: u32, why: &str, reuse: bool, now: DateTime<Utc>, ch: &mut Changes) {
        self.supersede_reviews(s, now, ch);
        let Some(ii) = self.slots[s as usize].identity.take() else {
            return;
        };
        self.index_slot(s, false);
        let reg = self.is_registry(s);
        let ident = &mut self.idents[ii as usize];
        ident.members.retain(|m| *m != s);
        if reg {
            ident.registry = ident.registry.saturating_sub(1);
        }
        ch.identities.insert(ident.id);
        ch.observations.insert(self.refs[s as usize].clone());
        if ident.members.is_empty() {
            if reuse {
                self.vacated = Some(ii);
            } else {
                ident.retired = true;
            }
            return;
        }
        if ident.members.len() > SPLIT_CHECK_LIMIT {
            return;
        }
        let comps = self.components(&self.idents[ii as usize].members.clone());
        if comps.len() > 1 {
            let reason = format!(
                "{} left the organisation ({why}) and the records it linked no longer match each other",
                self.refs[s as usize]
            );
            let did = self.next_decision_id();
            self.split_ident(ii, comps, &reason, None, did, now, ch);
        }
    }

    /// Connected components of members under match edges and must-links.
    fn components(&self, members: &[u32]) -> Vec<Vec<u32>> {
        let n = members.len();
        let mut parent: Vec<usize> = (0..n).collect();
        fn find(p: &mut [usize], x: usize) -> usize {
            let mut r = x;
            while p[r] != r {
                r = p[r];
            }
            let mut c = x;
            while p[c] != r {
                let next = p[c];
                p[c] = r;
                c = next;
            }
            r
        }
        for i in 0..n {
            for j in i + 1..n {
                if find(&mut parent, i) == find(&mut parent, j) {
                    continue;
                }
                let (a, b) = (members[i], members[j]);
                let linked = self.has_constraint(a, b, ConstraintKind::MustLink)
                    || match (&self.slots[a as usize].feat, &self.slots[b as usize].feat) {
                        (Some(fa), Some(fb)) => {
                            let sc = score::score(fa, fb, &self.interner);
                            !sc.veto && sc.logit >= MATCH_LOGIT
                        }
                        _ => false,
                    };
                if linked {
                    let (ra, rb) = (find(&mut parent, i), find(&mut parent, j));
                    parent[ra] = rb;
                }
            }
        }
        let mut groups: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for (i, m) in members.iter().enumerate() {
            let r = find(&mut parent, i);
            groups.entry(r).or_default().push(*m);
        }
        let mut out: Vec<Vec<u32>> = groups.into_values().collect();
        // the part with a registry record (else the largest) keeps the identity
        out.sort_by_key(|g| {
            (
                std::cmp::Reverse(g.iter().filter(|m| self.is_registry(**m)).count()),
                std::cmp::Reverse(g.len()),
                g[0],
            )
        });
        out
    }

    /// Splits identity `ii` into `groups` (the first keeps the id).
    #[allow(clippy::too_many_arguments)]
    fn split_ident(
        &mut self,
        ii: u32,
        groups: Vec<Vec<u32>>,
        reason: &str,
        operator: Option<&str>,
        decision_id: Uuid,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let original = self.idents[ii as usize].id;
        let mut parts = Vec::new();
        for (k, g) in groups.into_iter().enumerate() {
            let target = if k == 0 { ii } else { self.new_ident(ch) };
            if k > 0 {
                for &m in &g {
                    let reg = self.is_registry(m);
                    let from = &mut self.idents[ii as usize];
                    from.members.retain(|x| *x != m);
                    if reg {
                        from.registry = from.registry.saturating_sub(1);
                    }
                    let to = &mut self.idents[target as usize];
                    to.members.push(m);
                    if reg {
                        to.registry += 1;
                    }
                    self.slots[m as usize].identity = Some(target);
                    ch.observations.insert(self.refs[m as usize].clone());
                }
                self.idents[target as usize].members.sort_unstable();
            }
            ch.identities.insert(self.idents[target as usize].id);
            parts.push(SplitPart {
                organisation_id: self.idents[target as usize].id,
                source_refs: self.refs_of(&g),
            });
        }
        self.log_split(
            original,
            parts,
            reason.to_owned(),
            operator,
            "split",
            decision_id,
            now,
            ch,
        );
    }

    /// The source references of `slots`, in their order.
    fn refs_of(&self, slots: &[u32]) -> Vec<SourceRef> {
        slots
            .iter()
            .map(|m| self.refs[*m as usize].clone())
            .collect()
    }

    /// The rule a decision is logged under: `operator` when an operator took it, else the
    /// automatic rule that did.
    fn rule_of<'a>(operator: Option<&str>, automatic: &'a str) -> &'a str {
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
    fn log_split(
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

    /// Moves every member of `absorbed` into `survivor` and retires `absorbed`.
    #[allow(clippy::too_many_arguments)]
    fn merge_idents(
        &mut self,
        survivor: u32,
        absorbed: u32,
        reason: &str,
        operator: Option<&str>,
        decision_id: Option<Uuid>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        if survivor == absorbed {
            return;
        }
        let moved = std::mem::take(&mut self.idents[absorbed as usize].members);
        let reg = self.idents[absorbed as usize].registry;
        {
            let a = &mut self.idents[absorbed as usize];
            a.registry = 0;
            a.retired = true;
            a.merged_into = Some(survivor);
        }
        for &m in &moved {
            self.slots[m as usize].identity = Some(survivor);
            ch.observations.insert(self.refs[m as usize].clone());
        }
        let s = &mut self.idents[survivor as usize];
        s.members.extend(moved.iter().copied());
        s.members.sort_unstable();
        s.registry += reg;
        let (sid, aid) = (s.id, self.idents[absorbed as usize].id);
        ch.identities.insert(sid);
        ch.identities.insert(aid);
        // review items between the two are moot now
        let mut moot = Vec::new();
        for &m in &self.idents[survivor as usize].members {
            for id in &self.slots[m as usize].reviews {
                let same = self.reviews.get(id).is_some_and(|r| {
                    self.by_ref
                        .get(&r.candidate)
                        .is_some_and(|c| self.slots[*c as usize].identity == Some(survivor))
                });
                if same {
                    moot.push(*id);
                }
            }
        }
        for id in moot {
            self.close_review(id, ReviewStatus::Superseded, None, None, now, ch);
        }
        let did = decision_id.unwrap_or_else(|| self.next_decision_id());
        let moved_refs = self.refs_of(&moved);
        self.log_merge(
            sid,
            aid,
            moved_refs,
            reason.to_owned(),
            operator,
            "linked_by_observation",
            did,
            now,
            ch,
        );
    }

    /// Publishes that `absorbed` was merged into `survivor` and logs its `Merged` decision
    /// (the event first; both under `decision_id`), under `automatic_rule` unless an
    /// `operator` took it.
    #[allow(clippy::too_many_arguments)]
    fn log_merge(
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

    fn pick_survivor(&self, idx: &[u32]) -> u32 {
        idx.iter()
            .copied()
            .min_by_key(|&i| {
                let id = &self.idents[i as usize];
                (std::cmp::Reverse(id.registry.min(1)), id.seq)
            })
            .unwrap_or(idx[0])
    }

    /// The member that stands for an identity: its registry record, else its first member.
    fn anchor(&self, ii: u32) -> u32 {
        let m = &self.idents[ii as usize].members;
        m.iter()
            .copied()
            .find(|s| self.is_registry(*s))
            .unwrap_or(m[0])
    }

    // ------------------------------------------------------------------------------------
    // Internals: constraints.

    fn link_adjacency(&mut self, a: u32, b: u32, kind: ConstraintKind) {
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

    fn has_constraint(&self, a: u32, b: u32, kind: ConstraintKind) -> bool {
        let sl = &self.slots[a as usize];
        match kind {
            ConstraintKind::MustLink => sl.must.contains(&b),
            ConstraintKind::CannotLink => sl.cannot.contains(&b),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_constraint(
        &mut self,
        a: u32,
        b: u32,
        kind: ConstraintKind,
        operator: &str,
        reason: &str,
        decision_id: Uuid,
        now: DateTime<Utc>,
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
            operator: operator.to_owned(),
            reason: reason.to_owned(),
            decision_id,
            at: now,
        };
        self.constraints.insert((ra, rb), c.clone());
        ch.constraints.push(c);
    }

    /// A cannot-link between members of two identities, described.
    fn cross_cannot(&self, i: u32, j: u32) -> Option<String> {
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
    fn link_slots(
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
        self.add_constraint(
            a,
            b,
            ConstraintKind::MustLink,
            operator,
            reason,
            did,
            now,
            ch,
        );
        match (ia, ib) {
            (Some(x), Some(y)) if x != y => {
                let surv = self.pick_survivor(&[x, y]);
                let other = if surv == x { y } else { x };
                self.merge_idents(surv, other, reason, Some(operator), Some(did), now, ch);
            }
            _ => {}
        }
        Ok(did)
    }

    // ------------------------------------------------------------------------------------
    // Internals: reviews and decisions.

    fn supersede_reviews(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let open = std::mem::take(&mut self.slots[s as usize].reviews);
        for id in open {
            self.close_review(id, ReviewStatus::Superseded, None, None, now, ch);
        }
    }

    fn close_review(
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

    fn next_decision_id(&mut self) -> Uuid {
        let seq = self.counters.next_decision_seq;
        self.counters.next_decision_seq += 1;
        ns_uuid("decision", seq)
    }

    /// A name fit for the log: an organisation's name as written, a person's masked.
    fn display_name(&self, s: u32) -> String {
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
    fn decision(
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
    fn decision_with_id(
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

    // ------------------------------------------------------------------------------------
    // Internals: resolution.

    /// Candidate identities of slot `s`, scored, best first.
    fn candidates(&mut self, s: u32) -> Vec<Cand> {
        let Some(f) = self.slots[s as usize].feat.as_ref() else {
            return Vec::new();
        };
        let mut buf = std::mem::take(&mut self.key_buf);
        blocking::keys(f, &self.interner, true, &mut buf);
        let mut lists: Vec<(&[u32], KeyKind)> = buf
            .iter()
            .map(|(k, kind)| (self.index.get(*k), *kind))
            .filter(|(l, _)| !l.is_empty())
            .collect();
        lists.sort_by_key(|(l, _)| l.len());
        // pre-score identities by the keys they share, rarer keys weighing more; a list's
        // identities are looked up first, all together (independent reads the processor
        // overlaps: in a large engine each is a cache miss), then tallied
        let mut pre: HashMap<u32, (f64, [u32; MEMBERS_SCORED], usize)> = HashMap::new();
        let mut of: Vec<Option<u32>> = Vec::new();
        let mut visits = 0usize;
        for (list, kind) in &lists {
            if !pre.is_empty() && (list.len() > blocking::BROAD || visits >= blocking::MAX_VISITS) {
                continue;
            }
            let read = &list[..list.len().min(blocking::SCAN_LIMIT)];
            visits += read.len();
            let w = kind.weight() / (1.0 + (list.len() as f64).ln());
            of.clear();
            of.extend(read.iter().map(|o| self.slots[*o as usize].identity));
            for (&o, ii) in read.iter().zip(&of) {
                if o == s {
                    continue;
                }
                let Some(ii) = *ii else {
                    continue;
                };
                let e = pre.entry(ii).or_insert((0.0, [0; MEMBERS_SCORED], 0));
                e.0 += w;
                if e.2 < MEMBERS_SCORED && !e.1[..e.2].contains(&o) {
                    e.1[e.2] = o;
                    e.2 += 1;
                }
            }
        }
        self.key_buf = buf;
        let mut ranked: Vec<(u32, f64, [u32; MEMBERS_SCORED], usize)> = pre
            .into_iter()
            .map(|(i, (w, hits, n))| (i, w, hits, n))
            .collect();
        let order = |a: &(u32, f64, [u32; MEMBERS_SCORED], usize),
                     b: &(u32, f64, [u32; MEMBERS_SCORED], usize)| {
            b.1.total_cmp(&a.1).then_with(|| {
                self.idents[a.0 as usize]
                    .seq
                    .cmp(&self.idents[b.0 as usize].seq)
            })
        };
        // only the best are kept: select them, then sort them (the order is total: seqs differ)
        if ranked.len() > blocking::MAX_CANDIDATES {
            ranked.select_nth_unstable_by(blocking::MAX_CANDIDATES - 1, order);
            ranked.truncate(blocking::MAX_CANDIDATES);
        }
        ranked.sort_by(order);

        let f = match self.slots[s as usize].feat.as_ref() {
            Some(f) => f,
            None => return Vec::new(),
        };
        let me = &self.slots[s as usize];
        let my_report = f.report;
        let i_am_registry = f.obs_kind == ObservationKind::Registry;
        let mut out = Vec::new();
        let mut scored = 0u64;
        'ident: for (ii, _, hits, n_hits) in ranked {
            let ident = &self.idents[ii as usize];
            if ident.retired {
                continue;
            }
            // operator said: not this one
            for c in &me.cannot {
                if self.slots[*c as usize].identity == Some(ii) {
                    continue 'ident;
                }
            }
            // entries of one NTM report are different cooperatives
            if let Some(rep) = &my_report
                && ident.members.iter().any(|m| {
                    *m != s
                        && self.slots[*m as usize]
                            .feat
                            .as_ref()
                            .and_then(|f| f.report.as_ref())
                            == Some(rep)
                })
            {
                continue;
            }
            // its registry records (counted: none to look for in most identities)
            let mut compare: Vec<u32> = Vec::with_capacity(MEMBERS_SCORED);
            if ident.registry > 0 {
                compare.extend(
                    ident
                        .members
                        .iter()
                        .copied()
                        .filter(|m| self.is_registry(*m))
                        .take(ident.registry.min(2) as usize),
                );
            }
            for &h in &hits[..n_hits] {
                if compare.len() >= MEMBERS_SCORED {
                    break;
                }
                if !compare.contains(&h) {
                    compare.push(h);
                }
            }
            let mut best: Option<(PairScore, u32)> = None;
            let mut conflict = false;
            let mut vetoed = false;
            for m in compare {
                let Some(fm) = self.slots[m as usize].feat.as_ref() else {
                    continue;
                };
                let sc = score::score(f, fm, &self.interner);
                scored += 1;
                vetoed |= sc.veto;
                conflict |= sc.hard_conflict;
                if best.as_ref().is_none_or(|(b, _)| sc.logit > b.logit) {
                    best = Some((sc, m));
                }
            }
            let Some((mut sc, anchor)) = best else {
                continue;
            };
            if vetoed {
                continue;
            }
            if conflict && sc.rule != Rule::RegistrationCode {
                sc.logit += MEMBER_CONFLICT;
                sc.features.push(("member_conflict", MEMBER_CONFLICT));
            }
            out.push(Cand {
                ident: ii,
                seq: ident.seq,
                review_only: i_am_registry && ident.registry > 0,
                score: sc,
                anchor,
            });
        }
        out.sort_by(|a, b| {
            b.score
                .logit
                .total_cmp(&a.score.logit)
                .then(a.seq.cmp(&b.seq))
        });
        self.pairs_scored += scored;
        out
    }

    /// Whether two identities may become one automatically.
    fn compatible(&self, i: u32, j: u32) -> bool {
        let (a, b) = (&self.idents[i as usize], &self.idents[j as usize]);
        if a.retired || b.retired || (a.registry > 0 && b.registry > 0) {
            return false;
        }
        if self.cross_cannot(i, j).is_some() {
            return false;
        }
        // what the two identities say of each other directly must not contradict
        let pick = |id: &Ident| -> Vec<u32> {
            let mut v: Vec<u32> = id
                .members
                .iter()
                .copied()
                .filter(|m| self.is_registry(*m))
                .collect();
            v.extend(
                id.members
                    .iter()
                    .copied()
                    .filter(|m| !self.is_registry(*m))
                    .take(3),
            );
            v.truncate(4);
            v
        };
        // entries of one report are different cooperatives
        let reports = |id: &Ident| -> Vec<u64> {
            let mut v: Vec<u64> = id
                .members
                .iter()
                .filter_map(|m| self.slots[*m as usize].feat.as_ref()?.report)
                .collect();
            v.sort_unstable();
            v
        };
        let (ra, rb) = (reports(a), reports(b));
        if !ra.is_empty() && ra.iter().any(|r| rb.binary_search(r).is_ok()) {
            return false;
        }
        let mut best = f64::NEG_INFINITY;
        for x in pick(a) {
            for y in pick(b) {
                if let (Some(fx), Some(fy)) =
                    (&self.slots[x as usize].feat, &self.slots[y as usize].feat)
                {
                    let sc = score::score(fx, fy, &self.interner);
                    if sc.veto || sc.hard_conflict {
                        return false;
                    }
                    best = best.max(sc.logit);
                }
            }
        }
        best >= COMPATIBLE_LOGIT
    }

    fn resolve(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        let source = self.refs[s as usize].clone();
        // 1. operator must-links
        let mut forced: Vec<u32> = self.slots[s as usize]
            .must
            .iter()
            .filter_map(|p| self.slots[*p as usize].identity)
            .filter(|i| !self.idents[*i as usize].retired)
            .collect();
        forced.sort_unstable();
        forced.dedup();
        if !forced.is_empty() {
            let target = self.pick_survivor(&forced);
            self.join(s, target, ch);
            for other in forced {
                if other != target && self.cross_cannot(target, other).is_none() {
                    self.merge_idents(
                        target,
                        other,
                        "an operator linked their records",
                        None,
                        None,
                        now,
                        ch,
                    );
                }
            }
            let org = self.idents[target as usize].id;
            self.decision(
                ch,
                DecisionOutcome::Matched,
                Some(source),
                Some(org),
                None,
                None,
                "operator_constraint",
                None,
                Some("an operator linked this record earlier".into()),
                now,
            );
            return;
        }

        // 2. candidates
        let cands = self.candidates(s);
        let best = cands.first().cloned();
        let name = self.display_name(s);
        match best {
            Some(b) if b.score.logit >= MATCH_LOGIT && !b.review_only => {
                let second = cands.get(1);
                let ambiguous = second.is_some_and(|c| {
                    c.score.logit > b.score.logit - MARGIN_LOGIT && c.score.logit >= REVIEW_LOGIT
                });
                if ambiguous {
                    let c = second.cloned();
                    let mergeable = c.as_ref().is_some_and(|c| {
                        c.score.logit >= MATCH_LOGIT
                            && !c.review_only
                            && self.compatible(b.ident, c.ident)
                    });
                    if !mergeable {
                        // doubtful between two: a new identity, and both pairs to review
                        let ii = self.fresh_ident(ch);
                        self.join(s, ii, ch);
                        let org = self.idents[ii as usize].id;
                        let note = format!("{name}: ambiguous between two organisations");
                        self.decision(
                            ch,
                            DecisionOutcome::Review,
                            Some(source),
                            Some(org),
                            Some(self.idents[b.ident as usize].id),
                            Some(&b.score),
                            "ambiguous",
                            None,
                            Some(note),
                            now,
                        );
                        self.add_review(s, ii, &b, now, ch);
                        if let Some(c) = c {
                            self.add_review(s, ii, &c, now, ch);
                        }
                        return;
                    }
                }
                // matched: join the best, then merge other strong candidates it links
                let mut strong: Vec<u32> = vec![b.ident];
                for c in cands.iter().skip(1) {
                    if c.score.logit >= MATCH_LOGIT
                        && !c.review_only
                        && strong.iter().all(|x| self.compatible(*x, c.ident))
                    {
                        strong.push(c.ident);
                    }
                }
                let target = self.pick_survivor(&strong);
                self.join(s, target, ch);
                let org = self.idents[target as usize].id;
                let cand_name = self.display_name(b.anchor);
                self.decision(
                    ch,
                    DecisionOutcome::Matched,
                    Some(source.clone()),
                    Some(org),
                    None,
                    Some(&b.score),
                    b.score.rule.as_str(),
                    None,
                    Some(format!("{name} ~ {cand_name}")),
                    now,
                );
                for other in strong {
                    if other != target {
                        let reason = format!("{source} matches both organisations");
                        self.merge_idents(target, other, &reason, None, None, now, ch);
                    }
                }
            }
            Some(b)
                if b.score.logit >= REVIEW_LOGIT
                    || (b.review_only && b.score.logit >= MATCH_LOGIT) =>
            {
                let ii = self.fresh_ident(ch);
                self.join(s, ii, ch);
                let org = self.idents[ii as usize].id;
                let cand_name = self.display_name(b.anchor);
                let note = if b.review_only {
                    format!("{name} ~ {cand_name}: two registry records look alike")
                } else {
                    format!("{name} ~ {cand_name}: doubtful")
                };
                self.decision(
                    ch,
                    DecisionOutcome::Review,
                    Some(source),
                    Some(org),
                    Some(self.idents[b.ident as usize].id),
                    Some(&b.score),
                    b.score.rule.as_str(),
                    None,
                    Some(note),
                    now,
                );
                self.add_review(s, ii, &b, now, ch);
            }
            other => {
                let ii = self.fresh_ident(ch);
                self.join(s, ii, ch);
                let org = self.idents[ii as usize].id;
                let note = match &other {
                    Some(_) => format!("{name}: closest candidate scored too low"),
                    None => format!("{name}: no candidate"),
                };
                self.decision(
                    ch,
                    DecisionOutcome::New,
                    Some(source),
                    Some(org),
                    other.as_ref().map(|b| self.idents[b.ident as usize].id),
                    other.as_ref().map(|b| &b.score),
                    "probabilistic",
                    None,
                    Some(note),
                    now,
                );
            }
        }
    }

    fn add_review(&mut self, s: u32, own: u32, c: &Cand, now: DateTime<Utc>, ch: &mut Changes) {
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
    fn open_review_item(
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

fn rest_is_first(groups: &[Vec<u32>], listed: &BTreeSet<u32>) -> bool {
    groups
        .first()
        .is_some_and(|g| g.iter().all(|m| !listed.contains(m)))
}

fn features_map(s: &PairScore) -> BTreeMap<String, f64> {
    s.features
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v * 1000.0).round() / 1000.0))
        .collect()
}

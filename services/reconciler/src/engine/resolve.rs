//! Resolution: what happens to a new, changed or withdrawn observation. Operator must-links
//! first, then candidates from the blocking index scored in full, then matched (other strong
//! compatible candidates merged), review or new; a registry record that arrives late
//! reclaims the neighbours that fit it better. NTM reports are read here, entry by entry.
//!
//! Owns: the automatic matching decisions and their thresholds. May not change operator
//! constraints (`operator`), nor move members other than through `identities`, nor write
//! the log other than through `log`. Scores come from [`super::score`], keys from
//! [`super::blocking`].

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use hub_contracts::v1::{DecisionOutcome, NtmCommuneReport, SourceRef};

use super::blocking::{self, KeyKind};
use super::features::{self, Features};
use super::identities::Cause;
use super::log::LogEntry;
use super::observation::{Observation, ObservationKind, ntm_entry_id};
use super::score::{self, MARGIN_LOGIT, MATCH_LOGIT, PairScore, REVIEW_LOGIT, Rule};
use super::{Cand, Changes, Engine, Ident, ObsState, OrgId, ReportState};

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

/// An identity found through the blocking index: its id, pre-score, and the members that
/// shared keys (the first `.3` of `.2`).
type Blocked = (u32, f64, [u32; MEMBERS_SCORED], usize);

/// One candidate identity of a record, as [`Engine::explain_candidates`] shows it.
#[derive(Debug, Clone)]
pub struct ExplainedCandidate {
    pub organisation_id: OrgId,
    /// The blocking pre-score (shared keys, rarer weighing more).
    pub pre_score: f64,
    /// Its members that shared keys with the record.
    pub hits: Vec<SourceRef>,
    pub score: Option<PairScore>,
}

impl Engine {
    /// Resolves a new or changed observation. Unchanged content changes nothing.
    pub fn observe(&mut self, obs: Observation, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        self.observe_into(obs, now, &mut ch);
        ch
    }

    pub(super) fn observe_into(&mut self, obs: Observation, now: DateTime<Utc>, ch: &mut Changes) {
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
            let entry = LogEntry::new(DecisionOutcome::OutOfScope, "borrower_type")
                .source(source)
                .note("household borrower: outside the hub's scope, never matched");
            self.log_decision(entry, now, ch);
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
    pub(super) fn reconsider_neighbours(&mut self, r: u32, now: DateTime<Utc>, ch: &mut Changes) {
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
            let here = score::score_with(fo, fr, &self.interner, &self.weights);
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
                    self.merge_idents(target, cur, &Cause::automatic(&reason, now), None, ch);
                }
                continue;
            }
            let there = self.idents[cur as usize]
                .members
                .iter()
                .filter(|m| self.is_registry(**m))
                .filter_map(|m| self.slots[*m as usize].feat.as_ref())
                .map(|fm| score::score_with(fo, fm, &self.interner, &self.weights).logit)
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
            let entry = LogEntry::new(DecisionOutcome::Matched, "registry_arrival")
                .source(source)
                .org(org)
                .candidate(from)
                .scored(&here)
                .note(note);
            self.log_decision(entry, now, ch);
            self.settle_vacated(o, now, ch);
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
        let mut entries = Vec::with_capacity(report.cooperatives.len());
        for e in &report.cooperatives {
            seen.insert(e.index);
            entries.push(Observation::from_ntm_entry(report, e));
        }
        self.observe_entries_into(entries, now, &mut ch);
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

    /// Entries of one NTM report. They are different cooperatives, so a cooperative one
    /// entry takes is ruled out for the others: the entries new to the engine are resolved
    /// most decisive first (the widest lead of the best candidate over the next), so that
    /// an entry that clearly names `A` takes it before a doubtful sibling, which then sees
    /// `B` alone, as a person reading the whole list would. Entries already held (changed or
    /// not) are resolved one by one, as any observation. Deterministic: ties by reference.
    pub(super) fn observe_entries_into(
        &mut self,
        entries: Vec<Observation>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let mut fresh: Vec<u32> = Vec::with_capacity(entries.len());
        for obs in entries {
            let s = self.slot_for(&obs.source);
            if self.slots[s as usize].obs.is_some() || obs.out_of_scope() {
                self.observe_into(obs, now, ch);
                continue;
            }
            self.input_changed();
            let feat = features::extract(&obs, &mut self.interner);
            let sl = &mut self.slots[s as usize];
            sl.obs = Some(obs);
            sl.feat = Some(feat);
            sl.state = ObsState::Active;
            ch.observations.insert(self.refs[s as usize].clone());
            fresh.push(s);
        }
        if fresh.len() < 2 {
            for s in fresh {
                self.resolve(s, now, ch);
            }
            return;
        }
        // unresolved siblings are in no identity (nor the index): they cannot see each other
        let mut ranked: Vec<(f64, u32, Vec<Cand>)> = fresh
            .into_iter()
            .map(|s| {
                let cands = self.candidates(s);
                let lead = match (cands.first(), cands.get(1)) {
                    (Some(b), Some(c)) => b.score.logit - c.score.logit.max(0.0),
                    (Some(b), None) => b.score.logit,
                    _ => f64::NEG_INFINITY,
                };
                (lead, s, cands)
            })
            .collect();
        ranked.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| self.refs[a.1 as usize].cmp(&self.refs[b.1 as usize]))
        });
        for (_, s, cands) in ranked {
            // what earlier siblings did: an identity one of them joined is ruled out (entries
            // of one report are different cooperatives); one that merged away means the
            // candidates are scored again
            let cands = if cands.iter().any(|c| self.idents[c.ident as usize].retired) {
                self.candidates(s)
            } else {
                cands
                    .into_iter()
                    .filter(|c| !self.holds_entry_of_report(c.ident, s))
                    .collect()
            };
            self.resolve_with(s, cands, now, ch);
        }
    }

    /// Whether identity `ii` holds another entry of the NTM report slot `s` is an entry of
    /// (then it is not `s`'s organisation: a report lists each cooperative once).
    fn holds_entry_of_report(&self, ii: u32, s: u32) -> bool {
        let report = |x: u32| self.slots[x as usize].feat.as_ref().and_then(|f| f.report);
        let Some(rep) = report(s) else {
            return false;
        };
        self.idents[ii as usize]
            .members
            .iter()
            .any(|m| *m != s && report(*m) == Some(rep))
    }

    /// The identities a source record is blocked with now, in their pre-score order, and how
    /// each scores in full (`None`: ruled out or vetoed): what a decision on it would weigh,
    /// for the harness's `--explain`.
    pub fn explain_candidates(&mut self, source: &SourceRef) -> Vec<ExplainedCandidate> {
        let Some(&s) = self.by_ref.get(source) else {
            return Vec::new();
        };
        let ranked = self.blocked(s);
        let Some(f) = self.slots[s as usize].feat.as_ref() else {
            return Vec::new();
        };
        let mut scored = 0;
        ranked
            .into_iter()
            .map(|(ii, pre, hits, n)| ExplainedCandidate {
                organisation_id: self.idents[ii as usize].id,
                pre_score: pre,
                hits: self.refs_of(&hits[..n]),
                score: self
                    .score_candidate(s, f, ii, &hits[..n], &mut scored)
                    .map(|c| c.score),
            })
            .collect()
    }

    /// Candidate identities of slot `s`, scored, best first.
    pub(super) fn candidates(&mut self, s: u32) -> Vec<Cand> {
        if self.slots[s as usize].feat.is_none() {
            return Vec::new();
        }
        let ranked = self.blocked(s);
        let Some(f) = self.slots[s as usize].feat.as_ref() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut scored = 0u64;
        for (ii, _, hits, n_hits) in ranked {
            if let Some(c) = self.score_candidate(s, f, ii, &hits[..n_hits], &mut scored) {
                out.push(c);
            }
        }
        out.sort_by(|a, b| {
            b.score
                .logit
                .total_cmp(&a.score.logit)
                .then(a.seq.cmp(&b.seq))
        });
        // of two about equally likely, the one the record names word for word comes first
        if let [b, c, ..] = out.as_slice()
            && c.score.logit > b.score.logit - MARGIN_LOGIT
            && self.named_exactly(s, c, b)
        {
            out.swap(0, 1);
        }
        self.pairs_scored += scored;
        out
    }

    /// The identities slot `s` shares blocking keys with, pre-scored by the keys they share
    /// (rarer keys weigh more), the best [`blocking::MAX_CANDIDATES`] in order.
    fn blocked(&mut self, s: u32) -> Vec<Blocked> {
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
        let mut ranked: Vec<Blocked> = pre
            .into_iter()
            .map(|(i, (w, hits, n))| (i, w, hits, n))
            .collect();
        let order = |a: &Blocked, b: &Blocked| {
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
        ranked
    }

    /// Scores identity `ii` in full for slot `s` (features `f`): against its registry
    /// records and `hits` (members that shared keys), at most [`MEMBERS_SCORED`]; `None` when
    /// an operator or a report rules it out, or a member vetoes. Counts pairs in `scored`.
    fn score_candidate(
        &self,
        s: u32,
        f: &Features,
        ii: u32,
        hits: &[u32],
        scored: &mut u64,
    ) -> Option<Cand> {
        let me = &self.slots[s as usize];
        let ident = &self.idents[ii as usize];
        if ident.retired {
            return None;
        }
        // operator said: not this one
        if me
            .cannot
            .iter()
            .any(|c| self.slots[*c as usize].identity == Some(ii))
        {
            return None;
        }
        // entries of one NTM report are different cooperatives
        if self.holds_entry_of_report(ii, s) {
            return None;
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
        for &h in hits {
            if compare.len() >= MEMBERS_SCORED {
                break;
            }
            if !compare.contains(&h) {
                compare.push(h);
            }
        }
        let mut best: Option<(PairScore, u32)> = None;
        let mut conflict = false;
        let mut structural = false;
        let mut vetoed = false;
        for m in compare {
            let Some(fm) = self.slots[m as usize].feat.as_ref() else {
                continue;
            };
            let sc = score::score_with(f, fm, &self.interner, &self.weights);
            *scored += 1;
            vetoed |= sc.veto;
            conflict |= sc.hard_conflict;
            structural |= sc.structural_conflict;
            if best.as_ref().is_none_or(|(b, _)| sc.logit > b.logit) {
                best = Some((sc, m));
            }
        }
        let (mut sc, anchor) = best?;
        if vetoed {
            return None;
        }
        // a member that names a word differently speaks against the identity, unless the
        // record names the same person as the member it resembles most (then the word is a
        // slip on one side); another number, product, district, kind or code always does
        if sc.person_agrees {
            conflict = structural;
        }
        let review_only = f.obs_kind == ObservationKind::Registry && ident.registry > 0;
        // two registry records are two registrations: worth an operator's look only when
        // nothing they say contradicts one being a duplicate of the other (one person may
        // lead an HTX and a THT of one commune: two organisations)
        if review_only && (conflict || sc.hard_conflict) {
            return None;
        }
        if conflict && sc.rule != Rule::RegistrationCode {
            sc.logit += MEMBER_CONFLICT;
            sc.features.push(("member_conflict", MEMBER_CONFLICT));
        }
        Some(Cand {
            ident: ii,
            seq: ident.seq,
            review_only,
            score: sc,
            anchor,
        })
    }

    /// Whether two identities may become one automatically.
    pub(super) fn compatible(&self, i: u32, j: u32) -> bool {
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
                    let sc = score::score_with(fx, fy, &self.interner, &self.weights);
                    if sc.veto || sc.hard_conflict {
                        return false;
                    }
                    best = best.max(sc.logit);
                }
            }
        }
        best >= COMPATIBLE_LOGIT
    }

    /// Resolves slot `s` (active, in no identity): operator must-links first, then the
    /// scored candidates: matched, review, or new.
    pub(super) fn resolve(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
        // 1. operator must-links
        if self.resolve_forced(s, now, ch) {
            return;
        }
        // 2. candidates
        let cands = self.candidates(s);
        self.resolve_scored(s, cands, now, ch);
    }

    /// [`Engine::resolve`] with the candidates already scored (best first).
    fn resolve_with(&mut self, s: u32, cands: Vec<Cand>, now: DateTime<Utc>, ch: &mut Changes) {
        if self.resolve_forced(s, now, ch) {
            return;
        }
        self.resolve_scored(s, cands, now, ch);
    }

    fn resolve_scored(&mut self, s: u32, cands: Vec<Cand>, now: DateTime<Utc>, ch: &mut Changes) {
        match cands.first().cloned() {
            Some(b) if b.score.logit >= MATCH_LOGIT && !b.review_only => {
                self.resolve_match(s, b, &cands, now, ch);
            }
            Some(b)
                if b.score.logit >= REVIEW_LOGIT
                    || (b.review_only && b.score.logit >= MATCH_LOGIT) =>
            {
                self.resolve_doubtful(s, b, now, ch);
            }
            other => self.resolve_new(s, other, now, ch),
        }
    }

    /// An operator linked slot `s` to records in identities: it joins them (merging them,
    /// unless an operator also separated them). Whether it did.
    fn resolve_forced(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) -> bool {
        let mut forced: Vec<u32> = self.slots[s as usize]
            .must
            .iter()
            .filter_map(|p| self.slots[*p as usize].identity)
            .filter(|i| !self.idents[*i as usize].retired)
            .collect();
        forced.sort_unstable();
        forced.dedup();
        if forced.is_empty() {
            return false;
        }
        let source = self.refs[s as usize].clone();
        let target = self.pick_survivor(&forced);
        self.join(s, target, ch);
        for other in forced {
            if other != target && self.cross_cannot(target, other).is_none() {
                let cause = Cause::automatic("an operator linked their records", now);
                self.merge_idents(target, other, &cause, None, ch);
            }
        }
        let org = self.idents[target as usize].id;
        let entry = LogEntry::new(DecisionOutcome::Matched, "operator_constraint")
            .source(source)
            .org(org)
            .note("an operator linked this record earlier");
        self.log_decision(entry, now, ch);
        true
    }

    /// The best candidate `b` (of `cands`, best first) is a match: slot `s` joins it, and
    /// other strong candidates it links are merged in; unless a second candidate is as
    /// likely and cannot merge with it (then the record is doubtful between two).
    fn resolve_match(
        &mut self,
        s: u32,
        b: Cand,
        cands: &[Cand],
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let second = cands.get(1);
        let ambiguous = second.is_some_and(|c| {
            c.score.logit > b.score.logit - MARGIN_LOGIT
                && c.score.logit >= REVIEW_LOGIT
                && !self.named_exactly(s, &b, c)
        });
        if ambiguous {
            let c = second.cloned();
            let mergeable = c.as_ref().is_some_and(|c| {
                c.score.logit >= MATCH_LOGIT && !c.review_only && self.compatible(b.ident, c.ident)
            });
            if !mergeable {
                self.resolve_ambiguous(s, &b, c, now, ch);
                return;
            }
        }
        // matched: join the best, then merge other strong candidates it links
        let source = self.refs[s as usize].clone();
        let name = self.display_name(s);
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
        let entry = LogEntry::new(DecisionOutcome::Matched, b.score.rule.as_str())
            .source(source.clone())
            .org(org)
            .scored(&b.score)
            .note(format!("{name} ~ {cand_name}"));
        self.log_decision(entry, now, ch);
        for other in strong {
            if other != target {
                let reason = format!("{source} matches both organisations");
                self.merge_idents(target, other, &Cause::automatic(&reason, now), None, ch);
            }
        }
    }

    /// Whether slot `s` names candidate `b` exactly (the same canonical name: legal form,
    /// sector words and products spelled alike once normalised) and `c` not. Asked only of
    /// two candidates within the margin of each other: of two organisations a record
    /// resembles about equally, the one it names word for word is the one it means.
    fn named_exactly(&self, s: u32, b: &Cand, c: &Cand) -> bool {
        let canon = |x: u32| self.slots[x as usize].feat.as_ref().map(|f| f.canonical);
        let me = canon(s);
        me.is_some() && me == canon(b.anchor) && me != canon(c.anchor)
    }

    /// Doubtful between two (`b` and `c`): a new identity, and both pairs to review.
    fn resolve_ambiguous(
        &mut self,
        s: u32,
        b: &Cand,
        c: Option<Cand>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let source = self.refs[s as usize].clone();
        let name = self.display_name(s);
        let ii = self.fresh_ident(ch);
        self.join(s, ii, ch);
        let org = self.idents[ii as usize].id;
        let note = format!("{name}: ambiguous between two organisations");
        let entry = LogEntry::new(DecisionOutcome::Review, "ambiguous")
            .source(source)
            .org(org)
            .candidate(self.idents[b.ident as usize].id)
            .scored(&b.score)
            .note(note);
        self.log_decision(entry, now, ch);
        self.add_review(s, ii, b, now, ch);
        if let Some(c) = c {
            self.add_review(s, ii, &c, now, ch);
        }
    }

    /// The best candidate `b` is doubtful (or both hold a registry record): a new identity
    /// and a review item.
    fn resolve_doubtful(&mut self, s: u32, b: Cand, now: DateTime<Utc>, ch: &mut Changes) {
        let source = self.refs[s as usize].clone();
        let name = self.display_name(s);
        let ii = self.fresh_ident(ch);
        self.join(s, ii, ch);
        let org = self.idents[ii as usize].id;
        let cand_name = self.display_name(b.anchor);
        let note = if b.review_only {
            format!("{name} ~ {cand_name}: two registry records look alike")
        } else {
            format!("{name} ~ {cand_name}: doubtful")
        };
        let entry = LogEntry::new(DecisionOutcome::Review, b.score.rule.as_str())
            .source(source)
            .org(org)
            .candidate(self.idents[b.ident as usize].id)
            .scored(&b.score)
            .note(note);
        self.log_decision(entry, now, ch);
        self.add_review(s, ii, &b, now, ch);
    }

    /// No candidate, or none close enough: a new identity.
    fn resolve_new(&mut self, s: u32, other: Option<Cand>, now: DateTime<Utc>, ch: &mut Changes) {
        let source = self.refs[s as usize].clone();
        let name = self.display_name(s);
        let ii = self.fresh_ident(ch);
        self.join(s, ii, ch);
        let org = self.idents[ii as usize].id;
        let note = match &other {
            Some(_) => format!("{name}: closest candidate scored too low"),
            None => format!("{name}: no candidate"),
        };
        let entry = LogEntry::new(DecisionOutcome::New, "probabilistic")
            .source(source)
            .org(org)
            .candidate(other.as_ref().map(|b| self.idents[b.ident as usize].id))
            .scored(other.as_ref().map(|b| &b.score))
            .note(note);
        self.log_decision(entry, now, ch);
    }
}

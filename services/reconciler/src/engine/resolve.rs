//! Resolution: what happens to a new, changed or withdrawn observation. Operator must-links
//! first, then candidates from the blocking index scored in full, then matched (other strong
//! compatible candidates merged), review or new; a registry record that arrives late
//! reclaims the neighbours that fit it better. NTM reports are read here, entry by entry.
//!
//! Owns: the automatic matching decisions and their thresholds. May not change operator
//! constraints (`operator`), nor move members other than through `identities`, nor write
//! the log other than through `log`. Candidates come from [`super::candidates`], keys from
//! [`super::blocking`].

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{DecisionOutcome, NtmCommuneReport, SourceRef};

use super::blocking;
use super::features::{self, Features, Prepared};
use super::identities::Cause;
use super::log::LogEntry;
use super::observation::{Observation, ntm_entry_id};
use super::score::{self, MARGIN_LOGIT, MATCH_LOGIT, REVIEW_LOGIT};
use super::{Cand, Changes, Engine, ObsState, ReportState, ReviewStatus};

/// Neighbours a newly arrived registry record reconsiders.
const RECONSIDERED: usize = 64;

impl Engine {
    /// Resolves a new or changed observation. Unchanged content changes nothing.
    pub fn observe(&mut self, obs: Observation, now: DateTime<Utc>) -> Changes {
        let mut ch = Changes::default();
        self.observe_into(Arc::new(obs), None, now, &mut ch);
        ch
    }

    /// [`Engine::observe`] with the observation's features read ahead
    /// ([`features::prepare`], on any thread): the engine only interns and resolves.
    pub fn observe_prepared(
        &mut self,
        obs: Observation,
        prepared: Prepared,
        now: DateTime<Utc>,
    ) -> Changes {
        let mut ch = Changes::default();
        let feat = prepared.intern(&mut self.interner);
        self.observe_into(Arc::new(obs), Some(feat), now, &mut ch);
        ch
    }

    /// Resolves an observation into `ch`; `feat`, when given, are its features extracted
    /// with this engine's interner (else they are extracted here if needed).
    pub(super) fn observe_into(
        &mut self,
        obs: Arc<Observation>,
        feat: Option<Features>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
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
        let feat = feat.unwrap_or_else(|| features::extract(&obs, &mut self.interner));
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
        self.ntm_report_with(report, None, now)
    }

    /// [`Engine::ntm_report`] with its entries' features read ahead
    /// ([`features::prepare_report`], on any thread).
    pub fn ntm_report_prepared(
        &mut self,
        report: &NtmCommuneReport,
        prepared: Vec<Prepared>,
        now: DateTime<Utc>,
    ) -> Changes {
        self.ntm_report_with(report, Some(prepared), now)
    }

    fn ntm_report_with(
        &mut self,
        report: &NtmCommuneReport,
        prepared: Option<Vec<Prepared>>,
        now: DateTime<Utc>,
    ) -> Changes {
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
        // features read ahead, when there is one per entry
        let mut prepared = prepared
            .filter(|p| p.len() == report.cooperatives.len())
            .map(Vec::into_iter);
        for e in &report.cooperatives {
            seen.insert(e.index);
            let feat = prepared
                .as_mut()
                .and_then(Iterator::next)
                .map(|p| p.intern(&mut self.interner));
            entries.push((Arc::new(Observation::from_ntm_entry(report, e)), feat));
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
    /// (`feat` as for [`Engine::observe_into`], per entry.)
    pub(super) fn observe_entries_into(
        &mut self,
        entries: Vec<(Arc<Observation>, Option<Features>)>,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
        let mut fresh: Vec<u32> = Vec::with_capacity(entries.len());
        for (obs, feat) in entries {
            let s = self.slot_for(&obs.source);
            if self.slots[s as usize].obs.is_some() || obs.out_of_scope() {
                self.observe_into(obs, feat, now, ch);
                continue;
            }
            self.input_changed();
            let feat = feat.unwrap_or_else(|| features::extract(&obs, &mut self.interner));
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
    pub(super) fn holds_entry_of_report(&self, ii: u32, s: u32) -> bool {
        let report = |x: u32| self.slots[x as usize].feat.as_ref().and_then(|f| f.report);
        let Some(rep) = report(s) else {
            return false;
        };
        self.idents[ii as usize]
            .members
            .iter()
            .any(|m| *m != s && report(*m) == Some(rep))
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
                && strong.iter().all(|x| {
                    self.compatible(*x, c.ident)
                        && !self.doubt_elsewhere(c.ident, *x)
                        && !self.doubt_elsewhere(*x, c.ident)
                })
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

    /// Whether identity `i` holds a record an operator is asked about against a registered
    /// organisation other than `target` (it was doubtful between two): merging `i` into
    /// `target` because a third record resembles both would settle that doubt unasked.
    fn doubt_elsewhere(&self, i: u32, target: u32) -> bool {
        self.idents[i as usize].members.iter().any(|&m| {
            self.slots[m as usize].reviews.iter().any(|id| {
                self.reviews
                    .get(id)
                    .filter(|r| r.status == ReviewStatus::Open)
                    .and_then(|r| self.by_ref.get(&r.candidate))
                    .and_then(|&c| self.slots[c as usize].identity)
                    .is_some_and(|o| o != target && o != i && self.idents[o as usize].registry > 0)
            })
        })
    }

    /// Whether slot `s` names candidate `b` exactly (the same canonical name: legal form,
    /// sector words and products spelled alike once normalised) and no record of `c` does.
    /// Asked only of two candidates within the margin of each other: of two organisations a
    /// record resembles about equally, the one it names word for word is the one it means;
    /// unless the other already holds a record written that way too (a short form its own
    /// reports or loans use), when the name tells them apart no better than the rest.
    pub(super) fn named_exactly(&self, s: u32, b: &Cand, c: &Cand) -> bool {
        let canon = |x: u32| self.slots[x as usize].feat.as_ref().map(|f| f.canonical);
        let me = canon(s);
        me.is_some()
            && me == canon(b.anchor)
            && !self.idents[c.ident as usize]
                .members
                .iter()
                .any(|&m| m != s && canon(m) == me)
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
        let note = if b.review_only && self.is_registry(s) {
            format!("{name} ~ {cand_name}: two registry records look alike")
        } else if b.review_only {
            format!("{name} ~ {cand_name}: its name contradicts the registration's")
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

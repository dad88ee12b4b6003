//! Candidates: the identities a record is blocked with ([`super::blocking`]), each scored in
//! full against its best members ([`super::score`]), and whether two identities may merge.
//!
//! Owns the pre-score, the members scored per identity and the member-conflict penalty.
//! Decides nothing (that is [`super::resolve`]'s) and changes no state but the interner and
//! the score cache.

use std::collections::HashMap;

use hub_contracts::v1::SourceRef;

use super::blocking::{self, KeyKind};
use super::features::Features;
use super::observation::ObservationKind;
use super::score::{self, MARGIN_LOGIT, PairScore, Rule};
use super::{Cand, Engine, Ident, OrgId};

/// Members of a candidate identity scored in full (its registry records come first).
const MEMBERS_SCORED: usize = 6;
/// Added to a candidate identity's score when one of its members contradicts the
/// observation (another product, number, district, code, kind, or full name).
const MEMBER_CONFLICT: f64 = -6.0;
/// Two identities an observation links may merge unless what they say of each other
/// directly is below this (a contradiction).
const COMPATIBLE_LOGIT: f64 = -2.0;
/// Added to the pre-score of an identity one of whose records that shared keys is in the
/// observation's own commune: of a district's many namesakes of one place that share equally
/// weak keys with the record (a place word, a number), the ones of its own commune are scored
/// first when there are more than [`blocking::MAX_CANDIDATES`]. Less than a rare key is worth.
const SAME_COMMUNE: f64 = 0.5;
/// An identity found through the blocking index: its id, pre-score, and the members that
/// shared keys (the first `.3` of `.2`).
type Blocked = (u32, f64, [u32; MEMBERS_SCORED], usize);

/// What the keys an observation shares with one identity add up to, while they are read.
struct Tally {
    weight: f64,
    hits: [u32; MEMBERS_SCORED],
    n: usize,
    /// The last key list that added to `weight` (each key counts once per identity).
    last_list: usize,
    /// A member that shared keys is in the observation's commune.
    same_commune: bool,
}

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
        // an identity only an operator may link does not hide one the record matches plainly
        // (its own unregistered organisation, beside a registered namesake whose name says
        // otherwise): that one comes first, the doubtful one second
        if out.first().is_some_and(|b| b.review_only)
            && let Some(k) = out
                .iter()
                .position(|c| !c.review_only && c.score.logit >= score::MATCH_LOGIT)
        {
            out[..=k].rotate_right(1);
        }
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
        // pre-score identities by the keys they share, rarer keys weighing more, each key once
        // per identity (an identity of many records sharing one word must not outrank one
        // whose single record shares every word); a list's identities are looked up first,
        // all together (independent reads the processor overlaps: in a large engine each is
        // a cache miss), then tallied
        let mut pre: HashMap<u32, Tally> = HashMap::new();
        let commune = f.commune;
        let mut of: Vec<Option<u32>> = Vec::new();
        let mut visits = 0usize;
        for (li, (list, kind)) in lists.iter().enumerate() {
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
                let e = pre.entry(ii).or_insert(Tally {
                    weight: 0.0,
                    hits: [0; MEMBERS_SCORED],
                    n: 0,
                    last_list: usize::MAX,
                    same_commune: false,
                });
                if e.last_list != li {
                    e.weight += w;
                    e.last_list = li;
                }
                if e.n < MEMBERS_SCORED && !e.hits[..e.n].contains(&o) {
                    e.hits[e.n] = o;
                    e.n += 1;
                }
                if !e.same_commune && commune.is_some() {
                    e.same_commune =
                        self.slots[o as usize].feat.as_ref().map(|g| g.commune) == Some(commune);
                }
            }
        }
        self.key_buf = buf;
        let mut ranked: Vec<Blocked> = pre
            .into_iter()
            .map(|(i, t)| {
                let bonus = if t.same_commune { SAME_COMMUNE } else { 0.0 };
                (i, t.weight + bonus, t.hits, t.n)
            })
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
        let registry = f.obs_kind == ObservationKind::Registry;
        let mut best: Option<(PairScore, u32)> = None;
        let mut conflict = false;
        let mut structural = false;
        let mut vetoed = false;
        let mut against_registration = false;
        // the registration whose name the record's (not a registry record's) contradicts, and
        // that pair's score
        let mut unlike_registration: Option<(PairScore, u32)> = None;
        for m in compare {
            let Some(fm) = self.slots[m as usize].feat.as_ref() else {
                continue;
            };
            let sc = score::score_with(f, fm, &self.interner, &self.weights);
            *scored += 1;
            vetoed |= sc.veto;
            conflict |= sc.hard_conflict;
            structural |= sc.structural_conflict;
            against_registration |= sc.identity_contradiction
                && sc.rule != Rule::RegistrationCode
                && fm.obs_kind == ObservationKind::Registry;
            if !registry
                && fm.obs_kind == ObservationKind::Registry
                && sc.unexplained_conflict()
                && unlike_registration.is_none()
            {
                unlike_registration = Some((sc.clone(), m));
            }
            if best.as_ref().is_none_or(|(b, _)| sc.logit > b.logit) {
                best = Some((sc, m));
            }
        }
        let (mut sc, mut anchor) = best?;
        // the registration is the organisation's own name and tax code: a record whose name
        // says another product, number or place, or whose tax code is not a slip of it, is
        // another organisation's, however well it matches the identity's other records
        // (which it would otherwise chain to)
        if vetoed || (against_registration && !registry) {
            return None;
        }
        // a member that names a word differently speaks against the identity, unless the
        // record names the same person as the member it resembles most (then the word is a
        // slip on one side); another number, product, district, kind or code always does
        if sc.person_agrees {
            conflict = structural;
        }
        // two registry records are two registrations: worth an operator's look only when
        // nothing they say contradicts one being a duplicate of the other (one person may
        // lead an HTX and a THT of one commune: two organisations)
        let two_registrations = registry && ident.registry > 0;
        if two_registrations && (conflict || sc.hard_conflict) {
            return None;
        }
        // a record whose name the registration's contradicts (another sector word, a word
        // more or less in two full names), naming no person of it nor of the member it
        // resembles most, may be the registered organisation's or an unregistered
        // namesake's: an operator decides, however well it matches the identity's other
        // records. The question is about the registration itself: an answer linking the
        // record to another of the identity's records would vouch for what it doubts.
        let unlike = unlike_registration.filter(|_| !sc.person_agrees);
        let review_only = two_registrations || unlike.is_some();
        if let Some((reg_sc, reg)) = unlike {
            (sc, anchor) = (reg_sc, reg);
            conflict = true;
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
}

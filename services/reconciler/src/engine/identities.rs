//! Identities as sets of observations: create, join, detach, merge, split, and which
//! members still hold together (match edges and must-links) when one leaves. The survivor of
//! a merge and the member that stands for an identity are chosen here.
//!
//! Owns: membership, retirement and the organisation ids of identities. May not decide
//! whether two records match (callers do); every merge and split is logged through `log`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_contracts::v1::SplitPart;
use uuid::Uuid;

use super::log::{MergePlan, SplitPlan};
use super::score::{self, MATCH_LOGIT};
use super::{Changes, ConstraintKind, Engine, Ident, ReviewStatus, ns_uuid};

/// Identities larger than this are not checked for falling apart when a member leaves.
const SPLIT_CHECK_LIMIT: usize = 64;

/// Why identities are merged or split: the reason logged, the operator who decided (none:
/// an automatic rule), and when.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cause<'a> {
    pub reason: &'a str,
    pub operator: Option<&'a str>,
    pub now: DateTime<Utc>,
}

impl<'a> Cause<'a> {
    pub(super) fn automatic(reason: &'a str, now: DateTime<Utc>) -> Cause<'a> {
        Cause {
            reason,
            operator: None,
            now,
        }
    }

    pub(super) fn operator(operator: &'a str, reason: &'a str, now: DateTime<Utc>) -> Cause<'a> {
        Cause {
            reason,
            operator: Some(operator),
            now,
        }
    }
}

impl Engine {
    /// Retires the identity a changed observation left empty, if it was not reused: the
    /// observation went to another organisation, which absorbs it.
    pub(super) fn settle_vacated(&mut self, s: u32, now: DateTime<Utc>, ch: &mut Changes) {
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
            let plan = MergePlan {
                survivor: sid,
                absorbed: aid,
                moved_refs,
                reason,
                operator: None,
                automatic_rule: "moved",
                decision_id: did,
            };
            self.log_merge_event(plan, now, ch);
        }
    }

    /// A new identity, or the one a changed observation just left empty.
    pub(super) fn fresh_ident(&mut self, ch: &mut Changes) -> u32 {
        match self.vacated.take() {
            Some(v) if self.idents[v as usize].members.is_empty() => {
                ch.identities.insert(self.idents[v as usize].id);
                v
            }
            _ => self.new_ident(ch),
        }
    }

    pub(super) fn new_ident(&mut self, ch: &mut Changes) -> u32 {
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

    pub(super) fn join(&mut self, s: u32, ii: u32, ch: &mut Changes) {
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
    pub(super) fn detach(
        &mut self,
        s: u32,
        why: &str,
        reuse: bool,
        now: DateTime<Utc>,
        ch: &mut Changes,
    ) {
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
            self.split_ident(ii, comps, &Cause::automatic(&reason, now), did, ch);
        }
    }

    /// Connected components of members under match edges and must-links.
    pub(super) fn components(&self, members: &[u32]) -> Vec<Vec<u32>> {
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
                            let sc = score::score_with(fa, fb, &self.interner, &self.weights);
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

    /// Splits identity `ii` into `groups` (the first keeps the id), logged under
    /// `decision_id`.
    pub(super) fn split_ident(
        &mut self,
        ii: u32,
        groups: Vec<Vec<u32>>,
        cause: &Cause<'_>,
        decision_id: Uuid,
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
        let plan = SplitPlan {
            original,
            parts,
            reason: cause.reason.to_owned(),
            operator: cause.operator,
            automatic_rule: "split",
            decision_id,
        };
        self.log_split_event(plan, cause.now, ch);
    }

    /// Moves every member of `absorbed` into `survivor` and retires `absorbed`; logged
    /// under `decision_id`, else the next one.
    pub(super) fn merge_idents(
        &mut self,
        survivor: u32,
        absorbed: u32,
        cause: &Cause<'_>,
        decision_id: Option<Uuid>,
        ch: &mut Changes,
    ) {
        let now = cause.now;
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
        let plan = MergePlan {
            survivor: sid,
            absorbed: aid,
            moved_refs,
            reason: cause.reason.to_owned(),
            operator: cause.operator,
            automatic_rule: "linked_by_observation",
            decision_id: did,
        };
        self.log_merge_event(plan, now, ch);
    }

    pub(super) fn pick_survivor(&self, idx: &[u32]) -> u32 {
        idx.iter()
            .copied()
            .min_by_key(|&i| {
                let id = &self.idents[i as usize];
                (std::cmp::Reverse(id.registry.min(1)), id.seq)
            })
            .unwrap_or(idx[0])
    }

    /// The member that stands for an identity: its registry record, else its first member.
    pub(super) fn anchor(&self, ii: u32) -> u32 {
        let m = &self.idents[ii as usize].members;
        m.iter()
            .copied()
            .find(|s| self.is_registry(*s))
            .unwrap_or(m[0])
    }
}

//! The engine's state as data: its snapshot and restore, the slot and identity lookups
//! (source ref to slot, organisation id to live identity), the blocking index entries of a
//! slot, and the golden records built from an identity and published with a new version.
//!
//! Owns: how state is stored and read back, and golden-record versions. May not decide
//! anything: no match, merge, split, review or log entry is made here.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{GoldenRecord, SourceRef};

use super::observation::{Observation, ObservationKind};
use super::{Engine, EngineError, Ident, ObsState, OrgId, ReviewStatus, Slot, Snapshot};
use super::{blocking, features, golden};

impl Engine {
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

    pub(super) fn build_golden(&self, ii: u32, now: DateTime<Utc>) -> GoldenRecord {
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
            .filter_map(|m| self.slots[*m as usize].obs.as_deref())
            .collect();
        // by source ref, as survivorship expects: not by arrival (slot) order
        members.sort_by(|a, b| a.source.cmp(&b.source));
        golden::build(ident.id, &members, now)
    }

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
        // every record's features read on every core, interned in this order
        let feats = {
            let all: Vec<&Observation> = obs.iter().map(|so| &so.observation).collect();
            features::extract_all(&all, &mut e.interner)
        };
        for (so, feat) in obs.into_iter().zip(feats) {
            let s = e.slot_for(&so.observation.source);
            let ident = so
                .organisation_id
                .and_then(|o| e.by_org.get(&o).copied())
                .filter(|_| so.state == ObsState::Active);
            let sl = &mut e.slots[s as usize];
            sl.state = so.state;
            sl.obs = Some(std::sync::Arc::new(so.observation));
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
        // what the records held teach, as the settle pass would estimate it
        e.weights = e.estimate_weights();
        e
    }

    pub(super) fn slot_for(&mut self, r: &SourceRef) -> u32 {
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

    pub(super) fn slot_of(&self, r: &SourceRef) -> Result<u32, EngineError> {
        self.by_ref
            .get(r)
            .copied()
            .filter(|s| self.slots[*s as usize].obs.is_some())
            .ok_or(EngineError::NotFound {
                what: "source record",
                id: r.to_string(),
            })
    }

    pub(super) fn live_ident(&self, id: OrgId) -> Result<u32, EngineError> {
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

    pub(super) fn index_slot(&mut self, s: u32, insert: bool) {
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

    pub(super) fn is_registry(&self, s: u32) -> bool {
        self.slots[s as usize]
            .obs
            .as_ref()
            .is_some_and(|o| o.kind == ObservationKind::Registry)
    }

    /// The source references of `slots`, in their order.
    pub(super) fn refs_of(&self, slots: &[u32]) -> Vec<SourceRef> {
        slots
            .iter()
            .map(|m| self.refs[*m as usize].clone())
            .collect()
    }
}

//! Estimating the engine's weights from the records it holds.
//!
//! Owns the choice of pairs the estimate learns from: for each active observation (every
//! one, or an even sample of at most [`MAX_SAMPLED`] in a very large engine), the
//! [`PAIRS_PER_OBSERVATION`] other observations sharing the most blocking keys with it (all
//! but the whole-name key), read within the same budget as candidate search, so the pairs
//! look like the ones the engine scores. Each pair's agreement levels are counted per pair
//! class and handed to [`Weights::estimate`]. Reads the index and features only: changes no
//! identity.

use std::collections::HashMap;

use super::blocking::{self, KeyKind};
use super::observation::Observation;
use super::score;
use super::weights::{PairClass, PatternCounts, Weights};
use super::{Engine, ObsState, features};

/// Pairs counted per observation.
pub const PAIRS_PER_OBSERVATION: usize = 12;
/// Random partners per sampled observation (for `u`).
pub const RANDOM_PER_OBSERVATION: usize = 8;
/// At most this many observations are sampled for the estimate.
pub const MAX_SAMPLED: usize = 250_000;

impl Engine {
    /// Counts the agreement levels of blocked pairs among the active observations.
    pub fn blocked_pair_levels(&self) -> PatternCounts {
        let active: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|s| {
                let sl = &self.slots[*s as usize];
                sl.state == ObsState::Active && sl.feat.is_some()
            })
            .collect();
        let stride = active.len().div_ceil(MAX_SAMPLED).max(1);
        let mut counts = PatternCounts::default();
        let mut buf: Vec<(u64, KeyKind)> = Vec::new();
        let mut tally: HashMap<u32, f64> = HashMap::new();
        for &s in active.iter().step_by(stride) {
            let Some(f) = self.slots[s as usize].feat.as_ref() else {
                continue;
            };
            blocking::keys(f, &self.interner, true, &mut buf);
            let mut lists: Vec<(&[u32], KeyKind)> = buf
                .iter()
                // the whole-name key ranks namesakes among candidates; here it would crowd
                // the sample with pairs of one name and raise the estimated share of matches
                // (on a 30k world the prior went from 3.9 to 4.6 and precision fell)
                .filter(|(_, kind)| *kind != KeyKind::Whole)
                .map(|(k, kind)| (self.index.get(*k), *kind))
                .filter(|(l, _)| l.len() > 1)
                .collect();
            lists.sort_by_key(|(l, _)| l.len());
            tally.clear();
            let mut visits = 0usize;
            for (list, kind) in &lists {
                if !tally.is_empty()
                    && (list.len() > blocking::BROAD || visits >= blocking::MAX_VISITS)
                {
                    continue;
                }
                let read = &list[..list.len().min(blocking::SCAN_LIMIT)];
                visits += read.len();
                let w = kind.weight() / (1.0 + (list.len() as f64).ln());
                for &o in read {
                    if o < s {
                        *tally.entry(o).or_insert(0.0) += w;
                    }
                }
            }
            let mut best: Vec<(u32, f64)> = tally.iter().map(|(o, w)| (*o, *w)).collect();
            best.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            for (rank, (o, _)) in best.into_iter().take(PAIRS_PER_OBSERVATION).enumerate() {
                let Some(g) = self.slots[o as usize].feat.as_ref() else {
                    continue;
                };
                if let Some(levels) = score::levels(f, g, &self.interner) {
                    let class = PairClass::of(f.obs_kind, g.obs_kind);
                    counts.add(class, levels, rank == 0);
                    if f.code.is_some_and(|c| c.is_full()) && f.code == g.code {
                        counts.add_certain(class, levels);
                    }
                }
            }
        }
        // random pairs for u: each sampled observation against a few others drawn by a
        // fixed sequence (deterministic: the same records give the same pairs)
        let n = active.len() as u64;
        if n > 1 {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            for &s in active.iter().step_by(stride) {
                let Some(f) = self.slots[s as usize].feat.as_ref() else {
                    continue;
                };
                for _ in 0..RANDOM_PER_OBSERVATION {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let o = active[((x >> 33) % n) as usize];
                    if o == s {
                        continue;
                    }
                    let Some(g) = self.slots[o as usize].feat.as_ref() else {
                        continue;
                    };
                    if let Some(levels) = score::levels(f, g, &self.interner) {
                        counts.add_random(PairClass::of(f.obs_kind, g.obs_kind), levels);
                    }
                }
            }
        }
        counts
    }

    /// Weights estimated from a set of observations (an engine of their features and index
    /// only, nothing resolved).
    pub fn estimate_for(observations: &[Observation]) -> Weights {
        let mut e = Engine::new();
        for o in observations {
            let s = e.slot_for(&o.source);
            let feat = features::extract(o, &mut e.interner);
            let sl = &mut e.slots[s as usize];
            sl.state = ObsState::Active;
            sl.feat = Some(feat);
            e.index_slot(s, true);
        }
        e.estimate_weights()
    }

    /// Weights estimated from the observations held now.
    pub fn estimate_weights(&self) -> Weights {
        Weights::estimate(&self.blocked_pair_levels())
    }

    /// The weights the engine scores with.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// Scores with these weights from now on (decisions already taken stay), and never
    /// re-estimates them: the settle pass replays with them too.
    pub fn fix_weights(&mut self, weights: Weights) {
        self.weights = weights;
        self.weights_fixed = true;
    }

    /// The weights a settle replay scores with: fixed ones, or none (estimate them).
    pub(super) fn fixed_weights(&self) -> Option<Weights> {
        self.weights_fixed.then(|| self.weights.clone())
    }
}

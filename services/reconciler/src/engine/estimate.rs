//! Estimating the engine's weights from the records it holds.
//!
//! Owns the choice of pairs the estimate learns from: for each active observation (every
//! one, or an even sample of at most [`MAX_SAMPLED`] in a very large engine), the
//! [`PAIRS_PER_OBSERVATION`] other observations sharing the most blocking keys with it (all
//! but the whole-name key), read within the same budget as candidate search, so the pairs
//! look like the ones the engine scores. Each pair's agreement levels are counted per pair
//! class and handed to [`Weights::estimate`]. Reads the index and features only: changes no
//! identity. The sampled observations are counted in fixed chunks on every core (random
//! partners drawn from a sequence each chunk starts at its own place in), and the counts
//! are whole numbers, so the weights do not depend on the number of threads.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use super::blocking::{self, KeyKind};
use super::features::{Features, Interner};
use super::observation::Observation;
use super::score;
use super::weights::{PairClass, PatternCounts, Weights};
use super::{Engine, ObsState};

/// Pairs counted per observation.
pub const PAIRS_PER_OBSERVATION: usize = 12;
/// Random partners per sampled observation (for `u`).
pub const RANDOM_PER_OBSERVATION: usize = 8;
/// At most this many observations are sampled for the estimate.
pub const MAX_SAMPLED: usize = 250_000;

/// Sampled observations counted per parallel task (a fixed size, so the tasks do not depend
/// on the number of threads).
const CHUNK: usize = 1024;

/// The fixed sequence random partners are drawn by (deterministic: the same records give the
/// same pairs): a 64-bit linear congruential generator.
fn next_draw(x: u64) -> u64 {
    x.wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407)
}

impl Engine {
    /// Counts the agreement levels of blocked pairs among the active observations. The
    /// sampled observations are counted in chunks on every core; the counts are whole
    /// numbers, so the sum is the same whatever the threads.
    pub fn blocked_pair_levels(&self) -> PatternCounts {
        let active: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|s| {
                let sl = &self.slots[*s as usize];
                sl.state == ObsState::Active && sl.feat.is_some()
            })
            .collect();
        let stride = active.len().div_ceil(MAX_SAMPLED).max(1);
        let sampled: Vec<u32> = active.iter().step_by(stride).copied().collect();
        // where each chunk's random draws start: every sampled observation draws
        // RANDOM_PER_OBSERVATION times
        let mut starts: Vec<u64> = Vec::with_capacity(sampled.len().div_ceil(CHUNK));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for chunk in sampled.chunks(CHUNK) {
            starts.push(x);
            for _ in 0..chunk.len() * RANDOM_PER_OBSERVATION {
                x = next_draw(x);
            }
        }
        sampled
            .par_chunks(CHUNK)
            .zip(starts)
            .map(|(chunk, start)| {
                let mut counts = PatternCounts::default();
                self.count_blocked(chunk, &mut counts);
                self.count_random(chunk, &active, start, &mut counts);
                counts
            })
            .reduce(PatternCounts::default, PatternCounts::merged)
    }

    /// Counts the pairs of each observation of `sampled` with the others sharing the most
    /// blocking keys with it.
    fn count_blocked(&self, sampled: &[u32], counts: &mut PatternCounts) {
        let mut buf: Vec<(u64, KeyKind)> = Vec::new();
        let mut tally: HashMap<u32, f64> = HashMap::new();
        for &s in sampled {
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
    }

    /// Counts random pairs for `u`: each observation of `sampled` against a few of `active`
    /// drawn from `x` on.
    fn count_random(
        &self,
        sampled: &[u32],
        active: &[u32],
        mut x: u64,
        counts: &mut PatternCounts,
    ) {
        let n = active.len() as u64;
        if n < 2 {
            return;
        }
        for &s in sampled {
            let f = self.slots[s as usize].feat.as_ref();
            for _ in 0..RANDOM_PER_OBSERVATION {
                x = next_draw(x);
                let o = active[((x >> 33) % n) as usize];
                if o == s {
                    continue;
                }
                let (Some(f), Some(g)) = (f, self.slots[o as usize].feat.as_ref()) else {
                    continue;
                };
                if let Some(levels) = score::levels(f, g, &self.interner) {
                    counts.add_random(PairClass::of(f.obs_kind, g.obs_kind), levels);
                }
            }
        }
    }

    /// Weights estimated from observations and their features, interned with `interner`
    /// (an engine of their features and index only, nothing resolved). Gives the features
    /// and the interner back, for the replay to resolve with.
    pub(super) fn estimate_with(
        observations: &[Arc<Observation>],
        features: Vec<Features>,
        interner: Interner,
    ) -> (Weights, Vec<Option<Features>>, Interner) {
        let mut e = Engine {
            interner,
            ..Engine::new()
        };
        let mut slots = Vec::with_capacity(observations.len());
        for (o, feat) in observations.iter().zip(features) {
            let s = e.slot_for(&o.source);
            let sl = &mut e.slots[s as usize];
            sl.state = ObsState::Active;
            sl.feat = Some(feat);
            e.index_slot(s, true);
            slots.push(s);
        }
        let weights = e.estimate_weights();
        let features = slots
            .into_iter()
            .map(|s| e.slots[s as usize].feat.take())
            .collect();
        (weights, features, std::mem::take(&mut e.interner))
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

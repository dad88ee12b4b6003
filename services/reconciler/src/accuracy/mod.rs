//! Accuracy: the engine run over a whole simulated world, scored against its ground truth.
//!
//! Owns the feed (every current source record of a [`World`], converted as an adapter would:
//! tax codes to digits, phones to E.164, local times with `+07:00`, NTM entries named
//! `{commune_code}:{year}:{index}`), the pairwise metrics (precision, recall, F1 over pairs
//! of records said to be one organisation, overall and per source pair: registry↔loan,
//! loan↔loan, loan↔ntm, registry↔ntm, ntm↔ntm, registry↔registry), the review load and the
//! worst errors with the names involved (person-like names masked).
//!
//! Built only with the crate's `accuracy` feature: it links the simulators, which the
//! production library does not. The engine never sees the truth: it is read only here, after
//! the run. Deliberately bad records (which belong to no organisation) are left out, as an
//! adapter would reject them.
//!
//! | module | owns |
//! |---|---|
//! | `feed` | the world's records as contracts, the engine's inputs in an order, the run |
//! | `metrics` | the pairwise metrics, the review load, the worst errors |
//! | `indicators` | the indicators computed from the engine's identities against the truth, and why I6 and I7 differ |
//! | `machine` | the run's CPU time and peak memory |
//! | `operator` | an operator who knows the truth answering the open review items |

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hub_contracts::v1::SourceRef;
use hub_simulators::world::World;
use hub_simulators::{Truth, TruthParams};

mod feed;
mod indicators;
mod machine;
mod metrics;
mod operator;

pub use feed::{
    FeedItem, FeedOrder, WorldContracts, feed_of, run, run_traced, world_contracts, world_feed,
};
pub use indicators::{IndicatorCheck, check_indicators, indicator_errors};
pub use machine::{peak_rss_bytes, process_cpu_time, reset_peak_rss};
pub use metrics::{ErrorCase, Metrics, PairMetrics, SOURCE_PAIRS, evaluate};
pub use operator::{Answered, answer_reviews};

/// The truth of a world, with its default parameters.
pub fn truth_of(world: &World) -> Truth {
    world.truth(&TruthParams::for_world(world))
}

/// A fixed present for reproducible worlds: 2025-10-15 10:00 +07:00.
pub fn default_now() -> DateTime<FixedOffset> {
    hub_simulators::world::vn_offset()
        .with_ymd_and_hms(2025, 10, 15, 10, 0, 0)
        .single()
        .unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.fixed_offset())
}

/// Which true organisation (its index in the truth) each labelled record belongs to.
fn labels(truth: &Truth) -> HashMap<&SourceRef, usize> {
    let mut label = HashMap::new();
    for (i, o) in truth.organisations.iter().enumerate() {
        for r in &o.records {
            label.insert(r, i);
        }
    }
    label
}

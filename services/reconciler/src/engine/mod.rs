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
//!
//! The code is split by what each part decides (each module's documentation says what it
//! owns and what it may not touch):
//!
//! | module | decides |
//! |---|---|
//! | this one | nothing: the [`Engine`] struct, its private types, constructors, read accessors |
//! | `resolve` | what a new, changed or withdrawn observation becomes: operator must-links, candidates, matched / review / new, a registry record's late arrival, NTM reports |
//! | `operator` | operator actions (link or separate a review pair, merge, split) and the constraints they leave |
//! | `identities` | membership: join, detach, merge, split, which members still hold together, the survivor |
//! | `log` | what the decision log and the review queue say: decision ids and times, merge and split events, review items |
//! | `state` | snapshot and restore, slot and identity lookups, index entries, golden-record versions |
//! | [`settle`] | the canonical-order replay and the move of live identities to its result |
//! | [`blocking`], [`features`], [`score`] | which pairs are compared and how strongly they match |
//! | [`golden`] | survivorship: a golden record from an identity's members |

pub mod blocking;
mod estimate;
pub mod features;
pub mod golden;
pub mod observation;
pub mod score;
pub mod settle;
pub mod types;
pub mod weights;

mod candidates;
mod identities;
mod log;
mod operator;
pub use candidates::ExplainedCandidate;
mod resolve;
mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hub_contracts::v1::SourceRef;
use uuid::Uuid;

use blocking::{Index, KeyKind};
use features::{Features, Interner};
use observation::Observation;
use score::PairScore;
pub use types::*;

fn ns_uuid(kind: &str, seq: u64) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("urn:coophub:reconciler:{kind}:{seq}").as_bytes(),
    )
}

#[derive(Debug)]
struct Slot {
    /// Shared with the settle pass's replay, which reads every observation held.
    obs: Option<Arc<Observation>>,
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
    /// Only an operator may link it: both hold a registry record, or the record's name
    /// contradicts the identity's registration and names no person of it.
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
    /// What each feature's agreement weighs, per pair of systems (estimated by the settle
    /// pass from the records held, see [`weights`]).
    weights: weights::Weights,
    /// The weights were set by the caller and are never re-estimated (to compare the
    /// rules-1.0 weights against estimated ones).
    weights_fixed: bool,
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
        self.slots[s as usize].obs.as_deref()
    }

    /// The stored form of an observation.
    pub fn stored_observation(&self, source: &SourceRef) -> Option<StoredObservation> {
        let s = *self.by_ref.get(source)?;
        let sl = &self.slots[s as usize];
        Some(StoredObservation {
            observation: Observation::clone(sl.obs.as_ref()?),
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

    /// How two source records score against each other with the weights in use (what a
    /// decision between them would weigh; `None` when either is unknown or the pair is
    /// vetoed before scoring).
    pub fn explain_pair(&self, a: &SourceRef, b: &SourceRef) -> Option<score::PairScore> {
        let fa = self.slots[*self.by_ref.get(a)? as usize].feat.as_ref()?;
        let fb = self.slots[*self.by_ref.get(b)? as usize].feat.as_ref()?;
        Some(score::score_with(fa, fb, &self.interner, &self.weights))
    }

    /// The features the scorer and blocker read for a source record (for diagnostics).
    pub fn features_of(&self, source: &SourceRef) -> Option<&Features> {
        self.slots[*self.by_ref.get(source)? as usize].feat.as_ref()
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
}

//! Records read ahead on several threads resolve exactly as records read in turn: the same
//! features (to the interned ids), the same decisions, the same identities; and the weight
//! estimate counted on every core does not depend on how many cores there are.

use chrono::{DateTime, Utc};
use hub_reconciler::accuracy::{self, FeedItem, FeedOrder};
use hub_reconciler::engine::Engine;
use hub_reconciler::engine::features::{self, Interner};
use hub_reconciler::engine::observation::Observation;
use hub_simulators::{World, WorldConfig, generate};

fn world(seed: u64, orgs: usize, loans: usize) -> World {
    let mut cfg = WorldConfig::new(seed, accuracy::default_now());
    cfg.organisations = orgs;
    cfg.loans = loans;
    cfg.noise = hub_simulators::NoiseModel::Field;
    generate(&cfg).expect("world")
}

/// One time for every run, so that decision times are alike.
fn now() -> DateTime<Utc> {
    accuracy::default_now().with_timezone(&Utc)
}

/// Every decision of a feed, as JSON, with the engine it leaves.
fn decisions_read_in_turn(feed: Vec<FeedItem>) -> (Engine, Vec<String>) {
    let mut e = Engine::new();
    let now = now();
    let mut log = Vec::new();
    for item in feed {
        let ch = match item {
            FeedItem::Observation(o) => e.observe(*o, now),
            FeedItem::Report(r) => e.ntm_report(&r, now),
        };
        log.extend(
            ch.decisions
                .iter()
                .map(|d| serde_json::to_string(d).expect("json")),
        );
    }
    (e, log)
}

fn decisions_read_ahead(feed: Vec<FeedItem>) -> (Engine, Vec<String>) {
    let mut e = Engine::new();
    let mut log = Vec::new();
    accuracy::run_traced(&mut e, feed, now(), |_, ch| {
        log.extend(
            ch.decisions
                .iter()
                .map(|d| serde_json::to_string(d).expect("json")),
        );
    });
    (e, log)
}

fn observations(feed: &[FeedItem]) -> Vec<Observation> {
    let mut out = Vec::new();
    for item in feed {
        match item {
            FeedItem::Observation(o) => out.push((**o).clone()),
            FeedItem::Report(r) => out.extend(
                r.cooperatives
                    .iter()
                    .map(|c| Observation::from_ntm_entry(r, c)),
            ),
        }
    }
    out
}

#[test]
fn records_read_ahead_resolve_as_records_read_in_turn() {
    let w = world(31, 300, 700);
    let feed = accuracy::world_feed(&w, FeedOrder::Time);
    let (mut turn, turn_log) = decisions_read_in_turn(feed.clone());
    let (mut ahead, ahead_log) = decisions_read_ahead(feed.clone());
    assert!(turn_log.len() > 1000, "{} decisions", turn_log.len());
    assert_eq!(turn_log, ahead_log);
    for o in observations(&feed) {
        assert_eq!(
            format!("{:?}", turn.features_of(&o.source)),
            format!("{:?}", ahead.features_of(&o.source)),
            "{}",
            o.source
        );
    }
    assert_eq!(turn.clusters(), ahead.clusters());
    // and settled, with the records' features read once on every core
    turn.settle(Utc::now());
    ahead.settle(Utc::now());
    assert_eq!(turn.clusters(), ahead.clusters());
    assert_eq!(turn.weights(), ahead.weights());
}

#[test]
fn features_extracted_together_are_those_extracted_one_by_one() {
    let w = world(32, 200, 400);
    let obs = observations(&accuracy::world_feed(&w, FeedOrder::Time));
    let mut one = Interner::default();
    let by_one: Vec<String> = obs
        .iter()
        .map(|o| format!("{:?}", features::extract(o, &mut one)))
        .collect();
    let mut all = Interner::default();
    let together: Vec<String> = features::extract_all(&obs, &mut all)
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    assert_eq!(by_one, together);
    // the same words got the same ids
    for id in 0..5000 {
        assert_eq!(one.get(id), all.get(id));
    }
}

#[test]
fn the_weight_estimate_does_not_depend_on_the_number_of_threads() {
    let w = world(33, 400, 800);
    let mut e = Engine::new();
    accuracy::run(&mut e, accuracy::world_feed(&w, FeedOrder::Time), now());
    let on = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool")
            .install(|| e.blocked_pair_levels())
    };
    let before = hub_reconciler::engine::blocking::lookup_stats();
    let one = on(1);
    // the pool's lookups are the process's too (the growth table reports them)
    let after = hub_reconciler::engine::blocking::lookup_stats();
    assert!(
        after.lookups > before.lookups + 1000,
        "{before:?} → {after:?}"
    );
    assert!(
        one.pairs(hub_reconciler::engine::weights::PairClass::LoanNtm) > 500,
        "{one:?}"
    );
    assert_eq!(one, on(3));
    assert_eq!(e.estimate_weights(), e.estimate_weights());
}

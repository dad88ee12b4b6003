//! The Farmers' Union's conversions (`source.fu_branch.v1`, a branch `da_chuyen_doi` naming
//! the HTX/THT it became) linked by the engine like any record, measured on simulated worlds
//! whose truth knows which registry organisation each conversion became: precision and
//! recall of "linked to a registry organisation", the doubtful ones in the review queue,
//! the log explaining each, and the same identities whatever the order.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, Utc};
use hub_contracts::v1::{
    BranchKind, BranchStatus, Conversion, DecisionOutcome, FuBranch, SourceMeta, SourceRef,
    Workbook,
};
use hub_reconciler::accuracy::{self, FeedOrder};
use hub_reconciler::engine::Engine;
use hub_reconciler::engine::observation::Observation;
use hub_simulators::union::{ConversionTruth, conversions};
use hub_simulators::world::System;
use hub_simulators::{WorldConfig, generate};

const SYSTEM: &str = "farmers-union";

fn fetched() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2025-01-20T09:00:00+07:00").expect("time")
}

/// The branch record the adapter publishes for a converted branch of the truth.
fn branch(c: &ConversionTruth) -> FuBranch {
    FuBranch {
        meta: SourceMeta {
            source: SourceRef::new(SYSTEM, &c.source_id),
            fetched_at: fetched(),
            content_hash: String::new(),
            raw: serde_json::Value::Null,
            issues: Vec::new(),
        },
        workbook: Workbook {
            sender: c.sender.clone(),
            report_date: chrono::NaiveDate::from_ymd_opt(2024, 12, 31).expect("date"),
            content_hash: "h".into(),
        },
        retracted: false,
        code: c.code.clone(),
        name: "Chi hội nông dân nghề nghiệp".into(),
        kind: BranchKind::ChiHoi,
        commune_code: c.commune_code.clone(),
        commune_code_2025: None,
        district_code: c.district_code.clone(),
        established_on: chrono::NaiveDate::from_ymd_opt(2018, 1, 1).expect("date"),
        members: None,
        status: BranchStatus::Converted,
        ended_on: c.ended_on,
        converted_to: Some(Conversion {
            kind: c.kind,
            name: c.name.clone(),
            registration_code: c.registration_code.clone(),
        }),
    }
}

#[derive(Debug, Default)]
struct Counts {
    conversions: usize,
    /// Truth: the HTX/THT is a registry organisation.
    in_registry: usize,
    /// The engine linked it to an identity holding a registry record…
    linked: usize,
    /// …that is the right one.
    right: usize,
    /// Open review items of a conversion.
    review: usize,
    /// Linked to the wrong registry organisation, or to one though none is in the registry.
    wrong: Vec<String>,
    /// In the registry, not linked.
    missed: Vec<String>,
}

/// Feeds one world and its conversions (before or after the other records), settles, and
/// counts.
fn measure(seed: u64, conversions_first: bool) -> (Counts, Engine) {
    let world = generate(&WorldConfig::new(seed, accuracy::default_now())).expect("world");
    let truth = conversions(&world);
    let mut engine = Engine::new();
    let now = Utc::now();
    let observe_conversions = |engine: &mut Engine| {
        for c in &truth {
            let obs = Observation::from_fu_conversion(&branch(c)).expect("a conversion");
            engine.observe(obs, now);
        }
    };
    if conversions_first {
        observe_conversions(&mut engine);
    }
    accuracy::run(
        &mut engine,
        accuracy::world_feed(&world, FeedOrder::Time),
        now,
    );
    if !conversions_first {
        observe_conversions(&mut engine);
    }
    engine.settle(now);

    let registry = System::CoopAlliance.as_str();
    let mut n = Counts::default();
    let in_review: BTreeSet<SourceRef> = engine
        .reviews()
        .filter(|r| r.status == hub_reconciler::engine::ReviewStatus::Open)
        .flat_map(|r| [r.observation.clone(), r.candidate.clone()])
        .collect();
    for c in &truth {
        let src = SourceRef::new(SYSTEM, &c.source_id);
        n.conversions += 1;
        n.in_registry += usize::from(c.registry_id.is_some());
        n.review += usize::from(in_review.contains(&src));
        let members = engine
            .identity_of(&src)
            .and_then(|id| engine.members(id))
            .unwrap_or_default();
        let linked_to: Vec<&SourceRef> = members.iter().filter(|m| m.system == registry).collect();
        let right = c
            .registry_id
            .as_ref()
            .is_some_and(|r| linked_to.iter().any(|m| &m.id == r));
        if !linked_to.is_empty() {
            n.linked += 1;
            if right {
                n.right += 1;
            } else {
                n.wrong.push(format!(
                    "seed {seed} {} {:?} ({:?}) -> {linked_to:?}",
                    c.source_id, c.name, c.registry_id
                ));
            }
        }
        if c.registry_id.is_some() && !right {
            n.missed.push(format!(
                "seed {seed} {} {:?} ({:?}) -> {linked_to:?}",
                c.source_id, c.name, c.registry_id
            ));
        }
    }
    (n, engine)
}

#[test]
fn conversions_are_linked_to_the_registry_organisation_they_became() {
    let mut total = Counts::default();
    for seed in 1..=8 {
        let (n, _) = measure(seed, false);
        total.conversions += n.conversions;
        total.in_registry += n.in_registry;
        total.linked += n.linked;
        total.right += n.right;
        total.review += n.review;
        total.wrong.extend(n.wrong);
        total.missed.extend(n.missed);
    }
    let precision = total.right as f64 / total.linked.max(1) as f64;
    let recall = total.right as f64 / total.in_registry.max(1) as f64;
    println!(
        "conversions {} (in the registry {}): linked {}, right {}, precision {precision:.3}, \
         recall {recall:.3}, in review {}",
        total.conversions, total.in_registry, total.linked, total.right, total.review
    );
    assert!(
        total.in_registry >= 20 && total.conversions > total.in_registry,
        "{total:?}"
    );
    assert!(
        precision >= 0.95 && recall >= 0.85,
        "precision {precision:.3} recall {recall:.3}\nwrong {:#?}\nmissed {:#?}",
        total.wrong,
        total.missed
    );
}

#[test]
fn the_same_identities_whatever_arrived_first() {
    for seed in [2, 5] {
        let (_, a) = measure(seed, false);
        let (_, b) = measure(seed, true);
        let groups = |e: &Engine| -> BTreeSet<Vec<SourceRef>> {
            e.clusters()
                .into_iter()
                .filter(|(_, m)| m.iter().any(|r| r.system == SYSTEM))
                .map(|(_, mut m)| {
                    m.sort();
                    m
                })
                .collect()
        };
        assert_eq!(groups(&a), groups(&b), "seed {seed}");
    }
}

#[test]
fn each_conversion_is_explained_in_the_log_and_a_retraction_withdraws_it() {
    let world = generate(&WorldConfig::new(3, accuracy::default_now())).expect("world");
    let truth = conversions(&world);
    let mut engine = Engine::new();
    let now = Utc::now();
    accuracy::run(
        &mut engine,
        accuracy::world_feed(&world, FeedOrder::Time),
        now,
    );
    let c = truth
        .iter()
        .find(|c| c.registry_id.is_some())
        .expect("a conversion to a registry organisation");
    let mut b = branch(c);
    let ch = engine.observe(Observation::from_fu_conversion(&b).expect("converted"), now);
    let src = SourceRef::new(SYSTEM, &c.source_id);
    let d = ch
        .decisions
        .iter()
        .find(|d| d.source.as_ref() == Some(&src))
        .expect("a decision for the conversion");
    assert!(
        matches!(
            d.outcome,
            DecisionOutcome::Matched | DecisionOutcome::Review | DecisionOutcome::New
        ),
        "{d:?}"
    );
    assert!(!d.rule.is_empty() && !d.rule_version.is_empty(), "{d:?}");
    if d.outcome == DecisionOutcome::Matched {
        assert!(d.score.is_some() && !d.features.is_empty(), "{d:?}");
    }

    // a later workbook without the row: the branch names nothing any more
    b.retracted = true;
    assert!(Observation::from_fu_conversion(&b).is_none());
    let ch = engine.withdraw(&src, now);
    assert!(ch.observations.contains(&src));
    assert_eq!(engine.identity_of(&src), None);
    // an active branch names nothing either
    b.retracted = false;
    b.status = BranchStatus::Active;
    assert!(Observation::from_fu_conversion(&b).is_none());
}

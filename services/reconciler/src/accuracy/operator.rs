//! An operator who knows the truth: answers every open review item the run left, as the
//! console's link and separate buttons do, so that the harness can tell the errors an
//! operator's answers fix from those the engine made on its own.
//!
//! Part of the accuracy harness (see [`super`]): reads the truth's labels, writes to the
//! engine only through its operator API ([`Engine::link_review`],
//! [`Engine::separate_review`]).

use chrono::{DateTime, Utc};
use hub_contracts::v1::SourceRef;
use hub_simulators::Truth;
use hub_simulators::world::System;
use serde::Serialize;

use crate::engine::{Engine, ReviewStatus};

/// What answering the open reviews did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Answered {
    /// Items whose two records are one organisation in truth: linked.
    pub linked: usize,
    /// Items whose records are two organisations (or one is no organisation): separated.
    pub separated: usize,
    /// Items the engine had closed by the time their turn came (an earlier answer moved
    /// their records), or refused: left as they were.
    pub skipped: usize,
}

/// Answers every open review item from the truth, oldest first: link when both records
/// belong to one true organisation, separate otherwise.
pub fn answer_reviews(engine: &mut Engine, truth: &Truth, now: DateTime<Utc>) -> Answered {
    let label = super::labels(truth);
    let mut open: Vec<_> = engine
        .reviews()
        .filter(|r| r.status == ReviewStatus::Open)
        .map(|r| {
            let same = matches!(
                (label.get(&r.observation), label.get(&r.candidate)),
                (Some(a), Some(b)) if a == b
            );
            (r.created_at, r.review_id, same)
        })
        .collect();
    open.sort();
    let show = std::env::var_os("SHOW_ANSWERS").is_some();
    let mut out = Answered::default();
    for (_, id, same) in open {
        // with SHOW_ANSWERS: the item and its two identities before the answer
        let before = if show {
            engine.review(id).cloned().map(|item| {
                let shape = format!(
                    "{} ~ {}",
                    identity_shape(engine, &item.observation),
                    identity_shape(engine, &item.candidate)
                );
                (item, shape)
            })
        } else {
            None
        };
        let answer = if same {
            engine.link_review(
                id,
                "accuracy-harness",
                "the truth says one organisation",
                now,
            )
        } else {
            engine.separate_review(id, "accuracy-harness", "the truth says two", now)
        };
        if let (Some((item, shape)), Ok(ch)) = (&before, &answer) {
            let moved: Vec<String> = ch
                .decisions
                .iter()
                .map(|d| {
                    let src = d
                        .source
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default();
                    format!("{:?} {src} [{}]", d.outcome, d.rule)
                })
                .collect();
            println!(
                "answer {} ({shape}) {} `{}` ~ {} `{}`: merged {}, splits {}; {}",
                if same { "link" } else { "separate" },
                item.observation,
                item.observation_name,
                item.candidate,
                item.candidate_name,
                ch.merged.len(),
                ch.splits.len(),
                moved.join("; ")
            );
        }
        match (answer, same) {
            (Ok(_), true) => out.linked += 1,
            (Ok(_), false) => out.separated += 1,
            (Err(_), _) => out.skipped += 1,
        }
    }
    out
}

/// The identity of a record in short: its members and the registry records among them
/// (`5m/1r`).
fn identity_shape(engine: &Engine, r: &SourceRef) -> String {
    let members = engine
        .identity_of(r)
        .and_then(|i| engine.members(i))
        .unwrap_or_default();
    let registry = System::CoopAlliance.as_str();
    let reg = members.iter().filter(|m| m.system == registry).count();
    format!("{}m/{}r", members.len(), reg)
}

//! The world: determinism from the seed, the hard cases it promises, mutations reported
//! exactly, and the truth served over HTTP and written to a file.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Datelike;
use common::*;
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{BorrowerType, LoanStatus};
use hub_simulators::world::Subject;
use hub_simulators::{MutationRequest, SimConfig, TruthParams, World, generate};
use serde_json::{Value, json};

#[test]
fn the_same_seed_gives_the_same_world() {
    let a = generate(&world_config(77)).expect("world");
    let b = generate(&world_config(77)).expect("world");
    assert_eq!(a, b);
    let ta = serde_json::to_string(&a.truth(&TruthParams::for_world(&a))).expect("json");
    let tb = serde_json::to_string(&b.truth(&TruthParams::for_world(&b))).expect("json");
    assert_eq!(ta, tb);
    let served_a: Vec<Value> = a.registry.iter().map(|r| a.registry_json(r)).collect();
    let served_b: Vec<Value> = b.registry.iter().map(|r| b.registry_json(r)).collect();
    assert_eq!(served_a, served_b);
    let c = generate(&world_config(78)).expect("world");
    assert_ne!(a.organisations, c.organisations);

    // mutations are deterministic too (apart from the wall-clock timestamps)
    let (mut a, mut b) = (a, b);
    let req = MutationRequest {
        new_cooperatives: 2,
        edited_cooperatives: 5,
        new_loans: 3,
        edited_loans: 4,
        report_revisions: 3,
        credit_uncredited_htx: 1,
    };
    let ra = a.mutate(&req, now()).expect("mutate");
    let rb = b.mutate(&req, now()).expect("mutate");
    assert_eq!(ra, rb);
    assert_eq!(a, b);
}

#[test]
fn the_world_has_the_promised_hard_cases() {
    let mut cfg = world_config(5);
    cfg.organisations = 300;
    cfg.loans = 400;
    cfg.bad_records = 9;
    let w = generate(&cfg).expect("world");
    let truth = w.truth(&TruthParams::for_world(&w));

    // kinds: HTX most, THT, a few LHHTX
    let kinds = |k| w.organisations.iter().filter(|o| o.facts.kind == k).count();
    assert!(kinds(OrgKind::Htx) > kinds(OrgKind::Tht));
    assert!((1..=6).contains(&kinds(OrgKind::Lhhtx)));

    // every organisation in a 2024 commune
    let reference = hub_normalise::reference::Reference::get();
    assert!(
        w.organisations
            .iter()
            .all(|o| reference.commune_2024(&o.facts.commune_code).is_some())
    );

    // near-namesakes in one commune
    let mut by_place: BTreeMap<(String, String), usize> = BTreeMap::new();
    for o in &w.organisations {
        let base = o
            .facts
            .place
            .split(" số ")
            .next()
            .unwrap_or_default()
            .to_owned();
        *by_place
            .entry((o.facts.commune_code.clone(), base))
            .or_default() += 1;
    }
    assert!(by_place.values().any(|n| *n > 1), "near-namesakes");
    assert!(
        w.organisations
            .iter()
            .any(|o| o.facts.name.contains(" số ")),
        "a 'số 2'"
    );

    // a household named like an HTX's representative
    let reps: BTreeSet<&str> = w
        .organisations
        .iter()
        .filter(|o| o.facts.kind == OrgKind::Htx)
        .filter_map(|o| o.facts.representative.as_ref()?.full_name.as_deref())
        .collect();
    assert!(
        w.households
            .iter()
            .any(|h| reps.contains(h.full_name.as_str()))
    );

    // cooperatives missing from the registry, seen elsewhere; registry entries seen nowhere else
    let missing: Vec<_> = truth
        .organisations
        .iter()
        .filter(|o| !o.in_registry)
        .collect();
    assert!(!missing.is_empty());
    assert!(missing.iter().filter(|o| o.kind == OrgKind::Tht).count() * 2 >= missing.len());
    assert!(
        missing
            .iter()
            .all(|o| o.records.iter().all(|r| r.system != "coop-alliance"))
    );
    assert!(
        truth
            .organisations
            .iter()
            .any(|o| o.in_registry && o.records.len() == 1)
    );
    // an organisation seen by all three systems
    assert!(truth.organisations.iter().any(|o| {
        let systems: BTreeSet<&str> = o.records.iter().map(|r| r.system.as_str()).collect();
        systems.len() == 3
    }));

    // established dates spread, a good share after the baseline
    let after = w
        .organisations
        .iter()
        .filter(|o| o.facts.established_on >= hub_simulators::DEFAULT_BASELINE)
        .count();
    assert!(after * 5 > w.organisations.len() && after * 5 < w.organisations.len() * 4);

    // loans: all borrower types and statuses; tax code noise; bad records
    let types: BTreeSet<_> = w
        .loans
        .iter()
        .map(|l| format!("{:?}", l.borrower_type))
        .collect();
    assert_eq!(types.len(), 3, "{types:?}");
    assert!(w.loans.iter().any(|l| l.status == LoanStatus::Cancelled));
    let org_loans: Vec<_> = w
        .loans
        .iter()
        .filter(|l| l.bad.is_none() && l.borrower_type == BorrowerType::Cooperative)
        .collect();
    assert!(org_loans.iter().any(|l| l.borrower.tax_code.is_none()));
    assert!(org_loans.iter().any(|l| {
        l.borrower
            .tax_code
            .as_deref()
            .is_some_and(|t| t.contains(' ') || t.contains('-'))
    }));
    assert!(org_loans.iter().any(|l| l.borrower.name.starts_with("HTX")));
    assert!(
        org_loans.iter().any(|l| l.borrower.name.is_ascii()),
        "without diacritics"
    );
    assert!(
        w.loans.iter().any(
            |l| matches!(l.subject, Subject::Org(i) if w.organisations[i].registry_id.is_none())
        )
    );
    assert_eq!(truth.bad_records.len(), 9);
    let systems: BTreeSet<&str> = truth
        .bad_records
        .iter()
        .map(|b| b.system.as_str())
        .collect();
    assert_eq!(systems.len(), 3);

    // NTM: every commune every year, drafts among them, short names
    assert_eq!(w.reports.len(), 106 * 3);
    assert!(w.reports.iter().any(|r| r.revisions.len() > 1));
    assert!(
        truth
            .ntm_reports
            .iter()
            .any(|r| r.counted_revision.is_none())
    );
    let names: Vec<&str> = w
        .reports
        .iter()
        .filter_map(|r| r.current())
        .flat_map(|c| c.cooperatives.iter().map(|e| e.name.as_str()))
        .collect();
    assert!(names.iter().any(|n| n.starts_with("HTX ")));
    assert!(names.iter().any(|n| n.is_ascii()));
}

#[tokio::test]
async fn mutations_are_reported_exactly_and_stamped_after_everything() {
    let sims = start(31).await;
    let before = sims.truth(None).await.records;
    let clock_before = sims.world.read().await.clock();
    let (status, report) = admin_post(
        &sims.loan_fund.base_url,
        "/_sim/mutate",
        &json!({"new_cooperatives": 2, "edited_cooperatives": 4, "new_loans": 3, "edited_loans": 5, "report_revisions": 3}),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let after = sims.truth(None).await.records;
    let reported: BTreeSet<(String, String)> = report["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["system"].as_str().unwrap_or_default().to_owned(),
                c["id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(reported.len(), 2 + 4 + 3 + 5 + 3);

    // the diff of every record's marker is exactly what was reported
    let mut changed = BTreeSet::new();
    let reg_before: BTreeMap<_, _> = before
        .coop_alliance
        .iter()
        .map(|r| (r.id.clone(), (r.version, r.updated_at.clone())))
        .collect();
    for r in &after.coop_alliance {
        if reg_before.get(&r.id) != Some(&(r.version, r.updated_at.clone())) {
            changed.insert(("coop-alliance".to_owned(), r.id.clone()));
        }
    }
    let loans_before: BTreeMap<_, _> = before
        .loan_fund
        .iter()
        .map(|l| (l.id.clone(), l.modified.clone()))
        .collect();
    for l in &after.loan_fund {
        if loans_before.get(&l.id) != Some(&l.modified) {
            changed.insert(("loan-fund".to_owned(), l.id.clone()));
        }
    }
    let ntm_before: BTreeMap<_, _> = before
        .ntm
        .iter()
        .map(|r| (r.id.clone(), r.revision))
        .collect();
    for r in &after.ntm {
        if ntm_before.get(&r.id) != Some(&r.revision) {
            changed.insert(("ntm".to_owned(), r.id.clone()));
        }
    }
    assert_eq!(changed, reported);

    // strictly newer than anything before; edits bump version by one
    let at = chrono::DateTime::parse_from_rfc3339(report["at"].as_str().unwrap_or_default())
        .expect("at");
    assert!(at > clock_before);
    for c in report["changes"].as_array().cloned().unwrap_or_default() {
        if c["system"] == "coop-alliance" && c["change"] == "updated" {
            let id = c["id"].as_str().unwrap_or_default();
            let old = reg_before.get(id).map(|v| v.0).unwrap_or(0);
            assert_eq!(c["version"].as_u64(), Some(old + 1));
        }
        if c["system"] == "loan-fund" {
            assert_eq!(
                c["modified"].as_str(),
                Some(
                    at.naive_local()
                        .format("%Y-%m-%d %H:%M:%S")
                        .to_string()
                        .as_str()
                )
            );
        }
    }
    // a second mutation is stamped after the first
    let second = sims
        .mutate(&MutationRequest {
            edited_loans: 1,
            ..Default::default()
        })
        .await
        .expect("mutate");
    let at2 = chrono::DateTime::parse_from_rfc3339(&second.at).expect("at");
    assert!(at2 > at);
    // too many is refused
    let (status, _) = admin_post(
        &sims.ntm.base_url,
        "/_sim/mutate",
        &json!({"new_loans": 1_000_000}),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) =
        admin_post(&sims.ntm.base_url, "/_sim/mutate", &json!({"new_loanz": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn truth_over_http_matches_the_function_and_the_file() {
    let dir = std::env::temp_dir().join(format!("hub-sim-truth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("truth.json");
    let mut cfg = SimConfig::for_tests(world_config(41));
    cfg.truth_out = Some(path.clone());
    let sims = hub_simulators::start(cfg).await.expect("start");
    let (status, body) = admin_get(
        &sims.coop_alliance.base_url,
        "/_sim/truth?as_of=2025-06-30&baseline=2024-02-20&units=2025",
    )
    .await;
    assert_eq!(status, 200);
    let params = TruthParams::parse(
        &*sims.world.read().await,
        Some("2025-06-30"),
        None,
        Some("2025"),
    )
    .expect("params");
    let expected = serde_json::to_value(sims.truth(Some(params)).await).expect("json");
    assert_eq!(body, expected);
    assert_eq!(body["unit_list"], "2025");
    assert_eq!(body["indicators"].as_array().map(Vec::len), Some(1 + 38));
    let (_, body24) = admin_get(&sims.ntm.base_url, "/_sim/truth").await;
    assert_eq!(
        body24["indicators"].as_array().map(Vec::len),
        Some(1 + 8 + 106)
    );
    for bad in ["?as_of=30/06/2025", "?units=2026", "?baseline=x"] {
        assert_eq!(
            admin_get(&sims.ntm.base_url, &format!("/_sim/truth{bad}"))
                .await
                .0,
            400,
            "{bad}"
        );
    }
    // the file holds the default truth, rewritten after a mutation
    let file: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("truth file")).expect("json");
    assert_eq!(file, body24);
    sims.mutate(&MutationRequest {
        new_cooperatives: 1,
        ..Default::default()
    })
    .await
    .expect("mutate");
    let file: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("truth file")).expect("json");
    assert_eq!(
        file["records"]["coop-alliance"].as_array().map(Vec::len),
        body24["records"]["coop-alliance"]
            .as_array()
            .map(|a| a.len() + 1)
    );
    let _ = std::fs::remove_dir_all(&dir);
    // the province is the sum of its districts, and of its communes
    let province = &body24["indicators"][0];
    for (i, id) in ["I1", "I2", "I4", "I10"].iter().enumerate() {
        let p = province["values"][[0, 1, 3, 9][i]]["numerator"].as_f64();
        assert_eq!(province["values"][[0, 1, 3, 9][i]]["indicator"], *id);
        let districts: f64 = body24["indicators"]
            .as_array()
            .map(|u| {
                u.iter()
                    .filter(|u| u["level"] == "district")
                    .map(|u| {
                        u["values"][[0, 1, 3, 9][i]]["numerator"]
                            .as_f64()
                            .unwrap_or(0.0)
                    })
                    .sum()
            })
            .unwrap_or(0.0);
        assert_eq!(p, Some(districts), "{id}");
    }
    let _ = World::empty;
}

#[test]
fn invariants_hold_for_many_seeds() {
    for seed in 0..25 {
        let mut cfg = world_config(seed);
        cfg.organisations = 80 + (seed as usize * 7) % 60;
        cfg.loans = 100;
        cfg.bad_records = (seed % 10) as usize;
        if seed % 5 == 0 {
            // a present early in a year: most of that year's reports are drafts
            cfg.now =
                chrono::DateTime::parse_from_rfc3339("2025-01-05T07:00:00+07:00").expect("now");
        }
        let w = generate(&cfg).expect("world");
        let now = w.now;
        let ids: BTreeSet<_> = w.registry.iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids.len(), w.registry.len(), "registry ids unique");
        let loan_nos: BTreeSet<_> = w.loans.iter().map(|l| l.loan_no.clone()).collect();
        assert_eq!(loan_nos.len(), w.loans.len(), "loan numbers unique");
        let names: BTreeSet<_> = w
            .organisations
            .iter()
            .map(|o| o.facts.name.clone())
            .collect();
        assert_eq!(names.len(), w.organisations.len(), "legal names unique");
        assert!(w.registry.iter().all(|r| r.updated_at <= now));
        for o in &w.organisations {
            assert!(o.facts.established_on <= now.date_naive());
            if let Some(r) = o.facts.rating {
                assert!(
                    r.year >= o.facts.established_on.year() && r.year < now.date_naive().year()
                );
            }
        }
        for l in &w.loans {
            assert!(l.modified <= now.naive_local(), "{seed} {}", l.loan_no);
            assert!(l.modified.date() >= l.disbursed_on);
            if let Subject::Org(i) = l.subject {
                assert!(l.disbursed_on >= w.organisations[i].facts.established_on);
            }
        }
        for r in &w.reports {
            let mut prev_at = None;
            for (k, rev) in r.revisions.iter().enumerate() {
                assert_eq!(rev.revision as usize, k + 1);
                assert_eq!(
                    rev.submitted_at.is_some(),
                    rev.status != hub_contracts::v1::source::ReportStatus::Draft
                );
                if let Some(at) = rev.submitted_at {
                    assert!(at <= now);
                    assert!(prev_at.is_none_or(|p| p < at), "submissions in order");
                    prev_at = Some(at);
                }
                let short: BTreeSet<String> = rev
                    .cooperatives
                    .iter()
                    .map(|e| hub_simulators::vocab::fold(&e.name).to_lowercase())
                    .collect();
                assert_eq!(
                    short.len(),
                    rev.cooperatives.len(),
                    "short names unique in a report"
                );
            }
            assert!(r.revisions.last().is_some_and(|c| c.ever_current));
        }
        let truth = w.truth(&TruthParams::for_world(&w));
        assert_eq!(truth.bad_records.len(), cfg.bad_records);
        for u in &truth.indicators {
            for v in &u.values {
                if let (Some(n), Some(d)) = (v.numerator, v.denominator) {
                    assert!(n <= d, "{} {} {n}/{d}", u.unit_code, v.indicator);
                }
            }
        }
    }
}

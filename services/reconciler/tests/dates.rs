//! Dates that rule a match out (issue 14): a record that shows its organisation active before
//! a registration's cooperative was established (an NTM report of an earlier year, a loan
//! disbursed earlier) is another organisation's, however alike the names; one dated after it
//! is matched as before.

mod common;

use common::*;
use hub_contracts::v1::{NtmCommuneReport, OrgKind, SourceRef};
use hub_reconciler::engine::observation::Observation;
use hub_reconciler::engine::weights::Weights;
use hub_reconciler::engine::{Engine, ReviewStatus};

/// `Hợp tác xã Kinh doanh Dịch vụ quế Tả Lèng`, established on 8 April 2025.
fn registered_in_2025(e: &mut Engine) {
    let mut rec = registry(
        "LM-1",
        "Hợp tác xã Kinh doanh Dịch vụ quế Tả Lèng",
        OrgKind::Htx,
        None,
        TA_LENG,
        None,
        None,
    );
    rec.established_on = chrono::NaiveDate::from_ymd_opt(2025, 4, 8);
    e.observe(Observation::from_registry(&rec), now());
}

/// Tả Lèng's report of `year`, listing `HTX quế Tả Lèng` alone.
fn report(year: i32) -> NtmCommuneReport {
    ntm(
        TA_LENG,
        year,
        1,
        &[("HTX quế Tả Lèng", Some(OrgKind::Htx), None)],
    )
}

/// No open review item asks about `r`.
fn unasked(e: &Engine, r: &SourceRef) -> bool {
    !e.reviews()
        .any(|i| i.status == ReviewStatus::Open && &i.observation == r)
}

/// The 2024 report's entry is not the cooperative established in 2025, whichever arrives
/// first, and nobody is asked; the 2025 report's entry of the same name is.
#[test]
fn an_entry_of_a_year_before_the_registration_is_another_cooperative() {
    for weights in [Weights::legacy().clone(), Weights::prior()] {
        for (year, joins) in [(2024, false), (2025, true)] {
            for registry_first in [true, false] {
                let mut e = Engine::new();
                e.fix_weights(weights.clone());
                if registry_first {
                    registered_in_2025(&mut e);
                }
                e.ntm_report(&report(year), now());
                if !registry_first {
                    registered_in_2025(&mut e);
                }
                let entry = SourceRef::new("ntm", format!("{TA_LENG}:{year}:0"));
                assert_eq!(
                    same_identity(&e, &entry, "LM-1"),
                    joins,
                    "the {year} entry (registry first: {registry_first})"
                );
                assert!(unasked(&e, &entry), "the {year} entry is asked about");
            }
        }
    }
}

/// A loan disbursed in July 2024 was not lent to a cooperative established in 2025, and
/// nobody is asked; one disbursed in May 2025 was.
#[test]
fn a_loan_disbursed_before_the_registration_is_another_borrowers() {
    for weights in [Weights::legacy().clone(), Weights::prior()] {
        for (disbursed, joins) in [((2024, 7, 2), false), ((2025, 5, 20), true)] {
            let mut e = Engine::new();
            e.fix_weights(weights.clone());
            registered_in_2025(&mut e);
            let mut l = bare_loan("Q-1", "HTX KD DV quế Tả Lèng", "Tả Lèng, Tam Đường");
            let (y, m, d) = disbursed;
            l.disbursed_on = chrono::NaiveDate::from_ymd_opt(y, m, d);
            e.observe(Observation::from_loan(&l), now());
            let q1 = SourceRef::new("loan-fund", "Q-1");
            assert_eq!(
                same_identity(&e, &q1, "LM-1"),
                joins,
                "the loan disbursed {disbursed:?}"
            );
            assert!(
                unasked(&e, &q1),
                "the loan disbursed {disbursed:?} is asked about"
            );
        }
    }
}

/// The settle pass, which replays every record in its own order (registry records first),
/// keeps the rule.
#[test]
fn the_settle_pass_keeps_dates_apart() {
    let mut e = Engine::new();
    e.ntm_report(&report(2024), now());
    let address = "Tả Lèng, Tam Đường";
    e.observe(
        Observation::from_loan(&bare_loan("Q-1", "HTX KD DV quế Tả Lèng", address)),
        now(),
    );
    registered_in_2025(&mut e);
    e.settle(now());
    for r in [
        SourceRef::new("ntm", format!("{TA_LENG}:2024:0")),
        SourceRef::new("loan-fund", "Q-1"),
    ] {
        assert!(!same_identity(&e, &r, "LM-1"), "{r} joined LM-1");
    }
}

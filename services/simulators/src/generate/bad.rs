//! Deliberately invalid source records: a registry record, a loan or a report draft that
//! a reader must reject, each with the reason and the patches that break it.

use chrono::Datelike;
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{OrgStatus, ReportStatus};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::json;

use super::{EARLIEST_LOAN, Gen, stream, ymd};
use crate::world::{
    BadMark, NtmRevision, Patch, RegistryRecord, RegistrySubject, Subject, World, criteria_for,
};

impl Gen {
    pub(super) fn bad_records(&mut self, world: &mut World, n: usize) {
        self.rng = stream(self.seed, 4);
        for k in 0..n {
            let variant = k / 3;
            let done = match k % 3 {
                0 => false,
                1 => {
                    self.bad_loan(world, variant);
                    true
                }
                _ => self.bad_report(world, variant),
            };
            if !done {
                self.bad_registry(world, variant);
            }
        }
    }

    fn bad_registry(&mut self, world: &mut World, variant: usize) {
        let mut plan = self.new_plan(OrgKind::Htx);
        plan.place_is_village = true;
        let mut facts = self.facts(&plan, ymd(2016, 1, 1), ymd(2020, 12, 31));
        facts.status = OrgStatus::Dissolved;
        facts.farmers_union_supported = false;
        facts.origin = None;
        facts.rating = None;
        facts.enterprise_linkage = None;
        facts.key_officers = None;
        let (reason, patches) = match variant % 6 {
            0 => (
                "kind is not HTX, THT or LHHTX",
                vec![Patch::new(&["kind"], json!("XYZ"))],
            ),
            1 => (
                "established_on is not a date",
                vec![Patch::new(&["established_on"], json!("2024-02-30"))],
            ),
            2 => ("name is null", vec![Patch::new(&["name"], json!(null))]),
            3 => (
                "member_households is negative",
                vec![Patch::new(&["member_households"], json!(-4))],
            ),
            4 => (
                "commune_code and district_code are not Lai Châu units",
                vec![
                    Patch::new(&["commune_code"], json!("99999")),
                    Patch::new(&["district_code"], json!("999")),
                ],
            ),
            _ => (
                "established_on is not ISO 8601",
                vec![Patch::new(&["established_on"], json!("17/05/2019"))],
            ),
        };
        let updated_at = self.updated_at(facts.established_on);
        let id = world.new_registry_id();
        world.registry.push(RegistryRecord {
            id,
            subject: RegistrySubject::Junk(Box::new(facts)),
            updated_at,
            version: self.rng.random_range(1..=3),
            bad: Some(BadMark {
                reason: reason.into(),
                patches,
            }),
        });
    }

    fn bad_loan(&mut self, world: &mut World, variant: usize) {
        let today = self.today();
        let mut loan = self.loan(world, Subject::Nobody, EARLIEST_LOAN.min(today), today);
        let (reason, patches) = match variant % 6 {
            0 => (
                "disbursed_on is not a date",
                vec![Patch::new(&["disbursed_on"], json!("31/02/2024"))],
            ),
            1 => (
                "borrower.name is null",
                vec![Patch::new(&["borrower", "name"], json!(null))],
            ),
            2 => (
                "amount_vnd is not an integer",
                vec![Patch::new(&["amount_vnd"], json!("năm trăm triệu"))],
            ),
            3 => (
                "status is not a known status",
                vec![Patch::new(&["status"], json!("pending"))],
            ),
            4 => (
                "borrower_type is not a known type",
                vec![Patch::new(&["borrower_type"], json!("enterprise"))],
            ),
            _ => (
                "disbursed_on is not DD/MM/YYYY",
                vec![Patch::new(&["disbursed_on"], json!("2024-07-02"))],
            ),
        };
        loan.bad = Some(BadMark {
            reason: reason.into(),
            patches,
        });
        loan.loan_no = world.new_loan_no(loan.disbursed_on.year());
        world.loans.push(loan);
    }

    /// Appends a bad draft over a report (so the year's report is not counted whether the
    /// hub rejects the record or reads it as a draft). False when no report fits.
    fn bad_report(&mut self, world: &mut World, variant: usize) -> bool {
        let variant = variant % 4;
        let needs_entry = matches!(variant, 0 | 3);
        let candidates: Vec<usize> = world
            .reports
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.current().is_some_and(|c| {
                    c.bad.is_none() && (!needs_entry || !c.cooperatives.is_empty())
                })
            })
            .map(|(i, _)| i)
            .collect();
        let Some(&i) = candidates.choose(&mut self.rng) else {
            return false;
        };
        let (reason, patches) = match variant {
            0 => (
                "cooperatives[0].effective is not a boolean",
                vec![Patch::new(&["cooperatives", "0", "effective"], json!("có"))],
            ),
            1 => (
                "submitted_at is not a timestamp",
                vec![Patch::new(&["submitted_at"], json!("hôm qua"))],
            ),
            2 => (
                "criteria[0].met is not a boolean",
                vec![Patch::new(&["criteria", "0", "met"], json!("đạt"))],
            ),
            _ => (
                "cooperatives[0].members is not an integer",
                vec![Patch::new(
                    &["cooperatives", "0", "members"],
                    json!("mười hai"),
                )],
            ),
        };
        let (code, year, entries) = {
            let r = &world.reports[i];
            let entries = r
                .current()
                .map(|c| c.cooperatives.clone())
                .unwrap_or_default();
            (r.commune_code.clone(), r.year, entries)
        };
        for rev in &mut world.reports[i].revisions {
            rev.ever_current = false;
        }
        let entries = self.perturb(&entries);
        let entries = if needs_entry && entries.is_empty() {
            world.reports[i]
                .current()
                .map(|c| c.cooperatives.clone())
                .unwrap_or_default()
        } else {
            entries
        };
        let rev = NtmRevision {
            revision: 0,
            status: ReportStatus::Draft,
            criteria: criteria_for(&entries, &world.organisations),
            cooperatives: entries,
            submitted_at: None,
            ever_current: true,
            bad: Some(BadMark {
                reason: reason.into(),
                patches,
            }),
        };
        world.push_revision(&code, year, rev);
        true
    }
}

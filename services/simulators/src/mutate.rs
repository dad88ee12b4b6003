//! Change over time: new and edited registry records, new and edited loans, new report
//! revisions (including a draft after an approved one), stamped strictly after every
//! timestamp the world already carries, and reported exactly (system + source id).
//!
//! Owns [`MutationRequest`], [`MutationReport`] and [`World::mutate`]. The content of a
//! mutation is drawn from a ChaCha stream of the world's seed and the mutation's ordinal, so
//! the same sequence of requests gives the same changes; only the timestamps follow the wall
//! clock.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, Timelike};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{Grade, KeyOfficers, LoanStatus, OrgStatus, Rating, ReportStatus};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::generate::{Gen, stream};
use crate::vocab;
use crate::world::{
    NtmRevision, RegistrySubject, Representative, Subject, System, VN_OFFSET, World, criteria_for,
    local_text, rfc3339,
};

/// How many changes of each kind to make. Missing fields are 0.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MutationRequest {
    /// New organisations, each with a new registry record (`version` 1).
    pub new_cooperatives: usize,
    /// Existing registry records changed (`version` + 1, newer `updated_at`).
    pub edited_cooperatives: usize,
    /// New loans (disbursed today, status `disbursed`).
    pub new_loans: usize,
    /// Existing loans changed (status or purpose; newer `modified`).
    pub edited_loans: usize,
    /// New loans to live, Farmers'-Union-supported HTX in the registry that had no credit
    /// since the baseline, disbursed on the world's present date (the default as-of date of
    /// the truth) and modified now: each moves indicator I7 by one.
    #[serde(default)]
    pub credit_uncredited_htx: usize,
    /// New revisions of existing reports; when any report's current revision is approved,
    /// the first of them is a new draft over an approved revision.
    pub report_revisions: usize,
}

/// Upper bound of each count in one request.
pub const MAX_PER_KIND: usize = 10_000;

/// How a record changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    /// A new revision of an NTM report.
    Revised,
}

/// One changed source record, with the marker a sync will see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `coop-alliance`, `loan-fund` or `ntm`.
    pub system: String,
    /// Registry id, loan number, or `{commune_code}:{year}` for a report.
    pub id: String,
    pub change: ChangeKind,
    /// Registry: the new `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Registry: the new `updated_at` (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Loans: the new `modified` (local text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Reports: the new `revision` and its `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ReportStatus>,
}

/// What a mutation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutationReport {
    /// The timestamp every change carries (RFC 3339, +07:00).
    pub at: String,
    /// The mutation's ordinal (1 for the first).
    pub mutation: u64,
    pub changes: Vec<Change>,
}

/// The change report of a loan created by a mutation.
fn loan_created(loan_no: String, local: &chrono::NaiveDateTime) -> Change {
    Change {
        system: System::LoanFund.as_str().into(),
        id: loan_no,
        change: ChangeKind::Created,
        version: None,
        updated_at: None,
        modified: Some(local_text(local)),
        revision: None,
        status: None,
    }
}

impl World {
    /// Adds `loan` as disbursed, modified at `local`, under a new loan number of `year`;
    /// returns the number.
    fn push_new_loan(
        &mut self,
        mut loan: crate::world::Loan,
        local: chrono::NaiveDateTime,
        year: i32,
    ) -> String {
        loan.status = LoanStatus::Disbursed;
        loan.modified = local;
        loan.loan_no = self.new_loan_no(year);
        let loan_no = loan.loan_no.clone();
        self.loans.push(loan);
        loan_no
    }

    /// Applies a mutation stamped at `wall_now` (or one second after the latest timestamp
    /// in the world, if that is later), returning exactly which source records changed.
    pub fn mutate(
        &mut self,
        req: &MutationRequest,
        wall_now: DateTime<FixedOffset>,
    ) -> Result<MutationReport, SimError> {
        for (name, n) in [
            ("new_cooperatives", req.new_cooperatives),
            ("edited_cooperatives", req.edited_cooperatives),
            ("new_loans", req.new_loans),
            ("edited_loans", req.edited_loans),
            ("credit_uncredited_htx", req.credit_uncredited_htx),
            ("report_revisions", req.report_revisions),
        ] {
            if n > MAX_PER_KIND {
                return Err(SimError::InvalidParam(format!(
                    "{name} is {n}, at most {MAX_PER_KIND}"
                )));
            }
        }
        // the world's present before this mutation: the date the truth is computed as of
        // by default
        let present = self.clock().date_naive();
        let wall = wall_now.with_timezone(&VN_OFFSET);
        let wall = wall.with_nanosecond(0).unwrap_or(wall);
        let at = wall.max(self.clock() + chrono::Duration::seconds(1));
        self.mutations += 1;
        let rng = stream(self.seed, 1000 + self.mutations);
        let mut m = Mutation {
            g: Gen::for_world(self, rng, at),
            at,
            present,
            changes: Vec::new(),
            created_registry: BTreeSet::new(),
            created_loans: BTreeSet::new(),
        };
        self.new_cooperatives(&mut m, req.new_cooperatives);
        self.edit_cooperatives(&mut m, req.edited_cooperatives);
        self.new_loans(&mut m, req.new_loans);
        self.credit_uncredited_htx(&mut m, req.credit_uncredited_htx);
        self.edit_loans(&mut m, req.edited_loans);
        self.revise_reports(&mut m, req.report_revisions);
        Ok(MutationReport {
            at: rfc3339(&at),
            mutation: self.mutations,
            changes: m.changes,
        })
    }

    fn new_cooperatives(&mut self, m: &mut Mutation, n: usize) {
        let (at, today) = (m.at, m.at.date_naive());
        for _ in 0..n {
            let facts = m.g.new_organisation_facts(today - Days::new(30), today);
            let idx = self.add_organisation(facts, Some((at, 1)));
            if let Some(id) = self.organisations[idx].registry_id.clone() {
                m.created_registry.insert(id.clone());
                m.changes.push(Change {
                    system: System::CoopAlliance.as_str().into(),
                    id,
                    change: ChangeKind::Created,
                    version: Some(1),
                    updated_at: Some(rfc3339(&at)),
                    modified: None,
                    revision: None,
                    status: None,
                });
            }
        }
    }

    fn edit_cooperatives(&mut self, m: &mut Mutation, n: usize) {
        let at = m.at;
        let editable: Vec<usize> = self
            .registry
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.bad.is_none()
                    && matches!(r.subject, RegistrySubject::Org(_))
                    && !m.created_registry.contains(&r.id)
            })
            .map(|(i, _)| i)
            .collect();
        let n = n.min(editable.len());
        let mut picks: Vec<usize> = rand::seq::index::sample(&mut m.g.rng, editable.len(), n)
            .into_iter()
            .map(|k| editable[k])
            .collect();
        picks.sort_unstable();
        for ri in picks {
            let RegistrySubject::Org(oi) = self.registry[ri].subject else {
                continue;
            };
            edit_org(&mut m.g, &mut self.organisations[oi].facts, at.year());
            let rec = &mut self.registry[ri];
            rec.version += 1;
            rec.updated_at = at;
            m.changes.push(Change {
                system: System::CoopAlliance.as_str().into(),
                id: rec.id.clone(),
                change: ChangeKind::Updated,
                version: Some(rec.version),
                updated_at: Some(rfc3339(&at)),
                modified: None,
                revision: None,
                status: None,
            });
        }
    }

    fn new_loans(&mut self, m: &mut Mutation, n: usize) {
        let (local, today) = (m.at.naive_local(), m.at.date_naive());
        for _ in 0..n {
            let registered: Vec<usize> = self
                .organisations
                .iter()
                .enumerate()
                .filter(|(_, o)| o.registry_id.is_some())
                .map(|(i, _)| i)
                .collect();
            let subject = match registered.choose(&mut m.g.rng) {
                Some(&i) if m.g.rng.random_bool(0.7) => Subject::Org(i),
                _ => household_for_mutation(&mut m.g, self),
            };
            let loan = m.g.loan(self, subject, today, today);
            let loan_no = self.push_new_loan(loan, local, today.year());
            m.changes.push(loan_created(loan_no.clone(), &local));
            m.created_loans.insert(loan_no);
        }
    }

    /// Targeted new loans: supported live HTX without credit since the baseline.
    fn credit_uncredited_htx(&mut self, m: &mut Mutation, n: usize) {
        let (local, today, present) = (m.at.naive_local(), m.at.date_naive(), m.present);
        for _ in 0..n {
            let has_credit = |w: &World, idx: usize| {
                w.loans.iter().any(|l| {
                    l.bad.is_none()
                        && l.subject == Subject::Org(idx)
                        && l.status != LoanStatus::Cancelled
                        && l.disbursed_on >= crate::DEFAULT_BASELINE
                        && l.disbursed_on <= present
                })
            };
            let Some(i) = (0..self.organisations.len()).find(|&i| {
                let o = &self.organisations[i];
                let f = &o.facts;
                o.registry_id.is_some()
                    && f.kind == hub_contracts::v1::OrgKind::Htx
                    && f.farmers_union_supported
                    && f.status != hub_contracts::v1::OrgStatus::Dissolved
                    && f.established_on <= present
                    && !has_credit(self, i)
            }) else {
                break;
            };
            let loan = m.g.loan(self, Subject::Org(i), present, present);
            let loan_no = self.push_new_loan(loan, local, today.year());
            m.changes.push(loan_created(loan_no.clone(), &local));
            m.created_loans.insert(loan_no);
        }
    }

    fn edit_loans(&mut self, m: &mut Mutation, n: usize) {
        let local = m.at.naive_local();
        let editable: Vec<usize> = self
            .loans
            .iter()
            .enumerate()
            .filter(|(_, l)| l.bad.is_none() && !m.created_loans.contains(&l.loan_no))
            .map(|(i, _)| i)
            .collect();
        let n = n.min(editable.len());
        let mut picks: Vec<usize> = rand::seq::index::sample(&mut m.g.rng, editable.len(), n)
            .into_iter()
            .map(|k| editable[k])
            .collect();
        picks.sort_unstable();
        for li in picks {
            let loan = &mut self.loans[li];
            loan.status = match loan.status {
                LoanStatus::Disbursed if m.g.rng.random_bool(0.5) => LoanStatus::Repaid,
                LoanStatus::Disbursed => LoanStatus::Overdue,
                LoanStatus::Overdue => LoanStatus::Repaid,
                other => {
                    loan.purpose = format!("{} (điều chỉnh)", loan.purpose);
                    other
                }
            };
            loan.modified = local;
            m.changes.push(Change {
                system: System::LoanFund.as_str().into(),
                id: loan.loan_no.clone(),
                change: ChangeKind::Updated,
                version: None,
                updated_at: None,
                modified: Some(local_text(&local)),
                revision: None,
                status: None,
            });
        }
    }

    /// New revisions of `n` reports; the first over an approved revision, when there is one.
    fn revise_reports(&mut self, m: &mut Mutation, n: usize) {
        let n = n.min(self.reports.len());
        if n == 0 {
            return;
        }
        let approved: Vec<usize> = self
            .reports
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.current()
                    .is_some_and(|c| c.status == ReportStatus::Approved && c.bad.is_none())
            })
            .map(|(i, _)| i)
            .collect();
        let mut picks: Vec<usize> = Vec::with_capacity(n);
        if let Some(&first) = approved.choose(&mut m.g.rng) {
            picks.push(first);
        }
        let rest: Vec<usize> = (0..self.reports.len())
            .filter(|i| !picks.contains(i))
            .collect();
        let more = (n - picks.len()).min(rest.len());
        picks.extend(
            rand::seq::index::sample(&mut m.g.rng, rest.len(), more)
                .into_iter()
                .map(|k| rest[k]),
        );
        for (k, ri) in picks.into_iter().enumerate() {
            self.revise_report(m, k == 0, ri);
        }
    }

    /// A new revision of report `ri` (`first`: the promised draft over an approved one).
    fn revise_report(&mut self, m: &mut Mutation, first: bool, ri: usize) {
        let (code, year, current) = {
            let r = &self.reports[ri];
            (r.commune_code.clone(), r.year, r.current().cloned())
        };
        let Some(current) = current else { return };
        let g = &mut m.g;
        let status = match current.status {
            // the first pick is the promised draft over an approved revision
            ReportStatus::Approved if first => ReportStatus::Draft,
            ReportStatus::Approved if g.rng.random_bool(0.5) => ReportStatus::Draft,
            ReportStatus::Approved => ReportStatus::Submitted,
            ReportStatus::Submitted => ReportStatus::Approved,
            ReportStatus::Draft if g.rng.random_bool(0.6) => ReportStatus::Submitted,
            ReportStatus::Draft => ReportStatus::Approved,
        };
        let mut entries = current.cooperatives.clone();
        let listed: BTreeSet<usize> = entries.iter().map(|e| e.org).collect();
        let unlisted: Vec<usize> = self
            .organisations
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                self.commune_in_year(*i, year) == Some(code.as_str())
                    && o.facts.kind != OrgKind::Lhhtx
                    && !listed.contains(i)
                    && o.facts.established_on.year() <= year
            })
            .map(|(i, _)| i)
            .collect();
        if let Some(&org) = unlisted.choose(&mut g.rng)
            && g.rng.random_bool(0.4)
        {
            let mut used: BTreeSet<String> = entries
                .iter()
                .map(|e| vocab::fold(&e.name).to_lowercase())
                .collect();
            let entry = g.entry(self, org, year, &mut used);
            entries.push(entry);
        } else if !entries.is_empty() {
            let i = g.rng.random_range(0..entries.len());
            entries[i].effective = !entries[i].effective;
        }
        let rev = NtmRevision {
            revision: 0,
            status,
            criteria: criteria_for(&entries, &self.organisations),
            cooperatives: entries,
            submitted_at: (status != ReportStatus::Draft).then_some(m.at),
            ever_current: true,
            bad: None,
        };
        self.push_revision(&code, year, rev);
        let revision = self
            .report(&code, year)
            .and_then(|r| r.current())
            .map(|c| c.revision);
        m.changes.push(Change {
            system: System::Ntm.as_str().into(),
            id: format!("{code}:{year}"),
            change: ChangeKind::Revised,
            version: None,
            updated_at: None,
            modified: None,
            revision,
            status: Some(status),
        });
    }
}

/// One mutation while it is applied: its draws, its stamp, the world's present before it,
/// and what it changed so far.
struct Mutation {
    g: Gen,
    at: DateTime<FixedOffset>,
    present: NaiveDate,
    changes: Vec<Change>,
    created_registry: BTreeSet<String>,
    created_loans: BTreeSet<String>,
}

fn household_for_mutation(g: &mut Gen, world: &mut World) -> Subject {
    let commune = world
        .organisations
        .choose(&mut g.rng)
        .map(|o| (o.facts.commune_code.clone(), o.facts.village.clone()));
    let (code, village) = commune.unwrap_or_else(|| ("03421".into(), "Nà Khương".into()));
    let name = vocab::person_name(&mut g.rng);
    let phone = Some(vocab::phone(&mut g.rng));
    Subject::Household(world.add_household(&name, &code, &village, phone))
}

/// One visible change to an organisation's registry facts.
fn edit_org(g: &mut Gen, f: &mut crate::world::OrgFacts, year: i32) {
    match g.rng.random_range(0..6) {
        0 => f.member_households += g.rng.random_range(1..=5),
        1 if f.status != OrgStatus::Dissolved => {
            f.status = match f.status {
                OrgStatus::Active => OrgStatus::Suspended,
                _ => OrgStatus::Active,
            }
        }
        2 => {
            let grades = [Grade::Good, Grade::Fair, Grade::Average, Grade::Weak];
            let old = f.rating.map(|r| r.grade);
            let grade = grades
                .iter()
                .copied()
                .filter(|g| Some(*g) != old)
                .collect::<Vec<_>>()
                .choose(&mut g.rng)
                .copied()
                .unwrap_or(Grade::Fair);
            f.rating = Some(Rating {
                year: (year - 1).max(f.established_on.year()),
                grade,
            });
        }
        3 => {
            f.key_officers = Some(match f.key_officers {
                Some(k) if k.trained < k.total => KeyOfficers {
                    total: k.total,
                    trained: k.trained + 1,
                },
                Some(k) => KeyOfficers {
                    total: k.total + 1,
                    trained: k.trained,
                },
                None => KeyOfficers {
                    total: 5,
                    trained: 2,
                },
            })
        }
        4 => f.enterprise_linkage = Some(f.enterprise_linkage != Some(true)),
        _ => {
            let phone = vocab::phone(&mut g.rng);
            match &mut f.representative {
                Some(r) => r.phone = Some(phone),
                None => {
                    f.representative = Some(Representative {
                        full_name: Some(vocab::person_name(&mut g.rng)),
                        phone: Some(phone),
                    })
                }
            }
        }
    }
}

//! The feed: a world's current, well-formed source records converted as an adapter would
//! (see [`super`]), the engine's inputs in a chosen order, and the run that feeds them.
//!
//! Part of the accuracy harness; reads the world, never its truth.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveTime, Utc};
use hub_contracts::v1::{
    Borrower, LoanDisbursement, NtmCommuneReport, NtmCooperativeEntry, Person, RegistryCooperative,
    SourceMeta, SourceRef,
};
use hub_normalise::{phone, taxcode};
use hub_simulators::world::{RegistrySubject, System, World, local_to_fixed};
use serde::Serialize;

use crate::engine::Engine;
use crate::engine::features::{self, Prepared};
use crate::engine::observation::{Observation, ntm_entry_id};

/// In which order the world's records reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FeedOrder {
    /// By the time each source last changed the record (what a hub syncing all along sees).
    Time,
    /// Registry first, then loans, then NTM reports.
    RegistryFirst,
    /// Loans, then NTM reports, then the registry (the hardest: identities formed from
    /// noisy records first, linked by the registry later).
    RegistryLast,
    /// The settle pass's order: the registry, loans, then NTM reports, each by id (what the
    /// engine's identities end as, whatever the order records came in).
    Canonical,
}

impl FeedOrder {
    /// The flag value that names this order (what [`str::parse`] reads back).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedOrder::Time => "time",
            FeedOrder::RegistryFirst => "registry-first",
            FeedOrder::RegistryLast => "registry-last",
            FeedOrder::Canonical => "canonical",
        }
    }
}

impl std::str::FromStr for FeedOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const ALL: [FeedOrder; 4] = [
            FeedOrder::Time,
            FeedOrder::RegistryFirst,
            FeedOrder::RegistryLast,
            FeedOrder::Canonical,
        ];
        ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| {
            format!("unknown order {s:?}: time, registry-first, registry-last or canonical")
        })
    }
}

/// One input of the engine.
#[derive(Debug, Clone)]
pub enum FeedItem {
    Observation(Box<Observation>),
    Report(Box<NtmCommuneReport>),
}

fn meta(system: &str, id: &str, fetched_at: DateTime<FixedOffset>) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at,
        content_hash: String::new(),
        raw: serde_json::Value::Null,
        issues: Vec::new(),
    }
}

/// The world's current, well-formed source records as the adapters publish them: registry
/// records, loans and NTM reports (every revision served, as a hub polling all along saw
/// them: the indicators count the highest submitted one; the engine reads the current one).
#[derive(Debug, Clone, Default)]
pub struct WorldContracts {
    pub registry: Vec<RegistryCooperative>,
    pub loans: Vec<LoanDisbursement>,
    /// The current revision of every report.
    pub reports: Vec<NtmCommuneReport>,
    /// Every revision of every report, the current one included.
    pub revisions: Vec<NtmCommuneReport>,
}

/// The world's records converted as an adapter would (see the module documentation).
pub fn world_contracts(world: &World) -> WorldContracts {
    let (reports, revisions) = report_revisions(world);
    WorldContracts {
        registry: registry_records(world),
        loans: loans(world),
        reports,
        revisions,
    }
}

/// The registry's well-formed records.
fn registry_records(world: &World) -> Vec<RegistryCooperative> {
    let mut out = Vec::new();
    for rec in &world.registry {
        if rec.bad.is_some() {
            continue;
        }
        let f = match &rec.subject {
            RegistrySubject::Org(i) => &world.organisations[*i].facts,
            RegistrySubject::Junk(f) => f,
        };
        out.push(RegistryCooperative {
            meta: meta(System::CoopAlliance.as_str(), &rec.id, rec.updated_at),
            registration_code: f.registration_code.clone(),
            kind: f.kind,
            name: f.name.clone(),
            commune_code: Some(f.commune_code.clone()),
            district_code: Some(f.district_code.clone()),
            address: Some(f.address.clone()),
            representative: f.representative.as_ref().map(|p| Person {
                full_name: p.full_name.clone(),
                phone: p.phone.as_deref().and_then(phone::to_e164),
            }),
            established_on: Some(f.established_on),
            status: Some(f.status),
            member_households: Some(f.member_households),
            farmers_union_supported: Some(f.farmers_union_supported),
            origin: f.origin,
            rating: f.rating,
            enterprise_linkage: f.enterprise_linkage,
            key_officers: f.key_officers,
            updated_at: rec.updated_at,
            version: rec.version,
        });
    }
    out
}

/// The loan fund's well-formed loans.
fn loans(world: &World) -> Vec<LoanDisbursement> {
    let mut out = Vec::new();
    for loan in &world.loans {
        if loan.bad.is_some() {
            continue;
        }
        let modified = local_to_fixed(&loan.modified);
        let b = &loan.borrower;
        out.push(LoanDisbursement {
            meta: meta(System::LoanFund.as_str(), &loan.loan_no, modified),
            loan_no: loan.loan_no.clone(),
            borrower: Borrower {
                name: b.name.clone(),
                tax_code: b.tax_code.as_deref().and_then(taxcode::clean),
                address: Some(b.address.clone()),
                legal_rep: b.legal_rep.clone(),
                phone: b.phone.as_deref().and_then(phone::to_e164),
            },
            borrower_type: loan.borrower_type,
            amount_vnd: loan.amount_vnd,
            disbursed_on: Some(loan.disbursed_on),
            term_months: Some(loan.term_months),
            purpose: Some(loan.purpose.clone()),
            status: loan.status,
            modified,
        });
    }
    out
}

/// The current revision of every report, and every revision served.
fn report_revisions(world: &World) -> (Vec<NtmCommuneReport>, Vec<NtmCommuneReport>) {
    let (mut reports, mut revisions) = (Vec::new(), Vec::new());
    let reference = hub_normalise::reference::Reference::get();
    for rep in &world.reports {
        let n = rep.revisions.len();
        for (k, rev) in rep.revisions.iter().enumerate() {
            // a revision replaced before anyone read it was never served
            if rev.bad.is_some() || !rev.ever_current {
                continue;
            }
            let at = rev.submitted_at.unwrap_or_else(|| {
                let d = chrono::NaiveDate::from_ymd_opt(rep.year, 12, 31)
                    .unwrap_or_default()
                    .and_time(NaiveTime::MIN);
                local_to_fixed(&d)
            });
            let commune = reference.commune_2024(&rep.commune_code);
            let report = NtmCommuneReport {
                meta: meta(System::Ntm.as_str(), &rep.id(), at),
                commune_code: rep.commune_code.clone(),
                commune_name: commune.map(|c| c.commune_name.clone()),
                district_name: commune.map(|c| c.district_name.clone()),
                year: rep.year,
                revision: rev.revision,
                status: rev.status,
                criteria: rev.criteria.clone(),
                cooperatives: rev
                    .cooperatives
                    .iter()
                    .enumerate()
                    .map(|(i, e)| NtmCooperativeEntry {
                        source_id: ntm_entry_id(&rep.commune_code, rep.year, i as u32),
                        index: i as u32,
                        name: e.name.clone(),
                        kind: e.kind,
                        representative: e.representative.clone(),
                        members: e.members,
                        effective: e.effective,
                        linked_with_enterprise: e.linked_with_enterprise,
                    })
                    .collect(),
                submitted_at: rev.submitted_at,
            };
            if k + 1 == n {
                reports.push(report.clone());
            }
            revisions.push(report);
        }
    }
    (reports, revisions)
}

/// Every current, well-formed source record of the world, as contracts, in `order`.
pub fn world_feed(world: &World, order: FeedOrder) -> Vec<FeedItem> {
    feed_of(&world_contracts(world), order)
}

/// The engine's inputs from a world's contracts, in `order` (ties by time, then id).
pub fn feed_of(c: &WorldContracts, order: FeedOrder) -> Vec<FeedItem> {
    let mut items: Vec<(u8, DateTime<FixedOffset>, String, FeedItem)> = Vec::new();
    for r in &c.registry {
        items.push((
            0,
            r.updated_at,
            r.meta.source.id.clone(),
            FeedItem::Observation(Box::new(Observation::from_registry(r))),
        ));
    }
    for l in &c.loans {
        items.push((
            1,
            l.modified,
            l.loan_no.clone(),
            FeedItem::Observation(Box::new(Observation::from_loan(l))),
        ));
    }
    for r in &c.reports {
        items.push((
            2,
            r.meta.fetched_at,
            r.meta.source.id.clone(),
            FeedItem::Report(Box::new(r.clone())),
        ));
    }
    match order {
        FeedOrder::Time => items.sort_by(|a, b| (a.1, a.0, &a.2).cmp(&(b.1, b.0, &b.2))),
        FeedOrder::RegistryFirst => items.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2))),
        FeedOrder::Canonical => items.sort_by(|a, b| (a.0, &a.2).cmp(&(b.0, &b.2))),
        FeedOrder::RegistryLast => {
            items.sort_by(|a, b| ((a.0 + 2) % 3, a.1, &a.2).cmp(&((b.0 + 2) % 3, b.1, &b.2)))
        }
    }
    items.into_iter().map(|(_, _, _, i)| i).collect()
}

/// Items read ahead together, as the service's batches of source records (`BATCH_SIZE`).
const BATCH: usize = 256;

/// Feeds every item to the engine; returns how many observations went in and how long the
/// engine took (each batch's records read on every core while the batch before is resolved,
/// then resolved in turn).
pub fn run(engine: &mut Engine, feed: Vec<FeedItem>, now: DateTime<Utc>) -> (usize, Duration) {
    run_traced(engine, feed, now, |_, _| {})
}

/// A batch of items with their records read ([`features::prepare`], on every core).
fn read_batch(batch: Vec<FeedItem>) -> Vec<(FeedItem, Vec<Prepared>)> {
    use rayon::prelude::*;
    let read: Vec<Vec<Prepared>> = batch
        .par_iter()
        .map(|item| match item {
            FeedItem::Observation(o) => vec![features::prepare(o)],
            FeedItem::Report(r) => features::prepare_report(r),
        })
        .collect();
    batch.into_iter().zip(read).collect()
}

/// [`run`], handing each operation's changes to `trace` (with the engine after it).
pub fn run_traced(
    engine: &mut Engine,
    feed: Vec<FeedItem>,
    now: DateTime<Utc>,
    mut trace: impl FnMut(&Engine, &crate::engine::Changes) + Send,
) -> (usize, Duration) {
    let mut n = 0;
    let start = Instant::now();
    let mut feed = feed.into_iter();
    let mut ready = read_batch(feed.by_ref().take(BATCH).collect());
    while !ready.is_empty() {
        // as the service takes batches: the next one is read while this one is resolved
        let upcoming: Vec<FeedItem> = feed.by_ref().take(BATCH).collect();
        let current = std::mem::take(&mut ready);
        let ((), read) = rayon::join(
            || {
                for (item, prepared) in current {
                    let ch = match item {
                        FeedItem::Observation(o) => {
                            n += 1;
                            match prepared.into_iter().next() {
                                Some(p) => engine.observe_prepared(*o, p, now),
                                None => engine.observe(*o, now),
                            }
                        }
                        FeedItem::Report(r) => {
                            n += r.cooperatives.len();
                            engine.ntm_report_prepared(&r, prepared, now)
                        }
                    };
                    trace(engine, &ch);
                }
            },
            || read_batch(upcoming),
        );
        ready = read;
    }
    (n, start.elapsed())
}

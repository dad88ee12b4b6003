//! Observations: what one source record says about one organisation, in the compact form the
//! engine keeps in memory (and the service stores, one row per source reference).
//!
//! Owns the conversion from the published source contracts (`source.cooperative.v1`,
//! `source.disbursement.v1`, the entries of `source.ntm_report.v1`, and the HTX/THT a
//! converted branch of `source.fu_branch.v1` became) into [`Observation`]s.
//! Keeps only what matching and survivorship need: no amounts, no raw payloads. Knows
//! nothing of scoring, storage or messaging.

use chrono::{DateTime, FixedOffset, NaiveDate};
use hub_contracts::v1::{
    BorrowerType, BranchStatus, FuBranch, KeyOfficers, LoanDisbursement, NtmCommuneReport,
    NtmCooperativeEntry, OrgKind, OrgStatus, Origin, Rating, RegistryCooperative, SourceRef,
};
use serde::{Deserialize, Serialize};

/// Which kind of source record an observation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationKind {
    /// A Cooperative Alliance registry record: authoritative.
    Registry,
    /// A loan-fund disbursement's borrower.
    Loan,
    /// One cooperative listed in a commune's NTM report; also the HTX/THT a Farmers' Union
    /// branch became (see [`Observation::from_fu_conversion`]): a name a commune-level
    /// body writes, often short, placed by its commune code, in no report.
    NtmEntry,
}

/// The registry facts survivorship copies into a golden record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistryFacts {
    pub established_on: Option<NaiveDate>,
    pub status: Option<OrgStatus>,
    pub member_households: Option<u32>,
    pub farmers_union_supported: Option<bool>,
    pub origin: Option<Origin>,
    pub rating: Option<Rating>,
    pub enterprise_linkage: Option<bool>,
    pub key_officers: Option<KeyOfficers>,
    pub version: u64,
}

/// Where an NTM entry sits: its report and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NtmPosition {
    pub commune_code: String,
    pub year: i32,
    pub revision: u32,
    pub index: u32,
    pub members: Option<u32>,
    pub effective: bool,
    pub linked_with_enterprise: Option<bool>,
}

/// One observation of an organisation (or of a household, which the engine keeps out of
/// scope). Personal data (`representative`, `phone`) is kept for matching and golden records
/// only; it never reaches the log unmasked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub source: SourceRef,
    pub kind: ObservationKind,
    /// The name as the source gave it.
    pub name: String,
    /// The kind the source declared (registry kind, NTM entry kind, loan borrower type).
    pub declared_kind: Option<OrgKind>,
    /// For loans: the borrower type.
    pub borrower_type: Option<BorrowerType>,
    /// Digits as the source gave them (cleaned again by the engine).
    pub registration_code: Option<String>,
    pub commune_code: Option<String>,
    pub district_code: Option<String>,
    pub address: Option<String>,
    /// Personal data.
    pub representative: Option<String>,
    /// Personal data; E.164 when the adapter could read it.
    pub phone: Option<String>,
    /// When the source last changed the record (registry `updated_at`, loan `modified`, NTM
    /// `submitted_at`); orders observations for survivorship.
    pub observed_at: Option<DateTime<FixedOffset>>,
    pub registry: Option<Box<RegistryFacts>>,
    pub ntm: Option<NtmPosition>,
    /// For a loan: the day it was disbursed (the borrower existed then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disbursed_on: Option<NaiveDate>,
}

impl Observation {
    /// A registry record.
    pub fn from_registry(r: &RegistryCooperative) -> Observation {
        Observation {
            source: r.meta.source.clone(),
            kind: ObservationKind::Registry,
            name: r.name.clone(),
            declared_kind: Some(r.kind),
            borrower_type: None,
            registration_code: r.registration_code.clone(),
            commune_code: r.commune_code.clone(),
            district_code: r.district_code.clone(),
            address: r.address.clone(),
            representative: r.representative.as_ref().and_then(|p| p.full_name.clone()),
            phone: r.representative.as_ref().and_then(|p| p.phone.clone()),
            observed_at: Some(r.updated_at),
            registry: Some(Box::new(RegistryFacts {
                established_on: r.established_on,
                status: r.status,
                member_households: r.member_households,
                farmers_union_supported: r.farmers_union_supported,
                origin: r.origin,
                rating: r.rating,
                enterprise_linkage: r.enterprise_linkage,
                key_officers: r.key_officers,
                version: r.version,
            })),
            ntm: None,
            disbursed_on: None,
        }
    }

    /// A loan's borrower.
    pub fn from_loan(l: &LoanDisbursement) -> Observation {
        Observation {
            source: l.meta.source.clone(),
            kind: ObservationKind::Loan,
            name: l.borrower.name.clone(),
            declared_kind: match l.borrower_type {
                BorrowerType::CooperativeGroup => Some(OrgKind::Tht),
                BorrowerType::Cooperative | BorrowerType::Household => None,
            },
            borrower_type: Some(l.borrower_type),
            registration_code: l.borrower.tax_code.clone(),
            commune_code: None,
            district_code: None,
            address: l.borrower.address.clone(),
            representative: l.borrower.legal_rep.clone(),
            phone: l.borrower.phone.clone(),
            observed_at: Some(l.modified),
            registry: None,
            ntm: None,
            disbursed_on: l.disbursed_on,
        }
    }

    /// One entry of an NTM report revision. Its source id is `{commune_code}:{year}:{index}`
    /// whatever the entry carries, so that a report's entries are named the same way by
    /// every adapter.
    pub fn from_ntm_entry(report: &NtmCommuneReport, e: &NtmCooperativeEntry) -> Observation {
        let reference = hub_normalise::reference::Reference::loaded();
        let district = reference
            .commune_2024(&report.commune_code)
            .map(|c| c.district_code.clone());
        Observation {
            source: SourceRef::new(
                report.meta.source.system.clone(),
                ntm_entry_id(&report.commune_code, report.year, e.index),
            ),
            kind: ObservationKind::NtmEntry,
            name: e.name.clone(),
            declared_kind: e.kind,
            borrower_type: None,
            registration_code: None,
            commune_code: Some(report.commune_code.clone()),
            district_code: district,
            address: None,
            representative: e.representative.clone(),
            phone: None,
            observed_at: report.submitted_at,
            registry: None,
            ntm: Some(NtmPosition {
                commune_code: report.commune_code.clone(),
                year: report.year,
                revision: report.revision,
                index: e.index,
                members: e.members,
                effective: e.effective,
                linked_with_enterprise: e.linked_with_enterprise,
            }),
            disbursed_on: None,
        }
    }

    /// The HTX or THT a converted Farmers' Union branch became (`chuyen_thanh_*`), or `None`
    /// when the record names none (a branch active or dissolved, or retracted by a later
    /// workbook: its observation, if any, is withdrawn).
    ///
    /// The source is the branch's own (`farmers-union`, `{sender}:{code}`), so the
    /// provincial and a district workbook listing one branch are two observations of one
    /// organisation. It is matched as the commune-level listing it is (kind
    /// [`ObservationKind::NtmEntry`], without a report): a name the Union writes as a commune
    /// writes it (a short form is forgiven, a different word is not), the declared kind
    /// (`HTX`/`THT`), the branch's commune (2024 list) and district, and the registration
    /// code when the Union knows it (equal codes are the certain rule). No person, no NTM
    /// position: survivorship takes nothing else from it.
    pub fn from_fu_conversion(b: &FuBranch) -> Option<Observation> {
        let c = b.converted_to.as_ref()?;
        if b.retracted || b.status != BranchStatus::Converted || c.name.trim().is_empty() {
            return None;
        }
        Some(Observation {
            source: b.meta.source.clone(),
            kind: ObservationKind::NtmEntry,
            name: c.name.clone(),
            declared_kind: Some(c.kind),
            borrower_type: None,
            registration_code: c.registration_code.clone().filter(|r| !r.is_empty()),
            commune_code: Some(b.commune_code.clone()),
            district_code: Some(b.district_code.clone()),
            address: None,
            representative: None,
            phone: None,
            observed_at: Some(b.meta.fetched_at),
            registry: None,
            ntm: None,
            disbursed_on: None,
        })
    }

    /// Whether this observation is outside the hub's scope (a household borrower).
    pub fn out_of_scope(&self) -> bool {
        self.borrower_type == Some(BorrowerType::Household)
    }

    /// Whether the matching-relevant content equals `other`'s (a change elsewhere only
    /// refreshes the golden record).
    pub fn same_match_content(&self, other: &Observation) -> bool {
        self.name == other.name
            && self.declared_kind == other.declared_kind
            && self.borrower_type == other.borrower_type
            && self.registration_code == other.registration_code
            && self.commune_code == other.commune_code
            && self.district_code == other.district_code
            && self.address == other.address
            && self.representative == other.representative
            && self.phone == other.phone
            && self.active_on() == other.active_on()
            && self.established_on() == other.established_on()
    }

    /// A day the record shows the organisation active: the last day of an NTM report's year
    /// (a report lists the cooperatives active in its commune that year), a loan's
    /// disbursement day.
    pub fn active_on(&self) -> Option<NaiveDate> {
        self.ntm
            .as_ref()
            .and_then(|p| NaiveDate::from_ymd_opt(p.year, 12, 31))
            .or(self.disbursed_on)
    }

    /// For a registry record: the day its cooperative was established.
    pub fn established_on(&self) -> Option<NaiveDate> {
        self.registry.as_ref().and_then(|r| r.established_on)
    }
}

/// The source id of an NTM entry: `{commune_code}:{year}:{index}`.
pub fn ntm_entry_id(commune_code: &str, year: i32, index: u32) -> String {
    format!("{commune_code}:{year}:{index}")
}

/// The id of an NTM report: `{commune_code}:{year}`.
pub fn ntm_report_id(commune_code: &str, year: i32) -> String {
    format!("{commune_code}:{year}")
}

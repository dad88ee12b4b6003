//! Source-record contracts: what one source system said about one record.
//!
//! Adapters (and agency systems pushing instead of being polled) publish these on the
//! `coophub.source` exchange. Values are normalised only where the reading is certain (dates
//! to ISO 8601, local times with an explicit `+07:00`, phones to E.164, tax codes to digits);
//! anything doubtful is kept as the source gave it and listed in `meta.issues`.

use chrono::{DateTime, FixedOffset, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{OrgKind, Person, SourceMeta};

/// Registry status of a cooperative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgStatus {
    Active,
    Suspended,
    Dissolved,
}

/// How an organisation came to be, per the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    New,
    /// Grew out of a Farmers' Union professional branch or group.
    ProfessionalBranch,
    ConvertedTht,
}

/// Annual rating grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    Good,
    Fair,
    Average,
    Weak,
}

/// Latest annual rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Rating {
    pub year: i32,
    pub grade: Grade,
}

/// Key officers and how many of them were trained (`trained <= total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct KeyOfficers {
    pub total: u32,
    pub trained: u32,
}

/// `source.cooperative.v1`: one record of the Cooperative Alliance registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RegistryCooperative {
    pub meta: SourceMeta,
    /// 10 digits after cleaning; null when absent or unreadable (see `meta.issues`).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub registration_code: Option<String>,
    pub kind: OrgKind,
    /// Legal name, as the registry holds it.
    #[schemars(length(max = 1000))]
    pub name: String,
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub commune_code: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub district_code: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub address: Option<String>,
    #[serde(default)]
    pub representative: Option<Person>,
    #[serde(default)]
    pub established_on: Option<NaiveDate>,
    #[serde(default)]
    pub status: Option<OrgStatus>,
    #[serde(default)]
    pub member_households: Option<u32>,
    #[serde(default)]
    pub farmers_union_supported: Option<bool>,
    #[serde(default)]
    pub origin: Option<Origin>,
    #[serde(default)]
    pub rating: Option<Rating>,
    #[serde(default)]
    pub enterprise_linkage: Option<bool>,
    #[serde(default)]
    pub key_officers: Option<KeyOfficers>,
    /// The registry's `updated_at`, with its offset.
    pub updated_at: DateTime<FixedOffset>,
    /// The registry's record version (grows by one at each change).
    pub version: u64,
}

/// Who borrowed, as the loan fund typed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Borrower {
    /// As typed by the loan officer (abbreviations, missing diacritics, odd spacing).
    #[schemars(length(max = 1000))]
    pub name: String,
    /// Digits only after cleaning (spaces and dashes removed); null when absent. A cleaned
    /// code that is not 10 digits is kept and flagged in `meta.issues`.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub tax_code: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub address: Option<String>,
    /// Legal representative (personal data).
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub legal_rep: Option<String>,
    /// E.164 when readable (personal data).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub phone: Option<String>,
}

/// Loan-fund borrower type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BorrowerType {
    Cooperative,
    CooperativeGroup,
    /// Outside the hub's scope, still delivered.
    Household,
}

/// Status of a loan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LoanStatus {
    Disbursed,
    Repaid,
    Overdue,
    /// Gave no credit.
    Cancelled,
}

/// `source.disbursement.v1`: one loan of the Cooperative Development Support Fund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LoanDisbursement {
    pub meta: SourceMeta,
    #[schemars(length(max = 128))]
    pub loan_no: String,
    pub borrower: Borrower,
    pub borrower_type: BorrowerType,
    pub amount_vnd: i64,
    /// ISO date (the source's `DD/MM/YYYY`).
    #[serde(default)]
    pub disbursed_on: Option<NaiveDate>,
    #[serde(default)]
    pub term_months: Option<u32>,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub purpose: Option<String>,
    pub status: LoanStatus,
    /// The source's local `modified` time with its explicit `+07:00` offset.
    pub modified: DateTime<FixedOffset>,
}

/// Status of an NTM commune report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Draft,
    Submitted,
    Approved,
}

/// One criterion line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Criterion {
    #[schemars(length(max = 64))]
    pub id: String,
    pub met: bool,
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub note: Option<String>,
}

/// One cooperative listed under criterion 13 of a commune report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NtmCooperativeEntry {
    /// `{commune_code}:{year}:{index}`, index being the 0-based position in this revision.
    #[schemars(length(max = 256))]
    pub source_id: String,
    pub index: u32,
    #[schemars(length(max = 1000))]
    pub name: String,
    #[serde(default)]
    pub kind: Option<OrgKind>,
    /// Personal data.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub representative: Option<String>,
    #[serde(default)]
    pub members: Option<u32>,
    pub effective: bool,
    #[serde(default)]
    pub linked_with_enterprise: Option<bool>,
}

/// `source.ntm_report.v1`: one revision of one commune's annual NTM report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NtmCommuneReport {
    pub meta: SourceMeta,
    #[schemars(length(max = 64))]
    pub commune_code: String,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub commune_name: Option<String>,
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub district_name: Option<String>,
    pub year: i32,
    pub revision: u32,
    pub status: ReportStatus,
    #[schemars(length(max = 200))]
    pub criteria: Vec<Criterion>,
    #[schemars(length(max = 2000))]
    pub cooperatives: Vec<NtmCooperativeEntry>,
    #[serde(default)]
    pub submitted_at: Option<DateTime<FixedOffset>>,
}

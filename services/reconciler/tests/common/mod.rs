//! Builders of source contracts for the reconciler's tests.

#![allow(dead_code)]

pub mod observer;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use hub_contracts::v1::{
    Borrower, BorrowerType, LoanDisbursement, LoanStatus, NtmCommuneReport, NtmCooperativeEntry,
    OrgKind, OrgStatus, Person, RegistryCooperative, ReportStatus, SourceMeta, SourceRef,
};

pub fn t(day: u32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(7 * 3600)
        .and_then(|o| o.with_ymd_and_hms(2025, 3, day, 8, 0, 0).single())
        .expect("valid time")
}

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 10, 1, 0, 0, 0)
        .single()
        .expect("valid time")
}

pub fn meta(system: &str, id: &str) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at: t(1),
        content_hash: format!("{system}/{id}"),
        raw: serde_json::json!({}),
        issues: Vec::new(),
    }
}

pub fn r(system: &str, id: &str) -> SourceRef {
    SourceRef::new(system, id)
}

/// A registry record in a commune (2024 code), with its district from the reference.
pub fn registry(
    id: &str,
    name: &str,
    kind: OrgKind,
    code: Option<&str>,
    commune: &str,
    rep: Option<&str>,
    phone: Option<&str>,
) -> RegistryCooperative {
    let c = hub_normalise::reference::Reference::get()
        .commune_2024(commune)
        .expect("a Lai Châu commune");
    RegistryCooperative {
        meta: meta("coop-alliance", id),
        registration_code: code.map(str::to_owned),
        kind,
        name: name.to_owned(),
        commune_code: Some(commune.to_owned()),
        district_code: Some(c.district_code.clone()),
        address: Some(format!(
            "{}, {}, tỉnh Lai Châu",
            c.commune_name, c.district_name
        )),
        representative: Some(Person {
            full_name: rep.map(str::to_owned),
            phone: phone.map(str::to_owned),
        }),
        established_on: chrono::NaiveDate::from_ymd_opt(2024, 5, 17),
        status: Some(OrgStatus::Active),
        member_households: Some(12),
        farmers_union_supported: Some(true),
        origin: None,
        rating: None,
        enterprise_linkage: Some(true),
        key_officers: None,
        updated_at: t(2),
        version: 1,
    }
}

/// A loan-fund loan `no` to `name` (its tax code, address, legal representative and phone
/// as given), disbursed in 2024.
pub fn loan(
    no: &str,
    name: &str,
    borrower_type: BorrowerType,
    tax_code: Option<&str>,
    address: &str,
    rep: Option<&str>,
    phone: Option<&str>,
) -> LoanDisbursement {
    LoanDisbursement {
        meta: meta("loan-fund", no),
        loan_no: no.to_owned(),
        borrower: Borrower {
            name: name.to_owned(),
            tax_code: tax_code.map(str::to_owned),
            address: Some(address.to_owned()),
            legal_rep: rep.map(str::to_owned),
            phone: phone.map(str::to_owned),
        },
        borrower_type,
        amount_vnd: 500_000_000,
        disbursed_on: chrono::NaiveDate::from_ymd_opt(2024, 7, 2),
        term_months: Some(36),
        purpose: Some("Mua máy sấy chè".into()),
        status: LoanStatus::Disbursed,
        modified: t(3),
    }
}

/// Loan `no` to a cooperative named and addressed so, with nothing else (no tax code,
/// representative or phone).
pub fn bare_loan(no: &str, name: &str, address: &str) -> LoanDisbursement {
    loan(
        no,
        name,
        BorrowerType::Cooperative,
        None,
        address,
        None,
        None,
    )
}

/// An NTM report revision with entries `(name, kind, representative)`.
pub fn ntm(
    commune: &str,
    year: i32,
    revision: u32,
    entries: &[(&str, Option<OrgKind>, Option<&str>)],
) -> NtmCommuneReport {
    NtmCommuneReport {
        meta: meta("ntm", &format!("{commune}:{year}")),
        commune_code: commune.to_owned(),
        commune_name: None,
        district_name: None,
        year,
        revision,
        status: ReportStatus::Approved,
        criteria: Vec::new(),
        cooperatives: entries
            .iter()
            .enumerate()
            .map(|(i, (name, kind, rep))| NtmCooperativeEntry {
                source_id: format!("{commune}:{year}:{i}"),
                index: i as u32,
                name: (*name).to_owned(),
                kind: *kind,
                representative: rep.map(str::to_owned),
                members: Some(12),
                effective: true,
                linked_with_enterprise: Some(true),
            })
            .collect(),
        submitted_at: Some(t(4)),
    }
}

/// Bản Hon (district Tam Đường, 106).
pub const BAN_HON: &str = "03421";
/// Tả Lèng (district Tam Đường).
pub const TA_LENG: &str = "03400";

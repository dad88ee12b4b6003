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
        established_on: chrono::NaiveDate::from_ymd_opt(2019, 3, 12),
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

/// A doubtful NTM entry, in a fresh engine `e`: registers LM-1 `Hợp tác xã chè Tả Lèng` of Tả
/// Lèng (its tax code, representative and phone), then loan Q-1 of that name to another
/// taxpayer (another code, representative and phone), then an NTM report of Tả Lèng naming
/// `HTX chè Tả Lèng` and nothing else: the entry (`03400:2024:0`) is doubtful between the two.
/// Returns the review item that asks about the entry and the loan.
pub fn entry_doubtful_between_lm1_and_a_loan(e: &mut hub_reconciler::engine::Engine) -> uuid::Uuid {
    use hub_reconciler::engine::observation::Observation;
    let lm1 = registry(
        "LM-1",
        "Hợp tác xã chè Tả Lèng",
        OrgKind::Htx,
        Some("6200123456"),
        TA_LENG,
        Some("Lò Văn Minh"),
        Some("0912000111"),
    );
    e.observe(Observation::from_registry(&lm1), now());
    let q1 = loan(
        "Q-1",
        "HTX chè Tả Lèng",
        BorrowerType::Cooperative,
        Some("6200888111"),
        "Tả Lèng, Tam Đường, Lai Châu",
        Some("Giàng A Páo"),
        Some("0987654321"),
    );
    e.observe(Observation::from_loan(&q1), now());
    let ch = e.ntm_report(
        &ntm(
            TA_LENG,
            2024,
            1,
            &[("HTX chè Tả Lèng", Some(OrgKind::Htx), None)],
        ),
        now(),
    );
    assert_eq!(
        ch.decisions.first().map(|d| d.outcome),
        Some(hub_contracts::v1::DecisionOutcome::Review),
        "{:?}",
        ch.decisions
    );
    ch.reviews
        .iter()
        .find(|i| i.candidate == r("loan-fund", "Q-1"))
        .map(|i| i.review_id)
        .expect("a review against the loan")
}

/// Registers in `commune` 13 cooperatives `Hợp tác xã <sector> <rest>`, one per sector word
/// (`LM-0` … `LM-12`, each with its phone), each with four loans (`L-<k>-<j>`, addressed
/// `address`) that carry its phone; checks that each registration holds its four loans.
pub fn thirteen_namesakes(
    e: &mut hub_reconciler::engine::Engine,
    rest: &str,
    commune: &str,
    address: &str,
) {
    use hub_reconciler::engine::observation::Observation;
    const SECTORS: [&str; 13] = [
        "Nông nghiệp",
        "Lâm nghiệp",
        "Chăn nuôi",
        "Sản xuất",
        "Kinh doanh",
        "Thương mại",
        "Dịch vụ",
        "Xây dựng",
        "Vận tải",
        "Du lịch",
        "Tổng hợp",
        "Chế biến",
        "Nông lâm nghiệp",
    ];
    for (k, sector) in SECTORS.iter().enumerate() {
        let name = format!("Hợp tác xã {sector} {rest}");
        let id = format!("LM-{k}");
        let rec = registry(
            &id,
            &name,
            OrgKind::Htx,
            None,
            commune,
            None,
            Some(&format!("+849123456{k:02}")),
        );
        e.observe(Observation::from_registry(&rec), now());
        for j in 0..4 {
            let l = loan(
                &format!("L-{k}-{j}"),
                &name,
                BorrowerType::Cooperative,
                None,
                address,
                None,
                Some(&format!("09123456{k:02}")),
            );
            e.observe(Observation::from_loan(&l), now());
        }
        assert_eq!(
            e.identity_of(&r("coop-alliance", &id))
                .and_then(|i| e.members(i))
                .map(|m| m.len()),
            Some(5),
            "{name}"
        );
    }
}

/// Goes on from [`entry_doubtful_between_lm1_and_a_loan`]: registration `lm2` of Tả Lèng
/// arrives and takes the entry; then an operator links review `id` (entry ~ loan Q-1), under
/// `answer_weights` when given (weights estimated meanwhile). The entry moves to the loan's
/// organisation alone: nothing merged, the loan not under LM-2, LM-2 keeping its
/// organisation. Returns the loan's organisation and LM-2's.
pub fn second_registration_then_link(
    e: &mut hub_reconciler::engine::Engine,
    id: uuid::Uuid,
    lm2: &RegistryCooperative,
    answer_weights: Option<hub_reconciler::engine::weights::Weights>,
) -> (uuid::Uuid, uuid::Uuid) {
    use hub_reconciler::engine::observation::Observation;
    let (entry, q1) = (r("ntm", "03400:2024:0"), r("loan-fund", "Q-1"));
    e.observe(Observation::from_registry(lm2), now());
    let lm2 = lm2.meta.source.clone();
    let second = e.identity_of(&lm2).expect("LM-2's organisation");
    assert_eq!(
        e.identity_of(&entry),
        Some(second),
        "the entry is with LM-2"
    );
    let loans = e.identity_of(&q1).expect("the loan's organisation");
    assert_ne!(loans, second);
    if let Some(w) = answer_weights {
        e.fix_weights(w);
    }
    let ch = e
        .link_review(
            id,
            "an.operator",
            "the loan's chair signed the report",
            now(),
        )
        .expect("linked");
    assert!(ch.merged.is_empty(), "nothing merged: {:?}", ch.merged);
    assert_eq!(e.identity_of(&entry), Some(loans), "the entry moved");
    assert_eq!(e.identity_of(&q1), Some(loans), "the loan stays apart");
    assert_eq!(
        e.identity_of(&lm2),
        Some(second),
        "LM-2 keeps its organisation"
    );
    (loans, second)
}

/// The identity of `r` and that of registration `id` are one.
pub fn same_identity(e: &hub_reconciler::engine::Engine, r: &SourceRef, id: &str) -> bool {
    let own = e.identity_of(&SourceRef::new("coop-alliance", id));
    own.is_some() && e.identity_of(r) == own
}

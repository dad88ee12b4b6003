//! A snapshot's provenance names each source by the system its records carry, on the real
//! database: loans of a fund the hub never heard of are counted under that fund's name (no
//! list of systems to extend), registry records under theirs, a system per record.

use chrono::DateTime;
use hub_contracts::v1::common::{SourceMeta, SourceRef};
use hub_contracts::v1::source::{Borrower, BorrowerType, LoanDisbursement, LoanStatus};
use hub_indicators::service::{MIGRATOR, SCHEMA};
use hub_indicators::store::{Input, Store};
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;

fn meta(system: &str, id: &str) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at: DateTime::parse_from_rfc3339("2025-06-30T10:00:00+07:00").expect("ts"),
        content_hash: format!("h-{id}"),
        raw: serde_json::Value::Null,
        issues: vec![],
    }
}

fn loan(system: &str, no: &str) -> Input {
    Input::Loan(Box::new(LoanDisbursement {
        meta: meta(system, no),
        loan_no: no.to_owned(),
        borrower: Borrower {
            name: "HTX Tân Uyên".into(),
            tax_code: None,
            address: None,
            legal_rep: None,
            phone: None,
        },
        borrower_type: BorrowerType::Cooperative,
        amount_vnd: 100_000_000,
        disbursed_on: None,
        term_months: Some(36),
        purpose: None,
        status: LoanStatus::Disbursed,
        modified: DateTime::parse_from_rfc3339("2025-06-01T08:00:00+07:00").expect("ts"),
    }))
}

#[tokio::test]
async fn provenance_counts_each_system_its_records_name() {
    let env = TestEnv::new().await;
    let db = Database::connect(&env.config.database_url, SCHEMA, Some(&MIGRATOR))
        .await
        .expect("indicators database");
    let store = Store::new(db);
    let inputs = [
        ("m1", loan("loan-fund", "L1")),
        ("m2", loan("loan-fund", "L2")),
        ("m3", loan("district-fund", "D1")),
    ];
    for (id, input) in &inputs {
        store.apply(id, input).await.expect("applied");
    }
    let (_, provenance) = store.inputs().await.expect("inputs");
    let counts: Vec<(String, u64)> = provenance
        .sources
        .iter()
        .map(|p| (p.system.clone(), p.records))
        .collect();
    assert_eq!(
        counts,
        vec![("district-fund".into(), 1), ("loan-fund".into(), 2)],
        "every system by its records' name, nothing else"
    );
    env.drop_database().await;
}

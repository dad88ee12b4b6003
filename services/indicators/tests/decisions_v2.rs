//! Decisions in batches (`reconciliation.decision.v2`) on the real RabbitMQ and PostgreSQL:
//! the same golden records, loans and registry records, with their decisions published once
//! as one `reconciliation.decision.v1` each and once as a few `reconciliation.decision.v2`
//! batches (one of them repeating decisions already delivered as v1), give snapshots of
//! equal content and provenance. The service's queue is bound to v2 and still takes a v1
//! routed to it (here by the v1 binding an older deployment left on the queue).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use hub_contracts::registry::exchanges;
use hub_contracts::v1::common::{SourceMeta, SourceRef};
use hub_contracts::v1::identity::{DecisionOutcome, GoldenRecord, ReconciliationDecision};
use hub_contracts::v1::indicator::IndicatorSnapshot;
use hub_contracts::v1::source::{Borrower, BorrowerType, LoanDisbursement, LoanStatus};
use hub_contracts::v2::ReconciliationDecisions;
use hub_contracts::{Contract, Envelope};
use hub_indicators::{Config, UnitList};
use hub_runtime::messaging::{OutgoingMessage, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use uuid::Uuid;

const SOURCE: &str = "urn:coophub:test";
const ORGS: u128 = 12;

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-30T03:00:00Z")
        .expect("time")
        .with_timezone(&Utc)
}

fn message<T: Contract>(id: &str, data: T) -> OutgoingMessage {
    OutgoingMessage::from_envelope(&Envelope::new(
        Envelope::<T>::deterministic_id(&[T::TYPE, id]),
        SOURCE,
        data,
    ))
}

fn org(n: u128) -> Uuid {
    Uuid::from_u128(1000 + n)
}

fn golden(n: u128) -> GoldenRecord {
    serde_json::from_value(serde_json::json!({
        "organisation_id": org(n),
        "version": 1,
        "retired": false,
        "kind": if n.is_multiple_of(3) { "THT" } else { "HTX" },
        "name": format!("HTX số {n}"),
        "commune_code": "03400",
        "district_code": "106",
        "in_registry": true,
        "status": "active",
        "established_on": "2020-01-01",
        "member_households": 10 + n as u64,
        "source_refs": [
            {"system": "coop-alliance", "id": format!("LM-{n}")},
            {"system": "loan-fund", "id": format!("Q-{n}")},
        ],
        "updated_at": "2025-06-01T00:00:00Z",
    }))
    .expect("a golden record")
}

fn loan(n: u128) -> LoanDisbursement {
    let no = format!("Q-{n}");
    LoanDisbursement {
        meta: SourceMeta {
            source: SourceRef::new("loan-fund", &no),
            fetched_at: DateTime::parse_from_rfc3339("2025-06-30T10:00:00+07:00").expect("ts"),
            content_hash: format!("h-{no}"),
            raw: serde_json::Value::Null,
            issues: vec![],
        },
        loan_no: no,
        borrower: Borrower {
            name: format!("HTX số {n}"),
            tax_code: None,
            address: None,
            legal_rep: None,
            phone: None,
        },
        borrower_type: BorrowerType::Cooperative,
        amount_vnd: 100_000_000 + 1_000_000 * n as i64,
        disbursed_on: NaiveDate::from_ymd_opt(2025, 3, 1),
        term_months: Some(36),
        purpose: None,
        status: LoanStatus::Disbursed,
        modified: DateTime::parse_from_rfc3339("2025-06-01T08:00:00+07:00").expect("ts"),
    }
}

/// Two decisions per organisation (its registry record, its loan), of every kind the
/// provenance counts: automatic, awaiting review, by an operator.
fn decisions() -> Vec<ReconciliationDecision> {
    let mut out = Vec::new();
    for n in 0..ORGS {
        for (system, id, outcome) in [
            ("coop-alliance", format!("LM-{n}"), DecisionOutcome::New),
            (
                "loan-fund",
                format!("Q-{n}"),
                match n % 4 {
                    0 => DecisionOutcome::Review,
                    1 => DecisionOutcome::OperatorLinked,
                    _ => DecisionOutcome::Matched,
                },
            ),
        ] {
            out.push(ReconciliationDecision {
                decision_id: Uuid::new_v5(
                    &Uuid::NAMESPACE_URL,
                    format!("{system}/{id}").as_bytes(),
                ),
                at: at(),
                outcome,
                source: Some(SourceRef::new(system, &id)),
                organisation_id: Some(org(n)),
                candidate_id: None,
                score: Some(0.9),
                features: Default::default(),
                rule: "test".into(),
                rule_version: "1".into(),
                operator: (outcome == DecisionOutcome::OperatorLinked).then(|| "op-1".into()),
                note: None,
            });
        }
    }
    out
}

/// Golden records and loans, then the decisions as `v1` (one message each) or as `v2`
/// (batches of 5, plus a batch repeating the first three decisions, of which the first is
/// also delivered as a `v1`).
fn messages(v2: bool) -> Vec<OutgoingMessage> {
    let mut out = Vec::new();
    for n in 0..ORGS {
        let g = golden(n);
        out.push(message(&g.organisation_id.to_string(), g));
        let l = loan(n);
        out.push(message(&l.loan_no.clone(), l));
    }
    let ds = decisions();
    if v2 {
        for (i, chunk) in ds.chunks(5).enumerate() {
            let b = ReconciliationDecisions::batches(chunk, at()).remove(0);
            out.push(message(&format!("batch-{i}"), b));
        }
        let again = ReconciliationDecisions::batches(&ds[..3], at()).remove(0);
        out.push(message("batch-again", again));
        out.push(message(&ds[0].decision_id.to_string(), ds[0].clone()));
    } else {
        for d in ds {
            out.push(message(&d.decision_id.to_string(), d));
        }
    }
    out
}

/// Runs the service on a fresh database and namespace, publishes [`messages`] and returns
/// the snapshot once every decision took effect.
async fn snapshot_of(v2: bool) -> IndicatorSnapshot {
    let env = TestEnv::new().await;
    let config = Config {
        common: env.config.clone(),
        plan_dirs: vec![],
        plan_file: None,
        unit_list: vec![UnitList::Units2025],
        debounce_ms: 100,
        debounce_max_ms: 1_000,
        as_of: NaiveDate::from_ymd_opt(2025, 6, 30),
        service_tokens: Default::default(),
        sources: Vec::new(),
    };
    let broker = env.broker("declare");
    let ch = broker.channel().await.expect("broker reachable");
    // as an older deployment left it: bound to v1 as well (the service binds v2 only)
    let with_v1 = hub_indicators::input_queue(&config)
        .bind(exchanges::IDENTITY, ReconciliationDecision::TYPE);
    env.topology()
        .declare_queue(&ch, &with_v1, &env.retry_policy())
        .await
        .expect("declare");
    let stop = CancellationToken::new();
    let running = hub_indicators::start(config, stop.clone())
        .await
        .expect("service starts");
    let publisher = Publisher::new(env.broker("test-publisher"));
    publisher
        .publish_batch(&messages(v2))
        .await
        .expect("every message routed and confirmed");
    let review = (0..ORGS).filter(|n| n % 4 == 0).count() as u64;
    let by_operator = (0..ORGS).filter(|n| n % 4 == 1).count() as u64;
    let automatic = 2 * ORGS as u64 - review - by_operator;
    let s = tokio::time::timeout(
        Duration::from_secs(60),
        running.snapshot_where(UnitList::Units2025, |s| {
            s.provenance.reconciled_automatically == automatic
                && s.provenance.awaiting_review == review
                && s.provenance.sources.iter().any(|p| p.system == "loan-fund")
        }),
    )
    .await
    .expect("every decision took effect within 60 s")
    .expect("service running");
    let s = (*s).clone();
    stop.cancel();
    running.stopped().await.expect("stopped");
    broker.close().await;
    env.drop_database().await;
    s
}

#[tokio::test]
async fn decisions_in_batches_give_what_one_by_one_gives() {
    // the queue takes v2 from the identity exchange
    let spec = hub_indicators::input_queue(&Config::default());
    assert!(
        spec.bindings
            .iter()
            .any(|(x, k)| x == exchanges::IDENTITY && k == ReconciliationDecisions::TYPE),
        "indicators.inputs is bound to reconciliation.decision.v2"
    );

    let one_by_one = snapshot_of(false).await;
    let batched = snapshot_of(true).await;
    assert_eq!(batched.content_hash, one_by_one.content_hash);
    assert_eq!(batched.units, one_by_one.units);
    assert_eq!(batched.provenance.sources, one_by_one.provenance.sources);
    assert_eq!(
        (
            batched.provenance.reconciled_automatically,
            batched.provenance.awaiting_review
        ),
        (
            one_by_one.provenance.reconciled_automatically,
            one_by_one.provenance.awaiting_review
        ),
        "each decision counted once, by either contract"
    );
    // the golden records and loans took effect too: both runs computed from the same projection
    let records = |system: &str| {
        batched
            .provenance
            .sources
            .iter()
            .find(|p| p.system == system)
            .map(|p| p.records)
    };
    assert_eq!(records("reconciler"), Some(ORGS as u64));
    assert_eq!(records("loan-fund"), Some(ORGS as u64));
}

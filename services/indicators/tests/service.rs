//! The service on the real RabbitMQ and PostgreSQL (a fresh database and namespace): the
//! contracts a hub would publish about a simulated world (golden records built from the
//! simulator's true identities, loans, NTM report revisions, registry records, decisions) go
//! in, in an arbitrary order and partly twice; the published snapshot must equal the
//! simulator's truth for the province, every district and every commune. Then a new loan to
//! a supported HTX without credit must yield a new version where I7 changed accordingly.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Datelike, FixedOffset, Utc};
use hub_contracts::registry::exchanges;
use hub_contracts::v1::common::{OrgKind, Person, SourceMeta, SourceRef};
use hub_contracts::v1::identity::{DecisionOutcome, GoldenRecord, ReconciliationDecision};
use hub_contracts::v1::indicator::IndicatorSnapshot;
use hub_contracts::v1::source::{
    Borrower, LoanDisbursement, LoanStatus, NtmCommuneReport, NtmCooperativeEntry, OrgStatus,
    RegistryCooperative,
};
use hub_contracts::v2::ReconciliationDecisions;
use hub_contracts::{Contract, Envelope};
use hub_indicators::{Config, UnitList};
use hub_runtime::messaging::{Consumer, Incoming, OutgoingMessage, Publisher, QueueSpec};
use hub_runtime::shutdown::CancellationToken;
use hub_simulators::truth::Truth;
use hub_simulators::world::{Loan, RegistrySubject, Subject, World, local_to_fixed};
use hub_simulators::{MutationRequest, TruthParams, WorldConfig, generate};
use hub_test_support::TestEnv;
use tokio::sync::mpsc;
use uuid::Uuid;

const SOURCE: &str = "urn:coophub:test";

fn org_uuid(org_id: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("org:{org_id}").as_bytes())
}

fn meta(system: &str, id: &str, raw: serde_json::Value, at: DateTime<FixedOffset>) -> SourceMeta {
    SourceMeta {
        source: SourceRef::new(system, id),
        fetched_at: at,
        content_hash: hub_contracts::content_hash(&raw),
        raw,
        issues: vec![],
    }
}

fn message<T: Contract>(id: &str, data: T) -> OutgoingMessage {
    OutgoingMessage::from_envelope(&Envelope::new(
        Envelope::<T>::deterministic_id(&[T::TYPE, id]),
        SOURCE,
        data,
    ))
}

/// A decision as the reconciler publishes it by default: a `reconciliation.decision.v2`
/// batch of one.
fn decision_message(id: &str, d: ReconciliationDecision) -> OutgoingMessage {
    let at = d.at;
    let batch = ReconciliationDecisions::batches(&[d], at)
        .into_iter()
        .next()
        .expect("a batch for one decision");
    message(id, batch)
}

/// The golden record the reconciler would publish for a true organisation.
fn golden(
    world: &World,
    org: &hub_simulators::truth::TruthOrganisation,
    version: u64,
    at: DateTime<Utc>,
) -> GoldenRecord {
    let o = world
        .organisations
        .iter()
        .find(|w| w.id == org.org_id)
        .expect("truth organisation is in the world");
    let f = &o.facts;
    let reg = org.in_registry;
    GoldenRecord {
        organisation_id: org_uuid(&org.org_id),
        version,
        retired: false,
        merged_into: None,
        kind: Some(f.kind),
        name: f.name.clone(),
        registration_code: f.registration_code.clone(),
        commune_code: Some(f.commune_code.clone()),
        district_code: Some(f.district_code.clone()),
        address: Some(f.address.clone()),
        representative: f.representative.as_ref().map(|r| Person {
            full_name: r.full_name.clone(),
            phone: r.phone.clone(),
        }),
        established_on: reg.then_some(f.established_on),
        status: reg.then_some(f.status),
        member_households: reg.then_some(f.member_households),
        farmers_union_supported: reg.then_some(f.farmers_union_supported),
        origin: if reg { f.origin } else { None },
        rating: if reg { f.rating } else { None },
        enterprise_linkage: if reg { f.enterprise_linkage } else { None },
        key_officers: if reg { f.key_officers } else { None },
        in_registry: reg,
        source_refs: org.records.clone(),
        attribute_sources: Default::default(),
        updated_at: at,
    }
}

fn loan_message(l: &Loan, fetched: DateTime<FixedOffset>) -> LoanDisbursement {
    LoanDisbursement {
        meta: meta("loan-fund", &l.loan_no, World::loan_json(l), fetched),
        loan_no: l.loan_no.clone(),
        borrower: Borrower {
            name: l.borrower.name.clone(),
            tax_code: l.borrower.tax_code.clone(),
            address: Some(l.borrower.address.clone()),
            legal_rep: l.borrower.legal_rep.clone(),
            phone: l.borrower.phone.clone(),
        },
        borrower_type: l.borrower_type,
        amount_vnd: l.amount_vnd,
        disbursed_on: Some(l.disbursed_on),
        term_months: Some(l.term_months),
        purpose: Some(l.purpose.clone()),
        status: l.status,
        modified: local_to_fixed(&l.modified),
    }
}

struct Inputs {
    messages: Vec<OutgoingMessage>,
    registry: u64,
    loans: u64,
    revisions: u64,
    golden: u64,
    automatic: u64,
    review: u64,
}

/// Everything a hub would have published about `world`, identities from `truth`.
fn inputs(world: &World, truth: &Truth, fetched: DateTime<FixedOffset>) -> Inputs {
    let mut messages = Vec::new();
    let at = fetched.with_timezone(&Utc);
    // registry records
    let mut registry = 0;
    for rec in world.registry.iter().filter(|r| r.bad.is_none()) {
        let RegistrySubject::Org(i) = rec.subject else {
            continue;
        };
        let f = &world.organisations[i].facts;
        registry += 1;
        messages.push(message(
            &rec.id,
            RegistryCooperative {
                meta: meta("coop-alliance", &rec.id, world.registry_json(rec), fetched),
                registration_code: f.registration_code.clone(),
                kind: f.kind,
                name: f.name.clone(),
                commune_code: Some(f.commune_code.clone()),
                district_code: Some(f.district_code.clone()),
                address: Some(f.address.clone()),
                representative: None,
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
            },
        ));
    }
    // loans (bad ones are rejected by the adapter: the truth is built not to care)
    let mut loans = 0;
    for l in world.loans.iter().filter(|l| l.bad.is_none()) {
        loans += 1;
        messages.push(message(&l.loan_no, loan_message(l, fetched)));
    }
    // every NTM revision that was ever served
    let mut revisions = 0;
    for rep in &world.reports {
        for rev in rep
            .revisions
            .iter()
            .filter(|r| r.ever_current && r.bad.is_none())
        {
            revisions += 1;
            let id = rep.id();
            messages.push(message(
                &format!("{id}:{}", rev.revision),
                NtmCommuneReport {
                    meta: meta("ntm", &id, serde_json::Value::Null, fetched),
                    commune_code: rep.commune_code.clone(),
                    commune_name: None,
                    district_name: None,
                    year: rep.year,
                    revision: rev.revision,
                    status: rev.status,
                    criteria: rev.criteria.clone(),
                    cooperatives: rev
                        .cooperatives
                        .iter()
                        .enumerate()
                        .map(|(i, e)| NtmCooperativeEntry {
                            source_id: format!("{id}:{i}"),
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
                },
            ));
        }
    }
    // golden records and the decisions that made them; three loans wait for review
    let mut golden_count = 0;
    let (mut automatic, mut review) = (0, 0);
    for o in &truth.organisations {
        golden_count += 1;
        let g = golden(world, o, 1, at);
        messages.push(message(&format!("{}:1", g.organisation_id), g));
        for r in &o.records {
            let outcome = if r.system == "coop-alliance" {
                DecisionOutcome::New
            } else if r.system == "loan-fund" && review < 3 {
                DecisionOutcome::Review
            } else {
                DecisionOutcome::Matched
            };
            if outcome == DecisionOutcome::Review {
                review += 1;
            } else {
                automatic += 1;
            }
            messages.push(decision_message(
                &format!("decision:{r}"),
                decision(r, &o.org_id, outcome, at),
            ));
        }
    }
    for h in &truth.households {
        for r in &h.records {
            automatic += 1;
            messages.push(decision_message(
                &format!("decision:{r}"),
                decision(r, &h.household_id, DecisionOutcome::OutOfScope, at),
            ));
        }
    }
    Inputs {
        messages,
        registry,
        loans,
        revisions,
        golden: golden_count,
        automatic,
        review,
    }
}

fn decision(
    r: &SourceRef,
    org_id: &str,
    outcome: DecisionOutcome,
    at: DateTime<Utc>,
) -> ReconciliationDecision {
    ReconciliationDecision {
        decision_id: Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("decision:{r}:{outcome:?}:{at}").as_bytes(),
        ),
        at,
        outcome,
        source: Some(r.clone()),
        organisation_id: (outcome != DecisionOutcome::OutOfScope).then(|| org_uuid(org_id)),
        candidate_id: None,
        score: Some(1.0),
        features: Default::default(),
        rule: "test".into(),
        rule_version: "1".into(),
        operator: None,
        note: None,
    }
}

/// The counts a snapshot's provenance must show once every input took effect.
fn provenance_is(s: &IndicatorSnapshot, want: &Inputs) -> bool {
    let count = |system: &str| {
        s.provenance
            .sources
            .iter()
            .find(|p| p.system == system)
            .map_or(0, |p| p.records)
    };
    count("coop-alliance") == want.registry
        && count("loan-fund") == want.loans
        && count("ntm") == want.revisions
        && count("reconciler") == want.golden
        && s.provenance.reconciled_automatically == want.automatic
        && s.provenance.awaiting_review == want.review
}

/// Every value of every unit of `truth` equals the snapshot's; returns the differences.
fn differences(s: &IndicatorSnapshot, truth: &Truth) -> Vec<String> {
    truth.differences(s)
}

async fn declare(env: &TestEnv, specs: &[QueueSpec]) {
    let broker = env.broker("declare");
    let ch = broker.channel().await.expect("broker reachable");
    for spec in specs {
        env.topology()
            .declare_queue(&ch, spec, &env.retry_policy())
            .await
            .expect("declare");
    }
    broker.close().await;
}

/// Published snapshots as they arrive, and every one received so far.
struct Snapshots {
    rx: mpsc::UnboundedReceiver<IndicatorSnapshot>,
    seen: Vec<IndicatorSnapshot>,
}

/// The latest published snapshot of `list` that satisfies `pred`, received now or earlier
/// (the unit lists are recomputed one after the other, each from the inputs of its moment:
/// the one of another list may have come first).
async fn published(
    snapshots: &mut Snapshots,
    list: UnitList,
    what: &str,
    pred: impl Fn(&IndicatorSnapshot) -> bool,
) -> IndicatorSnapshot {
    if let Some(s) = snapshots
        .seen
        .iter()
        .rev()
        .find(|s| s.unit_list == list.as_str() && pred(s))
    {
        return s.clone();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let s = tokio::time::timeout_at(deadline, snapshots.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no published snapshot {what} within 120 s"))
            .expect("snapshot channel open");
        snapshots.seen.push(s.clone());
        if s.unit_list == list.as_str() && pred(&s) {
            return s;
        }
    }
}

/// (unit code, row number) → the achieved cell of the XLSX report, read back with calamine.
fn report_values(bytes: &[u8]) -> BTreeMap<(String, usize), calamine::Data> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let mut out = BTreeMap::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).expect("sheet");
        let mut unit: Option<String> = None;
        for r in range.rows() {
            match r.first() {
                // a block title "Name (code) · parent", alone on its row
                Some(Data::String(t)) if r.iter().skip(1).all(|c| *c == Data::Empty) => {
                    let code = t.split('(').skip(1).find_map(|p| {
                        let code = p.split(')').next()?;
                        (!code.is_empty() && code.chars().all(|c| c.is_ascii_digit()))
                            .then(|| code.to_owned())
                    });
                    unit = code.or(unit);
                }
                Some(Data::Float(n)) => {
                    if let Some(u) = &unit {
                        // column F: "Kết quả thực hiện"
                        out.insert((u.clone(), *n as usize), r[5].clone());
                    }
                }
                _ => {}
            }
        }
    }
    out
}

fn value(s: &IndicatorSnapshot, unit: &str, ind: &str) -> (Option<f64>, Option<f64>) {
    let v = s
        .units
        .iter()
        .find(|u| u.unit_code == unit)
        .and_then(|u| u.values.iter().find(|v| v.indicator == ind))
        .unwrap_or_else(|| panic!("{unit} {ind}"));
    (v.numerator, v.denominator)
}

#[tokio::test]
async fn snapshots_equal_the_simulator_truth_and_follow_a_new_loan() {
    let env = TestEnv::new().await;
    let now = DateTime::parse_from_rfc3339("2025-10-15T10:00:00+07:00").expect("time");
    let mut world = generate(&WorldConfig::new(7, now)).expect("world");
    // change over time: new and edited records, report revisions (the first a draft over an
    // approved revision: it must not replace it)
    world
        .mutate(
            &MutationRequest {
                new_cooperatives: 6,
                edited_cooperatives: 6,
                new_loans: 10,
                edited_loans: 6,
                report_revisions: 30,
                credit_uncredited_htx: 0,
            },
            now,
        )
        .expect("mutation");
    let params = TruthParams::for_world(&world);
    let truth = world.truth(&params);
    let truth_2025 = world.truth(&TruthParams {
        units: hub_simulators::UnitList::Units2025,
        ..params
    });
    let fetched = world.clock();
    let input = inputs(&world, &truth, fetched);
    assert!(
        input.loans > 50 && input.revisions > 100 && input.golden > 50,
        "a sizeable world"
    );

    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let token = hub_runtime::service_auth::generate_token();
    let config = Config {
        common,
        plan_dirs: vec![],
        plan_file: None,
        unit_list: UnitList::ALL.to_vec(),
        debounce_ms: 200,
        debounce_max_ms: 2_000,
        as_of: Some(params.as_of),
        service_tokens: hub_runtime::service_auth::ServiceTokens::new([token.clone()]),
        sources: Vec::new(),
    };
    // queues exist before anything is published (publishes are mandatory)
    let inputs_queue = hub_indicators::input_queue(&config);
    let snapshots_queue =
        QueueSpec::new("test.snapshots").bind(exchanges::INDICATOR, IndicatorSnapshot::TYPE);
    declare(&env, &[inputs_queue.clone(), snapshots_queue.clone()]).await;

    let stop = CancellationToken::new();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut rx = Snapshots { rx, seen: vec![] };
    let listener = env.broker("test-listener");
    let consumer = Consumer::new(
        listener.clone(),
        snapshots_queue.clone(),
        move |m: Incoming| {
            let tx = tx.clone();
            async move {
                let env = m.decode::<IndicatorSnapshot>()?;
                let _ = tx.send(env.data);
                Ok(())
            }
        },
    )
    .retry(env.retry_policy());
    let listening = tokio::spawn(consumer.run(stop.clone()));

    let running = hub_indicators::start(config, stop.clone())
        .await
        .expect("service starts");
    let base = format!("http://{}", running.http_addr().expect("HTTP bound"));

    // any order (sorted by message id), and a fifth of them twice
    let mut msgs = input.messages.clone();
    msgs.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    let twice: Vec<OutgoingMessage> = msgs.iter().step_by(5).cloned().collect();
    msgs.extend(twice);
    let publisher = Publisher::new(env.broker("test-publisher"));
    for chunk in msgs.chunks(200) {
        publisher.publish_batch(chunk).await.expect("published");
    }

    // --- the snapshot once every input took effect equals the truth ---
    let first = published(&mut rx, UnitList::Units2024, "with every input", |s| {
        provenance_is(s, &input)
    })
    .await;
    assert_eq!(first.as_of, params.as_of);
    assert_eq!(first.baseline, params.baseline);
    assert_eq!(first.plan_id, "lai-chau-182");
    assert_eq!(first.units.len(), 1 + 8 + 106);
    let diff = differences(&first, &truth);
    assert!(
        diff.is_empty(),
        "snapshot differs from the truth:\n{}",
        diff.join("\n")
    );
    let first_2025 = published(&mut rx, UnitList::Units2025, "on the 2025 units", |s| {
        provenance_is(s, &input)
    })
    .await;
    let diff = differences(&first_2025, &truth_2025);
    assert!(
        diff.is_empty(),
        "2025 snapshot differs:\n{}",
        diff.join("\n")
    );
    // the truth is not trivial: some credit, some not, some no data
    let (i7n, i7d) = value(&first, "12", "I7");
    assert!(i7n.unwrap_or(0.0) > 0.0 && i7n < i7d, "I7 {i7n:?}/{i7d:?}");

    // --- without the service credential: 401, before anything is computed or read ---
    let anonymous = reqwest::Client::new();
    for req in [
        anonymous.post(format!("{base}/api/v1/snapshots?units=2024")),
        anonymous.get(format!("{base}/api/v1/snapshots/latest?units=2024")),
        anonymous.get(format!("{base}/api/v1/plan")),
        anonymous
            .get(format!("{base}/api/v1/snapshots/latest/export?format=csv"))
            .bearer_auth("not-the-token-not-the-token-not-the-token"),
    ] {
        let resp = req.send().await.expect("http");
        assert_eq!(resp.status(), 401);
    }
    for open in ["/healthz", "/metrics"] {
        let resp = anonymous
            .get(format!("{base}{open}"))
            .send()
            .await
            .expect("http");
        assert_eq!(resp.status(), 200, "{open} stays open");
    }

    // --- the same inputs give the same content: no new version ---
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("header"),
    );
    let http = reqwest::Client::builder()
        .default_headers(auth)
        .build()
        .expect("client");
    let again = http
        .post(format!("{base}/api/v1/snapshots?units=2024"))
        .send()
        .await
        .expect("recompute");
    assert_eq!(again.status(), 200, "no new version for the same content");
    let again: serde_json::Value = again.json().await.expect("json");
    assert_eq!(again["created"], false);
    assert_eq!(again["snapshot"]["version"], first.version);
    assert_eq!(
        again["snapshot"]["content_hash"],
        first.content_hash.as_str()
    );
    let latest: IndicatorSnapshot = http
        .get(format!("{base}/api/v1/snapshots/latest?units=2024"))
        .send()
        .await
        .expect("latest")
        .json()
        .await
        .expect("snapshot json");
    assert_eq!(latest, first, "stored and published snapshots are the same");

    // --- a new loan to a supported HTX without credit ---
    let (t, b) = (params.as_of, params.baseline);
    let has_credit = |w: &World, idx: usize| {
        w.loans.iter().any(|l| {
            l.bad.is_none()
                && l.subject == Subject::Org(idx)
                && l.status != LoanStatus::Cancelled
                && l.disbursed_on >= b
                && l.disbursed_on <= t
        })
    };
    let idx = (0..world.organisations.len())
        .find(|&i| {
            let o = &world.organisations[i];
            let f = &o.facts;
            o.registry_id.is_some()
                && f.kind == OrgKind::Htx
                && f.farmers_union_supported
                && f.status != OrgStatus::Dissolved
                && f.established_on <= t
                && truth.unit(&f.commune_code).is_some()
                && !has_credit(&world, i)
        })
        .expect("a live supported HTX without credit");
    let org_id = world.organisations[idx].id.clone();
    let commune = world.organisations[idx].facts.commune_code.clone();
    let district = world.organisations[idx].facts.district_code.clone();
    let loan_no = world.new_loan_no(t.year());
    let mut new_loan = world
        .loans
        .iter()
        .find(|l| l.bad.is_none() && matches!(l.subject, Subject::Org(_)))
        .expect("a loan to copy")
        .clone();
    new_loan.loan_no = loan_no.clone();
    new_loan.subject = Subject::Org(idx);
    new_loan.status = LoanStatus::Disbursed;
    new_loan.disbursed_on = t.pred_opt().unwrap_or(t);
    new_loan.modified = (fetched + chrono::Duration::seconds(1)).naive_local();
    world.loans.push(new_loan.clone());
    let truth_after = world.truth(&params);
    let later = fetched + chrono::Duration::minutes(5);
    let torg = truth_after
        .organisations
        .iter()
        .find(|o| o.org_id == org_id)
        .expect("in the truth");
    assert!(
        torg.records
            .contains(&SourceRef::new("loan-fund", &loan_no))
    );
    let g2 = golden(&world, torg, 2, later.with_timezone(&Utc));
    publisher
        .publish_batch(&[
            message(&loan_no, loan_message(&new_loan, later)),
            message(&format!("{}:2", g2.organisation_id), g2.clone()),
            decision_message(
                &format!("decision:loan-fund/{loan_no}"),
                decision(
                    &SourceRef::new("loan-fund", &loan_no),
                    &org_id,
                    DecisionOutcome::Matched,
                    later.with_timezone(&Utc),
                ),
            ),
        ])
        .await
        .expect("published");
    let want_after = Inputs {
        messages: vec![],
        loans: input.loans + 1,
        automatic: input.automatic + 1,
        ..input
    };
    let second = published(&mut rx, UnitList::Units2024, "after the new loan", |s| {
        provenance_is(s, &want_after)
            && s.provenance
                .sources
                .iter()
                .any(|p| p.system == "reconciler" && p.last_sync == Some(g2.updated_at))
    })
    .await;
    assert!(second.version > first.version, "a new version");
    assert_ne!(second.content_hash, first.content_hash);
    let diff = differences(&second, &truth_after);
    assert!(diff.is_empty(), "after the loan:\n{}", diff.join("\n"));
    for unit in ["12", district.as_str(), commune.as_str()] {
        let (n0, d0) = value(&first, unit, "I7");
        let (n1, d1) = value(&second, unit, "I7");
        assert_eq!(
            n1,
            n0.map(|n| n + 1.0),
            "I7 numerator of {unit} grew by one"
        );
        assert_eq!(d1, d0, "I7 denominator of {unit} unchanged");
    }
    // nothing else changed
    for (u0, u1) in first.units.iter().zip(&second.units) {
        for (v0, v1) in u0.values.iter().zip(&u1.values) {
            if v0.indicator != "I7" {
                assert_eq!(v0, v1, "{} {} unchanged", u0.unit_code, v0.indicator);
            }
        }
    }

    // --- history, per unit, exports ---
    let hist: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/indicators/I7/history?unit=12&units=2024"
        ))
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let points = hist["history"].as_array().expect("points");
    let by_version: BTreeMap<u64, f64> = points
        .iter()
        .filter_map(|p| Some((p["version"].as_u64()?, p["value"]["numerator"].as_f64()?)))
        .collect();
    assert_eq!(by_version.get(&first.version).copied(), i7n);
    assert_eq!(
        by_version.get(&second.version).copied(),
        i7n.map(|n| n + 1.0)
    );
    let unit: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/snapshots/{}/units/{district}?units=2024",
            first.version
        ))
        .send()
        .await
        .expect("unit")
        .json()
        .await
        .expect("json");
    assert_eq!(unit["unit"]["unit_code"], district.as_str());
    assert_eq!(unit["version"], first.version);
    let csv = http
        .get(format!(
            "{base}/api/v1/snapshots/latest/export?format=csv&lang=vi&units=2024"
        ))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.expect("text");
    assert!(
        csv.starts_with("Mã đơn vị,"),
        "{}",
        &csv[..40.min(csv.len())]
    );
    assert_eq!(csv.lines().count(), 1 + 1 + 8 + 106);
    // the interchange formats, behind the same credential: a DHIS2 payload with a data value
    // per number of the snapshot's province, an SDMX-JSON message naming the version
    let dhis2: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/snapshots/{}/export?format=dhis2&units=2024",
            first.version
        ))
        .send()
        .await
        .expect("dhis2")
        .json()
        .await
        .expect("dhis2 json");
    let values = dhis2["dataValues"].as_array().expect("data values");
    let province = values
        .iter()
        .filter(|v| v["orgUnit"] == "LcP00000012" && v["dataElement"] == "CoopI07Numr")
        .map(|v| v["value"].as_str().expect("a string").to_owned())
        .collect::<Vec<_>>();
    let (i7n, _) = value(&first, "12", "I7");
    assert_eq!(province, [format!("{}", i7n.unwrap_or(-1.0))]);
    assert!(values.iter().all(|v| {
        v["comment"]
            .as_str()
            .is_some_and(|c| c.contains(&first.content_hash))
    }));
    let sdmx: serde_json::Value = http
        .get(format!(
            "{base}/api/v1/snapshots/latest/export?format=sdmx&units=2025"
        ))
        .send()
        .await
        .expect("sdmx")
        .json()
        .await
        .expect("sdmx json");
    assert!(
        sdmx["header"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("coophub-lai-chau-182-2025-v")),
        "{}",
        sdmx["header"]
    );
    let anonymous_sdmx = reqwest::Client::new()
        .get(format!("{base}/api/v1/snapshots/latest/export?format=sdmx"))
        .send()
        .await
        .expect("http");
    assert_eq!(anonymous_sdmx.status(), 401);
    // the report read back: every achieved value equals the snapshot's, rounded as shown
    for snap in [&first, &second] {
        let xlsx = http
            .get(format!(
                "{base}/api/v1/snapshots/{}/export?format=xlsx&lang=vi&units=2024",
                snap.version
            ))
            .send()
            .await
            .expect("xlsx")
            .bytes()
            .await
            .expect("bytes");
        let cells = report_values(&xlsx);
        assert_eq!(cells.len(), snap.units.len() * 10);
        let mut fractional = 0;
        for u in &snap.units {
            for (i, v) in u.values.iter().enumerate() {
                let got = &cells[&(u.unit_code.clone(), i + 1)];
                let want = match v.value {
                    Some(x) => {
                        fractional += usize::from(x.fract() != 0.0);
                        calamine::Data::Float(hub_indicators::report::rounded(x, v.unit))
                    }
                    None => calamine::Data::String("–".into()),
                };
                assert_eq!(
                    got, &want,
                    "{} {} in v{}",
                    u.unit_code, v.indicator, snap.version
                );
            }
        }
        assert!(fractional > 0, "some values needed rounding");
    }
    let page = http
        .get(format!(
            "{base}/api/v1/snapshots/latest/export?format=html&units=2024"
        ))
        .send()
        .await
        .expect("html");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("text");
    assert!(page.contains("@page { size: A4 landscape"));
    let missing = http
        .get(format!("{base}/api/v1/snapshots/999/units/12?units=2024"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
    let wrong = http
        .get(format!("{base}/api/v1/snapshots/latest?units=2023"))
        .send()
        .await
        .expect("400");
    assert_eq!(wrong.status(), 400);

    stop.cancel();
    running.stopped().await.expect("clean stop");
    listening.await.expect("joined").expect("listener stops");
    listener.close().await;
    publisher.broker().close().await;
    env.delete_queues(&[inputs_queue, snapshots_queue]).await;
    env.drop_database().await;
}

#[tokio::test]
async fn an_invalid_plan_file_stops_the_service_at_start_naming_it() {
    let dir = std::env::temp_dir().join(format!("hub-ind-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("plan.toml");
    let text = include_str!("../../../deploy/plans/lai-chau/plan.toml")
        .replace("baseline = \"2024-02-20\"", "baseline = \"2024-02-30\"");
    std::fs::write(&path, text).expect("write");
    let config = Config {
        plan_file: Some(path.clone()),
        ..Config::default()
    };
    let e = match hub_indicators::start(config, CancellationToken::new()).await {
        Ok(_) => panic!("an invalid plan must not start"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains(&path.display().to_string()), "{e}");
    assert!(
        e.contains("baseline: expected a date YYYY-MM-DD, got \"2024-02-30\""),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

//! The SQL that applies a batch of consumed messages to the projection: the messages
//! sorted by table, then one function a table (one statement each, or one per round where
//! the order of versions matters).

use chrono::Utc;
use hub_contracts::Contract;
use hub_contracts::v1::identity::{DecisionOutcome, GoldenRecord, ReconciliationDecision};
use hub_contracts::v1::source::{LoanDisbursement, NtmCommuneReport, RegistryCooperative};
use hub_contracts::v1::{FuBranch, FuOfficer, FuTraining, SourceMeta, Workbook};
use sqlx::PgConnection;
use sqlx::types::Json;

use super::{Input, i64_of, newest, serde_name, upsert_loan_rows};

/// One version of a Farmers' Union record, as `fu_records` keeps it.
struct FuRow<'a> {
    contract_type: &'static str,
    meta: &'a SourceMeta,
    workbook: &'a Workbook,
    retracted: bool,
    record: serde_json::Value,
}

/// The claimed messages of a batch, by table, in message order.
#[derive(Default)]
pub(super) struct Batch<'a> {
    golden: Vec<&'a GoldenRecord>,
    loans: Vec<&'a LoanDisbursement>,
    ntm: Vec<&'a NtmCommuneReport>,
    registry: Vec<&'a RegistryCooperative>,
    decisions: Vec<&'a ReconciliationDecision>,
    fu: Vec<FuRow<'a>>,
}

impl<'a> Batch<'a> {
    /// Adds one message's content.
    pub(super) fn push(&mut self, input: &'a Input) {
        match input {
            Input::Golden(g) => self.golden.push(g.as_ref()),
            Input::Loan(l) => self.loans.push(l.as_ref()),
            Input::Ntm(r) => self.ntm.push(r.as_ref()),
            Input::Registry(c) => self.registry.push(c.as_ref()),
            Input::Decision(d) => self.decisions.push(d.as_ref()),
            Input::Decisions(b) => self.decisions.extend(b.decisions.iter()),
            Input::FuBranch(r) => self.fu.push(FuRow {
                contract_type: FuBranch::TYPE,
                meta: &r.meta,
                workbook: &r.workbook,
                retracted: r.retracted,
                record: serde_json::to_value(r.as_ref()).unwrap_or_default(),
            }),
            Input::FuOfficer(r) => self.fu.push(FuRow {
                contract_type: FuOfficer::TYPE,
                meta: &r.meta,
                workbook: &r.workbook,
                retracted: r.retracted,
                record: serde_json::to_value(r.as_ref()).unwrap_or_default(),
            }),
            Input::FuTraining(r) => self.fu.push(FuRow {
                contract_type: FuTraining::TYPE,
                meta: &r.meta,
                workbook: &r.workbook,
                retracted: r.retracted,
                record: serde_json::to_value(r.as_ref()).unwrap_or_default(),
            }),
        }
    }

    /// Writes the batch, table by table; how many rows changed.
    pub(super) async fn write(&self, conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
        let mut changed = golden_records(conn, &self.golden).await?;
        changed += loans(conn, &self.loans).await?;
        changed += ntm_revisions(conn, &self.ntm).await?;
        changed += crate::store_versions::write(conn, &self.loans, &self.registry).await?;
        changed += registry_records(conn, &self.registry).await?;
        changed += decisions(conn, &self.decisions).await?;
        changed += fu_records(conn, &self.fu).await?;
        Ok(changed)
    }
}

/// Golden records: only the newest version of the batch can change anything.
async fn golden_records(
    conn: &mut PgConnection,
    golden: &[&GoldenRecord],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    // `version <` keeps the newest: only the newest of the batch can change anything
    let round = newest(golden, |g| g.organisation_id, |g| g.version);
    if !round.is_empty() {
        changed += sqlx::query(
            "INSERT INTO golden_records (organisation_id, version, retired, updated_at, record)
             SELECT * FROM UNNEST($1::uuid[], $2::bigint[], $3::boolean[],
                                  $4::timestamptz[], $5::jsonb[])
             ON CONFLICT (organisation_id) DO UPDATE
             SET version = EXCLUDED.version, retired = EXCLUDED.retired,
                 updated_at = EXCLUDED.updated_at, record = EXCLUDED.record
             WHERE golden_records.version < EXCLUDED.version",
        )
        .bind(round.iter().map(|g| g.organisation_id).collect::<Vec<_>>())
        .bind(round.iter().map(|g| i64_of(g.version)).collect::<Vec<_>>())
        .bind(round.iter().map(|g| g.retired).collect::<Vec<_>>())
        .bind(round.iter().map(|g| g.updated_at).collect::<Vec<_>>())
        .bind(round.iter().map(|g| Json(*g)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

/// Loans: the newest (modified, fetched) of each.
async fn loans(conn: &mut PgConnection, loans: &[&LoanDisbursement]) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    let round = newest(
        loans,
        |l| l.loan_no.clone(),
        |l| (l.modified, l.meta.fetched_at),
    );
    if !round.is_empty() {
        changed += upsert_loan_rows(
            conn,
            "INSERT INTO loans (loan_no, modified, fetched_at, record)
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[],
                                  $4::jsonb[])
             ON CONFLICT (loan_no) DO UPDATE
             SET modified = EXCLUDED.modified, fetched_at = EXCLUDED.fetched_at,
                 record = EXCLUDED.record
             WHERE (loans.modified, loans.fetched_at) < (EXCLUDED.modified, EXCLUDED.fetched_at)",
            &round,
        )
        .await?;
    }
    Ok(changed)
}

/// NTM report revisions: the latest fetch of each.
async fn ntm_revisions(
    conn: &mut PgConnection,
    ntm: &[&NtmCommuneReport],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    let round = newest(
        ntm,
        |r| (r.commune_code.clone(), r.year, r.revision),
        |r| r.meta.fetched_at,
    );
    if !round.is_empty() {
        changed += sqlx::query(
            "INSERT INTO ntm_revisions (commune_code, year, revision, status, fetched_at, record)
             SELECT * FROM UNNEST($1::text[], $2::int[], $3::bigint[], $4::text[],
                                  $5::timestamptz[], $6::jsonb[])
             ON CONFLICT (commune_code, year, revision) DO UPDATE
             SET status = EXCLUDED.status, fetched_at = EXCLUDED.fetched_at,
                 record = EXCLUDED.record
             WHERE ntm_revisions.fetched_at < EXCLUDED.fetched_at",
        )
        .bind(
            round
                .iter()
                .map(|r| r.commune_code.clone())
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|r| r.year).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|r| i64::from(r.revision))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|r| serde_name(r.status))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|r| r.meta.fetched_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|r| Json(*r)).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

/// Registry records, in successive statements by message order.
async fn registry_records(
    conn: &mut PgConnection,
    registry: &[&RegistryCooperative],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    // the registry's rule depends on the order its versions arrive in: one statement per
    // version of the same record
    for round in rounds(registry, |c| c.meta.source.id.clone()) {
        changed += sqlx::query(
            "INSERT INTO registry_records (source_id, version, fetched_at, system)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[], $4::text[])
             ON CONFLICT (source_id) DO UPDATE
             SET version = GREATEST(registry_records.version, EXCLUDED.version),
                 fetched_at = GREATEST(registry_records.fetched_at, EXCLUDED.fetched_at)
             WHERE (registry_records.version, registry_records.fetched_at)
                   < (EXCLUDED.version, EXCLUDED.fetched_at)",
        )
        .bind(
            round
                .iter()
                .map(|c| c.meta.source.id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|c| i64_of(c.version)).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|c| c.meta.fetched_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|c| c.meta.source.system.clone())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

/// Decisions: the first of each is the one kept.
async fn decisions(
    conn: &mut PgConnection,
    decisions: &[&ReconciliationDecision],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    // `DO NOTHING`: the first of a decision is the one kept
    let round = newest(decisions, |d| d.decision_id, |_| ());
    if !round.is_empty() {
        changed += sqlx::query(
            "INSERT INTO decisions
               (decision_id, at, outcome, source_system, source_id, organisation_id, by_operator)
             SELECT * FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[],
                                  $5::text[], $6::uuid[], $7::boolean[])
             ON CONFLICT (decision_id) DO NOTHING",
        )
        .bind(round.iter().map(|d| d.decision_id).collect::<Vec<_>>())
        .bind(round.iter().map(|d| d.at).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|d| serde_name(d.outcome))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|d| d.source.as_ref().map(|s| s.system.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|d| d.source.as_ref().map(|s| s.id.clone()))
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|d| d.organisation_id).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|d| {
                    d.operator.is_some()
                        || matches!(
                            d.outcome,
                            DecisionOutcome::OperatorLinked | DecisionOutcome::OperatorSeparated
                        )
                })
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

/// The Farmers' Union's records: the latest fetch per record and report date.
async fn fu_records(conn: &mut PgConnection, fu: &[FuRow<'_>]) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    // one version per record and report date: a later fetch replaces it
    let refs: Vec<&FuRow<'_>> = fu.iter().collect();
    let round = newest(
        &refs,
        |r| {
            (
                r.contract_type,
                r.meta.source.id.clone(),
                r.workbook.report_date,
            )
        },
        |r| r.meta.fetched_at,
    );
    if !round.is_empty() {
        changed += sqlx::query(
            "INSERT INTO fu_records (contract_type, source_id, report_date, sender, retracted,
                                     fetched_at, record)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::text[],
                                  $5::boolean[], $6::timestamptz[], $7::jsonb[])
             ON CONFLICT (contract_type, source_id, report_date) DO UPDATE
             SET sender = EXCLUDED.sender, retracted = EXCLUDED.retracted,
                 fetched_at = EXCLUDED.fetched_at, record = EXCLUDED.record
             WHERE fu_records.fetched_at < EXCLUDED.fetched_at",
        )
        .bind(round.iter().map(|r| r.contract_type).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|r| r.meta.source.id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|r| r.workbook.report_date)
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|r| r.workbook.sender.clone())
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|r| r.retracted).collect::<Vec<_>>())
        .bind(
            round
                .iter()
                .map(|r| r.meta.fetched_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(round.iter().map(|r| r.record.clone()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

/// Splits rows into rounds: the n-th row about a key goes in round n, so that one statement
/// per round never touches a row twice and the rows about one key apply in their order.
fn rounds<'a, T, K: Ord>(rows: &[&'a T], key: impl Fn(&T) -> K) -> Vec<Vec<&'a T>> {
    let mut seen: std::collections::BTreeMap<K, usize> = std::collections::BTreeMap::new();
    let mut out: Vec<Vec<&'a T>> = Vec::new();
    for row in rows {
        let n = seen.entry(key(row)).or_insert(0);
        if out.len() <= *n {
            out.push(Vec::new());
        }
        out[*n].push(row);
        *n += 1;
    }
    out
}

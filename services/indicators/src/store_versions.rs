//! The projection's versions for the state as of a past date ([`crate::asof`]): every
//! version of every loan (`loan_versions`, by `modified`) and the facts of every registry
//! record version (`registry_versions`, by the registry's `updated_at`), written in the
//! transaction that claims their messages ([`crate::store::Store::apply_batch`]).
//!
//! Owns these two tables' statements; reads nothing, touches no other table.

use chrono::Utc;
use hub_contracts::v1::source::{LoanDisbursement, RegistryCooperative};
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::asof::RegistryVersion;
use crate::store::{i64_of, newest, upsert_loan_rows};

/// Every version of loans and registry records (for the state as of a past date): a version
/// seen again with a later fetch replaces itself. Returns the rows written.
pub(crate) async fn write(
    tx: &mut PgConnection,
    loans: &[&LoanDisbursement],
    registry: &[&RegistryCooperative],
) -> Result<u64, sqlx::Error> {
    let mut changed = 0;
    let round = newest(
        loans,
        |l| (l.loan_no.clone(), l.modified),
        |l| l.meta.fetched_at,
    );
    if !round.is_empty() {
        changed += upsert_loan_rows(
            tx,
            "INSERT INTO loan_versions (loan_no, modified, fetched_at, record)
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::jsonb[])
             ON CONFLICT (loan_no, modified) DO UPDATE
             SET fetched_at = EXCLUDED.fetched_at, record = EXCLUDED.record
             WHERE loan_versions.fetched_at < EXCLUDED.fetched_at",
            &round,
        )
        .await?;
    }
    let round = newest(
        registry,
        |c| (c.meta.source.id.clone(), c.version),
        |c| c.meta.fetched_at,
    );
    if !round.is_empty() {
        let facts: Vec<RegistryVersion> = round.iter().map(|c| RegistryVersion::of(c)).collect();
        changed += sqlx::query(
            "INSERT INTO registry_versions (source_id, version, updated_at, fetched_at, facts)
             SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::timestamptz[],
                                  $4::timestamptz[], $5::jsonb[])
             ON CONFLICT (source_id, version) DO UPDATE
             SET updated_at = EXCLUDED.updated_at, fetched_at = EXCLUDED.fetched_at,
                 facts = EXCLUDED.facts
             WHERE registry_versions.fetched_at < EXCLUDED.fetched_at",
        )
        .bind(
            facts
                .iter()
                .map(|f| f.source_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(facts.iter().map(|f| i64_of(f.version)).collect::<Vec<_>>())
        .bind(
            facts
                .iter()
                .map(|f| f.updated_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(
            round
                .iter()
                .map(|c| c.meta.fetched_at.with_timezone(&Utc))
                .collect::<Vec<_>>(),
        )
        .bind(facts.iter().map(Json).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    }
    Ok(changed)
}

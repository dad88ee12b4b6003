//! Writing what the engine changed, in the caller's transaction: [`persist`] and one
//! function per table (identities with their golden versions), each one statement whatever
//! the number of rows.
//!
//! Owns the write SQL. Writes only this service's schema; decides nothing (what to write is
//! the engine's [`Changes`]).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use hub_contracts::v1::{GoldenRecord, ReconciliationDecision, SourceRef};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::engine::{Changes, Counters, Engine, StoredIdentity, StoredObservation};

/// What [`persist`] writes that only the engine knows, taken from it when the change was made
/// (the engine may have moved on by the time the change is written: the service prepares
/// the next batch while this one commits).
#[derive(Debug, Clone, Default)]
pub struct Rows {
    identities: Vec<StoredIdentity>,
    observations: Vec<(SourceRef, StoredObservation)>,
    counters: Counters,
}

impl Rows {
    /// The rows of what `ch` touched, as `engine` holds them now.
    pub fn of(engine: &Engine, ch: &Changes) -> Rows {
        Rows {
            identities: ch
                .identities
                .iter()
                .filter_map(|id| engine.stored_identity(*id))
                .collect(),
            observations: ch
                .observations
                .iter()
                .filter_map(|r| engine.stored_observation(r).map(|so| (r.clone(), so)))
                .collect(),
            counters: engine.counters(),
        }
    }
}

/// The last of several items with the same key (a batch may change a review item, a
/// constraint or a report twice: the later state is the one to keep), in first-seen order.
fn last_by_key<T, K: Ord>(items: &[T], key: impl Fn(&T) -> K) -> Vec<&T> {
    let mut at: BTreeMap<K, usize> = BTreeMap::new();
    let mut out: Vec<&T> = Vec::with_capacity(items.len());
    for item in items {
        match at.get(&key(item)) {
            Some(&i) => out[i] = item,
            None => {
                at.insert(key(item), out.len());
                out.push(item);
            }
        }
    }
    out
}

/// Writes what one engine operation, or a batch of them (their [`Changes`] absorbed into
/// one), changed (its golden records already built), raises the state sequence from
/// `base_seq`, and returns the new sequence; `None` when the stored sequence is no longer
/// `base_seq` (another writer committed first: nothing is written). One statement per
/// table (identities and their golden versions together), whatever the number of rows; one
/// function per statement below, called in this order (the state first, so that a
/// superseded change writes nothing; identities before the rows that refer to them).
pub async fn persist(
    conn: &mut PgConnection,
    base_seq: i64,
    rows: &Rows,
    ch: &Changes,
    goldens: &[GoldenRecord],
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    let Some(seq) = write_engine_state(conn, base_seq, rows.counters).await? else {
        return Ok(None);
    };
    write_identities_and_versions(conn, &rows.identities, goldens, now).await?;
    write_observations(conn, &rows.observations, now).await?;
    write_reviews(conn, ch).await?;
    write_constraints(conn, ch).await?;
    write_decisions(conn, ch).await?;
    write_identity_events(conn, ch).await?;
    write_reports(conn, ch).await?;
    Ok(Some(seq))
}

/// `identities` and `golden_versions`, in one statement (the versions in a data-modifying
/// CTE; the versions' foreign key to their identity is checked at commit).
///
/// `identities`: every identity the operation touched. The golden record itself goes to
/// `golden_versions` only (reads join the version the identity names); the filter columns
/// (`kind`, the codes, `in_registry`) follow the golden record when a new one was published,
/// i.e. when the identity's `golden_version` rose.
///
/// `golden_versions`: every published golden record (the current one is the version its
/// identity names).
async fn write_identities_and_versions(
    conn: &mut PgConnection,
    identities: &[StoredIdentity],
    goldens: &[GoldenRecord],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if identities.is_empty() && goldens.is_empty() {
        return Ok(());
    }
    let by_org: BTreeMap<Uuid, &GoldenRecord> =
        goldens.iter().map(|g| (g.organisation_id, g)).collect();
    let golden = |i: &StoredIdentity| by_org.get(&i.organisation_id).copied();
    sqlx::query(
        "WITH versions AS (
            INSERT INTO golden_versions (organisation_id, version, record, at)
            SELECT * FROM UNNEST($13::uuid[], $14::bigint[], $15::jsonb[], $16::timestamptz[])
            ON CONFLICT DO NOTHING)
         INSERT INTO identities (organisation_id, seq, retired, merged_into, golden_version,
                                 golden_hash, last_name, updated_at, kind, commune_code,
                                 district_code, in_registry)
         SELECT u.id, u.seq, u.retired, u.merged_into, u.golden_version, u.golden_hash,
                u.last_name, $8, u.kind, u.commune_code, u.district_code,
                COALESCE(u.in_registry, FALSE)
         FROM UNNEST($1::uuid[], $2::bigint[], $3::boolean[], $4::uuid[], $5::bigint[],
                     $6::text[], $7::text[], $9::text[], $10::text[], $11::text[],
                     $12::boolean[])
              AS u(id, seq, retired, merged_into, golden_version, golden_hash, last_name,
                   kind, commune_code, district_code, in_registry)
         ON CONFLICT (organisation_id) DO UPDATE SET
            retired = EXCLUDED.retired, merged_into = EXCLUDED.merged_into,
            golden_version = EXCLUDED.golden_version, golden_hash = EXCLUDED.golden_hash,
            last_name = EXCLUDED.last_name, updated_at = EXCLUDED.updated_at,
            kind = CASE WHEN EXCLUDED.golden_version = identities.golden_version
                        THEN identities.kind ELSE EXCLUDED.kind END,
            commune_code = CASE WHEN EXCLUDED.golden_version = identities.golden_version
                                THEN identities.commune_code ELSE EXCLUDED.commune_code END,
            district_code = CASE WHEN EXCLUDED.golden_version = identities.golden_version
                                 THEN identities.district_code ELSE EXCLUDED.district_code END,
            in_registry = CASE WHEN EXCLUDED.golden_version = identities.golden_version
                               THEN identities.in_registry ELSE EXCLUDED.in_registry END",
    )
    .bind(
        identities
            .iter()
            .map(|i| i.organisation_id)
            .collect::<Vec<_>>(),
    )
    .bind(identities.iter().map(|i| i.seq as i64).collect::<Vec<_>>())
    .bind(identities.iter().map(|i| i.retired).collect::<Vec<_>>())
    .bind(identities.iter().map(|i| i.merged_into).collect::<Vec<_>>())
    .bind(
        identities
            .iter()
            .map(|i| i.golden_version as i64)
            .collect::<Vec<_>>(),
    )
    .bind(
        identities
            .iter()
            .map(|i| i.golden_hash.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        identities
            .iter()
            .map(|i| i.last_name.clone())
            .collect::<Vec<_>>(),
    )
    .bind(now)
    .bind(
        identities
            .iter()
            .map(|i| golden(i).and_then(|g| g.kind.map(|k| k.as_str().to_owned())))
            .collect::<Vec<_>>(),
    )
    .bind(
        identities
            .iter()
            .map(|i| golden(i).and_then(|g| g.commune_code.clone()))
            .collect::<Vec<_>>(),
    )
    .bind(
        identities
            .iter()
            .map(|i| golden(i).and_then(|g| g.district_code.clone()))
            .collect::<Vec<_>>(),
    )
    .bind(
        identities
            .iter()
            .map(|i| golden(i).map(|g| g.in_registry))
            .collect::<Vec<_>>(),
    )
    .bind(
        goldens
            .iter()
            .map(|g| g.organisation_id)
            .collect::<Vec<_>>(),
    )
    .bind(goldens.iter().map(|g| g.version as i64).collect::<Vec<_>>())
    .bind(goldens.iter().map(Json).collect::<Vec<_>>())
    .bind(goldens.iter().map(|g| g.updated_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `observations`: the latest content, state and organisation of each record touched.
async fn write_observations(
    conn: &mut PgConnection,
    observations: &[(SourceRef, StoredObservation)],
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    if observations.is_empty() {
        return Ok(());
    }
    let n = observations.len();
    let (mut systems, mut ids, mut kinds, mut states, mut orgs, mut bodies) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (r, so) in observations {
        let kind = serde_json::to_value(so.observation.kind).unwrap_or(Value::Null);
        systems.push(r.system.clone());
        ids.push(r.id.clone());
        kinds.push(kind.as_str().unwrap_or("unknown").to_owned());
        states.push(so.state.as_str().to_owned());
        orgs.push(so.organisation_id);
        bodies.push(Json(&so.observation));
    }
    sqlx::query(
        "INSERT INTO observations (system, source_id, kind, state, organisation_id, observation,
                                   updated_at)
         SELECT u.*, $7 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
                                    $5::uuid[], $6::jsonb[]) AS u
         ON CONFLICT (system, source_id) DO UPDATE SET
            kind = EXCLUDED.kind, state = EXCLUDED.state,
            organisation_id = EXCLUDED.organisation_id, observation = EXCLUDED.observation,
            updated_at = EXCLUDED.updated_at",
    )
    .bind(&systems)
    .bind(&ids)
    .bind(&kinds)
    .bind(&states)
    .bind(&orgs)
    .bind(&bodies)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `review_items`: the latest state of each review item opened or closed.
async fn write_reviews(conn: &mut PgConnection, ch: &Changes) -> Result<(), sqlx::Error> {
    let reviews = last_by_key(&ch.reviews, |r| r.review_id);
    if reviews.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO review_items (review_id, status, item, created_at, decided_by, decided_at)
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[],
                              $5::text[], $6::timestamptz[])
         ON CONFLICT (review_id) DO UPDATE SET status = EXCLUDED.status, item = EXCLUDED.item,
            decided_by = EXCLUDED.decided_by, decided_at = EXCLUDED.decided_at",
    )
    .bind(reviews.iter().map(|r| r.review_id).collect::<Vec<_>>())
    .bind(
        reviews
            .iter()
            .map(|r| r.status.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(reviews.iter().map(|r| Json(*r)).collect::<Vec<_>>())
    .bind(reviews.iter().map(|r| r.created_at).collect::<Vec<_>>())
    .bind(
        reviews
            .iter()
            .map(|r| r.decided_by.clone())
            .collect::<Vec<_>>(),
    )
    .bind(reviews.iter().map(|r| r.decided_at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `constraints`: operator must-links and cannot-links, the latest per pair.
async fn write_constraints(conn: &mut PgConnection, ch: &Changes) -> Result<(), sqlx::Error> {
    let constraints = last_by_key(&ch.constraints, |c| (c.a.clone(), c.b.clone()));
    if constraints.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO constraints (a_system, a_id, b_system, b_id, kind, operator, reason,
                                  decision_id, at)
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::text[], $7::text[], $8::uuid[], $9::timestamptz[])
         ON CONFLICT (a_system, a_id, b_system, b_id) DO UPDATE SET kind = EXCLUDED.kind,
            operator = EXCLUDED.operator, reason = EXCLUDED.reason,
            decision_id = EXCLUDED.decision_id, at = EXCLUDED.at",
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.a.system.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.a.id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.b.system.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.b.id.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.kind.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.operator.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.reason.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        constraints
            .iter()
            .map(|c| c.decision_id)
            .collect::<Vec<_>>(),
    )
    .bind(constraints.iter().map(|c| c.at).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The JSON kept of a decision: what its columns do not already hold (`decision_id`,
/// `outcome`, `source`, `organisation_id`, `candidate_id` are columns; reads put them back,
/// see `store::query_log_seq`). `at` stays: the column holds microseconds, the log the
/// decision's own time.
fn slim_decision(d: &ReconciliationDecision) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        for k in [
            "decision_id",
            "outcome",
            "source",
            "organisation_id",
            "candidate_id",
        ] {
            o.remove(k);
        }
    }
    v
}

/// `decisions`: the log, in its order (`seq` follows the order of the rows), each row's JSON
/// without what its columns hold ([`slim_decision`]).
async fn write_decisions(conn: &mut PgConnection, ch: &Changes) -> Result<(), sqlx::Error> {
    if ch.decisions.is_empty() {
        return Ok(());
    }
    let d = &ch.decisions;
    sqlx::query(
        "INSERT INTO decisions (decision_id, at, outcome, system, source_id, organisation_id,
                                candidate_id, decision)
         SELECT decision_id, at, outcome, system, source_id, organisation_id, candidate_id,
                decision
         FROM UNNEST($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[],
                     $6::uuid[], $7::uuid[], $8::jsonb[]) WITH ORDINALITY
              AS u(decision_id, at, outcome, system, source_id, organisation_id,
                   candidate_id, decision, n)
         ORDER BY n
         ON CONFLICT (decision_id) DO NOTHING",
    )
    .bind(d.iter().map(|d| d.decision_id).collect::<Vec<_>>())
    .bind(d.iter().map(|d| d.at).collect::<Vec<_>>())
    .bind(
        d.iter()
            .map(|d| {
                serde_json::to_value(d.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
            .collect::<Vec<_>>(),
    )
    .bind(
        d.iter()
            .map(|d| d.source.as_ref().map(|s| s.system.clone()))
            .collect::<Vec<_>>(),
    )
    .bind(
        d.iter()
            .map(|d| d.source.as_ref().map(|s| s.id.clone()))
            .collect::<Vec<_>>(),
    )
    .bind(d.iter().map(|d| d.organisation_id).collect::<Vec<_>>())
    .bind(d.iter().map(|d| d.candidate_id).collect::<Vec<_>>())
    .bind(d.iter().map(|d| Json(slim_decision(d))).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `identity_events` and `identity_event_orgs`: merges and splits are rare: one row each,
/// and the organisations they concern.
async fn write_identity_events(conn: &mut PgConnection, ch: &Changes) -> Result<(), sqlx::Error> {
    let events = ch
        .merged
        .iter()
        .map(|m| {
            let mut orgs = vec![m.survivor];
            orgs.extend(m.absorbed.iter().copied());
            ("merged", m.decision_id, serde_json::to_value(m), orgs, m.at)
        })
        .chain(ch.splits.iter().map(|s| {
            let mut orgs = vec![s.original];
            orgs.extend(s.parts.iter().map(|p| p.organisation_id));
            ("split", s.decision_id, serde_json::to_value(s), orgs, s.at)
        }));
    for (kind, did, event, mut orgs, at) in events {
        orgs.sort_unstable();
        orgs.dedup();
        sqlx::query(
            "WITH e AS (
                INSERT INTO identity_events (decision_id, kind, event, at) VALUES ($1, $2, $3, $4)
                RETURNING seq)
             INSERT INTO identity_event_orgs (event_seq, organisation_id)
             SELECT e.seq, o FROM e, UNNEST($5::uuid[]) AS o",
        )
        .bind(did)
        .bind(kind)
        .bind(event.unwrap_or(Value::Null))
        .bind(at)
        .bind(&orgs)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// `ntm_reports`: the latest revision read of each report.
async fn write_reports(conn: &mut PgConnection, ch: &Changes) -> Result<(), sqlx::Error> {
    let reports = last_by_key(&ch.reports, |r| (r.commune_code.clone(), r.year));
    if reports.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO ntm_reports (commune_code, year, revision, entries)
         SELECT * FROM UNNEST($1::text[], $2::int[], $3::int[], $4::int[])
         ON CONFLICT (commune_code, year) DO UPDATE SET revision = EXCLUDED.revision,
            entries = EXCLUDED.entries",
    )
    .bind(
        reports
            .iter()
            .map(|r| r.commune_code.clone())
            .collect::<Vec<_>>(),
    )
    .bind(reports.iter().map(|r| r.year).collect::<Vec<_>>())
    .bind(
        reports
            .iter()
            .map(|r| r.revision as i32)
            .collect::<Vec<_>>(),
    )
    .bind(reports.iter().map(|r| r.entries as i32).collect::<Vec<_>>())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `engine_state`: the counters, and the state sequence raised from `base_seq`; returns the
/// new sequence, or `None` when the stored one is not `base_seq` (nothing changed).
async fn write_engine_state(
    conn: &mut PgConnection,
    base_seq: i64,
    c: Counters,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE engine_state SET state_seq = state_seq + 1, next_org_seq = $1,
                next_decision_seq = $2, next_review_seq = $3
         WHERE state_seq = $4
         RETURNING state_seq",
    )
    .bind(c.next_org_seq as i64)
    .bind(c.next_decision_seq as i64)
    .bind(c.next_review_seq as i64)
    .bind(base_seq)
    .fetch_optional(&mut *conn)
    .await
}

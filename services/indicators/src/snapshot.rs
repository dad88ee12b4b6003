//! Building a snapshot from computed values, and its content hash.
//!
//! Owns what "the same content" means: everything in an [`IndicatorSnapshot`] except
//! `snapshot_id`, `computed_at`, `version` (and the hash itself) and the times the sources
//! were last fetched (`provenance.sources[].last_sync`: when the hub looked, not what it
//! found), hashed with [`hub_contracts::content_hash`] over canonical JSON. Two hubs fed the
//! same records publish the same hash. Does no I/O.

use chrono::{NaiveDate, Utc};
use hub_contracts::v1::indicator::{IndicatorSnapshot, SnapshotProvenance, UnitIndicators};
use uuid::Uuid;

use crate::plan::{Plan, UnitList};

/// Fields that identify a stored version rather than describe its content.
const NOT_CONTENT: [&str; 4] = ["snapshot_id", "computed_at", "version", "content_hash"];

/// The content hash of a snapshot.
pub fn content_hash(snapshot: &IndicatorSnapshot) -> String {
    let mut value = serde_json::to_value(snapshot).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        for k in NOT_CONTENT {
            map.remove(k);
        }
    }
    if let Some(sources) = value
        .pointer_mut("/provenance/sources")
        .and_then(|s| s.as_array_mut())
    {
        for s in sources {
            if let Some(s) = s.as_object_mut() {
                s.remove("last_sync");
            }
        }
    }
    hub_contracts::content_hash(&value)
}

/// A snapshot of these values, hashed; its id, version and computation time are set when it
/// is stored.
pub fn build(
    plan: &Plan,
    list: UnitList,
    as_of: NaiveDate,
    units: Vec<UnitIndicators>,
    provenance: SnapshotProvenance,
) -> IndicatorSnapshot {
    let mut s = IndicatorSnapshot {
        snapshot_id: Uuid::nil(),
        plan_id: plan.id.clone(),
        province_code: plan.province_code.clone(),
        version: 0,
        as_of,
        baseline: plan.baseline,
        unit_list: list.as_str().to_owned(),
        computed_at: Utc::now(),
        content_hash: String::new(),
        units,
        provenance,
    };
    s.content_hash = content_hash(&s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use hub_contracts::v1::indicator::SourceProvenance;

    fn provenance() -> SnapshotProvenance {
        SnapshotProvenance {
            sources: vec![],
            reconciled_automatically: 3,
            awaiting_review: 1,
            automatic_share: Some(0.75),
        }
    }

    #[test]
    fn the_hash_ignores_identity_and_time_but_not_content() {
        let plan = Plan::builtin().expect("plan");
        let d = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let a = build(&plan, UnitList::Units2024, d, vec![], provenance());
        let mut b = a.clone();
        b.snapshot_id = Uuid::now_v7();
        b.version = 7;
        b.computed_at = Utc::now() + chrono::Duration::hours(1);
        assert_eq!(content_hash(&b), a.content_hash);
        assert_eq!(a.content_hash.len(), 64);
        let c = build(&plan, UnitList::Units2025, d, vec![], provenance());
        assert_ne!(c.content_hash, a.content_hash, "unit list is content");
        let e = build(
            &plan,
            UnitList::Units2024,
            d.succ_opt().expect("date"),
            vec![],
            provenance(),
        );
        assert_ne!(e.content_hash, a.content_hash, "as_of is content");
        let mut p = provenance();
        p.awaiting_review = 2;
        let f = build(&plan, UnitList::Units2024, d, vec![], p);
        assert_ne!(f.content_hash, a.content_hash, "provenance is content");
    }

    #[test]
    fn the_hash_ignores_when_sources_were_fetched_but_not_how_many_records_they_gave() {
        let plan = Plan::builtin().expect("plan");
        let d = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let with = |records: u64, at: chrono::DateTime<Utc>| {
            let mut p = provenance();
            p.sources = vec![SourceProvenance {
                system: "loan-fund".into(),
                records,
                last_sync: Some(at),
            }];
            build(&plan, UnitList::Units2024, d, vec![], p)
        };
        let now = Utc::now();
        let a = with(10, now);
        assert_eq!(
            with(10, now + chrono::Duration::minutes(5)).content_hash,
            a.content_hash
        );
        assert_ne!(with(11, now).content_hash, a.content_hash);
    }
}

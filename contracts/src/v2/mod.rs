//! Version 2 of the payloads whose v1 could not carry what was needed without a breaking
//! change. Published beside the v1 types they supersede (the v1 ones stay as they were for
//! the consumers bound to them).
//!
//! - [`ReconciliationDecisions`] (`reconciliation.decision.v2`): the reconciliation log in
//!   batches, one message per reconciler transaction instead of one per decision.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::v1::ReconciliationDecision;

/// Most decisions one `reconciliation.decision.v2` message carries; a transaction that made
/// more is published as several parts.
pub const MAX_DECISIONS_PER_MESSAGE: usize = 500;

/// `reconciliation.decision.v2`: the entries of the reconciliation log that one reconciler
/// transaction made (a batch of source records, an operator decision, a settle pass), in the
/// order it made them, each exactly as `reconciliation.decision.v1` carries it (personal data
/// masked). A transaction with more than 500 decisions is sent as several messages
/// (`part` of `parts`, same `batch_id`). Deduplicate on the event id, or on each decision's
/// `decision_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReconciliationDecisions {
    /// The same for every part of one transaction's decisions (derived from their ids).
    pub batch_id: Uuid,
    /// This message's place among the transaction's, from 0.
    pub part: u32,
    /// How many messages carry the transaction's decisions.
    pub parts: u32,
    /// When the transaction decided.
    pub at: DateTime<Utc>,
    #[schemars(length(min = 1, max = 500))]
    pub decisions: Vec<ReconciliationDecision>,
}

impl ReconciliationDecisions {
    /// The decisions of one transaction as messages of at most
    /// [`MAX_DECISIONS_PER_MESSAGE`] each (none when there is no decision).
    pub fn batches(decisions: &[ReconciliationDecision], at: DateTime<Utc>) -> Vec<Self> {
        if decisions.is_empty() {
            return Vec::new();
        }
        let mut ids = Vec::with_capacity(decisions.len() * 16);
        for d in decisions {
            ids.extend_from_slice(d.decision_id.as_bytes());
        }
        let batch_id = Uuid::new_v5(&Uuid::NAMESPACE_OID, &ids);
        let chunks: Vec<&[ReconciliationDecision]> =
            decisions.chunks(MAX_DECISIONS_PER_MESSAGE).collect();
        let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, c)| ReconciliationDecisions {
                batch_id,
                part: u32::try_from(i).unwrap_or(u32::MAX),
                parts,
                at,
                decisions: c.to_vec(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::DecisionOutcome;

    fn decision(n: u128) -> ReconciliationDecision {
        ReconciliationDecision {
            decision_id: Uuid::from_u128(n),
            at: DateTime::<Utc>::UNIX_EPOCH,
            outcome: DecisionOutcome::New,
            source: None,
            organisation_id: None,
            candidate_id: None,
            score: None,
            features: Default::default(),
            rule: "new".into(),
            rule_version: "t".into(),
            operator: None,
            note: None,
        }
    }

    #[test]
    fn a_large_transaction_is_split_in_parts_of_one_batch() {
        let ds: Vec<_> = (0..1201).map(decision).collect();
        let b = ReconciliationDecisions::batches(&ds, DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(b.len(), 3);
        assert!(
            b.iter()
                .all(|m| m.parts == 3 && m.batch_id == b[0].batch_id)
        );
        assert_eq!(
            b.iter().map(|m| m.decisions.len()).collect::<Vec<_>>(),
            [500, 500, 201]
        );
        let again: Vec<_> = b.into_iter().flat_map(|m| m.decisions).collect();
        assert_eq!(again, ds, "every decision once, in order");
        assert!(ReconciliationDecisions::batches(&[], DateTime::<Utc>::UNIX_EPOCH).is_empty());
        // another transaction's decisions: another batch id
        let other = ReconciliationDecisions::batches(&ds[..2], DateTime::<Utc>::UNIX_EPOCH);
        let first = ReconciliationDecisions::batches(&ds[..1], DateTime::<Utc>::UNIX_EPOCH);
        assert_ne!(other[0].batch_id, first[0].batch_id);
    }
}

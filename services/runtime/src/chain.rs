//! Hash chains that make a log tamper-evident: each row stores `hash = SHA-256(prev_hash ‖
//! "\n" ‖ canonical content)`, where `prev_hash` is the hash of the row before it (the first
//! row follows [`GENESIS`]). Editing a row changes its hash; deleting one breaks its
//! successor's link; inserting one in the middle breaks a link too. Only the tail can go
//! unnoticed on its own — which a copy of an earlier head (`--expect-head id:hash`, or an
//! agency's own exported copy) detects.
//!
//! The content is a JSON array of the row's fields in a fixed order, with object keys sorted
//! and no whitespace ([`canonical`]), so anyone can recompute a hash from an export: the
//! format is documented in `SECURITY.md` and is the same for every chained log (the console's
//! audit log, hub-inbound's per-agency exchange log). Pure: no I/O.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The `prev_hash` of a chain's first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Serialises `v` canonically: object keys sorted, no whitespace.
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The hash of a row whose content is `content` (an array of its fields) after `prev`.
pub fn link_hash(prev: &str, content: &Value) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical(content).as_bytes());
    hex::encode(h.finalize())
}

/// One row of a chained log, as exported: its id, its content and its link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChainedRow {
    pub id: i64,
    /// The hashed fields, in their fixed order.
    pub content: Value,
    /// `None` for rows written before the chain began.
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// What verifying a chain found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Rows checked (chained).
    pub rows: usize,
    /// Rows before the chain began (not covered).
    pub unchained: usize,
    /// The last row's id and hash: keep it to detect a later truncation.
    pub head: Option<(i64, String)>,
    /// The first problem, naming its row; `None` when the chain holds.
    pub problem: Option<Problem>,
}

/// The first row that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The row where the chain breaks.
    pub id: i64,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}: {}", self.id, self.what)
    }
}

/// Checks rows in id order: every hash recomputes, every `prev_hash` is the hash of the row
/// before, ids increase, and no unchained row follows a chained one. With `expect_head`
/// (a head kept from an earlier check or copy), that row must still be there, unchanged.
pub fn verify(rows: &[ChainedRow], expect_head: Option<(i64, &str)>) -> Verdict {
    let mut v = Verdict {
        rows: 0,
        unchained: 0,
        head: None,
        problem: None,
    };
    let mut prev: Option<(i64, String)> = None;
    let mut seen_head = expect_head.is_none();
    let fail = |v: &mut Verdict, id: i64, what: String| {
        v.problem = Some(Problem { id, what });
    };
    for row in rows {
        if let Some((pid, _)) = &prev
            && row.id <= *pid
        {
            fail(&mut v, row.id, format!("out of order after row {pid}"));
            return v;
        }
        let (Some(prev_hash), Some(hash)) = (&row.prev_hash, &row.hash) else {
            if v.rows > 0 {
                fail(
                    &mut v,
                    row.id,
                    "no hash, though the chain began earlier (hash removed?)".into(),
                );
                return v;
            }
            v.unchained += 1;
            continue;
        };
        let expected_prev = prev.as_ref().map(|(_, h)| h.as_str()).unwrap_or(GENESIS);
        if prev_hash != expected_prev {
            let what = match &prev {
                Some((pid, _)) => format!(
                    "its prev_hash is not the hash of row {pid}, the row before it: a row \
                     between them was deleted or inserted, or row {pid} was rewritten"
                ),
                None => "the chain's first row does not follow the genesis hash: rows \
                         before it were deleted"
                    .to_owned(),
            };
            fail(&mut v, row.id, what);
            return v;
        }
        let recomputed = link_hash(prev_hash, &row.content);
        if &recomputed != hash {
            fail(
                &mut v,
                row.id,
                "its content does not match its hash: the row was edited".into(),
            );
            return v;
        }
        if let Some((hid, hhash)) = expect_head
            && hid == row.id
        {
            if hhash != hash {
                fail(
                    &mut v,
                    row.id,
                    format!("its hash is not the expected head {hhash}"),
                );
                return v;
            }
            seen_head = true;
        }
        v.rows += 1;
        prev = Some((row.id, hash.clone()));
    }
    v.head = prev;
    if !seen_head && let Some((hid, _)) = expect_head {
        let after = v.head.as_ref().map(|(i, _)| *i).unwrap_or(0);
        fail(
            &mut v,
            hid,
            format!(
                "the expected head row is missing (the chain ends at row {after}): rows were deleted from the end"
            ),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain(n: i64) -> Vec<ChainedRow> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|id| {
                let content = json!([id, "admin", { "b": 1, "a": [id] }]);
                let hash = link_hash(&prev, &content);
                let row = ChainedRow {
                    id,
                    content,
                    prev_hash: Some(prev.clone()),
                    hash: Some(hash.clone()),
                };
                prev = hash;
                row
            })
            .collect()
    }

    #[test]
    fn canonical_sorts_keys() {
        assert_eq!(
            canonical(&json!({"b": 1, "a": {"d": [1, "x"], "c": null}})),
            r#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#
        );
    }

    #[test]
    fn an_intact_chain_holds() {
        let rows = chain(5);
        let v = verify(&rows, None);
        assert_eq!((v.rows, v.problem.clone()), (5, None));
        let (id, hash) = v.head.clone().expect("head");
        assert_eq!(id, 5);
        assert!(
            verify(&rows, Some((3, rows[2].hash.as_deref().expect("h"))))
                .problem
                .is_none()
        );
        assert!(verify(&rows, Some((5, &hash))).problem.is_none());
    }

    #[test]
    fn edits_deletions_and_truncations_name_the_row() {
        let mut rows = chain(5);
        rows[2].content = json!([3, "mallory", { "b": 1, "a": [3] }]);
        let p = verify(&rows, None).problem.expect("edited");
        assert_eq!(p.id, 3);
        assert!(p.what.contains("edited"), "{p}");

        let mut rows = chain(5);
        rows.remove(2);
        let p = verify(&rows, None).problem.expect("deleted");
        assert_eq!(p.id, 4);
        assert!(p.what.contains("row 2"), "{p}");

        let mut rows = chain(5);
        rows.remove(0);
        assert_eq!(verify(&rows, None).problem.expect("first deleted").id, 2);

        let full = chain(5);
        let head = full[4].hash.clone().expect("hash");
        let p = verify(&full[..4], Some((5, &head)))
            .problem
            .expect("truncated");
        assert_eq!(p.id, 5);
        assert!(p.what.contains("missing"), "{p}");
    }

    #[test]
    fn unchained_rows_only_before_the_chain() {
        let mut rows = chain(3);
        let legacy = ChainedRow {
            id: 0,
            content: json!([0]),
            prev_hash: None,
            hash: None,
        };
        rows.insert(0, legacy);
        let v = verify(&rows, None);
        assert_eq!((v.unchained, v.rows, v.problem), (1, 3, None));
        let mut rows = chain(3);
        rows[1].hash = None;
        assert_eq!(verify(&rows, None).problem.expect("hash removed").id, 2);
    }
}

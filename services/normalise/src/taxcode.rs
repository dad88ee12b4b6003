//! Tax codes (mã số thuế), which for a cooperative are also its registration code (mã số
//! HTX).
//!
//! This module owns:
//! - [`clean`]: keep the digits of whatever was typed (`"6200 123-456"`, `"MST: 6200123456"`);
//!   placeholders (`"N/A"`, `""`, `"-"`, all zeros) are `None`.
//! - [`check`]: the shape rule: 10 digits (`6200123456`), or 13 as the branch form
//!   10 + `-` + 3 (`6200123456-001`). No checksum is verified: the source specifications'
//!   own examples do not pass the official one, so requiring it would reject real data.
//! - [`distance`]: how far two codes are apart (edit distance over the digits), for matching a
//!   code typed with one digit wrong, missing or swapped.
//! - [`near_miss`] / [`transposition`]: *which* slip separates two codes. Two adjacent digits
//!   swapped is a typing slip of the same code; one digit different may as well be another
//!   organisation (codes are issued in sequence, so neighbours differ in one digit), which a
//!   matcher should weigh less.

use std::fmt;

use thiserror::Error;

/// A tax code of the right shape: 10 digits, optionally with a 3-digit branch suffix.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaxCode {
    /// 10 or 13 digits, nothing else.
    digits: String,
}

impl TaxCode {
    /// The 10-digit code of the entity (of the parent, for a branch).
    pub fn main(&self) -> &str {
        &self.digits[..10]
    }

    /// The 3-digit branch suffix, if any.
    pub fn branch(&self) -> Option<&str> {
        self.digits.get(10..).filter(|b| !b.is_empty())
    }

    /// Whether this is a branch code (13 digits).
    pub fn is_branch(&self) -> bool {
        self.digits.len() == 13
    }

    /// The digits only (10 or 13).
    pub fn digits(&self) -> &str {
        &self.digits
    }
}

/// The canonical form: `6200123456` or `6200123456-001`.
impl fmt::Display for TaxCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.branch() {
            Some(b) => write!(f, "{}-{b}", self.main()),
            None => f.write_str(&self.digits),
        }
    }
}

/// Why a tax code was rejected. Each variant names the value as received.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TaxCodeError {
    /// No digits at all, or a placeholder.
    #[error("tax code {value:?} is empty or a placeholder")]
    Missing { value: String },
    /// Digits, but neither 10 nor 13 of them.
    #[error("tax code {value:?} has {digits} digits, expected 10 or 13 (10-3)")]
    Length { value: String, digits: usize },
}

/// The digits of `raw`, or `None` when there are none or they are a placeholder (all
/// zeros). Spaces, dashes, dots and any label around the number are dropped.
///
/// ```
/// use hub_normalise::taxcode::clean;
/// assert_eq!(clean(" 6200-123.456 ").as_deref(), Some("6200123456"));
/// assert_eq!(clean("N/A"), None);
/// ```
pub fn clean(raw: &str) -> Option<String> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.bytes().all(|b| b == b'0') {
        None
    } else {
        Some(digits)
    }
}

/// Checks the shape of `raw` after [`clean`]ing it: 10 digits, or 13 (branch form).
///
/// ```
/// use hub_normalise::taxcode::check;
/// assert_eq!(check("6200123456-001").unwrap().to_string(), "6200123456-001");
/// assert!(check("620012345").is_err());
/// ```
pub fn check(raw: &str) -> Result<TaxCode, TaxCodeError> {
    let digits = clean(raw).ok_or_else(|| TaxCodeError::Missing {
        value: raw.to_owned(),
    })?;
    match digits.len() {
        10 | 13 => Ok(TaxCode { digits }),
        n => Err(TaxCodeError::Length {
            value: raw.to_owned(),
            digits: n,
        }),
    }
}

/// Edit distance (insert, delete, substitute, swap two adjacent) between the digits of two
/// codes; `None` when either has no digits. `Some(0)` means the same code however typed;
/// `Some(1)` is one digit wrong, missing, extra or swapped.
///
/// Compares all digits: to ignore branch suffixes, compare [`TaxCode::main`]s.
///
/// ```
/// use hub_normalise::taxcode::distance;
/// assert_eq!(distance("6200123456", "6200 123 456"), Some(0));
/// assert_eq!(distance("6200123456", "620012356"), Some(1));
/// assert_eq!(distance("6200123456", ""), None);
/// ```
pub fn distance(a: &str, b: &str) -> Option<usize> {
    let a = clean(a)?;
    let b = clean(b)?;
    Some(crate::text::edit_distance(&a, &b))
}

/// How two codes differ, when they differ by one slip at most (see [`near_miss`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearMiss {
    /// The same digits.
    Same,
    /// Two adjacent digits swapped; `at` is the index (in the digits) of the first of them.
    Transposed { at: usize },
    /// One digit replaced by another, at `at`.
    Substituted { at: usize },
    /// One digit more on one side (or missing on the other), at `at` of the longer.
    Indel { at: usize },
}

/// The one slip that separates the digits of two codes, or `None` when either has no
/// digits or they are further apart. A code typed with two digits swapped (`6200123456` /
/// `6200124356`) is [`NearMiss::Transposed`]; neighbours in the register (`…456` / `…457`)
/// are [`NearMiss::Substituted`].
///
/// ```
/// use hub_normalise::taxcode::{near_miss, NearMiss};
/// assert_eq!(near_miss("6200123456", "6200124356"), Some(NearMiss::Transposed { at: 6 }));
/// assert_eq!(near_miss("6200123456", "6200123457"), Some(NearMiss::Substituted { at: 9 }));
/// assert_eq!(near_miss("6200 123 456", "6200123456"), Some(NearMiss::Same));
/// assert_eq!(near_miss("6200123456", "6200654321"), None);
/// ```
pub fn near_miss(a: &str, b: &str) -> Option<NearMiss> {
    let a = clean(a)?;
    let b = clean(b)?;
    near_miss_digits(a.as_bytes(), b.as_bytes())
}

/// [`near_miss`] over digits already cleaned (no allocation).
pub fn near_miss_digits(a: &[u8], b: &[u8]) -> Option<NearMiss> {
    if a == b {
        return Some(NearMiss::Same);
    }
    let first = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if a.len() == b.len() {
        let (ra, rb) = (&a[first..], &b[first..]);
        if ra[1..] == rb[1..] {
            return Some(NearMiss::Substituted { at: first });
        }
        if ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..] {
            return Some(NearMiss::Transposed { at: first });
        }
        return None;
    }
    let (long, short) = if a.len() > b.len() { (a, b) } else { (b, a) };
    (long.len() == short.len() + 1 && long[first + 1..] == short[first..])
        .then_some(NearMiss::Indel { at: first })
}

/// Whether the two codes are the same but for two adjacent digits swapped: the index of
/// the first of them.
///
/// ```
/// use hub_normalise::taxcode::transposition;
/// assert_eq!(transposition("6200123456", "2600123456"), Some(0));
/// assert_eq!(transposition("6200123456", "6200123457"), None);
/// ```
pub fn transposition(a: &str, b: &str) -> Option<usize> {
    match near_miss(a, b)? {
        NearMiss::Transposed { at } => Some(at),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_keeps_digits_only() {
        assert_eq!(clean("6200123456").as_deref(), Some("6200123456"));
        assert_eq!(clean("6200 123 456").as_deref(), Some("6200123456"));
        assert_eq!(clean("6200-123-456").as_deref(), Some("6200123456"));
        assert_eq!(clean("6200.123.456").as_deref(), Some("6200123456"));
        assert_eq!(clean("MST: 6200123456").as_deref(), Some("6200123456"));
        assert_eq!(clean("6200123456-001").as_deref(), Some("6200123456001"));
        assert_eq!(clean("\u{00A0}6200123456\t").as_deref(), Some("6200123456"));
        // full-width digits are not ASCII digits: not a code
        assert_eq!(clean("６２００"), None);
    }

    #[test]
    fn placeholders_are_none() {
        for p in [
            "",
            "   ",
            "N/A",
            "n/a",
            "-",
            "--",
            "không có",
            "chưa có",
            "0000000000",
            "null",
        ] {
            assert_eq!(clean(p), None, "{p:?}");
            assert_eq!(
                check(p),
                Err(TaxCodeError::Missing {
                    value: p.to_owned()
                })
            );
        }
    }

    #[test]
    fn check_accepts_ten_and_branch_form() {
        let t = check("6200123456").unwrap();
        assert_eq!(t.main(), "6200123456");
        assert_eq!(t.branch(), None);
        assert!(!t.is_branch());
        assert_eq!(t.to_string(), "6200123456");

        let b = check("6200123456-001").unwrap();
        assert!(b.is_branch());
        assert_eq!(b.main(), "6200123456");
        assert_eq!(b.branch(), Some("001"));
        assert_eq!(b.digits(), "6200123456001");
        assert_eq!(b.to_string(), "6200123456-001");
        assert_eq!(check("6200 123 456 - 001").unwrap(), b);

        // not checksum-valid, as in the specs: accepted
        assert!(check("6200123456").is_ok());
        assert!(check("6200000001").is_ok());
    }

    #[test]
    fn check_rejects_wrong_length_naming_the_value() {
        let e = check("620012345").unwrap_err();
        assert_eq!(
            e,
            TaxCodeError::Length {
                value: "620012345".into(),
                digits: 9
            }
        );
        assert!(e.to_string().contains("\"620012345\""));
        assert!(check("62001234567").is_err());
        assert!(check("6200123456-01").is_err());
        assert!(check("N/A").unwrap_err().to_string().contains("N/A"));
    }

    #[test]
    fn distance_finds_near_misses() {
        assert_eq!(distance("6200123456", "6200123456"), Some(0));
        assert_eq!(distance("6200123456", "6200-123-456"), Some(0));
        assert_eq!(distance("6200123456", "6200123457"), Some(1)); // one wrong
        assert_eq!(distance("6200123456", "620012345"), Some(1)); // one missing
        assert_eq!(distance("6200123456", "62001234566"), Some(1)); // one extra
        assert_eq!(distance("6200123456", "6200124356"), Some(1)); // swapped
        assert_eq!(distance("6200123456", "6200654321"), Some(5));
        assert_eq!(distance("6200123456", "6200123456-001"), Some(3));
        assert_eq!(distance("N/A", "6200123456"), None);
        assert_eq!(distance("6200123456", ""), None);
    }

    #[test]
    fn near_misses_say_which_slip() {
        use NearMiss::*;
        assert_eq!(near_miss("6200123456", "6200-123-456"), Some(Same));
        assert_eq!(
            near_miss("6200123456", "6200124356"),
            Some(Transposed { at: 6 })
        );
        assert_eq!(
            near_miss("6200123456", "6200123465"),
            Some(Transposed { at: 8 })
        );
        assert_eq!(
            near_miss("6200123456", "2600123456"),
            Some(Transposed { at: 0 })
        );
        assert_eq!(
            near_miss("6200123456", "6200123457"),
            Some(Substituted { at: 9 })
        );
        assert_eq!(near_miss("6200123456", "620012345"), Some(Indel { at: 9 }));
        assert_eq!(near_miss("620012345", "6200123456"), Some(Indel { at: 9 }));
        assert_eq!(near_miss("6200123456", "6201234566"), None);
        assert_eq!(near_miss("6200123456", "6200213465"), None); // two swaps
        assert_eq!(near_miss("6200123456", "6200132465"), None);
        assert_eq!(near_miss("6200123456", "N/A"), None);
        // a swap of equal digits is no swap at all
        assert_eq!(near_miss("6200123456", "6200123456"), Some(Same));
        assert_eq!(transposition("6200123456", "6200124356"), Some(6));
        assert_eq!(transposition("6200123456", "6200123457"), None);
        assert_eq!(transposition("6200123456", "6200123456"), None);
        // agrees with the distance
        for (a, b) in [
            ("6200123456", "6200124356"),
            ("6200123456", "6200123457"),
            ("6200123456", "62001234567"),
        ] {
            assert_eq!(distance(a, b), Some(1), "{a} {b}");
            assert!(near_miss(a, b).is_some());
        }
    }
}

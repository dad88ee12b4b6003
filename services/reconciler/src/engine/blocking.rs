//! Blocking: which observations are worth scoring against a new one, so that the cost per
//! observation stays bounded and the whole run grows near-linearly, never quadratically.
//!
//! Owns the blocking keys and the inverted index (key → observations); decides nothing about
//! a match (that is [`super::score`]'s) and keeps no identity. Keys:
//!
//! | key | scope | finds |
//! |---|---|---|
//! | `C` registration code (10 digits) | province | the same code |
//! | `D` code with one digit deleted (each position) | province | a code one digit wrong, missing or swapped |
//! | `P` phone (E.164) | province | the same representative's phone |
//! | `R` representative's normalised name | district | the same representative |
//! | `N` each pair of distinctive name words (places, products, numbers) | district | names sharing two words |
//! | `M` a distinctive word of a name with a single one | district | one-word names |
//! | `J` distinctive words glued | district | names spaced differently |
//!
//! District scope: an observation whose district is unknown is indexed under `?` and
//! queried under every district. At query time keys are visited from the most selective;
//! a key whose list is longer than [`BROAD`] is skipped once more selective keys found
//! candidates, no further key is read once [`MAX_VISITS`] entries were, and lists are never
//! read past [`SCAN_LIMIT`]. Candidates are ranked by the
//! keys they share (rarer keys weigh more) and only the best [`MAX_CANDIDATES`] identities
//! are scored in full.

use std::collections::HashMap;

use super::features::{Features, Interner, TokClass, fnv};

/// A key list longer than this is skipped when more selective keys already found candidates.
pub const BROAD: usize = 400;
/// A key list is never read past this many entries.
pub const SCAN_LIMIT: usize = 4000;
/// Once candidates were found, no further key is read after this many entries in all (the
/// most selective keys come first).
pub const MAX_VISITS: usize = 1500;
/// Identities scored in full per observation.
pub const MAX_CANDIDATES: usize = 12;
/// Distinctive words used for pair keys.
const MAX_PAIR_WORDS: usize = 6;

const DISTRICTS: &[&str] = &["105", "106", "107", "108", "109", "110", "111", "112"];

/// What a key is, for weighing candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Code,
    CodeNear,
    Phone,
    Rep,
    Pair,
    Single,
    Joined,
}

impl KeyKind {
    pub fn weight(self) -> f64 {
        match self {
            KeyKind::Code => 10.0,
            KeyKind::CodeNear => 4.0,
            KeyKind::Phone => 5.0,
            KeyKind::Rep => 2.5,
            KeyKind::Pair => 1.5,
            KeyKind::Single => 1.0,
            KeyKind::Joined => 3.0,
        }
    }
}

fn key(parts: &[&[u8]]) -> u64 {
    let mut buf = Vec::with_capacity(64);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.push(0x1f);
        }
        buf.extend_from_slice(p);
    }
    fnv(&buf)
}

/// The keys an observation is indexed under (`query = false`) or looked up with
/// (`query = true`: every district when its own is unknown, and code deletions).
pub fn keys(f: &Features, interner: &Interner, query: bool, out: &mut Vec<(u64, KeyKind)>) {
    out.clear();
    if let Some(c) = &f.code {
        let d = c.digits.as_bytes();
        if c.is_full() {
            out.push((key(&[b"C", d]), KeyKind::Code));
        }
        if d.len() == 10 {
            for i in 0..d.len() {
                let mut v = d.to_vec();
                v.remove(i);
                out.push((key(&[b"D", &v]), KeyKind::CodeNear));
            }
        } else if d.len() == 9 {
            out.push((key(&[b"D", d]), KeyKind::CodeNear));
        }
    }
    if let Some(p) = &f.phone {
        out.push((key(&[b"P", p.as_bytes()]), KeyKind::Phone));
    }
    let own = f.district.as_deref().unwrap_or("?");
    let scopes: Vec<&str> = if query {
        if f.district.is_some() {
            vec![own, "?"]
        } else {
            DISTRICTS.iter().copied().chain(["?"]).collect()
        }
    } else {
        vec![own]
    };
    let words: Vec<&str> = f
        .tokens
        .iter()
        .filter(|t| t.class != TokClass::Sector)
        .take(MAX_PAIR_WORDS)
        .map(|t| interner.get(t.id))
        .collect();
    let joined = f.joined.to_le_bytes();
    for scope in scopes {
        let s = scope.as_bytes();
        if let Some((_, r)) = &f.rep {
            out.push((key(&[b"R", s, r.as_bytes()]), KeyKind::Rep));
        }
        if words.len() == 1 || query {
            for w in &words {
                out.push((key(&[b"M", s, w.as_bytes()]), KeyKind::Single));
            }
        }
        for i in 0..words.len() {
            for j in i + 1..words.len() {
                let (a, b) = if words[i] <= words[j] {
                    (words[i], words[j])
                } else {
                    (words[j], words[i])
                };
                out.push((key(&[b"N", s, a.as_bytes(), b.as_bytes()]), KeyKind::Pair));
            }
        }
        if !words.is_empty() {
            out.push((key(&[b"J", s, &joined]), KeyKind::Joined));
        }
    }
    out.sort_unstable_by_key(|k| k.0);
    out.dedup_by_key(|k| k.0);
}

/// The inverted index: key → observation slots, in insertion order.
#[derive(Debug, Default)]
pub struct Index {
    postings: HashMap<u64, Vec<u32>>,
}

impl Index {
    pub fn insert(&mut self, keys: &[(u64, KeyKind)], obs: u32) {
        for (k, _) in keys {
            self.postings.entry(*k).or_default().push(obs);
        }
    }

    pub fn remove(&mut self, keys: &[(u64, KeyKind)], obs: u32) {
        for (k, _) in keys {
            if let Some(list) = self.postings.get_mut(k) {
                list.retain(|o| *o != obs);
                if list.is_empty() {
                    self.postings.remove(k);
                }
            }
        }
    }

    pub fn get(&self, k: u64) -> &[u32] {
        self.postings.get(&k).map_or(&[], Vec::as_slice)
    }

    pub fn len(&self) -> usize {
        self.postings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}

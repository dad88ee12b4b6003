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
//! | `G` representative's given name and a place word of the name | district | the same representative written another way (`Văn Minh`, `Minh Lò Văn`) |
//! | `N` each pair of distinctive name words (places, products, numbers) | district | names sharing two words, or one with two letters swapped |
//! | `M` a distinctive word of a name with a single one | district | one-word names |
//! | `J` distinctive words glued | district | names spaced differently |
//! | `W` every word of the name, sector words too, in any order | district | the same name, among namesakes of other sectors |
//! | `K` the name's place words and numbers, in any order | commune, and its 2025 unit | the same place and number in the same commune, whatever products or sectors the names add or drop (`HTX Giang Ma số 2` finds `HTX NN dược liệu Giang Ma số 2` among the district's many `… Giang Ma số 2`) |
//!
//! District scope: an observation whose district is unknown is indexed under `?` and
//! queried under every district; one that names a post-reform unit is also queried under
//! the districts that unit's old communes were in. At query time keys are visited from the
//! most selective;
//! a key whose list is longer than [`BROAD`] is skipped once more selective keys found
//! candidates, no further key is read once [`MAX_VISITS`] entries were, and lists are never
//! read past [`SCAN_LIMIT`]. Candidates are ranked by the
//! keys they share (rarer keys weigh more; each key once per identity, however many of its
//! records it hits) and only the best [`MAX_CANDIDATES`] identities are scored in full.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::features::{Features, Interner, MixState, TokClass, Unit};

/// A key list longer than this is skipped when more selective keys already found candidates.
pub const BROAD: usize = 64;
/// A key list is never read past this many entries.
pub const SCAN_LIMIT: usize = 1000;
/// Once candidates were found, no further key is read after this many entries in all (the
/// most selective keys come first).
pub const MAX_VISITS: usize = 128;
/// Identities scored in full per observation.
pub const MAX_CANDIDATES: usize = 12;
/// Distinctive words used for pair keys.
const MAX_PAIR_WORDS: usize = 6;
/// Place words of a name paired with its representative's given name.
const MAX_GIVEN_PLACES: usize = 3;

/// The districts of every province served (`REFERENCE_DIRS`; Lai Châu's eight by default), as
/// blocking scopes: where a record of unknown district is looked for.
fn district_scopes() -> &'static [[u8; 8]] {
    static SCOPES: std::sync::OnceLock<Vec<[u8; 8]>> = std::sync::OnceLock::new();
    SCOPES.get_or_init(|| {
        hub_normalise::reference::Reference::loaded()
            .districts()
            .iter()
            .map(|d| Unit::new(&d.code).key_bytes())
            .collect()
    })
}

/// What a key is, for weighing candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Code,
    CodeNear,
    Phone,
    Rep,
    RepGiven,
    Pair,
    Single,
    Joined,
    Whole,
    Commune,
}

impl KeyKind {
    pub fn weight(self) -> f64 {
        match self {
            KeyKind::Code => 10.0,
            KeyKind::CodeNear => 4.0,
            KeyKind::Phone => 5.0,
            KeyKind::Rep => 2.5,
            KeyKind::RepGiven => 2.0,
            KeyKind::Pair => 1.5,
            KeyKind::Single => 1.0,
            KeyKind::Joined => 3.0,
            KeyKind::Whole => 2.0,
            KeyKind::Commune => 3.0,
        }
    }
}

/// FNV-1a over the parts, a separator between them (as [`fnv`] of the joined bytes).
fn key(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The keys an observation is indexed under (`query = false`) or looked up with
/// (`query = true`: every district when its own is unknown, and code deletions). Name words
/// enter keys by their letters in order ([`Interner::letters`]: `Nmậ` finds `Nậm`),
/// representatives by their interned ids: keys only ever meet keys of the same
/// engine.
pub fn keys(f: &Features, interner: &Interner, query: bool, out: &mut Vec<(u64, KeyKind)>) {
    out.clear();
    if let Some(c) = &f.code {
        let d = c.digits();
        if c.is_full() {
            out.push((key(&[b"C", d]), KeyKind::Code));
        }
        if d.len() == 10 {
            let mut v = [0u8; 9];
            for i in 0..d.len() {
                v[..i].copy_from_slice(&d[..i]);
                v[i..].copy_from_slice(&d[i + 1..]);
                out.push((key(&[b"D", &v]), KeyKind::CodeNear));
            }
        } else if d.len() == 9 {
            out.push((key(&[b"D", d]), KeyKind::CodeNear));
        }
    }
    if let Some(p) = f.phone {
        out.push((key(&[b"P", &p.to_le_bytes()]), KeyKind::Phone));
    }
    let unknown: [u8; 8] = *b"?\0\0\0\0\0\0\0";
    let own = f.district.map_or(unknown, Unit::key_bytes);
    let mut scopes: Vec<[u8; 8]> = vec![own];
    if query {
        // its own district and those of a post-reform unit it names; knowing none, every
        // district; and always the records of unknown district
        scopes.clear();
        scopes.extend(f.district.map(Unit::key_bytes));
        scopes.extend(f.near_districts.iter().map(|d| d.key_bytes()));
        if scopes.is_empty() {
            scopes.extend_from_slice(district_scopes());
        }
        scopes.push(unknown);
    }
    // words by their letters in order, so that two letters swapped find the word
    let mut words: Vec<[u8; 4]> = f
        .tokens
        .iter()
        .filter(|t| t.class != TokClass::Sector)
        .take(MAX_PAIR_WORDS)
        .map(|t| interner.letters(t.id).to_le_bytes())
        .collect();
    // a pair is the same whichever word comes first
    words.sort_unstable_by_key(|w| u32::from_le_bytes(*w));
    words.dedup();
    let joined = f.joined.to_le_bytes();
    // the whole name, sector words too (in any order): among namesakes that share every
    // distinctive word, the one of the same sectors ranks first
    // (hashed once here, like `joined`, rather than once per scope)
    let whole = {
        let mut all: Vec<u32> = f.tokens.iter().map(|t| interner.letters(t.id)).collect();
        all.sort_unstable();
        all.dedup();
        let bytes: Vec<u8> = all.iter().flat_map(|w| w.to_le_bytes()).collect();
        key(&[&bytes]).to_le_bytes()
    };
    let rep = f.rep.map(u32::to_le_bytes);
    // the given name beside each place word of the name: within a district, few of a
    // place's organisations are led by a person of one given name
    let places: Vec<[u8; 4]> = f
        .tokens
        .iter()
        .filter(|t| t.class == TokClass::Place)
        .take(MAX_GIVEN_PLACES)
        .map(|t| interner.letters(t.id).to_le_bytes())
        .collect();
    let given: Vec<[u8; 4]> = f.rep_given.iter().map(|g| g.to_le_bytes()).collect();
    for s in &scopes {
        if let Some(r) = &rep {
            out.push((key(&[b"R", s, r]), KeyKind::Rep));
        }
        for g in &given {
            for p in &places {
                out.push((key(&[b"G", s, g, p]), KeyKind::RepGiven));
            }
        }
        if words.len() == 1 || query {
            for w in &words {
                out.push((key(&[b"M", s, w]), KeyKind::Single));
            }
        }
        for i in 0..words.len() {
            for j in i + 1..words.len() {
                out.push((key(&[b"N", s, &words[i], &words[j]]), KeyKind::Pair));
            }
        }
        if !words.is_empty() {
            out.push((key(&[b"J", s, &joined]), KeyKind::Joined));
            out.push((key(&[b"W", s, &whole]), KeyKind::Whole));
        }
    }
    // the name's places and numbers together, within its own commune and its 2025 unit: a
    // name that says little more than its place and number (`HTX Giang Ma số 2`) shares
    // them with every namesake of that place in the district, too many to read them all
    // once keys read earlier found candidates; its own commune's are few, and the ones it
    // most likely means, whatever products or sectors either name adds
    let core: Vec<u8> = {
        let mut v: Vec<u32> = f
            .tokens
            .iter()
            .filter(|t| matches!(t.class, TokClass::Place | TokClass::Number))
            .map(|t| interner.letters(t.id))
            .collect();
        v.sort_unstable();
        v.dedup();
        v.iter().flat_map(|w| w.to_le_bytes()).collect()
    };
    if !core.is_empty() {
        for u in [f.commune, f.unit_2025].into_iter().flatten() {
            out.push((key(&[b"K", &u.key_bytes(), &core]), KeyKind::Commune));
        }
    }
    out.sort_unstable_by_key(|k| k.0);
    out.dedup_by_key(|k| k.0);
}

/// The inverted index: key → observation slots, in insertion order.
#[derive(Debug, Default)]
pub struct Index {
    postings: HashMap<u64, Vec<u32>, MixState>,
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
        let list = self.postings.get(&k).map_or(&[][..], Vec::as_slice);
        LOOKUPS.with(|c| c.count(list.len()));
        list
    }

    pub fn len(&self) -> usize {
        self.postings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.postings.is_empty()
    }
}

/// What key lists the lookups of every thread of the process met ([`Index::get`], all
/// engines): for reports on how blocking grows with a world.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Key lists looked up.
    pub lookups: u64,
    /// Entries in them (what a lookup could read; the engine reads at most [`SCAN_LIMIT`] of
    /// a list and stops after [`MAX_VISITS`] once it has candidates).
    pub entries: u64,
    /// The longest list met.
    pub longest: usize,
}

/// One thread's counts: written by that thread only (no contention), read by
/// [`lookup_stats`] from any. Aligned to a cache line so that two threads' counts never
/// share one.
#[derive(Debug, Default)]
#[repr(align(64))]
struct ThreadLookups {
    lookups: AtomicU64,
    entries: AtomicU64,
    longest: AtomicU64,
}

impl ThreadLookups {
    fn count(&self, len: usize) {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        self.entries.fetch_add(len as u64, Ordering::Relaxed);
        self.longest.fetch_max(len as u64, Ordering::Relaxed);
    }
}

/// Every thread's counts (a thread's stay after it ends: they were looked up all the same).
static ALL_LOOKUPS: Mutex<Vec<Arc<ThreadLookups>>> = Mutex::new(Vec::new());

thread_local! {
    static LOOKUPS: Arc<ThreadLookups> = {
        let mine = Arc::new(ThreadLookups::default());
        if let Ok(mut all) = ALL_LOOKUPS.lock() {
            all.push(Arc::clone(&mine));
        }
        mine
    };
}

/// The process's lookup counts so far, every thread's (the engine's own and the pool that
/// counts the weight estimate's pairs).
pub fn lookup_stats() -> LookupStats {
    let mut total = LookupStats::default();
    if let Ok(all) = ALL_LOOKUPS.lock() {
        for t in all.iter() {
            total.lookups += t.lookups.load(Ordering::Relaxed);
            total.entries += t.entries.load(Ordering::Relaxed);
            total.longest = total
                .longest
                .max(t.longest.load(Ordering::Relaxed) as usize);
        }
    }
    total
}

//! Features: an [`Observation`] normalised into what the scorer compares, through
//! `hub-normalise` (the one place the hub folds Vietnamese text, expands abbreviations,
//! resolves addresses, cleans tax codes and phones).
//!
//! Owns [`Features`] and the token interner. Pure: the same observation gives the same
//! features; token ids depend on the order words were first seen, but only their equality
//! is ever used. Extraction is two steps: [`prepare`] reads a record (the costly part, no
//! shared state, so a batch is read on every core) and [`Prepared::intern`] turns the words
//! into ids in the engine's order, so that where a record was read changes nothing.

use std::collections::HashMap;

use chrono::Datelike;

use hub_contracts::v1::{BorrowerType, NtmCommuneReport, OrgKind};
use hub_normalise::orgname::{self, OrgKindHint};
use hub_normalise::{address, person, phone, reference::Reference, taxcode, text};

use super::observation::{Observation, ObservationKind};

/// What a name token says about identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TokClass {
    /// A place or any other distinctive word.
    Place,
    /// A product (`che`, `duoc lieu`), canonical: near-namesakes differ by these.
    Product,
    /// A number (`số 2`, `thôn 3`): names that differ only by one are different.
    Number,
    /// A sector word (`nong`, `nghiep`, `dich`, `vu`): says little, but a different sector
    /// where both names state one is a different organisation.
    Sector,
}

/// An interned token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tok {
    pub id: u32,
    pub class: TokClass,
    /// The word names the commune, district or province its record is in (it is in the
    /// record's [`Features::local`]).
    pub local: bool,
    /// A place word its name spells in ASCII amid diacritics that is also an ambiguous
    /// product word ([`orgname::OrgName::ascii_product_words`]).
    pub maybe_product: bool,
}

/// The kind an observation is of, as far as it can be told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KindClass {
    Htx,
    Tht,
    Lhhtx,
    /// A household (borrower type, or a person's name with no legal form): never an
    /// organisation.
    Household,
    /// An enterprise named as one (`Công ty …`).
    Enterprise,
    Unknown,
}

impl KindClass {
    pub fn from_org(k: OrgKind) -> KindClass {
        match k {
            OrgKind::Htx => KindClass::Htx,
            OrgKind::Tht => KindClass::Tht,
            OrgKind::Lhhtx => KindClass::Lhhtx,
        }
    }
}

/// Longest code kept (digits).
const CODE_MAX: usize = 11;

/// A cleaned registration / tax code, inline (8 to 11 digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    digits: [u8; CODE_MAX],
    len: u8,
}

impl Code {
    /// Digits only; for a 13-digit branch code, its 10-digit main part. `None` outside 8 to
    /// 11 digits.
    pub fn new(digits: &str) -> Option<Code> {
        let d = digits.as_bytes();
        if !(8..=CODE_MAX).contains(&d.len()) || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut c = Code {
            digits: [0; CODE_MAX],
            len: d.len() as u8,
        };
        c.digits[..d.len()].copy_from_slice(d);
        Some(c)
    }

    /// The digits (ASCII).
    pub fn digits(&self) -> &[u8] {
        &self.digits[..usize::from(self.len)]
    }

    pub fn is_full(&self) -> bool {
        self.len == 10
    }

    /// Optimal string alignment distance between two codes, what
    /// `hub_normalise::text::edit_distance` gives for their digits, on a table the size of a
    /// code (codes are compared for every pair scored).
    pub fn distance(&self, other: &Code) -> usize {
        let (a, b) = (self.digits(), other.digits());
        if a == b {
            return 0;
        }
        let (n, m) = (a.len(), b.len());
        let (mut prev2, mut prev, mut cur) =
            ([0usize; CODE_MAX + 1], [0; CODE_MAX + 1], [0; CODE_MAX + 1]);
        for (j, cell) in prev.iter_mut().enumerate().take(m + 1) {
            *cell = j;
        }
        for i in 1..=n {
            cur[0] = i;
            for j in 1..=m {
                let cost = usize::from(a[i - 1] != b[j - 1]);
                let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    v = v.min(prev2[j - 2] + 1);
                }
                cur[j] = v;
            }
            (prev2, prev, cur) = (prev, cur, prev2);
        }
        prev[m]
    }
}

/// An administrative unit code (commune, district), compact: a code of digits is kept as its
/// number tagged with its length (`03386` is not `3386`), anything else as a hash. Equal
/// codes give equal units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unit(std::num::NonZeroU64);

impl Unit {
    pub fn new(code: &str) -> Unit {
        let b = code.as_bytes();
        let v = if !b.is_empty() && b.len() <= 15 && b.iter().all(u8::is_ascii_digit) {
            let n = b.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            ((b.len() as u64) << 56) | n
        } else {
            fnv(b) | (1 << 63)
        };
        Unit(std::num::NonZeroU64::new(v).unwrap_or(std::num::NonZeroU64::MIN))
    }

    /// Bytes that stand for the unit in a blocking key.
    pub fn key_bytes(self) -> [u8; 8] {
        self.0.get().to_le_bytes()
    }
}

/// Everything the scorer and the blocker read, computed once per observation content. Kept
/// compact and mostly inline (codes, units and the phone are numbers, the representative an
/// interned id): scoring a pair reads two of these, from anywhere in a large engine.
#[derive(Debug, Clone)]
pub struct Features {
    pub obs_kind: ObservationKind,
    pub kind: KindClass,
    /// Whether a system declared the kind (rather than the name suggesting it).
    pub kind_declared: bool,
    pub person_like: bool,
    /// The name was written without diacritics: a product word may be a place word
    /// (`nam`: nấm the mushroom, or Nậm in a place name).
    pub ascii: bool,
    pub code: Option<Code>,
    /// Distinctive and sector tokens, sorted, without duplicates.
    pub tokens: Vec<Tok>,
    /// Hash of the canonical name (abbreviations expanded, unit words dropped).
    pub canonical: u64,
    /// Hash of the distinctive words glued together (spacing-insensitive).
    pub joined: u64,
    pub commune: Option<Unit>,
    pub district: Option<Unit>,
    /// The post-reform unit of the commune, to compare a 2024 code with a 2025 one.
    pub unit_2025: Option<Unit>,
    /// Other pre-reform districts the record may be in: those of the old communes of the
    /// post-reform unit it names, when that unit is all it surely names (where blocking also
    /// looks for it).
    pub near_districts: Box<[Unit]>,
    /// Normalised representative name, interned (the interner gives the text back).
    pub rep: Option<u32>,
    /// The representative's given name(s) by the name's plausible readings, interned: the
    /// same person written `Lò Văn Minh`, `Văn Minh` or `Minh Lò Văn` shares one.
    pub rep_given: Box<[u32]>,
    /// The phone (E.164), hashed: only equality is ever asked.
    pub phone: Option<u64>,
    /// For an NTM entry: its report (`commune_code:year`, hashed). Entries of one report are
    /// different cooperatives.
    pub report: Option<u64>,
    /// Words of the names of its commune, district and province (sorted ids): in a name,
    /// such a word says no more than the location already does.
    pub local: Box<[u32]>,
    /// Member households: the registry's count or an NTM entry's.
    pub members: Option<u32>,
    /// A day the record shows the organisation active (an NTM report's year's last day, a
    /// loan's disbursement), in days from the common era.
    pub active_on: Option<i32>,
    /// For a registry record: the day its cooperative was established, likewise.
    pub established_on: Option<i32>,
}

impl Features {
    /// Distinctive tokens (not sectors).
    pub fn distinctive(&self) -> impl Iterator<Item = &Tok> {
        self.tokens.iter().filter(|t| t.class != TokClass::Sector)
    }
}

/// Interns strings to small ids (token and person names), reads each representative's name
/// once, and remembers how alike two interned person names are.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    /// [`letters_key`] of each word, computed once when it is interned (blocking asks for it
    /// on every observation).
    letters: Vec<u32>,
    /// Each interned representative's name read once (by [`Interner::intern_person`]), so
    /// that comparing two never reads a name again.
    persons: HashMap<u32, person::NameWords, MixState>,
    person_similarity: PersonCache,
}

/// A lock-protected cache (the engine is shared behind the service's lock; this one is
/// uncontended), keyed by the two ids in one number.
#[derive(Debug, Default)]
struct PersonCache(std::sync::Mutex<HashMap<u64, f64, MixState>>);

/// A fast hasher for keys that are numbers already (ids, FNV hashes): the splitmix64
/// finaliser, deterministic. Not for keys an outsider chooses freely.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mix(u64);

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(5) ^ n;
    }
}

/// Builds [`Mix`] hashers.
pub type MixState = std::hash::BuildHasherDefault<Mix>;

impl Clone for PersonCache {
    fn clone(&self) -> Self {
        PersonCache(std::sync::Mutex::new(
            self.0.lock().map(|m| m.clone()).unwrap_or_default(),
        ))
    }
}

/// Person-name pairs remembered before the cache starts over.
const PERSON_CACHE: usize = 1 << 20;

impl Interner {
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.words.len() as u32;
        self.words.push(s.into());
        self.letters.push(letters_key(s));
        self.ids.insert(s.into(), id);
        id
    }

    /// Interns a normalised person name and reads it for [`Interner::person_similarity`].
    pub fn intern_person(&mut self, s: &str) -> u32 {
        let id = self.intern(s);
        self.persons
            .entry(id)
            .or_insert_with(|| person::NameWords::of(s));
        id
    }

    pub fn get(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", |w| w)
    }

    /// [`letters_key`] of an interned word.
    pub fn letters(&self, id: u32) -> u32 {
        self.letters
            .get(id as usize)
            .copied()
            .unwrap_or_else(|| letters_key(""))
    }

    /// [`person::similarity`] of two interned (normalised) person names.
    pub fn person_similarity(&self, a: u32, b: u32) -> f64 {
        if a == b {
            return 1.0;
        }
        let (lo, hi) = (a.min(b), a.max(b));
        let key = (u64::from(lo) << 32) | u64::from(hi);
        if let Ok(cache) = self.person_similarity.0.lock()
            && let Some(s) = cache.get(&key)
        {
            return *s;
        }
        let s = match (self.persons.get(&lo), self.persons.get(&hi)) {
            (Some(a), Some(b)) => person::similarity_of(a, b),
            // interned as a word only: read it now
            _ => person::similarity(self.get(lo), self.get(hi)),
        };
        if let Ok(mut cache) = self.person_similarity.0.lock() {
            if cache.len() >= PERSON_CACHE {
                cache.clear();
            }
            cache.insert(key, s);
        }
        s
    }
}

/// Prefix of interned product tokens.
pub const PRODUCT_PREFIX: &str = "\u{1}p:";
/// Prefix of interned sector tokens.
pub const SECTOR_PREFIX: &str = "\u{1}s:";

/// Activity words of cooperative names (`trồng` grow, `nuôi` raise, `lồng` cage, `sạch`
/// clean): they describe the trade like sector words and weigh as little.
const ACTIVITY_WORDS: &[&str] = &["trong", "nuoi", "long", "sach", "giong"];

/// 64-bit FNV-1a: a fixed, seedless hash, so that keys and hashes are the same on every run.
pub fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Computes the features of an observation.
pub fn extract(obs: &Observation, interner: &mut Interner) -> Features {
    prepare(obs).intern(interner)
}

/// The features of many observations: prepared on every core, a chunk at a time, then
/// interned one by one in their order (the same features and ids as [`extract`] on each in
/// turn; only a chunk's words are held as text at once).
pub fn extract_all<O>(observations: &[O], interner: &mut Interner) -> Vec<Features>
where
    O: std::borrow::Borrow<Observation> + Sync,
{
    use rayon::prelude::*;
    const CHUNK: usize = 8192;
    let mut out = Vec::with_capacity(observations.len());
    for chunk in observations.chunks(CHUNK) {
        let prepared: Vec<Prepared> = chunk.par_iter().map(|o| prepare(o.borrow())).collect();
        out.extend(prepared.into_iter().map(|p| p.intern(interner)));
    }
    out
}

/// What [`extract`] reads from an observation alone: every feature, with the words still
/// text. Pure (no interner), so a batch of observations can be prepared on several threads;
/// [`Prepared::intern`] then interns the words in the order `extract` does, so the ids do
/// not depend on where or when a record was prepared.
#[derive(Debug, Clone)]
pub struct Prepared {
    obs_kind: ObservationKind,
    kind: KindClass,
    kind_declared: bool,
    person_like: bool,
    ascii: bool,
    code: Option<Code>,
    /// Tokens in the order they are interned: the interned text, class, maybe a product.
    tokens: Vec<(String, TokClass, bool)>,
    canonical: u64,
    joined: u64,
    commune: Option<Unit>,
    district: Option<Unit>,
    unit_2025: Option<Unit>,
    near_districts: Box<[Unit]>,
    rep: Option<String>,
    rep_given: Vec<String>,
    phone: Option<u64>,
    report: Option<u64>,
    /// Local words in the order they are interned (repeats included).
    local: Vec<String>,
    members: Option<u32>,
    active_on: Option<i32>,
    established_on: Option<i32>,
}

/// [`prepare`] for each entry of an NTM report, in order (what
/// [`Engine::ntm_report_prepared`](super::Engine::ntm_report_prepared) takes).
pub fn prepare_report(report: &NtmCommuneReport) -> Vec<Prepared> {
    report
        .cooperatives
        .iter()
        .map(|e| prepare(&Observation::from_ntm_entry(report, e)))
        .collect()
}

/// Reads an observation's features, words as text (see [`Prepared`]).
pub fn prepare(obs: &Observation) -> Prepared {
    let parsed = orgname::parse(&obs.name);
    let (kind, kind_declared) = kind_of(obs, &parsed);
    let tokens = token_texts(&parsed);
    let canonical = fnv(parsed.canonical.as_bytes());
    let joined: String = parsed.core_tokens.concat();
    let joined = fnv(joined.as_bytes());

    // code: digits; a branch code compares by its main part
    let code = obs
        .registration_code
        .as_deref()
        .and_then(taxcode::clean)
        .and_then(|d| Code::new(if d.len() == 13 { &d[..10] } else { &d }));

    let reference = Reference::loaded();
    let place = locate(obs, reference);
    let rep = obs
        .representative
        .as_deref()
        .map(person::normalise)
        .filter(|n| !n.is_empty());
    let rep_given = obs
        .representative
        .as_deref()
        .map(person::given_names)
        .unwrap_or_default();
    let phone = obs
        .phone
        .as_deref()
        .and_then(phone::to_e164)
        .map(|p| fnv(p.as_bytes()));
    let report = obs
        .ntm
        .as_ref()
        .map(|p| fnv(format!("{}:{}", p.commune_code, p.year).as_bytes()));
    let local = local_words(&place, reference);
    let Location {
        commune,
        district,
        unit_2025,
        mut near_districts,
        ..
    } = place;
    near_districts.sort_unstable_by_key(|u| u.key_bytes());
    near_districts.dedup();

    Prepared {
        obs_kind: obs.kind,
        kind,
        kind_declared,
        tokens,
        canonical,
        joined,
        person_like: parsed.person_like,
        ascii: obs.name.is_ascii(),
        code,
        commune: commune.as_deref().map(Unit::new),
        district: district.as_deref().map(Unit::new),
        unit_2025: unit_2025.as_deref().map(Unit::new),
        near_districts: near_districts.into_boxed_slice(),
        rep,
        rep_given,
        phone,
        report,
        local,
        members: obs
            .registry
            .as_ref()
            .and_then(|r| r.member_households)
            .or_else(|| obs.ntm.as_ref().and_then(|p| p.members)),
        active_on: obs.active_on().map(|d| d.num_days_from_ce()),
        established_on: obs.established_on().map(|d| d.num_days_from_ce()),
    }
}

impl Prepared {
    /// The features, words interned: the name's tokens, then the representative and their
    /// given names, then the local words.
    pub fn intern(self, interner: &mut Interner) -> Features {
        let mut tokens: Vec<Tok> = self
            .tokens
            .iter()
            .map(|(text, class, maybe_product)| Tok {
                id: interner.intern(text),
                class: *class,
                local: false,
                maybe_product: *maybe_product,
            })
            .collect();
        tokens.sort_unstable();
        tokens.dedup_by_key(|t| t.id);
        let rep = self.rep.as_deref().map(|n| interner.intern_person(n));
        let rep_given: Box<[u32]> = self.rep_given.iter().map(|g| interner.intern(g)).collect();
        let mut local: Vec<u32> = self.local.iter().map(|w| interner.intern(w)).collect();
        local.sort_unstable();
        local.dedup();
        for t in &mut tokens {
            t.local = local.binary_search(&t.id).is_ok();
        }
        Features {
            obs_kind: self.obs_kind,
            kind: self.kind,
            kind_declared: self.kind_declared,
            tokens,
            canonical: self.canonical,
            joined: self.joined,
            person_like: self.person_like,
            ascii: self.ascii,
            code: self.code,
            commune: self.commune,
            district: self.district,
            unit_2025: self.unit_2025,
            near_districts: self.near_districts,
            rep,
            rep_given,
            phone: self.phone,
            report: self.report,
            local: local.into_boxed_slice(),
            members: self.members,
            active_on: self.active_on,
            established_on: self.established_on,
        }
    }
}

/// The kind an observation is of, and whether a system (or a legal form in its name)
/// declared it: what a system declared first, then what the name says.
fn kind_of(obs: &Observation, parsed: &orgname::OrgName) -> (KindClass, bool) {
    let hint = parsed.kind.map(|k| match k {
        OrgKindHint::Htx => KindClass::Htx,
        OrgKindHint::Tht => KindClass::Tht,
        OrgKindHint::Lhhtx => KindClass::Lhhtx,
        OrgKindHint::Enterprise => KindClass::Enterprise,
        OrgKindHint::Household => KindClass::Household,
    });
    match (obs.kind, obs.declared_kind, obs.borrower_type) {
        (_, _, Some(BorrowerType::Household)) => (KindClass::Household, true),
        (ObservationKind::Registry, Some(k), _) => (KindClass::from_org(k), true),
        (_, Some(k), _) => match hint {
            // a person's name with a declared organisation kind: the declaration wins
            Some(KindClass::Household) | None => (KindClass::from_org(k), true),
            // the legal form in the name is more specific than a borrower type
            Some(h) if obs.kind == ObservationKind::Loan => (h, true),
            Some(_) => (KindClass::from_org(k), true),
        },
        (_, None, Some(BorrowerType::Cooperative)) => match hint {
            Some(h @ (KindClass::Htx | KindClass::Lhhtx | KindClass::Tht)) => (h, true),
            _ => (KindClass::Htx, true),
        },
        // a legal form written in the name (`HTX`, `THT`) declares the kind as well
        _ => (
            hint.unwrap_or(KindClass::Unknown),
            matches!(
                hint,
                Some(KindClass::Htx | KindClass::Tht | KindClass::Lhhtx)
            ),
        ),
    }
}

/// A name's tokens as the text interned, in the order they are interned: products as whole
/// phrases, numbers, places/other words, sector words ([`Prepared::intern`] sorts them and
/// drops repeats; `local` is not yet known).
fn token_texts(parsed: &orgname::OrgName) -> Vec<(String, TokClass, bool)> {
    let mut tokens: Vec<(String, TokClass, bool)> = Vec::new();
    // products live in their own namespace: `sâm` the product is not `Sam` in `Pu Sam Cáp`
    for p in &parsed.product_tokens {
        tokens.push((format!("{PRODUCT_PREFIX}{p}"), TokClass::Product, false));
    }
    for w in &parsed.place_tokens {
        let (class, text) = if w.bytes().all(|b| b.is_ascii_digit()) {
            (TokClass::Number, w.clone())
        } else if ACTIVITY_WORDS.contains(&w.as_str()) {
            (TokClass::Sector, format!("{SECTOR_PREFIX}{w}"))
        } else {
            (TokClass::Place, w.clone())
        };
        let maybe_product = class == TokClass::Place && parsed.ascii_product_words.contains(w);
        tokens.push((text, class, maybe_product));
    }
    // sector words too: `dịch` of `dịch vụ` is not `Đích` of `Nậm Đích`
    for w in &parsed.sector_tokens {
        tokens.push((format!("{SECTOR_PREFIX}{w}"), TokClass::Sector, false));
    }
    tokens
}

/// Where a record is, as far as its codes or its address tell.
struct Location<'r> {
    commune: Option<String>,
    district: Option<String>,
    /// The record's pre-reform commune, when its code is one.
    commune_2024: Option<&'r hub_normalise::reference::Commune2024>,
    /// The post-reform unit of the commune (or the one its address names).
    unit_2025: Option<String>,
    /// A 2025 unit the address may mean: the names of all its old communes are the record's.
    reform_unit: Option<&'r str>,
    near_districts: Vec<Unit>,
}

/// Locates a record: codes when the source has them, else the address resolved.
fn locate<'r>(obs: &Observation, reference: &'r Reference) -> Location<'r> {
    let (mut commune, mut district) = (obs.commune_code.clone(), obs.district_code.clone());
    let mut unit_2025_named: Option<String> = None;
    let mut reform_unit: Option<&str> = None;
    let mut near_districts: Vec<Unit> = Vec::new();
    if commune.is_none()
        && let Some(a) = obs.address.as_deref()
    {
        if let Some(m) = address::resolve(a) {
            commune = Some(m.commune_code.to_owned());
            district = Some(m.district_code.to_owned());
            // a commune that is also the name of a 2025 unit covering more, in an address no
            // district word dates before the reform: after July 2025 it may mean any commune
            // of the unit, so blocking also looks in their districts
            if let Some(u) = m.unit_2025_reading {
                reform_unit = Some(u);
                near_districts.extend(
                    old_communes_of(reference, u)
                        .filter(|r| r.old_district_code != m.district_code)
                        .map(|r| Unit::new(&r.old_district_code)),
                );
            }
        } else if let Some(u) = address::resolve_2025(a) {
            // a commune named as after the July 2025 reform: its new unit, and its district
            // when every old commune it covers was in one
            unit_2025_named = Some(u.unit_code.to_owned());
            if district.is_none()
                && let [d] = u.old_district_codes.as_slice()
            {
                district = Some((*d).to_owned());
            }
            near_districts.extend(u.old_district_codes.iter().map(|d| Unit::new(d)));
        } else if district.is_none()
            && let Some(d) = address::resolve_district(a)
        {
            district = Some(d.district_code.to_owned());
        }
    }
    let commune_2024 = commune.as_deref().and_then(|c| reference.commune_2024(c));
    if district.is_none() {
        district = commune_2024.map(|c| c.district_code.clone());
    }
    let unit_2025 = commune
        .as_deref()
        .and_then(|c| {
            reference
                .new_unit_of(c)
                .map(str::to_owned)
                // a code that is already a 2025 unit
                .or_else(|| reference.commune_2025(c).map(|u| u.commune_code.clone()))
        })
        .or(unit_2025_named);
    Location {
        commune,
        district,
        commune_2024,
        unit_2025,
        reform_unit,
        near_districts,
    }
}

/// The words of the names of a record's commune (old or new, or any old commune of the unit
/// it may mean), district and province, in the order found, repeats included (the caller
/// interns, sorts and dedups them). In a name, such a word says no more than the location
/// already does.
fn local_words(place: &Location<'_>, reference: &Reference) -> Vec<String> {
    let mut local: Vec<String> = Vec::new();
    let mut add = |name: &str| {
        for w in text::tokens(name) {
            if !matches!(
                w.as_str(),
                "xa" | "phuong" | "thi" | "tran" | "huyen" | "thanh" | "pho" | "tinh"
            ) {
                local.push(w);
            }
        }
    };
    if let Some(c) = place.commune_2024 {
        add(&c.commune_name);
        add(&c.district_name);
    } else if let Some(d) = place.district.as_deref()
        && let Some(c) = reference
            .communes_2024
            .iter()
            .find(|c| c.district_code == d)
    {
        add(&c.district_name);
    }
    // the name the July 2025 reform gave the record's place names it as well; a record placed
    // only by its 2025 unit, or by a name that may mean the unit, may be in any old commune
    // of it
    if let Some(u) = place
        .unit_2025
        .as_deref()
        .and_then(|u| reference.commune_2025(u))
    {
        add(&u.commune_name);
    }
    let whole_unit = if place.commune_2024.is_none() {
        place.unit_2025.as_deref()
    } else {
        place.reform_unit
    };
    if let Some(u) = whole_unit {
        for r in old_communes_of(reference, u) {
            add(&r.old_commune_name);
            if let Some(c) = reference.commune_2024(&r.old_commune_code) {
                add(&c.district_name);
            }
        }
    }
    for name in province_names() {
        add(name);
    }
    local
}

/// The crosswalk rows of the old communes a 2025 unit took in.
fn old_communes_of<'r>(
    reference: &'r Reference,
    unit_2025: &'r str,
) -> impl Iterator<Item = &'r hub_normalise::reference::CrosswalkRow> {
    reference
        .crosswalk
        .iter()
        .filter(move |r| r.new_commune_code == unit_2025)
}

/// Whether two tokens are one typo apart (only for words of five letters or more).
pub fn near(a: &str, b: &str) -> bool {
    a.len() >= 5 && b.len() >= 5 && a.len().abs_diff(b.len()) <= 1 && within_one_edit(a, b)
}

/// Whether `hub_normalise::text::edit_distance(a, b) <= 1` (optimal string alignment, by
/// characters): equal, or one substitution, insertion, deletion or swap of neighbours apart.
/// Without building the distance table: this runs for every pair of differing words.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    // skip the common prefix
    loop {
        let (cx, cy) = (x.clone().next(), y.clone().next());
        match (cx, cy) {
            (Some(p), Some(q)) if p == q => {
                x.next();
                y.next();
            }
            _ => break,
        }
    }
    let (rx, ry) = (x.as_str(), y.as_str());
    let (mut xs, mut ys) = (rx.chars(), ry.chars());
    let (fx, fy) = (xs.next(), ys.next());
    match (fx, fy) {
        // one is a prefix of the other: one character more at the end
        (None, Some(_)) => ys.next().is_none(),
        (Some(_), None) => xs.next().is_none(),
        (None, None) => true,
        (Some(p), Some(q)) => {
            let (tx, ty) = (xs.as_str(), ys.as_str());
            // substitution, deletion, insertion
            if tx == ty || rx == ty || tx == ry {
                return true;
            }
            // neighbours swapped
            let (mut sx, mut sy) = (tx.chars(), ty.chars());
            sx.next() == Some(q) && sy.next() == Some(p) && sx.as_str() == sy.as_str()
        }
    }
}

/// Whether `b` is `a` with two neighbouring letters swapped (`nma`, `nam`): the one slip a
/// typist makes whatever the keyboard, diacritics or not. Three letters or more.
pub fn swapped_neighbours(a: &str, b: &str) -> bool {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    if x.len() != y.len() || x.len() < 3 || x == y {
        return false;
    }
    let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) else {
        return false;
    };
    i + 1 < x.len() && x[i] == y[i + 1] && x[i + 1] == y[i] && x[i + 2..] == y[i + 2..]
}

/// A word's letters in order (`nam`, `nma` and `man` alike): blocking keys on it find a
/// name with two letters swapped.
pub fn letters_key(word: &str) -> u32 {
    let mut b: Vec<u8> = word.bytes().collect();
    b.sort_unstable();
    // FNV-1a, 32 bits
    b.iter().fold(0x811c_9dc5u32, |h, c| {
        (h ^ u32::from(*c)).wrapping_mul(0x0100_0193)
    })
}

/// The names of the provinces served (`REFERENCE_DIRS`; Lai Châu's alone by default): their
/// words are a record's local words.
fn province_names() -> impl Iterator<Item = &'static str> {
    hub_normalise::reference::provinces()
        .iter()
        .map(|p| p.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_distance_is_the_edit_distance_of_the_digits() {
        let codes = [
            "6200123456",
            "6200123465",
            "620012345",
            "62001234567",
            "6200213456",
            "1234567890",
            "6200123456",
            "00123456",
            "6211123456",
        ];
        for a in codes {
            for b in codes {
                let (ca, cb) = (Code::new(a).unwrap(), Code::new(b).unwrap());
                assert_eq!(
                    ca.distance(&cb),
                    hub_normalise::text::edit_distance(a, b),
                    "{a} {b}"
                );
            }
        }
        assert!(Code::new("1234567").is_none());
        let words = [
            "phieng", "phiengg", "phiegn", "phieng", "hieng", "phien", "pheing", "xphieng",
            "phiang", "abcdef", "", "p", "nậm", "năm", "nậmm", "ậmn", "mường", "muờng",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    within_one_edit(a, b),
                    hub_normalise::text::edit_distance(a, b) <= 1,
                    "{a:?} {b:?}"
                );
            }
        }
        assert!(Code::new("123456789012").is_none());
        assert!(Code::new("12345678a").is_none());
    }

    #[test]
    fn units_are_equal_exactly_when_their_codes_are() {
        assert_eq!(Unit::new("03386"), Unit::new("03386"));
        assert_ne!(Unit::new("03386"), Unit::new("3386"));
        assert_ne!(Unit::new("105"), Unit::new("106"));
        assert_ne!(Unit::new("105"), Unit::new("x105"));
        assert_eq!(Unit::new("x105"), Unit::new("x105"));
    }
}

//! Features: an [`Observation`] normalised into what the scorer compares, through
//! `hub-normalise` (the one place the hub folds Vietnamese text, expands abbreviations,
//! resolves addresses, cleans tax codes and phones).
//!
//! Owns [`Features`] and the token interner. Pure: the same observation gives the same
//! features; token ids depend on the order words were first seen, but only their equality
//! is ever used.

use std::collections::HashMap;

use hub_contracts::v1::{BorrowerType, OrgKind};
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

/// A cleaned registration / tax code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// Digits only; for a 13-digit branch code, its 10-digit main part.
    pub digits: Box<str>,
}

impl Code {
    pub fn is_full(&self) -> bool {
        self.digits.len() == 10
    }
}

/// Everything the scorer and the blocker read, computed once per observation content.
#[derive(Debug, Clone)]
pub struct Features {
    pub obs_kind: ObservationKind,
    pub kind: KindClass,
    /// Whether a system declared the kind (rather than the name suggesting it).
    pub kind_declared: bool,
    /// Distinctive and sector tokens, sorted, without duplicates.
    pub tokens: Vec<Tok>,
    /// Hash of the canonical name (abbreviations expanded, unit words dropped).
    pub canonical: u64,
    /// Hash of the distinctive words glued together (spacing-insensitive).
    pub joined: u64,
    pub person_like: bool,
    /// The name was written without diacritics: a product word may be a place word
    /// (`nam`: nấm the mushroom, or Nậm in a place name).
    pub ascii: bool,
    pub code: Option<Code>,
    pub commune: Option<Box<str>>,
    pub district: Option<Box<str>>,
    /// The post-reform unit of the commune, to compare a 2024 code with a 2025 one.
    pub unit_2025: Option<Box<str>>,
    /// Normalised representative name (interned id, and the text for similarity).
    pub rep: Option<(u32, Box<str>)>,
    pub phone: Option<Box<str>>,
    /// For an NTM entry: its report (`commune_code:year`, hashed). Entries of one report are
    /// different cooperatives.
    pub report: Option<u64>,
    /// Words of the names of its commune, district and province (sorted ids): in a name,
    /// such a word says no more than the location already does.
    pub local: Vec<u32>,
}

impl Features {
    /// Distinctive tokens (not sectors).
    pub fn distinctive(&self) -> impl Iterator<Item = &Tok> {
        self.tokens.iter().filter(|t| t.class != TokClass::Sector)
    }
}

/// Interns strings to small ids (token and person names), and remembers how alike two
/// interned person names are (`person::similarity` parses both names each time).
#[derive(Debug, Default, Clone)]
pub struct Interner {
    ids: HashMap<Box<str>, u32>,
    words: Vec<Box<str>>,
    person_similarity: PersonCache,
}

/// A lock-protected cache (the engine is shared behind the service's lock; this one is
/// uncontended).
#[derive(Debug, Default)]
struct PersonCache(std::sync::Mutex<HashMap<(u32, u32), f64>>);

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
        self.ids.insert(s.into(), id);
        id
    }

    pub fn get(&self, id: u32) -> &str {
        self.words.get(id as usize).map_or("", |w| w)
    }

    /// [`person::similarity`] of two interned (normalised) person names.
    pub fn person_similarity(&self, a: u32, b: u32) -> f64 {
        if a == b {
            return 1.0;
        }
        let key = (a.min(b), a.max(b));
        if let Ok(cache) = self.person_similarity.0.lock()
            && let Some(s) = cache.get(&key)
        {
            return *s;
        }
        let s = person::similarity(self.get(key.0), self.get(key.1));
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
    let parsed = orgname::parse(&obs.name);

    // kind: what a system declared first, then what the name says
    let hint = parsed.kind.map(|k| match k {
        OrgKindHint::Htx => KindClass::Htx,
        OrgKindHint::Tht => KindClass::Tht,
        OrgKindHint::Lhhtx => KindClass::Lhhtx,
        OrgKindHint::Enterprise => KindClass::Enterprise,
        OrgKindHint::Household => KindClass::Household,
    });
    let (kind, kind_declared) = match (obs.kind, obs.declared_kind, obs.borrower_type) {
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
    };

    // tokens: products as whole phrases, numbers, places/other words, sector words
    // products live in their own namespace: `sâm` the product is not `Sam` in `Pu Sam Cáp`
    let mut tokens: Vec<Tok> = Vec::new();
    for p in &parsed.product_tokens {
        tokens.push(Tok {
            id: interner.intern(&format!("{PRODUCT_PREFIX}{p}")),
            class: TokClass::Product,
        });
    }
    for w in &parsed.place_tokens {
        let (class, id) = if w.bytes().all(|b| b.is_ascii_digit()) {
            (TokClass::Number, interner.intern(w))
        } else if ACTIVITY_WORDS.contains(&w.as_str()) {
            (
                TokClass::Sector,
                interner.intern(&format!("{SECTOR_PREFIX}{w}")),
            )
        } else {
            (TokClass::Place, interner.intern(w))
        };
        tokens.push(Tok { id, class });
    }
    // sector words too: `dịch` of `dịch vụ` is not `Đích` of `Nậm Đích`
    for w in &parsed.sector_tokens {
        tokens.push(Tok {
            id: interner.intern(&format!("{SECTOR_PREFIX}{w}")),
            class: TokClass::Sector,
        });
    }
    tokens.sort_unstable();
    tokens.dedup_by_key(|t| t.id);

    let canonical = fnv(parsed.canonical.as_bytes());
    let joined: String = parsed.core_tokens.concat();
    let joined = fnv(joined.as_bytes());

    // code: digits; a branch code compares by its main part
    let code = obs
        .registration_code
        .as_deref()
        .and_then(taxcode::clean)
        .map(|d| {
            let d = if d.len() == 13 { d[..10].to_owned() } else { d };
            Code {
                digits: d.into_boxed_str(),
            }
        })
        .filter(|c| (8..=11).contains(&c.digits.len()));

    // location: codes when the source has them, else the address resolved
    let reference = Reference::get();
    let (mut commune, mut district) = (obs.commune_code.clone(), obs.district_code.clone());
    if commune.is_none()
        && let Some(a) = obs.address.as_deref()
    {
        if let Some(m) = address::resolve(a) {
            commune = Some(m.commune_code.to_owned());
            district = Some(m.district_code.to_owned());
        } else if district.is_none()
            && let Some(d) = address::resolve_district(a)
        {
            district = Some(d.district_code.to_owned());
        }
    }
    if district.is_none()
        && let Some(c) = commune.as_deref()
    {
        district = reference.commune_2024(c).map(|c| c.district_code.clone());
    }
    let unit_2025 = commune.as_deref().and_then(|c| {
        reference
            .new_unit_of(c)
            .map(str::to_owned)
            // a code that is already a 2025 unit
            .or_else(|| reference.commune_2025(c).map(|u| u.commune_code.clone()))
    });

    let rep = obs.representative.as_deref().and_then(|r| {
        let n = person::normalise(r);
        (!n.is_empty()).then(|| (interner.intern(&n), n.into_boxed_str()))
    });
    let phone = obs
        .phone
        .as_deref()
        .and_then(phone::to_e164)
        .map(String::into_boxed_str);
    let report = obs
        .ntm
        .as_ref()
        .map(|p| fnv(format!("{}:{}", p.commune_code, p.year).as_bytes()));
    let mut local: Vec<u32> = Vec::new();
    let mut add_words = |name: &str, interner: &mut Interner| {
        for w in text::tokens(name) {
            if !matches!(
                w.as_str(),
                "xa" | "phuong" | "thi" | "tran" | "huyen" | "thanh" | "pho" | "tinh"
            ) {
                local.push(interner.intern(&w));
            }
        }
    };
    if let Some(c) = commune.as_deref().and_then(|c| reference.commune_2024(c)) {
        add_words(&c.commune_name, interner);
        add_words(&c.district_name, interner);
    } else if let Some(d) = district.as_deref()
        && let Some(c) = reference
            .communes_2024
            .iter()
            .find(|c| c.district_code == d)
    {
        add_words(&c.district_name, interner);
    }
    add_words(hub_normalise::reference::PROVINCE_NAME, interner);
    local.sort_unstable();
    local.dedup();

    Features {
        obs_kind: obs.kind,
        kind,
        kind_declared,
        tokens,
        canonical,
        joined,
        person_like: parsed.person_like,
        ascii: obs.name.is_ascii(),
        code,
        commune: commune.map(String::into_boxed_str),
        district: district.map(String::into_boxed_str),
        unit_2025: unit_2025.map(String::into_boxed_str),
        rep,
        phone,
        report,
        local,
    }
}

/// Whether two tokens are one typo apart (only for words of five letters or more).
pub fn near(a: &str, b: &str) -> bool {
    a.len() >= 5 && b.len() >= 5 && a.len().abs_diff(b.len()) <= 1 && text::edit_distance(a, b) <= 1
}

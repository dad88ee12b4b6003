//! World generation from a seed: realistic Lai Châu cooperatives in the communes of the 2024
//! reference list, their registry records, loans with the loan officers' noise, annual NTM
//! reports with revision history, the hard cases (near-namesakes, namesake households,
//! cooperatives missing from the registry) and deliberately bad records.
//!
//! Owns [`WorldConfig`], [`NoiseModel`] and [`generate`]. Everything is drawn from ChaCha
//! streams seeded by `WorldConfig::seed` (one stream per phase) and iterated in a fixed order,
//! so one configuration always gives the same world.
//!
//! With [`NoiseModel::Field`] the records are written with [`crate::noise_field`] instead of
//! [`crate::noise`], and the world gets the field's structural cases, drawn from streams of
//! their own (so a classic world is exactly what it was before the field model existed):
//! cooperatives that moved to another commune of their district (about 3 % of registered HTX
//! and THT established before mid-2023), one person leading an HTX and a THT of the same
//! commune (about 6 % of THT), cooperatives and groups named after the same place as a union
//! (up to two per union), and the registry's own noise on about one legal name in ten.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, Timelike};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{
    BorrowerType, Grade, KeyOfficers, LoanStatus, OrgStatus, Origin, Rating, ReportStatus,
};
use hub_normalise::reference::{Commune2024, Reference};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use crate::error::SimError;
use crate::noise;
use crate::noise_field::{self, Context, OrgName};
use crate::vocab::{self, PRODUCTS, Product};
use crate::world::{
    BadMark, BorrowerText, Loan, Move, NtmEntry, NtmRevision, OrgFacts, Patch, RegistryRecord,
    RegistrySubject, Representative, Subject, VN_OFFSET, World, criteria_for, local_to_fixed,
};

const fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("constant date is valid"),
    }
}

/// The plan's default baseline, 2024-02-20 (Decision 182/QĐ-TTg).
pub const DEFAULT_BASELINE: NaiveDate = ymd(2024, 2, 20);
/// No organisation is older than this.
const EARLIEST: NaiveDate = ymd(2015, 1, 1);
/// No loan is older than this.
const EARLIEST_LOAN: NaiveDate = ymd(2019, 1, 1);

/// How the world's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseModel {
    /// The first model ([`crate::noise`]): abbreviations, missing diacritics, odd spacing
    /// and case, mistyped tax codes.
    #[default]
    Classic,
    /// The second, independent model ([`crate::noise_field`]) written from real unseen
    /// records, with the field's structural cases (moves, shared representatives, unions
    /// named after a cooperative's place).
    Field,
}

impl NoiseModel {
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseModel::Classic => "classic",
            NoiseModel::Field => "field",
        }
    }
}

impl std::fmt::Display for NoiseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for NoiseModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "classic" => Ok(NoiseModel::Classic),
            "field" => Ok(NoiseModel::Field),
            other => Err(format!("unknown noise model {other:?}: classic or field")),
        }
    }
}

/// What world to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct WorldConfig {
    pub seed: u64,
    /// True organisations (HTX, THT, LHHTX), including those missing from the registry.
    pub organisations: usize,
    /// Loans, to organisations and households (bad loans come on top).
    pub loans: usize,
    /// One report per commune per year.
    pub report_years: Vec<i32>,
    /// Deliberately invalid source records, spread over the three systems.
    pub bad_records: usize,
    /// The world's present: every generated timestamp is at or before it.
    pub now: DateTime<FixedOffset>,
    /// How the records are written (classic by default).
    pub noise: NoiseModel,
}

impl WorldConfig {
    /// Default sizes (120 organisations, 200 loans, 6 bad records, reports 2023–2025) with
    /// a given seed and present.
    pub fn new(seed: u64, now: DateTime<FixedOffset>) -> Self {
        WorldConfig {
            seed,
            organisations: 120,
            loans: 200,
            report_years: vec![2023, 2024, 2025],
            bad_records: 6,
            now,
            noise: NoiseModel::Classic,
        }
    }
}

impl Default for WorldConfig {
    /// Seed 42, default sizes, `now` = the wall clock (so not reproducible across runs: set
    /// `now` for that).
    fn default() -> Self {
        WorldConfig::new(42, wall_clock_now())
    }
}

/// The wall clock at +07:00, to the second.
pub fn wall_clock_now() -> DateTime<FixedOffset> {
    let now = chrono::Utc::now().with_timezone(&VN_OFFSET);
    now.with_nanosecond(0).unwrap_or(now)
}

/// A ChaCha stream of the seed: one per generation phase or mutation, so that changing one
/// phase's draws does not shift the others'.
pub(crate) fn stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// Generates the world a configuration describes.
pub fn generate(cfg: &WorldConfig) -> Result<World, SimError> {
    let now = cfg.now.with_timezone(&VN_OFFSET);
    let now = now.with_nanosecond(0).unwrap_or(now);
    if now.date_naive() < ymd(2015, 7, 1) {
        return Err(SimError::InvalidConfig(format!(
            "now ({now}) must be after mid-2015: organisations are established from 2015 on"
        )));
    }
    for (name, n, max) in [
        ("organisations", cfg.organisations, 200_000),
        ("loans", cfg.loans, 1_000_000),
        ("bad_records", cfg.bad_records, 10_000),
    ] {
        if n > max {
            return Err(SimError::InvalidConfig(format!(
                "{name} is {n}, at most {max}"
            )));
        }
    }
    let mut years = cfg.report_years.clone();
    years.sort_unstable();
    years.dedup();
    if let Some(y) = years.iter().find(|y| !(2000..=2100).contains(*y)) {
        return Err(SimError::InvalidConfig(format!(
            "report year {y} is out of range"
        )));
    }
    let mut world = World::empty(cfg.seed, now, years);
    world.noise = cfg.noise;
    let mut g = Gen::new(cfg.seed, now);
    g.noise = cfg.noise;
    g.organisations(&mut world, cfg.organisations);
    if cfg.noise == NoiseModel::Field {
        g.field_structure(&mut world);
    }
    g.loans(&mut world, cfg.loans);
    g.reports(&mut world);
    g.bad_records(&mut world, cfg.bad_records);
    if cfg.noise == NoiseModel::Field {
        g.field_registry_names(&mut world);
    }
    Ok(world)
}

/// Generation state shared by the phases (and by mutations).
pub(crate) struct Gen {
    pub rng: ChaCha8Rng,
    pub seed: u64,
    pub now: DateTime<FixedOffset>,
    pub names: BTreeSet<String>,
    pub codes: BTreeSet<String>,
    pub noise: NoiseModel,
}

/// How a legal name is built, kept to make a near-namesake sibling.
#[derive(Debug, Clone, Copy)]
struct NamePlan {
    kind: OrgKind,
    commune: usize,
    village: &'static str,
    place_is_village: bool,
    template: usize,
    product: usize,
}

impl Gen {
    pub(crate) fn new(seed: u64, now: DateTime<FixedOffset>) -> Gen {
        Gen {
            rng: stream(seed, 1),
            seed,
            now,
            names: BTreeSet::new(),
            codes: BTreeSet::new(),
            noise: NoiseModel::Classic,
        }
    }

    /// A Gen that knows the names and codes a world already uses (for mutations).
    pub(crate) fn for_world(world: &World, rng: ChaCha8Rng, now: DateTime<FixedOffset>) -> Gen {
        let mut g = Gen {
            rng,
            seed: world.seed,
            now,
            names: BTreeSet::new(),
            codes: BTreeSet::new(),
            noise: world.noise,
        };
        for rec in &world.registry {
            if let Some(f) = world.registry_facts(rec) {
                g.names.insert(f.name.clone());
                if let Some(c) = &f.registration_code {
                    g.codes.insert(c.clone());
                }
            }
        }
        for o in &world.organisations {
            g.names.insert(o.facts.name.clone());
            if let Some(c) = &o.facts.registration_code {
                g.codes.insert(c.clone());
            }
        }
        g
    }

    fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn date_between(&mut self, lo: NaiveDate, hi: NaiveDate) -> NaiveDate {
        if hi <= lo {
            return lo;
        }
        let days = (hi - lo).num_days();
        lo + Days::new(self.rng.random_range(0..=days) as u64)
    }

    /// A working-hours time on `date`, never after now.
    fn time_on(&mut self, date: NaiveDate) -> NaiveDateTime {
        let secs = self.rng.random_range(7 * 3600 + 1800..17 * 3600 + 1800);
        let t = date
            .and_hms_opt(secs / 3600, (secs / 60) % 60, secs % 60)
            .unwrap_or_else(|| date.and_hms_opt(8, 0, 0).unwrap_or_default());
        t.min(self.now.naive_local())
    }

    fn commune_index(&mut self) -> usize {
        let communes = &Reference::get().communes_2024;
        let weights: Vec<u32> = communes
            .iter()
            .map(|c| match c.commune_kind.as_str() {
                "xã" => 4,
                "thị trấn" => 2,
                _ => 1,
            })
            .collect();
        let total: u32 = weights.iter().sum();
        let mut pick = self.rng.random_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            if pick < *w {
                return i;
            }
            pick -= w;
        }
        0
    }

    fn registration_code(&mut self) -> String {
        loop {
            let code = format!("62{:08}", self.rng.random_range(0..100_000_000u32));
            if self.codes.insert(code.clone()) {
                return code;
            }
        }
    }

    fn new_plan(&mut self, kind: OrgKind) -> NamePlan {
        let commune = self.commune_index();
        let village = villages_of(commune)[self.rng.random_range(0..4)];
        let place_is_village = match kind {
            OrgKind::Tht => self.rng.random_bool(0.6),
            OrgKind::Htx => self.rng.random_bool(0.35),
            OrgKind::Lhhtx => false,
        };
        NamePlan {
            kind,
            commune,
            village,
            place_is_village,
            template: self.rng.random_range(0..HTX_TEMPLATES),
            product: self.rng.random_range(0..PRODUCTS.len()),
        }
    }

    /// The legal name of a plan, unique in the world (a `số 2` suffix when taken), and its
    /// place text.
    fn legal_name(&mut self, plan: &NamePlan) -> (String, String) {
        let c = &Reference::get().communes_2024[plan.commune];
        let product = &PRODUCTS[plan.product];
        let place = match plan.kind {
            OrgKind::Lhhtx => vocab::bare_district(&c.district_name).to_owned(),
            _ if plan.place_is_village => plan.village.to_owned(),
            _ => vocab::bare_commune(&c.commune_name).to_owned(),
        };
        let base = name_from_template(plan.kind, plan.template, product, &place);
        let mut name = base.clone();
        let mut place_out = place.clone();
        let mut n = 2;
        while self.names.contains(&name) {
            name = format!("{base} số {n}");
            place_out = format!("{place} số {n}");
            n += 1;
        }
        self.names.insert(name.clone());
        (name, place_out)
    }

    /// Facts of a new organisation named by `plan`, established in [lo, hi].
    fn facts(&mut self, plan: &NamePlan, lo: NaiveDate, hi: NaiveDate) -> OrgFacts {
        let today = self.today();
        let c: &Commune2024 = &Reference::get().communes_2024[plan.commune];
        let (name, place) = self.legal_name(plan);
        let established_on = self.date_between(lo, hi);
        let is_new = established_on >= DEFAULT_BASELINE;
        let kind = plan.kind;
        let registration_code = match kind {
            OrgKind::Htx | OrgKind::Lhhtx if self.rng.random_bool(0.96) => {
                Some(self.registration_code())
            }
            OrgKind::Tht if self.rng.random_bool(0.08) => Some(self.registration_code()),
            _ => None,
        };
        let representative = if self.rng.random_bool(0.04) {
            None
        } else {
            Some(Representative {
                full_name: self
                    .rng
                    .random_bool(0.97)
                    .then(|| vocab::person_name(&mut self.rng)),
                phone: self
                    .rng
                    .random_bool(0.85)
                    .then(|| vocab::phone(&mut self.rng)),
            })
        };
        let age_days = (today - established_on).num_days();
        let r: f64 = self.rng.random();
        let status = if r < (if age_days > 3 * 365 { 0.12 } else { 0.03 }) {
            OrgStatus::Dissolved
        } else if r < 0.20 {
            OrgStatus::Suspended
        } else {
            OrgStatus::Active
        };
        let member_households = match kind {
            OrgKind::Htx => 7 + self.rng.random_range(0..30) + self.rng.random_range(0..25),
            OrgKind::Tht => self.rng.random_range(3..=15),
            OrgKind::Lhhtx => self.rng.random_range(3..=8),
        };
        let farmers_union_supported = self.rng.random_bool(match (kind, is_new) {
            (OrgKind::Lhhtx, _) => 0.3,
            (_, true) => 0.62,
            (_, false) => 0.35,
        });
        let r: f64 = self.rng.random();
        let origin = match (kind, is_new) {
            (OrgKind::Htx, true) => pick4(r, 0.45, 0.25, 0.15),
            (OrgKind::Tht, true) => pick4(r, 0.55, 0.35, 0.0),
            (OrgKind::Lhhtx, _) => (r < 0.5).then_some(Origin::New),
            (_, false) => pick4(r, 0.4, 0.05, if kind == OrgKind::Htx { 0.1 } else { 0.0 }),
        };
        let rating = match kind {
            OrgKind::Htx | OrgKind::Lhhtx
                if established_on.year() < today.year() && self.rng.random_bool(0.8) =>
            {
                let year =
                    if self.rng.random_bool(0.75) || established_on.year() >= today.year() - 1 {
                        today.year() - 1
                    } else {
                        today.year() - 2
                    };
                let r: f64 = self.rng.random();
                let grade = if r < 0.25 {
                    Grade::Good
                } else if r < 0.6 {
                    Grade::Fair
                } else if r < 0.88 {
                    Grade::Average
                } else {
                    Grade::Weak
                };
                Some(Rating {
                    year: year.max(established_on.year()),
                    grade,
                })
            }
            _ => None,
        };
        let r: f64 = self.rng.random();
        let enterprise_linkage = match kind {
            OrgKind::Htx => tri(r, 0.35, 0.8),
            OrgKind::Tht => tri(r, 0.1, 0.5),
            OrgKind::Lhhtx => tri(r, 0.6, 0.9),
        };
        let key_officers = match kind {
            OrgKind::Htx | OrgKind::Lhhtx if self.rng.random_bool(0.8) => {
                let total = self.rng.random_range(3..=9);
                Some(KeyOfficers {
                    total,
                    trained: self.rng.random_range(0..=total),
                })
            }
            OrgKind::Tht if self.rng.random_bool(0.2) => {
                let total = self.rng.random_range(1..=3);
                Some(KeyOfficers {
                    total,
                    trained: self.rng.random_range(0..=total),
                })
            }
            _ => None,
        };
        OrgFacts {
            kind,
            name,
            commune_code: c.commune_code.clone(),
            district_code: c.district_code.clone(),
            village: plan.village.to_owned(),
            place,
            product: PRODUCTS[plan.product].word.to_owned(),
            address: noise::registry_address(plan.village, &c.commune_code),
            registration_code,
            representative,
            established_on,
            status,
            member_households,
            farmers_union_supported,
            origin,
            rating,
            enterprise_linkage,
            key_officers,
        }
    }

    /// When the registry last changed a record established on `established_on`.
    fn updated_at(&mut self, established_on: NaiveDate) -> DateTime<FixedOffset> {
        let today = self.today();
        let lo = established_on.max(today - Days::new(900));
        let date = self.date_between(lo, today);
        local_to_fixed(&self.time_on(date))
    }

    fn established_range(&mut self) -> (NaiveDate, NaiveDate) {
        let today = self.today();
        if today > DEFAULT_BASELINE && self.rng.random_bool(0.4) {
            (DEFAULT_BASELINE, today)
        } else {
            (EARLIEST, (DEFAULT_BASELINE - Days::new(1)).min(today))
        }
    }

    fn organisations(&mut self, world: &mut World, n: usize) {
        let n_lhhtx = match n {
            0..5 => 0,
            5..50 => 1,
            _ => (n / 50).min(4),
        };
        let mut previous: Option<NamePlan> = None;
        let mut previous_updated: Option<DateTime<FixedOffset>> = None;
        for i in 0..n {
            let kind = if i < n_lhhtx {
                OrgKind::Lhhtx
            } else if self.rng.random_bool(0.62) {
                OrgKind::Htx
            } else {
                OrgKind::Tht
            };
            // near-namesakes: the same place and form in the same commune, another product
            // (or, when the name has no product, the same name with "số 2")
            let plan = match previous {
                Some(p)
                    if p.kind == kind && kind != OrgKind::Lhhtx && self.rng.random_bool(0.1) =>
                {
                    let mut p = p;
                    p.product = (p.product + 1 + self.rng.random_range(0..PRODUCTS.len() - 1))
                        % PRODUCTS.len();
                    p
                }
                _ => self.new_plan(kind),
            };
            previous = Some(plan);
            let (lo, hi) = self.established_range();
            let facts = self.facts(&plan, lo, hi);
            let missing = match kind {
                OrgKind::Tht => self.rng.random_bool(0.2),
                OrgKind::Htx => self.rng.random_bool(0.04),
                OrgKind::Lhhtx => false,
            };
            let registry = if missing {
                None
            } else {
                // some records share a timestamp (bulk edits): clients must page on ties
                let at = match previous_updated {
                    Some(t)
                        if t.date_naive() >= facts.established_on && self.rng.random_bool(0.08) =>
                    {
                        t
                    }
                    _ => self.updated_at(facts.established_on),
                };
                previous_updated = Some(at);
                let age = (self.today() - facts.established_on).num_days().max(0) as u64;
                let version = 1 + self.rng.random_range(0..=(age / 200).min(9));
                Some((at, version))
            };
            world.add_organisation(facts, registry);
        }
    }

    fn loan_subject(&mut self, world: &mut World, org_weights: &[(usize, u32)]) -> Subject {
        let total: u32 = org_weights.iter().map(|(_, w)| w).sum();
        if total > 0 && self.rng.random_bool(0.62) {
            let mut pick = self.rng.random_range(0..total);
            for (i, w) in org_weights {
                if pick < *w {
                    return Subject::Org(*i);
                }
                pick -= w;
            }
        }
        self.household(world)
    }

    /// A household borrower: an existing one, a new one, or one named like an HTX's
    /// representative in the same commune (a namesake the hub must not take for the HTX).
    fn household(&mut self, world: &mut World) -> Subject {
        if !world.households.is_empty() && self.rng.random_bool(0.2) {
            return Subject::Household(self.rng.random_range(0..world.households.len()));
        }
        if self.rng.random_bool(0.25) {
            let reps: Vec<usize> = world
                .organisations
                .iter()
                .enumerate()
                .filter(|(_, o)| {
                    o.facts.kind == OrgKind::Htx
                        && o.facts
                            .representative
                            .as_ref()
                            .is_some_and(|r| r.full_name.is_some())
                })
                .map(|(i, _)| i)
                .collect();
            if let Some(&i) = reps.choose(&mut self.rng) {
                let f = &world.organisations[i].facts;
                let name = f
                    .representative
                    .as_ref()
                    .and_then(|r| r.full_name.clone())
                    .unwrap_or_default();
                let commune = f.commune_code.clone();
                let village = f.village.clone();
                let phone = self
                    .rng
                    .random_bool(0.7)
                    .then(|| vocab::phone(&mut self.rng));
                return Subject::Household(world.add_household(&name, &commune, &village, phone));
            }
        }
        let commune = self.commune_index();
        let code = Reference::get().communes_2024[commune].commune_code.clone();
        let village = villages_of(commune)[self.rng.random_range(0..4)];
        let name = vocab::person_name(&mut self.rng);
        let phone = self
            .rng
            .random_bool(0.8)
            .then(|| vocab::phone(&mut self.rng));
        Subject::Household(world.add_household(&name, &code, village, phone))
    }

    /// One loan to `subject`, disbursed in [lo, hi]; `loan_no` is left empty.
    pub(crate) fn loan(
        &mut self,
        world: &World,
        subject: Subject,
        lo: NaiveDate,
        hi: NaiveDate,
    ) -> Loan {
        let today = self.today();
        let disbursed_on = if hi > DEFAULT_BASELINE && self.rng.random_bool(0.5) {
            self.date_between(lo.max(DEFAULT_BASELINE), hi)
        } else {
            self.date_between(lo, hi)
        };
        let term_months = *[12u32, 24, 36, 48, 60].choose(&mut self.rng).unwrap_or(&36);
        let due = disbursed_on
            .checked_add_months(chrono::Months::new(term_months))
            .unwrap_or(disbursed_on);
        let r: f64 = self.rng.random();
        let status = if due < today {
            if r < 0.7 {
                LoanStatus::Repaid
            } else if r < 0.9 {
                LoanStatus::Overdue
            } else {
                LoanStatus::Cancelled
            }
        } else if r < 0.7 {
            LoanStatus::Disbursed
        } else if r < 0.8 {
            LoanStatus::Overdue
        } else if r < 0.95 {
            LoanStatus::Cancelled
        } else {
            LoanStatus::Repaid
        };
        let modified_date = match status {
            LoanStatus::Repaid | LoanStatus::Overdue => {
                self.date_between((disbursed_on + Days::new(30)).min(today), today)
            }
            LoanStatus::Cancelled => {
                self.date_between(disbursed_on, (disbursed_on + Days::new(10)).min(today))
            }
            LoanStatus::Disbursed => {
                self.date_between(disbursed_on, (disbursed_on + Days::new(3)).min(today))
            }
        };
        let modified = self.time_on(modified_date);
        let (borrower, borrower_type, amount_vnd, purpose) = match subject {
            Subject::Org(i) => {
                let f = &world.organisations[i].facts;
                let product = PRODUCTS
                    .iter()
                    .find(|p| p.word == f.product)
                    .unwrap_or(&PRODUCTS[0]);
                let rep = f.representative.as_ref();
                let borrower = match self.noise {
                    NoiseModel::Classic => BorrowerText {
                        name: noise::borrower_name(&mut self.rng, &f.name),
                        tax_code: noise::tax_code(&mut self.rng, f.registration_code.as_deref()),
                        address: noise::address(&mut self.rng, &f.village, &f.commune_code),
                        legal_rep: rep
                            .and_then(|r| r.full_name.as_deref())
                            .filter(|_| self.rng.random_bool(0.85))
                            .map(|n| noise::person_as_typed(&mut self.rng, n)),
                        phone: rep
                            .and_then(|r| r.phone.as_deref())
                            .filter(|_| self.rng.random_bool(0.8))
                            .map(|p| noise::phone_as_typed(&mut self.rng, p)),
                    },
                    NoiseModel::Field => self.field_borrower(world, i, disbursed_on),
                };
                let t = match f.kind {
                    OrgKind::Tht => BorrowerType::CooperativeGroup,
                    _ => BorrowerType::Cooperative,
                };
                let amount = self.rng.random_range(10..=200i64) * 10_000_000;
                let purpose = vocab::pick_str(&mut self.rng, product.purposes).to_owned();
                (borrower, t, amount, purpose)
            }
            Subject::Household(_) | Subject::Nobody => {
                let (name, commune, village, phone) = match subject {
                    Subject::Household(h) => {
                        let hh = &world.households[h];
                        (
                            hh.full_name.clone(),
                            hh.commune_code.clone(),
                            hh.village.clone(),
                            hh.phone.clone(),
                        )
                    }
                    _ => {
                        let c = self.commune_index();
                        (
                            vocab::person_name(&mut self.rng),
                            Reference::get().communes_2024[c].commune_code.clone(),
                            villages_of(c)[0].to_owned(),
                            Some(vocab::phone(&mut self.rng)),
                        )
                    }
                };
                let typed = match self.noise {
                    NoiseModel::Classic => noise::person_as_typed(&mut self.rng, &name),
                    NoiseModel::Field => noise_field::person(&mut self.rng, &name, Context::Loan),
                };
                let address = match self.noise {
                    NoiseModel::Classic => noise::address(&mut self.rng, &village, &commune),
                    NoiseModel::Field => {
                        noise_field::address(&mut self.rng, &village, &commune, disbursed_on)
                    }
                };
                let borrower = BorrowerText {
                    name: typed.clone(),
                    tax_code: None,
                    address,
                    legal_rep: self.rng.random_bool(0.3).then_some(typed),
                    phone: phone.map(|p| noise::phone_as_typed(&mut self.rng, &p)),
                };
                let amount = self.rng.random_range(2..=10i64) * 10_000_000;
                let purpose = vocab::pick_str(&mut self.rng, HOUSEHOLD_PURPOSES).to_owned();
                (borrower, BorrowerType::Household, amount, purpose)
            }
        };
        Loan {
            loan_no: String::new(),
            subject,
            borrower,
            borrower_type,
            amount_vnd,
            disbursed_on,
            term_months,
            purpose,
            status,
            modified,
            bad: None,
        }
    }

    fn loans(&mut self, world: &mut World, n: usize) {
        self.rng = stream(self.seed, 2);
        let weights: Vec<(usize, u32)> = world
            .organisations
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let f = &o.facts;
                let mut w = match f.kind {
                    OrgKind::Htx if f.farmers_union_supported => 4,
                    OrgKind::Htx => 3,
                    OrgKind::Tht => 2,
                    OrgKind::Lhhtx => 1,
                };
                if o.registry_id.is_none() {
                    w += 2;
                }
                (i, w)
            })
            .collect();
        let today = self.today();
        let mut loans = Vec::with_capacity(n);
        for _ in 0..n {
            let subject = self.loan_subject(world, &weights);
            let lo = match subject {
                Subject::Org(i) => world.organisations[i]
                    .facts
                    .established_on
                    .max(EARLIEST_LOAN),
                _ => EARLIEST_LOAN,
            };
            let mut loan = self.loan(world, subject, lo.min(today), today);
            // ties on `modified`: a careful client keys on (modified, loan_no)
            if let Some(prev) = loans.last().map(|l: &Loan| l.modified)
                && prev.date() >= loan.disbursed_on
                && self.rng.random_bool(0.06)
            {
                loan.modified = prev;
            }
            loans.push(loan);
        }
        loans.sort_by_key(|l| (l.disbursed_on, l.modified));
        for mut loan in loans {
            loan.loan_no = world.new_loan_no(loan.disbursed_on.year());
            world.loans.push(loan);
        }
    }

    /// The entries a commune lists in its report of `year`.
    fn entries(&mut self, world: &World, commune_code: &str, year: i32) -> Vec<NtmEntry> {
        let today = self.today();
        let mut orgs: Vec<usize> = world
            .organisations
            .iter()
            .enumerate()
            .filter(|(i, o)| {
                world.commune_in_year(*i, year) == Some(commune_code)
                    && o.facts.kind != OrgKind::Lhhtx
                    && o.facts.established_on.year() <= year
            })
            .map(|(i, _)| i)
            .collect();
        orgs.retain(|&i| {
            let o = &world.organisations[i];
            let listed = if o.registry_id.is_some() { 0.85 } else { 0.9 };
            let dissolved_ok = o.facts.status != OrgStatus::Dissolved
                || (year < today.year() - 1 && self.rng.random_bool(0.5));
            dissolved_ok && self.rng.random_bool(listed)
        });
        orgs.shuffle(&mut self.rng);
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut entries = Vec::new();
        for i in orgs {
            let entry = self.entry(world, i, year, &mut used);
            entries.push(entry);
        }
        entries
    }

    /// An entry for `org` in a report of `year`; `used` holds the (folded) names the report
    /// already lists.
    pub(crate) fn entry(
        &mut self,
        world: &World,
        org: usize,
        year: i32,
        used: &mut BTreeSet<String>,
    ) -> NtmEntry {
        let o = &world.organisations[org];
        let f = &o.facts;
        let place_unique = !world.organisations.iter().enumerate().any(|(j, other)| {
            j != org
                && other.facts.commune_code == f.commune_code
                && other.facts.kind == f.kind
                && other.facts.place == f.place
        });
        let key = |s: &str| vocab::fold(s).to_lowercase();
        let name = match self.noise {
            NoiseModel::Classic => {
                let forms = noise::ntm_short_forms(&f.name, &f.product, &f.place, place_unique);
                let mut name = forms
                    .choose(&mut self.rng)
                    .cloned()
                    .unwrap_or_else(|| f.name.clone());
                if self.rng.random_bool(0.15) {
                    name = vocab::fold(&name);
                }
                if used.contains(&key(&name)) {
                    name = forms.first().cloned().unwrap_or_else(|| f.name.clone());
                    if used.contains(&key(&name)) {
                        name = f.name.clone();
                    }
                }
                name
            }
            NoiseModel::Field => {
                let commune = world.commune_in_year(org, year).unwrap_or(&f.commune_code);
                let on = ymd(year.clamp(2000, 2100), 12, 31);
                let spec = OrgName {
                    legal: &f.name,
                    kind: f.kind,
                    place: &f.place,
                    commune_code: commune,
                    on,
                };
                let name = noise_field::ntm_name(&mut self.rng, &spec, place_unique);
                if used.contains(&key(&name)) {
                    f.name.clone()
                } else {
                    name
                }
            }
        };
        used.insert(key(&name));
        let good = f
            .rating
            .is_some_and(|r| matches!(r.grade, Grade::Good | Grade::Fair));
        let p_effective = match (f.kind, f.status) {
            (_, OrgStatus::Suspended) | (_, OrgStatus::Dissolved) => 0.05,
            (OrgKind::Htx, _) if o.registry_id.is_none() => 0.4,
            (OrgKind::Htx, _) if good => 0.85,
            (OrgKind::Htx, _) => 0.35,
            _ => 0.4,
        };
        let r: f64 = self.rng.random();
        let linked = if f.enterprise_linkage == Some(true) {
            if r < 0.9 { Some(true) } else { None }
        } else if r < 0.12 {
            Some(true)
        } else if r < 0.72 {
            Some(false)
        } else {
            None
        };
        NtmEntry {
            org,
            name,
            kind: self.rng.random_bool(0.88).then_some(f.kind),
            representative: f
                .representative
                .as_ref()
                .and_then(|r| r.full_name.as_deref())
                .filter(|_| self.rng.random_bool(0.7))
                .map(|n| match self.noise {
                    NoiseModel::Classic => {
                        if self.rng.random_bool(0.15) {
                            vocab::fold(n)
                        } else {
                            n.to_owned()
                        }
                    }
                    NoiseModel::Field => noise_field::person(&mut self.rng, n, Context::Ntm),
                }),
            members: self.rng.random_bool(0.85).then(|| {
                if self.rng.random_bool(0.3) {
                    (f.member_households + self.rng.random_range(0..=4)).saturating_sub(2)
                } else {
                    f.member_households
                }
            }),
            effective: self.rng.random_bool(p_effective),
            linked_with_enterprise: linked,
        }
    }

    /// A plausible earlier version of a revision's entries.
    fn perturb(&mut self, entries: &[NtmEntry]) -> Vec<NtmEntry> {
        let mut out = entries.to_vec();
        if out.is_empty() {
            return out;
        }
        match self.rng.random_range(0..3) {
            0 => {
                let i = self.rng.random_range(0..out.len());
                out[i].effective = !out[i].effective;
            }
            1 => {
                out.pop();
            }
            _ => {
                let i = self.rng.random_range(0..out.len());
                out[i].members = out[i].members.map(|m| m.saturating_sub(1));
            }
        }
        out
    }

    fn reports(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 3);
        let today = self.today();
        let years = world.report_years.clone();
        let communes: Vec<String> = Reference::get()
            .communes_2024
            .iter()
            .map(|c| c.commune_code.clone())
            .collect();
        for &year in &years {
            for code in &communes {
                let entries = self.entries(world, code, year);
                let r: f64 = self.rng.random();
                let pattern = if year > today.year() {
                    Pattern::Draft
                } else if year == today.year() {
                    if r < 0.25 {
                        Pattern::Approved
                    } else if r < 0.55 {
                        Pattern::Submitted
                    } else {
                        Pattern::Draft
                    }
                } else if r < 0.78 {
                    Pattern::Approved
                } else if r < 0.88 {
                    Pattern::Submitted
                } else if r < 0.94 {
                    Pattern::DraftAfterApproved
                } else {
                    Pattern::Draft
                };
                let statuses = self.statuses(pattern);
                let counted = statuses
                    .iter()
                    .filter(|s| **s != ReportStatus::Draft)
                    .count();
                let times = self.submission_times(year, counted);
                let statuses = if times.len() < counted {
                    vec![ReportStatus::Draft]
                } else {
                    statuses
                };
                let n = statuses.len();
                let mut versions = vec![entries];
                for _ in 1..n {
                    let earlier = self.perturb(&versions[0]);
                    versions.insert(0, earlier);
                }
                let mut times = times.into_iter();
                for (k, (status, cooperatives)) in statuses.into_iter().zip(versions).enumerate() {
                    let submitted_at = if status == ReportStatus::Draft {
                        None
                    } else {
                        times.next()
                    };
                    let rev = NtmRevision {
                        revision: 0,
                        status,
                        criteria: criteria_for(&cooperatives, &world.organisations),
                        cooperatives,
                        submitted_at,
                        ever_current: true,
                        bad: None,
                    };
                    world.push_revision(code, year, rev);
                    // history made up here was never served: only the last revision was
                    if k + 1 < n
                        && let Some(r) = world.report_mut(code, year)
                        && let Some(last) = r.revisions.last_mut()
                    {
                        last.ever_current = false;
                    }
                }
            }
        }
    }

    fn statuses(&mut self, pattern: Pattern) -> Vec<ReportStatus> {
        use ReportStatus::*;
        let mut out = Vec::new();
        match pattern {
            Pattern::Approved => {
                if self.rng.random_bool(0.4) {
                    out.push(Draft);
                }
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Submitted);
                }
                out.push(Approved);
            }
            Pattern::Submitted => {
                if self.rng.random_bool(0.5) {
                    out.push(Draft);
                }
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Submitted);
                }
            }
            Pattern::DraftAfterApproved => out.extend([Submitted, Approved, Draft]),
            Pattern::Draft => {
                for _ in 0..self.rng.random_range(1..=2) {
                    out.push(Draft);
                }
            }
        }
        out
    }

    /// `n` increasing submission times for a report of `year`, none after now (fewer when
    /// the year has not come that far).
    fn submission_times(&mut self, year: i32, n: usize) -> Vec<DateTime<FixedOffset>> {
        if n == 0 {
            return Vec::new();
        }
        let now = self.now.naive_local();
        let mut start = ymd(year.clamp(2000, 2100), 9, 15)
            .and_hms_opt(8, 0, 0)
            .unwrap_or_default();
        let end = ymd(year.clamp(2000, 2100) + 1, 2, 28)
            .and_hms_opt(17, 0, 0)
            .unwrap_or_default()
            .min(now);
        if end <= start {
            start = ymd(year.clamp(2000, 2100), 1, 10)
                .and_hms_opt(8, 0, 0)
                .unwrap_or_default();
        }
        if end <= start {
            return Vec::new();
        }
        // distinct days, each at an office-hours time (never after now)
        let days = (end.date() - start.date()).num_days() + 1;
        if days < n as i64 {
            return Vec::new();
        }
        let mut picks: Vec<usize> = rand::seq::index::sample(&mut self.rng, days as usize, n)
            .into_iter()
            .collect();
        picks.sort_unstable();
        picks
            .into_iter()
            .map(|d| {
                let date = start.date() + Days::new(d as u64);
                local_to_fixed(&self.time_on(date))
            })
            .collect()
    }

    fn bad_records(&mut self, world: &mut World, n: usize) {
        self.rng = stream(self.seed, 4);
        for k in 0..n {
            let variant = k / 3;
            let done = match k % 3 {
                0 => false,
                1 => {
                    self.bad_loan(world, variant);
                    true
                }
                _ => self.bad_report(world, variant),
            };
            if !done {
                self.bad_registry(world, variant);
            }
        }
    }

    fn bad_registry(&mut self, world: &mut World, variant: usize) {
        let mut plan = self.new_plan(OrgKind::Htx);
        plan.place_is_village = true;
        let mut facts = self.facts(&plan, ymd(2016, 1, 1), ymd(2020, 12, 31));
        facts.status = OrgStatus::Dissolved;
        facts.farmers_union_supported = false;
        facts.origin = None;
        facts.rating = None;
        facts.enterprise_linkage = None;
        facts.key_officers = None;
        let (reason, patches) = match variant % 6 {
            0 => (
                "kind is not HTX, THT or LHHTX",
                vec![Patch::new(&["kind"], json!("XYZ"))],
            ),
            1 => (
                "established_on is not a date",
                vec![Patch::new(&["established_on"], json!("2024-02-30"))],
            ),
            2 => ("name is null", vec![Patch::new(&["name"], json!(null))]),
            3 => (
                "member_households is negative",
                vec![Patch::new(&["member_households"], json!(-4))],
            ),
            4 => (
                "commune_code and district_code are not Lai Châu units",
                vec![
                    Patch::new(&["commune_code"], json!("99999")),
                    Patch::new(&["district_code"], json!("999")),
                ],
            ),
            _ => (
                "established_on is not ISO 8601",
                vec![Patch::new(&["established_on"], json!("17/05/2019"))],
            ),
        };
        let updated_at = self.updated_at(facts.established_on);
        let id = world.new_registry_id();
        world.registry.push(RegistryRecord {
            id,
            subject: RegistrySubject::Junk(Box::new(facts)),
            updated_at,
            version: self.rng.random_range(1..=3),
            bad: Some(BadMark {
                reason: reason.into(),
                patches,
            }),
        });
    }

    fn bad_loan(&mut self, world: &mut World, variant: usize) {
        let today = self.today();
        let mut loan = self.loan(world, Subject::Nobody, EARLIEST_LOAN.min(today), today);
        let (reason, patches) = match variant % 6 {
            0 => (
                "disbursed_on is not a date",
                vec![Patch::new(&["disbursed_on"], json!("31/02/2024"))],
            ),
            1 => (
                "borrower.name is null",
                vec![Patch::new(&["borrower", "name"], json!(null))],
            ),
            2 => (
                "amount_vnd is not an integer",
                vec![Patch::new(&["amount_vnd"], json!("năm trăm triệu"))],
            ),
            3 => (
                "status is not a known status",
                vec![Patch::new(&["status"], json!("pending"))],
            ),
            4 => (
                "borrower_type is not a known type",
                vec![Patch::new(&["borrower_type"], json!("enterprise"))],
            ),
            _ => (
                "disbursed_on is not DD/MM/YYYY",
                vec![Patch::new(&["disbursed_on"], json!("2024-07-02"))],
            ),
        };
        loan.bad = Some(BadMark {
            reason: reason.into(),
            patches,
        });
        loan.loan_no = world.new_loan_no(loan.disbursed_on.year());
        world.loans.push(loan);
    }

    /// Appends a bad draft over a report (so the year's report is not counted whether the
    /// hub rejects the record or reads it as a draft). False when no report fits.
    fn bad_report(&mut self, world: &mut World, variant: usize) -> bool {
        let variant = variant % 4;
        let needs_entry = matches!(variant, 0 | 3);
        let candidates: Vec<usize> = world
            .reports
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.current().is_some_and(|c| {
                    c.bad.is_none() && (!needs_entry || !c.cooperatives.is_empty())
                })
            })
            .map(|(i, _)| i)
            .collect();
        let Some(&i) = candidates.choose(&mut self.rng) else {
            return false;
        };
        let (reason, patches) = match variant {
            0 => (
                "cooperatives[0].effective is not a boolean",
                vec![Patch::new(&["cooperatives", "0", "effective"], json!("có"))],
            ),
            1 => (
                "submitted_at is not a timestamp",
                vec![Patch::new(&["submitted_at"], json!("hôm qua"))],
            ),
            2 => (
                "criteria[0].met is not a boolean",
                vec![Patch::new(&["criteria", "0", "met"], json!("đạt"))],
            ),
            _ => (
                "cooperatives[0].members is not an integer",
                vec![Patch::new(
                    &["cooperatives", "0", "members"],
                    json!("mười hai"),
                )],
            ),
        };
        let (code, year, entries) = {
            let r = &world.reports[i];
            let entries = r
                .current()
                .map(|c| c.cooperatives.clone())
                .unwrap_or_default();
            (r.commune_code.clone(), r.year, entries)
        };
        for rev in &mut world.reports[i].revisions {
            rev.ever_current = false;
        }
        let entries = self.perturb(&entries);
        let entries = if needs_entry && entries.is_empty() {
            world.reports[i]
                .current()
                .map(|c| c.cooperatives.clone())
                .unwrap_or_default()
        } else {
            entries
        };
        let rev = NtmRevision {
            revision: 0,
            status: ReportStatus::Draft,
            criteria: criteria_for(&entries, &world.organisations),
            cooperatives: entries,
            submitted_at: None,
            ever_current: true,
            bad: Some(BadMark {
                reason: reason.into(),
                patches,
            }),
        };
        world.push_revision(&code, year, rev);
        true
    }

    /// A new organisation (for mutations): established in [lo, hi], in the registry.
    pub(crate) fn new_organisation_facts(&mut self, lo: NaiveDate, hi: NaiveDate) -> OrgFacts {
        let kind = if self.rng.random_bool(0.6) {
            OrgKind::Htx
        } else {
            OrgKind::Tht
        };
        let plan = self.new_plan(kind);
        self.facts(&plan, lo, hi)
    }

    // ---- the field model ----

    /// A loan's borrower written the field's way: where the organisation was on the day
    /// (a moved cooperative's earlier loans carry its old commune), new commune names after
    /// the reform, the field's names, tax codes and representatives.
    fn field_borrower(&mut self, world: &World, org: usize, on: NaiveDate) -> BorrowerText {
        let f = &world.organisations[org].facts;
        let (commune, village) = world
            .place_on(org, on)
            .unwrap_or((f.commune_code.as_str(), f.village.as_str()));
        let spec = OrgName {
            legal: &f.name,
            kind: f.kind,
            place: &f.place,
            commune_code: commune,
            on,
        };
        let rep = f.representative.as_ref();
        BorrowerText {
            name: noise_field::borrower_name(&mut self.rng, &spec),
            tax_code: noise_field::tax_code(&mut self.rng, f.registration_code.as_deref()),
            address: noise_field::address(&mut self.rng, village, commune, on),
            legal_rep: rep
                .and_then(|r| r.full_name.as_deref())
                .filter(|_| self.rng.random_bool(0.85))
                .map(|n| noise_field::person(&mut self.rng, n, Context::Loan)),
            phone: rep
                .and_then(|r| r.phone.as_deref())
                .filter(|_| self.rng.random_bool(0.8))
                .map(|p| noise::phone_as_typed(&mut self.rng, p)),
        }
    }

    /// The field's structural cases, after the organisations and before any record that
    /// names them: unions' namesakes, moves, shared representatives. Own stream.
    pub(crate) fn field_structure(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 20);
        self.union_namesakes(world);
        self.moves(world);
        self.shared_representatives(world);
    }

    /// For each union (`Liên hiệp Hợp tác xã … X`), up to two HTX/THT of its district renamed
    /// to carry the same place X (`Hợp tác xã chè X`): different organisations.
    fn union_namesakes(&mut self, world: &mut World) {
        let unions: Vec<usize> = (0..world.organisations.len())
            .filter(|&i| world.organisations[i].facts.kind == OrgKind::Lhhtx)
            .collect();
        let mut renamed: BTreeSet<usize> = BTreeSet::new();
        for u in unions {
            let (district, place) = {
                let f = &world.organisations[u].facts;
                (f.district_code.clone(), f.place.clone())
            };
            let candidates: Vec<usize> = (0..world.organisations.len())
                .filter(|&i| {
                    let f = &world.organisations[i].facts;
                    f.kind != OrgKind::Lhhtx && f.district_code == district && !renamed.contains(&i)
                })
                .collect();
            for p in [0.75, 0.4] {
                if !self.rng.random_bool(p) {
                    break;
                }
                let Some(&i) = candidates
                    .iter()
                    .filter(|i| !renamed.contains(i))
                    .collect::<Vec<_>>()
                    .choose(&mut self.rng)
                    .copied()
                else {
                    break;
                };
                let f = &world.organisations[i].facts;
                let product = PRODUCTS
                    .iter()
                    .find(|p| p.word == f.product)
                    .unwrap_or(&PRODUCTS[0]);
                let start = self.rng.random_range(0..HTX_TEMPLATES);
                let name = (0..HTX_TEMPLATES)
                    .map(|k| {
                        name_from_template(f.kind, (start + k) % HTX_TEMPLATES, product, &place)
                    })
                    .find(|n| !self.names.contains(n));
                if let Some(name) = name {
                    self.names.insert(name.clone());
                    let f = &mut world.organisations[i].facts;
                    f.name = name;
                    f.place = place.clone();
                    renamed.insert(i);
                }
            }
        }
    }

    /// About 3 % of registered HTX and THT established before mid-2023 moved to another
    /// commune of their district, between a year after they were established and the
    /// registry's last change (before the reform): their facts (and the registry) give the
    /// new commune; their name still carries the old place.
    fn moves(&mut self, world: &mut World) {
        let communes = &Reference::get().communes_2024;
        let last_move = ymd(2025, 6, 30);
        let updated_on: std::collections::HashMap<String, NaiveDate> = world
            .registry
            .iter()
            .map(|r| (r.id.clone(), r.updated_at.date_naive()))
            .collect();
        for i in 0..world.organisations.len() {
            let o = &world.organisations[i];
            let f = &o.facts;
            if f.kind == OrgKind::Lhhtx || f.established_on > ymd(2023, 6, 30) {
                continue;
            }
            let Some(&updated) = o.registry_id.as_ref().and_then(|id| updated_on.get(id)) else {
                continue;
            };
            if !self.rng.random_bool(0.03) {
                continue;
            }
            let lo = (f.established_on + Days::new(365)).max(ymd(2020, 1, 1));
            let hi = updated.min(last_move);
            let others: Vec<usize> = (0..communes.len())
                .filter(|&k| {
                    communes[k].district_code == f.district_code
                        && communes[k].commune_code != f.commune_code
                })
                .collect();
            let Some(&to) = others.choose(&mut self.rng) else {
                continue;
            };
            if hi <= lo {
                continue;
            }
            let on = self.date_between(lo, hi);
            let village = villages_of(to)[self.rng.random_range(0..4)];
            let code = communes[to].commune_code.clone();
            let o = &mut world.organisations[i];
            o.moved_from = Some(Move {
                commune_code: std::mem::replace(&mut o.facts.commune_code, code.clone()),
                village: std::mem::replace(&mut o.facts.village, village.to_owned()),
                on,
            });
            o.facts.address = noise::registry_address(village, &code);
        }
    }

    /// About 6 % of THT are led by the representative of an HTX of the same commune (the
    /// same phone six times in ten): one person, two organisations.
    fn shared_representatives(&mut self, world: &mut World) {
        for i in 0..world.organisations.len() {
            if world.organisations[i].facts.kind != OrgKind::Tht {
                continue;
            }
            let commune = world.organisations[i].facts.commune_code.clone();
            let leaders: Vec<Representative> = world
                .organisations
                .iter()
                .filter(|o| o.facts.kind == OrgKind::Htx && o.facts.commune_code == commune)
                .filter_map(|o| o.facts.representative.clone())
                .filter(|r| r.full_name.is_some())
                .collect();
            if leaders.is_empty() || !self.rng.random_bool(0.06) {
                continue;
            }
            let Some(leader) = leaders.choose(&mut self.rng).cloned() else {
                continue;
            };
            let same_phone = self.rng.random_bool(0.6);
            let f = &mut world.organisations[i].facts;
            let own_phone = f.representative.as_ref().and_then(|r| r.phone.clone());
            f.representative = Some(Representative {
                full_name: leader.full_name,
                phone: if same_phone { leader.phone } else { own_phone },
            });
        }
    }

    /// The registry's own noise on its legal names (about one in ten), once every record
    /// that copies a name was written. Own stream.
    pub(crate) fn field_registry_names(&mut self, world: &mut World) {
        self.rng = stream(self.seed, 21);
        for o in &mut world.organisations {
            if o.registry_id.is_some() {
                o.facts.name = noise_field::registry_name(&mut self.rng, &o.facts.name);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pattern {
    Approved,
    Submitted,
    DraftAfterApproved,
    Draft,
}

const HOUSEHOLD_PURPOSES: &[&str] = &[
    "Phát triển chăn nuôi hộ gia đình",
    "Trồng cây ăn quả",
    "Mua giống cây trồng",
    "Mua máy cày mini",
    "Cải tạo ao nuôi cá",
];

const HTX_TEMPLATES: usize = 6;

fn name_from_template(kind: OrgKind, template: usize, product: &Product, place: &str) -> String {
    let p = product.word;
    match kind {
        OrgKind::Tht => format!("Tổ hợp tác {} {place}", product.tht_phrase),
        OrgKind::Lhhtx => {
            if template.is_multiple_of(2) {
                format!("Liên hiệp Hợp tác xã Nông nghiệp {place}")
            } else {
                format!("Liên hiệp Hợp tác xã {p} {place}")
            }
        }
        OrgKind::Htx => {
            let sector = if p == "cá" {
                "Thủy sản"
            } else if product.animal {
                "Chăn nuôi"
            } else {
                "Nông nghiệp"
            };
            let plain = if product.animal {
                format!("{} {p}", if p == "cá" { "nuôi" } else { "chăn nuôi" })
            } else {
                p.to_owned()
            };
            match template {
                0 => format!("Hợp tác xã {sector} Dịch vụ {place}"),
                1 => format!("Hợp tác xã {plain} {place}"),
                2 => format!("Hợp tác xã Sản xuất và Thương mại {p} {place}"),
                3 => format!("Hợp tác xã Dịch vụ Tổng hợp {place}"),
                4 if p == "cá" => format!("Hợp tác xã {sector} {place}"),
                4 => format!("Hợp tác xã {sector} {p} {place}"),
                _ => format!("Hợp tác xã Kinh doanh Dịch vụ {p} {place}"),
            }
        }
    }
}

/// Four villages of a commune, fixed by its position in the reference list.
fn villages_of(commune: usize) -> [&'static str; 4] {
    let n = vocab::VILLAGES.len();
    let at = |k: usize| vocab::VILLAGES[(commune * 7 + k * 11) % n];
    [at(0), at(1), at(2), at(3)]
}

fn pick4(r: f64, new: f64, branch: f64, converted: f64) -> Option<Origin> {
    if r < new {
        Some(Origin::New)
    } else if r < new + branch {
        Some(Origin::ProfessionalBranch)
    } else if r < new + branch + converted {
        Some(Origin::ConvertedTht)
    } else {
        None
    }
}

fn tri(r: f64, p_true: f64, p_known: f64) -> Option<bool> {
    if r < p_true {
        Some(true)
    } else if r < p_known {
        Some(false)
    } else {
        None
    }
}

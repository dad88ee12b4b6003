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
//!
//! This module holds the configuration, [`generate`] (the order of the phases) and the
//! generation state `Gen` with its draws of dates, times, communes and codes; each phase is a
//! submodule: `organisations` (and their registry records), `loans`, `reports` (NTM),
//! `bad` (deliberately invalid records) and `field` (the field model's structural cases).

mod bad;
mod field;
mod loans;
mod organisations;
mod reports;

use std::collections::BTreeSet;

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveDateTime, Timelike};
use hub_normalise::reference::Reference;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::SimError;
use crate::world::{VN_OFFSET, World};

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
}

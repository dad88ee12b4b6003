//! The organisations and their registry records: legal names (with near-namesakes),
//! facts drawn per kind, registry timestamps and versions, new organisations for mutations.

use chrono::{DateTime, Datelike, Days, FixedOffset, NaiveDate};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::{Grade, KeyOfficers, OrgStatus, Origin, Rating};
use hub_normalise::reference::{Commune2024, Reference};
use rand::Rng;

use super::{DEFAULT_BASELINE, EARLIEST, Gen};
use crate::noise;
use crate::vocab::{self, PRODUCTS, Product};
use crate::world::{OrgFacts, Representative, World, local_to_fixed};

/// How a legal name is built, kept to make a near-namesake sibling.
#[derive(Debug, Clone, Copy)]
pub(super) struct NamePlan {
    pub(super) kind: OrgKind,
    pub(super) commune: usize,
    pub(super) village: &'static str,
    pub(super) place_is_village: bool,
    pub(super) template: usize,
    pub(super) product: usize,
}

impl Gen {
    pub(super) fn new_plan(&mut self, kind: OrgKind) -> NamePlan {
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
    pub(super) fn facts(&mut self, plan: &NamePlan, lo: NaiveDate, hi: NaiveDate) -> OrgFacts {
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
        let representative = self.representative();
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
        let rating = self.rating(kind, established_on);
        let r: f64 = self.rng.random();
        let enterprise_linkage = match kind {
            OrgKind::Htx => tri(r, 0.35, 0.8),
            OrgKind::Tht => tri(r, 0.1, 0.5),
            OrgKind::Lhhtx => tri(r, 0.6, 0.9),
        };
        let key_officers = self.key_officers(kind);
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

    /// The representative of a new organisation (none in about one in 25), with a name and
    /// a phone most of the time.
    fn representative(&mut self) -> Option<Representative> {
        if self.rng.random_bool(0.04) {
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
        }
    }

    /// The latest rating of an HTX or union established before this year (most of them).
    fn rating(&mut self, kind: OrgKind, established_on: NaiveDate) -> Option<Rating> {
        let today = self.today();
        match kind {
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
        }
    }

    /// Key officers and how many were trained (most HTX and unions, some THT).
    fn key_officers(&mut self, kind: OrgKind) -> Option<KeyOfficers> {
        match kind {
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
        }
    }

    /// When the registry last changed a record established on `established_on`.
    pub(super) fn updated_at(&mut self, established_on: NaiveDate) -> DateTime<FixedOffset> {
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

    pub(super) fn organisations(&mut self, world: &mut World, n: usize) {
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
}

pub(super) const HTX_TEMPLATES: usize = 6;

pub(super) fn name_from_template(
    kind: OrgKind,
    template: usize,
    product: &Product,
    place: &str,
) -> String {
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
pub(super) fn villages_of(commune: usize) -> [&'static str; 4] {
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

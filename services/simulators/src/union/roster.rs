//! What the Union's rosters hold, drawn from the world: branches (some converted into the
//! world's HTX/THT, some dissolved), officers and trainings, as of mid-2024, the end of 2024
//! and district 106's own roster of January 2025.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::Origin;
use hub_normalise::reference::{PROVINCE_CODE, Reference};
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::World;
use crate::generate::stream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    Active,
    Dissolved,
    Converted,
}

#[derive(Debug, Clone)]
pub(super) struct Branch {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) to_hoi: bool,
    pub(super) commune: String,
    pub(super) established: NaiveDate,
    pub(super) members: Option<u32>,
    pub(super) status: Status,
    pub(super) ended: Option<NaiveDate>,
    /// `chuyen_thanh_loai`, `chuyen_thanh_ten`, `chuyen_thanh_ma_dk` as the Union writes them.
    pub(super) converted: Option<(String, String, Option<String>)>,
    /// The world's organisation (index) the branch became, when it is one.
    pub(super) became: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Province,
    District,
    Commune,
    Branch,
}

#[derive(Debug, Clone)]
pub(super) struct Officer {
    pub(super) code: String,
    pub(super) name: String,
    pub(super) level: Level,
    pub(super) unit: String,
    pub(super) supports: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Training {
    pub(super) officer: String,
    pub(super) course: String,
    pub(super) from: NaiveDate,
    pub(super) to: NaiveDate,
    pub(super) covers: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Roster {
    pub(super) sender: String,
    pub(super) report_date: NaiveDate,
    pub(super) branches: Vec<Branch>,
    pub(super) officers: Vec<Officer>,
    pub(super) trainings: Vec<Training>,
}

pub(super) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
}

const SURNAMES: [&str; 8] = ["Lò", "Giàng", "Vàng", "Tao", "Sùng", "Lù", "Hoàng", "Tẩn"];
const GIVEN: [&str; 8] = [
    "Văn Minh",
    "A Páo",
    "Thị Mai",
    "Văn Nhất",
    "A Dính",
    "Thị Dợ",
    "Văn Hùng",
    "Seo Lở",
];
const CROPS: [&str; 6] = [
    "trồng chè",
    "nuôi ong",
    "trồng thảo quả",
    "nuôi cá",
    "trồng lúa",
    "chăn nuôi lợn",
];

fn person(rng: &mut impl Rng) -> String {
    format!(
        "{} {}",
        SURNAMES.choose(rng).unwrap_or(&"Lò"),
        GIVEN.choose(rng).unwrap_or(&"Văn Minh")
    )
}

/// The two rosters of the provincial union and district 106's roster.
pub(super) fn rosters(world: &World) -> (Roster, Roster, Roster) {
    let mut rng = stream(world.seed, 0xF0_0001);
    let p1 = mid_2024(world, &mut rng);
    let p2 = end_of_2024(world, &p1, &mut rng);
    let d106 = district_106(&p2);
    (p1, p2, d106)
}

/// Organisations grown out of a professional branch name the conversions (the Union writes
/// their names its own way: see `union_name`): (district, commune, organisation), sorted.
fn conversion_places(world: &World) -> Vec<(String, String, usize)> {
    let mut conversions: Vec<(String, String, usize)> = world
        .organisations
        .iter()
        .enumerate()
        .filter(|(_, o)| o.facts.origin == Some(Origin::ProfessionalBranch))
        .filter(|(_, o)| matches!(o.facts.kind, OrgKind::Htx | OrgKind::Tht))
        .map(|(i, o)| {
            (
                o.facts.district_code.clone(),
                o.facts.commune_code.clone(),
                i,
            )
        })
        .collect();
    conversions.sort();
    conversions
}

/// The lists of a roster while they are drawn.
struct Lists {
    branches: Vec<Branch>,
    officers: Vec<Officer>,
    trainings: Vec<Training>,
}

impl Lists {
    /// Branch `i` of a district in `commune` (the organisation it `became`, if any), its
    /// officer, and maybe the officer's training.
    fn add_branch(
        &mut self,
        rng: &mut ChaCha8Rng,
        district: &str,
        i: usize,
        commune: String,
        became: Option<usize>,
    ) {
        let established = d(
            rng.random_range(2015..2024),
            rng.random_range(1..13),
            rng.random_range(1..29),
        );
        self.branches.push(Branch {
            code: format!("CHNN-{district}-{:04}", i + 1),
            name: format!(
                "{} nông dân nghề nghiệp {}",
                if i.is_multiple_of(2) {
                    "Chi hội"
                } else {
                    "Tổ hội"
                },
                CROPS.choose(rng).unwrap_or(&"trồng chè")
            ),
            to_hoi: i % 2 == 1,
            commune: commune.clone(),
            established,
            members: rng.random_bool(0.8).then(|| rng.random_range(8..60)),
            status: Status::Active,
            ended: None,
            converted: None,
            became,
        });
        let officer = format!("CB-{commune}-{i}");
        self.officers.push(Officer {
            code: officer.clone(),
            name: person(rng),
            level: if i.is_multiple_of(2) {
                Level::Commune
            } else {
                Level::Branch
            },
            unit: commune,
            supports: rng.random_bool(0.7),
        });
        if rng.random_bool(0.6) {
            let from = d(2024, rng.random_range(1..6), rng.random_range(1..28));
            self.trainings.push(Training {
                officer,
                course: "Bồi dưỡng kinh tế tập thể".into(),
                from,
                to: from + chrono::Days::new(2),
                covers: rng.random_bool(0.8),
            });
        }
    }
}

/// The provincial roster of mid-2024: two provincial officers, and per district an officer
/// and four branches (every fifth placed in the commune of an organisation of its district
/// grown out of a professional branch, while one is left: it converts by the end of 2024).
fn mid_2024(world: &World, rng: &mut ChaCha8Rng) -> Roster {
    let by_district: BTreeMap<&str, Vec<&str>> =
        Reference::get()
            .communes_2024
            .iter()
            .fold(BTreeMap::new(), |mut m, c| {
                m.entry(c.district_code.as_str())
                    .or_insert_with(Vec::new)
                    .push(c.commune_code.as_str());
                m
            });
    let mut conversions = conversion_places(world);
    let mut lists = Lists {
        branches: Vec::new(),
        officers: vec![
            Officer {
                code: "CB-12-001".into(),
                name: person(rng),
                level: Level::Province,
                unit: PROVINCE_CODE.into(),
                supports: true,
            },
            Officer {
                code: "CB-12-002".into(),
                name: person(rng),
                level: Level::Province,
                unit: PROVINCE_CODE.into(),
                supports: false,
            },
        ],
        trainings: Vec::new(),
    };
    let mut n = 0;
    for (district, communes) in &by_district {
        lists.officers.push(Officer {
            code: format!("CB-{district}-H"),
            name: person(rng),
            level: Level::District,
            unit: (*district).to_owned(),
            supports: true,
        });
        for i in 0..4 {
            n += 1;
            let mut commune = (*communes.choose(rng).unwrap_or(&communes[0])).to_owned();
            let mut became = None;
            if (n - 1) % 5 == 0
                && let Some(at) = conversions.iter().position(|c| c.0 == *district)
            {
                let (_, c, o) = conversions.remove(at);
                commune = c;
                became = Some(o);
            }
            lists.add_branch(rng, district, i, commune, became);
        }
    }
    // a training before the baseline, and one on something else
    lists.trainings.push(Training {
        officer: "CB-12-001".into(),
        course: "Kinh tế tập thể 2023".into(),
        from: d(2023, 10, 2),
        to: d(2023, 10, 4),
        covers: true,
    });
    Roster {
        sender: PROVINCE_CODE.into(),
        report_date: d(2024, 6, 30),
        branches: lists.branches,
        officers: lists.officers,
        trainings: lists.trainings,
    }
}

/// The provincial roster of the end of 2024: conversions, dissolutions, one branch and one
/// officer gone, a new training.
fn end_of_2024(world: &World, p1: &Roster, rng: &mut ChaCha8Rng) -> Roster {
    let mut naming = stream(world.seed, 0xF0_0002);
    let mut p2 = p1.clone();
    p2.report_date = d(2024, 12, 31);
    for (i, b) in p2.branches.iter_mut().enumerate() {
        match i % 5 {
            0 => {
                b.status = Status::Converted;
                b.ended = Some(d(2024, rng.random_range(3..12), rng.random_range(1..28)));
                b.converted = Some(match b.became {
                    Some(o) => union_name(&mut naming, &world.organisations[o].facts),
                    None => ("THT".into(), format!("Tổ hợp tác {}", b.name), None),
                });
            }
            1 if i % 3 == 0 => {
                b.status = Status::Dissolved;
                b.ended = Some(d(2023, 12, 1));
            }
            2 if i % 4 == 2 => {
                // converted before the baseline: in neither count
                b.status = Status::Converted;
                b.ended = Some(d(2023, 6, 1));
                b.converted = Some(("HTX".into(), format!("HTX {}", b.name), None));
            }
            _ => {}
        }
    }
    p2.branches.remove(1);
    p2.officers.remove(3);
    let gone = p1.officers[3].code.clone();
    p2.trainings.retain(|t| t.officer != gone);
    p2.trainings.push(Training {
        officer: "CB-12-001".into(),
        course: "Kinh tế tập thể 2024".into(),
        from: d(2024, 9, 9),
        to: d(2024, 9, 11),
        covers: true,
    });
    p2
}

/// District 106's own, newer roster: its part of the end-2024 one, with a branch converted
/// since and its district officer supporting and trained.
fn district_106(p2: &Roster) -> Roster {
    let reference = Reference::get();
    let in_106 = |c: &str| {
        reference
            .commune_2024(c)
            .is_some_and(|x| x.district_code == "106")
    };
    let mut d106 = Roster {
        sender: "106".into(),
        report_date: d(2025, 1, 15),
        branches: p2
            .branches
            .iter()
            .filter(|b| in_106(&b.commune))
            .cloned()
            .collect(),
        officers: p2
            .officers
            .iter()
            .filter(|o| match o.level {
                Level::District => o.unit == "106",
                Level::Commune | Level::Branch => in_106(&o.unit),
                Level::Province => false,
            })
            .cloned()
            .collect(),
        trainings: Vec::new(),
    };
    let officers_106: BTreeSet<String> = d106.officers.iter().map(|o| o.code.clone()).collect();
    d106.trainings = p2
        .trainings
        .iter()
        .filter(|t| officers_106.contains(&t.officer))
        .cloned()
        .collect();
    if let Some(b) = d106
        .branches
        .iter_mut()
        .find(|b| b.status == Status::Active)
    {
        b.status = Status::Converted;
        b.ended = Some(d(2025, 1, 5));
        b.converted = Some(("THT".into(), format!("Tổ hợp tác {}", b.name), None));
    }
    for o in d106.officers.iter_mut() {
        if o.level == Level::District {
            o.supports = true;
            d106.trainings.push(Training {
                officer: o.code.clone(),
                course: "Tập huấn KTTT huyện".into(),
                from: d(2025, 1, 8),
                to: d(2025, 1, 9),
                covers: true,
            });
        }
    }
    d106
}

/// The HTX/THT an organisation is, as the Union writes it: its kind, its name (the legal
/// name, or typed the way a clerk types it: `HTX`, sector abbreviations, no diacritics,
/// case and spaces), and its registration code when the Union knows it (about half).
fn union_name(rng: &mut impl Rng, o: &crate::world::OrgFacts) -> (String, String, Option<String>) {
    let name = if rng.random_bool(0.4) {
        o.name.clone()
    } else {
        crate::noise::borrower_name(rng, &o.name)
    };
    let code = o.registration_code.clone().filter(|_| rng.random_bool(0.5));
    (o.kind.as_str().to_owned(), name, code)
}

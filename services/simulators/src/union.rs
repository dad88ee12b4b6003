//! The Farmers' Union's workbooks in the simulated world (`shared/sources/farmers-union.md`),
//! with the mess the spec describes, and the truth of I5 and I8 they give.
//!
//! [`workbooks`] derives, from a world (its seed and its registry organisations that grew out
//! of a professional branch, which name the conversions), the files the Union sends, in the
//! order they are uploaded:
//! 1. the provincial workbook of mid-2024 (XLSX);
//! 2. the provincial workbook of the end of 2024 (XLSX): one branch and one officer of the
//!    first are no longer listed (retracted), some branches converted or dissolved since,
//!    and bad rows (an unknown commune, an impossible date, an unknown level, a training of
//!    nobody);
//! 3. district 106's own workbook, of January 2025 (CSV, `;`, with a BOM): newer than the
//!    provincial one, so it stands for district 106; with a row outside its district;
//! 4. the end-2024 provincial workbook again (the same file twice).
//!
//! Every value is written the ways people type them: names in NFD with stray spaces, codes as
//! numbers, dates as Excel date cells, `dd/mm/yyyy`, `d/m/yyyy` or ISO, yes/no in every
//! spelling. [`UnionTruth`] is computed from the rosters themselves (bad rows left out), per
//! unit of both unit lists, exactly per `shared/mission/indicators.md`.
//!
//! Owns these files and their truth; never used by the hub's own code paths.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use hub_contracts::v1::common::OrgKind;
use hub_contracts::v1::source::Origin;
use hub_normalise::reference::{PROVINCE_CODE, Reference};
use rand::Rng;
use rand::seq::IndexedRandom;
use rust_xlsxwriter::{ExcelDateTime, Format};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use crate::World;
use crate::generate::stream;
use crate::truth::UnitList;

/// One uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// One upload: the files of one workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionWorkbook {
    pub sender: String,
    pub report_date: NaiveDate,
    pub files: Vec<UnionFile>,
    /// Rows written that a reader must reject.
    pub bad_rows: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Active,
    Dissolved,
    Converted,
}

#[derive(Debug, Clone)]
struct Branch {
    code: String,
    name: String,
    to_hoi: bool,
    commune: String,
    established: NaiveDate,
    members: Option<u32>,
    status: Status,
    ended: Option<NaiveDate>,
    /// `chuyen_thanh_loai`, `chuyen_thanh_ten`, `chuyen_thanh_ma_dk` as the Union writes them.
    converted: Option<(String, String, Option<String>)>,
    /// The world's organisation (index) the branch became, when it is one.
    became: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Province,
    District,
    Commune,
    Branch,
}

#[derive(Debug, Clone)]
struct Officer {
    code: String,
    name: String,
    level: Level,
    unit: String,
    supports: bool,
}

#[derive(Debug, Clone)]
struct Training {
    officer: String,
    course: String,
    from: NaiveDate,
    to: NaiveDate,
    covers: bool,
}

#[derive(Debug, Clone)]
struct Roster {
    sender: String,
    report_date: NaiveDate,
    branches: Vec<Branch>,
    officers: Vec<Officer>,
    trainings: Vec<Training>,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
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
fn rosters(world: &World) -> (Roster, Roster, Roster) {
    let mut rng = stream(world.seed, 0xF0_0001);
    let reference = Reference::get();
    let by_district: BTreeMap<&str, Vec<&str>> =
        reference
            .communes_2024
            .iter()
            .fold(BTreeMap::new(), |mut m, c| {
                m.entry(c.district_code.as_str())
                    .or_insert_with(Vec::new)
                    .push(c.commune_code.as_str());
                m
            });
    // organisations grown out of a professional branch name the conversions (the Union
    // writes their names its own way: see `union_name`)
    // (every fifth branch, the ones converted by the end of 2024, is placed in the commune
    // of such an organisation of its district while one is left)
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

    let mut branches = Vec::new();
    let mut officers = vec![
        Officer {
            code: "CB-12-001".into(),
            name: person(&mut rng),
            level: Level::Province,
            unit: PROVINCE_CODE.into(),
            supports: true,
        },
        Officer {
            code: "CB-12-002".into(),
            name: person(&mut rng),
            level: Level::Province,
            unit: PROVINCE_CODE.into(),
            supports: false,
        },
    ];
    let mut trainings = Vec::new();
    let mut n = 0;
    for (district, communes) in &by_district {
        officers.push(Officer {
            code: format!("CB-{district}-H"),
            name: person(&mut rng),
            level: Level::District,
            unit: (*district).to_owned(),
            supports: true,
        });
        for i in 0..4 {
            n += 1;
            let mut commune = (*communes.choose(&mut rng).unwrap_or(&communes[0])).to_owned();
            let mut became = None;
            if (n - 1) % 5 == 0
                && let Some(at) = conversions.iter().position(|c| c.0 == *district)
            {
                let (_, c, o) = conversions.remove(at);
                commune = c;
                became = Some(o);
            }
            let established = d(
                rng.random_range(2015..2024),
                rng.random_range(1..13),
                rng.random_range(1..29),
            );
            branches.push(Branch {
                code: format!("CHNN-{district}-{:04}", i + 1),
                name: format!(
                    "{} nông dân nghề nghiệp {}",
                    if i % 2 == 0 {
                        "Chi hội"
                    } else {
                        "Tổ hội"
                    },
                    CROPS.choose(&mut rng).unwrap_or(&"trồng chè")
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
            officers.push(Officer {
                code: officer.clone(),
                name: person(&mut rng),
                level: if i % 2 == 0 {
                    Level::Commune
                } else {
                    Level::Branch
                },
                unit: commune,
                supports: rng.random_bool(0.7),
            });
            if rng.random_bool(0.6) {
                let from = d(2024, rng.random_range(1..6), rng.random_range(1..28));
                trainings.push(Training {
                    officer,
                    course: "Bồi dưỡng kinh tế tập thể".into(),
                    from,
                    to: from + chrono::Days::new(2),
                    covers: rng.random_bool(0.8),
                });
            }
        }
    }
    // a training before the baseline, and one on something else
    trainings.push(Training {
        officer: "CB-12-001".into(),
        course: "Kinh tế tập thể 2023".into(),
        from: d(2023, 10, 2),
        to: d(2023, 10, 4),
        covers: true,
    });
    let p1 = Roster {
        sender: PROVINCE_CODE.into(),
        report_date: d(2024, 6, 30),
        branches: branches.clone(),
        officers: officers.clone(),
        trainings: trainings.clone(),
    };

    // end of 2024: conversions, dissolutions, one branch and one officer gone
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

    // district 106's own, newer roster: its part of p2 with changes
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
    (p1, p2, d106)
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

/// A cell as a person typed it.
#[derive(Debug, Clone)]
enum C {
    S(String),
    N(f64),
    D(NaiveDate),
    E,
}

struct Mess<R: Rng> {
    rng: R,
}

impl<R: Rng> Mess<R> {
    fn text(&mut self, s: &str) -> C {
        match self.rng.random_range(0..4) {
            0 => C::S(s.nfd().collect()),
            1 => C::S(format!("  {}  ", s.replace(' ', "  "))),
            _ => C::S(s.to_owned()),
        }
    }

    fn code(&mut self, c: &str) -> C {
        match c.parse::<u64>() {
            Ok(n) if self.rng.random_bool(0.5) => C::N(n as f64),
            _ => C::S(c.to_owned()),
        }
    }

    fn date(&mut self, x: NaiveDate) -> C {
        match self.rng.random_range(0..4) {
            0 => C::D(x),
            1 => C::S(x.format("%d/%m/%Y").to_string()),
            2 => C::S(format!("{}/{}/{}", x.day(), x.month(), x.year())),
            _ => C::S(x.format("%Y-%m-%d").to_string()),
        }
    }

    fn yes_no(&mut self, yes: bool) -> C {
        let forms: &[&str] = if yes {
            &["co", "có", "x", "1", "yes", "Có", "X"]
        } else {
            &["khong", "không", "", "0", "no", "KHÔNG"]
        };
        match *forms.choose(&mut self.rng).unwrap_or(&"") {
            "" => C::E,
            f => C::S(f.to_owned()),
        }
    }
}

const HEADERS: [(&str, &[&str]); 4] = [
    ("Thong_tin", &["don_vi_gui", "ngay_bao_cao", "nguoi_lap"]),
    (
        "Chi_to_hoi_NN",
        &[
            "ma",
            "ten",
            "loai",
            "ma_xa",
            "ma_xa_moi",
            "ngay_thanh_lap",
            "so_hoi_vien",
            "trang_thai",
            "ngay_ket_thuc",
            "chuyen_thanh_loai",
            "chuyen_thanh_ten",
            "chuyen_thanh_ma_dk",
        ],
    ),
    (
        "Can_bo_Hoi",
        &[
            "ma_can_bo",
            "ho_ten",
            "cap",
            "ma_don_vi",
            "chuc_vu",
            "phu_trach_KTTT",
            "dien_thoai",
        ],
    ),
    (
        "Tap_huan",
        &[
            "ma_can_bo",
            "khoa_hoc",
            "tu_ngay",
            "den_ngay",
            "don_vi_to_chuc",
            "noi_dung_KTTT",
        ],
    ),
];

/// The sheets of a roster, written with the mess, and the bad rows added.
fn sheets(roster: &Roster, bad: &[(usize, Vec<C>)], seed: u64) -> Vec<Vec<Vec<C>>> {
    let mut m = Mess {
        rng: stream(seed, 0xF0_0100 + roster.report_date.ordinal() as u64),
    };
    let reference = Reference::get();
    let info = vec![vec![
        m.code(&roster.sender),
        m.date(roster.report_date),
        m.text("Lò Văn Minh"),
    ]];
    let mut branches: Vec<Vec<C>> = roster
        .branches
        .iter()
        .map(|b| {
            let (kind, name, reg) = b.converted.clone().unwrap_or_default();
            let new_commune = reference.new_unit_of(&b.commune).unwrap_or("").to_owned();
            vec![
                C::S(b.code.clone()),
                m.text(&b.name),
                C::S(if b.to_hoi { "to_hoi" } else { "Chi_Hoi" }.into()),
                m.code(&b.commune),
                if m.rng.random_bool(0.3) {
                    m.code(&new_commune)
                } else {
                    C::E
                },
                m.date(b.established),
                b.members.map_or(C::E, |n| C::N(f64::from(n))),
                C::S(
                    match b.status {
                        Status::Active => "hoat_dong",
                        Status::Dissolved => "giai_the",
                        Status::Converted => "da_chuyen_doi",
                    }
                    .into(),
                ),
                b.ended.map_or(C::E, |e| m.date(e)),
                if kind.is_empty() {
                    C::E
                } else {
                    C::S(kind.to_lowercase())
                },
                if name.is_empty() { C::E } else { m.text(&name) },
                reg.map_or(C::E, |r| m.code(&r)),
            ]
        })
        .collect();
    let mut officers: Vec<Vec<C>> = roster
        .officers
        .iter()
        .map(|o| {
            vec![
                C::S(o.code.clone()),
                m.text(&o.name),
                C::S(
                    match o.level {
                        Level::Province => "tinh",
                        Level::District => "HUYEN",
                        Level::Commune => "xa",
                        Level::Branch => "chi_hoi",
                    }
                    .into(),
                ),
                m.code(&o.unit),
                C::E,
                m.yes_no(o.supports),
                if m.rng.random_bool(0.5) {
                    C::S("0912 345 678".into())
                } else {
                    C::E
                },
            ]
        })
        .collect();
    let mut trainings: Vec<Vec<C>> = roster
        .trainings
        .iter()
        .map(|t| {
            vec![
                C::S(t.officer.clone()),
                m.text(&t.course),
                m.date(t.from),
                m.date(t.to),
                C::E,
                m.yes_no(t.covers),
            ]
        })
        .collect();
    for (sheet, row) in bad {
        match sheet {
            1 => branches.push(row.clone()),
            2 => officers.push(row.clone()),
            _ => trainings.push(row.clone()),
        }
    }
    vec![info, branches, officers, trainings]
}

fn xlsx(sheets: &[Vec<Vec<C>>]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    for ((name, header), rows) in HEADERS.iter().zip(sheets) {
        let ws = wb.add_worksheet();
        // names and cells here are the module's own: writing them cannot fail
        let _ = ws.set_name(*name);
        for (c, h) in header.iter().enumerate() {
            let _ = ws.write_string(0, c as u16, *h);
        }
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 1, c as u16);
                let _ = match v {
                    C::S(s) => ws.write_string(r, c, s).map(|_| ()),
                    C::N(n) => ws.write_number(r, c, *n).map(|_| ()),
                    C::D(x) => {
                        ExcelDateTime::from_ymd(x.year() as u16, x.month() as u8, x.day() as u8)
                            .and_then(|dt| {
                                ws.write_datetime_with_format(r, c, &dt, &date).map(|_| ())
                            })
                    }
                    C::E => Ok(()),
                };
            }
        }
    }
    wb.save_to_buffer().unwrap_or_default()
}

fn csv(sheets: &[Vec<Vec<C>>]) -> Vec<UnionFile> {
    HEADERS
        .iter()
        .zip(sheets)
        .map(|((name, header), rows)| {
            let mut text = String::from("\u{feff}");
            text.push_str(&header.join(";"));
            text.push('\n');
            for row in rows {
                let cells: Vec<String> = row
                    .iter()
                    .map(|v| match v {
                        C::S(s) => s.replace(';', ","),
                        C::N(n) => format!("{n}"),
                        C::D(x) => x.format("%d/%m/%Y").to_string(),
                        C::E => String::new(),
                    })
                    .collect();
                text.push_str(&cells.join(";"));
                text.push('\n');
            }
            UnionFile {
                name: format!("{name}.csv"),
                bytes: text.into_bytes(),
            }
        })
        .collect()
}

fn s(x: &str) -> C {
    C::S(x.to_owned())
}

/// The Union's workbooks of `world`, in upload order (see the module's doc).
pub fn workbooks(world: &World) -> Vec<UnionWorkbook> {
    let (p1, p2, d106) = rosters(world);
    let p1_sheets = sheets(&p1, &[], world.seed);
    let bad_p2 = vec![
        (
            1,
            vec![
                s("CHNN-999-0001"),
                s("Chi hội ma"),
                s("chi_hoi"),
                s("99999"),
                C::E,
                s("01/01/2020"),
                C::E,
                s("hoat_dong"),
                C::E,
                C::E,
                C::E,
                C::E,
            ],
        ),
        (
            1,
            vec![
                s("CHNN-105-0099"),
                s("Chi hội ngày sai"),
                s("chi_hoi"),
                s("03386"),
                C::E,
                s("31/02/2024"),
                C::E,
                s("hoat_dong"),
                C::E,
                C::E,
                C::E,
                C::E,
            ],
        ),
        (
            1,
            vec![
                s("CHNN-105-0098"),
                s("Chuyển đổi thiếu loại"),
                s("to_hoi"),
                s("03386"),
                C::E,
                s("01/01/2020"),
                C::E,
                s("da_chuyen_doi"),
                s("01/05/2024"),
                C::E,
                s("HTX X"),
                C::E,
            ],
        ),
        (
            2,
            vec![
                s("CB-BAD-1"),
                s("Lò Văn Sai"),
                s("bo"),
                s("03386"),
                C::E,
                s("co"),
                C::E,
            ],
        ),
        (
            3,
            vec![
                s("CB-NOBODY"),
                s("Kinh tế tập thể"),
                s("2024-05-02"),
                s("2024-05-04"),
                C::E,
                s("x"),
            ],
        ),
    ];
    let p2_sheets = sheets(&p2, &bad_p2, world.seed);
    let bad_d106 = vec![
        (
            1,
            vec![
                s("CHNN-105-0777"),
                s("Chi hội huyện khác"),
                s("chi_hoi"),
                s("03386"),
                C::E,
                s("01/01/2020"),
                C::E,
                s("hoat_dong"),
                C::E,
                C::E,
                C::E,
                C::E,
            ],
        ),
        (
            2,
            vec![
                s("CB-TINH-X"),
                s("Tao Văn Nhất"),
                s("tinh"),
                s("12"),
                C::E,
                s("co"),
                C::E,
            ],
        ),
    ];
    let d_sheets = sheets(&d106, &bad_d106, world.seed);
    let p2_book = UnionWorkbook {
        sender: p2.sender.clone(),
        report_date: p2.report_date,
        files: vec![UnionFile {
            name: "hoi-nong-dan-tinh-2024-Q4.xlsx".into(),
            bytes: xlsx(&p2_sheets),
        }],
        bad_rows: bad_p2.len(),
    };
    vec![
        UnionWorkbook {
            sender: p1.sender.clone(),
            report_date: p1.report_date,
            files: vec![UnionFile {
                name: "hoi-nong-dan-tinh-2024-Q2.xlsx".into(),
                bytes: xlsx(&p1_sheets),
            }],
            bad_rows: 0,
        },
        p2_book.clone(),
        UnionWorkbook {
            sender: d106.sender.clone(),
            report_date: d106.report_date,
            files: csv(&d_sheets),
            bad_rows: bad_d106.len(),
        },
        p2_book,
    ]
}

/// I5 and I8 of one unit (numerators and denominators); absent: no workbook covers it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnionCounts {
    pub i5_num: u64,
    pub i5_den: u64,
    pub i8_num: u64,
    pub i8_den: u64,
    /// Of I5's numerator: conversions whose HTX/THT is an organisation of the registry…
    pub conv_matched: u64,
    /// …and those whose HTX/THT is not (not an organisation of the world, or one the
    /// registry does not hold).
    pub conv_unmatched: u64,
}

/// A converted branch of an uploaded workbook and the truth of what it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversionTruth {
    /// The branch's source id, `{sender}:{code}`.
    pub source_id: String,
    pub sender: String,
    pub code: String,
    /// `ma_xa` (2024 list) and its district.
    pub commune_code: String,
    pub district_code: String,
    pub ended_on: Option<NaiveDate>,
    /// What the Union wrote: `HTX`/`THT`, the name (NFC, spaces collapsed, as the adapter
    /// reads it), the registration code when written.
    pub kind: OrgKind,
    pub name: String,
    pub registration_code: Option<String>,
    /// The world's organisation it became (`ORG-…`), when it is one.
    pub organisation: Option<String>,
    /// That organisation's registry record id, when the registry holds it.
    pub registry_id: Option<String>,
}

/// Every converted branch of the workbooks of [`workbooks`] (the end-2024 provincial one and
/// district 106's; the mid-2024 one has none), with the truth of what it became.
pub fn conversions(world: &World) -> Vec<ConversionTruth> {
    let (_, p2, d106) = rosters(world);
    let reference = Reference::get();
    let mut out = Vec::new();
    for r in [&p2, &d106] {
        for b in &r.branches {
            let Some((kind, name, reg)) = &b.converted else {
                continue;
            };
            let org = b.became.map(|i| &world.organisations[i]);
            out.push(ConversionTruth {
                source_id: format!("{}:{}", r.sender, b.code),
                sender: r.sender.clone(),
                code: b.code.clone(),
                commune_code: b.commune.clone(),
                district_code: reference
                    .commune_2024(&b.commune)
                    .map(|c| c.district_code.clone())
                    .unwrap_or_default(),
                ended_on: b.ended,
                kind: if kind == "HTX" {
                    OrgKind::Htx
                } else {
                    OrgKind::Tht
                },
                name: name
                    .nfc()
                    .collect::<String>()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                registration_code: reg.clone(),
                organisation: org.map(|o| o.id.clone()),
                registry_id: org.and_then(|o| o.registry_id.clone()),
            });
        }
    }
    out
}

/// Whether the HTX/THT a branch became is an organisation of the registry.
fn in_registry(world: &World, b: &Branch) -> bool {
    b.became
        .and_then(|i| world.organisations.get(i))
        .is_some_and(|o| o.registry_id.is_some())
}

/// The truth of I5 and I8 per unit code, for the workbooks of [`workbooks`] as of T
/// (T on or after 2025-01-15, when all of them are sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnionTruth {
    pub units: BTreeMap<String, UnionCounts>,
}

impl UnionTruth {
    pub fn of(world: &World, list: UnitList, as_of: NaiveDate, baseline: NaiveDate) -> UnionTruth {
        let (_, p2, d106) = rosters(world);
        let reference = Reference::get();
        let mut units: BTreeMap<String, UnionCounts> = BTreeMap::new();
        // every unit is covered: the provincial workbook covers them all
        units.insert(PROVINCE_CODE.into(), UnionCounts::default());
        for c in &reference.communes_2024 {
            match list {
                UnitList::Units2024 => {
                    units.entry(c.district_code.clone()).or_default();
                    units.entry(c.commune_code.clone()).or_default();
                }
                UnitList::Units2025 => {
                    if let Some(n) = reference.new_unit_of(&c.commune_code) {
                        units.entry(n.to_owned()).or_default();
                    }
                }
            }
        }
        let district_of = |c: &str| reference.commune_2024(c).map(|x| x.district_code.clone());
        let stands = |r: &Roster, district: &str| {
            let own_newer = d106.report_date >= p2.report_date && d106.report_date <= as_of;
            if district == "106" && own_newer {
                r.sender == "106"
            } else {
                r.sender == PROVINCE_CODE
            }
        };
        let units_of_commune = |commune: &str| -> Vec<String> {
            let mut out = vec![PROVINCE_CODE.to_owned()];
            match list {
                UnitList::Units2024 => {
                    out.push(commune.to_owned());
                    if let Some(dc) = district_of(commune) {
                        out.push(dc);
                    }
                }
                UnitList::Units2025 => {
                    if let Some(n) = reference.new_unit_of(commune) {
                        out.push(n.to_owned());
                    }
                }
            }
            out
        };
        let (b, t) = (baseline, as_of);
        for r in [&p2, &d106] {
            for br in &r.branches {
                let Some(district) = district_of(&br.commune) else {
                    continue;
                };
                if !stands(r, &district) || br.established > t {
                    continue;
                }
                let ended_before_b = br.status != Status::Active && br.ended.is_some_and(|e| e < b);
                let converted =
                    br.status == Status::Converted && br.ended.is_some_and(|e| e >= b && e <= t);
                let matched = in_registry(world, br);
                for u in units_of_commune(&br.commune) {
                    let e = units.entry(u).or_default();
                    if !ended_before_b {
                        e.i5_den += 1;
                    }
                    if converted {
                        e.i5_num += 1;
                        if matched {
                            e.conv_matched += 1;
                        } else {
                            e.conv_unmatched += 1;
                        }
                    }
                }
            }
            let trained: BTreeSet<&str> = r
                .trainings
                .iter()
                .filter(|x| x.covers && x.to >= b && x.to <= t)
                .map(|x| x.officer.as_str())
                .collect();
            for o in r.officers.iter().filter(|o| o.supports) {
                let targets = match o.level {
                    Level::Province if r.sender == PROVINCE_CODE => vec![PROVINCE_CODE.to_owned()],
                    Level::Province => continue,
                    Level::District => {
                        if !stands(r, &o.unit) {
                            continue;
                        }
                        match list {
                            UnitList::Units2024 => vec![PROVINCE_CODE.to_owned(), o.unit.clone()],
                            UnitList::Units2025 => vec![PROVINCE_CODE.to_owned()],
                        }
                    }
                    Level::Commune | Level::Branch => {
                        let Some(district) = district_of(&o.unit) else {
                            continue;
                        };
                        if !stands(r, &district) {
                            continue;
                        }
                        units_of_commune(&o.unit)
                    }
                };
                let yes = trained.contains(o.code.as_str());
                for u in targets {
                    let e = units.entry(u).or_default();
                    e.i8_den += 1;
                    if yes {
                        e.i8_num += 1;
                    }
                }
            }
        }
        UnionTruth { units }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workbooks_are_deterministic_and_the_truth_has_values() {
        let world = crate::generate(&crate::WorldConfig::default()).expect("world");
        let a = workbooks(&world);
        let b = workbooks(&world);
        assert_eq!(a.len(), 4);
        assert_eq!(a[1], a[3], "the same file twice");
        assert_eq!(
            a.iter().map(|w| w.files.len()).collect::<Vec<_>>(),
            vec![1, 1, 4, 1]
        );
        assert_eq!(a[2].files, b[2].files, "CSV deterministic");
        let truth = UnionTruth::of(&world, UnitList::Units2024, d(2025, 6, 30), d(2024, 2, 20));
        let p = truth.units[PROVINCE_CODE];
        assert!(p.i5_num > 0 && p.i5_den > p.i5_num, "{p:?}");
        assert!(p.i8_num > 0 && p.i8_den > p.i8_num, "{p:?}");
        assert_eq!(p.conv_matched + p.conv_unmatched, p.i5_num, "{p:?}");
        let conv = conversions(&world);
        assert!(
            conv.iter().any(|c| c.registry_id.is_some())
                && conv.iter().any(|c| c.organisation.is_none()),
            "{conv:?}"
        );
    }
}

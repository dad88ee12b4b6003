//! The rosters written as the Union writes them: sheets of cells typed with the mess (NFD,
//! stray spaces, codes as numbers, dates in every form, yes/no in every spelling), the bad
//! rows added, then laid out as XLSX or as CSV files.

use chrono::{Datelike, NaiveDate};
use hub_normalise::reference::Reference;
use rand::Rng;
use rand::seq::IndexedRandom;
use rust_xlsxwriter::{ExcelDateTime, Format};
use unicode_normalization::UnicodeNormalization;

use super::UnionFile;
use super::roster::{Level, Roster, Status};
use crate::generate::stream;

/// A cell as a person typed it.
#[derive(Debug, Clone)]
pub(super) enum C {
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

/// The sheets and their columns, as the Union's template lays them out.
const HEADERS: [(&str, &[&str]); 4] = hub_contracts::v1::farmers_union::sheets::TEMPLATE;

/// The sheets of a roster, written with the mess, and the bad rows added.
pub(super) fn sheets(roster: &Roster, bad: &[(usize, Vec<C>)], seed: u64) -> Vec<Vec<Vec<C>>> {
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

pub(super) fn xlsx(sheets: &[Vec<Vec<C>>]) -> Vec<u8> {
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

pub(super) fn csv(sheets: &[Vec<Vec<C>>]) -> Vec<UnionFile> {
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

pub(super) fn s(x: &str) -> C {
    C::S(x.to_owned())
}

/// The bad rows of the end-2024 provincial workbook: an unknown commune, an impossible
/// date, a conversion without its kind, an unknown level, a training of nobody.
pub(super) fn bad_rows_end_2024() -> Vec<(usize, Vec<C>)> {
    vec![
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
    ]
}

/// The bad rows of district 106's workbook: a branch of another district, a provincial
/// officer.
pub(super) fn bad_rows_district_106() -> Vec<(usize, Vec<C>)> {
    vec![
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
    ]
}

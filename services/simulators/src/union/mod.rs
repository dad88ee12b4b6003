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
//!
//! Submodules: `roster` (what the Union's rosters hold, drawn from the world), `sheets` (the
//! rosters written as sheets with the mess, then XLSX or CSV) and `truth` (the conversions'
//! truth and [`UnionTruth`]).

mod roster;
mod sheets;
mod truth;

use chrono::NaiveDate;

use crate::World;
use roster::rosters;
use sheets::{bad_rows_district_106, bad_rows_end_2024, csv, sheets, xlsx};
pub use truth::{ConversionTruth, UnionCounts, UnionTruth, conversions};

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

/// The Union's workbooks of `world`, in upload order (see the module's doc).
pub fn workbooks(world: &World) -> Vec<UnionWorkbook> {
    let (p1, p2, d106) = rosters(world);
    let p1_sheets = sheets(&p1, &[], world.seed);
    let bad_p2 = bad_rows_end_2024();
    let p2_sheets = sheets(&p2, &bad_p2, world.seed);
    let bad_d106 = bad_rows_district_106();
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

#[cfg(test)]
mod tests {
    use super::roster::d;
    use super::*;
    use crate::truth::UnitList;
    use hub_normalise::reference::PROVINCE_CODE;

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

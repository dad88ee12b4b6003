//! A workbook as people send it: one XLSX file (read with `calamine`), or one CSV file per
//! sheet (named after the sheet, UTF-8 with or without BOM, comma or semicolon separated),
//! turned into sheets of typed cells, and the readers of values as people type them.
//!
//! - Sheet and column names match case-insensitively, ignoring surrounding spaces.
//! - Row numbers are the ones the sender sees: the header is row 1 of a CSV file, an XLSX
//!   row keeps its spreadsheet number.
//! - [`RowReader`] reads one row's cells into typed values or a [`RowError`] naming the
//!   sheet, the row, the column and the reason: text in NFC with stray spaces collapsed,
//!   codes typed as numbers padded back (`3421` → `03421`), dates as `dd/mm/yyyy`,
//!   `d/m/yyyy`, ISO or Excel date cells (serial numbers), yes/no in their spellings
//!   (`co`, `có`, `x`, `1`, `yes` / `khong`, `không`, empty, `0`, `no`).
//!
//! Owns the reading of files into cells; knows no source's sheets or columns.

use std::collections::BTreeMap;
use std::io::Cursor;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

/// Most rows read from one sheet (a larger sheet refuses the upload).
pub const MAX_ROWS_PER_SHEET: usize = 50_000;

/// Most bytes an XLSX file's parts may expand to (as its zip directory declares them, checked
/// before anything is decompressed): a small file that expands to gigabytes is refused.
pub const MAX_XLSX_EXPANDED_BYTES: u128 = 256 * 1024 * 1024;

/// One uploaded file: its name as sent and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// A cell's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Bool(bool),
    /// An Excel date cell, as its serial number (days since 1899-12-30).
    Date(f64),
}

impl Cell {
    /// The cell as JSON for a record's `meta.raw` (text as typed, numbers as numbers).
    pub fn to_json(&self) -> Value {
        match self {
            Cell::Empty => Value::Null,
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Number(n) | Cell::Date(n) => serde_json::Number::from_f64(*n)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Cell::Bool(b) => Value::Bool(*b),
        }
    }

    fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// One data row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The row's number as the sender sees it.
    pub number: usize,
    pub cells: Vec<Cell>,
}

/// One sheet: its name, its header (column names as written) and its data rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub name: String,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

/// Why a file could not be read at all (the whole upload is refused with this).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("no file was sent")]
    Empty,
    #[error("{file}: not an XLSX workbook or a CSV file (by its name)")]
    UnknownKind { file: String },
    #[error("send one XLSX workbook, or CSV files only, not both")]
    Mixed,
    #[error("{file}: unreadable: {detail}")]
    Unreadable { file: String, detail: String },
    #[error("{file}: sheet {sheet} has more than {max} rows")]
    TooManyRows {
        file: String,
        sheet: String,
        max: usize,
    },
    #[error("{total} bytes sent, at most {max} accepted")]
    TooLarge { total: usize, max: usize },
    #[error("sheet {sheet} is missing")]
    MissingSheet { sheet: String },
    #[error("sheet {sheet}: required column(s) missing: {}", columns.join(", "))]
    MissingColumns { sheet: String, columns: Vec<String> },
    /// The source refused the workbook as a whole (its header sheet, its sender, …).
    #[error("{0}")]
    Refused(String),
}

/// A row that cannot be read, reported to the sender; the rest of the workbook is taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RowError {
    pub sheet: String,
    pub row: usize,
    pub column: String,
    pub reason: String,
    /// The record the row would have been, when its key could be read (not retracted for
    /// being unreadable). Not shown to the sender.
    #[serde(skip)]
    pub record_id: Option<String>,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sheet {}, row {}, column {}: {}",
            self.sheet, self.row, self.column, self.reason
        )
    }
}

/// Sheet and column names compare like this: trimmed, NFC, lower case.
pub fn name_key(name: &str) -> String {
    name.trim().nfc().collect::<String>().to_lowercase()
}

/// The sheets of one upload.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Workbook {
    pub sheets: Vec<Sheet>,
}

impl Workbook {
    /// Reads one `.xlsx` file, or one or more `.csv` files (each a sheet named after the file).
    pub fn read(files: &[UploadFile]) -> Result<Self, FileError> {
        if files.is_empty() {
            return Err(FileError::Empty);
        }
        let kind = |f: &UploadFile| {
            let n = f.name.to_lowercase();
            if n.ends_with(".xlsx") {
                Ok(true)
            } else if n.ends_with(".csv") {
                Ok(false)
            } else {
                Err(FileError::UnknownKind {
                    file: f.name.clone(),
                })
            }
        };
        let xlsx: Vec<bool> = files.iter().map(kind).collect::<Result<_, _>>()?;
        match (xlsx.iter().filter(|x| **x).count(), files.len()) {
            (0, _) => {
                let mut sheets = Vec::new();
                for f in files {
                    sheets.push(read_csv(f)?);
                }
                Ok(Self { sheets })
            }
            (1, 1) => read_xlsx(&files[0]),
            _ => Err(FileError::Mixed),
        }
    }

    /// A sheet by name (case-insensitive, surrounding spaces ignored).
    pub fn sheet(&self, name: &str) -> Option<&Sheet> {
        let key = name_key(name);
        self.sheets.iter().find(|s| name_key(&s.name) == key)
    }

    /// A sheet that must be there.
    pub fn required_sheet(&self, name: &str) -> Result<&Sheet, FileError> {
        self.sheet(name).ok_or_else(|| FileError::MissingSheet {
            sheet: name.to_owned(),
        })
    }
}

fn read_xlsx(file: &UploadFile) -> Result<Workbook, FileError> {
    use calamine::{Data, Reader, Xlsx};
    let unreadable = |e: &dyn std::fmt::Display| FileError::Unreadable {
        file: file.name.clone(),
        detail: e.to_string(),
    };
    check_expanded(&file.bytes, MAX_XLSX_EXPANDED_BYTES).map_err(|e| unreadable(&e))?;
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(&file.bytes)).map_err(|e| unreadable(&e))?;
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(|e| unreadable(&e))?;
        let Some((first_row, _)) = range.start() else {
            sheets.push(Sheet {
                name,
                header: Vec::new(),
                rows: Vec::new(),
            });
            continue;
        };
        if range.height() > MAX_ROWS_PER_SHEET + 1 {
            return Err(FileError::TooManyRows {
                file: file.name.clone(),
                sheet: name,
                max: MAX_ROWS_PER_SHEET,
            });
        }
        let mut rows = range.rows();
        let header = rows
            .next()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::String(s) => s.clone(),
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let data = rows
            .enumerate()
            .map(|(i, r)| Row {
                // spreadsheet rows are 1-based; the header is at first_row
                number: first_row as usize + i + 2,
                cells: r
                    .iter()
                    .map(|c| match c {
                        Data::Empty | Data::Error(_) => Cell::Empty,
                        Data::String(s) => Cell::Text(s.clone()),
                        Data::Int(i) => Cell::Number(*i as f64),
                        Data::Float(f) => Cell::Number(*f),
                        Data::Bool(b) => Cell::Bool(*b),
                        Data::DateTime(d) => Cell::Date(d.as_f64()),
                        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
                    })
                    .collect(),
            })
            .filter(|r| !r.cells.iter().all(Cell::is_blank))
            .collect();
        sheets.push(Sheet {
            name,
            header,
            rows: data,
        });
    }
    Ok(Workbook { sheets })
}

/// Refuses a zip whose parts expand beyond `max` bytes, by the central directory's sizes
/// (written by every writer, with or without data descriptors), before anything is
/// decompressed; a part that expands beyond its declared size fails its read later.
fn check_expanded(bytes: &[u8], max: u128) -> Result<(), String> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut expanded: u128 = 0;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(|e| e.to_string())?;
        expanded += u128::from(part.size());
    }
    if expanded > max {
        return Err(format!("expands to {expanded} bytes, more than {max}"));
    }
    Ok(())
}

fn read_csv(file: &UploadFile) -> Result<Sheet, FileError> {
    let unreadable = |detail: String| FileError::Unreadable {
        file: file.name.clone(),
        detail,
    };
    let text =
        std::str::from_utf8(&file.bytes).map_err(|e| unreadable(format!("not UTF-8 ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or("");
    let delimiter = if first_line.matches(';').count() > first_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut header = Vec::new();
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| unreadable(e.to_string()))?;
        let number = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or(i + 1);
        if i == 0 {
            header = record.iter().map(str::to_owned).collect();
            continue;
        }
        if rows.len() >= MAX_ROWS_PER_SHEET {
            return Err(FileError::TooManyRows {
                file: file.name.clone(),
                sheet: sheet_name_of(&file.name),
                max: MAX_ROWS_PER_SHEET,
            });
        }
        let cells: Vec<Cell> = record
            .iter()
            .map(|s| {
                if s.trim().is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(s.to_owned())
                }
            })
            .collect();
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        rows.push(Row { number, cells });
    }
    Ok(Sheet {
        name: sheet_name_of(&file.name),
        header,
        rows,
    })
}

/// `path/Chi_to_hoi_NN.csv` → `Chi_to_hoi_NN`.
fn sheet_name_of(file: &str) -> String {
    let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
    base.strip_suffix(".csv")
        .or_else(|| base.strip_suffix(".CSV"))
        .unwrap_or(base)
        .to_owned()
}

/// The columns of a sheet, by name.
#[derive(Debug, Clone)]
pub struct Columns {
    sheet: String,
    index: BTreeMap<String, usize>,
    header: Vec<String>,
}

impl Sheet {
    /// The sheet's columns; a missing required column refuses the sheet, naming it.
    pub fn columns(&self, required: &[&str]) -> Result<Columns, FileError> {
        let mut index = BTreeMap::new();
        for (i, h) in self.header.iter().enumerate() {
            index.entry(name_key(h)).or_insert(i);
        }
        let missing: Vec<String> = required
            .iter()
            .filter(|c| !index.contains_key(&name_key(c)))
            .map(|c| (*c).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(FileError::MissingColumns {
                sheet: self.name.clone(),
                columns: missing,
            });
        }
        Ok(Columns {
            sheet: self.name.clone(),
            index,
            header: self.header.clone(),
        })
    }
}

impl Columns {
    /// A reader of one row of this sheet.
    pub fn row<'a>(&'a self, row: &'a Row) -> RowReader<'a> {
        RowReader { cols: self, row }
    }
}

/// Reads the cells of one row into typed values; every failure names sheet, row, column.
pub struct RowReader<'a> {
    cols: &'a Columns,
    row: &'a Row,
}

const EMPTY: Cell = Cell::Empty;

/// Days from 1899-12-30, Excel's day 0 (serials from 61 on; earlier ones are not dates here).
fn excel_serial(serial: f64) -> Option<NaiveDate> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    NaiveDate::from_ymd_opt(1899, 12, 30)?
        .checked_add_days(chrono::Days::new(serial.floor() as u64))
}

/// Collapses white space, trims, and composes to NFC.
pub fn clean_text(s: &str) -> String {
    let composed: String = s.nfc().collect();
    composed.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

impl<'a> RowReader<'a> {
    /// The row's number as the sender sees it.
    pub fn number(&self) -> usize {
        self.row.number
    }

    /// An error on `column` of this row.
    pub fn error(&self, column: &str, reason: impl Into<String>) -> RowError {
        RowError {
            sheet: self.cols.sheet.clone(),
            row: self.row.number,
            column: column.to_owned(),
            reason: reason.into(),
            record_id: None,
        }
    }

    /// The cell under `column` (empty when the column or the cell is absent).
    pub fn cell(&self, column: &str) -> &'a Cell {
        self.cols
            .index
            .get(&name_key(column))
            .and_then(|&i| self.row.cells.get(i))
            .unwrap_or(&EMPTY)
    }

    /// The row as JSON, column names as written (for `meta.raw`); empty cells left out.
    pub fn raw(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (i, h) in self.cols.header.iter().enumerate() {
            let c = self.row.cells.get(i).unwrap_or(&EMPTY);
            if !c.is_blank() && !h.trim().is_empty() {
                m.insert(h.trim().to_owned(), c.to_json());
            }
        }
        Value::Object(m)
    }

    /// Text (NFC, spaces collapsed); a number is written back without a fractional `.0`.
    pub fn text(&self, column: &str) -> Option<String> {
        match self.cell(column) {
            Cell::Empty => None,
            Cell::Text(s) => Some(clean_text(s)).filter(|s| !s.is_empty()),
            Cell::Number(n) | Cell::Date(n) => Some(number_text(*n)),
            Cell::Bool(b) => Some(b.to_string()),
        }
    }

    /// Text that must be there.
    pub fn required_text(&self, column: &str) -> Result<String, RowError> {
        self.text(column)
            .ok_or_else(|| self.error(column, "required value missing"))
    }

    /// A code: a number typed for it is written back as digits, and when `pad_to` is given
    /// an all-digit code shorter than that is left-padded with zeros (`3421` → `03421`).
    pub fn code(&self, column: &str, pad_to: Option<usize>) -> Result<Option<String>, RowError> {
        let raw = match self.cell(column) {
            Cell::Number(n) if n.fract() != 0.0 || *n < 0.0 => {
                return Err(self.error(column, format!("{n} is not a code")));
            }
            _ => self.text(column),
        };
        let Some(code) = raw.map(|s| s.replace(' ', "")) else {
            return Ok(None);
        };
        match pad_to {
            Some(width) if code.chars().all(|c| c.is_ascii_digit()) && code.len() < width => {
                Ok(Some(format!("{code:0>width$}")))
            }
            _ => Ok(Some(code)),
        }
    }

    /// A code that must be there.
    pub fn required_code(&self, column: &str, pad_to: Option<usize>) -> Result<String, RowError> {
        self.code(column, pad_to)?
            .ok_or_else(|| self.error(column, "required value missing"))
    }

    /// A date: an Excel date cell or serial, `dd/mm/yyyy`, `d/m/yyyy` or `yyyy-mm-dd`.
    pub fn date(&self, column: &str) -> Result<Option<NaiveDate>, RowError> {
        let bad = |what: &str| self.error(column, format!("{what} is not a date"));
        match self.cell(column) {
            Cell::Empty => Ok(None),
            Cell::Date(n) | Cell::Number(n) => excel_serial(*n)
                .map(Some)
                .ok_or_else(|| bad(&number_text(*n))),
            Cell::Bool(b) => Err(bad(&b.to_string())),
            Cell::Text(s) => {
                let s = s.trim();
                if s.is_empty() {
                    return Ok(None);
                }
                if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                    return Ok(Some(d));
                }
                hub_normalise::datetime::parse_dmy(s)
                    .map(Some)
                    .map_err(|_| bad(&format!("{s:?}")))
            }
        }
    }

    /// A date that must be there.
    pub fn required_date(&self, column: &str) -> Result<NaiveDate, RowError> {
        self.date(column)?
            .ok_or_else(|| self.error(column, "required value missing"))
    }

    /// Yes or no: `co`, `có`, `x`, `1`, `yes` (and `true`) / `khong`, `không`, empty, `0`,
    /// `no` (and `false`); any case, any spaces.
    pub fn yes_no(&self, column: &str) -> Result<bool, RowError> {
        match self.cell(column) {
            Cell::Empty => Ok(false),
            Cell::Bool(b) => Ok(*b),
            Cell::Number(n) if *n == 1.0 => Ok(true),
            Cell::Number(n) if *n == 0.0 => Ok(false),
            Cell::Number(n) | Cell::Date(n) => {
                Err(self.error(column, format!("{} is not yes or no", number_text(*n))))
            }
            Cell::Text(s) => match hub_normalise::text::fold(s).as_str() {
                "co" | "x" | "1" | "yes" | "true" => Ok(true),
                "" | "khong" | "0" | "no" | "false" => Ok(false),
                _ => Err(self.error(column, format!("{:?} is not yes or no", s.trim()))),
            },
        }
    }

    /// A whole number >= 0.
    pub fn count(&self, column: &str) -> Result<Option<u32>, RowError> {
        let bad = |what: String| self.error(column, format!("{what} is not a whole number >= 0"));
        match self.cell(column) {
            Cell::Empty => Ok(None),
            Cell::Number(n) if n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX) => {
                Ok(Some(*n as u32))
            }
            Cell::Number(n) | Cell::Date(n) => Err(bad(number_text(*n))),
            Cell::Bool(b) => Err(bad(b.to_string())),
            Cell::Text(s) => {
                let t = s.trim().replace(['.', ',', ' '], "");
                if t.is_empty() {
                    return Ok(None);
                }
                t.parse::<u32>()
                    .map(Some)
                    .map_err(|_| bad(format!("{:?}", s.trim())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader_test(cells: Vec<Cell>, check: impl FnOnce(RowReader<'_>)) {
        let sheet = Sheet {
            name: "S".into(),
            header: (0..cells.len()).map(|i| format!(" C{i} ")).collect(),
            rows: vec![Row { number: 7, cells }],
        };
        let cols = sheet.columns(&["c0"]).expect("columns");
        check(cols.row(&sheet.rows[0]));
    }

    #[test]
    fn values_as_people_type_them() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        reader_test(
            vec![
                Cell::Text("  Bản   Ho\u{0301}n ".into()),
                Cell::Number(3421.0),
                Cell::Date(45292.0),
                Cell::Text("5/3/2024".into()),
                Cell::Text("2024-03-05".into()),
                Cell::Text(" Có ".into()),
                Cell::Text("KHÔNG".into()),
                Cell::Text("x".into()),
                Cell::Number(45292.0),
                Cell::Text("31/02/2024".into()),
                Cell::Text("maybe".into()),
            ],
            |r| {
                assert_eq!(r.text("c0").as_deref(), Some("Bản Hón"));
                assert_eq!(
                    r.code("c1", Some(5)).ok().flatten().as_deref(),
                    Some("03421")
                );
                assert_eq!(r.date("c2"), Ok(d(2024, 1, 1)));
                assert_eq!(r.date("c3"), Ok(d(2024, 3, 5)));
                assert_eq!(r.date("c4"), Ok(d(2024, 3, 5)));
                assert_eq!(r.yes_no("c5"), Ok(true));
                assert_eq!(r.yes_no("c6"), Ok(false));
                assert_eq!(r.yes_no("c7"), Ok(true));
                assert_eq!(r.yes_no("missing"), Ok(false));
                assert_eq!(r.date("c8"), Ok(d(2024, 1, 1)));
                let e = r.date("c9").expect_err("no 31 February");
                assert_eq!((e.sheet.as_str(), e.row, e.column.as_str()), ("S", 7, "c9"));
                assert!(r.yes_no("c10").is_err());
            },
        );
    }

    #[test]
    fn a_zip_expanding_beyond_the_limit_is_refused_before_it_is_read() {
        use std::io::Write;
        let mut buf = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut buf);
        w.start_file(
            "xl/sharedStrings.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .expect("start");
        w.write_all(&[b'a'; 5000]).expect("write");
        w.finish().expect("finish");
        let bytes = buf.into_inner();
        assert!(bytes.len() < 1000, "small on the wire");
        assert_eq!(
            check_expanded(&bytes, 4000),
            Err("expands to 5000 bytes, more than 4000".into())
        );
        assert_eq!(check_expanded(&bytes, 5000), Ok(()));
    }

    #[test]
    fn csv_with_bom_and_semicolons_keeps_line_numbers() {
        let f = UploadFile {
            name: "dir/Tap_huan.csv".into(),
            bytes: "\u{feff}a;b\n1;x\n\n;\n2;y\n".as_bytes().to_vec(),
        };
        let wb = Workbook::read(&[f]).expect("reads");
        let s = wb.sheet(" tap_HUAN ").expect("sheet by name");
        assert_eq!(s.header, vec!["a", "b"]);
        assert_eq!(
            s.rows.iter().map(|r| r.number).collect::<Vec<_>>(),
            vec![2, 5]
        );
        let e = s.columns(&["a", "c"]).expect_err("c missing");
        assert_eq!(
            e.to_string(),
            "sheet Tap_huan: required column(s) missing: c"
        );
    }
}

//! Exports of a snapshot. CSV, for systems that import it: units as rows, indicators as
//! columns, each value with its numerator, denominator, status and the 2025 and 2030 targets
//! beside it; headers in English or Vietnamese. XLSX and printable HTML, for people: the
//! provincial report of [`crate::report`] (one row per indicator, a block per unit, A4
//! landscape), in Vietnamese with the English beside it.
//!
//! Owns the layouts. Pure: bytes in memory, no I/O.

use hub_contracts::v1::indicator::{
    Comparison, IndicatorSnapshot, IndicatorValue, Target, TargetCheck, UnitLevel, ValueStatus,
    ValueUnit,
};
use hub_runtime::sources::SourceInfo;
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};

use crate::plan::Plan;
use crate::report::{Assessment, Report};

/// Language of headers and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Vi,
}

/// An export that could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("CSV: {0}")]
    Csv(#[from] csv::Error),
    #[error("XLSX: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("CSV: {0}")]
    Io(#[from] std::io::Error),
    #[error("HTML: {0}")]
    Html(#[from] minijinja::Error),
    #[error("the plan's export mapping: {0}")]
    Mapping(String),
}

/// The columns each indicator has, in order.
const PER_INDICATOR: usize = 7;

fn words(lang: Lang) -> [&'static str; 11] {
    match lang {
        Lang::En => [
            "Unit code",
            "Unit",
            "Level",
            "Parent unit",
            "value",
            "numerator",
            "denominator",
            "status",
            "target 2025",
            "target 2030",
            "status 2030",
        ],
        Lang::Vi => [
            "Mã đơn vị",
            "Đơn vị",
            "Cấp",
            "Đơn vị cấp trên",
            "giá trị",
            "tử số",
            "mẫu số",
            "tình trạng",
            "mục tiêu 2025",
            "mục tiêu 2030",
            "tình trạng 2030",
        ],
    }
}

fn level(l: UnitLevel, lang: Lang) -> &'static str {
    match (l, lang) {
        (UnitLevel::Province, Lang::En) => "province",
        (UnitLevel::District, Lang::En) => "district",
        (UnitLevel::Commune, Lang::En) => "commune",
        (UnitLevel::Province, Lang::Vi) => "Tỉnh",
        (UnitLevel::District, Lang::Vi) => "Huyện",
        (UnitLevel::Commune, Lang::Vi) => "Xã",
    }
}

fn status(v: &IndicatorValue, s: ValueStatus, lang: Lang) -> &'static str {
    if v.context && v.value.is_some() {
        return match lang {
            Lang::En => "context",
            Lang::Vi => "Tham khảo",
        };
    }
    match (s, lang) {
        (ValueStatus::Met, Lang::En) => "met",
        (ValueStatus::Behind, Lang::En) => "behind",
        (ValueStatus::NoData, Lang::En) => "no data",
        (ValueStatus::NoSource, Lang::En) => "no source",
        (ValueStatus::Met, Lang::Vi) => "Đạt",
        (ValueStatus::Behind, Lang::Vi) => "Chưa đạt",
        (ValueStatus::NoData, Lang::Vi) => "Không có dữ liệu",
        (ValueStatus::NoSource, Lang::Vi) => "Chưa có nguồn",
    }
}

/// `> 3`, `≥ 100 %`.
pub fn target_text(t: &Target) -> String {
    let cmp = match t.comparison {
        Comparison::Gt => ">",
        Comparison::Ge => "≥",
    };
    let unit = match t.unit {
        ValueUnit::Count => "",
        ValueUnit::Percent => " %",
    };
    format!("{cmp} {}{unit}", number_text(t.value))
}

fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{:.2}", x)
    }
}

/// The indicators of a snapshot in column order, with their display names.
fn columns(plan: &Plan, snap: &IndicatorSnapshot, lang: Lang) -> Vec<(String, String)> {
    let ids: Vec<String> = snap
        .units
        .first()
        .map(|u| u.values.iter().map(|v| v.indicator.clone()).collect())
        .unwrap_or_default();
    ids.into_iter()
        .map(|id| {
            let name = plan
                .indicators
                .iter()
                .find(|i| i.id.as_str() == id)
                .map(|i| match lang {
                    Lang::En => i.name.clone(),
                    Lang::Vi => i.name_vi.clone().unwrap_or_else(|| i.name.clone()),
                })
                .unwrap_or_default();
            (id, name)
        })
        .collect()
}

fn header(ids: &[(String, String)], lang: Lang) -> Vec<String> {
    let w = words(lang);
    let mut h: Vec<String> = w[..4].iter().map(|s| (*s).to_owned()).collect();
    for (id, _) in ids {
        for word in &w[4..] {
            h.push(format!("{id} {word}"));
        }
    }
    h
}

fn check_status(v: &IndicatorValue, c: &Option<TargetCheck>, lang: Lang) -> String {
    c.as_ref()
        .map(|c| status(v, c.status, lang).to_owned())
        .unwrap_or_default()
}

fn target_cell(c: &Option<TargetCheck>) -> String {
    c.as_ref()
        .map(|c| target_text(&c.target))
        .unwrap_or_default()
}

/// The snapshot as CSV (UTF-8, one header row, one row per unit).
pub fn csv(plan: &Plan, snap: &IndicatorSnapshot, lang: Lang) -> Result<Vec<u8>, ExportError> {
    let ids = columns(plan, snap, lang);
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header(&ids, lang))?;
    for u in &snap.units {
        let mut row = vec![
            u.unit_code.clone(),
            u.unit_name.clone(),
            level(u.level, lang).to_owned(),
            u.parent_code.clone().unwrap_or_default(),
        ];
        for (id, _) in &ids {
            match u.values.iter().find(|v| &v.indicator == id) {
                Some(v) => {
                    let n = |x: Option<f64>| x.map(number_text).unwrap_or_default();
                    row.push(n(v.value));
                    row.push(n(v.numerator));
                    row.push(n(v.denominator));
                    row.push(status(v, v.status, lang).to_owned());
                    row.push(target_cell(&v.target_2025));
                    row.push(target_cell(&v.target_2030));
                    row.push(check_status(v, &v.target_2030, lang));
                }
                None => row.extend(std::iter::repeat_n(String::new(), PER_INDICATOR)),
            }
        }
        w.write_record(&row)?;
    }
    w.flush()?;
    w.into_inner().map_err(|e| ExportError::Io(e.into_error()))
}

fn col(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn row(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Tiếng Việt first, English beside it (or the other way round for `Lang::En`).
fn bi(lang: Lang, vi: &str, en: &str) -> String {
    if en.is_empty() || vi == en {
        return vi.to_owned();
    }
    match lang {
        Lang::Vi => format!("{vi}\n{en}"),
        Lang::En => format!("{en}\n{vi}"),
    }
}

/// The report's columns: STT, indicator, unit of measure, target 2025, target 2030, achieved,
/// detail, assessment.
pub const REPORT_COLUMNS: usize = 8;
/// The column of the achieved value (0-based).
pub const ACHIEVED_COLUMN: usize = 5;

fn column_heads(lang: Lang, milestone: i32) -> [String; REPORT_COLUMNS] {
    [
        bi(lang, "STT", "No."),
        bi(lang, "Chỉ tiêu", "Indicator"),
        bi(lang, "Đơn vị tính", "Unit"),
        bi(lang, "Mục tiêu 2025", "Target 2025"),
        bi(lang, "Mục tiêu 2030", "Target 2030"),
        bi(lang, "Kết quả thực hiện", "Achieved"),
        bi(lang, "Chi tiết", "Detail"),
        bi(
            lang,
            &format!("Đánh giá (so với mục tiêu {milestone})"),
            &format!("Assessment (against the {milestone} target)"),
        ),
    ]
}

/// The header lines every sheet starts with: title, plan, as of, sources.
pub fn header_lines(r: &Report, lang: Lang) -> Vec<String> {
    let sources: Vec<String> = r
        .sources
        .iter()
        .map(|s| {
            let when = if s.last_sync.is_empty() {
                "chưa đồng bộ · never synced".to_owned()
            } else {
                format!("đồng bộ · synced {} (UTC+7)", s.last_sync)
            };
            format!(
                "{} · {} ({}): {when}, {} bản ghi · records",
                s.name_vi, s.name_en, s.system, s.records
            )
        })
        .collect();
    vec![
        bi(
            lang,
            &format!(
                "BÁO CÁO KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU KẾ HOẠCH · {}",
                r.province_name.to_uppercase()
            ),
            "Report on the plan's indicators",
        )
        .replace('\n', " · "),
        bi(lang, &r.plan_name_vi, &r.plan_name_en).replace('\n', " · "),
        format!(
            "Số liệu tính đến ngày · As of: {} · Mốc tính từ · Baseline: {} · Danh mục đơn vị hành chính · Unit list: {} · Phiên bản · Version: {}",
            r.as_of, r.baseline, r.unit_list, r.version
        ),
        format!(
            "Nguồn số liệu · Data sources: {}{}",
            if sources.is_empty() {
                "chưa có · none yet".to_owned()
            } else {
                sources.join("; ")
            },
            format_args!(
                " · Đối chiếu tự động · reconciled automatically: {} · Chờ rà soát · awaiting review: {}",
                r.reconciled_automatically, r.awaiting_review
            )
        ),
    ]
}

struct Formats {
    title: Format,
    line: Format,
    unit: Format,
    note: Format,
    head: Format,
    text: Format,
    center: Format,
    count: Format,
    percent: Format,
    met: Format,
    behind: Format,
}

impl Formats {
    fn new() -> Self {
        let cell = Format::new()
            .set_border(FormatBorder::Thin)
            .set_align(FormatAlign::VerticalCenter)
            .set_text_wrap()
            .set_font_name("Times New Roman")
            .set_font_size(11);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_font_name("Times New Roman"),
            line: Format::new()
                .set_font_name("Times New Roman")
                .set_text_wrap(),
            unit: Format::new()
                .set_bold()
                .set_font_size(12)
                .set_font_name("Times New Roman"),
            note: Format::new()
                .set_italic()
                .set_font_name("Times New Roman")
                .set_font_color(Color::RGB(0x555555)),
            head: cell
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0xE8EEF5)),
            text: cell.clone(),
            center: cell.clone().set_align(FormatAlign::Center),
            count: cell.clone().set_num_format("#,##0"),
            percent: cell.clone().set_num_format("0.0"),
            met: cell.clone().set_bold().set_font_color(Color::RGB(0x1B5E20)),
            behind: cell.set_bold().set_font_color(Color::RGB(0xB3261E)),
        }
    }
}

/// Writes the blocks of one sheet; answers the rows where blocks start (for page breaks).
fn write_sheet(
    sheet: &mut Worksheet,
    report: &Report,
    blocks: &[crate::report::Block],
    lang: Lang,
    f: &Formats,
) -> Result<Vec<u32>, XlsxError> {
    let lines = header_lines(report, lang);
    let last = col(REPORT_COLUMNS - 1);
    for (i, l) in lines.iter().enumerate() {
        let fmt = if i == 0 { &f.title } else { &f.line };
        sheet.merge_range(row(i), 0, row(i), last, l, fmt)?;
    }
    sheet.set_row_height(row(3), 45)?;
    let heads = column_heads(lang, report.milestone);
    let mut r = row(lines.len() + 1);
    let mut starts = Vec::new();
    for b in blocks {
        starts.push(r);
        let mut title = format!("{} ({})", b.unit_name, b.unit_code);
        if let Some(parent) = &b.parent_name {
            title.push_str(&format!(" · {parent}"));
        }
        sheet.merge_range(r, 0, r, last, &title, &f.unit)?;
        r += 1;
        if b.context {
            sheet.merge_range(
                r,
                0,
                r,
                last,
                &bi(
                    lang,
                    "Số liệu tham khảo: chỉ tiêu kế hoạch là của tỉnh, không đánh giá đạt/chưa đạt cho đơn vị này.",
                    "Context only: the plan's targets are the province's; this unit is not assessed against them.",
                )
                .replace('\n', " · "),
                &f.note,
            )?;
            r += 1;
        }
        for (c, h) in heads.iter().enumerate() {
            sheet.write_string_with_format(r, col(c), h, &f.head)?;
        }
        sheet.set_row_height(r, 45)?;
        r += 1;
        for x in &b.rows {
            sheet.write_number_with_format(r, 0, x.no as f64, &f.center)?;
            sheet.write_string_with_format(r, 1, bi(lang, &x.name_vi, &x.name_en), &f.text)?;
            sheet.write_string_with_format(
                r,
                2,
                bi(lang, &x.measure_vi, &x.measure_en),
                &f.center,
            )?;
            sheet.write_string_with_format(
                r,
                3,
                bi(lang, &x.target_2025_vi, &x.target_2025_en),
                &f.center,
            )?;
            sheet.write_string_with_format(
                r,
                4,
                bi(lang, &x.target_2030_vi, &x.target_2030_en),
                &f.center,
            )?;
            match x.achieved {
                Some(v) if x.percent => {
                    sheet.write_number_with_format(r, col(ACHIEVED_COLUMN), v, &f.percent)?
                }
                Some(v) => sheet.write_number_with_format(r, col(ACHIEVED_COLUMN), v, &f.count)?,
                None => sheet.write_string_with_format(r, col(ACHIEVED_COLUMN), "–", &f.center)?,
            };
            sheet.write_string_with_format(r, 6, bi(lang, &x.detail_vi, &x.detail_en), &f.text)?;
            let fmt = match x.assessment {
                Assessment::Met => &f.met,
                Assessment::Behind => &f.behind,
                _ => &f.text,
            };
            sheet.write_string_with_format(
                r,
                7,
                bi(lang, x.assessment_vi, x.assessment_en),
                fmt,
            )?;
            sheet.set_row_height(r, 32)?;
            r += 1;
        }
        r += 1;
    }
    for (c, w) in [5.0, 48.0, 12.0, 18.0, 18.0, 14.0, 22.0, 20.0]
        .iter()
        .enumerate()
    {
        sheet.set_column_width(col(c), *w)?;
    }
    sheet.set_landscape();
    sheet.set_paper_size(9); // A4
    sheet.set_margins(0.4, 0.4, 0.6, 0.6, 0.3, 0.3);
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_print_center_horizontally(true);
    sheet.set_footer("&CTrang &P / &N");
    Ok(starts)
}

/// The snapshot as an Excel workbook laid out as a provincial report ([`crate::report`]):
/// the province's sheet, then the districts' and the communes' (a block per unit, context
/// only), each with the header (as-of date, sources) and set up to print on A4 landscape;
/// and a provenance sheet.
/// `sources` name the sources' agencies ([`crate::report::source_names`]).
pub fn xlsx(
    plan: &Plan,
    snap: &IndicatorSnapshot,
    sources: &[SourceInfo],
    lang: Lang,
) -> Result<Vec<u8>, ExportError> {
    let report = crate::report::build(plan, snap, sources);
    let f = Formats::new();
    let mut book = Workbook::new();
    let communes_name = if report.districts.is_empty() {
        "Xã, phường"
    } else {
        "Xã"
    };
    for (name, blocks, per_page) in [
        ("Tỉnh", &report.province, 1),
        ("Huyện", &report.districts, 1),
        (communes_name, &report.communes, 2),
    ] {
        if blocks.is_empty() {
            continue;
        }
        let sheet = book.add_worksheet();
        sheet.set_name(name)?;
        let starts = write_sheet(sheet, &report, blocks, lang, &f)?;
        let breaks: Vec<u32> = starts
            .iter()
            .enumerate()
            .filter(|(i, _)| *i > 0 && i % per_page == 0)
            .map(|(_, r)| *r)
            .collect();
        if !breaks.is_empty() {
            sheet.set_page_breaks(&breaks)?;
        }
    }

    let prov = book.add_worksheet();
    prov.set_name("Nguồn dữ liệu")?;
    let bold = Format::new().set_bold();
    let heads = [
        bi(lang, "Nguồn", "Source"),
        bi(lang, "Hệ thống", "System"),
        bi(lang, "Đồng bộ gần nhất (UTC+7)", "Last sync (UTC+7)"),
        bi(lang, "Số bản ghi", "Records"),
    ];
    for (c, h) in heads.iter().enumerate() {
        prov.write_string_with_format(0, col(c), h, &bold)?;
    }
    for (i, s) in report.sources.iter().enumerate() {
        let r = row(1 + i);
        prov.write_string(r, 0, bi(lang, &s.name_vi, &s.name_en))?;
        prov.write_string(r, 1, &s.system)?;
        prov.write_string(r, 2, &s.last_sync)?;
        prov.write_number(r, 3, s.records as f64)?;
    }
    let r = row(2 + report.sources.len());
    prov.write_string_with_format(
        r,
        0,
        bi(lang, "Đối chiếu tự động", "Reconciled automatically"),
        &bold,
    )?;
    prov.write_number(r, 3, report.reconciled_automatically as f64)?;
    prov.write_string_with_format(r + 1, 0, bi(lang, "Chờ rà soát", "Awaiting review"), &bold)?;
    prov.write_number(r + 1, 3, report.awaiting_review as f64)?;
    prov.write_string(r + 3, 0, bi(lang, "Ảnh chụp số liệu", "Snapshot"))?;
    prov.write_string(r + 3, 1, &report.snapshot_id)?;
    prov.write_string(r + 4, 0, bi(lang, "Mã băm nội dung", "Content hash"))?;
    prov.write_string(r + 4, 1, &report.content_hash)?;
    prov.set_column_width(0, 40)?;
    prov.set_column_width(1, 40)?;
    prov.set_column_width(2, 24)?;
    prov.set_landscape();
    prov.set_paper_size(9);

    Ok(book.save_to_buffer()?)
}

/// The printable page's stylesheet (A4 landscape), for a page standing alone.
pub const REPORT_CSS: &str = include_str!("report.css");

const REPORT_TEMPLATE: &str = include_str!("report.html");

/// The report as HTML (auto-escaped): the body alone (`fragment`, for a page that brings its
/// own layout and stylesheet) or a whole printable document with [`REPORT_CSS`] inline.
/// `sources` name the sources' agencies ([`crate::report::source_names`]).
pub fn html(
    plan: &Plan,
    snap: &IndicatorSnapshot,
    sources: &[SourceInfo],
    fragment: bool,
) -> Result<String, ExportError> {
    let report = crate::report::build(plan, snap, sources);
    let mut env = minijinja::Environment::new();
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    env.add_template("report.html", REPORT_TEMPLATE)?;
    let heads = column_heads(Lang::Vi, report.milestone);
    let body = env.get_template("report.html")?.render(minijinja::context! {
        r => &report,
        header => header_lines(&report, Lang::Vi),
        heads => heads.iter().map(|h| h.split_once('\n').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap_or((h.clone(), String::new()))).collect::<Vec<_>>(),
    })?;
    if fragment {
        return Ok(body);
    }
    let title = minijinja::HtmlEscape(&report.plan_name_vi).to_string();
    Ok(format!(
        "<!doctype html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{REPORT_CSS}</style></head><body>{body}</body></html>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::{Inputs, compute};
    use crate::plan::UnitList;
    use chrono::NaiveDate;
    use hub_contracts::v1::indicator::SnapshotProvenance;

    fn snapshot(list: UnitList) -> (Plan, IndicatorSnapshot) {
        let plan = Plan::builtin().expect("plan");
        let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        let units = compute(
            &plan,
            list,
            as_of,
            Inputs {
                golden: &[],
                loans: &[],
                ntm: &[],
            },
        );
        let prov = SnapshotProvenance {
            sources: vec![],
            reconciled_automatically: 0,
            awaiting_review: 0,
            automatic_share: None,
        };
        let s = crate::snapshot::build(&plan, list, as_of, units, prov);
        (plan, s)
    }

    #[test]
    fn csv_has_a_row_per_unit_and_targets_beside_values() {
        let (plan, s) = snapshot(UnitList::Units2024);
        let text = String::from_utf8(csv(&plan, &s, Lang::En).expect("csv")).expect("utf-8");
        let mut r = ::csv::Reader::from_reader(text.as_bytes());
        let head = r.headers().expect("header").clone();
        assert_eq!(head.len(), 4 + 10 * PER_INDICATOR);
        assert_eq!(&head[4], "I1 value");
        assert_eq!(&head[8], "I1 target 2025");
        let rows: Vec<::csv::StringRecord> = r.records().map(|x| x.expect("row")).collect();
        assert_eq!(rows.len(), 1 + 8 + 106);
        assert_eq!(&rows[0][0], "12");
        assert_eq!(&rows[0][2], "province");
        // I1 in the province: 0, behind "> 3", ">= 10"
        assert_eq!(&rows[0][4], "0");
        assert_eq!(&rows[0][7], "behind");
        assert_eq!(&rows[0][8], "> 3");
        assert_eq!(&rows[0][9], "≥ 10");
        // I3: no live supported HTX → no value, no data; 2030 target is a count
        let i3 = 4 + 2 * PER_INDICATOR;
        assert_eq!(&rows[0][i3], "");
        assert_eq!(&rows[0][i3 + 3], "no data");
        assert_eq!(&rows[0][i3 + 5], "> 15");
        // I10: context, no targets
        let i10 = 4 + 9 * PER_INDICATOR;
        assert_eq!(&rows[0][i10], "0");
        assert_eq!(&rows[0][i10 + 3], "context");
        assert_eq!(&rows[0][i10 + 4], "");
    }

    #[test]
    fn vietnamese_headers_and_words() {
        let (plan, s) = snapshot(UnitList::Units2025);
        let text = String::from_utf8(csv(&plan, &s, Lang::Vi).expect("csv")).expect("utf-8");
        let first = text.lines().next().expect("header");
        assert!(
            first.starts_with("Mã đơn vị,Đơn vị,Cấp,Đơn vị cấp trên,I1 giá trị"),
            "{first}"
        );
        assert!(text.contains("Tỉnh Lai Châu,Tỉnh"), "{text}");
        assert!(text.contains("Chưa đạt"));
        assert_eq!(text.lines().count(), 1 + 1 + 38);
    }

    /// (unit code, indicator number) → the achieved cell, read back from the workbook.
    fn read_back(bytes: &[u8]) -> std::collections::BTreeMap<(String, usize), calamine::Data> {
        use calamine::{Data, Reader, Xlsx};
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
        let mut out = std::collections::BTreeMap::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).expect("sheet");
            let mut unit: Option<String> = None;
            for r in range.rows() {
                let first = r.first().cloned().unwrap_or(Data::Empty);
                match first {
                    Data::String(t) if r.iter().skip(1).all(|c| *c == Data::Empty) => {
                        // a block title: "Name (code) · parent"
                        let code = t.split('(').skip(1).find_map(|p| {
                            let code = p.split(')').next()?;
                            (!code.is_empty() && code.chars().all(|c| c.is_ascii_digit()))
                                .then(|| code.to_owned())
                        });
                        unit = code.or(unit);
                    }
                    Data::Float(n) => {
                        if let Some(u) = &unit {
                            out.insert((u.clone(), n as usize), r[ACHIEVED_COLUMN].clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        out
    }

    #[test]
    fn the_xlsx_report_reads_back_as_the_snapshot_rounded_as_shown() {
        let (plan, mut s) = snapshot(UnitList::Units2024);
        // values that need rounding: 2/3, 1 500/106, 1 250 households
        let province = &mut s.units[0];
        for v in &mut province.values {
            match v.indicator.as_str() {
                "I7" => {
                    v.value = Some(200.0 / 3.0);
                    v.numerator = Some(2.0);
                    v.denominator = Some(3.0);
                }
                "I10" => {
                    v.value = Some(1500.0 / 106.0);
                    v.numerator = Some(15.0);
                    v.denominator = Some(106.0);
                }
                "I4" => {
                    v.value = Some(1250.0);
                    v.numerator = Some(1250.0);
                }
                _ => {}
            }
        }
        for lang in [Lang::Vi, Lang::En] {
            let bytes = xlsx(&plan, &s, &[], lang).expect("xlsx");
            let cells = read_back(&bytes);
            // every unit, every indicator
            assert_eq!(cells.len(), (1 + 8 + 106) * 10);
            for u in &s.units {
                for (i, v) in u.values.iter().enumerate() {
                    let got = &cells[&(u.unit_code.clone(), i + 1)];
                    match v.value {
                        Some(x) => assert_eq!(
                            got,
                            &calamine::Data::Float(crate::report::rounded(x, v.unit)),
                            "{} {}",
                            u.unit_code,
                            v.indicator
                        ),
                        None => assert_eq!(got, &calamine::Data::String("–".into())),
                    }
                }
            }
            assert_eq!(cells[&("12".into(), 7)], calamine::Data::Float(66.7));
            assert_eq!(cells[&("12".into(), 10)], calamine::Data::Float(14.2));
            assert_eq!(cells[&("12".into(), 4)], calamine::Data::Float(1250.0));
        }
    }

    #[test]
    fn the_xlsx_report_has_a_sheet_per_level_header_and_print_setup() {
        use calamine::{Data, Reader, Xlsx};
        let (plan, s) = snapshot(UnitList::Units2025);
        let bytes = xlsx(&plan, &s, &[], Lang::Vi).expect("xlsx");
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).expect("xlsx");
        assert_eq!(
            book.sheet_names(),
            vec!["Tỉnh", "Xã, phường", "Nguồn dữ liệu"]
        );
        let p = book.worksheet_range("Tỉnh").expect("sheet");
        let text = |r: usize, c: usize| match p.get((r, c)) {
            Some(Data::String(s)) => s.clone(),
            other => format!("{other:?}"),
        };
        assert!(text(0, 0).starts_with("BÁO CÁO KẾT QUẢ"), "{}", text(0, 0));
        assert!(text(2, 0).contains("30/06/2025"), "{}", text(2, 0));
        assert!(text(3, 0).starts_with("Nguồn số liệu"), "{}", text(3, 0));
        // the province's I1 row: target 2025 "Trên 3 HTX", 2030 "Ít nhất 10 HTX", behind
        let i1 = (0..p.height())
            .find(|r| p.get((*r, 0)) == Some(&Data::Float(1.0)))
            .expect("row 1");
        assert!(text(i1, 1).starts_with("HTX thành lập mới do Hội Nông dân hỗ trợ\nNew HTX"));
        assert!(text(i1, 3).starts_with("Trên 3 HTX"), "{}", text(i1, 3));
        assert!(text(i1, 4).starts_with("Ít nhất 10 HTX"), "{}", text(i1, 4));
        assert!(
            text(i1, 7).starts_with("Chưa đạt\nbehind"),
            "{}",
            text(i1, 7)
        );
        // a commune is context: no targets, not assessed
        let c = book.worksheet_range("Xã, phường").expect("sheet");
        let assessed: Vec<String> = c
            .rows()
            .filter(|r| matches!(r.first(), Some(Data::Float(_))))
            .map(|r| format!("{}", r[7]))
            .collect();
        assert_eq!(assessed.len(), 38 * 10);
        assert!(
            assessed
                .iter()
                .all(|a| !a.starts_with("Đạt") && !a.starts_with("Chưa đạt")),
            "{assessed:?}"
        );
        // A4 landscape in the sheet's page setup
        let sheet1 = {
            use std::io::Read;
            let mut zip = zip_entry(&bytes, "xl/worksheets/sheet1.xml");
            let mut s = String::new();
            zip.read_to_string(&mut s).expect("xml");
            s
        };
        assert!(
            sheet1.contains("paperSize=\"9\"") && sheet1.contains("orientation=\"landscape\""),
            "{sheet1}"
        );
    }

    fn zip_entry(bytes: &[u8], name: &str) -> std::io::Cursor<Vec<u8>> {
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("zip");
        let mut f = archive.by_name(name).expect("entry");
        let mut out = Vec::new();
        std::io::copy(&mut f, &mut out).expect("read");
        std::io::Cursor::new(out)
    }

    #[test]
    fn the_printable_page_escapes_and_shows_the_header() {
        let (mut plan, s) = snapshot(UnitList::Units2024);
        plan.name_vi = Some("Kế hoạch <script>alert(1)</script>".into());
        let page = html(&plan, &s, &[], false).expect("html");
        assert!(page.contains("@page { size: A4 landscape"));
        assert!(!page.contains("<script>alert"), "escaped");
        assert!(page.contains("&lt;script&gt;"));
        // minijinja writes '/' as &#x2f;
        assert!(
            page.replace("&#x2f;", "/")
                .contains("id=\"as-of\">30/06/2025")
        );
        let body = html(&plan, &s, &[], true).expect("fragment");
        assert!(body.starts_with("<article class=\"report\""));
        assert_eq!(body.matches("<section class=\"unit").count(), 1 + 8 + 106);
        assert_eq!(body.matches("class=\"unit districts context\"").count(), 8);
    }
}

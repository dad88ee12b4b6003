//! CSV and Excel (XLSX) exports of a snapshot laid out like a provincial report: units as
//! rows, indicators as columns, each value with its numerator, denominator, status and the
//! 2025 and 2030 targets beside it; headers in English or Vietnamese.
//!
//! Owns the report layout and its wording. Pure: bytes in memory, no I/O.

use hub_contracts::v1::indicator::{
    Comparison, IndicatorSnapshot, IndicatorValue, Target, TargetCheck, UnitLevel, ValueStatus,
    ValueUnit,
};
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};

use crate::plan::Plan;

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

/// The snapshot as an Excel workbook: a report sheet (title, indicator names over their
/// columns, one row per unit) and a provenance sheet.
pub fn xlsx(plan: &Plan, snap: &IndicatorSnapshot, lang: Lang) -> Result<Vec<u8>, ExportError> {
    let ids = columns(plan, snap, lang);
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let group = Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let decimal = Format::new().set_num_format("0.0");

    let sheet = book.add_worksheet();
    sheet.set_name(match lang {
        Lang::En => "Indicators",
        Lang::Vi => "Chỉ tiêu",
    })?;
    let plan_name = match lang {
        Lang::En => plan.name.clone(),
        Lang::Vi => plan.name_vi.clone().unwrap_or_else(|| plan.name.clone()),
    };
    let title = match lang {
        Lang::En => format!(
            "{plan_name} | as of {} | baseline {} | units {} | version {}",
            snap.as_of, snap.baseline, snap.unit_list, snap.version
        ),
        Lang::Vi => format!(
            "{plan_name} | tính đến ngày {} | mốc {} | danh mục đơn vị {} | phiên bản {}",
            snap.as_of.format("%d/%m/%Y"),
            snap.baseline.format("%d/%m/%Y"),
            snap.unit_list,
            snap.version
        ),
    };
    sheet.write_string_with_format(0, 0, &title, &bold)?;
    let head = header(&ids, lang);
    for (i, (id, name)) in ids.iter().enumerate() {
        let first = 4 + i * PER_INDICATOR;
        sheet.merge_range(
            2,
            col(first),
            2,
            col(first + PER_INDICATOR - 1),
            &format!("{id}: {name}"),
            &group,
        )?;
    }
    for (c, h) in head.iter().enumerate() {
        sheet.write_string_with_format(3, col(c), h, &bold)?;
    }
    for (r, u) in snap.units.iter().enumerate() {
        let r = row(4 + r);
        sheet.write_string(r, 0, &u.unit_code)?;
        sheet.write_string(r, 1, &u.unit_name)?;
        sheet.write_string(r, 2, level(u.level, lang))?;
        sheet.write_string(r, 3, u.parent_code.as_deref().unwrap_or(""))?;
        for (i, (id, _)) in ids.iter().enumerate() {
            let Some(v) = u.values.iter().find(|v| &v.indicator == id) else {
                continue;
            };
            let c = 4 + i * PER_INDICATOR;
            if let Some(x) = v.value {
                match v.unit {
                    ValueUnit::Percent => sheet.write_number_with_format(r, col(c), x, &decimal)?,
                    ValueUnit::Count => sheet.write_number(r, col(c), x)?,
                };
            }
            if let Some(x) = v.numerator {
                sheet.write_number(r, col(c + 1), x)?;
            }
            if let Some(x) = v.denominator {
                sheet.write_number(r, col(c + 2), x)?;
            }
            sheet.write_string(r, col(c + 3), status(v, v.status, lang))?;
            sheet.write_string(r, col(c + 4), target_cell(&v.target_2025))?;
            sheet.write_string(r, col(c + 5), target_cell(&v.target_2030))?;
            sheet.write_string(r, col(c + 6), check_status(v, &v.target_2030, lang))?;
        }
    }
    sheet.set_column_width(1, 28)?;
    sheet.set_freeze_panes(4, 2)?;

    let prov = book.add_worksheet();
    prov.set_name(match lang {
        Lang::En => "Provenance",
        Lang::Vi => "Nguồn dữ liệu",
    })?;
    let (h_system, h_sync, h_records, h_auto, h_review) = match lang {
        Lang::En => (
            "Source",
            "Last sync",
            "Records",
            "Reconciled automatically",
            "Awaiting review",
        ),
        Lang::Vi => (
            "Nguồn",
            "Đồng bộ gần nhất",
            "Số bản ghi",
            "Đối chiếu tự động",
            "Chờ xem xét",
        ),
    };
    for (c, h) in [h_system, h_sync, h_records].iter().enumerate() {
        prov.write_string_with_format(0, col(c), *h, &bold)?;
    }
    for (i, s) in snap.provenance.sources.iter().enumerate() {
        let r = row(1 + i);
        prov.write_string(r, 0, &s.system)?;
        prov.write_string(
            r,
            1,
            s.last_sync.map(|t| t.to_rfc3339()).unwrap_or_default(),
        )?;
        prov.write_number(r, 2, s.records as f64)?;
    }
    let r = row(2 + snap.provenance.sources.len());
    prov.write_string_with_format(r, 0, h_auto, &bold)?;
    prov.write_number(r, 2, snap.provenance.reconciled_automatically as f64)?;
    prov.write_string_with_format(r + 1, 0, h_review, &bold)?;
    prov.write_number(r + 1, 2, snap.provenance.awaiting_review as f64)?;
    prov.set_column_width(0, 26)?;
    prov.set_column_width(1, 28)?;

    Ok(book.save_to_buffer()?)
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

    #[test]
    fn xlsx_is_a_workbook() {
        let (plan, s) = snapshot(UnitList::Units2024);
        for lang in [Lang::En, Lang::Vi] {
            let bytes = xlsx(&plan, &s, lang).expect("xlsx");
            assert!(bytes.starts_with(b"PK\x03\x04"), "a zip archive");
            assert!(bytes.len() > 5_000);
        }
    }
}

//! The Union's workbook, sheet by sheet, into `source.fu_*.v1` records
//! (`shared/sources/farmers-union.md`): `Thong_tin` (sender, report date), `Chi_to_hoi_NN`
//! (branches), `Can_bo_Hoi` (officers), `Tap_huan` (trainings).
//!
//! Every row is read on its own: a row that cannot be read becomes a
//! [`RowError`] (sheet, row, column, reason) and the rest is taken. A district sender's row
//! outside its district is such an error.
//!
//! Senders and units are those of every province loaded (`REFERENCE_DIRS`,
//! [`hub_normalise::reference::provinces`]; Lai Châu alone by default): a workbook's sender is
//! a province's union (its province code) or a district's (the district's code), and a
//! provincial union's workbook covers its own province only. Codes typed as numbers are padded back (communes to
//! 5 digits, districts to 3); text is NFC with stray spaces collapsed.
//!
//! Pure: no I/O. Personal data (officers' names and phones, the preparer) never appears in a
//! reason.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hub_adapter_kit::Invalid;
use hub_adapter_kit::file::{FileError, FileRecord, Records, RowError, RowReader, Workbook};
use hub_adapter_kit::source::now_vn;
use hub_contracts::content_hash;
use hub_contracts::registry::Contract;
use hub_contracts::v1::{
    BranchKind, BranchStatus, Conversion, FieldIssue, FuBranch, FuOfficer, FuTraining,
    OfficerLevel, OrgKind, SourceMeta, SourceRef, Workbook as WorkbookRef,
};
use hub_normalise::reference::{self, Reference};
use hub_normalise::text::fold;
use serde_json::{Value, json};

use crate::SYSTEM;

/// Sheet names and columns, as the Union's templates write them.
pub use hub_contracts::v1::farmers_union::sheets;

const BRANCH_COLUMNS: [&str; 6] = ["ma", "ten", "loai", "ma_xa", "ngay_thanh_lap", "trang_thai"];
const OFFICER_COLUMNS: [&str; 5] = ["ma_can_bo", "ho_ten", "cap", "ma_don_vi", "phu_trach_KTTT"];
const TRAINING_COLUMNS: [&str; 5] = [
    "ma_can_bo",
    "khoa_hoc",
    "tu_ngay",
    "den_ngay",
    "noi_dung_KTTT",
];

/// The workbook's header: sheet `Thong_tin`, its first row.
pub fn header(book: &Workbook, file_hash: &str) -> Result<WorkbookRef, FileError> {
    let sheet = book.required_sheet(sheets::INFO)?;
    let cols = sheet.columns(&["don_vi_gui", "ngay_bao_cao"])?;
    let row = sheet.rows.first().ok_or_else(|| {
        FileError::Refused(format!("sheet {}: no row says who sent it", sheet.name))
    })?;
    let r = cols.row(row);
    let refused = |e: RowError| FileError::Refused(e.to_string());
    let sender = r.required_code("don_vi_gui", Some(2)).map_err(refused)?;
    if !is_province(&sender) && !is_district(&sender) {
        return Err(refused(r.error(
            "don_vi_gui",
            format!(
                "{sender:?} is neither a province ({}) nor one of its districts",
                province_codes()
            ),
        )));
    }
    let report_date = r.required_date("ngay_bao_cao").map_err(refused)?;
    Ok(WorkbookRef {
        sender,
        report_date,
        content_hash: file_hash.to_owned(),
    })
}

/// Whether `code` is a loaded province's code.
fn is_province(code: &str) -> bool {
    reference::provinces().iter().any(|p| p.code == code)
}

/// The loaded provinces' codes, for messages (`12`; `12, 11`).
fn province_codes() -> String {
    reference::provinces()
        .iter()
        .map(|p| p.code.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_district(code: &str) -> bool {
    Reference::loaded()
        .communes_2024
        .iter()
        .any(|c| c.district_code == code)
}

fn district_of_commune(code: &str) -> Option<String> {
    Reference::loaded()
        .commune_2024(code)
        .map(|c| c.district_code.clone())
}

/// The code of the loaded province a district belongs to.
fn province_of_district(district: &str) -> Option<&'static str> {
    reference::provinces()
        .iter()
        .find(|p| {
            p.reference
                .communes_2024
                .iter()
                .any(|c| c.district_code == district)
        })
        .map(|p| p.code.as_str())
}

/// One sheet's reading context.
struct Ctx<'a> {
    batch: &'a WorkbookRef,
    out: Records,
}

impl Ctx<'_> {
    fn id(&self, code: &str) -> String {
        format!("{}:{code}", self.batch.sender)
    }

    fn meta(&self, id: &str, raw: Value, issues: Vec<FieldIssue>) -> SourceMeta {
        let hash = content_hash(&json!({
            "row": raw,
            "sender": self.batch.sender,
            "report_date": self.batch.report_date,
        }));
        SourceMeta {
            source: SourceRef::new(SYSTEM, id),
            fetched_at: now_vn(),
            content_hash: hash,
            raw,
            issues,
        }
    }

    /// A district sender's row must lie in its district, a province sender's in its
    /// province. `district`: the row's district (`None`: the province level of `province`).
    fn in_scope(
        &self,
        r: &RowReader<'_>,
        column: &str,
        district: Option<&str>,
        province: Option<&str>,
    ) -> Result<(), RowError> {
        let sender = self.batch.sender.as_str();
        if is_province(sender) {
            if province == Some(sender) {
                return Ok(());
            }
            return Err(r.error(
                column,
                format!(
                    "outside province {sender}: a provincial workbook covers its province only \
                     (this is in province {})",
                    province.unwrap_or("unknown")
                ),
            ));
        }
        if district == Some(sender) {
            return Ok(());
        }
        Err(r.error(
            column,
            format!(
                "outside district {sender}: a district workbook covers its district only ({})",
                district.map_or("the province level".to_owned(), |d| format!(
                    "this is in district {d}"
                ))
            ),
        ))
    }

    fn push<T: Contract>(&mut self, id: String, hash: String, record: T) -> Result<(), Invalid> {
        self.out
            .records
            .push(FileRecord::new(SYSTEM, id, hash, record)?);
        Ok(())
    }
}

/// Reads the three data sheets. A missing sheet or required column refuses the upload.
pub fn records(
    book: &Workbook,
    batch: &WorkbookRef,
    held: &BTreeSet<String>,
) -> Result<Records, FileError> {
    let mut ctx = Ctx {
        batch,
        out: Records::default(),
    };
    let branches = book.required_sheet(sheets::BRANCHES)?;
    let officers = book.required_sheet(sheets::OFFICERS)?;
    let trainings = book.required_sheet(sheets::TRAININGS)?;
    let bc = branches.columns(&BRANCH_COLUMNS)?;
    let oc = officers.columns(&OFFICER_COLUMNS)?;
    let tc = trainings.columns(&TRAINING_COLUMNS)?;
    let invalid = |e: Invalid| FileError::Refused(e.reason);

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for row in &branches.rows {
        ctx.out.rows_read += 1;
        let r = bc.row(row);
        match branch(&ctx, &r, &mut seen) {
            Ok((id, b)) => {
                let hash = b.meta.content_hash.clone();
                ctx.push(id, hash, b).map_err(invalid)?;
            }
            Err(e) => ctx.out.rejected.push(e),
        }
    }
    let mut officer_ids: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for row in &officers.rows {
        ctx.out.rows_read += 1;
        let r = oc.row(row);
        match officer(&ctx, &r, &mut seen) {
            Ok((id, o)) => {
                officer_ids.insert(id.clone());
                let hash = o.meta.content_hash.clone();
                ctx.push(id, hash, o).map_err(invalid)?;
            }
            Err(e) => ctx.out.rejected.push(e),
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for row in &trainings.rows {
        ctx.out.rows_read += 1;
        let r = tc.row(row);
        match training(&ctx, &r, &officer_ids, held, &mut seen) {
            Ok((id, t)) => {
                let hash = t.meta.content_hash.clone();
                ctx.push(id, hash, t).map_err(invalid)?;
            }
            Err(e) => ctx.out.rejected.push(e),
        }
    }
    Ok(ctx.out)
}

/// The same key twice in a sheet: the later row is the error.
fn once(
    r: &RowReader<'_>,
    column: &str,
    id: &str,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(), RowError> {
    if let Some(first) = seen.get(id) {
        return Err(r.error(column, format!("listed again (first at row {first})")));
    }
    seen.insert(id.to_owned(), r.number());
    Ok(())
}

fn with_id(mut e: RowError, id: &str) -> RowError {
    e.record_id = Some(id.to_owned());
    e
}

fn branch(
    ctx: &Ctx<'_>,
    r: &RowReader<'_>,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(String, FuBranch), RowError> {
    let code = r.required_code("ma", None)?;
    let id = ctx.id(&code);
    once(r, "ma", &id, seen)?;
    let read = || -> Result<FuBranch, RowError> {
        let name = r.required_text("ten")?;
        let kind = match fold(&r.required_text("loai")?).as_str() {
            "chi hoi" => BranchKind::ChiHoi,
            "to hoi" => BranchKind::ToHoi,
            other => return Err(r.error("loai", format!("{other:?} is not chi_hoi or to_hoi"))),
        };
        let commune = r.required_code("ma_xa", Some(5))?;
        let district = district_of_commune(&commune).ok_or_else(|| {
            r.error(
                "ma_xa",
                format!("unknown commune code {commune} (2024 list)"),
            )
        })?;
        ctx.in_scope(r, "ma_xa", Some(&district), province_of_district(&district))?;
        let commune_2025 = r.code("ma_xa_moi", Some(5))?;
        if let Some(new) = &commune_2025 {
            let expected = Reference::loaded().new_unit_of(&commune);
            if expected != Some(new.as_str()) {
                return Err(r.error(
                    "ma_xa_moi",
                    format!(
                        "{new} does not agree with the crosswalk ({commune} became {})",
                        expected.unwrap_or("nothing known")
                    ),
                ));
            }
        }
        let established_on = r.required_date("ngay_thanh_lap")?;
        let members = r.count("so_hoi_vien")?;
        let status = match fold(&r.required_text("trang_thai")?).as_str() {
            "hoat dong" => BranchStatus::Active,
            "giai the" => BranchStatus::Dissolved,
            "da chuyen doi" => BranchStatus::Converted,
            other => {
                return Err(r.error(
                    "trang_thai",
                    format!("{other:?} is not hoat_dong, giai_the or da_chuyen_doi"),
                ));
            }
        };
        let ended_on = r.date("ngay_ket_thuc")?;
        if status != BranchStatus::Active && ended_on.is_none() {
            return Err(r.error(
                "ngay_ket_thuc",
                "required when the branch is dissolved or converted",
            ));
        }
        let converted_to = if status == BranchStatus::Converted {
            let kind = match r.text("chuyen_thanh_loai").map(|s| fold(&s)).as_deref() {
                Some("htx") => OrgKind::Htx,
                Some("tht") => OrgKind::Tht,
                Some(other) => {
                    return Err(
                        r.error("chuyen_thanh_loai", format!("{other:?} is not HTX or THT"))
                    );
                }
                None => {
                    return Err(
                        r.error("chuyen_thanh_loai", "required when the branch is converted")
                    );
                }
            };
            let name = r.text("chuyen_thanh_ten").ok_or_else(|| {
                r.error("chuyen_thanh_ten", "required when the branch is converted")
            })?;
            let registration_code = r
                .code("chuyen_thanh_ma_dk", None)?
                .map(|c| c.replace(['-', '.'], ""));
            Some(Conversion {
                kind,
                name,
                registration_code,
            })
        } else {
            None
        };
        Ok(FuBranch {
            meta: ctx.meta(&id, r.raw(), Vec::new()),
            workbook: ctx.batch.clone(),
            retracted: false,
            code: code.clone(),
            name,
            kind,
            commune_code: commune,
            commune_code_2025: commune_2025,
            district_code: district,
            established_on,
            members,
            status,
            ended_on,
            converted_to,
        })
    };
    read().map(|b| (id.clone(), b)).map_err(|e| with_id(e, &id))
}

fn officer(
    ctx: &Ctx<'_>,
    r: &RowReader<'_>,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(String, FuOfficer), RowError> {
    let code = r.required_code("ma_can_bo", None)?;
    let id = ctx.id(&code);
    once(r, "ma_can_bo", &id, seen)?;
    let read = || -> Result<FuOfficer, RowError> {
        let full_name = r.required_text("ho_ten")?;
        let level = match fold(&r.required_text("cap")?).as_str() {
            "tinh" => OfficerLevel::Province,
            "huyen" => OfficerLevel::District,
            "xa" => OfficerLevel::Commune,
            "chi hoi" => OfficerLevel::Branch,
            other => {
                return Err(r.error(
                    "cap",
                    format!("{other:?} is not tinh, huyen, xa or chi_hoi"),
                ));
            }
        };
        let (unit_code, district) = match level {
            OfficerLevel::Province => {
                let unit = r.required_code("ma_don_vi", Some(2))?;
                if !is_province(&unit) {
                    return Err(r.error(
                        "ma_don_vi",
                        format!("{unit} is not a province ({})", province_codes()),
                    ));
                }
                (unit, None)
            }
            OfficerLevel::District => {
                let unit = r.required_code("ma_don_vi", Some(3))?;
                if !is_district(&unit) {
                    return Err(r.error("ma_don_vi", format!("unknown district code {unit}")));
                }
                (unit.clone(), Some(unit))
            }
            OfficerLevel::Commune | OfficerLevel::Branch => {
                let unit = r.required_code("ma_don_vi", Some(5))?;
                let d = district_of_commune(&unit).ok_or_else(|| {
                    r.error(
                        "ma_don_vi",
                        format!("unknown commune code {unit} (2024 list)"),
                    )
                })?;
                (unit, Some(d))
            }
        };
        let province = match &district {
            Some(d) => province_of_district(d),
            None => reference::provinces()
                .iter()
                .find(|p| p.code == unit_code)
                .map(|p| p.code.as_str()),
        };
        ctx.in_scope(r, "ma_don_vi", district.as_deref(), province)?;
        let supports = r.yes_no("phu_trach_KTTT")?;
        let mut issues = Vec::new();
        let phone = r.text("dien_thoai").and_then(|p| {
            let e164 = hub_normalise::phone::to_e164(&p);
            if e164.is_none() {
                // personal data: the value is not copied
                issues.push(FieldIssue {
                    field: "dien_thoai".into(),
                    problem: "not a readable Vietnamese phone number".into(),
                    raw: None,
                });
            }
            e164
        });
        Ok(FuOfficer {
            meta: ctx.meta(&id, r.raw(), issues),
            workbook: ctx.batch.clone(),
            retracted: false,
            code: code.clone(),
            full_name,
            level,
            unit_code,
            district_code: district,
            position: r.text("chuc_vu"),
            supports_collective_economy: supports,
            phone,
        })
    };
    read().map(|o| (id.clone(), o)).map_err(|e| with_id(e, &id))
}

fn training(
    ctx: &Ctx<'_>,
    r: &RowReader<'_>,
    officers: &BTreeSet<String>,
    held: &BTreeSet<String>,
    seen: &mut BTreeMap<String, usize>,
) -> Result<(String, FuTraining), RowError> {
    let officer_code = r.required_code("ma_can_bo", None)?;
    let officer_id = ctx.id(&officer_code);
    let course = r.required_text("khoa_hoc")?;
    let from = r.required_date("tu_ngay")?;
    let key = training_key(&officer_code, &course, from);
    let id = ctx.id(&key);
    once(r, "ma_can_bo", &id, seen)?;
    let read = || -> Result<FuTraining, RowError> {
        if !officers.contains(&officer_id) && !held.contains(&officer_id) {
            return Err(r.error(
                "ma_can_bo",
                format!(
                    "{officer_code} is not an officer of sender {} (sheet {})",
                    ctx.batch.sender,
                    sheets::OFFICERS
                ),
            ));
        }
        let to = r.required_date("den_ngay")?;
        if to < from {
            return Err(r.error("den_ngay", format!("{to} is before tu_ngay {from}")));
        }
        Ok(FuTraining {
            meta: ctx.meta(&id, r.raw(), Vec::new()),
            workbook: ctx.batch.clone(),
            retracted: false,
            officer_code: officer_code.clone(),
            course: course.clone(),
            from,
            to,
            organiser: r.text("don_vi_to_chuc"),
            covers_collective_economy: r.yes_no("noi_dung_KTTT")?,
        })
    };
    read().map(|t| (id.clone(), t)).map_err(|e| with_id(e, &id))
}

/// A training's key: officer, start date and the course's folded name (hashed, short).
pub fn training_key(officer: &str, course: &str, from: NaiveDate) -> String {
    let h = content_hash(&Value::String(fold(course)));
    format!("{officer}:{from}:{}", &h[..12])
}

/// A held record published again, retracted by `by`, with its last values.
pub fn retract(contract_type: &str, last: &Value, by: &WorkbookRef) -> Result<FileRecord, Invalid> {
    fn redo<T: Contract>(
        last: &Value,
        by: &WorkbookRef,
        set: impl FnOnce(&mut T) -> (&mut SourceMeta, &mut WorkbookRef, &mut bool),
    ) -> Result<FileRecord, Invalid> {
        let mut rec: T = serde_json::from_value(last.clone())
            .map_err(|e| Invalid::new(format!("held {} unreadable: {e}", T::TYPE)))?;
        let (meta, workbook, retracted) = set(&mut rec);
        let id = meta.source.id.clone();
        let hash = content_hash(&json!({
            "retracted": meta.content_hash,
            "sender": by.sender,
            "report_date": by.report_date,
        }));
        meta.content_hash = hash.clone();
        meta.fetched_at = now_vn();
        *workbook = by.clone();
        *retracted = true;
        FileRecord::new(SYSTEM, id, hash, rec)
    }
    match contract_type {
        FuBranch::TYPE => redo::<FuBranch>(last, by, |r| {
            (&mut r.meta, &mut r.workbook, &mut r.retracted)
        }),
        FuOfficer::TYPE => redo::<FuOfficer>(last, by, |r| {
            (&mut r.meta, &mut r.workbook, &mut r.retracted)
        }),
        FuTraining::TYPE => redo::<FuTraining>(last, by, |r| {
            (&mut r.meta, &mut r.workbook, &mut r.retracted)
        }),
        other => Err(Invalid::new(format!(
            "{other} is no farmers-union contract"
        ))),
    }
}

/// Columns of each data sheet, in the template's order (for writers of workbooks).
pub fn template() -> [(&'static str, &'static [&'static str]); 4] {
    sheets::TEMPLATE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_columns_include_every_required_one() {
        let t = template();
        for c in BRANCH_COLUMNS {
            assert!(t[1].1.contains(&c), "{c}");
        }
        for c in OFFICER_COLUMNS {
            assert!(t[2].1.contains(&c), "{c}");
        }
        for c in TRAINING_COLUMNS {
            assert!(t[3].1.contains(&c), "{c}");
        }
    }
}

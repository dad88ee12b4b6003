//! The Farmers' Union's records (`shared/sources/farmers-union.md`), read from the workbooks
//! (XLSX or CSV) a sender uploads: professional branches and groups, Union officers, and
//! their training attendance. One contract per sheet.
//!
//! Every record names the [`Workbook`] it was read from (sender, report date, the file's
//! SHA-256). A workbook is its sender's full roster as of its report date: a record the
//! sender's previous workbook listed and the new one does not is published once more with
//! `retracted = true`, its last values, and the retracting workbook. Source ids carry the
//! sender (`{sender}:{code}`), since the provincial and a district workbook may list the same
//! row. Personal data: officers' names and phones (masked in logs, like representatives').

use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{OrgKind, SourceMeta};

/// The workbook's layout (`shared/sources/farmers-union.md`): its sheets' names and their
/// columns in the template's order. The one place that names them: the adapter reads by
/// them, the simulators and the tests write workbooks with them.
pub mod sheets {
    /// The header sheet: who sent the workbook and as of when.
    pub const INFO: &str = "Thong_tin";
    pub const BRANCHES: &str = "Chi_to_hoi_NN";
    pub const OFFICERS: &str = "Can_bo_Hoi";
    pub const TRAININGS: &str = "Tap_huan";

    pub const INFO_HEADER: [&str; 3] = ["don_vi_gui", "ngay_bao_cao", "nguoi_lap"];
    pub const BRANCH_HEADER: [&str; 12] = [
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
    ];
    pub const OFFICER_HEADER: [&str; 7] = [
        "ma_can_bo",
        "ho_ten",
        "cap",
        "ma_don_vi",
        "chuc_vu",
        "phu_trach_KTTT",
        "dien_thoai",
    ];
    pub const TRAINING_HEADER: [&str; 6] = [
        "ma_can_bo",
        "khoa_hoc",
        "tu_ngay",
        "den_ngay",
        "don_vi_to_chuc",
        "noi_dung_KTTT",
    ];

    /// Every sheet with its columns, in the template's order.
    pub const TEMPLATE: [(&str, &[&str]); 4] = [
        (INFO, &INFO_HEADER),
        (BRANCHES, &BRANCH_HEADER),
        (OFFICERS, &OFFICER_HEADER),
        (TRAININGS, &TRAINING_HEADER),
    ];
}

/// The workbook a record was read from (or retracted by).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Workbook {
    /// `12` (the provincial union) or a district code (`105`..`112`).
    #[schemars(length(max = 16))]
    pub sender: String,
    /// The roster is as of this date.
    pub report_date: NaiveDate,
    /// SHA-256 of the uploaded file(s), lowercase hex.
    #[schemars(length(max = 128))]
    pub content_hash: String,
}

/// `loai`: a professional branch or a professional group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BranchKind {
    /// `chi_hoi`: chi hội nông dân nghề nghiệp.
    ChiHoi,
    /// `to_hoi`: tổ hội nông dân nghề nghiệp.
    ToHoi,
}

/// `trang_thai` of a branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BranchStatus {
    /// `hoat_dong`.
    Active,
    /// `giai_the`.
    Dissolved,
    /// `da_chuyen_doi`: developed into an HTX or a THT.
    Converted,
}

/// What a converted branch became, as the Union writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Conversion {
    /// `HTX` or `THT`.
    pub kind: OrgKind,
    /// The organisation's name as the Union writes it (NFC, spaces collapsed).
    #[schemars(length(max = 1000))]
    pub name: String,
    /// Its registration code, digits only, when the Union knows it.
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub registration_code: Option<String>,
}

/// `source.fu_branch.v1`: one row of sheet `Chi_to_hoi_NN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FuBranch {
    pub meta: SourceMeta,
    pub workbook: Workbook,
    /// True when the sender's workbook no longer lists it (values are the last ones listed).
    #[serde(default)]
    pub retracted: bool,
    /// `ma`, e.g. `CHNN-106-0012`.
    #[schemars(length(max = 64))]
    pub code: String,
    #[schemars(length(max = 1000))]
    pub name: String,
    pub kind: BranchKind,
    /// `ma_xa`: 5 digits, 2024 (pre-reform) list.
    #[schemars(length(max = 16))]
    pub commune_code: String,
    /// `ma_xa_moi`: the post-July-2025 commune, when written (checked against the crosswalk).
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub commune_code_2025: Option<String>,
    /// District of `commune_code`.
    #[schemars(length(max = 16))]
    pub district_code: String,
    pub established_on: NaiveDate,
    #[serde(default)]
    pub members: Option<u32>,
    pub status: BranchStatus,
    /// `ngay_ket_thuc`: dissolved or converted on.
    #[serde(default)]
    pub ended_on: Option<NaiveDate>,
    /// Set when `status = converted`.
    #[serde(default)]
    pub converted_to: Option<Conversion>,
}

/// `cap` of an officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfficerLevel {
    /// `tinh`: counts in the province only.
    Province,
    /// `huyen`: its district and the province.
    District,
    /// `xa`: its commune, district and the province.
    Commune,
    /// `chi_hoi`: its commune, district and the province.
    Branch,
}

/// `source.fu_officer.v1`: one row of sheet `Can_bo_Hoi`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FuOfficer {
    pub meta: SourceMeta,
    pub workbook: Workbook,
    #[serde(default)]
    pub retracted: bool,
    /// `ma_can_bo`.
    #[schemars(length(max = 64))]
    pub code: String,
    /// `ho_ten` (personal data).
    #[schemars(length(max = 500))]
    pub full_name: String,
    pub level: OfficerLevel,
    /// `ma_don_vi`: `12`, a district code, or a commune code (2024 list).
    #[schemars(length(max = 16))]
    pub unit_code: String,
    /// District of the unit; null for the province level.
    #[serde(default)]
    #[schemars(length(max = 16))]
    pub district_code: Option<String>,
    /// `chuc_vu`.
    #[serde(default)]
    #[schemars(length(max = 500))]
    pub position: Option<String>,
    /// `phu_trach_KTTT`: works on supporting the collective economy.
    pub supports_collective_economy: bool,
    /// `dien_thoai`, E.164 when readable (personal data).
    #[serde(default)]
    #[schemars(length(max = 64))]
    pub phone: Option<String>,
}

/// `source.fu_training.v1`: one row of sheet `Tap_huan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FuTraining {
    pub meta: SourceMeta,
    pub workbook: Workbook,
    #[serde(default)]
    pub retracted: bool,
    /// `ma_can_bo`: an officer of the same sender.
    #[schemars(length(max = 64))]
    pub officer_code: String,
    /// `khoa_hoc`.
    #[schemars(length(max = 1000))]
    pub course: String,
    /// `tu_ngay`.
    pub from: NaiveDate,
    /// `den_ngay` (`from <= to`).
    pub to: NaiveDate,
    /// `don_vi_to_chuc`.
    #[serde(default)]
    #[schemars(length(max = 1000))]
    pub organiser: Option<String>,
    /// `noi_dung_KTTT`: the course covered the collective economy.
    pub covers_collective_economy: bool,
}

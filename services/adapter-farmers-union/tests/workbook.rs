//! The Must-show tests of the Union's workbooks, over the real broker and database: every
//! value form of the spec read right (XLSX and CSV), a bad row rejected with sheet, row,
//! column and reason while the rest is taken, the same workbook twice changing nothing, a
//! later workbook without a row retracting it, a district workbook outside its district
//! refused row by row, and the upload API's authentication and size limit.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use hub_adapter_farmers_union::read;
use hub_adapter_kit::file::{Outcome, RowError, UploadFile, Workbook};
use hub_contracts::RawEnvelope;
use hub_contracts::v1::{
    BranchKind, BranchStatus, FuBranch, FuOfficer, FuTraining, OfficerLevel, OrgKind,
};
use serde_json::Value;
use support::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// NFD: every precomposed letter decomposed, as some keyboards and Macs write it.
fn nfd(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd().collect()
}

/// A provincial workbook with every value form the spec lists.
fn every_form() -> Vec<SheetSpec> {
    let mut sheets = vec![
        sheet(
            " thong_tin ",
            &["DON_VI_GUI", "ngay_bao_cao", "nguoi_lap"],
            vec![vec![V::N(12.0), V::D(2024, 12, 31), s("Lò Văn Minh")]],
        ),
        sheet(
            "chi_to_hoi_nn",
            &[
                " Ma ",
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
                "ghi_chu",
            ],
            vec![
                vec![
                    s("CHNN-106-0001"),
                    V::S(nfd("  Chi hội nông dân nghề nghiệp  trồng chè Bản Hon ")),
                    s(" Chi_Hoi "),
                    V::N(3400.0),
                    s("3405"),
                    V::D(2021, 4, 5),
                    V::N(25.0),
                    s("da_chuyen_doi"),
                    s("5/6/2024"),
                    s("htx"),
                    V::S(nfd("HTX Chè  Bản Hon")),
                    V::N(6_201_000_123.0),
                    s("an extra column"),
                ],
                vec![
                    s("CHNN-106-0002"),
                    s("Tổ hội NDNN nuôi ong Sì Lở Lầu"),
                    s("to_hoi"),
                    s("03394"),
                    V::E,
                    s("2019-11-20"),
                    V::E,
                    s("Giai_The"),
                    s("01/02/2024"),
                    V::E,
                    V::E,
                    V::E,
                    V::E,
                ],
            ],
        ),
    ];
    // one officer per spelling of yes and no
    let spellings = [
        ("co", true),
        ("có", true),
        ("x", true),
        ("1", true),
        ("yes", true),
        ("khong", false),
        ("không", false),
        ("", false),
        ("0", false),
        ("no", false),
    ];
    let mut officers: Vec<Vec<V>> = spellings
        .iter()
        .enumerate()
        .map(|(i, (yes_no, _))| {
            vec![
                V::N(1000.0 + i as f64),
                V::S(nfd("Giàng A Páo")),
                s("XA"),
                V::N(3390.0),
                V::E,
                if yes_no.is_empty() { V::E } else { s(yes_no) },
                V::E,
            ]
        })
        .collect();
    officers.push(vec![
        s("CB-H-106"),
        s("Lò Thị Mai"),
        s("huyen"),
        V::N(106.0),
        s("Phó Chủ tịch"),
        V::N(1.0),
        s("0912.345.678"),
    ]);
    officers.push(vec![
        s("CB-T-1"),
        s("Tao Văn Nhất"),
        s("tinh"),
        s("12"),
        V::E,
        s("Có"),
        s("not a phone"),
    ]);
    officers.push(vec![
        s("CB-C-1"),
        s("Vàng Thị Dợ"),
        s("chi_hoi"),
        s("03394"),
        V::E,
        s("YES"),
        V::E,
    ]);
    sheets.push(sheet("CAN_BO_HOI", &OFFICER_HEADER, officers));
    sheets.push(sheet(
        "Tap_huan",
        &TRAINING_HEADER,
        vec![
            vec![
                V::N(1000.0),
                s("Kinh tế tập thể"),
                V::D(2024, 5, 2),
                s("4/5/2024"),
                V::E,
                s("x"),
            ],
            vec![
                s("CB-H-106"),
                s("Tin học"),
                s("2024-06-01"),
                s("2024-06-01"),
                s("Sở TT&TT"),
                s("KHÔNG"),
            ],
        ],
    ));
    sheets
}

fn read_all(files: &[UploadFile]) -> (Vec<Value>, Vec<RowError>) {
    let book = Workbook::read(files).expect("readable");
    let batch = read::header(&book, "hash").expect("header");
    assert_eq!(batch.sender, "12", "a sender typed as a number");
    assert_eq!(batch.report_date, d(2024, 12, 31));
    let out = read::records(&book, &batch, &BTreeSet::new()).expect("sheets");
    assert_eq!(out.rows_read, 2 + 13 + 2);
    (
        out.records.into_iter().map(|r| r.data).collect(),
        out.rejected,
    )
}

fn of<T: serde::de::DeserializeOwned>(records: &[Value], ty: &str) -> Vec<T> {
    records
        .iter()
        .filter(|v| {
            let id = v["meta"]["source"]["id"].as_str().unwrap_or("");
            match ty {
                "branch" => v.get("kind").is_some() && v.get("established_on").is_some(),
                "officer" => v.get("level").is_some(),
                _ => v.get("course").is_some() && !id.is_empty(),
            }
        })
        .map(|v| serde_json::from_value(v.clone()).expect("decodes"))
        .collect()
}

fn check_every_form(records: &[Value], rejected: &[RowError]) {
    assert!(rejected.is_empty(), "{rejected:?}");
    let branches: Vec<FuBranch> = of(records, "branch");
    let officers: Vec<FuOfficer> = of(records, "officer");
    let trainings: Vec<FuTraining> = of(records, "training");
    assert_eq!(
        (branches.len(), officers.len(), trainings.len()),
        (2, 13, 2)
    );

    let b = &branches[0];
    assert_eq!(b.meta.source.id, "12:CHNN-106-0001");
    assert_eq!(
        b.name, "Chi hội nông dân nghề nghiệp trồng chè Bản Hon",
        "NFC, spaces"
    );
    assert_eq!(b.kind, BranchKind::ChiHoi);
    assert_eq!(
        b.commune_code, "03400",
        "a code typed as a number is padded"
    );
    assert_eq!(b.commune_code_2025.as_deref(), Some("03405"));
    assert_eq!(b.district_code, "106");
    assert_eq!(b.established_on, d(2021, 4, 5), "an Excel date cell");
    assert_eq!(b.members, Some(25));
    assert_eq!(b.status, BranchStatus::Converted);
    assert_eq!(b.ended_on, Some(d(2024, 6, 5)), "d/m/yyyy");
    let c = b.converted_to.as_ref().expect("conversion");
    assert_eq!(c.kind, OrgKind::Htx);
    assert_eq!(c.name, "HTX Chè Bản Hon");
    assert_eq!(c.registration_code.as_deref(), Some("6201000123"));
    assert!(!b.retracted);

    let b = &branches[1];
    assert_eq!(b.kind, BranchKind::ToHoi);
    assert_eq!(b.established_on, d(2019, 11, 20), "ISO");
    assert_eq!(b.status, BranchStatus::Dissolved);
    assert_eq!(b.ended_on, Some(d(2024, 2, 1)), "dd/mm/yyyy");
    assert_eq!(b.members, None);

    let by_code: BTreeMap<&str, &FuOfficer> =
        officers.iter().map(|o| (o.code.as_str(), o)).collect();
    let expected = [
        true, true, true, true, true, false, false, false, false, false,
    ];
    for (i, yes) in expected.iter().enumerate() {
        let o = by_code[format!("{}", 1000 + i).as_str()];
        assert_eq!(o.supports_collective_economy, *yes, "spelling #{i}");
        assert_eq!(o.level, OfficerLevel::Commune);
        assert_eq!(o.unit_code, "03390");
        assert_eq!(o.district_code.as_deref(), Some("106"));
        assert_eq!(o.full_name, "Giàng A Páo");
    }
    let h = by_code["CB-H-106"];
    assert_eq!(
        (h.level, h.unit_code.as_str()),
        (OfficerLevel::District, "106")
    );
    assert!(h.supports_collective_economy, "1 as a number");
    assert_eq!(h.phone.as_deref(), Some("+84912345678"));
    let t = by_code["CB-T-1"];
    assert_eq!(
        (t.level, t.district_code.as_deref()),
        (OfficerLevel::Province, None)
    );
    assert_eq!(t.phone, None);
    assert_eq!(t.meta.issues.len(), 1, "an unreadable phone is flagged");
    assert_eq!(t.meta.issues[0].raw, None, "personal data not copied");
    assert_eq!(by_code["CB-C-1"].level, OfficerLevel::Branch);

    let t = &trainings[0];
    assert_eq!(t.officer_code, "1000");
    assert_eq!((t.from, t.to), (d(2024, 5, 2), d(2024, 5, 4)));
    assert!(t.covers_collective_economy);
    assert!(!trainings[1].covers_collective_economy);
    assert_eq!(trainings[1].organiser.as_deref(), Some("Sở TT&TT"));
}

#[test]
fn a_workbook_with_every_value_form_of_the_spec_is_read_right_as_xlsx_and_as_csv() {
    let sheets = every_form();
    let (records, rejected) = read_all(&file("union.xlsx", xlsx(&sheets)));
    check_every_form(&records, &rejected);
    let (csv_records, rejected) = read_all(&csv_files(&sheets));
    check_every_form(&csv_records, &rejected);
}

/// Branch rows of sheet Chi_to_hoi_NN, officers, trainings.
fn types(published: &[RawEnvelope]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in published {
        *m.entry(e.ty.clone()).or_insert(0) += 1;
    }
    m
}

#[tokio::test]
async fn a_bad_row_is_rejected_with_sheet_row_column_and_reason_and_the_rest_taken() {
    let h = Harness::start().await;
    let mut converted_without_kind = branch("CHNN-106-0003", "03394");
    converted_without_kind[7] = s("da_chuyen_doi");
    converted_without_kind[8] = s("01/05/2024");
    let mut bad_date = branch("CHNN-106-0004", "03394");
    bad_date[5] = s("31/02/2023");
    let sheets = book(
        s("12"),
        s("31/12/2024"),
        vec![
            branch("CHNN-106-0001", "03390"),
            bad_date,
            branch("CHNN-106-0002", "99999"),
            converted_without_kind,
        ],
        vec![officer("CB1", "03390"), {
            let mut o = officer("CB2", "03390");
            o[2] = s("bo");
            o
        }],
        vec![training("CB1"), training("NOBODY")],
    );
    let report = h
        .ingest
        .upload(&file("union.xlsx", xlsx(&sheets)), "union-12")
        .await
        .expect("upload");
    assert_eq!(report.outcome, Outcome::Accepted);
    let rejected: Vec<(String, usize, String)> = report
        .rejected
        .iter()
        .map(|e| (e.sheet.clone(), e.row, e.column.clone()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            ("Chi_to_hoi_NN".into(), 3, "ngay_thanh_lap".into()),
            ("Chi_to_hoi_NN".into(), 4, "ma_xa".into()),
            ("Chi_to_hoi_NN".into(), 5, "chuyen_thanh_loai".into()),
            ("Can_bo_Hoi".into(), 3, "cap".into()),
            ("Tap_huan".into(), 3, "ma_can_bo".into()),
        ],
        "{:#?}",
        report.rejected
    );
    let reasons: Vec<&str> = report.rejected.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons[0].contains("not a date"), "{reasons:?}");
    assert!(
        reasons[1].contains("unknown commune code 99999"),
        "{reasons:?}"
    );
    assert!(
        reasons[2].contains("required when the branch is converted"),
        "{reasons:?}"
    );
    assert!(
        reasons[4].contains("NOBODY is not an officer"),
        "{reasons:?}"
    );
    for r in &reasons {
        assert!(!r.contains("Giàng"), "no personal data in a reason: {r}");
    }
    // the rest is taken and published
    assert_eq!((report.taken, report.published), (3, 3));
    let published = h.drain().await;
    assert_eq!(
        types(&published),
        BTreeMap::from([
            ("source.fu_branch.v1".to_owned(), 1),
            ("source.fu_officer.v1".to_owned(), 1),
            ("source.fu_training.v1".to_owned(), 1),
        ])
    );
    // the report is kept with the upload
    let kept = h.ingest.recent(10).await.expect("recent");
    assert_eq!(
        serde_json::to_value(&kept).expect("json"),
        serde_json::to_value(vec![report]).expect("json")
    );
    h.finish().await;
}

async fn rows(h: &Harness) -> Vec<(String, String, bool)> {
    sqlx::query_as("SELECT source_id, content_hash, retracted FROM file_rows ORDER BY source_id")
        .fetch_all(&h.db.pool)
        .await
        .expect("file_rows")
}

#[tokio::test]
async fn the_same_workbook_twice_changes_nothing() {
    let h = Harness::start().await;
    let bytes = xlsx(&book(
        s("12"),
        s("31/12/2024"),
        vec![branch("CHNN-106-0001", "03390")],
        vec![officer("CB1", "03390")],
        vec![training("CB1")],
    ));
    let first = h
        .ingest
        .upload(&file("a.xlsx", bytes.clone()), "union-12")
        .await
        .expect("first");
    assert_eq!((first.outcome, first.published), (Outcome::Accepted, 3));
    assert_eq!(h.drain().await.len(), 3);
    let before = rows(&h).await;

    let second = h
        .ingest
        .upload(&file("renamed.xlsx", bytes), "someone-else")
        .await
        .expect("second");
    assert_eq!(second.outcome, Outcome::Duplicate);
    assert_eq!((second.published, second.retracted), (0, 0));
    assert_eq!(second.file_hash, first.file_hash);
    assert!(h.drain().await.is_empty(), "nothing published again");
    assert_eq!(rows(&h).await, before, "the roster is unchanged");
    // both uploads are audited, with their hash and uploader
    let audit: Vec<(String, String, String)> =
        sqlx::query_as("SELECT uploaded_by, file_hash, outcome FROM file_uploads ORDER BY id")
            .fetch_all(&h.db.pool)
            .await
            .expect("audit");
    assert_eq!(
        audit,
        vec![
            (
                "union-12".into(),
                first.file_hash.clone(),
                "accepted".into()
            ),
            (
                "someone-else".into(),
                first.file_hash.clone(),
                "duplicate".into()
            ),
        ]
    );
    // and the audit is append-only
    assert!(
        sqlx::query("DELETE FROM file_uploads")
            .execute(&h.db.pool)
            .await
            .is_err()
    );
    h.finish().await;
}

#[tokio::test]
async fn a_later_workbook_without_a_row_retracts_it_with_that_workbook() {
    let h = Harness::start().await;
    let first = xlsx(&book(
        s("12"),
        s("30/06/2024"),
        vec![
            branch("CHNN-106-0001", "03390"),
            branch("CHNN-106-0002", "03394"),
        ],
        vec![officer("CB1", "03390"), officer("CB2", "03390")],
        vec![training("CB1"), training("CB2")],
    ));
    let r1 = h
        .ingest
        .upload(&file("q2.xlsx", first), "union-12")
        .await
        .expect("first");
    assert_eq!(r1.published, 6);
    h.drain().await;

    // the next quarter: branch 0002, officer CB2 and CB2's training are gone
    let second = xlsx(&book(
        s("12"),
        s("30/09/2024"),
        vec![branch("CHNN-106-0001", "03390")],
        vec![officer("CB1", "03390")],
        vec![training("CB1")],
    ));
    let r2 = h
        .ingest
        .upload(&file("q3.xlsx", second), "union-12")
        .await
        .expect("second");
    assert_eq!((r2.outcome, r2.retracted), (Outcome::Accepted, 3));
    let published = h.drain().await;
    let retracted: BTreeSet<String> = published
        .iter()
        .filter(|e| e.data["retracted"] == true)
        .map(|e| {
            e.data["meta"]["source"]["id"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(retracted.len(), 3);
    assert!(retracted.contains("12:CHNN-106-0002"), "{retracted:?}");
    assert!(retracted.contains("12:CB2"), "{retracted:?}");
    for e in published.iter().filter(|e| e.data["retracted"] == true) {
        assert_eq!(e.data["workbook"]["content_hash"], r2.file_hash.as_str());
        assert_eq!(e.data["workbook"]["report_date"], "2024-09-30");
    }
    let b: FuBranch = published
        .iter()
        .find(|e| e.data["meta"]["source"]["id"] == "12:CHNN-106-0002")
        .map(|e| serde_json::from_value(e.data.clone()).expect("decodes"))
        .expect("the retraction");
    assert_eq!(b.commune_code, "03394", "its last values");
    let held: Vec<(String, String, bool)> = rows(&h).await;
    assert_eq!(held.iter().filter(|r| r.2).count(), 3);

    // the same roster again (a different file of the same date) retracts nothing more
    let mut again = book(
        s("12"),
        s("30/09/2024"),
        vec![branch("CHNN-106-0001", "03390")],
        vec![officer("CB1", "03390")],
        vec![training("CB1")],
    );
    again.push(sheet("Ghi_chu", &["ghi_chu"], vec![vec![s("a note")]]));
    let again = xlsx(&again);
    let r3 = h
        .ingest
        .upload(&file("q3-again.xlsx", again), "union-12")
        .await
        .expect("third");
    assert_eq!((r3.retracted, r3.published, r3.unchanged), (0, 0, 3));
    assert!(h.drain().await.is_empty());

    // an older workbook than the roster held is refused whole
    let old = xlsx(&book(s("12"), s("31/03/2024"), vec![], vec![], vec![]));
    let r4 = h
        .ingest
        .upload(&file("q1.xlsx", old), "union-12")
        .await
        .expect("fourth");
    assert_eq!(r4.outcome, Outcome::Refused);
    assert!(
        r4.reason.as_deref().unwrap_or("").contains("older"),
        "{r4:?}"
    );
    assert!(h.drain().await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn a_district_workbook_outside_its_district_is_refused_row_by_row() {
    let h = Harness::start().await;
    let mut province_officer = officer("CB-T", "12");
    province_officer[2] = s("tinh");
    let sheets = book(
        V::N(106.0),
        V::D(2024, 12, 31),
        vec![
            branch("CHNN-106-0001", "03390"),
            branch("CHNN-105-0001", "03386"),
            branch("CHNN-106-0002", "03394"),
        ],
        vec![
            officer("CB1", "03390"),
            officer("CB2", "03387"),
            province_officer,
        ],
        vec![training("CB1"), training("CB2")],
    );
    let report = h
        .ingest
        .upload(&csv_files(&sheets), "union-106")
        .await
        .expect("upload");
    assert_eq!(report.outcome, Outcome::Accepted);
    assert_eq!(report.sender.as_deref(), Some("106"));
    let rejected: Vec<(&str, usize, &str)> = report
        .rejected
        .iter()
        .map(|e| (e.sheet.as_str(), e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            ("Chi_to_hoi_NN", 3, "ma_xa"),
            ("Can_bo_Hoi", 3, "ma_don_vi"),
            ("Can_bo_Hoi", 4, "ma_don_vi"),
            ("Tap_huan", 3, "ma_can_bo"),
        ],
        "{:#?}",
        report.rejected
    );
    assert!(report.rejected[0].reason.contains("outside district 106"));
    // CB2 is refused, and so is its training (no officer of this sender)
    assert_eq!(report.taken, 2 + 1 + 1);
    let published = h.drain().await;
    let ids: BTreeSet<String> = published
        .iter()
        .map(|e| {
            e.data["meta"]["source"]["id"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert!(ids.contains("106:CHNN-106-0001") && ids.contains("106:CHNN-106-0002"));
    assert!(!ids.iter().any(|i| i.contains("CHNN-105")), "{ids:?}");
    h.finish().await;
}

#[tokio::test]
async fn a_missing_column_or_an_unreadable_file_refuses_the_upload_and_is_audited() {
    let h = Harness::start().await;
    let mut sheets = book(s("12"), s("31/12/2024"), vec![], vec![], vec![]);
    sheets[1].header.retain(|c| c != "trang_thai");
    let r = h
        .ingest
        .upload(&file("a.xlsx", xlsx(&sheets)), "union-12")
        .await
        .expect("upload");
    assert_eq!(r.outcome, Outcome::Refused);
    assert_eq!(
        r.reason.as_deref(),
        Some("sheet Chi_to_hoi_NN: required column(s) missing: trang_thai")
    );
    let r = h
        .ingest
        .upload(&file("b.xlsx", b"not a zip".to_vec()), "union-12")
        .await
        .expect("upload");
    assert_eq!(r.outcome, Outcome::Refused);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM file_uploads WHERE outcome = 'refused'")
        .fetch_one(&h.db.pool)
        .await
        .expect("count");
    assert_eq!(n, 2);
    assert!(h.drain().await.is_empty());
    h.finish().await;
}

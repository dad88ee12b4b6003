//! The Union's workbooks of every province loaded (#17): with Lai Châu's and Điện Biên's plan
//! folders installed (`REFERENCE_DIRS`, read by `hub_runtime::units`), Điện Biên's provincial
//! union (`11`) and its district unions (`094`–`103`) are senders as Lai Châu's are; a
//! provincial workbook covers its own province only (a Lai Châu row in Điện Biên's workbook
//! is refused row by row), a code of no loaded province is no sender, and each uploader of
//! the HTTP endpoint stays confined to its own sender. Over the real broker and database.
//! Installing is once per process: every test here sees both provinces.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hub_adapter_kit::file::{Outcome, UploadAuth, upload_router};
use hub_contracts::RawEnvelope;
use hub_contracts::v1::{FuBranch, FuOfficer, OfficerLevel};
use hub_runtime::service_auth::ServiceTokens;
use support::*;

fn both() {
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/plans");
    hub_runtime::units::install(&[plans.join("lai-chau"), plans.join("dien-bien")])
        .expect("both plan folders install");
}

fn by_id(published: &[RawEnvelope]) -> BTreeMap<String, RawEnvelope> {
    published
        .iter()
        .map(|e| {
            let id = e.data["meta"]["source"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (id, e.clone())
        })
        .collect()
}

/// Điện Biên's provincial workbook: branches in Tủa Chùa and Điện Biên Phủ, officers at
/// each level, and one row of each sheet that is Lai Châu's.
fn dien_bien_province() -> Vec<SheetSpec> {
    let mut converted = branch("CHNN-11-0001", "03250");
    converted[4] = s("03217"); // ma_xa_moi: Mường Báng became part of Tủa Chùa
    converted[7] = s("da_chuyen_doi");
    converted[8] = s("15/10/2024");
    converted[9] = s("HTX");
    converted[10] = s("HTX Chè Mường Báng");
    let mut province = officer("CB-T-11", "11");
    province[2] = s("tinh");
    let mut district = officer("CB-H-098", "098");
    district[2] = s("huyen");
    let mut lai_chau = officer("CB-T-12", "12");
    lai_chau[2] = s("tinh");
    book(
        V::N(11.0),
        V::D(2024, 12, 31),
        vec![
            converted,
            branch("CHNN-11-0002", "03127"),
            // Lai Châu's (Tam Đường): not Điện Biên's to report
            branch("CHNN-11-0003", "03390"),
        ],
        vec![province, district, officer("CB-X-1", "03250"), lai_chau],
        vec![training("CB-T-11"), training("CB-X-1")],
    )
}

#[tokio::test]
async fn a_dien_bien_workbook_is_read_and_confined_to_its_province() {
    both();
    let h = Harness::start().await;
    let report = h
        .ingest
        .upload(
            &file("dien-bien.xlsx", xlsx(&dien_bien_province())),
            "union-11",
        )
        .await
        .expect("upload");
    assert_eq!(report.outcome, Outcome::Accepted, "{report:?}");
    assert_eq!(report.sender.as_deref(), Some("11"));
    let rejected: Vec<(&str, usize, &str)> = report
        .rejected
        .iter()
        .map(|e| (e.sheet.as_str(), e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            ("Chi_to_hoi_NN", 4, "ma_xa"),
            ("Can_bo_Hoi", 5, "ma_don_vi")
        ],
        "{:#?}",
        report.rejected
    );
    for e in &report.rejected {
        assert!(
            e.reason.contains("outside province 11") && e.reason.contains("province 12"),
            "{}",
            e.reason
        );
    }
    assert_eq!(report.taken, 2 + 3 + 2);
    let published = by_id(&h.drain().await);
    assert_eq!(published.len(), 7, "{:?}", published.keys());
    let b = published["11:CHNN-11-0001"]
        .decode_ref::<FuBranch>()
        .expect("a branch")
        .data;
    assert_eq!(
        (b.district_code.as_str(), b.commune_code_2025.as_deref()),
        ("098", Some("03217"))
    );
    assert!(b.converted_to.is_some());
    let b = published["11:CHNN-11-0002"]
        .decode_ref::<FuBranch>()
        .expect("a branch")
        .data;
    assert_eq!(b.district_code, "094");
    for (id, level, unit, district) in [
        ("11:CB-T-11", OfficerLevel::Province, "11", None),
        ("11:CB-H-098", OfficerLevel::District, "098", Some("098")),
        ("11:CB-X-1", OfficerLevel::Commune, "03250", Some("098")),
    ] {
        let o = published[id]
            .decode_ref::<FuOfficer>()
            .expect("an officer")
            .data;
        assert_eq!(
            (o.level, o.unit_code.as_str(), o.district_code.as_deref()),
            (level, unit, district),
            "{id}"
        );
    }

    // a district union of Điện Biên: its own district's rows only
    let mut outside = branch("CHNN-098-0002", "03127");
    outside[0] = s("CHNN-098-0002");
    let report = h
        .ingest
        .upload(
            &csv_files(&book(
                s("098"),
                s("31/03/2025"),
                vec![branch("CHNN-098-0001", "03250"), outside],
                vec![officer("CB1", "03250")],
                vec![training("CB1")],
            )),
            "union-098",
        )
        .await
        .expect("upload");
    assert_eq!(report.outcome, Outcome::Accepted, "{report:?}");
    assert_eq!(report.sender.as_deref(), Some("098"));
    assert_eq!(report.rejected.len(), 1, "{:#?}", report.rejected);
    assert!(
        report.rejected[0].reason.contains("outside district 098")
            && report.rejected[0].reason.contains("district 094"),
        "{}",
        report.rejected[0].reason
    );
    assert_eq!(h.drain().await.len(), 3);

    // Lai Châu's provincial union is still a sender, and its own rows are its own
    let report = h
        .ingest
        .upload(
            &csv_files(&book(
                s("12"),
                s("31/12/2024"),
                vec![branch("CHNN-12-0001", "03390")],
                vec![officer("CB1", "03390")],
                vec![training("CB1")],
            )),
            "union-12",
        )
        .await
        .expect("upload");
    assert_eq!(
        (report.outcome, report.rejected.len()),
        (Outcome::Accepted, 0),
        "{report:?}"
    );
    assert_eq!(h.drain().await.len(), 3);

    // a code of no loaded province (Hà Nội's 01, its district 001): no sender
    for sender in ["01", "001"] {
        let report = h
            .ingest
            .upload(
                &csv_files(&book(s(sender), s("31/12/2024"), vec![], vec![], vec![])),
                "union-x",
            )
            .await
            .expect("upload");
        assert_eq!(report.outcome, Outcome::Refused, "{sender}");
        let reason = report.reason.unwrap_or_default();
        assert!(
            reason.contains("is neither a province (12, 11) nor one of its districts"),
            "{reason}"
        );
    }
    assert!(h.drain().await.is_empty());
    h.finish().await;
}

const DIEN_BIEN_TOKEN: &str = "union-dien-bien-token-0123456789abcdef0123";
const TUA_CHUA_TOKEN: &str = "union-tua-chua-token-0123456789abcdef01234";
const TAM_DUONG_TOKEN: &str = "union-tam-duong-token-0123456789abcdef0123";

/// Every uploader of `FARMERS_UNION_UPLOAD_TOKENS` sends its own sender's workbooks only,
/// whichever province the sender is in.
#[tokio::test]
async fn each_uploader_sends_only_its_own_senders_workbooks_in_either_province() {
    both();
    let h = Harness::start().await;
    let ingest = Arc::new(hub_adapter_farmers_union::ingest(
        h.db.clone(),
        h.publisher.clone(),
        1024 * 1024,
    ));
    let auth = UploadAuth::parse(
        "FARMERS_UNION_UPLOAD_TOKENS",
        &format!(
            "union-dien-bien:11={DIEN_BIEN_TOKEN},union-tua-chua:098={TUA_CHUA_TOKEN},\
             union-tam-duong:106={TAM_DUONG_TOKEN}"
        ),
        ServiceTokens::default(),
    )
    .expect("tokens");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, upload_router(ingest, auth))
            .await
            .expect("serve")
    });
    let url = format!("http://{addr}/api/v1/upload?file=book.xlsx");
    let client = reqwest::Client::new();
    let workbook = |sender: &str, commune: &str| {
        xlsx(&book(
            s(sender),
            s("31/12/2024"),
            vec![branch(&format!("CHNN-{sender}-0001"), commune)],
            vec![officer("CB1", commune)],
            vec![training("CB1")],
        ))
    };
    let post = |token: &'static str, body: Vec<u8>| {
        let req = client.post(&url).bearer_auth(token).body(body);
        async move {
            let r = req.send().await.expect("sent");
            let status = r.status().as_u16();
            let report: serde_json::Value = r.json().await.expect("json");
            (status, report)
        }
    };
    for (token, uploader, sender, commune) in [
        (DIEN_BIEN_TOKEN, "union-dien-bien", "11", "03127"),
        (TUA_CHUA_TOKEN, "union-tua-chua", "098", "03250"),
        (TAM_DUONG_TOKEN, "union-tam-duong", "106", "03390"),
    ] {
        let (status, report) = post(token, workbook(sender, commune)).await;
        assert_eq!(status, 200, "{uploader}: {report}");
        assert_eq!(report["outcome"], "accepted", "{report}");
        assert_eq!(report["uploaded_by"], uploader);
        assert_eq!(report["sender"], sender);
        assert_eq!(h.drain().await.len(), 3, "{uploader}");
    }
    // another sender's workbook, in its own province or the other: refused whole
    for (token, own, sender, commune) in [
        (TUA_CHUA_TOKEN, "098", "11", "03250"),
        (DIEN_BIEN_TOKEN, "11", "098", "03250"),
        (TUA_CHUA_TOKEN, "098", "106", "03390"),
        (TAM_DUONG_TOKEN, "106", "098", "03250"),
        (DIEN_BIEN_TOKEN, "11", "12", "03390"),
    ] {
        let (status, report) = post(token, workbook(sender, commune)).await;
        assert_eq!(status, 422, "{own} sending {sender}'s: {report}");
        assert!(
            report["reason"]
                .as_str()
                .is_some_and(|r| r.contains(&format!("only sender {own}"))),
            "{report}"
        );
        assert!(h.drain().await.is_empty(), "nothing of sender {sender}");
    }
    server.abort();
    h.finish().await;
}

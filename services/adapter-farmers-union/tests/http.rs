//! The upload endpoint: authenticated (an uploader's token, or the console's credential
//! naming its operator), size-limited, answering with the upload's report, and auditing
//! who sent what; a district union's uploader sends only its own district's workbooks.

mod support;

use std::sync::Arc;

use hub_adapter_kit::file::{UploadAuth, upload_router};
use hub_runtime::service_auth::{ServiceTokens, encode_operator};
use support::*;

const UNION_TOKEN: &str = "union-106-token-0123456789abcdef0123456789";
const CONSOLE_TOKEN: &str = "console-token-0123456789abcdef0123456789ab";
const OFFICE_TOKEN: &str = "union-office-token-0123456789abcdef012345";

#[tokio::test]
async fn uploads_over_http_are_authenticated_size_limited_and_audited() {
    let h = Harness::start().await;
    let ingest = Arc::new(hub_adapter_farmers_union::ingest(
        h.db.clone(),
        h.publisher.clone(),
        64 * 1024,
    ));
    let auth = UploadAuth::parse(
        "FARMERS_UNION_UPLOAD_TOKENS",
        &format!("union-106:106={UNION_TOKEN},union-office:*={OFFICE_TOKEN}"),
        ServiceTokens::new([CONSOLE_TOKEN]),
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
    let url = format!("http://{addr}/api/v1/upload?file=tam-duong.xlsx");
    let client = reqwest::Client::new();
    let body = xlsx(&book(
        s("106"),
        s("31/12/2024"),
        vec![branch("CHNN-106-0001", "03390")],
        vec![officer("CB1", "03390")],
        vec![training("CB1")],
    ));

    // no token, a wrong token, the console's token without an operator: 401
    let status = |r: reqwest::Response| r.status().as_u16();
    let r = client
        .post(&url)
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(status(r), 401);
    let r = client
        .post(&url)
        .bearer_auth("union-106-token-0123456789abcdef0123456788")
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(status(r), 401);
    let r = client
        .post(&url)
        .bearer_auth(CONSOLE_TOKEN)
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(status(r), 401);
    // over the size limit: 413, before anything is read
    let r = client
        .post(&url)
        .bearer_auth(UNION_TOKEN)
        .body(vec![b'x'; 65 * 1024])
        .send()
        .await
        .expect("sent");
    assert_eq!(status(r), 413);
    assert!(h.drain().await.is_empty());

    // the district union's script: 200 and the report
    let r = client
        .post(&url)
        .bearer_auth(UNION_TOKEN)
        .body(body.clone())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["outcome"], "accepted");
    assert_eq!(report["uploaded_by"], "union-106");
    assert_eq!(report["published"], 3);
    assert_eq!(h.drain().await.len(), 3);

    // the console, for its operator: the same file is a duplicate
    let r = client
        .post(&url)
        .bearer_auth(CONSOLE_TOKEN)
        .header("x-hub-operator", encode_operator("reviewer"))
        .body(body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 200);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["outcome"], "duplicate");
    assert_eq!(report["uploaded_by"], "console:reviewer");

    // district 106's uploader with district 105's workbook, or the province's: refused
    // whole (422, audited), nothing published
    for (sender, ward) in [("105", "03386"), ("12", "03390")] {
        let other = xlsx(&book(
            s(sender),
            s("31/12/2024"),
            vec![branch(&format!("CHNN-{sender}-0001"), ward)],
            vec![officer("CB9", ward)],
            vec![training("CB9")],
        ));
        let r = client
            .post(&url)
            .bearer_auth(UNION_TOKEN)
            .body(other.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status().as_u16(), 422, "sender {sender}");
        let report: serde_json::Value = r.json().await.expect("json");
        assert_eq!(report["outcome"], "refused");
        assert!(
            report["reason"]
                .as_str()
                .is_some_and(|r| r.contains("only sender 106")),
            "{report}"
        );
        assert!(h.drain().await.is_empty(), "nothing of sender {sender}");
    }
    // nor the same file as an accepted upload of another sender: accepted first from the
    // office (any sender), then sent again by district 106's uploader
    let province = xlsx(&book(
        s("12"),
        s("31/12/2024"),
        vec![branch("CHNN-12-0001", "03390")],
        vec![officer("CB8", "03390")],
        vec![training("CB8")],
    ));
    let r = client
        .post(&url)
        .bearer_auth(OFFICE_TOKEN)
        .body(province.clone())
        .send()
        .await
        .expect("sent");
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["outcome"], "accepted", "{report}");
    assert_eq!(h.drain().await.len(), 3);
    let r = client
        .post(&url)
        .bearer_auth(UNION_TOKEN)
        .body(province)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 422);

    // a refused file: 422 with the reason
    let r = client
        .post(&url)
        .bearer_auth(UNION_TOKEN)
        .body(b"garbage".to_vec())
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 422);

    // every upload that reached the ingest is audited with its hash and uploader
    let audit: Vec<(String, String)> =
        sqlx::query_as("SELECT uploaded_by, outcome FROM file_uploads ORDER BY id")
            .fetch_all(&h.db.pool)
            .await
            .expect("audit");
    assert_eq!(
        audit,
        vec![
            ("union-106".into(), "accepted".into()),
            ("console:reviewer".into(), "duplicate".into()),
            ("union-106".into(), "refused".into()),
            ("union-106".into(), "refused".into()),
            ("union-office".into(), "accepted".into()),
            ("union-106".into(), "refused".into()),
            ("union-106".into(), "refused".into()),
        ]
    );
    // the latest reports, for the uploader
    let r = client
        .get(format!("http://{addr}/api/v1/uploads"))
        .bearer_auth(UNION_TOKEN)
        .send()
        .await
        .expect("sent");
    let kept: Vec<serde_json::Value> = r.json().await.expect("json");
    assert_eq!(kept.len(), 7);
    server.abort();
    h.finish().await;
}

#[test]
fn every_uploader_names_the_sender_it_may_send_for() {
    let parse =
        |v: &str| UploadAuth::parse("FARMERS_UNION_UPLOAD_TOKENS", v, ServiceTokens::default());
    let e = parse(&format!("union-106={UNION_TOKEN}"))
        .expect_err("no sender")
        .to_string();
    assert!(
        e.contains("FARMERS_UNION_UPLOAD_TOKENS") && e.contains("names no sender"),
        "{e}"
    );
    assert!(parse(&format!("union-106:1*6={UNION_TOKEN}")).is_err());
    assert!(parse(&format!("union-106:={UNION_TOKEN}")).is_err());
    assert!(
        parse(&format!(
            "union-106:106={UNION_TOKEN},office:*={OFFICE_TOKEN}"
        ))
        .is_ok()
    );
}

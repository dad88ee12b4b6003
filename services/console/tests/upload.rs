//! Uploading a file source's workbook through the console: a reviewer's upload reaches the
//! adapter's upload API under the service credential, naming the reviewer, and its report is
//! answered at once (API and page); a viewer's upload is refused 403 before anything is sent,
//! and both are in the audit log. The adapter is the real farmers-union ingest on the real
//! broker and database.

mod common;

use std::sync::Arc;

use common::{SERVICE_TOKEN, service_tokens, start_console, token};
use hub_adapter_kit::file::{UploadAuth, upload_router};
use hub_adapter_kit::{MIGRATOR, schema_for};
use hub_contracts::registry::exchanges;
use hub_runtime::messaging::{Publisher, QueueSpec};
use hub_runtime::storage::Database;
use hub_test_support::TestEnv;
use reqwest::StatusCode;

async fn uploads(db: &Database) -> Vec<(String, String)> {
    sqlx::query_as("SELECT uploaded_by, outcome FROM file_uploads ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .expect("file_uploads")
}

#[tokio::test]
async fn a_reviewer_uploads_a_workbook_and_a_viewer_is_refused() {
    let env = TestEnv::new().await;
    // the adapter's upload API, accepting the console's service credential
    let broker = env.broker("upload-test");
    let ch = broker.channel().await.expect("broker");
    let observer = QueueSpec::new("upload.observer").bind(exchanges::SOURCE, "source.#");
    env.topology()
        .declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer");
    let db = Database::connect(
        &env.config.database_url,
        &schema_for(hub_adapter_farmers_union::SYSTEM),
        Some(&MIGRATOR),
    )
    .await
    .expect("adapter database");
    let ingest = Arc::new(hub_adapter_farmers_union::ingest(
        db.clone(),
        Arc::new(Publisher::new(broker.clone())),
        10 * 1024 * 1024,
    ));
    let auth =
        UploadAuth::parse("FARMERS_UNION_UPLOAD_TOKENS", "", service_tokens()).expect("auth");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let adapter = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        axum::serve(listener, upload_router(ingest, auth))
            .await
            .expect("serve")
    });
    let console = start_console(&env, |c| {
        c.adapter_urls = vec![("farmers-union".into(), adapter.clone())];
        // as `hub console` gives them: the registered sources (the Union is a file source)
        c.sources = vec![hub_adapter_farmers_union::REGISTRATION.info()];
    })
    .await;
    assert!(!SERVICE_TOKEN.is_empty());

    let world = hub_simulators::generate(&hub_simulators::WorldConfig::default()).expect("world");
    let book = hub_simulators::union::workbooks(&world).remove(0);
    let file = &book.files[0];
    let url = format!(
        "{}/api/v1/sources/farmers-union/upload?file={}",
        console.base, file.name
    );
    let client = reqwest::Client::new();
    let viewer = token(&console.base, "viewer").await;
    let reviewer = token(&console.base, "reviewer").await;
    let admin = token(&console.base, "admin").await;

    // a viewer: 403, nothing sent to the adapter, on the API and on the page
    let r = client
        .post(&url)
        .bearer_auth(&viewer)
        .body(file.bytes.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = client
        .get(format!("{}/upload", console.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(uploads(&db).await.is_empty(), "nothing reached the adapter");
    // no session at all: 401
    let r = client
        .post(&url)
        .body(file.bytes.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // a reviewer: the report at once
    let r = client
        .post(&url)
        .bearer_auth(&reviewer)
        .body(file.bytes.clone())
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    let report: serde_json::Value = r.json().await.expect("json");
    assert_eq!(report["outcome"], "accepted");
    assert_eq!(report["uploaded_by"], "console:reviewer");
    assert!(report["published"].as_u64().unwrap_or(0) > 10, "{report}");

    // the page, as the browser's form sends it (multipart): the same file is a duplicate
    let boundary = "----hubtestboundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"system\"\r\n\r\nfarmers-union\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
         Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet\r\n\r\n",
        file.name
    )
    .into_bytes();
    body.extend_from_slice(&file.bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = client
        .post(format!("{}/upload", console.base))
        .bearer_auth(&admin)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.expect("page");
    assert!(html.contains("id=\"upload-report\""), "{html}");
    assert!(html.contains("<b>duplicate</b>"), "{html}");

    assert_eq!(
        uploads(&db).await,
        vec![
            ("console:reviewer".into(), "accepted".into()),
            ("console:admin".into(), "duplicate".into()),
        ]
    );
    // the console's audit log: the uploads and the viewer's refusals
    let audit: serde_json::Value = client
        .get(format!("{}/api/v1/audit", console.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let entries: Vec<String> = audit
        .as_array()
        .or_else(|| audit["entries"].as_array())
        .into_iter()
        .flatten()
        .map(|e| format!("{} {} {}", e["actor"], e["action"], e["outcome"]))
        .collect();
    let uploaded = entries
        .iter()
        .filter(|e| e.contains("source.upload") && e.contains("\"ok\""))
        .count();
    assert_eq!(uploaded, 2, "{entries:#?}");
    assert!(
        entries
            .iter()
            .any(|e| e.contains("viewer") && e.contains("refused")),
        "{entries:#?}"
    );

    server.abort();
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    env.delete_queues(&[observer]).await;
    env.drop_database().await;
}

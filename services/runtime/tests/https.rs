//! `HTTP_TLS_CERT`/`HTTP_TLS_KEY`: the service's HTTP face speaks HTTPS (a certificate made
//! with `openssl` for this test), and a plain-HTTP request gets no answer.

use std::time::Duration;

use hub_runtime::http::{Readiness, TlsFiles, ops_router, serve_with};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::telemetry::Metrics;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn serves_https_with_the_configured_certificate() {
    let dir = std::env::temp_dir().join(format!("hub-https-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let stop = CancellationToken::new();
    let readiness = Readiness::new();
    let (addr, task) = serve_with(
        "127.0.0.1:0".parse().expect("addr"),
        ops_router(readiness, Metrics::new()),
        stop.clone(),
        Some(&TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
    )
    .await
    .expect("serves");

    let root =
        tokio_native_tls::native_tls::Certificate::from_pem(&std::fs::read(&cert).expect("cert"))
            .expect("pem");
    let connector: tokio_native_tls::TlsConnector =
        tokio_native_tls::native_tls::TlsConnector::builder()
            .add_root_certificate(root)
            .build()
            .expect("connector")
            .into();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut tls = connector
        .connect("localhost", tcp)
        .await
        .expect("handshake");
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // plain HTTP on the same port: no HTTP answer
    let mut plain = tokio::net::TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got)).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("200 OK"),
        "plain HTTP answered"
    );

    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    let _ = std::fs::remove_dir_all(&dir);
}

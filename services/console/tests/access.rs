//! Access control over HTTP: no credentials (or bad ones) is 401, a role too low is 403,
//! pages redirect to the login form, and the session cookie is HttpOnly and SameSite=Strict.

mod common;

use common::{start_console, token};
use hub_test_support::TestEnv;
use reqwest::StatusCode;
use reqwest::redirect::Policy;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

const READS: [&str; 8] = [
    "/api/v1/whoami",
    "/api/v1/status",
    "/api/v1/review",
    "/api/v1/cooperatives",
    "/api/v1/log",
    "/api/v1/dlq",
    "/api/v1/audit",
    "/api/v1/snapshots/latest",
];

const ACTIONS: [&str; 6] = [
    "/api/v1/review/r1/link",
    "/api/v1/review/r1/separate",
    "/api/v1/cooperatives/merge",
    "/api/v1/dlq/work/m1/replay",
    "/api/v1/dlq/work/m1/discard",
    "/api/v1/sources/ntm/sync",
];

#[tokio::test]
async fn requests_without_valid_credentials_are_refused_with_401() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |_| {}).await;
    let c = client();
    for path in READS {
        let r = c
            .get(format!("{}{path}", console.base))
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "GET {path}");
        assert!(r.headers().contains_key("www-authenticate"), "GET {path}");
        let r = c
            .get(format!("{}{path}", console.base))
            .bearer_auth("not-a-token")
            .send()
            .await
            .expect("answers");
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "GET {path} with a bad token"
        );
    }
    for path in ACTIONS {
        let r = c
            .post(format!("{}{path}", console.base))
            .json(&serde_json::json!({ "reason": "x" }))
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "POST {path}");
    }
    // pages send the browser to the login form, remembering where it was going
    for page in ["/", "/review", "/dlq", "/audit", "/indicators"] {
        let r = c
            .get(format!("{}{page}", console.base))
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "GET {page}");
        let to = r.headers()["location"].to_str().expect("ascii");
        assert!(to.starts_with("/login?next="), "{page} -> {to}");
    }
    // a wrong password is no token
    let r = c
        .post(format!("{}/api/v1/auth/token", console.base))
        .json(&serde_json::json!({ "username": "admin", "password": "viewer-dev" }))
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    drop(console);
    env.drop_database().await;
}

#[tokio::test]
async fn roles_too_low_are_refused_with_403_before_anything_is_done() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |c| c.dlq_queues = vec!["work".into()]).await;
    let c = client();
    let viewer = token(&console.base, "viewer").await;
    let reviewer = token(&console.base, "reviewer").await;
    let admin = token(&console.base, "admin").await;
    let post = |path: &str, tok: &str| {
        c.post(format!("{}{path}", console.base))
            .bearer_auth(tok)
            .json(&serde_json::json!({ "reason": "same tax code" }))
            .send()
    };
    // viewers read ...
    for path in ["/api/v1/whoami", "/api/v1/audit", "/api/v1/dlq"] {
        let r = c
            .get(format!("{}{path}", console.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::OK, "viewer GET {path}");
    }
    // ... and act on nothing
    for path in ACTIONS {
        let r = post(path, &viewer).await.expect("answers");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "viewer POST {path}");
        let body: serde_json::Value = r.json().await.expect("json");
        assert!(
            body["error"].as_str().unwrap_or("").contains("role"),
            "{body}"
        );
    }
    let r = post("/api/v1/snapshots", &viewer).await.expect("answers");
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "viewer recompute");
    // reviewers decide reviews but touch no dead letter and trigger no sync
    for path in [
        "/api/v1/dlq/work/m1/replay",
        "/api/v1/dlq/work/m1/discard",
        "/api/v1/sources/ntm/sync",
        "/api/v1/snapshots",
    ] {
        let r = post(path, &reviewer).await.expect("answers");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "reviewer POST {path}");
    }
    // past the role check, a reviewer's review decision goes to the reconciler (not
    // configured here: 503), and an admin's replay to the broker (no such message: 404)
    let r = post("/api/v1/review/r1/link", &reviewer)
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    common::declare(&env, &[hub_runtime::QueueSpec::new("work")]).await;
    let r = post("/api/v1/dlq/work/m1/replay", &admin)
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // refused requests left no action in the audit log; the two that passed did
    let r = c
        .get(format!("{}/api/v1/audit?limit=100", console.base))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("answers");
    let audit: serde_json::Value = r.json().await.expect("json");
    // every 403 above is audited as a refused request (issue 15), none ran
    let refused = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "refused" && e["outcome"] == "refused: 403")
        .count();
    assert_eq!(
        refused,
        ACTIONS.len() + 1 + 4,
        "viewer's and reviewer's 403s"
    );
    let actions: Vec<(String, String)> = audit["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] != "login" && e["action"] != "refused")
        .map(|e| {
            (
                format!(
                    "{} {}",
                    e["actor"].as_str().unwrap_or(""),
                    e["action"].as_str().unwrap_or("")
                ),
                e["outcome"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0].0, "admin dlq.replay");
    assert!(actions[0].1.starts_with("failed: 404"), "{actions:?}");
    assert_eq!(actions[1].0, "reviewer review.link");
    assert!(actions[1].1.starts_with("failed: 503"), "{actions:?}");
    drop(console);
    env.delete_queues(&[hub_runtime::QueueSpec::new("work")])
        .await;
    env.drop_database().await;
}

#[tokio::test]
async fn the_browser_session_is_a_strict_http_only_cookie_that_logout_ends() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |_| {}).await;
    let c = client();
    let r = c
        .post(format!("{}/login", console.base))
        .form(&[
            ("username", "viewer"),
            ("password", "wrong"),
            ("next", "/audit"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(
        r.headers()["location"]
            .to_str()
            .expect("ascii")
            .starts_with("/login?error=1")
    );

    let r = c
        .post(format!("{}/login", console.base))
        .form(&[
            ("username", "viewer"),
            ("password", "viewer-dev"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers()["location"],
        "/",
        "never redirects off the console"
    );
    let set = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let cookie = set.split(';').next().expect("pair").to_owned();

    let page = c
        .get(format!("{}/audit", console.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.expect("html");
    assert!(html.contains("Nhật ký thao tác"), "Vietnamese, UTF-8");
    assert!(
        html.contains("refused"),
        "the failed login is in the audit log"
    );

    let r = c
        .post(format!("{}/logout", console.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .expect("ascii")
            .contains("Max-Age=0")
    );
    let r = c
        .get(format!("{}/audit", console.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session is gone");
    drop(console);
    env.drop_database().await;
}

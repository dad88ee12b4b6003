//! Issue 15 ("trust at the boundary"), the console's part, over the real database and broker:
//! login throttling without argon2 runs, every refused attempt audited, sessions re-checked
//! against the users file, the open redirect closed, security headers, and the hash-chained
//! audit log that `hub audit verify` checks (an edited or deleted row is named).

mod common;

use std::path::PathBuf;

use common::{hub, start_console, token, users_file};
use hub_test_support::TestEnv;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

/// A copy of the dev users file that a test may rewrite.
fn users_copy(env: &TestEnv) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hub-users-{}.toml", env.namespace));
    std::fs::copy(users_file(), &path).expect("copy the users file");
    path
}

/// The users file's text with each `[[user]]` block passed through `f` (None drops it); the
/// preamble (comments) is kept.
fn rewrite(text: &str, f: impl Fn(&str) -> Option<String>) -> String {
    let mut parts = text.split("[[user]]");
    let mut out = parts.next().unwrap_or_default().to_owned();
    for block in parts {
        if let Some(b) = f(block) {
            out.push_str("[[user]]");
            out.push_str(&b);
        }
    }
    out
}

/// `coophub_console_password_verifications_total` from the console's `/metrics`.
async fn password_checks(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    hub_console::health::metric(&text, "coophub_console_password_verifications_total", None)
        .unwrap_or(0.0)
}

async fn audit(base: &str, admin: &str, query: &str) -> Vec<Value> {
    let v: Value = client()
        .get(format!("{base}/api/v1/audit?limit=1000&{query}"))
        .bearer_auth(admin)
        .send()
        .await
        .expect("audit")
        .json()
        .await
        .expect("json");
    v["entries"].as_array().cloned().unwrap_or_default()
}

async fn login(base: &str, user: &str, password: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("console answers")
}

#[tokio::test]
async fn the_eleventh_wrong_password_is_refused_without_argon2_and_audited() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |_| {}).await;
    let admin = token(&console.base, "admin").await;

    for i in 1..=10 {
        let r = login(&console.base, "viewer", &format!("guess-{i}")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let before = password_checks(&console.base).await;
    let r = login(&console.base, "viewer", "guess-11").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "11th attempt");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=900).contains(&retry), "Retry-After {retry}");
    // even the right password: the name is locked for the window, and no argon2 ran
    let r = login(&console.base, "viewer", "viewer-dev").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        password_checks(&console.base).await,
        before,
        "a throttled attempt runs no password verification"
    );
    // the form is throttled too (same name), and says so
    let r = client()
        .post(format!("{}/login", console.base))
        .form(&[("username", "viewer"), ("password", "x"), ("next", "/")])
        .send()
        .await
        .expect("answers");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // another user from the same address still logs in (under the address limit)
    let r = login(&console.base, "reviewer", "reviewer-dev").await;
    assert_eq!(r.status(), StatusCode::OK);

    // every refused attempt is in the audit log: ten 401s and three 429s
    let entries = audit(&console.base, &admin, "actor=viewer&action=login").await;
    let outcomes: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "refused: 401").count(),
        10,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.starts_with("refused: 429"))
            .count(),
        3,
        "{outcomes:?}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["detail"]["address"].as_str() == Some("127.0.0.1")),
        "the client address is recorded"
    );
    drop(console);
    env.drop_database().await;
}

#[tokio::test]
async fn a_role_lowered_in_the_users_file_applies_on_the_next_request() {
    let env = TestEnv::new().await;
    let users = users_copy(&env);
    let path = users.clone();
    let console = start_console(&env, move |c| c.console_users_file = Some(path)).await;
    let c = client();
    let reviewer = token(&console.base, "reviewer").await;
    let admin = token(&console.base, "admin").await;
    let whoami = |tok: String| {
        let c = c.clone();
        let base = console.base.clone();
        async move {
            let r = c
                .get(format!("{base}/api/v1/whoami"))
                .bearer_auth(tok)
                .send()
                .await
                .expect("answers");
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let decide = || {
        c.post(format!("{}/api/v1/review/r1/link", console.base))
            .bearer_auth(&reviewer)
            .json(&json!({ "reason": "same tax code" }))
            .send()
    };
    assert_eq!(whoami(reviewer.clone()).await.1["role"], "reviewer");
    // past the role check: no reconciler configured here, so 503, not 403
    let r = decide().await.expect("answers");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);

    // the administrator lowers the reviewer to viewer in the users file
    let text = std::fs::read_to_string(&users).expect("read");
    let lowered = text.replacen("role = \"reviewer\"", "role = \"viewer\"", 1);
    assert_ne!(text, lowered, "the dev file has a reviewer");
    std::fs::write(&users, &lowered).expect("write");
    let (status, me) = whoami(reviewer.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "viewer", "the next request sees the new role");
    let r = decide().await.expect("answers");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let refused = audit(&console.base, &admin, "action=refused").await;
    assert!(
        refused.iter().any(|e| e["actor"] == "reviewer"
            && e["outcome"] == "refused: 403"
            && e["target"] == "POST /api/v1/review/r1/link"),
        "the 403 is audited: {refused:?}"
    );

    // removed from the file: the session is over
    let without = rewrite(&lowered, |b| {
        (!b.contains("name = \"reviewer\"")).then(|| b.to_owned())
    });
    std::fs::write(&users, &without).expect("write");
    assert_eq!(
        whoami(reviewer.clone()).await.0,
        StatusCode::UNAUTHORIZED,
        "a removed user's session ends"
    );
    assert_eq!(
        whoami(admin.clone()).await.0,
        StatusCode::OK,
        "the others stay"
    );
    // a changed password ends the sessions opened with the old one
    let new_hash = hub_console::auth::hash_password("admin-new").expect("hash");
    let changed = rewrite(&without, |b| {
        Some(if b.contains("name = \"admin\"") {
            b.lines()
                .map(|l| {
                    if l.trim_start().starts_with("password_hash") {
                        format!("password_hash = \"{new_hash}\"\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect()
        } else {
            b.to_owned()
        })
    });
    std::fs::write(&users, &changed).expect("write");
    assert_eq!(whoami(admin.clone()).await.0, StatusCode::UNAUTHORIZED);
    let r = login(&console.base, "admin", "admin-new").await;
    assert_eq!(r.status(), StatusCode::OK, "the new password works");
    drop(console);
    let _ = std::fs::remove_file(&users);
    env.drop_database().await;
}

#[tokio::test]
async fn the_login_redirect_stays_on_the_site_and_pages_carry_security_headers() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |_| {}).await;
    let c = client();
    for evil in [
        "/%09/evil.example",
        "/%0a/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let r = c
            .get(format!("{}/login?next={evil}", console.base))
            .send()
            .await
            .expect("answers");
        // the templates escape '/' in values as `&#x2f;`
        let page = r.text().await.expect("text").replace("&#x2f;", "/");
        assert!(
            page.contains("name=\"next\" value=\"/\""),
            "{evil}: the form goes home, not elsewhere"
        );
    }
    for evil in [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "/\\evil.example",
    ] {
        let r = c
            .post(format!("{}/login", console.base))
            .form(&[
                ("username", "viewer"),
                ("password", "viewer-dev"),
                ("next", evil),
            ])
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()["location"], "/", "{evil:?} is refused");
    }
    let r = c
        .post(format!("{}/login", console.base))
        .form(&[
            ("username", "viewer"),
            ("password", "viewer-dev"),
            ("next", "/review?status=open"),
        ])
        .send()
        .await
        .expect("answers");
    assert_eq!(
        r.headers()["location"],
        "/review?status=open",
        "a local path is kept"
    );
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();

    // every page and API answer: CSP without inline script, no framing, no caching
    for path in ["/login", "/", "/audit", "/api/v1/whoami"] {
        let r = c
            .get(format!("{}{path}", console.base))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("answers");
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(
            csp.contains("frame-ancestors 'none'")
                && csp.contains("script-src 'self'")
                && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    let r = c
        .get(format!("{}/assets/console.css", console.base))
        .send()
        .await
        .expect("answers");
    assert_ne!(r.headers()["cache-control"], "no-store");
    drop(console);
    env.drop_database().await;
}

/// Rows of `console.audit_log`, changed behind the console's back (as a database superuser
/// could: the append-only trigger set aside).
async fn tamper(env: &TestEnv, sql: &str) {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&env.config.database_url)
        .await
        .expect("database");
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut db)
        .await
        .expect("replica role");
    sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut db)
        .await
        .expect("tamper");
}

#[tokio::test]
async fn an_edited_or_deleted_audit_row_is_named_by_hub_audit_verify() {
    let env = TestEnv::new().await;
    let console = start_console(&env, |_| {}).await;
    let admin = token(&console.base, "admin").await;
    let viewer = token(&console.base, "viewer").await;
    // a few entries: logins, a refused login, refused actions
    let _ = login(&console.base, "viewer", "wrong").await;
    for path in ["/api/v1/dlq/work/m1/discard", "/api/v1/snapshots"] {
        let r = client()
            .post(format!("{}{path}", console.base))
            .bearer_auth(&viewer)
            .send()
            .await
            .expect("answers");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    let ok = hub(&console.base, &viewer, &["audit", "verify"])
        .await
        .expect("an intact chain verifies");
    assert!(ok.contains("chain holds"), "{ok}");
    let head = ok.trim().rsplit("head ").next().expect("head").to_owned();
    // an exported copy verifies on its own
    let copy = std::env::temp_dir().join(format!("hub-audit-{}.jsonl", env.namespace));
    hub(
        &console.base,
        &viewer,
        &["audit", "export", "-o", copy.to_str().expect("utf-8")],
    )
    .await
    .expect("export");
    hub(
        &console.base,
        &viewer,
        &["audit", "verify", "--file", copy.to_str().expect("utf-8")],
    )
    .await
    .expect("the copy verifies");

    // the table refuses changes outright
    {
        use sqlx::Connection;
        let mut db = sqlx::PgConnection::connect(&env.config.database_url)
            .await
            .expect("database");
        let e = sqlx::query("UPDATE console.audit_log SET actor = 'mallory'")
            .execute(&mut db)
            .await
            .expect_err("append-only");
        assert!(e.to_string().contains("append-only"), "{e}");
        let e = sqlx::query("DELETE FROM console.audit_log")
            .execute(&mut db)
            .await
            .expect_err("append-only");
        assert!(e.to_string().contains("append-only"), "{e}");
    }

    let ids: Vec<i64> = {
        use sqlx::Connection;
        let mut db = sqlx::PgConnection::connect(&env.config.database_url)
            .await
            .expect("database");
        sqlx::query_scalar("SELECT id FROM console.audit_log ORDER BY id")
            .fetch_all(&mut db)
            .await
            .expect("ids")
    };
    assert!(ids.len() >= 5, "{ids:?}");
    let (edited, deleted, next) = (ids[1], ids[2], ids[3]);
    let last = *ids.last().expect("rows");
    assert!(head.starts_with(&format!("{last}:")), "{head}");

    // 1. rows cut from the end leave a chain that holds on its own, but not against a head
    //    kept from an earlier check
    tamper(
        &env,
        &format!("DELETE FROM console.audit_log WHERE id = {last}"),
    )
    .await;
    hub(&console.base, &viewer, &["audit", "verify"])
        .await
        .expect("a shorter chain still links");
    let e = hub(
        &console.base,
        &viewer,
        &["audit", "verify", "--expect-head", &head],
    )
    .await
    .expect_err("truncated");
    assert!(
        e.contains(&format!("row {last}:")) && e.contains("missing"),
        "{e}"
    );

    // 2. an edited row: named
    tamper(
        &env,
        &format!("UPDATE console.audit_log SET actor = 'someone-else' WHERE id = {edited}"),
    )
    .await;
    let e = hub(&console.base, &viewer, &["audit", "verify"])
        .await
        .expect_err("an edited row breaks the chain");
    assert!(
        e.contains(&format!("row {edited}:")) && e.contains("edited"),
        "{e}"
    );
    // the agency's own copy still holds: its rows are the evidence of what was there
    hub(
        &console.base,
        &viewer,
        &["audit", "verify", "--file", copy.to_str().expect("utf-8")],
    )
    .await
    .expect("the earlier copy");

    // 3. put back, then a deleted row: its successor is named, with the row it should follow
    let original: String = {
        let text = std::fs::read_to_string(&copy).expect("copy");
        let row: Value = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).expect("row"))
            .find(|r| r["id"] == edited)
            .expect("the edited row in the copy");
        row["content"][2].as_str().expect("actor").to_owned()
    };
    tamper(
        &env,
        &format!("UPDATE console.audit_log SET actor = '{original}' WHERE id = {edited}"),
    )
    .await;
    hub(&console.base, &viewer, &["audit", "verify"])
        .await
        .expect("restored");
    tamper(
        &env,
        &format!("DELETE FROM console.audit_log WHERE id = {deleted}"),
    )
    .await;
    let e = hub(&console.base, &viewer, &["audit", "verify"])
        .await
        .expect_err("a deleted row breaks the chain");
    assert!(e.contains(&format!("row {next}:")), "{e}");
    assert!(
        e.contains(&format!("row {edited}")),
        "the row it should follow: {e}"
    );
    // the console says the same
    let v: Value = client()
        .get(format!("{}/api/v1/audit/verify", console.base))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("verify")
        .json()
        .await
        .expect("json");
    assert_eq!(v["problem"]["id"], next, "{v}");
    let _ = std::fs::remove_file(&copy);
    drop(console);
    env.drop_database().await;
}

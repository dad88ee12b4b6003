//! A real headless Chromium driven over WebDriver (Debian's `chromium` and
//! `chromium-driver`, with `fantoccini`), for the console's and the demo's browser tests.
//! Fails loudly when either is missing. The driver and the browser (found by its own fresh
//! profile directory, by pid) end with the session, also when a test fails.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::{eventually, free_addr};
use fantoccini::{Client, ClientBuilder, Locator};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A browser session; the driver process (ours alone) is killed when dropped.
pub struct Browser {
    pub client: Client,
    _driver: tokio::process::Child,
    profile: PathBuf,
}

impl Browser {
    pub async fn start() -> Self {
        for bin in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(bin).exists(),
                "{bin} is missing: apt-get install -y chromium chromium-driver"
            );
        }
        let port = free_addr().port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        eventually("chromedriver ready", Duration::from_secs(30), || {
            let status = format!("{url}/status");
            async move {
                let v: serde_json::Value = reqwest::get(&status).await.ok()?.json().await.ok()?;
                (v["value"]["ready"] == true).then_some(())
            }
        })
        .await;
        let profile =
            std::env::temp_dir().join(format!("hub-test-chromium-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1500,1000", "--lang=vi-VN",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }),
        );
        let client = ClientBuilder::native()
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        Browser {
            client,
            _driver: driver,
            profile,
        }
    }

    /// Logs in through the form.
    pub async fn login(&self, base: &str, user: &str) {
        self.client
            .goto(&format!("{base}/login"))
            .await
            .expect("login page");
        self.client
            .find(Locator::Id("username"))
            .await
            .expect("user field")
            .send_keys(user)
            .await
            .expect("typed");
        self.client
            .find(Locator::Id("password"))
            .await
            .expect("password field")
            .send_keys(&format!("{user}-dev"))
            .await
            .expect("typed");
        self.client
            .find(Locator::Id("login"))
            .await
            .expect("button")
            .click()
            .await
            .expect("clicked");
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("header .who"))
            .await
            .expect("logged in");
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .expect("body")
            .text()
            .await
            .expect("text")
    }

    /// Saves a screenshot of the page (PNG) as `name.png`: under `docs/screenshots/` when
    /// `UPDATE_SCREENSHOTS=1`, else in the target directory. Returns the path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        assert!(png.len() > 10_000, "{name}: a blank page is smaller");
        let dir = if std::env::var("UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots")
        } else {
            std::env::temp_dir().join("hub-screenshots")
        };
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Opens a page.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("goto");
    }

    /// Ends the session (the driver and the browser end when it is dropped).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Chromium outlives its driver when a test fails: end the processes of this session's
    /// own profile (a fresh directory named by a UUID), by pid.
    fn drop(&mut self) {
        let profile = format!("--user-data-dir={}", self.profile.display());
        if let Ok(out) = std::process::Command::new("pgrep")
            .args(["-f", "--", &profile])
            .output()
        {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = std::process::Command::new("kill").arg(pid).status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

//! Shared by the console's integration tests: a console started in-process on a fresh
//! database and broker namespace (`TestEnv`), the dev users, and a few HTTP helpers. Nothing
//! here is a mock: the console talks to the real RabbitMQ and PostgreSQL.

#![allow(dead_code)]

use std::path::PathBuf;

use hub_console::Config;
use hub_console::ops::{OpsClient, OpsCommand, execute};
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::{QueueSpec, Topology};
use hub_test_support::TestEnv;

/// The service credential the tests' reconciler and indicators accept and the console sends.
pub const SERVICE_TOKEN: &str = "console-tests-service-credential-0123456789abcdef";

/// [`SERVICE_TOKEN`] as a service's `SERVICE_TOKENS`.
pub fn service_tokens() -> hub_runtime::service_auth::ServiceTokens {
    hub_runtime::service_auth::ServiceTokens::new([SERVICE_TOKEN])
}

pub fn users_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/console/users.dev.toml")
}

/// A console running in-process.
pub struct Console {
    pub base: String,
    pub stop: CancellationToken,
    pub config: Config,
}

impl Drop for Console {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Starts a console on `env`; `adjust` sets the upstream URLs and queues.
pub async fn start_console(env: &TestEnv, adjust: impl FnOnce(&mut Config)) -> Console {
    let mut common = env.config.clone();
    common.http_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let mut config = Config {
        common,
        console_users_file: Some(users_file()),
        service_token: hub_runtime::service_auth::ServiceCredential::new(SERVICE_TOKEN),
        ..Config::default()
    };
    adjust(&mut config);
    let stop = CancellationToken::new();
    let running = hub_console::start(config.clone(), stop.clone())
        .await
        .expect("console starts");
    let base = running.base_url();
    tokio::spawn(running.stopped());
    Console { base, stop, config }
}

/// A bearer token for a dev user (password `<user>-dev`).
pub async fn token(base: &str, user: &str) -> String {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/token"))
        .json(&serde_json::json!({ "username": user, "password": format!("{user}-dev") }))
        .send()
        .await
        .expect("console answers");
    assert_eq!(resp.status(), 200, "login of {user}");
    let v: serde_json::Value = resp.json().await.expect("json");
    v["token"].as_str().expect("token").to_owned()
}

/// Runs an operator command as `user`; its output, or its error's text.
pub async fn hub(base: &str, token: &str, args: &[&str]) -> Result<String, String> {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: OpsCommand,
    }
    let cli = Cli::try_parse_from(std::iter::once("hub").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("hub {args:?} does not parse: {e}"));
    let client = OpsClient::new(base, Some(token.to_owned()));
    let mut out = Vec::new();
    let r = execute(&client, cli.cmd, None, &mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    match r {
        Ok(()) => Ok(text),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Declares consumer queues before anything is published.
pub async fn declare(env: &TestEnv, specs: &[QueueSpec]) {
    let broker = env.broker("declare");
    let ch = broker.channel().await.expect("broker reachable");
    for spec in specs {
        env.topology()
            .declare_queue(&ch, spec, &env.retry_policy())
            .await
            .expect("declare");
    }
    broker.close().await;
}

pub fn topology(env: &TestEnv) -> Topology {
    env.topology()
}

//! The `hub` operator commands: a clap [`OpsCommand`] the `hub` binary flattens into its own
//! commands, and [`run_ops`]. Every command talks to the console's operator API
//! (`HUB_CONSOLE_URL`, default `http://127.0.0.1:8080`) with a bearer token (`HUB_TOKEN`,
//! from `hub login`), so that every action is checked against the caller's role and recorded
//! in the audit log. Never talks to the broker or another service directly.
//!
//! This module may use `anyhow` (a command's errors are for a person to read).

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

mod audit;
mod reads;

use audit::audit;
pub use audit::{verify_exchange, write_rows};
use reads::{dlq, log, review_decide, snapshot};

/// Operator commands.
#[derive(Debug, Clone, Subcommand)]
pub enum OpsCommand {
    /// Get a token for the other commands (prints `export HUB_TOKEN=…`). The password is read
    /// from HUB_PASSWORD, else from standard input.
    Login {
        #[arg(long, env = "HUB_USER")]
        user: String,
    },
    /// Pipeline health: sources, services, queue depths and dead letters.
    Status,
    /// Source adapters.
    Sources {
        #[command(subcommand)]
        action: SourcesAction,
    },
    /// Ask an adapter to sync now (admin), and follow it with a progress bar (records
    /// published, lag) until it has finished.
    Sync {
        source: String,
        /// Only ask; do not wait for the sync to finish.
        #[arg(long)]
        no_wait: bool,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// The review queue.
    Review {
        #[command(subcommand)]
        action: ReviewAction,
    },
    /// The reconciliation log (`--follow` to keep printing new entries).
    Log(LogArgs),
    /// Dead letters: list, show, replay or discard (replay and discard need the admin role).
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
    /// Indicator snapshots.
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
    },
    /// The audit log of operator actions; `verify` checks its hash chain, `export` writes a
    /// copy that can be verified later (`verify --file`). With `--exchange`: the per-agency
    /// exchange log of hub-inbound instead (read from hub-inbound's API, `INBOUND_URL` with
    /// `SERVICE_TOKEN`).
    Audit(AuditArgs),
    /// Print an argon2 hash of a password read from standard input, for a users file.
    HashPassword,
}

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub action: Option<AuditAction>,
    /// Entries listed (without a subcommand).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain: every row's hash recomputes and links to the row before; the
    /// first bad row is named and the command fails.
    Verify {
        /// Check an exported copy (JSON lines from `hub audit export`) instead of the console.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        /// A head printed by an earlier verify (`id:hash`): it must still be in the chain,
        /// unchanged (detects rows deleted from the end). With `--exchange`, needs `--agency`.
        #[arg(long)]
        expect_head: Option<String>,
        #[command(flatten)]
        exchange: ExchangeArgs,
    },
    /// Write every row with its hashes as JSON lines (to a file or standard output).
    Export {
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
        #[command(flatten)]
        exchange: ExchangeArgs,
    },
}

/// Which log `hub audit verify`/`export` read: the console's audit log, or hub-inbound's
/// per-agency exchange log.
#[derive(Debug, Clone, Default, Args)]
pub struct ExchangeArgs {
    /// The per-agency exchange log (what each agency pushed and was delivered: message ids,
    /// content hashes, outcomes, times; one hash chain per agency user) instead of the audit
    /// log.
    #[arg(long)]
    pub exchange: bool,
    /// Only this agency user's chain (e.g. `agency-loan-fund`).
    #[arg(long, requires = "exchange")]
    pub agency: Option<String>,
}

impl AuditAction {
    /// The exchange-log options of the command, when it reads the live exchange log (not a
    /// `--file` copy): the `hub` binary then asks hub-inbound's API itself.
    pub fn exchange_from_database(&self) -> Option<&ExchangeArgs> {
        match self {
            AuditAction::Verify {
                file: None,
                exchange,
                ..
            }
            | AuditAction::Export { exchange, .. }
                if exchange.exchange =>
            {
                Some(exchange)
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum SourcesAction {
    /// Check every adapter: readiness, last sync, lag, errors.
    Check,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ReviewAction {
    /// Items waiting for a decision.
    List,
    /// The pair is one organisation (reviewer).
    Link {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// The pair is two organisations (reviewer).
    Separate {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Keep the connection open and print entries as they come.
    #[arg(long)]
    pub follow: bool,
    #[arg(long)]
    pub organisation: Option<String>,
    #[arg(long)]
    pub system: Option<String>,
    #[arg(long)]
    pub source_id: Option<String>,
    #[arg(long)]
    pub since: Option<String>,
    #[arg(long)]
    pub until: Option<String>,
    /// With --follow: stop after this many entries.
    #[arg(long)]
    pub max_events: Option<usize>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum DlqAction {
    /// Every watched queue with its depth and dead letters; with a queue, its dead letters.
    List {
        queue: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One dead letter in full: reason, headers, body.
    Show { queue: String, message_id: String },
    /// Send a dead letter back to its queue, after a fix (admin).
    Replay { queue: String, message_id: String },
    /// Remove a dead letter for good (admin).
    Discard { queue: String, message_id: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum SnapshotAction {
    /// A snapshot's indicators for one unit (the province by default).
    Show {
        #[arg(long, default_value = "latest")]
        version: String,
        /// Unit list: 2024 or 2025.
        #[arg(long)]
        units: Option<String>,
        /// Unit code (default: the province).
        #[arg(long)]
        unit: Option<String>,
    },
    /// The provincial report as CSV or XLSX.
    Export {
        #[arg(long, default_value = "latest")]
        version: String,
        #[arg(long)]
        units: Option<String>,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long, default_value = "vi")]
        lang: String,
        /// File to write (default: standard output for CSV; required for XLSX).
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
}

/// A client of the console's operator API.
#[derive(Clone)]
pub struct OpsClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl OpsClient {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http: reqwest::Client::new(),
        }
    }

    /// From `HUB_CONSOLE_URL` and `HUB_TOKEN`.
    pub fn from_env() -> Self {
        let base =
            std::env::var("HUB_CONSOLE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
        let token = std::env::var("HUB_TOKEN").ok().filter(|t| !t.is_empty());
        Self::new(&base, token)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<reqwest::Response> {
        let resp = req
            .send()
            .await
            .with_context(|| format!("the console at {} did not answer", self.base))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        let msg = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(body);
        match status.as_u16() {
            401 => bail!("not authenticated ({msg}): run `hub login` and set HUB_TOKEN"),
            403 => bail!("forbidden: {msg}"),
            _ => bail!("{status}: {msg}"),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let resp = self
            .send(self.request(reqwest::Method::GET, path).query(query))
            .await?;
        Ok(resp.json().await?)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let resp = self
            .send(self.request(reqwest::Method::POST, path).json(body))
            .await?;
        let text = resp.text().await?;
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

/// Runs a command against `HUB_CONSOLE_URL` with `HUB_TOKEN`, printing to standard output.
pub async fn run_ops(cmd: OpsCommand) -> anyhow::Result<()> {
    let client = OpsClient::from_env();
    let mut out = std::io::stdout();
    let password = match &cmd {
        OpsCommand::Login { .. } | OpsCommand::HashPassword => Some(read_password()?),
        _ => None,
    };
    execute(&client, cmd, password.as_deref(), &mut out).await
}

fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var("HUB_PASSWORD") {
        return Ok(p);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let p = line.trim_end_matches(['\r', '\n']).to_owned();
    if p.is_empty() {
        bail!("no password: set HUB_PASSWORD or write it on standard input");
    }
    Ok(p)
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(m)) if m.contains_key("system") && m.contains_key("id") => {
            format!("{}:{}", s(&v[k], "system"), s(&v[k], "id"))
        }
        Some(other) => other.to_string(),
    }
}

fn array<'a>(v: &'a Value, keys: &[&str]) -> Vec<&'a Value> {
    if let Value::Array(a) = v {
        return a.iter().collect();
    }
    keys.iter()
        .find_map(|k| v.get(*k).and_then(Value::as_array))
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

/// Runs `cmd` with `client`, writing what a person reads to `out`. `password` is the one
/// `login` and `hash-password` use.
pub async fn execute(
    client: &OpsClient,
    cmd: OpsCommand,
    password: Option<&str>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    match cmd {
        OpsCommand::HashPassword => {
            let p = password.ok_or_else(|| anyhow!("no password"))?;
            writeln!(out, "{}", crate::auth::hash_password(p)?)?;
        }
        OpsCommand::Login { user } => {
            let p = password.ok_or_else(|| anyhow!("no password"))?;
            login(client, &user, p, out).await?
        }
        OpsCommand::Status => status(client, out).await?,
        OpsCommand::Sources {
            action: SourcesAction::Check,
        } => sources_check(client, out).await?,
        OpsCommand::Sync {
            source,
            no_wait,
            timeout,
        } => {
            let before = source_state(client, &source).await?;
            let requested_at = chrono::Utc::now().timestamp();
            let v = client
                .post(
                    &format!("/api/v1/sources/{}/sync", crate::actions::encode(&source)),
                    &json!({}),
                )
                .await?;
            writeln!(out, "sync of {source} requested: {v}")?;
            if !no_wait {
                follow_sync(client, &source, before, requested_at, timeout, out).await?;
            }
        }
        OpsCommand::Review { action } => match action {
            ReviewAction::List => review_list(client, out).await?,
            ReviewAction::Link { id, reason } => {
                review_decide(client, "link", &id, &reason, out).await?
            }
            ReviewAction::Separate { id, reason } => {
                review_decide(client, "separate", &id, &reason, out).await?
            }
        },
        OpsCommand::Log(args) => log(client, args, out).await?,
        OpsCommand::Dlq { action } => dlq(client, action, out).await?,
        OpsCommand::Snapshot { action } => snapshot(client, action, out).await?,
        OpsCommand::Audit(args) => audit(client, args, out).await?,
    }
    Ok(())
}

/// `hub login`: a token for `user`, as a line to `eval`.
async fn login(
    client: &OpsClient,
    user: &str,
    password: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let v = client
        .post(
            "/api/v1/auth/token",
            &json!({ "username": user, "password": password }),
        )
        .await?;
    writeln!(out, "export HUB_TOKEN={}", s(&v, "token"))?;
    writeln!(
        out,
        "# {} ({}), valid until {}",
        s(&v, "user"),
        s(&v, "role"),
        s(&v, "expires_at")
    )?;
    Ok(())
}

/// `hub status`: the sources, the services and the queues.
async fn status(client: &OpsClient, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let v = client.get("/api/v1/status", &[]).await?;
    writeln!(out, "SOURCES")?;
    for src in array(&v, &["sources"]) {
        write_source(out, src)?;
    }
    writeln!(out, "SERVICES")?;
    for svc in array(&v, &["services"]) {
        writeln!(
            out,
            "  {}\t{}\t{}",
            s(svc, "name"),
            if svc["ready"] == Value::Bool(true) {
                "ready"
            } else {
                "NOT READY"
            },
            s(svc, "problem")
        )?;
    }
    writeln!(out, "QUEUES (depth, dead letters)")?;
    for q in array(&v, &["queues"]) {
        writeln!(
            out,
            "  {}\t{}\t{}\t{}",
            s(q, "queue"),
            s(q, "depth"),
            s(q, "dead_letters"),
            s(q, "problem")
        )?;
    }
    Ok(())
}

/// `hub sources check`: every adapter's state; an error naming those not ready.
async fn sources_check(client: &OpsClient, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let v = client.get("/api/v1/sources", &[]).await?;
    let sources = array(&v, &["sources"]);
    if sources.is_empty() {
        writeln!(out, "no adapter configured (ADAPTER_URLS of the console)")?;
    }
    let mut bad = Vec::new();
    for src in sources {
        write_source(out, src)?;
        if src["ready"] != Value::Bool(true) {
            bad.push(s(src, "system"));
        }
    }
    if !bad.is_empty() {
        bail!("not ready: {}", bad.join(", "));
    }
    Ok(())
}

/// `hub review list`: the items waiting for review.
async fn review_list(client: &OpsClient, out: &mut (dyn Write + Send)) -> anyhow::Result<()> {
    let v = client.get("/api/v1/review", &[]).await?;
    let list = array(&v, &["items", "review", "reviews", "data"]);
    writeln!(out, "{} item(s) waiting for review", list.len())?;
    for i in list {
        let id = ["id", "review_id", "item_id"]
            .iter()
            .map(|k| s(i, k))
            .find(|x| x != "-")
            .unwrap_or_else(|| "-".into());
        writeln!(out, "{id}\tscore {}\t{}", s(i, "score"), summary(i))?;
    }
    Ok(())
}

fn summary(item: &Value) -> String {
    if item.get("observation_name").is_some() {
        return format!(
            "{} [{}]  <->  {} [{}]",
            s(item, "observation_name"),
            s(item, "observation"),
            s(item, "candidate_name"),
            s(item, "candidate")
        );
    }
    let side = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| item.get(*k).filter(|v| v.is_object()))
            .map(|v| {
                let name = s(v, "name");
                let reference = ["source", "source_ref", "organisation_id", "id"]
                    .iter()
                    .map(|k| s(v, k))
                    .find(|x| x != "-")
                    .unwrap_or_default();
                format!("{name} [{reference}]")
            })
    };
    match (
        side(&["observation", "source_record", "left", "record", "source"]),
        side(&[
            "candidate",
            "candidate_record",
            "right",
            "organisation",
            "golden_record",
        ]),
    ) {
        (Some(l), Some(r)) => format!("{l}  <->  {r}"),
        _ => item.to_string().chars().take(160).collect(),
    }
}

/// What `GET /api/v1/sources` says of one source: last sync (Unix seconds) and records
/// published so far.
async fn source_state(client: &OpsClient, system: &str) -> anyhow::Result<(Option<i64>, f64)> {
    let v = client.get("/api/v1/sources", &[]).await?;
    let src = array(&v, &["sources"])
        .into_iter()
        .find(|x| x["system"] == system)
        .cloned()
        .unwrap_or(Value::Null);
    let last = src["last_sync"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp());
    Ok((last, src["records_published"].as_f64().unwrap_or(0.0)))
}

/// Follows a requested sync until the adapter reports a sync that ended at or after the
/// request, drawing a progress bar on stderr (records published since the request, elapsed
/// time); a line on `out` when it is done.
async fn follow_sync(
    client: &OpsClient,
    system: &str,
    before: (Option<i64>, f64),
    requested_at: i64,
    timeout: u64,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {prefix}: {pos} records published [{elapsed}] {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_prefix(format!("sync {system}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
    loop {
        let (last, published) = source_state(client, system).await?;
        bar.set_position((published - before.1).max(0.0) as u64);
        if last.is_some_and(|t| t >= requested_at && Some(t) >= before.0) {
            bar.finish_with_message("done");
            writeln!(
                out,
                "sync of {system} done: {} records published",
                (published - before.1).max(0.0)
            )?;
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            bar.abandon_with_message("gave up");
            bail!("sync of {system} not finished after {timeout} s (see `hub sources check`)");
        }
        bar.set_message("waiting for the adapter");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

fn write_source(out: &mut (dyn Write + Send), src: &Value) -> anyhow::Result<()> {
    writeln!(
        out,
        "  {}	{}	last sync {}	lag {} s	errors {}	{}",
        s(src, "system"),
        if src["ready"] == Value::Bool(true) {
            "ready"
        } else {
            "NOT READY"
        },
        s(src, "last_sync"),
        s(src, "lag_seconds"),
        s(src, "errors"),
        s(src, "problem"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser, Subcommand};

    use super::*;

    /// The `hub` binary's shape: its own commands beside the flattened operator commands.
    #[derive(Debug, Parser)]
    struct Hub {
        #[command(subcommand)]
        command: Top,
    }

    #[derive(Debug, Subcommand)]
    enum Top {
        /// Stands for the lead's own commands (`sim`, `probe`).
        Probe { url: String },
        #[command(flatten)]
        Ops(OpsCommand),
    }

    #[test]
    fn flattens_into_the_hub_command() {
        Hub::command().debug_assert();
        let parse = |args: &[&str]| {
            Hub::try_parse_from(std::iter::once("hub").chain(args.iter().copied()))
                .map(|h| h.command)
                .map_err(|e| e.to_string())
        };
        assert!(matches!(
            parse(&["dlq", "replay", "reconciler.source", "m-1"]),
            Ok(Top::Ops(OpsCommand::Dlq {
                action: DlqAction::Replay { .. }
            }))
        ));
        assert!(matches!(
            parse(&["log", "--follow"]),
            Ok(Top::Ops(OpsCommand::Log(LogArgs { follow: true, .. })))
        ));
        assert!(matches!(
            parse(&["review", "link", "r1", "--reason", "same tax code"]),
            Ok(Top::Ops(OpsCommand::Review {
                action: ReviewAction::Link { .. }
            }))
        ));
        assert!(matches!(
            parse(&["probe", "http://x"]),
            Ok(Top::Probe { .. })
        ));
        let e = parse(&["review", "link", "r1"]).expect_err("a reason is required");
        assert!(e.contains("--reason"), "{e}");
        match parse(&[
            "audit",
            "verify",
            "--exchange",
            "--agency",
            "agency-loan-fund",
        ]) {
            Ok(Top::Ops(OpsCommand::Audit(AuditArgs {
                action: Some(action),
                ..
            }))) => {
                let x = action.exchange_from_database().expect("from the database");
                assert_eq!(x.agency.as_deref(), Some("agency-loan-fund"));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["audit", "verify", "--exchange", "--file", "copy.jsonl"]) {
            Ok(Top::Ops(OpsCommand::Audit(AuditArgs {
                action: Some(action),
                ..
            }))) => assert!(action.exchange_from_database().is_none(), "a copy"),
            other => panic!("{other:?}"),
        }
        let e = parse(&["audit", "export", "--agency", "x"]).expect_err("needs --exchange");
        assert!(e.contains("--exchange"), "{e}");
    }
}

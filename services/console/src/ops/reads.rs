//! The commands that read and decide through the console: review decisions, the
//! reconciliation log (and following it), dead letters, snapshots and their exports.

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

use super::{DlqAction, LogArgs, OpsClient, SnapshotAction, array, s};

pub(super) async fn review_decide(
    client: &OpsClient,
    decision: &str,
    id: &str,
    reason: &str,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let v = client
        .post(
            &format!("/api/v1/review/{}/{decision}", crate::actions::encode(id)),
            &json!({ "reason": reason }),
        )
        .await?;
    writeln!(out, "{decision}: review item {id} decided")?;
    if !v.is_null() {
        writeln!(out, "{v}")?;
    }
    Ok(())
}

fn log_line(d: &Value) -> String {
    let d = d.get("decision").unwrap_or(d);
    format!(
        "{}	{}	{}	{}	{}	{}	{}",
        s(d, "at"),
        s(d, "outcome"),
        s(d, "source"),
        s(d, "organisation_id"),
        s(d, "rule"),
        s(d, "operator"),
        if s(d, "reason") != "-" {
            s(d, "reason")
        } else {
            s(d, "note")
        },
    )
}

pub(super) async fn log(
    client: &OpsClient,
    args: LogArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let query: Vec<(&str, String)> = [
        ("organisation", &args.organisation),
        ("system", &args.system),
        ("source_id", &args.source_id),
        ("since", &args.since),
        ("until", &args.until),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k, v)))
    .collect();
    if !args.follow {
        let v = client.get("/api/v1/log", &query).await?;
        for e in array(&v, &["entries", "items", "log", "decisions"]) {
            writeln!(out, "{}", log_line(e))?;
        }
        return Ok(());
    }
    let mut resp = client
        .send(
            client
                .request(reqwest::Method::GET, "/api/v1/log/stream")
                .query(&query)
                .header(reqwest::header::ACCEPT, "text/event-stream"),
        )
        .await?;
    // the stream is open: from here on no decision is missed
    writeln!(out, "# following the reconciliation log (Ctrl-C to stop)")?;
    out.flush()?;
    let mut buffer = String::new();
    let mut seen = 0usize;
    while let Some(chunk) = resp.chunk().await? {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        // events end with a blank line
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            if data.is_empty() {
                continue;
            }
            let data = data.join("\n");
            match serde_json::from_str::<Value>(&data) {
                Ok(v) => writeln!(out, "{}", log_line(&v))?,
                Err(_) => writeln!(out, "{data}")?,
            }
            out.flush()?;
            seen += 1;
            if args.max_events.is_some_and(|m| seen >= m) {
                return Ok(());
            }
        }
    }
    Ok(())
}

pub(super) async fn dlq(
    client: &OpsClient,
    action: DlqAction,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let enc = crate::actions::encode;
    match action {
        DlqAction::List { queue: None, .. } => {
            let v = client.get("/api/v1/dlq", &[]).await?;
            for q in array(&v, &["queues"]) {
                writeln!(
                    out,
                    "{}	depth {}	dead letters {}	{}",
                    s(q, "queue"),
                    s(q, "depth"),
                    s(q, "dead_letters"),
                    s(q, "problem")
                )?;
            }
        }
        DlqAction::List {
            queue: Some(queue),
            limit,
        } => {
            let v = client
                .get(
                    &format!("/api/v1/dlq/{}", enc(&queue)),
                    &[("limit", limit.to_string())],
                )
                .await?;
            let letters = array(&v, &["dead_letters"]);
            writeln!(out, "{} dead letter(s) in {queue}", letters.len())?;
            for l in letters {
                writeln!(
                    out,
                    "{}	{}	{}	{}",
                    s(l, "message_id"),
                    s(l, "contract_type"),
                    s(l, "kind"),
                    s(l, "reason")
                )?;
            }
        }
        DlqAction::Show { queue, message_id } => {
            let v = client
                .get(
                    &format!("/api/v1/dlq/{}/{}", enc(&queue), enc(&message_id)),
                    &[],
                )
                .await?;
            writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        }
        DlqAction::Replay { queue, message_id } => {
            let v = client
                .post(
                    &format!("/api/v1/dlq/{}/{}/replay", enc(&queue), enc(&message_id)),
                    &json!({}),
                )
                .await?;
            writeln!(
                out,
                "replayed {message_id} to {} ({})",
                s(&v["dead_letter"], "queue"),
                s(&v["dead_letter"], "kind")
            )?;
        }
        DlqAction::Discard { queue, message_id } => {
            let v = client
                .post(
                    &format!("/api/v1/dlq/{}/{}/discard", enc(&queue), enc(&message_id)),
                    &json!({}),
                )
                .await?;
            writeln!(
                out,
                "discarded {message_id} from {} ({})",
                s(&v["dead_letter"], "queue"),
                s(&v["dead_letter"], "kind")
            )?;
        }
    }
    Ok(())
}

pub(super) async fn snapshot(
    client: &OpsClient,
    action: SnapshotAction,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let enc = crate::actions::encode;
    match action {
        SnapshotAction::Show {
            version,
            units,
            unit,
        } => {
            let mut q = Vec::new();
            if let Some(u) = units {
                q.push(("units", u));
            }
            let v = client
                .get(&format!("/api/v1/snapshots/{}", enc(&version)), &q)
                .await?;
            let code = unit.unwrap_or_else(|| s(&v, "province_code"));
            let u = array(&v, &["units"])
                .into_iter()
                .find(|u| s(u, "unit_code") == code)
                .ok_or_else(|| anyhow!("no unit {code} in this snapshot"))?;
            writeln!(
                out,
                "{} v{} as of {} (unit list {}) - {} {}",
                s(&v, "plan_id"),
                s(&v, "version"),
                s(&v, "as_of"),
                s(&v, "unit_list"),
                code,
                s(u, "unit_name")
            )?;
            writeln!(out, "indicator	value	status	2025 target	2030 target")?;
            for iv in array(u, &["values"]) {
                let target = |k: &str| {
                    iv.get(k)
                        .filter(|t| !t.is_null())
                        .map(|t| {
                            format!(
                                "{} {} ({})",
                                s(&t["target"], "comparison"),
                                s(&t["target"], "value"),
                                s(t, "status")
                            )
                        })
                        .unwrap_or_else(|| "-".into())
                };
                writeln!(
                    out,
                    "{}	{}	{}	{}	{}",
                    s(iv, "indicator"),
                    s(iv, "value"),
                    s(iv, "status"),
                    target("target_2025"),
                    target("target_2030")
                )?;
            }
        }
        SnapshotAction::Export {
            version,
            units,
            format,
            lang,
            output,
        } => {
            let mut q = vec![("format", format.clone()), ("lang", lang)];
            if let Some(u) = units {
                q.push(("units", u));
            }
            let resp = client
                .send(
                    client
                        .request(
                            reqwest::Method::GET,
                            &format!("/api/v1/snapshots/{}/export", enc(&version)),
                        )
                        .query(&q),
                )
                .await?;
            let bytes = resp.bytes().await?;
            match output {
                Some(path) => {
                    std::fs::write(&path, &bytes)
                        .with_context(|| format!("writing {}", path.display()))?;
                    writeln!(out, "wrote {} ({} bytes)", path.display(), bytes.len())?;
                }
                None if format == "csv" => out.write_all(&bytes)?,
                None => bail!("--output is required for {format}"),
            }
        }
    }
    Ok(())
}

//! The audit commands: the console's audit log exported and its hash chain verified here, on
//! the operator's machine, and the same check for an agency's exchange log
//! ([`verify_exchange`], used by `hub audit --exchange`).

use std::io::Write;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

use super::{AuditAction, AuditArgs, OpsClient, array, s};

/// Every row of the audit log with its hashes, oldest first, from the console.
async fn audit_rows(client: &OpsClient) -> anyhow::Result<Vec<crate::chain::ChainedRow>> {
    let mut rows = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut q = vec![("limit", "5000".to_owned())];
        if let Some(a) = after {
            q.push(("after", a.to_string()));
        }
        let v = client.get("/api/v1/audit/export", &q).await?;
        let page: Vec<crate::chain::ChainedRow> =
            serde_json::from_value(v.get("rows").cloned().unwrap_or(Value::Null))
                .context("the console's audit export is not a list of rows")?;
        rows.extend(page);
        match v.get("next_after").and_then(Value::as_i64) {
            Some(a) => after = Some(a),
            None => break,
        }
    }
    Ok(rows)
}

pub(super) async fn audit(
    client: &OpsClient,
    args: AuditArgs,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    match args.action {
        None => {
            let v = client
                .get("/api/v1/audit", &[("limit", args.limit.to_string())])
                .await?;
            for e in array(&v, &["entries"]) {
                writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    s(e, "at"),
                    s(e, "actor"),
                    s(e, "action"),
                    s(e, "target"),
                    s(e, "outcome"),
                    e.get("detail").map(Value::to_string).unwrap_or_default()
                )?;
            }
        }
        Some(AuditAction::Export { exchange, .. }) if exchange.exchange => {
            bail!(
                "the exchange log is read from hub-inbound's API: run `hub audit export \
                 --exchange` (with INBOUND_URL and SERVICE_TOKEN)"
            )
        }
        Some(AuditAction::Export { output, .. }) => {
            let rows = audit_rows(client).await?;
            write_rows(&rows, output.as_deref(), out)?;
        }
        Some(AuditAction::Verify {
            file,
            expect_head,
            exchange,
        }) => {
            let rows = match &file {
                Some(path) => read_rows(path)?,
                None if exchange.exchange => bail!(
                    "the exchange log is read from hub-inbound's API: run `hub audit verify \
                     --exchange` (with INBOUND_URL and SERVICE_TOKEN), or verify a copy \
                     with --file"
                ),
                None => audit_rows(client).await?,
            };
            if exchange.exchange {
                return verify_exchange(
                    rows,
                    exchange.agency.as_deref(),
                    expect_head.as_deref(),
                    out,
                );
            }
            let head = parse_head(expect_head.as_deref())?;
            let verdict = crate::chain::verify(&rows, head.as_ref().map(|(i, h)| (*i, h.as_str())));
            if let Some(p) = verdict.problem {
                bail!("audit log chain broken at {p}");
            }
            writeln!(
                out,
                "audit log chain holds: {} rows chained{}; head {}",
                verdict.rows,
                if verdict.unchained > 0 {
                    format!(
                        ", {} earlier rows before the chain began",
                        verdict.unchained
                    )
                } else {
                    String::new()
                },
                verdict
                    .head
                    .map(|(id, h)| format!("{id}:{h}"))
                    .unwrap_or_else(|| "(empty)".into())
            )?;
        }
    }
    Ok(())
}

/// Writes exported rows as JSON lines, to `output` or to `out`.
pub fn write_rows(
    rows: &[crate::chain::ChainedRow],
    output: Option<&std::path::Path>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let mut text = String::new();
    for r in rows {
        text.push_str(&serde_json::to_string(r)?);
        text.push('\n');
    }
    match output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            writeln!(out, "{} rows written to {}", rows.len(), path.display())?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(())
}

/// Reads a copy written by `hub audit export` (JSON lines).
fn read_rows(path: &std::path::Path) -> anyhow::Result<Vec<crate::chain::ChainedRow>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not an exported row", path.display(), i + 1))
        })
        .collect()
}

/// `--expect-head id:hash`.
fn parse_head(h: Option<&str>) -> anyhow::Result<Option<(i64, String)>> {
    h.map(|h| {
        let (id, hash) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("--expect-head: expected id:hash, got {h:?}"))?;
        let id: i64 = id
            .parse()
            .map_err(|_| anyhow!("--expect-head: {id:?} is not a row id"))?;
        Ok((id, hash.to_owned()))
    })
    .transpose()
}

/// Checks the exchange log's rows (from hub-inbound or a copy): each agency's chain on its
/// own (only `agency`'s when given), naming the first bad row; prints each chain's head.
pub fn verify_exchange(
    rows: Vec<crate::chain::ChainedRow>,
    agency: Option<&str>,
    expect_head: Option<&str>,
    out: &mut (dyn Write + Send),
) -> anyhow::Result<()> {
    let head = parse_head(expect_head)?;
    if head.is_some() && agency.is_none() {
        bail!("--expect-head names one agency's chain: give --agency too");
    }
    let mut by_agency: std::collections::BTreeMap<String, Vec<crate::chain::ChainedRow>> =
        Default::default();
    for row in rows {
        let a = row
            .content
            .get(1)
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("row {}: not an exchange-log row (no agency)", row.id))?
            .to_owned();
        if agency.is_none_or(|want| want == a) {
            by_agency.entry(a).or_default().push(row);
        }
    }
    if let Some(a) = agency
        && !by_agency.contains_key(a)
        && head.is_none()
    {
        writeln!(out, "exchange log of {a}: no rows")?;
        return Ok(());
    }
    if let Some(a) = agency {
        by_agency.entry(a.to_owned()).or_default();
    }
    for (a, rows) in &by_agency {
        let verdict = crate::chain::verify(rows, head.as_ref().map(|(i, h)| (*i, h.as_str())));
        if let Some(p) = verdict.problem {
            bail!("exchange log of {a}: chain broken at {p}");
        }
        writeln!(
            out,
            "exchange log of {a}: chain holds: {} rows chained; head {}",
            verdict.rows,
            verdict
                .head
                .map(|(id, h)| format!("{id}:{h}"))
                .unwrap_or_else(|| "(empty)".into())
        )?;
    }
    if by_agency.is_empty() {
        writeln!(out, "exchange log: no rows")?;
    }
    Ok(())
}

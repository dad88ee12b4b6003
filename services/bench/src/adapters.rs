//! The adapters alone: every registered pull source's adapter syncing a simulated world
//! into the broker, with no service consuming what they publish, so that nothing else the
//! hub runs competes with them for the machine.
//!
//! The source records go to the queues the pipeline binds to them (the reconciler's and the
//! indicators' quorum queues, declared here and left unconsumed: the broker stores each
//! record as it does for the whole hub); this benchmark counts them through a classic,
//! exclusive, no-ack tap of its own. The figure is source records per second from the
//! adapters' start to the last record seen on `coophub.source`.
//!
//! Owns this measurement only; the adapters run exactly as `hub adapter <system>` would.

use std::time::{Duration, Instant};

use hub::pipeline::{Sources, running_sources};
use hub_contracts::registry::exchanges;
use hub_runtime::CommonConfig;
use hub_runtime::shutdown::CancellationToken;

use crate::BenchError;
use crate::pipeline::BenchWorld;

/// The adapters' throughput on one world.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AdapterThroughput {
    pub source_records: usize,
    /// From the adapters' start to the last source record seen on the exchange.
    pub seconds: f64,
    pub records_per_second: f64,
    /// Mean size of the source-record messages (whole envelope, bytes).
    pub mean_message_bytes: usize,
}

/// Syncs a world of `organisations` and `loans` (the pipeline benchmark's world) through the
/// adapters alone and times it.
pub async fn throughput(
    common: &CommonConfig,
    organisations: usize,
    loans: usize,
) -> Result<AdapterThroughput, BenchError> {
    let stop = CancellationToken::new();
    let BenchWorld {
        sims,
        years,
        source_records,
        broker,
        ..
    } = BenchWorld::start(common, organisations, loans).await?;
    // the queues the pipeline binds to source records, as the pipeline declares them
    let ch = broker.channel().await?;
    let retry = common.retry_policy();
    for spec in hub::pipeline::source_record_queues(common) {
        common.topology().declare_queue(&ch, &spec, &retry).await?;
    }
    let mut tap = crate::pipeline::tap(&broker, common, exchanges::SOURCE, &stop).await?;

    let sources = Sources::of(&sims, years);
    let token = hub_runtime::service_auth::generate_token();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for source in running_sources(&sources) {
        let mut variables = sources.variables.clone();
        variables.insert(format!("{}_POLL_SECS", source.env_name()), "3600".into());
        variables.insert("SERVICE_TOKENS".to_owned(), token.clone());
        let common = CommonConfig {
            http_addr: None,
            ..common.clone()
        };
        tasks.push(tokio::spawn((source.run_with)(
            common,
            variables,
            stop.clone(),
        )));
    }
    let mut seen = 0usize;
    let mut bytes = 0usize;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    let measured = loop {
        if seen >= source_records {
            break Ok(start.elapsed().as_secs_f64());
        }
        tokio::select! {
            m = tap.recv() => match m {
                Some(m) => {
                    seen += 1;
                    bytes += m.bytes;
                }
                None => break Err(BenchError::Incomplete(seen as u64)),
            },
            _ = tokio::time::sleep_until(deadline) => break Err(BenchError::Incomplete(seen as u64)),
        }
    };
    stop.cancel();
    for t in tasks {
        let _ = t.await;
    }
    sims.shutdown().await;
    broker.close().await;
    let seconds = measured?;
    Ok(AdapterThroughput {
        source_records,
        seconds,
        records_per_second: source_records as f64 / seconds,
        mean_message_bytes: bytes / seen.max(1),
    })
}

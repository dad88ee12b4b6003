//! Raw RabbitMQ throughput: a producer publishes `count` persistent messages of `size` bytes
//! with publisher confirms (pipelined in windows, as the hub's publisher does) to a quorum
//! queue, while a consumer with manual acks and bounded prefetch consumes them. The figure is
//! messages per second from first publish to last ack. No hub code in the path: lapin only.

use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};

/// What went wrong measuring.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("a confirm was a nack")]
    Nacked,
    #[error("stopped after {0} messages")]
    Incomplete(u64),
    #[error(transparent)]
    Messaging(#[from] hub_runtime::messaging::MessagingError),
    #[error("simulators: {0}")]
    Simulators(#[from] hub_simulators::SimError),
    #[error(transparent)]
    Pipeline(#[from] hub::pipeline::PipelineError),
    #[error("a reconciler shard did not start: {0}")]
    Shard(String),
}

/// Result of one raw run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawResult {
    /// Messages published.
    pub messages: u64,
    pub size_bytes: usize,
    /// Queues each message was routed to (and consumed from).
    pub queues: usize,
    pub seconds: f64,
    /// Messages published per second (each delivered `queues` times).
    pub per_second: f64,
}

/// Publishes and consumes `count` messages of `size` bytes through a fresh quorum queue.
pub async fn raw_throughput(
    amqp_url: &str,
    count: u64,
    size: usize,
    window: usize,
    prefetch: u16,
) -> Result<RawResult, BenchError> {
    raw_fanout(amqp_url, count, size, window, prefetch, 1).await
}

/// Like [`raw_throughput`], each message routed (by a fanout exchange) to `queues` fresh
/// quorum queues, each consumed by its own consumer: the broker's figure for a fan-out like
/// the hub's.
pub async fn raw_fanout(
    amqp_url: &str,
    count: u64,
    size: usize,
    window: usize,
    prefetch: u16,
    queues: usize,
) -> Result<RawResult, BenchError> {
    let queues = queues.max(1);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let names: Vec<String> = (0..queues).map(|i| format!("bench.raw.{id}.{i}")).collect();
    let exchange = if queues == 1 {
        String::new()
    } else {
        format!("bench.raw.{id}")
    };
    // of a cluster's nodes (AMQP_URL listing several), the first
    let url = hub_runtime::messaging::broker::split_urls(amqp_url)
        .into_iter()
        .next()
        .unwrap_or_default();
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let pub_ch = conn.create_channel().await?;
    declare(&pub_ch, &exchange, &names).await?;
    pub_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let consumers = consumers(&conn, &names, prefetch).await?;
    let payload = vec![b'x'; size];
    let start = Instant::now();
    let consume: Vec<_> = consumers
        .into_iter()
        .map(|consumer| tokio::spawn(consume_count(consumer, count)))
        .collect();
    let target = Target {
        exchange: &exchange,
        routing_key: if exchange.is_empty() { &names[0] } else { "" },
    };
    publish_all(&pub_ch, &target, &payload, count, window).await?;
    let mut got = u64::MAX;
    for c in consume {
        got = got.min(c.await.map_err(|_| BenchError::Incomplete(0))??);
    }
    let seconds = start.elapsed().as_secs_f64();
    for q in &names {
        let _ = pub_ch
            .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "bench done".into()).await;
    Ok(RawResult {
        messages: got,
        size_bytes: size,
        queues,
        seconds,
        per_second: got as f64 / seconds,
    })
}

/// Declares the quorum queues `names` and, when `exchange` is not the default one, the
/// fanout exchange (auto-deleted) they are bound to.
async fn declare(ch: &lapin::Channel, exchange: &str, names: &[String]) -> Result<(), BenchError> {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    if !exchange.is_empty() {
        ch.exchange_declare(
            exchange.into(),
            lapin::ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await?;
    }
    for q in names {
        ch.queue_declare(
            q.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args.clone(),
        )
        .await?;
        if !exchange.is_empty() {
            ch.queue_bind(
                q.as_str().into(),
                exchange.into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        }
    }
    Ok(())
}

/// One consumer per queue, each on its own channel with `prefetch`.
async fn consumers(
    conn: &Connection,
    names: &[String],
    prefetch: u16,
) -> Result<Vec<lapin::Consumer>, BenchError> {
    let mut consumers = Vec::with_capacity(names.len());
    for q in names {
        let sub_ch = conn.create_channel().await?;
        sub_ch
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        consumers.push(
            sub_ch
                .basic_consume(
                    q.as_str().into(),
                    "bench".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?,
        );
    }
    Ok(consumers)
}

/// Acks `count` deliveries; an error when none comes for a minute.
async fn consume_count(mut consumer: lapin::Consumer, count: u64) -> Result<u64, BenchError> {
    let mut got = 0u64;
    while got < count {
        match tokio::time::timeout(Duration::from_secs(60), consumer.next()).await {
            Ok(Some(Ok(d))) => {
                d.ack(BasicAckOptions::default()).await?;
                got += 1;
            }
            _ => return Err(BenchError::Incomplete(got)),
        }
    }
    Ok(got)
}

/// Where the messages are published.
struct Target<'a> {
    exchange: &'a str,
    routing_key: &'a str,
}

/// Publishes `count` persistent, mandatory messages, `window` at a time, each window's
/// confirms awaited before the next.
async fn publish_all(
    ch: &lapin::Channel,
    to: &Target<'_>,
    payload: &[u8],
    count: u64,
    window: usize,
) -> Result<(), BenchError> {
    let mut sent = 0u64;
    while sent < count {
        let n = (count - sent).min(window as u64);
        let mut confirms = Vec::with_capacity(n as usize);
        for _ in 0..n {
            confirms.push(
                ch.basic_publish(
                    to.exchange.into(),
                    to.routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    payload,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?,
            );
        }
        for c in confirms {
            if c.await?.is_nack() {
                return Err(BenchError::Nacked);
            }
        }
        sent += n;
    }
    Ok(())
}

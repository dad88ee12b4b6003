//! Raw RabbitMQ throughput: a producer publishes `count` persistent messages of `size` bytes
//! with publisher confirms (pipelined in windows, as the hub's publisher does) to a quorum
//! queue, while a consumer with manual acks and bounded prefetch consumes them. The figure is
//! messages per second from first publish to last ack. No hub code in the path: lapin only.

use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
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
}

/// Result of one raw run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RawResult {
    pub messages: u64,
    pub size_bytes: usize,
    pub seconds: f64,
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
    let queue = format!("bench.raw.{}", uuid::Uuid::new_v4().simple());
    let conn = Connection::connect(amqp_url, ConnectionProperties::default()).await?;
    let pub_ch = conn.create_channel().await?;
    let sub_ch = conn.create_channel().await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    pub_ch
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
    pub_ch
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    sub_ch
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = sub_ch
        .basic_consume(
            queue.as_str().into(),
            "bench".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let payload = vec![b'x'; size];
    let start = Instant::now();
    let consume = tokio::spawn(async move {
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
        Ok::<u64, BenchError>(got)
    });
    let mut sent = 0u64;
    while sent < count {
        let n = (count - sent).min(window as u64);
        let mut confirms = Vec::with_capacity(n as usize);
        for _ in 0..n {
            confirms.push(
                pub_ch
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions {
                            mandatory: true,
                            ..Default::default()
                        },
                        &payload,
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
    let got = consume.await.map_err(|_| BenchError::Incomplete(0))??;
    let seconds = start.elapsed().as_secs_f64();
    let _ = pub_ch
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bench done".into()).await;
    Ok(RawResult {
        messages: got,
        size_bytes: size,
        seconds,
        per_second: got as f64 / seconds,
    })
}

//! A bounded queue refuses, never drops: with `x-max-length` and `x-overflow: reject-publish`
//! (what `inbound.source` is declared with), a publish beyond the bound (a quorum queue lets at
//! most one past it) is nacked to its publisher and the messages already queued stay; once the queue drains, publishing works
//! again. On the real broker.

use std::time::Duration;

use hub_contracts::registry::exchanges;
use hub_runtime::messaging::{MessagingError, OutgoingMessage, Publisher, QueueSpec};
use hub_test_support::{TestEnv, eventually};
use lapin::options::BasicGetOptions;

fn message(i: u32) -> OutgoingMessage {
    OutgoingMessage {
        exchange: exchanges::INBOUND.into(),
        routing_key: "source.cooperative.v1".into(),
        message_id: format!("m{i}"),
        contract_type: "source.cooperative.v1".into(),
        body: format!("{{\"n\": {i}}}").into_bytes(),
        headers: Default::default(),
    }
}

#[tokio::test]
async fn a_full_queue_refuses_publishes_and_keeps_what_it_holds() {
    let env = TestEnv::new().await;
    let spec = QueueSpec::new("bounded.inbound")
        .bind(exchanges::INBOUND, "source.#")
        .max_length(3, 1024 * 1024);
    let broker = env.broker("bounds-test");
    let ch = broker.channel().await.expect("broker reachable");
    env.topology()
        .declare_queue(&ch, &spec, &env.retry_policy())
        .await
        .expect("declare");
    let publisher = Publisher::new(broker.clone());
    for i in 0..3 {
        publisher.publish(&message(i)).await.expect("room left");
    }
    // a quorum queue enforces the bound once it is reached, so the publish that crosses it
    // may still be taken: one past it at most
    let mut refused = None;
    for i in 3..6 {
        if let Err(e) = publisher.publish(&message(i)).await {
            refused = Some((i, e));
            break;
        }
    }
    let (at, e) = refused.expect("a publish beyond the bound is refused");
    assert!(at <= 4, "refused only at message {at}");
    assert!(matches!(e, MessagingError::Nacked { .. }), "{e}");

    // what was queued is still there; taking one makes room again
    let queue = env.topology().name(&spec.name);
    let first = ch
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("get")
        .expect("a message");
    assert_eq!(first.delivery.data, b"{\"n\": 0}");
    eventually("room in the queue", Duration::from_secs(10), || {
        let publisher = &publisher;
        async move { publisher.publish(&message(9)).await.ok() }
    })
    .await;

    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    env.delete_queues(&[spec]).await;
    env.drop_database().await;
}

//! Pushed source records on the real broker: a valid one reaches `coophub.source` unchanged;
//! invalid ones land in the registry's queue's dead letters (`inbound.source.<user>.dlq`) with
//! the reason.
//!
//! The test publishes as the service's own user (`guest` here), as the hub's own copies of a
//! push are, naming the registry's agency user as the original publisher ([`H_ORIGIN_USER`]);
//! `tests/identity.rs` pushes as real agency users.

use std::time::Duration;

use hub_contracts::registry::exchanges;
use hub_contracts::v1::{OrgKind, RegistryCooperative, SourceMeta, SourceRef};
use hub_contracts::{Contract, Envelope, RawEnvelope, content_hash};
use hub_inbound::{Config, agency_queue, run};
use hub_runtime::messaging::consumer::H_ORIGIN_USER;
use hub_runtime::messaging::dlq::DeadLetters;
use hub_runtime::messaging::{Broker, OutgoingMessage, Publisher, QueueSpec};
use hub_test_support::{TestEnv, eventually};
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn record(id: &str) -> Envelope<RegistryCooperative> {
    let raw = json!({"id": id, "kind": "HTX", "name": "Hợp tác xã Bản Hon", "version": 1});
    let data = RegistryCooperative {
        meta: SourceMeta {
            source: SourceRef::new("coop-alliance", id),
            fetched_at: chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00")
                .expect("time"),
            content_hash: content_hash(&raw),
            raw,
            issues: vec![],
        },
        registration_code: Some("6200123456".into()),
        kind: OrgKind::Htx,
        name: "Hợp tác xã Bản Hon".into(),
        commune_code: Some("03421".into()),
        district_code: Some("106".into()),
        address: None,
        representative: None,
        established_on: None,
        status: None,
        member_households: Some(12),
        farmers_union_supported: Some(true),
        origin: None,
        rating: None,
        enterprise_linkage: None,
        key_officers: None,
        updated_at: chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00")
            .expect("time"),
        version: 1,
    };
    Envelope::new(
        Envelope::<Value>::deterministic_id(&["push", id]),
        "urn:agency:coop-alliance",
        data,
    )
}

fn pushed(id: &str, body: Vec<u8>) -> OutgoingMessage {
    OutgoingMessage {
        exchange: exchanges::INBOUND.into(),
        routing_key: RegistryCooperative::TYPE.into(),
        message_id: id.into(),
        contract_type: RegistryCooperative::TYPE.into(),
        body,
        headers: [(H_ORIGIN_USER.to_owned(), REGISTRY_USER.to_owned())].into(),
    }
}

/// The registry's agency user in the committed entitlements.
const REGISTRY_USER: &str = "agency-coop-alliance";

/// Waits until the service declared its queue (pushing before would be unroutable).
async fn wait_for_queue(env: &TestEnv, broker: &Broker) {
    let name = env.topology().name(&agency_queue(REGISTRY_USER));
    eventually(
        "the inbound service consuming",
        Duration::from_secs(30),
        || {
            let (broker, name) = (broker.clone(), name.clone());
            async move {
                let ch = broker.channel().await.ok()?;
                let passive = QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                };
                // consuming means the queue and all its bindings are declared
                let consuming = ch
                    .queue_declare(name.as_str().into(), passive, Default::default())
                    .await
                    .is_ok_and(|q| q.consumer_count() > 0);
                consuming.then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn valid_pushes_reach_the_source_exchange_and_invalid_ones_are_dead_lettered() {
    let env = TestEnv::new().await;
    let broker = env.broker("push-test");
    let ch = broker.channel().await.expect("broker reachable");
    let observer = QueueSpec::new("push.observer").bind(exchanges::SOURCE, "source.#");
    env.topology()
        .declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer queue");
    let stop = CancellationToken::new();
    let service = tokio::spawn(run(
        Config {
            common: env.config.clone(),
            ..Config::default()
        },
        stop.clone(),
    ));
    wait_for_queue(&env, &broker).await;

    let publisher = Publisher::new(broker.clone());
    let good = record("LM-000001");
    let mut missing_name = record("LM-000002").to_json();
    missing_name["data"]
        .as_object_mut()
        .expect("object")
        .remove("name");
    let mut bad_kind = record("LM-000003").to_json();
    bad_kind["data"]["kind"] = json!("XYZ");
    let mut bad_hash = record("LM-000004").to_json();
    bad_hash["data"]["meta"]["raw"]["name"] = json!("changed after hashing");
    publisher
        .publish_batch(&[
            OutgoingMessage::from_envelope(&good)
                .with_header("x-agency", "coop-alliance")
                .with_header(H_ORIGIN_USER, REGISTRY_USER),
            pushed("no-name", serde_json::to_vec(&missing_name).expect("json")),
            pushed("bad-kind", serde_json::to_vec(&bad_kind).expect("json")),
            pushed("bad-hash", serde_json::to_vec(&bad_hash).expect("json")),
            pushed("not-json", b"{\"specversion\": \"1.0\", oops".to_vec()),
        ])
        .await
        .expect("confirmed by the broker");

    let dead = DeadLetters::new(broker.clone(), &agency_queue(REGISTRY_USER));
    eventually("four dead letters", Duration::from_secs(30), || {
        let dead = &dead;
        async move { (dead.count().await.ok()? == 4).then_some(()) }
    })
    .await;
    let letters = dead.list(10).await.expect("list");
    let by_id = |id: &str| {
        letters
            .iter()
            .find(|l| l.message_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id} dead-lettered: {letters:?}"))
    };
    let l = by_id("no-name");
    assert_eq!(l.kind, "rejected");
    assert!(
        l.reason
            .contains("data does not match the schema of source.cooperative.v1")
            && l.reason.contains("\"name\" is a required property"),
        "{}",
        l.reason
    );
    let l = by_id("bad-kind");
    assert!(l.reason.contains("/kind: "), "{}", l.reason);
    let l = by_id("bad-hash");
    assert!(l.reason.contains("/meta/content_hash"), "{}", l.reason);
    assert_eq!(by_id("not-json").kind, "malformed");

    // the good one, and only it, reached coophub.source, unchanged
    let queue = env.topology().name(&observer.name);
    let got = eventually("the forwarded record", Duration::from_secs(30), || {
        let (ch, queue) = (&ch, &queue);
        async move {
            ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
                .await
                .ok()
                .flatten()
        }
    })
    .await;
    let forwarded = RawEnvelope::parse(&got.delivery.data).expect("envelope");
    assert_eq!(forwarded.id, good.id);
    assert_eq!(forwarded.source, "urn:agency:coop-alliance");
    assert_eq!(forwarded.data, good.to_json()["data"]);
    assert_eq!(
        got.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.as_str()),
        Some(good.id.as_str())
    );
    assert!(
        ch.basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
            .is_none(),
        "nothing invalid was forwarded"
    );

    stop.cancel();
    service
        .await
        .expect("joined")
        .expect("the service stops cleanly");
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    env.delete_queues(&[observer, hub_inbound::queue_spec(env.config.delivery_limit)])
        .await;
    env.drop_database().await;
}

//! Who may push what, on the real broker with real RabbitMQ users (made with `rabbitmqctl`
//! for this test and deleted after): the broker validates the AMQP `user_id`, hub-inbound
//! checks it against the entitlements file. A push claiming another agency's system, without
//! a publisher, from a user the hub does not know, or whose envelope `source` (producer)
//! names another system is dead-lettered with that reason and reaches nothing; a push within
//! an agency's rights is forwarded; an oversized push is
//! refused unparsed and the service goes on; an operator's replay keeps the original
//! publisher; and the broker itself refuses a `user_id` that is not the connection's user
//! and, with the topic permission the definitions derive from the entitlements, a routing key
//! (contract type) the agency is not entitled to.

use std::collections::BTreeMap;
use std::time::Duration;

use hub_contracts::registry::exchanges;
use hub_contracts::v1::{OrgKind, RegistryCooperative, SourceMeta, SourceRef};
use hub_contracts::{Contract, Envelope, RawEnvelope, content_hash};
use hub_inbound::{Config, H_PUSHED_BY, agency_queue, run};
use hub_runtime::messaging::consumer::{H_ORIGIN_USER, string_headers};
use hub_runtime::messaging::dlq::DeadLetters;
use hub_runtime::messaging::{Broker, QueueSpec};
use hub_test_support::{TestEnv, eventually};
use lapin::options::{BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

fn rabbitmqctl(args: &[&str]) {
    let out = std::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("rabbitmqctl {args:?}: {e}"));
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A RabbitMQ user made for this test, deleted by [`AgencyUser::delete`].
struct AgencyUser {
    name: String,
    url: String,
}

impl AgencyUser {
    fn create(name: String, base_url: &str) -> Self {
        let password = uuid::Uuid::new_v4().simple().to_string();
        rabbitmqctl(&["add_user", &name, &password]);
        rabbitmqctl(&["set_permissions", "-p", "/", &name, ".*", ".*", ".*"]);
        let host = base_url
            .rsplit_once('@')
            .map(|(_, h)| h)
            .unwrap_or("127.0.0.1:5672/%2f");
        Self {
            url: format!("amqp://{name}:{password}@{host}"),
            name,
        }
    }

    fn delete(&self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["delete_user", &self.name])
            .output();
    }
}

/// Publishes `body` to the test's `coophub.inbound` as `user`, with the AMQP `user_id` given
/// (the broker refuses one that is not the connection's user), and waits for the confirm.
async fn push(
    env: &TestEnv,
    user: &AgencyUser,
    user_id: Option<&str>,
    id: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> Result<(), String> {
    let conn = Connection::connect(&user.url, ConnectionProperties::default())
        .await
        .map_err(|e| e.to_string())?;
    let ch = conn.create_channel().await.map_err(|e| e.to_string())?;
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut table = FieldTable::default();
    for (k, v) in headers {
        table.insert((*k).into(), AMQPValue::LongString((*v).into()));
    }
    let mut props = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(id.into())
        .with_type(RegistryCooperative::TYPE.into())
        .with_headers(table);
    if let Some(u) = user_id {
        props = props.with_user_id(u.into());
    }
    let exchange = env.topology().name(exchanges::INBOUND);
    let result = async {
        let confirm = ch
            .basic_publish(
                exchange.as_str().into(),
                RegistryCooperative::TYPE.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                props,
            )
            .await
            .map_err(|e| e.to_string())?;
        let c = confirm.await.map_err(|e| e.to_string())?;
        if c.is_nack() {
            return Err("nacked".to_owned());
        }
        Ok(())
    }
    .await;
    let _ = conn.close(200, "done".into()).await;
    result
}

fn record(system: &str, id: &str) -> Vec<u8> {
    record_from(system, id, &format!("urn:agency:{system}"))
}

/// A registry record of `system` in an envelope whose `source` (producer) is `producer`.
fn record_from(system: &str, id: &str, producer: &str) -> Vec<u8> {
    let raw = json!({"id": id, "kind": "HTX", "name": "Hợp tác xã Bản Hon", "version": 1});
    let time = chrono::DateTime::parse_from_rfc3339("2025-03-01T08:00:00+07:00").expect("time");
    let data = RegistryCooperative {
        meta: SourceMeta {
            source: SourceRef::new(system, id),
            fetched_at: time,
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
        updated_at: time,
        version: 1,
    };
    Envelope::new(
        Envelope::<Value>::deterministic_id(&["push", system, id]),
        producer,
        data,
    )
    .to_bytes()
}

async fn wait_for_consumer(env: &TestEnv, broker: &Broker, queue: &str) {
    let name = env.topology().name(queue);
    eventually(
        "the inbound service consuming",
        Duration::from_secs(30),
        || {
            let (broker, name) = (broker.clone(), name.clone());
            async move {
                let ch = broker.channel().await.ok()?;
                let passive = lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                };
                ch.queue_declare(name.as_str().into(), passive, Default::default())
                    .await
                    .is_ok_and(|q| q.consumer_count() > 0)
                    .then_some(())
            }
        },
    )
    .await;
}

#[tokio::test]
async fn pushes_are_taken_only_within_the_publishers_rights() {
    let env = TestEnv::new().await;
    let ns = &env.namespace;
    let registry = AgencyUser::create(format!("{ns}-agency-coop-alliance"), &env.config.amqp_url);
    let fund = AgencyUser::create(format!("{ns}-agency-loan-fund"), &env.config.amqp_url);
    let stranger = AgencyUser::create(format!("{ns}-stranger"), &env.config.amqp_url);
    let ntm = AgencyUser::create(format!("{ns}-agency-ntm"), &env.config.amqp_url);
    let file = std::env::temp_dir().join(format!("{ns}-entitlements.toml"));
    std::fs::write(
        &file,
        format!(
            "relays = []\n\
             [agencies.{r}]\nsystems = [\"coop-alliance\"]\ntypes = [\"source.cooperative.v1\"]\n\
             [agencies.{f}]\nsystems = [\"loan-fund\"]\ntypes = [\"source.disbursement.v1\"]\n\
             [agencies.{n}]\nsystems = [\"ntm\"]\ntypes = [\"source.ntm_report.v1\"]\n",
            r = registry.name,
            f = fund.name,
            n = ntm.name
        ),
    )
    .expect("entitlements file");

    let broker = env.broker("identity-test");
    let ch = broker.channel().await.expect("broker reachable");
    let observer = QueueSpec::new("identity.observer").bind(exchanges::SOURCE, "source.#");
    env.topology()
        .declare_queue(&ch, &observer, &env.retry_policy())
        .await
        .expect("observer queue");
    let stop = CancellationToken::new();
    let service = tokio::spawn(run(
        Config {
            common: env.config.clone(),
            inbound_entitlements_file: Some(file.clone()),
            inbound_max_message_bytes: 64 * 1024,
            ..Config::default()
        },
        stop.clone(),
    ));
    // every push below is a registry record: its routing key (contract type) leads to the
    // registry's queue, whoever publishes it
    wait_for_consumer(&env, &broker, &agency_queue(&registry.name)).await;

    // the broker itself refuses a user_id that is not the connection's user
    let e = push(
        &env,
        &fund,
        Some(&registry.name),
        "impersonation",
        &record("coop-alliance", "LM-000001"),
        &[],
    )
    .await
    .expect_err("the broker validates user_id");
    assert!(
        e.contains("PRECONDITION_FAILED") || e.contains("user_id"),
        "{e}"
    );

    // the topic permission `hub definitions` derives from the entitlements: the NTM office may
    // publish only its own contract type on coophub.inbound, the broker refuses another
    let entitlements = hub_inbound::entitlements::Entitlements::load(&file).expect("entitlements");
    let exchange = env.topology().name(exchanges::INBOUND);
    let pattern = entitlements
        .topic_write_pattern(&ntm.name)
        .expect("the NTM user is known");
    rabbitmqctl(&[
        "set_topic_permissions",
        "-p",
        "/",
        &ntm.name,
        &exchange,
        &pattern,
        "^$",
    ]);
    let e = push(
        &env,
        &ntm,
        Some(&ntm.name),
        "ntm-as-registry",
        &record("coop-alliance", "LM-000007"),
        &[],
    )
    .await
    .expect_err("a routing key the NTM office is not entitled to");
    assert!(e.contains("ACCESS_REFUSED"), "{e}");

    // the fund claims the registry's system (and forges the origin header): refused
    let claims = [
        (
            "fund-as-registry",
            &fund,
            Some(fund.name.as_str()),
            record("coop-alliance", "LM-000001"),
        ),
        (
            "no-user-id",
            &registry,
            None,
            record("coop-alliance", "LM-000003"),
        ),
        (
            "stranger",
            &stranger,
            Some(stranger.name.as_str()),
            record("coop-alliance", "LM-000004"),
        ),
    ];
    for (id, user, user_id, body) in &claims {
        push(
            &env,
            user,
            *user_id,
            id,
            body,
            &[(H_ORIGIN_USER, registry.name.as_str())],
        )
        .await
        .expect("the broker takes it");
    }
    // the registry's own user, its own system in the record, but the envelope's producer
    // names the fund: refused (both must agree with the entitlement)
    push(
        &env,
        &registry,
        Some(&registry.name),
        "registry-as-fund-producer",
        &record_from("coop-alliance", "LM-000008", "urn:agency:loan-fund"),
        &[],
    )
    .await
    .expect("the broker takes it");
    // within the registry's rights: taken
    push(
        &env,
        &registry,
        Some(&registry.name),
        "registry-own",
        &record("coop-alliance", "LM-000002"),
        &[],
    )
    .await
    .expect("confirmed");
    // far larger than INBOUND_MAX_MESSAGE_BYTES: refused unparsed, and the service goes on
    let mut big =
        serde_json::from_slice::<Value>(&record("coop-alliance", "LM-000005")).expect("json");
    big["data"]["address"] = json!("x".repeat(300 * 1024));
    push(
        &env,
        &registry,
        Some(&registry.name),
        "oversized",
        &serde_json::to_vec(&big).expect("json"),
        &[],
    )
    .await
    .expect("the broker takes it");
    push(
        &env,
        &registry,
        Some(&registry.name),
        "registry-after-oversized",
        &record("coop-alliance", "LM-000006"),
        &[],
    )
    .await
    .expect("confirmed");

    let dead = DeadLetters::new(broker.clone(), &agency_queue(&registry.name));
    eventually("five dead letters", Duration::from_secs(30), || {
        let dead = &dead;
        async move { (dead.count().await.ok()? == 5).then_some(()) }
    })
    .await;
    let letters = dead.list(10).await.expect("list");
    let reason = |id: &str| {
        let l = letters
            .iter()
            .find(|l| l.message_id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("{id} dead-lettered: {letters:?}"));
        (l.kind.clone(), l.reason.clone(), l.headers.clone())
    };
    let (kind, why, headers) = reason("fund-as-registry");
    assert_eq!(kind, "rejected");
    assert!(
        why.contains("not entitled")
            && why.contains(&fund.name)
            && why.contains("may not publish records of system \"coop-alliance\""),
        "{why}"
    );
    assert_eq!(
        headers.get(H_ORIGIN_USER),
        Some(&fund.name),
        "forged header replaced"
    );
    let (kind, why, _) = reason("registry-as-fund-producer");
    assert_eq!(kind, "rejected");
    assert!(
        why.contains("not entitled")
            && why.contains("envelope's source")
            && why.contains("\"urn:agency:loan-fund\"")
            && why.contains("expected \"urn:agency:coop-alliance\""),
        "{why}"
    );
    let (_, why, _) = reason("no-user-id");
    assert!(why.contains("no broker-verified publisher"), "{why}");
    let (_, why, _) = reason("stranger");
    assert!(
        why.contains(&stranger.name) && why.contains("is not an agency user"),
        "{why}"
    );
    let (kind, why, _) = reason("oversized");
    assert_eq!(kind, "too-large");
    assert!(why.contains("65536"), "{why}");

    // only the registry's own pushes reached coophub.source, marked with who pushed them
    let queue = env.topology().name(&observer.name);
    let mut forwarded = BTreeMap::new();
    let start = tokio::time::Instant::now();
    while forwarded.len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for the forwarded records: {forwarded:?}"
        );
        match ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
        {
            Some(m) => {
                let env = RawEnvelope::parse(&m.delivery.data).expect("envelope");
                let h = string_headers(m.delivery.properties.headers());
                forwarded.insert(env.data["meta"]["source"]["id"].to_string(), h);
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(
        forwarded.keys().cloned().collect::<Vec<_>>(),
        vec!["\"LM-000002\"".to_owned(), "\"LM-000006\"".to_owned()]
    );
    assert!(
        forwarded
            .values()
            .all(|h| h.get(H_PUSHED_BY) == Some(&registry.name))
    );

    // an operator's replay (published by a hub user) keeps the original publisher: the
    // fund's claim is refused again in the fund's name, not taken as the hub's
    dead.replay("fund-as-registry").await.expect("replayed");
    eventually(
        "the replay dead-lettered again",
        Duration::from_secs(30),
        || {
            let dead = &dead;
            async move {
                let back = dead
                    .list(10)
                    .await
                    .ok()?
                    .into_iter()
                    .any(|l| l.message_id.as_deref() == Some("fund-as-registry"));
                (back && dead.count().await.ok()? == 5).then_some(())
            }
        },
    )
    .await;
    let again = dead.list(10).await.expect("list");
    let l = again
        .iter()
        .find(|l| l.message_id.as_deref() == Some("fund-as-registry"))
        .expect("back in the dead-letter queue");
    assert!(
        l.reason.contains(&fund.name) && l.reason.contains("coop-alliance"),
        "{}",
        l.reason
    );
    // a marker pushed after the replay was refused: it is the only record forwarded since
    push(
        &env,
        &registry,
        Some(&registry.name),
        "registry-marker",
        &record("coop-alliance", "LM-000009"),
        &[],
    )
    .await
    .expect("confirmed");
    let start = tokio::time::Instant::now();
    let after_replay = loop {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for the marker"
        );
        match ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("get")
        {
            Some(m) => {
                break RawEnvelope::parse(&m.delivery.data).expect("envelope").data["meta"]
                    ["source"]["id"]
                    .clone();
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_eq!(
        after_replay,
        json!("LM-000009"),
        "nothing refused was forwarded"
    );

    stop.cancel();
    service
        .await
        .expect("joined")
        .expect("the service stops cleanly");
    let _ = ch.close(200, "done".into()).await;
    broker.close().await;
    for u in [&registry, &fund, &stranger, &ntm] {
        u.delete();
    }
    let _ = std::fs::remove_file(&file);
    env.delete_queues(&[observer, hub_inbound::queue_spec(env.config.delivery_limit)])
        .await;
    env.drop_database().await;
}

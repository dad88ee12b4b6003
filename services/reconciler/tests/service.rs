//! The reconciler service on the real broker and database (a fresh database and topology
//! namespace per test): source records published to `coophub.source`, golden records,
//! merges, splits and decisions observed on a queue bound to `coophub.identity`, operator
//! actions and queries over HTTP, a restart that rebuilds the engine from the database.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::observer::{Observer, outgoing};
use common::*;
use hub_contracts::v1::{
    BorrowerType, DecisionOutcome, GoldenRecord, IdentityMerged, IdentitySplit, OrgKind,
    ReconciliationDecision,
};
use hub_contracts::{Contract, RawEnvelope};
use hub_reconciler::Config;
use hub_runtime::messaging::{Incoming, Publisher};
use hub_runtime::shutdown::CancellationToken;
use hub_test_support::TestEnv;
use serde_json::{Value, json};
use uuid::Uuid;

struct Harness {
    env: TestEnv,
    config: Config,
    observer: Observer<RawEnvelope>,
    seen: Vec<RawEnvelope>,
    publisher: Publisher,
    /// Sends the service credential (as the console does).
    http: reqwest::Client,
    token: String,
}

impl Harness {
    async fn new() -> Harness {
        let env = TestEnv::new().await;
        let token = hub_runtime::service_auth::generate_token();
        let config = Config {
            common: hub_runtime::CommonConfig {
                http_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                ..env.config.clone()
            },
            // the old token is still accepted during a rotation: two at once
            service_tokens: hub_runtime::service_auth::ServiceTokens::new([
                hub_runtime::service_auth::generate_token(),
                token.clone(),
            ]),
            // one decision per message, as agency consumers bound to v1 ask for it
            reconciler_decision_contracts: "v1,v2".into(),
            ..Config::default()
        };
        let mut auth = reqwest::header::HeaderMap::new();
        auth.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
        let observer = Observer::start(
            &env,
            &config,
            &["identity.#", "reconciliation.#"],
            |m: Incoming| Ok(m.envelope),
        )
        .await;
        let publisher = Publisher::new(env.broker("test-publisher"));
        Harness {
            env,
            config,
            observer,
            seen: Vec::new(),
            publisher,
            http: reqwest::Client::builder()
                .default_headers(auth)
                .build()
                .expect("client"),
            token,
        }
    }

    async fn publish<T: Contract>(&self, id: &str, data: T) {
        self.publisher
            .publish(&outgoing(id, data))
            .await
            .expect("published");
    }

    /// Waits for the first event (seen before or arriving) that `pred` accepts.
    async fn wait_for<T: Contract>(&mut self, what: &str, pred: impl Fn(&T) -> bool) -> T {
        let decode = |e: &RawEnvelope| -> Option<T> {
            (e.ty == T::TYPE)
                .then(|| e.clone().decode::<T>().ok())
                .flatten()
                .map(|e| e.data)
        };
        if let Some(t) = self.seen.iter().filter_map(decode).find(|t| pred(t)) {
            return t;
        }
        loop {
            let e = tokio::time::timeout(Duration::from_secs(30), self.observer.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .unwrap_or_else(|| panic!("observer stopped waiting for {what}"));
            self.seen.push(e.clone());
            if let Some(t) = decode(&e)
                && pred(&t)
            {
                return t;
            }
        }
    }

    async fn golden(&mut self, what: &str, pred: impl Fn(&GoldenRecord) -> bool) -> GoldenRecord {
        self.wait_for::<GoldenRecord>(what, pred).await
    }

    async fn get(&self, addr: SocketAddr, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("http");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// `POST` as the console does: the body's `operator`, if any, goes in the authenticated
    /// `X-Hub-Operator` header instead.
    async fn post(&self, addr: SocketAddr, path: &str, mut body: Value) -> (u16, Value) {
        let operator = body
            .as_object_mut()
            .and_then(|m| m.remove("operator"))
            .and_then(|v| v.as_str().map(str::to_owned));
        let mut req = self.http.post(format!("http://{addr}{path}")).json(&body);
        if let Some(op) = operator {
            req = req.header(
                hub_runtime::service_auth::OPERATOR_HEADER,
                hub_runtime::service_auth::encode_operator(&op),
            );
        }
        let resp = req.send().await.expect("http");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn teardown(self) {
        self.observer.teardown(self.env, &self.config).await;
    }
}

fn has_ref(g: &GoldenRecord, system: &str, id: &str) -> bool {
    g.source_refs
        .iter()
        .any(|r| r.system == system && r.id == id)
}

fn entry_2024() -> (&'static str, &'static str) {
    ("ntm", "03400:2024:0")
}

#[tokio::test]
async fn merges_and_splits_propagate_to_golden_records_and_events_and_survive_a_restart() {
    let mut h = Harness::new().await;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("service starts");
    let addr = running.http_addr.expect("http address");

    // 1. a loan and an NTM entry of one cooperative, too different to be linked alone
    h.publish(
        "msg-loan-1",
        loan(
            "Q-1",
            "HTX che Ta Leng",
            BorrowerType::Cooperative,
            Some("6200123456"),
            "Lai Chau",
            Some("Giàng A Páo"),
            None,
        ),
    )
    .await;
    h.publish(
        "msg-ntm-1",
        ntm(
            TA_LENG,
            2024,
            1,
            &[("HTX Tả Lèng", Some(OrgKind::Htx), Some("Lò Văn Minh"))],
        ),
    )
    .await;
    let from_loan = h
        .golden("golden record of the loan", |g| {
            has_ref(g, "loan-fund", "Q-1")
        })
        .await;
    let (sys, id) = entry_2024();
    let from_ntm = h
        .golden("golden record of the NTM entry", |g| has_ref(g, sys, id))
        .await;
    assert_ne!(from_loan.organisation_id, from_ntm.organisation_id);
    assert!(!from_ntm.in_registry);

    // 2. the registry record links them: a merge, the absorbed record retired
    h.publish(
        "msg-reg-1",
        registry(
            "LM-1",
            "Hợp tác xã chè Tả Lèng",
            OrgKind::Htx,
            Some("6200123456"),
            TA_LENG,
            Some("Lò Văn Minh"),
            None,
        ),
    )
    .await;
    let merged = h
        .wait_for::<IdentityMerged>("identity.merged.v1", |_| true)
        .await;
    let survivor = merged.survivor;
    assert!(merged.decided_by.is_none());
    assert_eq!(merged.absorbed.len(), 1);
    let absorbed = merged.absorbed[0];
    assert!([from_loan.organisation_id, from_ntm.organisation_id].contains(&survivor));
    let retired = h
        .golden("retired golden record", |g| {
            g.organisation_id == absorbed && g.retired
        })
        .await;
    assert_eq!(retired.merged_into, Some(survivor));
    let g = h
        .golden("survivor with three records", |g| {
            g.organisation_id == survivor && g.source_refs.len() == 3
        })
        .await;
    assert!(g.in_registry);
    assert_eq!(g.name, "Hợp tác xã chè Tả Lèng");
    assert_eq!(
        g.attribute_sources.get("name").map(|s| s.id.as_str()),
        Some("LM-1")
    );
    let d = h
        .wait_for::<ReconciliationDecision>("merge decision", |d| {
            d.outcome == DecisionOutcome::Merged
        })
        .await;
    assert_eq!(d.organisation_id, Some(survivor));

    // the API shows it, with source refs, and its history
    let (status, page) = h.get(addr, "/api/v1/cooperatives?limit=10").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "retired records are not listed: {page}");
    assert_eq!(items[0]["organisation_id"], json!(survivor));
    assert_eq!(items[0]["source_refs"].as_array().map(Vec::len), Some(3));
    let (status, hist) = h
        .get(addr, &format!("/api/v1/cooperatives/{survivor}"))
        .await;
    assert_eq!(status, 200);
    assert!(hist["versions"].as_array().is_some_and(|v| !v.is_empty()));
    assert_eq!(hist["events"][0]["kind"], json!("merged"));
    assert!(hist["decisions"].as_array().is_some_and(|v| v.len() >= 2));
    let (status, _) = h
        .get(addr, &format!("/api/v1/cooperatives/{}", Uuid::nil()))
        .await;
    assert_eq!(status, 404);

    // 3. an operator splits the NTM entry off
    let (status, body) = h
        .post(
            addr,
            &format!("/api/v1/cooperatives/{survivor}/split"),
            json!({"operator": "op.one", "reason": "the commune lists another cooperative", "parts": [[{"system": sys, "id": id}]]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let split = h
        .wait_for::<IdentitySplit>("identity.split.v1", |_| true)
        .await;
    assert_eq!(split.original, survivor);
    assert_eq!(split.decided_by.as_deref(), Some("op.one"));
    assert_eq!(split.parts.len(), 2);
    let part = split.parts[1].organisation_id;
    assert_eq!(split.parts[1].source_refs.len(), 1);
    h.golden("golden record of the split part", |g| {
        g.organisation_id == part && has_ref(g, sys, id)
    })
    .await;
    h.golden("survivor without the entry", |g| {
        g.organisation_id == survivor && g.source_refs.len() == 2
    })
    .await;

    // merging them back is refused: an operator separated them
    let (status, body) = h
        .post(
            addr,
            "/api/v1/cooperatives/merge",
            json!({"operator": "op.two", "reason": "x", "organisation_ids": [survivor, part]}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    // no authenticated operator, no action
    let (status, _) = h
        .post(
            addr,
            &format!("/api/v1/cooperatives/{survivor}/split"),
            json!({"reason": "x", "parts": [[{"system": "loan-fund", "id": "Q-1"}]]}),
        )
        .await;
    assert_eq!(status, 401);

    // 4. restart: the engine is rebuilt from the database, and the operator's split holds
    stop.cancel();
    running.wait().await.expect("clean stop");
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("restarts");
    let addr = running.http_addr.expect("http address");
    let mut again = ntm(
        TA_LENG,
        2024,
        2,
        &[(
            "Hợp tác xã chè Tả Lèng",
            Some(OrgKind::Htx),
            Some("Lò Văn Minh"),
        )],
    );
    again.cooperatives[0].members = Some(30);
    h.publish("msg-ntm-2", again).await;
    let g = h
        .golden("split part after the new revision", |g| {
            g.organisation_id == part && g.member_households == Some(30)
        })
        .await;
    assert!(
        has_ref(&g, sys, id),
        "the entry stays where the operator put it"
    );
    let (_, log) = h
        .get(addr, &format!("/api/v1/log?system={sys}&source_id={id}"))
        .await;
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["outcome"].as_str())
        .collect();
    assert!(outcomes.contains(&"new"), "{outcomes:?}");

    // 5. a manual merge of two identities the matcher kept apart
    h.publish(
        "msg-loan-9",
        loan(
            "Q-9",
            "HTX mac ca Ban Bo so 3",
            BorrowerType::Cooperative,
            None,
            "Ban Bo, Tam Duong",
            None,
            None,
        ),
    )
    .await;
    let x = h
        .golden("the Bản Bo loan", |g| has_ref(g, "loan-fund", "Q-9"))
        .await
        .organisation_id;
    let (status, body) = h
        .post(
            addr,
            "/api/v1/cooperatives/merge",
            json!({"operator": "op.two", "reason": "the same cooperative, renamed", "organisation_ids": [x, survivor]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let m = h
        .wait_for::<IdentityMerged>("manual merge", |m| {
            m.decided_by.as_deref() == Some("op.two")
        })
        .await;
    assert_eq!(
        (m.survivor, m.absorbed.clone()),
        (survivor, vec![x]),
        "the registry's identity survives"
    );
    h.golden("merged-away record retired", |g| {
        g.organisation_id == x && g.retired
    })
    .await;

    // the same message delivered twice takes effect once
    let dup = registry(
        "LM-1",
        "Hợp tác xã chè Tả Lèng",
        OrgKind::Htx,
        Some("6200123456"),
        TA_LENG,
        Some("Lò Văn Minh"),
        None,
    );
    h.publish("msg-reg-1", dup).await;
    h.publish(
        "msg-fence",
        loan(
            "Q-10",
            "Lò Văn Minh",
            BorrowerType::Household,
            None,
            "Tả Lèng",
            Some("Lò Văn Minh"),
            None,
        ),
    )
    .await;
    let d = h
        .wait_for::<ReconciliationDecision>("the household loan", |d| {
            d.outcome == DecisionOutcome::OutOfScope
        })
        .await;
    assert_eq!(d.organisation_id, None);
    assert!(
        !serde_json::to_string(&d).expect("json").contains("Minh"),
        "personal data masked"
    );
    let (_, log) = h
        .get(addr, "/api/v1/log?system=coop-alliance&source_id=LM-1")
        .await;
    assert_eq!(
        log["items"].as_array().map(Vec::len),
        Some(1),
        "one decision for LM-1: {log}"
    );

    stop.cancel();
    running.wait().await.expect("clean stop");
    h.teardown().await;
}

#[tokio::test]
async fn doubtful_pairs_wait_in_the_review_queue_for_an_operator() {
    let mut h = Harness::new().await;
    let stop = CancellationToken::new();
    let running = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("starts");
    let addr = running.http_addr.expect("http address");

    // the live log, followed from before the records arrive
    let sse = h
        .http
        .get(format!("http://{addr}/api/v1/log/stream"))
        .send()
        .await
        .expect("stream");
    assert_eq!(sse.status().as_u16(), 200);

    h.publish(
        "msg-reg",
        registry(
            "LM-1",
            "Hợp tác xã chè Tả Lèng",
            OrgKind::Htx,
            None,
            TA_LENG,
            Some("Lò Văn Minh"),
            None,
        ),
    )
    .await;
    h.publish(
        "msg-ntm",
        ntm(
            TA_LENG,
            2024,
            1,
            &[("HTX Tả Lèng", Some(OrgKind::Htx), Some("Giàng A Páo"))],
        ),
    )
    .await;
    let d = h
        .wait_for::<ReconciliationDecision>("review decision", |d| {
            d.outcome == DecisionOutcome::Review
        })
        .await;
    let own = d.organisation_id.expect("its own identity meanwhile");

    // the stream carried the decisions, in order
    let mut sse = sse;
    let mut text = String::new();
    while !text.contains("\"review\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), sse.chunk())
            .await
            .expect("an event in time")
            .expect("stream open")
            .expect("a chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.contains("event: decision") && text.contains("\"new\""),
        "{text}"
    );
    assert!(
        !text.contains("Giàng"),
        "personal data masked in the live log"
    );

    let (status, page) = h.get(addr, "/api/v1/review").await;
    assert_eq!(status, 200);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{page}");
    let review = items[0]["review_id"].as_str().expect("id").to_owned();
    assert_eq!(items[0]["candidate"]["id"], json!("LM-1"));
    assert_eq!(items[0]["status"], json!("open"));

    let (status, body) = h
        .post(
            addr,
            &format!("/api/v1/review/{review}/link"),
            json!({"operator": "op.three", "reason": "the director changed in 2024"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["review"]["status"], json!("linked"));
    assert_eq!(body["review"]["decided_by"], json!("op.three"));
    let m = h
        .wait_for::<IdentityMerged>("the operator's link", |m| {
            m.decided_by.as_deref() == Some("op.three")
        })
        .await;
    assert_eq!(m.absorbed, vec![own]);
    let g = h
        .golden("linked golden record", |g| {
            g.organisation_id == m.survivor && g.source_refs.len() == 2
        })
        .await;
    assert!(g.in_registry);
    // decided once only
    let (status, _) = h
        .post(
            addr,
            &format!("/api/v1/review/{review}/separate"),
            json!({"operator": "op.four", "reason": "no"}),
        )
        .await;
    assert_eq!(status, 409);
    let (_, page) = h.get(addr, "/api/v1/review").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    let (_, page) = h.get(addr, "/api/v1/review?status=linked").await;
    assert_eq!(
        page["items"][0]["reason"],
        json!("the director changed in 2024")
    );
    // the log by organisation and by time
    let (_, log) = h
        .get(addr, &format!("/api/v1/log?organisation={}", m.survivor))
        .await;
    let outcomes: Vec<&str> = log["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|d| d["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"operator_linked") && outcomes.contains(&"merged"),
        "{outcomes:?}"
    );
    let (_, log) = h.get(addr, "/api/v1/log?until=2000-01-01T00:00:00Z").await;
    assert_eq!(log["items"].as_array().map(Vec::len), Some(0));
    let (status, _) = h.get(addr, "/api/v1/log?limit=0").await;
    assert_eq!(status, 400);

    stop.cancel();
    running.wait().await.expect("clean stop");
    h.teardown().await;
}

/// Two replicas: operator writes go to the active one (the standby refuses them naming it,
/// so it never rebuilds its engine for a write), and records follow the operator's change.
#[tokio::test]
async fn a_standby_sends_operator_writes_to_the_active_replica() {
    let mut h = Harness::new().await;
    let stop = CancellationToken::new();
    let a = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("replica a");
    let a_addr = a.http_addr.expect("http address");
    h.publish(
        "msg-1",
        registry(
            "LM-1",
            "Hợp tác xã chè Tả Lèng",
            OrgKind::Htx,
            Some("6200123456"),
            TA_LENG,
            None,
            None,
        ),
    )
    .await;
    h.golden("first record", |g| has_ref(g, "coop-alliance", "LM-1"))
        .await;
    // replica b starts now: its source consumer waits (single active consumer)
    let b = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("replica b");
    let b_addr = b.http_addr.expect("http address");
    // records that only replica a sees
    h.publish(
        "msg-2",
        loan(
            "Q-1",
            "HTX che Ta Leng",
            BorrowerType::Cooperative,
            Some("6200123456"),
            "Ta Leng",
            None,
            None,
        ),
    )
    .await;
    h.publish(
        "msg-3",
        loan(
            "Q-2",
            "HTX che Ta Leng",
            BorrowerType::Cooperative,
            Some("6200123456"),
            "Ta Leng",
            None,
            None,
        ),
    )
    .await;
    let g = h
        .golden("three records together", |g| {
            has_ref(g, "coop-alliance", "LM-1") && g.source_refs.len() == 3
        })
        .await;
    // replica b, the standby, refuses the split and names replica a
    let split_path = format!("/api/v1/cooperatives/{}/split", g.organisation_id);
    let split_body = json!({"operator": "op", "reason": "another borrower", "parts": [[{"system": "loan-fund", "id": "Q-2"}]]});
    let (status, body) = h.post(b_addr, &split_path, split_body.clone()).await;
    assert_eq!(status, 421, "{body}");
    let named = body["active_replica"].as_str().unwrap_or_default();
    assert!(
        named.ends_with(&format!(":{}", a_addr.port())),
        "{named} is replica a"
    );
    let (status, body) = h.post(a_addr, &split_path, split_body).await;
    assert_eq!(status, 200, "{body}");
    let split = h
        .wait_for::<IdentitySplit>("split by replica a", |_| true)
        .await;
    assert_eq!(split.parts[1].source_refs.len(), 1);
    // and the next record is applied on top of the split
    h.publish(
        "msg-4",
        loan(
            "Q-2",
            "HTX che Ta Leng",
            BorrowerType::Cooperative,
            Some("6200123456"),
            "Ta Leng",
            Some("Lò Văn Minh"),
            None,
        ),
    )
    .await;
    let part = split.parts[1].organisation_id;
    h.golden("the split part keeps Q-2", |g| {
        g.organisation_id == part && g.representative.is_some()
    })
    .await;
    stop.cancel();
    a.wait().await.expect("a stops");
    b.wait().await.expect("b stops");
    h.teardown().await;
}

/// Issue 15: the API answers only the holder of a service credential (401 otherwise, before
/// any handler runs), takes the operator from the authenticated header and never from the
/// body, and the service refuses to start with an API but without a credential.
#[tokio::test]
async fn the_api_refuses_requests_without_the_service_credential() {
    let h = Harness::new().await;
    let stop = CancellationToken::new();
    let mut no_token = h.config.clone();
    no_token.service_tokens = Default::default();
    let e = hub_reconciler::start(no_token, stop.clone())
        .await
        .err()
        .expect("an API without a credential does not start")
        .to_string();
    assert!(e.contains("SERVICE_TOKENS"), "{e}");

    let running = hub_reconciler::start(h.config.clone(), stop.clone())
        .await
        .expect("service starts");
    let addr = running.http_addr.expect("http address");
    let anonymous = reqwest::Client::new();
    let merge = json!({"operator": "mallory", "reason": "x", "organisation_ids": [Uuid::from_u128(1), Uuid::from_u128(2)]});
    for (what, req) in [
        (
            "no credential",
            anonymous.get(format!("http://{addr}/api/v1/cooperatives")),
        ),
        (
            "a wrong credential",
            anonymous
                .get(format!("http://{addr}/api/v1/review"))
                .bearer_auth(hub_runtime::service_auth::generate_token()),
        ),
        (
            "a credential one character short",
            anonymous
                .get(format!("http://{addr}/api/v1/log"))
                .bearer_auth(&h.token[1..]),
        ),
        (
            "an operator header without a credential",
            anonymous
                .post(format!("http://{addr}/api/v1/cooperatives/merge"))
                .header(hub_runtime::service_auth::OPERATOR_HEADER, "mallory")
                .json(&merge),
        ),
        (
            "the log stream",
            anonymous.get(format!("http://{addr}/api/v1/log/stream")),
        ),
    ] {
        let resp = req.send().await.expect("http");
        assert_eq!(resp.status().as_u16(), 401, "{what}");
        assert!(
            resp.headers().contains_key("www-authenticate"),
            "{what}: WWW-Authenticate"
        );
    }
    // with the credential, reads work; an action needs the operator header, never the body's
    let (status, _) = h.get(addr, "/api/v1/cooperatives").await;
    assert_eq!(status, 200);
    let resp = h
        .http
        .post(format!("http://{addr}/api/v1/cooperatives/merge"))
        .json(&merge)
        .send()
        .await
        .expect("http");
    assert_eq!(resp.status().as_u16(), 401, "an operator in the body only");
    let (status, body) = h.post(addr, "/api/v1/cooperatives/merge", merge).await;
    assert_ne!(status, 401, "authenticated operator: {body}");
    // health, readiness and metrics stay open (no personal data, no action)
    for path in ["/healthz", "/readyz", "/metrics"] {
        let resp = anonymous
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .expect("http");
        assert_ne!(resp.status().as_u16(), 401, "{path}");
    }
    stop.cancel();
    running.wait().await.expect("clean stop");
    h.teardown().await;
}

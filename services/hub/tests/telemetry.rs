//! OpenTelemetry end to end: the pipeline (simulators → adapters → reconciler → indicators on
//! the real RabbitMQ and PostgreSQL) exports its spans over OTLP/HTTP to a collector this test
//! runs in-process (`POST /v1/traces`, protobuf decoded with opentelemetry-proto), and the
//! spans read back tell one trace per source record: the adapter's record span (linked to the
//! fetch its page came from), the reconciler's consumer span its child over AMQP, the golden
//! record it caused consumed by the indicators as that span's child, and the snapshot linked
//! to the batch that brought it. An HTTP call carries its `traceparent` to the server span.
//! Spans carry no personal data: only the attributes the hub declares, all plain ASCII.
//!
//! Its own test binary: the tracing subscriber is global to a process.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use hub::pipeline::{Pipeline, PipelineConfig};
use hub_contracts::Contract;
use hub_contracts::v1::GoldenRecord;
use hub_e2e::{snapshot_where, start, watch_snapshots};
use hub_runtime::config::LogFormat;
use hub_runtime::shutdown::CancellationToken;
use hub_runtime::telemetry::{self, OtlpConfig, propagation};
use hub_simulators::WorldConfig;
use hub_test_support::TestEnv;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use tokio::sync::mpsc;

const SERVICE: &str = "hub-telemetry-test";

/// Every span and the `service.name` it came under.
type Received = (String, Span);

/// An OTLP/HTTP collector on a free port: what it receives goes to the channel, decoded.
async fn collector() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel::<Received>();
    let app = Router::new()
        .route(
            "/v1/traces",
            post(move |body: Bytes| {
                let tx = tx.clone();
                async move {
                    let request = match ExportTraceServiceRequest::decode(body) {
                        Ok(r) => r,
                        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
                    };
                    for rs in request.resource_spans {
                        let service = rs
                            .resource
                            .iter()
                            .flat_map(|r| &r.attributes)
                            .find(|kv| kv.key == "service.name")
                            .map(|kv| value(kv.value.as_ref()))
                            .unwrap_or_default();
                        for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                            let _ = tx.send((service.clone(), span));
                        }
                    }
                    (
                        [(header::CONTENT_TYPE, "application/x-protobuf")],
                        ExportTraceServiceResponse::default().encode_to_vec(),
                    )
                        .into_response()
                }
            }),
        )
        .layer(DefaultBodyLimit::max(64 << 20));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("collector port");
    let addr = listener.local_addr().expect("collector address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1/traces"), rx)
}

fn value(v: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attr(s: &Span, key: &str) -> Option<String> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| value(kv.value.as_ref()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// (trace id, span id) of a span.
fn id(s: &Span) -> (String, String) {
    (hex(&s.trace_id), hex(&s.span_id))
}

fn parent(s: &Span) -> Option<(String, String)> {
    (!s.parent_span_id.is_empty()).then(|| (hex(&s.trace_id), hex(&s.parent_span_id)))
}

fn links(s: &Span) -> BTreeSet<(String, String)> {
    s.links
        .iter()
        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
        .collect()
}

fn kind(s: &Span) -> SpanKind {
    SpanKind::try_from(s.kind).unwrap_or(SpanKind::Unspecified)
}

/// The attributes a hub span may carry: ids, types, counts, routes; nothing a record says.
fn allowed(key: &str) -> bool {
    const KEYS: [&str; 12] = [
        "hub.contract",
        "hub.attempt",
        "hub.outcome",
        "hub.source.system",
        "hub.unit_lists",
        "hub.causes",
        "trace_id",
        "server.address",
        "url.path",
        "target",
        "busy_ns",
        "idle_ns",
    ];
    KEYS.contains(&key)
        || ["messaging.", "http.", "code.", "thread.", "otel."]
            .iter()
            .any(|p| key.starts_with(p))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_follows_a_source_record_from_the_fetch_to_the_snapshot() {
    let (endpoint, mut received) = collector().await;
    telemetry::init_with(
        LogFormat::Human,
        &OtlpConfig {
            traces_endpoint: Some(endpoint),
            service_name: SERVICE.into(),
        },
    )
    .expect("telemetry");

    let env = TestEnv::new().await;
    let stop = CancellationToken::new();
    let simulated = start::simulate(WorldConfig {
        organisations: 12,
        loans: 16,
        ..WorldConfig::new(20251016, start::now())
    })
    .await;
    let truth = &simulated.truth;
    let (_agency_queue, mut snapshots) = watch_snapshots(&env, &stop).await;
    let pipeline = Pipeline::start(
        PipelineConfig {
            // one sync each: what the test reads is the first
            poll: Duration::from_secs(3600),
            indicators_http: Some("127.0.0.1:0".parse().expect("address")),
            debounce: Duration::from_millis(300),
            ..simulated.pipeline_config(&env)
        },
        stop.clone(),
    )
    .await
    .expect("pipeline starts");
    snapshot_where(
        &mut snapshots,
        Duration::from_secs(180),
        "equal to the truth",
        |s| s.unit_list == "2024" && truth.differences(s).is_empty(),
        |s| truth.differences(s).join("\n"),
    )
    .await;

    // the snapshot may equal the truth while an adapter still publishes records that change
    // no indicator, or they wait in the reconciler's queue: stop only once every source's
    // sync has ended and each record's consumer span has ended
    let mut spans = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        drain(&mut received, &mut spans).await;
        let waiting = unreconciled(&spans);
        if waiting.is_empty() {
            break;
        }
        // the next export (the batch processor's timer) brings what ended since
        match tokio::time::timeout_at(until, received.recv()).await {
            Ok(Some((service, span))) => {
                assert_eq!(service, SERVICE);
                spans.push(span);
            }
            Ok(None) => panic!("the collector stopped"),
            Err(_) => panic!("syncs or records never done: {waiting:?}"),
        }
    }

    // HTTP: a client span's traceparent, injected, is the server span's parent
    let client_span = tracing::info_span!(target: "hub::tests", "call", otel.kind = "client");
    let mut headers = axum::http::HeaderMap::new();
    propagation::inject_http(&client_span, &mut headers);
    let caller = propagation::span_context(&client_span).expect("the layer is installed");
    let api = pipeline.indicators.http_addr().expect("indicators HTTP");
    let answer = reqwest::Client::new()
        .get(format!("http://{api}/api/v1/snapshots"))
        .bearer_auth(&pipeline.service_token)
        .headers(headers)
        .send()
        .await
        .expect("indicators answer");
    assert!(answer.status().is_success(), "{}", answer.status());
    drop(client_span);

    let failures = pipeline.stop().await;
    assert!(failures.is_empty(), "services failed: {failures:?}");
    stop.cancel();
    simulated.sims.shutdown().await;
    // every span has ended: export them all, then read what the collector got
    drain(&mut received, &mut spans).await;
    check(&spans, &caller);
}

/// Exports every span ended so far and adds what the collector received to `spans`.
async fn drain(received: &mut mpsc::UnboundedReceiver<Received>, spans: &mut Vec<Span>) {
    tokio::task::spawn_blocking(telemetry::flush)
        .await
        .expect("flush task")
        .expect("spans exported");
    while let Ok((service, span)) = received.try_recv() {
        assert_eq!(service, SERVICE);
        spans.push(span);
    }
}

/// What the run still waits for: the sources whose sync has not ended, and the message ids
/// of the record spans no reconciler consumer span is the child of yet.
fn unreconciled(spans: &[Span]) -> Vec<String> {
    let synced: BTreeSet<_> = spans.iter().map(|s| s.name.as_str()).collect();
    let mut waiting: Vec<String> = ["coop-alliance", "loan-fund", "ntm"]
        .into_iter()
        .map(|system| format!("sync {system}"))
        .filter(|sync| !synced.contains(sync.as_str()))
        .collect();
    let children: BTreeSet<_> = consumer_spans(spans, "reconciler")
        .filter_map(parent)
        .collect();
    waiting.extend(
        record_spans(spans)
            .filter(|r| !children.contains(&id(r)))
            .map(|r| attr(r, "messaging.message.id").unwrap_or_default()),
    );
    waiting
}

/// The adapters' record spans (one per published record).
fn record_spans(spans: &[Span]) -> impl Iterator<Item = &Span> {
    spans
        .iter()
        .filter(|s| kind(s) == SpanKind::Producer && s.name.starts_with("publish source."))
}

/// The consumer spans of single messages on the queues whose name contains `queue_part`.
fn consumer_spans<'a>(spans: &'a [Span], queue_part: &'a str) -> impl Iterator<Item = &'a Span> {
    spans.iter().filter(move |s| {
        kind(s) == SpanKind::Consumer
            && s.name.starts_with("process ")
            && attr(s, "messaging.destination.name").is_some_and(|q| q.contains(queue_part))
            && attr(s, "messaging.message.id").is_some()
    })
}

/// What the spans must say (see the module documentation).
fn check(spans: &[Span], caller: &opentelemetry::trace::SpanContext) {
    let by_id: BTreeMap<(String, String), &Span> = spans.iter().map(|s| (id(s), s)).collect();
    let named = |name: &'static str| spans.iter().filter(move |s| s.name == name);

    // no personal data: only declared attributes, plain ASCII values (Vietnamese names are not)
    for s in spans {
        for kv in &s.attributes {
            assert!(
                allowed(&kv.key),
                "span {:?} has attribute {:?}",
                s.name,
                kv.key
            );
            let v = value(kv.value.as_ref());
            assert!(v.is_ascii(), "span {:?}: {} = {v:?}", s.name, kv.key);
        }
    }

    // the fetches, and one trace per published record, linked to its page's fetch
    let fetches: BTreeSet<_> = named("GET")
        .filter(|s| kind(s) == SpanKind::Client)
        .map(id)
        .collect();
    assert!(
        !fetches.is_empty(),
        "no fetch span among {} spans",
        spans.len()
    );
    let records: Vec<&Span> = record_spans(spans).collect();
    assert!(records.len() >= 12, "{} record spans", records.len());
    let traces: BTreeSet<_> = records.iter().map(|r| hex(&r.trace_id)).collect();
    assert_eq!(traces.len(), records.len(), "one trace per record");
    for r in &records {
        assert!(parent(r).is_none(), "a record span is its trace's root");
        assert!(
            links(r).iter().any(|l| fetches.contains(l)),
            "record span {:?} links to no fetch",
            attr(r, "messaging.message.id")
        );
    }

    // over AMQP: the reconciler's consumer span of each record is the record span's child,
    // and its batch span links to the record
    // (a delivery handled again, after a transient failure or a redelivery, has a span of its
    // own: the one that succeeded is the one that counts)
    let mut reconciled: BTreeMap<(String, String), &Span> = BTreeMap::new();
    for s in consumer_spans(spans, "reconciler") {
        if let Some(p) = parent(s)
            && (attr(s, "hub.outcome").as_deref() == Some("ok") || !reconciled.contains_key(&p))
        {
            reconciled.insert(p, s);
        }
    }
    for r in &records {
        let p = reconciled
            .get(&id(r))
            .unwrap_or_else(|| {
                let children: Vec<String> = spans
                    .iter()
                    .filter(|s| parent(s) == Some(id(r)))
                    .map(|s| format!("{} {:?}", s.name, s.attributes))
                    .collect();
                let queues: Vec<String> = spans
                    .iter()
                    .filter(|s| attr(s, "messaging.message.id") == attr(r, "messaging.message.id"))
                    .map(|s| format!("{} {:?} parent {:?} links {:?}", s.name, id(s), parent(s), links(s)))
                    .collect();
                panic!(
                    "no reconciler span is the child of {} {:?}; its children: {children:?}; queues: {queues:?}",
                    r.name,
                    attr(r, "messaging.message.id")
                )
            });
        assert_eq!(attr(p, "hub.outcome").as_deref(), Some("ok"));
        let batch = links(p)
            .into_iter()
            .filter_map(|l| by_id.get(&l))
            .find(|b| b.name == "process_batch" || b.name.starts_with("process "))
            .unwrap_or_else(|| panic!("the reconciler span of {} links to no batch", r.name));
        assert!(
            links(batch).contains(&id(r)),
            "the reconciler's batch links to the record"
        );
    }

    // the golden records go on in the record's trace: the indicators consume them as children
    // of the reconciler's span, in batches the snapshots link to
    let snapshots: Vec<&Span> = named("snapshot").collect();
    assert!(!snapshots.is_empty(), "no snapshot span");
    let snapshot_links: BTreeSet<_> = snapshots.iter().flat_map(|s| links(s)).collect();
    let reconciler_spans: BTreeSet<_> = consumer_spans(spans, "reconciler").map(id).collect();
    let mut followed = 0;
    for g in consumer_spans(spans, "indicators")
        .filter(|s| attr(s, "hub.contract").as_deref() == Some(GoldenRecord::TYPE))
    {
        let p = parent(g).expect("a golden record's span has a parent");
        assert!(
            reconciler_spans.contains(&p),
            "a golden record continues the trace of the record that caused it"
        );
        if links(g).iter().any(|b| snapshot_links.contains(b)) {
            followed += 1;
        }
    }
    assert!(
        followed > 0,
        "no golden record reached a snapshot through its batch"
    );

    // HTTP: the indicators' server span is the caller's child
    let server = spans
        .iter()
        .find(|s| kind(s) == SpanKind::Server && s.name == "GET /api/v1/snapshots")
        .expect("the indicators' server span");
    assert_eq!(
        parent(server),
        Some((caller.trace_id().to_string(), caller.span_id().to_string()))
    );
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
}

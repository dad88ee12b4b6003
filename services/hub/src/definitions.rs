//! RabbitMQ definitions (`deploy/rabbitmq/definitions.json`) generated from the topology
//! code itself, so that the broker's pre-declared exchanges and queues are exactly what the
//! services declare at start, and every service and agency system has its own user with the
//! least privilege it needs; each agency user may publish on `coophub.inbound` only the routing
//! keys (contract types) its entitlements grant (`deploy/inbound/entitlements.toml`, topic
//! permissions).
//!
//! The committed file holds no secret and no administrator: its users have no password (they
//! cannot log in with one). [`render_with_passwords`] (`hub definitions --passwords-from-env`)
//! gives the file a deployment loads, each user's password (from `RABBITMQ_PASSWORD_<USER>`)
//! hashed with a random salt; rendered, it is a secret and never committed. Importing the
//! committed file into a broker that has these users clears their passwords (RabbitMQ does
//! that for a user without `password_hash`): deploy the rendered one.

use base64::Engine as _;
use hub_runtime::CommonConfig;
use hub_runtime::messaging::topology::{Arg, Declaration, Topology};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ sha256(salt ‖ password)).
fn password_hash(salt: [u8; 4], password: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(password.as_bytes());
    let mut out = salt.to_vec();
    out.extend_from_slice(&h.finalize());
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn re(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if ".^$*+?()[]{}|\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One hub service's permissions: its own queues (prefix), the exchanges it consumes from or
/// binds its queues to (read; the dead-letter and requeue exchanges included) and the ones it
/// publishes to (write).
struct ServiceUser<'a> {
    name: &'a str,
    own_queues: &'static [&'static str],
    reads: &'static [&'static str],
    writes: &'static [&'static str],
}

/// The services' users; the adapters' come from [`crate::sources::SOURCES`].
const SERVICES: &[ServiceUser<'static>] = &[
    ServiceUser {
        name: "svc-inbound",
        own_queues: &["inbound."],
        reads: &["coophub.inbound", "coophub.dlx", "coophub.requeue"],
        writes: &[
            "coophub.source",
            "coophub.dlx",
            "coophub.requeue",
            "amq.default",
        ],
    },
    ServiceUser {
        name: "svc-reconciler",
        own_queues: &["reconciler."],
        reads: &["coophub.source", "coophub.dlx", "coophub.requeue"],
        writes: &[
            "coophub.identity",
            "coophub.dlx",
            "coophub.requeue",
            "amq.default",
        ],
    },
    ServiceUser {
        name: "svc-indicators",
        own_queues: &["indicators."],
        reads: &[
            "coophub.source",
            "coophub.identity",
            "coophub.dlx",
            "coophub.requeue",
        ],
        writes: &[
            "coophub.indicator",
            "coophub.dlx",
            "coophub.requeue",
            "amq.default",
        ],
    },
];

fn args_json(arguments: &[(String, Arg)]) -> Value {
    let mut m = serde_json::Map::new();
    for (k, v) in arguments {
        m.insert(k.clone(), v.json());
    }
    Value::Object(m)
}

/// The definitions document.
pub fn definitions() -> Value {
    let (exchanges, queues, bindings) = declarations();
    let shared = SharedPatterns::new();
    // no administrator: operators manage the broker with rabbitmqctl on its host (or a
    // management user they add there, outside these definitions)
    let mut users = Vec::new();
    let mut permissions = Vec::new();
    // the adapters (one per registered source: write to coophub.source only), then the services
    let adapter_users: Vec<String> = crate::sources::SOURCES
        .iter()
        .map(|r| r.service_user())
        .collect();
    let adapters = adapter_users.iter().map(|name| ServiceUser {
        name,
        own_queues: &[],
        reads: &[],
        writes: &["coophub.source"],
    });
    let services = SERVICES.iter().map(|s| ServiceUser {
        name: s.name,
        own_queues: s.own_queues,
        reads: s.reads,
        writes: s.writes,
    });
    for s in adapters.chain(services) {
        users.push(json!({"name": s.name, "tags": []}));
        permissions.push(shared.permissions_of(&s));
    }
    // the console: reads and requeues dead letters, reads queue depths
    users.push(json!({"name": "svc-console", "tags": []}));
    permissions.push(json!({
        "user": "svc-console", "vhost": "/",
        "configure": format!("^({}|.*\\.dlq)$", shared.configure),
        "write": format!("^({}|coophub\\.requeue)$", shared.write),
        "read": format!("^({}|.*\\.dlq)$", shared.read)
    }));
    let topic_permissions = agency_users(&mut users, &mut permissions);
    sorted_keys(json!({
        "rabbit_version": "3.13.0",
        "rabbitmq_version": "3.13.0",
        "users": users,
        "vhosts": [{"name": "/"}],
        "permissions": permissions,
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
        "policies": [],
        "parameters": [],
        "global_parameters": [],
        "topic_permissions": topic_permissions
    }))
}

/// The exchanges, queues and bindings the services declare, as definitions.
fn declarations() -> (Vec<Value>, Vec<Value>, Vec<Value>) {
    let topology = Topology::default();
    let common = CommonConfig::default();
    let retry = common.retry_policy();
    let mut plan = topology.shared_plan();
    // hub-inbound: the former shared queue, one bounded queue per agency, the deliveries'
    let inbound = hub_inbound::queue_specs(&hub_inbound::Config::default())
        .unwrap_or_else(|e| panic!("the committed entitlements file: {e}"));
    for spec in &inbound {
        plan.extend(topology.queue_plan(spec, &retry));
    }
    plan.extend(topology.queue_plan(
        &hub_reconciler::source_queue(&hub_reconciler::Config::default()),
        &retry,
    ));
    plan.extend(topology.queue_plan(
        &hub_indicators::input_queue(&hub_indicators::Config::default()),
        &retry,
    ));

    let (mut exchanges, mut queues, mut bindings) = (Vec::new(), Vec::new(), Vec::new());
    for d in plan {
        match d {
            Declaration::Exchange {
                name,
                kind,
                arguments,
            } => exchanges.push(json!({
                "name": name, "vhost": "/", "type": kind.as_str(), "durable": true,
                "auto_delete": false, "internal": false, "arguments": args_json(&arguments)
            })),
            Declaration::Queue { name, arguments } => queues.push(json!({
                "name": name, "vhost": "/", "durable": true, "auto_delete": false,
                "arguments": args_json(&arguments)
            })),
            Declaration::Binding {
                exchange,
                queue,
                routing_key,
            } => bindings.push(json!({
                "source": exchange, "vhost": "/", "destination": queue,
                "destination_type": "queue", "routing_key": routing_key, "arguments": {}
            })),
        }
    }
    (exchanges, queues, bindings)
}

/// What every service may do to the shared topology (regular expressions, unanchored).
///
/// Every service declares the shared topology at connect: configure on coophub.*, the
/// bindings of the retained-snapshots queue (write on it, read on the snapshot exchange)
/// and of the unrouted-identity queue (exchange and queue share the name: write on both,
/// read on the exchange), and `coophub.identity` with its alternate exchange (RabbitMQ
/// asks for read on the exchange declared and write on its alternate).
struct SharedPatterns {
    configure: &'static str,
    write: String,
    read: String,
}

impl SharedPatterns {
    fn new() -> Self {
        let unrouted = re(hub_runtime::messaging::topology::UNROUTED_IDENTITY);
        Self {
            configure: r"coophub\..*",
            write: format!(
                "{}|{unrouted}",
                re(hub_runtime::messaging::topology::RETAINED_SNAPSHOTS)
            ),
            read: format!(
                "{}|{}|{unrouted}",
                re(hub_contracts::registry::exchanges::INDICATOR),
                re(hub_contracts::registry::exchanges::IDENTITY)
            ),
        }
    }

    /// The permissions of a service's user: the shared topology, its own queues, and the
    /// exchanges it reads and writes.
    fn permissions_of(&self, s: &ServiceUser) -> Value {
        let own: Vec<String> = s
            .own_queues
            .iter()
            .map(|p| format!("{}.*", re(p)))
            .collect();
        let alt = |mut parts: Vec<String>| {
            parts.retain(|p| !p.is_empty());
            format!("^({})$", parts.join("|"))
        };
        let mut configure = vec![self.configure.to_owned()];
        configure.extend(own.iter().cloned());
        let mut write = vec![self.write.clone()];
        write.extend(s.writes.iter().map(|w| re(w)));
        write.extend(own.iter().cloned());
        let mut read = vec![self.read.clone()];
        read.extend(s.reads.iter().map(|r| re(r)));
        read.extend(own.iter().cloned());
        json!({
            "user": s.name, "vhost": "/", "configure": alt(configure), "write": alt(write), "read": alt(read)
        })
    }
}

/// Adds the agencies' users and permissions; answers their topic permissions (on
/// `coophub.inbound`, only the routing keys their entitlements grant).
fn agency_users(users: &mut Vec<Value>, permissions: &mut Vec<Value>) -> Vec<Value> {
    let entitlements = hub_inbound::entitlements::Entitlements::builtin()
        .unwrap_or_else(|e| panic!("the committed entitlements file: {e}"));
    let mut topic_permissions = Vec::new();
    for a in hub_console::agency::agency_users(&crate::sources::infos()) {
        users.push(json!({"name": a.name, "tags": a.tags}));
        permissions.push(json!({
            "user": a.name, "vhost": a.vhost, "configure": a.configure, "write": a.write, "read": a.read
        }));
        // on coophub.inbound, only the routing keys (contract types) it is entitled to; an
        // agency the entitlements do not know may publish none
        topic_permissions.push(json!({
            "user": a.name, "vhost": a.vhost,
            "exchange": hub_contracts::registry::exchanges::INBOUND,
            "write": entitlements.topic_write_pattern(&a.name).unwrap_or_else(|| "^$".into()),
            "read": "^$"
        }));
    }
    topic_permissions
}

/// `v` with every object's keys in sorted order, whatever serde_json's map keeps: with the
/// `preserve_order` feature (which another crate of the workspace may switch on) objects
/// keep insertion order, and the committed file's text must not depend on the build.
fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: std::collections::BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sorted_keys(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// The environment variable holding `user`'s password for [`render_with_passwords`]:
/// `RABBITMQ_PASSWORD_` and the name in capitals, `-` as `_` (`RABBITMQ_PASSWORD_SVC_INBOUND`).
pub fn password_variable(user: &str) -> String {
    format!(
        "RABBITMQ_PASSWORD_{}",
        user.to_ascii_uppercase().replace(['-', '.'], "_")
    )
}

/// Why the definitions could not be rendered with passwords.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{variable} is not set: the password of RabbitMQ user {user:?}")]
    Missing { user: String, variable: String },
    #[error("{variable}: a password of at least 16 characters is expected for {user:?}")]
    Weak { user: String, variable: String },
}

/// The definitions with every user's password, from `password(variable)` (the environment
/// in `hub definitions --passwords-from-env`), hashed with a random salt. Every user needs one
/// (at least 16 characters): a missing one fails, naming its variable.
pub fn render_with_passwords(
    password: impl Fn(&str) -> Option<String>,
) -> Result<Value, RenderError> {
    let mut d = definitions();
    if let Some(users) = d["users"].as_array_mut() {
        for u in users {
            let user = u["name"].as_str().unwrap_or_default().to_owned();
            let variable = password_variable(&user);
            let Some(p) = password(&variable).filter(|p| !p.is_empty()) else {
                return Err(RenderError::Missing { user, variable });
            };
            if p.chars().count() < 16 {
                return Err(RenderError::Weak { user, variable });
            }
            u["password_hash"] = Value::from(password_hash(rand::random(), &p));
            u["hashing_algorithm"] = Value::from("rabbit_password_hashing_sha256");
        }
    }
    Ok(d)
}

/// The committed file's path, from the repository root.
pub const DEFINITIONS_PATH: &str = "deploy/rabbitmq/definitions.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_definitions_equal_the_topology_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFINITIONS_PATH);
        let committed: Value = serde_json::from_str(
            &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .expect("definitions.json is JSON");
        assert_eq!(
            committed,
            definitions(),
            "run `hub definitions > {DEFINITIONS_PATH}` and commit"
        );
    }

    #[test]
    fn committed_definitions_hold_no_secret_and_no_administrator() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFINITIONS_PATH);
        let text = std::fs::read_to_string(&path).expect("definitions.json");
        assert!(
            !text.contains("password"),
            "no password or hash in {path:?}"
        );
        let d: Value = serde_json::from_str(&text).expect("JSON");
        let users = d["users"].as_array().expect("users");
        assert!(!users.is_empty());
        for u in users {
            assert!(
                u["tags"].as_array().is_some_and(|t| t.is_empty()),
                "no user has a tag (administrator, management, …): {u}"
            );
            assert!(u.get("password_hash").is_none() && u.get("password").is_none());
        }
        assert!(
            !users
                .iter()
                .any(|u| u["name"] == "guest" || u["name"] == "hub-admin"),
            "no default or administrator user"
        );
        for p in d["permissions"].as_array().expect("permissions") {
            for what in ["configure", "write", "read"] {
                assert_ne!(p[what], ".*", "nobody may do everything: {p}");
            }
        }
    }

    #[test]
    fn each_agency_may_publish_only_its_entitled_types_on_inbound() {
        let d = definitions();
        let entitlements = hub_inbound::entitlements::Entitlements::builtin().expect("valid");
        let agencies: Vec<String> = hub_console::agency::agency_users(&crate::sources::infos())
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(
            agencies,
            entitlements.agencies.keys().cloned().collect::<Vec<_>>(),
            "the agency users and the entitlements name the same users"
        );
        let topic = d["topic_permissions"]
            .as_array()
            .expect("topic permissions");
        assert_eq!(topic.len(), agencies.len());
        let fund = topic
            .iter()
            .find(|t| t["user"] == "agency-loan-fund")
            .expect("the fund's");
        assert_eq!(fund["exchange"], "coophub.inbound");
        assert_eq!(fund["write"], "^(source\\.disbursement\\.v1)$");
    }

    /// The exchanges each agency reads, by its RabbitMQ permissions (hub-console's agency
    /// users), are the ones whose events hub-inbound logs as delivered to it (`reads` in the
    /// entitlements): the two lists cannot drift.
    #[test]
    fn each_agency_is_logged_as_receiving_what_it_may_read() {
        let entitlements = hub_inbound::entitlements::Entitlements::builtin().expect("valid");
        for a in hub_console::agency::agency_users(&crate::sources::infos()) {
            let grant = &entitlements.agencies[&a.name];
            for exchange in hub_inbound::entitlements::READABLE_EXCHANGES {
                let readable = a.read.contains(&re(exchange));
                let logged = grant.reads.iter().any(|r| r == exchange);
                assert_eq!(
                    readable, logged,
                    "{}: may read {exchange}: {readable}; logged as received: {logged}",
                    a.name
                );
            }
        }
    }

    #[test]
    fn rendering_hashes_every_users_password_or_names_the_missing_one() {
        let pw = |v: &str| Some(format!("{v}-0123456789abcdef"));
        let d = render_with_passwords(pw).expect("every password given");
        for u in d["users"].as_array().expect("users") {
            let name = u["name"].as_str().expect("name");
            let h = base64::engine::general_purpose::STANDARD
                .decode(u["password_hash"].as_str().expect("hashed"))
                .expect("base64");
            let mut sha = Sha256::new();
            sha.update(&h[..4]);
            sha.update(pw(&password_variable(name)).expect("pw").as_bytes());
            assert_eq!(h[4..].to_vec(), sha.finalize().to_vec(), "{name}");
        }
        let e = render_with_passwords(|v| {
            (v != "RABBITMQ_PASSWORD_SVC_INBOUND")
                .then(|| pw(v))
                .flatten()
        })
        .expect_err("one missing")
        .to_string();
        assert!(e.contains("RABBITMQ_PASSWORD_SVC_INBOUND"), "{e}");
        let e = render_with_passwords(|_| Some("short".into()))
            .expect_err("weak")
            .to_string();
        assert!(e.contains("16"), "{e}");
    }

    #[test]
    fn password_hashes_follow_rabbitmq_sha256_scheme() {
        let h = base64::engine::general_purpose::STANDARD
            .decode(password_hash([1, 2, 3, 4], "secret"))
            .expect("base64");
        assert_eq!(h.len(), 4 + 32);
        let mut d = Sha256::new();
        d.update(&h[..4]);
        d.update(b"secret");
        assert_eq!(h[4..].to_vec(), d.finalize().to_vec());
    }

    #[test]
    fn every_service_queue_is_a_quorum_queue_with_a_delivery_limit() {
        let d = definitions();
        let queues = d["queues"].as_array().expect("queues");
        let consumer_queues = [
            "inbound.source",
            "inbound.source.agency-coop-alliance",
            "inbound.source.agency-loan-fund",
            "inbound.source.agency-ntm",
            "inbound.delivered",
            "reconciler.source",
            "indicators.inputs",
        ];
        for q in queues.iter().filter(|q| {
            let n = q["name"].as_str().unwrap_or("");
            consumer_queues.contains(&n)
        }) {
            assert_eq!(q["arguments"]["x-queue-type"], "quorum");
            assert!(q["arguments"]["x-delivery-limit"].as_i64().unwrap_or(0) > 0);
            assert_eq!(q["arguments"]["x-dead-letter-exchange"], "coophub.dlx");
        }
        assert_eq!(
            queues
                .iter()
                .filter(|q| q["name"].as_str().is_some_and(|n| n.ends_with(".dlq")))
                .count(),
            consumer_queues.len()
        );
        // each agency's queue is bounded on its own and bound only to its own contract types
        for (agency, ty) in [
            ("agency-coop-alliance", "source.cooperative.v1"),
            ("agency-loan-fund", "source.disbursement.v1"),
            ("agency-ntm", "source.ntm_report.v1"),
        ] {
            let name = format!("inbound.source.{agency}");
            let q = queues
                .iter()
                .find(|q| q["name"] == name.as_str())
                .expect("queue");
            assert_eq!(q["arguments"]["x-overflow"], "reject-publish");
            assert!(q["arguments"]["x-max-length"].as_i64().is_some(), "{q}");
            let keys: Vec<&str> = d["bindings"]
                .as_array()
                .expect("bindings")
                .iter()
                .filter(|b| b["destination"] == name.as_str() && b["source"] == "coophub.inbound")
                .filter_map(|b| b["routing_key"].as_str())
                .collect();
            assert_eq!(keys, [ty], "{name}");
        }
        assert!(
            !d["bindings"].as_array().expect("bindings").iter().any(|b| {
                b["destination"] == "inbound.source" && b["source"] == "coophub.inbound"
            }),
            "nothing routes to the former shared queue"
        );
    }
}

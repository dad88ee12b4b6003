//! RabbitMQ definitions (`deploy/rabbitmq/definitions.json`) generated from the topology
//! code itself, so that the broker's pre-declared exchanges and queues are exactly what the
//! services declare at start, and every service and agency system has its own user with the
//! least privilege it needs.
//!
//! Passwords are development defaults (each user's password is its name), hashed with a salt
//! derived from the name so that the file is reproducible; a deployment replaces the file (or
//! the users) with its own secrets.

use base64::Engine as _;
use hub_runtime::CommonConfig;
use hub_runtime::messaging::topology::{Arg, Declaration, Topology};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// RabbitMQ's `rabbit_password_hashing_sha256`: base64(salt ‖ sha256(salt ‖ password)).
fn password_hash(user: &str, password: &str) -> String {
    let salt: [u8; 4] = {
        let d = Sha256::digest(format!("coophub-dev-salt:{user}").as_bytes());
        [d[0], d[1], d[2], d[3]]
    };
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
struct ServiceUser {
    name: &'static str,
    own_queues: &'static [&'static str],
    reads: &'static [&'static str],
    writes: &'static [&'static str],
}

const SERVICES: &[ServiceUser] = &[
    ServiceUser {
        name: "svc-adapter-coop-alliance",
        own_queues: &[],
        reads: &[],
        writes: &["coophub.source"],
    },
    ServiceUser {
        name: "svc-adapter-loan-fund",
        own_queues: &[],
        reads: &[],
        writes: &["coophub.source"],
    },
    ServiceUser {
        name: "svc-adapter-ntm",
        own_queues: &[],
        reads: &[],
        writes: &["coophub.source"],
    },
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
    let topology = Topology::default();
    let common = CommonConfig::default();
    let retry = common.retry_policy();
    let mut plan = topology.shared_plan();
    plan.extend(topology.queue_plan(&hub_inbound::queue_spec(common.delivery_limit), &retry));
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

    // every service declares the shared topology at connect: configure on coophub.*, the
    // bindings of the retained-snapshots queue (write on it, read on the snapshot exchange)
    // and of the unrouted-identity queue (exchange and queue share the name: write on both,
    // read on the exchange), and `coophub.identity` with its alternate exchange (RabbitMQ
    // asks for read on the exchange declared and write on its alternate)
    let shared_configure = r"coophub\..*";
    let unrouted = re(hub_runtime::messaging::topology::UNROUTED_IDENTITY);
    let shared_write = format!(
        "{}|{unrouted}",
        re(hub_runtime::messaging::topology::RETAINED_SNAPSHOTS)
    );
    let shared_read = format!(
        "{}|{}|{unrouted}",
        re(hub_contracts::registry::exchanges::INDICATOR),
        re(hub_contracts::registry::exchanges::IDENTITY)
    );
    let mut users = vec![json!({
        "name": "hub-admin", "password_hash": password_hash("hub-admin", "hub-admin"),
        "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["administrator"]
    })];
    let mut permissions = vec![json!({
        "user": "hub-admin", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"
    })];
    for s in SERVICES {
        let own: Vec<String> = s
            .own_queues
            .iter()
            .map(|p| format!("{}.*", re(p)))
            .collect();
        let alt = |mut parts: Vec<String>| {
            parts.retain(|p| !p.is_empty());
            format!("^({})$", parts.join("|"))
        };
        let mut configure = vec![shared_configure.to_owned()];
        configure.extend(own.iter().cloned());
        let mut write = vec![shared_write.clone()];
        write.extend(s.writes.iter().map(|w| re(w)));
        write.extend(own.iter().cloned());
        let mut read = vec![shared_read.clone()];
        read.extend(s.reads.iter().map(|r| re(r)));
        read.extend(own.iter().cloned());
        users.push(json!({
            "name": s.name, "password_hash": password_hash(s.name, s.name),
            "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []
        }));
        permissions.push(json!({
            "user": s.name, "vhost": "/", "configure": alt(configure), "write": alt(write), "read": alt(read)
        }));
    }
    // the console: reads and requeues dead letters, reads queue depths
    users.push(json!({
        "name": "svc-console", "password_hash": password_hash("svc-console", "svc-console"),
        "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []
    }));
    permissions.push(json!({
        "user": "svc-console", "vhost": "/",
        "configure": format!("^({shared_configure}|.*\\.dlq)$"),
        "write": format!("^({shared_write}|coophub\\.requeue)$"),
        "read": format!("^({shared_read}|.*\\.dlq)$")
    }));
    for a in hub_console::agency::agency_users() {
        users.push(json!({
            "name": a.name, "password_hash": password_hash(&a.name, &a.name),
            "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": a.tags
        }));
        permissions.push(json!({
            "user": a.name, "vhost": a.vhost, "configure": a.configure, "write": a.write, "read": a.read
        }));
    }
    json!({
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
        "topic_permissions": []
    })
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
    fn password_hashes_follow_rabbitmq_sha256_scheme() {
        let h = base64::engine::general_purpose::STANDARD
            .decode(password_hash("u", "secret"))
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
        for q in queues.iter().filter(|q| {
            let n = q["name"].as_str().unwrap_or("");
            ["inbound.source", "reconciler.source", "indicators.inputs"].contains(&n)
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
            3
        );
    }
}

//! The agency systems' RabbitMQ users, as data: each registered source whose agency pushes
//! (its registration's `agency`, given here as [`SourceInfo`]) gets its own user on the
//! hub's vhost, limited to what it needs: publish its pushes to `coophub.inbound`, bind and
//! consume its own queues (named `agency.<system>.…`) on the public exchanges it reads.
//!
//! The lead's `definitions.json` generator includes [`agency_users`] (see
//! `deploy/rabbitmq/agency-users.md`). RabbitMQ permission regexes apply to resource names:
//! `configure` (declare/delete), `write` (publish to an exchange; bind *to* a queue) and
//! `read` (consume from a queue; bind *from* an exchange). Owns no I/O.

use hub_runtime::Topology;
use hub_runtime::sources::SourceInfo;
use serde::Serialize;

/// The vhost the hub uses.
pub const VHOST: &str = "/";

/// One agency system's RabbitMQ user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgencyUser {
    /// User name: `agency-<system>`.
    pub name: String,
    /// What the agency is.
    pub description: String,
    pub vhost: String,
    /// Regex of resources it may declare and delete: its own queues.
    pub configure: String,
    /// Regex of resources it may write: `coophub.inbound` (pushes) and its own queues
    /// (bindings).
    pub write: String,
    /// Regex of resources it may read: the public exchanges it binds from, and its own queues.
    pub read: String,
    /// RabbitMQ user tags: none (no management UI access).
    pub tags: Vec<String>,
}

fn quote(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if ".^$*+?()[]{}|\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The agency users of the registered sources whose agency pushes, for the production
/// topology (no namespace).
pub fn agency_users(sources: &[SourceInfo]) -> Vec<AgencyUser> {
    agency_users_in(&Topology::default(), sources)
}

/// The agency users of the registered sources whose agency pushes, for a topology (names
/// carry its namespace).
pub fn agency_users_in(topology: &Topology, sources: &[SourceInfo]) -> Vec<AgencyUser> {
    sources
        .iter()
        .filter_map(|s| Some((s, s.agency?)))
        .map(|(source, agency)| {
            let system = source.system;
            let own = format!(
                "{}\\..*",
                quote(&topology.name(&format!("agency.{system}")))
            );
            let inbound = quote(&topology.name(hub_contracts::registry::exchanges::INBOUND));
            let exchanges: Vec<String> = agency
                .reads
                .iter()
                .map(|e| quote(&topology.name(e)))
                .collect();
            AgencyUser {
                name: hub_runtime::sources::agency_user(system),
                description: agency.description.to_owned(),
                vhost: VHOST.to_owned(),
                configure: format!("^{own}$"),
                write: format!("^({inbound}|{own})$"),
                read: format!("^({}|{own})$", exchanges.join("|")),
                tags: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(re: &str, name: &str) -> bool {
        // the regexes use only ^, $, (a|b), \. and .* : a tiny matcher suffices for the test
        let body = re.trim_start_matches('^').trim_end_matches('$');
        let body = body.trim_start_matches('(').trim_end_matches(')');
        body.split('|').any(|alt| {
            let alt = alt.replace("\\.", "\u{0}");
            match alt.strip_suffix(".*") {
                Some(prefix) => name.replace('.', "\u{0}").starts_with(prefix),
                None => name.replace('.', "\u{0}") == alt,
            }
        })
    }

    /// Three sources whose agencies push, as the registrations give them, and a file source
    /// whose agency does not.
    fn sources() -> Vec<SourceInfo> {
        use hub_runtime::sources::{Agency, SourceNames};
        let source = |system: &'static str, agency: Option<Agency>| SourceInfo {
            system,
            names: SourceNames {
                vi: system,
                en: system,
            },
            contracts: &[],
            file_source: agency.is_none(),
            agency,
        };
        let reads_both = Agency {
            description: "pushes; reads golden records and indicators",
            reads: &["coophub.identity", "coophub.indicator"],
        };
        vec![
            source("coop-alliance", Some(reads_both)),
            source("loan-fund", Some(reads_both)),
            source(
                "ntm",
                Some(Agency {
                    description: "pushes; reads indicators",
                    reads: &["coophub.indicator"],
                }),
            ),
            source("farmers-union", None),
        ]
    }

    #[test]
    fn each_agency_is_limited_to_its_own_queues() {
        let users = agency_users(&sources());
        assert_eq!(users.len(), 3, "the file source's agency has no push user");
        let loan = users
            .iter()
            .find(|u| u.name == "agency-loan-fund")
            .expect("loan fund");
        assert!(matches(&loan.write, "coophub.inbound"));
        assert!(matches(&loan.configure, "agency.loan-fund.indicators"));
        assert!(matches(&loan.read, "agency.loan-fund.indicators"));
        assert!(matches(&loan.read, "coophub.indicator"));
        // not another agency's queue, not the hub's own queues or exchanges
        for other in [
            "agency.ntm.indicators",
            "reconciler.source",
            "inbound.source.dlq",
        ] {
            assert!(!matches(&loan.configure, other), "{other}");
            assert!(!matches(&loan.read, other), "{other}");
            assert!(!matches(&loan.write, other), "{other}");
        }
        assert!(
            !matches(&loan.write, "coophub.source"),
            "never straight to coophub.source"
        );
        assert!(!matches(&loan.write, "coophub.identity"));
        assert!(users.iter().all(|u| u.tags.is_empty() && u.vhost == "/"));
    }

    #[test]
    fn namespaced_names() {
        let users = agency_users_in(&Topology::new("t1"), &sources());
        assert_eq!(users[0].configure, "^t1\\.agency\\.coop-alliance\\..*$");
        assert!(users[0].write.contains("t1\\.coophub\\.inbound"));
    }
}

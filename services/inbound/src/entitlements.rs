//! Who may push what: each agency's RabbitMQ user, the source systems it speaks for and the
//! contract types it may publish on `coophub.inbound`, as data (a TOML file; the committed
//! default is `deploy/inbound/entitlements.toml`, embedded at build time).
//!
//! The broker proves who published a message (the AMQP `user_id` it validates against the
//! connection's user); this module decides whether that user may say what the message says
//! ([`Entitlements::check`]). A system belongs to one user only ([`Entitlements::parse`]
//! refuses a file that grants it twice), so no agency can speak for another's system. The
//! same data gives the agency users' topic permissions in the RabbitMQ definitions
//! ([`Entitlements::topic_write_pattern`]). Owns no I/O beyond reading the file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

/// The committed default (`deploy/inbound/entitlements.toml`).
pub const DEFAULT_FILE: &str = include_str!("../../../deploy/inbound/entitlements.toml");
/// Its path from the repository root (for messages).
pub const DEFAULT_PATH: &str = "deploy/inbound/entitlements.toml";

/// What one agency user may publish.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Source systems whose records it may publish (`data.meta.source.system`).
    pub systems: Vec<String>,
    /// Contract types it may publish (also its routing keys on `coophub.inbound`).
    pub types: Vec<String>,
    /// The hub's public exchanges it reads (`coophub.identity`, `coophub.indicator`): what
    /// is published there is recorded in its exchange-log chain as delivered to it.
    #[serde(default)]
    pub reads: Vec<String>,
}

/// The envelope `source` (producer) of an agency's push names its system:
/// `urn:agency:<system>`.
pub const AGENCY_SOURCE_PREFIX: &str = "urn:agency:";

/// The exchanges an agency may be granted to read (`reads`).
pub const READABLE_EXCHANGES: [&str; 2] = [
    hub_contracts::registry::exchanges::IDENTITY,
    hub_contracts::registry::exchanges::INDICATOR,
];

/// The entitlements file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entitlements {
    /// Hub users whose messages are the hub's own copies of a push (retries, replays).
    #[serde(default)]
    pub relays: Vec<String>,
    /// Agency users by RabbitMQ user name.
    #[serde(default)]
    pub agencies: BTreeMap<String, Grant>,
}

/// Why an entitlements file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum EntitlementsError {
    #[error("entitlements file {path}: {message}")]
    Read { path: String, message: String },
    #[error("entitlements file {path}: {message}")]
    Invalid { path: String, message: String },
}

/// Why a push was refused: the reason a dead letter carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "not entitled: the message carries no broker-verified publisher (AMQP user_id); \
         publish with user_id set to your RabbitMQ user name"
    )]
    NoUser,
    #[error("not entitled: publisher {user:?} is not an agency user of the hub")]
    UnknownUser { user: String },
    #[error(
        "not entitled: publisher {user:?} may not publish records of system {system:?} \
         (its systems: {allowed})"
    )]
    System {
        user: String,
        system: String,
        allowed: String,
    },
    #[error(
        "not entitled: publisher {user:?} may not publish {ty} (its contract types: {allowed})"
    )]
    Type {
        user: String,
        ty: String,
        allowed: String,
    },
    #[error(
        "not entitled: the envelope's source (producer) {producer:?} does not agree with \
         publisher {user:?} and the record's system: expected {expected:?}"
    )]
    Producer {
        user: String,
        producer: String,
        expected: String,
    },
}

impl Entitlements {
    /// The committed default.
    pub fn builtin() -> Result<Self, EntitlementsError> {
        Self::parse(DEFAULT_FILE, DEFAULT_PATH)
    }

    /// Reads and checks a file.
    pub fn load(path: &Path) -> Result<Self, EntitlementsError> {
        let text = std::fs::read_to_string(path).map_err(|e| EntitlementsError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks: every user grants at least one system and type, and no system and
    /// no contract type is granted to two users (a type routes pushes to its agency's own
    /// queue, see [`crate::agency_queue`]).
    pub fn parse(text: &str, path: &str) -> Result<Self, EntitlementsError> {
        let invalid = |message: String| EntitlementsError::Invalid {
            path: path.to_owned(),
            message,
        };
        let e: Entitlements = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
        let mut type_owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (user, grant) in &e.agencies {
            // the user names its queue (`inbound.source.<user>`) and its exchange-log chain
            if user.is_empty()
                || user.len() > 100
                || !user
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(invalid(format!(
                    "agency user {user:?}: 1 to 100 of a-z, A-Z, 0-9, '-', '_', '.'"
                )));
            }
            if grant.systems.is_empty() || grant.types.is_empty() {
                return Err(invalid(format!(
                    "agency user {user:?} needs at least one system and one type"
                )));
            }
            if e.relays.contains(user) {
                return Err(invalid(format!(
                    "{user:?} is both an agency user and a relay"
                )));
            }
            for exchange in &grant.reads {
                if !READABLE_EXCHANGES.contains(&exchange.as_str()) {
                    return Err(invalid(format!(
                        "agency user {user:?} reads {exchange:?}: not one of {}",
                        READABLE_EXCHANGES.join(", ")
                    )));
                }
            }
            for ty in &grant.types {
                if !hub_contracts::registry::is_source_record(ty) {
                    return Err(invalid(format!(
                        "agency user {user:?}: {ty:?} is not a source-record contract type"
                    )));
                }
                if let Some(other) = type_owner.insert(ty, user) {
                    return Err(invalid(format!(
                        "type {ty:?} is granted to both {other:?} and {user:?}: each agency's \
                         pushes have a queue of their own, bound by contract type"
                    )));
                }
            }
            for system in &grant.systems {
                if let Some(other) = owner.insert(system, user) {
                    return Err(invalid(format!(
                        "system {system:?} is granted to both {other:?} and {user:?}: \
                         a system has one publisher"
                    )));
                }
            }
        }
        Ok(e)
    }

    /// Whether `user` may publish a record of `system` as contract type `ty`, in an envelope
    /// whose `source` (producer) is `producer`. `system` is `None` when the record does not
    /// name one (its schema check reports that). The producer must be
    /// `urn:agency:<system>`: the record's own system, one the user speaks for (or, without
    /// a system, one of the user's).
    pub fn check(
        &self,
        user: Option<&str>,
        ty: &str,
        system: Option<&str>,
        producer: &str,
    ) -> Result<(), Refusal> {
        let user = user.ok_or(Refusal::NoUser)?;
        let grant = self
            .agencies
            .get(user)
            .ok_or_else(|| Refusal::UnknownUser {
                user: user.to_owned(),
            })?;
        if let Some(system) = system
            && !grant.systems.iter().any(|s| s == system)
        {
            return Err(Refusal::System {
                user: user.to_owned(),
                system: system.to_owned(),
                allowed: grant.systems.join(", "),
            });
        }
        if !grant.types.iter().any(|t| t == ty) {
            return Err(Refusal::Type {
                user: user.to_owned(),
                ty: ty.to_owned(),
                allowed: grant.types.join(", "),
            });
        }
        let named = producer.strip_prefix(AGENCY_SOURCE_PREFIX);
        let agrees = match (named, system) {
            (Some(n), Some(s)) => n == s,
            (Some(n), None) => grant.systems.iter().any(|s| s == n),
            (None, _) => false,
        };
        if !agrees {
            let expected = match system {
                Some(s) => format!("{AGENCY_SOURCE_PREFIX}{s}"),
                None => grant
                    .systems
                    .iter()
                    .map(|s| format!("{AGENCY_SOURCE_PREFIX}{s}"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            return Err(Refusal::Producer {
                user: user.to_owned(),
                producer: producer.chars().take(200).collect(),
                expected,
            });
        }
        Ok(())
    }

    /// The agency users that read `exchange` (base name), in name order.
    pub fn readers_of(&self, exchange: &str) -> Vec<&str> {
        self.agencies
            .iter()
            .filter(|(_, g)| g.reads.iter().any(|r| r == exchange))
            .map(|(u, _)| u.as_str())
            .collect()
    }

    /// The routing keys `user` may publish on `coophub.inbound`, as a RabbitMQ topic
    /// permission regex (its contract types); `None` for a user this file does not know.
    pub fn topic_write_pattern(&self, user: &str) -> Option<String> {
        let grant = self.agencies.get(user)?;
        let keys: Vec<String> = grant.types.iter().map(|t| t.replace('.', "\\.")).collect();
        Some(format!("^({})$", keys.join("|")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_file_gives_each_agency_its_own_system() {
        let e = Entitlements::builtin().expect("the committed file is valid");
        assert_eq!(e.agencies.len(), 3);
        e.check(
            Some("agency-coop-alliance"),
            "source.cooperative.v1",
            Some("coop-alliance"),
            "urn:agency:coop-alliance",
        )
        .expect("the registry speaks for itself");
        let r = e
            .check(
                Some("agency-loan-fund"),
                "source.cooperative.v1",
                Some("coop-alliance"),
                "urn:agency:coop-alliance",
            )
            .expect_err("the fund may not speak for the registry");
        assert!(matches!(r, Refusal::System { .. }), "{r}");
        assert!(r.to_string().contains("\"coop-alliance\""), "{r}");
        let r = e
            .check(
                Some("agency-loan-fund"),
                "source.cooperative.v1",
                Some("loan-fund"),
                "urn:agency:loan-fund",
            )
            .expect_err("not its type");
        assert!(matches!(r, Refusal::Type { .. }), "{r}");
        assert_eq!(
            e.check(
                None,
                "source.cooperative.v1",
                Some("coop-alliance"),
                "urn:agency:coop-alliance"
            ),
            Err(Refusal::NoUser)
        );
        assert!(matches!(
            e.check(
                Some("guest"),
                "source.cooperative.v1",
                Some("coop-alliance"),
                "urn:agency:coop-alliance"
            ),
            Err(Refusal::UnknownUser { .. })
        ));
        assert!(matches!(
            e.check(
                Some("svc-inbound"),
                "source.cooperative.v1",
                Some("coop-alliance"),
                "urn:agency:coop-alliance"
            ),
            Err(Refusal::UnknownUser { .. })
        ));
        assert_eq!(
            e.topic_write_pattern("agency-ntm").as_deref(),
            Some("^(source\\.ntm_report\\.v1)$")
        );
    }

    #[test]
    fn the_envelope_source_must_name_the_records_system() {
        let e = Entitlements::builtin().expect("valid");
        let registry = Some("agency-coop-alliance");
        let ty = "source.cooperative.v1";
        for producer in [
            "urn:agency:loan-fund",
            "urn:coophub:adapter:coop-alliance",
            "urn:agency:coop-alliance-x",
            "",
        ] {
            let r = e
                .check(registry, ty, Some("coop-alliance"), producer)
                .expect_err(producer);
            assert!(matches!(r, Refusal::Producer { .. }), "{r}");
            assert!(
                r.to_string().contains("urn:agency:coop-alliance"),
                "names what is expected: {r}"
            );
        }
        // without a system in the record, the producer must still be one of the user's
        e.check(registry, ty, None, "urn:agency:coop-alliance")
            .expect("its own system");
        assert!(matches!(
            e.check(registry, ty, None, "urn:agency:ntm"),
            Err(Refusal::Producer { .. })
        ));
        assert_eq!(
            e.readers_of("coophub.indicator"),
            vec!["agency-coop-alliance", "agency-loan-fund", "agency-ntm"]
        );
        assert_eq!(
            e.readers_of("coophub.identity"),
            vec!["agency-coop-alliance", "agency-loan-fund"]
        );
    }

    #[test]
    fn a_system_granted_twice_is_refused() {
        let text = r#"
            [agencies.a]
            systems = ["coop-alliance"]
            types = ["source.cooperative.v1"]
            [agencies.b]
            systems = ["loan-fund", "coop-alliance"]
            types = ["source.disbursement.v1"]
        "#;
        let e = Entitlements::parse(text, "x.toml").expect_err("granted twice");
        assert!(e.to_string().contains("one publisher"), "{e}");
        let e = Entitlements::parse(
            "[agencies.a]\nsystems = [\"x\"]\ntypes = [\"identity.golden_record.v1\"]\n",
            "x.toml",
        )
        .expect_err("not a source record");
        assert!(e.to_string().contains("source-record"), "{e}");
        let e = Entitlements::parse(
            "[agencies.a]\nsystems = [\"x\"]\ntypes = [\"source.cooperative.v1\"]\n\
             reads = [\"coophub.source\"]\n",
            "x.toml",
        )
        .expect_err("not a readable exchange");
        assert!(e.to_string().contains("coophub.source"), "{e}");
        let text = r#"
            [agencies.a]
            systems = ["x"]
            types = ["source.cooperative.v1"]
            [agencies.b]
            systems = ["y"]
            types = ["source.cooperative.v1"]
        "#;
        let e = Entitlements::parse(text, "x.toml").expect_err("type granted twice");
        assert!(e.to_string().contains("queue of their own"), "{e}");
        let e = Entitlements::parse(
            "[agencies.\"a b\"]\nsystems = [\"x\"]\ntypes = [\"source.cooperative.v1\"]\n",
            "x.toml",
        )
        .expect_err("a user name that cannot name a queue");
        assert!(e.to_string().contains("1 to 100"), "{e}");
    }
}

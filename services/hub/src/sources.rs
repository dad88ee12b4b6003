//! The source systems of this hub: ONE list. Each entry is the source crate's own
//! registration (`hub_adapter_<system>::REGISTRATION`), from which come `hub adapter
//! <system>`, `hub upload <system> FILE…` for a file source, `hub acceptance <system>`, the
//! adapter's RabbitMQ user in the generated definitions, the console's file sources, and the
//! adapter's service, users, settings and secrets in the deployment files (`hub
//! deploy-files`). Adding a source is a line here (and its crate in the workspace's and this
//! crate's dependencies).

use hub_adapter_kit::Registration;

/// Every source the hub runs an adapter for.
pub const SOURCES: &[Registration] = &[
    hub_adapter_coop_alliance::REGISTRATION,
    hub_adapter_loan_fund::REGISTRATION,
    hub_adapter_ntm::REGISTRATION,
    hub_adapter_farmers_union::REGISTRATION,
];

/// A source by its system name.
pub fn find(system: &str) -> Option<&'static Registration> {
    SOURCES.iter().find(|s| s.system == system)
}

/// The systems' names (`hub adapter <system>`).
pub fn names() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|s| s.system)
}

/// The file sources' names (`hub upload <system>`).
pub fn file_sources() -> impl Iterator<Item = &'static str> {
    SOURCES
        .iter()
        .filter(|s| s.upload.is_some())
        .map(|s| s.system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_are_unique_and_the_union_is_a_file_source() {
        let mut names: Vec<&str> = names().collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SOURCES.len());
        assert_eq!(file_sources().collect::<Vec<_>>(), vec!["farmers-union"]);
    }

    #[test]
    fn every_source_publishes_registered_source_contracts() {
        for s in SOURCES {
            assert!(!s.contracts.is_empty(), "{}: no contract", s.system);
            for ty in s.contracts {
                assert!(
                    hub_contracts::registry::is_source_record(ty)
                        && hub_contracts::registry::find_contract(ty).is_some(),
                    "{}: {ty} is no registered source contract",
                    s.system
                );
            }
        }
    }
}

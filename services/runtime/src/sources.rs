//! What the services need to know of the hub's source systems, as plain data: each source's
//! crate declares it in its registration (`hub_adapter_kit::Registration`), the `hub` binary
//! hands the registered sources to the services that need them (the console's upload page,
//! the report's agency names, the agency users of the broker definitions and of
//! hub-inbound's entitlements). No service keeps a list of sources of its own.
//!
//! Owns no I/O.

/// One registered source system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    /// The system's name (`SourceRef.system`).
    pub system: &'static str,
    /// The agency behind it, as the provincial report names it.
    pub names: SourceNames,
    /// The contract types its records are published as (`source.*`).
    pub contracts: &'static [&'static str],
    /// A file source: records come as uploaded files (the console's upload page lists it).
    pub file_source: bool,
    /// Its agency may also push its records itself (hub-inbound), as `agency-<system>`.
    pub agency: Option<Agency>,
}

/// The agency behind a source, in Vietnamese and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceNames {
    pub vi: &'static str,
    pub en: &'static str,
}

/// A source whose agency pushes its own records to `coophub.inbound`: it gets the RabbitMQ
/// user `agency-<system>`, entitled to publish only records of its own system, as the
/// source's contract types, and to read the public exchanges named here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agency {
    /// What the agency is (the broker user's description).
    pub description: &'static str,
    /// The hub's public exchanges it reads (base names: `coophub.identity`,
    /// `coophub.indicator`).
    pub reads: &'static [&'static str],
}

impl SourceInfo {
    /// The agency's RabbitMQ user: `agency-<system>`.
    pub fn agency_user(&self) -> Option<String> {
        self.agency.map(|_| agency_user(self.system))
    }
}

/// The RabbitMQ user of a system's agency: `agency-<system>`.
pub fn agency_user(system: &str) -> String {
    format!("agency-{system}")
}

/// The agency's names of `system` among `sources`; the system's own name when none is
/// registered.
pub fn names_of(sources: &[SourceInfo], system: &str) -> (String, String) {
    sources
        .iter()
        .find(|s| s.system == system)
        .map(|s| (s.names.vi.to_owned(), s.names.en.to_owned()))
        .unwrap_or_else(|| (system.to_owned(), system.to_owned()))
}

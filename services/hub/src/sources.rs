//! The source systems of this hub: ONE list. Each entry is the source crate's own
//! registration (`hub_adapter_<system>::REGISTRATION`), from which come `hub adapter
//! <system>`, `hub upload <system> FILE…` for a file source, `hub acceptance <system>`, the
//! adapter's RabbitMQ user in the generated definitions, its agency's push user and
//! entitlements (`agency`), the console's file sources, the report's name of its agency, its
//! adapter in the in-process pipeline (`hub demo`), and the adapter's service, users,
//! settings and secrets in the deployment files (`hub deploy-files`). Adding a source is a
//! line here (and its crate in the workspace's and this crate's dependencies).

use hub_adapter_kit::{Registration, SourceInfo};

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

/// What the services need to know of the sources (the console's upload page, the report's
/// agency names, the agency users), as data.
pub fn infos() -> Vec<SourceInfo> {
    SOURCES.iter().map(Registration::info).collect()
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

    /// Every registered source is, with no other list to edit: a broker user for its
    /// adapter in the definitions; its agency's push user, topic permission, entitlements
    /// and queue (or none of these, when its agency does not push); on the console's upload
    /// page when it is a file source; named by the report as its registration names it; run
    /// by the in-process pipeline.
    #[test]
    fn each_registered_source_appears_wherever_the_hub_needs_it() {
        let infos = infos();
        let definitions = crate::definitions::definitions();
        let named = |list: &str, key: &str| -> Vec<String> {
            definitions[list]
                .as_array()
                .expect(list)
                .iter()
                .filter_map(|u| u[key].as_str().map(str::to_owned))
                .collect()
        };
        let (users, queues) = (named("users", "name"), named("queues", "name"));
        let entitlements = hub_inbound::entitlements::Entitlements::builtin().expect("valid");
        let console = hub_console::Config {
            adapter_urls: SOURCES
                .iter()
                .map(|s| {
                    (
                        s.system.to_owned(),
                        format!("http://{}:8080", s.service_name()),
                    )
                })
                .collect(),
            ..hub_console::Config::default()
        }
        .with_sources(infos.clone());
        let pipeline = crate::pipeline::Sources {
            adapter_http: names()
                .map(|n| (n.to_owned(), "127.0.0.1:0".parse().expect("address")))
                .collect(),
            ..Default::default()
        };
        let running = crate::pipeline::running_sources(&pipeline);
        for s in SOURCES {
            let system = s.system;
            assert!(
                users.contains(&s.service_user()),
                "{system}: its adapter's user"
            );
            assert_eq!(
                hub_indicators::report::source_names(&infos, system),
                (s.names.vi.to_owned(), s.names.en.to_owned()),
                "{system}: the report's name"
            );
            assert!(
                running.iter().any(|r| r.system == system),
                "{system}: run by the pipeline"
            );
            assert_eq!(
                console.file_sources().iter().any(|f| f == system),
                s.is_file_source(),
                "{system}: on the console's upload page when a file source"
            );
            let user = hub_runtime::sources::agency_user(system);
            let grant = entitlements.agencies.get(&user);
            match s.agency {
                Some(agency) => {
                    let grant = grant.unwrap_or_else(|| panic!("{system}: no entitlements"));
                    assert_eq!(grant.systems, [system], "{system}: only its own system");
                    assert_eq!(grant.types, s.contracts, "{system}: its contract types");
                    assert_eq!(grant.reads, agency.reads, "{system}: what it reads");
                    assert!(users.contains(&user), "{system}: its agency's user");
                    let queue = format!("inbound.source.{user}");
                    assert!(queues.contains(&queue), "{system}: its agency's queue");
                    assert!(
                        console.dlq_queues.contains(&queue),
                        "{system}: its dead letters"
                    );
                    assert!(
                        definitions["topic_permissions"]
                            .as_array()
                            .expect("topic permissions")
                            .iter()
                            .any(|t| t["user"] == user.as_str()),
                        "{system}: its topic permission"
                    );
                }
                None => {
                    assert!(grant.is_none() && !users.contains(&user), "{system}");
                    assert!(
                        entitlements
                            .agencies
                            .values()
                            .all(|g| !g.systems.iter().any(|x| x == system)),
                        "{system}: no agency speaks for a source that does not push"
                    );
                }
            }
        }
    }

    /// A registration added to the list reaches every generated place: compose and the
    /// entitlements (its agency), the agency users, the console, the report, the pipeline.
    #[test]
    fn a_new_registration_reaches_every_place_from_its_one_line() {
        const NEW: Registration = Registration {
            system: "cooperative-bank",
            about: "a hypothetical fifth source",
            names: hub_adapter_kit::SourceNames {
                vi: "Ngân hàng Hợp tác xã",
                en: "Co-operative Bank",
            },
            agency: Some(hub_adapter_kit::Agency {
                description: "pushes its loans; reads indicators",
                reads: &["coophub.indicator"],
            }),
            contracts: &["source.bank_loan.v1"],
            run: |_| Box::pin(async { Ok(()) }),
            run_with: |_, _, _| Box::pin(async { Ok(()) }),
            upload: Some(|_, _, _| Box::pin(async { Err("no files here".into()) })),
            acceptance: |_| {
                Box::pin(async {
                    Err(hub_adapter_kit::conformance::AcceptanceError::Build(
                        "hypothetical".into(),
                    ))
                })
            },
            deploy: hub_adapter_kit::Deploy {
                settings: &[],
                simulated: false,
            },
        };
        let more: Vec<Registration> = SOURCES.iter().copied().chain([NEW]).collect();
        let regions = crate::deploy_files::regions(&more);
        let region = |file: &str, name: &str| -> String {
            regions
                .iter()
                .find(|(f, _)| *f == file)
                .and_then(|(_, r)| r.iter().find(|(n, _)| *n == name))
                .map(|(_, c)| c.clone())
                .unwrap_or_else(|| panic!("{file}: {name}"))
        };
        assert!(region("docker-compose.yml", "adapters").contains("adapter-cooperative-bank:"));
        assert!(
            region("docker-compose.yml", "agency broker passwords")
                .contains("RABBITMQ_PASSWORD_AGENCY_COOPERATIVE_BANK")
        );
        let grants = region("deploy/inbound/entitlements.toml", "agencies");
        assert!(
            grants.contains(
                "[agencies.agency-cooperative-bank]\nsystems = [\"cooperative-bank\"]\n\
                 types = [\"source.bank_loan.v1\"]\nreads = [\"coophub.indicator\"]\n"
            ),
            "{grants}"
        );
        let infos: Vec<SourceInfo> = more.iter().map(Registration::info).collect();
        assert!(
            hub_console::agency::agency_users(&infos)
                .iter()
                .any(|u| u.name == "agency-cooperative-bank")
        );
        let console = hub_console::Config {
            adapter_urls: vec![("cooperative-bank".into(), "http://bank:8080".into())],
            ..hub_console::Config::default()
        }
        .with_sources(infos.clone());
        assert_eq!(console.file_sources(), ["cooperative-bank"]);
        assert!(
            console
                .dlq_queues
                .contains(&"inbound.source.agency-cooperative-bank".to_owned())
        );
        assert_eq!(
            hub_indicators::report::source_names(&infos, "cooperative-bank").1,
            "Co-operative Bank"
        );
        let pipeline = crate::pipeline::Sources {
            adapter_http: [(
                "cooperative-bank".into(),
                "127.0.0.1:0".parse().expect("addr"),
            )]
            .into(),
            ..Default::default()
        };
        assert!(
            crate::pipeline::running_among(&more, &pipeline)
                .iter()
                .any(|r| r.system == "cooperative-bank")
        );
    }
}

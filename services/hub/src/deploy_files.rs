//! The sources' part of the deployment files, generated from their registrations
//! ([`crate::sources::SOURCES`]): `hub deploy-files` rewrites the marked regions of
//! `docker-compose.yml`, `deploy/kubernetes/hub.yaml`, `deploy/gen-secrets.sh` and
//! `deploy/postgres/create-roles.sh` (each adapter's service, broker user, database role,
//! settings and secrets, the console's `ADAPTER_URLS`, each pushing agency's broker
//! password), `deploy/inbound/entitlements.toml` (what each pushing agency may publish: its
//! own system, as its source's contract types) and the whole of
//! `deploy/rabbitmq/definitions.json` (as `hub definitions` prints it), and `hub deploy-files --check` (and a
//! test) fails while a committed file differs from what the registrations give.
//!
//! A region is the lines between `# >>> <name>: …` and `# <<< <name>`; everything outside
//! the regions is written by hand and kept as it is. Owns the rendering only: no I/O beyond
//! reading and writing those files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hub_adapter_kit::{Registration, SettingValue};

/// Why the deployment files could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DeployFilesError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: region {region:?}: {problem}")]
    Region {
        path: String,
        region: &'static str,
        problem: &'static str,
    },
}

/// The files with generated regions, relative to the repository's root.
pub const FILES: [&str; 5] = [
    "docker-compose.yml",
    "deploy/kubernetes/hub.yaml",
    "deploy/gen-secrets.sh",
    "deploy/postgres/create-roles.sh",
    "deploy/inbound/entitlements.toml",
];

/// The broker's definitions, generated whole from the topology and the registrations.
pub const DEFINITIONS: &str = "deploy/rabbitmq/definitions.json";

const FROM_ENV: &str = ":?run deploy/gen-secrets.sh}";

/// `${NAME:?run deploy/gen-secrets.sh}`: a value compose takes from `.env`.
fn env_ref(name: &str) -> String {
    format!("${{{name}{FROM_ENV}")
}

/// A YAML double-quoted string.
fn quoted(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

fn adapter_urls(sources: &[Registration]) -> String {
    let urls: Vec<String> = sources
        .iter()
        .map(|s| format!("{}=http://{}:8080", s.system, s.service_name()))
        .collect();
    format!("ADAPTER_URLS: {}\n", urls.join(","))
}

fn compose_adapter(s: &Registration) -> String {
    let mut o = String::new();
    let e = s.env_name();
    let _ = writeln!(o, "# {}", s.about);
    let _ = writeln!(o, "{}:", s.service_name());
    o.push_str("  <<: *hub\n");
    let _ = writeln!(o, "  command: [\"adapter\", \"{}\"]", s.system);
    o.push_str("  depends_on:\n");
    o.push_str("    rabbitmq: {condition: service_healthy}\n");
    o.push_str("    postgres: {condition: service_healthy}\n");
    if s.deploy.simulated {
        o.push_str("    simulators: {condition: service_healthy}\n");
    }
    o.push_str("  environment:\n    <<: *env\n");
    let _ = writeln!(
        o,
        "    AMQP_URL: amqp://{}:{}@rabbitmq:5672/%2f",
        s.service_user(),
        env_ref(&format!("RABBITMQ_PASSWORD_SVC_ADAPTER_{e}"))
    );
    let _ = writeln!(
        o,
        "    DATABASE_URL: postgres://{}:{}@postgres:5432/coophub",
        s.database_role(),
        env_ref(&format!("PG_PASSWORD_SVC_ADAPTER_{e}"))
    );
    for setting in s.deploy.settings {
        let value = match setting.compose {
            SettingValue::Plain(v) => quoted(v),
            SettingValue::Secret => env_ref(setting.name),
        };
        let _ = writeln!(o, "    {}: {value}", setting.name);
    }
    o.push_str("    # the console's credential for this adapter's API (sync, upload)\n");
    let _ = writeln!(o, "    SERVICE_TOKENS: {}", env_ref("HUB_SERVICE_TOKEN"));
    o.push('\n');
    o
}

fn kubernetes_adapter(s: &Registration) -> String {
    let name = s.service_name();
    let e = s.env_name();
    let mut env = String::new();
    let secret = |env: &mut String, var: &str, secret: &str, key: &str| {
        let _ = writeln!(env, "            - name: {var}");
        let _ = writeln!(
            env,
            "              valueFrom: {{secretKeyRef: {{name: {secret}, key: {key}}}}}"
        );
    };
    secret(
        &mut env,
        "AMQP_URL",
        "coophub",
        &format!("AMQP_URL_ADAPTER_{e}"),
    );
    secret(
        &mut env,
        "DATABASE_URL",
        "coophub",
        &format!("DATABASE_URL_ADAPTER_{e}"),
    );
    for setting in s.deploy.settings {
        if setting.kubernetes == SettingValue::Secret {
            secret(&mut env, setting.name, "coophub", setting.name);
        }
    }
    env.push_str(
        "            # the console's credential(s) for this adapter's API: Secret\n            \
         # coophub-service-token, key `tokens`\n",
    );
    secret(
        &mut env,
        "SERVICE_TOKENS",
        "coophub-service-token",
        "tokens",
    );
    format!(
        "# {about}
# one replica: a second one would only repeat its work (dedup makes that harmless, not useful)
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: coophub, component: {name}}}
spec:
  replicas: 1
  selector:
    matchLabels: {{app: coophub, component: {name}}}
  template:
    metadata:
      labels: {{app: coophub, component: {name}}}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: hub
          image: coophub/hub:latest
          args: ['adapter', '{system}']
          ports: [{{containerPort: 8080, name: http}}]
          envFrom:
            - configMapRef: {{name: coophub}}
          env:
{env}          readinessProbe:
            httpGet: {{path: /readyz, port: http}}
            periodSeconds: 10
          livenessProbe:
            httpGet: {{path: /healthz, port: http}}
            periodSeconds: 10
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 1Gi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: coophub, component: {name}}}
  ports: [{{port: 8080, targetPort: http, name: http}}]
---
",
        about = s.about,
        system = s.system,
    )
}

/// The regions of each file, by name, for `sources`.
pub fn regions(sources: &[Registration]) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let each = |f: &dyn Fn(&Registration) -> String| sources.iter().map(f).collect::<String>();
    let compose = vec![
        (
            "adapter broker passwords",
            each(&|s| {
                let v = format!("RABBITMQ_PASSWORD_SVC_ADAPTER_{}", s.env_name());
                format!("{v}: {}\n", env_ref(&v))
            }),
        ),
        (
            "adapter database passwords",
            each(&|s| {
                let v = format!("PG_PASSWORD_SVC_ADAPTER_{}", s.env_name());
                format!("{v}: {}\n", env_ref(&v))
            }),
        ),
        ("adapters", each(&compose_adapter)),
        ("adapter urls", adapter_urls(sources)),
        (
            "agency broker passwords",
            agencies(sources)
                .map(|(user, _, _)| {
                    let v = format!("RABBITMQ_PASSWORD_{}", env_name(&user));
                    format!("{v}: {}\n", env_ref(&v))
                })
                .collect(),
        ),
    ];
    let mut config_map = String::new();
    for s in sources {
        for setting in s.deploy.settings {
            if let SettingValue::Plain(v) = setting.kubernetes {
                let _ = writeln!(config_map, "{}: {}", setting.name, quoted(v));
            }
        }
    }
    config_map.push_str(&adapter_urls(sources));
    let components: Vec<String> = ["reconciler", "indicators", "inbound"]
        .into_iter()
        .map(str::to_owned)
        .chain(sources.iter().map(Registration::service_name))
        .collect();
    let kubernetes = vec![
        ("adapter settings", config_map),
        ("adapters", each(&kubernetes_adapter)),
        (
            "internal components",
            format!(
                "- {{key: component, operator: In, values: [{}]}}\n",
                components.join(", ")
            ),
        ),
    ];
    let secrets: Vec<&str> = sources
        .iter()
        .flat_map(|s| s.deploy.settings.iter())
        .filter(|s| s.compose == SettingValue::Secret)
        .map(|s| s.name)
        .collect();
    let users: Vec<String> = sources
        .iter()
        .map(|s| format!("SVC_ADAPTER_{}", s.env_name()))
        .collect();
    let agency_users: Vec<String> = agencies(sources)
        .map(|(user, _, _)| env_name(&user))
        .collect();
    let gen_secrets = vec![(
        "adapters",
        format!(
            "adapter_users=\"{}\"\nsource_secrets=\"{}\"\nagency_users=\"{}\"\n",
            users.join(" "),
            secrets.join(" "),
            agency_users.join(" ")
        ),
    )];
    let roles: Vec<String> = sources
        .iter()
        .map(|s| format!("{}:{}", s.database_role(), s.schema()))
        .collect();
    let create_roles = vec![(
        "adapters",
        format!("adapter_roles=\"{}\"\n", roles.join(" ")),
    )];
    let entitlements = vec![(
        "agencies",
        agencies(sources)
            .map(|(user, s, agency)| {
                format!(
                    "\n[agencies.{user}]\nsystems = [{}]\ntypes = [{}]\nreads = [{}]\n",
                    quoted(s.system),
                    s.contracts
                        .iter()
                        .map(|t| quoted(t))
                        .collect::<Vec<_>>()
                        .join(", "),
                    agency
                        .reads
                        .iter()
                        .map(|r| quoted(r))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })
            .collect(),
    )];
    vec![
        (FILES[0], compose),
        (FILES[1], kubernetes),
        (FILES[2], gen_secrets),
        (FILES[3], create_roles),
        (FILES[4], entitlements),
    ]
}

/// The sources whose agency pushes: its user (`agency-<system>`), the source, its agency.
fn agencies(
    sources: &[Registration],
) -> impl Iterator<Item = (String, &Registration, hub_adapter_kit::Agency)> {
    sources
        .iter()
        .filter_map(|s| Some((hub_runtime::sources::agency_user(s.system), s, s.agency?)))
}

/// A user's name in variable names: `agency-loan-fund` → `AGENCY_LOAN_FUND`.
fn env_name(user: &str) -> String {
    user.replace('-', "_").to_ascii_uppercase()
}

/// `text` with each region's lines replaced by its content, indented like its markers.
pub fn render(
    path: &str,
    text: &str,
    regions: &[(&'static str, String)],
) -> Result<String, DeployFilesError> {
    let mut out = text.to_owned();
    for (region, content) in regions {
        let err = |problem| DeployFilesError::Region {
            path: path.to_owned(),
            region,
            problem,
        };
        let begin_tag = format!("# >>> {region}:");
        let end_tag = format!("# <<< {region}");
        let lines: Vec<&str> = out.split_inclusive('\n').collect();
        let begins: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim_start().starts_with(&begin_tag))
            .collect();
        let [begin] = begins[..] else {
            return Err(err("needs exactly one begin marker"));
        };
        let end = (begin + 1..lines.len())
            .find(|&i| lines[i].trim() == end_tag)
            .ok_or_else(|| err("has no end marker after its begin marker"))?;
        let indent: String = lines[begin]
            .chars()
            .take_while(|c| c.is_whitespace())
            .collect();
        let mut next: String = lines[..=begin].concat();
        for line in content.split_inclusive('\n') {
            if line.trim().is_empty() {
                next.push_str(line.trim_start_matches([' ', '\t']));
            } else {
                next.push_str(&indent);
                next.push_str(line);
            }
        }
        next.push_str(&lines[end..].concat());
        out = next;
    }
    Ok(out)
}

/// Each file under `root` as committed and as the registrations give it.
pub fn generate(
    root: &Path,
    sources: &[Registration],
) -> Result<Vec<(PathBuf, String, String)>, DeployFilesError> {
    let mut out = Vec::new();
    for (path, regions) in regions(sources) {
        let full = root.join(path);
        let text = std::fs::read_to_string(&full).map_err(|source| DeployFilesError::Io {
            path: full.display().to_string(),
            source,
        })?;
        let next = render(path, &text, &regions)?;
        out.push((full, text, next));
    }
    // the broker's definitions: generated whole (`hub definitions`, from `SOURCES`)
    let full = root.join(DEFINITIONS);
    let text = std::fs::read_to_string(&full).map_err(|source| DeployFilesError::Io {
        path: full.display().to_string(),
        source,
    })?;
    let mut next =
        serde_json::to_string_pretty(&crate::definitions::definitions()).unwrap_or_default();
    next.push('\n');
    out.push((full, text, next));
    Ok(out)
}

/// Writes the files whose regions changed; answers their paths.
pub fn write(root: &Path, sources: &[Registration]) -> Result<Vec<PathBuf>, DeployFilesError> {
    let mut changed = Vec::new();
    for (path, old, new) in generate(root, sources)? {
        if old != new {
            std::fs::write(&path, new).map_err(|source| DeployFilesError::Io {
                path: path.display().to_string(),
                source,
            })?;
            changed.push(path);
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn the_committed_deployment_files_are_what_the_registrations_give() {
        let stale: Vec<String> = generate(&root(), crate::sources::SOURCES)
            .expect("the deployment files and their regions")
            .into_iter()
            .filter(|(_, old, new)| old != new)
            .map(|(p, _, _)| p.display().to_string())
            .collect();
        assert!(
            stale.is_empty(),
            "run `cargo run -p hub -- deploy-files` and commit: {stale:?}"
        );
    }

    #[test]
    fn a_region_edited_by_hand_or_a_source_added_shows_as_a_difference() {
        let compose = std::fs::read_to_string(root().join(FILES[0])).expect("compose");
        let regions = &regions(crate::sources::SOURCES)[0].1;
        let edited = compose.replacen("NTM_YEARS: \"2023,2024,2025\"", "NTM_YEARS: \"2024\"", 1);
        assert_ne!(edited, compose, "the compose file sets NTM_YEARS");
        assert_eq!(render(FILES[0], &edited, regions).expect("render"), compose);
        // one source fewer: its service, users and URL disappear from the file
        let fewer = &crate::sources::SOURCES[..crate::sources::SOURCES.len() - 1];
        let without = render(FILES[0], &compose, &regions_of(fewer, 0)).expect("render");
        assert!(compose.contains("adapter-farmers-union:"));
        assert!(!without.contains("adapter-farmers-union"));
    }

    fn regions_of(sources: &[Registration], file: usize) -> Vec<(&'static str, String)> {
        regions(sources).swap_remove(file).1
    }

    #[test]
    fn a_missing_or_doubled_marker_is_refused_naming_the_region() {
        let r = vec![("adapters", "x\n".to_owned())];
        let e = render("f", "a\n", &r).expect_err("no marker");
        assert!(e.to_string().contains("\"adapters\""), "{e}");
        let twice = "# >>> adapters: x\n# <<< adapters\n# >>> adapters: x\n# <<< adapters\n";
        assert!(render("f", twice, &r).is_err());
        let open = "  # >>> adapters: x\nold\n";
        assert!(render("f", open, &r).is_err());
        let ok = "a\n  # >>> adapters: generated\n  old\n  # <<< adapters\nb\n";
        assert_eq!(
            render("f", ok, &r).expect("render"),
            "a\n  # >>> adapters: generated\n  x\n  # <<< adapters\nb\n"
        );
    }
}

//! The settings structs are the one source of the hub's configuration: each field is an
//! environment variable (its name in upper case, figment's mapping), and its doc comment
//! names that variable first. This test keeps the documentation for operators in step with
//! them: every variable a settings struct reads has a row in README.md's "Configuration"
//! (or, for details, in the service's own README.md table the row links), and every variable
//! README.md's configuration tables name is read by a settings struct or is one of the few
//! read directly (listed below, with where). Adding a setting without documenting it, or
//! removing one and leaving its row, fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The files that hold the services' settings structs (every struct there that derives
/// `Deserialize` and holds a `CommonConfig`, and `CommonConfig` itself); the source
/// adapters' (`services/adapter-*/src/lib.rs`) are found by [`settings_files`], not listed,
/// so that a new source's settings are checked with no line added here.
const SETTINGS_FILES: &[&str] = &[
    "services/runtime/src/config.rs",
    "services/reconciler/src/config.rs",
    "services/indicators/src/config.rs",
    "services/console/src/config.rs",
    "services/inbound/src/lib.rs",
];

/// [`SETTINGS_FILES`] and every source adapter's `src/lib.rs` (the adapter kit is none).
fn settings_files() -> Vec<&'static str> {
    let mut adapters: Vec<&'static str> = std::fs::read_dir(root().join("services"))
        .expect("services/")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.starts_with("adapter-") && name != "adapter-kit")
        .map(|name| format!("services/{name}/src/lib.rs"))
        .filter(|file| root().join(file).is_file())
        .map(|file| &*Box::leak(file.into_boxed_str()))
        .collect();
    adapters.sort();
    for known in ["coop-alliance", "loan-fund", "ntm", "farmers-union"] {
        let file = format!("services/adapter-{known}/src/lib.rs");
        assert!(adapters.contains(&file.as_str()), "found {file}");
    }
    SETTINGS_FILES.iter().copied().chain(adapters).collect()
}

/// Variables the README documents that no settings struct holds, because they are read
/// elsewhere: the file itself (`runtime::config::figment`), the tracing filter
/// (`runtime::telemetry`), OpenTelemetry's own variables (`runtime::telemetry::otlp`), the
/// TLS trust store (native-tls), and the `hub` operator CLI's (`console::ops`).
const READ_ELSEWHERE: &[&str] = &[
    "HUB_CONFIG",
    "RUST_LOG",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_SERVICE_NAME",
    "SSL_CERT_FILE",
    "HUB_CONSOLE_URL",
    "HUB_TOKEN",
    "INBOUND_URL",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A settings field: its variable, and whether its doc comment names it first.
struct Field {
    file: &'static str,
    variable: String,
    documented: bool,
}

/// The fields of the settings structs of `file` (a line-level reading: the structs are
/// plain `pub name: Type,` lines under doc comments and attributes).
fn settings_fields(file: &'static str) -> Vec<Field> {
    let text = std::fs::read_to_string(root().join(file)).expect("settings file");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let is_struct = line.starts_with("pub struct ") && line.ends_with('{');
        let derives = lines[..i]
            .iter()
            .rev()
            .take_while(|l| l.trim().starts_with("#[") || l.trim().starts_with("///"))
            .any(|l| l.contains("Deserialize"));
        if !(is_struct && derives) {
            i += 1;
            continue;
        }
        let end = i + lines[i..].iter().position(|l| l.trim() == "}").expect("}");
        let body = &lines[i + 1..end];
        let settings =
            line.contains("CommonConfig") || body.iter().any(|l| l.contains(": CommonConfig"));
        if settings {
            out.extend(fields_of(file, body));
        }
        i = end + 1;
    }
    out
}

fn fields_of(file: &'static str, body: &[&str]) -> Vec<Field> {
    let mut out = Vec::new();
    let mut doc: Option<String> = None;
    let mut skipped = false;
    for l in body.iter().map(|l| l.trim()) {
        if let Some(d) = l.strip_prefix("///") {
            doc.get_or_insert_with(|| d.trim().to_owned());
        } else if l.starts_with("#[") {
            skipped |= l.contains("flatten") || l.contains("skip");
        } else if let Some((name, _)) = l.strip_prefix("pub ").and_then(|f| f.split_once(':')) {
            if !skipped {
                let variable = name.trim().to_uppercase();
                let documented = doc
                    .as_deref()
                    .is_some_and(|d| d.starts_with(&format!("`{variable}`")));
                out.push(Field {
                    file,
                    variable,
                    documented,
                });
            }
            doc = None;
            skipped = false;
        }
    }
    out
}

/// The `VARIABLE`s named in the first column of the tables of README.md's "Configuration"
/// section.
fn readme_configuration() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let start = text
        .find("\n## Configuration")
        .expect("a Configuration section");
    let rest = &text[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    let section = &rest[..end];
    let mut names = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_') {
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// The variables a service's own README.md documents in its tables' first column.
fn crate_readme_variables(file: &str) -> BTreeSet<String> {
    let dir = file.split("/src/").next().expect("a crate's file");
    let text = std::fs::read_to_string(root().join(dir).join("README.md")).unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_setting_is_documented_and_every_documented_variable_is_read() {
    let fields: Vec<Field> = settings_files()
        .into_iter()
        .flat_map(settings_fields)
        .collect();
    assert!(
        fields.len() > 40,
        "the settings structs were read ({} fields)",
        fields.len()
    );
    let undocumented: Vec<String> = fields
        .iter()
        .filter(|f| !f.documented)
        .map(|f| format!("{} in {}", f.variable, f.file))
        .collect();
    assert!(
        undocumented.is_empty(),
        "fields whose doc comment does not start with their variable (`NAME`): {undocumented:?}"
    );

    let readme = readme_configuration();
    let missing: Vec<String> = fields
        .iter()
        .filter(|f| !readme.contains(&f.variable))
        .filter(|f| !crate_readme_variables(f.file).contains(&f.variable))
        .map(|f| format!("{} ({})", f.variable, f.file))
        .collect();
    assert!(
        missing.is_empty(),
        "settings without a row in README.md's Configuration (or their crate's README): {missing:?}"
    );

    let read: BTreeSet<&str> = fields
        .iter()
        .map(|f| f.variable.as_str())
        .chain(READ_ELSEWHERE.iter().copied())
        .collect();
    let stale: Vec<&String> = readme
        .iter()
        .filter(|v| !read.contains(v.as_str()))
        .collect();
    assert!(
        stale.is_empty(),
        "README.md's Configuration names variables nothing reads: {stale:?}"
    );
}

#[test]
fn the_reading_of_settings_finds_fields_and_their_docs() {
    let body = [
        "    #[serde(flatten)]",
        "    pub common: CommonConfig,",
        "    /// `A_B`: documented.",
        "    pub a_b: u32,",
        "    /// Not naming its variable.",
        "    pub c: u32,",
    ];
    let f = fields_of("x", &body);
    let got: Vec<(&str, bool)> = f
        .iter()
        .map(|f| (f.variable.as_str(), f.documented))
        .collect();
    assert_eq!(got, [("A_B", true), ("C", false)]);
}

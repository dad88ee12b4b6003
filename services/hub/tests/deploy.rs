//! The deployment files keep the boundary: compose publishes nothing beyond this machine and
//! neither the internal APIs nor the broker on every interface, nobody starts with the
//! development users file or a password written in the file, the image does not carry it, the
//! broker caps message size, and the Kubernetes manifests keep their NetworkPolicies. The
//! compose file and the manifests are also read as YAML (`tests/deploy/check_deploy.py`,
//! Python with PyYAML: no Docker engine or cluster is needed): no internal API or management
//! port published, every secret from the environment or a Secret (each pod only its own), no
//! development users file. And every process serves the same provinces (`REFERENCE_DIRS`,
//! the indicators' `PLAN_DIRS`), from plan folders the image ships (`tests/deploy/provinces.py`
//! reads each process's settings): Lai Châu alone by default, and Lai Châu with Điện Biên in
//! the configuration the files' comments show for it (and README.md documents).

fn read(path: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn compose_publishes_only_on_loopback_and_holds_no_secret() {
    let compose = read("docker-compose.yml");
    let ports: Vec<&str> = compose
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("- \"") && l.contains(':') && l.ends_with('"'))
        .filter(|l| l[3..].chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert!(!ports.is_empty());
    for p in &ports {
        assert!(
            p.starts_with("- \"127.0.0.1:"),
            "published beyond loopback: {p}"
        );
        assert!(
            !p.contains(":8081") && !p.contains(":8082"),
            "internal API published: {p}"
        );
    }
    assert!(
        !compose.contains("users.dev.toml"),
        "compose uses the dev users file"
    );
    for known in [
        "POSTGRES_PASSWORD: hub",
        "hub:hub@",
        "svc-inbound:svc-inbound@",
    ] {
        assert!(
            !compose.contains(known),
            "a password in the compose file: {known}"
        );
    }
    assert!(compose.contains("HUB_ENV: production"));
}

#[test]
fn the_image_carries_no_console_users_and_the_broker_caps_messages() {
    let dockerfile = read("deploy/Dockerfile");
    assert!(
        !dockerfile.contains("COPY deploy/console"),
        "the image carries deploy/console"
    );
    let conf = read("deploy/rabbitmq/rabbitmq.conf");
    let size: u64 = conf
        .lines()
        .find_map(|l| l.trim().strip_prefix("max_message_size = "))
        .expect("max_message_size set")
        .parse()
        .expect("a number");
    assert!(size <= 16 * 1024 * 1024, "{size}");
    let k8s = read("deploy/kubernetes/hub.yaml");
    assert!(k8s.contains("kind: NetworkPolicy") && k8s.contains("HUB_ENV: production"));
    assert!(!k8s.contains("users.dev.toml") && !k8s.contains("15672"));
}

/// Runs `tests/deploy/check_deploy.py` on `compose` and `k8s`: `Ok(())` or what it printed.
fn check_deploy(compose: &std::path::Path, k8s: &std::path::Path) -> Result<(), String> {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/check_deploy.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(compose)
        .arg(k8s)
        .output()
        .unwrap_or_else(|e| panic!("python3 (with PyYAML) runs {}: {e}", script.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("Traceback"),
        "the check itself failed (python3 with PyYAML needed): {text}"
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(text)
    }
}

#[test]
fn compose_and_kubernetes_read_as_yaml_publish_no_internal_port_and_hold_no_secret() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    check_deploy(
        &root.join("docker-compose.yml"),
        &root.join("deploy/kubernetes/hub.yaml"),
    )
    .unwrap_or_else(|e| panic!("the deployment files break the rules:\n{e}"));

    // the check finds what it is there for: the same files, each broken one way
    let dir = std::env::temp_dir().join(format!("hub-deploy-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let compose = read("docker-compose.yml");
    let k8s = read("deploy/kubernetes/hub.yaml");
    let broken_compose = [
        (
            "management published",
            compose.replace(
                "      - \"127.0.0.1:5672:5672\"",
                "      - \"127.0.0.1:5672:5672\"\n      - \"127.0.0.1:15672:15672\"",
            ),
            "15672",
        ),
        (
            "an internal API published",
            compose.replace(
                "    command: [\"reconciler\"]",
                "    command: [\"reconciler\"]\n    ports:\n      - \"127.0.0.1:8081:8080\"",
            ),
            "reconciler publishes",
        ),
        (
            "a password in the file",
            compose.replace(
                "NTM_PASSWORD: ${NTM_PASSWORD:?run deploy/gen-secrets.sh}",
                "NTM_PASSWORD: ntm-dev-password",
            ),
            "NTM_PASSWORD is written in the file",
        ),
    ];
    let k8s_path = dir.join("hub.yaml");
    std::fs::write(&k8s_path, &k8s).expect("write");
    for (what, text, expect) in broken_compose {
        assert_ne!(text, compose, "{what}: the fixture no longer applies");
        let path = dir.join("compose.yml");
        std::fs::write(&path, text).expect("write");
        let e = check_deploy(&path, &k8s_path).expect_err(what);
        assert!(e.contains(expect), "{what}: {e}");
    }
    let compose_path = dir.join("compose-ok.yml");
    std::fs::write(&compose_path, &compose).expect("write");
    let broken_k8s = [
        (
            "the whole Secret in every pod",
            k8s.replacen(
                "            - configMapRef: {name: coophub}",
                "            - configMapRef: {name: coophub}\n            - secretRef: {name: coophub}",
                1,
            ),
            "takes the whole Secret",
        ),
        (
            "a NodePort",
            k8s.replacen(
                "  selector: {app: coophub, component: reconciler}",
                "  type: NodePort\n  selector: {app: coophub, component: reconciler}",
                1,
            ),
            "reachable from outside",
        ),
        (
            "inbound's API open to every pod",
            k8s.replace(
                "values: [reconciler, indicators, inbound,",
                "values: [reconciler, indicators,",
            ),
            "inbound's API",
        ),
    ];
    for (what, text, expect) in broken_k8s {
        assert_ne!(text, k8s, "{what}: the fixture no longer applies");
        std::fs::write(&k8s_path, text).expect("write");
        let e = check_deploy(&compose_path, &k8s_path).expect_err(what);
        assert!(e.contains(expect), "{what}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The roles that resolve units and addresses (and so read `REFERENCE_DIRS`).
const ROLES: [&str; 5] = ["adapter", "inbound", "reconciler", "indicators", "console"];

/// The image's `ENV` settings (`KEY=value` words of its `ENV` instructions).
fn image_env(dockerfile: &str) -> std::collections::BTreeMap<String, String> {
    let joined = dockerfile.replace("\\\n", " ");
    joined
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// What the image copies: (destination, source in the repository).
fn image_copies(dockerfile: &str) -> Vec<(String, String)> {
    dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--"))
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 2).then(|| (w[1].to_owned(), w[0].to_owned()))
        })
        .collect()
}

/// Runs `tests/deploy/provinces.py`: the province settings of each hub process.
fn province_settings(compose: &std::path::Path, k8s: &std::path::Path) -> serde_json::Value {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/deploy/provinces.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(compose)
        .arg(k8s)
        .output()
        .unwrap_or_else(|e| panic!("python3 (with PyYAML) runs {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("provinces.py prints JSON")
}

/// The plan folders (in the repository) every process of the deployment serves, or how the
/// files disagree: every process that resolves units has `REFERENCE_DIRS` (its own or the
/// image's), the same everywhere, the indicators' `PLAN_DIRS` are those folders, and every
/// folder is one the image ships.
fn provinces_served(
    dockerfile: &str,
    settings: &serde_json::Value,
) -> Result<Vec<std::path::PathBuf>, String> {
    let image = image_env(dockerfile);
    let mut first: Option<(String, String)> = None;
    let mut processes = 0;
    for platform in ["compose", "kubernetes"] {
        let procs = settings[platform].as_object().ok_or("no processes")?;
        for (name, p) in procs {
            let command: Vec<&str> = p["command"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str())
                .collect();
            let Some(role) = command.first().filter(|r| ROLES.contains(r)) else {
                continue;
            };
            processes += 1;
            let who = format!("{platform} {name}");
            let get = |var: &str| {
                p["env"][var]
                    .as_str()
                    .map(str::to_owned)
                    .or_else(|| image.get(var).cloned())
            };
            let refs = get("REFERENCE_DIRS")
                .ok_or_else(|| format!("{who}: no REFERENCE_DIRS (Lai Châu's units alone)"))?;
            match &first {
                None => first = Some((who.clone(), refs.clone())),
                Some((other, r)) if *r != refs => {
                    return Err(format!(
                        "{who} resolves against {refs}, {other} against {r}"
                    ));
                }
                Some(_) => {}
            }
            if *role == "indicators" {
                let plans = get("PLAN_DIRS").unwrap_or_default();
                if plans != refs {
                    return Err(format!(
                        "{who}: PLAN_DIRS {plans:?} is not REFERENCE_DIRS {refs:?}"
                    ));
                }
            }
        }
    }
    if processes == 0 {
        return Err("no hub process found".into());
    }
    let (_, refs) = first.ok_or("no REFERENCE_DIRS")?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let copies = image_copies(dockerfile);
    hub_runtime::units::split_dirs(&refs)
        .into_iter()
        .map(|folder| {
            let f = folder.to_string_lossy().into_owned();
            copies
                .iter()
                .find_map(|(dest, src)| {
                    let rest = f.strip_prefix(dest.as_str())?.strip_prefix('/')?;
                    let here = root.join(src).join(rest);
                    here.join("plan.toml").is_file().then_some(here)
                })
                .ok_or_else(|| format!("{f} is not a plan folder the image ships"))
        })
        .collect()
}

/// The province variables: the units every process resolves against, the indicators' plans.
const PROVINCE_VARS: [&str; 2] = ["REFERENCE_DIRS", "PLAN_DIRS"];

/// Where `line` sets a province variable: the variable and the byte range of its value, for
/// `VAR=value` (a Dockerfile's `ENV`, or a line continuing one) or `VAR: value` (YAML).
fn province_setting(line: &str) -> Option<(&'static str, std::ops::Range<usize>)> {
    let rest = line.trim_start();
    let rest = rest.strip_prefix("ENV ").unwrap_or(rest);
    PROVINCE_VARS.into_iter().find_map(|var| {
        let after = rest.strip_prefix(var)?;
        let value = after
            .strip_prefix('=')
            .or_else(|| after.strip_prefix(": "))?;
        let start = line.len() - value.len();
        let len = value.find(char::is_whitespace).unwrap_or(value.len());
        Some((var, start..start + len))
    })
}

/// The province settings a file's comments show (a commented-out `VAR=value` or `VAR: value`).
fn commented_provinces(text: &str) -> Vec<(&'static str, String)> {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix('#'))
        .filter_map(|c| province_setting(c).map(|(var, r)| (var, c[r].to_owned())))
        .collect()
}

/// `text` with each province variable it sets (outside comments) set to `value(var)`.
fn set_provinces(text: &str, value: impl Fn(&'static str) -> Option<String>) -> String {
    text.split_inclusive('\n')
        .map(|l| match province_setting(l) {
            Some((var, r)) if !l.trim_start().starts_with('#') => match value(var) {
                Some(v) => format!("{}{v}{}", &l[..r.start], &l[r.end..]),
                None => l.to_owned(),
            },
            _ => l.to_owned(),
        })
        .collect()
}

/// The folders' names; and each folder is a plan and a province with a DHIS2 mapping, no
/// plan id or province code twice.
fn check_plans(folders: &[std::path::PathBuf]) -> Vec<String> {
    let mut ids = std::collections::BTreeSet::new();
    let mut codes = std::collections::BTreeSet::new();
    for f in folders {
        let plan = hub_indicators::Plan::load(f).unwrap_or_else(|e| panic!("{e}"));
        let province = hub_runtime::units::load(f).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.province_code, province.code, "{}", f.display());
        assert!(plan.dhis2.is_some(), "{}: a DHIS2 mapping", f.display());
        assert!(ids.insert(plan.id.clone()), "{} twice", plan.id);
        assert!(
            codes.insert(province.code.clone()),
            "{} twice",
            province.code
        );
    }
    folders
        .iter()
        .filter_map(|f| f.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn the_reading_of_province_settings_finds_values_and_leaves_comments() {
    let text =
        "ENV PLAN_DIRS=/a \\\n    REFERENCE_DIRS=/a\n  # PLAN_DIRS: /a,/b\n  PLAN_DIRS: /a\n";
    assert_eq!(
        commented_provinces(text),
        [("PLAN_DIRS", "/a,/b".to_owned())]
    );
    let set = set_provinces(text, |var| (var == "PLAN_DIRS").then(|| "/c".to_owned()));
    assert_eq!(
        set,
        "ENV PLAN_DIRS=/c \\\n    REFERENCE_DIRS=/a\n  # PLAN_DIRS: /a,/b\n  PLAN_DIRS: /c\n"
    );
}

#[test]
fn every_process_serves_the_same_provinces_from_plan_folders_the_image_ships() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dockerfile = read("deploy/Dockerfile");
    let compose = read("docker-compose.yml");
    let k8s = read("deploy/kubernetes/hub.yaml");
    let settings = province_settings(
        &root.join("docker-compose.yml"),
        &root.join("deploy/kubernetes/hub.yaml"),
    );
    let folders = provinces_served(&dockerfile, &settings)
        .unwrap_or_else(|e| panic!("the deployment's provinces disagree: {e}"));
    // by default Lai Châu alone: Điện Biên's targets and DHIS2 identifiers are illustrative
    assert_eq!(check_plans(&folders), ["lai-chau"], "{folders:?}");
    // the image alone (a process that sets nothing) serves the same
    let lai_chau = "/etc/coophub/plans/lai-chau";
    let image = image_env(&dockerfile);
    assert_eq!(
        image.get("REFERENCE_DIRS").map(String::as_str),
        Some(lai_chau)
    );
    assert_eq!(image.get("PLAN_DIRS").map(String::as_str), Some(lai_chau));
    assert!(!image.contains_key("PLAN_FILE"), "PLAN_DIRS replaces it");

    let dir = std::env::temp_dir().join(format!("hub-deploy-provinces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let served = |dockerfile_text: &str, compose_text: &str, k8s_text: &str| {
        let (c, k) = (dir.join("compose.yml"), dir.join("hub.yaml"));
        std::fs::write(&c, compose_text).expect("write");
        std::fs::write(&k, k8s_text).expect("write");
        provinces_served(dockerfile_text, &province_settings(&c, &k))
    };

    // Điện Biên too, as each file's comments show it (both variables, one value) and
    // README.md documents it: a valid deployment of the two provinces
    let mut shown = std::collections::BTreeMap::new();
    for (name, text) in [
        ("deploy/Dockerfile", &dockerfile),
        ("docker-compose.yml", &compose),
        ("deploy/kubernetes/hub.yaml", &k8s),
    ] {
        let commented = commented_provinces(text);
        for var in PROVINCE_VARS {
            assert!(
                commented.iter().any(|(v, _)| *v == var),
                "{name}: no comment shows {var} with Điện Biên"
            );
        }
        for (var, value) in commented {
            if let Some(other) = shown.insert(var, value.clone()) {
                assert_eq!(other, value, "{name}: {var} shown two ways");
            }
        }
    }
    let two = shown["REFERENCE_DIRS"].clone();
    assert_eq!(
        shown["PLAN_DIRS"], two,
        "the comments' PLAN_DIRS is REFERENCE_DIRS"
    );
    assert!(
        read("README.md").contains(&format!("`{two}`")),
        "README.md's Configuration documents {two}"
    );
    let opt_in = |text: &str| set_provinces(text, |var| shown.get(var).cloned());
    let folders = served(&opt_in(&dockerfile), &opt_in(&compose), &opt_in(&k8s))
        .unwrap_or_else(|e| panic!("the configuration the comments show: {e}"));
    assert_eq!(
        check_plans(&folders),
        ["lai-chau", "dien-bien"],
        "{folders:?}"
    );

    // the check finds what it is there for
    let both = format!("{lai_chau},/etc/coophub/plans/dien-bien");
    let son_la = |text: &str| {
        set_provinces(text, |_| {
            Some(format!("{lai_chau},/etc/coophub/plans/son-la"))
        })
    };
    let units_only =
        |text: &str| set_provinces(text, |var| (var == "REFERENCE_DIRS").then(|| both.clone()));
    let broken = [
        (
            "the reconciler with a second province",
            compose.replacen(
                "    command: [\"reconciler\"]\n    environment:\n      <<: *env\n",
                &format!("    command: [\"reconciler\"]\n    environment:\n      <<: *env\n      REFERENCE_DIRS: {both}\n"),
                1,
            ),
            k8s.clone(),
            dockerfile.clone(),
            format!("compose reconciler resolves against {both}"),
        ),
        (
            "a folder the image does not ship",
            son_la(&compose),
            son_la(&k8s),
            son_la(&dockerfile),
            "/etc/coophub/plans/son-la is not a plan folder the image ships".to_owned(),
        ),
        (
            "Điện Biên's units without its plan",
            units_only(&compose),
            units_only(&k8s),
            units_only(&dockerfile),
            "compose indicators: PLAN_DIRS".to_owned(),
        ),
        (
            "the indicators' plans not the provinces resolved",
            compose.replace(
                &format!("      PLAN_DIRS: {lai_chau}\n"),
                "      PLAN_DIRS: /etc/coophub/plans/dien-bien\n",
            ),
            k8s.clone(),
            dockerfile.clone(),
            "compose indicators: PLAN_DIRS".to_owned(),
        ),
        (
            "no provinces anywhere",
            compose.replace(&format!("  REFERENCE_DIRS: {lai_chau}\n"), ""),
            k8s.clone(),
            dockerfile.replace(
                &format!("PLAN_DIRS={lai_chau} \\\n    REFERENCE_DIRS={lai_chau}\n"),
                &format!("PLAN_DIRS={lai_chau}\n"),
            ),
            "no REFERENCE_DIRS".to_owned(),
        ),
    ];
    for (what, compose_text, k8s_text, dockerfile_text, expect) in broken {
        assert!(
            compose_text != compose || k8s_text != k8s,
            "{what}: the fixture no longer applies"
        );
        let e = served(&dockerfile_text, &compose_text, &k8s_text).expect_err(what);
        assert!(e.contains(&expect), "{what}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

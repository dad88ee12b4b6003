//! The deployment files keep the boundary: compose publishes nothing beyond this machine and
//! neither the internal APIs nor the broker on every interface, nobody starts with the
//! development users file or a password written in the file, the image does not carry it, the
//! broker caps message size, and the Kubernetes manifests keep their NetworkPolicies. The
//! compose file and the manifests are also read as YAML (`tests/deploy/check_deploy.py`,
//! Python with PyYAML: no Docker engine or cluster is needed): no internal API or management
//! port published, every secret from the environment or a Secret (each pod only its own), no
//! development users file.

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

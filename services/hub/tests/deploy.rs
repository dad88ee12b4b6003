//! The deployment files keep the boundary: compose publishes nothing beyond this machine and
//! neither the internal APIs nor the broker on every interface, nobody starts with the
//! development users file or a password written in the file, the image does not carry it, the
//! broker caps message size, and the Kubernetes manifests keep their NetworkPolicies.

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

"""Reads docker-compose.yml and deploy/kubernetes/*.yaml as YAML and prints every way they
break the hub's deployment rules (SECURITY.md, "The network" and "No shared or default
secret"); exits 1 when there is one. Run by services/hub/tests/deploy.rs.

usage: check_deploy.py COMPOSE_FILE K8S_FILE...
"""
import re
import sys

import yaml

SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)")
FROM_ENV = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")
URL_PASSWORD = re.compile(r"://[^/:@\s]+:([^@\s]+)@")
# what compose may publish, per service: the console and the broker's AMQP port only
PUBLISHABLE = {"console": {"8080"}, "rabbitmq": {"5672"}}
INTERNAL_APIS = {"reconciler", "indicators", "inbound"}

problems = []


def env_items(env):
    if env is None:
        return []
    if isinstance(env, list):
        return [tuple((e.split("=", 1) + [""])[:2]) for e in env]
    return [(k, "" if v is None else str(v)) for k, v in env.items()]


def check_compose(path):
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    if "users.dev.toml" in open(path, encoding="utf-8").read():
        problems.append(f"{path}: mentions the development users file")
    for name, svc in (doc.get("services") or {}).items():
        for p in svc.get("ports") or []:
            text = str(p["published"] if isinstance(p, dict) else p)
            if isinstance(p, dict):
                host, target = p.get("host_ip", ""), str(p.get("target"))
            else:
                parts = text.split(":")
                host = parts[0] if len(parts) == 3 else ""
                target = parts[-1].split("/")[0]
            if host != "127.0.0.1":
                problems.append(f"{path}: {name} publishes {text} beyond 127.0.0.1")
            if target not in PUBLISHABLE.get(name, set()):
                problems.append(f"{path}: {name} publishes port {target} (internal API or management)")
        if svc.get("network_mode") == "host":
            problems.append(f"{path}: {name} uses the host's network")
        for key, value in env_items(svc.get("environment")):
            if SECRET_NAME.search(key) and not FROM_ENV.match(value):
                problems.append(f"{path}: {name}: {key} is written in the file, not taken from .env")
            m = URL_PASSWORD.search(value)
            if m and not FROM_ENV.match(m.group(1)):
                problems.append(f"{path}: {name}: {key} carries a password written in the file")
    for name, secret in (doc.get("secrets") or {}).items():
        if "deploy/console" in str(secret.get("file", "")):
            problems.append(f"{path}: secret {name} is a committed file")


def containers(obj):
    spec = (((obj.get("spec") or {}).get("template") or {}).get("spec")) or {}
    return spec, (spec.get("containers") or []) + (spec.get("initContainers") or [])


def check_k8s(path):
    text = open(path, encoding="utf-8").read()
    if "users.dev.toml" in text:
        problems.append(f"{path}: mentions the development users file")
    docs = [d for d in yaml.safe_load_all(text) if d]
    policies = {}
    for d in docs:
        kind, name = d.get("kind"), (d.get("metadata") or {}).get("name")
        spec = d.get("spec") or {}
        if kind == "Service":
            if spec.get("type", "ClusterIP") != "ClusterIP" or spec.get("externalIPs"):
                problems.append(f"{path}: Service {name} is reachable from outside the cluster")
            for p in spec.get("ports") or []:
                if "nodePort" in p:
                    problems.append(f"{path}: Service {name} has a nodePort")
        elif kind == "ConfigMap":
            for key, value in (d.get("data") or {}).items():
                if SECRET_NAME.search(key) or URL_PASSWORD.search(str(value)):
                    problems.append(f"{path}: ConfigMap {name} holds a secret: {key}")
        elif kind == "Ingress":
            for rule in spec.get("rules") or []:
                for p in ((rule.get("http") or {}).get("paths")) or []:
                    svc = (((p.get("backend") or {}).get("service")) or {}).get("name")
                    if svc != "console":
                        problems.append(f"{path}: Ingress {name} exposes {svc}")
        elif kind == "NetworkPolicy":
            policies[name] = spec
        pod, cs = containers(d)
        if pod.get("hostNetwork"):
            problems.append(f"{path}: {kind} {name} uses the host's network")
        for c in cs:
            for p in c.get("ports") or []:
                if "hostPort" in p:
                    problems.append(f"{path}: {name} binds hostPort {p['hostPort']}")
            for e in c.get("envFrom") or []:
                if "secretRef" in e:
                    problems.append(
                        f"{path}: {name} takes the whole Secret {e['secretRef'].get('name')} "
                        "(every service's credentials) into its environment"
                    )
            for e in c.get("env") or []:
                if "value" in e and (
                    SECRET_NAME.search(e["name"]) or URL_PASSWORD.search(str(e["value"]))
                ):
                    problems.append(f"{path}: {name}: {e['name']} is written in the file")
                if e["name"] in ("AMQP_URL", "DATABASE_URL") and "secretKeyRef" not in (
                    e.get("valueFrom") or {}
                ):
                    problems.append(f"{path}: {name}: {e['name']} is not from a Secret")
    deny = [
        s for s in policies.values()
        if (s.get("podSelector") or {}).get("matchLabels") == {"app": "coophub"}
        and "Ingress" in (s.get("policyTypes") or []) and not s.get("ingress")
    ]
    if not deny:
        problems.append(f"{path}: no default-deny NetworkPolicy")
    guarded = set()
    for s in policies.values():
        sel = s.get("podSelector") or {}
        comps = set()
        for ex in sel.get("matchExpressions") or []:
            if ex.get("key") == "component" and ex.get("operator") == "In":
                comps |= set(ex.get("values") or [])
        if comps & INTERNAL_APIS:
            for rule in s.get("ingress") or []:
                for src in rule.get("from") or []:
                    labels = ((src.get("podSelector") or {}).get("matchLabels")) or {}
                    if labels.get("component") != "console" or "namespaceSelector" in src:
                        problems.append(f"{path}: internal APIs reachable from {src}")
            guarded |= comps
    for api in INTERNAL_APIS - guarded:
        problems.append(f"{path}: no NetworkPolicy limits {api}'s API to the console")


check_compose(sys.argv[1])
for p in sys.argv[2:]:
    check_k8s(p)
for p in problems:
    print(p)
sys.exit(1 if problems else 0)

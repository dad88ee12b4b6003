"""Prints, as JSON, the province settings each hub process of docker-compose.yml and
deploy/kubernetes/*.yaml is given: per process (a compose service or a Kubernetes container of
the hub image), its command and the values of REFERENCE_DIRS and PLAN_DIRS it sets
(compose: its environment, the x-env anchor merged by YAML; Kubernetes: its env, and the
ConfigMaps it takes with envFrom). A variable a process does not set is absent: the image's
ENV (deploy/Dockerfile) applies. Run by services/hub/tests/deploy.rs, which judges them.

usage: provinces.py COMPOSE_FILE K8S_FILE...
"""
import json
import sys

import yaml

VARS = ("REFERENCE_DIRS", "PLAN_DIRS")
IMAGE = "coophub/hub"


def env_items(env):
    if env is None:
        return []
    if isinstance(env, list):
        return [tuple((e.split("=", 1) + [""])[:2]) for e in env]
    return [(k, "" if v is None else str(v)) for k, v in env.items()]


def compose(path):
    doc = yaml.safe_load(open(path, encoding="utf-8"))
    out = {}
    for name, svc in (doc.get("services") or {}).items():
        if not str(svc.get("image", "")).startswith(IMAGE):
            continue
        env = dict(env_items(svc.get("environment")))
        out[name] = {
            "command": [str(c) for c in svc.get("command") or []],
            "env": {k: env[k] for k in VARS if k in env},
        }
    return out


def kubernetes(path):
    docs = [d for d in yaml.safe_load_all(open(path, encoding="utf-8")) if d]
    maps = {
        (d.get("metadata") or {}).get("name"): d.get("data") or {}
        for d in docs
        if d.get("kind") == "ConfigMap"
    }
    out = {}
    for d in docs:
        spec = (((d.get("spec") or {}).get("template") or {}).get("spec")) or {}
        for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
            if not str(c.get("image", "")).startswith(IMAGE):
                continue
            env = {}
            for e in c.get("envFrom") or []:
                ref = (e.get("configMapRef") or {}).get("name")
                if ref is not None:
                    env.update({k: str(v) for k, v in maps.get(ref, {}).items()})
            for e in c.get("env") or []:
                if "value" in e:
                    env[e["name"]] = str(e["value"])
            name = f"{(d.get('metadata') or {}).get('name')}/{c.get('name')}"
            out[name] = {
                "command": [str(a) for a in (c.get("command") or []) + (c.get("args") or [])],
                "env": {k: env[k] for k in VARS if k in env},
            }
    return out


result = {"compose": compose(sys.argv[1]), "kubernetes": {}}
for p in sys.argv[2:]:
    result["kubernetes"].update(kubernetes(p))
print(json.dumps(result, indent=1, sort_keys=True))

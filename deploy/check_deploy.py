"""Check that deploy/ still matches the code: run `.venv/bin/python deploy/check_deploy.py`.

- every BOOKING_/ADAPTERS_/NOTIFY_ variable in compose.yaml, .env.example and the k8s
  ConfigMap is a field of that service's settings class, and the values parse;
- the commands in compose.yaml and the k8s Deployments name modules that exist;
- kafka/create-topics.sh creates exactly the topics of haulbridge_runtime.topics (+ .dlq);
- every haulbridge_* metric in prometheus/alerts.yml is one haulbridge_runtime.metrics exports.

Needs the repository's packages and PyYAML (both in .venv after `make run`/`make test`).
Docker, kubectl and promtool checks are listed in deploy/README.md.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from booking.settings import BookingSettings
from hauler_adapters.settings import AdapterSettings
from haulbridge_runtime import topics
from notify.settings import NotifySettings

HERE = Path(__file__).resolve().parent
SETTINGS = {"BOOKING_": BookingSettings, "ADAPTERS_": AdapterSettings, "NOTIFY_": NotifySettings}
# Variables that are not Haulbridge settings but are read by something else on purpose.
OTHER_VARS = {"FORWARDED_ALLOW_IPS",                              # uvicorn
              "VALLEY_HAUL_API_KEY", "VALLEY_HAUL_WEBHOOK_SECRET"}  # named by an integration
problems: list[str] = []


def check_vars(where: str, env: dict[str, str]) -> None:
    for prefix, cls in SETTINGS.items():
        mine = {k: str(v) for k, v in env.items() if k.startswith(prefix)}
        for key in mine:
            if key[len(prefix):].lower() not in cls.model_fields:
                problems.append(f"{where}: {key} is not a setting of {cls.__name__}")
        if mine:
            saved = dict(os.environ)
            try:
                os.environ.clear()
                os.environ.update({k: v for k, v in mine.items() if "${" not in v})
                cls()
            except Exception as exc:  # a value that does not parse
                problems.append(f"{where}: {cls.__name__} rejects the values: {exc}")
            finally:
                os.environ.clear()
                os.environ.update(saved)
    for key in env:
        if not any(key.startswith(p) for p in SETTINGS) and key not in OTHER_VARS:
            problems.append(f"{where}: {key} is read by nothing")


def check_module(where: str, command: list[str]) -> None:
    if command[:2] != ["python", "-m"] or importlib.util.find_spec(command[2]) is None:
        problems.append(f"{where}: command {command} does not run an existing module")


def main() -> int:
    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    for name in ("booking", "hauler-adapters", "notify", "demo-seed"):
        svc = compose["services"][name]
        check_vars(f"compose.yaml {name}", svc["environment"])
        check_module(f"compose.yaml {name}", svc["command"])
    for name in ("json-hauler", "smtp-sink"):
        check_module(f"compose.yaml {name}", compose["services"][name]["command"])

    dotenv = {}
    for line in (HERE / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            dotenv[key] = value
    compose_text = (HERE / "compose.yaml").read_text()
    for key in dotenv:
        if "${" + key not in compose_text:
            problems.append(f".env.example: {key} is not used by compose.yaml")

    docs = [d for f in sorted((HERE / "k8s").glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in yaml.safe_load_all(f.read_text()) if d]
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "haulbridge-config")
    check_vars("k8s ConfigMap haulbridge-config", config["data"])
    for d in docs:
        if d["kind"] == "Deployment":
            for c in d["spec"]["template"]["spec"]["containers"]:
                check_module(f"k8s Deployment {d['metadata']['name']}", c["command"])
                check_vars(f"k8s Deployment {d['metadata']['name']}", {e["name"]: e.get("value", "")
                                                                       for e in c.get("env", [])})

    script = (HERE / "kafka/create-topics.sh").read_text()
    listed = set(re.search(r'^TOPICS="([^"]*)"', script, re.M).group(1).split())
    if listed != set(topics.ALL_TOPICS):
        problems.append(f"kafka/create-topics.sh creates {sorted(listed)}, topics.py has {sorted(topics.ALL_TOPICS)}")
    if '"${PREFIX}${t}.dlq"' not in script or topics.dlq("x") != "x.dlq":
        problems.append("kafka/create-topics.sh does not create the .dlq topics as topics.dlq() names them")

    exported = set()
    for app in ("booking.app", "hauler_adapters.app", "notify.app"):  # each registers its own metrics
        importlib.import_module(app)
    for family in REGISTRY.collect():
        exported |= {family.name, f"{family.name}_total"} if family.type == "counter" else {family.name}
        if family.type == "histogram":
            exported |= {f"{family.name}_{s}" for s in ("bucket", "sum", "count")}
    alerts = yaml.safe_load((HERE / "prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            for name in re.findall(r"\bhaulbridge_[a-z_]+\b", rule["expr"]):
                if name not in exported:
                    problems.append(f"alerts.yml {rule['alert']}: {name} is not exported")

    for p in problems:
        print("PROBLEM:", p)
    print("deploy/ matches the code" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

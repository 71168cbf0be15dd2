"""Check that deploy/ still matches the code: run `.venv/bin/python deploy/check_deploy.py`.

- every BOOKING_/ADAPTERS_/NOTIFY_/OPS_ variable in compose.yaml, .env.example and the k8s
  ConfigMap and Deployments is a field of that service's settings class, and the values parse;
- the commands in compose.yaml and the k8s Deployments name modules that exist;
- kafka/create-topics.sh creates exactly the topics of haulbridge_runtime.topics (+ .dlq);
- metrics: docs/metrics.md's table is the one list of names and labels. Every row is registered
  by the code (the runtime's and each service's metrics, imported through the service apps) with
  that type and those labels, every haulbridge_* metric the code registers has a row, and the
  alert rules (prometheus/alerts.yml) and the Grafana dashboard (grafana/*.json) use only
  documented names, and only documented labels in their selectors, `by`/`on` clauses and
  label_values();
- every alert has a unit test in prometheus/alerts.test.yml and a line in README.md;
- the dashboard reads from the provisioned data source, its panel ids are unique, and the
  files compose.yaml mounts exist.

A module that cannot be imported (a service not installed in this environment) is reported as
a problem and the checks that need it are skipped; the rest still run.

Needs the repository's packages and PyYAML (both in .venv after `make run`/`make test`).
Docker, kubectl and promtool checks are listed in deploy/README.md (tests/test_deploy.py runs
promtool and kubectl when they are installed).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from haulbridge_runtime import topics

HERE = Path(__file__).resolve().parent
METRICS_MD = HERE.parent / "docs" / "metrics.md"
DASHBOARDS = sorted((HERE / "grafana").glob("*.json"))
# prefix → (module, settings class); imported in main(), so one missing service does not stop the rest.
SETTINGS_CLASSES = {"BOOKING_": ("booking.settings", "BookingSettings"),
                    "ADAPTERS_": ("hauler_adapters.settings", "AdapterSettings"),
                    "NOTIFY_": ("notify.settings", "NotifySettings"),
                    "OPS_": ("ops.settings", "OpsSettings")}
SETTINGS: dict[str, type] = {}
# Importing a service's app imports every module that registers its metrics.
METRIC_MODULES = ("haulbridge_runtime.metrics", "booking.app", "hauler_adapters.app", "notify.app", "ops.app")
# Variables that are not Haulbridge settings but are read by something else on purpose.
OTHER_VARS = {"FORWARDED_ALLOW_IPS",                              # uvicorn
              "OTEL_EXPORTER_OTLP_ENDPOINT",                      # OpenTelemetry (haulbridge_runtime.tracing)
              "VALLEY_HAUL_API_KEY", "VALLEY_HAUL_WEBHOOK_SECRET"}  # named by an integration
# Labels Prometheus adds when it scrapes (prometheus/prometheus.yml), and the histogram bucket label.
SCRAPE_LABELS = {"job", "instance", "app"}
problems: list[str] = []


def import_or_report(module: str, why: str):
    try:
        return importlib.import_module(module)
    except Exception as exc:  # not installed, or broken: say so, skip what needs it
        problems.append(f"cannot import {module} ({exc.__class__.__name__}: {exc}): {why} not checked")
        return None


# --- settings and modules ------------------------------------------------------------------
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
        if not any(key.startswith(p) for p in SETTINGS_CLASSES) and key not in OTHER_VARS:
            problems.append(f"{where}: {key} is read by nothing")


def check_module(where: str, command: list[str]) -> None:
    if command[:2] != ["python", "-m"]:
        problems.append(f"{where}: command {command} does not run a module")
        return
    try:
        found = importlib.util.find_spec(command[2]) is not None
    except ModuleNotFoundError:  # a submodule of a package that is not installed
        found = False
    if not found:
        problems.append(f"{where}: command {command} runs {command[2]}, which is not importable here "
                        "(missing, or its package is not installed in this environment)")


# --- the documented metrics ----------------------------------------------------------------
def documented_metrics(text: str) -> dict[str, tuple[str, set[str]]]:
    """docs/metrics.md's table: name → (type, label names). Parenthesised text in the labels
    column (values, notes) is not a label."""
    rows: dict[str, tuple[str, set[str]]] = {}
    header: list[str] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        row = dict(zip(header, cells))
        name = row.get("name", "").strip("`")
        if not re.fullmatch(r"haulbridge_[a-z0-9_]+", name):
            problems.append(f"docs/metrics.md: row {line[:60]!r} does not start with a haulbridge_* name")
            continue
        kind = row.get("type", "")
        if kind not in ("counter", "gauge", "histogram"):
            problems.append(f"docs/metrics.md: {name} has type {kind!r} (counter, gauge or histogram)")
        labels_text = re.sub(r"\([^)]*\)", "", row.get("labels", ""))
        labels = {label.strip() for label in labels_text.split(",") if label.strip() not in ("", "-", "—")}
        for label in labels:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", label):
                problems.append(f"docs/metrics.md: {name} has a label {label!r} that is not a label name")
        if kind == "counter" and not name.endswith("_total"):
            problems.append(f"docs/metrics.md: counter {name} is exposed as {name}_total; list that name")
        if name in rows:
            problems.append(f"docs/metrics.md: {name} is listed twice")
        rows[name] = (kind, labels)
    if not rows:
        problems.append("docs/metrics.md: no metrics table found")
    return rows


def registered_metrics() -> dict[str, tuple[str, set[str]]]:
    """haulbridge_* metrics registered in this process, named as docs/metrics.md names them."""
    found = {}
    for collector in list(REGISTRY._collector_to_names):  # prometheus_client keeps no public list
        name, kind = getattr(collector, "_name", ""), getattr(collector, "_type", "")
        if name.startswith("haulbridge_"):
            found[f"{name}_total" if kind == "counter" else name] = (kind, set(getattr(collector, "_labelnames", ())))
    return found


def series_names(documented: dict[str, tuple[str, set[str]]]) -> dict[str, str]:
    """Names that appear in PromQL → the documented metric they belong to."""
    names = {}
    for name, (kind, _) in documented.items():
        if kind == "histogram":  # exposed as three series, never under its own name
            names.update({f"{name}_{s}": name for s in ("bucket", "sum", "count")})
        else:
            names[name] = name
    return names


def _closing(expr: str, start: int) -> int:
    """Index just past the parenthesis group that opens at expr[start]."""
    depth = 0
    for i in range(start, len(expr)):
        depth += {"(": 1, ")": -1}.get(expr[i], 0)
        if depth == 0:
            return i + 1
    return len(expr)


def check_expr(where: str, expr: str, documented: dict[str, tuple[str, set[str]]]) -> None:
    """Names, selector labels, by/on labels and label_values() of one PromQL expression."""
    names = series_names(documented)
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # label values and strings say nothing here

    def labels_of(series: str) -> set[str]:
        base = names[series]
        extra = {"le"} if series.endswith("_bucket") and documented[base][0] == "histogram" else set()
        return documented[base][1] | SCRAPE_LABELS | extra

    for series in re.findall(r"\bhaulbridge_[a-z0-9_]+\b", code):
        if series not in names:
            problems.append(f"{where}: {series} is not in docs/metrics.md")
    for series, selector in re.findall(r"\b(haulbridge_[a-z0-9_]+)\s*\{([^}]*)\}", code):
        if series in names:
            for label in re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", selector):
                if label not in labels_of(series):
                    problems.append(f"{where}: {series} has no label {label!r} (docs/metrics.md)")
    # `by (...)`/`on (...)`/`ignoring (...)` name labels of the metrics in the expression they apply to:
    # for by, the parenthesised argument that follows; for on/ignoring, both sides (the whole expression).
    for match in re.finditer(r"\b(by|on|ignoring)\s*\(([^)]*)\)", code):
        clause, labels = match.group(1), [x.strip() for x in match.group(2).split(",") if x.strip()]
        if clause == "by":
            rest = code[match.end():].lstrip()
            scope = rest[:_closing(rest, 0)] if rest.startswith("(") else code
        else:
            scope = code
        metrics = [m for m in re.findall(r"\bhaulbridge_[a-z0-9_]+\b", scope) if m in names]
        if not metrics:
            continue
        known = set().union(*(labels_of(m) for m in metrics))
        for label in labels:
            if label not in known:
                problems.append(f"{where}: `{clause} ({label})` but {', '.join(sorted(set(metrics)))} "
                                f"has no label {label!r} (docs/metrics.md)")
    for series, label in re.findall(r"label_values\(\s*(haulbridge_[a-z0-9_]+)[^,]*,\s*(\w+)\s*\)", expr):
        if series in names and label not in labels_of(series):
            problems.append(f"{where}: label_values({series}, {label}): no such label (docs/metrics.md)")


def check_metrics(alerts: dict, dashboards: dict[str, dict]) -> None:
    documented = documented_metrics(METRICS_MD.read_text())

    imported = [m for m in METRIC_MODULES if import_or_report(m, "the metrics it registers are")]
    registered = registered_metrics()
    for name, (kind, labels) in sorted(documented.items()):
        if name not in registered:
            problems.append(f"docs/metrics.md lists {name}, which no imported module registers "
                            f"(imported: {', '.join(imported)})")
            continue
        got_kind, got_labels = registered[name]
        if got_kind != kind:
            problems.append(f"docs/metrics.md: {name} is a {kind}, the code registers a {got_kind}")
        if got_labels != labels:
            problems.append(f"docs/metrics.md: {name} has labels {sorted(labels)}, "
                            f"the code registers {sorted(got_labels)}")
    for name in sorted(set(registered) - set(documented)):
        problems.append(f"the code registers {name}, which docs/metrics.md does not list")

    for group in alerts["groups"]:
        for rule in group["rules"]:
            check_expr(f"alerts.yml {rule.get('alert') or rule.get('record')}", rule["expr"], documented)
    for file, dashboard in dashboards.items():
        for panel in all_panels(dashboard):
            for t in panel.get("targets", []):
                check_expr(f"{file} panel {panel.get('title')!r} {t.get('refId')}", t.get("expr", ""), documented)
        for var in dashboard.get("templating", {}).get("list", []):
            query = var.get("query")
            text = query.get("query", "") if isinstance(query, dict) else str(query or "")
            check_expr(f"{file} variable {var.get('name')}", f"{text} {var.get('definition', '')}", documented)


# --- dashboards, alerts' tests, mounts --------------------------------------------------------
def all_panels(dashboard: dict) -> list[dict]:
    out = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))  # a collapsed row keeps its panels inside
    return out


def load_dashboards() -> dict[str, dict]:
    loaded = {}
    if not DASHBOARDS:
        problems.append("grafana/: no dashboard JSON")
    for path in DASHBOARDS:
        try:
            loaded[f"grafana/{path.name}"] = json.loads(path.read_text())
        except ValueError as exc:
            problems.append(f"grafana/{path.name} is not JSON: {exc}")
    return loaded


def check_dashboards(dashboards: dict[str, dict], compose: dict) -> None:
    datasources = yaml.safe_load((HERE / "grafana/provisioning/datasource.yaml").read_text())["datasources"]
    provisioned = {d["uid"] for d in datasources if d["type"] == "prometheus"}
    providers = yaml.safe_load((HERE / "grafana/provisioning/dashboards.yaml").read_text())["providers"]
    folders = {p["options"]["path"] for p in providers}
    mounts = {v.split(":")[1] for v in compose["services"]["grafana"]["volumes"] if v.startswith("./grafana/")}
    for file, dashboard in dashboards.items():
        if not any(f"{folder}/{Path(file).name}" in mounts for folder in folders):
            problems.append(f"compose.yaml grafana does not mount {file} where dashboards.yaml reads dashboards")
        variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
        ds = variables.get("DS_PROMETHEUS")
        if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
            problems.append(f"{file}: no Prometheus data source variable DS_PROMETHEUS")
        elif ds.get("current", {}).get("value") not in provisioned:
            problems.append(f"{file}: DS_PROMETHEUS defaults to {ds.get('current', {}).get('value')!r}, "
                            f"the provisioned Prometheus is {sorted(provisioned)}")
        ids = [p.get("id") for p in all_panels(dashboard)]
        if len(ids) != len(set(ids)) or None in ids:
            problems.append(f"{file}: panel ids are missing or repeated")
        for panel in all_panels(dashboard):
            if panel.get("type") == "row":
                continue
            if "gridPos" not in panel:
                problems.append(f"{file} panel {panel.get('title')!r}: no gridPos")
            uses = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
            if any((u or {}).get("uid") != "${DS_PROMETHEUS}" for u in uses):
                problems.append(f"{file} panel {panel.get('title')!r}: a data source other than ${{DS_PROMETHEUS}}")
            if not panel.get("targets"):
                problems.append(f"{file} panel {panel.get('title')!r}: no query")
        for var in variables.values():
            if var.get("type") == "query" and (var.get("datasource") or {}).get("uid") != "${DS_PROMETHEUS}":
                problems.append(f"{file} variable {var['name']}: a data source other than ${{DS_PROMETHEUS}}")


def check_alert_tests_and_docs(alerts: dict) -> None:
    tests = yaml.safe_load((HERE / "prometheus/alerts.test.yml").read_text())
    tested = {t["alertname"] for case in tests["tests"] for t in case.get("alert_rule_test", [])}
    readme = (HERE / "README.md").read_text()
    for group in alerts["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if name and name not in tested:
                problems.append(f"alerts.yml {name} has no test in alerts.test.yml")
            if name and f"| {name} |" not in readme:
                problems.append(f"alerts.yml {name} is not in deploy/README.md's alert table")


def check_compose_mounts(compose: dict) -> None:
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./") and not (HERE / source).exists():
                problems.append(f"compose.yaml {name} mounts {source}, which does not exist")


def main() -> int:
    for prefix, (module, cls) in SETTINGS_CLASSES.items():
        if (mod := import_or_report(module, f"{prefix}* variables are")) is not None:
            SETTINGS[prefix] = getattr(mod, cls)

    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    for name in ("booking", "hauler-adapters", "notify", "ops", "demo-seed"):
        svc = compose["services"][name]
        check_vars(f"compose.yaml {name}", svc["environment"])
        check_module(f"compose.yaml {name}", svc["command"])
    for name in ("json-hauler", "smtp-sink"):
        check_module(f"compose.yaml {name}", compose["services"][name]["command"])
    check_compose_mounts(compose)

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
    kustomization = yaml.safe_load((HERE / "k8s/kustomization.yaml").read_text())
    for f in sorted((HERE / "k8s").glob("*.yaml")):
        if f.name != "kustomization.yaml" and f.name not in kustomization["resources"]:
            problems.append(f"k8s/kustomization.yaml does not list {f.name}")

    script = (HERE / "kafka/create-topics.sh").read_text()
    listed = set(re.search(r'^TOPICS="([^"]*)"', script, re.M).group(1).split())
    if listed != set(topics.ALL_TOPICS):
        problems.append(f"kafka/create-topics.sh creates {sorted(listed)}, topics.py has {sorted(topics.ALL_TOPICS)}")
    if '"${PREFIX}${t}.dlq"' not in script or topics.dlq("x") != "x.dlq":
        problems.append("kafka/create-topics.sh does not create the .dlq topics as topics.dlq() names them")

    alerts = yaml.safe_load((HERE / "prometheus/alerts.yml").read_text())
    dashboards = load_dashboards()
    check_metrics(alerts, dashboards)
    check_dashboards(dashboards, compose)
    check_alert_tests_and_docs(alerts)

    for p in problems:
        print("PROBLEM:", p)
    print("deploy/ matches the code" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

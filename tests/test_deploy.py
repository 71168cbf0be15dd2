"""deploy/ describes the platform the code is: settings, modules, topics and metrics it names exist.

The checks are deploy/check_deploy.py (also runnable by hand); Docker, kubectl and promtool are
not needed for them, so this runs everywhere the suite does. Where promtool and kubectl are
installed, the alert rules' unit tests, the dashboard's PromQL and the kustomize render run too.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def load_check():
    spec = importlib.util.spec_from_file_location("check_deploy", DEPLOY / "check_deploy.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    return check


def test_deploy_files_name_only_settings_modules_topics_and_metrics_that_exist(capsys):
    check = load_check()
    status = check.main()
    assert check.problems == [], "\n".join(check.problems)
    assert status == 0
    assert "deploy/ matches the code" in capsys.readouterr().out


DOCUMENTED = """
| name | type | labels | meaning | service |
|---|---|---|---|---|
| `haulbridge_calls_total` | counter | hauler, outcome (`ok`, `error`: no answer) | calls | x |
| `haulbridge_call_seconds` | histogram | hauler | time | x |
| `haulbridge_kpi` | gauge | kpi, hauler (an id, or `all`) | a KPI | x |
"""


def test_the_metric_check_reads_names_types_and_labels_from_the_documented_table():
    check = load_check()
    documented = check.documented_metrics(DOCUMENTED)
    assert documented == {"haulbridge_calls_total": ("counter", {"hauler", "outcome"}),
                          "haulbridge_call_seconds": ("histogram", {"hauler"}),
                          "haulbridge_kpi": ("gauge", {"kpi", "hauler"})}
    assert check.problems == []


def test_the_metric_check_accepts_documented_names_and_labels():
    check = load_check()
    documented = check.documented_metrics(DOCUMENTED)
    check.check_expr("ok", """
        sum by (hauler) (rate(haulbridge_calls_total{outcome!~"ok|refused", job="x"}[5m]))
        / sum by (hauler) (rate(haulbridge_calls_total[5m]))
        and histogram_quantile(0.95, sum by (hauler, le) (rate(haulbridge_call_seconds_bucket{hauler=~"$hauler"}[5m])))
        and max by (kpi, hauler) (haulbridge_kpi{hauler="all"}) < on (kpi) group_left max by (kpi) (haulbridge_kpi)
        and haulbridge_calls_total{hauler="/a/{b}", outcome="x"}
        """, documented)
    check.check_expr("variable", "label_values(haulbridge_calls_total, hauler)", documented)
    assert check.problems == []


@pytest.mark.parametrize("expr, complaint", [
    ("rate(haulbridge_nope_total[5m])", "haulbridge_nope_total is not in docs/metrics.md"),
    ("haulbridge_calls", "haulbridge_calls is not in docs/metrics.md"),  # a counter is exposed as _total
    ("haulbridge_call_seconds", "haulbridge_call_seconds is not in docs/metrics.md"),  # a histogram's series
    ('haulbridge_kpi{service="x"}', "haulbridge_kpi has no label 'service'"),
    ("sum by (service) (rate(haulbridge_calls_total[5m]))", "`by (service)` but haulbridge_calls_total"),
    ("sum by (hauler, le) (rate(haulbridge_calls_total[5m]))", "`by (le)`"),  # le only on a histogram's buckets
    ("haulbridge_kpi < on (topic) haulbridge_kpi", "`on (topic)`"),
    ("label_values(haulbridge_kpi, topic)", "label_values(haulbridge_kpi, topic): no such label"),
])
def test_the_metric_check_catches_undocumented_names_and_labels(expr, complaint):
    check = load_check()
    documented = check.documented_metrics(DOCUMENTED)
    check.check_expr("here", expr, documented)
    assert any(complaint in p for p in check.problems), check.problems


def test_an_empty_integrations_file_variable_means_no_file(monkeypatch):
    from hauler_adapters.settings import AdapterSettings

    monkeypatch.setenv("ADAPTERS_INTEGRATIONS_FILE", "")  # what `${VAR:-}` in a compose file gives
    assert AdapterSettings().integrations_file is None


def test_an_empty_operator_token_turns_template_previews_off(monkeypatch):
    from notify.settings import NotifySettings

    monkeypatch.setenv("NOTIFY_OPERATOR_TOKEN", "")  # compose's `${NOTIFY_OPERATOR_TOKEN:-}` when unset
    assert NotifySettings().operator_token is None  # never an empty secret that "Bearer " would match


def test_empty_operator_tokens_give_ops_no_token(monkeypatch):
    from ops.settings import OpsSettings

    for name in ("BOOKING", "ADAPTERS", "NOTIFY"):  # compose's `${BOOKING_OPERATOR_TOKEN:-}` when unset
        monkeypatch.setenv(f"OPS_{name}_OPERATOR_TOKEN", "")
    settings = OpsSettings()
    assert (settings.booking_operator_token, settings.adapters_operator_token, settings.notify_operator_token) == (
        None, None, None)


# --- with the tools, where they are installed -----------------------------------------------
needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")


def run(*command: str, cwd: Path = DEPLOY) -> str:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_promtool
def test_the_alert_rules_are_valid_and_pass_their_unit_tests():
    run("promtool", "check", "rules", "prometheus/alerts.yml")
    run("promtool", "test", "rules", "prometheus/alerts.test.yml")


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path):
    """Each panel's query becomes a recording rule, which promtool parses (variables filled in)."""
    rules = []
    for path in sorted((DEPLOY / "grafana").glob("*.json")):
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"] + [p for row in dashboard["panels"] for p in row.get("panels", [])]:
            for target in panel.get("targets", []):
                expr = target["expr"].replace("$hauler", ".*").replace("$service", ".*")
                rules.append({"record": f"dashboard:query{len(rules)}", "expr": expr})
    assert rules
    file = tmp_path / "dashboard-queries.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run("promtool", "check", "rules", str(file))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_kubernetes_base_renders():
    rendered = [d for d in yaml.safe_load_all(run("kubectl", "kustomize", "k8s")) if d]
    deployments = {d["metadata"]["name"] for d in rendered if d["kind"] == "Deployment"}
    assert deployments == {"booking", "hauler-adapters", "notify", "ops"}

"""deploy/ describes the platform the code is: settings, modules, topics and metrics it names exist.

The checks are deploy/check_deploy.py (also runnable by hand); Docker, kubectl and promtool are
not needed, so this runs everywhere the suite does.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_deploy_files_name_only_settings_modules_topics_and_metrics_that_exist(capsys):
    spec = importlib.util.spec_from_file_location("check_deploy", DEPLOY / "check_deploy.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    status = check.main()
    assert check.problems == [], "\n".join(check.problems)
    assert status == 0
    assert "deploy/ matches the code" in capsys.readouterr().out


def test_an_empty_integrations_file_variable_means_no_file(monkeypatch):
    from hauler_adapters.settings import AdapterSettings

    monkeypatch.setenv("ADAPTERS_INTEGRATIONS_FILE", "")  # what `${VAR:-}` in a compose file gives
    assert AdapterSettings().integrations_file is None


def test_an_empty_operator_token_turns_template_previews_off(monkeypatch):
    from notify.settings import NotifySettings

    monkeypatch.setenv("NOTIFY_OPERATOR_TOKEN", "")  # compose's `${NOTIFY_OPERATOR_TOKEN:-}` when unset
    assert NotifySettings().operator_token is None  # never an empty secret that "Bearer " would match

"""The published contracts stay true to the code."""
from __future__ import annotations

import ast
from pathlib import Path

from devstack import contracts
from haulbridge_runtime import topics
from haulbridge_runtime.topics import TOPIC_OF, EventType, short_name

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_openapi_documents_match_the_code():
    assert contracts.main(["check"]) == 0, "run `make contracts` and commit contracts/openapi/"


def test_every_event_type_has_a_schema_and_every_schema_an_event_type():
    declared = {short_name(v) for k, v in vars(EventType).items() if not k.startswith("_")}
    assert declared == contracts.event_schema_names()
    assert set(TOPIC_OF) == {v for k, v in vars(EventType).items() if not k.startswith("_")}
    assert set(TOPIC_OF.values()) <= set(topics.ALL_TOPICS)


def test_services_name_topics_and_event_types_only_through_the_topics_module():
    # A literal topic or event-type string in a service would bypass the one list of names.
    literals = set(topics.ALL_TOPICS) | set(TOPIC_OF)
    offenders = []
    for path in (ROOT / "services").rglob("*.py"):
        if "tests" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in literals:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_no_service_imports_another_service():
    packages = {"booking": "booking", "hauler-adapters": "hauler_adapters", "notify": "notify"}
    offenders = []
    for folder, own in packages.items():
        others = set(packages.values()) - {own}
        for path in (ROOT / "services" / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                offenders += [f"{path.relative_to(ROOT)} imports {n}" for n in names if n.split(".")[0] in others]
    assert offenders == []

"""Fixtures for the cross-service suites: the whole platform as separate processes."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
import pytest

from devstack.infra import free_port
from devstack.stack import Platform, Ports


@pytest.fixture
def platform_factory(infra, database, topic_prefix, tmp_path) -> Iterator:
    """Build (not yet start) the platform on free ports, on this test's database and topics."""
    built: list[Platform] = []

    def build(**kwargs) -> Platform:
        ports = Ports(**{f.name: free_port() for f in fields(Ports)})
        platform = Platform(dsns=database, bootstrap=infra.bootstrap, run_dir=tmp_path / "run", ports=ports,
                            topic_prefix=topic_prefix, sim_confirm_delay=0.5, sim_complete_delay=1.0, **kwargs)
        platform.seed_demo_city()
        built.append(platform)
        return platform

    yield build
    for platform in built:
        platform.stop_all()

"""Fixtures for the cross-service suites: the whole platform as separate processes."""
from __future__ import annotations

from collections.abc import Iterator
import pytest

from devstack.infra import free_port
from devstack.stack import Platform, Ports


@pytest.fixture
def platform_factory(infra, database, topic_prefix, tmp_path) -> Iterator:
    """Build (not yet start) the platform on free ports, on this test's database and topics."""
    built: list[Platform] = []

    def build(**kwargs) -> Platform:
        ports = Ports(booking=free_port(), adapters=free_port(), notify=free_port(), json_hauler=free_port(),
                      smtp=free_port(), smtp_http=free_port(), sms_pelican=free_port(), sms_kestrel=free_port(),
                      notify_bounces=free_port(), declarative_hauler=free_port(),
                      soap_hauler=free_port(), adapters_replies=free_port(), email_office=free_port(),
                      email_office_http=free_port(), sftp_hauler=free_port(), sftp_hauler_http=free_port())
        platform = Platform(dsns=database, bootstrap=infra.bootstrap, run_dir=tmp_path / "run", ports=ports,
                            topic_prefix=topic_prefix, sim_confirm_delay=0.5, sim_complete_delay=1.0, **kwargs)
        platform.seed_demo_city()
        built.append(platform)
        return platform

    yield build
    for platform in built:
        platform.stop_all()

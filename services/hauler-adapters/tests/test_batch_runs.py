"""South Bay Haulers works from files: bookings wait for the evening manifest, uploaded by SFTP;
the completion file read back the next morning closes them; a row that cannot be read is kept
and shown, never dropped."""
from __future__ import annotations

import pytest

from devstack.infra import free_port
from devstack.testing import eventually, in_process
from haulbridge_runtime.topics import EventType
from haulbridge_simulators.sftp_hauler import SftpHauler, SftpHaulerSettings
from hauler_adapters.app import build_app
from test_dispatch import booking_requested, hauler_events, publish

STAFF = {"Authorization": "Bearer adapters-test-operator-token"}


@pytest.fixture
async def south_bay(tmp_path):
    settings = SftpHaulerSettings(port=free_port(), http_port=free_port(), root=tmp_path / "sftp",
                                  process_seconds=3600, complete_delay=0, malformed_row=True)
    hauler = await SftpHauler(settings).start()
    yield hauler
    await hauler.close()


@pytest.fixture
async def adapters_with_files(adapter_settings, south_bay, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SOUTH_BAY_SFTP_PASSWORD", south_bay.settings.password)
    integrations = json.loads(adapter_settings.integrations_file.read_text()) + [{
        "hauler_id": "south-bay-haulers", "kind": "batch_files",
        "base_url": f"sftp://127.0.0.1:{south_bay.settings.port}", "api_key_env": "SOUTH_BAY_SFTP_PASSWORD",
        "config": {"username": south_bay.settings.username, "manifest_dir": "/inbox",
                   "completions_dir": "/outbox"}}]
    path = tmp_path / "integrations-with-files.json"
    path.write_text(json.dumps(integrations))
    settings = adapter_settings.model_copy(update={"integrations_file": path, "batch_poll_seconds": 0.2})
    app = build_app(settings)  # nightly manifests (20:00): the test sends one by hand
    async with in_process(app) as client:
        client.settings = settings
        yield client


async def test_bookings_wait_for_the_manifest_and_the_completion_file_closes_them(adapters_with_files, south_bay):
    settings = adapters_with_files.settings
    collected, refused = booking_requested(hauler_id="south-bay-haulers"), booking_requested(hauler_id="south-bay-haulers")
    refused.data["items"] = [{"item": "paint", "label": "Paint cans", "quantity": 3}]
    refused.data["reference"] = "JP-2026-000043"
    for event in (collected, refused):
        await publish(settings, event)
    assert await hauler_events(settings, expect=1, timeout=3) == []  # queued: nothing is sent per booking

    assert (await adapters_with_files.post("/admin/v1/batch/south-bay-haulers/manifest")).status_code == 401
    sent = (await adapters_with_files.post("/admin/v1/batch/south-bay-haulers/manifest", headers=STAFF)).json()
    assert sent["bookings"] == 2 and south_bay.manifests() == [f"manifest-{sent['day']}.csv"]
    again = (await adapters_with_files.post("/admin/v1/batch/south-bay-haulers/manifest", headers=STAFF)).json()
    assert again["bookings"] == 0  # each booking goes in one manifest
    accepted = await hauler_events(settings, expect=2)
    assert {e["type"] for e in accepted} == {EventType.DISPATCH_ACCEPTED}

    south_bay.process(now=True)  # the office works through the manifest and writes its completion file
    events = await hauler_events(settings, expect=4)
    by_booking = {(e["subject"], e["type"]): e for e in events}
    assert (collected.subject, EventType.PICKUP_COMPLETED) in by_booking
    rejected = by_booking[(refused.subject, EventType.DISPATCH_REJECTED)]
    assert rejected["data"]["reason"] == "Hazardous items"

    [read] = await eventually(lambda: _files(adapters_with_files), what="the completion file recorded")
    assert (read["reports"], read["applied"]) == (2, 2)
    [problem] = read["problems"]  # the broken row: kept, with where and why
    assert problem["line"] == 3 and "is not a date" in problem["reason"] and problem["raw"]


async def _files(client):
    return (await client.get("/admin/v1/batch/files", headers=STAFF)).json() or None

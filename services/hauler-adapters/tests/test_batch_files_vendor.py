"""A vendor that works from daily batch files: South Bay Haulers' SFTP server, over real SSH."""
from __future__ import annotations

import csv
from contextlib import asynccontextmanager
from datetime import date, timedelta

import httpx
import pytest

from devstack.infra import free_port
from devstack.testing import eventually, http_server
from haulbridge_simulators.sftp_hauler import SftpHauler, SftpHaulerSettings, build_http_app
from hauler_adapters.vendors.base import Integration, PickupJob, VendorRejected, VendorReport, VendorUnavailable
from hauler_adapters.vendors.batch_files import BatchFilesAdapter, RowProblem

DAY = date.today() + timedelta(days=1)
SERVICE_DATE = DAY.isoformat()


@asynccontextmanager
async def _south_bay(tmp_path, **settings):
    """The hauler's SFTP server rooted in tmp_path, its office answering only when told (or as ``settings`` say)."""
    settings = SftpHaulerSettings(port=free_port(), http_port=free_port(), root=tmp_path / "sftp",
                                  **{"complete_delay": 3600, **settings})
    hauler = await SftpHauler(settings).start()
    try:
        async with http_server(build_http_app(hauler), settings.http_port):
            yield hauler
    finally:
        await hauler.close()


@pytest.fixture
async def south_bay(tmp_path):
    async with _south_bay(tmp_path) as hauler:
        yield hauler


@pytest.fixture(autouse=True)
def _password(monkeypatch):
    monkeypatch.setenv("SOUTH_BAY_SFTP_PASSWORD", "southbay-demo-password")


def _adapter(port: int, *, attempts: int = 3) -> BatchFilesAdapter:
    integration = Integration(hauler_id="south-bay-haulers", kind="batch_files", base_url=f"sftp://127.0.0.1:{port}",
                              api_key_env="SOUTH_BAY_SFTP_PASSWORD", webhook_secret_env=None,
                              config={"username": "haulbridge", "manifest_dir": "/inbox", "completions_dir": "/outbox"})
    return BatchFilesAdapter(integration, timeout=5, attempts=attempts, retry_initial=0.01, retry_max=0.05)


def _job(reference: str = "JP-2026-000301", street: str = "1 N First St, San Jose, CA 95113",
         items: tuple[tuple[str, int], ...] = (("sofa", 1), ("mattress", 2))) -> PickupJob:
    return PickupJob(booking_id=f"booking-{reference}", reference=reference, pickup_date=SERVICE_DATE,
                     address={"text": street, "latitude": 37.34, "longitude": -121.89},
                     items=[{"item": code, "label": code.title(), "quantity": n} for code, n in items],
                     contact_name="Rosa Díaz", contact_phone="+14085551234", notes='Side gate, "blue" bin',
                     idempotency_key=f"haulbridge-{reference}")


async def _sim(hauler: SftpHauler, method: str, path: str):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{hauler.settings.http_port}") as client:
        response = await client.request(method, path)
        response.raise_for_status()
        return response.json()


def _manifest_rows(hauler: SftpHauler) -> list[dict]:
    with (hauler.inbox / f"manifest-{SERVICE_DATE}.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_dispatch_queues_the_job_without_calling_the_hauler():
    adapter = _adapter(free_port())  # nothing listens there
    receipt = await adapter.dispatch(_job())
    assert (receipt.external_ref, receipt.status) == ("JP-2026-000301", "queued")
    with pytest.raises(VendorRejected, match="codes free of ':' and ';'"):
        await adapter.dispatch(_job(items=(("tv;monitor", 1),)))


async def test_the_manifest_reaches_the_hauler_with_one_row_per_job(south_bay):
    adapter = _adapter(south_bay.settings.port)
    path = await adapter.upload_manifest(DAY, [_job(), _job("JP-2026-000302", street="2 S Market St, San Jose")])
    assert path == f"/inbox/manifest-{SERVICE_DATE}.csv"
    stats = await _sim(south_bay, "GET", "/_sim/stats")
    assert stats["manifests"] == [f"manifest-{SERVICE_DATE}.csv"]
    assert stats["rows_per_city_reference"] == {"JP-2026-000301": 1, "JP-2026-000302": 1}
    first = _manifest_rows(south_bay)[0]
    assert first == {"reference": "JP-2026-000301", "booking_id": "booking-JP-2026-000301",
                     "service_date": SERVICE_DATE, "address": "1 N First St, San Jose, CA 95113",
                     "items": "sofa:1;mattress:2", "contact_name": "Rosa Díaz", "contact_phone": "+14085551234",
                     "notes": 'Side gate, "blue" bin'}


async def test_uploading_a_day_again_replaces_its_manifest(south_bay):
    adapter = _adapter(south_bay.settings.port)
    await adapter.upload_manifest(DAY, [_job(), _job("JP-2026-000302")])
    await adapter.upload_manifest(DAY, [_job("JP-2026-000303")])
    stats = await _sim(south_bay, "GET", "/_sim/stats")
    assert stats["manifests"] == [f"manifest-{SERVICE_DATE}.csv"]
    assert stats["rows_per_city_reference"] == {"JP-2026-000303": 1}
    assert sorted(p.name for p in south_bay.inbox.iterdir()) == [f"manifest-{SERVICE_DATE}.csv"]  # no .part left


async def test_the_haulers_outcomes_come_back_as_reports_in_the_citys_words(south_bay):
    adapter = _adapter(south_bay.settings.port)
    await adapter.upload_manifest(DAY, [_job("JP-1"), _job("JP-2", street="9 NO ACCESS Ln, San Jose"),
                                        _job("JP-3", items=(("chair", 2), ("paint", 3)))])
    assert await _sim(south_bay, "POST", "/_sim/process") == {"completions": [f"completions-{SERVICE_DATE}.csv"]}
    [completions] = await adapter.fetch_completions(set())
    assert completions.name == f"completions-{SERVICE_DATE}.csv" and completions.problems == []
    assert completions.reports == [
        VendorReport(external_ref="JP-1", status="completed", pickup_date=SERVICE_DATE),
        VendorReport(external_ref="JP-2", status="missed", pickup_date=SERVICE_DATE, reason="No items at curb"),
        VendorReport(external_ref="JP-3", status="rejected", pickup_date=SERVICE_DATE, reason="Hazardous items")]


async def test_a_completions_file_already_seen_is_not_fetched_again(tmp_path):
    async with _south_bay(tmp_path, process_seconds=0.05, complete_delay=0) as south_bay:  # the office on its own
        adapter = _adapter(south_bay.settings.port)
        await adapter.upload_manifest(DAY, [_job("JP-1")])
        await adapter.upload_manifest(DAY + timedelta(days=1), [_job("JP-2")])
        both = await eventually(lambda: _files(adapter, set(), expect=2), what="two completions files")
        first, second = (f.name for f in both)
        [later] = await adapter.fetch_completions({first})
        assert later.name == second and [r.external_ref for r in later.reports] == ["JP-2"]
        assert await adapter.fetch_completions({first, second}) == []


async def _files(adapter: BatchFilesAdapter, seen: set[str], *, expect: int):
    files = await adapter.fetch_completions(seen)
    return files if len(files) == expect else None


async def test_a_malformed_row_is_reported_with_its_line_and_the_good_rows_still_come(tmp_path):
    async with _south_bay(tmp_path, malformed_row=True) as south_bay:
        adapter = _adapter(south_bay.settings.port)
        await adapter.upload_manifest(DAY, [_job("JP-1"), _job("JP-2")])
        await _sim(south_bay, "POST", "/_sim/process")
        [completions] = await adapter.fetch_completions(set())
    assert [(r.external_ref, r.status) for r in completions.reports] == [("JP-1", "completed"), ("JP-2", "completed")]
    assert completions.problems == [RowProblem(line=3, raw="SB-000003,JP-BROKEN,31/02/2026,COLLECTED,",
                                               reason="ServiceDate '31/02/2026' is not a date (YYYY-MM-DD)")]


async def test_a_wrong_password_is_unavailable_and_says_so(south_bay, monkeypatch):
    monkeypatch.setenv("SOUTH_BAY_SFTP_PASSWORD", "not-the-password")
    adapter = _adapter(south_bay.settings.port, attempts=2)
    with pytest.raises(VendorUnavailable, match="the vendor refused our credentials"):
        await adapter.upload_manifest(DAY, [_job()])
    assert (await _sim(south_bay, "GET", "/_sim/stats"))["manifests"] == []

"""Schemathesis against the booking service's own OpenAPI, bounded in time.

For every documented operation, a seeded Hypothesis search (valid and invalid
input) is sent over real HTTP to the running service — lifespan included:
migrations, outbox relay and the hauler.v1 consumer on the real broker — with
the demo city loaded and a staff key on every call. No answer may be a 5xx or
break the documented schema (status code, content type, body, headers), and
every 4xx is RFC 9457 problem details (``application/problem+json`` with
``type``, ``title``, ``status`` and ``detail``).

Open311 answers errors in GeoReport v2's own format, as its router documents;
it is exempt from the problem-details check only, not from the schema checks.

The service runs once for the module, in a thread with its own event loop
(uvicorn on a loopback port), so the Hypothesis searches stay plain sync code.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from booking import clients
from booking.admin import DEMO_CITY
from booking.app import build_app
from booking.photos import service as photos
from booking.places.importer import import_city
from booking.settings import BookingSettings
from devstack.stack import prepare_database
from devstack.testing import booking_body
from haulbridge_runtime.db import connect
from haulbridge_runtime.problems import PROBLEM_JSON

# The bound: requests per operation (valid and invalid input together), seeded so every run sends the
# same requests. No shrinking: a failure is reported as found, so a broken API cannot stretch the run.
MAX_EXAMPLES = 40
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
# Schemathesis's own strategies use `random` internally; Hypothesis warns about it on every run.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

# Formats errors its own way on purpose (GeoReport v2); see booking/open311/router.py.
GEOREPORT_PREFIX = "/open311/"

# The schema under test, from the app's own code. The fixture checks the running service serves the same.
SCHEMA_DOCUMENT = build_app(BookingSettings()).openapi()
SCHEMA = schemathesis.openapi.from_dict(SCHEMA_DOCUMENT)
OPERATIONS = {op.label: op for op in (result.ok() for result in SCHEMA.get_all_operations())}


def problem_details(ctx, response, case) -> bool | None:
    """Every 4xx (and 5xx, should one slip through) is RFC 9457 problem details."""
    if response.status_code < 400 or case.path.startswith(GEOREPORT_PREFIX):
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = (content_type[0] if isinstance(content_type, list) else content_type).split(";")[0].strip()
    assert content_type == PROBLEM_JSON, (
        f"{response.status_code} answered with content type {content_type!r}, not {PROBLEM_JSON}")
    body = response.json()
    assert isinstance(body, dict), f"problem details must be an object, got {body!r}"
    missing = [m for m in ("type", "title", "status", "detail") if m not in body]
    assert not missing, f"problem details lack {missing}: {body!r}"
    assert body["status"] == response.status_code, (
        f"problem status {body['status']!r} differs from the HTTP status {response.status_code}")
    assert all(isinstance(body[m], str) and body[m] for m in ("type", "title", "detail")), body
    return True


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    problem_details,
]


class RunningService:
    def __init__(self, base_url: str, staff_key: str, known: dict) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {staff_key}"}
        self.known = known  # real ids, tokens and keys, so success paths are reached too


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


async def _seed(settings_: BookingSettings) -> tuple[str, str]:
    conn = await connect(settings_.database_url, settings_.db_schema)
    try:
        await import_city(conn, DEMO_CITY)
        _staff, staff_key = await clients.create(conn, name="schemathesis-admin", kind="staff", role="admin")
        _web, web_key = await clients.create(conn, name="schemathesis-web", kind="frontend", role="client")
    finally:
        await conn.close()
    return staff_key, web_key


@pytest.fixture(scope="module")
def service(infra):
    """The booking service on a loopback port, its own database and topics, the demo city loaded."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsns = asyncio.run(prepare_database(infra.admin_dsn, name))
    settings_ = BookingSettings(
        database_url=dsns["booking"], kafka_bootstrap_servers=infra.bootstrap,
        topic_prefix=f"t{uuid.uuid4().hex[:10]}.",
        rate_limit_anonymous="100000/minute",  # random calls must not be throttled into 429s
    )
    app = build_app(settings_)
    sock = _free_socket()
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False,
                                           log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), name="booking-under-test",
                              daemon=True)
    thread.start()
    try:
        for _ in range(1200):
            if server.started or not thread.is_alive():
                break
            thread.join(0.05)
        assert server.started, "the booking service did not start (see the log above)"
        served = requests.get(f"{base_url}/openapi.json", timeout=30).json()
        assert served == SCHEMA_DOCUMENT, "the running service serves another OpenAPI document"

        staff_key, web_key = asyncio.run(_seed(settings_))
        booking = requests.post(f"{base_url}/v1/bookings", json=booking_body(), timeout=30)
        assert booking.status_code == 201, booking.text
        booking = booking.json()
        token = parse_qs(urlsplit(booking["manage_url"]).query)["token"][0]
        png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
        photo = requests.post(f"{base_url}/v1/photos", files={"file": ("items.png", png, "image/png")}, timeout=30)
        assert photo.status_code == 201, photo.text
        photo_id = photo.json()["id"]
        photo_token = parse_qs(urlsplit(photos.photo_url(uuid.UUID(photo_id), settings=settings_)).query)["token"][0]
        staff = {"Authorization": f"Bearer {staff_key}"}
        zones = requests.get(f"{base_url}/admin/v1/zones", headers=staff, timeout=30)
        haulers = requests.get(f"{base_url}/admin/v1/haulers", headers=staff, timeout=30)
        assert zones.status_code == 200 and haulers.status_code == 200, (zones.text, haulers.text)
        known = {
            "path": {"booking": booking["reference"], "service_request_id": booking["reference"],
                     "zone_id": zones.json()[0]["id"], "hauler_id": haulers.json()[0]["id"],
                     "code": "sofa", "photo_id": photo_id, "service_code": "junk-pickup"},
            "query": {"api_key": web_key, "service_code": "junk-pickup"},
            "token": {"booking": token, "photo_id": photo_token},  # signed for that path parameter's value
        }
        yield RunningService(base_url, staff_key, known)
    finally:
        server.should_exit = True
        thread.join(60)
        asyncio.run(_drop_database(infra.admin_dsn, name))


async def _drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _strategies(operation, known: dict):
    """Valid and invalid input, plus valid input aimed at real records (ids, tokens, keys)."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # an operation without anything to make invalid
        pass
    params = {(p["in"], p["name"]) for p in operation.definition.raw.get("parameters", [])}
    path = {n: v for n, v in known["path"].items() if ("path", n) in params and v is not None}
    query = {n: v for n, v in known["query"].items() if ("query", n) in params}
    for target, token in known["token"].items():
        if target in path and ("query", "token") in params:
            query["token"] = token
    if path or query:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=path or None,
                                                query=query or None))
    return st.one_of(strategies)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_its_schema(service, label):
    operation = OPERATIONS[label]

    @HYPOTHESIS
    @given(case=_strategies(operation, service.known), anonymous=st.integers(0, 9).map(lambda n: n == 0))
    def search(case, anonymous):
        # The staff key goes on every call but one in ten, so /admin/v1's 401 is exercised too.
        # A fresh connection per call: after a 500 the server may close a kept-alive one.
        headers = {} if anonymous else service.headers
        response = case.call(base_url=service.base_url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers,
                               transport_kwargs={"base_url": service.base_url})

    search()

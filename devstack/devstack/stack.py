"""Start the platform's processes on one machine: the three services and the
vendor simulators, each a separate OS process, wired by environment variables
only (exactly as in production, where they run as separate containers).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

# Each service's database role owns exactly one schema and can read no other.
SERVICE_ROLES = {"booking": "booking", "hauler-adapters": "hauler_adapters", "notify": "notify", "ops": "ops"}

DEMO_JSON_HAULER = {
    "hauler_id": "valley-haul",
    "api_key": "valley-haul-demo-key",
    # Standard Webhooks secrets are base64 after "whsec_"; this one is for the demo only.
    "webhook_secret": "whsec_dmFsbGV5LWhhdWwtZGVtby13ZWJob29rLXNlY3JldA==",
}

# Valley Haul's API takes OAuth2 client-credentials tokens (the client secret is its demo key).
VALLEY_HAUL_OAUTH2 = {"token_url": "/oauth/token", "client_id": "haulbridge", "scope": "jobs"}

# Northside Clean-Out (simulated) is integrated by configuration alone: the declarative_json
# adapter with this mapping to and from its API; no code of its own.
DEMO_NORTHSIDE = {"client_secret": "northside-demo-client-secret"}
# Eastside Junk Dispatch (simulated): an office that works from email; links signed with this secret.
DEMO_EASTSIDE = {"office": "office@eastside-junk.example", "link_secret": "eastside-demo-link-secret"}
# South Bay Haulers (simulated): daily files over SFTP.
DEMO_SOUTH_BAY = {"username": "haulbridge", "password": "southbay-demo-password"}
# Westside Recovery (simulated): a SOAP work order service with WS-Security, polled.
DEMO_WESTSIDE = {"username": "haulbridge", "password": "westside-demo-password"}
NORTHSIDE_CONFIG = {
    "auth": {"kind": "oauth2_client_credentials", "token_url": "/oauth/token", "client_id": "haulbridge",
             "scope": "pickups"},
    "create": {"method": "POST", "path": "/v2/pickups", "idempotency_header": "X-Request-Id",
               "body": "{order: {ref: booking_id, city_ref: reference, day: pickup_date,"
                       " site: {street: address.text, geo: [address.longitude, address.latitude]},"
                       " lines: items[].{sku: item, qty: quantity, label: label},"
                       " contact: {name: contact_name, phone: contact_phone}, remarks: notes}}",
               "external_ref": "data.pickup.id"},
    "status": {"path": "/v2/pickups/{external_ref}", "status": "data.pickup.state",
               "pickup_date": "data.pickup.slot.day", "window_from": "data.pickup.slot.start",
               "window_to": "data.pickup.slot.end", "reason": "data.pickup.note"},
    "status_words": {"BOOKED": "accepted", "SCHEDULED": "confirmed", "DONE": "completed", "NO_ACCESS": "missed",
                     "VOID": "cancelled"},
    "rejected_http_statuses": [400, 404, 409, 422],
    "error_message": "error.message",
}

# What the demo city says the service costs it (the ops console's cost per booking).
DEMO_COST_INPUTS = Path(__file__).resolve().parents[2] / "deploy" / "config" / "cost-inputs.demo.json"

# The two SMS providers' demo accounts (simulated; the values are for the demo only).
DEMO_PELICAN = {"account_sid": "AC00000000000000000000000000000001", "auth_token": "pelican-demo-auth-token",
                "from": "+14085550100"}
DEMO_KESTREL = {"api_key": "kestrel-demo-api-key", "from": "+14085550200",
                "webhook_secret": "whsec_" + base64.b64encode(b"kestrel-demo-webhook-secret").decode()}


def _dsn_for(admin_dsn: str, *, user: str, password: str, database: str) -> str:
    parts = urlsplit(admin_dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user}:{password}@{host}:{parts.port or 5432}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, ""))


async def prepare_database(admin_dsn: str, database: str) -> dict[str, str]:
    """Create the database, one role per service and the schema it owns; return each service's DSN."""
    admin = await asyncpg.connect(admin_dsn)
    try:
        for role in SERVICE_ROLES.values():
            exists = await admin.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
            if not exists:
                # Development/test password only; production roles come from deploy/.
                await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{role}'")
        if not await admin.fetchval("SELECT true FROM pg_database WHERE datname = $1", database):
            await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    parts = urlsplit(admin_dsn)
    db_admin = await asyncpg.connect(urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, "")))
    try:
        await db_admin.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for role in SERVICE_ROLES.values():
            await db_admin.execute(f"CREATE SCHEMA IF NOT EXISTS {role} AUTHORIZATION {role}")
            await db_admin.execute(f"REVOKE ALL ON DATABASE \"{database}\" FROM PUBLIC")
            await db_admin.execute(f"GRANT CONNECT ON DATABASE \"{database}\" TO {role}")
    finally:
        await db_admin.close()
    return {service: _dsn_for(admin_dsn, user=role, password=role, database=database)
            for service, role in SERVICE_ROLES.items()}


@dataclass
class Ports:
    booking: int = 8001
    adapters: int = 8002
    adapters_replies: int = 2527  # the adapters' SMTP endpoint for dispatch offices' replies
    email_office: int = 2528
    email_office_http: int = 8104
    sftp_hauler: int = 8122
    sftp_hauler_http: int = 8123
    notify: int = 8003
    ops: int = 8004  # the operations console
    notify_bounces: int = 2526  # notify's SMTP endpoint for bounces and delivery reports
    json_hauler: int = 8101
    soap_hauler: int = 8102
    declarative_hauler: int = 8103
    smtp: int = 1025
    smtp_http: int = 8025
    sms_pelican: int = 8111
    sms_kestrel: int = 8112
    otlp_sink: int = 8130  # the development trace collector (OTLP/HTTP; not 4318, where a real one may run)


# Everything `make run` starts, simulators first.
PROCESSES = ("otlp-sink", "smtp-sink", "sms-pelican", "sms-kestrel", "json-hauler", "westside-hauler",
             "eastside-office", "southbay-hauler", "northside-hauler", "booking", "hauler-adapters", "notify", "ops")


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready_url: str | None
    popen: subprocess.Popen | None = None


@dataclass
class Platform:
    """The platform's processes, started and stopped together."""

    dsns: dict[str, str]
    bootstrap: str
    run_dir: Path
    ports: Ports = field(default_factory=Ports)
    topic_prefix: str = ""
    sim_confirm_delay: float = 1.0
    sim_complete_delay: float = 3.0
    poll_seconds: float = 2.0  # how often the adapters ask the haulers without webhooks
    manifest_every_seconds: float = 5.0  # the batch-file hauler's manifest, instead of nightly
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)  # per process name
    processes: dict[str, Process] = field(default_factory=dict)
    # One operator token for the demo's three services (/admin/v1/dead-letters, notify's previews).
    operator_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ops_session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.integrations_file = self.run_dir / "integrations.json"
        self.integrations_file.write_text(json.dumps([{
            "hauler_id": DEMO_JSON_HAULER["hauler_id"],
            "kind": "json_api",
            "base_url": f"http://127.0.0.1:{self.ports.json_hauler}",
            "api_key_env": "VALLEY_HAUL_API_KEY",
            "webhook_secret_env": "VALLEY_HAUL_WEBHOOK_SECRET",
            "config": {"oauth2": VALLEY_HAUL_OAUTH2},
        }, {
            "hauler_id": "westside-recovery",
            "kind": "soap",
            "base_url": f"http://127.0.0.1:{self.ports.soap_hauler}",
            "api_key_env": "WESTSIDE_SOAP_PASSWORD",
            "config": {"username": DEMO_WESTSIDE["username"]},
        }, {
            "hauler_id": "eastside-junk",
            "kind": "email",
            "base_url": f"smtp://127.0.0.1:{self.ports.email_office}",
            "webhook_secret_env": "EASTSIDE_LINK_SECRET",
            "config": {"to": DEMO_EASTSIDE["office"], "from": "Haulbridge dispatch <dispatch@haulbridge.example>",
                       "reply_to": "replies@dispatch.haulbridge.example",
                       "links_base_url": f"http://127.0.0.1:{self.ports.adapters}"},
        }, {
            "hauler_id": "south-bay-haulers",
            "kind": "batch_files",
            "base_url": f"sftp://127.0.0.1:{self.ports.sftp_hauler}",
            "api_key_env": "SOUTH_BAY_SFTP_PASSWORD",
            "config": {"username": DEMO_SOUTH_BAY["username"], "manifest_dir": "/inbox",
                       "completions_dir": "/outbox"},
        }, {
            "hauler_id": "northside-cleanout",
            "kind": "declarative_json",
            "base_url": f"http://127.0.0.1:{self.ports.declarative_hauler}",
            "api_key_env": "NORTHSIDE_CLIENT_SECRET",
            "config": NORTHSIDE_CONFIG,
        }], indent=2))

    # -- what each process is ---------------------------------------------------------
    def _service_env(self, prefix: str, service: str, port: int) -> dict[str, str]:
        return {
            f"{prefix}DATABASE_URL": self.dsns[service],
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            f"{prefix}TOPIC_PREFIX": self.topic_prefix,
            f"{prefix}HTTP_PORT": str(port),
            f"{prefix}OUTBOX_POLL_SECONDS": "2",
            f"{prefix}CONSUMER_RETRY_INITIAL_SECONDS": "0.1",
        }

    def tracing_env(self) -> dict[str, str]:
        """OpenTelemetry's standard variables: spans to the development collector, exported every half second."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{self.ports.otlp_sink}",
                "OTEL_BSP_SCHEDULE_DELAY": "500"}

    def spec(self, name: str) -> Process:
        p = self.ports
        py = sys.executable
        specs = {
            "otlp-sink": ([py, "-m", "haulbridge_simulators.otlp_sink"], {"SIM_OTLP_PORT": str(p.otlp_sink)},
                          f"http://127.0.0.1:{p.otlp_sink}/_sim/stats"),
            "smtp-sink": ([py, "-m", "haulbridge_simulators.smtp_sink"],
                          {"SIM_SMTP_SMTP_PORT": str(p.smtp), "SIM_SMTP_HTTP_PORT": str(p.smtp_http),
                           "SIM_SMTP_RETURN_PORT": str(p.notify_bounces)},
                          f"http://127.0.0.1:{p.smtp_http}/messages"),
            "json-hauler": ([py, "-m", "haulbridge_simulators.json_hauler"],
                            {"SIM_JSON_PORT": str(p.json_hauler),
                             "SIM_JSON_WEBHOOK_URL": f"http://127.0.0.1:{p.adapters}/webhooks/valley-haul",
                             "SIM_JSON_API_KEY": DEMO_JSON_HAULER["api_key"],
                             "SIM_JSON_CLIENT_SECRET": DEMO_JSON_HAULER["api_key"], "SIM_JSON_OAUTH_ONLY": "true",
                             "SIM_JSON_WEBHOOK_SECRET": DEMO_JSON_HAULER["webhook_secret"],
                             "SIM_JSON_CONFIRM_DELAY": str(self.sim_confirm_delay),
                             "SIM_JSON_COMPLETE_DELAY": str(self.sim_complete_delay)},
                            f"http://127.0.0.1:{p.json_hauler}/_sim/stats"),
            "sms-pelican": ([py, "-m", "haulbridge_simulators.sms_pelican"],
                            {"SIM_PELICAN_PORT": str(p.sms_pelican),
                             "SIM_PELICAN_ACCOUNT_SID": DEMO_PELICAN["account_sid"],
                             "SIM_PELICAN_AUTH_TOKEN": DEMO_PELICAN["auth_token"],
                             "SIM_PELICAN_FROM_NUMBER": DEMO_PELICAN["from"],
                             "SIM_PELICAN_INBOUND_WEBHOOK_URL":
                                 f"http://127.0.0.1:{p.notify}/webhooks/sms/pelican/inbound"},
                            f"http://127.0.0.1:{p.sms_pelican}/_sim/stats"),
            "sms-kestrel": ([py, "-m", "haulbridge_simulators.sms_kestrel"],
                            {"SIM_KESTREL_PORT": str(p.sms_kestrel), "SIM_KESTREL_API_KEY": DEMO_KESTREL["api_key"],
                             "SIM_KESTREL_WEBHOOK_SECRET": DEMO_KESTREL["webhook_secret"],
                             "SIM_KESTREL_SENDER_ID": DEMO_KESTREL["from"],
                             "SIM_KESTREL_WEBHOOK_URL": f"http://127.0.0.1:{p.notify}/webhooks/sms/kestrel"},
                            f"http://127.0.0.1:{p.sms_kestrel}/_sim/stats"),
            "westside-hauler": ([py, "-m", "haulbridge_simulators.soap_hauler"],
                                {"SIM_SOAP_PORT": str(p.soap_hauler), "SIM_SOAP_USERNAME": DEMO_WESTSIDE["username"],
                                 "SIM_SOAP_PASSWORD": DEMO_WESTSIDE["password"],
                                 "SIM_SOAP_SCHEDULE_DELAY": str(self.sim_confirm_delay),
                                 "SIM_SOAP_COMPLETE_DELAY": str(self.sim_complete_delay)},
                                f"http://127.0.0.1:{p.soap_hauler}/_sim/stats"),
            "eastside-office": ([py, "-m", "haulbridge_simulators.email_office"],
                                {"SIM_OFFICE_SMTP_PORT": str(p.email_office),
                                 "SIM_OFFICE_HTTP_PORT": str(p.email_office_http),
                                 "SIM_OFFICE_OFFICE_ADDRESS": DEMO_EASTSIDE["office"],
                                 "SIM_OFFICE_REPLY_PORT": str(p.adapters_replies),
                                 "SIM_OFFICE_CONFIRM_DELAY": str(self.sim_confirm_delay),
                                 "SIM_OFFICE_COMPLETE_DELAY": str(self.sim_complete_delay)},
                                f"http://127.0.0.1:{p.email_office_http}/_sim/stats"),
            "southbay-hauler": ([py, "-m", "haulbridge_simulators.sftp_hauler"],
                                {"SIM_SFTP_PORT": str(p.sftp_hauler), "SIM_SFTP_HTTP_PORT": str(p.sftp_hauler_http),
                                 "SIM_SFTP_ROOT": str(self.run_dir / "south-bay-sftp"),
                                 "SIM_SFTP_USERNAME": DEMO_SOUTH_BAY["username"],
                                 "SIM_SFTP_PASSWORD": DEMO_SOUTH_BAY["password"],
                                 "SIM_SFTP_PROCESS_SECONDS": "1", "SIM_SFTP_COMPLETE_DELAY": str(self.sim_complete_delay)},
                                f"http://127.0.0.1:{p.sftp_hauler_http}/_sim/stats"),
            "northside-hauler": ([py, "-m", "haulbridge_simulators.declarative_hauler"],
                                 {"SIM_DECL_PORT": str(p.declarative_hauler),
                                  "SIM_DECL_CLIENT_SECRET": DEMO_NORTHSIDE["client_secret"],
                                  "SIM_DECL_SCHEDULE_DELAY": str(self.sim_confirm_delay),
                                  "SIM_DECL_COMPLETE_DELAY": str(self.sim_complete_delay)},
                                 f"http://127.0.0.1:{p.declarative_hauler}/_sim/stats"),
            "booking": ([py, "-m", "booking"],
                        {**self._service_env("BOOKING_", "booking", p.booking),
                         "BOOKING_PUBLIC_BASE_URL": f"http://127.0.0.1:{p.booking}",
                         "BOOKING_OPERATOR_TOKEN": self.operator_token},
                        f"http://127.0.0.1:{p.booking}/readyz"),
            "hauler-adapters": ([py, "-m", "hauler_adapters"],
                                {**self._service_env("ADAPTERS_", "hauler-adapters", p.adapters),
                                 "ADAPTERS_INTEGRATIONS_FILE": str(self.integrations_file),
                                 "ADAPTERS_VENDOR_RETRY_INITIAL_SECONDS": "0.2",
                                 "VALLEY_HAUL_API_KEY": DEMO_JSON_HAULER["api_key"],
                                 "VALLEY_HAUL_WEBHOOK_SECRET": DEMO_JSON_HAULER["webhook_secret"],
                                 "NORTHSIDE_CLIENT_SECRET": DEMO_NORTHSIDE["client_secret"],
                                 "WESTSIDE_SOAP_PASSWORD": DEMO_WESTSIDE["password"],
                                 "ADAPTERS_POLL_SECONDS": str(self.poll_seconds),
                                 "ADAPTERS_REPLY_SMTP_PORT": str(p.adapters_replies),
                                 "ADAPTERS_OPERATOR_TOKEN": self.operator_token,
                                 "SOUTH_BAY_SFTP_PASSWORD": DEMO_SOUTH_BAY["password"],
                                 # the demo sends manifests every few seconds instead of each evening
                                 "ADAPTERS_MANIFEST_EVERY_SECONDS": str(self.manifest_every_seconds),
                                 "ADAPTERS_BATCH_POLL_SECONDS": "1",
                                 "EASTSIDE_LINK_SECRET": DEMO_EASTSIDE["link_secret"]},
                                f"http://127.0.0.1:{p.adapters}/readyz"),
            "notify": ([py, "-m", "notify"],
                       {**self._service_env("NOTIFY_", "notify", p.notify),
                        "NOTIFY_SMTP_PORT": str(p.smtp), "NOTIFY_SEND_RETRY_INITIAL_SECONDS": "0.5",
                        "NOTIFY_OPERATOR_TOKEN": self.operator_token,
                        "NOTIFY_PUBLIC_BASE_URL": f"http://127.0.0.1:{p.notify}",
                        "NOTIFY_BOUNCE_SMTP_PORT": str(p.notify_bounces),
                        "NOTIFY_PELICAN_BASE_URL": f"http://127.0.0.1:{p.sms_pelican}",
                        "NOTIFY_PELICAN_ACCOUNT_SID": DEMO_PELICAN["account_sid"],
                        "NOTIFY_PELICAN_AUTH_TOKEN": DEMO_PELICAN["auth_token"],
                        "NOTIFY_PELICAN_FROM": DEMO_PELICAN["from"],
                        "NOTIFY_KESTREL_BASE_URL": f"http://127.0.0.1:{p.sms_kestrel}",
                        "NOTIFY_KESTREL_API_KEY": DEMO_KESTREL["api_key"],
                        "NOTIFY_KESTREL_WEBHOOK_SECRET": DEMO_KESTREL["webhook_secret"],
                        "NOTIFY_KESTREL_FROM": DEMO_KESTREL["from"]},
                       f"http://127.0.0.1:{p.notify}/readyz"),
            "ops": ([py, "-m", "ops"],
                    {**self._service_env("OPS_", "ops", p.ops),
                     "OPS_BOOKING_URL": f"http://127.0.0.1:{p.booking}",
                     "OPS_ADAPTERS_URL": f"http://127.0.0.1:{p.adapters}",
                     "OPS_NOTIFY_URL": f"http://127.0.0.1:{p.notify}",
                     "OPS_BOOKING_OPERATOR_TOKEN": self.operator_token,
                     "OPS_ADAPTERS_OPERATOR_TOKEN": self.operator_token,
                     "OPS_NOTIFY_OPERATOR_TOKEN": self.operator_token,
                     "OPS_OPERATOR_TOKEN": self.operator_token,
                     "OPS_SESSION_SECRET": self.ops_session_secret,
                     "OPS_SCRAPE_SECONDS": "2", "OPS_LIVE_SECONDS": "2",
                     "OPS_COST_INPUTS_FILE": str(DEMO_COST_INPUTS),
                     # a booking's trace id links to its spans in the development collector
                     "OPS_TRACE_URL_TEMPLATE": f"http://127.0.0.1:{p.otlp_sink}/_sim/spans?trace_id={{trace_id}}"},
                    f"http://127.0.0.1:{p.ops}/readyz"),
        }
        argv, env, ready = specs[name]
        if name in SERVICE_ROLES and "otlp-sink" in self.processes:  # the services' spans, while the sink runs
            env.update(self.tracing_env())
        env = {**env, **self.extra_env.get(name, {})}
        return Process(name=name, argv=argv, env=env, log_path=self.run_dir / f"{name}.log", ready_url=ready)

    # -- lifecycle ------------------------------------------------------------------
    def seed_demo_city(self) -> str:
        env = {**os.environ, "BOOKING_DATABASE_URL": self.dsns["booking"]}
        out = subprocess.run([sys.executable, "-m", "booking.admin", "import-city"], env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"seeding the demo city failed:\n{out.stderr}")
        return out.stdout

    def create_api_key(self, name: str, *, kind: str, role: str = "client") -> str:
        """A key for a front end or a staff member, made with the booking service's admin command."""
        env = {**os.environ, "BOOKING_DATABASE_URL": self.dsns["booking"]}
        out = subprocess.run([sys.executable, "-m", "booking.admin", "create-client", name, "--kind", kind,
                              "--role", role], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"creating the {name} key failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])["key"]

    def create_staff(self, username: str, *, role: str, name: str | None = None) -> str:
        """A console account (ops' admin command); returns its password."""
        env = {**os.environ, "OPS_DATABASE_URL": self.dsns["ops"]}
        out = subprocess.run([sys.executable, "-m", "ops.admin", "create-staff", username, "--role", role,
                              "--name", name or username.title()], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"creating the {username} staff account failed:\n{out.stderr}")
        return json.loads(out.stdout.strip().splitlines()[-1])["password"]

    def start(self, name: str, *, env: dict[str, str] | None = None, wait: bool = True) -> Process:
        proc = self.spec(name)
        if env:
            proc.env.update(env)
        log = open(proc.log_path, "ab")
        proc.popen = subprocess.Popen(proc.argv, env={**os.environ, **proc.env}, stdout=log,
                                      stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = proc
        if wait:
            self.wait_ready(name)
        return proc

    def wait_ready(self, name: str, timeout: float = 90) -> None:
        proc = self.processes[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.popen.returncode}; see {proc.log_path}:\n"
                                   + self.log_tail(name))
            try:
                if httpx.get(proc.ready_url, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{name} not ready within {timeout}s; see {proc.log_path}:\n" + self.log_tail(name))

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.run_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.popen is None:
            return None
        if proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            try:
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
        return proc.popen.returncode

    def start_all(self) -> None:
        for name in PROCESSES:
            self.start(name, wait=False)
        for name in PROCESSES:
            self.wait_ready(name)

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def exited(self) -> list[str]:
        return [n for n, p in self.processes.items() if p.popen is not None and p.popen.poll() is not None]

"""``make run``: the whole platform on this machine, with the demo city.

Starts embedded PostgreSQL and the Tansu broker, prepares one database with a
role and schema per service, seeds the demo city, starts the vendor
simulators and the four services (booking, hauler-adapters, notify, ops) as separate processes, and prints where to
look. Ctrl-C stops everything it started; each run starts from a clean slate.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from .infra import EmbeddedPostgres, TansuBroker
from .stack import Platform, Ports, prepare_database


def _banner(ports: Ports, pg: EmbeddedPostgres, broker: TansuBroker, run_dir: Path, keys: dict[str, str],
            staff: dict[str, str]) -> str:
    pickup = (date.today() + timedelta(days=7))
    while pickup.weekday() >= 5:  # the demo haulers collect on weekdays
        pickup += timedelta(days=1)
    pickup = pickup.isoformat()
    body = json.dumps({
        "address": "200 E Santa Clara St, San Jose, CA 95113",
        "pickup_date": pickup,
        "items": [{"item": "sofa", "quantity": 1}, {"item": "mattress", "quantity": 1}],
        "contact": {"name": "Alex Resident", "email": "alex@example.org", "language": "en"},
        "channel": "web",
    })
    return f"""
Haulbridge is running (demo city: San José).

  Ops console        http://127.0.0.1:{ports.ops}/           (staff sign-in below)
  Booking API        http://127.0.0.1:{ports.booking}/docs      (OpenAPI: /openapi.json)
  Hauler adapters    http://127.0.0.1:{ports.adapters}/readyz
  Notify             http://127.0.0.1:{ports.notify}/readyz
  Metrics            http://127.0.0.1:{ports.booking}/metrics  (same path on every service)
  Traces             http://127.0.0.1:{ports.otlp_sink}/_sim/traces  (a booking is one trace, across every service;
                       its spans: /_sim/spans?trace_id=<trace id>; see docs/observability.md)
  Hauler simulators  http://127.0.0.1:{ports.json_hauler}/api/v1/jobs  (Valley Haul Co., JSON API + webhooks;
                       Bearer valley-haul-demo-key)
                     http://127.0.0.1:{ports.soap_hauler}/WorkOrderService?wsdl  (Westside Recovery, SOAP, polled)
                     http://127.0.0.1:{ports.email_office_http}/_sim/emails  (Eastside Junk Dispatch: the emails it got)
                     http://127.0.0.1:{ports.sftp_hauler_http}/_sim/stats  (South Bay Haulers: manifests and
                       completion files on its SFTP server, sftp://127.0.0.1:{ports.sftp_hauler})
                     http://127.0.0.1:{ports.declarative_hauler}/_sim/stats  (Northside Clean-Out, OAuth2, polled;
                       integrated by configuration alone)
  Mail received      http://127.0.0.1:{ports.smtp_http}/messages
  Texts received     http://127.0.0.1:{ports.sms_pelican}/_sim/messages  (Pelican SMS, weight 3)
                     http://127.0.0.1:{ports.sms_kestrel}/_sim/messages  (Kestrel Messaging, weight 1)
  PostgreSQL         postgresql://postgres@127.0.0.1:{pg.port}/haulbridge
  Kafka broker       {broker.bootstrap}  (topics booking.v1, hauler.v1, notify.v1 and their .dlq)
  Logs               {run_dir}/*.log

Book a pickup:

  curl -s -X POST http://127.0.0.1:{ports.booking}/v1/bookings \\
       -H 'content-type: application/json' \\
       -d '{body}'

then follow it with the manage_url from the answer (the link residents get in their messages),
see free dates:  curl -s 'http://127.0.0.1:{ports.booking}/v1/availability?address=200+E+Santa+Clara+St'
and the items:   curl -s -H 'Accept-Language: es' http://127.0.0.1:{ports.booking}/v1/items
and read the mail:  curl -s http://127.0.0.1:{ports.smtp_http}/messages
For texts, book with "contact": {{"name": "Lan", "phone": "+14085551234", "language": "vi",
"channels": ["sms"]}}, read them at either provider's /_sim/messages, and text back as the resident:
  curl -s -X POST http://127.0.0.1:{ports.sms_pelican}/_sim/inbound -H 'content-type: application/json' \
       -d '{{"from": "+14085551234", "body": "HELP"}}'     (or STOP, START, C)
(between 21:00 and 08:00 San José time texts wait for the morning: quiet hours)

Demo keys (this run only):
  staff admin  Authorization: Bearer {keys["admin"]}
               e.g. curl -s -H 'Authorization: Bearer {keys["admin"]}' http://127.0.0.1:{ports.booking}/admin/v1/rules
  front end    X-Api-Key: {keys["web"]}   (also the Open311 api_key, see /open311/v2/services.json)
  operator     Authorization: Bearer {keys["operator"]}   (every service's /admin/v1/dead-letters;
               notify's template previews)
               e.g. curl -s -H 'Authorization: Bearer {keys["operator"]}' http://127.0.0.1:{ports.notify}/admin/v1/templates/pickup_reminder/vi
                    curl -s -H 'Authorization: Bearer {keys["operator"]}' http://127.0.0.1:{ports.adapters}/admin/v1/dead-letters

Ops console staff (this run only; roles viewer < operator < admin):
  {staff["admin"]}
  {staff["operator"]}
  {staff["viewer"]}

Ctrl-C stops everything.
"""


def main() -> int:
    run_dir = Path(os.environ.get("HAULBRIDGE_RUN_DIR", ".run")).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    for old in run_dir.glob("*.log"):
        old.unlink()
    ports = Ports()
    pg = EmbeddedPostgres(int(os.environ.get("HAULBRIDGE_PG_PORT", "55432")), log_dir=run_dir)
    broker = TansuBroker(int(os.environ.get("HAULBRIDGE_KAFKA_PORT", "9092")), log_dir=run_dir)
    platform: Platform | None = None
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        print("starting PostgreSQL and the Kafka-protocol broker...", flush=True)
        pg.start()
        broker.start()
        dsns = asyncio.run(prepare_database(pg.admin_dsn, "haulbridge"))
        platform = Platform(dsns=dsns, bootstrap=broker.bootstrap, run_dir=run_dir, ports=ports)
        print("seeding the demo city...", flush=True)
        print(platform.seed_demo_city(), flush=True)
        keys = {"admin": platform.create_api_key("demo-admin", kind="staff", role="admin"),
                "web": platform.create_api_key("demo-web", kind="frontend"),
                "operator": platform.operator_token}
        staff = {role: f"{user:<10} password {platform.create_staff(user, role=role, name=name)}"
                 for role, user, name in (("admin", "ada", "Ada Admin"), ("operator", "omar", "Omar Operator"),
                                          ("viewer", "vic", "Vic Viewer"))}
        print("starting simulators and services...", flush=True)
        platform.start_all()
        print(_banner(ports, pg, broker, run_dir, keys, staff), flush=True)
        while not stopping:
            dead = platform.exited()
            if dead:
                print(f"process(es) stopped unexpectedly: {dead}; see the logs in {run_dir}", file=sys.stderr)
                return 1
            time.sleep(0.5)
        return 0
    finally:
        print("\nstopping...", flush=True)
        if platform is not None:
            platform.stop_all()
        broker.stop()
        pg.stop()
        print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())

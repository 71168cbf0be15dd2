"""A hauler that works from daily batch files over SFTP ("South Bay Haulers").

    SFTP on SIM_SFTP_PORT (8122)   password auth (user "haulbridge"), rooted in SIM_SFTP_ROOT (a temp dir)
        /inbox/manifest-YYYY-MM-DD.csv      the city's manifests: reference,booking_id,service_date,
                                            address,items,contact_name,contact_phone,notes
        /outbox/completions-YYYY-MM-DD.csv  the office's answers: JobRef,CityRef,ServiceDate,Outcome,Notes
    GET  /_sim/stats     (SIM_SFTP_HTTP_PORT 8123)  manifests, rows per city reference, completions files
    POST /_sim/process                             the office works through its new manifests now

The office looks at /inbox every SIM_SFTP_PROCESS_SECONDS and answers each manifest once,
SIM_SFTP_COMPLETE_DELAY seconds after it first saw it, reading it as it is then: one row per
manifest row, Outcome NOT_OUT ("No items at curb") for an address containing "NO ACCESS",
REFUSED ("Hazardous items") when the items name "paint", else COLLECTED. With
SIM_SFTP_MALFORMED_ROW=true each completions file also carries one row with a broken date.

    python -m haulbridge_simulators.sftp_hauler
"""
from __future__ import annotations

import asyncio
import csv
import io
import itertools
import os
import re
import secrets
import tempfile
import time
from collections import Counter
from pathlib import Path

import asyncssh
import uvicorn
from fastapi import FastAPI
from pydantic_settings import BaseSettings, SettingsConfigDict

MANIFEST = re.compile(r"manifest-(\d{4}-\d{2}-\d{2}(?:-\d+)?)\.csv")  # a second one that day: -2
COMPLETION_COLUMNS = ("JobRef", "CityRef", "ServiceDate", "Outcome", "Notes")


class SftpHaulerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SIM_SFTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8122
    http_port: int = 8123
    root: Path | None = None  # the SFTP root; a new temp dir when not set
    username: str = "haulbridge"
    password: str = "southbay-demo-password"
    process_seconds: float = 1.0
    complete_delay: float = 2.0
    malformed_row: bool = False


class _Login(asyncssh.SSHServer):
    def __init__(self, settings: SftpHaulerSettings) -> None:
        self.settings = settings

    def begin_auth(self, username: str) -> bool:
        return True  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (secrets.compare_digest(username, self.settings.username)
                and secrets.compare_digest(password, self.settings.password))


class SftpHauler:
    """The SFTP server and the office that answers the manifests."""

    def __init__(self, settings: SftpHaulerSettings) -> None:
        self.settings = settings
        self.root = settings.root or Path(tempfile.mkdtemp(prefix="south-bay-sftp-"))
        self.inbox, self.outbox = self.root / "inbox", self.root / "outbox"
        self.first_seen: dict[str, float] = {}
        self.answered: set[str] = set()
        self.job_numbers = itertools.count(1)
        self.server: asyncssh.SSHAcceptor | None = None
        self.office: asyncio.Task | None = None

    async def start(self) -> "SftpHauler":
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.server = await asyncssh.create_server(
            lambda: _Login(self.settings), self.settings.host, self.settings.port,
            server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
            sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=os.fsencode(self.root)))
        self.office = asyncio.create_task(self._office())
        return self

    async def _office(self) -> None:
        while True:
            await asyncio.sleep(self.settings.process_seconds)
            self.process()

    def manifests(self) -> list[str]:
        return sorted(p.name for p in self.inbox.iterdir() if MANIFEST.fullmatch(p.name))

    def process(self, *, now: bool = False) -> list[str]:
        """Answer the manifests whose time has come (all new ones when ``now``); the files written."""
        written = []
        for name in self.manifests():
            seen = self.first_seen.setdefault(name, time.monotonic())
            if name in self.answered or (not now and time.monotonic() - seen < self.settings.complete_delay):
                continue
            written.append(self._answer(name))
            self.answered.add(name)
        return written

    def _answer(self, manifest: str) -> str:
        with (self.inbox / manifest).open(newline="", encoding="utf-8") as f:
            rows = [self._completion(row) for row in csv.DictReader(f)]
        if self.settings.malformed_row:
            rows.insert(1, [f"SB-{next(self.job_numbers):06d}", "JP-BROKEN", "31/02/2026", "COLLECTED", ""])
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COMPLETION_COLUMNS)
        writer.writerows(rows)
        name = f"completions-{MANIFEST.fullmatch(manifest).group(1)}.csv"
        part = self.outbox / f"{name}.part"  # written whole, then renamed: never read half-done
        part.write_text(out.getvalue(), encoding="utf-8")
        part.replace(self.outbox / name)
        return name

    def _completion(self, row: dict[str, str]) -> list[str]:
        codes = {item.partition(":")[0].strip() for item in row["items"].split(";")}
        if "NO ACCESS" in row["address"].upper():
            outcome, notes = "NOT_OUT", "No items at curb"
        elif "paint" in codes:
            outcome, notes = "REFUSED", "Hazardous items"
        else:
            outcome, notes = "COLLECTED", ""
        return [f"SB-{next(self.job_numbers):06d}", row["reference"], row["service_date"], outcome, notes]

    def stats(self) -> dict:
        rows = Counter()
        for name in self.manifests():
            with (self.inbox / name).open(newline="", encoding="utf-8") as f:
                rows.update(row["reference"] for row in csv.DictReader(f))
        return {"manifests": self.manifests(), "rows_per_city_reference": rows,
                "completions": sorted(p.name for p in self.outbox.glob("completions-*.csv"))}

    async def close(self) -> None:
        if self.office is not None:
            self.office.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


def build_http_app(hauler: SftpHauler) -> FastAPI:
    app = FastAPI(title="South Bay Haulers batch files (simulator)")

    @app.get("/_sim/stats")
    async def stats():
        return hauler.stats()

    @app.post("/_sim/process")
    async def process():
        return {"completions": hauler.process(now=True)}

    return app


def main() -> None:
    settings = SftpHaulerSettings()

    async def serve() -> None:
        hauler = await SftpHauler(settings).start()
        server = uvicorn.Server(uvicorn.Config(build_http_app(hauler), host=settings.host, port=settings.http_port,
                                               log_level="warning"))
        try:
            await server.serve()
        finally:
            await hauler.close()

    asyncio.run(serve())


if __name__ == "__main__":
    main()

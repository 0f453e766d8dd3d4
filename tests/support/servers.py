"""``orderseal serve`` as a real subprocess, started exactly as the deployment files do."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from infra.settings import Settings
from tests.support.databases import settings_env

__all__ = ["ORDERSEAL", "Server", "start_server"]

ORDERSEAL = Path(sys.executable).parent / "orderseal"


@dataclass
class Server:
    """A running ``orderseal serve`` process."""

    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        """Base URL on loopback."""
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL the server and its worker processes (its own process group), then reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def start_server(settings: Settings, log: Path, *, port: int, workers: int = 1) -> Server:
    """Start ``orderseal serve --workers N`` with ``settings`` as environment; wait for /readyz.

    Raises:
        RuntimeError: the server was not ready within 30 s (the log tail is in the message).
    """
    env = {**os.environ, **settings_env(settings), "ORDERSEAL_PORT": str(port)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    process = subprocess.Popen(
        [str(ORDERSEAL), "serve", "--workers", str(workers)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Server(port, process, log)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    process.wait(timeout=10)
    raise RuntimeError(f"server did not become ready: {log.read_text()[-2000:]}")

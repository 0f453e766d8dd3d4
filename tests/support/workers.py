"""Real ``orderseal worker`` processes for the queue fault tests (killed, stopped, restarted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from infra.settings import Settings
from tests.support.databases import settings_env

__all__ = ["start_worker", "stop_worker"]

_RUN_WORKER = "from orderseal.cli import main; main()"


def start_worker(settings: Settings, *, prologue: str = "") -> subprocess.Popen[bytes]:
    """``orderseal worker`` in its own process, configured by ``settings``; ``prologue`` is
    Python run in that process first (a test uses it to make a job's handler hang)."""
    env = {**os.environ, **settings_env(settings)}
    command = [sys.executable, "-c", f"{prologue}\n{_RUN_WORKER}", "worker"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after 15 s; nothing if it has exited."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

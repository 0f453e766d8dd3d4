"""Real ``orderseal worker`` processes for the queue fault tests (killed, stopped, restarted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from infra.settings import Settings
from tests.support.databases import settings_env

__all__ = ["start_worker", "stop_worker"]

_WORKER = [sys.executable, "-c", "from orderseal.cli import main; main()", "worker"]


def start_worker(settings: Settings) -> subprocess.Popen[bytes]:
    """``orderseal worker`` in its own process, configured by ``settings``."""
    env = {**os.environ, **settings_env(settings)}
    return subprocess.Popen(_WORKER, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful stop), then SIGKILL after 15 s; nothing if it has exited."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()

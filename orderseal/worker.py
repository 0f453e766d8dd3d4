"""``orderseal worker``: the webhook delivery loop on its own, for production.

It is the loop ``orderseal serve`` runs in a thread (``ORDERSEAL_WEBHOOK_DELIVERY=embedded``);
any number of workers on any hosts share the queue through the ledger (PostgreSQL
``FOR UPDATE SKIP LOCKED``). SIGTERM or SIGINT stops it after the current attempt; a worker
killed outright leaves its claims to expire, and another worker sends them.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from infra.settings import Settings
from orderseal.services import build_services

__all__ = ["run_worker"]

_log = logging.getLogger("orderseal.worker")


def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """Deliver webhooks until ``stop`` is set (or SIGTERM/SIGINT in the main thread)."""
    services = build_services(settings)
    done = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _stop(signum: int, _frame: FrameType | None) -> None:
            _log.info("webhook worker stopping (signal %s)", signum)
            done.set()
            services.dispatcher.wake()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    _log.info("webhook worker %s started", services.dispatcher.worker_id)
    services.dispatcher.run(done)

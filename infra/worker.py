"""The queue engine's moving parts shared by webhook delivery and background jobs.

Both queues are ledger tables drained by the same loop: ``drain`` claims a batch, works it and
sleeps until the next poll or a wake-up; ``EmbeddedWorker`` runs a loop in a daemon thread of
the server (embedded mode, no other process); ``orderseal worker`` runs the loops alone.
``backoff`` is the one retry curve. Claiming rows under a lease is ``infra.ledger.leases``.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from infra.errors import OrderSealError

__all__ = ["Drainer", "EmbeddedWorker", "backoff", "drain", "worker_id"]

_log = logging.getLogger(__name__)


class Drainer(Protocol):
    """A queue loop: ``run`` until ``stop`` is set; ``wake`` ends the current idle wait."""

    def run(self, stop: threading.Event) -> None:
        """Work the queue until ``stop`` is set."""

    def wake(self) -> None:
        """Look for due work now instead of at the next poll."""


def worker_id() -> str:
    """A unique worker name: host and pid for the log, a random part against pid reuse.

    A lease is compared on this id, so two loops never share one.
    """
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def backoff(base: timedelta, max_delay: timedelta, failures: int, *, jitter: float) -> timedelta:
    """The wait after ``failures`` failed attempts: ``base * 2**(n-1)``, capped, times 0.5-1.5.

    The random factor (``jitter`` in [0, 1)) keeps retries of many rows from arriving at once.
    """
    exponent = min(max(failures - 1, 0), 40)
    nominal = min(base * (1 << exponent), max_delay)
    return nominal * (0.5 + jitter)


def drain(
    run_once: Callable[[], int],
    stop: threading.Event,
    wake: threading.Event,
    *,
    poll_seconds: float,
    name: str,
) -> None:
    """Call ``run_once`` (one claimed batch; returns its size) until ``stop`` is set.

    A ledger outage pauses the loop, never ends it; after an empty batch it waits for the
    next poll or a wake-up.
    """
    while not stop.is_set():
        try:
            worked = run_once()
        except OrderSealError as exc:
            _log.warning("%s worker paused: %s", name, exc.code)
            worked = 0
        except Exception:  # noqa: BLE001 - the loop's top level, like a CLI main()
            # A bug in one batch must not end the loop for the whole process: the claims it
            # held expire and are retried; the traceback is logged.
            _log.exception("%s worker batch failed", name)
            worked = 0
        if worked:
            continue
        wake.wait(poll_seconds)
        wake.clear()


@dataclass
class EmbeddedWorker:
    """A queue loop in a daemon thread of the server (embedded mode)."""

    dispatcher: Drainer
    name: str = "webhook-delivery"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Start draining (idempotent)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.dispatcher.run, args=(self._stop,), name=self.name, daemon=True
        )
        self._thread.start()

    def stop(self, *, timeout: float = 15.0) -> None:
        """Stop after the current batch."""
        self._stop.set()
        self.dispatcher.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

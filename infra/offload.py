"""CPU-heavy request work (sealing, verification) in worker threads, a few at a time.

Handlers stay ``async`` so bodies stream in while other requests are sealed; the sealing and
verifying calls run in threads because c2pa, hashing and SQLite release the GIL. With
AnyIO's default of 40 threads per worker, 32 concurrent uploads on a 2-core machine became 32
threads fighting over the GIL and the cores, and throughput fell below that at 4 clients
(docs/benchmarks.md); a small per-worker limit keeps the rest of the requests queued instead.

WebM transcodes wait on a child process for up to minutes; they get their own, smaller limit
(``ORDERSEAL_TRANSCODE_CONCURRENCY``) so that a station's seal never queues behind them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import Request

__all__ = ["HEAVY_THREADS", "TRANSCODE_THREADS", "run_heavy", "run_transcode"]

HEAVY_THREADS = 2
TRANSCODE_THREADS = 1
_T = TypeVar("_T")


def _limiter(request: Request) -> CapacityLimiter:
    limiter: CapacityLimiter | None = getattr(request.app.state, "heavy_limiter", None)
    if limiter is None:  # made on first use: AnyIO needs a running event loop for it
        limiter = CapacityLimiter(HEAVY_THREADS)
        request.app.state.heavy_limiter = limiter
    return limiter


async def run_heavy(
    request: Request, function: Callable[..., _T], /, *args: Any, **kwargs: Any
) -> _T:
    """Run ``function(*args, **kwargs)`` in a worker thread under the app's heavy-work limit."""
    call = functools.partial(function, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=_limiter(request))


def _transcode_limiter(request: Request) -> CapacityLimiter:
    limiter: CapacityLimiter | None = getattr(request.app.state, "transcode_limiter", None)
    if limiter is None:
        settings = getattr(getattr(request.app.state, "services", None), "settings", None)
        slots = getattr(settings, "transcode_concurrency", TRANSCODE_THREADS)
        limiter = CapacityLimiter(max(1, int(slots)))
        request.app.state.transcode_limiter = limiter
    return limiter


async def run_transcode(
    request: Request, function: Callable[..., _T], /, *args: Any, **kwargs: Any
) -> _T:
    """Run ``function(*args, **kwargs)`` in a worker thread under the transcode limit.

    The transcode limit is separate from :func:`run_heavy`'s: a queue of WebM conversions
    never holds a slot that sealing needs.
    """
    call = functools.partial(function, *args, **kwargs)
    return await anyio.to_thread.run_sync(call, limiter=_transcode_limiter(request))

"""Per-credential rate limits: token buckets keyed by (action, caller).

Five actions are limited: opening capture sessions, uploads (capture and dispute files),
filing disputes, WebM transcodes (each one also counts as an upload) and buyer-device
self-enrolments; the last two have their own small bursts. Each caller (a station's device
id, a buyer id, an API key's subject) has its own bucket per action, so one flooding caller
never slows another. A refused call raises
:class:`RateLimitedError` (429 ``rate_limited`` with ``Retry-After``).

:class:`MemoryLimiter` keeps buckets in the process: right for one worker. With several workers
(or servers) each would grant its own budget, so ``ORDERSEAL_RATE_LIMIT_REDIS_URL`` switches to
:class:`RedisLimiter`, which runs the same bucket atomically in Redis (one Lua script per hit).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import Request

from infra.errors import OrderSealError, UnavailableError

if TYPE_CHECKING:
    from infra.auth import Principal
    from infra.settings import Settings

__all__ = [
    "ACTIONS",
    "Limit",
    "Limiter",
    "MemoryLimiter",
    "RateLimitedError",
    "RedisLimiter",
    "build_limiter",
    "enforce",
]

ACTIONS = ("sessions", "uploads", "disputes", "transcodes", "enrolments")


class RateLimitedError(OrderSealError):
    """Too many calls of one kind by one caller; retry after ``retry_after_seconds``."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, action: str, retry_after_seconds: float) -> None:
        wait = max(1, math.ceil(retry_after_seconds))
        super().__init__(f"too many {action} requests from this credential; retry in {wait} s")
        self.retry_after_seconds = wait
        self.details = {"retry_after_seconds": wait}
        self.headers = {"Retry-After": str(wait)}


@dataclass(frozen=True)
class Limit:
    """``per_minute`` calls on average, with bursts of up to ``burst``; 0 disables."""

    per_minute: int
    burst: int

    @property
    def rate_per_second(self) -> float:
        """Refill rate."""
        return self.per_minute / 60.0


class Limiter(Protocol):
    """Takes one token for ``key``; returns 0 when granted, else seconds until one is free."""

    def take(self, key: str, limit: Limit) -> float:
        """One call by ``key`` under ``limit``."""
        ...


class MemoryLimiter:
    """In-process token buckets (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, limit: Limit) -> float:
        """Take a token; 0 when granted, else the wait in seconds."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate_per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / limit.rate_per_second


# KEYS[1] bucket; ARGV: burst, rate per second, now (s), ttl (s). Returns the wait in ms.
_REDIS_BUCKET = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return wait
"""


class RedisLimiter:
    """Token buckets shared by every worker through Redis (atomic Lua script)."""

    def __init__(self, url: str, *, prefix: str = "orderseal:rl:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_REDIS_BUCKET)
        self._prefix = prefix

    def take(self, key: str, limit: Limit) -> float:
        """Take a token; 0 when granted, else the wait in seconds.

        Raises:
            UnavailableError: Redis is unreachable (``rate_limiter_unavailable``, 503).
        """
        import redis

        ttl = max(60, math.ceil(limit.burst / limit.rate_per_second) + 60)
        try:
            wait_ms = self._script(
                keys=[self._prefix + key],
                args=[limit.burst, limit.rate_per_second, f"{time.time():.6f}", ttl],
            )
        except redis.RedisError as exc:
            raise UnavailableError(
                "the rate limiter is unavailable; retry shortly", code="rate_limiter_unavailable"
            ) from exc
        return float(int(wait_ms)) / 1000.0


@dataclass(frozen=True)
class RateLimits:
    """The configured limiter and the limit per action."""

    limiter: Limiter
    limits: dict[str, Limit]


def build_limiter(settings: Settings) -> RateLimits:
    """The limiter the settings ask for, with the per-action limits."""
    limiter: Limiter = (
        RedisLimiter(settings.rate_limit_redis_url)
        if settings.rate_limit_redis_url
        else MemoryLimiter()
    )
    limits = {
        "sessions": Limit(settings.rate_limit_sessions_per_minute, settings.rate_limit_burst),
        "uploads": Limit(settings.rate_limit_uploads_per_minute, settings.rate_limit_burst),
        "disputes": Limit(settings.rate_limit_disputes_per_minute, settings.rate_limit_burst),
        "transcodes": Limit(
            settings.rate_limit_transcodes_per_minute, settings.rate_limit_transcodes_burst
        ),
        "enrolments": Limit(
            settings.rate_limit_enrolments_per_minute, settings.rate_limit_enrolments_burst
        ),
    }
    return RateLimits(limiter, limits)


def enforce(request: Request, action: str, principal: Principal) -> None:
    """Count one ``action`` by ``principal``; refuse it when its bucket is empty.

    Raises:
        RateLimitedError: 429 ``rate_limited`` with the wait.
    """
    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None:
        return
    limit = limits.limits[action]
    if limit.per_minute <= 0:
        return
    wait = limits.limiter.take(f"{action}:{principal.role}:{principal.subject}", limit)
    if wait > 0:
        raise RateLimitedError(action, wait)

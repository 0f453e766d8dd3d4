"""The ``Idempotency-Key`` primitive: a retried create answers what the first one answered.

A route that creates something (``POST /v1/orders``, ``POST /v1/disputes``) hands
:meth:`Idempotency.run` the caller, its own name, the key, the parsed body and the action. The
first request with a key claims it and stores its answer; a retry with the same key and the
same body gets that answer again (same status, same body) without running the action; the same
key with another body is ``409 idempotency_key_reused``, and a retry while the first request is
still running is ``409 idempotency_key_in_progress``. A request that fails (an error answer)
releases its claim, so the client may retry with the same key. Keys are scoped to the caller
(the API key's subject) and the route, hold at most 255 visible ASCII characters, and are kept
for :data:`IDEMPOTENCY_TTL` (24 hours); an expired key is a new key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from infra.errors import ConflictError, InputError
from infra.ledger.idempotency import IdempotencyRecords

__all__ = [
    "IDEMPOTENCY_KEY_MAX_CHARS",
    "IDEMPOTENCY_PRUNE_BATCH",
    "IDEMPOTENCY_STALE_AFTER",
    "IDEMPOTENCY_TTL",
    "Idempotency",
    "Outcome",
    "check_idempotency_key",
    "request_fingerprint",
]

#: How long a key and its first answer are kept.
IDEMPOTENCY_TTL = timedelta(hours=24)
#: A claim not completed after this long belongs to a request that died: it is taken over.
IDEMPOTENCY_STALE_AFTER = timedelta(minutes=5)
IDEMPOTENCY_KEY_MAX_CHARS = 255
#: Expired keys deleted per new keyed request (bounded work on the request path).
IDEMPOTENCY_PRUNE_BATCH = 100
_KEY = re.compile(r"[\x21-\x7e]{1,255}")

M = TypeVar("M", bound=BaseModel)


def check_idempotency_key(key: str) -> str:
    """The key if it is 1-255 visible ASCII characters.

    Raises:
        InputError: ``invalid_request``.
    """
    if not _KEY.fullmatch(key):
        raise InputError(
            f"expected an Idempotency-Key of 1-{IDEMPOTENCY_KEY_MAX_CHARS} visible ASCII "
            f"characters, found {len(key)} characters",
            code="invalid_request",
        )
    return key


def request_fingerprint(body: Any) -> str:
    """SHA-256 of the parsed body as canonical JSON (key order and spacing do not count)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Outcome(Generic[M]):
    """The answer to give: the action's, or the first request's when ``replayed``."""

    status_code: int
    body: M
    replayed: bool


class Idempotency:
    """Runs create actions at most once per (caller, route, key)."""

    def __init__(self, records: IdempotencyRecords, *, ttl: timedelta = IDEMPOTENCY_TTL) -> None:
        self.records = records
        self.ttl = ttl

    def run(
        self,
        key: str | None,
        *,
        scope: str,
        route: str,
        request: Any,
        now: datetime,
        model: type[M],
        action: Callable[[], tuple[int, M]],
    ) -> Outcome[M]:
        """Run ``action`` once for ``key``; without a key, just run it.

        Args:
            key: the request's ``Idempotency-Key`` (None: no idempotency).
            scope: who asks (the principal's subject): another caller's key is another key.
            route: the route's name, so one key on two routes is two keys.
            request: the parsed body as JSON-able data (compared by its fingerprint).
            now: the request time (expiry).
            model: the answer's type, to load a stored answer.
            action: does the work; returns (HTTP status, answer).

        Raises:
            InputError: ``invalid_request``, a key of the wrong shape.
            ConflictError: ``idempotency_key_reused`` (same key, another body) or
                ``idempotency_key_in_progress`` (the first request is still running).
            OrderSealError: whatever ``action`` raises (the claim is released first).

        Returns:
            The outcome to answer with.
        """
        if key is None:
            status, body = action()
            return Outcome(status, body, replayed=False)
        check_idempotency_key(key)
        fingerprint = request_fingerprint(request)
        # Bounded housekeeping on the request path, before anything happens: expired keys go.
        self.records.prune(before=now, limit=IDEMPOTENCY_PRUNE_BATCH)
        existing = self.records.claim(
            scope=scope,
            route=route,
            key=key,
            request_sha256=fingerprint,
            now=now,
            expires_at=now + self.ttl,
            stale_before=now - IDEMPOTENCY_STALE_AFTER,
        )
        if existing is not None:
            if existing.request_sha256 != fingerprint:
                raise ConflictError(
                    "expected this Idempotency-Key with the body it was first sent with, "
                    "found another body",
                    code="idempotency_key_reused",
                )
            if existing.status_code is None or existing.response is None:
                raise ConflictError(
                    "the first request with this Idempotency-Key is still running; retry",
                    code="idempotency_key_in_progress",
                )
            return Outcome(
                existing.status_code, model.model_validate(existing.response), replayed=True
            )
        try:
            status, body = action()
        except BaseException:
            self.records.release(scope=scope, route=route, key=key)
            raise
        self.records.complete(
            scope=scope,
            route=route,
            key=key,
            status_code=status,
            response=body.model_dump(mode="json"),
        )
        return Outcome(status, body, replayed=False)

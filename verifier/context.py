"""What the verifier's routes need from the application, as a typed view (no import of the app).

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. The verifier never imports capture or the app. Routes do not use it directly: each gets
its one service from ``verifier.routes.deps``.
"""

from __future__ import annotations

from typing import Protocol

from infra.context import AppContext
from verifier.disputes import DisputeService

__all__ = ["VerifierContext"]


class VerifierContext(AppContext, Protocol):
    """The shared view plus the dispute service and the service secret (merchant pseudonyms)."""

    @property
    def verifier(self) -> DisputeService: ...
    @property
    def token_secret(self) -> bytes: ...

"""What the verifier's routes need from the application, as a typed view (no import of the app).

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. The verifier never imports capture or the app.
"""

from __future__ import annotations

from typing import Protocol

from infra.context import AppContext
from verifier.service import VerifierService

__all__ = ["VerifierContext"]


class VerifierContext(AppContext, Protocol):
    """The shared view plus the verifier service."""

    @property
    def verifier(self) -> VerifierService: ...

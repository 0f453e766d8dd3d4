"""What capture's routes and request checks need from the application, as a typed view.

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. Capture never imports the verifier or the app. Route modules do not read it directly:
``capture.routes.deps`` hands each one its own service.
"""

from __future__ import annotations

from typing import Protocol

from capture.services import CaptureServices
from infra.context import AppContext

__all__ = ["CaptureContext"]


class CaptureContext(AppContext, Protocol):
    """The shared view plus the capture services and the buyer-token secret."""

    @property
    def capture(self) -> CaptureServices: ...
    @property
    def token_secret(self) -> bytes: ...

"""What capture's routes need from the application, as a typed view (no import of the app).

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. Capture never imports the verifier or the app.
"""

from __future__ import annotations

from typing import Protocol

from capture.service import CaptureService
from infra.context import AppContext
from keys.store import KeyStore

__all__ = ["CaptureContext"]


class CaptureContext(AppContext, Protocol):
    """The shared view plus the key folder, the capture service and the token secret."""

    @property
    def keys(self) -> KeyStore: ...
    @property
    def capture(self) -> CaptureService: ...
    @property
    def token_secret(self) -> bytes: ...

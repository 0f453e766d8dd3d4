"""What capture's routes need from the application, as a typed view (no import of the app).

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. Capture never imports the verifier or the app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from capture.service import CaptureService
from infra.ledger.repository import Ledger
from infra.settings import Settings
from infra.storage.base import EvidenceStore
from keys.store import KeyStore

__all__ = ["CaptureContext"]


class CaptureContext(Protocol):
    """The long-lived objects a capture route works with."""

    @property
    def settings(self) -> Settings: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def store(self) -> EvidenceStore: ...
    @property
    def keys(self) -> KeyStore: ...
    @property
    def capture(self) -> CaptureService: ...
    @property
    def token_secret(self) -> bytes: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def work_dir(self) -> Path: ...

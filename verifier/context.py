"""What the verifier's routes need from the application, as a typed view (no import of the app).

The composition root (``orderseal.services.Services``) satisfies this protocol; mypy checks it
there. The verifier never imports capture or the app.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from infra.ledger.repository import Ledger
from infra.settings import Settings
from infra.storage.base import EvidenceStore
from verifier.service import VerifierService

__all__ = ["VerifierContext"]


class VerifierContext(Protocol):
    """The long-lived objects a verifier route works with."""

    @property
    def settings(self) -> Settings: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def store(self) -> EvidenceStore: ...
    @property
    def verifier(self) -> VerifierService: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def work_dir(self) -> Path: ...

"""What every domain's routes need from the application: the shared part of their typed views.

``capture.context.CaptureContext`` and ``verifier.context.VerifierContext`` extend it with
their own service; the composition root's ``Services`` satisfies all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from infra.ledger.repository import Ledger
from infra.settings import Settings
from infra.storage.base import EvidenceStore

__all__ = ["AppContext"]


class AppContext(Protocol):
    """Settings, ledger, evidence store, clock and work folder."""

    @property
    def settings(self) -> Settings: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def store(self) -> EvidenceStore: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
    @property
    def work_dir(self) -> Path: ...

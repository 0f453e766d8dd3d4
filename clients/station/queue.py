"""The packing station's offline queue: attested captures on disk until the service takes them.

Each capture is copied into the queue and attested with the station's own key at capture
time (``captured_at`` is the device clock then), so nothing depends on the service being up.
An entry is written under ``tmp/`` and renamed into ``pending/`` (atomic: a crash never leaves
half an entry). Uploading sends the entry's id as ``Idempotency-Key``: if the service sealed it
but the answer was lost, the retry gets the first result, so every capture lands exactly once.
A capture the service refuses for good (4xx) moves to ``rejected/`` with the error code: it is
never lost silently.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from clients.client import APIError, DeviceKey, StationClient
from clients.schemas import EvidenceResponse

__all__ = ["CaptureQueue", "FlushResult", "QueuedCapture"]

_ENTRY = "capture.json"
_MEDIA = "media"


@dataclass(frozen=True)
class QueuedCapture:
    """One attested capture waiting for upload. ``capture_id`` is its idempotency key."""

    capture_id: str
    order_id: str
    session_id: str
    title: str
    serials: tuple[str, ...]
    statement: str
    signature: str
    content_sha256: str
    size: int
    captured_at: str
    folder: Path

    @property
    def media(self) -> Path:
        """The queued copy of the capture."""
        return self.folder / _MEDIA

    @classmethod
    def from_folder(cls, folder: Path) -> QueuedCapture:
        """Load an entry.

        Raises:
            ValueError: the entry is unreadable or incomplete.
        """
        try:
            data: dict[str, Any] = json.loads((folder / _ENTRY).read_text())
            return cls(
                capture_id=str(data["capture_id"]),
                order_id=str(data["order_id"]),
                session_id=str(data["session_id"]),
                title=str(data["title"]),
                serials=tuple(str(s) for s in data["serials"]),
                statement=str(data["statement"]),
                signature=str(data["signature"]),
                content_sha256=str(data["content_sha256"]),
                size=int(data["size"]),
                captured_at=str(data["captured_at"]),
                folder=folder,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable queue entry {folder.name}") from exc


@dataclass
class FlushResult:
    """What one pass over the queue did."""

    uploaded: list[EvidenceResponse] = field(default_factory=list)
    replayed: list[EvidenceResponse] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    remaining: int = 0
    offline: bool = False


class CaptureQueue:
    """A folder of attested captures, oldest first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name in ("tmp", "pending", "rejected"):
            (root / name).mkdir(parents=True, exist_ok=True)

    def add(
        self,
        source: Path,
        *,
        device: DeviceKey,
        order_id: str,
        session_id: str,
        title: str = "",
        serials: tuple[str, ...] = (),
    ) -> QueuedCapture:
        """Copy ``source`` into the queue and attest it with the device key, now."""
        capture_id = f"cap-{uuid.uuid4().hex}"
        staging = self.root / "tmp" / capture_id
        staging.mkdir()
        try:
            shutil.copyfile(source, staging / _MEDIA)
            statement, signature, digest = device.attest(
                order_id=order_id,
                session_id=session_id,
                stage="shipment",
                path=staging / _MEDIA,
                captured_at=datetime.now(UTC),
            )
            entry = {
                "capture_id": capture_id,
                "order_id": order_id,
                "session_id": session_id,
                "title": title or source.name,
                "serials": list(serials),
                "statement": statement,
                "signature": signature,
                "content_sha256": digest,
                "size": (staging / _MEDIA).stat().st_size,
                "captured_at": datetime.now(UTC).isoformat(),
                "source": str(source),
            }
            (staging / _ENTRY).write_text(json.dumps(entry, indent=2))
            # Sortable by queue time, so uploads keep the packing order.
            final = self.root / "pending" / f"{time.time_ns():020d}-{capture_id}"
            os.replace(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return QueuedCapture.from_folder(final)

    def pending(self, *, session_id: str | None = None) -> list[QueuedCapture]:
        """Entries waiting for upload, oldest first (optionally of one session)."""
        entries = [QueuedCapture.from_folder(p) for p in sorted((self.root / "pending").iterdir())]
        return [e for e in entries if session_id is None or e.session_id == session_id]

    def rejected(self) -> list[tuple[QueuedCapture, str]]:
        """Entries the service refused, with the error code it gave."""
        found = []
        for folder in sorted((self.root / "rejected").iterdir()):
            code = (
                (folder / "error.txt").read_text().strip()
                if (folder / "error.txt").exists()
                else ""
            )
            found.append((QueuedCapture.from_folder(folder), code))
        return found

    def flush(
        self,
        client: StationClient,
        *,
        progress: Callable[[QueuedCapture], Callable[[int], None] | None] | None = None,
    ) -> FlushResult:
        """Upload pending entries in order; stop at the first sign the service is down.

        Args:
            client: the station's signed client.
            progress: optional factory of a per-entry byte-count callback (progress bars).
        """
        result = FlushResult()
        entries = self.pending()
        for index, entry in enumerate(entries):
            try:
                answer = client.upload_attested(
                    entry.session_id,
                    entry.media,
                    statement=entry.statement,
                    signature=entry.signature,
                    digest=entry.content_sha256,
                    title=entry.title,
                    idempotency_key=entry.capture_id,
                    serials=entry.serials,
                    progress=progress(entry) if progress else None,
                )
            except httpx.TransportError:
                result.offline = True
                result.remaining = len(entries) - index
                return result
            except APIError as exc:
                if exc.status >= 500 or exc.status == 429:
                    result.remaining = len(entries) - index
                    result.offline = True
                    return result
                self._reject(entry, exc.code)
                result.rejected.append((entry.capture_id, exc.code))
                continue
            (result.replayed if answer.get("replayed") else result.uploaded).append(answer)
            shutil.rmtree(entry.folder, ignore_errors=True)
        return result

    def _reject(self, entry: QueuedCapture, code: str) -> None:
        (entry.folder / "error.txt").write_text(code + "\n")
        os.replace(entry.folder, self.root / "rejected" / entry.folder.name)

    def summary(self) -> dict[str, Any]:
        """Counts for ``orderseal station status``."""
        pending = self.pending()
        return {
            "pending": len(pending),
            "pending_bytes": sum(e.size for e in pending),
            "rejected": len(list((self.root / "rejected").iterdir())),
            "sessions": sorted({e.session_id for e in pending}),
        }

"""The packing station's offline queue: attested captures on disk until the service takes them.

Each capture is copied into the queue and attested with the station's own key at capture
time (``captured_at`` is the device clock then), so nothing depends on the service being up.
An entry is written under ``tmp/`` and renamed into ``pending/`` (atomic: a crash never leaves
half an entry). Uploading sends the entry's id as ``Idempotency-Key``: if the service sealed it
but the answer was lost, the retry gets the first result, so every capture lands exactly once.
A capture the service refuses for good (4xx) moves to ``rejected/`` with the service's code
and message (``error.json``): it is never lost silently, and ``retry`` or ``drop`` acts on it.

After ``orderseal station reset`` (a new key and device id on the same folder) the entries
attested by the previous identity are kept. The service would refuse them (that device is
revoked or expired, and its sessions are not the new device's), so they are held until this
station opens a session for the same order; then each is attested again by the current key
into that session, keeping its original ``captured_at``.
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
from clients.schemas import EvidenceResponse, SessionResponse
from wire.attestation import CaptureStatement, b64url_decode

__all__ = ["CaptureQueue", "FlushResult", "QueuedCapture", "Refusal"]

_ENTRY = "capture.json"
_MEDIA = "media"
#: Session ids a station gives the sessions it opens offline (``clients.station.offline``).
LOCAL_SESSION_PREFIX = "ls_"
#: Refusals of the station itself, not of one capture: the flush stops and keeps every entry
#: pending (a revoked or expired station must not turn its whole queue into rejects).
_IDENTITY_REFUSALS = frozenset(
    {
        "credentials_expired",
        "credentials_forged",
        "credentials_malformed",
        "credentials_missing",
        "credentials_replayed",
        "device_certificate_invalid",
        "device_revoked",
        "device_unknown",
        "wrong_role",
    }
)


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
    #: The device whose key signed the statement (older entries: read from the statement).
    device_id: str = ""
    #: Station checks the operator overrode with ``--force`` for this capture.
    forced: tuple[str, ...] = ()

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
                device_id=str(
                    data.get("device_id") or _statement(str(data["statement"])).device_id
                ),
                forced=tuple(str(f) for f in data.get("forced", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"unreadable queue entry {folder.name}") from exc


def _statement(encoded: str) -> CaptureStatement:
    return CaptureStatement.from_json(b64url_decode(encoded).decode())


@dataclass(frozen=True)
class Refusal:
    """The service's answer to a capture it refused for good."""

    code: str
    message: str
    status: int
    refused_at: str


@dataclass
class FlushResult:
    """What one pass over the queue did."""

    uploaded: list[EvidenceResponse] = field(default_factory=list)
    replayed: list[EvidenceResponse] = field(default_factory=list)
    #: Every capture sealed in this pass (new or replayed), with its entry.
    sealed: list[tuple[QueuedCapture, EvidenceResponse]] = field(default_factory=list)
    rejected: list[tuple[QueuedCapture, Refusal]] = field(default_factory=list)
    #: Entries of a previous enrolment waiting for a session of their order.
    held: list[QueuedCapture] = field(default_factory=list)
    #: Entries of a session opened offline, waiting for its sync to name the official session.
    local: list[QueuedCapture] = field(default_factory=list)
    remaining: int = 0
    offline: bool = False
    #: The service refused this station itself (revoked, expired): ``renew`` or ``reset``.
    blocked: Refusal | None = None
    #: Offline sessions whose sync the service refused (``code: message`` each).
    provisional_refused: list[str] = field(default_factory=list)
    #: Offline sessions whose label the service has not replaced yet.
    provisional_pending: int = 0


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
        forced: tuple[str, ...] = (),
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
                "device_id": device.device_id,
                "forced": list(forced),
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

    def queued_elsewhere(self, content_sha256: str, *, order_id: str) -> QueuedCapture | None:
        """A pending entry of the same bytes for another order (not sealed yet)."""
        for entry in self.pending():
            if entry.content_sha256 == content_sha256 and entry.order_id != order_id:
                return entry
        return None

    def rejected(self) -> list[tuple[QueuedCapture, Refusal]]:
        """Entries the service refused, with its code and message, oldest first."""
        return [
            (QueuedCapture.from_folder(folder), _refusal(folder))
            for folder in sorted((self.root / "rejected").iterdir())
        ]

    def _rejected_folders(self, capture_id: str | None) -> list[Path]:
        folders = sorted((self.root / "rejected").iterdir())
        return [f for f in folders if capture_id is None or f.name.endswith(f"-{capture_id}")]

    def retry(self, capture_id: str | None) -> list[str]:
        """Move one refused entry (or all, for ``None``) back to pending; their ids.

        The entry keeps its id, so a retry that the service seals lands once.
        """
        moved = []
        for folder in self._rejected_folders(capture_id):
            for name in ("error.json", "error.txt"):
                (folder / name).unlink(missing_ok=True)
            os.replace(folder, self.root / "pending" / folder.name)
            moved.append(folder.name.split("-", 1)[1])
        return moved

    def drop(self, capture_id: str | None) -> list[str]:
        """Delete one refused entry (or all, for ``None``); their ids."""
        dropped = []
        for folder in self._rejected_folders(capture_id):
            shutil.rmtree(folder)
            dropped.append(folder.name.split("-", 1)[1])
        return dropped

    def drop_session(self, session_id: str) -> list[str]:
        """Delete the pending entries of one session (an offline session whose sync the
        service refused for good); their ids."""
        dropped = []
        for entry in self.pending(session_id=session_id):
            shutil.rmtree(entry.folder)
            dropped.append(entry.capture_id)
        return dropped

    def drop_held(self, current_device_id: str) -> list[str]:
        """Delete the pending entries attested by a previous enrolment; their ids.

        For held captures whose order this station will not pack again (another station
        packed it, it was cancelled): otherwise they wait for good.
        """
        dropped = []
        for entry in self.pending():
            if entry.device_id != current_device_id:
                shutil.rmtree(entry.folder)
                dropped.append(entry.capture_id)
        return dropped

    def flush(
        self,
        client: StationClient,
        *,
        progress: Callable[[QueuedCapture], Callable[[int], None] | None] | None = None,
        session: SessionResponse | None = None,
    ) -> FlushResult:
        """Upload pending entries in order; stop at the first sign the service is down.

        Args:
            client: the station's signed client.
            progress: optional factory of a per-entry byte-count callback (progress bars).
            session: the station's open session: entries of a previous enrolment for its
                order are attested again into it (the others are held).
        """
        result = FlushResult()
        entries = self.pending()
        for index, entry in enumerate(entries):
            if entry.session_id.startswith(LOCAL_SESSION_PREFIX):
                result.local.append(entry)
                continue
            if entry.device_id != client.device.device_id:
                if session is None or session["order_id"] != entry.order_id:
                    result.held.append(entry)
                    continue
                entry = self._attest_again(entry, client.device, session)
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
                    forced=entry.forced,
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
                if exc.code in _IDENTITY_REFUSALS:
                    result.remaining = len(entries) - index
                    result.blocked = Refusal(
                        exc.code, exc.message, exc.status, datetime.now(UTC).isoformat()
                    )
                    return result
                refusal = Refusal(exc.code, exc.message, exc.status, datetime.now(UTC).isoformat())
                self._reject(entry, refusal)
                result.rejected.append((entry, refusal))
                continue
            (result.replayed if answer.get("replayed") else result.uploaded).append(answer)
            result.sealed.append((entry, answer))
            shutil.rmtree(entry.folder, ignore_errors=True)
        result.remaining = len(result.held) + len(result.local)
        return result

    def rebind(self, local_session_id: str, session: SessionResponse, device: DeviceKey) -> int:
        """Attest the entries of an offline session again into its official session (same
        ``captured_at``); how many."""
        moved = 0
        for entry in self.pending(session_id=local_session_id):
            self._attest_again(entry, device, session)
            moved += 1
        return moved

    def _attest_again(
        self, entry: QueuedCapture, device: DeviceKey, session: SessionResponse
    ) -> QueuedCapture:
        """Sign the entry again with the current key, into ``session``, same ``captured_at``."""
        statement, signature, digest = device.attest(
            order_id=entry.order_id,
            session_id=session["session_id"],
            stage="shipment",
            path=entry.media,
            captured_at=_statement(entry.statement).captured_time,
        )
        path = entry.folder / _ENTRY
        data = json.loads(path.read_text())
        data.update(
            statement=statement,
            signature=signature,
            content_sha256=digest,
            session_id=session["session_id"],
            device_id=device.device_id,
            attested_again_from=entry.device_id,
        )
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(data, indent=2))
        os.replace(temp, path)
        return QueuedCapture.from_folder(entry.folder)

    def _reject(self, entry: QueuedCapture, refusal: Refusal) -> None:
        (entry.folder / "error.json").write_text(json.dumps(refusal.__dict__, indent=2))
        os.replace(entry.folder, self.root / "rejected" / entry.folder.name)

    def summary(self) -> dict[str, Any]:
        """Counts for ``orderseal station status``."""
        pending = self.pending()
        return {
            "pending": len(pending),
            "pending_bytes": sum(e.size for e in pending),
            "rejected": len(list((self.root / "rejected").iterdir())),
            "sessions": sorted({e.session_id for e in pending}),
            "devices": sorted({e.device_id for e in pending}),
        }


def _refusal(folder: Path) -> Refusal:
    """The stored refusal (``error.json``; entries of older versions kept only the code)."""
    try:
        data = json.loads((folder / "error.json").read_text())
        return Refusal(
            str(data["code"]), str(data["message"]), int(data["status"]), str(data["refused_at"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        path = folder / "error.txt"
        code = path.read_text().strip() if path.exists() else "unknown"
        return Refusal(code, "", 0, "")

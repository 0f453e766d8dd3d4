"""Checks a capture passes on the station before it is attested and queued.

Adversary: an operator in a hurry, or a rogue station, sealing what is not this parcel:

* ``capture_older_than_session``: a hot-folder file last written before this session
  opened, typically the photo of the previous parcel, would be sealed with ``captured_at`` =
  now. Refused unless ``--force`` (the override is recorded with the capture).
* ``capture_already_taken``: the same bytes this station already sealed (or queued) for
  another order. One photo evidences one parcel: never overridable, and the service refuses
  the same bytes into a second order of the merchant anyway (``409 capture_sealed_elsewhere``)
  whatever the station says.

The file's mtime is the station's own clock (the tethered camera writes through it), so it
is compared with the station clock at ``open``, with :data:`CLOCK_SLACK` for a photo taken
while the barcode was being scanned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clients.station.errors import NeedsForceError, ServiceRefusedError
from clients.station.queue import CaptureQueue
from clients.station.records import StationRecords

__all__ = ["CLOCK_SLACK", "CaptureWarning", "capture_warnings", "refuse_unless_forced"]

CLOCK_SLACK = timedelta(seconds=2)
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class CaptureWarning:
    """One reason a capture is probably not evidence of this parcel."""

    code: str
    message: str
    #: ``--force`` may override it.
    overridable: bool = True


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def capture_warnings(
    path: Path,
    *,
    order_id: str,
    opened_at: datetime,
    records: StationRecords,
    queue: CaptureQueue,
) -> list[CaptureWarning]:
    """What is wrong with sealing ``path`` into ``order_id``'s session opened at ``opened_at``."""
    found = []
    written = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    if written < opened_at - CLOCK_SLACK:
        found.append(
            CaptureWarning(
                "capture_older_than_session",
                f"{path.name} was written at {written:%Y-%m-%d %H:%M:%S}Z, before this session "
                f"opened at {opened_at:%H:%M:%S}Z: a photo of the previous parcel?",
            )
        )
    digest = _sha256(path)
    sealed = records.sealed_elsewhere(digest, order_id=order_id)
    queued = queue.queued_elsewhere(digest, order_id=order_id) if sealed is None else None
    if sealed is not None or queued is not None:
        other = sealed.order_id if sealed is not None else queued.order_id if queued else ""
        found.append(
            CaptureWarning(
                "capture_already_taken",
                f"{path.name} holds the same bytes this station already took for order "
                f"{other}: one photo evidences one parcel, take a new one",
                overridable=False,
            )
        )
    return found


def refuse_unless_forced(warnings: Sequence[CaptureWarning], *, force: bool) -> tuple[str, ...]:
    """The codes ``--force`` overrode; raise if any warning stands.

    Raises:
        ServiceRefusedError: a warning ``--force`` cannot override (exit 1, refused).
        NeedsForceError: overridable warnings without ``--force`` (exit 6).
    """
    if not warnings:
        return ()
    lines = "; ".join(w.message for w in warnings)
    # Two kinds today, each raised under its own literal code (the registry scans them).
    if any(not w.overridable for w in warnings):
        raise ServiceRefusedError(lines, code="capture_already_taken")
    if not force:
        raise NeedsForceError(
            f"{lines} (nothing was queued; repeat with --force if it is really meant)",
            code="capture_older_than_session",
        )
    return tuple(sorted({w.code for w in warnings}))

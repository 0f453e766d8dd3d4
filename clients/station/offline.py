"""Offline packing on the station (issue 18 §1): the assignment list, local sessions,
provisional labels and their sync.

- ``assignment.json``: the service-signed list of orders this station may pack offline, as
  fetched while online. It is checked when saved and again when used: the service's label
  certificate must chain to the root in ``device-cert.pem`` and sign the list, the list must
  name this station, and it must not have expired. A tampered file opens nothing.
- A session opened offline gets a local id (``ls_…``); its captures are attested and queued
  as any other, but held until the sync gives the session an official id.
- ``close`` offline prints a provisional label: an ``OSP1`` token signed by the device key
  (order, device id, local session id, station clock, nonce), kept in ``provisional/``.
- Sync (every flush, ``sync``, ``watch``): each provisional session is presented with its
  assignment list and the station clock; the service answers the official session, the
  held captures are attested again into it (same ``captured_at``) and uploaded, then the
  service closes it and answers its own label token, which replaces the provisional one
  (``orderseal station label ORDER`` reprints it). Every step is idempotent on the service, so
  a sync interrupted anywhere is simply run again.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from clients.client import APIError, DeviceKey, StationClient
from clients.station.errors import StationError
from clients.station.queue import LOCAL_SESSION_PREFIX
from wire.provisional import (
    AssignmentList,
    ProvisionalLabel,
    ProvisionalTokenError,
    issue_provisional_token,
    verify_assignment_list,
)

__all__ = [
    "LOCAL_SESSION_PREFIX",
    "OfflineStore",
    "ProvisionalEntry",
    "SyncResult",
    "label_url",
]

#: Refusals that a later sync will not change: the entry is kept, marked refused.
_RETRYABLE = frozenset({"station_clock_skewed"})


def label_url(base_url: str, token: str) -> str:
    """The QR payload of a label: the capture page with the token in the fragment (the same
    form as the service's ``capture.label_url``)."""
    return f"{base_url.rstrip('/')}/capture#t={token}"


@dataclass(frozen=True)
class ProvisionalEntry:
    """One packing session closed offline, and how far its sync got."""

    local_session_id: str
    order_id: str
    token: str
    assignment_token: str
    closed_at: str
    session_id: str | None = None
    official_token: str | None = None
    refused_code: str | None = None
    refused_message: str | None = None

    @property
    def done(self) -> bool:
        """Replaced by the service's own label."""
        return self.official_token is not None


@dataclass
class SyncResult:
    """What one sync pass did."""

    opened: list[ProvisionalEntry]
    replaced: list[ProvisionalEntry]
    refused: list[ProvisionalEntry]
    offline: bool = False


def _chain_to_root(chain: list[x509.Certificate], root: x509.Certificate) -> None:
    """Each certificate is issued by the next, the last by (or is) the station's root.

    Raises:
        StationError: ``assignment_untrusted``.
    """
    try:
        for child, parent in zip(chain, [*chain[1:], root], strict=True):
            if child == parent:
                continue
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise StationError(
            "expected the service's label certificate to chain to this station's root",
            code="assignment_untrusted",
        ) from exc


class OfflineStore:
    """The station's offline files under its home folder."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.assignment_path = home / "assignment.json"
        self.outbox = home / "provisional"
        self.outbox.mkdir(parents=True, exist_ok=True)

    # Assignment list --------------------------------------------------------
    def _verified(
        self, data: dict[str, Any], device_id: str, root: x509.Certificate
    ) -> AssignmentList:
        try:
            chain = x509.load_pem_x509_certificates(str(data["certificate_chain_pem"]).encode())
            key = chain[0].public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError("expected an EC label key")
            _chain_to_root(chain, root)
            listed = verify_assignment_list(str(data["token"]), key)
        except (KeyError, ValueError, IndexError, ProvisionalTokenError) as exc:
            raise StationError(
                "expected an assignment list signed by the service", code="assignment_untrusted"
            ) from exc
        if listed.station_id != device_id:
            raise StationError(
                f"expected an assignment list for {device_id}, found {listed.station_id}'s",
                code="assignment_untrusted",
            )
        return listed

    def save_assignment(
        self, data: dict[str, Any], *, device_id: str, root: x509.Certificate
    ) -> AssignmentList:
        """Check and keep a freshly fetched assignment list."""
        listed = self._verified(data, device_id, root)
        _write_json(self.assignment_path, data)
        return listed

    def assignment(
        self, *, device_id: str, root: x509.Certificate
    ) -> tuple[AssignmentList, dict[str, Any]]:
        """The kept assignment list, checked again (a file edited on disk opens nothing).

        Raises:
            StationError: ``assignment_missing`` or ``assignment_untrusted``.
        """
        if not self.assignment_path.exists():
            raise StationError(
                "no assignment list on this station: run `orderseal station sync` while online",
                code="assignment_missing",
            )
        data: dict[str, Any] = json.loads(self.assignment_path.read_text())
        return self._verified(data, device_id, root), data

    # Provisional labels ------------------------------------------------------
    def close_offline(
        self, device: DeviceKey, *, order_id: str, local_session_id: str, assignment_token: str
    ) -> ProvisionalEntry:
        """Sign the provisional label of a local session and keep it for the sync."""
        now = datetime.now(UTC)
        label = ProvisionalLabel(
            order_id=order_id,
            device_id=device.device_id,
            local_session_id=local_session_id,
            station_time=now,
            nonce=secrets.token_urlsafe(9),
        )
        entry = ProvisionalEntry(
            local_session_id=local_session_id,
            order_id=order_id,
            token=issue_provisional_token(device.private_key, label),
            assignment_token=assignment_token,
            closed_at=now.isoformat(),
        )
        self._save(entry)
        return entry

    def _save(self, entry: ProvisionalEntry) -> None:
        _write_json(self.outbox / f"{entry.local_session_id}.json", entry.__dict__)

    def entries(self) -> Iterator[ProvisionalEntry]:
        """Every provisional session, oldest first."""
        for path in sorted(self.outbox.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
            yield ProvisionalEntry(**json.loads(path.read_text()))

    def pending(self) -> list[ProvisionalEntry]:
        """Provisional sessions not replaced yet and not refused for good."""
        return [e for e in self.entries() if not e.done and e.refused_code is None]

    def for_order(self, order_id: str) -> ProvisionalEntry | None:
        """The latest provisional session of an order, or None."""
        found = [e for e in self.entries() if e.order_id == order_id]
        return found[-1] if found else None

    # Sync --------------------------------------------------------------------
    def open_official(self, client: StationClient) -> SyncResult:
        """Present each unsynced provisional session: its official session id (step 1)."""
        result = SyncResult([], [], [])
        for entry in self.pending():
            if entry.session_id is not None:
                continue
            try:
                answer = client.sync_provisional(
                    provisional_token=entry.token,
                    assignment_token=entry.assignment_token,
                    station_clock=datetime.now(UTC).isoformat(),
                )
            except httpx.TransportError:
                result.offline = True
                return result
            except APIError as exc:
                if exc.status >= 500 or exc.status == 429:
                    result.offline = True
                    return result
                refused = _refused(entry, exc)
                if exc.code not in _RETRYABLE:
                    self._save(refused)
                result.refused.append(refused)
                continue
            opened = _replace(entry, session_id=str(answer["session_id"]))
            self._save(opened)
            result.opened.append(opened)
        return result

    def replace_labels(self, client: StationClient, *, queued_sessions: set[str]) -> SyncResult:
        """Close each synced session whose captures are all sealed: the service's own label
        replaces the provisional one (step 3)."""
        result = SyncResult([], [], [])
        for entry in self.pending():
            if entry.session_id is None or entry.local_session_id in queued_sessions:
                continue
            if entry.session_id in queued_sessions:
                continue
            try:
                answer = client.close_provisional(entry.local_session_id)
            except httpx.TransportError:
                result.offline = True
                return result
            except APIError as exc:
                if exc.status >= 500 or exc.status == 429:
                    result.offline = True
                    return result
                refused = _refused(entry, exc)
                self._save(refused)
                result.refused.append(refused)
                continue
            replaced = _replace(entry, official_token=str(answer["token"]))
            self._save(replaced)
            result.replaced.append(replaced)
        return result


def _refused(entry: ProvisionalEntry, exc: APIError) -> ProvisionalEntry:
    return _replace(entry, refused_code=exc.code, refused_message=exc.message)


def _replace(entry: ProvisionalEntry, **changes: str) -> ProvisionalEntry:
    return ProvisionalEntry(**{**entry.__dict__, **changes})


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(data, indent=2))
    os.replace(temp, path)

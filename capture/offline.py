"""Offline packing (issue 18 §1): assignment lists and the sync of provisional sessions (what
a buyer's scan of a provisional label resolves to is ``capture.provisional_labels``).

A station that cannot reach the service packs from a signed list of its orders
(:meth:`OfflineService.assignment`), opens sessions locally, queues attested captures and
prints a *provisional* label signed by its own device key (``wire.provisional``). At sync it
presents the provisional token with the list: the service checks its own signature on the
list, the station's on the token, the clocks, and the order as it stands now; only then does
it open an official shipment session, into which the captures are uploaded and sealed as
any other, and close it, replacing the provisional token by its own ``OS1`` token.

Why a station-signed token cannot make evidence pass: it seals nothing. Evidence passes only
when sealed by the service key, and the service seals only captures uploaded into a session
it opened for an order the station was assigned. The provisional token is a pointer the
service honours after it has replaced it, never a credential on its own (docs/trust.md).

Exactly once: a provisional session is keyed by (station, local session id); a replay with
the same token answers the first result, a different token under the same key is refused
(``provisional_conflict``). The official token is stored at the first close and answered to
every replay, so one parcel never gets two labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from capture.provisional_labels import token_sha256, verified_provisional
from capture.sessions import SessionService
from infra.errors import ConflictError, NotFoundError, OrderSealError
from infra.ledger.provisional import ProvisionalLabelRow
from infra.ledger.repository import Ledger
from keys.signer import Signer
from wire.attestation import b64url_encode
from wire.provisional import (
    AssignmentList,
    ProvisionalTokenError,
    assignment_signing_input,
    low_s_raw,
    verify_assignment_list,
)

__all__ = ["AcceptedSession", "OfflineService", "ReplacedLabel", "SignedAssignment"]

#: A provisional label closed "after" the station's own clock at sync is impossible on one
#: clock; a little slack covers the seconds between closing and syncing on a busy line.
_CLOSE_SLACK = timedelta(seconds=60)


@dataclass(frozen=True)
class SignedAssignment:
    """An assignment list as the station receives it."""

    token: str
    assignment: AssignmentList
    #: Our label certificate chain (leaf first, PEM): the station checks the list with it.
    certificate_chain_pem: str
    #: Our public base URL: the provisional label's QR is ``<this>/capture#t=<token>``.
    label_base_url: str


@dataclass(frozen=True)
class AcceptedSession:
    """The official session that a station's local session became at sync."""

    row: ProvisionalLabelRow
    replayed: bool


@dataclass(frozen=True)
class ReplacedLabel:
    """The official label token that replaced a provisional one."""

    order_id: str
    session_id: str
    token: str
    replayed: bool


class OfflineService:
    """Assignment lists and the sync of provisional sessions (station side of the service)."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        sessions: SessionService,
        signer: Signer,
        retired_certificates: tuple[x509.Certificate, ...],
        certificate_chain_pem: str,
        base_url: str,
        assignment_ttl: timedelta,
        max_orders: int,
        max_clock_gap: timedelta,
    ) -> None:
        self.ledger = ledger
        self.sessions = sessions
        self.signer = signer
        self.retired_certificates = retired_certificates
        self.certificate_chain_pem = certificate_chain_pem
        self.base_url = base_url
        self.assignment_ttl = assignment_ttl
        self.max_orders = max_orders
        self.max_clock_gap = max_clock_gap

    def assignment(self, station_id: str, *, now: datetime) -> SignedAssignment:
        """The signed list of orders this station may pack offline: its merchant's open orders
        not packed yet, newest first, at most ``max_orders``, valid ``assignment_ttl``."""
        merchant = self.sessions.station_merchant(station_id)
        orders = self.ledger.provisional.packable_orders(merchant, limit=self.max_orders)
        issued = now.replace(microsecond=0)
        assignment = AssignmentList(
            station_id=station_id,
            merchant_id=merchant,
            order_ids=tuple(orders),
            issued_at=issued,
            expires_at=issued + self.assignment_ttl,
        )
        text = assignment_signing_input(assignment)
        token = f"{text}.{b64url_encode(low_s_raw(self.signer.sign(text.encode())))}"
        return SignedAssignment(token, assignment, self.certificate_chain_pem, self.base_url)

    def _assignment(self, token: str, station_id: str) -> AssignmentList:
        certificates = (*self.signer.certificate_chain[:1], *self.retired_certificates)
        for certificate in certificates:
            key = certificate.public_key()
            if not isinstance(key, ec.EllipticCurvePublicKey):
                continue
            try:
                assignment = verify_assignment_list(token, key)
            except ProvisionalTokenError:
                continue
            if assignment.station_id == station_id:
                return assignment
            break
        raise OrderSealError(
            "expected an assignment list this service signed for this station",
            code="assignment_invalid",
            http_status=403,
        )

    def accept(
        self,
        station_id: str,
        *,
        token: str,
        assignment_token: str,
        station_clock: datetime,
        now: datetime,
    ) -> AcceptedSession:
        """Open the official session for a station's provisional one (once).

        Raises:
            TokenError: the provisional token is malformed or not this station's signature.
            OrderSealError: ``provisional_wrong_station`` (403), ``assignment_invalid`` (403),
                ``order_not_assigned`` (403), ``assignment_expired`` (409),
                ``station_clock_skewed`` (409); and what opening a session raises now
                (``order_unknown``, ``order_cancelled``, ``order_already_packed``).
            ConflictError: ``provisional_conflict``, another token under this local session id.
        """
        claims, device = verified_provisional(token, self.ledger)
        if device.device_id != station_id:
            raise OrderSealError(
                "expected a provisional label signed by this station",
                code="provisional_wrong_station",
                http_status=403,
            )
        digest = token_sha256(token)
        earlier = self.ledger.provisional.get(station_id, claims.local_session_id)
        if earlier is not None:
            return self._replay(earlier, digest)
        assignment = self._assignment(assignment_token, station_id)
        if claims.order_id not in assignment.order_ids:
            raise OrderSealError(
                f"expected an order of this station's assignment list, found {claims.order_id}",
                code="order_not_assigned",
                http_status=403,
            )
        gap = now - station_clock
        if abs(gap) > self.max_clock_gap or claims.station_time > station_clock + _CLOSE_SLACK:
            raise OrderSealError(
                f"expected the station clock within {self.max_clock_gap.total_seconds():.0f} s "
                f"of the service clock, found {gap.total_seconds():.0f} s: set the station's "
                "clock, then sync again",
                code="station_clock_skewed",
                http_status=409,
            )
        # The list's window is on our clock: the station's closing time, corrected by the gap.
        if not assignment.covers(claims.order_id, at=claims.station_time + gap):
            raise OrderSealError(
                "expected the provisional label closed while the assignment list was valid",
                code="assignment_expired",
                http_status=409,
            )
        session = self.sessions.open_shipment_session(station_id, claims.order_id, now=now)
        row = ProvisionalLabelRow(
            device_id=station_id,
            local_session_id=claims.local_session_id,
            order_id=claims.order_id,
            token_sha256=digest,
            session_id=session.session_id,
            station_closed_at=claims.station_time,
            station_clock=station_clock,
            service_clock=now,
            clock_gap_seconds=round(gap.total_seconds(), 3),
        )
        if not self.ledger.provisional.add(row):
            # A concurrent replay recorded it first: answer its result.
            again = self.ledger.provisional.get(station_id, claims.local_session_id)
            if again is None:
                raise ConflictError(
                    "expected a new provisional session, found its token recorded for another",
                    code="provisional_conflict",
                )
            return self._replay(again, digest)
        return AcceptedSession(row, replayed=False)

    def _replay(self, earlier: ProvisionalLabelRow, digest: str) -> AcceptedSession:
        if earlier.token_sha256 != digest:
            raise ConflictError(
                "expected the provisional label this local session synced first, found another",
                code="provisional_conflict",
            )
        return AcceptedSession(earlier, replayed=True)

    def replace(self, station_id: str, local_session_id: str, *, now: datetime) -> ReplacedLabel:
        """Close the official session of a synced provisional one and answer its label token
        (the same token to every replay).

        Raises:
            NotFoundError: ``session_not_found`` (not synced, or another station's).
            CaptureError: ``session_empty`` (no capture sealed into it yet).
        """
        row = self.ledger.provisional.get(station_id, local_session_id)
        if row is None:
            raise NotFoundError("no such session for this caller", code="session_not_found")
        if row.official_token is not None:
            return ReplacedLabel(row.order_id, row.session_id, row.official_token, replayed=True)
        label = self.sessions.close_shipment_session(station_id, row.session_id, now=now)
        token = self.ledger.provisional.replace(station_id, local_session_id, label.token, at=now)
        return ReplacedLabel(row.order_id, row.session_id, token, replayed=token != label.token)

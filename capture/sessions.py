"""Capture sessions and parcel labels: who may add evidence to an order, and until when.

A packing station opens a shipment session for a registered order and closes it to get the
parcel's signed label token; the buyer scans that label to open a short receipt session for
the same order. Every session belongs to one caller (the station's device id, or the buyer
id): another caller's session and an absent one get the same ``404 session_not_found``, so
session ids cannot be probed.

A station packs only for its merchant (issue 17): an order of another merchant is answered
exactly like an order that does not exist (``404 order_unknown`` to open a session, ``404
no_label`` for its label), so a station cannot learn which order ids other merchants hold. A
station recorded without a merchant (enrolled before tenants) packs for ``default``, as the
migration assigned.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from capture.errors import (
    CaptureError,
    OrderAlreadyPackedError,
    ReceiptNotClosedError,
    ReviewLimitError,
    SessionClosedError,
    TokenError,
)
from capture.label_check import BuyerPageLimits, LabelCheck, LabelState
from capture.label_url import label_token_from_payload
from capture.orders import OrderService
from capture.provisional_labels import ProvisionalResolver
from capture.tokens import LabelToken, issue_label_token, verify_label_token
from evidence.label_entry import LabelEntry
from evidence.manifest import Stage
from infra.errors import NotFoundError, OrderSealError
from infra.ledger.merchants import DEFAULT_MERCHANT
from infra.ledger.models import CaptureSession, Evidence, Order
from infra.ledger.repository import Ledger
from keys.signer import Signer
from wire.provisional import PROVISIONAL_PREFIX, peek_provisional_token

__all__ = ["IssuedLabel", "Receipt", "SessionService"]

#: QR-check states of a genuine station's provisional label the service has not replaced yet
#: (or that policy refuses): the seller's label, not a scam card's.
_PROVISIONAL_STATES = {
    "label_not_yet_synced": LabelState.NOT_YET_SYNCED,
    "label_provisional_refused": LabelState.PROVISIONAL_REFUSED,
    "token_expired": LabelState.EXPIRED,
}


@dataclass(frozen=True)
class IssuedLabel:
    """The signed label token of a closed shipment session, and where its image is."""

    order_id: str
    token: str
    label_png_url: str


@dataclass(frozen=True)
class Receipt:
    """A buyer's receipt session, its sealed captures and the shipment evidence they chain to."""

    session: CaptureSession
    sealed: tuple[Evidence, ...]
    shipment_session: CaptureSession | None
    shipment: tuple[Evidence, ...]


class SessionService:
    """Shipment and receipt sessions, their ownership, and the parcel labels."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        orders: OrderService,
        label_signer: Signer,
        receipt_session: timedelta,
        shipment_session: timedelta,
        label_ttl: timedelta,
        base_url: str = "",
        retired_service_certificates: tuple[x509.Certificate, ...] = (),
        revoked_service_serials: Callable[[], Mapping[str, datetime]] = dict,
        buyer_page: BuyerPageLimits | None = None,
        max_review_photos: int = 10,
        provisional: ProvisionalResolver | None = None,
    ) -> None:
        self.ledger = ledger
        self.orders = orders
        self.label_signer = label_signer
        self.receipt_session = receipt_session
        self.shipment_session = shipment_session
        self.label_ttl = label_ttl
        self.base_url = base_url
        # Label tokens printed before a key rotation must keep opening receipt sessions.
        self.retired_service_certificates = retired_service_certificates
        # Read on every label scan, so a revocation takes effect without a restart.
        self.revoked_service_serials = revoked_service_serials
        self.buyer_page = buyer_page or BuyerPageLimits()
        #: Review photos sealed per order, all review sessions together (issue 19 §3).
        self.max_review_photos = max_review_photos
        #: Resolves a station's provisional label to the session that replaced it (issue 18
        #: §1); None: provisional labels open nothing (``token_malformed``).
        self.provisional = provisional

    # Ownership ---------------------------------------------------------------
    def own_session(
        self,
        session_id: str,
        *,
        station_id: str | None,
        buyer_id: str | None,
        stage: Stage | None = None,
    ) -> CaptureSession:
        """The caller's own session, open or not (of ``stage``, when given).

        Raises:
            NotFoundError: ``session_not_found``, for an absent session and for another
                caller's alike, and for a session of another stage than ``stage``.
        """
        session = self.ledger.get_session(session_id)
        owned = (
            session is not None
            and (stage is None or session.stage == stage.value)
            and (
                (station_id is not None and session.device_id == station_id)
                or (buyer_id is not None and session.buyer_id == buyer_id)
            )
        )
        if session is not None and owned and station_id is not None:
            # A station's own session on another merchant's order (defence in depth: sessions
            # open only on the station's merchant's orders) is refused like another's session.
            order = self.ledger.get_order(session.order_id)
            owned = order is not None and order.merchant_id == self.station_merchant(station_id)
        if session is None or not owned:
            # Same answer for "absent" and "someone else's": no probing of session ids.
            raise NotFoundError("no such session for this caller", code="session_not_found")
        return session

    def open_session(
        self,
        session_id: str,
        *,
        station_id: str | None,
        buyer_id: str | None,
        now: datetime,
        stage: Stage | None = None,
    ) -> CaptureSession:
        """The caller's own session, still open at ``now`` (of ``stage``, when given).

        Raises:
            NotFoundError: ``session_not_found`` (see :meth:`own_session`).
            SessionClosedError: ``session_closed``, closed or expired.
        """
        session = self.own_session(
            session_id, station_id=station_id, buyer_id=buyer_id, stage=stage
        )
        if session.closed_at is not None or now >= session.expires_at:
            raise SessionClosedError("the capture session is closed or expired")
        return session

    # Shipment ----------------------------------------------------------------
    def open_shipment_session(
        self, station_id: str, order_id: str, *, now: datetime
    ) -> CaptureSession:
        """A station opens a packing session after scanning the order.

        Raises:
            NotFoundError: ``order_unknown`` (absent, or another merchant's).
            OrderAlreadyPackedError: a shipment session of the order closed (its label is out)
                and the platform has not reopened it; any station, the packer included.
            OrderCancelledError: ``order_cancelled``.

        Returns:
            The new session, owned by ``station_id``.
        """
        self.orders.refuse_if_cancelled(self._merchant_order(station_id, order_id))
        self._refuse_if_packed(order_id, own_session_id=None)
        row = CaptureSession(
            session_id=f"ss_{secrets.token_urlsafe(12)}",
            order_id=order_id,
            stage=Stage.SHIPMENT.value,
            device_id=station_id,
            buyer_id=None,
            opened_at=now,
            expires_at=now + self.shipment_session,
            closed_at=None,
        )
        self.ledger.add_session(row)
        return row

    def close_shipment_session(
        self, station_id: str, session_id: str, *, now: datetime
    ) -> IssuedLabel:
        """Close a packing session and return the label token for the parcel.

        Raises:
            NotFoundError: ``session_not_found`` (absent, or another station's).
            CaptureError: ``session_empty``, the session holds no evidence of its own yet.
            SessionClosedError: the platform reopened the order after this session closed.
            OrderAlreadyPackedError: another session of the order closed first (two stations
                opened sessions before either closed); the first label stands.
        """
        session = self.own_session(session_id, station_id=station_id, buyer_id=None)
        if session.released_at is not None:
            raise SessionClosedError(
                "expected an unreleased packing session, found one the platform reopened"
            )
        self._refuse_if_packed(session.order_id, own_session_id=session_id)
        # This session's own captures: a reopened order's earlier evidence does not make a
        # second label without new captures.
        sealed = self.ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value)
        if not any(row.session_id == session_id for row in sealed):
            raise CaptureError(
                "expected at least one sealed capture of this session before the label",
                code="session_empty",
            )
        self.ledger.close_session(session_id, now)
        return self._label(session.order_id, session_id, now=now)

    def station_merchant(self, station_id: str) -> str:
        """The merchant a station packs for (``default`` for one enrolled before tenants)."""
        device = self.ledger.get_device(station_id)
        return (device.merchant_id if device is not None else None) or DEFAULT_MERCHANT

    def _merchant_order(self, station_id: str, order_id: str) -> Order:
        """The order if it is the station's merchant's.

        Raises:
            NotFoundError: ``order_unknown``, for another merchant's order as for an absent one.
        """
        order = self.ledger.get_order(order_id)
        if order is None or order.merchant_id != self.station_merchant(station_id):
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        return order

    def _refuse_if_packed(self, order_id: str, *, own_session_id: str | None) -> None:
        packed = self.ledger.packed_shipment_session(order_id)
        if packed is not None and packed.session_id != own_session_id:
            raise OrderAlreadyPackedError(
                f"expected order {order_id} not yet packed, found a closed shipment session: "
                "the platform must reopen the order before it is packed again"
            )

    # Labels ------------------------------------------------------------------
    def label_token_for(
        self, order_id: str, *, now: datetime, station_id: str | None = None
    ) -> str:
        """A fresh label token for the order's latest closed shipment session.

        With ``station_id`` only the station that packed the parcel may (re)print its label;
        any other caller gets the same ``no_label`` as for an order never shipped. Once the
        order is reopened, the released session prints no fresh label either: the labels it
        printed stay valid, but the packing is to be redone (a station that lost the order to
        a reopen would otherwise keep labelling it until another station packs it again).

        Raises:
            NotFoundError: ``no_label``.
        """
        session = self.ledger.latest_shipment_session(order_id, closed=True)
        if (
            session is None
            or session.released_at is not None
            or (station_id is not None and session.device_id != station_id)
        ):
            raise NotFoundError("no closed shipment session for this order", code="no_label")
        if station_id is not None:
            order = self.ledger.get_order(order_id)
            if order is None or order.merchant_id != self.station_merchant(station_id):
                raise NotFoundError("no closed shipment session for this order", code="no_label")
        return self._label(order_id, session.session_id, now=now).token

    def _label(self, order_id: str, session_id: str, *, now: datetime) -> IssuedLabel:
        token = issue_label_token(
            self.label_signer, order_id=order_id, session_id=session_id, now=now, ttl=self.label_ttl
        )
        return IssuedLabel(order_id, token, f"{self.base_url}/v1/orders/{order_id}/label.png")

    def read_label(self, token: str, *, now: datetime) -> LabelToken:
        """Verify a parcel label against our sealing certificates that are not revoked.

        Labels printed before a key rotation still verify; labels signed by a revoked key do
        not (a compromised key could print labels for any order), whenever they were printed:
        the token carries no trusted time.

        Raises:
            TokenError: malformed, forged, expired, or ``token_revoked``; for a provisional
                label, the codes of :meth:`ProvisionalResolver.resolve`.
        """
        if token.startswith(f"{PROVISIONAL_PREFIX}.") and self.provisional is not None:
            return self.provisional.resolve(token, now=now)[0]
        return verify_label_token(
            token,
            (*self.label_signer.certificate_chain[:1], *self.retired_service_certificates),
            now=now,
            revoked_serials=self.revoked_service_serials(),
        )

    def official_label(self, payload: str, *, buyer_id: str, now: datetime) -> Order | None:
        """The buyer's order a scanned QR payload is the official label of, else None.

        The payload is our label URL or a bare token (``capture.label_url``); a URL of any
        other origin is not official, whatever token it carries.
        """
        token = label_token_from_payload(payload, base_url=self.base_url)
        if token is None:
            return None
        try:
            label = self.read_label(token, now=now)
        except TokenError:
            return None
        return self.orders.buyer_order(label.order_id, buyer_id=buyer_id)

    def is_own_label(self, payload: str, *, order_id: str, now: datetime) -> bool:
        """Whether a QR text seen in a receipt video is a valid label of ``order_id``.

        Another order's genuine label (the buyer filming a different parcel) is not.
        """
        token = label_token_from_payload(payload, base_url=self.base_url)
        if token is None:
            return False
        try:
            return self.read_label(token, now=now).order_id == order_id
        except TokenError:
            return False

    def check_label(self, payload: str, *, buyer_id: str, now: datetime) -> LabelCheck:
        """What a scanned QR payload is to this buyer (``capture.label_check``); opens nothing."""
        token = label_token_from_payload(payload, base_url=self.base_url)
        if token is None:
            return LabelCheck(LabelState.NOT_OFFICIAL)
        if token.startswith(f"{PROVISIONAL_PREFIX}."):
            return self._check_provisional(token, buyer_id=buyer_id, now=now)
        try:
            # The signature is verified before the expiry is read, so an expired answer is
            # our own label, never a forgery.
            label = verify_label_token(
                token,
                (*self.label_signer.certificate_chain[:1], *self.retired_service_certificates),
                now=now,
                revoked_serials=self.revoked_service_serials(),
                accept_expired=True,
            )
        except TokenError as exc:
            revoked = exc.code == "token_revoked"
            return LabelCheck(LabelState.REVOKED if revoked else LabelState.NOT_OFFICIAL)
        order = self.orders.buyer_order(label.order_id, buyer_id=buyer_id)
        if order is None:
            return LabelCheck(LabelState.OTHER_ACCOUNT)
        if now >= label.expires_at:
            return LabelCheck(LabelState.EXPIRED, order)
        return LabelCheck(LabelState.OFFICIAL, order)

    def _check_provisional(self, token: str, *, buyer_id: str, now: datetime) -> LabelCheck:
        """A provisional label's state: before its sync it is the seller's, not a scam's."""
        try:
            label = self.read_label(token, now=now)
        except TokenError as exc:
            state = _PROVISIONAL_STATES.get(exc.code, LabelState.NOT_OFFICIAL)
            return LabelCheck(state)
        order = self.orders.buyer_order(label.order_id, buyer_id=buyer_id)
        if order is None:
            return LabelCheck(LabelState.OTHER_ACCOUNT)
        return LabelCheck(LabelState.OFFICIAL, order)

    def label_certificate_chain(self) -> tuple[x509.Certificate, ...]:
        """The chain that signs label tokens, leaf first."""
        return tuple(self.label_signer.certificate_chain)

    # Receipt -----------------------------------------------------------------
    def open_receipt_session(
        self,
        buyer_id: str,
        token: str,
        *,
        now: datetime,
        entry: LabelEntry = LabelEntry.SCANNED,
    ) -> CaptureSession:
        """The buyer scanned the parcel label: open a short session for that order only.

        ``entry`` (how the page got the token, buyer-declared) is recorded in the session id
        and sealed into each receipt capture (``evidence/label_entry.py``).

        Raises:
            TokenError: the label is forged or expired, or ``token_malformed`` for a URL
                that is not our label URL.
            OrderSealError: ``not_your_order`` when the order belongs to someone else.
            OrderCancelledError: ``order_cancelled`` (told only to the order's buyer).
        """
        bare = label_token_from_payload(token, base_url=self.base_url)
        label = self.read_label(token if bare is None else bare, now=now)
        order = self.orders.order(label.order_id)
        if order.buyer_id != buyer_id:
            raise OrderSealError(
                "this parcel is not one of your orders", code="not_your_order", http_status=403
            )
        self.orders.refuse_if_cancelled(order)
        # Scanning again starts afresh: one open receipt session per buyer and order.
        self.ledger.close_open_receipt_sessions(order.order_id, buyer_id, now)
        row = CaptureSession(
            session_id=f"rs_{secrets.token_urlsafe(12)}",
            order_id=order.order_id,
            stage=Stage.RECEIPT.value,
            device_id=None,
            buyer_id=buyer_id,
            opened_at=now,
            expires_at=now + self.receipt_session,
            closed_at=None,
            label_entry=entry.value,
        )
        self.ledger.add_session(row)
        if bare is not None and bare.startswith(f"{PROVISIONAL_PREFIX}."):
            # Sealed into each receipt capture as ``label_provisional`` (issue 18 §1).
            claims = peek_provisional_token(bare)
            self.ledger.provisional.mark_receipt(
                row.session_id,
                device_id=claims.device_id,
                local_session_id=claims.local_session_id,
            )
        return row

    def finish_session(
        self,
        session_id: str,
        *,
        station_id: str | None,
        buyer_id: str | None,
        now: datetime,
        stage: Stage | None = None,
    ) -> None:
        """Close a receipt (or review) session when the buyer is done.

        Raises:
            NotFoundError: ``session_not_found`` (absent, another caller's, or of another
                stage than ``stage``).
        """
        self.own_session(session_id, station_id=station_id, buyer_id=buyer_id, stage=stage)
        self.ledger.close_session(session_id, now)

    def buyer_evidence(self, session_id: str, evidence_id: str, *, buyer_id: str) -> Evidence:
        """A buyer's own sealed capture from one of their receipt sessions.

        Raises:
            NotFoundError: ``session_not_found`` or ``evidence_not_found``.
        """
        self.own_session(session_id, station_id=None, buyer_id=buyer_id)
        row = self.ledger.get_evidence(evidence_id)
        if row is None or row.session_id != session_id:
            raise NotFoundError("no such evidence in this session", code="evidence_not_found")
        return row

    def receipt(self, session_id: str, *, buyer_id: str) -> Receipt:
        """The buyer's own receipt session with its sealed captures and the shipment chain.

        Raises:
            NotFoundError: ``session_not_found`` (absent, or another buyer's).
        """
        session = self.own_session(session_id, station_id=None, buyer_id=buyer_id)
        sealed = tuple(
            row
            for row in self.ledger.evidence_for_order(session.order_id, Stage.RECEIPT.value)
            if row.session_id == session_id
        )
        return Receipt(
            session=session,
            sealed=sealed,
            shipment_session=self.ledger.latest_shipment_session(session.order_id),
            shipment=tuple(self.ledger.evidence_for_order(session.order_id, Stage.SHIPMENT.value)),
        )

    # Review ------------------------------------------------------------------
    def open_review_session(self, buyer_id: str, order_id: str, *, now: datetime) -> CaptureSession:
        """The order's buyer opens a short session for review photos, after their receipt.

        Review photos chain to the buyer's own sealed receipt evidence of the order, so the
        receipt must be sealed and its session closed (finished or expired) first.

        Raises:
            NotFoundError: ``order_unknown``, for another buyer's order as for an absent one
                (order ids are not probed; no label proves the order here).
            ReceiptNotClosedError: ``receipt_not_closed``.
            ReviewLimitError: ``review_limit_reached``.
        """
        if self.orders.buyer_order(order_id, buyer_id=buyer_id) is None:
            raise NotFoundError(f"order {order_id} is not registered", code="order_unknown")
        if not self.review_chain(order_id, buyer_id=buyer_id, now=now):
            raise ReceiptNotClosedError(
                "expected a closed receipt session of yours with sealed captures of this "
                "order, found none: finish the unboxing first"
            )
        self.check_review_room(order_id)
        # One live review session per buyer and order: opening again closes the earlier one.
        self.ledger.close_open_receipt_sessions(order_id, buyer_id, now, stage=Stage.REVIEW.value)
        row = CaptureSession(
            session_id=f"vs_{secrets.token_urlsafe(12)}",
            order_id=order_id,
            stage=Stage.REVIEW.value,
            device_id=None,
            buyer_id=buyer_id,
            opened_at=now,
            expires_at=now + self.receipt_session,
            closed_at=None,
        )
        self.ledger.add_session(row)
        return row

    def review_chain(self, order_id: str, *, buyer_id: str, now: datetime) -> list[Evidence]:
        """The buyer's sealed receipt evidence of the order in closed sessions: what a review
        photo chains to. A receipt still open (or another buyer's) is not part of it."""
        chain = []
        for row in self.ledger.evidence_for_order(order_id, Stage.RECEIPT.value):
            session = self.ledger.get_session(row.session_id)
            if (
                session is not None
                and session.buyer_id == buyer_id
                and (session.closed_at is not None or now >= session.expires_at)
            ):
                chain.append(row)
        return chain

    def check_review_room(self, order_id: str) -> None:
        """Refuse a review photo past the order's bound.

        Raises:
            ReviewLimitError: ``review_limit_reached``.
        """
        sealed = len(self.ledger.evidence_for_order(order_id, Stage.REVIEW.value))
        if sealed >= self.max_review_photos:
            raise ReviewLimitError(
                f"expected fewer than {self.max_review_photos} review photos for this order, "
                f"found {sealed}"
            )

"""What a station's provisional label is to the service (issue 18 §1): whose signature it
carries, and which official session replaced it at sync.

The receipt path (``capture.sessions``) asks :class:`ProvisionalResolver`; the sync
(``capture.offline``) checks tokens with :func:`verified_provisional`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from capture.errors import TokenError
from capture.tokens import LabelToken
from infra.ledger.merchants import DEFAULT_MERCHANT
from infra.ledger.models import Device
from infra.ledger.provisional import ProvisionalLabelRow
from infra.ledger.repository import Ledger
from wire.provisional import (
    ProvisionalLabel,
    ProvisionalTokenError,
    peek_provisional_token,
    verify_provisional_token,
)

__all__ = ["ProvisionalResolver", "token_sha256", "verified_provisional"]


def token_sha256(token: str) -> str:
    """The hex SHA-256 a provisional token is recorded by."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def _station_key(device: Device | None) -> ec.EllipticCurvePublicKey:
    """The public key of an enrolled station (a buyer app's never signs labels).

    Raises:
        TokenError: ``token_forged``.
    """
    if device is None or device.kind != "station":
        raise TokenError("expected a label signed by an enrolled station", code="token_forged")
    key = x509.load_pem_x509_certificate(device.certificate_pem.encode()).public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise TokenError("expected a label signed by an enrolled station", code="token_forged")
    return key


def verified_provisional(token: str, ledger: Ledger) -> tuple[ProvisionalLabel, Device]:
    """Claims of a provisional token, signed by the enrolled station it names.

    Raises:
        TokenError: ``token_malformed`` or ``token_forged``.
    """
    try:
        claims = peek_provisional_token(token)
        device = ledger.get_device(claims.device_id)
        key = _station_key(device)
        verified = verify_provisional_token(token, key)
    except ProvisionalTokenError as exc:
        raise TokenError(exc.message, code=exc.code) from exc
    assert device is not None  # noqa: S101 - _station_key refused None
    return verified, device


class ProvisionalResolver:
    """What a provisional label is to the receipt path: the official session that replaced it.

    Policy (``ORDERSEAL_OFFLINE_PROVISIONAL_LABELS``): ``accept`` treats a replaced provisional
    label like the official one (the receipt is marked ``label_provisional``); ``refuse``
    answers ``label_provisional_refused``. Before its sync it opens nothing.
    """

    def __init__(
        self, *, ledger: Ledger, policy: Literal["accept", "refuse"], label_ttl: timedelta
    ) -> None:
        self.ledger = ledger
        self.policy = policy
        self.label_ttl = label_ttl

    def resolve(self, token: str, *, now: datetime) -> tuple[LabelToken, ProvisionalLabelRow]:
        """The official session a provisional label was replaced by.

        Raises:
            TokenError: ``token_malformed``; ``token_forged`` (not signed by the enrolled
                station it names, or not the token that station synced);
                ``label_not_assigned`` (a genuine station's label for an order that is not
                its merchant's); ``label_not_yet_synced``; ``label_order_mismatch`` (a token
                of a synced local session that names another order);
                ``label_provisional_refused`` (policy); ``token_expired``.
        """
        claims, device = verified_provisional(token, self.ledger)
        row = self.ledger.provisional.get(claims.device_id, claims.local_session_id)
        if row is None or row.official_token is None:
            order = self.ledger.get_order(claims.order_id)
            merchant = device.merchant_id or DEFAULT_MERCHANT
            if order is None or order.merchant_id != merchant:
                raise TokenError(
                    "expected a label of an order this station packs",
                    code="label_not_assigned",
                    http_status=403,
                )
            raise TokenError(
                "this parcel's label was printed offline and is not synced yet: try again "
                "later, or ask the seller",
                code="label_not_yet_synced",
                http_status=409,
            )
        if row.order_id != claims.order_id:
            raise TokenError(
                "expected the order this station's session packed",
                code="label_order_mismatch",
                http_status=403,
            )
        if row.token_sha256 != token_sha256(token):
            raise TokenError("expected the label the station synced", code="token_forged")
        if self.policy == "refuse":
            raise TokenError(
                "labels printed offline are not accepted: ask the seller for the official label",
                code="label_provisional_refused",
                http_status=403,
            )
        replaced = row.replaced_at or row.service_clock
        expires_at = replaced + self.label_ttl
        if now >= expires_at:
            raise TokenError("the token has expired", code="token_expired")
        return LabelToken(row.order_id, row.session_id, expires_at), row

"""Errors raised by the capture side."""

from __future__ import annotations

from infra.errors import ConflictError, InputError, OrderSealError

__all__ = [
    "BuyerNotOnOrderError",
    "CaptureError",
    "CaptureSealedElsewhereError",
    "IdempotencyKeyReusedError",
    "IntakeFlaggedError",
    "OrderAlreadyPackedError",
    "OrderCancelledError",
    "OrderExistsError",
    "OrderNotPackedError",
    "ReceiptNotClosedError",
    "ReviewLimitError",
    "SealError",
    "SerialMismatchError",
    "SessionClosedError",
    "TokenError",
    "UploadQuotaExceededError",
]


class CaptureError(InputError):
    """An upload or session request cannot be accepted as it is."""

    code = "capture_refused"


class SealError(OrderSealError):
    """c2pa refused to seal the media (unsupported or corrupt input)."""

    code = "seal_failed"
    http_status = 422


class SessionClosedError(ConflictError):
    """The capture session is closed or expired."""

    code = "session_closed"


class TokenError(OrderSealError):
    """A label or buyer token is malformed, forged or expired."""

    code = "token_invalid"
    http_status = 401


class SerialMismatchError(ConflictError):
    """The station scanned a unit serial the order does not list: the wrong item."""

    code = "serial_mismatch"


class IdempotencyKeyReusedError(ConflictError):
    """An ``Idempotency-Key`` this device already used, sent with another session or content.

    A true retry repeats the session and the bytes; anything else is a new capture that must
    not be answered with the earlier evidence (it would be dropped while reported "replayed").
    """

    code = "idempotency_key_reused"


class CaptureSealedElsewhereError(ConflictError):
    """The same bytes are already sealed as packing evidence of another order of the merchant.

    One photo evidences one parcel: the old photo of the previous parcel, or one photo for
    several orders, is refused rather than sealed again under a new order.
    """

    code = "capture_sealed_elsewhere"


class OrderAlreadyPackedError(ConflictError):
    """The order was packed (a shipment session closed); only the platform can reopen it."""

    code = "order_already_packed"


class OrderNotPackedError(ConflictError):
    """A reopen was asked for an order that has no closed shipment session to release."""

    code = "order_not_packed"


class ReceiptNotClosedError(ConflictError):
    """A review session was asked before the buyer's own receipt of the order was sealed and
    closed: review photos chain to that receipt, so there is nothing to chain to yet."""

    code = "receipt_not_closed"


class ReviewLimitError(ConflictError):
    """The order already holds the most review photos a buyer may seal for it."""

    code = "review_limit_reached"


class OrderCancelledError(ConflictError):
    """The platform cancelled the order: no new session, update or buyer token for it."""

    code = "order_cancelled"


class OrderExistsError(ConflictError):
    """An order with this id is registered with other content (an identical retry is not)."""

    code = "order_exists"


class BuyerNotOnOrderError(OrderSealError):
    """A buyer token was asked for a buyer the named order does not name."""

    code = "buyer_not_on_order"
    http_status = 403


class IntakeFlaggedError(InputError):
    """A receipt upload's own metadata contradicts a live capture; it was kept, not sealed."""

    code = "intake_flagged"

    def __init__(self, message: str, *, flagged_id: str, reasons: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.details = {"flagged_id": flagged_id, "reasons": reasons}


class UploadQuotaExceededError(OrderSealError):
    """The order's, or the buyer's daily, capture bytes would pass their quota."""

    code = "upload_quota_exceeded"
    http_status = 413

    def __init__(self, message: str, *, scope: str, quota_bytes: int) -> None:
        super().__init__(message)
        self.details = {"scope": scope, "quota_bytes": quota_bytes}

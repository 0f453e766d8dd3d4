"""Request and response models of the capture API (input and output kept separate)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from evidence.label_entry import LabelEntry
from evidence.manifest import Stage
from infra.free_text import plain_text

__all__ = [
    "BuyerDeviceChallengeOut",
    "BuyerDeviceIn",
    "BuyerDeviceOut",
    "BuyerTokenIn",
    "BuyerTokenOut",
    "DeviceEnrolIn",
    "DeviceEnrolOut",
    "DeviceRenewalIn",
    "EvidenceOut",
    "LabelOut",
    "OrderEvidenceListOut",
    "OrderEvidenceOut",
    "OrderIn",
    "OrderItemIn",
    "OrderItemOut",
    "OrderOut",
    "OrderPatchIn",
    "OrderReopenIn",
    "OrderReopenOut",
    "OrderReopensOut",
    "QRCheckIn",
    "QRCheckOut",
    "QRItemOut",
    "ReceiptOut",
    "ReceiptSessionIn",
    "SealedItemOut",
    "SessionOut",
    "ShipmentSessionIn",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderItemIn(_In):
    sku: str = Field(pattern=_ID)
    quantity: int = Field(ge=1, le=10_000)
    serials: list[str] = Field(default_factory=list, max_length=10_000)


class OrderIn(_In):
    order_id: str = Field(pattern=_ID)
    buyer_id: str = Field(pattern=_ID)
    items: list[OrderItemIn] = Field(min_length=1, max_length=1000)
    declared_value: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)
    expected_delivery: date | None = None
    #: The seller whose stations pack the order (``orderseal merchants add``); left out, the
    #: ``default`` merchant. An unknown merchant is ``422 merchant_not_found``.
    merchant_id: str | None = Field(default=None, pattern=_ID)


class OrderPatchIn(_In):
    """What may change on an open order; a field left out keeps its value."""

    expected_delivery: date | None = None
    carrier: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=64)


class OrderItemOut(BaseModel):
    sku: str
    quantity: int
    serials: list[str]


class OrderOut(BaseModel):
    order_id: str
    buyer_id: str
    items: list[OrderItemOut]
    declared_value: str
    currency: str
    carrier: str | None
    tracking_number: str | None
    expected_delivery: date | None
    status: str = Field(json_schema_extra={"enum": ["open", "cancelled"]})
    merchant_id: str
    created_at: datetime
    updated_at: datetime | None
    cancelled_at: datetime | None


class OrderEvidenceOut(BaseModel):
    """One sealed capture of the order, as the platform may offer it to attach to a dispute."""

    evidence_id: str
    stage: Stage
    media_type: str
    title: str
    sealed_at: datetime
    sealed_sha256: str
    size: int


class OrderEvidenceListOut(BaseModel):
    order_id: str
    evidence: list[OrderEvidenceOut]


class OrderReopenIn(_In):
    """Why a packed order is reopened: kept in the order's reopen log."""

    reason: Annotated[str, Field(min_length=1, max_length=500), AfterValidator(plain_text)]


class OrderReopenOut(BaseModel):
    order_id: str
    reopened_by: str
    #: ``platform`` or ``merchant``: whose credential reopened it.
    reopened_by_role: str
    reopened_at: datetime
    reason: str | None
    released_session_ids: list[str]


class OrderReopensOut(BaseModel):
    """Every reopening of an order, oldest first."""

    order_id: str
    reopens: list[OrderReopenOut]


class BuyerTokenIn(_In):
    """A token is issued only for the buyer the named (open) order names."""

    buyer_id: str = Field(pattern=_ID)
    order_id: str = Field(pattern=_ID)


class BuyerTokenOut(BaseModel):
    token: str
    expires_in_seconds: int


class DeviceEnrolIn(_In):
    device_id: str = Field(pattern=_ID)
    kind: str = Field(pattern=r"^(station|buyer)$")
    owner_id: str | None = Field(default=None, pattern=_ID)
    csr_pem: str = Field(max_length=16_384)
    #: A station packs for this merchant (left out: ``default``); buyer apps name none.
    merchant_id: str | None = Field(default=None, pattern=_ID)


class DeviceEnrolOut(BaseModel):
    device_id: str
    certificate_pem: str
    chain_pem: str
    not_after: datetime


class ShipmentSessionIn(_In):
    order_id: str = Field(pattern=_ID)


class ReceiptSessionIn(_In):
    token: str = Field(max_length=2048)
    #: How the page got the token (buyer-declared, so it only ever downgrades: ``typed``
    #: sends the claim to review per policy). Absent means ``scanned``, as before.
    entry: LabelEntry = LabelEntry.SCANNED


class SessionOut(BaseModel):
    session_id: str
    order_id: str
    stage: Stage
    expires_at: datetime
    #: Receipt sessions only: how the label token was entered, as the session records it.
    label_entry: LabelEntry | None = None


class EvidenceOut(BaseModel):
    evidence_id: str
    order_id: str
    stage: Stage
    manifest_id: str
    sealed_sha256: str
    original_sha256: str
    media_type: str
    sealed_at: datetime
    replayed: bool


class LabelOut(BaseModel):
    order_id: str
    token: str
    label_png_url: str


class QRCheckIn(_In):
    payload: str = Field(max_length=4096)


class QRItemOut(BaseModel):
    """One line of the buyer's order, to compare with what arrived."""

    sku: str
    quantity: int


class QRCheckOut(BaseModel):
    """What a scanned QR is to this buyer (``capture.label_check``); only ``official`` opens.

    ``order_id`` and ``items`` are given for the buyer's own label only (official or expired).
    ``help_url`` is the platform's help page for the scam warning (empty when not set).
    """

    official: bool
    state: Literal[
        "official",
        "expired",
        "other_account",
        "revoked",
        "not_official",
        "not_yet_synced",
        "provisional_refused",
    ]
    order_id: str | None
    message: str
    items: list[QRItemOut] = Field(default_factory=list, max_length=1000)
    help_url: str | None = None
    max_video_seconds: int
    max_video_bytes: int


class DeviceRenewalIn(BaseModel):
    """A renewal request, signed by the device's enrolled key."""

    model_config = ConfigDict(extra="forbid")

    csr_pem: str = Field(max_length=16_384)
    timestamp: str = Field(pattern=r"^[0-9]{1,12}$")
    signature: str = Field(max_length=512, description="base64url ECDSA over the renewal payload")


class BuyerDeviceIn(_In):
    """A browser install's public key and its proof of possession."""

    public_key_spki: str = Field(
        max_length=512, description="standard base64 DER SubjectPublicKeyInfo (P-256)"
    )
    proof: str = Field(
        max_length=256,
        description="base64url ECDSA P-256 SHA-256 signature (raw r||s or DER) by that key "
        "over the enrolment message",
    )
    nonce: str = Field(
        max_length=128, description="the nonce from POST /v1/buyer-devices/challenge, unused"
    )


class BuyerDeviceChallengeOut(BaseModel):
    """A single-use nonce for one enrolment, and when it stops being accepted."""

    nonce: str
    expires_at: datetime


class BuyerDeviceOut(BaseModel):
    """The enrolled install: its id and the certificate the device CA issued."""

    device_id: str
    owner_id: str
    certificate_pem: str
    chain_pem: str
    not_after: datetime


class SealedItemOut(BaseModel):
    """One sealed capture, as the buyer may see it."""

    evidence_id: str
    title: str
    media_type: str
    captured_at: datetime
    sealed_at: datetime
    sealed_sha256: str
    original_sha256: str
    manifest_id: str


class ReceiptOut(BaseModel):
    """A receipt session's sealed captures and the shipment evidence they chain back to."""

    order_id: str
    session_id: str
    opened_at: datetime
    closed_at: datetime | None
    sealed: list[SealedItemOut]
    shipment_session_id: str | None
    shipped_at: datetime | None
    shipment: list[SealedItemOut]
    #: How the label token was entered when the session opened (``scanned``, ``link``,
    #: ``typed``); the page says "typed", never "scanned", for a typed one.
    label_entry: LabelEntry | None = None

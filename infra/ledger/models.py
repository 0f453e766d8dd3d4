"""Typed SQLAlchemy tables of the ledger: orders, devices, sessions, evidence, disputes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import DateTime

__all__ = [
    "APIKey",
    "AuditEntry",
    "Base",
    "CaptureSession",
    "Device",
    "Dispute",
    "DisputeEvidence",
    "Evidence",
    "FlaggedUpload",
    "IdempotencyKey",
    "Merchant",
    "MerchantResponse",
    "Order",
    "OrderReopen",
    "UsedNonce",
    "Verdict",
]


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite drops tzinfo, so it is restored on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("expected an aware datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with JSON and UTC datetime mappings."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime,
    }


class Order(Base):
    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    items: Mapped[list[Any]]
    declared_value: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    expected_delivery: Mapped[date | None]
    created_at: Mapped[datetime]
    #: ``open`` or ``cancelled``: a cancelled order refuses new capture sessions.
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The seller whose stations pack it (issue 17): ``default`` when the platform names none.
    merchant_id: Mapped[str] = mapped_column(
        String(64), index=True, default="default", server_default="default"
    )


class Device(Base):
    __tablename__ = "devices"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    owner_id: Mapped[str | None] = mapped_column(String(64))  # buyer id for buyer apps
    certificate_pem: Mapped[str] = mapped_column(Text)
    serial_hex: Mapped[str] = mapped_column(String(64), unique=True)
    not_after: Mapped[datetime]
    enrolled_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(String(128))
    #: The merchant a station packs for (None for buyer apps): it acts on that merchant's orders.
    merchant_id: Mapped[str | None] = mapped_column(String(64), default=None)


class CaptureSession(Base):
    __tablename__ = "capture_sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str | None] = mapped_column(String(64))
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    # Set on a closed shipment session when the platform reopens its order for packing: the
    # order counts as packed while a closed session is not released (who and when kept).
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    released_by: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Receipt sessions: how the buyer's page got the label token (``scanned``, ``link``,
    #: ``typed``; ``evidence.label_entry``); None on other stages.
    label_entry: Mapped[str | None] = mapped_column(String(8), default=None)


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("device_id", "idempotency_key", name="uq_evidence_idempotency"),
    )

    evidence_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("capture_sessions.session_id"))
    stage: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    original_sha256: Mapped[str] = mapped_column(String(64), index=True)
    sealed_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_size: Mapped[int] = mapped_column(BigInteger)  # videos pass 2 GiB
    storage_key: Mapped[str] = mapped_column(String(255))
    manifest_id: Mapped[str] = mapped_column(String(128), unique=True)
    archive_key: Mapped[str | None] = mapped_column(String(255))
    archive_sha256: Mapped[str | None] = mapped_column(String(64))
    captured_at: Mapped[datetime]
    received_at: Mapped[datetime]
    sealed_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(128))


class FlaggedUpload(Base):
    """A receipt upload intake screening refused to seal, kept with its findings."""

    __tablename__ = "flagged_uploads"
    __table_args__ = (
        UniqueConstraint("session_id", "content_sha256", name="uq_flagged_session_content"),
    )

    flagged_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.order_id"), index=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("capture_sessions.session_id"))
    device_id: Mapped[str] = mapped_column(String(64))
    buyer_id: Mapped[str | None] = mapped_column(String(64))
    media_type: Mapped[str | None] = mapped_column(String(64))
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    # Rows before issue 14.4 point at the whole file in the evidence store; newer rows keep
    # only ``head`` (the first ORDERSEAL_FLAGGED_KEEP_BYTES) and expire after the retention.
    storage_key: Mapped[str | None] = mapped_column(String(255))
    reasons: Mapped[list[Any]]
    received_at: Mapped[datetime] = mapped_column(index=True)
    head: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class Dispute(Base):
    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_updated", "updated_at", "dispute_id"),)

    dispute_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    buyer_id: Mapped[str] = mapped_column(String(64), index=True)
    claim_type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_at: Mapped[datetime | None]
    #: Filing, attaching, detaching and deciding move it (the platform's ``updated_since``).
    updated_at: Mapped[datetime]
    #: The latest verdict's reason codes as ``,a,b,`` (None until decided): filtered in SQL.
    reason_codes: Mapped[str | None] = mapped_column(Text, default=None)
    #: Whose side the latest verdict points to (``merchant``, ``buyer``) or None: counted by
    #: the merchant and buyer policy rules.
    attribution: Mapped[str | None] = mapped_column(String(16), default=None)


class DisputeEvidence(Base):
    __tablename__ = "dispute_evidence"
    __table_args__ = (
        UniqueConstraint("dispute_id", "content_sha256", name="uq_dispute_content"),
        Index("ix_dispute_evidence_manifest", "manifest_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(255))
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    manifest_id: Mapped[str | None] = mapped_column(String(128))
    perceptual_hashes: Mapped[list[Any] | None]
    attached_at: Mapped[datetime]


class Verdict(Base):
    __tablename__ = "verdicts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.dispute_id"), index=True)
    decision: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]]
    decided_at: Mapped[datetime]
    #: Why a re-decision was made (None on the first verdict): ``evidence_added``,
    #: ``evidence_changed`` or ``re_evaluated`` (the same files, checked again).
    change_reason: Mapped[str | None] = mapped_column(String(32), default=None)


class AuditEntry(Base):
    """One link of the hash-chained, signed log of verdicts."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id"), unique=True)
    dispute_id: Mapped[str] = mapped_column(String(64), index=True)
    # Unique: two writers that read the same tip cannot both extend it (one retries).
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    signature: Mapped[str] = mapped_column(String(256))
    signer_certificate_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class APIKey(Base):
    """An operator API key: found by the SHA-256 of its secret, named by its public ``key_id``.

    The secret itself is never stored. A key is refused from ``revoked_at`` or ``expires_at``
    on (a rotated key expires at the end of its overlap, and names its ``replaced_by``).
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_id", name="uq_api_keys_key_id"),)

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    replaced_by: Mapped[str | None] = mapped_column(String(32))
    last_used_at: Mapped[datetime | None]
    #: The merchant a ``merchant`` key acts for (None for every other role).
    merchant_id: Mapped[str | None] = mapped_column(String(64), default=None)


class IdempotencyKey(Base):
    """The first answer to a request sent with an ``Idempotency-Key`` (infra.idempotency).

    Keyed by the caller (``scope``), the route and the key; ``status_code`` is None while the
    first request is still running. Rows are pruned after ``expires_at``.
    """

    __tablename__ = "idempotency_keys"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    route: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(default=None)
    response: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class UsedNonce(Base):
    __tablename__ = "used_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(index=True)


class Merchant(Base):
    """A seller tenant: it owns stations and orders, and sees only its own disputes."""

    __tablename__ = "merchants"

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]


class OrderReopen(Base):
    """One reopening of a packed order: who (role and subject), when and why."""

    __tablename__ = "order_reopens"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    by_role: Mapped[str] = mapped_column(String(16))
    by_subject: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    released_session_ids: Mapped[list[Any]]
    reopened_at: Mapped[datetime]


class MerchantResponse(Base):
    """A merchant's answer to a dispute on its order: a statement and its sealed evidence."""

    __tablename__ = "merchant_responses"

    response_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    dispute_id: Mapped[str] = mapped_column(String(64), index=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    statement: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list[Any]]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]

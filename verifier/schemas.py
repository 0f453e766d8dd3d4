"""Request and response models of the refund-gate API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AttachOut",
    "AttachSealedIn",
    "AttachSealedOut",
    "DisputeIn",
    "DisputeListOut",
    "DisputeOut",
    "DisputeSummary",
    "SealedAttachResult",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(pattern=_ID)
    buyer_id: str = Field(pattern=_ID)
    claim_type: str = Field(max_length=32)
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class AttachSealedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_ids: list[str] = Field(min_length=1, max_length=50)


class AttachOut(BaseModel):
    dispute_id: str
    attached: bool
    content_sha256: str | None = None


class SealedAttachResult(BaseModel):
    """What happened to one evidence id of a batch: every id in the request gets one."""

    evidence_id: str
    status: Literal["attached", "already_attached", "not_found", "failed"]
    #: The error code for ``not_found`` (``evidence_not_found``) and ``failed`` ids.
    code: str | None = None


class AttachSealedOut(BaseModel):
    dispute_id: str
    #: Every id was newly attached by this call (the single-id meaning of before).
    attached: bool
    #: Every id is on the dispute now (attached by this call or an earlier one).
    complete: bool
    #: One result per requested id, in request order.
    results: list[SealedAttachResult]


class DisputeOut(BaseModel):
    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    created_at: datetime
    decision: str | None
    decided_at: datetime | None
    verdict: dict[str, Any] | None
    history: list[dict[str, Any]]
    report_url: str


class DisputeSummary(BaseModel):
    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    created_at: datetime
    decision: str | None
    decided_at: datetime | None
    reasons: list[dict[str, Any]]


class DisputeListOut(BaseModel):
    disputes: list[DisputeSummary]

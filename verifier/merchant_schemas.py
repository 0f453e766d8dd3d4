"""The merchant's views of the disputes on its orders (``/v1/merchant/...``): request and response
models.

What a merchant is shown is chosen here, field by field: the buyer only as the platform's
``ORDERSEAL_MERCHANT_BUYER_IDENTITY`` allows, reason codes with fixed messages (a verdict's own
messages can name other orders or evidence), and no agent-only detail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from infra.free_text import plain_text
from verifier.models import Decision
from verifier.reasons import ReasonCode
from verifier.schemas import ClaimType, ListingTime, ReasonOut

__all__ = [
    "MAX_RESPONSE_EVIDENCE",
    "MAX_STATEMENT_CHARS",
    "MERCHANT_MESSAGES",
    "MerchantBuyerFileOut",
    "MerchantDisputeFilters",
    "MerchantDisputeListOut",
    "MerchantDisputeOut",
    "MerchantDisputeSummary",
    "MerchantEvidenceOut",
    "MerchantResponseIn",
    "MerchantResponseOut",
    "merchant_reason",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: A response's statement and how many sealed files it may point to.
MAX_STATEMENT_CHARS = 4000
MAX_RESPONSE_EVIDENCE = 20

#: What a merchant is told per reason: fixed text, so no other order, evidence or account leaks.
MERCHANT_MESSAGES: dict[ReasonCode, str] = {
    ReasonCode.NO_MANIFEST: "The buyer's file carries no Content Credentials.",
    ReasonCode.SIGNATURE_INVALID: "The file's Content Credentials signature does not verify.",
    ReasonCode.CONTENT_TAMPERED: "The file changed after it was signed.",
    ReasonCode.UNTRUSTED_SIGNER: "The file was not sealed by OrderSeal.",
    ReasonCode.SIGNER_REVOKED: "The capturing device or key was revoked before the seal.",
    ReasonCode.AI_GENERATED_DECLARED: "The file's Content Credentials declare generative AI.",
    ReasonCode.ORDER_MISMATCH: "The file was sealed for another order.",
    ReasonCode.ORDER_UNKNOWN: "The order is not registered.",
    ReasonCode.BUYER_MISMATCH: "The claimant is not the order's buyer.",
    ReasonCode.WRONG_STAGE: "The file shows the parcel as shipped, not as received.",
    ReasonCode.CHAIN_BROKEN: "The file's seal does not match the OrderSeal record.",
    ReasonCode.EVIDENCE_REUSED: "The same picture was used in a claim on another order.",
    ReasonCode.CAPTURE_OUTSIDE_WINDOW: "The receipt was captured outside the delivery window.",
    ReasonCode.EDITED_AFTER_CAPTURE: "The file was edited after capture.",
    ReasonCode.POLICY_REVIEW: "A platform rule sends the claim to a person.",
    ReasonCode.UNSUPPORTED_MEDIA: "The file type cannot carry evidence.",
    ReasonCode.CORRUPT_MEDIA: "The file is malformed or truncated.",
    ReasonCode.CHECK_CRASHED: "A check could not run; a person decides.",
    ReasonCode.NO_EVIDENCE: "No file is attached to the claim yet.",
    ReasonCode.SERIAL_MISMATCH: "The unit received is not the unit sealed at shipment.",
    ReasonCode.NOT_AS_SEALED: "The file was changed after OrderSeal sealed it.",
    ReasonCode.MERCHANT_WRONG_ITEM_RATE: (
        "Your recent disputes show a high share of wrong items shipped; a person decides."
    ),
    ReasonCode.MANIFEST_RECOVERED: (
        "The buyer's file is a copy of their sealed capture; it was judged on the original."
    ),
    ReasonCode.LABEL_NOT_IN_CAPTURE: "The parcel's label was never in view in the video.",
    ReasonCode.CAPTURE_DISCONTINUOUS: "The video's timeline jumps; a person decides.",
    ReasonCode.LABEL_TYPED: "The buyer typed the label code instead of scanning it.",
    ReasonCode.RECAPTURE_SUSPECTED: "The photo looks like a picture of a screen.",
}
_OTHER = "See the reason code."


def merchant_reason(code: ReasonCode) -> ReasonOut:
    """A reason as merchants see it: the code and its fixed message."""
    return ReasonOut(code=code, message=MERCHANT_MESSAGES.get(code, _OTHER))


class MerchantDisputeFilters(BaseModel):
    """``GET /v1/merchant/disputes`` query: every filter in SQL, before ``limit``.

    An unknown parameter is refused ``422 invalid_request``; a cursor of other filters (or of
    another merchant) ``422 cursor_invalid``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Decision | None = None
    reason: ReasonCode | None = None
    order_id: str | None = Field(default=None, pattern=_ID)
    updated_since: ListingTime | None = None
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=50, ge=1, le=200)

    def listing(self, merchant_id: str) -> dict[str, object]:
        """What a cursor is bound to: the filters and the merchant (not the cursor or size)."""
        return {
            **self.model_dump(mode="json", exclude={"cursor", "limit"}),
            "merchant": merchant_id,
        }


class MerchantDisputeSummary(BaseModel):
    """One dispute on the merchant's orders: its decision, reason codes and whose side."""

    dispute_id: str
    order_id: str
    #: The buyer as the platform's setting allows: a pseudonym (``byr_...``), the id, or null.
    buyer: str | None
    claim_type: ClaimType
    amount: str
    currency: str
    status: Literal["open", "decided"]
    decision: Decision | None
    reason_codes: list[ReasonCode]
    #: ``merchant`` (a wrong item shipped), ``buyer`` (a swapped unit) or null.
    attribution: Literal["merchant", "buyer"] | None
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None


class MerchantDisputeListOut(BaseModel):
    """One page, oldest change first; ``next_cursor`` is None on the last page."""

    disputes: list[MerchantDisputeSummary]
    next_cursor: str | None


class MerchantEvidenceOut(BaseModel):
    """One sealed file of the order (packing photos and video), with where its bytes are."""

    evidence_id: str
    stage: str
    media_type: str
    title: str
    sealed_at: datetime
    sealed_sha256: str
    size: int
    file_url: str
    thumbnail_url: str


class MerchantBuyerFileOut(BaseModel):
    """A file the buyer submitted, with the verdict on it and where its bytes are."""

    content_sha256: str
    media_type: str | None
    size: int
    attached_at: datetime
    decision: Decision | None
    reason_codes: list[ReasonCode]
    file_url: str


class MerchantResponseIn(BaseModel):
    """A merchant's answer: a statement and the sealed evidence of this order it points to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statement: Annotated[
        str, Field(min_length=1, max_length=MAX_STATEMENT_CHARS), AfterValidator(plain_text)
    ]
    evidence_ids: list[str] = Field(default_factory=list, max_length=MAX_RESPONSE_EVIDENCE)


class MerchantResponseOut(BaseModel):
    """A stored merchant response (agents see it in the dispute's workspace)."""

    response_id: str
    dispute_id: str
    merchant_id: str
    statement: str
    evidence_ids: list[str]
    created_by: str
    created_at: datetime


class MerchantDisputeOut(MerchantDisputeSummary):
    """One dispute as its merchant sees it: the verdict's reasons, the order's sealed shipment
    evidence beside what the buyer submitted, and the merchant's own responses."""

    reasons: list[ReasonOut]
    shipment_evidence: list[MerchantEvidenceOut]
    buyer_files: list[MerchantBuyerFileOut]
    responses: list[MerchantResponseOut]

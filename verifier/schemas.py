"""Request and response models of the refund-gate API."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from verifier.models import Decision
from verifier.reasons import ReasonCode

__all__ = [
    "AttachOut",
    "AttachSealedIn",
    "AttachSealedOut",
    "CheckOut",
    "DisputeIn",
    "DisputeListOut",
    "DisputeOut",
    "DisputeSummary",
    "EvidenceVerdictOut",
    "ReasonOut",
    "RuleTraceOut",
    "SealedAttachResult",
    "VerdictOut",
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


#: Verdict times keep the ledger's text (``datetime.isoformat()``, ``+00:00``) byte for byte.
_VerdictTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ReasonOut(BaseModel):
    """A stable reason code (docs/reason-codes.md) with a message a person understands."""

    code: ReasonCode
    message: str


class CheckOut(BaseModel):
    """One check that ran on a file: ``code`` names what was checked (the failure if not passed)."""

    check: str
    code: ReasonCode
    passed: bool
    detail: str
    #: Names other disputes or accounts: in agent views only, and only when there is one (the
    #: ledger's verdict leaves the key out otherwise, and so does the API).
    agent_detail: str = Field(default="", exclude_if=lambda value: not value)


class EvidenceVerdictOut(BaseModel):
    """The decision for one attached file, with every check that ran on it."""

    filename: str
    media_type: str | None
    content_sha256: str
    decision: Decision
    reasons: list[ReasonOut]
    checks: list[CheckOut]
    manifest_id: str | None
    stage: str | None
    evidence_id: str | None


class RuleTraceOut(BaseModel):
    """One dispute-level policy rule: whether it fired and why."""

    rule: str
    fired: bool
    detail: str


class VerdictOut(BaseModel):
    """The refund gate's decision over all evidence of a claim (``Verdict.to_json``).

    In dry-run mode ``decision`` is ``review`` and ``policy_decision`` keeps what the policy
    would have decided; otherwise the two are equal.
    """

    decision: Decision
    reasons: list[ReasonOut]
    evidence: list[EvidenceVerdictOut]
    decided_at: _VerdictTime
    policy_trace: list[RuleTraceOut]
    policy_decision: Decision
    dry_run: bool


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
    verdict: VerdictOut | None
    history: list[VerdictOut]
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
    reasons: list[ReasonOut]


class DisputeListOut(BaseModel):
    disputes: list[DisputeSummary]

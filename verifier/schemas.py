"""The verdict model family and the refund-gate API's request and response models.

``VerdictOut`` and the models under it are the one representation of a verdict: the engine
builds them (converting each check's ``CheckResult`` once), the ledger stores their JSON, the
API answers them, the agent report renders them and ``orderseal verify --json`` prints them.
The class names are the OpenAPI schema names the clients mirror, so they keep the ``Out``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    model_validator,
)

from evidence.manifest import Stage
from infra.ledger.models import Dispute
from verifier.models import CheckResult, Decision
from verifier.reasons import ReasonCode

__all__ = [
    "CLAIM_TYPES",
    "AgentDecisionRef",
    "AttachOut",
    "AttachPendingOut",
    "AttachSealedIn",
    "AttachSealedOut",
    "ChangeReason",
    "CheckOut",
    "ClaimType",
    "DetachOut",
    "DisputeIn",
    "DisputeListOut",
    "DisputeOut",
    "DisputeSummary",
    "EvidenceVerdictOut",
    "FileInputErrorOut",
    "FileVerdictOut",
    "HistoryEntryOut",
    "InputErrorOut",
    "ListingTime",
    "PlatformDisputeFilters",
    "PlatformDisputeListOut",
    "PlatformDisputeSummary",
    "ReasonOut",
    "RuleTraceOut",
    "SealedAttachResult",
    "VerdictOut",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class ClaimType(StrEnum):
    """What a buyer may claim: a closed set, checked when a dispute is filed."""

    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEM = "missing_item"
    NOT_AS_DESCRIBED = "not_as_described"
    SPOILED = "spoiled"


CLAIM_TYPES: frozenset[str] = frozenset(claim.value for claim in ClaimType)
_CLAIM_TYPE_VALUES: list[JsonValue] = [*sorted(CLAIM_TYPES)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# Verdicts --------------------------------------------------------------------

#: Verdict times keep the ledger's text (``datetime.isoformat()``, ``+00:00``) byte for byte.
_VerdictTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class ReasonOut(_Frozen):
    """A stable reason code (docs/reason-codes.md) with a message a person understands."""

    code: ReasonCode
    message: str


def _absent_not_null(schema: dict[str, JsonValue]) -> None:
    """Document an optional key as its type: it is left out, never sent as null."""
    options = schema.pop("anyOf")
    schema.pop("default", None)
    if isinstance(options, list):
        schema.update(next(o for o in options if isinstance(o, dict) and o.get("type") != "null"))


class CheckOut(_Frozen):
    """One check that ran on a file: ``check`` names it, ``code`` says why it failed.

    A passed check has no ``code`` (the key is left out), so a reader who looks at ``code``
    alone never mistakes a pass for its failure. Verdicts stored before this rule carry the
    code a passed check would have failed with; they load and are shown without it.
    """

    check: str
    #: The failure's reason code (docs/reason-codes.md): present exactly when ``passed`` is false.
    code: ReasonCode | None = Field(
        default=None, exclude_if=lambda value: value is None, json_schema_extra=_absent_not_null
    )
    passed: bool
    detail: str
    #: Names other disputes or accounts: in agent views only, and only when there is one (the
    #: ledger's verdict leaves the key out otherwise, and so does the API).
    agent_detail: str = Field(default="", exclude_if=lambda value: not value)
    #: Whose side a failure points to: ``merchant`` (wrong item shipped) or ``buyer`` (swapped
    #: after a correct sealed shipment); left out when neither (docs/reason-codes.md).
    attribution: Literal["merchant", "buyer"] | None = Field(
        default=None, exclude_if=lambda value: value is None, json_schema_extra=_absent_not_null
    )

    @model_validator(mode="before")
    @classmethod
    def _code_only_when_failed(cls, data: Any) -> Any:
        # Stored verdicts written before the rule keep ``code`` on passed checks: drop it.
        if isinstance(data, Mapping) and data.get("passed") is True and "code" in data:
            return {key: value for key, value in data.items() if key != "code"}
        return data

    @model_validator(mode="after")
    def _failed_has_code(self) -> CheckOut:
        if not self.passed and self.code is None:
            raise ValueError("expected a reason code on a failed check")
        return self

    @classmethod
    def from_result(cls, result: CheckResult) -> CheckOut:
        """The check's own result, as every view shows it (no code when it passed)."""
        return cls(
            check=result.check,
            code=None if result.passed else result.code,
            passed=result.passed,
            detail=result.detail,
            agent_detail=result.agent_detail,
            attribution=_attribution(result.attribution),
        )


def _attribution(value: str | None) -> Literal["merchant", "buyer"] | None:
    if value == "merchant":
        return "merchant"
    if value == "buyer":
        return "buyer"
    return None


class EvidenceVerdictOut(_Frozen):
    """The decision for one attached file, with every check that ran on it."""

    filename: str
    media_type: str | None
    content_sha256: str
    decision: Decision
    reasons: tuple[ReasonOut, ...]
    checks: tuple[CheckOut, ...]
    manifest_id: str | None
    #: Where in the order's life the file was sealed; None for a file with no OrderSeal seal.
    stage: Stage | None
    evidence_id: str | None
    #: The sealed original a file without Content Credentials was traced to (issue 19 §1):
    #: ``manifest_id``, ``stage`` and ``evidence_id`` are then that original's.
    #: Absent when None, so verdicts stored before it keep their exact body (audit chain).
    recovered_evidence_id: str | None = Field(
        default=None, exclude_if=lambda value: value is None, json_schema_extra=_absent_not_null
    )
    #: How much the submitted photo looks like a photographed screen (issue 19 §2, advice;
    #: ``recapture_suspected`` at ``evidence.recapture.RECAPTURE_THRESHOLD``). Absent for a
    #: video, and in verdicts stored before it.
    recapture_score: float | None = Field(
        default=None, exclude_if=lambda value: value is None, json_schema_extra=_absent_not_null
    )

    def platform_view(self) -> EvidenceVerdictOut:
        """The same verdict without the agent-only details (other disputes and accounts)."""
        return self.model_copy(
            update={"checks": tuple(c.model_copy(update={"agent_detail": ""}) for c in self.checks)}
        )


class RuleTraceOut(_Frozen):
    """One dispute-level policy rule: whether it fired and why."""

    rule: str
    fired: bool
    detail: str


class VerdictOut(_Frozen):
    """The refund gate's decision over all evidence of a claim, with the policy trace.

    In dry-run mode ``decision`` is ``review`` (a person acts) and ``policy_decision`` keeps
    what the policy would have decided; otherwise the two are equal.
    """

    decision: Decision
    reasons: tuple[ReasonOut, ...]
    evidence: tuple[EvidenceVerdictOut, ...]
    decided_at: _VerdictTime
    policy_trace: tuple[RuleTraceOut, ...]
    policy_decision: Decision
    dry_run: bool

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> VerdictOut:
        """Parse a verdict as the ledger stores it.

        Raises:
            pydantic.ValidationError: the stored body is not a verdict.
        """
        return cls.model_validate(body)

    def to_body(self) -> dict[str, Any]:
        """The JSON object the ledger stores (and the audit chain hashes)."""
        return self.model_dump(mode="json")

    def platform_view(self) -> VerdictOut:
        """The same verdict without the agent-only details (other disputes and accounts)."""
        return self.model_copy(
            update={"evidence": tuple(item.platform_view() for item in self.evidence)}
        )


class FileVerdictOut(_Frozen):
    """``orderseal verify --json``: the decision over the given files, without the trace."""

    decision: Decision
    reasons: tuple[ReasonOut, ...]
    evidence: tuple[EvidenceVerdictOut, ...]

    @classmethod
    def from_verdict(cls, verdict: VerdictOut) -> FileVerdictOut:
        """The parts of ``verdict`` the command prints."""
        return cls(decision=verdict.decision, reasons=verdict.reasons, evidence=verdict.evidence)


class InputErrorOut(_Frozen):
    """An input error of ``orderseal verify`` (docs/error-codes.md)."""

    code: str
    message: str


class FileInputErrorOut(_Frozen):
    """``orderseal verify --json`` on bad input: still an answer, with a reason code."""

    decision: Literal["input_error"] = "input_error"
    error: InputErrorOut
    reasons: tuple[ReasonOut, ...]
    evidence: tuple[EvidenceVerdictOut, ...] = ()


# Disputes --------------------------------------------------------------------


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    order_id: str = Field(pattern=_ID)
    buyer_id: str = Field(pattern=_ID)
    #: Checked by the dispute service (``claim_type_invalid``), not here: the error code of a
    #: wrong claim type is part of the API. The schema still lists the accepted values.
    claim_type: str = Field(max_length=32, json_schema_extra={"enum": _CLAIM_TYPE_VALUES})
    amount: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    currency: str = Field(pattern=r"^[A-Z]{3}$")


class AttachSealedIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence_ids: list[str] = Field(min_length=1, max_length=50)


class AttachOut(BaseModel):
    dispute_id: str
    attached: bool
    content_sha256: str | None = None


class AttachPendingOut(BaseModel):
    """``202``: a large file is stored and attached; a job verifies it (docs/platform.md).

    Until ``GET /v1/disputes/{id}`` lists no ``pending_files``, ``decide`` answers
    ``409 verification_pending``; a dispute already decided is re-decided by the job.
    """

    dispute_id: str
    #: False when this file was already attached (a retried upload).
    attached: bool
    content_sha256: str
    verification: Literal["pending"] = "pending"


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


#: Why a dispute was decided again: files were added, files changed (some removed), the
#: same files were checked again (time, revocations or policy moved on), or an agent decided.
ChangeReason = Literal["evidence_added", "evidence_changed", "re_evaluated", "agent_decision"]


class AgentDecisionRef(_Frozen):
    """The agent decision a history entry records (``change_reason`` ``agent_decision``).

    Agents see who decided and the note; the platform sees the decision id and the action.
    """

    decision_id: str
    action: Literal["approve", "deny", "request_evidence"]
    agent: str | None = Field(default=None, exclude_if=lambda value: value is None)
    key_id: str | None = Field(default=None, exclude_if=lambda value: value is None)
    note: str | None = Field(default=None, exclude_if=lambda value: value is None)


class HistoryEntryOut(VerdictOut):
    """One verdict of a dispute's history, with why it was made after the one before it."""

    #: None on the dispute's first verdict.
    change_reason: ChangeReason | None = None
    #: Present on an agent's decision (``change_reason`` ``agent_decision``).
    agent_decision: AgentDecisionRef | None = Field(
        default=None, exclude_if=lambda value: value is None
    )
    #: An automatic verdict made after an agent approved or denied: kept in the history, while
    #: the agent's decision stays the dispute's decision (docs/platform.md).
    agent_decision_stands: bool = Field(default=False, exclude_if=lambda value: not value)

    def platform_view(self) -> HistoryEntryOut:
        """The same entry without the agent-only details (other disputes, accounts, notes)."""
        ref = self.agent_decision
        return self.model_copy(
            update={
                "evidence": tuple(item.platform_view() for item in self.evidence),
                "agent_decision": None
                if ref is None
                else AgentDecisionRef(decision_id=ref.decision_id, action=ref.action),
            }
        )


class DetachOut(BaseModel):
    dispute_id: str
    content_sha256: str
    detached: bool


class DisputeOut(BaseModel):
    """A dispute with its current verdict and every verdict before it, oldest first."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: ClaimType
    amount: str
    currency: str
    created_at: datetime
    decision: Decision | None
    decided_at: datetime | None
    verdict: VerdictOut | None
    history: list[HistoryEntryOut]
    report_url: str
    #: SHA-256 of attached files a job is still verifying; ``decide`` waits for them (409).
    pending_files: list[str] = Field(default_factory=list)

    @classmethod
    def from_dispute(
        cls,
        dispute: Dispute,
        history: list[HistoryEntryOut],
        *,
        report_url: str,
        pending_files: Sequence[str] = (),
    ) -> DisputeOut:
        """The ledger's dispute row with its verdict history."""
        # The verdict in force: an automatic verdict held by an agent's decision is history only.
        current = [entry for entry in history if not entry.agent_decision_stands]
        return cls(
            **_dispute_fields(dispute),
            verdict=current[-1] if current else None,
            history=history,
            report_url=report_url,
            pending_files=list(pending_files),
        )


def _dispute_fields(dispute: Dispute) -> dict[str, Any]:
    """The columns of a ledger dispute row that every dispute view repeats."""
    return {
        "dispute_id": dispute.dispute_id,
        "order_id": dispute.order_id,
        "buyer_id": dispute.buyer_id,
        "claim_type": dispute.claim_type,
        "amount": dispute.amount,
        "currency": dispute.currency,
        "created_at": dispute.created_at,
        "decision": dispute.decision,
        "decided_at": dispute.decided_at,
    }


class DisputeSummary(BaseModel):
    """One row of the agents' dispute list: the latest verdict's reasons only."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: ClaimType
    amount: str
    currency: str
    created_at: datetime
    decision: Decision | None
    decided_at: datetime | None
    reasons: list[ReasonOut]
    #: The agent working on it (None: nobody); true while an agent waits for more evidence.
    assigned_to: str | None = None
    awaiting_evidence: bool = False

    @classmethod
    def from_dispute(cls, dispute: Dispute, latest: VerdictOut | None) -> DisputeSummary:
        """The ledger's dispute row with the reasons of its latest verdict."""
        return cls(
            **_dispute_fields(dispute),
            reasons=list(latest.reasons) if latest else [],
        )


class DisputeListOut(BaseModel):
    disputes: list[DisputeSummary]
    #: Pass back as ``cursor`` (same filters) for the next page; None on the last page.
    next_cursor: str | None = None


def _utc_instant(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        raise ValueError("expected a time that is within years 1-9999 in UTC") from exc


#: A listing's ``updated_since``: a time with its zone (``Z`` or an offset), held as UTC. A
#: time without a zone, or one outside years 1-9999 once in UTC, is ``422 invalid_request``
#: (the ledger stores aware UTC times only; either reached it as a 500 before).
ListingTime = Annotated[AwareDatetime, AfterValidator(_utc_instant)]


class PlatformDisputeFilters(BaseModel):
    """``GET /v1/platform/disputes`` query: every filter is applied in SQL, before ``limit``.

    An unknown parameter (``offset``, a misspelt filter) is refused ``422 invalid_request``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["open", "decided"] | None = None
    decision: Decision | None = None
    reason: ReasonCode | None = None
    order_id: str | None = Field(default=None, pattern=_ID)
    buyer_id: str | None = Field(default=None, pattern=_ID)
    updated_since: ListingTime | None = None
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=100, ge=1, le=500)

    def listing(self) -> dict[str, object]:
        """The filters a cursor is bound to (everything but the cursor and the page size)."""
        return self.model_dump(mode="json", exclude={"cursor", "limit"})


class PlatformDisputeSummary(BaseModel):
    """One row of the platform's dispute list, read from the dispute row alone (no N+1)."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: ClaimType
    amount: str
    currency: str
    status: Literal["open", "decided"]
    decision: Decision | None
    #: The latest verdict's reason codes (empty while open).
    reason_codes: list[ReasonCode]
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None

    @classmethod
    def from_dispute(cls, dispute: Dispute) -> PlatformDisputeSummary:
        """The ledger's dispute row as the platform lists it."""
        codes = [c for c in (dispute.reason_codes or "").split(",") if c]
        return cls(
            dispute_id=dispute.dispute_id,
            order_id=dispute.order_id,
            buyer_id=dispute.buyer_id,
            claim_type=dispute.claim_type,
            amount=dispute.amount,
            currency=dispute.currency,
            status="open" if dispute.decision is None else "decided",
            decision=dispute.decision,
            reason_codes=[ReasonCode(c) for c in codes],
            created_at=dispute.created_at,
            updated_at=dispute.updated_at,
            decided_at=dispute.decided_at,
        )


class PlatformDisputeListOut(BaseModel):
    """One page, oldest change first; ``next_cursor`` is None on the last page."""

    disputes: list[PlatformDisputeSummary]
    next_cursor: str | None

"""Request and response models of the agents' API: the workspace, decisions, the queue and the
platform's report links. Times are UTC ISO-8601 text with ``Z`` and whole seconds
(``verifier.wording.utc_text``), so every page shows one form.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from infra.free_text import plain_text
from verifier.models import Decision
from verifier.reasons import ReasonCode
from verifier.wording import PlainCheck, PlainRule

__all__ = [
    "AGENT_ACTIONS",
    "NOTE_MAX_CHARS",
    "AgentAction",
    "AgentDecisionIn",
    "AgentDecisionOut",
    "AgentQueueFilters",
    "AssignmentIn",
    "AssignmentOut",
    "DisputeStatus",
    "PlainReasonOut",
    "RelatedDisputeOut",
    "ReportLinkIn",
    "ReportLinkOut",
    "ReportLinkRevokedOut",
    "SealedOriginalOut",
    "SubmittedFileOut",
    "TimelineEventOut",
    "WorkspaceCheckOut",
    "WorkspaceDisputeOut",
    "WorkspaceMerchantResponseOut",
    "WorkspaceOut",
    "WorkspaceVerdictOut",
]

_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
#: An agent's note is required and bounded (it is signed into the audit chain).
NOTE_MAX_CHARS = 2000
_UTCText = Annotated[
    str,
    Field(json_schema_extra={"format": "date-time"}, pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"),
]

AgentAction = Literal["approve", "deny", "request_evidence"]
#: What each action makes the dispute's decision: approve pays, deny refuses, a request for
#: evidence keeps it in review until the platform attaches more and decides again.
AGENT_ACTIONS: dict[str, Decision] = {
    "approve": Decision.ALLOW,
    "deny": Decision.BLOCK,
    "request_evidence": Decision.REVIEW,
}
#: ``open`` (no verdict), ``decided`` (a verdict, automatic or an agent's), or
#: ``awaiting_evidence`` (an agent asked for more; still ``review``).
DisputeStatus = Literal["open", "decided", "awaiting_evidence"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# Decisions ---------------------------------------------------------------------


class AgentDecisionIn(_In):
    """An agent's decision on a ``review`` dispute, with the note saying why (required)."""

    action: AgentAction
    note: Annotated[str, Field(min_length=1, max_length=NOTE_MAX_CHARS), AfterValidator(plain_text)]


class AgentDecisionOut(_Frozen):
    """One recorded agent decision (the note is shown to agents only)."""

    decision_id: str
    dispute_id: str
    action: AgentAction
    decision: Decision
    previous_decision: Decision
    note: str
    agent: str
    key_id: str
    decided_at: _UTCText


# The queue ---------------------------------------------------------------------


class AssignmentIn(_In):
    """``me`` (the calling agent), another agent's subject, or null to unassign."""

    agent: str | None = Field(pattern=r"^(me|[A-Za-z0-9][A-Za-z0-9._@:-]{0,63})$")


class AssignmentOut(_Frozen):
    """Who works on the dispute now (``agent`` None: nobody)."""

    dispute_id: str
    agent: str | None
    assigned_at: _UTCText | None
    assigned_by: str | None


class AgentQueueFilters(_In):
    """``GET /v1/disputes``: every filter is applied in SQL before ``limit``.

    ``assigned``: ``me``, ``none`` or an agent's subject; "my queue" is ``assigned=me`` with
    ``decision=review``. ``cursor``: the ``next_cursor`` of the previous page, with the same
    filters (``422 cursor_invalid`` otherwise). An unknown parameter is ``422 invalid_request``.
    """

    decision: Decision | None = None
    reason: str | None = Field(default=None, max_length=64)
    since: date | None = None
    until: date | None = None
    assigned: str | None = Field(
        default=None, pattern=r"^(me|none|[A-Za-z0-9][A-Za-z0-9._@:-]{0,63})$"
    )
    order_id: str | None = Field(default=None, pattern=_ID)
    buyer_id: str | None = Field(default=None, pattern=_ID)
    #: The seller of the disputed order (``orders.merchant_id``).
    merchant_id: str | None = Field(default=None, pattern=_ID)
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=200, ge=1, le=500)


# The workspace -----------------------------------------------------------------


class PlainReasonOut(_Frozen):
    """A reason code with its plain sentence (``verifier.wording``)."""

    code: ReasonCode
    sentence: str


class WorkspaceDisputeOut(_Frozen):
    """The dispute itself, with its status and who works on it."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    status: DisputeStatus
    decision: Decision | None
    filed_at: _UTCText
    decided_at: _UTCText | None
    assignment: AssignmentOut | None
    #: The page for agents (``/agent#dispute=<id>``), relative to the service's origin.
    workspace_url: str


class WorkspaceCheckOut(PlainCheck):
    """A check of one submitted file in plain words, with the file it ran on."""

    content_sha256: str
    filename: str
    #: The disputes this check's finding names (reuse: which dispute already has the file).
    related_disputes: tuple[str, ...] = ()
    #: The check's own text, for the agent who opens the technical details.
    technical_detail: str = ""


class WorkspaceVerdictOut(_Frozen):
    """The current verdict: decision, plain reasons and every check in plain words."""

    decision: Decision
    policy_decision: Decision
    dry_run: bool
    decided_at: _UTCText
    decided_by: Literal["verifier", "agent"]
    reasons: tuple[PlainReasonOut, ...]
    checks: tuple[WorkspaceCheckOut, ...]


class SubmittedFileOut(_Frozen):
    """A file the platform attached (what the buyer submitted), streamable from ``url``."""

    content_sha256: str
    filename: str
    media_type: str | None
    size: int
    attached_at: _UTCText
    #: The latest verdict's decision for this file, and its reasons (None before a verdict).
    decision: Decision | None
    reasons: tuple[PlainReasonOut, ...]
    url: str
    #: The sealed original a file without Content Credentials was traced to (issue 19 §1,
    #: ``manifest_recovered`` or reuse of another order's): shown beside the copy.
    recovered_evidence_id: str | None = None
    recovered_file_url: str | None = None
    #: The verdict's recapture score of this photo and whether it reaches the threshold
    #: (issue 19 §2): advice to the agent, a possible photo of a screen.
    recapture_score: float | None = None
    recapture_suspected: bool = False


class SealedOriginalOut(_Frozen):
    """A sealed capture of the order (shipment or receipt), as OrderSeal stored it."""

    evidence_id: str
    stage: str
    media_type: str
    title: str
    captured_at: _UTCText
    sealed_at: _UTCText
    file_url: str
    thumbnail_url: str


TimelineEvent = Literal[
    "packed",
    "label_printed",
    "label_scanned",
    "label_typed",
    "unboxed",
    "reviewed",
    "filed",
    "decided",
    "agent_decision",
    "evidence_requested",
    "merchant_response",
]


class TimelineEventOut(_Frozen):
    """Something that happened to the order or the dispute, oldest first."""

    event: TimelineEvent
    at: _UTCText
    #: Who did it: a station or buyer device id, the buyer, ``verifier``, an agent, a merchant.
    actor: str
    detail: str = ""


class RelatedDisputeOut(_Frozen):
    """Another dispute worth a look: it holds one of these files, or the same buyer filed it."""

    dispute_id: str
    relation: Literal["evidence_reused", "same_buyer"]
    detail: str
    order_id: str


class WorkspaceMerchantResponseOut(_Frozen):
    """A merchant's answer to the dispute: its statement and the sealed evidence it names."""

    response_id: str
    merchant_id: str
    statement: str
    evidence_ids: tuple[str, ...]
    created_at: _UTCText


class WorkspaceOut(_Frozen):
    """Everything the agent's one screen shows about a dispute (each list bounded)."""

    dispute: WorkspaceDisputeOut
    verdict: WorkspaceVerdictOut | None
    policy_trace: tuple[PlainRule, ...]
    submitted_files: tuple[SubmittedFileOut, ...]
    sealed_originals: tuple[SealedOriginalOut, ...]
    timeline: tuple[TimelineEventOut, ...]
    related_disputes: tuple[RelatedDisputeOut, ...]
    agent_decisions: tuple[AgentDecisionOut, ...]
    merchant_responses: tuple[WorkspaceMerchantResponseOut, ...]


# Report links ------------------------------------------------------------------


class ReportLinkIn(_In):
    """How long the link works: 60 s to 24 h (1 h when omitted)."""

    ttl_seconds: int = Field(default=3600, ge=60, le=86400, strict=True)


class ReportLinkOut(_Frozen):
    """A new link: ``url`` (relative to the service's origin) carries the token; shown once."""

    link_id: str
    dispute_id: str
    url: str
    expires_at: _UTCText


class ReportLinkRevokedOut(_Frozen):
    """A revoked link (revoking twice keeps the first time)."""

    link_id: str
    revoked_at: _UTCText

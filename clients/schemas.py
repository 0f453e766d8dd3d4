"""The JSON shapes the clients read back, as they travel on the wire.

Each ``TypedDict`` mirrors a response model of the service field by field (named in its
docstring) without importing it, so a station installs no server code: ``capture/schemas.py``
for sessions, sealed evidence and labels, ``verifier/schemas.py`` for disputes and verdicts.
Times are ISO 8601 text here, as JSON carries them. ``TypedDict`` keeps ``response["field"]``
working for callers that read by key. A field the service adds later is still in the dict, just
not typed; a contract test comparing these with the service's models is not written yet.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "AgentDecisionRefResponse",
    "AttachFileResponse",
    "AttachPendingResponse",
    "AttachSealedResponse",
    "BuyerTokenResponse",
    "CheckResponse",
    "DetachResponse",
    "DeviceEnrolResponse",
    "DisputeResponse",
    "EvidenceResponse",
    "EvidenceVerdictResponse",
    "HistoryEntryResponse",
    "LabelResponse",
    "OrderEvidenceListResponse",
    "OrderEvidenceResponse",
    "OrderItemResponse",
    "OrderResponse",
    "PlatformDisputeListResponse",
    "PlatformDisputeSummary",
    "QRCheckResponse",
    "ReasonResponse",
    "ReviewImageResponse",
    "RuleTraceResponse",
    "SealedAttachResult",
    "SessionResponse",
    "VerdictResponse",
    "WebhookAttemptResponse",
    "WebhookDeliveryListResponse",
    "WebhookDeliveryResponse",
    "WebhookEndpointListResponse",
    "WebhookEndpointResponse",
    "WebhookEndpointSecretResponse",
]

Decision = Literal["allow", "review", "block"]


class SessionResponse(TypedDict):
    """A shipment, receipt or review session (``capture.schemas.SessionOut``)."""

    session_id: str
    order_id: str
    stage: str
    expires_at: str
    #: Receipt sessions: ``scanned``, ``link`` or ``typed`` (how the label token was entered).
    label_entry: NotRequired[Literal["scanned", "link", "typed"] | None]


class EvidenceResponse(TypedDict):
    """One sealed capture (``capture.schemas.EvidenceOut``)."""

    evidence_id: str
    order_id: str
    stage: str
    manifest_id: str
    sealed_sha256: str
    original_sha256: str
    media_type: str
    sealed_at: str
    replayed: bool


class LabelResponse(TypedDict):
    """The parcel label of a closed shipment session (``capture.schemas.LabelOut``)."""

    order_id: str
    token: str
    label_png_url: str


class QRCheckResponse(TypedDict):
    """Whether a scanned QR is an official label (``capture.schemas.QRCheckOut``)."""

    official: bool
    state: str
    order_id: str | None
    message: str
    items: list[dict[str, Any]]
    help_url: str | None
    max_video_seconds: int
    max_video_bytes: int


class BuyerTokenResponse(TypedDict):
    """A buyer's bearer token (``capture.schemas.BuyerTokenOut``)."""

    token: str
    expires_in_seconds: int


class DeviceEnrolResponse(TypedDict):
    """An enrolled device's certificate (``capture.schemas.DeviceEnrolOut``)."""

    device_id: str
    certificate_pem: str
    chain_pem: str
    not_after: str


class ReasonResponse(TypedDict):
    """A reason code with its message (``verifier.schemas.ReasonOut``)."""

    code: str
    message: str


class ReviewImageResponse(TypedDict):
    """What an image a review shows is (``verifier.reviews.ReviewImageOut``)."""

    answer: str
    review_sealed: bool
    order_id: str
    buyer_id: str
    content_sha256: str
    stage: str | None
    evidence_id: str | None
    recovered_evidence_id: str | None
    reasons: list[ReasonResponse]


class CheckResponse(TypedDict):
    """One check that ran on a file (``verifier.schemas.CheckOut``)."""

    check: str
    #: Why the check failed: only on a failed check.
    code: NotRequired[str]
    passed: bool
    detail: str
    #: Agent views only, and only when there is one.
    agent_detail: NotRequired[str]
    #: Whose side a failure points to (``merchant`` or ``buyer``): only where a check can tell.
    attribution: NotRequired[Literal["merchant", "buyer"]]


class EvidenceVerdictResponse(TypedDict):
    """The decision for one attached file (``verifier.schemas.EvidenceVerdictOut``)."""

    filename: str
    media_type: str | None
    content_sha256: str
    decision: Decision
    reasons: list[ReasonResponse]
    checks: list[CheckResponse]
    manifest_id: str | None
    stage: str | None
    evidence_id: str | None
    #: The sealed original an unsealed copy was traced to (absent when there is none).
    recovered_evidence_id: NotRequired[str]
    #: How much a photo looks like a photographed screen (advice; absent for a video).
    recapture_score: NotRequired[float]


class RuleTraceResponse(TypedDict):
    """One dispute-level policy rule (``verifier.schemas.RuleTraceOut``)."""

    rule: str
    fired: bool
    detail: str


class VerdictResponse(TypedDict):
    """The refund gate's decision over a claim (``verifier.schemas.VerdictOut``)."""

    decision: Decision
    reasons: list[ReasonResponse]
    evidence: list[EvidenceVerdictResponse]
    decided_at: str
    policy_trace: list[RuleTraceResponse]
    policy_decision: Decision
    dry_run: bool


class AgentDecisionRefResponse(TypedDict):
    """The agent decision a history entry records (``verifier.schemas.AgentDecisionRef``)."""

    decision_id: str
    action: Literal["approve", "deny", "request_evidence"]
    #: Agent views only.
    agent: NotRequired[str]
    key_id: NotRequired[str]
    note: NotRequired[str]


class HistoryEntryResponse(VerdictResponse):
    """One verdict of a dispute's history (``verifier.schemas.HistoryEntryOut``)."""

    change_reason: (
        Literal["evidence_added", "evidence_changed", "re_evaluated", "agent_decision"] | None
    )
    #: On an agent's decision only.
    agent_decision: NotRequired[AgentDecisionRefResponse]
    #: On an automatic verdict made after an agent's approve or deny (the agent's stands).
    agent_decision_stands: NotRequired[bool]


class DisputeResponse(TypedDict):
    """A dispute with its current verdict and history (``verifier.schemas.DisputeOut``)."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    created_at: str
    decision: Decision | None
    decided_at: str | None
    verdict: VerdictResponse | None
    history: list[HistoryEntryResponse]
    report_url: str
    #: SHA-256 of files a job is still verifying; ``decide`` answers 409 until it is empty.
    pending_files: list[str]


class AttachFileResponse(TypedDict):
    """A file attached to a dispute (``verifier.schemas.AttachOut``)."""

    dispute_id: str
    attached: bool
    content_sha256: str | None


class AttachPendingResponse(TypedDict):
    """A large file stored and attached, verified by a job: the 202 answer of an attach
    (``verifier.schemas.AttachPendingOut``)."""

    dispute_id: str
    attached: bool
    content_sha256: str
    verification: Literal["pending"]


class SealedAttachResult(TypedDict):
    """What happened to one evidence id (``verifier.schemas.SealedAttachResult``)."""

    evidence_id: str
    status: Literal["attached", "already_attached", "not_found", "failed"]
    code: str | None


class AttachSealedResponse(TypedDict):
    """Sealed evidence attached by id (``verifier.schemas.AttachSealedOut``)."""

    dispute_id: str
    attached: bool
    complete: bool
    results: list[SealedAttachResult]


class DetachResponse(TypedDict):
    """A file detached from an undecided dispute (``verifier.schemas.DetachOut``)."""

    dispute_id: str
    content_sha256: str
    detached: bool


class PlatformDisputeSummary(TypedDict):
    """One row of the platform's list (``verifier.schemas.PlatformDisputeSummary``)."""

    dispute_id: str
    order_id: str
    buyer_id: str
    claim_type: str
    amount: str
    currency: str
    status: Literal["open", "decided"]
    decision: Decision | None
    reason_codes: list[str]
    created_at: str
    updated_at: str
    decided_at: str | None


class PlatformDisputeListResponse(TypedDict):
    """One page of the platform's list (``verifier.schemas.PlatformDisputeListOut``)."""

    disputes: list[PlatformDisputeSummary]
    next_cursor: str | None


class OrderItemResponse(TypedDict):
    """One order line (``capture.schemas.OrderItemOut``)."""

    sku: str
    quantity: int
    serials: list[str]


class OrderResponse(TypedDict):
    """A registered order (``capture.schemas.OrderOut``)."""

    order_id: str
    buyer_id: str
    items: list[OrderItemResponse]
    declared_value: str
    currency: str
    carrier: str | None
    tracking_number: str | None
    expected_delivery: str | None
    status: Literal["open", "cancelled"]
    merchant_id: str
    created_at: str
    updated_at: str | None
    cancelled_at: str | None


class OrderEvidenceResponse(TypedDict):
    """One sealed capture of an order (``capture.schemas.OrderEvidenceOut``)."""

    evidence_id: str
    stage: str
    media_type: str
    title: str
    sealed_at: str
    sealed_sha256: str
    size: int


class OrderEvidenceListResponse(TypedDict):
    """An order's sealed evidence (``capture.schemas.OrderEvidenceListOut``)."""

    order_id: str
    evidence: list[OrderEvidenceResponse]


class WebhookEndpointResponse(TypedDict):
    """A webhook endpoint, without its secret (``infra.webhooks.routes.EndpointOut``)."""

    endpoint_id: str
    url: str
    events: list[str] | None
    created_at: str
    previous_secret_expires_at: str | None


class WebhookEndpointSecretResponse(TypedDict):
    """An endpoint with its secret, shown once (``infra.webhooks.routes.EndpointSecretOut``)."""

    endpoint_id: str
    url: str
    events: list[str] | None
    created_at: str
    previous_secret_expires_at: str | None
    secret: str


class WebhookEndpointListResponse(TypedDict):
    """The caller's endpoints (``infra.webhooks.routes.EndpointListOut``)."""

    items: list[WebhookEndpointResponse]


class WebhookAttemptResponse(TypedDict):
    """One attempt of the delivery log (``infra.webhooks.routes.AttemptOut``)."""

    attempt: int
    started_at: str
    status_code: int | None
    error: str | None
    latency_ms: int


class WebhookDeliveryResponse(TypedDict):
    """One event to one endpoint (``infra.webhooks.routes.DeliveryOut``)."""

    delivery_id: str
    webhook_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead", "cancelled"]
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    log: list[WebhookAttemptResponse]


class WebhookDeliveryListResponse(TypedDict):
    """An endpoint's deliveries, newest first (``infra.webhooks.routes.DeliveryListOut``)."""

    items: list[WebhookDeliveryResponse]

"""Refund-gate routes: platforms file disputes, attach evidence and ask for decisions (agents
list them in ``verifier.routes.agent``). Every handler uses the dispute service only."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from evidence.media import SUPPORTED_MEDIA_TYPES
from infra.auth import PlatformPrincipal
from infra.errors import NotFoundError, OrderSealError
from infra.idempotency import IDEMPOTENCY_KEY_MAX_CHARS
from infra.json_body import BoundedJSONRoute
from infra.ledger.models import Dispute
from infra.names import check_client_name
from infra.offload import run_heavy
from infra.openapi import raw_body_openapi
from infra.ratelimit import enforce
from infra.uploads import receive_body, refuse_multipart
from verifier.disputes import DisputeService
from verifier.routes.deps import Disputes, Edge, HTTPEdge, Idempotent
from verifier.schemas import (
    AttachOut,
    AttachPendingOut,
    AttachSealedIn,
    AttachSealedOut,
    DetachOut,
    DisputeIn,
    DisputeOut,
    PlatformDisputeFilters,
    PlatformDisputeListOut,
    SealedAttachResult,
)
from verifier.workspace import workspace_url

__all__ = ["dispute_out", "router"]

router = APIRouter(prefix="/v1", route_class=BoundedJSONRoute)
_log = logging.getLogger(__name__)

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=IDEMPOTENCY_KEY_MAX_CHARS,
        description="Retry-safe filing: the same key and body answer the first answer (24 h)",
    ),
]


def dispute_out(
    disputes: DisputeService, edge: HTTPEdge, dispute: Dispute, *, agent: bool = False
) -> DisputeOut:
    """The dispute with its history: agents see the details naming other disputes and accounts."""
    history = disputes.history_entries(dispute.dispute_id)
    if not agent:
        history = [verdict.platform_view() for verdict in history]
    return DisputeOut.from_dispute(
        dispute,
        history,
        # The page a person opens in a browser (it calls the API with the agent's key); the
        # HTML report itself is GET /v1/disputes/{id}/report, or a signed report link.
        report_url=f"{edge.settings.base_url}{workspace_url(dispute.dispute_id)}",
        pending_files=disputes.pending_files(dispute.dispute_id),
    )


@router.post("/disputes", status_code=201, tags=["platform"])
def file_dispute(
    body: DisputeIn,
    principal: PlatformPrincipal,
    request: Request,
    response: Response,
    disputes: Disputes,
    idempotency: Idempotent,
    edge: Edge,
    idempotency_key: IdempotencyKeyHeader = None,
) -> DisputeOut:
    """Open a refund dispute; attach evidence next, then ask for a decision.

    With an ``Idempotency-Key``, a retry with the same key and body answers the first answer
    (the same dispute, ``Idempotent-Replayed: true``) instead of filing a second dispute.
    """
    enforce(request, "disputes", principal)
    now = edge.clock()

    def file() -> tuple[int, DisputeOut]:
        dispute = disputes.file_dispute(
            order_id=body.order_id,
            buyer_id=body.buyer_id,
            claim_type=body.claim_type,
            amount=body.amount,
            currency=body.currency,
            now=now,
        )
        return 201, dispute_out(disputes, edge, dispute)

    outcome = idempotency.run(
        idempotency_key,
        scope=principal.subject,
        route="POST /v1/disputes",
        request=body.model_dump(mode="json"),
        now=now,
        model=DisputeOut,
        action=file,
    )
    response.status_code = outcome.status_code
    if outcome.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return outcome.body


@router.put(
    "/disputes/{dispute_id}/files",
    status_code=201,
    response_model=AttachOut,
    tags=["platform"],
    responses={
        202: {
            "model": AttachPendingOut,
            "description": "A large file: stored and attached, verified by a job",
        }
    },
    openapi_extra=raw_body_openapi(
        SUPPORTED_MEDIA_TYPES,
        description="Any file the buyer sent (raw body, streamed).",
        refuses_multipart=True,
    ),
)
async def attach_file(
    dispute_id: str,
    principal: PlatformPrincipal,
    request: Request,
    disputes: Disputes,
    edge: Edge,
    x_orderseal_filename: Annotated[str, Header(max_length=255)] = "evidence",
) -> AttachOut | JSONResponse:
    """Attach any file the buyer sent (raw body, streamed; a multipart form is refused 415).

    A file up to ``ORDERSEAL_INLINE_VERIFY_MAX_BYTES`` is verified here (201). A larger one is
    stored and attached, and a job verifies it: 202 ``verification: pending``; ``decide``
    answers ``409 verification_pending`` until it is done, and a decided dispute is decided
    again by the job. Files waiting per dispute and per key are bounded
    (``429 verification_queue_full``, checked before the body is read when its length is
    declared).
    """
    enforce(request, "uploads", principal)
    refuse_multipart(request)  # before the filename and dispute lookups, not only at the body
    filename = check_client_name(x_orderseal_filename)
    disputes.dispute(dispute_id)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and disputes.queueing.queues(int(declared)):
        disputes.check_queue_room(dispute_id, principal.subject)
    received = await receive_body(
        request, edge.work_dir, max_bytes=edge.settings.max_evidence_bytes
    )
    if not disputes.queueing.queues(received.size):
        attached = await run_heavy(
            request, disputes.attach_upload, dispute_id, received, filename, now=edge.clock()
        )
        return AttachOut(dispute_id=dispute_id, attached=attached, content_sha256=received.sha256)
    attached = await run_heavy(
        request,
        disputes.attach_queued,
        dispute_id,
        received,
        filename,
        owner=principal.subject,
        now=edge.clock(),
    )
    pending = AttachPendingOut(
        dispute_id=dispute_id, attached=attached, content_sha256=received.sha256
    )
    return JSONResponse(status_code=202, content=pending.model_dump(mode="json"))


@router.delete("/disputes/{dispute_id}/files/{content_sha256}", tags=["platform"])
def detach_file(
    dispute_id: str,
    content_sha256: Annotated[str, Path(pattern="^[0-9a-f]{64}$")],
    principal: PlatformPrincipal,
    disputes: Disputes,
    edge: Edge,
) -> DetachOut:
    """Detach a file (named by its SHA-256) from an undecided dispute, to replace it.

    After a decision the dispute's files are kept: ``409 dispute_decided``. Attach more files
    and decide again instead; the new history entry says why (``change_reason``).
    """
    disputes.detach(dispute_id, content_sha256, now=edge.clock())
    return DetachOut(dispute_id=dispute_id, content_sha256=content_sha256, detached=True)


@router.get("/platform/disputes", tags=["platform"])
def platform_disputes(
    principal: PlatformPrincipal,
    disputes: Disputes,
    filters: Annotated[PlatformDisputeFilters, Query()],
) -> PlatformDisputeListOut:
    """The platform's disputes, oldest change first, one page per call.

    Filters (``status``, ``decision``, ``reason``, ``order_id``, ``buyer_id``,
    ``updated_since``) are applied before ``limit``; pass ``next_cursor`` back as ``cursor``
    with the same filters for the next page (``422 cursor_invalid`` otherwise). A dispute that
    changes while you page moves to the end, so a sync loop never misses a change.
    """
    return disputes.platform_page(filters)


def _attach_one(
    disputes: DisputeService, dispute_id: str, evidence_id: str, *, now: datetime
) -> SealedAttachResult:
    """Attach one id of a batch; its failure is reported for it and never stops the rest."""
    try:
        attached = disputes.attach_sealed(dispute_id, evidence_id, now=now)
    except NotFoundError as exc:
        return SealedAttachResult(evidence_id=evidence_id, status="not_found", code=exc.code)
    except OrderSealError as exc:  # storage or ledger trouble: this id is not on the dispute
        _log.warning("attaching %s to %s failed: %s", evidence_id, dispute_id, exc.code)
        return SealedAttachResult(evidence_id=evidence_id, status="failed", code=exc.code)
    return SealedAttachResult(
        evidence_id=evidence_id, status="attached" if attached else "already_attached"
    )


@router.post("/disputes/{dispute_id}/sealed", status_code=201, tags=["platform"])
def attach_sealed(
    dispute_id: str,
    body: AttachSealedIn,
    principal: PlatformPrincipal,
    disputes: Disputes,
    edge: Edge,
) -> AttachSealedOut:
    """Attach sealed evidence by id: every id is tried and gets its own result.

    An id already on the dispute does not stop the ones after it (``already_attached``); an
    unknown id is ``not_found``. ``complete`` is true only when every id is on the dispute.
    """
    disputes.dispute(dispute_id)  # an unknown dispute refuses the whole batch first
    now = edge.clock()
    results = [
        _attach_one(disputes, dispute_id, evidence_id, now=now) for evidence_id in body.evidence_ids
    ]
    return AttachSealedOut(
        dispute_id=dispute_id,
        attached=all(r.status == "attached" for r in results),
        complete=all(r.status in ("attached", "already_attached") for r in results),
        results=results,
    )


@router.post("/disputes/{dispute_id}/decide", tags=["platform"])
def decide(
    dispute_id: str,
    principal: PlatformPrincipal,
    request: Request,
    disputes: Disputes,
    edge: Edge,
) -> DisputeOut:
    """Evaluate every attached file; earlier verdicts stay in the history.

    While a large file is still being verified: ``409 verification_pending`` (with
    ``Retry-After``); decide again once the dispute lists no ``pending_files``. The verdict
    is written only if nothing changed while it was evaluated; a dispute that keeps changing
    (files arriving all the time) answers ``409 verdict_stale``: decide again.
    """
    verdict = disputes.decide(dispute_id, now=edge.clock())
    request.app.state.metrics.verdicts.labels(verdict.decision.value).inc()
    return dispute_out(disputes, edge, disputes.dispute(dispute_id))


@router.get("/disputes/{dispute_id}", tags=["platform"])
def get_dispute(
    dispute_id: str, principal: PlatformPrincipal, disputes: Disputes, edge: Edge
) -> DisputeOut:
    """The dispute with its current verdict and history."""
    return dispute_out(disputes, edge, disputes.dispute(dispute_id))
